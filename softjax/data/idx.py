"""The raw MNIST-format files: their sizes and sha256, IDX headers, a numpy reader, and
tfds's example order.

Both sources of ``load_dataset`` start here: ``source="idx"`` reads the four ``.gz`` files
of ``<data_dir>/<name>/`` with numpy alone (no TensorFlow), and
``source="tfds"`` hands the same checked folder to tfds as its ``manual_dir``. The
checks are cheap first (presence, IDX header, size) and the sha256 is taken while
reading. ``_tfds_order`` is the permutation tfds stores examples in, so both sources
return identical arrays in either ``order``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATASET_NAMES = ("mnist", "fashion_mnist")
ORDERS = ("tfds", "file")
DATA_DIR_ENV = "SOFTJAX_DATA_DIR"

IMAGE_SHAPE = (28, 28)
NUM_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]

Splits = dict[str, tuple[np.ndarray, np.ndarray]]
"""{split: (uint8 images (N, 28, 28), labels (N,))} for "train" and "test"."""


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


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The raw-data folder: the argument, else $SOFTJAX_DATA_DIR, else None."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return None if chosen is None else Path(chosen).expanduser()


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


def _reorder(splits: Splits, source: str, order: str) -> Splits:
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
