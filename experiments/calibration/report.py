"""Figures and summary for ``python -m experiments.calibration``, from the JSON only.

``<stem>.png``: test ECE against width and against depth (CCE) and per loss on the base
MLP, means with 95% t-intervals over replicates. ``<stem>_reliability.png``: one panel
per loss on the base MLP (and the widest and deepest CCE nets): the accuracy of each of
the 15 confidence bins (replicates pooled: Σ correct / Σ count) against the diagonal,
as Guo et al.'s Fig. 1. The verdicts are the JSON's (:mod:`.analysis`), rendered here.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments._common.verdicts import (  # noqa: E402
    AGREE,
    DIFFER,
    Judgement,
    errorbar,
    readme_row,
    readme_section,
)
from experiments.calibration import analysis  # noqa: E402
from softjax.results import atomic_save_figure, atomic_write_text, read_json  # noqa: E402
from softjax.sweeps.inference import Verdict, family_line  # noqa: E402

README = (
    "Calibration vs depth, width and loss (Guo et al. 2017)",
    "python -m experiments.calibration",
    "miscalibration (overconfidence) grows with depth and width (and falls with weight decay)",
)
CITATION = (
    'C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern Neural '
    'Networks", ICML 2017'
)
NAMES = {
    "cce": "CCE",
    "mse": "MSE on softmax",
    "bce": "BCE on softmax",
    "sigmoid_bce": "sigmoid BCE (σ/Σσ)",
    "square": "square loss on logits",
    analysis.SOFTMAX_READ: "sigmoid BCE read through softmax",
}
WORDS = {AGREE: "agrees", DIFFER: "differs", "inconclusive": "inconclusive"}


def _name(loss: str) -> str:
    return NAMES.get(loss, loss)


def _pp(x) -> str:
    return "—" if x is None else f"{100 * x:+.2f}".replace("-", "−")


def _ci(stat, scale: float = 100, digits: int = 2) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    ci = stat.get("ci95")
    text = f"{scale * stat['mean']:.{digits}f}".replace("-", "−")
    return text if ci is None else f"{text} ± {scale * ci:.{digits}f}"


def _cells(doc, budget: str | None = None) -> dict:
    """``{(arch, loss): cell}`` at ``budget`` (default: the judged one)."""
    budget = budget or doc["analysis"]["judged_budget"]
    return {(c["arch"], c["loss"]): c for c in doc["analysis"]["cells"][budget]}


def _epochs(doc, budget: str) -> int:
    cfg = doc["provenance"]["config"]
    return cfg["epochs"] * (cfg["budget"]["longer"] if budget == "long" else 1)


def _budgets(doc) -> list[str]:
    """The budgets that ran, the judged one first."""
    judged = doc["analysis"]["judged_budget"]
    return [b for b in (judged, "short", "long") if doc["analysis"]["cells"][b]][:2]


def pooled_bins(runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges, and the pooled accuracy and confidence per bin over ``runs``."""
    count = np.array([r["test"]["bins"]["count"] for r in runs], dtype=float)
    acc = np.nan_to_num(np.array([r["test"]["bins"]["accuracy"] for r in runs], dtype=float))
    conf = np.nan_to_num(np.array([r["test"]["bins"]["confidence"] for r in runs], dtype=float))
    total = count.sum(axis=0)
    safe = np.maximum(total, 1)
    pa = np.where(total == 0, np.nan, (acc * count).sum(0) / safe)
    pc = np.where(total == 0, np.nan, (conf * count).sum(0) / safe)
    return np.asarray(runs[0]["test"]["bins"]["edges"], dtype=float), pa, pc


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    cfg = doc["provenance"]["config"]
    cells = _cells(doc)
    stem = Path(results_path).stem
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, factor, xs in (
        (axes[0], "width", cfg["widths"]),
        (axes[1], "depth", cfg["depths"]),
    ):
        names = analysis.series(cfg)[factor]
        for budget in _budgets(doc):
            mine = _cells(doc, budget)
            stats = [(mine.get((n, "cce")) or {}).get("ece") for n in names]
            errorbar(ax, xs, stats, label=f"CCE, {_epochs(doc, budget)} epochs")
        ax.legend(fontsize=8)
        ax.set(title=f"test ECE vs {factor} (CCE)", xlabel=factor, ylabel="ECE (%)")
        if factor == "width":
            ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
    base = cfg["base"]
    losses = [loss for loss in cfg["losses"] if (base, loss) in cells]
    stats = [cells[(base, loss)]["ece"] for loss in losses]
    errorbar(axes[2], list(range(len(losses))), stats, ls="none")
    axes[2].set_xticks(range(len(losses)), [_name(x) for x in losses], rotation=30, ha="right")
    axes[2].set(title=f"test ECE per loss ({base})", ylabel="ECE (%)")
    axes[2].grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out_dir) / f"{stem}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_figure(fig, out, dpi=110)
    plt.close(fig)
    return [out, draw_reliability(doc, stem, out_dir)]


def draw_reliability(doc, stem: str, out_dir) -> Path:
    cfg = doc["provenance"]["config"]
    series = analysis.series(cfg)
    panels = [(cfg["base"], loss) for loss in cfg["losses"]]
    panels += [(names[-1], "cce") for names in series.values() if names]
    panels = list(dict.fromkeys(panels))
    runs = analysis.at(doc["runs"], doc["analysis"]["judged_budget"])
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.4), squeeze=False)
    for ax, (arch, loss) in zip(axes[0], panels, strict=True):
        mine = [r for r in runs if (r["arch"], r["loss"]) == (arch, loss) and r.get("test")]
        ax.plot([0, 1], [0, 1], ls="--", color="0.5")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence")
        ax.set_title(f"{arch}\n{_name(loss)}", fontsize=8)
        if not mine:
            continue
        edges, acc, conf = pooled_bins(mine)
        centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        ax.bar(centers, np.nan_to_num(acc), width=width, color="tab:blue", edgecolor="k", lw=0.5)
        ax.bar(
            centers,
            np.nan_to_num(conf - acc),
            bottom=np.nan_to_num(acc),
            width=width,
            color="tab:red",
            alpha=0.35,
        )
    axes[0, 0].set_ylabel("accuracy (blue); gap to confidence (red)")
    fig.tight_layout()
    out = Path(out_dir) / f"{stem}_reliability.png"
    atomic_save_figure(fig, out, dpi=110)
    plt.close(fig)
    return out


def _verdict_table(entries) -> list[str]:
    if not entries:
        return ["No comparison could be made (fewer than 2 paired replicates).", ""]
    verdicts = [Verdict(**{k: e[k] for k in Verdict.__dataclass_fields__}) for e in entries]
    lines = [
        family_line(verdicts, scale=100, unit=" pp"),
        "",
        "| comparison | estimate (pp of ECE) | 95% interval | n | verdict | Holm p |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for v in verdicts:
        p = v.p_equivalence_adjusted if v.verdict == "equivalent" else v.p_adjusted
        lines.append(
            f"| {v.comparison} | {_pp(v.mean)} | [{_pp(max(-1, v.low))}, {_pp(min(1, v.high))}] "
            f"| {v.n} | **{v.verdict}** | {p:.2g} |"
        )
    return lines + [""]


def answer_lines(doc) -> list[str]:
    out = []
    for d in doc["analysis"]["judgements"]:
        j = Judgement.from_dict(d)
        n = j.numbers
        out.append(
            f"- **{n['factor']}**: ECE of {n['larger']} − {n['smaller']} = {_pp(n['mean'])} pp "
            f"[{_pp(n['low'])}, {_pp(n['high'])}], {n['verdict']}: **{WORDS[j.outcome]}** "
            "with Guo et al."
        )
    return out or ["- no architecture comparison could be made."]


def _verdict_of(doc, loss: str) -> str:
    for d in doc["archs"][doc["provenance"]["config"]["base"]]["search"]["choices"]:
        if d["arm"][0] == loss:
            return d["verdict"]
    return "—"


def arch_table(doc, budget: str) -> list[str]:
    cfg = doc["provenance"]["config"]
    cells = _cells(doc, budget)
    lines = [
        "| MLP | lr (search verdict) | epochs | train acc (%) | fitted | val-loss min epoch "
        "| test acc (%) | confidence − accuracy (pp) | ECE (%) | NLL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = list(dict.fromkeys(n for s in analysis.series(cfg).values() for n in s))
    for arch in names:
        c = cells.get((arch, "cce"))
        if c is None:
            continue
        verdict = next(
            (x["verdict"] for x in doc["archs"][arch]["search"]["choices"] if x["arm"][0] == "cce"),
            "—",
        )
        low = c["val_loss_min_epoch"]
        lines.append(
            f"| {arch} | {c['lr']:.3g} ({verdict}) | {c['epochs']} | {_ci(c['train_accuracy'])} "
            f"| {'yes' if c['fitted'] else 'no'} | {'—' if low is None else f'{low:.1f}'} "
            f"| {_ci(c['accuracy'])} | {_ci(c['gap'])} | {_ci(c['ece'])} "
            f"| {_ci(c['nll'], 1, 3)} |"
        )
    return lines + [""]


def loss_table(doc, budget: str) -> list[str]:
    cfg = doc["provenance"]["config"]
    cells = _cells(doc, budget)
    lines = [
        "| loss | lr (search verdict) | epochs | test acc (%) | mean confidence (%) "
        "| confidence − accuracy (pp) | ECE (%) | NLL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for loss in cfg["losses"]:
        c = cells.get((cfg["base"], loss))
        if c is None:
            continue
        lines.append(
            f"| {_name(loss)} | {c['lr']:.3g} ({_verdict_of(doc, loss)}) | {c['epochs']} "
            f"| {_ci(c['accuracy'])} | {_ci(c['mean_confidence'])} | {_ci(c['gap'])} "
            f"| {_ci(c['ece'])} | {_ci(c['nll'], 1, 3)} |"
        )
        read = c.get("softmax_read")
        if read:
            lines.append(
                f"| {_name(analysis.SOFTMAX_READ)} | (same runs) | {c['epochs']} "
                f"| {_ci(c['accuracy'])} | {_ci(read['mean_confidence'])} | {_ci(read['gap'])} "
                f"| {_ci(read['ece'])} | — |"
            )
    return lines + [""]


def readme_rows(doc, summary: str) -> list[str]:
    cfg = doc["provenance"]["config"]
    cells = _cells(doc)
    parts = []
    for factor, names in analysis.series(cfg).items():
        eces = ", ".join(f"{n} {_ci((cells.get((n, 'cce')) or {}).get('ece'))}%" for n in names)
        parts.append(f"{factor}: {eces}")
    judged = doc["analysis"]["judged_budget"]
    archs = [c for c in doc["analysis"]["cells"][judged] if c["loss"] == "cce"]
    fitted = sum(c["fitted"] for c in archs)
    measured = (
        f"test ECE of CCE-trained MLPs on {cfg['train_subset']} MNIST images after "
        f"{_epochs(doc, judged)} epochs ({fitted} of "
        f"{len(archs)} nets fit their training set, ≥ {100 * analysis.CONVERGED:.0f}%); "
        + "; ".join(parts)
        + f" ({len(cfg['seeds'])} paired replicates, Holm over "
        f"{len(doc['analysis']['architecture'][judged])}, δ ±{100 * cfg['delta']:g} pp, "
        f"`{summary}`)"
    )
    verdicts = []
    for d in doc["analysis"]["judgements"]:
        j = Judgement.from_dict(d)
        n = j.numbers
        verdicts.append(
            f"{n['factor']}: {WORDS[j.outcome]} ({n['larger']} − {n['smaller']} "
            f"{_pp(n['mean'])} pp [{_pp(n['low'])}, {_pp(n['high'])}], {n['verdict']})"
        )
    agrees = "; ".join(verdicts) or "no verdict"
    agrees += "; weight decay not tested"
    return [readme_row(*README, measured, agrees)]


def markdown(doc, name: str) -> str:
    cfg = doc["provenance"]["config"]
    cost = sum(a["model_epochs"] for a in doc["archs"].values())
    lines = [
        "# Calibration: depth, width and loss",
        "",
        f"Generated by `python -m experiments.calibration` from `{name}.json`; do not edit. "
        f"Paper: {CITATION}.",
        "",
        "**The claim.** Miscalibration (overconfidence, ECE) grows with depth and width, and "
        "falls with weight decay. **As tested here:** the paired difference of test ECE "
        "(larger − smaller MLP, CCE) is *higher*; weight decay is not varied.",
        "",
        f"**Setting** ({cfg['mode']} size). MNIST, the first {cfg['train_subset']} training "
        f"images (few, so that a net can fit them), validation {cfg['validation']}, test whole; "
        f"ReLU MLPs, SGD momentum 0.9, batch {cfg['batch_size']}, {cfg['epochs']} epochs "
        f"and {cfg['budget']['longer']}× as long, each budget compared within itself; widths "
        f"{cfg['widths']} at one hidden layer, depths {cfg['depths']} at width "
        f"{cfg['base_width']}; each arm's lr by the lr search on validation accuracy "
        f"(replicates {cfg['search_seeds']}, start {cfg['start_lrs']}, at most "
        f"{cfg['max_rounds']} rounds); then {len(cfg['seeds'])} paired replicates "
        f"({cfg['replicates']}). Test ECE over {cfg['num_bins']} equal-width bins. Guo et "
        "al. measure CIFAR-100 ResNets; this is the same measure on nets small enough for "
        "2 cores, each trained until it fits its training set.",
        "",
    ]
    if cfg["mode"] != "full":
        lines += [f"**{cfg['mode']} size: not the study's numbers.**", ""]
    judged = doc["analysis"]["judged_budget"]
    lines += [
        "## Answer",
        "",
        f"At {_epochs(doc, judged)} epochs (the budget the claim is judged at: nets trained "
        "to convergence):",
        "",
        *answer_lines(doc),
        "",
    ]
    for budget in _budgets(doc):
        tag = f"{_epochs(doc, budget)} epochs" + (" (judged)" if budget == judged else "")
        lines += [f"## Depth and width (CCE), {tag}", "", *arch_table(doc, budget)]
        lines += [
            f"Fitted: every replicate's final training accuracy ≥ "
            f"{100 * analysis.CONVERGED:.0f}%. Val-loss min epoch: mean epoch of the lowest "
            "validation loss (before the last epoch: the NLL overfits, as Guo et al. "
            "describe).",
            "",
            *_verdict_table(doc["analysis"]["architecture"][budget]),
        ]
        lines += [f"## Per loss ({cfg['base']}), {tag}", "", *loss_table(doc, budget)]
        lines += [
            "The headline reads sigmoid BCE's confidence as σ(z)/Σσ(z) (the probabilities "
            "its one-vs-rest outputs give, normalised); the softmax row reads the same "
            "runs' logits through softmax.",
            "",
            *_verdict_table(doc["analysis"]["loss"][budget]),
        ]
    if "square" in cfg["losses"]:
        cap = np.e / (np.e + 9)
        lines += [
            "The square loss regresses the logits onto the one-hot target, so a perfect fit "
            f"reads out softmax confidence e/(e + K − 1) = {100 * cap:.1f}% at K = 10: its "
            "ECE measures that read-out (underconfidence by construction).",
            "",
        ]
    improving = {k: a["improving"] for k, a in doc["archs"].items() if a["improving"]}
    lines += [
        "Still improving at the end of the lr search (`softjax.sweeps.budget`; every arm "
        f"trains both budgets regardless): {improving or 'none'}.",
        "",
        f"Equivalence margin δ = ±{100 * cfg['delta']:g} pp of ECE; each family "
        "Holm-corrected; verdicts by `softjax.sweeps.inference.decide`.",
        "",
        f"Run time: {doc.get('wall_s', 0) / 60:.1f} min ({cost} model-epochs); commit "
        f"{doc['provenance'].get('git_commit')}.",
        "",
        *readme_section(readme_rows(doc, f"results/{name}.md")),
    ]
    return "\n".join(lines)


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    stem = Path(results_path).stem
    path = Path(out_dir) / f"{stem}.md"
    return atomic_write_text(path, markdown(doc, stem))
