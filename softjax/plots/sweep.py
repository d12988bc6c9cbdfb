"""Figures of a loss sweep, drawn from its summary JSON only (``experiments.loss_sweep``).

``draw(results_path, out_dir)`` reads ``<name>.json`` and writes, each atomically:

* ``<name>_curves.png``: validation error (100 − accuracy, log scale) per epoch, mean and
  95% interval over replicates, one line per loss at its chosen lr (in the legend, † when
  still on a grid edge), and beside the last epoch the final test error at that lr (a
  diamond with its interval: the study evaluates test once, after the last epoch); one
  panel per group of init scales whose results agree within their intervals
  (:func:`softjax.sweeps.stats.collapse_scales`), so no two panels repeat; for softmax
  regression the exact least-squares model's validation error as a dashed line;
* ``<name>_heatmap.png``: final validation accuracy over loss × lr (each loss's own,
  extended grid; blank where a loss was not run), the chosen lr boxed with its test
  accuracy, diverged cells marked, and for softmax regression the square loss's stable-lr
  bound 2/λ_max as a vertical line;
* ``<name>_gradients.png``: per epoch, each loss at its chosen lr, smallest and largest
  init scale: ‖∂ℓ/∂z‖ on all and on misclassified samples, the saturated-and-wrong
  fraction, the cosine to CE's logit gradient and, for MLPs, f′ and the saturated fraction
  of every hidden layer (where the gradient dies; the first and last layer only for
  results written before the per-layer keys);
* ``<name>_stuck.png``: the fraction of runs stuck near chance per loss and init scale at
  the chosen lr, with 95% Wilson intervals; :func:`draw_stuck_overview` puts several
  models' (the MLP study's activations × depths) side by side in one figure.

Colours come from :mod:`softjax.plots.palette` (one colour per loss in every figure).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.loss_sweep.report import QUICK_NOTE, model_title  # noqa: E402
from softjax.plots.palette import LOSS_COLOURS, loss_colour  # noqa: E402
from softjax.results import atomic_save_figure  # noqa: E402
from softjax.sweeps.stats import best_of, cell, collapse_scales  # noqa: E402

__all__ = ["LOSS_COLOURS", "draw", "loss_label"]


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def loss_label(spec) -> str:
    """A loss spec as a label: its name, with its keyword arguments when it has some."""
    if isinstance(spec, list | tuple):
        name, kwargs = spec
        return f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    return str(spec)


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _chosen(doc, loss, scale):
    b = best_of(doc["best"], loss, scale)
    return None if b is None or b["lr"] is None else b


def _column(values, layer):
    """A per-epoch curve; ``layer``: the entry of each epoch's per-layer vector."""
    return values if layer is None else [None if v is None else v[layer] for v in values]


def _band(
    ax,
    doc,
    loss,
    scale,
    key,
    factor=1.0,
    complement=False,
    label=None,
    floor=None,
    layer=None,
    style="-",
):
    b = _chosen(doc, loss, scale)
    c = b and cell(doc, loss, scale, b["lr"])
    if not c or c["mean"].get(key) is None:
        return False
    mean = _arr(_column(c["mean"][key], layer)) * factor
    spread = (c.get("ci95") or {}).get(key)
    half = _arr(_column(spread, layer)) * factor if spread is not None else np.zeros_like(mean)
    if complement:
        mean = factor - mean
    epochs = np.arange(1, len(mean) + 1)
    colour = loss_colour(loss)
    ax.plot(epochs, mean, marker="o", ls=style, ms=3, color=colour, label=label)
    low = mean - half if floor is None else np.maximum(mean - half, floor)
    if ax.get_yscale() == "log":  # an interval reaching 0 is drawn down to mean/10
        low = np.where(low > 0, low, mean / 10)
    ax.fill_between(epochs, low, mean + half, color=colour, alpha=0.2, lw=0)
    ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: -(-len(epochs) // 12)])
    return True


def _lr_label(doc, loss, scale):
    b = _chosen(doc, loss, scale)
    if b is None:
        return f"{loss_label(loss)}: all diverged"
    return f"{loss_label(loss)} (lr {b['lr']:g}{' †edge' if b['edge'] else ''})"


def _title(doc) -> str:
    g = doc["grid"]
    subset = f", first {g['train_subset']} train images" if g.get("train_subset") else ""
    quick = f"\n{QUICK_NOTE}" if doc.get("quick") else ""
    return (
        f"{model_title(doc)}, {g['optimizer']} batch {g['batch_size']}, {g['epochs']} epochs"
        f"{subset}; mean and 95% interval over {len(g['seeds'])} replicates{quick}"
    )


def _wrap(text: str, width_inches: float) -> str:
    """Wrap each line of a 9-pt title to the figure's width (a one-panel figure clipped it)."""
    chars = max(40, int(width_inches * 13))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _save(fig, path, **kwargs):
    atomic_save_figure(fig, path, dpi=120, **kwargs)
    plt.close(fig)
    return path


def draw_curves(doc, path: Path) -> Path:
    g = doc["grid"]
    groups = collapse_scales(doc["best"], g["init_scales"])
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 5.4), sharey=True)
    axes = np.atleast_1d(axes)
    ceiling = (doc.get("analysis") or {}).get("least_squares", {}).get("val_accuracy")
    for ax, group in zip(axes, groups, strict=True):
        for i, loss in enumerate(g["losses"]):
            drawn = _band(
                ax,
                doc,
                loss,
                group[0],
                "val_accuracy",
                100.0,
                True,
                _lr_label(doc, loss, group[0]),
                floor=1.0,
            )
            b = _chosen(doc, loss, group[0])
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
        if ceiling is not None:
            ax.axhline(
                100 * (1 - ceiling),
                ls="--",
                color=loss_colour("square"),
                lw=1,
                label="least-squares linear model (exact), validation",
            )
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
        _wrap(
            "Validation error per epoch, each loss at the lr chosen on validation; "
            "◇ its final test error\n" + _title(doc),
            fig.get_figwidth(),
        ),
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)


def draw_heatmap(doc, path: Path) -> Path:
    g = doc["grid"]
    scales, losses = g["init_scales"], g["losses"]
    lrs = sorted({lr for v in g["lrs_by_loss"].values() for lr in v})
    fig, axes = plt.subplots(
        1, len(scales), figsize=(0.8 * len(lrs) * len(scales) + 2, 3.8), sharey=True
    )
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    bound = (doc.get("analysis") or {}).get("square_lr_bound")
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
        if bound is not None and "square" in losses:
            x = np.interp(
                np.log(bound), np.log(lrs), np.arange(len(lrs)), left=-0.5, right=len(lrs) - 0.5
            )
            ax.axvline(x, color=loss_colour("square"), ls="--", lw=1.5)
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs], fontsize=7, rotation=45)
        ax.set_yticks(range(len(losses)), [loss_label(x) for x in losses])
        ax.set_xlabel("learning rate")
        ax.set_title(f"init scale {scale:g}", fontsize=9)
    fig.colorbar(image, ax=list(axes), label="final validation accuracy (%)", shrink=0.9)
    fig.suptitle(
        "Final validation accuracy (%), loss × lr (each loss's extended grid; blank: not "
        "run); boxed: chosen on validation, with its test accuracy; †edge: still on a grid "
        "edge"
        + (f"; dashed: the square loss's stable-lr bound 2/λmax = {bound:.2g}" if bound else "")
        + "\n"
        + _title(doc),
        fontsize=9,
        y=1.1,
    )
    return _save(fig, path, bbox_inches="tight")


ROWS = (
    ("logits_grad_norm", None, 1.0, "‖∂ℓ/∂z‖, all samples", "log"),
    ("logits_grad_norm_wrong", None, 1.0, "‖∂ℓ/∂z‖, misclassified", "log"),
    ("saturated_wrong", None, 100.0, "saturated & wrong (%)", "linear"),
    ("grad_cos_ce", None, 1.0, "cos(∂ℓ/∂z, CE's)", "linear"),
)
"""``(history key, hidden layer index or None, factor, y label, y scale)`` per row."""
OLD_HIDDEN_ROWS = (
    ("hidden_fprime_first", None, 1.0, "mean f′, first hidden", "linear"),
    ("hidden_fprime_last", None, 1.0, "mean f′, last hidden", "linear"),
    ("hidden_saturated_first", None, 100.0, "saturated units (%), first", "linear"),
    ("hidden_saturated_last", None, 100.0, "saturated units (%), last", "linear"),
)
OLD_ONE_HIDDEN_ROWS = (
    ("hidden_fprime_first", None, 1.0, "mean f′, hidden layer", "linear"),
    ("hidden_saturated_first", None, 100.0, "saturated units (%)", "linear"),
)
"""The first/last-layer rows of results written before the per-layer keys."""


LAYER_STYLES = ("-", "--", ":", "-.")
"""Hidden layer i's line style in the gradients figure (colour is the loss; the styles
repeat past four layers)."""


def hidden_rows(doc) -> tuple:
    """The f′ row and the saturated-units row, each drawing every hidden layer (its layer
    field a tuple of layer indices), when the summary holds the per-layer keys
    (``softjax.hidden.LAYER_KEYS``); else the first and last layer's rows of older results
    (one row each when they are one layer)."""
    depth = len(doc["grid"]["sizes"]) - 2
    if depth == 0:
        return ()
    per_layer = any((c.get("mean") or {}).get("hidden_fprime") for c in doc.get("cells", ()))
    if not per_layer:
        return OLD_HIDDEN_ROWS if depth > 1 else OLD_ONE_HIDDEN_ROWS
    where = ", every hidden layer" if depth > 1 else ", hidden layer"
    return (
        ("hidden_fprime", tuple(range(depth)), 1.0, f"mean f′{where}", "linear"),
        ("hidden_saturated", tuple(range(depth)), 100.0, f"saturated units (%){where}", "linear"),
    )


def draw_gradients(doc, path: Path) -> Path:
    g = doc["grid"]
    scales = sorted({min(g["init_scales"]), max(g["init_scales"])})
    rows = ROWS + hidden_rows(doc)
    fig, axes = plt.subplots(
        len(rows),
        len(scales),
        figsize=(5 * len(scales), 2.2 * len(rows)),
        sharex=True,
        squeeze=False,
    )
    for c, scale in enumerate(scales):
        for r, (key, layer, factor, label, yscale) in enumerate(rows):
            ax = axes[r, c]
            ax.set_yscale(yscale)
            floor = None if key == "grad_cos_ce" or yscale == "log" else 0.0
            layers = layer if isinstance(layer, tuple) else (layer,)
            for loss in g["losses"]:
                for i in layers:
                    _band(
                        ax,
                        doc,
                        loss,
                        scale,
                        key,
                        factor,
                        label=_lr_label(doc, loss, scale) if r == 0 else None,
                        floor=floor,
                        layer=i,
                        style=LAYER_STYLES[(i or 0) % len(LAYER_STYLES)],
                    )
            ax.set_ylabel(label, fontsize=8)
            ax.grid(alpha=0.3, which="both")
            if r == 0:
                ax.set_title(f"init scale {scale:g}", fontsize=9)
                ax.legend(fontsize=6)
            if len(layers) > 1:
                ax.legend(
                    handles=[
                        plt.Line2D([], [], color="0.3", ls=LAYER_STYLES[i % len(LAYER_STYLES)])
                        for i in layers
                    ],
                    labels=[f"layer {i + 1}" for i in layers],
                    fontsize=6,
                    title="hidden",
                    title_fontsize=6,
                )
        axes[-1, c].set_xlabel("epoch (running means over its minibatches)")
    fig.suptitle(
        "Logit gradients and saturation per epoch, each loss at its chosen lr\n"
        "(saturated & wrong: max softmax > 0.99 on a wrong class;\n"
        "hidden unit saturated: f′ < 0.01·max f′)\n" + _title(doc),
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)


def _stuck_bars(ax, doc):
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
                x, 100 * f, [[100 * (f - lo)], [100 * (hi - f)]], color="k", lw=1, capsize=2
            )
    ax.set_xticks(range(len(scales)), [f"init scale {s:g}" for s in scales])
    ax.set_ylim(0, 102)
    ax.set_ylabel("runs stuck near chance (%)")


STUCK_TITLE = "Runs whose final train accuracy ≤ 1/K + 5%, at the chosen lr; 95% Wilson intervals"


def draw_stuck(doc, path: Path) -> Path:
    g = doc["grid"]
    fig, ax = plt.subplots(
        figsize=(max(7.0, 0.5 * len(g["init_scales"]) * len(g["losses"]) + 2), 4.0)
    )
    _stuck_bars(ax, doc)
    ax.legend(fontsize=7, ncol=len(g["losses"]), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.set_title(f"{STUCK_TITLE}\n" + _title(doc), fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def draw_stuck_overview(results_paths, path: Path) -> Path:
    """One stuck-runs panel per model (e.g. each activation × depth of the MLP study), on
    a shared axis: where runs stay at chance, across models, in one figure."""
    docs = [_load(Path(p)) for p in results_paths]
    cols = min(3, len(docs))
    rows = -(-len(docs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False, sharey=True)
    for ax, doc in zip(axes.flat, docs, strict=False):
        _stuck_bars(ax, doc)
        ax.set_title(model_title(doc), fontsize=9)
    for ax in list(axes.flat)[len(docs) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    g = docs[0]["grid"]
    quick = f"\n{QUICK_NOTE}" if any(d.get("quick") for d in docs) else ""
    fig.suptitle(
        f"{STUCK_TITLE}\n{g['optimizer']} batch {g['batch_size']}, {g['epochs']} "
        f"epochs, {len(g['seeds'])} replicates per bar{quick}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, path)


def draw(results_path, out_dir) -> list[Path]:
    """Draws the sweep figures from ``results_path`` into ``out_dir``."""
    results_path, out_dir = Path(results_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = _load(results_path)
    stem = results_path.stem
    return [
        draw_curves(doc, out_dir / f"{stem}_curves.png"),
        draw_heatmap(doc, out_dir / f"{stem}_heatmap.png"),
        draw_gradients(doc, out_dir / f"{stem}_gradients.png"),
        draw_stuck(doc, out_dir / f"{stem}_stuck.png"),
    ]
