"""Experiment: reproduce every worked example and reference number of the notes (SPEC §5).

The claims are data, in :mod:`experiments.claims` (one row of ``results/reproduce.md``
each: source, run, the notes' number, judgement); this script trains each run once, in
one loop over the claims, and writes the rows, the figures' data and the provenance:

1. seed 001's toy forward pass (z and a to 3 decimals) and its toy cross-entropy;
2. seed 001's gradient-descent loop on 3-class 2-D blobs;
3. seed 001's PyTorch MNIST softmax regression: 84.77% in the notes;
4. the homework's (hw0) softmax regression: 7.97% test error;
5. the homework's two-layer ReLU net without biases: 1.89% test error;
6. a tuned softmax regression (≥ 92.5%) and a tuned MLP (≥ 98.3%) on MNIST;
7. seed 003's (Learn, Sleep) → Is_Pass sigmoid MLP 2-3-4-1 with sigmoid BCE;
8. seed 001's per-digit weight images and class probabilities of three test images,
   from the item-3 model.

Random items report the mean ± sample std over seeds 0-4; deterministic ones one run.
A row fails if any of its runs diverged. The MNIST runs train on all 60,000 training
images (``validation=0``), as the notes do.

Run::

    python -m experiments.reproduce            # everything, into results/
    python -m experiments.reproduce --quick    # CI-sized, into results/scratch/
    python -m experiments.reproduce --redraw   # figures and table from the JSON only

For how long a run takes, see ``total_wall_s`` and ``wall_s`` in ``results/reproduce.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
from tqdm.auto import tqdm

from experiments._common import cli
from experiments._common.cli import draw_figures, require_results
from experiments.reproduce import claims as claims_table
from experiments.reproduce import measures
from experiments.reproduce import report as plots
from softjax.data import load_dataset, make_blobs, make_learn_sleep
from softjax.results import provenance, write_json
from softjax.training import train

RESULTS_STEM = "reproduce"
"""The results' file stem; a --quick run writes ``reproduce_quick.*`` to the scratch folder."""
SEEDS = (0, 1, 2, 3, 4)
QUICK_SEEDS = (0, 1)
QUICK_TRAIN_SIZE = 10_000  # the first MNIST training images, for the quick run

NOTES = (
    'Rows 4-5 marked "raw IDX file order" iterate the training set in the raw files\' '
    "order, as the homework does; `load_dataset(order='file')`; its default tfds order "
    "changes in-order SGD's result slightly, so both are shown.",
    'Item 5 "exact" starts from the homework\'s own numpy initial weights '
    "(np.random.seed(0)); the seeded rows use softjax's keys with the same distribution.",
    "Item 6 decays the learning rate tenfold for its last epochs with a step schedule "
    "(`TrainConfig(schedule='step')`) inside the one training program.",
)


def seed_sets(quick: bool, mlp_seeds: int | None = None) -> dict[str, tuple[int, ...]]:
    """The seeds of each :attr:`claims.Run.seeds` choice."""
    if quick:
        return {"all": QUICK_SEEDS, "mnist": (0,), "mlp": (0,), "one": (0,)}
    return {"all": SEEDS, "mnist": SEEDS, "mlp": SEEDS[: mlp_seeds or len(SEEDS)], "one": (0,)}


def plan(quick: bool) -> dict[str, claims_table.Run]:
    """The distinct runs the claims need, in claim order (a quick run's configs applied)."""
    runs = {}
    for claim in claims_table.CLAIMS:
        if isinstance(claim.run, claims_table.Run) and claim.run.name not in runs:
            runs[claim.run.name] = claim.run.for_quick() if quick else claim.run
    return runs


def total_runs(runs: dict[str, claims_table.Run], seeds: dict[str, tuple[int, ...]]) -> int:
    """``train`` calls in all: one per seed and stage of each run."""
    return sum(len(seeds[run.seeds]) for run in runs.values())


def _dataset(run: claims_table.Run, seed: int, mnist: dict):
    if run.data == "blobs":
        return make_blobs(jax.random.PRNGKey(seed))
    if run.data == "learn_sleep":
        return make_learn_sleep(jax.random.PRNGKey(seed))
    return mnist[run.data]


def train_run(run: claims_table.Run, seeds, mnist: dict, bar) -> measures.Trained:
    """``run`` once per seed, each a step of the outer bar; ``train``'s own per-epoch bar
    shows progress inside a long run."""
    results, datasets = [], []
    for seed in seeds:
        bar.set_postfix_str(f"{run.name} seed {seed}")
        data = _dataset(run, seed, mnist)
        config = run.config.replace(seed=seed)
        if run.full_batch:
            config = config.replace(batch_size=len(data.y_train))
        params = measures.homework_mlp_init(config.sizes[1]) if run.init == "homework" else None
        results.append(train(config, data, params=params, progress=True))
        datasets.append(data)
        bar.update(1)
    return measures.Trained(results, datasets, tuple(seeds), run.seeds == "one")


def make_row(
    claim: claims_table.Claim, measured: measures.Measured, setting: str, *, judged, diverged
) -> dict:
    """One table row: the claim, what was measured, and the judgement."""
    target = claim.target
    if target is None:
        passed, target_text = None, "n/a"
    else:
        of_mean = measured.values is not None and len(measured.values) > 1
        passed = target.judge(measured.value) and all(measured.checks.values()) and not diverged
        target_text = "; ".join([*measured.checks, target.text(of_mean)])
    return {
        "item": claim.item,
        "id": claim.id,
        "source": claim.source,
        "setting": measured.setting or setting,
        "notes": claim.notes,
        "softjax": measured.text,
        "target": target_text,
        "pass": passed,
        "judged": judged,
        "values": measured.values,
        **measured.extra,
    }


def _figure_data(trained: dict[str, measures.Trained]) -> tuple[dict, dict]:
    """What the figures draw: the blobs runs and the first seed-001 MNIST model."""
    blobs, mnist = trained["blobs"], trained["seed_mnist"]
    example = blobs.datasets[0]
    blobs_doc = {
        "seeds": list(blobs.seeds),
        "train_loss": [r.history["train_loss"] for r in blobs.results],
        "test_accuracy": [measures.final(r) for r in blobs.results],
        "config": blobs.results[0].config.to_dict(),
        "example": {
            "seed": blobs.seeds[0],
            "params": blobs.results[0].params,
            "test_accuracy": measures.final(blobs.results[0]),
            **{k: getattr(example, k) for k in ("x_train", "y_train", "x_test", "y_test")},
        },
    }
    model = mnist.results[0]
    mnist_doc = {
        "seed": mnist.seeds[0],
        "config": model.config.to_dict(),
        "params": model.params,
        "test_accuracy": measures.final(model),
        "history": model.history,
        "examples": measures.probability_examples(mnist),
    }
    return blobs_doc, mnist_doc


def _check(args) -> None:
    if args.mlp_seeds is not None and not 1 <= args.mlp_seeds <= len(SEEDS):
        raise ValueError(f"--mlp-seeds: expected an int in [1, {len(SEEDS)}], got {args.mlp_seeds}")


def parse_args(argv=None):
    """The shared flags (:func:`experiments._common.cli.parse_args`; no ``--config``: the
    runs are the claims' own) and ``--mlp-seeds``."""
    return cli.parse_args(
        __doc__,
        argv,
        lambda p: p.add_argument(
            "--mlp-seeds", type=int, default=None, help="seeds for the MLP rows (default: all 5)"
        ),
        modes=("quick", "full"),
        config=False,
        check=_check,
    )


def run(args) -> dict:
    """Runs every claim and returns the results document."""
    quick, start = args.quick, time.perf_counter()
    seeds = seed_sets(quick, args.mlp_seeds)
    runs = plan(quick)
    wall = {}
    mnist = {}
    for key, order in (("mnist", "tfds"), ("mnist_file", "file")):
        # The homework iterates the raw IDX files' order; with batches in order that matters.
        data = load_dataset(
            "mnist", source=args.source, data_dir=args.data_dir, order=order, validation=0
        )
        if quick:
            data = data._replace(
                x_train=data.x_train[:QUICK_TRAIN_SIZE], y_train=data.y_train[:QUICK_TRAIN_SIZE]
            )
        mnist[key] = data
    wall["load"] = time.perf_counter() - start

    bar = tqdm(total=total_runs(runs, seeds), desc="reproduce", unit="run")
    trained, rows = {}, []
    for claim in claims_table.CLAIMS:
        t0 = time.perf_counter()
        if callable(claim.run):
            measured, setting, name, diverged, judged = claim.run(), "", "toy", False, True
        else:
            run_ = runs[claim.run.name]
            name = run_.name
            if name not in trained:
                trained[name] = train_run(run_, seeds[run_.seeds], mnist, bar)
            done = trained[name]
            measured = claim.measure(done)
            data_text = measures.describe_data(run_.data, done.datasets[0])
            setting = claims_table.describe(run_, data_text, len(done.datasets[0].y_train))
            diverged = any(r.diverged for r in done.results)
            judged = not (quick and run_.data.startswith("mnist"))
        rows.append(make_row(claim, measured, setting, judged=judged, diverged=diverged))
        wall[name] = wall.get(name, 0.0) + time.perf_counter() - t0
    bar.close()

    notes = list(NOTES)
    if quick:
        notes.append(
            f"Quick run: the MNIST rows train on the first {QUICK_TRAIN_SIZE} images with seed "
            "0 only, fewer epochs and a smaller item-5 hidden layer; they are not judged."
        )
    elif len(seeds["mlp"]) < len(SEEDS):
        notes.append(f"The MLP rows (items 5 and 6) use seeds {list(seeds['mlp'])} only, for time.")
    blobs_doc, mnist_doc = _figure_data(trained)
    config = {
        "quick": quick,
        "source": args.source,
        "seeds": {k: list(v) for k, v in seeds.items()},
        "runs": {name: run_.config.to_dict() for name, run_ in runs.items()},
        "quick_train_size": QUICK_TRAIN_SIZE if quick else None,
    }
    return {
        "provenance": provenance(config, seeds=list(seeds["all"]), argv=sys.argv),
        "quick": quick,
        "rows": rows,
        "notes": notes,
        "blobs": blobs_doc,
        "mnist_model": mnist_doc,
        "wall_s": wall,
        "total_wall_s": time.perf_counter() - start,
    }


def main(argv=None) -> list[Path]:
    args = parse_args(argv)
    out_dir, results_path = cli.results_path(args, RESULTS_STEM)
    if args.redraw:
        require_results(results_path)
    else:
        doc = run(args)
        write_json(results_path, doc)
        print(f"wrote {results_path} in {doc['total_wall_s']:.1f} s")
    return draw_figures(plots, results_path, out_dir)


if __name__ == "__main__":
    main()
