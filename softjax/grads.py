"""The notes' closed-form gradients, written out (no autodiff inside).

Each function here is tested equal to autodiff of the loss formula in float64
(``tests/test_grads.py``) and accurate in float32 on saturated rows
(``tests/test_saturated_grads.py``).

* :func:`logits_grad`: ∂(mean loss)/∂logits for every built-in loss (SPEC §3: seed 000
  eqs. 5-8 and part 3, seed 001's softmax Jacobian; the formulas are each loss record's
  ``kernel_grad``, written out in ``softjax.loss_kernels``, the sources in
  ``softjax.builtin_losses``).
* :func:`with_closed_form_grad`: a loss whose ``jax.grad`` runs that closed form.
* :func:`params_grad`: single-layer model gradients Xᵀ G and Σ G (seed 000 eqs. 9-14).
* :func:`backprop`: the layer-wise recursion δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ f′(Z_l)
  (seed 002, seed 003, seed 004).

Like the losses, all of them take a BATCH (N rows, N ≥ 1) and differentiate the mean
over it; for one sample pass ``x[None]`` / ``z[None]`` and ``y[None]``. The public
functions validate once; ``backprop_from_forward`` and the loss kernels, which run
inside traced programs, do not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from softjax.activations import resolve_activations
from softjax.losses import resolve_loss
from softjax.models import check_params, forward
from softjax.targets import as_array, check_labels, logits_and_targets, to_targets


def _builtin(loss, argname: str = "loss"):
    """The resolved built-in loss (one with a closed-form kernel on target rows), or a
    ValueError naming ``argname``."""
    bound = resolve_loss(loss, argname)
    if bound.record.kernel_grad is None:
        raise ValueError(
            f"{argname}: {bound.name!r} is not a built-in loss; softjax.grads has closed "
            "forms for the built-ins only (use BoundLoss.logits_grad for a registered one)"
        )
    return bound


def _kernel_grad(bound, z, y):
    """Per-sample G of a resolved built-in on float target rows, unchecked."""
    return bound.record.kernel_grad(z, y, **dict(bound.kwargs))


def kernel_logits_grad(bound, z, y):
    """∂(mean loss)/∂z for a RESOLVED built-in ``BoundLoss`` on float target rows y (N, K)
    (``softjax.targets.to_targets``), checking nothing: for traced programs (a training
    step) whose labels were validated once at the boundary. Pairs with ``bound.kernel``."""
    return _kernel_grad(bound, z, y) / z.shape[0]


def per_sample_logits_grad(loss, logits, labels):
    """∂ℓ_i/∂z_i for each sample's own loss (no 1/N), by the closed forms:

    ================ ========================================= ==============================
    loss             ∂ℓ_i/∂z_i (ŷ = softmax(z), s = σ(z))       source
    ================ ========================================= ==============================
    cce              ŷ − y                                     seed 000 eqs. 7-8; seed 002
    mse              Jᵀ(ŷ − y),  J = diag(ŷ) − ŷŷᵀ              seed 000 part 3; seed 001 (J)
    bce              Jᵀ g,  g_k = (ŷ_k − y_k)/(ŷ_k(1 − ŷ_k))    seed 000 part 3; seed 001 (J)
    sigmoid_bce      s − y                                     seed 001, seed 003
    square           z − y                                     seed 000 part 1
    square_rescaled  (2/K)(1 + (k − 1)y)(z − M y)              Hui & Belkin 2021
    mae              Jᵀ sign(ŷ − y)                            Ghosh et al. 2017
    sigmoid_mse      (s − y) s (1 − s)                         Nielsen 2015, ch. 3
    cce_smoothed     ŷ − ((1 − ε) y + ε/K)                     Szegedy et al. 2016
    gce              ŷ Σ_k w_k − w,  w_k = y_k ŷ_k^q            Zhang & Sabuncu 2018
    cce_dir_mse_norm g_CE ‖g_MSE‖/‖g_CE‖                       gradient-swap study
    mse_dir_cce_norm g_MSE ‖g_CE‖/‖g_MSE‖                      gradient-swap study
    ================ ========================================= ==============================

    Each is written out in ``softjax.loss_kernels`` (``mse_grad``, …) with the form
    actually evaluated: the softmax-Jacobian products in a pivot form that does not
    cancel where the softmax saturates (:func:`~softjax.numerics.softmax_error_vjp`).

    Args:
      loss: a built-in loss spec: a name or ``(name, {kwargs})``.
      logits: a batch (N, K); for one sample pass ``z[None]``.
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).

    Returns:
      G, shape (N, K).
    """
    bound = _builtin(loss)
    return _kernel_grad(bound, *logits_and_targets(logits, labels, bound))


def logits_grad(loss, logits, labels):
    """∂(mean loss)/∂logits = G / N, with G from :func:`per_sample_logits_grad`
    (the 1/N of the batch mean as in seed 000 eqs. 9-14).

    Args:
      loss: a built-in loss spec: a name or ``(name, {kwargs})``.
      logits: a batch (N, K); for one sample pass ``z[None]``.
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).

    Returns:
      Shape (N, K), the gradient of the loss's value at ``(logits, labels)``.
    """
    g = per_sample_logits_grad(loss, logits, labels)
    return g / np.shape(g)[0]


def with_closed_form_grad(loss):
    """The loss as a ``jax.custom_vjp`` function ``(logits, labels) -> scalar`` whose
    backward pass is its closed-form ∂L/∂logits (labels get a zero cotangent), so
    ``jax.grad`` through a model (flax, equinox, :func:`~softjax.mlp_apply`) runs the
    notes' formula instead of differentiating the loss's code.

    Args:
      loss: a loss spec with a closed form: a built-in, or a loss registered with
        ``logits_grad``.

    Returns:
      ``f(logits, labels)``, equal in value to the loss, differentiable in ``logits``.

    Raises:
      ValueError: naming ``loss`` when it has no closed form.
    """
    bound = resolve_loss(loss)
    if not bound.has_closed_form:
        raise ValueError(
            f"loss: {bound.name!r} has no closed-form logits gradient; register one with "
            "register_loss(name, fn, logits_grad=...)"
        )

    @jax.custom_vjp
    def f(logits, labels):
        return bound.fn(logits, labels)

    def fwd(logits, labels):
        return bound.fn(logits, labels), (logits, labels)

    def bwd(residuals, g):
        logits, labels = residuals  # validated by fwd: no second check
        if bound.is_builtin:
            z = jnp.asarray(logits)
            return g * kernel_logits_grad(bound, z, to_targets(z, labels)), None
        return g * bound.logits_grad(logits, labels), None

    f.defvjp(fwd, bwd)

    def loss_with_closed_form_grad(logits, labels):
        return f(logits, as_array(labels, "labels"))

    loss_with_closed_form_grad.__name__ = f"{bound.name}_with_closed_form_grad"
    return loss_with_closed_form_grad


def _layer_grads(a_prev, delta, has_bias: bool):
    """∂J/∂W_l = A_{l−1}ᵀ δ_l and ∂J/∂b_l = Σ_rows δ_l (seed 000 eqs. 9-14, seed 003)."""
    grads = {"w": a_prev.T @ delta}
    if has_bias:
        grads["b"] = jnp.sum(delta, axis=0)
    return grads


def params_grad(params, x, labels, loss):
    """Gradients of a single-layer model (softmax/logistic/linear regression).

    :math:`\\partial L/\\partial W = X^\\top G / N`,
    :math:`\\partial L/\\partial b = \\sum_i G_i / N`
    with G = ∂ℓ/∂Z from :func:`per_sample_logits_grad` (seed 000 eqs. 9-14; seed 001).

    Args:
      params: ``[{"w": (D, K), "b": (K,)}]`` (``"b"`` optional), a list or tuple.
      x: a batch (N, D), N ≥ 1; for one sample pass ``x[None]``.
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).
      loss: a built-in loss spec.

    Returns:
      Gradients with the structure of ``params`` (same container type).
    """
    if isinstance(params, list | tuple) and len(params) != 1:
        check_params(params)
        raise ValueError(
            f"params: params_grad is for a single-layer model, got {len(params)} layers; "
            "use backprop for an MLP"
        )
    return backprop(params, x, labels, loss, None)


def backprop(params, x, labels, loss, activations=None):
    """MLP gradients of the mean loss by the backprop recursion (SPEC §4).

    .. math::
        δ_L = ∂L/∂Z_L,\\quad δ_l = (δ_{l+1} W_{l+1}^\\top) ∘ f_l'(Z_l),\\quad
        ∂L/∂W_l = A_{l-1}^\\top δ_l,\\quad ∂L/∂b_l = \\textstyle\\sum_{\\text{rows}} δ_l

    (seed 002; seed 003; seed 004) with δ_L from :func:`logits_grad` (so the 1/N of the
    mean is inside every δ). For softmax + CCE δ_L = (A_L − Y)/N, as in seeds 002-004.
    A softmax hidden layer uses its Jacobian-vector product instead of the element-wise f′.

    Everything is validated here, once, before the forward pass; the forward kernel and
    :func:`backprop_from_forward` check nothing again.

    Args:
      params: as returned by ``mlp_init`` (a list of layer dicts; a tuple works too).
      x: a batch (N, D), N ≥ 1; for one sample pass ``x[None]`` (and ``y[None]``).
      labels: int ids (N,) or target rows (N, K) (or (N,) targets when K = 1).
      loss: a built-in loss spec: a name or ``(name, {kwargs})``.
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
    bound = _builtin(loss)
    labels = check_labels(labels, sizes[-1], np.shape(x)[0], bound)
    zs, hidden = forward(params, x, acts)
    z = zs[-1]
    delta = kernel_logits_grad(bound, z, to_targets(z, labels))
    return backprop_from_forward(params, zs, hidden, delta, acts)


def backprop_from_forward(params, zs, hidden, logits_delta, activations):
    """The backward half of :func:`backprop`, reusing a forward pass's ``zs`` and ``hidden``.
    An internal kernel for traced programs: it validates nothing.

    Args:
      params: the MLP params (a list or tuple of layer dicts).
      zs, hidden: as returned by ``mlp_forward(params, x, activations)``.
      logits_delta: δ_L = ∂(mean loss)/∂Z_L, shape (N, K).
      activations: the RESOLVED hidden activations, ``resolve_activations(...)``'s tuple
        of ``BoundActivation`` (one per hidden layer).

    Returns:
      Gradients with the pytree structure and container type of ``params``.
    """
    delta = logits_delta
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = _layer_grads(hidden[l], delta, "b" in params[l])
        if l > 0:
            delta = activations[l - 1].backward(zs[l - 1], delta @ params[l]["w"].T)
    if isinstance(params, tuple) and hasattr(params, "_fields"):  # a NamedTuple
        return type(params)(*grads)
    return type(params)(grads)
