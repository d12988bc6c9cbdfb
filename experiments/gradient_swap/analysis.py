"""The gradient-swap study's analysis: per-run measures from a history, the 2 × 2
factorial (direction × norm) per init scale, and the budget check, all as JSON-ready data.

The four rules are the cells of a 2 × 2 design (:data:`FACTORS`): the per-sample logit
gradient's *direction* is CE's or MSE's, and its *norm* is CE's or MSE's. Per setting
(dataset, model, init scale) and replicate i (init seed i and data-order seed i in every
rule), :func:`softjax.sweeps.factorial.factorial_contrasts` gives the main effect of
norm, the main effect of direction and their interaction as paired contrasts; per init
scale :func:`softjax.sweeps.factorial.factorial_2x2` pools each over the settings
(:func:`softjax.sweeps.inference.pooled`: a t-interval over the per-setting means) and
gives its four-way verdict, Holm-corrected over the three effects of that init scale.
A replicate whose run diverged in any of the four rules is left out of its setting (the
contrasts need all four); the count is stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from softjax.sweeps.budget import LONGER, SLOPE_THRESHOLD, SLOPE_WINDOW, still_improving
from softjax.sweeps.factorial import factorial_2x2, factorial_contrasts
from softjax.sweeps.inference import decide, mean_difference
from softjax.sweeps.stats import STUCK_MARGIN

RULES = ("cce", "mse", "cce_dir_mse_norm", "mse_dir_cce_norm")
"""The four training rules: CE; MSE on the softmax; CE's direction at MSE's norm; MSE's
direction at CE's norm (the last two are softjax's built-in hybrid losses)."""

FACTORS = ("direction", "norm")
LEVELS = (("ce", "mse"), ("ce", "mse"))
CELL = {
    "cce": ("ce", "ce"),
    "mse": ("mse", "mse"),
    "cce_dir_mse_norm": ("ce", "mse"),
    "mse_dir_cce_norm": ("mse", "ce"),
}
"""Each rule's (direction, norm) levels."""

NORM = "main effect of norm (mse − ce)"
DIRECTION = "main effect of direction (mse − ce)"
INTERACTION = "interaction direction × norm"
EFFECTS = (NORM, DIRECTION, INTERACTION)
DELTA = 0.005
"""The equivalence margin: ±0.5 points of test accuracy."""

CURVE_KEYS = (
    "train_accuracy",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "saturated_wrong",
    "logits_grad_norm",
    "logits_grad_norm_wrong",
    "hidden_fprime",
)
"""The per-epoch values kept per run: validation accuracy and loss, the
saturated-and-wrong fraction, the mean ‖∂ℓ/∂z‖ on all and on misclassified samples, the
hidden layers' mean f′ (softjax's diagnostics), and train and test accuracy."""

TARGETS = {"mnist": 0.90, "fashion_mnist": 0.80}
"""The validation accuracy whose first epoch a run reports as its "epochs to target"."""


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _round(v):
    if isinstance(v, list):
        return [_round(x) for x in v]
    return float(f"{v:.6g}") if _finite(v) else None


def run_measures(
    history: Mapping[str, Sequence], diverged: bool, *, short: int, target: float, classes: int
) -> dict[str, Any]:
    """One run's per-epoch curves (:data:`CURVE_KEYS`, rounded to 6 digits, None where
    not finite) and its measures: test accuracy after ``short`` epochs and after the
    last epoch, the first epoch (1-based) whose validation accuracy reaches ``target``
    (None: never), and ``stuck`` (finite, final train accuracy ≤ 1/K + margin)."""
    curves = {k: _round(list(history[k])) for k in CURVE_KEYS if k in history}
    test = curves.get("test_accuracy") or []
    val = curves.get("val_accuracy") or []
    train = curves.get("train_accuracy") or []
    reached = [i + 1 for i, v in enumerate(val) if v is not None and v >= target]
    at = test[short - 1] if len(test) >= short else None
    return {
        "diverged": bool(diverged),
        "epochs_run": len(val),
        "curves": curves,
        "test_short": None if diverged else at,
        "test_long": None if diverged or len(test) <= short else test[-1],
        "epochs_to_target": reached[0] if reached else None,
        "stuck": bool(
            not diverged
            and train
            and train[-1] is not None
            and train[-1] <= 1 / classes + STUCK_MARGIN
        ),
    }


def setting_key(run: Mapping[str, Any]) -> str:
    """``"mnist/linear"``: a setting's label within one init scale."""
    return f"{run['dataset']}/{run['model']}"


def arms_of(runs: Iterable[Mapping[str, Any]], metric: str) -> dict[str, Any]:
    """One setting's runs (all four rules) as the factorial's four arms: ``{(direction,
    norm): [value per replicate]}`` over the replicates finite in every rule, in seed
    order, and the replicates left out."""
    by_rule: dict[str, dict[int, float | None]] = {}
    for r in runs:
        by_rule.setdefault(r["rule"], {})[r["seed"]] = r.get(metric)
    if set(by_rule) != set(RULES):
        return {
            "arms": None,
            "seeds": [],
            "dropped": [],
            "missing_rules": sorted(set(RULES) - set(by_rule)),
        }
    seeds = sorted(set.intersection(*(set(v) for v in by_rule.values())))
    keep = [s for s in seeds if all(_finite(by_rule[rule][s]) for rule in RULES)]
    arms = {CELL[rule]: [by_rule[rule][s] for s in keep] for rule in RULES}
    return {
        "arms": arms,
        "seeds": keep,
        "dropped": [s for s in seeds if s not in keep],
        "missing_rules": [],
    }


def factorial_by_scale(
    runs: Sequence[Mapping[str, Any]], metric: str = "test_short", delta: float = DELTA
) -> list[dict[str, Any]]:
    """Per init scale: the three factorial effects of ``metric`` pooled over the
    settings (:func:`factorial_2x2`), each a :class:`~softjax.sweeps.inference.Verdict`
    dict, plus every setting's own paired contrasts (mean per effect) and the
    replicates or settings left out, and ``"per_setting"``: each setting's three effects
    as paired verdicts (n replicates), Holm over all 3 × settings of the init scale (with
    few settings the pooled interval, over M − 1 degrees of freedom, is wide). Init
    scales with no complete setting (two replicates in all four rules) say so in
    ``"note"``."""
    out = []
    for scale in sorted({r["init_scale"] for r in runs}):
        mine = [r for r in runs if r["init_scale"] == scale]
        settings, arms_by_setting, skipped = {}, {}, []
        for key in sorted({setting_key(r) for r in mine}):
            got = arms_of([r for r in mine if setting_key(r) == key], metric)
            if got["arms"] is None or len(got["seeds"]) < 2:
                skipped.append(key)
                settings[key] = {
                    "n": len(got["seeds"]),
                    "dropped": got["dropped"],
                    "missing_rules": got["missing_rules"],
                }
                continue
            arms_by_setting[key] = got["arms"]
            contrasts = factorial_contrasts(got["arms"], factors=FACTORS, levels=LEVELS)
            settings[key] = {
                "n": len(got["seeds"]),
                "dropped": got["dropped"],
                "means": {name: sum(v) / len(v) for name, v in contrasts.items()},
                "cells": {rule: sum(got["arms"][CELL[rule]]) / len(got["seeds"]) for rule in RULES},
            }
        per_setting = []
        if arms_by_setting:
            estimates = {}
            for key, arms in arms_by_setting.items():
                contrasts = factorial_contrasts(arms, factors=FACTORS, levels=LEVELS)
                for name, d in contrasts.items():
                    estimates[f"{key}: {name}"] = mean_difference(d)
            fam = f"{metric}, init scale {scale:g}, per setting"
            per_setting = [v.as_dict() for v in decide(estimates, family=fam, delta=delta)]
        entry: dict[str, Any] = {
            "init_scale": scale,
            "per_setting": per_setting,
            "metric": metric,
            "settings": settings,
            "skipped": skipped,
            "verdicts": [],
        }
        family = f"{metric}, init scale {scale:g}"
        if arms_by_setting:
            verdicts = factorial_2x2(
                arms_by_setting, family=family, delta=delta, factors=FACTORS, levels=LEVELS
            )
            entry["verdicts"] = [v.as_dict() for v in verdicts]
        else:
            entry["note"] = "no setting with all four rules on ≥ 2 finite replicates"
        out.append(entry)
    return out


def prediction_check(entry: Mapping[str, Any], large: bool) -> str:
    """Whether one init scale's verdicts bear out the saturation prediction:
    at a large init scale the norm effect is ``lower`` (MSE's norm hurts) and the
    direction effect not ``lower`` beyond it; at init 1 neither factor differs.
    Returns ``"supports"``, ``"contradicts"`` or ``"inconclusive"``."""
    v = {d["comparison"]: d for d in entry.get("verdicts", [])}
    if NORM not in v:
        return "inconclusive"
    norm, direction = v[NORM], v[DIRECTION]
    if large:
        if norm["verdict"] == "lower" and (
            direction["verdict"] != "lower" or abs(direction["mean"]) < abs(norm["mean"]) / 2
        ):
            return "supports"
        if (
            norm["verdict"] in ("equivalent", "higher")
            or direction["verdict"] == "lower"
            and (abs(direction["mean"]) >= abs(norm["mean"]))
        ):
            return "contradicts"
        return "inconclusive"
    if norm["verdict"] == direction["verdict"] == "equivalent":
        return "supports"
    if "lower" in (norm["verdict"], direction["verdict"]) or "higher" in (
        norm["verdict"],
        direction["verdict"],
    ):
        return "contradicts"
    return "inconclusive"


def improving_settings(
    curves: Mapping[str, Sequence[float]],
    last: int = SLOPE_WINDOW,
    threshold: float = SLOPE_THRESHOLD,
) -> list[str]:
    """The arms (keys of ``curves``: an arm's mean validation curve) still improving at
    their last epoch (:func:`softjax.sweeps.budget.still_improving`); a curve with a
    non-finite value (a diverged run) is not improving."""
    out = []
    for arm, curve in curves.items():
        if len(curve) >= last and all(_finite(v) for v in curve):
            if still_improving(curve, last=last, threshold=threshold):
                out.append(arm)
    return out


BUDGET_RULE = {
    "window": SLOPE_WINDOW,
    "threshold": SLOPE_THRESHOLD,
    "longer": LONGER,
    "rule": "a setting whose any rule's mean validation accuracy rose faster than "
    "the threshold per epoch over its last epochs (at the chosen lr, on the lr search's "
    "replicates) runs all four rules for a budget LONGER × as long; its fixed budget "
    "is read at the short budget's last epoch of the same runs",
}

LARGE = 10.0
"""From this init scale on, the prediction is that norm carries the effect; at init 1
that neither factor matters; in between it makes no claim."""


def analyse(runs: Sequence[Mapping[str, Any]], delta: float = DELTA) -> dict[str, Any]:
    """The study's verdicts as data: the factorial per init scale at the fixed budget
    (``"short"``) and, over the settings that ran longer, at the long budget
    (``"long"``), and per init scale whether the prediction holds (``"checks"``)."""
    short = factorial_by_scale(runs, "test_short", delta)
    long_runs = [r for r in runs if r.get("budget") == "long"]
    long = factorial_by_scale(long_runs, "test_long", delta) if long_runs else []
    checks = []
    for entry in short:
        s = entry["init_scale"]
        if s >= LARGE or s == 1.0:
            checks.append(
                {
                    "init_scale": s,
                    "large": s >= LARGE,
                    "outcome": prediction_check(entry, large=s >= LARGE),
                    "per_setting": setting_checks(entry, large=s >= LARGE),
                }
            )
    return {"short": short, "long": long, "checks": checks, "delta": delta}


def setting_checks(entry: Mapping[str, Any], large: bool) -> dict[str, str]:
    """:func:`prediction_check` on each setting's own (per-setting family) verdicts."""
    by_setting: dict[str, list] = {}
    for v in entry.get("per_setting", []):
        key, name = v["comparison"].split(": ", 1)
        by_setting.setdefault(key, []).append(dict(v, comparison=name))
    return {k: prediction_check({"verdicts": vs}, large) for k, vs in by_setting.items()}
