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

For a sweep of M models (:func:`make_sweep_floor`) the models share their input: the
first layer is one wide ``(d_0, M·d_1)`` matrix, all models' weights side by side, the
best any sweep engine can do; every later layer is M separate products (a batched
matmul), since the models share no hidden activations. For one-layer models that is the
``(d_0, M·K)`` matrix alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
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


def _floor_program(step, forward, batch: int, epochs: int):
    """The jitted ``floor(x_train, x_test, weights)`` both floors share: ``epochs`` epochs,
    each a ``lax.scan`` of ``step(ws, xb) -> (ws, None)`` over the ``len(x_train) // batch``
    full contiguous batches, then a test pass ``forward(x_test, ws)[-1]`` whose mean nudges
    the last weight (``− 1e-9 · mean``) so XLA cannot drop it. Returns the final weights."""

    def floor(x_train, x_test, weights):
        n_steps = x_train.shape[0] // batch
        batches = x_train[: n_steps * batch].reshape(n_steps, batch, -1)

        def epoch(ws, _):
            ws = lax.scan(step, ws, batches)[0]
            h = forward(x_test, ws)[-1]
            return ws[:-1] + (ws[-1] - 1e-9 * jnp.mean(h),), None

        return lax.scan(epoch, tuple(weights), None, length=epochs)[0]

    return jax.jit(floor)


def make_floor(sizes: Sequence[int], batch: int, epochs: int):
    """``(floor, flops)``: a jitted floor program and the FLOPs one call does.

    ``floor(x_train, x_test, weights)`` runs ``epochs`` epochs of the matmuls of
    ``len(x_train) // batch`` full steps over contiguous batches, then a test forward
    pass. ``G_L = Z_L`` stands in for the loss gradient, and each weight takes a tiny
    ``W − 1e-9 ∂W`` so every step depends on the last (otherwise XLA could hoist or drop
    work); those updates are O(weights), small next to the matmuls.
    """
    sizes = tuple(sizes)

    def forward(x, ws):
        acts = [x]
        for w in ws:
            acts.append(acts[-1] @ w)
        return acts

    def step(ws, xb):
        acts = forward(xb, ws)
        g = acts[-1]
        new = list(ws)
        for i in reversed(range(len(ws))):
            new[i] = ws[i] - 1e-9 * (acts[i].T @ g)
            if i:
                g = g @ ws[i].T
        return tuple(new), None

    def flops(n_train: int, n_test: int) -> int:
        n_steps = n_train // batch
        return epochs * (n_steps * step_flops(batch, sizes) + forward_flops(n_test, sizes))

    return _floor_program(step, forward, batch, epochs), flops


def make_sweep_floor(sizes: Sequence[int], models: int, batch: int, epochs: int):
    """``(floor, flops)`` for M = ``models`` nets of ``sizes`` sharing their input.

    Per step of B rows, with ``H_l`` of shape (B, M, d_l) holding every model's layer l:

    * layer 1, shared input: ``Z_1 = X W_1`` with ``W_1`` of shape (d_0, M·d_1), one wide
      matmul, 2·B·d_0·M·d_1 FLOPs; its weight gradient ``∂W_1 = Xᵀ G_1`` likewise (the
      same wide shape; no input gradient);
    * layer l ≥ 2, per model: ``Z_l[:, m] = H_{l-1}[:, m] W_l[m]`` with ``W_l`` of shape
      (M, d_{l-1}, d_l) (``einsum('bmh,mhk->bmk')``), ``∂W_l[m] = H_{l-1}[:, m]ᵀ G_l[:, m]``
      and the back-propagated ``G_{l-1}[:, m] = G_l[:, m] W_l[m]ᵀ``, each 2·B·M·d_{l-1}·d_l.

    So a step is M × :func:`step_flops` and one call M × :func:`make_floor`'s FLOPs for
    ``sizes``: the same count as the case's (``models × case_flops``) up to the last
    partial batch, which the runner's scale takes care of. The rest is as in
    :func:`make_floor` (``G_L = Z_L``, updates ``W − 1e-9 ∂W``, a test forward pass per
    epoch). ``floor(x_train, x_test, weights)`` takes ``weights`` of
    :func:`sweep_floor_shapes`.
    """
    sizes = tuple(sizes)
    k = len(sizes) - 1

    def forward(x, ws):
        acts = [x, (x @ ws[0]).reshape(x.shape[0], models, sizes[1])]
        for w in ws[1:]:
            acts.append(jnp.einsum("bmh,mhk->bmk", acts[-1], w))
        return acts

    def step(ws, xb):
        acts = forward(xb, ws)
        g = acts[-1]
        new = list(ws)
        for i in reversed(range(1, k)):
            new[i] = ws[i] - 1e-9 * jnp.einsum("bmh,bmk->mhk", acts[i], g)
            g = jnp.einsum("bmk,mhk->bmh", g, ws[i])
        new[0] = ws[0] - 1e-9 * (xb.T @ g.reshape(xb.shape[0], -1))
        return tuple(new), None

    def flops(n_train: int, n_test: int) -> int:
        n_steps = n_train // batch
        per_model = n_steps * step_flops(batch, sizes) + forward_flops(n_test, sizes)
        return models * epochs * per_model

    return _floor_program(step, forward, batch, epochs), flops


def sweep_floor_shapes(sizes: Sequence[int], models: int) -> list[tuple[int, ...]]:
    """The weights :func:`make_sweep_floor` takes: (d_0, M·d_1), then (M, d_{l-1}, d_l)."""
    rest = [(models, i, o) for i, o in zip(sizes[1:-1], sizes[2:], strict=True)]
    return [(sizes[0], models * sizes[1]), *rest]


def _system(floor, flops, shapes, x_train, x_test):
    """``(run, flops, hlo)``: a zero-argument call of ``floor`` on device copies of the
    data and normal random weights of ``shapes`` (scaled by fan-in), the FLOPs of one call
    and a zero-argument call returning its compiled HLO text (``benchmarks.hlo``)."""
    x_train, x_test = jax.device_put(x_train), jax.device_put(x_test)
    # numpy draws them: an eager jax.random.normal of (784, 4800) takes seconds (its
    # threefry program compiles for that shape), and their values do not matter here.
    rng = np.random.default_rng(0)
    weights = tuple(
        jax.device_put((rng.standard_normal(s) * s[-2] ** -0.5).astype(np.float32)) for s in shapes
    )

    compiled = []  # compiled once, at the first call of either

    def executable():
        if not compiled:
            compiled.append(floor.lower(x_train, x_test, weights).compile())
        return compiled[0]

    def run():
        return jax.block_until_ready(executable()(x_train, x_test, weights))

    def hlo():
        return executable().as_text()

    return run, flops(x_train.shape[0], x_test.shape[0]), hlo


def floor_system(sizes: Sequence[int], batch: int, epochs: int, x_train, x_test):
    """``(run, flops, hlo)``: :func:`make_floor`'s program for one net of ``sizes`` as a
    zero-argument call (compiled at its first call), the FLOPs of one call and its HLO."""
    floor, flops = make_floor(sizes, batch, epochs)
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    return _system(floor, flops, shapes, x_train, x_test)


# ----------------------------------------------------------- a case's floor (Case.floor)


# ``ctx`` is a case's context (``benchmarks.cases.context``): its config, data, models.


def net_floor(ctx):
    """One net's matmuls at the case's own layer sizes (:func:`make_floor`)."""
    cfg, data = ctx.config, ctx.data
    run, flops, hlo = floor_system(cfg.sizes, cfg.batch_size, cfg.epochs, data.x_train, data.x_test)
    return run, flops, list(zip(cfg.sizes[:-1], cfg.sizes[1:], strict=True)), hlo


def sweep_floor(ctx):
    """``ctx.models`` nets' matmuls, the input layer shared as one wide matrix and every
    later layer per model (:func:`make_sweep_floor`): for one-layer models the
    (d, M·K) matrix alone."""
    cfg, data, m = ctx.config, ctx.data, ctx.models
    floor, flops = make_sweep_floor(cfg.sizes, m, cfg.batch_size, cfg.epochs)
    shapes = sweep_floor_shapes(cfg.sizes, m)
    run, flops, hlo = _system(floor, flops, shapes, data.x_train, data.x_test)
    return run, flops, shapes, hlo
