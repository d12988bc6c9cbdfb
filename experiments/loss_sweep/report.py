"""The loss study's prose, generated from its numbers (``experiments.loss_sweep``).

Every comparison goes through :func:`compare_intervals` (two means with 95% intervals) or
:func:`compare_difference` (a paired difference with its interval): a sentence claims a
difference only when the intervals separate (or the difference's interval excludes 0) and
otherwise says "no difference measured". Test numbers are quoted only at the lr chosen on
validation. :func:`summary_text` writes the findings; :func:`markdown` lays out ``<name>.md``.
"""

from __future__ import annotations

from softjax.sweeps.stats import best_of as _best
from softjax.sweeps.stats import cell as _cell
from softjax.sweeps.stats import collapse_scales

QUICK_NOTE = (
    "QUICK RUN (--quick): a CI-sized grid on a training subset; these numbers are NOT the "
    "study's and must not be cited."
)
NO_DIFFERENCE = "no difference measured"


def compare_intervals(
    a, b, name_a: str, name_b: str, higher: str = "higher than", lower: str = "lower than"
) -> str:
    """The verdict on two means ``a = (mean, half-width)`` and ``b``: ``"<name_a> <higher>
    <name_b>"`` when a's interval lies wholly above b's, ``"<name_a> <lower> <name_b>"``
    when wholly below, else ``"no difference measured"`` (also when an interval is
    unknown)."""
    (ma, ha), (mb, hb) = a, b
    if None in (ma, mb, ha, hb):
        return f"{NO_DIFFERENCE} (an interval needs two runs)"
    if ma - ha > mb + hb:
        return f"{name_a} {higher} {name_b}"
    if ma + ha < mb - hb:
        return f"{name_a} {lower} {name_b}"
    return NO_DIFFERENCE


def compare_difference(
    mean, half, name_a: str, name_b: str, higher: str = "higher than", lower: str = "lower than"
) -> str:
    """The verdict on a paired difference a − b with its 95% half-width."""
    return compare_intervals((mean, half), (0.0, 0.0), name_a, name_b, higher, lower)


def _pm(mean, half, scale=100.0, unit="%", digits=2):
    if mean is None:
        return "n/a"
    spread = "" if half is None else f" ± {scale * half:.{digits}f}"
    return f"{scale * mean:.{digits}f}{spread}{unit}"


def _list(values):
    return ", ".join(f"{v:g}" for v in values)


def _acc(b):
    return (b["final_test_accuracy"], b["final_test_accuracy_ci95"])


def _scales_text(group):
    return f"init scale {_list(group)}" if len(group) > 1 else f"init scale {group[0]:g}"


def dataset_name(grid) -> str:
    """The dataset of ``grid`` as written in prose (``MNIST``, ``Fashion-MNIST``)."""
    return grid["dataset"].replace("fashion_mnist", "Fashion-MNIST").replace("mnist", "MNIST")


def model_title(document) -> str:
    g = document["grid"]
    data = dataset_name(g)
    sizes = "-".join(map(str, g["sizes"]))
    model = "softmax regression" if len(g["sizes"]) == 2 else f"{g['activation']} MLP {sizes}"
    return f"{data} {model}"


def accuracy_verdicts(document, loss, reference: str = "cce") -> list[tuple[list[float], str]]:
    """``loss`` vs ``reference`` on final test accuracy, each at its lr chosen on
    validation, per group of init scales whose results agree (:func:`collapse_scales`):
    ``[(scales, verdict of compare_intervals)]``; groups where either loss has no chosen
    lr (every lr diverged) are left out."""
    best, out = document["best"], []
    for group in collapse_scales(best, document["grid"]["init_scales"]):
        b, ref = _best(best, loss, group[0]), _best(best, reference, group[0])
        if b and ref and b["lr"] is not None and ref["lr"] is not None:
            out.append((group, compare_intervals(_acc(b), _acc(ref), loss, reference)))
    return out


def stuck_text(b) -> str:
    """``k/n (95% Wilson interval lo–hi%)`` of a :func:`select_best` entry's stuck runs."""
    lo, hi = b["stuck_ci95"]
    return f"{b['n_stuck']}/{b['n_finite']} (95% Wilson interval {100 * lo:.0f}–{100 * hi:.0f}%)"


def summary_text(document) -> list[str]:
    """The findings of one model's document (see the module docstring)."""
    g, best, cmp_ = document["grid"], document["best"], document.get("comparisons", {})
    summary = {"cells": document["cells"]}
    losses, lines = g["losses"], []
    if document.get("quick"):
        lines.append(QUICK_NOTE)
    n = len(g["seeds"])
    lines.append(
        f"{model_title(document)}: {n} replicates per cell (replicate i = init seed i and "
        "data seed i, distinct runs); means ± 95% t-interval half-widths."
    )
    groups = collapse_scales(best, g["init_scales"])
    for group in groups:
        parts = []
        for loss in losses:
            b = _best(best, loss, group[0])
            if b is None or b["lr"] is None:
                parts.append(f"{loss} every lr diverged")
                continue
            edge = f", on the {b['edge']} edge of its lr grid" if b["edge"] else ""
            parts.append(f"{loss} {_pm(*_acc(b))} (lr {b['lr']:g}{edge})")
        same = " (results within each other's intervals, shown once)" if len(group) > 1 else ""
        lines.append(
            f"{_scales_text(group)}{same}, final test accuracy at the lr chosen on validation: "
            + "; ".join(parts)
            + "."
        )
    if "cce" in losses:
        for loss in [x for x in losses if x != "cce"]:
            verdicts = [f"{_scales_text(gr)}: {v}" for gr, v in accuracy_verdicts(document, loss)]
            if verdicts:
                lines.append(f"Test accuracy, {loss} vs cce: " + "; ".join(verdicts) + ".")
    edges = [b for b in best if b.get("edge")]
    if edges:
        lines.append(
            "FLAGGED: lr still on an edge of the grid after extension (capped): "
            + "; ".join(
                f"{b['loss']} at init scale {b['init_scale']:g} (lr {b['lr']:g}, {b['edge']} edge)"
                for b in edges
            )
            + "."
        )
    else:
        lines.append("Every chosen lr is interior to its loss's (extended) lr grid.")
    lines += _gradient_lines(cmp_.get("gradients", []), g["init_scales"])
    lines += _square_lines(document, summary)
    lines += _bce_lines(cmp_.get("bce_cost", []))
    lines += _stuck_lines(best)
    diverged = sorted({(c["loss"], c["lr"]) for c in document["cells"] if c["n_diverged"]})
    if diverged:
        lines.append(
            "Diverged runs (non-finite loss; excluded from means; their lr never chosen): "
            + "; ".join(f"{loss} at lr {lr:g}" for loss, lr in diverged)
            + "."
        )
    else:
        lines.append("No run diverged.")
    return lines


def _gradient_lines(rows, scales) -> list[str]:
    lines = []
    extremes = {min(scales), max(scales)}
    for r in rows:
        if r["init_scale"] not in extremes:
            continue
        label = (
            f"at a matched lr ({r['lr']:g} vs cce's {r['lr_reference']:g}"
            + (", also each one's chosen lr)" if r.get("also_own_best") else ")")
            if r["kind"] == "matched"
            else f"each at its own chosen lr ({r['lr']:g} vs cce's {r['lr_reference']:g})"
        )
        parts = []
        for key, what in (
            ("logits_grad_norm", "all samples"),
            ("logits_grad_norm_wrong", "misclassified samples"),
        ):
            a, b = r.get(key), r.get(f"{key}_reference")
            if not a or not b:
                continue
            ratio = f", ratio {a['mean'] / b['mean']:.2g}" if b["mean"] else ""
            verdict = compare_intervals(
                (a["mean"], a["ci95"]),
                (b["mean"], b["ci95"]),
                r["loss"],
                "cce",
                "larger than",
                "smaller than",
            )
            parts.append(
                f"{what} {_pm(a['mean'], a['ci95'], 1, '', 3)} vs "
                f"{_pm(b['mean'], b['ci95'], 1, '', 3)}{ratio}: {verdict}"
            )
        if parts:
            lines.append(
                f"Epoch-1 mean ‖∂ℓ/∂z‖, {r['loss']} vs cce at init scale {r['init_scale']:g}, "
                f"{label}: " + "; ".join(parts) + "."
            )
    return lines


def _square_lines(document, summary) -> list[str]:
    a, g = document.get("analysis"), document["grid"]
    if not a or "square" not in g["losses"]:
        return []
    ceiling, bound = a["least_squares"]["test_accuracy"], a["square_lr_bound"]
    lines = [
        f"Square loss vs the exact least-squares linear model (normal equations, float64, "
        f"test accuracy {100 * ceiling:.2f}%): "
        + "; ".join(
            f"init scale {s:g}: SGD {_pm(*_acc(b))}, "
            + compare_intervals(_acc(b), (ceiling, 0.0), "SGD", "the ceiling", "above", "below")
            for s in g["init_scales"]
            if (b := _best(best=document["best"], loss="square", init_scale=s)) and b["lr"]
        )
        + "."
    ]
    lrs = g["lrs_by_loss"].get("square", [])
    finite = [
        lr
        for lr in lrs
        if all(
            (c := _cell(summary, "square", s, lr)) and not c["n_diverged"] for s in g["init_scales"]
        )
    ]
    lines.append(
        f"Stable-lr bound of the square loss, 2/λ_max(AᵀA/N) = {bound:.3g} (full-batch GD "
        f"diverges above it); square's lrs {_list(lrs)}: finite at every init scale at "
        f"{_list(finite) or 'none'}."
    )
    return lines


def _bce_lines(rows) -> list[str]:
    lines = []
    for r in rows:
        cos = r["grad_cos_ce"]
        gap = r["test_accuracy_gap"]
        text = f"bce on the softmax, init scale {r['init_scale']:g} (lr {r['lr']:g}): "
        if cos["mean"]:
            text += (
                f"cosine of its logit gradient with cce's on the same logits "
                f"{_pm(cos['mean'][0], (cos['ci95'] or [None])[0], 1, '', 3)} in epoch 1, "
                f"{_pm(cos['mean'][-1], (cos['ci95'] or [None])[-1], 1, '', 3)} in the last"
            )
        if gap is not None:
            mean, half = gap["mean"][-1], gap["ci95"][-1]
            verdict = compare_difference(mean, half, "bce", "cce")
            # The effect per epoch on validation (test may exist only after the last epoch).
            per_epoch = r.get("val_accuracy_gap") or gap
            worst = min(range(len(per_epoch["mean"])), key=lambda i: per_epoch["mean"][i])
            cost = (
                "no cost of the independence assumption measured"
                if verdict == NO_DIFFERENCE
                else verdict
            )
            text += (
                f"; final test accuracy bce − cce, paired over {gap['n']} replicates "
                f"(cce at lr {r['lr_reference']:g}): {_pm(mean, half, 100, ' points')}: {cost}"
                f" (largest mean gap{' on validation' if per_epoch is not gap else ''} "
                f"{100 * per_epoch['mean'][worst]:+.2f} points, epoch {worst + 1})"
            )
        lines.append(text + ".")
    return lines


def _stuck_lines(best) -> list[str]:
    stuck = [b for b in best if b.get("n_stuck")]
    if not stuck:
        return ["No run at a chosen lr stayed near chance (final train accuracy ≤ 1/K + 5%)."]
    return [
        "Runs stuck near chance (final train accuracy ≤ 1/K + 5%) at the chosen lr: "
        + "; ".join(
            f"{b['loss']} at init scale {b['init_scale']:g}: {stuck_text(b)}" for b in stuck
        )
        + "."
    ]


def markdown(document, name: str) -> str:
    """``<name>.md``: the grid, the findings and the table of chosen-lr test accuracies."""
    g = document["grid"]
    banner = [f"> **{QUICK_NOTE}**", ""] if document.get("quick") else []
    lrs = "; ".join(f"{k} {_list(v)}" for k, v in g["lrs_by_loss"].items())
    lines = [
        f"# {name}: {len(g['losses'])} losses, {model_title(document)}",
        "",
        *banner,
        f"Generated by `python -m experiments.loss_sweep` from `{name}.jsonl`; every sentence "
        "below is computed from the numbers. Each loss's lr is chosen on the validation "
        "split; test accuracy is reported only at that lr.",
        "",
        f"Grid: losses {', '.join(g['losses'])}; init scales {_list(g['init_scales'])}; lrs "
        f"per loss (after extension) {lrs}; replicates {g['seeds']} (init seed = data seed); "
        f"{g['epochs']} epochs, batch {g['batch_size']}, {g['optimizer']}"
        + (f", first {g['train_subset']} training images" if g.get("train_subset") else "")
        + ".",
        "",
        "## Findings",
        "",
        *[f"- {line}" for line in document["summary"]],
        "",
        "## Final test accuracy at the lr chosen on validation",
        "",
        "Mean ± half-width of the 95% t-interval over replicates; † marks an lr still on an "
        "edge of its grid.",
        "",
        "| loss | " + " | ".join(f"scale {s:g}" for s in g["init_scales"]) + " |",
        "| --- |" + " --- |" * len(g["init_scales"]),
    ]
    for loss in g["losses"]:
        row = []
        for scale in g["init_scales"]:
            b = _best(document["best"], loss, scale)
            if not b or b["final_test_accuracy"] is None:
                row.append("diverged")
                continue
            edge = " †" if b.get("edge") else ""
            row.append(f"{_pm(*_acc(b), unit='')} (lr {b['lr']:g}{edge})")
        lines.append(f"| {loss} | " + " | ".join(row) + " |")
    if document.get("wall_seconds"):
        lines += ["", f"Wall time: {document['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"
