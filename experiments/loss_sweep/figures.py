"""The loss study's figures: the general sweep figures (:mod:`softjax.plots.sweep`) with
the study's title line, the exact least-squares model's validation error on the curves
and the square loss's stable-lr bound on the heatmap (softmax regression), and the MLP
study's stuck-runs overview across models. Drawn from the study's summary JSON only."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from experiments.loss_sweep.report import QUICK_NOTE, model_title  # noqa: E402
from softjax.plots.common import headline, save, spread_text  # noqa: E402
from softjax.plots.gradients import draw_gradients  # noqa: E402
from softjax.plots.sweep import (  # noqa: E402
    STUCK_CAPTION,
    STUCK_TITLE,
    draw_curves,
    draw_heatmap,
    draw_stuck,
    stuck_bars,
)
from softjax.results import read_json  # noqa: E402


def title(doc) -> str:
    """The line under each figure's heading: model, optimizer, epochs, replicates."""
    g = doc["grid"]
    subset = f", first {g['train_subset']} train images" if g.get("train_subset") else ""
    quick = f"\n{QUICK_NOTE}" if doc.get("quick") else ""
    return (
        f"{model_title(doc)}, {g['optimizer']} batch {g['batch_size']}, {g['epochs']} epochs"
        f"{subset}; {spread_text(len(g['seeds']))}{quick}"
    )


def draw(results_path, out_dir) -> list[Path]:
    """The four figures of one model's sweep, from ``results_path`` into ``out_dir``."""
    results_path, out_dir = Path(results_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = read_json(results_path)
    stem, line = results_path.stem, title(doc)
    analysis = doc.get("ceiling") or {}
    ceiling = analysis.get("least_squares", {}).get("val_accuracy")
    reference = None
    if ceiling is not None:
        reference = (ceiling, "least-squares linear model (exact), validation", "square")
    bound = analysis.get("square_lr_bound")
    lr_line = None
    if bound is not None and "square" in doc["grid"]["losses"]:
        lr_line = (bound, "square", f"the square loss's stable-lr bound 2/λmax = {bound:.2g}")
    return [
        draw_curves(doc, out_dir / f"{stem}_curves.png", title=line, reference=reference),
        draw_heatmap(  # validation accuracy over every lr the search tried
            doc | {"cells": doc.get("search_cells", doc["cells"])},
            out_dir / f"{stem}_heatmap.png",
            title=line,
            lr_line=lr_line,
        ),
        draw_gradients(doc, out_dir / f"{stem}_gradients.png", title=line),
        draw_stuck(doc, out_dir / f"{stem}_stuck.png", title=line),
    ]


def draw_stuck_overview(results_paths, path: Path) -> Path:
    """One stuck-runs panel per model (each activation × depth of the MLP study), on a
    shared axis: where runs stay at chance, across models, in one figure."""
    docs = [read_json(Path(p)) for p in results_paths]
    cols = min(3, len(docs))
    rows = -(-len(docs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False, sharey=True)
    for ax, doc in zip(axes.flat, docs, strict=False):
        stuck_bars(ax, doc)
        ax.set_title(model_title(doc), fontsize=9)
    for ax in list(axes.flat)[len(docs) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    g = docs[0]["grid"]
    quick = f"\n{QUICK_NOTE}" if any(d.get("quick") for d in docs) else ""
    headline(
        fig,
        f"{STUCK_TITLE}\n{g['optimizer']} batch {g['batch_size']}, {g['epochs']} "
        f"epochs, {len(g['seeds'])} replicates per bar",
        caption=f"{STUCK_CAPTION}{quick.replace(chr(10), ' ')}",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return save(fig, path)
