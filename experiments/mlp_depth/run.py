"""Experiment: per-layer gradients of sigmoid, tanh and ReLU MLPs of depth 1-6 on MNIST.

Seed 003's backprop recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) multiplies the error by
f′ once per hidden layer on its way to the input. σ′ ≤ 1/4, so a sigmoid net's early layers
get much smaller gradients than its last ones; tanh′ ≤ 1 and ReLU′ ∈ {0, 1} shrink less.

For each activation and depth (number of hidden layers, all of the same width) the lr is
found by :func:`softjax.sweeps.lr_search.search_lrs` on validation accuracy after
``epochs`` epochs over the ``search_seeds`` replicates (each round one
:func:`softjax.sweeps.sweep` program; it chooses only among finite, above-chance lrs). A
(activation, depth) "stays at chance" only when no lr trains (validation accuracy ≤ 1/10
+ 5 points at every lr tried, or diverged); it is then searched again with LONGER × the
epochs (:mod:`softjax.sweeps.budget`): an lr that trains there means the depth *slows*
learning, none means it *stops* it within that budget (measured at the lr of the lowest
validation loss, flagged). The ``seeds`` replicates (replicate i: init seed i and
data-order seed i) then train SGD on the cross-entropy from LeCun-normal init at the lr
found, for the budget it was found at (one sweep program per (activation, depth)). At
init and after training it measures, on a fixed batch of training images, with the
closed-form recursion ``softjax.backprop``:

* ``grad_norm[l]``: ‖∂L/∂W_l‖_F of the batch-mean loss, for every layer l = 1 … depth + 1;
* ``mean_abs_delta[l]``: the mean over samples and units of |∂ℓ_i/∂Z_l| for each sample's
  own loss (seed 003's δ_l without the batch's 1/N). It is read off per-sample bias
  gradients, since ∂ℓ_i/∂b_l = δ_l for a batch of one (∂J/∂b_l = Σ_rows δ_l);
* ``mean_fprime[l]``: the mean of f′(Z_l) over the batch, for every hidden layer.

Run::

    python -m experiments.mlp_depth             # full size (SIZES["full"]): results/mlp_depth.*
    python -m experiments.mlp_depth --quick     # smaller, results/scratch/, NOT the study
    python -m experiments.mlp_depth --smoke     # seconds: the tests' size
    python -m experiments.mlp_depth --redraw    # figure and summary from the JSON only
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import softjax
from experiments._common import cli, lit
from experiments.mlp_depth import analysis
from experiments.mlp_depth import report as plots
from softjax.config import TrainConfig, init_params, seed_keys
from softjax.sweeps import sweep
from softjax.sweeps.budget import LONGER
from softjax.sweeps.lr_search import search_lrs, sweep_evaluator

RESULTS_STEM = "mlp_depth"
"""The results' file stem; a --quick run writes ``mlp_depth_quick.*`` to the scratch folder."""
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu")
START = [0.01, 0.0316, 0.1, 0.316, 1.0, 3.16, 10.0]
"""Round 0 of every (activation, depth)'s lr search: ×√10 steps, one refinement reaches
×1.78 around the best. Not ×10: a timed trial's sigmoid depth 5 trains at lr 3.16 and
stays at chance at 1 and 10, and a search in which nothing trains only spans outwards."""
FULL = dict(
    depths=[1, 2, 3, 4, 5, 6],
    seeds=[0, 1, 2, 3, 4],
    search_seeds=[0],
    epochs=5,
    train_size=15000,
    start_lrs=START,
    max_rounds=5,
)
SIZES = {
    "full": FULL,
    "quick": FULL
    | dict(
        depths=[1, 3],
        seeds=[0, 1, 2],
        search_seeds=[0],
        epochs=2,
        train_size=5000,
        start_lrs=[0.1, 1.0, 10.0],
        max_rounds=2,
    ),
    "smoke": FULL
    | dict(
        depths=[1, 3],
        seeds=[0],
        search_seeds=[0],
        epochs=1,
        train_size=1000,
        start_lrs=[0.1, 1.0],
        max_rounds=1,
    ),
}
"""Each mode's depths, replicates, search replicates, epochs, training images (None: all)
and lr search; ``--config`` and the flags override them. The full size: about 11 minutes
on 2 otherwise idle CPU cores (≈ 23 on a machine shared as when it was estimated): ≈ 70
model-epochs (search and replicates) per (activation, depth) that trains within 5 epochs,
≈ 265 per one that stays at chance (its 15-epoch search and replicates), ≈ 1,850 in all
at ≈ 0.35 CPU-s each with compilation (timed partial run: sigmoid depth 5, 265
model-epochs in 106 CPU-s; it leaves chance only in the 15-epoch search, at lr 3.16)."""
CHANCE = 0.1


@functools.partial(jax.jit, static_argnums=(3,))
def layer_stats(params, x, labels, activation: str) -> dict:
    """Per-layer gradient statistics of the CCE loss on one batch (see the module doc).

    Args:
      params: MLP params.
      x: (N, D) inputs.
      labels: (N,) int class ids.
      activation: the hidden layers' activation name.

    Returns:
      ``grad_norm`` (L,), ``mean_abs_delta`` (L,) and ``mean_fprime`` (L − 1,) arrays.
    """
    grads = softjax.backprop(params, x, labels, "cce", activation)

    def one_sample(xi, yi):
        return [g["b"] for g in softjax.backprop(params, xi[None], yi[None], "cce", activation)]

    # Only the bias gradients leave the jit, so XLA drops the per-sample weight gradients.
    deltas = jax.vmap(one_sample)(x, labels)
    zs, _ = softjax.mlp_forward(params, x, activation)
    f_prime = softjax.ACTIVATIONS[activation].grad
    return {
        "grad_norm": jnp.stack([jnp.linalg.norm(g["w"]) for g in grads]),
        "mean_abs_delta": jnp.stack([jnp.mean(jnp.abs(d)) for d in deltas]),
        "mean_fprime": jnp.stack([jnp.mean(f_prime(z)) for z in zs[:-1]]),
    }


def _stats_to_lists(stats: dict) -> dict:
    return {k: np.asarray(v, dtype=float).tolist() for k, v in stats.items()}


def search(config: TrainConfig, data, size: dict) -> dict:
    """One (activation, depth)'s lr search: the search as data, the lr its replicates
    train at and how it was picked (``"chosen"``; where no lr trains, the finite lr of the
    lowest mean validation loss, ``"lowest validation loss, no lr trains"``: accuracy at
    chance does not rank lrs)."""
    records: list[dict] = []
    evaluate = sweep_evaluator(
        sweep, config, data, replicates=size["search_seeds"], records=records, progress=False
    )
    tag = f"{config.activations} depth {len(config.sizes) - 2}"
    found = search_lrs(
        evaluate,
        [("cce", 1.0)],
        chance=CHANCE,
        start=size["start_lrs"],
        max_rounds=size["max_rounds"],
        log=lambda line: print(f"{tag}: {line}", flush=True),
    ).as_dict()
    lr, how = found["choices"][0]["lr"], "chosen"
    if lr is None:
        by_lr: dict[float, list] = {}
        for r in records:
            value = None if r["diverged"] else r["history"]["val_loss"][-1]
            by_lr.setdefault(r["lr"], []).append(value)
        finite = {k: sum(v) / len(v) for k, v in by_lr.items() if None not in v}
        lr = min(finite, key=finite.get) if finite else None
        how = "lowest validation loss, no lr trains" if finite else "every lr diverged"
    return {
        "activation": config.activations,
        "depth": len(config.sizes) - 2,
        "search": found,
        "lr": lr,
        "lr_source": how,
        "stays_at_chance": found["choices"][0]["lr"] is None,
        "model_epochs": len(records) * config.epochs,
    }


def finals(config: TrainConfig, data, seeds, stats_x, stats_y, short: int) -> list[dict]:
    """The replicates at ``config.lr`` (one sweep program; replicate i: init seed i and
    data-order seed i), each with its layer statistics at init and after training.
    ``test_accuracy`` is read after epoch ``short`` (the study's budget), also when
    ``config.epochs`` is longer; ``test_accuracy_end`` after the last epoch."""
    act = config.activations
    records = sweep(
        config,
        data,
        losses=["cce"],
        lrs=[config.lr],
        seeds=list(seeds),
        data_seeds=list(seeds),
        seed_pairing="paired",
        progress=False,
        return_params=True,
    )
    runs = []
    for r in records:
        params0 = init_params(config.replace(seed=r["seed"]), seed_keys(r["seed"])[0])
        h = r["history"]
        runs.append(
            {
                "activation": act,
                "depth": len(config.sizes) - 2,
                "sizes": list(config.sizes),
                "seed": r["seed"],
                "lr": r["lr"],
                "diverged": r["diverged"],
                "epochs": config.epochs,
                "test_accuracy": _at(h["test_accuracy"], short),
                "test_accuracy_end": None if r["diverged"] else float(h["test_accuracy"][-1]),
                "test_accuracy_per_epoch": h["test_accuracy"],
                **{k: h[k] for k in HISTORY_KEYS if k in h},
                "init": _stats_to_lists(layer_stats(params0, stats_x, stats_y, act)),
                "trained": _stats_to_lists(layer_stats(r["params"], stats_x, stats_y, act)),
            }
        )
    return runs


def _at(curve, epoch: int) -> float | None:
    """``curve``'s value after ``epoch`` (1-based); None where the run stopped before."""
    return float(curve[epoch - 1]) if len(curve) >= epoch else None


HISTORY_KEYS = ("train_loss", "train_accuracy", "val_accuracy", "test_loss")
"""The per-epoch curves kept per replicate (with ``test_accuracy_per_epoch``)."""


def _study_args(parser) -> None:
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATION_NAMES))
    parser.add_argument("--depths", type=int, nargs="+", default=None, help="hidden layers")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=None, help="default: the size's")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="replicates")
    parser.add_argument("--train-size", type=int, default=None, help="first N training images")
    parser.add_argument("--stats-size", type=int, default=1000, help="images for the norms")


def parse_args(argv=None):
    """The shared flags (:func:`experiments._common.cli.parse_args`) and the study's own."""
    return cli.parse_args(__doc__, argv, _study_args, check=_check)


def _check(args) -> None:
    if args.seeds is not None and (
        any(x < 0 for x in args.seeds) or len(set(args.seeds)) < len(args.seeds)
    ):
        raise ValueError(f"--seeds: expected distinct ints ≥ 0, got {args.seeds}")
    for name in ("width", "epochs", "batch_size", "stats_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(
                f"--{name.replace('_', '-')}: expected an int ≥ 1, got {getattr(args, name)}"
            )
    bad = [a for a in args.activations if a not in softjax.ACTIVATIONS]
    if bad:
        raise ValueError(
            f"--activations: unknown {bad}; expected names from {sorted(softjax.ACTIVATIONS)}"
        )
    if args.depths is not None and any(d < 0 for d in args.depths):
        raise ValueError(f"--depths: expected ints ≥ 0, got {args.depths}")


def main(argv=None) -> list[Path]:
    args = parse_args(argv)
    out_dir, results_path = cli.results_path(args, RESULTS_STEM)

    def _run():
        flags = {k: getattr(args, k) for k in ("depths", "seeds", "epochs", "train_size")}
        size = cli.size(args, SIZES, flags)
        start = time.perf_counter()
        data = lit.load("mnist", args, size["train_size"])
        if args.stats_size > len(data.x_train):
            raise SystemExit(
                f"--stats-size: expected at most {len(data.x_train)} (the training images), "
                f"got {args.stats_size}"
            )
        stats_x = jnp.asarray(data.x_train[: args.stats_size])
        stats_y = jnp.asarray(data.y_train[: args.stats_size])
        base = TrainConfig(
            sizes=(784, 10),
            loss="cce",
            optimizer="sgd",
            batch_size=args.batch_size,
            epochs=size["epochs"],
            diagnostics=False,
        )
        searches, runs = [], []
        for act in args.activations:
            for depth in size["depths"]:
                t0 = time.perf_counter()
                config = base.replace(sizes=(784, *([args.width] * depth), 10), activations=act)
                found = search(config.replace(test_each_epoch=False), data, size)
                epochs = size["epochs"]
                if found["stays_at_chance"]:
                    # No lr trains: the budget rule (softjax.sweeps.budget) searches again
                    # LONGER × as long, to tell "slows" (an lr trains later) from "stops".
                    epochs *= LONGER
                    longer = search(
                        config.replace(test_each_epoch=False, epochs=epochs), data, size
                    )
                    found["longer"] = longer | {"epochs": epochs}
                    found["lr"], found["lr_source"] = longer["lr"], longer["lr_source"]
                found["epochs"] = epochs
                if found["lr"] is not None:
                    final = config.replace(lr=found["lr"], epochs=epochs)
                    runs += finals(final, data, size["seeds"], stats_x, stats_y, size["epochs"])
                found["wall_s"] = time.perf_counter() - t0
                searches.append(found)
                print(
                    f"{act} depth {depth}: lr {found['lr']} ({found['lr_source']}), "
                    f"{found['wall_s']:.0f} s",
                    flush=True,
                )
        config = {
            "mode": args.mode,
            **size,
            "dataset": "mnist",
            "source": args.source,
            "train_size": len(data.x_train),
            "test_size": len(data.x_test),
            "stats_size": args.stats_size,
            "stats_batch": "the first stats_size training images",
            "activations": list(args.activations),
            "width": args.width,
            "chance": CHANCE,
            "replicates": lit.REPLICATES,
            "longer": LONGER,
            "base_train_config": base.to_dict(),
        }
        body = {
            "searches": searches,
            "runs": runs,
            "analysis": analysis.analyse(runs, searches, size["epochs"]),
        }
        cli.write(results_path, config, size["seeds"], body, start)

    return cli.finish(args, plots, results_path, out_dir, _run)


if __name__ == "__main__":
    main()
