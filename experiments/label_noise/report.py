"""Figure and summary of ``python -m experiments.label_noise``, from ``label_noise.json`` only.

One row per model: clean test accuracy, accuracy on the noisy training labels, and the
fraction of flipped training labels the model reproduces (memorisation), each against
the noise rate η, per loss, with 95% t-intervals over seeds. A † beside a point: its lr,
chosen on validation, lies on an edge of the lr grid.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from experiments._common.verdicts import (
    EDGE_FOOTNOTE,
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
from softjax.results import atomic_save_figure, atomic_write_text, read_json

MODELS = {"softmax_regression": "softmax regression", "mlp": "MLP 784-{hidden}-10"}
README = (
    "Symmetric label noise, CCE vs MSE vs MAE (Ghosh, Kumar & Sastry 2017; Zhang & Sabuncu 2018)",
    "python -m experiments.label_noise",
    "MAE (bounded) is robust to symmetric noise; CCE memorises noisy labels",
)
PANELS = (
    ("clean test accuracy (%)", lambda row: final_test(row)),
    (
        "train accuracy on the noisy labels (%)",
        lambda row: row.get("memorisation", {}).get("train_acc_noisy_labels"),
    ),
    ("flipped labels memorised (%)", lambda row: row.get("memorisation", {}).get("memorised")),
)


def _rows_by_loss(per_rate: dict) -> tuple[list[float], dict]:
    rates = sorted(per_rate, key=float)
    by_loss: dict = {}
    for rate in rates:
        for row in per_rate[rate]["rows"]:
            by_loss.setdefault(loss_label(row["loss_spec"]), {})[rate] = row
    return rates, by_loss


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    models = list(doc["results"])
    fig, axes = plt.subplots(len(models), 3, figsize=(15, 4.2 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        rates, by_loss = _rows_by_loss(doc["results"][model])
        for j, (title, get) in enumerate(PANELS):
            ax = axes[i, j]
            for label, rows in by_loss.items():
                xs = [100 * float(r) for r in rates]
                stats = [get(rows[r]) if r in rows else None for r in rates]
                edges = [rows[r].get("edge") if r in rows else None for r in rates]
                errorbar(ax, xs, stats, edges, label=label)
            ax.set_title(f"{model}: {title}", fontsize=10)
            ax.set_xlabel("symmetric noise rate η (%)")
            ax.grid(alpha=0.3)
        axes[i, 0].legend()
    edge_layout(fig, [c[2] for c in edge_cases(doc)])
    path = Path(out_dir) / (Path(results_path).stem + ".png")
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [path]


def edge_cases(doc: dict) -> list[tuple]:
    """``(name, lr, edge, grid)`` of every chosen lr, for :func:`edge_sentence`: the
    loss's own final grid at that rate (``lrs_by_loss``), or the config's shared one in
    results written before grids were extended."""
    shared = doc["provenance"]["config"].get("lrs")
    return [
        (
            f"{model} {loss_label(row['loss_spec'])} at η = {100 * float(rate):.0f}%",
            row["lr"],
            row.get("edge"),
            per_rate[rate].get("lrs_by_loss", {}).get(row.get("loss"), shared),
        )
        for model, per_rate in doc["results"].items()
        for rate in sorted(per_rate, key=float)
        for row in per_rate[rate]["rows"]
    ]


def verdict(per_rate: dict) -> list[str]:
    """Sentences on whether MAE/MSE beat CCE on clean test accuracy at each noise rate."""
    rates, by_loss = _rows_by_loss(per_rate)
    cce = by_loss.get("CCE", {})
    out = []
    for rate in rates:
        if float(rate) == 0 or rate not in cce:
            continue
        parts = []
        for name in ("MSE (softmax)", "MAE (softmax)"):
            row = by_loss.get(name, {}).get(rate)
            if row is None:
                continue
            sign = compare(final_test(row), final_test(cce[rate]))
            word = {1: "beats", -1: "loses to", 0: "is indistinguishable from"}[sign]
            parts.append(
                f"{name} {word} CCE ({pct(final_test(row))} vs {pct(final_test(cce[rate]))})"
            )
        out.append(f"η = {100 * float(rate):.0f}%: " + "; ".join(parts) + ".")
    return out


def top_rate_verdicts(results: dict) -> list[tuple[str, str, str]]:
    """Per model, at its highest noise rate: ``(model, rate, verdict)``, the verdict on
    whether a bounded loss (MSE, MAE on the softmax) beats CCE on clean test accuracy."""
    out = []
    for model, per_rate in results.items():
        rate = max(per_rate, key=float)
        rows = {loss_label(r["loss_spec"]): r for r in per_rate[rate]["rows"]}
        if float(rate) == 0 or "CCE" not in rows:
            continue
        wins = [
            n
            for n in ("MSE (softmax)", "MAE (softmax)")
            if n in rows and compare(final_test(rows[n]), final_test(rows["CCE"])) > 0
        ]
        losses = [
            n
            for n in ("MSE (softmax)", "MAE (softmax)")
            if n in rows and compare(final_test(rows[n]), final_test(rows["CCE"])) < 0
        ]
        if wins:
            verdict_text = f"yes: {' and '.join(wins)} beat{'s' if len(wins) == 1 else ''} CCE"
        elif losses:
            verdict_text = (
                f"no: {' and '.join(losses)} lose{'s' if len(losses) == 1 else ''} to CCE"
            )
        else:
            verdict_text = "not separably: the intervals overlap"
        out.append((model, rate, verdict_text))
    return out


def answer(results: dict) -> str:
    """The one-sentence answer, from the highest noise rate of each model."""
    parts = [
        f"{model} at η = {100 * float(rate):.0f}%: {text}"
        for model, rate, text in top_rate_verdicts(results)
    ]
    agree = "Where the answer is yes, we agree with Ghosh et al.; where no, we do not."
    return ("; ".join(parts) + ". " + agree) if parts else "no noisy runs."


def readme_rows(doc: dict, summary: str) -> list[str]:
    """The README's row: each model's clean test accuracy per loss at the highest noise
    rate, and whether a bounded loss beats CCE there."""
    cfg, parts, verdicts = doc["provenance"]["config"], [], []
    for model, rate, text in top_rate_verdicts(doc["results"]):
        rows = doc["results"][model][rate]["rows"]
        accs = ", ".join(f"{loss_label(r['loss_spec'])} {pct(final_test(r))}" for r in rows)
        name = MODELS.get(model, model).format(**cfg)
        parts.append(f"{name} at {100 * float(rate):.0f}% noise: {accs}")
        verdicts.append(f"{name}: {text}")
    measured = "clean test accuracy, " + "; ".join(parts)
    measured += " " + run_clause(cfg, len(cfg["seeds"]), edge_cases(doc), summary)
    return [readme_row(*README, measured, "; ".join(verdicts))]


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    cfg = doc["provenance"]["config"]
    lines = [
        "# Label noise: CCE vs MSE vs MAE on MNIST",
        "",
        "**Papers.** Ghosh, Kumar & Sastry, *Robust Loss Functions under Label Noise for Deep "
        "Neural Networks* (AAAI 2017): symmetric losses such as MAE are provably robust to "
        "symmetric noise with η < (K−1)/K, and their experiments show MAE holding its accuracy "
        "where CCE loses it. Zhang & Sabuncu, *Generalized Cross Entropy Loss for Training Deep "
        "Neural Networks with Noisy Labels* (NeurIPS 2018): CCE memorises noisy labels; MAE is "
        "robust but trains slowly and underfits on harder data.",
        "",
        f"**Our setting** ({cfg['mode']} size): MNIST, train subset "
        f"{cfg['train_subset'] or 'all 55,000'}, {cfg['epochs']} epochs, SGD momentum 0.9, "
        f"batch {cfg['batch_size']}, lr grid {cfg['lrs']}{grid_growth(cfg)}, "
        f"chosen per loss on the clean validation split, seeds {cfg['seeds']}"
        f"{replicate_note(cfg)}; MLP hidden width "
        f"{cfg['hidden']}. The papers train deeper nets for longer (CNNs/ResNets on CIFAR in "
        "Zhang & Sabuncu), which memorise more.",
        "",
    ]
    for model, per_rate in doc["results"].items():
        lines += [
            f"## {model}",
            "",
            "| η | loss | lr | clean test acc | acc on noisy train labels "
            "| flipped labels memorised |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        flagged = False
        for rate in sorted(per_rate, key=float):
            for row in per_rate[rate]["rows"]:
                mem = row.get("memorisation", {})
                lr = lr_text(row["lr"], row.get("edge"))
                flagged = flagged or bool(edge_mark(row.get("edge")))
                lines.append(
                    f"| {100 * float(rate):.0f}% | {loss_label(row['loss_spec'])} | {lr} "
                    f"| {pct(final_test(row))} | {pct(mem.get('train_acc_noisy_labels'))} "
                    f"| {pct(mem.get('memorised'))} |"
                )
        lines += [""] + ([EDGE_FOOTNOTE, ""] if flagged else [])
        lines += [*verdict(per_rate), ""]
    lines += [edge_sentence(edge_cases(doc)), ""]
    lines += ["**Do bounded losses win here?** " + answer(doc["results"]), ""]
    lines += [
        "A loss 'beats' another only when their 95% intervals do not overlap.",
        "",
        f"Wall time {doc.get('wall_s', 0):.0f} s; trained at git "
        f"{doc['provenance'].get('git_commit')}.",
        "",
        *readme_section(readme_rows(doc, f"results/{Path(results_path).stem}.md")),
    ]
    path = Path(out_dir) / (Path(results_path).stem + ".md")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
