"""One model's minibatch step: forward, ∂loss, backward, the optimizer's update, and a
guard that keeps the last finite params.

A non-finite loss or update freezes the params and the optimizer state at their last
finite values and clears the ``finite`` flag; the epoch loop (:mod:`softjax.training`)
ends the run there and :func:`softjax.train` reports it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax import lax

from softjax import user_models
from softjax.diagnostics import batch_sums
from softjax.evaluation import predicted_class, target_class
from softjax.grads import backprop_from_forward
from softjax.models import dense, forward, mlp_forward


def all_finite(tree):
    """Whether every entry of every leaf is finite, each leaf read once in its own layout."""

    def finite(x):
        # 0·x is ±0 where x is finite and NaN where it is ±inf or NaN, so Σ 0·x == 0 says
        # "all finite" and cannot overflow. A matrix's first axis is summed as a product
        # with a zero vector, which reads x once in its own layout: jnp.all of isfinite
        # lets XLA:CPU transpose a predicate copy of stacked models' (d_in, M, d_out)
        # weights on every step, and a ones vector times x·0 adds a multiplying pass.
        # The barrier keeps XLA from folding the product with zeros away.
        if x.ndim < 2:
            return jnp.sum(x * 0) == 0
        zeros = lax.optimization_barrier(jnp.zeros(x.shape[0], x.dtype))
        return jnp.sum(jnp.tensordot(zeros, x, axes=(0, 0))) == 0

    return jnp.all(jnp.stack([finite(x) for x in jax.tree.leaves(tree)]))


def _where(flag, new, old):
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), new, old)


def make_step(config, loss, acts, optimizer):
    """``step(carry, lr, x, y, data) -> (carry, sums)`` for one model.

    ``carry`` is ``(params, opt_state, finite)``; ``sums`` the batch's float32 sums of the
    loss·n, the correct predictions and, with ``config.diagnostics``, the diagnostics
    (:func:`softjax.diagnostics.batch_sums`). ``loss`` is the resolved loss (its ``fn``,
    ``value_and_grad`` and ``logits_grad``), ``acts`` the hidden activations and
    ``optimizer(lr, data)`` the optax transformation.
    """

    def logits_and_grads(params, x, y):
        """Logits, the mean loss, ∂loss/∂logits, ∂loss/∂params and the hidden layers' Z
        for one batch (None for a user model: no hidden layers to report)."""
        if config.model is not None:  # softjax.user_models
            return (*user_models.logits_and_grads(config.model, loss, params, x, y), None)
        if config.grad == "closed_form":
            zs, hidden = mlp_forward(params, x, acts)
            g_logits = loss.logits_grad(zs[-1], y)
            grads = backprop_from_forward(params, zs, hidden, g_logits, acts)
            return zs[-1], loss.fn(zs[-1], y), g_logits, grads, zs[:-1]

        def logits_of(p):
            # dense: ∂W as Aᵀ G, no transposing pass over stacked models' weights.
            zs = forward(p, x, acts, matmul=dense)[0]
            return zs[-1], zs[:-1]

        # Splitting the VJP at the logits gives ∂L/∂z for the diagnostics at no extra cost.
        logits, apply_vjp, zs_hidden = jax.vjp(logits_of, params, has_aux=True)
        value, g_logits = loss.value_and_grad(logits, y)
        (grads,) = apply_vjp(g_logits)
        return logits, value, g_logits, grads, zs_hidden

    def step(carry, lr, x, y, data):
        params, opt_state, finite = carry
        n = x.shape[0]
        logits, value, g_logits, grads, zs_hidden = logits_and_grads(params, x, y)
        updates, new_opt_state = optimizer(lr, data).update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        ok = finite & jnp.isfinite(value) & all_finite(new_params)
        carry = (_where(ok, new_params, params), _where(ok, new_opt_state, opt_state), ok)
        wrong = predicted_class(logits) != target_class(y)
        sums = {"train_loss": value * n, "train_accuracy": jnp.sum(~wrong)}
        if config.diagnostics:
            sums |= batch_sums(logits, y, g_logits, wrong, zs_hidden, acts)
        return carry, jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), sums)

    return step
