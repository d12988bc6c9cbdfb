"""The loss study's comparisons, as numbers with 95% intervals (``experiments.loss_sweep``).

* **Gradients at a matched lr.** A gradient norm depends on where training has got to, and
  so on the lr: comparing loss A at its lr with loss B at another confounds the two. Each
  loss is compared with ``cce`` at cce's chosen lr (when the loss has finite runs there;
  else at the lr of its grid nearest to it on a log scale, stated), and separately, labelled
  as such, at each loss's own chosen lr. The epoch-1 ``logits_grad_norm`` (all samples)
  and ``logits_grad_norm_wrong`` (misclassified samples only) are given as cell means with
  their intervals.
* **What BCE's independence assumption costs.** BCE on the softmax treats the K outputs as
  independent Bernoullis while they sum to one. Measured here as (a) the cosine between
  its logit gradient and CCE's on the same logits (``grad_cos_ce``, per epoch, at bce's
  chosen lr), and (b) the accuracy difference bce − cce, paired by replicate (each at its
  chosen lr), with its interval: per epoch on validation, and on test after the last epoch.
"""

from __future__ import annotations

import math
from typing import Any

from softjax.sweeps.stats import best_of, cell, paired_difference

REFERENCE = "cce"


def _value(c, key, epoch=0):
    if c is None or c["mean"].get(key) is None:
        return None
    mean, half = c["mean"][key], (c.get("ci95") or {}).get(key)
    if epoch >= len(mean) or mean[epoch] is None:
        return None
    return {"mean": mean[epoch], "ci95": None if half is None else half[epoch], "n": c["n_finite"]}


def _finite_lrs(summary, loss, scale):
    return sorted(
        c["lr"]
        for c in summary["cells"]
        if c["loss"] == loss and c["init_scale"] == scale and c["n_diverged"] == 0
    )


def matched_lr(summary, loss, scale, target: float) -> float | None:
    """``target`` if ``loss`` has finite runs there at ``scale``, else its finite lr
    nearest to it on a log scale (None when none is finite)."""
    lrs = _finite_lrs(summary, loss, scale)
    if not lrs:
        return None
    return min(lrs, key=lambda lr: abs(math.log(lr / target)))


def gradients(summary, best, grid) -> list[dict[str, Any]]:
    """Epoch-1 logit-gradient norms of each loss vs cce, at a matched lr and at each own."""
    rows = []
    for scale in grid["init_scales"]:
        ref = best_of(best, REFERENCE, scale)
        if ref is None or ref["lr"] is None:
            continue
        for loss in grid["losses"]:
            if loss == REFERENCE:
                continue
            own = best_of(best, loss, scale)
            lr = matched_lr(summary, loss, scale, ref["lr"])
            same = own is not None and lr == own["lr"] == ref["lr"]
            for kind, lr_loss, lr_ref in (
                ("matched", lr, ref["lr"] if lr == ref["lr"] else None),
                ("own_best", own and own["lr"], ref["lr"]),
            ):
                if lr_loss is None or (same and kind == "own_best"):  # said once, as matched
                    continue
                if lr_ref is None:  # no finite run of the loss at cce's lr: match cce to it
                    lr_ref = matched_lr(summary, REFERENCE, scale, lr_loss)
                row = {
                    "loss": loss,
                    "init_scale": scale,
                    "kind": kind,
                    "lr": lr_loss,
                    "lr_reference": lr_ref,
                    "also_own_best": same,
                }
                for key in ("logits_grad_norm", "logits_grad_norm_wrong"):
                    row[key] = _value(cell(summary, loss, scale, lr_loss), key)
                    row[f"{key}_reference"] = _value(cell(summary, REFERENCE, scale, lr_ref), key)
                rows.append(row)
    return rows


def bce_cost(records, summary, best, grid, loss: str = "bce") -> list[dict[str, Any]]:
    """Per init scale: ``grad_cos_ce`` per epoch and the paired accuracy gaps to cce:
    ``val_accuracy_gap`` per epoch (the effect epoch by epoch) and ``test_accuracy_gap``,
    whose last entry is the final test gap (the study may evaluate test only then)."""
    rows = []
    if loss not in grid["losses"] or REFERENCE not in grid["losses"]:
        return rows
    for scale in grid["init_scales"]:
        mine, ref = best_of(best, loss, scale), best_of(best, REFERENCE, scale)
        if not (mine and ref and mine["lr"] is not None and ref["lr"] is not None):
            continue
        c = cell(summary, loss, scale, mine["lr"])
        rows.append(
            {
                "loss": loss,
                "init_scale": scale,
                "lr": mine["lr"],
                "lr_reference": ref["lr"],
                "grad_cos_ce": {
                    "mean": c["mean"].get("grad_cos_ce"),
                    "ci95": c["ci95"].get("grad_cos_ce"),
                    "n": c["n_finite"],
                },
                **{
                    f"{split}_accuracy_gap": paired_difference(
                        records,
                        {"loss": loss, "init_scale": scale, "lr": mine["lr"]},
                        {"loss": REFERENCE, "init_scale": scale, "lr": ref["lr"]},
                        f"{split}_accuracy",
                    )
                    for split in ("val", "test")
                },
            }
        )
    return rows


def comparisons(records, summary, best, grid) -> dict[str, Any]:
    """Everything :mod:`experiments.loss_sweep.report` states beyond the chosen-lr table."""
    return {
        "gradients": gradients(summary, best, grid),
        "bce_cost": bce_cost(records, summary, best, grid),
    }
