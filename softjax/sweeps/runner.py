"""``sweep``: train a grid of configs as a few wide programs, records streamed to a file.

:func:`sweep` checks the grid (:mod:`softjax.sweeps.grid`), claims the sweep's file
(:mod:`softjax.sweeps.handshake`), trains the points not already there one data seed
at a time through one compiled program (:mod:`softjax.sweeps.core`), and appends each
group's records (:mod:`softjax.sweeps.storage`).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
from jax.sharding import Mesh

from softjax.compilation_cache import enable_compilation_cache
from softjax.config import TrainConfig, param_dtype
from softjax.data.fingerprint import data_fingerprint
from softjax.fingerprint import check_user_functions
from softjax.inputs import compact
from softjax.results import append_jsonl, check_name, provenance, results_dir
from softjax.sweeps import core, storage
from softjax.sweeps.core import default_mesh, device_order
from softjax.sweeps.grid import check_grid, grid_configs, jsonable_grid
from softjax.sweeps.handshake import claim
from softjax.sweeps.storage import make_records


def sweep(
    base_config: TrainConfig,
    data,
    *,
    losses: Sequence[Any],
    lrs: Sequence[float] | Sequence[Sequence[float]],
    init_scales: Sequence[float] = (1.0,),
    seeds: Sequence[int] = (0,),
    data_seeds: Sequence[int] | None = None,
    seed_pairing: str = "product",
    name: str | None = None,
    out_dir: str | Path | None = None,
    mesh: Mesh | None = None,
    progress: bool = True,
    return_params: bool = False,
    meta: dict[str, Any] | None = None,
    data_info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Trains every config of ``losses × lrs × init_scales × seeds × data_seeds`` (with
    ``seed_pairing="paired"``: ``× zip(seeds, data_seeds)``; with one lr grid per loss,
    each loss × its own lrs).

    One compiled program trains every loss's ``len(lrs)·len(init_scales)·len(seeds)``
    models (its own ``lrs`` when each loss has a grid) at once, in one block of models per
    loss, all sharing the minibatches (see :mod:`softjax.sweeps.core`); it is called once
    per data seed.

    The program is kept in JAX's persistent compilation cache (see
    :mod:`softjax.compilation_cache`).

    Several processes (after ``jax.distributed.initialize()`` in each, every process
    calling ``sweep`` with the same arguments): the models split over all processes'
    devices; process 0 alone takes the lock, reads and writes ``<name>.jsonl``; every
    process returns all records. They equal a one-process run's to float rounding (the
    narrower per-device matmul, see :mod:`softjax.sweeps.grid`); keys, divergence flags
    and epochs are equal.

    Args:
      base_config: the fields every run shares; its ``loss``, ``lr``, ``init_scale`` and
        ``seed`` are overridden. Its ``model`` may be a user model (an ``(init_fn,
        apply_fn)`` pair or a flax module, :mod:`softjax.user_models`).
      data: a ``Dataset``, or 4 or 6 arrays ``(x_train, y_train, [x_val, y_val,] x_test,
        y_test)``; its float dtype is the params' dtype.
      losses: loss specs (names, ``(name, {kwargs})`` pairs, functions, see
        :func:`softjax.losses.resolve_loss`); records carry the name and the spec.
      lrs, init_scales, seeds: the vmapped axes (seeds are init seeds); ``lrs`` is one
        grid for every loss or one per loss (a list of lists in ``losses`` order; see
        :mod:`softjax.sweeps.grid`).
      data_seeds: data-order seeds (a loop reusing the program); None: ``base_config.seed``.
      seed_pairing: ``"product"`` runs every init seed with every data seed;
        ``"paired"`` runs ``seeds[k]`` with ``data_seeds[k]`` only (equal lengths), e.g.
        replicate i = init seed i and data seed i. Its records and keys are those of one
        sweep per pair (see :mod:`softjax.sweeps.grid`), but the pairs share one
        compiled program (each data seed's block layout is the same).
      name: stream records to ``<out_dir>/<name>.jsonl`` under the lock
        ``<name>.lock`` and skip configs already there (see
        :mod:`softjax.sweeps.storage`). None keeps everything in memory.
      out_dir: the results folder; defaults to :func:`softjax.results.results_dir`.
      mesh: split the config axis over this mesh's devices (each process must hold the
        same number of them); None uses every device.
      progress: show a tqdm bar over configs.
      return_params: add each new record's final params (numpy) under ``"params"``.
      meta: extra fields for this run's provenance (e.g. the CLI's argv).
      data_info: what identifies the data beyond its arrays (dataset, source, subset);
        part of each record's ``data`` fingerprint and so of its resume key.

    Returns:
      One record per grid point in grid order (loss, data seed, init scale, lr,
      init seed): those already in the file as read back, and the new ones.

    Raises:
      ValueError: for a bad grid, seed pairing, config, data or name, before anything
        compiles.
      PermissionError: naming ``out_dir`` when it is not writable.
      SweepLocked: when another process is running this sweep on ``out_dir`` (raised by
        every process of a multi-process run).

    Warns:
      RuntimeWarning: naming each config that diverged.
    """
    if name is not None:
        check_name(name)  # before anything touches the disk
    if mesh is not None:
        device_order(mesh)  # raises for a mesh the processes hold unequally
    checked, grid = check_grid(
        base_config,
        data,
        losses=losses,
        lrs=lrs,
        init_scales=init_scales,
        seeds=seeds,
        data_seeds=data_seeds,
        seed_pairing=seed_pairing,
    )
    check_user_functions(base_config, checked, grid["losses"])
    fingerprint = data_fingerprint(data, data_info)
    points = grid_configs(base_config, grid, fingerprint)
    path = None
    if name is not None:
        folder = Path(out_dir) if out_dir is not None else results_dir()
        path = folder / f"{name}.jsonl"
    first = jax.process_index() == 0
    with contextlib.ExitStack() as held:
        done, run_id = claim(held, path)
        todo = [p for p in points if p["key"] not in done]
        storage.reuse_message(path, len(points) - len(todo), len(points))
        new = {}
        if todo:
            new = _train(
                base_config,
                grid,
                checked,
                todo,
                mesh,
                progress and first,
                return_params,
                fingerprint,
                path if first else None,
                run_id,
                dict(meta or {}, n_configs=len(points), n_to_run=len(todo)),
            )
    records = [new.get(p["key"]) or done[p["key"]] for p in points]
    _warn_divergence(records)
    return records


def _train(
    base_config, grid, data, todo, mesh, progress, return_params, fingerprint, path, run_id, meta
):
    """Runs the ``todo`` points group by group; appends each group to ``path`` (if any)."""
    enable_compilation_cache()  # a rerun, another grid's values, or a CLI loads it
    dtype = param_dtype(data.x_train)
    mesh = default_mesh() if mesh is None else mesh
    if path is not None:
        storage.write_meta(
            path.with_name(path.name.removesuffix(".jsonl") + ".meta.json"),
            provenance(
                base_config,
                run_id=run_id,
                grid=jsonable_grid(grid),
                seeds={
                    "init": grid["seeds"],
                    "data": grid["data_seeds"],
                    "pairing": grid["seed_pairing"],
                },
                data=fingerprint,
                mesh_devices=1 if mesh is None else mesh.size,
                processes=jax.process_count(),
                **meta,
            ),
        )
    # Each device runs the one-device program on its own copy (core.per_device).
    device_data = jax.device_put(tuple(compact(data, shuffled=base_config.shuffle)))
    program = core.shared_program(base_config, grid["losses"], dtype, mesh)
    new: dict[str, dict[str, Any]] = {}
    bar = _bar(len(todo), progress)
    try:
        groups: dict[int, list] = {}
        for p in todo:
            groups.setdefault(p["data_seed"], []).append(p)
        for data_seed, group in groups.items():
            if bar is not None:
                bar.set_description(f"data_seed={data_seed}")
            start = time.perf_counter()
            params, history, finite = core.run_group(
                program, group, device_data, mesh, dtype, data_seed
            )
            records = make_records(group, history, finite, run_id, fingerprint)
            seconds = time.perf_counter() - start
            for r in records:
                r["group_seconds"] = seconds
            if path is not None:
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
    return new


def _warn_divergence(records, shown: int = 10) -> None:
    diverged = [r for r in records if r["diverged"]]
    if not diverged:
        return
    names = [
        f"{r['loss']} lr={r['lr']:g} init_scale={r['init_scale']:g} seed={r['seed']} "
        f"data_seed={r['data_seed']} (epoch {r['diverged_epoch']})"
        for r in diverged
    ]
    more = f"; and {len(names) - shown} more" if len(names) > shown else ""
    warnings.warn(
        f"sweep: {len(diverged)} of {len(records)} configs diverged (non-finite loss or "
        "update; their params froze and their history stops there): "
        + "; ".join(names[:shown])
        + more,
        RuntimeWarning,
        stacklevel=3,
    )


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="config", desc="sweep")
