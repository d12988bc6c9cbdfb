"""Figure and summary of ``python -m experiments.hui_belkin``, from ``hui_belkin.json`` only.

Left: MNIST / Fashion-MNIST test accuracy of an MLP per loss at its own tuned lr. Right:
synthetic test accuracy against the number of classes K (log axis) for CCE, square loss
(k = M = 1) and rescaled square loss (k = 15, M = 30). Error bars: 95% t-intervals over
seeds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from experiments._common.verdicts import (
    AGREE,
    DIFFER,
    EDGE_FOOTNOTE,
    INCONCLUSIVE,
    Judgement,
    compare,
    edge_layout,
    edge_mark,
    edge_sentence,
    errorbar,
    final_test,
    grid_growth,
    loss_label,
    lr_text,
    pct,
    readme_row,
    readme_section,
    replicate_note,
    run_clause,
)
from softjax.plots.common import PERCENT, yerr
from softjax.results import atomic_save_figure, atomic_write_text, read_json

FAMILIES = ("cce", "plain", "rescaled")
README = (
    "Square loss vs CE (Hui & Belkin 2021)",
    "python -m experiments.hui_belkin",
    "square loss comparable, CE slightly ahead on vision; the (k, M) rescaling matters for "
    "many classes (~1000), not for 10",
)
SLIGHT = 0.01
"""The largest CCE lead (as a fraction) still read as the paper's "slight edge"."""
COLORS = {"cce": "tab:blue", "plain": "tab:purple", "rescaled": "tab:green"}
DATA_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
LEGEND = {"cce": "CCE", "plain": "square k=1 M=1", "rescaled": "square k=15 M=30"}


def _by_family(rows) -> dict:
    return {r["family"]: r for r in rows}


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6))
    names = list(doc["real"])
    width = 0.8 / len(FAMILIES)
    for j, fam in enumerate(FAMILIES):
        stats = [final_test(_by_family(doc["real"][n]).get(fam, {})) for n in names]
        xs = [i + (j - 1) * width for i in range(len(names))]
        have = [(x, s) for x, s in zip(xs, stats, strict=True) if s["mean"] is not None]
        if have:
            x, s = zip(*have, strict=True)
            # Points, not bars: bars on an axis that does not start at 0 exaggerate gaps.
            mean = np.array([100 * v["mean"] for v in s])
            half = np.array([100 * (v["ci95"] or 0) for v in s])
            left.errorbar(
                x,
                mean,
                yerr=yerr(mean, mean - half, mean + half, PERCENT),
                fmt="o",
                color=COLORS[fam],
                capsize=3,
                label=LEGEND[fam],
            )
    means = [
        100 * r["final_test_accuracy"]
        for n in names
        for r in doc["real"][n]
        if r["final_test_accuracy"] is not None
    ]
    if means:
        left.set_ylim(max(0, min(means) - 3), min(100, max(means) + 1))
    left.set_xticks(range(len(names)), names)
    left.set_ylabel("test accuracy (%)")
    left.set_title("MLP, each loss at its own tuned lr", fontsize=10)
    left.legend()
    ks = sorted(doc["synthetic"], key=int)
    for fam in FAMILIES:
        rows = [_by_family(doc["synthetic"][k]).get(fam) for k in ks]
        label = next((loss_label(r["loss_spec"]) for r in rows if r), fam)
        errorbar(
            right,
            [int(k) for k in ks],
            [final_test(r) if r else None for r in rows],
            edges=[r.get("edge") if r else None for r in rows],
            label=label,
            color=COLORS[fam],
        )
    right.set_xscale("log")
    right.set_xticks([int(k) for k in ks], ks)
    right.set_xlabel("number of classes K")
    right.set_ylabel("test accuracy (%)")
    right.set_title("synthetic classes: does the (k, M) rescaling matter?", fontsize=10)
    right.grid(alpha=0.3)
    right.legend()
    edge_layout(fig, [case[2] for case in _edge_cases(doc)])
    path = Path(out_dir) / (Path(results_path).stem + ".png")
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [path]


def rescaling_onset(synthetic: dict) -> int | None:
    """The smallest K at which rescaled square loss beats plain square loss (disjoint
    intervals) and keeps doing so at every larger K; None when it never does."""
    ks = sorted(synthetic, key=int)
    wins = [
        compare(
            final_test(_by_family(synthetic[k]).get("rescaled", {})),
            final_test(_by_family(synthetic[k]).get("plain", {})),
        )
        > 0
        for k in ks
    ]
    for i, k in enumerate(ks):
        if all(wins[i:]):
            return int(k)
    return None


SQUARE_ON_VISION, RESCALING = "square_comparable_on_vision", "rescaling_needed_for_many_classes"
"""The paper's two claims: the square loss is comparable to CE on vision (CE slightly
ahead); the (k, M) rescaling matters for many classes, not for 10."""
_SIGN_WORDS = {1: "beats", -1: "trails", 0: "is not separable from"}


def judgements(doc: dict) -> list[Judgement]:
    """The verdicts of ``doc``: stored ones (``doc["verdicts"]``), else computed from its
    numbers (results written before verdicts were stored). Per real dataset, square loss
    against CCE (two 95% intervals; a gap within :data:`SLIGHT` agrees); once, the K from
    which the rescaled form beats the plain one (:func:`rescaling_onset`)."""
    if "verdicts" in doc:
        return [Judgement.from_dict(v) for v in doc["verdicts"]]
    out = []
    for name, rows in doc["real"].items():
        fam = _by_family(rows)
        if "cce" in fam and "plain" in fam:
            sign = compare(final_test(fam["plain"]), final_test(fam["cce"]))
            gap = fam["plain"]["final_test_accuracy"] - fam["cce"]["final_test_accuracy"]
            outcome = AGREE if sign >= 0 or gap >= -SLIGHT else DIFFER
            out.append(Judgement(SQUARE_ON_VISION, name, outcome, {"sign": sign, "gap": gap}))
    ks = sorted(int(k) for k in doc["synthetic"])
    if ks:
        onset = rescaling_onset(doc["synthetic"])
        outcome = (
            INCONCLUSIVE if onset is None else AGREE if onset > min(ks) else DIFFER
        )  # up to our largest K the paper's ~1000 classes are not reached
        numbers = {"onset": onset, "smallest_k": min(ks), "largest_k": max(ks)}
        out.append(Judgement(RESCALING, "synthetic K-class data", outcome, numbers))
    return out


_RESCALING_TEXT = {
    AGREE: "we agree that it is unneeded at 10 and needed for many classes.",
    DIFFER: "here it already matters at the smallest K.",
    INCONCLUSIVE: "we do not see it become necessary up to our largest K.",
}


def _row_line(label, row) -> str:
    lr = lr_text(_round(row["lr"]), row.get("edge"))
    return f"| {label} | {loss_label(row['loss_spec'])} | {lr} | {pct(final_test(row))} |"


def _edge_cases(doc) -> list:
    """``(name, lr, edge, grid)`` of every chosen lr, for :func:`edge_sentence`."""
    grids = doc["provenance"]["config"].get("lr_grids") or {}

    def grid(row):  # the synthetic rows' square-loss grids were scaled by K/10
        lrs = row.get("lrs", grids.get(row["family"]))
        return None if lrs is None else [_round(lr) for lr in lrs]

    named = [(name, rows) for name, rows in doc["real"].items()]
    named += [(f"K = {k}", rows) for k, rows in doc["synthetic"].items()]
    return [
        (f"{name} {LEGEND[r['family']]}", _round(r["lr"]), r.get("edge"), grid(r))
        for name, rows in named
        for r in rows
    ]


def _round(lr: float) -> float:
    """``0.005999999999999999`` → ``0.006``: an lr computed as grid × K/10, as printed."""
    return float(f"{lr:.6g}")


def _footnote(rows) -> list[str]:
    return ["", EDGE_FOOTNOTE] if any(edge_mark(r.get("edge")) for r in rows) else []


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    cfg = doc["provenance"]["config"]
    lines = [
        "# Square loss vs cross-entropy (Hui & Belkin 2021)",
        "",
        "**Paper.** Hui & Belkin, *Evaluation of Neural Architectures Trained with Square Loss "
        "vs Cross-Entropy in Classification Tasks* (ICLR 2021): with each loss tuned its own "
        "way, square loss performs comparably to or better than cross-entropy; cross-entropy "
        "keeps a slight edge on vision tasks; for many classes the square loss needs the "
        "rescaling (k, M), e.g. k = 15, M = 30 for about 1000 classes, and k = M = 1 for few.",
        "",
        f"**Our setting** ({cfg['mode']} size): MLPs with one hidden layer of {cfg['hidden']} "
        f"ReLU units, SGD momentum 0.9, batch {cfg['batch_size']}, {cfg['epochs']} epochs on "
        f"MNIST-type data (train subset {cfg['train_subset'] or 'all 55,000'}), "
        f"{cfg['synth_epochs']} on the synthetic sets; lr grids {cfg['lr_grids']}"
        f"{grid_growth(cfg)}, chosen on "
        f"validation; seeds {cfg['seeds']}{replicate_note(cfg)}. The paper trains its "
        "benchmarks' own architectures "
        "(CNNs, LSTMs, Transformers) at their published settings; ours are small MLPs.",
        "",
        "## (a) MNIST and Fashion-MNIST",
        "",
        "| data | loss | lr | test accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for name, rows in doc["real"].items():
        lines += [_row_line(name, r) for r in rows]
    judged = judgements(doc)
    real_rows = [j for j in judged if j.claim == SQUARE_ON_VISION]
    verdicts = [
        f"{j.setting}: square loss {_SIGN_WORDS[j.numbers['sign']]} CCE "
        f"({100 * j.numbers['gap']:+.2f} pp; {'agrees' if j.outcome == AGREE else 'disagrees'})"
        for j in real_rows
    ]
    lines += _footnote([r for rows in doc["real"].values() for r in rows])
    lines += [
        "",
        "; ".join(verdicts) + f". The paper reports comparable accuracy with CE slightly "
        f"ahead on vision; we count a gap within {100 * SLIGHT:g} pp as agreeing.",
        "",
        "## (b) The number of classes",
        "",
        "| K | loss | lr | test accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for k in sorted(doc["synthetic"], key=int):
        lines += [_row_line(k, r) for r in doc["synthetic"][k]]
    lines += _footnote([r for rows in doc["synthetic"].values() for r in rows])
    onset = rescaling_onset(doc["synthetic"])
    ks = sorted(int(k) for k in doc["synthetic"])
    gaps = []
    for k in ks:
        fam = _by_family(doc["synthetic"][str(k)])
        if (
            "plain" in fam
            and "rescaled" in fam
            and fam["plain"]["final_test_accuracy"] is not None
            and fam["rescaled"]["final_test_accuracy"] is not None
        ):
            gap = fam["rescaled"]["final_test_accuracy"] - fam["plain"]["final_test_accuracy"]
            gaps.append(f"K={k}: {100 * gap:+.1f} pp")
    rescaling = next(j for j in judged if j.claim == RESCALING)
    rescaling_agrees = _RESCALING_TEXT[rescaling.outcome]
    lines += [
        "",
        "Rescaled minus plain square loss, test accuracy: " + ", ".join(gaps) + ".",
        "",
        (
            f"**The rescaling starts to matter at K = {onset}** (from there on, k = 15, M = 30 "
            "beats k = M = 1 with disjoint 95% intervals)."
            if onset is not None
            else f"**The rescaling never separates from plain square loss** at K ≤ {max(ks)} here "
            "(overlapping intervals or a loss for the rescaled form)."
        ),
        "The paper needs it at ~1000 classes and not at 10: " + rescaling_agrees,
        "",
        edge_sentence(_edge_cases(doc)),
        "",
        f"Wall time {doc.get('wall_s', 0):.0f} s; "
        f"trained at git {doc['provenance'].get('git_commit')}.",
        "",
    ]
    real = "; ".join(
        f"{100 * j.numbers['gap']:+.2f} pp on {DATA_NAMES.get(j.setting, j.setting)} "
        f"({_SIGN_WORDS[j.numbers['sign']].replace('is ', '')} CCE)"
        for j in real_rows
    )
    onset_text = (
        f"the rescaled form beats the plain one from K = {onset} on"
        if onset is not None
        else "the rescaled form never separates from the plain one"
    )
    measured = (
        f"MLP 784-{cfg['hidden']}-10, each loss at its own lr: square − CCE = {real}; on "
        "synthetic K-class data, "
        + (f"rescaled − plain square loss {', '.join(gaps)}: " if gaps else "")
        + f"{onset_text} "
        + run_clause(
            cfg, len(cfg["seeds"]), _edge_cases(doc), f"results/{Path(results_path).stem}.md"
        )
    )
    vision = (
        "CE slightly ahead on vision or level with it"
        if all(j.outcome == AGREE for j in real_rows)
        else "no: square loss trails CCE by more than " + f"{100 * SLIGHT:g} pp"
    )
    agrees = (
        f"{'yes' if all(j.outcome == AGREE for j in real_rows) else 'in part'}: {vision}; "
        f"rescaling: {rescaling_agrees.rstrip('.')}"
    )
    lines += readme_section([readme_row(*README, measured, agrees)])

    path = Path(out_dir) / (Path(results_path).stem + ".md")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
