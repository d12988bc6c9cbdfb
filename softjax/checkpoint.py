"""Saving and loading a run's :class:`~softjax.training.TrainState` with orbax-checkpoint.

A checkpoint folder holds one orbax step per saved epoch (``<dir>/<epoch>/``), written to a
temporary folder and renamed into place by orbax when complete, so a kill mid-save never
leaves a half-written checkpoint that :func:`load_checkpoint` would read. The newest
``MAX_TO_KEEP`` steps are kept. Beside the arrays, a JSON item records the config
(``TrainConfig.to_dict``), the params' dtype and the history's keys, from which the state's
pytree structure (optax's state classes included) is rebuilt on load: no pickles.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from softjax.config import TrainConfig, init_params
from softjax.history import history_shape
from softjax.optim import make_schedule, optimizer_factory
from softjax.training import TrainState

MAX_TO_KEEP = 3
FORMAT = 1


def _manager(directory, *, writing: bool = False) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=MAX_TO_KEEP,
        enable_async_checkpointing=False,
        create=writing,
        read_only=not writing,
        # A save killed midway leaves orbax's temporary folder; the next writer removes it
        # (a reader must not: it could be another process's save in progress).
        cleanup_tmp_directories=writing,
    )
    return ocp.CheckpointManager(Path(directory).absolute(), options=options)


def latest_epoch(directory) -> int | None:
    """The newest saved epoch in ``directory``, or None when it holds no checkpoint."""
    if not Path(directory).is_dir():
        return None
    with _manager(directory) as manager:
        return manager.latest_step()


def save_checkpoint(directory, state: TrainState, config: TrainConfig | None = None) -> Path:
    """Writes ``state`` (atomically, by orbax) as the step ``state.epoch`` of ``directory``.

    Args:
      directory: the checkpoint folder (created if needed).
      state: a :class:`~softjax.training.TrainState` (``result.state``).
      config: the run's config, recorded so :func:`load_checkpoint` can rebuild the
        state's structure by itself; without it (or when it holds functions that a dict
        cannot rebuild) pass ``config=`` to :func:`load_checkpoint`.

    Returns:
      The folder of the saved step.

    Raises:
      ValueError: naming the argument for a non-TrainState or a non-TrainConfig.
    """
    if not isinstance(state, TrainState):
        raise ValueError(f"state: expected a TrainState, got {type(state).__name__}")
    if config is not None and not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig or None, got {type(config).__name__}")
    if not isinstance(directory, str | os.PathLike):
        raise ValueError(f"directory: expected a folder path, got {directory!r}")
    leaves = jax.tree.leaves(state.params)
    meta = {
        "format": FORMAT,
        "config": None if config is None else config.to_dict(),
        "param_dtype": np.dtype(leaves[0].dtype).name,
        "history_keys": sorted(state.history),
        "epochs": int(np.shape(next(iter(state.history.values())))[0]),
    }
    epoch = int(np.asarray(state.epoch))
    with _manager(directory, writing=True) as manager:
        manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        manager.wait_until_finished()
    return Path(directory).absolute() / str(epoch)


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


def load_checkpoint(directory, config: TrainConfig | None = None, *, epoch: int | None = None):
    """The :class:`~softjax.training.TrainState` saved in ``directory`` (its newest epoch,
    or ``epoch``), ready for ``train(config, data, resume=state)``.

    Args:
      directory: a folder written by :func:`save_checkpoint` (or ``train(checkpoint_dir=)``).
      config: the run's config; needed when the checkpoint did not record one that a dict
        can rebuild (an optimizer or schedule factory).
      epoch: which saved epoch to load; the newest by default.

    Raises:
      ValueError: naming the argument for a folder with no checkpoint, an epoch not saved
        there, or a recorded config that cannot be rebuilt without ``config=``.
    """
    if not isinstance(directory, str | os.PathLike) or not Path(directory).is_dir():
        raise ValueError(f"directory: expected a checkpoint folder, got {directory!r}")
    with _manager(directory) as manager:
        steps = manager.all_steps()
        if not steps:
            raise ValueError(f"directory: no checkpoint in {os.fspath(directory)!r}")
        step = max(steps) if epoch is None else epoch
        if step not in steps:
            raise ValueError(f"epoch: expected a saved epoch {sorted(steps)}, got {epoch!r}")
        meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        if config is None:
            if meta["config"] is None:
                raise ValueError(
                    "config: the checkpoint records no config; pass config= to load_checkpoint"
                )
            try:
                config = TrainConfig.from_dict(meta["config"])
            except ValueError as e:
                raise ValueError(f"config: pass config= to load_checkpoint ({e})") from None
        template = abstract_state(config, np.dtype(meta["param_dtype"]), meta["history_keys"])
        restored = manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(template))
        )["state"]
    return TrainState(*restored)
