"""The label-noise study's analysis, as JSON-ready data: the memorisation measures per
(rate, loss), the paired comparisons with CCE, and the judgements of the papers' claim.

Replicate i of every (rate, loss) shares init seed i and data-order seed i; at a rate it
also shares the noise draw i. Two named families, each with Holm's correction and the
four-way verdicts of :func:`softjax.sweeps.inference.decide` (margin :data:`DELTA`):

* **interaction** (the primary statistic): per rate η > 0 and loss L ≠ CCE, the
  difference in differences of clean test accuracy
  ``dᵢ = (L(η)ᵢ − CCE(η)ᵢ) − (L(0)ᵢ − CCE(0)ᵢ)``, paired by replicate: how much less (+)
  or more (−) accuracy L loses to noise than CCE does. "higher" is the papers' claim.
* **difference**: per rate and loss L ≠ CCE, ``L(η)ᵢ − CCE(η)ᵢ``.

Everything is computed per lr protocol (:data:`PROTOCOLS`: tuned per rate on noisy
validation, or each loss's η = 0 lr at every rate) and per budget (the fixed one and
``LONGER`` × it), the claim judged at the longer one (:data:`JUDGED`).

The memorisation regime (:data:`REGIME`): at a rate, CCE reached it when its mean final
training accuracy on the noisy labels is at least ``REGIME``; the claim is judged only
there (elsewhere its judgement is inconclusive, "regime not reached").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from experiments._common.verdicts import AGREE, DIFFER, INCONCLUSIVE, Judgement
from softjax.sweeps.budget import (
    LONGER,
    SLOPE_THRESHOLD,
    SLOPE_WINDOW,
    still_improving,
)
from softjax.sweeps.inference import decide, mean_difference
from softjax.sweeps.stats import t_quantile_975

REFERENCE = "cce"
DELTA = 0.01
"""The equivalence margin: ±1 point of clean test accuracy."""
REGIME = 0.95
"""CCE's mean final training accuracy on the noisy labels from which a rate counts as in
the memorisation regime."""
CLAIM = "bounded_loss_resists_memorisation"
"""The papers' claim as judged here: where CCE memorises (:data:`REGIME`), the loss
loses less clean test accuracy to noise than CCE (interaction verdict "higher")."""
BUDGET_NAMES = {"short": "fixed budget", "long": "longer budget"}
JUDGED = "long"
"""The budget the claim is judged at: the longer one (every loss trains ``LONGER`` × the
fixed budget at its chosen lr), where a net that can fit its training set has; the fixed
budget's estimates are reported beside it, and the fixed budget is judged where no
longer run exists."""
INTERACTION = "interaction"
DIFFERENCE = "difference"
BUDGET_RULE = {
    "window": SLOPE_WINDOW,
    "threshold": SLOPE_THRESHOLD,
    "longer": LONGER,
    "rule": "a rate at which any loss's mean noisy-validation accuracy (at its chosen lr, "
    "on the search replicates) rose faster than the threshold per epoch over its last "
    "epochs also trains every loss LONGER × as long; both budgets are reported",
}


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def improving(curves: Mapping[str, Sequence[float]]) -> list[str]:
    """The losses whose curve (mean validation accuracy per epoch) is still rising at its
    end (:func:`softjax.sweeps.budget.still_improving`); a non-finite curve is not."""
    return [
        k
        for k, c in curves.items()
        if len(c) >= SLOPE_WINDOW and all(_finite(v) for v in c) and still_improving(c)
    ]


def by_seed(runs: Sequence[Mapping], metric: str, budget: str) -> dict:
    """``{(rate, loss): {seed: value}}`` of ``metric`` over the finite runs of ``budget``."""
    out: dict = {}
    for r in runs:
        if r["budget"] == budget and _finite(r.get(metric)):
            out.setdefault((r["rate"], r["loss"]), {})[r["seed"]] = r[metric]
    return out


def _interval(values: Sequence[float]) -> dict[str, Any]:
    n = len(values)
    mean = math.fsum(values) / n if n else None
    if n < 2:
        return {"mean": mean, "ci95": None, "n": n}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return {"mean": mean, "ci95": t_quantile_975(n - 1) * sd / math.sqrt(n), "n": n}


def _label(loss: str, rate: float, kind: str) -> str:
    if kind == INTERACTION:
        return f"{loss} vs cce, η = {rate:g} vs 0"
    return f"{loss} − cce at η = {rate:g}"


def comparisons(
    values: dict, kind: str, delta: float = DELTA, budget: str = "short", protocol: str = "tuned"
) -> list[dict]:
    """One family (:data:`INTERACTION` or :data:`DIFFERENCE`) of paired comparisons with
    CCE from :func:`by_seed`'s ``values``, decided with Holm over the family. Each entry:
    the verdict's fields plus ``loss``, ``rate`` and ``seeds`` (the replicates paired)."""
    rates = sorted({rate for rate, _ in values})
    losses = sorted({loss for _, loss in values if loss != REFERENCE})
    estimates, meta = {}, {}
    for rate in rates:
        if kind == INTERACTION and rate == 0:
            continue
        for loss in losses:
            keys = [(rate, loss), (rate, REFERENCE)]
            if kind == INTERACTION:
                keys += [(0.0, loss), (0.0, REFERENCE)]
            if any(k not in values for k in keys):
                continue
            seeds = sorted(set.intersection(*(set(values[k]) for k in keys)))
            if len(seeds) < 2:
                continue
            d = [values[keys[0]][s] - values[keys[1]][s] for s in seeds]
            if kind == INTERACTION:
                d = [
                    x - (values[keys[2]][s] - values[keys[3]][s])
                    for x, s in zip(d, seeds, strict=True)
                ]
            label = _label(loss, rate, kind)
            estimates[label] = mean_difference(d)
            meta[label] = {"loss": loss, "rate": rate, "seeds": seeds, "differences": d}
    if not estimates:
        return []
    family = (
        "clean test accuracy, (loss − CCE) at η minus at η = 0"
        if kind == INTERACTION
        else "clean test accuracy, loss − CCE at each η"
    ) + f", {BUDGET_NAMES[budget]}, {protocol} lr"
    verdicts = decide(estimates, family=family, delta=delta)
    return [v.as_dict() | meta[v.comparison] for v in verdicts]


def cells(runs: Sequence[Mapping], budget: str = "short") -> list[dict]:
    """Per (rate, loss): mean ± 95% interval over replicates of the final clean test
    accuracy, the training accuracy on the noisy and on the clean labels, the memorised
    fraction, and the mean per-epoch memorised fraction and noisy training accuracy
    (the per-seed values stay in the runs)."""
    groups: dict = {}
    for r in runs:
        if r["budget"] == budget:
            groups.setdefault((r["rate"], r["loss"]), []).append(r)
    out = []
    for (rate, loss), rs in sorted(groups.items()):
        ok = [r for r in rs if not r["diverged"]]
        test = "test_long" if budget == "long" else "test_short"
        entry = {
            "rate": rate,
            "loss": loss,
            "lr": rs[0]["lr"],
            "n": len(ok),
            "diverged": len(rs) - len(ok),
        }
        for key, name in (
            (test, "clean_test"),
            ("train_acc_noisy_labels", "train_noisy"),
            ("train_acc_clean_labels", "train_clean"),
            ("memorised_final", "memorised"),
        ):
            vals = [r[key] for r in ok if _finite(r.get(key))]
            entry[name] = _interval(vals) if vals else None
        for key in ("memorised", "train_accuracy_noisy"):
            curves = [r["curves"][key] for r in ok if key in r["curves"]]
            if curves:
                entry[f"{key}_per_epoch"] = [
                    math.fsum(c) / len(c) if all(_finite(x) for x in c) else None
                    for c in zip(*curves, strict=True)
                ]
        out.append(entry)
    return out


def regime(cell_list: Sequence[Mapping]) -> dict[str, dict]:
    """Per rate: CCE's mean final training accuracy on the noisy labels and memorised
    fraction, and whether it reached :data:`REGIME`."""
    out = {}
    for c in cell_list:
        if c["loss"] == REFERENCE and c["train_noisy"]:
            fit = c["train_noisy"]["mean"]
            mem = (c["memorised"] or {}).get("mean")
            out[str(c["rate"])] = {"train_noisy": fit, "memorised": mem, "reached": fit >= REGIME}
    return out


def judgements(
    interactions: Sequence[Mapping], reached: Mapping[str, Mapping], protocol: str = "tuned"
) -> list[Judgement]:
    """Per (loss, η > 0) of the interaction family: :data:`AGREE` when "higher" (the
    loss loses less accuracy to noise than CCE), :data:`DIFFER` when "lower" or
    "equivalent", :data:`INCONCLUSIVE` when inconclusive or where CCE did not reach the
    memorisation regime."""
    out = []
    for v in interactions:
        inside = reached.get(str(v["rate"]), {}).get("reached", False)
        outcome = {"higher": AGREE, "lower": DIFFER, "equivalent": DIFFER}.get(
            v["verdict"], INCONCLUSIVE
        )
        if not inside:
            outcome = INCONCLUSIVE
        numbers = {
            "loss": v["loss"],
            "rate": v["rate"],
            "mean": v["mean"],
            "low": v["low"],
            "high": v["high"],
            "verdict": v["verdict"],
            "regime": inside,
            "protocol": protocol,
        }
        setting = f"{v['loss']} at η = {v['rate']:g}, {protocol} lr"
        out.append(Judgement(CLAIM, setting, outcome, numbers))
    return out


PROTOCOLS = {
    "tuned": "lr chosen per rate on the noisy validation split",
    "fixed": "each loss's η = 0 lr at every rate",
}


def protocol_runs(runs: Sequence[Mapping], protocol: str) -> list[Mapping]:
    """The runs of one lr protocol (:data:`PROTOCOLS`); at η = 0 the two are the same runs
    (a run without a protocol is ``"tuned"``)."""
    return [r for r in runs if r.get("protocol", "tuned") == protocol or r["rate"] == 0]


def analyse(runs: Sequence[Mapping], delta: float = DELTA) -> dict[str, Any]:
    """The study's analysis as data: :func:`analyse_protocol` for each lr protocol that
    ran (``"protocols"``), and every protocol's ``judgements`` together."""
    out: dict[str, Any] = {"delta": delta, "protocols": {}, "judgements": []}
    for protocol in PROTOCOLS:
        mine = protocol_runs(runs, protocol)
        if any(r.get("protocol", "tuned") == protocol for r in mine):
            got = analyse_protocol(mine, delta, protocol)
            out["protocols"][protocol] = got
            out["judgements"] += got["judgements"]
    return out


def analyse_protocol(
    runs: Sequence[Mapping], delta: float = DELTA, protocol: str = "tuned"
) -> dict[str, Any]:
    """One lr protocol's analysis (module docstring), per budget (``"short"``: the
    fixed one, ``"long"``: ``LONGER`` × it): ``cells``, CCE's ``regime`` per rate, both
    families; the ``budget`` family (longer − fixed); and the ``judgements`` at the
    ``judged_budget`` (:data:`JUDGED` where it ran)."""
    out: dict[str, Any] = {"delta": delta, "protocol": protocol}
    for key in ("cells", "regime", "interaction", "difference"):
        out[key] = {}
    for budget in ("short", "long"):
        out["cells"][budget] = cells(runs, budget)
        out["regime"][budget] = regime(out["cells"][budget])
        values = by_seed(runs, f"test_{budget}", budget)
        out["interaction"][budget] = comparisons(values, INTERACTION, delta, budget, protocol)
        out["difference"][budget] = comparisons(values, DIFFERENCE, delta, budget, protocol)
    judged = JUDGED if out["cells"][JUDGED] else "short"
    out["judged_budget"] = judged
    out["judgements"] = [
        j.to_dict() for j in judgements(out["interaction"][judged], out["regime"][judged], protocol)
    ]
    out["budget"] = budget_family(runs, delta, protocol)
    return out


def budget_family(
    runs: Sequence[Mapping], delta: float = DELTA, protocol: str = "tuned"
) -> list[dict]:
    """Per (rate, loss) that ran the longer budget: clean test accuracy of the longer run
    − the fixed one, paired by replicate (the longer run continues the fixed one), Holm
    over the family. "higher": the loss slows (it still gains); "equivalent": it stops;
    "lower": it loses accuracy with more training (memorisation)."""
    short = by_seed(runs, "test_short", "short")
    long = by_seed(runs, "test_long", "long")
    estimates, meta = {}, {}
    for key in sorted(long):
        seeds = sorted(set(long[key]) & set(short.get(key, {})))
        if len(seeds) < 2:
            continue
        rate, loss = key
        label = f"{loss} at η = {rate:g}: longer − fixed budget"
        estimates[label] = mean_difference([long[key][s] - short[key][s] for s in seeds])
        meta[label] = {"loss": loss, "rate": rate, "seeds": seeds}
    if not estimates:
        return []
    family = f"clean test accuracy, longer − fixed budget, {protocol} lr"
    verdicts = decide(estimates, family=family, delta=delta)
    return [v.as_dict() | meta[v.comparison] for v in verdicts]
