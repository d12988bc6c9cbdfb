"""softjax.activations: the eight activations of seed 003 and their closed-form derivatives.

* each ``fn`` equals its jax.nn counterpart in float32 (1e-6);
* each ``grad`` equals autodiff of ``fn`` in float64 (norm-wise 1e-10), element-wise
  ones through ``jax.vmap(jax.grad)``, softmax through ``jax.jacobian``;
* ``backward`` equals ``jax.vjp``;
* activation specs are validated with errors that name the argument.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

import softjax as sj
from softjax.activations import UnknownNameError, resolve_activation, resolve_activations
from tests.helpers import jit_fast

# XLA CPU settings that cut compile time several-fold (no LLVM optimization, the older
# loop emitters); the arithmetic is the same IEEE floating point.

# (name, kwargs): every element-wise activation, the two parametrized ones also with
# non-default parameters.
ELEMENTWISE_CASES = [
    (name, kw)
    for name, act in sj.ACTIVATIONS.items()
    if act.elementwise
    for kw in ({"leaky_relu": [{}, {"slope": 0.2}], "elu": [{}, {"alpha": 0.5}]}.get(name, [{}]))
]
CASE_IDS = [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw in ELEMENTWISE_CASES]


def test_the_eight_activations_of_seed_003_and_gelu():
    assert set(tuple(sj.ACTIVATIONS)[:9]) == {
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "softmax",
        "linear",
        "swish",
        "elu",
        "gelu",
    }
    assert [n for n, a in sj.ACTIVATIONS.items() if not a.elementwise] == ["softmax"]


def test_unknown_activation_lookup_is_a_key_and_value_error():
    """ACTIVATIONS[bad]: a KeyError (a Mapping's contract) AND a ValueError (softjax's),
    whose str() is the plain message naming the argument and listing the valid names;
    the registry is read-only."""
    expected = (
        "activation: unknown activation 'mish'; expected one of "
        "['sigmoid', 'tanh', 'relu', 'leaky_relu', 'linear', 'swish', 'elu', 'gelu', 'softmax'"
    )
    for error in (KeyError, ValueError, UnknownNameError):
        with pytest.raises(error) as info:
            sj.ACTIVATIONS["mish"]
        # startswith: activations registered by other tests follow the built-ins
        assert str(info.value).startswith(expected)
    assert "mish" not in sj.ACTIVATIONS and sj.ACTIVATIONS.get("mish") is None
    with pytest.raises(TypeError):
        sj.ACTIVATIONS["mish"] = sj.ACTIVATIONS["relu"]


@pytest.mark.parametrize("name", list(sj.ACTIVATIONS))
def test_each_activation_and_derivative_documents_its_formula_and_source(name):
    """House rule: each formula's docstring states the math and cites its seed (GELU:
    its paper)."""
    source = {"gelu": "Hendrycks & Gimpel 2016"}.get(name, "seed 003")
    act = sj.ACTIVATIONS[name]
    parts = {"fn": act.fn} if name == "softmax" else {"fn": act.fn, "grad": act.grad}
    for part, fn in parts.items():
        doc = fn.__doc__ or ""
        assert source in doc, (name, part, doc)


def _jax_nn_reference(name, kw):
    slope, alpha = kw.get("slope", 0.01), kw.get("alpha", 1.0)
    return {
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "leaky_relu": lambda z: jax.nn.leaky_relu(z, negative_slope=slope),
        "linear": lambda z: z,
        "swish": jax.nn.swish,
        "elu": lambda z: jax.nn.elu(z, alpha=alpha),
        "gelu": lambda z: jax.nn.gelu(z, approximate=False),
    }[name]


# Grid with no exact 0 (even number of points), plus huge values for finiteness.
X32 = np.concatenate([np.linspace(-30.0, 30.0, 600), [-1e30, -1e4, 1e4, 1e30]])


@pytest.mark.parametrize(("name", "kw"), ELEMENTWISE_CASES, ids=CASE_IDS)
def test_elementwise_fn_matches_jax_nn_float32(name, kw):
    x = jnp.asarray(X32, jnp.float32)
    ours = sj.ACTIVATIONS[name].fn(x, **kw)
    assert ours.dtype == jnp.float32 and ours.shape == x.shape
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, _jax_nn_reference(name, kw)(x), rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(sj.ACTIVATIONS[name].grad(x, **kw)))


def test_swish_is_jax_nn_silu_and_the_defaults_are_the_documented_ones():
    x = jnp.asarray(X32[:600], jnp.float32)
    acts = sj.ACTIVATIONS
    np.testing.assert_allclose(acts["swish"].fn(x), jax.nn.silu(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(acts["leaky_relu"].fn(x), acts["leaky_relu"].fn(x, slope=0.01))
    np.testing.assert_array_equal(acts["elu"].fn(x), acts["elu"].fn(x, alpha=1.0))


def test_softmax_activation_matches_jax_nn_float32():
    z = jnp.asarray(np.random.default_rng(0).standard_normal((4, 6)) * 10, jnp.float32)
    np.testing.assert_allclose(
        sj.ACTIVATIONS["softmax"].fn(z), jax.nn.softmax(z, axis=-1), rtol=1e-6, atol=1e-6
    )


# Float64 grid: the kinks (relu, leaky_relu, elu with α ≠ 1 at 0) stay ≥ 1e-3 away.
X64 = np.concatenate([np.linspace(-50.0, 50.0, 1000), np.linspace(-3, 3, 300)])
assert np.min(np.abs(X64)) > 1e-3


@pytest.mark.parametrize(("name", "kw"), ELEMENTWISE_CASES, ids=CASE_IDS)
def test_elementwise_grad_matches_autodiff_float64(name, kw):
    """f′ from seed 003 vs jax.vmap(jax.grad(f)), and backward vs jax.vjp.

    Norm-wise relative error ≤ 1e-10 over [−50, 50], and entry by entry on |z| ≤ 3
    where no entry is saturated.
    """
    act = sj.ACTIVATIONS[name]

    @jit_fast
    def closed_and_auto(x, upstream):
        _, pullback = jax.vjp(lambda x: act.fn(x, **kw), x)
        return (
            act.grad(x, **kw),
            jax.vmap(jax.grad(lambda x: act.fn(x, **kw)))(x),
            act.backward(x, upstream, **kw),
            pullback(upstream)[0],
        )

    with jax.enable_x64(True):
        upstream = np.random.default_rng(1).standard_normal(X64.shape)
        grad, auto, backward, auto_vjp = closed_and_auto(jnp.asarray(X64), jnp.asarray(upstream))
    assert grad.dtype == jnp.float64
    for ours, ref in ((grad, auto), (backward, auto_vjp)):
        ours, ref = np.asarray(ours), np.asarray(ref)
        assert np.all(np.isfinite(ours))
        assert np.linalg.norm(ours - ref) <= 1e-10 * np.linalg.norm(ref)
        moderate = np.abs(X64) <= 3
        np.testing.assert_allclose(ours[moderate], ref[moderate], rtol=1e-10, atol=1e-300)


def test_sigmoid_and_swish_grads_stay_accurate_when_saturated():
    """σ′ = σ(1 − σ) of seed 003 equals autodiff entry by entry for |z| up to 50 in float64,
    not just norm-wise: the saturated derivatives (≈ e^−|z|) are what the notes' vanishing
    gradient argument is about, so they must not be rounding noise."""
    x = np.concatenate([np.linspace(-50.0, -5.0, 200), np.linspace(5.0, 50.0, 200)])

    @jit_fast
    def grads(x):
        return {
            name: (sj.ACTIVATIONS[name].grad(x), jax.vmap(jax.grad(sj.ACTIVATIONS[name].fn))(x))
            for name in ("sigmoid", "swish")
        }

    with jax.enable_x64(True):
        out = grads(jnp.asarray(x))
    exact_sigmoid_grad = np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
    np.testing.assert_allclose(out["sigmoid"][0], exact_sigmoid_grad, rtol=1e-12)
    for name, (ours, auto) in out.items():
        np.testing.assert_allclose(ours, auto, rtol=1e-10, atol=1e-300, err_msg=name)


def test_softmax_activation_grad_is_the_jacobian():
    """ACTIVATIONS['softmax'].grad == jax.jacobian per row; backward == jax.vjp."""
    act = sj.ACTIVATIONS["softmax"]
    rng = np.random.default_rng(2)
    z = rng.standard_normal((5, 6)) * 8
    z[0, 0] = 45.0
    v = rng.standard_normal((5, 6))

    @jit_fast
    def closed_and_auto(z, v):
        _, pullback = jax.vjp(act.fn, z)
        return act.grad(z), jax.vmap(jax.jacobian(act.fn))(z), act.backward(z, v), pullback(v)[0]

    with jax.enable_x64(True):
        jac, auto_jac, backward, auto_vjp = closed_and_auto(jnp.asarray(z), jnp.asarray(v))
    assert jac.shape == (5, 6, 6)
    for ours, ref in ((jac, auto_jac), (backward, auto_vjp)):
        assert np.linalg.norm(ours - ref) <= 1e-10 * np.linalg.norm(ref)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_activations_keep_dtype_and_are_exact_on_huge_inputs(dtype):
    """f and f′ at ±1e30, ±100, ±1 keep the dtype and equal an independent float64 numpy
    evaluation at the same (dtype-rounded) inputs: the saturated limits exactly
    (σ(±1e30) = 0/1, σ′ = 0, swish(1e30) = 1e30, swish′ = 0/1, elu → −α, ...), no nan."""
    x = jnp.asarray([-1e30, -100.0, -1.0, 1.0, 100.0, 1e30], dtype)
    outputs = jit_fast(lambda x: {n: (a.fn(x), a.grad(x)) for n, a in sj.ACTIVATIONS.items()})(x)
    x64 = np.asarray(x, np.float64)
    e = np.exp(-np.abs(x64))
    sig = np.where(x64 >= 0, 1.0, e) / (1.0 + e)
    sig_neg = np.where(x64 >= 0, e, 1.0) / (1.0 + e)  # σ(−x), exact in both tails
    soft = np.exp(x64 - x64.max())
    soft /= soft.sum()
    expected = {
        "sigmoid": (sig, sig * sig_neg),
        "tanh": (np.tanh(x64), 1 - np.tanh(x64) ** 2),
        "relu": (np.maximum(x64, 0), (x64 > 0) * 1.0),
        "leaky_relu": (np.where(x64 > 0, x64, 0.01 * x64), np.where(x64 > 0, 1.0, 0.01)),
        "linear": (x64, np.ones_like(x64)),
        "swish": (x64 * sig, sig + x64 * sig * sig_neg),
        "elu": (np.where(x64 >= 0, x64, np.expm1(np.minimum(x64, 0))), np.where(x64 >= 0, 1.0, e)),
        "softmax": (soft, np.diag(soft) - np.outer(soft, soft)),
        "gelu": (
            x64 * 0.5 * scipy.special.erfc(-x64 / np.sqrt(2)),
            0.5 * scipy.special.erfc(-x64 / np.sqrt(2))
            + x64 * np.exp(-0.5 * np.minimum(x64**2, 1e300)) / np.sqrt(2 * np.pi),
        ),
    }
    tol = {"rtol": 1e-6, "atol": 1e-30} if dtype == jnp.float32 else {"rtol": 1e-2, "atol": 1e-30}
    for name, (value, grad) in outputs.items():
        if name not in expected:  # activations registered by other tests
            continue
        for what, out, ref in (("f", value, expected[name][0]), ("f′", grad, expected[name][1])):
            assert out.dtype == dtype, name
            out = np.asarray(out, np.float64)
            assert np.all(np.isfinite(out)), (name, what)
            np.testing.assert_allclose(out, ref, **tol, err_msg=f"{name} {what}")


# ---------------------------------------------------------------------------------------
# Specs and their validation
# ---------------------------------------------------------------------------------------


def test_resolve_activation_binds_parameters():
    bound = resolve_activation(("leaky_relu", {"slope": 0.2}))
    x = jnp.asarray([-2.0, 3.0], jnp.float32)
    np.testing.assert_allclose(bound.fn(x), [-0.4, 3.0], rtol=1e-6)
    np.testing.assert_allclose(bound.grad(x), [0.2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(bound.backward(x, jnp.asarray([10.0, 10.0])), [2.0, 10.0])
    assert resolve_activation(bound) is bound
    assert resolve_activation(["elu", {"alpha": 0.5}]).kwargs == (("alpha", 0.5),)


def test_resolve_activations_repeats_a_single_spec_and_checks_a_list():
    pair = ("elu", {"alpha": 0.5})
    assert [b.name for b in resolve_activations("tanh", 3)] == ["tanh"] * 3
    assert resolve_activations(pair, 2) == (resolve_activation(pair),) * 2
    assert [b.name for b in resolve_activations(["relu", pair], 2)] == ["relu", "elu"]
    assert resolve_activations(None, 0) == ()


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("mish", "activation: unknown activation 'mish'"),
        (("relu", {"slope": 0.1}), "activation: activation 'relu' takes parameters"),
        (("elu", {"slope": 0.1}), "activation: .*'elu'.*slope"),
        (3, "activation: expected an activation name"),
        (("relu",), "activation: expected an activation name"),
    ],
)
def test_bad_activation_specs_raise_naming_the_argument(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve_activation(spec)


@pytest.mark.parametrize(
    ("activations", "num_hidden", "match"),
    [
        (["relu", "tanh"], 3, r"activations: expected one activation or 3"),
        (["relu"] * 3, 2, r"activations: expected one activation or 2"),
        (None, 2, r"activations: the model has 2 hidden layer"),
        (["relu", "nope"], 2, r"activations\[1\]: unknown activation 'nope'"),
        ([("elu", {"alpha": 0.5}), ("relu", {"x": 1})], 2, r"activations\[1\]"),
        ("nope", 2, r"activations: unknown activation 'nope'"),
        (["relu"], 0, r"activations: a single-layer model has no hidden layer"),
    ],
)
def test_bad_activation_lists_raise_naming_the_argument(activations, num_hidden, match):
    with pytest.raises(ValueError, match=match):
        resolve_activations(activations, num_hidden)
