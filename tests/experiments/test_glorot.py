"""Glorot & Bengio (2010): the CLI at --smoke writes its JSON and figures and redraws
them from the JSON alone; the surface's grid values are the losses of the modified net."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import softjax
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
    for run in doc["activations"].values():
        mean = np.asarray(run["stats"]["mean"])
        # (seeds, epochs + 1 (init first), hidden layers)
        assert mean.shape == (mode["seeds"], mode["epochs"] + 1, mode["depth"])
        perc = np.asarray(run["stats"]["percentiles"])
        assert perc.shape == (*mean.shape, len(glorot.PERCENTILES))
        assert np.all(np.diff(perc, axis=-1) >= 0)  # 2nd ≤ 50th ≤ 98th
    sig = np.asarray(doc["activations"]["sigmoid"]["stats"]["mean"])
    assert np.all((sig > 0) & (sig < 1))
    text = (out / "glorot_smoke.md").read_text()
    assert "Glorot and Y. Bengio" in text and "no verdict" in text
    assert "starting with layer 1" in text


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
