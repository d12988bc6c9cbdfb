"""Is a budget long enough? "Still improving" at the last epoch, and "slows" vs "stops".

A fixed short budget confounds a rule that *slows* learning with one that *stops* it: an
arm still climbing at its last epoch has not shown where it ends. The rule:

* **Still improving.** The least-squares slope of the validation curve over its last
  ``last`` epochs (``Σ(e − ē)(y − ȳ) / Σ(e − ē)²``, per epoch) is above ``threshold``
  (defaults: the last 3 epochs, 0.002 per epoch, i.e. 0.2 points of accuracy a epoch).
  Such an arm gets a budget at least :data:`LONGER` (3) times as long.
* **Slows or stops.** On the longer run's curve, with the short budget's length
  ``short_epochs``: the gain ``y[−1] − y[short_epochs − 1]``. "slows" when the gain is
  at least ``min_gain`` (default 0.01, one point) or the long curve is itself still
  improving at its end (then :attr:`BudgetVerdict.still_improving_at_end` says so and an
  even longer budget could move it); "stops" otherwise: more epochs bought less than
  ``min_gain`` and the curve is flat.

The curve is one arm's validation metric per epoch (higher is better), e.g. the mean
over its replicates.

>>> still_improving([0.30, 0.40, 0.48, 0.60, 0.69])
True
>>> slows_or_stops([0.3, 0.55, 0.556, 0.556, 0.557, 0.556], short_epochs=2, last=2).verdict
'stops'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

SLOPE_WINDOW = 3
SLOPE_THRESHOLD = 0.002
MIN_GAIN = 0.01
LONGER = 3


def _curve(curve: Sequence[float], last: int) -> list[float]:
    y = [float(v) for v in curve]
    if not (isinstance(last, int) and last >= 2):
        raise ValueError(f"last: expected an int ≥ 2 epochs, got {last!r}")
    if len(y) < last:
        raise ValueError(f"curve: expected at least last={last} epochs, got {len(y)}")
    bad = [v for v in y if not math.isfinite(v)]
    if bad:
        raise ValueError(f"curve: expected finite values (a diverged run has none), got {bad}")
    return y


def slope(curve: Sequence[float], last: int = SLOPE_WINDOW) -> float:
    """The least-squares slope per epoch of the last ``last`` values of ``curve``.

    >>> slope([0.1, 0.2, 0.4, 0.5, 0.6])
    0.1
    """
    y = _curve(curve, last)[-last:]
    xm, ym = (last - 1) / 2, math.fsum(y) / last
    num = math.fsum((x - xm) * (v - ym) for x, v in enumerate(y))
    return round(num / math.fsum((x - xm) ** 2 for x in range(last)), 15)


def still_improving(
    curve: Sequence[float], *, last: int = SLOPE_WINDOW, threshold: float = SLOPE_THRESHOLD
) -> bool:
    """True when :func:`slope` over the last ``last`` epochs is above ``threshold``."""
    return slope(curve, last) > threshold


@dataclass(frozen=True)
class BudgetVerdict:
    """The longer budget's outcome: ``verdict`` ("slows" or "stops"), the short and long
    budgets (epochs), the curve's value at each, ``gain`` between them, the slopes at the
    end of each, and the constants the rule used."""

    verdict: str
    short_epochs: int
    long_epochs: int
    at_short: float
    at_long: float
    gain: float
    slope_at_short: float
    slope_at_long: float
    still_improving_at_end: bool
    threshold: float
    min_gain: float
    last: int

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)

    def render(self, scale: float = 1.0, unit: str = "") -> str:
        """E.g. ``slows: 48.00 at 5 epochs → 69.00 at 15 (+21.00), still improving``."""
        tail = ", still improving" if self.still_improving_at_end else ""
        return (
            f"{self.verdict}: {self.at_short * scale:.2f}{unit} at {self.short_epochs} epochs "
            f"→ {self.at_long * scale:.2f}{unit} at {self.long_epochs} "
            f"({self.gain * scale:+.2f}{unit}){tail}"
        )


def slows_or_stops(
    curve: Sequence[float],
    short_epochs: int,
    *,
    last: int = SLOPE_WINDOW,
    threshold: float = SLOPE_THRESHOLD,
    min_gain: float = MIN_GAIN,
    longer: int = LONGER,
) -> BudgetVerdict:
    """The verdict of a longer run's ``curve`` against the short budget (module docstring).

    Raises:
      ValueError: naming ``curve`` when it is shorter than ``longer × short_epochs`` or
        not finite, or ``short_epochs`` when it is shorter than ``last``.
    """
    if not (isinstance(short_epochs, int) and short_epochs >= last):
        raise ValueError(
            f"short_epochs: expected an int ≥ last={last} epochs, got {short_epochs!r}"
        )
    y = _curve(curve, last)
    if len(y) < longer * short_epochs:
        raise ValueError(
            f"curve: expected a budget at least {longer}× the short one "
            f"({longer * short_epochs} epochs), got {len(y)}"
        )
    gain = y[-1] - y[short_epochs - 1]
    improving = still_improving(y, last=last, threshold=threshold)
    return BudgetVerdict(
        verdict="slows" if gain >= min_gain or improving else "stops",
        short_epochs=short_epochs,
        long_epochs=len(y),
        at_short=y[short_epochs - 1],
        at_long=y[-1],
        gain=gain,
        slope_at_short=slope(y[:short_epochs], last),
        slope_at_long=slope(y, last),
        still_improving_at_end=improving,
        threshold=threshold,
        min_gain=min_gain,
        last=last,
    )
