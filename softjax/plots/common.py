"""What every figure shares: labels, lrs to three significant digits (:func:`fmt_lr`),
intervals clipped to their quantity's range (:func:`clip_band`, :func:`yerr`), no interval
over one replicate (:func:`spread_text`), titles of at most two lines (:func:`headline`),
the mean-and-interval band of one history key at a loss's chosen lr, and the atomic save."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.plots.palette import loss_colour  # noqa: E402
from softjax.results import atomic_save_figure  # noqa: E402
from softjax.sweeps.stats import best_of, cell  # noqa: E402

__all__ = [
    "COSINE",
    "FRACTION",
    "NONNEGATIVE",
    "PERCENT",
    "band",
    "chosen",
    "clip_band",
    "describe",
    "fmt_lr",
    "headline",
    "loss_label",
    "lr_label",
    "save",
    "spread_text",
    "title_of",
    "wrap",
    "yerr",
]

PERCENT = (0.0, 100.0)
"""The range of an accuracy or a fraction in percent."""
FRACTION = (0.0, 1.0)
COSINE = (-1.0, 1.0)
NONNEGATIVE = (0.0, np.inf)
"""The range of a norm."""
MAX_TITLE_LINES = 2
CAPTION = "softjax-caption"


def fmt_lr(lr) -> str:
    """An lr to three significant digits: ``0.00111111`` → ``0.00111``, ``3e-05`` → ``3e-5``,
    ``0.5`` → ``0.5``, ``2.0`` → ``2.0`` (a whole lr keeps its ``.0``, as Python prints
    it); ``None`` → ``"none"``."""
    if lr is None:
        return "none"
    text = f"{float(lr):.3g}".replace("e-0", "e-").replace("e+0", "e")
    return text + ".0" if text.isdigit() and isinstance(lr, float) else text


def clip_band(low, high, bounds):
    """``(low, high, clipped)``: the interval's ends cut to ``bounds`` (``(lo, hi)`` of the
    quantity's range, e.g. :data:`PERCENT`, :data:`COSINE`, :data:`NONNEGATIVE`), and whether
    any end was cut. An interval never leaves its quantity's range (issue 33)."""
    lo_b, hi_b = bounds
    if not lo_b < hi_b:
        raise ValueError(f"bounds: expected (low, high) with low < high, got {bounds!r}")
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    cut_low, cut_high = np.clip(low, lo_b, hi_b), np.clip(high, lo_b, hi_b)
    clipped = bool(np.any(cut_low[np.isfinite(low)] != low[np.isfinite(low)]))
    clipped |= bool(np.any(cut_high[np.isfinite(high)] != high[np.isfinite(high)]))
    return cut_low, cut_high, clipped


def yerr(mean, low, high, bounds):
    """``errorbar``'s ``yerr`` (2 × n, distances below and above ``mean``) of the interval
    ``[low, high]`` clipped to ``bounds`` (:func:`clip_band`); zero where an end is missing."""
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    low, high, _ = clip_band(np.atleast_1d(low), np.atleast_1d(high), bounds)
    below = np.where(np.isfinite(low), np.maximum(mean - low, 0.0), 0.0)
    above = np.where(np.isfinite(high), np.maximum(high - mean, 0.0), 0.0)
    return np.vstack([below, above])


def spread_text(n: int, what: str = "replicates") -> str:
    """What a figure's intervals are: ``"mean and 95% interval over 5 replicates"``, or
    ``"n = 1, no interval"`` when there is no second replicate to make one."""
    return f"mean and 95% interval over {n} {what}" if n >= 2 else "n = 1, no interval"


def headline(fig, text: str, *, caption: str = "", fontsize: float = 9, **kwargs):
    """``fig``'s title in at most two lines: ``text``'s lines wrapped to the figure's width
    (:func:`wrap`), in a smaller font (down to 7 pt) when they need more; whole lines that
    still do not fit open the ``caption``, a note in small type that :func:`save` places
    under everything the figure draws."""
    size = fontsize
    while True:
        parts = [wrap(line, fig.get_figwidth(), size).split("\n") for line in text.split("\n")]
        if sum(map(len, parts)) <= MAX_TITLE_LINES or size <= 7:
            break
        size -= 0.5
    kept, rest = [], []
    for part in parts:
        fits = not rest and len(kept) + len(part) <= MAX_TITLE_LINES
        (kept if fits else rest).extend(part if fits else [" ".join(part)])
    if not kept:  # even the first line is too long: its end opens the caption
        kept, rest = parts[0][:MAX_TITLE_LINES], [" ".join(parts[0][MAX_TITLE_LINES:]), *rest]
    caption = " ".join([*(line.rstrip(".") + "." for line in rest), caption]).strip()
    if caption:
        note = wrap(caption, fig.get_figwidth(), 7)
        fig.text(0.01, 0.0, note, fontsize=7, ha="left", va="top", color="0.25", gid=CAPTION)
    return fig.suptitle("\n".join(kept), fontsize=size, **kwargs)


def _place_caption(fig) -> None:
    """Moves the caption :func:`headline` made just under everything else ``fig`` draws."""
    notes = [t for t in fig.texts if t.get_gid() == CAPTION]
    if not notes:
        return
    renderer = fig.canvas.get_renderer()
    for legend in fig.legends:  # anchored to the figure, not to the trimmed image's edge
        anchor = legend.get_bbox_to_anchor().transformed(fig.transFigure.inverted())
        legend.set_bbox_to_anchor(anchor, transform=fig.transFigure)
    for t in notes:
        t.set_visible(False)
    box = fig.get_tightbbox(renderer)  # inches
    for t in notes:
        t.set_visible(True)
        t.set_position((box.x0 / fig.get_figwidth(), (box.y0 - 0.05) / fig.get_figheight()))


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
    bounds=NONNEGATIVE,
):
    """The mean of history ``key`` per epoch at ``loss``'s chosen lr (times ``factor``;
    ``complement``: ``factor − mean``) with its 95% interval clipped to ``bounds`` (in
    the drawn units), or no interval when fewer than two replicates ran; ``floor``: the
    lowest drawn value of a log axis. Returns whether anything was drawn."""
    b = chosen(doc, loss, scale)
    c = b and cell(doc, loss, scale, b["lr"])
    if not c or c["mean"].get(key) is None:
        return False
    mean = _arr(_column(c["mean"][key], layer)) * factor
    spread = (c.get("ci95") or {}).get(key)
    if complement:
        mean = factor - mean
    epochs = np.arange(1, len(mean) + 1)
    colour = loss_colour(loss)
    ax.plot(epochs, mean, marker="o", ls=style, ms=3, color=colour, label=label)
    finite = c.get("n_finite", c.get("n", 0) - c.get("n_diverged", 0))
    if spread is not None and finite >= 2:
        half = _arr(_column(spread, layer)) * factor
        low, high, _ = clip_band(mean - half, mean + half, bounds)
        if floor is not None:
            low = np.maximum(low, floor)
        if ax.get_yscale() == "log":  # an interval reaching 0 is drawn down to mean/10
            low = np.where(low > 0, low, mean / 10)
        ax.fill_between(epochs, low, high, color=colour, alpha=0.2, lw=0)
    ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: -(-len(epochs) // 12)])
    return True


def lr_label(doc, loss, scale):
    """A legend label: the loss and its chosen lr (†edge when on a grid edge)."""
    b = chosen(doc, loss, scale)
    if b is None:
        return f"{loss_label(loss)}: all diverged"
    return f"{loss_label(loss)} (lr {fmt_lr(b['lr'])}{' †edge' if b['edge'] else ''})"


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
    spread = spread_text(len(g["seeds"]))
    return f"{where}; {spread}" if where else spread


def title_of(doc, title) -> str:
    """``title``, or :func:`describe` of ``doc`` when it is None."""
    return describe(doc) if title is None else title


def wrap(text: str, width_inches: float, fontsize: float = 9) -> str:
    """Wrap each line of a title to the figure's width (a one-panel figure clipped it)."""
    chars = max(40, int(width_inches * 13 * 9 / fontsize))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def save(fig, path, **kwargs):
    """Saves ``fig`` atomically at 120 dpi, trimmed to what it draws (a caption under it
    included), and closes it."""
    _place_caption(fig)
    atomic_save_figure(fig, path, **({"dpi": 120, "bbox_inches": "tight"} | kwargs))
    plt.close(fig)
    return path
