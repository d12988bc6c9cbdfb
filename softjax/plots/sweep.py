"""Figures of any sweep, drawn from its records alone (see :mod:`softjax.plots.records`).

``draw(source, out_dir)`` takes what ``softjax.sweep`` returned or wrote (the records, its
``.jsonl`` or ``.meta.json`` file, or a summary JSON holding ``cells``, ``best`` and
``grid``) and writes, each atomically:

* ``<stem>_curves.png``: validation error (100 − accuracy, log scale) per epoch, mean and
  95% interval over replicates, one line per loss at its lr chosen on validation (in the
  legend, † when that lr is on an edge of its grid), and beside the last epoch the final
  test error at that lr (a diamond with its interval); one panel per group of init scales
  whose results agree within their intervals (:func:`softjax.sweeps.stats.collapse_scales`),
  so no two panels repeat; ``reference=(value, label)`` adds a dashed validation
  accuracy line (e.g. a closed-form model's);
* ``<stem>_heatmap.png``: final validation accuracy over loss × lr (blank where a loss was
  not run at that lr), the chosen lr boxed with its test accuracy, diverged cells marked;
  ``lr_line=(lr, loss, label)`` adds a vertical line at ``lr`` in ``loss``'s colour
  (e.g. a stable-lr bound);
* ``<stem>_gradients.png``: per epoch, each loss at its chosen lr, smallest and largest
  init scale: ‖∂ℓ/∂z‖ on all and on misclassified samples, the saturated-and-wrong
  fraction, the cosine to CE's logit gradient and, for MLPs, f′ and the saturated fraction
  of every hidden layer (rows whose history key the records lack stay empty);
* ``<stem>_stuck.png``: the fraction of runs stuck near chance per loss and init scale at
  the chosen lr, with 95% Wilson intervals.

Colours come from :mod:`softjax.plots.palette` (one colour per loss in every figure).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.plots.common import (  # noqa: E402
    band,
    chosen,
    loss_label,
    lr_label,
    save,
    title_of,
    wrap,
)
from softjax.plots.gradients import draw_gradients  # noqa: E402
from softjax.plots.palette import loss_colour  # noqa: E402
from softjax.plots.records import summary_document  # noqa: E402
from softjax.sweeps.stats import best_of, cell, collapse_scales  # noqa: E402

__all__ = ["STUCK_TITLE", "draw", "draw_curves", "draw_heatmap", "draw_stuck", "stuck_bars"]


def draw_curves(doc, path: Path, *, title: str | None = None, reference=None) -> Path:
    """The validation-error curves (module docstring); ``reference``: ``(validation
    accuracy, label)`` of a dashed grey line (``(accuracy, label, loss)``: in that loss's
    colour), or None."""
    g = doc["grid"]
    groups = collapse_scales(doc["best"], g["init_scales"])
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 5.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, group in zip(axes, groups, strict=True):
        for i, loss in enumerate(g["losses"]):
            drawn = band(
                ax,
                doc,
                loss,
                group[0],
                "val_accuracy",
                100.0,
                True,
                lr_label(doc, loss, group[0]),
                floor=1.0,
            )
            b = chosen(doc, loss, group[0])
            if drawn and b.get("final_test_accuracy") is not None:
                last = len(cell(doc, loss, group[0], b["lr"])["mean"]["val_accuracy"])
                ax.errorbar(
                    last + 0.2 + 0.06 * i,  # side by side, one per loss
                    100 * (1 - b["final_test_accuracy"]),
                    yerr=100 * (b.get("final_test_accuracy_ci95") or 0),
                    marker="D",
                    ms=4,
                    mfc="none",
                    color=loss_colour(loss),
                    lw=1,
                )
        if reference is not None:
            value, label, *colour = reference
            colour = loss_colour(colour[0]) if colour else "0.4"
            ax.axhline(100 * (1 - value), ls="--", color=colour, lw=1, label=label)
        ax.set_title(f"init scale {', '.join(f'{s:g}' for s in group)}", fontsize=9)
        ax.set_yscale("log")
        ax.set_ylim(1, 100)
        ax.set_yticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        # Below the panel: inside it, it hid the worst loss's curve and test diamond.
        ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    axes[0].set_ylabel("validation error (%), log scale")
    fig.suptitle(
        wrap(
            "Validation error per epoch, each loss at the lr chosen on validation; "
            "◇ its final test error\n" + title_of(doc, title),
            fig.get_figwidth(),
        ),
        fontsize=9,
    )
    fig.tight_layout()
    return save(fig, path)


def draw_heatmap(doc, path: Path, *, title: str | None = None, lr_line=None) -> Path:
    """Final validation accuracy over loss × lr (module docstring); ``lr_line``: ``(lr,
    loss, label)`` of a dashed vertical line in that loss's colour, or None."""
    g = doc["grid"]
    scales, losses = g["init_scales"], g["losses"]
    lrs = sorted({c["lr"] for c in doc["cells"]})
    fig, axes = plt.subplots(
        1, len(scales), figsize=(0.8 * len(lrs) * len(scales) + 2, 3.8), sharey=True
    )
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    image = None
    for ax, scale in zip(axes, scales, strict=True):
        acc = np.full((len(losses), len(lrs)), np.nan)
        for i, loss in enumerate(losses):
            chosen = best_of(doc["best"], loss, scale)
            for j, lr in enumerate(lrs):
                c = cell(doc, loss, scale, lr)
                if c is None:
                    continue
                label = "–"
                if c.get("final_val_accuracy") is not None:
                    acc[i, j] = 100 * c["final_val_accuracy"]
                    label = f"{acc[i, j]:.1f}"
                if c["n_diverged"]:
                    label = "div" if c["n_diverged"] == c["n"] else f"{label}\n{c['n_diverged']}div"
                if chosen is not None and chosen["lr"] == lr:
                    test = chosen.get("final_test_accuracy")
                    label += "" if test is None else f"\ntest {100 * test:.1f}"
                    label += "\n†edge" if chosen["edge"] else ""
                    ax.add_patch(
                        plt.Rectangle(
                            (j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec=loss_colour(loss)
                        )
                    )
                ax.text(j, i, label, ha="center", va="center", fontsize=6)
        image = ax.imshow(acc, vmin=0, vmax=100, cmap=cmap, aspect="auto", alpha=0.85)
        if lr_line is not None:
            x = np.interp(
                np.log(lr_line[0]),
                np.log(lrs),
                np.arange(len(lrs)),
                left=-0.5,
                right=len(lrs) - 0.5,
            )
            ax.axvline(x, color=loss_colour(lr_line[1]), ls="--", lw=1.5)
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs], fontsize=7, rotation=45)
        ax.set_yticks(range(len(losses)), [loss_label(x) for x in losses])
        ax.set_xlabel("learning rate")
        ax.set_title(f"init scale {scale:g}", fontsize=9)
    fig.colorbar(image, ax=list(axes), label="final validation accuracy (%)", shrink=0.9)
    fig.suptitle(
        "Final validation accuracy (%), loss × lr (each loss's extended grid; blank: not "
        "run); boxed: chosen on validation, with its test accuracy; †edge: still on a grid "
        "edge"
        + (f"; dashed: {lr_line[2]}" if lr_line is not None else "")
        + "\n"
        + title_of(doc, title),
        fontsize=9,
        y=1.1,
    )
    return save(fig, path, bbox_inches="tight")


def stuck_bars(ax, doc):
    """The stuck-near-chance bars of every loss and init scale on ``ax``."""
    g = doc["grid"]
    scales, losses = g["init_scales"], g["losses"]
    width = 0.8 / len(losses)
    for i, loss in enumerate(losses):
        for j, scale in enumerate(scales):
            b = best_of(doc["best"], loss, scale)
            if b is None or b.get("stuck_fraction") is None:
                continue
            lo, hi = b["stuck_ci95"]
            x = j + (i - (len(losses) - 1) / 2) * width
            f = b["stuck_fraction"]
            ax.bar(x, 100 * f, width, color=loss_colour(loss), label=loss if j == 0 else None)
            ax.errorbar(
                x,
                100 * f,
                [[100 * max(f - lo, 0.0)], [100 * max(hi - f, 0.0)]],  # rounding: lo ≈ f = 0
                color="k",
                lw=1,
                capsize=2,
            )
    ax.set_xticks(range(len(scales)), [f"init scale {s:g}" for s in scales])
    ax.set_ylim(0, 102)
    ax.set_ylabel("runs stuck near chance (%)")


STUCK_TITLE = "Runs whose final train accuracy ≤ 1/K + 5%, at the chosen lr; 95% Wilson intervals"


def draw_stuck(doc, path: Path, *, title: str | None = None) -> Path:
    """The fraction of runs stuck near chance at each chosen lr (module docstring)."""
    g = doc["grid"]
    fig, ax = plt.subplots(
        figsize=(max(7.0, 0.5 * len(g["init_scales"]) * len(g["losses"]) + 2), 4.0)
    )
    stuck_bars(ax, doc)
    ax.legend(fontsize=7, ncol=len(g["losses"]), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.set_title(f"{STUCK_TITLE}\n" + title_of(doc, title), fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def draw(source, out_dir, stem: str | None = None, *, title: str | None = None) -> list[Path]:
    """Draws the four sweep figures of ``source`` into ``out_dir``.

    Args:
      source: a sweep's records, or the path of its ``.jsonl``, ``.meta.json`` or summary
        ``.json`` (:func:`softjax.plots.records.summary_document`).
      out_dir: the folder the figures go to (created if needed).
      stem: the figures' file name prefix; default: the file's name without its suffixes,
        or ``"sweep"`` for records.
      title: the line under each figure's heading; default :func:`softjax.plots.common.describe`.

    Returns:
      The paths of the curves, heatmap, gradients and stuck figures.
    """
    doc = summary_document(source)
    if stem is None:
        stem = Path(source).name.split(".")[0] if isinstance(source, str | Path) else "sweep"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        draw_curves(doc, out_dir / f"{stem}_curves.png", title=title),
        draw_heatmap(doc, out_dir / f"{stem}_heatmap.png", title=title),
        draw_gradients(doc, out_dir / f"{stem}_gradients.png", title=title),
        draw_stuck(doc, out_dir / f"{stem}_stuck.png", title=title),
    ]
