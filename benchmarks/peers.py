"""The implementations softjax is timed against, written the way people usually write them.

Each peer trains the same model on the same data with the same hyper-parameters as the
softjax run it is compared with, and returns its final test accuracy so a benchmark can
check that the systems did the same work:

* :func:`numpy_softmax_regression`: a numpy loop with the notes' closed-form gradient
  ``∂L/∂W = Xᵀ G / N``, ``G = ∂L/∂Z`` (SPEC §3; seed 000 eqs. 9-14), for CCE, MSE and BCE
  on softmax outputs.
* :func:`torch_softmax_regression`: PyTorch's ``nn.Linear`` + ``CrossEntropyLoss`` + SGD
  with the tensors preloaded (no ``DataLoader``), as in seed 001's MNIST slides.
* :func:`make_jax_python_loop`: the usual JAX loop, a jitted step called from a Python
  loop over host-side minibatches.
* :func:`numpy_mlp` and :func:`torch_mlp`: the homework's two-layer ReLU net without
  biases (seed 004: ``G2 = softmax(h) − Y``, ``G1 = (G2 W2ᵀ) ∘ f'(X W1)``).

torch is optional: :data:`HAVE_TORCH` says whether it imported.
"""

from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np

# torch is a peer, never a dependency of softjax; it is imported only by the torch peers,
# so that it neither slows nor inflates (in memory) the processes that do not use it.
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _torch():
    import torch

    return torch


# ------------------------------------------------------------------------------- numpy


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _numpy_logits_grad(loss: str, a, y_onehot):
    """Per-sample ∂ℓ/∂z for softmax outputs ``a`` (SPEC §3), before dividing by N."""
    if loss == "cce":
        return a - y_onehot
    if loss == "mse":
        e = a - y_onehot
        return a * (e - np.sum(e * a, axis=1, keepdims=True))  # Jᵀ e
    if loss == "bce":
        a = np.clip(a, 1e-7, 1 - 1e-7)
        g = (a - y_onehot) / (a * (1 - a))
        return a * (g - np.sum(g * a, axis=1, keepdims=True))  # Jᵀ g
    raise ValueError(f"loss: expected 'cce', 'mse' or 'bce', got {loss!r}")


def numpy_softmax_regression(data, w, b, *, lr, batch_size, epochs, seed, loss="cce"):
    """Shuffled minibatch SGD for softmax regression in numpy, closed-form gradient.

    Every epoch draws a permutation, trains on full batches and the last partial one
    (as softjax's ``last_batch="keep"``), keeps a running training loss and evaluates
    the test accuracy, as a training log would.

    Returns:
      ``(w, b, test_accuracy)`` after the last epoch.
    """
    x, y = data.x_train, data.y_train
    n, k = x.shape[0], w.shape[1]
    eye = np.eye(k, dtype=x.dtype)
    w, b = np.array(w, dtype=x.dtype), np.array(b, dtype=x.dtype)
    rng = np.random.default_rng(seed)
    test_accuracy = float("nan")
    for _ in range(epochs):
        order = rng.permutation(n)
        loss_sum = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            a = _softmax(xb @ w + b)
            loss_sum += -np.log(a[np.arange(len(idx)), yb] + 1e-12).sum()
            g = _numpy_logits_grad(loss, a, eye[yb]) / len(idx)
            w -= lr * (xb.T @ g)
            b -= lr * g.sum(axis=0)
        test_accuracy = float(np.mean(np.argmax(data.x_test @ w + b, axis=1) == data.y_test))
    return w, b, test_accuracy


def numpy_mlp(data, w1, w2, *, lr, batch_size, epochs):
    """The homework's two-layer ReLU net without biases, in order, closed-form backprop.

    ``h = relu(X W1) W2``; ``G2 = (softmax(h) − Y)/N``, ``∂W2 = relu(X W1)ᵀ G2``,
    ``G1 = (G2 W2ᵀ) ∘ 1[X W1 > 0]``, ``∂W1 = Xᵀ G1`` (seed 004).

    Returns:
      ``(w1, w2, test_accuracy)``.
    """
    x, y = data.x_train, data.y_train
    n, k = x.shape[0], w2.shape[1]
    eye = np.eye(k, dtype=x.dtype)
    w1, w2 = np.array(w1, dtype=x.dtype), np.array(w2, dtype=x.dtype)
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            z1 = xb @ w1
            hidden = np.maximum(z1, 0)
            g2 = (_softmax(hidden @ w2) - eye[yb]) / len(xb)
            g1 = (g2 @ w2.T) * (z1 > 0)
            w2 -= lr * (hidden.T @ g2)
            w1 -= lr * (xb.T @ g1)
    logits = np.maximum(data.x_test @ w1, 0) @ w2
    return w1, w2, float(np.mean(np.argmax(logits, axis=1) == data.y_test))


# ------------------------------------------------------------------------------- torch


def set_torch_threads(n: int) -> None:
    """Sets torch's intra-op threads (see ``benchmarks/README.md`` for why 1 by default)."""
    _torch().set_num_threads(n)


def torch_preload(data):
    """The four arrays as torch tensors (shared memory with numpy, no copy)."""
    torch = _torch()
    return (
        torch.from_numpy(np.ascontiguousarray(data.x_train)),
        torch.from_numpy(np.asarray(data.y_train, dtype=np.int64)),
        torch.from_numpy(np.ascontiguousarray(data.x_test)),
        torch.from_numpy(np.asarray(data.y_test, dtype=np.int64)),
    )


def torch_softmax_regression(tensors, w, b, *, lr, batch_size, epochs, seed):
    """Seed 001's PyTorch loop with preloaded tensors: ``nn.Linear``, CE loss, SGD.

    Returns:
      ``(model, test_accuracy)``.
    """
    torch = _torch()
    x, y, x_test, y_test = tensors
    torch.manual_seed(seed)
    model = torch.nn.Linear(w.shape[0], w.shape[1])
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(np.asarray(w).T.copy()))
        model.bias.copy_(torch.from_numpy(np.asarray(b).copy()))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    test_accuracy = float("nan")
    for _ in range(epochs):
        order = torch.randperm(x.shape[0])
        running_loss = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        with torch.no_grad():
            test_accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return model, test_accuracy


def torch_mlp(tensors, w1, w2, *, lr, batch_size, epochs):
    """The homework net in PyTorch: two bias-free ``nn.Linear`` layers, ReLU, CE, SGD."""
    torch = _torch()
    x, y, x_test, y_test = tensors
    first = torch.nn.Linear(w1.shape[0], w1.shape[1], bias=False)
    second = torch.nn.Linear(w2.shape[0], w2.shape[1], bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(np.asarray(w1).T.copy()))
        second.weight.copy_(torch.from_numpy(np.asarray(w2).T.copy()))
    model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        for start in range(0, x.shape[0], batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x[start : start + batch_size]), y[start : start + batch_size])
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return model, (model(x_test).argmax(1) == y_test).float().mean().item()


# --------------------------------------------------------------------------------- JAX


def _jax_cce(params, xb, yb):
    logits = xb @ params["w"] + params["b"]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))


def _jax_step_fn(params, xb, yb, lr):
    loss, grads = jax.value_and_grad(_jax_cce)(params, xb, yb)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss


def _jax_accuracy_fn(params, x, y):
    return jnp.mean(jnp.argmax(x @ params["w"] + params["b"], axis=1) == y)


_jax_step = jax.jit(_jax_step_fn)
_jax_accuracy = jax.jit(_jax_accuracy_fn)


def make_jax_python_loop():
    """The usual JAX training loop: a jitted SGD step, a Python loop, numpy batches.

    Returns:
      ``(run, compile)``: ``run(data, w, b, lr=, batch_size=, epochs=, seed=)`` trains
      and returns ``(params, test_accuracy)``; ``compile(data, batch_size)`` compiles
      the step for the full and the last partial batch shape (and the evaluation) from
      scratch and returns the compiled objects, to time compilation.
    """

    def run(data, w, b, *, lr, batch_size, epochs, seed):
        x, y = data.x_train, data.y_train
        params = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
        lr = jnp.float32(lr)
        rng = np.random.default_rng(seed)
        x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
        test_accuracy = float("nan")
        for _ in range(epochs):
            order = rng.permutation(x.shape[0])
            losses = []
            for start in range(0, x.shape[0], batch_size):
                idx = order[start : start + batch_size]
                params, loss = _jax_step(params, x[idx], y[idx], lr)
                losses.append(loss)
            float(jnp.sum(jnp.stack(losses)))  # the epoch's log line
            test_accuracy = float(_jax_accuracy(params, x_test, y_test))
        return params, test_accuracy

    def compile_all(data, batch_size):
        n, d = data.x_train.shape
        k = int(np.max(data.y_train)) + 1
        params = {"w": jnp.zeros((d, k)), "b": jnp.zeros((k,))}
        shapes = {batch_size} | ({n % batch_size} if n % batch_size else set())
        # Fresh function objects, so that jax's tracing and compilation caches miss.
        out = [
            jax.jit(lambda *a: _jax_step_fn(*a))
            .lower(params, np.zeros((m, d), np.float32), np.zeros((m,), np.int32), 0.1)
            .compile()
            for m in sorted(shapes)
        ]
        accuracy = jax.jit(lambda *a: _jax_accuracy_fn(*a))
        out.append(accuracy.lower(params, data.x_test, data.y_test).compile())
        return out

    return run, compile_all


# ------------------------------------------------- the peers' rows of the case tables
# Each takes a case's context (benchmarks.cases.context) and returns the zero-argument
# call that the runner times.


def numpy_single_row(ctx):
    w, b = ctx.weights[0], ctx.bias
    return lambda: numpy_softmax_regression(ctx.data, w, b, **ctx.hp, seed=0)[2]


def torch_single_row(ctx):
    tensors, w, b = torch_preload(ctx.data), ctx.weights[0], ctx.bias
    return lambda: torch_softmax_regression(tensors, w, b, **ctx.hp, seed=0)[1]


def jax_loop_single_row(ctx):
    run, _ = make_jax_python_loop()
    w, b = ctx.weights[0], ctx.bias
    return lambda: run(ctx.data, w, b, **ctx.hp, seed=0)[1]


def jax_loop_compile_row(ctx):
    _, compile_all = make_jax_python_loop()
    return lambda: compile_all(ctx.data, ctx.config.batch_size)


def numpy_sweep_row(ctx):
    """Sequential numpy runs over the measured subset."""
    w, b = ctx.weights[0], ctx.bias
    hp = {k: v for k, v in ctx.hp.items() if k != "lr"}

    def run():
        for loss, lr, scale in ctx.subset:
            numpy_softmax_regression(ctx.data, w * scale, b * scale, lr=lr, **hp, seed=0, loss=loss)

    return run


def numpy_mlp_row(ctx):
    return lambda: numpy_mlp(ctx.data, *ctx.weights, **ctx.hp)[2]


def torch_mlp_row(ctx):
    tensors = torch_preload(ctx.data)
    return lambda: torch_mlp(tensors, *ctx.weights, **ctx.hp)[1]
