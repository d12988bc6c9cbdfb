"""Figure and summary of ``python -m experiments.golik``, from ``golik.json`` only.

One panel per (model, init scale): test accuracy per epoch of the four arms (CCE
throughout, MSE from the start, CCE then MSE, CCE then CCE re-tuned) at their chosen lrs,
mean ± 95% t-band over replicates, with the switch epoch marked.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from experiments._common.choices import choice_text
from experiments._common.verdicts import (
    AGREE,
    DIFFER,
    INCONCLUSIVE,
    Judgement,
    readme_row,
    readme_section,
    tally,
)
from experiments.golik import analysis
from softjax.results import atomic_save_figure, atomic_write_text, read_json
from softjax.sweeps.inference import Verdict, family_line
from softjax.sweeps.stats import t_quantile_975

METHODS = "v3"
"""The methods the current code writes (lr search, the CCE→CCE control, paired verdicts,
per-seed values); results without this mark predate them and are refused."""
ARMS = {"cce": "tab:blue", "mse": "tab:red", "cce→mse": "tab:green", "cce→cce": "tab:gray"}
MODELS = {"softmax_regression": "softmax regression", "mlp": "MLP 784-{hidden}-10"}
README = (
    "CE then squared error (Golik, Doetsch & Ney 2013)",
    "python -m experiments.golik",
    "MSE from random init reaches a worse optimum; a few MSE epochs after CE help slightly",
)


def _check(doc, path) -> None:
    if doc.get("methods") != METHODS:
        raise SystemExit(
            f"{path}: results from before the {METHODS} methods (no lr search, no CCE→CCE "
            "control, no per-seed values); re-run python -m experiments.golik"
        )


def _stats(values) -> tuple[float | None, float | None]:
    v = [x for x in values if x is not None]
    if not v:
        return None, None
    if len(v) < 2:
        return float(v[0]), None
    return float(np.mean(v)), float(
        t_quantile_975(len(v) - 1) * np.std(v, ddof=1) / np.sqrt(len(v))
    )


def pct(values) -> str:
    m, h = _stats(values)
    if m is None:
        return "— (every replicate diverged)"
    return f"{100 * m:.2f}%" if h is None else f"{100 * m:.2f} ± {100 * h:.2f}%"


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    _check(doc, results_path)
    switch = doc["provenance"]["config"]["switch"]
    models = list(doc["results"])
    fig, axes = plt.subplots(len(models), 2, figsize=(12, 4.2 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        res = doc["results"][model]
        for j, scale in enumerate(res["init_scales"]):
            ax = axes[i, j]
            means = []
            for arm, color in ARMS.items():
                entry = res["arms"].get(arm, {}).get(str(scale))
                curves = [c for c in (entry or {}).get("curves", {}).get("test_accuracy", []) if c]
                curves = [c for c in curves if all(x is not None for x in c)]
                if not curves:
                    continue
                acc = 100 * np.asarray(curves, float)
                stats = [_stats(list(acc[:, e])) for e in range(acc.shape[1])]
                mean = np.array([s[0] for s in stats])
                half = np.array([s[1] or 0.0 for s in stats])
                epochs = np.arange(1, len(mean) + 1)
                ax.plot(
                    epochs, mean, marker="o", color=color, label=f"{arm} (lr {entry['lr']:.3g})"
                )
                ax.fill_between(
                    epochs,
                    np.clip(mean - half, 0, 100),
                    np.clip(mean + half, 0, 100),
                    color=color,
                    alpha=0.2,
                )
                means.extend(mean)
            if means:
                lo, hi = min(means), max(means)
                pad = 0.08 * max(hi - lo, 0.5)
                ax.set_ylim(lo - pad, hi + pad)
            ax.axvline(switch + 0.5, color="grey", ls="--", lw=1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{model}, init scale {scale:g}", fontsize=10)
            ax.set_xlabel("epoch (dashed: the switch)")
            ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / (Path(results_path).stem + ".png")
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [path]


_CLAIM_WORDS = {
    analysis.MSE_WORSE: {
        AGREE: "MSE from random init falls short of CCE",
        DIFFER: "MSE from random init does not fall short of CCE",
        INCONCLUSIVE: "cannot tell whether MSE from random init falls short of CCE",
    },
    analysis.SWITCH_HELPS: {
        AGREE: "the switch to MSE beats its CCE→CCE control",
        DIFFER: "the switch to MSE does not beat its CCE→CCE control",
        INCONCLUSIVE: "cannot tell whether the switch beats its CCE→CCE control",
    },
}


def _gap(v: dict) -> str:
    def num(x):
        return f"{100 * x:+.2f}".replace("-", "−")

    return f"{num(v['mean'])} pp [{num(v['low'])}, {num(v['high'])}], {v['verdict']}"


def _choice(res: dict, arm: str, scale: float) -> dict | None:
    return next((c for c in res["choices"] if c["arm"] == [arm, scale]), None)


def _table(doc: dict) -> list[str]:
    rows = []
    for model, res in doc["results"].items():
        for arm in ARMS:
            for scale in res["init_scales"]:
                entry = res["arms"].get(arm, {}).get(str(scale))
                if entry is None:
                    continue
                c = _choice(res, arm, scale)
                lr = choice_text(c) if c else f"lr {entry['lr']:.3g}"
                if c and c["lr"] is None and entry["lr"] is not None:
                    lr += f"; measured at its best finite lr {entry['lr']:.3g}"
                if arm in ("cce→mse", "cce→cce"):
                    lr += f"; CCE phase at CCE's lr {entry['lr_cce']:.3g}"
                n = sum(x is not None for x in entry["per_seed"])
                rows.append(
                    f"| {model} | {scale:g} | {arm} | {lr} | {pct(entry['per_seed'])} | "
                    f"{n} of {len(entry['per_seed'])} |"
                )
    return rows


def switch_sentences(doc: dict) -> list[str]:
    """Per setting where the switch ends where MSE from scratch ends (``cce→mse − mse``
    equivalent within ±δ), that plain fact; softmax regression at init 1 always gets its
    sentence, whatever the verdict."""
    found, out = doc["analysis"], []
    for model, res in doc["results"].items():
        for scale in res["init_scales"]:
            v = analysis.find(found, model, scale, "cce→mse", "mse")
            if v is None:
                continue
            name = analysis.setting(model, scale)
            if v["verdict"] == "equivalent":
                out.append(
                    f"{name}: the switch equals MSE from scratch (CCE→MSE − MSE {_gap(v)}, "
                    f"within ±{100 * v['delta']:.2f} pp): here CCE→MSE's lead over CCE is "
                    "MSE's own lead over CCE, not an effect of CCE pre-training."
                )
            elif model == "softmax_regression" and scale == 1.0:
                out.append(
                    f"{name}: CCE→MSE − MSE from scratch is {_gap(v)}: the switch is not "
                    f"shown to equal MSE from scratch within ±{100 * v['delta']:.2f} pp here."
                )
    return out


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    _check(doc, results_path)
    cfg = doc["provenance"]["config"]
    seeds = doc["provenance"]["seeds"]
    judged = [Judgement.from_dict(j) for j in doc["verdicts"]]
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
        f"switch after epoch {cfg['switch']}, init scales 1 and "
        f"{', '.join(f'{v:g} ({k})' for k, v in cfg['saturating_scales'].items())}. Each lr "
        f"is searched (`search_lrs` from {cfg['start_lrs']}, at most {cfg['max_rounds']} "
        f"rounds) on replicates {cfg['search_seeds']}, chosen on validation among runs above "
        "chance: CCE's first; then the second phase of MSE, CCE→MSE and the control CCE→CCE, "
        "each re-tuned the same way with CCE's chosen lr in the first phase. Replicates "
        f"{seeds} (replicate i: {cfg['replicates']}) train at the chosen lrs. The paper "
        "trains speech acoustic models on frame labels (thousands of tied states), not "
        "MNIST images.",
        "",
        "| model | init scale | arm | lr chosen on validation | test accuracy "
        "| replicates finite |",
        "| --- | --- | --- | --- | --- | --- |",
        *_table(doc),
        "",
        "Means ± 95% t-intervals over replicates.",
        "",
    ]
    for family, verdicts in doc["analysis"]["families"].items():
        done = [Verdict(**{k: x for k, x in v.items() if k != "seeds"}) for v in verdicts]
        if not done:
            continue
        lines += [
            f"### {family}",
            "",
            *[f"- {v.render(scale=100, unit=' pp')}" for v in done],
            "",
            family_line(done, scale=100, unit=" pp"),
            "",
        ]
    lines += ["**Verdicts.**", ""]
    lines += [
        f"- {j.setting}: {_CLAIM_WORDS[j.claim][j.outcome]} ({_gap(j.numbers)})." for j in judged
    ]
    worse, of1 = tally(judged, analysis.MSE_WORSE)
    helps, of2 = tally(judged, analysis.SWITCH_HELPS)
    lines += [
        "",
        f"**Claim 1 (MSE from random init reaches a worse optimum):** holds in {worse} of "
        f"{of1} settings.",
        f"**Claim 2 (a few MSE epochs after CE help, against the CCE→CCE control):** holds "
        f"in {helps} of {of2} settings.",
        "",
        *switch_sentences(doc),
        "",
        f"Run time: {doc['wall_s'] / 60:.1f} min ("
        + ", ".join(
            f"{m} {r['wall_s'] / 60:.1f} min, {r['model_epochs']:,} model-epochs"
            for m, r in doc["results"].items()
        )
        + f"); commit {doc['provenance'].get('git_commit')}.",
        "",
        *readme_section(readme_rows(doc, f"results/{Path(results_path).stem}.md", judged)),
    ]
    path = Path(out_dir) / (Path(results_path).stem + ".md")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def readme_rows(doc: dict, summary: str, judged: list[Judgement]) -> list[str]:
    """The README's row: per setting the paired MSE − CCE and CCE→MSE − CCE→CCE
    differences; the agreement column counts the judgements."""
    cfg, found = doc["provenance"]["config"], doc["analysis"]
    parts = []
    for model, res in doc["results"].items():
        for scale in res["init_scales"]:
            name = f"{MODELS.get(model, model).format(**cfg)} at init {scale:g}"
            bits = []
            for a, b in (("mse", "cce"), ("cce→mse", "cce→cce")):
                v = analysis.find(found, model, scale, a, b)
                if v is not None:
                    bits.append(f"{a.upper()} − {b.upper()} {_gap(v)}")
            if bits:
                parts.append(f"{name}: " + "; ".join(bits))
    equal = [s.split(":")[0] for s in switch_sentences(doc) if "equals MSE from scratch" in s]
    measured = (
        " · ".join(parts)
        + (f" · the switch equals MSE from scratch at {', '.join(equal)}" if equal else "")
        + f" ({len(doc['provenance']['seeds'])} paired replicates, lrs searched, Holm per "
        f"claim, equivalence margin ±{100 * found['delta']:.2f} pp; `{summary}`)"
    )
    (worse, of1), (helps, of2) = (
        tally(judged, analysis.MSE_WORSE),
        tally(judged, analysis.SWITCH_HELPS),
    )
    agree = (
        "yes" if worse == of1 and helps == of2 and helps else "in part" if worse or helps else "no"
    )
    agrees = (
        f"{agree}: claim 1 holds in {worse} of {of1} settings, claim 2 (against the CCE→CCE "
        f"control) in {helps} of {of2}"
    )
    return [readme_row(*README, measured, agrees)]
