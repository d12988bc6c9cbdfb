"""How long ``python -m benchmarks.run --quick`` takes, end to end (issue 35: ≤ 2 minutes
on 2 cores, as the README says; the ``quick_clock`` case of a full run).

The quick run goes in a child process, as a user or CI starts it: imports, data and every
quick case, its output in a temporary folder. Its wall time is the target's figure; its
CPU time is the child's and its own children's (the memory children), from
``getrusage(RUSAGE_CHILDREN)`` before and after.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from softjax.results import read_json

REPO = Path(__file__).resolve().parent.parent


def run_quick_clock(extra_argv: list[str], stem: str) -> dict:
    """Runs ``python -m benchmarks.run --quick --out TMP *extra_argv`` and times it;
    ``stem`` names the JSON it writes there (its ``wall_s`` is the cases' own time)."""
    with tempfile.TemporaryDirectory(prefix="softjax-quick-") as tmp:
        argv = [sys.executable, "-m", "benchmarks.run", "--quick", "--out", tmp, *extra_argv]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            raise RuntimeError(f"the timed --quick run failed: {proc.stderr[-2000:]}")
        inner = read_json(Path(tmp) / f"{stem}.json")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "description": "python -m benchmarks.run --quick, end to end in a child process",
        "wall_s": wall,
        "cpu_s": cpu,
        "cases_wall_s": inner["wall_s"],
        "load": dict(zip(("1min", "5min", "15min"), os.getloadavg(), strict=True)),
    }
