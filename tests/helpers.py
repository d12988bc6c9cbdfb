"""Helpers shared by the tests: fast compiles, float64 closeness, counting jax's work,
walking a jaxpr, a fresh python's result, a sweep on fake CPU devices in one."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np

from softjax.data import make_gaussian_classes
from softjax.losses import resolve_loss
from softjax.targets import to_targets
from softjax.training import TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests compile many tiny programs once each: XLA's optimisation passes cost more than
# they save there. The arithmetic is the same IEEE float64/float32.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
jit_fast = functools.partial(jax.jit, compiler_options=FAST_COMPILE)


def without_self_quadratic(z):
    """(..., K) → (..., K, K) whose row k is z with z_k masked to −inf: the classes j ≠ k
    (the O(K²) reference forms of log(1 − softmax) and BCE's closed-form gradient)."""
    return jnp.where(jnp.eye(z.shape[-1], dtype=bool), -jnp.inf, z[..., None, :])


def formula_loss(spec):
    """A loss's value formula (its record's kernel) as ``f(logits, labels)`` WITHOUT the
    closed-form derivative that ``LOSSES`` attach: ``jax.grad(f)`` is autodiff of the
    formula, the independent reference for the closed forms."""
    bound = resolve_loss(spec)
    kernel, kwargs = bound.record.kernel, dict(bound.kwargs)

    def f(logits, labels):
        z = jnp.asarray(logits)
        return kernel(z, to_targets(z, labels), **kwargs)

    return f


def softmax_error_vjp_exact(z, y, sign=False, digits=150):
    """Jᵀ f(ŷ − y) per row for ŷ = softmax(z) (f = identity, or sign for MAE), in
    ``digits``-digit decimal arithmetic, returned as float64: the reference for the MSE
    and MAE closed forms where float64 itself cancels (a saturated softmax)."""
    from decimal import Decimal, localcontext

    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    out = np.empty(z.shape, np.float64)
    with localcontext() as ctx:
        ctx.prec = digits
        for i in range(z.shape[0]):
            zi = [Decimal(float(v)) for v in z[i]]
            top = max(zi)
            e = [(v - top).exp() if v != Decimal("-Infinity") else Decimal(0) for v in zi]
            total = sum(e)
            a = [x / total for x in e]
            v = [ak - Decimal(float(yk)) for ak, yk in zip(a, y[i], strict=True)]
            if sign:
                v = [Decimal((x > 0) - (x < 0)) for x in v]
            dot = sum(ak * vk for ak, vk in zip(a, v, strict=True))
            out[i] = [float(ak * (vk - dot)) for ak, vk in zip(a, v, strict=True)]
    return out


def assert_rel_close(actual, expected, tol=1e-10, what="", floor=1e-14):
    """Norm-wise ‖actual − expected‖ ≤ tol · ‖expected‖ + floor, shapes equal, both finite."""
    a, b = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), what
    err = np.linalg.norm(a - b)
    assert err <= tol * np.linalg.norm(b) + floor, (
        f"{what}: ‖a−b‖={err:.3e}, ‖b‖={np.linalg.norm(b):.3e}"
    )


@contextlib.contextmanager
def count_jax_work():
    """Collects jax's trace and compile events while the block runs."""
    events = []

    def listener(event, duration, **kwargs):
        events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def python_result(script: str, args, env, marker: str, timeout: float):
    """Runs ``script`` in a fresh python from the repository root, ``args`` on its command
    line, under ``env``: the JSON it prints after ``marker``. A non-zero exit fails with
    the tail of its stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split(marker, 1)[1])


def readme_row_of(summary: str) -> str:
    """The last row of a literature summary's README-row table, read the way
    ``experiments._common.readme_results`` copies it into the README."""
    from experiments._common.readme_results import section_table
    from experiments._common.verdicts import README_ROW_SECTION

    return section_table(summary, README_ROW_SECTION, "summary")[-1]


def jaxpr_eqns(jaxpr):
    """Every equation of ``jaxpr``, those of its sub-jaxprs (scan, cond, pjit …) included."""
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            yield from jaxpr_eqns(sub)


# XLA fixes the number of CPU devices when jax starts, so a sharded sweep runs in a fresh
# python. Its data is the `tiny` fixture's (made outside x64 as there: int32 labels),
# features cast to float64 under x64 as `tiny64` has them.
_SHARDED_SWEEP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from softjax.data import make_gaussian_classes
from softjax.losses import resolve_loss
from softjax.targets import to_targets
    from softjax.sweeps import default_mesh, sweep
    from softjax.training import TrainConfig

    n_devices, base, grid = json.loads(sys.argv[1])
    assert len(jax.devices()) == n_devices and default_mesh().size == n_devices
    base = TrainConfig(**{**base, "sizes": tuple(base["sizes"])})
    ds = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    with jax.enable_x64(True):
        ds = ds._replace(x_train=np.asarray(ds.x_train, np.float64),
                         x_test=np.asarray(ds.x_test, np.float64))
        records = sweep(base, ds, **grid, progress=False, return_params=True)
    for r in records:
        r["params"] = [np.asarray(x).tolist() for x in jax.tree.leaves(r["params"])]
    print("RECORDS", json.dumps(records))
    """
)


def sweep_on_fake_cpu_devices(n_devices, base, grid):
    """``sweep(base, tiny64, **grid, return_params=True)`` sharded over ``n_devices`` fake
    CPU devices in a separate python; its records, each ``params`` as a list of leaves."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n_devices}"}
    args = json.dumps([n_devices, base.to_dict(), grid])
    return python_result(_SHARDED_SWEEP_SCRIPT, [args], env, "RECORDS", timeout=300)


# The sweep tests' shared grid (test_sweeping.py, test_sweep_storage.py).
SWEEP_BASE = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2)
# lr 200 makes square loss diverge in its first epoch while its neighbours train on.
SWEEP_GRID = dict(
    losses=["cce", "square"], lrs=[0.3, 200.0], init_scales=[2.0], seeds=[0, 1], data_seeds=[1]
)


def tiny_gaussian_classes():
    """3 Gaussian classes in 5-D: 72 train rows (batch 16 leaves a partial batch of 8)."""
    return make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)


@contextlib.contextmanager
def no_runtime_warning():
    """Turns any RuntimeWarning (a divergence report) inside the block into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def leaves(tree):
    """A pytree's leaves as numpy arrays."""
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


GROWN_GRIDS = {"max_rounds": 4, "lr_extension": {"factor": 3.0, "range": [1e-4, 100.0]}}
"""The config entries of a full run that grew its lr grids (``experiments._common.lit``)."""
GROWN_CLAUSE = (
    "each loss's grid extended by ×3 steps while its choice was on an edge (at most 4 times, "
    "lrs in [0.0001, 100])"
)
"""What a summary says of :data:`GROWN_GRIDS` (``experiments._common.verdicts.grid_growth``)."""
