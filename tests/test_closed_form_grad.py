"""Open for extension: with_closed_form_grad (custom_vjp) for every built-in loss and in a
2-layer MLP, users' activations (register_activation), and "check once" (issue #9)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
import softjax.activations
import softjax.grads
import softjax.models
import softjax.targets
from tests.helpers import assert_rel_close, jit_fast

SPECS = {
    "cce": "cce",
    "mse": "mse",
    "bce": "bce",
    "sigmoid_bce": "sigmoid_bce",
    "square": "square",
    "square_rescaled": ("square_rescaled", {"k": 2.0, "M": 3.0}),
    "mae": "mae",
    "sigmoid_mse": "sigmoid_mse",
    "cce_smoothed": ("cce_smoothed", {"smoothing": 0.2}),
    "gce": ("gce", {"q": 0.5}),
    "cce_dir_mse_norm": "cce_dir_mse_norm",
    "mse_dir_cce_norm": "mse_dir_cce_norm",
}
N, D, H, K = 7, 3, 5, 4


def test_specs_cover_every_builtin():
    assert set(SPECS) == {name for name in sj.LOSSES if sj.LOSSES.record(name).builtin}


@jit_fast
def _custom_vs_plain(z, ids, rows, params, x):
    out = {}
    for key, spec in SPECS.items():
        plain = sj.resolve_loss(spec).fn
        custom = sj.with_closed_form_grad(spec)
        for kind, labels in (("ids", ids), ("rows", rows)):
            out[key, kind] = (
                (custom(z, labels), plain(z, labels)),
                (jax.grad(custom)(z, labels), jax.grad(plain)(z, labels)),
                tuple(
                    jax.grad(lambda p, f=f, y=labels: f(sj.mlp_apply(p, x, "tanh"), y))(params)
                    for f in (custom, plain)
                ),
            )
    return out


@pytest.mark.slow  # over 8 s on 2 cores (several compiled trainings)
def test_with_closed_form_grad_equals_autodiff_for_every_loss_and_in_an_mlp():
    """jax.grad through the custom_vjp (logits, and a 2-layer tanh MLP's params) equals
    plain autodiff to 1e-10 in float64; values are equal."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, K, N)
    with jax.enable_x64(True):
        params = sj.mlp_init(jax.random.PRNGKey(0), [D, H, K], dtype=jnp.float64, init_scale=3.0)
        out = _custom_vs_plain(
            jnp.asarray(rng.standard_normal((N, K)) * 5),
            jnp.asarray(ids),
            jnp.asarray(rng.dirichlet(np.ones(K), N)),
            params,
            jnp.asarray(rng.standard_normal((N, D))),
        )
    for (key, kind), ((v_custom, v_plain), logits_grads, params_grads) in out.items():
        what = f"{key} {kind}"
        assert float(v_custom) == float(v_plain), what
        assert_rel_close(*logits_grads, 1e-10, what)
        for a, b in zip(*map(jax.tree.leaves, params_grads), strict=True):
            assert_rel_close(a, b, 1e-10, what + " mlp")


def test_the_backward_pass_is_the_registered_closed_form_and_labels_get_zero():
    """A user loss whose registered 'closed form' is deliberately 3x the true gradient:
    jax.grad through with_closed_form_grad returns 3x (the closed form drives autodiff);
    a float target row gets a zero cotangent."""

    def half_square(logits, labels):
        return jnp.mean(0.5 * jnp.sum((logits - labels) ** 2, -1))

    sj.register_loss(
        "test_tripled_grad", half_square, logits_grad=lambda z, y: 3 * (z - y) / z.shape[0]
    )
    f = sj.with_closed_form_grad("test_tripled_grad")
    z, y = jnp.asarray([[1.0, 2.0]]), jnp.asarray([[0.0, 0.5]])
    assert float(f(z, y)) == float(half_square(z, y))
    np.testing.assert_allclose(jax.grad(f)(z, y), 3 * (z - y))
    np.testing.assert_array_equal(jax.grad(f, argnums=1)(z, y), jnp.zeros_like(y))


def test_with_closed_form_grad_rejects_a_loss_without_one():
    sj.register_loss("test_no_closed_form", lambda logits, labels: jnp.mean(logits))
    with pytest.raises(ValueError, match="loss: 'test_no_closed_form' has no closed-form"):
        sj.with_closed_form_grad("test_no_closed_form")
    with pytest.raises(ValueError, match="loss: unknown loss 'xent'"):
        sj.with_closed_form_grad("xent")


# ---------------------------------------------------------------------------------------
# A user's activation
# ---------------------------------------------------------------------------------------


def _scaled_softsign(z, a=1.0):
    return a * z / (1.0 + jnp.abs(z))


def _scaled_softsign_grad(z, a=1.0):
    return a / (1.0 + jnp.abs(z)) ** 2


@pytest.mark.slow  # over 8 s on 2 cores (several compiled trainings)
def test_a_registered_activation_works_through_mlp_apply_and_backprop():
    sj.register_activation("test_softsign", _scaled_softsign, _scaled_softsign_grad, params=("a",))
    spec = ("test_softsign", {"a": 2.0})
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        params = sj.mlp_init(jax.random.PRNGKey(1), [D, H, K], dtype=jnp.float64)
        x, ids = jnp.asarray(rng.standard_normal((N, D))), jnp.asarray(rng.integers(0, K, N))
        hidden = x @ params[0]["w"] + params[0]["b"]
        expected = _scaled_softsign(hidden, 2.0) @ params[1]["w"] + params[1]["b"]
        assert_rel_close(sj.mlp_apply(params, x, spec), expected, 1e-14)
        closed = sj.backprop(params, x, ids, "cce", spec)
        auto = jax.grad(lambda p: sj.LOSSES["cce"](sj.mlp_apply(p, x, spec), ids))(params)
    for a, b in zip(jax.tree.leaves(closed), jax.tree.leaves(auto), strict=True):
        assert_rel_close(a, b, 1e-10, "backprop through a user activation")
    with pytest.raises(ValueError, match=r"activation 'test_softsign' takes parameters \['a'\]"):
        sj.mlp_apply(params, x, ("test_softsign", {"b": 1.0}))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("relu", _scaled_softsign, _scaled_softsign_grad), "name: 'relu' is a built-in"),
        (("", _scaled_softsign, _scaled_softsign_grad), "name: expected a non-empty string"),
        (("x", 3, _scaled_softsign_grad), "fn: expected a callable"),
        (("x", _scaled_softsign, None), "grad: expected a callable"),
        (("x", _scaled_softsign, _scaled_softsign_grad, "a"), "params: expected a sequence"),
    ],
)
def test_register_activation_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        sj.register_activation(*args)


# ---------------------------------------------------------------------------------------
# Check once (issue #9)
# ---------------------------------------------------------------------------------------


def test_backprop_validates_each_argument_once(monkeypatch):
    """One backprop call: check_params, resolve_activations and check_labels run once
    each (they ran 2, 3 and 2 times); the kernels after them check nothing."""
    calls = {"check_params": 0, "resolve_activations": 0, "check_labels": 0}
    modules = (softjax.grads, softjax.models, softjax.targets, softjax.losses, softjax.activations)
    for name in calls:
        original = getattr(
            {
                "check_params": softjax.models,
                "resolve_activations": softjax.activations,
                "check_labels": softjax.targets,
            }[name],
            name,
        )

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        for module in modules:
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, counted)
    params = sj.mlp_init(jax.random.PRNGKey(0), [D, H, H, K])
    sj.backprop(params, jnp.ones((N, D)), jnp.zeros(N, jnp.int32), "cce", "tanh")
    assert calls == {"check_params": 1, "resolve_activations": 1, "check_labels": 1}


def test_kernels_equal_the_public_functions_and_check_nothing(monkeypatch):
    """BoundLoss.kernel and grads.kernel_logits_grad on to_targets' rows equal fn and
    logits_grad, and run no label check (what a traced training step calls)."""
    from softjax.grads import kernel_logits_grad
    from softjax.targets import to_targets

    z = jnp.asarray(np.random.default_rng(2).standard_normal((N, K)), jnp.float32)
    ids = jnp.arange(N) % K
    expected = {
        k: (sj.resolve_loss(s).fn(z, ids), sj.resolve_loss(s).logits_grad(z, ids))
        for k, s in SPECS.items()
    }

    def forbidden(*args, **kwargs):
        raise AssertionError("a kernel validated its labels")

    for module in (softjax.targets, softjax.grads, softjax.losses):
        monkeypatch.setattr(module, "check_labels", forbidden)
    y = to_targets(z, ids)
    for key, spec in SPECS.items():
        bound = sj.resolve_loss(spec)
        np.testing.assert_allclose(bound.kernel(z, y), expected[key][0], rtol=1e-6)
        np.testing.assert_allclose(kernel_logits_grad(bound, z, y), expected[key][1], rtol=1e-6)
