"""Symmetric label noise (softjax.data.noise) and the label-noise experiment's CLI.

The corruption must flip exactly round(η·N) training labels, never to the true class,
the same way for the same key, and never touch validation or test labels.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from experiments.label_noise import report as plots
from experiments.label_noise import run as label_noise
from softjax.data import Dataset, corrupt_train_labels, make_gaussian_classes, symmetric_noise
from softjax.results import read_json, write_json
from tests.helpers import GROWN_CLAUSE, GROWN_GRIDS, readme_row_of


@pytest.fixture(scope="module")
def data():
    return make_gaussian_classes(jax.random.PRNGKey(0), n=1003, dim=4, num_classes=7, validation=97)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.4, 0.6, 0.333])
def test_corruption_flips_exactly_the_fraction_never_to_the_true_class(data, rate):
    noisy, flipped = corrupt_train_labels(jax.random.PRNGKey(3), data, rate, num_classes=7)
    n = len(data.y_train)
    assert flipped.sum() == round(rate * n)
    changed = noisy.y_train != data.y_train
    np.testing.assert_array_equal(changed, flipped)  # a flipped label never lands on itself
    assert noisy.y_train.dtype == np.int32 and noisy.y_train.min() >= 0
    assert noisy.y_train.max() < 7
    # Validation and test are the very same arrays, untouched.
    for split in ("x_train", "x_val", "y_val", "x_test", "y_test"):
        assert getattr(noisy, split) is getattr(data, split)


def test_corruption_is_deterministic_per_key_and_spreads_over_other_classes(data):
    a, fa = corrupt_train_labels(jax.random.PRNGKey(5), data, 0.4)
    b, fb = corrupt_train_labels(jax.random.PRNGKey(5), data, 0.4)
    c, _ = corrupt_train_labels(jax.random.PRNGKey(6), data, 0.4)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(a.y_train, c.y_train)
    # Uniform over the K − 1 other classes: every shift 1..K−1 occurs.
    y = np.arange(7000) % 7
    noisy, flipped = symmetric_noise(jax.random.PRNGKey(1), y, 0.6, 7)
    shifts = (noisy[flipped] - y[flipped]) % 7
    counts = np.bincount(shifts, minlength=7)
    assert counts[0] == 0 and counts[1:].min() > 0.8 * counts[1:].mean()


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.2", None])
def test_bad_rate_is_refused_naming_it(data, rate):
    with pytest.raises(ValueError, match="rate"):
        corrupt_train_labels(jax.random.PRNGKey(0), data, rate)


def test_bad_labels_and_data_are_refused():
    with pytest.raises(ValueError, match="labels"):
        symmetric_noise(jax.random.PRNGKey(0), np.array([0, 3]), 0.5, 3)
    with pytest.raises(ValueError, match="data"):
        corrupt_train_labels(jax.random.PRNGKey(0), (np.zeros((2, 1)), np.zeros(2)), 0.5)
    with pytest.raises(ValueError, match="num_classes"):
        symmetric_noise(jax.random.PRNGKey(0), np.array([0, 0]), 0.5, 1)
    assert isinstance(Dataset, type)


def _doc(means):
    """A hand-made results document: CCE, MSE, MAE test accuracy at η = 0 and 0.6."""

    def row(loss, m):
        return {
            "loss": loss,
            "loss_spec": loss,
            "lr": 0.1,
            "final_test_accuracy": m,
            "final_test_accuracy_ci95": 0.01,
            "memorisation": {},
        }

    per_rate = {
        str(rate): {
            "n_flipped": 0,
            "rows": [row(l, m) for l, m in zip(("cce", "mse", "mae"), ms, strict=True)],
        }
        for rate, ms in means.items()
    }
    return {"mlp": per_rate}


def test_answer_is_read_from_the_numbers():
    win = _doc({0.0: (0.98, 0.98, 0.97), 0.6: (0.70, 0.75, 0.90)})
    assert plots.answer(win).startswith("mlp at η = 60%: yes: MSE (softmax) and MAE (softmax)")
    tie = _doc({0.0: (0.98, 0.98, 0.97), 0.6: (0.80, 0.805, 0.79)})
    assert "not separably" in plots.answer(tie)
    lose = _doc({0.0: (0.98, 0.98, 0.97), 0.6: (0.80, 0.70, 0.60)})
    assert "no: MSE (softmax) and MAE (softmax) lose to CCE" in plots.answer(lose)


@pytest.mark.slow
def test_cli_smoke_writes_json_figure_summary_and_redraws(shared_data_dir, tmp_path):
    argv = ["--smoke", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    written = label_noise.main(argv)
    assert {p.name for p in written} == {"label_noise_smoke.png", "label_noise_smoke.md"}
    doc = read_json(tmp_path / "label_noise_smoke.json")
    assert doc["provenance"]["config"]["mode"] == "smoke"
    for per_rate in doc["results"].values():
        for rate, entry in per_rate.items():
            assert entry["n_flipped"] == round(float(rate) * 1000)
            assert {r["loss"] for r in entry["rows"]} == set(label_noise.LOSSES)
            for r in entry["rows"]:
                mem = r["memorisation"]
                assert 0 <= mem["train_acc_noisy_labels"]["mean"] <= 1
                assert ("memorised" in mem) == (float(rate) > 0)
    text = (tmp_path / "label_noise_smoke.md").read_text()
    assert "Ghosh, Kumar & Sastry" in text and "Zhang & Sabuncu" in text
    assert "(the only lr of its grid [0.2])" in text  # one lr: on its grid's edge
    for p in written:
        p.unlink()
    redrawn = label_noise.main([*argv, "--redraw"])
    assert all(p.exists() and p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / "label_noise_smoke.md").read_text() == text


def test_redraw_without_results_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no results"):
        label_noise.main(["--smoke", "--redraw", "--out", str(tmp_path)])


def _summary(tmp_path, edges, grown=None):
    """The summary of a hand-made document whose rows carry ``edges`` (per loss); with
    ``grown``, each rate's ``lrs_by_loss`` and the config of a run that grew its grids."""
    results = _doc({0.0: (0.98, 0.98, 0.97), 0.6: (0.70, 0.75, 0.90)})
    for entry in results["mlp"].values():
        for row, edge in zip(entry["rows"], edges, strict=True):
            row["edge"] = edge
            row["lr"] = {"high": 0.5, "low": 0.02, None: 0.1}[edge]
    config = dict(mode="smoke", train_subset=1000, epochs=2, batch_size=128, seeds=[0, 1])
    config.update(lrs=[0.02, 0.1, 0.5], hidden=16)
    if grown is not None:
        config.update(GROWN_GRIDS)
        for entry in results["mlp"].values():
            entry["lrs_by_loss"] = grown
    doc = {"provenance": {"config": config, "git_commit": "abc"}, "results": results}
    write_json(tmp_path / "label_noise.json", doc)
    return plots.write_summary(tmp_path / "label_noise.json", tmp_path).read_text()


def test_summary_marks_and_names_an_lr_on_its_grid_edge(tmp_path):
    text = _summary(tmp_path, ("high", None, None))
    assert "| 60% | CCE | 0.5† |" in text and "| 60% | MSE (softmax) | 0.1 |" in text
    assert "† The lr chosen on validation lies on an edge" in text
    assert (
        "Chosen lr on an edge of its grid: mlp CCE at η = 0% lr 0.5 (high edge of "
        "[0.02, 0.1, 0.5]); mlp CCE at η = 60% lr 0.5 (high edge of [0.02, 0.1, 0.5]); "
        "a wider grid could move these results."
    ) in text
    assert "trained at git abc" in text


def test_summary_without_edges_says_interior(tmp_path):
    text = _summary(tmp_path, (None, None, None))
    assert "Every chosen lr is interior to its grid." in text and "†" not in text


def test_summary_names_each_losss_own_extended_grid(tmp_path):
    # mae's grid grew downward (an earlier round's choice), then its choice moved up.
    grown = {"cce": [0.02, 0.1, 0.5], "mse": [0.02, 0.1, 0.5], "mae": [0.00667, 0.02, 0.1, 0.5]}
    text = _summary(tmp_path, (None, None, "high"), grown)
    assert f"lr grid [0.02, 0.1, 0.5], {GROWN_CLAUSE}, chosen per loss" in text
    assert "mlp MAE (softmax) at η = 60% lr 0.5 (high edge of [0.00667, 0.02, 0.1, 0.5])" in text


def test_the_readme_row_is_written_from_the_numbers(tmp_path):
    text = _summary(tmp_path, (None, None, None))
    row = readme_row_of(text)
    assert (
        "| clean test accuracy, MLP 784-16-10 at 60% noise: CCE 70.00 ± 1.00%, MSE (softmax) "
        "75.00 ± 1.00%, MAE (softmax) 90.00 ± 1.00% (2 seeds, `results/label_noise.md`; every "
        "chosen lr interior to its grid) | MLP 784-16-10: yes: MSE (softmax) and MAE (softmax) "
        "beat CCE |"
    ) in row
