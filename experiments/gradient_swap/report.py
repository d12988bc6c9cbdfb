"""The gradient-swap study's summary, ``<stem>.md``, and figures (:mod:`.figures`), from
the results JSON alone (``--redraw`` rebuilds both). The prediction is stated before any
number; the verdicts are the JSON's (computed by :mod:`.analysis`), rendered here."""

from __future__ import annotations

import statistics
from pathlib import Path

from experiments._common.verdicts import readme_section
from experiments.gradient_swap import analysis, figures
from softjax.plots.common import fmt_lr
from softjax.results import atomic_write_text, read_json
from softjax.sweeps.inference import Verdict, family_line

PREDICTION = (
    "If saturation is the cause, the norm factor carries the effect at large init: rule 3 "
    "(CE's direction at MSE's norm) fails like MSE, rule 4 (MSE's direction at CE's norm) "
    "recovers like CE; the direction factor is small; at init 1 neither matters. In the "
    "estimates below that reads: at init scales ≥ 10 the main effect of norm (MSE's norm − "
    "CE's) is *lower* and the main effect of direction is not comparably lower; at init "
    "1 both are *equivalent* within the margin."
)
OUTCOME_WORDS = {
    "supports": "bears out the prediction",
    "contradicts": "contradicts the prediction",
    "inconclusive": "cannot tell",
}


def _stem(path: Path) -> str:
    return Path(path).stem


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    return figures.draw_all(doc, _stem(results_path), Path(out_dir))


def _pp(x: float) -> str:
    return f"{100 * x:+.2f}".replace("-", "−")


def _interval(low: float, high: float) -> str:
    """A difference of accuracies' interval, clipped to the range it can take, ±100 pp."""
    return f"[{_pp(max(-1.0, low))}, {_pp(min(1.0, high))}]"


def _lr(lr) -> str:
    return "—" if lr is None else fmt_lr(lr)


def _verdicts(entry) -> list[Verdict]:
    return [Verdict(**d) for d in entry["verdicts"]]


def factorial_section(title: str, entries, note: str) -> list[str]:
    lines = [f"## {title}", "", note, ""]
    if not entries:
        return lines + ["No setting ran at this budget.", ""]
    for entry in entries:
        s = entry["init_scale"]
        lines.append(f"### Init scale {s:g}")
        lines.append("")
        if not entry["verdicts"]:
            lines += [entry.get("note", "no estimate"), ""]
            continue
        verdicts = _verdicts(entry)
        lines.append(family_line(verdicts, scale=100, unit=" pp"))
        lines.append("")
        lines += [
            "| effect | estimate (pp) | 95% interval | n | verdict | Holm p |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for v in verdicts:
            p = v.p_equivalence_adjusted if v.verdict == "equivalent" else v.p_adjusted
            lines.append(
                f"| {v.comparison} | {_pp(v.mean)} | {_interval(v.low, v.high)} | {v.n} "
                f"({v.method}) | **{v.verdict}** | {p:.2g} |"
            )
        lines += [
            "",
            "Per setting (paired contrast over its replicates, pp, with its 95% interval "
            "and verdict; the four rules' mean test accuracy, %):",
            "",
            "| setting | n | norm | direction | interaction | "
            + " | ".join(figures.LABELS[r] for r in analysis.RULES)
            + " |",
            "| --- " * (5 + len(analysis.RULES)) + "|",
        ]
        per = {v["comparison"]: v for v in entry.get("per_setting", [])}
        for key, st in entry["settings"].items():
            if "means" not in st:
                lines.append(
                    f"| {key} | {st['n']} | left out (missing rules "
                    f"{st.get('missing_rules')}, dropped {st['dropped']}) |"
                )
                continue
            effects = []
            for name in (analysis.NORM, analysis.DIRECTION, analysis.INTERACTION):
                v = per.get(f"{key}: {name}")
                words = f" {_interval(v['low'], v['high'])} {v['verdict']}" if v else ""
                effects.append(f"{_pp(st['means'][name])}{words}")
            cells = " | ".join(f"{100 * st['cells'][r]:.2f}" for r in analysis.RULES)
            lines.append(f"| {key} | {st['n']} | {' | '.join(effects)} | {cells} |")
        if per:
            first = next(iter(per.values()))
            lines += [
                "",
                f"Per-setting verdicts: paired over replicates, Holm over the "
                f"{first['family_size']} effects × settings of this init scale.",
            ]
        dropped = {k: st["dropped"] for k, st in entry["settings"].items() if st["dropped"]}
        if dropped:
            lines += ["", f"Replicates left out (diverged in some rule): {dropped}."]
        lines.append("")
    return lines


def lr_section(doc) -> list[str]:
    lines = [
        "## Chosen learning rates",
        "",
        "Each (rule, init scale) by the lr search on validation accuracy "
        "(`softjax.sweeps.lr_search`): interior = both neighbours trained; "
        '"no lr trains" rules run at their best finite lr.',
        "",
        "| setting | rule | " + " | ".join(["init scale: lr (search verdict)"]) + " |",
        "| --- | --- | --- |",
    ]
    for key, got in doc["models"].items():
        verdict = {(c["arm"][0], c["arm"][1]): c["verdict"] for c in got["search"]["choices"]}
        for rule in analysis.RULES:
            cells = [
                f"{e['init_scale']:g}: {_lr(e['lr'])} ({verdict[(rule, e['init_scale'])]})"
                for e in got["lrs"]
                if e["rule"] == rule
            ]
            lines.append(f"| {key} | {figures.LABELS[rule]} | {'; '.join(cells)} |")
    rounds = "; ".join(
        f"{k}: {g['search']['rounds']}"
        + ("" if g["search"]["converged"] else " (stopped by the round cap, not converged)")
        for k, g in doc["models"].items()
    )
    lines += ["", f"Search rounds: {rounds}.", ""]
    return lines


def measures_section(doc) -> list[str]:
    cfg = doc["provenance"]["config"]
    targets = ", ".join(f"{d}: {100 * t:g}%" for d, t in cfg["targets"].items())
    lines = [
        "## Per-run measures",
        "",
        f"Epochs to the target validation accuracy ({targets}; "
        "median over replicates, — when fewer than half reach it) and runs stuck near "
        "chance (final train accuracy ≤ 15%), per setting, init scale and rule "
        "(per-seed values in the JSON).",
        "",
        "| setting | init scale | budget (epochs) | "
        + " | ".join(figures.LABELS[r] for r in analysis.RULES)
        + " |",
        "| --- " * (3 + len(analysis.RULES)) + "|",
    ]
    groups: dict = {}
    for r in doc["runs"]:
        groups.setdefault((f"{r['dataset']}/{r['model']}", r["init_scale"]), []).append(r)
    for (key, scale), runs in groups.items():
        cells = []
        for rule in analysis.RULES:
            mine = [r for r in runs if r["rule"] == rule]
            reached = [r["epochs_to_target"] for r in mine if r["epochs_to_target"]]
            med = f"{statistics.median(reached):g}" if 2 * len(reached) >= len(mine) else "—"
            stuck = sum(r["stuck"] for r in mine)
            cells.append(f"{med} ep, {stuck}/{len(mine)} stuck")
        lines.append(f"| {key} | {scale:g} | {runs[0]['epochs_run']} | {' | '.join(cells)} |")
    return lines + [""]


def gradient_section(doc) -> list[str]:
    """Epoch-1 mean ‖∂ℓ/∂z‖ (all samples; misclassified ones) and the hidden layers' mean
    f′ per rule at each setting's largest init scale: the swap as trained (rules 3 and 4
    should carry MSE's and CE's norm)."""
    lines = [
        "## The swap as trained: gradient norms and f′",
        "",
        "Epoch-1 mean ‖∂ℓ/∂z‖ on all samples / on misclassified samples, and the hidden "
        "layers' mean f′ (first layer; 1 for softmax regression), mean over replicates, at "
        "each setting's largest init scale.",
        "",
        "| setting | init scale | " + " | ".join(figures.LABELS[r] for r in analysis.RULES) + " |",
        "| --- " * (2 + len(analysis.RULES)) + "|",
    ]
    for dataset, model in figures.settings(doc):
        runs = [r for r in doc["runs"] if (r["dataset"], r["model"]) == (dataset, model)]
        top = max(r["init_scale"] for r in runs)
        cells = []
        for rule in analysis.RULES:
            mine = [r for r in runs if r["init_scale"] == top and r["rule"] == rule]

            def first(key, mine=mine):
                vals = []
                for r in mine:
                    v = (r["curves"].get(key) or [None])[0]
                    v = v[0] if isinstance(v, list) else v
                    if v is not None:
                        vals.append(v)
                return sum(vals) / len(vals) if vals else None

            g, w, f = (
                first("logits_grad_norm"),
                first("logits_grad_norm_wrong"),
                first("hidden_fprime"),
            )
            cells.append(
                "—"
                if g is None
                else f"{g:.3g} / {w:.3g}, f′ {f:.3g}"
                if f is not None
                else f"{g:.3g} / {w:.3g}"
            )
        lines.append(f"| {dataset}/{model} | {top:g} | {' | '.join(cells)} |")
    return lines + [""]


def _check_line(doc) -> str:
    checks = doc["analysis"]["checks"]
    if not checks:
        return "No init scale of this run is one the prediction speaks about."
    parts = []
    for c in checks:
        per = c.get("per_setting") or {}
        held = sum(o == "supports" for o in per.values())
        against = sum(o == "contradicts" for o in per.values())
        parts.append(
            f"init {c['init_scale']:g}: pooled over models, {OUTCOME_WORDS[c['outcome']]}; "
            f"per setting, it is borne out in {held} of {len(per)} and contradicted in {against}"
        )
    return "; ".join(parts) + "."


def readme_rows(doc, name: str) -> list[str]:
    short = {e["init_scale"]: e for e in doc["analysis"]["short"]}
    parts = []
    for c in doc["analysis"]["checks"]:
        v = {d["comparison"]: d for d in short[c["init_scale"]]["verdicts"]}
        if analysis.NORM in v:
            parts.append(
                f"init {c['init_scale']:g}: norm {_pp(v[analysis.NORM]['mean'])} pp "
                f"({v[analysis.NORM]['verdict']}), direction "
                f"{_pp(v[analysis.DIRECTION]['mean'])} pp ({v[analysis.DIRECTION]['verdict']})"
            )
    n = len(doc["provenance"]["config"]["seeds"])
    measured = "; ".join(parts) + f" ({n} paired replicates, pooled over models, `{name}`)"
    held = sum(c["outcome"] == "supports" for c in doc["analysis"]["checks"])
    against = sum(c["outcome"] == "contradicts" for c in doc["analysis"]["checks"])
    agrees = (
        f"{'yes' if held and not against else 'no' if against else 'inconclusive'}: "
        f"the prediction holds at {held} of {len(doc['analysis']['checks'])} init "
        f"scales it speaks about, fails at {against}"
    )
    cells = [
        "Gradient swap (direction × norm)",
        "`python -m experiments.gradient_swap`",
        "saturation (the norm) is the cause: norm carries the effect at large init",
        measured,
        agrees,
    ]
    return ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"]


def markdown(doc, name: str) -> str:
    cfg = doc["provenance"]["config"]
    scope = ", ".join(cfg["datasets"]) + "; " + ", ".join(cfg["models"])
    cut = cfg.get("cut") or []
    lines = [
        "# The gradient swap: is the small gradient norm the cause?",
        "",
        "## The prediction (stated before the numbers)",
        "",
        PREDICTION,
        "",
        "## Design",
        "",
        "Four rules, the same models and replicates: CE; MSE on the softmax; CE's direction "
        "at MSE's norm; MSE's direction at CE's norm (per sample, on the logit gradient): "
        "direction (CE, MSE) × norm (CE, MSE). "
        f"Settings: {scope}; init scales {cfg['init_scales']}; the first "
        f"{cfg['train_subset']} training images, plain SGD, batch {cfg['batch_size']}, "
        f"{cfg['epochs']} epochs (fixed budget), {cfg['budget']['longer']}× that where a "
        f"rule was still improving. Each (rule, init scale) at its own lr (search on "
        f"replicates {cfg['search_seeds']}, start {[_lr(x) for x in cfg['start_lrs']]}, at "
        f"most {cfg['max_rounds']} rounds); then {len(cfg['seeds'])} paired replicates "
        f"(replicate i: {cfg['replicates']}). Measure: test accuracy. Effects pooled over "
        "the settings of each init scale (mean of the per-setting paired contrasts, "
        "t-interval over settings); four-way verdicts, Holm over the three effects of "
        f"each init scale, equivalence margin ±{100 * cfg['delta']:g} pp.",
        "",
        "Cut from the issue's settings to fit the time budget: "
        + ("; ".join(cut) if cut else "nothing")
        + ".",
    ]
    if cfg.get("mode") != "full":
        lines += ["", f"**{cfg.get('mode')} size: not the study's numbers.**"]
    lines += ["", "## Answer", "", _check_line(doc), ""]
    lines += factorial_section(
        "Factorial estimates at the fixed budget",
        doc["analysis"]["short"],
        f"Test accuracy after {cfg['epochs']} epochs.",
    )
    if doc["analysis"]["long"]:
        lines += factorial_section(
            "Factorial estimates at the longer budget",
            doc["analysis"]["long"],
            f"Test accuracy after {cfg['budget']['longer'] * cfg['epochs']} epochs, over the "
            "settings still improving at the fixed budget only.",
        )
    lines += lr_section(doc) + measures_section(doc) + gradient_section(doc)
    lines += readme_section(readme_rows(doc, f"results/{name}.md"))
    lines += [
        f"Run time: {doc['wall_s'] / 60:.1f} min; commit {doc['provenance'].get('git_commit')}.",
        "",
    ]
    return "\n".join(lines)


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    path = Path(out_dir) / f"{_stem(results_path)}.md"
    atomic_write_text(path, markdown(doc, _stem(results_path)))
    return path
