"""Figure and summary of ``python -m experiments.label_noise``, from ``label_noise.json`` only.

The figure: per noise rate η > 0, the fraction of flipped training labels each loss's net
predicts (memorised) per epoch, mean over replicates; below, clean test accuracy and the
final training accuracy on the noisy labels against η, with 95% t-intervals. The
summary renders the JSON's verdicts (:mod:`.analysis`); nothing in it is typed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from experiments._common.verdicts import (  # noqa: E402
    AGREE,
    DIFFER,
    Judgement,
    errorbar,
    readme_row,
    readme_section,
)
from softjax.results import atomic_save_figure, atomic_write_text, read_json  # noqa: E402
from softjax.sweeps.inference import Verdict, family_line  # noqa: E402

NAMES = {"cce": "CCE", "mse": "MSE (softmax)", "mae": "MAE (softmax)", "gce": "GCE (q = 0.7)"}
README = (
    "Symmetric label noise: memorisation, CCE vs MSE vs MAE vs GCE (Ghosh, Kumar & Sastry "
    "2017; Zhang & Sabuncu 2018)",
    "python -m experiments.label_noise",
    "bounded losses (MAE) resist memorising noisy labels, which CCE suffers once a net fits "
    "its training set",
)
WORDS = {AGREE: "agrees", DIFFER: "differs", "inconclusive": "inconclusive"}
BUDGET_WORDS = {"short": "fixed budget", "long": "longer budget"}
PROTOCOL_WORDS = {
    "tuned": "lr tuned per rate on the noisy validation split",
    "fixed": "each loss's η = 0 lr at every rate",
}


def _pp(x) -> str:
    return "—" if x is None else f"{100 * x:+.2f}".replace("-", "−")


def _pct(stat, digits: int = 1) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    ci = stat.get("ci95")
    return f"{100 * stat['mean']:.{digits}f}" + ("" if ci is None else f" ± {100 * ci:.{digits}f}")


def _name(loss: str) -> str:
    return NAMES.get(loss, loss)


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    protocols = doc["analysis"]["protocols"]
    first = next(iter(protocols.values()))
    rates = sorted({c["rate"] for c in first["cells"][first["judged_budget"]]})
    noisy = [r for r in rates if r > 0]
    ncol = max(len(noisy), len(protocols), 1)
    nrow = len(protocols) + 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.4 * nrow), squeeze=False)
    for i, (protocol, a) in enumerate(protocols.items()):
        cells = a["cells"][a["judged_budget"]]
        for j, rate in enumerate(noisy):
            ax = axes[i, j]
            for c in cells:
                curve = c.get("memorised_per_epoch")
                if c["rate"] == rate and curve:
                    xs = range(1, len(curve) + 1)
                    ax.plot(xs, [100 * (v or 0) for v in curve], label=_name(c["loss"]))
            ax.set(title=f"{protocol} lr, η = {100 * rate:.0f}%", xlabel="epoch", ylim=(0, 100))
            ax.grid(alpha=0.3)
        axes[i, 0].set_ylabel("flipped labels memorised (%)")
        for j in range(len(noisy), ncol):
            axes[i, j].axis("off")
        ax = axes[-1, i]
        losses = list(dict.fromkeys(c["loss"] for c in cells))
        for loss in losses:
            mine = {c["rate"]: c["clean_test"] for c in cells if c["loss"] == loss}
            errorbar(ax, [100 * r for r in rates], [mine.get(r) for r in rates], label=_name(loss))
        ax.set(title=f"{protocol} lr: clean test accuracy (%)", xlabel="noise rate η (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    for j in range(len(protocols), ncol):
        axes[-1, j].axis("off")
    axes[-1, 0].legend(fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(out_dir) / (Path(results_path).stem + ".png")
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [path]


def _verdict_table(entries, bound: float = 1.0) -> list[str]:
    """A family's verdicts as its family line and a table; intervals clipped to the
    range the compared quantity can take, ±``bound``."""
    if not entries:
        return ["No comparison could be made (fewer than 2 paired replicates).", ""]
    verdicts = [Verdict(**{k: e[k] for k in Verdict.__dataclass_fields__}) for e in entries]
    lines = [
        family_line(verdicts, scale=100, unit=" pp"),
        "",
        "| comparison | estimate (pp) | 95% interval | n | verdict | Holm p |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for v in verdicts:
        p = v.p_equivalence_adjusted if v.verdict == "equivalent" else v.p_adjusted
        lines.append(
            f"| {v.comparison} | {_pp(v.mean)} | "
            f"[{_pp(max(-bound, v.low))}, {_pp(min(bound, v.high))}] | {v.n} "
            f"| **{v.verdict}** | {p:.2g} |"
        )
    return lines + [""]


def judgement_lines(doc) -> list[str]:
    """One line per loss: its judgement at each η > 0, from the JSON's judgements."""
    by_loss: dict = {}
    for d in doc["analysis"]["judgements"]:
        j = Judgement.from_dict(d)
        n = j.numbers
        said = (
            f"η = {100 * n['rate']:.0f}%: {_pp(n['mean'])} pp "
            f"[{_pp(n['low'])}, {_pp(n['high'])}] {n['verdict']}"
        )
        if not n["regime"]:
            said += " (CCE outside the memorisation regime)"
        key = (n.get("protocol", "tuned"), n["loss"])
        by_loss.setdefault(key, []).append((j.outcome, said))
    out = []
    for (protocol, loss), items in by_loss.items():
        agree = sum(o == AGREE for o, _ in items)
        differ = sum(o == DIFFER for o, _ in items)
        out.append(
            f"- **{_name(loss)}, {protocol} lr**: agrees at {agree}, differs at {differ} of "
            f"{len(items)} rates: " + "; ".join(s for _, s in items) + "."
        )
    return out


def regime_lines(doc, a) -> list[str]:
    cfg = doc["provenance"]["config"]
    regimes = a["regime"]
    budgets = [b for b in ("short", "long") if regimes.get(b)]
    epochs = {"short": cfg["epochs"], "long": cfg["budget"]["longer"] * cfg["epochs"]}
    head = " | ".join(
        f"{epochs[b]} epochs: train acc on noisy labels (%) | memorised (%) | regime"
        for b in budgets
    )
    lines = [
        "CCE's final training accuracy on the noisy labels and memorised fraction of the "
        f"flipped ones, per rate and budget (the regime: training accuracy ≥ "
        f"{100 * cfg['regime']:.0f}%):",
        "",
        f"| η | {head} |",
        "| --- " * (1 + 3 * len(budgets)) + "|",
    ]
    rates = sorted({k for b in budgets for k in regimes[b]}, key=float)
    for rate in rates:
        cells = []
        for b in budgets:
            r = regimes[b].get(rate)
            if r is None:
                cells.append("— | — | —")
                continue
            mem = "—" if r["memorised"] is None else f"{100 * r['memorised']:.1f}"
            cells.append(
                f"{100 * r['train_noisy']:.1f} | {mem} | {'yes' if r['reached'] else 'no'}"
            )
        lines.append(f"| {100 * float(rate):.0f}% | {' | '.join(cells)} |")
    judged = a["judged_budget"]
    noisy = [r for k, r in regimes[judged].items() if float(k) > 0]
    got = sum(r["reached"] for r in noisy)
    lines += [
        "",
        f"**Memorisation regime:** at the {BUDGET_WORDS[judged]} ({epochs[judged]} epochs, the "
        f"one the claim is judged at), CCE reached it at {got} of {len(noisy)} noise rates > 0. "
        + (
            "Where it did not, the claim is not tested (its judgement is inconclusive): the "
            "net, the subset and the budget did not make CCE fit its noisy labels there."
            if got < len(noisy)
            else "The claim is tested at every rate."
        ),
        "",
    ]
    return lines


def epochs_shown(n: int) -> list[int]:
    return sorted({e for e in (1, 2, 5, 10, 20, 40, 80, n) if e <= n})


def per_epoch_table(doc, a) -> list[str]:
    judged = a["judged_budget"]
    short = a["cells"][judged]
    cfg = doc["provenance"]["config"]
    n = cfg["epochs"] * (cfg["budget"]["longer"] if judged == "long" else 1)
    shown = epochs_shown(n)
    lines = [
        "Flipped training labels memorised (%) per epoch, mean over replicates (per-seed "
        "curves in the JSON's runs):",
        "",
        "| η | loss | lr | " + " | ".join(f"ep {e}" for e in shown) + " | clean test (%) |",
        "| --- " * (4 + len(shown)) + "|",
    ]
    for c in short:
        curve = c.get("memorised_per_epoch")
        if c["rate"] == 0 or not curve:
            continue
        vals = " | ".join(
            "—" if curve[e - 1] is None else f"{100 * curve[e - 1]:.1f}" for e in shown
        )
        lines.append(
            f"| {100 * c['rate']:.0f}% | {_name(c['loss'])} | {c['lr']:.3g} | {vals} | "
            f"{_pct(c['clean_test'])} |"
        )
    return lines + [""]


def cell_table(doc, budget: str, a) -> list[str]:
    lines = [
        "| η | loss | lr (search verdict) | clean test acc (%) | train acc, noisy labels (%) "
        "| train acc, clean labels (%) | flipped memorised (%) | n (diverged) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    verdict = {}
    for rate, got in doc["rates"].items():
        for c in got["search"]["choices"]:
            verdict[(float(rate), c["arm"][0])] = c["verdict"]
    for c in a["cells"][budget]:
        at = c["rate"] if a["protocol"] == "tuned" else 0.0  # fixed: the η = 0 choice
        lines.append(
            f"| {100 * c['rate']:.0f}% | {_name(c['loss'])} | {c['lr']:.3g} "
            f"({verdict.get((at, c['loss']), '—')}) | {_pct(c['clean_test'], 2)} | "
            f"{_pct(c['train_noisy'])} | {_pct(c['train_clean'])} | {_pct(c['memorised'])} | "
            f"{c['n']} ({c['diverged']}) |"
        )
    return lines + [""]


def readme_rows(doc, summary: str) -> list[str]:
    cfg = doc["provenance"]["config"]
    parts = []
    for protocol, a in doc["analysis"]["protocols"].items():
        judged = a["judged_budget"]
        inter = a["interaction"][judged]
        top = max((x["rate"] for x in inter), default=None)
        reg = a["regime"][judged]
        reached = [
            f"{100 * float(k):.0f}%" for k, r in reg.items() if float(k) > 0 and r["reached"]
        ]
        epochs = cfg["epochs"] * (cfg["budget"]["longer"] if judged == "long" else 1)
        text = (
            f"{PROTOCOL_WORDS.get(protocol, protocol)}, {epochs} epochs: CCE fits the noisy "
            f"labels (≥ {100 * cfg['regime']:.0f}%) at η = {', '.join(reached) or 'no rate'}"
        )
        if inter:
            text += f"; interaction vs CCE at η = {100 * top:.0f}%: " + "; ".join(
                f"{_name(e['loss'])} {_pp(e['mean'])} pp [{_pp(e['low'])}, {_pp(e['high'])}] "
                f"{e['verdict']}"
                for e in inter
                if e["rate"] == top
            )
            text += f" (Holm over {len(inter)})"
        parts.append(text)
    measured = (
        f"MLP 784-{cfg['hidden']}-10 on {cfg['train_subset']} MNIST images, clean test "
        "accuracy; "
        + ". ".join(parts)
        + f" ({len(cfg['seeds'])} paired replicates, δ ±{100 * cfg['delta']:g} pp, `{summary}`)"
    )
    agrees = []
    for protocol in doc["analysis"]["protocols"]:
        for loss in ("mae", "gce", "mse"):
            mine = [
                Judgement.from_dict(d)
                for d in doc["analysis"]["judgements"]
                if d["numbers"]["loss"] == loss and d["numbers"].get("protocol") == protocol
            ]
            if mine:
                a_ = sum(j.outcome == AGREE for j in mine)
                d_ = sum(j.outcome == DIFFER for j in mine)
                agrees.append(
                    f"{_name(loss)} ({protocol} lr): agrees at {a_}, differs at {d_} of "
                    f"{len(mine)} rates"
                )
    return [readme_row(*README, measured, "; ".join(agrees) or "no verdict")]


def markdown(doc, name: str) -> str:
    cfg = doc["provenance"]["config"]
    runtime = doc.get("wall_s", 0) / 60
    cost = {
        k: sum(r["model_epochs"][k] for r in doc["rates"].values())
        for k in ("search", "short", "long")
    }
    lines = [
        "# Label noise: do bounded losses resist memorisation?",
        "",
        "**Papers.** Ghosh, Kumar & Sastry, *Robust Loss Functions under Label Noise for Deep "
        "Neural Networks* (AAAI 2017): a symmetric loss (MAE on the softmax) has the clean "
        "minimiser under symmetric noise η < (K−1)/K. Zhang & Sabuncu, *Generalized Cross "
        "Entropy Loss for Training Deep Neural Networks with Noisy Labels* (NeurIPS 2018): CCE "
        "memorises noisy labels once a net fits its training set; MAE resists but trains "
        "slowly; GCE (L_q, q = 0.7) sits between.",
        "",
        "**The claim as tested.** Where CCE memorises (fits the noisy training labels), a "
        "bounded loss loses less clean test accuracy to noise than CCE: the loss × noise "
        "interaction, (L − CCE) at η minus (L − CCE) at η = 0, paired by replicate, is "
        "*higher*.",
        "",
        f"**Setting** ({cfg['mode']} size). MNIST, the first {cfg['train_subset']} training "
        f"images, MLP 784-{cfg['hidden']}-10 (ReLU), SGD momentum 0.9, batch "
        f"{cfg['batch_size']}, {cfg['epochs']} epochs; symmetric noise η ∈ {cfg['rates']} "
        f"on the training and the validation labels, drawn per replicate; lr per (loss, η) "
        f"by the lr search on {cfg['validation']} (replicates {cfg['search_seeds']}, start "
        f"{cfg['start_lrs']}, at most {cfg['max_rounds']} rounds); then {len(cfg['seeds'])} "
        f"paired replicates ({cfg['replicates']}) at the chosen lr, for {cfg['epochs']} "
        f"epochs and for {cfg['budget']['longer']}× as long, under two lr protocols: "
        "tuned per rate on the noisy validation split (a practitioner's), and each loss's "
        "η = 0 lr kept at every rate (the papers' fixed hyper-parameters: the interaction "
        "then changes η alone). Clean test accuracy on "
        "the whole MNIST test set. The papers train CNNs/ResNets on CIFAR; this is the "
        "smallest setting in which the memorisation they describe occurs on 2 cores.",
        "",
    ]
    if cfg["mode"] != "full":
        lines += [f"**{cfg['mode']} size: not the study's numbers.**", ""]
    lines += [
        "## Answer",
        "",
        "The loss × noise interaction at each protocol's judged budget (the longer one "
        "where it ran), per loss and noise rate:",
        "",
        *judgement_lines(doc),
        "",
    ]
    epochs = {"short": cfg["epochs"], "long": cfg["budget"]["longer"] * cfg["epochs"]}
    for protocol, a in doc["analysis"]["protocols"].items():
        lines += [f"## {PROTOCOL_WORDS.get(protocol, protocol)}", ""]
        lines += ["### Memorisation regime", "", *regime_lines(doc, a), *per_epoch_table(doc, a)]
        judged = a["judged_budget"]
        for budget in sorted(epochs, key=lambda b: b != judged):
            if not a["cells"][budget]:
                continue
            tag = f"{BUDGET_WORDS[budget]}, {epochs[budget]} epochs"
            primary = " (primary: the claim is judged here)" if budget == judged else ""
            lines += [
                f"### Loss × noise interaction, {tag}{primary}",
                "",
                *_verdict_table(a["interaction"][budget], 2.0),
                f"### Loss − CCE at each rate, {tag}",
                "",
                *_verdict_table(a["difference"][budget]),
                f"### Per (rate, loss), {tag}",
                "",
                *cell_table(doc, budget, a),
            ]
        lines += [
            "### Longer − fixed budget",
            "",
            "Clean test accuracy of the longer run − the fixed one, paired by replicate: "
            "*higher* = the loss slows (still gains), *equivalent* = it stops, *lower* = "
            "more training costs accuracy (memorisation).",
            "",
            *_verdict_table(a["budget"]),
        ]
    improving = {k: v["improving"] for k, v in doc["rates"].items() if v["improving"]}
    lines += [
        "Still improving at the end of the lr search (`softjax.sweeps.budget`; every loss "
        f"trains both budgets regardless): {improving or 'none'}.",
        "",
    ]
    lines += [
        f"Equivalence margin δ = ±{100 * cfg['delta']:g} pp; each family Holm-corrected; "
        "verdicts by `softjax.sweeps.inference.decide`.",
        "",
        f"Run time: {runtime:.1f} min ({cost['search']} model-epochs in the lr search, "
        f"{cost['short']} in the final runs, {cost['long']} in longer runs); commit "
        f"{doc['provenance'].get('git_commit')}.",
        "",
        *readme_section(readme_rows(doc, f"results/{name}.md")),
    ]
    return "\n".join(lines)


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    stem = Path(results_path).stem
    path = Path(out_dir) / f"{stem}.md"
    atomic_write_text(path, markdown(doc, stem))
    return path
