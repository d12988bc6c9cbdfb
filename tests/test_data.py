"""Tests for softjax.data: both MNIST sources, their errors, the validation split and
the synthetic sets.

All offline. Tests needing the raw files use the `shared_data_dir` fixture, which
skips them when $SOFTJAX_DATA_DIR (or ../shared/data) is absent. Tests of the tfds glue
run tfds under `tfds.testing.mock_data`, fed the real arrays in tfds's order (from the
idx reader), so they never prepare anything; one slow test prepares the real files.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from softjax import data
from softjax.data import (
    DATASET_NAMES,
    Dataset,
    hold_out,
    idx,
    load_dataset,
    make_blobs,
    make_gaussian_classes,
    make_learn_sleep,
)
from softjax.data import tfds as sj_tfds

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


def assert_image_dataset(ds: Dataset, *, flatten: bool = True, num_train: int = 60_000) -> None:
    """MNIST-like layout: float32 images in [0, 1], int32 labels 0..9, 10000 test rows."""
    image_shape = (784,) if flatten else (28, 28, 1)
    for x, y, n in ((ds.x_train, ds.y_train, num_train), (ds.x_test, ds.y_test, 10_000)):
        assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
        assert x.shape == (n, *image_shape) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int32
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(y).tolist()) == set(range(10))


def assert_same_arrays(a: Dataset, b: Dataset) -> None:
    for field, left, right in zip(Dataset._fields, a, b, strict=True):
        if left is None or right is None:
            assert left is None and right is None, field
            continue
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


def forbid_preparation(monkeypatch) -> None:
    """Makes any tfds preparation fail the test: the cache alone must do."""
    import tensorflow_datasets as tfds

    def fail(*args, **kwargs):
        raise AssertionError("download_and_prepare called for a prepared dataset")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)


def mock_tfds(splits_by_name: dict):
    """tfds mocked (no preparation, no files) to decode `splits_by_name[name][split]`."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def as_dataset(builder, split, **kwargs):
        images, labels = splits_by_name[builder.name][str(split)]
        return tf.data.Dataset.from_tensor_slices(
            {"image": images[..., None], "label": labels.astype(np.int64)}
        )

    return tfds.testing.mock_data(as_dataset_fn=as_dataset)


# --------------------------------------------------------------------------------------
# Real data: layout, equality of sources, order, validation split
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_idx_source_layout(idx_datasets, name):
    assert_image_dataset(idx_datasets[name])


def test_flatten_false_keeps_image_shape(shared_data_dir, idx_datasets):
    images = load_dataset(
        "mnist", source="idx", data_dir=shared_data_dir, flatten=False, validation=0
    )
    assert_image_dataset(images, flatten=False)
    flat = idx_datasets["mnist"]
    assert np.array_equal(images.x_train.reshape(-1, 784), flat.x_train)


@pytest.mark.slow
@needs_tfds
def test_tfds_prepares_the_real_files_offline_and_equals_idx(
    shared_data_dir, idx_datasets, tmp_path
):
    # The one real preparation (~15 s): tfds checks the raw files and writes its
    # records; the decoded arrays must equal the idx reader's, bit for bit.
    import tensorflow_datasets as tfds

    cache_dir = tmp_path / "cache"
    prepared = load_dataset(
        "mnist", source="tfds", data_dir=shared_data_dir, cache_dir=cache_dir, validation=0
    )
    assert_image_dataset(prepared)
    assert_same_arrays(prepared, idx_datasets["mnist"])
    assert not list(cache_dir.glob(".extract_*"))  # the private extraction folder is gone
    # Prepared for good: later loads read the cache alone (tfds's is_prepared is what
    # load_dataset asks). Reading it back in other orders and layouts, and without a data
    # dir, is test_tfds_and_idx_give_identical_arrays's job (mocked decoding, seconds).
    assert tfds.builder("mnist", data_dir=os.fspath(cache_dir)).is_prepared()


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
@needs_tfds
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_tfds_and_idx_give_identical_arrays(
    shared_data_dir, tfds_order_splits, idx_datasets, tmp_path, monkeypatch, name
):
    # tfds decodes (mocked) records holding the real data in tfds's order; softjax's
    # side (manual_dir config, image/label fields, content sha256, reorder, scaling,
    # validation split) is the real code.
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    with mock_tfds(tfds_order_splits):
        from_tfds = load_dataset(name, cache_dir=tmp_path, validation=0)
        images = load_dataset(name, cache_dir=tmp_path, order="file", flatten=False)
    assert_same_arrays(from_tfds, idx_datasets[name])
    assert_image_dataset(images, flatten=False, num_train=55_000)
    in_file_order = images._replace(
        **{
            field: getattr(images, field).reshape(-1, 784)
            for field in ("x_train", "x_val", "x_test")
        }
    )
    assert_same_arrays(
        in_file_order, load_dataset(name, source="idx", data_dir=shared_data_dir, order="file")
    )
    assert list(tmp_path.iterdir()) == []  # nothing left in the cache


@pytest.mark.slow  # over 8 s on 2 cores (a subprocess importing jax; 6-16 s measured)
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


def test_file_order_is_the_raw_files_order(shared_data_dir, idx_datasets):
    """order="file" gives the raw IDX order (MNIST's well-known first labels 5 0 4 1 9).

    That tfds gives the same arrays with order="file" is checked in
    test_tfds_and_idx_give_identical_arrays.
    """
    from_idx = load_dataset(
        "mnist", source="idx", data_dir=shared_data_dir, order="file", validation=0
    )
    assert from_idx.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert from_idx.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    # The same examples as the default tfds order, only permuted.
    tfds_order = idx_datasets["mnist"]
    assert not np.array_equal(from_idx.y_train, tfds_order.y_train)
    assert np.array_equal(np.sort(from_idx.y_train), np.sort(tfds_order.y_train))


@pytest.mark.parametrize("order", data.ORDERS)
def test_validation_split_is_the_last_5000_training_rows(shared_data_dir, order):
    full = load_dataset("mnist", source="idx", data_dir=shared_data_dir, order=order, validation=0)
    split = load_dataset("mnist", source="idx", data_dir=shared_data_dir, order=order)
    assert data.DEFAULT_VALIDATION == 5000
    assert len(split.x_train) == 55_000 and len(split.x_val) == 5000
    assert len(split.x_test) == 10_000 and split.x_val.shape[1:] == (784,)
    assert np.array_equal(split.x_train, full.x_train[:55_000])
    assert np.array_equal(split.y_train, full.y_train[:55_000])
    assert np.array_equal(split.x_val, full.x_train[55_000:])
    assert np.array_equal(split.y_val, full.y_train[55_000:])
    assert np.array_equal(split.x_test, full.x_test) and np.array_equal(split.y_test, full.y_test)
    assert full.x_val is None and full.y_val is None
    assert_same_arrays(hold_out(full, 5000), split)


@pytest.mark.parametrize("bad", [-1, 60_000, 2.5, True, "5000", None])
def test_bad_validation_is_rejected_before_any_file_is_read(tmp_path, bad):
    # tmp_path has no data: the check must come first, and name the argument.
    with pytest.raises(ValueError, match=r"^validation: expected an int in \[0, 59999\]"):
        load_dataset("mnist", source="idx", data_dir=tmp_path, validation=bad)


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_unknown_dataset_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"^name: .*'mnist', 'fashion_mnist'.*'cifar10'"):
        load_dataset("cifar10")


def test_unknown_source_lists_valid_sources():
    with pytest.raises(ValueError, match=r"^source: .*'tfds', 'idx'.*'csv'"):
        load_dataset("mnist", source="csv")


def test_unknown_order_is_rejected(shared_data_dir):
    with pytest.raises(ValueError, match=r"^order: .*'tfds', 'file'.*'sorted'"):
        load_dataset("mnist", source="idx", data_dir=shared_data_dir, order="sorted")


def test_non_bool_flatten_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"^flatten: expected True or False, got 'no'"):
        load_dataset("mnist", source="idx", data_dir=tmp_path, flatten="no")


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


@pytest.mark.slow  # a real tfds preparation (≈ 8 s)
@needs_tfds
def test_corrupt_file_tfds_source_leaves_no_prepared_copy(raw_copy, tmp_path, shared_data_dir):
    # tfds's own checksum check catches it; softjax says which files and what to do.
    import tensorflow_datasets as tfds

    replace_file(raw_copy, SMALL_FILE, flipped_byte(shared_bytes(shared_data_dir)))
    cache_dir = tmp_path / "cache"
    with pytest.raises(ValueError, match=f"tfds rejected .*corrupt.*{SMALL_FILE}"):
        load_dataset("mnist", source="tfds", data_dir=raw_copy, cache_dir=cache_dir)
    assert not tfds.builder("mnist", data_dir=os.fspath(cache_dir)).is_prepared()
    assert not list(cache_dir.glob("mnist/[0-9]*"))  # no version folder a later load could use
    assert not list(cache_dir.glob(".extract_*"))


def test_idx_source_without_data_dir_says_how_to_fix(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="Set SOFTJAX_DATA_DIR .*mnist/.*or go online"):
        load_dataset("mnist", source="idx")


@needs_tfds
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_no_data_and_no_network_says_how_to_fix(tmp_path, monkeypatch, name):
    # tfds's own download fails (DNS down); its retries are cut to 0 here only to keep
    # the test fast: softjax leaves tfds's retry policy alone.
    from tensorflow_datasets.core.download import downloader

    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, f"cannot resolve {host} (test)")

    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.TFDS_DIR_ENV, str(tmp_path))  # an empty cache
    with pytest.warns(UserWarning, match="tfds will try to download"):  # said before waiting
        with pytest.raises(FileNotFoundError) as error:
            load_dataset(name)
    message = str(error.value)
    assert "Set SOFTJAX_DATA_DIR" in message and f"{name}/" in message
    assert "or go online" in message and f"no prepared copy in {tmp_path}" in message
    assert "cannot resolve" in message  # tfds's own error, kept
    assert not list(tmp_path.glob(f"{name}/[0-9]*"))


@pytest.mark.parametrize("module", ["tensorflow_datasets", "tensorflow"])
def test_tfds_source_without_tensorflow_datasets_says_what_to_install(
    tmp_path, monkeypatch, module
):
    # None in sys.modules makes `import module` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    with pytest.raises(ImportError) as error:
        load_dataset("mnist", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "install softjax[experiments] or pass source='idx'" in message
    assert f"import of {module} halted" in message or f"No module named '{module}'" in message
    assert not (tmp_path / "cache").exists()


@needs_tfds
def test_tfds_is_configured_offline_with_a_private_extraction_folder(
    shared_data_dir, tmp_path, monkeypatch
):
    # tfds names extracted files by bare file name, which MNIST and Fashion-MNIST
    # share: one extraction folder for both would prepare fashion_mnist from MNIST's
    # digits. Each preparation gets its own, removed afterwards, success or not.
    import tensorflow_datasets as tfds

    cache_dir = tmp_path / "cache"
    configs = {}

    def record(builder, *, download_config=None, **kwargs):
        assert Path(download_config.extract_dir).is_dir()
        configs[builder.name] = download_config
        raise OSError("stop before preparing (test)")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", record)
    for name in DATASET_NAMES:
        with pytest.raises(OSError, match="stop before preparing"):  # tfds's error, unchanged
            load_dataset(name, source="tfds", data_dir=shared_data_dir, cache_dir=cache_dir)
    extract_dirs = {Path(config.extract_dir) for config in configs.values()}
    assert len(extract_dirs) == 2 and all(d.parent == cache_dir for d in extract_dirs)
    for name, config in configs.items():
        assert Path(config.manual_dir) == shared_data_dir / name
        assert config.force_checksums_validation and not config.try_download_gcs
    assert list(cache_dir.iterdir()) == []


@needs_tfds
def test_prepared_copy_with_wrong_content_is_rejected(tfds_order_splits, tmp_path, monkeypatch):
    # A fashion_mnist copy whose records hold MNIST digits, as a shared extraction
    # folder would make: only the content tells.
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    digits = {"fashion_mnist": tfds_order_splits["mnist"]}
    with (
        mock_tfds(digits),
        pytest.raises(
            ValueError, match=r"its train split hashes to sha256 fcbef7f0.*expected 8bfde16b"
        ) as error,
    ):
        load_dataset("fashion_mnist", cache_dir=tmp_path)
    assert f"delete the folder {tmp_path / 'fashion_mnist'}" in str(error.value)
    # The real content passes the same check.
    sj_tfds._check_prepared_content("fashion_mnist", tfds_order_splits["fashion_mnist"], tmp_path)


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
        idx._parse_idx(blob, (3,), "blob.idx")


def test_idx_parser_reads_valid_blob():
    blob = _idx_bytes(0x0803, (2, 1, 3), 0) + bytes(range(6))
    assert idx._parse_idx(blob, (2, 1, 3), "blob.idx").tolist() == [[[0, 1, 2]], [[3, 4, 5]]]


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
    with pytest.raises(ValueError, match=f"^{argument}: expected an int ≥ 1, got 0"):
        maker(jax.random.key(0), **kwargs)


def test_synthetic_validation_holds_out_the_last_training_rows():
    full = make_gaussian_classes(jax.random.key(0), validation=0)
    split = make_gaussian_classes(jax.random.key(0), validation=50)
    assert full.x_val is None and full.y_val is None
    assert (len(split.x_train), len(split.x_val), len(split.x_test)) == (360, 50, 102)
    assert np.array_equal(split.x_val, full.x_train[-50:])
    assert np.array_equal(split.y_val, full.y_train[-50:])
    assert_same_arrays(split, hold_out(full, 50))
    with pytest.raises(ValueError, match=r"^validation: expected an int in \[0, 23\]"):
        make_blobs(jax.random.key(0), n_per_class=10, validation=24)  # 30 points, 24 train


@pytest.mark.parametrize("bad", [-1, 410, 2.5, True])
def test_hold_out_rejects_bad_validation(bad):
    full = make_gaussian_classes(jax.random.key(0))
    with pytest.raises(ValueError, match=r"^validation: expected an int in \[0, 409\]"):
        hold_out(full, bad)


def test_synthetic_rejects_non_int_sizes():
    with pytest.raises(ValueError, match=r"^n: expected an int ≥ 1, got 2.5"):
        make_learn_sleep(jax.random.key(0), n=2.5)
