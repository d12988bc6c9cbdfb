"""Symmetric label noise on the TRAINING labels (Ghosh, Kumar & Sastry 2017; Zhang &
Sabuncu 2018).

Symmetric noise at rate η: a fraction η of the training samples has its label replaced by
one of the K − 1 *other* classes, uniformly. Here the fraction is exact, not a Bernoulli
draw: ``round(η·N)`` samples are chosen without replacement, so two runs at one rate
differ only in which samples flip, never in how many. A flipped label is
``(y + u) mod K`` with ``u`` uniform on {1, …, K − 1}, which is uniform over the other
classes and never the true one. Validation and test labels are the clean ones: the
experiments measure how well a loss learns the clean rule from noisy training labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from softjax._checks import is_real, positive_int
from softjax.data.dataset import Dataset


def _check_rate(rate) -> float:
    if not is_real(rate) or not 0 <= rate < 1:
        raise ValueError(f"rate: expected a number in [0, 1), got {rate!r}")
    return float(rate)


def symmetric_noise(key, labels, rate: float, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy_labels, flipped)``: exactly ``round(rate·N)`` labels moved to another class.

    Args:
      key: a ``jax.random`` key; the same key, labels and rate give the same corruption.
      labels: int class ids (N,) in [0, num_classes).
      rate: the noise rate η in [0, 1).
      num_classes: K ≥ 2.

    Returns:
      int32 noisy labels (N,) and the bool mask (N,) of the samples that flipped.

    Raises:
      ValueError: naming ``rate``, ``num_classes`` or ``labels``.
    """
    rate = _check_rate(rate)
    positive_int(num_classes, "num_classes", minimum=2)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected int class ids (N,), got {labels.dtype}{labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels: expected ids in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
        )
    n = labels.shape[0]
    n_flip = round(rate * n)
    pick_key, shift_key = jax.random.split(key)
    chosen = np.asarray(jax.random.permutation(pick_key, n))[:n_flip]
    shift = np.asarray(jax.random.randint(shift_key, (n_flip,), 1, num_classes))
    flipped = np.zeros(n, bool)
    flipped[chosen] = True
    noisy = labels.astype(np.int32).copy()
    noisy[chosen] = (noisy[chosen] + shift) % num_classes
    return noisy, flipped


def corrupt_train_labels(
    key, data: Dataset, rate: float, num_classes: int | None = None
) -> tuple[Dataset, np.ndarray]:
    """``(data with noisy y_train, flipped mask)``; validation and test are untouched.

    ``num_classes`` defaults to ``1 + max`` over every split's labels.
    """
    if not isinstance(data, Dataset):
        raise ValueError(f"data: expected a softjax Dataset, got {type(data).__name__}")
    if num_classes is None:
        ys = [y for y in (data.y_train, data.y_val, data.y_test) if y is not None]
        num_classes = int(max(int(jnp.max(y)) for y in ys)) + 1
    noisy, flipped = symmetric_noise(key, data.y_train, rate, num_classes)
    return data._replace(y_train=noisy), flipped
