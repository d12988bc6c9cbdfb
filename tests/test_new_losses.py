"""The four losses from the literature (square_rescaled, mae, sigmoid_mse, cce_smoothed),
the label checks of issue #13 (rows summing to 1, finite targets), −inf logits, loss
keyword arguments and the losses' doctests.

Each new loss: value = a direct numpy formula; closed form = jax.grad (float64, ≤ 1e-10
norm-wise); finite at ±1e30 in float32 (square_rescaled's value aside, as square's).
"""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
import softjax.builtin_losses
import softjax.losses
from tests.helpers import assert_rel_close, formula_loss, jit_fast

NOTES = ("cce", "mse", "bce", "sigmoid_bce", "square")
NEW = ("square_rescaled", "mae", "sigmoid_mse", "cce_smoothed", "gce")
SOFTMAX = ("cce", "mse", "bce", "mae", "cce_smoothed", "gce")
# Each new loss with its defaults and with other keyword arguments.
SPECS = {
    "square_rescaled": ("square_rescaled", {}),
    "square_rescaled k=3 M=5": ("square_rescaled", {"k": 3.0, "M": 5.0}),
    "mae": ("mae", {}),
    "sigmoid_mse": ("sigmoid_mse", {}),
    "cce_smoothed": ("cce_smoothed", {}),
    "cce_smoothed 0.3": ("cce_smoothed", {"smoothing": 0.3}),
    "gce": ("gce", {}),
    "gce q=0.3": ("gce", {"q": 0.3}),
    "gce q=1": ("gce", {"q": 1.0}),
}
N, K = 6, 5
RNG = np.random.default_rng(7)
IDS = RNG.integers(0, K, N)
ONEHOT = np.eye(K)[IDS]
SOFT = RNG.dirichlet(np.ones(K), N)
Z = RNG.standard_normal((N, K)) * 4
Z[0, :2] = [40.0, -40.0]  # a saturated row


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_value(spec, z, ids=None, rows=None):
    """The papers' formulas, per sample, then the batch mean (float64 numpy)."""
    name, kw = spec
    y = np.eye(z.shape[1])[ids] if rows is None else rows
    if name == "square_rescaled" and rows is None:  # Hui & Belkin's one-hot form, literally
        k, m = kw.get("k", 1.0), kw.get("M", 1.0)
        z_y = z[np.arange(len(z)), ids]
        rest = (z**2).sum(-1) - z_y**2
        return np.mean((k * (z_y - m) ** 2 + rest) / z.shape[1])
    if name == "square_rescaled":
        k, m = kw.get("k", 1.0), kw.get("M", 1.0)
        return np.mean(((1 + (k - 1) * y) * (z - m * y) ** 2).sum(-1) / z.shape[1])
    if name == "mae":
        return np.mean(np.abs(_softmax(z) - y).sum(-1))
    if name == "sigmoid_mse":
        return np.mean(0.5 * ((_sigmoid(z) - y) ** 2).sum(-1))
    if name == "gce":  # Zhang & Sabuncu's (1 − p_y^q)/q, for rows Σ_k y_k (1 − p_k^q)/q
        q = kw.get("q", 0.7)
        return np.mean((y * (1 - _softmax(z) ** q)).sum(-1) / q)
    if name == "cce_smoothed":
        eps = kw.get("smoothing", 0.1)
        ys = (1 - eps) * y + eps / z.shape[1]
        return np.mean(-(ys * np.log(_softmax(z))).sum(-1))
    raise AssertionError(name)


@jit_fast
def _values_and_grads(z, ids, rows):
    """Per spec and label form: (value, closed-form ∂L/∂z, autodiff of the formula,
    jax.grad through the loss)."""
    out = {}
    for key, spec in SPECS.items():
        bound = sj.resolve_loss(spec)
        for kind, labels in (("ids", ids), ("rows", rows)):
            out[key, kind] = (
                bound.fn(z, labels),
                bound.logits_grad(z, labels),
                jax.grad(formula_loss(spec))(z, labels),
                jax.grad(bound.fn)(z, labels),
            )
    return out


@pytest.mark.parametrize("rows", ["one-hot", "soft"])
def test_new_losses_values_and_closed_forms_float64(rows):
    """Value = the numpy formula to 1e-12; closed form = jax.grad to 1e-10 (float64);
    int ids give exactly the one-hot rows' value and gradient."""
    y = ONEHOT if rows == "one-hot" else SOFT
    with jax.enable_x64(True):
        out = _values_and_grads(jnp.asarray(Z), jnp.asarray(IDS), jnp.asarray(y))
    for (key, kind), (value, closed, auto, through) in out.items():
        spec = SPECS[key]
        expected = numpy_value(spec, Z, ids=IDS) if kind == "ids" else numpy_value(spec, Z, rows=y)
        assert value.dtype == jnp.float64
        np.testing.assert_allclose(float(value), expected, rtol=1e-12, err_msg=f"{key} {kind}")
        assert_rel_close(closed, auto, 1e-10, f"{key} {kind}")
        assert_rel_close(through, closed, 1e-14, f"{key} {kind} jax.grad")
        if rows == "one-hot" and kind == "ids":
            np.testing.assert_array_equal(closed, out[key, "rows"][1], err_msg=key)


def test_square_rescaled_with_k_m_one_is_two_over_k_times_square():
    with jax.enable_x64(True):
        z, ids = jnp.asarray(Z), jnp.asarray(IDS)
        rescaled = sj.LOSSES["square_rescaled"](z, ids)
        square = sj.LOSSES["square"](z, ids)
        np.testing.assert_allclose(float(rescaled), 2.0 / K * float(square), rtol=1e-14)
        np.testing.assert_allclose(
            sj.logits_grad("square_rescaled", z, ids), 2.0 / K * sj.logits_grad("square", z, ids)
        )


def test_gce_tends_to_cce_as_q_falls_and_is_half_mae_at_q_one():
    """Zhang & Sabuncu 2018: L_q → CE as q → 0 (the limit of (1 − p^q)/q is −log p) and
    L_1 = 1 − p_y = ½ MAE on one-hot targets; its gradient is CE's weighted by p_y^q."""
    with jax.enable_x64(True):
        z, ids = jnp.asarray(Z), jnp.asarray(IDS)
        cce, gce = sj.LOSSES["cce"], sj.LOSSES["gce"]
        np.testing.assert_allclose(gce(z, ids, q=1e-7), cce(z, ids), rtol=1e-5)
        np.testing.assert_allclose(gce(z, ids, q=1.0), 0.5 * sj.LOSSES["mae"](z, ids), rtol=1e-12)
        p_y = np.asarray(sj.softmax(z))[np.arange(N), IDS]
        weighted = np.asarray(sj.per_sample_logits_grad("cce", z, ids)) * p_y[:, None] ** 0.7
        assert_rel_close(sj.per_sample_logits_grad("gce", z, ids), weighted, 1e-12)


def test_sigmoid_mse_for_one_output_with_binary_targets():
    """K = 1 with (N,) 0/1 targets (int or float), like sigmoid_bce; [0, 1] is checked."""
    z = jnp.asarray([[-2.0], [0.0], [3.0]], jnp.float32)
    y = np.array([0, 1, 1])
    expected = np.mean(0.5 * (_sigmoid(np.array([-2.0, 0.0, 3.0])) - y) ** 2)
    for labels in (jnp.asarray(y), jnp.asarray(y, jnp.float32)):
        np.testing.assert_allclose(float(sj.LOSSES["sigmoid_mse"](z, labels)), expected, 1e-6)
    with pytest.raises(ValueError, match=r"labels: targets for 'sigmoid_mse' .* \[0, 1\]"):
        sj.LOSSES["sigmoid_mse"](z, jnp.asarray([0.0, 1.0, 2.0]))


def test_new_losses_are_finite_at_1e30_float32():
    """At ±1e30 (float32): values and gradients finite and of float32 dtype; the one
    ``inf`` is square_rescaled's value, (1e30)² being beyond float32 (as for square)."""
    z = jnp.asarray(np.where(RNG.random((N, K)) < 0.5, -1e30, 1e30), jnp.float32)
    ids = jnp.asarray(IDS)
    values = jit_fast(lambda z, y: {k: sj.resolve_loss(s).fn(z, y) for k, s in SPECS.items()})(
        z, ids
    )
    grads = jit_fast(
        lambda z, y: {
            k: (jax.grad(sj.resolve_loss(s).fn)(z, y), sj.resolve_loss(s).logits_grad(z, y))
            for k, s in SPECS.items()
        }
    )(z, ids)
    for key, value in values.items():
        assert value.dtype == jnp.float32
        if key.startswith("square_rescaled"):
            assert np.isinf(float(value)), key
        else:
            assert np.isfinite(float(value)), key
        for g in grads[key]:
            assert g.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(g))), key
        np.testing.assert_allclose(grads[key][0], grads[key][1], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------
# −inf logits (issue #13; optax#896): a zero target never multiplies an infinite log
# ---------------------------------------------------------------------------------------


@pytest.mark.slow  # over 8 s on 2 cores (several compiled trainings)
def test_minus_inf_logit_on_a_non_label_class_gives_the_finite_value():
    """z = −inf on a class whose target is 0: the value equals that at z = −1000 (e^-1000
    is 0 in float64) for every loss on a softmax or sigmoid (cce_smoothed with ε = 0; with
    ε > 0 the class has target ε/K and the loss is +inf, not NaN); autodiff and the
    closed forms stay finite, also when every class but the label is at −inf (BCE's
    log(1 − ŷ) = log 0 there). One-hot rows and int ids both."""
    z = np.array([[2.0, -np.inf, 0.5], [-np.inf, 1.0, 3.0], [-np.inf, 1.0, -np.inf]])
    twin = np.where(np.isinf(z), -1000.0, z)
    ids = np.array([0, 1, 1])
    finite_specs = {n: n for n in ("cce", "mse", "bce", "sigmoid_bce", "mae", "sigmoid_mse")}
    finite_specs["cce_smoothed 0"] = ("cce_smoothed", {"smoothing": 0.0})
    with jax.enable_x64(True):
        for key, spec in finite_specs.items():
            bound = sj.resolve_loss(spec)
            for labels in (jnp.asarray(ids), jnp.asarray(np.eye(3)[ids])):
                value = bound.fn(jnp.asarray(z), labels)
                np.testing.assert_allclose(
                    float(value),
                    float(bound.fn(jnp.asarray(twin), labels)),
                    rtol=1e-12,
                    err_msg=key,
                )
                for g in (
                    jax.grad(bound.fn)(jnp.asarray(z), labels),
                    bound.logits_grad(jnp.asarray(z), labels),
                ):
                    assert np.all(np.isfinite(np.asarray(g))), key
        value = sj.resolve_loss("cce_smoothed").fn(jnp.asarray(z), jnp.asarray(ids))
        assert np.isposinf(float(value))


# ---------------------------------------------------------------------------------------
# Labels (issue #13): softmax target rows sum to 1; every target is finite
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_target_rows_must_sum_to_one(name):
    z = jnp.zeros((3, 4), jnp.float32)
    rows = np.eye(4, dtype=np.float32)[[0, 1, 2]]
    rows[1, 3] = 1.0  # a row summing to 2
    msg = (
        rf"labels: target rows of '{name}' must sum to 1 \(±0.001\), got sums \[2.0\] in rows \[1\]"
    )
    for fn in (sj.LOSSES[name], sj.resolve_loss(name).logits_grad):
        with pytest.raises(ValueError, match=msg):
            fn(z, jnp.asarray(rows))
    ok = np.eye(4, dtype=np.float32)[[0, 1, 2]] * (1 + 5e-4)  # within the tolerance
    assert np.isfinite(float(sj.LOSSES[name](z, jnp.asarray(ok))))


def test_non_softmax_losses_take_rows_of_any_sum():
    z = jnp.zeros((2, 3), jnp.float32)
    rows = jnp.asarray([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    for name in ("sigmoid_bce", "sigmoid_mse", "square", "square_rescaled"):
        assert np.isfinite(float(sj.LOSSES[name](z, rows))), name


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_targets_are_rejected_by_every_loss(bad):
    z = jnp.zeros((3, 4), jnp.float32)
    rows = np.eye(4, dtype=np.float32)[[0, 1, 2]]
    rows[2, 0] = bad
    for name in NOTES + NEW:
        with pytest.raises(ValueError, match=r"labels: targets must be finite.* rows \[2\]"):
            sj.LOSSES[name](z, jnp.asarray(rows))
    with pytest.raises(ValueError, match="labels: targets must be finite"):
        sj.LOSSES["square"](jnp.zeros((2, 1)), jnp.asarray([1.0, bad]))
    params = [{"w": jnp.zeros((2, 4))}]
    with pytest.raises(ValueError, match="labels: targets must be finite"):
        sj.backprop(params, jnp.zeros((3, 2)), jnp.asarray(rows), "cce")


# ---------------------------------------------------------------------------------------
# Keyword arguments and the doctests
# ---------------------------------------------------------------------------------------


def test_loss_keyword_arguments_are_bound_and_unknown_ones_rejected():
    bound = sj.resolve_loss(("cce_smoothed", {"smoothing": 0.2}))
    assert bound.spec == ["cce_smoothed", {"smoothing": 0.2}] and bound.has_closed_form
    with pytest.raises(
        ValueError,
        match=r"loss: loss 'cce_smoothed' takes parameters "
        r"\['smoothing'\], got \['smooth'\]",
    ):
        sj.resolve_loss(("cce_smoothed", {"smooth": 0.2}))
    with pytest.raises(ValueError, match=r"loss: loss 'cce' takes parameters \[\], got \['k'\]"):
        sj.resolve_loss(("cce", {"k": 2.0}))
    with pytest.raises(ValueError, match=r"config.loss: loss 'square_rescaled' takes .*\['m'\]"):
        sj.resolve_loss(("square_rescaled", {"m": 2.0}), "config.loss")
    with pytest.raises(ValueError, match=r"q: expected a real number in \(0, 1\]"):
        sj.resolve_loss(("gce", {"q": 0.0})).fn(jnp.zeros((1, 2)), [0])
    with pytest.raises(ValueError, match=r"smoothing: expected a real number in \[0, 1\]"):
        sj.resolve_loss(("cce_smoothed", {"smoothing": 1.5})).fn(jnp.zeros((1, 2)), [0])


def test_the_losses_doctests_pass():
    """The runnable examples in softjax.losses and softjax.builtin_losses (run also by
    pytest --doctest-modules)."""
    for module, least in ((softjax.losses, 6), (softjax.builtin_losses, 12)):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted >= least, (module.__name__, result)
