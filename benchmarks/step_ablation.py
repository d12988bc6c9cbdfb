"""``python -m benchmarks.step_ablation``: what the scanned SGD step's pieces cost on the CPU.

Seed 001's MNIST config (softmax regression 784-10, CCE, SGD lr 0.001, batch 64, shuffled
on the device). Each variant is a stripped-down copy of :func:`softjax.training.make_train`'s
step, so that one piece at a time can be removed or restructured:

* ``softjax_structure``: the step as ``make_train`` builds it: per-step diagnostics
  (accuracy, ‖∂ℓ/∂z‖, saturated-and-wrong), a leaf-by-leaf finite check with selects
  that freeze the params, and the last partial batch;
* ``logits_stored``: each step only stores its logits; every diagnostic is computed once
  per epoch, vectorised over the stored (n, K) logits (same numbers, fewer kernels);
* ``+sum_finite``: the finite check as one reduction, ``isfinite(loss + Σ params)``;
* ``+uint8``: images stored as uint8 and scaled in the step (a quarter of the bytes gathered),
  decoded as :func:`softjax.inputs.features` does (IEEE division, the float32 values bit
  for bit);
* ``+unroll4``: ``lax.scan(..., unroll=4)``;
* ``minimal``: gather, forward, gradient and SGD update only (no metrics, no finite
  check, no last batch): the floor for this structure;
* ``minimal_pregathered``: the same over a contiguous shuffled copy of the data made once
  per epoch, instead of a gather of each batch's rows;
* ``softjax_structure+uint8+pregathered``, ``minimal_pregathered+uint8``: both together,
  what ``make_train`` now does for byte-coded images (:func:`softjax.inputs.compact`);
* ``numpy``: :func:`benchmarks.peers.numpy_softmax_regression`.

Every system runs round-robin for ``--repeats`` rounds after one warm-up; wall time and
process CPU time (less sensitive to other jobs on a shared machine) are both kept.
Writes ``results/step_ablation.json`` (``_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from benchmarks import peers
from benchmarks.timing import interleaved, summarize
from softjax.config import TrainConfig, init_params, seed_keys
from softjax.data import load_dataset
from softjax.evaluation import confidence, predicted_class
from softjax.inputs import BYTE_SCALE, Data, as_data, compact, features
from softjax.losses import LOSSES
from softjax.results import provenance, results_dir, write_json

VARIANTS = {
    "softjax_structure": dict(),
    "logits_stored": dict(diag="logits"),
    "logits_stored+sum_finite": dict(diag="logits", finite="sum"),
    "logits_stored+sum_finite+uint8": dict(diag="logits", finite="sum", u8=True),
    "logits_stored+sum_finite+unroll4": dict(diag="logits", finite="sum", unroll=4),
    "minimal": dict(diag="none", finite="none", keep_last=False),
    "minimal_pregathered": dict(diag="none", finite="none", keep_last=False, pregather=True),
    "softjax_structure+uint8+pregathered": dict(u8=True, pregather=True),
    "minimal_pregathered+uint8": dict(
        diag="none", finite="none", keep_last=False, pregather=True, u8=True
    ),
}


# Only x_scale matters to features(): the codes stand for float32(k) / 255.
CODED = Data(None, None, None, None, x_scale=BYTE_SCALE)


def make_variant(
    epochs,
    batch_size,
    diag="step",
    finite="full",
    u8=False,
    unroll=1,
    keep_last=True,
    pregather=False,
):
    """A ``train_fn(params, lr, key, data)`` for softmax regression with CCE and SGD."""
    loss_fn = LOSSES["cce"]
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)

    def forward(params, x):
        return x @ params[0]["w"] + params[0]["b"]

    def step(carry, xy):
        params, opt_state, ok = carry
        x, y = xy
        if u8:
            x = features(CODED, x)
        n = x.shape[0]
        logits, vjp = jax.vjp(lambda p: forward(p, x), params)
        loss, g = jax.value_and_grad(loss_fn)(logits, y)
        (grads,) = vjp(g)
        updates, new_state = opt.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        if finite == "full":
            leaves = [jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(new_params)]
            ok = ok & jnp.isfinite(loss) & jnp.all(jnp.stack(leaves))
        elif finite == "sum":
            ok = ok & jnp.isfinite(loss + sum(jnp.sum(a) for a in jax.tree.leaves(new_params)))
        if finite != "none":
            new_params = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_params, params)
            new_state = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_state, opt_state)
        if diag == "step":
            wrong = predicted_class(logits) != y
            out = {
                "loss": loss * n,
                "accuracy": jnp.sum(~wrong).astype(jnp.float32),
                "logits_grad_norm": jnp.sum(jnp.linalg.norm(g * n, axis=-1)),
                "saturated_wrong": jnp.sum(wrong & (confidence(logits) > 0.99)).astype(jnp.float32),
            }
        elif diag == "logits":
            out = logits
        else:
            out = {"loss": loss * n}
        return (new_params, new_state, ok), out

    def epoch_diagnostics(logits, y):
        n = logits.shape[0]
        g = jax.grad(loss_fn)(logits, y) * n
        wrong = predicted_class(logits) != y
        return {
            "loss": loss_fn(logits, y) * n,
            "accuracy": jnp.sum(~wrong).astype(jnp.float32),
            "logits_grad_norm": jnp.sum(jnp.linalg.norm(g, axis=-1)),
            "saturated_wrong": jnp.sum(wrong & (confidence(logits) > 0.99)).astype(jnp.float32),
        }

    def train_fn(params, lr, key, data):
        x_train, y_train, x_test, y_test = data
        n = x_train.shape[0]
        n_full = n // batch_size
        opt_state = opt.init(params)
        opt_state.hyperparams["learning_rate"] = lr

        def epoch(carry, e):
            order = jax.random.permutation(jax.random.fold_in(key, e), n)
            idx = order[: n_full * batch_size].reshape(n_full, batch_size)
            if pregather:
                carry, out = lax.scan(step, carry, (x_train[idx], y_train[idx]), unroll=unroll)
            else:
                body = lambda c, i: step(c, (x_train[i], y_train[i]))  # noqa: E731
                carry, out = lax.scan(body, carry, idx, unroll=unroll)
            if diag == "logits":
                metrics = epoch_diagnostics(out.reshape(-1, out.shape[-1]), y_train[idx].ravel())
            else:
                metrics = jax.tree.map(jnp.sum, out)
            if keep_last and n % batch_size:  # a last partial batch exists (static)
                last = order[n_full * batch_size :]
                carry, _ = step(carry, (x_train[last], y_train[last]))
            x = features(CODED, x_test) if u8 else x_test
            metrics["test_accuracy"] = jnp.mean(jnp.argmax(forward(carry[0], x), -1) == y_test)
            return carry, metrics

        (params, _, ok), history = lax.scan(
            epoch, (params, opt_state, jnp.array(True)), jnp.arange(epochs)
        )
        return params, history, ok

    return train_fn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2048 rows, 1 epoch, 2 rounds")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--data-dir", default=None, help="default: $SOFTJAX_DATA_DIR")
    parser.add_argument("--out", default=None, help="folder (default: results/)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 2)
    repeats = args.repeats or (2 if args.quick else 5)
    ds = load_dataset("mnist", source="idx", data_dir=args.data_dir, validation=0)
    if args.quick:
        ds = ds._replace(x_train=ds.x_train[:2048], y_train=ds.y_train[:2048])
    config = TrainConfig(
        sizes=(784, 10),
        init="torch_linear",
        loss="cce",
        lr=0.001,
        batch_size=64,
        epochs=epochs,
        seed=0,
    )
    init_key, data_key = seed_keys(config.seed)
    params = init_params(config, init_key)
    lr = jnp.float32(config.lr)
    data32 = jax.device_put((ds.x_train, ds.y_train, ds.x_test, ds.y_test))
    coded = compact(as_data(ds))
    data8 = jax.device_put((coded.x_train, ds.y_train, coded.x_test, ds.y_test))

    systems, compile_s, check = {}, {}, {}
    for name, kw in VARIANTS.items():
        data = data8 if kw.get("u8") else data32
        t = time.perf_counter()
        compiled = jax.jit(make_variant(epochs, 64, **kw)).lower(params, lr, data_key, data)
        compiled = compiled.compile()
        compile_s[name] = time.perf_counter() - t
        systems[name] = lambda c=compiled, d=data: jax.block_until_ready(c(params, lr, data_key, d))
        _, history, _ = systems[name]()
        check[name] = float(history["test_accuracy"][-1])
    w, b = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    systems["numpy"] = lambda: peers.numpy_softmax_regression(
        ds, w, b, lr=config.lr, batch_size=64, epochs=epochs, seed=0
    )
    systems["numpy"]()
    load = [list(np.round(os.getloadavg(), 2))]
    # The numpy warm-up ran above; the variants warmed up when their accuracy was read.
    times, _ = interleaved(systems, repeats, warmup=False)
    load.append(list(np.round(os.getloadavg(), 2)))
    rows = summarize(times, reference="numpy")
    for name, row in rows.items():
        row["compile_s"] = compile_s.get(name)
        row["test_accuracy"] = check.get(name)
    for name, r in rows.items():
        print(
            f"{name:34s} wall {r['wall_s']:.3f} s ({r['wall_vs_numpy']:.2f}× numpy)  "
            f"cpu {r['cpu_s']:.3f} s ({r['cpu_vs_numpy']:.2f}× numpy)"
        )
    out = Path(args.out) if args.out else results_dir(scratch=args.quick)
    stem = "step_ablation_quick" if args.quick else "step_ablation"
    doc = provenance(config.to_dict(), epochs=epochs, repeats=repeats, load_average=load)
    path = write_json(out / f"{stem}.json", {**doc, "rows": rows})
    print("wrote", path)


if __name__ == "__main__":
    main()
