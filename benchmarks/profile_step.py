"""Where a case's training step spends its time: XLA's kernels, one profiled run.

``python -m benchmarks.profile_step --case sweep`` compiles the case's softjax program
(what ``python -m benchmarks.run`` times as ``softjax``) on the first ``--rows`` training
rows, runs it once to warm up, then once under ``jax.profiler``, and prints every XLA
kernel (thunk) of the run with its calls, its time per training step, its output shape
and the JAX operation it came from (the HLO's ``op_name`` metadata). The step count is the
largest call count (the kernels of the batch loop's body run once per step).

Times are thread time: a kernel split over both cores counts both, so the per-step total
can exceed the wall time per step. Read it as a ranking, not a stopwatch: the answer to
"which kernels are worth removing", e.g. the O(K²) ``log1m_softmax`` of BCE on softmax
in a sweep of models trained with BCE.
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

import jax

from benchmarks import cases
from benchmarks.run import FULL, load_data

# Events with an hlo_op stat that hold other kernels rather than being one.
_CONTAINERS = re.compile(r"^(while|conditional|call|scan)(\.\d+)?$")


def program(case: str, rows: int, diagnostics: bool = True):
    """``(jitted fn, args, ctx)``: ``case``'s softjax program on its first ``rows``
    training rows (:func:`benchmarks.cases.softjax_program`), with or without the
    per-step diagnostics (``TrainConfig.diagnostics``)."""
    data, _ = load_data(FULL, None, False)
    data = data._replace(x_train=data.x_train[:rows], y_train=data.y_train[:rows])
    ctx = cases.CASES[case].prepare(data, FULL)
    if not diagnostics:
        ctx = cases.without_diagnostics(ctx)
    fn, args = cases.softjax_program(ctx)
    return jax.jit(fn), args, ctx


def hlo_ops(hlo_text: str) -> dict[str, tuple[str, str]]:
    """HLO instruction name -> (its output shape, the JAX op_name it came from)."""
    ops = {}
    pattern = re.compile(r"^\s*(?:ROOT )?%(\S+) = (\S+) ")
    for line in hlo_text.splitlines():
        m = pattern.match(line)
        if m:
            op = re.search(r'op_name="([^"]*)"', line)
            ops[m.group(1)] = (m.group(2), op.group(1) if op else "")
    return ops


def kernel_times(trace_dir: str) -> tuple[collections.Counter, collections.Counter]:
    """Calls and total thread time (ns) per kernel in the trace under ``trace_dir``."""
    calls, ns = collections.Counter(), collections.Counter()
    for path in Path(trace_dir).rglob("*.xplane.pb"):
        profile = jax.profiler.ProfileData.from_file(str(path))
        for plane in profile.planes:
            for line in plane.lines:
                for event in line.events:
                    stats = dict(event.stats)
                    op = stats.get("hlo_op")
                    if op is None or _CONTAINERS.match(op):
                        continue
                    calls[op] += 1
                    ns[op] += event.duration_ns
    return calls, ns


def profile(compiled, *args) -> tuple[collections.Counter, collections.Counter]:
    """One call of ``compiled(*args)`` under ``jax.profiler``: its kernels' calls and
    thread time (ns)."""
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            jax.block_until_ready(compiled(*args))
        return kernel_times(trace_dir)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(cases.CASES), default="sweep")
    parser.add_argument("--rows", type=int, default=6400, help="training rows (default 6400)")
    parser.add_argument("--top", type=int, default=25, help="kernels to list (default 25)")
    parser.add_argument(
        "--no-diagnostics", action="store_true", help="with TrainConfig(diagnostics=False)"
    )
    args = parser.parse_args(argv)

    fn, fn_args, ctx = program(args.case, args.rows, diagnostics=not args.no_diagnostics)
    compiled = fn.lower(*fn_args).compile()
    jax.block_until_ready(compiled(*fn_args))
    start = time.perf_counter()
    jax.block_until_ready(compiled(*fn_args))
    wall = time.perf_counter() - start
    calls, ns = profile(compiled, *fn_args)
    ops = hlo_ops(compiled.as_text())
    steps = max(calls.values())
    per_step = {k: v / steps / 1e6 for k, v in ns.items() if calls[k] == steps}
    print(
        f"{args.case}: {ctx.models} model(s), {args.rows} rows, {steps} steps; "
        f"unprofiled run {wall:.3f} s ({wall / steps * 1e3:.3f} ms/step wall); "
        f"{len(per_step)} kernels per step, {sum(per_step.values()):.3f} ms/step of "
        f"thread time; once-per-epoch and one-off kernels "
        f"{sum(v for k, v in ns.items() if calls[k] != steps) / steps / 1e6:.3f} ms/step"
    )
    print("\n| kernel | calls | ms/step | shape | from |\n| --- | ---: | ---: | --- | --- |")
    for name, total in ns.most_common(args.top):
        shape, op_name = ops.get(name, ("", ""))
        op_name = op_name.removeprefix("jit(train_fn)/").replace("while/body/", "")
        print(f"| {name} | {calls[name]} | {total / steps / 1e6:.3f} | {shape} | {op_name} |")


if __name__ == "__main__":
    main()
