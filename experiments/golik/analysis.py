"""Golik et al.'s claims on the v3 methods: paired differences between arms.

Replicate i is init seed i and data-order seed i in every arm, and the arms ``cce→mse``
and ``cce→cce`` share their first k epochs exactly, so each difference of final test
accuracies is paired by replicate (a replicate that diverged in either arm is left out
of that comparison, its seed list kept). Three named families, each Holm-corrected over
its settings (model, init scale) with equivalence margin :data:`DELTA`
(:func:`softjax.sweeps.inference.decide`):

* :data:`CLAIM_1`: ``mse − cce``, MSE from random init against CCE;
* :data:`CLAIM_2`: ``cce→mse − cce→cce``, the switch against its control, whose second
  phase's lr is re-tuned the same way;
* :data:`CONTEXT`: ``cce→mse − cce`` (the comparison without a control, as the paper
  reads it) and ``cce→mse − mse`` (does the switch end where MSE from scratch ends?).

The claims judged (:func:`judgements`): MSE from random init reaches a worse optimum
(agree: ``lower``; differ: ``higher`` or ``equivalent``); a few MSE epochs after CE help
(agree: ``higher`` against the control; differ: ``lower`` or ``equivalent``). Otherwise
inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experiments._common.verdicts import AGREE, DIFFER, INCONCLUSIVE, Judgement
from softjax.sweeps.inference import decide, paired_estimate

DELTA = 0.0025
"""The equivalence margin: ±0.25 points of test accuracy (the paper's gain is "slight")."""
CLAIM_1 = "MSE from random init − CCE"
CLAIM_2 = "CCE→MSE − CCE→CCE (the switch against its control)"
CONTEXT = "CCE→MSE − CCE and CCE→MSE − MSE"
COMPARISONS = {
    CLAIM_1: [("mse", "cce")],
    CLAIM_2: [("cce→mse", "cce→cce")],
    CONTEXT: [("cce→mse", "cce"), ("cce→mse", "mse")],
}
MSE_WORSE, SWITCH_HELPS = "mse_from_init_worse", "switch_to_mse_helps"


def setting(model: str, scale: float) -> str:
    return f"{model}, init scale {scale:g}"


def label(model: str, scale: float, a: str, b: str) -> str:
    """``"mlp, init scale 10: cce→mse − cce→cce"``."""
    return f"{setting(model, scale)}: {a} − {b}"


def analyse(results: Mapping[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """Every family's verdicts (module docstring), each with the seeds it used."""
    out: dict[str, Any] = {"delta": DELTA, "families": {}}
    for family, pairs in COMPARISONS.items():
        estimates, used = {}, {}
        for model, res in results.items():
            for scale in res["init_scales"]:
                for a, b in pairs:
                    xa = res["arms"].get(a, {}).get(str(scale), {}).get("per_seed")
                    xb = res["arms"].get(b, {}).get(str(scale), {}).get("per_seed")
                    if xa is None or xb is None:
                        continue
                    keep = [i for i in range(len(seeds)) if xa[i] is not None and xb[i] is not None]
                    if len(keep) >= 2:
                        name = label(model, scale, a, b)
                        estimates[name] = paired_estimate(
                            [xa[i] for i in keep], [xb[i] for i in keep]
                        )
                        used[name] = [seeds[i] for i in keep]
        verdicts = decide(estimates, family=family, delta=DELTA) if estimates else []
        out["families"][family] = [v.as_dict() | {"seeds": used[v.comparison]} for v in verdicts]
    return out


def find(found: Mapping[str, Any], model: str, scale: float, a: str, b: str) -> dict | None:
    """The verdict dict of ``a − b`` in one setting, or None."""
    name = label(model, scale, a, b)
    for verdicts in found["families"].values():
        for v in verdicts:
            if v["comparison"] == name:
                return v
    return None


def judgements(found: Mapping[str, Any]) -> list[Judgement]:
    """Per setting, both claims from the family verdicts (module docstring)."""
    out = []
    for claim, family, agree in (
        (MSE_WORSE, CLAIM_1, "lower"),
        (SWITCH_HELPS, CLAIM_2, "higher"),
    ):
        for v in found["families"].get(family, []):
            if v["verdict"] == agree:
                outcome = AGREE
            elif v["verdict"] == "inconclusive":
                outcome = INCONCLUSIVE
            else:
                outcome = DIFFER
            out.append(Judgement(claim, v["comparison"].split(": ")[0], outcome, v))
    return out
