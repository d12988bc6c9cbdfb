"""Where a sweep's records live: keys, data fingerprints, the JSONL stream, the lock.

Records stream to ``<out>/<name>.jsonl``, one line per finished config, appended after
each data seed's group, every loss's models of one program call
(:func:`softjax.results.append_jsonl`: one ``O_APPEND`` write of whole lines, fsynced;
the file is never rewritten). Each line holds the full config (``loss`` = the loss's
spec), ``loss`` (its name), ``loss_spec``, ``data_seed``, ``diverged``/``diverged_epoch``,
the per-epoch history (every key the program returned), ``data``
(:func:`softjax.data.fingerprint.data_fingerprint`), ``code`` (what the user's functions
compute, :func:`softjax.fingerprint.point_code`; None for names only), a stable ``key``
(sha256 of config, data seed, data and code) and a ``run_id``. Provenance lives once per
invocation in ``<name>.meta.json``. Re-running skips every key already in the file, and
says so ("reused k of n records from <path>"); the same config on other data, or with a
function that computes something else under the same name, has another key and runs
again. :func:`select_grid` picks one grid's lines back out of a file that several grids
appended to. A resumed config trains in a narrower group than it would have
uninterrupted (only the missing configs run), so its numbers equal an uninterrupted run's
up to float rounding (~1e-7 relative in float32; see :mod:`softjax.sweeps.grid`), not
bitwise.

One writer per name. :func:`sweep_lock` takes :func:`softjax.results.hold_lock` (the one
lock rule, which checkpoint folders use too) on ``<out>/<name>.lock``
(non-blocking) for the whole run: a second run on the same folder and name fails at once
with :class:`SweepLocked`, naming the folder and the holder's pid, before it reads,
writes or deletes anything. Only the lock holder removes stale temp files (what a kill
between a temp write and its rename leaves), so a starting run never deletes a live
run's temps. ``flock`` needs a local or flock-aware shared file system.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from softjax.history import cut_history
from softjax.results import (
    FolderLocked,
    check_name,
    check_writable,
    hold_lock,
    read_json,
    temp_files,
    to_jsonable,
    write_json,
)


class SweepLocked(FolderLocked):
    """Another live process holds this sweep's lock."""


def config_key(
    config: dict[str, Any],
    data_seed: int,
    data: dict[str, Any] | None = None,
    code: str | None = None,
) -> str:
    """A stable key over a record's config, data seed, data and user functions: sha256
    of sorted JSON.

    ``data=None`` gives the key of files written before the fingerprint existed;
    ``code`` (:func:`softjax.fingerprint.point_code`) identifies the user's functions by
    what they compute, None for a config of names only (whose keys stay as they were).
    """
    fields = {"config": to_jsonable(config), "data_seed": data_seed}
    if data is not None:
        fields["data"] = data
    if code is not None:
        fields["code"] = code
    text = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def make_records(points, history, finite, run_id: str, fingerprint=None) -> list[dict]:
    """One JSONL record per point from a group's arrays (``history[key]`` is (n, epochs),
    or (n, epochs, L) for the per-layer keys: lists of lists); each history is cut at
    divergence exactly as ``train()`` cuts it."""
    records = []
    for i, point in enumerate(points):
        config = to_jsonable(point["config"])  # a TrainConfig: serialised here, once
        row, diverged_epoch = cut_history({k: v[i] for k, v in history.items()}, bool(finite[i]))
        records.append(
            {
                "key": point["key"],
                "loss": point.get("loss_name", config["loss"]),
                "loss_spec": config["loss"],
                "lr": config["lr"],
                "init_scale": config["init_scale"],
                "seed": config["seed"],
                "data_seed": point["data_seed"],
                "data": fingerprint,
                "code": point.get("code"),
                "config": config,
                "diverged": not bool(finite[i]),
                "diverged_epoch": diverged_epoch,
                "history": {k: np.asarray(v).tolist() for k, v in row.items()},
                "run_id": run_id,
            }
        )
    return records


_PER_POINT = ("loss", "lr", "init_scale", "seed")


def _spec(value):
    return json.dumps(to_jsonable(value), sort_keys=True)


def select_grid(records: Sequence[dict[str, Any]], grid: dict[str, Any]) -> list[dict[str, Any]]:
    """The records that belong to ``grid``; a JSONL file may also hold older grids' lines.

    Matches on the records' own stored fields, not on recomputed keys, so files written
    before a ``TrainConfig`` field was added still select: the loss spec, lr, init scale,
    init seed and data seed must be on the grid's axes, the rest of the config must equal
    ``grid["base_config"]`` (when given) and the record's ``data`` fingerprint must equal
    ``grid.get("data")`` (both None for files without one). Later duplicates of a key are
    dropped.
    """
    specs = [_spec(getattr(s, "spec", s)) for s in grid["losses"]]
    losses = set(specs)
    lrs = grid["lrs"]
    per_loss = dict(zip(specs, lrs, strict=True)) if grid.get("lrs_per_loss") else None
    axes = {
        "lr": [lr for grid_lrs in lrs for lr in grid_lrs] if per_loss else lrs,
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
        if _spec(r.get("loss_spec", r.get("loss"))) not in losses:
            continue
        if any(r.get(k) not in values for k, values in axes.items()):
            continue
        if per_loss and r.get("lr") not in per_loss[_spec(r.get("loss_spec", r.get("loss")))]:
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


def stale_temp_files(folder: Path, name: str) -> list[Path]:
    """The temp files a killed run of ``name`` can leave: of its JSONL, meta, summary
    JSON/Markdown and figures (``.<name>.jsonl.*.tmp``, ``.<name>_curves.png.*.tmp``…)."""
    found = []
    for suffix in (".jsonl", ".meta.json", ".json", ".md"):
        found += temp_files(folder / f"{name}{suffix}")
    found += sorted(folder.glob(f".{glob.escape(name)}_*.png.*.tmp"))
    return found


@contextlib.contextmanager
def sweep_lock(folder: str | os.PathLike, name: str) -> Iterator[Path]:
    """Holds ``<folder>/<name>.lock`` for the block (:func:`softjax.results.hold_lock`);
    re-entrant within one process.

    On entry (first level) stale temp files of ``name`` are removed: the lock proves no
    other run of ``name`` is writing them.

    Raises:
      ValueError: naming ``name`` for a name that is not a plain file name (``../x``),
        before anything touches the disk.
      SweepLocked: at once (no waiting) when another process holds the lock, naming the
        folder, the name and the holder's pid.
      PermissionError: naming the folder when it is not writable.
    """
    check_name(name)
    folder = check_writable(folder)
    path = folder / f"{name}.lock"
    busy = f"out folder {folder}: sweep {name!r} is already running there"
    with hold_lock(path, busy, SweepLocked) as outermost:
        if outermost:
            for stale in stale_temp_files(folder, name):
                stale.unlink(missing_ok=True)
        yield path.resolve()


def reuse_message(path, reused: int, total: int) -> None:
    """Says how much of a sweep came from its file: ``reused k of n records from <path>``
    (a ``UserWarning``, so that a resumed result is never mistaken for a fresh run)."""
    if path is not None and reused:
        warnings.warn(
            f"sweep: reused {reused} of {total} records from {path} (configs, data and "
            "user functions identical; see softjax.fingerprint)",
            UserWarning,
            stacklevel=3,
        )


def write_meta(path: Path, run: dict[str, Any]) -> None:
    """Adds this invocation's provenance to ``<name>.meta.json`` (under the lock)."""
    meta = read_json(path) if path.exists() else {"runs": []}
    meta["runs"].append(run)
    write_json(path, meta)
