"""The eight activation functions of seed 003 and GELU, each with its closed-form derivative.

``ACTIVATIONS[name]`` is an :class:`Activation` holding the function ``fn`` and its
derivative ``grad``. For the element-wise eight, ``grad(z)`` is f′(z) element-wise;
for softmax it is the full Jacobian (``softmax_jacobian``). ``backward(z, upstream)``
is the closed-form vector-Jacobian product used by backprop (SPEC §4):
``upstream ∘ f′(z)`` element-wise, ``Jᵀ upstream`` for softmax.

Two activations take a parameter, passed as keyword arguments:
``leaky_relu(x, slope=0.01)`` and ``elu(x, alpha=1.0)``. A layer names its activation
by a string (``"relu"``) or by a ``(name, kwargs)`` pair (``("leaky_relu", {"slope": 0.2})``).

``ACTIVATIONS`` is a :class:`Registry`, read-only as a mapping (a user's activation is
added by :func:`register_activation`): an unknown name raises :class:`UnknownNameError`,
both a ``KeyError`` and a ``ValueError``, whose message lists the valid names. Each
function below states its formula and source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp

from softjax.numerics import sigmoid, softmax, softmax_jacobian, softmax_vjp


class Activation(NamedTuple):
    """An activation function with its closed-form derivative (seed 003).

    Attributes:
      fn: the function, ``fn(z, **kwargs)``.
      grad: its derivative, ``grad(z, **kwargs)``: f′(z) element-wise, or the
        (..., K, K) Jacobian when ``elementwise`` is False.
      backward: ``backward(z, upstream, **kwargs)``, the vector-Jacobian product.
      elementwise: whether f acts on each entry alone.
    """

    fn: Callable[..., Any]
    grad: Callable[..., Any]
    backward: Callable[..., Any]
    elementwise: bool = True


def _elementwise(fn, grad) -> Activation:
    return Activation(fn, grad, lambda z, upstream, **kw: upstream * grad(z, **kw), True)


class UnknownNameError(KeyError, ValueError):
    """A registry lookup of a name it does not hold.

    A ``KeyError``, as a ``Mapping`` lookup promises (so ``in``, ``.get`` and
    ``except KeyError`` behave as for a dict), and a ``ValueError``, as every other
    bad argument to softjax. ``str()`` is the plain message (``KeyError`` alone would
    wrap it in quotes).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Mapping):
    """A read-only name → entry mapping whose unknown names raise :class:`UnknownNameError`.

    The error names the argument and lists the valid names, e.g.
    ``activation: unknown activation 'gelu'; expected one of ['sigmoid', ...]``.
    """

    def __init__(self, entries: Mapping[str, Any], *, kind: str, argname: str):
        self._entries = dict(entries)
        self._kind = kind
        self._argname = argname

    def __getitem__(self, name):
        try:
            return self._entries[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            raise UnknownNameError(
                f"{self._argname}: unknown {self._kind} {name!r}; "
                f"expected one of {list(self._entries)}"
            ) from None

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self._entries!r})"

    def _register(self, name: str, entry: Any, overwrite: bool = False) -> None:
        """Adds ``name``; only ``softjax.register_*`` calls this (they refuse built-ins).

        Raises:
          ValueError: naming ``name`` when it is taken and ``overwrite`` is False.
        """
        if name in self._entries and not overwrite:
            raise ValueError(
                f"name: {name!r} is already a registered {self._kind}; pass overwrite=True "
                "to replace it"
            )
        self._entries[name] = entry


# The eight activations of seed 003's list, f as written there and f′ by differentiation
# (seed 003 itself spells out σ′ = σ(1 − σ)). sigmoid and softmax live in numerics.


def _sigmoid_grad(z):
    r"""Sigmoid derivative :math:`\sigma'(z) = \sigma(z)(1 - \sigma(z))` (seed 003).

    :math:`1 - \sigma(z)` is formed as :math:`\sigma(-z)`: exact in both tails, where
    ``1 - σ`` would round away the :math:`e^{-|z|}` that the saturated derivative is made of.
    """
    return sigmoid(z) * sigmoid(-z)


def _tanh(z):
    r"""Tanh (seed 003): :math:`\tanh z = (e^z - e^{-z}) / (e^z + e^{-z})`."""
    return jnp.tanh(z)


def _tanh_grad(z):
    r"""Tanh derivative (seed 003's tanh, differentiated): :math:`1 - \tanh^2 z`."""
    return 1.0 - jnp.tanh(z) ** 2


def _relu(z):
    r"""ReLU (seed 003): :math:`\max(0, z)`."""
    return jnp.maximum(z, 0)


def _relu_grad(z):
    r"""ReLU derivative (seed 003's ReLU, differentiated): 1 for z > 0, else 0 (0 at the kink)."""
    z = jnp.asarray(z)
    dtype = z.dtype if jnp.issubdtype(z.dtype, jnp.floating) else jnp.float32
    return (z > 0).astype(dtype)  # keeps bfloat16/float16 (result_type would give float32)


def _leaky_relu(z, slope=0.01):
    r"""Leaky ReLU (seed 003): z for z > 0, else c·z with the constant c = ``slope``."""
    return jnp.where(z > 0, z, slope * z)


def _leaky_relu_grad(z, slope=0.01):
    r"""Leaky ReLU derivative (seed 003's, differentiated): 1 for z > 0, else c (c at the kink)."""
    z = jnp.asarray(z)
    return jnp.where(z > 0, jnp.ones_like(z), jnp.full_like(z, slope))


def _linear(z):
    r"""Linear activation (seed 003): :math:`f(z) = z`."""
    return jnp.asarray(z)


def _linear_grad(z):
    r"""Linear activation derivative (seed 003's, differentiated): :math:`f'(z) = 1`."""
    return jnp.ones_like(z)


def _swish(z):
    r"""Swish (seed 003): :math:`z\,\sigma(z)`."""
    return z * sigmoid(z)


def _swish_grad(z):
    r"""Swish derivative (seed 003's swish, differentiated):
    :math:`\sigma(z) + z\,\sigma(z)(1 - \sigma(z))`."""
    s = sigmoid(z)
    return s + z * s * (1.0 - s)


def _elu(z, alpha=1.0):
    r"""ELU (seed 003): z for z ≥ 0, else :math:`\alpha (e^z - 1)`, α = ``alpha`` > 0."""
    # expm1 on min(z, 0) keeps the unused branch finite, so its gradient is too.
    return jnp.where(z >= 0, z, alpha * jnp.expm1(jnp.minimum(z, 0)))


def _elu_grad(z, alpha=1.0):
    r"""ELU derivative (seed 003's, differentiated): 1 for z ≥ 0, else :math:`\alpha e^z`."""
    z = jnp.asarray(z)
    return jnp.where(z >= 0, jnp.ones_like(z), alpha * jnp.exp(jnp.minimum(z, 0)))


def _gelu(z):
    r"""GELU, exact (erf) form (Hendrycks & Gimpel 2016, "Gaussian Error Linear Units"):
    :math:`z\,\Phi(z) = \tfrac12 z\,\mathrm{erfc}(-z/\sqrt2)`, Φ the standard normal
    CDF (``jax.nn.gelu(z, approximate=False)``; not the tanh approximation). erfc keeps
    Φ's left tail exact where 1 + erf(z/√2) would cancel to 0."""
    return z * 0.5 * jsp.erfc(-z / jnp.sqrt(2.0).astype(jnp.result_type(z)))


def _gelu_grad(z):
    r"""GELU derivative (Hendrycks & Gimpel 2016, differentiated):
    :math:`\Phi(z) + z\,\varphi(z)`, φ the standard normal density."""
    z = jnp.asarray(z)
    phi = jnp.exp(-0.5 * z * z) / jnp.sqrt(2.0 * jnp.pi).astype(z.dtype)
    return 0.5 * jsp.erfc(-z / jnp.sqrt(2.0).astype(z.dtype)) + z * phi


def _softmax(z):
    """Softmax over the last axis (seed 003's fifth activation; :func:`softjax.softmax`)."""
    return softmax(z, axis=-1)


ACTIVATIONS: Mapping[str, Activation] = Registry(
    {
        "sigmoid": _elementwise(sigmoid, _sigmoid_grad),
        "tanh": _elementwise(_tanh, _tanh_grad),
        "relu": _elementwise(_relu, _relu_grad),
        "leaky_relu": _elementwise(_leaky_relu, _leaky_relu_grad),
        "linear": _elementwise(_linear, _linear_grad),
        "swish": _elementwise(_swish, _swish_grad),
        "elu": _elementwise(_elu, _elu_grad),
        "gelu": _elementwise(_gelu, _gelu_grad),
        # Its "derivative" is the Jacobian diag(a) − aaᵀ (seed 001; seed 000 eqs. 8-9).
        "softmax": Activation(_softmax, softmax_jacobian, softmax_vjp, elementwise=False),
    },
    kind="activation",
    argname="activation",
)

_PARAMETERS = {"leaky_relu": {"slope"}, "elu": {"alpha"}}
_BUILTIN_NAMES = frozenset(ACTIVATIONS)


def register_activation(
    name: str, fn: Callable, grad: Callable, params=(), *, overwrite: bool = False
) -> None:
    """Adds a user's element-wise activation to :data:`ACTIVATIONS` under ``name``, so
    models, configs and records can name it, as ``name`` or ``(name, {kwargs})``.

    Args:
      name: a new name (built-in names cannot be replaced).
      fn: ``fn(z, **kwargs)``, element-wise, jit/grad/vmap-able.
      grad: its derivative ``grad(z, **kwargs)``, f′(z) element-wise, for backprop.
      params: the names of the keyword arguments ``fn`` and ``grad`` take.
      overwrite: replace a registered user activation of the same name (without it, a
        taken name is refused: a silent replacement would change what saved configs
        and records under that name mean).

    Raises:
      ValueError: naming the argument for a bad, built-in or (without ``overwrite``)
        taken name, a non-callable ``fn`` or ``grad``, or ``params`` that are not strings.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if name in _BUILTIN_NAMES:
        raise ValueError(f"name: {name!r} is a built-in activation and cannot be replaced")
    for argname, f in (("fn", fn), ("grad", grad)):
        if not callable(f):
            raise ValueError(f"{argname}: expected a callable f(z, **kwargs), got {f!r}")
    if isinstance(params, str) or not all(isinstance(p, str) for p in params):
        raise ValueError(f"params: expected a sequence of keyword names, got {params!r}")
    ACTIVATIONS._register(name, _elementwise(fn, grad), overwrite=overwrite)
    _PARAMETERS[name] = set(params)


ActivationSpec = str | tuple[str, Mapping[str, float]]


class BoundActivation(NamedTuple):
    """An activation with its keyword arguments bound; what a layer calls."""

    name: str
    kwargs: tuple[tuple[str, float], ...]

    def fn(self, z):
        return ACTIVATIONS[self.name].fn(z, **dict(self.kwargs))

    def grad(self, z):
        return ACTIVATIONS[self.name].grad(z, **dict(self.kwargs))

    def backward(self, z, upstream):
        return ACTIVATIONS[self.name].backward(z, upstream, **dict(self.kwargs))


def resolve_activation(spec: ActivationSpec, argname: str = "activation") -> BoundActivation:
    """Turns ``"relu"`` or ``("leaky_relu", {"slope": 0.2})`` into a :class:`BoundActivation`.

    Raises:
      ValueError: naming ``argname`` for an unknown name or an unknown parameter.
    """
    if isinstance(spec, BoundActivation):
        return spec
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, tuple | list) and len(spec) == 2 and isinstance(spec[0], str):
        name, kwargs = spec[0], dict(spec[1])
    else:
        raise ValueError(
            f"{argname}: expected an activation name or a (name, kwargs) pair, got {spec!r}"
        )
    if name not in ACTIVATIONS:
        raise ValueError(
            f"{argname}: unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        )
    unknown = set(kwargs) - _PARAMETERS.get(name, set())
    if unknown:
        raise ValueError(
            f"{argname}: activation {name!r} takes parameters "
            f"{sorted(_PARAMETERS.get(name, set()))}, got {sorted(unknown)}"
        )
    return BoundActivation(name, tuple(sorted((k, float(v)) for k, v in kwargs.items())))


def resolve_activations(
    activations: ActivationSpec | Sequence[ActivationSpec] | None, num_hidden: int
) -> tuple[BoundActivation, ...]:
    """One activation per hidden layer: a single spec is repeated, a list must match.

    Raises:
      ValueError: naming ``activations`` when a list has the wrong length.
    """
    is_single = isinstance(activations, str) or (
        isinstance(activations, tuple)
        and len(activations) == 2
        and isinstance(activations[0], str)
        and isinstance(activations[1], Mapping)
    )
    if num_hidden == 0:
        if is_single:
            # Nothing to apply without a hidden layer, but an unknown name is still a typo.
            resolve_activation(activations, "activations")
        elif activations not in (None, (), []):
            raise ValueError(
                "activations: a single-layer model has no hidden layer, "
                f"so expected none, got {activations!r}"
            )
        return ()
    if activations is None:
        raise ValueError(
            f"activations: the model has {num_hidden} hidden layer(s); expected an "
            "activation name or one per hidden layer, got None"
        )
    if is_single:
        return (resolve_activation(activations, "activations"),) * num_hidden
    activations = list(activations)
    if len(activations) != num_hidden:
        raise ValueError(
            f"activations: expected one activation or {num_hidden} (one per hidden layer), "
            f"got {len(activations)}"
        )
    return tuple(resolve_activation(a, f"activations[{i}]") for i, a in enumerate(activations))
