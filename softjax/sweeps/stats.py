"""Statistics of a sweep's records: per-cell means with 95% intervals, and hyperparameter
selection on the validation split.

A cell is one (loss, init scale, lr) point of the grid; its runs are the distinct (init
seed, data seed) records in it. Diverged runs are counted (``n_diverged``) and left out
of the statistics, since their histories stop early. For every history key the records
carry, a cell holds per-epoch lists over its ``n_finite`` finite runs (of per-layer lists
for the per-layer keys, ``softjax.hidden.LAYER_KEYS``: the statistics are per layer):

* ``mean``; ``std``, the sample standard deviation (``ddof=1``; None for one run);
* ``ci95``, the half-width of the 95% Student-t interval of the mean,
  ``t_{0.975, n−1} · std / √n`` (None for fewer than two runs).

:func:`select_best` chooses each (loss, init scale)'s lr by final *validation* accuracy
and reports test metrics only for that lr, the way an unbiased test number is read off a
sweep (Hastie et al., *The Elements of Statistical Learning*, §7.2: the test set is kept
out of every choice). The runs are seeds of one config, so the interval is over init and
data-order randomness, not over datasets.

Comparisons between arms are made on paired replicates by :mod:`softjax.sweeps.inference`
(paired difference, TOST, Holm, pooled effects) and :mod:`softjax.sweeps.factorial`
(2 × 2 factorial), whose names this module exposes too; :func:`paired_values` reads one
metric's matched replicates out of records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from softjax.sweeps.factorial import factorial_2x2, factorial_contrasts
from softjax.sweeps.inference import (
    ALPHA,
    VERDICTS,
    Estimate,
    Verdict,
    decide,
    family_line,
    holm,
    mean_difference,
    paired_estimate,
    pooled,
    replicates_needed,
    sign_test,
)
from softjax.sweeps.storage import select_grid

# The inference names are this module's API too: a sweep's analysis in one place.
# fmt: off
__all__ = [
    "ALPHA", "VERDICTS", "Estimate", "Verdict", "decide", "factorial_2x2", "factorial_contrasts",
    "family_line", "holm", "mean_difference", "paired_estimate", "pooled", "replicates_needed",
    "sign_test", "STUCK_MARGIN", "best_of", "cell", "collapse_scales", "loss_id",
    "paired_difference", "paired_values", "paired_verdicts", "select_best", "summarize",
    "t_quantile_975", "wilson_interval",
]
# fmt: on


# t_{0.975, df} for df = 1…30 (two-sided 95%), to 4 decimals (any t table; e.g. NIST/
# SEMATECH e-Handbook 1.3.6.7.2). Beyond 30 the Cornish–Fisher expansion below is within
# 1e-4 of the exact quantile.
# fmt: off
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)
# fmt: on
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` ≥ 1 degrees of freedom.

    A table for df ≤ 30; above, the Cornish–Fisher expansion in 1/df (Abramowitz &
    Stegun 26.7.5) to third order, within 1e-4 of the exact value and tending to the
    normal 1.96.
    """
    if df < 1:
        raise ValueError(f"df: expected an int ≥ 1, got {df!r}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


STUCK_MARGIN = 0.05
"""A finite run is *stuck near chance* when its final train accuracy is at most
1/K + 0.05 (K classes: 15% for ten): it never left the chance level in the whole run."""


def wilson_interval(k: int, n: int) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion k/n (Wilson 1927; Agresti & Coull
    1998 recommend it over the normal interval for small n and proportions near 0 or 1).
    None for n = 0."""
    if n == 0:
        return None
    z = _Z975
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _stuck(run) -> bool:
    acc = run["history"].get("train_accuracy") or [None]
    sizes = (run.get("config") or {}).get("sizes") or [None, 10]
    k = sizes[-1] if sizes[-1] and sizes[-1] > 1 else 2
    return acc[-1] is not None and acc[-1] <= 1 / k + STUCK_MARGIN


def loss_id(value) -> str:
    """A hashable id of a loss spec (a name, or ``[name, {kwargs}]``)."""
    return json.dumps(getattr(value, "spec", value), sort_keys=True)


def _moments(values: np.ndarray) -> tuple[list, list | None, list | None]:
    n = len(values)
    mean = values.mean(axis=0)
    if n < 2:
        return mean.tolist(), None, None
    std = values.std(axis=0, ddof=1)
    return mean.tolist(), std.tolist(), (t_quantile_975(n - 1) * std / math.sqrt(n)).tolist()


def summarize(
    records: Sequence[dict[str, Any]], grid: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Per-cell statistics over seeds (see the module docstring).

    ``grid`` (the sweep's axes, optionally ``base_config`` and ``data``) keeps only the
    records of that grid (:func:`~softjax.sweeps.storage.select_grid`): a file appended to
    by several grids holds all their lines, and mixing them would average other configs.

    Returns:
      ``{"cells": [...], "n_runs", "n_diverged", "diverged": [...]}``, JSON-ready;
      ``diverged`` lists each diverged run's loss, init scale, lr, seeds and epoch.

    Raises:
      ValueError: when a cell's finite runs have histories of different lengths (runs
        with different epochs mixed in one cell), naming the cell.
    """
    if grid is not None:
        records = select_grid(records, grid)
    groups: dict[tuple, dict[Any, dict[str, Any]]] = {}
    for r in records:
        cell_key = (loss_id(r.get("loss_spec", r["loss"])), r["init_scale"], r["lr"])
        run_key = r.get("key") or (r.get("seed"), r.get("data_seed"))
        groups.setdefault(cell_key, {}).setdefault(run_key, r)  # distinct runs only
    cells, diverged = [], []
    for (_, scale, lr), by_run in groups.items():
        runs = list(by_run.values())
        finite = [r for r in runs if not r["diverged"]]
        loss = runs[0]["loss"]
        cell = {
            "loss": loss,
            "loss_spec": runs[0].get("loss_spec", loss),
            "init_scale": scale,
            "lr": lr,
            "n": len(runs),
            "n_finite": len(finite),
            "n_diverged": len(runs) - len(finite),
            "mean": {},
            "std": {},
            "ci95": {},
        }
        keys = list(dict.fromkeys(k for r in runs for k in r["history"]))
        for key in keys:
            cell["mean"][key] = cell["std"][key] = cell["ci95"][key] = None
            if finite:
                lengths = sorted({len(r["history"].get(key, ())) for r in finite})
                if len(lengths) > 1:
                    raise ValueError(
                        f"records: cell loss={loss} init_scale={scale} lr={lr} mixes "
                        f"histories of lengths {lengths} in {key!r}; expected one length "
                        "(records of different grids? pass grid= to keep one)"
                    )
                values = np.array([r["history"][key] for r in finite], dtype=float)
                cell["mean"][key], cell["std"][key], cell["ci95"][key] = _moments(values)
        for split in ("val", "test"):
            cell[f"final_{split}_accuracy"] = _final(cell, f"{split}_accuracy", "mean")
            cell[f"final_{split}_accuracy_std"] = _final(cell, f"{split}_accuracy", "std")
            cell[f"final_{split}_accuracy_ci95"] = _final(cell, f"{split}_accuracy", "ci95")
        cell["n_stuck"] = sum(_stuck(r) for r in finite)
        cell["stuck_fraction"] = cell["n_stuck"] / len(finite) if finite else None
        cell["stuck_ci95"] = wilson_interval(cell["n_stuck"], len(finite))
        cells.append(cell)
        diverged += [
            {k: r.get(k) for k in ("loss", "init_scale", "lr", "seed", "data_seed")}
            | {"epoch": r.get("diverged_epoch")}
            for r in runs
            if r["diverged"]
        ]
    return {
        "cells": cells,
        "n_runs": sum(c["n"] for c in cells),
        "n_diverged": len(diverged),
        "diverged": diverged,
    }


def _final(cell, key, stat):
    values = cell[stat].get(key)
    return values[-1] if values else None


def select_best(
    summary: dict[str, Any], metric: str = "val_accuracy", lrs: Sequence[float] | None = None
) -> list[dict[str, Any]]:
    """Each (loss, init scale)'s lr, chosen by the mean final ``metric`` on validation.

    Only cells none of whose runs diverged compete (a diverged seed makes an lr unsafe).
    Test metrics are read only for the chosen lr. ``edge`` is ``"low"``/``"high"`` when
    the chosen lr is the smallest/largest of the lrs (``lrs``, default: the lrs of that
    loss and scale's cells; a single lr counts as ``"low"``): a wider grid could move it.

    Returns:
      One dict per (loss, init scale) in first-seen order: ``loss``, ``loss_spec``,
      ``init_scale``, ``lr`` (None when every lr diverged), ``edge``, ``metric``,
      ``final_val_accuracy`` (+ ``_std``, ``_ci95``), ``final_test_accuracy``
      (+ ``_std``, ``_ci95``), ``n_finite``, ``n`` and the chosen cell's ``n_stuck``,
      ``stuck_fraction`` and ``stuck_ci95`` (see :data:`STUCK_MARGIN`).

    Raises:
      ValueError: when ``metric`` is not a validation metric, or no cell carries it
        (records of data without a validation split); selection never falls back to
        the test set.
    """
    if not metric.startswith("val_"):
        raise ValueError(
            f"metric: expected a validation metric ('val_…'), got {metric!r}; choosing on "
            "test metrics would bias the reported test numbers"
        )
    cells = summary["cells"]
    if not any(metric in c["mean"] for c in cells):
        raise ValueError(
            f"records: no {metric!r} in any history; selection needs runs on data with a "
            "validation split (load_dataset(..., validation=N) or 6 arrays "
            "(x_train, y_train, x_val, y_val, x_test, y_test)); it never uses test metrics"
        )
    best = []
    for lid, scale in dict.fromkeys((loss_id(c["loss_spec"]), c["init_scale"]) for c in cells):
        mine = [c for c in cells if loss_id(c["loss_spec"]) == lid and c["init_scale"] == scale]
        ok = [c for c in mine if c["n_diverged"] == 0 and _final(c, metric, "mean") is not None]
        top = max(ok, key=lambda c: _final(c, metric, "mean"), default=None)
        grid_lrs = sorted(lrs if lrs is not None else {c["lr"] for c in mine})
        edge = None
        if top is not None and top["lr"] in (grid_lrs[0], grid_lrs[-1]):
            edge = "low" if top["lr"] == grid_lrs[0] else "high"
        entry = {
            "loss": mine[0]["loss"],
            "loss_spec": mine[0]["loss_spec"],
            "init_scale": scale,
            "lr": top and top["lr"],
            "edge": edge,
            "metric": metric,
            "n_finite": top and top["n_finite"],
            "n": top and top["n"],
        }
        for key in ("n_stuck", "stuck_fraction", "stuck_ci95"):
            entry[key] = None if top is None else top.get(key)
        for split in ("val", "test"):
            for suffix in ("", "_std", "_ci95"):
                name = f"final_{split}_accuracy{suffix}"
                entry[name] = None if top is None else top[name]
        best.append(entry)
    return best


def _is(entry: dict[str, Any], loss, init_scale, *lr) -> bool:
    """Whether a cell, entry or record is of ``loss`` (a name or spec), ``init_scale`` and
    (when given, None included) ``lr``."""
    lid = loss_id(loss)
    return (
        lid in (loss_id(entry.get("loss_spec", entry["loss"])), loss_id(entry["loss"]))
        and entry["init_scale"] == init_scale
        and all(entry["lr"] == x for x in lr)
    )


def cell(summary: dict[str, Any], loss, init_scale, lr) -> dict[str, Any] | None:
    """The cell of ``loss`` (a name or spec), ``init_scale`` and ``lr``, or None."""
    return next((c for c in summary["cells"] if _is(c, loss, init_scale, lr)), None)


def best_of(best: Sequence[dict[str, Any]], loss, init_scale) -> dict[str, Any] | None:
    """The :func:`select_best` entry of ``loss`` (a name or spec) and ``init_scale``."""
    return next((b for b in best if _is(b, loss, init_scale)), None)


def _runs(records, sel: dict[str, Any], key: str) -> dict[tuple, list]:
    """``history[key]`` of the finite runs of ``sel``'s cell, keyed by (seed, data seed)."""
    return {
        (r["seed"], r["data_seed"]): r["history"][key]
        for r in records
        if _is(r, sel["loss"], sel["init_scale"], sel["lr"])
        and not r["diverged"]
        and key in r["history"]
    }


def paired_difference(records, a: dict[str, Any], b: dict[str, Any], key: str) -> dict | None:
    """Per-epoch mean and 95% t-interval of ``history[key]`` of ``a`` minus ``b`` over runs
    matched by (init seed, data seed).

    ``a``, ``b``: ``{"loss": spec, "init_scale": s, "lr": lr}``. Pairing removes the
    randomness the two configs share (same init draw, same minibatch order), so the
    interval is the one for the *difference*, narrower than two separate intervals.
    Diverged runs and unmatched seeds are left out; None when fewer than two pairs remain.
    """
    ra, rb = _runs(records, a, key), _runs(records, b, key)
    pairs = sorted(set(ra) & set(rb))
    if len(pairs) < 2:
        return None
    diff = np.array([ra[p] for p in pairs], float) - np.array([rb[p] for p in pairs], float)
    mean, _, ci95 = _moments(diff)
    return {"key": key, "n": len(pairs), "mean": mean, "ci95": ci95}


def paired_values(
    records, a: dict[str, Any], b: dict[str, Any], key: str = "test_accuracy", epoch: int = -1
) -> tuple[list[tuple], list[float], list[float]]:
    """``(replicates, a_values, b_values)``: ``history[key][epoch]`` of ``a`` and ``b``
    (selectors as in :func:`paired_difference`) on the (seed, data seed) pairs both have
    finite runs of, for :func:`~softjax.sweeps.inference.paired_estimate`. The caller
    sees in ``replicates`` which pairs remain (diverged runs have no value)."""
    ra, rb = _runs(records, a, key), _runs(records, b, key)
    pairs = sorted(set(ra) & set(rb))
    return pairs, [float(ra[p][epoch]) for p in pairs], [float(rb[p][epoch]) for p in pairs]


def paired_verdicts(
    records,
    comparisons: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    *,
    family: str,
    delta: float,
    key: str = "test_accuracy",
    epoch: int = -1,
    alpha: float = ALPHA,
) -> list[Verdict]:
    """One named family's :class:`~softjax.sweeps.inference.Verdict` list from records:
    each label's ``(a, b)`` selectors give ``a − b`` paired by replicate
    (:func:`paired_values`; a verdict's ``n`` counts the pairs with both runs finite),
    decided with Holm over the family (:func:`~softjax.sweeps.inference.decide`).

    Raises:
      ValueError: naming the comparison when fewer than two pairs remain.
    """
    estimates = {}
    for label, (a, b) in comparisons.items():
        pairs, va, vb = paired_values(records, a, b, key, epoch)
        if len(pairs) < 2:
            raise ValueError(
                f"comparisons[{label!r}]: expected ≥ 2 replicates finite in both arms, got "
                f"{len(pairs)}"
            )
        estimates[label] = paired_estimate(va, vb)
    return decide(estimates, family=family, delta=delta, alpha=alpha)


def collapse_scales(best: Sequence[dict[str, Any]], scales: Sequence[float]) -> list[list[float]]:
    """Init scales grouped where no loss's chosen result differs: consecutive scales join
    the group of the first one while every loss's final test accuracy interval there
    overlaps the interval at the group's first scale (and the chosen lr's edge flag and
    divergence agree). Figures draw one panel per group instead of near-duplicates."""

    def same(s, t):
        for b in best:
            if b["init_scale"] != s:
                continue
            o = best_of(best, b["loss_spec"], t)
            if o is None or (b["lr"] is None) != (o["lr"] is None):
                return False
            if b["lr"] is None:
                continue
            ha, hb = b["final_test_accuracy_ci95"], o["final_test_accuracy_ci95"]
            if ha is None or hb is None:
                return False
            if abs(b["final_test_accuracy"] - o["final_test_accuracy"]) > ha + hb:
                return False
        return True

    groups: list[list[float]] = []
    for s in sorted(scales):
        if groups and same(groups[-1][0], s):
            groups[-1].append(s)
        else:
            groups.append([s])
    return groups
