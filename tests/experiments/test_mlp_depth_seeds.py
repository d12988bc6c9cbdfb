"""mlp_depth over several replicates: paired deepest − shallowest verdicts (Holm over the
activations), "stays at chance" only where no searched lr trains, and results written
before the lr search still summarizing as such."""

from __future__ import annotations

import copy

import pytest

from experiments.mlp_depth import analysis
from experiments.mlp_depth import run as mlp_depth
from experiments.mlp_depth.figures import accuracy_stats
from experiments.mlp_depth.report import summary_markdown
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


def _searched(doc, stuck=(), epochs=10):
    """``doc`` as the lr search writes it: every (activation, depth) searched, those in
    ``stuck`` with no lr that trains (their replicates run 3 × longer)."""
    searches = []
    for depth in (1, 6):
        none = ("sigmoid", depth) in stuck
        reason = "no lr trains (tried 7: 0.01 … 10)" if none else "interior: lower 0.1 trains"
        choice = {"lr": None if none else 1.0, "verdict": "no lr trains" if none else "interior"}
        entry = {
            "activation": "sigmoid",
            "depth": depth,
            "lr": 1.0,
            "lr_source": "chosen",
            "stays_at_chance": none,
            "search": {"choices": [choice | {"reason": reason}]},
        }
        if none:  # the longer search finds an lr that trains
            again = {"lr": 1.0, "verdict": "interior", "reason": "interior: lower 0.3 trains"}
            entry["longer"] = {"search": {"choices": [again]}, "lr": 1.0, "epochs": 3 * epochs}
        searches.append(entry)
    for r in doc["runs"]:
        long = ("sigmoid", r["depth"]) in stuck
        r["epochs"], r["diverged"] = (3 * epochs if long else epochs), False
        r["test_accuracy_end"] = r["test_accuracy"] + (0.5 if long and r["seed"] == 0 else 0)
        r["val_accuracy"] = [r["test_accuracy"]] * r["epochs"]
    doc["searches"] = searches
    doc["analysis"] = analysis.analyse(doc["runs"], searches, epochs)
    return doc


def test_stays_at_chance_only_where_no_searched_lr_trains():
    doc = _searched(_doc([(0.95, 0.11), (0.96, 0.10), (0.94, 0.12)]), stuck={("sigmoid", 6)})
    text = summary_markdown(doc)
    assert "sigmoid depth 6: no lr trains (tried 7: 0.01 … 10)" in text
    assert "searched again for 30 epochs: an lr trains: interior lr 1" in text
    assert "1 of 3 replicates end above chance" in text  # seed 0's longer run left chance
    assert "| sigmoid | 1 (interior) | 1 (no lr trains; 30-epoch search: interior) |" in text
    assert "stops" in text  # its mean validation curve is flat over the longer run
    stuck = doc["analysis"]["stuck"]
    assert [(a["depth"], a["epochs"], a["n_above_chance"]) for a in stuck] == [(6, 30, 1)]
    # The same accuracies with a searched lr that trains: nothing stays at chance.
    text = summary_markdown(_searched(_doc([(0.95, 0.11), (0.96, 0.10), (0.94, 0.12)])))
    assert "none stays at chance once its lr is searched" in text
    assert "| sigmoid | 1 (interior) | 1 (interior) |" in text


def test_the_depth_trend_is_a_paired_verdict_holm_over_activations():
    doc = _doc([(0.95, 0.80), (0.96, 0.81), (0.94, 0.82)])
    trends = analysis.trends(doc["runs"])
    assert [t["verdict"] for t in trends] == ["lower"]
    assert trends[0]["values"]["a"] == [0.80, 0.81, 0.82]
    assert trends[0]["family_size"] == 1 and trends[0]["n"] == 3
    text = summary_markdown(_searched(doc))
    assert "sigmoid: depth 6 − depth 1: −14.00 pp" in text and "lower" in text
    assert 'Family "deepest − shallowest depth' in text


def test_a_single_seed_claims_no_trend():
    text = summary_markdown(_doc([(0.95, 0.5)]))
    assert "fewer than 2 replicates: no interval" in text
    stats = accuracy_stats(_doc([(0.95, 0.5)]))
    assert stats["sigmoid", 6]["ci95"] is None


def test_legacy_results_count_runs_at_chance_at_their_one_lr():
    text = summary_markdown(_doc([(0.95, 0.11), (0.96, 0.10), (0.94, 0.90)]))
    assert "sigmoid depth 6: 2 of 3 seeds" in text and "one lr tried" in text
    assert "lr 0.1 (one fixed lr)" in text


def test_the_full_run_has_five_replicates_and_searches_lrs():
    full = mlp_depth.SIZES["full"]
    assert len(full["seeds"]) >= 5 and full["search_seeds"] == [0]
    assert full["depths"] == [1, 2, 3, 4, 5, 6] and full["epochs"] >= 5
    assert set(mlp_depth.SIZES) == {"smoke", "quick", "full"}
    with pytest.raises(SystemExit):
        mlp_depth.parse_args(["--seeds", "1", "1"])


def test_results_written_before_the_search_still_summarize():
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
