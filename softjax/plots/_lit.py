"""Helpers the literature experiments' figures and summaries share (golik, hui_belkin,
label_noise): formatting a mean ± 95% interval, naming a loss spec, and the verdict rule.

A difference "holds" when the two 95% intervals do not overlap; otherwise the summaries
call the losses indistinguishable at this number of seeds.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

LABELS = {"cce": "CCE", "mse": "MSE (softmax)", "mae": "MAE (softmax)", "square": "square"}


def loss_label(spec) -> str:
    """``"cce"`` → CCE; ``["square_rescaled", {"k": 15, "M": 30}]`` → square k=15 M=30."""
    if isinstance(spec, list | tuple):
        name, kwargs = spec
        if name == "square_rescaled":
            return f"square k={kwargs.get('k', 1):g} M={kwargs.get('M', 1):g}"
        return f"{name} {json.dumps(kwargs)}"
    return LABELS.get(spec, spec)


def pct(stat, digits: int = 2) -> str:
    """``{"mean": .9812, "ci95": .0011}`` → ``98.12 ± 0.11%``; ``—`` when missing."""
    if not stat or stat.get("mean") is None:
        return "—"
    ci = stat.get("ci95")
    ci_text = f" ± {100 * ci:.{digits}f}" if ci is not None else ""
    return f"{100 * stat['mean']:.{digits}f}{ci_text}%"


def final_test(row) -> dict:
    """A best row's final test accuracy as ``{"mean", "ci95"}``."""
    return {"mean": row.get("final_test_accuracy"), "ci95": row.get("final_test_accuracy_ci95")}


def compare(a: dict, b: dict) -> int:
    """+1 when interval ``a`` lies wholly above ``b``, −1 below, 0 when they overlap."""
    if a.get("mean") is None or b.get("mean") is None:
        return 0
    ha, hb = a.get("ci95") or 0.0, b.get("ci95") or 0.0
    if a["mean"] - ha > b["mean"] + hb:
        return 1
    if a["mean"] + ha < b["mean"] - hb:
        return -1
    return 0


def errorbar(ax, xs, stats, **kwargs):
    """Means with 95% error bars; missing points are skipped."""
    pts = [
        (x, s["mean"], s.get("ci95") or 0.0)
        for x, s in zip(xs, stats, strict=True)
        if s and s.get("mean") is not None
    ]
    if pts:
        x, m, e = zip(*pts, strict=True)
        ax.errorbar(
            x, [100 * v for v in m], yerr=[100 * v for v in e], capsize=3, marker="o", **kwargs
        )
