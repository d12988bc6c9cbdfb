"""The gradients figure of any sweep: logit-gradient norms, saturation and, for MLPs, each
hidden layer's f′ and saturated fraction per epoch, at each loss's chosen lr."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from softjax.plots.common import (  # noqa: E402
    COSINE,
    NONNEGATIVE,
    PERCENT,
    band,
    headline,
    lr_label,
    save,
    title_of,
)

__all__ = ["BOUNDS", "LAYER_STYLES", "ROWS", "draw_gradients", "hidden_rows"]


ROWS = (
    ("logits_grad_norm", None, 1.0, "‖∂ℓ/∂z‖, all samples", "log"),
    ("logits_grad_norm_wrong", None, 1.0, "‖∂ℓ/∂z‖, misclassified", "log"),
    ("saturated_wrong", None, 100.0, "saturated & wrong (%)", "linear"),
    ("grad_cos_ce", None, 1.0, "cos(∂ℓ/∂z, CE's)", "linear"),
)
"""``(history key, hidden layer index or None, factor, y label, y scale)`` per row."""
OLD_HIDDEN_ROWS = (
    ("hidden_fprime_first", None, 1.0, "mean f′, first hidden", "linear"),
    ("hidden_fprime_last", None, 1.0, "mean f′, last hidden", "linear"),
    ("hidden_saturated_first", None, 100.0, "saturated units (%), first", "linear"),
    ("hidden_saturated_last", None, 100.0, "saturated units (%), last", "linear"),
)
OLD_ONE_HIDDEN_ROWS = (
    ("hidden_fprime_first", None, 1.0, "mean f′, hidden layer", "linear"),
    ("hidden_saturated_first", None, 100.0, "saturated units (%)", "linear"),
)
"""The first/last-layer rows of results written before the per-layer keys."""


BOUNDS = {
    "saturated_wrong": PERCENT,
    "grad_cos_ce": COSINE,
    "hidden_saturated": PERCENT,
    "hidden_saturated_first": PERCENT,
    "hidden_saturated_last": PERCENT,
}
"""The drawn range of a row's key (the others are norms or f′, ≥ 0): its band stays inside."""


LAYER_STYLES = ("-", "--", ":", "-.")
"""Hidden layer i's line style in the gradients figure (colour is the loss; the styles
repeat past four layers)."""


def hidden_rows(doc) -> tuple:
    """The f′ row and the saturated-units row, each drawing every hidden layer (its layer
    field a tuple of layer indices), when the summary holds the per-layer keys
    (``softjax.hidden.LAYER_KEYS``); else the first and last layer's rows of older results
    (one row each when they are one layer)."""
    depth = len(doc["grid"].get("sizes") or (0, 0)) - 2
    if depth <= 0:
        return ()
    per_layer = any((c.get("mean") or {}).get("hidden_fprime") for c in doc.get("cells", ()))
    if not per_layer:
        return OLD_HIDDEN_ROWS if depth > 1 else OLD_ONE_HIDDEN_ROWS
    where = ", every hidden layer" if depth > 1 else ", hidden layer"
    return (
        ("hidden_fprime", tuple(range(depth)), 1.0, f"mean f′{where}", "linear"),
        ("hidden_saturated", tuple(range(depth)), 100.0, f"saturated units (%){where}", "linear"),
    )


def draw_gradients(doc, path: Path, *, title: str | None = None) -> Path:
    """The logit-gradient and saturation rows per epoch (module docstring)."""
    g = doc["grid"]
    scales = sorted({min(g["init_scales"]), max(g["init_scales"])})
    rows = ROWS + hidden_rows(doc)
    fig, axes = plt.subplots(
        len(rows),
        len(scales),
        figsize=(5 * len(scales), 2.2 * len(rows)),
        sharex=True,
        squeeze=False,
    )
    for c, scale in enumerate(scales):
        for r, (key, layer, factor, label, yscale) in enumerate(rows):
            ax = axes[r, c]
            ax.set_yscale(yscale)
            layers = layer if isinstance(layer, tuple) else (layer,)
            for loss in g["losses"]:
                for i in layers:
                    band(
                        ax,
                        doc,
                        loss,
                        scale,
                        key,
                        factor,
                        label=lr_label(doc, loss, scale) if r == 0 else None,
                        layer=i,
                        style=LAYER_STYLES[(i or 0) % len(LAYER_STYLES)],
                        bounds=BOUNDS.get(key, NONNEGATIVE),
                    )
            ax.set_ylabel(label, fontsize=8)
            ax.grid(alpha=0.3, which="both")
            if r == 0:
                ax.set_title(f"init scale {scale:g}", fontsize=9)
                ax.legend(fontsize=6)
            if len(layers) > 1:
                ax.legend(
                    handles=[
                        plt.Line2D([], [], color="0.3", ls=LAYER_STYLES[i % len(LAYER_STYLES)])
                        for i in layers
                    ],
                    labels=[f"layer {i + 1}" for i in layers],
                    fontsize=6,
                    title="hidden",
                    title_fontsize=6,
                )
        axes[-1, c].set_xlabel("epoch (running means over its minibatches)")
    headline(
        fig,
        "Logit gradients and saturation per epoch, each loss at its chosen lr\n"
        + title_of(doc, title),
        caption="Saturated & wrong: max softmax > 0.99 on a wrong class; hidden unit "
        "saturated: f′ < 0.01·max f′. Intervals are cut at each quantity's range.",
    )
    fig.tight_layout()
    return save(fig, path)
