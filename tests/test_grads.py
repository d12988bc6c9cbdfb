"""The notes' closed-form gradients (softjax.grads) against jax autodiff, in float64.

Every comparison is a norm-wise relative error ‖closed − autodiff‖ / ‖autodiff‖ ≤ 1e-10
(SPEC §3, §4), and in the saturated regime also entry by entry (see
``assert_entrywise_close``).

Compiles dominate the run time on CPU, so:

* the random-shape tests (hypothesis) compile one program per drawn shape, built so that
  XLA's CSE shares the int-id and one-hot graphs, with XLA's cheap compile settings;
* fixed-shape tests reuse one compiled function over many hypothesis examples;
* the MLP tests run eagerly on one set of widths, so every primitive is compiled once
  per shape and then shared by all depths, activations and losses.
"""

from collections import namedtuple
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import softjax as sj
from tests.helpers import (
    assert_rel_close,
    count_jax_work,
    formula_loss,
    jit_fast,
    softmax_error_vjp_exact,
    without_self_quadratic,
)

TOL = 1e-10
# The gradients are differences of O(1) quantities (ŷ, y, σ(z)), so float64 resolves them
# to about 1e-16 absolute. When every sample is saturated AND correct, the true gradient
# (e.g. e^-100 ≈ 4e-44) lies below that resolution (1 − ŷ rounds to 0), and autodiff and
# the closed form both return rounding noise of that size. The floor only matters there:
# any gradient ≥ 1e-4 is held to the 1e-10 relative tolerance.
FLOOR = 1e-14
NOTES = ("cce", "mse", "bce", "sigmoid_bce", "square")
BUILTINS = NOTES + ("square_rescaled", "mae", "sigmoid_mse", "cce_smoothed")
EPS = np.finfo(np.float64).eps
# XLA CPU settings that cut compile time ~6x (measured 2.8 → 0.45 s CPU for one
# random-shape program): no LLVM optimization, and the older loop emitters instead of
# the fusion emitters. Each drawn shape is a fresh program and these tiny arrays run in
# microseconds either way; the arithmetic is the same IEEE float64.


def assert_trees_close(actual, expected, tol=TOL, what=""):
    assert jax.tree.structure(actual) == jax.tree.structure(expected), what
    flat_actual = jax.tree_util.tree_flatten_with_path(actual)[0]
    for (path, a), b in zip(flat_actual, jax.tree.leaves(expected), strict=True):
        assert_rel_close(a, b, tol, f"{what} {jax.tree_util.keystr(path)}")


def assert_ids_give_one_hot_grads(name, from_ids, from_rows, what=""):
    """Int ids are one-hot rows, so they give the same gradient: bitwise, except BCE's
    closed form, equal to rounding. XLA compiles the two label forms into different
    fusions, which round BCE's sums of products differently in the last bits (measured:
    19 of 300 random 3×5 float64 batches differ, by ≈ 1e-15 relative; the O(K²) form
    before did the same)."""
    if name == "bce":
        assert_rel_close(from_ids, from_rows, 1e-14, what)
    else:
        np.testing.assert_array_equal(from_ids, from_rows, err_msg=what)


def random_logits(rng, n, k, saturate=0.3, big=50.0):
    """Normal logits in [−big, big] with a fraction of entries pushed to ±big
    (saturated softmax/sigmoid)."""
    z = np.clip(rng.standard_normal((n, k)) * 5.0, -big, big)
    mask = rng.random((n, k)) < saturate
    return np.where(mask, big * np.sign(rng.standard_normal((n, k))), z)


def softmax_np(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid_np(z):
    """σ with full relative accuracy in both tails (independent of softjax)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


# ---------------------------------------------------------------------------------------
# Entry-by-entry comparison in the saturated regime
# ---------------------------------------------------------------------------------------


def rounding_floor(name, z, y):
    """Per-entry rounding floor of ∂ℓ/∂z (per sample, no 1/N), for an entry-wise check.

    Each gradient entry is a difference of terms: a·Σy − y (cce), σ(z) − y (sigmoid_bce),
    a_m(v_m − Σ_k a_k v_k) with v = a − y (mse). Computed in float64, an entry can be off
    by a few eps times the size of those terms, whichever way it is computed. Where the
    terms are O(1) and cancel (e.g. a_y − 1 for a confident correct softmax) that is
    ~1e-16 absolute; where they are tiny (a saturated σ(−50) ≈ 2e-22, or a_m ≈ e^-50) the
    floor is tiny too, so the entry is held to its RELATIVE accuracy.
    """
    a = softmax_np(z)
    if name == "cce":
        terms = a * np.abs(y.sum(-1, keepdims=True)) + np.abs(y)
    elif name == "sigmoid_bce":
        terms = sigmoid_np(z) + np.abs(y)
    elif name == "mse":
        # The error at the row's top class as the closed form takes it (1 − y_p minus the
        # others' probabilities): ŷ_p − y_p rounds to 0 in float64 at saturation.
        top = np.arange(a.shape[-1]) == np.argmax(z, axis=-1)[:, None]
        rest = np.sum(np.where(top, 0, a), axis=-1, keepdims=True)
        v = np.abs(np.where(top, (1 - y) - rest, a - y))
        v_top = np.sum(np.where(top, v, 0), axis=-1, keepdims=True)
        terms = a * (v + v_top + np.sum(a * v, axis=-1, keepdims=True))
    else:
        raise AssertionError(name)
    return 16 * EPS * terms


def assert_entrywise_close(actual, expected, floor, tol=TOL, what=""):
    """|actual − expected| ≤ tol · |expected| + floor, entry by entry."""
    a = np.asarray(actual, np.float64)
    b = np.asarray(expected, np.float64)
    assert a.shape == b.shape == np.shape(floor), what
    bad = np.abs(a - b) > tol * np.abs(b) + floor
    assert not np.any(bad), (
        f"{what}: {bad.sum()} entries off, e.g. {a[bad][:3]} vs {b[bad][:3]} "
        f"(floor {np.asarray(floor)[bad][:3]})"
    )


ENTRYWISE_LOSSES = ("cce", "sigmoid_bce", "mse")


def entrywise_reference(name, z, y, auto):
    """The entry-wise reference: autodiff of the formula, except for MSE, whose formula
    cancels in float64 too once the softmax saturates (ŷ_p − 1 rounds to 0): there the
    product Jᵀ(ŷ − y) in 150-digit decimals."""
    return softmax_error_vjp_exact(z, y) / len(z) if name == "mse" else auto


def test_the_entrywise_check_catches_a_tail_error_the_norm_misses():
    """Control: σ(z) − y wrong by 1e-13 at z = −50 (true value ≈ 2e-22) passes the
    norm-wise check next to O(1) entries, and fails the entry-wise one."""
    z = np.array([[-50.0, 0.3, 50.0, -2.0]])
    y = np.array([[0.0, 1.0, 1.0, 0.0]])
    exact = sigmoid_np(z) - y
    wrong = exact.copy()
    wrong[0, 0] += 1e-13
    assert_rel_close(wrong, exact)  # the norm hides it
    assert_entrywise_close(exact, exact, rounding_floor("sigmoid_bce", z, y))
    with pytest.raises(AssertionError, match="1 entries off"):
        assert_entrywise_close(wrong, exact, rounding_floor("sigmoid_bce", z, y))


# ---------------------------------------------------------------------------------------
# ∂L/∂logits and single-layer ∂L/∂params on random shapes
# ---------------------------------------------------------------------------------------


@jit_fast
def _all_grads(z, ids, x, params):
    """For each loss: logits_grad, per_sample_logits_grad and params_grad with int ids and
    with one-hot rows, and jax.grad of the same mean loss (logits and params).

    The one-hot rows are built here from the ids, so jax.grad of the int-label loss is the
    very same graph as of the one-hot one (``as_targets`` one-hots the ids); tracing it
    once halves the trace time. The int closed forms are held to the one-hot ones
    EXACTLY, and those to autodiff.
    """
    y = jax.nn.one_hot(ids, z.shape[-1], dtype=z.dtype)
    out = {}
    for name in NOTES:  # the newer four: test_logits_grad_matches_autodiff_hypothesis, backprop
        loss = formula_loss(name)  # autodiff of the formula, not the closed form LOSSES runs
        out[name] = {
            "auto": jax.grad(loss)(z, y),
            "jax.grad": jax.grad(sj.LOSSES[name])(z, y),
            "auto params": jax.grad(lambda p, loss=loss: loss(sj.mlp_apply(p, x), y))(params),
            "per_sample": sj.per_sample_logits_grad(name, z, ids),
        }
        for kind, labels in (("int", ids), ("one-hot", y)):
            out[name][kind] = sj.logits_grad(name, z, labels)
            out[name][kind + " params"] = sj.params_grad(params, x, labels, name)
    return out


@settings(max_examples=5, deadline=None)
@given(
    n=st.integers(1, 64),
    k=st.integers(2, 20),
    d=st.integers(1, 50),
    saturate=st.sampled_from([0.0, 0.3, 1.0]),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
@example(n=1, k=2, d=1, saturate=1.0, bias=False, seed=0)
@example(n=64, k=20, d=50, saturate=0.3, bias=True, seed=1)
def test_logits_and_params_grad_match_autodiff_on_random_shapes(n, k, d, saturate, bias, seed):
    """N in 1..64, K in 2..20, D in 1..50 (corners as explicit examples), logits in
    [−50, 50] with none, some or all entries saturated at ±50, int ids and one-hot rows,
    all five losses: logits_grad and params_grad (Xᵀ G / N, Σ G / N; seed 000 eqs. 9-14)
    equal jax.grad to 1e-10, norm-wise and (cce, sigmoid_bce, mse) entry by entry.

    Also, in numpy: the simple closed forms ŷ − y (cce), σ(z) − y (sigmoid_bce, entry by
    entry) and z − y (square) of SPEC §3, and ∂W = Xᵀ(Ŷ − Y)/N, ∂b = Σ(ŷ − y)/N for cce.
    """
    rng = np.random.default_rng(seed)
    z_np = random_logits(rng, n, k, saturate=saturate)
    ids = rng.integers(0, k, n)
    y_np = np.eye(k)[ids]
    x_np = rng.standard_normal((n, d)) * 2.0
    # weights that push a share of the model's logits into saturation too
    w_np = rng.standard_normal((d, k)) * (1.0 + 15.0 * saturate) / np.sqrt(d)
    b_np = rng.standard_normal(k) if bias else np.zeros(k)
    with jax.enable_x64(True):
        layer = {"w": jnp.asarray(w_np)}
        if bias:
            layer["b"] = jnp.asarray(b_np)
        out = _all_grads(jnp.asarray(z_np), jnp.asarray(ids), jnp.asarray(x_np), [layer])
    for name, got in out.items():
        what = f"{name} {n}x{k}x{d} saturate={saturate} bias={bias}"
        closed, auto = got["one-hot"], got["auto"]
        assert closed.dtype == jnp.float64 and closed.shape == (n, k), what
        assert_rel_close(closed, auto, what=what)
        assert_rel_close(got["jax.grad"], closed, 1e-14, what + " jax.grad runs the closed form")
        if name in ENTRYWISE_LOSSES:
            floor = rounding_floor(name, z_np, y_np) / n
            reference = entrywise_reference(name, z_np, y_np, auto)
            assert_entrywise_close(closed, reference, floor, what=what + " entrywise")
        assert_rel_close(got["per_sample"], n * np.asarray(closed), 1e-14, what)
        assert ("b" in got["one-hot params"][0]) == bias, what
        assert_trees_close(got["one-hot params"], got["auto params"], what=what + " params")
        assert_ids_give_one_hot_grads(name, got["int"], closed, what)
        for a, b in zip(
            *map(jax.tree.leaves, (got["int params"], got["one-hot params"])), strict=True
        ):
            assert_ids_give_one_hot_grads(name, a, b, what + " params")
    per_sample = {name: np.asarray(out[name]["per_sample"]) for name in NOTES}
    assert_rel_close(per_sample["cce"], softmax_np(z_np) - y_np, what="cce ŷ−y")
    sig_err = sigmoid_np(z_np) - y_np
    assert_entrywise_close(
        per_sample["sigmoid_bce"], sig_err, rounding_floor("sigmoid_bce", z_np, y_np), 1e-13
    )
    assert_rel_close(per_sample["square"], z_np - y_np, what="z−y")
    err = softmax_np(x_np @ w_np + b_np) - y_np
    cce_params = out["cce"]["int params"][0]
    assert_rel_close(cce_params["w"], x_np.T @ err / n, what="cce ∂W")
    if bias:
        assert_rel_close(cce_params["b"], err.sum(0) / n, what="cce ∂b")


@jit_fast
def _logit_grads(z, ids, targets):
    """Per loss: (logits_grad, autodiff of the formula, jax.grad through LOSSES) for int
    ids, and for target rows ``targets``."""
    return {
        name: {
            kind: (
                sj.logits_grad(name, z, labels),
                jax.grad(formula_loss(name))(z, labels),
                jax.grad(sj.LOSSES[name])(z, labels),
            )
            for kind, labels in (("int", ids), ("rows", targets))
        }
        for name in BUILTINS
    }


@settings(max_examples=20, deadline=None)
@given(
    z=st.lists(
        st.floats(-50.0, 50.0, allow_nan=False, allow_subnormal=False), min_size=15, max_size=15
    ),
    ids=st.lists(st.integers(0, 4), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_logits_grad_matches_autodiff_hypothesis(z, ids, seed):
    """Hypothesis-chosen logits in [−50, 50] (ties, zeros, saturation) on a 3×5 batch, with
    int class ids, the same labels as one-hot rows, probability rows, and rows that do not
    sum to 1 (one compiled function for all)."""
    rng = np.random.default_rng(seed)
    z_np = np.reshape(z, (3, 5))
    targets = {
        "one-hot": np.eye(5)[ids],
        "soft": rng.dirichlet(np.ones(5), 3),
        "unnormalized": rng.random((3, 5)),
    }
    with jax.enable_x64(True):
        for kind, t in targets.items():
            out = _logit_grads(jnp.asarray(z_np), jnp.asarray(ids), jnp.asarray(t))
            for name in BUILTINS:
                closed, auto, through = out[name]["rows"]
                what = f"{name} {kind} z={z_np.tolist()} y={t.tolist()}"
                assert_rel_close(closed, auto, what=what)
                assert_rel_close(through, closed, 1e-14, what=what + " jax.grad")
                if name in ENTRYWISE_LOSSES:
                    floor = rounding_floor(name, z_np, t) / 3
                    reference = entrywise_reference(name, z_np, t, auto)
                    assert_entrywise_close(closed, reference, floor, what=what + " entrywise")
                if kind == "one-hot":
                    assert_rel_close(*out[name]["int"][:2], what=f"{name} int")
                    assert_ids_give_one_hot_grads(name, out[name]["int"][0], closed, what)


def test_mse_gradient_vanishes_at_saturation_but_cce_does_not():
    """SPEC §6: a confidently WRONG softmax kills MSE's gradient; CCE's stays ≈ ŷ − y."""
    z = np.zeros((4, 4))
    z[:3, 0] = [1.0, 10.0, 40.0]  # rows of growing confidence in class 0; the label is 2
    with jax.enable_x64(True):
        out = _logit_grads(jnp.asarray(z), jnp.full(4, 2), jnp.asarray(np.eye(4)[[2] * 4]))
    norms = {name: np.linalg.norm(out[name]["int"][0], axis=-1) * 4 for name in ("mse", "cce")}
    assert norms["mse"][0] > norms["mse"][1] > norms["mse"][2]
    assert norms["mse"][2] < 1e-15  # ŷ(1 − ŷ)-type factors ≈ e^-40
    # ŷ − y → [1, 0, −1, 0], whose norm is √2: no vanishing.
    assert norms["cce"][2] == pytest.approx(np.sqrt(2.0), rel=1e-12)


# ---------------------------------------------------------------------------------------
# Huge logits: the closed forms and autodiff stay exact
# ---------------------------------------------------------------------------------------


def test_huge_float64_logits_give_the_gradient_of_their_moderate_twin():
    """Float64 at ±1e16, where z + log 3 rounds to z. For every loss on a softmax (the
    closed form AND autodiff): an all-equal row gives exactly the zero row's gradient, and
    a row with ±1e16 entries gives the gradient of the same row with ±300 instead (e^-295
    is far below float64's resolution of the O(1) entries). For BCE, z = [1e16, −1e16,
    0, 5] with label 1 gives [2, −1, −σ(−5), −σ(5)]: the 0 and the 5 must stay apart
    although both sit 1e16 below the max."""
    huge = np.array([[1e16] * 4, [-1e16] * 4, [1e16, -1e16, 0.0, 5.0], [-1e16, 1e16, 1e16, 0.0]])
    twin = np.array([[0.0] * 4, [0.0] * 4, [300.0, -300.0, 0.0, 5.0], [-300.0, 300.0, 300.0, 0.0]])
    ids = jnp.asarray([1, 2, 1, 3])
    rows = jnp.asarray(np.eye(4)[[1, 2, 1, 3]])
    with jax.enable_x64(True):
        at_huge = _logit_grads(jnp.asarray(huge), ids, rows)
        at_twin = _logit_grads(jnp.asarray(twin), ids, rows)
    for name in ("cce", "mse", "bce"):
        for which, method in enumerate(("closed form", "autodiff", "jax.grad")):
            got = np.asarray(at_huge[name]["int"][which])
            ref = np.asarray(at_twin[name]["int"][which])
            np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-17, err_msg=f"{name} {method}")
            np.testing.assert_array_equal(got[:2], ref[:2], err_msg=f"{name} {method} equal rows")
    expected = np.array([2.0, -1.0, -sigmoid_np(-5.0), -sigmoid_np(5.0)]) / 4
    for which in (0, 1):
        np.testing.assert_allclose(at_huge["bce"]["int"][which][2], expected, rtol=1e-14)


def _bce_grad_quadratic(z, y):
    """The O(K²) form of the closed-form BCE gradient it had before: every ratio
    ŷ_m / (1 − ŷ_k) as row k's softmax over j ≠ k, each row shifted by its own max."""
    others = without_self_quadratic(z)
    e = jnp.exp(others - jax.lax.stop_gradient(jnp.max(others, axis=-1, keepdims=True)))
    total = jnp.sum(e, axis=-1, keepdims=True)
    ratio = e / jnp.where(total > 0, total, 1)  # [..., k, m]
    a = sj.softmax(z)
    coupling = jnp.einsum("...km,...k->...m", ratio, a * (1.0 - y))
    return a * (jnp.sum(y, axis=-1, keepdims=True) + 1.0 - y) - y - coupling


def test_closed_form_bce_equals_its_quadratic_form():
    """The O(K) closed form (bounded odds for every class with ŷ ≤ 1/2, the softmax over
    the other classes for the one above 1/2) equals the O(K²) per-class ratios in float64
    to rounding, on random, saturated (1e8), tied and soft-label rows, and with the two
    largest logits 1e8 and 1e8 − 1."""
    from softjax.loss_kernels import bce_grad as _bce_grad

    rng = np.random.default_rng(11)
    z = rng.standard_normal((64, 10)) * rng.choice([0.1, 3.0, 30.0, 1e8], (64, 1))
    z[0] = 5.0
    z[1, :3] = 80.0
    z[2, :2] = [1e8, 1e8 - 1.0]
    y = np.eye(10)[rng.integers(0, 10, 64)]
    y[32:] = rng.dirichlet(np.ones(10), 32)
    with jax.enable_x64(True):
        ours, quadratic = jit_fast(lambda z, y: (_bce_grad(z, y), _bce_grad_quadratic(z, y)))(
            jnp.asarray(z), jnp.asarray(y)
        )
    np.testing.assert_allclose(ours, quadratic, rtol=0, atol=4 * EPS)
    assert np.abs(np.asarray(ours)).max() > 0.5  # not a vacuous zero gradient


# ---------------------------------------------------------------------------------------
# One output (K = 1): logistic and linear regression, and the 2-3-4-1 sigmoid net
# ---------------------------------------------------------------------------------------


@jit_fast
def _single_output_grads(z, y01_int, y01, y_real, x, layer, net):
    """K = 1 closed forms next to jax.grad: logits, single-layer params, a sigmoid MLP."""
    out = {}
    for name, labels in (
        ("sigmoid_bce int", y01_int),
        ("sigmoid_bce float", y01),
        ("square", y_real),
        ("sigmoid_mse int", y01_int),
        ("square_rescaled", y_real),
    ):
        loss_name = name.split()[0]
        loss = sj.LOSSES[loss_name]
        out[name] = {
            "logits": (
                sj.logits_grad(loss_name, z, labels),
                jax.grad(formula_loss(loss_name))(z, labels),
            ),
            "params": (
                sj.params_grad(layer, x, labels, loss_name),
                jax.grad(lambda p, loss=loss, labels=labels: loss(sj.mlp_apply(p, x), labels))(
                    layer
                ),
            ),
            "net": (
                sj.backprop(net, x, labels, loss_name, "sigmoid"),
                jax.grad(
                    lambda p, loss=loss, labels=labels: loss(sj.mlp_apply(p, x, "sigmoid"), labels)
                )(net),
            ),
        }
    return out


def test_single_output_models():
    """K = 1 (SPEC §1): binary logistic regression is sigmoid_bce on (N,) 0/1 labels, int
    or float, with ∂L/∂z = (σ(z) − y)/N; linear regression is square on real (N,) targets
    with (z − y)/N. params_grad (X [N×2] → 1) and backprop through seed 003's 2-3-4-1
    sigmoid net (the Learn/Sleep → Is_Pass shape) equal jax.grad for all three."""
    rng = np.random.default_rng(3)
    n = 20
    z_np = random_logits(rng, n, 1)
    y01 = rng.integers(0, 2, n)
    y_real = rng.standard_normal(n) * 10
    x_np = rng.standard_normal((n, 2)) * 2
    with jax.enable_x64(True):
        layer = [{"w": jnp.asarray(rng.standard_normal((2, 1))), "b": jnp.asarray([0.3])}]
        net = [
            {
                "w": jnp.asarray(rng.standard_normal((i, o))),
                "b": jnp.asarray(rng.standard_normal(o)),
            }
            for i, o in ((2, 3), (3, 4), (4, 1))
        ]
        out = _single_output_grads(
            jnp.asarray(z_np),
            jnp.asarray(y01),
            jnp.asarray(y01, jnp.float64),
            jnp.asarray(y_real),
            jnp.asarray(x_np),
            layer,
            net,
        )
    for name, got in out.items():
        closed, auto = got["logits"]
        assert closed.shape == (n, 1), name
        assert_rel_close(closed, auto, what=name)
        assert_trees_close(*got["params"], what=f"{name} params")
        assert_trees_close(*got["net"], what=f"{name} 2-3-4-1 net")
    for name in ("sigmoid_bce int", "sigmoid_bce float"):
        closed = out[name]["logits"][0][:, 0]
        expected = (sigmoid_np(z_np[:, 0]) - y01) / n
        assert_entrywise_close(closed, expected, 16 * EPS * (np.abs(expected) + 1.0 / n))
    np.testing.assert_array_equal(
        out["sigmoid_bce int"]["net"][0][0]["w"], out["sigmoid_bce float"]["net"][0][0]["w"]
    )
    assert_rel_close(out["square"]["logits"][0][:, 0], (z_np[:, 0] - y_real) / n)


def test_params_grad_rejects_a_deep_model():
    params = [{"w": np.ones((3, 4))}, {"w": np.ones((4, 2))}]
    with pytest.raises(ValueError, match="params"):
        sj.params_grad(params, np.ones((2, 3)), np.asarray([0, 1]), "cce")


# ---------------------------------------------------------------------------------------
# backprop: MLPs of depth 1-4, every activation, every loss (one compiled program)
# ---------------------------------------------------------------------------------------

N, D, H, K = 8, 5, 6, 4
MIXED = (("leaky_relu", {"slope": 0.2}), ("elu", {"alpha": 0.5}), "swish")
Layers = namedtuple("Layers", ["first", "second"])


class Case(NamedTuple):
    """One MLP gradient check: backprop (params_grad at depth 1) vs jax.grad."""

    depth: int
    activations: object
    loss_name: str
    bias: bool = True
    labels: str = "int"  # or "one-hot"
    container: type = list  # the params' sequence type; the gradients must match it
    output_scale: float = 1.0  # multiplies the last layer: large values saturate the output
    seed: int = 0


def _rotating_cases():
    """Depths 1-4 × the eight activations of seed 003 (depth 1 has no hidden layer). The
    loss rotates through all five; the bias, the label form and the params container
    (list / tuple) alternate, so every loss meets every depth and both of the others."""
    activations = sorted(tuple(sj.ACTIVATIONS)[:9])  # the built-ins (users' follow)
    grid = [(1, None)] + [(d, a) for d in (2, 3, 4) for a in activations]
    return {
        f"depth{depth}-{activation}": Case(
            depth,
            activation,
            BUILTINS[i % len(BUILTINS)],
            bias=i % 2 == 0,
            labels="int" if i % 3 else "one-hot",
            container=tuple if i % 4 == 1 else list,
            seed=100 + i,
        )
        for i, (depth, activation) in enumerate(grid)
    }


BACKPROP_CASES = {
    **_rotating_cases(),
    # Output logits at |z| ≈ 100, deep in the softmax's / sigmoid's saturation.
    **{
        f"saturated-{name}": Case(
            3, "tanh", name, output_scale=40.0 if name in NOTES else 60.0, seed=500 + i
        )
        for i, name in enumerate(BUILTINS)
    },
    # One activation per hidden layer: leaky_relu(slope 0.2), elu(α 0.5), swish.
    "mixed-bce": Case(4, MIXED, "bce", bias=True, labels="one-hot", seed=300),
    "mixed-sigmoid_bce": Case(4, MIXED, "sigmoid_bce", bias=False, labels="one-hot", seed=301),
    # A softmax hidden layer backpropagates through its Jacobian, not an element-wise f′.
    "softmax-hidden": Case(4, ("relu", "softmax", "sigmoid"), "mse", seed=400),
    # The container type survives: a NamedTuple, and a tuple into params_grad.
    "namedtuple": Case(2, "tanh", "cce", container=Layers, seed=600),
    "params_grad-tuple": Case(1, None, "cce", container=tuple, seed=601),
    # S4's two-layer ReLU net without biases (checked against numpy below).
    "homework": Case(2, "relu", "cce", bias=False, seed=9),
}


def _draw(case: Case, attempt: int):
    """Params (in the case's container), inputs and labels, in float64 numpy."""
    rng = np.random.default_rng(case.seed + 7919 * attempt)
    sizes = [D] + [H] * (case.depth - 1) + [K]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        bound = 2.0 / np.sqrt(fan_in) * (case.output_scale if i == case.depth - 1 else 1.0)
        layer = {"w": rng.uniform(-bound, bound, (fan_in, fan_out))}
        if case.bias:
            layer["b"] = rng.uniform(-1.0, 1.0, fan_out)
        layers.append(layer)
    params = case.container(*layers) if case.container is Layers else case.container(layers)
    ids = rng.integers(0, K, N)
    labels = ids if case.labels == "int" else np.eye(K)[ids]
    return params, rng.standard_normal((N, D)) * 2.0, labels


@jit_fast
def _backprop_program(inputs):
    """Every case's closed form, jax.grad, logits and closest hidden pre-activation to 0."""
    out = {}
    for key, case in BACKPROP_CASES.items():
        params, x, labels = inputs[key]

        def loss(p, case=case, x=x, labels=labels):
            return sj.LOSSES[case.loss_name](sj.mlp_apply(p, x, case.activations), labels)

        if case.depth == 1:
            closed = sj.params_grad(params, x, labels, case.loss_name)
        else:
            closed = sj.backprop(params, x, labels, case.loss_name, case.activations)
        zs, _ = sj.mlp_forward(params, x, case.activations)
        hidden_z = [jnp.abs(z).ravel() for z in zs[:-1]] or [jnp.full(1, jnp.inf)]
        out[key] = (closed, jax.grad(loss)(params), zs[-1], jnp.min(jnp.concatenate(hidden_z)))
    return out


@pytest.fixture(scope="module")
def backprop_results():
    """Runs all cases in one program (one compile), in float64.

    The relu / leaky_relu / elu(α ≠ 1) derivatives jump at 0, where autodiff and the
    closed form may legitimately take different one-sided values; a case whose hidden
    pre-activations come within 1e-6 of 0 is redrawn (same shapes: no recompile).
    """
    attempts = dict.fromkeys(BACKPROP_CASES, 0)
    with jax.enable_x64(True):
        for _ in range(20):
            inputs = {key: _draw(case, attempts[key]) for key, case in BACKPROP_CASES.items()}
            out = _backprop_program(jax.tree.map(jnp.asarray, inputs))
            near_kink = [key for key, result in out.items() if result[3] < 1e-6]
            if not near_kink:
                break
            for key in near_kink:
                attempts[key] += 1
        else:  # pragma: no cover - 20 unlucky float64 draws would be astonishing
            pytest.fail(f"could not draw hidden pre-activations away from the kink: {near_kink}")
    return {key: (inputs[key], out[key]) for key in BACKPROP_CASES}


@pytest.mark.parametrize("key", list(BACKPROP_CASES))
def test_backprop_matches_autodiff(backprop_results, key):
    """backprop (params_grad at depth 1) == jax.grad of the mean loss through mlp_apply, in
    float64, with the params' pytree structure and container type (list, tuple,
    NamedTuple), as jax.grad returns them."""
    case = BACKPROP_CASES[key]
    (params, _, _), (closed, auto, logits, _) = backprop_results[key]
    assert type(closed) is type(params) is type(auto), key
    assert len(closed) == case.depth
    assert all(("b" in layer) == case.bias for layer in closed)
    assert_trees_close(closed, auto, what=f"{key}: {case}")
    if case.output_scale > 1:
        assert np.max(np.abs(logits)) > 50


def test_backprop_two_layer_net_of_the_homework_in_numpy(backprop_results):
    """S4: G2 = softmax(h) − Y, ∂W2 = f(XW1)ᵀG2/N, G1 = (G2 W2ᵀ)∘f′(XW1), ∂W1 = XᵀG1/N."""
    (params, x, ids), (grads, _, _, _) = backprop_results["homework"]
    w1, w2 = params[0]["w"], params[1]["w"]
    pre = x @ w1
    assert np.min(np.abs(pre)) > 1e-6
    hidden = np.maximum(pre, 0)
    g2 = softmax_np(hidden @ w2) - np.eye(K)[ids]
    g1 = (g2 @ w2.T) * (pre > 0)
    assert_rel_close(grads[1]["w"], hidden.T @ g2 / N)
    assert_rel_close(grads[0]["w"], x.T @ g1 / N)


# ---------------------------------------------------------------------------------------
# Bad input to backprop: a ValueError naming the argument, before any jax work
# ---------------------------------------------------------------------------------------


# Widths used nowhere else, so running even the forward pass would need fresh compiles.
BN, BD, BH, BK = 10, 9, 7, 3


def test_backprop_validates_everything_before_the_forward_pass():
    rng = np.random.default_rng(0)
    params = [
        {"w": rng.standard_normal((BD, BH)).astype(np.float32), "b": np.zeros(BH, np.float32)},
        {"w": rng.standard_normal((BH, BK)).astype(np.float32), "b": np.zeros(BK, np.float32)},
    ]
    one_output = [params[0], {"w": params[1]["w"][:, :1], "b": params[1]["b"][:1]}]
    x = rng.standard_normal((BN, BD)).astype(np.float32)
    ids = np.arange(BN) % BK
    good = {"params": params, "x": x, "labels": ids, "loss": "cce", "activations": "relu"}
    bad_cases = [
        ({"loss": "xent"}, "loss: unknown loss"),
        ({"labels": ids[:-1]}, "labels: expected 10 rows"),
        ({"labels": np.full(BN, BK)}, r"labels: class ids must lie in \[0, 3\)"),
        ({"labels": -np.ones(BN, int)}, "labels: class ids must lie"),
        ({"labels": np.full((BN, BK), 2.0, np.float32), "loss": "sigmoid_bce"}, r"\[0, 1\]"),
        ({"labels": ids.astype(np.float32)}, "labels: class ids .* must be integers"),
        ({"labels": np.zeros((BN, BK + 1), np.float32)}, "labels: target rows must have K=3"),
        ({"labels": np.zeros((BN, BK, 1), np.float32)}, "labels: expected class ids"),
        ({"x": x[:, :-1]}, r"x: expected shape \(N, 9\)"),
        ({"x": x[0]}, r"x: expected shape \(N, 9\)"),
        ({"x": x[:0], "labels": ids[:0]}, r"x: expected shape \(N, 9\) with N ≥ 1"),
        ({"activations": "mish"}, "activations: unknown activation 'mish'"),
        ({"activations": ["mish"]}, r"activations\[0\]: unknown activation"),
        ({"activations": ["relu", "tanh"]}, "activations: expected one activation or 1"),
        ({"activations": None}, "activations: the model has 1 hidden layer"),
        ({"params": params[:1] + [{"w": params[1]["w"][:-1]}]}, r"params\[1\]\['w'\]"),
        ({"params": one_output, "labels": np.zeros((BN, 1), np.float32)}, "needs K ≥ 2"),
        ({"params": one_output, "loss": "mse", "labels": ids % 1}, "needs K ≥ 2"),
    ]
    with count_jax_work() as events:
        for change, match in bad_cases:
            with pytest.raises(ValueError, match=match):
                sj.backprop(**{**good, **change})
    assert events == []
    # The same errors at jit trace time (shapes are static), still without compiling;
    # label VALUES are not checked under jit (the [0, K) and [0, 1] cases).
    traced = [case for i, case in enumerate(bad_cases) if i not in (2, 3, 4)]
    with count_jax_work() as events:
        for change, match in traced:
            args = {**good, **change}
            with pytest.raises(ValueError, match=match):
                jax.jit(
                    lambda p, x, y, args=args: sj.backprop(
                        p, x, y, args["loss"], args["activations"]
                    )
                )(args["params"], args["x"], args["labels"])
    assert "/jax/core/compile/backend_compile_duration" not in events
    # Control: the forward pass alone on these shapes does compile, so the empty event
    # list above means backprop raised before computing anything.
    with count_jax_work() as events:
        sj.mlp_forward(params, x, "relu")
    assert "/jax/core/compile/backend_compile_duration" in events
