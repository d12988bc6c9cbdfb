"""The mlp_depth figure, from ``mlp_depth.json`` only (see :mod:`.report`)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.plots.common import PERCENT, spread_text, yerr  # noqa: E402
from softjax.results import atomic_save_figure, read_json  # noqa: E402
from softjax.sweeps import t_quantile_975  # noqa: E402

STAGES = (("init", "at init"), ("trained", "after training"))
ACTIVATION_COLORS = {"sigmoid": "tab:red", "tanh": "tab:orange", "relu": "tab:blue"}


CHANCE = 0.1 + 0.05
"""A run "stays at chance" when its final test accuracy is at most 1/10 + 5%."""


def runs_by_activation(doc: dict) -> dict[str, list[dict]]:
    """The first seed's runs per activation, by depth (for the per-layer panels)."""
    first = min(r.get("seed", 0) for r in doc["runs"])
    by_act: dict[str, list[dict]] = {}
    for run in doc["runs"]:
        if run.get("seed", 0) == first:
            by_act.setdefault(run["activation"], []).append(run)
    return {a: sorted(runs, key=lambda r: r["depth"]) for a, runs in by_act.items()}


def accuracy_stats(doc: dict) -> dict[tuple[str, int], dict]:
    """Per (activation, depth): final test accuracy over seeds as ``mean``, ``ci95``
    (t-interval half-width, None for one seed), ``n`` and ``n_chance`` (see CHANCE)."""
    groups: dict[tuple[str, int], list[float]] = {}
    for run in doc["runs"]:
        if run["test_accuracy"] is not None:
            groups.setdefault((run["activation"], run["depth"]), []).append(run["test_accuracy"])
    out = {}
    for key, accs in groups.items():
        a = np.asarray(accs, float)
        n = len(a)
        half = t_quantile_975(n - 1) * a.std(ddof=1) / math.sqrt(n) if n > 1 else None
        out[key] = {
            "mean": float(a.mean()),
            "ci95": half,
            "n": n,
            "n_chance": int(np.sum(a <= CHANCE)),
        }
    return out


def floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def epochs_of(doc: dict) -> int:
    return doc["provenance"]["config"]["base_train_config"]["epochs"]


def lr_words(doc: dict) -> str:
    """``lr searched per (activation, depth)``, or the one fixed lr of results written
    before the search."""
    if "searches" in doc:
        return "lr searched per (activation, depth)"
    return f"lr {doc['provenance']['config']['base_train_config']['lr']} (one fixed lr)"


def draw(results_path, out_dir) -> list[Path]:
    """Draws ``<stem>.png`` from ``<stem>.json`` (``mlp_depth`` or ``mlp_depth_quick``).

    Args:
      results_path: ``mlp_depth.json`` written by ``experiments.mlp_depth``.
      out_dir: the folder to write the figure into.

    Returns:
      The paths written.
    """
    doc = read_json(results_path)
    by_act = runs_by_activation(doc)
    acts = list(by_act)
    depths = sorted({r["depth"] for r in doc["runs"]})
    cmap = plt.get_cmap("viridis")
    depth_color = {d: cmap(i / max(len(depths) - 1, 1)) for i, d in enumerate(depths)}
    epochs = epochs_of(doc)
    stage_title = {"init": "at init", "trained": f"after {epochs} epoch{'s' * (epochs > 1)}"}

    all_norms = np.concatenate([floats(r[s]["grad_norm"]) for r in doc["runs"] for s, _ in STAGES])
    all_norms = all_norms[np.isfinite(all_norms) & (all_norms > 0)]
    ylim = (10 ** math.floor(np.log10(all_norms.min())), 10 ** math.ceil(np.log10(all_norms.max())))

    ncols = len(acts) + 1
    fig, axes = plt.subplots(2, ncols, figsize=(4.3 * ncols, 8.4), squeeze=False)
    for col, act in enumerate(acts):
        for row, (stage, _) in enumerate(STAGES):
            ax = axes[row, col]
            for run in by_act[act]:
                norms = floats(run[stage]["grad_norm"])
                layers = np.arange(1, len(norms) + 1)
                ax.plot(
                    layers,
                    norms,
                    "o-",
                    color=depth_color[run["depth"]],
                    ms=4,
                    label=f"depth {run['depth']}",
                )
            ax.set_yscale("log")
            ax.set_ylim(*ylim)
            ax.set_xticks(range(1, max(depths) + 2))
            ax.set_xlabel("layer l  (1 = input side, last = output layer)")
            ax.set_ylabel("‖∂L/∂W_l‖_F")
            ax.set_title(f"{act} MLP, {stage_title[stage]}")
            ax.grid(True, which="major", alpha=0.3)
            if col == 0 and row == 0:
                ax.legend(title="hidden layers", fontsize=8, title_fontsize=8, ncol=2)

    ax = axes[0, -1]
    stats = accuracy_stats(doc)
    n_seeds = len({r.get("seed", 0) for r in doc["runs"]})
    for act in acts:
        ds = [d for d in depths if (act, d) in stats]
        mean = np.array([100 * stats[act, d]["mean"] for d in ds])
        colour = ACTIVATION_COLORS.get(act)
        if n_seeds < 2:  # no interval over one replicate
            ax.plot(ds, mean, "o-", label=act, color=colour)
            continue
        half = np.array([100 * (stats[act, d]["ci95"] or 0.0) for d in ds])
        err = yerr(mean, mean - half, mean + half, PERCENT)  # clipped to 0–100%
        ax.errorbar(ds, mean, err, fmt="o-", capsize=3, label=act, color=colour)
    ax.axhline(100 * CHANCE, color="grey", ls=":", lw=1, label="chance + 5%")
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(depths)
    ax.set_title(f"test accuracy {stage_title['trained']}\n{spread_text(n_seeds, 'seeds')}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)

    ax = axes[1, -1]
    deepest = max(depths)
    for act in acts:
        run = next(r for r in by_act[act] if r["depth"] == deepest)
        for stage, style in (("init", "o-"), ("trained", "s--")):
            delta = floats(run[stage]["mean_abs_delta"])
            ax.plot(
                np.arange(1, len(delta) + 1),
                delta,
                style,
                ms=4,
                color=ACTIVATION_COLORS.get(act),
                label=f"{act}, {stage_title[stage]}",
            )
    ax.set_yscale("log")
    ax.set_xticks(range(1, deepest + 2))
    ax.set_xlabel("layer l")
    ax.set_ylabel("mean |δ_l| = mean |∂ℓ_i/∂Z_l|")
    ax.set_title(f"backpropagated error, depth {deepest}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)

    config = doc["provenance"]["config"]
    base = config["base_train_config"]
    fig.suptitle(
        f"Per-layer gradient norms of MLPs on MNIST (width {config['width']}, "
        f"{config['train_size']} training images, SGD {lr_words(doc)}, batch "
        f"{base['batch_size']}, CCE, {base['init']} init)\nnorms on "
        f"{config['stats_size']} fixed training images, by the backprop recursion",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out = Path(out_dir) / f"{Path(results_path).stem}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_figure(fig, out, dpi=110)
    plt.close(fig)
    return [out]
