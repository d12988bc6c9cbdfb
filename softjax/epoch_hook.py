"""``train(..., on_epoch=fn)``: a run's history handed to the host one epoch at a time.

The hook lives outside the compiled program. ``train`` runs its chunks one epoch long
when a hook is given (the chunk's end is a traced argument of the one compiled program,
and a run cut into chunks is bitwise the run straight: see :mod:`softjax.run`), then
calls ``fn(epoch, metrics)`` with the epoch's row of the history as Python numbers. So
the params, the history and the compiled program are those of the run without a hook;
the cost is one host round trip per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def check_on_epoch(on_epoch) -> None:
    """None or a function ``fn(epoch, metrics)``.

    Raises:
      ValueError: naming ``on_epoch`` for anything else.
    """
    if on_epoch is not None and not callable(on_epoch):
        raise ValueError(
            f"on_epoch: expected a function fn(epoch, metrics) or None, got {on_epoch!r:.80}"
        )


def epoch_row(history: Mapping[str, Any], epoch: int) -> dict[str, float | list[float]]:
    """Row ``epoch`` (1-based) of a run's history as Python numbers: a float per key, a
    list of floats (one per hidden layer) for the per-layer keys."""
    return {k: np.asarray(v)[epoch - 1].tolist() for k, v in history.items()}


def report_epoch(on_epoch: Callable | None, state, finite: bool) -> None:
    """Calls ``on_epoch(epoch, metrics)`` for the epoch ``state`` just completed; not for
    an epoch that diverged, whose row the returned history drops."""
    if on_epoch is None or not finite:
        return
    epoch = int(np.asarray(state.epoch))
    on_epoch(epoch, epoch_row(state.history, epoch))
