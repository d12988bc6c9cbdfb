"""Experiment: cross-entropy first, then squared error (Golik, Doetsch & Ney 2013).

The paper. Golik, Doetsch & Ney, "Cross-Entropy vs. Squared Error Training: a
Theoretical and Experimental Comparison" (Interspeech 2013), train hybrid NN-HMM
acoustic models (sigmoid MLPs with a softmax output) for speech recognition. They report
that squared error (on the softmax outputs) trained from a random init does not reach as
good an optimum as cross-entropy, and that squared error used for a few epochs AFTER
cross-entropy pre-training improves the result slightly.

Our setting. MNIST (55,000 train, the last 5,000 training images as validation, 10,000
test); softmax regression (784-10) and a sigmoid MLP (784-100-10), LeCun-normal init
times an init scale, 1 and a saturating one (100 for softmax regression, 10 for the MLP,
where most samples start saturated); plain SGD, batch 64. Four arms, replicate i being
init seed i and data-order seed i in every arm:

* ``cce``: CCE for all E epochs;
* ``mse``: MSE on the softmax from the start (random init);
* ``cce→mse``: CCE for the first k epochs at CCE's chosen lr, then MSE to epoch E at its
  own lr;
* ``cce→cce``: the control: CCE for the first k epochs at CCE's chosen lr, then CCE to
  epoch E at its own lr, re-tuned exactly as ``cce→mse``'s second phase is, so an
  effective lr change cannot pass for an effect of the loss.

All arms are one compiled program per second loss, ``make_two_phase``: ``first``'s loss
for epochs up to a traced switch epoch, then ``second``'s (``softjax.make_epochs``'
``run_epochs`` with another loss on the same ``TrainState``: same optimizer state, same
epoch counter, same batches); ``cce`` is the switch at E, ``mse`` at 0. Each lr is found
by :func:`softjax.sweeps.lr_search.search_lrs` on the ``search_seeds`` replicates, chosen
on validation among runs above chance: CCE's first (per init scale), then the second
phase's of ``mse``, ``cce→mse`` and ``cce→cce`` together, with CCE's chosen lr in the
first phase. The ``seeds`` replicates then train at the chosen lrs (the search's own runs
serve the search replicates); :mod:`.analysis` pairs them by replicate.

Run::

    python -m experiments.golik            # full size: the committed results
    python -m experiments.golik --quick    # smaller, results/scratch/golik_quick.*
    python -m experiments.golik --redraw   # figure and summary from the JSON only
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import choices, cli, lit
from experiments.golik import analysis
from experiments.golik import report as plots
from softjax.config import TrainConfig, param_dtype
from softjax.history import cut_history
from softjax.inputs import validate
from softjax.sweeps import data_key, init_key, init_stack
from softjax.sweeps.lr_search import search_lrs
from softjax.training import make_epochs

STEM = "golik"
SATURATING = {"softmax_regression": 100.0, "mlp": 10.0}
ARMS = ("cce", "mse", "cce→mse", "cce→cce")
SECOND = {"cce": "mse", "mse": "mse", "cce→mse": "mse", "cce→cce": "cce"}
"""The second phase's loss of each arm's program (``cce`` never reaches it)."""
SWITCHED = ("cce→mse", "cce→cce")
"""The arms whose first k epochs are CCE's at CCE's chosen lr (:func:`make_phases`)."""
START = [0.1, 0.316, 1.0, 3.16]
"""Round 0 of every lr search (×√10 steps); the search spans beyond it to divergence."""
BATCH_SIZE, HIDDEN = 64, 100
PAD = 4
SIZES = {
    "full": dict(
        train_subset=None,
        epochs=12,
        switch=8,
        search_seeds=[0, 1],
        seeds=[0, 1, 2, 3, 4],
        lr_index=None,
        max_rounds=8,
    ),
    "quick": dict(
        train_subset=10_000,
        epochs=4,
        switch=2,
        search_seeds=[0, 1],
        seeds=[0, 1, 2],
        lr_index=None,
        max_rounds=2,
    ),
    "smoke": dict(
        train_subset=1000,
        epochs=2,
        switch=1,
        search_seeds=[0],
        seeds=[0, 1],
        lr_index=1,
        max_rounds=1,
    ),
}


def model_config(model: str, epochs: int) -> TrainConfig:
    sizes = (784, 10) if model == "softmax_regression" else (784, HIDDEN, 10)
    return TrainConfig(
        sizes=sizes, activations="sigmoid", batch_size=BATCH_SIZE, epochs=epochs, loss="cce"
    )


def make_two_phase(first: TrainConfig, second: TrainConfig, *, compiler_options=None):
    """``jit(vmap(fn))``, ``fn(params, lr1, lr2, switch, data_key, data)``: ``first``'s
    loss for epochs [0, switch), ``second``'s for [switch, first.epochs), on one state.

    ``params``, ``lr1`` and ``lr2`` carry the model axis; ``switch`` (a traced int, so one
    compile serves every arm), ``data_key`` and ``data`` are shared. Both configs must
    differ in their loss only (the optimizer state passes from one phase to the next).
    ``compiler_options`` go to ``jax.jit`` (tests compile tiny programs faster).
    """
    if first.replace(loss=second.loss) != second:
        raise ValueError("second: expected first's config with another loss only")
    init, run_first = make_epochs(first, skip_after_divergence=False)
    _, run_second = make_epochs(second, skip_after_divergence=False)

    def fn(params, lr1, lr2, switch, key, data):
        state = run_first(init(params, lr1, key, data), lr1, data, switch)
        state = run_second(state, lr2, data, first.epochs)
        return state.history, state.finite

    vmapped = jax.vmap(fn, in_axes=(0, 0, 0, None, None, None))
    return jax.jit(vmapped, compiler_options=compiler_options)


def make_phases(first: TrainConfig, second: TrainConfig, *, compiler_options=None):
    """The two phases of :func:`make_two_phase` as two programs, so one first phase
    serves every second-phase lr: ``phase1(params, lr1, switch, data_key, data) ->
    states`` and ``phase2(states, lr2, data) -> (history, finite)``, both ``jit(vmap)``
    over the model axis (of ``params``, ``lr1``, ``states`` and ``lr2``);
    ``compiler_options`` as :func:`make_two_phase`'s."""
    if first.replace(loss=second.loss) != second:
        raise ValueError("second: expected first's config with another loss only")
    init, run_first = make_epochs(first, skip_after_divergence=False)
    _, run_second = make_epochs(second, skip_after_divergence=False)

    def one(params, lr1, switch, key, data):
        return run_first(init(params, lr1, key, data), lr1, data, switch)

    def two(state, lr2, data):
        state = run_second(state, lr2, data, first.epochs)
        return state.history, state.finite

    phase1 = jax.vmap(one, in_axes=(0, 0, None, None, None))
    phase2 = jax.vmap(two, in_axes=(0, 0, None))
    return tuple(jax.jit(f, compiler_options=compiler_options) for f in (phase1, phase2))


def _record(arm, scale, a, b, seed, history, finite, i) -> dict:
    """Model ``i`` of one program call as a sweep's record."""
    row, diverged_epoch = cut_history({k: v[i] for k, v in history.items()}, bool(finite[i]))
    return {
        "loss": arm,
        "loss_spec": arm,
        "init_scale": scale,
        "seed": seed,
        "lr": b if arm != "cce" else a,
        "lr_cce": a if arm != "mse" else None,
        "data_seed": seed,
        "diverged": not bool(finite[i]),
        "diverged_epoch": diverged_epoch,
        "history": {k: np.asarray(v).tolist() for k, v in row.items()},
    }


def _arm(program, config, data, arm, switch, scales, lr1s, lr2s, seeds) -> list[dict]:
    """Models = zip(scales, lr1s, lr2s) × replicates ``seeds``; replicate i is init seed i
    and data-order seed i, one ``program`` call per replicate (one compile serves them
    all: the model count is the same). Records as the sweeps write them."""
    models = list(zip(scales, lr1s, lr2s, strict=True))
    dtype = param_dtype(data.x_train)
    lr1 = jnp.asarray([a for _, a, _ in models], dtype)
    lr2 = jnp.asarray([b for _, _, b in models], dtype)
    records = []
    for seed in seeds:
        keys = jnp.stack([init_key(seed)] * len(models))
        params = init_stack(config, keys, jnp.asarray([s for s, _, _ in models], dtype), dtype)
        history, finite = jax.device_get(
            program(params, lr1, lr2, jnp.int32(switch), data_key(seed), tuple(data))
        )
        for i, (scale, a, b) in enumerate(models):
            records.append(_record(arm, scale, a, b, seed, history, finite, i))
    return records


def _score(records) -> float | None:
    """The mean final validation accuracy of one (arm, scale, lr)'s replicates; None
    when one diverged."""
    vals = [None if r["diverged"] else r["history"]["val_accuracy"][-1] for r in records]
    return None if any(v is None for v in vals) else float(np.mean(vals))


def run_model(model: str, data, size: dict) -> dict:
    """One model's lr searches and finals: ``{"search": {...}, "choices", "arms":
    {arm: {scale: {"lr", "lr_cce", "per_seed", "curves"}}}, "model_epochs"}``."""
    config = model_config(model, size["epochs"])
    validate(config, data)
    programs = {loss: make_two_phase(config, config.replace(loss=loss)) for loss in ("mse", "cce")}
    scales = [1.0, SATURATING[model]]
    e, k = size["epochs"], size["switch"]
    switch_epoch = {"cce": e, "mse": 0, "cce→mse": k, "cce→cce": k}
    start = START if size["lr_index"] is None else [START[size["lr_index"]]]
    first_lr: dict[float, float] = {}
    records: list[dict] = []
    cost = {"model_epochs": 0}  # as trained, padding included

    def train(arm, pairs, seeds):
        """``arm`` at ``pairs`` ((scale, lr) of its own phase) × replicates ``seeds``. The
        model count is padded to a multiple of :data:`PAD` (repeating the last pair, its
        copies dropped) so that rounds of similar size reuse one compiled program."""
        n = len(pairs)
        padded = pairs + [pairs[-1]] * (-n % PAD)
        lr1s = [lr if arm == "cce" else first_lr.get(s, lr) for s, lr in padded]
        if arm in SWITCHED:
            got = switched(arm, padded, lr1s, seeds)
            cost["model_epochs"] += len(padded) * len(seeds) * (e - k)
        else:
            cost["model_epochs"] += len(padded) * len(seeds) * e
            got = _arm(
                programs[SECOND[arm]],
                config,
                data,
                arm,
                switch_epoch[arm],
                [s for s, _ in padded],
                lr1s,
                [lr for _, lr in padded],
                seeds,
            )
        got = [r for i, r in enumerate(got) if i % len(padded) < n]
        records.extend(got)
        return got

    phase1, phase2 = make_phases(config, config.replace(loss="mse"))
    phase2 = {"mse": phase2, "cce": make_phases(config, config)[1]}
    firsts: dict = {}
    dtype = param_dtype(data.x_train)

    def switched(arm, pairs, lr1s, seeds):
        """A switched arm: each replicate's first k CCE epochs run once per init scale
        (cached: both switched arms and every round share them), then the second phase
        at each pair's lr from the state of the pair's scale."""
        out = []
        for seed in seeds:
            key = (seed, tuple(first_lr.get(s) for s in scales))
            if key not in firsts:
                keys = jnp.stack([init_key(seed)] * len(scales))
                params = init_stack(config, keys, jnp.asarray(scales, dtype), dtype)
                lr1 = jnp.asarray([first_lr[s] for s in scales], dtype)
                firsts[key] = phase1(params, lr1, jnp.int32(k), data_key(seed), tuple(data))
                cost["model_epochs"] += len(scales) * k
            idx = jnp.asarray([scales.index(s) for s, _ in pairs])
            states = jax.tree.map(lambda x, idx=idx: x[idx], firsts[key])
            lr2 = jnp.asarray([lr for _, lr in pairs], dtype)
            history, finite = jax.device_get(phase2[SECOND[arm]](states, lr2, tuple(data)))
            for i, ((s, b), a) in enumerate(zip(pairs, lr1s, strict=True)):
                out.append(_record(arm, s, a, b, seed, history, finite, i))
        return out

    def evaluate(lrs_by_arm):
        out = {}
        for arm in ARMS:
            pairs = [(s, lr) for (a, s), lrs in lrs_by_arm.items() if a == arm for lr in lrs]
            if pairs:
                got = train(arm, pairs, size["search_seeds"])
                for s, lr in pairs:
                    mine = [r for r in got if (r["init_scale"], r["lr"]) == (s, lr)]
                    out.setdefault((arm, s), {})[lr] = _score(mine)
        return out

    def search(arms):
        log = lambda line: print(f"{model}: {line}", flush=True)  # noqa: E731
        return search_lrs(
            evaluate, arms, chance=0.1, start=start, max_rounds=size["max_rounds"], log=log
        ).as_dict()

    found = {"first": search([("cce", s) for s in scales])}
    lrs = {}
    for c in found["first"]["choices"]:
        arm = tuple(c["arm"])
        lrs[arm] = choices.chosen_lr(c, choices.search_scores(found["first"], list(arm)))
        first_lr[arm[1]] = lrs[arm]
    found["second"] = search([(a, s) for a in ARMS[1:] for s in scales])
    for c in found["second"]["choices"]:
        arm = tuple(c["arm"])
        lrs[arm] = choices.chosen_lr(c, choices.search_scores(found["second"], list(arm)))
    rest = [s for s in size["seeds"] if s not in size["search_seeds"]]
    for arm in ARMS:
        pairs = [(s, lrs[(arm, s)]) for s in scales if lrs.get((arm, s)) is not None]
        if pairs and rest:
            train(arm, pairs, rest)
    arms: dict = {}
    for (arm, s), lr in lrs.items():
        mine = {
            r["seed"]: r
            for r in records
            if (r["loss"], r["init_scale"], r["lr"]) == (arm, s, lr)
            and (arm == "mse" or r["lr_cce"] == (lr if arm == "cce" else first_lr[s]))
        }
        runs = [mine.get(seed) for seed in size["seeds"]]
        arms.setdefault(arm, {})[str(s)] = {
            "lr": lr,
            "lr_cce": None if arm == "mse" else first_lr[s],
            "per_seed": [
                None if r is None or r["diverged"] else r["history"]["test_accuracy"][-1]
                for r in runs
            ],
            "curves": {
                key: [None if r is None else r["history"].get(key) for r in runs]
                for key in ("test_accuracy", "val_accuracy")
            },
        }
    picked = found["first"]["choices"] + found["second"]["choices"]
    return {
        "search": found,
        "choices": picked,
        "arms": arms,
        "init_scales": scales,
        "model_epochs": cost["model_epochs"],
    }


def main(argv=None):
    args = cli.parse_args(__doc__, argv)
    size = cli.size(args, SIZES)
    out_dir, path = cli.results_path(args, STEM)

    def _run():
        start = time.perf_counter()
        data = lit.load("mnist", args, size["train_subset"])
        results = {}
        for model in SATURATING:
            t0 = time.perf_counter()
            results[model] = run_model(model, data, size)
            results[model]["wall_s"] = time.perf_counter() - t0
            print(f"{model}: {results[model]['wall_s']:.0f} s", flush=True)
        config = dict(
            size,
            start_lrs=START,
            saturating_scales=SATURATING,
            hidden=HIDDEN,
            activations="sigmoid",
            batch_size=BATCH_SIZE,
            optimizer="sgd",
            dataset="mnist",
            mode=args.mode,
            lr_search="softjax.sweeps.lr_search.search_lrs on the search replicates",
            replicates=lit.REPLICATES,
            delta=analysis.DELTA,
            correction="Holm",
        )
        found = analysis.analyse(results, size["seeds"])
        body = {
            "results": results,
            "analysis": found,
            "verdicts": [j.to_dict() for j in analysis.judgements(found)],
            "methods": plots.METHODS,
        }
        cli.write(path, config, size["seeds"], body, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
