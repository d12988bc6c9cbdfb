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


def _drawn_accuracy_axes(doc, tmp_path, monkeypatch):
    """The accuracy panel of the figure drawn from ``doc`` (kept open)."""
    import json

    import matplotlib.pyplot as plt

    from experiments.mlp_depth.report import draw

    kept = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    (tmp_path / "mlp_depth.json").write_text(json.dumps(doc))
    draw(tmp_path / "mlp_depth.json", tmp_path)
    (fig,) = kept
    for text in [fig._suptitle.get_text()] + [ax.get_title() for ax in fig.axes]:
        assert text.count("\n") <= 1, text  # titles of at most two lines
    return next(ax for ax in fig.axes if ax.get_ylabel() == "test accuracy (%)")


def test_one_seed_draws_no_interval_and_says_so(tmp_path, monkeypatch):
    ax = _drawn_accuracy_axes(_doc([(0.9, 0.1)]), tmp_path, monkeypatch)
    assert not [c for c in ax.collections if c.get_segments()]  # no error bars
    assert "n = 1, no interval" in ax.get_title() and "95%" not in ax.get_title()


def test_accuracy_intervals_stay_within_0_to_100(tmp_path, monkeypatch):
    ax = _drawn_accuracy_axes(_doc([(0.99, 0.1), (0.5, 0.12)]), tmp_path, monkeypatch)
    ys = [y for c in ax.collections for seg in c.get_segments() for y in seg[:, 1]]
    assert ys and 0.0 <= min(ys) and max(ys) <= 100.0
    assert "95% interval over 2 seeds" in ax.get_title()
