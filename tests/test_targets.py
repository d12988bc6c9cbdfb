"""Tests for softjax.targets: the labels' checks at the boundary and the target rows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softjax.losses import as_targets, check_labels


def test_label_range_is_only_checked_when_concrete():
    """Under jit the label values are unknown (shapes are still checked): documented in
    softjax.losses. An out-of-range id then becomes an all-zero target row, silently."""
    check_labels(jnp.asarray([0, 2]), 3, 2, "cce")
    with pytest.raises(ValueError, match="labels"):
        check_labels(jnp.asarray([0, 3]), 3, 2, "cce")
    jax.jit(lambda y: check_labels(y, 3, 2, "cce"))(jnp.asarray([0, 3]))
    targets = jax.jit(as_targets)(jnp.zeros((2, 3), jnp.float32), jnp.asarray([0, 3]))
    np.testing.assert_array_equal(targets, [[1, 0, 0], [0, 0, 0]])
