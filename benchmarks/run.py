"""``python -m benchmarks.run``: softjax against its peers, every case in one run.

Writes ``results/benchmarks.json`` (``benchmarks_<backend>.json`` off the CPU) and a
README-ready table in the ``.md`` next to it. ``--quick`` runs CI-sized work into
``benchmarks[_<backend>]_quick.*`` so the committed full results are never clobbered.

Method (also in ``benchmarks/README.md``):

* Every system is warmed up once, then the systems of a case run round-robin
  (A, B, C, A, B, C, …) for ``repeats`` rounds, so machine load hits them alike.
* A figure is the median over the rounds. A ratio is the median over rounds of
  ``system time / softjax time`` in the same round, so it is > 1 where softjax is faster.
* Steady state is a call of an already compiled program; compile time is
  ``jax.jit(f).lower(...).compile()`` of a freshly traced function, timed on its own,
  also round-robin.
* Peak memory is measured in a fresh subprocess per system (``--memory-child``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import peers
from softjax.results import atomic_write_text, provenance, read_json, results_dir, write_json
from softjax.training import Data, TrainConfig, init_params, make_train, seed_keys, train

REPO = Path(__file__).resolve().parent.parent

SWEEP_LOSSES = ("cce", "mse", "bce")
SWEEP_LRS = (0.001, 0.01, 0.1, 1.0)
SWEEP_INIT_SCALES = (0.5, 1.0, 2.0, 4.0)

TARGETS_CPU = {
    "single_vs_numpy": 0.8,
    "single_vs_torch": 0.3,
    "single_compile_s": 2.0,
    "sweep_vs_single": 6.0,
    "mlp_vs_matmul_floor": 1.3,
}
TARGETS_GPU = {"mnist_epoch_s": 0.010, "sweep_s": 1.0}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work each case does."""

    n_train: int | None  # None: the whole training set
    n_test: int | None
    epochs: int
    mlp_epochs: int
    repeats: int
    compile_repeats: int
    sweep_subset: int  # sequential runs measured per round, scaled up to 48
    memory_systems: tuple[str, ...]  # "case/system" pairs measured in subprocesses


MEMORY_SYSTEMS = (
    "single/softjax", "single/numpy", "single/jax_python_loop", "single/torch_preloaded",
    "sweep/softjax", "sweep/numpy",
    "mlp/softjax", "mlp/numpy_homework", "mlp/torch_preloaded",
)  # fmt: skip
FULL = Sizes(
    None, None, epochs=5, mlp_epochs=2, repeats=5, compile_repeats=5, sweep_subset=3,
    memory_systems=MEMORY_SYSTEMS,
)  # fmt: skip
# CI only proves that the code runs: 2 rounds, one compile each, one sequential run.
QUICK = Sizes(
    2048, 512, epochs=1, mlp_epochs=1, repeats=2, compile_repeats=1, sweep_subset=1,
    memory_systems=("single/softjax", "single/numpy"),
)  # fmt: skip


# ------------------------------------------------------------------------------ configs


def single_config(sizes: Sizes) -> TrainConfig:
    """Seed 001's MNIST softmax regression: nn.Linear init, SGD lr 0.001, batch 64."""
    return TrainConfig(
        sizes=(784, 10), init="torch_linear", loss="cce", lr=0.001, batch_size=64,
        epochs=sizes.epochs, seed=0,
    )  # fmt: skip


def mlp_config(sizes: Sizes) -> TrainConfig:
    """The homework's 784-400-10 ReLU net without biases, batches in order (seed 004)."""
    return TrainConfig(
        sizes=(784, 400, 10), activations="relu", bias=False, init="fan_out_normal",
        loss="cce", lr=0.2, batch_size=100, epochs=sizes.mlp_epochs, seed=0, shuffle=False,
    )  # fmt: skip


def sweep_grid():
    """The 48 configs: (loss, lr, init_scale) for 3 losses × 4 lrs × 4 init scales."""
    return [(loss, lr, s) for loss in SWEEP_LOSSES for lr in SWEEP_LRS for s in SWEEP_INIT_SCALES]


# ------------------------------------------------------------------------------- timing


def _block(out):
    return jax.block_until_ready(out)


def interleaved(systems: dict[str, Callable[[], object]], repeats: int, bar=None, warmup=True):
    """Times each system ``repeats`` times, round-robin (A, B, C, A, B, C, …).

    Args:
      systems: name -> a call that does the work and blocks until it is done.
      repeats: rounds.
      bar: a tqdm bar to advance once per round.
      warmup: call each system once, untimed, first (not for compile timings, nor for
        calls that compile anyway).

    Returns:
      ``({name: [seconds per round]}, {name: what its last call returned})``.
    """
    if warmup:
        for fn in systems.values():
            fn()
    times = {name: [] for name in systems}
    last = {}
    for _ in range(repeats):
        for name, fn in systems.items():
            start = time.perf_counter()
            last[name] = fn()
            times[name].append(time.perf_counter() - start)
        if bar is not None:
            bar.update(1)
    return times, last


def summarize(times: dict[str, list[float]], reference: str = "softjax") -> dict:
    """Median seconds per system and its ratio to ``reference`` (paired by round)."""
    ref = times[reference]
    return {
        name: {
            "median_s": statistics.median(ts),
            "min_s": min(ts),
            "all_s": ts,
            "ratio_to_softjax": statistics.median(t / r for t, r in zip(ts, ref, strict=True)),
        }
        for name, ts in times.items()
    }


def _load_now():
    return dict(zip(("1min", "5min", "15min"), os.getloadavg(), strict=True))


# --------------------------------------------------------------------------------- data


def load_mnist(sizes: Sizes, data_dir: str | None):
    """MNIST via ``softjax.data`` (IDX reader, no TF); the first rows in quick mode."""
    from softjax.data import load_dataset

    data_dir = data_dir or os.environ.get("SOFTJAX_DATA_DIR") or str(REPO.parent / "shared/data")
    ds = load_dataset("mnist", source="idx", data_dir=data_dir, validation=0)
    return Data(
        ds.x_train[: sizes.n_train], ds.y_train[: sizes.n_train],
        ds.x_test[: sizes.n_test], ds.y_test[: sizes.n_test],
    )  # fmt: skip


def synthetic(sizes: Sizes):
    """MNIST-shaped random data for machines without MNIST (quick mode only)."""
    rng = np.random.default_rng(0)
    n, m = sizes.n_train or 60000, sizes.n_test or 10000
    return Data(
        rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32),
        rng.random((m, 784), dtype=np.float32), rng.integers(0, 10, m).astype(np.int32),
    )  # fmt: skip


# ------------------------------------------------------------------------- the programs


def sweep_program(config: TrainConfig):
    """``fn(params_stack, lr_stack, data_key, data)`` training a stack of models at once.

    Uses ``softjax.sweeping.make_sweep`` when it exists; until then the equivalent
    ``jit(vmap(make_train(config), in_axes=(0, 0, None, None)))``.
    """
    try:
        from softjax.sweeping import make_sweep
    except ImportError:
        return jax.jit(jax.vmap(make_train(config), in_axes=(0, 0, None, None))), "jit(vmap)"
    return jax.jit(make_sweep(config)), "softjax.sweeping.make_sweep"


def sweep_inputs(base: TrainConfig):
    """Per loss: the config, stacked initial params and lrs of its 16 (lr, scale) pairs."""
    init_key, data_key = seed_keys(base.seed)
    groups = []
    for loss in SWEEP_LOSSES:
        cfg = base.replace(loss=loss)
        pairs = [(lr, s) for (l_, lr, s) in sweep_grid() if l_ == loss]
        stack = [init_params(cfg, init_key, init_scale=s) for _, s in pairs]
        params = jax.tree.map(lambda *xs: jnp.stack(xs), *stack)
        lrs = jnp.asarray([lr for lr, _ in pairs], jnp.float32)
        groups.append((cfg, params, lrs))
    return groups, data_key


def softjax_single(config: TrainConfig, data):
    """train_fn's inputs for ``config`` and a function compiling it from a fresh trace."""
    init_key, data_key = seed_keys(config.seed)
    params = init_params(config, init_key)
    lr = jnp.float32(config.lr)
    dev = jax.device_put(data)

    def compile_fresh():
        # make_train builds new closures, so neither the trace nor the compile is cached.
        return jax.jit(make_train(config)).lower(params, lr, data_key, dev).compile()

    return (params, lr, data_key, dev), compile_fresh


# -------------------------------------------------------------------------------- cases


def case_single(data, sizes: Sizes, bar) -> dict:
    """Case 1: one run of seed 001's MNIST config, softjax against three peers."""
    cfg = single_config(sizes)
    args, compile_fresh = softjax_single(cfg, data)
    w0, b0 = (np.asarray(args[0][0][k]) for k in ("w", "b"))
    run_loop, compile_loop = peers.make_jax_python_loop()
    compile_times, compiled = interleaved(
        {"softjax": compile_fresh, "jax_python_loop": lambda: compile_loop(data, cfg.batch_size)},
        sizes.compile_repeats,
        warmup=False,
    )
    compile_times = summarize(compile_times)
    compiled = compiled["softjax"]
    hp = dict(lr=cfg.lr, batch_size=cfg.batch_size, epochs=cfg.epochs, seed=0)
    accuracy = {}

    def softjax_run():
        accuracy["softjax"] = float(_block(compiled(*args))[1]["test_accuracy"][-1])

    def numpy_run():
        accuracy["numpy"] = peers.numpy_softmax_regression(data, w0, b0, **hp)[2]

    def jax_loop_run():
        accuracy["jax_python_loop"] = _block(run_loop(data, w0, b0, **hp))[1]

    systems = {"softjax": softjax_run, "numpy": numpy_run, "jax_python_loop": jax_loop_run}
    notes = []
    if peers.HAVE_TORCH:
        tensors = peers.torch_preload(data)

        def torch_run():
            accuracy["torch_preloaded"] = peers.torch_softmax_regression(tensors, w0, b0, **hp)[1]

        systems["torch_preloaded"] = torch_run
    else:
        notes.append("torch is not importable here: its row is skipped")
    steady = summarize(interleaved(systems, sizes.repeats, bar)[0])
    for name in steady:
        steady[name]["test_accuracy"] = accuracy.get(name)
    return {
        "description": "one run of seed 001's MNIST softmax regression (batch 64, lr 0.001)",
        "config": cfg.to_dict(),
        "n_train": len(data.x_train),
        "steady_state": steady,
        "compile": compile_times,
        "notes": notes
        + [
            "softjax: the compiled train_fn (lax.scan over epochs and batches, on-device "
            "shuffle, per-epoch history and test evaluation); peers keep a running loss "
            "and evaluate the test set every epoch too",
            "jax_python_loop: jitted SGD step per batch from a Python loop over numpy "
            "minibatches; its compile covers both batch shapes and the evaluation",
        ],
    }


def case_sweep(data, sizes: Sizes, bar) -> dict:
    """Case 2: 48 configs as one sweep against 48 sequential train() or numpy runs."""
    base = single_config(sizes)
    groups, data_key = sweep_inputs(base)
    dev = jax.device_put(data)
    programs = [sweep_program(cfg) for cfg, _, _ in groups]
    api = programs[0][1]

    def compile_sweep():
        return [
            sweep_program(cfg)[0].lower(params, lrs, data_key, dev).compile()
            for (cfg, params, lrs) in groups
        ]

    compile_times, compiled = interleaved(
        {"softjax": compile_sweep}, sizes.compile_repeats, warmup=False
    )
    compile_times, compiled = summarize(compile_times), compiled["softjax"]
    single_args, compile_single = softjax_single(base, data)
    single = compile_single()
    # The measured subset: one config per loss, spread over the lrs and scales.
    subset = [
        (SWEEP_LOSSES[i % 3], SWEEP_LRS[i % 4], SWEEP_INIT_SCALES[(i + 1) % 4])
        for i in range(sizes.sweep_subset)
    ]
    scale_up = len(sweep_grid()) / len(subset)
    init_key, _ = seed_keys(base.seed)
    w0, b0 = (np.asarray(init_params(base, init_key)[0][k]) for k in ("w", "b"))

    def sweep_run():
        _block([f(p, lrs, data_key, dev) for f, (_, p, lrs) in zip(compiled, groups, strict=True)])

    def single_run():
        _block(single(*single_args))

    def train_subset():
        for loss, lr, scale in subset:
            train(base.replace(loss=loss, lr=lr, init_scale=scale), data)

    def sweep_call():
        # The public sweep(): traces, compiles and runs its program on every call.
        from softjax.sweeping import sweep

        sweep(base, data, losses=SWEEP_LOSSES, lrs=SWEEP_LRS, init_scales=SWEEP_INIT_SCALES,
              progress=False)  # fmt: skip

    def numpy_subset():
        for loss, lr, scale in subset:
            peers.numpy_softmax_regression(
                data, w0 * scale, b0 * scale, lr=lr, batch_size=base.batch_size,
                epochs=base.epochs, seed=0, loss=loss,
            )  # fmt: skip

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divergent lrs are part of a sweep
        systems = {
            "softjax": sweep_run,
            "softjax_single_run": single_run,
            "train_calls_subset": train_subset,
            "numpy_subset": numpy_subset,
        }
        if api == "softjax.sweeping.make_sweep":
            systems["sweep_call_end_to_end"] = sweep_call
        for name in ("softjax", "softjax_single_run", "numpy_subset"):
            systems[name]()  # warm-up; train() compiles on every call, so it has none
        times, _ = interleaved(systems, sizes.repeats, bar, warmup=False)
    steady = summarize(times)
    for name in ("train_calls_subset", "numpy_subset"):
        row = steady.pop(name)
        est = name.replace("_subset", "_x48_estimated")
        steady[est] = {
            "median_s": row["median_s"] * scale_up,
            "min_s": row["min_s"] * scale_up,
            "all_s": [t * scale_up for t in row["all_s"]],
            "ratio_to_softjax": row["ratio_to_softjax"] * scale_up,
            "measured_runs_per_round": len(subset),
            "measured_median_s": row["median_s"],
            "scaled_by": scale_up,
        }
    sweep_total = steady["softjax"]["median_s"] + compile_times["softjax"]["median_s"]
    return {
        "description": "48 configs (3 losses x 4 lrs x 4 init scales) on seed 001's MNIST "
        "config: one sweep against 48 sequential runs",
        "api": api,
        "grid": {"loss": SWEEP_LOSSES, "lr": SWEEP_LRS, "init_scale": SWEEP_INIT_SCALES},
        "programs": len(groups),
        "config": base.to_dict(),
        "steady_state": steady,
        "compile": compile_times,
        "sweep_compile_plus_run_s": sweep_total,
        "sequential_subset": [list(c) for c in subset],
        "notes": [
            f"the 48 sequential train() and numpy runs are estimated from {len(subset)} "
            f"measured runs per round (one per loss) times {scale_up:g}; train() compiles "
            "on every call, so its figure includes compilation",
            "softjax is steady state: the 3 compiled programs (one per loss, each vmapped "
            "over 16 (lr, init_scale) pairs) with a shared data key",
            "softjax_single_run: one compiled softjax run of the base config, interleaved "
            "in the same rounds, for the sweep-vs-single target",
            "sweep_call_end_to_end: softjax.sweeping.sweep(...) over the same grid, compile "
            "included (its one lax.switch program is traced and compiled on every call)",
        ],
    }


def case_mlp(data, sizes: Sizes, bar) -> dict:
    """Case 3: the homework MLP, softjax against numpy, torch and the matmul floor."""
    cfg = mlp_config(sizes)
    args, compile_fresh = softjax_single(cfg, data)
    w1, w2 = (np.asarray(layer["w"]) for layer in args[0])
    n_batches = len(data.x_train) // cfg.batch_size
    x_batches = jnp.asarray(
        data.x_train[: n_batches * cfg.batch_size].reshape(n_batches, cfg.batch_size, -1)
    )
    floor_args = (x_batches, jnp.asarray(w1), jnp.asarray(w2))
    compile_times, compiled = interleaved(
        {
            "softjax": compile_fresh,
            "matmul_floor": lambda: (
                jax.jit(peers.make_matmul_floor(cfg.epochs)).lower(*floor_args).compile()
            ),
        },
        sizes.compile_repeats,
        warmup=False,
    )
    compile_times = summarize(compile_times)
    compiled, floor_compiled = compiled["softjax"], compiled["matmul_floor"]
    hp = dict(lr=cfg.lr, batch_size=cfg.batch_size, epochs=cfg.epochs)
    accuracy = {}

    def softjax_run():
        accuracy["softjax"] = float(_block(compiled(*args))[1]["test_accuracy"][-1])

    def numpy_run():
        accuracy["numpy_homework"] = peers.numpy_mlp(data, w1, w2, **hp)[2]

    systems = {
        "softjax": softjax_run,
        "numpy_homework": numpy_run,
        "matmul_floor": lambda: _block(floor_compiled(*floor_args)),
    }
    notes = []
    if peers.HAVE_TORCH:
        tensors = peers.torch_preload(data)

        def torch_run():
            accuracy["torch_preloaded"] = peers.torch_mlp(tensors, w1, w2, **hp)[1]

        systems["torch_preloaded"] = torch_run
    else:
        notes.append("torch is not importable here: its row is skipped")
    steady = summarize(interleaved(systems, sizes.repeats, bar)[0])
    for name in steady:
        steady[name]["test_accuracy"] = accuracy.get(name)
    flops = peers.matmul_flops(n_batches * cfg.epochs, cfg.batch_size, cfg.sizes)
    steady["matmul_floor"]["gflops_per_s"] = flops / steady["matmul_floor"]["median_s"] / 1e9
    return {
        "description": "784-400-10 ReLU MLP without biases, batch 100, batches in order "
        "(the homework net, seed 004)",
        "config": cfg.to_dict(),
        "steady_state": steady,
        "compile": compile_times,
        "matmul_flops": flops,
        "softjax_over_floor": 1.0 / steady["matmul_floor"]["ratio_to_softjax"],
        "notes": notes
        + [
            "matmul_floor: the 5 matmuls of each SGD step (forward X W1, Z1 W2; backward "
            "G2 W2^T, Z1^T G2, X^T G1) in a jitted lax.scan over contiguous batches: no "
            "activation, loss, optimizer state or gather",
            "softjax_over_floor = 1 / the floor's paired ratio",
        ],
    }


# ----------------------------------------------------------------------- peak memory


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss() -> float:
    """Resets the kernel's peak-RSS mark to the current RSS and returns it (MiB).

    Loading MNIST briefly holds the decoded and the converted copies, so the process's
    high-water mark is already above what training will use; Linux ≥ 4.0 lets a process
    reset its ``VmHWM`` by writing 5 to ``/proc/self/clear_refs``. Elsewhere this falls
    back to ``ru_maxrss``, which cannot be reset (the increase may then read 0).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mib("VmRSS")
    except OSError:
        return _maxrss_mib()


def _peak_rss() -> float:
    hwm = _status_mib("VmHWM")
    return hwm if hwm is not None else _maxrss_mib()


def _maxrss_mib() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def memory_child(case: str, system: str, quick: bool, data_dir: str | None) -> dict:
    """Runs one system once in this (fresh) process and reports its peak memory."""
    sizes = QUICK if quick else FULL
    try:
        data = load_mnist(sizes, data_dir)
    except (FileNotFoundError, ValueError):
        if not quick:
            raise
        data = synthetic(sizes)
    cfg = {"single": single_config, "sweep": single_config, "mlp": mlp_config}[case](sizes)
    init_key, data_key = seed_keys(cfg.seed)
    params = init_params(cfg, init_key)
    weights = [np.asarray(layer["w"]) for layer in params]
    out: dict = {}
    if system == "softjax" and case == "sweep":
        groups, data_key = sweep_inputs(cfg)
        dev = jax.device_put(data)
        baseline = _reset_peak_rss()
        compiled = [
            sweep_program(c)[0].lower(p, lrs, data_key, dev).compile() for c, p, lrs in groups
        ]
        out["xla_memory_analysis"] = [_memory_analysis(c) for c in compiled]
        _block([c(p, lrs, data_key, dev) for c, (_, p, lrs) in zip(compiled, groups, strict=True)])
    elif system == "softjax":
        lr, dev = jnp.float32(cfg.lr), jax.device_put(data)
        baseline = _reset_peak_rss()
        compiled = jax.jit(make_train(cfg)).lower(params, lr, data_key, dev).compile()
        out["xla_memory_analysis"] = _memory_analysis(compiled)
        _block(compiled(params, lr, data_key, dev))
    elif system == "jax_python_loop":
        run_loop, _ = peers.make_jax_python_loop()
        baseline = _reset_peak_rss()
        _block(run_loop(data, weights[0], np.asarray(params[0]["b"]), lr=cfg.lr,
                        batch_size=cfg.batch_size, epochs=cfg.epochs, seed=0))  # fmt: skip
    elif system == "torch_preloaded":
        tensors = peers.torch_preload(data)
        baseline = _reset_peak_rss()
        if case == "mlp":
            peers.torch_mlp(tensors, *weights, lr=cfg.lr, batch_size=cfg.batch_size,
                            epochs=cfg.epochs)  # fmt: skip
        else:
            peers.torch_softmax_regression(tensors, weights[0], np.asarray(params[0]["b"]),
                                           lr=cfg.lr, batch_size=cfg.batch_size,
                                           epochs=cfg.epochs, seed=0)  # fmt: skip
    elif system in ("numpy", "numpy_homework"):
        baseline = _reset_peak_rss()
        tracemalloc.start()
        if case == "mlp":
            peers.numpy_mlp(data, *weights, lr=cfg.lr, batch_size=cfg.batch_size,
                            epochs=cfg.epochs)  # fmt: skip
        else:
            peers.numpy_softmax_regression(data, weights[0], np.asarray(params[0]["b"]),
                                           lr=cfg.lr, batch_size=cfg.batch_size,
                                           epochs=cfg.epochs, seed=0)  # fmt: skip
        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        raise ValueError(f"system: expected one of {MEMORY_SYSTEMS}, got {case}/{system}")
    peak = _peak_rss()
    stats = jax.devices()[0].memory_stats()
    if stats:
        out["device_peak_bytes_in_use"] = stats.get("peak_bytes_in_use")
    return out | {
        "rss_baseline_mib": baseline,
        "rss_peak_mib": peak,
        "rss_increase_mib": peak - baseline,
    }


def _memory_analysis(compiled) -> dict | None:
    analysis = compiled.memory_analysis()
    if analysis is None:
        return None
    fields = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes",
              "generated_code_size_in_bytes")  # fmt: skip
    return {f: getattr(analysis, f, None) for f in fields}


def case_memory(sizes: Sizes, args, bar) -> dict:
    """Case 4: each system once in a fresh subprocess; peak RSS and allocator stats."""
    rows = {}
    for pair in sizes.memory_systems:
        case, system = pair.split("/")
        if system == "torch_preloaded" and not peers.HAVE_TORCH:
            continue
        cmd = [sys.executable, "-m", "benchmarks.run", "--memory-child", case, system]
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
            "rss_baseline_mib: the resident set after imports, data load and input setup, "
            "where the kernel's peak-RSS mark (VmHWM) is reset (Linux); rss_peak_mib: "
            "VmHWM after one run, compilation included for JAX; rss_increase_mib: their "
            "difference, the peak memory the run itself added",
            "tracemalloc_peak_mib (numpy): the peak of Python-tracked allocations during "
            "the run, numpy arrays included",
            "xla_memory_analysis (softjax): XLA's own accounting of the compiled program's "
            "argument, output and temporary buffers; device_peak_bytes_in_use where the "
            "backend reports memory stats (GPU), absent on CPU",
            "sweep/numpy is one sequential numpy run: 48 of them reuse the same memory",
        ],
    }


# ------------------------------------------------------------------------------ report


def targets(doc: dict) -> list[dict]:
    """The issue's targets for this backend, each with its measured value."""
    cases = doc["cases"]
    rows = []
    if doc["backend"] == "cpu":
        single = cases.get("single_run")
        if single:
            s = single["steady_state"]
            rows.append(_target("single run ≤ 0.8× numpy", 1 / s["numpy"]["ratio_to_softjax"],
                                TARGETS_CPU["single_vs_numpy"], "×"))  # fmt: skip
            if "torch_preloaded" in s:
                rows.append(_target("single run ≤ 0.3× preloaded torch",
                                    1 / s["torch_preloaded"]["ratio_to_softjax"],
                                    TARGETS_CPU["single_vs_torch"], "×"))  # fmt: skip
            rows.append(_target("compile ≤ 2 s", single["compile"]["softjax"]["median_s"],
                                TARGETS_CPU["single_compile_s"], "s"))  # fmt: skip
        sweep = cases.get("sweep_48")
        if sweep:
            ratio = 1 / sweep["steady_state"]["softjax_single_run"]["ratio_to_softjax"]
            rows.append(_target("48-config sweep ≤ 6× one run", ratio,
                                TARGETS_CPU["sweep_vs_single"], "×"))  # fmt: skip
        mlp = cases.get("mlp")
        if mlp:
            rows.append(_target("MLP ≤ 1.3× matmul floor", mlp["softjax_over_floor"],
                                TARGETS_CPU["mlp_vs_matmul_floor"], "×"))  # fmt: skip
    else:
        single = cases.get("single_run")
        if single:
            epoch = single["steady_state"]["softjax"]["median_s"] / single["config"]["epochs"]
            rows.append(_target("MNIST epoch at batch 64 ≤ 10 ms", epoch,
                                TARGETS_GPU["mnist_epoch_s"], "s"))  # fmt: skip
        sweep = cases.get("sweep_48")
        if sweep:
            seconds = sweep["steady_state"]["softjax"]["median_s"]
            rows.append(_target("48-config sweep ≤ 1 s", seconds, TARGETS_GPU["sweep_s"], "s"))
    return rows


def _target(name, measured, limit, unit):
    return {"target": name, "measured": measured, "limit": limit, "unit": unit,
            "met": bool(measured <= limit)}  # fmt: skip


def markdown(doc: dict) -> str:
    """The README table: steady state, ratio, compile and peak memory per system."""
    prov = doc["provenance"]
    lines = [
        f"Measured by `python -m benchmarks.run{' --quick' if doc['quick'] else ''}` on "
        f"{prov['device']['backend']} ({prov['device']['processor']}, "
        f"{prov['device']['cpu_count']} cores), commit `{(prov['git_commit'] or '?')[:12]}`, "
        f"load average {doc['load']['start']['1min']:.1f} → {doc['load']['end']['1min']:.1f}. "
        f"Medians of {doc['sizes']['repeats']} interleaved rounds; × softjax is the median "
        "per-round ratio (> 1: softjax is faster).",
        "",
        "| case | system | steady state (s) | × softjax | compile (s) | peak RSS added (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    memory = doc["cases"].get("memory", {}).get("systems", {})
    mem_case = {"single_run": "single", "sweep_48": "sweep", "mlp": "mlp"}
    mem_name = {"train_calls_x48_estimated": None, "numpy_x48_estimated": "numpy"}
    for case, title in (("single_run", "MNIST softmax regression, 1 run"),
                        ("sweep_48", "48-config sweep"), ("mlp", "MLP 784-400-10")):  # fmt: skip
        block = doc["cases"].get(case)
        if not block:
            continue
        for name, row in block["steady_state"].items():
            comp = block["compile"].get(name, {}).get("median_s")
            mem = memory.get(f"{mem_case[case]}/{mem_name.get(name, name)}", {})
            lines.append(
                f"| {title} | {name} | {row['median_s']:.3f} | {row['ratio_to_softjax']:.2f} | "
                f"{'' if comp is None else f'{comp:.2f}'} | "
                f"{_fmt(mem.get('rss_increase_mib'))} |"
            )
    lines += ["", "| target | measured | limit | met |", "| --- | ---: | ---: | :-: |"]
    for t in doc["targets"]:
        lines.append(
            f"| {t['target']} | {t['measured']:.3g}{t['unit']} | {t['limit']:g}{t['unit']} | "
            f"{'yes' if t['met'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(x):
    return "" if x is None else f"{x:.0f}"


# -------------------------------------------------------------------------------- main


def output_stem(backend: str, quick: bool) -> str:
    """``benchmarks`` on CPU, ``benchmarks_<backend>`` elsewhere; ``_quick`` for --quick."""
    return "benchmarks" + ("" if backend == "cpu" else f"_{backend}") + ("_quick" if quick else "")


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI-sized: tiny data, few repeats")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/)")
    parser.add_argument("--redraw", action="store_true", help="rewrite the .md from the JSON")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ raw files")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (default 1: see the README)")  # fmt: skip
    parser.add_argument("--cases", default="single,sweep,mlp,memory",
                        help="comma-separated subset of single,sweep,mlp,memory")  # fmt: skip
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("CASE", "SYSTEM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

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
        print(md_path)
        return doc

    from tqdm.auto import tqdm

    sizes = QUICK if args.quick else FULL
    wanted = args.cases.split(",")
    data_source = "mnist"
    try:
        data = load_mnist(sizes, args.data_dir)
    except (FileNotFoundError, ValueError):
        if not args.quick:
            raise
        data, data_source = synthetic(sizes), "synthetic (MNIST not found)"
    load_start = _load_now()
    n_memory = len(sizes.memory_systems)
    total = sizes.repeats * len({"single", "sweep", "mlp"} & set(wanted))
    total += n_memory * ("memory" in wanted)
    cases = {}
    started = time.perf_counter()
    with tqdm(total=total, desc="benchmarks", unit="round") as bar:
        for key, name, fn in (
            ("single", "single_run", case_single),
            ("sweep", "sweep_48", case_sweep),
            ("mlp", "mlp", case_mlp),
        ):
            if key in wanted:
                load = _load_now()
                cases[name] = fn(data, sizes, bar) | {"load_at_start": load}
        if "memory" in wanted:
            cases["memory"] = case_memory(sizes, args, bar)
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
    doc["targets"] = targets(doc)
    doc["provenance"] = provenance(
        {"single_run": single_config(sizes).to_dict(), "mlp": mlp_config(sizes).to_dict(),
         "sweep_grid": sweep_grid()},
        seeds=[0], argv=sys.argv, quick=args.quick,
    )  # fmt: skip
    write_json(json_path, doc)
    table = markdown(read_json(json_path))
    atomic_write_text(md_path, table)
    print(table)
    print(f"wrote {json_path} and {md_path} in {doc['wall_s']:.0f} s")
    return doc


def _torch_version():
    if not peers.HAVE_TORCH:
        return None
    import torch

    return {"version": torch.__version__, "threads": torch.get_num_threads(), "device": "cpu",
            "note": "threads set by --torch-threads; see benchmarks/README.md"}  # fmt: skip


if __name__ == "__main__":
    main()
