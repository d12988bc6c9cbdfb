"""The loss study's own clock (issue 35): the time it takes against the matmul FLOPs of
everything it trains, at the XLA floor's rate for its own shapes.

For each model of the loss study (a ``loss_sweep_<dataset>_<model>.json``) the FLOPs are
its model-epochs (search, fixed and longer budget, as it records them) times one epoch's
matmuls of one model: every training row through a step (:func:`benchmarks.floors.step_flops`)
and a forward pass over the 5,000 validation images (the test pass, once per final run or
per epoch of the longer budget, is not counted: the floor errs low). Its floor time is
those FLOPs at the XLA floor's wall-clock rate for the model's layer sizes in a program as
wide as its final runs' (:func:`benchmarks.floors.make_sweep_floor` with M = its arms),
measured here; the clock is the study's own recorded wall time over that. Two clocks:

* ``committed``: the full study as committed in ``results/`` (its recorded wall time;
  parts of that run shared the 2 cores with other jobs, so it is an upper bound);
* ``live``: the study's ``--quick`` size, run here in this process, compile included (no
  persistent cache, as a first run); the full benchmark only (``--quick`` keeps to its
  2 minutes).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.floors import (
    _system,
    forward_flops,
    make_sweep_floor,
    step_flops,
    sweep_floor_shapes,
)
from softjax.results import read_json

N_VAL = 5000
FULL_TRAIN = 55000
"""MNIST's and Fashion-MNIST's training rows less the default validation split."""
RATE_ROWS = 16384
"""Training rows the floor's rate is measured on (one epoch, batch 64)."""


def model_files(folder: Path, suffix: str = "") -> list[Path]:
    """The loss study's per-model JSONs in ``folder`` (``suffix``: ``""`` for the full
    size, ``"_quick"``/``"_smoke"``)."""
    return sorted(
        p
        for p in Path(folder).glob(f"loss_sweep_*{suffix}.json")
        if p.stem.removesuffix(suffix).rsplit("_", 1)[-1] != "mlp"
        and (suffix or not p.stem.endswith(("_quick", "_smoke")))
        and "grid" in read_json(p)
    )


def model_flops(doc: dict) -> float:
    """One model file's matmul FLOPs (module docstring)."""
    g = doc["grid"]
    n_train = g["train_subset"] or FULL_TRAIN
    per_epoch = n_train * step_flops(1, g["sizes"]) + forward_flops(N_VAL, g["sizes"])
    return float(sum(doc["model_epochs"].values()) * per_epoch)


def floor_rate(sizes, models: int, repeats: int = 3) -> float:
    """The XLA floor's wall-clock GFLOP/s for ``models`` nets of ``sizes`` at batch 64
    (best of ``repeats`` after a compiling call)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((RATE_ROWS, sizes[0])).astype(np.float32)
    floor, flops = make_sweep_floor(sizes, models, 64, 1)
    run, gflop, _ = _system(floor, flops, sweep_floor_shapes(sizes, models), x, x[:N_VAL])
    run()
    best = min(_wall(run) for _ in range(repeats))
    return gflop / 1e9 / best


def _wall(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def clock(paths: list[Path], rates: dict | None = None) -> dict:
    """Per model and in total: FLOPs, the floor's rate and time, the recorded wall time
    and their ratio. ``rates`` caches ``(sizes, models) → GFLOP/s`` across calls."""
    rates = {} if rates is None else rates
    rows = []
    for p in paths:
        doc = read_json(p)
        g = doc["grid"]
        key = (tuple(g["sizes"]), len(doc["chosen"]))
        if key not in rates:
            rates[key] = floor_rate(*key)
        gflop = model_flops(doc) / 1e9
        floor_s = gflop / rates[key]
        rows.append(
            {
                "file": p.name,
                "dataset": g["dataset"],
                "model": g["model"],
                "model_epochs": doc["model_epochs"],
                "gflop": gflop,
                "floor_models": key[1],
                "floor_gflops_per_s": rates[key],
                "floor_s": floor_s,
                "wall_s": doc["wall_seconds"],
                "x_floor": doc["wall_seconds"] / floor_s,
            }
        )
    total = {
        "gflop": sum(r["gflop"] for r in rows),
        "floor_s": sum(r["floor_s"] for r in rows),
        "wall_s": sum(r["wall_s"] for r in rows),
    }
    total["x_floor"] = total["wall_s"] / total["floor_s"] if rows else None
    return {"models": rows, "total": total}


def live(data_dir: str, mode: str = "quick") -> tuple[list[Path], float, str]:
    """The loss study at its ``--quick`` (or ``mode``) size on MNIST, run now into a
    temporary folder: its model files, the end-to-end seconds and the size."""
    from experiments.loss_sweep import run as loss_sweep

    out = Path(tempfile.mkdtemp(prefix="study_clock_"))
    argv = [f"--{mode}", "--dataset", "mnist", "--source", "idx", "--data-dir", data_dir]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        loss_sweep.main([*argv, "--out", str(out)])
    return model_files(out, f"_{mode}"), time.perf_counter() - start, mode


def run_clock(committed: Path, data_dir: str, quick: bool, bar=None) -> dict:
    """Both clocks (module docstring); the live one is left out, with why, under
    ``quick`` or when MNIST's files are not in ``data_dir``."""
    rates: dict = {}
    out: dict = {"committed": clock(model_files(committed), rates)}
    if quick:
        out["live"] = {"skipped": "the full benchmark runs it (--quick keeps to 2 minutes)"}
    elif (Path(data_dir) / "mnist").is_dir():
        paths, seconds, mode = live(data_dir)
        out["live"] = clock(paths, rates) | {"size": mode, "end_to_end_s": seconds}
    else:
        out["live"] = {"skipped": f"no MNIST files in {data_dir}"}
    if bar is not None:
        bar.update(1)
    out["rates"] = [
        {"sizes": list(k[0]), "models": k[1], "gflops_per_s": v} for k, v in rates.items()
    ]
    return out


def markdown(block: dict) -> list[str]:
    """The clock as README lines: each clock's total and its slowest model."""
    lines = [
        "",
        "**The study's own clock** (the loss study's recorded wall time over its matmul "
        "FLOPs at the XLA floor's rate for its shapes, in programs as wide as its final "
        "runs; `benchmarks/study_clock.py`):",
        "",
        "| clock | models | GFLOP | floor (s) | wall (s) | ×XLA floor | slowest model |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, words in (
        ("committed", "full study as committed (its runs shared the cores at times)"),
        ("live", "its quick size, run in this benchmark"),
    ):
        c = block.get(name, {})
        if "total" not in c or not c["models"]:
            lines.append(f"| {words} | — | | | | | {c.get('skipped', 'not run')} |")
            continue
        t, worst = c["total"], max(c["models"], key=lambda r: r["x_floor"])
        if name == "live":
            words = f"`loss_sweep --{c['size']}`, run in this benchmark"
        lines.append(
            f"| {words} | {len(c['models'])} | {t['gflop']:.0f} | {t['floor_s']:.1f} | "
            f"{t['wall_s']:.1f} | {t['x_floor']:.1f} | {worst['dataset']} {worst['model']} "
            f"({worst['x_floor']:.1f}×) |"
        )
    return lines
