"""mlp_depth over several seeds: intervals over seeds and a chance count from the numbers."""

from __future__ import annotations

import copy

import pytest

from experiments.mlp_depth import run as mlp_depth
from experiments.mlp_depth.report import accuracy_stats, summary_markdown
from softjax.results import read_json


def _doc(accuracies_by_seed):
    """A minimal mlp_depth document: sigmoid at depths 1 and 6, one run per seed."""
    stats = {"grad_norm": [1.0, 1.0], "mean_abs_delta": [0.5, 1.0], "mean_fprime": [0.2]}
    runs = []
    for seed, (shallow, deep) in enumerate(accuracies_by_seed):
        for depth, acc in ((1, shallow), (6, deep)):
            s = copy.deepcopy(stats)
            if depth == 6:
                s = {
                    "grad_norm": [1.0] * 7,
                    "mean_abs_delta": [0.1 * (i + 1) for i in range(7)],
                    "mean_fprime": [0.2] * 6,
                }
            runs.append(
                {
                    "activation": "sigmoid",
                    "depth": depth,
                    "seed": seed,
                    "test_accuracy": acc,
                    "init": s,
                    "trained": s,
                }
            )
    config = {
        "train_size": 100,
        "test_size": 100,
        "width": 8,
        "stats_size": 10,
        "base_train_config": {
            "init": "lecun_normal",
            "lr": 0.1,
            "batch_size": 8,
            "epochs": 10,
            "seed": 0,
        },
    }
    return {
        "provenance": {"config": config, "seeds": list(range(len(accuracies_by_seed)))},
        "runs": runs,
        "total_wall_s": 1.0,
    }


def test_deep_runs_at_chance_are_counted_and_stated():
    doc = _doc([(0.95, 0.11), (0.96, 0.10), (0.94, 0.90)])
    stats = accuracy_stats(doc)
    assert stats["sigmoid", 6]["n"] == 3 and stats["sigmoid", 6]["n_chance"] == 2
    assert stats["sigmoid", 1]["ci95"] > 0
    text = summary_markdown(doc)
    assert "sigmoid depth 6: 2 of 3 seeds" in text


def test_no_run_at_chance_withdraws_the_claim():
    text = summary_markdown(_doc([(0.95, 0.80), (0.96, 0.81), (0.94, 0.82)]))
    assert "No run stays at chance" in text and "not supported" in text
    assert "falls with depth" in text


def test_a_single_seed_claims_no_trend():
    text = summary_markdown(_doc([(0.95, 0.5)]))
    assert "no difference measured (one seed: no interval)" in text


def test_the_full_run_has_three_seeds_and_ten_epochs():
    assert len(mlp_depth.SIZES["full"]["seeds"]) >= 3 and mlp_depth.SIZES["full"]["epochs"] >= 10
    with pytest.raises(SystemExit):
        mlp_depth.parse_args(["--seeds", "1", "1"])


def test_results_written_before_seeds_still_summarize():
    path = mlp_depth.Path(__file__).resolve().parents[2] / "results" / "mlp_depth.json"
    if not path.exists():
        pytest.skip("no committed mlp_depth.json")
    assert "## Reading" in summary_markdown(read_json(path))
