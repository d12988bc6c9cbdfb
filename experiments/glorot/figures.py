"""The Glorot & Bengio study's figures, from the results JSON alone.

``<stem>_surface.png``: contours of CE and of the quadratic cost over the same (w₁, w₂)
grid, with the plateaus (‖∇C‖ < 1% of its grid maximum) shaded. ``<stem>_activations.png``:
each hidden layer's mean activation with its 2–98th percentile band, and its saturated
share, per epoch (replicate means), for the sigmoid and the tanh net, each at its own lr.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.results import atomic_save_figure, read_json  # noqa: E402

NAMES = {"cce": "cross-entropy (CCE)", "mse": "quadratic cost (MSE on softmax)"}


def _draw_surface(doc, path: Path) -> Path:
    s = doc["surface"]
    axis = np.asarray(s["axis"])
    fig, axes = plt.subplots(1, len(s["losses"]), figsize=(6.2 * len(s["losses"]), 5.2))
    for ax, (name, d) in zip(np.atleast_1d(axes), s["losses"].items(), strict=True):
        v, g = np.asarray(d["value"]), np.asarray(d["grad_norm"])
        cs = ax.contourf(axis, axis, v.T, levels=30, cmap="viridis")
        fig.colorbar(cs, ax=ax)
        threshold = doc["provenance"]["config"]["plateau_threshold"] * g.max()
        ax.contourf(
            axis, axis, (g < threshold).T, levels=[0.5, 1.5], colors="none", hatches=["////"]
        )
        ax.plot(*s["init"], "r*", ms=12, label="initial (w₁, w₂)")
        ax.set(
            xlabel="w₁ = W₁[0, 0] (hidden layer)",
            ylabel="w₂ = W₂[0, 0] (output layer)",
            title=f"{NAMES.get(name, name)}\nplateau (hatched): {100 * d['plateau_fraction']:.1f}%"
            " of the grid",
        )
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("Error surface over one weight of each layer (Glorot & Bengio 2010, Fig. 5)")
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def seed_mean(run, key):
    return np.asarray(run["stats"][key], dtype=float).mean(axis=0)


def _draw_activations(doc, path: Path) -> Path:
    acts = doc["activations"]
    fig, axes = plt.subplots(len(acts), 2, figsize=(13, 4.4 * len(acts)), squeeze=False)
    for row, (name, run) in enumerate(acts.items()):
        mean = seed_mean(run, "mean")  # (epochs + 1, layers)
        perc = seed_mean(run, "percentiles")  # (epochs + 1, layers, 3)
        sat = seed_mean(run, "saturated")
        epochs = np.arange(mean.shape[0])
        for layer in range(mean.shape[1]):
            color = plt.cm.viridis(layer / max(mean.shape[1] - 1, 1))
            label = f"layer {layer + 1}" + (" (top)" if layer == mean.shape[1] - 1 else "")
            axes[row, 0].plot(epochs, mean[:, layer], "o-", color=color, ms=3, label=label)
            axes[row, 0].fill_between(
                epochs, perc[:, layer, 0], perc[:, layer, -1], color=color, alpha=0.12
            )
            axes[row, 1].plot(epochs, 100 * sat[:, layer], "o-", color=color, ms=3, label=label)
        axes[row, 0].set(
            title=f"{name}: mean activation, band = 2nd–98th pct", xlabel="epoch (0 = init)"
        )
        axes[row, 1].set(title=f"{name}: saturated share (%)", xlabel="epoch (0 = init)")
        for ax in axes[row]:
            ax.grid(alpha=0.3)
        axes[row, 0].legend(fontsize=8)
    cfg = doc["provenance"]["config"]
    lrs = ", ".join(f"{a} {r['lr']:.3g}" for a, r in acts.items())
    fig.suptitle(
        f"Hidden activations on {cfg['probe_size']} fixed test images: {cfg['depth']} × "
        f"{cfg['width']} MLP on MNIST, batch {cfg['batch_size']}, SGD lr {lrs}\n"
        f"(Glorot & Bengio 2010, Figs. 2–3; {len(cfg['seeds'])} replicates)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def draw(results_path, out_dir) -> list[Path]:
    doc = read_json(results_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(results_path).stem
    return [
        _draw_surface(doc, out_dir / f"{stem}_surface.png"),
        _draw_activations(doc, out_dir / f"{stem}_activations.png"),
    ]
