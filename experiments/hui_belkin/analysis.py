"""Hui & Belkin's comparisons on the v3 methods: paired differences per setting.

Replicate i is init seed i and data-order seed i in every loss of a setting (a dataset,
or a class count K), so the losses' final test accuracies are paired by replicate. Two
named families, each Holm-corrected (:func:`softjax.sweeps.inference.decide`,
equivalence margin :data:`DELTA`):

* :data:`VISION`: square loss (k = M = 1) − CCE on each real dataset;
* :data:`RESCALING`: rescaled (k = 15, M = 30) − plain square loss at each K.

A replicate that diverged in either loss of a comparison is left out of it (the count is
kept). Each loss's lr choice is kept beside its numbers; one whose search found no lr
above chance ("no lr trains") is measured at its best finite lr and flagged.

The claims judged (:func:`judgements`): square loss is comparable to CCE on vision, CCE
at most slightly ahead (agree when square − CCE is shown to be above −δ, differ when its
whole interval lies below −δ); the rescaling matters for many classes, not for 10 (the
K from which rescaled − plain is "higher" at every larger K: agree when that K exists and
is above the smallest K, differ when it is the smallest, inconclusive when there is none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experiments._common.verdicts import AGREE, DIFFER, INCONCLUSIVE, Judgement
from softjax.sweeps.inference import decide, paired_estimate

DELTA = 0.01
"""The equivalence margin, ±1 point of test accuracy: the largest CCE lead still read as
the paper's "slight edge"."""
VISION = "square − CCE, MLP on MNIST-type data"
RESCALING = "rescaled − plain square loss, synthetic K classes"
SQUARE_ON_VISION, RESCALING_CLAIM = (
    "square_comparable_on_vision",
    "rescaling_needed_for_many_classes",
)


def paired(a: Sequence, b: Sequence, seeds: Sequence[int]):
    """``(estimate or None, seeds used)`` of ``a − b`` over the replicates finite in both."""
    keep = [i for i in range(len(seeds)) if a[i] is not None and b[i] is not None]
    if len(keep) < 2:
        return None, [seeds[i] for i in keep]
    return paired_estimate([a[i] for i in keep], [b[i] for i in keep]), [seeds[i] for i in keep]


def _family(comparisons: dict, name: str, seeds) -> list[dict[str, Any]]:
    """``comparisons``: label → (a, b) per-seed lists; the family's verdicts, each with
    the seeds it used (labels without two paired replicates get a note, no verdict)."""
    estimates, used, notes = {}, {}, []
    for label, (a, b) in comparisons.items():
        est, kept = paired(a, b, seeds)
        used[label] = kept
        if est is None:
            notes.append({"comparison": label, "note": "fewer than 2 replicates finite in both"})
        else:
            estimates[label] = est
    verdicts = decide(estimates, family=name, delta=DELTA) if estimates else []
    return [v.as_dict() | {"seeds": used[v.comparison]} for v in verdicts] + notes


def analyse(body: Mapping[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """Both families' verdicts (see the module docstring), JSON-ready."""
    vision = {
        name: (fam["plain"]["per_seed"], fam["cce"]["per_seed"])
        for name, fam in body["real"].items()
        if "plain" in fam and "cce" in fam
    }
    rescaling = {
        f"K = {k}": (fam["rescaled"]["per_seed"], fam["plain"]["per_seed"])
        for k, fam in sorted(body["synthetic"].items(), key=lambda kv: int(kv[0]))
        if "plain" in fam and "rescaled" in fam
    }
    no_lr = [
        {"setting": s if part == "real" else f"K = {s}", "family": f}
        for part in ("real", "synthetic")
        for s, fams in body[part].items()
        for f, fam in fams.items()
        if fam["choice"]["lr"] is None
    ]
    return {
        "vision": _family(vision, VISION, seeds) if vision else [],
        "rescaling": _family(rescaling, RESCALING, seeds) if rescaling else [],
        "no_lr_trains": no_lr,
        "delta": DELTA,
    }


def _bounded(v: Mapping[str, Any]) -> bool:
    return v["p_equivalence_adjusted"] < v["alpha"]


def onset(rescaling: Sequence[Mapping[str, Any]]) -> int | None:
    """The smallest K from which rescaled − plain is "higher" at every larger K."""
    judged = [(int(v["comparison"].split("= ")[1]), v.get("verdict")) for v in rescaling]
    judged.sort()
    for i, (k, _) in enumerate(judged):
        if all(verdict == "higher" for _, verdict in judged[i:]):
            return k
    return None


def judgements(found: Mapping[str, Any]) -> list[Judgement]:
    """The paper's claims judged from :func:`analyse`'s verdicts (module docstring)."""
    out = []
    for v in found["vision"]:
        if "verdict" not in v:
            continue
        if v["verdict"] in ("higher", "equivalent") or _bounded(v) or v["low"] > -v["delta"]:
            outcome = AGREE
        elif v["high"] < -v["delta"]:
            outcome = DIFFER
        else:
            outcome = INCONCLUSIVE
        out.append(Judgement(SQUARE_ON_VISION, v["comparison"], outcome, v))
    judged = [v for v in found["rescaling"] if "verdict" in v]
    if judged:
        ks = sorted(int(v["comparison"].split("= ")[1]) for v in judged)
        k0 = onset(judged)
        outcome = INCONCLUSIVE if k0 is None else AGREE if k0 > ks[0] else DIFFER
        numbers = {"onset": k0, "smallest_k": ks[0], "largest_k": ks[-1]}
        out.append(Judgement(RESCALING_CLAIM, "synthetic K-class data", outcome, numbers))
    return out
