"""The losses of SPEC §1 and §3, each a pure ``loss(logits, labels) -> scalar`` batch mean.

``LOSSES[name](logits, labels)`` with ``logits`` of shape (N, K) and ``labels`` either
int class ids (N,) or target rows (N, K) (one-hot or probabilities):

=============== ============================================================ ==============
name            per-sample value (ŷ = softmax(z), s = sigmoid(z))            source
=============== ============================================================ ==============
``cce``         −Σ_k y_k log ŷ_k                                            seed 000 eq. 5
``mse``         ½ Σ_k (ŷ_k − y_k)²                                          seed 000 part 2
``bce``         −Σ_k [y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k)]                 seed 000 part 2
``sigmoid_bce`` −Σ_k [y_k log s_k + (1 − y_k) log(1 − s_k)]  (one-vs-rest)  seed 001, 003
``square``      ½ Σ_k (z_k − y_k)²  on the raw logits (Hui & Belkin 2021)     seed 000 part 1
=============== ============================================================ ==============

Binary logistic regression is ``sigmoid_bce`` with K = 1 and 0/1 labels (N,); linear
regression is ``square`` with real targets, (N,) when K = 1. Every value is computed in
log space (``log_softmax``, ``log1m_softmax``, ``softplus``), so it stays finite however
saturated the logits are.

Validation lives here once (:func:`as_targets`): shapes are checked in plain Python
(they are static even under ``jit``), label values only when they are concrete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from softjax.numerics import log1m_softmax, log_softmax, softmax, softplus

LOSS_NAMES = ("cce", "mse", "bce", "sigmoid_bce", "square")
# Losses whose targets are distributions over K ≥ 2 classes through a softmax.
_SOFTMAX_LOSSES = ("cce", "mse", "bce")


def check_loss_name(loss_name, argname: str = "loss_name") -> str:
    """Raises a ValueError naming ``argname`` unless ``loss_name`` is one of LOSS_NAMES."""
    if not isinstance(loss_name, str) or loss_name not in LOSS_NAMES:
        raise ValueError(f"{argname}: unknown loss {loss_name!r}; expected one of {LOSS_NAMES}")
    return loss_name


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_logits(logits, argname: str = "logits"):
    """Logits must be a floating (N, K) array."""
    shape = np.shape(logits)
    if len(shape) != 2:
        raise ValueError(f"{argname}: expected shape (N, K), got shape {shape}")
    if not jnp.issubdtype(jnp.result_type(logits), jnp.floating):
        raise ValueError(f"{argname}: expected a floating dtype, got {jnp.result_type(logits)}")


def check_labels(labels, num_classes: int, n: int | None, loss_name: str, argname="labels"):
    """Validates labels for a K-class model and a loss, before anything is traced.

    Args:
      labels: int class ids (N,), targets (N,) when K = 1, or target rows (N, K).
      num_classes: K, the model's number of outputs.
      n: the expected batch size, or None to skip that check.
      loss_name: which loss the labels feed (K = 1 rules differ).
      argname: the name to report in errors.

    Raises:
      ValueError: naming ``argname`` for a wrong rank or shape, a mismatched N,
        non-integer class ids, or ids outside [0, K).
    """
    shape = np.shape(labels)
    dtype = jnp.result_type(labels)
    if n is not None and (len(shape) == 0 or shape[0] != n):
        raise ValueError(
            f"{argname}: expected {n} rows to match the logits/inputs, got shape {shape}"
        )
    if len(shape) == 2:
        if shape[1] != num_classes:
            raise ValueError(
                f"{argname}: target rows must have K={num_classes} columns, got shape {shape}"
            )
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"{argname}: target rows (N, K) must be floating, got {dtype}")
        return
    if len(shape) != 1:
        raise ValueError(
            f"{argname}: expected class ids (N,) or target rows (N, {num_classes}), "
            f"got shape {shape}"
        )
    if num_classes == 1:
        if loss_name in _SOFTMAX_LOSSES:
            raise ValueError(
                f"{argname}: loss {loss_name!r} needs K ≥ 2 classes (a softmax over one "
                "class is constant); use 'sigmoid_bce' or 'square' for one output"
            )
        if loss_name == "sigmoid_bce" and _is_concrete(labels):
            y = np.asarray(labels)
            if y.size and (y.min() < 0 or y.max() > 1):
                raise ValueError(
                    f"{argname}: binary targets for 'sigmoid_bce' must lie in [0, 1], "
                    f"got values in [{y.min()}, {y.max()}]"
                )
        return
    if not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(
            f"{argname}: class ids (N,) must be integers, got dtype {dtype}; "
            "pass int ids or one-hot rows (N, K)"
        )
    if _is_concrete(labels):
        y = np.asarray(labels)
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"{argname}: class ids must lie in [0, {num_classes}), "
                f"got values in [{y.min()}, {y.max()}]"
            )


def as_targets(logits, labels, loss_name: str = "cce"):
    """Validates and turns labels into float target rows Y of the logits' shape (N, K).

    Int ids become one-hot rows; with K = 1, (N,) targets become a column.
    """
    check_loss_name(loss_name)
    check_logits(logits)
    n, k = np.shape(logits)
    check_labels(labels, k, n, loss_name)
    labels = jnp.asarray(labels)
    dtype = jnp.result_type(logits)
    if labels.ndim == 2:
        return labels.astype(dtype)
    if k == 1:
        return labels.astype(dtype)[:, None]
    return jax.nn.one_hot(labels, k, dtype=dtype)


def cce(logits, labels):
    """Categorical cross-entropy on softmax, batch mean (seed 000 eq. 5; seed 002 LSE form).

    :math:`L = -\\frac1N \\sum_i \\sum_k y_{ik} \\log \\mathrm{softmax}(z_i)_k`.
    """
    y = as_targets(logits, labels, "cce")
    return -jnp.mean(jnp.sum(y * log_softmax(logits), axis=-1))


def mse(logits, labels):
    """Mean squared error on softmax outputs, :math:`\\frac1N\\sum_i \\tfrac12\\|ŷ_i - y_i\\|^2`."""
    y = as_targets(logits, labels, "mse")
    return jnp.mean(0.5 * jnp.sum((softmax(logits) - y) ** 2, axis=-1))


def bce(logits, labels):
    """Binary cross-entropy on softmax outputs, summed over classes, batch mean (seed 000).

    :math:`-\\sum_k [y_k \\log ŷ_k + (1-y_k)\\log(1-ŷ_k)]`: it treats the K softmax
    outputs as independent Bernoullis although they sum to 1 (SPEC §3).
    """
    y = as_targets(logits, labels, "bce")
    per_class = y * log_softmax(logits) + (1.0 - y) * log1m_softmax(logits)
    return -jnp.mean(jnp.sum(per_class, axis=-1))


def sigmoid_bce(logits, labels):
    """One-vs-rest BCE on K independent sigmoids, summed over classes, batch mean (seed 001, 003).

    Uses :math:`-[y\\log σ(z) + (1-y)\\log(1-σ(z))] = \\mathrm{softplus}(z) - y z`.
    """
    y = as_targets(logits, labels, "sigmoid_bce")
    return jnp.mean(jnp.sum(softplus(logits) - y * logits, axis=-1))


def square(logits, labels):
    """Square loss on raw logits, no softmax: :math:`\\frac1N\\sum_i \\tfrac12\\|z_i - y_i\\|^2`.

    Linear regression's loss (seed 000 part 1) and, on one-hot targets, the square loss
    that Hui & Belkin (2021) report competitive with cross-entropy.
    """
    y = as_targets(logits, labels, "square")
    return jnp.mean(0.5 * jnp.sum((logits - y) ** 2, axis=-1))


LOSSES: Mapping[str, Callable] = {
    "cce": cce,
    "mse": mse,
    "bce": bce,
    "sigmoid_bce": sigmoid_bce,
    "square": square,
}


def get_loss(loss_name: str) -> Callable:
    """``LOSSES[loss_name]`` with a clear error for an unknown name."""
    return LOSSES[check_loss_name(loss_name)]
