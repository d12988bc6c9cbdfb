"""The public calls' rows of the sweep case: ``sweep()`` and ``train()`` end to end, as a
user's script calls them (checks, tracing, compiling or reusing, records)."""

from __future__ import annotations

from benchmarks.configs import SWEEP_INIT_SCALES, SWEEP_LOSSES, SWEEP_LRS
from softjax import sweep, train
from softjax.sweeps import core as sweep_core

GRID = dict(losses=SWEEP_LOSSES, lrs=SWEEP_LRS, init_scales=SWEEP_INIT_SCALES)


def sweep_call(fresh: bool):
    """The public ``sweep()`` over the same grid: as a process's first call (``fresh``:
    ``core.clear_programs()`` first, so it traces and compiles), or as a later call of
    the same process (it reuses the program, :func:`softjax.sweeps.core.shared_program`)."""

    def setup(ctx):
        def run():
            if fresh:
                sweep_core.clear_programs()
            return sweep(ctx.config, ctx.data, **GRID, progress=False)

        return run

    return setup


def train_calls(ctx):
    """Sequential ``train()`` calls (each compiles) over the measured subset."""

    def run():
        for loss, lr, scale in ctx.subset:
            train(ctx.config.replace(loss=loss, lr=lr, init_scale=scale), ctx.data)

    return run
