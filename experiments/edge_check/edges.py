"""The edge check's pure parts: which arms sit at an edge, the finer lrs toward it, the
re-choice among them, and which verdicts of an analysis changed.

An lr search (:mod:`softjax.sweeps.lr_search`) may choose an *edge* lr c: the best lr
that trains, with a neighbour n that diverged or sat at chance (the search refines
toward n to its edge resolution, ×1.15; a search made before that rule, or one stopped by
its round cap, left ×1.78 or more). Between c and n the search has no run, so its optimum
(and a verdict that hinges on the arm's accuracy) may lie there. :func:`candidates` puts
``STEPS − 1`` lrs geometrically between c and each such n (``STEPS = 4``: ×1.78 becomes
×1.15, ×1.15 becomes ×1.036),

    c · (n / c)^{k / STEPS},  k = 1 … STEPS − 1,

and :func:`rechoose` picks among c and those, on validation, by the search's own rule
(finite in every replicate and above chance; the highest mean).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from softjax.sweeps.lr_search import CHANCE_MARGIN

STEPS = 4
"""Each gap from an edge lr to a bad neighbour is cut into this many geometric steps."""
BAD = ("diverged", "chance")
"""Neighbour statuses that make a choice an edge this check refines towards."""
UNTRIED = "untried"
BEYOND = 10**0.5
"""An edge whose neighbour was never tried (the search's lr range ends there) is
extended past it, toward ``lr · BEYOND`` (or ``lr / BEYOND``) as if that were its
neighbour."""


def bad_neighbours(choice: Mapping[str, Any]) -> list[tuple[float, str]]:
    """The ``(lr, status)`` neighbours of an edge choice of a search
    (``LrChoice.as_dict``) to refine towards: those that diverged or sat at chance, and
    for a side never tried, ``(lr · BEYOND^±1, "untried")``. Empty for an interior
    choice and for "no lr trains" (no lr to refine).

    >>> bad_neighbours({"lr": 1.0, "verdict": "edge", "lower": [0.562, "trains"],
    ...                 "upper": None})
    [(3.16, 'untried')]
    """
    if choice.get("lr") is None or choice.get("verdict") != "edge":
        return []
    lr = float(choice["lr"])
    out = []
    for side, n in ((-1, choice.get("lower")), (1, choice.get("upper"))):
        if n is None:
            out.append((float(f"{lr * BEYOND**side:.3g}"), UNTRIED))
        elif n[1] in BAD:
            out.append((float(n[0]), str(n[1])))
    return out


def candidates(lr: float, neighbours: Iterable[tuple[float, str]], steps: int = STEPS):
    """``lr`` then, toward each neighbour, the ``steps − 1`` lrs between (3 significant
    digits), nearest to ``lr`` first.

    >>> candidates(0.0316, [(0.0562, "diverged")])
    [0.0316, 0.0365, 0.0421, 0.0487]
    """
    out = [float(lr)]
    for n, _ in neighbours:
        for k in range(1, steps):
            x = float(f"{lr * (n / lr) ** (k / steps):.3g}")
            if x not in out:
                out.append(x)
    return out


def rechoose(
    val: Mapping[float, Sequence[float | None]], chance: float, margin: float = CHANCE_MARGIN
) -> tuple[float | None, dict[float, dict[str, Any]]]:
    """The best lr of ``val`` (lr → each replicate's validation score, None when it
    diverged) among those finite in every replicate with a mean above ``chance +
    margin``; with each lr's ``{"mean", "status"}``. ``(None, …)`` when none qualifies.

    >>> rechoose({0.1: [0.8, 0.9], 0.2: [0.9, None], 0.05: [0.12, 0.1]}, chance=0.1)[0]
    0.1
    """
    table = {}
    for lr, scores in val.items():
        finite = [s for s in scores if s is not None and math.isfinite(s)]
        if len(finite) < len(scores) or not finite:
            table[lr] = {"mean": None, "status": "diverged"}
            continue
        mean = math.fsum(finite) / len(finite)
        table[lr] = {"mean": mean, "status": "trains" if mean > chance + margin else "chance"}
    ok = {lr: t["mean"] for lr, t in table.items() if t["status"] == "trains"}
    best = max(sorted(ok), key=lambda lr: ok[lr]) if ok else None
    return best, table


_IDENT = ("setting", "init_scale", "loss", "rule")


def verdicts(analysis: Any, path: str = "") -> dict[str, str | None]:
    """Every verdict of a study's analysis, flattened: ``{path: verdict}``, from each
    dict's ``"verdict"`` or ``"outcome"`` and each string of a ``"per_setting"`` map.
    A path names a list's dict by its comparison, else by its identifying fields
    (setting, init scale, loss, rule) where it has them, else by its index, so two
    analyses of the same runs' layout give the same paths."""
    out: dict[str, str | None] = {}
    if isinstance(analysis, Mapping):
        for key in ("verdict", "outcome"):
            if key in analysis and not isinstance(analysis[key], Mapping | list):
                out[f"{path}.{key}"] = analysis[key]
        for key, value in analysis.items():
            if key == "numbers":
                continue
            if key == "per_setting" and isinstance(value, Mapping):
                out |= {f"{path}.per_setting[{k}]": v for k, v in value.items()}
            elif isinstance(value, Mapping | list):
                out |= verdicts(value, f"{path}.{key}")
    elif isinstance(analysis, list):
        for i, item in enumerate(analysis):
            ident = ""
            if isinstance(item, Mapping):
                keys = ["comparison"] if "comparison" in item else [k for k in _IDENT if k in item]
                ident = ", ".join(f"{item[k]}" for k in keys)
            out |= verdicts(item, f"{path}[{ident or i}]")
    return out


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The verdicts of ``after`` (a :func:`verdicts` map) that differ from ``before``'s,
    or are missing from either, as ``{"path", "before", "after"}`` rows.

    >>> changed({"a": "lower", "b": "higher"}, {"a": "lower", "b": "inconclusive"})
    [{'path': 'b', 'before': 'higher', 'after': 'inconclusive'}]
    """
    keys = list(before) + [k for k in after if k not in before]
    return [
        {"path": k, "before": before.get(k), "after": after.get(k)}
        for k in keys
        if before.get(k) != after.get(k)
    ]


def largest_gap(a: Mapping[int, float | None], b: Mapping[int, float | None]) -> float | None:
    """The largest |a[seed] − b[seed]| over seeds finite in both (None: no such seed)."""
    gaps = [
        abs(a[s] - b[s])
        for s in a
        if s in b and a[s] is not None and b[s] is not None and math.isfinite(a[s] - b[s])
    ]
    return max(gaps) if gaps else None
