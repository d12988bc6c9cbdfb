"""Labels → target rows, validated once at the public boundary (SPEC §1, §3).

A loss takes ``logits`` (N, K) and ``labels``: int class ids (N,), target rows (N, K)
(one-hot or probabilities), or (N,) targets when K = 1. :func:`check_logits` and
:func:`check_labels` validate them and raise a ``ValueError`` naming the argument;
:func:`to_targets` then turns valid labels into float rows Y of the logits' shape
without checking again (the kernels of ``softjax.losses`` and ``softjax.grads`` use it
inside traced programs).

Shapes and dtypes are static, so they are checked also under ``jit``. Label VALUES are
checked only on concrete inputs: class ids in [0, K); every target finite; the rows of a
softmax loss summing to 1 within ``ROW_SUM_TOL`` (absolute, i.e. relative to the sum 1);
sigmoid targets in [0, 1]. Under ``jit``/``vmap`` the labels are tracers and their
values unknown: an out-of-range id then becomes an all-zero row (``jax.nn.one_hot``) and
that sample's label is silently dropped. Validate labels eagerly before jitting, as
``softjax.train`` does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# What a loss's target values must be, the ``target_kind`` of its record in
# ``softjax.losses``: a distribution over K ≥ 2 classes (a loss on a softmax: rows sum to 1),
# K independent probabilities in [0, 1] (sigmoid losses), or any finite reals.
TARGET_KINDS = ("distribution", "unit", "real")
# What a loss function receives as labels: whatever was given, class ids, or target rows.
LABEL_FORMS = ("any", "ids", "rows")
ROW_SUM_TOL = 1e-3
"""|Σ_k y_k − 1| allowed for a softmax loss's target row (float32 one-hot or softmax
rows are off by ~1e-7; a row summing to 2 or 0.9 is a bug, not rounding)."""


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def as_array(x, argname: str):
    """Arrays (jax, numpy, tracers) pass through; Python lists, tuples and scalars become
    numpy arrays, so that shapes and dtypes can be checked.

    Raises:
      ValueError: naming ``argname`` for ragged or non-numeric input.
    """
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        return x
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        raise ValueError(
            f"{argname}: expected a (nested) sequence of numbers of one shape, "
            f"got a ragged or non-numeric {type(x).__name__}"
        ) from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(
            f"{argname}: expected numbers, got {type(x).__name__} of dtype {arr.dtype}"
        )
    return arr


def check_logits(logits, argname: str = "logits"):
    """Logits must be a floating (N, K) array with N ≥ 1 and K ≥ 1; returns it as an array."""
    logits = as_array(logits, argname)
    shape = np.shape(logits)
    if len(shape) != 2:
        raise ValueError(f"{argname}: expected shape (N, K), got shape {shape}")
    if shape[0] < 1:
        raise ValueError(
            f"{argname}: expected N ≥ 1 rows (the loss is a mean over the batch), got shape {shape}"
        )
    if shape[1] < 1:
        raise ValueError(f"{argname}: expected K ≥ 1 class columns, got shape {shape}")
    if not jnp.issubdtype(jnp.result_type(logits), jnp.floating):
        raise ValueError(f"{argname}: expected a floating dtype, got {jnp.result_type(logits)}")
    return logits


def _check_target_values(labels, name: str, kind: str, argname: str):
    """Concrete float targets: finite; in [0, 1] for sigmoid losses; rows summing to 1
    for softmax losses (rows (N, K) only: (N,) int ids are one-hot by construction)."""
    if not _is_concrete(labels):
        return
    y = np.asarray(labels, dtype=np.float64)
    if y.size == 0:
        return
    bad = ~np.all(np.isfinite(y.reshape(len(y), -1)), axis=-1)
    if bad.any():
        raise ValueError(
            f"{argname}: targets must be finite, got non-finite values in rows "
            f"{np.flatnonzero(bad)[:5].tolist()}"
        )
    if kind == "unit" and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"{argname}: targets for {name!r} must lie in [0, 1], "
            f"got values in [{y.min()}, {y.max()}]"
        )
    if kind == "distribution" and y.ndim == 2:
        sums = y.sum(axis=-1)
        off = np.abs(sums - 1.0) > ROW_SUM_TOL
        if off.any():
            rows = np.flatnonzero(off)[:5].tolist()
            raise ValueError(
                f"{argname}: target rows of {name!r} must sum to 1 (±{ROW_SUM_TOL}), got "
                f"sums {sums[rows].tolist()} in rows {rows}"
            )


def check_labels(labels, num_classes: int, n: int | None, loss, argname: str = "labels"):
    """Validates labels for a K-class model and a loss, before anything is traced.

    Args:
      labels: int class ids (N,), targets (N,) when K = 1, or target rows (N, K).
      num_classes: K, the model's number of outputs.
      n: the expected batch size, or None to skip that check.
      loss: the resolved loss (a ``BoundLoss`` or a loss record): its ``name`` for
        messages, its ``target_kind`` (:data:`TARGET_KINDS`) and its ``labels``
        (:data:`LABEL_FORMS`: a loss that takes class ids needs one-hot rows to convert).
        ``softjax.losses.check_labels`` also takes a loss name.
      argname: the name to report in errors.

    Returns:
      ``labels``, as an array (Python lists become numpy arrays).

    Raises:
      ValueError: naming ``argname`` for a wrong rank or shape, a mismatched N, a
        softmax loss with K < 2, non-integer class ids, or (concrete labels only) ids
        outside [0, K), non-finite targets, sigmoid targets outside [0, 1], or softmax
        target rows not summing to 1, or rows that are not one-hot for a loss taking ids.
    """
    name, kind, form = loss.name, loss.target_kind, loss.labels
    labels = as_array(labels, argname)
    shape = np.shape(labels)
    dtype = jnp.result_type(labels)
    if n is not None and (len(shape) == 0 or shape[0] != n):
        raise ValueError(
            f"{argname}: expected {n} rows to match the logits/inputs, got shape {shape}"
        )
    if (kind == "distribution" or form == "ids") and num_classes < 2:
        raise ValueError(
            f"{argname}: loss {name!r} needs K ≥ 2 classes (a softmax over one "
            f"class is constant), got K={num_classes}; use 'sigmoid_bce' or 'square' "
            "for one output"
        )
    if len(shape) == 2:
        if shape[1] != num_classes:
            raise ValueError(
                f"{argname}: target rows must have K={num_classes} columns, got shape {shape}"
            )
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"{argname}: target rows (N, K) must be floating, got {dtype}")
        _check_target_values(labels, name, kind, argname)
        if form == "ids":
            _check_one_hot(labels, name, argname)
        return labels
    if len(shape) != 1:
        raise ValueError(
            f"{argname}: expected class ids (N,) or target rows (N, {num_classes}), "
            f"got shape {shape}"
        )
    if num_classes == 1:  # (N,) targets of a single output: sigmoid losses or square
        _check_target_values(labels, name, kind, argname)
        return labels
    if not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(
            f"{argname}: class ids (N,) must be integers, got dtype {dtype}; "
            "pass int ids or one-hot rows (N, K)"
        )
    if _is_concrete(labels):
        y = np.asarray(labels)
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"{argname}: class ids must lie in [0, {num_classes}), "
                f"got values in [{y.min()}, {y.max()}]"
            )
    return labels


def _check_one_hot(rows, name: str, argname: str):
    """Concrete rows given to a loss that takes class ids must be one-hot (else the ids
    they stand for are undefined)."""
    if not _is_concrete(rows):
        return
    y = np.asarray(rows, dtype=np.float64)
    bad = ~(np.all((y == 0) | (y == 1), axis=-1) & (y.sum(axis=-1) == 1))
    if bad.any():
        raise ValueError(
            f"{argname}: loss {name!r} takes class ids, so target rows must be one-hot; "
            f"rows {np.flatnonzero(bad)[:5].tolist()} are not"
        )


def to_ids(labels):
    """Class ids (N,) from checked labels: ids pass, one-hot rows become their argmax."""
    labels = jnp.asarray(labels)
    return jnp.argmax(labels, axis=-1) if labels.ndim == 2 else labels


def to_targets(z, labels):
    """Float target rows Y of ``z``'s shape (N, K) and dtype, from labels already checked
    by :func:`check_labels` (no checks here: this runs inside traced programs).

    Int ids become one-hot rows; with K = 1, (N,) targets become a column.
    """
    labels = jnp.asarray(labels)
    if labels.ndim == 2 or z.shape[-1] == 1:
        return labels.astype(z.dtype).reshape(z.shape)
    return jax.nn.one_hot(labels, z.shape[-1], dtype=z.dtype)


def logits_and_targets(logits, labels, loss):
    """Validates, then returns ``(z, Y)``: the logits as a jax array and the float target
    rows Y of their shape (N, K) and dtype (see :func:`to_targets`)."""
    logits = check_logits(logits)
    n, k = np.shape(logits)
    labels = check_labels(labels, k, n, loss)
    z = jnp.asarray(logits)
    return z, to_targets(z, labels)
