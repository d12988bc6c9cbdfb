"""The loss study's rules on tiny fake grids: replicates, the interior-lr rule (of
``softjax.sweeps.adaptive``), the sizes and their cuts, and the analysis (paired verdicts
against cce, the budget check) on hand-made runs."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.loss_sweep import analysis as la
from experiments.loss_sweep import run as loss_sweep
from softjax.history import HISTORY_KEYS
from softjax.sweeps.adaptive import interior_lr_sweep, next_lrs, paired_sweep
from softjax.sweeps.stats import (
    collapse_scales,
    paired_difference,
    select_best,
    summarize,
    wilson_interval,
)


def _record(loss, lr, scale, seed, val, test=None, train_acc=0.9, diverged=False):
    history = {k: [0.5] for k in HISTORY_KEYS}
    history |= {"val_accuracy": [val], "test_accuracy": [test if test is not None else val]}
    history["train_accuracy"] = [train_acc]
    return {
        "key": f"{loss}-{lr}-{scale}-{seed}",
        "loss": loss,
        "loss_spec": loss,
        "lr": lr,
        "init_scale": scale,
        "seed": seed,
        "data_seed": seed,
        "diverged": diverged,
        "config": {"sizes": [4, 10]},
        "history": {} if diverged else history,
    }


def _fake_training(peak, calls: list):
    """``train(losses, lrs)`` whose validation accuracy peaks at lr = ``peak`` (a number,
    or a dict by loss); ``calls`` gets ``(losses, lrs)`` of each call."""

    def train(losses, lrs):
        calls.append((list(losses), list(lrs)))
        return [
            _record(loss, lr, 1.0, s, 0.9 - 0.1 * abs(np.log10(lr / _peak(peak, loss))) + 0.001 * s)
            for loss in losses
            for lr in lrs
            for s in range(3)
        ]

    return train


def _peak(peak, loss):
    return peak[loss] if isinstance(peak, dict) else peak


def _one_loss_at_a_time(train, losses, lrs, *, factor, lr_range, max_rounds):
    """The rule as it was before grouping: each loss grown alone, one call per round."""
    grids, records = {}, []
    for loss in losses:
        grids[loss] = sorted(lrs)
        mine = train([loss], grids[loss])
        for _ in range(max_rounds):
            best = select_best(summarize(mine), lrs=None)
            new = [
                lr for lr in next_lrs(best, grids[loss], factor, lr_range) if lr not in grids[loss]
            ]
            if not new:
                break
            grids[loss] = sorted(grids[loss] + new)
            mine += train([loss], new)
        records += mine
    return records, grids


def test_the_lr_grid_extends_upwards_until_the_choice_is_interior_and_stops():
    calls = []
    records, grids = interior_lr_sweep(
        _fake_training(3.0, calls), ["cce"], [0.01, 0.1], factor=10, log=None
    )
    assert [lrs for _, lrs in calls] == [[0.01, 0.1], [1.0], [10.0]]  # 10: 1 was the top
    assert grids == {"cce": [0.01, 0.1, 1.0, 10.0]}
    best = select_best(summarize(records))
    assert [(b["lr"], b["edge"]) for b in best] == [(1.0, None)]


def test_the_lr_grid_extends_downwards_and_a_capped_edge_stays_flagged():
    calls = []
    records, grids = interior_lr_sweep(
        _fake_training(1e-6, calls), ["mse"], [0.01, 0.1], factor=10, lr_range=(1e-3, 1.0), log=None
    )
    assert [lrs for _, lrs in calls] == [[0.01, 0.1], [0.001]]  # 1e-4 leaves the range
    best = select_best(summarize(records))
    assert [(b["lr"], b["edge"]) for b in best] == [(0.001, "low")]


def test_max_rounds_caps_the_extensions():
    calls = []
    interior_lr_sweep(
        _fake_training(1e4, calls), ["cce"], [0.003, 0.01], factor=3, max_rounds=2, log=None
    )
    assert [lrs for _, lrs in calls] == [[0.003, 0.01], [0.03], [0.09]]


def test_next_lrs_grows_below_when_every_lr_diverged():
    best = [{"lr": None, "edge": None}]
    assert next_lrs(best, [0.1, 1.0], 10, (1e-4, 100)) == [0.01]


# cce and square peak above the grid and grow upwards together; mse grows downwards
# alone until the range stops it; bce is interior from the start; sigmoid_bce grows up
# once more than cce.
PEAKS = {"cce": 30.0, "square": 30.0, "mse": 1e-6, "bce": 0.1, "sigmoid_bce": 300.0}
GROW = dict(factor=10, lr_range=(1e-3, 1000.0), max_rounds=4)
START = [0.01, 0.1, 1.0]


def test_grouped_rounds_equal_growing_one_loss_at_a_time():
    grouped_calls, alone_calls = [], []
    records, grids = interior_lr_sweep(
        _fake_training(PEAKS, grouped_calls), list(PEAKS), START, log=None, **GROW
    )
    want_records, want_grids = _one_loss_at_a_time(
        _fake_training(PEAKS, alone_calls), list(PEAKS), START, **GROW
    )
    assert grids == want_grids
    assert records == want_records  # the same records in the same order
    assert grids["cce"] == grids["square"] == [0.01, 0.1, 1.0, 10.0, 100.0]
    assert grids["sigmoid_bce"] == [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
    assert grids["mse"] == [0.001, 0.01, 0.1, 1.0] and grids["bce"] == START
    # One call per round and distinct list of new lrs, with every loss that needs it.
    assert grouped_calls == [
        (list(PEAKS), START),
        (["cce", "square", "sigmoid_bce"], [10.0]),
        (["mse"], [0.001]),
        (["cce", "square", "sigmoid_bce"], [100.0]),
        (["sigmoid_bce"], [1000.0]),
    ]
    assert len(alone_calls) == 3 + 3 + 2 + 1 + 4


def test_grouped_rounds_log_each_extension_once(capsys):
    interior_lr_sweep(_fake_training(PEAKS, []), list(PEAKS), START, **GROW)
    assert capsys.readouterr().out.splitlines() == [
        "cce: a chosen lr is on an edge of [0.01, 0.1, 1.0]; adding [10.0]",
        "square: a chosen lr is on an edge of [0.01, 0.1, 1.0]; adding [10.0]",
        "mse: a chosen lr is on an edge of [0.01, 0.1, 1.0]; adding [0.001]",
        "sigmoid_bce: a chosen lr is on an edge of [0.01, 0.1, 1.0]; adding [10.0]",
        "cce: a chosen lr is on an edge of [0.01, 0.1, 1.0, 10.0]; adding [100.0]",
        "square: a chosen lr is on an edge of [0.01, 0.1, 1.0, 10.0]; adding [100.0]",
        "sigmoid_bce: a chosen lr is on an edge of [0.01, 0.1, 1.0, 10.0]; adding [100.0]",
        "sigmoid_bce: a chosen lr is on an edge of [0.01, 0.1, 1.0, 10.0, 100.0]; adding [1000.0]",
    ]


def test_a_record_of_a_loss_not_asked_for_is_refused():
    def train(losses, lrs):
        return [_record("bce", lr, 1.0, 0, 0.5) for lr in lrs]

    with pytest.raises(ValueError, match="train: expected records of the losses"):
        interior_lr_sweep(train, ["cce"], [0.1], log=None)


def test_replicates_pair_init_and_data_seeds_in_one_sweep_call():
    calls = []

    def fake_sweep(base, data, **kwargs):
        calls.append(kwargs)
        return []

    paired_sweep(
        fake_sweep,
        None,
        None,
        losses=["cce", "mse"],
        lrs=[0.1],
        init_scales=[1.0],
        replicates=[0, 1, 2, 3, 4],
    )
    assert [(c["losses"], c["seeds"], c["data_seeds"], c["seed_pairing"]) for c in calls] == [
        (["cce", "mse"], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], "paired")
    ]


def test_wilson_interval_matches_the_formula_and_stays_in_0_1():
    lo, hi = wilson_interval(0, 5)
    assert lo == 0 and 0.43 < hi < 0.44  # z²/(n+z²) = 3.84/8.84
    lo, hi = wilson_interval(5, 5)
    assert hi == 1 and 0.56 < lo < 0.57
    assert wilson_interval(0, 0) is None


def test_stuck_runs_are_counted_per_cell():
    records = [_record("mse", 0.1, 1.0, s, 0.5, train_acc=0.11 if s < 2 else 0.9) for s in range(5)]
    (best,) = select_best(summarize(records))
    assert best["n_stuck"] == 2 and best["stuck_fraction"] == 0.4


def test_paired_difference_pairs_by_replicate():
    records = [_record("bce", 0.1, 1.0, s, 0.5, test=0.90 + 0.01 * s) for s in range(4)]
    records += [_record("cce", 0.3, 1.0, s, 0.5, test=0.91 + 0.01 * s) for s in range(4)]
    a = {"loss": "bce", "init_scale": 1.0, "lr": 0.1}
    gap = paired_difference(records, a, a | {"loss": "cce", "lr": 0.3}, "test_accuracy")
    assert gap["n"] == 4
    np.testing.assert_allclose(gap["mean"], [-0.01])
    np.testing.assert_allclose(gap["ci95"], [0.0], atol=1e-12)  # the seeds' shift cancels


def test_init_scales_whose_results_overlap_collapse_into_one_panel():
    def best(scale, acc, half):
        return {
            "loss": "cce",
            "loss_spec": "cce",
            "init_scale": scale,
            "lr": 0.1,
            "final_test_accuracy": acc,
            "final_test_accuracy_ci95": half,
        }

    entries = [best(0.01, 0.92, 0.01), best(1.0, 0.915, 0.01), best(100.0, 0.80, 0.01)]
    assert collapse_scales(entries, [0.01, 1.0, 100.0]) == [[0.01, 1.0], [100.0]]


def test_the_full_size_meets_the_studys_rules_and_names_its_cuts():
    full = loss_sweep.FULL
    linear, mlp = full["parts"]["linear"], full["parts"]["mlp"]
    assert full["seeds"] == list(range(10)) and len(linear["search_seeds"]) >= 2
    assert "square" in linear["losses"] and 10.0 in linear["init_scales"]
    assert linear["train_subset"] is None  # the whole training split
    # the deep ReLU net's MSE at init 10 must be able to reach lr ≤ 0.003
    assert [784, 100, 100, 100, 10] in mlp["sizes"] and "relu" in mlp["activations"]
    assert "mse" in mlp["losses"] and 10.0 in mlp["init_scales"] and min(mlp["start_lrs"]) <= 0.003
    # every cut is said; the issue's own settings cut nothing
    issue = full | {"parts": loss_sweep.ISSUE}
    assert loss_sweep.cut(issue) == []
    quick = loss_sweep.cut(loss_sweep.QUICK)
    assert "dataset fashion_mnist" in quick and "3 replicates, not 10" in quick
    assert "linear: lr search on 1 replicate(s), not 2" in quick
    # the full size's own cuts are said, part by part
    assert "mlp: lr search on 1 replicate(s), not 2" in loss_sweep.cut(full, "mlp")
    assert not any("search on" in x for x in loss_sweep.cut(full, "linear"))
    assert all(
        x.startswith("mlp") or "linear" not in x for x in loss_sweep.cut(loss_sweep.QUICK, "mlp")
    )


def _run(loss, scale, seed, test, diverged=False, budget="short", curve=None):
    return {
        "loss": loss,
        "init_scale": scale,
        "seed": seed,
        "lr": 0.1,
        "diverged": diverged,
        "test_short": None if diverged else test,
        "test_last": None if diverged else test,
        "budget": budget,
        "val_curve": curve or [],
    }


def test_each_loss_is_compared_with_cce_paired_by_replicate_in_one_holm_family():
    runs = [_run("cce", 10.0, s, 0.90 + 0.01 * s) for s in range(5)]
    runs += [_run("mse", 10.0, s, 0.60 + 0.01 * s + 0.001 * (s % 2)) for s in range(5)]
    runs += [_run("bce", 10.0, s, 0.90 + 0.01 * s, diverged=s == 4) for s in range(5)]
    got = {
        e["loss"]: e
        for e in la.comparisons(runs, ["cce", "mse", "bce"], [10.0], "test_short", "fam")
    }
    mse, bce = got["mse"], got["bce"]
    assert mse["seeds"] == [0, 1, 2, 3, 4] and mse["verdict"] == "lower"
    np.testing.assert_allclose(mse["differences"], [-0.3, -0.299, -0.3, -0.299, -0.3])
    assert mse["family"] == "fam" and mse["family_size"] == 2
    # a replicate diverged in one arm leaves the pair, and the record says which
    assert bce["seeds"] == [0, 1, 2, 3] and bce["dropped"] == [4] and bce["n"] == 4
    assert bce["verdict"] == "equivalent" and bce["mean"] == 0.0
    # the study's claim at a large init scale, judged from the verdict as data
    (j,) = la.judgements(list(got.values()), "mnist linear")
    assert (j["claim"], j["setting"], j["outcome"]) == (la.CLAIM, "mnist linear, init 10", "agree")
    assert j["numbers"]["verdict"] == "lower"
    assert la.judgements(list(got.values()), "x")[0]["outcome"] != "differ"
    assert la.judgements([{**mse, "verdict": "equivalent"}], "x")[0]["outcome"] == "differ"


def test_run_measures_read_the_fixed_budget_inside_a_longer_run():
    history = {
        "val_accuracy": [0.5, 0.6, 0.7, 0.8, 0.85, 0.9],
        "test_accuracy": [0.4, 0.55, 0.65, 0.75, 0.8, 0.88],
        "train_accuracy": [0.5] * 6,
        "logits_grad_norm": [0.3, 0.2, 0.1, 0.1, 0.1, 0.05],
    }
    rec = {"loss": "mse", "init_scale": 10.0, "lr": 0.1, "seed": 3, "diverged": False}
    m = la.run_measures(rec | {"history": history}, short=2, classes=10)
    assert (m["test_short"], m["test_last"], m["val_short"], m["epochs_run"]) == (
        0.55,
        0.88,
        0.6,
        6,
    )
    assert (m["logits_grad_norm@1"], m["logits_grad_norm@last"]) == (0.3, 0.05)
    assert m["stuck"] is False
    cut = {k: v[:1] for k, v in history.items()}
    gone = la.run_measures(rec | {"history": cut, "diverged": True}, short=2, classes=10)
    assert gone["test_short"] is None and gone["test_last"] is None and gone["stuck"] is False


def test_a_longer_budget_says_slows_or_stops():
    climbing = [0.1 * e for e in range(1, 10)]
    flat = [0.5, 0.6, 0.7] + [0.7] * 6
    runs = [_run("mse", 100.0, s, 0.5, budget="long", curve=climbing) for s in range(2)]
    runs += [_run("cce", 100.0, s, 0.9, budget="long", curve=flat) for s in range(2)]
    got = {r["loss"]: r for r in la.budget_verdicts(runs, short=3)}
    assert got["mse"]["verdict"] == "slows" and got["mse"]["long_epochs"] == 9
    assert got["cce"]["verdict"] == "stops" and got["cce"]["n"] == 2
    assert la.improving({("mse", 1.0): climbing[:3], ("cce", 1.0): flat[-3:]}) == [("mse", 1.0)]


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_paired_sweep_equals_one_sweep_per_replicate_and_resumes_its_file(tmp_path, monkeypatch):
    """One ``seed_pairing="paired"`` call writes the records (keys, history) of one call per
    replicate; each reads the other's file back as done. Float tolerance: the sweep's own
    (1e-5 relative in float32, :mod:`softjax.sweeps.grid`); the block layout per data seed
    is the same here, so in practice they agree bitwise."""
    import jax

    from softjax.config import TrainConfig
    from softjax.data import make_gaussian_classes
    from softjax.results import read_jsonl
    from softjax.sweeps import core, sweep

    programs = []
    build = core.build_program
    monkeypatch.setattr(
        core, "build_program", lambda *a: programs.append(build(*a)) or programs[-1]
    )
    data = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    base = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2)
    grid = dict(losses=["cce", "square"], lrs=[0.3, 1.0], init_scales=[1.0], progress=False)
    apart = []
    for i in (0, 1, 2):
        apart += sweep(
            base, data, **grid, seeds=[i], data_seeds=[i], name="s", out_dir=tmp_path / "a"
        )
    together = paired_sweep(
        sweep, base, data, **grid, replicates=[0, 1, 2], name="s", out_dir=tmp_path / "b"
    )
    # Every call ran one compiled program (one block layout): the first built it, the
    # other three apart calls' and the paired call's three data seeds reused it.
    assert len(programs) == 1
    assert programs[0].cache_info().currsize == 1 and programs[0].cache_info().hits == 5
    by_key = {r["key"]: r for r in apart}
    assert len(together) == len(apart) == 2 * 2 * 3 and set(by_key) == {r["key"] for r in together}
    for r in together:
        want = by_key[r["key"]]
        assert r["seed"] == r["data_seed"] == want["seed"] == want["data_seed"]
        assert (r["loss"], r["lr"], r["diverged"]) == (want["loss"], want["lr"], want["diverged"])
        for k, v in want["history"].items():
            np.testing.assert_allclose(r["history"][k], v, rtol=1e-5, err_msg=k)
    # Resume both ways: each folder's file holds every key the other way asks for.
    assert len(read_jsonl(tmp_path / "a" / "s.jsonl")) == len(apart)
    again = paired_sweep(
        sweep, base, data, **grid, replicates=[0, 1, 2], name="s", out_dir=tmp_path / "a"
    )
    assert len(read_jsonl(tmp_path / "a" / "s.jsonl")) == len(apart)  # nothing retrained
    assert [r["run_id"] for r in again] == [by_key[r["key"]]["run_id"] for r in again]
    sweep(base, data, **grid, seeds=[1], data_seeds=[1], name="s", out_dir=tmp_path / "b")
    assert len(read_jsonl(tmp_path / "b" / "s.jsonl")) == len(together)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed_pairing": "zip"}, "seed_pairing: expected one of"),
        ({"seeds": [0, 1], "data_seeds": [0], "seed_pairing": "paired"}, "seed_pairing: .*2 seeds"),
        ({"seeds": [0, 1], "seed_pairing": "paired"}, r"data_seeds=None is \[base_config.seed\]"),
    ],
)
def test_a_bad_seed_pairing_is_refused_naming_it(kwargs, message):
    from softjax.config import TrainConfig
    from softjax.sweeps import sweep

    x = np.zeros((8, 5), np.float32)
    y = np.arange(8) % 3
    with pytest.raises(ValueError, match=message):
        sweep(TrainConfig(sizes=(5, 3)), (x, y, x, y), losses=["cce"], lrs=[0.1], **kwargs)
