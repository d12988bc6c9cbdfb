"""Experiment: which loss trains a classifier on MNIST / Fashion-MNIST, from which init
scale? Softmax regression and MLPs (SPEC §3, §6).

Each model (softmax regression ``--sizes 784 10``, or an MLP such as ``--sizes 784 100 10
--activations sigmoid``) is trained with each loss over learning rates, init scales and
replicates, plain SGD by default. Replicate i is init seed i *and* data-order seed i
(:mod:`softjax.sweeps.adaptive`), so the n of every interval counts distinct runs. Each
loss's lr grid is grown in log steps (``--lr-factor``) until the lr chosen on validation
is interior, up to ``--max-rounds`` extensions; a choice still on an edge is flagged.

Per model, files go to ``<out>/loss_sweep_<dataset>_<model>[_quick].*``: ``.jsonl`` (one
record per run), ``.json`` (per-cell means and 95% intervals, the chosen lrs, the matched-lr
and paired comparisons, for softmax regression the least-squares ceiling and the square
loss's stable-lr bound), ``.md`` (the findings, written from the numbers by
:mod:`experiments.loss_sweep.report`) and the figures of :mod:`.figures`. With
several MLPs, ``loss_sweep_<dataset>_mlp_stuck[_quick].png`` shows every model's fraction
of runs stuck near chance side by side, and ``loss_sweep_<dataset>_mlp[_quick].md`` with
``loss_sweep_<dataset>_mlp_overview[_quick].png`` are the study's overview across the
models (:mod:`experiments.loss_sweep.overview`).

Run::

    python -m experiments.loss_sweep --dataset mnist                     # softmax regression
    python -m experiments.loss_sweep --dataset mnist --sizes 784 100 10 \\
        --sizes 784 100 100 100 10 --activations sigmoid tanh relu --epochs 10
    python -m experiments.loss_sweep --config study.json                 # the grid from JSON
    python -m experiments.loss_sweep --quick     # smaller, results/scratch/, NOT the study
    python -m experiments.loss_sweep --redraw    # figures and summary from the files only

An interrupted run resumes where it stopped (finished runs are skipped).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

from experiments._common import cli
from experiments._common.cli import require_results
from experiments.loss_sweep import compare
from experiments.loss_sweep import figures as plots
from experiments.loss_sweep.ceiling import least_squares_ceiling, square_loss_lr_bound
from experiments.loss_sweep.overview import write_overview
from experiments.loss_sweep.report import QUICK_NOTE, markdown, summary_text
from softjax.compilation_cache import enable_compilation_cache
from softjax.data import load_dataset
from softjax.results import atomic_write_text, provenance, read_json, results_dir, write_json
from softjax.sweeps import SweepLocked, check_writable, select_best, summarize, sweep, sweep_lock
from softjax.sweeps.adaptive import LR_FACTOR, MAX_ROUNDS, interior_lr_sweep, paired, paired_sweep
from softjax.training import TrainConfig

LOSS_NAMES = ("cce", "mse", "bce", "sigmoid_bce", "square")
"""The five losses of SPEC §3 this experiment compares by default."""

FULL = dict(
    losses=list(LOSS_NAMES),
    lrs=[0.01, 0.1, 1.0],
    init_scales=[0.01, 1.0, 10.0, 100.0],
    seeds=[0, 1, 2, 3, 4],
    sizes=[[784, 10]],
    activations=["sigmoid"],
    optimizer="sgd",
    batch_size=64,
    epochs=5,
    dataset="mnist",
    train_subset=None,
    lr_factor=LR_FACTOR,
    max_rounds=MAX_ROUNDS,
    # Test is read only at the lr chosen on validation, after the last epoch.
    test_each_epoch=False,
)
QUICK = FULL | dict(
    lrs=[0.03, 0.3],
    init_scales=[0.01, 100.0],
    seeds=[0, 1],
    sizes=[[784, 10], [784, 32, 10]],
    epochs=2,
    train_subset=4000,
    max_rounds=1,
)
SIZES = {"quick": QUICK, "full": FULL}
"""The grid of each mode; ``--config`` and the flags override its keys."""
AXES = tuple(FULL)


def _list(kind):
    return dict(nargs="+", type=kind, default=None)


def _study_args(parser) -> None:
    parser.add_argument("--lrs", **_list(_positive(float)), help="starting lr grid")
    parser.add_argument("--init-scales", **_list(_positive(float)))
    parser.add_argument("--seeds", **_list(_seed), help="replicates (init = data seed)")
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=_positive(int),
        action="append",
        default=None,
        help="layer widths; repeat for several models",
    )
    parser.add_argument("--activations", nargs="+", default=None, help="hidden activations")
    parser.add_argument("--optimizer", default=None, help="an optax optimizer name")
    parser.add_argument("--batch-size", type=_positive(int), default=None)
    parser.add_argument("--epochs", type=_positive(int), default=None)
    parser.add_argument("--train-subset", type=_positive(int), default=None)
    parser.add_argument("--lr-factor", type=_positive(float), default=None)
    parser.add_argument("--max-rounds", type=int, default=None, help="lr grid extensions")
    parser.add_argument(
        "--test-each-epoch",
        action="store_const",
        const=True,
        default=None,
        help="evaluate the test set every epoch too (default: after the last epoch only)",
    )
    parser.add_argument("--name", default=None, help="file stem (one model only)")


def parse_args(argv=None):
    """The shared flags (:func:`experiments._common.cli.parse_args`: ``--quick``, full,
    ``--redraw``, ``--out``, ``--config``, ``--source``, ``--data-dir``, ``--dataset``,
    ``--losses`` with ``pkg.module:function``) and the grid's own axes."""
    return cli.parse_args(
        __doc__,
        argv,
        _study_args,
        modes=("quick", "full"),
        datasets=("mnist", "fashion_mnist"),
        losses=True,
    )


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'} > 0, got {text!r}"
            ) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'} > 0, got {value}"
            )
        return value

    return parse


def _seed(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {text!r}")
    return int(text)


def resolve_grid(args) -> dict:
    """The grid: the mode's defaults (:data:`SIZES`), then ``--config``'s keys, then the
    flags given."""
    flags = {k: getattr(args, k, None) for k in AXES}
    if args.config is not None:  # a config's single model may be given as one size list
        config = cli.size(args, SIZES)
        if config["sizes"] and isinstance(config["sizes"][0], int):
            flags["sizes"] = flags["sizes"] or [config["sizes"]]
    grid = cli.size(args, SIZES, flags)
    if len(set(grid["seeds"])) < len(grid["seeds"]):
        raise SystemExit(f"--seeds: expected distinct replicates, got {grid['seeds']}")
    return grid


def model_name(sizes, activation) -> str:
    """``linear`` for softmax regression, ``mlp_<activation>_<hidden widths>`` otherwise."""
    hidden = list(sizes)[1:-1]
    return "linear" if not hidden else f"mlp_{activation}_{'-'.join(map(str, hidden))}"


def models(grid) -> list[tuple[list[int], str | None]]:
    """The (sizes, activation) pairs of the grid; softmax regression has no activation."""
    out = []
    for sizes in grid["sizes"]:
        acts = [None] if len(sizes) == 2 else grid["activations"]
        out += [(list(sizes), act) for act in acts]
    return out


def stem(grid, sizes, activation, quick: bool) -> str:
    return f"loss_sweep_{grid['dataset']}_{model_name(sizes, activation)}" + (
        "_quick" if quick else ""
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    grid = resolve_grid(args)
    # Every replicate and lr extension of a loss builds the same program: compile it once.
    enable_compilation_cache()
    out = args.out if args.out is not None else results_dir(scratch=args.quick)
    todo = models(grid)
    if args.name and len(todo) > 1:
        raise SystemExit(f"--name: one file stem for {len(todo)} models; drop it")
    if args.quick:
        print(QUICK_NOTE, flush=True)
    written, data = [], None
    for sizes, act in todo:
        name = args.name or stem(grid, sizes, act, args.quick)
        try:
            with sweep_lock(check_writable(out), name):
                if args.redraw:
                    document = redraw(out, name)
                else:
                    if data is None:
                        data = _load(args, grid)
                    document = run_model(args, grid, sizes, act, data, out, name)
                paths = plots.draw(out / f"{name}.json", out)
        except (PermissionError, SweepLocked) as e:
            raise SystemExit(f"loss_sweep: {e}") from None
        print(f"\n== {name}", *document["summary"], sep="\n")
        written += [out / f"{name}.jsonl", out / f"{name}.json", out / f"{name}.md", *paths]
    mlps = [stem(grid, s, a, args.quick) for s, a in todo if len(s) > 2]
    if len(mlps) > 1 and not args.name:
        study, quick = f"loss_sweep_{grid['dataset']}_mlp", "_quick" * args.quick
        jsons = [out / f"{m}.json" for m in mlps]
        stuck = plots.draw_stuck_overview(jsons, out / f"{study}_stuck{quick}.png")
        written += [
            stuck,
            *write_overview(
                jsons, out / f"{study}{quick}.md", out / f"{study}_overview{quick}.png", stuck
            ),
        ]
    print("\nwrote", *[p for p in written if p.exists()], sep="\n  ")
    if args.quick:
        print(QUICK_NOTE)
    return 0


def _load(args, grid):
    start = time.perf_counter()
    data = load_dataset(grid["dataset"], source=args.source, data_dir=args.data_dir)
    n = grid["train_subset"]
    if n:
        if n > len(data.x_train):
            raise SystemExit(
                f"--train-subset: expected at most {len(data.x_train)} (the training set), got {n}"
            )
        data = data._replace(x_train=data.x_train[:n], y_train=data.y_train[:n])
    print(f"{grid['dataset']} ready in {time.perf_counter() - start:.1f} s", flush=True)
    return data


def run_model(args, grid, sizes, act, data, out: Path, name: str) -> dict:
    """Trains one model's grid (growing each loss's lrs), then writes its summary."""
    base = TrainConfig(
        sizes=tuple(sizes),
        activations=act,
        optimizer=grid["optimizer"],
        batch_size=grid["batch_size"],
        epochs=grid["epochs"],
        test_each_epoch=grid["test_each_epoch"],
    )
    info = {"dataset": grid["dataset"], "source": args.source, "train_subset": grid["train_subset"]}
    start = time.perf_counter()
    train = functools.partial(
        _train,
        base,
        data,
        grid,
        dict(
            name=name,
            out_dir=out,
            progress=True,
            data_info=info,
            meta={"argv": sys.argv, "quick": args.quick},
        ),
    )
    records, lrs_by_loss = interior_lr_sweep(
        train,
        grid["losses"],
        grid["lrs"],
        factor=grid["lr_factor"],
        max_rounds=grid["max_rounds"],
    )
    analysis = None
    if len(sizes) == 2:
        analysis = {
            "least_squares": least_squares_ceiling(data, sizes[-1]),
            "square_lr_bound": square_loss_lr_bound(data.x_train),
            "note": "least-squares ceiling: min-norm solution of the normal equations on the "
            "training split, float64; lr bound: 2/λ_max(AᵀA/N), A = [X 1]",
        }
    document = dict(
        grid=grid
        | {
            "sizes": sizes,
            "activation": act,
            "model": model_name(sizes, act),
            "lrs_by_loss": lrs_by_loss,
            "data": records[0]["data"],
            "base_config": base.to_dict(),
        },
        quick=args.quick,
        wall_seconds=time.perf_counter() - start,
        analysis=analysis,
    )
    return write_summary(records, document, out, name)


def _train(base, data, grid, kwargs, losses, lrs):
    return paired_sweep(
        sweep,
        base,
        data,
        losses=losses,
        lrs=lrs,
        init_scales=grid["init_scales"],
        replicates=grid["seeds"],
        **kwargs,
    )


def write_summary(records, document, out: Path, name: str, trained_by=None) -> dict:
    """Aggregates ``records`` into ``<name>.json`` and ``<name>.md`` beside ``document``'s
    grid; ``trained_by``: on a redraw, the provenance of the run that trained them."""
    records = paired(records)
    grid = document["grid"]
    summary = summarize(records)
    best = select_best(summary)  # on validation; each loss's own lr grid; raises without val
    comparisons = compare.comparisons(records, summary, best, grid)
    prov = provenance(
        grid["base_config"],
        seeds={"replicates": grid["seeds"]},
        argv=sys.argv,
        jsonl=f"{name}.jsonl",
        redrawn=trained_by is not None,
    )
    if trained_by is not None:
        prov = {**trained_by, "redrawn": True, "redraw": {k: prov[k] for k in ("argv", "created")}}
    document = {
        **document,
        "provenance": prov,
        "n_records": len(records),
        "cells": summary["cells"],
        "best": best,
        "n_diverged": summary["n_diverged"],
        "diverged": summary["diverged"],
        "comparisons": comparisons,
        "selection": "lr per (loss, init scale) by mean final val_accuracy; test at that lr",
    }
    document["summary"] = summary_text(document)
    write_json(out / f"{name}.json", document)
    atomic_write_text(out / f"{name}.md", markdown(document, name))
    return document


def redraw(out: Path, name: str) -> dict:
    """``--redraw``: the summary from ``<name>.jsonl`` when it holds every record of the
    JSON's grid (each loss at its own lrs); otherwise the JSON as it stands."""
    from softjax.results import read_jsonl

    json_path, jsonl_path = out / f"{name}.json", out / f"{name}.jsonl"
    require_results(json_path)
    document = read_json(json_path)
    grid = document["grid"]
    expected = sum(len(v) for v in grid["lrs_by_loss"].values())
    expected *= len(grid["init_scales"]) * len(grid["seeds"])
    records = read_jsonl(jsonl_path) if jsonl_path.exists() else []
    records = [r for r in paired(records) if r.get("data") == grid["data"]]
    if len(records) == expected:
        keep = {k: document[k] for k in ("grid", "quick", "wall_seconds", "analysis")}
        return write_summary(records, keep, out, name, trained_by=document["provenance"])
    print(
        f"--redraw: {jsonl_path} holds {len(records)} of {expected} records; "
        f"figures and {name}.md from {json_path} as it stands"
    )
    atomic_write_text(out / f"{name}.md", markdown(document, name))
    return document


if __name__ == "__main__":
    sys.exit(main())
