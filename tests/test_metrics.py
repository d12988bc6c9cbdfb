"""Tests for softjax.metrics: calibration metrics (Guo et al. 2017) against a hand
computation, and their argument checks."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softjax import metrics

# Four samples, K = 3. Confidences 0.9 (right), 0.92 (wrong), 0.5 (right), 0.42 (wrong):
# bins ((m−1)/15, m/15] put 0.9 and 0.92 in bin 14, 0.5 in bin 8, 0.42 in bin 7.
PROBS = np.array(
    [[0.9, 0.05, 0.05], [0.05, 0.92, 0.03], [0.5, 0.3, 0.2], [0.42, 0.33, 0.25]], np.float64
)
LABELS = np.array([0, 0, 0, 2])


def test_ece_equals_the_hand_computed_value():
    # bin 14: acc 1/2, conf 0.91, weight 2/4; bin 8: acc 1, conf 0.5; bin 7: acc 0, conf 0.42.
    by_hand = 0.5 * abs(0.5 - 0.91) + 0.25 * abs(1 - 0.5) + 0.25 * abs(0 - 0.42)
    assert by_hand == pytest.approx(0.435)
    with jax.enable_x64(True):
        probs, labels = jnp.asarray(PROBS), jnp.asarray(LABELS)
        assert float(metrics.expected_calibration_error(probs, labels)) == pytest.approx(
            by_hand, rel=1e-12
        )
        jitted = jax.jit(metrics.expected_calibration_error)(probs, labels)
        assert float(jitted) == pytest.approx(by_hand, rel=1e-12)
        bins = metrics.reliability_bins(probs, labels)
        assert np.asarray(bins["count"]).tolist() == [0] * 6 + [1, 1] + [0] * 5 + [2, 0]
        assert float(bins["confidence"][13]) == pytest.approx(0.91)
        assert float(bins["accuracy"][13]) == pytest.approx(0.5)
        assert np.isnan(bins["accuracy"][0])  # empty bins are NaN, weighted 0 in the ECE
        nll = -(math.log(0.9) + math.log(0.05) + math.log(0.5) + math.log(0.25)) / 4
        assert float(metrics.negative_log_likelihood(probs, labels)) == pytest.approx(nll)


def test_bin_edges_are_right_closed_and_zero_goes_first():
    conf = jnp.asarray([0.0, 1e-6, 1 / 15 + 1e-4, 0.5, 1.0])
    assert np.asarray(metrics.bin_index(conf)).tolist() == [0, 0, 1, 7, 14]
    # One-hot predictions that are always right are perfectly calibrated; a zero
    # probability on the label costs −log(tiny), finite.
    eye = jnp.eye(3)
    assert float(metrics.expected_calibration_error(eye, jnp.arange(3))) == 0.0
    assert np.isfinite(float(metrics.negative_log_likelihood(eye, jnp.asarray([1, 2, 0]))))


def test_metrics_name_a_bad_argument():
    with pytest.raises(ValueError, match="probs"):
        metrics.expected_calibration_error(jnp.ones(3), jnp.zeros(3, int))
    with pytest.raises(ValueError, match="labels"):
        metrics.negative_log_likelihood(jnp.ones((3, 2)) / 2, jnp.zeros(4, int))
    with pytest.raises(ValueError, match="num_bins"):
        metrics.reliability_bins(jnp.ones((3, 2)) / 2, jnp.zeros(3, int), num_bins=0)
