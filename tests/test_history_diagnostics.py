"""The history's gradient diagnostics against numpy references on one full batch.

With ``batch_size = N`` and one epoch, every running mean is taken at the initial params,
so each key can be recomputed by hand from ``mlp_forward`` on those params.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from softjax.config import TrainConfig, init_params, seed_keys
from softjax.data.synthetic import make_gaussian_classes
from softjax.diagnostics import SATURATION_THRESHOLD
from softjax.hidden import HIDDEN_SATURATION
from softjax.models import mlp_forward
from softjax.run import train


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


@pytest.mark.parametrize("loss", ["cce", pytest.param("mse", marks=pytest.mark.slow)])
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


@pytest.mark.parametrize(
    "sizes",
    [pytest.param((5, 4, 4, 3), marks=pytest.mark.slow), (5, 3)],
    ids=["two_hidden", "no_hidden"],
)
def test_sweep_records_hold_per_layer_lists_and_summarize_them(data, sizes):
    """A vmapped sweep's (models, epochs, L) history becomes (epochs, L) lists per record,
    equal to ``train()``'s, and the summary's per-layer means are the records' means."""
    from softjax.sweeps import sweep
    from softjax.sweeps.stats import summarize

    base = TrainConfig(sizes=sizes, activations="sigmoid", batch_size=16, epochs=2)
    records = sweep(base, data, losses=["cce"], lrs=[0.1], seeds=[0, 1], progress=False)
    layers = max(len(sizes) - 2, 1)
    for r in records:
        h = json.loads(json.dumps(r["history"]))
        for key in ("hidden_fprime", "hidden_saturated"):
            assert np.array(h[key]).shape == (2, layers)
            assert h[f"{key}_first"] == [row[0] for row in h[key]]
            assert h[f"{key}_last"] == [row[-1] for row in h[key]]
        if len(sizes) == 2:
            np.testing.assert_allclose(h["hidden_fprime"], 1.0, rtol=1e-6)
    (first,) = [r for r in records if r["seed"] == 0]
    own = _run(base.replace(loss="cce", lr=0.1, init_scale=1.0, seed=0), data)[1]
    np.testing.assert_allclose(first["history"]["hidden_fprime"], own["hidden_fprime"], rtol=1e-5)
    (cell,) = summarize(records)["cells"]
    mean = np.mean([r["history"]["hidden_fprime"] for r in records], axis=0)
    np.testing.assert_allclose(cell["mean"]["hidden_fprime"], mean, rtol=1e-6)
    assert np.array(cell["ci95"]["hidden_saturated"]).shape == (2, layers)


def test_the_cosine_survives_a_vanishing_gradient():
    """A saturated MSE gradient (~1e-30) squared underflows in float32; the cosine must
    stay in [−1, 1] (it read 1e16 before rows were rescaled) and be 0 for a zero row."""
    from softjax.diagnostics import _cosine

    a = np.array([[1e-30, -2e-30, 0.0], [0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], np.float32)
    b = np.array([[1.0, -2.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]], np.float32)
    np.testing.assert_allclose(_cosine(a, b), [1.0, 0.0, 0.0], atol=1e-6)


def test_a_binary_models_diagnostics_match_numpy(data):
    """One output (σ, labels 0/1): confidence max(σ, 1 − σ), CE's direction σ − y."""
    x, y = data[0], (data[1] > 0).astype(np.int32)
    config = TrainConfig(
        sizes=(5, 1),
        loss="sigmoid_mse",
        lr=0.1,
        batch_size=len(x),
        epochs=1,
        shuffle=False,
        init_scale=5.0,  # some wrong samples saturated, so that count is not vacuous
    )
    params, history = _run(config, (x, y, x, y))
    z = np.asarray(mlp_forward(params, x)[0][-1], np.float64)[:, 0]
    s = _sigmoid(z)
    g = (s - y) * s * (1 - s)  # ½(σ − y)²'s derivative in z
    ce = s - y
    wrong = (z > 0) != (y > 0)
    assert wrong.any() and not wrong.all()
    np.testing.assert_allclose(history["logits_grad_norm"][0], np.abs(g).mean(), rtol=1e-4)
    np.testing.assert_allclose(history["grad_cos_ce"][0], np.mean(np.sign(g * ce)), rtol=1e-4)
    saturated = wrong & (np.maximum(s, 1 - s) > SATURATION_THRESHOLD)
    assert saturated.any()
    np.testing.assert_allclose(history["saturated_wrong"][0], saturated.mean(), atol=1e-6)
