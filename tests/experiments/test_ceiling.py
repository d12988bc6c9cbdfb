"""The square loss's closed forms against numpy's lstsq and eigvalsh, and against training."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from experiments.loss_sweep.ceiling import (
    hessian_lambda_max,
    least_squares_ceiling,
    least_squares_fit,
    square_loss_lr_bound,
)
from softjax.training import TrainConfig, train


def _data(seed=0, n=80, d=6, k=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[:, 0] = 0.0  # a constant pixel: AᵀA is singular, as for MNIST
    y = rng.integers(0, k, n)
    return x, y


def test_the_fit_is_numpys_minimum_norm_least_squares_solution():
    x, y = _data()
    a = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    expected = np.linalg.lstsq(a, np.eye(3)[y], rcond=None)[0]
    np.testing.assert_allclose(least_squares_fit(x, y, 3), expected, atol=1e-10)


def test_the_ceiling_reads_accuracy_off_argmax_of_the_fit():
    x, y = _data()
    xt, yt = _data(seed=1)
    data = SimpleNamespace(x_train=x, y_train=y, x_test=xt, y_test=yt)
    out = least_squares_ceiling(data, 3)
    theta = np.linalg.lstsq(np.c_[x, np.ones(len(x))], np.eye(3)[y], rcond=None)[0]
    assert out["test_accuracy"] == np.mean((np.c_[xt, np.ones(len(xt))] @ theta).argmax(1) == yt)
    assert out["train_accuracy"] == np.mean((np.c_[x, np.ones(len(x))] @ theta).argmax(1) == y)
    assert "val_accuracy" not in out


def test_lambda_max_is_eigvalsh_of_the_augmented_gram_matrix():
    x, _ = _data()
    a = np.c_[x, np.ones(len(x))]
    expected = np.linalg.eigvalsh(a.T @ a / len(x))[-1]
    np.testing.assert_allclose(hessian_lambda_max(x), expected, rtol=1e-12)
    np.testing.assert_allclose(square_loss_lr_bound(x), 2 / expected, rtol=1e-12)


def test_full_batch_descent_on_the_square_loss_diverges_just_above_the_bound_only():
    x, y = _data(n=64)
    x32, bound = x.astype(np.float32), square_loss_lr_bound(x)
    data = (x32, y, x32, y)
    base = TrainConfig(sizes=(6, 3), loss="square", batch_size=64, epochs=300, shuffle=False)
    below = train(base.replace(lr=0.9 * bound), data, params=None)
    assert not below.diverged
    # Below the bound, descent reaches the least-squares optimum's training loss.
    theta = least_squares_fit(x, y, 3)
    resid = np.c_[x, np.ones(len(x))] @ theta - np.eye(3)[y]
    np.testing.assert_allclose(
        below.history["train_loss"][-1], 0.5 * np.mean(np.sum(resid**2, 1)), rtol=1e-3
    )
    above = train(base.replace(lr=1.1 * bound), data)
    assert above.diverged or above.history["train_loss"][-1] > 1e6
