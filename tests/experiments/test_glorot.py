"""Glorot & Bengio (2010): the CLI at --smoke writes its JSON and figures and redraws
them from the JSON alone; the surface's grid values are the losses of the modified net;
the analysis reads each replicate's top sigmoid layer and the paired sigmoid − tanh
differences, and the verdicts and summary are computed from those numbers."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import softjax
from experiments.glorot import analysis
from experiments.glorot import report as plots
from experiments.glorot import run as glorot
from softjax.results import read_json


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("glorot")
    args = ["--smoke", "--source", "idx", "--data-dir", str(shared_data_dir), "--out", str(out)]
    return out, glorot.main(args)


@pytest.mark.slow
def test_cli_smoke_writes_json_and_figures(smoke_run):
    out, written = smoke_run
    names = {p.name for p in written}
    assert names == {"glorot_smoke_surface.png", "glorot_smoke_activations.png", "glorot_smoke.md"}
    doc = read_json(out / "glorot_smoke.json")
    mode = glorot.SIZES["smoke"]
    for act in glorot.ACTIVATIONS:
        found = doc["searches"][act]
        tried = {r["lr"] for r in found["search"]["history"]}
        assert set(mode["start_lrs"]) <= tried and found["lr"] in tried
        assert found["lr_source"] in ("chosen", "lowest validation loss, no lr trains")
    for run in doc["activations"].values():
        mean = np.asarray(run["stats"]["mean"])
        # (replicates, epochs + 1 (init first), hidden layers)
        assert mean.shape == (len(mode["seeds"]), mode["epochs"] + 1, mode["depth"])
        # per-replicate curves
        assert np.asarray(run["history"]["test_accuracy"]).shape == (
            len(mode["seeds"]),
            mode["epochs"],
        )
        perc = np.asarray(run["stats"]["percentiles"])
        assert perc.shape == (*mean.shape, len(glorot.PERCENTILES))
        assert np.all(np.diff(perc, axis=-1) >= 0)  # 2nd ≤ 50th ≤ 98th
    sig = np.asarray(doc["activations"]["sigmoid"]["stats"]["mean"])
    assert np.all((sig > 0) & (sig < 1))
    text = (out / "glorot_smoke.md").read_text()
    assert "Glorot and Y. Bengio" in text and "no verdict" in text
    assert "starting with layer 1" in text and "Table 1" in text
    readings = doc["analysis"]["activations"]["sigmoid"]["top_layer"]
    assert len(readings) == len(mode["seeds"])


@pytest.mark.slow
def test_surface_values_are_the_losses_of_the_modified_net(smoke_run):
    out, _ = smoke_run
    s = read_json(out / "glorot_smoke.json")["surface"]
    axis = np.asarray(s["axis"])
    data = softjax.make_blobs(jax.random.PRNGKey(0))
    params = softjax.mlp_init(jax.random.PRNGKey(0), glorot.SURFACE_SIZES, init="torch_linear")
    for i, j in ((0, 0), (3, 17), (len(axis) - 1, 5)):
        params[0]["w"] = params[0]["w"].at[0, 0].set(axis[i])
        params[1]["w"] = params[1]["w"].at[0, 0].set(axis[j])
        logits = softjax.mlp_apply(params, data.x_train, "sigmoid")
        for name in glorot.SURFACE_LOSSES:
            expected = float(softjax.LOSSES[name](logits, data.y_train))
            assert s["losses"][name]["value"][i][j] == pytest.approx(expected, rel=1e-5)
    g = np.asarray(s["losses"]["mse"]["grad_norm"])
    assert s["losses"]["mse"]["plateau_fraction"] == pytest.approx(np.mean(g < 0.01 * g.max()))


@pytest.mark.slow
def test_redraw_uses_only_the_json(smoke_run):
    out, written = smoke_run
    before = (out / "glorot_smoke.json").read_bytes()
    for p in written:
        p.unlink()
    redrawn = glorot.main(["--smoke", "--redraw", "--out", str(out)])
    assert {p.name for p in redrawn} == {p.name for p in written}
    assert all(p.stat().st_size > 0 for p in redrawn)
    assert (out / "glorot_smoke.json").read_bytes() == before


def _doc(top_by_replicate, tanh_sat_layer, sig_acc, tanh_acc, mode="full"):
    """A minimal results document: the sigmoid top layer's mean per epoch (init first) for
    each replicate, the tanh layer most saturated at the end, and final test accuracies."""
    n, epochs = len(top_by_replicate), len(top_by_replicate[0]) - 1
    sig_mean = np.full((n, epochs + 1, 3), 0.5)
    sig_mean[:, :, -1] = top_by_replicate
    sat = np.zeros((n, epochs + 1, 3))
    sat[:, 1:, tanh_sat_layer - 1] = 0.3

    def run(mean, saturated, acc):
        hist = np.tile(np.linspace(0.5, 1.0, epochs), (n, 1)) * np.asarray(acc)[:, None]
        return {
            "lr": 1.0,
            "stats": {
                "mean": mean.tolist(),
                "saturated": saturated.tolist(),
                "percentiles": np.stack([mean - 0.1, mean, mean + 0.1], -1).tolist(),
            },
            "history": {"test_accuracy": hist.tolist(), "val_accuracy": hist.tolist()},
        }

    runs = {
        "sigmoid": run(sig_mean, np.zeros_like(sat), sig_acc),
        "tanh": run(np.zeros((n, epochs + 1, 3)), sat, tanh_acc),
    }
    search = {
        "search": {
            "choices": [{"reason": "interior: lower 0.3 trains, upper 3 trains"}],
            "history": [{"lr": 1.0, "score": 0.9}],
        },
        "lr": 1.0,
        "lr_source": "chosen",
    }
    cfg = dict(glorot.FULL, mode=mode, seeds=list(range(n)), epochs=epochs, search_epochs=1)
    cfg |= {"surface_range": 10.0, "surface_sizes": [2, 4, 3], "replicates": "seed i"}
    cfg |= {"batch_size": glorot.BATCH_SIZE}
    surface = {"losses": {}}
    for name, frac in (("cce", 0.01), ("mse", 0.07)):
        surface["losses"][name] = {
            "plateau_fraction": frac,
            "value_range": [0.0, 1.0],
            "max_grad_norm": 1.0,
        }
    return {
        "provenance": {"config": cfg},
        "surface": surface,
        "searches": {"sigmoid": search, "tanh": search},
        "activations": runs,
        "analysis": analysis.analyse(runs, 1),
        "wall_s": 60.0,
    }


def test_top_layer_reading_finds_saturation_and_its_exit():
    r = analysis.top_layer_reading([0.5, 0.05, 0.02, 0.15, 0.3, 0.4])
    assert r["saturated"] and r["saturated_epoch"] == 1 and r["min_epoch"] == 2
    assert r["exit_epoch"] == 4  # the first epoch after the minimum with mean ≥ 0.2
    still = analysis.top_layer_reading([0.5, 0.05, 0.02, 0.03])
    assert still["saturated"] and still["exit_epoch"] is None
    never = analysis.top_layer_reading([0.5, 0.4, 0.3])
    assert not never["saturated"] and never["exit_epoch"] is None
    s = analysis.exit_summary([r, still, never], 5)
    assert (s["n_saturated"], s["n_left"], s["n_still_saturated"]) == (2, 1, 1)
    assert s["exit_epochs"] == [4, None, None] and s["median"] == 4


def test_verdicts_are_computed_from_the_replicates():
    tops = [[0.5, 0.05, 0.3, 0.4], [0.5, 0.02, 0.1, 0.3], [0.5, 0.04, 0.05, 0.25]]
    doc = _doc(tops, 1, [0.95, 0.951, 0.949], [0.98, 0.982, 0.979])
    got = {j.claim: j for j in plots.judgements(doc)}
    assert got[plots.PLATEAUS].outcome == "agree"
    assert got[plots.SIGMOID_TOP].outcome == "agree"
    assert got[plots.SIGMOID_TOP].numbers["exit_epochs"] == [2, 3, 3]
    assert got[plots.TANH_SEQUENTIAL].outcome == "agree"
    assert got[plots.SIGMOID_WORSE].outcome == "agree"  # paired: lower, Holm over 2
    comps = doc["analysis"]["comparisons"]
    assert [c["family_size"] for c in comps] == [2, 2]
    assert comps[-1]["values"]["a"] == pytest.approx([0.95, 0.951, 0.949])
    text = plots.summary_markdown(doc, "glorot.json")
    assert "in 3 of 3 replicates" in text and "at epoch 3 (median; range 2–3)" in text
    assert "2.21% test error" in text and "## README row" in text
    assert 'Family "sigmoid − tanh test accuracy": 2 comparisons' in text
    # A top layer that never saturates differs; tanh saturating most at layer 3 differs.
    flat = _doc([[0.5, 0.4, 0.3]] * 3, 3, [0.98, 0.97, 0.99], [0.97, 0.98, 0.96])
    got = {j.claim: j.outcome for j in plots.judgements(flat)}
    assert got[plots.SIGMOID_TOP] == got[plots.TANH_SEQUENTIAL] == "differ"
    # A sigmoid net at chance at every lr: the gap measures our budget, no verdict.
    doc["searches"]["sigmoid"] = dict(
        doc["searches"]["sigmoid"], lr_source="lowest validation loss, no lr trains"
    )
    got = {j.claim: j for j in plots.judgements(doc)}
    assert got[plots.SIGMOID_WORSE].outcome == "inconclusive"
    assert "the gap measures our budget" in plots.summary_markdown(doc, "glorot.json")
    # Below full size the activation verdicts are inconclusive, whatever the numbers.
    small = _doc(tops, 1, [0.95, 0.951, 0.949], [0.98, 0.982, 0.979], mode="smoke")
    assert [j.outcome for j in plots.judgements(small)][1:] == ["inconclusive"] * 3


def test_committed_results_before_the_lr_search_are_flagged_legacy():
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "results" / "glorot.json"
    if not path.exists():
        pytest.skip("no committed glorot.json")
    doc = read_json(path)
    assert plots.legacy(doc) == ("analysis" not in doc)
    assert not plots.legacy(_doc([[0.5, 0.4]] * 2, 1, [0.9, 0.9], [0.9, 0.91]))


def test_the_full_size_trains_long_enough_for_the_sigmoid_net():
    full = glorot.SIZES["full"]
    # the 5 × 256 sigmoid net sits at chance for 20,000 updates at lrs 1 and 3.16
    assert full["search_epochs"] * full["train_subset"] // glorot.BATCH_SIZE >= 20000
    assert full["epochs"] >= full["search_epochs"]
    assert len(full["seeds"]) >= 5 and full["search_seeds"] == [0]
    assert glorot.BATCH_SIZE == 10 and full["depth"] == 5  # Glorot & Bengio's setting
    assert set(glorot.SIZES) == {"smoke", "quick", "full"}


def test_budget_reads_slows_or_stops_only_on_a_long_enough_run():
    rising = {"val_accuracy": [[0.1 + 0.05 * e for e in range(12)]] * 2}
    assert analysis.budget(rising, 4)["verdict"] == "slows"
    short = analysis.budget(rising, 5)  # 12 < 3 × 5 epochs: only "still improving"
    assert short["still_improving"] and short["epochs"] == 12
    assert analysis.budget({"val_accuracy": [[0.1, 0.1]]}, 1) is None
