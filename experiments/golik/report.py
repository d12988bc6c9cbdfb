"""Figure and summary of ``python -m experiments.golik``, from ``golik.json`` only.

One panel per (model, init scale): test accuracy per epoch of the three arms (CCE
throughout, MSE from the start, CCE then MSE) at their chosen lrs, mean ± 95% t-band over
seeds, with the switch epoch marked. A † after an lr in a legend: that lr, chosen on
validation, lies on an edge of its grid.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

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
    final_test,
    from_sign,
    grid_growth,
    lr_text,
    pct,
    readme_row,
    readme_section,
    replicate_note,
    run_clause,
    tally,
)
from softjax.plots.common import PERCENT, clip_band, fmt_lr
from softjax.results import atomic_save_figure, atomic_write_text, read_json

ARMS = {"cce": "tab:blue", "mse": "tab:red", "cce→mse": "tab:green"}
MODELS = {"softmax_regression": "softmax regression", "mlp": "MLP 784-{hidden}-10"}
README = (
    "CE then squared error (Golik, Doetsch & Ney 2013)",
    "python -m experiments.golik",
    "MSE from random init reaches a worse optimum; a few MSE epochs after CE help slightly",
)


def _row(rows, arm, scale):
    return next((r for r in rows if r["loss"] == arm and r["init_scale"] == scale), None)


def grid(cfg: dict, arm: str) -> list | None:
    """The lrs ``arm``'s reported lr was chosen from: CCE's grid for ``cce``, MSE's for
    ``mse`` and for ``cce→mse``'s MSE phase (one entry of each under ``lr_index``)."""
    grids = cfg.get("lr_grids")
    if not grids:
        return None
    lrs = grids["cce" if arm == "cce" else "mse"]
    return lrs if cfg.get("lr_index") is None else [lrs[cfg["lr_index"]]]


def lr_label(res, row) -> str:
    """``row``'s lr with its edge mark; for ``cce→mse`` also the CCE phase's (CCE's chosen
    lr, so the ``cce`` arm's edge at that scale): ``2.0† (CCE phase: 0.5†)``."""
    text = lr_text(row["lr"], row.get("edge"))
    if row["loss"] == "cce→mse":
        lr = res["best_cce_lr"].get(str(row["init_scale"]), "?")
        cce = _row(res["rows"], "cce", row["init_scale"]) or {}
        text += f" (CCE phase: {lr_text(lr, cce.get('edge') if cce.get('lr') == lr else None)})"
    return text


def edge_cases(doc: dict) -> list[tuple]:
    """``(name, lr, edge, grid)`` of every chosen lr, for :func:`edge_sentence`: the arm's
    own final grid (``lrs_by_arm``), or :func:`grid` in results written before grids
    were extended."""
    cfg = doc["provenance"]["config"]
    return [
        (
            f"{model} {'cce→mse (MSE phase)' if r['loss'] == 'cce→mse' else r['loss']}, "
            f"init scale {r['init_scale']:g},",
            r["lr"],
            r.get("edge"),
            res.get("lrs_by_arm", {}).get(r["loss"]) or grid(cfg, r["loss"]),
        )
        for model, res in doc["results"].items()
        for r in res["rows"]
    ]


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    switch = doc["provenance"]["config"]["switch"]
    models = list(doc["results"])
    fig, axes = plt.subplots(len(models), 2, figsize=(12, 4.2 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        res = doc["results"][model]
        for j, scale in enumerate(res["init_scales"]):
            ax = axes[i, j]
            means = []
            for arm, color in ARMS.items():
                row = _row(res["rows"], arm, scale)
                curve = (row or {}).get("curves", {}).get("test_accuracy", {})
                if not curve or curve.get("mean") is None:
                    continue
                mean = 100 * np.asarray(curve["mean"], float)
                epochs = np.arange(1, len(mean) + 1)
                label = f"{arm} (lr {lr_label(res, row)})"
                ax.plot(epochs, mean, marker="o", color=color, label=label)
                if curve.get("ci95") is not None:  # none over one seed
                    ci = 100 * np.asarray(curve["ci95"], float)
                    low, high, _ = clip_band(mean - ci, mean + ci, PERCENT)
                    ax.fill_between(epochs, low, high, color=color, alpha=0.2)
                means.extend(mean)
            if means:
                # The y-range fits the means: a wide early band over few seeds (reaching
                # towards 0% at the MLP's epoch 1) would flatten every curve that matters.
                lo, hi = min(means), max(means)
                pad = 0.08 * max(hi - lo, 0.5)
                ax.set_ylim(lo - pad, hi + pad)
            ax.axvline(switch + 0.5, color="grey", ls="--", lw=1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{model}, init scale {scale:g}", fontsize=10)
            ax.set_xlabel("epoch (dashed: CCE → MSE switch)")
            ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    edge_layout(fig, [c[2] for c in edge_cases(doc)])
    path = Path(out_dir) / (Path(results_path).stem + ".png")
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [path]


MSE_WORSE, SWITCH_HELPS = "mse_from_init_worse", "switch_to_mse_helps"
"""The paper's two claims: MSE from a random init reaches a worse optimum than CCE; a few
MSE epochs after CCE help slightly."""
_MSE_WORDS = {AGREE: "falls short of", DIFFER: "beats", INCONCLUSIVE: "is not separable from"}
_SWITCH_WORDS = {AGREE: "helps", DIFFER: "hurts", INCONCLUSIVE: "makes no separable difference"}


def judgements(doc: dict) -> list[Judgement]:
    """The verdicts of ``doc``: stored ones (``doc["verdicts"]``), else computed from its
    numbers (results written before verdicts were stored): per (model, init scale), MSE
    from random init against CCE (two 95% intervals) and the paired CCE→MSE − CCE gain
    (its 95% interval against 0)."""
    if "verdicts" in doc:
        return [Judgement.from_dict(v) for v in doc["verdicts"]]
    out = []
    for model, res in doc["results"].items():
        for scale in res["init_scales"]:
            setting = f"{model}, scale {scale:g}"
            cce, mse = _row(res["rows"], "cce", scale), _row(res["rows"], "mse", scale)
            if cce and mse:
                sign = compare(final_test(mse), final_test(cce))
                numbers = {"mse": final_test(mse), "cce": final_test(cce)}
                out.append(Judgement(MSE_WORSE, setting, from_sign(sign, -1), numbers))
            d = res["paired_switch_minus_cce"].get(str(scale))
            if d:
                lo, hi = d["mean"] - d["ci95"], d["mean"] + d["ci95"]
                sign = 1 if lo > 0 else -1 if hi < 0 else 0
                out.append(Judgement(SWITCH_HELPS, setting, from_sign(sign, 1), dict(d)))
    return out


def claim_text(j: Judgement) -> str:
    """One judgement as the summary's sentence."""
    n = j.numbers
    if j.claim == MSE_WORSE:
        return (
            f"{j.setting}: MSE from random init {_MSE_WORDS[j.outcome]} CCE "
            f"({pct(n['mse'])} vs {pct(n['cce'])})."
        )
    return (
        f"{j.setting}: switching to MSE {_SWITCH_WORDS[j.outcome]}: paired difference "
        f"(CCE→MSE − CCE) {100 * n['mean']:+.2f} ± {100 * n['ci95']:.2f} pp "
        f"over {n['n']} seeds."
    )


def readme_rows(doc: dict, summary: str, verdicts: list[Judgement]) -> list[str]:
    """The README's row: per (model, init scale) MSE from random init against CCE and the
    paired CCE→MSE − CCE gain; the agreement column counts ``verdicts``."""
    cfg = doc["provenance"]["config"]
    parts = []
    for model, res in doc["results"].items():
        for scale in res["init_scales"]:
            cce, mse = _row(res["rows"], "cce", scale), _row(res["rows"], "mse", scale)
            if not (cce and mse):
                continue
            name = MODELS.get(model, model).format(**cfg)
            text = (
                f"{name} at init scale {scale:g}: MSE {pct(final_test(mse))} "
                f"(lr {fmt_lr(mse['lr'])}) vs CCE {pct(final_test(cce))}"
            )
            gain = res["paired_switch_minus_cce"].get(str(scale))
            if gain:
                text += f", CCE→MSE − CCE {100 * gain['mean']:+.2f} ± {100 * gain['ci95']:.2f} pp"
            parts.append(text)
    n = len(cfg["seeds"])
    measured = "; ".join(parts) + " " + run_clause(cfg, n, edge_cases(doc), summary)
    (worse, of1), (helps, of2) = tally(verdicts, MSE_WORSE), tally(verdicts, SWITCH_HELPS)
    agree = (
        "yes" if worse == of1 and helps == of2 and helps else "in part" if worse or helps else "no"
    )
    agrees = f"{agree}: claim 1 holds in {worse} of {of1} settings, claim 2 in {helps} of {of2}"
    return [readme_row(*README, measured, agrees)]


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    cfg = doc["provenance"]["config"]
    lines = [
        "# CE first, then squared error (Golik, Doetsch & Ney 2013)",
        "",
        "**Paper.** Golik, Doetsch & Ney, *Cross-Entropy vs. Squared Error Training: a "
        "Theoretical and Experimental Comparison* (Interspeech 2013): squared error from a "
        "random init fails to reach as good an optimum as cross-entropy, and a few "
        "squared-error epochs after cross-entropy pre-training help slightly.",
        "",
        f"**Our setting** ({cfg['mode']} size): MNIST (train subset "
        f"{cfg['train_subset'] or 'all 55,000'}), softmax regression and a sigmoid MLP "
        f"784-{cfg['hidden']}-10, plain SGD batch {cfg['batch_size']}, {cfg['epochs']} epochs, "
        f"switch after epoch {cfg['switch']}, init scales 1 and {cfg['saturating_scales']}, "
        f"lr grids {cfg['lr_grids']}{grid_growth(cfg)}, chosen on validation, seeds "
        f"{cfg['seeds']}{replicate_note(cfg)}. The paper "
        "trains speech acoustic models on frame labels (thousands of tied states), not "
        "MNIST images.",
        "",
        "| model | init scale | arm | lr | test accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for model, res in doc["results"].items():
        for row in res["rows"]:
            lines.append(
                f"| {model} | {row['init_scale']:g} | {row['loss']} "
                f"| {lr_label(res, row)} | {pct(final_test(row))} |"
            )
    verdicts = judgements(doc)
    claims = [claim_text(j) for j in verdicts]
    cases = edge_cases(doc)
    if any(edge_mark(c[2]) for c in cases):
        lines += ["", EDGE_FOOTNOTE]
    mse_worse, mse_total = tally(verdicts, MSE_WORSE)
    helps, switch_total = tally(verdicts, SWITCH_HELPS)
    lines += [
        "",
        *[f"- {c}" for c in claims],
        "",
        f"**Claim 1 (MSE from random init reaches a worse optimum):** holds in {mse_worse} of "
        f"{mse_total} settings here "
        + ("(we agree)." if mse_worse == mse_total else "(we agree only in part)."),
        f"**Claim 2 (a few MSE epochs after CE help slightly):** helps in {helps} of "
        f"{switch_total} settings "
        + (
            "(we agree)."
            if helps == switch_total and helps
            else "(we agree in part)."
            if helps
            else "(we do not reproduce it)."
        ),
        "",
        "Caveat: the CCE→MSE arm picks its MSE-phase lr on validation, one tuning choice "
        "that CCE continued does not get; its paired gain is measured against CCE at CCE's "
        "own chosen lr, with the same first k epochs.",
        "",
        edge_sentence(cases),
        "",
        f"Figure `{Path(results_path).stem}.png`: test accuracy per epoch at the chosen lrs, "
        "mean ± 95% t-band over seeds; each panel's y-range fits the means, so a wider band "
        "is cut at the panel's edge.",
        "",
        f"Wall time {doc.get('wall_s', 0):.0f} s; trained at git "
        f"{doc['provenance'].get('git_commit')}.",
        "",
        *readme_section(
            readme_rows(
                doc,
                f"results/{Path(results_path).stem}.md",
                verdicts,
            )
        ),
    ]
    path = Path(out_dir) / (Path(results_path).stem + ".md")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
