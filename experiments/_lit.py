"""What the literature experiments (golik, hui_belkin, label_noise) share: data loading,
and reading a sweep's records into the JSON's "best" rows.

Every number a summary reports is a mean over seeds with its 95% Student-t half-width
(:mod:`softjax.sweeps.stats`), at the lr chosen on the validation split; test metrics are
read only at that lr.
"""

from __future__ import annotations

from softjax.data import load_dataset
from softjax.sweeps import select_best, summarize
from softjax.sweeps.stats import best_of, cell

CURVE_KEYS = ("train_accuracy", "val_accuracy", "test_accuracy")


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
