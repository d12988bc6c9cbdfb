"""Figures of a loss sweep, drawn from its summary JSON only (``experiments.loss_sweep``).

``draw(results_path, out_dir)`` reads ``<name>.json`` (per-cell means and standard
deviations over seeds, written by :func:`softjax.sweeping.summarize`) and writes:

* ``<name>_curves.png``: test error (100 − accuracy, log scale) per epoch, mean ± std
  over seeds, one line per loss at its best lr, one panel per init scale;
* ``<name>_heatmap.png``: final test accuracy over loss × lr, one panel per init scale,
  diverged cells marked;
* ``<name>_saturation.png``: mean ‖∂ℓ/∂z‖ and the saturated-and-wrong fraction per epoch,
  per loss at its best lr, at the smallest and the largest init scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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


def _cell(doc, loss, scale, lr):
    return next(
        (
            c
            for c in doc["cells"]
            if c["loss"] == loss and c["init_scale"] == scale and c["lr"] == lr
        ),
        None,
    )


def _best_lr(doc, loss, scale):
    b = next((b for b in doc["best"] if b["loss"] == loss and b["init_scale"] == scale), None)
    return None if b is None else b["lr"]


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _band(ax, doc, loss, scale, key, scale_by=1.0, complement=False):
    lr = _best_lr(doc, loss, scale)
    if lr is None:
        return False
    cell = _cell(doc, loss, scale, lr)
    if cell is None or cell["mean"][key] is None:
        return False
    mean, std = _arr(cell["mean"][key]) * scale_by, _arr(cell["std"][key]) * scale_by
    if complement:  # accuracy -> error, so a log axis separates 8% from 12% and from 90%
        mean = scale_by - mean
    epochs = np.arange(1, len(mean) + 1)
    colour = LOSS_COLOURS.get(loss)
    ax.plot(epochs, mean, "o-", ms=3, color=colour, label=loss)
    ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
    return True


def _lr_line(doc, scale, per_line: int = 5) -> str:
    """The best lr of each loss at ``scale``, for a panel title."""
    parts = []
    for loss in doc["grid"]["losses"]:
        lr = _best_lr(doc, loss, scale)
        parts.append(f"{loss} {'–' if lr is None else f'{lr:g}'}")
    rows = [", ".join(parts[i : i + per_line]) for i in range(0, len(parts), per_line)]
    return "best lr: " + "\n".join(rows)


def _loss_legend(fig, doc, **kwargs):
    handles = [
        plt.Line2D([], [], color=LOSS_COLOURS.get(loss), marker="o", ms=3, label=loss)
        for loss in doc["grid"]["losses"]
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, **kwargs)


def _title(doc) -> str:
    g = doc["grid"]
    subset = f", first {g['train_subset']} train images" if g.get("train_subset") else ""
    return (
        f"MNIST softmax regression, SGD batch {g['batch_size']}, {g['epochs']} epochs{subset}; "
        f"mean ± std over {len(g['seeds'])} init × {len(g['data_seeds'])} data seeds"
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
    fig.suptitle("Test error per epoch, each loss at its best lr\n" + _title(doc), fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _loss_legend(fig, doc)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def draw_heatmap(doc, path: Path) -> Path:
    g = doc["grid"]
    scales, losses, lrs = g["init_scales"], g["losses"], g["lrs"]
    fig, axes = plt.subplots(1, len(scales), figsize=(3.3 * len(scales) + 1, 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    image = None
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    for ax, scale in zip(axes, scales, strict=True):
        acc = np.full((len(losses), len(lrs)), np.nan)
        for i, loss in enumerate(losses):
            for j, lr in enumerate(lrs):
                cell = _cell(doc, loss, scale, lr)
                label = "–"
                if cell is not None:
                    if cell["final_test_accuracy"] is not None:
                        acc[i, j] = 100 * cell["final_test_accuracy"]
                        label = f"{acc[i, j]:.1f}"
                    if cell["n_diverged"]:
                        label = (
                            "all\ndiverged"
                            if cell["n_diverged"] == cell["n"]
                            else f"{label}\n{cell['n_diverged']}/{cell['n']} div"
                        )
                ax.text(j, i, label, ha="center", va="center", fontsize=7)
        image = ax.imshow(acc, vmin=0, vmax=100, cmap=cmap, aspect="auto", alpha=0.85)
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_yticks(range(len(losses)), losses)
        ax.set_xlabel("learning rate")
        ax.set_title(f"init scale {scale:g}")
    fig.colorbar(image, ax=list(axes), label="final test accuracy (%)", shrink=0.9)
    fig.suptitle(
        "Final test accuracy (%), loss × lr; grey: every seed diverged\n" + _title(doc),
        fontsize=10,
        y=1.08,
    )
    fig.savefig(path, dpi=120, bbox_inches="tight")
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
        "Logit gradient and saturation, small vs large init, each loss at its best lr\n"
        "saturated-wrong: max softmax prob > 0.99 on a wrong class\n" + _title(doc),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _loss_legend(fig, doc)
    fig.savefig(path, dpi=120)
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
