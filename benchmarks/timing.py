"""The generic runner: interleaved rounds, wall and CPU time, medians, peak RSS.

A *system* is a zero-argument callable that does one run of a case's work and blocks
until it is done (``jax.block_until_ready``); it may return the run's final test
accuracy, which the runner keeps as a check that the systems did the same work.

* :func:`interleaved` times every system of a case round-robin (A, B, C, A, B, C, …),
  so a burst of load from other jobs hits all of them alike, each call measured in wall
  time (``time.perf_counter``) and in this process's CPU time over all its threads
  (``time.process_time``): a BLAS that spreads one matmul over two cores shows it there.
* :func:`summarize` takes the median over rounds, and every ratio as the median over
  rounds of the per-round ratio (paired by round).
* :func:`reset_peak_rss` / :func:`peak_rss`: the kernel's high-water mark of the resident
  set, reset after setup so that it measures the run alone.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

CLOCKS = ("wall", "cpu")


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """``(fn(), wall seconds, CPU seconds of this process over all threads)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def interleaved(
    systems: Mapping[str, Callable[[], object]],
    repeats: int,
    *,
    warmup: bool | Collection[str] = True,
    bar=None,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, object]]:
    """Times each system ``repeats`` times, round-robin.

    Args:
      systems: name -> a call that does the work and blocks until it is done.
      repeats: rounds.
      warmup: call each system (True) or the named ones once, untimed, first: this is
        where a jitted system compiles. Not for compile timings, which must miss every
        cache, nor for systems that compile on every call anyway.
      bar: a tqdm bar advanced once per round, or None.

    Returns:
      ``({name: {"wall": [s per round], "cpu": [s per round]}}, {name: last return})``.
    """
    warm = systems if warmup is True else (warmup or ())
    for name in warm:
        systems[name]()
    times = {name: {clock: [] for clock in CLOCKS} for name in systems}
    last: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in systems.items():
            last[name], wall, cpu = timed(fn)
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
        if bar is not None:
            bar.update(1)
    return times, last


def paired_median(xs: list[float], ys: list[float]) -> float:
    """The median over rounds of ``x / y`` in the same round."""
    return statistics.median(x / y for x, y in zip(xs, ys, strict=True))


def summarize(
    times: Mapping[str, Mapping[str, list[float]]],
    reference: str | None = None,
    scale: Mapping[str, float] | None = None,
) -> dict[str, dict]:
    """Medians per system and clock; with ``reference``, the paired ratio to it.

    ``scale[name]`` multiplies a system's times first (a system that measures a part of
    the work, e.g. 3 of 48 sequential runs, scaled up to the whole).
    """
    scale = scale or {}
    scaled = {
        name: {c: [t * scale.get(name, 1.0) for t in ts] for c, ts in per.items()}
        for name, per in times.items()
    }
    out = {}
    for name, per in scaled.items():
        row: dict = {}
        for clock, ts in per.items():
            row[f"{clock}_s"] = statistics.median(ts)
            row[f"{clock}_rounds"] = ts
            if reference is not None and reference in scaled:
                row[f"{clock}_vs_{reference}"] = paired_median(ts, scaled[reference][clock])
        if name in scale:
            row["scaled_by"] = scale[name]
        out[name] = row
    return out


# --------------------------------------------------------------------------- peak RSS


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _maxrss_mib() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def reset_peak_rss() -> float:
    """Resets the kernel's peak-RSS mark to the current RSS and returns it (MiB).

    Loading MNIST briefly holds the decoded and the converted copies, so the process's
    high-water mark is already above what training will use; Linux ≥ 4.0 lets a process
    reset its ``VmHWM`` by writing 5 to ``/proc/self/clear_refs``. Elsewhere this falls
    back to ``ru_maxrss``, which cannot be reset (the increase may then read 0).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mib("VmRSS")
    except OSError:
        return _maxrss_mib()


def peak_rss() -> float:
    """The resident set's high-water mark (MiB) since the last :func:`reset_peak_rss`."""
    hwm = _status_mib("VmHWM")
    return hwm if hwm is not None else _maxrss_mib()
