"""Numerically stable softmax and its relatives (seed 000 eqs. 2-4, 8-9; seed 002).

Every function here is hand-written from the notes and tested equal to ``jax.nn``
(see ``tests/test_numerics.py``). The max-shift of eq. 3 goes through
``lax.stop_gradient``: softmax is shift-invariant, so the shift carries no gradient,
and blocking it keeps the backward pass free of the ``max``'s subgradient.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax


def _shifted(z, axis):
    """Returns ``z - max(z)`` along ``axis`` (seed 000 eq. 3), with ±inf-safe max."""
    z = jnp.asarray(z)
    m = jnp.max(z, axis=axis, keepdims=True)
    # An all -inf row would give -inf - -inf = nan; shifting by 0 keeps it -inf instead.
    m = jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m))
    return z - lax.stop_gradient(m), lax.stop_gradient(m)


def softmax(z, axis: int = -1):
    r"""Stable softmax (seed 000 eqs. 2-3).

    .. math:: \mathrm{softmax}(z)_k = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}},\quad m = \max_j z_j

    The outputs are positive and sum to 1 along ``axis`` (seed 000 eq. 4).

    Args:
      z: logits of any shape.
      axis: the class axis.

    Returns:
      Probabilities with the shape and dtype of ``z``.
    """
    shifted, _ = _shifted(z, axis)
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def logsumexp(z, axis: int = -1):
    r"""Stable log-sum-exp (seed 002): :math:`m + \log \sum_j e^{z_j - m}`.

    Args:
      z: logits of any shape.
      axis: the axis to reduce.

    Returns:
      ``z`` reduced over ``axis``.
    """
    shifted, m = _shifted(z, axis)
    return jnp.squeeze(m, axis) + jnp.log(jnp.sum(jnp.exp(shifted), axis=axis))


def log_softmax(z, axis: int = -1):
    r"""Stable log-softmax (seed 002): :math:`\log a_k = z_k - \mathrm{logsumexp}(z)`.

    Args:
      z: logits of any shape.
      axis: the class axis.

    Returns:
      Log-probabilities with the shape of ``z``; finite for finite ``z``.
    """
    shifted, _ = _shifted(z, axis)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def log1m_softmax(z):
    r"""Stable :math:`\log(1 - \mathrm{softmax}(z)_k)` over the last axis.

    Uses :math:`1 - a_k = \sum_{j \ne k} a_j`, so
    :math:`\log(1 - a_k) = \mathrm{logsumexp}_{j \ne k}(z_j) - \mathrm{logsumexp}(z)`.
    Computing ``1 - a`` directly would round to 0 once the softmax saturates and make
    BCE-on-softmax infinite; this form stays finite. Costs O(K²) per row.

    Args:
      z: logits, shape (..., K) with K ≥ 2.

    Returns:
      Shape (..., K).
    """
    z = jnp.asarray(z)
    k = z.shape[-1]
    eye = jnp.eye(k, dtype=bool)
    others = jnp.where(eye, -jnp.inf, z[..., None, :])  # row k holds z with z_k removed
    return logsumexp(others, axis=-1) - logsumexp(z, axis=-1)[..., None]


def softmax_jacobian(z):
    r"""Jacobian of the softmax (seed 001; seed 000 eqs. 8-9).

    .. math:: \frac{\partial a_i}{\partial z_m} = a_i(\delta_{im} - a_m),
              \quad J = \mathrm{diag}(a) - a a^\top

    (seed 001 writes the same matrix as :math:`a 1^\top \circ (I - 1 a^\top)`). It is
    symmetric, so the row/column convention does not matter.

    Args:
      z: logits, shape (..., K).

    Returns:
      Shape (..., K, K).
    """
    a = softmax(z, axis=-1)
    return a[..., :, None] * (jnp.eye(a.shape[-1], dtype=a.dtype) - a[..., None, :])


def softmax_vjp(z, v):
    r"""Closed-form :math:`J^\top v` for the softmax Jacobian, without forming J.

    .. math:: (J^\top v)_m = a_m \left(v_m - \sum_k a_k v_k\right)

    This is the product every softmax-output gradient of SPEC §3 reduces to.

    Args:
      z: logits, shape (..., K).
      v: the upstream gradient ∂L/∂a, shape (..., K).

    Returns:
      ∂L/∂z, shape (..., K).
    """
    a = softmax(z, axis=-1)
    return a * (v - jnp.sum(a * v, axis=-1, keepdims=True))


def sigmoid(x):
    r"""Logistic sigmoid :math:`1/(1+e^{-x})`, evaluated through :math:`e = e^{-|x|} \le 1`.

    :math:`\sigma(x) = 1/(1+e)` for :math:`x \ge 0` and :math:`e/(1+e)` for :math:`x < 0`:
    it never overflows and keeps full relative accuracy in both tails (σ(−50) is
    :math:`e^{-50}`, not 0), which the saturated derivatives σ(1 − σ) rely on.
    """
    x = jnp.asarray(x)
    e = jnp.exp(jnp.where(x >= 0, -x, x))
    return jnp.where(x >= 0, 1.0, e) / (1.0 + e)


def softplus(x):
    r"""Stable :math:`\log(1+e^x) = \max(x,0) + \log(1+e^{-|x|})`.

    Written with one ``where`` rather than ``maximum`` and ``abs``: at x = 0 autodiff
    takes ``maximum``'s tie as 1/2 and ``abs``'s slope as 1, which would give
    ``jax.grad(softplus)(0) = 0`` instead of σ(0) = 1/2.
    """
    x = jnp.asarray(x)
    positive = x > 0
    return jnp.where(positive, x, 0) + jnp.log1p(jnp.exp(jnp.where(positive, -x, x)))
