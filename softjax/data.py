"""Datasets for the notes: MNIST and Fashion-MNIST, plus small synthetic sets.

Every loader returns a `Dataset`, a NamedTuple (hence a JAX pytree) of four numpy
arrays: float32 features and int32 labels for a train and a test split.

Real data comes from two interchangeable sources, both offline-capable:

* ``source="tfds"`` (default, the project's chosen loader) prepares the dataset with
  tensorflow-datasets from the raw ``.gz`` files under ``SOFTJAX_DATA_DIR`` (or
  downloads them when online) and caches the prepared copy, so later loads skip
  preparation. Preparation holds a per-dataset lock file in the cache, so concurrent
  processes take turns, and every load checks the prepared copy against known split
  sizes and content hashes, so a stale cache fails loudly instead of passing.
* ``source="idx"`` reads the same raw files with numpy alone, in about 0.3 s, and
  never imports TensorFlow.

Both validate the raw files (size, sha256, IDX header) and return identical arrays.
TensorFlow is imported lazily, only on the tfds path: ``import softjax.data`` stays
TF-free.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import sys
import threading
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

try:  # POSIX only; without it (Windows) preparations are not locked, see _cache_lock
    import fcntl
except ImportError:
    fcntl = None

import jax
import jax.numpy as jnp
import numpy as np

from softjax._checks import is_int

DATASET_NAMES = ("mnist", "fashion_mnist")
SOURCES = ("tfds", "idx")
ORDERS = ("tfds", "file")

DATA_DIR_ENV = "SOFTJAX_DATA_DIR"
TFDS_DIR_ENV = "SOFTJAX_TFDS_DIR"
DEFAULT_TFDS_DIR = Path("~/.cache/softjax/tensorflow_datasets")

IMAGE_SHAPE = (28, 28)
NUM_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]

# How long the no-data-no-network case may wait before giving a clear error.
CONNECT_TIMEOUT_S = 2.0
# Retries per tfds download (tfds's own default is 10, with exponential backoff: a
# dead network then fails only after ~208 s). 3 still ride out a brief glitch, and
# give up after ~1.2 s of backoff.
TFDS_DOWNLOAD_RETRIES = 3


class Dataset(NamedTuple):
    """A train/test split of features and labels; a pytree of arrays only.

    Attributes:
        x_train: float32 features, (N, D); images are (N, 784) in [0, 1], or
            (N, 28, 28, 1) when loaded with ``flatten=False``.
        y_train: int32 class labels, (N,).
        x_test: float32 features of the test split, same layout as ``x_train``.
        y_test: int32 class labels of the test split.
        x_val: features of the validation split (held out of the training set), or
            None when there is none.
        y_val: its labels, or None.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


DEFAULT_VALIDATION = 5000
"""Training images that ``load_dataset`` holds out for validation by default: the LAST
5,000 of the training split in the loaded order (tfds's, unless ``order="file"``), so
the split is fixed and the remaining 55,000 train. Pass ``validation=0`` for all 60,000
(what the lecture notes train on)."""


def hold_out(data: Dataset, validation: int) -> Dataset:
    """The last ``validation`` training rows moved into ``x_val``/``y_val``.

    Raises:
      ValueError: naming ``validation`` unless it is an int in [0, N_train − 1].
    """
    n = len(data.x_train)
    if not is_int(validation) or not 0 <= validation < n:
        raise ValueError(
            f"validation: expected an int in [0, {n - 1}] (rows held out of the {n} training "
            f"rows), got {validation!r}"
        )
    if validation == 0:
        return data._replace(x_val=None, y_val=None)
    cut = n - validation
    return data._replace(
        x_train=data.x_train[:cut],
        y_train=data.y_train[:cut],
        x_val=data.x_train[cut:],
        y_val=data.y_train[cut:],
    )


# --------------------------------------------------------------------------------------
# Raw files: names, sizes and checksums
# --------------------------------------------------------------------------------------


class _RawFile(NamedTuple):
    size: int  # bytes of the .gz file
    sha256: str  # of the .gz file, equal to tfds's registered checksum


# Taken from the SHA256SUMS files shipped next to the data and from `stat`; they equal
# the checksums tfds registers for these URLs.
_RAW_FILES: dict[str, dict[str, _RawFile]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": _RawFile(
            9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": _RawFile(
            28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": _RawFile(
            1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": _RawFile(
            4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": _RawFile(
            26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": _RawFile(
            29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": _RawFile(
            4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": _RawFile(
            5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
}

# split -> (file prefix, number of examples)
_SPLITS = {"train": ("train", 60_000), "test": ("t10k", 10_000)}

# IDX magic number: two zero bytes, the element type (0x08 = uint8), the number of dims.
_IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}
# Compressed bytes read for the header check: ample for the gzip header, the deflate
# tables and the few bytes that inflate to the IDX magic number.
_HEADER_PREFIX_BYTES = 4096

# Where tfds downloads each dataset from (scheme and host of its registered URLs);
# probed, or the proxy for that scheme, before an online preparation.
_DOWNLOAD_URLS = {
    "mnist": "https://storage.googleapis.com",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
}
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks4": 1080, "socks5": 1080, "socks5h": 1080}

# sha256 of each split as tfds stores it (uint8 images, then labels as little-endian
# int64, in tfds's order; see _split_sha256), computed from the raw files above via
# the idx reader. A prepared copy is checked against them on every load, so a stale or
# wrongly prepared cache cannot pass for the real data.
_PREPARED_SHA256 = {
    "mnist": {
        "train": "fcbef7f0a39631249afe3af3b0a2df41c01592579450834cf6eb8d67655804fd",
        "test": "29bf46f62b56c145189735d86a64898e1dd066fcd59db368c0a0cbf4660114c2",
    },
    "fashion_mnist": {
        "train": "8bfde16b7397cae90aef4dc90bde627338bae607b481d377084c799d1a312817",
        "test": "0eb01c98b3af234f61cafe3dd2febcf34f6df075d874863a5920428590b27216",
    },
}


def _raw_file_name(split: str, kind: str) -> str:
    """File name of one raw file, e.g. ``t10k-labels-idx1-ubyte.gz``."""
    prefix, _ = _SPLITS[split]
    ndim = 3 if kind == "images" else 1
    return f"{prefix}-{kind}-idx{ndim}-ubyte.gz"


def _expected_shape(split: str, kind: str) -> tuple[int, ...]:
    """IDX dims of one raw file: (N, 28, 28) for images, (N,) for labels."""
    _, num_examples = _SPLITS[split]
    return (num_examples, *IMAGE_SHAPE) if kind == "images" else (num_examples,)


def _no_data_error(name: str, detail: str) -> FileNotFoundError:
    """The error for "no raw files and no way to get them", with the fix."""
    return FileNotFoundError(
        f"No data for {name!r}: {detail}. Set {DATA_DIR_ENV} (or pass data_dir=) to a "
        f"folder holding {name}/ with the four raw .gz files "
        f"({', '.join(_RAW_FILES[name])}), or go online."
    )


# --------------------------------------------------------------------------------------
# Argument checks and directory resolution
# --------------------------------------------------------------------------------------


def _check_choice(value: str, choices: tuple[str, ...], argument: str) -> None:
    """Raises ValueError naming the argument and listing the valid values."""
    if value not in choices:
        raise ValueError(f"Unknown {argument} {value!r}; valid values are {', '.join(choices)}.")


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The raw-data folder: the argument, else $SOFTJAX_DATA_DIR, else None."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return None if chosen is None else Path(chosen).expanduser()


def _resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """The tfds data dir: the argument, else $SOFTJAX_TFDS_DIR, else the default."""
    chosen = cache_dir if cache_dir is not None else os.environ.get(TFDS_DIR_ENV) or None
    return Path(chosen if chosen is not None else DEFAULT_TFDS_DIR).expanduser()


# --------------------------------------------------------------------------------------
# Raw-file validation (shared by both sources) and the numpy IDX reader
# --------------------------------------------------------------------------------------


def _check_idx_header(path: Path, kind: str) -> None:
    """Rejects a file that is not a gzip-compressed IDX file of the right kind.

    Only the file's first bytes are inflated, so this is cheap and blind to damage
    further in, which the size and sha256 checks catch. It runs first so that, say, a
    saved HTML error page gets a message that says what is wrong with it.
    """
    with path.open("rb") as stream:
        prefix = stream.read(_HEADER_PREFIX_BYTES)
    try:
        head = zlib.decompressobj(wbits=31).decompress(prefix, 4)  # 31: gzip framing
    except zlib.error as err:
        raise ValueError(f"{path} is not a gzip-compressed IDX file ({err}).") from err
    magic = int.from_bytes(head, "big") if len(head) == 4 else None
    if magic != _IDX_MAGIC[kind]:
        shown = "missing" if magic is None else f"0x{magic:08x}"
        raise ValueError(
            f"{path} is not an IDX {kind} file: magic number {shown}, "
            f"expected 0x{_IDX_MAGIC[kind]:08x}."
        )


def _check_size(path: Path, expected: _RawFile) -> None:
    """Rejects a truncated or padded file by its size, without reading it."""
    size = path.stat().st_size
    if size != expected.size:
        raise ValueError(
            f"{path} has {size} bytes, expected {expected.size}: the file is truncated or "
            "corrupt. Replace it with a fresh copy."
        )


def _check_sha256(path: Path, data: bytes, expected: _RawFile) -> None:
    """Rejects a file whose content differs from the known release."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected.sha256:
        raise ValueError(
            f"{path} has sha256 {digest}, expected {expected.sha256}: the file is corrupt. "
            "Replace it with a fresh copy."
        )


def _find_raw_files(data_dir: Path, name: str) -> Path:
    """Returns ``<data_dir>/<name>`` after checking that its four files look right.

    Checks existence, IDX header and size, all cheap. The sha256 is left to the reader
    (idx path) or to tfds (tfds path), which read the files anyway.

    Raises:
        FileNotFoundError: the folder or one of the files is missing.
        ValueError: a file is not gzip/IDX or has the wrong size.
    """
    raw_dir = data_dir / name
    if not raw_dir.is_dir():
        raise FileNotFoundError(
            f"No folder {raw_dir}: {data_dir} must hold {name}/ with the raw files "
            f"{', '.join(_RAW_FILES[name])}."
        )
    for split in _SPLITS:
        for kind in _IDX_MAGIC:
            file_name = _raw_file_name(split, kind)
            path = raw_dir / file_name
            if not path.is_file():
                raise FileNotFoundError(f"Missing raw file {path} for {name!r}.")
            _check_idx_header(path, kind)
            _check_size(path, _RAW_FILES[name][file_name])
    return raw_dir


def _parse_idx(data: bytes, expected_shape: tuple[int, ...], origin: str) -> np.ndarray:
    """Decodes an uncompressed uint8 IDX blob into an array, checking magic and dims.

    Args:
        data: the decompressed file content.
        expected_shape: dims the header must declare, e.g. (60000, 28, 28).
        origin: where the bytes came from, for error messages.

    Returns:
        A read-only uint8 array of ``expected_shape`` viewing ``data``.
    """
    ndim = len(expected_shape)
    header_size = 4 + 4 * ndim
    expected_magic = 0x00000800 + ndim
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic != expected_magic:
        raise ValueError(f"{origin} is not a {ndim}-D uint8 IDX file (magic {magic}).")
    if len(data) < header_size:
        raise ValueError(f"{origin} ends inside its IDX header.")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    if dims != expected_shape:
        raise ValueError(f"{origin} has IDX dims {dims}, expected {expected_shape}.")
    payload_size = len(data) - header_size
    if payload_size != int(np.prod(dims)):
        raise ValueError(
            f"{origin} holds {payload_size} data bytes, its header promises {np.prod(dims)}."
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(dims)


def _read_raw_file(raw_dir: Path, name: str, split: str, kind: str) -> np.ndarray:
    """Reads one validated raw file into a uint8 array (images or labels)."""
    file_name = _raw_file_name(split, kind)
    path = raw_dir / file_name
    compressed = path.read_bytes()
    _check_sha256(path, compressed, _RAW_FILES[name][file_name])
    # zlib with gzip framing (wbits=31) skips gzip.decompress's pure-Python member loop.
    data = zlib.decompress(compressed, wbits=31)
    return _parse_idx(data, _expected_shape(split, kind), str(path))


@functools.cache
def _tfds_order(split: str, num_examples: int) -> np.ndarray:
    """The permutation tfds applies when it writes a split of MNIST-like data.

    tfds keys example i by ``i`` and stores examples sorted by the 128-bit
    md5(split name + str(i)) (tensorflow_datasets/core/hashing.py); tfds commits to
    this hash, since changing it would reorder every dataset. Applying the same order
    to the raw files makes the idx source a drop-in replacement for the tfds one:
    identical arrays, not just the same examples. The tests check this against tfds.
    Cached (read-only) because MNIST and Fashion-MNIST share it.
    """
    salted = hashlib.md5(split.encode())

    def key_digest(index: int) -> bytes:
        digest = salted.copy()
        digest.update(b"%d" % index)
        return digest.digest()

    # Each 16-byte digest as two big-endian uint64 words: (high, low) order is the
    # numeric order of the 128-bit hash.
    words = np.frombuffer(b"".join(map(key_digest, range(num_examples))), ">u8")
    words = words.reshape(num_examples, 2)
    order = np.lexsort((words[:, 1], words[:, 0]))
    order.setflags(write=False)
    return order


def _load_idx_split(raw_dir: Path, name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of one split, in the raw files' order."""
    images = _read_raw_file(raw_dir, name, split, "images")
    labels = _read_raw_file(raw_dir, name, split, "labels")
    return images, labels


def _reorder(
    splits: dict[str, tuple[np.ndarray, np.ndarray]], source: str, order: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Puts each split into the requested example order from its source's own order."""
    if (source, order) in (("idx", "file"), ("tfds", "tfds")):
        return splits
    reordered = {}
    for split, (images, labels) in splits.items():
        perm = _tfds_order(split, len(labels))
        if order == "file":  # tfds stored example perm[i] at i: undo it
            perm = np.argsort(perm)
        reordered[split] = (images[perm], labels[perm])
    return reordered


# --------------------------------------------------------------------------------------
# The tfds path
# --------------------------------------------------------------------------------------


def _tfds_missing_error(err: ImportError) -> ImportError:
    """The error for source="tfds" without tensorflow-datasets, with both fixes."""
    return ImportError(
        f'source="tfds" (the default) needs tensorflow-datasets and TensorFlow ({err}): '
        "install softjax[experiments] or pass source='idx' with data_dir= (or "
        f"{DATA_DIR_ENV}) pointing at the raw files."
    )


def _check_tfds_installed() -> None:
    """Raises the install hint at once, before the connectivity probe spends 2 s.

    find_spec only locates the packages, without importing TensorFlow (seconds).
    """
    for module in ("tensorflow_datasets", "tensorflow"):
        if importlib.util.find_spec(module) is None:
            raise _tfds_missing_error(ModuleNotFoundError(f"No module named {module!r}"))


def _import_tfds() -> Any:
    """Imports tensorflow_datasets quietly, keeping TensorFlow off the GPU."""
    # Must be set before TensorFlow loads; setdefault keeps a user's own choice.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError as err:  # a bare ModuleNotFoundError would not say what to do
        raise _tfds_missing_error(err) from err

    # TF only decodes images here; left alone it would reserve most of the GPU
    # memory JAX needs. This fails harmlessly if TF already initialised its devices.
    with contextlib.suppress(RuntimeError, ValueError):
        tf.config.set_visible_devices([], "GPU")
    return tfds


def _can_reach(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to host:port opens within about ``timeout_s``.

    The socket timeout does not cover the DNS lookup, which can hang for long on a
    half-configured network, so the probe runs in a daemon thread that we stop
    waiting for after ``timeout_s``.
    """
    reachable: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                reachable.append(True)
        except OSError:
            reachable.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(reachable) and reachable[0]


def _first_hop(url: str) -> tuple[str, int, str]:
    """(host, port, description) of the first connection a download of ``url`` opens.

    tfds downloads with requests, which goes through the proxy named by
    HTTPS_PROXY/HTTP_PROXY/ALL_PROXY (any case) unless NO_PROXY exempts the host.
    Behind a proxy the data host itself is often unreachable directly, so probing it
    would wrongly report "offline": probe the proxy instead. urllib reads the same
    variables as requests does.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return host, port, host
    proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    try:
        proxy_port = proxy_parts.port or _DEFAULT_PORTS.get(proxy_parts.scheme, 80)
    except ValueError:  # a malformed port: let requests report it
        proxy_port = None
    if not proxy_parts.hostname or proxy_port is None:
        return host, port, host
    return proxy_parts.hostname, proxy_port, f"proxy {proxy_parts.hostname}:{proxy_port}"


def _has_prepared_copy(cache_dir: Path, name: str) -> bool:
    """Cheap, TF-free guess whether tfds prepared ``name`` in ``cache_dir`` before.

    tfds writes ``<cache_dir>/<name>/<version>/dataset_info.json`` last; without it
    there is certainly no prepared copy, which is all the fast offline error needs.
    Versions start with a digit, which skips tfds's ``incomplete.*`` folders.
    """
    return any((cache_dir / name).glob("[0-9]*/dataset_info.json"))


def _extract_dir(cache_dir: Path, name: str) -> Path:
    """Per-dataset extraction folder.

    REQUIRED: tfds names extracted files after the bare file name, which MNIST and
    Fashion-MNIST share, so a shared folder makes fashion_mnist silently reuse the
    MNIST digits.
    """
    return cache_dir / "downloads" / f"extracted_{name}"


def _remove_dir(path: Path) -> None:
    """Deletes a folder tree if present."""
    shutil.rmtree(path, ignore_errors=True)


def _remove_path(path: Path) -> None:
    """Deletes a file, link or folder tree if present."""
    if path.is_dir() and not path.is_symlink():
        _remove_dir(path)
    else:
        path.unlink(missing_ok=True)


def _remove_if_empty(path: Path) -> None:
    """Deletes an empty folder; leaves a non-empty or missing one alone."""
    with contextlib.suppress(OSError):
        path.rmdir()


def _lock_owner(path: Path) -> str:
    """Who holds a lock file, for the waiting message: the pid written in it."""
    with contextlib.suppress(OSError, ValueError):
        return f"process {int(path.read_text())}"
    return "another process"


def _locks_path(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (not unlinked)."""
    try:
        on_disk, opened = path.stat(), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


@contextlib.contextmanager
def _cache_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """Holds ``<cache_dir>/<name>.lock`` while this process checks and prepares ``name``.

    Two processes preparing one dataset in one cache break each other: each one's
    failure cleanup deletes the other's tfds folders. With this lock only one
    prepares; the other waits, says so on stderr, then finds the dataset prepared.

    The lock file holds the owner's pid and is deleted on release, so no litter stays
    in the cache. That is safe because the owner unlinks it before unlocking, and a
    waiter that then gets the lock on the unlinked file sees that it no longer is the
    file at the path and starts over. Where flock is missing (Windows) nothing is
    locked, as before. flock is advisory: plain tfds runs are not kept out.
    """
    if fcntl is None:
        yield
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(
                    f"softjax.data: waiting for {_lock_owner(path)} to finish preparing "
                    f"{name} in {cache_dir} (lock file {path})...",
                    file=sys.stderr,
                    flush=True,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        if _locks_path(fd, path):
            break
        os.close(fd)  # the previous owner deleted this file: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: see the docstring
        os.close(fd)


def _remove_stale_leftovers(cache_dir: Path, name: str, version_dir: Path) -> None:
    """Deletes what an interrupted preparation of ``name`` left. Call under the lock.

    Only the lock holder prepares ``name``, so anything tfds writes while preparing
    that is there before we start is debris from a killed run: ``incomplete.*``
    folders (tfds removes its own on a Python error, not on SIGKILL), a version folder
    tfds does not call prepared (tfds would "reuse" it and then fail to read it), the
    extraction folder and half-downloaded ``*.tmp.*`` folders.
    """
    stale = [
        *version_dir.parent.glob("incomplete.*"),
        *(cache_dir / "downloads" / name).glob("*.tmp.*"),
        *(path for path in (version_dir, _extract_dir(cache_dir, name)) if path.exists()),
    ]
    for path in stale:
        _remove_path(path)
    # Folders the debris alone kept alive; tfds recreates them as needed.
    _remove_if_empty(version_dir.parent)
    _remove_if_empty(cache_dir / "downloads" / name)
    if stale:
        print(
            f"softjax.data: removed leftovers of an interrupted {name} preparation: "
            + ", ".join(map(str, stale)),
            file=sys.stderr,
            flush=True,
        )


def _tfds_paths(cache_dir: Path, name: str) -> set[Path]:
    """What tfds has written for ``name`` in ``cache_dir``, listed one level deep.

    The folders a preparation of ``name`` writes into (the dataset folder with its
    version and ``incomplete.*`` folders, its download folder with downloads and
    ``*.tmp.*`` folders, its extraction folder) and their entries. Other datasets'
    entries in the shared ``downloads/`` are left out: another process may be
    preparing one of them right now.
    """
    downloads = cache_dir / "downloads"
    folders = (cache_dir / name, downloads / name, _extract_dir(cache_dir, name))
    listed = {path for path in (downloads, *folders) if path.exists()}
    for folder in folders:
        if folder.is_dir():
            listed.update(folder.iterdir())
    return listed


def _remove_created(cache_dir: Path, name: str, before: set[Path]) -> None:
    """Deletes what tfds created for ``name`` since ``before`` was listed, and no more.

    Entries go first, deepest first; the folders they sat in go only if that left them
    empty, since ``downloads/`` is shared with the other dataset.
    """
    downloads = cache_dir / "downloads"
    folders = {downloads, cache_dir / name, downloads / name, _extract_dir(cache_dir, name)}
    created = _tfds_paths(cache_dir, name) - before
    for path in sorted(created, key=lambda path: len(path.parts), reverse=True):
        if path in folders:
            _remove_if_empty(path)
        else:
            _remove_path(path)


@contextlib.contextmanager
def _download_retries(retries: int) -> Iterator[None]:
    """Caps tfds's download retries while preparing.

    tfds retries each download MAX_RETRIES = 10 times with exponential backoff
    (tensorflow_datasets/core/download/downloader.py): with DNS down, a download
    failed only after ~208 s. DownloadConfig has no knob for it; the module global is
    read per download, so it is set here and restored after. If a tfds release drops
    the global, its own default applies.
    """
    try:
        from tensorflow_datasets.core.download import downloader
    except ImportError:
        downloader = None
    if downloader is None or not hasattr(downloader, "MAX_RETRIES"):
        yield
        return
    saved = downloader.MAX_RETRIES
    downloader.MAX_RETRIES = retries
    try:
        yield
    finally:
        downloader.MAX_RETRIES = saved


def _prepare_with_tfds(tfds: Any, builder: Any, raw_dir: Path | None, cache_dir: Path) -> None:
    """Runs ``builder.download_and_prepare``, offline from ``raw_dir`` when given.

    Call under `_cache_lock`. On failure everything this preparation created is
    removed before a clear error is raised. On success the extracted copies are
    removed too: the prepared records are the cache, and the extracted files would only
    duplicate ~100 MB.
    """
    name = builder.name
    extract_dir = _extract_dir(cache_dir, name)
    _remove_stale_leftovers(cache_dir, name, Path(builder.data_path))
    before = _tfds_paths(cache_dir, name)
    if raw_dir is None:
        config = tfds.download.DownloadConfig(extract_dir=extract_dir)
    else:
        config = tfds.download.DownloadConfig(
            manual_dir=raw_dir,
            extract_dir=extract_dir,
            # Offline: never ask GCS for a prepared copy, and insist on known checksums.
            try_download_gcs=False,
            force_checksums_validation=True,
        )
    try:
        with _download_retries(TFDS_DOWNLOAD_RETRIES):
            builder.download_and_prepare(download_config=config)
    except BaseException as err:
        _remove_created(cache_dir, name, before)
        if isinstance(err, tfds.download.download_manager.NonMatchingChecksumError):
            raise ValueError(
                f"tfds rejected the raw {name} files from {raw_dir or 'the download'}: a file "
                f"is corrupt or truncated (size or sha256 mismatch). Partial cache removed. {err}"
            ) from err
        if isinstance(err, Exception):
            hint = (
                ""
                if raw_dir is not None
                else f" Downloading failed? Set {DATA_DIR_ENV} (or pass data_dir=) to a folder "
                f"holding {name}/ with the raw files to prepare offline."
            )
            raise RuntimeError(
                f"tfds failed to prepare {name} in {cache_dir} (partial cache removed): "
                f"{str(err).rstrip('.')}.{hint}"
            ) from err
        raise  # KeyboardInterrupt and friends: cleaned up, now propagate unchanged
    _remove_dir(extract_dir)
    if cache_dir / "downloads" not in before:
        _remove_if_empty(cache_dir / "downloads")


def _stale_cache_error(name: str, version_dir: Path, cache_dir: Path, problem: str) -> ValueError:
    """The error for a prepared copy that is not what ``name`` should be, with the fix."""
    return ValueError(
        f"The prepared {name} in {version_dir} is not the expected data: {problem}. It is "
        f"stale or was prepared wrongly; delete the folder {cache_dir / name} and load "
        "again to prepare it afresh (or use source='idx')."
    )


def _check_dataset_info(name: str, version_dir: Path, cache_dir: Path) -> None:
    """Rejects a prepared copy whose dataset_info.json does not describe ``name``.

    Cheap (one small JSON file), so it runs before every load from the cache. It
    checks the name, the split sizes and the size of the raw files it was prepared
    from, which tells MNIST from Fashion-MNIST. tfds records no checksums there.
    """
    info_path = version_dir / "dataset_info.json"
    try:
        info = json.loads(info_path.read_text())
        split_sizes = {
            split["name"]: sum(int(length) for length in split["shardLengths"])
            for split in info["splits"]
        }
        download_size = info.get("downloadSize")
        download_size = None if download_size is None else int(download_size)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _stale_cache_error(
            name, version_dir, cache_dir, f"cannot read {info_path} ({err!r})"
        ) from err
    expected_sizes = {split: size for split, (_, size) in _SPLITS.items()}
    expected_download = sum(raw.size for raw in _RAW_FILES[name].values())
    if info.get("name") != name:
        problem = f"{info_path} names {info.get('name')!r}, expected {name!r}"
    elif split_sizes != expected_sizes:
        problem = f"{info_path} gives split sizes {split_sizes}, expected {expected_sizes}"
    elif download_size not in (None, expected_download):
        problem = (
            f"{info_path} says it was prepared from {download_size} bytes of raw files, "
            f"expected {expected_download}"
        )
    else:
        return
    raise _stale_cache_error(name, version_dir, cache_dir, problem)


def _split_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of one split's uint8 images and labels (as little-endian int64)."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8))
    digest.update(np.asarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()


def _check_prepared_content(
    name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], version_dir: Path, cache_dir: Path
) -> None:
    """Rejects loaded arrays that are not exactly ``name`` in tfds's order.

    dataset_info.json cannot tell, e.g., Fashion-MNIST records that were prepared from
    extracted MNIST files (the shared extraction folder bug). Hashing the decoded
    arrays can, and costs ~40 ms next to the seconds tfds spends decoding them.
    """
    for split, (images, labels) in splits.items():
        got, expected = _split_sha256(images, labels), _PREPARED_SHA256[name][split]
        if got != expected:
            raise _stale_cache_error(
                name,
                version_dir,
                cache_dir,
                f"its {split} split hashes to sha256 {got}, expected {expected}",
            )


def _load_tfds_split(tfds: Any, builder: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of one prepared split."""
    arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    return arrays["image"][..., 0], arrays["label"]


def _load_with_tfds(
    name: str, raw_dir: Path | None, cache_dir: Path
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Prepares (once, under a lock) and reads both splits with tfds, then checks them."""
    _check_tfds_installed()
    if raw_dir is None and not _has_prepared_copy(cache_dir, name):
        # Check before importing TensorFlow, so the offline error comes in seconds.
        host, port, target = _first_hop(_DOWNLOAD_URLS[name])
        if not _can_reach(host, port):
            raise _no_data_error(
                name,
                f"no prepared copy in {cache_dir}, no {DATA_DIR_ENV}, and {target} is unreachable",
            )
    tfds = _import_tfds()
    builder = tfds.builder(name, data_dir=os.fspath(cache_dir))
    if not builder.is_prepared():
        with _cache_lock(cache_dir, name):
            # Another process may have prepared it while we waited for the lock; a
            # fresh builder reads what is on disk now.
            builder = tfds.builder(name, data_dir=os.fspath(cache_dir))
            if not builder.is_prepared():
                _prepare_with_tfds(tfds, builder, raw_dir, cache_dir)
    version_dir = Path(builder.data_path)
    _check_dataset_info(name, version_dir, cache_dir)
    splits = {split: _load_tfds_split(tfds, builder, split) for split in _SPLITS}
    _check_prepared_content(name, splits, version_dir, cache_dir)
    return splits


# --------------------------------------------------------------------------------------
# Public loader
# --------------------------------------------------------------------------------------


def _to_dataset(splits: dict[str, tuple[np.ndarray, np.ndarray]], flatten: bool) -> Dataset:
    """uint8 images and integer labels -> float32 in [0, 1] and int32."""

    def features(images: np.ndarray) -> np.ndarray:
        scaled = images.astype(np.float32) / np.float32(255)
        return scaled.reshape(len(images), NUM_PIXELS) if flatten else scaled[..., None]

    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return Dataset(
        features(x_train), y_train.astype(np.int32), features(x_test), y_test.astype(np.int32)
    )


def load_dataset(
    name: str,
    *,
    source: str = "tfds",
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    flatten: bool = True,
    order: str = "tfds",
    validation: int = DEFAULT_VALIDATION,
) -> Dataset:
    """Loads MNIST or Fashion-MNIST as float32 images in [0, 1] and int32 labels.

    The default source is ``"tfds"``, the project's chosen loader: tfds validates the
    raw files' sizes and sha256 and keeps the prepared dataset in ``cache_dir``, so
    only the first load pays its ~12 s preparation. ``"idx"`` reads the raw files
    with numpy alone (~0.3 s, no TensorFlow), validating them against embedded sizes,
    sha256 sums and IDX headers; use it for tests and benchmarks. Both give
    identical arrays: by default both come in tfds's fixed example order, which is not
    the order of the raw files. ``order="file"`` gives the raw files' order from either
    source, which is what "batches in order" means in the homework (seed 004).

    With ``source="tfds"`` and a data folder, the raw files are checked for presence,
    IDX header and size before TensorFlow is imported; then the dataset is prepared
    offline unless ``cache_dir`` already holds a prepared copy. Without a data folder,
    a prepared copy is used if there is one; otherwise tfds downloads it, after a
    2-second connectivity probe (of the proxy, when HTTPS_PROXY/HTTP_PROXY apply) that
    turns "offline" into a prompt, clear error; a download that fails anyway gives up
    after a few retries, not tfds's ~200 s. Preparation runs under the lock file
    ``<cache_dir>/<name>.lock``: a second process waits (and says so on stderr), then
    uses the first one's copy. Leftovers of a killed preparation are removed before
    preparing, and a failed preparation removes what it created. Each load checks the
    prepared copy's ``dataset_info.json`` (name, split sizes, raw-file size) and the
    sha256 of the decoded arrays (~40 ms).

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        source: ``"tfds"`` or ``"idx"``.
        data_dir: folder holding ``<name>/`` with the four raw ``.gz`` files.
            Defaults to ``$SOFTJAX_DATA_DIR``; required for ``"idx"``.
        cache_dir: tfds data dir for prepared datasets. Defaults to
            ``$SOFTJAX_TFDS_DIR``, else ``~/.cache/softjax/tensorflow_datasets``.
            Unused by ``"idx"``.
        flatten: images as (N, 784) when True, as (N, 28, 28, 1) when False.
        order: ``"tfds"`` (tfds's stored order, the default) or ``"file"`` (the raw
            files' order, as read by hand-written MNIST loaders).
        validation: training images held out as the validation split, the last ones
            in ``order`` (:data:`DEFAULT_VALIDATION` = 5000); 0 for none.

    Returns:
        A `Dataset` with 60000 − ``validation`` train, ``validation`` validation and
        10000 test examples, labels 0..9.

    Raises:
        ValueError: unknown ``name``, ``source`` or ``order``; a raw file that is not
            gzip/IDX, or has the wrong size, checksum or dims; a prepared copy in
            ``cache_dir`` that is not the expected data (the message names the folder
            to delete).
        FileNotFoundError: missing data folder or raw file; or no data at all and
            no network.
        ImportError: ``source="tfds"`` without tensorflow-datasets installed.
        RuntimeError: tfds failed to prepare the dataset for another reason, e.g. a
            failed download; the partial cache has been removed.
    """
    _check_choice(name, DATASET_NAMES, "dataset name")
    _check_choice(source, SOURCES, "source")
    _check_choice(order, ORDERS, "order")
    if not is_int(validation) or not 0 <= validation < _SPLITS["train"][1]:
        raise ValueError(f"validation: expected an int in [0, 60000), got {validation!r}")
    resolved_data_dir = _resolve_data_dir(data_dir)
    raw_dir = None if resolved_data_dir is None else _find_raw_files(resolved_data_dir, name)
    if source == "idx":
        if raw_dir is None:
            raise _no_data_error(name, f'source="idx" reads raw files, and {DATA_DIR_ENV} is unset')
        splits = {split: _load_idx_split(raw_dir, name, split) for split in _SPLITS}
    else:
        splits = _load_with_tfds(name, raw_dir, _resolve_cache_dir(cache_dir))
    return hold_out(_to_dataset(_reorder(splits, source, order), flatten), validation)


# --------------------------------------------------------------------------------------
# Synthetic data sets
# --------------------------------------------------------------------------------------

TEST_FRACTION = 0.2

# The three toy points of seed 001 and their classes, used as the blob centres.
BLOB_CENTRES = ((-0.1, 1.4), (1.3, 0.9), (-1.4, -1.1))


def _typed_key(key: jax.Array) -> jax.Array:
    """Accepts new-style ``jax.random.key`` and legacy ``PRNGKey`` keys alike.

    Normalising to typed keys means both styles share JAX's compilation cache (each
    new key dtype would otherwise recompile every op) and give the same data.
    """
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


def _train_test_split(key: jax.Array, x: jax.Array, y: jax.Array) -> Dataset:
    """Shuffles examples with ``key`` and holds out TEST_FRACTION as the test split."""
    num_examples = len(y)
    if num_examples < 2:
        raise ValueError(f"Need at least 2 examples for a train/test split, got {num_examples}.")
    num_test = min(max(1, round(num_examples * TEST_FRACTION)), num_examples - 1)
    order = np.asarray(jax.random.permutation(key, num_examples))
    x_np = np.asarray(x, dtype=np.float32)[order]
    y_np = np.asarray(y, dtype=np.int32)[order]
    return Dataset(x_np[num_test:], y_np[num_test:], x_np[:num_test], y_np[:num_test])


def _check_positive(**values: int) -> None:
    """Raises ValueError naming any argument that is not a positive integer."""
    for argument, value in values.items():
        if value < 1:
            raise ValueError(f"{argument} must be >= 1, got {value}.")


def make_blobs(key: jax.Array, n_per_class: int = 100, *, std: float = 0.5) -> Dataset:
    """Seed 001's 3-class 2-D toy problem: isotropic Gaussian blobs.

    The centres are the notes' toy points themselves, (-0.1, 1.4) -> 0,
    (1.3, 0.9) -> 1 and (-1.4, -1.1) -> 2. With the default ``std=0.5`` classes 0
    and 1, whose centres are 1.49 apart (about 3 std), overlap: roughly 7% of their
    points lie past the midway boundary, so the problem is learnable but not
    trivially separable. Class 2 lies well apart (>= 2.8 from the others).

    Args:
        key: a ``jax.random`` key; the same key gives the same data.
        n_per_class: points drawn per class, before the 80/20 train/test split.
        std: standard deviation of each blob, per coordinate.

    Returns:
        A `Dataset` with float32 features (N, 2) and int32 labels in {0, 1, 2}.
    """
    _check_positive(n_per_class=n_per_class)
    draw_key, split_key = jax.random.split(_typed_key(key))
    centres = jnp.asarray(BLOB_CENTRES, dtype=jnp.float32)
    labels = jnp.repeat(jnp.arange(len(BLOB_CENTRES)), n_per_class)
    noise = std * jax.random.normal(draw_key, (len(labels), 2))
    return _train_test_split(split_key, centres[labels] + noise, labels)


# The hidden rule of the Learn/Sleep problem: a weighted score in hours, and how
# sharply the pass probability rises as the score crosses the threshold.
LEARN_WEIGHT, SLEEP_WEIGHT, PASS_THRESHOLD_HOURS, PASS_STEEPNESS = 0.6, 0.4, 5.0, 1.5


def make_learn_sleep(key: jax.Array, n: int = 200) -> Dataset:
    """Seed 003's (Learn, Sleep) -> Is_Pass problem, with labels 0 (fail) / 1 (pass).

    The notes give no data for this example, so this generator is our own: only the
    features, their ranges and the label's meaning come from the notes. Hours of
    learning and of sleep are uniform on [0, 10]; a student passes with probability
    ``sigmoid(1.5 * (0.6 * learn + 0.4 * sleep - 5))``, so learning counts more than
    sleep, the pass/fail boundary is the line ``0.6 * learn + 0.4 * sleep = 5`` and
    labels near it are noisy. The classes come out roughly balanced.

    Args:
        key: a ``jax.random`` key; the same key gives the same data.
        n: number of students, before the 80/20 train/test split.

    Returns:
        A `Dataset` with float32 features (N, 2) = (learn, sleep) in hours and int32
        labels in {0, 1}.
    """
    _check_positive(n=n)
    hours_key, pass_key, split_key = jax.random.split(_typed_key(key), 3)
    hours = jax.random.uniform(hours_key, (n, 2), minval=0.0, maxval=10.0)
    score = LEARN_WEIGHT * hours[:, 0] + SLEEP_WEIGHT * hours[:, 1]
    pass_probability = jax.nn.sigmoid(PASS_STEEPNESS * (score - PASS_THRESHOLD_HOURS))
    passed = jax.random.bernoulli(pass_key, pass_probability)
    return _train_test_split(split_key, hours, passed)


def make_gaussian_classes(
    key: jax.Array, n: int = 512, dim: int = 8, num_classes: int = 4, *, sep: float = 3.0
) -> Dataset:
    """Generic balanced Gaussian classes, small and quick, for tests.

    Class means are random directions of length ``sep``; points are the mean plus
    unit-variance Gaussian noise. Random directions are nearly orthogonal, so two
    means are typically about ``sep * sqrt(2)`` apart: the default ``sep=3`` is easy
    but not perfectly separable.

    Args:
        key: a ``jax.random`` key; the same key gives the same data.
        n: total number of examples, before the 80/20 train/test split.
        dim: feature dimension.
        num_classes: number of classes; labels are 0..num_classes-1, balanced.
        sep: distance of each class mean from the origin.

    Returns:
        A `Dataset` with float32 features (N, dim) and int32 labels.
    """
    _check_positive(n=n, dim=dim, num_classes=num_classes)
    means_key, noise_key, split_key = jax.random.split(_typed_key(key), 3)
    directions = jax.random.normal(means_key, (num_classes, dim))
    means = sep * directions / jnp.linalg.norm(directions, axis=1, keepdims=True)
    labels = jnp.arange(n) % num_classes
    points = means[labels] + jax.random.normal(noise_key, (n, dim))
    return _train_test_split(split_key, points, labels)
