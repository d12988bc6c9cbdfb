"""Smoke tests of the saturation and MLP-depth experiments: CLI, JSON claims, redraw.

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
from experiments import mlp_depth, saturation
from softjax.results import read_json


@pytest.fixture(scope="module")
def saturation_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("saturation")
    written = saturation.main(["--quick", "--points", "61", "--out", str(out)])
    return out, written


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
        assert set(curve["closed_form_norm"]) == set(softjax.LOSS_NAMES)
        assert len(curve["margin"]) == 61
    table = (out / "saturation_quick.md").read_text()
    assert "| MSE on softmax |" in table and "ŷ_wrong=0.999" in table


def test_saturation_closed_form_matches_jax_grad(saturation_run):
    out, _ = saturation_run
    doc = read_json(out / "saturation_quick.json")
    # float64; MSE's cancellation near saturation costs ~1e-10 relative, both ways.
    assert doc["max_rel_diff_overall"] < 1e-8
    for curve in doc["curves"].values():
        for loss_name, closed in curve["closed_form_norm"].items():
            np.testing.assert_allclose(closed, curve["autodiff_norm"][loss_name], rtol=1e-8)


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
    [["--depths", "-1"], ["--activations", "sigmoidd"], ["--width", "0"], ["--lr", "-1"]],
)
def test_mlp_depth_rejects_bad_arguments(argv):
    with pytest.raises(SystemExit):
        mlp_depth.parse_args(argv)


@pytest.fixture(scope="module")
def depth_run(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("mlp_depth")
    # --quick, cut further to two runs so the whole file stays within its time budget.
    argv = ["--quick", "--source", "idx", "--data-dir", str(shared_data_dir)]
    argv += ["--activations", "sigmoid", "relu", "--depths", "3"]
    argv += ["--train-size", "1024", "--stats-size", "256", "--out", str(out)]
    return out, mlp_depth.main(argv)


def test_mlp_depth_cli_writes_json_figure_and_summary(depth_run):
    out, written = depth_run
    assert {p.name for p in written} == {"mlp_depth_quick.png", "mlp_depth_quick.md"}
    assert not any((out / f"mlp_depth.{ext}").exists() for ext in ("json", "png", "md"))
    doc = read_json(out / "mlp_depth_quick.json")
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
    summary = (out / "mlp_depth_quick.md").read_text()
    assert "| sigmoid |" in summary and "## Reading" in summary
    assert "from `mlp_depth_quick.json`" in summary


def test_mlp_depth_sigmoid_shrinks_the_backpropagated_error(depth_run):
    out, _ = depth_run
    runs = {r["activation"]: r for r in read_json(out / "mlp_depth_quick.json")["runs"]}
    sig, relu = runs["sigmoid"]["init"], runs["relu"]["init"]
    assert max(sig["mean_fprime"]) <= 0.25  # σ′ ≤ 1/4 (seed 003)
    # δ shrinks at every step towards the input, by at least 1/4·(something ≤ ~1)…
    assert np.all(np.diff(sig["mean_abs_delta"]) > 0)
    # …and more than through ReLU, layer for layer and end to end.
    sig_ratio = sig["mean_abs_delta"][0] / sig["mean_abs_delta"][-1]
    relu_ratio = relu["mean_abs_delta"][0] / relu["mean_abs_delta"][-1]
    assert sig_ratio < 0.1 * relu_ratio
    assert sig["grad_norm"][0] / sig["grad_norm"][-1] < relu["grad_norm"][0] / relu["grad_norm"][-1]


def test_mlp_depth_redraw(depth_run):
    out, _ = depth_run
    json_before = (out / "mlp_depth_quick.json").read_bytes()
    (out / "mlp_depth_quick.png").unlink()
    written = mlp_depth.main(["--redraw", "--quick", "--out", str(out)])
    assert all(p.exists() for p in written)
    assert (out / "mlp_depth_quick.json").read_bytes() == json_before


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
        grads = jax.grad(lambda p: softjax.get_loss("cce")(softjax.mlp_apply(p, x, "tanh"), y))
        norms = jnp.stack([jnp.linalg.norm(g["w"]) for g in grads(params)])

        def summed_loss_from_shifts(shifts):
            # Z_l + shift_l: the gradient w.r.t. the shift is each sample's δ_l = ∂ℓ_i/∂Z_l.
            a = x
            for i, (p, shift) in enumerate(zip(params, shifts, strict=True)):
                z = a @ p["w"] + p["b"] + shift
                a = jnp.tanh(z) if i < len(params) - 1 else z
            return softjax.get_loss("cce")(a, y) * x.shape[0]

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
    from softjax.plots.depth import fprime_agreement

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
