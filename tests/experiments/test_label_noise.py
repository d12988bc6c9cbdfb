"""Symmetric label noise (softjax.data.noise) and the label-noise study.

The corruption must flip exactly round(η·N) training labels, never to the true class,
the same way for the same key, and never touch validation or test labels. The study
draws its noise per replicate on the training AND validation labels, probes
memorisation on the flipped training images, and judges the papers' claim from the
loss × noise interaction, only where CCE memorises.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from experiments.label_noise import analysis
from experiments.label_noise import run as label_noise
from softjax.data import Dataset, corrupt_train_labels, make_gaussian_classes, symmetric_noise
from softjax.results import read_json
from softjax.sweeps.lr_search import CHANCE_MARGIN
from tests.helpers import readme_row_of


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


def test_noise_is_drawn_per_replicate_on_train_and_validation_labels():
    data = make_gaussian_classes(
        jax.random.PRNGKey(1), n=1000, dim=4, num_classes=10, validation=200
    )
    a, fa = label_noise.noisy(data, 0.4, 0)
    again, _ = label_noise.noisy(data, 0.4, 0)
    b, fb = label_noise.noisy(data, 0.4, 1)
    assert fa.sum() == fb.sum() == round(0.4 * len(data.y_train))
    assert (a.y_val != data.y_val).sum() == round(0.4 * len(data.y_val))  # noisy validation
    np.testing.assert_array_equal(a.y_train, again.y_train)  # one draw per replicate
    assert not np.array_equal(fa, fb)  # replicates draw their own noise
    assert a.x_train is data.x_train and a.y_test is data.y_test  # test stays clean
    clean, none = label_noise.noisy(data, 0.0, 3)
    np.testing.assert_array_equal(clean.y_train, data.y_train)
    assert not none.any()


def test_the_probe_is_the_flipped_training_images_with_their_noisy_labels():
    data = make_gaussian_classes(jax.random.PRNGKey(1), n=500, dim=4, num_classes=10, validation=50)
    noisy, flipped = label_noise.noisy(data, 0.2, 0)
    probe = label_noise.probe(noisy, flipped)
    np.testing.assert_array_equal(probe.x_val, noisy.x_train[flipped])
    np.testing.assert_array_equal(probe.y_val, noisy.y_train[flipped])
    assert (probe.y_val != data.y_train[flipped]).all()
    assert label_noise.probe(data, np.zeros(500, bool)) is data  # η = 0: validation kept


def test_the_search_margin_maps_the_clean_margin_through_the_noise():
    assert label_noise.noisy_margin(0.0) == pytest.approx(CHANCE_MARGIN)
    assert label_noise.noisy_margin(0.9) == pytest.approx(0.0)  # (K−1)/K: no signal left
    # A net 5 points above chance on clean labels is this far above it on noisy ones.
    a, eta = 0.1 + CHANCE_MARGIN, 0.6
    noisy_acc = a * (1 - eta) + (1 - a) * eta / 9
    assert noisy_acc - 0.1 == pytest.approx(label_noise.noisy_margin(eta))


def _runs(tests, fit=0.99, seeds=range(5)):
    """Hand-made final runs: ``tests[(rate, loss)]`` the clean test accuracy of replicate
    0 (replicate i adds i/1000 in every arm); CCE's training fit ``fit``."""
    out = []
    for (rate, loss), acc in tests.items():
        for s in seeds:
            out.append(
                dict(
                    loss=loss,
                    rate=rate,
                    lr=0.1,
                    seed=s,
                    diverged=False,
                    budget="short",
                    curves={"train_accuracy_noisy": [0.5, fit], "memorised": [0.1, 0.2]},
                    test_short=acc + s / 1000 + (s % 2) * 0.002 * (loss == "mae"),
                    train_acc_noisy_labels=fit if loss == "cce" else 0.7,
                    train_acc_clean_labels=0.8,
                    memorised_final=0.9 if loss == "cce" else 0.1,
                )
            )
    return out


TESTS = {(0.0, "cce"): 0.90, (0.0, "mae"): 0.88, (0.6, "cce"): 0.60, (0.6, "mae"): 0.85}


def test_the_interaction_is_the_paired_difference_in_differences():
    got = analysis.analyse(_runs(TESTS))["protocols"]["tuned"]
    assert got["judged_budget"] == "short"  # no longer runs in this document
    assert got["interaction"]["long"] == [] and got["cells"]["long"] == []
    (inter,) = got["interaction"]["short"]
    # (0.85 − 0.60) − (0.88 − 0.90) = +0.27, the same in every replicate but for ±0.002.
    assert inter["mean"] == pytest.approx(0.27, abs=0.002)
    assert inter["verdict"] == "higher" and inter["family_size"] == 1
    assert inter["seeds"] == [0, 1, 2, 3, 4]
    assert inter["family"].endswith(", fixed budget, tuned lr")
    assert {d["comparison"] for d in got["difference"]["short"]} == {
        "mae − cce at η = 0",
        "mae − cce at η = 0.6",
    }
    regime = got["regime"]["short"]["0.6"]
    assert regime["reached"] and regime["memorised"] == 0.9


def test_the_fixed_protocol_shares_the_clean_runs():
    runs = _runs(TESTS)
    for r in list(runs):
        if r["rate"] > 0:
            runs.append(r | {"protocol": "fixed", "test_short": r["test_short"] + 0.05})
    got = analysis.analyse(runs)
    assert set(got["protocols"]) == {"tuned", "fixed"}
    (inter,) = got["protocols"]["fixed"]["interaction"]["short"]
    assert inter["family"].endswith("fixed budget, fixed lr")
    assert inter["mean"] == pytest.approx(0.27, abs=0.002)  # +0.05 in both arms cancels
    assert {j["numbers"]["protocol"] for j in got["judgements"]} == {"tuned", "fixed"}


def test_the_claim_is_judged_only_where_cce_memorises():
    (j,) = analysis.analyse(_runs(TESTS))["judgements"]
    assert (j["claim"], j["outcome"]) == (analysis.CLAIM, "agree")
    (j,) = analysis.analyse(_runs(TESTS, fit=0.6))["judgements"]
    assert j["outcome"] == "inconclusive" and j["numbers"]["regime"] is False
    worse = dict(TESTS) | {(0.6, "mae"): 0.40}
    (j,) = analysis.analyse(_runs(worse))["judgements"]
    assert j["outcome"] == "differ" and j["numbers"]["verdict"] == "lower"


def test_the_claim_is_judged_at_the_longer_budget_and_compared_with_the_fixed_one():
    runs = _runs(TESTS)
    for r in list(runs):  # the longer runs: CCE loses 10 points at η = 0.6, the rest keep
        drop = 0.1 if (r["rate"], r["loss"]) == (0.6, "cce") else 0.0
        runs.append(r | {"budget": "long", "test_long": r["test_short"] - drop})
        runs[-1].pop("test_short")
    got = analysis.analyse(runs)["protocols"]["tuned"]
    assert got["judged_budget"] == "long"
    (j,) = got["judgements"]
    assert j["numbers"]["mean"] == pytest.approx(0.37, abs=0.002)  # 0.27 + the 0.1 lost
    budget = {b["comparison"]: b for b in got["budget"]}
    assert (
        len(budget) == 4 and budget["cce at η = 0.6: longer − fixed budget"]["verdict"] == "lower"
    )
    assert budget["cce at η = 0.6: longer − fixed budget"]["mean"] == pytest.approx(-0.1)
    assert budget["mae at η = 0: longer − fixed budget"]["verdict"] == "equivalent"


def test_improving_reads_the_slope_at_the_end():
    got = analysis.improving(
        {"a": [0.1, 0.2, 0.3, 0.4], "b": [0.5, 0.5, 0.5, 0.5], "c": [0.1, None, 0.2]}
    )
    assert got == ["a"]


@pytest.mark.slow
def test_cli_smoke_writes_json_figure_summary_and_redraws(shared_data_dir, tmp_path):
    argv = ["--smoke", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    written = label_noise.main(argv)
    assert {p.name for p in written} == {"label_noise_smoke.png", "label_noise_smoke.md"}
    doc = read_json(tmp_path / "label_noise_smoke.json")
    cfg = doc["provenance"]["config"]
    assert cfg["mode"] == "smoke" and cfg["losses"] == list(label_noise.LOSSES)
    for rate, entry in doc["rates"].items():
        assert entry["n_flipped"] == round(float(rate) * cfg["train_subset"])
        assert {c["arm"][0] for c in entry["search"]["choices"]} == set(label_noise.LOSSES)
    assert set(doc["analysis"]["protocols"]) == {"tuned", "fixed"}
    for budget, epochs in (("short", 3), ("long", 9)):
        runs = [r for r in doc["runs"] if r["budget"] == budget]
        per_protocol = len(label_noise.LOSSES) * len(cfg["seeds"])
        # tuned at every rate; fixed (the η = 0 lrs) at every rate > 0
        assert len(runs) == per_protocol * (2 * len(cfg["rates"]) - 1)
        fixed = [r for r in runs if r["protocol"] == "fixed"]
        lrs0 = doc["rates"]["0.0"]["lrs"]
        assert fixed and all(r["lr"] == lrs0[r["loss"]] and r["rate"] > 0 for r in fixed)
        assert all(len(r["curves"]["train_accuracy_noisy"]) == epochs for r in runs)
        assert all(0 <= r[f"test_{budget}"] <= 1 for r in runs)
    for r in doc["runs"]:  # per-seed values, the per-epoch memorised fraction where η > 0
        assert ("memorised" in r["curves"]) == (r["rate"] > 0)
        assert (r["memorised_final"] is None) == (r["rate"] == 0)
        if r["rate"] > 0:  # the probe's last epoch is the final params' memorised fraction
            assert r["curves"]["memorised"][-1] == pytest.approx(r["memorised_final"], abs=1e-6)
    text = (tmp_path / "label_noise_smoke.md").read_text()
    assert "Ghosh, Kumar & Sastry" in text and "Zhang & Sabuncu" in text
    assert "smoke size: not the study's numbers" in text and "Run time:" in text
    assert "δ ±1 pp" in readme_row_of(text)
    for p in written:
        p.unlink()
    redrawn = label_noise.main([*argv, "--redraw"])
    assert all(p.exists() and p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / "label_noise_smoke.md").read_text() == text


def test_redraw_without_results_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no results"):
        label_noise.main(["--smoke", "--redraw", "--out", str(tmp_path)])
