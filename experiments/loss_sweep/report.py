"""The loss study's prose, written from one model's results JSON only.

Every loss-vs-CCE sentence renders a :class:`softjax.sweeps.inference.Verdict` stored in
the JSON (``analysis``): the paired difference of test accuracy (each loss at its own lr
chosen on validation), its 95% t-interval and one of four verdicts, Holm-corrected over
the named family. Test numbers are quoted only at the chosen lr.
:func:`write_model_summary` writes ``<stem>.md``; the MLP overview is
:mod:`experiments.loss_sweep.overview`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from softjax.results import atomic_write_text, read_json
from softjax.sweeps.inference import Verdict, mean_difference
from softjax.sweeps.stats import best_of as _best

QUICK_NOTE = (
    "QUICK RUN (--quick/--smoke): a CI-sized grid on a training subset; these numbers are "
    "NOT the study's and must not be cited."
)
NO_DIFFERENCE = "no difference measured"
_FIELDS = {f.name for f in dataclasses.fields(Verdict)}


def _pm(mean, half, scale=100.0, unit="%", digits=2):
    if mean is None:
        return "n/a"
    spread = "" if half is None else f" ± {scale * half:.{digits}f}"
    return f"{scale * mean:.{digits}f}{spread}{unit}"


def _list(values):
    return ", ".join(f"{v:g}" for v in values)


def _acc(b):
    return (b["final_test_accuracy"], b["final_test_accuracy_ci95"])


def _scales_text(group):
    return f"init scale {_list(group)}" if len(group) > 1 else f"init scale {group[0]:g}"


def lr_text(lr) -> str:
    """An lr to 3 significant digits."""
    return "none" if lr is None else f"{lr:.3g}"


def dataset_name(grid) -> str:
    """The dataset of ``grid`` as written in prose (``MNIST``, ``Fashion-MNIST``)."""
    return grid["dataset"].replace("fashion_mnist", "Fashion-MNIST").replace("mnist", "MNIST")


def model_title(document) -> str:
    g = document["grid"]
    data = dataset_name(g)
    sizes = "-".join(map(str, g["sizes"]))
    model = "softmax regression" if len(g["sizes"]) == 2 else f"{g['activation']} MLP {sizes}"
    return f"{data} {model}"


def stuck_text(b) -> str:
    """``k/n (95% Wilson interval lo–hi%)`` of a :func:`select_best` entry's stuck runs."""
    lo, hi = b["stuck_ci95"]
    return f"{b['n_stuck']}/{b['n_finite']} (95% Wilson interval {100 * lo:.0f}–{100 * hi:.0f}%)"


def verdict(entry) -> Verdict | None:
    """The :class:`Verdict` of a stored comparison (None: fewer than 2 paired replicates)."""
    if entry.get("verdict") is None:
        return None
    return Verdict(**{k: v for k, v in entry.items() if k in _FIELDS})


def render(entry) -> str:
    """A stored comparison as a sentence, in percentage points."""
    v = verdict(entry)
    if v is None:
        n = len(entry.get("seeds", []))
        return f"{entry['comparison']}: not compared ({n} replicate(s) finite in both)"
    dropped = entry.get("dropped") or []
    tail = f" [replicates {dropped} diverged in one arm, left out]" if dropped else ""
    return v.render(scale=100.0, unit=" pp") + tail


def comparison_lines(doc, budget: str = "short") -> list[str]:
    """Per loss: ``Test accuracy, <loss> vs cce …`` with each init scale's verdict."""
    entries, g, lines = doc["analysis"][budget], doc["grid"], []
    for loss in dict.fromkeys(e["loss"] for e in entries):
        mine = [e for e in entries if e["loss"] == loss]
        if budget == "short":
            head = f"Test accuracy, {loss} vs cce (paired, fixed budget of {g['epochs']} epochs)"
        else:
            long = max(r["epochs_run"] for r in doc["runs"] if r.get("budget") == "long")
            head = f"Long budget ({long} epochs), test accuracy, {loss} vs cce"
        lines.append(f"{head}: " + "; ".join(render(e) for e in mine) + ".")
    return lines


def claim_lines(doc) -> list[str]:
    """The study's claim, from the stored judgements (agree / differ / inconclusive)."""
    js = doc["analysis"].get("judgements") or []
    if not js:
        return []
    n = {o: sum(j["outcome"] == o for j in js) for o in ("agree", "differ", "inconclusive")}
    return [
        "Claim (MSE on the softmax ends below CCE from init scale ≥ 10, paired test verdict): "
        f"agrees in {n['agree']} of {len(js)} settings, differs in {n['differ']}, "
        f"inconclusive in {n['inconclusive']} ("
        + "; ".join(f"{j['setting']}: {j['outcome']}" for j in js)
        + ")."
    ]


def budget_lines(doc) -> list[str]:
    rows = doc["analysis"]["budget"]
    rule = doc["grid"]["budget"]
    if not doc.get("long_scales"):
        return [
            f"Budget: no init scale still improving at {doc['grid']['epochs']} epochs (mean "
            f"validation slope over the last {rule['window']} epochs ≤ {rule['threshold']:g} "
            "per epoch for every loss); one budget."
        ]
    return [
        f"Budget: init scale(s) {_list(doc['long_scales'])} still improving at the end of the "
        f"search, trained {rule['longer']}× longer (validation accuracy, mean over the "
        "finite replicates): "
        + "; ".join(
            f"{r['loss']} at init {r['init_scale']:g}: "
            + f"{r['verdict']}: {100 * r['at_short']:.2f}% at {r['short_epochs']} epochs → "
            f"{100 * r['at_long']:.2f}% at {r['long_epochs']} ({100 * r['gain']:+.2f} pp)"
            + (", still improving" if r["still_improving_at_end"] else "")
            for r in rows
        )
        + "."
    ]


def _mean(values):
    values = [v for v in values if isinstance(v, int | float)]
    return sum(values) / len(values) if values else None


def gradient_lines(doc) -> list[str]:
    """Epoch-1 mean ‖∂ℓ/∂z‖ (all samples, misclassified ones) per loss at the chosen lr."""
    runs, g, out = doc["runs"], doc["grid"], []
    for s in g["init_scales"]:
        parts = []
        for loss in g["losses"]:
            mine = [r for r in runs if r["loss"] == loss and r["init_scale"] == s]
            a = _mean(r.get("logits_grad_norm@1") for r in mine)
            w = _mean(r.get("logits_grad_norm_wrong@1") for r in mine)
            if a is not None:
                lr = mine[0]["lr"]
                parts.append(f"{loss} {a:.3g} (misclassified {lr_text(w)}; lr {lr_text(lr)})")
        if parts:
            out.append(f"init {s:g}: " + ", ".join(parts))
    if not out:
        return []
    return [
        "Epoch-1 mean ‖∂ℓ/∂z‖ at each loss's chosen lr (mean over replicates): "
        + "; ".join(out)
        + "."
    ]


def ceiling_lines(doc) -> list[str]:
    c, g = doc.get("ceiling"), doc["grid"]
    if not c or "square" not in g["losses"]:
        return []
    ceiling, bound = c["least_squares"]["test_accuracy"], c["square_lr_bound"]
    parts = []
    for s in g["init_scales"]:
        b = _best(doc["best"], "square", s)
        if b and b["lr"] is not None and b["final_test_accuracy"] is not None:
            gap = b["final_test_accuracy"] - ceiling
            parts.append(f"init {s:g}: SGD {_pm(*_acc(b))} ({100 * gap:+.2f} pp)")
    square_lrs = [c_["lr"] for c_ in doc["chosen"] if c_["loss"] == "square"]
    return [
        "Square loss vs the exact least-squares linear model (normal equations, float64, test "
        f"accuracy {100 * ceiling:.2f}%): " + "; ".join(parts) + ".",
        f"Stable-lr bound of the square loss, 2/λ_max(AᵀA/N) = {bound:.3g} (full-batch GD "
        f"diverges above it); square's chosen lrs {', '.join(map(lr_text, square_lrs))}.",
    ]


def lr_lines(doc) -> list[str]:
    chosen = doc["chosen"]
    text = "; ".join(
        f"{c['loss']} at init {c['init_scale']:g}: {lr_text(c['lr'])} ({c['choice']['reason']})"
        for c in chosen
    )
    lines = [f"Every chosen lr (validation accuracy, search replicates): {text}."]
    flagged = [c for c in chosen if not c["choice"]["interior"]]
    if flagged:
        lines.append(
            "FLAGGED: not interior (a neighbour diverged, sat at chance, or the search hit its "
            "cap), or no lr trains (measured at its best finite lr): "
            + "; ".join(
                f"{c['loss']} at init {c['init_scale']:g} ({c['choice']['verdict']})"
                for c in flagged
            )
            + "."
        )
    else:
        lines.append("Every chosen lr is interior: both neighbours trained.")
    return lines


def stuck_lines(best) -> list[str]:
    stuck = [b for b in best if b.get("n_stuck")]
    if not stuck:
        return ["No run at a chosen lr stayed near chance (final train accuracy ≤ 1/K + 5%)."]
    return [
        "Runs stuck near chance (final train accuracy ≤ 1/K + 5%) at the chosen lr: "
        + "; ".join(f"{b['loss']} at init {b['init_scale']:g}: {stuck_text(b)}" for b in stuck)
        + "."
    ]


def method_lines(doc) -> list[str]:
    g, a = doc["grid"], doc["analysis"]
    fam = {e["family"]: e["family_size"] for e in a["short"] + a["long"] if e.get("family")}
    families = "; ".join(f'"{k}" ({n} comparisons)' for k, n in fam.items()) or "none"
    cost = doc["model_epochs"]
    return [
        f"Run time {doc['wall_seconds']:.0f} s (search {doc['search_s']:.0f} s); model-epochs: "
        f"search {cost['search']}, finals {cost['short']} at {g['epochs']} epochs, "
        f"{cost['long']} at the long budget.",
        f"lr search: `softjax.sweeps.lr_search.search_lrs` per (loss, init scale) on replicates "
        f"{g['search_seeds']}, starting at {', '.join(map(lr_text, g['start_lrs']))}, at most "
        f"{g['max_rounds']} rounds; chosen on validation accuracy among finite above-chance "
        "runs.",
        f"Finals: {len(g['seeds'])} replicates per arm at its chosen lr ({g['replicates']}).",
        "Inference: each loss − cce at an init scale is the paired difference of test accuracy "
        "per replicate with its 95% t-interval; verdict higher / lower / equivalent (TOST "
        f"within ±{100 * g['delta']:.2g} pp) / inconclusive, Holm-corrected (α = 0.05) over "
        f"the family: {families}.",
        f"Budget rule: {g['budget']['rule']} (window {g['budget']['window']}, threshold "
        f"{g['budget']['threshold']:g}/epoch, min gain {g['budget']['min_gain']:g}).",
        "Cuts from the issue's study: " + ("; ".join(g["cut"]) or "none") + ".",
    ]


def test_cell(doc, loss, scale, metric="test_short") -> str:
    """Mean ± 95% half-width of ``metric`` over the finite replicates, with the lr."""
    mine = [r for r in doc["runs"] if r["loss"] == loss and r["init_scale"] == scale]
    values = [r[metric] for r in mine if isinstance(r.get(metric), int | float)]
    if not mine:
        return "not run"
    if not values:
        return f"all diverged (lr {lr_text(mine[0]['lr'])})"
    b = _best(doc["best"], loss, scale) or {}
    edge = "†" if b.get("edge") else ""
    n = f", {len(values)} of {len(mine)} finite" if len(values) < len(mine) else ""
    half = mean_difference(values).half_width() if len(values) > 1 else None
    return f"{_pm(sum(values) / len(values), half, unit='')} (lr {lr_text(mine[0]['lr'])}{edge}{n})"


def table(doc, metric="test_short", scales=None) -> list[str]:
    g = doc["grid"]
    scales = g["init_scales"] if scales is None else scales
    lines = [
        "| loss | " + " | ".join(f"init {s:g}" for s in scales) + " |",
        "|---|" + "---|" * len(scales),
    ]
    for loss in g["losses"]:
        cells = [test_cell(doc, loss, s, metric) for s in scales]
        lines.append(f"| {loss} | " + " | ".join(cells) + " |")
    return lines


def findings(doc) -> list[str]:
    """Every finding of one model's document, as sentences."""
    return [
        *comparison_lines(doc, "short"),
        *comparison_lines(doc, "long"),
        *claim_lines(doc),
        *budget_lines(doc),
        *gradient_lines(doc),
        *ceiling_lines(doc),
        *stuck_lines(doc["best"]),
        *lr_lines(doc),
    ]


def markdown(doc, name: str) -> str:
    """``<name>.md``: how it was made, the findings and the table of test accuracies."""
    g = doc["grid"]
    quick = [f"> **{QUICK_NOTE}**", ""] if doc.get("quick") else []
    subset = f", first {g['train_subset']} training images" if g.get("train_subset") else ""
    lines = [
        f"# {name}: {len(g['losses'])} losses, {model_title(doc)}",
        "",
        *quick,
        "Generated by `python -m experiments.loss_sweep` from its JSON only (`--redraw` "
        f"rewrites it); {g['optimizer']} batch {g['batch_size']}, {g['epochs']} epochs{subset}.",
        "",
        "## How the numbers were made",
        "",
        *[f"- {x}" for x in method_lines(doc)],
        "",
        "## Findings",
        "",
        *[f"- {x}" for x in findings(doc)],
        "",
        f"## Test accuracy (%) at the lr chosen on validation, {g['epochs']} epochs",
        "",
        f"Mean ± half-width of the 95% t-interval over {len(g['seeds'])} replicates; † the "
        "lr is not interior (see FLAGGED).",
        "",
        *table(doc),
    ]
    if doc.get("long_scales"):
        long = max(r["epochs_run"] for r in doc["runs"] if r.get("budget") == "long")
        lines += [
            "",
            f"## Test accuracy (%) at the long budget, {long} epochs",
            "",
            "The init scales still improving at the fixed budget, the same runs after "
            f"{long} epochs.",
            "",
            *table(doc, "test_last", doc["long_scales"]),
        ]
    return "\n".join(lines) + "\n"


def write_model_summary(results_path, out_dir) -> Path:
    """``<stem>.md`` beside the figures, from ``results_path`` only."""
    results_path = Path(results_path)
    doc = read_json(results_path)
    return atomic_write_text(
        Path(out_dir) / f"{results_path.stem}.md", markdown(doc, results_path.stem)
    )
