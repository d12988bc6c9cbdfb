"""softjax.models: mlp_init / mlp_apply / mlp_forward (seed 001, 003, 004).

* the toy forward pass of the slides (SPEC §5);
* shapes, bias=False, init_scale, and each init scheme's documented statistics;
* the forward recursion against numpy;
* jit / vmap / grad;
* input validation with errors that name the argument.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
from softjax.models import dense
from tests.helpers import jit_fast

# XLA CPU settings that cut compile time several-fold (no LLVM optimization, the older
# loop emitters); the arithmetic is the same IEEE floating point.


def test_toy_forward_pass_of_the_slides():
    """S1: z = W x + b in column form (W: K×D) is x @ Wᵀ + b in softjax's row form."""
    w_column = np.array([[0.31, 3.95], [7.07, -0.23], [-6.27, -2.35]])
    b = np.array([1.2, 2.93, -4.14])
    x = np.array([[-0.1, 1.4]])
    params = [{"w": jnp.asarray(w_column.T, jnp.float32), "b": jnp.asarray(b, jnp.float32)}]
    z = np.asarray(sj.mlp_apply(params, jnp.asarray(x, jnp.float32)), np.float64)
    a = np.asarray(sj.softmax(z), np.float64)
    assert z.shape == (1, 3)
    np.testing.assert_array_equal(np.round(z[0], 3), [6.699, 1.901, -6.803])
    np.testing.assert_array_equal(np.round(a[0], 3), [0.992, 0.008, 0.000])
    assert int(np.argmax(a[0])) == 0  # the point's label


# ---------------------------------------------------------------------------------------
# mlp_init
# ---------------------------------------------------------------------------------------


SIZES = [5, 6, 4]  # one set of widths, so eager op compiles are shared between tests


def test_init_shapes_bias_and_dtype():
    """Shapes [D, …, K], no "b" with bias=False, and the requested dtype, for every scheme
    (checked with jax.eval_shape: shapes and dtypes are static, nothing is compiled)."""
    key = jax.random.key(0)
    for init in sj.INITS:
        for sizes in ([5, 3], [5, 7, 6, 6, 3]):
            for bias in (True, False):
                for dtype in (jnp.float32, jnp.bfloat16):
                    params = jax.eval_shape(
                        lambda k, sizes=sizes, bias=bias, dtype=dtype, init=init: sj.mlp_init(
                            k, sizes, bias=bias, init=init, dtype=dtype
                        ),
                        key,
                    )
                    assert len(params) == len(sizes) - 1
                    for layer, fan_in, fan_out in zip(params, sizes[:-1], sizes[1:], strict=True):
                        assert set(layer) == ({"w", "b"} if bias else {"w"})
                        assert layer["w"].shape == (fan_in, fan_out)
                        assert layer["w"].dtype == dtype
                        if bias:
                            assert layer["b"].shape == (fan_out,) and layer["b"].dtype == dtype
    with jax.enable_x64(True):  # float32 must stay float32 when float64 is available
        for init in sj.INITS:
            for dtype in (jnp.float32, jnp.float64):
                params = jax.eval_shape(
                    lambda k, init=init, dtype=dtype: sj.mlp_init(k, SIZES, init=init, dtype=dtype),
                    key,
                )
                assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(params)), init
    # and concretely, for the default scheme
    params = sj.mlp_init(key, SIZES)
    assert [layer["w"].shape for layer in params] == [(5, 6), (6, 4)]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    assert all(set(layer) == {"w"} for layer in sj.mlp_init(key, SIZES, bias=False))


def test_init_is_deterministic_in_the_key():
    a = sj.mlp_init(jax.random.key(1), SIZES)
    b = sj.mlp_init(jax.random.key(1), SIZES)
    c = sj.mlp_init(jax.random.key(2), SIZES)
    for la, lb, lc in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(la["w"], lb["w"])
        assert not np.array_equal(la["w"], lc["w"])


@pytest.mark.parametrize("init", ["lecun_normal", "torch_linear"])
def test_init_scale_multiplies_every_parameter_exactly(init):
    """Same key: init_scale=3 gives exactly 3 × the init_scale=1 parameters (eagerly;
    under jit XLA may fold the scale into the initializer's own constant, ±1 ulp).

    The scaling is one line shared by every scheme; these two cover zero and random biases.
    """
    key = jax.random.key(3)
    one = sj.mlp_init(key, SIZES, init=init, init_scale=1.0)
    three = sj.mlp_init(key, SIZES, init=init, init_scale=3.0)
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(three), strict=True):
        np.testing.assert_array_equal(b, 3 * np.asarray(a))


# A big first layer (40 000 weights) so sample statistics are tight; fan_in ≠ fan_out so
# a scheme that uses the wrong fan is caught; the second layer has other fans again.
FAN_IN, FAN_OUT, FAN_OUT2 = 400, 100, 10


@pytest.fixture(scope="module")
def big_inits():
    """Every scheme from one key, in one compiled program (compiles dominate on CPU).

    The key is an "rbg" key: the schemes' statistics do not depend on the bit generator,
    and it compiles faster on CPU than the default threefry (used by the other tests).
    """
    make_all = jit_fast(
        lambda key: {i: sj.mlp_init(key, [FAN_IN, FAN_OUT, FAN_OUT2], init=i) for i in sj.INITS}
    )
    return jax.tree.map(np.asarray, make_all(jax.random.key(0, impl="rbg")))


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ("lecun_normal", lambda fan_in, fan_out: 1 / np.sqrt(fan_in)),
        ("he_normal", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),
        ("fan_out_normal", lambda fan_in, fan_out: 1 / np.sqrt(fan_out)),
        ("glorot_uniform", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
    ],
    ids=["lecun_normal", "he_normal", "fan_out_normal", "glorot_uniform"],
)
def test_init_scheme_std_and_zero_bias(big_inits, init, std):
    """Mean ≈ 0 and the documented std in both layers (each with its own fans); b = 0."""
    first, second = big_inits[init]
    expected = std(FAN_IN, FAN_OUT)
    assert abs(first["w"].mean()) < 0.02 * expected
    assert first["w"].std() == pytest.approx(expected, rel=0.03)
    assert second["w"].std() == pytest.approx(std(FAN_OUT, FAN_OUT2), rel=0.1)
    for layer in (first, second):
        np.testing.assert_array_equal(layer["b"], 0.0)


def test_glorot_uniform_bound(big_inits):
    w = big_inits["glorot_uniform"][0]["w"]
    bound = np.sqrt(6 / (FAN_IN + FAN_OUT))
    assert np.all(np.abs(w) <= bound) and np.max(np.abs(w)) > 0.99 * bound


def test_torch_linear_is_uniform_within_one_over_sqrt_fan_in(big_inits):
    """nn.Linear's default: W and b ~ U(±1/√fan_in) (seed 001's MNIST model)."""
    first, second = big_inits["torch_linear"]
    bound = 1 / np.sqrt(FAN_IN)
    for arr in (first["w"], first["b"]):
        assert np.all(np.abs(arr) <= bound)
        assert np.max(arr) > 0.9 * bound and np.min(arr) < -0.9 * bound
    assert first["w"].std() == pytest.approx(bound / np.sqrt(3), rel=0.03)  # std of U(−c, c)
    assert np.unique(first["b"]).size == FAN_OUT  # the bias is random too
    assert np.all(np.abs(second["w"]) <= 1 / np.sqrt(FAN_OUT))
    assert np.max(np.abs(second["w"])) > 0.9 / np.sqrt(FAN_OUT)


def test_uniform01_and_zeros(big_inits):
    """Seed 001's W ~ U[0, 1), b = 0; and all-zero params."""
    for layer in big_inits["uniform01"]:
        assert np.all((layer["w"] >= 0) & (layer["w"] < 1))
        np.testing.assert_array_equal(layer["b"], 0.0)
    assert big_inits["uniform01"][0]["w"].mean() == pytest.approx(0.5, abs=0.01)
    for leaf in jax.tree.leaves(big_inits["zeros"]):
        np.testing.assert_array_equal(leaf, 0.0)


# ---------------------------------------------------------------------------------------
# mlp_apply / mlp_forward against numpy
# ---------------------------------------------------------------------------------------


def _np_act(name, z, **kw):
    return {
        "relu": lambda: np.maximum(z, 0),
        "tanh": lambda: np.tanh(z),
        "leaky_relu": lambda: np.where(z > 0, z, kw.get("slope", 0.01) * z),
        "elu": lambda: np.where(z >= 0, z, kw.get("alpha", 1.0) * np.expm1(np.minimum(z, 0))),
        "sigmoid": lambda: 1 / (1 + np.exp(-z)),
    }[name]()


def test_mlp_apply_matches_numpy_recursion():
    """A_0 = X, Z_l = A_{l−1} W_l + b_l, A_l = f_l(Z_l); returns Z_L (no output activation)."""
    rng = np.random.default_rng(0)
    sizes = [5, 6, 6, 6, 4]
    acts = [("leaky_relu", {"slope": 0.2}), ("elu", {"alpha": 0.5}), "tanh"]
    ws = [rng.standard_normal((i, o)) for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.standard_normal(o) for o in sizes[1:]]
    x = rng.standard_normal((8, 5))
    a = x
    expected_z, expected_hidden = [], [x]
    for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
        z = a @ w + b
        expected_z.append(z)
        if layer < 3:
            name, kw = acts[layer] if isinstance(acts[layer], tuple) else (acts[layer], {})
            a = _np_act(name, z, **kw)
            expected_hidden.append(a)
    with jax.enable_x64(True):
        params = [{"w": jnp.asarray(w), "b": jnp.asarray(b)} for w, b in zip(ws, bs, strict=True)]
        logits = sj.mlp_apply(params, jnp.asarray(x), acts)
        zs, hidden = sj.mlp_forward(params, jnp.asarray(x), acts)
    np.testing.assert_allclose(logits, expected_z[-1], rtol=1e-12)
    assert len(zs) == 4 and len(hidden) == 4
    for ours, ref in zip(zs, expected_z, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    for ours, ref in zip(hidden, expected_hidden, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_two_layer_net_without_biases_of_the_homework():
    """S4: h(X) = relu(X W1) W2."""
    rng = np.random.default_rng(1)
    x, w1, w2 = (
        rng.standard_normal((8, 5)),
        rng.standard_normal((5, 6)),
        rng.standard_normal((6, 4)),
    )
    with jax.enable_x64(True):
        params = [{"w": jnp.asarray(w1)}, {"w": jnp.asarray(w2)}]
        h = sj.mlp_apply(params, jnp.asarray(x), "relu")
    np.testing.assert_allclose(h, np.maximum(x @ w1, 0) @ w2, rtol=1e-12)


def test_single_layer_is_affine_and_ignores_a_valid_activation():
    """sizes = [D, K]: softmax/logistic/linear regression logits X W + b."""
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((5, 6)), rng.standard_normal(6)
    params = [{"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}]
    x = rng.standard_normal((8, 5))
    for activations in (None, "relu", ("elu", {"alpha": 0.5})):
        z = sj.mlp_apply(params, jnp.asarray(x, jnp.float32), activations)
        np.testing.assert_allclose(z, x @ w + b, rtol=1e-5, atol=1e-5)


def test_single_layer_logits_scale_with_init_scale():
    """The documented use of init_scale: a single layer's logits scale by exactly it."""
    x = jnp.asarray(np.random.default_rng(3).standard_normal((8, 5)), jnp.float32)
    z1 = sj.mlp_apply(sj.mlp_init(jax.random.key(0), [5, 6]), x)
    z7 = sj.mlp_apply(sj.mlp_init(jax.random.key(0), [5, 6], init_scale=7.0), x)
    np.testing.assert_allclose(z7, 7 * np.asarray(z1), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------
# jit / vmap / grad
# ---------------------------------------------------------------------------------------

ACTS = ("elu", {"alpha": 0.5})
SCALES = np.asarray([0.5, 1.0, 4.0], np.float32)
_init_batch = jit_fast(jax.vmap(lambda k, s: sj.mlp_init(k, SIZES, init_scale=s)))


def _keys():
    return jax.random.split(jax.random.key(0), 3)


def test_mlp_init_under_jit_and_vmap_over_keys_and_scales():
    """jit(vmap(mlp_init)) over keys and init_scale == each unbatched, eager call."""
    keys = _keys()
    batched = _init_batch(keys, SCALES)
    for i in range(3):
        single = sj.mlp_init(keys[i], SIZES, init_scale=float(SCALES[i]))
        for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(b[i], s, rtol=1e-6, atol=1e-7)


def test_mlp_apply_under_jit_vmap_over_params_and_grad():
    """vmap over a stack of params and jit == eager mlp_apply on each; jax.grad of Σ logits
    of a single layer is (Xᵀ 1, N · 1)."""
    stacked = _init_batch(_keys(), SCALES)
    x = jnp.asarray(np.random.default_rng(4).standard_normal((8, 5)), jnp.float32)
    apply = jit_fast(lambda p, x: sj.mlp_apply(p, x, ACTS))
    batched = jit_fast(jax.vmap(lambda p: sj.mlp_apply(p, x, ACTS)))(stacked)
    assert batched.shape == (3, 8, 4)
    for i in range(3):
        params_i = jax.tree.map(lambda leaf, i=i: leaf[i], stacked)
        eager = sj.mlp_apply(params_i, x, ACTS)
        np.testing.assert_allclose(batched[i], eager, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(apply(params_i, x), eager, rtol=1e-5, atol=1e-6)
    single = [{"w": jnp.ones((5, 4), jnp.float32), "b": jnp.zeros(4, jnp.float32)}]
    g = jit_fast(jax.grad(lambda p: jnp.sum(sj.mlp_apply(p, x))))(single)
    np.testing.assert_allclose(g[0]["w"], np.tile(np.asarray(x).sum(0)[:, None], (1, 4)), rtol=1e-5)
    np.testing.assert_allclose(g[0]["b"], np.full(4, 8.0))


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------

PARAMS = [{"w": np.ones((5, 6), np.float32)}, {"w": np.ones((6, 4), np.float32)}]
PARAMS_1 = [{"w": np.ones((5, 4), np.float32), "b": np.zeros(4, np.float32)}]
X = np.zeros((8, 5), np.float32)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((8, 3)), r"x: expected shape \(\.\.\., 5\) .*got shape \(8, 3\)"),
        (np.zeros((2, 8, 4)), r"x: expected shape \(\.\.\., 5\)"),
        (np.float32(1.0), r"x: expected shape \(\.\.\., 5\)"),
    ],
)
def test_mlp_apply_rejects_inputs_of_the_wrong_width(x, match):
    for params in (PARAMS, PARAMS_1):
        with pytest.raises(ValueError, match=match):
            sj.mlp_apply(params, x, "relu")


def test_mlp_apply_acts_on_the_last_axis_of_any_leading_shape():
    """What the error message promises: (..., D) → (..., K), row by row."""
    x = np.random.default_rng(5).standard_normal((2, 3, 5)).astype(np.float32)
    out = sj.mlp_apply(PARAMS_1, x)
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out, x @ PARAMS_1[0]["w"] + PARAMS_1[0]["b"], rtol=1e-6)


@pytest.mark.parametrize(
    ("activations", "match"),
    [
        ("mish", r"activations: unknown activation 'mish'"),
        (["mish"], r"activations\[0\]: unknown activation 'mish'"),
        (("leaky_relu", {"alpha": 1.0}), r"activations: activation 'leaky_relu' takes"),
        (["relu", "tanh"], r"activations: expected one activation or 1"),
        ([], r"activations: expected one activation or 1"),
        (None, r"activations: the model has 1 hidden layer"),
    ],
)
def test_mlp_apply_rejects_bad_activations(activations, match):
    with pytest.raises(ValueError, match=match):
        sj.mlp_apply(PARAMS, X, activations)
    with pytest.raises(ValueError, match=match):
        sj.mlp_forward(PARAMS, X, activations)


@pytest.mark.parametrize("activations", ["mish", ("mish", {}), ["relu"], ("relu", "tanh")], ids=str)
def test_single_layer_model_still_rejects_a_bad_activation(activations):
    """With no hidden layer nothing is applied, but a typo must not pass silently."""
    with pytest.raises(ValueError, match="activations"):
        sj.mlp_apply(PARAMS_1, X, activations)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ([], "params: expected a non-empty list"),
        ({"w": np.zeros((5, 4))}, "params: expected a non-empty list"),
        ([{"b": np.zeros(4)}], r"params\[0\]: expected a dict with key 'w'"),
        ([{"w": np.zeros(5)}], r"params\[0\]\['w'\]: expected shape \(D_in, D_out\)"),
        ([{"w": np.zeros((5, 0))}], r"params\[0\]\['w'\]: .* both ≥ 1, got \(5, 0\)"),
        ([{"w": np.zeros((5, 6))}, {"w": np.zeros((7, 4))}], r"params\[1\]\['w'\]: expected 6"),
        ([{"w": np.zeros((5, 4)), "b": np.zeros(5)}], r"params\[0\]\['b'\]: expected shape"),
    ],
)
def test_mlp_apply_rejects_malformed_params(params, match):
    with pytest.raises(ValueError, match=match):
        sj.mlp_apply(params, X)


@pytest.mark.parametrize(
    "sizes",
    [[5], [], [5, 0], [5, -3, 2], "ab", None, [5, "x"], [2.5, 3], [5, 3.0], [True, 3], 7],
    ids=str,
)
def test_mlp_init_rejects_bad_sizes(sizes):
    """Widths must be positive ints: 2.5 (or even 3.0) is rejected, not truncated."""
    with pytest.raises(ValueError, match="sizes: expected .*positive int"):
        sj.mlp_init(jax.random.key(0), sizes)


def test_check_sizes_accepts_numpy_ints():
    from softjax.models import check_sizes

    assert check_sizes(np.array([5, 3])) == (5, 3)
    assert check_sizes((np.int32(2), 4, np.int64(1))) == (2, 4, 1)


@pytest.mark.parametrize("init", ["xavier", "he", "", "LECUN_NORMAL"])
def test_mlp_init_rejects_unknown_init(init):
    with pytest.raises(ValueError, match="init: unknown scheme"):
        sj.mlp_init(jax.random.key(0), [5, 4], init=init)


# ------------------------------------------------------------------ dense's own VJP


@pytest.mark.parametrize("batch", [(), (5,), (2, 3)], ids=["one-sample", "batch", "2-d-batch"])
def test_dense_and_its_vjp_equal_the_matmul_and_jax_s_vjp_in_float64(batch):
    with jax.enable_x64(True):
        ka, kw, kg = jax.random.split(jax.random.PRNGKey(0), 3)
        a = jax.random.normal(ka, (*batch, 4), jnp.float64)
        w = jax.random.normal(kw, (4, 3), jnp.float64)
        g = jax.random.normal(kg, (*batch, 3), jnp.float64)
        z, vjp = jax.vjp(dense, a, w)
        z_ref, vjp_ref = jax.vjp(jnp.matmul, a, w)
        np.testing.assert_allclose(z, z_ref, rtol=1e-14)
        for got, want in zip(vjp(g), vjp_ref(g), strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_dense_under_vmap_over_stacked_weights_writes_the_wide_gradient():
    """Weights stacked as (D, M, K): the gradient comes out (D, M, K), each model's Aᵀ G."""
    with jax.enable_x64(True):
        a = jax.random.normal(jax.random.PRNGKey(1), (5, 4), jnp.float64)
        w = jax.random.normal(jax.random.PRNGKey(2), (4, 3, 2), jnp.float64)  # M = 3

        def grads(dense_fn):
            def one(w):
                return jax.grad(lambda w: jnp.sum(jnp.tanh(dense_fn(a, w))))(w)

            return jax.vmap(one, in_axes=1, out_axes=1)(w)

        got, want = grads(dense), grads(jnp.matmul)
        assert got.shape == (4, 3, 2)
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_dense_skips_the_input_gradient_when_only_the_weights_are_differentiated():
    """The data X is never differentiated: the backward pass is Xᵀ G alone, no G Wᵀ."""
    x, w = jnp.ones((5, 4)), jnp.ones((4, 3))
    jaxpr = jax.make_jaxpr(jax.grad(lambda w: jnp.sum(dense(x, w) ** 2)))(w)
    dots = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]
    assert len(dots) == 2  # the forward A W and the backward Aᵀ G
    both = jax.make_jaxpr(jax.grad(lambda x, w: jnp.sum(dense(x, w) ** 2), (0, 1)))(x, w)
    assert sum(e.primitive.name == "dot_general" for e in both.jaxpr.eqns) == 3
