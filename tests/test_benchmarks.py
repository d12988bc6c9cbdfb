"""The benchmarks' arithmetic: FLOP counts, the floor program, the paired ratios.

Benchmarks are not tests (nothing is timed here); these check the figures they divide by.
"""

from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.cases import CASES, without_diagnostics
from benchmarks.configs import Sizes
from benchmarks.floors import (
    case_flops,
    floor_system,
    make_floor,
    make_sweep_floor,
    step_flops,
    sweep_floor_shapes,
)
from benchmarks.hlo import step_kernels
from benchmarks.report import markdown, summary, targets
from benchmarks.timing import interleaved, paired_median, summarize
from softjax import TrainConfig


def test_case_flops_match_issue_14():
    # One seed-config run (784-10, batch 64, 5 epochs, test eval each epoch): 10.2 GFLOP;
    # the 48-config sweep: 489 GFLOP.
    one = case_flops(60000, 10000, 64, 5, (784, 10))
    assert one == 5 * (60000 * 4 * 7840 + 10000 * 2 * 7840)
    assert round(one / 1e9, 1) == 10.2
    assert round(48 * one / 1e9) == 489


def test_step_flops_three_matmuls_per_layer_but_the_first_input_gradient():
    b, d, h, k = 100, 784, 400, 10
    assert step_flops(b, (d, h, k)) == 2 * b * (3 * d * h + 3 * h * k) - 2 * b * d * h
    assert step_flops(b, (d, k)) == 2 * 2 * b * d * k


def _assert_xla_counts_the_flops(floor, flops, ws):
    """XLA's cost analysis of ``floor`` on 8 training rows (one step) and 5 test rows is
    ``flops(8, 5)`` up to 10 % (the O(weights) updates)."""
    compiled = floor.lower(jnp.zeros((8, 784)), jnp.zeros((5, 784)), ws).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    counted = flops(8, 5)
    assert counted <= cost["flops"] <= counted * 1.1


@pytest.mark.parametrize("sizes", [(784, 10), (784, 30, 10)])
def test_floor_program_does_the_matmuls_it_counts(sizes):
    # XLA counts a loop body once: with one step per epoch and one epoch, its figure is
    # the program's, up to the O(weights) updates.
    floor, flops = make_floor(sizes, batch=8, epochs=1)
    ws = tuple(jnp.zeros((i, o)) for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    _assert_xla_counts_the_flops(floor, flops, ws)


def test_sweep_floor_counts_a_wide_input_layer_and_per_model_later_layers_by_hand():
    # 2 models of 6-4-3, batch 5, 10 rows (2 steps), 3 test rows, 1 epoch. Per step:
    # X (5,6) @ W1 (6, 2·4) and its ∂W1 = Xᵀ G1: 2·5·6·8 each; per model H (5,4) @ W2 (4,3),
    # ∂W2 and G1 = G2 W2ᵀ: 2·5·4·3 each, ×2 models. Test: 2·3·6·8 + 2·2·3·4·3.
    _, flops = make_sweep_floor((6, 4, 3), models=2, batch=5, epochs=1)
    step = 2 * (2 * 5 * 6 * 8) + 3 * 2 * (2 * 5 * 4 * 3)
    assert step == 1680
    assert flops(10, 3) == 2 * step + 2 * 3 * 6 * 8 + 2 * 2 * 3 * 4 * 3 == 3792
    assert sweep_floor_shapes((6, 4, 3), 2) == [(6, 8), (2, 4, 3)]
    # One-layer models: the wide (d, M·K) floor of the one-layer sweep, FLOPs and values.
    _, wide_flops = make_floor((6, 6), batch=5, epochs=2)
    _, sweep_flops = make_sweep_floor((6, 3), models=2, batch=5, epochs=2)
    assert sweep_flops(10, 3) == wide_flops(10, 3)


def test_one_layer_sweep_floor_is_the_wide_floor():
    rng = np.random.default_rng(0)
    x, x_test = rng.random((10, 6), np.float32), rng.random((3, 6), np.float32)
    w = rng.standard_normal((6, 6)).astype(np.float32)
    wide, _ = make_floor((6, 6), batch=5, epochs=2)
    per_model, _ = make_sweep_floor((6, 3), models=2, batch=5, epochs=2)
    np.testing.assert_allclose(per_model(x, x_test, (w,))[0], wide(x, x_test, (w,))[0], rtol=1e-6)


@pytest.mark.parametrize("sizes", [(784, 10), (784, 30, 10), (784, 20, 12, 10)])
def test_sweep_floor_program_does_the_matmuls_it_counts(sizes):
    floor, flops = make_sweep_floor(sizes, models=3, batch=8, epochs=1)
    ws = tuple(jnp.zeros(s) for s in sweep_floor_shapes(sizes, 3))
    _assert_xla_counts_the_flops(floor, flops, ws)


def test_the_mlp_sweep_case_counts_what_its_floor_counts():
    from benchmarks.floors import sweep_floor
    from benchmarks.report import TARGETS
    from softjax.inputs import Data

    case = CASES["mlp_sweep"]
    assert case.name == "mlp_sweep_48" and case.floor is sweep_floor
    assert {"softjax", "softjax_per_loss_programs"} <= set(case.systems)
    assert any(t.case == "mlp_sweep_48" and t.limit == 2.0 for t in TARGETS["cpu"])
    rng = np.random.default_rng(0)
    data = Data(  # 128 rows: 2 full batches of 64, so no partial batch for the floor to miss
        rng.random((128, 784), np.float32),
        rng.integers(0, 10, 128).astype(np.int32),
        rng.random((16, 784), np.float32),
        rng.integers(0, 10, 16).astype(np.int32),
    )
    sizes = Sizes(128, 16, 1, 1, 1, 1, 1, ())
    ctx = case.prepare(data, sizes)
    assert ctx.config.sizes == (784, 100, 10) and ctx.models == 48
    assert [len(lrs) for _, _, lrs in ctx.groups] == [16, 16, 16]
    _, flops, shapes, _ = case.floor(ctx)
    assert shapes == [(784, 4800), (48, 100, 10)]
    assert flops == ctx.flops == 48 * case_flops(128, 16, 64, 1, (784, 100, 10))


def test_floor_system_runs_and_keeps_shapes():
    run, flops, hlo = floor_system(
        (784, 20), 4, 1, np.ones((9, 784), np.float32), np.ones((3, 784))
    )
    (w,) = run()
    # The floor's step loop: its two products and the update, in a handful of kernels.
    step = step_kernels(hlo())
    assert step["trips"] == 2 and step["by_op"].get("dot", 0) + step["by_op"]["fusion"] >= 2
    assert step["kernels"] <= 8
    assert w.shape == (784, 20)
    assert flops == 2 * (2 * 2 * 4 * 784 * 20) + 2 * 3 * 784 * 20  # 2 steps, 1 test pass


def test_summarize_pairs_rounds_and_scales():
    times = {
        "softjax": {"wall": [1.0, 2.0, 4.0], "cpu": [1.0, 1.0, 1.0]},
        "peer": {"wall": [2.0, 2.0, 2.0], "cpu": [3.0, 3.0, 3.0]},
    }
    rows = summarize(times, reference="softjax", scale={"peer": 2.0})
    assert rows["peer"]["wall_s"] == 4.0
    assert rows["peer"]["wall_vs_softjax"] == 2.0  # per round: 4, 2, 1
    assert rows["peer"]["cpu_vs_softjax"] == 6.0
    assert rows["peer"]["scaled_by"] == 2.0
    assert paired_median([1.0, 9.0, 4.0], [1.0, 3.0, 1.0]) == 3.0


def test_interleaved_runs_round_robin():
    calls = []
    systems = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times, _ = interleaved(systems, 2, warmup=True)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert all(len(times[n][c]) == 2 for n in "ab" for c in ("wall", "cpu"))
    calls.clear()
    interleaved(systems, 1, warmup=["b"])
    assert calls == ["b", "a", "b"]


def test_every_case_has_a_softjax_row_and_compiles_only_known_systems():
    for case in CASES.values():
        assert "softjax" in case.systems
        assert set(case.compiles) <= set(case.systems)
        assert case.cold <= set(case.systems)


def _doc(backend="cpu"):
    row = {"wall_s": 2.0, "cpu_s": 2.5, "wall_x_floor": 1.3, "cpu_x_floor": 1.1, "cpu_x_hw": 2.5}
    floor = {"wall_s": 1.5, "cpu_s": 1.8, "gflop": 10.2, "gflops_per_s_wall": 6.8}
    hw = {"source": "numpy", "step_gflops": 50.0, "peak_gflops": 140.0, "cpu_s": 1.0}
    block = {
        "key": "single",
        "title": "one run",
        "config": {"epochs": 5},
        "floor": floor,
        "hardware_floor": hw,
        "systems": {
            "softjax": row | {"compile_wall_s": 2.0, "test_accuracy": 0.85, "kernels_per_step": 48},
            "make_train_float_data": row | {"cpu_vs_softjax": 1.25},
            "numpy": row | {"test_accuracy": None},
        },
    }
    dev = {"backend": backend, "processor": "x86_64", "cpu_count": 2}
    return {
        "backend": backend,
        "quick": False,
        "sizes": {"repeats": 5},
        "load": {"start": {"1min": 1.0}, "end": {"1min": 2.0}},
        "provenance": {"device": dev, "git_commit": "abc"},
        "cases": {
            "single_run": block,
            "memory": {"systems": {"single/numpy": {"rss_increase_mib": 12.0}}},
        },
    }


def test_targets_are_reported_met_or_not_and_skip_cases_not_run():
    doc = _doc()
    rows = {t["target"]: t for t in targets(doc)}
    # CPU time against both floors: 1.1× the XLA floor, 2.5× the hardware floor.
    assert rows["single run ≤ 1.15× XLA floor (CPU)"]["met"] is True
    assert rows["single run ≤ 1.15× hardware floor (CPU)"]["met"] is False
    assert rows["single run ≤ 25 kernels per step"]["measured"] == 48
    assert rows["single-run compile ≤ 1.5 s"]["met"] is False  # 2.0 s
    assert rows["make_train on float data ≤ 1.1× train()'s path (CPU)"]["met"] is False
    assert not any("sweep" in name or "MLP" in name for name in rows)
    del doc["cases"]["single_run"]["systems"]["make_train_float_data"]
    assert not any("float data" in t["target"] for t in targets(doc))  # a row not run
    (gpu,) = targets(_doc("gpu"))
    assert gpu["measured"] == 2.0 / 5 and gpu["met"] is False


def test_markdown_has_a_row_per_system_and_both_floors():
    doc = _doc()
    doc["targets"] = targets(doc)
    text = markdown(doc)
    assert (
        "| one run | softjax | 2.000 | 2.500 | 1.30 | 1.10 | 2.50 | 48 | 2.00 |  | 85.00 |" in text
    )
    assert "| one run | numpy | 2.000 | 2.500 | 1.30 | 1.10 | 2.50 |  |  | 12 |  |" in text
    assert "*XLA floor* (10.2 GFLOP at 7 GFLOP/s)" in text
    assert "*hardware floor* (numpy; numpy on one thread 50 GFLOP/s per step" in text
    assert "| single run ≤ 1.15× XLA floor (CPU) | 1.1× | 1.15× | yes |" in text
    assert "| single run ≤ 25 kernels per step | 48 kernels | 25 kernels | no |" in text


def test_every_case_times_its_program_without_diagnostics_on_the_same_configs():
    for case in CASES.values():
        assert (
            "softjax_no_diagnostics" in case.systems and "softjax_no_diagnostics" in case.compiles
        )
    ctx = SimpleNamespace(
        config=TrainConfig(sizes=(4, 3)), groups=[(TrainConfig(sizes=(4, 3)), 1, 2)]
    )
    lean = without_diagnostics(ctx)
    assert lean.config == ctx.config.replace(diagnostics=False)
    assert lean.groups == [(ctx.config.replace(diagnostics=False), 1, 2)]
    assert ctx.config.diagnostics  # the case's own context is left as it was


def test_the_summary_reads_the_targets_off_the_rows_without_diagnostics():
    doc = _doc()
    systems = doc["cases"]["single_run"]["systems"]
    doc["targets"] = targets(doc)
    assert "diagnostics=False" not in summary(doc)  # no such row: no sentence
    systems["softjax_no_diagnostics"] = systems["softjax"] | {
        "cpu_x_floor": 1.5,
        "compile_wall_s": 1.25,
        "kernels_per_step": 25,
    }
    text = summary(doc)
    assert "single run ≤ 1.15× XLA floor (CPU): 1.5× (not met)" in text
    assert "single-run compile ≤ 1.5 s: 1.25s (met)" in text
    assert "single run ≤ 25 kernels per step: 25 kernels (met)" in text
    assert "float data" not in text  # the entry-point target reads another row
    # Each target's own rule reads the row: on a GPU, wall time per epoch, not the compile.
    gpu = _doc("gpu")
    gpu["cases"]["single_run"]["systems"]["softjax_no_diagnostics"] = {"wall_s": 0.04}
    gpu["targets"] = targets(gpu)
    assert "MNIST epoch at batch 64 ≤ 10 ms: 0.008s (met)" in summary(gpu)


# ------------------------------------------------------------ the cost-growth curve


def _fake_growth(models=(1, 4)):
    from benchmarks.growth import SYSTEMS

    point = lambda m: {  # noqa: E731
        "models": m,
        "gflop": 0.1 * m,
        "systems": {
            s: {"per_model_ms": 10.0 / m + i, "gflops_per_s": 1.0 + m + i}
            for i, s in enumerate(SYSTEMS)
        },
    }
    return {"n_train": 128, "rounds": 1, "points": [point(m) for m in models]}


def test_the_growth_curve_is_drawn_and_tabled_from_the_json(tmp_path):
    from benchmarks.growth import SYSTEMS, draw
    from benchmarks.growth import markdown as growth_table

    path = draw(_fake_growth(), tmp_path / "growth.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    lines = growth_table(_fake_growth())
    assert lines[1].count("ms/model") == len(SYSTEMS)
    assert lines[3].startswith("| 1 | 10.0 | 2.0 |") and lines[4].startswith("| 4 | 2.5 |")


def test_full_and_quick_sizes_cover_the_curve_and_the_memory_sweep():
    from benchmarks.run import FULL, QUICK, parse_args

    assert FULL.growth_models == (1, 4, 16, 64, 256, 1024)
    assert set(QUICK.growth_models) < set(FULL.growth_models)
    assert FULL.memory_sweep_models == 1000 and QUICK.memory_sweep_models == 100
    assert parse_args(["--cases", "growth,memory"]).cases == "growth,memory"
    assert "scaling" in parse_args([]).cases.split(",")
    assert "scaling" not in parse_args(["--quick"]).cases.split(",")  # CI's 2 minutes
    assert parse_args(["--quick", "--cases", "scaling"]).cases == "scaling"
    assert "quick_clock" in parse_args([]).cases.split(",")  # times a --quick run
    assert "quick_clock" not in parse_args(["--quick"]).cases.split(",")
    with pytest.raises(SystemExit):  # a --quick run cannot time itself
        parse_args(["--quick", "--cases", "quick_clock"])
    # quick leaves out the MLP sweep's per-loss programs and compile rows, not its softjax
    assert QUICK.keeps("mlp_sweep", "softjax") and QUICK.keeps("sweep", "compiles")
    assert not QUICK.keeps("mlp_sweep", "softjax_per_loss_programs")
    assert not QUICK.keeps("mlp_sweep", "compiles")
    assert all(FULL.keeps(key, row) for key in CASES for row in [*CASES[key].systems, "compiles"])


@pytest.mark.slow  # compiles and runs the growth case's sweep program
def test_the_steady_state_row_is_the_sweep_program_and_counts_its_flops():
    import jax

    from benchmarks.growth import _steady, grid, growth_config
    from softjax import sweep
    from softjax.inputs import Data

    rng = np.random.default_rng(0)
    data = Data(
        rng.random((96, 784), np.float32),
        rng.integers(0, 10, 96).astype(np.int32),
        rng.random((32, 784), np.float32),
        rng.integers(0, 10, 32).astype(np.int32),
    )
    sizes = Sizes(
        96,
        32,
        epochs=5,
        mlp_epochs=1,
        repeats=1,
        compile_repeats=1,
        sweep_subset=1,
        memory_systems=(),
    )
    config = growth_config(sizes)
    assert config.epochs == 1 and config.sizes == (784, 10) and config.batch_size == 64
    params, history, finite = _steady(config, data, 3)()
    assert jax.tree.leaves(params)[0].shape[0] == 3 and finite.tolist() == [True] * 3
    records = sweep(config, data, **grid(3), progress=False)
    assert [r["seed"] for r in records] == [0, 1, 2]
    for i, r in enumerate(records):
        np.testing.assert_allclose(history["test_loss"][i], r["history"]["test_loss"], rtol=1e-6)


def test_profile_step_names_each_kernel_with_its_calls_shape_and_jax_op():
    """The profiler's kernels of a tiny scan: the matmul runs once per step, and its HLO
    name maps back to its output shape and the JAX op it came from."""
    import jax

    from benchmarks.profile_step import hlo_ops, profile

    def run(w, x):
        def step(w, _):
            return w - 1e-3 * jnp.tanh(x @ w), None

        return jax.lax.scan(step, w, None, length=7)[0]

    w, x = jnp.ones((32, 8)), jnp.ones((32, 32))
    compiled = jax.jit(run).lower(w, x).compile()
    calls, ns = profile(compiled, w, x)
    ops = hlo_ops(compiled.as_text())
    dots = [k for k in calls if "dot" in ops.get(k, ("", ""))[1]]
    assert dots and all(calls[k] == 7 and ns[k] > 0 for k in dots)
    assert {ops[k][0].split("{")[0] for k in dots} == {"f32[32,8]"}


# ------------------------------------------------ kernels, hardware floor, scale-out


def test_step_kernels_finds_the_step_loop_inside_the_epoch_loop():
    import jax

    def run(w, x):
        def step(w, _):
            return w - 1e-3 * jnp.tanh(x @ w), None

        def epoch(w, _):
            w = jax.lax.scan(step, w, None, length=7)[0]
            return w * jnp.cos(jnp.sum(w)), None  # per epoch, not per step

        return jax.lax.scan(epoch, w, None, length=3)[0]

    w, x = jnp.ones((32, 8)), jnp.ones((32, 32))
    step = step_kernels(jax.jit(run).lower(w, x).compile().as_text())
    assert step["trips"] == 7  # the inner loop, not the epochs' 3
    assert 1 <= step["kernels"] <= 4 and step["kernels"] == sum(step["by_op"].values())
    loopless = jax.jit(lambda w: jnp.tanh(w @ w)).lower(w[:8]).compile().as_text()
    assert step_kernels(loopless) is None


def test_the_hardware_floor_is_the_faster_of_numpy_on_one_thread_and_xla(monkeypatch):
    from benchmarks import hardware

    rates = {"step_gflops": 40.0, "test_gflops": 80.0, "cpu_over_wall": 1.0, "peak_gflops": 1e2}
    monkeypatch.setattr(hardware, "measure", lambda spec, repeats: rates)
    data = SimpleNamespace(x_train=np.zeros((128, 784)), x_test=np.zeros((16, 784)))
    config = TrainConfig(sizes=(784, 10), batch_size=64, epochs=2)
    flops = case_flops(128, 16, 64, 2, (784, 10))
    ctx = SimpleNamespace(config=config, data=data, models=1, flops=flops)
    # 2 epochs of 128 rows (2 products per row) at 40 GFLOP/s and 16 test rows at 80.
    numpy_s = 2 * (128 * 2 * 2 * 7840 / 40e9 + 16 * 2 * 7840 / 80e9)
    hw = hardware.hardware_floor(ctx, {"cpu_s": 1.0})
    assert hw["numpy_s"] == pytest.approx(numpy_s) and hw["source"] == "numpy"
    assert hw["cpu_s"] == hw["numpy_s"] and hw["gflops_per_s"] == pytest.approx(
        flops / numpy_s / 1e9
    )
    hw = hardware.hardware_floor(ctx, {"cpu_s": numpy_s / 2})
    assert hw["source"] == "xla" and hw["cpu_s"] == numpy_s / 2


def test_the_hardware_child_times_the_shapes_on_one_thread():
    from benchmarks.hardware import measure

    out = measure({"sizes": [16, 8, 3], "batch": 4, "models": 2, "n_test": 5}, repeats=2)
    assert out["step_gflops"] > 0 and out["test_gflops"] > 0 and out["peak_gflops"] > 0
    assert out["cpu_over_wall"] <= 1.1  # one thread (and timer noise)


def test_the_scaling_summary_pairs_rounds_and_counts_models_that_differ():
    from benchmarks.scaling import combine, markdown, summarize

    def launch(walls, accuracy, loss, devices=1, keys=(["cce", 0.1, 1.0], ["mse", 0.1, 1.0])):
        reports = [
            {"wall": w, "cpu": [1.0] * len(w), "devices": devices, "accuracy": a, "loss": loss}
            | {"keys": list(keys)[: len(loss)]}
            for w, a in zip(walls, accuracy, strict=True)
        ]
        return combine(reports)

    one = launch([[10.0, 4.0]], [[0.5, 0.6]], [1.0, 2.0])
    assert (one["cold_wall_s"], one["warm_wall_s"], one["warm_cpu_s"]) == (10.0, 4.0, 1.0)
    # Two processes: the slower one's wall time, both CPU times; records from process 0.
    two = launch([[6.0, 2.0], [7.0, 2.5]], [[0.5, 0.7], [0.5, 0.7]], [1.0, 2.1], devices=2)
    assert (two["cold_wall_s"], two["warm_wall_s"], two["warm_cpu_s"]) == (7.0, 2.5, 2.0)
    half = launch([[5.0, 2.0]], [[0.7]], [2.0], keys=[["mse", 0.1, 1.0]])  # the 2nd model only
    rows = summarize({"1_process_1_core": [one], "2_processes": [two], "half": [half]})
    assert rows["2_processes"]["warm_speedup"] == 4.0 / 2.5
    assert rows["2_processes"]["max_abs_accuracy_diff"] == pytest.approx(0.1)
    assert rows["2_processes"]["models_loss_differs"] == 1  # 2.1 against 2.0
    base = rows["1_process_1_core"]
    assert base["warm_speedup"] == 1.0 and base["models_loss_differs"] == 0
    # A half grid is compared with the baseline's same configs.
    assert rows["half"]["models"] == 1 and rows["half"]["warm_speedup"] == 2.0
    assert rows["half"]["models_loss_differs"] == 0
    assert rows["half"]["max_abs_accuracy_diff"] == pytest.approx(0.1)
    spec = {"models": 48, "rows": 2048, "config": {"epochs": 1}}
    lines = markdown({"spec": spec, "arrangements": rows})
    assert any(
        line.startswith("| 2_processes | 2 | 2 | 7.00 | 2.50 | 2.00 | 1.43 | 1.60 |")
        for line in lines
    )


@pytest.mark.slow  # compiles the single run's program on bytes and on floats
def test_the_timed_row_runs_the_compile_rows_executable():
    """A compile row keeps its executable for the timed row (nothing compiles twice);
    the rows without diagnostics and on floats have programs of their own."""
    from softjax.inputs import Data

    rng = np.random.default_rng(0)
    data = Data(
        (rng.integers(0, 256, (96, 784)) / 255).astype(np.float32),
        rng.integers(0, 10, 96).astype(np.int32),
        (rng.integers(0, 256, (16, 784)) / 255).astype(np.float32),
        rng.integers(0, 10, 16).astype(np.int32),
    )
    case = CASES["single"]
    ctx = case.prepare(data, Sizes(96, 16, 1, 1, 1, 1, 1, ()))
    compiled = case.compiles["softjax"](ctx)()
    assert list(ctx.compiled.values()) == [compiled]
    acc = case.systems["softjax"](ctx)()
    assert ctx.compiled == {next(iter(ctx.compiled)): compiled}  # reused, not recompiled
    assert case.systems["make_train_float_data"](ctx)() == acc  # floats: the same numbers
    assert len(ctx.compiled) == 1


@pytest.mark.slow  # starts a process that imports jax and compiles a 48-model sweep
def test_the_scaling_worker_runs_a_sweep_and_reports_it(tmp_path):
    from benchmarks.run import QUICK
    from benchmarks.scaling import launch, scaling_spec

    spec = scaling_spec(QUICK, str(tmp_path / "no-data")) | {"rows": 128, "n_test": 32}
    (report,) = launch(1, 1, spec | {"warm_calls": 1}, tmp_path / "cache", timeout=600)
    assert report["devices"] == 1 and len(report["wall"]) == len(report["cpu"]) == 2
    assert report["data"] == "synthetic (MNIST not found)"  # and says so
    assert len(report["accuracy"]) == len(report["loss"]) == spec["models"] == 48


@pytest.mark.slow  # starts three processes that import jax and compile a 48-model sweep
def test_two_pinned_processes_return_the_one_process_records(tmp_path):
    """The ``2_processes`` arrangement: each process runs its share of the models as the
    one-device program, and the gathered records are the pinned one-process run's
    (2 steps: float rounding is not amplified yet)."""
    from benchmarks.run import QUICK
    from benchmarks.scaling import TOLERANCE, launch, scaling_spec

    spec = scaling_spec(QUICK, str(tmp_path / "no-data")) | {"rows": 128, "n_test": 32}
    (one,) = launch(1, 1, spec, tmp_path / "one", timeout=600, pinned=True)
    local = launch(2, 1, spec, tmp_path / "two", timeout=600, pinned=True)
    for report in local:
        assert report["devices"] == 2 and len(report["loss"]) == 48
        assert report["loss"] == pytest.approx(one["loss"], rel=TOLERANCE)
        assert report["accuracy"] == pytest.approx(one["accuracy"], abs=1e-6)
