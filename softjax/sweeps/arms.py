"""Train exactly a set of arms, each at its own lr, over paired replicates.

An *arm* is a ``(loss, init scale)`` pair trained at one lr, e.g. the lr an lr search
(:func:`softjax.sweeps.lr_search.search_lrs`) chose for it. A grid sweep would train
every loss at every lr of the grid; :func:`train_arms` trains only the given points:
every arm at its own lr, for every replicate i (init seed i and data-order seed i in
every arm, so arms are paired by replicate). All arms of a replicate run in one call of
the sweep's own compiled program (:func:`softjax.sweeps.core.build_program`), so the
result of a point equals the grid sweep's (and ``softjax.run.train``'s, up to float
rounding of the wider matmul) for the same config.

:func:`chosen_lr` turns a search's choice into the lr its arm trains at ("no lr trains":
the best finite lr, so an arm that cannot train is measured, not dropped), and
:func:`curves_at` gives each arm's mean validation curve at that lr over the search's
replicates, for the budget check of :mod:`softjax.sweeps.budget`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from softjax.config import TrainConfig, param_dtype
from softjax.history import cut_history
from softjax.inputs import check_runs, compact
from softjax.losses import resolve_loss
from softjax.sweeps.core import build_program, run_group

__all__ = ["chosen_lr", "curves_at", "train_arms"]

Arm = tuple[Hashable, float]
"""``(loss, init scale)``: the loss as a registered name (or any spec
:func:`softjax.losses.resolve_loss` takes, hashable)."""


def train_arms(
    base: TrainConfig, data, arms: Mapping[Arm, float], seeds: Iterable[int]
) -> list[dict[str, Any]]:
    """Trains exactly ``arms`` (``{(loss, init scale): lr}``) × replicates ``seeds``.

    One program for every loss of ``arms`` (the sweep's own), one call per replicate
    with init seed i and data-order seed i for every arm. ``base`` holds what every arm
    shares (its ``loss``, ``lr``, ``init_scale`` and ``seed`` are replaced per point).

    Returns:
      One record per (replicate, arm), replicates in ``seeds`` order and arms in
      ``arms`` order: ``{"loss", "init_scale", "lr", "seed", "diverged", "history"}``
      (``history``: ``{key: [value per epoch]}``, cut at the first non-finite epoch as a
      sweep's record is), the fields of a sweep's record that identify a run.

    Raises:
      ValueError: naming ``arms`` when it is empty or an lr or init scale is not a
        finite number > 0; the config's and data's own errors
        (:func:`softjax.inputs.check_runs`, once for all arms, as a sweep) otherwise.
    """
    arms = dict(arms)
    seeds = [int(s) for s in seeds]
    if not arms:
        raise ValueError("arms: expected at least one (loss, init scale): lr, got none")
    for (loss, scale), lr in arms.items():
        if not (lr is not None and 0 < float(lr) < math.inf and 0 < float(scale) < math.inf):
            raise ValueError(
                f"arms[{(loss, scale)!r}]: expected an lr > 0 and an init scale > 0, got "
                f"lr {lr!r}, init scale {scale!r}"
            )
    if not seeds:
        raise ValueError("seeds: expected at least one replicate, got none")
    keys: list[Hashable] = []
    for loss, _ in arms:
        if loss not in keys:
            keys.append(loss)
    losses = [resolve_loss(k) for k in keys]
    checked = check_runs(base, data, losses)  # each field, loss and array once, as a sweep
    dtype = param_dtype(checked.x_train)
    program = build_program(base, losses, dtype, None)
    device_data = jax.device_put(tuple(compact(checked, shuffled=base.shuffle)))
    records = []
    for seed in seeds:
        points = [
            {
                "loss_index": keys.index(loss),
                "config": base.replace(
                    loss=losses[keys.index(loss)],
                    seed=seed,
                    init_scale=float(scale),
                    lr=float(lr),
                ),
            }
            for (loss, scale), lr in arms.items()
        ]
        _, history, finite = run_group(program, points, device_data, None, dtype, seed)
        for i, ((loss, scale), lr) in enumerate(arms.items()):
            row, _ = cut_history({k: v[i] for k, v in history.items()}, bool(finite[i]))
            records.append(
                {
                    "loss": loss,
                    "init_scale": float(scale),
                    "lr": float(lr),
                    "seed": seed,
                    "diverged": not bool(finite[i]),
                    "history": {k: np.asarray(v).tolist() for k, v in row.items()},
                }
            )
    return records


def _runs(records: Sequence[Mapping[str, Any]], arm: Arm) -> list[Mapping[str, Any]]:
    loss, scale = arm
    return [r for r in records if r["loss"] == loss and r["init_scale"] == scale]


def chosen_lr(
    choice: Mapping[str, Any], records: Sequence[Mapping[str, Any]], key: str = "val_accuracy"
) -> float | None:
    """An arm's lr from its search choice (:meth:`softjax.sweeps.lr_search.LrChoice.as_dict`
    or a search dict's ``"choices"`` entry: ``{"arm": (loss, init scale), "lr", ...}``):
    the chosen lr, else (no lr trains) the lr of the best finite mean final ``key`` over
    the arm's ``records`` (the search's), so an arm that cannot train is measured, not
    dropped. None when every lr diverged."""
    if choice["lr"] is not None:
        return float(choice["lr"])
    by_lr: dict[float, list] = {}
    for r in _runs(records, tuple(choice["arm"])):
        by_lr.setdefault(r["lr"], []).append(None if r["diverged"] else r["history"][key][-1])
    finite = {lr: sum(v) / len(v) for lr, v in by_lr.items() if None not in v}
    return max(finite, key=finite.get) if finite else None


def curves_at(
    records: Sequence[Mapping[str, Any]],
    lrs: Mapping[Arm, float | None],
    key: str = "val_accuracy",
) -> dict[Arm, list[float]]:
    """Each arm's mean ``key`` curve at its lr (``lrs``) over ``records``' replicates;
    arms whose runs at that lr are missing or diverged are left out."""
    out = {}
    for arm, lr in lrs.items():
        runs = [r for r in _runs(records, arm) if r["lr"] == lr]
        if runs and not any(r["diverged"] for r in runs):
            curves = [r["history"][key] for r in runs]
            out[arm] = [sum(c) / len(c) for c in zip(*curves, strict=True)]
    return out
