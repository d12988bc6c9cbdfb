"""The benchmarks' arithmetic: FLOP counts, the floor program, the paired ratios.

Benchmarks are not tests (nothing is timed here); these check the figures they divide by.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.cases import CASES
from benchmarks.floors import case_flops, floor_system, make_floor, step_flops
from benchmarks.timing import interleaved, paired_median, summarize


def test_case_flops_match_issue_14():
    # One seed-config run (784-10, batch 64, 5 epochs, test eval each epoch): 10.2 GFLOP;
    # the 48-config sweep: 489 GFLOP.
    one = case_flops(60000, 10000, 64, 5, (784, 10))
    assert one == 5 * (60000 * 4 * 7840 + 10000 * 2 * 7840)
    assert round(one / 1e9, 1) == 10.2
    assert round(48 * one / 1e9) == 489


def test_step_flops_three_matmuls_per_layer_but_the_first_input_gradient():
    b, d, h, k = 100, 784, 400, 10
    assert step_flops(b, (d, h, k)) == 2 * b * (3 * d * h + 3 * h * k) - 2 * b * d * h
    assert step_flops(b, (d, k)) == 2 * 2 * b * d * k


@pytest.mark.parametrize("sizes", [(784, 10), (784, 30, 10)])
def test_floor_program_does_the_matmuls_it_counts(sizes):
    # XLA counts a loop body once: with one step per epoch and one epoch, its figure is
    # the program's, up to the O(weights) updates.
    floor, flops = make_floor(sizes, batch=8, epochs=1)
    ws = tuple(jnp.zeros((i, o)) for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    compiled = floor.lower(jnp.zeros((8, 784)), jnp.zeros((5, 784)), ws).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    counted = flops(8, 5)
    assert counted <= cost["flops"] <= counted * 1.1


def test_floor_system_runs_and_keeps_shapes():
    run, flops = floor_system((784, 20), 4, 1, np.ones((9, 784), np.float32), np.ones((3, 784)))
    (w,) = run()
    assert w.shape == (784, 20)
    assert flops == 2 * (2 * 2 * 4 * 784 * 20) + 2 * 3 * 784 * 20  # 2 steps, 1 test pass


def test_summarize_pairs_rounds_and_scales():
    times = {
        "softjax": {"wall": [1.0, 2.0, 4.0], "cpu": [1.0, 1.0, 1.0]},
        "peer": {"wall": [2.0, 2.0, 2.0], "cpu": [3.0, 3.0, 3.0]},
    }
    rows = summarize(times, reference="softjax", scale={"peer": 2.0})
    assert rows["peer"]["wall_s"] == 4.0
    assert rows["peer"]["wall_vs_softjax"] == 2.0  # per round: 4, 2, 1
    assert rows["peer"]["cpu_vs_softjax"] == 6.0
    assert rows["peer"]["scaled_by"] == 2.0
    assert paired_median([1.0, 9.0, 4.0], [1.0, 3.0, 1.0]) == 3.0


def test_interleaved_runs_round_robin():
    calls = []
    systems = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times, _ = interleaved(systems, 2, warmup=True)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert all(len(times[n][c]) == 2 for n in "ab" for c in ("wall", "cpu"))


def test_every_case_has_a_softjax_row_and_compiles_only_known_systems():
    for case in CASES.values():
        assert "softjax" in case.systems
        assert set(case.compiles) <= set(case.systems)
        assert case.cold <= set(case.systems)
