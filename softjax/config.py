"""What defines a run: :class:`TrainConfig`, its optimizer and its learning-rate schedule.

Open, not closed: the loss is any loss spec (:func:`softjax.losses.resolve_loss`), the
optimizer an optax optimizer's name or a factory ``lr -> optax.GradientTransformation``, the
schedule a name or a factory ``(peak_lr, total_steps) -> schedule``. The peak learning rate
``lr`` stays a traced array inside the compiled program, so sweeps can ``vmap`` over it with
a schedule too.

:meth:`TrainConfig.to_dict` records what ran readably (a function by its
``module.qualname``); :meth:`TrainConfig.from_dict` inverts it exactly for configs made of
names and keyword arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optax

from softjax._checks import boolean, is_int, one_of, positive_float, positive_int, seed
from softjax.activations import resolve_activation, resolve_activations
from softjax.losses import BoundLoss, resolve_loss
from softjax.models import INITS, check_sizes

GRAD_MODES = ("autodiff", "closed_form")
LAST_BATCH_MODES = ("keep", "drop")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "step")
"""Named schedules, each over the run's total steps (``epochs × steps per epoch``) with peak
``lr``; their ``schedule_kwargs``:

* ``"constant"``: none (the same as ``schedule=None``);
* ``"cosine"``: ``alpha`` (final lr as a fraction of the peak, default 0), via
  ``optax.cosine_decay_schedule``;
* ``"warmup_cosine"``: ``warmup_steps`` or ``warmup_fraction`` of the total steps (default
  0.05), ``init_fraction`` and ``end_fraction`` of the peak (default 0), via
  ``optax.warmup_cosine_decay_schedule`` (its decay steps include the warmup);
* ``"step"``: ``boundaries`` in epochs (default ``[epochs // 2]``) and ``factor`` (default
  0.1): the lr is multiplied by ``factor`` at each boundary, via
  ``optax.piecewise_constant_schedule``.
"""
_SCHEDULE_KWARGS = {
    "constant": set(),
    "cosine": {"alpha"},
    "warmup_cosine": {"warmup_steps", "warmup_fraction", "init_fraction", "end_fraction"},
    "step": {"boundaries", "factor"},
}


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
      loss: a loss spec: a registered name, ``(name, {kwargs})``, a function
        ``loss(logits, labels) -> scalar`` or a ``BoundLoss``.
      optimizer: the name of an optax optimizer taking ``learning_rate`` (``"sgd"``,
        ``"adam"``; momentum is ``sgd`` with ``optimizer_kwargs={"momentum": .9}``), or a
        factory ``lr -> optax.GradientTransformation`` such as
        ``lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))``; ``lr``
        is then the schedule (a function of the step count) or a traced scalar.
      optimizer_kwargs: extra keyword arguments for a named optimizer.
      lr: the learning rate; with a schedule, its peak.
      schedule: ``None`` (constant), a name from :data:`SCHEDULES`, or a factory
        ``schedule(peak_lr, total_steps) -> (count -> lr)``: ``peak_lr`` is a traced float
        scalar (never branch on it in Python), ``total_steps`` the Python int
        ``epochs × steps per epoch``, and the returned optax schedule maps the optimizer's
        step count (an int32 array, from 0) to the learning rate. Build the shape with a
        peak of 1 and scale it, e.g. ``lambda peak, total: (lambda count: peak *
        optax.cosine_decay_schedule(1.0, total)(count))``; optax's own schedules may
        branch in Python on their values and then fail on a traced peak.
      schedule_kwargs: keyword arguments of a named schedule (see :data:`SCHEDULES`).
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
        epochs' ``test_*`` are NaN). A study that selects on validation needs test once,
        and skipping it saves a forward pass over the test set per epoch (in the loss
        study's MLPs, 10,000 test rows against 10,000 training rows' forward and backward).
      diagnostics: compute the per-step diagnostics of the history (the logits-gradient
        norms, saturated-and-wrong, the cosine to CE's step, the hidden layers' f′; see
        ``softjax.training.DIAGNOSTIC_KEYS``); ``False`` keeps only the losses and
        accuracies (the diagnostics are NaN), for runs where only those matter, e.g. a
        large hyper-parameter search: a small model's step is then about half as many
        XLA kernels, which shortens the compile and, for sweeps of small models, the run
        (the ``softjax_no_diagnostics`` rows of ``results/benchmarks.md``).
        Training itself is the same: the params are equal.
    """

    sizes: tuple[int, ...]
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

    def __post_init__(self):
        # JSON has no tuples: normalise lists so that from_dict(to_dict()) compares equal.
        for name in ("sizes", "activations", "loss"):
            object.__setattr__(self, name, _tuples(getattr(self, name)))
        for name in ("optimizer_kwargs", "schedule_kwargs"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, _tuples(dict(value)))
        # Names are checked when the config is made: a typo fails where it is written.
        if not callable(self.loss):
            resolve_loss(self.loss, "config.loss")
        acts = self.activations
        pair = isinstance(acts, tuple) and len(acts) == 2 and isinstance(acts[1], Mapping)
        specs = [acts] if isinstance(acts, str) or pair else acts if isinstance(acts, tuple) else ()
        for i, spec in enumerate(specs):
            resolve_activation(spec, "activations" if spec is acts else f"activations[{i}]")
        if isinstance(self.optimizer, str):
            _check_named_optimizer(self.optimizer, self.optimizer_kwargs)
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
        loss = self.loss
        if isinstance(loss, BoundLoss) or not callable(loss):
            try:
                loss = resolve_loss(loss, "config.loss")
            except ValueError:
                return d | {"loss": _jsonable(self.loss)}
            d["loss"] = _jsonable(loss.spec)
        else:
            bound = resolve_loss(loss)
            registered = bound.name in _registered_losses() and bound.function is loss
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
        if isinstance(fields.get("loss"), str) and fields["loss"] not in _registered_losses():
            raise ValueError(
                f"config.loss: {fields['loss']!r} is not a registered loss; register its "
                "function with softjax.register_loss or pass it as from_dict(d, loss=...)"
            )
        return cls(**fields)


def _registered_losses():
    from softjax.losses import LOSSES

    return LOSSES


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


# ------------------------------------------------------------------- optimizer, schedule


def optimizer_factory(config: TrainConfig) -> Callable:
    """``lr -> optax.GradientTransformation`` for the config, unchecked (see
    :func:`check_config`); ``lr`` may be a traced scalar or a schedule."""
    if callable(config.optimizer):
        return config.optimizer
    factory, kwargs = getattr(optax, config.optimizer), dict(config.optimizer_kwargs)
    return lambda lr: factory(learning_rate=lr, **kwargs)


def _check_named_optimizer(name, kwargs) -> None:
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
            "config.optimizer: expected the name of an optax optimizer that takes a "
            "learning_rate (e.g. 'sgd', 'adam', 'adamw') or a factory lr -> "
            f"optax.GradientTransformation, got {name!r}"
        )
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"config.optimizer_kwargs: expected a dict, got {kwargs!r}")
    takes = sorted(set(params) - {"learning_rate"})
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = sorted(set(kwargs) - set(params)) if not has_var_kw else []
    if unknown or "learning_rate" in kwargs:
        raise ValueError(
            f"config.optimizer_kwargs: optax.{name} takes {takes}, got {sorted(kwargs)} "
            "(set the learning rate with lr=)"
        )
    try:
        signature.bind(learning_rate=1.0, **kwargs)
    except TypeError as e:
        raise ValueError(
            f"config.optimizer_kwargs: optax.{name} takes {takes}, got {sorted(kwargs)} ({e})"
        ) from None


def make_schedule(config: TrainConfig, peak_lr, steps_per_epoch: int):
    """The learning rate the optimizer gets: ``peak_lr`` itself, or an optax schedule
    over ``config.epochs × steps_per_epoch`` steps (see :data:`SCHEDULES`)."""
    total = config.epochs * steps_per_epoch
    if callable(config.schedule):
        return config.schedule(peak_lr, total)
    kw = dict(config.schedule_kwargs)
    if config.schedule in (None, "constant"):
        return peak_lr
    # optax branches in Python on some values (warmup_cosine compares peak and init), so
    # each shape is built with peak 1 and scaled by the traced peak.
    if config.schedule == "cosine":
        shape = optax.cosine_decay_schedule(1.0, total, alpha=kw.get("alpha", 0.0))
    elif config.schedule == "warmup_cosine":
        warmup = kw.get("warmup_steps", round(kw.get("warmup_fraction", 0.05) * total))
        shape = optax.warmup_cosine_decay_schedule(
            init_value=kw.get("init_fraction", 0.0),
            peak_value=1.0,
            warmup_steps=warmup,
            decay_steps=max(total, warmup + 1),  # warmup_fraction=1: no decay, optax wants 1
            end_value=kw.get("end_fraction", 0.0),
        )
    else:
        boundaries = kw.get("boundaries", [config.epochs // 2] if config.epochs > 1 else [])
        shape = optax.piecewise_constant_schedule(
            1.0, {int(b) * steps_per_epoch: kw.get("factor", 0.1) for b in boundaries}
        )
    return lambda count: peak_lr * shape(count)


def _check_schedule(config: TrainConfig) -> None:
    schedule, kw = config.schedule, config.schedule_kwargs
    if callable(schedule):
        if kw:
            raise ValueError(
                "config.schedule_kwargs: a schedule factory takes no schedule_kwargs "
                f"(bind them in the factory), got {sorted(kw)}"
            )
        return
    if schedule is not None:
        one_of(schedule, SCHEDULES, "config.schedule")
    if not isinstance(kw, Mapping):
        raise ValueError(f"config.schedule_kwargs: expected a dict, got {kw!r}")
    allowed = _SCHEDULE_KWARGS[schedule or "constant"]
    if set(kw) - allowed:
        raise ValueError(
            f"config.schedule_kwargs: schedule {schedule!r} takes {sorted(allowed)}, "
            f"got {sorted(kw)}"
        )
    if "warmup_steps" in kw and "warmup_fraction" in kw:
        raise ValueError("config.schedule_kwargs: give warmup_steps or warmup_fraction, not both")
    if "warmup_steps" in kw:
        positive_int(kw["warmup_steps"], "config.schedule_kwargs['warmup_steps']", minimum=0)
    for name in ("warmup_fraction", "init_fraction", "end_fraction", "alpha"):
        if name in kw and not (_real01(kw[name])):
            raise ValueError(
                f"config.schedule_kwargs['{name}']: expected a number in [0, 1], got {kw[name]!r}"
            )
    if "factor" in kw:
        positive_float(kw["factor"], "config.schedule_kwargs['factor']")
    if "boundaries" in kw:
        b = kw["boundaries"]
        ok = isinstance(b, list | tuple) and all(is_int(e) and 0 < e < config.epochs for e in b)
        if not ok or list(b) != sorted(set(b)):
            raise ValueError(
                "config.schedule_kwargs['boundaries']: expected increasing epochs in "
                f"[1, {config.epochs - 1}], got {b!r}"
            )


def _real01(x) -> bool:
    from softjax._checks import is_real

    return is_real(x) and 0 <= x <= 1


def check_config(config: TrainConfig) -> BoundLoss:
    """Checks every field in plain Python, before anything compiles; returns the loss.

    Raises:
      ValueError: naming the field, what was expected and what came.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    sizes = check_sizes(config.sizes, "config.sizes")
    loss = resolve_loss(config.loss, "config.loss")
    # Checked for a single layer too, where it is unused: an unknown name is a typo.
    resolve_activations(config.activations, len(sizes) - 2)
    if not callable(config.optimizer):
        _check_named_optimizer(config.optimizer, config.optimizer_kwargs)
    elif config.optimizer_kwargs:
        raise ValueError(
            "config.optimizer_kwargs: an optimizer factory takes no optimizer_kwargs "
            f"(bind them in the factory), got {sorted(config.optimizer_kwargs)}"
        )
    one_of(config.init, INITS, "config.init")
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
    if config.grad == "closed_form" and not loss.has_closed_form:
        raise ValueError(
            f"config.grad: 'closed_form' needs a loss with a closed-form logits gradient; "
            f"{loss.name!r} has none (register one, or use grad='autodiff')"
        )
    _check_schedule(config)
    return loss
