"""Deprecated alias of :mod:`softjax.sweeps` (kept so older imports keep working)."""

from softjax.sweeps import *  # noqa: F403
from softjax.sweeps import __all__  # noqa: F401
