"""The loss study's own clock (issue 35): its FLOPs count by hand, and the ratio of a
recorded wall time to those FLOPs at a given floor rate."""

from __future__ import annotations

import pytest

from benchmarks import study_clock
from softjax.results import write_json


def _doc(sizes, subset, epochs, wall=0.0, arms=4):
    return {
        "grid": {"dataset": "mnist", "model": "m", "sizes": sizes, "train_subset": subset},
        "model_epochs": epochs,
        "wall_seconds": wall,
        "chosen": [{}] * arms,
    }


def test_a_model_epoch_is_every_training_row_through_a_step_and_a_validation_pass():
    doc = _doc([784, 10], None, {"search": 2, "short": 0, "long": 1})
    per_epoch = 55000 * 4 * 784 * 10 + 5000 * 2 * 784 * 10  # step: fwd + ∂W; val: fwd
    assert study_clock.model_flops(doc) == 3 * per_epoch
    mlp = _doc([784, 100, 10], 10000, {"search": 1, "short": 0, "long": 0})
    step = 3 * 2 * (784 * 100 + 100 * 10) - 2 * 784 * 100
    assert study_clock.model_flops(mlp) == 10000 * step + 5000 * 2 * (784 * 100 + 100 * 10)


def test_the_clock_is_the_recorded_wall_time_over_the_flops_at_the_floor_rate(tmp_path):
    paths = []
    for i, wall in enumerate((10.0, 30.0)):
        paths.append(tmp_path / f"loss_sweep_mnist_m{i}.json")
        write_json(paths[-1], _doc([784, 10], 1000, {"search": 1, "short": 1, "long": 0}, wall))
    rates = {((784, 10), 4): 2.0}  # GFLOP/s, given: nothing is measured
    got = study_clock.clock(paths, rates)
    gflop = study_clock.model_flops(_doc([784, 10], 1000, {"search": 2}, 0)) / 1e9
    assert got["models"][0]["x_floor"] == pytest.approx(10.0 / (gflop / 2.0))
    assert got["total"]["x_floor"] == pytest.approx(40.0 / (2 * gflop / 2.0))
    assert study_clock.model_files(tmp_path) == sorted(paths)
    lines = "\n".join(study_clock.markdown({"committed": got, "live": {"skipped": "why"}}))
    assert "why" in lines and f"{got['total']['x_floor']:.1f}" in lines
