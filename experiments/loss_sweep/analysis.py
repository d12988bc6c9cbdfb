"""The loss study's analysis as JSON-ready data: per-run measures, each loss vs CCE as
paired differences with four-way verdicts (Holm over a named family), the budget check,
and the MLP overview's effect pooled across models.

Replicate i is init seed i and data-order seed i in every arm, so a loss and CCE at the
same init scale pair by replicate: the statistic is the paired difference of test
accuracy (each at its own lr chosen on validation), with its 95% t-interval
(:func:`softjax.sweeps.inference.decide`: higher / lower / equivalent within ±δ by
TOST / inconclusive). A replicate diverged in either arm has no test accuracy and is left
out of that pair (the seeds left out are stored).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from experiments._common.verdicts import AGREE, DIFFER, INCONCLUSIVE, Judgement
from softjax.sweeps.budget import (
    LONGER,
    MIN_GAIN,
    SLOPE_THRESHOLD,
    SLOPE_WINDOW,
    slows_or_stops,
    still_improving,
)
from softjax.sweeps.inference import decide, mean_difference, pooled, sign_test
from softjax.sweeps.stats import STUCK_MARGIN

REFERENCE = "cce"
DELTA = 0.005
"""The equivalence margin: ±0.5 points of test accuracy."""
DIAGNOSTICS = (
    "logits_grad_norm",
    "logits_grad_norm_wrong",
    "saturated_wrong",
    "grad_cos_ce",
    "hidden_fprime",
    "hidden_saturated",
)
"""Kept per run at epoch 1 and at the last epoch (softjax's diagnostics)."""
BUDGET_RULE = {
    "window": SLOPE_WINDOW,
    "threshold": SLOPE_THRESHOLD,
    "longer": LONGER,
    "min_gain": MIN_GAIN,
    "rule": "an init scale at which any loss's mean validation accuracy (at its chosen lr, "
    f"on the search's replicates) rose faster than {SLOPE_THRESHOLD:g} per epoch over its "
    f"last {SLOPE_WINDOW} epochs trains every loss {LONGER}× as long; its fixed budget is "
    "read at the short budget's last epoch of the same runs; a loss 'slows' when the long "
    f"budget gains ≥ {MIN_GAIN:g} or is still improving at its end, else 'stops'",
}


def _finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def at(curve, epoch: int):
    """The value at 1-based ``epoch`` of ``curve`` (None when absent or not finite;
    per-layer vectors are kept as lists of rounded values)."""
    if not curve or not 1 <= epoch <= len(curve):
        return None
    v = curve[epoch - 1]
    if isinstance(v, list):
        return [float(f"{x:.6g}") if _finite(x) else None for x in v]
    return float(f"{v:.6g}") if _finite(v) else None


def run_measures(record: Mapping[str, Any], short: int, classes: int) -> dict[str, Any]:
    """One run's per-seed values: validation and test accuracy after ``short`` epochs
    and after its last, final train accuracy, ``stuck`` (finite, final train accuracy ≤
    1/K + margin), :data:`DIAGNOSTICS` at epoch 1 and at the last epoch."""
    h = record["history"]
    val = h.get("val_accuracy") or []
    last = len(val)
    out = {k: record[k] for k in ("loss", "init_scale", "lr", "seed", "diverged")}
    out |= {
        "epochs_run": last,
        "val_short": at(val, short),
        "test_short": at(h.get("test_accuracy"), short),
        "val_last": at(val, last),
        "test_last": at(h.get("test_accuracy"), last),
        "train_last": at(h.get("train_accuracy"), last),
        "val_curve": [at(val, e) for e in range(1, last + 1)],
    }
    if record["diverged"]:
        out["test_short"] = out["test_last"] = None
    train = out["train_last"]
    out["stuck"] = bool(
        not record["diverged"] and _finite(train) and train <= 1 / classes + STUCK_MARGIN
    )
    for key in DIAGNOSTICS:
        if key in h:
            out[f"{key}@1"] = at(h[key], 1)
            out[f"{key}@last"] = at(h[key], last)
    return out


def pairs(
    runs: Sequence[Mapping[str, Any]],
    loss: str,
    scale: float,
    metric: str,
    reference: str = REFERENCE,
) -> dict[str, Any]:
    """``loss`` − ``reference`` on ``metric`` per replicate at ``scale``: the seeds both
    have finite (in seed order), the differences, and the seeds left out."""

    def values(name):
        return {
            r["seed"]: r.get(metric) for r in runs if r["loss"] == name and r["init_scale"] == scale
        }

    a, b = values(loss), values(reference)
    seeds = sorted(set(a) & set(b))
    keep = [s for s in seeds if _finite(a[s]) and _finite(b[s])]
    return {
        "seeds": keep,
        "differences": [a[s] - b[s] for s in keep],
        "dropped": [s for s in seeds if s not in keep],
    }


def comparisons(
    runs, losses, scales, metric: str, family: str, delta: float = DELTA, reference: str = REFERENCE
) -> list[dict[str, Any]]:
    """Every loss vs ``reference`` at every init scale of ``scales`` on ``metric``: one
    family (Holm over all of them). Each entry: the verdict's fields
    (:class:`softjax.sweeps.inference.Verdict`), ``loss``, ``init_scale``, and the
    per-replicate ``differences`` with their ``seeds`` and the seeds ``dropped``.
    Pairs with fewer than two replicates are kept with ``verdict`` None."""
    estimates, info = {}, {}
    for scale in scales:
        for loss in losses:
            if loss == reference:
                continue
            p = pairs(runs, loss, scale, metric, reference)
            name = f"{loss} − {reference}, init {scale:g}"
            info[name] = {"loss": loss, "init_scale": scale, **p}
            if len(p["seeds"]) >= 2:
                estimates[name] = mean_difference(p["differences"])
    verdicts = {}
    if estimates:
        verdicts = {
            v.comparison: v.as_dict() for v in decide(estimates, family=family, delta=delta)
        }
    return [
        {**(verdicts.get(name) or {"comparison": name, "verdict": None}), **extra}
        for name, extra in info.items()
    ]


def improving(curves: Mapping[Any, Sequence[float]]) -> list:
    """The arms (keys) whose mean validation curve is still improving at its end
    (:func:`softjax.sweeps.budget.still_improving`); a curve shorter than the window or
    not finite is not."""
    return [
        arm
        for arm, c in curves.items()
        if len(c) >= SLOPE_WINDOW and all(_finite(v) for v in c) and still_improving(c)
    ]


def budget_verdicts(runs, short: int) -> list[dict[str, Any]]:
    """Per (loss, init scale) trained longer: slows or stops
    (:func:`softjax.sweeps.budget.slows_or_stops`) on the mean validation curve over its
    finite replicates."""
    out = []
    arms = sorted({(r["loss"], r["init_scale"]) for r in runs if r.get("budget") == "long"})
    for loss, scale in arms:
        curves = [
            r["val_curve"]
            for r in runs
            if (r["loss"], r["init_scale"]) == (loss, scale) and not r["diverged"]
        ]
        curves = [c for c in curves if c and all(_finite(v) for v in c)]
        if not curves or short < SLOPE_WINDOW or len(curves[0]) < LONGER * short:
            continue
        mean = [sum(v) / len(v) for v in zip(*curves, strict=True)]
        v = slows_or_stops(mean, short)
        out.append({"loss": loss, "init_scale": scale, "n": len(curves), **v.as_dict()})
    return out


def analyse(runs, losses, scales, short: int, label: str, delta: float = DELTA) -> dict:
    """One model's verdicts as data: ``"short"``, every loss vs CCE at the fixed budget
    (family: this model's loss-vs-CCE comparisons at every init scale); ``"long"``, the
    same at the long budget over the init scales that ran longer (its own family);
    ``"budget"``, slows or stops per loss there; ``"judgements"``, the study's claim at
    each large init scale (:func:`judgements`)."""
    long_scales = sorted({r["init_scale"] for r in runs if r.get("budget") == "long"})
    long_runs = [r for r in runs if r.get("budget") == "long"]
    fixed = comparisons(runs, losses, scales, "test_short", f"{label}, fixed budget", delta)
    long = []
    if long_runs:
        fam = f"{label}, long budget"
        long = comparisons(long_runs, losses, long_scales, "test_last", fam, delta)
    return {
        "delta": delta,
        "short": fixed,
        "long": long,
        "budget": budget_verdicts(runs, short),
        "judgements": judgements(fixed, label),
    }


def pooled_effects(
    docs: Sequence[Mapping[str, Any]], label: str, delta: float = DELTA, reference: str = REFERENCE
) -> list[dict[str, Any]]:
    """Across models (``docs``: each model's results with ``"runs"`` and ``"grid"``),
    each (loss, init scale)'s paired difference of fixed-budget test accuracy pooled
    over the models (:func:`softjax.sweeps.inference.pooled`, random effects: a
    t-interval over the per-model means), one family (Holm) over all (loss, init scale)
    pairs; with the per-model means, the sign count and its sign-test p."""
    losses = [x for x in docs[0]["grid"]["losses"] if x != reference]
    scales = docs[0]["grid"]["init_scales"]
    estimates, info = {}, {}
    for scale in scales:
        for loss in losses:
            by_model = {}
            for d in docs:
                p = pairs(d["runs"], loss, scale, "test_short", reference)
                if p["seeds"]:
                    by_model[f"{d['grid']['dataset']}/{d['grid']['model']}"] = p["differences"]
            name = f"{loss} − {reference}, init {scale:g}"
            means = {m: sum(v) / len(v) for m, v in by_model.items()}
            info[name] = {
                "loss": loss,
                "init_scale": scale,
                "per_model": means,
                "negative": sum(v < 0 for v in means.values()),
                "positive": sum(v > 0 for v in means.values()),
                "settings": len(means),
                "sign_p": sign_test(list(means.values())) if means else None,
            }
            if len(by_model) >= 2:
                estimates[name] = pooled(by_model)
    verdicts = {}
    if estimates:
        verdicts = {v.comparison: v.as_dict() for v in decide(estimates, family=label, delta=delta)}
    return [
        {**(verdicts.get(name) or {"comparison": name, "verdict": None}), **extra}
        for name, extra in info.items()
    ]


CLAIM = "mse_below_cce_at_large_init"
"""The study's claim: MSE on the softmax ends below CCE from a large init (scale ≥
:data:`LARGE`), each at its own lr chosen on validation."""
LARGE = 10.0


def judgements(entries: Sequence[Mapping[str, Any]], setting: str) -> list[dict[str, Any]]:
    """The claim (:data:`CLAIM`) judged at each large init scale from the stored paired
    verdicts of mse − cce (``entries``: :func:`comparisons`' output): ``agree`` when the
    verdict is lower, ``differ`` when higher or equivalent, ``inconclusive`` otherwise;
    as :class:`experiments._common.verdicts.Judgement` dicts."""
    out = []
    for e in entries:
        if e["loss"] != "mse" or e["init_scale"] < LARGE:
            continue
        v = e.get("verdict")
        outcome = (
            AGREE if v == "lower" else DIFFER if v in ("higher", "equivalent") else INCONCLUSIVE
        )
        numbers = {k: e.get(k) for k in ("verdict", "mean", "low", "high", "n", "p_adjusted")}
        out.append(
            Judgement(CLAIM, f"{setting}, init {e['init_scale']:g}", outcome, numbers).to_dict()
        )
    return out
