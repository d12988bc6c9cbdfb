"""Experiment: does a committed verdict rest on an lr at a stability edge? (issue 33)

The lr search (:mod:`softjax.sweeps.lr_search`) refines to ~×1.78 and may choose an
*edge* lr: the best that trains, next to a neighbour that diverged or sat at chance. This
check takes every such arm of the loss study (each model's
``results/loss_sweep_<dataset>_<model>.json``) and of the gradient swap
(``results/gradient_swap.json``) and:

1. trains the study's replicates (its ``seeds``, its final config and budget) at the
   chosen lr c and at 3 lrs between c and each bad neighbour
   (:func:`.edges.candidates`: ×1.78 becomes ×1.15), one sweep program per arm;
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

from experiments._common import cli, lit
from experiments.edge_check import edges
from experiments.edge_check import report as plots
from experiments.edge_check.studies import (
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
SIZES = {
    "full": dict(max_cases=None, steps=edges.STEPS),
    "quick": dict(max_cases=1, steps=2),
    "smoke": dict(max_cases=None, steps=2),
}


def inputs(folder: Path, mode: str) -> tuple[list[Path], Path | None]:
    """The loss study's model files and the gradient swap's in ``folder``: the full-size
    studies' (``--smoke``: their ``_smoke`` runs, for the tests)."""
    suffix = "_smoke" if mode == "smoke" else ""
    loss = sorted(
        p
        for p in folder.glob(f"loss_sweep_*{suffix}.json")
        if (p.stem.endswith("_smoke") == (mode == "smoke"))
        and not p.stem.endswith(("_quick", "_mlp", "_mlp_smoke"))
    )
    swap = folder / f"gradient_swap{suffix}.json"
    return loss, swap if swap.exists() else None


def skipped(paths, swap) -> list[dict]:
    """The non-interior choices this check leaves as they are, with why."""
    out = []
    for p in paths:
        for c in read_json(p)["chosen"]:
            ch = c["choice"]
            if not ch["interior"] and not edges.bad_neighbours(ch):
                out.append({"file": p.name, "arm": ch["arm"], "reason": ch["reason"]})
    if swap is not None:
        for key, m in read_json(swap)["models"].items():
            for ch in m["search"]["choices"]:
                if not ch["interior"] and not edges.bad_neighbours(ch):
                    out.append(
                        {"file": f"{swap.name} {key}", "arm": ch["arm"], "reason": ch["reason"]}
                    )
    return out


def train(case, data, lrs) -> list[dict]:
    """Every replicate of ``case``'s arm at each of ``lrs``: one sweep program."""
    loss, scale = case.arm
    return sweep(
        case.config,
        data,
        losses=[loss],
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


def check(case, data, steps: int, mlp_docs: dict) -> dict:
    """One case: train, re-choose, re-decide (module docstring)."""
    start = time.perf_counter()
    lrs = edges.candidates(case.choice["lr"], case.neighbours, steps)
    records = train(case, data, lrs)
    by_lr: dict[float, list] = {lr: [] for lr in lrs}
    for r in records:
        by_lr[r["lr"]].append(r)
    val = {
        lr: [None if r["diverged"] else (r["history"]["val_accuracy"][case.short - 1]) for r in rs]
        for lr, rs in by_lr.items()
    }
    best, table = edges.rechoose(val, case.chance)
    measured = {lr: [case.measure(r) for r in rs] for lr, rs in by_lr.items()}
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
                committed_by_seed(case, "test_short"),
                {r["seed"]: r.get("test_short") for r in measured[lrs[0]]},
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
        loss_paths, swap = inputs(folder, args.mode)
        cases = [c for p in loss_paths for c in loss_sweep_cases(p)]
        cases += gradient_swap_cases(swap) if swap is not None else []
        if size["max_cases"] is not None:
            cases = cases[: size["max_cases"]]
        mlp_docs = {
            p.name: read_json(p) for p in loss_paths if read_json(p)["grid"]["part"] == "mlp"
        }
        data, results = {}, []
        for i, case in enumerate(cases):
            if case.data not in data:
                data[case.data] = lit.load(case.data[0], args, case.data[1])
            got = check(case, data[case.data], size["steps"], mlp_docs)
            results.append(got)
            print(
                f"[{i + 1}/{len(cases)}] {case.study} {case.setting} {case.arm}: "
                f"{got['lrs']} → {got['rechosen']}, {len(got['changed'])} verdict(s) "
                f"changed, {got['wall_s']:.0f} s",
                flush=True,
            )
        config = dict(size, mode=args.mode, inputs=str(folder), steps=size["steps"])
        body = {
            "inputs": [provenance_of(p) for p in [*loss_paths, *([swap] if swap else [])]],
            "cases": results,
            "skipped": skipped(loss_paths, swap),
        }
        cli.write(path, config, [], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
