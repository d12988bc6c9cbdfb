"""The hardware floor: the best rate one core of this machine reaches on a case's shapes.

The XLA floor (:mod:`benchmarks.floors`) is XLA:CPU's own rate on a case's matmuls, and
XLA is not always the fastest library for them: on the single run's skinny
(64, 784) × (784, 10) products single-threaded OpenBLAS is about twice as fast (issue 35).
So every case also gets a *hardware floor*: its matmul FLOPs at the best rate measured
on this machine for the same shapes, on one core:

* ``numpy``: the case's matmuls, shape for shape, in numpy on one OpenBLAS thread
  (a child process started with ``OPENBLAS_NUM_THREADS=1``, so the setting is in force
  before OpenBLAS loads; the child reports its CPU over wall time as the proof), per step
  of B rows (the layer-1 forward ``X W₁`` and gradient ``Xᵀ G₁``, for deeper nets the
  per-model forward, weight and input gradients as stacked products) and for the test
  pass, each the least CPU time of 10 repeats;
* ``xla``: the XLA floor's own CPU time in the same run (where XLA is faster, e.g. at the
  sweep's (784, 480) shape, which it runs near the core's FMA peak).

The hardware floor is the smaller of the two times, so a system's ``cpu_x_hw`` (its CPU
time over it) is against a rate that was actually reached here. The child also measures
the core's FMA peak on a (1024, 1024) square product (``peak_gflops``), reported beside it.
It is CPU time: one core's work, compared with the CPU time of a system over all its
threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
BUDGET_GFLOP = 0.2  # FLOPs per timed repeat of a case's steps (at least 4 steps)


def _best(fn, repeats: int) -> tuple[float, float]:
    """``(least CPU seconds, that call's CPU over wall time)`` over ``repeats`` calls of
    ``fn``: CPU time, so that a call the scheduler paused for another job's sake is not
    slow for it (one thread: CPU over wall is ≤ 1, the check that BLAS used one)."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if cpu < best[0]:
            best = (cpu, cpu / wall)
    return best


def _operands(rng, shape):
    return rng.random(shape, np.float32) - np.float32(0.5)


def shape_rates(sizes, batch: int, models: int, n_test: int, repeats: int) -> dict:
    """numpy's best rates (GFLOP/s) for one step's matmuls and the test pass of ``models``
    nets of ``sizes`` sharing their input (the XLA floor's shapes), on this thread."""
    rng = np.random.default_rng(0)
    d = list(sizes)
    w1 = _operands(rng, (d[0], models * d[1]))
    later = [
        (_operands(rng, (models, i, o)), _operands(rng, (models, batch, i)))
        for i, o in zip(d[1:-1], d[2:], strict=True)
    ]
    step_flops = models * sum(2 * batch * i * o for i, o in zip(d[:-1], d[1:], strict=True))
    step_flops = 3 * step_flops - 2 * batch * d[0] * models * d[1]
    steps = max(4, int(BUDGET_GFLOP * 1e9 / step_flops))
    x = _operands(rng, (steps * batch, d[0]))
    g1 = _operands(rng, (batch, models * d[1]))
    z1 = np.empty((batch, models * d[1]), np.float32)
    dw1 = np.empty_like(w1)

    def run_steps():
        for s in range(steps):
            xb = x[s * batch : (s + 1) * batch]
            np.matmul(xb, w1, out=z1)
            for w, h in later:
                g = np.matmul(h, w)  # forward, then the two gradients of this layer
                np.matmul(h.transpose(0, 2, 1), g)
                np.matmul(g, w.transpose(0, 2, 1))
            np.matmul(xb.T, g1, out=dw1)

    rows = min(n_test, 2000)
    x_test = _operands(rng, (rows, d[0]))
    hidden = [_operands(rng, (models, rows, i)) for i in d[1:-1]]

    def run_test():
        x_test @ w1
        for (w, _), h in zip(later, hidden, strict=True):
            np.matmul(h, w)

    test_flops = models * sum(2 * rows * i * o for i, o in zip(d[:-1], d[1:], strict=True))
    step_s, step_threads = _best(run_steps, repeats)
    test_s, _ = _best(run_test, repeats)
    return {
        "step_gflops": steps * step_flops / step_s / 1e9,
        "test_gflops": test_flops / test_s / 1e9,
        "cpu_over_wall": step_threads,
        "steps_timed": steps,
    }


def peak_gflops(n: int = 1024, repeats: int = 3) -> float:
    """One thread's best rate on an (n, n) × (n, n) float32 product: the FMA peak."""
    rng = np.random.default_rng(0)
    a, b = _operands(rng, (n, n)), _operands(rng, (n, n))
    out = np.empty((n, n), np.float32)
    wall, _ = _best(lambda: np.matmul(a, b, out=out), repeats)
    return 2 * n**3 / wall / 1e9


def measure(spec: dict, repeats: int = 10) -> dict:
    """In a child process on one OpenBLAS thread: :func:`shape_rates` for ``spec``
    (``sizes``, ``batch``, ``models``, ``n_test``) and the FMA peak."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    cmd = [sys.executable, "-m", "benchmarks.hardware", json.dumps(spec), str(repeats)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def hardware_floor(ctx, xla_floor: dict, repeats: int = 10) -> dict:
    """A case's hardware floor (see the module doc): the numpy rates for its shapes, the
    time its FLOPs take at them (``numpy_s``), the XLA floor's CPU time (``xla_s``) and
    the smaller of the two (``cpu_s``, from ``source``)."""
    cfg = ctx.config
    n_train, n_test = len(ctx.data.x_train), len(ctx.data.x_test)
    spec = dict(sizes=list(cfg.sizes), batch=cfg.batch_size, models=ctx.models, n_test=n_test)
    rates = measure(spec, repeats)
    sizes = cfg.sizes
    per_row = 3 * sum(2 * i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    per_row -= 2 * sizes[0] * sizes[1]
    test = sum(2 * n_test * i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    scale = ctx.models * cfg.epochs
    numpy_s = scale * (n_train * per_row / rates["step_gflops"] + test / rates["test_gflops"])
    numpy_s /= 1e9
    xla_s = xla_floor["cpu_s"]
    source = "numpy" if numpy_s < xla_s else "xla"
    return rates | {
        "numpy_s": numpy_s,
        "xla_s": xla_s,
        "cpu_s": min(numpy_s, xla_s),
        "source": source,
        "gflops_per_s": ctx.flops / min(numpy_s, xla_s) / 1e9,
    }


if __name__ == "__main__":
    spec, reps = json.loads(sys.argv[1]), int(sys.argv[2])
    out = shape_rates(spec["sizes"], spec["batch"], spec["models"], spec["n_test"], reps)
    print(json.dumps(out | {"peak_gflops": peak_gflops(repeats=reps)}))
