"""What every sweep figure shares: labels, the mean-and-interval band of one history key
at a loss's chosen lr, the title line, and the atomic save."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.plots.palette import loss_colour  # noqa: E402
from softjax.results import atomic_save_figure  # noqa: E402
from softjax.sweeps.stats import best_of, cell  # noqa: E402

__all__ = ["band", "chosen", "describe", "loss_label", "lr_label", "save", "title_of", "wrap"]


def loss_label(spec) -> str:
    """A loss spec as a label: its name, with its keyword arguments when it has some."""
    if isinstance(spec, list | tuple):
        name, kwargs = spec
        return f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    return str(spec)


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def chosen(doc, loss, scale):
    """The ``select_best`` entry of ``loss`` and ``scale``, or None when it has no lr."""
    b = best_of(doc["best"], loss, scale)
    return None if b is None or b["lr"] is None else b


def _column(values, layer):
    """A per-epoch curve; ``layer``: the entry of each epoch's per-layer vector."""
    return values if layer is None else [None if v is None else v[layer] for v in values]


def band(
    ax,
    doc,
    loss,
    scale,
    key,
    factor=1.0,
    complement=False,
    label=None,
    floor=None,
    layer=None,
    style="-",
):
    b = chosen(doc, loss, scale)
    c = b and cell(doc, loss, scale, b["lr"])
    if not c or c["mean"].get(key) is None:
        return False
    mean = _arr(_column(c["mean"][key], layer)) * factor
    spread = (c.get("ci95") or {}).get(key)
    half = _arr(_column(spread, layer)) * factor if spread is not None else np.zeros_like(mean)
    if complement:
        mean = factor - mean
    epochs = np.arange(1, len(mean) + 1)
    colour = loss_colour(loss)
    ax.plot(epochs, mean, marker="o", ls=style, ms=3, color=colour, label=label)
    low = mean - half if floor is None else np.maximum(mean - half, floor)
    if ax.get_yscale() == "log":  # an interval reaching 0 is drawn down to mean/10
        low = np.where(low > 0, low, mean / 10)
    ax.fill_between(epochs, low, mean + half, color=colour, alpha=0.2, lw=0)
    ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: -(-len(epochs) // 12)])
    return True


def lr_label(doc, loss, scale):
    """A legend label: the loss and its chosen lr (†edge when on a grid edge)."""
    b = chosen(doc, loss, scale)
    if b is None:
        return f"{loss_label(loss)}: all diverged"
    return f"{loss_label(loss)} (lr {b['lr']:g}{' †edge' if b['edge'] else ''})"


def describe(doc) -> str:
    """One line naming what the sweep trained and over how many replicates: the model's
    sizes, optimizer, batch size and epochs when the grid records them."""
    g = doc["grid"]
    parts = []
    if g.get("sizes"):
        parts.append("-".join(str(n) for n in g["sizes"]))
    if g.get("optimizer") is not None:
        parts.append(f"{g['optimizer']} batch {g.get('batch_size')}, {g.get('epochs')} epochs")
    where = ", ".join(parts)
    spread = f"mean and 95% interval over {len(g['seeds'])} replicates"
    return f"{where}; {spread}" if where else spread


def title_of(doc, title) -> str:
    """``title``, or :func:`describe` of ``doc`` when it is None."""
    return describe(doc) if title is None else title


def wrap(text: str, width_inches: float) -> str:
    """Wrap each line of a 9-pt title to the figure's width (a one-panel figure clipped it)."""
    chars = max(40, int(width_inches * 13))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def save(fig, path, **kwargs):
    """Saves ``fig`` atomically at 120 dpi and closes it."""
    atomic_save_figure(fig, path, dpi=120, **kwargs)
    plt.close(fig)
    return path
