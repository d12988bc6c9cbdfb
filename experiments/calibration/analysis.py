"""The calibration study's analysis, as JSON-ready data: per (architecture, loss) test
calibration with 95% intervals, the paired comparisons, and the judgements of Guo et
al.'s claim.

Each comparison is the paired difference of test ECE over replicates (replicate i: init
seed i and data-order seed i in every arm), with the four-way verdicts of
:func:`softjax.sweeps.inference.decide` (margin :data:`DELTA`) and Holm's correction over
its named family:

* **architecture** (CCE): each step of the width series and of the depth series, and
  each series' widest − narrowest / deepest − shallowest. Guo et al.'s claim predicts
  *higher*.
* **loss** (the base MLP): each loss − CCE, and sigmoid BCE read through the softmax −
  CCE.

Every arm trains at two budgets at its chosen lr: the fixed one (the lr search's) and
``LONGER`` × it (:data:`BUDGET_RULE`); each is analysed on its own, so that every
comparison is between nets trained equally long. The claim, about nets trained to
convergence, is judged at the longer budget (:data:`JUDGED`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from experiments._common.verdicts import AGREE, DIFFER, INCONCLUSIVE, Judgement
from softjax.sweeps.budget import LONGER, SLOPE_THRESHOLD, SLOPE_WINDOW, still_improving
from softjax.sweeps.inference import decide, mean_difference
from softjax.sweeps.stats import t_quantile_975

DELTA = 0.005
"""The equivalence margin: ±0.5 points of ECE."""
CONVERGED = 0.99
"""Final training accuracy (the epoch's running mean) from which a net counts as fitted."""
BUDGET_RULE = {
    "window": SLOPE_WINDOW,
    "threshold": SLOPE_THRESHOLD,
    "longer": LONGER,
    "rule": "every arm also trains LONGER × the fixed budget at its chosen lr (the arms "
    "whose mean validation accuracy, on the search replicates, rose faster than the "
    "threshold per epoch over their last epochs are recorded); each budget is compared "
    "within itself",
}
JUDGED = "long"
"""The budget the claim is judged at (the fixed one where no longer run exists)."""
CLAIMS = {
    "width": "miscalibration_grows_with_width",
    "depth": "miscalibration_grows_with_depth",
}
SOFTMAX_READ = "sigmoid_bce (softmax read)"


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def improving(curves: Mapping[str, Sequence[float]]) -> list[str]:
    """The arms whose curve is still rising at its end
    (:func:`softjax.sweeps.budget.still_improving`); a non-finite curve is not."""
    return [
        k
        for k, c in curves.items()
        if len(c) >= SLOPE_WINDOW and all(_finite(v) for v in c) and still_improving(c)
    ]


def _interval(values: Sequence[float]) -> dict[str, Any] | None:
    n = len(values)
    if not n:
        return None
    mean = math.fsum(values) / n
    if n < 2:
        return {"mean": mean, "ci95": None, "n": n}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return {"mean": mean, "ci95": t_quantile_975(n - 1) * sd / math.sqrt(n), "n": n}


def measure(run: Mapping, name: str, read: str | None = None) -> float | None:
    """One run's test measure ``name`` (``ece``, ``nll``, ``accuracy``,
    ``mean_confidence``, ``gap`` = confidence − accuracy), read through ``read``
    (``"softmax_read"`` for a one-vs-rest loss's softmax reading) or as reported."""
    test = run.get("test")
    if not test:
        return None
    if read:
        test = test.get(read)
        if not test:
            return None
    if name == "gap":
        return test["mean_confidence"] - test["accuracy"]
    return test[name]


def at(runs: Sequence[Mapping], budget: str) -> list[Mapping]:
    """The runs of ``budget`` (``"short"`` or ``"long"``)."""
    return [r for r in runs if r["budget"] == budget]


def cells(runs: Sequence[Mapping], budget: str = "short") -> list[dict]:
    """Per (arch, loss), at ``budget``: the chosen lr and epochs, mean ± 95%
    interval of each test measure (for sigmoid BCE also its softmax reading), the final
    training accuracy, whether every replicate fitted (:data:`CONVERGED`), and the mean
    epoch of the lowest validation loss (before the last: NLL overfitting)."""
    groups: dict = {}
    for r in at(runs, budget):
        groups.setdefault((r["arch"], r["loss"]), []).append(r)
    out = []
    for (arch, loss), rs in groups.items():
        ok = [r for r in rs if not r["diverged"]]
        entry: dict[str, Any] = {"arch": arch, "loss": loss, "lr": rs[0]["lr"]}
        entry.update(epochs=rs[0]["epochs"], n=len(ok), diverged=len(rs) - len(ok))
        for name in ("ece", "nll", "accuracy", "mean_confidence", "gap"):
            entry[name] = _interval([v for r in ok if _finite(v := measure(r, name))])
        if any(r.get("test", {}).get("softmax_read") for r in ok):
            entry["softmax_read"] = {
                name: _interval([v for r in ok if _finite(v := measure(r, name, "softmax_read"))])
                for name in ("ece", "mean_confidence", "gap")
            }
        train = [r["curves"]["train_accuracy"][-1] for r in ok]
        entry["train_accuracy"] = _interval([v for v in train if _finite(v)])
        entry["fitted"] = bool(ok) and all(_finite(v) and v >= CONVERGED for v in train)
        low = []
        for r in ok:
            vl = r["curves"]["val_loss"]
            if all(_finite(v) for v in vl):
                low.append(1 + min(range(len(vl)), key=vl.__getitem__))
        entry["val_loss_min_epoch"] = math.fsum(low) / len(low) if low else None
        out.append(entry)
    return out


def values(runs: Sequence[Mapping], arch: str, loss: str, read: str | None = None) -> dict:
    """``{seed: ECE}`` of (arch, loss) over ``runs`` (one budget's)."""
    return {
        r["seed"]: v
        for r in runs
        if (r["arch"], r["loss"]) == (arch, loss) and _finite(v := measure(r, "ece", read))
    }


def _paired(a: Mapping, b: Mapping):
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None, seeds
    return mean_difference([a[s] - b[s] for s in seeds]), seeds


def _decide(pairs: dict, family: str, delta: float) -> list[dict]:
    estimates, meta = {}, {}
    for label, (a, b, extra) in pairs.items():
        est, seeds = _paired(a, b)
        if est is not None:
            estimates[label] = est
            meta[label] = extra | {"seeds": seeds}
    if not estimates:
        return []
    verdicts = decide(estimates, family=family, delta=delta)
    return [v.as_dict() | meta[v.comparison] for v in verdicts]


def series(config: Mapping) -> dict[str, list[str]]:
    """``{"width": [arch names, narrow → wide], "depth": [shallow → deep]}``."""
    bw = config["base_width"]
    return {
        "width": [f"784-{w}-10" for w in config["widths"]],
        "depth": ["-".join(map(str, (784, *([bw] * d), 10))) for d in config["depths"]],
    }


def architecture_family(runs, config, delta: float = DELTA, budget: str = "short") -> list[dict]:
    """The architecture family (module docstring) at ``budget``: consecutive steps and
    end to end."""
    runs = at(runs, budget)
    pairs = {}
    for factor, names in series(config).items():
        steps = list(zip(names[1:], names[:-1], strict=True))
        if len(names) > 2:
            steps.append((names[-1], names[0]))
        for big, small in steps:
            end = (big, small) == (names[-1], names[0])
            extra = {"factor": factor, "larger": big, "smaller": small, "end_to_end": end}
            pairs[f"{big} − {small}"] = (
                values(runs, big, "cce"),
                values(runs, small, "cce"),
                extra,
            )
    return _decide(pairs, f"test ECE, larger − smaller MLP (CCE), {budget} budget", delta)


def loss_family(runs, config, delta: float = DELTA, budget: str = "short") -> list[dict]:
    """The loss family on the base MLP (module docstring) at ``budget``."""
    runs = at(runs, budget)
    base = config["base"]
    ref = values(runs, base, "cce")
    pairs = {}
    for loss in config["losses"]:
        if loss != "cce":
            pairs[f"{loss} − cce"] = (values(runs, base, loss), ref, {"loss": loss})
    read = values(runs, base, "sigmoid_bce", "softmax_read")
    if read:
        pairs[f"{SOFTMAX_READ} − cce"] = (read, ref, {"loss": SOFTMAX_READ})
    return _decide(pairs, f"test ECE, loss − CCE on {base}, {budget} budget", delta)


def judgements(arch_family: Sequence[Mapping]) -> list[Judgement]:
    """Per factor, from its end-to-end comparison: :data:`AGREE` when ECE is *higher* in
    the larger net, :data:`DIFFER` when lower or equivalent, else :data:`INCONCLUSIVE`."""
    out = []
    for v in arch_family:
        if not v["end_to_end"]:
            continue
        outcome = {"higher": AGREE, "lower": DIFFER, "equivalent": DIFFER}.get(
            v["verdict"], INCONCLUSIVE
        )
        numbers = {k: v[k] for k in ("factor", "larger", "smaller", "mean", "low", "high")}
        numbers["verdict"] = v["verdict"]
        out.append(Judgement(CLAIMS[v["factor"]], v["comparison"], outcome, numbers))
    return out


def analyse(runs: Sequence[Mapping], config: Mapping, delta: float = DELTA) -> dict[str, Any]:
    """The study's analysis as data, per budget (``"short"``, ``"long"``): ``cells`` and
    both families; the ``judgements`` at ``judged_budget`` (:data:`JUDGED` where it ran)."""
    out: dict[str, Any] = {"delta": delta, "cells": {}, "architecture": {}, "loss": {}}
    for budget in ("short", "long"):
        out["cells"][budget] = cells(runs, budget)
        out["architecture"][budget] = architecture_family(runs, config, delta, budget)
        out["loss"][budget] = loss_family(runs, config, delta, budget)
    judged = JUDGED if out["cells"][JUDGED] else "short"
    out["judged_budget"] = judged
    out["judgements"] = [j.to_dict() for j in judgements(out["architecture"][judged])]
    return out
