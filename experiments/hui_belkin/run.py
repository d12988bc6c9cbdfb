"""Experiment: square loss on the logits vs cross-entropy, tuned each its own way
(Hui & Belkin 2021).

The paper. Hui & Belkin, "Evaluation of Neural Architectures Trained with Square Loss vs
Cross-Entropy in Classification Tasks" (ICLR 2021): across NLP, speech and vision
benchmarks, architectures trained with the square loss (1/K)Σ_c (z_c − y_c)² perform
comparably to or better than with cross-entropy, with cross-entropy keeping "a slight
edge on computer vision tasks"; square loss is less sensitive to the random init. For
many classes they rescale it, ℓ = (1/K)[k (z_y − M)² + Σ_{c≠y} z_c²] (their §4): k = M = 1
for ≤ 10-ish classes, and e.g. k = 15, M = 30 for their ~1000-class tasks.

(a) MLPs on MNIST and Fashion-MNIST: 784-128-10 ReLU, LeCun-normal init, SGD with
momentum 0.9, batch 128, 20 epochs (full size); CCE vs square loss (k = M = 1, their
normalisation: ``square_rescaled``), each over its OWN lr grid (the square loss's gradient
(2/K)(z − y) has another scale than CCE's), 3 replicates (init seed i and data-order
seed i), lr chosen on the validation split
(the last 5,000 training images), test accuracy at that lr only. At full size each grid
is extended while its choice is on an edge (``lit.interior_sweep``).

(b) The class count: :func:`softjax.data.make_many_classes` (seeded, drawn with
``jax.random`` on the device), K ∈ {10, 20, 50, 100, 200} classes of 200 samples each in
64 dimensions (two Gaussian clusters per class, centres ≈ 4 from the origin), an MLP
64-128-K, the same optimiser, 15 epochs;
CCE vs square loss with k = M = 1 vs square loss with k = 15, M = 30; the square
losses' lr grids are scaled by K/10 (their gradient carries 1/K). The summary names
the smallest K at which the rescaled loss beats the plain one with disjoint 95%
intervals.

Run::

    python -m experiments.hui_belkin            # full size: the committed results
    python -m experiments.hui_belkin --quick    # smaller, results/scratch/hui_belkin_quick.*
    python -m experiments.hui_belkin --redraw   # figures and summary from the JSON only
"""

from __future__ import annotations

import time

import jax

from experiments._common import cli, lit
from experiments.hui_belkin import report as plots
from softjax.data import make_many_classes
from softjax.sweeps.adaptive import MAX_ROUNDS
from softjax.training import TrainConfig

STEM = "hui_belkin"
PLAIN = ("square_rescaled", {"k": 1.0, "M": 1.0})
RESCALED = ("square_rescaled", {"k": 15.0, "M": 30.0})
# Each loss's own lr grid (momentum 0.9); chosen on validation, edges flagged in the JSON.
LR_GRIDS = {
    "cce": [0.01, 0.03, 0.1, 0.3],
    "plain": [0.03, 0.1, 0.3, 1.0],
    "rescaled": [0.0003, 0.001, 0.003, 0.01],
}
LOSSES = {"cce": "cce", "plain": PLAIN, "rescaled": RESCALED}
SEEDS = (0, 1, 2)
BATCH_SIZE = 128
DIM, CLUSTERS, SEP, SYNTH_SEED = 64, 2, 4.0, 2021
SIZES = {
    "full": dict(
        datasets=["mnist", "fashion_mnist"],
        train_subset=None,
        epochs=20,
        hidden=128,
        ks=[10, 20, 50, 100, 200],
        per_class=200,
        synth_epochs=15,
        lr_index=None,
        max_rounds=MAX_ROUNDS,
    ),
    "quick": dict(
        datasets=["mnist", "fashion_mnist"],
        train_subset=5000,
        epochs=3,
        hidden=64,
        ks=[10, 200],
        per_class=60,
        synth_epochs=5,
        lr_index=None,
        max_rounds=0,  # the small sizes prove the code; an edge is flagged, not chased
    ),
    "smoke": dict(
        datasets=["mnist"],
        train_subset=1000,
        epochs=1,
        hidden=16,
        ks=[10, 20],
        per_class=40,
        synth_epochs=1,
        lr_index=1,
        max_rounds=0,
    ),
}


def _config(sizes, epochs) -> TrainConfig:
    return TrainConfig(
        sizes=sizes,
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.9},
        batch_size=BATCH_SIZE,
        epochs=epochs,
    )


def _compare(config, data, size, data_info, lr_factor=1.0, name="") -> list[dict]:
    """Each loss over its own lr grid (one vmapped sweep per loss and extension round),
    best rows per loss, each with its final grid; the square losses' grids are multiplied
    by ``lr_factor``."""
    rows = []
    for family, loss in LOSSES.items():
        if family == "rescaled" and data_info.get("skip_rescaled"):
            continue
        lrs = LR_GRIDS[family]
        if family != "cce":
            lrs = [lr * lr_factor for lr in lrs]
        if size["lr_index"] is not None:
            lrs = [lrs[size["lr_index"]]]
        records, grids = lit.interior_sweep(
            config,
            data,
            [loss],
            lrs,
            SEEDS,
            size["max_rounds"],
            name=name,  # the log line names the loss itself
            progress=False,
        )
        (lrs,) = grids.values()
        for row in lit.best_rows(records, None):
            rows.append({**row, "family": family, "lrs": lrs})
    return rows


def run(args, size) -> dict:
    real = {}
    for name in size["datasets"]:
        data = lit.load(name, args, size["train_subset"])
        config = _config((784, size["hidden"], 10), size["epochs"])
        real[name] = _compare(config, data, size, {"skip_rescaled": True}, name=name)
        print(
            name, [(r["family"], r["lr"], r["final_test_accuracy"]) for r in real[name]], flush=True
        )
    synthetic = {}
    for k in size["ks"]:
        n = size["per_class"] * k
        data = make_many_classes(
            jax.random.fold_in(jax.random.PRNGKey(SYNTH_SEED), k),
            n,
            DIM,
            k,
            clusters=CLUSTERS,
            sep=SEP,
            validation=n // 10,
        )
        config = _config((DIM, size["hidden"], k), size["synth_epochs"])
        # The square losses' gradient carries 1/K: their lr grid scales with K/10, so
        # that what separates them at large K is the rescaling, not an untuned lr.
        synthetic[str(k)] = _compare(config, data, size, {}, lr_factor=k / 10, name=f"K={k}")
        print(
            f"K={k}",
            [(r["family"], r["lr"], r["final_test_accuracy"]) for r in synthetic[str(k)]],
            flush=True,
        )
    return {"real": real, "synthetic": synthetic}


def main(argv=None):
    args = cli.parse_args(__doc__, argv)
    size = cli.size(args, SIZES)
    out_dir, path = cli.results_path(args, STEM)

    def _run():
        start = time.perf_counter()
        config = dict(
            size,
            losses={k: list(v) if isinstance(v, tuple) else v for k, v in LOSSES.items()},
            lr_grids=LR_GRIDS,
            seeds=list(SEEDS),
            batch_size=BATCH_SIZE,
            optimizer="sgd momentum 0.9",
            synthetic=dict(
                dim=DIM,
                clusters=CLUSTERS,
                sep=SEP,
                seed=SYNTH_SEED,
                square_lr_factor="K/10",
                validation="10% of n",
                test="20% of n",
            ),
            mode=args.mode,
            lr_extension=lit.LR_EXTENSION,
            replicates=lit.REPLICATES,
        )
        cli.write(path, config, SEEDS, run(args, size), start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
