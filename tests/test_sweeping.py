"""Tests for softjax.sweeps: a vmapped grid equals separate ``train()`` runs, shares its
minibatches, shards over devices, streams atomically to JSONL and resumes.

Everything runs on small synthetic Gaussian classes (``make_gaussian_classes``) so the
whole file compiles only a handful of small programs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax.losses as softjax_losses
import softjax.sweeps as sweep_module
import softjax.sweeps.core as core_module
from softjax.compilation_cache import compilation_cache_in
from softjax.config import TrainConfig, init_params
from softjax.data import Dataset
from softjax.history import DIAGNOSTIC_KEYS, HISTORY_KEYS
from softjax.inputs import as_data, validate
from softjax.results import read_jsonl
from softjax.run import train
from softjax.sweeps import (
    data_key,
    init_key,
    init_stack,
    make_sweep,
    padded_size,
    sweep,
)
from tests.helpers import SWEEP_BASE as BASE
from tests.helpers import SWEEP_GRID as GRID
from tests.helpers import jaxpr_eqns, sweep_on_fake_cpu_devices, tiny_gaussian_classes
from tests.helpers import leaves as _leaves
from tests.helpers import no_runtime_warning as _no_warning

tiny = pytest.fixture(tiny_gaussian_classes, scope="module", name="tiny")


# ------------------------------------------------------- equality with separate runs


def _persistent_compile_cache(folder: Path):
    """JAX's on-disk compile cache in ``folder``, for this block only.

    ``train()`` jits a fresh closure per call, so each reference run would compile again;
    runs that differ only in lr, seed or init scale lower to the same HLO, and the
    on-disk cache (keyed on the HLO) compiles each loss once. Restored afterwards.
    """
    return compilation_cache_in(folder, min_compile_seconds=0.0)


# In float64 square loss needs a huge lr to overflow within 10 steps; cce's and mse's
# bounded gradients keep even lr 1e100 finite. Init seed 1 ≠ data seed 1 covers both seed
# conventions. Three losses: three blocks of the one program.
GRID64 = {**GRID, "losses": ["cce", "square", "mse"], "lrs": [0.3, 1e100]}


def _float64(ds) -> Dataset:
    return Dataset(
        np.asarray(ds.x_train, np.float64),
        ds.y_train,
        np.asarray(ds.x_test, np.float64),
        ds.y_test,
    )


@pytest.fixture(scope="module")
def sweep64(tiny):
    """GRID64 swept in float64 on this process's one device (the plain ``mesh=None`` jit)."""
    assert jax.device_count() == 1, "the reference must be the unsharded path"
    with jax.enable_x64(True):
        return sweep(BASE, _float64(tiny), **GRID64, progress=False, return_params=True)


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_sweep_of_n_configs_equals_n_separate_train_runs_in_float64(tiny, sweep64, tmp_path):
    """Every one of the N = 3 losses × 2 lrs × 2 seeds configs equals its own train()."""
    records = sweep64
    assert len(records) == 12
    with jax.enable_x64(True):
        data = _float64(tiny)
        with _persistent_compile_cache(tmp_path / "jax_cache"):
            for r in records:
                config = TrainConfig(**{**r["config"], "sizes": tuple(r["config"]["sizes"])})
                assert config == BASE.replace(
                    loss=r["loss"], lr=r["lr"], init_scale=r["init_scale"], seed=r["seed"]
                )
                with pytest.warns(RuntimeWarning) if r["diverged"] else _no_warning():
                    if r["seed"] == r["data_seed"]:
                        # Equal seeds: exactly train()'s own split of one seed.
                        ref = train(config, data)
                    else:
                        # Init from seed `seed`, minibatches from `data_seed`.
                        start = init_params(
                            config, init_key(r["seed"]), r["init_scale"], dtype=jnp.float64
                        )
                        ref = train(config.replace(seed=r["data_seed"]), data, params=start)
                assert r["diverged"] == ref.diverged
                assert r["diverged_epoch"] == ref.diverged_epoch
                for a, b in zip(_leaves(r["params"]), _leaves(ref.params), strict=True):
                    assert a.dtype == np.float64
                    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
                for k in HISTORY_KEYS:
                    # A run that diverged in epoch 1 stores [] in JSON for a (0, L) key.
                    got = np.reshape(r["history"][k], np.shape(ref.history[k]))
                    np.testing.assert_allclose(got, ref.history[k], rtol=1e-6, atol=1e-6)
        diverged = [r["diverged"] for r in records]
        # Divergence is per model: only square loss at lr 1e100 overflows, the rest train.
        assert diverged == [r["loss"] == "square" and r["lr"] == 1e100 for r in records]
        trained = [r for r in records if not r["diverged"]]
        assert all(len(r["history"]["test_accuracy"]) == BASE.epochs for r in trained)
        start = init_params(BASE, init_key(0), 2.0, dtype=jnp.float64)
        assert not np.allclose(_leaves(records[0]["params"])[0], _leaves(start)[0])


def test_a_sweep_without_diagnostics_records_the_same_losses_and_nan_diagnostics(tiny, tmp_path):
    """``diagnostics=False`` reaches every block of the mixed program; the records keep
    every history key (NaN diagnostics survive the JSONL round trip) and the rest of the
    history is the full sweep's."""
    grid = {**GRID, "lrs": [0.3], "seeds": [0]}
    full = sweep(BASE, tiny, **grid, progress=False)
    sweep(
        BASE.replace(diagnostics=False), tiny, **grid, name="lean", out_dir=tmp_path, progress=False
    )
    lean = read_jsonl(tmp_path / "lean.jsonl")
    assert [r["loss"] for r in lean] == [r["loss"] for r in full] == ["cce", "square"]
    for got, want in zip(lean, full, strict=True):
        assert got["config"]["diagnostics"] is False and set(got["history"]) == set(want["history"])
        for k in HISTORY_KEYS:
            if k in DIAGNOSTIC_KEYS:
                assert np.isnan(np.asarray(got["history"][k], float)).all(), k
                assert np.isfinite(np.asarray(want["history"][k], float)).all(), k
            else:
                np.testing.assert_array_equal(got["history"][k], want["history"][k], err_msg=k)


# --------------------------------------------------------------- shared minibatches


def test_models_share_one_unbatched_gather_and_one_wide_matmul(tiny):
    """With 7 models no gather may carry the model axis: the batch is gathered once."""
    n_models = 7
    params = init_stack(BASE, jnp.stack([init_key(s) for s in range(n_models)]), jnp.ones(n_models))
    jaxpr = jax.make_jaxpr(make_sweep(BASE))(
        params,
        jnp.full(n_models, 0.1),
        data_key(0),
        as_data(tiny),
    )
    gathers = [e for e in jaxpr_eqns(jaxpr.jaxpr) if e.primitive.name == "gather"]
    assert gathers, "expected the minibatch gathers in the program"
    for e in gathers:
        assert n_models not in e.outvars[0].aval.shape, e.outvars[0].aval
        assert n_models not in e.invars[0].aval.shape, e.invars[0].aval  # no data copies
    # The training step's forward matmul: shared (B, D) rows against all models' weights.
    dots = [e for e in jaxpr_eqns(jaxpr.jaxpr) if e.primitive.name == "dot_general"]
    shared_rows = [e for e in dots if e.invars[0].aval.shape == (BASE.batch_size, 5)]
    # The weights are (D, M, K), the model axis second: one (D, M·K) matrix, no transpose.
    assert shared_rows and all(e.invars[1].aval.shape[:2] == (5, n_models) for e in shared_rows)


def test_padding_fills_every_device_with_at_least_two_models():
    assert padded_size(1, 1) == 2
    assert padded_size(5, 1) == 5
    assert padded_size(6, 8) == 16
    assert padded_size(17, 8) == 24


# ----------------------------------------------------------------------- sharding


def test_one_process_trains_every_share_of_its_mesh_on_its_own_devices():
    from jax.sharding import Mesh

    from softjax.sweeps.core import device_order, local_slots

    one = Mesh(np.array(jax.devices()[:1]), ("configs",))
    assert device_order(one) == jax.devices()[:1]
    assert local_slots(one) == ((0, jax.devices()[0]),)


@pytest.mark.slow  # separate processes or a full end-to-end run
def test_a_sweep_sharded_over_8_cpu_devices_equals_the_plain_one_device_path(sweep64):
    """8 fake CPU devices (the one-device program on each device's 2 models, 12 configs
    padded to 16) against ``mesh=None``."""
    sharded, single = sweep_on_fake_cpu_devices(8, BASE, GRID64), sweep64
    assert len(sharded) == len(single) == 12
    assert [r["key"] for r in sharded] == [r["key"] for r in single]
    # square at lr 1e100, both seeds: the padding is dropped, the flags kept.
    assert [r["diverged"] for r in sharded] == [r["diverged"] for r in single]
    assert sum(r["diverged"] for r in single) == 2
    worst = 0.0
    for a, b in zip(sharded, single, strict=True):
        if a["diverged"]:
            continue
        for x, y in zip(a["params"], jax.tree.leaves(b["params"]), strict=True):
            x, y = np.asarray(x), np.asarray(y)
            worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1))))
        for k in HISTORY_KEYS:
            x, y = np.asarray(a["history"][k], float), np.asarray(b["history"][k], float)
            # A model at lr 1e100 that stays finite may log an infinite loss: the same
            # infinities on both sides, compared as such (inf - inf would be nan).
            finite = np.isfinite(y)
            np.testing.assert_array_equal(x[~finite], y[~finite])
            worst = max(worst, float(np.max(np.abs(x[finite] - y[finite]), initial=0.0)))
    assert worst <= 1e-10, worst


# -------------------------------------------------------------------------- bad grids


@pytest.mark.parametrize(
    "change, message",
    [
        ({"losses": []}, "losses: .*empty"),
        ({"lrs": []}, "lrs: .*empty"),
        ({"init_scales": ()}, "init_scales: .*empty"),
        ({"seeds": []}, "seeds: .*empty"),
        ({"data_seeds": []}, "data_seeds: .*empty"),
        ({"lrs": [0.1, 0.0]}, r"lrs: expected finite learning rates > 0, got 0.0"),
        ({"lrs": [-0.1]}, r"lrs: .*got -0.1"),
        ({"lrs": [float("nan")]}, r"lrs: .*got nan"),
        ({"init_scales": [0]}, r"init_scales: expected finite init scales > 0, got 0"),
        ({"init_scales": [-1.0]}, r"init_scales: .*got -1.0"),
        ({"losses": ["cce", "hinge"]}, r"losses: .*got 'hinge'"),
        ({"losses": "cce"}, r"losses: expected a non-empty sequence"),
        ({"seeds": [0, 1.5]}, r"seeds: expected int seeds in \[0, 2\*\*32\), got 1.5"),
        ({"seeds": [0, 2**32]}, r"seeds: expected int seeds in \[0, 2\*\*32\), got 4294967296"),
        ({"data_seeds": [-1]}, r"data_seeds: expected int seeds in \[0, 2\*\*32\), got -1"),
        ({"seeds": [0, 0]}, r"seeds: duplicate values 0"),
        ({"lrs": [0.1, 0.1]}, r"lrs: duplicate values 0.1"),
        ({"losses": ["mse", "mse"]}, r"losses: duplicate values 'mse'"),
        ({"data_seeds": [2, 2]}, r"data_seeds: duplicate"),
        ({"lrs": [[0.1], [0.3], [1.0]]}, r"lrs: expected one lr grid per loss \(2 losses\)"),
        ({"lrs": [[0.1], [0.3, -1.0]]}, r"lrs\[1\]: expected finite learning rates > 0"),
        ({"lrs": [[0.1], []]}, r"lrs\[1\]: .*empty"),
    ],
)
def test_bad_grids_raise_a_value_error_before_compiling(tiny, monkeypatch, change, message):
    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled before rejecting the grid")

    monkeypatch.setattr(core_module, "build_program", no_compiling)
    with pytest.raises(ValueError, match=message):
        sweep(BASE, tiny, **{**GRID, **change}, progress=False)


def test_a_bad_base_config_or_name_is_rejected_before_compiling(tiny, monkeypatch):
    monkeypatch.setattr(core_module, "build_program", lambda *a, **k: 1 / 0)
    with pytest.raises(ValueError, match="config.batch_size"):
        sweep(BASE.replace(batch_size=10_000), tiny, **GRID, progress=False)
    with pytest.raises(ValueError, match="base_config: expected a TrainConfig"):
        sweep({"sizes": (5, 3)}, tiny, **GRID, progress=False)
    with pytest.raises(ValueError, match="name: expected a file stem"):
        sweep(BASE, tiny, **GRID, name="a/b", progress=False)


# ------------------------------------------------------------------ summary and figures


def _fake_record(loss, scale, lr, seed, accuracies, diverged=False, val=None):
    history = {k: [0.5] * len(accuracies) for k in HISTORY_KEYS}
    history["test_accuracy"] = list(accuracies)
    # Validation tracks test unless told otherwise (the summary tests don't care).
    history["val_accuracy"] = list(accuracies if val is None else val)
    return {
        "loss": loss,
        "init_scale": scale,
        "lr": lr,
        "seed": seed,
        "data_seed": 0,
        "diverged": diverged,
        "history": history,
    }


def test_summarize_averages_finite_seeds_and_picks_the_best_lr_without_divergence(tmp_path):
    records = [
        _fake_record("cce", 1.0, 0.1, 0, [0.5, 0.7]),
        _fake_record("cce", 1.0, 0.1, 1, [0.6, 0.9]),
        _fake_record("cce", 1.0, 2.0, 0, [0.9, 0.95]),
        _fake_record("cce", 1.0, 2.0, 1, [0.2], diverged=True),  # best mean, but diverged
        _fake_record("mse", 1.0, 0.1, 0, [0.1], diverged=True),
    ]
    summary = sweep_module.summarize(records)
    cells = {(c["loss"], c["lr"]): c for c in summary["cells"]}
    np.testing.assert_allclose(cells["cce", 0.1]["mean"]["test_accuracy"], [0.55, 0.8])
    # Sample std (ddof=1) over the two seeds: |a − b| / √2.
    np.testing.assert_allclose(
        cells["cce", 0.1]["std"]["test_accuracy"], np.array([0.1, 0.2]) / np.sqrt(2)
    )
    assert cells["cce", 2.0]["n"] == 2 and cells["cce", 2.0]["n_diverged"] == 1
    assert cells["cce", 2.0]["final_test_accuracy"] == 0.95  # the finite seed only
    assert cells["cce", 2.0]["std"]["test_accuracy"] is None  # one finite run: no spread
    assert cells["mse", 0.1]["final_test_accuracy"] is None
    assert summary["n_diverged"] == 2 and summary["n_runs"] == 5
    best = {b["loss"]: b for b in sweep_module.select_best(summary)}
    assert best["cce"]["lr"] == 0.1 and best["cce"]["final_test_accuracy"] == pytest.approx(0.8)
    assert best["mse"]["lr"] is None


def test_summarize_refuses_to_mix_histories_of_different_lengths():
    records = [
        _fake_record("cce", 1.0, 0.1, 0, [0.5, 0.7]),
        _fake_record("cce", 1.0, 0.1, 1, [0.5, 0.7, 0.8]),  # another grid's epochs
    ]
    with pytest.raises(ValueError, match=r"cce init_scale=1.0 lr=0.1 mixes .*\[2, 3\]"):
        sweep_module.summarize(records)
    grid = dict(losses=["cce"], lrs=[0.1], init_scales=[1.0], seeds=[0], data_seeds=[0])
    assert sweep_module.summarize(records, grid)["cells"][0]["n"] == 1


def test_the_interval_is_the_student_t_interval_of_the_mean():
    # Three seeds 0.90, 0.92, 0.97: mean 0.93, sample std 0.036055…, t_{0.975,2} = 4.3027.
    records = [_fake_record("cce", 1.0, 0.1, s, [a]) for s, a in enumerate([0.9, 0.92, 0.97])]
    (cell,) = sweep_module.summarize(records)["cells"]
    std = np.std([0.9, 0.92, 0.97], ddof=1)
    assert cell["mean"]["test_accuracy"] == [pytest.approx(0.93)]
    assert cell["std"]["test_accuracy"] == [pytest.approx(std)]
    assert cell["ci95"]["test_accuracy"] == [pytest.approx(4.3027 * std / np.sqrt(3))]
    # The t quantiles: the table, the expansion beyond it, and the normal limit.
    for df, t in [
        (1, 12.7062),
        (2, 4.3027),
        (10, 2.2281),
        (30, 2.0423),
        (40, 2.0211),
        (60, 2.0003),
        (120, 1.9799),
        (10**6, 1.9600),
    ]:
        assert sweep_module.t_quantile_975(df) == pytest.approx(t, abs=1.5e-4), df
    # Runs are distinct (seed, data seed) pairs: a record read twice is one run.
    (cell,) = sweep_module.summarize([*records, records[0]])["cells"]
    assert cell["n"] == 3


def test_selection_reads_validation_only_and_flags_an_lr_on_the_grid_edge():
    """Validation prefers lr 0.1, test prefers lr 1.0: the choice follows validation."""
    val = {0.01: 0.80, 0.1: 0.95, 1.0: 0.90}
    test = {0.01: 0.70, 0.1: 0.85, 1.0: 0.99}
    records = [
        _fake_record("cce", 1.0, lr, seed, [test[lr]], val=[val[lr]])
        for lr in val
        for seed in (0, 1)
    ]
    records += [_fake_record("mse", 1.0, lr, 0, [0.5], val=[lr]) for lr in val]  # max lr
    best = {b["loss"]: b for b in sweep_module.select_best(sweep_module.summarize(records))}
    assert best["cce"]["lr"] == 0.1 and best["cce"]["edge"] is None
    assert best["cce"]["final_val_accuracy"] == pytest.approx(0.95)
    assert best["cce"]["final_test_accuracy"] == pytest.approx(0.85)  # test at the chosen lr
    assert best["mse"]["lr"] == 1.0 and best["mse"]["edge"] == "high"
    low = [_fake_record("bce", 1.0, lr, 0, [0.5], val=[1 - lr]) for lr in val]
    (b,) = sweep_module.select_best(sweep_module.summarize(low))
    assert b["lr"] == 0.01 and b["edge"] == "low"
    # No validation metrics: a clear error, never a silent fallback to test.
    no_val = [_fake_record("cce", 1.0, lr, 0, [test[lr]]) for lr in val]
    for r in no_val:
        del r["history"]["val_accuracy"]
    with pytest.raises(ValueError, match="no 'val_accuracy' in any history.*validation split"):
        sweep_module.select_best(sweep_module.summarize(no_val))
    with pytest.raises(ValueError, match="metric: expected a validation metric"):
        sweep_module.select_best(sweep_module.summarize(records), metric="test_accuracy")


# ------------------------------------------------ float32 tolerance and user losses


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_float32_record_matches_its_train_call_to_float_rounding(tiny):
    """Init seed = data seed: the record is its train() call up to rounding, not bitwise.

    The sweep's matmul is M models wide, train()'s one model wide; XLA may round the two
    widths differently, so test_loss differs by about one ulp.
    """
    grid = dict(losses=["cce"], lrs=[0.3], init_scales=[2.0], seeds=[0, 1], data_seeds=[1])
    records = sweep(BASE, tiny, **grid, progress=False, return_params=True)
    (r,) = [r for r in records if r["seed"] == r["data_seed"]]
    ref = train(BASE.replace(loss="cce", lr=0.3, init_scale=2.0, seed=1), tiny)
    for a, b in zip(_leaves(r["params"]), _leaves(ref.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in HISTORY_KEYS:
        np.testing.assert_allclose(r["history"][k], ref.history[k], rtol=1e-5, atol=1e-6)
    ulp = np.spacing(np.float32(ref.history["test_loss"][-1]))
    assert abs(r["history"]["test_loss"][-1] - ref.history["test_loss"][-1]) <= 8 * ulp


def multiclass_hinge(logits, labels):
    """Crammer–Singer multiclass hinge: mean over rows of max(0, 1 + max_{c≠y} z_c − z_y)."""
    z_y = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[1]) > 0, -jnp.inf, logits)
    return jnp.mean(jnp.maximum(0.0, 1.0 + others.max(axis=1) - z_y))


HINGE = "test_sweeping_multiclass_hinge"
if HINGE not in softjax_losses.LOSSES:
    softjax_losses.register_loss(HINGE, multiclass_hinge)


@pytest.mark.slow  # test_open_api covers a user's loss through sweep; this one by name
def test_a_users_registered_loss_runs_through_sweep_under_its_name(tiny, tmp_path):
    try:
        validate(BASE.replace(loss=HINGE), tiny)
    except ValueError as e:
        pytest.skip(f"this training module does not take registered losses yet: {e}")
    grid = dict(losses=[HINGE, "cce"], lrs=[0.3], init_scales=[1.0], seeds=[0], data_seeds=[0])
    records = sweep(BASE, tiny, **grid, name="h", out_dir=tmp_path, progress=False)
    assert [r["loss"] for r in records] == [HINGE, "cce"]
    assert read_jsonl(tmp_path / "h.jsonl")[0]["loss"] == HINGE
    ref = train(BASE.replace(loss=HINGE, lr=0.3, seed=0), tiny)
    np.testing.assert_allclose(
        records[0]["history"]["train_loss"], ref.history["train_loss"], rtol=1e-5
    )
    # The losses axis is required: there is no closed list of names to default to.
    with pytest.raises(TypeError, match="losses"):
        sweep(BASE, tiny, lrs=[0.1], progress=False)


def test_each_loss_can_have_its_own_lr_grid(tiny):
    """Per-loss grids in one sweep: each loss runs its own lrs only, and its records are
    those of a sweep of that loss alone (same keys, histories to float rounding)."""
    grid = {**GRID, "data_seeds": [1], "seeds": [0]}
    records = sweep(BASE, tiny, **{**grid, "lrs": [[0.3], [0.1, 0.3]]}, progress=False)
    assert [(r["loss"], r["lr"]) for r in records] == [
        ("cce", 0.3),
        ("square", 0.1),
        ("square", 0.3),
    ]
    alone = sweep(BASE, tiny, **{**grid, "losses": ["square"], "lrs": [0.1, 0.3]}, progress=False)
    for got, ref in zip(records[1:], alone, strict=True):
        assert got["key"] == ref["key"]
        for k in HISTORY_KEYS:
            np.testing.assert_allclose(got["history"][k], ref["history"][k], rtol=1e-5, atol=1e-6)
    # summarize(grid=...) keeps a loss's records only at that loss's own lrs.
    other = dict(records[0], lr=0.1)  # a cce record at square's lr: not on cce's grid
    kept = sweep_module.storage.select_grid(
        [*records, other],
        {**grid, "lrs": [[0.3], [0.1, 0.3]], "lrs_per_loss": True, "data": records[0]["data"]},
    )
    assert [(r["loss"], r["lr"]) for r in kept] == [(r["loss"], r["lr"]) for r in records]


def test_sweep_resolves_each_loss_once(tiny, monkeypatch):
    """One sweep() call resolves each loss spec of its grid once (its axis check); the
    data checks, the program and the records reuse those BoundLoss values."""
    real, calls = softjax_losses.resolve_loss, []

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "softjax" and getattr(module, "resolve_loss", None) is real:
            monkeypatch.setattr(module, "resolve_loss", counting)
    losses = ["cce", ("cce_smoothed", {"smoothing": 0.2})]
    records = sweep(
        BASE.replace(epochs=1),
        tiny,
        losses=losses,
        lrs=[0.1, 0.3],
        progress=False,
    )
    assert len(records) == 4
    assert calls == losses
