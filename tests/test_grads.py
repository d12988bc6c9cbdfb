"""The notes' closed-form gradients (softjax.grads) against jax autodiff, in float64.

Every comparison is a norm-wise relative error ‖closed − autodiff‖ / ‖autodiff‖ ≤ 1e-10
(SPEC §3, §4). Compiles dominate the run time on CPU, so shapes come from small fixed
grids that span the required ranges, and random values come from seeds or hypothesis
examples that reuse one compiled function.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import softjax as sj

TOL = 1e-10
# The gradients are differences of O(1) quantities (ŷ, y, σ(z)), so float64 resolves them
# to about 1e-16 absolute. When every sample is saturated AND correct, the true gradient
# (e.g. e^-100 ≈ 4e-44) lies below that resolution (1 − ŷ rounds to 0), and autodiff and
# the closed form both return rounding noise of that size. The floor only matters there:
# any gradient ≥ 1e-4 is held to the 1e-10 relative tolerance.
FLOOR = 1e-14


def assert_rel_close(actual, expected, tol=TOL, what=""):
    """‖actual − expected‖ ≤ tol · ‖expected‖ + FLOOR, and both finite."""
    a = np.asarray(actual, np.float64)
    b = np.asarray(expected, np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), what
    err = np.linalg.norm(a - b)
    assert err <= tol * np.linalg.norm(b) + FLOOR, (
        f"{what}: ‖a−b‖={err:.3e}, ‖b‖={np.linalg.norm(b):.3e}"
    )


def assert_trees_close(actual, expected, tol=TOL, what=""):
    assert jax.tree.structure(actual) == jax.tree.structure(expected), what
    flat_actual = jax.tree_util.tree_flatten_with_path(actual)[0]
    for (path, a), b in zip(flat_actual, jax.tree.leaves(expected), strict=True):
        assert_rel_close(a, b, tol, f"{what} {jax.tree_util.keystr(path)}")


def random_logits(rng, n, k, saturate=0.3, big=50.0):
    """Normal logits with a fraction of entries pushed to ±big (saturated softmax/sigmoid)."""
    z = rng.standard_normal((n, k)) * 5.0
    mask = rng.random((n, k)) < saturate
    return np.where(mask, big * np.sign(rng.standard_normal((n, k))), z)


def softmax_np(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ---------------------------------------------------------------------------------------
# ∂L/∂logits for the five losses
# ---------------------------------------------------------------------------------------


@jax.jit
def _logit_grads(z, labels):
    """Per loss: (logits_grad, jax.grad of the loss, per_sample_logits_grad)."""
    return {
        name: (
            sj.logits_grad(name, z, labels),
            jax.grad(sj.LOSSES[name])(z, labels),
            sj.per_sample_logits_grad(name, z, labels),
        )
        for name in sj.LOSS_NAMES
    }


# (N, K) spanning N in 1..64 and K in 2..20, corners included; one compile each.
LOGIT_SHAPES = [(1, 2), (64, 20), (5, 17)]


@pytest.mark.parametrize("n,k", LOGIT_SHAPES)
def test_logits_grad_matches_autodiff_on_random_shapes(n, k):
    """logits_grad == jax.grad for all five losses, from mild to fully saturated logits.

    Targets: one-hot rows, probability rows, and rows that do not sum to 1. Also checks
    per_sample_logits_grad = N · logits_grad and, in numpy, the simple closed forms
    ŷ − y (cce), σ(z) − y (sigmoid_bce) and z − y (square) of SPEC §3.
    """
    rng = np.random.default_rng(1000 * n + k)
    with jax.enable_x64(True):
        for trial, saturate in enumerate((0.0, 0.3, 1.0)):
            z_np = random_logits(rng, n, k, saturate=saturate)
            ids = rng.integers(0, k, n)
            targets = {
                "one-hot": np.eye(k)[ids],
                "soft": rng.dirichlet(np.ones(k), n),
                "unnormalized": rng.random((n, k)),
            }
            for kind, y_np in targets.items():
                z, y = jnp.asarray(z_np, jnp.float64), jnp.asarray(y_np, jnp.float64)
                out = _logit_grads(z, y)
                for name, (closed, auto, per_sample) in out.items():
                    what = f"{name} {kind} {n}x{k} trial {trial}"
                    assert closed.dtype == jnp.float64 and closed.shape == (n, k)
                    assert_rel_close(closed, auto, what=what)
                    assert_rel_close(per_sample, n * np.asarray(closed), 1e-14, what)
                if kind == "one-hot":
                    assert_rel_close(out["cce"][2], softmax_np(z_np) - y_np, what="cce ŷ−y")
                sig = 1.0 / (1.0 + np.exp(-z_np))
                assert_rel_close(out["sigmoid_bce"][2], sig - y_np, what="σ(z)−y")
                assert_rel_close(out["square"][2], z_np - y_np, what="z−y")


@settings(max_examples=25, deadline=None)
@given(
    z=st.lists(
        st.floats(-50.0, 50.0, allow_nan=False, allow_subnormal=False), min_size=15, max_size=15
    ),
    ids=st.lists(st.integers(0, 4), min_size=3, max_size=3),
)
def test_logits_grad_matches_autodiff_hypothesis(z, ids):
    """Hypothesis-chosen logits in [−50, 50] (ties, zeros, saturation) on a 3×5 batch,
    with int class ids and with the same labels as one-hot rows."""
    with jax.enable_x64(True):
        z = jnp.asarray(np.reshape(z, (3, 5)), jnp.float64)
        int_out = _logit_grads(z, jnp.asarray(ids))
        onehot_out = _logit_grads(z, jnp.asarray(np.eye(5)[ids], jnp.float64))
        for name in sj.LOSS_NAMES:
            for kind, out in (("int", int_out), ("one-hot", onehot_out)):
                closed, auto, _ = out[name]
                assert_rel_close(closed, auto, what=f"{name} {kind} z={z} y={ids}")
            # int ids are one-hot rows, exactly
            np.testing.assert_array_equal(int_out[name][0], onehot_out[name][0])


@jax.jit
def _single_output_grads(z, y01, y_real):
    return {
        "sigmoid_bce": (
            sj.logits_grad("sigmoid_bce", z, y01),
            jax.grad(sj.LOSSES["sigmoid_bce"])(z, y01),
        ),
        "square": (sj.logits_grad("square", z, y_real), jax.grad(sj.LOSSES["square"])(z, y_real)),
    }


@pytest.mark.parametrize("dtype01", ["float64", "int32"])
def test_single_output_losses(dtype01):
    """K = 1: sigmoid_bce on (N,) 0/1 targets (binary logistic regression) gives
    (σ(z) − y)/N; square on real (N,) targets (linear regression) gives (z − y)/N."""
    rng = np.random.default_rng(3)
    n = 20
    z_np = random_logits(rng, n, 1)
    y01 = rng.integers(0, 2, n)
    y_real = rng.standard_normal(n) * 10
    with jax.enable_x64(True):
        out = _single_output_grads(
            jnp.asarray(z_np, jnp.float64),
            jnp.asarray(y01, dtype01),
            jnp.asarray(y_real, jnp.float64),
        )
    for name, (closed, auto) in out.items():
        assert closed.shape == (n, 1)
        assert_rel_close(closed, auto, what=name)
    assert_rel_close(out["sigmoid_bce"][0][:, 0], (1 / (1 + np.exp(-z_np[:, 0])) - y01) / n)
    assert_rel_close(out["square"][0][:, 0], (z_np[:, 0] - y_real) / n)


@jax.jit
def _mse_and_cce_grads(z, y):
    return {name: sj.logits_grad(name, z, y) for name in ("mse", "cce")}


def test_mse_gradient_vanishes_at_saturation_but_cce_does_not():
    """SPEC §6: a confidently WRONG softmax kills MSE's gradient; CCE's stays ≈ ŷ − y."""
    with jax.enable_x64(True):
        y = jnp.asarray([2])
        norms = {}
        for scale in (1.0, 10.0, 40.0):
            out = _mse_and_cce_grads(jnp.asarray([[scale, 0.0, 0.0]], jnp.float64), y)
            norms[scale] = {name: float(np.linalg.norm(g)) for name, g in out.items()}
    assert norms[1.0]["mse"] > norms[10.0]["mse"] > norms[40.0]["mse"]
    assert norms[40.0]["mse"] < 1e-15  # ŷ(1 − ŷ)-type factors ≈ e^-40
    # ŷ − y → [1, 0, −1], whose norm is √2: no vanishing.
    assert norms[40.0]["cce"] == pytest.approx(np.sqrt(2.0), rel=1e-12)


# ---------------------------------------------------------------------------------------
# params_grad: single-layer models
# ---------------------------------------------------------------------------------------


def _params_grads(params, x, labels):
    out = {}
    for name in sj.LOSS_NAMES:

        def loss(p, name=name):
            return sj.LOSSES[name](sj.mlp_apply(p, x), labels)

        out[name] = (sj.params_grad(params, x, labels, name), jax.grad(loss)(params))
    return out


_params_grads_jit = jax.jit(_params_grads)


# (N, D, K) spanning N in 1..64, D in 1..50, K in 2..20; with and without bias.
LAYER_CASES = [(1, 1, 2, False), (64, 50, 20, True), (17, 3, 5, False)]


@pytest.mark.parametrize("n,d,k,bias", LAYER_CASES)
def test_params_grad_matches_autodiff(n, d, k, bias):
    """Xᵀ G / N and Σ G / N (seed 000 eqs. 9-14) == jax.grad for all losses; for CCE also
    against ∂W = Xᵀ(Ŷ − Y)/N, ∂b = Σ(ŷ − y)/N built in numpy."""
    rng = np.random.default_rng(n * 10_000 + d * 100 + k)
    w = rng.standard_normal((d, k)) * 3.0 / np.sqrt(d)  # pushes some rows into saturation
    b = rng.standard_normal(k)
    x = rng.standard_normal((n, d)) * 2.0
    y = np.eye(k)[rng.integers(0, k, n)]
    if not bias:
        b = np.zeros(k)
    with jax.enable_x64(True):
        params = [{"w": jnp.asarray(w), "b": jnp.asarray(b)} if bias else {"w": jnp.asarray(w)}]
        out = _params_grads_jit(params, jnp.asarray(x), jnp.asarray(y))
    for name, (closed, auto) in out.items():
        assert ("b" in closed[0]) == bias
        assert_trees_close(closed, auto, what=f"{name} bias={bias} {n}x{d}x{k}")
    err = softmax_np(x @ w + b) - y
    assert_rel_close(out["cce"][0][0]["w"], x.T @ err / n)
    if bias:
        assert_rel_close(out["cce"][0][0]["b"], err.sum(0) / n)


def test_params_grad_rejects_a_deep_model():
    params = [{"w": np.ones((3, 4))}, {"w": np.ones((4, 2))}]
    with pytest.raises(ValueError, match="params"):
        sj.params_grad(params, np.ones((2, 3)), np.asarray([0, 1]), "cce")


# ---------------------------------------------------------------------------------------
# backprop: MLPs of depth 1-4
# ---------------------------------------------------------------------------------------

N, D, H, K = 8, 5, 6, 4
MIXED = [("leaky_relu", {"slope": 0.2}), ("elu", {"alpha": 0.5}), "swish"]


def _check_backprop(depth, bias, activations, loss_name, seed, labels_kind="int"):
    """backprop == jax.grad of the mean loss through mlp_apply, in float64.

    The relu / leaky_relu / elu(α ≠ 1) derivatives jump at 0, where autodiff and the closed
    form may legitimately take different one-sided values; a draw whose hidden
    pre-activations come within 1e-6 of 0 (checked in float64) is resampled.
    """
    sizes = [D] + [H] * (depth - 1) + [K]

    @jax.jit
    def closed_and_auto(params, x, labels):
        def loss(p):
            return sj.LOSSES[loss_name](sj.mlp_apply(p, x, activations), labels)

        zs, _ = sj.mlp_forward(params, x, activations)
        hidden_z = [jnp.abs(z).ravel() for z in zs[:-1]] or [jnp.full(1, jnp.inf)]
        closest_to_kink = jnp.min(jnp.concatenate(hidden_z))
        closed = sj.backprop(params, x, labels, loss_name, activations)
        return closed, jax.grad(loss)(params), closest_to_kink

    with jax.enable_x64(True):
        for attempt in range(20):
            rng = np.random.default_rng(seed + 7919 * attempt)
            params = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
                bound = 2.0 / np.sqrt(fan_in)
                layer = {"w": jnp.asarray(rng.uniform(-bound, bound, (fan_in, fan_out)))}
                if bias:
                    layer["b"] = jnp.asarray(rng.uniform(-1.0, 1.0, fan_out))
                params.append(layer)
            x = jnp.asarray(rng.standard_normal((N, D)) * 2.0)
            ids = rng.integers(0, K, N)
            labels = jnp.asarray(ids if labels_kind == "int" else np.eye(K)[ids])
            closed, auto, closest_to_kink = closed_and_auto(params, x, labels)
            if closest_to_kink >= 1e-6:
                break
        else:  # pragma: no cover - 20 unlucky float64 draws would be astonishing
            pytest.fail("could not draw hidden pre-activations away from the kink")
    assert len(closed) == depth
    assert all(("b" in layer) == bias for layer in closed)
    assert_trees_close(closed, auto, what=f"depth={depth} bias={bias} {activations} {loss_name}")


@pytest.mark.parametrize("activation", sorted(sj.ACTIVATIONS))
def test_backprop_every_activation(activation):
    """Depth 3 (two hidden layers), one activation everywhere.

    Each graph costs a compile, so the loss rotates with the activation (every loss meets
    one or two activations) and the bias alternates. Together with
    test_backprop_every_depth every (loss, bias) pair is covered, and δ_L itself is
    checked exhaustively by the logits_grad tests above.
    """
    i = sorted(sj.ACTIVATIONS).index(activation)
    loss_name = sj.LOSS_NAMES[i % len(sj.LOSS_NAMES)]
    _check_backprop(3, i % 2 == 0, activation, loss_name, seed=100 + i, labels_kind="int")


@pytest.mark.parametrize(("loss_name", "bias"), [("bce", True), ("sigmoid_bce", False)])
def test_backprop_mixed_per_layer_activations(loss_name, bias):
    """Depth 4, one activation per hidden layer: leaky_relu(slope 0.2), elu(α 0.5), swish."""
    _check_backprop(4, bias, MIXED, loss_name, seed=300, labels_kind="one-hot")


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("depth,activations", [(1, None), (2, "sigmoid"), (3, "tanh"), (4, "relu")])
def test_backprop_every_depth(depth, activations, bias):
    """sizes of length 2..5; depth 1 is the single-layer model (no hidden activation)."""
    loss_name = sj.LOSS_NAMES[(depth + (0 if bias else 2)) % len(sj.LOSS_NAMES)]
    _check_backprop(depth, bias, activations, loss_name, seed=200 + depth)


def test_backprop_softmax_hidden_layer_between_others():
    """A softmax hidden layer backpropagates through its Jacobian, not an element-wise f′."""
    _check_backprop(4, True, ["relu", "softmax", "sigmoid"], "mse", seed=400)


def test_backprop_two_layer_net_of_the_homework_in_numpy():
    """S4: G2 = softmax(h) − Y, ∂W2 = f(XW1)ᵀG2/N, G1 = (G2 W2ᵀ)∘f′(XW1), ∂W1 = XᵀG1/N."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, D))
    w1 = rng.standard_normal((D, H))
    w2 = rng.standard_normal((H, K))
    ids = rng.integers(0, K, N)
    pre = x @ w1
    assert np.min(np.abs(pre)) > 1e-6
    hidden = np.maximum(pre, 0)
    g2 = softmax_np(hidden @ w2) - np.eye(K)[ids]
    g1 = (g2 @ w2.T) * (pre > 0)
    with jax.enable_x64(True):
        params = [{"w": jnp.asarray(w1)}, {"w": jnp.asarray(w2)}]
        grads = jax.jit(lambda p, x, y: sj.backprop(p, x, y, "cce", "relu"))(
            params, jnp.asarray(x), jnp.asarray(ids)
        )
    assert_rel_close(grads[1]["w"], hidden.T @ g2 / N)
    assert_rel_close(grads[0]["w"], x.T @ g1 / N)


# ---------------------------------------------------------------------------------------
# Bad input to backprop: a ValueError naming the argument, before any jax work
# ---------------------------------------------------------------------------------------


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


# Widths used nowhere else, so running even the forward pass would need fresh compiles.
BN, BD, BH, BK = 10, 9, 7, 3


def test_backprop_validates_everything_before_the_forward_pass():
    rng = np.random.default_rng(0)
    params = [
        {"w": rng.standard_normal((BD, BH)).astype(np.float32), "b": np.zeros(BH, np.float32)},
        {"w": rng.standard_normal((BH, BK)).astype(np.float32), "b": np.zeros(BK, np.float32)},
    ]
    x = rng.standard_normal((BN, BD)).astype(np.float32)
    ids = np.arange(BN) % BK
    good = {"params": params, "x": x, "labels": ids, "loss_name": "cce", "activations": "relu"}
    bad_cases = [
        ({"loss_name": "xent"}, "loss_name: unknown loss"),
        ({"labels": ids[:-1]}, "labels: expected 10 rows"),
        ({"labels": np.full(BN, BK)}, r"labels: class ids must lie in \[0, 3\)"),
        ({"labels": -np.ones(BN, int)}, "labels: class ids must lie"),
        ({"labels": ids.astype(np.float32)}, "labels: class ids .* must be integers"),
        ({"labels": np.zeros((BN, BK + 1), np.float32)}, "labels: target rows must have K=3"),
        ({"labels": np.zeros((BN, BK, 1), np.float32)}, "labels: expected class ids"),
        ({"x": x[:, :-1]}, r"x: expected shape \(N, 9\)"),
        ({"x": x[0]}, r"x: expected shape \(N, 9\)"),
        ({"activations": "gelu"}, "activations: unknown activation 'gelu'"),
        ({"activations": ["gelu"]}, r"activations\[0\]: unknown activation"),
        ({"activations": ["relu", "tanh"]}, "activations: expected one activation or 1"),
        ({"activations": None}, "activations: the model has 1 hidden layer"),
        ({"params": params[:1] + [{"w": params[1]["w"][:-1]}]}, r"params\[1\]\['w'\]"),
    ]
    with count_jax_work() as events:
        for change, match in bad_cases:
            with pytest.raises(ValueError, match=match):
                sj.backprop(**{**good, **change})
    assert events == []
    # The same errors at jit trace time (shapes are static), still without compiling.
    with count_jax_work() as events:
        for change, match in bad_cases[:2] + bad_cases[5:]:
            args = {**good, **change}
            with pytest.raises(ValueError, match=match):
                jax.jit(
                    lambda p, x, y, args=args: sj.backprop(
                        p, x, y, args["loss_name"], args["activations"]
                    )
                )(args["params"], args["x"], args["labels"])
    assert "/jax/core/compile/backend_compile_duration" not in events
    # Control: the forward pass alone on these shapes does compile, so the empty event
    # list above means backprop raised before computing anything.
    with count_jax_work() as events:
        sj.mlp_forward(params, x, "relu")
    assert "/jax/core/compile/backend_compile_duration" in events
