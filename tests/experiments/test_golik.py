"""The CE-then-squared-error experiment (Golik, Doetsch & Ney 2013): its two-phase
program, its verdicts, and its CLI."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.golik import analysis
from experiments.golik import report as plots
from experiments.golik import run as golik
from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.results import read_json, write_json
from softjax.sweeps.core import init_key, init_stack
from softjax.training import make_train
from tests.helpers import FAST_COMPILE, jit_fast, readme_row_of


@pytest.fixture(scope="module")
def setup():
    data = make_gaussian_classes(jax.random.PRNGKey(0), n=240, dim=4, num_classes=3, validation=32)
    config = TrainConfig(sizes=(4, 8, 3), activations="sigmoid", batch_size=16, epochs=2)
    program = golik.make_two_phase(
        config, config.replace(loss="mse"), compiler_options=FAST_COMPILE
    )
    keys = jnp.stack([init_key(0), init_key(1)])
    params = init_stack(config, keys, jnp.ones(2))
    return data, config, program, params


def _single(train_fn, params, lr, data, i):
    """Model i of the stack trained alone by ``train_fn`` (one jitted ``make_train``)."""
    one = jax.tree.map(lambda a: a[i], params)
    _, history, _ = train_fn(one, lr, golik.data_key(0), tuple(data))
    return history


@pytest.mark.parametrize("switch,loss,lr", [(2, "cce", 0.5), (0, "mse", 2.0)])
def test_the_switch_at_either_end_is_a_one_loss_run(setup, switch, loss, lr):
    data, config, program, params = setup
    lrs1, lrs2 = jnp.full(2, 0.5), jnp.full(2, 2.0)
    history, finite = program(params, lrs1, lrs2, jnp.int32(switch), golik.data_key(0), tuple(data))
    assert bool(np.all(finite))
    train_fn = jit_fast(make_train(config.replace(loss=loss)))  # traced once for both models
    for i in range(2):
        expected = _single(train_fn, params, lr, data, i)
        for key in ("train_loss", "test_accuracy", "val_accuracy"):
            np.testing.assert_allclose(history[key][i], expected[key], rtol=2e-5, atol=1e-6)


def test_the_switch_continues_the_cce_run(setup):
    data, config, program, params = setup
    args = (jnp.full(2, 0.5), jnp.full(2, 2.0))
    switched, _ = program(params, *args, jnp.int32(1), golik.data_key(0), tuple(data))
    cce, _ = program(params, *args, jnp.int32(2), golik.data_key(0), tuple(data))
    # Epoch 1 is CCE in both; from epoch 2 the loss (and its value) is MSE's.
    np.testing.assert_array_equal(switched["test_accuracy"][:, 0], cce["test_accuracy"][:, 0])
    assert not np.allclose(switched["train_loss"][:, 1:], cce["train_loss"][:, 1:])


def test_each_replicate_has_its_own_init_and_data_order(setup):
    data, config, program, _ = setup
    records = golik._arm(program, config, data, "cce", 2, [1.0, 3.0], [0.5] * 2, [2.0] * 2, [0, 1])
    assert [(r["seed"], r["data_seed"], r["init_scale"]) for r in records] == [
        (0, 0, 1.0),
        (0, 0, 3.0),
        (1, 1, 1.0),
        (1, 1, 3.0),
    ]
    finals = {}
    for seed in (0, 1):
        keys = jnp.stack([init_key(seed)] * 2)
        params = init_stack(config, keys, jnp.asarray([1.0, 3.0]))
        args = (jnp.full(2, 0.5), jnp.full(2, 2.0), jnp.int32(2), golik.data_key(seed))
        history, _ = program(params, *args, tuple(data))
        for i in range(2):
            got = records[2 * seed + i]["history"]["train_loss"]
            np.testing.assert_allclose(got, history["train_loss"][i], rtol=1e-6)
        finals[seed] = history["train_loss"][0]
    assert not np.allclose(finals[0], finals[1])


@pytest.mark.parametrize("second", ["mse", "cce"])
def test_the_split_phases_equal_the_one_program_run(setup, second):
    data, config, _, params = setup
    program = golik.make_two_phase(
        config, config.replace(loss=second), compiler_options=FAST_COMPILE
    )
    phase1, phase2 = golik.make_phases(
        config, config.replace(loss=second), compiler_options=FAST_COMPILE
    )
    lr1, lr2 = jnp.asarray([0.5, 0.3]), jnp.asarray([2.0, 0.7])
    want, _ = program(params, lr1, lr2, jnp.int32(1), golik.data_key(0), tuple(data))
    states = phase1(params, lr1, jnp.int32(1), golik.data_key(0), tuple(data))
    # One first phase serves several second-phase lrs: model 1's state, twice.
    both = jax.tree.map(lambda x: x[jnp.asarray([0, 1, 1])], states)
    got, finite = phase2(both, jnp.asarray([2.0, 0.7, 0.9]), tuple(data))
    assert bool(np.all(finite))
    for key in ("train_loss", "val_accuracy", "test_accuracy"):
        np.testing.assert_allclose(got[key][:2], want[key], rtol=2e-5, atol=1e-6)
    assert not np.allclose(got["train_loss"][2, 1:], got["train_loss"][1, 1:])
    np.testing.assert_array_equal(got["train_loss"][2, :1], got["train_loss"][1, :1])


def test_configs_differing_beyond_the_loss_are_refused(setup):
    _, config, _, _ = setup
    with pytest.raises(ValueError, match="second"):
        golik.make_two_phase(config, config.replace(loss="mse", lr=0.3))


def _entry(per_seed, lr=1.0):
    return {
        "lr": lr,
        "lr_cce": 0.5,
        "per_seed": per_seed,
        "curves": {"test_accuracy": [None] * len(per_seed)},
    }


def _results():
    """Softmax regression at init 1: MSE 0.5 pp ahead of CCE, and the switch ends where MSE
    from scratch ends; so CCE→MSE beats CCE, but its control CCE→CCE does as well."""
    base = [0.920, 0.922, 0.918, 0.921, 0.919]
    jit = [0.0, 0.0002, -0.0002, 0.0001, -0.0001]

    def arm(offset, k=1):
        return _entry([b + offset + k * j for b, j in zip(base, jit, strict=True)])

    arms = {
        "cce": {"1.0": arm(0.0)},
        "mse": {"1.0": arm(0.005, 2)},
        "cce→mse": {"1.0": arm(0.005, 3)},
        "cce→cce": {"1.0": arm(0.0048, -1)},
    }
    choices = [
        {"arm": [a, 1.0], "lr": 1.0, "verdict": "interior", "reason": "interior: x"} for a in arms
    ]
    return {
        "softmax_regression": {
            "init_scales": [1.0],
            "arms": arms,
            "choices": choices,
            "wall_s": 60.0,
            "model_epochs": 100,
        }
    }


def test_the_switch_is_judged_against_its_control_and_the_arms_are_paired():
    found = analysis.analyse(_results(), [0, 1, 2, 3, 4])
    fam = found["families"]
    (mse,) = fam[analysis.CLAIM_1]
    assert mse["comparison"] == "softmax_regression, init scale 1: mse − cce"
    assert mse["mean"] == pytest.approx(0.005) and mse["verdict"] == "higher"
    (switch,) = fam[analysis.CLAIM_2]
    # +0.02 pp against the control: bounded within ±0.25 pp, although CCE→MSE − CCE is +0.5.
    assert switch["mean"] == pytest.approx(0.0002) and switch["verdict"] == "equivalent"
    context = {v["comparison"].split(": ")[1]: v for v in fam[analysis.CONTEXT]}
    assert context["cce→mse − cce"]["verdict"] == "higher"
    assert context["cce→mse − mse"]["verdict"] == "equivalent"
    assert {v["family_size"] for v in fam[analysis.CONTEXT]} == {2}
    judged = {j.claim: j for j in analysis.judgements(found)}
    assert judged[analysis.MSE_WORSE].outcome == "differ"  # MSE is ahead here
    assert judged[analysis.SWITCH_HELPS].outcome == "differ"  # no gain beyond the control
    # A replicate that diverged in one arm leaves that arm's pairs only.
    res = _results()
    res["softmax_regression"]["arms"]["mse"]["1.0"]["per_seed"][3] = None
    again = analysis.analyse(res, [0, 1, 2, 3, 4])["families"]
    assert again[analysis.CLAIM_1][0]["seeds"] == [0, 1, 2, 4]
    assert again[analysis.CLAIM_2][0]["seeds"] == [0, 1, 2, 3, 4]


def _doc(tmp_path):
    results = _results()
    found = analysis.analyse(results, [0, 1, 2, 3, 4])
    config = dict(golik.SIZES["full"], start_lrs=golik.START, mode="full", hidden=100)
    config.update(batch_size=64, saturating_scales=golik.SATURATING, replicates="init seed i")
    doc = {
        "provenance": {"config": config, "seeds": [0, 1, 2, 3, 4], "git_commit": "abc"},
        "results": results,
        "analysis": found,
        "verdicts": [j.to_dict() for j in analysis.judgements(found)],
        "methods": plots.METHODS,
        "wall_s": 120.0,
    }
    write_json(tmp_path / "golik.json", doc)
    return tmp_path / "golik.json"


def test_the_summary_states_the_init_1_case_and_the_readme_row_from_the_numbers(tmp_path):
    text = plots.write_summary(_doc(tmp_path), tmp_path).read_text()
    assert (
        "softmax_regression, init scale 1: the switch equals MSE from scratch (CCE→MSE − MSE "
        in text
    )
    assert "not an effect of CCE pre-training" in text
    assert (
        "| softmax_regression | 1 | cce→cce | lr 1 (interior); CCE phase at CCE's lr 0.5 |" in text
    )
    assert 'Family "CCE→MSE − CCE→CCE (the switch against its control)": 1 comparison' in text
    assert "Run time: 2.0 min (softmax_regression 1.0 min, 100 model-epochs)" in text
    row = readme_row_of(text)
    assert "softmax regression at init 1: MSE − CCE +0.50 pp [" in row
    assert "the switch equals MSE from scratch at softmax_regression, init scale 1" in row
    assert row.endswith(
        "| no: claim 1 holds in 0 of 1 settings, claim 2 (against the CCE→CCE control) in 0 of 1 |"
    )


def test_results_from_before_the_v3_methods_are_refused_naming_the_fix(tmp_path):
    write_json(tmp_path / "golik.json", {"provenance": {}, "results": {}})
    with pytest.raises(SystemExit, match="re-run python -m experiments.golik"):
        plots.write_summary(tmp_path / "golik.json", tmp_path)


@pytest.mark.slow
def test_cli_smoke_writes_json_figure_summary_and_redraws(shared_data_dir, tmp_path):
    argv = ["--smoke", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    written = golik.main(argv)
    assert {p.name for p in written} == {"golik_smoke.png", "golik_smoke.md"}
    doc = read_json(tmp_path / "golik_smoke.json")
    # The verdicts are stored with the numbers, and are what the numbers give.
    assert doc["analysis"] == analysis.analyse(doc["results"], doc["provenance"]["seeds"])
    assert doc["verdicts"] == [j.to_dict() for j in analysis.judgements(doc["analysis"])]
    for model, res in doc["results"].items():
        assert res["init_scales"] == [1.0, golik.SATURATING[model]]
        assert set(res["arms"]) == set(golik.ARMS)
        for arm in golik.ARMS:
            for s in res["init_scales"]:
                entry = res["arms"][arm][str(s)]
                assert len(entry["per_seed"]) == 2  # per-seed values of every replicate
                assert len(entry["curves"]["test_accuracy"][0]) == 2
        # The control's first phase is CCE's: at the same lr in both phases it is CCE.
        cce, control = res["arms"]["cce"]["1.0"], res["arms"]["cce→cce"]["1.0"]
        if control["lr"] == control["lr_cce"] == cce["lr"]:
            assert control["per_seed"] == pytest.approx(cce["per_seed"], abs=1e-6)
    text = (tmp_path / "golik_smoke.md").read_text()
    assert "Golik, Doetsch & Ney" in text and "Claim 1" in text and "Claim 2" in text
    for p in written:
        p.unlink()
    redrawn = golik.main([*argv, "--redraw"])
    assert all(p.exists() and p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / "golik_smoke.md").read_text() == text
