"""Nielsen's MNIST comparison on the v3 methods: the paired cross-entropy − quadratic gap.

Replicate i is init seed i and data-order seed i in both costs (``run.run_mnist``), so
the two costs' runs are paired. Per replicate and cost, three readings of the test
accuracy: at the epoch whose validation accuracy is highest (the primary one: the epoch is
chosen on validation, the test read there only), at the last epoch, and at the best test
epoch (Nielsen's own reading of his single runs; chosen on test, so biased upwards, shown
for comparison with his numbers). Each reading's CE − quadratic difference is a paired
estimate (:func:`softjax.sweeps.inference.paired_estimate`) with its four-way verdict
(:func:`softjax.sweeps.inference.decide`), Holm-corrected over the three readings
(:data:`FAMILY`), equivalence margin :data:`DELTA`.

The claim judged (:func:`judgement`): Nielsen's two costs end about equal (95.42% vs
95.49%). It agrees when the primary gap is bounded within ±δ (equivalent by TOST, or a
difference whose TOST also holds), differs when a difference's whole 95% interval lies
beyond ±δ, and is inconclusive otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from experiments._common.verdicts import AGREE, DIFFER, INCONCLUSIVE, Judgement
from softjax.sweeps.inference import decide, paired_estimate

QUADRATIC, CE = "sigmoid_mse", "sigmoid_bce"
DELTA = 0.005
"""The equivalence margin: ±0.5 points of test accuracy."""
FAMILY = "CE − quadratic, 784-30-10 on MNIST"
PRIMARY = "at the validation-chosen epoch"
READINGS = {
    PRIMARY: "at_chosen",
    "at the last epoch": "last",
    "at the best test epoch": "best_test",
}
"""Comparison label → per-seed key."""
CLAIM = "costs_end_about_equal"


def per_seed(history: Mapping[str, Any]) -> dict[str, list]:
    """One cost's per-replicate readings from its ``(seeds, epochs)`` histories: the
    epoch (1-based) chosen on validation and the test accuracy there, at the last epoch
    and at the best test epoch; None where a value is not finite."""
    test = np.asarray(history["test_accuracy"], dtype=float)
    val = np.asarray(history["val_accuracy"], dtype=float)
    rows = range(len(test))
    chosen = [int(np.nanargmax(v)) if np.any(np.isfinite(v)) else None for v in val]

    def clean(x):
        return float(x) if x is not None and math.isfinite(x) else None

    return {
        "chosen_epoch": [None if c is None else c + 1 for c in chosen],
        "at_chosen": [None if c is None else clean(test[i, c]) for i, c in enumerate(chosen)],
        "last": [clean(test[i, -1]) for i in rows],
        "best_test": [
            clean(np.nanmax(test[i])) if np.any(np.isfinite(test[i])) else None for i in rows
        ],
    }


def analyse(mnist: Mapping[str, Any], seeds: list[int], delta: float = DELTA) -> dict[str, Any]:
    """The per-seed readings of both costs, the paired CE − quadratic verdicts of the
    three readings (one family, Holm) over the replicates finite in both, and the
    judgement of Nielsen's claim, all JSON-ready."""
    readings = {name: per_seed(run["history"]) for name, run in mnist.items()}
    estimates, kept = {}, {}
    for label, key in READINGS.items():
        a, b = readings[CE][key], readings[QUADRATIC][key]
        keep = [i for i in range(len(a)) if a[i] is not None and b[i] is not None]
        kept[label] = [seeds[i] for i in keep]
        if len(keep) >= 2:
            estimates[label] = paired_estimate([a[i] for i in keep], [b[i] for i in keep])
    verdicts = (
        [v.as_dict() for v in decide(estimates, family=FAMILY, delta=delta)] if estimates else []
    )
    return {
        "per_seed": {"seeds": list(seeds), **readings},
        "replicates_used": kept,
        "verdicts": verdicts,
        "delta": delta,
        "family": FAMILY,
        "judgement": judgement(verdicts).to_dict(),
    }


def bounded(v: Mapping[str, Any]) -> bool:
    """True when the gap is shown to lie within ±δ (its TOST holds after Holm)."""
    return v["p_equivalence_adjusted"] < v["alpha"]


def judgement(verdicts: list[Mapping[str, Any]]) -> Judgement:
    """Nielsen's "about equal" judged on the primary reading (module docstring)."""
    v = next((v for v in verdicts if v["comparison"] == PRIMARY), None)
    if v is None:
        return Judgement(CLAIM, "784-30-10 on MNIST", INCONCLUSIVE, {})
    if bounded(v):
        outcome = AGREE
    elif v["verdict"] in ("higher", "lower") and (v["low"] > v["delta"] or v["high"] < -v["delta"]):
        outcome = DIFFER
    else:
        outcome = INCONCLUSIVE
    return Judgement(CLAIM, "784-30-10 on MNIST, " + PRIMARY, outcome, dict(v))
