"""softjax: the lecture notes on softmax regression and neural networks as pure JAX.

The pipeline, in import order: numerics → activations → losses → models, user_models →
grads → data → optim → config → inputs → evaluation → hidden → history → diagnostics →
step → layout → training → checkpoint → run → results → sweeps → plots. See README.md for
a tour.

The modules are ``softjax.training`` and ``softjax.sweeps`` so that ``softjax.train``
and ``softjax.sweep`` can be the functions themselves without shadowing a module.
``softjax.data`` never imports TensorFlow until a tfds load asks for it.
"""

from softjax.activations import ACTIVATIONS, Activation, register_activation, resolve_activation
from softjax.checkpoint import load_checkpoint, save_checkpoint
from softjax.config import TrainConfig, init_params
from softjax.data import (
    Dataset,
    load_dataset,
    make_blobs,
    make_gaussian_classes,
    make_learn_sleep,
)
from softjax.evaluation import evaluate, predict, predict_proba
from softjax.grads import (
    backprop,
    logits_grad,
    params_grad,
    per_sample_logits_grad,
    with_closed_form_grad,
)
from softjax.losses import LOSSES, BoundLoss, as_targets, register_loss, resolve_loss
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
from softjax.run import TrainResult, train
from softjax.sweeps import make_sweep, sweep
from softjax.training import TrainState, make_train
from softjax.user_models import Model, flax_model

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Dataset",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "Model",
    "flax_model",
    "evaluate",
    "load_checkpoint",
    "predict",
    "predict_proba",
    "save_checkpoint",
    "init_params",
    "load_dataset",
    "make_blobs",
    "make_gaussian_classes",
    "make_learn_sleep",
    "make_sweep",
    "make_train",
    "sweep",
    "train",
    "INITS",
    "LOSSES",
    "BoundLoss",
    "Activation",
    "as_targets",
    "backprop",
    "log1m_softmax",
    "log_softmax",
    "logits_grad",
    "logsumexp",
    "mlp_apply",
    "mlp_forward",
    "mlp_init",
    "params_grad",
    "per_sample_logits_grad",
    "register_activation",
    "register_loss",
    "resolve_activation",
    "resolve_loss",
    "with_closed_form_grad",
    "sigmoid",
    "softmax",
    "softmax_jacobian",
    "softmax_vjp",
    "softplus",
]
