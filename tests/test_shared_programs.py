"""``softjax.sweeps.core.shared_program``: one sweep program per key across ``sweep()``
calls, and never one program for two keys (another loss's code, another config)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import softjax.sweeps.core as core
from softjax.losses import resolve_loss
from softjax.sweeps import sweep
from tests.helpers import SWEEP_BASE as BASE
from tests.helpers import tiny_gaussian_classes

tiny = pytest.fixture(tiny_gaussian_classes, scope="module", name="tiny")


@pytest.fixture
def builds(monkeypatch):
    """The programs ``build_program`` made during the test, in order."""
    made, build = [], core.build_program
    monkeypatch.setattr(core, "build_program", lambda *a: made.append(build(*a)) or made[-1])
    return made


def _histories(records):
    return {r["key"]: r["history"] for r in records}


def test_a_second_call_reuses_the_program_and_returns_the_same_records(tiny, builds):
    grid = dict(losses=["cce", "mse"], lrs=[0.1, 0.3], progress=False)
    first = sweep(BASE, tiny, **grid)
    again = sweep(BASE, tiny, **grid)
    other_lrs = sweep(BASE, tiny, **dict(grid, lrs=[1.0, 3.0]))
    assert len(builds) == 1  # the lrs are the program's inputs, not its key
    assert _histories(first) == _histories(again)
    core.clear_programs()
    fresh = sweep(BASE, tiny, **dict(grid, lrs=[1.0, 3.0]))
    assert len(builds) == 2 and _histories(fresh) == _histories(other_lrs)


def test_other_configs_and_losses_get_their_own_programs(tiny, builds):
    def hinge(power):
        def loss(logits, labels):
            return jnp.mean(jnp.sum(jnp.tanh(logits) ** power, -1))

        return loss

    sweep(BASE, tiny, losses=[hinge(2)], lrs=[0.1], progress=False)
    sweep(BASE, tiny, losses=[hinge(3)], lrs=[0.1], progress=False)  # same name, other code
    sweep(BASE.replace(batch_size=8), tiny, losses=[hinge(3)], lrs=[0.1], progress=False)
    sweep(BASE, tiny, losses=[hinge(2)], lrs=[0.1], progress=False)
    assert len(builds) == 3 and builds[0] is core.shared_program(
        BASE, [resolve_loss(hinge(2))], np.float32, None
    )


def test_the_key_tells_apart_what_the_program_reads():
    cce, mse = resolve_loss("cce"), resolve_loss("mse")
    key = core.program_key(BASE, [cce, mse], np.float32, None)
    assert key == core.program_key(BASE, [resolve_loss("cce"), mse], np.float32, None)
    assert key == core.program_key(BASE.replace(loss="mse"), [cce, mse], np.float32, None)
    for other in (
        core.program_key(BASE, [mse, cce], np.float32, None),
        core.program_key(BASE, [cce, mse], np.float64, None),
        core.program_key(BASE.replace(epochs=BASE.epochs + 1), [cce, mse], np.float32, None),
        core.program_key(
            BASE, [cce, resolve_loss(("cce_smoothed", {"smoothing": 0.1}))], np.float32, None
        ),
    ):
        assert other != key


def test_an_unidentifiable_function_is_never_shared(tiny, builds):
    class Hidden:  # no __dict__: its state cannot be read
        __slots__ = ("scale",)

    hidden = Hidden()
    hidden.scale = 1.0
    loss = resolve_loss(lambda logits, labels: hidden.scale * jnp.mean(logits**2))
    assert core.program_key(BASE, [loss], np.float32, None) is None
    assert core.shared_program(BASE, [loss], np.float32, None) is not core.shared_program(
        BASE, [loss], np.float32, None
    )


def test_the_store_keeps_the_most_recent_programs(builds):
    losses = [resolve_loss("cce")]
    for epochs in range(1, core.PROGRAMS_KEPT + 2):
        core.shared_program(BASE.replace(epochs=epochs), losses, np.float32, None)
    assert len(builds) == core.PROGRAMS_KEPT + 1
    core.shared_program(BASE.replace(epochs=core.PROGRAMS_KEPT + 1), losses, np.float32, None)
    assert len(builds) == core.PROGRAMS_KEPT + 1  # the last one is kept
    core.shared_program(BASE.replace(epochs=1), losses, np.float32, None)
    assert len(builds) == core.PROGRAMS_KEPT + 2  # the first one went out
