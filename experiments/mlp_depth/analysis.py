"""The mlp_depth study's verdicts as data: per activation, the paired difference of test
accuracy between its deepest and its shallowest net (replicate i: init seed i and
data-order seed i in both), four-way verdicts with Holm over the named family; and which
(activation, depth) stay at chance, i.e. no lr of the search trains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from softjax.sweeps.budget import LONGER, SLOPE_WINDOW, slows_or_stops
from softjax.sweeps.inference import decide, paired_estimate

DELTA = 0.005
"""The equivalence margin: ±0.5 points of test accuracy."""
CHANCE = 0.1 + 0.05
"""Above this test accuracy (1/10 + 5 points) a run has left chance."""
FAMILY = "deepest − shallowest depth, test accuracy, per activation"


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def by_seed(runs: Sequence[Mapping], activation: str, depth: int) -> dict[int, float | None]:
    """``{seed: final test accuracy}`` of one (activation, depth); None where it diverged."""
    return {
        r["seed"]: r["test_accuracy"]
        for r in runs
        if r["activation"] == activation and r["depth"] == depth
    }


def trends(runs: Sequence[Mapping], delta: float = DELTA) -> list[dict[str, Any]]:
    """Per activation with two depths or more: deepest − shallowest test accuracy, paired
    by replicate, as a Verdict dict with ``values`` (the replicates finite in both, and
    each arm's per-replicate values); Holm over :data:`FAMILY`. An activation with fewer
    than two such replicates gets ``note`` instead of a verdict: no interval over one."""
    out, estimates, values = [], {}, {}
    for act in dict.fromkeys(r["activation"] for r in runs):
        depths = sorted({r["depth"] for r in runs if r["activation"] == act})
        if len(depths) < 2:
            continue
        deep, shallow = by_seed(runs, act, depths[-1]), by_seed(runs, act, depths[0])
        seeds = [s for s in sorted(deep) if _finite(deep[s]) and _finite(shallow.get(s))]
        name = f"{act}: depth {depths[-1]} − depth {depths[0]}"
        got = {"seeds": seeds, "a": [deep[s] for s in seeds], "b": [shallow[s] for s in seeds]}
        if len(seeds) < 2:
            out.append(
                {
                    "comparison": name,
                    "activation": act,
                    "note": "fewer than 2 replicates: no interval",
                    "values": got,
                }
            )
            continue
        estimates[name] = paired_estimate(got["a"], got["b"])
        values[name] = (act, got)
    if estimates:
        for v in decide(estimates, family=FAMILY, delta=delta):
            act, got = values[v.comparison]
            out.append(v.as_dict() | {"activation": act, "values": got})
    return out


def stuck_arms(
    runs: Sequence[Mapping], searches: Sequence[Mapping], short: int
) -> list[dict[str, Any]]:
    """Each (activation, depth) at which no lr trains within ``short`` epochs, read on its
    longer search (``longer_search``: its choice, or "no lr trains") and its replicates'
    longer runs at that lr: per replicate the test accuracy after ``short`` epochs and at
    the end, how many replicates end above chance, and ``budget``: ``slows_or_stops`` of
    the mean validation curve (None where the rule does not apply: ``short`` below its
    window, a run shorter than LONGER × ``short``, or a non-finite value)."""
    out = []
    for s in searches:
        if not s["stays_at_chance"] or s["lr"] is None:
            continue
        mine = [r for r in runs if (r["activation"], r["depth"]) == (s["activation"], s["depth"])]
        ends = [r["test_accuracy_end"] for r in mine]
        curves = [r["val_accuracy"] for r in mine if not r["diverged"]]
        budget = None
        if curves and len({len(c) for c in curves}) == 1 and short >= SLOPE_WINDOW:
            mean = [math.fsum(v) / len(v) for v in zip(*curves, strict=True)]
            if len(mean) >= LONGER * short and all(_finite(v) for v in mean):
                budget = slows_or_stops(mean, short).as_dict()
        out.append(
            {
                "activation": s["activation"],
                "depth": s["depth"],
                "lr": s["lr"],
                "lr_source": s["lr_source"],
                "longer_search": (s.get("longer") or {}).get("search", {}).get("choices", [{}])[0],
                "epochs": max((r["epochs"] for r in mine), default=short),
                "test_short": [r["test_accuracy"] for r in mine],
                "test_end": ends,
                "n_above_chance": sum(_finite(e) and e > CHANCE for e in ends),
                "budget": budget,
            }
        )
    return out


def analyse(
    runs: Sequence[Mapping], searches: Sequence[Mapping] = (), short: int = 0, delta=DELTA
) -> dict[str, Any]:
    """The study's comparisons and its at-chance arms' longer runs, JSON-ready."""
    return {
        "delta": delta,
        "family": FAMILY,
        "trends": trends(runs, delta),
        "stuck": stuck_arms(runs, searches, short),
    }
