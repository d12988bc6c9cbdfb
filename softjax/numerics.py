"""Numerically stable softmax and its relatives (seed 000 eqs. 2-4, 8-9 and part 3;
seed 001; seed 002), and the sigmoid / softplus of seed 000 part 1 and seed 003.

Every function here is hand-written from the notes and tested equal to ``jax.nn`` or to
an independent numpy formula (see ``tests/test_numerics.py``). The max-shift of eq. 3
goes through ``lax.stop_gradient``: softmax is shift-invariant, so the shift carries no
gradient, and blocking it keeps the backward pass free of the ``max``'s subgradient.
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
    r"""Stable softmax (seed 000 eqs. 2-3; seed 003's softmax activation).

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


def without_self(z):
    r"""For every class k, the logits of the other classes j ≠ k, in O(K) per row.

    Returns :math:`(d, s, p)` with, for :math:`c_k = \max_{j \ne k} z_j`,

    .. math:: d_k = z_k - c_k, \qquad s_k = \sum_{j \ne k} e^{z_j - c_k} \in [1, K - 1],

    so that :math:`\log\frac{a_k}{1 - a_k} = d_k - \log s_k` with :math:`a = \mathrm{softmax}(z)`
    and :math:`1 - a_k = \sum_{j \ne k} a_j` (seed 000 eqs. 2-4), each sum shifted by its own
    max (eq. 3), so nothing cancels where the softmax saturates and 1 − a_k rounds to 0.
    Only two shifts occur: for every k but the argmax k* (its first max), :math:`c_k` is
    the row's max m and :math:`s_k = S - e^{z_k - m}` with :math:`S = \sum_j e^{z_j - m}`
    (no cancellation: the max's own term 1 stays in it); for k*, :math:`c_{k^*}` is the
    second-largest logit. ``p`` is the softmax over the classes j ≠ k*,
    :math:`p_m = a_m / (1 - a_{k^*})` (0 at k*), the one ratio that can be large.

    Args:
      z: logits, shape (..., K) with K ≥ 2.

    Returns:
      ``(is_top, d, s, p)``, each of shape (..., K): ``is_top`` marks k*; ``s`` is 0 where
      every other class is −inf (then ``p`` is 0 too).
    """
    z = jnp.asarray(z)
    is_top = jnp.arange(z.shape[-1]) == jnp.argmax(z, axis=-1, keepdims=True)
    shifted, _ = _shifted(z, axis=-1)  # z_j − m
    e = jnp.exp(shifted)
    # k ≠ k*: S − e_k ≥ 1. k*'s entry is replaced below (double where: it would be a
    # rounding residue, and a log of it a NaN gradient).
    rest = jnp.where(is_top, 1, jnp.sum(e, axis=-1, keepdims=True) - e)
    others, c_top = _shifted(jnp.where(is_top, -jnp.inf, z), axis=-1)  # z_j − c_{k*}
    e_others = jnp.exp(others)
    total = jnp.sum(e_others, axis=-1, keepdims=True)
    d = jnp.where(is_top, z - c_top, shifted)
    s = jnp.where(is_top, total, rest)
    # Every other class at −inf: p's 0/0 is taken as 0 (its weight in BCE is 0 too).
    p = e_others / jnp.where(total > 0, total, 1)
    return is_top, d, s, p


def log1m_softmax(z):
    r"""Stable :math:`\log(1 - \mathrm{softmax}(z)_k)` over the last axis.

    The BCE-on-softmax loss of seed 000 part 3 needs :math:`\log(1 - \hat y_k)`.
    With :math:`1 - a_k = \sum_{j \ne k} a_j` (seed 000 eq. 4) and the log-sum-exp of
    seed 002,

    .. math:: \log(1 - a_k) = \mathrm{LSE}_{j \ne k}(z_j) - \mathrm{LSE}_j(z_j)
              = -\mathrm{softplus}(\ell_k),
              \qquad \ell_k = z_k - \mathrm{LSE}_{j \ne k}(z_j) = \log\frac{a_k}{1 - a_k},

    because :math:`\mathrm{LSE}(z) = \mathrm{LSE}_{j \ne k}(z) + \mathrm{softplus}(\ell_k)`.
    :math:`\mathrm{LSE}_{j \ne k}` is shifted by :math:`c_k = \max_{j \ne k} z_j` (the max
    shift of seed 000 eq. 3, through ``stop_gradient``; ℓ is shift-invariant, so this is
    exact for autodiff too), with the two shifts of :func:`without_self`, so it costs O(K)
    per row. Only logits are subtracted from logits (one rounding each), never two rounded
    log-sums: the plain difference of the two LSEs loses ≈ eps·|z| to cancellation (four
    equal logits at 1e8 in float32 gave 0 instead of log(3/4)), and ``log1p(-a)`` rounds
    to −inf once the softmax saturates. Here an all-equal row gives log(1 − 1/K) at any
    magnitude, a saturated entry gives ≈ −ℓ_k, and a small a_k gives ≈ −a_k with full
    relative accuracy.

    Args:
      z: logits, shape (..., K) with K ≥ 2 (K = 1 gives −inf: 1 − a = 0).

    Returns:
      Shape (..., K).
    """
    _, d, s, _ = without_self(z)
    # Every other class at −inf: log 0 = −inf, behind a double where so its gradient is 0,
    # not 0·∞ = NaN.
    log_s = jnp.where(s > 0, jnp.log(jnp.where(s > 0, s, 1)), -jnp.inf)
    return -softplus(d - log_s)


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

    .. math:: (J^\top v)_m = \sum_i v_i\, a_i(\delta_{im} - a_m)
              = a_m \left(v_m - \sum_k a_k v_k\right)

    The Jacobian is seed 001's (seed 000 eqs. 8-9, :func:`softmax_jacobian`); this is its
    product with the upstream gradient, the chain rule through a softmax output
    (seed 000 part 3 writes MSE's gradient this way) or a softmax hidden layer (seed 003).

    Args:
      z: logits, shape (..., K).
      v: the upstream gradient ∂L/∂a, shape (..., K).

    Returns:
      ∂L/∂z, shape (..., K).
    """
    a = softmax(z, axis=-1)
    return a * (v - jnp.sum(a * v, axis=-1, keepdims=True))


def sigmoid(x):
    r"""Logistic sigmoid :math:`\sigma(x) = 1/(1+e^{-x})` (seed 000 part 1; seed 003).

    Logistic regression's link (seed 000 part 1) and the first activation of seed 003.
    Evaluated through :math:`e = e^{-|x|} \le 1`:
    :math:`\sigma(x) = 1/(1+e)` for :math:`x \ge 0` and :math:`e/(1+e)` for :math:`x < 0`:
    it never overflows and keeps full relative accuracy in both tails (σ(−50) is
    :math:`e^{-50}`, not 0), which the saturated derivatives σ(1 − σ) rely on.
    """
    x = jnp.asarray(x)
    e = jnp.exp(jnp.where(x >= 0, -x, x))
    return jnp.where(x >= 0, 1.0, e) / (1.0 + e)


def softplus(x):
    r"""Stable :math:`\mathrm{softplus}(x) = \log(1+e^x) = \max(x,0) + \log(1+e^{-|x|})`.

    It is BCE on a sigmoid in log space (seed 000 part 1, seed 003):
    :math:`-\log\sigma(x) = \mathrm{softplus}(-x)` and
    :math:`-\log(1-\sigma(x)) = \mathrm{softplus}(x)`, finite where σ rounds to 0 or 1.

    Written with one ``where`` rather than ``maximum`` and ``abs``: at x = 0 autodiff
    takes ``maximum``'s tie as 1/2 and ``abs``'s slope as 1, which would give
    ``jax.grad(softplus)(0) = 0`` instead of σ(0) = 1/2.
    """
    x = jnp.asarray(x)
    positive = x > 0
    return jnp.where(positive, x, 0) + jnp.log1p(jnp.exp(jnp.where(positive, -x, x)))
