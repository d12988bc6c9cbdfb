"""The blocked loss: several losses in one vmapped program, each on its own block of models.

A mixed sweep stacks the models of every loss on one model axis, in static contiguous
blocks ``[loss 1: m_1 models | loss 2: m_2 models | …]``. Everything in a training step
but the loss is the same code for every model (the minibatch gather, the forward pass, the
backward pass, the optimizer), so ``jax.vmap`` of one model's step batches it into one
program: one gather, one ``(B, D) @ (D, M·K)`` matmul and one ``Xᵀ G`` for all M models.

The loss is the only per-block part. :class:`BlockedLoss` has the methods a training step
calls on a loss (``fn``, ``value_and_grad``, ``logits_grad``), each a
``jax.custom_batching.custom_vmap`` function: under ``vmap`` over the model axis its rule
slices the batched logits (M, B, K) statically at the block edges and runs block i's
real loss, vmapped, on its m_i models only, then concatenates. So each loss's value,
gradient and the diagnostics built from them cost what that block's models need, never
M models × every loss (a ``lax.switch`` on a batched index would become a select that
runs every loss for every model).

``custom_vmap`` functions have no reverse-mode autodiff, so nothing differentiates
*through* them: ``value_and_grad`` returns the value and ∂/∂logits computed inside the
rule by each loss's own :meth:`~softjax.losses.BoundLoss.value_and_grad`, and the step
back-propagates that gradient through the model's VJP (what
:func:`softjax.training.make_epochs` does for any loss).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


class BlockedLoss(NamedTuple):
    """``losses[i]`` on the models ``[sum(sizes[:i]), sum(sizes[:i+1]))`` of the model axis.

    Only meaningful under ``jax.vmap`` over a model axis of length ``sum(sizes)``; called
    on one model (no ``vmap``) it is ``losses[0]``.

    Attributes:
      losses: one :class:`~softjax.losses.BoundLoss` per block.
      sizes: the blocks' lengths, static ints ≥ 1.
    """

    losses: tuple[Any, ...]
    sizes: tuple[int, ...]

    def fn(self, logits, labels):
        """Each model's batch-mean loss under its own block's loss."""
        return _blocked(self, lambda loss, z, y: loss.fn(z, y))(logits, labels)

    def value_and_grad(self, logits, labels):
        """``(value, ∂value/∂logits)`` per model, by its block's loss's own autodiff."""
        return _blocked(self, lambda loss, z, y: loss.value_and_grad(z, y))(logits, labels)

    def logits_grad(self, logits, labels):
        """Each model's closed-form ∂(mean loss)/∂logits under its block's loss."""
        return _blocked(self, lambda loss, z, y: loss.logits_grad(z, y))(logits, labels)


def _blocked(blocked: BlockedLoss, per_loss: Callable):
    """``per_loss(loss, logits, labels)`` as a custom_vmap function whose batching rule
    runs block i's loss on block i's slice of the model axis."""
    losses, sizes = blocked.losses, blocked.sizes

    @custom_vmap
    def f(logits, labels):
        return per_loss(losses[0], logits, labels)

    @f.def_vmap
    def rule(axis_size, in_batched, logits, labels):
        if axis_size != sum(sizes):
            raise ValueError(
                f"BlockedLoss: expected a model axis of {sum(sizes)} = sum of the blocks "
                f"{sizes}, got one of {axis_size}"
            )
        z_batched, y_batched = in_batched
        outs, start = [], 0
        for loss, m in zip(losses, sizes, strict=True):
            z = (
                logits[start : start + m]
                if z_batched
                else jnp.broadcast_to(logits, (m, *logits.shape))
            )
            y = labels[start : start + m] if y_batched else labels
            outs.append(
                jax.vmap(
                    lambda z, y, loss=loss: per_loss(loss, z, y), (0, 0 if y_batched else None)
                )(z, y)
            )
            start += m
        out = jax.tree.map(lambda *blocks: jnp.concatenate(blocks), *outs)
        return out, jax.tree.map(lambda _: True, out)

    return f
