"""The open API end to end: a user's loss, an optax chain and a schedule run through both
``train`` and ``sweep``, with no library edits, and a sweep equals its separate runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import softjax as sj


def chained_adam(lr):
    """An optimizer factory: clipping then Adam, with ``lr`` a schedule or a scalar."""
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))


def multiclass_hinge(logits, labels):
    """Crammer & Singer's multiclass hinge, batch mean: max(0, 1 + max_{c≠y} z_c − z_y)."""
    z_y = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    return jnp.mean(jnp.maximum(0.0, 1.0 + jnp.max(others, axis=-1) - z_y))


HINGE = sj.register_loss("test_open_api_hinge", multiclass_hinge)


@pytest.fixture(scope="module")
def tiny():
    with jax.enable_x64(True):
        data = sj.make_gaussian_classes(jax.random.PRNGKey(0), n=240, dim=6, num_classes=4)
        return sj.data.hold_out(
            data._replace(
                x_train=data.x_train.astype(np.float64), x_test=data.x_test.astype(np.float64)
            ),
            40,
        )


BASE = sj.TrainConfig(
    sizes=(6, 5, 4),
    activations="tanh",
    loss=HINGE.name,
    optimizer=chained_adam,
    schedule="warmup_cosine",
    schedule_kwargs={"warmup_fraction": 0.2},
    batch_size=32,
    epochs=3,
)
LRS = [0.01, 0.03, 0.1]


@pytest.mark.slow  # separate processes or a full end-to-end run
def test_a_sweep_over_peak_lrs_with_a_schedule_equals_separate_train_calls(tiny):
    """3 peak lrs of a warmup + cosine schedule on an optax chain, a user's loss: one vmapped
    program equals 3 train() calls (float64; the matmul width differs, so not bitwise)."""
    with jax.enable_x64(True):
        records = sj.sweep(
            BASE, tiny, losses=[HINGE.name], lrs=LRS, progress=False, return_params=True
        )
        assert [r["loss"] for r in records] == [HINGE.name] * 3
        assert all("val_accuracy" in r["history"] for r in records)
        for r in records:
            alone = sj.train(BASE.replace(lr=r["lr"]), tiny)
            for a, b in zip(
                jax.tree.leaves(r["params"]), jax.tree.leaves(alone.params), strict=True
            ):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
            for key, values in alone.history.items():
                np.testing.assert_allclose(r["history"][key], values, rtol=1e-9, atol=1e-12)
        # The schedule is real: a constant lr gives other params.
        constant = sj.train(BASE.replace(lr=LRS[1], schedule=None, schedule_kwargs={}), tiny)
        scheduled = records[1]["params"]
        assert not np.allclose(jax.tree.leaves(constant.params)[0], jax.tree.leaves(scheduled)[0])


def test_a_users_loss_trains_and_is_recorded_under_its_name(tiny):
    result = sj.train(
        BASE.replace(lr=0.03, schedule=None, schedule_kwargs={}, optimizer="adam"), tiny
    )
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.config.to_dict()["loss"] == HINGE.name
    # The same function passed directly (unregistered copies are named by __name__).
    assert sj.resolve_loss(multiclass_hinge).name == HINGE.name
