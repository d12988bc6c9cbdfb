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


def _history(test, val):
    return {"test_accuracy": test, "val_accuracy": val}


def test_the_gap_is_read_at_each_seeds_validation_chosen_epoch_and_paired():
    from experiments.nielsen import analysis

    # Seed i's best validation epoch is epoch 2 for the quadratic cost, epoch 1 for CE.
    quad = _history([[0.90, 0.95, 0.96]] * 6, [[0.1, 0.9, 0.2]] * 6)
    ce = [[0.9530 + 0.0002 * i, 0.97, 0.99] for i in range(6)]
    found = analysis.analyse(
        {
            "sigmoid_mse": {"history": quad},
            "sigmoid_bce": {"history": _history(ce, [[0.9, 0.2, 0.1]] * 6)},
        },
        seeds=list(range(6)),
    )
    assert found["per_seed"]["sigmoid_mse"]["chosen_epoch"] == [2] * 6
    assert found["per_seed"]["sigmoid_bce"]["at_chosen"] == pytest.approx(
        [0.953, 0.9532, 0.9534, 0.9536, 0.9538, 0.954]
    )
    v = {d["comparison"]: d for d in found["verdicts"]}
    assert v[analysis.PRIMARY]["mean"] == pytest.approx(0.0035)  # CE − quadratic, paired
    assert v["at the best test epoch"]["mean"] == pytest.approx(0.03)
    assert {d["family_size"] for d in found["verdicts"]} == {3}
    # +0.35 pp with a tight interval: a real difference, bounded within ±0.5 pp.
    assert v[analysis.PRIMARY]["verdict"] == "higher" and analysis.bounded(v[analysis.PRIMARY])
    assert found["judgement"]["outcome"] == "agree"
    # A gap beyond the margin differs; a wide interval cannot tell.
    wide = dict(v[analysis.PRIMARY], mean=0.02, low=0.012, high=0.028, p_equivalence_adjusted=1.0)
    assert analysis.judgement([wide]).outcome == "differ"
    vague = dict(wide, verdict="inconclusive", low=-0.01)
    assert analysis.judgement([vague]).outcome == "inconclusive"
