"""The edge check's summary and figure, from its JSON alone."""

from __future__ import annotations

import math
import re
from pathlib import Path

from experiments.edge_check.edges import BAD
from softjax.plots.common import fmt_lr, headline, save
from softjax.results import atomic_write_text, read_json


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _gap(x) -> str:
    return "no finite seed" if x is None else f"{100 * x:.2g} pp"


def _changes(rows) -> str:
    if not rows:
        return "none"
    return "; ".join(f"{_label(r['path'])}: {r['before']} → {r['after']}" for r in rows)


def case_rows(doc) -> list[str]:
    """One table row per edge arm."""
    out = [
        "| study | setting | arm | search's choice | tried (mean validation accuracy) | "
        "re-choice | retrained at the choice: largest test gap, verdicts changed | "
        "verdicts changed at the re-choice |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in doc["cases"]:
        loss, scale = c["arm"]
        tried = ", ".join(
            f"{fmt_lr(t['lr'])}: {_pct(t['mean']) if t['status'] == 'trains' else t['status']}"
            for t in sorted(c["table"], key=lambda t: t["lr"])
        )
        rechosen = "no lr trains" if c["rechosen"] is None else fmt_lr(c["rechosen"])
        changed = _changes(c["changed"])
        if "pooled_changed" in c:
            changed += f"; pooled over the MLPs: {_changes(c['pooled_changed'])}"
        repro = c["reproduces"]
        out.append(
            f"| {c['study']} | {c['setting']} | {loss} @ init {scale:g} | "
            f"{fmt_lr(c['choice']['lr'])} ({c['choice']['reason']}) | {tried} | {rechosen} | "
            f"{_gap(repro['largest_test_gap'])}; {_changes(repro['changed'])} | {changed} |"
        )
    return out


def outcome(doc) -> dict:
    """The check's result as data: cases, those whose re-choice moved, and the verdicts
    that changed (at the re-choice, and on retraining at the search's choice)."""
    cases = doc["cases"]
    return {
        "cases": len(cases),
        "moved": sum(c["moved"] for c in cases),
        "changed": sum(len(c["changed"]) + len(c.get("pooled_changed", [])) for c in cases),
        "retrain_changed": sum(len(c["reproduces"]["changed"]) for c in cases),
        "largest_gap": max(
            (c["reproduces"]["largest_test_gap"] or 0.0 for c in cases), default=0.0
        ),
    }


def headline_text(doc) -> str:
    o = outcome(doc)
    if not o["cases"]:
        return "No committed choice sits next to a diverged or chance-level lr."
    verdict = (
        "no verdict changes"
        if o["changed"] == 0
        else f"{o['changed']} verdict(s) change (listed below)"
    )
    return (
        f"{o['cases']} edge arm(s) re-trained with the lr refined to ×{_ratio(doc)} toward "
        "their diverged or chance-level neighbour (or past the end of the search's lr "
        f"range); the re-choice moved in {o['moved']}; "
        f"{verdict}. Re-training at the search's own choice changes "
        f"{o['retrain_changed']} verdict(s) (largest per-seed test gap {_gap(o['largest_gap'])})."
    )


CHAOS_GAP = 0.01
"""A per-seed test gap above this (1 point) on retraining at the same lr is reported as
chaos: the same config in a program of another width rounds differently."""


def _label(path: str) -> str:
    """A verdict's path as words: ``.short[100.0].per_setting[a: b].verdict`` →
    ``short 100.0 · per_setting a: b``."""
    parts = []
    for name, idents in re.findall(r"\.?([A-Za-z_]+)((?:\[[^\]]*\])*)", path):
        if name in ("verdict", "outcome"):
            continue
        inner = " · ".join(re.findall(r"\[([^\]]*)\]", idents))
        parts.append(f"{name} {inner}" if inner else name)
    return " · ".join(parts)


def _where(c) -> str:
    return f"{c['study']} {c['setting']}, {c['arm'][0]} @ init {c['arm'][1]:g}"


def change_lines(doc) -> list[str]:
    """Every verdict that changed, as bullets: at the re-choice (the lr refined), and on
    retraining at the search's own lr (the runs' program width changed, nothing else)."""
    out = []
    for c in doc["cases"]:
        rows = [("", r) for r in c["changed"]]
        rows += [("the MLPs' ", r) for r in c.get("pooled_changed", [])]
        for prefix, r in rows:
            out.append(
                f"- Re-chosen lr {fmt_lr(c['rechosen'])} (was {fmt_lr(c['choice']['lr'])}), "
                f"{_where(c)}: {prefix}{_label(r['path'])}: **{r['before']} → {r['after']}**."
            )
    for c in doc["cases"]:
        repro = c["reproduces"]
        for r in repro["changed"]:
            out.append(
                f"- Retrained at the same lr {fmt_lr(c['choice']['lr'])}, {_where(c)} (largest "
                f"per-seed test gap {_gap(repro['largest_test_gap'])}): {_label(r['path'])}: "
                f"**{r['before']} → {r['after']}**."
            )
    return out


def chaos_text(doc) -> str:
    """Which arms did not reproduce their committed runs on retraining, and why that is
    rounding, not another config."""
    chaotic = [c for c in doc["cases"] if (c["reproduces"]["largest_test_gap"] or 0.0) > CHAOS_GAP]
    if not chaotic:
        return (
            "Retrained at the search's own lr, every arm reproduced its committed per-seed "
            f"test accuracy within {100 * CHAOS_GAP:g} point."
        )
    names = "; ".join(
        f"{_where(c)} at lr {fmt_lr(c['choice']['lr'])} "
        f"({_gap(c['reproduces']['largest_test_gap'])})"
        for c in chaotic
    )
    return (
        f"Retrained at the search's own lr, {len(chaotic)} arm(s) moved by more than "
        f"{100 * CHAOS_GAP:g} point on some replicate: {names}. The check trains an arm "
        "in a program of its own lrs, not beside the study's other arms; a matmul of "
        "another width rounds differently, and where training at that lr is chaotic the "
        "rounding grows to points of accuracy (one program run twice gives the same "
        "runs). A verdict that changes there rests on that chaos."
    )


def _ratio(doc) -> str:
    """The steps between the lrs tried, from the cases themselves (the search's gap to an
    edge sets them: ×1.78 in 4 steps is ×1.15, ×1.15 is ×1.036), e.g. ``1.04–1.15``."""
    steps = [
        b / a
        for case in doc["cases"]
        for a, b in zip(sorted(case["lrs"]), sorted(case["lrs"])[1:], strict=False)
        if a > 0
    ]
    if not steps:
        return "–"
    low, high = f"{min(steps):.3g}", f"{max(steps):.3g}"
    return low if low == high else f"{low}–{high}"


def markdown(doc, name: str) -> str:
    cfg = doc["provenance"]["config"]
    inputs = ", ".join(f"`{i['file']}` ({(i['git_commit'] or '?')[:7]})" for i in doc["inputs"])
    skipped = [
        f"- `{s['file']}` `{s['where']}`: {s['arm'][0]} @ init {s['arm'][1]:g}: {s['reason']}"
        for s in doc["skipped"]
    ]
    quick = ["> **Not the study's numbers: a reduced run.**", ""] if cfg["mode"] != "full" else []
    text = [
        f"# {name}: does a verdict rest on an lr at a stability edge?",
        "",
        *quick,
        "Generated by `python -m experiments.edge_check` from its JSON only. An lr search "
        "may choose the best lr that trains next to one that diverged or sat at chance (an "
        "*edge*; the search refines toward it only to a finite step). Each such arm is "
        "retrained with the study's replicates, "
        f"config and budget at its chosen lr and at {cfg['steps'] - 1} lrs between it and "
        f"each bad neighbour (steps of ×{_ratio(doc)}; where the search's lr range ended "
        "before any neighbour, past it, toward ×√10), re-chosen on validation accuracy at the "
        "fixed budget by the search's rule (finite in every replicate, above chance), and the "
        "study's own analysis (paired differences, four verdicts, Holm) re-runs with that arm's "
        "runs replaced. Retraining at the search's own choice checks that the runs are the "
        "committed ones (sweep program vs the finals' program: equal up to float rounding). "
        f"Inputs: {inputs}. Wall time: {doc['wall_s'] / 60:.1f} min.",
        "",
        "## Finding",
        "",
        headline_text(doc),
        "",
        *change_lines(doc),
        "",
        chaos_text(doc),
        "",
        "## Every edge arm",
        "",
        *case_rows(doc),
        "",
        "## Left as they are",
        "",
        "Arms where no lr trains: nothing to refine (each study measures them at their best "
        "finite lr and flags them):",
        "",
        *(skipped or ["- none"]),
        "",
        "## Not re-checked",
        "",
        "Non-interior choices of the studies this check has no case builder for (their "
        "summaries flag them):",
        "",
        *(
            [
                f"- `{s['file']}` `{s['where']}`: {s['arm'][0]} @ init {s['arm'][1]:g}: "
                f"{s['reason']}"
                for s in doc.get("unchecked", [])
            ]
            or ["- none"]
        ),
    ]
    return "\n".join(text) + "\n"


def draw(results_path, out_dir) -> list[Path]:
    """Validation accuracy against lr for every edge arm, search's choice and re-choice
    marked."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    doc = read_json(results_path)
    cases = doc["cases"]
    if not cases:
        return []
    cols = min(4, len(cases))
    rows = math.ceil(len(cases) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, c in zip(axes.flat, cases, strict=False):
        pts = sorted((t["lr"], t["mean"]) for t in c["table"] if t["mean"] is not None)
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", color="C0")
        for lr in (t["lr"] for t in c["table"] if t["status"] == "diverged"):
            ax.axvline(lr, color="C3", lw=0.8, ls=":")
        for n in (c["choice"].get("lower"), c["choice"].get("upper")):
            if n is not None and n[1] in BAD:
                ax.axvline(n[0], color="C3" if n[1] == "diverged" else "C1", lw=1, ls=":")
        ax.axvline(c["choice"]["lr"], color="0.4", lw=1, ls="--", label="search's choice")
        if c["rechosen"] is not None:
            ax.axvline(c["rechosen"], color="C2", lw=1, label="re-choice")
        ax.set_xscale("log")
        ticks = sorted(t["lr"] for t in c["table"])
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ticks, [fmt_lr(t) for t in ticks], rotation=45, fontsize=6)
        ax.set_title(f"{c['setting']}\n{c['arm'][0]} @ init {c['arm'][1]:g}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(0, 1)
    for ax in list(axes.flat)[len(cases) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="lower left")
    fig.supxlabel("lr", fontsize=8)
    fig.supylabel("mean validation accuracy (fixed budget)", fontsize=8)
    headline(
        fig,
        "Edge lrs refined toward their diverged (red dotted) or chance-level (orange) neighbour",
        caption=headline_text(doc),
    )
    fig.tight_layout()
    return [save(fig, Path(out_dir) / f"{Path(results_path).stem}.png")]


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    name = Path(results_path).stem
    return atomic_write_text(Path(out_dir) / f"{name}.md", markdown(doc, name))
