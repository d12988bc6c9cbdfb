"""What the literature experiments (golik, hui_belkin, label_noise, calibration) share:
data loading, lr grids grown until the choice is interior, and reading a sweep's records
into the JSON's "best" rows (label_noise, calibration); for the studies whose lrs come
from :func:`softjax.sweeps.lr_search.search_lrs` (golik, hui_belkin), the lr a choice
trains at and its choice in words.

Every number a summary reports is a mean over replicates (replicate i: init seed i and
data-order seed i) with its 95% Student-t half-width (:mod:`softjax.sweeps.stats`), at the
lr chosen on the validation split; test metrics are read only at that lr.
"""

from __future__ import annotations

from softjax.data import load_dataset
from softjax.sweeps import select_best, summarize, sweep
from softjax.sweeps.adaptive import LR_FACTOR, LR_RANGE, MAX_ROUNDS, interior_lr_sweep
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


LR_EXTENSION = {"factor": LR_FACTOR, "range": list(LR_RANGE)}
"""How :func:`interior_sweep` grows a grid, for the results' config."""

REPLICATES = "init seed i and data-order seed i"
"""What replicate i of :func:`interior_sweep` (and golik's arms) varies, for the config."""


def interior_sweep(config, data, losses, lrs, seeds, max_rounds=MAX_ROUNDS, name="", **kwargs):
    """``sweep`` over ``losses`` × ``lrs`` × replicates ``seeds``, each loss's lr grid
    extended in ×:data:`~softjax.sweeps.adaptive.LR_FACTOR` steps while its lr chosen on
    validation is on an edge (:func:`~softjax.sweeps.adaptive.interior_lr_sweep`; at most
    ``max_rounds`` times; 0 keeps ``lrs``). ``kwargs`` go to ``sweep``.

    Replicate i is init seed i *and* data seed i (``seed_pairing="paired"``, as the loss
    study's :func:`~softjax.sweeps.adaptive.paired_sweep`), so the intervals over seeds
    cover both the init and the minibatch order; the replicates reuse one compiled program.

    Returns ``(records, grids)``: every run, and each loss's final grid by loss name.
    Select with ``lrs=None`` (:func:`best_rows`, ``select_best``) so each loss's edges are
    judged on its own grid.
    """

    def train(group, new_lrs):
        return sweep(
            config,
            data,
            losses=group,
            lrs=new_lrs,
            seeds=list(seeds),
            data_seeds=list(seeds),
            seed_pairing="paired",
            **kwargs,
        )

    return interior_lr_sweep(
        train,
        list(losses),
        lrs,
        max_rounds=max_rounds,
        log=lambda line: print(f"{name}: {line}" if name else line, flush=True),
    )


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


def chosen_lr(choice: dict, scores: dict) -> float | None:
    """An arm's lr for its finals: the search's choice (an ``LrChoice`` dict), else (no
    lr trains) the lr of the best finite validation score among ``scores`` (lr → mean
    score, None when diverged), so an arm that cannot train is measured, not dropped;
    None when every lr diverged."""
    if choice["lr"] is not None:
        return choice["lr"]
    finite = {lr: s for lr, s in scores.items() if s is not None}
    return max(finite, key=finite.get) if finite else None


def choice_text(choice: dict) -> str:
    """An ``LrChoice`` dict in words: ``lr 0.1 (interior)``, ``lr 0.3 (edge: lower 0.178
    trains, upper 0.562 diverged)``, or ``no lr trains (tried 6: 0.01 … 3.16)``."""
    if choice["lr"] is None:
        return choice["reason"]
    if choice["verdict"] == "interior":
        return f"lr {choice['lr']:.3g} (interior)"
    return f"lr {choice['lr']:.3g} ({choice['reason']})"


def search_scores(search: dict, arm) -> dict:
    """``{lr: score}`` of one arm from an ``LrSearch.as_dict()``'s history (``arm`` as
    stored, lists for tuples)."""
    return {
        r["lr"]: r["score"]
        for r in search["history"]
        if r["arm"] == arm or (isinstance(r["arm"], list | tuple) and list(r["arm"]) == list(arm))
    }
