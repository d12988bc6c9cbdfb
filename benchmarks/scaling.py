"""Scale-out: the 48-config sweep over 1 and 2 processes, and over 1 and 2 devices in
one process (``python -m benchmarks.run --cases scaling``; issue 35).

Each arrangement runs in fresh processes started here, one call of ``softjax.sweep()``
over :data:`benchmarks.configs.SWEEP_GRID` cold (JAX's persistent compilation cache in
an empty folder of its own) and then ``warm_calls`` more (a rerun: the program loads
from that cache, as in a later process or another grid's values):

* ``1_process_1_core``: one process, one CPU device (the plain jit), pinned to one core:
  the baseline (issue 35: "≥ 1.8× faster than 1 process on 1 core");
* ``1_process``: the same, free to use every core (XLA:CPU's thread pool spreads some
  kernels over them);
* ``1_process_2_devices``: one process with ``--xla_force_host_platform_device_count=2``:
  ``sweep()`` runs each device's half of the models as the one-device program, both
  dispatched at once (:func:`softjax.sweeps.core.per_device`);
* ``2_processes``: two processes on ``jax.distributed`` (gloo collectives on 127.0.0.1),
  one device and one core each, every process calling the same ``sweep()`` (which runs
  each process's models as the one-device program, likewise);
* ``1_process_1_core_half``: the baseline on the grid's first 24 models, one process's
  share: what 2 processes would take if splitting cost nothing but each still paid a
  whole ``sweep()`` call's fixed costs (tracing, loading the program, the data checks).

A call's wall time is the slowest process's (they meet in collectives), its CPU time
the sum over processes. The arrangements run round-robin, ``rounds`` times, so a burst
of load from other jobs hits all of them alike; each figure is the median over rounds,
and each speed-up (the baseline's time over the arrangement's, paired per round) too.
The records must agree: every arrangement's final test accuracies against the
baseline's (``max_abs_accuracy_diff``) and the number of models whose final test
loss differs by more than :data:`TOLERANCE` relative (``models_loss_differs``, per
round; the sharded runs' narrower matmuls round differently, :mod:`softjax.sweeps.grid`,
and the grid's four BCE models at lr 1 amplify that to O(1): ``benchmarks/README.md``,
"Sharded BCE at lr 1").
On a 2-core machine shared with other jobs the speed-ups read the machine as much as the
code: the block stores the load average beside them.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent


class Arrangement(NamedTuple):
    """How one launch runs ``sweep()``."""

    processes: int
    devices: int
    """CPU devices per process."""
    pinned: bool = False
    """Process i may run on core i only (``os.sched_setaffinity``)."""
    half_grid: bool = False
    """The grid's first half only (its first two init scales: 24 of the 48 models)."""


ARRANGEMENTS = {
    "1_process_1_core": Arrangement(1, 1, pinned=True),
    "1_process": Arrangement(1, 1),
    "1_process_2_devices": Arrangement(1, 2),
    "2_processes": Arrangement(2, 1, pinned=True),
    "1_process_1_core_half": Arrangement(1, 1, pinned=True, half_grid=True),
}
"""The launches, in the order of every round."""
BASELINE = "1_process_1_core"
"""The arrangement every speed-up is over (issue 35: 1 process on 1 core)."""
TOLERANCE = 1e-5
"""A model's final test loss agrees with ``1_process``'s when within this relative
difference (:mod:`softjax.sweeps.grid`'s float32 tolerance)."""

WORKER = textwrap.dedent(
    """
    import json, sys, time, warnings
    import jax

    port, n, i, spec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    if n > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}", num_processes=n, process_id=i,
            initialization_timeout=120,
        )
    import numpy as np
    from softjax import TrainConfig, load_dataset, sweep
    from softjax.inputs import Data

    rows, n_test = spec["rows"], spec["n_test"]
    try:
        ds = load_dataset("mnist", source="idx", data_dir=spec["data_dir"], validation=0)
        data = Data(ds.x_train[:rows], ds.y_train[:rows], ds.x_test[:n_test], ds.y_test[:n_test])
        source = "mnist"
    except (FileNotFoundError, ValueError):
        source = "synthetic (MNIST not found)"
        rng = np.random.default_rng(0)
        data = Data(
            (rng.integers(0, 256, (rows, 784)) / 255).astype(np.float32),
            rng.integers(0, 10, rows).astype(np.int32),
            (rng.integers(0, 256, (n_test, 784)) / 255).astype(np.float32),
            rng.integers(0, 10, n_test).astype(np.int32),
        )
    config = TrainConfig(**spec["config"])
    walls, cpus = [], []
    for _ in range(1 + spec["warm_calls"]):
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # divergent lrs
            records = sweep(config, data, **spec["grid"], progress=False)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    accuracy = [r["history"]["test_accuracy"][-1] for r in records]
    loss = [r["history"]["test_loss"][-1] for r in records]
    keys = [[r["loss"], r["lr"], r["init_scale"]] for r in records]
    out = dict(devices=len(jax.devices()), wall=walls, cpu=cpus, accuracy=accuracy, loss=loss)
    out["keys"] = keys
    out["data"] = source
    print("SCALING", json.dumps(out))
    """
)


def scaling_spec(sizes, data_dir: str) -> dict:
    """The workers' job for these sizes: seed 001's config for ``sizes.scaling``'s epochs on
    the first ``sizes.n_train`` rows (all of MNIST's where None), the 48-config grid."""
    from benchmarks.configs import (
        SWEEP_GRID,
        SWEEP_INIT_SCALES,
        SWEEP_LOSSES,
        SWEEP_LRS,
        single_config,
    )

    epochs, warm_calls, _ = sizes.scaling
    config = single_config(sizes)
    fields = ("init", "loss", "lr", "batch_size", "seed")
    return {
        "rows": sizes.n_train or 60_000,
        "n_test": sizes.n_test or 10_000,
        "data_dir": data_dir,
        "config": {f: getattr(config, f) for f in fields}
        | {"sizes": list(config.sizes), "epochs": epochs},
        "grid": dict(losses=SWEEP_LOSSES, lrs=SWEEP_LRS, init_scales=SWEEP_INIT_SCALES),
        "models": len(SWEEP_GRID),
        "warm_calls": warm_calls,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    processes: int, devices: int, spec: dict, cache: Path, timeout: float, pinned: bool = False
) -> list[dict]:
    """Runs the worker in ``processes`` processes of ``devices`` CPU devices each, JAX's
    compilation cache in ``cache``; each process's report. ``pinned``: process i may run on
    core i only (``os.sched_setaffinity`` before it starts), so it neither borrows another
    core nor shares its own."""
    cores = sorted(os.sched_getaffinity(0))
    if pinned and processes > len(cores):
        raise ValueError(f"processes: expected at most {len(cores)} to pin, got {processes}")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "SOFTJAX_COMPILATION_CACHE": str(cache)}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}" if devices > 1 else ""
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, port, str(processes), str(i), json.dumps(spec)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda core=cores[i]: os.sched_setaffinity(0, {core})) if pinned else None,
        )
        for i in range(processes)
    ]
    reports = []
    try:
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=timeout)
            if proc.returncode:
                raise RuntimeError(f"scaling worker {i} of {processes}: {err[-2000:]}")
            reports.append(json.loads(out.split("SCALING", 1)[1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return reports


def combine(reports: list[dict]) -> dict:
    """One launch's figures: per call, the slowest process's wall time and the summed
    CPU time; the first call is the cold one."""
    walls = [max(ts) for ts in zip(*(r["wall"] for r in reports), strict=True)]
    cpus = [sum(ts) for ts in zip(*(r["cpu"] for r in reports), strict=True)]
    warm_wall, warm_cpu = walls[1:] or walls, cpus[1:] or cpus
    return {
        "cold_wall_s": walls[0],
        "cold_cpu_s": cpus[0],
        "warm_wall_s": statistics.median(warm_wall),
        "warm_cpu_s": statistics.median(warm_cpu),
        "devices": reports[0]["devices"],
        "models": len(reports[0]["accuracy"]),
        "data": reports[0].get("data"),
        "accuracy": reports[0]["accuracy"],
        "loss": reports[0]["loss"],
        "keys": [tuple(k) for k in reports[0]["keys"]],
    }


def summarize(launches: dict[str, list[dict]]) -> dict:
    """Per arrangement: medians over rounds, the speed-ups over :data:`BASELINE` paired per
    round (its time over the arrangement's) and the records' agreement, model by model
    (matched on loss, lr and init scale: a half grid's against the same configs)."""
    base = launches[BASELINE]
    rows = {}
    for name, rounds in launches.items():
        row = {"rounds": rounds, "devices": rounds[0]["devices"]}
        row["models"] = len(rounds[0]["accuracy"])
        for field in ("cold_wall_s", "cold_cpu_s", "warm_wall_s", "warm_cpu_s"):
            row[field] = statistics.median(r[field] for r in rounds)
        for phase in ("cold", "warm"):
            row[f"{phase}_speedup"] = statistics.median(
                b[f"{phase}_wall_s"] / r[f"{phase}_wall_s"]
                for b, r in zip(base, rounds, strict=True)
            )
        pairs = []
        for r, one in zip(rounds, base, strict=True):
            same = {
                key: (b, lb)
                for key, b, lb in zip(one["keys"], one["accuracy"], one["loss"], strict=True)
            }
            for key, a, la in zip(r["keys"], r["accuracy"], r["loss"], strict=True):
                b, lb = same[key]
                pairs.append((a, b, la, lb))
        row["max_abs_accuracy_diff"] = max(abs(a - b) for a, b, _, _ in pairs)
        row["models_loss_differs"] = sum(
            not abs(la - lb) <= TOLERANCE * abs(lb) for _, _, la, lb in pairs
        ) / len(rounds)
        rows[name] = {k: v for k, v in row.items() if k != "rounds"} | {
            "rounds": [
                {k: v for k, v in r.items() if k not in ("accuracy", "loss", "keys")}
                for r in rounds
            ]
        }
    return rows


def run_scaling(spec: dict, rounds: int, bar=None, timeout: float = 1800) -> dict:
    """Every arrangement ``rounds`` times, round-robin (see the module doc)."""
    launches: dict[str, list[dict]] = {name: [] for name in ARRANGEMENTS}
    with tempfile.TemporaryDirectory(prefix="softjax-scaling-") as tmp:
        for r in range(rounds):
            for name, a in ARRANGEMENTS.items():
                cache = Path(tmp) / f"{name}-{r}"
                job = dict(spec)  # the half grid must not change the others
                if a.half_grid:
                    scales = spec["grid"]["init_scales"]
                    job["grid"] = spec["grid"] | {"init_scales": scales[: len(scales) // 2]}
                reports = launch(a.processes, a.devices, job, cache, timeout, a.pinned)
                launches[name].append(combine(reports))
            if bar is not None:
                bar.update(1)
    return {
        "description": "softjax.sweep() of the 48-config grid over 1 process, 1 process "
        "with 2 devices and 2 processes: cold (empty compilation cache) and warm (a rerun)",
        "spec": {k: v for k, v in spec.items() if k != "data_dir"},
        "data": launches[BASELINE][0]["data"],
        "arrangements": summarize(launches),
        "load": os.getloadavg(),
    }


def markdown(block: dict) -> list[str]:
    """The scaling table: per arrangement, cold and warm times and speed-ups."""
    spec = block["spec"]
    lines = [
        "",
        f"Scale-out: `sweep()` of the {spec['models']}-config grid, {spec['rows']:,} rows "
        f"({block.get('data') or 'mnist'}), "
        f"{spec['config']['epochs']} epoch(s); speed-up: `{BASELINE}`'s wall time over the "
        "arrangement's, paired per round. `_1_core`: pinned to one core; `2_processes`: "
        "pinned to a core each; in both multi-device arrangements each device runs its "
        "models as the one-device program (`softjax.sweeps.core.per_device`); `_half`: "
        "the first 24 models only, one process's share of a 2-process split (the best 2 "
        "processes can do while each pays a whole call's fixed costs).",
        "",
        "| arrangement | devices | models | cold wall (s) | warm wall (s) | warm CPU (s) "
        "| cold speed-up | warm speed-up | max Δ accuracy | models differing |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in block["arrangements"].items():
        models = row.get("models", spec["models"])
        lines.append(
            f"| {name} | {row['devices']} | {models} | {row['cold_wall_s']:.2f} "
            f"| {row['warm_wall_s']:.2f} "
            f"| {row['warm_cpu_s']:.2f} | {row['cold_speedup']:.2f} | {row['warm_speedup']:.2f} "
            f"| {row['max_abs_accuracy_diff']:.1e} | {row['models_loss_differs']:g} |"
        )
    return lines
