"""softjax.losses: the five losses of SPEC §3.

* float32 equivalence with optax / jax.nn to 1e-6;
* the reference numbers of the notes (SPEC §5) and hand-computed values;
* finite values and gradients at ±1e30 logits (float32) and in bfloat16;
* input validation: a ValueError naming the argument, raised before anything is traced
  or compiled;
* jit / vmap / grad.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import softjax as sj
from tests.helpers import count_jax_work, jit_fast

F32 = {"rtol": 1e-6, "atol": 1e-6}
# XLA CPU settings that cut compile time several-fold (no LLVM optimization, the older
# loop emitters); the arithmetic is the same IEEE floating point.
N, K = 8, 4
RNG = np.random.default_rng(0)
IDS = RNG.integers(0, K, N)
ONEHOT = np.eye(K, dtype=np.float32)[IDS]
SOFT = RNG.dirichlet(np.ones(K), N).astype(np.float32)
Z_MODERATE = RNG.standard_normal((N, K)).astype(np.float32) * 3
Z_LARGE = RNG.standard_normal((N, K)).astype(np.float32) * 30
# The notes' five losses (SPEC §3), then the four from the literature (test_new_losses.py).
NOTES = ("cce", "mse", "bce", "sigmoid_bce", "square")
BUILTINS = NOTES + ("square_rescaled", "mae", "sigmoid_mse", "cce_smoothed")


def test_registry():
    """LOSSES is the one list of names: the built-ins first (users' losses follow), each
    resolving to itself; the retired second list and lookups are gone from the API."""
    assert tuple(sj.LOSSES)[: len(BUILTINS)] == BUILTINS
    for name in BUILTINS:
        bound = sj.resolve_loss(name)
        assert bound.function is sj.LOSSES[name] and bound.is_builtin and bound.has_closed_form
    for retired in ("LOSS_NAMES", "get_loss", "check_loss_name"):
        assert not hasattr(sj, retired)


@pytest.mark.parametrize("bad", ["xent", "CCE", [1]])
def test_registry_lookup_of_an_unknown_name(bad):
    """LOSSES[bad] raises an error that is a KeyError (a Mapping's contract) AND a
    ValueError (softjax's), whose str() is the plain message naming the argument and
    listing the valid names; the registry is read-only."""
    expected = f"loss: unknown loss {bad!r}; expected one of {list(sj.LOSSES)}"
    assert str(list(BUILTINS))[:-1] in expected
    for error in (KeyError, ValueError):
        with pytest.raises(error) as info:
            sj.LOSSES[bad]
        assert str(info.value) == expected
    assert sj.LOSSES.get("xent") is None and "xent" not in sj.LOSSES
    with pytest.raises(TypeError):
        sj.LOSSES["xent"] = sj.LOSSES["cce"]


# ---------------------------------------------------------------------------------------
# Library equivalence, float32
# ---------------------------------------------------------------------------------------


@jit_fast
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


def bce_reference(z, y):
    """BCE on softmax in float64 numpy, independent of softjax: ŷ by the max-shifted
    softmax, and 1 − ŷ_k as the direct sum Σ_{j≠k} ŷ_j (no cancellation, unlike 1 − ŷ_k)."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    a = e / e.sum(-1, keepdims=True)
    others = np.stack([np.delete(a, k, axis=-1).sum(-1) for k in range(z.shape[-1])], -1)
    return -np.mean(np.sum(y * np.log(a) + (1 - y) * np.log(others), axis=-1))


@pytest.mark.parametrize("targets", ["one-hot", "soft"])
@pytest.mark.parametrize("logits", ["moderate", "large"])
def test_matches_optax_and_jax_nn_float32(logits, targets):
    """cce, sigmoid_bce, square, mse vs optax; bce vs its jax.nn formula on moderate logits
    (that reference's log1p(−softmax) is itself inexact once the softmax saturates), and
    on all logits vs the stable float64 reference above. Z_LARGE (σ = 30) saturates the
    softmax: some 1 − ŷ_k are ≈ e^-60."""
    z = jnp.asarray(Z_MODERATE if logits == "moderate" else Z_LARGE)
    y = jnp.asarray(ONEHOT if targets == "one-hot" else SOFT)
    out = _ours_and_library(z, jnp.asarray(IDS), y)
    for key, (ours, ref) in out.items():
        assert ours.dtype == jnp.float32 and ours.shape == (), key
        if key == "bce" and logits == "large":
            continue
        np.testing.assert_allclose(ours, ref, **F32, err_msg=key)
    reference = bce_reference(np.asarray(z), np.asarray(y))
    np.testing.assert_allclose(out["bce"][0], reference, **F32, err_msg="bce stable reference")


@jit_fast
def _all_losses(z, y):
    return {name: sj.LOSSES[name](z, y) for name in BUILTINS}


def test_int_labels_equal_one_hot_rows():
    """Eagerly (the everyday call), int class ids and one-hot rows give the same loss."""
    z = jnp.asarray(Z_LARGE)
    for name in BUILTINS:
        np.testing.assert_allclose(
            sj.LOSSES[name](z, jnp.asarray(IDS)), sj.LOSSES[name](z, jnp.asarray(ONEHOT)), **F32
        )


def test_single_output_losses_match_optax():
    """K = 1: sigmoid_bce on (N,) 0/1 targets = binary logistic regression; square on
    real (N,) targets = linear regression."""

    @jit_fast
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
        probs, mean_ce, first_ce = jit_fast(
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
    assert float(jit_fast(sj.LOSSES["cce"])(z, labels)) == pytest.approx(np.log(k), rel=1e-6)


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

# Saturated right, saturated wrong, a tie between two huge logits, a zero row, and an
# all-equal huge row (which must behave exactly like the zero row).
LABELS_HUGE = np.array([0, 1, 3, 2, 2])


def _huge_logits(big):
    return np.array(
        [
            [big, -big, 0.0, 5.0],  # confidently right
            [big, -big, 0.0, 5.0],  # confidently wrong (label 1 sits at −big)
            [-big, big, big, -big],  # tie between two huge logits; label at −big
            [0.0, 0.0, 0.0, 0.0],
            [big, big, big, big],
        ]
    )


def _sigmoid_np(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def _exact_at_huge_logits(big):
    """Per-sample values and ∂ℓ/∂z of _huge_logits(big), by hand (float64).

    With ŷ = softmax(z), e^-big ≈ 0, sp5 = log(1 + e^5) and σ(±5):
    cce = −log ŷ_y; mse = ½‖ŷ − y‖²; bce = −log ŷ_y − Σ_{k≠y} log(1 − ŷ_k), e.g. row 1:
    2·big + (big − sp5) since log(1 − ŷ_0) = LSE(−big, 0, 5) − LSE(z) = sp5 − big.
    Gradients: cce ŷ − y; mse Jᵀ(ŷ − y) (0 wherever ŷ is 0/1 or ½,½ on the wrong pair);
    bce row 1 = [2, −1, −σ(−5), −σ(5)] (SPEC §3's Jᵀg expanded); σ(z) − y; z − y.
    """
    z = _huge_logits(big)
    y = np.eye(4)[LABELS_HUGE]
    l2, l4, sp5 = np.log(2), np.log(4), np.log1p(np.exp(5.0))
    b = big
    bce_flat = l4 - 3 * np.log(0.75)  # a zero or all-equal row: ŷ = 1/4
    values = {
        "cce": [0, 2 * b, 2 * b + l2, l4, l4],
        "mse": [0, 1, 0.75, 3 / 8, 3 / 8],
        "bce": [0, 3 * b - sp5, 2 * b + 3 * l2, bce_flat, bce_flat],
        "sigmoid_bce": [l2 + sp5, 2 * b + l2 + sp5, 3 * b, 4 * l2, 3 * b],
        "square": list(0.5 * np.sum((z - y) ** 2, axis=-1)),
    }
    flat = {  # ∂ℓ/∂z of a zero row with label 2
        "cce": np.array([1, 1, -3, 1]) / 4,
        "mse": np.array([1, 1, -3, 1]) / 16,
        "bce": np.array([1, 1, -3, 1]) / 3,
    }
    grads = {
        name: np.stack(
            [
                np.zeros(4),
                row1,
                row2,
                flat[name],
                flat[name],
            ]
        )
        for name, row1, row2 in (
            ("cce", [1, -1, 0, 0], [0, 0.5, 0.5, -1]),
            ("mse", [0, 0, 0, 0], [0, 0, 0, 0]),
            ("bce", [2, -1, -_sigmoid_np(-5.0), -_sigmoid_np(5.0)], [0, 0.5, 0.5, -1]),
        )
    }
    grads["sigmoid_bce"] = _sigmoid_np(z) - y
    grads["square"] = z - y
    return {name: np.asarray(v) for name, v in values.items()}, {
        name: g / len(z) for name, g in grads.items()
    }


@jit_fast
def _value_grad_closed(z, y):
    """Per loss: the value, jax.grad, the closed form, and the value on the last two rows
    alone (there a wrong O(1) term is not hidden next to 1e30-sized ones)."""
    return {
        name: (
            sj.LOSSES[name](z, y),
            jax.grad(sj.LOSSES[name])(z, y),
            sj.logits_grad(name, z, y),
            sj.LOSSES[name](z[3:], y[3:]),
        )
        for name in NOTES
    }


@pytest.mark.parametrize(
    ("dtype", "big"),
    [
        (jnp.float32, 1e30),
        (jnp.float32, 1e15),
        (jnp.float32, 1e4),
        (jnp.bfloat16, 1e30),
        (jnp.bfloat16, 30.0),
    ],
)
def test_values_and_gradients_are_exact_at_extreme_logits(dtype, big):
    """All five losses: the value, jax.grad and the closed form equal the hand-computed
    answers of _exact_at_huge_logits (not merely finite), keeping the dtype. An all-equal
    row at ±1e30 must give the zero row's loss and gradient (BCE used to get
    log(1 − ŷ) = 0 there: the two log-sum-exps it subtracted both rounded to 1e30).

    The one expected ``inf``: ``square``'s VALUE at |z| = 1e30, where ½(1e30)² = 5e59 is
    beyond float32/bfloat16's 3.4e38 (unavoidable, documented); its gradient z − y is
    exact. At 1e15 the value (≈ 1e30) fits.
    """
    z = jnp.asarray(_huge_logits(big), dtype)
    big = float(z[0, 0])  # big as rounded to the dtype (bfloat16 keeps 8 bits)
    # int ids for float32, one-hot rows for bfloat16 (one compile per dtype)
    if dtype == jnp.float32:
        labels = jnp.asarray(LABELS_HUGE)
        tol = {"rtol": 1e-6, "atol": 1e-7}
    else:
        labels = jnp.asarray(np.eye(4)[LABELS_HUGE], dtype)
        tol = {"rtol": 2e-2, "atol": 1e-4}
    values, grads = _exact_at_huge_logits(big)
    out = _value_grad_closed(z, labels)
    for name, (value, auto, closed, last_rows) in out.items():
        assert value.dtype == dtype and auto.dtype == dtype and closed.dtype == dtype, name
        for got, expected in ((value, values[name].mean()), (last_rows, values[name][3:].mean())):
            if expected > float(jnp.finfo(dtype).max):
                assert name == "square" and np.isinf(float(got)), (name, got)
            else:
                np.testing.assert_allclose(float(got), expected, **tol, err_msg=name)
        for what, arr in (("jax.grad", auto), ("closed form", closed)):
            np.testing.assert_allclose(
                np.asarray(arr, np.float64), grads[name], **tol, err_msg=f"{name} {what}"
            )
        if name in ("cce", "mse", "bce"):  # the all-equal huge row is the zero row, exactly
            for arr in (auto, closed):
                np.testing.assert_array_equal(arr[4], arr[3], err_msg=name)


def test_bfloat16_moderate_logits_are_accurate():
    """bfloat16 keeps ~3 significant digits: the losses agree with float32 to 2e-2."""
    z = jnp.asarray(Z_MODERATE)
    low = _all_losses(z.astype(jnp.bfloat16), jnp.asarray(IDS))
    full = _all_losses(z, jnp.asarray(IDS))
    for name in BUILTINS:
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
    "logits N=0": (np.zeros((0, BK)), np.zeros(0, int), r"logits: expected N ≥ 1 rows"),
    "logits K=0": (np.zeros((BN, 0)), np.zeros(BN, int), r"logits: expected K ≥ 1"),
}


def _as_jax(array):
    return jnp.asarray(array, jnp.float32 if np.issubdtype(array.dtype, np.floating) else None)


@pytest.mark.parametrize("name", BUILTINS)
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


@pytest.mark.parametrize("name", BUILTINS)
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
    """K = 1: the softmax losses need K ≥ 2 whatever the label form (ids (N,), targets
    (N,) or rows (N, 1): a softmax over one class is 1, the loss would be a silent 0),
    for the loss and for logits_grad; sigmoid_bce targets must lie in [0, 1]."""
    z = jnp.zeros((3, 1), jnp.float32)
    labels = {
        "ids": jnp.asarray([0, 0, 0]),
        "targets": jnp.asarray([0.0, 1.0, 0.0]),
        "rows": jnp.ones((3, 1), jnp.float32),
    }
    for name in ("cce", "mse", "bce"):
        for y in labels.values():
            for fn in (sj.LOSSES[name], functools.partial(sj.logits_grad, name)):
                with pytest.raises(ValueError, match="labels: loss .* needs K ≥ 2"):
                    fn(z, y)
    with pytest.raises(ValueError, match=r"labels: targets for 'sigmoid_bce' .* \[0, 1\]"):
        sj.LOSSES["sigmoid_bce"](z, jnp.asarray([0.0, 1.0, 2.0]))
    # real targets are fine for square
    assert np.isfinite(sj.LOSSES["square"](z, jnp.asarray([-5.0, 0.5, 7.0])))


@pytest.mark.parametrize("bad", [-0.5, 1.5])
def test_sigmoid_bce_targets_must_lie_in_0_1_for_every_k(bad):
    """The [0, 1] check holds for target rows of any K (concrete labels), not only K = 1."""
    y = np.zeros((BN, BK), np.float32)
    y[3, 5] = bad
    z, y = _as_jax(np.zeros((BN, BK))), _as_jax(y)
    with count_jax_work() as events:
        for fn in (sj.LOSSES["sigmoid_bce"], functools.partial(sj.logits_grad, "sigmoid_bce")):
            with pytest.raises(ValueError, match=r"labels: targets for 'sigmoid_bce'"):
                fn(z, y)
    assert events == []


def test_python_lists_are_accepted_and_ragged_ones_rejected():
    """Lists work like arrays (they used to fail inside jnp.result_type); a ragged or
    non-numeric list is a ValueError naming the argument."""
    z, ids = Z_LARGE.tolist(), IDS.tolist()
    for name in BUILTINS:
        np.testing.assert_allclose(
            sj.LOSSES[name](z, ids), sj.LOSSES[name](jnp.asarray(Z_LARGE), jnp.asarray(IDS)), **F32
        )
    np.testing.assert_allclose(
        sj.logits_grad("cce", z, ONEHOT.tolist()),
        sj.logits_grad("cce", jnp.asarray(Z_LARGE), jnp.asarray(ONEHOT)),
        **F32,
    )
    with pytest.raises(ValueError, match="logits: expected a .* sequence of numbers"):
        sj.LOSSES["cce"]([[1.0, 2.0], [3.0]], [0, 1])
    with pytest.raises(ValueError, match="labels: expected numbers"):
        sj.LOSSES["cce"]([[1.0, 2.0], [3.0, 4.0]], ["a", "b"])


@pytest.mark.parametrize("bad", ["xent", "CCE", "", None, 3])
def test_unknown_loss_name(bad):
    z, y = jnp.zeros((2, 3), jnp.float32), jnp.asarray([0, 1])
    match = "loss: (unknown loss|expected a loss name)"
    with pytest.raises(ValueError, match=match):
        sj.resolve_loss(bad)
    with pytest.raises(ValueError, match=match):
        sj.logits_grad(bad, z, y)
    with pytest.raises(ValueError, match=match):
        sj.per_sample_logits_grad(bad, z, y)


# ---------------------------------------------------------------------------------------
# jit, vmap, grad
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_jit_vmap_and_grad_agree_with_eager(name):
    """jit(vmap(loss)) over a stack of batches == the eager loss of each batch, and
    jit(vmap(grad(loss))) == the closed-form logits_grad of each batch."""
    loss = sj.LOSSES[name]
    zs = jnp.asarray(np.stack([Z_MODERATE, Z_LARGE, -Z_MODERATE]))
    ys = jnp.asarray(np.stack([IDS, IDS[::-1], (IDS + 1) % K]))

    @jit_fast
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
