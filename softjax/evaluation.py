"""Reading a trained model: classes, confidences, and ``evaluate``/``predict`` from a config.

The config says what the model is (its activations, its loss), so a caller never restates
the activations by hand: ``softjax.predict(result.params, config, x)``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from softjax.activations import resolve_activations
from softjax.config import TrainConfig, check_config
from softjax.inputs import check_features, check_finite, check_user_params
from softjax.losses import resolve_loss
from softjax.models import mlp_forward
from softjax.numerics import sigmoid, softmax
from softjax.targets import check_labels
from softjax.user_models import model_classes, model_logits


def predicted_class(logits):
    """Argmax class; with one output (binary logistic), 1 where the logit is positive."""
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).astype(jnp.int32)
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


def target_class(labels):
    """Class ids from int ids, target rows (argmax) or binary (N,)/(N, 1) targets."""
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.integer) and labels.ndim == 1:
        return labels.astype(jnp.int32)
    if labels.ndim == 1 or labels.shape[-1] == 1:
        return (labels.reshape(labels.shape[0]) > 0.5).astype(jnp.int32)
    return jnp.argmax(labels, axis=-1).astype(jnp.int32)


def confidence(logits):
    """The model's probability for its predicted class: max softmax, or max(σ, 1 − σ)."""
    if logits.shape[-1] == 1:
        p = sigmoid(logits[..., 0])
        return jnp.maximum(p, 1.0 - p)
    return jnp.max(softmax(logits), axis=-1)


def model_activations(config: TrainConfig):
    """The config's hidden activations, resolved (None for a single layer; none for a
    user model)."""
    if config.model is not None:
        return ()
    hidden = len(config.sizes) - 2
    return resolve_activations(config.activations if hidden > 0 else None, hidden)


def logits_fn(config: TrainConfig):
    """``logits(params, x)`` for the config's model."""
    if config.model is not None:  # softjax.user_models: apply_fn, a split in chunks
        return lambda params, x: model_logits(config.model, params, x)
    acts = model_activations(config)
    return lambda params, x: mlp_forward(params, x, acts)[0][-1]


def loss_and_accuracy(logits, labels, loss_fn):
    """The mean loss and the fraction of correct predictions."""
    return loss_fn(logits, labels), jnp.mean(predicted_class(logits) == target_class(labels))


def _proba(z):
    return sigmoid(z[..., 0]) if z.shape[-1] == 1 else softmax(z)


def _checked(params, config, x):
    """The checks every reader runs; returns the config as a cache key and its loss."""
    loss = check_config(config)
    check_user_params(params, config)
    if config.model is not None:  # softjax.user_models: any input shape, K from the model
        check_finite(x, "x")
        model_classes(config, x, "x")
    else:
        check_features(x, config.sizes[0], "x")
    return _Hashable(config), loss


class _Hashable:
    """A config as a cache key: configs hold dicts (unhashable), so hash their description."""

    def __init__(self, config):
        self.config = config
        self.key = repr(config.to_dict())

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return self.key == other.key and self.config == other.config


def evaluate(params, config: TrainConfig, x, y) -> dict[str, float]:
    """``{"loss": mean loss, "accuracy": fraction correct}`` of ``params`` on ``(x, y)``.

    Raises:
      ValueError: naming the argument for a bad config, params, inputs or labels.
    """
    key, loss = _checked(params, config, x)
    classes = config.sizes[-1] if config.model is None else model_classes(config, x, "x")
    check_labels(y, classes, np.shape(x)[0], loss, "y")
    check_finite(y, "y")
    loss, acc = _run(key, "evaluate", params, x, y)
    return {"loss": float(loss), "accuracy": float(acc)}


def predict(params, config: TrainConfig, x) -> np.ndarray:
    """The predicted class ids (N,): the argmax logit, or ``z > 0`` with one output."""
    return np.asarray(_run(_checked(params, config, x)[0], "predict", params, x))


def predict_proba(params, config: TrainConfig, x) -> np.ndarray:
    """Class probabilities: softmax rows (N, K), or σ(z) (N,) with one output."""
    return np.asarray(_run(_checked(params, config, x)[0], "proba", params, x))


def _run(key, what, params, *args):
    return _compiled(key, what)(params, *args)


@functools.lru_cache(maxsize=32)
def _compiled(key: _Hashable, what: str):
    """One jitted function per config and purpose, reused across calls."""
    config = key.config
    logits = logits_fn(config)
    if what == "evaluate":
        loss_fn = resolve_loss(config.loss).fn
        return jax.jit(lambda p, x, y: loss_and_accuracy(logits(p, x), y, loss_fn))
    if what == "proba":
        return jax.jit(lambda p, x: _proba(logits(p, x)))
    return jax.jit(lambda p, x: predicted_class(logits(p, x)))
