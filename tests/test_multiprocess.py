"""One sweep run by several real processes on JAX's multi-controller runtime.

Each process is a plain ``python`` started here with ``subprocess``: it calls
``jax.distributed.initialize`` (coordinator on 127.0.0.1, gloo CPU collectives), sees one
CPU device of its own and the others' devices in ``jax.devices()``, and calls the same
``sweep()``. The models split between the processes, process 0 alone writes the file, and
the records equal a one-process run's to the float32 tolerance of
:mod:`softjax.sweeps.grid` (1e-5 relative; keys, flags and epoch counts exactly).

That tolerance holds only for configs whose training does not amplify float rounding:
each device's narrower matmul rounds differently, and a model at the edge of stability
grows that ~1e-7 into O(1). Measured (``benchmarks/README.md``, "Sharded BCE at lr 1"):
BCE on the softmax at lr 1 on MNIST differs between 1 and 2 devices by 1e-7 after one
step and by up to 25% in its params after 32, and so does a one-device run whose lr is
1 ulp larger (test loss 2.184 against 1.137); in float64 the 1- and 2-device runs are
bitwise equal. Such configs can be compared only after a step or in float64. This
grid's are not among them: :func:`test_this_grid_is_not_sensitive_to_one_ulp` measures
that they stay within the tolerance when the lr moves by 1 ulp.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.results import read_jsonl
from softjax.sweeps import sweep

REPO_ROOT = Path(__file__).resolve().parents[1]
BASE = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2)
# 2 losses × 2 lrs × 2 init scales × 2 seeds: 8 models per loss, split 4/4 or 2/2/2/2.
# lr 200 makes square loss diverge: the flags must survive the split.
GRID = dict(losses=["cce", "square"], lrs=[0.3, 200.0], init_scales=[1.0, 2.0], seeds=[0, 1])
RTOL, ATOL = 1e-5, 1e-6
"""The sharded records' tolerance against one process's, for configs that pass
:func:`test_this_grid_is_not_sensitive_to_one_ulp` (the module doc)."""

WORKER = textwrap.dedent(
    """
    import json, logging, sys
    import jax

    logging.basicConfig()
    logging.getLogger("softjax.compilation_cache").setLevel(logging.INFO)

    port, n, i, out, grid = sys.argv[1:6]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=int(n), process_id=int(i),
        initialization_timeout=60,
    )
    from softjax.data import make_gaussian_classes
    from softjax.sweeps import sweep
    from softjax.config import TrainConfig

    assert jax.process_count() == int(n) and len(jax.local_devices()) == 1
    assert len(jax.devices()) == int(n)
    import numpy as np
    from jax.sharding import Mesh
    from softjax.sweeps.core import default_mesh, device_order, local_slots

    # each process trains its own device's share, the shares in process order
    assert local_slots(default_mesh()) == ((jax.process_index(), jax.local_devices()[0]),)
    assert device_order(Mesh(np.array(jax.devices()[::-1]), ("configs",))) == jax.devices()
    try:  # the last process holds none of this mesh's devices
        sweep(TrainConfig(sizes=(5, 3)), None, losses=["cce"], lrs=[0.1],
              mesh=Mesh(np.array(jax.devices()[:-1]), ("configs",)))
    except ValueError as e:
        assert str(e).startswith("mesh: expected every process to hold the same number"), e
    else:
        raise AssertionError("a mesh the processes hold unequally was not refused")
    data = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    base = TrainConfig(sizes=(5, 3), batch_size=16, epochs=2)
    records = sweep(base, data, **json.loads(grid), name="mp", out_dir=out, progress=False)
    for r in records:
        r.pop("group_seconds", None)
    print("RECORDS", json.dumps(records))
    """
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(n: int, out: Path, grid: dict, timeout: float = 240) -> list[tuple[int, str, str]]:
    """Starts ``n`` workers on one free loopback port; each one's (exit code, out, err)."""
    port = _free_port()
    # One CPU device per process, whatever the caller's XLA_FLAGS say.
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}
    # JAX's compile cache in the test's folder, never the user's home.
    env["SOFTJAX_COMPILATION_CACHE"] = str(out.parent / "jax_cache")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(port), str(n), str(i), str(out), json.dumps(grid)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + timeout
    results = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


def run_processes(n: int, out: Path, grid: dict) -> list[list[dict]]:
    """Each process's returned records; fails showing the stderr of a failed process."""
    outputs = []
    for i, (code, stdout, stderr) in enumerate(launch(n, out, grid)):
        assert code == 0, f"process {i}: {stderr[-3000:]}"
        outputs.append(json.loads(stdout.split("RECORDS", 1)[1]))
    return outputs


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same grid swept by this one process (one device: the plain jit), as written."""
    assert jax.process_count() == 1 and jax.device_count() == 1
    out = tmp_path_factory.mktemp("single")
    data = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    with pytest.warns(RuntimeWarning, match="4 of 16 configs diverged"):
        sweep(BASE, data, **GRID, name="mp", out_dir=out, progress=False)
    return read_jsonl(out / "mp.jsonl")


def _assert_same_records(written, single):
    assert [r["key"] for r in written] == [r["key"] for r in single]
    assert [r["diverged"] for r in written] == [r["diverged"] for r in single]
    assert [r["diverged_epoch"] for r in written] == [r["diverged_epoch"] for r in single]
    assert sum(r["diverged"] for r in single) == 4  # square at lr 200: 2 scales × 2 seeds
    for a, b in zip(written, single, strict=True):
        assert a["config"] == b["config"] and a["data"] == b["data"]
        assert set(a["history"]) == set(b["history"])
        for k, y in b["history"].items():
            x, y = np.asarray(a["history"][k], float), np.asarray(y, float)
            assert x.shape == y.shape, k
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL, err_msg=f"{a['key']} {k}")


@pytest.mark.slow  # a second sweep in this process
def test_this_grid_is_not_sensitive_to_one_ulp(single, tmp_path):
    """The grid's records stay within the sharded runs' tolerance when every lr moves by
    1 ulp (float32; measured: ≤ 7e-6 relative, square loss at lr 0.3 the most), so that
    tolerance bounds rounding, not chaos. BCE at lr 1 on MNIST fails this (the module
    doc): its test loss moves by half."""
    data = make_gaussian_classes(jax.random.PRNGKey(7), n=90, dim=5, num_classes=3)
    up = [float(np.nextafter(np.float32(lr), np.float32(np.inf))) for lr in GRID["lrs"]]
    with pytest.warns(RuntimeWarning, match="4 of 16 configs diverged"):
        moved = sweep(BASE, data, **{**GRID, "lrs": up}, progress=False)
    assert [r["diverged"] for r in moved] == [r["diverged"] for r in single]
    for a, b in zip(moved, single, strict=True):
        for k, y in b["history"].items():
            x, y = np.asarray(a["history"][k], float), np.asarray(y, float)
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL, err_msg=f"{b['key']} {k}")


def _check(n: int, tmp_path: Path, single: list[dict]) -> None:
    out = tmp_path / "shared"
    returned = run_processes(n, out, GRID)
    written = read_jsonl(out / "mp.jsonl")
    # Process 0 alone wrote: each config once, one provenance entry naming n processes.
    assert len(written) == len(single) == 16 and len({r["key"] for r in written}) == 16
    (run,) = json.loads((out / "mp.meta.json").read_text())["runs"]
    assert run["processes"] == n and run["mesh_devices"] == n
    assert {r["run_id"] for r in written} == {run["run_id"]}
    _assert_same_records(written, single)
    # Every process returns every record, the ones process 0 wrote.
    for records in returned:
        assert records == [{k: v for k, v in r.items() if k != "group_seconds"} for r in written]

    # A rerun resumes: process 0 finds every key, the others are told, nothing is trained
    # or appended, and every process still returns all records.
    before = (out / "mp.jsonl").read_bytes()
    again = run_processes(n, out, GRID)
    assert (out / "mp.jsonl").read_bytes() == before
    assert len(json.loads((out / "mp.meta.json").read_text())["runs"]) == 1
    for records in again:
        assert [r["key"] for r in records] == [r["key"] for r in written]


@pytest.mark.slow  # separate processes or a full end-to-end run
def test_two_processes_run_one_sweep_and_write_one_file_equal_to_one_process(tmp_path, single):
    _check(2, tmp_path, single)


@pytest.mark.slow  # ~45 s on a loaded 2-core machine: four JAX processes on two cores
def test_four_processes_run_one_sweep_and_write_one_file_equal_to_one_process(tmp_path, single):
    _check(4, tmp_path, single)


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_locked_sweep_fails_on_every_process(tmp_path):
    """Process 0 cannot take the lock: every process raises, none hangs in a collective."""
    from softjax.sweeps import sweep_lock

    with sweep_lock(tmp_path, "mp"):
        results = launch(2, tmp_path, {**GRID, "losses": ["cce"]}, timeout=120)
    (code0, _, err0), (code1, _, err1) = results
    assert code0 != 0 and code1 != 0
    assert "SweepLocked" in err0 and "already running" in err0
    assert "SweepLocked: process 0 of 2" in err1 and "already running" in err1
    assert not (tmp_path / "mp.jsonl").exists()


@pytest.mark.slow  # separate processes, twice
def test_every_process_reuses_its_compiled_program_in_a_later_run(tmp_path):
    """JAX's persistent cache serves process 0 only; softjax's store serves the others."""
    grid = {**GRID, "losses": ["cce"]}
    stderr = {}
    for attempt in ("first", "second"):  # two folders: no resume, the same compile cache
        results = launch(2, tmp_path / attempt, grid)
        assert [code for code, _, _ in results] == [0, 0], results[1][2][-3000:]
        stderr[attempt] = results[1][2]
    assert "process 1 stored its compiled program" in stderr["first"]
    assert "process 1 loaded its compiled program" in stderr["second"]
    assert "process 1 stored" not in stderr["second"]
    assert list((tmp_path / "jax_cache" / "processes").glob("*.bin"))
