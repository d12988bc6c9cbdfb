"""Calibration metrics of a classifier's probabilities: ECE, NLL and reliability bins.

Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks" (ICML 2017),
§2: a model's *confidence* on a sample is its largest class probability p̂ = max_k p_k,
its prediction ŷ = argmax_k p_k. Group the n samples into M equal-width confidence bins
B_m = ((m − 1)/M, m/M] (a confidence of exactly 0 goes into the first bin); then

    acc(B_m)  = (1/|B_m|) Σ_{i∈B_m} 1[ŷ_i = y_i],
    conf(B_m) = (1/|B_m|) Σ_{i∈B_m} p̂_i,
    ECE       = Σ_m (|B_m| / n) · |acc(B_m) − conf(B_m)|        (their eq. 3, M = 15).

A reliability diagram plots acc(B_m) against the bin (their Fig. 1). The negative
log-likelihood is −(1/n) Σ_i log p_{i, y_i}.

Pure ``jnp`` functions of probabilities (N, K) and int labels (N,): they work under
``jit`` and ``vmap`` (``num_bins`` is static).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

NUM_BINS = 15
"""Guo et al.'s M."""


def _check(probs, labels, num_bins: int = NUM_BINS) -> None:
    """Static checks (shapes and ``num_bins``), so they hold under ``jit`` too."""
    if jnp.ndim(probs) != 2:
        raise ValueError(f"probs: expected probability rows (N, K), got shape {jnp.shape(probs)}")
    if jnp.shape(labels) != (jnp.shape(probs)[0],):
        raise ValueError(
            f"labels: expected int class ids of shape ({jnp.shape(probs)[0]},), got shape "
            f"{jnp.shape(labels)}"
        )
    if not isinstance(num_bins, int) or num_bins < 1:
        raise ValueError(f"num_bins: expected an int ≥ 1, got {num_bins!r}")


def bin_index(conf, num_bins: int = NUM_BINS):
    """The bin m − 1 ∈ {0, …, M − 1} of each confidence: B_m = ((m − 1)/M, m/M]."""
    return jnp.clip(jnp.ceil(conf * num_bins).astype(jnp.int32) - 1, 0, num_bins - 1)


def _bins(probs, labels, num_bins):
    conf = jnp.max(probs, axis=-1)
    correct = (jnp.argmax(probs, axis=-1) == labels).astype(conf.dtype)
    idx = bin_index(conf, num_bins)
    count = jax.ops.segment_sum(jnp.ones_like(conf), idx, num_segments=num_bins)
    conf_sum = jax.ops.segment_sum(conf, idx, num_segments=num_bins)
    correct_sum = jax.ops.segment_sum(correct, idx, num_segments=num_bins)
    safe = jnp.maximum(count, 1)
    empty = count == 0
    return {
        "edges": jnp.linspace(0.0, 1.0, num_bins + 1, dtype=conf.dtype),
        "count": count,
        "confidence": jnp.where(empty, jnp.nan, conf_sum / safe),
        "accuracy": jnp.where(empty, jnp.nan, correct_sum / safe),
    }


def _ece(bins, n):
    gap = jnp.where(bins["count"] > 0, jnp.abs(bins["accuracy"] - bins["confidence"]), 0.0)
    return jnp.sum(bins["count"] * gap) / n


def _nll(probs, labels):
    p = jnp.take_along_axis(probs, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return -jnp.mean(jnp.log(jnp.maximum(p, jnp.finfo(probs.dtype).tiny)))


def _accuracy(probs, labels):
    return jnp.mean(jnp.argmax(probs, axis=-1) == labels)


def reliability_bins(probs, labels, num_bins: int = NUM_BINS) -> dict:
    """Per-bin ``count``, mean ``confidence`` and ``accuracy`` (NaN for empty bins), and
    the bin ``edges`` (M + 1,)."""
    _check(probs, labels, num_bins)
    return _bins(probs, labels, num_bins)


def expected_calibration_error(probs, labels, num_bins: int = NUM_BINS):
    """ECE = Σ_m (|B_m|/n) |acc(B_m) − conf(B_m)| over M equal-width bins (Guo et al., eq. 3)."""
    _check(probs, labels, num_bins)
    return _ece(_bins(probs, labels, num_bins), probs.shape[0])


def negative_log_likelihood(probs, labels):
    """−(1/n) Σ_i log p_{i,y_i}; a zero probability is raised to the dtype's tiny, so one
    sample costs at most −log(tiny) (≈ 87.3 in float32) instead of making the mean inf."""
    _check(probs, labels)
    return _nll(probs, labels)


def accuracy(probs, labels):
    """The fraction of samples whose argmax probability is the label."""
    _check(probs, labels)
    return _accuracy(probs, labels)


def calibration_report(probs, labels, num_bins: int = NUM_BINS) -> dict:
    """``ece``, ``nll``, ``accuracy``, ``mean_confidence`` and the reliability ``bins``."""
    _check(probs, labels, num_bins)
    bins = _bins(probs, labels, num_bins)
    return {
        "ece": _ece(bins, probs.shape[0]),
        "nll": _nll(probs, labels),
        "accuracy": _accuracy(probs, labels),
        "mean_confidence": jnp.mean(jnp.max(probs, axis=-1)),
        "bins": bins,
    }
