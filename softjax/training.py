"""A whole training run as one compiled program: optax inside ``lax.scan`` inside ``lax.scan``.

The pieces, in the purejaxrl style:

* :class:`TrainConfig`: everything that defines a run (model, loss, optimizer, schedule).
* :func:`init_params`: the config's initial params from a key.
* :func:`make_train`: ``make_train(config)`` returns a pure
  ``train_fn(params, lr, data_key, data) -> (params, history, finite)`` that you can
  ``jit`` or ``jit(vmap(...))`` (that is how :mod:`softjax.sweeps` batches models).
* :func:`train`: the validated, user-facing call that does all of the above.

Inside ``train_fn``:

* the training data stays resident on the device and is passed in as an argument (a
  closed-over array would be baked into the program as a constant);
* each epoch draws its permutation on the device from ``fold_in(data_key, epoch)``; with
  ``shuffle=False`` the batches come in order, as in the homework;
* a minibatch step gathers its rows by index, so no shuffled copy of the data is made;
* an epoch is a ``lax.scan`` over full minibatches, then one more step on the last
  partial batch when ``last_batch="keep"`` (the default, PyTorch's ``drop_last=False``:
  every sample is used every epoch, and that step's mean is over its own rows);
* a non-finite loss or update freezes the params at their last finite value and skips the
  remaining work; :func:`train` then warns and returns what was reached.

The progress bar (``progress=True``) is fed by one ``jax.debug.callback`` per epoch from
inside the scan, so the run stays one compiled program. Measured against the alternative,
a jitted one-epoch program called once per epoch ("chunked scans"), on seed 001's MNIST
config (784-10, batch 64, 5 epochs; 2 shared CPU cores, 5 interleaved repetitions): median
run 2.26 s with the callback, 2.34 s chunked, 2.10 s with no bar; CPU time for compile plus
run 3.49 s, 3.44 s and 3.46 s. The differences are within the machine's noise, so the
callback stays.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from softjax.activations import resolve_activations
from softjax.grads import backprop_from_forward, logits_grad
from softjax.losses import LOSSES, check_labels, check_loss_name
from softjax.models import INITS, check_params, check_sizes, mlp_forward, mlp_init
from softjax.numerics import sigmoid, softmax

SATURATION_THRESHOLD = 0.99
GRAD_MODES = ("autodiff", "closed_form")
LAST_BATCH_MODES = ("keep", "drop")

HISTORY_KEYS = (
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "logits_grad_norm",
    "saturated_wrong",
)
"""Per-epoch history. ``train_*`` and the diagnostics are running means over the epoch's
minibatches, computed with the params each batch was trained from (what a training log
reports); ``test_*`` evaluate the params at the end of the epoch on the whole test set.
``logits_grad_norm`` is the mean over samples of ‖∂ℓ_i/∂z_i‖ (each sample's own loss);
``saturated_wrong`` the fraction of samples whose largest softmax probability exceeds
0.99 on a wrong class."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
      sizes: layer widths ``[D, H_1, …, K]``; ``[D, K]`` is softmax/logistic/linear
        regression.
      activations: hidden activations: one name, a ``(name, kwargs)`` pair, or one per
        hidden layer. Ignored for a single layer.
      bias: whether layers have biases.
      init: an init scheme from ``softjax.INITS``.
      init_scale: multiplies the initial params.
      loss: a name from ``softjax.LOSSES``.
      optimizer: the name of an optax optimizer taking ``learning_rate`` (``"sgd"``,
        ``"adam"``, ``"momentum"`` is ``sgd`` with ``optimizer_kwargs={"momentum": .9}``).
      optimizer_kwargs: extra keyword arguments for the optimizer.
      lr: the learning rate.
      batch_size: minibatch size.
      epochs: passes over the training data.
      seed: the run's seed; the init key and the data-order key are split from it.
      shuffle: draw a fresh permutation each epoch (on the device); ``False`` gives
        batches in order.
      last_batch: ``"keep"`` trains on the final partial batch too (every sample every
        epoch, as PyTorch's ``DataLoader``); ``"drop"`` skips it (with ``shuffle`` the
        dropped rows change each epoch).
      grad: ``"autodiff"`` (``jax.vjp``) or ``"closed_form"`` (the notes' backprop).
    """

    sizes: tuple[int, ...]
    activations: Any = "relu"
    bias: bool = True
    init: str = "lecun_normal"
    init_scale: float = 1.0
    loss: str = "cce"
    optimizer: str = "sgd"
    optimizer_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lr: float = 0.1
    batch_size: int = 64
    epochs: int = 5
    seed: int = 0
    shuffle: bool = True
    last_batch: str = "keep"
    grad: str = "autodiff"

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the config."""
        d = dataclasses.asdict(self)
        d["sizes"] = list(self.sizes)
        d["optimizer_kwargs"] = dict(self.optimizer_kwargs)
        if not isinstance(self.activations, str):
            d["activations"] = _jsonable(self.activations)
        return d


def _jsonable(x):
    if isinstance(x, Mapping):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes:
      params: the final params, or the last finite ones if training diverged.
      history: ``{key: np.ndarray (epochs_completed,)}`` for each of :data:`HISTORY_KEYS`.
      diverged: whether a non-finite loss or update stopped training.
      diverged_epoch: the 1-based epoch in which that happened, else None.
      config: the config that ran.
    """

    params: Any
    history: dict[str, np.ndarray]
    diverged: bool
    diverged_epoch: int | None
    config: TrainConfig


class Data(NamedTuple):
    """The four arrays ``train_fn`` needs, resident on the device."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any


# ----------------------------------------------------------------------------- validation


def make_optimizer(name: str, kwargs: Mapping[str, Any] | None = None):
    """``lr -> optax.GradientTransformation`` for an optax optimizer named ``name``.

    Only the learning rate goes through ``optax.inject_hyperparams``, so it lives in the
    optimizer state: one compiled program serves every lr, and lr can be vmapped. Every
    other argument (``kwargs`` and the factory's own defaults) stays a Python value, so
    optimizers that branch on an int in Python (``adafactor``'s ``min_dim_size_to_factor``)
    still trace.

    Raises:
      ValueError: naming ``optimizer`` if optax has no such optimizer taking
        ``learning_rate`` (the ``scale_by_*`` building blocks are not optimizers: they do
        not descend), or ``optimizer_kwargs`` if it takes no such argument or lacks a
        required one.
    """
    kwargs = dict(kwargs or {})
    # optax's optimizers are lower-case functions; CamelCase names are state classes.
    is_public = isinstance(name, str) and name.islower() and not name.startswith(("_", "scale_by_"))
    factory = getattr(optax, name, None) if is_public else None
    try:
        signature = inspect.signature(factory) if callable(factory) else None
    except (TypeError, ValueError):
        signature = None
    params = signature.parameters if signature is not None else {}
    if "learning_rate" not in params:
        raise ValueError(
            f"optimizer: expected the name of an optax optimizer that takes a learning_rate "
            f"(e.g. 'sgd', 'adam', 'adamw', 'rmsprop'), got {name!r}"
        )
    takes = sorted(set(params) - {"learning_rate"})
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = sorted(set(kwargs) - set(params)) if not has_var_kw else []
    if unknown or "learning_rate" in kwargs:
        raise ValueError(
            f"optimizer_kwargs: optax.{name} takes {takes}, got {sorted(kwargs)} "
            "(set the learning rate with lr=)"
        )
    try:
        signature.bind(learning_rate=1.0, **kwargs)
    except TypeError as e:
        raise ValueError(
            f"optimizer_kwargs: optax.{name} takes {takes}, got {sorted(kwargs)} ({e})"
        ) from None

    def with_lr(learning_rate):
        return factory(learning_rate=learning_rate, **kwargs)

    return lambda lr: optax.inject_hyperparams(with_lr)(learning_rate=lr)


def check_optimizer_runs(config: TrainConfig, params) -> None:
    """Traces one optimizer step abstractly (``jax.eval_shape``: no compiling, no FLOPs).

    Catches optimizers whose ``update`` needs more than ``(grads, state, params)``, such as
    ``optax.lbfgs`` (it wants the loss value and function), before the real program is
    built.

    Raises:
      ValueError: naming ``optimizer``.
    """
    optimizer = make_optimizer(config.optimizer, config.optimizer_kwargs)

    def one_update(p):
        return optimizer(jnp.float32(1.0)).update(p, optimizer(jnp.float32(1.0)).init(p), p)

    try:
        jax.eval_shape(one_update, params)
    except Exception as e:  # noqa: BLE001 - any failure here means the optimizer won't run
        raise ValueError(
            f"optimizer: optax.{config.optimizer} cannot be used as "
            f"update(grads, state, params) in a training step: {type(e).__name__}: {e}"
        ) from None


def _as_data(data) -> Data:
    if hasattr(data, "x_train"):
        return Data(data.x_train, data.y_train, data.x_test, data.y_test)
    if isinstance(data, Sequence) and len(data) == 4:
        return Data(*data)
    raise ValueError(
        "data: expected a Dataset (x_train, y_train, x_test, y_test) or a 4-tuple, "
        f"got {type(data).__name__}"
    )


def _is_real(x) -> bool:
    """A real number, numpy scalars included; ``True`` is not a learning rate."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_)


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_)


def validate(config: TrainConfig, data, params=None) -> Data:
    """Checks a config against its data (and user params) in plain Python, before compiling.

    Raises:
      ValueError: naming the field or argument, what was expected and what came.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    sizes = check_sizes(config.sizes, "config.sizes")
    check_loss_name(config.loss, "config.loss")
    # Checked for a single layer too, where it is unused: an unknown name is a typo.
    resolve_activations(config.activations, len(sizes) - 2)
    make_optimizer(config.optimizer, config.optimizer_kwargs)
    if config.init not in INITS:
        raise ValueError(f"config.init: expected one of {INITS}, got {config.init!r}")
    for name, value in (("lr", config.lr), ("init_scale", config.init_scale)):
        if not _is_real(value) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"config.{name}: expected a finite number > 0, got {value!r}")
    if not _is_int(config.epochs) or config.epochs < 1:
        raise ValueError(f"config.epochs: expected an int ≥ 1, got {config.epochs!r}")
    if not _is_int(config.seed):
        raise ValueError(f"config.seed: expected an int, got {config.seed!r}")
    for name in ("shuffle", "bias"):
        if not isinstance(getattr(config, name), bool | np.bool_):
            raise ValueError(
                f"config.{name}: expected True or False, got {getattr(config, name)!r}"
            )
    if config.grad not in GRAD_MODES:
        raise ValueError(f"config.grad: expected one of {GRAD_MODES}, got {config.grad!r}")
    if config.last_batch not in LAST_BATCH_MODES:
        raise ValueError(
            f"config.last_batch: expected one of {LAST_BATCH_MODES}, got {config.last_batch!r}"
        )

    data = _as_data(data)
    for split in ("train", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if np.ndim(x) != 2 or np.shape(x)[1] != sizes[0]:
            raise ValueError(
                f"data.x_{split}: expected shape (N, {sizes[0]}) to match config.sizes[0], "
                f"got shape {np.shape(x)}"
            )
        check_labels(y, sizes[-1], np.shape(x)[0], config.loss, f"data.y_{split}")
    n = np.shape(data.x_train)[0]
    bs = config.batch_size
    if not _is_int(bs) or bs < 1 or bs > n:
        raise ValueError(
            f"config.batch_size: expected an int in [1, {n}] (the training set size), got {bs!r}"
        )
    if params is not None:
        got = check_params(params, "params")
        if got != sizes:
            raise ValueError(f"params: expected layer widths {list(sizes)}, got {list(got)}")
        if config.bias != all("b" in layer for layer in params):
            raise ValueError(f"params: config.bias={config.bias} but the params' biases differ")
    abstract_params = jax.eval_shape(lambda: init_params(config, jax.random.PRNGKey(0)))
    check_optimizer_runs(config, abstract_params if params is None else params)
    return data


# ---------------------------------------------------------------------- the pure program


def init_params(config: TrainConfig, key, init_scale=None, dtype=jnp.float32):
    """The config's initial params; ``init_scale`` (may be traced) overrides the config's."""
    scale = config.init_scale if init_scale is None else init_scale
    return mlp_init(
        key, config.sizes, bias=config.bias, init_scale=scale, init=config.init, dtype=dtype
    )


def seed_keys(seed: int):
    """``(init_key, data_key) = split(PRNGKey(seed))``: the one seed convention.

    A run's initial params come from the first key and its minibatch order from the
    second; :func:`train` and every sweep record use this split, which is what makes a
    sweep record equal to its own ``train()`` call.
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


def _all_finite(tree):
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))


def _where(flag, new, old):
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), new, old)


def predicted_class(logits):
    """Argmax class; with one output (binary logistic), 1 where the logit is positive."""
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).astype(jnp.int32)
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


def target_class(labels):
    """Class ids from int ids, target rows (argmax) or binary (N,)/(N, 1) targets."""
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.integer) and labels.ndim == 1:
        return labels.astype(jnp.int32)
    if labels.ndim == 1 or labels.shape[-1] == 1:
        return (labels.reshape(labels.shape[0]) > 0.5).astype(jnp.int32)
    return jnp.argmax(labels, axis=-1).astype(jnp.int32)


def confidence(logits):
    """The model's probability for its predicted class: max softmax, or max(σ, 1 − σ)."""
    if logits.shape[-1] == 1:
        p = sigmoid(logits[..., 0])
        return jnp.maximum(p, 1.0 - p)
    return jnp.max(softmax(logits), axis=-1)


def make_train(config: TrainConfig, *, progress=None, skip_after_divergence: bool = True):
    """Returns the pure ``train_fn(params, lr, data_key, data)`` for ``config``.

    ``train_fn`` runs ``config.epochs`` epochs and returns ``(params, history, finite)``,
    with ``history[key]`` of shape (epochs,) (NaN for epochs skipped after divergence) and
    ``finite`` False if training diverged. It is pure: ``jit`` it, or ``vmap`` it over
    params and lr with a shared ``data_key`` so every model sees the same minibatches.

    Args:
      config: the run's (validated) config.
      progress: optional host function ``progress(epoch, metrics)`` called after each
        epoch through ``jax.debug.callback`` (for a progress bar).
      skip_after_divergence: skip the remaining epochs' work once a run diverged, with a
        ``lax.cond``. Pass False when ``train_fn`` will be ``vmap``-ped: with a batched
        predicate the cond becomes a select whose operands, the shared data included,
        are broadcast to every model, so each model gathers from its own copy of the data
        (measured 5-8x slower per model on MNIST). The results are the same either way: each
        step already freezes a diverged model's params.
    """
    acts = resolve_activations(
        config.activations if len(config.sizes) > 2 else None, len(config.sizes) - 2
    )
    loss_fn = LOSSES[config.loss]
    optimizer = make_optimizer(config.optimizer, config.optimizer_kwargs)

    def logits_and_grads(params, x, y):
        """Logits, the mean loss, ∂loss/∂logits and ∂loss/∂params for one batch."""
        if config.grad == "closed_form":
            zs, hidden = mlp_forward(params, x, acts)
            logits = zs[-1]
            g_logits = logits_grad(config.loss, logits, y)
            grads = backprop_from_forward(params, zs, hidden, g_logits, acts)
            return logits, loss_fn(logits, y), g_logits, grads
        # Splitting the VJP at the logits gives ∂L/∂z for the diagnostics at no extra cost.
        logits, apply_vjp = jax.vjp(lambda p: mlp_forward(p, x, acts)[0][-1], params)
        loss, g_logits = jax.value_and_grad(loss_fn)(logits, y)
        (grads,) = apply_vjp(g_logits)
        return logits, loss, g_logits, grads

    def step(carry, idx, x_all, y_all):
        params, opt_state, finite = carry
        x, y = x_all[idx], y_all[idx]
        n = idx.shape[0]
        logits, loss, g_logits, grads = logits_and_grads(params, x, y)
        updates, new_opt_state = optimizer(1.0).update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        ok = finite & jnp.isfinite(loss) & _all_finite(new_params)
        carry = (_where(ok, new_params, params), _where(ok, new_opt_state, opt_state), ok)
        wrong = predicted_class(logits) != target_class(y)
        sums = {
            "train_loss": loss * n,
            "train_accuracy": jnp.sum(~wrong),
            # ‖∂ℓ_i/∂z_i‖ = n ‖∂(mean)/∂z_i‖: each sample's own loss.
            "logits_grad_norm": jnp.sum(jnp.linalg.norm(g_logits * n, axis=-1)),
            "saturated_wrong": jnp.sum(wrong & (confidence(logits) > SATURATION_THRESHOLD)),
        }
        return carry, jax.tree.map(lambda v: v.astype(jnp.float32), sums)

    def evaluate(params, x, y):
        logits = mlp_forward(params, x, acts)[0][-1]
        return loss_fn(logits, y), jnp.mean(predicted_class(logits) == target_class(y))

    def run_epoch(carry, epoch, data_key, data: Data):
        n = data.x_train.shape[0]
        bs = config.batch_size
        n_full = n // bs
        if config.shuffle:
            order = jax.random.permutation(jax.random.fold_in(data_key, epoch), n)
        else:
            order = jnp.arange(n)
        body = lambda c, idx: step(c, idx, data.x_train, data.y_train)  # noqa: E731
        carry, sums = lax.scan(body, carry, order[: n_full * bs].reshape(n_full, bs))
        sums = jax.tree.map(jnp.sum, sums)
        seen = n_full * bs
        if config.last_batch == "keep" and n % bs:
            carry, last = body(carry, order[n_full * bs :])
            sums = jax.tree.map(jnp.add, sums, last)
            seen = n
        metrics = {k: v / seen for k, v in sums.items()}
        # train_loss summed loss·n per batch, so dividing by the rows seen gives the mean.
        test_loss, test_acc = evaluate(carry[0], data.x_test, data.y_test)
        metrics["test_loss"] = test_loss.astype(jnp.float32)
        metrics["test_accuracy"] = test_acc.astype(jnp.float32)
        return carry, metrics

    def train_fn(params, lr, data_key, data: Data):
        data = Data(*data)
        opt_state = optimizer(lr).init(params)
        carry = (params, opt_state, jnp.array(True))
        nan_metrics = {k: jnp.float32(jnp.nan) for k in HISTORY_KEYS}

        def epoch_body(carry, epoch):
            if skip_after_divergence:
                # Once diverged, skip the remaining epochs' work (a select under vmap).
                carry, metrics = lax.cond(
                    carry[2],
                    lambda c: run_epoch(c, epoch, data_key, data),
                    lambda c: (c, nan_metrics),
                    carry,
                )
            else:
                carry, metrics = run_epoch(carry, epoch, data_key, data)
            metrics = {
                k: jnp.where(carry[2], metrics[k], jnp.nan).astype(jnp.float32)
                for k in HISTORY_KEYS
            }
            if progress is not None:
                jax.debug.callback(progress, epoch, metrics)
            return carry, metrics

        (params, _, finite), history = lax.scan(epoch_body, carry, jnp.arange(config.epochs))
        return params, history, finite

    return train_fn


# ------------------------------------------------------------------------- the user call


class _ProgressBar:
    """A tqdm bar over epochs, fed from inside the compiled program."""

    def __init__(self, total: int, desc: str, *, file=None, leave: bool = True):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=leave, file=file)

    def __call__(self, epoch, metrics):
        self.bar.update(1)
        self.bar.set_postfix(
            loss=f"{float(metrics['train_loss']):.4f}",
            test_acc=f"{float(metrics['test_accuracy']):.4f}",
        )

    def close(self):
        self.bar.close()


def train(config: TrainConfig, data, *, params=None, progress: bool = False) -> TrainResult:
    """Trains ``config`` on ``data`` as one jitted program.

    Args:
      config: the run.
      data: a ``softjax.data.Dataset`` or ``(x_train, y_train, x_test, y_test)``; labels
        are int ids (N,) or target rows (N, K), as the loss takes them.
      params: initial params to start from instead of ``config``'s init (to compare with
        an external implementation); must match ``config.sizes`` and ``config.bias``.
      progress: show a per-epoch progress bar (tqdm).

    Returns:
      A :class:`TrainResult`. Bitwise deterministic for a given config and seed on CPU.

    Raises:
      ValueError: for a bad config, data or params, before anything compiles.

    Warns:
      RuntimeWarning: if the loss or an update became non-finite; training stopped there
        and the result holds the last finite params and the history up to that epoch.
    """
    data = validate(config, data, params)
    init_key, data_key = seed_keys(config.seed)
    dtype = param_dtype(data.x_train)
    if params is None:
        params = init_params(config, init_key, dtype=dtype)
    bar = _ProgressBar(config.epochs, f"{config.loss} lr={config.lr:g}") if progress else None
    try:
        train_fn = jax.jit(make_train(config, progress=bar))
        out = train_fn(params, jnp.asarray(config.lr, dtype), data_key, jax.device_put(data))
        params, history, finite = jax.block_until_ready(out)
    finally:
        if bar is not None:
            bar.close()
    history, diverged_epoch = cut_history(history, bool(finite))
    if diverged_epoch is not None:
        completed = diverged_epoch - 1
        warnings.warn(
            f"training diverged in epoch {diverged_epoch} of {config.epochs} (loss or update "
            f"became non-finite at lr={config.lr:g}); stopped and returned the last finite "
            f"params and the history of the {completed} completed epoch(s)",
            RuntimeWarning,
            stacklevel=2,
        )
    return TrainResult(params, history, not bool(finite), diverged_epoch, config)
