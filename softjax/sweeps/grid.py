"""A sweep's grid: its axes checked in plain Python, and its points in run order.

A sweep is the product ``losses × lrs × init_scales × seeds × data_seeds`` over one base
:class:`~softjax.config.TrainConfig`. A loss is any spec
:func:`softjax.losses.resolve_loss` takes (a registered name, ``(name, {kwargs})``, a
function); records carry its name (``loss``) and its JSON spec (``loss_spec``).

Per-loss lr grids. ``lrs`` is one grid every loss shares, or one grid per loss (a list
of lists in ``losses`` order), for losses whose gradients have different scales (square
loss on logits against CCE, say): the grid is then ``Σ_loss lrs[loss] × init_scales ×
seeds × data_seeds``, still one program (a loss's block holds its own models).

Seeds. A point with init seed ``s`` and data seed ``d`` starts from
``init_params(config, split(PRNGKey(s))[0], init_scale)`` and draws its minibatches from
``split(PRNGKey(d))[1]``, as :func:`softjax.train` splits one seed. With
``s == d`` its record matches ``train(config.replace(seed=s, lr=…, init_scale=…))`` up to
float rounding, not bitwise: the sweep's matmul is M models wide, ``train``'s one model
wide, and XLA may round the two widths differently: the tests bound params and history
by 1e-5 relative in float32 and 1e-6 in float64. With
``s != d`` it matches ``train(config.replace(seed=d, …), params=init_params(…, key of s,
…))`` to the same tolerance.

Pairing. ``seed_pairing="product"`` (the default) runs every init seed with every data
seed. ``"paired"`` runs init seed ``seeds[k]`` with data seed ``data_seeds[k]`` only (two
equally long lists): replicates that differ in both sources of randomness, all in one
sweep. A paired point's config, key and record are those of the product grid's point
with the same seeds, so a paired sweep and one product sweep per pair
(``seeds=[s], data_seeds=[d]``) write the same records and resume each other's files.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from softjax import _checks
from softjax.config import TrainConfig
from softjax.fingerprint import point_code
from softjax.inputs import check_runs
from softjax.losses import LOSSES, BoundLoss, resolve_loss
from softjax.sweeps.storage import config_key


def _check_axis(values, name: str, check, expected: str) -> list:
    if isinstance(values, str | bytes):
        raise ValueError(f"{name}: expected a non-empty sequence of {expected}, got {values!r}")
    if not isinstance(values, Sequence) and hasattr(values, "__array__"):
        # numpy and JAX arrays: a 1-D array is a list of Python scalars (.tolist()), so
        # the checks below see ints and floats, not 0-d arrays.
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(
                f"{name}: expected a 1-D array or a sequence of {expected}, "
                f"got an array of shape {arr.shape}"
            )
        # A float32 array's 0.1 is 0.10000000149…; its shortest repr is the 0.1 the caller
        # typed, which keeps the key (and the record) equal to a list's [0.1].
        values = (
            [float(str(v)) for v in arr] if np.issubdtype(arr.dtype, np.floating) else arr.tolist()
        )
    elif not isinstance(values, Sequence):
        raise ValueError(f"{name}: expected a non-empty sequence of {expected}, got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name}: expected a non-empty sequence of {expected}, got an empty one")
    out = []
    for v in values:
        ok, converted = check(v)
        if not ok:
            raise ValueError(f"{name}: expected {expected}, got {v!r} in {values!r}")
        out.append(converted)
    keys = [repr(v.spec) if isinstance(v, BoundLoss) else repr(v) for v in out]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(
            f"{name}: duplicate values {', '.join(dupes)} would give duplicate configs; "
            f"got {values!r}"
        )
    return out


def _checked(check):
    """An axis value check from a softjax._checks rule: ``(ok, converted)``."""

    def axis_check(v):
        try:
            return True, check(v, "value")
        except ValueError:
            return False, None

    return axis_check


# The rules of softjax._checks, once: seeds in [0, 2**32) (PRNGKey keeps 32 bits, so
# 2**32 would silently repeat seed 0 and count one run twice), finite numbers > 0.
_positive_float = _checked(_checks.positive_float)
_seed = _checked(_checks.seed)


def _loss(v):
    try:
        return True, resolve_loss(v, "losses")
    except ValueError:
        return False, None


SEED_PAIRINGS = ("product", "paired")


def _is_per_loss(lrs) -> bool:
    """Whether ``lrs`` is one grid per loss: a sequence whose items are all sequences
    (not strings) or arrays."""
    if isinstance(lrs, str | bytes) or not isinstance(lrs, Sequence) or not lrs:
        return False
    return all(
        not isinstance(v, str | bytes) and (isinstance(v, Sequence) or np.ndim(v) >= 1) for v in lrs
    )


def loss_lrs(grid: dict[str, Any], loss_index: int) -> list[float]:
    """The lrs of loss ``loss_index``: its own grid, or the shared one."""
    lrs = grid["lrs"]
    return lrs[loss_index] if grid.get("lrs_per_loss") else lrs


def check_grid(
    base_config,
    data,
    *,
    losses,
    lrs,
    init_scales,
    seeds,
    data_seeds=None,
    seed_pairing="product",
):
    """Validates a sweep grid in plain Python, before anything compiles.

    Returns:
      ``(data, grid)`` with the validated data and ``grid`` a dict of plain lists:
      ``losses`` (:class:`~softjax.losses.BoundLoss` values), ``lrs`` (a list per loss
      when ``lrs_per_loss``; read it with :func:`loss_lrs`), ``init_scales``, ``seeds``,
      ``data_seeds``; and ``seed_pairing`` (module docstring).

    Raises:
      ValueError: naming the axis for an empty axis, a per-loss ``lrs`` whose number
        of grids is not the number of losses, a non-positive or non-finite lr or
        init scale, a negative or non-integer seed, an unknown loss, or a duplicate
        value (which would give duplicate configs); naming ``seed_pairing`` for a value
        not in :data:`SEED_PAIRINGS`, or ``"paired"`` with ``seeds`` and ``data_seeds``
        of different lengths; or whatever :func:`softjax.inputs.check_runs` finds
        wrong with the base config and data.
    """
    if not isinstance(seed_pairing, str) or seed_pairing not in SEED_PAIRINGS:
        raise ValueError(f"seed_pairing: expected one of {SEED_PAIRINGS}, got {seed_pairing!r}")
    if not isinstance(base_config, TrainConfig):
        raise ValueError(f"base_config: expected a TrainConfig, got {type(base_config).__name__}")
    grid = {
        "losses": _check_axis(
            losses,
            "losses",
            _loss,
            f"loss specs (names from {list(LOSSES)}, (name, kwargs), or functions)",
        ),
        "init_scales": _check_axis(
            init_scales, "init_scales", _positive_float, "finite init scales > 0"
        ),
        "seeds": _check_axis(seeds, "seeds", _seed, "int seeds in [0, 2**32)"),
        "data_seeds": _check_axis(
            [base_config.seed] if data_seeds is None else data_seeds,
            "data_seeds",
            _seed,
            "int seeds in [0, 2**32)",
        ),
        "seed_pairing": seed_pairing,
    }
    lr_rule = (_positive_float, "finite learning rates > 0")
    grid["lrs_per_loss"] = _is_per_loss(lrs)
    if grid["lrs_per_loss"]:
        if len(lrs) != len(grid["losses"]):
            raise ValueError(
                f"lrs: expected one lr grid per loss ({len(grid['losses'])} losses) or one "
                f"grid of numbers for all, got {len(lrs)} grids: {lrs!r}"
            )
        grid["lrs"] = [_check_axis(v, f"lrs[{i}]", *lr_rule) for i, v in enumerate(lrs)]
    else:
        grid["lrs"] = _check_axis(lrs, "lrs", *lr_rule)
    if seed_pairing == "paired" and len(grid["seeds"]) != len(grid["data_seeds"]):
        raise ValueError(
            'seed_pairing: "paired" pairs seeds[k] with data_seeds[k] and expects lists of '
            f"one length; got {len(grid['seeds'])} seeds {grid['seeds']} and "
            f"{len(grid['data_seeds'])} data_seeds {grid['data_seeds']}"
            + (" (data_seeds=None is [base_config.seed])" if data_seeds is None else "")
        )
    # The base config's fields once, each loss's rules and the data once: the lrs and
    # init scales are the axes checked above.
    return check_runs(base_config, data, grid["losses"]), grid


def jsonable_grid(grid: dict[str, Any]) -> dict[str, Any]:
    """The grid with each loss as its JSON spec (a name or ``[name, {kwargs}]``)."""
    return {**grid, "losses": [b.spec if isinstance(b, BoundLoss) else b for b in grid["losses"]]}


def grid_configs(
    base_config: TrainConfig, grid: dict[str, list], data: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every point of the grid as ``{"config", "loss_name", "loss_index", "data_seed",
    "key"}``.

    Order (that of the returned records): loss, data seed, then the vmapped axes init
    scale × lr × init seed. A data seed's points of every loss run in one call of the
    one program (``loss_index`` picks a point's block). ``config`` is the point's
    :class:`~softjax.config.TrainConfig`, its ``loss`` the resolved
    :class:`~softjax.losses.BoundLoss` (records store its spec); ``data`` is the data
    fingerprint in the key (:func:`~softjax.sweeps.storage.config_key`, where the config
    is serialised). With ``grid["seed_pairing"] == "paired"`` a data seed's init seeds
    are its pair only.
    """
    points = []
    losses = list(enumerate(grid["losses"]))
    pairs = None
    if grid.get("seed_pairing", "product") == "paired":
        pairs = dict(zip(grid["data_seeds"], grid["seeds"], strict=True))
    # Each loss's user functions (its own, the factories) by what they compute.
    codes = [point_code(base_config.replace(loss=bound)) for _, bound in losses]
    for (index, bound), data_seed in itertools.product(losses, grid["data_seeds"]):
        seeds = grid["seeds"] if pairs is None else [pairs[data_seed]]
        lrs = loss_lrs(grid, index)
        for scale, lr, seed in itertools.product(grid["init_scales"], lrs, seeds):
            config = base_config.replace(loss=bound, lr=lr, init_scale=scale, seed=seed)
            points.append(
                {
                    "config": config,
                    "loss_name": bound.name,
                    "loss_index": index,
                    "data_seed": data_seed,
                    "code": codes[index],
                    "key": config_key(config, data_seed, data, codes[index]),
                }
            )
    return points
