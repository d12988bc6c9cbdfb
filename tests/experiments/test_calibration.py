"""Calibration metrics (Guo et al. 2017) against a hand computation, and the calibration
CLI: JSON, stored params, figures, and a redraw from the JSON alone."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.calibration import report as plots
from experiments.calibration import run as calibration
from softjax import metrics
from softjax.data import load_dataset
from softjax.results import read_json
from tests.helpers import GROWN_CLAUSE, GROWN_GRIDS, readme_row_of

# Four samples, K = 3. Confidences 0.9 (right), 0.92 (wrong), 0.5 (right), 0.42 (wrong):
# bins ((m−1)/15, m/15] put 0.9 and 0.92 in bin 14, 0.5 in bin 8, 0.42 in bin 7.
PROBS = np.array(
    [[0.9, 0.05, 0.05], [0.05, 0.92, 0.03], [0.5, 0.3, 0.2], [0.42, 0.33, 0.25]], np.float64
)
LABELS = np.array([0, 0, 0, 2])


def test_ece_equals_the_hand_computed_value():
    # bin 14: acc 1/2, conf 0.91, weight 2/4; bin 8: acc 1, conf 0.5; bin 7: acc 0, conf 0.42.
    by_hand = 0.5 * abs(0.5 - 0.91) + 0.25 * abs(1 - 0.5) + 0.25 * abs(0 - 0.42)
    assert by_hand == pytest.approx(0.435)
    with jax.enable_x64(True):
        probs, labels = jnp.asarray(PROBS), jnp.asarray(LABELS)
        assert float(metrics.expected_calibration_error(probs, labels)) == pytest.approx(
            by_hand, rel=1e-12
        )
        jitted = jax.jit(metrics.expected_calibration_error)(probs, labels)
        assert float(jitted) == pytest.approx(by_hand, rel=1e-12)
        bins = metrics.reliability_bins(probs, labels)
        assert np.asarray(bins["count"]).tolist() == [0] * 6 + [1, 1] + [0] * 5 + [2, 0]
        assert float(bins["confidence"][13]) == pytest.approx(0.91)
        assert float(bins["accuracy"][13]) == pytest.approx(0.5)
        assert np.isnan(bins["accuracy"][0])  # empty bins are NaN, weighted 0 in the ECE
        nll = -(math.log(0.9) + math.log(0.05) + math.log(0.5) + math.log(0.25)) / 4
        assert float(metrics.negative_log_likelihood(probs, labels)) == pytest.approx(nll)


def test_bin_edges_are_right_closed_and_zero_goes_first():
    conf = jnp.asarray([0.0, 1e-6, 1 / 15 + 1e-4, 0.5, 1.0])
    assert np.asarray(metrics.bin_index(conf)).tolist() == [0, 0, 1, 7, 14]
    # One-hot predictions that are always right are perfectly calibrated; a zero
    # probability on the label costs −log(tiny), finite.
    eye = jnp.eye(3)
    assert float(metrics.expected_calibration_error(eye, jnp.arange(3))) == 0.0
    assert np.isfinite(float(metrics.negative_log_likelihood(eye, jnp.asarray([1, 2, 0]))))


def test_metrics_name_a_bad_argument():
    with pytest.raises(ValueError, match="probs"):
        metrics.expected_calibration_error(jnp.ones(3), jnp.zeros(3, int))
    with pytest.raises(ValueError, match="labels"):
        metrics.negative_log_likelihood(jnp.ones((3, 2)) / 2, jnp.zeros(4, int))
    with pytest.raises(ValueError, match="num_bins"):
        metrics.reliability_bins(jnp.ones((3, 2)) / 2, jnp.zeros(3, int), num_bins=0)


@pytest.mark.slow
def test_cli_smoke_stores_params_and_redraws(tmp_path, shared_data_dir):
    args = ["--smoke", "--source", "idx", "--data-dir", str(shared_data_dir)]
    # One model keeps the test short; the MLP has the hidden activations to resolve.
    args += ["--losses", "cce", "sigmoid_bce", "square", "--models", "mlp"]
    args += ["--out", str(tmp_path)]
    written = calibration.main(args)
    names = {p.name for p in written}
    assert names == {"calibration_smoke_reliability.png", "calibration_smoke.md"}
    doc = read_json(tmp_path / "calibration_smoke.json")
    assert doc["provenance"]["config"]["losses"] == ["cce", "sigmoid_bce", "square"]
    # The calibration is a function of the stored params: recomputing it agrees.
    data = load_dataset("mnist", source="idx", data_dir=shared_data_dir)
    again = calibration.calibrate(tmp_path / doc["params_file"], data.x_test, data.y_test)
    assert set(doc["calibration"]) == {"mlp"}
    for model, per_loss in doc["calibration"].items():
        assert set(per_loss) <= {"cce", "sigmoid_bce", "square"} and "cce" in per_loss
        for loss, rep in per_loss.items():
            assert len(rep["ece"]) == calibration.SIZES["smoke"]["seeds"]
            np.testing.assert_allclose(rep["ece"], again[model][loss]["ece"], rtol=1e-6)
            assert all(0 <= e <= 1 for e in rep["ece"])
    text = (tmp_path / "calibration_smoke.md").read_text()
    assert "Guo" in text and "no verdict" in text and "e/(e + K − 1) = 23.2%" in text
    assert "edge of [0.03, 0.3]); a wider grid could move these results." in text  # 2 lrs
    before = (tmp_path / "calibration_smoke.json").read_bytes()
    for p in written:
        p.unlink()
    redrawn = calibration.main(["--smoke", "--redraw", "--out", str(tmp_path)])
    assert {p.name for p in redrawn} == names
    assert (tmp_path / "calibration_smoke.json").read_bytes() == before


def _doc(edges):
    """A hand-made results document: the MLP's CCE and MSE with ``edges`` (per loss)."""
    rep = {"accuracy": [0.97, 0.98], "mean_confidence": [0.98, 0.98]}
    rep.update(ece=[0.01, 0.012], nll=[0.08, 0.09])
    sel = [
        {"loss": loss, "init_scale": 1.0, "lr": lr, "edge": e}
        for loss, lr, e in zip(("cce", "mse"), (0.3, 1.0), edges, strict=True)
    ]
    config = dict(mode="smoke", train_subset=1000, batch_size=64, epochs=1, seeds=2)
    config.update(lrs=[0.03, 0.3, 1.0], num_bins=15, models={"mlp": [784, 128, 10]})
    return {
        "provenance": {"config": config},
        "selection": {"mlp": sel},
        "params_file": "c.npz",
        "calibration": {"mlp": {"cce": rep, "mse": rep}},
    }


def test_summary_marks_and_names_an_lr_on_its_grid_edge():
    text = plots.summary_markdown(_doc((None, "high")), "c.json")
    assert "| MLP 784-128-10 | MSE on softmax | 1.0† |" in text
    assert "| MLP 784-128-10 | CCE | 0.3 |" in text
    assert "† The lr chosen on validation lies on an edge" in text
    assert (
        "Chosen lr on an edge of its grid: MLP 784-128-10 MSE on softmax lr 1.0 (high edge "
        "of [0.03, 0.3, 1.0]); a wider grid could move these results."
    ) in text
    rep = _doc((None, None))["calibration"]["mlp"]["mse"]
    assert "MSE on softmax, lr 1.0†\n" in plots.panel_title(
        "mlp", "mse", {"lr": 1.0, "edge": "high"}, rep
    )
    assert "MSE on softmax, lr 1.0\n" in plots.panel_title(
        "mlp", "mse", {"lr": 1.0, "edge": None}, rep
    )


def test_summary_without_edges_says_interior():
    text = plots.summary_markdown(_doc((None, None)), "c.json")
    assert "Every chosen lr is interior to its grid." in text and "†" not in text


def test_summary_names_each_losss_own_extended_grid():
    """With grids extended per loss, an edge is named against that loss's final grid and
    the first sentence says how the grids grew; results without ``lrs_by_loss`` keep the
    config's shared grid (the test above)."""
    doc = _doc((None, "high"))
    doc["provenance"]["config"].update(GROWN_GRIDS)
    doc["lrs_by_loss"] = {"mlp": {"cce": [0.03, 0.3, 1.0], "mse": [0.03, 0.3, 1.0, 3.0, 9.0]}}
    doc["selection"]["mlp"][1]["lr"] = 9.0
    text = plots.summary_markdown(doc, "c.json")
    assert f"lr chosen on validation from [0.03, 0.3, 1.0], {GROWN_CLAUSE}, 2 seeds" in text
    assert "MSE on softmax lr 9.0 (high edge of [0.03, 0.3, 1.0, 3.0, 9.0])" in text


@pytest.mark.slow
def test_a_grid_edge_choice_extends_that_losss_grid(shared_data_dir):
    """The full run's rule at smoke size: a loss whose chosen lr is on an edge gets the
    next ×3 lr, its edge is judged on its grown grid, and its chosen params are stored."""
    data = load_dataset("mnist", source="idx", data_dir=shared_data_dir)
    data = data._replace(x_train=data.x_train[:1000], y_train=data.y_train[:1000])
    mode = {**calibration.SIZES["smoke"], "lrs": [0.01, 0.03], "max_rounds": 1}
    selection, params, grids = calibration.train_models(
        data, mode, losses=("cce",), models=("softmax_regression",)
    )
    (entry,) = selection["softmax_regression"]
    grid = grids["softmax_regression"]["cce"]
    # One epoch on 1,000 rows: the larger lr wins, so the grid grows upward once.
    assert grid == [0.01, 0.03, 0.09]
    assert entry["lr"] in grid and entry["edge"] == ("high" if entry["lr"] == 0.09 else None)
    seeds = range(mode["seeds"])
    assert {f"softmax_regression/cce/{s}/0/w" for s in seeds} <= set(params)


def test_the_lowest_ece_is_called_best_only_when_its_interval_separates():
    doc = _doc((None, None))
    reps = doc["calibration"]["mlp"]
    reps["cce"] = dict(reps["cce"], ece=[0.010, 0.011, 0.012])
    reps["mse"] = dict(reps["cce"], ece=[0.005, 0.0051, 0.0052])
    assert plots.lowest_ece_sentences(doc) == [
        "- MLP 784-128-10: lowest mean ECE MSE on softmax (0.51 ± 0.02%), its interval "
        "below every other loss's; highest CCE (1.10 ± 0.25%)."
    ]
    reps["bce"] = dict(reps["cce"], ece=[0.004, 0.006, 0.008])  # 0.60 ± 0.50: overlaps
    assert plots.lowest_ece_sentences(doc) == [
        "- MLP 784-128-10: lowest mean ECE MSE on softmax (0.51 ± 0.02%), not separable "
        "from BCE on softmax (0.60 ± 0.50%); highest CCE (1.10 ± 0.25%)."
    ]
    reps.pop("bce")
    for rep in reps.values():
        rep["ece"] = rep["ece"][:1]
    assert "one run per loss: no interval" in plots.lowest_ece_sentences(doc)[0]


def test_the_readme_row_is_written_from_the_numbers():
    doc = _doc((None, None))
    doc["calibration"]["mlp"]["mse"] = dict(doc["calibration"]["mlp"]["cce"], ece=[0.03, 0.031])
    text = plots.summary_markdown(doc, "calibration.json")
    row = readme_row_of(text)
    assert row.startswith("| Calibration per loss (Guo et al. 2017) |")
    assert (
        "| test ECE, MLP 784-128-10: CCE 1.10 ± 1.27% (confidence − accuracy 0.50 ± 6.35 pp), "
        "lowest mean CCE (1.10 ± 1.27%) (2 seeds, `results/calibration.md`; every chosen lr "
        "interior to its grid) |"
    ) in row
    assert row.endswith('says "no verdict at this size"; Guo et al. do not study MNIST |')


def test_the_well_calibrated_verdict_reads_the_intervals_not_the_means():
    below, above = [0.010, 0.011, 0.012], [0.030, 0.031, 0.032]
    straddling = [0.016, 0.021, 0.026]  # mean 2.1%, interval ± 1.2 pp
    assert plots.well_calibrated_verdict([below, below]) == "agrees"
    assert plots.well_calibrated_verdict([below, above]) == "differs"
    assert plots.well_calibrated_verdict([below, straddling]) == "not separable from the line"
    assert plots.well_calibrated_verdict([[0.01]]) == "not separable from the line"  # no interval
