"""What the literature experiments (golik, hui_belkin, label_noise) share: the CLI's
sizes and flags, data loading, and reading a sweep's records into the JSON's "best" rows.

Every number a summary reports is a mean over seeds with its 95% Student-t half-width
(:mod:`softjax.sweeps.stats`), at the lr chosen on the validation split; test metrics are
read only at that lr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from experiments._cli import draw_figures, require_results
from softjax.data import load_dataset
from softjax.results import provenance, results_dir, write_json
from softjax.sweeps import select_best, summarize
from softjax.sweeps.stats import best_of, cell

CURVE_KEYS = ("train_accuracy", "val_accuracy", "test_accuracy")
MODES = ("smoke", "quick", "full")


def parse_args(doc: str, argv=None, extra=None) -> argparse.Namespace:
    """``--quick``/``--smoke``/``--redraw``/``--out``/``--source``/``--data-dir``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="≤ 2 minutes on 2 cores, scratch")
    size.add_argument("--smoke", action="store_true", help="seconds: the test suite's size")
    parser.add_argument("--redraw", action="store_true", help="figures and summary from JSON")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--source", choices=("tfds", "idx"), default="idx")
    parser.add_argument("--data-dir", default=None, help="default: $SOFTJAX_DATA_DIR")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    return args


def results_path(args, stem: str) -> tuple[Path, Path]:
    """``(out_dir, <stem>[_quick|_smoke].json)``; quick and smoke go to scratch."""
    scratch = args.mode != "full"
    out_dir = Path(args.out) if args.out is not None else results_dir(scratch=scratch)
    suffix = "" if args.mode == "full" else f"_{args.mode}"
    return out_dir, out_dir / f"{stem}{suffix}.json"


def load(name: str, args, train_subset: int | None):
    """MNIST-format data with the default 5000-image validation split, optionally only the
    first ``train_subset`` training rows (validation and test stay whole)."""
    data = load_dataset(name, source=args.source, data_dir=args.data_dir)
    if train_subset:
        data = data._replace(
            x_train=data.x_train[:train_subset], y_train=data.y_train[:train_subset]
        )
    return data


def best_rows(records, lrs, keys=CURVE_KEYS) -> list[dict]:
    """Per (loss, init scale): the lr chosen on validation, its final val/test accuracy
    (mean, std, ci95 over seeds) and its per-epoch curves (mean and ci95) of ``keys``."""
    summary = summarize(records)
    rows = []
    for entry in select_best(summary, lrs=lrs):
        c = cell(summary, entry["loss_spec"], entry["init_scale"], entry["lr"])
        curves = {}
        if c is not None:
            curves = {k: {"mean": c["mean"].get(k), "ci95": c["ci95"].get(k)} for k in keys}
        final = {}
        if c is not None:
            for k in keys:
                values = c["mean"].get(k)
                final[k] = {
                    "mean": values[-1] if values else None,
                    "ci95": (c["ci95"].get(k) or [None])[-1],
                }
        rows.append(
            {**entry, "curves": curves, "final": final, "n_diverged_runs": summary["n_diverged"]}
        )
    return rows


def find(rows, loss, init_scale=1.0):
    """The row of ``loss`` (a name or spec) and ``init_scale``."""
    return best_of(rows, loss, init_scale)


def write(path: Path, config: dict, seeds, body: dict, start: float) -> None:
    body["wall_s"] = time.perf_counter() - start
    write_json(path, {"provenance": provenance(config, seeds=list(seeds), argv=sys.argv), **body})
    print(f"wrote {path} in {body['wall_s']:.1f} s")


def finish(args, plots, path: Path, out_dir: Path, run) -> list[Path]:
    """``--redraw`` checks the JSON exists; otherwise ``run()`` writes it. Then figures."""
    if args.redraw:
        require_results(path)
    else:
        run()
    return draw_figures(plots, path, out_dir)
