"""Bad data, params and seeds are refused before compiling, naming the argument (#13);
the validation split's history keys."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax
from softjax.config import TrainConfig, init_params
from softjax.data import Dataset, make_gaussian_classes
from softjax.history import HISTORY_KEYS, VALIDATION_KEYS
from softjax.inputs import validate
from softjax.run import train

CONFIG = TrainConfig(sizes=(6, 4), batch_size=16, epochs=2)


@pytest.fixture(scope="module")
def small() -> Dataset:
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


@pytest.fixture
def no_compiling(monkeypatch):
    monkeypatch.setattr(jax, "jit", lambda *a, **k: pytest.fail("compiled before validating"))


def _with(x, rows, value):
    x = np.array(x, np.float32)
    x.flat[rows] = value
    return x


def _onehot(y, k=4):
    return np.eye(k, dtype=np.float32)[np.asarray(y)]


BAD_DATA = [
    ("x_train", lambda d: _with(d.x_train, [0, 5, 9], np.nan), "3 NaN and 0 inf"),
    ("x_train", lambda d: _with(d.x_train, [1], np.inf), "0 NaN and 1 inf"),
    ("x_test", lambda d: _with(d.x_test, [2, 3], -np.inf), "0 NaN and 2 inf"),
]


@pytest.mark.parametrize(("split", "make", "counted"), BAD_DATA)
def test_non_finite_features_are_refused(small, no_compiling, split, make, counted):
    config = CONFIG.replace(loss="mse")
    data = small._replace(**{split: make(small)})
    with pytest.raises(ValueError, match=rf"^data\.{split}: expected finite values, got {counted}"):
        train(config, data)


def test_non_finite_target_rows_are_refused(small, no_compiling):
    data = small._replace(y_train=_with(_onehot(small.y_train), [4], np.nan))
    with pytest.raises(
        ValueError, match=r"^data\.y_train: targets must be finite, .* rows \[1\]"
    ):  # flat index 4 of (N, 4) rows
        train(CONFIG.replace(loss="mse"), data)


def test_non_finite_validation_features_are_refused(small, no_compiling):
    data = (small.x_train, small.y_train, _with(small.x_test, [0], np.nan), small.y_test)
    data = (*data[:2], data[2], data[3], small.x_test, small.y_test)  # 6-tuple: val first
    with pytest.raises(ValueError, match=r"^data\.x_val: expected finite values, got 1 NaN"):
        train(CONFIG, data)


def test_caller_params_must_be_finite_floats(small, no_compiling):
    params = init_params(CONFIG, jax.random.PRNGKey(0))
    nan = [{"w": params[0]["w"].at[0, 0].set(jnp.nan), "b": params[0]["b"]}]
    with pytest.raises(ValueError, match=r"^params\[0\]\['w'\]: expected finite values, got 1 NaN"):
        train(CONFIG, small, params=nan)
    ints = [{"w": jnp.zeros((6, 4), jnp.int32), "b": jnp.zeros(4, jnp.int32)}]
    floating = r"^params\[0\]\[.w.\]: expected a floating dtype, got int32"
    with pytest.raises(ValueError, match=floating):
        train(CONFIG, small, params=ints)


@pytest.mark.parametrize("seed", [2**32, -1, 2**64, 2**63 - 1])
def test_seeds_outside_32_bits_are_refused_naming_config_seed(small, no_compiling, seed):
    with pytest.raises(ValueError, match=r"^config\.seed: expected an int in \[0, 2\*\*32\)"):
        train(CONFIG.replace(seed=seed), small)


def test_the_largest_32_bit_seed_is_accepted(small):
    assert validate(CONFIG.replace(seed=2**32 - 1), small) is not None


@pytest.mark.parametrize("split", ["x_train", "x_test"])
def test_an_empty_split_is_named_and_batch_size_is_not_blamed(small, no_compiling, split):
    y = split.replace("x", "y")
    data = small._replace(**{split: np.zeros((0, 6), np.float32), y: np.zeros(0, np.int32)})
    with pytest.raises(ValueError, match=rf"^data\.{split}: expected at least 1 row, got 0"):
        train(CONFIG, data)


def test_an_empty_validation_split_is_named(small, no_compiling):
    data = small._replace(x_val=np.zeros((0, 6), np.float32), y_val=np.zeros(0, np.int32))
    with pytest.raises(ValueError, match=r"^data\.x_val: expected at least 1 row"):
        train(CONFIG, data)


@pytest.mark.parametrize("split", ["x_train", "y_train"])
def test_string_arrays_are_refused_without_dumping_them(small, no_compiling, split):
    data = small._replace(**{split: np.asarray(getattr(small, split)).astype(str)})
    with pytest.raises(ValueError, match=rf"^data\.{split}: expected a numeric array") as e:
        train(CONFIG, data)
    assert len(str(e.value)) < 120


def test_half_a_validation_split_is_refused(small, no_compiling):
    with pytest.raises(ValueError, match="^data: expected both x_val and y_val"):
        train(CONFIG, small._replace(x_val=small.x_test))


# ------------------------------------------------------------------ the validation split


@pytest.mark.slow  # over 8 s on 2 cores (several compiled trainings)
def test_history_has_val_keys_exactly_when_there_is_a_validation_split(small, capsys):
    x_val, y_val = small.x_test[:10], small.y_test[:10]
    six = (small.x_train, small.y_train, x_val, y_val, small.x_test, small.y_test)
    four = (small.x_train, small.y_train, small.x_test, small.y_test)
    with_val = train(CONFIG, six, progress=True)
    assert "val_acc=" in capsys.readouterr().err  # the bar shows validation, not test
    as_dataset = train(CONFIG, small._replace(x_val=x_val, y_val=y_val))
    without = train(CONFIG, four)
    assert set(with_val.history) == set(HISTORY_KEYS + VALIDATION_KEYS)
    assert set(without.history) == set(HISTORY_KEYS)
    for key in with_val.history:
        assert np.array_equal(with_val.history[key], as_dataset.history[key]), key
    # The split does not change training; val_* evaluate the end-of-epoch params on it.
    for key in HISTORY_KEYS:
        assert np.array_equal(with_val.history[key], without.history[key]), key
    final = softjax.evaluate(with_val.params, CONFIG, x_val, y_val)
    np.testing.assert_allclose(with_val.history["val_loss"][-1], final["loss"], rtol=1e-6)
    assert with_val.history["val_accuracy"][-1] == pytest.approx(final["accuracy"])
    assert not np.allclose(with_val.history["val_loss"], with_val.history["test_loss"])


def test_raw_uint8_images_train_with_a_warning_naming_the_missing_scale():
    """0–255 bytes train as given (integers are legal features) but never silently."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(32, 6), dtype=np.uint8)
    y = rng.integers(0, 3, size=32).astype(np.int32)
    config = softjax.TrainConfig(sizes=(6, 3), batch_size=16, epochs=1)
    with pytest.warns(UserWarning, match=r"data.x_train: integer features \(dtype uint8.*/ 255"):
        softjax.train(config, (x, y, x, y))
    scaled = (x / 255).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        softjax.train(config, (scaled, y, scaled, y))
