"""Shared fixtures: the raw MNIST data folder and datasets loaded once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# JAX's persistent compile cache (softjax.compilation_cache), which train() and sweep()
# turn on: a throwaway folder per session, never the user's ~/.cache. A user's own setting
# (a folder, or "off") wins.
os.environ.setdefault(
    "SOFTJAX_COMPILATION_CACHE", tempfile.mkdtemp(prefix="softjax-test-jax-cache-")
)
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
def tfds_order_splits(shared_data_dir):
    """{name: {split: (uint8 images, labels)}} exactly as tfds stores them, read by the
    idx source: what a prepared tfds copy decodes to, without TensorFlow (~0.3 s each)."""
    from softjax.data import idx

    return {
        name: idx._reorder(
            {
                split: idx._load_idx_split(shared_data_dir / name, name, split)
                for split in idx._SPLITS
            },
            "idx",
            "tfds",
        )
        for name in DATASET_NAMES
    }


def figure_titles(fig) -> list[str]:
    """The suptitle and every panel title (centre, left, right) of ``fig``."""
    texts = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.get_title(loc) for loc in ("center", "left", "right")]
    return [t for t in texts if t]


@pytest.fixture(autouse=True)
def _titles_of_at_most_two_lines(monkeypatch):
    """Every figure a test saves has titles of at most two lines (issue 33: a title that
    runs to three or more lines is shortened, its detail moved to a caption or legend)."""
    from matplotlib.figure import Figure

    savefig = Figure.savefig

    def checked(fig, *args, **kwargs):
        long = [t for t in figure_titles(fig) if t.count("\n") > 1]
        assert not long, f"titles of more than two lines: {long}"
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", checked)


@pytest.fixture(autouse=True)
def _fresh_sweep_programs():
    """Each test builds its own sweep programs: one that monkeypatches
    ``core.build_program`` must not leave its stand-in in ``shared_program``'s store."""
    from softjax.sweeps import core

    core.clear_programs()
    yield
    core.clear_programs()
