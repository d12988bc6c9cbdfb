"""The loss sweep's prose, generated from its numbers (``experiments.loss_sweep``).

:func:`summary_text` writes each finding as a comparison the data decides (at the lr each
loss gets on validation, never on test); :func:`markdown` lays the document out as
``<name>.md``.
"""

from __future__ import annotations

from softjax.sweeps.stats import best_of as _best
from softjax.sweeps.stats import cell as _cell


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.2f}%"


def summary_text(summary, best, grid) -> list[str]:
    """Findings written from the numbers: each sentence is a comparison the data decides.

    ``best`` is :func:`softjax.sweeps.select_best`'s choice on validation; every test
    number quoted is the test accuracy at that chosen lr.
    """
    lines = []
    scales, losses = grid["init_scales"], grid["losses"]
    # 1. Best accuracy per loss and scale.
    for scale in scales:
        parts = []
        for loss in losses:
            b = _best(best, loss, scale)
            parts.append(
                f"{loss} {_pct(b and b['final_test_accuracy'])}"
                + (f" (lr {b['lr']:g})" if b and b["lr"] is not None else "")
            )
        lines.append(
            f"Init scale {scale:g}, final test accuracy at the lr chosen on validation: "
            + ", ".join(parts)
            + "."
        )
    # 2. Where each loss stands relative to CCE.
    if "cce" in losses:
        for loss in [loss for loss in losses if loss != "cce"]:
            gaps = []
            for scale in scales:
                b, ref = _best(best, loss, scale), _best(best, "cce", scale)
                if (
                    b
                    and ref
                    and b["final_test_accuracy"] is not None
                    and ref["final_test_accuracy"] is not None
                ):
                    gaps.append((scale, b["final_test_accuracy"] - ref["final_test_accuracy"]))
            close = [s for s, g in gaps if g >= -0.01]
            far = [(s, g) for s, g in gaps if g < -0.01]
            verdict = f"{loss} vs cce (each at its lr chosen on validation):"
            if close:
                verdict += f" within 1 point of cce (or better) at init scale {_list(close)}"
            if far:
                worst = min(far, key=lambda t: t[1])
                verdict += ("; " if close else " ") + (
                    f"more than 1 point behind at init scale {_list([s for s, _ in far])} "
                    f"(worst {100 * worst[1]:+.2f} points at scale {worst[0]:g})"
                )
            lines.append(verdict + ".")
    # 3. Saturation and gradient size at the extremes of init scale (epoch 1: running
    # means over its minibatches, so training has already begun to move them).
    small, large = min(scales), max(scales)
    for loss in losses:
        b_small, b_large = _best(best, loss, small), _best(best, loss, large)
        if not (b_small and b_large and b_small["lr"] is not None and b_large["lr"] is not None):
            continue
        c_small = _cell(summary, loss, small, b_small["lr"])
        c_large = _cell(summary, loss, large, b_large["lr"])
        g_s, g_l = c_small["mean"]["logits_grad_norm"][0], c_large["mean"]["logits_grad_norm"][0]
        s_s, s_l = c_small["mean"]["saturated_wrong"][0], c_large["mean"]["saturated_wrong"][0]
        if None in (g_s, g_l, s_s, s_l):
            continue
        lines.append(
            f"{loss}, epoch 1: mean ‖∂ℓ/∂z‖ {g_s:.3g} at init scale {small:g} vs {g_l:.3g} at "
            f"{large:g}; saturated-and-wrong fraction {100 * s_s:.1f}% vs {100 * s_l:.1f}%."
        )
    # 4. The SPEC §6 claim, checked on the large-scale numbers.
    claim = _claim(summary, best, large, losses)
    lines.extend(claim)
    # 5. Square loss on the logits vs the report that it can match CE (Hui & Belkin 2021).
    if "square" in losses and "cce" in losses:
        gaps = {
            scale: (_best(best, "square", scale), _best(best, "cce", scale)) for scale in scales
        }
        close = [
            s
            for s, (b, ref) in gaps.items()
            if b
            and ref
            and b["final_test_accuracy"] is not None
            and ref["final_test_accuracy"] is not None
            and b["final_test_accuracy"] >= ref["final_test_accuracy"] - 0.01
        ]
        stable = sorted(
            {c["lr"] for c in summary["cells"] if c["loss"] == "square" and not c["n_diverged"]}
        )
        lines.append(
            "Square loss on the logits (reported competitive with CE by Hui & Belkin 2021, "
            "with tuned lr and rescaling for many classes): "
            + (
                f"within 1 point of cce at init scale {_list(close)}"
                if close
                else "not within 1 point of cce at any init scale of this grid"
            )
            + f"; it trained without diverging only at lr {_list(stable) or 'none'} of "
            f"{_list(grid['lrs'])}, so this grid under-tunes it: the gap measured here may "
            "overstate what square loss loses, and is no verdict on it."
        )
    # 6. Chosen lrs on the edge of the grid: the ranking there is limited by the grid.
    edges = {}
    for b in best:
        if b.get("edge"):
            edges.setdefault((b["loss"], b["lr"], b["edge"]), []).append(b["init_scale"])
    if edges:
        lines.append(
            "Lr chosen on the edge of the lr grid (a wider grid could change these cells): "
            + "; ".join(
                f"{loss} at its {edge}est lr {lr:g} for init scale {_list(sorted(sc))}"
                for (loss, lr, edge), sc in edges.items()
            )
            + "."
        )
    # 7. Divergence.
    diverged = [c for c in summary["cells"] if c["n_diverged"]]
    if diverged:
        by_loss = {}
        for c in diverged:
            by_loss.setdefault(c["loss"], set()).add(c["lr"])
        lines.append(
            "Diverged runs (non-finite loss; excluded from means): "
            + "; ".join(f"{loss} at lr {_list(sorted(lrs))}" for loss, lrs in by_loss.items())
            + "."
        )
    else:
        lines.append("No run diverged.")
    return lines


def _list(values):
    return ", ".join(f"{v:g}" for v in values)


def _claim(summary, best, large, losses) -> list[str]:
    """SPEC §6 at the largest init scale: gradient per saturated-wrong sample, per loss."""
    rows = {}
    for loss in losses:
        b = _best(best, loss, large)
        if not b or b["lr"] is None:
            continue
        c = _cell(summary, loss, large, b["lr"])
        g, s = c["mean"]["logits_grad_norm"][0], c["mean"]["saturated_wrong"][0]
        if g is not None and s is not None:
            rows[loss] = (g, s, b["final_test_accuracy"])
    out = []
    if "mse" in rows and "cce" in rows:
        (g_m, s_m, a_m), (g_c, s_c, a_c) = rows["mse"], rows["cce"]
        out.append(
            f"SPEC §6 at init scale {large:g}: in epoch 1 the mean ‖∂ℓ/∂z‖ is {g_m:.3g} for mse "
            f"and {g_c:.3g} for cce (ratio {g_m / g_c:.2g}) while {100 * s_m:.1f}% / "
            f"{100 * s_c:.1f}% of samples are saturated on a wrong class; "
            + (
                "mse's gradient is the smaller one, as the ŷ(1 − ŷ) factors predict"
                if g_m < g_c
                else "mse's gradient is NOT smaller here, contrary to the simple prediction"
            )
            + f", and mse ends at {_pct(a_m)} vs cce's {_pct(a_c)}."
        )
        small = min(c["init_scale"] for c in summary["cells"])
        b_small = _best(best, "cce", small)
        if b_small and b_small["lr"] is not None and small != large:
            g_small = _cell(summary, "cce", small, b_small["lr"])["mean"]["logits_grad_norm"][0]
            # Whether "most samples are already right" is read off the epoch-1 train
            # accuracy of the same cell, not assumed.
            train_acc = _cell(summary, "cce", large, _best(best, "cce", large)["lr"])["mean"][
                "train_accuracy"
            ][0]
            if train_acc is None:
                right = ""
            elif train_acc > 0.5:
                right = f", most of which the model already gets right ({_pct(train_acc)} train "
                right += "accuracy in epoch 1),"
            else:
                right = f" ({_pct(train_acc)} train accuracy in epoch 1),"
            out.append(
                f"cce's ‖ŷ − y‖ in epoch 1 is {g_c:.3g} at init scale {large:g} vs {g_small:.3g} "
                f"at {small:g}: "
                + (
                    "it grows with saturation instead of vanishing, as SPEC §6 says."
                    if g_c >= g_small
                    else "it is smaller at the saturated init here; this is a mean over all "
                    f"samples during epoch 1{right} not the gradient of a saturated wrong "
                    "sample."
                )
            )
    if "bce" in rows and "cce" in rows:
        (g_b, _, a_b), (_, _, a_c) = rows["bce"], rows["cce"]
        text = (
            f"bce on the softmax at init scale {large:g}: ‖∂ℓ/∂z‖ {g_b:.3g} in epoch 1, final "
            f"{_pct(a_b)} vs cce's {_pct(a_c)}"
        )
        if a_b is not None and a_c is not None:
            gap = 100 * (a_b - a_c)
            if gap < -1:
                text += f": the independence mismatch costs {-gap:.2f} points here."
            elif gap > 1:
                text += f": bce is {gap:.2f} points ahead, so the mismatch costs nothing here."
            else:
                text += ": within 1 point of cce here."
        out.append(text)
    return out


def markdown(document, name: str) -> str:
    """``<name>.md``: the grid, the findings and the table of chosen-lr test accuracies."""
    grid = document["grid"]
    lines = [
        f"# {name}: five losses for MNIST softmax regression",
        "",
        f"Generated by `python -m experiments.loss_sweep` from `{name}.jsonl`; every sentence "
        "below is computed from the numbers. Each loss's lr is chosen on the validation "
        "split; test accuracy is reported only at that lr.",
        "",
        f"Grid: losses {', '.join(grid['losses'])}; init scales {_list(grid['init_scales'])}; "
        f"lrs {_list(grid['lrs'])}; init seeds {grid['seeds']} × data seeds "
        f"{grid['data_seeds']}; {grid['epochs']} epochs, batch {grid['batch_size']}, SGD"
        + (f", first {grid['train_subset']} training images" if grid["train_subset"] else "")
        + ".",
        "",
        "## Findings",
        "",
        *[f"- {line}" for line in document["summary"]],
        "",
        "## Final test accuracy at the lr chosen on validation",
        "",
        "Mean ± half-width of the 95% t-interval over seeds (± std for results written "
        "before intervals); † marks an lr on the edge of the lr grid.",
        "",
        "| loss | " + " | ".join(f"scale {s:g}" for s in grid["init_scales"]) + " |",
        "| --- |" + " --- |" * len(grid["init_scales"]),
    ]
    for loss in grid["losses"]:
        cells = []
        for scale in grid["init_scales"]:
            b = _best(document["best"], loss, scale)
            if not b or b["final_test_accuracy"] is None:
                cells.append("diverged")
            else:
                spread = b.get("final_test_accuracy_ci95", b.get("final_test_accuracy_std"))
                edge = " †" if b.get("edge") else ""
                cells.append(
                    f"{100 * b['final_test_accuracy']:.2f} ± {100 * (spread or 0):.2f} "
                    f"(lr {b['lr']:g}{edge})"
                )
        lines.append(f"| {loss} | " + " | ".join(cells) + " |")
    if document.get("wall_seconds"):
        lines += ["", f"Wall time of the sweep: {document['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"
