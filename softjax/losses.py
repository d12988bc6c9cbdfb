"""The one registry of losses: :data:`LOSSES`, one :class:`LossRecord` per name, and how
a loss becomes a value (:func:`resolve_loss`, :class:`BoundLoss`, :func:`register_loss`).

A loss is ONE record: its function, its closed-form ∂L/∂logits, what its targets must be
(``target_kind``), what labels it receives (``labels``) and its display colour.
``LOSSES[name]`` is the function (``LOSSES["mse"](logits, labels)``); ``LOSSES.record(name)``
the record. The built-ins and their formulas are in ``softjax.builtin_losses``; a user's
loss gets the same record from :func:`register_loss`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from softjax import loss_kernels as K
from softjax import targets as _targets
from softjax.activations import Registry
from softjax.builtin_losses import (
    LossRecord,
    bce,
    cce,
    cce_dir_mse_norm,
    cce_smoothed,
    gce,
    mae,
    mse,
    mse_dir_cce_norm,
    sigmoid_bce,
    sigmoid_mse,
    square,
    square_rescaled,
)
from softjax.targets import logits_and_targets, to_ids, to_targets

_BUILTIN_FUNCTIONS = (cce, mse, bce, sigmoid_bce, square, square_rescaled, mae, sigmoid_mse)
_BUILTIN_FUNCTIONS += (cce_smoothed, gce, cce_dir_mse_norm, mse_dir_cce_norm)


class LossRegistry(Registry):
    """Name → :class:`LossRecord`; as a Mapping it gives each loss's function, so
    ``LOSSES[name](logits, labels)`` calls it. :meth:`record` gives the whole record."""

    def __getitem__(self, name):
        return super().__getitem__(name).function

    def record(self, name) -> LossRecord:
        """The :class:`LossRecord` of ``name`` (an unknown name raises as ``LOSSES[name]``)."""
        return super().__getitem__(name)


LOSSES: LossRegistry = LossRegistry(
    {f.__name__: f.record for f in _BUILTIN_FUNCTIONS}, kind="loss", argname="loss"
)
"""Every loss by name: the built-ins and whatever :func:`register_loss` added. The one
list of loss names, and (``LOSSES.record(name)``) the one record of each."""


def _record_of(name: str, function: Callable) -> LossRecord:
    """The registered record of ``name`` if it is this function's, else a bare record (an
    unregistered function, or one that only shares a registered name)."""
    if name in LOSSES and LOSSES.record(name).function is function:
        return LOSSES.record(name)
    return LossRecord(name, function)


class BoundLoss(NamedTuple):
    """A loss with its keyword arguments bound: what a training step calls.

    Attributes:
      name: the registry name (or an unregistered function's ``__name__``), for records.
      kwargs: the bound keyword arguments, sorted ``(name, value)`` pairs.
      function: the loss ``function(logits, labels, **kwargs) -> scalar batch mean``.
    """

    name: str
    kwargs: tuple[tuple[str, Any], ...]
    function: Callable

    @property
    def record(self) -> LossRecord:
        """Its :class:`LossRecord` (a bare one for an unregistered function)."""
        return _record_of(self.name, self.function)

    @property
    def is_builtin(self) -> bool:
        """Whether this is one of softjax's own losses (not a user's of the same name)."""
        return self.record.builtin

    @property
    def target_kind(self) -> str:
        """What its targets must be (``softjax.targets.TARGET_KINDS``)."""
        return self.record.target_kind

    @property
    def labels(self) -> str:
        """What labels its function receives: ``"any"``, ``"ids"`` or ``"rows"``."""
        return self.record.labels

    def _labels_for(self, logits, labels):
        """The labels in the form the function declared (see :func:`register_loss`)."""
        form = self.record.labels
        if form == "ids":
            return to_ids(labels)
        if form == "rows":
            return to_targets(jnp.asarray(logits), labels)
        return labels

    def fn(self, logits, labels):
        """The scalar batch-mean loss (a built-in validates its arguments)."""
        return self.function(logits, self._labels_for(logits, labels), **dict(self.kwargs))

    def value_and_grad(self, logits, labels):
        """``(fn(logits, labels), ∂fn/∂logits)`` by ``jax.value_and_grad``: a training
        step's loss value and the gradient it back-propagates (a built-in's closed form,
        through its custom derivative; the sweep's blocked loss overrides this)."""
        return jax.value_and_grad(self.fn)(logits, labels)

    def kernel(self, z, y):
        """The built-in's value on float target rows ``y`` (N, K), unchecked and
        differentiated by its closed form: for traced programs whose labels were validated
        at the boundary (see ``targets.to_targets``)."""
        record = self.record
        return K.closed_form_loss(record.kernel, record.kernel_grad, z, y, dict(self.kwargs))

    @property
    def has_closed_form(self) -> bool:
        """Whether :meth:`logits_grad` has a closed form (else use ``jax.grad``)."""
        record = self.record
        return record.kernel_grad is not None or record.logits_grad is not None

    def logits_grad(self, logits, labels):
        """The closed-form ∂(mean loss)/∂logits, shape (N, K).

        Raises:
          ValueError: naming ``loss`` when this loss has no closed form.
        """
        record = self.record
        if record.kernel_grad is not None:
            z, y = logits_and_targets(logits, labels, self)
            return record.kernel_grad(z, y, **dict(self.kwargs)) / z.shape[0]
        if record.logits_grad is None:
            raise ValueError(
                f"loss: {self.name!r} has no closed-form logits gradient; register one with "
                "register_loss(name, fn, logits_grad=...) or use grad='autodiff'"
            )
        labels = self._labels_for(logits, labels)
        return record.logits_grad(logits, labels, **dict(self.kwargs))

    @property
    def spec(self):
        """JSON-ready: the name, or ``[name, {kwargs}]`` when it has keyword arguments."""
        return [self.name, dict(self.kwargs)] if self.kwargs else self.name


LossSpec = str | tuple[str, Mapping[str, Any]] | Callable | BoundLoss


def register_loss(
    name: str,
    fn: Callable,
    logits_grad: Callable | None = None,
    *,
    labels: str = "any",
    colour: str = "tab:gray",
    overwrite: bool = False,
) -> BoundLoss:
    """Adds a user's loss to :data:`LOSSES` under ``name`` (one :class:`LossRecord`), so
    configs, records and figures can name it.

    >>> def hinge(logits, labels, margin=1.0):
    ...     z_y = jnp.take_along_axis(logits, labels[:, None], axis=-1)
    ...     return jnp.mean(jnp.sum(jnp.maximum(0.0, margin + logits - z_y), -1) - margin)
    >>> _ = register_loss("doctest_hinge", hinge, labels="ids", overwrite=True)
    >>> bound = resolve_loss(("doctest_hinge", {"margin": 2.0}))
    >>> z = jnp.array([[0.0, 1.0]])
    >>> float(bound.fn(z, jnp.array([1]))), float(bound.fn(z, jnp.array([[0.0, 1.0]])))
    (1.0, 1.0)

    Args:
      name: a new name; a built-in's name is refused, and so is a registered one unless
        ``overwrite=True`` (a silent replacement would let records and resumed sweeps
        under that name mean another loss).
      fn: ``fn(logits, labels, **kwargs) -> scalar batch mean``, pure (jit/grad/vmap-able);
        its keyword parameters are what ``(name, {kwargs})`` specs may set.
      logits_grad: its closed-form ∂(mean)/∂logits with the same arguments, if any.
      labels: what ``fn`` receives, whatever the data hold: ``"any"`` (the labels as given:
        int ids (N,) or target rows (N, K)), ``"ids"`` (int class ids (N,); one-hot rows
        are turned into their ids, and rows that are not one-hot are refused when the data
        are checked) or ``"rows"`` (float rows (N, K) in the logits' dtype; ids are
        one-hot encoded). Applies wherever softjax calls the loss (``BoundLoss.fn``,
        ``train``, ``sweep``), and to ``logits_grad``.
      colour: its colour in figures.
      overwrite: replace a registered user loss of the same name.

    Returns:
      The :class:`BoundLoss` for ``name``.

    Raises:
      ValueError: naming the argument for a bad, built-in or (without ``overwrite``)
        taken name, a non-callable ``fn``/``logits_grad``, or an unknown ``labels``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if name in LOSSES and LOSSES.record(name).builtin:
        raise ValueError(f"name: {name!r} is a built-in loss and cannot be replaced")
    if name in LOSSES and not overwrite:
        raise ValueError(
            f"name: {name!r} is already a registered loss; pass overwrite=True to replace it"
        )
    if not callable(fn):
        raise ValueError(f"fn: expected a callable loss(logits, labels), got {fn!r}")
    if logits_grad is not None and not callable(logits_grad):
        raise ValueError(f"logits_grad: expected a callable or None, got {logits_grad!r}")
    if labels not in _targets.LABEL_FORMS:
        raise ValueError(f"labels: expected one of {list(_targets.LABEL_FORMS)}, got {labels!r}")
    if not isinstance(colour, str):
        raise ValueError(f"colour: expected a matplotlib colour string, got {colour!r}")
    record = LossRecord(name, fn, logits_grad=logits_grad, labels=labels, colour=colour)
    LOSSES._register(name, record, overwrite=True)
    return BoundLoss(name, (), fn)


def _check_kwargs(name: str, fn: Callable, kwargs: Mapping, argname: str) -> None:
    """The keyword parameters a loss takes are those of its signature after (logits, labels)."""
    try:
        params = list(inspect.signature(fn).parameters.values())[2:]
    except (TypeError, ValueError):  # no signature (some builtins): nothing to check
        return
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    allowed = sorted(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"{argname}: loss {name!r} takes parameters {allowed}, got {unknown}")


def resolve_loss(spec: LossSpec, argname: str = "loss") -> BoundLoss:
    """Turns a loss spec into a :class:`BoundLoss`.

    A spec is a registered name (``"cce"``), a ``(name, {kwargs})`` pair
    (``("cce_smoothed", {"smoothing": 0.1})``), a :class:`BoundLoss`, or a function
    ``loss(logits, labels) -> scalar``: a registered function keeps its registered name,
    any other is named by its ``__name__``.

    >>> resolve_loss(("square_rescaled", {"k": 2.0})).spec
    ['square_rescaled', {'k': 2.0}]

    Raises:
      ValueError: naming ``argname`` for an unknown name, a keyword argument the loss
        does not take, or a malformed spec.
    """
    if isinstance(spec, BoundLoss):
        return spec
    if callable(spec):
        for name, function in LOSSES.items():
            if function is spec:
                return BoundLoss(name, (), spec)
        return BoundLoss(getattr(spec, "__name__", type(spec).__name__), (), spec)
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif (
        isinstance(spec, tuple | list)
        and len(spec) == 2
        and isinstance(spec[0], str)
        and isinstance(spec[1], Mapping)
    ):
        name, kwargs = spec[0], dict(spec[1])
    else:
        raise ValueError(
            f"{argname}: expected a loss name, a (name, kwargs) pair or a function "
            f"loss(logits, labels), got {spec!r}"
        )
    if name not in LOSSES:
        raise ValueError(f"{argname}: unknown loss {name!r}; expected one of {list(LOSSES)}")
    _check_kwargs(name, LOSSES[name], kwargs, argname)
    return BoundLoss(name, tuple(sorted(kwargs.items())), LOSSES[name])


def check_labels(labels, num_classes: int, n: int | None, loss, argname: str = "labels"):
    """:func:`softjax.targets.check_labels` for a loss given as a name, spec or
    :class:`BoundLoss` (resolved here; a ``BoundLoss`` is used as it is)."""
    bound = loss if isinstance(loss, BoundLoss) else resolve_loss(loss)
    return _targets.check_labels(labels, num_classes, n, bound, argname)


def as_targets(logits, labels, loss="cce"):
    """Validates and turns labels into float target rows Y of the logits' shape (N, K)."""
    bound = loss if isinstance(loss, BoundLoss) else resolve_loss(loss)
    return logits_and_targets(logits, labels, bound)[1]
