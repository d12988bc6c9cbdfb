"""Tests for softjax.hidden: the hidden layers' f′ and saturated units in the history,
one entry per hidden layer, against numpy on one full batch (as in
``test_history_diagnostics.py``: every running mean is then taken at the initial params).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from softjax.config import TrainConfig, init_params, seed_keys
from softjax.data.synthetic import make_gaussian_classes
from softjax.hidden import HIDDEN_SATURATION
from softjax.models import mlp_forward
from softjax.run import train


@pytest.fixture(scope="module")
def data():
    d = make_gaussian_classes(jax.random.PRNGKey(1), n=64, dim=5, num_classes=3, sep=1.0)
    x = np.asarray(d.x_train, np.float32)
    return (x, np.asarray(d.y_train), x, np.asarray(d.y_train))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _run(config, data):
    params = init_params(config, seed_keys(config.seed)[0], dtype=np.float32)
    return params, train(config, data, params=params).history


def test_a_model_without_hidden_layers_reports_the_identity(data):
    config = TrainConfig(sizes=(5, 3), lr=0.1, batch_size=16, epochs=2)
    _, history = _run(config, data)
    assert history["hidden_fprime"].shape == history["hidden_saturated"].shape == (2, 1)
    np.testing.assert_allclose(history["hidden_fprime"], 1.0, rtol=1e-6)
    assert np.all(history["hidden_saturated"] == 0)
    for key in ("hidden_fprime_first", "hidden_fprime_last"):
        np.testing.assert_allclose(history[key], 1.0, rtol=1e-6)
    assert np.all(history["hidden_saturated_first"] == 0)


def test_every_hidden_layer_of_a_three_layer_net_matches_numpy(data):
    """One entry per hidden layer (index 0 nearest the input), each layer with its own
    activation and its own max f′; the first/last keys are the vector's ends."""
    x = data[0]
    acts = ("sigmoid", "tanh", "relu")
    config = TrainConfig(
        sizes=(5, 7, 6, 4, 3),
        activations=acts,
        lr=0.1,
        batch_size=len(x),
        epochs=2,
        shuffle=False,
        init_scale=4.0,
    )
    params, history = _run(config, data)
    assert history["hidden_fprime"].shape == history["hidden_saturated"].shape == (2, 3)
    zs, _ = mlp_forward(params, x, acts)
    z = [np.asarray(zs[i], np.float64) for i in range(3)]
    s = _sigmoid(z[0])
    fprimes = [s * (1 - s), 1 - np.tanh(z[1]) ** 2, (z[2] > 0).astype(float)]
    peaks = (0.25, 1.0, 1.0)
    want_f = [f.mean() for f in fprimes]
    want_sat = [np.mean(f < HIDDEN_SATURATION * m) for f, m in zip(fprimes, peaks, strict=True)]
    np.testing.assert_allclose(history["hidden_fprime"][0], want_f, rtol=1e-4)
    np.testing.assert_allclose(history["hidden_saturated"][0], want_sat, atol=1e-6)
    # The three layers differ, so a vector filled from one layer would fail.
    assert len({round(v, 3) for v in want_f}) == 3
    assert want_sat[0] > 0 or want_sat[1] > 0
    for key in ("hidden_fprime", "hidden_saturated"):
        np.testing.assert_array_equal(history[f"{key}_first"], history[key][:, 0])
        np.testing.assert_array_equal(history[f"{key}_last"], history[key][:, -1])


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
