"""Experiment: does miscalibration grow with depth and width? (Guo et al. 2017)

C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern Neural
Networks", ICML 2017: a model is calibrated when its confidence equals its accuracy;
they measure the expected calibration error over 15 equal-width confidence bins (ECE,
``softjax.metrics``) and report that miscalibration (overconfidence) grows with depth and
width (their Fig. 2, on CIFAR-100) and falls with weight decay, and that a net can
overfit the NLL (confidence keeps rising) without overfitting the 0/1 error.

Here: MNIST, the first ``train_subset`` training images (small enough that every net
fits it: the claim is about nets trained to convergence), the first ``val_size``
validation images, the whole test set; MLPs with ReLU hidden layers, LeCun-normal init,
SGD momentum 0.9, batch 32, ``epochs`` epochs. Two questions:

1. **Architecture** (CCE only): the width series 784-W-10 for W in ``widths`` and the
   depth series of D hidden layers of width ``base_width`` for D in ``depths``.
2. **Loss** (on the base MLP 784-``base_width``-10): cce, mse, bce, sigmoid_bce,
   square.

Each (architecture, loss) gets its lr by :func:`softjax.sweeps.lr_search.search_lrs` on
validation accuracy (replicates ``search_seeds``, :func:`sweep_evaluator`); then the
``seeds`` replicates (replicate i: init seed i and data-order seed i) train at the
chosen lr for ``epochs`` and for ``LONGER`` × ``epochs`` (every arm: the claim is about
nets trained to convergence, and comparisons stay between equal budgets; the arms still
improving at the end of the search, ``softjax.sweeps.budget``, are recorded). Test
calibration is computed from each run's final params. The probability a model reports:
softmax(z), and for the one-vs-rest sigmoid BCE both σ(z)/Σ_k σ(z_k) (the headline) and
softmax(z). Weight decay is not varied. :mod:`.analysis` makes the verdicts; :mod:`.report`
writes from the JSON alone.

Run::

    python -m experiments.calibration            # full size: results/calibration.*
    python -m experiments.calibration --quick    # smaller, results/scratch/, NOT the study
    python -m experiments.calibration --redraw   # figures and summary from the JSON only
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import cli, lit
from experiments.calibration import analysis
from experiments.calibration import report as plots
from softjax import metrics
from softjax.config import TrainConfig
from softjax.models import mlp_apply
from softjax.sweeps import sweep
from softjax.sweeps.budget import LONGER
from softjax.sweeps.lr_search import search_lrs, sweep_evaluator

STEM = "calibration"
LOSSES = ("cce", "mse", "bce", "sigmoid_bce", "square")
ONE_VS_REST = ("sigmoid_bce",)
BATCH_SIZE = 32
START = [0.01, 0.0316, 0.1, 0.316, 1.0]
FULL = dict(
    train_subset=2000,
    val_size=2000,
    epochs=30,
    base_width=128,
    widths=[32, 128, 512],
    depths=[1, 2, 4, 8],
    losses=list(LOSSES),
    search_seeds=[0, 1],
    seeds=list(range(5)),
    start_lrs=START,
    max_rounds=5,
)
SIZES = {
    "full": FULL,
    "quick": FULL
    | dict(
        train_subset=1000,
        val_size=1000,
        epochs=8,
        base_width=64,
        widths=[16, 64],
        depths=[1, 2],
        seeds=[0, 1, 2],
        start_lrs=[0.03, 0.3],
        max_rounds=2,
    ),
    "smoke": FULL
    | dict(
        train_subset=300,
        val_size=300,
        epochs=3,
        base_width=16,
        widths=[8, 16],
        depths=[1, 2],
        losses=["cce", "sigmoid_bce", "square"],
        search_seeds=[0],
        seeds=[0, 1],
        start_lrs=[0.1],
        max_rounds=1,
    ),
}


def architectures(size: dict) -> dict[str, tuple[int, ...]]:
    """``{name: sizes}``: the width series at depth 1 and the depth series at the base
    width (the base MLP once)."""
    out = {f"784-{w}-10": (784, w, 10) for w in size["widths"]}
    for d in size["depths"]:
        sizes = (784, *([size["base_width"]] * d), 10)
        out["-".join(map(str, sizes))] = sizes
    return out


def base_name(size: dict) -> str:
    return f"784-{size['base_width']}-10"


def probabilities(logits, one_vs_rest):
    """The probability rows a model reports: σ(z)/Σσ(z) where ``one_vs_rest``, softmax(z)
    elsewhere; ``one_vs_rest`` may be traced."""
    s = jax.nn.sigmoid(logits)
    return jnp.where(
        one_vs_rest, s / jnp.sum(s, axis=-1, keepdims=True), jax.nn.softmax(logits, axis=-1)
    )


def base_config(sizes, epochs: int, **kw) -> TrainConfig:
    return TrainConfig(
        sizes=sizes,
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.9},
        batch_size=BATCH_SIZE,
        epochs=epochs,
        diagnostics=False,
        **kw,
    )


def search(data, sizes, losses, size: dict) -> tuple[dict, list[dict]]:
    """Every loss's lr on this architecture: ``(search dict, records)``."""
    records: list[dict] = []
    base = base_config(sizes, size["epochs"], test_each_epoch=False)
    evaluate = sweep_evaluator(
        sweep, base, data, replicates=size["search_seeds"], records=records, progress=False
    )
    result = search_lrs(
        evaluate,
        [(loss, 1.0) for loss in losses],
        chance=0.1,
        start=size["start_lrs"],
        max_rounds=size["max_rounds"],
        log=lambda line: print(f"{sizes}: {line}", flush=True),
    )
    return result.as_dict(), records


def chosen(choice: dict, records: list[dict]) -> float | None:
    """A loss's lr: the search's choice, else the lr of the best finite mean validation
    accuracy (a loss that cannot train is measured, not dropped)."""
    if choice["lr"] is not None:
        return choice["lr"]
    by_lr: dict[float, list] = {}
    for r in records:
        if r["loss"] == choice["arm"][0]:
            by_lr.setdefault(r["lr"], []).append(
                None if r["diverged"] else r["history"]["val_accuracy"][-1]
            )
    finite = {lr: sum(v) / len(v) for lr, v in by_lr.items() if None not in v}
    return max(finite, key=finite.get) if finite else None


def search_curves(records: list[dict], lrs: dict) -> dict:
    """Each loss's mean validation-accuracy curve at its chosen lr (search replicates)."""
    out = {}
    for loss, lr in lrs.items():
        runs = [r for r in records if (r["loss"], r["lr"]) == (loss, lr)]
        if runs and not any(r["diverged"] for r in runs):
            curves = [r["history"]["val_accuracy"] for r in runs]
            out[loss] = [sum(c) / len(c) for c in zip(*curves, strict=True)]
    return out


def calibration(params, sizes, x_test, y_test, one_vs_rest: bool) -> dict:
    """Test calibration of one run's final params: :func:`metrics.calibration_report` of
    the reported probabilities, and for a one-vs-rest loss also of softmax(z)
    (``"softmax_read"``)."""
    logits = mlp_apply(params, jnp.asarray(x_test), "relu")
    y = jnp.asarray(y_test)

    def report(p):
        return jax.tree.map(lambda v: np.asarray(v).tolist(), metrics.calibration_report(p, y))

    out = report(probabilities(logits, one_vs_rest))
    if one_vs_rest:
        out["softmax_read"] = report(jax.nn.softmax(logits, axis=-1))
    return out


def _round(values) -> list:
    return [None if v is None or not np.isfinite(v) else float(f"{v:.6g}") for v in values]


def finals(data, arch: str, sizes, lrs: dict, size: dict, epochs: int) -> list[dict]:
    """The ``seeds`` replicates of every loss at its chosen lr for ``epochs``: one sweep,
    replicate i = init seed i and data-order seed i. Each run's curves and calibration."""
    want = {loss: lr for loss, lr in lrs.items() if lr is not None}
    if not want:
        return []
    records = sweep(
        base_config(sizes, epochs, test_each_epoch=False),
        data,
        losses=list(want),
        lrs=[[lr] for lr in want.values()],
        seeds=list(size["seeds"]),
        data_seeds=list(size["seeds"]),
        seed_pairing="paired",
        progress=False,
        return_params=True,
    )
    out = []
    for r in records:
        h = r["history"]
        run = dict(arch=arch, loss=r["loss"], lr=r["lr"], seed=r["seed"], epochs=epochs)
        run.update(diverged=r["diverged"], budget="long" if epochs > size["epochs"] else "short")
        run["curves"] = {k: _round(h[k]) for k in ("train_accuracy", "val_accuracy", "val_loss")}
        if not r["diverged"]:
            one_vs_rest = r["loss"] in ONE_VS_REST
            run["test"] = calibration(r["params"], sizes, data.x_test, data.y_test, one_vs_rest)
        out.append(run)
    return out


def run_arch(data, arch: str, sizes, losses, size: dict) -> dict:
    """One architecture: its lr search, budget check and final replicates."""
    start = time.perf_counter()
    found, records = search(data, sizes, losses, size)
    lrs = {c["arm"][0]: chosen(c, records) for c in found["choices"]}
    improving = analysis.improving(search_curves(records, lrs))
    runs = finals(data, arch, sizes, lrs, size, size["epochs"])
    runs += finals(data, arch, sizes, lrs, size, LONGER * size["epochs"])
    cost = sum(r["epochs"] for r in runs) + len(records) * size["epochs"]
    return {
        "sizes": list(sizes),
        "search": found,
        "lrs": lrs,
        "improving": improving,
        "runs": runs,
        "model_epochs": cost,
        "wall_s": time.perf_counter() - start,
    }


def load(args, size: dict):
    data = lit.load("mnist", args, size["train_subset"])
    n = size["val_size"]
    return data._replace(x_val=data.x_val[:n], y_val=data.y_val[:n])


def main(argv=None) -> list[Path]:
    args = cli.parse_args(__doc__, argv)
    size = cli.size(args, SIZES)
    out_dir, path = cli.results_path(args, STEM)

    def _run():
        start = time.perf_counter()
        data = load(args, size)
        archs, runs = {}, []
        for arch, sizes in architectures(size).items():
            losses = size["losses"] if arch == base_name(size) else ["cce"]
            got = run_arch(data, arch, sizes, losses, size)
            runs += got.pop("runs")
            archs[arch] = got
            print(f"{arch}: {got['wall_s']:.0f} s, lrs {got['lrs']}", flush=True)
        config = dict(
            size,
            mode=args.mode,
            base=base_name(size),
            batch_size=BATCH_SIZE,
            optimizer="sgd momentum 0.9",
            init="lecun_normal",
            num_bins=metrics.NUM_BINS,
            validation=f"first {size['val_size']} images of the validation split",
            replicates=lit.REPLICATES,
            delta=analysis.DELTA,
            headline_read={"sigmoid_bce": "σ(z)/Σσ(z)"},
            budget=analysis.BUDGET_RULE,
        )
        body = {"archs": archs, "runs": runs, "analysis": analysis.analyse(runs, config)}
        cli.write(path, config, size["seeds"], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
