"""The losses of SPEC §1 and §3, each a pure ``loss(logits, labels) -> scalar`` batch mean.

``LOSSES[name](logits, labels)`` with ``logits`` of shape (N, K) and ``labels`` either
int class ids (N,) or target rows (N, K) (one-hot or probabilities):

=============== ============================================================ =================
name            per-sample value (ŷ = softmax(z), s = sigmoid(z))            source
=============== ============================================================ =================
``cce``         −Σ_k y_k log ŷ_k                                            seed 000 eq. 5
``mse``         ½ Σ_k (ŷ_k − y_k)²                                          seed 000 part 3
``bce``         −Σ_k [y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k)]                 seed 000 part 3
``sigmoid_bce`` −Σ_k [y_k log s_k + (1 − y_k) log(1 − s_k)]  (one-vs-rest)  seed 001, 003
``square``      ½ Σ_k (z_k − y_k)²  on the raw logits (Hui & Belkin 2021)     seed 000 part 1
=============== ============================================================ =================

Every loss takes a BATCH: logits (N, K), N ≥ 1, and returns the mean over its N rows.
For one sample pass ``z[None]`` and ``y[None]``; a per-sample ``jax.vmap`` likewise
calls ``loss(z[None], y[None])`` inside the mapped function.

Binary logistic regression is ``sigmoid_bce`` with K = 1 and 0/1 labels (N,); linear
regression is ``square`` with real targets, (N,) when K = 1. The softmax losses (cce,
mse, bce) need K ≥ 2 whatever the label form: a softmax over one class is the
constant 1. Every value is computed in log space (``log_softmax``, ``log1m_softmax``,
``softplus``), so it stays finite however saturated the logits are (``square`` aside:
½ z² itself overflows for huge z, see :func:`square`).

Validation lives here once (:func:`check_logits`, :func:`check_labels`) and raises a
``ValueError`` naming the argument. Shapes and dtypes are checked in plain Python
before anything is traced, also under ``jit`` (they are static). Label VALUES (class
ids in [0, K), sigmoid_bce targets in [0, 1]) are checked only on concrete inputs:
under ``jit``/``vmap`` the labels are tracers and their values are unknown, so an
out-of-range class id is NOT caught there. ``jax.nn.one_hot`` then turns it into an
all-zero target row: that sample's label is silently dropped (its cce term is 0, its
mse/bce terms treat it as "no class"). Validate labels eagerly before jitting, as
``softjax.train`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from softjax.activations import Registry
from softjax.numerics import log1m_softmax, log_softmax, softmax, softplus

LOSS_NAMES = ("cce", "mse", "bce", "sigmoid_bce", "square")
# Losses whose targets are distributions over K ≥ 2 classes through a softmax.
_SOFTMAX_LOSSES = ("cce", "mse", "bce")


def check_loss_name(loss_name, argname: str = "loss_name") -> str:
    """Raises a ValueError naming ``argname`` unless ``loss_name`` is one of LOSS_NAMES."""
    if not isinstance(loss_name, str) or loss_name not in LOSS_NAMES:
        raise ValueError(f"{argname}: unknown loss {loss_name!r}; expected one of {LOSS_NAMES}")
    return loss_name


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def as_array(x, argname: str):
    """Arrays (jax, numpy, tracers) pass through; Python lists, tuples and scalars become
    numpy arrays, so that shapes and dtypes can be checked.

    Raises:
      ValueError: naming ``argname`` for ragged or non-numeric input.
    """
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        return x
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        raise ValueError(
            f"{argname}: expected a (nested) sequence of numbers of one shape, "
            f"got a ragged or non-numeric {type(x).__name__}"
        ) from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(
            f"{argname}: expected numbers, got {type(x).__name__} of dtype {arr.dtype}"
        )
    return arr


def check_logits(logits, argname: str = "logits"):
    """Logits must be a floating (N, K) array with N ≥ 1 and K ≥ 1; returns it as an array."""
    logits = as_array(logits, argname)
    shape = np.shape(logits)
    if len(shape) != 2:
        raise ValueError(f"{argname}: expected shape (N, K), got shape {shape}")
    if shape[0] < 1:
        raise ValueError(
            f"{argname}: expected N ≥ 1 rows (the loss is a mean over the batch), got shape {shape}"
        )
    if shape[1] < 1:
        raise ValueError(f"{argname}: expected K ≥ 1 class columns, got shape {shape}")
    if not jnp.issubdtype(jnp.result_type(logits), jnp.floating):
        raise ValueError(f"{argname}: expected a floating dtype, got {jnp.result_type(logits)}")
    return logits


def _check_binary_targets(labels, argname: str):
    """sigmoid_bce targets are probabilities of K independent Bernoullis: in [0, 1]."""
    if _is_concrete(labels):
        y = np.asarray(labels)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{argname}: targets for 'sigmoid_bce' must lie in [0, 1], "
                f"got values in [{y.min()}, {y.max()}]"
            )


def check_labels(labels, num_classes: int, n: int | None, loss_name: str, argname="labels"):
    """Validates labels for a K-class model and a loss, before anything is traced.

    Args:
      labels: int class ids (N,), targets (N,) when K = 1, or target rows (N, K).
      num_classes: K, the model's number of outputs.
      n: the expected batch size, or None to skip that check.
      loss_name: which loss the labels feed (K = 1 rules differ).
      argname: the name to report in errors.

    Returns:
      ``labels``, as an array (Python lists become numpy arrays).

    Raises:
      ValueError: naming ``argname`` for a wrong rank or shape, a mismatched N, a
        softmax loss with K < 2, non-integer class ids, or (concrete labels only) ids
        outside [0, K) or sigmoid_bce targets outside [0, 1].
    """
    labels = as_array(labels, argname)
    shape = np.shape(labels)
    dtype = jnp.result_type(labels)
    if n is not None and (len(shape) == 0 or shape[0] != n):
        raise ValueError(
            f"{argname}: expected {n} rows to match the logits/inputs, got shape {shape}"
        )
    if loss_name in _SOFTMAX_LOSSES and num_classes < 2:
        raise ValueError(
            f"{argname}: loss {loss_name!r} needs K ≥ 2 classes (a softmax over one "
            f"class is constant), got K={num_classes}; use 'sigmoid_bce' or 'square' "
            "for one output"
        )
    if len(shape) == 2:
        if shape[1] != num_classes:
            raise ValueError(
                f"{argname}: target rows must have K={num_classes} columns, got shape {shape}"
            )
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"{argname}: target rows (N, K) must be floating, got {dtype}")
        if loss_name == "sigmoid_bce":
            _check_binary_targets(labels, argname)
        return labels
    if len(shape) != 1:
        raise ValueError(
            f"{argname}: expected class ids (N,) or target rows (N, {num_classes}), "
            f"got shape {shape}"
        )
    if num_classes == 1:  # (N,) targets of a single output: sigmoid_bce or square
        if loss_name == "sigmoid_bce":
            _check_binary_targets(labels, argname)
        return labels
    if not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(
            f"{argname}: class ids (N,) must be integers, got dtype {dtype}; "
            "pass int ids or one-hot rows (N, K)"
        )
    if _is_concrete(labels):
        y = np.asarray(labels)
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"{argname}: class ids must lie in [0, {num_classes}), "
                f"got values in [{y.min()}, {y.max()}]"
            )
    return labels


def logits_and_targets(logits, labels, loss_name: str):
    """Validates, then returns ``(z, Y)``: the logits as a jax array and the float target
    rows Y of their shape (N, K) and dtype.

    Int ids become one-hot rows; with K = 1, (N,) targets become a column.
    """
    check_loss_name(loss_name)
    logits = check_logits(logits)
    n, k = np.shape(logits)
    labels = jnp.asarray(check_labels(labels, k, n, loss_name))
    z = jnp.asarray(logits)
    if labels.ndim == 2:
        return z, labels.astype(z.dtype)
    if k == 1:
        return z, labels.astype(z.dtype)[:, None]
    return z, jax.nn.one_hot(labels, k, dtype=z.dtype)


def as_targets(logits, labels, loss_name: str = "cce"):
    """Validates and turns labels into float target rows Y of the logits' shape (N, K).

    Int ids become one-hot rows; with K = 1, (N,) targets become a column.
    """
    return logits_and_targets(logits, labels, loss_name)[1]


def cce(logits, labels):
    r"""Categorical cross-entropy on softmax, batch mean (seed 000 eq. 5; seed 002 LSE form).

    .. math:: L = -\frac1N \sum_i \sum_k y_{ik} \log \mathrm{softmax}(z_i)_k

    with :math:`\log \mathrm{softmax}(z)_k = z_k - \mathrm{LSE}(z)` (seed 002).

    Args:
      logits: a batch (N, K), K ≥ 2; for one sample pass ``z[None]``.
      labels: int class ids (N,) or target rows (N, K).

    Returns:
      The scalar mean, in the logits' dtype.
    """
    z, y = logits_and_targets(logits, labels, "cce")
    return -jnp.mean(jnp.sum(y * log_softmax(z), axis=-1))


def mse(logits, labels):
    r"""Squared error on softmax outputs, batch mean (seed 000 part 3).

    .. math:: L = \frac1N \sum_i \tfrac12 \sum_k (\hat y_{ik} - y_{ik})^2,
              \quad \hat y_i = \mathrm{softmax}(z_i)

    Seed 000 part 3 shows its gradient carries ŷ(1 − ŷ) factors that vanish when the
    softmax saturates (SPEC §6).

    Args:
      logits: a batch (N, K), K ≥ 2; for one sample pass ``z[None]``.
      labels: int class ids (N,) or target rows (N, K).

    Returns:
      The scalar mean, in the logits' dtype.
    """
    z, y = logits_and_targets(logits, labels, "mse")
    return jnp.mean(0.5 * jnp.sum((softmax(z) - y) ** 2, axis=-1))


def bce(logits, labels):
    r"""Binary cross-entropy on softmax outputs, summed over classes, batch mean
    (seed 000 part 3).

    .. math:: L = -\frac1N \sum_i \sum_k [y_{ik} \log \hat y_{ik}
              + (1-y_{ik})\log(1-\hat y_{ik})]

    It treats the K softmax outputs as independent Bernoullis although they sum to 1,
    the mismatch seed 000 part 3 points out (SPEC §3). :math:`\log(1-\hat y)` comes from
    :func:`~softjax.numerics.log1m_softmax`, exact even for equal or huge logits.

    Args:
      logits: a batch (N, K), K ≥ 2; for one sample pass ``z[None]``.
      labels: int class ids (N,) or target rows (N, K).

    Returns:
      The scalar mean, in the logits' dtype.
    """
    z, y = logits_and_targets(logits, labels, "bce")
    per_class = y * log_softmax(z) + (1.0 - y) * log1m_softmax(z)
    return -jnp.mean(jnp.sum(per_class, axis=-1))


def sigmoid_bce(logits, labels):
    r"""One-vs-rest BCE on K independent sigmoids, summed over classes, batch mean
    (seed 001, seed 003; K = 1 is seed 000 part 1's logistic regression).

    .. math:: L = \frac1N \sum_i \sum_k -[y_{ik}\log σ(z_{ik}) + (1-y_{ik})\log(1-σ(z_{ik}))]
              = \frac1N \sum_i \sum_k [\mathrm{softplus}(z_{ik}) - y_{ik} z_{ik}]

    Args:
      logits: a batch (N, K), K ≥ 1; for one sample pass ``z[None]``.
      labels: targets in [0, 1]: rows (N, K), or (N,) 0/1 ids (int or float) when K = 1,
        or int class ids (N,) (one-hot rows) when K ≥ 2.

    Returns:
      The scalar mean, in the logits' dtype.
    """
    z, y = logits_and_targets(logits, labels, "sigmoid_bce")
    return jnp.mean(jnp.sum(softplus(z) - y * z, axis=-1))


def square(logits, labels):
    r"""Square loss on raw logits, no softmax, batch mean (seed 000 part 1).

    .. math:: L = \frac1N \sum_i \tfrac12 \sum_k (z_{ik} - y_{ik})^2

    Linear regression's loss (seed 000 part 1) and, on one-hot targets, the square loss
    that Hui & Belkin (2021) report competitive with cross-entropy.

    The value overflows to ``inf`` once (z − y)² exceeds the dtype's range:
    |z − y| ≳ 1.8e19 in float32 and bfloat16 (e.g. ½(1e30)² = 5e59 > 3.4e38 = float32's
    max), ≳ 1.3e154 in float64. That is unavoidable: the value itself is not
    representable. The gradient z − y stays finite.

    Args:
      logits: a batch (N, K), K ≥ 1; for one sample pass ``z[None]``.
      labels: real targets: rows (N, K), or (N,) when K = 1, or int class ids (N,)
        (one-hot rows) when K ≥ 2.

    Returns:
      The scalar mean, in the logits' dtype.
    """
    z, y = logits_and_targets(logits, labels, "square")
    return jnp.mean(0.5 * jnp.sum((z - y) ** 2, axis=-1))


LOSSES: Mapping[str, Callable] = Registry(
    {"cce": cce, "mse": mse, "bce": bce, "sigmoid_bce": sigmoid_bce, "square": square},
    kind="loss",
    argname="loss",
)
"""Every loss by name: the built-ins and whatever :func:`register_loss` added."""

# name -> closed-form ∂(mean loss)/∂logits(logits, labels, **kwargs) for users' losses;
# the built-ins' closed forms live in softjax.grads.
_USER_LOGITS_GRADS: dict[str, Callable | None] = {}


def get_loss(loss_name: str) -> Callable:
    """``LOSSES[loss_name]`` with a clear error for an unknown name."""
    return LOSSES[check_loss_name(loss_name)]


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

    def fn(self, logits, labels):
        """The scalar batch-mean loss."""
        return self.function(logits, labels, **dict(self.kwargs))

    @property
    def has_closed_form(self) -> bool:
        """Whether :meth:`logits_grad` has a closed form (else use ``jax.grad``)."""
        return self.name in LOSS_NAMES or _USER_LOGITS_GRADS.get(self.name) is not None

    def logits_grad(self, logits, labels):
        """The closed-form ∂(mean loss)/∂logits, shape (N, K).

        Raises:
          ValueError: naming ``loss`` when this loss has no closed form.
        """
        if self.name in LOSS_NAMES:
            from softjax.grads import logits_grad

            return logits_grad(self.name, logits, labels)
        grad = _USER_LOGITS_GRADS.get(self.name)
        if grad is None:
            raise ValueError(
                f"loss: {self.name!r} has no closed-form logits gradient; register one with "
                "register_loss(name, fn, logits_grad=...) or use grad='autodiff'"
            )
        return grad(logits, labels, **dict(self.kwargs))

    @property
    def spec(self):
        """JSON-ready: the name, or ``[name, {kwargs}]`` when it has keyword arguments."""
        return [self.name, dict(self.kwargs)] if self.kwargs else self.name


LossSpec = str | tuple[str, Mapping[str, Any]] | Callable | BoundLoss


def register_loss(name: str, fn: Callable, logits_grad: Callable | None = None) -> BoundLoss:
    """Adds a user's loss to :data:`LOSSES` under ``name``, so configs, records and
    figures can name it.

    Args:
      name: a new name (built-in names cannot be replaced).
      fn: a pure ``fn(logits, labels, **kwargs) -> scalar`` batch mean, jit/grad/vmap-able.
      logits_grad: optionally its closed-form ∂(mean)/∂logits with the same arguments.

    Returns:
      The :class:`BoundLoss` for ``name`` with no keyword arguments.

    Raises:
      ValueError: naming the argument for a bad name, a built-in name, or a
        non-callable ``fn``/``logits_grad``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if name in LOSS_NAMES:
        raise ValueError(f"name: {name!r} is a built-in loss and cannot be replaced")
    if not callable(fn):
        raise ValueError(f"fn: expected a callable loss(logits, labels), got {fn!r}")
    if logits_grad is not None and not callable(logits_grad):
        raise ValueError(f"logits_grad: expected a callable or None, got {logits_grad!r}")
    LOSSES._register(name, fn)
    _USER_LOGITS_GRADS[name] = logits_grad
    return BoundLoss(name, (), fn)


def resolve_loss(spec: LossSpec, argname: str = "loss") -> BoundLoss:
    """Turns a loss spec into a :class:`BoundLoss`.

    A spec is a registered name (``"cce"``), a ``(name, {kwargs})`` pair, a
    :class:`BoundLoss`, or a function ``loss(logits, labels) -> scalar``: a registered
    function keeps its registered name, any other is named by its ``__name__``.

    Raises:
      ValueError: naming ``argname`` for an unknown name or a malformed spec.
    """
    if isinstance(spec, BoundLoss):
        return spec
    if callable(spec):
        for name in LOSSES:
            if LOSSES[name] is spec:
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
    return BoundLoss(name, tuple(sorted(kwargs.items())), LOSSES[name])
