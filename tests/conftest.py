"""Shared fixtures: the raw MNIST data folder and datasets loaded once per session."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET_NAMES = ("mnist", "fashion_mnist")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Folder holding mnist/ and fashion_mnist/ raw files: $SOFTJAX_DATA_DIR, else
    ../shared/data next to the repo. Skips the test when either folder is absent."""
    data_dir = Path(os.environ.get("SOFTJAX_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    missing = [name for name in DATASET_NAMES if not (data_dir / name).is_dir()]
    if missing:
        pytest.skip(f"raw data for {missing} not under {data_dir}; set SOFTJAX_DATA_DIR")
    return data_dir


@pytest.fixture(scope="session")
def idx_datasets(shared_data_dir):
    """{name: Dataset} read with the fast, TF-free source="idx" (~0.3 s each)."""
    from softjax.data import load_dataset

    return {
        name: load_dataset(name, source="idx", data_dir=shared_data_dir, validation=0)
        for name in DATASET_NAMES
    }


@pytest.fixture(scope="session")
def tfds_cache_dir(tmp_path_factory) -> Path:
    """A fresh tfds cache for this session; empty until `tfds_datasets` fills it."""
    return tmp_path_factory.mktemp("tfds_cache")


@pytest.fixture(scope="session")
def tfds_datasets(shared_data_dir, tfds_cache_dir):
    """{name: Dataset} via source="tfds", prepared ONCE into `tfds_cache_dir`.

    Preparing costs ~12-17 s per dataset, hence session scope. mnist goes first on
    purpose: fashion_mnist prepared after it in the same cache is the regression case
    for tfds's shared extraction folder.
    """
    if importlib.util.find_spec("tensorflow_datasets") is None:
        pytest.skip("tensorflow-datasets is not installed")
    from softjax.data import load_dataset  # imports TensorFlow itself, quietly

    return {
        name: load_dataset(name, data_dir=shared_data_dir, cache_dir=tfds_cache_dir, validation=0)
        for name in DATASET_NAMES
    }
