"""The MLP study's overview across its models (``experiments.loss_sweep``).

The MLP half of the loss study trains one model per (hidden activation, depth); each has
its own ``<name>.json``/``.md`` and figures. :func:`write_overview` reads those JSONs only
(so ``--redraw`` regenerates it) and writes

* ``loss_sweep_<ds>_mlp.md``: per (loss, init scale) the paired difference loss − cce of
  fixed-budget test accuracy pooled across the models
  (:func:`experiments.loss_sweep.analysis.pooled_effects`: random effects, a t-interval
  over the per-model means; four-way verdicts, Holm over the (loss, init scale) family),
  with its sign count; each model's own verdicts; the runs stuck near chance; where the
  gradient dies, from every hidden layer's f′ and saturated fraction in epoch 1 and the
  last epoch at the chosen lr; the table of test accuracies; links to every model's
  ``.md``;
* ``loss_sweep_<ds>_mlp_overview.png``: the accuracy table as a figure.

Every sentence is computed from the numbers in the JSONs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.loss_sweep.analysis import pooled_effects  # noqa: E402
from experiments.loss_sweep.report import (  # noqa: E402
    QUICK_NOTE,
    _list,
    _scales_text,
    dataset_name,
    lr_text,
    render,
    test_cell,
)
from softjax.plots.common import PERCENT, fmt_lr, headline, save, yerr  # noqa: E402
from softjax.plots.palette import loss_colour  # noqa: E402
from softjax.results import atomic_write_text, read_json  # noqa: E402
from softjax.sweeps.inference import mean_difference  # noqa: E402
from softjax.sweeps.stats import best_of, cell, collapse_scales  # noqa: E402

REFERENCE = "cce"
LR_ROOM = 124  # the overview's y-axis top: 0–100% accuracy, room for the lrs above


def model_label(doc) -> str:
    """``<activation> <sizes>``, e.g. ``sigmoid 784-100-10``."""
    g = doc["grid"]
    return f"{g['activation']} {'-'.join(map(str, g['sizes']))}"


def _depth(doc) -> int:
    return len(doc["grid"]["sizes"]) - 2


def order(docs) -> list[dict]:
    """Rows by activation (in the grid's order), then depth."""
    acts = list(docs[0]["grid"].get("activations") or [])

    def key(d):
        a = d["grid"]["activation"]
        return (acts.index(a) if a in acts else len(acts), a, _depth(d))

    return sorted(docs, key=key)


def shared_scale_groups(docs) -> list[list[float]]:
    """Init scales merged only where every model merges them (the common refinement of
    each model's :func:`~softjax.sweeps.stats.collapse_scales`): one panel per group."""
    scales = sorted(docs[0]["grid"]["init_scales"])
    together = {s: True for s in scales[1:]}  # s joins the scale before it
    for d in docs:
        for group in collapse_scales(d["best"], scales):
            together[group[0]] = group[0] == scales[0]  # a group's first joins nothing
    groups: list[list[float]] = []
    for s in scales:
        if groups and together.get(s):
            groups[-1].append(s)
        else:
            groups.append([s])
    return groups


def _table(docs, losses, scales) -> list[str]:
    head = [f"{loss}, scale {s:g}" for loss in losses for s in scales]
    lines = [
        "| model | " + " | ".join(head) + " |",
        "| --- |" + " --- |" * len(head),
    ]
    for d in docs:
        row = [test_cell(d, loss, s) for loss in losses for s in scales]
        lines.append(f"| {model_label(d)} | " + " | ".join(row) + " |")
    return lines


def _stuck_cell(b) -> str:
    if not b or b.get("stuck_ci95") is None:
        return "n/a"
    lo, hi = b["stuck_ci95"]
    return f"{b['n_stuck']}/{b['n_finite']} ({100 * lo:.0f}–{100 * hi:.0f}%)"


def pooled_lines(effects, docs) -> list[str]:
    """Per loss other than cce: the pooled verdict per init scale with its sign count."""
    lines = []
    for loss in dict.fromkeys(e["loss"] for e in effects):
        parts = []
        for e in [e for e in effects if e["loss"] == loss]:
            signs = (
                f"negative in {e['negative']} of {e['settings']} models, positive in "
                f"{e['positive']} (sign test p = {e['sign_p']:.2g})"
                if e["settings"]
                else "no model with paired replicates"
            )
            parts.append(f"{render(e)}; {signs}")
        lines.append(
            f"Final test accuracy, {loss} vs cce, pooled over the {len(docs)} MLPs (mean of "
            "the per-model paired differences, t-interval over models): " + "; ".join(parts) + "."
        )
    return lines


def model_verdict_lines(docs) -> list[str]:
    """Each model's own paired verdicts (its family, Holm), one line per model."""
    return [
        f"{model_label(d)} (family of {len(d['analysis']['short'])}): "
        + "; ".join(render(e) for e in d["analysis"]["short"])
        + "."
        for d in docs
    ]


def stuck_lines(docs) -> list[str]:
    """Which (model, loss, init scale) had runs stuck near chance at the chosen lr."""
    found = [
        f"{model_label(d)}, {b['loss']} at init scale {b['init_scale']:g}: {_stuck_cell(b)}"
        for d in docs
        for b in d["best"]
        if b.get("n_stuck")
    ]
    n = sum(b["n_finite"] or 0 for d in docs for b in d["best"])
    if not found:
        return [
            f"None of the {n} runs at a chosen lr stayed near chance (final train accuracy "
            "≤ 1/K + 5%)."
        ]
    return [
        "Runs stuck near chance (final train accuracy ≤ 1/K + 5%) at the chosen lr, k/n "
        "(95% Wilson interval): " + "; ".join(found) + "."
    ]


def _stat(d, b, key, epoch, layer=None):
    """(mean, 95% half-width or None) of ``key`` (its ``layer`` entry) in ``epoch``."""
    c = b and b["lr"] is not None and cell(d, b["loss_spec"], b["init_scale"], b["lr"])
    if not c or (c["mean"] or {}).get(key) is None:
        return None
    half = (c.get("ci95") or {}).get(key)
    pick = (lambda v: v[epoch]) if layer is None else (lambda v: v[epoch][layer])
    return pick(c["mean"][key]), None if half is None else pick(half)


def _layers(d) -> list[tuple[str, str, str, int | None]]:
    """``(name, f′ key, saturated key, index)``: every hidden layer with the per-layer keys
    (``softjax.hidden.LAYER_KEYS``), else the first (and last) layer of older results."""
    depth = _depth(d)
    if any((c.get("mean") or {}).get("hidden_fprime") for c in d.get("cells", ())):
        return [
            (f"hidden layer {i + 1}", "hidden_fprime", "hidden_saturated", i)
            for i in range(max(depth, 1))
        ]
    return [
        (f"{where} layer", f"hidden_fprime_{where}", f"hidden_saturated_{where}", None)
        for where in (("first", "last") if depth > 1 else ("first",))
    ]


def _epochs(d, b, key, scale, digits, layer=None):
    first, last = _stat(d, b, key, 0, layer), _stat(d, b, key, -1, layer)
    if first is None or last is None:
        return "n/a"
    unit = "%" if scale == 100 else ""
    return f"{scale * first[0]:.{digits}f} → {scale * last[0]:.{digits}f}{unit}"


def gradient_lines(docs, activation: str = "sigmoid") -> list[str]:
    """Where the gradient dies in the ``activation`` nets. The backward pass multiplies
    by f′ of every hidden layer, so a layer with small mean f′ (many saturated units) is
    where the gradient dies. Per model, init scale and loss at its chosen lr: the
    means over replicates of f′ and of the saturated fraction of each layer of
    :func:`_layers`, epoch 1 → last epoch. A lead
    sentence names the lowest last-epoch mean f′ of all of them."""
    lines, lowest = [], None
    for d in [d for d in docs if d["grid"]["activation"] == activation]:
        layers = _layers(d)
        for group in [[s] for s in d["grid"]["init_scales"]]:  # lrs, and so f′, differ
            parts = []
            for loss in d["grid"]["losses"]:
                b = best_of(d["best"], loss, group[0])
                if not b or b["lr"] is None:
                    continue
                stats = []
                for name, f, sat, i in layers:
                    prefix = "" if len(layers) == 1 else f"{name} "
                    stats.append(
                        f"{prefix}f′ {_epochs(d, b, f, 1, 3, i)}, saturated "
                        f"{_epochs(d, b, sat, 100, 1, i)}"
                    )
                    last = _stat(d, b, f, -1, i)
                    if last and (lowest is None or last[0] < lowest[0]):
                        hidden = f"the {name.split()[0]} hidden layer" if i is None else name
                        lowest = (
                            last[0],
                            f"{hidden} of {model_label(d)}, "
                            f"{loss} at {_scales_text(group)} (lr {lr_text(b['lr'])})",
                        )
                parts.append(f"{loss} (lr {lr_text(b['lr'])}) " + ", ".join(stats))
            if parts:
                lines.append(
                    f"{model_label(d)}, {_scales_text(group)}, mean f′ and saturated units "
                    f"(f′ < 0.01·max f′), epoch 1 → epoch {d['grid']['epochs']}: "
                    + "; ".join(parts)
                    + "."
                )
    if lowest is None:
        return lines
    lead = (
        f"Where the gradient dies ({activation} nets, each loss at its chosen lr, means over "
        f"replicates): the lowest last-epoch mean f′ is {lowest[0]:.3f}, in {lowest[1]}."
    )
    return [lead, *lines]


def markdown(docs, names, name: str, figure: str, stuck_figure: str | None = None) -> str:
    """``<name>.md``, the overview of the models ``docs`` (``<names[i]>.md`` their own
    summaries; ``figure``/``stuck_figure``: the file names of the overview figures)."""
    docs_names = dict(zip(map(id, docs), names, strict=True))
    docs = order(docs)
    g = docs[0]["grid"]
    losses, scales = g["losses"], g["init_scales"]
    quick = any(d.get("quick") for d in docs)
    runs = sum(d.get("n_records") or 0 for d in docs)
    wall = sum(d.get("wall_seconds") or 0 for d in docs)
    data = dataset_name(g)
    family = f"{data} MLPs pooled, fixed budget"
    effects = pooled_effects(docs, family, g["delta"])
    links = ", ".join(f"[{model_label(d)}]({docs_names[id(d)]}.md)" for d in docs)
    size = len([e for e in effects if e.get("family_size")])
    lines = [
        f"# {name}: {len(losses)} losses × {len(docs)} MLPs on {data}",
        "",
        *([f"> **{QUICK_NOTE}**", ""] if quick else []),
        f"Generated by `python -m experiments.loss_sweep` from the {len(docs)} models' JSON "
        "files only (`--redraw` rewrites it). Each (loss, init scale)'s lr is chosen on "
        "validation by the lr search; test accuracy is read only at that lr, on "
        f"{len(g['seeds'])} replicates (init seed i = data-order seed i). Per model (its "
        "search, budget and verdicts): " + links + ".",
        "",
        f"Grid: losses {', '.join(losses)}; init scales {_list(scales)}; {g['epochs']} epochs "
        f"(longer where still improving: see each model), batch {g['batch_size']}, "
        f"{g['optimizer']}"
        + (f", first {g['train_subset']} training images" if g.get("train_subset") else "")
        + f". {runs} final runs, {wall:.0f} s of wall time "
        "(the sum of the models' search and finals).",
        "",
        f"Inference: the pooled effect per (loss, init scale) is the mean over the models of "
        "each model's mean paired difference loss − cce, with a t-interval over the models "
        f'(random effects); family "{family}" ({size} comparisons), Holm-corrected at '
        f"α = 0.05; equivalence margin ±{100 * g['delta']:.2g} pp (TOST). Each model's own "
        "verdicts form their own family (per model). Cuts from the issue's study: "
        + ("; ".join(g["cut"]) or "none")
        + ".",
        "",
        f"![final test accuracy per model and loss]({figure})",
        "",
        "## Findings",
        "",
        *[f"- {x}" for x in pooled_lines(effects, docs) + stuck_lines(docs) + gradient_lines(docs)],
        "",
        "## Each model's paired verdicts",
        "",
        *[f"- {x}" for x in model_verdict_lines(docs)],
        "",
        f"## Test accuracy (%) at the lr chosen on validation, {g['epochs']} epochs",
        "",
        "Mean ± half-width of the 95% t-interval over replicates; † the lr is not interior.",
        "",
        *_table(docs, losses, scales),
    ]
    return "\n".join(lines) + "\n"


def fixed_budget(doc, loss, scale) -> list[float]:
    """The finite per-replicate test accuracies at the fixed budget of one arm."""
    return [
        r["test_short"]
        for r in doc.get("runs", ())
        if r["loss"] == loss and r["init_scale"] == scale and isinstance(r.get("test_short"), float)
    ]


def draw_overview(docs, path: Path) -> Path:
    """Final test accuracy per (activation, depth) and loss, mean and 95% interval at the
    chosen lr (written along the top), at the fixed budget, one panel per init scale; the
    axis spans 0–100% with the chance level 1/K drawn, so no gap is exaggerated."""
    docs = order(docs)
    g = docs[0]["grid"]
    # One panel per init scale: merging scales whose intervals overlap would be a claim.
    losses, groups = g["losses"], [[float(s)] for s in g["init_scales"]]
    chance = 100 / g["sizes"][-1]
    fig, axes = plt.subplots(
        1, len(groups), figsize=(1.1 * len(docs) * len(groups) + 1.5, 5.0), sharey=True
    )
    axes = np.atleast_1d(axes)
    width = 0.8 / len(losses)
    for ax, group in zip(axes, groups, strict=True):
        for i, loss in enumerate(losses):
            for j, d in enumerate(docs):
                b = best_of(d["best"], loss, group[0])
                x = j + (i - (len(losses) - 1) / 2) * width
                colour = loss_colour(loss)
                vals = fixed_budget(d, loss, group[0])
                if not b or not vals:
                    ax.plot(x, 2, "x", color=colour)
                    ax.text(x, 4, "all div.", rotation=90, ha="center", fontsize=6)
                    continue
                # the fixed budget's test accuracy, as in the table; no interval over one run
                m = 100 * sum(vals) / len(vals)
                h = 100 * mean_difference(vals).half_width() if len(vals) > 1 else 0.0
                ax.errorbar(
                    x,
                    m,
                    yerr(m, m - h, m + h, PERCENT),  # an accuracy lies in 0–100%
                    fmt="o",
                    color=colour,
                    ms=5,
                    capsize=3,
                    label=loss if j == 0 else None,
                )
                ax.text(
                    x,
                    101.5,
                    f"{fmt_lr(b['lr'])}{'†' if b['edge'] else ''}",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    color=colour,
                )
        ax.axhline(chance, color="k", ls=":", lw=1, label=f"chance ({chance:g}%)")
        for j in range(1, len(docs)):
            ax.axvline(j - 0.5, color="0.85", lw=0.8)
        ax.set_xticks(range(len(docs)), [model_label(d).replace(" ", "\n") for d in docs])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_ylim(0, LR_ROOM)
        ax.text(-0.6, 101.5, "lr:", fontsize=7, va="bottom", ha="right")
        ax.set_yticks(range(0, 101, 10))
        ax.grid(axis="y", alpha=0.3)
        same = ""
        ax.set_title(_scales_text(group) + same, fontsize=9)
    axes[0].set_ylabel("final test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    quick = f"\n{QUICK_NOTE}" if any(d.get("quick") for d in docs) else ""
    subset = f", first {g['train_subset']} train images" if g.get("train_subset") else ""
    headline(
        fig,
        f"{dataset_name(g)} MLPs: final test accuracy at the lr chosen on validation (the lr "
        "on top; † still on a grid edge)\n"
        f"mean and 95% interval (clipped to 0–100%) over {len(g['seeds'])} replicates, "
        f"{g['optimizer']} batch {g['batch_size']}, {g['epochs']} epochs{subset}",
        caption=quick.strip(),
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, Path(path))


def write_overview(results_paths, md_path, figure_path, stuck_figure=None) -> list[Path]:
    """Reads the models' ``<stem>.json`` files (``<stem>.md`` beside them) and writes the
    overview ``md_path`` and ``figure_path``, atomically; ``stuck_figure``: the path of
    :func:`experiments.loss_sweep.figures.draw_stuck_overview`'s figure, linked from the text.
    Returns the paths written."""
    paths = [Path(p) for p in results_paths]
    if not paths:
        raise ValueError("results_paths: expected at least one model's JSON, got none")
    docs = [read_json(p) for p in paths]
    md_path, figure_path = Path(md_path), Path(figure_path)
    text = markdown(
        docs,
        [p.stem for p in paths],
        md_path.stem,
        figure_path.name,
        None if stuck_figure is None else Path(stuck_figure).name,
    )
    return [atomic_write_text(md_path, text), draw_overview(docs, figure_path)]
