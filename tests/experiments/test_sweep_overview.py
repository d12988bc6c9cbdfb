"""The MLP study's overview (experiments.loss_sweep.overview) on hand-made model documents:
its pooled verdicts and sign counts come from the per-replicate values in the documents."""

from __future__ import annotations

from experiments.loss_sweep import analysis
from experiments.loss_sweep import overview as ov
from softjax.hidden import LAYER_KEYS
from softjax.history import HISTORY_KEYS
from softjax.sweeps.stats import select_best, summarize

LRS = (0.01, 0.1, 1.0)
SEEDS = (0, 1, 2)


def _records(loss, tests, train_acc=0.9, fprime_last=0.2, fprime_layers=None):
    """Three replicates of ``loss`` at lr 0.1 with final test accuracies ``tests``; lr
    0.01 and 1.0 validate worse, so 0.1 is chosen and interior. Without
    ``fprime_layers`` the history has only the first/last keys (results written before
    the per-layer keys); with it, per-layer f′ [0.24]·L → ``fprime_layers`` (+0.001·seed)
    and saturated [0]·L → 1% per layer, and first/last read off those."""
    out = []
    for lr in LRS:
        for seed, test in zip(SEEDS, tests, strict=True):
            history = {k: [0.5, 0.5] for k in HISTORY_KEYS if k not in LAYER_KEYS}
            chosen = lr == 0.1
            history |= {
                "val_accuracy": [0.5, test if chosen else test - 0.05],
                "test_accuracy": [0.5, test if chosen else test - 0.05],
                "train_accuracy": [0.5, train_acc],
                "hidden_fprime_first": [0.24, 0.23],
                "hidden_fprime_last": [0.2, fprime_last + 0.001 * seed],
                "hidden_saturated_first": [0.0, 0.01],
                "hidden_saturated_last": [0.1, 0.5],
            }
            if fprime_layers is not None:
                f = [[0.24] * len(fprime_layers), [v + 0.001 * seed for v in fprime_layers]]
                sat = [[0.0] * len(fprime_layers), [0.01] * len(fprime_layers)]
                history |= {"hidden_fprime": f, "hidden_saturated": sat}
                for key, v in (("hidden_fprime", f), ("hidden_saturated", sat)):
                    history[f"{key}_first"] = [row[0] for row in v]
                    history[f"{key}_last"] = [row[-1] for row in v]
            out.append(
                {
                    "key": f"{loss}-{lr}-{seed}",
                    "loss": loss,
                    "loss_spec": loss,
                    "lr": lr,
                    "init_scale": 1.0,
                    "seed": seed,
                    "data_seed": seed,
                    "diverged": False,
                    "config": {"sizes": [784, 8, 10]},
                    "history": history,
                }
            )
    return out


def _doc(activation, sizes, by_loss, **kw):
    records = [r for loss, tests in by_loss.items() for r in _records(loss, tests, **kw)]
    summary = summarize(records)
    grid = {
        "losses": list(by_loss),
        "init_scales": [1.0],
        "seeds": list(SEEDS),
        "sizes": sizes,
        "activation": activation,
        "activations": ["sigmoid", "relu"],
        "dataset": "mnist",
        "epochs": 2,
        "batch_size": 64,
        "optimizer": "sgd",
        "train_subset": None,
    }
    grid |= {"delta": 0.005, "cut": [], "model": f"{activation}_{len(sizes)}"}
    runs = [
        {"loss": r["loss"], "init_scale": 1.0, "lr": r["lr"], "seed": r["seed"], "diverged": False}
        | {"test_short": r["history"]["test_accuracy"][-1], "budget": "short"}
        for r in records
        if r["lr"] == 0.1
    ]
    return {
        "grid": grid,
        "runs": runs,
        "analysis": analysis.analyse(runs, list(by_loss), [1.0], 2, grid["model"]),
        "cells": summary["cells"],
        "best": select_best(summary),
        "n_records": len(records),
        "wall_seconds": 10.0,
        "quick": False,
    }


SHALLOW = _doc(
    "sigmoid",
    [784, 8, 10],
    {"cce": (0.89, 0.90, 0.91), "mse": (0.59, 0.60, 0.61), "bce": (0.81, 0.91, 1.0)},
)
DEEP = _doc(
    "sigmoid",
    [784, 8, 8, 10],
    {"cce": (0.09, 0.10, 0.11), "mse": (0.79, 0.80, 0.81), "bce": (0.09, 0.11, 0.13)},
    train_acc=0.1,
    fprime_last=0.01,
)
RELU = _doc("relu", [784, 8, 10], {"cce": (0.9, 0.9, 0.9), "mse": (0.9, 0.9, 0.9)})
# Per-layer keys, three hidden layers: the gradient dies in the middle one.
THREE = _doc(
    "sigmoid",
    [784, 8, 8, 8, 10],
    {"cce": (0.89, 0.90, 0.91), "mse": (0.59, 0.60, 0.61)},
    fprime_layers=(0.2, 0.005, 0.1),
)


def test_the_pooled_effect_is_the_mean_of_the_models_paired_means_with_a_sign_count():
    effects = analysis.pooled_effects([SHALLOW, DEEP, THREE], "fam")
    mse = next(e for e in effects if e["loss"] == "mse")
    # per-model mean paired differences: −0.30, +0.70, −0.30 (replicate by replicate)
    assert sorted(round(v, 6) for v in mse["per_model"].values()) == [-0.3, -0.3, 0.7]
    assert abs(mse["mean"] - (0.7 - 0.6) / 3) < 1e-9
    assert (mse["negative"], mse["positive"], mse["settings"]) == (2, 1, 3)
    assert mse["verdict"] == "inconclusive" and mse["family_size"] == 2
    assert mse["low"] < 0 < mse["high"]  # the model-to-model spread, not n = 30 replicates
    # RELU has no bce: its pair is left out, not counted.
    bce = next(e for e in analysis.pooled_effects([SHALLOW, RELU], "fam") if e["loss"] == "bce")
    assert bce["settings"] == 1 and bce["verdict"] is None
    (mse_line, bce_line) = ov.pooled_lines(effects, [SHALLOW, DEEP, THREE])
    assert "mse − cce, init 1: +3.33 pp" in mse_line
    assert "negative in 2 of 3 models, positive in 1" in mse_line
    assert mse_line.startswith("Final test accuracy, mse vs cce, pooled over the 3 MLPs")


def test_each_models_verdicts_are_paired_and_holm_corrected_in_its_own_family():
    (line,) = ov.model_verdict_lines([SHALLOW])
    assert line.startswith("sigmoid 784-8-10 (family of 2): mse − cce, init 1: −30.00 pp")
    assert "lower (Holm p" in line and '"sigmoid_3, fixed budget", 2 comparisons' in line


def test_stuck_runs_and_where_the_gradient_dies_are_read_from_the_numbers():
    (stuck,) = ov.stuck_lines([SHALLOW, DEEP])
    assert "sigmoid 784-8-8-10, cce at init scale 1: 3/3 (44–100%)" in stuck
    assert "784-8-10," not in stuck  # the shallow net's runs all trained
    assert ov.stuck_lines([SHALLOW])[0].startswith("None of the 9 runs at a chosen lr")
    lead, shallow, deep = ov.gradient_lines([SHALLOW, DEEP, RELU])
    assert "lowest last-epoch mean f′ is 0.011, in the last hidden layer of sigmoid 784-8-8-10" in (
        lead
    )
    # one hidden layer: stated once, without "first"/"last"
    assert "cce (lr 0.1) f′ 0.240 → 0.230, saturated 0.0 → 1.0%" in shallow
    assert "layer f′" not in shallow
    assert "first layer f′ 0.240 → 0.230" in deep and "last layer f′ 0.200 → 0.011" in deep
    assert "relu" not in lead + shallow + deep


def test_the_overview_md_links_every_model_and_totals_runs_and_time(tmp_path):
    text = ov.markdown([DEEP, SHALLOW], ["deep_stem", "shallow_stem"], "ov", "ov_overview.png")
    # rows by activation then depth, whatever the order given
    assert text.index("| sigmoid 784-8-10 |") < text.index("| sigmoid 784-8-8-10 |")
    assert "[sigmoid 784-8-10](shallow_stem.md)" in text
    assert "[sigmoid 784-8-8-10](deep_stem.md)" in text
    assert "54 final runs" in text and "20 s of wall time" in text
    assert "| 90.00 ± 2.48 (lr 0.1) |" in text
    assert 'family "MNIST MLPs pooled, fixed budget" (2 comparisons), Holm-corrected' in text
    assert "equivalence margin ±0.5 pp" in text
    assert "![final test accuracy per model and loss](ov_overview.png)" in text


def test_write_overview_writes_both_files_from_the_jsons(tmp_path):
    from softjax.results import write_json

    paths = [write_json(tmp_path / f"{n}.json", d) for n, d in (("a", SHALLOW), ("b", DEEP))]
    md, png = ov.write_overview(paths, tmp_path / "ov.md", tmp_path / "ov_overview.png")
    assert md.read_text().startswith("# ov: 3 losses × 2 MLPs on MNIST")
    assert png.stat().st_size > 0 and not list(tmp_path.glob(".*.tmp"))


def test_init_scales_merge_in_the_figure_only_where_every_model_merges_them():
    def doc(split):
        best = [
            {
                "loss": "cce",
                "loss_spec": "cce",
                "init_scale": s,
                "lr": 0.1,
                "final_test_accuracy": 0.9 - (0.5 if split and s >= 10 else 0),
                "final_test_accuracy_ci95": 0.01,
            }
            for s in (1.0, 10.0, 100.0)
        ]
        return {"grid": {"init_scales": [1.0, 10.0, 100.0]}, "best": best}

    assert ov.shared_scale_groups([doc(False)]) == [[1.0, 10.0, 100.0]]
    assert ov.shared_scale_groups([doc(False), doc(True)]) == [[1.0], [10.0, 100.0]]


def test_every_hidden_layer_is_reported_when_the_results_hold_the_per_layer_keys():
    lead, three = ov.gradient_lines([THREE])
    # the middle layer, which first/last alone would miss, is named as where f′ is lowest
    assert "lowest last-epoch mean f′ is 0.006, in hidden layer 2 of sigmoid 784-8-8-8-10" in (lead)
    for layer, last in ((1, "0.201"), (2, "0.006"), (3, "0.101")):
        assert f"hidden layer {layer} f′ 0.240 → {last}, saturated 0.0 → 1.0%" in three
    assert "first layer" not in three


def test_the_gradients_figure_has_a_row_per_hidden_layer_or_first_last_for_old_results(
    tmp_path,
):
    from softjax.plots import gradients as sweep_plots

    rows = sweep_plots.hidden_rows(THREE)
    # one f′ row and one saturated row, each drawing the three layers as line styles
    assert [(key, layer) for key, layer, *_ in rows] == [
        ("hidden_fprime", (0, 1, 2)),
        ("hidden_saturated", (0, 1, 2)),
    ]
    assert rows[0][3] == "mean f′, every hidden layer"
    assert [r[0] for r in sweep_plots.hidden_rows(DEEP)] == [
        "hidden_fprime_first",
        "hidden_fprime_last",
        "hidden_saturated_first",
        "hidden_saturated_last",
    ]
    assert [r[0] for r in sweep_plots.hidden_rows(SHALLOW)] == [
        "hidden_fprime_first",
        "hidden_saturated_first",
    ]
    for doc in (THREE, DEEP):
        path = sweep_plots.draw_gradients(doc, tmp_path / f"g{len(doc['grid']['sizes'])}.png")
        assert path.stat().st_size > 0


def test_the_study_overview_pools_every_dataset_and_model_with_a_sign_count():
    from experiments.loss_sweep import study

    fashion = {**SHALLOW, "grid": {**SHALLOW["grid"], "dataset": "fashion_mnist"}}
    mse = next(x for x in study.lines([SHALLOW, DEEP, fashion]) if "mse − cce" in x)
    # three settings (mnist shallow, mnist deep, fashion shallow): −0.30, +0.70, −0.30
    assert "negative in 2 of 3 settings, positive in 1" in mse
    assert mse.startswith("Pooled over (dataset, model), mse − cce, init 1: +3.33 pp")
    text = study.markdown([SHALLOW, fashion], "loss_sweep_mlp")
    assert "fashion_mnist/sigmoid_3, mnist/sigmoid_3" in text and "Holm" in text
