"""A whole training run as one compiled program: optax inside ``lax.scan`` inside a loop
over epochs.

The pipeline, one module per concern: :mod:`softjax.config` (what a run is) →
:mod:`softjax.inputs` (the checks at the boundary) → this module (the pure program) →
:mod:`softjax.run` (``train``: chunks, progress, checkpoints) → :mod:`softjax.checkpoint`
(orbax) → :mod:`softjax.evaluation` (``evaluate``/``predict``).

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

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from softjax import user_models
from softjax.config import TrainConfig, make_schedule, optimizer_factory
from softjax.evaluation import (
    confidence,
    loss_and_accuracy,
    model_activations,
    predicted_class,
    target_class,
)
from softjax.grads import backprop_from_forward
from softjax.hidden import (
    HIDDEN_SATURATION,
    LAYER_KEYS,
    hidden_layers,
    hidden_stats,
    history_shape,
    layer_ends,
)
from softjax.inputs import Data, features, splits, validate
from softjax.losses import resolve_loss
from softjax.models import dense, forward, mlp_forward, mlp_init
from softjax.numerics import sigmoid, softmax
from softjax.targets import to_targets

SATURATION_THRESHOLD = 0.99

HISTORY_KEYS = (
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "logits_grad_norm",
    "logits_grad_norm_wrong",
    "saturated_wrong",
    "grad_cos_ce",
    "hidden_fprime",
    "hidden_saturated",
    "hidden_fprime_first",
    "hidden_fprime_last",
    "hidden_saturated_first",
    "hidden_saturated_last",
)
"""The per-epoch history keys every run has. ``train_*`` and the diagnostics are running
means over the epoch's minibatches, computed with the params each batch was trained from
(what a training log reports); ``test_*`` evaluate the params at the end of the epoch on the
whole test set (with ``config.test_each_epoch=False``, at the end of the last epoch only:
NaN before it). Diagnostics:

* ``logits_grad_norm``: the mean over samples of ‖∂ℓ_i/∂z_i‖ (each sample's own loss);
  ``logits_grad_norm_wrong``: the same mean over the misclassified samples only (0 in an
  epoch without any), since a mean over all samples is dominated by the ones already right;
* ``saturated_wrong``: the fraction of samples whose largest softmax probability exceeds
  0.99 on a wrong class;
* ``grad_cos_ce``: the mean over samples of the cosine between the loss's ∂ℓ_i/∂z_i and
  cross-entropy's on the same logits, softmax(z_i) − y_i (σ(z_i) − y_i with one output):
  1 for ``cce``; how far another loss's step direction is from CE's (SPEC §3);
* ``hidden_fprime``: per epoch a vector over the L hidden layers (index 0 nearest the
  input; the history holds (epochs, L)) of the mean f′(Z_l) over samples and units;
  ``hidden_saturated``: the same vector of the fraction of (sample, unit) pairs with
  f′ < :data:`HIDDEN_SATURATION` · max f′. The backward recursion
  δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) (SPEC §4) multiplies by these factors, so they show
  where the gradient dies (:mod:`softjax.hidden`). A model without a hidden layer reports
  L = 1 with f′ = 1 and 0 saturated (the identity);
* ``hidden_fprime_first``/``_last``, ``hidden_saturated_first``/``_last``: the first and
  last entries of those vectors (kept for results written before the per-layer keys).

With ``config.diagnostics=False`` the diagnostics (:data:`DIAGNOSTIC_KEYS`) are not
computed and stay NaN; the losses and accuracies, and the params, are the same."""

DIAGNOSTIC_KEYS = tuple(
    k
    for k in HISTORY_KEYS
    if k not in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
)
"""The keys of :data:`HISTORY_KEYS` that ``config.diagnostics=False`` leaves NaN (the
history keeps every key, so code reading a history never depends on the flag)."""

VALIDATION_KEYS = ("val_loss", "val_accuracy")
"""Added to the history exactly when the data has a validation split (decided at trace
time from the data's structure): the end-of-epoch params on the whole validation set.
Iterate over a history's own keys rather than assuming a fixed set."""


def history_keys(data: Data) -> tuple[str, ...]:
    """The history's keys for this data: :data:`HISTORY_KEYS` (+ :data:`VALIDATION_KEYS`)."""
    return HISTORY_KEYS + (VALIDATION_KEYS if data.x_val is not None else ())


class TrainState(NamedTuple):
    """Everything a run needs to continue exactly; a pytree (save it with
    :func:`softjax.save_checkpoint`).

    Attributes:
      params: the params (the last finite ones if the run diverged).
      opt_state: the optax state (moments, the step count the schedule reads).
      epoch: epochs completed, an int32 scalar.
      data_key: the data-order key, ``seed_keys(config.seed)[1]``.
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


def init_params(config: TrainConfig, key, init_scale=None, dtype=jnp.float32):
    """The config's initial params; ``init_scale`` (may be traced) overrides the config's."""
    scale = config.init_scale if init_scale is None else init_scale
    if config.model is not None:  # softjax.user_models: scale · init_fn(key)
        return user_models.init_model_params(config.model, key, scale, dtype)
    return mlp_init(
        key, config.sizes, bias=config.bias, init_scale=scale, init=config.init, dtype=dtype
    )


def seed_keys(seed: int):
    """``(init_key, data_key) = split(PRNGKey(seed))``: the one seed convention.

    A run's initial params come from the first key and its minibatch order from the
    second; :func:`softjax.train` and every sweep record use this split, which is what
    makes a sweep record equal to its own ``train()`` call.
    """
    init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
    return init_key, data_key


def param_dtype(x) -> np.dtype:
    """The params' dtype for inputs ``x``: their float dtype, else float32 (uint8 images)."""
    dtype = jnp.result_type(x)
    return np.dtype(dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.float32)


def cut_history(
    history: Mapping[str, Any], finite: bool
) -> tuple[dict[str, np.ndarray], int | None]:
    """``(history, diverged_epoch)``: a diverged run's history cut before its NaN epochs.

    The compiled program writes NaN for every epoch from the one that diverged on; the
    cut keeps the completed epochs and names the 1-based epoch that diverged (None when
    the run stayed finite).
    """
    history = {k: np.asarray(v) for k, v in history.items()}
    if finite:
        return history, None
    completed = int(np.argmax(np.isnan(history["train_loss"])))
    return {k: v[:completed] for k, v in history.items()}, completed + 1


def steps_per_epoch(config: TrainConfig, n: int) -> int:
    """Optimizer steps per epoch for ``n`` training rows (the schedule's unit)."""
    full, rest = divmod(n, config.batch_size)
    return full + (1 if rest and config.last_batch == "keep" else 0)


def _all_finite(tree):
    """Whether every entry of every leaf is finite, each leaf read once in its own layout."""

    def finite(x):
        # 0·x is ±0 where x is finite and NaN where it is ±inf or NaN, so Σ 0·x == 0 says
        # "all finite" and cannot overflow. A matrix's first axis is summed as a product
        # with a zero vector, which reads x once in its own layout: jnp.all of isfinite
        # made XLA:CPU transpose a predicate copy of stacked models' (d_in, M, d_out)
        # weights on every step, and a ones vector times x·0 added a multiplying pass
        # (benchmarks/README.md, "The profile"). The barrier keeps XLA from folding the
        # product with zeros away.
        if x.ndim < 2:
            return jnp.sum(x * 0) == 0
        zeros = lax.optimization_barrier(jnp.zeros(x.shape[0], x.dtype))
        return jnp.sum(jnp.tensordot(zeros, x, axes=(0, 0))) == 0

    return jnp.all(jnp.stack([finite(x) for x in jax.tree.leaves(tree)]))


def _where(flag, new, old):
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), new, old)


def ce_logits_grad(logits, y):
    """Cross-entropy's per-sample ∂ℓ_i/∂z_i on these logits: softmax(z) − Y, or σ(z) − y
    with one output (the reference direction of ``grad_cos_ce``)."""
    targets = to_targets(logits, y)
    return (sigmoid(logits) if logits.shape[-1] == 1 else softmax(logits)) - targets


def _cosine(a, b):
    """Row-wise cosine; 0 for a zero row. Each row is scaled by its largest entry first:
    a saturated loss's gradient (~1e-30) would underflow when squared."""

    def unit(v):
        v = v / jnp.maximum(jnp.max(jnp.abs(v), axis=-1, keepdims=True), jnp.finfo(v.dtype).tiny)
        return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1.0)

    return jnp.clip(jnp.sum(unit(a) * unit(b), axis=-1), -1.0, 1.0)


def _not_evaluated(params):
    """``(loss, accuracy)`` of an epoch whose split was not evaluated: NaN."""
    nan = jnp.full((), jnp.nan, jnp.float32)
    return nan, nan


def model_axis(ndim: int) -> int:
    """Where stacked models keep their model axis in a leaf whose one-model value has
    ``ndim`` dims: second for a matrix and up ((d_in, M, d_out): the M models' weights
    side by side, so ``W.reshape(d_in, M·d_out)`` is free and the forward pass of every
    model is one matmul with no transposing copy), first for vectors and scalars."""
    return 1 if ndim >= 2 else 0


def _axes(tree):
    """``vmap`` axes of a tree of stacked models' leaves (see :func:`model_axis`)."""
    return jax.tree.map(lambda a: model_axis(jnp.ndim(a) - 1), tree)


def to_model_layout(tree):
    """M models' leaves from a leading model axis (M, …) to :func:`model_axis`'s layout."""
    return jax.tree.map(lambda a: jnp.moveaxis(a, 0, model_axis(jnp.ndim(a) - 1)), tree)


def from_model_layout(tree):
    """The inverse of :func:`to_model_layout`: the model axis back in front."""
    return jax.tree.map(lambda a: jnp.moveaxis(a, model_axis(jnp.ndim(a) - 1), 0), tree)


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

    def per_model(f, *args, shared=()):
        """``f(*args, *shared)`` for one model, or for every stacked model: ``vmap`` over
        ``args`` in :func:`model_axis`'s layout (outputs in it too), ``shared`` unbatched.
        Only per-model work is vmapped; the epoch loops, the permutation and the minibatch
        gather stay outside, so the loops carry the models' weights as one wide matrix."""
        if not stacked:
            return f(*args, *shared)
        axes = _axes(args)
        # One model's outputs (a trace, no compile) give the outputs' axes.
        one_model = jax.tree.map(
            lambda a, ax: jax.ShapeDtypeStruct(tuple(np.delete(np.shape(a), ax)), a.dtype),
            args,
            axes,
        )
        out_shapes = jax.eval_shape(lambda *a: f(*a, *shared), *one_model)
        out_axes = jax.tree.map(lambda a: model_axis(len(a.shape)), out_shapes)
        in_axes = (*axes, *(None,) * len(shared))
        return jax.vmap(f, in_axes=in_axes, out_axes=out_axes)(*args, *shared)

    def logits_and_grads(params, x, y):
        """Logits, the mean loss, ∂loss/∂logits, ∂loss/∂params and the hidden layers' Z
        for one batch."""
        if config.model is not None:  # softjax.user_models: no hidden layers to report
            return (*user_models.logits_and_grads(config.model, loss, params, x, y), None)
        if config.grad == "closed_form":
            zs, hidden = mlp_forward(params, x, acts)
            g_logits = loss.logits_grad(zs[-1], y)
            grads = backprop_from_forward(params, zs, hidden, g_logits, acts)
            return zs[-1], loss.fn(zs[-1], y), g_logits, grads, zs[:-1]

        def logits_of(p):
            # dense: ∂W as Aᵀ G, no transposing pass over stacked models' weights.
            zs = forward(p, x, acts, matmul=dense)[0]
            return zs[-1], zs[:-1]

        # Splitting the VJP at the logits gives ∂L/∂z for the diagnostics at no extra cost.
        logits, apply_vjp, zs_hidden = jax.vjp(logits_of, params, has_aux=True)
        value, g_logits = loss.value_and_grad(logits, y)
        (grads,) = apply_vjp(g_logits)
        return logits, value, g_logits, grads, zs_hidden

    def step(carry, lr, x, y, data: Data):
        params, opt_state, finite = carry
        n = x.shape[0]
        logits, value, g_logits, grads, zs_hidden = logits_and_grads(params, x, y)
        updates, new_opt_state = optimizer(lr, data).update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        ok = finite & jnp.isfinite(value) & _all_finite(new_params)
        carry = (_where(ok, new_params, params), _where(ok, new_opt_state, opt_state), ok)
        wrong = predicted_class(logits) != target_class(y)
        sums = {"train_loss": value * n, "train_accuracy": jnp.sum(~wrong)}
        if config.diagnostics:
            # ‖∂ℓ_i/∂z_i‖ = n ‖∂(mean)/∂z_i‖: each sample's own loss.
            norms = jnp.linalg.norm(g_logits * n, axis=-1)
            sums |= {
                "logits_grad_norm": jnp.sum(norms),
                "logits_grad_norm_wrong": jnp.sum(jnp.where(wrong, norms, 0.0)),
                "n_wrong": jnp.sum(wrong),
                "saturated_wrong": jnp.sum(wrong & (confidence(logits) > SATURATION_THRESHOLD)),
                "grad_cos_ce": jnp.sum(_cosine(g_logits, ce_logits_grad(logits, y))),
                **(
                    hidden_stats(zs_hidden, acts, n)
                    if zs_hidden is not None
                    else user_models.no_hidden_stats()
                ),
            }
        return carry, jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), sums)

    def epoch_metrics(sums, params, finite, epoch, seen, data: Data):
        """One model's history row: the epoch's running means and its evaluations, NaN
        once diverged."""
        # train_loss summed loss·n per batch, so dividing by the rows seen gives the mean.
        n_wrong = sums.pop("n_wrong", None)
        metrics = {k: v / seen for k, v in sums.items()}
        if config.diagnostics:
            metrics["logits_grad_norm_wrong"] = sums["logits_grad_norm_wrong"] / jnp.maximum(
                n_wrong, 1
            )
            metrics |= layer_ends(metrics)
        else:
            for k in DIAGNOSTIC_KEYS:
                metrics[k] = jnp.full(history_shape(config, k)[1:], jnp.nan, jnp.float32)
        for split in splits(data):

            def evaluate(params, split=split):
                x = features(data, getattr(data, f"x_{split}"))
                if config.model is not None:  # softjax.user_models: apply_fn in chunks
                    logits = user_models.model_logits(config.model, params, x)
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
            return per_model(step, carry, lr, shared=(features(data, x), y, data))

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
                # Byte codes: one gather of the whole shuffled epoch, then contiguous
                # batches (a float32 copy of the epoch is 4× the bytes and measured
                # slower than this per-batch gather; benchmarks/README.md).
                carry, sums = lax.scan(body, carry, rows(idx))
            rest = rows(order[used:])
        sums = jax.tree.map(lambda v: jnp.sum(v, axis=0), sums)  # over batches, not layers
        seen = used
        if config.last_batch == "keep" and n % bs:
            carry, last = body(carry, rest)
            sums = jax.tree.map(jnp.add, sums, last)
            seen = n
        metrics = per_model(epoch_metrics, sums, carry[0], carry[2], shared=(epoch, seen, data))
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
        copy of the weights (measured in ``benchmarks/README.md``: a few percent to 10%
        faster than the outer ``vmap`` for 48 softmax-regression models, the same numbers).
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


# The user call lives in softjax.run; these names stay importable from here.
from softjax.run import TrainResult, _ProgressBar, train  # noqa: E402

__all__ = [
    "TrainResult",
    "_ProgressBar",
    "train",
    "HISTORY_KEYS",
    "DIAGNOSTIC_KEYS",
    "HIDDEN_SATURATION",
    "LAYER_KEYS",
    "hidden_layers",
    "history_shape",
    "VALIDATION_KEYS",
    "Data",
    "TrainConfig",
    "TrainState",
    "cut_history",
    "history_keys",
    "init_params",
    "make_epochs",
    "make_train",
    "param_dtype",
    "seed_keys",
    "steps_per_epoch",
    "validate",
    "predicted_class",
    "target_class",
    "confidence",
]
