"""The few argument checks every public entry point shares, written once.

Each raises a ``ValueError`` that names the argument, says what was expected and shows
what came. They run in plain Python at the public boundary, before anything is traced;
code inside a compiled program trusts what they let through.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

SEED_LIMIT = 2**32
"""Seeds are ints in ``[0, 2**32)``: ``jax.random.PRNGKey`` keeps only 32 bits, so a larger
(or negative) seed would silently alias a smaller one (``2**32`` is ``0``)."""


def is_int(x) -> bool:
    """A Python or numpy integer; ``True`` is not a number here."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_)


def is_real(x) -> bool:
    """A real number, numpy scalars included; ``True`` is not a number here."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_)


def one_of(value: Any, choices: Iterable, argname: str) -> Any:
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # an unhashable or incomparable value
        ok = False
    if not ok:
        raise ValueError(f"{argname}: expected one of {list(choices)}, got {value!r}")
    return value


def positive_int(value: Any, argname: str, *, minimum: int = 1) -> int:
    """``int(value)`` for an int ≥ ``minimum`` (1 by default), else a ValueError."""
    if not is_int(value) or value < minimum:
        raise ValueError(f"{argname}: expected an int ≥ {minimum}, got {value!r}")
    return int(value)


def positive_float(value: Any, argname: str) -> float:
    """``float(value)`` for a finite real number > 0, else a ValueError."""
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{argname}: expected a finite number > 0, got {value!r}")
    return float(value)


def seed(value: Any, argname: str = "seed") -> int:
    """``int(value)`` for an int in ``[0, 2**32)`` (see :data:`SEED_LIMIT`), else a ValueError."""
    if not is_int(value) or not 0 <= value < SEED_LIMIT:
        raise ValueError(
            f"{argname}: expected an int in [0, 2**32) (PRNGKey keeps 32 bits, so other "
            f"values alias these), got {value!r}"
        )
    return int(value)


def boolean(value: Any, argname: str) -> bool:
    """``bool(value)`` for True or False (numpy's too), else a ValueError."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{argname}: expected True or False, got {value!r}")
    return bool(value)
