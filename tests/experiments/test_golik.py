"""The CE-then-squared-error experiment (Golik, Doetsch & Ney 2013): its two-phase
program, its verdicts, and its CLI."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.golik import report as plots
from experiments.golik import run as golik
from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.results import read_json, write_json
from softjax.sweeps.core import init_key, init_stack
from softjax.training import make_train
from tests.helpers import FAST_COMPILE, GROWN_CLAUSE, GROWN_GRIDS, jit_fast, readme_row_of


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


def test_configs_differing_beyond_the_loss_are_refused(setup):
    _, config, _, _ = setup
    with pytest.raises(ValueError, match="second"):
        golik.make_two_phase(config, config.replace(loss="mse", lr=0.3))


def test_claims_are_read_from_the_numbers():
    def row(arm, m):
        return {
            "loss": arm,
            "init_scale": 1.0,
            "final_test_accuracy": m,
            "final_test_accuracy_ci95": 0.002,
        }

    res = {
        "init_scales": [1.0],
        "rows": [row("cce", 0.90), row("mse", 0.80), row("cce→mse", 0.905)],
        "paired_switch_minus_cce": {"1.0": {"mean": 0.004, "ci95": 0.001, "n": 5}},
    }
    verdicts = plots.judgements({"results": {"mlp": res}})
    claims = [plots.claim_text(j) for j in verdicts]
    assert "MSE from random init falls short of CCE" in claims[0]
    assert "switching to MSE helps" in claims[1] and "+0.40 ± 0.10 pp" in claims[1]
    # The verdicts are data: claim, setting, outcome and the numbers they rest on.
    assert [(j.claim, j.setting, j.outcome) for j in verdicts] == [
        (plots.MSE_WORSE, "mlp, scale 1", "agree"),
        (plots.SWITCH_HELPS, "mlp, scale 1", "agree"),
    ]
    assert verdicts[0].numbers["mse"]["mean"] == 0.80 and verdicts[1].numbers["mean"] == 0.004
    res["paired_switch_minus_cce"]["1.0"] = {"mean": 0.0005, "ci95": 0.001, "n": 5}
    verdicts = plots.judgements({"results": {"mlp": res}})
    assert "no separable difference" in plots.claim_text(verdicts[1])
    assert verdicts[1].outcome == "inconclusive"
    # Stored verdicts are read, not recomputed: the counts follow the data.
    stored = {"verdicts": [dict(verdicts[0].to_dict(), outcome="differ")], "results": {}}
    assert [j.outcome for j in plots.judgements(stored)] == ["differ"]
    assert "beats CCE" in plots.claim_text(plots.judgements(stored)[0])


@pytest.mark.slow
def test_cli_smoke_writes_json_figure_summary_and_redraws(shared_data_dir, tmp_path):
    argv = ["--smoke", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    written = golik.main(argv)
    assert {p.name for p in written} == {"golik_smoke.png", "golik_smoke.md"}
    doc = read_json(tmp_path / "golik_smoke.json")
    # The verdicts are stored with the numbers, and are what the numbers give.
    assert doc["verdicts"] == [j.to_dict() for j in plots.judgements({"results": doc["results"]})]
    for model, res in doc["results"].items():
        assert res["init_scales"] == [1.0, golik.SATURATING[model]]
        assert {(r["loss"], r["init_scale"]) for r in res["rows"]} == {
            (arm, s) for arm in ("cce", "mse", "cce→mse") for s in res["init_scales"]
        }
        for r in res["rows"]:
            assert len(r["curves"]["test_accuracy"]["mean"]) == 2
    text = (tmp_path / "golik_smoke.md").read_text()
    assert "Golik, Doetsch & Ney" in text and "Claim 1" in text and "Claim 2" in text
    assert "(the only lr of its grid [0.1])" in text  # smoke: one lr of CCE's grid
    for p in written:
        p.unlink()
    redrawn = golik.main([*argv, "--redraw"])
    assert all(p.exists() and p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / "golik_smoke.md").read_text() == text


def _doc(edges):
    """A hand-made results document: the three arms at scale 1 with ``edges`` (per arm)."""

    def row(arm, lr, edge):
        return {
            "loss": arm,
            "init_scale": 1.0,
            "lr": lr,
            "edge": edge,
            "final_test_accuracy": 0.9,
            "final_test_accuracy_ci95": 0.002,
        }

    lrs = {"cce": 0.5, "mse": 2.0, "cce→mse": 2.0}
    res = {
        "init_scales": [1.0],
        "rows": [row(arm, lrs[arm], e) for arm, e in zip(lrs, edges, strict=True)],
        "paired_switch_minus_cce": {},
        "best_cce_lr": {"1.0": 0.5},
    }
    config = dict(mode="full", train_subset=None, hidden=100, batch_size=64, epochs=12)
    config.update(switch=8, saturating_scales={"mlp": 10.0}, seeds=[0, 1], lr_index=None)
    config["lr_grids"] = {"cce": [0.01, 0.1, 0.5], "mse": [0.1, 0.5, 2.0]}
    return {"provenance": {"config": config, "git_commit": "abc"}, "results": {"mlp": res}}


def test_summary_marks_and_names_an_lr_on_its_grid_edge(tmp_path):
    write_json(tmp_path / "golik.json", _doc(("high", None, "high")))
    text = plots.write_summary(tmp_path / "golik.json", tmp_path).read_text()
    assert "| mlp | 1 | cce | 0.5† |" in text and "| mlp | 1 | mse | 2.0 |" in text
    assert "| cce→mse | 2.0† (CCE phase: 0.5†) |" in text
    assert "† The lr chosen on validation lies on an edge" in text
    assert (
        "Chosen lr on an edge of its grid: mlp cce, init scale 1, lr 0.5 (high edge of "
        "[0.01, 0.1, 0.5]); mlp cce→mse (MSE phase), init scale 1, lr 2.0 (high edge of "
        "[0.1, 0.5, 2.0]); a wider grid could move these results."
    ) in text
    res = _doc(("high", None, None))["results"]["mlp"]
    assert plots.lr_label(res, res["rows"][2]) == "2.0 (CCE phase: 0.5†)"  # the legend's


def test_summary_without_edges_says_interior(tmp_path):
    write_json(tmp_path / "golik.json", _doc((None, None, None)))
    text = plots.write_summary(tmp_path / "golik.json", tmp_path).read_text()
    assert "Every chosen lr is interior to its grid." in text and "†" not in text


def test_summary_names_each_arms_own_extended_grid(tmp_path):
    """A run that grew its grids: each arm's edge is named against its own final grid and
    the setting says how the grids grew."""
    doc = _doc((None, None, "high"))
    doc["provenance"]["config"].update(GROWN_GRIDS)
    doc["results"]["mlp"]["lrs_by_arm"] = {
        "cce": [0.01, 0.1, 0.5, 1.5],
        "mse": [0.1, 0.5, 2.0],
        "cce→mse": [0.1, 0.5, 2.0, 6.0, 18.0],
    }
    doc["results"]["mlp"]["rows"][2]["lr"] = 18.0
    write_json(tmp_path / "golik.json", doc)
    text = plots.write_summary(tmp_path / "golik.json", tmp_path).read_text()
    assert f"{GROWN_CLAUSE}, chosen on validation" in text
    assert (
        "mlp cce→mse (MSE phase), init scale 1, lr 18.0 (high edge of [0.1, 0.5, 2.0, 6.0, 18.0])"
    ) in text


def test_the_readme_row_is_written_from_the_numbers(tmp_path):
    doc = _doc((None, None, None))
    res = doc["results"]["mlp"]
    res["rows"][1]["final_test_accuracy"] = 0.80  # mse from random init falls short
    res["paired_switch_minus_cce"] = {"1.0": {"mean": 0.004, "ci95": 0.001, "n": 2}}
    write_json(tmp_path / "golik.json", doc)
    text = plots.write_summary(tmp_path / "golik.json", tmp_path).read_text()
    row = readme_row_of(text)
    assert row.startswith("| CE then squared error (Golik, Doetsch & Ney 2013) |")
    assert (
        "| MLP 784-100-10 at init scale 1: MSE 80.00 ± 0.20% (lr 2.0) vs CCE 90.00 ± 0.20%, "
        "CCE→MSE − CCE +0.40 ± 0.10 pp (2 seeds, `results/golik.md`; every chosen lr "
        "interior to its grid) | yes: claim 1 holds in 1 of 1 settings, claim 2 in 1 of 1 |"
    ) in row
