"""A tfds preparation that fails (a corrupt raw file, a dead download) leaves nothing in
the cache: no ``downloads/`` and no dataset folder (softjax.data.tfds)."""

from __future__ import annotations

import importlib.util
import os
import types
from pathlib import Path

import pytest

from softjax.data import load_dataset
from softjax.data import tfds as tfds_source

SMALL_FILE = "train-labels-idx1-ubyte.gz"


class _Corrupt(Exception):
    pass


def _fake_tfds():
    download = types.SimpleNamespace(
        DownloadConfig=lambda **kwargs: kwargs,
        download_manager=types.SimpleNamespace(NonMatchingChecksumError=_Corrupt),
    )
    return types.SimpleNamespace(download=download)


class _FailingBuilder:
    """Downloads and half-prepares like tfds, then finds a corrupt file."""

    name = "mnist"

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir

    def download_and_prepare(self, download_config):
        (self.cache_dir / "downloads" / "extracted").mkdir(parents=True)
        (self.cache_dir / "downloads" / "train-labels.gz").write_bytes(b"half")
        (self.cache_dir / "mnist" / "3.0.1.incomplete").mkdir(parents=True)
        raise _Corrupt("checksum mismatch")


def test_a_failed_preparation_removes_its_downloads_and_dataset_folder(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="tfds rejected the raw mnist files"):
        tfds_source._prepare(_fake_tfds(), _FailingBuilder(cache), tmp_path, cache)
    assert sorted(p.name for p in cache.iterdir()) == []


def test_a_failed_preparation_keeps_what_was_there_before(tmp_path):
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    (cache / "downloads" / "fashion.gz").write_bytes(b"another dataset's download")
    (cache / "mnist" / "3.0.0").mkdir(parents=True)  # an older prepared version
    with pytest.raises(ValueError, match="tfds rejected"):
        tfds_source._prepare(_fake_tfds(), _FailingBuilder(cache), tmp_path, cache)
    assert sorted(p.name for p in (cache / "downloads").iterdir()) == ["fashion.gz"]
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == ["3.0.0"]


@pytest.mark.slow  # a real tfds preparation (TensorFlow import)
@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_datasets") is None, reason="needs tensorflow-datasets"
)
def test_a_corrupt_raw_file_leaves_no_downloads_or_dataset_folder(tmp_path, shared_data_dir):
    raw = tmp_path / "data" / "mnist"
    raw.mkdir(parents=True)
    for path in (shared_data_dir / "mnist").glob("*.gz"):
        (raw / path.name).symlink_to(path)
    content = bytearray((shared_data_dir / "mnist" / SMALL_FILE).read_bytes())
    content[1000] ^= 0xFF  # same size and header, other content: only sha256 can tell
    (raw / SMALL_FILE).unlink()
    (raw / SMALL_FILE).write_bytes(bytes(content))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="tfds rejected"):
        load_dataset("mnist", source="tfds", data_dir=raw.parent, cache_dir=cache)
    left = sorted(os.path.relpath(p, cache) for p in cache.rglob("*"))
    assert not [p for p in left if p.startswith(("downloads", "mnist"))], left
