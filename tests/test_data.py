"""Tests for softjax.data: both MNIST sources, their errors, and the synthetic sets.

All offline. Tests needing the raw files use the `shared_data_dir` fixture, which
skips them when $SOFTJAX_DATA_DIR (or ../shared/data) is absent. The tfds cache is
prepared once per session by the `tfds_datasets` fixture (see conftest.py).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from softjax import data
from softjax.data import (
    DATASET_NAMES,
    Dataset,
    load_dataset,
    make_blobs,
    make_gaussian_classes,
    make_learn_sleep,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("idx", "tfds")
SMALL_FILE = "train-labels-idx1-ubyte.gz"  # 28 KB: the cheap one to break
needs_tfds = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_datasets") is None,
    reason="tensorflow-datasets is not installed",
)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def assert_image_dataset(ds: Dataset, *, flatten: bool = True) -> None:
    """MNIST-like layout: 60000/10000 float32 images in [0, 1], int32 labels 0..9."""
    image_shape = (784,) if flatten else (28, 28, 1)
    for x, y, n in ((ds.x_train, ds.y_train, 60_000), (ds.x_test, ds.y_test, 10_000)):
        assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
        assert x.shape == (n, *image_shape) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int32
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(y).tolist()) == set(range(10))


def assert_same_arrays(a: Dataset, b: Dataset) -> None:
    for field, left, right in zip(Dataset._fields, a, b, strict=True):
        assert left.dtype == right.dtype, field
        assert np.array_equal(left, right), field


@pytest.fixture
def raw_copy(tmp_path, shared_data_dir) -> Path:
    """A private data dir whose mnist/ links to the shared files, safe to break."""
    raw_dir = tmp_path / "data" / "mnist"
    raw_dir.mkdir(parents=True)
    for path in (shared_data_dir / "mnist").glob("*.gz"):
        (raw_dir / path.name).symlink_to(path)
    return raw_dir.parent


def replace_file(data_dir: Path, file_name: str, content: bytes) -> Path:
    """Swaps a (linked) raw file for a private one with `content`."""
    path = data_dir / "mnist" / file_name
    path.unlink()
    path.write_bytes(content)
    return path


def shared_bytes(shared_data_dir: Path, file_name: str = SMALL_FILE) -> bytes:
    return (shared_data_dir / "mnist" / file_name).read_bytes()


def refuse_connection(*args, **kwargs):
    """Stands in for socket.create_connection on a machine without network."""
    raise OSError("network unreachable (test)")


def assert_no_cache_left(cache_dir: Path, name: str = "mnist") -> None:
    assert not (cache_dir / name).exists()
    assert not (cache_dir / "downloads" / f"extracted_{name}").exists()


def files_under(folder: Path) -> list[str]:
    """Every file and folder below `folder`, relative, sorted: what a cache holds."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def forbid_preparation(monkeypatch) -> None:
    """Makes any tfds preparation fail the test: the cache alone must do."""
    import tensorflow_datasets as tfds

    def fail(*args, **kwargs):
        raise AssertionError("download_and_prepare called for a prepared dataset")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)


def spy_on_preparation(monkeypatch, action) -> None:
    """Replaces tfds's preparation with `action(builder, download_config)`.

    For tests of what surrounds a preparation (config, locking, cleanup), which a
    real one would slow down by ~15-70 s.
    """
    import tensorflow_datasets as tfds

    def prepare(self, *, download_config=None, **kwargs):
        action(self, download_config)

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", prepare)


def copy_prepared(tfds_cache_dir: Path, cache_dir: Path, name: str) -> Path:
    """Copies the session's prepared `name` into `cache_dir`; returns its version folder."""
    shutil.copytree(tfds_cache_dir / name, cache_dir / name)
    (version_dir,) = (cache_dir / name).glob("[0-9]*")
    return version_dir


@functools.cache
def tfds_order_uint8(data_dir: Path, name: str) -> dict:
    """{split: (uint8 images, labels)} exactly as tfds stores them, read by the idx source.

    Lets a test stand in for decoding a prepared copy (seconds) in ~0.3 s.
    """
    raw_dir = data_dir / name
    splits = {split: data._load_idx_split(raw_dir, name, split) for split in data._SPLITS}
    return data._reorder(splits, "idx", "tfds")


PROXY_VARIABLES = [
    case(f"{scheme}_proxy")
    for scheme in ("http", "https", "all", "no")
    for case in (str, str.upper)
]


def clear_proxies(monkeypatch) -> None:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


# --------------------------------------------------------------------------------------
# Real data: layout, equality of sources, caching
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_idx_source_layout(idx_datasets, name):
    assert_image_dataset(idx_datasets[name])


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_tfds_source_layout(tfds_datasets, name):
    assert_image_dataset(tfds_datasets[name])


def test_flatten_false_keeps_image_shape(shared_data_dir, idx_datasets):
    images = load_dataset("mnist", source="idx", data_dir=shared_data_dir, flatten=False)
    assert_image_dataset(images, flatten=False)
    flat = idx_datasets["mnist"]
    assert np.array_equal(images.x_train.reshape(-1, 784), flat.x_train)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_tfds_and_idx_give_identical_arrays(tfds_datasets, idx_datasets, name):
    assert_same_arrays(tfds_datasets[name], idx_datasets[name])


def test_fashion_mnist_prepared_after_mnist_is_really_fashion(
    tfds_datasets, idx_datasets, tfds_cache_dir
):
    # The idx reader checks sha256, so its arrays are certainly Fashion-MNIST.
    fashion, digits = tfds_datasets["fashion_mnist"], tfds_datasets["mnist"]
    assert np.array_equal(fashion.x_train, idx_datasets["fashion_mnist"].x_train)
    assert not np.array_equal(fashion.x_train, digits.x_train)
    assert not np.array_equal(fashion.x_test, digits.x_test)
    # Extracted copies are dropped after a successful preparation.
    for name in DATASET_NAMES:
        assert not (tfds_cache_dir / "downloads" / f"extracted_{name}").exists()


def test_second_load_reuses_the_cache_offline_in_either_order(
    shared_data_dir, tfds_datasets, tfds_cache_dir, monkeypatch
):
    # One tfds load (seconds) checks three things: the prepared cache alone does, with
    # no data dir and no network; flatten=False; and order="file" from tfds equals the
    # idx source's file order.
    forbid_preparation(monkeypatch)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(socket, "create_connection", refuse_connection)
    again = load_dataset("mnist", cache_dir=tfds_cache_dir, flatten=False, order="file")
    assert_image_dataset(again, flatten=False)
    from_idx = load_dataset("mnist", source="idx", data_dir=shared_data_dir, order="file")
    flat = again._replace(
        x_train=again.x_train.reshape(-1, 784), x_test=again.x_test.reshape(-1, 784)
    )
    assert_same_arrays(flat, from_idx)


def test_idx_source_never_imports_tensorflow(shared_data_dir):
    # A fresh interpreter: in this one other tests have imported TensorFlow already.
    script = textwrap.dedent("""
        import sys
        import softjax.data as d

        def tf_modules():
            return {m.split(".")[0] for m in sys.modules} & {"tensorflow", "tensorflow_datasets"}

        assert not tf_modules(), tf_modules()
        d.load_dataset("mnist", source="idx", data_dir=sys.argv[1])
        assert not tf_modules(), tf_modules()
    """)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(shared_data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_unknown_dataset_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'cifar10'.*mnist, fashion_mnist"):
        load_dataset("cifar10")


def test_unknown_source_lists_valid_sources():
    with pytest.raises(ValueError, match=r"source 'csv'.*tfds, idx"):
        load_dataset("mnist", source="csv")


@pytest.mark.parametrize("source", SOURCES)
def test_missing_folder(tmp_path, source):
    with pytest.raises(FileNotFoundError, match=re.escape(f"No folder {tmp_path / 'mnist'}")):
        load_dataset("mnist", source=source, data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("source", SOURCES)
def test_missing_file(raw_copy, tmp_path, source):
    (raw_copy / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="Missing raw file .*t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", source=source, data_dir=raw_copy, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("source", SOURCES)
def test_non_gzip_file(raw_copy, tmp_path, source):
    replace_file(raw_copy, SMALL_FILE, b"<html>404 Not Found</html>")
    with pytest.raises(ValueError, match=f"{SMALL_FILE} is not a gzip-compressed IDX file"):
        load_dataset("mnist", source=source, data_dir=raw_copy, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("source", SOURCES)
def test_gzip_of_non_idx_file(raw_copy, tmp_path, source):
    replace_file(raw_copy, SMALL_FILE, gzip.compress(b"label,image\n5,0 0 0\n"))
    with pytest.raises(ValueError, match=f"{SMALL_FILE} is not an IDX labels file: magic"):
        load_dataset("mnist", source=source, data_dir=raw_copy, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("source", SOURCES)
def test_truncated_file(raw_copy, tmp_path, shared_data_dir, source):
    replace_file(raw_copy, SMALL_FILE, shared_bytes(shared_data_dir)[:-100])
    with pytest.raises(ValueError, match=f"{SMALL_FILE} has 28781 bytes, expected 28881"):
        load_dataset("mnist", source=source, data_dir=raw_copy, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def flipped_byte(content: bytes, index: int = 1000) -> bytes:
    """Same size, same gzip/IDX header, different content: only sha256 can tell."""
    corrupt = bytearray(content)
    corrupt[index] ^= 0xFF
    return bytes(corrupt)


def test_corrupt_file_idx_source(raw_copy, shared_data_dir):
    replace_file(raw_copy, SMALL_FILE, flipped_byte(shared_bytes(shared_data_dir)))
    with pytest.raises(ValueError, match=f"{SMALL_FILE} has sha256 .*expected 3552534a"):
        load_dataset("mnist", source="idx", data_dir=raw_copy)


@needs_tfds
def test_corrupt_file_tfds_source_leaves_no_partial_cache(raw_copy, tmp_path, shared_data_dir):
    replace_file(raw_copy, SMALL_FILE, flipped_byte(shared_bytes(shared_data_dir)))
    cache_dir = tmp_path / "cache"
    with pytest.raises(ValueError, match=f"tfds rejected .*corrupt.*{SMALL_FILE}"):
        load_dataset("mnist", data_dir=raw_copy, cache_dir=cache_dir)
    assert_no_cache_left(cache_dir)
    assert files_under(cache_dir) == []  # no downloads/ folder or lock file either


def test_idx_source_without_data_dir_says_how_to_fix(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="Set SOFTJAX_DATA_DIR .*mnist/.*or go online"):
        load_dataset("mnist", source="idx")


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_no_data_and_no_network_fails_fast(tmp_path, monkeypatch, name):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.TFDS_DIR_ENV, str(tmp_path))  # an empty cache
    monkeypatch.setattr(socket, "create_connection", refuse_connection)
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as error:
        load_dataset(name)
    assert time.perf_counter() - start < 5.0
    message = str(error.value)
    assert "Set SOFTJAX_DATA_DIR" in message and f"{name}/" in message
    assert "or go online" in message and str(tmp_path) in message
    assert list(tmp_path.iterdir()) == []


def test_connectivity_probe_is_bounded_even_if_connect_hangs(monkeypatch):
    # A hanging DNS lookup is not covered by the socket timeout; the probe must
    # still give up on time.
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait()
        raise OSError("released")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    try:
        assert not data._can_reach("example.invalid", 443, timeout_s=0.5)
        assert time.perf_counter() - start < 2.0
    finally:
        release.set()  # let the probe thread finish


@pytest.mark.parametrize("module", ["tensorflow_datasets", "tensorflow"])
def test_tfds_source_without_tensorflow_datasets_says_what_to_install(
    tmp_path, monkeypatch, module
):
    # None in sys.modules makes `import module` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)

    def probe(*args, **kwargs):
        raise AssertionError("probed the network (2 s) before checking the install")

    monkeypatch.setattr(data, "_can_reach", probe)
    with pytest.raises(ImportError) as error:
        load_dataset("mnist", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "install softjax[experiments] or pass source='idx'" in message
    assert f"No module named '{module}'" in message or f"import of {module} halted" in message
    assert not (tmp_path / "cache").exists()
    # The import itself says the same, for an install that find_spec cannot see is broken.
    with pytest.raises(ImportError, match=r"install softjax\[experiments\] or pass source='idx'"):
        data._import_tfds()


def test_connectivity_probe_dials_the_proxy_when_one_applies(tmp_path, monkeypatch):
    # tfds downloads with requests, which honours HTTPS_PROXY: behind a proxy the data
    # host itself may be unreachable while the download would work.
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    dialled = []

    def refuse(address, *args, **kwargs):
        dialled.append(address)
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(FileNotFoundError, match="proxy proxy.example:3128 is unreachable"):
        load_dataset("mnist", cache_dir=tmp_path)
    assert dialled == [("proxy.example", 3128)]
    # fashion_mnist downloads over http, which HTTPS_PROXY does not cover ...
    fashion_host = "fashion-mnist.s3-website.eu-central-1.amazonaws.com"
    assert data._first_hop(data._DOWNLOAD_URLS["fashion_mnist"]) == (fashion_host, 80, fashion_host)
    # ... and NO_PROXY exempts a host from the proxy.
    monkeypatch.setenv("NO_PROXY", "storage.googleapis.com")
    host = "storage.googleapis.com"
    assert data._first_hop(data._DOWNLOAD_URLS["mnist"]) == (host, 443, host)


@needs_tfds
def test_failed_download_fails_fast_and_leaves_no_partial_download(tmp_path, monkeypatch):
    # The probe says "online", but DNS then fails: tfds retried 10 times with backoff
    # (~208 s) and left downloads/mnist/*.tmp.* behind.
    clear_proxies(monkeypatch)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data, "_can_reach", lambda *args, **kwargs: True)
    cache_dir = tmp_path / "cache"
    partial_downloads = set()

    def no_dns(host, *args, **kwargs):
        # tfds made its *.tmp.* download folders before connecting: note them, to
        # show that the check below is not vacuous.
        partial_downloads.update(cache_dir.glob("downloads/mnist/*.tmp.*"))
        raise socket.gaierror(socket.EAI_NONAME, f"cannot resolve {host} (test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as error:
        load_dataset("mnist", cache_dir=cache_dir)
    assert time.perf_counter() - start < 20.0
    message = str(error.value)
    assert f"tfds failed to prepare mnist in {cache_dir} (partial cache removed)" in message
    assert "cannot resolve storage.googleapis.com (test)" in message
    assert "Set SOFTJAX_DATA_DIR" in message
    assert len(partial_downloads) == 4  # one per raw file
    assert files_under(cache_dir) == []


@needs_tfds
def test_each_dataset_extracts_into_its_own_folder(shared_data_dir, tmp_path, monkeypatch):
    # tfds names extracted files by bare file name, which MNIST and Fashion-MNIST
    # share: with one extraction folder for both, fashion_mnist would be prepared from
    # leftover MNIST digits. (Checking fashion_mnist's arrays after a successful run
    # cannot catch that: the folder is deleted after each success.)
    cache_dir = tmp_path / "cache"
    configs = {}

    def record(builder, config):
        configs[builder.name, config.manual_dir is not None] = config
        raise OSError("stop before preparing (test)")

    spy_on_preparation(monkeypatch, record)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data, "_can_reach", lambda *args, **kwargs: True)
    for name in DATASET_NAMES:
        for data_dir in (shared_data_dir, None):  # offline and online preparation
            with pytest.raises(RuntimeError, match="stop before preparing"):
                load_dataset(name, data_dir=data_dir, cache_dir=cache_dir)
    assert len(configs) == 4
    for (name, offline), config in configs.items():
        assert Path(config.extract_dir) == cache_dir / "downloads" / f"extracted_{name}"
        if offline:
            assert Path(config.manual_dir) == shared_data_dir / name
            assert config.force_checksums_validation and not config.try_download_gcs
    assert files_under(cache_dir) == []


@needs_tfds
def test_preparation_removes_stale_leftovers_and_on_failure_only_its_own(
    shared_data_dir, tmp_path, monkeypatch, capsys
):
    cache_dir = tmp_path / "cache"
    downloads = cache_dir / "downloads"
    # Debris of a killed mnist preparation (tfds cleans up after Python errors only).
    stale = [
        cache_dir / "mnist" / "incomplete.ABC123_3.0.1" / "mnist-train.tfrecord-00000-of-00001",
        cache_dir / "mnist" / "3.0.1" / "mnist-test.tfrecord-00000-of-00001",  # unprepared
        downloads / "extracted_mnist" / "GZIP.train-images-idx3-ubyte.gz",
        downloads / "mnist" / "storage.googleapis.com_cvdf_images.gz.tmp.0123abcd" / "x.gz",
    ]
    # Not this preparation's to delete: another process is preparing fashion_mnist,
    # and an earlier online run left a complete, checksummed download.
    others = [
        cache_dir / "fashion_mnist" / "incomplete.XYZ789_3.0.1" / "dataset_info.json",
        downloads / "extracted_fashion_mnist" / "GZIP.train-images-idx3-ubyte.gz",
        downloads / "mnist" / "storage.googleapis.com_cvdf_labels.gz",
    ]
    for path in stale + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"leftover")
    stale_at_start = []

    def prepare_then_fail(builder, config):
        stale_at_start.extend(path for path in stale if path.exists())
        # What a real preparation writes before it fails.
        version_dir = Path(builder.data_path)
        incomplete = version_dir.parent / f"incomplete.NEW456_{version_dir.name}"
        incomplete.mkdir(parents=True)
        (incomplete / "mnist-train.tfrecord-00000-of-00001").write_bytes(b"half")
        Path(config.extract_dir).mkdir(parents=True)
        (Path(config.extract_dir) / "GZIP.t10k-images-idx3-ubyte.gz").write_bytes(b"half")
        raise OSError("disk full (test)")

    spy_on_preparation(monkeypatch, prepare_then_fail)
    with pytest.raises(RuntimeError, match=r"prepare mnist .*partial cache removed.*disk full"):
        load_dataset("mnist", data_dir=shared_data_dir, cache_dir=cache_dir)
    assert stale_at_start == []
    assert "removed leftovers of an interrupted mnist preparation" in capsys.readouterr().err
    # Exactly the others and the folders holding them are left.
    kept = {folder for path in others for folder in path.relative_to(cache_dir).parents}
    kept |= {path.relative_to(cache_dir) for path in others}
    assert files_under(cache_dir) == sorted(str(path) for path in kept - {Path(".")})


@needs_tfds
def test_second_process_waits_for_the_first_then_uses_its_copy(
    shared_data_dir, tfds_datasets, tfds_cache_dir, tmp_path, monkeypatch, capsys
):
    # Two processes preparing one cache used to delete each other's work. Here the
    # test holds the lock as "process A"; a thread plays process B.
    cache_dir = tmp_path / "cache"
    forbid_preparation(monkeypatch)
    expected = tfds_order_uint8(shared_data_dir, "mnist")

    def load_split(tfds, builder, split):
        # Stands in for decoding (seconds); the content check still runs on this.
        assert builder.is_prepared() and Path(builder.data_path).parent == cache_dir / "mnist"
        return expected[split]

    monkeypatch.setattr(data, "_load_tfds_split", load_split)
    outcome = {}

    def process_b():
        try:
            outcome["dataset"] = load_dataset(
                "mnist", data_dir=shared_data_dir, cache_dir=cache_dir
            )
        except BaseException as err:  # reported by the asserts below
            outcome["error"] = err

    waiting = f"waiting for process {os.getpid()} to finish preparing mnist in {cache_dir}"
    with data._cache_lock(cache_dir, "mnist"):
        thread = threading.Thread(target=process_b, daemon=True)
        thread.start()
        deadline, stderr = time.monotonic() + 60, ""
        while waiting not in stderr and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
            stderr += capsys.readouterr().err
        assert waiting in stderr, (stderr, outcome)
        copy_prepared(tfds_cache_dir, cache_dir, "mnist")  # A finishes its preparation
    thread.join(60)
    assert not thread.is_alive() and "error" not in outcome, outcome
    assert_same_arrays(outcome["dataset"], tfds_datasets["mnist"])
    assert not (cache_dir / "mnist.lock").exists()


@needs_tfds
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("shardLengths", "59999", r"split sizes \{'train': 59999, 'test': 10000\}"),
        (
            "downloadSize",
            "30878645",
            "prepared from 30878645 bytes of raw files, expected 11594722",
        ),
    ],
)
def test_prepared_copy_with_wrong_dataset_info_is_rejected(
    tfds_datasets, tfds_cache_dir, tmp_path, monkeypatch, field, value, message
):
    version_dir = copy_prepared(tfds_cache_dir, tmp_path, "mnist")
    info_path = version_dir / "dataset_info.json"
    info = json.loads(info_path.read_text())
    if field == "shardLengths":
        info["splits"][0]["shardLengths"] = [value]
    else:
        info[field] = value
    info_path.write_text(json.dumps(info))
    forbid_preparation(monkeypatch)
    with pytest.raises(ValueError, match=message) as error:
        load_dataset("mnist", cache_dir=tmp_path)
    assert f"The prepared mnist in {version_dir} is not the expected data" in str(error.value)
    assert f"delete the folder {tmp_path / 'mnist'}" in str(error.value)


@needs_tfds
def test_prepared_copy_with_wrong_content_is_rejected(
    shared_data_dir, tfds_datasets, tfds_cache_dir, tmp_path, monkeypatch
):
    # A fashion_mnist copy whose records hold MNIST digits, as a shared extraction
    # folder would make: dataset_info.json looks right, only the content tells.
    version_dir = copy_prepared(tfds_cache_dir, tmp_path, "fashion_mnist")
    digits = tfds_order_uint8(shared_data_dir, "mnist")
    monkeypatch.setattr(data, "_load_tfds_split", lambda tfds, builder, split: digits[split])
    forbid_preparation(monkeypatch)
    with pytest.raises(
        ValueError, match=r"its train split hashes to sha256 fcbef7f0.*expected 8bfde16b"
    ):
        load_dataset("fashion_mnist", cache_dir=tmp_path)
    # The real content passes the same check.
    real = tfds_order_uint8(shared_data_dir, "fashion_mnist")
    data._check_prepared_content("fashion_mnist", real, version_dir, tmp_path)


def _idx_bytes(magic: int, dims: tuple[int, ...], payload_size: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + bytes(payload_size)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (_idx_bytes(0x0803, (3,), 3), "not a 1-D uint8 IDX file"),
        (_idx_bytes(0x0801, (4,), 4), r"dims \(4,\), expected \(3,\)"),
        (_idx_bytes(0x0801, (3,), 2), "holds 2 data bytes, its header promises 3"),
        (b"\x00\x00\x08\x01\x00", "ends inside its IDX header"),
    ],
)
def test_idx_parser_rejects_bad_headers(blob, message):
    with pytest.raises(ValueError, match=message):
        data._parse_idx(blob, (3,), "blob.idx")


def test_idx_parser_reads_valid_blob():
    blob = _idx_bytes(0x0803, (2, 1, 3), 0) + bytes(range(6))
    assert data._parse_idx(blob, (2, 1, 3), "blob.idx").tolist() == [[[0, 1, 2]], [[3, 4, 5]]]


# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------

# maker, kwargs, (num_train, num_test), feature dim, label set
SYNTHETIC = [
    (make_blobs, {}, (240, 60), 2, {0, 1, 2}),
    (make_learn_sleep, {}, (160, 40), 2, {0, 1}),
    (make_gaussian_classes, {}, (410, 102), 8, {0, 1, 2, 3}),
]
SYNTHETIC_IDS = ["blobs", "learn_sleep", "gaussian"]


@pytest.mark.parametrize(
    ("maker", "kwargs", "sizes", "dim", "labels"), SYNTHETIC, ids=SYNTHETIC_IDS
)
def test_synthetic_layout(maker, kwargs, sizes, dim, labels):
    ds = maker(jax.random.key(0), **kwargs)
    for x, y, n in ((ds.x_train, ds.y_train, sizes[0]), (ds.x_test, ds.y_test, sizes[1])):
        assert isinstance(x, np.ndarray) and x.shape == (n, dim) and x.dtype == np.float32
        assert isinstance(y, np.ndarray) and y.shape == (n,) and y.dtype == np.int32
    assert set(np.unique(ds.y_train).tolist()) == labels
    assert set(np.unique(ds.y_test).tolist()) <= labels
    assert len(jax.tree_util.tree_leaves(ds)) == 4  # a pytree of arrays only


@pytest.mark.parametrize(
    ("maker", "kwargs", "sizes", "dim", "labels"), SYNTHETIC, ids=SYNTHETIC_IDS
)
def test_synthetic_is_deterministic_per_key(maker, kwargs, sizes, dim, labels):
    first, again = maker(jax.random.key(7), **kwargs), maker(jax.random.key(7), **kwargs)
    other = maker(jax.random.key(8), **kwargs)
    assert_same_arrays(first, again)
    assert not np.array_equal(first.x_train, other.x_train)


def test_synthetic_legacy_uint32_key_equals_typed_key():
    assert_same_arrays(make_blobs(jax.random.PRNGKey(3)), make_blobs(jax.random.key(3)))


def nearest_centre_accuracy(x: np.ndarray, y: np.ndarray, centres: np.ndarray) -> float:
    distances = np.linalg.norm(x[:, None, :] - centres[None, :, :], axis=-1)
    return float(np.mean(distances.argmin(axis=1) == y))


def test_blobs_sit_on_the_notes_points_and_overlap():
    ds = make_blobs(jax.random.key(0))
    x, y = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    centres = np.asarray(data.BLOB_CENTRES, dtype=np.float32)
    for label, centre in enumerate(centres):
        assert np.allclose(x[y == label].mean(axis=0), centre, atol=0.2)
    # Learnable, but classes 0 and 1 overlap: even the true centres misplace some.
    assert 0.85 < nearest_centre_accuracy(x, y, centres) < 1.0


def test_learn_sleep_follows_its_rule():
    ds = make_learn_sleep(jax.random.key(0))
    x, y = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    assert x.min() >= 0.0 and x.max() <= 10.0
    score = data.LEARN_WEIGHT * x[:, 0] + data.SLEEP_WEIGHT * x[:, 1]
    assert y[score > 6].mean() > 0.8 and y[score < 4].mean() < 0.2
    assert 0.35 < y.mean() < 0.65  # roughly balanced


def test_gaussian_classes_are_learnable():
    ds = make_gaussian_classes(jax.random.key(0))
    means = np.stack([ds.x_train[ds.y_train == k].mean(axis=0) for k in range(4)])
    assert nearest_centre_accuracy(ds.x_test, ds.y_test, means) > 0.85


@pytest.mark.parametrize(
    ("maker", "kwargs", "argument"),
    [(make_blobs, {"n_per_class": 0}, "n_per_class"), (make_gaussian_classes, {"dim": 0}, "dim")],
)
def test_synthetic_rejects_empty_sizes(maker, kwargs, argument):
    with pytest.raises(ValueError, match=f"{argument} must be >= 1"):
        maker(jax.random.key(0), **kwargs)


def test_file_order_is_the_raw_files_order(shared_data_dir, tfds_datasets):
    """order="file" gives the raw IDX order (MNIST's well-known first labels 5 0 4 1 9).

    That tfds gives the same arrays with order="file" is checked in
    test_second_load_reuses_the_cache_offline_in_either_order.
    """
    from_idx = load_dataset("mnist", source="idx", data_dir=shared_data_dir, order="file")
    assert from_idx.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert from_idx.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    # The same examples as the default tfds order, only permuted.
    assert not np.array_equal(from_idx.y_train, tfds_datasets["mnist"].y_train)
    assert np.array_equal(np.sort(from_idx.y_train), np.sort(tfds_datasets["mnist"].y_train))


def test_unknown_order_is_rejected(shared_data_dir):
    with pytest.raises(ValueError, match="order"):
        load_dataset("mnist", source="idx", data_dir=shared_data_dir, order="sorted")
