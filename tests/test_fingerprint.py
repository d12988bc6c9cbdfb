"""A sweep's resume never hands back records another configuration computed: user
functions are identified by what they compute (softjax.fingerprint), names are checked
before anything touches the disk, and user functions of the wrong shape are named
before compiling."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import softjax.sweeps.core as core_module
from softjax import register_activation, register_loss
from softjax.config import TrainConfig
from softjax.fingerprint import (
    Unfingerprintable,
    check_user_functions,
    function_fingerprint,
    point_code,
)
from softjax.history import HISTORY_KEYS, history_shape
from softjax.run import train
from softjax.sweeps import sweep, sweep_lock
from tests.helpers import REPO_ROOT, tiny_gaussian_classes
from tests.helpers import SWEEP_BASE as BASE

tiny = pytest.fixture(tiny_gaussian_classes, scope="module", name="tiny")
GRID = dict(losses=["cce"], lrs=[0.3], init_scales=[1.0], seeds=[0, 1], data_seeds=[1])


@pytest.fixture
def no_training(monkeypatch):
    """sweep() with the training replaced by zeros: the bookkeeping, with no compile."""
    calls = []

    def fake_run_group(program, points, data, mesh, dtype, data_seed):
        calls.append(len(points))
        history = {k: np.zeros((len(points), *history_shape(BASE, k))) for k in HISTORY_KEYS}
        return None, history, np.ones(len(points), bool)

    monkeypatch.setattr(core_module, "build_program", lambda *args: None)
    monkeypatch.setattr(core_module, "run_group", fake_run_group)
    return calls


def _run(base, data, tmp_path, **grid):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = sweep(base, data, **{**GRID, **grid}, name="s", out_dir=tmp_path, progress=False)
    return records, [str(w.message) for w in caught]


def _reregister(name, fn):
    """register_loss over an existing name, with or without the overwrite= guard."""
    try:
        register_loss(name, fn, overwrite=True)
    except TypeError:
        register_loss(name, fn)


# ------------------------------------------------- user functions by what they compute


def test_another_optimizer_factory_lambda_reruns_and_the_same_one_reuses(
    tiny, tmp_path, no_training
):
    sgd = BASE.replace(optimizer=lambda lr: optax.sgd(lr))
    adam = BASE.replace(optimizer=lambda lr: optax.adam(lr))
    _run(sgd, tiny, tmp_path)
    _, said = _run(adam, tiny, tmp_path)
    assert no_training == [2, 2]  # adam did not get sgd's records
    records, said = _run(adam, tiny, tmp_path)
    assert no_training == [2, 2]
    assert any(f"reused 2 of 2 records from {tmp_path / 's.jsonl'}" in m for m in said)
    assert all(r["code"] is not None for r in records)


def test_another_schedule_factory_or_closure_value_reruns(tiny, tmp_path, no_training):
    def factory(scale):
        return lambda peak, total: lambda count: peak * scale

    _run(BASE.replace(schedule=factory(1.0)), tiny, tmp_path)
    _run(BASE.replace(schedule=factory(0.5)), tiny, tmp_path)  # same code, other closure
    _run(BASE.replace(schedule=lambda peak, total: lambda c: peak * 0.5), tiny, tmp_path)
    assert no_training == [2, 2, 2]
    _run(BASE.replace(schedule=factory(0.5)), tiny, tmp_path)
    assert no_training == [2, 2, 2]


def test_a_partial_is_identified_by_its_arguments(tiny, tmp_path, no_training):
    _run(BASE.replace(optimizer=functools.partial(optax.sgd, momentum=0.9)), tiny, tmp_path)
    _run(BASE.replace(optimizer=functools.partial(optax.sgd, momentum=0.5)), tiny, tmp_path)
    _run(BASE.replace(optimizer=functools.partial(optax.sgd, momentum=0.5)), tiny, tmp_path)
    assert no_training == [2, 2]


def test_a_loss_re_registered_under_its_name_reruns(tiny, tmp_path, no_training):
    register_loss("fp_test_loss", lambda z, y: jnp.mean(jnp.sum(z**2, -1)))
    _run(BASE, tiny, tmp_path, losses=["fp_test_loss"])
    _reregister("fp_test_loss", lambda z, y: jnp.mean(jnp.sum(jnp.abs(z), -1)))
    _run(BASE, tiny, tmp_path, losses=["fp_test_loss"])
    assert no_training == [2, 2]


def test_two_loss_functions_with_one_name_do_not_share_records(tiny, tmp_path, no_training):
    def make(power):
        def hinge(logits, labels):
            return jnp.mean(jnp.sum(jnp.abs(logits) ** power, -1))

        return hinge

    def hinge(logits, labels):  # the same __name__, other code
        return jnp.mean(jnp.sum(jnp.maximum(0.0, logits), -1))

    _run(BASE, tiny, tmp_path, losses=[make(2)])
    _run(BASE, tiny, tmp_path, losses=[hinge])
    _run(BASE, tiny, tmp_path, losses=[make(3)])
    assert no_training == [2, 2, 2]
    _run(BASE, tiny, tmp_path, losses=[make(3)])
    assert no_training == [2, 2, 2]


def test_a_function_that_cannot_be_identified_is_rerun_with_a_warning(tiny, tmp_path, no_training):
    class Hidden:  # no __dict__: its state cannot be read
        __slots__ = ("lr_scale",)

    hidden = Hidden()
    hidden.lr_scale = 1.0
    base = BASE.replace(optimizer=lambda lr: optax.sgd(lr * hidden.lr_scale))
    _, said = _run(base, tiny, tmp_path)
    assert any("cannot be identified" in m and "run again" in m for m in said), said
    _, said = _run(base, tiny, tmp_path)
    assert no_training == [2, 2] and not any("reused" in m for m in said)


def test_names_only_configs_keep_their_keys():
    # Records of built-in names keep the keys they had: committed results still resume.
    assert point_code(BASE) is None
    assert point_code(BASE.replace(optimizer="adam", schedule="cosine", loss="square")) is None


def test_fingerprints_follow_code_constants_globals_and_not_line_numbers():
    def f(x):
        return x + 1

    def g(x):
        return x + 1

    def h(x):
        return x + 2

    assert function_fingerprint(f) == function_fingerprint(g) != function_fingerprint(h)
    a, b = (lambda z: jnp.tanh(z)), (lambda z: jnp.sin(z))
    assert function_fingerprint(a) != function_fingerprint(b)
    calls_a, calls_b = (lambda z: a(z)), (lambda z: b(z))  # the same code, other closure
    assert function_fingerprint(calls_a) != function_fingerprint(calls_b)
    with pytest.raises(Unfingerprintable, match="cannot be identified"):
        function_fingerprint(functools.partial(f, object.__new__(_Slots)))


class _Slots:
    __slots__ = ()


@pytest.mark.slow  # two interpreters
def test_a_fingerprint_is_the_same_in_another_process():
    code = (
        "import optax, functools; from softjax.fingerprint import function_fingerprint as f;"
        "print(f(functools.partial(lambda lr, m: optax.sgd(lr, momentum=m), m={0.9, 0.5})))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, env=env
        ).stdout
        for _ in range(2)
    }
    assert len(outs) == 1 and len(outs.pop().strip()) == 32


# ------------------------------------------------------ names before the disk is touched


@pytest.mark.parametrize("name", ["../victim", "a/b", "..", ".hidden", "", "a\\b"])
def test_a_name_that_leaves_its_folder_is_refused_before_any_file(tiny, tmp_path, name):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="name: expected a file stem"):
        sweep(BASE, tiny, **GRID, name=name, out_dir=out, progress=False)
    with pytest.raises(ValueError, match="name: expected a file stem"):
        with sweep_lock(out, name):
            pass
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------- user functions of the wrong shape


def test_a_per_sample_loss_is_named_before_compiling(tiny):
    def per_sample(logits, labels):
        return jnp.sum(logits**2, -1)

    with pytest.raises(ValueError, match=r"config.loss: the loss 'per_sample'.*scalar.*per sample"):
        train(BASE.replace(loss=per_sample), tiny)
    with pytest.raises(ValueError, match=r"config.loss: the loss 'per_sample'"):
        sweep(BASE, tiny, **{**GRID, "losses": [per_sample]}, progress=False)


def test_a_loss_that_does_not_jit_is_named(tiny):
    def host_loss(logits, labels):
        return float(jnp.mean(logits))  # a Python float of a tracer

    with pytest.raises(ValueError, match=r"config.loss: the loss 'host_loss'.*jit"):
        train(BASE.replace(loss=host_loss), tiny)


def test_a_closed_form_gradient_or_activation_of_the_wrong_shape_is_named(tiny):
    register_loss(
        "fp_bad_grad",
        lambda z, y: jnp.mean(jnp.sum(z**2, -1)),
        logits_grad=lambda z, y: jnp.sum(z, -1),
    )
    config = BASE.replace(loss="fp_bad_grad", grad="closed_form")
    with pytest.raises(ValueError, match=r"config.loss: the closed-form logits_grad.*\(16, 3\)"):
        train(config, tiny)
    register_activation("fp_bad_act", lambda z: jnp.sum(z, -1), lambda z: jnp.ones_like(z))
    mlp = BASE.replace(sizes=(5, 4, 3), activations="fp_bad_act")
    with pytest.raises(ValueError, match=r"config.activations: activation 'fp_bad_act'"):
        train(mlp, tiny)
    with pytest.raises(ValueError, match=r"config.activations"):
        check_user_functions(mlp, tiny)


def test_user_functions_of_the_right_shape_pass(tiny):
    config = TrainConfig(sizes=(5, 4, 3), loss=lambda z, y: jnp.mean(z**2), epochs=1)
    check_user_functions(config, tiny)
