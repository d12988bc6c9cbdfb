"""The hidden layers' diagnostics of the training history: mean f′ and saturated units
per hidden layer (:data:`softjax.history.HISTORY_KEYS`).

The backward recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) (SPEC §4) multiplies the
gradient by f′ of every hidden layer, so the per-layer mean f′ and the fraction of units
with f′ near 0 show which layer the gradient dies in. One rule computes them for every
layer (:func:`hidden_stats`); the first/last-layer keys are read off its vector
(:func:`layer_ends`), so the two can never disagree.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

HIDDEN_SATURATION = 0.01
"""A hidden unit is saturated on a sample when f′(z) < 0.01 · max f′ (max over z of the
layer's activation, read off a grid on [−10, 10]: ¼ for sigmoid, 1 for tanh and ReLU)."""

LAYER_KEYS = ("hidden_fprime", "hidden_saturated")
"""History keys whose per-epoch value is a vector over the hidden layers (index 0 nearest
the input): a run's history holds (epochs, L) for them, a sweep's (models, epochs, L)."""


def hidden_layers(config) -> int:
    """L, the length of a per-layer key's vector: the hidden layers of ``config.sizes``,
    or 1 for a model without one (the identity's f′ = 1, 0 saturated), so no history
    array is ever empty. A user model (``config.model``) reports L = 1, NaN
    (:mod:`softjax.user_models`)."""
    if config.model is not None:
        return 1
    return max(len(config.sizes) - 2, 1)


def _max_fprime(act) -> float:
    with jax.ensure_compile_time_eval():
        return float(jnp.max(act.grad(jnp.linspace(-10.0, 10.0, 2001))))


def hidden_stats(zs_hidden, acts, n: int) -> dict[str, Any]:
    """Per hidden layer l (a vector over l, shape (L,)): the sums over (sample, unit) of
    f′(Z_l) and of [f′(Z_l) < :data:`HIDDEN_SATURATION` · max f′], divided by the layer's
    units. Summed over an epoch's batches and divided by its samples they are the means
    over samples and units. ``n``: the batch's samples (with no hidden layer, the
    identity's f′ = 1 summed over them and 0 saturated, as one entry)."""
    if not zs_hidden:
        return {"hidden_fprime": jnp.full((1,), n, jnp.float32), "hidden_saturated": jnp.zeros(1)}
    fprime, saturated = [], []
    for z, act in zip(zs_hidden, acts, strict=True):
        f = act.grad(z)
        units = z.shape[-1]
        fprime.append(jnp.sum(f) / units)
        saturated.append(jnp.sum(f < HIDDEN_SATURATION * _max_fprime(act)) / units)
    return {"hidden_fprime": jnp.stack(fprime), "hidden_saturated": jnp.stack(saturated)}


def layer_ends(metrics) -> dict[str, Any]:
    """``<key>_first``/``<key>_last`` of each of :data:`LAYER_KEYS`: the vector's first
    and last entry (the layer nearest the input, the one nearest the output), the keys
    older results were written with."""
    return {
        f"{key}_{where}": metrics[key][..., i]
        for key in LAYER_KEYS
        for where, i in (("first", 0), ("last", -1))
    }
