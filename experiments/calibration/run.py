"""Experiment: how well calibrated is each loss's model? (Guo et al. 2017)

C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern Neural
Networks", ICML 2017: a model is calibrated when its confidence equals its accuracy;
they measure the expected calibration error over 15 equal-width confidence bins (ECE),
the test NLL and reliability diagrams (``softjax.metrics``), and report that small, older
networks (LeNet) are close to calibrated while deep modern ones are overconfident, the
gap growing with depth and width, and that training can overfit the NLL (confidence keeps
rising) without overfitting the 0/1 error.

Here: MNIST, softmax regression 784-10 and an MLP 784-128-10 (ReLU), each of the notes'
five losses (cce, mse, bce, sigmoid_bce, square) trained with SGD at each lr of a small
grid, 3 replicates (init seed i and data-order seed i); each (model, loss)'s lr is
chosen on the validation split (the last 5,000 training images;
``softjax.sweeps.stats.select_best``), never on test. In the full run each loss's
grid is extended in log steps while its chosen lr is on an edge
(``softjax.sweeps.adaptive.interior_lr_sweep``, up to its caps on rounds and range), so
an edge left in the summary is one a cap stopped. The chosen lr's params of
every seed are stored in ``<stem>.npz`` beside the JSON, read back, and the test set's
calibration is computed from them: ``--redraw`` needs neither training nor data.

The probability each model reports: softmax(z) for the softmax losses and for the square
loss on logits (which regresses z onto the one-hot target; softmax is its usual read-out),
and σ(z)/Σ_k σ(z_k) for the one-vs-rest sigmoid BCE.

Run::

    python -m experiments.calibration            # full size: the committed results
    python -m experiments.calibration --quick    # 5,000 rows, 2 lrs, 2 seeds, 2 epochs
    python -m experiments.calibration --redraw   # figures and summary from the JSON only
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import cli, lit
from experiments.calibration import report as plots
from softjax import metrics
from softjax.data import load_dataset
from softjax.evaluation import model_activations
from softjax.models import forward
from softjax.results import atomic_save_npz
from softjax.sweeps import select_best, summarize
from softjax.sweeps.adaptive import MAX_ROUNDS
from softjax.training import TrainConfig

STEM = "calibration"
LOSSES = ("cce", "mse", "bce", "sigmoid_bce", "square")
MODELS = {"softmax_regression": (784, 10), "mlp": (784, 128, 10)}
SIZES = {
    "full": {
        "train_subset": None,
        "epochs": 10,
        "seeds": 3,
        "lrs": [0.01, 0.03, 0.1, 0.3, 1.0],
        "max_rounds": MAX_ROUNDS,
    },
    # Small runs keep their two lrs (an edge is flagged, not chased): they prove the code.
    "quick": {"train_subset": 5000, "epochs": 2, "seeds": 2, "lrs": [0.03, 0.3], "max_rounds": 0},
    "smoke": {"train_subset": 1000, "epochs": 1, "seeds": 2, "lrs": [0.03, 0.3], "max_rounds": 0},
}
BATCH_SIZE = 64


def probabilities(logits, one_vs_rest):
    """The probability rows a model reports (see the docstring): σ(z)/Σσ(z) where
    ``one_vs_rest`` (sigmoid BCE), softmax(z) elsewhere; ``one_vs_rest`` may be traced."""
    s = jax.nn.sigmoid(logits)
    return jnp.where(
        one_vs_rest, s / jnp.sum(s, axis=-1, keepdims=True), jax.nn.softmax(logits, axis=-1)
    )


ONE_VS_REST = ("sigmoid_bce",)


def base_config(sizes, epochs: int) -> TrainConfig:
    return TrainConfig(
        sizes=sizes,
        activations="relu",
        init="lecun_normal",
        optimizer="sgd",
        batch_size=BATCH_SIZE,
        epochs=epochs,
    )


def train_models(data, mode: dict, losses=LOSSES, models=tuple(MODELS)) -> tuple[dict, dict, dict]:
    """Per model: ``sweep`` over losses × lrs × seeds, each loss's lr grid extended until
    its choice is interior (up to ``mode["max_rounds"]`` times); keeps the chosen lr's
    params.

    Returns ``(selection, params, grids)``: ``selection[model]`` is ``select_best``'s list
    (lr chosen on validation, ``edge`` against that loss's own final grid);
    ``params["model/loss/seed/layer/w|b"]`` the chosen params; ``grids[model][loss]``
    each loss's final lr grid.
    """
    selection, params, grids = {}, {}, {}
    for model in models:
        records, grids[model] = lit.interior_sweep(
            base_config(MODELS[model], mode["epochs"]),
            data,
            losses,
            mode["lrs"],
            range(mode["seeds"]),
            mode["max_rounds"],
            name=model,
            return_params=True,
            progress=False,
        )
        best = select_best(summarize(records))  # each loss's edges on its own grid
        selection[model] = best
        for entry in best:
            if entry["lr"] is None:
                continue  # every lr diverged: nothing to calibrate
            for r in records:
                if r["loss"] == entry["loss"] and r["lr"] == entry["lr"]:
                    for i, layer in enumerate(r["params"]):
                        for k, v in layer.items():
                            params[f"{model}/{r['loss']}/{r['seed']}/{i}/{k}"] = np.asarray(v)
    return selection, params, grids


def stored_params(npz) -> dict:
    """``{(model, loss): [params of each seed]}`` from the flat npz keys."""
    tree: dict = {}
    for key in npz.files:
        model, loss, seed, layer, name = key.split("/")
        seeds = tree.setdefault((model, loss), {})
        seeds.setdefault(int(seed), {}).setdefault(int(layer), {})[name] = npz[key]
    return {
        k: [[layers[i] for i in sorted(layers)] for _, layers in sorted(seeds.items())]
        for k, seeds in tree.items()
    }


def calibrate(npz_path: Path, x_test, y_test) -> dict:
    """Test-set calibration of every stored model, per seed: one vmapped program per model
    over all its (loss, seed) pairs."""
    out: dict = {}
    with np.load(npz_path) as npz:
        models = stored_params(npz)
    for model in dict.fromkeys(m for m, _ in models):
        pairs = [(loss, p) for (m, loss), seeds in models.items() if m == model for p in seeds]
        acts = model_activations(base_config(MODELS[model], 1))
        stacked = jax.tree.map(lambda *a: jnp.stack(a), *[p for _, p in pairs])
        flags = jnp.asarray([loss in ONE_VS_REST for loss, _ in pairs])

        def report(p, one_vs_rest, acts=acts):
            probs = probabilities(forward(p, x_test, acts)[0][-1], one_vs_rest)
            return metrics.calibration_report(probs, y_test)

        rep = jax.tree.map(np.asarray, jax.jit(jax.vmap(report))(stacked, flags))
        losses = [loss for loss, _ in pairs]
        for loss in dict.fromkeys(losses):
            rows = np.asarray([i for i, name in enumerate(losses) if name == loss])
            out.setdefault(model, {})[loss] = jax.tree.map(lambda v, r=rows: v[r].tolist(), rep)
    return out


def _extra_args(parser) -> None:
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))


def main(argv=None) -> list[Path]:
    args = cli.parse_args(__doc__, argv, _extra_args, losses=True)
    args.losses = args.losses or list(LOSSES)
    mode_name = args.mode
    mode = cli.size(args, SIZES)
    out_dir, results_path = cli.results_path(args, STEM)
    if args.redraw:
        return cli.finish(args, plots, results_path, out_dir, None)
    config = {
        "mode": mode_name,
        **mode,
        "losses": args.losses,
        "models": {k: list(MODELS[k]) for k in args.models},
        "batch_size": BATCH_SIZE,
        "optimizer": "sgd",
        "init": "lecun_normal",
        "num_bins": metrics.NUM_BINS,
        "selection": "final val_accuracy (softjax.sweeps.stats.select_best)",
        "lr_extension": lit.LR_EXTENSION,
        "replicates": lit.REPLICATES,
        "source": args.source,
    }
    start = time.perf_counter()
    data = load_dataset("mnist", source=args.source, data_dir=args.data_dir)
    if mode["train_subset"]:
        n = mode["train_subset"]
        data = data._replace(x_train=data.x_train[:n], y_train=data.y_train[:n])
    selection, params, grids = train_models(data, mode, args.losses, args.models)
    npz_path = results_path.with_suffix(".npz")
    atomic_save_npz(npz_path, **params)
    doc = {
        "selection": selection,
        "lrs_by_loss": grids,
        "params_file": npz_path.name,
        "calibration": calibrate(npz_path, jnp.asarray(data.x_test), jnp.asarray(data.y_test)),
    }
    cli.write(results_path, config, range(mode["seeds"]), doc, start)
    return cli.draw_figures(plots, results_path, out_dir)


if __name__ == "__main__":
    main()
