"""Tests for softjax.checkpoint: save_checkpoint/load_checkpoint check their arguments,
record the config (or ask for it) and give back the saved state bitwise. Resuming a run
from a checkpoint is tested in ``test_resume.py``."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

import softjax
from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.run import train

CONFIG = TrainConfig(
    sizes=(6, 8, 4), activations="tanh", optimizer="adam", lr=0.01, batch_size=24, epochs=4
)


@pytest.fixture(scope="module")
def small():
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


def test_checkpoint_arguments_are_checked_and_the_state_comes_back(small, tmp_path):
    half = train(CONFIG, small, stop_after=2)
    with pytest.raises(ValueError, match="^directory: no checkpoint"):
        softjax.load_checkpoint(tmp_path)
    factory = CONFIG.replace(optimizer=lambda lr: optax.adam(lr))
    softjax.save_checkpoint(tmp_path, train(factory, small, stop_after=1).state, factory)
    with pytest.raises(ValueError, match=r"^config: pass config= to load_checkpoint"):
        softjax.load_checkpoint(tmp_path)
    assert int(softjax.load_checkpoint(tmp_path, factory).epoch) == 1
    unrecorded = tmp_path / "no_config"
    softjax.save_checkpoint(unrecorded, half.state)
    with pytest.raises(ValueError, match="^config: the checkpoint records no config"):
        softjax.load_checkpoint(unrecorded)
    loaded = softjax.load_checkpoint(unrecorded, CONFIG)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(half.state), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=a.dtype.kind == "f")
    with pytest.raises(ValueError, match="^state: expected a TrainState"):
        softjax.save_checkpoint(unrecorded, half.params)
