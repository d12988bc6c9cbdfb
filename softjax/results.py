"""Results are data: atomic JSON/JSONL writes that carry their provenance.

Every file under ``results/`` is written by a script through these functions, never by
hand. A write goes to a temporary file in the same folder, is flushed and fsynced, then
``os.replace``-d over the target, so a killed run leaves either the old file or the new
one, never a truncated one. Each JSON document carries ``provenance()``: the config,
seeds, library versions, device and git commit.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import glob
import json
import math
import os
import platform
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_SUBDIR = "results"
"""The results folder's name under the current directory (or ``$SOFTJAX_RESULTS_DIR``)."""

SCRATCH_SUBDIR = "scratch"
"""Under the results folder, where ``--quick`` and other scratch runs write (git-ignored):
committed results come from full runs only."""


def results_dir(scratch: bool = False) -> Path:
    """Where results go: ``$SOFTJAX_RESULTS_DIR`` if set, else ``./results``.

    The default is read from the current directory at each call, never from where the
    package is installed, so a sweep run from a user's project writes into that project
    (and the study CLIs, run from the repo root, into the repo's ``results/``).
    ``scratch=True`` (a ``--quick`` run) gives its ``scratch/`` subfolder, which git
    ignores, so a first try never touches the committed results.
    """
    env = os.environ.get("SOFTJAX_RESULTS_DIR")
    base = Path(env) if env else Path.cwd() / RESULTS_SUBDIR
    return base / SCRATCH_SUBDIR if scratch else base


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


def _atomic_write(path: str | os.PathLike, write) -> Path:
    """Calls ``write(binary_file)`` on a temp file beside ``path``, fsyncs it, then
    ``os.replace``-s it over ``path``; on any failure the temp file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
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


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    return _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_save_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """``fig.savefig`` through a temp file and ``os.replace``: a kill while drawing leaves
    the old figure or none, never a truncated one. The format is ``path``'s suffix."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return _atomic_write(path, lambda f: fig.savefig(f, format=fmt, **savefig_kwargs))


def atomic_save_npz(path: str | os.PathLike, **arrays) -> Path:
    """``np.savez`` of ``arrays`` to ``path``, atomically (stored params beside a JSON)."""
    return _atomic_write(path, lambda f: np.savez(f, **arrays))


def write_json(path: str | os.PathLike, document: Mapping[str, Any]) -> Path:
    """Atomically writes a JSON document (converted with :func:`to_jsonable`)."""
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a JSON results file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads every record of a JSONL file; a missing file has none.

    :func:`append_jsonl` never leaves a partial line, but a file written or copied by
    other means may end in one: a last line that is unterminated or does not decode is
    dropped with a ``RuntimeWarning`` naming the file (its config is simply run again).
    An unterminated last line that decodes to an object is kept: it is whole.

    Raises:
      ValueError: naming ``file:line`` for a line before the last that does not decode,
        or that is not a JSON object (corruption that dropping cannot explain).
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    # The numbered lines that hold something; a terminated file ends in "" after split.
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    records = []
    for n, (lineno, line) in enumerate(numbered):
        last = n == len(numbered) - 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if last:
                warnings.warn(
                    f"{path}:{lineno}: dropped an undecodable last line ({e.msg}); "
                    "a killed writer? its record will be recomputed",
                    RuntimeWarning,
                    stacklevel=2,
                )
                break
            raise ValueError(
                f"{path}:{lineno}: expected one JSON object per line, got undecodable "
                f"text ({e.msg}); the file is corrupt before its last line"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{path}:{lineno}: expected a JSON object per line, got {type(record).__name__}"
            )
        # An unterminated last line that decodes to an object is whole: a JSON object
        # cut anywhere before its closing brace does not decode.
        records.append(record)
    return records


def temp_files(path: str | os.PathLike) -> list[Path]:
    """The temp files :func:`atomic_write_text` makes for ``path`` (``.<name>.*.tmp``)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Deletes ``path``'s leftover temp files (a SIGKILL between write and rename).

    Call it only when no other process is writing ``path``. Returns what it removed.
    """
    removed = []
    for tmp in temp_files(path):
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:
            pass
    return removed


def append_jsonl(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> Path:
    """Appends records to a JSONL file as whole lines, without rewriting it.

    The new lines go out in one ``O_APPEND`` write, then ``fsync``; the lines already
    there are never rewritten, so the cost is O(new lines) and a concurrent reader never
    sees a truncated file. A kill in the middle of the write can leave a cut last line:
    :func:`read_jsonl` drops it, and the next append cuts it off (an unterminated last
    line that decodes to an object only lacks its newline and gets one). Callers that
    share a file between processes serialise appends themselves (a sweep holds its lock).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = "".join(json.dumps(to_jsonable(r), allow_nan=False) + "\n" for r in records)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # Only the unterminated tail is read: from the last newline on.
            tail_start = size
            while tail_start > 0:
                chunk_start = max(0, tail_start - 65536)
                chunk = os.pread(fd, tail_start - chunk_start, chunk_start)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    tail_start = chunk_start + cut + 1
                    break
                tail_start = chunk_start
            tail = os.pread(fd, size - tail_start, tail_start)
            try:
                whole = isinstance(json.loads(tail), dict)
            except (json.JSONDecodeError, UnicodeDecodeError):
                whole = False
            # A whole object only lacks its newline; anything else is what a writer killed
            # mid-line leaves, which read_jsonl drops: drop it here too rather than bury it
            # mid-file, where it would read as corruption.
            if whole:
                new = "\n" + new
            else:
                os.ftruncate(fd, tail_start)
        os.write(fd, new.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def check_name(name, argname: str = "name") -> str:
    """A file stem that stays inside its folder: a non-empty string without a path
    separator, NUL or a leading ``.`` (so not ``..``); checked before anything touches the
    disk, so ``name="../victim"`` can neither read, lock nor write outside the folder.

    Raises:
      ValueError: naming ``argname``.
    """
    bad = not isinstance(name, str) or not name or name.startswith(".")
    if bad or any(c in name for c in ("/", "\\", "\x00", os.sep, os.altsep or "/")):
        raise ValueError(
            f"{argname}: expected a file stem (a plain file name: no path separator, not "
            f"starting with '.'), got {name!r}"
        )
    return name


def check_writable(folder: str | os.PathLike, what: str = "out folder") -> Path:
    """Creates ``folder`` if needed and proves it writable with a probe file.

    Raises:
      PermissionError: naming ``what`` and the folder when it cannot be created or written
        (an existing file, a read-only folder), so that a run finds out before it loads
        data, compiles or trains.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".softjax-write-probe."):
            pass
    except OSError as e:
        raise PermissionError(
            f"{what} {folder}: expected a writable folder, got {type(e).__name__}: "
            f"{e.strerror or e}"
        ) from None
    return folder


class FolderLocked(RuntimeError):
    """Another live process holds this lock (a sweep's name, a checkpoint folder)."""


_HELD: dict[Path, int] = {}  # lock files this process holds, with their depth


@contextlib.contextmanager
def hold_lock(path: str | os.PathLike, busy: str, error=FolderLocked) -> Iterator[bool]:
    """Holds ``fcntl.flock`` on the file ``path`` for the block; re-entrant in one process.

    The one lock rule of softjax (sweeps' ``<name>.lock``, a checkpoint folder's lock): a
    non-blocking exclusive ``flock`` whose file holds the holder's pid. The kernel drops
    the lock when its holder dies, so a lock file left by a killed process is taken over
    at once. ``flock`` needs a local or flock-aware shared file system. Yields whether
    this is the outermost hold in this process (when a holder may clean up).

    Raises:
      error: (a :class:`FolderLocked`) at once, no waiting, when another process holds
        it: ``busy`` followed by the holder's pid and the lock file's name.
    """
    path = Path(path).resolve()
    if path in _HELD:
        _HELD[path] += 1
        try:
            yield False
        finally:
            _HELD[path] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise error(
                f"{busy} (pid {holder} holds {path.name}); wait for it to finish, or use "
                "another folder or name"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[path] = 1
        try:
            yield True
        finally:
            del _HELD[path]
    finally:
        os.close(fd)  # closing the descriptor releases the flock
