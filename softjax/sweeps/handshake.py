"""What only process 0 of a sweep can know, told to every process.

Process 0 alone holds the sweep's lock, reads its JSONL and writes it; in a
multi-process run the other processes learn what it found (the records already done, the
run id, or the error that refused the lock) through :func:`share_from_first`, so every
process trains the same groups and returns the same records, even when the results
folder is not shared between them.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import jax
import numpy as np

from softjax.results import read_jsonl
from softjax.sweeps.storage import SweepLocked, sweep_lock


def share_from_first(obj):
    """Process 0's ``obj`` (anything ``json`` encodes) on every process.

    One process: ``obj`` itself. Several: a JSON string broadcast as bytes
    (``multihost_utils.broadcast_one_to_all``, a collective every process must reach),
    its length first, since only process 0 knows it.
    """
    if jax.process_count() == 1:
        return obj
    from jax.experimental import multihost_utils

    first = jax.process_index() == 0
    data = np.frombuffer(json.dumps(obj).encode(), np.uint8) if first else None
    size = int(multihost_utils.broadcast_one_to_all(np.int32(len(data) if first else 0)))
    buffer = data if first else np.zeros(size, np.uint8)
    buffer = multihost_utils.broadcast_one_to_all(buffer)
    return json.loads(np.asarray(buffer, np.uint8).tobytes().decode())


def claim(held: contextlib.ExitStack, path: Path | None) -> tuple[dict[str, Any], str]:
    """``(done, run_id)`` on every process: the records already in ``path`` by key and
    this run's id. Process 0 takes the lock of ``path`` (held until ``held`` closes)
    before reading; with ``path`` None nothing is locked or read.

    Raises:
      SweepLocked: on every process when another run holds the lock.
      PermissionError: on every process when the folder is not writable.
    """
    state = {"error": None, "done": {}, "run_id": uuid.uuid4().hex[:12]}
    error = None
    if jax.process_index() == 0 and path is not None:
        try:
            held.enter_context(sweep_lock(path.parent, path.name.removesuffix(".jsonl")))
            state["done"] = {r["key"]: r for r in read_jsonl(path)}
        except (SweepLocked, PermissionError) as e:
            error, state["error"] = e, [type(e).__name__, str(e)]
    state = share_from_first(state)
    if error is not None:
        raise error
    if state["error"] is not None:
        kind, message = state["error"]
        raise (SweepLocked if kind == "SweepLocked" else PermissionError)(
            f"process 0 of {jax.process_count()}: {message}"
        )
    return state["done"], state["run_id"]
