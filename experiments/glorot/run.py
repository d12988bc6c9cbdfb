"""Experiment: why deep sigmoid nets train slowly (Glorot & Bengio 2010).

X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward
neural networks", AISTATS 2010.

Part (a), the error surface (their §5, Fig. 5): the cost of a net with one sigmoid hidden
layer as a function of two weights, w₁ = W₁[0, 0] (input 0 → hidden unit 0) and
w₂ = W₂[0, 0] (hidden unit 0 → output 0), every other parameter fixed at its seeded
``torch_linear`` initial value, on seed 001's 3-class blobs (``make_blobs``). The
cross-entropy (``cce``) and the quadratic cost on the softmax outputs (``mse``) and their
gradient norms ‖∂C/∂(w₁, w₂)‖ are computed on the same grid by ONE ``jit(vmap)``
program. Glorot & Bengio: "the plateaus are [...] more pronounced with the quadratic cost";
we measure each surface's plateau fraction, the share of the grid where ‖∇C‖ is below 1%
of its largest value on the grid.

Part (b), activations over training (their §3, Figs. 2–3): an MLP with 5 sigmoid (or
tanh) hidden layers on MNIST (5 × 256, the first ``train_subset`` training images;
validation: the default 5,000-image split; test whole), the "standard" init U[−1/√n,
1/√n] (``torch_linear``), CCE, SGD with minibatches of 10 as theirs. Each activation's
lr is found by :func:`softjax.sweeps.lr_search.search_lrs` on validation accuracy after
``search_epochs`` epochs over the ``search_seeds`` replicates (each round one
:func:`softjax.sweeps.sweep` program; it chooses only among finite, above-chance lrs and
says "no lr trains" when none is). The ``seeds`` replicates (replicate i: init seed i
and data-order seed i for both activations) then train at the chosen lr for ``epochs``
epochs (at least the search's budget; where it is at least 3 × as long the budget rule
says "slows" or "stops", otherwise whether the arm is still improving at the end). Where
no lr trains, the replicates train at the lr of the lowest mean validation loss
(accuracy at chance does not rank lrs), flagged. After every epoch (and at init) each
hidden layer's activations on 300 fixed test images are summarised: mean, standard
deviation, 2/50/98th percentiles and the saturated fraction (within 2% of an end of the
activation's range). Each activation's replicates are one ``vmap`` over a ``lax.scan``
of ``softjax.training.make_epochs``' epochs. :mod:`.analysis` reads each replicate's top
sigmoid layer (the epoch it leaves saturation), the tanh layers, and the paired sigmoid
− tanh differences. Glorot & Bengio (Shapeset-3×2, 5 hidden layers of 1,000 units): with
sigmoid "the last hidden layer quickly saturates to 0" and "slowly desaturates" around
epoch 100 of 20k updates; with tanh, saturation appears layer after layer from the first
one; their Table 1 gives MNIST test errors for 5 hidden layers of 1,000 units, standard
init (:data:`experiments.glorot.report.PAPER_MNIST`).

Run::

    python -m experiments.glorot            # full size: results/glorot.* (see SIZES)
    python -m experiments.glorot --quick    # smaller, results/scratch/, NOT the study
    python -m experiments.glorot --redraw   # figures and summary from the JSON only
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import softjax
from experiments._common import cli, lit
from experiments.glorot import analysis
from experiments.glorot import report as plots
from softjax.activations import resolve_activations
from softjax.config import TrainConfig, init_params, seed_keys
from softjax.data import make_blobs
from softjax.inputs import validate
from softjax.models import forward
from softjax.sweeps import sweep
from softjax.sweeps.lr_search import search_lrs, sweep_evaluator
from softjax.training import make_epochs

STEM = "glorot"
SURFACE_LOSSES = ("cce", "mse")
SURFACE_SIZES = (2, 4, 3)
SURFACE_RANGE = 10.0
PLATEAU_FRACTION = 0.01
ACTIVATIONS = ("sigmoid", "tanh")
PERCENTILES = (2, 50, 98)
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
SATURATION_BAND = 0.02  # share of the activation's range counted as "at an end"
PROBE_SIZE = 300  # Glorot & Bengio's 300 fixed test examples
START = [0.1, 0.316, 1.0, 3.16]
"""Round 0 of each activation's lr search: ×√10 steps (one refinement reaches ~×1.78);
the search spans beyond them while its best lr is on an edge."""
FULL = dict(
    grid=81,
    depth=5,
    width=256,
    train_subset=10000,
    search_epochs=20,
    search_seeds=[0],
    start_lrs=START,
    max_rounds=7,
    epochs=20,
    seeds=list(range(5)),
)
"""The full size. The search's budget is long because this sigmoid net sits at chance for
its first 20,000 updates at lrs 1 and 3.16 (timed trials, replicate 0; on all 55,000 rows
at lr 1 for 27,500), so a shorter search could not tell an lr that trains later from one
that never does; to pay for it the search uses one replicate and the replicates train as
long as the search. About 29
minutes on 2 CPU cores: ≈ 320 model-epochs of search and 200 of replicates, each 1,000
updates of batch 10 at ≈ 3.3 s (the v1 run's rate; timed trials on a shared machine
gave 2.5–4.3 s)."""
SIZES = {
    "full": FULL,
    "quick": FULL
    | dict(
        grid=41,
        width=64,
        train_subset=2000,
        search_epochs=2,
        start_lrs=[0.1, 1.0, 10.0],
        max_rounds=2,
        epochs=6,
        seeds=[0, 1, 2],
    ),
    "smoke": FULL
    | dict(
        grid=21,
        width=32,
        train_subset=500,
        search_epochs=1,
        search_seeds=[0],
        start_lrs=[0.3, 3.0],
        max_rounds=1,
        epochs=2,
        seeds=[0, 1],
    ),
}
BATCH_SIZE = 10
CHANCE = 0.1


def surface(grid_points: int, seed: int = 0) -> dict:
    """Both costs and their gradient norms over the (w₁, w₂) grid, one vmapped program."""
    data = make_blobs(jax.random.PRNGKey(seed))
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    params0 = softjax.mlp_init(jax.random.PRNGKey(seed), SURFACE_SIZES, init="torch_linear")
    acts = resolve_activations("sigmoid", 1)
    losses = [softjax.resolve_loss(n).fn for n in SURFACE_LOSSES]

    def costs(w):
        params = [
            dict(params0[0], w=params0[0]["w"].at[0, 0].set(w[0])),
            dict(params0[1], w=params0[1]["w"].at[0, 0].set(w[1])),
        ]
        logits = forward(params, x, acts)[0][-1]
        return jnp.stack([f(logits, y) for f in losses])

    def point(w1, w2):
        w = jnp.stack([w1, w2])
        value, jac = costs(w), jax.jacfwd(costs)(w)
        return value, jnp.linalg.norm(jac, axis=-1)

    axis = jnp.linspace(-SURFACE_RANGE, SURFACE_RANGE, grid_points)
    w1, w2 = jnp.meshgrid(axis, axis, indexing="ij")
    values, norms = jax.jit(jax.vmap(point))(w1.ravel(), w2.ravel())
    out = {
        "axis": np.asarray(axis).tolist(),
        "init": [float(params0[0]["w"][0, 0]), float(params0[1]["w"][0, 0])],
        "losses": {},
    }
    for i, name in enumerate(SURFACE_LOSSES):
        v = np.asarray(values[:, i]).reshape(grid_points, grid_points)
        g = np.asarray(norms[:, i]).reshape(grid_points, grid_points)
        out["losses"][name] = {
            "value": v.tolist(),
            "grad_norm": g.tolist(),
            "plateau_fraction": float(np.mean(g < PLATEAU_FRACTION * g.max())),
            "value_range": [float(v.min()), float(v.max())],
            "max_grad_norm": float(g.max()),
        }
    return out


def layer_stats(params, probe, acts, activation: str) -> dict:
    """Per hidden layer (stacked on the first axis): mean, std, percentiles, saturated share."""
    hidden = forward(params, probe, acts)[1][1:]
    lo, hi = RANGES[activation]
    band = SATURATION_BAND * (hi - lo)
    a = jnp.stack([h.ravel() for h in hidden])
    return {
        "mean": jnp.mean(a, axis=1),
        "std": jnp.std(a, axis=1),
        "percentiles": jnp.percentile(a, jnp.asarray(PERCENTILES), axis=1).T,
        "saturated": jnp.mean((a < lo + band) | (a > hi - band), axis=1),
        "saturated_low": jnp.mean(a < lo + band, axis=1),
    }


def base_config(activation: str, mode: dict, epochs: int, **kw) -> TrainConfig:
    """The net of part (b): ``depth`` × ``width`` hidden units of ``activation``."""
    return TrainConfig(
        sizes=(784, *([mode["width"]] * mode["depth"]), 10),
        activations=activation,
        init="torch_linear",
        loss="cce",
        optimizer="sgd",
        batch_size=BATCH_SIZE,
        epochs=epochs,
        **kw,
    )


def search(activation: str, data, mode: dict) -> dict:
    """The activation's lr search (module docstring): the search as data, the lr the
    replicates train at, and whether it is the search's choice (``"chosen"``) or, when no
    lr trains, the finite lr of the lowest mean validation loss (``"lowest validation
    loss, no lr trains"``)."""
    records: list[dict] = []
    base = base_config(
        activation, mode, mode["search_epochs"], diagnostics=False, test_each_epoch=False
    )
    evaluate = sweep_evaluator(
        sweep, base, data, replicates=mode["search_seeds"], records=records, progress=False
    )
    found = search_lrs(
        evaluate,
        [("cce", 1.0)],
        chance=CHANCE,
        start=mode["start_lrs"],
        max_rounds=mode["max_rounds"],
        log=lambda line: print(f"{activation}: {line}", flush=True),
    ).as_dict()
    lr, how = found["choices"][0]["lr"], "chosen"
    if lr is None:
        by_lr: dict[float, list] = {}
        for r in records:
            value = None if r["diverged"] else r["history"]["val_loss"][-1]
            by_lr.setdefault(r["lr"], []).append(value)
        finite = {k: sum(v) / len(v) for k, v in by_lr.items() if None not in v}
        lr = min(finite, key=finite.get) if finite else None
        how = "lowest validation loss, no lr trains" if finite else "every lr diverged"
    return {"search": found, "lr": lr, "lr_source": how, "model_epochs": len(records) * base.epochs}


def activation_run(activation: str, data, mode: dict, seeds: list[int], lr: float) -> dict:
    """One activation's replicates at ``lr``: a vmapped scan over epochs, stats after each."""
    config = base_config(activation, mode, mode["epochs"], lr=lr, diagnostics=False)
    checked = tuple(validate(config, data))
    acts = resolve_activations(activation, mode["depth"])
    probe = jnp.asarray(data.x_test[:PROBE_SIZE])
    init_state, run_epochs = make_epochs(config, skip_after_divergence=False)

    def one(params, data_key, checked):
        state = init_state(params, lr, data_key, checked)
        stats0 = layer_stats(params, probe, acts, activation)

        def body(state, _):
            state = run_epochs(state, lr, checked, state.epoch + 1)
            return state, layer_stats(state.params, probe, acts, activation)

        state, stats = lax.scan(body, state, None, length=config.epochs)
        stats = jax.tree.map(lambda s0, s: jnp.concatenate([s0[None], s]), stats0, stats)
        return stats, state.history

    keys = [seed_keys(s) for s in seeds]
    params = jax.vmap(lambda k: init_params(config, k))(jnp.stack([k[0] for k in keys]))
    start = time.perf_counter()
    stats, history = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))(
        params, jnp.stack([k[1] for k in keys]), checked
    )
    stats, history = jax.block_until_ready((stats, history))
    seconds = time.perf_counter() - start
    print(f"{activation}: {seconds:.1f} s", flush=True)
    return {
        "config": config.to_dict(),
        "lr": lr,
        "seconds": seconds,
        # stats[key]: (seeds, epochs + 1, layers[, percentiles]); index 0 is at init.
        "stats": jax.tree.map(lambda v: np.asarray(v).tolist(), stats),
        "history": {k: np.asarray(v).tolist() for k, v in history.items()},
    }


def main(argv=None) -> list[Path]:
    args = cli.parse_args(__doc__, argv)
    mode = cli.size(args, SIZES)
    out_dir, results_path = cli.results_path(args, STEM)

    def _run():
        config = {
            "mode": args.mode,
            **mode,
            "surface_losses": list(SURFACE_LOSSES),
            "surface_sizes": list(SURFACE_SIZES),
            "surface_range": SURFACE_RANGE,
            "plateau_threshold": PLATEAU_FRACTION,
            "activations": list(ACTIVATIONS),
            "batch_size": BATCH_SIZE,
            "chance": CHANCE,
            "replicates": lit.REPLICATES,
            "percentiles": list(PERCENTILES),
            "probe_size": PROBE_SIZE,
            "saturation_band": SATURATION_BAND,
            "source": args.source,
        }
        start = time.perf_counter()
        doc = {"surface": surface(mode["grid"])}
        data = lit.load("mnist", args, mode["train_subset"])
        doc["searches"], doc["activations"] = {}, {}
        for act in ACTIVATIONS:
            t0 = time.perf_counter()
            found = search(act, data, mode)
            found["search_s"] = time.perf_counter() - t0
            doc["searches"][act] = found
            if found["lr"] is not None:
                doc["activations"][act] = activation_run(
                    act, data, mode, mode["seeds"], found["lr"]
                )
        doc["analysis"] = analysis.analyse(doc["activations"], mode["search_epochs"])
        cli.write(results_path, config, mode["seeds"], doc, start)

    return cli.finish(args, plots, results_path, out_dir, _run)


if __name__ == "__main__":
    main()
