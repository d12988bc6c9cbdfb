"""MLPs of any depth as an ``init``/``apply`` pair of pure functions (seed 003, seed 004).

Params are a list of per-layer dicts ``{"w": (D_in, D_out), "b": (D_out,)}`` (no ``"b"``
when ``bias=False``). The forward pass is row-major, batch first (SPEC §1):

.. math:: A_0 = X,\\quad Z_l = A_{l-1} W_l + b_l,\\quad A_l = f_l(Z_l),

and ``mlp_apply`` returns the last layer's logits :math:`Z_L` (no output activation:
the loss applies the softmax or sigmoid). The single-layer case ``sizes=[D, K]`` is
linear, logistic, one-vs-rest or softmax regression, depending on the loss. The
seed 001 slides write ``z = W x + b`` with W of shape (K, D); that is this W transposed.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from softjax.activations import ActivationSpec, resolve_activations

INITS = (
    "lecun_normal",
    "he_normal",
    "glorot_uniform",
    "torch_linear",
    "fan_out_normal",
    "uniform01",
    "zeros",
)


def _layer_weights(key, init: str, fan_in: int, fan_out: int, dtype):
    """Initial (w, b) for one layer under the named scheme."""
    kw, kb = jax.random.split(key)
    shape = (fan_in, fan_out)
    zeros_b = jnp.zeros((fan_out,), dtype)
    if init == "lecun_normal":
        return jax.nn.initializers.lecun_normal()(kw, shape, dtype), zeros_b
    if init == "he_normal":
        return jax.nn.initializers.he_normal()(kw, shape, dtype), zeros_b
    if init == "glorot_uniform":
        return jax.nn.initializers.glorot_uniform()(kw, shape, dtype), zeros_b
    if init == "torch_linear":
        # PyTorch nn.Linear's default: W and b both ~ U(±1/√fan_in) (seed 001's MNIST model).
        bound = 1.0 / np.sqrt(fan_in)
        w = jax.random.uniform(kw, shape, dtype, -bound, bound)
        return w, jax.random.uniform(kb, (fan_out,), dtype, -bound, bound)
    if init == "fan_out_normal":
        # The homework's W ~ N(0, 1)/√fan_out: /√hidden for W1, /√10 for W2 (seed 004).
        # A Python float is weakly typed, so the division keeps ``dtype`` (np.sqrt's
        # float64 scalar would promote bfloat16 to float32, and float32 to float64 under x64).
        return jax.random.normal(kw, shape, dtype) / float(np.sqrt(fan_out)), zeros_b
    if init == "uniform01":
        # Seed 001's gradient-descent loop: W ~ U[0, 1), b = 0.
        return jax.random.uniform(kw, shape, dtype), zeros_b
    if init == "zeros":
        return jnp.zeros(shape, dtype), zeros_b
    raise AssertionError(init)  # unreachable: checked in mlp_init


def _is_int(s) -> bool:
    return isinstance(s, int | np.integer) and not isinstance(s, bool | np.bool_)


def check_sizes(sizes, argname: str = "sizes") -> tuple[int, ...]:
    """Layer widths [D, H_1, …, K]: at least two positive ints (Python or numpy ints;
    a float such as 2.5, or even 3.0, is rejected rather than truncated)."""
    error = ValueError(
        f"{argname}: expected a list of ≥ 2 widths [D, ..., K], each a positive int, got {sizes!r}"
    )
    if isinstance(sizes, str | bytes):
        raise error
    try:
        widths = tuple(sizes)
    except TypeError:
        raise error from None
    if len(widths) < 2 or not all(_is_int(s) and s >= 1 for s in widths):
        raise error
    return tuple(int(s) for s in widths)


def mlp_init(
    key,
    sizes: Sequence[int],
    *,
    bias: bool = True,
    init_scale=1.0,
    init: str = "lecun_normal",
    dtype=jnp.float32,
):
    """Initial MLP params.

    Args:
      key: a ``jax.random`` key.
      sizes: widths ``[D, H_1, …, H_{L-1}, K]``; ``[D, K]`` is a single-layer model.
      bias: whether layers have a bias; ``False`` gives seed 004's ``h(X) = f(X W1) W2``.
      init_scale: multiplies every initial parameter, so a single-layer model's logits
        scale by exactly this factor. Large values push the softmax into saturation.
        May be a traced value (so it can be vmapped over).
      init: one of :data:`INITS`. The default is LeCun normal, N(0, 1/fan_in) with zero
        biases. ``"torch_linear"`` is nn.Linear's U(±1/√fan_in), ``"fan_out_normal"`` the
        homework's N(0,1)/√fan_out, ``"uniform01"`` seed 001's U[0,1) with b = 0.
      dtype: the parameter dtype.

    Returns:
      A list of ``{"w", "b"}`` dicts, one per layer.
    """
    sizes = check_sizes(sizes)
    if init not in INITS:
        raise ValueError(f"init: unknown scheme {init!r}; expected one of {INITS}")
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for layer_key, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        w, b = _layer_weights(layer_key, init, fan_in, fan_out, dtype)
        layer = {"w": w * init_scale}
        if bias:
            layer["b"] = b * init_scale
        params.append(layer)
    return params


def check_params(params, argname: str = "params") -> tuple[int, ...]:
    """Checks the per-layer dict structure and returns the widths [D, …, K]."""
    if not isinstance(params, list | tuple) or not params:
        raise ValueError(f"{argname}: expected a non-empty list of layer dicts, got {type(params)}")
    sizes = []
    for i, layer in enumerate(params):
        if not isinstance(layer, dict) or "w" not in layer:
            raise ValueError(f"{argname}[{i}]: expected a dict with key 'w', got {layer!r:.80}")
        shape = np.shape(layer["w"])
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(
                f"{argname}[{i}]['w']: expected shape (D_in, D_out), both ≥ 1, got {shape}"
            )
        if sizes and shape[0] != sizes[-1]:
            raise ValueError(
                f"{argname}[{i}]['w']: expected {sizes[-1]} input rows to match the previous "
                f"layer, got shape {shape}"
            )
        if "b" in layer and np.shape(layer["b"]) != (shape[1],):
            raise ValueError(
                f"{argname}[{i}]['b']: expected shape ({shape[1]},), got {np.shape(layer['b'])}"
            )
        if not sizes:
            sizes.append(shape[0])
        sizes.append(shape[1])
    return tuple(sizes)


def check_inputs(x, in_features: int, argname: str = "x"):
    """Inputs must be (..., D): any leading axes, the last matching the first layer's D."""
    shape = np.shape(x)
    if len(shape) < 1 or shape[-1] != in_features:
        raise ValueError(
            f"{argname}: expected shape (..., {in_features}) (last axis = the first layer's "
            f"input width; usually (N, {in_features})), got shape {shape}"
        )


def mlp_forward(params, x, activations: ActivationSpec | Sequence[ActivationSpec] | None = None):
    """The forward recursion of seed 003, keeping every layer's Z and A.

    Args:
      params: as returned by :func:`mlp_init`.
      x: inputs of shape (..., D): usually a batch (N, D); (D,) for one sample or any
        leading axes work too, since every layer acts on the last axis.
      activations: one activation spec for every hidden layer, or one per hidden layer.

    Returns:
      ``(zs, hidden)``: ``zs[l]`` is Z_{l+1} for every layer (the last is the logits) and
      ``hidden[l]`` is A_l for l = 0 … L−1 (``hidden[0]`` is X).
    """
    sizes = check_params(params)
    check_inputs(x, sizes[0])
    return forward(params, x, resolve_activations(activations, len(params) - 1))


@jax.custom_vjp
def dense(a, w):
    """``a @ w`` whose VJP is the notes' two products, ∂A = G Wᵀ and ∂W = Aᵀ G (SPEC §4).

    The same maths as ``jax.vjp`` of ``a @ w``; what differs is the shape XLA is handed.
    JAX's own transpose rule computes ∂W as ``(Gᵀ A)ᵀ``: under ``vmap`` over stacked
    models' weights (d_in, M, d_out) that is an (M·d_out, d_in) product and a transposing
    pass over every model's weights per step, where ``Aᵀ G`` writes (d_in, M·d_out)
    directly. Reverse mode only (``jax.jvp`` through it raises): training steps use it,
    :func:`forward` does not by default.
    """
    return a @ w


def _dense_fwd(a, w):
    # symbolic_zeros: a and w come wrapped with a .perturbed flag. An input nothing
    # differentiates (the data X of the first layer) keeps None in the residuals, a static
    # pytree structure, so the backward pass skips its product: G Wᵀ for X would add half
    # of a softmax regression's matmul work per step.
    need_a, need_w = a.perturbed, w.perturbed
    a, w = a.value, w.value
    return a @ w, (a if need_w else None, w if need_a else None)


def _dense_bwd(residuals, g):
    a, w = residuals
    if isinstance(g, SymbolicZero):
        return None, None
    grad_a = None if w is None else g @ w.T
    if a is None:
        return grad_a, None
    # Over the trailing axes, so a batch of any leading shape works as in ``a @ w``.
    a2, g2 = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
    return grad_a, a2.T @ g2


dense.defvjp(_dense_fwd, _dense_bwd, symbolic_zeros=True)


def forward(params, x, activations, matmul=jnp.matmul):
    """:func:`mlp_forward`'s recursion without its checks: the kernel that ``backprop`` and
    traced training steps call once their arguments are validated.

    Args:
      params: checked params (see :func:`check_params`).
      x: inputs (..., D) of the right width.
      activations: the RESOLVED activations, one ``BoundActivation`` per hidden layer.
      matmul: each layer's ``A @ W`` (:func:`dense` in training steps).

    Returns:
      ``(zs, hidden)`` as :func:`mlp_forward`.
    """
    a = jnp.asarray(x)
    zs, hidden = [], [a]
    for i, layer in enumerate(params):
        z = matmul(a, layer["w"])
        if "b" in layer:
            z = z + layer["b"]
        zs.append(z)
        if i < len(activations):
            a = activations[i].fn(z)
            hidden.append(a)
    return zs, hidden


def mlp_apply(params, x, activations: ActivationSpec | Sequence[ActivationSpec] | None = None):
    """Logits of the MLP: :math:`Z_L` of the recursion in :func:`mlp_forward`.

    Args:
      params: as returned by :func:`mlp_init`.
      x: inputs (..., D), usually a batch (N, D).
      activations: hidden-layer activations (ignored shape-wise for a single layer).

    Returns:
      Logits (..., K), usually (N, K).
    """
    zs, _ = mlp_forward(params, x, activations)
    return zs[-1]
