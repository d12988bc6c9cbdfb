"""One colour per loss for every figure of the project, read from the loss's record.

Import :data:`LOSS_COLOURS` / :func:`loss_colour` rather than choosing colours per figure,
so a reader who learnt "MSE is red" in one figure reads every other one the same way. The
colour lives in each loss's record (``softjax.losses.LOSSES.record(name).colour``); a
user's loss sets it with ``register_loss(..., colour=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from softjax.losses import LOSSES


class _LossColours(Mapping):
    """Loss name → colour, a live read-only view of the records (users' losses included)."""

    def __getitem__(self, name: str) -> str:
        if name not in LOSSES:
            raise KeyError(name)
        return LOSSES.record(name).colour

    def __iter__(self) -> Iterator[str]:
        return iter(LOSSES)

    def __len__(self) -> int:
        return len(LOSSES)


LOSS_COLOURS: Mapping[str, str] = _LossColours()
"""Loss name → colour; a loss with keyword arguments takes its name's colour."""


def loss_colour(spec, default: str = "tab:gray") -> str:
    """The colour of a loss spec (a name, or ``[name, {kwargs}]``)."""
    name = spec if isinstance(spec, str) else spec[0]
    return LOSS_COLOURS.get(name, default)
