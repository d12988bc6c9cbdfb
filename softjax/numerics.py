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


def softmax_split(z):
    r"""The softmax, and 1 − a for its one class that can saturate, in O(K) per row.

    At most one class per row has :math:`a_k > 1/2` (:math:`\sum_j a_j = 1`, seed 000
    eq. 4); call it k*. Every other class has :math:`1 - a_k \ge 1/2`, so a formula in
    :math:`1 - a_k` is accurate as written. For k*, :math:`1 - a_{k^*}` can round to 0
    (a saturated softmax), so it is rebuilt from the other classes:

    .. math:: 1 - a_{k^*} = \sum_{j \ne k^*} a_j
              = e^{c - m}\,\frac{\sum_{j \ne k^*} e^{z_j - c}}{\sum_j e^{z_j - m}},
              \qquad m = \max_j z_j,\ c = \max_{j \ne k^*} z_j,

    each sum shifted by its own max (eq. 3, through ``stop_gradient``; the expression is
    shift-invariant, so this is exact for autodiff too): nothing cancels, and only logits
    are subtracted from logits. The other classes' softmax
    :math:`p_j = e^{z_j - c} / \sum_{j' \ne k^*} e^{z_{j'} - c} = a_j / (1 - a_{k^*})` is
    the one ratio over 1 − a that can be large.

    Args:
      z: logits, shape (..., K).

    Returns:
      ``(a, top, p, log_rest)``: ``a`` the softmax; ``top`` marks k* (no class in a row
      whose classes are all ≤ 1/2); ``p`` as above, 0 at k* (in a row without k*, the
      softmax itself); ``log_rest`` = :math:`\log(1 - a_{k^*})`, shape (..., 1): −inf
      where every other class is −inf (K = 1 included).
    """
    shifted, m = _shifted(z, axis=-1)
    e = jnp.exp(shifted)
    total = jnp.sum(e, axis=-1, keepdims=True)
    a = e / total
    top = a > 0.5
    others, c = _shifted(jnp.where(top, -jnp.inf, z), axis=-1)
    e_others = jnp.exp(others)
    rest = jnp.sum(e_others, axis=-1, keepdims=True)
    # rest = 0 only when every other class is −inf: log 0 = −inf and p's 0/0 = 0, behind
    # double wheres so that their gradients are 0, not 0·∞ = NaN.
    positive = rest > 0
    safe_rest = jnp.where(positive, rest, 1)
    log_rest = jnp.where(positive, (c - m) + jnp.log(safe_rest) - jnp.log(total), -jnp.inf)
    return a, top, e_others / safe_rest, log_rest


def log1m_softmax(z):
    r"""Stable :math:`\log(1 - \mathrm{softmax}(z)_k)` over the last axis, in O(K) per row.

    The BCE-on-softmax loss of seed 000 part 3 needs :math:`\log(1 - \hat y_k)`. Where
    :math:`a_k \le 1/2` it is ``log1p(-a_k)``: accurate, and ≈ −a_k with full relative
    accuracy for a small a_k. For the one class with :math:`a_k > 1/2` it is
    :math:`\log \sum_{j \ne k} a_j` of :func:`softmax_split` (seed 000 eq. 4 with the
    log-sum-exp of seed 002), which stays finite where the softmax saturates and ``log1p(-a)``
    would be −inf: a saturated entry gives ≈ −(z_k − max_{j≠k} z_j). The plain difference
    of two log-sum-exps would lose ≈ eps·|z| to cancellation (four equal logits at 1e8 in
    float32 gave 0 instead of log(3/4)); here an all-equal row gives log(1 − 1/K) at any
    magnitude, bitwise as the zero row.

    Args:
      z: logits, shape (..., K) with K ≥ 2 (K = 1 gives −inf: 1 − a = 0).

    Returns:
      Shape (..., K).
    """
    a, top, _, log_rest = softmax_split(z)
    # Double where: log1p(−1) at k* would be −inf, and its gradient NaN.
    return jnp.where(top, log_rest, jnp.log1p(-jnp.where(top, 0, a)))


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

    Evaluated without the cancellation of :math:`v_m - \sum_k a_k v_k`, which loses the
    leading class's entry once its probability rounds to 1: with :math:`\sum_k a_k = 1`,

    .. math:: (J^\top v)_m = a_m \Big[(v_m - v_p) + \sum_{k \ne p} a_k (v_p - v_k)\Big]

    for the pivot p = argmax z, i.e. :math:`a_p` enters as :math:`1 - \sum_{k \ne p} a_k`
    ("one minus the largest probability as the sum of the others"): the pivot's entry is
    :math:`a_p` times a sum of small terms, and nothing O(1) cancels. O(K) per row.

    Args:
      z: logits, shape (..., K).
      v: the upstream gradient ∂L/∂a, shape (..., K).

    Returns:
      ∂L/∂z, shape (..., K).
    """
    a, pivot, _ = _pivoted_softmax(z)
    return _pivoted_vjp(a, pivot, v)


def _pivoted_softmax(z):
    """The softmax a, the mask of the pivot class p = argmax z and Σ_{k≠p} a_k (..., 1)."""
    a = softmax(z, axis=-1)
    pivot = jnp.arange(a.shape[-1]) == jnp.argmax(z, axis=-1, keepdims=True)
    return a, pivot, jnp.sum(jnp.where(pivot, 0, a), axis=-1, keepdims=True)


def _pivoted_vjp(a, pivot, v):
    v_p = jnp.sum(jnp.where(pivot, v, 0), axis=-1, keepdims=True)
    c = jnp.sum(jnp.where(pivot, 0, a * (v_p - v)), axis=-1, keepdims=True)
    return a * ((v - v_p) + c)


def softmax_error_vjp(z, y, f=None):
    r"""Cancellation-free :math:`J^\top f(\hat y - y)` for ŷ = softmax(z): the chain
    rule of a loss on the softmax's error (MSE: f = identity; MAE: f = sign).

    As :func:`softmax_vjp`, with the error at the pivot p = argmax z also formed without
    cancellation, :math:`\hat y_p - y_p = (1 - y_p) - \sum_{k \ne p} \hat y_k`: a row
    saturated on its label keeps its tiny error (and its sign, which f = sign needs)
    where ŷ_p − 1 would round to 0.

    Args:
      z: logits, shape (..., K).
      y: targets, shape (..., K).
      f: applied to the error ŷ − y entry-wise (None: the identity).

    Returns:
      ∂L/∂z, shape (..., K), for a loss L with ∂L/∂ŷ = f(ŷ − y).
    """
    a, pivot, rest = _pivoted_softmax(z)
    error = jnp.where(pivot, (1.0 - y) - rest, a - y)
    return _pivoted_vjp(a, pivot, error if f is None else f(error))


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
