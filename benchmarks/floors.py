"""Each case's floor: the time its matmuls take at this machine's matmul rate.

A training run of a dense net does, per step of B rows through layers
``sizes = (d_0, d_1, …, d_L)``, three matmuls per layer: the forward ``Z_l = A_{l-1} W_l``,
the weight gradient ``∂W_l = A_{l-1}ᵀ G_l`` and the input gradient ``G_{l-1} = G_l W_lᵀ``,
each ``2·B·d_{l-1}·d_l`` FLOPs, except the first layer's input gradient, which nobody
needs. Each epoch it also evaluates the test set, one forward pass. :func:`case_flops`
counts these; nothing else in a step (softmax, loss, update, gather) is a matmul.

The *rate* is measured, not looked up: :func:`make_floor` builds a jitted ``lax.scan``
doing exactly these matmuls for the case's own shapes over contiguous batches (no
activation, loss, optimizer state or gather), and the runner times it in the same
rounds as the systems. A case's floor is ``case_flops / rate``; a system's ×floor is its
time over that, per round (wall time and CPU time each against the floor's own).

For a sweep of M models of one layer the floor's shape is ``(d_0, M·K)``: all models'
weights side by side as one wide matrix, the best any sweep engine can do.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax


def step_flops(batch: int, sizes: Sequence[int]) -> int:
    """Matmul FLOPs of one SGD step of ``batch`` rows: 3 matmuls per layer, but the
    first layer's input gradient."""
    per_layer = [2 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    return 3 * sum(per_layer) - per_layer[0]


def forward_flops(rows: int, sizes: Sequence[int]) -> int:
    """Matmul FLOPs of a forward pass of ``rows`` rows (the test evaluation)."""
    return sum(2 * rows * i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def case_flops(n_train: int, n_test: int, batch: int, epochs: int, sizes) -> int:
    """A training run's matmul FLOPs: every training row once per epoch (the last partial
    batch included) and one test evaluation per epoch."""
    per_row = step_flops(1, sizes)
    return epochs * (n_train * per_row + forward_flops(n_test, sizes))


def make_floor(sizes: Sequence[int], batch: int, epochs: int):
    """``(floor, flops)``: a jitted floor program and the FLOPs one call does.

    ``floor(x_train, x_test, weights)`` runs ``epochs`` epochs of the matmuls of
    ``len(x_train) // batch`` full steps over contiguous batches, then a test forward
    pass. ``G_L = Z_L`` stands in for the loss gradient, and each weight takes a tiny
    ``W − 1e-9 ∂W`` so every step depends on the last (otherwise XLA could hoist or drop
    work); those updates are O(weights), small next to the matmuls.
    """
    sizes = tuple(sizes)

    def step(ws, xb):
        acts = [xb]
        for w in ws:
            acts.append(acts[-1] @ w)
        g = acts[-1]
        new = list(ws)
        for i in reversed(range(len(ws))):
            new[i] = ws[i] - 1e-9 * (acts[i].T @ g)
            if i:
                g = g @ ws[i].T
        return tuple(new), None

    def floor(x_train, x_test, weights):
        n_steps = x_train.shape[0] // batch
        batches = x_train[: n_steps * batch].reshape(n_steps, batch, -1)

        def epoch(ws, _):
            ws = lax.scan(step, ws, batches)[0]
            h = x_test
            for w in ws:
                h = h @ w
            return ws[:-1] + (ws[-1] - 1e-9 * jnp.mean(h),), None

        return lax.scan(epoch, tuple(weights), None, length=epochs)[0]

    def flops(n_train: int, n_test: int) -> int:
        n_steps = n_train // batch
        return epochs * (n_steps * step_flops(batch, sizes) + forward_flops(n_test, sizes))

    return jax.jit(floor), flops


def floor_system(sizes: Sequence[int], batch: int, epochs: int, x_train, x_test):
    """``(run, flops)``: a zero-argument call of the floor program on device copies of
    the data (compiled at its first call), and the FLOPs of one call."""
    floor, flops = make_floor(sizes, batch, epochs)
    x_train, x_test = jax.device_put(x_train), jax.device_put(x_test)
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes) - 1)
    weights = tuple(
        jax.random.normal(k, (i, o), jnp.float32) * i**-0.5
        for k, i, o in zip(keys, sizes[:-1], sizes[1:], strict=True)
    )

    def run():
        return jax.block_until_ready(floor(x_train, x_test, weights))

    return run, flops(x_train.shape[0], x_test.shape[0])
