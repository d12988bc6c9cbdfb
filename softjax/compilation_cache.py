"""JAX's persistent compilation cache, on by default for ``train()`` and ``sweep()``.

Every ``train()`` call traces fresh closures, so JAX's in-memory caches never hit across
calls (``sweep()`` keeps its last programs within a process,
:func:`softjax.sweeps.core.shared_program`), and every CLI run is a new process: each
would pay the whole compile again, much of a small sweep's time. JAX's persistent cache
stores compiled executables on disk keyed on the lowered program, the compile options,
the devices and the jax/jaxlib versions, so a later call or process that lowers the same
program loads it instead of compiling (runs that differ only in lr, seeds or init scales
lower to the same program: those are traced arguments).

Where, first match: ``enable_compilation_cache(path)``'s ``path``; ``off`` in
``$SOFTJAX_COMPILATION_CACHE`` (leave JAX's settings alone); a folder already in jax's
config (the user's ``JAX_COMPILATION_CACHE_DIR``, or an earlier call: the first call of a
process decides); the variable's folder; ``~/.cache/softjax/jax_cache``. Move the cache
by setting the variable, delete it by deleting the folder. The cache is trusted code: JAX
runs what it finds there, so do not point it at a folder others can write.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax

ENV_VAR = "SOFTJAX_COMPILATION_CACHE"
DEFAULT_DIR = Path("~/.cache/softjax/jax_cache")
OFF = "off"

MIN_COMPILE_SECONDS = 0.1
"""Programs compiling faster than this are not written. JAX's default (1 s) would skip
a small run's whole program, most of that run's time; below this are the eager ops'
one-op programs, not worth a file each."""


def cache_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The folder :func:`enable_compilation_cache` would use, or None for ``off``."""
    if path is None:
        value = os.environ.get(ENV_VAR, "").strip()
        if value.lower() != OFF and jax.config.jax_compilation_cache_dir:
            return Path(jax.config.jax_compilation_cache_dir)
        value = value or os.fspath(DEFAULT_DIR)
    else:
        value = os.fspath(path)
    if value.strip().lower() == OFF:
        return None
    return Path(value).expanduser().resolve()


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache in a folder; idempotent.

    Sets jax's public options ``jax_compilation_cache_dir``,
    ``jax_persistent_cache_min_compile_time_secs`` (:data:`MIN_COMPILE_SECONDS`) and
    ``jax_persistent_cache_min_entry_size_bytes`` (0). Without ``path`` a folder already
    in jax's config (set by the user, or by an earlier call) is kept as it is, so the
    first call of a process decides; an explicit ``path`` switches to that folder.

    Args:
      path: the cache folder, or ``"off"`` (change nothing); None:
        ``$SOFTJAX_COMPILATION_CACHE`` (``off`` there too), else the folder jax's config
        already has, else ``~/.cache/softjax/jax_cache``.

    Returns:
      The folder in use, or None when softjax leaves the cache alone (``off``).

    Raises:
      ValueError: naming ``path`` when it is not a str or path.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise ValueError(f"path: expected a folder path or 'off', got {path!r}")
    folder = cache_dir(path)
    if folder is None:
        return None
    current = jax.config.jax_compilation_cache_dir
    if current == str(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if current:
        _reopen()
    return folder


_OPTIONS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


def _reopen() -> None:
    # JAX opens its cache once per process, at the first compile that uses it.
    from jax.experimental.compilation_cache import compilation_cache

    compilation_cache.reset_cache()


@contextlib.contextmanager
def compilation_cache_in(
    path: str | os.PathLike, *, min_compile_seconds: float = MIN_COMPILE_SECONDS
) -> Iterator[Path]:
    """JAX's persistent cache in ``path`` for this block only; jax's options as they were
    after it (a test's or a benchmark's own folder, whatever the process had set)."""
    old = {name: getattr(jax.config, name) for name in _OPTIONS}
    try:
        folder = enable_compilation_cache(path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
        yield folder
    finally:
        for name, value in old.items():
            jax.config.update(name, value)
        _reopen()


PROCESS_SUBDIR = "processes"
"""Under the cache folder, where :func:`process_cached` keeps each process's executables."""

_log = logging.getLogger(__name__)


def process_cached(jitted: Callable) -> Callable:
    """``jitted`` (a ``jax.jit`` function) compiled once per argument signature, through a
    store of serialized executables that every process of a multi-process run can use.

    JAX's persistent cache is written by process 0 only, and its keys include the global
    ids of a process's devices, so under ``jax.distributed`` every other process misses it
    and compiles the whole program again on every call. Here each process keeps its own
    entries, keyed on the lowered program's text, its process index, its local devices and
    the jax/jaxlib versions, as ``jax.experimental.serialize_executable`` payloads in
    ``<cache folder>/processes/``. A single-process run, or a cache turned ``off``, is
    plain ``jitted`` (JAX's own cache serves it). A store entry that fails to load is
    recompiled and rewritten, so a stale or truncated file costs a compile, never a wrong
    program. Like JAX's cache, the folder is trusted code.

    Returns:
      A function with ``jitted``'s signature (positional arrays or pytrees).
    """
    compiled: dict[Any, Any] = {}

    def call(*args):
        folder = cache_dir()
        if jax.process_count() == 1 or folder is None:
            return jitted(*args)
        signature = (
            jax.tree.structure(args),
            tuple(
                (getattr(a, "shape", None), str(getattr(a, "dtype", type(a))), _sharding(a))
                for a in jax.tree.leaves(args)
            ),
        )
        if signature not in compiled:
            compiled[signature] = _load_or_compile(jitted.lower(*args), folder / PROCESS_SUBDIR)
        return compiled[signature](*args)

    return call


def _sharding(a) -> str | None:
    sharding = getattr(a, "sharding", None)
    return None if sharding is None else repr(sharding)


def process_entry_key(text: str) -> str:
    """The store key of a lowered program's ``text`` in this process."""
    parts = [
        text,
        f"process {jax.process_index()} of {jax.process_count()}",
        repr([(d.id, d.platform, d.device_kind) for d in jax.local_devices()]),
        jax.__version__,
        _jaxlib_version(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


def _load_or_compile(lowered, folder: Path):
    from jax.experimental import serialize_executable

    path = folder / f"{process_entry_key(lowered.as_text())}.bin"
    if path.exists():
        try:
            payload, in_tree, out_tree = pickle.loads(path.read_bytes())
            executable = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
            _log.info(
                "softjax: process %d loaded its compiled program from %s", jax.process_index(), path
            )
            return executable
        except Exception as err:  # any unreadable entry is recompiled
            _log.warning("softjax: recompiling; could not load %s (%s)", path, err)
    executable = lowered.compile()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(pickle.dumps(serialize_executable.serialize(executable)))
        os.replace(tmp, path)
        _log.info(
            "softjax: process %d stored its compiled program in %s", jax.process_index(), path
        )
    except Exception as err:  # an unwritable store costs a compile
        _log.warning("softjax: could not store the compiled program in %s (%s)", folder, err)
    return executable
