"""Experiment: is the small gradient norm the *cause* of MSE-on-softmax's failure at large
init, or a symptom? The gradient swap, a 2 × 2 factorial (issue 30).

Four training rules drive the update with the per-sample logit gradient g(z, y) of

1. ``cce``: cross-entropy, g_CE;
2. ``mse``: MSE on the softmax, g_MSE;
3. ``cce_dir_mse_norm``: CE's direction at MSE's norm, g_CE · ‖g_MSE‖/‖g_CE‖;
4. ``mse_dir_cce_norm``: MSE's direction at CE's norm, g_MSE · ‖g_CE‖/‖g_MSE‖,

row by row (softjax's built-in losses), so direction (CE, MSE) × norm (CE, MSE) is a
2 × 2 design. Settings: softmax regression at init scales 1, 3, 10, 30, 100; MLPs
784-100-10 (sigmoid, tanh, ReLU) and 784-100-100-100-10 (ReLU) at 1, 3, 10; MNIST and
Fashion-MNIST (the MLPs on ``mlp_datasets`` only: the full size keeps MNIST's to fit its
hour on 2 cores, and its summary names the cut); plain SGD, batch 64, LeCun-normal init
times the init scale, the first ``train_subset`` training images (validation: the default
5,000-image split; test whole).

Per (dataset, model), each arm (rule, init scale) gets its own lr by
:func:`softjax.sweeps.lr_search.search_lrs` on the ``search_seeds`` replicates (each
round one :func:`softjax.sweeps.sweep` program with a per-rule lr list,
:func:`~softjax.sweeps.lr_search.sweep_evaluator`), chosen on validation accuracy. The
``seeds`` replicates (replicate i: init seed i and data-order seed i in every rule) then
train, each (rule, init scale) exactly at its chosen lr (the sweep's
program for the four rules, one call per replicate;
:func:`softjax.sweeps.arms.train_arms`), for ``epochs``; a setting in which
any rule's validation accuracy is still improving at the end of the search
(``softjax.sweeps.budget``) trains for ``LONGER`` × ``epochs`` instead, its fixed budget
read at epoch ``epochs`` of the same runs (the first epochs of a longer run are the
shorter run's: the same init, lr and batches). :mod:`.analysis` estimates the factorial
effects per init scale; :mod:`.report` writes the figures and summary from the JSON alone.

Run::

    python -m experiments.gradient_swap            # full size: results/gradient_swap.*
    python -m experiments.gradient_swap --quick    # smaller, results/scratch/, NOT the study
    python -m experiments.gradient_swap --redraw   # figures and summary from the JSON only
"""

from __future__ import annotations

import time

import softjax
from experiments._common import cli, lit
from experiments.gradient_swap import analysis
from experiments.gradient_swap import report as plots
from softjax.config import TrainConfig
from softjax.sweeps import sweep
from softjax.sweeps.arms import chosen_lr, curves_at, train_arms
from softjax.sweeps.budget import LONGER
from softjax.sweeps.lr_search import search_lrs, sweep_evaluator

STEM = "gradient_swap"
MODELS = {
    "linear": ((784, 10), None),
    "mlp_sigmoid": ((784, 100, 10), "sigmoid"),
    "mlp_tanh": ((784, 100, 10), "tanh"),
    "mlp_relu": ((784, 100, 10), "relu"),
    "mlp_relu_deep": ((784, 100, 100, 100, 10), "relu"),
}
ISSUE_SCALES = {"linear": [1.0, 3.0, 10.0, 30.0, 100.0], "mlp": [1.0, 3.0, 10.0]}
DATASETS = ("mnist", "fashion_mnist")
START = [0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1.0, 3.16, 10.0]
"""Round 0 of every arm's lr search: ×√10 steps, so one refinement reaches ~×1.78."""
FULL = dict(
    datasets=list(DATASETS),
    models=list(MODELS),
    mlp_datasets=["mnist"],
    init_scales=ISSUE_SCALES,
    train_subset=5000,
    epochs=4,
    search_seeds=[0, 1],
    seeds=list(range(10)),
    start_lrs=START,
    max_rounds=8,
)
SIZES = {
    "full": FULL,
    "quick": FULL
    | dict(
        datasets=["mnist"],
        models=["linear", "mlp_sigmoid"],
        mlp_datasets=["mnist"],
        init_scales={"linear": [1.0, 100.0], "mlp": [1.0, 10.0]},
        train_subset=1000,
        epochs=3,
        seeds=[0, 1, 2],
        start_lrs=[0.01, 0.1, 1.0, 10.0],
        max_rounds=2,
    ),
    "smoke": FULL
    | dict(
        datasets=["mnist"],
        models=["linear"],
        mlp_datasets=[],
        init_scales={"linear": [1.0, 30.0], "mlp": []},
        train_subset=300,
        epochs=3,
        seeds=[0, 1],
        start_lrs=[0.1, 1.0],
        max_rounds=1,
    ),
}


def scales_of(size: dict, model: str) -> list[float]:
    """The init scales a model runs at in this size."""
    return [float(s) for s in size["init_scales"]["linear" if model == "linear" else "mlp"]]


def models_for(size: dict, dataset: str) -> list[str]:
    """The models a dataset runs: softmax regression on every dataset, the MLPs on
    ``mlp_datasets`` only."""
    return [m for m in size["models"] if m == "linear" or dataset in size["mlp_datasets"]]


def cut(size: dict) -> list[str]:
    """The issue's settings this size leaves out, in words (empty: none)."""
    out = [f"dataset {d}" for d in DATASETS if d not in size["datasets"]]
    out += [f"model {m}" for m in MODELS if m not in size["models"]]
    if any(m != "linear" for m in size["models"]):
        gone = [d for d in size["datasets"] if d not in size["mlp_datasets"]]
        out += [f"the MLPs on {d}" for d in gone]
    for family, scales in ISSUE_SCALES.items():
        gone = [s for s in scales if s not in size["init_scales"][family]]
        if gone:
            out.append(f"{family} init scales {', '.join(f'{s:g}' for s in gone)}")
    return out


def base_config(model: str, epochs: int, **kw) -> TrainConfig:
    sizes, act = MODELS[model]
    return TrainConfig(sizes=sizes, activations=act or "relu", batch_size=64, epochs=epochs, **kw)


def check_rules() -> None:
    """The hybrid rules are softjax's built-in losses; say so plainly when they are not."""
    missing = [r for r in analysis.RULES if r not in softjax.LOSSES]
    if missing:
        raise SystemExit(
            f"gradient_swap: losses {missing} are not registered; this study needs softjax's "
            "hybrid losses (CE's direction at MSE's norm and the converse)"
        )


def search(data, model: str, size: dict) -> tuple[dict, list[dict]]:
    """The lr search of every (rule, init scale) of one model: ``(search dict, records)``."""
    records: list[dict] = []
    base = base_config(model, size["epochs"], diagnostics=False, test_each_epoch=False)
    evaluate = sweep_evaluator(
        sweep, base, data, replicates=size["search_seeds"], records=records, progress=False
    )
    arms = [(rule, s) for rule in analysis.RULES for s in scales_of(size, model)]
    result = search_lrs(
        evaluate,
        arms,
        chance=0.1,
        start=size["start_lrs"],
        max_rounds=size["max_rounds"],
        log=lambda line: print(f"{model}: {line}", flush=True),
    )
    return result.as_dict(), records


def finals(data, dataset: str, model: str, size: dict, lrs: dict, scales, epochs):
    """The ``seeds`` replicates of every rule at ``scales``, each at its chosen lr, for
    ``epochs`` (:func:`softjax.sweeps.arms.train_arms`). Returns the runs and the
    model-epochs trained."""
    want = {k: v for k, v in lrs.items() if k[1] in scales and v is not None}
    if not want:
        return [], 0
    base = base_config(model, epochs, test_each_epoch=epochs > size["epochs"])
    records = train_arms(base, data, want, size["seeds"])
    out = []
    for r in records:
        measures = analysis.run_measures(
            r["history"],
            r["diverged"],
            short=size["epochs"],
            target=analysis.TARGETS[dataset],
            classes=10,
        )
        out.append(
            dict(
                dataset=dataset,
                model=model,
                init_scale=r["init_scale"],
                rule=r["loss"],
                lr=r["lr"],
                seed=r["seed"],
                budget="long" if epochs > size["epochs"] else "short",
                **measures,
            )
        )
    return out, len(records) * epochs


def run_model(data, dataset: str, model: str, size: dict) -> dict:
    """One (dataset, model): its lr search, budget check and final replicates."""
    start = time.perf_counter()
    found, records = search(data, model, size)
    lrs = {tuple(c["arm"]): chosen_lr(c, records) for c in found["choices"]}
    improving = analysis.improving_settings(curves_at(records, lrs))
    long_scales = sorted({scale for _, scale in improving})
    short_scales = [s for s in scales_of(size, model) if s not in long_scales]
    searched = time.perf_counter()
    runs, short_cost = finals(data, dataset, model, size, lrs, short_scales, size["epochs"])
    more, long_cost = finals(data, dataset, model, size, lrs, long_scales, LONGER * size["epochs"])
    runs += more
    return {
        "search": found,
        "lrs": [{"rule": r, "init_scale": s, "lr": lr} for (r, s), lr in lrs.items()],
        "improving": [{"rule": r, "init_scale": s} for r, s in improving],
        "long_scales": long_scales,
        "runs": runs,
        "wall_s": time.perf_counter() - start,
        "search_s": searched - start,
        "model_epochs": {
            "search": len(records) * size["epochs"],
            "short": short_cost,
            "long": long_cost,
        },
    }


def main(argv=None):
    args = cli.parse_args(__doc__, argv, datasets=DATASETS, needs=DATASETS)
    size = cli.size(args, SIZES)
    if getattr(args, "dataset", None):
        size["datasets"] = [args.dataset]
    out_dir, path = cli.results_path(args, STEM)

    def _run():
        check_rules()
        start = time.perf_counter()
        models, runs = {}, []
        for dataset in size["datasets"]:
            data = lit.load(dataset, args, size["train_subset"])
            for model in models_for(size, dataset):
                got = run_model(data, dataset, model, size)
                runs += got.pop("runs")
                models[f"{dataset}/{model}"] = got
                print(f"{dataset}/{model}: {got['wall_s']:.0f} s", flush=True)
        config = dict(
            size,
            mode=args.mode,
            rules=list(analysis.RULES),
            cells={r: list(c) for r, c in analysis.CELL.items()},
            batch_size=64,
            optimizer="sgd",
            hidden=100,
            replicates=lit.REPLICATES,
            delta=analysis.DELTA,
            targets=analysis.TARGETS,
            budget=analysis.BUDGET_RULE,
            cut=cut(size),
        )
        body = {"models": models, "runs": runs, "analysis": analysis.analyse(runs)}
        cli.write(path, config, size["seeds"], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
