"""Experiment: which loss trains a classifier on MNIST / Fashion-MNIST, from which init
scale? Softmax regression and MLPs (SPEC §3, §6), on the study methods of issue 33.

Two parts, on each dataset of ``datasets``: ``linear``, softmax regression (784-10) on
the whole training split with five losses at init scales 0.01, 1, 10, 100; ``mlp``, the
MLPs 784-100-10 and 784-100-100-100-10 × sigmoid / tanh / ReLU on the first 10,000
training images with cce, mse and bce on the softmax at init scales 1 and 10. The full
size cuts this to fit an hour on 2 cores (:data:`FULL`; :func:`cut` names every cut in
each summary). Plain SGD, batch 64.

Per (dataset, model), every arm (loss, init scale) gets its own lr from
:func:`softjax.sweeps.lr_search.search_lrs` on the part's ``search_seeds`` replicates (one
:func:`softjax.sweeps.sweep` program per round, per-loss lr lists), chosen on validation
accuracy among finite above-chance runs; an arm where no lr trains is measured at its
best finite lr and flagged (:func:`softjax.sweeps.arms.chosen_lr`). The ``seeds``
replicates (replicate i: init seed i and data-order seed i in every arm) then train
every arm at its chosen lr (:func:`softjax.sweeps.arms.train_arms`); at an init scale
where any loss is still improving at the end of the search
(:data:`experiments.loss_sweep.analysis.BUDGET_RULE`) every loss trains ``LONGER`` ×
longer, its fixed budget read at the short budget's last epoch of the same runs.
:mod:`.analysis` compares each loss with CCE (paired, four verdicts, Holm);
:mod:`.report` writes each model's ``.md`` and the MLP overview from the JSONs alone.

Files: ``<out>/loss_sweep_<dataset>_<model>[_quick|_smoke].{json,md}`` and figures per
model; ``loss_sweep_<dataset>_mlp[_quick|_smoke].md`` with ``…_mlp_overview.png`` and
``…_mlp_stuck.png`` across the MLPs; with both datasets, ``loss_sweep_mlp[_quick|_smoke].md``
pools every (dataset, MLP) setting (:mod:`.study`).

Run::

    python -m experiments.loss_sweep                 # full size: results/loss_sweep_*
    python -m experiments.loss_sweep --part linear   # one part (or --dataset mnist)
    python -m experiments.loss_sweep --quick         # smaller, results/scratch/, NOT the study
    python -m experiments.loss_sweep --redraw        # summaries and figures from the JSONs
"""

from __future__ import annotations

import sys
import time

from experiments._common import cli, lit
from experiments.loss_sweep import analysis, study
from experiments.loss_sweep import figures as plots
from experiments.loss_sweep.ceiling import least_squares_ceiling, square_loss_lr_bound
from experiments.loss_sweep.overview import write_overview
from experiments.loss_sweep.report import QUICK_NOTE, write_model_summary
from softjax.compilation_cache import enable_compilation_cache
from softjax.config import TrainConfig
from softjax.results import check_writable, provenance, write_json
from softjax.sweeps import select_best, summarize, sweep
from softjax.sweeps.arms import chosen_lr, curves_at, train_arms
from softjax.sweeps.budget import LONGER
from softjax.sweeps.lr_search import search_lrs, sweep_evaluator

LOSS_NAMES = ("cce", "mse", "bce", "sigmoid_bce", "square")
"""The five losses of SPEC §3 that softmax regression compares."""
DATASETS = ("mnist", "fashion_mnist")
START = [0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1.0, 3.16, 10.0]
"""×√10 steps: one refinement reaches ~×1.78 (about √3)."""
START10 = [0.001, 0.01, 0.1, 1.0, 10.0]
"""×10 steps: two refinements reach ~×1.78."""
ISSUE = {
    "linear": dict(
        sizes=[[784, 10]],
        activations=[None],
        losses=list(LOSS_NAMES),
        init_scales=[0.01, 1.0, 10.0, 100.0],
        epochs=5,
        train_subset=None,
        start_lrs=START,
        max_rounds=6,
        search_seeds=[0, 1],
    ),
    "mlp": dict(
        sizes=[[784, 100, 10], [784, 100, 100, 100, 10]],
        activations=["sigmoid", "tanh", "relu"],
        losses=["cce", "mse", "bce"],
        init_scales=[1.0, 10.0],
        epochs=10,
        train_subset=10000,
        start_lrs=START,
        max_rounds=6,
        search_seeds=[0, 1],
    ),
}
"""Each part as the issue asks for it; a size's cuts are measured against this."""
FULL = dict(
    datasets=list(DATASETS),
    parts={
        "linear": ISSUE["linear"],
        # The hour on 2 cores: the MLPs compare cce and mse only, their lrs searched on
        # one replicate from a ×10 grid (bce on the softmax is softmax regression's).
        "mlp": ISSUE["mlp"] | dict(losses=["cce", "mse"], start_lrs=START10, search_seeds=[0]),
    },
    seeds=list(range(10)),
    optimizer="sgd",
    batch_size=64,
    delta=analysis.DELTA,
)
QUICK = FULL | dict(
    datasets=["mnist"],
    parts={
        "linear": ISSUE["linear"]
        | dict(
            init_scales=[1.0, 100.0],
            losses=["cce", "mse", "square"],
            epochs=3,
            train_subset=4000,
            start_lrs=START10[1:],
            max_rounds=1,
            search_seeds=[0],
        ),
        "mlp": ISSUE["mlp"]
        | dict(
            sizes=[[784, 32, 10]],
            activations=["sigmoid", "relu"],
            losses=["cce", "mse"],
            init_scales=[1.0, 10.0],
            epochs=3,
            train_subset=2000,
            start_lrs=START10[1:],
            max_rounds=1,
            search_seeds=[0],
        ),
    },
    seeds=[0, 1, 2],
)
SMOKE = QUICK | dict(
    parts={
        "linear": QUICK["parts"]["linear"]
        | dict(
            losses=["cce", "mse"], init_scales=[1.0, 10.0], train_subset=600, start_lrs=[0.1, 1.0]
        ),
        "mlp": QUICK["parts"]["mlp"]
        | dict(sizes=[[784, 8, 10]], train_subset=600, start_lrs=[0.1, 1.0]),
    },
    seeds=[0, 1],
)
SIZES = {"smoke": SMOKE, "quick": QUICK, "full": FULL}


def cut(size: dict, only: str | None = None) -> list[str]:
    """The issue's settings this size leaves out or shortens, in words (empty: none);
    ``only``: of that part (and the shared settings) only."""
    out = [f"dataset {d}" for d in DATASETS if d not in size["datasets"]]
    for part, want in ISSUE.items():
        if only is not None and part != only:
            continue
        got = size["parts"].get(part)
        if got is None:
            out.append(f"the {part} part")
            continue
        for key in ("sizes", "activations", "losses", "init_scales"):
            gone = [x for x in want[key] if x not in got[key]]
            if gone:
                out.append(f"{part}: {key} {', '.join(map(str, gone))} left out")
        if got["epochs"] < want["epochs"]:
            out.append(f"{part}: {got['epochs']} epochs, not {want['epochs']}")
        if got["train_subset"] != want["train_subset"]:
            out.append(f"{part}: first {got['train_subset']} training images")
        if got["start_lrs"] != START:
            out.append(f"{part}: lr search starts on {got['start_lrs']} (not the ×√10 grid)")
        if got["max_rounds"] < want["max_rounds"]:
            out.append(f"{part}: at most {got['max_rounds']} search rounds")
        if len(got["search_seeds"]) < len(want["search_seeds"]):
            out.append(f"{part}: lr search on {len(got['search_seeds'])} replicate(s), not 2")
    if len(size["seeds"]) < 10:
        out.append(f"{len(size['seeds'])} replicates, not 10")
    return out


def model_name(sizes, activation) -> str:
    """``linear`` for softmax regression, ``mlp_<activation>_<hidden widths>`` otherwise."""
    hidden = list(sizes)[1:-1]
    return "linear" if not hidden else f"mlp_{activation}_{'-'.join(map(str, hidden))}"


def models(part: dict) -> list[tuple[list[int], str | None]]:
    """The (sizes, activation) pairs of a part; softmax regression has no activation."""
    out = []
    for sizes in part["sizes"]:
        acts = [None] if len(sizes) == 2 else part["activations"]
        out += [(list(sizes), act) for act in acts]
    return out


def stem(dataset: str, model: str, mode: str) -> str:
    return f"loss_sweep_{dataset}_{model}" + ("" if mode == "full" else f"_{mode}")


def base_config(size, part, sizes, act, epochs, **kw) -> TrainConfig:
    return TrainConfig(
        sizes=tuple(sizes),
        activations=act or "relu",
        optimizer=size["optimizer"],
        batch_size=size["batch_size"],
        epochs=epochs,
        **kw,
    )


def search(data, base, part, size, label):
    """The lr search of every (loss, init scale): ``(search dict, records)``."""
    records: list[dict] = []
    evaluate = sweep_evaluator(
        sweep, base, data, replicates=part["search_seeds"], records=records, progress=False
    )
    arms = [(loss, float(s)) for loss in part["losses"] for s in part["init_scales"]]
    result = search_lrs(
        evaluate,
        arms,
        chance=1 / base.sizes[-1],
        start=part["start_lrs"],
        max_rounds=part["max_rounds"],
        log=lambda line: print(f"{label}: {line}", flush=True),
    )
    return result.as_dict(), records


def run_model(data, dataset, part_name, part, size, sizes, act, mode) -> dict:
    """One model: search, budget check, finals; the document for its JSON."""
    start = time.perf_counter()
    name = model_name(sizes, act)
    short = part["epochs"]
    quiet = dict(diagnostics=False, test_each_epoch=False)
    found, found_records = search(
        data,
        base_config(size, part, sizes, act, short, **quiet),
        part,
        size,
        f"{dataset}/{name}",
    )
    lrs = {(c["arm"][0], c["arm"][1]): chosen_lr(c, found_records) for c in found["choices"]}
    improving = analysis.improving(curves_at(found_records, lrs))
    long_scales = sorted({s for _, s in improving})
    searched = time.perf_counter()
    records, runs, cost = [], [], {"search": len(found_records) * short, "short": 0, "long": 0}
    for budget, epochs in (("short", short), ("long", LONGER * short)):
        want = {
            k: v
            for k, v in lrs.items()
            if v is not None and (k[1] in long_scales) == (budget == "long")
        }
        if not want:
            continue
        base = base_config(size, part, sizes, act, epochs, test_each_epoch=budget == "long")
        got = train_arms(base, data, want, size["seeds"])
        cost[budget] = len(got) * epochs
        records += got
        for r in got:
            runs.append(analysis.run_measures(r, short, sizes[-1]) | {"budget": budget})
    summary = summarize(records)
    choices = {(c["arm"][0], c["arm"][1]): c for c in found["choices"]}
    best = select_best(summary)
    for b in best:  # the edge is the search's, not the finals' one-lr grid's
        c = choices.get((b["loss"], b["init_scale"]))
        b["edge"] = None if c is None or c["interior"] else (c["reason"] or c["verdict"])
    label = f"{dataset} {name}"
    doc = {
        "grid": {
            "dataset": dataset,
            "part": part_name,
            "model": name,
            "sizes": sizes,
            "activation": act,
            **{k: part[k] for k in ("losses", "init_scales", "epochs", "train_subset")},
            **{k: part[k] for k in ("start_lrs", "max_rounds", "search_seeds")},
            **{k: size[k] for k in ("seeds", "optimizer", "batch_size", "delta")},
            "lrs_by_loss": {
                loss: sorted({r["lr"] for r in found_records if r["loss"] == loss})
                for loss in part["losses"]
            },
            "base_config": base_config(size, part, sizes, act, short).to_dict(),
            "budget": analysis.BUDGET_RULE,
            "cut": cut(size, part_name),
            "replicates": lit.REPLICATES,
        },
        "quick": mode != "full",
        "mode": mode,
        "search": found,
        "chosen": [
            {"loss": k[0], "init_scale": k[1], "lr": lr, "choice": choices[k]}
            for k, lr in lrs.items()
        ],
        "improving": [list(a) for a in improving],
        "long_scales": long_scales,
        "search_cells": summarize(found_records)["cells"],
        "cells": summary["cells"],
        "best": best,
        "n_records": len(records),
        "runs": runs,
        "analysis": analysis.analyse(
            runs, part["losses"], part["init_scales"], short, label, size["delta"]
        ),
        "model_epochs": cost,
        "search_s": searched - start,
    }
    if len(sizes) == 2:
        doc["ceiling"] = {
            "least_squares": least_squares_ceiling(data, sizes[-1]),
            "square_lr_bound": square_loss_lr_bound(data.x_train),
            "note": "least-squares ceiling: min-norm solution of the normal equations on the "
            "training split, float64; lr bound: 2/λ_max(AᵀA/N), A = [X 1]",
        }
    doc["wall_seconds"] = time.perf_counter() - start
    return doc


def _parts(args, size) -> dict:
    parts = size["parts"]
    if getattr(args, "part", None):
        parts = {args.part: parts[args.part]}
    if args.losses:
        parts = {k: v | {"losses": list(args.losses)} for k, v in parts.items()}
    return parts


def _args(parser) -> None:
    parser.add_argument("--part", choices=tuple(ISSUE), default=None, help="one part only")


def main(argv=None) -> int:
    args = cli.parse_args(__doc__, argv, _args, datasets=DATASETS, needs=DATASETS, losses=True)
    size = cli.size(args, SIZES)
    if args.dataset:
        size["datasets"] = [args.dataset]  # so cut() names the other one
    datasets = size["datasets"]
    out = args.out if args.out is not None else cli.results_path(args, "loss_sweep")[0]
    check_writable(out)
    enable_compilation_cache()
    if args.mode != "full":
        print(QUICK_NOTE, flush=True)
    written, every_mlp = [], []
    for dataset in datasets:
        mlps = []
        data = {}
        for part_name, part in _parts(args, size).items():
            for sizes, act in models(part):
                name = stem(dataset, model_name(sizes, act), args.mode)
                path = out / f"{name}.json"
                if args.redraw:
                    cli.require_results(path)
                else:
                    if part_name not in data:
                        data[part_name] = lit.load(dataset, args, part["train_subset"])
                    doc = run_model(
                        data[part_name], dataset, part_name, part, size, sizes, act, args.mode
                    )
                    prov = provenance(
                        doc["grid"]["base_config"],
                        seeds={"replicates": size["seeds"]},
                        argv=sys.argv,
                    )
                    write_json(path, {"provenance": prov, **doc})
                    print(
                        f"{name}: {doc['wall_seconds']:.0f} s, model-epochs {doc['model_epochs']}",
                        flush=True,
                    )
                written += [*plots.draw(path, out), write_model_summary(path, out)]
                if part_name == "mlp":
                    mlps.append(path)
        if len(mlps) > 1:
            over = stem(dataset, "mlp", args.mode)
            stuck = plots.draw_stuck_overview(mlps, out / f"{over}_stuck.png")
            written += [
                stuck,
                *write_overview(mlps, out / f"{over}.md", out / f"{over}_overview.png", stuck),
            ]
        every_mlp += mlps
    if len(datasets) > 1 and len(every_mlp) > 1:
        written.append(
            study.write(every_mlp, out / f"{stem('x', 'mlp', args.mode).replace('_x_', '_')}.md")
        )
    print("wrote", *written, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
