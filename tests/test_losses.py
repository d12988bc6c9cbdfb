"""softjax.losses: the five losses of SPEC §3.

* float32 equivalence with optax / jax.nn to 1e-6;
* the reference numbers of the notes (SPEC §5) and hand-computed values;
* finite values and gradients at ±1e30 logits (float32) and in bfloat16;
* input validation: a ValueError naming the argument, raised before anything is traced
  or compiled;
* jit / vmap / grad.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import softjax as sj
from softjax.losses import check_labels

F32 = {"rtol": 1e-6, "atol": 1e-6}
N, K = 8, 4
RNG = np.random.default_rng(0)
IDS = RNG.integers(0, K, N)
ONEHOT = np.eye(K, dtype=np.float32)[IDS]
SOFT = RNG.dirichlet(np.ones(K), N).astype(np.float32)
Z_MODERATE = RNG.standard_normal((N, K)).astype(np.float32) * 3
Z_LARGE = RNG.standard_normal((N, K)).astype(np.float32) * 30


def test_registry():
    assert sj.LOSS_NAMES == ("cce", "mse", "bce", "sigmoid_bce", "square")
    assert set(sj.LOSSES) == set(sj.LOSS_NAMES)
    for name in sj.LOSS_NAMES:
        assert sj.get_loss(name) is sj.LOSSES[name]


# ---------------------------------------------------------------------------------------
# Library equivalence, float32
# ---------------------------------------------------------------------------------------


@jax.jit
def _ours_and_library(z, ids, y):
    """Each loss on (z, y) next to the optax / jax.nn expression it must equal."""
    p = jax.nn.softmax(z)
    bce_ref = -(y * jax.nn.log_softmax(z) + (1 - y) * jnp.log1p(-p)).sum(-1).mean()
    return {
        "cce": (sj.LOSSES["cce"](z, y), optax.softmax_cross_entropy(z, y).mean()),
        "cce int": (
            sj.LOSSES["cce"](z, ids),
            optax.softmax_cross_entropy_with_integer_labels(z, ids).mean(),
        ),
        "sigmoid_bce": (
            sj.LOSSES["sigmoid_bce"](z, y),
            optax.sigmoid_binary_cross_entropy(z, y).sum(-1).mean(),
        ),
        "square": (sj.LOSSES["square"](z, y), optax.l2_loss(z, y).sum(-1).mean()),
        "mse": (sj.LOSSES["mse"](z, y), optax.l2_loss(p, y).sum(-1).mean()),
        "bce": (sj.LOSSES["bce"](z, y), bce_ref),
    }


@pytest.mark.parametrize("targets", ["one-hot", "soft"])
@pytest.mark.parametrize("logits", ["moderate", "large"])
def test_matches_optax_and_jax_nn_float32(logits, targets):
    """cce, sigmoid_bce, square, mse vs optax; bce vs its jax.nn formula (moderate logits
    only: the reference's log(1 − softmax) is itself inexact once the softmax saturates)."""
    z = jnp.asarray(Z_MODERATE if logits == "moderate" else Z_LARGE)
    y = jnp.asarray(ONEHOT if targets == "one-hot" else SOFT)
    for key, (ours, ref) in _ours_and_library(z, jnp.asarray(IDS), y).items():
        if key == "bce" and logits == "large":
            continue
        assert ours.dtype == jnp.float32 and ours.shape == (), key
        np.testing.assert_allclose(ours, ref, **F32, err_msg=key)


@jax.jit
def _all_losses(z, y):
    return {name: sj.LOSSES[name](z, y) for name in sj.LOSS_NAMES}


def test_int_labels_equal_one_hot_rows():
    """Eagerly (the everyday call), int class ids and one-hot rows give the same loss."""
    z = jnp.asarray(Z_LARGE)
    for name in sj.LOSS_NAMES:
        np.testing.assert_allclose(
            sj.LOSSES[name](z, jnp.asarray(IDS)), sj.LOSSES[name](z, jnp.asarray(ONEHOT)), **F32
        )


def test_single_output_losses_match_optax():
    """K = 1: sigmoid_bce on (N,) 0/1 targets = binary logistic regression; square on
    real (N,) targets = linear regression."""

    @jax.jit
    def single_output(z, y01, ids01, y_real):
        return {
            "sigmoid_bce": (
                sj.LOSSES["sigmoid_bce"](z, y01),
                optax.sigmoid_binary_cross_entropy(z[:, 0], y01).mean(),
            ),
            "sigmoid_bce int": (
                sj.LOSSES["sigmoid_bce"](z, ids01),
                sj.LOSSES["sigmoid_bce"](z, y01),
            ),
            "square": (sj.LOSSES["square"](z, y_real), optax.l2_loss(z[:, 0], y_real).mean()),
        }

    out = single_output(
        jnp.asarray(Z_LARGE[:, :1]),
        jnp.asarray(IDS % 2, jnp.float32),
        jnp.asarray(IDS % 2),
        jnp.asarray(Z_MODERATE[:, 0]),
    )
    for key, (ours, ref) in out.items():
        np.testing.assert_allclose(ours, ref, **F32, err_msg=key)


# ---------------------------------------------------------------------------------------
# Reference values (SPEC §5) and hand-computed ones
# ---------------------------------------------------------------------------------------


def test_toy_cross_entropy_of_the_slides():
    """S1: predictions [.9 .1 0], [.1 .8 .1], [.1 .2 .7] with labels 0, 1, 2 give
    J = −(log .9 + log .8 + log .7) as a SUM; softjax's cce is the MEAN over logits, so
    feed logits = log a (the 0 entry as log 1e-30: only the true-class entries matter)."""
    a = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7]])
    labels = np.array([0, 1, 2])
    j_sum = -(np.log(0.9) + np.log(0.8) + np.log(0.7))
    assert j_sum == pytest.approx(0.6852, abs=5e-5)
    with jax.enable_x64(True):
        logits = jnp.asarray(np.log(np.maximum(a, 1e-30)), jnp.float64)
        probs, mean_ce, first_ce = jax.jit(
            lambda z, y: (sj.softmax(z), sj.LOSSES["cce"](z, y), sj.LOSSES["cce"](z[:1], y[:1]))
        )(logits, jnp.asarray(labels))
    np.testing.assert_allclose(probs, a, atol=1e-15)
    assert 3 * float(mean_ce) == pytest.approx(j_sum, rel=1e-12)
    # the likelihood of the first point is 0.9 = e^{-loss of that point}
    assert np.exp(-float(first_ce)) == pytest.approx(0.9, rel=1e-12)


@pytest.mark.parametrize("k", [2, 3, 10, 100])
def test_cross_entropy_of_zero_logits_is_log_k(k):
    z = jnp.zeros((5, k), jnp.float32)
    labels = jnp.asarray(np.arange(5) % k)
    assert float(jax.jit(sj.LOSSES["cce"])(z, labels)) == pytest.approx(np.log(k), rel=1e-6)


def test_all_losses_at_zero_logits_by_hand():
    """ŷ = 1/4, σ = 1/2, one-hot y, K = 4:
    bce = −log(1/4) − 3 log(3/4); mse = ½[(3/4)² + 3(1/4)²] = 3/8;
    sigmoid_bce = 4 log 2; square = ½."""
    expected = {
        "cce": np.log(4),
        "bce": np.log(4) - 3 * np.log(3 / 4),
        "mse": 3 / 8,
        "sigmoid_bce": 4 * np.log(2),
        "square": 0.5,
    }
    values = _all_losses(jnp.zeros((N, K), jnp.float32), jnp.asarray(IDS))
    for name, value in expected.items():
        assert float(values[name]) == pytest.approx(value, rel=1e-6), name


# ---------------------------------------------------------------------------------------
# Stability: finite values and gradients at extreme logits
# ---------------------------------------------------------------------------------------

# Saturated right, saturated wrong, ties among huge values, and a zero row.
LABELS_HUGE = np.array([0, 1, 3, 2])


def _huge_logits(big):
    return np.array(
        [
            [big, -big, 0.0, 5.0],  # confidently right
            [big, -big, 0.0, 5.0],  # confidently wrong (label 1 sits at −big)
            [-big, big, big, -big],  # tie between two huge logits; label at −big
            [0.0, 0.0, 0.0, 0.0],
        ]
    )


@jax.jit
def _value_grad_closed(z, y):
    return {
        name: (sj.LOSSES[name](z, y), jax.grad(sj.LOSSES[name])(z, y), sj.logits_grad(name, z, y))
        for name in ("cce", "mse", "bce", "sigmoid_bce")
    }


@pytest.mark.parametrize(
    ("dtype", "big"),
    [(jnp.float32, 1e30), (jnp.float32, 1e4), (jnp.bfloat16, 1e30), (jnp.bfloat16, 30.0)],
)
def test_values_and_gradients_stay_finite_at_extreme_logits(dtype, big):
    """cce, mse, bce, sigmoid_bce: value, jax.grad and the closed form are all finite."""
    z = jnp.asarray(_huge_logits(big), dtype)
    # int ids for float32, one-hot rows for bfloat16 (one compile per dtype)
    if dtype == jnp.float32:
        labels = jnp.asarray(LABELS_HUGE)
    else:
        labels = jnp.asarray(np.eye(4)[LABELS_HUGE], dtype)
    out = _value_grad_closed(z, labels)
    for name, (value, auto, closed) in out.items():
        assert value.dtype == dtype and auto.dtype == dtype and closed.dtype == dtype, name
        for what, arr in (("value", value), ("jax.grad", auto), ("closed", closed)):
            assert np.all(np.isfinite(np.asarray(arr, np.float32))), (name, what, arr)
    cce_value = float(out["cce"][0])
    # rows 1 and 2 each cost ≈ 2·big: the loss is huge but exact, not inf
    assert cce_value == pytest.approx(big, rel=2e-2)


def test_square_loss_on_huge_raw_logits():
    """square has no softmax: ½(z − y)² on raw logits. At |z| = 1e30 the VALUE overflows
    float32 for arithmetic reasons, not a bug: ½(1e30)² = 5e59 > 3.4e38 (float32 max).
    So finiteness is tested at ±1e15 (½·1e30 fits); at ±1e30 only the gradient z − y,
    which does fit, is required to be finite."""
    square = sj.LOSSES["square"]
    value_and_grads = jax.jit(
        lambda z, y: (square(z, y), jax.grad(square)(z, y), sj.logits_grad("square", z, y))
    )
    for big in (1e15, 1e30):
        value, auto, closed = value_and_grads(
            jnp.asarray(_huge_logits(big), jnp.float32), jnp.asarray(LABELS_HUGE)
        )
        assert np.all(np.isfinite(auto)) and np.all(np.isfinite(closed))
        if big == 1e15:
            assert np.isfinite(value)
        else:
            assert np.isinf(value)  # the genuine float32 overflow described above


def test_bfloat16_moderate_logits_are_accurate():
    """bfloat16 keeps ~3 significant digits: the losses agree with float32 to 2e-2."""
    z = jnp.asarray(Z_MODERATE)
    low = _all_losses(z.astype(jnp.bfloat16), jnp.asarray(IDS))
    full = _all_losses(z, jnp.asarray(IDS))
    for name in sj.LOSS_NAMES:
        assert low[name].dtype == jnp.bfloat16
        np.testing.assert_allclose(float(low[name]), float(full[name]), rtol=2e-2, err_msg=name)


# ---------------------------------------------------------------------------------------
# Bad input: a ValueError naming the argument, before anything is traced or compiled
# ---------------------------------------------------------------------------------------

# Shapes used nowhere else in the suite, so a computation would need a fresh compile.
BN, BK = 11, 13
BAD_CASES = {
    "logits 1-D": (np.zeros(BN), np.zeros(BN, int), "logits"),
    "logits 3-D": (np.zeros((BN, BK, 1)), np.zeros(BN, int), "logits"),
    "logits int": (np.zeros((BN, BK), int), np.zeros(BN, int), "logits"),
    "labels 0-D": (np.zeros((BN, BK)), np.int32(0), "labels"),
    "labels 3-D": (np.zeros((BN, BK)), np.zeros((BN, BK, 1)), "labels"),
    "labels wrong K": (np.zeros((BN, BK)), np.zeros((BN, BK + 1)), "labels"),
    "labels wrong N (ids)": (np.zeros((BN, BK)), np.zeros(BN - 1, int), "labels"),
    "labels wrong N (rows)": (np.zeros((BN, BK)), np.zeros((BN + 1, BK)), "labels"),
    "labels int rows": (np.zeros((BN, BK)), np.zeros((BN, BK), int), "labels"),
    "labels float ids": (np.zeros((BN, BK)), np.zeros(BN), "labels"),
    "labels negative": (np.zeros((BN, BK)), -np.ones(BN, int), r"labels: class ids must lie"),
    "labels ≥ K": (np.zeros((BN, BK)), np.full(BN, BK), r"labels: class ids must lie in \[0, 13\)"),
}


@contextlib.contextmanager
def count_jax_work():
    """Collects jax's trace and compile events while the block runs."""
    events = []

    def listener(event, duration, **kwargs):
        events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def _as_jax(array):
    return jnp.asarray(array, jnp.float32 if np.issubdtype(array.dtype, np.floating) else None)


@pytest.mark.parametrize("name", sj.LOSS_NAMES)
@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_raises_before_any_jax_work(case, name):
    """Eagerly: the ValueError names the argument, and jax traced and compiled nothing."""
    logits, labels, match = BAD_CASES[case]
    logits, labels = _as_jax(logits), _as_jax(labels)
    with count_jax_work() as events:
        with pytest.raises(ValueError, match=match):
            sj.LOSSES[name](logits, labels)
        with pytest.raises(ValueError, match=match):
            sj.logits_grad(name, logits, labels)
    assert events == []


def test_the_work_counter_does_see_compiles():
    """Control for the test above: a valid call on a fresh shape is traced and compiled."""
    with count_jax_work() as events:
        jax.jit(lambda z, y: sj.LOSSES["cce"](z, y))(
            jnp.zeros((BN + 2, BK), jnp.float32), jnp.zeros(BN + 2, jnp.int32)
        )
    assert "/jax/core/compile/backend_compile_duration" in events


@pytest.mark.parametrize("name", sj.LOSS_NAMES)
@pytest.mark.parametrize(
    "case",
    ["logits 1-D", "labels 3-D", "labels wrong K", "labels wrong N (ids)", "labels float ids"],
)
def test_bad_shapes_raise_the_same_error_at_trace_time(case, name):
    """Shapes are static, so jit (at trace time) and eval_shape raise the same ValueError;
    nothing reaches the compiler."""
    logits, labels, match = BAD_CASES[case]
    logits, labels = _as_jax(logits), _as_jax(labels)
    with count_jax_work() as events:
        with pytest.raises(ValueError, match=match):
            jax.jit(sj.LOSSES[name])(logits, labels)
        with pytest.raises(ValueError, match=match):
            jax.eval_shape(sj.LOSSES[name], logits, labels)
    assert "/jax/core/compile/backend_compile_duration" not in events


def test_single_output_rules():
    """K = 1: softmax losses need K ≥ 2; sigmoid_bce targets must lie in [0, 1]."""
    z = jnp.zeros((3, 1), jnp.float32)
    for name in ("cce", "mse", "bce"):
        with pytest.raises(ValueError, match="labels: loss .* needs K ≥ 2"):
            sj.LOSSES[name](z, jnp.asarray([0, 0, 0]))
    with pytest.raises(ValueError, match=r"labels: binary targets .* \[0, 1\]"):
        sj.LOSSES["sigmoid_bce"](z, jnp.asarray([0.0, 1.0, 2.0]))
    # real targets are fine for square
    assert np.isfinite(sj.LOSSES["square"](z, jnp.asarray([-5.0, 0.5, 7.0])))


@pytest.mark.parametrize("bad", ["xent", "CCE", "", None, 3])
def test_unknown_loss_name(bad):
    z, y = jnp.zeros((2, 3), jnp.float32), jnp.asarray([0, 1])
    with pytest.raises(ValueError, match="loss_name: unknown loss"):
        sj.get_loss(bad)
    with pytest.raises(ValueError, match="loss_name: unknown loss"):
        sj.logits_grad(bad, z, y)
    with pytest.raises(ValueError, match="loss_name: unknown loss"):
        sj.per_sample_logits_grad(bad, z, y)


def test_label_range_is_only_checked_when_concrete():
    """Under jit the label values are unknown (shapes are still checked): documented."""
    check_labels(jnp.asarray([0, 2]), 3, 2, "cce")
    with pytest.raises(ValueError, match="labels"):
        check_labels(jnp.asarray([0, 3]), 3, 2, "cce")
    jax.jit(lambda y: check_labels(y, 3, 2, "cce"))(jnp.asarray([0, 3]))


# ---------------------------------------------------------------------------------------
# jit, vmap, grad
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sj.LOSS_NAMES)
def test_jit_vmap_and_grad_agree_with_eager(name):
    """jit(vmap(loss)) over a stack of batches == the eager loss of each batch, and
    jit(vmap(grad(loss))) == the closed-form logits_grad of each batch."""
    loss = sj.LOSSES[name]
    zs = jnp.asarray(np.stack([Z_MODERATE, Z_LARGE, -Z_MODERATE]))
    ys = jnp.asarray(np.stack([IDS, IDS[::-1], (IDS + 1) % K]))

    @jax.jit
    def batched(zs, ys):
        return (
            jax.vmap(loss)(zs, ys),
            jax.vmap(jax.grad(loss))(zs, ys),
            jax.vmap(lambda z, y: sj.logits_grad(name, z, y))(zs, ys),
        )

    values, grads, closed = batched(zs, ys)
    eager = np.array([float(loss(z, y)) for z, y in zip(zs, ys, strict=True)])
    np.testing.assert_allclose(values, eager, **F32)
    assert grads.shape == (3, N, K) and grads.dtype == jnp.float32
    np.testing.assert_allclose(grads, closed, rtol=1e-5, atol=1e-7)
