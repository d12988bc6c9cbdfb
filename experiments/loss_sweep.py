"""Experiment: which loss trains softmax regression on MNIST, from which init scale? (SPEC §6)

MNIST softmax regression (784 → 10, LeCun-normal init times an init scale, plain SGD,
batch 64, shuffled, seed 001's setup) trained with each of the five losses of SPEC §3
(``cce``, ``mse`` and ``bce`` on the softmax, one-vs-rest ``sigmoid_bce``, ``square`` on
the logits) over a grid of learning rates, init scales and seeds, with
:func:`softjax.sweeps.sweep`. Every run streams to ``<out>/<name>.jsonl``; the summary
(per-cell means and standard deviations over seeds, best lr per loss and scale, and a
text summary generated from those numbers by :mod:`softjax.plots.sweep_report`) goes to
``<out>/<name>.json`` and ``<out>/<name>.md``; figures are drawn from the JSON by
:mod:`softjax.plots.sweep`.

Each (loss, init scale)'s lr is chosen by final accuracy on the validation split (the
last 5,000 training images, ``load_dataset``'s default), and test accuracy is reported
only at that lr (:func:`softjax.sweeps.select_best`). One run per results folder and name
at a time: a second copy fails at once naming the folder and the running pid.

The lr grid {0.01, 0.1, 0.5, 2} spans what works for each loss: square loss on the raw
logits is only stable below ≈ 2/λ_max(E[x xᵀ]) (it diverges from lr 0.1 on), while the
softmax losses, whose gradients are bounded, need lr ≳ 0.5 to move in 5 epochs; MSE on
the softmax, whose gradient carries ŷ(1 − ŷ) factors, needs the largest.

Run::

    python -m experiments.loss_sweep            # full grid: 5 × 5 × 4 × (5 × 2 seeds), 5 epochs
    python -m experiments.loss_sweep --quick    # CI-sized, writes loss_sweep_quick.*
    python -m experiments.loss_sweep --redraw   # figures and summary from the files only

An interrupted run resumes where it stopped (finished configs are skipped).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from experiments._cli import require_results
from softjax.data import load_dataset
from softjax.plots import sweep as plots
from softjax.plots.sweep_report import markdown, summary_text
from softjax.results import (
    atomic_write_text,
    provenance,
    read_json,
    read_jsonl,
    results_dir,
    write_json,
)
from softjax.sweeps import (
    SweepLocked,
    check_writable,
    select_best,
    select_grid,
    summarize,
    sweep,
    sweep_lock,
)
from softjax.training import TrainConfig

LOSSES = ("cce", "mse", "bce", "sigmoid_bce", "square")
"""The five losses of SPEC §3 this experiment compares."""

FULL = dict(
    init_scales=[0.01, 0.1, 1.0, 10.0, 100.0],
    lrs=[0.01, 0.1, 0.5, 2.0],
    seeds=[0, 1, 2, 3, 4],
    data_seeds=[0, 1],
    epochs=5,
    train_subset=None,
    name="loss_sweep",
)
QUICK = dict(
    init_scales=[0.01, 0.1, 1.0, 10.0, 100.0],
    lrs=[0.01, 0.5],
    seeds=[0, 1],
    data_seeds=[0],
    epochs=2,
    train_subset=10_000,
    name="loss_sweep_quick",
)
BATCH_SIZE = 64
SMALL_SCALE, LARGE_SCALE = 0.01, 100.0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {value}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized grid")
    parser.add_argument("--redraw", action="store_true", help="figures and summary only")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--source", choices=("tfds", "idx"), default="tfds")
    parser.add_argument("--data-dir", default=None, help="default: $SOFTJAX_DATA_DIR")
    parser.add_argument(
        "--train-subset", type=_positive_int, default=None, help="first N training images only"
    )
    parser.add_argument("--epochs", type=_positive_int, default=None)
    parser.add_argument(
        "--losses", nargs="+", choices=LOSSES, default=None, help="default: all five"
    )
    parser.add_argument("--name", default=None, help="file stem (default by mode)")
    return parser.parse_args(argv)


def write_summary(
    records, grid, args, out: Path, name: str, elapsed: float | None, trained_by=None
):
    """Aggregates the records into ``<name>.json`` and ``<name>.md``.

    ``trained_by``: on a redraw, the provenance of the run that trained the records. It
    stays the document's provenance (the numbers are that run's); the redraw's own commit,
    time and versions are recorded beside it under ``redraw``.
    """
    # Only this grid's records: the JSONL may also hold lines of older grids of this name.
    summary = summarize(records, grid)
    best = select_best(summary, lrs=grid["lrs"])  # on validation; raises without it
    text = summary_text(summary, best, grid)
    prov = provenance(
        grid["base_config"],
        seeds={"init": grid["seeds"], "data": grid["data_seeds"]},
        argv=sys.argv,
        grid={k: v for k, v in grid.items() if k != "base_config"},
        jsonl=f"{name}.jsonl",
        redrawn=args.redraw,
    )
    if trained_by is not None:
        redraw_info = {k: prov[k] for k in ("argv", "versions", "git_commit", "created")}
        prov = {**trained_by, "redrawn": True, "redraw": redraw_info}
    document = {
        "provenance": prov,
        "grid": grid,
        "wall_seconds": elapsed,
        "n_records": len(select_grid(records, grid)),
        "cells": summary["cells"],
        "best": best,
        "n_diverged": summary["n_diverged"],
        "diverged": summary["diverged"],
        "selection": "lr per (loss, init scale) by mean final val_accuracy; test at that lr",
        "summary": text,
    }
    write_json(out / f"{name}.json", document)
    atomic_write_text(out / f"{name}.md", markdown(document, name))
    return document


def redraw(args, out: Path, name: str, base: TrainConfig) -> dict:
    """``--redraw``: the figures need only ``<name>.json``; the summary is recomputed
    from ``<name>.jsonl`` only when it holds every record of the JSON's grid.

    A missing, partial or foreign JSONL (lines of other grids only) leaves the JSON as it
    is, so a redraw can never replace the results with a summary of fewer records.
    """
    json_path, jsonl_path = out / f"{name}.json", out / f"{name}.jsonl"
    require_results(json_path)
    document = read_json(json_path)
    # The grid as it ran (a legacy file without base_config gets today's).
    grid = {"base_config": base.to_dict()} | document["grid"]
    expected = 1
    for axis in ("losses", "lrs", "init_scales", "seeds", "data_seeds"):
        expected *= len(grid[axis])
    records = select_grid(read_jsonl(jsonl_path), grid) if jsonl_path.exists() else []
    has_val = all("val_accuracy" in r["history"] for r in records)
    if len(records) == expected and has_val:
        return write_summary(
            records, grid, args, out, name, document.get("wall_seconds"),
            trained_by=document["provenance"],
        )  # fmt: skip
    why = (
        f"{jsonl_path} is missing"
        if not jsonl_path.exists()
        else f"{jsonl_path} holds {len(records)} of the grid's {expected} records"
        if len(records) != expected
        else f"{jsonl_path}'s records have no validation metrics to choose lrs on"
    )
    print(f"--redraw: {why}; figures and {name}.md from {json_path} as it stands")
    atomic_write_text(out / f"{name}.md", markdown(document, name))
    return document


def main(argv=None) -> int:
    args = parse_args(argv)
    mode = dict(QUICK if args.quick else FULL)
    if args.train_subset is not None:
        mode["train_subset"] = args.train_subset
    if args.epochs is not None:
        mode["epochs"] = args.epochs
    name = args.name or mode["name"]
    out = args.out if args.out is not None else results_dir(scratch=args.quick)
    base = TrainConfig(sizes=(784, 10), batch_size=BATCH_SIZE, epochs=mode["epochs"])
    grid = {
        "base_config": base.to_dict(),
        "losses": list(args.losses or LOSSES),
        "lrs": mode["lrs"],
        "init_scales": mode["init_scales"],
        "seeds": mode["seeds"],
        "data_seeds": mode["data_seeds"],
        "epochs": mode["epochs"],
        "batch_size": BATCH_SIZE,
        "train_subset": mode["train_subset"],
        "source": args.source,
    }
    try:
        # Up front, before any data is loaded: a folder we cannot write, or another run
        # of this sweep writing there, ends the run with one line naming the folder.
        with sweep_lock(check_writable(out), name):
            document = _run(args, mode, grid, base, out, name)
            paths = plots.draw(out / f"{name}.json", out)
    except (PermissionError, SweepLocked) as e:
        raise SystemExit(f"loss_sweep: {e}") from None
    print("\n".join(document["summary"]))
    print("wrote", out / f"{name}.json", out / f"{name}.md", *paths, sep="\n  ")
    return 0


def _run(args, mode, grid, base, out: Path, name: str) -> dict:
    """Trains (or resumes) the grid and writes the summary; ``--redraw`` only redraws."""
    if args.redraw:
        document = redraw(args, out, name, base)
    else:
        start = time.perf_counter()
        data = load_dataset("mnist", source=args.source, data_dir=args.data_dir)
        if mode["train_subset"]:
            n = mode["train_subset"]
            if n > len(data.x_train):
                raise SystemExit(
                    f"--train-subset: expected at most {len(data.x_train)} (the training "
                    f"set), got {n}"
                )
            data = data._replace(x_train=data.x_train[:n], y_train=data.y_train[:n])
        print(f"data ready in {time.perf_counter() - start:.1f} s", flush=True)
        records = sweep(
            base,
            data,
            losses=grid["losses"],
            lrs=grid["lrs"],
            init_scales=grid["init_scales"],
            seeds=grid["seeds"],
            data_seeds=grid["data_seeds"],
            name=name,
            out_dir=out,
            progress=True,
            meta={"argv": sys.argv, "source": args.source, "train_subset": mode["train_subset"]},
            # In the resume key: another subset or source is other data, not a resume.
            data_info={
                "dataset": "mnist",
                "source": args.source,
                "train_subset": mode["train_subset"],
            },
        )
        grid["data"] = records[0]["data"]
        elapsed = time.perf_counter() - start
        document = write_summary(records, grid, args, out, name, elapsed)
    return document


if __name__ == "__main__":
    sys.exit(main())
