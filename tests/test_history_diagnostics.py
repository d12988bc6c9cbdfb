"""The history's gradient diagnostics against numpy references on one full batch.

With ``batch_size = N`` and one epoch, every running mean is taken at the initial params,
so each key can be recomputed by hand from ``mlp_forward`` on those params.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from softjax.data.synthetic import make_gaussian_classes
from softjax.models import mlp_forward
from softjax.training import HIDDEN_SATURATION, TrainConfig, init_params, seed_keys, train


@pytest.fixture(scope="module")
def data():
    d = make_gaussian_classes(jax.random.PRNGKey(1), n=64, dim=5, num_classes=3, sep=1.0)
    x = np.asarray(d.x_train, np.float32)
    return (x, np.asarray(d.y_train), x, np.asarray(d.y_train))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _run(config, data):
    params = init_params(config, seed_keys(config.seed)[0], dtype=np.float32)
    return params, train(config, data, params=params).history


@pytest.mark.parametrize("loss", ["cce", "mse"])
def test_wrong_sample_norm_cosine_and_hidden_saturation_match_numpy(data, loss):
    x, y = data[0], data[1]
    config = TrainConfig(
        sizes=(5, 7, 6, 3),
        activations="sigmoid",
        loss=loss,
        lr=0.1,
        batch_size=len(x),
        epochs=1,
        shuffle=False,
        init_scale=4.0,
    )
    params, history = _run(config, data)
    zs, _ = mlp_forward(params, x, "sigmoid")
    z = np.asarray(zs[-1], np.float64)
    p, t = _softmax(z), np.eye(3)[y]
    if loss == "cce":
        g = p - t
    else:  # mse on the softmax: ½ Σ_k (p − t)², through the softmax Jacobian
        v = p - t
        g = p * (v - np.sum(v * p, axis=1, keepdims=True))
    norms = np.linalg.norm(g, axis=1)
    wrong = z.argmax(1) != y
    assert wrong.any() and not wrong.all()
    np.testing.assert_allclose(history["logits_grad_norm"][0], norms.mean(), rtol=1e-4)
    np.testing.assert_allclose(history["logits_grad_norm_wrong"][0], norms[wrong].mean(), rtol=1e-4)
    ce = p - t
    cos = np.sum(g * ce, 1) / (np.linalg.norm(g, axis=1) * np.linalg.norm(ce, axis=1))
    np.testing.assert_allclose(history["grad_cos_ce"][0], cos.mean(), rtol=1e-4)
    if loss == "cce":
        np.testing.assert_allclose(history["grad_cos_ce"][0], 1.0, rtol=1e-6)
    for where, layer in (("first", 0), ("last", 1)):
        s = _sigmoid(np.asarray(zs[layer]))
        fprime = s * (1 - s)
        np.testing.assert_allclose(history[f"hidden_fprime_{where}"][0], fprime.mean(), rtol=1e-4)
        saturated = np.mean(fprime < HIDDEN_SATURATION * 0.25)
        np.testing.assert_allclose(history[f"hidden_saturated_{where}"][0], saturated, atol=1e-6)
    # A large init saturates some of the first layer's sigmoids, so the test is not vacuous.
    assert history["hidden_saturated_first"][0] > 0


def test_a_model_without_hidden_layers_reports_the_identity(data):
    config = TrainConfig(sizes=(5, 3), lr=0.1, batch_size=16, epochs=2)
    _, history = _run(config, data)
    for key in ("hidden_fprime_first", "hidden_fprime_last"):
        np.testing.assert_allclose(history[key], 1.0, rtol=1e-6)
    assert np.all(history["hidden_saturated_first"] == 0)


def test_relu_dead_units_count_as_saturated(data):
    config = TrainConfig(
        sizes=(5, 8, 3),
        activations="relu",
        lr=0.1,
        batch_size=len(data[0]),
        epochs=1,
        shuffle=False,
    )
    params, history = _run(config, data)
    zs, _ = mlp_forward(params, data[0], "relu")
    dead = np.mean(np.asarray(zs[0]) <= 0)
    np.testing.assert_allclose(history["hidden_saturated_first"][0], dead, atol=1e-6)
    np.testing.assert_allclose(history["hidden_fprime_first"][0], 1 - dead, atol=1e-6)


def test_the_cosine_survives_a_vanishing_gradient():
    """A saturated MSE gradient (~1e-30) squared underflows in float32; the cosine must
    stay in [−1, 1] (it read 1e16 before rows were rescaled) and be 0 for a zero row."""
    from softjax.training import _cosine

    a = np.array([[1e-30, -2e-30, 0.0], [0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], np.float32)
    b = np.array([[1.0, -2.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]], np.float32)
    np.testing.assert_allclose(_cosine(a, b), [1.0, 0.0, 0.0], atol=1e-6)
