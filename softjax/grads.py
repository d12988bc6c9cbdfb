"""The notes' closed-form gradients, written out (no autodiff inside).

Each function here is tested equal to ``jax.grad`` in float64 (``tests/test_grads.py``).

* :func:`logits_grad`: ∂(mean loss)/∂logits for the five losses (SPEC §3: seed 000
  eqs. 5-8 and part 3, seed 001's softmax Jacobian).
* :func:`params_grad`: single-layer model gradients Xᵀ G and Σ G (seed 000 eqs. 9-14).
* :func:`backprop`: the layer-wise recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l)
  (seed 002, seed 003, seed 004).

Like the losses, all of them take a BATCH (N rows, N ≥ 1) and differentiate the mean
over it; for one sample pass ``x[None]`` / ``z[None]`` and ``y[None]``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from softjax.activations import resolve_activations
from softjax.losses import as_array, check_labels, check_loss_name, logits_and_targets
from softjax.models import check_params, mlp_forward
from softjax.numerics import sigmoid, softmax, softmax_vjp, softmax_without_self


def _cce_grad(z, y):
    r"""CCE: :math:`\hat y \sum_k y_k - y`, i.e. the error vector e = ŷ − y of seed 000
    eqs. 7-8 (seed 001, seed 002) whenever the target row sums to 1."""
    return softmax(z) * jnp.sum(y, axis=-1, keepdims=True) - y


def _mse_grad(z, y):
    r"""MSE on softmax: :math:`J^\top(\hat y - y)` (seed 000 part 3), i.e.

    .. math:: (\hat y_j - y_j)\hat y_j(1 - \hat y_j)
              - \sum_{k \ne j}(\hat y_k - y_k)\hat y_k \hat y_j

    every term carries softmax factors that vanish at saturation."""
    return softmax_vjp(z, softmax(z) - y)


def _bce_grad(z, y):
    r"""BCE on softmax: :math:`J^\top g` with :math:`g_k = (\hat y_k - y_k)/(\hat y_k(1-\hat y_k))`
    (seed 000 part 3 with seed 001's Jacobian). Expanded and regrouped so that nothing is
    divided by a rounded-to-zero 1 − ŷ:

    .. math:: \frac{\partial \ell}{\partial z_m} = \hat y_m \Big(\sum_k y_k + 1 - y_m\Big) - y_m
              - \sum_{k \ne m} (1 - y_k)\, \hat y_k \frac{\hat y_m}{1 - \hat y_k},

    where :math:`\hat y_m / (1 - \hat y_k) = e^{z_m - \mathrm{LSE}_{j \ne k} z_j}` is the
    softmax over the classes j ≠ k (:func:`~softjax.numerics.softmax_without_self`),
    each row shifted by its own max, so no two huge logits are ever added or cancelled.
    """
    a = softmax(z)
    ratio = softmax_without_self(z)  # [..., k, m] = ŷ_m / (1 − ŷ_k), 0 on the diagonal
    coupling = jnp.einsum("...km,...k->...m", ratio, a * (1.0 - y))
    return a * (jnp.sum(y, axis=-1, keepdims=True) + 1.0 - y) - y - coupling


def _sigmoid_bce_grad(z, y):
    r"""One-vs-rest sigmoid BCE: :math:`\sigma(z) - y`, each sigmoid's own error
    (seed 001, seed 003; seed 000 part 1 for K = 1)."""
    return sigmoid(z) - y


def _square_grad(z, y):
    r"""Square loss on raw logits: :math:`z - y` (seed 000 part 1), no saturation factor."""
    return z - y


_PER_SAMPLE_GRADS = {
    "cce": _cce_grad,
    "mse": _mse_grad,
    "bce": _bce_grad,
    "sigmoid_bce": _sigmoid_bce_grad,
    "square": _square_grad,
}


def per_sample_logits_grad(loss_name: str, logits, labels):
    """∂ℓ_i/∂z_i for each sample's own loss (no 1/N), by the closed forms of SPEC §3.

    ============= ========================================= ==============================
    loss          ∂ℓ_i/∂z_i (ŷ = softmax(z))                 source
    ============= ========================================= ==============================
    cce           ŷ − y                                     seed 000 eqs. 7-8; seed 002
    mse           Jᵀ(ŷ − y),  J = diag(ŷ) − ŷŷᵀ              seed 000 part 3; seed 001 (J)
    bce           Jᵀ g,  g_k = (ŷ_k − y_k)/(ŷ_k(1 − ŷ_k))    seed 000 part 3; seed 001 (J)
    sigmoid_bce   σ(z) − y                                  seed 001, seed 003
    square        z − y                                     seed 000 part 1
    ============= ========================================= ==============================

    Each is written out in its private helper (``_cce_grad``, …) with the form actually
    evaluated.

    Args:
      loss_name: one of ``LOSSES``.
      logits: a batch (N, K); for one sample pass ``z[None]``.
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).

    Returns:
      G, shape (N, K).
    """
    z, y = logits_and_targets(logits, labels, loss_name)
    return _PER_SAMPLE_GRADS[loss_name](z, y)


def logits_grad(loss_name: str, logits, labels):
    """∂(mean loss)/∂logits = G / N, with G from :func:`per_sample_logits_grad`
    (the closed forms of SPEC §3; the 1/N of the batch mean as in seed 000 eqs. 9-14).

    Args:
      loss_name: one of ``LOSSES``.
      logits: a batch (N, K); for one sample pass ``z[None]``.
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).

    Returns:
      Shape (N, K), the gradient of ``LOSSES[loss_name](logits, labels)``.
    """
    g = per_sample_logits_grad(loss_name, logits, labels)
    return g / np.shape(g)[0]


def _layer_grads(a_prev, delta, has_bias: bool):
    """∂J/∂W_l = A_{l−1}ᵀ δ_l and ∂J/∂b_l = Σ_rows δ_l (seed 000 eqs. 9-14, seed 003)."""
    grads = {"w": a_prev.T @ delta}
    if has_bias:
        grads["b"] = jnp.sum(delta, axis=0)
    return grads


def params_grad(params, x, labels, loss_name: str):
    """Gradients of a single-layer model (softmax/logistic/linear regression).

    :math:`\\partial L/\\partial W = X^\\top G / N`,
    :math:`\\partial L/\\partial b = \\sum_i G_i / N`
    with G = ∂ℓ/∂Z from :func:`per_sample_logits_grad` (seed 000 eqs. 9-14; seed 001).

    Args:
      params: ``[{"w": (D, K), "b": (K,)}]`` (``"b"`` optional), a list or tuple.
      x: a batch (N, D), N ≥ 1; for one sample pass ``x[None]``.
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).
      loss_name: one of ``LOSSES``.

    Returns:
      Gradients with the structure of ``params`` (same container type).
    """
    sizes = check_params(params)
    if len(sizes) != 2:
        raise ValueError(
            f"params: params_grad is for a single-layer model, got {len(params)} layers; "
            "use backprop for an MLP"
        )
    return backprop(params, x, labels, loss_name, None)


def backprop(params, x, labels, loss_name: str, activations=None):
    """MLP gradients of the mean loss by the backprop recursion (SPEC §4).

    .. math::
        δ_L = ∂L/∂Z_L,\\quad δ_l = (δ_{l+1} W_{l+1}^\\top) ∘ f_l'(Z_l),\\quad
        ∂L/∂W_l = A_{l-1}^\\top δ_l,\\quad ∂L/∂b_l = \\textstyle\\sum_{\\text{rows}} δ_l

    (seed 002; seed 003; seed 004) with δ_L from :func:`logits_grad` (so the 1/N of the
    mean is inside every δ). For softmax + CCE δ_L = (A_L − Y)/N, as in seeds 002-004.
    A softmax hidden layer uses its Jacobian-vector product instead of the element-wise f′.

    Args:
      params: as returned by ``mlp_init`` (a list of layer dicts; a tuple works too).
      x: a batch (N, D), N ≥ 1; for one sample pass ``x[None]`` (and ``y[None]``).
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).
      loss_name: one of ``LOSSES``.
      activations: hidden activations, as for ``mlp_apply``.

    Returns:
      Gradients with the same pytree structure as ``params``, container type included
      (a tuple of params gives a tuple, as ``jax.grad`` does).
    """
    sizes = check_params(params)
    x = as_array(x, "x")
    if np.ndim(x) != 2 or np.shape(x)[1] != sizes[0] or np.shape(x)[0] < 1:
        raise ValueError(
            f"x: expected shape (N, {sizes[0]}) with N ≥ 1 (a batch; x[None] for one "
            f"sample), got shape {np.shape(x)}"
        )
    acts = resolve_activations(activations, len(params) - 1)
    # Validate the loss and labels before the forward pass computes anything.
    check_loss_name(loss_name)
    labels = check_labels(labels, sizes[-1], np.shape(x)[0], loss_name)
    zs, hidden = mlp_forward(params, x, acts)
    return backprop_from_forward(params, zs, hidden, logits_grad(loss_name, zs[-1], labels), acts)


def backprop_from_forward(params, zs, hidden, logits_delta, activations):
    """The backward half of :func:`backprop`, reusing a forward pass's ``zs`` and ``hidden``.

    Args:
      params: the MLP params (a list or tuple of layer dicts).
      zs, hidden: as returned by ``mlp_forward(params, x, activations)``.
      logits_delta: δ_L = ∂(mean loss)/∂Z_L, shape (N, K).
      activations: the resolved hidden activations (one per hidden layer).

    Returns:
      Gradients with the pytree structure and container type of ``params``.
    """
    acts = resolve_activations(activations, len(params) - 1)
    delta = logits_delta
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = _layer_grads(hidden[l], delta, "b" in params[l])
        if l > 0:
            delta = acts[l - 1].backward(zs[l - 1], delta @ params[l]["w"].T)
    if isinstance(params, tuple) and hasattr(params, "_fields"):  # a NamedTuple
        return type(params)(*grads)
    return type(params)(grads)
