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
normalisation: ``square_rescaled``).

(b) The class count: :func:`softjax.data.make_many_classes` (seeded, drawn with
``jax.random`` on the device), K ∈ {10, 20, 50, 100, 200} classes of 200 samples each in
64 dimensions (two Gaussian clusters per class, centres ≈ 4 from the origin), an MLP
64-128-K, the same optimiser, 15 epochs; CCE vs square loss with k = M = 1 vs square loss
with k = 15, M = 30.

Each (setting, loss) gets its own lr by :func:`softjax.sweeps.lr_search.search_lrs` on
the ``search_seeds`` replicates, chosen on validation accuracy among the runs above
chance (1/K + 0.05); a loss with no lr above chance says "no lr trains" and is measured at
its best finite lr, flagged. The search starts from :data:`START` (the square losses'
lrs times K/10: their gradient carries 1/K) and spans to divergence. The ``seeds``
replicates (replicate i: init seed i and data-order seed i in every loss) then train at
the chosen lr (the search's own runs serve the search replicates); :mod:`.analysis`
gives the paired differences (square − CCE on the real data, rescaled − plain per K)
with their 95% intervals and four-way verdicts, Holm over each named family.

Run::

    python -m experiments.hui_belkin            # full size: the committed results
    python -m experiments.hui_belkin --quick    # smaller, results/scratch/hui_belkin_quick.*
    python -m experiments.hui_belkin --redraw   # figures and summary from the JSON only
"""

from __future__ import annotations

import time

import jax
import numpy as np

from experiments._common import choices, cli, lit
from experiments.hui_belkin import analysis
from experiments.hui_belkin import report as plots
from softjax.config import TrainConfig
from softjax.data import make_many_classes
from softjax.sweeps import sweep
from softjax.sweeps.lr_search import search_lrs, sweep_evaluator

STEM = "hui_belkin"
PLAIN = ("square_rescaled", {"k": 1.0, "M": 1.0})
RESCALED = ("square_rescaled", {"k": 15.0, "M": 30.0})
LOSSES = {"cce": "cce", "plain": PLAIN, "rescaled": RESCALED}
START = {
    "cce": [0.01, 0.0316, 0.1, 0.316],
    "plain": [0.0316, 0.1, 0.316, 1.0],
    "rescaled": [0.000316, 0.001, 0.00316, 0.01],
}
"""Round 0 of each loss's lr search (×√10 steps; the square losses' times K/10)."""
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
        search_seeds=[0, 1],
        seeds=[0, 1, 2, 3, 4],
        lr_index=None,
        max_rounds=6,
    ),
    "quick": dict(
        datasets=["mnist", "fashion_mnist"],
        train_subset=5000,
        epochs=3,
        hidden=64,
        ks=[10, 200],
        per_class=60,
        synth_epochs=5,
        search_seeds=[0, 1],
        seeds=[0, 1, 2],
        lr_index=None,
        max_rounds=2,
    ),
    "smoke": dict(
        datasets=["mnist"],
        train_subset=1000,
        epochs=1,
        hidden=16,
        ks=[10, 20],
        per_class=40,
        synth_epochs=1,
        search_seeds=[0],
        seeds=[0, 1],
        lr_index=1,
        max_rounds=1,
    ),
}


def _config(sizes, epochs) -> TrainConfig:
    return TrainConfig(
        sizes=sizes,
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.9},
        batch_size=BATCH_SIZE,
        epochs=epochs,
        diagnostics=False,
    )


def _final(r) -> float | None:
    return None if r["diverged"] else float(r["history"]["test_accuracy"][-1])


def compare(config, data, size, families, classes, lr_factor=1.0, name="") -> dict:
    """Each loss of ``families``: its lr search (one ``sweep`` per round) on the search
    replicates, then the remaining replicates at the chosen lr. Returns ``{family:
    {"loss_spec", "search", "choice", "lr", "lr_factor", "per_seed"}}``, ``per_seed``
    the final test accuracy of each of ``seeds`` (None: diverged)."""
    out = {}
    for family in families:
        start = [lr * (1.0 if family == "cce" else lr_factor) for lr in START[family]]
        if size["lr_index"] is not None:
            start = [start[size["lr_index"]]]
        records: list[dict] = []
        evaluate = sweep_evaluator(
            sweep,
            config,
            data,
            replicates=size["search_seeds"],
            losses=LOSSES,
            records=records,
            progress=False,
        )
        found = search_lrs(
            evaluate,
            [(family, 1.0)],
            chance=1.0 / classes,
            start=start,
            max_rounds=size["max_rounds"],
            log=lambda line, f=family: print(f"{name} {f}: {line}", flush=True),
        ).as_dict()
        (choice,) = found["choices"]
        lr = choices.chosen_lr(choice, choices.search_scores(found, [family, 1.0]))
        finals = {r["seed"]: _final(r) for r in records if r["lr"] == lr}
        rest = [s for s in size["seeds"] if s not in finals]
        if lr is not None and rest:
            more = sweep(
                config,
                data,
                losses=[LOSSES[family]],
                lrs=[lr],
                seeds=rest,
                data_seeds=rest,
                seed_pairing="paired",
                progress=False,
            )
            finals |= {r["seed"]: _final(r) for r in more}
        out[family] = {
            "loss_spec": list(LOSSES[family]) if family != "cce" else "cce",
            "search": found,
            "choice": choice,
            "lr": lr,
            "lr_factor": 1.0 if family == "cce" else lr_factor,
            "per_seed": [finals.get(s) for s in size["seeds"]],
            "model_epochs": (len(records) + len(rest)) * config.epochs,
        }
    return out


def run(args, size) -> dict:
    real = {}
    for name in size["datasets"]:
        data = lit.load(name, args, size["train_subset"])
        config = _config((784, size["hidden"], 10), size["epochs"])
        real[name] = compare(config, data, size, ("cce", "plain"), 10, name=name)
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
        synthetic[str(k)] = compare(
            config, data, size, tuple(LOSSES), k, lr_factor=k / 10, name=f"K={k}"
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
            start_lrs=START,
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
            lr_search="softjax.sweeps.lr_search.search_lrs on the search replicates",
            replicates=lit.REPLICATES,
            delta=analysis.DELTA,
            correction="Holm",
        )
        body = run(args, size)
        body["analysis"] = analysis.analyse(body, size["seeds"])
        body["verdicts"] = [j.to_dict() for j in analysis.judgements(body["analysis"])]
        body["model_epochs"] = int(
            np.sum(
                [
                    f["model_epochs"]
                    for s in ("real", "synthetic")
                    for g in body[s].values()
                    for f in g.values()
                ]
            )
        )
        body["methods"] = plots.METHODS
        cli.write(path, config, size["seeds"], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
