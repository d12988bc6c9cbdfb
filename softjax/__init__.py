"""softjax: the lecture notes on softmax regression and neural networks as pure JAX.

The pipeline, in import order: numerics → activations → losses → models → grads →
train → sweep. See README.md for a tour.
"""

from softjax.activations import ACTIVATIONS, Activation, resolve_activation
from softjax.grads import backprop, logits_grad, params_grad, per_sample_logits_grad
from softjax.losses import LOSS_NAMES, LOSSES, as_targets, get_loss
from softjax.models import INITS, mlp_apply, mlp_forward, mlp_init
from softjax.numerics import (
    log1m_softmax,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softmax_jacobian,
    softmax_vjp,
    softplus,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "LOSS_NAMES",
    "Activation",
    "as_targets",
    "backprop",
    "get_loss",
    "log1m_softmax",
    "log_softmax",
    "logits_grad",
    "logsumexp",
    "mlp_apply",
    "mlp_forward",
    "mlp_init",
    "params_grad",
    "per_sample_logits_grad",
    "resolve_activation",
    "sigmoid",
    "softmax",
    "softmax_jacobian",
    "softmax_vjp",
    "softplus",
]
