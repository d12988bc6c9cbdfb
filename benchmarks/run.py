"""``python -m benchmarks.run``: softjax against its peers and its matmul floor, every case.

Writes ``results/benchmarks.json`` (``benchmarks_<backend>.json`` off the CPU) and a
README-ready table in the ``.md`` next to it; ``--quick`` runs CI-sized work into
``results/scratch/``. The cases and their systems are tables in :mod:`benchmarks.cases`,
the runner is :mod:`benchmarks.timing`, the floors :mod:`benchmarks.floors`, the targets
and table :mod:`benchmarks.report`. Method: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

from benchmarks import growth, peers, quick_clock, scaling, study_clock
from benchmarks.cases import CASES, Case
from benchmarks.configs import SWEEP_GRID, Sizes, mlp_config, mlp_sweep_config, single_config
from benchmarks.hardware import hardware_floor
from benchmarks.hlo import step_kernels
from benchmarks.report import markdown, targets
from benchmarks.timing import (
    CLOCKS,
    interleaved,
    paired_median,
    peak_rss,
    reset_peak_rss,
    summarize,
)
from softjax.inputs import Data
from softjax.results import atomic_write_text, provenance, read_json, results_dir, write_json

REPO = Path(__file__).resolve().parent.parent

FULL = Sizes(
    None,
    None,
    epochs=5,
    mlp_epochs=2,
    repeats=5,
    compile_repeats=5,
    sweep_subset=3,
    memory_systems=tuple(
        f"{key}/{name}"
        for key, case in CASES.items()
        for name in case.systems
        # the MLP sweep's memory is the linear sweep's story at 10x the params, and the
        # runs without diagnostics hold the same data and params: not rerun
        if name not in case.cold and key != "mlp_sweep" and name != "softjax_no_diagnostics"
    ),
    growth_models=growth.MODELS,
    growth_rounds=3,
    memory_sweep_models=growth.MEMORY_MODELS,
)
# CI only proves that the code runs, in ≤ 2 minutes on 2 cores: 1 round, one compile each
# (its executable is the timed row's, so nothing compiles twice), no sequential train()
# calls, the memory child's sweep at 100 models, the scale-out case at 1 epoch.
QUICK = Sizes(
    2048,
    512,
    epochs=1,
    mlp_epochs=1,
    repeats=1,
    compile_repeats=1,
    sweep_subset=1,
    memory_systems=("single/softjax", "single/numpy"),
    growth_models=growth.QUICK_MODELS,
    growth_rounds=1,
    memory_sweep_models=100,
    hardware_repeats=5,
    scaling=(1, 1, 1),
    # The MLP sweep's programs are the slowest to compile: quick runs the mixed one only.
    # The single run's rows without diagnostics and on floats prove those paths; the
    # others compile the same functions on bigger programs.
    left_out=(
        "mlp_sweep/softjax_per_loss_programs",
        "mlp_sweep/compiles",
        "sweep/softjax_no_diagnostics",
        "sweep/make_sweep_float_data",
        "sweep/train_calls_x48_estimated",
        "mlp/softjax_no_diagnostics",
        "mlp_sweep/softjax_no_diagnostics",
    ),
)
EXTRA = ("growth", "memory", "scaling", "study_clock", "quick_clock")  # besides CASES
FULL_ONLY = ("scaling", "quick_clock")  # not in CI's 2 minutes; the clock times --quick


def _load_now() -> dict:
    return dict(zip(("1min", "5min", "15min"), os.getloadavg(), strict=True))


def data_dir_of(data_dir: str | None) -> str:
    """``--data-dir``, else ``$SOFTJAX_DATA_DIR``, else the shared data folder."""
    return data_dir or os.environ.get("SOFTJAX_DATA_DIR") or str(REPO.parent / "shared/data")


def load_data(sizes: Sizes, data_dir: str | None, quick: bool) -> tuple[Data, str]:
    """MNIST via ``softjax.load_dataset`` (IDX reader, no TF; the notes' 60k/10k split),
    its first rows in quick mode; MNIST-shaped random data where MNIST is absent (quick
    mode only)."""
    from softjax import load_dataset

    data_dir = data_dir_of(data_dir)
    try:
        ds = load_dataset("mnist", source="idx", data_dir=data_dir, validation=0)
    except (FileNotFoundError, ValueError):
        if not quick:
            raise
        rng = np.random.default_rng(0)
        n, m = sizes.n_train, sizes.n_test
        x, x_test = rng.random((n, 784), np.float32), rng.random((m, 784), np.float32)
        y, y_test = (rng.integers(0, 10, k).astype(np.int32) for k in (n, m))
        return Data(x, y, x_test, y_test), "synthetic (MNIST not found)"
    n, m = sizes.n_train, sizes.n_test
    return Data(ds.x_train[:n], ds.y_train[:n], ds.x_test[:m], ds.y_test[:m]), "mnist"


def run_case(case: Case, data: Data, sizes: Sizes, bar) -> dict:
    """Compile times, then every system and the floor in interleaved rounds."""
    ctx = case.prepare(data, sizes)
    kept = {name for name in case.systems if sizes.keeps(case.key, name)}
    compiles = {
        name: setup(ctx)
        for name, setup in case.compiles.items()
        if name in kept and sizes.keeps(case.key, "compiles")
    }
    compile_times, compiled = interleaved(compiles, sizes.compile_repeats, warmup=False)
    compile_rows = summarize(compile_times)
    cfg = ctx.config
    floor_run, floor_flops, floor_shapes, floor_hlo = case.floor(ctx)
    systems = {name: setup(ctx) for name, setup in case.systems.items() if name in kept}
    systems["matmul_floor"] = floor_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divergent lrs are part of a sweep
        warm = [name for name in systems if name not in case.cold]
        times, last = interleaved(systems, sizes.repeats, warmup=warm, bar=bar)
    # The floor program's time scaled to the case's FLOPs: the case's floor, per round.
    scale = ctx.scale | {"matmul_floor": ctx.flops / floor_flops}
    rows = summarize(times, reference="softjax", scale=scale)
    floor = rows.pop("matmul_floor")
    hw = hardware_floor(ctx, floor, sizes.hardware_repeats)
    for name, row in rows.items():
        row["cpu_x_hw"] = row["cpu_s"] / hw["cpu_s"]
        if name in compiled:
            row["kernels_per_step"] = kernels_per_step(compiled[name])
        for clock in CLOCKS:
            ts, floor_ts = row[f"{clock}_rounds"], floor[f"{clock}_rounds"]
            row[f"{clock}_x_floor"] = paired_median(ts, floor_ts)
            if name in compile_rows:
                row[f"compile_{clock}_s"] = compile_rows[name][f"{clock}_s"]
                row[f"compile_{clock}_rounds"] = compile_rows[name][f"{clock}_rounds"]
        row["test_accuracy"] = last[name] if isinstance(last[name], float) else None
    floor |= {
        "cpu_x_hw": floor["cpu_s"] / hw["cpu_s"],
        "kernels_per_step": (step_kernels(floor_hlo()) or {}).get("kernels"),
        "gflop": ctx.flops / 1e9,
        "shapes": [list(shape) for shape in floor_shapes],
        "gflops_per_s_wall": ctx.flops / floor["wall_s"] / 1e9,
        "gflops_per_s_cpu": ctx.flops / floor["cpu_s"] / 1e9,
    }
    notes = list(case.notes)
    if not peers.HAVE_TORCH:
        notes.append("torch is not importable here (pip install '.[bench]'): no torch row")
    return {
        "key": case.key,
        "title": case.title,
        "description": case.description,
        "config": cfg.to_dict(),
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "systems": rows,
        "floor": floor,
        "hardware_floor": hw,
        "notes": notes,
    }


def kernels_per_step(compiled) -> int | None:
    """Kernels per step of a compile row's result (:func:`benchmarks.hlo.step_kernels`):
    one compiled program, or the sum over a list of them (one program per loss, each run
    every step); None where a program has no step loop (a Python loop's jitted step)."""
    programs = compiled if isinstance(compiled, list | tuple) else [compiled]
    counts = [step_kernels(p.as_text()) if hasattr(p, "as_text") else None for p in programs]
    if not counts or None in counts:
        return None
    return sum(c["kernels"] for c in counts)


# ----------------------------------------------------------------------- peak memory


def memory_child(case_key: str, system: str, quick: bool, data_dir: str | None) -> dict:
    """Runs one system once in this (fresh) process and reports its peak memory."""
    sizes = QUICK if quick else FULL
    data, _ = load_data(sizes, data_dir, quick)
    if case_key == "sweep_models":
        return growth.memory_child(data, sizes, int(system))
    case = CASES[case_key]
    ctx = case.prepare(data, sizes)
    fn = case.systems[system](ctx)
    baseline = reset_peak_rss()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fn()
    peak = peak_rss()
    out = {"rss_baseline_mib": baseline, "rss_peak_mib": peak, "rss_increase_mib": peak - baseline}
    stats = jax.devices()[0].memory_stats()
    if stats:
        out["device_peak_bytes_in_use"] = stats.get("peak_bytes_in_use")
    return out


def case_memory(sizes: Sizes, args, bar) -> dict:
    """Each system once in a fresh subprocess: the peak RSS its run adds."""
    rows = {}
    pairs = list(sizes.memory_systems)
    if sizes.memory_sweep_models:
        pairs.append(f"sweep_models/{sizes.memory_sweep_models}")
    for pair in pairs:
        case_key, system = pair.split("/")
        if case_key in CASES and system not in CASES[case_key].systems:
            continue  # e.g. torch, where it is not installed
        cmd = [sys.executable, "-m", "benchmarks.run", "--memory-child", case_key, system]
        cmd += ["--quick"] * args.quick + ["--torch-threads", str(args.torch_threads)]
        cmd += ["--data-dir", args.data_dir] if args.data_dir else []
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if proc.returncode:
            rows[pair] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            rows[pair] = json.loads(proc.stdout.strip().splitlines()[-1])
        bar.update(1)
    return {
        "description": "peak memory of one run of each system, each in a fresh process",
        "systems": rows,
        "notes": [
            "rss_baseline_mib: the resident set after imports, data load and setup, where "
            "the kernel's peak-RSS mark (VmHWM) is reset (Linux); rss_peak_mib: VmHWM after "
            "one run, compilation included for JAX; rss_increase_mib: their difference",
            "device_peak_bytes_in_use where the backend reports memory stats (GPU)",
            "sweep_models/N: softjax.sweep() of N softmax-regression models (1 epoch, one "
            "loss) once; x_train_mib and params_mib for scale: N copies of the data would "
            "be N × x_train_mib",
        ],
    }


# ------------------------------------------------------------------------------ main


def output_stem(backend: str, quick: bool) -> str:
    """``benchmarks`` on the CPU, ``benchmarks_<backend>`` elsewhere; ``_quick`` for
    --quick, so that even ``--quick --out results`` never clobbers a full run."""
    return "benchmarks" + ("" if backend == "cpu" else f"_{backend}") + ("_quick" if quick else "")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI-sized, into results/scratch/")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/)")
    parser.add_argument("--redraw", action="store_true", help="rewrite the .md from the JSON")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ raw files")
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="torch intra-op threads (see the README)"
    )
    parser.add_argument(
        "--cases",
        default=None,
        help=f"comma-separated subset of {','.join([*CASES, *EXTRA])} (default: all; with "
        "--quick all but scaling and quick_clock)",
    )
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("CASE", "SYSTEM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.cases is None:
        args.cases = ",".join(k for k in [*CASES, *EXTRA] if not (args.quick and k in FULL_ONLY))
    unknown = set(args.cases.split(",")) - {*CASES, *EXTRA}
    if unknown:
        parser.error(f"--cases: expected names from {[*CASES, *EXTRA]}, got {sorted(unknown)}")
    if args.quick and "quick_clock" in args.cases.split(","):
        parser.error("--cases: quick_clock times a --quick run; expected it without --quick")
    return args


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    # Compile times are measured, so no persistent cache may serve them (children inherit
    # this); the growth curve's warm-cache row uses a folder of its own.
    os.environ["SOFTJAX_COMPILATION_CACHE"] = "off"
    if peers.HAVE_TORCH:
        peers.set_torch_threads(args.torch_threads)
    if args.memory_child:
        print(json.dumps(memory_child(*args.memory_child, args.quick, args.data_dir)))
        return None

    out_dir = args.out or results_dir(scratch=args.quick)
    stem = output_stem(jax.default_backend(), args.quick)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    if args.redraw:
        doc = read_json(json_path)
        atomic_write_text(md_path, markdown(doc))
        if "growth" in doc:
            print(growth.draw(doc["growth"], out_dir / f"{stem}_growth.png"))
        print(md_path)
        return doc

    from tqdm.auto import tqdm

    sizes = QUICK if args.quick else FULL
    wanted = args.cases.split(",")
    data, data_source = load_data(sizes, args.data_dir, args.quick)
    load_start = _load_now()
    total = sizes.repeats * len(set(CASES) & set(wanted))
    total += (len(sizes.memory_systems) + bool(sizes.memory_sweep_models)) * ("memory" in wanted)
    total += len(sizes.growth_models) * ("growth" in wanted)
    total += sizes.scaling[2] * ("scaling" in wanted)
    total += ("study_clock" in wanted) + ("quick_clock" in wanted)
    cases = {}
    started = time.perf_counter()
    with tqdm(total=total, desc="benchmarks", unit="round") as bar:
        for key, case in CASES.items():
            if key in wanted:
                load = _load_now()
                cases[case.name] = run_case(case, data, sizes, bar) | {"load_at_start": load}
        if "memory" in wanted:
            cases["memory"] = case_memory(sizes, args, bar)
        if "scaling" in wanted:
            spec = scaling.scaling_spec(sizes, data_dir_of(args.data_dir))
            cases["scaling"] = scaling.run_scaling(spec, sizes.scaling[2], bar)
        if "study_clock" in wanted:
            committed = REPO / "results"
            clock = study_clock.run_clock(committed, data_dir_of(args.data_dir), args.quick, bar)
            cases["study_clock"] = clock
        if "quick_clock" in wanted:
            extra = ["--data-dir", args.data_dir] if args.data_dir else []
            quick_stem = output_stem(jax.default_backend(), quick=True)  # the child's files
            cases["quick_clock"] = quick_clock.run_quick_clock(extra, quick_stem)
            bar.update(1)
        curve = None
        if "growth" in wanted:
            curve = growth.run_growth(data, sizes, sizes.growth_models, sizes.growth_rounds, bar)
    doc = {
        "backend": jax.default_backend(),
        "quick": args.quick,
        "data": data_source,
        "sizes": dataclasses.asdict(sizes),
        "torch": _torch_version(),
        "load": {"start": load_start, "end": _load_now()},
        "wall_s": time.perf_counter() - started,
        "cases": cases,
    }
    if curve is not None:
        doc["growth"] = curve
    doc["targets"] = targets(doc)
    configs = {
        "single_run": single_config(sizes).to_dict(),
        "mlp": mlp_config(sizes).to_dict(),
        "mlp_sweep_48": mlp_sweep_config(sizes).to_dict(),
    }
    doc["provenance"] = provenance(
        configs | {"sweep_grid": SWEEP_GRID}, seeds=[0], argv=sys.argv, quick=args.quick
    )
    write_json(json_path, doc)
    table = markdown(read_json(json_path))
    atomic_write_text(md_path, table)
    print(table)
    if curve is not None:
        print(growth.draw(curve, out_dir / f"{stem}_growth.png"))
    print(f"wrote {json_path} and {md_path} in {doc['wall_s']:.0f} s")
    return doc


def _torch_version() -> dict | None:
    if not peers.HAVE_TORCH:
        return None
    import torch

    return {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "note": "threads set by --torch-threads; see benchmarks/README.md",
    }


if __name__ == "__main__":
    main()
