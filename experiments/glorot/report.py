"""Summary for ``python -m experiments.glorot``, from ``glorot.json`` only; the figures
are :mod:`.figures`' (``draw``). The numbers and verdicts are the JSON's
(:mod:`.analysis`), rendered here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments._common.verdicts import (
    AGREE,
    DIFFER,
    INCONCLUSIVE,
    Judgement,
    readme_row,
    readme_section,
)
from experiments.glorot import analysis as an
from experiments.glorot import figures
from experiments.glorot.figures import NAMES, seed_mean
from experiments.nielsen.report import mean_ci95
from softjax.results import atomic_write_text, read_json
from softjax.sweeps.inference import Verdict, family_line

CITATION = (
    'X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward '
    'neural networks", AISTATS 2010'
)
PAPER_MNIST = {"sigmoid": 0.0221, "tanh": 0.0176}
"""Glorot & Bengio's Table 1: MNIST test error of 5 hidden layers of 1,000 units with the
standard init U[−1/√n, 1/√n] (no "N", normalized-init, suffix), lr chosen on validation."""


PLATEAUS, SIGMOID_TOP, TANH_SEQUENTIAL, SIGMOID_WORSE = (
    "quadratic_cost_has_more_plateaus",
    "sigmoid_top_layer_saturates_at_0",
    "tanh_saturates_from_layer_1_up",
    "sigmoid_below_tanh_on_mnist",
)
"""Glorot & Bengio's claims judged here (§5 Fig. 5; §3.1 Fig. 2; §3.1 Fig. 3; Table 1)."""
BOLD = {AGREE: "agrees", DIFFER: "differs", INCONCLUSIVE: "no verdict"}
YES_NO = {AGREE: "yes", DIFFER: "no", INCONCLUSIVE: "no verdict"}


def draw(results_path, out_dir) -> list[Path]:
    """The figures (:func:`experiments.glorot.figures.draw`)."""
    return figures.draw(results_path, out_dir)


def _updates(doc: dict, key: str = "search_epochs") -> int:
    """The updates of ``key`` epochs (the search's by default): epochs × ⌈rows / batch⌉."""
    cfg = doc["provenance"]["config"]
    rows = cfg["train_subset"] or 55000
    return cfg[key] * -(-rows // cfg["batch_size"])


def _pp(x: float) -> str:
    return f"{100 * x:+.2f}".replace("-", "−")


def legacy(doc: dict) -> bool:
    """True for a results file written before the lr search (one fixed lr, no
    ``analysis``): its summary is the old one and is not redrawn by this module."""
    return "analysis" not in doc


def judgements(doc: dict) -> list[Judgement]:
    """The verdicts of ``doc``, computed from its numbers (:mod:`.analysis`): the
    quadratic cost's plateau share against CE's; whether the sigmoid net's top layer
    saturates at 0 (agree: in every replicate; differ: in none); whether tanh's most
    saturated layer at the end is layer 1 (in most replicates); whether sigmoid's test
    accuracy is below tanh's at the end (the paired verdict: lower agrees, higher or
    equivalent differs; INCONCLUSIVE where no lr of an activation trains, since Table 1
    compares trained nets). Below full size the activation verdicts are INCONCLUSIVE."""
    cfg, s, out = doc["provenance"]["config"], doc["surface"], []
    full = cfg["mode"] == "full"
    if {"cce", "mse"} <= set(s["losses"]):
        pc, pm = (s["losses"][n]["plateau_fraction"] for n in ("cce", "mse"))
        outcome = AGREE if pm > pc else DIFFER
        out.append(Judgement(PLATEAUS, "surface", outcome, {"cce": pc, "mse": pm}))
    acts = doc["analysis"]["activations"]
    if "sigmoid" in acts:
        e = acts["sigmoid"]["exit"]
        outcome = (
            AGREE
            if e["n_saturated"] == e["n"]
            else DIFFER
            if e["n_saturated"] == 0
            else INCONCLUSIVE
        )
        out.append(Judgement(SIGMOID_TOP, "sigmoid", outcome if full else INCONCLUSIVE, e))
    if "tanh" in acts:
        most = acts["tanh"]["most_saturated_layer"]
        ones = sum(m == 1 for m in most)
        outcome = AGREE if 2 * ones > len(most) else DIFFER
        numbers = {"most_saturated_layer": most, "layer_1_in": ones}
        out.append(Judgement(TANH_SEQUENTIAL, "tanh", outcome if full else INCONCLUSIVE, numbers))
    end = _end_comparison(doc)
    if end is not None:
        v = end["verdict"]
        outcome = (
            AGREE if v == "lower" else DIFFER if v in ("higher", "equivalent") else INCONCLUSIVE
        )
        trains = {a: f["lr_source"] == "chosen" for a, f in doc["searches"].items()}
        if not all(trains.values()):
            outcome = INCONCLUSIVE  # an arm at chance measures our budget, not Table 1's nets
        numbers = {k: end[k] for k in ("comparison", "verdict", "mean", "low", "high", "n")}
        numbers["trains"] = trains
        out.append(Judgement(SIGMOID_WORSE, "mnist", outcome if full else INCONCLUSIVE, numbers))
    return out


def _end_comparison(doc: dict) -> dict | None:
    ends = [c for c in doc["analysis"]["comparisons"] if "(end)" in c["comparison"]]
    return ends[0] if ends else None


def _verdict(d: dict) -> Verdict:
    """A comparison's Verdict, its interval clipped to what a difference of accuracies can
    take (±100 pp)."""
    fields = {k: v for k, v in d.items() if k != "values"}
    return Verdict(**fields | {"low": max(-1.0, d["low"]), "high": min(1.0, d["high"])})


def _render(d: dict) -> str:
    return _verdict(d).render(scale=100, unit=" pp")


def pct(values) -> str:
    """``mean [low, high]%``: the mean and its 95% t-interval over replicates, clipped to
    0–100%; the mean alone for one value."""
    m, h = mean_ci95(100 * np.asarray(values, dtype=float))
    if h is None:
        return f"{m:.2f}%"
    return f"{m:.2f}% [{max(0.0, m - h):.2f}, {min(100.0, m + h):.2f}]"


def _lr_note(doc: dict, act: str) -> str:
    """``lr 1`` or, where no lr trains, ``lr 0.3 (lowest validation loss, no lr trains)``."""
    found = doc["searches"][act]
    note = "" if found["lr_source"] == "chosen" else f" ({found['lr_source']})"
    return f"lr {found['lr']:.3g}{note}"


def _values(xs) -> str:
    return ", ".join("—" if x is None else f"{100 * x:.2f}" for x in xs)


def _budget(b: dict | None) -> str:
    """A budget reading: "slows: 50.00 → 90.00%" or "still improving at epoch 30"."""
    if b is None:
        return "—"
    if "verdict" in b:
        return f"{b['verdict']}: {100 * b['at_short']:.2f} → {100 * b['at_long']:.2f}%"
    state = "still improving" if b["still_improving"] else "flat"
    return f"{state} at epoch {b['epochs']} ({100 * b['slope']:+.2f} points per epoch)"


def _lr_lines(doc: dict) -> list[str]:
    lines = [
        "| activation | lr trained | how | search verdict | lrs tried (validation accuracy "
        "after the search's epochs, mean over its replicates) |",
        "|---|---|---|---|---|",
    ]
    for act, found in doc["searches"].items():
        choice = found["search"]["choices"][0]
        tried = sorted(found["search"]["history"], key=lambda r: r["lr"])
        grid = "; ".join(
            f"{r['lr']:.3g}: " + ("diverged" if r["score"] is None else f"{100 * r['score']:.1f}%")
            for r in tried
        )
        lr = "—" if found["lr"] is None else f"{found['lr']:.3g}"
        lines.append(f"| {act} | {lr} | {found['lr_source']} | {choice['reason']} | {grid} |")
    return lines


def summary_markdown(doc: dict, source: str) -> str:
    cfg, s = doc["provenance"]["config"], doc["surface"]
    measured, agrees = [], []
    verdicts = {j.claim: j for j in judgements(doc)}
    acts, runs = doc["analysis"]["activations"], doc["activations"]
    n_train = f"{cfg['train_subset']:,}" if cfg["train_subset"] else "55,000"
    updates = (cfg["train_subset"] or 55000) // cfg["batch_size"]
    lines = [
        "# Why deep sigmoid nets train slowly",
        "",
        f"Generated by `python -m experiments.glorot` from `{source}`; do not edit. "
        f"Paper: {CITATION}. Run time {doc['wall_s'] / 60:.1f} minutes "
        f"(`{cfg['mode']}` size).",
        "",
        f"## (a) Error surface over two weights ({cfg['grid']}² grid on "
        f"[−{cfg['surface_range']:g}, {cfg['surface_range']:g}]², net "
        f"{'-'.join(map(str, cfg['surface_sizes']))} on seed 001's blobs)",
        "",
        "| cost | value range | largest ‖∇C‖ | plateau share (‖∇C‖ < 1% of largest) |",
        "|---|---|---|---|",
    ]
    for name, d in s["losses"].items():
        lo, hi = d["value_range"]
        lines.append(
            f"| {NAMES.get(name, name)} | {lo:.3f} – {hi:.3f} | {d['max_grad_norm']:.3g} | "
            f"{100 * d['plateau_fraction']:.1f}% |"
        )
    if PLATEAUS in verdicts:
        j = verdicts[PLATEAUS]
        pc, pm = j.numbers["cce"], j.numbers["mse"]
        lines += [
            "",
            "Glorot & Bengio (§5, Fig. 5): the quadratic cost's surface has more pronounced "
            f"plateaus than cross-entropy's. Here the plateau share is {100 * pm:.1f}% for "
            f"the quadratic cost against {100 * pc:.1f}% for CE: **{BOLD[j.outcome]}**. "
            "(Their net and data are not given beyond 'two layers'; ours is a small seeded "
            "net on 2-D blobs.)",
        ]
        measured.append(
            f"plateau share {100 * pm:.1f}% for the quadratic cost vs {100 * pc:.1f}% for CE"
        )
        agrees.append(f"{YES_NO[j.outcome]} for the surface")
    lines += [
        "",
        f"## (b) Training ({cfg['depth']} hidden layers × {cfg['width']}, MNIST {n_train} "
        f"rows, batch {cfg['batch_size']}: one epoch is {updates:,} updates)",
        "",
        f"Each activation's lr: `search_lrs` on validation accuracy after "
        f"{cfg['search_epochs']} epoch(s), replicates {cfg['search_seeds']}; it chooses "
        "only among finite runs above chance (10% + 5 points). Then "
        f"{len(cfg['seeds'])} replicates (replicate i: {cfg['replicates']}) train "
        f"{cfg['epochs']} epochs at that lr.",
        "",
        *_lr_lines(doc),
        "",
        "| activation | test accuracy after the last epoch, per replicate (%) | mean [95% "
        "t-interval] | budget (mean validation accuracy at the end) |",
        "|---|---|---|---|",
    ]
    for act, run in runs.items():
        final = an.test_at(run["history"], len(run["history"]["test_accuracy"][0]))
        b = acts[act]["budget"]
        budget = _budget(b)
        ok = [x for x in final if x is not None]
        lines.append(f"| {act} | {_values(final)} | {pct(ok) if ok else '—'} | {budget} |")
    missing = [a for a in doc["searches"] if a not in runs]
    if missing:
        lines.append(f"\nNot trained (every lr diverged): {', '.join(missing)}.")
    lines += ["", "### Each layer's mean activation (replicate means)", ""]
    lines += [
        "| activation | layer | at init | after epoch 1 | at the end | 98th pct at the end | "
        "saturated share at the end |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        mean, perc = seed_mean(run, "mean"), seed_mean(run, "percentiles")
        sat = seed_mean(run, "saturated")
        for layer in range(mean.shape[1]):
            lines.append(
                f"| {name} | {layer + 1} | {mean[0, layer]:.3f} | {mean[1, layer]:.3f} | "
                f"{mean[-1, layer]:.3f} | {perc[-1, layer, -1]:.3f} | "
                f"{100 * sat[-1, layer]:.1f}% |"
            )
    lines += _saturation_lines(doc, verdicts, measured, agrees, updates)
    lines += _comparison_lines(doc, verdicts, measured, agrees)
    if cfg["mode"] != "full":
        lines.append(f"\nThis is a `--{cfg['mode']}` run: it proves the pipeline, no verdict.")
    row = readme_row(
        "Error surface, saturation and activations (Glorot & Bengio 2010)",
        "python -m experiments.glorot",
        "the quadratic cost's surface has more plateaus; a sigmoid net's top hidden layer "
        "saturates at 0 early and slowly desaturates; Table 1, MNIST, 5 layers: sigmoid "
        f"{100 * PAPER_MNIST['sigmoid']:.2f}% test error vs tanh {100 * PAPER_MNIST['tanh']:.2f}%",
        "; ".join(measured)
        + f" ({len(cfg['seeds'])} replicates, each with {cfg['replicates']}, lr searched per "
        f"activation; {doc['wall_s'] / 60:.0f} minutes, `results/{Path(source).stem}.md`)",
        "; ".join(agrees),
    )
    return "\n".join([*lines, "", *readme_section([row])]) + "\n"


def _saturation_lines(doc, verdicts, measured, agrees, updates) -> list[str]:
    cfg, acts, out = doc["provenance"]["config"], doc["analysis"]["activations"], []
    if SIGMOID_TOP in verdicts:
        j, readings = verdicts[SIGMOID_TOP], acts["sigmoid"]["top_layer"]
        e = j.numbers
        per = "; ".join(
            f"replicate {i}: min {r['min']:.3f} at epoch {r['min_epoch']}, "
            + (
                ("left at epoch " + str(r["exit_epoch"]))
                if r["exit_epoch"] is not None
                else ("still saturated at the end" if r["saturated"] else "never saturated")
            )
            for i, r in zip(cfg["seeds"], readings, strict=True)
        )
        when = (
            f"it leaves saturation (mean ≥ {an.RECOVERED}) in {e['n_left']} of them, at epoch "
            f"{e['median']:g} (median; range {e['min']}–{e['max']})"
            if e["n_left"]
            else "none leaves saturation"
        )
        text = (
            f"the top layer is saturated at 0 (mean < {an.SATURATED_AT_ZERO} at an epoch's "
            f"end) in {e['n_saturated']} of {e['n']} replicates; {when}, by epoch {e['epochs']}"
        )
        out += [
            "",
            "Glorot & Bengio (§3.1, Fig. 2; Shapeset-3×2, 5 hidden layers of 1,000 units, "
            "minibatches of 10): with sigmoid, the top hidden layer is quickly pushed to 0 and "
            "slowly desaturates (around epoch 100 of 20k updates each). At the searched "
            f"{_lr_note(doc, 'sigmoid')}, {text}: **{BOLD[j.outcome]}**. Per "
            f"replicate: {per}. Our epoch is {updates:,} updates; a saturation entered and "
            "left within one epoch is not seen.",
        ]
        measured.append(f"sigmoid at {_lr_note(doc, 'sigmoid')}: {text}")
        agrees.append(f"{YES_NO[j.outcome]} for the sigmoid top layer")
    if TANH_SEQUENTIAL in verdicts:
        j, t = verdicts[TANH_SEQUENTIAL], acts["tanh"]
        first = ", ".join("never" if x is None else str(x) for x in t["onset_epochs"])
        out += [
            "",
            "Glorot & Bengio (§3.1, Fig. 3): with tanh, saturation occurs sequentially, "
            "starting with layer 1 and propagating up. The most saturated layer at the end, "
            f"per replicate: {', '.join(map(str, t['most_saturated_layer']))} (layer 1 in "
            f"{j.numbers['layer_1_in']} of {len(t['most_saturated_layer'])}); first epoch "
            f"whose mean saturated share passes {100 * an.TANH_ONSET:.0f}%, by layer: {first}: "
            f"**{BOLD[j.outcome]}**.",
        ]
        agrees.append(f"{YES_NO[j.outcome]} for tanh's layer-by-layer saturation")
    return out


def _comparison_lines(doc, verdicts, measured, agrees) -> list[str]:
    comps = doc["analysis"]["comparisons"]
    if not comps:
        return []
    vs = [_verdict(c) for c in comps]
    out = ["", "## Sigmoid against tanh (paired by replicate)", "", family_line(vs, 100, " pp")]
    out += [""] + [
        f"- {_render(c)}; per replicate (sigmoid, tanh): "
        + "; ".join(
            f"{100 * a:.2f}, {100 * b:.2f}"
            for a, b in zip(c["values"]["a"], c["values"]["b"], strict=True)
        )
        for c in comps
    ]
    gap = 100 * (PAPER_MNIST["tanh"] - PAPER_MNIST["sigmoid"])
    out += [
        "",
        "Glorot & Bengio's Table 1 (MNIST, 5 hidden layers of 1,000 units, standard init, "
        f"lr chosen on validation): sigmoid {100 * PAPER_MNIST['sigmoid']:.2f}% test error "
        f"(accuracy {100 - 100 * PAPER_MNIST['sigmoid']:.2f}%), tanh "
        f"{100 * PAPER_MNIST['tanh']:.2f}% ({100 - 100 * PAPER_MNIST['tanh']:.2f}%): sigmoid "
        f"− tanh = {_pp(gap / 100)} pp.",
    ]
    if SIGMOID_WORSE in verdicts:
        j = verdicts[SIGMOID_WORSE]
        n = j.numbers
        ours = f"{_pp(n['mean'])} pp [{_pp(n['low'])}, {_pp(n['high'])}]"
        out[-1] += f" Ours at the end: {ours}, {n['verdict']}: **{BOLD[j.outcome]}**."
        finals = {
            a: [
                x
                for x in an.test_at(r["history"], len(r["history"]["test_accuracy"][0]))
                if x is not None
            ]
            for a, r in doc["activations"].items()
        }
        measured.append(
            f"test accuracy sigmoid {pct(finals['sigmoid'])} vs tanh {pct(finals['tanh'])} "
            f"(paper {100 - 100 * PAPER_MNIST['sigmoid']:.2f} vs "
            f"{100 - 100 * PAPER_MNIST['tanh']:.2f}%), paired {ours}"
        )
        stuck = [a for a, t in n["trains"].items() if not t]
        why = f" ({', '.join(stuck)}: no lr trains in our budget)" if stuck else ""
        agrees.append(f"{YES_NO[j.outcome]} for sigmoid below tanh{why}")
        if stuck:
            out[-1] += (
                f" No lr of {', '.join(stuck)} leaves chance within {_updates(doc):,} "
                "updates (the search's budget), while Table 1's nets are trained ones (their "
                "Fig. 2 runs for over 100 epochs of 20k updates): the gap measures our "
                "budget, so no verdict."
            )
    return out


def write_summary(results_path, out_dir) -> Path:
    doc = read_json(results_path)
    path = Path(out_dir) / f"{Path(results_path).stem}.md"
    return atomic_write_text(path, summary_markdown(doc, Path(results_path).name))
