"""The edge check (issue 33): which arms it refines, the finer lrs, the re-choice by the
search's rule, the verdict diff; and one CLI run on a loss-study smoke run whose choice
is made an edge, which must retrain the committed runs at the choice."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from experiments.edge_check import edges, literature, studies
from experiments.edge_check import run as edge_check
from experiments.loss_sweep import run as loss_sweep
from softjax.results import read_json, write_json

COMMITTED = Path(__file__).resolve().parents[2] / "results"
"""The repo's committed results (never ``results_dir()``: CI points that at scratch)."""


def _choice(lr, lower, upper, verdict="edge"):
    return {"lr": lr, "verdict": verdict, "lower": lower, "upper": upper}


def test_only_diverged_chance_or_untried_neighbours_are_refined_towards():
    assert (
        edges.bad_neighbours(_choice(0.1, [0.0562, "trains"], [0.178, "trains"], "interior")) == []
    )
    assert edges.bad_neighbours(_choice(None, None, None, "no lr trains")) == []
    got = edges.bad_neighbours(_choice(0.0316, [0.0178, "chance"], [0.0562, "diverged"]))
    assert got == [(0.0178, "chance"), (0.0562, "diverged")]
    assert edges.bad_neighbours(_choice(1000.0, [316.0, "trains"], None)) == [(3160.0, "untried")]


def test_candidates_lie_strictly_between_the_choice_and_each_neighbour_at_a_finer_ratio():
    lrs = edges.candidates(0.0316, [(0.0178, "chance"), (0.0562, "diverged")])
    assert lrs[0] == 0.0316 and len(lrs) == 1 + 2 * (edges.STEPS - 1)
    up = sorted(x for x in lrs if x > 0.0316)
    down = sorted(x for x in lrs if x < 0.0316)
    assert 0.0316 < up[0] and up[-1] < 0.0562 and 0.0178 < down[0] and down[-1] < 0.0316
    ratios = [b / a for a, b in zip([0.0316, *up], [*up, 0.0562], strict=True)]
    assert all(
        math.isclose(r, (0.0562 / 0.0316) ** (1 / edges.STEPS), rel_tol=0.01) for r in ratios
    )


def test_the_rechoice_skips_any_lr_diverged_in_a_replicate_or_at_chance():
    best, table = edges.rechoose(
        {0.1: [0.80, 0.82], 0.2: [0.95, None], 0.3: [0.11, 0.12], 0.05: [0.81, 0.83]}, chance=0.1
    )
    assert best == 0.05
    assert table[0.2]["status"] == "diverged" and table[0.3]["status"] == "chance"
    assert edges.rechoose({0.1: [None, 0.5], 0.2: [0.1, 0.1]}, chance=0.1)[0] is None


def test_verdicts_flatten_every_verdict_outcome_and_per_setting_and_diff_them():
    analysis = {
        "short": [
            {"comparison": "mse − cce, init 10", "verdict": "lower", "mean": -0.1},
            {"comparison": "bce − cce, init 10", "verdict": "inconclusive"},
        ],
        "checks": [{"init_scale": 10.0, "outcome": "supports", "per_setting": {"a/b": "x"}}],
        "judgements": [
            {"claim": "c", "setting": "s", "outcome": "agree", "numbers": {"verdict": "lower"}}
        ],
    }
    flat = edges.verdicts(analysis)
    assert len(flat) == 5 and "lower" in flat.values() and "x" in flat.values()
    moved = dict(
        analysis, short=[analysis["short"][0] | {"verdict": "inconclusive"}, analysis["short"][1]]
    )
    diff = edges.changed(flat, edges.verdicts(moved))
    assert len(diff) == 1 and diff[0]["before"] == "lower" and diff[0]["after"] == "inconclusive"
    assert edges.changed(flat, flat) == []


def test_the_largest_gap_compares_seeds_finite_in_both():
    assert edges.largest_gap({0: 0.5, 1: 0.7, 2: None}, {0: 0.52, 1: 0.7, 2: 0.9}) == pytest.approx(
        0.02
    )
    assert edges.largest_gap({0: None}, {0: 0.5}) is None


@pytest.mark.slow  # a loss-study smoke run and the check on it (~20 s on 2 cores)
def test_the_cli_retrains_an_edge_arm_reproduces_it_and_re_decides(tmp_path, shared_data_dir):
    study = tmp_path / "study"
    argv = ["--smoke", "--source", "idx", "--data-dir", str(shared_data_dir), "--out"]
    assert loss_sweep.main([*argv, str(study), "--part", "linear"]) == 0
    path = study / "loss_sweep_mnist_linear_smoke.json"
    doc = read_json(path)
    entry = next(c for c in doc["chosen"] if c["loss"] == "mse" and c["lr"] is not None)
    lr = entry["lr"]
    entry["choice"] |= {
        "verdict": "edge",
        "interior": False,
        "lower": [lr / 1.78, "trains"],
        "upper": [lr * 1.78, "diverged"],
    }
    write_json(path, doc)
    out = tmp_path / "out"
    edge_check.main([*argv, str(out), "--inputs", str(study)])
    got = read_json(out / "edge_check_smoke.json")
    # every edge of the smoke run (its tiny search leaves untried sides) is a case
    arms = [c["arm"] for c in got["cases"]]
    want = [c["choice"]["arm"] for c in doc["chosen"] if edges.bad_neighbours(c["choice"])]
    assert arms == want and ["mse", entry["init_scale"]] in arms
    case = got["cases"][arms.index(["mse", entry["init_scale"]])]
    assert case["lrs"][0] == lr and all(lr < x < lr * 1.78 for x in case["lrs"][1:])
    assert set(case["runs"]) == {str(x) for x in case["lrs"]}
    assert all(len(rs) == len(doc["grid"]["seeds"]) for rs in case["runs"].values())
    # the retrained runs at the search's choice are the committed ones, up to rounding
    assert case["reproduces"]["largest_test_gap"] <= 0.005
    assert case["reproduces"]["changed"] == []
    assert case["rechosen"] in case["lrs"]
    text = (out / "edge_check_smoke.md").read_text()
    assert "mse @ init" in text and "Not the study's numbers" in text
    assert (out / "edge_check_smoke.png").stat().st_size > 0


def test_every_committed_edge_choice_is_a_case_of_its_study():
    # the committed results as they stand: each builder finds exactly the choices
    # with a diverged, chance-level or untried neighbour (no lr trains: none)
    folder = COMMITTED
    loss_paths, others = edge_check.inputs(folder, "full")
    assert loss_paths and set(others) == set(edge_check.OTHERS)
    for path in loss_paths:
        want = [c["choice"]["arm"] for c in read_json(path)["chosen"] if _edge(c["choice"])]
        assert [list(c.arm) for c in studies.loss_sweep_cases(path)] == want
    swap = read_json(others["gradient_swap"])
    want = [c["arm"] for m in swap["models"].values() for c in m["search"]["choices"] if _edge(c)]
    assert [list(c.arm) for c in studies.gradient_swap_cases(others["gradient_swap"])] == want
    noise = read_json(others["label_noise"])
    want = [c["arm"] for r in noise["rates"].values() for c in r["search"]["choices"] if _edge(c)]
    assert [list(c.arm) for c in literature.label_noise_cases(others["label_noise"])] == want
    depth = read_json(others["mlp_depth"])
    want = [s.get("longer", s)["search"]["choices"][0] for s in depth["searches"]]
    assert len(literature.mlp_depth_cases(others["mlp_depth"])) == sum(map(_edge, want))
    hui = read_json(others["hui_belkin"])
    want = [
        f["choice"] for p in ("real", "synthetic") for fs in hui[p].values() for f in fs.values()
    ]
    assert len(literature.hui_belkin_cases(others["hui_belkin"])) == sum(map(_edge, want))
    for name, build in edge_check.OTHERS.items():
        for case in build(others[name]):
            assert sum(map(case.mine, case.runs)) > 0  # the arm's committed runs are found


def _edge(choice) -> bool:
    return choice["lr"] is not None and choice["verdict"] == "edge"


def test_the_summary_names_every_changed_verdict_and_the_chaotic_arms():
    from experiments.edge_check import report

    case = {
        "study": "loss_sweep",
        "setting": "mnist linear",
        "arm": ["mse", 10.0],
        "choice": {"lr": 1.0},
        "rechosen": 1.16,
        "changed": [
            {"path": ".short[mse − cce, init 10].verdict", "before": "lower", "after": "x"}
        ],
        "pooled_changed": [],
        "reproduces": {
            "largest_test_gap": 0.2,
            "changed": [{"path": ".checks[30.0].outcome", "before": "a", "after": "b"}],
        },
    }
    doc = {
        "cases": [case, dict(case, changed=[], reproduces={"largest_test_gap": 0.0, "changed": []})]
    }
    lines = report.change_lines(doc)
    assert (
        lines[0].startswith("- Re-chosen lr 1.16 (was 1.0)")
        and "short mse − cce, init 10" in lines[0]
    )
    assert "**lower → x**" in lines[0] and "checks 30.0: **a → b**" in lines[1] and len(lines) == 2
    assert "1 arm(s) moved by more than 1 point" in report.chaos_text(doc)


def test_the_step_reported_is_read_from_the_lrs_tried():
    from experiments.edge_check.report import _ratio

    one = {"cases": [{"lrs": [1.0, 1.15, 1.32, 1.52]}]}
    assert _ratio(one) == "1.15"
    two = {"cases": [*one["cases"], {"lrs": [0.5, 0.52, 0.541]}]}
    assert _ratio(two) == "1.04–1.15" and _ratio({"cases": []}) == "–"
