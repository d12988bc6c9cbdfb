"""The loss study's rules on tiny fake grids: replicates, the interior-lr rule, the
interval wording, and the CLI's grid from flags or a config file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.loss_sweep import run as loss_sweep
from experiments.loss_sweep.report import NO_DIFFERENCE, compare_difference, compare_intervals
from softjax.sweeps.adaptive import interior_lr_sweep, next_lrs, paired_sweep
from softjax.sweeps.stats import (
    collapse_scales,
    paired_difference,
    select_best,
    summarize,
    wilson_interval,
)
from softjax.training import HISTORY_KEYS


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


def test_interval_wording_claims_a_difference_only_when_intervals_separate():
    assert compare_intervals((0.9, 0.01), (0.8, 0.01), "a", "b") == "a higher than b"
    assert compare_intervals((0.8, 0.01), (0.9, 0.01), "a", "b") == "a lower than b"
    assert compare_intervals((0.9, 0.06), (0.8, 0.05), "a", "b") == NO_DIFFERENCE
    assert compare_intervals((0.9, None), (0.1, 0.0), "a", "b").startswith(NO_DIFFERENCE)
    assert compare_difference(-0.02, 0.01, "bce", "cce") == "bce lower than cce"
    assert compare_difference(-0.02, 0.03, "bce", "cce") == NO_DIFFERENCE


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


def test_the_grid_comes_from_flags_over_a_config_file(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(
        json.dumps(
            {
                "losses": ["cce"],
                "lrs": [0.5],
                "sizes": [784, 100, 10],
                "dataset": "fashion_mnist",
                "epochs": 10,
            }
        )
    )
    args = loss_sweep.parse_args(["--config", str(path), "--epochs", "3", "--seeds", "0", "1"])
    grid = loss_sweep.resolve_grid(args)
    assert grid["losses"] == ["cce"] and grid["sizes"] == [[784, 100, 10]]
    assert grid["epochs"] == 3 and grid["seeds"] == [0, 1] and grid["lrs"] == [0.5]
    names = [loss_sweep.stem(grid, s, a, False) for s, a in loss_sweep.models(grid)]
    assert names == ["loss_sweep_fashion_mnist_mlp_sigmoid_100"]
    args = loss_sweep.parse_args(
        [
            "--sizes",
            "784",
            "10",
            "--sizes",
            "784",
            "100",
            "100",
            "10",
            "--activations",
            "tanh",
            "relu",
        ]
    )
    names = [
        loss_sweep.stem(loss_sweep.resolve_grid(args), s, a, True)
        for s, a in loss_sweep.models(loss_sweep.resolve_grid(args))
    ]
    assert names == [
        "loss_sweep_mnist_linear_quick",
        "loss_sweep_mnist_mlp_tanh_100-100_quick",
        "loss_sweep_mnist_mlp_relu_100-100_quick",
    ]


def test_bad_grids_are_refused_naming_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        loss_sweep.parse_args(["--losses", "nope"])
    assert "--losses: unknown ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--seeds: expected distinct"):
        loss_sweep.resolve_grid(loss_sweep.parse_args(["--seeds", "1", "1"]))
    path = tmp_path / "c.json"
    path.write_text('{"lr": [1]}')
    with pytest.raises(SystemExit, match="unknown keys \\['lr'\\]"):
        loss_sweep.resolve_grid(loss_sweep.parse_args(["--config", str(path)]))


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_the_shipped_study_configs_parse_and_meet_the_study_rules(name):
    path = loss_sweep.Path(__file__).resolve().parents[2] / "experiments" / "loss_sweep" / "configs"
    args = loss_sweep.parse_args(["--config", str(path / f"{name}.json")])
    grid = loss_sweep.resolve_grid(args)
    assert len(grid["seeds"]) >= 5  # n ≥ 5 distinct replicates
    assert grid["epochs"] >= (10 if name == "mlp" else 5)
    assert all((len(s) == 2) == (name == "linear") for s, _ in loss_sweep.models(grid))


def test_gradients_are_compared_at_a_matched_lr_and_separately_at_each_chosen_lr():
    from experiments.loss_sweep.compare import gradients

    records = []
    for loss, peak in (("cce", 0.3), ("mse", 1.0)):
        for lr in (0.1, 0.3, 1.0):
            for s in range(3):
                r = _record(loss, lr, 1.0, s, 0.9 - abs(lr - peak) / 10 + 0.001 * s)
                r["history"]["logits_grad_norm"] = [lr * (10 if loss == "cce" else 1) + 0.01 * s]
                r["history"]["logits_grad_norm_wrong"] = [1.0 + 0.01 * s]
                records.append(r)
    summary = summarize(records)
    best = select_best(summary)
    grid = {"init_scales": [1.0], "losses": ["cce", "mse"]}
    rows = {r["kind"]: r for r in gradients(summary, best, grid)}
    assert (rows["matched"]["lr"], rows["matched"]["lr_reference"]) == (0.3, 0.3)
    assert (rows["own_best"]["lr"], rows["own_best"]["lr_reference"]) == (1.0, 0.3)
    np.testing.assert_allclose(rows["matched"]["logits_grad_norm"]["mean"], 0.31)
    np.testing.assert_allclose(rows["matched"]["logits_grad_norm_reference"]["mean"], 3.01)


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_paired_sweep_equals_one_sweep_per_replicate_and_resumes_its_file(tmp_path, monkeypatch):
    """One ``seed_pairing="paired"`` call writes the records (keys, history) of one call per
    replicate; each reads the other's file back as done. Float tolerance: the sweep's own
    (1e-5 relative in float32, :mod:`softjax.sweeps.grid`); the block layout per data seed
    is the same here, so in practice they agree bitwise."""
    import jax

    from softjax.data import make_gaussian_classes
    from softjax.results import read_jsonl
    from softjax.sweeps import core, sweep
    from softjax.training import TrainConfig

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
    # The three replicates' data seeds ran one compiled program (one block layout).
    assert programs[-1].cache_info().currsize == 1 and programs[-1].cache_info().hits == 2
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
    from softjax.sweeps import sweep
    from softjax.training import TrainConfig

    x = np.zeros((8, 5), np.float32)
    y = np.arange(8) % 3
    with pytest.raises(ValueError, match=message):
        sweep(TrainConfig(sizes=(5, 3)), (x, y, x, y), losses=["cce"], lrs=[0.1], **kwargs)
