"""Experiment: do bounded losses resist symmetric label noise? (Ghosh, Kumar & Sastry 2017;
Zhang & Sabuncu 2018)

The papers. Ghosh, Kumar & Sastry, "Robust Loss Functions under Label Noise for Deep
Neural Networks" (AAAI 2017), prove that a *symmetric* loss (Σ_k ℓ(f(x), k) constant,
e.g. MAE on the softmax) has the same minimiser under symmetric noise of rate
η < (K − 1)/K as on clean labels, and report MAE keeping its accuracy under noise where
CCE loses it. Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training Deep Neural
Networks with Noisy Labels" (NeurIPS 2018), report that CCE memorises noisy labels
(its training accuracy on them keeps rising while clean test accuracy falls) and that
MAE, though robust, trains slowly and underfits on harder data sets.

Our setting. MNIST (55,000 train, the last 5,000 training images as a CLEAN validation
split, 10,000 clean test images); symmetric noise at η ∈ {0, 0.2, 0.4, 0.6} on the
training labels only, exactly round(η·N) labels flipped to a uniformly chosen other class
(:func:`softjax.data.corrupt_train_labels`, one draw per rate shared by the seeds);
softmax regression (784-10) and an MLP 784-100-10 (ReLU), 10 epochs, LeCun-normal init, SGD with
momentum 0.9, batch 128; CCE vs MSE vs MAE (both on the softmax, both bounded). Each
(model, rate, loss) trains over an lr grid × 3 replicates (replicate i: init seed i and
data-order seed i) as one vmapped sweep, the full size
extending each loss's grid while its choice is on an edge (``lit.interior_sweep``); the lr is
chosen on the clean validation split (the papers' selection differs: this one is
optimistic for every loss alike), and clean test accuracy is reported at that lr only,
mean ± 95% t-interval over replicates. Memorisation: the final params' accuracy on the noisy
training labels, and the fraction of flipped samples predicted as their noisy label.

Run::

    python -m experiments.label_noise            # full size: the committed results
    python -m experiments.label_noise --quick    # smaller, results/scratch/label_noise_quick.*
    python -m experiments.label_noise --redraw   # figure and summary from the JSON only
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import cli, lit
from experiments.label_noise import report as plots
from softjax.data import corrupt_train_labels
from softjax.models import mlp_apply
from softjax.sweeps.adaptive import MAX_ROUNDS
from softjax.sweeps.stats import t_quantile_975
from softjax.training import TrainConfig

STEM = "label_noise"
LOSSES = ("cce", "mse", "mae")
NOISE_SEED = 2017
SIZES = {
    "full": dict(
        train_subset=None,
        epochs=10,
        hidden=100,
        lrs=[0.02, 0.1, 0.5],
        max_rounds=MAX_ROUNDS,
        rates=[0.0, 0.2, 0.4, 0.6],
        models=["softmax_regression", "mlp"],
    ),
    "quick": dict(
        train_subset=5000,
        epochs=3,
        hidden=64,
        lrs=[0.05, 0.5],
        max_rounds=0,  # the small sizes prove the code; an edge is flagged, not chased
        rates=[0.0, 0.2, 0.4, 0.6],
        models=["softmax_regression", "mlp"],
    ),
    "smoke": dict(
        train_subset=1000,
        epochs=2,
        hidden=16,
        lrs=[0.2],
        max_rounds=0,
        rates=[0.0, 0.6],
        models=["mlp"],
    ),
}
SEEDS = (0, 1, 2)
BATCH_SIZE = 128


def model_config(model: str, hidden: int, epochs: int) -> TrainConfig:
    sizes = (784, 10) if model == "softmax_regression" else (784, hidden, 10)
    return TrainConfig(
        sizes=sizes,
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.9},
        batch_size=BATCH_SIZE,
        epochs=epochs,
    )


def _interval(values) -> dict:
    values = np.asarray(values, float)
    n = len(values)
    ci = t_quantile_975(n - 1) * values.std(ddof=1) / np.sqrt(n) if n > 1 else None
    return {"mean": float(values.mean()), "ci95": None if ci is None else float(ci)}


def memorisation(records, row, config, data, clean_y, flipped) -> dict:
    """The chosen cell's final params on the training set: accuracy on the noisy labels,
    on the clean labels, and the fraction of flipped samples predicted as the noisy one."""
    mine = [
        r
        for r in records
        if r["loss_spec"] == row["loss_spec"] and r["lr"] == row["lr"] and not r["diverged"]
    ]
    if not mine:
        return {}
    stack = jax.tree.map(lambda *a: jnp.stack(a), *[r["params"] for r in mine])
    acts = config.activations
    pred = np.asarray(
        jax.jit(jax.vmap(lambda p: jnp.argmax(mlp_apply(p, data.x_train, acts), -1)))(stack)
    )
    noisy = data.y_train
    out = {
        "train_acc_noisy_labels": _interval((pred == noisy).mean(1)),
        "train_acc_clean_labels": _interval((pred == clean_y).mean(1)),
    }
    if flipped.any():
        out["memorised"] = _interval((pred[:, flipped] == noisy[flipped]).mean(1))
    return out


def run(args, size: dict) -> dict:
    clean = lit.load("mnist", args, size["train_subset"])
    results = {}
    for model in size["models"]:
        config = model_config(model, size["hidden"], size["epochs"])
        results[model] = {}
        for i, rate in enumerate(size["rates"]):
            key = jax.random.fold_in(jax.random.PRNGKey(NOISE_SEED), i)
            data, flipped = corrupt_train_labels(key, clean, rate, num_classes=10)
            records, grids = lit.interior_sweep(
                config,
                data,
                LOSSES,
                size["lrs"],
                SEEDS,
                size["max_rounds"],
                name=f"{model} η={rate}",
                progress=False,
                return_params=True,
            )
            rows = lit.best_rows(records, None)  # each loss's edges on its own grid
            for row in rows:
                if row["lr"] is not None:
                    row["memorisation"] = memorisation(
                        records, row, config, data, clean.y_train, flipped
                    )
            results[model][str(rate)] = {
                "n_flipped": int(flipped.sum()),
                "rows": rows,
                "lrs_by_loss": grids,
            }
            print(
                f"{model} η={rate}: "
                + ", ".join(
                    f"{r['loss']} {r['final_test_accuracy']:.4f}"
                    for r in rows
                    if r["final_test_accuracy"] is not None
                ),
                flush=True,
            )
    return results


def main(argv=None):
    args = cli.parse_args(__doc__, argv)
    size = cli.size(args, SIZES)
    out_dir, path = cli.results_path(args, STEM)

    def _run():
        start = time.perf_counter()
        config = dict(
            size,
            losses=list(LOSSES),
            seeds=list(SEEDS),
            batch_size=BATCH_SIZE,
            optimizer="sgd momentum 0.9",
            noise_seed=NOISE_SEED,
            dataset="mnist",
            validation="clean, last 5000 training images",
            mode=args.mode,
            lr_extension=lit.LR_EXTENSION,
            replicates=lit.REPLICATES,
        )
        cli.write(path, config, SEEDS, {"results": run(args, size)}, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
