"""The grid-edge flag the literature summaries and figures share (experiments._common.verdicts),
``--redraw`` leaving the training run's JSON (its provenance) untouched (experiments._common.cli),
and the literature sweeps' replicates varying the data order with the init
(experiments._common.lit).

A chosen lr on an edge of its grid is marked † and named in one sentence; a summary with
no such lr says every chosen lr is interior.
"""

from __future__ import annotations

import json
import types

import matplotlib.pyplot as plt
import pytest

from experiments._common import cli as _cli
from experiments._common import lit
from experiments._common import verdicts as _lit


def test_the_sentence_names_each_edge_with_its_side_and_grid():
    text = _lit.edge_sentence(
        [
            ("mlp mse", 2.0, "high", [0.1, 0.5, 2.0]),
            ("mlp cce", 0.1, None, [0.01, 0.1, 0.5]),
            ("sr cce", 0.01, "low", None),
            ("smoke", 0.2, "low", [0.2]),
        ]
    )
    assert text.startswith("Chosen lr on an edge of its grid: mlp mse lr 2.0 (high edge of ")
    assert "[0.1, 0.5, 2.0]" in text and "sr cce lr 0.01 (low edge of its grid)" in text
    assert "smoke lr 0.2 (the only lr of its grid [0.2])" in text
    assert "mlp cce" not in text
    assert text.endswith("a wider grid could move these results.")


def test_no_edge_says_interior_and_marks_nothing():
    cases = [("a", 0.1, None, [0.01, 0.1, 1.0]), ("b", None, None, [0.01, 0.1, 1.0])]
    assert _lit.edge_sentence(cases) == "Every chosen lr is interior to its grid."
    assert _lit.lr_text(0.1, None) == "0.1" and _lit.lr_text(0.5, "high") == "0.5†"
    # Three significant digits, as in the figures (issue 33).
    assert _lit.lr_text(0.00111111, None) == "0.00111" and _lit.lr_text(1 / 3, "low") == "0.333†"


def test_a_bad_edge_value_is_refused_naming_it():
    with pytest.raises(ValueError, match="edge"):
        _lit.edge_mark("top")


def test_errorbar_marks_only_the_edge_points():
    fig, ax = plt.subplots()
    stats = [{"mean": 0.9, "ci95": 0.01}, {"mean": 0.8, "ci95": None}, None]
    _lit.errorbar(ax, [0, 20, 40], stats, [None, "low", "high"], label="CCE")
    assert [t.get_text() for t in ax.texts] == ["†"]  # the third point has no value
    assert ax.texts[0].xy == (20, 80.0)
    _lit.edge_layout(fig, [None, "low"])
    assert any(t.get_text() == _lit.EDGE_FIGURE_NOTE for t in fig.texts)
    plt.close(fig)


def test_errorbar_keeps_an_accuracys_interval_inside_0_to_100():
    fig, ax = plt.subplots()
    _lit.errorbar(ax, [0, 1], [{"mean": 0.97, "ci95": 0.2}, {"mean": 0.02, "ci95": 0.1}])
    ys = [y for c in ax.collections for seg in c.get_segments() for y in seg[:, 1]]
    assert min(ys) == pytest.approx(0.0) and max(ys) == pytest.approx(100.0)
    plt.close(fig)


def test_redraw_keeps_the_training_provenance(tmp_path):
    """``--redraw`` never runs training and never rewrites the JSON: its provenance
    (commit, argv) stays that of the run that trained the numbers."""
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"provenance": {"git_commit": "trainer", "argv": ["train"]}}))
    before = path.read_bytes()
    plots = types.SimpleNamespace(draw=lambda p, out: [], write_summary=lambda p, out: out / "x.md")
    args = types.SimpleNamespace(redraw=True)

    def run():
        raise AssertionError("--redraw must not train")

    assert _cli.finish(args, plots, path, tmp_path, run) == [tmp_path / "x.md"]
    assert path.read_bytes() == before


def test_literature_replicates_pair_the_init_seed_with_the_data_seed(monkeypatch):
    calls = []

    class Called(Exception):
        pass

    def stand_in(config, data, **kwargs):
        calls.append(kwargs)
        raise Called

    monkeypatch.setattr(lit, "sweep", stand_in)
    with pytest.raises(Called):
        lit.interior_sweep("config", "data", ["cce"], [0.1], range(3), max_rounds=0)
    (kwargs,) = calls
    assert kwargs["seeds"] == kwargs["data_seeds"] == [0, 1, 2]
    assert kwargs["seed_pairing"] == "paired"


def test_a_summary_says_what_a_replicate_varies_only_when_its_config_does():
    cfg = {"replicates": lit.REPLICATES}
    assert _lit.replicate_note(cfg) == " (replicate i: init seed i and data-order seed i)"
    assert _lit.replicate_note({}) == ""
    assert _lit.run_clause(cfg, 3, [], "results/x.md").startswith(
        "(3 replicates, each with init seed i and data-order seed i, `results/x.md`;"
    )
    assert _lit.run_clause({}, 3, [], "results/x.md").startswith("(3 seeds, `results/x.md`;")
