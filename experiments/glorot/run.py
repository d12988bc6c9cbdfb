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

Part (b), activations over training (their §3, Figs. 2–3): an MLP with 5 sigmoid (or tanh)
hidden layers on MNIST (5 × 256 full), the "standard" init U[−1/√n, 1/√n] (``torch_linear``), CCE,
SGD with minibatches of 10 as theirs. After every epoch (and at init) each hidden
layer's activations on 300 fixed test images are summarised: mean, standard deviation,
2/50/98th percentiles and the saturated fraction (within 2% of an end of the activation's
range). Each activation's seeds are one ``vmap`` over a ``lax.scan`` of
``softjax.training.make_epochs``' epochs. Glorot & Bengio (Shapeset-3×2, 5 hidden layers
of 1,000 units): with sigmoid "the last hidden layer quickly saturates to 0" and "slowly
desaturates" around epoch 100 of 20k updates; with tanh, saturation appears layer after
layer from the first one. Our nets are narrower (256 units) and MNIST is easier.

Run::

    python -m experiments.glorot            # full: 5 × 256, 20 epochs, 3 seeds (see --help)
    python -m experiments.glorot --quick    # 5 × 64, 5,000 rows, 3 epochs, 2 seeds
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
from experiments._common import cli
from experiments.glorot import report as plots
from softjax.activations import resolve_activations
from softjax.data import load_dataset, make_blobs
from softjax.models import forward
from softjax.training import TrainConfig, init_params, make_epochs, seed_keys, validate

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
SIZES = {
    "full": {"grid": 81, "depth": 5, "width": 256, "train_subset": None, "epochs": 20, "seeds": 3},
    "quick": {"grid": 41, "depth": 5, "width": 64, "train_subset": 5000, "epochs": 3, "seeds": 2},
    "smoke": {"grid": 21, "depth": 5, "width": 32, "train_subset": 1000, "epochs": 2, "seeds": 2},
}
LR, BATCH_SIZE = 0.1, 10


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


def activation_run(activation: str, data, mode: dict, seeds: list[int]) -> dict:
    """One activation's seeds: a vmapped scan over epochs, stats after each one."""
    sizes = (784, *([mode["width"]] * mode["depth"]), 10)
    config = TrainConfig(
        sizes=sizes,
        activations=activation,
        init="torch_linear",
        loss="cce",
        optimizer="sgd",
        lr=LR,
        batch_size=BATCH_SIZE,
        epochs=mode["epochs"],
    )
    checked = tuple(validate(config, data))
    acts = resolve_activations(activation, mode["depth"])
    probe = jnp.asarray(data.x_test[:PROBE_SIZE])
    init_state, run_epochs = make_epochs(config, skip_after_divergence=False)

    def one(params, data_key, checked):
        state = init_state(params, LR, data_key, checked)
        stats0 = layer_stats(params, probe, acts, activation)

        def body(state, _):
            state = run_epochs(state, LR, checked, state.epoch + 1)
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
    seconds = time.perf_counter() - start
    print(f"{activation}: {seconds:.1f} s", flush=True)
    return {
        "config": config.to_dict(),
        "seconds": seconds,
        # stats[key]: (seeds, epochs + 1, layers[, percentiles]); index 0 is at init.
        "stats": jax.tree.map(lambda v: np.asarray(v).tolist(), stats),
        "history": {k: np.asarray(v).tolist() for k, v in history.items()},
    }


def main(argv=None) -> list[Path]:
    args = cli.parse_args(__doc__, argv)
    mode_name = args.mode
    mode = cli.size(args, SIZES)
    out_dir, results_path = cli.results_path(args, STEM)
    if args.redraw:
        return cli.finish(args, plots, results_path, out_dir, None)
    seeds = list(range(mode["seeds"]))
    config = {
        "mode": mode_name,
        **mode,
        "surface_losses": list(SURFACE_LOSSES),
        "surface_sizes": list(SURFACE_SIZES),
        "surface_range": SURFACE_RANGE,
        "plateau_threshold": PLATEAU_FRACTION,
        "activations": list(ACTIVATIONS),
        "lr": LR,
        "batch_size": BATCH_SIZE,
        "percentiles": list(PERCENTILES),
        "probe_size": PROBE_SIZE,
        "saturation_band": SATURATION_BAND,
        "source": args.source,
    }
    start = time.perf_counter()
    doc = {"surface": surface(mode["grid"])}
    data = load_dataset("mnist", source=args.source, data_dir=args.data_dir)
    if mode["train_subset"]:
        n = mode["train_subset"]
        data = data._replace(x_train=data.x_train[:n], y_train=data.y_train[:n])
    doc["activations"] = {a: activation_run(a, data, mode, seeds) for a in ACTIVATIONS}
    cli.write(results_path, config, seeds, doc, start)
    return cli.draw_figures(plots, results_path, out_dir)


if __name__ == "__main__":
    main()
