"""One colour per loss for every figure of the project (matplotlib's tab10 colours).

Import :data:`LOSS_COLOURS` / :func:`loss_colour` rather than choosing colours per figure,
so a reader who learnt "MSE is red" in one figure reads every other one the same way.
"""

from __future__ import annotations

LOSS_COLOURS = {
    "cce": "tab:blue",
    "mse": "tab:red",
    "bce": "tab:orange",
    "sigmoid_bce": "tab:green",
    "square": "tab:purple",
    "square_rescaled": "tab:pink",
    "mae": "tab:brown",
    "sigmoid_mse": "tab:olive",
    "cce_smoothed": "tab:cyan",
}
"""Loss name → colour; a loss with keyword arguments takes its name's colour."""


def loss_colour(spec, default: str = "tab:gray") -> str:
    """The colour of a loss spec (a name, or ``[name, {kwargs}]``)."""
    name = spec if isinstance(spec, str) else spec[0]
    return LOSS_COLOURS.get(name, default)
