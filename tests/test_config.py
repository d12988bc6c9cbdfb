"""TrainConfig as a record (to_dict/from_dict), optimizers and schedules as values."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softjax.config import TrainConfig, init_params, seed_keys
from softjax.data import make_gaussian_classes
from softjax.losses import register_loss, resolve_loss
from softjax.optim import make_schedule
from softjax.run import train
from softjax.training import make_train


@pytest.fixture(scope="module")
def small():
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


def _scaled_cce(logits, labels, scale=1.0):
    return scale * resolve_loss("cce").fn(logits, labels)


try:
    SCALED = register_loss("test_config_scaled_cce", _scaled_cce)
except ValueError:  # registered by an earlier import of this module
    SCALED = resolve_loss("test_config_scaled_cce")

EVERY_FIELD = TrainConfig(
    sizes=(6, 5, 4),
    activations=("tanh", ("leaky_relu", {"slope": 0.2})),
    bias=False,
    init="glorot_uniform",
    init_scale=0.5,
    loss=("test_config_scaled_cce", {"scale": 2.0}),
    optimizer="adamw",
    optimizer_kwargs={"weight_decay": 1e-3},
    lr=0.01,
    schedule="step",
    schedule_kwargs={"boundaries": [1, 2], "factor": 0.5},
    batch_size=16,
    epochs=3,
    seed=7,
    shuffle=False,
    last_batch="drop",
    grad="closed_form",
    test_each_epoch=False,
    diagnostics=False,
)


def test_the_round_trip_config_sets_every_field_away_from_its_default():
    default = TrainConfig(sizes=(6, 4))
    for field in dataclasses.fields(TrainConfig):
        if field.name == "model":
            # A user model rules out the MLP fields set here; tests/test_user_models.py
            # round-trips it (from_dict(d, model=...)).
            continue
        assert getattr(EVERY_FIELD, field.name) != getattr(default, field.name), field.name


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(TrainConfig)])
def test_from_dict_inverts_to_dict_through_json_for_every_field(field):
    d = json.loads(json.dumps(EVERY_FIELD.to_dict()))
    back = TrainConfig.from_dict(d)
    assert getattr(back, field) == getattr(EVERY_FIELD, field)
    assert back == EVERY_FIELD
    # A default-valued config round-trips too.
    default = TrainConfig(sizes=(6, 4))
    assert TrainConfig.from_dict(json.loads(json.dumps(default.to_dict()))) == default


def test_numpy_scalars_are_recorded_as_json_numbers():
    config = TrainConfig(sizes=(6, 4), lr=np.float32(0.05), epochs=np.int32(2))
    back = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config


def test_lists_and_tuples_give_equal_configs():
    assert TrainConfig(sizes=[6, 4], activations=["relu", "tanh"]) == TrainConfig(
        sizes=(6, 4), activations=("relu", "tanh")
    )


def _clipped_adam(lr):
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))


def _unregistered_loss(logits, labels):
    return 2.0 * resolve_loss("cce").fn(logits, labels)


def test_callables_are_recorded_by_name_and_from_dict_says_what_cannot_round_trip():
    config = TrainConfig(sizes=(6, 4), optimizer=_clipped_adam, loss=_unregistered_loss)
    d = json.loads(json.dumps(config.to_dict()))
    assert d["optimizer"] == {"callable": f"{__name__}._clipped_adam"}
    assert d["loss"] == {"callable": f"{__name__}._unregistered_loss"}
    with pytest.raises(ValueError, match=r"^config\.(optimizer|loss).*from_dict\(d, "):
        TrainConfig.from_dict(d)
    back = TrainConfig.from_dict(d, optimizer=_clipped_adam, loss=_unregistered_loss)
    assert back == config
    # A registered loss function is recorded by its registered name and comes back as it.
    registered = TrainConfig(sizes=(6, 4), loss=SCALED.function)
    d = registered.to_dict()
    assert d["loss"] == "test_config_scaled_cce"
    assert resolve_loss(TrainConfig.from_dict(d).loss).function is _scaled_cce
    with pytest.raises(ValueError, match="^config.loss: 'nope' is not a registered loss"):
        TrainConfig.from_dict({**d, "loss": "nope"})
    with pytest.raises(ValueError, match="^d: unknown TrainConfig fields"):
        TrainConfig.from_dict({**d, "momentum": 0.9})


# ---------------------------------------------------------------------------- schedules

TOTAL, PER_EPOCH = 20, 5
COUNTS = jnp.arange(TOTAL + 1)


@pytest.mark.parametrize(
    ("schedule", "kwargs", "reference"),
    [
        (None, {}, lambda c: 0.1 + 0 * c),
        ("constant", {}, lambda c: 0.1 + 0 * c),
        ("cosine", {"alpha": 0.1}, optax.cosine_decay_schedule(0.1, TOTAL, alpha=0.1)),
        (
            "warmup_cosine",
            {"warmup_steps": 3, "end_fraction": 0.01},
            optax.warmup_cosine_decay_schedule(0.0, 0.1, 3, TOTAL, end_value=0.001),
        ),
        (
            "warmup_cosine",
            {"warmup_fraction": 0.25},
            optax.warmup_cosine_decay_schedule(0.0, 0.1, 5, TOTAL),
        ),
        (
            "step",
            {"boundaries": [1, 3], "factor": 0.5},
            optax.piecewise_constant_schedule(0.1, {5: 0.5, 15: 0.5}),
        ),
        ("step", {}, optax.piecewise_constant_schedule(0.1, {10: 0.1})),
    ],
)
def test_named_schedules_equal_optax_over_the_runs_total_steps(schedule, kwargs, reference):
    config = TrainConfig(sizes=(6, 4), epochs=TOTAL // PER_EPOCH, schedule=schedule)
    lr = make_schedule(config.replace(schedule_kwargs=kwargs), jnp.float32(0.1), PER_EPOCH)
    got = np.array([lr(c) if callable(lr) else lr for c in COUNTS], np.float64)
    np.testing.assert_allclose(got, np.asarray(reference(COUNTS)), rtol=1e-6, atol=1e-8)


def _cosine_factory(peak, total):
    shape = optax.cosine_decay_schedule(1.0, total)
    return lambda count: peak * shape(count)


def _branching_factory(peak, total):
    return optax.warmup_cosine_decay_schedule(0.0, peak, 1, total)  # branches on peak


BAD_FIELDS = [
    (dict(schedule="cosin"), "config.schedule"),
    (dict(schedule=3), "config.schedule"),
    (dict(schedule="cosine", schedule_kwargs={"warmup_steps": 3}), "config.schedule_kwargs"),
    (dict(schedule_kwargs={"alpha": 0.1}), "config.schedule_kwargs"),
    (dict(schedule="cosine", schedule_kwargs={"alpha": 2.0}), r"config.schedule_kwargs\['alpha"),
    (
        dict(schedule="warmup_cosine", schedule_kwargs={"warmup_steps": 2, "warmup_fraction": 0.1}),
        "config.schedule_kwargs",
    ),
    (dict(schedule="warmup_cosine", schedule_kwargs={"warmup_steps": -1}), "config.schedule_kw"),
    (dict(schedule="step", schedule_kwargs={"boundaries": [3]}), "config.schedule_kwargs"),
    (
        dict(schedule="warmup_cosine", schedule_kwargs={"warmup_steps": 15}),
        r"config.schedule_kwargs\['warmup_steps'\]: expected fewer than the run's 15 steps",
    ),
    (dict(schedule="step", schedule_kwargs={"boundaries": [2, 1]}), "config.schedule_kwargs"),
    (dict(schedule="step", schedule_kwargs={"factor": 0}), r"config.schedule_kwargs\['factor"),
    (dict(schedule=_cosine_factory, schedule_kwargs={"a": 1}), "config.schedule_kwargs"),
    (dict(schedule=_branching_factory), "config.schedule"),
    (dict(optimizer=lambda lr: 3.0), "config.optimizer"),
    (dict(optimizer=_clipped_adam, optimizer_kwargs={"b1": 0.9}), "config.optimizer_kwargs"),
    (dict(grad="closed_form", loss=_scaled_cce), "config.grad"),
    (dict(seed=2**32), "config.seed"),
    (dict(diagnostics="no"), "config.diagnostics"),
]


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS)
def test_each_new_field_is_checked_naming_it_before_compiling(small, monkeypatch, change, field):
    monkeypatch.setattr(jax, "jit", lambda *a, **k: pytest.fail("compiled before validating"))
    with pytest.raises(ValueError, match=f"^{field}"):  # names: when the config is made
        train(TrainConfig(sizes=(6, 4), batch_size=16, epochs=3).replace(**change), small)


# -------------------------------------------------------------------- training with them


def test_an_optax_chain_with_warmup_cosine_trains(small):
    config = TrainConfig(
        sizes=(6, 8, 4),
        optimizer=_clipped_adam,
        lr=0.02,
        schedule="warmup_cosine",
        schedule_kwargs={"warmup_fraction": 0.2},
        batch_size=16,
        epochs=4,
    )
    result = train(config, small)
    assert not result.diverged
    assert result.history["train_loss"][-1] < 0.7 * result.history["train_loss"][0]
    # The schedule ran to its end: the optimizer's step count is the run's total steps.
    counts = [np.asarray(x) for x in jax.tree.leaves(result.state.opt_state) if np.ndim(x) == 0]
    assert counts and all(c == 4 * 5 for c in counts)


@pytest.mark.slow  # over 8 s on 2 cores (several compiled trainings)
def test_a_vmapped_train_fn_over_three_peak_lrs_with_a_schedule_equals_three_trains(small):
    config = TrainConfig(
        sizes=(6, 4), optimizer="adam", schedule="cosine", batch_size=16, epochs=2, seed=1
    )
    lrs = [0.003, 0.01, 0.03]
    init_key, data_key = seed_keys(config.seed)
    params = init_params(config, init_key)
    stacked = jax.tree.map(lambda p: jnp.stack([p] * 3), params)
    data = (small.x_train, small.y_train, small.x_test, small.y_test)
    sweep_fn = jax.jit(
        jax.vmap(make_train(config, skip_after_divergence=False), in_axes=(0, 0, None, None))
    )
    swept, history, finite = sweep_fn(stacked, jnp.asarray(lrs, jnp.float32), data_key, data)
    assert np.all(np.asarray(finite))
    for i, lr in enumerate(lrs):
        single = train(config.replace(lr=lr), small)
        for a, b in zip(jax.tree.leaves(swept), jax.tree.leaves(single.params), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], b, rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(history["test_loss"])[i], single.history["test_loss"], rtol=2e-5
        )
    # Different peaks gave different runs (the lr really is per model).
    assert not np.allclose(np.asarray(swept[0]["w"])[0], np.asarray(swept[0]["w"])[2])
