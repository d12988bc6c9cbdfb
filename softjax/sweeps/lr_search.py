"""Each arm's learning rate found by a search that can neither make nor hide an effect.

An *arm* is anything trained with its own lr (a loss, or a ``(loss, init scale)`` pair).
Each evaluated lr of an arm has a status from its validation score (higher is better,
e.g. accuracy; the mean over replicates):

* ``"diverged"``: the score is not finite (a replicate's loss or update was not);
* ``"chance"``: finite but at most ``chance + margin`` (for accuracy: 1/K + 0.05);
* ``"trains"``: finite and above that.

**Rules.** Every round proposes, for each arm, from the lrs it has so far:

1. *Span.* With no lr that trains, go outwards: ×``span`` above the largest lr (unless
   it diverged) and ÷``span`` below the smallest. Once some lr trains: while the largest
   lr still trains, add one ×``span`` above (the search spans up to divergence or chance);
   while the best lr is the smallest, add one ÷``span`` below (it spans from below the
   useful range). Both stop at ``lr_range``.
2. *Refine.* Around the best lr b (highest score among the lrs that train; the smaller
   lr on a tie), for each neighbour c farther than ``resolution`` (by ratio, 1% slack for
   rounding), add the geometric midpoint ``√(b·c)``, to 3 significant digits. From a ×10
   grid, two halvings reach ``10^{1/4} ≈ 1.78``, the default: "about √3".
3. *Edges.* A diverged or chance-level neighbour is refined towards, further than a
   neighbour that trains: until it is within ``edge_resolution`` (default ×1.15) of b. It
   is an edge to approach, never a bracket; the best lr often sits just below
   divergence, and a ×1.78 gap there can hide a better lr (two more halvings from ×1.78
   reach ×1.15).
4. *Select.* The choice is the best lr among those that train; ``"no lr trains"`` when
   none does. It is ``interior`` only when both neighbours *trained*; otherwise it names
   its edge (e.g. "upper neighbour diverged").

The search stops when no arm proposes a new lr, or after ``max_rounds`` rounds (then
:attr:`LrSearch.converged` is False). One round is one call of ``evaluate`` with every
arm's new lrs: with :func:`sweep_evaluator`, one :func:`softjax.sweeps.sweep` call (one
compiled program) with a per-loss lr list. The whole history (each round's lrs, scores
and statuses) is kept as data.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from softjax.losses import resolve_loss
from softjax.sweeps.stats import STUCK_MARGIN, loss_id

START_LRS = (1e-3, 1e-2, 1e-1, 1.0)
SPAN = 10.0
RESOLUTION = 10**0.25
EDGE_RESOLUTION = 1.15
LR_RANGE = (1e-6, 1e4)
MAX_ROUNDS = 10
CHANCE_MARGIN = STUCK_MARGIN  # the margin of a run stuck near chance, one rule
_SLACK = 1.01

Scores = Mapping[float, float | None]


def status(score: float | None, chance: float, margin: float = CHANCE_MARGIN) -> str:
    """``"diverged"``, ``"chance"`` or ``"trains"`` for one lr's score (module docstring)."""
    if score is None or not math.isfinite(score):
        return "diverged"
    return "chance" if score <= chance + margin else "trains"


def _round(lr: float) -> float:
    return float(f"{lr:.3g}")


@dataclass(frozen=True)
class LrChoice:
    """One arm's chosen lr: ``lr`` and its ``score`` (None when no lr trains),
    ``verdict`` (``"interior"``, ``"edge"`` or ``"no lr trains"``), each neighbour as
    ``(lr, status)`` (None when there is none), ``reason`` in words, and ``lrs_tried``."""

    arm: Any
    lr: float | None
    score: float | None
    verdict: str
    lower: tuple[float, str] | None
    upper: tuple[float, str] | None
    reason: str
    lrs_tried: tuple[float, ...]

    @property
    def interior(self) -> bool:
        """True when both neighbours trained."""
        return self.verdict == "interior"

    def render(self) -> str:
        """E.g. ``cce: lr 0.0316 (score 0.912), interior: 0.0178 trains, 0.0562 trains``."""
        if self.lr is None:
            return f"{self.arm}: {self.reason}"
        return f"{self.arm}: lr {self.lr:.3g} (score {self.score:.4g}), {self.reason}"


@dataclass(frozen=True)
class LrSearch:
    """The search's result: ``choices`` per arm, ``history`` (one row per evaluated
    (round, arm, lr): ``{"round", "arm", "lr", "score", "status"}``), ``rounds`` made
    and ``converged`` (False when ``max_rounds`` stopped it)."""

    choices: dict[Any, LrChoice]
    history: tuple[dict[str, Any], ...]
    rounds: int
    converged: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``choices`` as a list of :class:`LrChoice` dicts (plus
        ``interior``), the ``history`` rows, ``rounds`` and ``converged``."""
        choices = [asdict(c) | {"interior": c.interior} for c in self.choices.values()]
        return {
            "choices": choices,
            "history": [dict(r) for r in self.history],
            "rounds": self.rounds,
            "converged": self.converged,
        }


def propose(
    scores: Scores,
    *,
    chance: float,
    margin: float = CHANCE_MARGIN,
    span: float = SPAN,
    resolution: float = RESOLUTION,
    edge_resolution: float = EDGE_RESOLUTION,
    lr_range: tuple[float, float] = LR_RANGE,
) -> list[float]:
    """The new lrs one arm needs next, from its ``scores`` (lr → score) so far: rules 1–3
    of the module docstring. Empty when the arm is done.

    >>> propose({0.01: 0.5, 0.1: 0.8, 1.0: None}, chance=0.1)  # refine towards both
    [0.0316, 0.316]
    >>> propose({0.0562: 0.7, 0.1: 0.8, 0.178: None}, chance=0.1)  # only the edge
    [0.133]
    """
    lrs = sorted(scores)
    st = {lr: status(scores[lr], chance, margin) for lr in lrs}
    low, high = lr_range
    new = set()

    def add(lr: float) -> None:
        lr = _round(lr)
        if low <= lr <= high and lr not in scores:
            new.add(lr)

    trains = [lr for lr in lrs if st[lr] == "trains"]
    if not trains:
        add(lrs[0] / span)
        if st[lrs[-1]] != "diverged":
            add(lrs[-1] * span)
        return sorted(new)
    best = max(trains, key=lambda lr: scores[lr])  # first of equal scores: the smaller lr
    i = lrs.index(best)
    if st[lrs[-1]] == "trains":
        add(lrs[-1] * span)
    if i == 0:
        add(best / span)
    for j in (i - 1, i + 1):
        if 0 <= j < len(lrs):
            c = lrs[j]
            limit = resolution if st[c] == "trains" else edge_resolution
            if max(best, c) / min(best, c) > limit * _SLACK:
                add(math.sqrt(best * c))
    return sorted(new)


def choose(arm: Any, scores: Scores, *, chance: float, margin: float = CHANCE_MARGIN) -> LrChoice:
    """Rule 4: the arm's best lr among those that train, or "no lr trains".

    >>> choose("mse", {0.01: 0.5, 0.1: 0.8, 1.0: None}, chance=0.1).render()
    'mse: lr 0.1 (score 0.8), edge: lower 0.01 trains, upper 1 diverged'
    """
    lrs = sorted(scores)
    st = {lr: status(scores[lr], chance, margin) for lr in lrs}
    trains = [lr for lr in lrs if st[lr] == "trains"]
    if not trains:
        span = f"{lrs[0]:.3g} … {lrs[-1]:.3g}" if lrs else "none"
        reason = f"no lr trains (tried {len(lrs)}: {span})"
        return LrChoice(arm, None, None, "no lr trains", None, None, reason, tuple(lrs))
    best = max(trains, key=lambda lr: scores[lr])
    i = lrs.index(best)
    lower = (lrs[i - 1], st[lrs[i - 1]]) if i > 0 else None
    upper = (lrs[i + 1], st[lrs[i + 1]]) if i + 1 < len(lrs) else None
    parts = []
    for side, nb in (("lower", lower), ("upper", upper)):
        parts.append(f"no {side} lr tried" if nb is None else f"{side} {nb[0]:.3g} {nb[1]}")
    interior = lower is not None and upper is not None and lower[1] == upper[1] == "trains"
    verdict = "interior" if interior else "edge"
    reason = f"{verdict}: " + ", ".join(parts)
    return LrChoice(arm, best, float(scores[best]), verdict, lower, upper, reason, tuple(lrs))


def search_lrs(
    evaluate: Callable[[dict[Any, list[float]]], Mapping[Any, Scores]],
    arms: Sequence[Hashable],
    *,
    chance: float,
    start: Sequence[float] = START_LRS,
    margin: float = CHANCE_MARGIN,
    span: float = SPAN,
    resolution: float = RESOLUTION,
    edge_resolution: float = EDGE_RESOLUTION,
    lr_range: tuple[float, float] = LR_RANGE,
    max_rounds: int = MAX_ROUNDS,
    log: Callable[[str], None] | None = None,
) -> LrSearch:
    """Searches every arm's lr (module docstring), one ``evaluate`` call per round.

    Args:
      evaluate: ``evaluate({arm: [lr, ...]}) -> {arm: {lr: score}}``: validation scores
        (None or non-finite for a diverged lr) of every requested lr of every requested
        arm; it may return more lrs than asked (they join the arm's grid).
      arms: the arms (hashable, e.g. a loss name or ``(loss, init_scale)``).
      chance: the chance-level score (1/K for accuracy on K classes); margin: above it a
        run trains.
      start: round 0's lrs for every arm; span, resolution, edge_resolution, lr_range,
        max_rounds: the rules' constants.
      log: called with one line per round (e.g. ``print``).

    Raises:
      ValueError: for a bad argument, or naming ``evaluate`` when it leaves out a
        requested arm or lr.
    """
    if not arms or len(set(arms)) != len(arms):
        raise ValueError(f"arms: expected distinct arms, got {list(arms)!r}")
    if not start or any(not (isinstance(x, int | float) and x > 0) for x in start):
        raise ValueError(f"start: expected lrs > 0, got {list(start)!r}")
    if not (span > 1 and resolution > 1 and 0 < lr_range[0] < lr_range[1]):
        raise ValueError(
            f"span, resolution, lr_range: expected span > 1, resolution > 1 and "
            f"0 < low < high, got {span!r}, {resolution!r}, {lr_range!r}"
        )
    if not (isinstance(edge_resolution, int | float) and 1 < edge_resolution <= resolution):
        raise ValueError(
            f"edge_resolution: expected 1 < edge_resolution <= resolution ({resolution!r}), "
            f"got {edge_resolution!r}"
        )
    if not (isinstance(chance, int | float) and math.isfinite(chance)):
        raise ValueError(f"chance: expected the chance-level score (1/K), got {chance!r}")
    if not (isinstance(max_rounds, int) and max_rounds >= 1):
        raise ValueError(f"max_rounds: expected an int ≥ 1, got {max_rounds!r}")
    scores: dict[Any, dict[float, float | None]] = {arm: {} for arm in arms}
    todo = {arm: sorted({_round(x) for x in start}) for arm in arms}
    history: list[dict[str, Any]] = []
    rounds = 0
    while todo and rounds < max_rounds:
        got = evaluate({arm: list(lrs) for arm, lrs in todo.items()})
        for arm, lrs in todo.items():
            missing = [lr for lr in lrs if lr not in (got.get(arm) or {})]
            if missing:
                raise ValueError(
                    f"evaluate: expected a score for every requested lr; arm {arm!r} lacks "
                    f"{missing}"
                )
        for arm in arms:
            for lr, score in sorted((got.get(arm) or {}).items()):
                score = None if score is None or not math.isfinite(score) else float(score)
                if lr not in scores[arm]:
                    scores[arm][lr] = score
                    history.append(
                        {
                            "round": rounds,
                            "arm": arm,
                            "lr": lr,
                            "score": score,
                            "status": status(score, chance, margin),
                        }
                    )
        if log is not None:
            log(f"lr search round {rounds}: " + "; ".join(f"{a}: {v}" for a, v in todo.items()))
        rounds += 1
        todo = {}
        for arm in arms:
            new = propose(
                scores[arm],
                chance=chance,
                margin=margin,
                span=span,
                resolution=resolution,
                edge_resolution=edge_resolution,
                lr_range=lr_range,
            )
            if new:
                todo[arm] = new
    choices = {arm: choose(arm, scores[arm], chance=chance, margin=margin) for arm in arms}
    return LrSearch(choices, tuple(history), rounds, not todo)


def _ids(spec) -> set[str]:
    """The ids a record may carry for the loss ``spec``: its own and its canonical form."""
    ids = {loss_id(spec)}
    with contextlib.suppress(ValueError):
        ids.add(loss_id(resolve_loss(spec)))
    return ids


def scores_from_records(
    records: Sequence[dict[str, Any]],
    arms: Sequence[tuple[str, float]],
    metric: str,
    losses: Mapping[str, Any] | None = None,
) -> dict[Any, dict[float, float | None]]:
    """``{(name, init_scale): {lr: score}}`` from sweep records: the mean over replicates
    of the last ``history[metric]``, None when a replicate diverged. An arm's loss is
    ``losses[name]`` (default: the name itself, a registered loss)."""
    spec = {name: (losses or {}).get(name, name) for name, _ in arms}
    owner = {i: name for name in spec for i in _ids(spec[name])}
    cells: dict[tuple, dict[float, list]] = {}
    for r in records:
        arm = (owner.get(loss_id(r.get("loss_spec", r.get("loss")))), r["init_scale"])
        if arm in arms:
            value = None if r["diverged"] else (r["history"].get(metric) or [None])[-1]
            cells.setdefault(arm, {}).setdefault(r["lr"], []).append(value)
    return {
        arm: {
            lr: None if any(v is None for v in vs) else math.fsum(vs) / len(vs)
            for lr, vs in by_lr.items()
        }
        for arm, by_lr in cells.items()
    }


def sweep_evaluator(
    sweep_fn: Callable,
    base_config,
    data,
    *,
    replicates: Sequence[int],
    losses: Mapping[str, Any] | None = None,
    metric: str = "val_accuracy",
    records: list[dict[str, Any]] | None = None,
    **sweep_kwargs,
) -> Callable[[dict[Any, list[float]]], dict[Any, dict[float, float | None]]]:
    """An ``evaluate`` for :func:`search_lrs` whose arms are ``(name, init_scale)``
    pairs and whose rounds are :func:`softjax.sweeps.sweep` calls (pass it as
    ``sweep_fn``). A name is a registered loss, or a key of ``losses`` (name → spec, for
    specs with arguments or functions, which are not hashable arms).

    Each round is one call: every requested loss with its own lr list (the union of its
    arms' lrs: an lr asked for at one init scale is trained at all of them, and its
    score joins every arm's grid), the init scales asked for, replicate i = init seed i
    and data seed i (``seed_pairing="paired"``). An arm's score is
    :func:`scores_from_records`'s. Every round's records are appended to ``records`` when
    given; ``sweep_kwargs`` (``name``, ``out_dir``, ``progress``, ...) go to ``sweep_fn``:
    with ``name`` the rounds stream to one JSONL and a rerun resumes from it.
    """
    if not metric.startswith("val_"):
        raise ValueError(
            f"metric: expected a validation metric ('val_…'), got {metric!r}; choosing on "
            "test metrics would bias the reported test numbers"
        )

    def evaluate(lrs_by_arm: dict[Any, list[float]]) -> dict[Any, dict[float, float | None]]:
        lrs: dict[str, set[float]] = {}
        for (name, _), arm_lrs in lrs_by_arm.items():
            lrs.setdefault(name, set()).update(arm_lrs)
        names = list(lrs)
        got = sweep_fn(
            base_config,
            data,
            losses=[(losses or {}).get(name, name) for name in names],
            lrs=[sorted(lrs[name]) for name in names],
            init_scales=sorted({scale for _, scale in lrs_by_arm}),
            seeds=list(replicates),
            data_seeds=list(replicates),
            seed_pairing="paired",
            **sweep_kwargs,
        )
        if records is not None:
            records.extend(got)
        return scores_from_records(got, list(lrs_by_arm), metric, losses)

    return evaluate
