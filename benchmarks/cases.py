"""The benchmark cases: per case, what it trains and ONE table of the systems that train it.

A :class:`Case` holds a ``prepare(data, sizes)`` that builds the case's context (config,
initial params, device data, its FLOP count), a ``floor(ctx)`` naming its floor program
(:func:`~benchmarks.floors.net_floor` or :func:`~benchmarks.floors.sweep_floor`) and two tables:

* ``systems``: name -> ``setup(ctx)`` returning a zero-argument call that does one run
  and blocks until done, returning the final test accuracy (or None). Setups are cheap;
  a jitted system compiles at its first call (the runner's untimed warm-up, and part of
  the one run a memory child measures).
* ``compiles``: name -> ``setup(ctx)`` returning a call that traces and compiles the
  system's program afresh (new closures: no jax cache can hit) and returns it.

To add a system, add a row to a case's ``systems`` (and ``compiles``); to add a case, add
a :class:`Case` to :data:`CASES`; nothing else needs to change. Every case also gets a
``matmul_floor`` row: its ``floor``, from :mod:`benchmarks.floors`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import peers
from benchmarks.configs import (
    MLP_SWEEP_ROWS,
    SWEEP_GRID,
    SWEEP_INIT_SCALES,
    SWEEP_LOSSES,
    SWEEP_LRS,
    Sizes,
    mlp_config,
    mlp_sweep_config,
    single_config,
)
from benchmarks.floors import case_flops, net_floor, sweep_floor
from benchmarks.public_calls import sweep_call, train_calls
from softjax import TrainConfig, init_params, make_sweep, make_train
from softjax.config import seed_keys
from softjax.inputs import as_data, compact
from softjax.losses import resolve_loss
from softjax.sweeps.mixed import BlockedLoss

Setup = Callable[[SimpleNamespace], Callable[[], object]]


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case: its context and its table of systems (see the module doc)."""

    key: str  # the --cases name
    name: str  # the key in the results JSON
    title: str  # the README table's label
    description: str
    prepare: Callable[..., SimpleNamespace]
    floor: Callable[[SimpleNamespace], tuple]  # ctx -> (run, flops, weight shapes, hlo)
    systems: dict[str, Setup]
    compiles: dict[str, Setup]
    cold: frozenset[str] = frozenset()  # systems that compile on every call: no warm-up
    notes: tuple[str, ...] = ()


def context(config: TrainConfig, data, *, models: int = 1, **extra) -> SimpleNamespace:
    """What every system of a case needs: inputs, numpy copies of the initial weights,
    the hyper-parameters the peers take and the FLOPs: ``models`` runs of ``config``
    (the case's ``floor`` picks the floor program's shapes)."""
    init_key, data_key = seed_keys(config.seed)
    params = init_params(config, init_key)
    n_train, n_test = len(data.x_train), len(data.x_test)
    flops = models * case_flops(n_train, n_test, config.batch_size, config.epochs, config.sizes)
    return SimpleNamespace(
        config=config,
        data=data,
        # As train() and sweep() store it: MNIST's pixels as byte codes (softjax.inputs).
        dev=jax.device_put(compact(as_data(data), shuffled=config.shuffle)),
        params=params,
        lr=jnp.float32(config.lr),
        data_key=data_key,
        weights=[np.asarray(layer["w"]) for layer in params],
        bias=np.asarray(params[0]["b"]) if config.bias else None,
        hp=dict(lr=config.lr, batch_size=config.batch_size, epochs=config.epochs),
        flops=flops,
        models=models,
        scale={},
        compiled={},  # the compile rows' last executables, shared with the timed rows
        **extra,
    )


def _accuracy(out) -> float:
    return float(jax.block_until_ready(out)[1]["test_accuracy"][-1])


# -------------------------------------------------------------------- softjax systems


def _key(ctx, row: str):  # a program among a case's rows: data and diagnostics differ
    return (row, ctx.config.diagnostics, id(ctx.dev))


def _jitted(ctx, row: str, fn):
    """The compile row's executable where it ran (the timed row's warm-up need not compile
    it again), else ``jax.jit(fn)``."""
    return ctx.compiled.get(_key(ctx, row)) or jax.jit(fn)


def softjax_run(ctx):
    """The compiled ``make_train(config)`` train_fn (one program for the whole run)."""
    fn, args = softjax_program(ctx)
    fn = _jitted(ctx, "softjax", fn)
    return lambda: _accuracy(fn(*args))


def softjax_compile(ctx):
    """Compiling the program the ``softjax`` row times (:func:`softjax_program`), for
    every case: one run's ``make_train`` or a sweep's mixed program. The executable is
    kept for the timed row (``ctx.compiled``)."""

    def compile_run():
        fn, args = softjax_program(ctx)  # fresh closures: nothing cached
        out = ctx.compiled[_key(ctx, "softjax")] = jax.jit(fn).lower(*args).compile()
        return out

    return compile_run


# ----------------------------------------------------------------------------- single


def prepare_single(data, sizes: Sizes) -> SimpleNamespace:
    return context(single_config(sizes), data)


# ------------------------------------------------------------------------------ sweep


def sweep_context(base: TrainConfig, data, **extra) -> SimpleNamespace:
    """The 48-config grid on ``base``: the context and, per loss, its config, its 16
    stacked initial params and their lrs (``ctx.groups``)."""
    ctx = context(base, data, models=len(SWEEP_GRID), **extra)
    groups = []
    for loss in SWEEP_LOSSES:
        cfg = base.replace(loss=loss)
        pairs = [(lr, s) for (l_, lr, s) in SWEEP_GRID if l_ == loss]
        key = seed_keys(base.seed)[0]
        inits = {s: init_params(cfg, key, init_scale=s) for s in SWEEP_INIT_SCALES}
        stack = [inits[s] for _, s in pairs]  # 4 distinct inits (eager: each costs)
        params = jax.tree.map(lambda *xs: jnp.stack(xs), *stack)
        groups.append((cfg, params, jnp.asarray([lr for lr, _ in pairs], jnp.float32)))
    ctx.groups = groups
    return ctx


def prepare_sweep(data, sizes: Sizes) -> SimpleNamespace:
    """The grid on seed 001's config and the measured subset of sequential runs (one per
    loss, spread over the lrs and scales)."""
    subset = [
        (SWEEP_LOSSES[i % 3], SWEEP_LRS[i % 4], SWEEP_INIT_SCALES[(i + 1) % 4])
        for i in range(sizes.sweep_subset)
    ]
    ctx = sweep_context(single_config(sizes), data, subset=subset)
    scale = len(SWEEP_GRID) / len(subset)
    ctx.scale = {"train_calls_x48_estimated": scale, "numpy_x48_estimated": scale}
    return ctx


def _mixed(ctx):
    """The mixed program over all 48 models: their params and lrs stacked in blocks of 16
    per loss, and ``make_sweep`` with the blocked loss (one program, one call)."""
    params = jax.tree.map(lambda *xs: jnp.concatenate(xs), *[p for _, p, _ in ctx.groups])
    lrs = jnp.concatenate([lrs for _, _, lrs in ctx.groups])
    losses = tuple(resolve_loss(cfg.loss) for cfg, _, _ in ctx.groups)
    loss = BlockedLoss(losses, tuple(len(lrs) for _, _, lrs in ctx.groups))
    return make_sweep(ctx.config, loss), params, lrs


def without_diagnostics(ctx) -> SimpleNamespace:
    """A copy of a case's context whose configs have ``diagnostics=False``."""
    lean = SimpleNamespace(**vars(ctx))
    lean.config = ctx.config.replace(diagnostics=False)
    if hasattr(ctx, "groups"):
        lean.groups = [(cfg.replace(diagnostics=False), p, lrs) for cfg, p, lrs in ctx.groups]
    return lean


def softjax_program(ctx):
    """``(fn, args)``: the (unjitted) program a case's ``softjax`` row times and its
    arguments, the mixed program for a sweep case (one with ``ctx.groups``), else the
    ``make_train(config)`` train_fn."""
    if hasattr(ctx, "groups"):
        fn, params, lrs = _mixed(ctx)
        return fn, (params, lrs, ctx.data_key, ctx.dev)
    return make_train(ctx.config), (ctx.params, ctx.lr, ctx.data_key, ctx.dev)


def softjax_sweep(ctx):
    """What ``sweep()`` runs: one program for the 48 models, a block of 16 per loss."""
    fn, args = softjax_program(ctx)
    fn = _jitted(ctx, "softjax", fn)
    return lambda: jax.block_until_ready(fn(*args))


def on_floats(setup: Setup) -> Setup:
    """``setup`` on float32 features, as a script hands them to ``make_train`` /
    ``make_sweep`` (``train()`` and ``sweep()`` store k/255 images as byte codes)."""

    def on(ctx):
        floats = SimpleNamespace(**vars(ctx))
        floats.dev = jax.device_put(as_data(ctx.data))
        return setup(floats)

    return on


def lean(setup: Setup) -> Setup:
    """``setup`` on the case's configs with ``diagnostics=False`` (the same params; the
    step without the per-step diagnostics the peers do not compute either)."""
    return lambda ctx: setup(without_diagnostics(ctx))


def with_lean_rows(case: Case) -> Case:
    """``case`` with a ``softjax_no_diagnostics`` row (and compile row) right after its
    ``softjax`` row: :func:`lean` of that row's setup."""

    def add(table):
        rows = dict(table)
        softjax = rows.pop("softjax")
        return {"softjax": softjax, "softjax_no_diagnostics": lean(softjax), **rows}

    return dataclasses.replace(case, systems=add(case.systems), compiles=add(case.compiles))


def softjax_per_loss_programs(ctx):
    """The engine before the blocked loss: one ``jit(make_sweep(config))`` per loss, 16
    models each, a shared data key (3 programs, 3 calls)."""
    fns = ctx.compiled.get(_key(ctx, "per_loss")) or [
        jax.jit(make_sweep(cfg)) for cfg, _, _ in ctx.groups
    ]

    def run():
        groups = zip(fns, ctx.groups, strict=True)
        jax.block_until_ready([f(p, lrs, ctx.data_key, ctx.dev) for f, (_, p, lrs) in groups])

    return run


def per_loss_programs_compile(ctx):
    def compile_all():
        out = ctx.compiled[_key(ctx, "per_loss")] = [
            jax.jit(make_sweep(cfg)).lower(p, lrs, ctx.data_key, ctx.dev).compile()
            for cfg, p, lrs in ctx.groups
        ]
        return out

    return compile_all


# -------------------------------------------------------------------------------- mlp


def prepare_mlp_sweep(data, sizes: Sizes) -> SimpleNamespace:
    """The grid on :func:`mlp_sweep_config` (784-100-10 ReLU), on the first
    :data:`MLP_SWEEP_ROWS` training rows (the floor is measured on the same rows)."""
    rows = MLP_SWEEP_ROWS
    data = data._replace(x_train=data.x_train[:rows], y_train=data.y_train[:rows])
    return sweep_context(mlp_sweep_config(sizes), data)


def prepare_mlp(data, sizes: Sizes) -> SimpleNamespace:
    return context(mlp_config(sizes), data)


# ------------------------------------------------------------------------- the tables

# torch is optional (the `bench` extra): without it its rows are absent, and the report
# says so.
_TORCH = peers.HAVE_TORCH

CASES = {
    case.key: with_lean_rows(case)
    for case in (
        Case(
            key="single",
            name="single_run",
            title="MNIST softmax regression, 1 run",
            description="one run of seed 001's MNIST softmax regression (batch 64, lr 0.001)",
            prepare=prepare_single,
            floor=net_floor,
            systems={
                "softjax": softjax_run,
                "make_train_float_data": on_floats(softjax_run),
                "numpy": peers.numpy_single_row,
                "jax_python_loop": peers.jax_loop_single_row,
            }
            | ({"torch_preloaded": peers.torch_single_row} if _TORCH else {}),
            compiles={"softjax": softjax_compile, "jax_python_loop": peers.jax_loop_compile_row},
            notes=(
                "softjax: the compiled train_fn (lax.scan over epochs and batches, on-device "
                "shuffle, per-epoch history and test evaluation); the peers keep a running "
                "loss and evaluate the test set every epoch too",
                "jax_python_loop: a jitted SGD step per batch from a Python loop over numpy "
                "minibatches; its compile covers both batch shapes and the evaluation",
                "softjax_no_diagnostics (in every case, with_lean_rows): the softjax row's "
                "program with TrainConfig(diagnostics=False): the same params, no per-step "
                "diagnostics",
                "make_train_float_data: the softjax row's program on float32 features",
            ),
        ),
        Case(
            key="sweep",
            name="sweep_48",
            title="48-config sweep",
            description="48 configs (3 losses x 4 lrs x 4 init scales) on seed 001's MNIST "
            "config: one sweep against sequential runs",
            prepare=prepare_sweep,
            floor=sweep_floor,
            systems={
                "softjax": softjax_sweep,
                "make_sweep_float_data": on_floats(softjax_sweep),
                "softjax_per_loss_programs": softjax_per_loss_programs,
                "sweep_call_end_to_end": sweep_call(fresh=True),
                "sweep_call_again": sweep_call(fresh=False),
                "train_calls_x48_estimated": train_calls,
                "numpy_x48_estimated": peers.numpy_sweep_row,
            },
            compiles={
                "softjax": softjax_compile,
                "softjax_per_loss_programs": per_loss_programs_compile,
            },
            cold=frozenset({"sweep_call_end_to_end", "train_calls_x48_estimated"}),
            notes=(
                "softjax is steady state: sweep()'s one compiled program for the 48 models "
                "(make_sweep with a BlockedLoss: a block of 16 (lr, init_scale) pairs per "
                "loss, one shared gather, forward and backward matmul) with a shared data key",
                "softjax_per_loss_programs: the engine before it, 3 compiled make_sweep "
                "programs (one per loss, each vmapped over its 16 pairs)",
                "sweep_call_end_to_end: softjax.sweep(...) over the same grid, compile "
                "included (a process's first call: it traces and compiles)",
                "sweep_call_again: the same sweep() call repeated in one process (it "
                "reuses the program: no tracing, no compile)",
                "*_x48_estimated: sequential runs, a subset measured per round (one per "
                "loss) and scaled to 48 (scaled_by); train() compiles on every call",
                "the floor is the 48 models' matmuls as one (784, 480) weight matrix",
                "make_sweep_float_data: the softjax row's program on float32 features",
            ),
        ),
        Case(
            key="mlp",
            name="mlp",
            title="MLP 784-400-10",
            description="784-400-10 ReLU MLP without biases, batch 100, batches in order "
            "(the homework net, seed 004)",
            prepare=prepare_mlp,
            floor=net_floor,
            systems={"softjax": softjax_run, "numpy_homework": peers.numpy_mlp_row}
            | ({"torch_preloaded": peers.torch_mlp_row} if _TORCH else {}),
            compiles={"softjax": softjax_compile},
        ),
        Case(
            key="mlp_sweep",
            name="mlp_sweep_48",
            title="48-config MLP sweep 784-100-10",
            description="the 48 configs of the sweep case (3 losses x 4 lrs x 4 init "
            "scales) on a 784-100-10 ReLU MLP (seed 001's init, biases, batch 64)",
            prepare=prepare_mlp_sweep,
            floor=sweep_floor,
            systems={
                "softjax": softjax_sweep,
                "softjax_per_loss_programs": softjax_per_loss_programs,
            },
            compiles={
                "softjax": softjax_compile,
                "softjax_per_loss_programs": per_loss_programs_compile,
            },
            notes=(
                "softjax and softjax_per_loss_programs as in the sweep case; no numpy peer "
                "(numpy_mlp is the homework net: cce, no biases, in order)",
                "the floor: layer 1 as one (784, 4800) matrix (shared input), layer 2 as 48 "
                "(100, 10) products (a batched matmul), backward likewise",
            ),
        ),
    )
}
