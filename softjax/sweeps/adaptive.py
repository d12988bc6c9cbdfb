"""Sweeps whose replicates are independent runs, with each loss's lr grid grown until the
lr chosen on validation is interior.

**Replicates.** Replicate i is init seed i *and* data-order seed i: n replicates are n
runs that differ in both sources of randomness, so an interval over them counts n
distinct runs (a product of init seeds × data seeds is not: in a convex problem the init
seeds land on one point and the spread is the few data orders). :func:`paired_sweep`
calls :func:`softjax.sweeps.sweep` once per (loss, replicate) with ``seeds=[i]`` and
``data_seeds=[i]``; records stream to one JSONL and resume by key as ``sweep``'s do.

**Interior lr.** :func:`interior_lr_sweep` trains each loss on the starting lrs, chooses
each (loss, init scale)'s lr on validation (:func:`~softjax.sweeps.stats.select_best`),
and for every loss with a choice on an edge of its own grid adds the next lr beyond that
edge (× or ÷ ``factor``), then trains only the new lrs. A loss whose every lr diverged at
some scale grows downwards. It stops when every choice is interior, after ``max_rounds``,
or when the next lr would leave ``[lr_min, lr_max]``; a choice still on an edge then keeps
its ``edge`` flag for the figures and the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
    loss,
    lrs,
    init_scales,
    replicates: Sequence[int],
    **kwargs,
) -> list[dict[str, Any]]:
    """One loss's ``lrs × init_scales`` for each replicate i (init seed i, data seed i).

    ``sweep_fn``: :func:`softjax.sweeps.sweep` (or a stand-in with its signature);
    ``kwargs`` go to it (``name``, ``out_dir``, ``progress``, ``meta``, ``data_info``).
    """
    records = []
    for i in replicates:
        records += sweep_fn(
            base_config,
            data,
            losses=[loss],
            lrs=list(lrs),
            init_scales=list(init_scales),
            seeds=[i],
            data_seeds=[i],
            **kwargs,
        )
    return records


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
    train_loss: Callable[[Any, list[float]], list[dict[str, Any]]],
    losses: Sequence[Any],
    lrs: Sequence[float],
    *,
    factor: float = LR_FACTOR,
    lr_range: tuple[float, float] = LR_RANGE,
    max_rounds: int = MAX_ROUNDS,
    log: Callable[[str], None] | None = print,
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Grows each loss's lr grid until its chosen lrs are interior (module docstring).

    Args:
      train_loss: ``train_loss(loss, new_lrs) -> records`` trains ``loss`` at the new lrs
        for every init scale and replicate (e.g. a :func:`paired_sweep` partial).
      losses: the loss specs; lrs: the starting grid, shared by every loss.
      factor: the log step beyond an edge; lr_range: the cap; max_rounds: the most
        extensions per loss.

    Returns:
      ``(records, lrs_by_loss)``: every record trained, and each loss's final grid keyed
      by :func:`grid_key` (the name of a named loss).
    """
    grids = {grid_key(loss): sorted(float(lr) for lr in lrs) for loss in losses}
    records: list[dict[str, Any]] = []
    for loss in losses:
        lid = grid_key(loss)
        mine = train_loss(loss, grids[lid])
        for _ in range(max_rounds):
            best = select_best(summarize(mine), lrs=None)
            new = [
                lr for lr in next_lrs(best, grids[lid], factor, lr_range) if lr not in grids[lid]
            ]
            if not new:
                break
            if log is not None:
                log(f"{lid}: a chosen lr is on an edge of {grids[lid]}; adding {new}")
            grids[lid] = sorted(grids[lid] + new)
            mine += train_loss(loss, new)
        records += mine
    return records, grids
