"""Experiment: does a committed verdict rest on an lr at a stability edge? (issue 33)

The lr search (:mod:`softjax.sweeps.lr_search`) may choose an *edge* lr: the best that
trains, next to a neighbour that diverged or sat at chance (refined toward it to ×1.15). This
check takes every such arm of the loss study (each model's
``results/loss_sweep_<dataset>_<model>.json``), of the gradient swap
(``results/gradient_swap.json``), of Hui & Belkin's study (``results/hui_belkin.json``),
of the label-noise study (``results/label_noise.json``, its tuned protocol), of the
depth study (``results/mlp_depth.json``) and of Glorot & Bengio's
(``results/glorot.json``) and:

1. trains the study's replicates (its ``seeds``, its final config and budget) at the
   chosen lr c and at 3 lrs between c and each bad neighbour
   (:func:`.edges.candidates`: the gap in 4 equal steps): one sweep program per arm, or the
   study's own training where its runs are not sweep records (:mod:`.literature`);
2. re-chooses among them on validation at the fixed budget, by the search's rule
   (:func:`.edges.rechoose`);
3. re-runs the study's own analysis with this arm's committed runs replaced, once by the
   retrained runs at c (they should reproduce the committed per-seed test accuracy; the
   largest gap is reported) and once by the runs at the re-choice (for the loss study's
   MLPs also its pooled effects), and lists every verdict that changed.

An edge whose neighbour was never tried (the search's lr range ends there) is extended
past it the same way (:data:`.edges.BEYOND`); an arm where no lr trains is left as it is
(nothing to refine) and listed.

Run::

    python -m experiments.edge_check             # full size: results/edge_check.*
    python -m experiments.edge_check --quick     # the first case, ×1.33, results/scratch/
    python -m experiments.edge_check --redraw    # summary from the JSON only
"""

from __future__ import annotations

import time
from pathlib import Path

from experiments._common import cli
from experiments.edge_check import edges
from experiments.edge_check import report as plots
from experiments.edge_check.literature import (
    glorot_cases,
    hui_belkin_cases,
    label_noise_cases,
    mlp_depth_cases,
)
from experiments.edge_check.studies import (
    by_seed,
    committed_by_seed,
    gradient_swap_cases,
    loss_sweep_cases,
    provenance_of,
)
from experiments.loss_sweep import analysis as loss_analysis
from softjax.compilation_cache import enable_compilation_cache
from softjax.results import read_json, results_dir
from softjax.sweeps import sweep

STEM = "edge_check"
POOLED_FAMILY = "MLPs pooled over datasets, fixed budget"
"""The loss study's pooled family (:func:`experiments.loss_sweep.study.lines`)."""
OTHERS = {
    "gradient_swap": gradient_swap_cases,
    "hui_belkin": hui_belkin_cases,
    "label_noise": label_noise_cases,
    "mlp_depth": mlp_depth_cases,
    "glorot": glorot_cases,
}
"""The other studies checked, by results stem: their cases."""
SIZES = {
    "full": dict(max_cases=None, steps=edges.STEPS),
    "quick": dict(max_cases=1, steps=2),
    "smoke": dict(max_cases=None, steps=2),
}


def inputs(folder: Path, mode: str) -> tuple[list[Path], dict[str, Path]]:
    """The loss study's model files and the other studies' (:data:`OTHERS`) in
    ``folder``: the full-size studies' (``--smoke``: their ``_smoke`` runs, for the
    tests)."""
    suffix = "_smoke" if mode == "smoke" else ""
    loss = sorted(
        p
        for p in folder.glob(f"loss_sweep_*{suffix}.json")
        if (p.stem.endswith("_smoke") == (mode == "smoke"))
        and not p.stem.endswith(("_quick", "_mlp", "_mlp_smoke"))
    )
    others = {name: folder / f"{name}{suffix}.json" for name in OTHERS}
    return loss, {name: p for name, p in others.items() if p.exists()}


NO_BUILDER = ("golik", "nielsen", "calibration")
"""Studies with an lr search this check has no case builder for: their non-interior
choices are listed as not re-checked."""


def unchecked(folder: Path, mode: str) -> list[Path]:
    """The results of :data:`NO_BUILDER` in ``folder``."""
    suffix = "_smoke" if mode == "smoke" else ""
    return [p for n in NO_BUILDER if (p := folder / f"{n}{suffix}.json").exists()]


def skipped(paths: list[Path], every: bool = False) -> list[dict]:
    """The non-interior choices of ``paths`` this check leaves as they are (no lr
    trains: nothing to refine; with ``every``, each non-interior choice: a study this
    check has no case builder for), with where they sit and why; each search's choices
    once (copies of a choice, under ``chosen``, ``analysis`` or a ``choice`` beside its
    search, are skipped)."""
    out = []

    def walk(node, where, file):
        if isinstance(node, dict):
            if {"arm", "verdict", "reason", "lrs_tried"} <= set(node):
                if node["verdict"] != "interior" and (every or not edges.bad_neighbours(node)):
                    out.append({"file": file, "where": where, "arm": node["arm"]})
                    out[-1]["reason"] = node["reason"]
                return
            for k, v in node.items():
                if k in ("chosen", "analysis") or (k in ("choice", "choices") and "search" in node):
                    continue
                walk(v, f"{where}/{k}" if where else str(k), file)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]", file)

    for p in paths:
        doc = read_json(p)
        walk({k: v for k, v in doc.items() if k != "provenance"}, "", p.name)
    return out


def train(case, data, lrs) -> list[dict]:
    """Every replicate of ``case``'s arm at each of ``lrs``: one sweep program."""
    label, scale = case.arm
    return sweep(
        case.config,
        data,
        losses=[label if case.loss is None else case.loss],
        lrs=[sorted(lrs)],
        init_scales=[scale],
        seeds=case.seeds,
        data_seeds=case.seeds,
        seed_pairing="paired",
        progress=False,
    )


def pooled(mlp_docs: dict, file: str | None = None, runs=None) -> dict:
    """The loss study's pooled MLP effects, with ``file``'s runs replaced by ``runs``."""
    docs = [d | {"runs": runs} if f == file else d for f, d in mlp_docs.items()]
    delta = docs[0]["grid"]["delta"]
    return {"pooled": loss_analysis.pooled_effects(docs, POOLED_FAMILY, delta)}


def sweep_trainer(case, data, lrs) -> tuple[dict, dict]:
    """Every replicate at each of ``lrs`` in one sweep: each lr's validation scores at
    the fixed budget and its runs as the study measures them."""
    by_lr: dict[float, list] = {lr: [] for lr in lrs}
    for r in train(case, data, lrs):
        by_lr[r["lr"]].append(r)
    val = {
        lr: [None if r["diverged"] else r["history"]["val_accuracy"][case.short - 1] for r in rs]
        for lr, rs in by_lr.items()
    }
    return val, {lr: [case.measure(r) for r in rs] for lr, rs in by_lr.items()}


def check(case, data, steps: int, mlp_docs: dict) -> dict:
    """One case: train, re-choose, re-decide (module docstring)."""
    start = time.perf_counter()
    lrs = edges.candidates(case.choice["lr"], case.neighbours, steps)
    val, measured = (case.trainer or sweep_trainer)(case, data, lrs)
    best, table = edges.rechoose(val, case.chance, case.margin)
    others = [r for r in case.runs if not case.mine(r)]
    committed = edges.verdicts(case.committed)
    at_chosen = edges.verdicts(case.analyse(others + measured[lrs[0]]))
    out = {
        "study": case.study,
        "file": case.file,
        "setting": case.setting,
        "arm": list(case.arm),
        "choice": case.choice,
        "lrs": lrs,
        "table": [{"lr": lr, **table[lr]} for lr in lrs],
        "rechosen": best,
        "moved": best is not None and best != lrs[0],
        "reproduces": {
            "largest_test_gap": edges.largest_gap(
                committed_by_seed(case),
                by_seed(measured[lrs[0]], case.metric),
            ),
            "changed": edges.changed(committed, at_chosen),
        },
    }
    after = at_chosen
    if best is not None:
        after = edges.verdicts(case.analyse(others + measured[best]))
    out["changed"] = edges.changed(at_chosen, after)
    if case.study == "loss_sweep" and case.extra.get("part") == "mlp" and mlp_docs:
        before = edges.verdicts(pooled(mlp_docs, case.file, others + measured[lrs[0]]))
        now = before
        if best is not None:
            now = edges.verdicts(pooled(mlp_docs, case.file, others + measured[best]))
        out["pooled_changed"] = edges.changed(before, now)
    out["wall_s"] = time.perf_counter() - start
    out["runs"] = {str(lr): rs for lr, rs in measured.items()}
    return out


def _args(parser) -> None:
    parser.add_argument(
        "--inputs", type=Path, default=None, help="folder of the studies' JSONs (default: results/)"
    )


def main(argv=None):
    args = cli.parse_args(__doc__, argv, _args, needs=("mnist", "fashion_mnist"))
    size = cli.size(args, SIZES)
    out_dir, path = cli.results_path(args, STEM)
    folder = args.inputs if args.inputs is not None else results_dir()

    def _run():
        enable_compilation_cache()
        start = time.perf_counter()
        loss_paths, others = inputs(folder, args.mode)
        cases = [c for p in loss_paths for c in loss_sweep_cases(p)]
        for name, study_path in others.items():
            cases += OTHERS[name](study_path)
        if size["max_cases"] is not None:
            cases = cases[: size["max_cases"]]
        mlp_docs = {
            p.name: read_json(p) for p in loss_paths if read_json(p)["grid"]["part"] == "mlp"
        }
        data, results = {}, []
        for i, case in enumerate(cases):
            if case.data_key not in data:
                data[case.data_key] = case.load(args)
            got = check(case, data[case.data_key], size["steps"], mlp_docs)
            results.append(got)
            print(
                f"[{i + 1}/{len(cases)}] {case.study} {case.setting} {case.arm}: "
                f"{got['lrs']} → {got['rechosen']}, {len(got['changed'])} verdict(s) "
                f"changed, {got['wall_s']:.0f} s",
                flush=True,
            )
        config = dict(size, mode=args.mode, inputs=str(folder), steps=size["steps"])
        body = {
            "inputs": [provenance_of(p) for p in [*loss_paths, *others.values()]],
            "cases": results,
            "skipped": skipped([*loss_paths, *others.values()]),
            "unchecked": skipped(unchecked(folder, args.mode), every=True),
        }
        cli.write(path, config, [], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
