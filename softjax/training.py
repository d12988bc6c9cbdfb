"""A whole training run as one compiled program: optax inside ``lax.scan`` inside a loop
over epochs.

The pipeline, one module per concern: :mod:`softjax.config` (what a run is, its rules) →
:mod:`softjax.inputs` (the checks at the boundary) → :mod:`softjax.step` (one minibatch
step), :mod:`softjax.diagnostics` and :mod:`softjax.history` (what an epoch records),
:mod:`softjax.layout` (stacked models) → this module (the epochs: the pure program) →
:mod:`softjax.run` (``train``: chunks, progress, checkpoints) → :mod:`softjax.checkpoint`
(orbax). :mod:`softjax.evaluation` reads a trained model (``evaluate``/``predict``).

* :func:`make_train`: ``make_train(config)`` returns a pure
  ``train_fn(params, lr, data_key, data) -> (params, history, finite)`` for a fresh run that
  you can ``jit`` or ``jit(vmap(...))`` over ``(params, lr)`` (that is how
  :mod:`softjax.sweeps` batches models).
* :func:`make_epochs`: the same program over a :class:`TrainState`, from its epoch to a
  traced ``stop``: one compiled program serves every chunk of a run, a fresh run and a
  resumed one, which is what makes a resumed run bitwise equal to a straight one.

Inside the program:

* the training data stays resident on the device and is passed in as an argument;
* each epoch draws its permutation on the device from ``fold_in(data_key, epoch)``; with
  ``shuffle=False`` the batches come in order, as in the homework, as contiguous slices;
* a minibatch step gathers its rows by index, so no shuffled copy of float data is made;
  byte-coded images (:func:`softjax.inputs.compact`) are gathered once per epoch, a
  quarter of the bytes, and each batch is decoded exactly in the step;
* an epoch is a ``lax.scan`` over full minibatches, then one more step on the last
  partial batch when ``last_batch="keep"`` (every sample every epoch);
* the learning-rate schedule is a function of the optimizer's own step count, which lives
  in the optimizer state, so a resumed run continues the schedule where it stopped;
* a non-finite loss or update freezes the params at their last finite value and ends the
  run; :func:`softjax.train` then warns and returns what was reached.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from softjax.config import TrainConfig, steps_per_epoch
from softjax.diagnostics import epoch_means
from softjax.evaluation import loss_and_accuracy, model_activations
from softjax.history import history_keys, history_shape
from softjax.inputs import Data, features, splits
from softjax.layout import from_model_layout, per_model, to_model_layout
from softjax.losses import resolve_loss
from softjax.models import mlp_forward
from softjax.optim import make_schedule, optimizer_factory
from softjax.step import make_step
from softjax.user_models import model_logits

__all__ = ["TrainState", "make_epochs", "make_train"]


class TrainState(NamedTuple):
    """Everything a run needs to continue exactly; a pytree (save it with
    :func:`softjax.save_checkpoint`).

    Attributes:
      params: the params (the last finite ones if the run diverged).
      opt_state: the optax state (moments, the step count the schedule reads).
      epoch: epochs completed, an int32 scalar.
      data_key: the data-order key, ``softjax.config.seed_keys(config.seed)[1]``.
      finite: False once the run diverged.
      history: ``{key: history_shape(config, key)}`` float32 ((epochs,), or (epochs, L)
        for the per-layer keys), NaN for epochs not run.
    """

    params: Any
    opt_state: Any
    epoch: Any
    data_key: Any
    finite: Any
    history: dict[str, Any]


def _not_evaluated(params):
    """``(loss, accuracy)`` of an epoch whose split was not evaluated: NaN."""
    nan = jnp.full((), jnp.nan, jnp.float32)
    return nan, nan


def make_epochs(
    config: TrainConfig, *, progress=None, skip_after_divergence=True, loss=None, stacked=False
):
    """Returns the pure ``(init_state, run_epochs)`` pair for ``config`` (already validated).

    * ``init_state(params, lr, data_key, data) -> TrainState`` at epoch 0;
    * ``run_epochs(state, lr, data, stop) -> TrainState`` runs epochs ``state.epoch`` up
      to ``stop`` (a traced int: every chunk of a run shares one compiled program).

    ``lr`` is the (peak) learning rate, a traced scalar. See :func:`make_train` for
    ``progress``, ``skip_after_divergence``, ``loss`` and ``stacked``. With ``stacked``,
    ``init_state`` takes params with a leading model axis and ``lr`` of shape (M,); the
    state keeps its leaves in :func:`model_axis`'s layout and its history as
    (epochs, M, …).
    """
    acts = model_activations(config)
    loss = resolve_loss(config.loss) if loss is None else loss
    tx_factory = optimizer_factory(config)

    def optimizer(lr, data: Data):
        return tx_factory(make_schedule(config, lr, steps_per_epoch(config, len(data.x_train))))

    step = make_step(config, loss, acts, optimizer)

    def each_model(f, *args, shared=()):
        return per_model(f, *args, shared=shared, stacked=stacked)

    def epoch_metrics(sums, params, finite, epoch, seen, data: Data):
        """One model's history row: the epoch's running means and its evaluations, NaN
        once diverged."""
        metrics = epoch_means(sums, seen, config)
        for split in splits(data):

            def evaluate(params, split=split):
                x = features(data, getattr(data, f"x_{split}"))
                if config.model is not None:  # softjax.user_models: apply_fn in chunks
                    logits = model_logits(config.model, params, x)
                else:
                    logits = mlp_forward(params, x, acts)[0][-1]
                value, acc = loss_and_accuracy(logits, getattr(data, f"y_{split}"), loss.fn)
                return value.astype(jnp.float32), acc.astype(jnp.float32)

            if split == "test" and not config.test_each_epoch:
                # A real branch in sweeps too: the epoch counter is shared by the models.
                value, acc = lax.cond(epoch == config.epochs - 1, evaluate, _not_evaluated, params)
            else:
                value, acc = evaluate(params)
            metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = value, acc
        return {k: jnp.where(finite, metrics[k], jnp.nan) for k in history_keys(data)}

    def run_epoch(carry, lr, epoch, data_key, data: Data):
        n, bs = data.x_train.shape[0], config.batch_size
        n_full = n // bs
        used = n_full * bs  # rows in full batches

        def body(carry, batch):
            x, y = batch
            return each_model(step, carry, lr, shared=(features(data, x), y, data))

        def rows(idx):
            # One gather for all the models: the data is shared, only the step is per model.
            return data.x_train[idx], data.y_train[idx]

        if not config.shuffle:
            # In order, as in the homework: the batches are contiguous rows, no gather.
            def batched(a):
                return a[:used].reshape(n_full, bs, *a.shape[1:])

            carry, sums = lax.scan(body, carry, (batched(data.x_train), batched(data.y_train)))
            rest = (data.x_train[used:], data.y_train[used:])
        else:
            order = jax.random.permutation(jax.random.fold_in(data_key, epoch), n)
            idx = order[:used].reshape(n_full, bs)
            if data.x_scale is None:
                carry, sums = lax.scan(lambda c, i: body(c, rows(i)), carry, idx)
            else:
                # Byte codes: one gather of the whole shuffled epoch, a quarter of a
                # float32 copy's bytes, then contiguous batches.
                carry, sums = lax.scan(body, carry, rows(idx))
            rest = rows(order[used:])
        sums = jax.tree.map(lambda v: jnp.sum(v, axis=0), sums)  # over batches, not layers
        seen = used
        if config.last_batch == "keep" and n % bs:
            carry, last = body(carry, rest)
            sums = jax.tree.map(jnp.add, sums, last)
            seen = n
        metrics = each_model(epoch_metrics, sums, carry[0], carry[2], shared=(epoch, seen, data))
        return carry, metrics

    def init_state(params, lr, data_key, data) -> TrainState:
        data = Data(*data)
        opt_state = (
            jax.vmap(lambda p, lr: optimizer(lr, data).init(p))(params, lr)
            if stacked
            else optimizer(lr, data).init(params)
        )
        models = (len(lr),) if stacked else ()
        history = {}
        for k in history_keys(data):
            epochs, *rest = history_shape(config, k)
            history[k] = jnp.full((epochs, *models, *rest), jnp.nan, jnp.float32)
        if stacked:
            params, opt_state = to_model_layout(params), to_model_layout(opt_state)
        finite = jnp.ones(models, bool)
        return TrainState(params, opt_state, jnp.int32(0), data_key, finite, history)

    def run_epochs(state: TrainState, lr, data, stop) -> TrainState:
        data = Data(*data)
        keys = history_keys(data)

        def body(state: TrainState) -> TrainState:
            carry = (state.params, state.opt_state, state.finite)
            carry, metrics = run_epoch(carry, lr, state.epoch, state.data_key, data)
            if progress is not None:
                jax.debug.callback(progress, state.epoch, metrics)
            history = {k: state.history[k].at[state.epoch].set(metrics[k]) for k in keys}
            return TrainState(*carry[:2], state.epoch + 1, state.data_key, carry[2], history)

        def keep_going(state: TrainState):
            # Under an outer vmap a per-model predicate would turn the loop into a select
            # over every model's copy of the data, so vmapped runs go through every epoch
            # (a diverged model's params are frozen by each step anyway); stacked models
            # stop when all of them have diverged.
            more = state.epoch < stop
            return more & jnp.any(state.finite) if skip_after_divergence else more

        return lax.while_loop(keep_going, body, state)

    return init_state, run_epochs


def make_train(
    config: TrainConfig, *, progress=None, skip_after_divergence=True, loss=None, stacked=False
):
    """Returns the pure ``train_fn(params, lr, data_key, data)`` for a fresh run of ``config``.

    ``train_fn`` runs ``config.epochs`` epochs and returns ``(params, history, finite)``,
    with ``history[key]`` of shape :func:`history_shape` ((epochs,), or (epochs, L) for the
    per-layer keys; NaN for epochs after divergence) for each of
    :func:`history_keys` and ``finite`` False if training diverged. It is pure: ``jit`` it,
    or ``vmap`` it over params and lr with a shared ``data_key`` and data so every model
    sees the same minibatches; with a schedule, ``lr`` is its peak.

    Args:
      config: the run's (validated) config.
      progress: None or a host ``progress(epoch, metrics)`` run after each epoch.
      skip_after_divergence: end the run once it diverged (once every model did, with
        ``stacked``). Pass False when ``train_fn`` will be ``vmap``-ped (see
        :func:`make_epochs`); the results are the same.
      loss: replaces ``resolve_loss(config.loss)``: its ``fn``, ``value_and_grad``,
        ``logits_grad`` (the mixed sweep's :class:`~softjax.sweeps.mixed.BlockedLoss`).
      stacked: M models in one program, what ``jax.vmap(train_fn, in_axes=(0, 0, None,
        None))`` computes: params with a leading model axis, ``lr`` of shape (M,), every
        output with a leading model axis. Only each model's step and evaluation are
        vmapped; the loops carry the stacked weights in :func:`model_axis`'s layout, so
        a step's forward pass is one ``(B, D) @ (D, M·K)`` matmul with no transposing
        copy of the weights (the same numbers as the outer ``vmap``).
    """
    init_state, run_epochs = make_epochs(
        config,
        progress=progress,
        skip_after_divergence=skip_after_divergence,
        loss=loss,
        stacked=stacked,
    )

    def train_fn(params, lr, data_key, data: Data):
        state = run_epochs(init_state(params, lr, data_key, data), lr, data, config.epochs)
        if not stacked:
            return state.params, state.history, state.finite
        history = {k: jnp.moveaxis(v, 1, 0) for k, v in state.history.items()}
        return from_model_layout(state.params), history, state.finite

    return train_fn
