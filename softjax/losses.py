"""The losses of SPEC §1 and §3 and four from the literature, each a pure
``loss(logits, labels, **kwargs) -> scalar`` batch mean.

``LOSSES[name](logits, labels)`` with ``logits`` of shape (N, K) and ``labels`` either
int class ids (N,) or target rows (N, K) (one-hot or probabilities):

================= ========================================================= ====================
name              per-sample value (ŷ = softmax(z), s = sigmoid(z))         source
================= ========================================================= ====================
``cce``           −Σ_k y_k log ŷ_k                                          seed 000 eq. 5
``mse``           ½ Σ_k (ŷ_k − y_k)²                                        seed 000 part 3
``bce``           −Σ_k [y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k)]               seed 000 part 3
``sigmoid_bce``   −Σ_k [y_k log s_k + (1 − y_k) log(1 − s_k)] (one-vs-rest) seed 001, 003
``square``        ½ Σ_k (z_k − y_k)²  on the raw logits                     seed 000 part 1
``square_rescaled`` (1/K)[k·(z_y − M)² + Σ_{c≠y} z_c²]                      Hui & Belkin 2021
``mae``           Σ_k |ŷ_k − y_k|                                           Ghosh et al. 2017
``sigmoid_mse``   ½ Σ_k (s_k − y_k)²                                        Nielsen 2015, ch. 3
``cce_smoothed``  cce on (1 − ε) y + ε/K                                    Szegedy et al. 2016
================= ========================================================= ====================

Every loss takes a BATCH, logits (N, K), N ≥ 1, and returns the mean over its rows (one
sample: ``z[None]``, ``y[None]``). Softmax losses (cce, mse, bce, mae, cce_smoothed) need
K ≥ 2 and target rows summing to 1; sigmoid losses take targets in [0, 1], (N,) when
K = 1; the square losses take real targets. Logs are taken in log space, and a zero
target never multiplies an infinite log: a −inf logit on a non-target class gives a finite
value, not 0·∞ = NaN (optax#896). The public functions validate (``softjax.targets``);
the private kernels ``_cce(z, y)``, … on float target rows check nothing, for traced
programs. :func:`resolve_loss` and :func:`register_loss` make a loss a value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from softjax import _checks
from softjax.activations import Registry
from softjax.numerics import log1m_softmax, log_softmax, sigmoid, softmax, softplus
from softjax.targets import (  # noqa: F401  (re-exported: the losses' validation)
    as_array,
    as_targets,
    check_labels,
    check_logits,
    logits_and_targets,
)


def _xlogy(y, log_p):
    """y · log p with 0 wherever y = 0, also where log p = −inf (no 0·∞ = NaN)."""
    return jnp.where(y != 0, y * log_p, 0)


def _cce(z, y):
    return -jnp.mean(jnp.sum(_xlogy(y, log_softmax(z)), axis=-1))


def _mse(z, y):
    return jnp.mean(0.5 * jnp.sum((softmax(z) - y) ** 2, axis=-1))


def _bce(z, y):
    per_class = _xlogy(y, log_softmax(z)) + _xlogy(1.0 - y, log1m_softmax(z))
    return -jnp.mean(jnp.sum(per_class, axis=-1))


def _sigmoid_bce(z, y):
    # −log s = softplus(−z), −log(1 − s) = softplus(z): each finite where its weight is not 0.
    per_class = _xlogy(y, -softplus(-z)) + _xlogy(1.0 - y, -softplus(z))
    return -jnp.mean(jnp.sum(per_class, axis=-1))


def _square(z, y):
    return jnp.mean(0.5 * jnp.sum((z - y) ** 2, axis=-1))


def _square_rescaled(z, y, k=1.0, M=1.0):
    # Row form of Hui & Belkin's one-hot loss: weight k and target M on the label's column.
    weight = 1.0 + (k - 1.0) * y
    return jnp.mean(jnp.sum(weight * (z - M * y) ** 2, axis=-1) / z.shape[-1])


def _mae(z, y):
    return jnp.mean(jnp.sum(jnp.abs(softmax(z) - y), axis=-1))


def _sigmoid_mse(z, y):
    return jnp.mean(0.5 * jnp.sum((sigmoid(z) - y) ** 2, axis=-1))


def smoothed_targets(y, smoothing):
    """Label smoothing (Szegedy et al. 2016, §7): (1 − ε) y + ε/K."""
    return (1.0 - smoothing) * y + smoothing / y.shape[-1]


def _cce_smoothed(z, y, smoothing=0.1):
    return _cce(z, smoothed_targets(y, smoothing))


def cce(logits, labels):
    r"""Categorical cross-entropy on softmax (seed 000 eq. 5; seed 002's LSE form):
    :math:`-\frac1N \sum_i \sum_k y_{ik} \log \mathrm{softmax}(z_i)_k`, with
    :math:`\log \mathrm{softmax}(z)_k = z_k - \mathrm{LSE}(z)`.

    >>> float(cce(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # log 2
    0.6931471...
    """
    return _cce(*logits_and_targets(logits, labels, "cce"))


def mse(logits, labels):
    r"""Squared error on softmax outputs (seed 000 part 3):
    :math:`\frac1N \sum_i \tfrac12 \sum_k (\hat y_{ik} - y_{ik})^2`. Its gradient carries
    ŷ(1 − ŷ) factors that vanish when the softmax saturates (SPEC §6).

    >>> float(mse(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # ½(¼ + ¼)
    0.25
    """
    return _mse(*logits_and_targets(logits, labels, "mse"))


def bce(logits, labels):
    r"""Binary cross-entropy on softmax outputs, summed over classes (seed 000 part 3):
    :math:`-\frac1N \sum_i \sum_k [y_{ik} \log \hat y_{ik} + (1-y_{ik})\log(1-\hat y_{ik})]`.

    It treats the K softmax outputs as independent Bernoullis although they sum to 1
    (SPEC §3). :math:`\log(1-\hat y)` is :func:`~softjax.numerics.log1m_softmax`, exact
    even for equal or huge logits.

    >>> float(bce(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # 2 log 2
    1.3862943...
    """
    return _bce(*logits_and_targets(logits, labels, "bce"))


def sigmoid_bce(logits, labels):
    r"""One-vs-rest BCE on K independent sigmoids (seed 001, seed 003; K = 1 is seed 000
    part 1's logistic regression):
    :math:`\frac1N \sum_i \sum_k [y_{ik}\,\mathrm{softplus}(-z_{ik}) + (1-y_{ik})\,
    \mathrm{softplus}(z_{ik})]`, i.e. −y log σ(z) − (1 − y) log(1 − σ(z)).

    Labels: targets in [0, 1], rows (N, K), (N,) 0/1 when K = 1, or int ids when K ≥ 2.

    >>> float(sigmoid_bce(jnp.array([[0.0]]), jnp.array([1.0])))  # log 2
    0.6931471...
    """
    return _sigmoid_bce(*logits_and_targets(logits, labels, "sigmoid_bce"))


def square(logits, labels):
    r"""Square loss on raw logits, no softmax (seed 000 part 1):
    :math:`\frac1N \sum_i \tfrac12 \sum_k (z_{ik} - y_{ik})^2`. Linear regression's loss,
    with real targets ((N,) when K = 1), and on one-hot rows the square loss of Hui & Belkin
    (2021) up to the constant 2/K (see :func:`square_rescaled`).

    The value overflows to ``inf`` once |z − y| ≳ 1.8e19 in float32 and bfloat16
    (≳ 1.3e154 in float64): it is not representable. The gradient z − y stays finite.

    >>> float(square(jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]])))  # ½(1 + 4)
    2.5
    """
    return _square(*logits_and_targets(logits, labels, "square"))


def square_rescaled(logits, labels, k=1.0, M=1.0):
    r"""Hui & Belkin's (2021) square loss for many classes ("Evaluation of Neural
    Architectures Trained with Square Loss vs Cross-Entropy in Classification Tasks",
    ICLR 2021, §4: rescaling with k and M):

    .. math:: \ell = \frac1K\Big[k\,(z_y - M)^2 + \sum_{c \ne y} z_c^2\Big],

    for a target row y: :math:`\frac1K \sum_c (1 + (k-1) y_c)(z_c - M y_c)^2`. With
    k = M = 1 it is (2/K)·:func:`square`. Overflows like :func:`square` for huge logits.

    >>> z = jnp.array([[1.0, 2.0]])
    >>> float(square_rescaled(z, jnp.array([0]), k=2.0, M=3.0))  # ½[2·(1 − 3)² + 2²]
    6.0
    """
    _checks.positive_float(k, "k")
    return _square_rescaled(*logits_and_targets(logits, labels, "square_rescaled"), k=k, M=M)


def mae(logits, labels):
    r"""Mean absolute error on softmax outputs, :math:`\frac1N \sum_i \sum_k |\hat y_{ik} -
    y_{ik}|` (Ghosh, Kumar & Sastry 2017, "Robust Loss Functions under Label Noise for
    Deep Neural Networks", AAAI: symmetric, hence robust to label noise). For one-hot y it
    is 2(1 − ŷ_y).

    >>> float(mae(jnp.array([[0.0, 0.0]]), jnp.array([1])))  # ½ + ½
    1.0
    """
    return _mae(*logits_and_targets(logits, labels, "mae"))


def sigmoid_mse(logits, labels):
    r"""The quadratic cost on sigmoid outputs,
    :math:`\frac1N \sum_i \tfrac12 \sum_k (\sigma(z_{ik}) - y_{ik})^2` (Nielsen, *Neural
    Networks and Deep Learning*, 2015, ch. 3: its gradient (σ − y)σ(1 − σ) vanishes when a
    sigmoid saturates, the learning slowdown that cross-entropy removes). Labels as for
    :func:`sigmoid_bce`.

    >>> float(sigmoid_mse(jnp.array([[0.0]]), jnp.array([1.0])))  # ½ (½)²
    0.125
    """
    return _sigmoid_mse(*logits_and_targets(logits, labels, "sigmoid_mse"))


def cce_smoothed(logits, labels, smoothing=0.1):
    r"""Label-smoothed cross-entropy (Szegedy et al. 2016, "Rethinking the Inception
    Architecture for Computer Vision", §7): :func:`cce` on the targets
    :math:`(1 - \varepsilon)\,y + \varepsilon/K`, ε = ``smoothing`` in [0, 1].

    >>> float(cce_smoothed(jnp.array([[0.0, 0.0]]), jnp.array([1]), smoothing=0.2))  # log 2
    0.6931471...
    """
    if not (_checks.is_real(smoothing) and 0 <= smoothing <= 1):
        raise ValueError(f"smoothing: expected a real number in [0, 1], got {smoothing!r}")
    return _cce_smoothed(*logits_and_targets(logits, labels, "cce_smoothed"), smoothing)


_BUILTINS = {
    f.__name__: f
    for f in (cce, mse, bce, sigmoid_bce, square, square_rescaled, mae, sigmoid_mse, cce_smoothed)
}
# The unchecked kernels on float target rows, for traced programs (see BoundLoss.kernel).
_KERNELS = {name: globals()[f"_{name}"] for name in _BUILTINS}

LOSSES: Mapping[str, Callable] = Registry(_BUILTINS, kind="loss", argname="loss")
"""Every loss by name: the built-ins and whatever :func:`register_loss` added. The one
list of loss names."""

# name -> closed-form ∂(mean loss)/∂logits(logits, labels, **kwargs) for users' losses;
# the built-ins' closed forms live in softjax.grads.
_USER_LOGITS_GRADS: dict[str, Callable | None] = {}


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
    def is_builtin(self) -> bool:
        """Whether this is one of softjax's own losses (not a user's of the same name)."""
        return _BUILTINS.get(self.name) is self.function

    def fn(self, logits, labels):
        """The scalar batch-mean loss (validates its arguments)."""
        return self.function(logits, labels, **dict(self.kwargs))

    def value_and_grad(self, logits, labels):
        """``(fn(logits, labels), ∂fn/∂logits)`` by autodiff: a training step's loss value
        and the gradient it back-propagates (the sweep's blocked loss overrides this)."""
        return jax.value_and_grad(self.fn)(logits, labels)

    def kernel(self, z, y):
        """The built-in's value on float target rows ``y`` (N, K), unchecked: for traced
        programs whose labels were validated at the boundary (see ``targets.to_targets``)."""
        return _KERNELS[self.name](z, y, **dict(self.kwargs))

    @property
    def has_closed_form(self) -> bool:
        """Whether :meth:`logits_grad` has a closed form (else use ``jax.grad``)."""
        return self.is_builtin or _USER_LOGITS_GRADS.get(self.name) is not None

    def logits_grad(self, logits, labels):
        """The closed-form ∂(mean loss)/∂logits, shape (N, K).

        Raises:
          ValueError: naming ``loss`` when this loss has no closed form.
        """
        if self.is_builtin:
            from softjax.grads import logits_grad

            return logits_grad(self, logits, labels)
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

    >>> def hinge(logits, labels, margin=1.0):
    ...     z_y = jnp.take_along_axis(logits, labels[:, None], axis=-1)
    ...     return jnp.mean(jnp.sum(jnp.maximum(0.0, margin + logits - z_y), -1) - margin)
    >>> _ = register_loss("doctest_hinge", hinge)
    >>> float(resolve_loss(("doctest_hinge", {"margin": 2.0})).fn(
    ...     jnp.array([[0.0, 1.0]]), jnp.array([1])))
    1.0

    ``fn(logits, labels, **kwargs) -> scalar batch mean`` must be pure (jit/grad/vmap-able);
    its keyword parameters are what ``(name, {kwargs})`` specs may set. ``logits_grad``, with
    the same arguments, is its closed-form ∂(mean)/∂logits, if any. Returns the
    :class:`BoundLoss` for ``name``. Raises a ValueError naming the argument for a bad or
    built-in name, or a non-callable ``fn``/``logits_grad``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if name in _BUILTINS:
        raise ValueError(f"name: {name!r} is a built-in loss and cannot be replaced")
    if not callable(fn):
        raise ValueError(f"fn: expected a callable loss(logits, labels), got {fn!r}")
    if logits_grad is not None and not callable(logits_grad):
        raise ValueError(f"logits_grad: expected a callable or None, got {logits_grad!r}")
    LOSSES._register(name, fn)
    _USER_LOGITS_GRADS[name] = logits_grad
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
    _check_kwargs(name, LOSSES[name], kwargs, argname)
    return BoundLoss(name, tuple(sorted(kwargs.items())), LOSSES[name])
