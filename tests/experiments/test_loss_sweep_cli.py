"""The loss_sweep CLI end to end at ``--smoke`` size on MNIST (search → finals at the
chosen lrs → budget → paired verdicts → summaries), and its --redraw guards.

One real run of each part is shared by the module (about 10 s and 25 s on 2 cores)."""

from __future__ import annotations

import shutil

import pytest

from experiments.loss_sweep import run as loss_sweep
from experiments.loss_sweep.report import QUICK_NOTE
from softjax.results import read_json

LINEAR = "loss_sweep_mnist_linear_smoke"
FIGURES = ("curves", "heatmap", "gradients", "stuck")
SMOKE = loss_sweep.SMOKE


def _argv(data_dir, out, *more):
    return ["--smoke", "--source", "idx", "--data-dir", str(data_dir), "--out", str(out), *more]


@pytest.fixture(scope="module")
def linear(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("loss_sweep")
    assert loss_sweep.main(_argv(shared_data_dir, out, "--part", "linear")) == 0
    return out


@pytest.fixture(scope="module")
def mlp(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("loss_sweep_mlp")
    assert loss_sweep.main(_argv(shared_data_dir, out, "--part", "mlp")) == 0
    return out


@pytest.mark.slow  # a CLI run: search, finals and figures (~10 s on 2 cores)
def test_a_smoke_run_trains_every_arm_at_its_chosen_lr_on_paired_replicates(linear):
    doc = read_json(linear / f"{LINEAR}.json")
    part = SMOKE["parts"]["linear"]
    arms = {(loss, s) for loss in part["losses"] for s in part["init_scales"]}
    chosen = {(c["loss"], c["init_scale"]): c["lr"] for c in doc["chosen"]}
    assert set(chosen) == arms
    # per-seed values: every arm × every replicate, each at its arm's chosen lr
    runs = doc["runs"]
    assert sorted((r["loss"], r["init_scale"], r["seed"]) for r in runs) == sorted(
        (loss, s, seed) for loss, s in arms for seed in SMOKE["seeds"]
    )
    assert all(r["lr"] == chosen[(r["loss"], r["init_scale"])] for r in runs)
    # the search ran on its own replicates, and its choices are stored with their reasons
    assert {c["arm"][0] for c in doc["search"]["choices"]} == set(part["losses"])
    assert doc["grid"]["search_seeds"] == part["search_seeds"]
    # budget: runs of a long init scale are LONGER × epochs, the others the short budget
    for r in runs:
        long = r["init_scale"] in doc["long_scales"]
        assert r["budget"] == ("long" if long else "short")
        if not r["diverged"]:
            assert r["epochs_run"] == part["epochs"] * (3 if long else 1)
    # every loss − cce comparison is a paired verdict in one Holm family
    short = doc["analysis"]["short"]
    assert len(short) == len(part["init_scales"]) * (len(part["losses"]) - 1)
    for e in short:
        if e["verdict"] is not None:
            assert e["family_size"] == len([x for x in short if x["verdict"] is not None])
            assert len(e["differences"]) == e["n"] == len(e["seeds"])
    # softmax regression carries the least-squares ceiling and the square-loss lr bound
    assert doc["ceiling"]["square_lr_bound"] > 0
    assert 0.2 < doc["ceiling"]["least_squares"]["test_accuracy"] < 1
    md = (linear / f"{LINEAR}.md").read_text()
    assert QUICK_NOTE in md and "Test accuracy, mse vs cce (paired, fixed budget" in md
    assert "Holm-corrected (α = 0.05)" in md and "Budget rule:" in md and "Run time" in md
    assert "Cuts from the issue's study: dataset fashion_mnist" in md
    assert all((linear / f"{LINEAR}_{k}.png").stat().st_size > 0 for k in FIGURES)


@pytest.mark.slow  # a CLI run (~10 s on 2 cores)
def test_redraw_rewrites_the_summary_and_figures_from_the_json_alone(linear, tmp_path):
    shutil.copy(linear / f"{LINEAR}.json", tmp_path / f"{LINEAR}.json")
    before = (tmp_path / f"{LINEAR}.json").read_bytes()
    argv = ["--smoke", "--redraw", "--part", "linear", "--out", str(tmp_path)]
    assert loss_sweep.main(argv) == 0
    assert (tmp_path / f"{LINEAR}.json").read_bytes() == before
    assert (tmp_path / f"{LINEAR}.md").read_text() == (linear / f"{LINEAR}.md").read_text()
    assert all((tmp_path / f"{LINEAR}_{k}.png").stat().st_size > 0 for k in FIGURES)


def test_redraw_without_the_json_says_so(tmp_path):
    with pytest.raises(SystemExit, match=rf"--redraw: no results at .*{LINEAR}\.json"):
        loss_sweep.main(["--smoke", "--redraw", "--part", "linear", "--out", str(tmp_path)])


@pytest.mark.slow  # a CLI run of two MLPs (~25 s on 2 cores)
def test_the_mlp_part_writes_each_model_and_a_pooled_overview(mlp):
    names = [
        loss_sweep.stem("mnist", loss_sweep.model_name(s, a), "smoke")
        for s, a in loss_sweep.models(SMOKE["parts"]["mlp"])
    ]
    assert len(names) == 2
    for name in names:
        assert read_json(mlp / f"{name}.json")["grid"]["part"] == "mlp"
    text = (mlp / "loss_sweep_mnist_mlp_smoke.md").read_text()
    assert "pooled over the 2 MLPs" in text and "negative in" in text
    assert 'family "MNIST MLPs pooled, fixed budget"' in text
    for name in names:
        assert f"({name}.md)" in text
    assert (mlp / "loss_sweep_mnist_mlp_smoke_overview.png").stat().st_size > 0
