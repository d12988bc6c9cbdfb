"""The gradient-swap study (issue 30): its factorial analysis on synthetic records with a
known effect and on pure noise, its per-run measures, and its CLI end to end."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.gradient_swap import analysis, report
from experiments.gradient_swap import run as gradient_swap
from softjax.results import read_json

RULES = analysis.RULES


def _records(effects, scales=(1.0, 10.0), noise=0.002, n=10, seed=0):
    """Synthetic runs: test accuracy 0.9 + effect of (direction, norm) + per-replicate
    noise, for three models × two datasets at each init scale. ``effects[scale]`` maps
    a rule's (direction, norm) cell to its shift."""
    rng = np.random.default_rng(seed)
    runs = []
    for scale in scales:
        for dataset in ("mnist", "fashion_mnist"):
            for model in ("linear", "mlp_relu", "mlp_tanh"):
                shared = rng.normal(0, 0.01, n)  # a replicate's luck, common to the rules
                for rule in RULES:
                    shift = effects[scale].get(analysis.CELL[rule], 0.0)
                    for seed_i in range(n):
                        value = 0.9 + shift + shared[seed_i] + rng.normal(0, noise)
                        runs.append(
                            dict(
                                dataset=dataset,
                                model=model,
                                init_scale=scale,
                                rule=rule,
                                seed=seed_i,
                                test_short=float(value),
                                budget="short",
                            )
                        )
    return runs


def _by_effect(entry):
    return {v["comparison"]: v for v in entry["verdicts"]}


def test_the_factorial_recovers_a_known_norm_effect():
    # MSE's norm costs 20 points at init 10 whatever the direction; nothing at init 1.
    effects = {1.0: {}, 10.0: {("ce", "mse"): -0.20, ("mse", "mse"): -0.20}}
    result = analysis.analyse(_records(effects))
    by_scale = {e["init_scale"]: e for e in result["short"]}
    big = _by_effect(by_scale[10.0])
    assert big[analysis.NORM]["verdict"] == "lower"
    assert big[analysis.NORM]["mean"] == pytest.approx(-0.20, abs=0.003)
    assert big[analysis.NORM]["low"] < -0.20 < big[analysis.NORM]["high"]
    assert big[analysis.DIRECTION]["verdict"] == "equivalent"
    assert big[analysis.INTERACTION]["verdict"] == "equivalent"
    assert big[analysis.NORM]["family_size"] == 3 and big[analysis.NORM]["n"] == 6
    small = _by_effect(by_scale[1.0])
    assert {v["verdict"] for v in small.values()} == {"equivalent"}
    assert {c["init_scale"]: c["outcome"] for c in result["checks"]} == {
        1.0: "supports",
        10.0: "supports",
    }
    per = by_scale[10.0]["per_setting"]
    assert len(per) == 18 and {v["family_size"] for v in per} == {18}
    norm = [v for v in per if v["comparison"].endswith(analysis.NORM)]
    assert [v["verdict"] for v in norm] == ["lower"] * 6


def test_the_factorial_sees_a_direction_effect_as_contradicting_the_prediction():
    effects = {10.0: {("mse", "ce"): -0.20, ("mse", "mse"): -0.20}}
    result = analysis.analyse(_records(effects, scales=(10.0,)))
    big = _by_effect(result["short"][0])
    assert big[analysis.DIRECTION]["verdict"] == "lower"
    assert big[analysis.NORM]["verdict"] == "equivalent"
    (check,) = result["checks"]
    assert (check["init_scale"], check["large"], check["outcome"]) == (10.0, True, "contradicts")
    # Each setting alone (n = 10 paired, Holm over 3 × 6) says the same.
    assert set(check["per_setting"].values()) == {"contradicts"}
    assert len(check["per_setting"]) == 6


def test_the_factorial_says_inconclusive_on_pure_noise():
    result = analysis.analyse(_records({1.0: {}, 10.0: {}}, noise=0.05, n=10, seed=3))
    for entry in result["short"]:
        assert [v["verdict"] for v in entry["verdicts"]] == ["inconclusive"] * 3
        assert all(v["low"] < 0 < v["high"] for v in entry["verdicts"])
    assert {c["outcome"] for c in result["checks"]} == {"inconclusive"}
    # Per setting, Holm holds the family-wise error at 5%: a stray call at most.
    calls = [v for e in result["short"] for v in e["per_setting"] if v["verdict"] != "inconclusive"]
    assert len(calls) <= 1 and all(v["verdict"] != "equivalent" for v in calls)


def test_a_replicate_diverged_in_one_rule_leaves_its_setting_paired():
    runs = _records({10.0: {}}, scales=(10.0,))
    hit = next(r for r in runs if r["rule"] == "mse" and r["seed"] == 4)
    hit["test_short"] = None
    entry = analysis.factorial_by_scale(runs)[0]
    setting = entry["settings"][f"{hit['dataset']}/{hit['model']}"]
    assert setting["n"] == 9 and setting["dropped"] == [4]
    assert all(s["n"] == 10 for k, s in entry["settings"].items() if s is not setting)


def test_run_measures_read_the_budget_target_and_stuck():
    history = {
        "train_accuracy": [0.5, 0.8, 0.9, 0.95],
        "val_accuracy": [0.5, 0.85, 0.91, 0.93],
        "test_accuracy": [0.4, 0.8, 0.9, 0.94],
        "saturated_wrong": [0.3, 0.2, 0.1, 0.05],
    }
    m = analysis.run_measures(history, False, short=2, target=0.9, classes=10)
    assert (m["test_short"], m["test_long"], m["epochs_to_target"], m["stuck"]) == (
        0.8,
        0.94,
        3,
        False,
    )
    stuck = {k: [0.11] * 3 for k in ("train_accuracy", "val_accuracy", "test_accuracy")}
    m = analysis.run_measures(stuck, False, short=3, target=0.9, classes=10)
    assert m["stuck"] and m["epochs_to_target"] is None and m["test_long"] is None
    assert analysis.run_measures(stuck, True, short=3, target=0.9, classes=10)["test_short"] is None


def test_the_budget_check_names_the_arms_still_improving():
    curves = {("mse", 100.0): [0.3, 0.4, 0.5, 0.6], ("cce", 100.0): [0.8, 0.85, 0.85, 0.85]}
    curves[("cce", 1.0)] = [0.5, float("nan"), 0.9, 0.95]
    assert analysis.improving_settings(curves) == [("mse", 100.0)]


def test_the_full_size_names_what_it_cuts():
    assert gradient_swap.cut(gradient_swap.SIZES["full"]) == ["the MLPs on fashion_mnist"]
    assert gradient_swap.models_for(gradient_swap.SIZES["full"], "fashion_mnist") == ["linear"]
    quick = gradient_swap.cut(gradient_swap.SIZES["quick"])
    assert "dataset fashion_mnist" in quick and "linear init scales 3, 10, 30" in quick


@pytest.mark.slow
def test_cli_smoke_writes_json_summary_figures_and_redraws(shared_data_dir, tmp_path):
    argv = ["--smoke", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    written = gradient_swap.main(argv)
    stem = "gradient_swap_smoke"
    assert {p.name for p in written} == {
        f"{stem}_accuracy.png",
        f"{stem}_effects.png",
        f"{stem}_saturation.png",
        f"{stem}.md",
    }
    doc = read_json(tmp_path / f"{stem}.json")
    size = gradient_swap.SIZES["smoke"]
    # Every rule at every init scale, each replicate once, per-seed values kept.
    keys = {(r["rule"], r["init_scale"], r["seed"]) for r in doc["runs"]}
    assert keys == {(rule, s, i) for rule in RULES for s in (1.0, 30.0) for i in size["seeds"]}
    assert all(len(r["curves"]["val_accuracy"]) == r["epochs_run"] for r in doc["runs"])
    assert all("saturated_wrong" in r["curves"] for r in doc["runs"])
    # The finals reproduce the lr search's runs: on the search's replicates, the mean
    # validation accuracy at the fixed budget is the search's score at that lr (a longer
    # run's first epochs are the shorter run's), so each arm ran exactly at its lr.
    scores = {
        (tuple(h["arm"]), h["lr"]): h["score"]
        for h in doc["models"]["mnist/linear"]["search"]["history"]
    }
    checked = 0
    for rule in RULES:
        for s in (1.0, 30.0):
            mine = [
                r
                for r in doc["runs"]
                if (r["rule"], r["init_scale"]) == (rule, s)
                and r["seed"] in size["search_seeds"]
                and not r["diverged"]
            ]
            if len(mine) < len(size["search_seeds"]):
                continue
            got = np.mean([r["curves"]["val_accuracy"][size["epochs"] - 1] for r in mine])
            assert got == pytest.approx(scores[((rule, s), mine[0]["lr"])], abs=5e-4)
            checked += 1
    assert checked >= 6
    # The verdicts are stored, and are what the stored runs give.
    assert doc["analysis"] == read_json(tmp_path / f"{stem}.json")["analysis"]
    recomputed = analysis.analyse(doc["runs"])
    assert recomputed["short"] == doc["analysis"]["short"]
    text = (tmp_path / f"{stem}.md").read_text()
    assert text.index("## The prediction") < text.index("## Factorial estimates")
    assert "Cut from the issue's settings" in text and "## README row" in text
    for p in written:
        p.unlink()
    redrawn = gradient_swap.main([*argv, "--redraw"])
    assert all(p.exists() and p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / f"{stem}.md").read_text() == text


def test_the_summary_states_the_prediction_before_the_numbers():
    assert "the norm factor carries the effect at large init" in report.PREDICTION


def test_the_cli_takes_the_shared_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        gradient_swap.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--quick", "--smoke", "--redraw", "--out", "--config", "--dataset", "--source"):
        assert flag in text, flag


def test_redraw_without_results_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no results"):
        gradient_swap.main(["--smoke", "--redraw", "--out", str(tmp_path)])
