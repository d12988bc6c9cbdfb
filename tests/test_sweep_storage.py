"""Tests for softjax.sweeps' storage: the JSONL stream, resume by key, temps, the
one-writer lock and the messages a sweep prints (split from ``test_sweeping.py``, which
keeps the computing core: equality with ``train()``, shared minibatches, sharding)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import pytest

import softjax.results as results_module
import softjax.sweeps as sweep_module
import softjax.sweeps.core as core_module
import softjax.sweeps.runner as runner_module
from softjax.history import HISTORY_KEYS, history_shape
from softjax.results import read_jsonl
from softjax.sweeps import (
    config_key,
    sweep,
)
from tests.helpers import REPO_ROOT, tiny_gaussian_classes
from tests.helpers import SWEEP_BASE as BASE
from tests.helpers import SWEEP_GRID as GRID

tiny = pytest.fixture(tiny_gaussian_classes, scope="module", name="tiny")


# ------------------------------------------------------------- streaming and resume


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_killed_sweep_keeps_whole_lines_resumes_the_rest_then_reruns_nothing(
    tiny, tmp_path, monkeypatch
):
    kw = {**GRID, "data_seeds": [0, 1], "name": "s", "out_dir": tmp_path, "progress": False}
    path, meta_path = tmp_path / "s.jsonl", tmp_path / "s.meta.json"
    groups = []
    real_run_group, real_append = core_module.run_group, runner_module.append_jsonl

    def counting_run_group(program, points, *args):
        groups.append(len(points))
        return real_run_group(program, points, *args)

    def killed_on_second_append(file, records):
        if len(groups) == 2:
            raise KeyboardInterrupt("killed while writing the second group")
        return real_append(file, records)

    # 1. A run killed while writing its second group (a data seed: both losses' models).
    monkeypatch.setattr(core_module, "run_group", counting_run_group)
    monkeypatch.setattr(runner_module, "append_jsonl", killed_on_second_append)
    with pytest.raises(KeyboardInterrupt):
        sweep(BASE, tiny, **kw)
    assert groups == [8, 8]
    first = read_jsonl(path)  # parses: whole lines only
    assert len(first) == 8 and sorted(p.name for p in tmp_path.iterdir()) == [
        "s.jsonl",
        "s.lock",
        "s.meta.json",
    ]
    meta = json.loads(meta_path.read_text())
    (run,) = meta["runs"]
    assert {"versions", "device", "git_commit", "config", "grid", "run_id"} <= set(run)
    assert run["grid"]["data_seeds"] == [0, 1] and run["n_to_run"] == 16
    for line in first:
        assert line["run_id"] == run["run_id"]
        assert set(line["history"]) == set(HISTORY_KEYS)
        assert line["config"]["lr"] == line["lr"] and line["config"]["seed"] == line["seed"]
        assert line["key"] == config_key(line["config"], line["data_seed"], line["data"])

    # 2. The rerun trains only the missing group and leaves the finished lines alone.
    monkeypatch.setattr(runner_module, "append_jsonl", real_append)
    groups.clear()
    records = sweep(BASE, tiny, **kw)
    assert groups == [8]
    lines = read_jsonl(path)
    assert lines[:8] == first and len(lines) == 16 and len({r["key"] for r in lines}) == 16
    assert sorted(r["key"] for r in records) == sorted(r["key"] for r in lines)
    assert len(json.loads(meta_path.read_text())["runs"]) == 2
    assert {r["run_id"] for r in lines[8:]} == {
        json.loads(meta_path.read_text())["runs"][1]["run_id"]
    }

    # 3. A finished sweep builds no program and changes no byte.
    before = path.read_bytes(), meta_path.read_bytes()

    def no_compiling(*args, **kwargs):
        raise AssertionError("a finished sweep built a program")

    monkeypatch.setattr(core_module, "build_program", no_compiling)
    again = sweep(BASE, tiny, **kw)
    assert (path.read_bytes(), meta_path.read_bytes()) == before
    assert again == records


def test_a_crash_inside_an_append_leaves_the_old_lines_and_the_next_append_repairs(
    monkeypatch, tmp_path
):
    path = tmp_path / "s.jsonl"
    results_module.append_jsonl(path, [{"key": "a", "history": {"x": [1.0, 2.0]}}])
    before = path.read_bytes()
    real_write = os.write

    def killed(fd, data):
        real_write(fd, data[:7])  # half a line reaches the disk, then the process dies
        raise OSError("killed in the middle of the append")

    monkeypatch.setattr(results_module.os, "write", killed)
    with pytest.raises(OSError, match="killed"):
        results_module.append_jsonl(path, [{"key": "b"}])
    monkeypatch.setattr(results_module.os, "write", real_write)
    assert path.read_bytes().startswith(before)  # the old lines are never rewritten
    with pytest.warns(RuntimeWarning, match="dropped an undecodable last line"):
        assert [r["key"] for r in read_jsonl(path)] == ["a"]
    results_module.append_jsonl(path, [{"key": "c"}])  # cuts the half line off first
    assert [r["key"] for r in read_jsonl(path)] == ["a", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]


# ---------------------------------------------- data in the key, grids, arrays, temps


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


def test_the_resume_key_holds_the_data_so_other_data_reruns(tiny, tmp_path, no_training):
    kw = {**GRID, "name": "d", "out_dir": tmp_path, "progress": False}
    subset = tiny._replace(x_train=tiny.x_train[:48], y_train=tiny.y_train[:48])
    info = {"dataset": "gauss", "source": "idx", "train_subset": 48}
    first = sweep(BASE, subset, **kw, data_info=info)
    assert no_training == [8] and first[0]["data"]["n_train"] == 48
    assert first[0]["data"]["train_subset"] == 48
    # The full data under the same name: nothing of the subset's run is reused.
    full = sweep(BASE, tiny, **kw, data_info={**info, "train_subset": None})
    assert no_training == [8] * 2 and {r["data"]["n_train"] for r in full} == {72}
    # The same data but another source or row order is other data too.
    sweep(BASE, tiny, **kw, data_info={**info, "train_subset": None, "source": "tfds"})
    perm = np.random.default_rng(0).permutation(len(tiny.x_train))
    shuffled = tiny._replace(x_train=tiny.x_train[perm], y_train=tiny.y_train[perm])
    sweep(BASE, shuffled, **kw, data_info={**info, "train_subset": None})
    assert no_training == [8] * 4
    # The same data again: a resume, nothing runs.
    assert sweep(BASE, tiny, **kw, data_info={**info, "train_subset": None}) == full
    assert no_training == [8] * 4
    # The file keeps every grid's lines; select_grid and summarize(grid=) pick one out.
    lines = read_jsonl(tmp_path / "d.jsonl")
    assert len(lines) == 32
    grid = {**GRID, "base_config": BASE.to_dict(), "data": first[0]["data"]}
    assert sweep_module.select_grid(lines, grid) == first
    cells = sweep_module.summarize(lines, grid)["cells"]
    assert [c["n"] for c in cells] == [2] * 4  # two seeds per cell, not eight lines


def test_numpy_and_jax_arrays_are_accepted_as_axes(tiny, no_training):
    records = sweep(
        BASE,
        tiny,
        losses=["cce"],
        lrs=jnp.array([0.1, 0.5]),
        init_scales=np.array([1.0]),
        seeds=np.arange(2),
        data_seeds=jnp.array([3]),
        progress=False,
    )
    assert [(r["lr"], r["seed"], r["data_seed"]) for r in records] == [
        (0.1, 0, 3),
        (0.1, 1, 3),
        (0.5, 0, 3),
        (0.5, 1, 3),
    ]
    assert all(type(r["seed"]) is int for r in records)
    with pytest.raises(ValueError, match=r"lrs: expected a 1-D array .*shape \(1, 2\)"):
        sweep(BASE, tiny, losses=["cce"], lrs=np.array([[0.1, 0.5]]), progress=False)


def test_a_sweep_deletes_the_temp_files_a_sigkill_left(tiny, tmp_path, no_training):
    stale = [tmp_path / ".s.jsonl.k1ll3d.tmp", tmp_path / ".s.meta.json.x.tmp"]
    other = tmp_path / ".t.jsonl.k1ll3d.tmp"  # another sweep's: not ours to delete
    for p in [*stale, other]:
        p.write_text('{"half a li')
    sweep(BASE, tiny, **GRID, name="s", out_dir=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        other.name,
        "s.jsonl",
        "s.lock",
        "s.meta.json",
    ]


def test_a_sweep_deletes_summary_and_figure_temps_a_kill_left(tiny, tmp_path, no_training):
    stale = [
        tmp_path / ".s.json.k1ll3d.tmp",
        tmp_path / ".s.md.k1ll3d.tmp",
        tmp_path / ".s_curves.png.k1ll3d.tmp",
    ]
    for p in stale:
        p.write_text("half")
    sweep(BASE, tiny, **GRID, name="s", out_dir=tmp_path, progress=False)
    assert not any(p.exists() for p in stale)


# --------------------------------------------------------- one writer per folder


_HOLDER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    import softjax.sweeps as sweeps
    import softjax.sweeps.core as core
    from softjax.data import make_gaussian_classes
    from softjax.config import TrainConfig
    from softjax.history import HISTORY_KEYS
    import jax

    out, grid = Path(sys.argv[1]), json.loads(sys.argv[2])
    base = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2)

    def slow_run_group(program, points, *args):
        # A live run: it has a temp file in flight and waits until the test says go.
        (out / ".s.jsonl.inflight.tmp").write_text("a live run's temp")
        (out / "started").write_text("")
        while not (out / "go").exists():
            time.sleep(0.05)
        (out / ".s.jsonl.inflight.tmp").unlink()
        h = {k: np.full((len(points), 2), 0.5) for k in HISTORY_KEYS}
        return None, h, np.ones(len(points), bool)

    core.build_program = lambda *a: None
    core.run_group = slow_run_group
    ds = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    sweeps.sweep(base, ds, **grid, name="s", out_dir=out, progress=False)
    """
)


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_second_run_on_the_same_folder_fails_at_once_and_loses_nothing(tiny, tmp_path):
    """Two real processes, one folder: the second fails naming the folder and the pid,
    deletes none of the live run's temps, and the file ends with each config once."""
    grid = {**GRID, "losses": ["cce"], "lrs": [0.3]}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_SCRIPT, str(tmp_path), json.dumps(grid)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):
            if (tmp_path / "started").exists() or holder.poll() is not None:
                break
            time.sleep(0.05)
        assert (tmp_path / "started").exists(), holder.communicate()[1][-3000:]
        with pytest.raises(sweep_module.SweepLocked) as caught:
            sweep(BASE, tiny, **grid, name="s", out_dir=tmp_path, progress=False)
        assert str(tmp_path) in str(caught.value) and f"pid {holder.pid}" in str(caught.value)
        assert (tmp_path / ".s.jsonl.inflight.tmp").exists()  # the live run's temp survives
    finally:
        (tmp_path / "go").write_text("")
        _, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err[-3000:]
    lines = read_jsonl(tmp_path / "s.jsonl")
    assert len(lines) == 2 and len({r["key"] for r in lines}) == 2
    # The lock is free again: a rerun resumes everything and appends nothing.
    again = sweep(BASE, tiny, **grid, name="s", out_dir=tmp_path, progress=False)
    assert len(read_jsonl(tmp_path / "s.jsonl")) == 2 and len(again) == 2


def test_the_lock_is_reentrant_in_one_process_and_free_after(tmp_path):
    with sweep_module.sweep_lock(tmp_path, "s"), sweep_module.sweep_lock(tmp_path, "s"):
        assert (tmp_path / "s.lock").read_text().strip() == str(os.getpid())
    with sweep_module.sweep_lock(tmp_path, "s"):
        pass


def test_an_unwritable_out_folder_is_named_before_anything_runs(tiny, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match=f"out folder {blocker / 'out'}: expected a writ"):
        sweep(BASE, tiny, **GRID, name="s", out_dir=blocker / "out", progress=False)

    def read_only(*args, **kwargs):  # root ignores chmod, so simulate the refusal
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(results_module.tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(core_module, "build_program", lambda *a, **k: 1 / 0)
    with pytest.raises(PermissionError, match=f"out folder {tmp_path}: .*Permission denied"):
        sweep(BASE, tiny, **GRID, name="s", out_dir=tmp_path, progress=False)


def test_divergence_is_reported_on_screen_naming_the_configs(tiny, monkeypatch):
    def half_diverged(program, points, data, mesh, dtype, data_seed):
        n = len(points)
        history = {k: np.full((n, *history_shape(BASE, k)), 0.5) for k in HISTORY_KEYS}
        finite = np.array([p["config"].lr < 100 for p in points])
        for k in history:
            history[k][~finite, 1:] = np.nan
        return None, history, finite

    monkeypatch.setattr(core_module, "build_program", lambda *a: None)
    monkeypatch.setattr(core_module, "run_group", half_diverged)
    with pytest.warns(
        RuntimeWarning,
        match=r"4 of 8 configs diverged.*cce lr=200 init_scale=2 "
        r"seed=0 data_seed=1 \(epoch 2\)",
    ):
        records = sweep(BASE, tiny, **GRID, progress=False)
    summary = sweep_module.summarize(records)
    assert summary["n_diverged"] == 4 and {d["lr"] for d in summary["diverged"]} == {200.0}
