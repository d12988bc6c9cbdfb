"""The per-step diagnostics of the training history, as sums over a batch and means over
an epoch (the keys are described at :data:`softjax.history.HISTORY_KEYS`).

A step adds its batch's sums (:func:`batch_sums`); the epoch divides them by the rows it
saw (:func:`epoch_means`), so every value is a running mean over the epoch's samples,
computed with the params each batch was trained from.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from softjax.evaluation import confidence
from softjax.hidden import hidden_stats, layer_ends
from softjax.history import DIAGNOSTIC_KEYS, history_shape
from softjax.numerics import sigmoid, softmax
from softjax.targets import to_targets
from softjax.user_models import no_hidden_stats

SATURATION_THRESHOLD = 0.99
"""A sample is saturated-and-wrong when its largest probability exceeds this on a wrong
class (``saturated_wrong``)."""


def ce_logits_grad(logits, y):
    """Cross-entropy's per-sample ∂ℓ_i/∂z_i on these logits: softmax(z) − Y, or σ(z) − y
    with one output (the reference direction of ``grad_cos_ce``)."""
    targets = to_targets(logits, y)
    return (sigmoid(logits) if logits.shape[-1] == 1 else softmax(logits)) - targets


def _cosine(a, b):
    """Row-wise cosine; 0 for a zero row. Each row is scaled by its largest entry first:
    a saturated loss's gradient (~1e-30) would underflow when squared."""

    def unit(v):
        v = v / jnp.maximum(jnp.max(jnp.abs(v), axis=-1, keepdims=True), jnp.finfo(v.dtype).tiny)
        return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1.0)

    return jnp.clip(jnp.sum(unit(a) * unit(b), axis=-1), -1.0, 1.0)


def batch_sums(logits, y, g_logits, wrong, zs_hidden, acts) -> dict[str, Any]:
    """One batch's diagnostic sums over its samples.

    Args:
      logits: the batch's logits (n, K).
      y: its labels.
      g_logits: ∂(mean loss)/∂logits, so ``n · g_logits[i]`` is ∂ℓ_i/∂z_i.
      wrong: (n,) bool, the misclassified samples.
      zs_hidden: the hidden layers' pre-activations Z_l (None for a user model).
      acts: the hidden activations.
    """
    n = logits.shape[0]
    # ‖∂ℓ_i/∂z_i‖ = n ‖∂(mean)/∂z_i‖: each sample's own loss.
    norms = jnp.linalg.norm(g_logits * n, axis=-1)
    return {
        "logits_grad_norm": jnp.sum(norms),
        "logits_grad_norm_wrong": jnp.sum(jnp.where(wrong, norms, 0.0)),
        "n_wrong": jnp.sum(wrong),
        "saturated_wrong": jnp.sum(wrong & (confidence(logits) > SATURATION_THRESHOLD)),
        "grad_cos_ce": jnp.sum(_cosine(g_logits, ce_logits_grad(logits, y))),
        # A user model (zs_hidden None) has no hidden layers to report: NaN.
        **(hidden_stats(zs_hidden, acts, n) if zs_hidden is not None else no_hidden_stats()),
    }


def epoch_means(sums: dict[str, Any], seen, config) -> dict[str, Any]:
    """An epoch's running means: each sum over its batches divided by the ``seen`` rows;
    ``logits_grad_norm_wrong`` by the wrong samples instead; with
    ``config.diagnostics=False`` the diagnostics NaN (:data:`DIAGNOSTIC_KEYS`)."""
    sums = dict(sums)
    n_wrong = sums.pop("n_wrong", None)
    # train_loss summed loss·n per batch, so dividing by the rows seen gives the mean.
    metrics = {k: v / seen for k, v in sums.items()}
    if config.diagnostics:
        metrics["logits_grad_norm_wrong"] = sums["logits_grad_norm_wrong"] / jnp.maximum(n_wrong, 1)
        metrics |= layer_ends(metrics)
    else:
        for k in DIAGNOSTIC_KEYS:
            metrics[k] = jnp.full(history_shape(config, k)[1:], jnp.nan, jnp.float32)
    return metrics
