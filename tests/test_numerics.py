"""softjax.numerics: the stable softmax family (seed 000 eqs. 2-4, 8-9; seed 002).

* float32 equivalence with jax.nn to 1e-6, on every axis;
* the closed-form softmax Jacobian and its vector product against autodiff in float64;
* the properties the notes state (shift invariance, rows sum to 1, ...) under hypothesis;
* saturation and ±inf handling.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import softjax as sj
from softjax.numerics import _shifted, softmax_split
from tests.helpers import (
    assert_rel_close,
    jit_fast,
    softmax_error_vjp_exact,
    without_self_quadratic,
)

F32 = {"rtol": 1e-6, "atol": 1e-6}
# XLA CPU settings that cut compile time several-fold (no LLVM optimization, the older
# loop emitters); the arithmetic is the same IEEE floating point.


def softmax_np(z, axis=-1):
    """Independent float64 reference."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


Z3 = np.random.default_rng(0).standard_normal((3, 5, 7))


@jit_fast
def _ours_and_jax_nn(z):
    out = {}
    for axis in (0, 1, -1):
        out[f"softmax axis={axis}"] = (sj.softmax(z, axis=axis), jax.nn.softmax(z, axis=axis))
        out[f"log_softmax axis={axis}"] = (
            sj.log_softmax(z, axis),
            jax.nn.log_softmax(z, axis=axis),
        )
        out[f"logsumexp axis={axis}"] = (sj.logsumexp(z, axis), jax.nn.logsumexp(z, axis=axis))
    out["sigmoid"] = (sj.sigmoid(z), jax.nn.sigmoid(z))
    out["softplus"] = (sj.softplus(z), jax.nn.softplus(z))
    return out


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3])
def test_matches_jax_nn_in_float32(scale):
    """softmax, log_softmax, logsumexp on axes 0, 1, −1, and sigmoid, softplus.

    rtol 1e-6 scales with the value, so log-space outputs of size ~1e3 get ~1e-3 slack:
    that is float32's own resolution there, not a loosened test.
    """
    z = jnp.asarray(Z3 * scale, jnp.float32)
    for key, (ours, ref) in _ours_and_jax_nn(z).items():
        assert ours.dtype == jnp.float32, key
        assert ours.shape == ref.shape, key
        np.testing.assert_allclose(ours, ref, **F32, err_msg=str(key))


def test_sigmoid_and_softplus_float32_tails():
    """Equal to jax.nn to 1e-6 over [−100, 100]; finite and correctly limited at ±1e30."""
    x = jnp.asarray(np.concatenate([np.linspace(-100, 100, 2001), [-1e30, 1e30]]), jnp.float32)
    s, sp = sj.sigmoid(x), sj.softplus(x)
    np.testing.assert_allclose(s, jax.nn.sigmoid(x), **F32)
    np.testing.assert_allclose(sp, jax.nn.softplus(x), **F32)
    assert float(s[-2]) == 0.0 and float(s[-1]) == 1.0
    assert float(sp[-2]) == 0.0 and float(sp[-1]) == float(np.float32(1e30))


def test_sigmoid_keeps_relative_accuracy_in_the_left_tail():
    """σ(x) ≈ e^x for x ≪ 0 is representable down to ≈ −87 in float32 and −708 in float64.

    The value must keep its relative accuracy there (not round to 0): the notes' sigmoid
    derivative σ(1 − σ) and the vanishing-gradient measurements are built on it.
    """
    x32 = np.linspace(-80.0, 80.0, 1601).astype(np.float32)
    exact = 1.0 / (1.0 + np.exp(-x32.astype(np.float64)))  # of the float32 inputs
    np.testing.assert_allclose(sj.sigmoid(jnp.asarray(x32, jnp.float32)), exact, rtol=1e-6)
    with jax.enable_x64(True):
        x64 = np.linspace(-700.0, 30.0, 1461)
        np.testing.assert_allclose(
            sj.sigmoid(jnp.asarray(x64, jnp.float64)), 1.0 / (1.0 + np.exp(-x64)), rtol=1e-13
        )


def test_log1m_softmax_matches_independent_formula():
    """log(1 − a_k) == logsumexp_{j≠k} z_j − logsumexp_j z_j, finite where 1 − a rounds to 0;
    softmax_split marks the class with a_k > 1/2 (k*) and gives p_m == a_m / (1 − a_k*) (0 at
    k*; the softmax itself in rows without k*), in float64."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 5)) * 3
    z[0] = [60.0, -60.0, 0.0, 1.0, 2.0]  # a_0 = 1 − O(e^-58): log(1 − a_0) ≈ −58
    lse = np.logaddexp.reduce
    expected = np.stack([[lse(np.delete(row, k)) - lse(row) for k in range(5)] for row in z])
    a = softmax_np(z)
    others = np.stack([np.delete(a, k, axis=-1).sum(-1) for k in range(5)], -1)  # 1 − a_k
    top = a > 0.5
    assert 0 < top.any(-1).sum() < len(z)  # rows with and without a class above 1/2
    with jax.enable_x64(True):
        ours, split = jit_fast(lambda z: (sj.log1m_softmax(z), softmax_split(z)))(
            jnp.asarray(z, jnp.float64)
        )
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    assert float(ours[0, 0]) < -50
    np.testing.assert_allclose(ours[1:], np.log1p(-softmax_np(z[1:])), rtol=1e-12, atol=1e-12)
    a_split, top_split, p, _ = (np.asarray(v) for v in split)
    np.testing.assert_allclose(a_split, a, rtol=1e-14)
    np.testing.assert_array_equal(top_split, top)
    denominator = np.where(top.any(-1), (others * top).sum(-1), 1.0)[:, None]
    np.testing.assert_allclose(p, np.where(top, 0, a) / denominator, rtol=1e-12, atol=0)


def _log1m_softmax_quadratic(z):
    """The O(K²) form log1m_softmax had before: row k of z without z_k, shifted by its own
    max c_k, for every k."""
    others, shift = _shifted(without_self_quadratic(z), axis=-1)
    total = jnp.sum(jnp.exp(others), axis=-1)
    log_total = jnp.where(total > 0, jnp.log(jnp.where(total > 0, total, 1)), -jnp.inf)
    return -sj.softplus((z - shift[..., 0]) - log_total)


@jit_fast
def _log1m_both(z):
    return sj.log1m_softmax(z), _log1m_softmax_quadratic(z)


@jit_fast
def _log1m_grads(z, w):
    def grad_of(f):
        return jax.grad(lambda z: jnp.sum(w * jnp.where(jnp.isfinite(f(z)), f(z), 0.0)))(z)

    return grad_of(sj.log1m_softmax), grad_of(_log1m_softmax_quadratic)


def test_log1m_softmax_equals_its_quadratic_form():
    """The O(K) form (log1p(−a) where a ≤ 1/2, the other classes' log-sum-exp for the one
    class above 1/2) equals the O(K²) per-class shift in value (float32, to rounding) and
    in its autodiff gradient (float64), on random, saturated, tied and −inf rows."""
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((64, 10)) * rng.choice([0.1, 3.0, 30.0, 300.0], (64, 1))
    rows[0] = 5.0  # all tied
    rows[1, :3] = 80.0  # a tie at the top, the rest saturated away
    rows[2, 1:] = -np.inf  # one finite class
    rows[3, ::2] = -np.inf
    rows[4] = [1e30] + [0.0] * 9
    w = rng.standard_normal(rows.shape)
    ours, quadratic = (np.asarray(v) for v in _log1m_both(jnp.asarray(rows, jnp.float32)))
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(quadratic))
    finite = np.isfinite(ours)
    np.testing.assert_array_equal(ours[~finite], quadratic[~finite])
    np.testing.assert_allclose(ours[finite], quadratic[finite], rtol=2e-6, atol=1e-6)
    with jax.enable_x64(True):
        g_ours, g_quadratic = _log1m_grads(jnp.asarray(rows), jnp.asarray(w))
    assert np.all(np.isfinite(g_ours))
    np.testing.assert_allclose(g_ours, g_quadratic, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Jacobian and vector-Jacobian product, float64
# ---------------------------------------------------------------------------------------


@jit_fast
def _jacobians(z, v):
    rows = z.reshape(-1, z.shape[-1])
    auto_jac = jax.vmap(jax.jacobian(sj.softmax))(rows).reshape(*z.shape, z.shape[-1])
    _, pullback = jax.vjp(sj.softmax, z)
    return sj.softmax_jacobian(z), auto_jac, sj.softmax_vjp(z, v), pullback(v)[0]


@pytest.mark.parametrize("shape", [(1, 2), (6, 5), (2, 3, 20)])
def test_softmax_jacobian_and_vjp_match_autodiff(shape):
    """diag(a) − a aᵀ (seed 001; seed 000 eqs. 8-9) == jax.jacobian row by row, and == the
    same matrix built in numpy; softmax_vjp(z, v) == jax.vjp and == Jᵀ v."""
    rng = np.random.default_rng(sum(shape))
    z = rng.standard_normal(shape) * 5
    z[..., 0] = 40.0  # one saturated entry per row
    z.reshape(-1)[1::7] = -40.0
    v = rng.standard_normal(shape)
    with jax.enable_x64(True):
        jac, auto_jac, vjp, auto_vjp = _jacobians(jnp.asarray(z), jnp.asarray(v))
    assert jac.shape == (*shape, shape[-1])
    a = softmax_np(z)
    by_hand = np.einsum("...i,ij->...ij", a, np.eye(shape[-1])) - a[..., :, None] * a[..., None, :]
    for row_jac, row_auto, row_hand in zip(
        jac.reshape(-1, shape[-1], shape[-1]),
        auto_jac.reshape(-1, shape[-1], shape[-1]),
        by_hand.reshape(-1, shape[-1], shape[-1]),
        strict=True,
    ):
        assert_rel_close(row_jac, row_auto)
        assert_rel_close(row_jac, row_hand)
    assert_rel_close(vjp, auto_vjp)
    assert_rel_close(vjp, np.einsum("...ij,...i->...j", by_hand, v))


# ---------------------------------------------------------------------------------------
# Properties (hypothesis), float64
# ---------------------------------------------------------------------------------------


@jit_fast
def _properties(z, c):
    return {
        "a": sj.softmax(z),
        "a_shifted": sj.softmax(z + c),
        "log_a": sj.log_softmax(z),
        "lse": sj.logsumexp(z),
        "lse_shifted": sj.logsumexp(z + c),
        "jac": sj.softmax_jacobian(z),
    }


@settings(max_examples=40, deadline=None)
@given(
    z=hnp.arrays(
        np.float64,
        st.sampled_from([(1, 1), (1, 2), (4, 3), (3, 8)]),
        elements=st.floats(-50, 50, allow_subnormal=False),
    ),
    c=st.floats(-100, 100),
)
def test_softmax_properties(z, c):
    """Shift invariance (eq. 3), rows sum to 1 (eq. 4), a ∈ [0, 1], log_softmax = log(softmax),
    logsumexp(z + c) = logsumexp(z) + c, and the Jacobian is symmetric with zero row sums."""
    with jax.enable_x64(True):
        out = _properties(jnp.asarray(z), jnp.float64(c))
    a = np.asarray(out["a"])
    np.testing.assert_allclose(out["a_shifted"], a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=0, atol=1e-14)
    assert np.all((a >= 0) & (a <= 1))
    finite = a > 0
    np.testing.assert_allclose(np.asarray(out["log_a"])[finite], np.log(a[finite]), atol=1e-12)
    np.testing.assert_allclose(out["lse_shifted"], np.asarray(out["lse"]) + c, atol=1e-12)
    jac = np.asarray(out["jac"])
    np.testing.assert_array_equal(jac, np.swapaxes(jac, -1, -2))
    np.testing.assert_allclose(jac.sum(-1), 0.0, atol=1e-15)


# ---------------------------------------------------------------------------------------
# Saturation, ties and ±inf
# ---------------------------------------------------------------------------------------


@jit_fast
def _family(z):
    return sj.softmax(z), sj.log_softmax(z), sj.logsumexp(z), sj.log1m_softmax(z)


@pytest.mark.parametrize(
    ("dtype", "big"), [(jnp.float32, 1e30), (jnp.bfloat16, 1e30), (jnp.float64, 1e16)]
)
def test_softmax_of_equal_and_huge_rows(dtype, big):
    """An all-equal row gives 1/K, log(1/K) and log(1 − 1/K) at any magnitude, exactly as
    the zero row does; ±big rows saturate to the exact limits without nan/inf.

    log1m_softmax used to subtract two log-sum-exps: for four equal logits at 1e30 (or
    1e8 in float32, 1e16 in float64) both round to z and log(1 − 1/4) came out 0.
    """
    rows = [[0.0] * 4, [big] * 4, [-big] * 4, [big, -big, 0.0, 5.0], [-big, big, big, 0.0]]
    with jax.enable_x64(dtype == jnp.float64):
        z = jnp.asarray(rows, dtype)
        a, log_a, lse, log1m = (np.asarray(out, np.float64) for out in _family(z))
        assert all(out.dtype == dtype for out in _family(z))
    big = float(np.asarray(z, np.float64)[1, 0])  # as rounded to the dtype
    tol = {"rtol": 1e-2, "atol": 1e-2} if dtype == jnp.bfloat16 else {"rtol": 1e-6, "atol": 1e-7}
    expected = [[0.25] * 4, [0.25] * 4, [0.25] * 4, [1, 0, 0, 0], [0, 0.5, 0.5, 0]]
    np.testing.assert_allclose(a, expected, atol=1e-6)
    assert np.all(np.isfinite(log_a)) and np.all(np.isfinite(lse)) and np.all(np.isfinite(log1m))
    np.testing.assert_allclose(log_a[:3], np.log(0.25), **tol)
    np.testing.assert_allclose(lse[[1, 2, 3, 4]], [big, -big, big, big], rtol=1e-2)
    # log(1 − a): row 3's a_0 = 1 − e^(5 − big)(1 + …): log(1 − a_0) = softplus(5) − big
    sp5 = np.log1p(np.exp(5.0))
    expected_log1m = [[np.log(0.75)] * 4] * 3 + [
        [sp5 - big, 0, 0, 0],
        [0, np.log(0.5), np.log(0.5), 0],
    ]
    np.testing.assert_allclose(log1m, expected_log1m, **tol)
    for row in (1, 2):  # equal rows are the zero row, bit for bit
        for out in (a, log_a, log1m):
            np.testing.assert_array_equal(out[row], out[0])


def test_minus_inf_logits_are_masked_out():
    """−inf entries get probability 0 and the rest renormalizes; an all −inf row has
    logsumexp −inf (an empty sum), not nan."""
    z = jnp.asarray([[-jnp.inf, 0.0, 1.0], [-jnp.inf, -jnp.inf, 3.0], [-jnp.inf] * 3], jnp.float32)
    a, log_a, lse, log1m = (np.asarray(out) for out in _family(z))
    np.testing.assert_allclose(a[0], [0.0, *softmax_np([0.0, 1.0])], **F32)
    np.testing.assert_allclose(a[1], [0.0, 0.0, 1.0], **F32)
    assert log_a[0, 0] == -np.inf and np.all(np.isfinite(log_a[0, 1:]))
    np.testing.assert_allclose(lse[:2], [np.logaddexp(0.0, 1.0), 3.0], **F32)
    assert lse[2] == -np.inf
    # log(1 − a): 0 where a = 0, −inf where a = 1
    np.testing.assert_allclose(log1m[0], np.log1p(-a[0]), **F32)
    np.testing.assert_array_equal(log1m[1], [0.0, 0.0, -np.inf])


@pytest.mark.parametrize("sign", [False, True])
def test_softmax_jacobian_products_do_not_cancel_at_saturation_in_float32(sign):
    """Issue #34: rows with a logit ahead by 17-80 (its probability rounds to 1 in
    float32). softmax_error_vjp (f = identity or sign) and softmax_vjp on the error rows
    equal Jᵀ f(ŷ − y) in 150-digit decimals to 1e-4 entry by entry (entries below 1e-33,
    products of two tiny probabilities, underflow float32), for labels on the leading
    class and off it; the plain a_m (v_m − Σ a_k v_k) is off by O(1) relative."""
    rng = np.random.default_rng(4)
    n, k = 48, 6
    z = rng.standard_normal((n, k))
    lead = rng.integers(0, k, n)
    z[np.arange(n), lead] += rng.uniform(17.0, 80.0, n)
    ids = np.where(np.arange(n) % 2 == 0, lead, (lead + 1) % k)
    y = np.eye(k)[ids]
    z32, y32 = jnp.asarray(z, jnp.float32), jnp.asarray(y, jnp.float32)
    f = jnp.sign if sign else None
    exact = softmax_error_vjp_exact(np.asarray(z32, np.float64), y, sign=sign)
    got = np.asarray(sj.numerics.softmax_error_vjp(z32, y32, f), np.float64)
    np.testing.assert_allclose(got, exact, rtol=1e-4, atol=1e-33)
    if not sign:
        a = sj.softmax(z32)
        plain = np.asarray(a * ((a - y32) - jnp.sum(a * (a - y32), -1, keepdims=True)))
        big = np.abs(exact) > 1e-33
        assert np.max(np.abs(plain - exact)[big] / np.abs(exact)[big]) > 0.1  # it cancels
        wrong = ids != lead  # there a − y is accurate as given, and softmax_vjp is too
        via_vjp = np.asarray(sj.softmax_vjp(z32, a - y32), np.float64)
        np.testing.assert_allclose(via_vjp[wrong], exact[wrong], rtol=1e-4, atol=1e-33)
