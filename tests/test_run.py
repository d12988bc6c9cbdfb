"""Tests for softjax.run: ``train``, the validated user call, and its boundary."""

from __future__ import annotations

import sys

import jax
import pytest

import softjax.losses as losses_module
from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.run import train


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
