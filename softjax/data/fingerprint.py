"""What identifies a dataset cheaply, for resume keys and checkpoints: row counts, dtype
and a hash of every label and of evenly strided rows (numpy only)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

FINGERPRINT_ROWS = 256
"""Rows of each ``x`` split hashed (evenly strided) by :func:`data_fingerprint`."""

_SPLITS = ("train", "val", "test")


def data_splits(data) -> dict[str, tuple[Any, Any]]:
    """``{"train": (x, y), ["val": (x, y),] "test": (x, y)}`` of a Dataset/Data or a 4- or
    6-tuple ``(x_train, y_train, [x_val, y_val,] x_test, y_test)``; no val when absent."""
    if hasattr(data, "x_train"):
        arrays = {
            s: (getattr(data, f"x_{s}", None), getattr(data, f"y_{s}", None)) for s in _SPLITS
        }
    else:
        items = tuple(data)
        if len(items) == 4:
            items = items[:2] + (None, None) + items[2:]
        if len(items) != 6:
            raise ValueError(f"data: expected 4 or 6 arrays, got {len(items)}")
        arrays = {s: (items[2 * i], items[2 * i + 1]) for i, s in enumerate(_SPLITS)}
    return {s: xy for s, xy in arrays.items() if xy[0] is not None}


def _digest(h, name: str, a) -> None:
    a = np.ascontiguousarray(np.asarray(a))
    h.update(f"{name}:{a.dtype.str}:{a.shape}:".encode())
    h.update(a.tobytes())


def data_fingerprint(data, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """What identifies the data of a run or sweep, cheaply: row counts, dtype and a hash.

    The hash (sha256, 16 hex digits) covers every label of each split (so another subset
    or row order changes it) and ``FINGERPRINT_ROWS`` evenly strided rows of each ``x``.
    A validation split, when present, is hashed and counted (``n_val``); data without one
    fingerprints as before, so older files still resume. ``info`` adds what the arrays
    cannot say (dataset, source, subset) and is stored as given.
    """
    splits = data_splits(data)
    h = hashlib.sha256()
    # Order kept from the 4-array fingerprint: x_train, x_test, then labels.
    x_order = ["train", "test"] + (["val"] if "val" in splits else [])
    for split in x_order:
        x = splits[split][0]
        step = max(1, len(x) // FINGERPRINT_ROWS)
        _digest(h, f"x_{split}", np.asarray(x[::step]))
        h.update(f"x_{split}.shape:{tuple(np.shape(x))}".encode())
    for split in x_order:
        _digest(h, f"y_{split}", splits[split][1])
    counts = {f"n_{s}": int(len(splits[s][0])) for s in ("train", "test", "val") if s in splits}
    return {
        **counts,
        "x_dtype": np.dtype(np.asarray(splits["train"][0][:1]).dtype).name,
        "sha256": h.hexdigest()[:16],
        **(info or {}),
    }
