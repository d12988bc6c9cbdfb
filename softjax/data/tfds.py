"""The tensorflow-datasets source: tfds prepares the data once and caches it.

tfds does the work it is good at: it checks the raw files against its registered
sha256 sums, downloads (with its own retries) when there are no raw files, and writes
the prepared copy atomically (an ``incomplete.*`` folder renamed at the end). This
module only

* hands tfds the raw files of ``<SOFTJAX_DATA_DIR>/<name>/`` as its ``manual_dir``, so
  preparation works offline;
* turns tfds's failures into errors that say what to do (install tfds, point
  ``SOFTJAX_DATA_DIR`` at the raw files, replace a corrupt file), and removes what a
  failed preparation added to the cache's ``downloads/`` and ``<name>/`` folders;
* checks the sha256 of the loaded arrays (cheap next to decoding them), so a stale or
  wrongly prepared cache cannot pass for the real data.

TensorFlow is imported only here, on the first tfds load.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from softjax.data.idx import _SPLITS, DATA_DIR_ENV, Splits, _no_data_error

TFDS_DIR_ENV = "SOFTJAX_TFDS_DIR"
DEFAULT_TFDS_DIR = Path("~/.cache/softjax/tensorflow_datasets")

# sha256 of each split as tfds stores it (uint8 images, then labels as little-endian
# int64, in tfds's order; see _split_sha256), computed from the raw files via the idx
# reader. Every load checks the prepared copy against them.
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


def _resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """The tfds data dir: the argument, else $SOFTJAX_TFDS_DIR, else the default."""
    chosen = cache_dir if cache_dir is not None else os.environ.get(TFDS_DIR_ENV) or None
    return Path(chosen if chosen is not None else DEFAULT_TFDS_DIR).expanduser()


def _import_tfds() -> Any:
    """Imports tensorflow_datasets quietly, keeping TensorFlow off the GPU.

    Raises:
      ImportError: tfds or TensorFlow is missing, saying what to install or use instead.
    """
    # Must be set before TensorFlow loads; setdefault keeps a user's own choice.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError as err:  # a bare ModuleNotFoundError would not say what to do
        raise ImportError(
            f'source="tfds" (the default) needs tensorflow-datasets and TensorFlow ({err}): '
            "install softjax[experiments] or pass source='idx' with data_dir= (or "
            f"{DATA_DIR_ENV}) pointing at the raw files."
        ) from err
    # TF only decodes images here; left alone it would reserve most of the GPU memory
    # JAX needs. This fails harmlessly if TF already initialised its devices.
    with contextlib.suppress(RuntimeError, ValueError):
        tf.config.set_visible_devices([], "GPU")
    return tfds


def _prepare(tfds: Any, builder: Any, raw_dir: Path | None, cache_dir: Path) -> None:
    """``builder.download_and_prepare``, offline from ``raw_dir`` when given.

    Extraction goes to a private temporary folder, removed afterwards: tfds names an
    extracted file after its bare file name, which MNIST and Fashion-MNIST share, so
    one shared extraction folder would prepare fashion_mnist from MNIST's digits.
    """
    name = builder.name
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".extract_{name}_", dir=cache_dir) as extract_dir:
        if raw_dir is None:
            # tfds retries a dead download for minutes: say up front what is happening.
            warnings.warn(
                f"no raw {name} files ({DATA_DIR_ENV} unset) and no prepared copy in "
                f"{cache_dir}: tfds will try to download {name}; without a network it "
                f"retries for a few minutes before failing. Set {DATA_DIR_ENV} to the "
                "folder holding mnist/ and fashion_mnist/ to load offline.",
                UserWarning,
                stacklevel=4,
            )
            config = tfds.download.DownloadConfig(extract_dir=extract_dir)
        else:  # offline: never ask GCS for a prepared copy, insist on known checksums
            config = tfds.download.DownloadConfig(
                manual_dir=raw_dir,
                extract_dir=extract_dir,
                try_download_gcs=False,
                force_checksums_validation=True,
            )
        before = _cache_entries(cache_dir, name)
        try:
            try:
                builder.download_and_prepare(download_config=config)
            except tfds.download.download_manager.NonMatchingChecksumError as err:
                raise ValueError(
                    f"tfds rejected the raw {name} files from {raw_dir or 'the download'}: a "
                    f"file is corrupt or truncated (size or sha256 mismatch). {err}"
                ) from err
            except Exception as err:
                if raw_dir is not None:
                    raise
                detail = (
                    f"no prepared copy in {cache_dir}, no {DATA_DIR_ENV}, and tfds could not "
                    f"download it ({type(err).__name__}: {err})"
                )
                raise _no_data_error(name, detail) from err
        except BaseException:
            # A failed preparation (a corrupt raw file, a dead download) leaves no half
            # copy in the cache that a later load would trip over.
            _remove_new_entries(cache_dir, name, before)
            raise


def _cache_entries(cache_dir: Path, name: str) -> set[Path]:
    """The cache's ``downloads/`` and ``<name>/`` folders and what they hold at top level."""
    found = set()
    for folder in (cache_dir / "downloads", cache_dir / name):
        if folder.exists():
            found |= {folder, *(folder.iterdir() if folder.is_dir() else ())}
    return found


def _remove_new_entries(cache_dir: Path, name: str, before: set[Path]) -> None:
    """Removes what a failed preparation added to ``downloads/`` and ``<name>/`` (a
    half-downloaded or half-prepared copy), leaving what was there before it."""
    for path in sorted(_cache_entries(cache_dir, name) - before):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _split_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of one split's uint8 images and labels (as little-endian int64)."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8))
    digest.update(np.asarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()


def _check_prepared_content(name: str, splits: Splits, cache_dir: Path) -> None:
    """Rejects loaded arrays that are not exactly ``name`` in tfds's order.

    Hashing the decoded arrays costs little next to tfds's decoding of them, and catches
    what tfds's metadata cannot: e.g. Fashion-MNIST records prepared from MNIST files, or
    a cache written by another tfds version in another order.
    """
    for split, (images, labels) in splits.items():
        got, expected = _split_sha256(images, labels), _PREPARED_SHA256[name][split]
        if got != expected:
            raise ValueError(
                f"The prepared {name} in {cache_dir / name} is not the expected data: its "
                f"{split} split hashes to sha256 {got}, expected {expected}. It is stale or "
                f"was prepared wrongly; delete the folder {cache_dir / name} and load again "
                "to prepare it afresh (or use source='idx')."
            )


def _load_with_tfds(name: str, raw_dir: Path | None, cache_dir: Path) -> Splits:
    """Both splits of ``name`` via tfds, prepared into ``cache_dir`` first if needed.

    Returns:
      {split: (uint8 images (N, 28, 28), labels (N,))} in tfds's stored order.
    """
    tfds = _import_tfds()
    builder = tfds.builder(name, data_dir=os.fspath(cache_dir))
    if not builder.is_prepared():
        _prepare(tfds, builder, raw_dir, cache_dir)
    splits = {}
    for split, (_, num_examples) in _SPLITS.items():
        # One batch of the known size, not batch_size=-1, which sizes the batch from
        # tfds's metadata (absent under tfds.testing.mock_data); the content check
        # below catches a split of another size.
        batches = tfds.as_numpy(builder.as_dataset(split=split, batch_size=num_examples))
        arrays = next(iter(batches))
        splits[split] = (arrays["image"][..., 0], arrays["label"])
    _check_prepared_content(name, splits, cache_dir)
    return splits
