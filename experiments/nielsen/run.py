"""Experiment: the learning slowdown of the quadratic cost, and cross-entropy's cure.

Nielsen, *Neural Networks and Deep Learning*, ch. 3 "Improving the way neural networks
learn" (2015).

Part 1, one sigmoid neuron: input x = 1, target y = 0, z = wx + b, a = σ(z), gradient
descent with η = 0.15 for 300 epochs, from (w, b) = (0.6, 0.9) (a = 0.82) and from (2, 2)
(a = 0.98), under the quadratic cost C = (y − a)²/2 (``sigmoid_mse``) and the
cross-entropy C = −[y ln a + (1 − y) ln(1 − a)] (``sigmoid_bce``). The four runs are one
``vmap`` over a ``lax.scan`` of 300 steps, in float64. Chapter 3's closed forms:

    quadratic  ∂C/∂w = (a − y) σ′(z) x,   ∂C/∂b = (a − y) σ′(z)   (his eqs. 55–56)
    CE         ∂C/∂w = (a − y) x,         ∂C/∂b = (a − y)          (his eqs. 61–62)

are recorded beside ``jax.grad`` and beside softjax's own closed form (the loss's
``logits_grad`` times x). Nielsen: from (0.6, 0.9) the neuron "rapidly learns" (output
≈ 0.09 after 300 epochs); from (2, 2) "for the first 150 or so learning epochs, the
weights and biases don't change much at all", because σ′(z) is tiny when a ≈ 1; with
cross-entropy the σ′ factor cancels and learning is fastest when the neuron is most wrong.

Part 2, a 784-30-10 sigmoid network on MNIST, quadratic cost vs cross-entropy, both with
Nielsen's "large" init (weights and biases N(0, 1)), SGD with minibatches of 10, 30 epochs,
η = 3.0 (quadratic, ch. 1) and η = 0.5 (cross-entropy, ch. 3), his 50,000/10,000
train/validation split (the raw files' order, last 10,000 held out). He reports 95.42%
(quadratic) and 95.49% (cross-entropy) test accuracy. Each loss's replicates are one
``vmap`` over ``softjax.make_train``; replicate i is init seed i and data-order seed i in
both costs, so :mod:`.analysis` pairs them: the CE − quadratic gap at the epoch chosen on
validation, with its 95% interval and four-way verdict. The η are Nielsen's own (his
claim is about his runs), not searched: an lr search over 30-epoch runs of batch 10
would cost more than this study's share of the literature table's time.

Run::

    python -m experiments.nielsen            # full: 10 replicates × 30 epochs
    python -m experiments.nielsen --quick    # 5,000 rows, 3 epochs, 3 seeds
    python -m experiments.nielsen --redraw   # figures and summary from the JSON only
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
from experiments.nielsen import analysis
from experiments.nielsen import report as plots
from softjax.config import TrainConfig, seed_keys
from softjax.data import load_dataset
from softjax.inputs import validate
from softjax.training import make_train

RESULTS_STEM = "nielsen"
LOSS_PAIR = ("sigmoid_mse", "sigmoid_bce")  # quadratic cost, cross-entropy
NEURON = {"x": 1.0, "y": 0.0, "lr": 0.15, "epochs": 300, "starts": [[0.6, 0.9], [2.0, 2.0]]}
# Nielsen's own numbers (ch. 1 and ch. 3) and his settings.
MNIST_PAPER = {"sigmoid_mse": 95.42, "sigmoid_bce": 95.49}
MNIST_LRS = {"sigmoid_mse": 3.0, "sigmoid_bce": 0.5}
LAYERS = (784, 30, 10)
SIZES = {
    "full": {"train_subset": None, "epochs": 30, "seeds": 10},
    "quick": {"train_subset": 5000, "epochs": 3, "seeds": 3},
    "smoke": {"train_subset": 1000, "epochs": 1, "seeds": 3},
}


def book_grads(loss_index, w, b, x, y):
    """Chapter 3's (∂C/∂w, ∂C/∂b): with σ′(z) for the quadratic cost (index 0), without
    for cross-entropy (index 1)."""
    z = w * x + b
    a = jax.nn.sigmoid(z)
    factor = jnp.where(loss_index == 0, a * (1 - a), 1.0)
    return (a - y) * factor * x, (a - y) * factor


def neuron_cost(loss_index, w, b, x, y):
    """C(w, b) of one sample through softjax's losses, as a (1, 1) logit batch."""
    z = jnp.reshape(w * x + b, (1, 1))
    target = jnp.reshape(y, (1,))
    fns = [softjax.resolve_loss(name).fn for name in LOSS_PAIR]
    return lax.switch(loss_index, [lambda z, f=f: f(z, target) for f in fns], z)


def neuron_run(loss_index, w0, b0, *, x, y, lr, epochs):
    """Gradient descent for ``epochs`` steps; per-epoch values before each step (and the
    cost and output after the last one)."""

    def step(carry, _):
        w, b = carry
        cost, (gw, gb) = jax.value_and_grad(neuron_cost, argnums=(1, 2))(loss_index, w, b, x, y)
        bw, bb = book_grads(loss_index, w, b, x, y)
        z = w * x + b
        a = jax.nn.sigmoid(z)
        # softjax's closed form ∂C/∂z (no autodiff), times ∂z/∂w = x.
        g_z = lax.switch(
            loss_index,
            [
                lambda z, n=n: softjax.resolve_loss(n).logits_grad(
                    jnp.reshape(z, (1, 1)), jnp.reshape(y, (1,))
                )[0, 0]
                for n in LOSS_PAIR
            ],
            z,
        )
        out = {
            "w": w,
            "b": b,
            "cost": cost,
            "output": a,
            "grad_w": gw,
            "grad_b": gb,
            "book_grad_w": bw,
            "book_grad_b": bb,
            "softjax_grad_w": g_z * x,
            # The quadratic cost's gradient without its σ′ factor: CE's form at this a.
            "grad_w_without_sigma_prime": (a - y) * x,
            "grad_w_with_sigma_prime": (a - y) * a * (1 - a) * x,
        }
        return (w - lr * gw, b - lr * gb), out

    (w, b), hist = lax.scan(step, (w0, b0), None, length=epochs)
    hist["final_cost"] = neuron_cost(loss_index, w, b, x, y)
    hist["final_output"] = jax.nn.sigmoid(w * x + b)
    return hist


def run_neuron(spec: dict = NEURON) -> dict:
    """The four runs (2 starts × 2 costs) in one vmapped, jitted program, float64."""
    with jax.enable_x64(True):
        starts = jnp.asarray(spec["starts"], jnp.float64)
        n = len(starts)
        loss_index = jnp.repeat(jnp.arange(len(LOSS_PAIR)), n)
        w0 = jnp.tile(starts[:, 0], len(LOSS_PAIR))
        b0 = jnp.tile(starts[:, 1], len(LOSS_PAIR))
        run = jax.jit(
            jax.vmap(
                lambda i, w, b: neuron_run(
                    i, w, b, x=spec["x"], y=spec["y"], lr=spec["lr"], epochs=spec["epochs"]
                )
            )
        )
        hist = jax.tree.map(np.asarray, run(loss_index, w0, b0))
    runs = []
    for r in range(len(loss_index)):
        one = {k: v[r].tolist() for k, v in hist.items()}
        rel = max(
            float(np.max(np.abs(hist[a][r] - hist[c][r]) / np.abs(hist[c][r])))
            for a, c in (
                ("book_grad_w", "grad_w"),
                ("book_grad_b", "grad_b"),
                ("softjax_grad_w", "grad_w"),
            )
        )
        cost, out = np.asarray(one["cost"] + [one["final_cost"]]), one["output"]
        below = np.nonzero(np.asarray(out + [one["final_output"]]) < 0.5)[0]
        runs.append(
            {
                "loss": LOSS_PAIR[int(loss_index[r])],
                "start": [float(w0[r]), float(b0[r])],
                **one,
                "max_rel_diff_closed_forms_vs_autodiff": rel,
                "epochs_to_output_below_half": int(below[0]) if below.size else None,
                "epochs_to_half_cost": int(np.argmax(cost <= cost[0] / 2))
                if np.any(cost <= cost[0] / 2)
                else None,
            }
        )
    return {"runs": runs}


def nielsen_init(key, sizes=LAYERS, dtype=jnp.float32):
    """Nielsen's ``large_weight_initializer``: every weight and bias N(0, 1)."""
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    return [
        {
            "w": jax.random.normal(keys[2 * i], (m, n), dtype),
            "b": jax.random.normal(keys[2 * i + 1], (n,), dtype),
        }
        for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    ]


def run_mnist(data, epochs: int, seeds: list[int]) -> dict:
    """Each loss at its own η: its seeds as one vmapped ``make_train`` program."""
    out = {}
    for name in LOSS_PAIR:
        config = TrainConfig(
            sizes=LAYERS,
            activations="sigmoid",
            loss=name,
            optimizer="sgd",
            lr=MNIST_LRS[name],
            batch_size=10,
            epochs=epochs,
            shuffle=True,
            diagnostics=False,
        )
        checked = validate(config, data)
        keys = [seed_keys(s) for s in seeds]
        params = jax.vmap(nielsen_init)(jnp.stack([k[0] for k in keys]))
        data_keys = jnp.stack([k[1] for k in keys])
        train = make_train(config, skip_after_divergence=False)
        program = jax.jit(jax.vmap(train, in_axes=(0, None, 0, None)))
        start = time.perf_counter()
        _, history, finite = program(params, config.lr, data_keys, tuple(checked))
        history = {k: np.asarray(v) for k, v in history.items()}
        out[name] = {
            "config": config.to_dict(),
            "seconds": time.perf_counter() - start,
            "finite": np.asarray(finite).tolist(),
            "history": {k: v.tolist() for k, v in history.items()},
        }
        print(
            f"{name}: final test accuracy {100 * history['test_accuracy'][:, -1].mean():.2f}% "
            f"in {out[name]['seconds']:.1f} s",
            flush=True,
        )
    return out


def main(argv=None) -> list[Path]:
    args = cli.parse_args(__doc__, argv)
    mode_name = args.mode
    mode = cli.size(args, SIZES)
    out_dir, results_path = cli.results_path(args, RESULTS_STEM)
    if args.redraw:
        return cli.finish(args, plots, results_path, out_dir, None)
    seeds = list(range(mode["seeds"]))
    config = {
        "mode": mode_name,
        "neuron": NEURON,
        "losses": list(LOSS_PAIR),
        "sizes": list(LAYERS),
        "mnist_lrs": MNIST_LRS,
        "batch_size": 10,
        "epochs": mode["epochs"],
        "init": "N(0, 1) weights and biases (Nielsen's large_weight_initializer)",
        "train_subset": mode["train_subset"],
        "validation": 10000,
        "order": "file",
        "source": args.source,
        "paper_test_accuracy": MNIST_PAPER,
        "replicates": "init seed i and data-order seed i",
        "delta": analysis.DELTA,
        "family": analysis.FAMILY,
        "correction": "Holm",
    }
    start = time.perf_counter()
    doc = {"neuron": run_neuron()}
    data = load_dataset(
        "mnist", source=args.source, data_dir=args.data_dir, order="file", validation=10000
    )
    if mode["train_subset"]:
        n = mode["train_subset"]
        data = data._replace(x_train=data.x_train[:n], y_train=data.y_train[:n])
    doc["mnist"] = run_mnist(data, mode["epochs"], seeds)
    doc["analysis"] = analysis.analyse(doc["mnist"], seeds)
    doc["methods"] = plots.METHODS
    cli.write(results_path, config, seeds, doc, start)
    return cli.draw_figures(plots, results_path, out_dir)


if __name__ == "__main__":
    main()
