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
where most samples start saturated); plain SGD, batch 64. Three arms, each a vmapped
program over lrs × init scales that share minibatches, called once per replicate (replicate
i: init seed i and data-order seed i):

* ``cce``: CCE for all E epochs (CCE continued);
* ``mse``: MSE on the softmax from the start (random init);
* ``cce→mse``: CCE for the first k epochs at CCE's chosen lr, then MSE to epoch E.

All three are one compiled program, ``make_two_phase``: CCE epochs up to a traced switch
epoch, then MSE epochs (``softjax.make_epochs``' ``run_epochs`` with another loss on the
same ``TrainState``: same optimizer state, same epoch counter, same batches). The arms
are the switch at E, 0 and k. CCE's lr is chosen on validation first, then each arm's
MSE lr; at full size each arm's grid is extended while its choice is on an edge
(``softjax.sweeps.adaptive.interior_lr_sweep``); test accuracy is read at the chosen lrs
only. Because ``cce`` and ``cce→mse`` share their first k epochs exactly (same replicate,
same init and minibatches), their per-replicate difference is paired (a paired
t-interval).

Run::

    python -m experiments.golik            # full size: the committed results
    python -m experiments.golik --quick    # smaller, results/scratch/golik_quick.*
    python -m experiments.golik --redraw   # figure and summary from the JSON only
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import cli, lit
from experiments.golik import report as plots
from softjax.sweeps.adaptive import MAX_ROUNDS, interior_lr_sweep
from softjax.sweeps.core import data_key, init_key, init_stack
from softjax.sweeps.stats import t_quantile_975
from softjax.training import TrainConfig, cut_history, make_epochs, param_dtype, validate

STEM = "golik"
SATURATING = {"softmax_regression": 100.0, "mlp": 10.0}
LR_GRIDS = {"cce": [0.01, 0.1, 0.5], "mse": [0.1, 0.5, 2.0]}
BATCH_SIZE, HIDDEN = 64, 100
# Only the full size grows each arm's lr grid while its choice is on an edge; the small
# sizes prove the code (an edge is flagged, not chased).
SIZES = {
    "full": dict(
        train_subset=None,
        epochs=12,
        switch=8,
        seeds=[0, 1, 2, 3, 4],
        lr_index=None,
        max_rounds=MAX_ROUNDS,
    ),
    "quick": dict(
        train_subset=10_000, epochs=4, switch=2, seeds=[0, 1, 2], lr_index=None, max_rounds=0
    ),
    "smoke": dict(train_subset=1000, epochs=2, switch=1, seeds=[0, 1, 2], lr_index=1, max_rounds=0),
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
            row, diverged_epoch = cut_history(
                {k: v[i] for k, v in history.items()}, bool(finite[i])
            )
            records.append(
                {
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
            )
    return records


def _paired(a: list[dict], b: list[dict]) -> dict | None:
    """Mean and 95% t-interval of the per-seed final test accuracy a − b."""
    fa = {r["seed"]: r["history"]["test_accuracy"][-1] for r in a if not r["diverged"]}
    fb = {r["seed"]: r["history"]["test_accuracy"][-1] for r in b if not r["diverged"]}
    d = np.array([fa[s] - fb[s] for s in sorted(set(fa) & set(fb))])
    if len(d) < 2:
        return None
    ci = t_quantile_975(len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return {"mean": float(d.mean()), "ci95": float(ci), "n": len(d)}


def run_model(model: str, data, size: dict) -> dict:
    config = model_config(model, size["epochs"])
    validate(config, data)
    program = make_two_phase(config, config.replace(loss="mse"))
    grids = {
        k: v if size["lr_index"] is None else [v[size["lr_index"]]] for k, v in LR_GRIDS.items()
    }
    scales = [1.0, SATURATING[model]]
    e, k, seeds = size["epochs"], size["switch"], size["seeds"]
    switch_epoch = {"cce": e, "mse": 0, "cce→mse": k}  # cce: the MSE phase is empty
    best_cce: dict = {}

    def train(arms, lrs):
        """Every arm of ``arms`` at ``lrs`` and both scales; the MSE arms' CCE phase (empty
        for ``mse``) runs at CCE's chosen lr of that scale."""
        pairs = [(s, lr) for s in scales for lr in lrs]
        records = []
        for arm in arms:
            lr1s = [lr if arm == "cce" else best_cce[s] or grids["cce"][0] for s, lr in pairs]
            records += _arm(
                program,
                config,
                data,
                arm,
                switch_epoch[arm],
                [s for s, _ in pairs],
                lr1s,
                [lr for _, lr in pairs],
                seeds,
            )
        return records

    def grow(arms, lrs):
        log = functools.partial(print, f"{model}:", flush=True)
        return interior_lr_sweep(train, arms, lrs, max_rounds=size["max_rounds"], log=log)

    cce, lrs_by_arm = grow(["cce"], grids["cce"])
    best_cce.update({r["init_scale"]: r["lr"] for r in lit.best_rows(cce, None)})
    later, mse_grids = grow(["mse", "cce→mse"], grids["mse"])
    lrs_by_arm |= mse_grids
    mse = [r for r in later if r["loss"] == "mse"]
    switched = [r for r in later if r["loss"] == "cce→mse"]
    rows = lit.best_rows(cce + mse + switched, None)
    paired = {}
    for scale in scales:
        sw = lit.find(rows, "cce→mse", scale)
        if sw is None or sw["lr"] is None:
            continue
        mine = [r for r in switched if r["init_scale"] == scale and r["lr"] == sw["lr"]]
        base = [r for r in cce if r["init_scale"] == scale and r["lr"] == best_cce[scale]]
        paired[str(scale)] = _paired(mine, base)
    return {
        "rows": rows,
        "paired_switch_minus_cce": paired,
        "best_cce_lr": best_cce,
        "init_scales": scales,
        "lrs_by_arm": lrs_by_arm,
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
            results[model] = run_model(model, data, size)
            print(
                model,
                [
                    (r["loss"], r["init_scale"], r["lr"], r["final_test_accuracy"])
                    for r in results[model]["rows"]
                ],
                flush=True,
            )
        config = dict(
            size,
            lr_grids=LR_GRIDS,
            saturating_scales=SATURATING,
            hidden=HIDDEN,
            activations="sigmoid",
            batch_size=BATCH_SIZE,
            optimizer="sgd",
            dataset="mnist",
            mode=args.mode,
            lr_extension=lit.LR_EXTENSION,
            replicates=lit.REPLICATES,
        )
        verdicts = [j.to_dict() for j in plots.judgements({"results": results})]
        cli.write(path, config, size["seeds"], {"results": results, "verdicts": verdicts}, start)

    return cli.finish(args, plots, path, out_dir, _run)


if __name__ == "__main__":
    main()
