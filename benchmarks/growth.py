"""How a sweep's cost grows with its number of models M (issue 14), and its peak memory.

For M = 1, 4, 16, 64, 256, 1024 softmax-regression models (seed 001's config, 1 epoch,
one loss, the models differing in their init seed) four systems run in interleaved
rounds:

* ``sweep_cold_cache``: ``softjax.sweep(...)`` end to end, with JAX's persistent
  compilation cache in an empty folder each call: what a first run pays, compile included;
* ``sweep_warm_cache``: the same call with a cache folder that already holds the program
  (its warm-up call wrote it): what a rerun, another grid's values or another process pays;
* ``steady_state``: the sweep's compiled program alone (``core.build_program``, compiled
  in the warm-up), called through ``core.run_group`` as ``sweep()`` calls it;
* ``matmul_floor``: the M models' matmuls as one (784, M·10) weight matrix
  (:mod:`benchmarks.floors`), scaled to the sweep's FLOPs.

Each row reports the per-model time (wall / M), GFLOP/s (the M models' matmul FLOPs over
wall time) and ×floor. :func:`draw` plots per-model time and GFLOP/s against M from the
JSON. :func:`memory_child` runs a 1,000-model MNIST sweep in a fresh process and reports
the peak RSS it adds: the models share one copy of the data, never one each.
"""

from __future__ import annotations

import itertools
import tempfile
import warnings
from pathlib import Path

import jax
import numpy as np

from benchmarks.configs import single_config
from benchmarks.floors import case_flops, floor_system
from benchmarks.timing import CLOCKS, interleaved, paired_median, peak_rss, reset_peak_rss
from softjax import sweep
from softjax.compilation_cache import compilation_cache_in
from softjax.config import param_dtype
from softjax.sweeps import core
from softjax.sweeps.grid import check_grid, grid_configs

MODELS = (1, 4, 16, 64, 256, 1024)
QUICK_MODELS = (1, 16)
MEMORY_MODELS = 1000
SYSTEMS = ("sweep_cold_cache", "sweep_warm_cache", "steady_state", "matmul_floor")


def growth_config(sizes):
    """Seed 001's softmax regression (cce, batch 64), 1 epoch."""
    return single_config(sizes).replace(epochs=1)


def grid(models: int) -> dict:
    """One loss, one lr, ``models`` init seeds: M models in one group."""
    return dict(losses=["cce"], lrs=[0.01], seeds=list(range(models)))


def _steady(config, data, models: int):
    checked, g = check_grid(config, data, **grid(models), init_scales=[1.0])
    points = grid_configs(config, g)
    dtype = param_dtype(checked.x_train)
    program = core.build_program(config, g["losses"], dtype, None)
    device_data = jax.device_put(tuple(checked))
    return lambda: core.run_group(program, points, device_data, None, dtype, config.seed)


def measure(models: int, data, sizes, rounds: int, cache_root: Path) -> dict:
    """The four systems for ``models`` models, ``rounds`` interleaved rounds."""
    config = growth_config(sizes)
    counter = itertools.count()

    def end_to_end(folder):
        with compilation_cache_in(folder):
            sweep(config, data, **grid(models), progress=False)

    floor_run, floor_flops, _ = floor_system(
        (784, models * 10), config.batch_size, 1, data.x_train, data.x_test
    )
    systems = {
        "sweep_cold_cache": lambda: end_to_end(cache_root / f"cold-{models}-{next(counter)}"),
        "sweep_warm_cache": lambda: end_to_end(cache_root / f"warm-{models}"),
        "steady_state": _steady(config, data, models),
        "matmul_floor": floor_run,
    }
    flops = models * case_flops(
        len(data.x_train), len(data.x_test), config.batch_size, 1, config.sizes
    )
    # Warm-ups: the warm row's writes its cache folder, the steady program then loads it
    # from there (the same program: one compile less), the floor compiles.
    systems["sweep_warm_cache"]()
    with compilation_cache_in(cache_root / f"warm-{models}"):
        systems["steady_state"]()
    systems["matmul_floor"]()
    times, _ = interleaved(systems, rounds, warmup=False)
    floor_scale = flops / floor_flops
    floor_times = {c: [t * floor_scale for t in times["matmul_floor"][c]] for c in CLOCKS}
    rows = {}
    for name in SYSTEMS:
        ts = floor_times if name == "matmul_floor" else times[name]
        wall = float(np.median(ts["wall"]))
        rows[name] = {
            "wall_s": wall,
            "cpu_s": float(np.median(ts["cpu"])),
            "wall_rounds": ts["wall"],
            "per_model_ms": 1e3 * wall / models,
            "gflops_per_s": flops / wall / 1e9,
            "wall_x_floor": paired_median(ts["wall"], floor_times["wall"]),
        }
    return {"models": models, "gflop": flops / 1e9, "systems": rows}


def run_growth(data, sizes, models=MODELS, rounds: int = 3, bar=None) -> dict:
    """Every M in ``models``; cache folders live in a temporary folder, removed after."""
    config = growth_config(sizes)
    points = []
    with tempfile.TemporaryDirectory(prefix="softjax-growth-") as root:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for m in models:
                points.append(measure(m, data, sizes, rounds, Path(root)))
                if bar is not None:
                    bar.update(1)
    return {
        "description": "sweep() end to end (cold and warm compilation cache), its "
        "steady-state program and the matmul floor for M softmax-regression models "
        "(1 epoch, one loss, init seeds 0..M-1)",
        "config": config.to_dict(),
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "rounds": rounds,
        "points": points,
    }


def draw(growth: dict, path: Path) -> Path:
    """Per-model time and GFLOP/s against M, one line per system, log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from softjax.results import atomic_save_figure

    ms = [p["models"] for p in growth["points"]]
    fig, (ax_t, ax_g) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"matmul_floor": dict(color="k", linestyle="--")}
    for name in SYSTEMS:
        rows = [p["systems"][name] for p in growth["points"]]
        kw = dict(marker="o", label=name.replace("_", " "), **styles.get(name, {}))
        ax_t.plot(ms, [r["per_model_ms"] for r in rows], **kw)
        ax_g.plot(ms, [r["gflops_per_s"] for r in rows], **kw)
    for ax in (ax_t, ax_g):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("models M in one sweep")
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_ylabel("wall time per model (ms)")
    ax_g.set_ylabel("matmul GFLOP/s")
    ax_t.legend()
    fig.suptitle(
        f"Cost against M: softmax regression, 1 epoch, {growth['n_train']} rows, "
        f"{growth['rounds']} round(s)"
    )
    fig.tight_layout()
    out = atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    return out


def markdown(growth: dict) -> list[str]:
    """The curve as a table: per M, per-model ms and GFLOP/s of each system."""
    head = " | ".join(f"{s} ms/model | GFLOP/s" for s in SYSTEMS)
    lines = ["", f"| M | {head} |", "| ---: |" + " ---: | ---: |" * len(SYSTEMS)]
    for p in growth["points"]:
        cells = " | ".join(
            f"{p['systems'][s]['per_model_ms']:.1f} | {p['systems'][s]['gflops_per_s']:.1f}"
            for s in SYSTEMS
        )
        lines.append(f"| {p['models']} | {cells} |")
    return lines


def memory_child(data, sizes, models: int = MEMORY_MODELS) -> dict:
    """A ``models``-model sweep once in this (fresh) process: the peak RSS it adds.

    Compilation included; JAX's compile cache is off for it (benchmarks/run.py sets
    ``SOFTJAX_COMPILATION_CACHE=off``), so the compile's memory counts every time.
    """
    config = growth_config(sizes)
    baseline = reset_peak_rss()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sweep(config, data, **grid(models), progress=False)
    peak = peak_rss()
    x = np.asarray(data.x_train)
    return {
        "models": models,
        "rss_baseline_mib": baseline,
        "rss_peak_mib": peak,
        "rss_increase_mib": peak - baseline,
        "x_train_mib": x.nbytes / 2**20,
        "params_mib": models * 785 * 10 * x.dtype.itemsize / 2**20,
    }
