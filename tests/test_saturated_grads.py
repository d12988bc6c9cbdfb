"""Float32 logit gradients where the softmax saturates on a wrong class (issue #34).

Rows with one wrong logit ahead of the rest by 17-80 (softmax regression at init scale
100, stuck MLPs), up to where float32 still holds the small probabilities (e^-80 ≈ 2e-35):
once the leading probability rounds to 1, the plain softmax-Jacobian product
ŷ ⊙ (r − Σ_k ŷ_k r_k) cancels, and MSE's and MAE's gradients lost their direction and
norm. For EVERY registered built-in (a new one joins automatically), ``logits_grad`` and
``jax.grad`` through ``LOSSES`` in float32 must match the float64 closed form row by row:
cosine ≥ 0.999 and norm within 1e-3 on ≥ 99% of rows. The float64 closed forms are held to
a 150-digit decimal reference on the same rows, so the reference itself is checked.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
from tests.helpers import jit_fast, softmax_error_vjp_exact

N, K = 400, 10
GAPS = (17.0, 80.0)
BUILTINS = [name for name in sj.LOSSES if sj.resolve_loss(name).is_builtin]


def saturated_rows(seed=0):
    """Logits (N, K) float32 with one wrong class ahead by a gap in [17, 80], and the ids."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, K, N)
    wrong = (ids + rng.integers(1, K, N)) % K
    z = rng.standard_normal((N, K))
    z[np.arange(N), wrong] = z.max(axis=1) + rng.uniform(*GAPS, N)
    return z.astype(np.float32), ids


def row_agreement(got, ref):
    """Per row: cosine and |‖got‖/‖ref‖ − 1|, scaled by the row's max so that tiny rows
    (≈ 1e-35) neither underflow nor vanish."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    scale = np.max(np.abs(ref), axis=1, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    got, ref = got / scale, ref / scale
    n_got, n_ref = np.linalg.norm(got, axis=1), np.linalg.norm(ref, axis=1)
    cosine = np.sum(got * ref, axis=1) / np.maximum(n_got * n_ref, 1e-300)
    return cosine, np.abs(n_got / np.maximum(n_ref, 1e-300) - 1.0)


def assert_rows_agree(got, ref, what):
    cosine, norm_error = row_agreement(got, ref)
    good = (cosine >= 0.999) & (norm_error <= 1e-3)
    assert np.mean(good) >= 0.99, (
        f"{what}: {np.sum(~good)} of {len(good)} rows off; median cosine "
        f"{np.median(cosine):.4f}, median norm error {np.median(norm_error):.2e}"
    )


def test_the_rows_are_saturated_and_representable_in_float32():
    z, ids = saturated_rows()
    p = np.asarray(sj.softmax(jnp.asarray(z)))
    assert np.all(np.argmax(z, axis=1) != ids)
    assert np.mean(p.max(axis=1) == 1.0) > 0.9  # the leading probability rounds to 1
    assert np.all(p[np.arange(N), ids] > 0)  # the label's probability is still there


@pytest.mark.parametrize("name", BUILTINS)
def test_float32_gradients_on_rows_saturated_on_a_wrong_class(name):
    z, ids = saturated_rows()
    grads = jit_fast(lambda z, y: (sj.logits_grad(name, z, y), jax.grad(sj.LOSSES[name])(z, y)))
    closed32, auto32 = grads(jnp.asarray(z), jnp.asarray(ids))
    with jax.enable_x64(True):
        ref = np.asarray(sj.logits_grad(name, jnp.asarray(z, jnp.float64), jnp.asarray(ids)))
    assert closed32.dtype == auto32.dtype == jnp.float32
    assert_rows_agree(closed32, ref, f"{name} logits_grad float32")
    assert_rows_agree(auto32, ref, f"{name} jax.grad float32")


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_the_float64_reference_equals_a_150_digit_one(name):
    """The float64 closed forms (the reference above) entry by entry against the product
    Jᵀ f(ŷ − y) in 150-digit decimals, relative 1e-9 (entries down to e^-80 and below)."""
    z, ids = saturated_rows()
    rows = 64  # the decimal reference is slow in pure Python
    with jax.enable_x64(True):
        got = np.asarray(
            sj.per_sample_logits_grad(name, jnp.asarray(z[:rows], jnp.float64), ids[:rows])
        )
    exact = softmax_error_vjp_exact(z[:rows], np.eye(K)[ids[:rows]], sign=name == "mae")
    np.testing.assert_allclose(got, exact, rtol=1e-9, atol=0)
