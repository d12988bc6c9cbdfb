"""Tests for ``softjax.sweeps.arms``: exactly the given arms, each at its own lr, paired
by replicate, equal to the grid sweep's runs at the same points; the chosen lr and the
curves at it from a search's records."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.sweeps import sweep
from softjax.sweeps.arms import chosen_lr, curves_at, train_arms

BASE = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2, optimizer="sgd")
ARMS = {("cce", 1.0): 0.3, ("mse", 1.0): 3.0, ("cce", 2.0): 0.1}


@pytest.fixture(scope="module")
def tiny():
    return make_gaussian_classes(jax.random.PRNGKey(3), n=90, dim=5, num_classes=3)


@pytest.mark.slow  # two programs compiled (the arms' and the grid's): ~13 s on 2 cores
def test_train_arms_trains_exactly_the_arms_and_equals_the_grid_sweep(tiny):
    records = train_arms(BASE, tiny, ARMS, seeds=[0, 1])
    got = [(r["loss"], r["init_scale"], r["lr"], r["seed"]) for r in records]
    assert got == [(loss, s, lr, seed) for seed in (0, 1) for (loss, s), lr in ARMS.items()]
    grid = sweep(
        BASE,
        tiny,
        losses=["cce", "mse"],
        lrs=[0.1, 0.3, 3.0],
        init_scales=[1.0, 2.0],
        seeds=[0, 1],
        data_seeds=[0, 1],
        seed_pairing="paired",
        progress=False,
    )
    for r in records:
        (ref,) = [
            g
            for g in grid
            if (g["loss"], g["init_scale"], g["lr"], g["seed"])
            == (r["loss"], r["init_scale"], r["lr"], r["seed"])
        ]
        assert ref["data_seed"] == r["seed"]  # replicate i: init seed i, data order i
        assert r["diverged"] == ref["diverged"]
        for k, v in ref["history"].items():
            np.testing.assert_allclose(r["history"][k], v, rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize(
    "arms, seeds, match",
    [({}, [0], "arms"), ({("cce", 1.0): 0.0}, [0], "arms"), (ARMS, [], "seeds")],
)
def test_train_arms_names_a_bad_argument(tiny, arms, seeds, match):
    with pytest.raises(ValueError, match=match):
        train_arms(BASE, tiny, arms, seeds)


def _rec(loss, scale, lr, seed, curve, diverged=False):
    return dict(
        loss=loss,
        init_scale=scale,
        lr=lr,
        seed=seed,
        diverged=diverged,
        history={"val_accuracy": curve},
    )


RECORDS = [
    _rec("mse", 10.0, 0.01, 0, [0.10, 0.11]),
    _rec("mse", 10.0, 0.01, 1, [0.10, 0.13]),
    _rec("mse", 10.0, 0.1, 0, [0.10, 0.15]),
    _rec("mse", 10.0, 0.1, 1, [0.10, 0.12]),
    _rec("mse", 10.0, 1.0, 0, [0.5], diverged=True),
    _rec("mse", 10.0, 1.0, 1, [0.2, 0.3]),
    _rec("cce", 10.0, 0.1, 0, [0.5, 0.9]),
    _rec("cce", 10.0, 0.1, 1, [0.7, 0.8]),
]


def test_chosen_lr_keeps_a_choice_and_measures_an_arm_that_cannot_train():
    assert chosen_lr({"arm": ["cce", 10.0], "lr": 0.1}, RECORDS) == 0.1
    # No lr trains: the best finite mean (0.135 at 0.1 over 0.12 at 0.01); 1.0 diverged.
    assert chosen_lr({"arm": ["mse", 10.0], "lr": None}, RECORDS) == 0.1
    assert chosen_lr({"arm": ["mse", 10.0], "lr": None}, RECORDS[4:5]) is None


def test_curves_at_averages_the_replicates_at_the_lr_and_skips_diverged():
    curves = curves_at(RECORDS, {("cce", 10.0): 0.1, ("mse", 10.0): 1.0})
    assert list(curves) == [("cce", 10.0)]
    np.testing.assert_allclose(curves[("cce", 10.0)], [0.6, 0.85])
