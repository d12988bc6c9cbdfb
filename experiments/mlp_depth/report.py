"""Figure and summary for ``python -m experiments.mlp_depth``, drawn from ``mlp_depth.json`` only.

The figure has one column per activation and a row for init and one for after training:
‖∂L/∂W_l‖ (log scale) against the layer index l, one line per depth (the first seed's
runs). A last column shows the test accuracy per depth, mean and 95% t-interval over the
seeds, and, for the deepest nets, the mean |δ_l| per layer, the quantity seed 003's
recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) propagates. The summary counts, per
activation and depth, the seeds whose final test accuracy stays at chance (≤ 1/10 + 5%),
so "stays at chance" is stated only where the numbers show it.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.loss_sweep.report import NO_DIFFERENCE  # noqa: E402
from softjax.plots.common import PERCENT, fmt_lr, headline, save, spread_text, yerr  # noqa: E402
from softjax.results import atomic_write_text, read_json  # noqa: E402
from softjax.sweeps import t_quantile_975  # noqa: E402

STAGES = (("init", "at init"), ("trained", "after training"))
ACTIVATION_COLORS = {"sigmoid": "tab:red", "tanh": "tab:orange", "relu": "tab:blue"}
# Upper bounds of f′ (seed 003's derivatives), quoted in the summary.
FPRIME_BOUNDS = {"sigmoid": "σ′ ≤ 1/4", "tanh": "tanh′ ≤ 1", "relu": "ReLU′ ∈ {0, 1}"}


CHANCE = 0.1 + 0.05
"""A run "stays at chance" when its final test accuracy is at most 1/10 + 5%."""


def _runs_by_activation(doc: dict) -> dict[str, list[dict]]:
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


def _floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _epochs(doc: dict) -> int:
    return doc["provenance"]["config"]["base_train_config"]["epochs"]


def draw(results_path, out_dir) -> list[Path]:
    """Draws ``<stem>.png`` from ``<stem>.json`` (``mlp_depth`` or ``mlp_depth_quick``).

    Args:
      results_path: ``mlp_depth.json`` written by ``experiments.mlp_depth``.
      out_dir: the folder to write the figure into.

    Returns:
      The paths written.
    """
    doc = read_json(results_path)
    by_act = _runs_by_activation(doc)
    acts = list(by_act)
    depths = sorted({r["depth"] for r in doc["runs"]})
    cmap = plt.get_cmap("viridis")
    depth_color = {d: cmap(i / max(len(depths) - 1, 1)) for i, d in enumerate(depths)}
    epochs = _epochs(doc)
    stage_title = {"init": "at init", "trained": f"after {epochs} epoch{'s' * (epochs > 1)}"}

    all_norms = np.concatenate([_floats(r[s]["grad_norm"]) for r in doc["runs"] for s, _ in STAGES])
    all_norms = all_norms[np.isfinite(all_norms) & (all_norms > 0)]
    ylim = (10 ** math.floor(np.log10(all_norms.min())), 10 ** math.ceil(np.log10(all_norms.max())))

    ncols = len(acts) + 1
    fig, axes = plt.subplots(2, ncols, figsize=(4.3 * ncols, 8.4), squeeze=False)
    for col, act in enumerate(acts):
        for row, (stage, _) in enumerate(STAGES):
            ax = axes[row, col]
            for run in by_act[act]:
                norms = _floats(run[stage]["grad_norm"])
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
        half = np.array([100 * (stats[act, d]["ci95"] or 0.0) for d in ds])
        err = yerr(mean, mean - half, mean + half, PERCENT) if n_seeds >= 2 else None
        ax.errorbar(ds, mean, err, fmt="o-", capsize=3, label=act, color=ACTIVATION_COLORS.get(act))
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
            delta = _floats(run[stage]["mean_abs_delta"])
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
    headline(
        fig,
        f"Per-layer gradient norms of MLPs on MNIST (width {config['width']}, "
        f"{config['train_size']} training images, SGD lr {fmt_lr(base['lr'])}, batch "
        f"{base['batch_size']}, CCE, {base['init']} init)\nnorms on "
        f"{config['stats_size']} fixed training images, by the backprop recursion",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out = Path(out_dir) / f"{Path(results_path).stem}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    save(fig, out, dpi=110)
    return [out]


def _geometric_mean(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.log(values))))


def layer_ratios(run: dict, stage: str) -> dict:
    """Summary ratios of one run's layer statistics at ``stage`` ("init" or "trained").

    Returns:
      ``grad_ratio`` = ‖∂L/∂W_1‖ / ‖∂L/∂W_L‖, ``delta_ratio`` = mean|δ_1| / mean|δ_L|,
      ``delta_per_layer`` = the geometric-mean factor by which mean|δ| changes per layer
      going towards the input, and ``mean_fprime`` = the mean f′ over the hidden layers.
    """
    stats = run[stage]
    norms = _floats(stats["grad_norm"])
    delta = _floats(stats["mean_abs_delta"])
    steps = len(delta) - 1
    return {
        "grad_ratio": norms[0] / norms[-1],
        "delta_ratio": delta[0] / delta[-1],
        "delta_per_layer": (delta[0] / delta[-1]) ** (1 / steps) if steps else float("nan"),
        "mean_fprime": float(np.mean(stats["mean_fprime"])) if stats["mean_fprime"] else None,
    }


def _fmt(x, spec=".3g") -> str:
    return "—" if x is None or not np.isfinite(x) else format(x, spec)


def summary_markdown(doc: dict, source: str = "mlp_depth.json") -> str:
    """The auto-generated summary: accuracy table, depth ratios and a computed reading."""
    by_act = _runs_by_activation(doc)
    depths = sorted({r["depth"] for r in doc["runs"]})
    deepest = max(depths)
    config = doc["provenance"]["config"]
    base = config["base_train_config"]
    epochs = _epochs(doc)
    lines = [
        "# Gradient flow through sigmoid, tanh and ReLU MLPs",
        "",
        f"Generated by `python -m experiments.mlp_depth` from `{source}`; do not edit.",
        "",
        f"MNIST, {config['train_size']} training and {config['test_size']} test images; "
        f"hidden width {config['width']}; {base['init']} init; SGD lr {base['lr']}, batch "
        f"{base['batch_size']}, {epochs} epoch(s) of cross-entropy; seeds "
        f"{doc['provenance'].get('seeds')}. "
        f"Gradients of the batch-mean loss on the first {config['stats_size']} training "
        "images by the closed-form recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) "
        "(seed 003, `softjax.backprop`). Total time "
        f"{doc['total_wall_s']:.0f} s.",
        "",
        "## Test accuracy (%)",
        "",
        "Mean ± 95% t-interval half-width over seeds (n seeds; runs at chance, ≤ 15%).",
        "",
        "| activation | " + " | ".join(f"depth {d}" for d in depths) + " |",
        "|---" * (len(depths) + 1) + "|",
    ]
    stats = accuracy_stats(doc)
    for act in by_act:
        cells = " | ".join(_acc_cell(stats.get((act, d))) for d in depths)
        lines.append(f"| {act} | {cells} |")
    lines += [
        "",
        f"## Depth {deepest}: first layer against the output layer",
        "",
        "| activation | stage | ‖∂L/∂W_1‖ / ‖∂L/∂W_L‖ | mean|δ_1| / mean|δ_L| "
        "| mean|δ| factor per layer | mean f′(Z_l) over hidden layers |",
        "|---|---|---|---|---|---|",
    ]
    ratios = {}
    for act, runs in by_act.items():
        run = next(r for r in runs if r["depth"] == deepest)
        for stage, stage_name in STAGES:
            r = layer_ratios(run, stage)
            ratios[act, stage] = r
            lines.append(
                f"| {act} | {stage_name} | {_fmt(r['grad_ratio'])} | {_fmt(r['delta_ratio'])} "
                f"| ×{_fmt(r['delta_per_layer'])} | {_fmt(r['mean_fprime'])} |"
            )
    lines += ["", "## Reading", ""]
    lines += [f"- {s}" for s in _reading(doc, by_act, ratios, deepest, epochs)]
    lines.append("")
    return "\n".join(lines)


def fprime_agreement(ratios: dict, acts) -> str:
    """Whether the order of the δ shrink at init follows the order of the mean f′.

    The recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) scales δ by f′ at every hidden layer,
    so a smaller mean f′ predicts a smaller per-layer factor; W_{l+1}ᵀ scales it too, so
    the prediction can fail. The sentence says which part held, from the numbers.

    Args:
      ratios: ``{(activation, stage): layer_ratios(...)}``.
      acts: the activations to compare.
    """
    acts = [a for a in acts if ratios[a, "init"]["mean_fprime"] is not None]
    if len(acts) < 2:
        return "With fewer than two activations with hidden layers there is no order to compare."
    by_shrink = sorted(acts, key=lambda a: ratios[a, "init"]["delta_per_layer"])
    by_fprime = sorted(acts, key=lambda a: ratios[a, "init"]["mean_fprime"])
    shrink_text = " < ".join(by_shrink)
    fprime_text = " < ".join(by_fprime)
    if by_shrink == by_fprime:
        return (
            f"The order of the per-layer δ factor at init ({shrink_text}, the first shrinks δ "
            f"the most) is the order of the mean f′ ({fprime_text}), as the recursion "
            "δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) predicts from f′."
        )
    if by_shrink[0] == by_fprime[0]:
        return (
            f"{by_shrink[0]} has the smallest mean f′ and shrinks δ the most, as the recursion "
            "δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) predicts from f′; the rest of the order "
            f"differs (per-layer δ factor {shrink_text}, mean f′ {fprime_text}), so there "
            "the W_{l+1}ᵀ factor matters as much as f′."
        )
    return (
        f"{by_shrink[0]} shrinks δ the most although {by_fprime[0]} has the smallest mean "
        f"f′ (per-layer δ factor {shrink_text}, mean f′ {fprime_text}): f′ alone does not "
        "predict the order here; the recursion's W_{l+1}ᵀ factor scales δ too."
    )


def _reading(doc, by_act, ratios, deepest: int, epochs: int) -> list[str]:
    """Sentences whose numbers and orderings come from the results."""
    out = []
    acts = list(by_act)
    if deepest >= 1:
        ordered = sorted(acts, key=lambda a: ratios[a, "init"]["delta_per_layer"])
        out.append(
            "At init, going one layer towards the input multiplies mean |δ| by "
            + ", ".join(
                f"{_fmt(ratios[a, 'init']['delta_per_layer'])} for {a} "
                f"(mean f′ {_fmt(ratios[a, 'init']['mean_fprime'])}, {FPRIME_BOUNDS.get(a, 'f′')})"
                for a in ordered
            )
            + f". The error reaching the first of {deepest} hidden layers is "
            + ", ".join(f"{_fmt(ratios[a, 'init']['delta_ratio'])}× for {a}" for a in ordered)
            + " the output layer's."
        )
        out.append(fprime_agreement(ratios, acts))
        worst = ordered[0]
        out.append(
            f"{worst}'s first layer's weight gradient is "
            f"{_fmt(ratios[worst, 'init']['grad_ratio'])}× the output layer's at init and "
            f"{_fmt(ratios[worst, 'trained']['grad_ratio'])}× after {epochs} epoch(s) (the "
            "weight gradient also carries A_(l−1), so its ratio differs from δ's)."
        )
    stats = accuracy_stats(doc)
    for act in by_act:
        ds = sorted(d for a, d in stats if a == act)
        if len(ds) < 2:
            continue
        first, last = stats[act, ds[0]], stats[act, ds[-1]]
        if None in (first["ci95"], last["ci95"]):
            trend = f"{NO_DIFFERENCE} (one seed: no interval)"
        elif last["mean"] + last["ci95"] < first["mean"] - first["ci95"]:
            trend = "falls with depth"
        elif last["mean"] - last["ci95"] > first["mean"] + first["ci95"]:
            trend = "rises with depth"
        else:
            trend = f"{NO_DIFFERENCE} between the shallowest and the deepest"
        out.append(
            f"{act}: test accuracy {_acc_cell(first)}% at depth {ds[0]} vs "
            f"{_acc_cell(last)}% at depth {ds[-1]} after {epochs} epoch(s): {trend}."
        )
    at_chance = [(a, d, s) for (a, d), s in sorted(stats.items()) if s["n_chance"]]
    if at_chance:
        out.append(
            f"Runs at chance (final test accuracy ≤ {100 * CHANCE:.0f}%) after {epochs} "
            "epoch(s): "
            + "; ".join(
                f"{a} depth {d}: {s['n_chance']} of {s['n']} seeds" for a, d, s in at_chance
            )
            + "."
        )
    else:
        out.append(
            f"No run stays at chance (final test accuracy ≤ {100 * CHANCE:.0f}%) after "
            f"{epochs} epoch(s) at any depth: the claim that deep nets of these activations "
            "stay at chance is not supported by these runs."
        )
    return out


def _acc_cell(s) -> str:
    if s is None:
        return "—"
    half = "" if s["ci95"] is None else f" ± {100 * s['ci95']:.2f}"
    chance = f", {s['n_chance']} at chance" if s["n_chance"] else ""
    return f"{100 * s['mean']:.2f}{half} (n={s['n']}{chance})"


def write_summary(results_path, out_dir) -> Path:
    """Writes ``<stem>.md``, named after the results JSON; returns its path."""
    doc = read_json(results_path)
    # Named after the JSON (mlp_depth.md, mlp_depth_quick.md), like the figure.
    path = Path(out_dir) / f"{Path(results_path).stem}.md"
    return atomic_write_text(path, summary_markdown(doc, Path(results_path).name))
