"""Train a grid of configs as a few wide programs: ``vmap`` over models that share batches.

A sweep is the product ``losses × lrs × init_scales × seeds × data_seeds`` over one base
:class:`~softjax.training.TrainConfig`. Its axes are run in three different ways:

* **Numeric axes are vmapped.** lr, init scale and init seed change only array *values*,
  so every model of one loss and one data order runs in one program::

      train_fn = make_train(config)                       # one model, pure
      sweep_fn = jax.vmap(train_fn, in_axes=(0, 0, None, None))
      sweep_fn(params_stack, lr_stack, data_key, data)    # M models at once

  ``data_key`` and ``data`` are *not* batched: the epoch's permutation is computed once
  and every model trains on the same minibatches. A minibatch is then one row gather
  ``x[idx]`` of shape (B, D) and the M models' forward pass is one wide matmul
  ``(B, D) @ (D, M·K)``, not M small ones. (``make_train`` is built with
  ``skip_after_divergence=False``: its divergence ``lax.cond``, under ``vmap``, would
  broadcast the data to every model.) ``tests/test_sweeping.py`` checks the jaxpr: no
  gather has the model axis.
* **Loss names are static; one program holds them all.** The losses of the grid are the
  branches of one ``lax.switch`` whose index is an *unbatched* argument, so a call runs
  only its own loss's branch, and one compile serves every loss and data seed. Measured
  on MNIST (batch 64, 1 epoch, 20 models per loss, 5 losses; the shared 2-core CPU at load
  ≈ 2, jax 0.10.2; ``.lower().compile()`` then one call, timed apart), seconds::

      train rows                          60 000              6 000
                                     compile   run      compile   run
      one program per loss (5 jits)     7.5     4.2        7.9     0.8
      one lax.switch program            3.8     4.1        3.9     0.7
      vmapped loss index (a select)    out of memory      15.6 in all (switch: 5.5)

  Five separate programs pay XLA's fixed compile cost five times; the switch compiles
  the five branches together in about half the time and runs them as fast (bitwise the
  same params). A *batched* loss index turns the switch into a select that runs every
  loss for every model and broadcasts the data to every model (18 GB for 100 models on
  MNIST). So: one ``lax.switch`` program, called once per (loss, data seed).
  A re-measurement (6 000 rows, 20 models per loss; absolute times differ from the
  table's) agrees on compile but not quite on run: the switch compiled in 11.8 s and ran
  in 1.5 s, five separate programs compiled in 30.9 s and ran in 1.2 s, final params
  bitwise equal. The 19 s saved compiling outweighs the 0.3 s lost running.
* **Data-order seeds are a Python loop.** A different permutation is a different
  ``data_key`` input to the same compiled program, not a per-model copy of the data:
  the compiled program is reused across data seeds.

Seeds. A record with init seed ``s`` and data seed ``d`` starts from
``init_params(config, split(PRNGKey(s))[0], init_scale)`` and draws its minibatches from
``split(PRNGKey(d))[1]``, exactly as :func:`softjax.training.train` splits one seed. With
``s == d`` the record *is* ``train(config.replace(seed=s, lr=…, init_scale=…))``; with
``s != d`` it is ``train(config.replace(seed=d, …), params=init_params(…, key of s, …))``.
``data_seeds=None`` uses one data order, ``base_config.seed``.

Several devices. When ``jax.devices()`` holds more than one device (or a ``mesh`` is
given) the config axis is sharded over them: the per-model inputs (init keys, init
scales, lrs) and every output carry ``NamedSharding(mesh, P("configs"))``, the data and
``data_key`` are replicated. The program is a ``shard_map``: each device runs the
one-device program on its own block of models, nothing is communicated. The config axis
is padded to a multiple of the device count (at least two models per device) with copies
of its last config, and the padding is dropped afterwards. The models are independent,
so the result is the one-device result up to float rounding, not bitwise: XLA's CPU
matmul may round a model's columns differently when the matrix is narrower. Measured, 8
devices against 1: float32 params differ by about 1e-7 relative (≤ 1.2e-7 after 2 epochs
at lr ≤ 0.5; identical for some losses and widths), float64 by ≤ 2.2e-16 relative (one
ulp); a chaotic lr amplifies either. ``tests/test_sweeping.py`` runs 8 fake CPU devices
(``shard_map``, three losses) against the plain one-device ``jit``, in float64, and
requires agreement to 1e-10.

Multi-host clusters. Run the same script on every host, and call
``jax.distributed.initialize()`` first (before anything else touches JAX; on SLURM or
TPU pods it reads its coordinates from the environment). ``jax.devices()`` then spans
every host, the default mesh spans them all, and each host computes the models on its
own devices. Every host must pass the same grid and the same data (the data is
replicated; the per-model inputs are small host arrays, identical on every host, that
``jit`` shards). The outputs are gathered to every host with
``jax.experimental.multihost_utils.process_allgather``, and only process 0
(``jax.process_index() == 0``) writes the results files. Resume reads the same file on
every host, so the results folder must be shared (or copied) across hosts. (This path is
written to the JAX multi-controller API but has only been run single-host.)

Results stream to ``<out_dir>/<name>.jsonl``, one line per finished config, appended
atomically (:func:`softjax.results.append_jsonl`) after each (loss, data seed) group.
Each line holds the full config (``TrainConfig.to_dict()`` with the loss, lr, init scale
and init seed filled in), ``data_seed``, ``diverged``/``diverged_epoch``, the per-epoch
history, ``data`` (:func:`data_fingerprint`: row counts, dtype, a hash of the labels and
a strided sample of the inputs, plus the caller's ``data_info`` such as dataset, source
and subset), a stable ``key`` (sha256 of the config, data seed and ``data``) and a
``run_id``.
Provenance lives once per invocation in the sidecar ``<name>.meta.json``: its ``runs``
list holds one :func:`softjax.results.provenance` record per ``run_id`` (a resumed sweep
adds one, so lines written by different commits stay attributable). Re-running an
interrupted sweep skips every config whose key is already in the file; the same config
on other data (another subset, source or order) has another key and runs again. Temp
files a SIGKILL left beside the results (``.<name>.jsonl.*.tmp``) are deleted at start.
The file keeps the lines of every grid run under its name: :func:`select_grid` (and
``summarize(records, grid)``) picks one grid's lines back out.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from softjax.losses import LOSS_NAMES
from softjax.results import (
    append_jsonl,
    provenance,
    read_json,
    read_jsonl,
    remove_stale_temp_files,
    results_dir,
    to_jsonable,
)
from softjax.results import write_json as _write_json
from softjax.training import (
    HISTORY_KEYS,
    TrainConfig,
    cut_history,
    init_params,
    make_train,
    param_dtype,
    seed_keys,
    validate,
)

CONFIG_AXIS = "configs"


# ------------------------------------------------------------------------------ seeds


def init_key(seed: int):
    """The init key of seed ``seed``: ``split(PRNGKey(seed))[0]``, as ``train()`` uses."""
    return seed_keys(seed)[0]


def data_key(seed: int):
    """The data-order key of seed ``seed``: ``split(PRNGKey(seed))[1]``, as ``train()``."""
    return seed_keys(seed)[1]


# ------------------------------------------------------------------- the pure program


def make_sweep(config: TrainConfig):
    """``sweep_fn(params_stack, lr_stack, data_key, data) -> (params, history, finite)``.

    ``jax.vmap`` of :func:`softjax.training.make_train` over its first two arguments: the
    params pytree and the lr carry a leading model axis M, ``data_key`` and ``data`` are
    shared, so every model trains on the same minibatches in one wide program. Outputs
    have the leading axis M: ``history[key]`` is (M, epochs), ``finite`` is (M,). Each
    model freezes its own params when it diverges; the others go on. Pure: ``jit`` it.
    """
    train_fn = make_train(config, skip_after_divergence=False)
    return jax.vmap(train_fn, in_axes=(0, 0, None, None))


def init_stack(config: TrainConfig, init_keys, init_scales, dtype=jnp.float32):
    """The params of M models, ``init_params(config, init_keys[i], init_scales[i])``."""
    return jax.vmap(lambda k, s: init_params(config, k, s, dtype=dtype))(init_keys, init_scales)


def _program(base_config: TrainConfig, losses: Sequence[str], dtype, mesh: Mesh | None):
    """``jit(program)(loss_index, init_keys, init_scales, lrs, data_key, data)``.

    One compiled program for all ``losses``: ``lax.switch`` on the unbatched
    ``loss_index`` picks the loss's :func:`make_sweep` branch (init included). Sharded
    over ``mesh``'s devices when given: per-model inputs and all outputs split along the
    config axis, the rest replicated.
    """
    branches = []
    for loss in losses:
        sweep_fn = make_sweep(base_config.replace(loss=loss))
        config = base_config.replace(loss=loss)

        def branch(init_keys, init_scales, lrs, data_key, data, sweep_fn=sweep_fn, config=config):
            params = init_stack(config, init_keys, init_scales, dtype)
            return sweep_fn(params, lrs, data_key, data)

        branches.append(branch)

    def program(loss_index, init_keys, init_scales, lrs, data_key, data):
        return lax.switch(loss_index, branches, init_keys, init_scales, lrs, data_key, data)

    if mesh is None:
        return jax.jit(program)
    # shard_map, not jit with shardings alone: each device runs exactly the one-device
    # program on its own block of models, so no partitioner choice can change the maths.
    per_config, replicated = P(tuple(mesh.axis_names)), P()
    return jax.jit(
        jax.shard_map(
            program,
            mesh=mesh,
            in_specs=(replicated, per_config, per_config, per_config, replicated, replicated),
            out_specs=per_config,
            # train_fn's scan carries start replicated (a step count, a flag) and become
            # per-model; the per-device program is plain vmapped code, so skip the check.
            check_vma=False,
        )
    )


def default_mesh() -> Mesh | None:
    """A 1-D mesh named ``"configs"`` over all devices, or None with a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    return Mesh(np.array(devices), (CONFIG_AXIS,))


# --------------------------------------------------------------------------- the grid


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
    dupes = sorted({repr(v) for v in out if out.count(v) > 1})
    if dupes:
        raise ValueError(
            f"{name}: duplicate values {', '.join(dupes)} would give duplicate configs; "
            f"got {values!r}"
        )
    return out


def _positive_float(v):
    if isinstance(v, bool) or not isinstance(v, int | float | np.number):
        return False, None
    v = float(v)
    return math.isfinite(v) and v > 0, v


def _seed(v):
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
        return False, None
    return True, int(v)


def _loss(v):
    return isinstance(v, str) and v in LOSS_NAMES, v


def check_grid(base_config, data, *, losses, lrs, init_scales, seeds, data_seeds=None):
    """Validates a sweep grid in plain Python, before anything compiles.

    Returns:
      ``(data, grid)`` with the validated ``Data`` and ``grid`` a dict of plain lists
      (``losses``, ``lrs``, ``init_scales``, ``seeds``, ``data_seeds``).

    Raises:
      ValueError: naming the axis for an empty axis, a non-positive or non-finite lr or
        init scale, a negative or non-integer seed, an unknown loss, or a duplicate
        value (which would give duplicate configs); or whatever
        :func:`softjax.training.validate` finds wrong with the base config and data.
    """
    if not isinstance(base_config, TrainConfig):
        raise ValueError(f"base_config: expected a TrainConfig, got {type(base_config).__name__}")
    grid = {
        "losses": _check_axis(losses, "losses", _loss, f"loss names from {LOSS_NAMES}"),
        "lrs": _check_axis(lrs, "lrs", _positive_float, "finite learning rates > 0"),
        "init_scales": _check_axis(
            init_scales, "init_scales", _positive_float, "finite init scales > 0"
        ),
        "seeds": _check_axis(seeds, "seeds", _seed, "int seeds ≥ 0"),
        "data_seeds": _check_axis(
            [base_config.seed] if data_seeds is None else data_seeds,
            "data_seeds",
            _seed,
            "int seeds ≥ 0",
        ),
    }
    checked = None
    for loss in grid["losses"]:
        # Each loss checks the labels its own way (e.g. K = 1 rules).
        checked = validate(
            base_config.replace(loss=loss, lr=grid["lrs"][0], init_scale=grid["init_scales"][0]),
            data,
        )
    return checked, grid


FINGERPRINT_ROWS = 256
"""Rows of ``x_train``/``x_test`` hashed (evenly strided) by :func:`data_fingerprint`."""


def _digest(h, name: str, a) -> None:
    a = np.ascontiguousarray(np.asarray(a))
    h.update(f"{name}:{a.dtype.str}:{a.shape}:".encode())
    h.update(a.tobytes())


def data_fingerprint(data, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """What identifies the training data of a sweep, cheaply: shapes, dtypes and a hash.

    The hash (sha256, 16 hex digits) covers every label of ``y_train``/``y_test`` (so a
    different subset or row order changes it) and ``FINGERPRINT_ROWS`` evenly strided rows
    of ``x_train``/``x_test`` (hashing all of MNIST's pixels would cost more than it
    protects). ``info`` adds what the arrays cannot say (dataset name, source, subset
    size) and is stored as given.

    Returns:
      ``{"n_train", "n_test", "x_dtype", "sha256", **info}``, JSON-ready.
    """
    x_train, y_train, x_test, y_test = tuple(data)
    h = hashlib.sha256()
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        step = max(1, len(x) // FINGERPRINT_ROWS)
        _digest(h, name, np.asarray(x[::step]))
        h.update(f"{name}.shape:{tuple(np.shape(x))}".encode())
    _digest(h, "y_train", y_train)
    _digest(h, "y_test", y_test)
    return {
        "n_train": int(len(x_train)),
        "n_test": int(len(x_test)),
        "x_dtype": np.dtype(np.asarray(x_train[:1]).dtype).name,
        "sha256": h.hexdigest()[:16],
        **(info or {}),
    }


def config_key(config: dict[str, Any], data_seed: int, data: dict[str, Any] | None = None) -> str:
    """A stable key over a record's config, data seed and data: sha256 of sorted JSON.

    ``data`` is the :func:`data_fingerprint`, so a resumed sweep on other data (another
    subset, source or order) reruns instead of reusing. ``data=None`` gives the key of
    files written before the fingerprint existed (config and data seed only).
    """
    fields = {"config": config, "data_seed": data_seed}
    if data is not None:
        fields["data"] = data
    text = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def grid_configs(
    base_config: TrainConfig, grid: dict[str, list], data: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every point of the grid as ``{"config", "data_seed", "key"}``, in run order.

    Run order: loss (a branch of the one program), then data seed (one call each), then the
    vmapped axes init scale × lr × init seed. ``data`` is the data fingerprint in the key.
    """
    points = []
    for loss, data_seed in itertools.product(grid["losses"], grid["data_seeds"]):
        for scale, lr, seed in itertools.product(grid["init_scales"], grid["lrs"], grid["seeds"]):
            config = base_config.replace(loss=loss, lr=lr, init_scale=scale, seed=seed).to_dict()
            points.append(
                {
                    "config": config,
                    "data_seed": data_seed,
                    "key": config_key(config, data_seed, data),
                }
            )
    return points


_PER_POINT = ("loss", "lr", "init_scale", "seed")


def select_grid(records: Sequence[dict[str, Any]], grid: dict[str, Any]) -> list[dict[str, Any]]:
    """The records that belong to ``grid``; a JSONL file may also hold older grids' lines.

    Matches on the records' own stored fields, not on recomputed keys, so files written
    before a ``TrainConfig`` field was added still select: the loss, lr, init scale, init
    seed and data seed must be on the grid's axes, the rest of the config must equal
    ``grid["base_config"]`` (when given) and the record's ``data`` fingerprint must equal
    ``grid.get("data")`` (both None for files without one). Later duplicates of a key are
    dropped.
    """
    axes = {
        "loss": grid["losses"],
        "lr": grid["lrs"],
        "init_scale": grid["init_scales"],
        "seed": grid["seeds"],
        "data_seed": grid["data_seeds"],
    }
    # JSON form on both sides: a config read back has lists where to_dict() has tuples.
    base = to_jsonable(grid.get("base_config"))
    base = None if base is None else {k: v for k, v in base.items() if k not in _PER_POINT}
    data = to_jsonable(grid.get("data"))
    out, seen = [], set()
    for r in records:
        if any(r.get(k) not in values for k, values in axes.items()):
            continue
        if base is not None:
            config = to_jsonable(r.get("config", {}))
            if {k: v for k, v in config.items() if k not in _PER_POINT} != base:
                continue
        if to_jsonable(r.get("data")) != data or r.get("key") in seen:
            continue
        seen.add(r.get("key"))
        out.append(r)
    return out


# --------------------------------------------------------------------------- running


def _fetch(tree):
    """Device arrays to numpy on every host (gathering across hosts when there are many)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def _record(point, history_row, finite: bool, run_id: str, data=None) -> dict[str, Any]:
    """One JSONL line; the history is cut at divergence exactly as ``train()`` cuts it."""
    config = point["config"]
    history, diverged_epoch = cut_history({k: history_row[k] for k in HISTORY_KEYS}, finite)
    return {
        "key": point["key"],
        "loss": config["loss"],
        "lr": config["lr"],
        "init_scale": config["init_scale"],
        "seed": config["seed"],
        "data_seed": point["data_seed"],
        "data": data,
        "config": config,
        "diverged": not finite,
        "diverged_epoch": diverged_epoch,
        "history": {k: v.tolist() for k, v in history.items()},
        "run_id": run_id,
    }


MIN_MODELS_PER_DEVICE = 2
"""Each device trains at least this many models (padding if needed): with one model XLA
drops the size-1 model axis and takes a different code path, so that one model would
round differently from its copy in a wide run."""


def padded_size(n: int, n_devices: int) -> int:
    """The config axis length: a multiple of ``n_devices``, ≥ MIN_MODELS_PER_DEVICE each."""
    per_device = max(MIN_MODELS_PER_DEVICE, -(-n // n_devices))
    return per_device * n_devices


def run_group(
    program,
    loss_index: int,
    points,
    data,
    mesh,
    dtype,
    data_seed: int,
    run_id: str,
    fingerprint: dict[str, Any] | None = None,
):
    """Runs one (loss, data seed) group of points through its compiled program.

    Returns:
      ``(records, params)`` with ``params`` the stacked final params (leading axis =
      ``len(points)``) as numpy arrays.
    """
    n = len(points)
    n_padded = padded_size(n, mesh.size if mesh is not None else 1)
    padded = points + [points[-1]] * (n_padded - n)
    seeds = [p["config"]["seed"] for p in padded]
    keys = {s: np.asarray(init_key(s)) for s in set(seeds)}
    init_keys = np.stack([keys[s] for s in seeds])
    scales = np.array([p["config"]["init_scale"] for p in padded], dtype)
    lrs = np.array([p["config"]["lr"] for p in padded], dtype)
    out = program(np.int32(loss_index), init_keys, scales, lrs, data_key(data_seed), data)
    params, history, finite = _fetch(jax.block_until_ready(out))
    params = jax.tree.map(lambda a: np.asarray(a)[:n], params)
    finite = np.asarray(finite)[:n]
    history = {k: np.asarray(v)[:n] for k, v in history.items()}
    records = [
        _record(p, {k: v[i] for k, v in history.items()}, bool(finite[i]), run_id, fingerprint)
        for i, p in enumerate(points)
    ]
    return records, params


def _write_meta(path: Path, run: dict[str, Any]) -> None:
    meta = read_json(path) if path.exists() else {"runs": []}
    meta["runs"].append(run)
    _write_json(path, meta)


def sweep(
    base_config: TrainConfig,
    data,
    *,
    losses: Sequence[str] = LOSS_NAMES,
    lrs: Sequence[float],
    init_scales: Sequence[float] = (1.0,),
    seeds: Sequence[int] = (0,),
    data_seeds: Sequence[int] | None = None,
    name: str | None = None,
    out_dir: str | Path | None = None,
    mesh: Mesh | None = None,
    progress: bool = True,
    return_params: bool = False,
    meta: dict[str, Any] | None = None,
    data_info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Trains every config of ``losses × lrs × init_scales × seeds × data_seeds``.

    One compiled program (a ``lax.switch`` over the losses) trains
    ``len(lrs)·len(init_scales)·len(seeds)`` models that share minibatches per call; it
    is called once per (loss, data seed). See the module
    docstring for the layout, sharding and the seed convention.

    Args:
      base_config: the fields every run shares (sizes, init, optimizer, batch size,
        epochs, …). Its ``loss``, ``lr``, ``init_scale`` and ``seed`` are overridden.
      data: a ``softjax.data.Dataset`` or ``(x_train, y_train, x_test, y_test)``; its
        float dtype is the params' dtype (float64 under ``jax.enable_x64(True)``).
      losses: loss names (one compiled program each).
      lrs: learning rates (vmapped).
      init_scales: multipliers of the initial params (vmapped).
      seeds: init seeds (vmapped).
      data_seeds: data-order seeds (a Python loop reusing each program); None uses
        ``base_config.seed``.
      name: stream records to ``<out_dir>/<name>.jsonl`` (provenance in
        ``<name>.meta.json``) and skip configs already there. None keeps everything in
        memory.
      out_dir: the results folder; defaults to :func:`softjax.results.results_dir`.
      mesh: shard the config axis over this mesh's devices; None uses every device
        (no sharding when there is only one).
      progress: show a tqdm bar over configs.
      return_params: add each new record's final params (numpy pytree) under
        ``"params"`` (never written to the file).
      meta: extra fields for this run's provenance (e.g. the CLI's argv).
      data_info: what identifies the data beyond its arrays (e.g. ``{"dataset": "mnist",
        "source": "tfds", "train_subset": 640}``); goes into each record's ``data``
        fingerprint (:func:`data_fingerprint`) and so into its resume key.

    Returns:
      One record per grid point in run order (loss, data seed, init scale, lr, init
      seed): those already in the file as read back, and the new ones.

    Raises:
      ValueError: for a bad grid, config or data, before anything compiles (see
        :func:`check_grid`).
    """
    data, grid = check_grid(
        base_config,
        data,
        losses=losses,
        lrs=lrs,
        init_scales=init_scales,
        seeds=seeds,
        data_seeds=data_seeds,
    )
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ValueError(f"name: expected a file stem without '/', got {name!r}")
    fingerprint = data_fingerprint(data, data_info)
    points = grid_configs(base_config, grid, fingerprint)

    path = meta_path = None
    done: dict[str, dict[str, Any]] = {}
    if name is not None:
        folder = Path(out_dir) if out_dir is not None else results_dir()
        path, meta_path = folder / f"{name}.jsonl", folder / f"{name}.meta.json"
        if jax.process_index() == 0:
            # A SIGKILL between a temp write and its rename leaves the temp file behind.
            for stale in (path, meta_path):
                remove_stale_temp_files(stale)
        done = {r["key"]: r for r in read_jsonl(path)}
    todo = [p for p in points if p["key"] not in done]
    new: dict[str, dict[str, Any]] = {}

    if todo:
        dtype = param_dtype(data.x_train)
        mesh = default_mesh() if mesh is None else mesh
        run_id = uuid.uuid4().hex[:12]
        writer = name is not None and jax.process_index() == 0
        if writer:
            _write_meta(
                meta_path,
                provenance(
                    base_config.to_dict(),
                    run_id=run_id,
                    grid=grid,
                    seeds={"init": grid["seeds"], "data": grid["data_seeds"]},
                    n_configs=len(points),
                    n_to_run=len(todo),
                    data=fingerprint,
                    mesh_devices=1 if mesh is None else mesh.size,
                    **(meta or {}),
                ),
            )
        replicated = NamedSharding(mesh, P()) if mesh is not None else None
        device_data = jax.device_put(tuple(data), replicated)
        bar = _bar(len(todo), progress)
        try:
            program = _program(base_config, grid["losses"], dtype, mesh)
            for loss_index, loss in enumerate(grid["losses"]):
                loss_todo = [p for p in todo if p["config"]["loss"] == loss]
                if not loss_todo:
                    continue
                for data_seed in grid["data_seeds"]:
                    group = [p for p in loss_todo if p["data_seed"] == data_seed]
                    if not group:
                        continue
                    if bar is not None:
                        bar.set_description(f"{loss} data_seed={data_seed}")
                    start = time.perf_counter()
                    records, params = run_group(
                        program,
                        loss_index,
                        group,
                        device_data,
                        mesh,
                        dtype,
                        data_seed,
                        run_id,
                        fingerprint,
                    )
                    seconds = time.perf_counter() - start
                    for r in records:
                        r["group_seconds"] = seconds
                    if writer:
                        append_jsonl(path, records)
                    for i, r in enumerate(records):
                        if return_params:
                            r["params"] = jax.tree.map(lambda a, i=i: a[i], params)
                        new[r["key"]] = r
                    if bar is not None:
                        bar.update(len(records))
        finally:
            if bar is not None:
                bar.close()
    return [new.get(p["key"]) or done[p["key"]] for p in points]


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="config", desc="sweep")


# ------------------------------------------------------------------------ summaries


def summarize(
    records: Sequence[dict[str, Any]], grid: dict[str, Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Means and standard deviations over seeds, per (loss, init scale, lr) cell.

    ``grid`` (the sweep's axes, optionally ``base_config`` and ``data``) keeps only the
    records of that grid (:func:`select_grid`): a JSONL file appended to by several
    grids under one name holds all their lines, and mixing them would average runs of
    other configs or data into a cell.

    Diverged runs are counted (``n_diverged``) and left out of the statistics, since their
    histories stop early. For each history key, ``mean[key]`` and ``std[key]`` are
    per-epoch lists over the cell's finite runs (population std, ``ddof=0``; None where
    no run is left). ``best`` lists, per (loss, init scale), the lr with the highest mean
    final test accuracy among the cells none of whose runs diverged (None if every lr had
    a divergence).

    Returns:
      ``{"cells": [...], "best": [...]}``, JSON-ready.

    Raises:
      ValueError: when a cell's finite runs have histories of different lengths (runs
        with different epochs mixed in one cell), naming the cell.
    """
    if grid is not None:
        records = select_grid(records, grid)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["loss"], r["init_scale"], r["lr"]), []).append(r)
    cells = []
    for (loss, scale, lr), runs in groups.items():
        finite = [r for r in runs if not r["diverged"]]
        cell = {
            "loss": loss,
            "init_scale": scale,
            "lr": lr,
            "n": len(runs),
            "n_diverged": len(runs) - len(finite),
            "mean": {},
            "std": {},
        }
        for key in HISTORY_KEYS:
            if finite:
                lengths = sorted({len(r["history"][key]) for r in finite})
                if len(lengths) > 1:
                    raise ValueError(
                        f"records: cell loss={loss} init_scale={scale} lr={lr} mixes "
                        f"histories of lengths {lengths} in {key!r}; expected one length "
                        "(records of different grids? pass grid= to keep one)"
                    )
                values = np.array([r["history"][key] for r in finite], dtype=float)
                cell["mean"][key] = values.mean(axis=0).tolist()
                cell["std"][key] = values.std(axis=0).tolist()
            else:
                cell["mean"][key] = cell["std"][key] = None
        acc = cell["mean"]["test_accuracy"]
        cell["final_test_accuracy"] = acc[-1] if acc else None
        cell["final_test_accuracy_std"] = cell["std"]["test_accuracy"][-1] if acc else None
        cells.append(cell)
    best = []
    for loss, scale in dict.fromkeys((c["loss"], c["init_scale"]) for c in cells):
        ok = [
            c
            for c in cells
            if c["loss"] == loss and c["init_scale"] == scale and c["n_diverged"] == 0
        ]
        top = max(ok, key=lambda c: c["final_test_accuracy"], default=None)
        best.append(
            {
                "loss": loss,
                "init_scale": scale,
                "lr": top and top["lr"],
                "final_test_accuracy": top and top["final_test_accuracy"],
                "final_test_accuracy_std": top and top["final_test_accuracy_std"],
            }
        )
    return {"cells": cells, "best": best}
