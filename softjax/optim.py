"""A config's optimizer and learning-rate schedule: how ``optimizer`` and ``schedule``
become the optax transformation a training step applies, and their checks.

The peak learning rate stays a traced array inside the compiled program (sweeps ``vmap``
over it), so every schedule is built with peak 1 and scaled by the traced peak.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import optax

from softjax._checks import is_int, is_real, one_of, positive_float, positive_int

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


def optimizer_factory(config) -> Callable:
    """``lr -> optax.GradientTransformation`` for the config, unchecked (see
    :func:`softjax.config.check_config`); ``lr`` may be a traced scalar or a schedule."""
    if callable(config.optimizer):
        return config.optimizer
    factory, kwargs = getattr(optax, config.optimizer), dict(config.optimizer_kwargs)
    return lambda lr: factory(learning_rate=lr, **kwargs)


def check_optimizer(config) -> None:
    """Checks ``config.optimizer`` and its ``optimizer_kwargs``: a named optax optimizer
    taking ``learning_rate`` and the keyword arguments it takes, or a factory with none."""
    if not callable(config.optimizer):
        check_optimizer_name(config.optimizer, config.optimizer_kwargs)
    elif config.optimizer_kwargs:
        raise ValueError(
            "config.optimizer_kwargs: an optimizer factory takes no optimizer_kwargs "
            f"(bind them in the factory), got {sorted(config.optimizer_kwargs)}"
        )


def check_optimizer_name(name, kwargs) -> None:
    """An optax optimizer name and its keyword arguments, checked against its signature."""
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


def make_schedule(config, peak_lr, steps_per_epoch: int):
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


def check_schedule(config) -> None:
    """Checks ``config.schedule`` and its ``schedule_kwargs`` (see :data:`SCHEDULES`)."""
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
    return is_real(x) and 0 <= x <= 1
