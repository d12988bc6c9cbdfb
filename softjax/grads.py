"""The notes' closed-form gradients, written out (no autodiff inside).

Each function here is tested equal to ``jax.grad`` in float64 (``tests/test_grads.py``).

* :func:`logits_grad`: ∂(mean loss)/∂logits for the five losses (SPEC §3).
* :func:`params_grad`: single-layer model gradients Xᵀ G and Σ G (seed 000 eqs. 9-14).
* :func:`backprop`: the layer-wise recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l)
  (seed 002, seed 003, seed 004).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from softjax.activations import resolve_activations
from softjax.losses import as_targets, check_labels, check_loss_name
from softjax.models import check_inputs, check_params, mlp_forward
from softjax.numerics import log1m_softmax, log_softmax, sigmoid, softmax, softmax_vjp


def _cce_grad(z, y):
    # ∂/∂z [−Σ y log softmax(z)] = a Σ_k y_k − y, which is a − y (seed 000 eqs. 7-8)
    # whenever the target row sums to 1.
    return softmax(z) * jnp.sum(y, axis=-1, keepdims=True) - y


def _mse_grad(z, y):
    # Jᵀ(ŷ − y): every term carries the softmax factors that vanish at saturation.
    return softmax_vjp(z, softmax(z) - y)


def _bce_grad(z, y):
    # Jᵀ g with g_k = (ŷ_k − y_k)/(ŷ_k(1 − ŷ_k)) (SPEC §3). Expanded and regrouped so
    # nothing is divided by a rounded-to-zero 1 − ŷ:
    #   ∂L/∂z_m = ŷ_m (Σy + 1 − y_m) − y_m − Σ_{k≠m} (1 − y_k) ŷ_m ŷ_k / (1 − ŷ_k),
    # with each ŷ_m ŷ_k / (1 − ŷ_k) formed in log space.
    log_a = log_softmax(z)
    log_odds = log_a - log1m_softmax(z)
    k = z.shape[-1]
    cross = jnp.exp(log_a[..., :, None] + log_odds[..., None, :])  # [m, k]
    cross = jnp.where(jnp.eye(k, dtype=bool), 0.0, cross)
    coupling = jnp.sum(cross * (1.0 - y)[..., None, :], axis=-1)
    a = jnp.exp(log_a)
    return a * (jnp.sum(y, axis=-1, keepdims=True) + 1.0 - y) - y - coupling


def _sigmoid_bce_grad(z, y):
    return sigmoid(z) - y  # one-vs-rest: each sigmoid's own error (seed 001, 003)


def _square_grad(z, y):
    return z - y  # no softmax, no saturation factor


_PER_SAMPLE_GRADS = {
    "cce": _cce_grad,
    "mse": _mse_grad,
    "bce": _bce_grad,
    "sigmoid_bce": _sigmoid_bce_grad,
    "square": _square_grad,
}


def per_sample_logits_grad(loss_name: str, logits, labels):
    """∂ℓ_i/∂z_i for each sample's own loss (no 1/N): the table of SPEC §3.

    Args:
      loss_name: one of ``LOSSES``.
      logits: (N, K).
      labels: int ids (N,) or target rows (N, K).

    Returns:
      G, shape (N, K).
    """
    y = as_targets(logits, labels, loss_name)
    return _PER_SAMPLE_GRADS[loss_name](jnp.asarray(logits), y)


def logits_grad(loss_name: str, logits, labels):
    """∂(mean loss)/∂logits = G / N, from the closed forms of SPEC §3.

    ====== =========================================================
    cce    ŷ − y
    mse    Jᵀ(ŷ − y),  J = diag(ŷ) − ŷŷᵀ
    bce    Jᵀ g,  g_k = (ŷ_k − y_k) / (ŷ_k (1 − ŷ_k))
    sigmoid_bce  σ(z) − y
    square z − y
    ====== =========================================================

    Returns:
      Shape (N, K), the gradient of ``LOSSES[loss_name](logits, labels)``.
    """
    g = per_sample_logits_grad(loss_name, logits, labels)
    return g / np.shape(logits)[0]


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
    with G = ∂ℓ/∂Z from :func:`logits_grad` (seed 000 eqs. 9-14; seed 001).

    Args:
      params: ``[{"w": (D, K), "b": (K,)}]`` (``"b"`` optional).
      x: (N, D).
      labels: int ids (N,) or target rows (N, K).
      loss_name: one of ``LOSSES``.

    Returns:
      Gradients with the structure of ``params``.
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

    with δ_L from :func:`logits_grad` (so the 1/N of the mean is inside every δ). For
    softmax + CCE δ_L = (A_L − Y)/N, as in seeds 002-004. A softmax hidden layer uses
    its Jacobian-vector product instead of the element-wise f′.

    Args:
      params: as returned by ``mlp_init``.
      x: (N, D).
      labels: int ids (N,) or target rows (N, K).
      loss_name: one of ``LOSSES``.
      activations: hidden activations, as for ``mlp_apply``.

    Returns:
      Gradients with the same pytree structure as ``params``.
    """
    sizes = check_params(params)
    check_inputs(x, sizes[0])
    if np.ndim(x) != 2:
        raise ValueError(f"x: expected shape (N, {sizes[0]}), got shape {np.shape(x)}")
    acts = resolve_activations(activations, len(params) - 1)
    # Validate the loss and labels before the forward pass computes anything.
    check_loss_name(loss_name)
    check_labels(labels, sizes[-1], np.shape(x)[0], loss_name)
    zs, hidden = mlp_forward(params, x, acts)
    return backprop_from_forward(params, zs, hidden, logits_grad(loss_name, zs[-1], labels), acts)


def backprop_from_forward(params, zs, hidden, logits_delta, activations):
    """The backward half of :func:`backprop`, reusing a forward pass's ``zs`` and ``hidden``.

    Args:
      params: the MLP params.
      zs, hidden: as returned by ``mlp_forward(params, x, activations)``.
      logits_delta: δ_L = ∂(mean loss)/∂Z_L, shape (N, K).
      activations: the resolved hidden activations (one per hidden layer).

    Returns:
      Gradients with the pytree structure of ``params``.
    """
    acts = resolve_activations(activations, len(params) - 1)
    delta = logits_delta
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = _layer_grads(hidden[l], delta, "b" in params[l])
        if l > 0:
            delta = acts[l - 1].backward(zs[l - 1], delta @ params[l]["w"].T)
    return grads
