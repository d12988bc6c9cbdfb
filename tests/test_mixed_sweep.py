"""Tests for the mixed-loss sweep program: every loss's models in static blocks of one
program (``softjax.sweeps.mixed``) equal separate ``train()`` calls, share one gather and
one matmul, compile once for every loss and data seed, and shard with the same blocks on
every device."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softjax.builtin_losses import cce
from softjax.compilation_cache import compilation_cache_in
from softjax.config import TrainConfig
from softjax.data import Dataset, make_gaussian_classes
from softjax.history import HISTORY_KEYS
from softjax.inputs import as_data
from softjax.losses import resolve_loss
from softjax.run import train
from softjax.sweeps import block_layout, data_key, init_key, init_stack, make_sweep, sweep
from softjax.sweeps.mixed import BlockedLoss
from tests.helpers import count_jax_work, jaxpr_eqns, sweep_on_fake_cpu_devices

SINGLE = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2)
MLP = TrainConfig(sizes=(5, 4, 3), activations="tanh", batch_size=16, epochs=2)


def tempered_cce(logits, labels):
    """A user's loss given as a plain function: cross-entropy at temperature 2."""
    return cce(logits / 2.0, labels)


LOSSES = ["cce", "mse", "bce", tempered_cce]
MIXED = dict(losses=LOSSES, lrs=[0.3, 3.0], init_scales=[0.5, 2.0], seeds=[0], data_seeds=[0])


@pytest.fixture(scope="module")
def tiny64() -> Dataset:
    """3 Gaussian classes in 5-D, float64: 72 train rows (batch 16 leaves a partial 8)."""
    ds = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    return ds._replace(
        x_train=np.asarray(ds.x_train, np.float64), x_test=np.asarray(ds.x_test, np.float64)
    )


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize(
    "base, losses",
    [
        # Each case compiles a 16-model program and 16 train() programs (≈ 35 s on 2 cores).
        pytest.param(SINGLE, LOSSES, marks=pytest.mark.slow),
        # Test evaluated after the last epoch only (the loss study's setting): a lax.cond
        # on the shared epoch counter inside the vmapped program.
        pytest.param(MLP.replace(test_each_epoch=False), LOSSES, marks=pytest.mark.slow),
        pytest.param(MLP.replace(grad="closed_form"), LOSSES[:3], marks=pytest.mark.slow),
    ],
    ids=["single_layer", "mlp", "mlp_closed_form"],
)
def test_a_mixed_program_equals_separate_train_calls_in_float64(base, losses, tiny64, tmp_path):
    """4 losses (one a user's function) × 2 lrs × 2 init scales: 16 models, one program,
    each equal to its own train() to the sweep's float64 bound (1e-6, softjax.sweeps.grid).
    With ``grad="closed_form"`` (the user's function has none) the blocked loss's
    ``fn`` and ``logits_grad`` run instead of its ``value_and_grad``."""
    n = len(losses)
    with jax.enable_x64(True):
        records = sweep(
            base, tiny64, **{**MIXED, "losses": losses}, progress=False, return_params=True
        )
        assert len(records) == 4 * n
        names = ["cce", "mse", "bce", "tempered_cce"][:n]
        assert [r["loss"] for r in records[::4]] == names
        with compilation_cache_in(tmp_path / "jax_cache", min_compile_seconds=0.0):
            for r in records:
                loss = tempered_cce if r["loss"] == "tempered_cce" else r["loss"]
                ref = train(base.replace(loss=loss, lr=r["lr"], init_scale=r["init_scale"]), tiny64)
                assert not r["diverged"] and not ref.diverged
                for a, b in zip(_leaves(r["params"]), _leaves(ref.params), strict=True):
                    assert a.dtype == np.float64
                    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
                for k in HISTORY_KEYS:
                    np.testing.assert_allclose(
                        r["history"][k], ref.history[k], rtol=1e-6, atol=1e-6, err_msg=k
                    )
    # The losses differ, so a model trained with the wrong block's loss would show.
    finals = {r["loss"]: r["history"]["train_loss"][-1] for r in records if r["lr"] == 0.3}
    assert len({round(float(v), 6) for v in finals.values()}) == n


def test_the_mixed_program_shares_one_unbatched_gather_and_one_wide_matmul(tiny64):
    """7 models in blocks cce 3 | mse 2 | bce 2: no gather carries the model axis (no copy
    of the data per model) and the forward matmul is the shared rows against all 7."""
    blocks = BlockedLoss(tuple(resolve_loss(n) for n in ("cce", "mse", "bce")), (3, 2, 2))
    n_models = 7
    params = init_stack(
        SINGLE, jnp.stack([init_key(s) for s in range(n_models)]), jnp.ones(n_models)
    )
    data = as_data(tiny64)
    jaxpr = jax.make_jaxpr(make_sweep(SINGLE, blocks))(
        params, jnp.full(n_models, 0.1), data_key(0), data
    )
    eqns = list(jaxpr_eqns(jaxpr.jaxpr))
    gathers = [e for e in eqns if e.primitive.name == "gather"]
    assert gathers, "expected the minibatch gathers in the program"
    for e in gathers:
        assert n_models not in e.outvars[0].aval.shape, e.outvars[0].aval
        assert n_models not in e.invars[0].aval.shape, e.invars[0].aval
    dots = [e for e in eqns if e.primitive.name == "dot_general"]
    shared_rows = [e for e in dots if e.invars[0].aval.shape == (SINGLE.batch_size, 5)]
    # The weights are (D, M, K), the model axis second: one (D, M·K) matrix, no transpose.
    assert shared_rows and all(e.invars[1].aval.shape[:2] == (5, n_models) for e in shared_rows)
    # Each loss runs on its own block only: the log-softmax of cce and bce sees 3 and 2
    # models, never 7 (a select over every loss would compute each on all 7).
    widths = {e.outvars[0].aval.shape[0] for e in eqns if e.primitive.name == "log"}
    assert n_models not in widths and widths & {2, 3}


@pytest.mark.slow  # over 8 s on 2 cores (several compiled trainings)
def test_one_compile_serves_every_loss_and_data_seed(tiny64):
    """3 losses × 2 data seeds in one backend compile (per-loss programs would be 3).

    A first sweep compiles the small eager helpers (the init and data keys); the second,
    with a new ``epochs``, needs a new training program and nothing else."""
    grid = dict(losses=["cce", "mse", "bce"], lrs=[0.3], init_scales=[1.0], seeds=[0, 1])
    with jax.enable_x64(True):
        sweep(SINGLE.replace(epochs=1), tiny64, **grid, data_seeds=[5], progress=False)
        with count_jax_work() as events:
            records = sweep(
                SINGLE.replace(epochs=3), tiny64, **grid, data_seeds=[1, 2], progress=False
            )
    assert len(records) == 12
    assert events.count("/jax/core/compile/backend_compile_duration") == 1, events


def test_each_device_gets_the_same_blocks():
    """2 devices, losses with 3, 1 and 2 models: blocks of 2, 1, 1 per device, device-major."""
    blocks, slots, where = block_layout([0, 0, 0, 1, 2, 2], 2)
    assert blocks == ((0, 2), (1, 1), (2, 1))
    # device 0: cce 0, 1 | mse 3 | bce 4; device 1: cce 2, 2 (pad) | mse 3 (pad) | bce 5
    assert slots.tolist() == [0, 1, 3, 4, 2, 2, 3, 5]
    assert where.tolist() == [0, 1, 4, 2, 3, 7]
    assert [slots[w] for w in where] == list(range(6))
    one, slots1, _ = block_layout([4], 1)  # one model still fills two slots
    assert one == ((4, 2),) and slots1.tolist() == [0, 0]


@pytest.mark.slow  # a separate process
def test_a_mixed_sweep_sharded_over_2_cpu_devices_equals_the_one_device_program(tiny64):
    """3 losses × 3 seeds (3 models per loss: each block padded to 2 per device)."""
    grid = dict(losses=["cce", "mse", "bce"], lrs=[0.3], init_scales=[2.0], seeds=[0, 1, 2])
    grid["data_seeds"] = [1]
    sharded = sweep_on_fake_cpu_devices(2, MLP, grid)
    with jax.enable_x64(True):
        single = sweep(MLP, tiny64, **grid, progress=False, return_params=True)
    assert [r["key"] for r in sharded] == [r["key"] for r in single]
    worst = 0.0
    for a, b in zip(sharded, single, strict=True):
        for x, y in zip(a["params"], jax.tree.leaves(b["params"]), strict=True):
            worst = max(worst, float(np.max(np.abs(np.asarray(x) - np.asarray(y)))))
        for k in HISTORY_KEYS:
            worst = max(worst, float(np.max(np.abs(np.subtract(a["history"][k], b["history"][k])))))
    assert worst <= 1e-10, worst
