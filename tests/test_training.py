"""Tests for softjax.training: the scanned program against a plain loop, and its contract.

The reference loop below is written independently of softjax: numpy forward and
backward passes (the notes' backprop, SPEC §4) and a hand SGD update, over the same
minibatches ``train`` draws (``permutation(fold_in(data_key, epoch), n)`` with
``data_key = split(PRNGKey(seed))[1]``), in float64. Everything is offline; the MNIST
test reads the raw files from ``$SOFTJAX_DATA_DIR`` (else ``../shared/data``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax.run
import softjax.training as train_module
from softjax.data import Dataset, load_dataset, make_gaussian_classes
from softjax.training import DIAGNOSTIC_KEYS, HISTORY_KEYS, TrainConfig, init_params, train
from tests.helpers import jit_fast

REPO_ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    """MNIST via the fast numpy IDX reader; skips when the raw files are absent."""
    data_dir = Path(os.environ.get("SOFTJAX_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    if not (data_dir / "mnist").is_dir():
        pytest.skip(f"no raw MNIST under {data_dir}; set SOFTJAX_DATA_DIR")
    return load_dataset("mnist", source="idx", data_dir=data_dir, validation=0)


@pytest.fixture(scope="module")
def small() -> Dataset:
    """4 Gaussian classes in 6-D: 80 train rows (batch 24 leaves a partial batch of 8)."""
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


def _as_float64(ds: Dataset) -> Dataset:
    return Dataset(
        np.asarray(ds.x_train, np.float64),
        ds.y_train,
        np.asarray(ds.x_test, np.float64),
        ds.y_test,
    )


# ------------------------------------------------------------------ the reference loop


def _reference_grads(params, x, y):
    """Mean CCE and its gradients for a tanh MLP with softmax output, by hand in numpy.

    Forward ``A_0 = X, Z_l = A_{l-1} W_l + b_l, A_l = tanh(Z_l)``; backward
    ``δ_L = (softmax(Z_L) − Y)/N``, ``δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ (1 − A_l²)``,
    ``∂W_l = A_{l-1}ᵀ δ_l``, ``∂b_l = Σ_rows δ_l`` (SPEC §4).
    """
    hidden = [x]
    for layer in params[:-1]:
        hidden.append(np.tanh(hidden[-1] @ layer["w"] + layer["b"]))
    logits = hidden[-1] @ params[-1]["w"] + params[-1]["b"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n, k = logits.shape
    onehot = np.eye(k)[y]
    loss = -np.mean(log_probs[np.arange(n), y])
    delta = (np.exp(log_probs) - onehot) / n
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        grads[i] = {"w": hidden[i].T @ delta, "b": delta.sum(axis=0)}
        if i:
            delta = (delta @ params[i]["w"].T) * (1.0 - hidden[i] ** 2)
    return loss, grads


def _reference_train(config: TrainConfig, ds: Dataset):
    """A plain Python loop over the same minibatches as ``train``, SGD by hand."""
    init_key, data_key = jax.random.split(jax.random.PRNGKey(config.seed))
    params = init_params(config, init_key, dtype=jnp.float64)
    params = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in params]
    x, y = np.asarray(ds.x_train, np.float64), np.asarray(ds.y_train)
    n, bs = len(y), config.batch_size
    epoch_losses = []
    for epoch in range(config.epochs):
        if config.shuffle:
            order = np.asarray(jax.random.permutation(jax.random.fold_in(data_key, epoch), n))
        else:
            order = np.arange(n)
        batches = [order[start : start + bs] for start in range(0, n, bs)]
        if config.last_batch == "drop" and len(batches[-1]) < bs:
            batches = batches[:-1]
        loss_sum = 0.0
        for idx in batches:
            loss, grads = _reference_grads(params, x[idx], y[idx])
            loss_sum += loss * len(idx)
            params = [
                {k: layer[k] - config.lr * g[k] for k in layer}
                for layer, g in zip(params, grads, strict=True)
            ]
        epoch_losses.append(loss_sum / sum(len(b) for b in batches))
    return params, np.array(epoch_losses)


# Four runs cover shuffle on/off, keep/drop, one and two layers, and both gradient modes
# (each run compiles, so the grid is a Latin square rather than a full product); the two
# MLP runs are in the slow suite.
REFERENCE_CASES = [
    pytest.param(
        dict(sizes=(6, 4), shuffle=True, last_batch="keep", grad="autodiff"),
        id="softmax-shuffle-keep-autodiff",
    ),
    pytest.param(
        dict(sizes=(6, 4), shuffle=False, last_batch="drop", grad="closed_form"),
        id="softmax-order-drop-closed_form",
    ),
    pytest.param(
        dict(sizes=(6, 7, 4), shuffle=True, last_batch="drop", grad="closed_form"),
        id="mlp-shuffle-drop-closed_form",
        marks=pytest.mark.slow,  # ≈ 9 s; the closed form is also covered in softmax and MLP grads
    ),
    pytest.param(
        dict(sizes=(6, 7, 4), shuffle=False, last_batch="keep", grad="autodiff"),
        id="mlp-order-keep-autodiff",
        marks=pytest.mark.slow,  # over 8 s on 2 cores (a float64 equality; 10-13 s measured)
    ),
]


@pytest.mark.parametrize("fields", REFERENCE_CASES)
def test_scanned_train_equals_a_plain_python_loop_in_float64(small, fields):
    config = TrainConfig(
        activations="tanh", loss="cce", lr=0.3, batch_size=24, epochs=3, seed=11, **fields
    )
    with jax.enable_x64(True):
        result = train(config, _as_float64(small))
        expected_params, expected_losses = _reference_train(config, small)
        got = jax.tree.map(np.asarray, result.params)
    assert got[0]["w"].dtype == np.float64
    for layer, expected in zip(got, expected_params, strict=True):
        for name in ("w", "b"):
            np.testing.assert_allclose(layer[name], expected[name], rtol=0, atol=1e-10)
    # The history is stored in float32 by design.
    np.testing.assert_allclose(result.history["train_loss"], expected_losses, rtol=1e-6)
    # The loop must actually have moved the params, or the comparison proves little.
    init = init_params(config, jax.random.split(jax.random.PRNGKey(config.seed))[0])
    assert np.abs(got[0]["w"] - np.asarray(init[0]["w"])).max() > 1e-2


def test_the_reference_cases_exercise_the_partial_batch(small):
    """80 rows in batches of 24 leave 8: keep and drop must then train differently."""
    config = TrainConfig(sizes=(6, 4), lr=0.3, batch_size=24, epochs=2, shuffle=False)
    with jax.enable_x64(True):
        keep, _ = _reference_train(config, small)
        drop, _ = _reference_train(config.replace(last_batch="drop"), small)
    assert len(small.y_train) % config.batch_size == 8
    assert np.abs(keep[0]["w"] - drop[0]["w"]).max() > 1e-3


# ------------------------------------------------------------------------ real MNIST


@pytest.mark.slow
def test_one_epoch_on_mnist_reaches_80_percent(mnist):
    config = TrainConfig(sizes=(784, 10), lr=0.1, batch_size=64, epochs=1, seed=0)
    result = train(config, mnist)
    assert result.history["test_accuracy"].shape == (1,)
    assert result.history["test_accuracy"][0] >= 0.80
    assert not result.diverged


# ------------------------------------------------------- determinism and user params

MLP = TrainConfig(sizes=(6, 8, 4), activations="relu", lr=0.2, batch_size=16, epochs=3, seed=5)


@pytest.fixture(scope="module")
def mlp_run(small):
    return train(MLP, small)


def _leaves(params):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(params)]


def test_same_config_and_seed_give_bitwise_identical_params_and_history(small, mlp_run):
    again = train(MLP, small)
    for a, b in zip(_leaves(mlp_run.params), _leaves(again.params), strict=True):
        assert np.array_equal(a, b)
    assert set(again.history) == set(mlp_run.history)
    for key in HISTORY_KEYS:
        assert np.array_equal(mlp_run.history[key], again.history[key])
    # A different seed must change the result, or the equality above is vacuous.
    other = train(MLP.replace(seed=6), small)
    assert not np.array_equal(_leaves(other.params)[0], _leaves(mlp_run.params)[0])


def test_test_each_epoch_false_evaluates_the_test_set_after_the_last_epoch_only(small, mlp_run):
    once = train(MLP.replace(test_each_epoch=False), small)
    for key in ("test_loss", "test_accuracy"):
        assert np.isnan(once.history[key][:-1]).all()
        assert np.array_equal(once.history[key][-1], mlp_run.history[key][-1])
    # Everything else is the run with the test set evaluated each epoch.
    for key in set(HISTORY_KEYS) - {"test_loss", "test_accuracy"}:
        assert np.array_equal(once.history[key], mlp_run.history[key]), key
    for a, b in zip(_leaves(once.params), _leaves(mlp_run.params), strict=True):
        assert np.array_equal(a, b)


def test_diagnostics_false_trains_the_same_and_leaves_only_the_diagnostics_nan(small, mlp_run):
    lean = train(MLP.replace(diagnostics=False), small)
    assert set(lean.history) == set(mlp_run.history)
    for key in HISTORY_KEYS:
        if key in DIAGNOSTIC_KEYS:
            assert lean.history[key].shape == mlp_run.history[key].shape, key
            assert np.isnan(lean.history[key]).all(), key
        else:
            assert np.array_equal(lean.history[key], mlp_run.history[key]), key
    for a, b in zip(_leaves(lean.params), _leaves(mlp_run.params), strict=True):
        assert np.array_equal(a, b)
    # The full run's diagnostics are finite, so the NaNs above are the flag's doing.
    assert all(np.isfinite(mlp_run.history[k]).all() for k in DIAGNOSTIC_KEYS)


def test_training_from_user_params(small, mlp_run):
    start = init_params(MLP, jax.random.PRNGKey(123), init_scale=0.5)
    from_user = train(MLP, small, params=start)
    from_same = train(MLP, small, params=jax.tree.map(jnp.array, start))
    for a, b in zip(_leaves(from_user.params), _leaves(from_same.params), strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(_leaves(from_user.params), _leaves(mlp_run.params), strict=True):
        assert not np.allclose(a, b)
    for a, b in zip(_leaves(from_user.params), _leaves(start), strict=True):
        assert not np.allclose(a, b), "training from user params did not move them"


# ------------------------------------------------------------------------------ history


def test_history_keys_shapes_and_ranges(mlp_run):
    history = mlp_run.history
    assert set(history) == set(HISTORY_KEYS)
    for key, values in history.items():
        want = (MLP.epochs, 1) if key in ("hidden_fprime", "hidden_saturated") else (MLP.epochs,)
        assert values.shape == want, key
        assert np.all(np.isfinite(values)), key
    for key in ("train_accuracy", "test_accuracy", "saturated_wrong"):
        assert np.all((history[key] >= 0) & (history[key] <= 1)), key
    for key in ("train_loss", "test_loss", "logits_grad_norm"):
        assert np.all(history[key] > 0), key
    # An easy 4-class problem: the loss falls and accuracy ends well above chance.
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.8
    # For CCE, ‖ŷ − y‖ ≤ √2 per sample.
    assert np.all(history["logits_grad_norm"] <= math.sqrt(2) + 1e-6)
    assert mlp_run.diverged is False and mlp_run.diverged_epoch is None


@pytest.fixture(scope="module")
def separable() -> Dataset:
    return make_gaussian_classes(jax.random.PRNGKey(0), n=200, dim=6, num_classes=4, sep=8.0)


def test_saturated_wrong_is_high_for_a_saturated_mse_start_and_near_zero_otherwise(separable):
    config = TrainConfig(sizes=(6, 4), loss="mse", lr=0.5, batch_size=32, epochs=2)
    saturated = train(config.replace(init_scale=100.0), separable).history
    normal = train(config, separable).history
    # Logits ×100: most wrong predictions have probability ≈ 1, and MSE cannot undo it.
    assert saturated["saturated_wrong"][0] > 0.2
    assert saturated["saturated_wrong"][-1] > 0.2
    assert normal["saturated_wrong"][0] < 0.01
    assert normal["test_accuracy"][-1] > saturated["test_accuracy"][-1]


# --------------------------------------------------------------------------- divergence


@pytest.mark.parametrize(
    ("lr", "expected_epoch"),
    [
        pytest.param(1e4, 1, id="lr-1e4-dies-in-epoch-1"),
        pytest.param(2.0, 4, id="lr-2-dies-in-epoch-4"),
    ],
)
def test_a_huge_learning_rate_stops_training_with_a_warning(small, lr, expected_epoch):
    # CCE softmax regression survives any lr (the logits grow, the loss stays finite);
    # the square loss on raw logits blows up geometrically once lr is past stability.
    config = TrainConfig(sizes=(6, 4), loss="square", lr=lr, batch_size=16, epochs=6)
    with pytest.warns(RuntimeWarning, match=f"diverged in epoch {expected_epoch} of 6") as rec:
        result = train(config, small)
    assert f"lr={lr:g}" in str(rec[0].message)
    assert "last finite params" in str(rec[0].message)
    assert result.diverged is True
    assert result.diverged_epoch == expected_epoch
    for leaf in _leaves(result.params):
        assert np.all(np.isfinite(leaf))
    for values in result.history.values():
        assert values.shape[0] == expected_epoch - 1  # (epochs,) or (epochs, L)
        assert np.all(np.isfinite(values))
    if expected_epoch > 1:
        # The completed epochs show the blow-up that led there.
        assert np.all(np.diff(result.history["train_loss"]) > 0)


# ------------------------------------------------------------------------- progress bar


def test_progress_bar_reaches_the_epoch_count(small, monkeypatch, capsys):
    calls = []
    original = train_module._ProgressBar.__call__

    def counting(self, epoch, metrics):
        calls.append(int(epoch))
        return original(self, epoch, metrics)

    monkeypatch.setattr(train_module._ProgressBar, "__call__", counting)
    result = train(TrainConfig(sizes=(6, 4), epochs=4, batch_size=16), small, progress=True)
    assert calls == [0, 1, 2, 3]
    assert "4/4" in capsys.readouterr().err
    assert result.history["train_loss"].shape == (4,)


# ---------------------------------------------------------------------------- bad input


def _no_compiling(*args, **kwargs):
    raise AssertionError("compiled before validating")


BAD_CONFIGS = [
    pytest.param(dict(lr=0.0), "config.lr", id="lr-zero"),
    pytest.param(dict(lr=-1.0), "config.lr", id="lr-negative"),
    pytest.param(dict(lr=float("nan")), "config.lr", id="lr-nan"),
    pytest.param(dict(lr=float("inf")), "config.lr", id="lr-inf"),
    pytest.param(dict(batch_size=0), "config.batch_size", id="batch-zero"),
    pytest.param(dict(batch_size=81), "config.batch_size", id="batch-larger-than-data"),
    pytest.param(dict(epochs=0), "config.epochs", id="epochs-zero"),
    pytest.param(dict(optimizer="sgdd"), "config.optimizer", id="unknown-optimizer"),
    pytest.param(
        dict(optimizer_kwargs={"momentun": 0.9}), "config.optimizer_kwargs", id="optimizer-kw"
    ),
    pytest.param(dict(loss="xent"), "config.loss", id="unknown-loss"),
    pytest.param(dict(sizes=(6, 5, 4), activations="relux"), "activations", id="activation"),
    pytest.param(dict(sizes=(5, 4)), "data.x_train", id="D-mismatch"),
    pytest.param(dict(sizes=(6, 3)), "data.y_train", id="ids-not-below-K"),
    pytest.param(dict(sizes=(6, 1)), "data.y_train", id="K1-with-cce"),
    pytest.param(dict(grad="numeric"), "config.grad", id="unknown-grad"),
    pytest.param(dict(last_batch="pad"), "config.last_batch", id="unknown-last-batch"),
    pytest.param(dict(lr=True), "config.lr", id="lr-bool"),
    pytest.param(dict(batch_size=True), "config.batch_size", id="batch-bool"),
    pytest.param(dict(epochs=2.0), "config.epochs", id="epochs-float"),
    pytest.param(dict(seed=1.5), "config.seed", id="seed-float"),
    pytest.param(dict(shuffle="no"), "config.shuffle", id="shuffle-str"),
    pytest.param(dict(bias=1), "config.bias", id="bias-int"),
    pytest.param(dict(activations="relux"), "activations", id="activation-single-layer"),
    pytest.param(dict(optimizer="scale_by_rprop"), "config.optimizer", id="scale-by-not-optimizer"),
    pytest.param(dict(optimizer="lbfgs"), "config.optimizer", id="optimizer-needs-value-fn"),
    pytest.param(
        dict(optimizer="ScaleByZoomLinesearchState"), "config.optimizer", id="optax-class"
    ),
    pytest.param(
        dict(optimizer="noisy_sgd", optimizer_kwargs={"eta": 0.1, "gamma": 0.5, "seed": 0, "x": 1}),
        "config.optimizer_kwargs",
        id="optimizer-kw-extra",
    ),
]


@pytest.fixture
def forbid_compiling(monkeypatch):
    monkeypatch.setattr(jax, "jit", _no_compiling)
    monkeypatch.setattr(train_module, "make_train", _no_compiling)
    monkeypatch.setattr(softjax.run, "make_epochs", _no_compiling)


@pytest.mark.parametrize(("change", "field"), BAD_CONFIGS)
def test_bad_configs_raise_a_value_error_naming_the_field_before_compiling(
    small, forbid_compiling, change, field
):
    with pytest.raises(ValueError, match=f"^{field}"):  # names: when the config is made
        train(TrainConfig(sizes=(6, 4), batch_size=16).replace(**change), small)


def test_bad_labels_and_params_raise_before_compiling(small, forbid_compiling):
    config = TrainConfig(sizes=(6, 4), batch_size=16)
    float_ids = small._replace(y_train=small.y_train.astype(np.float32))
    with pytest.raises(ValueError, match="^data.y_train.*integers"):
        train(config, float_ids)
    out_of_range = small._replace(y_test=small.y_test + 4)
    with pytest.raises(ValueError, match=r"^data.y_test.*\[0, 4\)"):
        train(config, out_of_range)
    wrong_shape = [{"w": np.zeros((6, 5), np.float32), "b": np.zeros(5, np.float32)}]
    with pytest.raises(ValueError, match=r"^params: expected layer widths \[6, 4\]"):
        train(config, small, params=wrong_shape)
    no_bias = [{"w": np.zeros((6, 4), np.float32)}]
    with pytest.raises(ValueError, match="^params: config.bias"):
        train(config, small, params=no_bias)


def test_numpy_scalars_and_optimizers_with_python_int_arguments_train(small):
    """adafactor branches on an int in Python: only the lr may be traced (injected)."""
    config = TrainConfig(
        sizes=(6, 4),
        batch_size=np.int64(16),
        lr=np.float32(0.05),
        epochs=np.int32(2),
        optimizer="adafactor",
        optimizer_kwargs={"min_dim_size_to_factor": 2},
    )
    result = train(config, small)
    assert not result.diverged
    assert result.history["train_loss"].shape == (2,)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]


def test_the_compile_guard_would_catch_a_late_error(small, forbid_compiling):
    """Without the guard a valid config compiles; with it, that is an AssertionError."""
    with pytest.raises(AssertionError, match="compiled before validating"):
        train(TrainConfig(sizes=(6, 4), batch_size=16), small)


# ------------------------------------------------------------------- stacked models


def _vmapped_and_stacked(config, lrs, ds, scales=None):
    """The same M models through ``vmap(make_train)`` and ``make_train(stacked=True)``."""
    init_key, data_key = train_module.seed_keys(config.seed)
    keys = jax.random.split(init_key, len(lrs))
    scales = np.ones(len(lrs)) if scales is None else np.asarray(scales)
    dtype = train_module.param_dtype(ds.x_train)
    params = jax.vmap(lambda k, s: init_params(config, k, s, dtype=dtype))(keys, scales)
    lrs = jnp.asarray(lrs, dtype)
    data = tuple(ds)
    # XLA's cheap compile settings (tests/helpers.py) for both: the compiles are most of
    # the test's time, and the arithmetic compared is the same IEEE float64.
    vmapped = jit_fast(
        jax.vmap(
            train_module.make_train(config, skip_after_divergence=False),
            in_axes=(0, 0, None, None),
        )
    )(params, lrs, data_key, data)
    stacked = jit_fast(train_module.make_train(config, stacked=True))(params, lrs, data_key, data)
    return vmapped, stacked


def _assert_same_runs(a, b, rtol):
    for x, y in zip(jax.tree.leaves(a[0]), jax.tree.leaves(b[0]), strict=True):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        assert a[1][key].shape == b[1][key].shape, key
        np.testing.assert_allclose(a[1][key], b[1][key], rtol=rtol, atol=rtol, err_msg=key)
    np.testing.assert_array_equal(a[2], b[2])


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(
            TrainConfig(sizes=(6, 4), loss="square", batch_size=24, epochs=2), id="square-sgd"
        ),
        pytest.param(
            TrainConfig(
                sizes=(6, 5, 4),
                activations="tanh",
                optimizer="adam",
                schedule="cosine",
                loss="mse",
                batch_size=16,
                epochs=2,
            ),
            id="mlp-adam-cosine-mse",
            marks=pytest.mark.slow,  # two MLP programs with adam compile for ≈ 30 s
        ),
    ],
)
def test_stacked_models_equal_the_vmapped_train_fn_in_float64(small, config):
    """``stacked=True`` keeps the weights as (d_in, M, d_out) in the loops; the numbers are
    those of ``vmap`` over one model's program, including a model that diverges."""
    lrs = [0.01, 0.3, 1e100] if config.loss == "square" else [0.001, 0.01, 0.1]
    with jax.enable_x64(True):
        vmapped, stacked = _vmapped_and_stacked(config, lrs, _as_float64(small), [1, 2, 5])
    if config.loss == "square":
        np.testing.assert_array_equal(stacked[2], [True, True, False])  # one diverged
    _assert_same_runs(jax.device_get(vmapped), jax.device_get(stacked), rtol=1e-12)


def test_stacked_models_stop_early_once_all_of_them_diverged(small):
    config = TrainConfig(sizes=(6, 4), loss="square", batch_size=16, epochs=6)
    with jax.enable_x64(True):
        init_state, run_epochs = train_module.make_epochs(config, stacked=True)
        params = jax.vmap(lambda k: init_params(config, k, dtype=jnp.float64))(
            jax.random.split(jax.random.PRNGKey(0), 2)
        )
        data = tuple(None if a is None else jnp.asarray(a) for a in _as_float64(small))
        lrs = jnp.asarray([1e100, 1e120])
        state = jit_fast(run_epochs)(
            init_state(params, lrs, jax.random.PRNGKey(1), data), lrs, data, 6
        )
    assert int(state.epoch) == 1  # both diverged in epoch 1: no more epochs run
    assert not np.any(np.asarray(state.finite))
    assert state.history["train_loss"].shape == (6, 2)  # (epochs, models) inside
    assert np.all(np.isnan(np.asarray(state.history["train_loss"])))
    for leaf in jax.tree.leaves(state.params):
        assert np.all(np.isfinite(leaf))  # the last finite params are kept


def test_the_finite_check_flags_exactly_the_non_finite_leaves_and_models():
    """_all_finite is False for any ±inf or NaN entry, in a matrix or a vector, and True
    for the largest finite floats (Σ 0·x cannot overflow); vmapped over stacked models'
    (d_in, M, d_out) weights it flags each model on its own."""
    finite = jax.jit(train_module._all_finite)
    big = float(np.finfo(np.float32).max)
    w, b = np.full((6, 3), big, np.float32), np.ones(3, np.float32)
    assert bool(finite({"w": w, "b": b}))
    for bad in (np.inf, -np.inf, np.nan):
        for leaf in ("w", "b"):
            tree = {"w": w.copy(), "b": b.copy()}
            tree[leaf].flat[-1] = bad
            assert not bool(finite(tree)), (bad, leaf)
    stacked = np.ones((6, 4, 3), np.float32)  # 4 models' (6, 3) weights, model axis 1
    stacked[5, 1, 2], stacked[0, 3, 0] = np.nan, -np.inf
    per_model = jax.jit(jax.vmap(lambda w: train_module._all_finite([w]), in_axes=1))
    np.testing.assert_array_equal(per_model(stacked), [True, False, True, False])
