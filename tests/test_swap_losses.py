"""The gradient-swap rules as losses (issue #30): ``cce_dir_mse_norm`` (CE's direction at
MSE's norm) and ``mse_dir_cce_norm`` (MSE's direction at CE's norm).

Against float64 references, row by row: the gradient's direction is one loss's and its
norm the other's (MSE's from a 150-digit reference, since the rescaling multiplies its
error by up to ~1e7); ``jax.grad`` equals the closed form; the value is the direction
loss's; a zero norm gives a zero row, never NaN; finite at ±1e30 logits in float32.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
from tests.helpers import assert_rel_close, formula_loss, jit_fast, softmax_error_vjp_exact
from tests.test_saturated_grads import row_agreement, saturated_rows

SWAPS = {"cce_dir_mse_norm": ("cce", "mse"), "mse_dir_cce_norm": ("mse", "cce")}
N, K = 12, 5


def _logits(rng):
    z = rng.standard_normal((N, K)) * 3
    z[0, :2] = [40.0, -40.0]  # saturated on its label (id 0 below)
    z[1, 1] = 25.0  # saturated on a wrong class
    return z


def _exact_per_sample(name, z, y):
    """g_CE = ŷ − y and g_MSE = Jᵀ(ŷ − y) at 150 digits (float64 out)."""
    if name == "mse":
        return softmax_error_vjp_exact(z, y)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True) - y


@pytest.mark.parametrize("name", list(SWAPS))
def test_direction_of_one_loss_at_the_norm_of_the_other_float64(name):
    direction, norm = SWAPS[name]
    rng = np.random.default_rng(3)
    z, ids = _logits(rng), rng.integers(0, K, N)
    ids[0] = 0
    y = np.eye(K)[ids]
    with jax.enable_x64(True):
        zj, idj = jnp.asarray(z), jnp.asarray(ids)
        g = np.asarray(sj.per_sample_logits_grad(name, zj, idj))
        through = np.asarray(jax.grad(sj.LOSSES[name])(zj, idj)) * N
        formula = np.asarray(jax.grad(formula_loss(name))(zj, idj)) * N
        value = float(sj.LOSSES[name](zj, idj))
        value_of_direction = float(sj.LOSSES[direction](zj, idj))
    g_dir, g_norm = _exact_per_sample(direction, z, y), _exact_per_sample(norm, z, y)
    cosine, _ = row_agreement(g, g_dir)
    np.testing.assert_allclose(cosine, 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        np.linalg.norm(g, axis=1), np.linalg.norm(g_norm, axis=1), rtol=1e-10, atol=0
    )
    assert_rel_close(through, g, 1e-14, f"{name} jax.grad = closed form")
    assert_rel_close(formula, g, 1e-10, f"{name} autodiff of the surrogate formula")
    assert value == value_of_direction


@pytest.mark.parametrize("name", list(SWAPS))
def test_float32_on_saturated_rows_keeps_direction_and_norm(name):
    """The rule on rows saturated on a wrong class (gaps 17-80), float32 vs float64: the
    rescaling would amplify an inaccurate MSE gradient by ~1e7."""
    z, ids = saturated_rows(seed=1)
    g32 = jit_fast(lambda z, y: jax.grad(sj.LOSSES[name])(z, y))(jnp.asarray(z), jnp.asarray(ids))
    with jax.enable_x64(True):
        g64 = sj.logits_grad(name, jnp.asarray(z, jnp.float64), jnp.asarray(ids))
    cosine, norm_error = row_agreement(g32, g64)
    assert np.mean((cosine >= 0.999) & (norm_error <= 1e-3)) >= 0.99


@pytest.mark.parametrize("name", list(SWAPS))
def test_a_zero_norm_gives_a_zero_row_and_huge_logits_stay_finite(name):
    """Targets equal to the softmax (exactly: uniform): g_CE = g_MSE = 0, so the rule is 0
    (no 0/0 = NaN). At ±1e30 in float32 (MSE's gradient underflows to 0 there) values and
    gradients are finite."""
    z = jnp.asarray([[0.0, 0.0, 0.0, 0.0], [3.0, 3.0, 3.0, 3.0]])
    rows = jnp.full((2, 4), 0.25)
    g = jax.grad(sj.LOSSES[name])(z, rows)
    np.testing.assert_array_equal(g, 0.0)
    rng = np.random.default_rng(5)
    huge = jnp.asarray(np.where(rng.random((N, K)) < 0.5, -1e30, 1e30), jnp.float32)
    ids = jnp.asarray(rng.integers(0, K, N))
    value, grad = jax.value_and_grad(sj.LOSSES[name])(huge, ids)
    closed = sj.logits_grad(name, huge, ids)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad))) and np.all(np.isfinite(np.asarray(closed)))
    np.testing.assert_array_equal(grad, closed)
