"""Experiment: do bounded losses resist memorising noisy labels? (Ghosh, Kumar & Sastry
2017; Zhang & Sabuncu 2018)

The papers. Ghosh et al. prove that a *symmetric* loss (Σ_k ℓ(f(x), k) constant, e.g.
MAE on the softmax) has the same minimiser under symmetric noise of rate η < (K − 1)/K
as on clean labels; Zhang & Sabuncu show that CCE *memorises* noisy labels once a net
fits its training set (training accuracy on the noisy labels → 100% while clean test
accuracy falls), that MAE resists but trains slowly, and propose the generalised
cross-entropy L_q = (1 − ŷ_y^q)/q (softjax's built-in ``gce``, q = 0.7 as theirs) between
the two.

The regime. The claim is about nets that can fit their noisy training set, so the net
and the subset are sized to do so on 2 cores: an MLP 784-``hidden``-10 (ReLU,
LeCun-normal init) on the first ``train_subset`` MNIST training images, SGD momentum
0.9, batch 32, ``epochs`` epochs. Whether CCE reached it (its training accuracy on the
noisy labels near 100%) is measured, per rate, and said in the summary.

Noise. Symmetric: exactly round(η·N) labels moved to a uniformly chosen other class
(:func:`softjax.data.symmetric_noise`), drawn per replicate (replicate i at rate η has
its own draw, :func:`noise_keys`), on the training labels AND on the validation labels:
the lr is chosen on a *noisy* validation split (the first ``val_size`` images of the
default split), as a practitioner with noisy labels must. Expected accuracy on noisy
labels is a(1 − η) + (1 − a)·η/(K − 1) for clean accuracy a, increasing in a while
η < (K − 1)/K, so the noisy split ranks lrs as the clean one would in expectation; the
chance margin of the lr search is mapped through the same line
(:func:`noisy_margin`).

Design. Per rate, each loss's lr by :func:`softjax.sweeps.lr_search.search_lrs` on the
``search_seeds`` replicates (each round one :func:`softjax.sweeps.sweep` call per
replicate, every loss with its own lr list), scored by final noisy validation accuracy.
Then the ``seeds`` replicates (replicate i: init seed i, data-order seed i and noise draw
i, in every loss) train each loss at its chosen lr, for ``epochs`` (the fixed budget,
the one the lr was chosen at) and for ``LONGER`` × ``epochs`` (the longer budget: the
same init, batches and constant lr, so its first ``epochs`` are the fixed budget's; the
claim is about nets trained until they fit, so it is judged there). Two lr protocols:
``"tuned"``, each loss at the lr chosen at that rate on its noisy validation split (a
practitioner's), and ``"fixed"``, each loss at its η = 0 choice at every rate (the
papers' fixed hyper-parameters; the interaction then changes η alone, not the lr with
it). In these final runs the history's
validation split is the *memorisation probe*: the flipped training images with their
noisy labels, so ``val_accuracy`` per epoch is the fraction of flipped labels the net
predicts (memorised); at η = 0 it is the validation split. Nothing is selected on these
runs. Clean test accuracy is read once, at the end of each. Which losses were still
improving at the end of the search (``softjax.sweeps.budget``) is recorded; every loss
runs the longer budget anyway.
:mod:`.analysis` makes the verdicts; :mod:`.report` writes from the JSON alone.

Run::

    python -m experiments.label_noise            # full size: results/label_noise.*
    python -m experiments.label_noise --quick    # smaller, results/scratch/, NOT the study
    python -m experiments.label_noise --redraw   # figure and summary from the JSON only
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import cli, lit
from experiments.label_noise import analysis
from experiments.label_noise import report as plots
from softjax.config import TrainConfig
from softjax.data.noise import symmetric_noise
from softjax.models import mlp_apply
from softjax.sweeps import sweep
from softjax.sweeps.budget import LONGER
from softjax.sweeps.lr_search import CHANCE_MARGIN, scores_from_records, search_lrs

STEM = "label_noise"
LOSSES = ("cce", "mse", "mae", "gce")
K = 10
NOISE_SEED = 2017
BATCH_SIZE = 32
START = [0.01, 0.0316, 0.1, 0.316, 1.0]
FULL = dict(
    train_subset=1000,
    val_size=2000,
    hidden=128,
    epochs=40,
    rates=[0.0, 0.2, 0.4, 0.6, 0.8],
    search_seeds=[0, 1],
    seeds=list(range(5)),
    start_lrs=START,
    max_rounds=8,
)
SIZES = {
    "full": FULL,
    "quick": FULL
    | dict(
        train_subset=500,
        val_size=1000,
        hidden=64,
        epochs=12,
        rates=[0.0, 0.4, 0.8],
        seeds=[0, 1, 2],
        start_lrs=[0.03, 0.3],
        max_rounds=2,
    ),
    "smoke": FULL
    | dict(
        train_subset=300,
        val_size=300,
        hidden=16,
        epochs=3,
        rates=[0.0, 0.6],
        search_seeds=[0],
        seeds=[0, 1],
        start_lrs=[0.2],
        max_rounds=1,
    ),
}


def noise_keys(rate: float, replicate: int) -> tuple:
    """``(train key, validation key)`` of replicate ``replicate`` at ``rate``: its own
    draw, the same in every loss and in the search and the final runs."""
    key = jax.random.fold_in(jax.random.PRNGKey(NOISE_SEED), round(1000 * rate))
    key = jax.random.fold_in(key, replicate)
    return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


def noisy(clean, rate: float, replicate: int):
    """``(data, flipped)``: ``clean`` with replicate ``replicate``'s noisy training and
    validation labels at ``rate``; ``flipped`` marks the training labels moved."""
    k_train, k_val = noise_keys(rate, replicate)
    y_train, flipped = symmetric_noise(k_train, np.asarray(clean.y_train), rate, K)
    y_val, _ = symmetric_noise(k_val, np.asarray(clean.y_val), rate, K)
    return clean._replace(y_train=y_train, y_val=y_val), flipped


def noisy_margin(rate: float) -> float:
    """The lr search's chance margin on noisy labels: the clean margin above chance
    (``CHANCE_MARGIN`` of accuracy) mapped through a(1 − η) + (1 − a)η/(K − 1)."""
    return CHANCE_MARGIN * (1 - rate * K / (K - 1))


def base_config(size: dict, epochs: int, **kw) -> TrainConfig:
    return TrainConfig(
        sizes=(784, size["hidden"], K),
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.9},
        batch_size=BATCH_SIZE,
        epochs=epochs,
        diagnostics=False,
        **kw,
    )


def search(clean, rate: float, size: dict) -> tuple[dict, list[dict]]:
    """Every loss's lr at ``rate``: :func:`search_lrs` whose rounds train each search
    replicate on its own noise draw (one sweep per replicate, every loss with its own
    lrs). Returns ``(search dict, records)``."""
    records: list[dict] = []
    base = base_config(size, size["epochs"], test_each_epoch=False)
    draws = {s: noisy(clean, rate, s)[0] for s in size["search_seeds"]}

    def evaluate(lrs_by_arm):
        names = [name for name, _ in lrs_by_arm]
        got = []
        for s, data in draws.items():
            got += sweep(
                base,
                data,
                losses=names,
                lrs=[sorted(lrs_by_arm[(n, 1.0)]) for n in names],
                seeds=[s],
                data_seeds=[s],
                seed_pairing="paired",
                progress=False,
            )
        records.extend(got)
        return scores_from_records(got, list(lrs_by_arm), "val_accuracy")

    result = search_lrs(
        evaluate,
        [(loss, 1.0) for loss in LOSSES],
        chance=1 / K,
        margin=noisy_margin(rate),
        start=size["start_lrs"],
        max_rounds=size["max_rounds"],
        log=lambda line: print(f"η={rate}: {line}", flush=True),
    )
    return result.as_dict(), records


def chosen(choice: dict, records: list[dict]) -> float | None:
    """A loss's lr: the search's choice, else (no lr trains) the lr of the best finite
    mean validation accuracy, so a loss that cannot train is measured, not dropped."""
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
    """Each loss's mean noisy-validation curve at its chosen lr over the search replicates."""
    out = {}
    for loss, lr in lrs.items():
        runs = [r for r in records if (r["loss"], r["lr"]) == (loss, lr)]
        if runs and not any(r["diverged"] for r in runs):
            curves = [r["history"]["val_accuracy"] for r in runs]
            out[loss] = [sum(c) / len(c) for c in zip(*curves, strict=True)]
    return out


def probe(data, flipped):
    """The final runs' data: validation = the flipped training images with their noisy
    labels (the memorisation probe); unchanged where nothing flipped (η = 0)."""
    if not flipped.any():
        return data
    return data._replace(x_val=data.x_train[flipped], y_val=data.y_train[flipped])


def _round(values) -> list:
    return [None if v is None or not np.isfinite(v) else float(f"{v:.6g}") for v in values]


def finals(clean, rate: float, lrs: dict, size: dict, epochs: int) -> tuple[list[dict], int]:
    """The ``seeds`` replicates of every loss of ``lrs`` at its chosen lr for ``epochs``
    (one sweep per replicate on its noise draw; test once, at the end). Returns the runs
    and the model-epochs trained."""
    want = {loss: lr for loss, lr in lrs.items() if lr is not None}
    if not want:
        return [], 0
    budget = "long" if epochs > size["epochs"] else "short"
    base = base_config(size, epochs, test_each_epoch=False)
    out = []
    for seed in size["seeds"]:
        data, flipped = noisy(clean, rate, seed)
        records = sweep(
            base,
            probe(data, flipped),
            losses=list(want),
            lrs=[[lr] for lr in want.values()],
            seeds=[seed],
            data_seeds=[seed],
            seed_pairing="paired",
            progress=False,
            return_params=True,
        )
        out += [measures(r, rate, data, clean.y_train, flipped, budget) for r in records]
    return out, len(out) * epochs


def measures(r, rate, data, clean_y, flipped, budget: str) -> dict:
    """One final run as JSON: its per-epoch curves (noisy-label training accuracy, the
    epoch's running mean; memorised fraction, at each epoch's end) and its
    end-of-training measures from the final params: clean test accuracy
    (``test_<budget>``), training accuracy on the noisy and on the clean labels, and the
    memorised fraction."""
    h, diverged = r["history"], r["diverged"]
    run = dict(loss=r["loss"], rate=rate, lr=r["lr"], seed=r["seed"], diverged=diverged)
    run["budget"] = budget
    run["curves"] = {"train_accuracy_noisy": _round(h["train_accuracy"])}
    if flipped.any():
        run["curves"]["memorised"] = _round(h["val_accuracy"])
    run[f"test_{budget}"] = None if diverged else _round(h["test_accuracy"])[-1]
    if diverged:
        return run
    logits = mlp_apply(r["params"], jnp.asarray(data.x_train), "relu")
    pred = np.asarray(jnp.argmax(logits, -1))
    run["train_acc_noisy_labels"] = float((pred == data.y_train).mean())
    run["train_acc_clean_labels"] = float((pred == clean_y).mean())
    run["memorised_final"] = (
        float((pred[flipped] == data.y_train[flipped]).mean()) if flipped.any() else None
    )
    return run


def run_rate(clean, rate: float, size: dict, clean_lrs: dict | None = None) -> dict:
    """One noise rate: its lr search, budget check and final replicates at both budgets,
    at the lrs chosen at this rate (protocol ``"tuned"``) and, given ``clean_lrs`` (each
    loss's choice at η = 0), at those too (protocol ``"fixed"``)."""
    start = time.perf_counter()
    found, records = search(clean, rate, size)
    lrs = {c["arm"][0]: chosen(c, records) for c in found["choices"]}
    improving = analysis.improving(search_curves(records, lrs))
    runs, cost, long_cost = [], 0, 0
    for protocol, chosen_lrs in (("tuned", lrs), ("fixed", clean_lrs)):
        if chosen_lrs is None:
            continue
        short, n_short = finals(clean, rate, chosen_lrs, size, size["epochs"])
        long, n_long = finals(clean, rate, chosen_lrs, size, LONGER * size["epochs"])
        runs += [dict(r, protocol=protocol) for r in short + long]
        cost, long_cost = cost + n_short, long_cost + n_long
    return {
        "search": found,
        "lrs": lrs,
        "improving": improving,
        "n_flipped": round(rate * len(clean.y_train)),
        "runs": runs,
        "wall_s": time.perf_counter() - start,
        "model_epochs": {
            "search": len(records) * size["epochs"],
            "short": cost,
            "long": long_cost,
        },
    }


def load(args, size: dict):
    """MNIST: the first ``train_subset`` training images, the first ``val_size`` of the
    validation split, the whole test set."""
    data = lit.load("mnist", args, size["train_subset"])
    return data._replace(x_val=data.x_val[: size["val_size"]], y_val=data.y_val[: size["val_size"]])


def main(argv=None):
    args = cli.parse_args(__doc__, argv)
    size = cli.size(args, SIZES)
    out_dir, path = cli.results_path(args, STEM)

    def _run():
        start = time.perf_counter()
        clean = load(args, size)
        rates, runs = {}, []
        clean_lrs = None
        for rate in sorted(float(r) for r in size["rates"]):
            got = run_rate(clean, rate, size, clean_lrs if rate > 0 else None)
            if rate == 0:
                clean_lrs = got["lrs"]
            runs += got.pop("runs")
            rates[str(float(rate))] = got
            print(f"η={rate}: {got['wall_s']:.0f} s, lrs {got['lrs']}", flush=True)
        config = dict(
            size,
            mode=args.mode,
            losses=list(LOSSES),
            gce_q=0.7,
            batch_size=BATCH_SIZE,
            optimizer="sgd momentum 0.9",
            noise_seed=NOISE_SEED,
            dataset="mnist",
            validation=f"noisy, first {size['val_size']} images of the validation split",
            replicates="init seed i, data-order seed i and noise draw i",
            delta=analysis.DELTA,
            regime=analysis.REGIME,
            budget=analysis.BUDGET_RULE,
        )
        body = {"rates": rates, "runs": runs, "analysis": analysis.analyse(runs)}
        cli.write(path, config, size["seeds"], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
