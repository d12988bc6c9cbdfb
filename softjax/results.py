"""Results are data: atomic JSON/JSONL writes that carry their provenance.

Every file under ``results/`` is written by a script through these functions, never by
hand. A write goes to a temporary file in the same folder, is flushed and fsynced, then
``os.replace``-d over the target, so a killed run leaves either the old file or the new
one, never a truncated one. Each JSON document carries ``provenance()``: the config,
seeds, library versions, device and git commit.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def results_dir() -> Path:
    """Where results go: ``$SOFTJAX_RESULTS_DIR`` if set, else the repo's ``results/``."""
    return Path(os.environ.get("SOFTJAX_RESULTS_DIR", RESULTS_DIR))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        commit = out.stdout.strip()
        if not commit:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing package simply has no version
        return None


def provenance(config: Mapping[str, Any] | None = None, **extra) -> dict[str, Any]:
    """Where a result came from: config, versions, device, git commit and time.

    Args:
      config: the run's config (seeds included), stored as given.
      **extra: anything else worth keeping (e.g. ``seeds=[...]``, ``argv=...``).
    """
    import jax

    devices = jax.devices()
    return {
        "config": to_jsonable(config) if config is not None else None,
        **{k: to_jsonable(v) for k, v in extra.items()},
        "versions": {
            name: _version(name)
            for name in ("softjax", "jax", "jaxlib", "optax", "numpy", "tensorflow-datasets")
        }
        | {"python": platform.python_version()},
        "device": {
            "backend": jax.default_backend(),
            "kind": devices[0].device_kind,
            "count": len(devices),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "git_commit": _git_commit(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def to_jsonable(x):
    """Converts numpy/JAX arrays and scalars, tuples and dataclasses to JSON types.

    Non-finite floats become ``None`` (JSON has no NaN).
    """
    if hasattr(x, "to_dict"):
        x = x.to_dict()
    if isinstance(x, Mapping):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [to_jsonable(v) for v in x]
    if hasattr(x, "__array__") and not isinstance(x, str | bytes):
        arr = np.asarray(x)
        if arr.ndim == 0:
            return to_jsonable(arr.item())
        return [to_jsonable(v) for v in arr.tolist()]
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, np.generic):
        return to_jsonable(x.item())
    return x


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; results are ordinary files, so honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, document: Mapping[str, Any]) -> Path:
    """Atomically writes a JSON document (converted with :func:`to_jsonable`)."""
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a JSON results file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads every record of a JSONL file; a missing file has none."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def append_jsonl(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> Path:
    """Appends records to a JSONL file by rewriting it atomically.

    Rewriting costs O(file) per call, which is small next to a training run, and means
    a kill at any moment leaves a complete file of whole lines.
    """
    old = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    new = "".join(json.dumps(to_jsonable(r), allow_nan=False) + "\n" for r in records)
    return atomic_write_text(path, old + new)
