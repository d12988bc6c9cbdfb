"""Tests for softjax.results: JSON conversion, atomic writes, JSONL appends, provenance."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import softjax.results as results
from softjax.config import TrainConfig
from softjax.results import (
    append_jsonl,
    atomic_save_figure,
    atomic_write_text,
    provenance,
    read_json,
    read_jsonl,
    results_dir,
    to_jsonable,
    write_json,
)


def test_to_jsonable_converts_arrays_scalars_tuples_and_configs():
    doc = {
        "np": np.array([[1, 2], [3, 4]], np.int32),
        "jax": jnp.array([0.5, 1.5], jnp.float32),
        "scalar": np.float32(0.25),
        "int": np.int64(7),
        "bool": np.bool_(True),
        "tuple": (1, (2, 3)),
        "config": TrainConfig(sizes=(4, 3), lr=0.5),
        3: "int key",
    }
    out = to_jsonable(doc)
    assert out["np"] == [[1, 2], [3, 4]] and isinstance(out["np"][0][0], int)
    assert out["jax"] == [0.5, 1.5] and isinstance(out["jax"][0], float)
    assert out["scalar"] == 0.25 and type(out["scalar"]) is float
    assert out["int"] == 7 and type(out["int"]) is int
    assert out["bool"] is True
    assert out["tuple"] == [1, [2, 3]]
    assert out["config"]["sizes"] == [4, 3] and out["config"]["lr"] == 0.5
    assert out["3"] == "int key"
    json.dumps(out, allow_nan=False)  # fully JSON-ready


def test_non_finite_floats_become_null():
    out = to_jsonable({"a": float("nan"), "b": np.array([1.0, np.inf, -np.inf]), "c": 2.0})
    assert out == {"a": None, "b": [1.0, None, None], "c": 2.0}


def test_write_json_round_trips_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "sub" / "r.json"
    write_json(path, {"x": np.arange(3), "name": "run"})
    assert read_json(path) == {"x": [0, 1, 2], "name": "run"}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


@pytest.mark.parametrize("fail_at", ["dumps", "replace", "fsync"])
def test_a_failed_write_keeps_the_old_file_and_removes_the_temp_file(
    tmp_path, monkeypatch, fail_at
):
    path = tmp_path / "r.json"
    write_json(path, {"version": 1})
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated crash in {fail_at}")

    target = {"dumps": results.json, "replace": results.os, "fsync": results.os}[fail_at]
    monkeypatch.setattr(target, fail_at, boom)
    with pytest.raises(OSError, match="simulated crash"):
        write_json(path, {"version": 2, "payload": list(range(1000))})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_atomic_write_text_replaces_the_whole_file(tmp_path):
    path = tmp_path / "t.md"
    atomic_write_text(path, "a long first version\n" * 100)
    atomic_write_text(path, "short\n")
    assert path.read_text() == "short\n"


def test_append_jsonl_appends_whole_lines_and_repairs_a_missing_newline(tmp_path):
    path = tmp_path / "r.jsonl"
    assert read_jsonl(path) == []
    append_jsonl(path, [{"i": 0}, {"i": np.int32(1)}])
    append_jsonl(path, [{"i": 2, "loss": float("nan")}])
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2, "loss": None}]
    path.write_text(path.read_text().rstrip("\n"))  # a file written by hand without the "\n"
    append_jsonl(path, [{"i": 3}])
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 2, 3]
    assert path.read_text().count("\n") == 4


def test_provenance_has_config_seeds_versions_device_git_and_time():
    config = TrainConfig(sizes=(784, 10), seed=3)
    p = provenance(config.to_dict(), seeds=[0, 1], note=np.float32(0.5))
    assert p["config"]["sizes"] == [784, 10] and p["config"]["seed"] == 3
    assert p["seeds"] == [0, 1] and p["note"] == 0.5
    assert {"jax", "jaxlib", "optax", "numpy", "python"} <= set(p["versions"])
    assert p["versions"]["jax"] and p["versions"]["python"]
    assert {"backend", "kind", "count", "platform"} <= set(p["device"])
    assert p["device"]["count"] >= 1
    assert "git_commit" in p
    if p["git_commit"] is not None:  # a checkout: 40 hex digits, maybe "-dirty"
        assert len(p["git_commit"].removesuffix("-dirty")) == 40
    assert p["created"].endswith("+00:00")
    json.dumps(p, allow_nan=False)


def test_results_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SOFTJAX_RESULTS_DIR", str(tmp_path))
    assert results_dir() == tmp_path
    monkeypatch.delenv("SOFTJAX_RESULTS_DIR")
    assert results_dir().name == "results"
    # Without the variable: under the current directory, never the install location.
    monkeypatch.chdir(tmp_path)
    assert results_dir() == tmp_path / "results"
    assert results_dir(scratch=True) == tmp_path / "results" / "scratch"


def test_to_jsonable_accepts_plain_dataclass_configs_via_to_dict():
    @dataclasses.dataclass
    class Cfg:
        lr: float

        def to_dict(self):
            return {"lr": self.lr, "inf": math.inf}

    assert to_jsonable(Cfg(0.1)) == {"lr": 0.1, "inf": None}


def test_read_jsonl_drops_a_cut_last_line_and_names_corruption_before_it(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"i": 0}\n{"i": 1}\n{"i": 2, "hist')  # a writer killed mid-line
    with pytest.warns(RuntimeWarning, match=r"r\.jsonl:3: dropped an undecodable last line"):
        assert read_jsonl(path) == [{"i": 0}, {"i": 1}]
    # Appending drops the cut line too, instead of burying it mid-file.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        append_jsonl(path, [{"i": 3}])
        assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 3}]
    path.write_text('{"i": 0}\n{"i": 1, "hist\n{"i": 2}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:2: expected one JSON object per line"):
        read_jsonl(path)
    path.write_text('{"i": 0}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:2: expected a JSON object per line"):
        read_jsonl(path)


def test_remove_stale_temp_files_deletes_only_this_files_temps(tmp_path):
    path = tmp_path / "s.jsonl"
    stale = [tmp_path / ".s.jsonl.abc123.tmp", tmp_path / ".s.jsonl.x.tmp"]
    keep = [tmp_path / ".other.jsonl.abc.tmp", tmp_path / "s.jsonl", tmp_path / ".s.json.a.tmp"]
    for p in stale + keep:
        p.write_text("x")
    assert results.remove_stale_temp_files(path) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(keep)
    # The names match what atomic_write_text really makes.
    assert atomic_write_text(path, "ok\n") == path and not results.temp_files(path)


def test_atomic_save_figure_writes_a_whole_png_or_keeps_the_old_one(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = atomic_save_figure(fig, tmp_path / "f.png", dpi=50)
    before = path.read_bytes()
    assert before.startswith(b"\x89PNG") and [p.name for p in tmp_path.iterdir()] == ["f.png"]

    def killed(self, *args, **kwargs):
        args[0].write(b"\x89PNG half a figure")  # savefig dies mid-write
        raise KeyboardInterrupt("killed while drawing")

    monkeypatch.setattr(type(fig), "savefig", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_save_figure(fig, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["f.png"]
    plt.close(fig)


def test_append_jsonl_appends_without_rewriting_the_old_lines(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, [{"i": 0}])
    inode = path.stat().st_ino

    def no_rewrite(*args, **kwargs):
        raise AssertionError("append_jsonl rewrote the file")

    monkeypatch.setattr(results, "atomic_write_text", no_rewrite)
    monkeypatch.setattr(results.os, "replace", no_rewrite)
    append_jsonl(path, [{"i": 1}])
    assert path.stat().st_ino == inode and [r["i"] for r in read_jsonl(path)] == [0, 1]
