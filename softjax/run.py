"""``train``: the validated user call that runs :mod:`softjax.training`'s program.

A run is one compiled program, called once per chunk of epochs: once for a plain run,
every ``checkpoint_every`` epochs when checkpointing (each chunk ends in an atomic orbax
checkpoint), and from a saved :class:`~softjax.training.TrainState` on resume. Every chunk
shares the same compiled program (its end epoch is a traced argument), so 2 epochs, a
save, a load in a new process and 2 more epochs are bitwise equal to 4 epochs straight.

A ``checkpoint_dir`` has one policy, so that a killed script is re-run unchanged: it is
checked and locked (one run at a time) before anything compiles; with ``resume="auto"``
(the default) a run continues from the folder's newest intact checkpoint when the config
and data match it (each changed field is an error; ``allow_changes=`` says which may
change on purpose), and a finished run is returned as it was; ``overwrite=True`` deletes
the folder's checkpoints and starts over.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Collection
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from softjax._checks import is_int, positive_int
from softjax.checkpoint import (
    check_same_run,
    check_state,
    checkpoint_lock,
    delete_checkpoints,
    latest_epoch,
    load_checkpoint,
    save_checkpoint,
)
from softjax.compilation_cache import enable_compilation_cache
from softjax.config import TrainConfig, init_params, param_dtype, seed_keys
from softjax.epoch_hook import check_on_epoch, report_epoch
from softjax.fingerprint import check_user_functions
from softjax.history import cut_history, history_keys, history_shape
from softjax.inputs import Data, check_run, check_user_params, compact
from softjax.training import TrainState, make_epochs


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes:
      params: the final params, or the last finite ones if training diverged.
      history: ``{key: np.ndarray (epochs_completed,)}`` for each key of
        :func:`~softjax.training.history_keys` (with a validation split, ``val_*`` too),
        ``(epochs_completed, L)`` for the per-layer keys (``softjax.hidden.LAYER_KEYS``),
        from epoch 1 (a resumed run's history includes the epochs before it).
      diverged: whether a non-finite loss or update stopped training.
      diverged_epoch: the 1-based epoch in which that happened, else None.
      config: the config that ran.
      state: the full :class:`~softjax.training.TrainState`, to save or to resume from.
    """

    params: Any
    history: dict[str, np.ndarray]
    diverged: bool
    diverged_epoch: int | None
    config: TrainConfig
    state: TrainState | None = None


class _ProgressBar:
    """A tqdm bar over epochs, fed from inside the compiled program."""

    def __init__(self, total: int, desc: str, *, file=None, leave: bool = True, initial=0):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, desc=desc, unit="epoch", leave=leave, file=file, initial=initial
        )

    def __call__(self, epoch, metrics):
        self.bar.update(1)
        # With a validation split the bar shows it, not the test set one should not tune on.
        split = "val" if "val_accuracy" in metrics else "test"
        self.bar.set_postfix(
            {
                "loss": f"{float(metrics['train_loss']):.4f}",
                f"{split}_acc": f"{float(metrics[f'{split}_accuracy']):.4f}",
            }
        )

    def close(self):
        self.bar.close()


def _check_resume(resume, config: TrainConfig, data: Data) -> None:
    if not isinstance(resume, TrainState):
        raise ValueError(f"resume: expected a TrainState, got {type(resume).__name__}")
    check_user_params(resume.params, config, "resume.params")
    epoch = int(np.asarray(resume.epoch))
    if not 0 <= epoch <= config.epochs:
        raise ValueError(
            f"resume.epoch: expected an epoch in [0, config.epochs={config.epochs}], got {epoch}"
        )
    if not bool(np.asarray(resume.finite)):
        raise ValueError("resume.finite: the saved run diverged; it cannot be continued")
    if not np.array_equal(np.asarray(resume.data_key), np.asarray(seed_keys(config.seed)[1])):
        raise ValueError(
            f"resume.data_key: the state was trained with another seed than "
            f"config.seed={config.seed}"
        )
    check_state(resume, config, param_dtype(data.x_train), int(np.shape(data.x_train)[0]))
    keys, want = sorted(resume.history), sorted(history_keys(data))
    shapes = {k: np.shape(v) for k, v in resume.history.items()}
    expected = {k: history_shape(config, k) for k in want}
    if keys != want or shapes != expected:
        raise ValueError(
            f"resume.history: expected keys {want} of shapes {sorted(set(expected.values()))} "
            f"(the data's splits, config.epochs and config.sizes' hidden layers), got keys "
            f"{keys} of shapes {sorted(set(shapes.values()))}"
        )


def _check_run_args(config, stop_after, checkpoint_dir, checkpoint_every):
    if stop_after is not None and not (is_int(stop_after) and 0 < stop_after <= config.epochs):
        raise ValueError(
            f"stop_after: expected an epoch in [1, config.epochs={config.epochs}], "
            f"got {stop_after!r}"
        )
    if checkpoint_every is not None:
        positive_int(checkpoint_every, "checkpoint_every")
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every: needs checkpoint_dir= (where to save)")
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, str | os.PathLike):
        raise ValueError(f"checkpoint_dir: expected a folder path, got {checkpoint_dir!r}")


def _resume_from(resume, config, data, params, checkpoint_dir, overwrite, allow_changes):
    """The state to continue from (module docstring's policy), or None for a fresh run."""
    auto = isinstance(resume, str) and resume == "auto"
    if not (resume is None or auto or isinstance(resume, TrainState | str | os.PathLike)):
        raise ValueError(
            "resume: expected a TrainState, a checkpoint folder, 'auto' or None, got "
            f"{type(resume).__name__}"
        )
    if params is not None and not (resume is None or auto):
        raise ValueError("params: give params (a fresh run) or resume (a saved run), not both")
    if overwrite and checkpoint_dir is not None:
        if not (resume is None or auto):
            raise ValueError("overwrite: starts over; it cannot be combined with resume=")
        delete_checkpoints(checkpoint_dir)
        return None
    if isinstance(resume, TrainState):
        return resume
    if not (resume is None or auto):
        return load_checkpoint(resume, config, data=data, allow_changes=allow_changes)
    latest = None if checkpoint_dir is None else latest_epoch(checkpoint_dir)
    if latest is None:
        return None
    if resume is None or params is not None:
        argname = "resume" if resume is None else "params"
        raise ValueError(
            f"{argname}: checkpoint_dir {os.fspath(checkpoint_dir)!r} already holds a checkpoint "
            f"(epoch {latest}) and this is a fresh run; continue it (resume='auto', without "
            "params), start over (overwrite=True) or use another folder"
        )
    return load_checkpoint(checkpoint_dir, config, data=data, allow_changes=allow_changes)


def train(
    config: TrainConfig,
    data,
    *,
    params=None,
    progress: bool = False,
    resume: TrainState | str | os.PathLike | None = "auto",
    stop_after: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    overwrite: bool = False,
    allow_changes: Collection[str] = (),
    on_epoch=None,
) -> TrainResult:
    """Trains ``config`` on ``data`` with one compiled program.

    Args:
      config: the run; ``config.epochs`` is its total number of epochs.
      data: a ``softjax.data.Dataset``, ``(x_train, y_train, x_test, y_test)`` or
        ``(x_train, y_train, x_val, y_val, x_test, y_test)``; labels are int ids (N,) or
        target rows (N, K), as the loss takes them.
      params: initial params instead of ``config``'s init; finite floats matching
        ``config.sizes`` and ``config.bias``.
      progress: show a per-epoch progress bar (tqdm).
      resume: where to continue from, up to ``config.epochs``: ``"auto"`` (the default)
        continues from ``checkpoint_dir``'s newest intact checkpoint when it has one, else
        starts fresh; a :class:`~softjax.training.TrainState` (``result.state`` or
        :func:`softjax.load_checkpoint`); a checkpoint folder; None: a fresh run (an error
        if ``checkpoint_dir`` holds a checkpoint). A checkpoint is compared with ``config``
        and ``data`` (:func:`softjax.load_checkpoint`): each changed field is an error.
      stop_after: stop after this epoch of the run (the schedule still spans
        ``config.epochs``), to resume later.
      checkpoint_dir: save the state there (orbax, atomically) at the end, and every
        ``checkpoint_every`` epochs if given. The folder is checked (writable, not a file)
        and locked (one run at a time) before anything compiles; re-running a killed or
        finished script unchanged continues or returns its run.
      checkpoint_every: epochs between checkpoints.
      overwrite: delete ``checkpoint_dir``'s checkpoints and start over.
      allow_changes: config fields (or ``"data"``) that may differ from the checkpoint's
        on purpose, e.g. ``("lr",)`` to fine-tune a saved run with a new learning rate.
      on_epoch: None or ``fn(epoch, metrics)``, called on the host after each completed
        epoch (1-based, a resumed run's from its start) with that epoch's history row as
        Python floats (a list for the per-layer keys), e.g. for a CSV or TensorBoard
        writer; not for an epoch that diverged. The params, the history and the compiled
        program are those of the run without it (:mod:`softjax.epoch_hook`).

    The compiled program is kept in JAX's persistent compilation cache (see
    :mod:`softjax.compilation_cache`; ``SOFTJAX_COMPILATION_CACHE=off`` leaves it off).

    Returns:
      A :class:`TrainResult`. Bitwise deterministic for a given config and seed on CPU,
      however the run is cut into chunks and resumed.

    Raises:
      ValueError: for a bad config, data, params or run argument, or a checkpoint of
        another run, before compiling.
      PermissionError: naming ``checkpoint_dir`` when it is not a writable folder.
      softjax.checkpoint.CheckpointLocked: when another process trains into
        ``checkpoint_dir``, naming its pid.

    Warns:
      RuntimeWarning: if the loss or an update became non-finite; training stopped there
        and the result holds the last finite params and the history up to that epoch.
    """
    data, loss = check_run(config, data, params)  # the loss, resolved once for the run
    check_user_functions(config, data, [loss])
    _check_run_args(config, stop_after, checkpoint_dir, checkpoint_every)
    check_on_epoch(on_epoch)
    with contextlib.ExitStack() as held:
        if checkpoint_dir is not None:
            held.enter_context(checkpoint_lock(checkpoint_dir))
        resume = _resume_from(
            resume, config, data, params, checkpoint_dir, overwrite, allow_changes
        )
        if checkpoint_dir is not None and latest_epoch(checkpoint_dir) is not None:
            check_same_run(checkpoint_dir, config, data, allow_changes)  # before training
        return _train(
            config,
            loss,
            data,
            params,
            resume,
            progress,
            stop_after,
            checkpoint_dir,
            checkpoint_every,
            allow_changes,
            on_epoch,
        )


def _train(
    config,
    loss,
    data,
    params,
    resume,
    progress,
    stop_after,
    checkpoint_dir,
    checkpoint_every,
    allow_changes,
    on_epoch,
) -> TrainResult:
    if resume is not None:
        _check_resume(resume, config, data)
    start = 0 if resume is None else int(np.asarray(resume.epoch))
    end = config.epochs if stop_after is None else stop_after
    if end < start:
        raise ValueError(
            f"stop_after: expected an epoch in [{start}, config.epochs={config.epochs}] "
            f"(the run resumes at epoch {start}), got {stop_after!r}"
        )
    fingerprinted = data

    enable_compilation_cache()  # later calls and processes load this run's program
    init_key, data_key = seed_keys(config.seed)
    dtype = param_dtype(data.x_train)
    lr = jnp.asarray(config.lr, dtype)
    bar = _ProgressBar(end, f"{loss.name} lr={config.lr:g}", initial=start) if progress else None
    init_state, run_epochs = make_epochs(config, progress=bar, loss=loss)
    data = jax.device_put(compact(data, shuffled=config.shuffle))
    try:
        if resume is None:
            first = init_params(config, init_key, dtype=dtype) if params is None else params
            state = init_state(first, lr, data_key, data)
        else:
            state = jax.device_put(resume)
        run = jax.jit(run_epochs)
        epoch = start
        while epoch < end and bool(state.finite):
            # Chunks end on multiples of checkpoint_every, so saves land on the same epochs
            # however often the run was resumed.
            every = checkpoint_every or end
            stop = min(end, epoch - epoch % every + every)
            if on_epoch is not None:  # softjax.epoch_hook: one epoch per chunk
                stop = epoch + 1
            state = jax.block_until_ready(run(state, lr, data, jnp.int32(stop)))
            epoch = int(state.epoch)
            if checkpoint_dir is not None and bool(state.finite):
                save_checkpoint(
                    checkpoint_dir, state, config, data=fingerprinted, allow_changes=allow_changes
                )
            report_epoch(on_epoch, state, bool(state.finite))
    finally:
        if bar is not None:
            bar.close()
    finite = bool(state.finite)
    history = {k: np.asarray(v)[: int(state.epoch)] for k, v in state.history.items()}
    history, diverged_epoch = cut_history(history, finite)
    if diverged_epoch is not None:
        warnings.warn(
            f"training diverged in epoch {diverged_epoch} of {config.epochs} (loss or update "
            f"became non-finite at lr={config.lr:g}); stopped and returned the last finite "
            f"params and the history of the {diverged_epoch - 1} completed epoch(s)",
            RuntimeWarning,
            stacklevel=3,
        )
    return TrainResult(state.params, history, not finite, diverged_epoch, config, state)
