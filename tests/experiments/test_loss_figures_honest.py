"""The loss study's figures honest at a glance (issue 33): the MLP overview keeps its
accuracy intervals inside 0–100% and its lr labels, to three digits, inside their panels;
its titles take at most two lines; one replicate is drawn without an interval."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from experiments.loss_sweep import figures
from experiments.loss_sweep import overview as ov


def _doc(activation, sizes, *, seeds=(0, 1, 2), lr=0.00111111, ci=0.4, quick=False):
    """A model's summary reduced to what the overview draws: each loss's chosen entry."""
    best = [
        {
            "loss": loss,
            "init_scale": 1.0,
            "lr": lr,
            "edge": "high",
            "final_val_accuracy": acc,
            "final_val_accuracy_ci95": ci,
            "final_test_accuracy": acc,
            "final_test_accuracy_ci95": ci,
            "n": len(seeds),
        }
        for loss, acc in (("cce", 0.97), ("mse", 0.05))
    ]
    grid = {
        "losses": ["cce", "mse"],
        "init_scales": [1.0],
        "seeds": list(seeds),
        "sizes": sizes,
        "activation": activation,
        "activations": ["sigmoid", "relu"],
        "dataset": "mnist",
        "epochs": 2,
        "batch_size": 64,
        "optimizer": "sgd",
        "train_subset": 1000 if quick else None,
    }
    # per-replicate test accuracies spread so that the raw intervals leave 0–100%
    spread = {"cce": (0.999, 0.9, 0.99), "mse": (0.001, 0.12, 0.01)}
    runs = [
        {"loss": loss, "init_scale": 1.0, "seed": s, "test_short": spread[loss][i % 3]}
        for loss in ("cce", "mse")
        for i, s in enumerate(seeds)
    ]
    return {"grid": grid, "cells": [], "best": best, "runs": runs, "quick": quick}


@pytest.fixture
def kept(monkeypatch):
    figs = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig))
    yield figs
    monkeypatch.undo()
    plt.close("all")


def test_the_overview_keeps_intervals_and_lr_labels_inside_its_panels(tmp_path, kept):
    docs = [_doc(a, s, quick=True) for a in ("sigmoid", "relu") for s in ([784, 8, 10],)]
    ov.draw_overview(docs, tmp_path / "ov.png")
    (fig,) = kept
    assert fig._suptitle.get_text().count("\n") <= 1
    renderer = fig.canvas.get_renderer()
    labels = 0
    for ax in fig.axes:
        ys = [y for c in ax.collections for seg in c.get_segments() for y in seg[:, 1]]
        assert ys and 0.0 <= min(ys) and max(ys) <= 100.0
        box = ax.get_window_extent(renderer)
        for t in ax.texts:
            if "0.00111" not in t.get_text():
                continue
            assert t.get_text() == "0.00111†"
            inner = t.get_window_extent(renderer)
            assert box.y0 <= inner.y0 and inner.y1 <= box.y1, t.get_text()
            labels += 1
    assert labels == 4  # two losses × two models
    # The quick-run warning is still on the figure, under it and under the legend.
    (note,) = [t for t in fig.texts if "QUICK RUN" in t.get_text()]
    legend = fig.legends[0].get_window_extent(renderer)
    assert note.get_window_extent(renderer).y1 <= legend.y0


def test_the_title_line_says_n_1_no_interval_over_one_replicate():
    assert "n = 1, no interval" in figures.title(_doc("sigmoid", [784, 8, 10], seeds=(0,)))
    many = figures.title(_doc("sigmoid", [784, 8, 10]))
    assert "95% interval over 3 replicates" in many and "n = 1" not in many
