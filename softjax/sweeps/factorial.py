"""The 2 × 2 factorial analysis of paired replicates (e.g. the gradient swap: gradient
direction × gradient norm), on the rules of :mod:`softjax.sweeps.inference`.

Four arms ``y(a, b)``, factor levels ``a ∈ {a₀, a₁}`` and ``b ∈ {b₀, b₁}``, on the same
replicates (replicate i shares init and data order across the four). Per replicate,

* main effect of A: ``½[(y(a₁,b₀) − y(a₀,b₀)) + (y(a₁,b₁) − y(a₀,b₁))]``;
* main effect of B: ``½[(y(a₀,b₁) − y(a₀,b₀)) + (y(a₁,b₁) − y(a₁,b₀))]``;
* interaction: ``(y(a₁,b₁) − y(a₀,b₁)) − (y(a₁,b₀) − y(a₀,b₀))``, A's effect at b₁ minus
  its effect at b₀;

each a paired contrast with its 95% t-interval and four-way verdict
(:func:`~softjax.sweeps.inference.decide`), Holm over the three.

Across settings (models, datasets) each contrast is pooled by
:func:`~softjax.sweeps.inference.pooled` (a t-interval over the per-setting means).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from softjax.sweeps.inference import ALPHA, Verdict, decide, finite_values, pooled


def factorial_contrasts(
    arms: Mapping[tuple[Any, Any], Sequence[float]],
    *,
    factors: tuple[str, str] = ("A", "B"),
    levels: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None,
) -> dict[str, list[float]]:
    """The per-replicate 2 × 2 contrasts (module docstring) of four paired arms.

    ``arms[(a, b)]`` are arm (a, b)'s per-replicate values, replicate i at index i in
    every arm. ``levels = ((a₀, a₁), (b₀, b₁))`` names each factor's baseline and other
    level (default: sorted). Keys: ``"main effect of {A} ({a₁} − {a₀})"``, the same for
    B, and ``"interaction {A} × {B}"``.

    >>> arms = {(0, 0): [1.0, 2.0], (1, 0): [3.0, 4.0], (0, 1): [1.5, 2.5], (1, 1): [5.5, 6.5]}
    >>> factorial_contrasts(arms)
    {'main effect of A (1 − 0)': [3.0, 3.0], 'main effect of B (1 − 0)': [1.5, 1.5], \
'interaction A × B': [2.0, 2.0]}
    """
    if levels is None:
        levels = tuple(tuple(sorted({k[j] for k in arms}, key=repr)) for j in (0, 1))
    if len(levels) != 2 or any(len(lv) != 2 for lv in levels):
        raise ValueError(f"arms, levels: expected two levels of each of two factors, got {levels}")
    (a0, a1), (b0, b1) = levels
    want = [(a0, b0), (a1, b0), (a0, b1), (a1, b1)]
    if sorted(map(repr, arms)) != sorted(map(repr, want)) or len(arms) != 4:
        raise ValueError(f"arms: expected the four arms {want}, got {list(arms)}")
    y = {k: finite_values(f"arms[{k!r}]", arms[k]) for k in want}
    if len({len(v) for v in y.values()}) != 1:
        raise ValueError(
            f"arms: expected the same replicates in every arm, got lengths "
            f"{ {k: len(v) for k, v in y.items()} }"
        )
    rows = list(zip(*(y[k] for k in want), strict=True))  # y00, y10, y01, y11 per replicate
    fa, fb = factors
    return {
        f"main effect of {fa} ({a1} − {a0})": [((p - o) + (s - q)) / 2 for o, p, q, s in rows],
        f"main effect of {fb} ({b1} − {b0})": [((q - o) + (s - p)) / 2 for o, p, q, s in rows],
        f"interaction {fa} × {fb}": [(s - q) - (p - o) for o, p, q, s in rows],
    }


def factorial_2x2(
    arms_by_setting: Mapping[Any, Mapping[tuple[Any, Any], Sequence[float]]],
    *,
    family: str,
    delta: float,
    factors: tuple[str, str] = ("A", "B"),
    levels: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None,
    alpha: float = ALPHA,
) -> list[Verdict]:
    """The three factorial effects, each pooled over settings (:func:`pooled`: a
    setting's paired estimate when there is one), with verdicts and Holm over the three.

    ``arms_by_setting[setting]`` is one setting's four arms for
    :func:`factorial_contrasts` (e.g. settings = models at one init scale; the gradient
    swap's factors ``("direction", "norm")`` with levels ``(("ce", "mse"), ("ce", "mse"))``).
    """
    contrasts = {
        s: factorial_contrasts(a, factors=factors, levels=levels)
        for s, a in arms_by_setting.items()
    }
    if not contrasts:
        raise ValueError("arms_by_setting: expected at least one setting, got none")
    names = list(next(iter(contrasts.values())))
    estimates = {name: pooled({s: c[name] for s, c in contrasts.items()}) for name in names}
    return decide(estimates, family=family, delta=delta, alpha=alpha)
