"""Nielsen ch. 3's learning slowdown: the single neuron's gradients against the book's
closed forms (float64), and the CLI's JSON, figures and redraw."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.nielsen import run as nielsen
from softjax.results import read_json


def _sigma(z):
    return 1.0 / (1.0 + math.exp(-z))


def test_first_epoch_gradients_equal_chapter_3_closed_forms():
    spec = dict(nielsen.NEURON, epochs=2)
    runs = nielsen.run_neuron(spec)["runs"]
    assert len(runs) == 4
    x, y = spec["x"], spec["y"]
    for r in runs:
        w, b = r["start"]
        a = _sigma(w * x + b)
        # Nielsen's eqs. 55–56 (quadratic: σ′ = a(1 − a)) and 61–62 (cross-entropy).
        factor = a * (1 - a) if r["loss"] == "sigmoid_mse" else 1.0
        expected_w, expected_b = (a - y) * factor * x, (a - y) * factor
        for key, expected in (("grad_w", expected_w), ("grad_b", expected_b)):
            assert r[key][0] == pytest.approx(expected, rel=1e-13), (r["loss"], r["start"], key)
        assert r["book_grad_w"][0] == pytest.approx(expected_w, rel=1e-13)
        assert r["softjax_grad_w"][0] == pytest.approx(expected_w, rel=1e-13)
        assert r["output"][0] == pytest.approx(a, rel=1e-14)
        # One step of gradient descent with η = 0.15 from the start.
        assert r["w"][1] == pytest.approx(w - spec["lr"] * expected_w, rel=1e-13)
        cost = 0.5 * a**2 if r["loss"] == "sigmoid_mse" else -math.log(1 - a)
        assert r["cost"][0] == pytest.approx(cost, rel=1e-12)
    by = {(r["loss"], tuple(r["start"])): r for r in runs}
    # The slowdown: from (2, 2) σ′ makes the quadratic gradient ~57× smaller than CE's.
    slow, fast = by[("sigmoid_mse", (2.0, 2.0))], by[("sigmoid_bce", (2.0, 2.0))]
    assert abs(slow["grad_w"][0]) < abs(fast["grad_w"][0]) / 50


@pytest.mark.slow
def test_cli_smoke_writes_json_figures_and_redraws(tmp_path, shared_data_dir):
    args = ["--smoke", "--source", "idx", "--data-dir", str(shared_data_dir)]
    written = nielsen.main([*args, "--out", str(tmp_path)])
    names = {p.name for p in written}
    assert names == {"nielsen_smoke_neuron.png", "nielsen_smoke_mnist.png", "nielsen_smoke.md"}
    doc = read_json(tmp_path / "nielsen_smoke.json")
    assert set(doc["mnist"]) == set(nielsen.LOSS_PAIR)
    for run in doc["mnist"].values():
        acc = np.asarray(run["history"]["test_accuracy"])
        assert acc.shape == (3, 1) and np.all(acc > 0.1)  # 3 seeds, 1 epoch, above chance
    runs = {(r["loss"], tuple(r["start"])): r for r in doc["neuron"]["runs"]}
    assert runs[("sigmoid_mse", (0.6, 0.9))]["final_output"] == pytest.approx(0.09, abs=0.01)
    assert runs[("sigmoid_mse", (2.0, 2.0))]["epochs_to_output_below_half"] > 150
    text = (tmp_path / "nielsen_smoke.md").read_text()
    assert "Nielsen" in text and "95.42%" in text and "no verdict" in text
    # --redraw: figures and summary from the JSON alone, which it leaves untouched.
    before = (tmp_path / "nielsen_smoke.json").read_bytes()
    for p in written:
        p.unlink()
    redrawn = nielsen.main(["--smoke", "--redraw", "--out", str(tmp_path)])
    assert {p.name for p in redrawn} == names and all(p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / "nielsen_smoke.json").read_bytes() == before
