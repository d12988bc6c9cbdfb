"""The calibration study (Guo et al. 2017): the probabilities each loss reports, the
architectures it compares, the paired ECE comparisons and the judgements of the claim
that miscalibration grows with depth and width, and the CLI's JSON, figures, summary
and redraw (the metrics themselves: ``test_metrics.py``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from experiments.calibration import analysis
from experiments.calibration import report as plots
from experiments.calibration import run as calibration
from softjax.results import read_json
from tests.helpers import readme_row_of


def test_probabilities_are_sigmoid_normalised_for_one_vs_rest_else_softmax():
    z = jnp.array([[2.0, 0.0, -1.0]])
    ovr = np.asarray(calibration.probabilities(z, True))
    s = 1 / (1 + np.exp(-np.asarray(z)))
    np.testing.assert_allclose(ovr, s / s.sum(-1, keepdims=True), rtol=1e-6)
    soft = np.asarray(calibration.probabilities(z, False))
    np.testing.assert_allclose(soft, np.exp(z) / np.exp(z).sum(), rtol=1e-6)


def test_the_architectures_are_a_width_and_a_depth_series_sharing_the_base():
    archs = calibration.architectures(calibration.FULL)
    assert archs == {
        "784-32-10": (784, 32, 10),
        "784-128-10": (784, 128, 10),
        "784-512-10": (784, 512, 10),
        "784-128-128-10": (784, 128, 128, 10),
        "784-128-128-128-128-10": (784, 128, 128, 128, 128, 10),
        "-".join(map(str, (784, *[128] * 8, 10))): (784, *[128] * 8, 10),
    }
    config = dict(calibration.FULL, base=calibration.base_name(calibration.FULL))
    series = analysis.series(config)
    assert series["width"] == ["784-32-10", "784-128-10", "784-512-10"]
    assert series["depth"][0] == "784-128-10" == config["base"]
    assert set(series["width"] + series["depth"]) == set(archs)


def test_one_vs_rest_runs_are_read_both_ways():
    params = [{"w": jnp.eye(3)[:, :3] * 3.0, "b": jnp.zeros(3)}]
    x, y = np.eye(3, dtype=np.float32), np.arange(3)
    ovr = calibration.calibration(params, (3, 3), x, y, one_vs_rest=True)
    soft = calibration.calibration(params, (3, 3), x, y, one_vs_rest=False)
    assert "softmax_read" in ovr and "softmax_read" not in soft
    assert ovr["softmax_read"]["ece"] == pytest.approx(soft["ece"])
    assert ovr["mean_confidence"] != pytest.approx(soft["mean_confidence"])
    assert ovr["accuracy"] == soft["accuracy"] == 1.0


CONFIG = dict(
    widths=[32, 128, 512],
    depths=[1, 2],
    base_width=128,
    base="784-128-10",
    losses=["cce", "sigmoid_bce"],
)


def _run(arch, loss, seed, ece, budget="short", softmax_ece=None):
    test = {"ece": ece, "nll": 0.1, "accuracy": 0.97, "mean_confidence": 0.97 + ece}
    if softmax_ece is not None:
        test["softmax_read"] = dict(test, ece=softmax_ece)
    return dict(
        arch=arch,
        loss=loss,
        lr=0.1,
        seed=seed,
        epochs=30 if budget == "short" else 90,
        budget=budget,
        diverged=False,
        curves={"train_accuracy": [0.9, 1.0], "val_accuracy": [0.9, 0.95], "val_loss": [0.3, 0.4]},
        test=test,
    )


def _runs(width_step=0.01, depth_step=0.0, budget="short"):
    """ECE grows by ``width_step`` per width step and ``depth_step`` per depth step
    (replicate i adds i/1000 and a little noise)."""
    out = []
    for s in range(5):
        jitter = s / 1000 + (s % 2) * 0.0005
        for i, w in enumerate(CONFIG["widths"]):
            out.append(_run(f"784-{w}-10", "cce", s, 0.02 + i * width_step + jitter, budget))
        ece = 0.02 + width_step + depth_step + jitter
        out.append(_run("784-128-128-10", "cce", s, ece, budget))
        out.append(_run("784-128-10", "sigmoid_bce", s, 0.01 + jitter, budget, 0.05))
    return out


def test_ece_growing_with_width_agrees_and_flat_depth_differs():
    got = analysis.analyse(_runs(width_step=0.02, depth_step=0.0), CONFIG)
    assert got["judged_budget"] == "short" and got["architecture"]["long"] == []
    names = [v["comparison"] for v in got["architecture"]["short"]]
    assert names == [
        "784-128-10 − 784-32-10",
        "784-512-10 − 784-128-10",
        "784-512-10 − 784-32-10",
        "784-128-128-10 − 784-128-10",
    ]
    assert all(v["family_size"] == 4 for v in got["architecture"]["short"])
    by_claim = {j["claim"]: j for j in got["judgements"]}
    width = by_claim[analysis.CLAIMS["width"]]
    assert width["outcome"] == "agree" and width["numbers"]["mean"] == pytest.approx(0.04)
    depth = by_claim[analysis.CLAIMS["depth"]]  # 0 ± 0: equivalent within ±0.5 pp
    assert depth["outcome"] == "differ" and depth["numbers"]["verdict"] == "equivalent"


def test_the_loss_family_compares_both_readings_of_sigmoid_bce_with_cce():
    got = analysis.analyse(_runs(), CONFIG)
    comps = {v["comparison"]: v for v in got["loss"]["short"]}
    assert set(comps) == {"sigmoid_bce − cce", "sigmoid_bce (softmax read) − cce"}
    assert comps["sigmoid_bce − cce"]["mean"] == pytest.approx(-0.02)
    assert comps["sigmoid_bce (softmax read) − cce"]["verdict"] == "higher"


def test_each_budget_is_compared_within_itself_and_the_longer_one_judged():
    # Width raises ECE at the fixed budget only; at the longer one it is flat.
    runs = _runs(width_step=0.02) + _runs(width_step=0.0, budget="long")
    got = analysis.analyse(runs, CONFIG)
    assert got["judged_budget"] == "long"
    assert got["architecture"]["short"][0]["family"].endswith(", short budget")
    assert got["architecture"]["short"][2]["verdict"] == "higher"
    by_claim = {j["claim"]: j for j in got["judgements"]}
    assert by_claim[analysis.CLAIMS["width"]]["numbers"]["verdict"] == "equivalent"
    cell = next(c for c in got["cells"]["long"] if c["arch"] == "784-32-10")
    assert cell["epochs"] == 90 and cell["fitted"] and cell["val_loss_min_epoch"] == 1.0


@pytest.mark.slow
def test_cli_smoke_writes_json_figures_summary_and_redraws(tmp_path, shared_data_dir):
    args = ["--smoke", "--source", "idx", "--data-dir", str(shared_data_dir)]
    args += ["--out", str(tmp_path)]
    written = calibration.main(args)
    names = {p.name for p in written}
    assert names == {
        "calibration_smoke.png",
        "calibration_smoke_reliability.png",
        "calibration_smoke.md",
    }
    doc = read_json(tmp_path / "calibration_smoke.json")
    cfg = doc["provenance"]["config"]
    assert set(doc["archs"]) == set(calibration.architectures(calibration.SIZES["smoke"]))
    for budget in ("short", "long"):
        base = [r for r in doc["runs"] if r["arch"] == cfg["base"] and r["budget"] == budget]
        assert {r["loss"] for r in base} == set(cfg["losses"])
        assert len(base) == len(cfg["losses"]) * len(cfg["seeds"])
    for r in doc["runs"]:  # per-seed values
        assert r["seed"] in cfg["seeds"] and 0 <= r["test"]["ece"] <= 1
        assert ("softmax_read" in r["test"]) == (r["loss"] == "sigmoid_bce")
    text = (tmp_path / "calibration_smoke.md").read_text()
    assert "Guo" in text and "smoke size: not the study's numbers" in text
    assert "e/(e + K − 1) = 23.2%" in text and "Run time:" in text
    row = readme_row_of(text)
    assert "weight decay not tested" in row and "δ ±0.5 pp" in row
    before = (tmp_path / "calibration_smoke.json").read_bytes()
    for p in written:
        p.unlink()
    redrawn = calibration.main(["--smoke", "--redraw", "--out", str(tmp_path)])
    assert {p.name for p in redrawn} == names
    assert (tmp_path / "calibration_smoke.md").read_text() == text
    assert (tmp_path / "calibration_smoke.json").read_bytes() == before


def test_redraw_without_results_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no results"):
        calibration.main(["--smoke", "--redraw", "--out", str(tmp_path)])


def test_the_summary_renders_the_json_verdicts(tmp_path):
    from softjax.results import write_json

    config = dict(CONFIG, mode="smoke", train_subset=300, validation="v", batch_size=32)
    config.update(epochs=30, search_seeds=[0], start_lrs=[0.1], max_rounds=1, seeds=[0, 1, 2, 3, 4])
    config.update(replicates="r", num_bins=15, delta=analysis.DELTA, budget=analysis.BUDGET_RULE)
    runs = _runs(width_step=0.02) + _runs(width_step=0.02, budget="long")
    choice = {"arm": ["cce", 1.0], "verdict": "interior"}
    archs = {
        a: {"search": {"choices": [choice]}, "improving": [], "model_epochs": 10}
        for a in {r["arch"] for r in runs}
    }
    doc = {"provenance": {"config": config, "git_commit": "abc"}, "archs": archs, "runs": runs}
    doc["analysis"] = analysis.analyse(runs, config)
    write_json(tmp_path / "calibration.json", doc)
    text = plots.write_summary(tmp_path / "calibration.json", tmp_path).read_text()
    assert "At 90 epochs (the budget the claim is judged at" in text
    assert "- **width**: ECE of 784-512-10 − 784-32-10 = +4.00 pp" in text
    assert "## Depth and width (CCE), 30 epochs" in text
    assert "**agrees** with Guo et al." in text
    row = readme_row_of(text)
    assert "width: agrees (784-512-10 − 784-32-10 +4.00 pp" in row
    assert "(4 of 4 nets fit their training set" in row
