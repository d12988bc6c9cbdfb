"""Helpers shared by the tests: fast compiles, float64 closeness, counting jax's work."""

from __future__ import annotations

import contextlib
import functools

import jax
import numpy as np

# Tests compile many tiny programs once each: XLA's optimisation passes cost more than
# they save there. The arithmetic is the same IEEE float64/float32.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
jit_fast = functools.partial(jax.jit, compiler_options=FAST_COMPILE)


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
