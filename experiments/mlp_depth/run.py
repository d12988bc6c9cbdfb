"""Experiment: per-layer gradients of sigmoid, tanh and ReLU MLPs of depth 1-6 on MNIST.

Seed 003's backprop recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l) multiplies the error by
f′ once per hidden layer on its way to the input. σ′ ≤ 1/4, so a sigmoid net's early layers
get much smaller gradients than its last ones; tanh′ ≤ 1 and ReLU′ ∈ {0, 1} shrink less.

For each activation, depth (number of hidden layers, all of the same width) and seed the
script trains SGD on the cross-entropy (``softjax.training.train``, one compiled program
per run) from LeCun-normal init: 10 epochs and seeds 0, 1, 2 in the full run, so whether a
deep net "stays at chance" is read off several seeds and enough epochs (a run is at chance
when its final test accuracy is ≤ 1/10 + 5%; the summary counts them per config). At init
and after training it measures, on a fixed batch of training images, with the
closed-form recursion ``softjax.backprop``:

* ``grad_norm[l]``: ‖∂L/∂W_l‖_F of the batch-mean loss, for every layer l = 1 … depth + 1;
* ``mean_abs_delta[l]``: the mean over samples and units of |∂ℓ_i/∂Z_l| for each sample's
  own loss (seed 003's δ_l without the batch's 1/N). It is read off per-sample bias
  gradients, since ∂ℓ_i/∂b_l = δ_l for a batch of one (∂J/∂b_l = Σ_rows δ_l);
* ``mean_fprime[l]``: the mean of f′(Z_l) over the batch, for every hidden layer.

Run::

    python -m experiments.mlp_depth             # 3 activations × depths 1-6 × 3 seeds, 10 epochs
    python -m experiments.mlp_depth --quick     # 5000 images, depths 1 and 3, 1 seed, 1 epoch
    python -m experiments.mlp_depth --redraw    # figure and summary from the JSON only (+ --quick)
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import softjax
from experiments._common import cli
from experiments._common.cli import draw_figures, require_results
from experiments.mlp_depth import report as plots
from softjax.data import load_dataset
from softjax.results import provenance, write_json
from softjax.training import TrainConfig, init_params, seed_keys, train

RESULTS_STEM = "mlp_depth"
"""The results' file stem; a --quick run writes ``mlp_depth_quick.*`` to the scratch folder."""
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu")
SIZES = {
    "quick": dict(depths=(1, 3), seeds=(0,), epochs=1, train_size=5000),
    "full": dict(depths=(1, 2, 3, 4, 5, 6), seeds=(0, 1, 2), epochs=10, train_size=None),
}
"""Each mode's depths, seeds, epochs and training images (None: all); ``--config`` and the
flags override them."""


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


def run_one(config: TrainConfig, data, stats_x, stats_y) -> dict:
    """Trains ``config`` and measures the layer statistics before and after."""
    init_key, _ = seed_keys(config.seed)
    params0 = init_params(config, init_key)  # the params train() would draw itself
    act = config.activations
    start = time.perf_counter()
    at_init = layer_stats(params0, stats_x, stats_y, act)
    result = train(config, data, params=params0)
    trained = layer_stats(result.params, stats_x, stats_y, act)
    trained = jax.block_until_ready(trained)
    return {
        "activation": act,
        "depth": len(config.sizes) - 2,
        "sizes": list(config.sizes),
        "train_config": config.to_dict(),
        "seed": config.seed,
        "test_accuracy": float(result.history["test_accuracy"][-1])
        if len(result.history["test_accuracy"])
        else None,
        "test_accuracy_per_epoch": result.history["test_accuracy"],
        "test_loss": result.history["test_loss"],
        "train_loss": result.history["train_loss"],
        "train_accuracy": result.history["train_accuracy"],
        "diverged": result.diverged,
        "init": _stats_to_lists(at_init),
        "trained": _stats_to_lists(trained),
        "wall_s": time.perf_counter() - start,
    }


def _study_args(parser) -> None:
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATION_NAMES))
    parser.add_argument("--depths", type=int, nargs="+", default=None, help="hidden layers")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=None, help="default 10 (--quick: 1)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (--quick: 0)"
    )
    parser.add_argument("--train-size", type=int, default=None, help="first N training images")
    parser.add_argument("--stats-size", type=int, default=1000, help="images for the norms")


def parse_args(argv=None):
    """The shared flags (:func:`experiments._common.cli.parse_args`) and the study's own."""
    return cli.parse_args(__doc__, argv, _study_args, modes=("quick", "full"), check=_check)


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
    if not (args.lr > 0):
        raise ValueError(f"--lr: expected a number > 0, got {args.lr}")


def main(argv=None) -> list[Path]:
    args = parse_args(argv)
    out_dir, results_path = cli.results_path(args, RESULTS_STEM)
    if args.redraw:
        require_results(results_path)
    else:
        flags = {k: getattr(args, k) for k in ("depths", "seeds", "epochs", "train_size")}
        size = cli.size(args, SIZES, flags)
        depths, seeds = tuple(size["depths"]), list(size["seeds"])
        epochs, train_size = size["epochs"], size["train_size"]
        start = time.perf_counter()
        data = load_dataset("mnist", source=args.source, data_dir=args.data_dir)
        if train_size is not None:
            data = data._replace(
                x_train=data.x_train[:train_size], y_train=data.y_train[:train_size]
            )
        if args.stats_size > len(data.x_train):
            raise SystemExit(
                f"--stats-size: expected at most {len(data.x_train)} (the training images), "
                f"got {args.stats_size}"
            )
        load_s = time.perf_counter() - start
        stats_x = jnp.asarray(data.x_train[: args.stats_size])
        stats_y = jnp.asarray(data.y_train[: args.stats_size])
        base = TrainConfig(
            sizes=(784, 10),
            loss="cce",
            optimizer="sgd",
            lr=args.lr,
            batch_size=args.batch_size,
            epochs=epochs,
            seed=seeds[0],
        )
        configs = [
            base.replace(sizes=(784, *([args.width] * depth), 10), activations=act, seed=seed)
            for act in args.activations
            for depth in depths
            for seed in seeds
        ]
        runs = []
        bar = tqdm(configs, desc="mlp_depth", unit="run")
        for config in bar:
            bar.set_postfix_str(
                f"{config.activations} depth {len(config.sizes) - 2} seed {config.seed}"
            )
            runs.append(run_one(config, data, stats_x, stats_y))
            bar.set_postfix_str(f"last test acc {runs[-1]['test_accuracy']:.4f}")
        bar.close()
        config = {
            "dataset": "mnist",
            "source": args.source,
            "train_size": len(data.x_train),
            "test_size": len(data.x_test),
            "stats_size": args.stats_size,
            "stats_batch": "the first stats_size training images",
            "activations": list(args.activations),
            "depths": list(depths),
            "width": args.width,
            "base_train_config": base.to_dict(),
            "quick": args.quick,
        }
        doc = {
            "provenance": provenance(config, seeds=seeds, argv=sys.argv),
            "runs": runs,
            "load_s": load_s,
            "total_wall_s": time.perf_counter() - start,
        }
        write_json(results_path, doc)
        print(f"wrote {results_path}: {len(runs)} runs in {doc['total_wall_s']:.1f} s")
    return draw_figures(plots, results_path, out_dir)


if __name__ == "__main__":
    main()
