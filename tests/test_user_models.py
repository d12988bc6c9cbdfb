"""Any model through the engine (softjax.user_models): a hand-written ``(init, apply)``
pair and a flax CNN go through ``train`` (exact resume included) and a mixed-loss
``sweep`` equal to separate ``train`` calls; the boundary checks; ``train(on_epoch=)``.

The hand-written model is a 6-8-4 tanh MLP written by hand on Gaussian classes; the CNN
two strided flax convolutions on a 512/256/256 slice of MNIST images (28, 28, 1).
"""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
from softjax.config import TrainConfig, init_params
from softjax.data import make_gaussian_classes
from softjax.history import DIAGNOSTIC_KEYS, HISTORY_KEYS
from softjax.run import train
from softjax.sweeps import select_best, summarize
from softjax.user_models import Model, abstract_params
from tests.helpers import leaves

HIDDEN_KEYS = tuple(k for k in DIAGNOSTIC_KEYS if k.startswith("hidden_"))
LOGIT_KEYS = tuple(k for k in DIAGNOSTIC_KEYS if not k.startswith("hidden_"))


def hand_init(key):
    """A 6-8-4 MLP's params, written by hand (a dict, not softjax's list of layers)."""
    k1, k2 = jax.random.split(key)
    return {
        "hidden": {"w": jax.random.normal(k1, (6, 8)) / np.sqrt(6.0), "b": jnp.zeros(8)},
        "out": jax.random.normal(k2, (8, 4)) / np.sqrt(8.0),
    }


def hand_apply(params, x):
    return jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"]) @ params["out"]


# Adam with a warmup + cosine schedule, shuffled batches and a partial last batch: what a
# restarted optimizer or epoch counter would get wrong on resume.
HAND = TrainConfig(
    model=(hand_init, hand_apply),
    optimizer="adam",
    lr=0.01,
    schedule="warmup_cosine",
    schedule_kwargs={"warmup_steps": 3},
    batch_size=24,
    epochs=3,
    seed=5,
)


@pytest.fixture(scope="module")
def gauss():
    """Gaussian classes with a validation split: 60 train / 20 val / 20 test rows."""
    d = make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)
    return (d.x_train[:60], d.y_train[:60], d.x_train[60:], d.y_train[60:], d.x_test, d.y_test)


@pytest.fixture(scope="module")
def straight(gauss):
    return train(HAND, gauss)


def _assert_bitwise(a, b):
    for x, y in zip(leaves(a.params), leaves(b.params), strict=True):
        assert np.array_equal(x, y)
    assert set(a.history) == set(b.history)
    for key in a.history:
        assert np.array_equal(a.history[key], b.history[key], equal_nan=True), key


# ------------------------------------------------------------- the hand-written model


def test_a_hand_written_model_trains_and_keeps_the_logit_level_diagnostics(straight):
    h = straight.history
    assert set(h) == set(HISTORY_KEYS) | {"val_loss", "val_accuracy"}
    assert not straight.diverged
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    for k in LOGIT_KEYS + ("train_loss", "test_loss", "val_loss"):
        assert np.all(np.isfinite(h[k])), k
    np.testing.assert_allclose(h["grad_cos_ce"], 1.0, rtol=1e-5)  # cce is its own reference
    # An opaque apply_fn exposes no hidden layer: those diagnostics are NaN, L = 1.
    for k in HIDDEN_KEYS:
        assert np.all(np.isnan(h[k])), k
    assert h["hidden_fprime"].shape == (HAND.epochs, 1)
    # The params keep init_fn's own structure.
    assert jax.tree.structure(straight.params) == jax.tree.structure(hand_init(jax.random.key(0)))


def test_init_scale_multiplies_every_leaf_of_init_fn(gauss):
    key = jax.random.PRNGKey(7)
    scaled = init_params(HAND.replace(init_scale=2.5), key)
    for got, unit in zip(leaves(scaled), leaves(hand_init(key)), strict=True):
        np.testing.assert_array_equal(got, unit * np.float32(2.5))
    # float64 data: the params take the data's float dtype.
    with jax.enable_x64(True):
        as64 = init_params(HAND, key, dtype=jnp.float64)
        assert all(a.dtype == np.float64 for a in leaves(as64))


def test_a_hand_written_model_resumes_bitwise_through_a_checkpoint(gauss, straight, tmp_path):
    part = train(HAND, gauss, stop_after=1, checkpoint_dir=tmp_path / "ckpt")
    assert int(part.state.epoch) == 1
    # The recorded config names the model but cannot rebuild it: load with config=.
    with pytest.raises(ValueError, match="config.model"):
        sj.load_checkpoint(tmp_path / "ckpt")
    state = sj.load_checkpoint(tmp_path / "ckpt", HAND)
    _assert_bitwise(train(HAND, gauss, resume=state), straight)
    # In memory, from the returned state, too.
    _assert_bitwise(train(HAND, gauss, resume=part.state), straight)


def test_evaluate_and_predict_take_a_user_model(gauss, straight):
    x_test, y_test = gauss[4], gauss[5]
    got = sj.evaluate(straight.params, HAND, x_test, y_test)
    np.testing.assert_allclose(got["loss"], straight.history["test_loss"][-1], rtol=1e-6)
    np.testing.assert_allclose(got["accuracy"], straight.history["test_accuracy"][-1])
    pred = sj.predict(straight.params, HAND, x_test)
    np.testing.assert_array_equal(pred, np.argmax(hand_apply(straight.params, x_test), -1))


def test_a_mixed_loss_sweep_runs_a_user_model_and_its_cce_record_is_its_train_call(gauss, straight):
    records = sj.sweep(HAND, gauss, losses=["cce", "mse", "bce"], lrs=[HAND.lr], seeds=[5])
    assert [r["loss"] for r in records] == ["cce", "mse", "bce"]
    assert not any(r["diverged"] for r in records)
    cce = records[0]
    for k, want in straight.history.items():
        got = np.reshape(np.asarray(cce["history"][k], float), np.shape(want))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=k)
    for r in records:  # the hidden-layer diagnostics are NaN in every block
        assert np.all(np.isnan(r["history"]["hidden_fprime"]))
        assert np.all(np.isfinite(r["history"]["logits_grad_norm"]))


@pytest.mark.slow  # four programs compiled (one sweep, three train losses): ~30 s on 2 cores
def test_a_mixed_loss_sweep_of_the_hand_model_equals_separate_train_calls(gauss):
    cfg = HAND.replace(optimizer="sgd", schedule=None, schedule_kwargs={}, epochs=2)
    grid = dict(losses=["cce", "mse", "bce"], lrs=[0.1, 0.5], init_scales=[1.0, 2.0], seeds=[5])
    records = sj.sweep(cfg, gauss, **grid, progress=False, return_params=True)
    assert len(records) == 12
    for r in records:
        assert r["config"]["model"] == {"callable": f"{__name__}.hand_apply"}
        ref = train(
            cfg.replace(loss=r["loss"], lr=r["lr"], init_scale=r["init_scale"], seed=r["seed"]),
            gauss,
        )
        assert r["diverged"] == ref.diverged
        # Float rounding only: the sweep's step is M models wide (softjax.sweeps.grid).
        for a, b in zip(leaves(r["params"]), leaves(ref.params), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        for k in ref.history:
            got = np.reshape(np.asarray(r["history"][k], float), np.shape(ref.history[k]))
            np.testing.assert_allclose(got, ref.history[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # Validation selection works on a user model's records.
    best = select_best(summarize(records))
    assert {c["loss"] for c in best} == {"cce", "mse", "bce"}


# --------------------------------------------------------------------------- flax CNN


@pytest.fixture(scope="module")
def cnn():
    """Two strided convolutions (8 and 16 channels), global mean pool, a dense head."""
    pytest.importorskip("flax")
    from flax import linen as nn

    class CNN(nn.Module):
        classes: int = 10

        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(8, (3, 3), strides=(2, 2))(x))
            x = nn.relu(nn.Conv(16, (3, 3), strides=(2, 2))(x))
            return nn.Dense(self.classes)(jnp.mean(x, axis=(1, 2)))

    return sj.flax_model(CNN(), (28, 28, 1))


@pytest.fixture(scope="module")
def mnist_small(shared_data_dir):
    """512 train / 256 val / 256 test MNIST images, (N, 28, 28, 1) in [0, 1]."""
    d = sj.load_dataset("mnist", source="idx", flatten=False, data_dir=shared_data_dir)
    return (
        d.x_train[:512],
        d.y_train[:512],
        d.x_val[:256],
        d.y_val[:256],
        d.x_test[:256],
        d.y_test[:256],
    )


def _cnn_config(cnn, **changes):
    base = TrainConfig(model=cnn, lr=0.1, batch_size=64, epochs=2, seed=0)
    return base.replace(**changes)


def test_flax_model_wraps_a_stateless_linen_module_and_refuses_others(cnn):
    from flax import linen as nn

    variables = jax.eval_shape(cnn.init, jax.random.PRNGKey(0))
    assert set(variables) == {"params"}
    x = jax.ShapeDtypeStruct((3, 28, 28, 1), jnp.float32)
    assert jax.eval_shape(cnn.apply, variables, x).shape == (3, 10)
    assert cnn.name.endswith("CNN(classes=10) on (28, 28, 1)")
    with pytest.raises(ValueError, match="module: expected a stateless module"):
        sj.flax_model(nn.BatchNorm(use_running_average=True), (4,))
    with pytest.raises(ValueError, match="input_shape: expected one example's shape"):
        sj.flax_model(nn.Dense(3), 784)
    with pytest.raises(ValueError, match="module: expected a flax.linen.Module"):
        sj.flax_model(hand_apply, (6,))


@pytest.mark.slow  # one CNN program compiled, three runs through it: ~20 s on 2 cores
def test_a_flax_cnn_trains_and_resumes_bitwise(cnn, mnist_small):
    config = _cnn_config(cnn)
    assert "CNN" in config.to_dict()["model"]["callable"]
    straight = train(config, mnist_small)
    h = straight.history
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert np.all(np.isfinite(h["val_loss"])) and np.all(np.isnan(h["hidden_fprime"]))
    part = train(config, mnist_small, stop_after=1)
    _assert_bitwise(train(config, mnist_small, resume=part.state), straight)


@pytest.mark.slow  # four CNN programs compiled (one sweep, three losses' train calls)
def test_a_mixed_loss_sweep_of_a_flax_cnn_equals_separate_train_calls(cnn, mnist_small):
    config = _cnn_config(cnn, epochs=1)
    records = sj.sweep(config, mnist_small, losses=["cce", "mse", "bce"], lrs=[0.1], progress=False)
    assert [r["loss"] for r in records] == ["cce", "mse", "bce"]
    for r in records:
        ref = train(config.replace(loss=r["loss"]), mnist_small)
        for k in ref.history:
            got = np.reshape(np.asarray(r["history"][k], float), np.shape(ref.history[k]))
            np.testing.assert_allclose(got, ref.history[k], rtol=1e-5, atol=1e-6, err_msg=k)


# ----------------------------------------------------------------- checks at the boundary


def _bad_init(key):
    return {"w": jnp.zeros((6, 4), jnp.int32)}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"grad": "closed_form"}, "config.grad: 'closed_form' is the MLP's backprop"),
        ({"sizes": (6, 4)}, "config.sizes: a user model"),
        ({"activations": "tanh"}, "config.activations: an MLP field"),
        ({"model": (_bad_init, hand_apply)}, r"config.model: expected init_fn\(key\) to give"),
        ({"model": (hand_init, lambda p, x: hand_apply(p, x)[:, 0])}, r"logits of shape \(24, K\)"),
        ({"model": (hand_init, lambda p, x: x @ p["out"])}, r"config.model: apply_fn\(params, x\)"),
        ({"model": (hand_init, lambda p, x: hand_apply(p, x)[:, :3])}, "data.y_train"),
        ({"model": "cnn"}, "config.model: expected an"),
    ],
)
def test_a_bad_user_model_is_refused_before_anything_compiles(gauss, changes, message):
    with pytest.raises(ValueError, match=message):
        train(HAND.replace(**changes), gauss)


def test_a_flax_module_without_its_input_shape_gets_a_hint(gauss):
    class Module:  # what the check sees of a flax module: init and apply methods
        def init(self, key, x): ...

        def apply(self, params, x): ...

    with pytest.raises(ValueError, match=r"flax_model\(module, input_shape\)"):
        train(HAND.replace(model=Module()), gauss)


def test_params_for_a_user_model_must_match_init_fn(gauss):
    good = hand_init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="params: expected the structure"):
        train(HAND, gauss, params={"out": good["out"]})
    wrong_shape = {**good, "out": jnp.zeros((8, 3))}
    with pytest.raises(ValueError, match=r"params\['out'\]: expected shape \(8, 4\)"):
        train(HAND, gauss, params=wrong_shape)
    nan = {**good, "out": good["out"].at[0, 0].set(jnp.nan)}
    with pytest.raises(ValueError, match=r"params\['out'\]: expected finite values"):
        train(HAND, gauss, params=nan)


def test_config_dicts_name_a_user_model_and_keep_mlp_dicts_as_they_were():
    mlp = TrainConfig(sizes=(6, 4))
    assert "model" not in mlp.to_dict()  # sweep keys of MLP records are unchanged
    assert TrainConfig.from_dict(mlp.to_dict()) == mlp
    d = HAND.to_dict()
    assert d["model"] == {"callable": f"{__name__}.hand_apply"}
    assert d["sizes"] is None
    with pytest.raises(ValueError, match=r"config.model: .*from_dict\(d, model=\.\.\.\)"):
        TrainConfig.from_dict(d)
    assert TrainConfig.from_dict(d, model=(hand_init, hand_apply)) == HAND
    named = HAND.replace(model=Model(hand_init, hand_apply, "hand-6-8-4"))
    assert named.to_dict()["model"] == {"callable": "hand-6-8-4"}
    shapes = abstract_params(named.model)
    assert shapes["out"].shape == (8, 4)


# ------------------------------------------------------------------- the per-epoch hook


def test_on_epoch_gets_each_epochs_row_and_leaves_the_run_unchanged(gauss, straight, tmp_path):
    path = tmp_path / "log.csv"
    calls = []
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "train_loss", "val_accuracy"])

        def on_epoch(epoch, metrics):
            calls.append((epoch, metrics))
            writer.writerow([epoch, metrics["train_loss"], metrics["val_accuracy"]])

        hooked = train(HAND, gauss, on_epoch=on_epoch)
    _assert_bitwise(hooked, straight)  # params and history bitwise as without the hook
    assert [e for e, _ in calls] == [1, 2, 3]
    for epoch, metrics in calls:
        assert set(metrics) == set(straight.history)
        assert isinstance(metrics["train_loss"], float)
        assert isinstance(metrics["hidden_fprime"], list)  # one entry per hidden layer
        for k, v in metrics.items():
            np.testing.assert_array_equal(v, straight.history[k][epoch - 1], err_msg=k)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["train_loss"]) for r in rows] == straight.history["train_loss"].tolist()


def test_on_epoch_counts_from_a_resumed_runs_start_and_skips_a_diverged_epoch(gauss, straight):
    part = train(HAND, gauss, stop_after=1)
    seen = []
    resumed = train(HAND, gauss, resume=part.state, on_epoch=lambda e, m: seen.append(e))
    assert seen == [2, 3]
    _assert_bitwise(resumed, straight)
    # An MLP at a huge lr diverges in epoch 2: the hook never sees that NaN row.
    mlp = TrainConfig(sizes=(6, 4), loss="square", lr=1e30, epochs=3, batch_size=60)
    seen.clear()
    with pytest.warns(RuntimeWarning, match="diverged in epoch 2"):
        diverged = train(mlp, gauss, on_epoch=lambda e, m: seen.append(e))
    assert seen == [1] and len(diverged.history["train_loss"]) == 1


def test_on_epoch_must_be_a_function(gauss):
    with pytest.raises(ValueError, match="on_epoch: expected a function"):
        train(HAND, gauss, on_epoch="log.csv")
