"""The training history's schema: its keys, their shapes, and a diverged run's cut.

A history is ``{key: float32 array}`` with one row per epoch: (epochs,) for most keys,
(epochs, L) for the per-layer keys of :mod:`softjax.hidden`. Every run has
:data:`HISTORY_KEYS`; a run with a validation split adds :data:`VALIDATION_KEYS`. The
compiled program (:mod:`softjax.training`) fills the rows, :func:`softjax.train` and the
sweep records cut them at divergence (:func:`cut_history`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from softjax.hidden import LAYER_KEYS, hidden_layers

HISTORY_KEYS = (
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "logits_grad_norm",
    "logits_grad_norm_wrong",
    "saturated_wrong",
    "grad_cos_ce",
    "hidden_fprime",
    "hidden_saturated",
    "hidden_fprime_first",
    "hidden_fprime_last",
    "hidden_saturated_first",
    "hidden_saturated_last",
)
"""The per-epoch history keys every run has. ``train_*`` and the diagnostics are running
means over the epoch's minibatches, computed with the params each batch was trained from
(what a training log reports); ``test_*`` evaluate the params at the end of the epoch on the
whole test set (with ``config.test_each_epoch=False``, at the end of the last epoch only:
NaN before it). Diagnostics:

* ``logits_grad_norm``: the mean over samples of ‖∂ℓ_i/∂z_i‖ (each sample's own loss);
  ``logits_grad_norm_wrong``: the same mean over the misclassified samples only (0 in an
  epoch without any), since a mean over all samples is dominated by the ones already right;
* ``saturated_wrong``: the fraction of samples whose largest softmax probability exceeds
  :data:`softjax.diagnostics.SATURATION_THRESHOLD` on a wrong class;
* ``grad_cos_ce``: the mean over samples of the cosine between the loss's ∂ℓ_i/∂z_i and
  cross-entropy's on the same logits, softmax(z_i) − y_i (σ(z_i) − y_i with one output):
  1 for ``cce``; how far another loss's step direction is from CE's (SPEC §3);
* ``hidden_fprime``: per epoch a vector over the L hidden layers (index 0 nearest the
  input; the history holds (epochs, L)) of the mean f′(Z_l) over samples and units;
  ``hidden_saturated``: the same vector of the fraction of (sample, unit) pairs with
  f′ < :data:`softjax.hidden.HIDDEN_SATURATION` · max f′. The backward recursion
  δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) (SPEC §4) multiplies by these factors, so they show
  where the gradient dies (:mod:`softjax.hidden`). A model without a hidden layer reports
  L = 1 with f′ = 1 and 0 saturated (the identity);
* ``hidden_fprime_first``/``_last``, ``hidden_saturated_first``/``_last``: the first and
  last entries of those vectors (kept for results written before the per-layer keys).

With ``config.diagnostics=False`` the diagnostics (:data:`DIAGNOSTIC_KEYS`) are not
computed and stay NaN; the losses and accuracies, and the params, are the same."""

DIAGNOSTIC_KEYS = tuple(
    k
    for k in HISTORY_KEYS
    if k not in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
)
"""The keys of :data:`HISTORY_KEYS` that ``config.diagnostics=False`` leaves NaN (the
history keeps every key, so code reading a history never depends on the flag)."""

VALIDATION_KEYS = ("val_loss", "val_accuracy")
"""Added to the history exactly when the data has a validation split (decided at trace
time from the data's structure): the end-of-epoch params on the whole validation set.
Iterate over a history's own keys rather than assuming a fixed set."""


def history_keys(data) -> tuple[str, ...]:
    """The history's keys for this data: :data:`HISTORY_KEYS` (+ :data:`VALIDATION_KEYS`)."""
    return HISTORY_KEYS + (VALIDATION_KEYS if data.x_val is not None else ())


def history_shape(config, key: str) -> tuple[int, ...]:
    """The shape of ``history[key]`` for one run of ``config``: (epochs, L) for
    :data:`LAYER_KEYS`, (epochs,) for every other key."""
    return (config.epochs, hidden_layers(config)) if key in LAYER_KEYS else (config.epochs,)


def cut_history(
    history: Mapping[str, Any], finite: bool
) -> tuple[dict[str, np.ndarray], int | None]:
    """``(history, diverged_epoch)``: a diverged run's history cut before its NaN epochs.

    The compiled program writes NaN for every epoch from the one that diverged on; the
    cut keeps the completed epochs and names the 1-based epoch that diverged (None when
    the run stayed finite).
    """
    history = {k: np.asarray(v) for k, v in history.items()}
    if finite:
        return history, None
    completed = int(np.argmax(np.isnan(history["train_loss"])))
    return {k: v[:completed] for k, v in history.items()}, completed + 1
