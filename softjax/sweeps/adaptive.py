"""Sweeps whose replicates are independent runs, with each loss's lr grid grown until the
lr chosen on validation is interior.

**Replicates.** Replicate i is init seed i *and* data-order seed i: n replicates are n
runs that differ in both sources of randomness, so an interval over them counts n
distinct runs (a product of init seeds × data seeds is not: in a convex problem the init
seeds land on one point and the spread is the few data orders). :func:`paired_sweep`
calls :func:`softjax.sweeps.sweep` once for all its losses and replicates with
``seed_pairing="paired"``; its records and keys are those of one call per replicate
(``seeds=[i]``, ``data_seeds=[i]``), and they stream to one JSONL and resume by key.

**Interior lr.** :func:`interior_lr_sweep` trains every loss on the starting lrs,
chooses each (loss, init scale)'s lr on validation
(:func:`~softjax.sweeps.stats.select_best`), and for every loss with a choice on an edge
of its own grid adds the next lr beyond that edge (× or ÷ ``factor``), then trains only
the new lrs, the losses that need the same new lrs in one call. A loss whose every lr
diverged at some scale grows downwards. It stops when every choice is interior, after
``max_rounds``, or when the next lr would leave ``[lr_min, lr_max]``; a choice still on
an edge then keeps its ``edge`` flag for the figures and the text.

Its "interior" counts a diverged or chance-level neighbour as a bracket and it never
refines between grid points; :mod:`softjax.sweeps.lr_search` is the search whose rules
("How a verdict is made" in the README) fix both. This one stays for the studies that
still call it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from softjax.losses import resolve_loss
from softjax.sweeps.stats import loss_id, select_best, summarize

LR_FACTOR = 3.0
LR_RANGE = (1e-4, 100.0)
MAX_ROUNDS = 4


def grid_key(loss) -> str:
    """A loss's key in ``lrs_by_loss``: its name when it is a plain name, else its id."""
    return loss if isinstance(loss, str) else loss_id(loss)


def paired(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records whose init seed equals their data seed (this module's replicates)."""
    return [r for r in records if r.get("seed") == r.get("data_seed")]


def paired_sweep(
    sweep_fn: Callable,
    base_config,
    data,
    *,
    losses: Sequence[Any],
    lrs,
    init_scales,
    replicates: Sequence[int],
    **kwargs,
) -> list[dict[str, Any]]:
    """Every loss's ``lrs × init_scales`` for each replicate i (init seed i, data seed i).

    One ``sweep_fn`` call with ``seeds = data_seeds = replicates`` and
    ``seed_pairing="paired"``: the replicates are its data seeds, so they reuse one
    compiled program, and its records and keys are those of one call per replicate
    (``seeds=[i], data_seeds=[i]``). ``sweep_fn``: :func:`softjax.sweeps.sweep` (or a
    stand-in with its signature); ``kwargs`` go to it (``name``, ``out_dir``,
    ``progress``, ``meta``, ``data_info``).
    """
    return sweep_fn(
        base_config,
        data,
        losses=list(losses),
        lrs=list(lrs),
        init_scales=list(init_scales),
        seeds=list(replicates),
        data_seeds=list(replicates),
        seed_pairing="paired",
        **kwargs,
    )


def next_lrs(
    best: Sequence[dict[str, Any]],
    lrs: Sequence[float],
    factor: float,
    lr_range: tuple[float, float],
) -> list[float]:
    """The lrs to add to one loss's grid ``lrs`` given its :func:`select_best` entries."""
    low, high = min(lrs), max(lrs)
    new = set()
    for b in best:
        # 6 significant digits: 0.3 × 3 is 0.9, not 0.8999999999999999, in keys and labels.
        if b["lr"] is None or b["edge"] == "low":
            new.add(float(f"{low / factor:.6g}"))
        elif b["edge"] == "high":
            new.add(float(f"{high * factor:.6g}"))
    return sorted(lr for lr in new if lr_range[0] <= lr <= lr_range[1])


def interior_lr_sweep(
    train: Callable[[list[Any], list[float]], list[dict[str, Any]]],
    losses: Sequence[Any],
    lrs: Sequence[float],
    *,
    factor: float = LR_FACTOR,
    lr_range: tuple[float, float] = LR_RANGE,
    max_rounds: int = MAX_ROUNDS,
    log: Callable[[str], None] | None = print,
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Grows each loss's lr grid until its chosen lrs are interior (module docstring).

    Round 0 trains every loss on ``lrs`` in one ``train`` call; each later round groups
    the losses still growing by their list of new lrs and makes one call per group. Each
    loss's choices, extensions and stops depend on its own records only, so the grids
    and records equal those of growing one loss at a time; only the calls are fewer.

    Args:
      train: ``train(losses, new_lrs) -> records`` trains every loss of ``losses`` at
        the lrs ``new_lrs`` for every init scale and replicate (e.g. a
        :func:`paired_sweep` partial); each record's ``loss_spec`` (or ``loss``) names
        its loss.
      losses: the loss specs; lrs: the starting grid, shared by every loss.
      factor: the log step beyond an edge; lr_range: the cap; max_rounds: the most
        extensions per loss.

    Returns:
      ``(records, lrs_by_loss)``: every record trained, loss by loss in ``losses``
      order and round by round within a loss; and each loss's final grid keyed by
      :func:`grid_key` (the name of a named loss).

    Raises:
      ValueError: naming ``train`` when it returns a record of a loss it was not asked
        for.
    """
    ids = [grid_key(loss) for loss in losses]
    grids = {lid: sorted(float(lr) for lr in lrs) for lid in ids}
    mine: dict[str, list[dict[str, Any]]] = {lid: [] for lid in ids}
    todo: dict[tuple[float, ...], list[Any]] = {tuple(grids[ids[0]]): list(losses)} if ids else {}
    for round_ in range(max_rounds + 1):
        growing = []
        for new, group in todo.items():
            for lid, got in _by_loss(train(list(group), list(new)), group).items():
                mine[lid] += got
            growing += group
        if round_ == max_rounds:
            break
        todo = {}
        for loss in sorted(growing, key=lambda loss: ids.index(grid_key(loss))):
            lid = grid_key(loss)
            best = select_best(summarize(mine[lid]), lrs=None)
            new = [
                lr for lr in next_lrs(best, grids[lid], factor, lr_range) if lr not in grids[lid]
            ]
            if not new:
                continue
            if log is not None:
                log(f"{lid}: a chosen lr is on an edge of {grids[lid]}; adding {new}")
            grids[lid] = sorted(grids[lid] + new)
            todo.setdefault(tuple(new), []).append(loss)
        if not todo:
            break
    return [r for lid in ids for r in mine[lid]], grids


def _by_loss(records: Sequence[dict[str, Any]], losses: Sequence[Any]):
    """``records`` split by loss, keyed by :func:`grid_key`, in their order."""
    wanted = {grid_key(loss): loss for loss in losses}
    ids = {}
    for loss in losses:
        ids[loss_id(loss)] = grid_key(loss)
        with contextlib.suppress(ValueError):  # a spec's canonical form, as records carry it
            ids[loss_id(resolve_loss(loss))] = grid_key(loss)
    out: dict[str, list[dict[str, Any]]] = {lid: [] for lid in wanted}
    for r in records:
        lid = ids.get(loss_id(r.get("loss_spec", r.get("loss"))))
        if lid is None:
            raise ValueError(
                f"train: expected records of the losses {list(wanted)}, got one of "
                f"{r.get('loss_spec', r.get('loss'))!r}"
            )
        out[lid].append(r)
    return out
