"""Helpers the literature experiments' figures and summaries share (golik, hui_belkin,
label_noise, calibration): formatting a mean ± 95% interval, naming a loss spec, the verdict
rule, verdicts as data (:class:`Judgement`), the grid-edge flag, and the README row each
summary ends with (nielsen and glorot too).

A verdict is data first: a :class:`Judgement` names the paper's claim, the setting, the
outcome (:data:`AGREE`, :data:`DIFFER` or :data:`INCONCLUSIVE`) and the numbers it rests
on; it is stored in the results JSON, and the summary's sentences, counts and README row
are rendered from it, never read back from prose.

An outcome comes from the paired difference over replicates and its Holm-corrected test
(``softjax.sweeps.stats``: higher, lower, equivalent within ±δ, or inconclusive; the README's
"How a verdict is made"), never from whether two intervals overlap.

A chosen lr on an edge of its grid (``select_best``'s ``edge``: ``"low"`` or ``"high"``)
is a choice the grid may have cut short: the best lr could lie beyond it, and so could a
better result. Every table and figure marks such an lr with :data:`EDGE` (†), and each
summary lists the cases in one sentence (:func:`edge_sentence`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from softjax.plots.common import PERCENT, fmt_lr, yerr  # noqa: E402

EDGE = "†"
EDGE_FOOTNOTE = (
    f"{EDGE} The lr chosen on validation lies on an edge (the smallest or largest lr) of its "
    "grid; the best lr may lie beyond it."
)
EDGE_FIGURE_NOTE = f"{EDGE}: the lr chosen on validation lies on an edge of its grid"

LABELS = {"cce": "CCE", "mse": "MSE (softmax)", "mae": "MAE (softmax)", "square": "square"}


def loss_label(spec) -> str:
    """``"cce"`` → CCE; ``["square_rescaled", {"k": 15, "M": 30}]`` → square k=15 M=30."""
    if isinstance(spec, list | tuple):
        name, kwargs = spec
        if name == "square_rescaled":
            return f"square k={kwargs.get('k', 1):g} M={kwargs.get('M', 1):g}"
        return f"{name} {json.dumps(kwargs)}"
    return LABELS.get(spec, spec)


def pct(stat, digits: int = 2) -> str:
    """``{"mean": .9812, "ci95": .0011}`` → ``98.12 ± 0.11%``; ``—`` when missing."""
    if not stat or stat.get("mean") is None:
        return "—"
    ci = stat.get("ci95")
    ci_text = f" ± {100 * ci:.{digits}f}" if ci is not None else ""
    return f"{100 * stat['mean']:.{digits}f}{ci_text}%"


AGREE, DIFFER, INCONCLUSIVE = "agree", "differ", "inconclusive"
OUTCOMES = (AGREE, DIFFER, INCONCLUSIVE)


@dataclasses.dataclass(frozen=True)
class Judgement:
    """One judgement of a paper's claim in one setting.

    ``claim``: the claim's id (the study's own, e.g. ``"mse_from_init_worse"``);
    ``setting``: where it was judged (model, init scale, …) as a short label;
    ``outcome``: :data:`AGREE` (our numbers support the claim), :data:`DIFFER` (they
    contradict it) or :data:`INCONCLUSIVE` (the paired test cannot tell);
    ``numbers``: the values the outcome was computed from, JSON-ready.
    """

    claim: str
    setting: str
    outcome: str
    numbers: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {OUTCOMES}, got {self.outcome!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"numbers": dict(self.numbers)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Judgement:
        return cls(d["claim"], d["setting"], d["outcome"], dict(d.get("numbers") or {}))


def tally(judgements: Iterable[Judgement], claim: str) -> tuple[int, int]:
    """``(agreeing, judged)``: how many settings of ``claim`` agree, of how many."""
    mine = [j for j in judgements if j.claim == claim]
    return sum(j.outcome == AGREE for j in mine), len(mine)


def errorbar(ax, xs, stats, edges=None, **kwargs):
    """Means of fractions as percent with 95% error bars cut at 0–100%; missing points are
    skipped. A point whose entry of ``edges`` is set (its lr on a grid edge) gets
    :data:`EDGE` beside it."""
    edges = [None] * len(xs) if edges is None else edges
    pts = [
        (x, s["mean"], s.get("ci95") or 0.0, edge)
        for x, s, edge in zip(xs, stats, edges, strict=True)
        if s and s.get("mean") is not None
    ]
    if pts:
        x, m, e, flags = zip(*pts, strict=True)
        mean, half = 100 * np.asarray(m, float), 100 * np.asarray(e, float)
        err = yerr(mean, mean - half, mean + half, PERCENT)
        bars = ax.errorbar(x, mean, yerr=err, capsize=3, marker="o", **kwargs)
        color = bars.lines[0].get_color()
        for xi, mi, flag in zip(x, m, flags, strict=True):
            if edge_mark(flag):
                ax.annotate(
                    EDGE,
                    (xi, 100 * mi),
                    xytext=(4, 4),
                    textcoords="offset points",
                    color=color,
                    fontsize=11,
                )


def edge_mark(edge) -> str:
    """:data:`EDGE` when ``edge`` is ``"low"`` or ``"high"``, ``""`` when ``None``."""
    if edge not in (None, "low", "high"):
        raise ValueError(f"edge: expected None, 'low' or 'high', got {edge!r}")
    return EDGE if edge else ""


def lr_text(lr, edge) -> str:
    """``0.5, "high"`` → ``0.5†``; ``0.00111111, None`` → ``0.00111`` (three significant
    digits, :func:`softjax.plots.common.fmt_lr`)."""
    return f"{fmt_lr(lr)}{edge_mark(edge)}"


def grid_growth(cfg: dict) -> str:
    """How the lr grids grew (``experiments._common.lit.interior_sweep``), as a clause after the
    starting grid; "" when the run kept its grid (``max_rounds`` 0 or absent)."""
    rounds, ext = cfg.get("max_rounds", 0), cfg.get("lr_extension")
    if not rounds or not ext:
        return ""
    low, high = ext["range"]
    return (
        f", each loss's grid extended by ×{ext['factor']:g} steps while its choice was on an "
        f"edge (at most {rounds} times, lrs in [{low:g}, {high:g}])"
    )


def edge_sentence(cases) -> str:
    """One sentence naming every chosen lr on an edge of its grid.

    ``cases``: ``(name, lr, edge, grid)`` per chosen lr, ``grid`` the lrs it was chosen
    from or ``None`` where the results do not record it. Cases whose ``edge`` is ``None``
    are interior (or, with ``lr`` None, had no lr to choose) and are not named.
    """
    parts = []
    for name, lr, edge, grid in cases:
        if not edge_mark(edge):
            continue
        listed = None if grid is None else "[" + ", ".join(fmt_lr(x) for x in grid) + "]"
        if grid is not None and len(grid) == 1:
            where = f"the only lr of its grid {listed}"
        else:
            where = f"{edge} edge of " + ("its grid" if grid is None else listed)
        parts.append(f"{name} lr {fmt_lr(lr)} ({where})")
    if not parts:
        return "Every chosen lr is interior to its grid."
    return (
        "Chosen lr on an edge of its grid: "
        + "; ".join(parts)
        + "; a wider grid could move these results."
    )


def edge_layout(fig, edges, top: float = 1.0) -> None:
    """``tight_layout`` below ``top``; when any of ``edges`` is set, room at the bottom for
    :data:`EDGE_FIGURE_NOTE`, which explains the † of the labels and points."""
    flagged = any(edge_mark(e) for e in edges)
    fig.tight_layout(rect=(0, 0.04 if flagged else 0, 1, top))
    if flagged:
        fig.text(0.01, 0.01, EDGE_FIGURE_NOTE, fontsize=9, ha="left", va="bottom")


README_ROW_SECTION = "README row"
README_ROW_HEADER = (
    "| experiment | command | the paper says | we measured (full size) | agrees? |\n"
    "| --- | --- | --- | --- | --- |"
)


def readme_row(experiment: str, command: str, paper: str, measured: str, agrees: str) -> str:
    """One row of the README's table of literature experiments (``|`` inside a cell is
    escaped). ``measured`` and ``agrees`` are written from the results' numbers; the
    README copies the row (``experiments._common.readme_results``), so it never holds a typed
    number."""
    cells = [experiment, f"`{command}`", paper, measured, agrees]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def readme_section(rows: list[str]) -> list[str]:
    """The summary's closing section: the table header and ``rows``, for the README."""
    return [
        f"## {README_ROW_SECTION}",
        "",
        f"This experiment's row{'s' if len(rows) > 1 else ''} of the README's table of "
        "literature experiments "
        "(`python -m experiments.readme_results` copies it there).",
        "",
        README_ROW_HEADER,
        *rows,
        "",
    ]


def replicate_note(cfg: dict) -> str:
    """`` (replicate i: init seed i and data-order seed i)`` after a list of seeds, from
    the config; "" where the config does not say what a replicate varies."""
    return f" (replicate i: {cfg['replicates']})" if cfg.get("replicates") else ""


def run_clause(cfg: dict, n_seeds: int, cases, summary: str) -> str:
    """``(5 replicates, each with init seed i and data-order seed i, `results/x.md`; …)``
    (``5 seeds`` where the config does not say what a replicate varies): how many
    runs each number averages, where the summary is, and whether a chosen lr sits on an
    edge of its grid (grown, when the config says so)."""
    runs = f"{n_seeds} seeds"
    if cfg.get("replicates"):
        runs = f"{n_seeds} replicates, each with {cfg['replicates']}"
    flagged = [c for c in cases if edge_mark(c[2])]
    grown = ", grids grown where a choice sat on an edge" if grid_growth(cfg) else ""
    edges = (
        f"{len(flagged)} chosen lr(s) on an edge of its grid, flagged {EDGE}"
        if flagged
        else f"every chosen lr interior to its grid{grown}"
    )
    return f"({runs}, `{summary}`; {edges})"
