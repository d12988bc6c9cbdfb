"""Tests for softjax.evaluation: evaluate/predict read the model from its config and
check their arguments."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import softjax
from softjax.config import TrainConfig, init_params
from softjax.data import Dataset, make_gaussian_classes
from softjax.models import mlp_apply
from softjax.run import train

CONFIG = TrainConfig(sizes=(6, 4), batch_size=16, epochs=2)


@pytest.fixture(scope="module")
def small() -> Dataset:
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


def _with(x, rows, value):
    x = np.array(x, np.float32)
    x.flat[rows] = value
    return x


# ----------------------------------------------------------------- evaluate and predict


def test_evaluate_and_predict_read_the_activations_from_the_config(small):
    config = TrainConfig(sizes=(6, 8, 4), activations="tanh", batch_size=16, epochs=2)
    result = train(config, small)
    scores = softjax.evaluate(result.params, config, small.x_test, small.y_test)
    assert scores["loss"] == pytest.approx(float(result.history["test_loss"][-1]), rel=1e-6)
    assert scores["accuracy"] == pytest.approx(float(result.history["test_accuracy"][-1]))
    by_hand = np.argmax(mlp_apply(result.params, small.x_test, "tanh"), axis=-1)
    assert np.array_equal(softjax.predict(result.params, config, small.x_test), by_hand)
    proba = softjax.predict_proba(result.params, config, small.x_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(proba.argmax(axis=1), by_hand)


def test_evaluate_checks_its_arguments(small):
    params = init_params(CONFIG, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"^x: expected shape \(N, 6\)"):
        softjax.evaluate(params, CONFIG, small.x_test[:, :5], small.y_test)
    with pytest.raises(ValueError, match=r"^y: class ids must lie in \[0, 4\)"):
        softjax.evaluate(params, CONFIG, small.x_test, small.y_test + 4)
    with pytest.raises(ValueError, match=r"^x: expected finite values"):
        softjax.predict(params, CONFIG, _with(small.x_test, [0], np.nan))
    with pytest.raises(ValueError, match=r"^params: expected layer widths"):
        softjax.predict(params, CONFIG.replace(sizes=(6, 5)), small.x_test)
