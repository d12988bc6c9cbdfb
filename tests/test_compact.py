"""Byte-coded features (:func:`softjax.inputs.compact`): exact codes, exact decoding, and
a program that gives bitwise the same run on either representation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softjax.config import TrainConfig, init_params, seed_keys
from softjax.data import Dataset
from softjax.inputs import BYTE_SCALE, Data, as_data, byte_codes, compact, features
from softjax.training import make_train
from tests.helpers import jaxpr_eqns

ALL_BYTES = np.arange(256, dtype=np.uint8)
# How softjax.data scales its images: the values the codes must reproduce bit for bit.
PIXELS = ALL_BYTES.astype(np.float32) / np.float32(255)


def _images(key: int, n: int, d: int) -> np.ndarray:
    codes = np.random.default_rng(key).integers(0, 256, (n, d), dtype=np.uint8)
    return codes.astype(np.float32) / np.float32(255)


def test_byte_codes_of_every_pixel_value():
    np.testing.assert_array_equal(byte_codes(PIXELS), ALL_BYTES)
    assert byte_codes(PIXELS.reshape(16, 16)).shape == (16, 16)


@pytest.mark.parametrize(
    "x",
    [
        np.array([0.5 / 255], np.float32),  # between two codes
        np.array([-0.0], np.float32),  # the sign of zero would be lost
        np.array([-1 / 255], np.float32),
        np.array([256 / 255], np.float32),  # past 255
        np.nextafter(PIXELS[1:2], np.float32(1)),  # one ulp off a code
        PIXELS.astype(np.float64),  # only float32 is coded
        np.zeros((0, 3), np.float32),
    ],
    ids=["half", "neg_zero", "negative", "over", "ulp_off", "float64", "empty"],
)
def test_byte_codes_refuse_what_they_cannot_reproduce(x):
    assert byte_codes(x) is None


def test_byte_codes_check_every_chunk(monkeypatch):
    import softjax.inputs

    monkeypatch.setattr(softjax.inputs, "_CHUNK", 7)
    x = np.tile(PIXELS, 3)
    np.testing.assert_array_equal(byte_codes(x), np.tile(ALL_BYTES, 3))
    x[-1] = 0.3  # the last chunk alone is off the grid
    assert byte_codes(x) is None


def test_features_decode_bit_for_bit_under_jit():
    data = compact(Data(PIXELS[None], np.zeros(1, np.int32), PIXELS[None], np.zeros(1)))
    assert data.x_train.dtype == np.uint8 and data.x_scale == BYTE_SCALE
    decoded = jax.jit(features)(data, data.x_train)
    assert decoded.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(decoded).view(np.uint32), PIXELS[None].view(np.uint32))


def test_compact_codes_every_split_or_none():
    y = np.zeros(4, np.int32)
    x = _images(0, 4, 3)
    with_val = compact(Data(x, y, x, y, x, y))
    coded = {with_val.x_train.dtype, with_val.x_test.dtype, with_val.x_val.dtype}
    assert coded == {np.dtype(np.uint8)}
    off = x.copy()
    off[0, 0] = 0.3
    for data in (Data(x, y, off, y), Data(x, y, x, y, off, y)):
        assert compact(data) is data  # one split off the grid: nothing is coded
    assert compact(with_val) is with_val  # already coded
    in_order = Data(x, y, x, y)
    assert compact(in_order, shuffled=False) is in_order  # contiguous slices: nothing to gain


@pytest.mark.parametrize(
    "config",
    [
        # shuffled, a last partial batch (60 = 3·16 + 12), a validation split
        TrainConfig(sizes=(12, 4), batch_size=16, epochs=2, lr=0.5, seed=3),
        # a hidden layer, in order, MSE
        TrainConfig(sizes=(12, 8, 4), loss="mse", batch_size=20, epochs=2, shuffle=False),
    ],
    ids=["softmax_shuffled", "mlp_in_order"],
)
def test_a_run_on_codes_equals_the_run_on_floats(config):
    rng = np.random.default_rng(1)
    data = Dataset(
        _images(1, 60, 12),
        rng.integers(0, 4, 60).astype(np.int32),
        _images(2, 30, 12),
        rng.integers(0, 4, 30).astype(np.int32),
        _images(3, 20, 12),
        rng.integers(0, 4, 20).astype(np.int32),
    )
    floats = as_data(data)
    codes = compact(floats)
    assert codes.x_scale is not None
    init_key, data_key = seed_keys(config.seed)
    params = init_params(config, init_key)
    run = jax.jit(make_train(config))
    want = run(params, jnp.float32(config.lr), data_key, floats)
    got = run(params, jnp.float32(config.lr), data_key, codes)
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert set(want[1]) == set(got[1]) and "val_loss" in got[1]


@pytest.mark.parametrize("models", [None, 5], ids=["one_model", "stacked"])
def test_codes_are_gathered_once_per_epoch(models):
    """One gather of the epoch's byte codes, shared by stacked models (no model axis)."""
    config = TrainConfig(sizes=(12, 4), batch_size=16, epochs=1)
    y = np.zeros(64, np.int32)
    data = compact(Data(_images(0, 64, 12), y, _images(1, 8, 12), y[:8]))
    init_key, data_key = seed_keys(0)
    params, lr = init_params(config, init_key), jnp.float32(0.1)
    if models is not None:
        params = jax.tree.map(lambda a: jnp.stack([a] * models), params)
        lr = jnp.full(models, lr)
    train_fn = make_train(config, stacked=models is not None)
    jaxpr = jax.make_jaxpr(train_fn)(params, lr, data_key, data)
    shapes = {
        (e.outvars[0].aval.shape, e.outvars[0].aval.dtype)
        for e in jaxpr_eqns(jaxpr.jaxpr)
        if e.primitive.name == "gather"
    }
    assert ((4, 16, 12), np.dtype(np.uint8)) in shapes  # the whole epoch, as bytes
    assert all(shape != (16, 12) for shape, _ in shapes)  # no gather per batch
    assert all(models not in shape for shape, _ in shapes)


def test_in_order_batches_are_slices_not_gathers():
    config = TrainConfig(sizes=(12, 4), batch_size=16, epochs=1, shuffle=False)
    y = np.zeros(60, np.int32)  # 3 full batches and a partial one of 12 rows
    data = Data(_images(0, 60, 12), y, _images(1, 8, 12), y[:8])
    init_key, data_key = seed_keys(0)
    params = init_params(config, init_key)
    jaxpr = jax.make_jaxpr(make_train(config))(params, jnp.float32(0.1), data_key, data)
    assert not [e for e in jaxpr_eqns(jaxpr.jaxpr) if e.primitive.name == "gather"]
