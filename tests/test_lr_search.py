"""The lr search (softjax.sweeps.lr_search) on synthetic score functions of lr with a
chance plateau, a unimodal bump and a divergence cliff, and once on a real tiny sweep."""

from __future__ import annotations

import doctest
import json
import math

import jax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softjax.config import TrainConfig
from softjax.data.synthetic import make_blobs
from softjax.sweeps import lr_search, sweep
from softjax.sweeps.lr_search import (
    EDGE_RESOLUTION,
    LR_RANGE,
    RESOLUTION,
    choose,
    propose,
    scores_from_records,
    search_lrs,
    status,
    sweep_evaluator,
)

CHANCE = 0.1


def bump(lr, *, peak, cliff, floor, width=0.6, top=0.95):
    """Chance below ``floor``, a bump in log lr peaking at ``peak``, diverged past ``cliff``."""
    if lr > cliff:
        return math.nan
    if lr < floor:
        return CHANCE
    return CHANCE + (top - CHANCE) * math.exp(-(math.log10(lr / peak) ** 2) / (2 * width**2))


def evaluator(fn, calls=None):
    def evaluate(lrs_by_arm):
        if calls is not None:
            calls.append({a: list(v) for a, v in lrs_by_arm.items()})
        return {arm: {lr: fn(arm, lr) for lr in lrs} for arm, lrs in lrs_by_arm.items()}

    return evaluate


def test_doctests():
    result = doctest.testmod(lr_search)
    assert result.attempted > 0 and result.failed == 0


def test_status_of_a_score():
    assert status(None, CHANCE) == status(math.inf, CHANCE) == "diverged"
    assert status(0.14, CHANCE) == "chance" and status(0.16, CHANCE) == "trains"


@settings(max_examples=60, deadline=None)
@given(st.floats(-4.5, -0.5), st.floats(0.4, 2.0), st.floats(0.3, 0.9))
def test_finds_a_symmetric_optimum_within_sqrt3(log_peak, cliff_decades, width):
    peak = 10**log_peak
    cliff = peak * 10**cliff_decades
    fn = lambda arm, lr: bump(lr, peak=peak, cliff=cliff, floor=peak / 300, width=width)  # noqa: E731
    result = search_lrs(evaluator(fn), ["a"], chance=CHANCE)
    c = result.choices["a"]
    assert result.converged
    assert abs(math.log(c.lr / peak)) <= math.log(math.sqrt(3))
    # Refined: both neighbours within about √3 (10^¼, 1% rounding slack).
    assert c.lower[0] * RESOLUTION * 1.01 >= c.lr and c.upper[0] <= c.lr * RESOLUTION * 1.01
    # Spanned up to divergence and from below the useful range.
    assert status(fn("a", max(c.lrs_tried)), CHANCE) != "trains" and min(c.lrs_tried) < c.lr
    # Interior only when both neighbours trained.
    assert c.interior == (c.lower[1] == c.upper[1] == "trains")


@settings(max_examples=40, deadline=None)
@given(st.floats(-4.0, -0.5), st.floats(1.05, 1.7))
def test_a_diverged_neighbour_is_an_edge_never_a_bracket(log_peak, cliff_ratio):
    # Scores rise up to the cliff: the best lr sits next to divergence.
    peak = 10**log_peak
    fn = lambda arm, lr: bump(lr, peak=peak, cliff=peak / cliff_ratio, floor=peak / 300)  # noqa: E731
    c = search_lrs(evaluator(fn), ["a"], chance=CHANCE).choices["a"]
    assert c.verdict == "edge" and not c.interior
    assert c.upper[1] == "diverged" and "upper" in c.reason and "diverged" in c.reason
    # Refined towards the edge further than towards a neighbour that trains: the
    # diverged neighbour within ×1.15 (rule 3), the lower one (trains) within about √3.
    assert c.upper[0] / c.lr <= EDGE_RESOLUTION * 1.01
    assert c.lr / c.lower[0] <= RESOLUTION * 1.01
    # The optimum of what trains (the cliff) is within that last step.
    assert c.lr <= peak / cliff_ratio < c.upper[0]


def test_chance_everywhere_says_no_lr_trains_after_spanning_the_range():
    result = search_lrs(evaluator(lambda arm, lr: 0.12), ["a"], chance=CHANCE)
    c = result.choices["a"]
    assert c.lr is None and c.verdict == "no lr trains" and "no lr trains" in c.render()
    assert min(c.lrs_tried) == pytest.approx(LR_RANGE[0])
    assert max(c.lrs_tried) == pytest.approx(LR_RANGE[1])
    assert result.converged


def test_a_start_grid_at_chance_is_left_for_the_lrs_that_train():
    # The re-analysis's deep-ReLU MSE case: 1e-3 … 1 at chance, only lrs ≤ 3e-4 train.
    def fn(arm, lr):
        return 0.12 if lr >= 1e-3 else bump(lr, peak=2e-4, cliff=1.0, floor=1e-6)

    c = search_lrs(evaluator(fn), ["mse"], chance=CHANCE).choices["mse"]
    assert abs(math.log(c.lr / 2e-4)) <= math.log(math.sqrt(3)) and c.score > 0.9
    # Its upper neighbour sat at chance: not a bracket.
    assert c.upper[1] in ("trains", "chance")
    assert c.interior == (c.upper[1] == "trains" and c.lower[1] == "trains")


def test_selects_only_runs_that_train():
    scores = {0.01: 0.13, 0.1: 0.5, 1.0: math.nan, 0.0316: 0.2}
    c = choose("a", scores, chance=CHANCE)
    assert c.lr == 0.1 and c.lower == (0.0316, "trains") and c.upper == (1.0, "diverged")
    assert c.verdict == "edge"
    assert choose("b", {0.1: 0.12, 1.0: None}, chance=CHANCE).lr is None


def test_propose_refines_towards_both_neighbours_and_spans():
    # Best 0.1, neighbours ×10 away: two midpoints; the largest lr trains: one more above.
    new = propose({0.01: 0.5, 0.1: 0.8, 1.0: 0.6}, chance=CHANCE)
    assert new == [0.0316, 0.316, 10.0]
    # Diverged above: no span up; the midpoint towards it is still proposed.
    assert propose({0.01: 0.5, 0.1: 0.8, 1.0: None}, chance=CHANCE) == [0.0316, 0.316]
    # Nothing trains and the largest diverged: only downwards.
    assert propose({0.1: 0.1, 1.0: None}, chance=CHANCE) == [0.01]
    # Refined to 10^¼ and spanned: done.
    assert propose({0.0178: 0.7, 0.0316: 0.8, 0.0562: 0.75, 1.0: None}, chance=CHANCE) == []


def test_one_round_is_one_call_for_every_arm_and_history_is_data():
    calls = []

    def fn(arm, lr):
        peak = {"cce": 0.3, "mse": 3e-3}[arm]
        return bump(lr, peak=peak, cliff=peak * 20, floor=peak / 300)

    result = search_lrs(evaluator(fn, calls), ["cce", "mse"], chance=CHANCE)
    assert len(calls) == result.rounds and set(calls[0]) == {"cce", "mse"}
    assert calls[0]["cce"] == [0.001, 0.01, 0.1, 1.0]
    rows = result.history
    assert {r["round"] for r in rows} == set(range(result.rounds))
    assert len(rows) == sum(len(v) for call in calls for v in call.values())
    assert all(set(r) == {"round", "arm", "lr", "score", "status"} for r in rows)
    doc = json.loads(json.dumps(result.as_dict()))  # JSON-ready
    assert doc["rounds"] == result.rounds and len(doc["history"]) == len(rows)
    assert {c["arm"] for c in doc["choices"]} == {"cce", "mse"}
    assert all(c["interior"] == (c["verdict"] == "interior") for c in doc["choices"])
    for arm, peak in (("cce", 0.3), ("mse", 3e-3)):
        assert abs(math.log(result.choices[arm].lr / peak)) <= math.log(math.sqrt(3))


def test_max_rounds_stops_and_says_so():
    fn = lambda arm, lr: bump(lr, peak=0.02, cliff=1.0, floor=1e-5)  # noqa: E731
    result = search_lrs(evaluator(fn), ["a"], chance=CHANCE, max_rounds=1)
    assert result.rounds == 1 and not result.converged


def test_bad_arguments_and_a_short_evaluate_are_named():
    with pytest.raises(ValueError, match="arms"):
        search_lrs(evaluator(lambda a, lr: 0.5), [], chance=CHANCE)
    with pytest.raises(ValueError, match="start"):
        search_lrs(evaluator(lambda a, lr: 0.5), ["a"], chance=CHANCE, start=[0.0])
    with pytest.raises(ValueError, match="evaluate"):
        search_lrs(lambda req: {"a": {}}, ["a"], chance=CHANCE)
    with pytest.raises(ValueError, match="metric"):
        sweep_evaluator(sweep, TrainConfig(sizes=(2, 3)), None, replicates=[0], metric="test_x")


def test_scores_from_records_mean_over_replicates_and_divergence():
    def rec(loss, lr, seed, acc, diverged=False):
        return {
            "loss": loss,
            "loss_spec": loss,
            "init_scale": 1.0,
            "lr": lr,
            "seed": seed,
            "data_seed": seed,
            "diverged": diverged,
            "history": {"val_accuracy": [0.2, acc]},
        }

    records = [rec("cce", 0.1, s, 0.8 + s / 10) for s in range(2)]
    records += [rec("cce", 1.0, 0, 0.9), rec("cce", 1.0, 1, 0.3, diverged=True)]
    got = scores_from_records(records, [("cce", 1.0)], "val_accuracy")
    assert got == {("cce", 1.0): {0.1: pytest.approx(0.85), 1.0: None}}
    # A spec with arguments is named by a key of ``losses``; records carry its spec.
    smoothed = ("cce_smoothed", {"smoothing": 0.1})
    other = [r | {"loss": "cce_smoothed", "loss_spec": list(smoothed)} for r in records[:2]]
    got = scores_from_records(other, [("ls", 1.0)], "val_accuracy", {"ls": smoothed})
    assert got == {("ls", 1.0): {0.1: pytest.approx(0.85)}}


@pytest.mark.slow
def test_a_real_tiny_sweep_through_the_adapter():
    """Two rounds, two compiled programs: each round one sweep with per-loss lr lists."""
    data = make_blobs(jax.random.PRNGKey(0), n_per_class=40, validation=24)
    base = TrainConfig(sizes=(2, 3), batch_size=16, epochs=3)
    records = []
    evaluate = sweep_evaluator(
        sweep, base, data, replicates=[0, 1], records=records, progress=False
    )
    arms = [("cce", 1.0), ("square", 1.0)]
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = search_lrs(evaluate, arms, chance=1 / 3, start=[0.01, 0.3, 10.0], max_rounds=2)
    assert result.rounds == 2
    for arm in arms:
        c = result.choices[arm]
        assert c.lr is not None and c.score > 1 / 3 + 0.05
        trained = {r["lr"] for r in records if (r["loss"], r["init_scale"]) == arm}
        assert set(c.lrs_tried) <= trained
    # Square loss diverges at lr 10 on these blobs; it is never chosen nor a bracket.
    sq = result.choices[("square", 1.0)]
    assert any(r["status"] == "diverged" for r in result.history if r["arm"] == ("square", 1.0))
    assert sq.lr < 10.0 and sq.upper[0] < 10.0
    assert {r["seed"] for r in records} == {0, 1} and all(
        r["seed"] == r["data_seed"] for r in records
    )


def test_a_neighbour_that_trains_is_not_refined_past_the_resolution():
    # ×1.78 on both sides, both train: done; the same gap to a diverged or chance-level
    # neighbour is refined (rule 3), to a chance-level one as to a diverged one.
    trains = {0.0562: 0.7, 0.1: 0.8, 0.178: 0.75, 0.316: None}  # spanned to divergence
    assert propose(trains, chance=CHANCE) == []
    assert propose(trains | {0.178: None}, chance=CHANCE) == [0.133]
    assert propose(trains | {0.0562: 0.12}, chance=CHANCE) == [0.075]
    # edge_resolution = resolution is the old rule: an edge refined like any neighbour
    assert propose(trains | {0.178: None}, chance=CHANCE, edge_resolution=RESOLUTION) == []


@pytest.mark.parametrize("bad", [1.0, 0.5, 2.0, "1.1"])
def test_an_edge_resolution_outside_1_to_the_resolution_names_itself(bad):
    with pytest.raises(ValueError, match="edge_resolution"):
        search_lrs(evaluator(lambda arm, lr: 0.5), ["a"], chance=CHANCE, edge_resolution=bad)
