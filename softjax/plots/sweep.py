"""Figures of a loss sweep, drawn from its summary JSON only (``experiments.loss_sweep``).

``draw(results_path, out_dir)`` reads ``<name>.json`` (per-cell statistics over seeds from
:func:`softjax.sweeps.summarize`, and each (loss, init scale)'s lr chosen on validation by
:func:`softjax.sweeps.select_best`) and writes, each atomically:

* ``<name>_curves.png``: test error (100 − accuracy, log scale) per epoch, mean and 95%
  interval over seeds, one line per loss at its chosen lr, one panel per init scale;
* ``<name>_heatmap.png``: final validation accuracy over loss × lr (what the choice saw),
  one panel per init scale, the chosen lr boxed with its test accuracy, diverged cells
  marked (a document without validation metrics shows test accuracy and says so);
* ``<name>_saturation.png``: mean ‖∂ℓ/∂z‖ and the saturated-and-wrong fraction per epoch,
  per loss at its chosen lr, at the smallest and the largest init scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.results import atomic_save_figure  # noqa: E402
from softjax.sweeps.stats import best_of, cell  # noqa: E402

LOSS_COLOURS = {
    "cce": "tab:blue",
    "mse": "tab:red",
    "bce": "tab:orange",
    "sigmoid_bce": "tab:green",
    "square": "tab:purple",
}


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def loss_label(spec) -> str:
    """A loss spec as a label: its name, with its keyword arguments when it has some."""
    if isinstance(spec, list | tuple):
        name, kwargs = spec
        return f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    return str(spec)


def _colour(spec):
    return LOSS_COLOURS.get(spec if isinstance(spec, str) else spec[0])


def _best_lr(doc, loss, scale):
    b = best_of(doc["best"], loss, scale)
    return None if b is None else b["lr"]


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _band(ax, doc, loss, scale, key, scale_by=1.0, complement=False):
    lr = _best_lr(doc, loss, scale)
    if lr is None:
        return False
    c = cell(doc, loss, scale, lr)
    if c is None or c["mean"].get(key) is None:
        return False
    mean = _arr(c["mean"][key]) * scale_by
    # The 95% t-interval of the mean (older documents: ± one std).
    spread = c.get("ci95", c.get("std", {})).get(key)
    half = _arr(spread) * scale_by if spread is not None else np.zeros_like(mean)
    if complement:  # accuracy -> error, so a log axis separates 8% from 12% and from 90%
        mean = scale_by - mean
    epochs = np.arange(1, len(mean) + 1)
    colour = _colour(loss)
    ax.plot(epochs, mean, "o-", ms=3, color=colour, label=loss_label(loss))
    ax.fill_between(epochs, mean - half, mean + half, color=colour, alpha=0.2, lw=0)
    return True


def _lr_line(doc, scale, per_line: int = 5) -> str:
    """The best lr of each loss at ``scale``, for a panel title."""
    parts = []
    for loss in doc["grid"]["losses"]:
        lr = _best_lr(doc, loss, scale)
        parts.append(f"{loss_label(loss)} {'–' if lr is None else f'{lr:g}'}")
    rows = [", ".join(parts[i : i + per_line]) for i in range(0, len(parts), per_line)]
    return "lr chosen on val: " + "\n".join(rows)


def _loss_legend(fig, doc, **kwargs):
    handles = [
        plt.Line2D([], [], color=_colour(loss), marker="o", ms=3, label=loss_label(loss))
        for loss in doc["grid"]["losses"]
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, **kwargs)


def _title(doc) -> str:
    g = doc["grid"]
    spread = "and 95% interval" if any("ci95" in c for c in doc["cells"]) else "± std"
    subset = f", first {g['train_subset']} train images" if g.get("train_subset") else ""
    return (
        f"MNIST softmax regression, SGD batch {g['batch_size']}, {g['epochs']} epochs{subset}; "
        f"mean {spread} over {len(g['seeds'])} init × {len(g['data_seeds'])} data seeds"
    )


def draw_curves(doc, path: Path) -> Path:
    g = doc["grid"]
    scales = g["init_scales"]
    fig, axes = plt.subplots(1, len(scales), figsize=(3.6 * len(scales), 4.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, scale in zip(axes, scales, strict=True):
        for loss in g["losses"]:
            _band(ax, doc, loss, scale, "test_accuracy", 100.0, complement=True)
        ax.set_title(f"init scale {scale:g}\n{_lr_line(doc, scale, 3)}", fontsize=8)
        ax.set_yscale("log")
        ax.set_yticks([5, 10, 20, 50, 100], ["5", "10", "20", "50", "100"])
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.set_xticks(range(1, g["epochs"] + 1))
    axes[0].set_ylabel("test error (%), log scale")
    fig.suptitle(
        "Test error per epoch, each loss at the lr chosen on validation\n" + _title(doc),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _loss_legend(fig, doc)
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def draw_heatmap(doc, path: Path) -> Path:
    g = doc["grid"]
    scales, losses, lrs = g["init_scales"], g["losses"], g["lrs"]
    split = "val" if any(c.get("final_val_accuracy") is not None for c in doc["cells"]) else "test"
    fig, axes = plt.subplots(1, len(scales), figsize=(3.3 * len(scales) + 1, 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    image = None
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    for ax, scale in zip(axes, scales, strict=True):
        acc = np.full((len(losses), len(lrs)), np.nan)
        for i, loss in enumerate(losses):
            chosen = best_of(doc["best"], loss, scale)
            for j, lr in enumerate(lrs):
                c = cell(doc, loss, scale, lr)
                label = "–"
                if c is not None:
                    if c.get(f"final_{split}_accuracy") is not None:
                        acc[i, j] = 100 * c[f"final_{split}_accuracy"]
                        label = f"{acc[i, j]:.1f}"
                    if c["n_diverged"]:
                        label = (
                            "all\ndiverged"
                            if c["n_diverged"] == c["n"]
                            else f"{label}\n{c['n_diverged']}/{c['n']} div"
                        )
                if chosen is not None and chosen["lr"] == lr and split == "val":
                    test = chosen.get("final_test_accuracy")
                    label += "" if test is None else f"\ntest {100 * test:.1f}"
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2))
                ax.text(j, i, label, ha="center", va="center", fontsize=7)
        image = ax.imshow(acc, vmin=0, vmax=100, cmap=cmap, aspect="auto", alpha=0.85)
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_yticks(range(len(losses)), [loss_label(loss) for loss in losses])
        ax.set_xlabel("learning rate")
        ax.set_title(f"init scale {scale:g}")
    what = "validation" if split == "val" else "test (no validation split in these results)"
    fig.colorbar(image, ax=list(axes), label=f"final {split} accuracy (%)", shrink=0.9)
    boxed = "; boxed: the lr chosen on validation, with its test accuracy" if split == "val" else ""
    fig.suptitle(
        f"Final {what} accuracy (%), loss × lr; grey: every seed diverged{boxed}\n" + _title(doc),
        fontsize=10,
        y=1.08,
    )
    atomic_save_figure(fig, path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_saturation(doc, path: Path) -> Path:
    g = doc["grid"]
    scales = [min(g["init_scales"]), max(g["init_scales"])]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    rows = (
        ("logits_grad_norm", 1.0, "mean ‖∂ℓ/∂z‖ per sample", "log"),
        ("saturated_wrong", 100.0, "saturated on a wrong class (%)", "linear"),
    )
    for r, (key, factor, label, yscale) in enumerate(rows):
        for c, scale in enumerate(scales):
            ax = axes[r, c]
            for loss in g["losses"]:
                _band(ax, doc, loss, scale, key, factor)
            ax.set_yscale(yscale)
            ax.set_ylabel(label)
            ax.set_title(f"init scale {scale:g}; {_lr_line(doc, scale)}", fontsize=8)
            ax.grid(alpha=0.3, which="both")
            ax.set_xticks(range(1, g["epochs"] + 1))
            if r == 1:
                ax.set_xlabel("epoch (running mean over its minibatches)")
    fig.suptitle(
        "Logit gradient and saturation, small vs large init, each loss at its chosen lr\n"
        "saturated-wrong: max softmax prob > 0.99 on a wrong class\n" + _title(doc),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _loss_legend(fig, doc)
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def draw(results_path, out_dir) -> list[Path]:
    """Draws the three sweep figures from ``results_path`` into ``out_dir``."""
    results_path, out_dir = Path(results_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = _load(results_path)
    stem = results_path.stem
    return [
        draw_curves(doc, out_dir / f"{stem}_curves.png"),
        draw_heatmap(doc, out_dir / f"{stem}_heatmap.png"),
        draw_saturation(doc, out_dir / f"{stem}_saturation.png"),
    ]
