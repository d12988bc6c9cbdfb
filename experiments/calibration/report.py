"""Reliability diagrams and summary for ``python -m experiments.calibration``, from the JSON only.

``<stem>_reliability.png``: one panel per (model, loss): the accuracy of each of the 15
confidence bins (seeds pooled: Σ correct / Σ count) against the diagonal of perfect
calibration, with the ECE and NLL (means over seeds) in the title, as Guo et al.'s Fig. 1.
The title's lr carries a † when it, chosen on validation, lies on an edge of the lr grid.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments._common.verdicts import (  # noqa: E402
    EDGE_FOOTNOTE,
    compare,
    edge_layout,
    edge_mark,
    edge_sentence,
    grid_growth,
    lr_text,
    readme_row,
    readme_section,
    replicate_note,
    run_clause,
)
from experiments.nielsen.report import mean_ci95  # noqa: E402
from softjax.results import atomic_save_figure, atomic_write_text, read_json  # noqa: E402

README = (
    "Calibration per loss (Guo et al. 2017)",
    "python -m experiments.calibration",
    "shallow NLL-trained nets are close to calibrated; overconfidence comes with depth and width",
)
CITATION = (
    'C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern Neural '
    'Networks", ICML 2017'
)
NAMES = {
    "cce": "CCE",
    "mse": "MSE on softmax",
    "bce": "BCE on softmax",
    "sigmoid_bce": "sigmoid BCE",
    "square": "square loss on logits",
}
MODEL_NAMES = {"softmax_regression": "softmax regression", "mlp": "MLP 784-128-10"}
WELL_CALIBRATED = 0.02  # ECE below which the summary calls a model well calibrated


def _nums(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def pooled_bins(rep: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges, pooled count, and the pooled accuracy and confidence per bin over seeds."""
    bins = rep["bins"]
    count = np.array(bins["count"], dtype=float)  # (seeds, bins)
    acc = np.nan_to_num(np.array([_nums(a) for a in bins["accuracy"]]))
    conf = np.nan_to_num(np.array([_nums(c) for c in bins["confidence"]]))
    total = count.sum(axis=0)
    safe = np.maximum(total, 1)
    empty = total == 0
    pooled_acc = np.where(empty, np.nan, (acc * count).sum(axis=0) / safe)
    pooled_conf = np.where(empty, np.nan, (conf * count).sum(axis=0) / safe)
    return np.asarray(bins["edges"][0], dtype=float), total, pooled_acc, pooled_conf


def _chosen(doc: dict) -> dict:
    """``{(model, loss): select_best entry}`` (lr, edge) of the JSON's selection."""
    return {(m, e["loss"]): e for m, sel in doc["selection"].items() for e in sel}


def edge_cases(doc: dict) -> list[tuple]:
    """``(name, lr, edge, grid)`` of every chosen lr, for :func:`edge_sentence`: each
    loss's own final grid (``lrs_by_loss``), or the config's shared one in results
    written before grids were extended."""
    shared = doc["provenance"]["config"].get("lrs")
    grids = doc.get("lrs_by_loss", {})
    return [
        (
            f"{MODEL_NAMES.get(m, m)} {NAMES.get(loss, loss)}",
            e["lr"],
            e.get("edge"),
            grids.get(m, {}).get(loss, shared),
        )
        for (m, loss), e in _chosen(doc).items()
    ]


def panel_title(model: str, loss: str, entry: dict, rep: dict | None) -> str:
    """``model``, ``loss`` and its chosen lr (with † on a grid edge), then ECE and NLL: two
    lines."""
    head = f"{MODEL_NAMES.get(model, model)}: {NAMES.get(loss, loss)}"
    if rep is None:
        return f"{head}: no lr"
    lr = lr_text(entry.get("lr"), entry.get("edge"))
    return f"{head}, lr {lr}\nECE {100 * np.mean(rep['ece']):.2f}%, NLL {np.mean(rep['nll']):.3f}"


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    cal = doc["calibration"]
    models = list(cal)
    losses = list(dict.fromkeys(loss for m in models for loss in cal[m]))
    chosen = _chosen(doc)
    fig, axes = plt.subplots(
        len(models), len(losses), figsize=(3.2 * len(losses), 3.6 * len(models)), squeeze=False
    )
    for row, model in enumerate(models):
        for col, loss in enumerate(losses):
            ax = axes[row, col]
            rep = cal[model].get(loss)
            ax.plot([0, 1], [0, 1], ls="--", color="0.5")
            ax.set(xlim=(0, 1), ylim=(0, 1))
            title = panel_title(model, loss, chosen.get((model, loss), {}), rep)
            ax.set_title(title, fontsize=9)
            if rep is None:
                continue
            edges, count, acc, conf = pooled_bins(rep)
            centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
            ax.bar(
                centers,
                np.nan_to_num(acc),
                width=width,
                color="tab:blue",
                edgecolor="k",
                lw=0.5,
                label="accuracy",
            )
            gap = np.nan_to_num(conf - acc)
            ax.bar(
                centers,
                gap,
                bottom=np.nan_to_num(acc),
                width=width,
                color="tab:red",
                alpha=0.35,
                label="gap to confidence",
            )
            ax.set_xlabel("confidence")
            if col == 0:
                ax.set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Reliability diagrams on MNIST test (15 bins, seeds pooled; Guo et al. 2017)")
    edge_layout(fig, [c[2] for c in edge_cases(doc)], top=0.96)
    out = Path(out_dir) / f"{Path(results_path).stem}_reliability.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_figure(fig, out, dpi=110)
    plt.close(fig)
    return [out]


def _ci(values, scale=1.0, digits=2) -> str:
    m, h = mean_ci95(scale * np.asarray(values, dtype=float))
    return f"{m:.{digits}f}" if h is None else f"{m:.{digits}f} ± {h:.{digits}f}"


def well_calibrated_verdict(eces: list) -> str:
    """Guo et al.'s reading, from CCE's per-seed test ECEs of each model: ``"agrees"``
    when every model's 95% interval lies below :data:`WELL_CALIBRATED`, ``"differs"`` when
    one lies above it, else ``"not separable from the line"`` (an interval straddles it,
    or there is none)."""
    stats = [mean_ci95(np.asarray(e, dtype=float)) for e in eces]
    if any(h is None for _, h in stats):
        return "not separable from the line"
    if all(m + h < WELL_CALIBRATED for m, h in stats):
        return "agrees"
    if any(m - h > WELL_CALIBRATED for m, h in stats):
        return "differs"
    return "not separable from the line"


def lowest_ece(doc: dict) -> dict[str, dict]:
    """Per model: the loss with the lowest mean test ECE (``low``), the losses whose 95%
    intervals overlap its own (``tied``; a lowest mean is not a best unless they separate),
    the highest (``high``), whether there are intervals at all (``intervals``), and each
    loss's ``said`` text, e.g. ``MSE on softmax (0.31 ± 0.18%)``."""
    out = {}
    for model, per_loss in doc["calibration"].items():
        stats = {}
        for loss, rep in per_loss.items():
            m, h = mean_ci95(100 * np.asarray(rep["ece"], dtype=float))
            stats[loss] = {"mean": m, "ci95": h}
        if not stats:
            continue
        low = min(stats, key=lambda k: stats[k]["mean"])
        out[model] = {
            "low": low,
            "high": max(stats, key=lambda k: stats[k]["mean"]),
            "tied": [k for k in stats if k != low and compare(stats[k], stats[low]) == 0],
            "intervals": stats[low]["ci95"] is not None,
            "said": {
                k: f"{NAMES.get(k, k)} ({_ci(rep['ece'], 100)}%)" for k, rep in per_loss.items()
            },
        }
    return out


def lowest_ece_sentences(doc: dict) -> list[str]:
    """Per model, a bullet: the lowest mean test ECE and which losses it does not
    separate from (:func:`lowest_ece`), and the highest."""
    out = []
    for model, r in lowest_ece(doc).items():
        said = r["said"]
        if not r["intervals"]:
            verdict = "one run per loss: no interval, no ranking claimed"
        elif r["tied"]:
            verdict = f"not separable from {', '.join(said[k] for k in r['tied'])}"
        else:
            verdict = "its interval below every other loss's"
        out.append(
            f"- {MODEL_NAMES.get(model, model)}: lowest mean ECE {said[r['low']]}, {verdict}; "
            f"highest {said[r['high']]}."
        )
    return out


def readme_rows(doc: dict, summary: str, verdict: str) -> list[str]:
    """The README's row: CCE's test ECE per model, the loss with the lowest mean ECE and
    what it does not separate from, and the square loss's capped confidence."""
    cfg = doc["provenance"]["config"]
    parts = []
    low = lowest_ece(doc)
    for model, per_loss in doc["calibration"].items():
        name = MODEL_NAMES.get(model, model)
        text = name + ": "
        if "cce" in per_loss:
            gap = np.subtract(per_loss["cce"]["mean_confidence"], per_loss["cce"]["accuracy"])
            text += (
                f"CCE {_ci(per_loss['cce']['ece'], 100)}% (confidence − accuracy "
                f"{_ci(gap, 100)} pp), "
            )
        r = low.get(model)
        if r:
            text += f"lowest mean {r['said'][r['low']]}"
            if r["tied"]:
                text += f", not separable from {', '.join(NAMES.get(k, k) for k in r['tied'])}"
        parts.append(text)
    square = [
        per_loss["square"] for per_loss in doc["calibration"].values() if "square" in per_loss
    ]
    if square:
        k = next(iter(cfg["models"].values()))[-1]
        eces = ", ".join(f"{_ci(r['ece'], 100)}%" for r in square)
        cap = 100 * np.e / (np.e + k - 1)  # as in summary_markdown
        parts.append(
            f"the square loss read through a softmax is capped at {cap:.1f}% confidence "
            f"(ECE {eces})"
        )
    measured = "test ECE, " + "; ".join(parts)
    measured += " " + run_clause(cfg, cfg["seeds"], edge_cases(doc), summary)
    agrees = (
        f"our own {100 * WELL_CALIBRATED:.0f}% rule (CCE's ECE interval below it in every "
        "model) says "
        f'"{verdict}"; Guo et al. do not study MNIST'
    )
    return [readme_row(*README, measured, agrees)]


def summary_markdown(doc: dict, source: str) -> str:
    cfg = doc["provenance"]["config"]
    n_train = "55,000" if cfg["train_subset"] is None else f"{cfg['train_subset']:,}"
    lines = [
        "# Calibration per loss",
        "",
        f"Generated by `python -m experiments.calibration` from `{source}`; do not edit. "
        f"Paper: {CITATION}.",
        "",
        f"MNIST, {n_train} training rows, SGD batch {cfg['batch_size']}, {cfg['epochs']} "
        f"epochs, lr chosen on validation from {cfg['lrs']}{grid_growth(cfg)}, "
        f"{cfg['seeds']} seeds{replicate_note(cfg)}; test-set "
        f"ECE over {cfg['num_bins']} equal-width bins (percent), NLL, accuracy and mean "
        "confidence (above accuracy: overconfident), means ± 95% t-intervals over seeds, "
        "computed from the stored params "
        f"(`{doc['params_file']}`).",
        "",
        "| model | loss | lr | test accuracy (%) | mean confidence (%) "
        "| confidence − accuracy (pp) | ECE (%) | NLL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lrs = _chosen(doc)
    ece_means = {}
    for model, per_loss in doc["calibration"].items():
        for loss, rep in per_loss.items():
            entry = lrs.get((model, loss), {})
            ece_means[(model, loss)] = float(np.mean(rep["ece"]))
            lines.append(
                f"| {MODEL_NAMES.get(model, model)} | {NAMES.get(loss, loss)} | "
                f"{lr_text(entry.get('lr'), entry.get('edge'))} | {_ci(rep['accuracy'], 100)} | "
                f"{_ci(rep['mean_confidence'], 100)} | "
                f"{_ci(np.subtract(rep['mean_confidence'], rep['accuracy']), 100)} | "
                f"{_ci(rep['ece'], 100)} | "
                f"{_ci(rep['nll'], 1, 3)} |"
            )
    if any(edge_mark(c[2]) for c in edge_cases(doc)):
        lines += ["", EDGE_FOOTNOTE]
    missing = [
        (m, e["loss"]) for m, sel in doc["selection"].items() for e in sel if e["lr"] is None
    ]
    if missing:
        lines.append(f"\nEvery lr diverged for: {missing}.")
    lines += ["", edge_sentence(edge_cases(doc)), ""]
    verdict = "no verdict"
    if ece_means:
        lines += lowest_ece_sentences(doc)
        cce = [
            per_loss["cce"]["ece"] for per_loss in doc["calibration"].values() if "cce" in per_loss
        ]
        if cce:
            verdict = well_calibrated_verdict(cce)
            if cfg["mode"] != "full":
                verdict = "no verdict at this size"
            lines.append(
                "\nGuo et al. report that small, shallow networks trained with the NLL "
                "(LeNet-era models) are close to calibrated and that miscalibration "
                "(overconfidence) comes with depth, width, batch normalisation and little "
                "weight decay, on CIFAR/ImageNet-scale models; MNIST and these two small "
                "models are outside their experiments. Our CCE models' ECE: "
                + ", ".join(f"{_ci(e, 100)}%" for e in cce)
                + f" (well calibrated: the 95% interval below {100 * WELL_CALIBRATED:.0f}%; "
                "not: above it): "
                f"**{verdict}**."
            )
    square = [
        rep
        for per_loss in doc["calibration"].values()
        for n, rep in per_loss.items()
        if n == "square"
    ]
    if square:
        # Logits trained onto the one-hot target give at most softmax(e₁) = e/(e + K − 1).
        k = next(iter(cfg["models"].values()))[-1]  # the number of classes
        cap = np.e / (np.e + k - 1)
        conf = np.mean([np.mean(r["mean_confidence"]) for r in square])
        lines.append(
            f"\nThe square loss regresses the logits onto the one-hot target, so a perfect fit "
            f"reads out softmax confidence e/(e + K − 1) = {100 * cap:.1f}% at K = {k}; its "
            f"mean confidence here is {100 * conf:.1f}%. Its ECE measures that read-out "
            "(underconfidence by construction), not a miscalibrated ranking."
        )
    if cfg["mode"] != "full":
        lines.append(f"\nThis is a `--{cfg['mode']}` run: it proves the pipeline, no verdict.")
    summary = f"results/{Path(source).stem}.md"
    lines += ["", *readme_section(readme_rows(doc, summary, verdict))]
    return "\n".join(lines) + "\n"


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    path = Path(out_dir) / f"{Path(results_path).stem}.md"
    return atomic_write_text(path, summary_markdown(doc, Path(results_path).name))
