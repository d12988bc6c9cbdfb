"""`Dataset`, the pytree every loader returns, and the validation hold-out."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from softjax._checks import is_int

#: 8-bit images are scaled to [0, 1] as ``float32(k) / PIXEL_SCALE`` for pixel k of 0…255.
PIXEL_SCALE = 255


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


def _check_validation(validation: int, num_train: int) -> int:
    """``validation`` if it is an int in [0, num_train − 1], else a ValueError naming it."""
    if not is_int(validation) or not 0 <= validation < num_train:
        raise ValueError(
            f"validation: expected an int in [0, {num_train - 1}] (rows held out of the "
            f"{num_train} training rows), got {validation!r}"
        )
    return int(validation)


def _split_off(data: Dataset, validation: int) -> Dataset:
    """`hold_out` for a ``validation`` that is already checked."""
    if validation == 0:
        return data._replace(x_val=None, y_val=None)
    cut = len(data.x_train) - validation
    return data._replace(
        x_train=data.x_train[:cut],
        y_train=data.y_train[:cut],
        x_val=data.x_train[cut:],
        y_val=data.y_train[cut:],
    )


def hold_out(data: Dataset, validation: int) -> Dataset:
    """The last ``validation`` training rows moved into ``x_val``/``y_val``.

    The rows keep their order, so the split is fixed for a fixed load order;
    ``validation=0`` gives ``x_val = y_val = None``. Works on any `Dataset`, e.g. a
    user's own arrays wrapped as ``Dataset(x_train, y_train, x_test, y_test)``.

    Raises:
      ValueError: naming ``validation`` unless it is an int in [0, N_train − 1].
    """
    return _split_off(data, _check_validation(validation, len(data.x_train)))
