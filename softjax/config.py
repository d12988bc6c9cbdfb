"""What defines a run: :class:`TrainConfig`, its checks, and the rules every run derives
from it (the seed split, the params' dtype, the steps per epoch, the initial params).

Open, not closed: the loss is any loss spec (:func:`softjax.losses.resolve_loss`), the
optimizer an optax optimizer's name or a factory ``lr -> optax.GradientTransformation``, the
schedule a name or a factory ``(peak_lr, total_steps) -> schedule`` (both built and checked
in :mod:`softjax.optim`). The peak learning rate ``lr`` stays a traced array inside the
compiled program, so sweeps can ``vmap`` over it with a schedule too.

:meth:`TrainConfig.to_dict` records what ran readably (a function by its
``module.qualname``); :meth:`TrainConfig.from_dict` inverts it exactly for configs made of
names and keyword arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from softjax._checks import boolean, one_of, positive_float, positive_int, seed
from softjax.activations import resolve_activation, resolve_activations
from softjax.losses import LOSSES, BoundLoss, resolve_loss
from softjax.models import INITS, check_sizes, mlp_init
from softjax.optim import SCHEDULES, check_optimizer, check_optimizer_name, check_schedule
from softjax.user_models import as_model, check_model, init_model_params

GRAD_MODES = ("autodiff", "closed_form")
LAST_BATCH_MODES = ("keep", "drop")


def _loss_name(spec) -> str | None:
    """The registry name a loss spec asks for (``"name"`` or ``("name", kwargs)``); its
    kwargs are checked when the run resolves it, once (:func:`check_config`)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return spec[0]
    return None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
      sizes: layer widths ``[D, H_1, …, K]``; ``[D, K]`` is softmax/logistic/linear
        regression. None with a user ``model``.
      activations: hidden activations: one name, a ``(name, kwargs)`` pair, or one per
        hidden layer. Ignored for a single layer.
      bias: whether layers have biases.
      init: an init scheme from ``softjax.INITS``.
      init_scale: multiplies the initial params.
      loss: a loss spec: a registered name, ``(name, {kwargs})``, a function
        ``loss(logits, labels) -> scalar`` or a ``BoundLoss``.
      optimizer: the name of an optax optimizer taking ``learning_rate`` (``"sgd"``,
        ``"adam"``; momentum is ``sgd`` with ``optimizer_kwargs={"momentum": .9}``), or a
        factory ``lr -> optax.GradientTransformation`` such as
        ``lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))``; ``lr``
        is then the schedule (a function of the step count) or a traced scalar.
      optimizer_kwargs: extra keyword arguments for a named optimizer.
      lr: the learning rate; with a schedule, its peak.
      schedule: ``None`` (constant), a name from :data:`softjax.optim.SCHEDULES`, or a factory
        ``schedule(peak_lr, total_steps) -> (count -> lr)``: ``peak_lr`` is a traced float
        scalar (never branch on it in Python), ``total_steps`` the Python int
        ``epochs × steps per epoch``, and the returned optax schedule maps the optimizer's
        step count (an int32 array, from 0) to the learning rate. Build the shape with a
        peak of 1 and scale it, e.g. ``lambda peak, total: (lambda count: peak *
        optax.cosine_decay_schedule(1.0, total)(count))``; optax's own schedules may
        branch in Python on their values and then fail on a traced peak.
      schedule_kwargs: keyword arguments of a named schedule (see :data:`softjax.optim.SCHEDULES`).
      batch_size: minibatch size.
      epochs: the run's TOTAL number of epochs (a resumed run continues up to it).
      seed: the run's seed, an int in ``[0, 2**32)``; the init key and the data-order key
        are split from it.
      shuffle: draw a fresh permutation each epoch (on the device); ``False`` gives
        batches in order.
      last_batch: ``"keep"`` trains on the final partial batch too (every sample every
        epoch, as PyTorch's ``DataLoader``); ``"drop"`` skips it.
      grad: ``"autodiff"`` (``jax.vjp``) or ``"closed_form"`` (the notes' backprop).
      test_each_epoch: evaluate the test set after every epoch (``test_*`` in the
        history per epoch); ``False`` evaluates it after the last epoch only (the earlier
        epochs' ``test_*`` are NaN). A run that selects on validation needs test once,
        and skipping it saves a forward pass over the test set per epoch.
      diagnostics: compute the per-step diagnostics of the history (the logits-gradient
        norms, saturated-and-wrong, the cosine to CE's step, the hidden layers' f′; see
        ``softjax.history.DIAGNOSTIC_KEYS``); ``False`` keeps only the losses and
        accuracies (the diagnostics are NaN), for runs where only those matter, e.g. a
        large hyper-parameter search: a small model's step then runs far fewer XLA
        kernels, which shortens the compile and, for sweeps of small models, the run.
        Training itself is the same: the params are equal.
      model: None (the MLP of ``sizes``, ``activations``, ``bias`` and ``init``) or a
        user model: an ``(init_fn, apply_fn)`` pair, ``init_fn(key) -> params`` and
        ``apply_fn(params, x) -> logits (B, K)``, a ``softjax.Model`` or
        ``softjax.flax_model(module, input_shape)``; ``init_scale`` then multiplies every
        leaf of ``init_fn``'s params (see :mod:`softjax.user_models`: the protocol, the
        diagnostics it keeps, how records name it).
    """

    sizes: tuple[int, ...] | None = None
    activations: Any = "relu"
    bias: bool = True
    init: str = "lecun_normal"
    init_scale: float = 1.0
    loss: Any = "cce"
    optimizer: str | Callable = "sgd"
    optimizer_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lr: float = 0.1
    schedule: str | Callable | None = None
    schedule_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 64
    epochs: int = 5
    seed: int = 0
    shuffle: bool = True
    last_batch: str = "keep"
    grad: str = "autodiff"
    test_each_epoch: bool = True
    diagnostics: bool = True
    model: Any = None

    def __post_init__(self):
        # softjax.user_models: an (init_fn, apply_fn) pair becomes a Model.
        object.__setattr__(self, "model", as_model(self.model))
        # JSON has no tuples: normalise lists so that from_dict(to_dict()) compares equal.
        for name in ("sizes", "activations", "loss"):
            object.__setattr__(self, name, _tuples(getattr(self, name)))
        for name in ("optimizer_kwargs", "schedule_kwargs"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, _tuples(dict(value)))
        # Names are checked when the config is made: a typo fails where it is written.
        resolved = isinstance(self.loss, BoundLoss) or callable(self.loss)
        if not resolved and _loss_name(self.loss) not in LOSSES:
            resolve_loss(self.loss, "config.loss")  # raises, naming the field
        acts = self.activations
        pair = isinstance(acts, tuple) and len(acts) == 2 and isinstance(acts[1], Mapping)
        specs = [acts] if isinstance(acts, str) or pair else acts if isinstance(acts, tuple) else ()
        for i, spec in enumerate(specs):
            resolve_activation(spec, "activations" if spec is acts else f"activations[{i}]")
        if isinstance(self.optimizer, str):
            check_optimizer_name(self.optimizer, self.optimizer_kwargs)
        if isinstance(self.schedule, str):
            one_of(self.schedule, SCHEDULES, "config.schedule")

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that says what ran.

        Names and keyword arguments are kept as they are; the loss by its spec (a name or
        ``[name, {kwargs}]``); a function (an optimizer or schedule factory, an
        unregistered loss) as ``{"callable": "module.qualname"}``, which
        :meth:`from_dict` cannot rebuild (pass the function to it instead).
        """
        d = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if self.model is None:
            # An MLP's dict (and so its sweep records' keys) is the one before `model` existed.
            del d["model"]
        loss = self.loss
        if isinstance(loss, BoundLoss | str):  # resolved, or a name: it says itself
            return d | {"loss": _jsonable(getattr(loss, "spec", loss))}
        if not callable(loss):
            try:
                loss = resolve_loss(loss, "config.loss")
            except ValueError:
                return d | {"loss": _jsonable(self.loss)}
            d["loss"] = _jsonable(loss.spec)
        else:
            bound = resolve_loss(loss)
            registered = bound.name in LOSSES and bound.function is loss
            d["loss"] = bound.name if registered else _callable_name(loss)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **overrides) -> TrainConfig:
        """The config that :meth:`to_dict` described; ``overrides`` replace fields.

        ``from_dict(cfg.to_dict()) == cfg`` for every config made of names and keyword
        arguments. A registered loss function comes back as its registered name (the same
        loss). Functions that are not registered cannot round-trip: pass them as
        ``overrides`` (``from_dict(d, optimizer=my_factory)``).

        Raises:
          ValueError: naming the field for an unknown field or a function that cannot
            be rebuilt.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"d: unknown TrainConfig fields {unknown}")
        fields = {**dict(d), **overrides}
        for name, value in fields.items():
            if isinstance(value, Mapping) and set(value) == {"callable"}:
                raise ValueError(
                    f"config.{name}: the recorded run used the function {value['callable']}, "
                    f"which a dict cannot rebuild; pass it as from_dict(d, {name}=...)"
                )
        if isinstance(fields.get("loss"), str) and fields["loss"] not in LOSSES:
            raise ValueError(
                f"config.loss: {fields['loss']!r} is not a registered loss; register its "
                "function with softjax.register_loss or pass it as from_dict(d, loss=...)"
            )
        return cls(**fields)


def _tuples(x):
    if type(x) in (list, tuple):  # NamedTuples (a BoundLoss) stay as they are
        return tuple(_tuples(v) for v in x)
    if isinstance(x, Mapping):
        return {k: _tuples(v) for k, v in x.items()}
    return x


def _callable_name(fn) -> dict[str, str]:
    module = getattr(fn, "__module__", None) or type(fn).__module__
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return {"callable": f"{module}.{qualname}"}


def _jsonable(x):
    if isinstance(x, np.generic):  # numpy scalars (lr=np.float32(0.05)) as JSON numbers
        return x.item()
    if isinstance(x, Mapping):
        return {k: _jsonable(v) for k, v in x.items()}
    if type(x) in (list, tuple):
        return [_jsonable(v) for v in x]
    if hasattr(x, "spec"):  # a BoundLoss or BoundActivation knows how to say itself
        return _jsonable(x.spec)
    if callable(x):
        return _callable_name(x)
    return x


def check_config(config: TrainConfig) -> BoundLoss:
    """Checks every field in plain Python, before anything compiles; returns the loss,
    resolved once here for the whole run.

    Raises:
      ValueError: naming the field, what was expected and what came.
    """
    check_fields(config)
    loss = resolve_loss(config.loss, "config.loss")
    check_loss(config, loss)
    return loss


def check_fields(config: TrainConfig, *, grid_axes: bool = False) -> None:
    """Checks every field but the loss (:func:`check_loss`).

    With ``grid_axes`` the fields a sweep's grid replaces and checks as its axes, ``lr``
    and ``init_scale``, are left to it (:func:`softjax.sweeps.grid.check_grid`).

    Raises:
      ValueError: naming the field, what was expected and what came.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    sizes = check_sizes(config.sizes, "config.sizes") if config.model is None else None
    if config.model is not None:  # a user model: softjax.user_models checks its fields
        check_model(config)
    else:
        # Checked for a single layer too, where it is unused: an unknown name is a typo.
        resolve_activations(config.activations, len(sizes) - 2)
    check_optimizer(config)
    one_of(config.init, INITS, "config.init")
    if not grid_axes:
        positive_float(config.lr, "config.lr")
        positive_float(config.init_scale, "config.init_scale")
    positive_int(config.epochs, "config.epochs")
    positive_int(config.batch_size, "config.batch_size")
    seed(config.seed, "config.seed")
    boolean(config.shuffle, "config.shuffle")
    boolean(config.test_each_epoch, "config.test_each_epoch")
    boolean(config.diagnostics, "config.diagnostics")
    boolean(config.bias, "config.bias")
    one_of(config.grad, GRAD_MODES, "config.grad")
    one_of(config.last_batch, LAST_BATCH_MODES, "config.last_batch")
    check_schedule(config)


def check_loss(config: TrainConfig, loss: BoundLoss) -> None:
    """Checks that the resolved ``loss`` can train ``config``: a closed-form logits
    gradient when ``config.grad="closed_form"``."""
    if config.grad == "closed_form" and not loss.has_closed_form:
        raise ValueError(
            f"config.grad: 'closed_form' needs a loss with a closed-form logits gradient; "
            f"{loss.name!r} has none (register one, or use grad='autodiff')"
        )


# ------------------------------------------------------------ the rules a run derives


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


def steps_per_epoch(config: TrainConfig, n: int) -> int:
    """Optimizer steps per epoch for ``n`` training rows (the schedule's unit)."""
    full, rest = divmod(n, config.batch_size)
    return full + (1 if rest and config.last_batch == "keep" else 0)


def init_params(config: TrainConfig, key, init_scale=None, dtype=jnp.float32):
    """The config's initial params; ``init_scale`` (may be traced) overrides the config's."""
    scale = config.init_scale if init_scale is None else init_scale
    if config.model is not None:  # softjax.user_models: scale · init_fn(key)
        return init_model_params(config.model, key, scale, dtype)
    return mlp_init(
        key, config.sizes, bias=config.bias, init_scale=scale, init=config.init, dtype=dtype
    )
