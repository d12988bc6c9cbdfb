"""Saving and loading a run's :class:`~softjax.training.TrainState` with orbax-checkpoint.

One orbax step per saved epoch (``<dir>/<epoch>/``), written to a temporary folder and
renamed into place when complete, so a kill mid-save never leaves a checkpoint that
:func:`load_checkpoint` would read; the newest ``MAX_TO_KEEP`` are kept. A JSON item
records the config, what its user functions compute (:mod:`softjax.fingerprint`), the
data's fingerprint, the params' dtype and the history's keys, from which the state's
structure is rebuilt on load: no pickles. A checkpoint never belongs to another run:
loading with ``config=`` (and ``data=``) raises naming each changed field, unless
``allow_changes=("lr", ...)`` says so on purpose (fine-tuning). A damaged newest step is
skipped with a warning naming it. One writer per folder: :func:`checkpoint_lock` (the
sweeps' lock rule, :func:`softjax.results.hold_lock`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Collection, Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from softjax._checks import is_int
from softjax.config import TrainConfig, init_params, param_dtype, steps_per_epoch
from softjax.data.fingerprint import data_fingerprint
from softjax.fingerprint import Unfingerprintable, function_fingerprint, user_functions
from softjax.history import history_shape
from softjax.optim import make_schedule, optimizer_factory
from softjax.results import FolderLocked, check_writable, hold_lock, to_jsonable
from softjax.training import TrainState

MAX_TO_KEEP = 3
FORMAT = 2
LOCK_NAME = ".softjax.lock"
UNIDENTIFIABLE = "unidentifiable"


class CheckpointLocked(FolderLocked):
    """Another live process is training into this checkpoint folder."""


def _manager(directory, *, writing: bool = False) -> ocp.CheckpointManager:
    logger = logging.getLogger("absl")  # a read-only manager warns about its options
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        options = ocp.CheckpointManagerOptions(
            max_to_keep=MAX_TO_KEEP,
            enable_async_checkpointing=False,
            create=writing,
            read_only=not writing,
            # A save killed midway leaves orbax's temporary folder; the next writer removes
            # it (a reader must not: it could be another process's save in progress).
            cleanup_tmp_directories=writing,
        )
        return ocp.CheckpointManager(Path(directory).absolute(), options=options)
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def checkpoint_lock(directory, argname: str = "checkpoint_dir") -> Iterator[Path]:
    """Holds ``<directory>/.softjax.lock`` for the block (one writer per folder), after
    proving the folder writable (created if needed): checked before anything trains.

    Raises:
      ValueError: naming ``argname`` for something that is not a path.
      PermissionError: naming it for an existing file or a folder that cannot be written.
      CheckpointLocked: at once when another process holds it, naming that pid.
    """
    if not isinstance(directory, str | os.PathLike):
        raise ValueError(f"{argname}: expected a folder path, got {directory!r}")
    folder = check_writable(directory, argname)
    busy = f"{argname} {os.fspath(directory)!r}: another run is training into it"
    with hold_lock(folder / LOCK_NAME, busy, CheckpointLocked):
        yield folder


def latest_epoch(directory) -> int | None:
    """The newest saved epoch in ``directory``, or None when it holds no checkpoint."""
    if not Path(directory).is_dir():
        return None
    with _manager(directory) as manager:
        return manager.latest_step()


def _codes(config: TrainConfig) -> dict[str, str]:
    """What the config's user functions compute; ``unidentifiable`` where unknown."""
    out = {}
    for field, fn in user_functions(config).items():
        try:
            out[field] = function_fingerprint(fn, f"config.{field}")
        except Unfingerprintable:
            out[field] = UNIDENTIFIABLE
    return out


def _record(config: TrainConfig | None, data) -> dict:
    return {
        "config": None if config is None else to_jsonable(config.to_dict()),
        "code": None if config is None else _codes(config),
        "data": None if data is None else data_fingerprint(data),
    }


def changes(meta: dict, config: TrainConfig | None, data=None) -> dict[str, str]:
    """``{field: "saved → now"}`` for each way ``config`` and ``data`` differ from a record
    (a function that cannot be identified counts as changed)."""
    found: dict[str, str] = {}
    now = _record(config, data)
    saved_config, config_now = meta.get("config"), now["config"]
    if config is not None and saved_config is not None:
        found.update(
            _diff(json.loads(json.dumps(saved_config)), json.loads(json.dumps(config_now)))
        )
        saved_code, code_now = meta.get("code") or {}, now["code"] or {}
        for field in sorted(set(saved_code) | set(code_now)):
            a, b = saved_code.get(field), code_now.get(field)
            if field not in found and (a != b or UNIDENTIFIABLE in (a, b)):
                why = "cannot be identified" if UNIDENTIFIABLE in (a, b) else "other code"
                found[field] = f"a function that computes something else ({why})"
    if data is not None:
        x = data.x_train if hasattr(data, "x_train") else tuple(data)[0]
        dtype = np.dtype(param_dtype(np.asarray(x[:1]))).name
        if meta.get("param_dtype") not in (None, dtype):
            found["dtype"] = f"{meta['param_dtype']} params → {dtype} data"
        diff = _diff(meta.get("data") or now["data"], now["data"])
        if diff:
            found["data"] = ", ".join(f"{k} {v}" for k, v in diff.items())
    return found


def _diff(saved: dict, now: dict) -> dict[str, str]:
    keys = sorted(set(saved) | set(now))
    return {k: f"{saved.get(k)!r} → {now.get(k)!r}" for k in keys if saved.get(k) != now.get(k)}


def _refuse(directory, step, found: dict[str, str], allow: Collection[str]) -> None:
    refused = {k: v for k, v in found.items() if k not in allow}
    if refused:
        listed = "; ".join(f"{k}: {v}" for k, v in refused.items())
        raise ValueError(
            f"config: the checkpoint {os.fspath(directory)!r} (epoch {step}) belongs to another "
            f"run; changed: {listed}. To continue it on purpose (fine-tuning), pass "
            f"allow_changes={tuple(refused)!r}; to start over, use another folder or "
            "overwrite=True"
        )


def save_checkpoint(
    directory,
    state: TrainState,
    config: TrainConfig | None = None,
    *,
    data=None,
    overwrite: bool = False,
    allow_changes: Collection[str] = (),
) -> Path:
    """Writes ``state`` (atomically, by orbax) as the step ``state.epoch`` of ``directory``.

    Args:
      directory: the checkpoint folder (created if needed).
      state: a :class:`~softjax.training.TrainState` (``result.state``).
      config: the run's config, recorded so :func:`load_checkpoint` can rebuild the
        state's structure by itself and check a resume against it.
      data: the run's data, whose fingerprint is recorded so that a resume on other data
        is refused.
      overwrite: delete the folder's checkpoints first (another run's, say).
      allow_changes: config fields that may differ from the folder's newest checkpoint.

    Saving the same epoch of the same run again replaces it (re-running a script works).

    Returns:
      The folder of the saved step.

    Raises:
      ValueError: naming the argument for a non-TrainState or a non-TrainConfig, or
        naming each changed field when the folder holds another run's checkpoints.
      CheckpointLocked: when another process is training into the folder.
    """
    if not isinstance(state, TrainState):
        raise ValueError(f"state: expected a TrainState, got {type(state).__name__}")
    if config is not None and not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig or None, got {type(config).__name__}")
    leaves = jax.tree.leaves(state.params)
    meta = {
        "format": FORMAT,
        **_record(config, data),
        "param_dtype": np.dtype(leaves[0].dtype).name,
        "history_keys": sorted(state.history),
        "epochs": int(np.shape(next(iter(state.history.values())))[0]),
    }
    epoch = int(np.asarray(state.epoch))
    with checkpoint_lock(directory, "directory"):
        if overwrite:
            delete_checkpoints(directory)
        elif config is not None and latest_epoch(directory) is not None:
            check_same_run(directory, config, data, allow_changes)
        _save(directory, epoch, state, meta)
    return Path(directory).absolute() / str(epoch)


def _save(directory, epoch: int, state: TrainState, meta: dict) -> None:
    with _manager(directory, writing=True) as manager:
        if epoch in manager.all_steps():
            manager.delete(epoch)
        manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        manager.wait_until_finished()


def delete_checkpoints(directory) -> None:
    """Deletes every saved step of ``directory`` (``train(..., overwrite=True)``)."""
    with checkpoint_lock(directory), _manager(directory, writing=True) as manager:
        for step in manager.all_steps():
            manager.delete(step)


def abstract_state(config: TrainConfig, dtype, keys) -> TrainState:
    """The structure, shapes and dtypes of ``config``'s :class:`TrainState` (no FLOPs)."""
    params = jax.eval_shape(lambda: init_params(config, jax.random.PRNGKey(0), dtype=dtype))

    def opt_init(p):
        # Only the state's structure matters here; any step count that makes a valid
        # schedule will do, so take one longer than any warmup.
        schedule = make_schedule(config, jnp.asarray(1.0, dtype), 2**20)
        return optimizer_factory(config)(schedule).init(p)

    return TrainState(
        params,
        jax.eval_shape(opt_init, params),
        jax.ShapeDtypeStruct((), jnp.int32),
        jax.eval_shape(lambda: jax.random.PRNGKey(0)),
        jax.ShapeDtypeStruct((), jnp.bool_),
        {k: jax.ShapeDtypeStruct(history_shape(config, k), jnp.float32) for k in keys},
    )


def check_state(state: TrainState, config: TrainConfig, dtype, n: int | None = None) -> None:
    """Raises a ValueError naming the part of ``state`` (``resume``) that ``config`` on
    data of ``dtype`` with ``n`` training rows would not have made: the params' dtype,
    the optimizer state's structure (another optimizer, a schedule added or removed) or
    shapes, or more optimizer steps than ``n`` rows give in its epochs (fewer rows)."""
    got = np.dtype(jax.tree.leaves(state.params)[0].dtype)
    if got != np.dtype(dtype):
        raise ValueError(
            f"resume.params: the saved run trained {got.name} params, this data makes "
            f"{np.dtype(dtype).name} params (pass data of the saved dtype)"
        )
    want = abstract_state(config, dtype, sorted(state.history)).opt_state
    spec = [(np.shape(a), np.dtype(a.dtype)) for a in jax.tree.leaves(want)]
    if jax.tree.structure(want) != jax.tree.structure(state.opt_state) or spec != [
        (np.shape(a), np.dtype(a.dtype)) for a in jax.tree.leaves(state.opt_state)
    ]:
        raise ValueError(
            "resume.opt_state: the saved optimizer state is not one that "
            f"config.optimizer={config.optimizer!r} with config.schedule={config.schedule!r} "
            "makes (another optimizer, or a schedule added or removed); resume with the "
            "saved run's optimizer and schedule"
        )
    epoch = int(np.asarray(state.epoch))
    paths = jax.tree_util.tree_flatten_with_path(state.opt_state)[0]
    counts = [int(np.max(v)) for p, v in paths if "count" in jax.tree_util.keystr(p)]
    # An optimizer's step counter never runs ahead of the steps the data gives.
    if n is not None and counts and max(counts) > epoch * steps_per_epoch(config, n):
        raise ValueError(
            f"resume.opt_state: the saved run took {max(counts)} optimizer steps in {epoch} "
            f"epochs; {n} training rows give at most {epoch * steps_per_epoch(config, n)}: "
            "it was trained on other (more) data; resume on the same data"
        )


def _read_meta(manager, step):  # the JSON item of one step
    return manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def check_same_run(directory, config, data=None, allow_changes=()) -> None:
    """Raises naming each changed field when ``directory``'s newest checkpoint belongs to
    another run than ``config`` on ``data`` (before a run trains into the folder)."""
    with _manager(directory) as manager:
        step, saved = _newest_meta(manager, directory)
    if saved is not None:
        _refuse(directory, step, changes(saved, config, data), allow_changes)


def _newest_meta(manager, directory):
    """``(step, meta)`` of the newest step whose metadata reads; ``(None, None)`` if none."""
    for step in sorted(manager.all_steps(), reverse=True):
        try:
            return step, _read_meta(manager, step)
        except Exception:  # noqa: BLE001 - any unreadable step is skipped, by name
            continue
    return None, None


def load_checkpoint(
    directory,
    config: TrainConfig | None = None,
    *,
    epoch: int | None = None,
    data=None,
    allow_changes: Collection[str] = (),
):
    """The :class:`~softjax.training.TrainState` saved in ``directory`` (its newest intact
    epoch, or ``epoch``), ready for ``train(config, data, resume=state)``.

    Args:
      directory: a folder written by :func:`save_checkpoint` (or ``train(checkpoint_dir=)``).
      config: the run's config, compared with the recorded one (each changed field is an
        error); needed when the checkpoint did not record one that a dict can rebuild (an
        optimizer or schedule factory).
      epoch: which saved epoch to load; the newest intact one by default (a newer step
        whose files are truncated or half-copied is skipped with a ``UserWarning`` naming
        its folder).
      data: the data to resume on, compared with the recorded fingerprint (rows, dtype,
        content).
      allow_changes: config fields (and ``"data"``, ``"dtype"``) that may differ on purpose,
        e.g. ``("lr",)`` to fine-tune with a new learning rate.

    Raises:
      ValueError: naming the argument for a folder with no checkpoint, an epoch not saved
        there or not an int, a recorded config that cannot be rebuilt without ``config=``,
        no intact step, or naming each field that differs from the record.
    """
    if not isinstance(directory, str | os.PathLike) or not Path(directory).is_dir():
        raise ValueError(f"directory: expected a checkpoint folder, got {directory!r}")
    if epoch is not None and not is_int(epoch):
        raise ValueError(f"epoch: expected an int (a saved epoch) or None, got {epoch!r}")
    if isinstance(allow_changes, str) or not all(isinstance(f, str) for f in allow_changes):
        raise ValueError(f"allow_changes: expected a tuple of field names, got {allow_changes!r}")
    with _manager(directory) as manager:
        steps = sorted(manager.all_steps(), reverse=True)
        if not steps:
            raise ValueError(f"directory: no checkpoint in {os.fspath(directory)!r}")
        if epoch is not None and epoch not in steps:
            raise ValueError(f"epoch: expected a saved epoch {sorted(steps)}, got {epoch!r}")
        errors = []
        for step in [epoch] if epoch is not None else steps:
            folder = Path(directory).absolute() / str(step)
            try:
                meta = _read_meta(manager, step)
            except Exception as e:  # noqa: BLE001 - a damaged step, named below
                errors.append(f"{folder}: unreadable metadata ({type(e).__name__})")
                continue
            cfg = _config(meta, config)
            found = changes(meta, cfg, data)
            _refuse(directory, step, found, allow_changes)
            dtype = np.dtype(meta["param_dtype"])
            template = abstract_state(cfg, dtype, meta["history_keys"])
            try:
                restored = manager.restore(
                    step, args=ocp.args.Composite(state=ocp.args.StandardRestore(template))
                )["state"]
            except Exception as e:  # noqa: BLE001 - structure or damage, told apart below
                if found:
                    raise ValueError(
                        f"allow_changes: the saved state of {folder} does not fit the config "
                        f"with {sorted(found)} changed (they change the params', optimizer "
                        f"state's or history's shapes); only fields like lr can change"
                    ) from None
                errors.append(f"{folder}: unreadable arrays ({type(e).__name__})")
                continue
            if errors:
                warnings.warn(
                    f"load_checkpoint: skipped damaged checkpoint(s) ({'; '.join(errors)}); "
                    f"loaded the newest intact epoch, {step}",
                    UserWarning,
                    stacklevel=2,
                )
            return TrainState(*restored)
    raise ValueError(f"directory: no intact checkpoint in {os.fspath(directory)!r}: {errors}")


def _config(meta: dict, config: TrainConfig | None) -> TrainConfig:
    if config is not None:
        if not isinstance(config, TrainConfig):
            raise ValueError(f"config: expected a TrainConfig or None, got {config!r}")
        return config
    if meta["config"] is None:
        raise ValueError(
            "config: the checkpoint records no config; pass config= to load_checkpoint"
        )
    try:
        return TrainConfig.from_dict(meta["config"])
    except ValueError as e:
        raise ValueError(f"config: pass config= to load_checkpoint ({e})") from None
