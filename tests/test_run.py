"""Tests for softjax.run: ``train``, the validated user call: its boundary (every check
before compiling, the loss resolved once), divergence and the progress bar."""

from __future__ import annotations

import sys

import jax
import numpy as np
import pytest

import softjax.losses as losses_module
import softjax.run
import softjax.training as train_module
from softjax.config import TrainConfig
from softjax.data import Dataset, make_gaussian_classes
from softjax.run import train


@pytest.fixture(scope="module")
def small() -> Dataset:
    """4 Gaussian classes in 6-D: 80 train rows (batch 24 leaves a partial batch of 8)."""
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


def _leaves(params):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(params)]


@pytest.fixture
def resolve_calls(monkeypatch):
    """Every call of ``resolve_loss`` from any softjax module, by its first argument."""
    real, calls = losses_module.resolve_loss, []

    def counting(*args, **kwargs):
        calls.append(args[0] if args else kwargs)
        return real(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "softjax" and getattr(module, "resolve_loss", None) is real:
            monkeypatch.setattr(module, "resolve_loss", counting)
    return calls


@pytest.fixture(scope="module")
def blobs():
    return make_gaussian_classes(jax.random.PRNGKey(0), n=48, dim=4, num_classes=3)


def test_train_resolves_its_loss_once(blobs, resolve_calls):
    """One train() call resolves the config's loss once, at the boundary; the check,
    the program and the progress bar share that one BoundLoss."""
    config = TrainConfig(
        sizes=(4, 3), loss=("cce_smoothed", {"smoothing": 0.2}), batch_size=16, epochs=1
    )
    result = train(config, blobs, progress=True)
    assert len(result.history["train_loss"]) == 1
    assert resolve_calls == [config.loss]


# --------------------------------------------------------------------------- divergence


@pytest.mark.parametrize(
    ("lr", "expected_epoch"),
    [
        pytest.param(1e4, 1, id="lr-1e4-dies-in-epoch-1"),
        pytest.param(2.0, 4, id="lr-2-dies-in-epoch-4"),
    ],
)
def test_a_huge_learning_rate_stops_training_with_a_warning(small, lr, expected_epoch):
    # CCE softmax regression survives any lr (the logits grow, the loss stays finite);
    # the square loss on raw logits blows up geometrically once lr is past stability.
    config = TrainConfig(sizes=(6, 4), loss="square", lr=lr, batch_size=16, epochs=6)
    with pytest.warns(RuntimeWarning, match=f"diverged in epoch {expected_epoch} of 6") as rec:
        result = train(config, small)
    assert f"lr={lr:g}" in str(rec[0].message)
    assert "last finite params" in str(rec[0].message)
    assert result.diverged is True
    assert result.diverged_epoch == expected_epoch
    for leaf in _leaves(result.params):
        assert np.all(np.isfinite(leaf))
    for values in result.history.values():
        assert values.shape[0] == expected_epoch - 1  # (epochs,) or (epochs, L)
        assert np.all(np.isfinite(values))
    if expected_epoch > 1:
        # The completed epochs show the blow-up that led there.
        assert np.all(np.diff(result.history["train_loss"]) > 0)


# ------------------------------------------------------------------------- progress bar


def test_progress_bar_reaches_the_epoch_count(small, monkeypatch, capsys):
    calls = []
    original = softjax.run._ProgressBar.__call__

    def counting(self, epoch, metrics):
        calls.append(int(epoch))
        return original(self, epoch, metrics)

    monkeypatch.setattr(softjax.run._ProgressBar, "__call__", counting)
    result = train(TrainConfig(sizes=(6, 4), epochs=4, batch_size=16), small, progress=True)
    assert calls == [0, 1, 2, 3]
    assert "4/4" in capsys.readouterr().err
    assert result.history["train_loss"].shape == (4,)


# ---------------------------------------------------------------------------- bad input


def _no_compiling(*args, **kwargs):
    raise AssertionError("compiled before validating")


BAD_CONFIGS = [
    pytest.param(dict(lr=0.0), "config.lr", id="lr-zero"),
    pytest.param(dict(lr=-1.0), "config.lr", id="lr-negative"),
    pytest.param(dict(lr=float("nan")), "config.lr", id="lr-nan"),
    pytest.param(dict(lr=float("inf")), "config.lr", id="lr-inf"),
    pytest.param(dict(batch_size=0), "config.batch_size", id="batch-zero"),
    pytest.param(dict(batch_size=81), "config.batch_size", id="batch-larger-than-data"),
    pytest.param(dict(epochs=0), "config.epochs", id="epochs-zero"),
    pytest.param(dict(optimizer="sgdd"), "config.optimizer", id="unknown-optimizer"),
    pytest.param(
        dict(optimizer_kwargs={"momentun": 0.9}), "config.optimizer_kwargs", id="optimizer-kw"
    ),
    pytest.param(dict(loss="xent"), "config.loss", id="unknown-loss"),
    pytest.param(dict(sizes=(6, 5, 4), activations="relux"), "activations", id="activation"),
    pytest.param(dict(sizes=(5, 4)), "data.x_train", id="D-mismatch"),
    pytest.param(dict(sizes=(6, 3)), "data.y_train", id="ids-not-below-K"),
    pytest.param(dict(sizes=(6, 1)), "data.y_train", id="K1-with-cce"),
    pytest.param(dict(grad="numeric"), "config.grad", id="unknown-grad"),
    pytest.param(dict(last_batch="pad"), "config.last_batch", id="unknown-last-batch"),
    pytest.param(dict(lr=True), "config.lr", id="lr-bool"),
    pytest.param(dict(batch_size=True), "config.batch_size", id="batch-bool"),
    pytest.param(dict(epochs=2.0), "config.epochs", id="epochs-float"),
    pytest.param(dict(seed=1.5), "config.seed", id="seed-float"),
    pytest.param(dict(shuffle="no"), "config.shuffle", id="shuffle-str"),
    pytest.param(dict(bias=1), "config.bias", id="bias-int"),
    pytest.param(dict(activations="relux"), "activations", id="activation-single-layer"),
    pytest.param(dict(optimizer="scale_by_rprop"), "config.optimizer", id="scale-by-not-optimizer"),
    pytest.param(dict(optimizer="lbfgs"), "config.optimizer", id="optimizer-needs-value-fn"),
    pytest.param(
        dict(optimizer="ScaleByZoomLinesearchState"), "config.optimizer", id="optax-class"
    ),
    pytest.param(
        dict(optimizer="noisy_sgd", optimizer_kwargs={"eta": 0.1, "gamma": 0.5, "seed": 0, "x": 1}),
        "config.optimizer_kwargs",
        id="optimizer-kw-extra",
    ),
]


@pytest.fixture
def forbid_compiling(monkeypatch):
    monkeypatch.setattr(jax, "jit", _no_compiling)
    monkeypatch.setattr(train_module, "make_train", _no_compiling)
    monkeypatch.setattr(softjax.run, "make_epochs", _no_compiling)


@pytest.mark.parametrize(("change", "field"), BAD_CONFIGS)
def test_bad_configs_raise_a_value_error_naming_the_field_before_compiling(
    small, forbid_compiling, change, field
):
    with pytest.raises(ValueError, match=f"^{field}"):  # names: when the config is made
        train(TrainConfig(sizes=(6, 4), batch_size=16).replace(**change), small)


def test_bad_labels_and_params_raise_before_compiling(small, forbid_compiling):
    config = TrainConfig(sizes=(6, 4), batch_size=16)
    float_ids = small._replace(y_train=small.y_train.astype(np.float32))
    with pytest.raises(ValueError, match="^data.y_train.*integers"):
        train(config, float_ids)
    out_of_range = small._replace(y_test=small.y_test + 4)
    with pytest.raises(ValueError, match=r"^data.y_test.*\[0, 4\)"):
        train(config, out_of_range)
    wrong_shape = [{"w": np.zeros((6, 5), np.float32), "b": np.zeros(5, np.float32)}]
    with pytest.raises(ValueError, match=r"^params: expected layer widths \[6, 4\]"):
        train(config, small, params=wrong_shape)
    no_bias = [{"w": np.zeros((6, 4), np.float32)}]
    with pytest.raises(ValueError, match="^params: config.bias"):
        train(config, small, params=no_bias)


def test_numpy_scalars_and_optimizers_with_python_int_arguments_train(small):
    """adafactor branches on an int in Python: only the lr may be traced (injected)."""
    config = TrainConfig(
        sizes=(6, 4),
        batch_size=np.int64(16),
        lr=np.float32(0.05),
        epochs=np.int32(2),
        optimizer="adafactor",
        optimizer_kwargs={"min_dim_size_to_factor": 2},
    )
    result = train(config, small)
    assert not result.diverged
    assert result.history["train_loss"].shape == (2,)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]


def test_the_compile_guard_would_catch_a_late_error(small, forbid_compiling):
    """Without the guard a valid config compiles; with it, that is an AssertionError."""
    with pytest.raises(AssertionError, match="compiled before validating"):
        train(TrainConfig(sizes=(6, 4), batch_size=16), small)
