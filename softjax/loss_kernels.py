"""Each built-in loss as two kernels on float target rows: its value (the batch mean) and
its closed-form per-sample logit gradient ∂ℓ_i/∂z_i (no autodiff inside), and
:func:`closed_form_loss`, which makes ``jax.grad`` run that closed form.

The kernels take logits z (N, K) and float target rows y (N, K) (``softjax.targets``
builds them from class ids) and check nothing: they run inside traced programs whose
labels were validated once at the public boundary. ``softjax.losses`` pairs each value
with its gradient in one record; the formulas and their sources are tabled there and in
``softjax.grads.per_sample_logits_grad``.

Every softmax-Jacobian product goes through
:func:`~softjax.numerics.softmax_error_vjp` / :func:`~softjax.numerics.softmax_vjp`,
whose pivot form does not cancel where the softmax saturates: the float32 gradients of
rows saturated on a wrong class keep their direction and norm (``tests/test_saturated_grads.py``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from softjax.numerics import (
    log1m_softmax,
    log_softmax,
    sigmoid,
    softmax,
    softmax_error_vjp,
    softmax_split,
    softplus,
)


def _xlogy(y, log_p):
    """y · log p with 0 wherever y = 0, also where log p = −inf (no 0·∞ = NaN)."""
    return jnp.where(y != 0, y * log_p, 0)


def smoothed_targets(y, smoothing):
    """Label smoothing (Szegedy et al. 2016, §7): (1 − ε) y + ε/K."""
    return (1.0 - smoothing) * y + smoothing / y.shape[-1]


def _mean(per_sample):
    return jnp.mean(per_sample)


# --- values: per-sample ℓ_i, then the batch mean -------------------------------------


def _cce_rows(z, y):
    return -jnp.sum(_xlogy(y, log_softmax(z)), axis=-1)


def _mse_rows(z, y):
    return 0.5 * jnp.sum((softmax(z) - y) ** 2, axis=-1)


def cce(z, y):
    return _mean(_cce_rows(z, y))


def mse(z, y):
    return _mean(_mse_rows(z, y))


def bce(z, y):
    per_class = _xlogy(y, log_softmax(z)) + _xlogy(1.0 - y, log1m_softmax(z))
    return -jnp.mean(jnp.sum(per_class, axis=-1))


def sigmoid_bce(z, y):
    # −log s = softplus(−z), −log(1 − s) = softplus(z): each finite where its weight is not 0.
    per_class = _xlogy(y, -softplus(-z)) + _xlogy(1.0 - y, -softplus(z))
    return -jnp.mean(jnp.sum(per_class, axis=-1))


def square(z, y):
    return jnp.mean(0.5 * jnp.sum((z - y) ** 2, axis=-1))


def square_rescaled(z, y, k=1.0, M=1.0):
    # Row form of Hui & Belkin's one-hot loss: weight k and target M on the label's column.
    weight = 1.0 + (k - 1.0) * y
    return jnp.mean(jnp.sum(weight * (z - M * y) ** 2, axis=-1) / z.shape[-1])


def mae(z, y):
    return jnp.mean(jnp.sum(jnp.abs(softmax(z) - y), axis=-1))


def sigmoid_mse(z, y):
    return jnp.mean(0.5 * jnp.sum((sigmoid(z) - y) ** 2, axis=-1))


def cce_smoothed(z, y, smoothing=0.1):
    return cce(z, smoothed_targets(y, smoothing))


def gce(z, y, q=0.7):
    # Σ_k y_k (1 − p_k^q)/q with 1 − p^q = −expm1(q log p): exact near p = 1, and 0 (not
    # NaN) for a zero target on a −inf logit.
    return jnp.mean(jnp.sum(_xlogy(y, -jnp.expm1(q * log_softmax(z))), axis=-1) / q)


def _swap_value(z, y, rows_of, ratio):
    """ℓ_dir's batch mean as the value of a surrogate whose gradient is s_i ∂ℓ_dir,i/∂z_i:
    mean_i [ℓ_i(z) + s_i (ℓ_i(z') − ℓ_i(z))] at z' = z, with ℓ_i(z) and s_i held fixed."""
    rows = rows_of(z, y)
    held = jax.lax.stop_gradient(rows)
    return _mean(held + jax.lax.stop_gradient(ratio(z, y)) * (rows - held))


def cce_dir_mse_norm(z, y):
    return _swap_value(z, y, _cce_rows, lambda z, y: _ratio(mse_grad(z, y), cce_grad(z, y)))


def mse_dir_cce_norm(z, y):
    return _swap_value(z, y, _mse_rows, lambda z, y: _ratio(cce_grad(z, y), mse_grad(z, y)))


# --- closed-form per-sample gradients ∂ℓ_i/∂z_i ----------------------------------------


def cce_grad(z, y):
    r"""CCE: :math:`\hat y \sum_k y_k - y`, i.e. the error vector e = ŷ − y of seed 000
    eqs. 7-8 (seed 001, seed 002) whenever the target row sums to 1."""
    return softmax(z) * jnp.sum(y, axis=-1, keepdims=True) - y


def mse_grad(z, y):
    r"""MSE on softmax: :math:`J^\top(\hat y - y)` (seed 000 part 3), i.e.

    .. math:: (\hat y_j - y_j)\hat y_j(1 - \hat y_j)
              - \sum_{k \ne j}(\hat y_k - y_k)\hat y_k \hat y_j

    every term carries softmax factors that vanish at saturation. Evaluated by the pivot
    form of :func:`~softjax.numerics.softmax_error_vjp`, which does not cancel there."""
    return softmax_error_vjp(z, y)


def bce_grad(z, y):
    r"""BCE on softmax: :math:`J^\top g` with :math:`g_k = (\hat y_k - y_k)/(\hat y_k(1-\hat y_k))`
    (seed 000 part 3 with seed 001's Jacobian). Expanded and regrouped so that nothing is
    divided by a rounded-to-zero 1 − ŷ:

    .. math:: \frac{\partial \ell}{\partial z_m} = \hat y_m \Big(\sum_k y_k + 1 - y_m\Big) - y_m
              - \sum_{k \ne m} (1 - y_k)\, \hat y_k \frac{\hat y_m}{1 - \hat y_k}.

    Every k but the one class k* with :math:`\hat y_k > 1/2` has
    :math:`1 - \hat y_k \ge 1/2`, so its odds :math:`\hat y_k / (1 - \hat y_k) \le 1`
    and the sum over those k is :math:`\hat y_m` times a sum of bounded terms (O(K) per
    row); k*'s term uses :math:`\hat y_m / (1 - \hat y_{k^*})`, the softmax over the classes
    j ≠ k* (:func:`~softjax.numerics.softmax_split`), shifted by its own max, so no two
    huge logits are ever added or cancelled.
    """
    a, top, p, _ = softmax_split(z)
    odds = jnp.where(top, 0, a / (1.0 - jnp.where(top, 0, a)))
    weighted = (1.0 - y) * odds
    rest = jnp.sum(weighted, axis=-1, keepdims=True) - weighted  # Σ over k ≠ m, k ≠ k*
    top_weight = jnp.sum(jnp.where(top, a * (1.0 - y), 0), axis=-1, keepdims=True)
    coupling = a * rest + top_weight * p
    return a * (jnp.sum(y, axis=-1, keepdims=True) + 1.0 - y) - y - coupling


def sigmoid_bce_grad(z, y):
    r"""One-vs-rest sigmoid BCE: :math:`\sigma(z) - y`, each sigmoid's own error
    (seed 001, seed 003; seed 000 part 1 for K = 1)."""
    return sigmoid(z) - y


def square_grad(z, y):
    r"""Square loss on raw logits: :math:`z - y` (seed 000 part 1), no saturation factor."""
    return z - y


def square_rescaled_grad(z, y, k=1.0, M=1.0):
    r"""Hui & Belkin's rescaled square loss: :math:`\frac2K (1 + (k-1) y)(z - M y)`,
    i.e. (2k/K)(z_y − M) on the label and (2/K) z_c elsewhere."""
    return 2.0 * (1.0 + (k - 1.0) * y) * (z - M * y) / z.shape[-1]


def mae_grad(z, y):
    r"""MAE on softmax (Ghosh et al. 2017): :math:`J^\top \mathrm{sign}(\hat y - y)`,
    with sign(0) = 0 as ``jnp.sign`` and autodiff of ``abs`` take it; by the pivot form
    of :func:`~softjax.numerics.softmax_error_vjp` (no cancellation at saturation)."""
    return softmax_error_vjp(z, y, jnp.sign)


def sigmoid_mse_grad(z, y):
    r"""Quadratic cost on sigmoids (Nielsen ch. 3): :math:`(\sigma - y)\,\sigma(1 - \sigma)`,
    the factor σ(1 − σ) = σ(z)σ(−z) that makes learning slow down at saturation."""
    return (sigmoid(z) - y) * sigmoid(z) * sigmoid(-z)


def cce_smoothed_grad(z, y, smoothing=0.1):
    r"""Label-smoothed CCE (Szegedy et al. 2016): :math:`\hat y - y_\varepsilon`, with
    :math:`y_\varepsilon = (1 - \varepsilon) y + \varepsilon/K` (as :func:`cce_grad`)."""
    return cce_grad(z, smoothed_targets(y, smoothing))


def gce_grad(z, y, q=0.7):
    r"""Generalised cross-entropy (Zhang & Sabuncu 2018): with :math:`w_k = y_k p_k^q`,

    .. math:: \frac{\partial \ell}{\partial z_m} = p_m \sum_k w_k - w_m
              = p_m \sum_{k \ne m} w_k - w_m (1 - p_m),

    the second form free of cancellation: :math:`1 - p_m` is the sum of the other
    classes' probabilities for the pivot (argmax) class, and accurate as written for the
    others (each ≤ 1/2)."""
    a, top, _, log_rest = softmax_split(z)
    w = y * jnp.exp(q * log_softmax(z))
    one_minus = jnp.where(top, jnp.exp(log_rest), 1.0 - jnp.where(top, 0, a))
    return a * (jnp.sum(w, axis=-1, keepdims=True) - w) - w * one_minus


def _scaled_norm(g):
    """Row norms ‖g‖ (..., 1) and unit rows g/‖g‖ (0 where g = 0), scaled by max|g| first
    so that tiny saturated gradients (≈ 1e-35 in float32) neither underflow when squared
    nor lose their direction."""
    m = jnp.max(jnp.abs(g), axis=-1, keepdims=True)
    safe_m = jnp.where(m > 0, m, 1)
    unit_scaled = g / safe_m
    n = jnp.sqrt(jnp.sum(unit_scaled**2, axis=-1, keepdims=True))
    safe_n = jnp.where(n > 0, n, 1)
    return m * n, unit_scaled / safe_n


def _ratio(num, den):
    """‖num‖/‖den‖ per row, shape (N,); 0 where ‖den‖ = 0 (the rule's step is 0 there)."""
    n_num, n_den = _scaled_norm(num)[0][..., 0], _scaled_norm(den)[0][..., 0]
    return jnp.where(n_den > 0, n_num / jnp.where(n_den > 0, n_den, 1), 0)


def _swap(direction, norm):
    """g_dir · ‖g_norm‖ / ‖g_dir‖ per row: the unit direction at the other's norm."""
    return _scaled_norm(direction)[1] * _scaled_norm(norm)[0]


def cce_dir_mse_norm_grad(z, y):
    r""":math:`g_{CE}\,\lVert g_{MSE}\rVert / \lVert g_{CE}\rVert` per row (0 where
    :math:`g_{CE} = 0`)."""
    return _swap(cce_grad(z, y), mse_grad(z, y))


def mse_dir_cce_norm_grad(z, y):
    r""":math:`g_{MSE}\,\lVert g_{CE}\rVert / \lVert g_{MSE}\rVert` per row (0 where
    :math:`g_{MSE} = 0`)."""
    return _swap(mse_grad(z, y), cce_grad(z, y))


# --- jax.grad through the closed form --------------------------------------------------


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def closed_form_loss(kernel, grad, z, y, params):
    """``kernel(z, y, **params)``, differentiated in z by the closed form: the tangent is
    Σ_i ⟨grad(z, y, **params)_i, dz_i⟩ / N, so ``jax.grad`` returns ``grad / N`` (forward
    mode, ``jax.hessian`` and vmap work too). Tangents of the targets y and of ``params``
    (rarely wanted) go through autodiff of ``kernel``: nothing is silently zero."""
    return kernel(z, y, **params)


@partial(closed_form_loss.defjvp, symbolic_zeros=True)
def _closed_form_jvp(kernel, grad, primals, tangents):
    z, y, params = primals
    dz, dy, dparams = tangents
    value = kernel(z, y, **params)
    out = jnp.zeros_like(value)
    if not isinstance(dz, SymbolicZero):
        out = out + jnp.sum(grad(z, y, **params) * dz) / z.shape[0]
    leaves, tree = jax.tree.flatten((y, params))
    d_leaves = jax.tree.leaves((dy, dparams), is_leaf=lambda t: isinstance(t, SymbolicZero))
    live = [i for i, t in enumerate(d_leaves) if not isinstance(t, SymbolicZero)]
    if live:

        def of_live(*xs):
            full = list(leaves)
            for i, x in zip(live, xs, strict=True):
                full[i] = x
            y_, p_ = jax.tree.unflatten(tree, full)
            return kernel(z, y_, **p_)

        _, d_rest = jax.jvp(of_live, [leaves[i] for i in live], [d_leaves[i] for i in live])
        out = out + d_rest
    return value, out
