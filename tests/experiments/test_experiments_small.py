"""Smoke tests of the experiments (saturation, MLP depth, reproduce): CLI, JSON, redraw;
unit tests of reproduce's claim table (setting text, judgements, run count).

Each CLI runs in-process, CI-sized, into a temporary ``--out`` folder; the tests then read
the JSON it wrote and check the claims the figures make.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax
from experiments.mlp_depth import run as mlp_depth
from experiments.saturation import run as saturation
from softjax.results import read_json


@pytest.fixture(scope="module")
def saturation_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("saturation")
    written = saturation.main(["--quick", "--points", "61", "--out", str(out)])
    return out, written


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_saturation_cli_writes_json_figure_and_table(saturation_run):
    out, written = saturation_run
    names = {p.name for p in written}
    assert names == {"saturation_quick.png", "saturation_quick.md"}
    # --quick must never overwrite the committed full results.
    assert not any((out / f"saturation.{ext}").exists() for ext in ("json", "png", "md"))
    assert all(p.stat().st_size > 0 for p in written)
    doc = read_json(out / "saturation_quick.json")
    assert doc["provenance"]["config"]["num_points"] == 61
    assert set(doc["curves"]) == {"3", "10"}
    for curve in doc["curves"].values():
        assert set(curve["closed_form_norm"]) == set(saturation.COMPARED)
        assert len(curve["margin"]) == 61
    table = (out / "saturation_quick.md").read_text()
    assert "| MSE on softmax |" in table and "ŷ_wrong=0.999" in table


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_saturation_closed_form_matches_jax_grad(saturation_run):
    out, _ = saturation_run
    doc = read_json(out / "saturation_quick.json")
    # float64; MSE's cancellation near saturation costs ~1e-10 relative, both ways.
    assert doc["max_rel_diff_overall"] < 1e-8
    for curve in doc["curves"].values():
        for loss_name, closed in curve["closed_form_norm"].items():
            np.testing.assert_allclose(closed, curve["autodiff_norm"][loss_name], rtol=1e-8)


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_saturation_key_claims(saturation_run):
    out, _ = saturation_run
    doc = read_json(out / "saturation_quick.json")
    for k, points in doc["key_points"].items():
        by_p = {p["target_p_wrong"]: p for p in points}
        for p, point in by_p.items():
            assert point["p_wrong"] == pytest.approx(p, rel=1e-9)
        n99, n999 = by_p[0.99]["closed_form_norm"], by_p[0.999]["closed_form_norm"]
        # MSE vanishes about ×10 per decade of 1 − ŷ_wrong; CCE tends to √2.
        assert n999["mse"] / n99["mse"] < 0.2, k
        assert n999["cce"] == pytest.approx(math.sqrt(2), abs=2e-3)
        assert n999["mse"] < 1e-2 * n999["cce"]
        # BCE on softmax keeps CCE's −log ŷ_true term: it does not vanish.
        assert n999["bce"] > n999["cce"]
        # The square loss on logits grows with the margin: √(1 + m²).
        assert n999["square"] == pytest.approx(math.hypot(1, by_p[0.999]["margin"]))
    # Over the sweep, CCE's norm rises monotonically towards √2 from below.
    cce = np.asarray(doc["curves"]["3"]["closed_form_norm"]["cce"])
    assert np.all(np.diff(cce[len(cce) // 2 :]) >= 0) and cce.max() < math.sqrt(2)


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_saturation_redraw_uses_only_the_json(saturation_run):
    out, _ = saturation_run
    json_before = (out / "saturation_quick.json").read_bytes()
    for name in ("saturation_quick.png", "saturation_quick.md"):
        (out / name).unlink()
    written = saturation.main(["--redraw", "--quick", "--out", str(out)])
    assert {p.name for p in written} == {"saturation_quick.png", "saturation_quick.md"}
    assert all(p.exists() for p in written)
    assert (out / "saturation_quick.json").read_bytes() == json_before


def test_redraw_without_results_fails_clearly(tmp_path):
    with pytest.raises(SystemExit, match="no results"):
        saturation.main(["--redraw", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="no results"):
        mlp_depth.main(["--redraw", "--out", str(tmp_path)])


@pytest.mark.parametrize(
    "argv",
    [["--depths", "-1"], ["--activations", "sigmoidd"], ["--width", "0"], ["--seeds", "-1"]],
)
def test_mlp_depth_rejects_bad_arguments(argv):
    with pytest.raises(SystemExit):
        mlp_depth.parse_args(argv)


@pytest.fixture(scope="module")
def depth_run(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("mlp_depth")
    # --smoke, cut further to two (activation, depth) so the file stays within its budget.
    argv = ["--smoke", "--source", "idx", "--data-dir", str(shared_data_dir)]
    argv += ["--activations", "sigmoid", "relu", "--depths", "3"]
    argv += ["--train-size", "1024", "--stats-size", "256", "--out", str(out)]
    return out, mlp_depth.main(argv)


@pytest.mark.slow  # separate processes or a full end-to-end run
def test_mlp_depth_cli_writes_json_figure_and_summary(depth_run):
    out, written = depth_run
    assert {p.name for p in written} == {"mlp_depth_smoke.png", "mlp_depth_smoke.md"}
    assert not any((out / f"mlp_depth.{ext}").exists() for ext in ("json", "png", "md"))
    doc = read_json(out / "mlp_depth_smoke.json")
    assert [(s["activation"], s["depth"]) for s in doc["searches"]] == [("sigmoid", 3), ("relu", 3)]
    for s in doc["searches"]:  # each lr is one the search tried
        assert s["lr"] in {r["lr"] for r in s["search"]["history"]}
    assert doc["provenance"]["config"]["train_size"] == 1024
    assert doc["provenance"]["seeds"] == [0]
    assert [(r["activation"], r["depth"]) for r in doc["runs"]] == [("sigmoid", 3), ("relu", 3)]
    for run in doc["runs"]:
        assert run["sizes"] == [784, 128, 128, 128, 10]
        for stage in ("init", "trained"):
            assert len(run[stage]["grad_norm"]) == 4
            assert len(run[stage]["mean_abs_delta"]) == 4
            assert len(run[stage]["mean_fprime"]) == 3
            assert all(v > 0 for v in run[stage]["grad_norm"])
        assert 0.0 <= run["test_accuracy"] <= 1.0 and not run["diverged"]
    summary = (out / "mlp_depth_smoke.md").read_text()
    assert "| sigmoid |" in summary and "## Reading" in summary
    assert "from `mlp_depth_smoke.json`" in summary and "no interval" in summary


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_mlp_depth_sigmoid_shrinks_the_backpropagated_error(depth_run):
    out, _ = depth_run
    runs = {r["activation"]: r for r in read_json(out / "mlp_depth_smoke.json")["runs"]}
    sig, relu = runs["sigmoid"]["init"], runs["relu"]["init"]
    assert max(sig["mean_fprime"]) <= 0.25  # σ′ ≤ 1/4 (seed 003)
    # δ shrinks at every step towards the input, by at least 1/4·(something ≤ ~1)…
    assert np.all(np.diff(sig["mean_abs_delta"]) > 0)
    # …and more than through ReLU, layer for layer and end to end.
    sig_ratio = sig["mean_abs_delta"][0] / sig["mean_abs_delta"][-1]
    relu_ratio = relu["mean_abs_delta"][0] / relu["mean_abs_delta"][-1]
    assert sig_ratio < 0.1 * relu_ratio
    assert sig["grad_norm"][0] / sig["grad_norm"][-1] < relu["grad_norm"][0] / relu["grad_norm"][-1]


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_mlp_depth_redraw(depth_run):
    out, _ = depth_run
    json_before = (out / "mlp_depth_smoke.json").read_bytes()
    (out / "mlp_depth_smoke.png").unlink()
    written = mlp_depth.main(["--redraw", "--smoke", "--out", str(out)])
    assert all(p.exists() for p in written)
    assert (out / "mlp_depth_smoke.json").read_bytes() == json_before


def test_layer_stats_match_autodiff():
    """The norms equal jax.grad's; the output layer's per-sample δ is ŷ − y (seed 003)."""
    rng = np.random.default_rng(3)  # numpy, so nothing compiles before the two jits below
    sizes = [6, 5, 4, 3]
    params = [
        {
            "w": rng.normal(size=(i, o)).astype(np.float32),
            "b": rng.normal(size=o).astype(np.float32),
        }
        for i, o in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    x = rng.normal(size=(7, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0], np.int32)
    stats = mlp_depth.layer_stats(params, x, y, "tanh")

    @jax.jit
    def autodiff_stats(params):
        """Weight-gradient norms and mean |∂ℓ_i/∂Z_l| from jax.grad, in one compiled call."""
        grads = jax.grad(lambda p: softjax.LOSSES["cce"](softjax.mlp_apply(p, x, "tanh"), y))
        norms = jnp.stack([jnp.linalg.norm(g["w"]) for g in grads(params)])

        def summed_loss_from_shifts(shifts):
            # Z_l + shift_l: the gradient w.r.t. the shift is each sample's δ_l = ∂ℓ_i/∂Z_l.
            a = x
            for i, (p, shift) in enumerate(zip(params, shifts, strict=True)):
                z = a @ p["w"] + p["b"] + shift
                a = jnp.tanh(z) if i < len(params) - 1 else z
            return softjax.LOSSES["cce"](a, y) * x.shape[0]

        zs, _ = softjax.mlp_forward(params, x, "tanh")
        deltas = jax.grad(summed_loss_from_shifts)([jnp.zeros_like(z) for z in zs])
        out_delta = softjax.softmax(zs[-1]) - jax.nn.one_hot(y, 3)
        return {
            "grad_norm": norms,
            "mean_abs_delta": jnp.stack([jnp.mean(jnp.abs(d)) for d in deltas]),
            "output_delta": jnp.mean(jnp.abs(out_delta)),
            "mean_fprime": jnp.stack([jnp.mean(1 - jnp.tanh(z) ** 2) for z in zs[:-1]]),
        }

    auto = autodiff_stats(params)
    for name in ("grad_norm", "mean_abs_delta", "mean_fprime"):
        np.testing.assert_allclose(stats[name], auto[name], rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(stats["mean_abs_delta"][-1], auto["output_delta"], rtol=1e-5)


def test_depth_reading_follows_the_data():
    """The f′ sentence states what the numbers show: agreement, partial or none."""
    from experiments.mlp_depth.report import fprime_agreement

    def ratios(per_layer, fprime):
        return {
            (a, "init"): {"delta_per_layer": d, "mean_fprime": f}
            for a, d, f in zip(("sigmoid", "relu", "tanh"), per_layer, fprime, strict=True)
        }

    agree = fprime_agreement(
        ratios((0.2, 0.5, 0.8), (0.24, 0.48, 0.94)), ["sigmoid", "relu", "tanh"]
    )
    assert "is the order of the mean f′" in agree
    partial = fprime_agreement(
        ratios((0.2, 0.9, 0.8), (0.24, 0.48, 0.94)), ["sigmoid", "relu", "tanh"]
    )
    assert partial.startswith("sigmoid has the smallest mean f′") and "differs" in partial
    against = fprime_agreement(
        ratios((0.6, 0.5, 0.8), (0.24, 0.48, 0.94)), ["sigmoid", "relu", "tanh"]
    )
    assert against.startswith("relu shrinks δ the most although sigmoid")


# ------------------------------------------------------------------ reproduce


def test_claim_setting_text_is_written_from_the_config():
    from experiments.reproduce import claims

    assert claims.describe(claims.SEED_MNIST) == (
        "784-10, init torch_linear, CCE, SGD lr 0.001, batch 64, shuffled, 5 epochs"
    )
    # A changed config changes the text: it cannot drift from what ran.
    changed = claims.SEED_MNIST.for_quick()
    assert claims.describe(changed).endswith("shuffled, 1 epoch")
    tuned = claims.describe(claims.TUNED_MLP, "MNIST")
    assert tuned == (
        "784-256-256-10 relu, init he_normal, CCE, Adam lr 0.001 for 8 epochs, then lr "
        "0.0001 for 3 epochs (a step schedule), batch 128, shuffled, MNIST"
    )
    blobs = claims.describe(claims.BLOBS, "blobs", train_size=240)
    assert "full batch (240), in order, 40 epochs" in blobs and "init uniform01" in blobs
    homework = claims.describe(claims.HW_MLP_HOMEWORK_INIT.for_quick())
    assert "784-64-10 relu, no bias, the homework's init" in homework and "randn/√64" in homework


def test_claim_targets_judge_and_say_the_same_numbers():
    from experiments.reproduce import claims

    within = claims.within(84.77, 1.5)
    assert within.text() == "within ±1.5 pp"
    assert within.judge(84.77 - 1.5) and within.judge(86.27) and not within.judge(83.2)
    assert claims.at_most(8.1).text() == "≤ 8.1%" and claims.at_most(2.1).text(True) == (
        "≤ 2.1% (mean)"
    )
    assert claims.at_most(8.1).judge(8.1) and not claims.at_most(8.1).judge(8.11)
    bar = claims.at_least(90.0, name="accuracy", note="our bar")
    assert bar.text(True) == "accuracy ≥ 90% (our bar)"
    assert bar.judge(90.0) and not bar.judge(89.9) and not bar.judge(math.nan)
    assert claims.in_range(0.73, 0.97).text() == "in [0.73, 0.97]"
    assert not claims.in_range(0.73, 0.97).judge(0.98)
    assert claims.close("J", 1e-5).text() == "|ΔJ| < 1e-5"
    assert claims.equal_to(3).judge(0.0) and not claims.equal_to(3).judge(0.001)


def test_claim_table_keeps_the_notes_numbers():
    """The rows of results/reproduce.md: the same items, ids, notes' numbers and targets."""
    from experiments.reproduce import claims

    rows = {c.id: c for c in claims.CLAIMS}
    assert [c.item for c in claims.CLAIMS] == sorted(c.item for c in claims.CLAIMS)
    assert list(rows) == [
        "toy_forward",
        "toy_loss",
        "blobs",
        "seed_mnist_accuracy",
        "seed_mnist_loss",
        "hw_softmax_raw",
        "hw_softmax_tfds",
        "hw_mlp_exact",
        "hw_mlp_seeds",
        "tuned_softmax",
        "tuned_mlp",
        "learn_sleep",
        "seed_mnist_probabilities",
    ]
    assert rows["seed_mnist_accuracy"].notes == "84.77% test accuracy"
    assert rows["hw_softmax_raw"].notes == "7.97% test error"
    assert rows["hw_mlp_seeds"].notes == "1.89% test error"
    targets = {k: c.target.text(True) for k, c in rows.items() if c.target}
    assert targets["seed_mnist_loss"] == "in [0.73, 0.97]"
    assert rows["hw_softmax_tfds"].target.text() == "≤ 8.1%"
    assert rows["hw_mlp_exact"].target.text() == "≤ 2.1%" and targets["hw_mlp_seeds"] == (
        "≤ 2.1% (mean)"
    )
    assert targets["seed_mnist_accuracy"] == "within ±1.5 pp"
    assert targets["tuned_softmax"] == "≥ 92.5% (mean)" and targets["tuned_mlp"] == "≥ 98.3% (mean)"
    assert rows["learn_sleep"].target is None and rows["seed_mnist_probabilities"].target is None


def test_reproduce_counts_its_runs():
    from experiments.reproduce import run as reproduce

    full = reproduce.total_runs(reproduce.plan(False), reproduce.seed_sets(False))
    # blobs 5, seed-001 MNIST 5, homework softmax 2 orders, homework MLP 1 + 5,
    # tuned softmax and MLP 5 seeds each (a step schedule: one run), learn/sleep 5.
    assert full == 5 + 5 + 2 + 6 + 10 + 5
    assert reproduce.total_runs(reproduce.plan(True), reproduce.seed_sets(True)) == 11
    fewer = reproduce.total_runs(reproduce.plan(False), reproduce.seed_sets(False, mlp_seeds=2))
    assert fewer == full - 3 - 3


def test_toy_rows_reproduce_the_notes():
    from experiments.reproduce import measures

    forward = measures.toy_forward()
    assert forward.value == 0.0 and forward.text.startswith("z = [6.699, 1.901, -6.803]")
    loss = measures.toy_loss()
    assert loss.value < 1e-5 and all(loss.checks.values())
    assert loss.setting == "3 points, predictions [.9 .1 0], [.1 .8 .1], [.1 .2 .7]"


def test_measures_of_runs_read_the_final_epoch():
    from types import SimpleNamespace

    from experiments.reproduce import measures

    def result(accuracy, loss):
        return SimpleNamespace(
            history={"test_accuracy": np.array([0.5, accuracy]), "train_loss": np.array([2, loss])}
        )

    one = measures.test_error(measures.Trained([result(0.92, 1.0)], [None], (0,), True))
    assert one.value == pytest.approx(8.0)
    assert one.text == "8.00% test error (deterministic: 1 run)"
    seeded = measures.test_error(
        measures.Trained([result(0.92, 1), result(0.94, 1)], [None] * 2, (0, 1))
    )
    assert seeded.value == pytest.approx(7.0) and seeded.values == pytest.approx([8.0, 6.0])
    assert seeded.text == "7.00 ± 1.41% (2 seeds) test error"
    accuracy = measures.test_accuracy(measures.Trained([result(0.92, 1)], [None], (0,)))
    assert accuracy.value == pytest.approx(92.0) and "deterministic" not in accuracy.text
    loss = measures.last_epoch_loss(
        measures.Trained([result(0.9, 0.8), result(0.9, 0.9)], [None] * 2, (0, 1))
    )
    assert loss.value == pytest.approx(0.85) and loss.text.endswith("first epoch's 2.000")


def test_reproduce_row_fails_on_a_failed_check_or_divergence():
    from experiments.reproduce import claims, measures
    from experiments.reproduce import run as reproduce

    claim = next(c for c in claims.CLAIMS if c.id == "blobs")
    good = measures.Measured(97.0, "t", [0.97, 0.97], checks={"J falls": True})
    row = reproduce.make_row(claim, good, "s", judged=True, diverged=False)
    assert row["pass"] is True and row["target"] == "J falls; accuracy ≥ 90% (our bar)"
    assert not reproduce.make_row(claim, good, "s", judged=True, diverged=True)["pass"]
    bad = good._replace(checks={"J falls": False})
    assert not reproduce.make_row(claim, bad, "s", judged=True, diverged=False)["pass"]


@pytest.fixture(scope="module")
def reproduce_run(tmp_path_factory, monkeypatch_module):
    """reproduce --quick on a fake 512-image MNIST (the loop, JSON and figures, not the
    numbers: those need the real data and the full run)."""
    from experiments.reproduce import claims
    from experiments.reproduce import run as reproduce
    from softjax.data import Dataset

    rng = np.random.default_rng(0)

    def fake_mnist(name, **kwargs):
        assert kwargs["validation"] == 0  # the notes train on all 60,000 images
        x = rng.random((640, 784), dtype=np.float32)
        y = rng.integers(0, 10, 640).astype(np.int32)
        return Dataset(x[:512], y[:512], x[512:], y[512:])

    monkeypatch_module.setattr(reproduce, "load_dataset", fake_mnist)
    # One claim per code path (toy, full batch, per-seed data, homework init, step decay,
    # the figures' two runs), one seed each: the loop, not the table, is under test here.
    kept = {"toy_forward", "toy_loss", "blobs", "seed_mnist_accuracy", "hw_mlp_exact"}
    kept |= {"tuned_softmax", "learn_sleep", "seed_mnist_probabilities"}
    cut = tuple(c for c in claims.CLAIMS if c.id in kept)
    monkeypatch_module.setattr(claims, "CLAIMS", cut)
    monkeypatch_module.setattr(reproduce, "QUICK_SEEDS", (0,))
    out = tmp_path_factory.mktemp("reproduce")
    return out, reproduce.main(["--quick", "--out", str(out)])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.slow  # six small trainings, each compiled
def test_reproduce_quick_writes_rows_figures_and_redraws(reproduce_run):
    from experiments.reproduce import run as reproduce

    out, written = reproduce_run
    assert {p.name for p in written} == {
        "blobs_loss_quick.png",
        "blobs_boundary_quick.png",
        "weights_mnist_quick.png",
        "weights_mnist_learned_quick.png",
        "mnist_probabilities_quick.png",
        "reproduce_quick.md",
    }
    doc = read_json(out / "reproduce_quick.json")
    rows = {r["id"]: r for r in doc["rows"]}
    assert rows["toy_forward"]["pass"] and rows["toy_loss"]["pass"] and rows["blobs"]["pass"]
    assert not rows["seed_mnist_accuracy"]["judged"]  # quick MNIST rows are not judged
    assert rows["seed_mnist_accuracy"]["setting"].startswith("784-10, init torch_linear")
    assert "MNIST 512 train, tfds order" in rows["seed_mnist_accuracy"]["setting"]
    assert "the homework's init" in rows["hw_mlp_exact"]["setting"]
    assert "raw IDX file order" in rows["hw_mlp_exact"]["setting"]
    assert "then lr 0.0001 for 1 epoch" in rows["tuned_softmax"]["setting"]
    assert len(rows["learn_sleep"]["rule_accuracies"]) == 1
    runs = {"blobs", "seed_mnist", "hw_mlp_homework_init", "tuned_softmax", "learn_sleep"}
    assert set(doc["wall_s"]) == {"load", "toy"} | runs
    json_before = (out / "reproduce_quick.json").read_bytes()
    (out / "blobs_loss_quick.png").unlink()
    redrawn = reproduce.main(["--redraw", "--quick", "--out", str(out)])
    assert all(p.exists() for p in redrawn)
    assert (out / "reproduce_quick.json").read_bytes() == json_before
