"""The Glorot & Bengio study's analysis, as JSON-ready data: each replicate's reading of
the sigmoid net's top hidden layer (does it saturate at 0, and at which epoch does it
leave), the tanh net's most saturated layer, the paired sigmoid − tanh differences of
test accuracy with their four-way verdicts (Holm over the named family), and the budget
check (``softjax.sweeps.budget``) of each activation's mean validation curve.

Replicate i is init seed i and data-order seed i for both activations (the two nets have
the same shapes, so the same initial weights before the activation differs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from softjax.sweeps.budget import LONGER, SLOPE_WINDOW, slope, slows_or_stops, still_improving
from softjax.sweeps.inference import decide, paired_estimate

SATURATED_AT_ZERO, RECOVERED = 0.1, 0.2
"""The top sigmoid layer is "saturated at 0" at an epoch's end when its mean activation
(over the probe images and units) is below SATURATED_AT_ZERO; it "leaves saturation" at
the first later epoch whose mean is at least RECOVERED."""
TANH_ONSET = 0.05
"""A tanh layer's saturation "begins" at the first epoch its saturated share passes this."""
DELTA = 0.005
"""The equivalence margin of the paired comparisons: ±0.5 points of test accuracy."""
FAMILY = "sigmoid − tanh test accuracy"
"""The named family of paired comparisons Holm corrects: sigmoid − tanh at the search's
budget and at the end of training."""


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def top_layer_reading(top: Sequence[float]) -> dict[str, Any]:
    """One replicate's top-layer trajectory (its mean activation at init, then after each
    epoch): the minimum and its epoch, whether it is saturated at 0 there, and the first
    later epoch at which it has left saturation (None: not by the last epoch, or never
    saturated)."""
    top = np.asarray(top, dtype=float)
    low = int(np.argmin(top))
    saturated = bool(top[low] < SATURATED_AT_ZERO)
    later = np.nonzero(top[low:] >= RECOVERED)[0]
    first_saturated = np.nonzero(top < SATURATED_AT_ZERO)[0]
    return {
        "init": float(top[0]),
        "min": float(top[low]),
        "min_epoch": low,
        "final": float(top[-1]),
        "saturated": saturated,
        "saturated_epoch": int(first_saturated[0]) if saturated else None,
        "exit_epoch": int(low + later[0]) if saturated and later.size else None,
    }


def exit_summary(readings: Sequence[Mapping[str, Any]], epochs: int) -> dict[str, Any]:
    """Over replicates: how many saturate, how many leave saturation by ``epochs``, and
    the exit epochs' median, minimum and maximum (None where none left)."""
    exits = [r["exit_epoch"] for r in readings if r["exit_epoch"] is not None]
    return {
        "n": len(readings),
        "n_saturated": sum(r["saturated"] for r in readings),
        "n_left": len(exits),
        "n_still_saturated": sum(r["saturated"] and r["exit_epoch"] is None for r in readings),
        "exit_epochs": [r["exit_epoch"] for r in readings],
        "median": float(np.median(exits)) if exits else None,
        "min": min(exits) if exits else None,
        "max": max(exits) if exits else None,
        "epochs": epochs,
    }


def most_saturated_layers(saturated: Sequence) -> list[int]:
    """Per replicate, the 1-based layer with the largest saturated share at the end
    (``saturated``: (replicates, epochs + 1, layers))."""
    sat = np.asarray(saturated, dtype=float)
    return [int(np.argmax(s[-1])) + 1 for s in sat]


def onset_epochs(saturated_mean: np.ndarray) -> list[int | None]:
    """Per layer, the first epoch whose (replicate-mean) saturated share passes
    :data:`TANH_ONSET`; None: never."""
    out = []
    for layer in range(saturated_mean.shape[1]):
        above = np.nonzero(saturated_mean[:, layer] > TANH_ONSET)[0]
        out.append(int(above[0]) if above.size else None)
    return out


def test_at(history: Mapping[str, Sequence], epoch: int) -> list[float | None]:
    """Per replicate, the test accuracy after ``epoch`` (1-based); None where not finite."""
    rows = np.asarray(history["test_accuracy"], dtype=float)  # (replicates, epochs)
    return [float(v) if math.isfinite(v) else None for v in rows[:, epoch - 1]]


def paired(sigmoid: Sequence, tanh: Sequence) -> dict[str, Any] | None:
    """The replicates finite in both arms and their differences; None for fewer than 2."""
    keep = [
        i for i, (a, b) in enumerate(zip(sigmoid, tanh, strict=True)) if _finite(a) and _finite(b)
    ]
    if len(keep) < 2:
        return None
    return {"replicates": keep, "a": [sigmoid[i] for i in keep], "b": [tanh[i] for i in keep]}


def comparisons(runs: Mapping[str, Mapping], search_epochs: int, delta: float = DELTA) -> list:
    """The family :data:`FAMILY`: sigmoid − tanh test accuracy after ``search_epochs``
    (the budget the lrs were chosen at) and after the last epoch, paired by replicate,
    Holm-corrected together. Each a Verdict dict plus its per-replicate values; empty
    when an activation is missing or fewer than two replicates are finite in both."""
    if not {"sigmoid", "tanh"} <= set(runs):
        return []
    epochs = len(np.asarray(runs["sigmoid"]["history"]["test_accuracy"])[0])
    points = {f"after epoch {search_epochs} (search budget)": search_epochs}
    points[f"after epoch {epochs} (end)"] = epochs
    estimates, values = {}, {}
    for label, epoch in points.items():
        if epoch > epochs:
            continue
        got = paired(*(test_at(runs[a]["history"], epoch) for a in ("sigmoid", "tanh")))
        if got is None:
            continue
        name = f"sigmoid − tanh {label}"
        estimates[name] = paired_estimate(got["a"], got["b"])
        values[name] = got
    if not estimates:
        return []
    verdicts = decide(estimates, family=FAMILY, delta=delta)
    return [v.as_dict() | {"values": values[v.comparison]} for v in verdicts]


def budget(history: Mapping[str, Sequence], short: int) -> dict[str, Any] | None:
    """The mean validation curve's budget reading against the search's budget ``short``:
    ``slows_or_stops`` where the run is at least LONGER × ``short`` epochs (and ``short``
    spans the slope window), else ``{"still_improving", "slope", "epochs"}`` at its end;
    None for a curve shorter than the window or with a value that is not finite."""
    curve = np.nanmean(np.asarray(history["val_accuracy"], dtype=float), axis=0)
    if len(curve) < SLOPE_WINDOW or not np.all(np.isfinite(curve)):
        return None
    if short >= SLOPE_WINDOW and len(curve) >= LONGER * short:
        return slows_or_stops(curve.tolist(), short).as_dict()
    return {
        "still_improving": still_improving(curve.tolist()),
        "slope": slope(curve.tolist()),
        "epochs": len(curve),
    }


def analyse(runs: Mapping[str, Mapping], search_epochs: int, delta: float = DELTA) -> dict:
    """Every number the verdicts rest on, per activation and across them."""
    out: dict[str, Any] = {"delta": delta, "family": FAMILY, "activations": {}}
    for name, run in runs.items():
        entry: dict[str, Any] = {"budget": budget(run["history"], search_epochs)}
        mean = np.asarray(run["stats"]["mean"], dtype=float)  # (replicates, epochs + 1, L)
        if name == "sigmoid":
            readings = [top_layer_reading(m[:, -1]) for m in mean]
            entry["top_layer"] = readings
            entry["exit"] = exit_summary(readings, mean.shape[1] - 1)
        if name == "tanh":
            sat = np.asarray(run["stats"]["saturated"], dtype=float)
            entry["most_saturated_layer"] = most_saturated_layers(sat)
            entry["onset_epochs"] = onset_epochs(sat.mean(axis=0))
        out["activations"][name] = entry
    out["comparisons"] = comparisons(runs, search_epochs, delta)
    return out
