"""Figure and summary of ``python -m experiments.hui_belkin``, from ``hui_belkin.json`` only.

Left: MNIST / Fashion-MNIST test accuracy of an MLP per loss at its own searched lr.
Right: synthetic test accuracy against the number of classes K (log axis) for CCE,
square loss (k = M = 1) and rescaled square loss (k = 15, M = 30); a hollow marker: the
loss's search found no lr above chance (measured at its best finite lr). Error bars: 95%
t-intervals over replicates.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from experiments._common.choices import choice_text
from experiments._common.verdicts import (
    AGREE,
    DIFFER,
    INCONCLUSIVE,
    Judgement,
    loss_label,
    readme_row,
    readme_section,
)
from experiments.hui_belkin import analysis
from softjax.results import atomic_save_figure, atomic_write_text, read_json
from softjax.sweeps.inference import Verdict, family_line
from softjax.sweeps.stats import t_quantile_975

METHODS = "v3"
"""The methods the current code writes (lr search, paired verdicts, per-seed values);
results without this mark predate them and cannot be rendered by this module."""
FAMILIES = ("cce", "plain", "rescaled")
README = (
    "Square loss vs CE (Hui & Belkin 2021)",
    "python -m experiments.hui_belkin",
    "square loss comparable, CE slightly ahead on vision; the (k, M) rescaling matters for "
    "many classes (~1000), not for 10",
)
COLORS = {"cce": "tab:blue", "plain": "tab:purple", "rescaled": "tab:green"}
DATA_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
LEGEND = {"cce": "CCE", "plain": "square k=1 M=1", "rescaled": "square k=15 M=30"}


def _check(doc, path) -> None:
    if doc.get("methods") != METHODS:
        raise SystemExit(
            f"{path}: results from before the {METHODS} methods (no lr search, no per-seed "
            "values); re-run python -m experiments.hui_belkin"
        )


def stat(fam: dict) -> tuple[float | None, float | None]:
    """Mean and 95% half-width of a loss's finite per-seed test accuracies (fractions)."""
    values = [v for v in fam["per_seed"] if v is not None]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return mean, t_quantile_975(len(values) - 1) * sd / len(values) ** 0.5


def pct(fam: dict) -> str:
    mean, half = stat(fam)
    if mean is None:
        return "— (every replicate diverged)"
    return f"{100 * mean:.2f}%" if half is None else f"{100 * mean:.2f} ± {100 * half:.2f}%"


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    _check(doc, results_path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6))
    names = list(doc["real"])
    width = 0.8 / len(FAMILIES)
    for j, fam in enumerate(FAMILIES):
        for i, name in enumerate(names):
            if fam in doc["real"][name]:
                _point(left, i + (j - 1) * width, doc["real"][name][fam], fam, i == 0)
    left.set_xticks(range(len(names)), [DATA_NAMES.get(n, n) for n in names])
    left.set_ylabel("test accuracy (%)")
    left.set_title("MLP, each loss at its own searched lr", fontsize=10)
    left.legend()
    ks = sorted(doc["synthetic"], key=int)
    for fam in FAMILIES:
        first = True
        for k in ks:
            if fam in doc["synthetic"][k]:
                _point(right, int(k), doc["synthetic"][k][fam], fam, first)
                first = False
        xs = [int(k) for k in ks if fam in doc["synthetic"][k]]
        ys = [stat(doc["synthetic"][str(k)][fam])[0] for k in xs]
        pts = [(x, 100 * y) for x, y in zip(xs, ys, strict=True) if y is not None]
        if pts:
            right.plot(*zip(*pts, strict=True), color=COLORS[fam], lw=1)
    right.set_xscale("log")
    right.set_xticks([int(k) for k in ks], ks)
    right.set(xlabel="number of classes K", ylabel="test accuracy (%)", ylim=(0, 100))
    right.set_title("synthetic classes (hollow: no lr trains)", fontsize=10)
    right.grid(alpha=0.3)
    right.legend()
    fig.tight_layout()
    path = Path(out_dir) / (Path(results_path).stem + ".png")
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [path]


def _point(ax, x, fam: dict, family: str, label: bool) -> None:
    mean, half = stat(fam)
    if mean is None:
        return
    low, high = max(0.0, mean - (half or 0)), min(1.0, mean + (half or 0))
    ax.errorbar(
        [x],
        [100 * mean],
        yerr=[[100 * (mean - low)], [100 * (high - mean)]],
        fmt="o",
        color=COLORS[family],
        mfc="white" if fam["choice"]["lr"] is None else COLORS[family],
        capsize=3,
        label=LEGEND[family] if label else None,
    )


_WORDS = {
    AGREE: "agrees",
    DIFFER: "differs",
    INCONCLUSIVE: "inconclusive",
}
_RESCALING_TEXT = {
    AGREE: "unneeded at the smallest K, needed from K = {onset} on",
    DIFFER: "it already matters at the smallest K",
    INCONCLUSIVE: "it does not become necessary up to our largest K",
}


def _table(rows: dict, label: str) -> list[str]:
    out = []
    for setting, fams in rows.items():
        for fam in fams.values():
            lr = choice_text(fam["choice"])
            if fam["choice"]["lr"] is None and fam["lr"] is not None:
                lr += f"; measured at its best finite lr {fam['lr']:.3g}"
            n = sum(v is not None for v in fam["per_seed"])
            out.append(
                f"| {label.format(setting)} | {loss_label(fam['loss_spec'])} | {lr} | "
                f"{pct(fam)} | {n} of {len(fam['per_seed'])} |"
            )
    return out


def _verdict_lines(verdicts: list[dict]) -> list[str]:
    done = [
        Verdict(**{k: v for k, v in d.items() if k != "seeds"}) for d in verdicts if "verdict" in d
    ]
    lines = [f"- {v.render(scale=100, unit=' pp')}" for v in done]
    lines += [f"- {d['comparison']}: {d['note']}" for d in verdicts if "verdict" not in d]
    if done:
        lines += ["", family_line(done, scale=100, unit=" pp")]
    return lines


def _gap(v: dict, label: str = "") -> str:
    def num(x):
        return f"{100 * x:+.1f}".replace("-", "−")

    head = f"{label} " if label else ""
    return f"{head}{num(v['mean'])} [{num(v['low'])}, {num(v['high'])}] pp, {v['verdict']}"


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    _check(doc, results_path)
    cfg = doc["provenance"]["config"]
    found = doc["analysis"]
    judged = [Judgement.from_dict(j) for j in doc["verdicts"]]
    seeds = doc["provenance"]["seeds"]
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
        f"{cfg['synth_epochs']} on the synthetic sets. Each loss's lr is searched "
        f"(`search_lrs`, from {cfg['start_lrs']}, the square losses' times K/10, at most "
        f"{cfg['max_rounds']} rounds) on replicates {cfg['search_seeds']}, chosen on "
        "validation only among runs above chance (1/K + 0.05); then replicates "
        f"{seeds} (replicate i: {cfg['replicates']}) train at the chosen lr. The paper "
        "trains its benchmarks' own architectures (CNNs, LSTMs, Transformers); ours are "
        "small MLPs.",
        "",
        "## (a) MNIST and Fashion-MNIST",
        "",
        "| data | loss | lr chosen on validation | test accuracy | replicates finite |",
        "| --- | --- | --- | --- | --- |",
        *_table(doc["real"], "{}"),
        "",
        *_verdict_lines(found["vision"]),
        "",
        "## (b) The number of classes",
        "",
        "| K | loss | lr chosen on validation | test accuracy | replicates finite |",
        "| --- | --- | --- | --- | --- |",
        *_table(doc["synthetic"], "{}"),
        "",
        *_verdict_lines(found["rescaling"]),
        "",
    ]
    no_lr = found["no_lr_trains"]
    lines.append(
        "No lr above chance on validation (measured at the best finite lr, at chance): "
        + "; ".join(f"{n['setting']} {LEGEND[n['family']]}" for n in no_lr)
        + "."
        if no_lr
        else "Every loss found an lr above chance in every setting."
    )
    vision = [j for j in judged if j.claim == analysis.SQUARE_ON_VISION]
    rescaling = next((j for j in judged if j.claim == analysis.RESCALING_CLAIM), None)
    lines += ["", "**Verdicts.**"]
    for j in vision:
        lines.append(
            f"- {DATA_NAMES.get(j.setting, j.setting)}: square loss comparable to CCE, CCE "
            f"at most {100 * found['delta']:g} pp ahead: **{_WORDS[j.outcome]}** "
            f"(square − CCE {_gap(j.numbers)})."
        )
    if rescaling is not None:
        text = _RESCALING_TEXT[rescaling.outcome].format(**rescaling.numbers)
        lines.append(
            f"- The rescaling matters for many classes, not for 10: "
            f"**{_WORDS[rescaling.outcome]}**: {text}."
        )
    lines += [
        "",
        f"Run time: {doc['wall_s'] / 60:.1f} min ({doc['model_epochs']:,} model-epochs); "
        f"commit {doc['provenance'].get('git_commit')}.",
        "",
    ]
    lines += readme_section(
        [readme_row(*README, _measured(doc, Path(results_path).stem), _agrees(judged))]
    )
    path = Path(out_dir) / (Path(results_path).stem + ".md")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _measured(doc: dict, stem: str) -> str:
    cfg, found = doc["provenance"]["config"], doc["analysis"]
    real = "; ".join(
        _gap(v, DATA_NAMES.get(v["comparison"], v["comparison"]))
        for v in found["vision"]
        if "verdict" in v
    )
    synth = "; ".join(_gap(v, v["comparison"]) for v in found["rescaling"] if "verdict" in v)
    flags = [f"{n['setting']} {LEGEND[n['family']]}" for n in found["no_lr_trains"]]
    flag = f"; no lr above chance for {', '.join(flags)}" if flags else ""
    return (
        f"MLP 784-{cfg['hidden']}-10, each loss at its own searched lr: square − CCE {real}; "
        f"synthetic K classes, rescaled − plain square loss {synth}{flag} "
        f"({len(doc['provenance']['seeds'])} paired replicates, Holm per family, equivalence "
        f"margin ±{100 * found['delta']:g} pp; `results/{stem}.md`)"
    )


def _agrees(judged: list[Judgement]) -> str:
    vision = [j for j in judged if j.claim == analysis.SQUARE_ON_VISION]
    rescaling = next((j for j in judged if j.claim == analysis.RESCALING_CLAIM), None)
    outcomes = {j.outcome for j in vision}
    head = "yes" if outcomes == {AGREE} else "no" if outcomes == {DIFFER} else "in part"
    text = f"{head}: vision {', '.join(f'{j.setting} {_WORDS[j.outcome]}' for j in vision)}"
    if rescaling is not None:
        text += "; rescaling: " + _RESCALING_TEXT[rescaling.outcome].format(**rescaling.numbers)
    return text
