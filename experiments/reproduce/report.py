"""Figures and summary table of ``python -m experiments.reproduce``, from ``reproduce.json`` only.

* ``blobs_loss.png``: seed 001's gradient-descent loop on the 3-class blobs, the training
  loss J per epoch for every seed, and the test accuracy per seed.
* ``blobs_boundary.png``: the decision regions argmax_k (x W + b)_k of the first seed's
  trained model over its training and test points.
* ``weights_mnist.png``: seed 001's per-digit weight images, W[:, k] as 28×28 (a 2×5 grid),
  from the MNIST softmax regression of the PyTorch setup;
  ``weights_mnist_learned.png`` the same for W − W₀, without the init's noise.
* ``mnist_probabilities.png``: three test images and the model's softmax probabilities.
* ``reproduce.md``: the markdown table (source, setting, the notes' number, softjax's,
  pass/fail) the README quotes.

A ``--quick`` run's files carry a ``_quick`` suffix, so they never overwrite the full ones.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softjax.models import mlp_apply  # noqa: E402
from softjax.results import atomic_save_figure, atomic_write_text, read_json  # noqa: E402
from softjax.training import TrainConfig, init_params, seed_keys  # noqa: E402

SUMMARY_NAME = "reproduce.md"
CLASS_COLORS = ("tab:blue", "tab:orange", "tab:green")


def _suffix(doc: dict) -> str:
    return "_quick" if doc.get("quick") else ""


def _name(doc: dict, stem: str, ext: str = "png") -> str:
    return f"{stem}{_suffix(doc)}.{ext}"


def _save(fig, path: Path) -> Path:
    atomic_save_figure(fig, path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _params(stored: list[dict]) -> list[dict]:
    return [{k: np.asarray(v, dtype=np.float32) for k, v in layer.items()} for layer in stored]


def draw_blobs_loss(doc: dict, out_dir: Path) -> Path:
    blobs = doc["blobs"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4), width_ratios=(2, 1))
    for seed, curve in zip(blobs["seeds"], blobs["train_loss"], strict=True):
        epochs = np.arange(1, len(curve) + 1)
        ax_loss.plot(epochs, curve, marker=".", ms=3, lw=1, label=f"seed {seed}")
    ax_loss.set_xlabel("epoch (one full-batch step)")
    ax_loss.set_ylabel("mean cross-entropy J / N")
    ax_loss.set_yscale("log")
    ax_loss.set_title("Seed 001's loop: W ~ U[0,1), b = 0, lr 2.0, full batch")
    ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    acc = np.asarray(blobs["test_accuracy"], dtype=float) * 100
    ax_acc.bar([str(s) for s in blobs["seeds"]], acc, color="tab:gray")
    ax_acc.set_ylim(min(80.0, acc.min() - 2), 100)
    ax_acc.set_xlabel("seed")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_title(f"final: {acc.mean():.1f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.1f} %")
    for i, a in enumerate(acc):
        ax_acc.text(i, a + 0.3, f"{a:.1f}", ha="center", fontsize=7)
    fig.tight_layout()
    return _save(fig, out_dir / _name(doc, "blobs_loss"))


def draw_blobs_boundary(doc: dict, out_dir: Path) -> Path:
    blobs = doc["blobs"]
    example = blobs["example"]
    params = _params(example["params"])
    splits = {s: np.asarray(example[f"x_{s}"], dtype=np.float32) for s in ("train", "test")}
    labels = {s: np.asarray(example[f"y_{s}"]) for s in ("train", "test")}
    points = np.concatenate(list(splits.values()))
    lo, hi = points.min(axis=0) - 0.7, points.max(axis=0) + 0.7
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    region = np.asarray(mlp_apply(params, grid)).argmax(axis=1).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.contourf(gx, gy, region, levels=[-0.5, 0.5, 1.5, 2.5], colors=CLASS_COLORS, alpha=0.18)
    ax.contour(gx, gy, region, levels=[0.5, 1.5], colors="k", linewidths=0.8)
    for split, marker in (("train", "o"), ("test", "^")):
        for k, color in enumerate(CLASS_COLORS):
            mask = labels[split] == k
            ax.scatter(
                *splits[split][mask].T,
                s=14 if split == "train" else 28,
                marker=marker,
                c=color,
                edgecolors="k" if split == "test" else "none",
                linewidths=0.5,
                label=f"class {k} ({split})",
            )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    acc = example["test_accuracy"] * 100
    ax.set_title(
        f"Blobs, seed {example['seed']}: regions of argmax softmax(xW + b)\n"
        f"after 40 full-batch steps; test accuracy {acc:.1f}%",
        fontsize=9,
    )
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    return _save(fig, out_dir / _name(doc, "blobs_boundary"))


def draw_weights(doc: dict, out_dir: Path) -> Path:
    mnist = doc["mnist_model"]
    w = np.asarray(mnist["params"][0]["w"], dtype=float)  # (784, 10)
    bound = np.abs(w).max()
    fig, axes = plt.subplots(2, 5, figsize=(9, 4))
    for k, ax in enumerate(axes.ravel()):
        image = ax.imshow(w[:, k].reshape(28, 28), cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(f"digit {k}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight W[pixel, k]")
    fig.suptitle(
        f"Seed 001: each digit's weights W[:, k] as a 28×28 image (seed {mnist['seed']}, "
        f"test accuracy {mnist['test_accuracy'] * 100:.2f}%)",
        fontsize=10,
    )
    return _save(fig, out_dir / _name(doc, "weights_mnist"))


def draw_learned_weights(doc: dict, out_dir: Path) -> Path:
    """W − W₀: what training added to nn.Linear's U(±1/28) init, which dominates W itself
    after 5 epochs at lr 0.001. W₀ is redrawn from the stored config and seed, exactly as
    ``train`` drew it."""
    mnist = doc["mnist_model"]
    stored = dict(mnist["config"])
    config = TrainConfig(**{**stored, "sizes": tuple(stored["sizes"])})
    init_key, _ = seed_keys(config.seed)
    w0 = np.asarray(init_params(config, init_key)[0]["w"], dtype=float)
    change = np.asarray(mnist["params"][0]["w"], dtype=float) - w0
    bound = np.abs(change).max()
    fig, axes = plt.subplots(2, 5, figsize=(9, 4))
    for k, ax in enumerate(axes.ravel()):
        image = ax.imshow(change[:, k].reshape(28, 28), cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(f"digit {k}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.8, label="W − W₀")
    fig.suptitle(
        "The learned part W[:, k] − W₀[:, k] of each digit's weights (init noise removed)",
        fontsize=10,
    )
    return _save(fig, out_dir / _name(doc, "weights_mnist_learned"))


def draw_probabilities(doc: dict, out_dir: Path) -> Path:
    examples = doc["mnist_model"]["examples"]
    n = len(examples)
    fig, axes = plt.subplots(2, n, figsize=(3 * n, 4.6), height_ratios=(1, 1))
    for i, example in enumerate(examples):
        img_ax, bar_ax = axes[0, i], axes[1, i]
        img_ax.imshow(np.asarray(example["image"]).reshape(28, 28), cmap="gray_r")
        img_ax.set_title(f"test image {example['index']}: label {example['label']}", fontsize=9)
        img_ax.set_xticks([])
        img_ax.set_yticks([])
        probs = np.asarray(example["probabilities"], dtype=float)
        colors = ["tab:green" if k == example["label"] else "tab:gray" for k in range(len(probs))]
        bar_ax.bar(np.arange(len(probs)), probs, color=colors)
        bar_ax.set_xticks(np.arange(len(probs)))
        bar_ax.set_ylim(0, 1)
        bar_ax.set_xlabel("class k")
        if i == 0:
            bar_ax.set_ylabel("softmax probability")
        top = int(probs.argmax())
        bar_ax.set_title(f"predicted {top} (p = {probs[top]:.3f})", fontsize=9)
    fig.suptitle("Seed 001: softmax probabilities of single test images", fontsize=10)
    fig.tight_layout()
    return _save(fig, out_dir / _name(doc, "mnist_probabilities"))


def draw(results_path, out_dir) -> list[Path]:
    """Draws every reproduce figure from the results JSON.

    Args:
      results_path: ``reproduce.json`` (or ``reproduce_quick.json``).
      out_dir: the folder to write into.

    Returns:
      The paths written.
    """
    doc = read_json(results_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        draw_blobs_loss(doc, out_dir),
        draw_blobs_boundary(doc, out_dir),
        draw_weights(doc, out_dir),
        draw_learned_weights(doc, out_dir),
        draw_probabilities(doc, out_dir),
    ]


def _status(row: dict) -> str:
    if row["pass"] is None:
        return "n/a" if row.get("judged", True) else "not judged (quick)"
    mark = "pass" if row["pass"] else "**FAIL**"
    return mark if row.get("judged", True) else f"{mark} (quick, not judged)"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(doc: dict) -> str:
    """The table of every reproduced item, as markdown."""
    quick = doc.get("quick")
    lines = []
    if quick:
        lines.append(
            "**QUICK RUN** (CI-sized: fewer seeds and epochs). MNIST-scale targets apply "
            "to the full run only; see `reproduce.md` for that.\n"
        )
    lines += [
        "| # | source | setting | notes | softjax | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in doc["rows"]:
        cells = [
            row["item"],
            row["source"],
            row["setting"],
            row["notes"],
            row["softjax"],
            row["target"],
            _status(row),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    passed = sum(r["pass"] is True for r in doc["rows"] if r.get("judged", True))
    judged = sum(r["pass"] is not None for r in doc["rows"] if r.get("judged", True))
    lines.append("")
    lines.append(
        f"{passed} of {judged} judged rows pass. Mean ± sample std over the seeds listed; "
        f"total wall time {doc['total_wall_s']:.0f} s on {doc['provenance']['device']['kind']} "
        f"({doc['provenance']['device']['cpu_count']} cores), git "
        f"{str(doc['provenance']['git_commit'])[:12]}."
    )
    for note in doc.get("notes", []):
        lines.append(f"\n- {note}")
    return "\n".join(lines) + "\n"


def write_summary(results_path, out_dir) -> Path:
    """Writes ``reproduce.md`` (``reproduce_quick.md`` for a quick run) next to the figures."""
    doc = read_json(results_path)
    return atomic_write_text(Path(out_dir) / _name(doc, "reproduce", "md"), summary_markdown(doc))
