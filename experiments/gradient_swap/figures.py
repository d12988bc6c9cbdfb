"""The gradient-swap study's figures, drawn from the results JSON alone: test accuracy
against init scale for the four rules (one panel per model and dataset), the 2 × 2
effect estimates with their 95% intervals per init scale, and the saturated-and-wrong
fraction over epochs for the four rules at each model's largest init scale.

Every interval is a 95% Student-t interval over replicates (none is drawn over one
replicate) and is clipped to its quantity's range."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import softjax  # noqa: E402
from experiments.gradient_swap import analysis  # noqa: E402
from softjax.plots.common import clip_band, spread_text, yerr  # noqa: E402
from softjax.sweeps.stats import t_quantile_975  # noqa: E402

LABELS = {
    "cce": "CE",
    "mse": "MSE (softmax)",
    "cce_dir_mse_norm": "CE dir., MSE norm",
    "mse_dir_cce_norm": "MSE dir., CE norm",
}
COLOURS = {rule: softjax.LOSSES.record(rule).colour for rule in analysis.RULES}
"""One colour per loss, the registry's (CE's direction in blues, MSE's in reds)."""
STYLES = {"cce": "-", "mse": "-", "cce_dir_mse_norm": "--", "mse_dir_cce_norm": "--"}


def mean_ci(values, low=-math.inf, high=math.inf):
    """``(mean, lower, upper)`` of the finite ``values``: the 95% t-interval clipped to
    ``[low, high]``; no interval (both bounds the mean) for fewer than two values; None
    for none."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, m, m
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    h = t_quantile_975(len(v) - 1) * sd / math.sqrt(len(v))
    lo, hi, _ = clip_band(m - h, m + h, (low, high))
    return m, float(lo), float(hi)


def _spread(doc) -> str:
    """What the intervals are over: the replicates, or "n = 1, no interval"."""
    prov = doc["provenance"]
    return spread_text(len(prov.get("seeds") or prov["config"].get("seeds") or ()))


def _runs(doc, **match):
    return [r for r in doc["runs"] if all(r[k] == v for k, v in match.items())]


def settings(doc) -> list[tuple[str, str]]:
    """(dataset, model) pairs in the config's order."""
    cfg = doc["provenance"]["config"]
    have = {(r["dataset"], r["model"]) for r in doc["runs"]}
    return [(d, m) for d in cfg["datasets"] for m in cfg["models"] if (d, m) in have]


def _grid(n: int):
    cols = min(n, 5)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows + 0.6), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def accuracy_figure(doc, path: Path) -> Path:
    pairs = settings(doc)
    fig, axes = _grid(len(pairs))
    for ax, (dataset, model) in zip(axes, pairs, strict=False):
        for rule in analysis.RULES:
            pts = []
            for s in sorted({r["init_scale"] for r in _runs(doc, dataset=dataset, model=model)}):
                got = mean_ci(
                    [
                        r["test_short"]
                        for r in _runs(doc, dataset=dataset, model=model, rule=rule, init_scale=s)
                    ],
                    0.0,
                    1.0,
                )
                if got:
                    pts.append((s, *got))
            if pts:
                x, m, lo, hi = zip(*pts, strict=True)
                ax.errorbar(
                    x,
                    [100 * v for v in m],
                    yerr=[
                        [100 * (a - b) for a, b in zip(m, lo, strict=True)],
                        [100 * (b - a) for a, b in zip(m, hi, strict=True)],
                    ],
                    marker="o",
                    capsize=3,
                    color=COLOURS[rule],
                    ls=STYLES[rule],
                    label=LABELS[rule],
                )
        ax.set_xscale("log")
        ax.set_ylim(0, 100)
        ax.set_title(f"{dataset}, {model}", fontsize=9)
        ax.set_xlabel("init scale")
        ax.set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"Test accuracy at the fixed budget, four rules\n({_spread(doc)}, each rule at its own lr)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def effects_figure(doc, path: Path) -> Path:
    short = doc["analysis"]["short"]
    names = list(analysis.EFFECTS)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    delta = 100 * doc["analysis"]["delta"]
    for ax, name in zip(axes[0], names, strict=True):
        xs, ms, lo, hi = [], [], [], []
        for entry in short:
            v = {d["comparison"]: d for d in entry["verdicts"]}.get(name)
            if v is None:
                continue
            xs.append(entry["init_scale"])
            ms.append(100 * v["mean"])
            lo.append(100 * v["low"])
            hi.append(100 * v["high"])
        if xs:  # a difference of accuracies lies in ±100 pp
            err = yerr(ms, lo, hi, (-100.0, 100.0))
            ax.errorbar(xs, ms, yerr=err, marker="o", capsize=3, color="k")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axhspan(-delta, delta, color="tab:green", alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("init scale")
        ax.set_ylabel("pp of test accuracy")
        ax.set_title(name, fontsize=9)
    fig.suptitle(
        f"Factorial effects pooled over models (95% interval; green: ±{delta:.2g} pp margin)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def saturation_figure(doc, path: Path) -> Path:
    pairs = settings(doc)
    fig, axes = _grid(len(pairs))
    for ax, (dataset, model) in zip(axes, pairs, strict=False):
        runs = _runs(doc, dataset=dataset, model=model)
        top = max(r["init_scale"] for r in runs)
        for rule in analysis.RULES:
            mine = [
                r
                for r in runs
                if r["init_scale"] == top and r["rule"] == rule and not r["diverged"]
            ]
            curves = [r["curves"].get("saturated_wrong") or [] for r in mine]
            n = min((len(c) for c in curves), default=0)
            stats = [mean_ci([c[e] for c in curves], 0.0, 1.0) for e in range(n)]
            stats = [s for s in stats if s]
            if not stats:
                continue
            ep = list(range(1, len(stats) + 1))
            ax.plot(
                ep,
                [100 * s[0] for s in stats],
                color=COLOURS[rule],
                ls=STYLES[rule],
                label=LABELS[rule],
            )
            if len(mine) >= 2:
                ax.fill_between(
                    ep,
                    [100 * s[1] for s in stats],
                    [100 * s[2] for s in stats],
                    color=COLOURS[rule],
                    alpha=0.15,
                    lw=0,
                )
        ax.set_ylim(0, 100)
        ax.set_title(f"{dataset}, {model}, init {top:g}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("saturated and wrong (%)")
    axes[0].legend(fontsize=7)
    fig.suptitle(
        "Saturated-and-wrong fraction of training samples at the largest init "
        f"scale\n({_spread(doc)})",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(doc, stem: str, out_dir: Path) -> list[Path]:
    """The three figures as ``<stem>_accuracy.png``, ``<stem>_effects.png`` and
    ``<stem>_saturation.png``; none when the JSON has no runs."""
    if not doc["runs"]:
        return []
    out_dir = Path(out_dir)
    return [
        accuracy_figure(doc, out_dir / f"{stem}_accuracy.png"),
        effects_figure(doc, out_dir / f"{stem}_effects.png"),
        saturation_figure(doc, out_dir / f"{stem}_saturation.png"),
    ]
