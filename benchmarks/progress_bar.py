"""``python -m benchmarks.progress_bar``: what a per-epoch progress bar costs a training run.

Reproduces the measurement in ``benchmarks/README.md`` ("Progress bar"). Three ways to
run seed 001's MNIST softmax regression (784-10, nn.Linear init, CCE, SGD lr 0.001,
batch 64, shuffled, 5 epochs; MNIST read with ``source="idx"``):

* ``callback``: ``make_train(config, progress=bar)``, one compiled program whose
  ``lax.scan`` over epochs calls the host bar through ``jax.debug.callback`` (what
  ``softjax.train(..., progress=True)`` does);
* ``chunked``: ``make_train(config.replace(epochs=1))`` jitted once and called once per
  epoch, threading the params, with the bar updated on the host between calls;
* ``none``: ``make_train(config)``, one compiled program and no bar.

The bar is ``softjax.training._ProgressBar`` itself, doing its per-epoch work (one
``update`` and a ``set_postfix`` of the epoch's loss and test accuracy) but writing to
``os.devnull``, so the figure is the cost of feeding a bar, not of a terminal drawing it.

About ``chunked``: each call of a one-epoch ``train_fn`` initialises a fresh optimizer
state from the params it is given. For this config (plain SGD, no momentum) that state
holds only the learning rate and a step count no schedule reads, so nothing is lost; for
Adam or momentum the chunked variant would restart the optimizer every epoch and be a
timing proxy only. Its epochs also draw their minibatch orders from
``fold_in(data_key, epoch)`` as the data key (the one-epoch program always sees epoch 0),
so its params differ from the other two's, which are bitwise equal; the JSON records both.

Method, as in ``benchmarks/timing.py``: after one untimed warm-up call each, the variants run
round-robin for ``rounds`` rounds (the order rotating every round, so none always runs
first after another's work), and a figure is the median over rounds. Run time is a call of
an already compiled program until ``jax.block_until_ready`` and ``jax.effects_barrier``
(so every callback has run); compile time is ``jax.jit(f).lower(...).compile()`` of a
freshly built ``train_fn`` (``make_train`` makes new closures, so no cache hits), timed
apart, also round-robin. Both are taken as wall time (``time.perf_counter``) and as this
process's CPU time over all threads (``time.process_time``).

Run::

    python -m benchmarks.progress_bar            # results/progress_bar.json, ~2 min
    python -m benchmarks.progress_bar --quick    # 2000 images, 2 epochs: *_quick.json

On 2 shared CPU cores the 15 compiles (2-5 s each) dominate both; --quick took 77 s.
    python -m benchmarks.progress_bar --out /tmp/pb
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import paired_median, timed
from softjax.data import load_dataset
from softjax.results import provenance, results_dir, write_json
from softjax.training import TrainConfig, _ProgressBar, init_params, make_train, seed_keys, validate

# Seed 001's PyTorch MNIST config (experiments/reproduce/claims.py's SEED_MNIST).
CONFIG = TrainConfig(
    sizes=(784, 10), init="torch_linear", loss="cce", lr=0.001, batch_size=64, epochs=5
)
VARIANTS = ("callback", "chunked", "none")
FULL = {"rounds": 5, "train_size": None, "epochs": CONFIG.epochs}
QUICK = {"rounds": 5, "train_size": 2000, "epochs": 2}


class _NullBar(_ProgressBar):
    """``train``'s own progress bar, doing its per-epoch work but drawn to /dev/null."""

    def __init__(self, total: int):
        self._sink = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        super().__init__(total, "", file=self._sink, leave=False)

    def close(self):
        super().close()
        self._sink.close()


class Variant:
    """One way to run the config: ``compile()`` a fresh program, ``run()`` it once."""

    def __init__(self, name: str, config: TrainConfig, args: tuple):
        self.name, self.config, self.args = name, config, args
        self.compiled = None

    def _train_fn(self, bar):
        if self.name == "callback":
            return make_train(self.config, progress=bar)
        if self.name == "chunked":
            return make_train(self.config.replace(epochs=1))
        return make_train(self.config)

    def compile(self, bar) -> None:
        # Fresh closures from make_train, so neither the trace nor the compile cache hits.
        self.compiled = jax.jit(self._train_fn(bar)).lower(*self.args).compile()

    def run(self, bar):
        params, lr, data_key, data = self.args
        if self.name != "chunked":
            out = jax.block_until_ready(self.compiled(params, lr, data_key, data))
            jax.effects_barrier()  # every debug callback has run
            return out[0]
        for epoch in range(self.config.epochs):
            key = jax.random.fold_in(data_key, epoch)
            params, history, _ = self.compiled(params, lr, key, data)
            # The host bar needs the epoch's metrics: this sync is part of chunking's cost.
            bar(epoch, {k: v[0] for k, v in jax.device_get(history).items()})
        return jax.block_until_ready(params)


def measure(config: TrainConfig, data, rounds: int) -> tuple[dict, dict]:
    """Compile and run times of every variant, ``rounds`` rounds each, interleaved."""
    init_key, data_key = seed_keys(config.seed)
    params = init_params(config, init_key)
    args = (params, jnp.asarray(config.lr, jnp.float32), data_key, jax.device_put(data))
    variants = [Variant(name, config, args) for name in VARIANTS]
    times = {
        v.name: {k: [] for k in ("compile_wall_s", "compile_cpu_s", "run_wall_s", "run_cpu_s")}
        for v in variants
    }
    bars = {v.name: _NullBar(config.epochs) for v in variants if v.name != "none"}
    try:
        # Plain lines, not an outer tqdm bar: the live null bars hold tqdm's first screen
        # positions, so another bar would be drawn below them with cursor escapes.
        for r in range(rounds):
            print(f"compile round {r + 1}/{rounds}", file=sys.stderr)
            for v in variants[r % 3 :] + variants[: r % 3]:
                _, wall, cpu = timed(lambda v=v: v.compile(bars.get(v.name)))
                times[v.name]["compile_wall_s"].append(wall)
                times[v.name]["compile_cpu_s"].append(cpu)
        final = {v.name: v.run(bars.get(v.name)) for v in variants}  # untimed warm-up
        for r in range(rounds):
            print(f"run round {r + 1}/{rounds}", file=sys.stderr)
            for v in variants[r % 3 :] + variants[: r % 3]:
                final[v.name], wall, cpu = timed(lambda v=v: v.run(bars.get(v.name)))
                times[v.name]["run_wall_s"].append(wall)
                times[v.name]["run_cpu_s"].append(cpu)
    finally:
        for bar in bars.values():
            bar.close()
    same = {
        name: all(
            np.array_equal(a, b)
            for a, b in zip(
                jax.tree.leaves(final[name]), jax.tree.leaves(final["none"]), strict=True
            )
        )
        for name in VARIANTS
    }
    return times, same


def summarize(times: dict) -> dict:
    """Median per variant and measure, and the median paired ratio to ``none`` per round."""
    out = {}
    for name, per in times.items():
        out[name] = {f"median_{k}": statistics.median(v) for k, v in per.items()}
        for k in ("run_wall_s", "run_cpu_s"):
            out[name][f"median_{k}_vs_none"] = paired_median(per[k], times["none"][k])
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2000 images, 2 epochs")
    parser.add_argument("--out", type=Path, default=None, help="output folder (results/)")
    parser.add_argument("--data-dir", default=None, help="raw MNIST folder ($SOFTJAX_DATA_DIR)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds: expected an int ≥ 1, got {args.rounds}")
    return args


def main(argv=None) -> Path:
    args = parse_args(argv)
    mode = dict(QUICK if args.quick else FULL)
    if args.rounds is not None:
        mode["rounds"] = args.rounds
    config = CONFIG.replace(epochs=mode["epochs"])
    data = load_dataset("mnist", source="idx", data_dir=args.data_dir, validation=0)
    if mode["train_size"] is not None:
        data = data._replace(
            x_train=data.x_train[: mode["train_size"]], y_train=data.y_train[: mode["train_size"]]
        )
    data = validate(config, data)
    start = time.perf_counter()
    times, same = measure(config, data, mode["rounds"])
    # As benchmarks/run.py: the backend in the name off the CPU, _quick for --quick, so
    # neither overwrites the committed CPU figures.
    backend = jax.default_backend()
    stem = "progress_bar" + ("" if backend == "cpu" else f"_{backend}")
    stem += "_quick" if args.quick else ""
    out_dir = Path(args.out) if args.out is not None else results_dir(scratch=args.quick)
    doc = {
        "provenance": provenance(
            {
                "train_config": config.to_dict(),
                "dataset": "mnist",
                "source": "idx",
                "train_size": int(data.x_train.shape[0]),
                "test_size": int(data.x_test.shape[0]),
                "rounds": mode["rounds"],
                "variants": list(VARIANTS),
                "quick": args.quick,
            },
            seeds=[config.seed],
            argv=sys.argv,
        ),
        "summary": summarize(times),
        "times": times,
        "same_params_as_none": same,
        "notes": [
            "chunked: each one-epoch call starts a fresh optimizer state; for plain SGD that "
            "state holds only the lr and an unused step count, so this is a faithful "
            "implementation here, a timing proxy only for stateful optimizers.",
            "chunked: its epochs' minibatch orders come from fold_in(data_key, epoch), so "
            "its params differ from callback's and none's (which are bitwise equal).",
            "The bar writes to os.devnull: the cost of feeding it, not of drawing it.",
        ],
        "wall_s": time.perf_counter() - start,
    }
    path = write_json(out_dir / f"{stem}.json", doc)
    print(f"{'variant':<9} {'run wall':>9} {'run CPU':>9} {'compile wall':>13} {'compile CPU':>12}")
    for name, s in doc["summary"].items():
        print(
            f"{name:<9} {s['median_run_wall_s']:>8.3f}s {s['median_run_cpu_s']:>8.3f}s "
            f"{s['median_compile_wall_s']:>12.3f}s {s['median_compile_cpu_s']:>11.3f}s"
        )
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
