"""JAX's persistent compilation cache: a second process loads what the first compiled.

The processes run with ``SOFTJAX_COMPILATION_CACHE`` set to a temporary folder, so no test
here writes into the user's home.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import jax
import pytest

from softjax import compilation_cache as cc
from tests.helpers import python_result

# Counts jax.monitoring's cache events around one tiny train() (a fresh process each).
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    from jax import monitoring

    events = {}
    monitoring.register_event_listener(lambda name, **kw: events.__setitem__(
        name, events.get(name, 0) + 1))
    import softjax.compilation_cache as cc
    from softjax import TrainConfig, train
    from softjax.data import make_gaussian_classes

    # Every program is written, however fast it compiled: the count is then exact, not
    # at the mercy of the machine's load around the 0.1 s threshold.
    cc.MIN_COMPILE_SECONDS = 0.0

    data = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    lr = float(sys.argv[1])
    result = train(TrainConfig(sizes=(5, 3), batch_size=16, epochs=2, lr=lr), data)
    print("RESULT", json.dumps({
        "hits": events.get("/jax/compilation_cache/cache_hits", 0),
        "misses": events.get("/jax/compilation_cache/cache_misses", 0),
        "dir": jax.config.jax_compilation_cache_dir,
        "history": {k: v.tolist() for k, v in result.history.items()},
    }))
    """
)


def _train_in_a_process(cache: str, lr: float = 0.3) -> dict:
    env = {**os.environ, cc.ENV_VAR: cache, "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    return python_result(SCRIPT, [str(lr)], env, "RESULT", timeout=180)


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.mark.slow  # separate processes or a full end-to-end run
def test_a_second_process_loads_the_first_ones_compiled_train_program(tmp_path):
    folder = tmp_path / "jax_cache"
    first = _train_in_a_process(str(folder))
    assert first["dir"] == str(folder.resolve())
    written = _entries(folder)
    assert first["hits"] == 0 and first["misses"] >= 1 and written
    # Another lr is a traced argument: the same program, loaded instead of compiled.
    second = _train_in_a_process(str(folder), lr=0.5)
    assert second["hits"] >= 1 and second["misses"] == 0
    assert _entries(folder) == written  # nothing new to write
    again = _train_in_a_process(str(folder))
    assert again["history"] == first["history"]  # the loaded program computes the same


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_off_leaves_jax_without_a_cache_folder(tmp_path):
    result = _train_in_a_process("off")
    assert result["dir"] is None and result["hits"] == 0


@pytest.fixture
def restored_jax_cache(tmp_path):
    """jax's cache options put back as they were after an in-process test."""
    with cc.compilation_cache_in(tmp_path / "outer") as outer:
        yield outer


def test_enable_is_idempotent_and_an_explicit_path_switches(
    tmp_path, monkeypatch, restored_jax_cache
):
    monkeypatch.setenv(cc.ENV_VAR, "OFF")
    assert cc.enable_compilation_cache() is None and cc.cache_dir() is None
    assert jax.config.jax_compilation_cache_dir == str(restored_jax_cache)
    a, b = tmp_path / "a", tmp_path / "b"
    assert cc.enable_compilation_cache(a) == a.resolve() and a.is_dir()
    assert jax.config.jax_compilation_cache_dir == str(a.resolve())
    assert jax.config.jax_persistent_cache_min_compile_time_secs == cc.MIN_COMPILE_SECONDS
    monkeypatch.setenv(cc.ENV_VAR, str(b))
    # Without a path the folder already set stays: the first call of a process decides.
    assert cc.enable_compilation_cache() == a.resolve() and not b.exists()
    assert cc.enable_compilation_cache(b) == b.resolve()
    assert jax.config.jax_compilation_cache_dir == str(b.resolve())
    assert cc.enable_compilation_cache("off") is None
    assert jax.config.jax_compilation_cache_dir == str(b.resolve())
    with pytest.raises(ValueError, match="path: expected a folder path or 'off', got 3"):
        cc.enable_compilation_cache(3)


def test_compilation_cache_in_restores_jax_options(tmp_path):
    before = {name: getattr(jax.config, name) for name in cc._OPTIONS}
    with cc.compilation_cache_in(tmp_path / "c", min_compile_seconds=0.0) as folder:
        assert jax.config.jax_compilation_cache_dir == str(folder)
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
    assert {name: getattr(jax.config, name) for name in cc._OPTIONS} == before
