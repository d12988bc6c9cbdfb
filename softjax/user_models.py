"""Any model in the training and sweep engine: the model protocol, its checks, a flax adapter.

A model is a pair of pure functions, given as ``TrainConfig(model=(init_fn, apply_fn))``
(or a :class:`Model`, which also carries a name):

* ``init_fn(key) -> params``: the initial params, a pytree of float arrays, from a
  ``jax.random`` key (the run's init key, ``seed_keys(config.seed)[0]``);
* ``apply_fn(params, x) -> logits``: the logits (B, K) of a batch ``x`` (B, …) of the
  data's features, in any shape the model takes (images (B, 28, 28, 1) for a CNN).

A flax module goes through :func:`flax_model` (flax is an optional extra,
``pip install softjax[flax]``). ``config.model=None`` (the default) is the MLP of
``config.sizes``, which keeps its own fast path (the stacked models' one wide matmul).

What the engine does with a user model:

* **Init scale.** ``init_scale`` multiplies every leaf of ``init_fn``'s params (after a
  cast to the data's float dtype): θ₀ = s · init_fn(key). For a single dense layer that
  scales the logits by s, as for the MLP; for deeper or normalised models it is simply the
  scale of every initial parameter.
* **Gradients.** ``jax.vjp`` of ``apply_fn`` split at the logits, so ∂L/∂z (for the
  logit-level diagnostics) comes at no extra cost; ``grad="closed_form"`` is the MLP's
  backprop and is refused.
* **Diagnostics.** The logit-level ones (``logits_grad_norm``, ``logits_grad_norm_wrong``,
  ``saturated_wrong``, ``grad_cos_ce``) are computed as for the MLP. The hidden-layer ones
  (``hidden_fprime``, ``hidden_saturated`` and their ``_first``/``_last``) are NaN with
  L = 1: they need each hidden layer's pre-activations Z_l and activation f, which an
  opaque ``apply_fn`` does not expose.
* **Everything else** (lr, loss, init-scale and seed grids in :func:`softjax.sweep`,
  validation selection, checkpoints, exact resume) is the same program as for an MLP.
* **Records.** ``TrainConfig.to_dict`` writes the model as ``{"callable":
  "<name>"}``: the :class:`Model`'s ``name``, by default ``apply_fn``'s
  ``module.qualname`` (a flax module's class and fields, and its input shape). A sweep's
  resume key includes it, so give two different models two names.

Checks, at the public boundary before anything compiles (``jax.eval_shape``: no FLOPs):
``init_fn(key)`` gives a non-empty pytree of float arrays, and ``apply_fn`` on a batch of
each split gives (batch, K) float logits, K the classes the labels are checked against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

EVAL_CHUNK = 2048
"""Rows per forward pass when a user model evaluates a whole split (``lax.map`` over
chunks), so a CNN's activations over 10,000 test images never sit in memory at once."""

NO_HIDDEN = ("hidden_fprime", "hidden_saturated")


class Model(NamedTuple):
    """A user model: ``init(key) -> params`` and ``apply(params, x) -> logits (B, K)``.

    Attributes:
      init: ``init_fn(key) -> params``, a pytree of float arrays.
      apply: ``apply_fn(params, x) -> logits``, pure, batch first.
      name: what records and checkpoints call it (``TrainConfig.to_dict``); None:
        ``apply``'s ``module.qualname``.
    """

    init: Callable
    apply: Callable
    name: str | None = None

    @property
    def spec(self) -> dict[str, str]:
        """``{"callable": name}``: how ``TrainConfig.to_dict`` records it (a dict cannot
        rebuild it; pass it to ``TrainConfig.from_dict(d, model=...)``)."""
        if self.name is not None:
            return {"callable": self.name}
        fn = self.apply
        module = getattr(fn, "__module__", None) or type(fn).__module__
        qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        return {"callable": f"{module}.{qualname}"}


def as_model(value):
    """``config.model`` normalised: an ``(init_fn, apply_fn)`` tuple or list of two
    functions becomes a :class:`Model`; anything else is returned unchanged (and checked
    by :func:`check_model`)."""
    if type(value) in (tuple, list) and len(value) == 2 and all(map(callable, value)):
        return Model(*value)
    return value


def flax_model(module, input_shape, *, name: str | None = None) -> Model:
    """A flax ``linen`` module as a :class:`Model`.

    ``init(key) = module.init(key, zeros((1, *input_shape)))`` (the module's whole
    variables dict) and ``apply = module.apply``. Only stateless modules: variables other
    than ``"params"`` (BatchNorm's ``batch_stats``) would need a mutable apply.

    Args:
      module: a ``flax.linen.Module`` mapping a batch (B, *input_shape) to logits (B, K).
      input_shape: one example's shape, without the batch axis, e.g. ``(28, 28, 1)``.
      name: the record's name for it; None: the module's class, fields and input shape.

    Raises:
      ValueError: naming ``module`` for a non-module or one with state, or
        ``input_shape`` for a shape that is not a tuple of positive ints.
    """
    try:
        from flax import linen as nn
    except ImportError as e:  # an optional extra
        raise ImportError("flax_model needs flax: pip install 'softjax[flax]'") from e
    if not isinstance(module, nn.Module):
        raise ValueError(f"module: expected a flax.linen.Module, got {type(module).__name__}")
    shape = tuple(input_shape) if isinstance(input_shape, list | tuple) else None
    if not shape or not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ValueError(
            f"input_shape: expected one example's shape, a tuple of positive ints such as "
            f"(28, 28, 1), got {input_shape!r}"
        )

    def init(key):
        return module.init(key, jnp.zeros((1, *shape), jnp.float32))

    variables = jax.eval_shape(init, jax.random.PRNGKey(0))
    if set(variables) != {"params"}:
        raise ValueError(
            f"module: expected a stateless module (variables {{'params'}} only), got "
            f"collections {sorted(variables)}"
        )
    if name is None:
        cls = type(module)
        fields = ", ".join(
            f"{f.name}={getattr(module, f.name)!r}"
            for f in dataclasses.fields(module)
            if f.name not in ("parent", "name")
        )
        name = f"{cls.__module__}.{cls.__qualname__}({fields}) on {shape}"
    return Model(init, module.apply, name)


def _describe(model) -> str:
    return f"{type(model).__name__} {model!r:.80}"


def check_model(config) -> Model:
    """The config fields a user model rules, and its ``init_fn`` (abstractly).

    Raises:
      ValueError: naming ``config.model`` for a value that is not a model or an init that
        fails or gives non-float leaves; naming an MLP-only field (``sizes``,
        ``activations``, ``bias``, ``init``, ``grad="closed_form"``) set with a model.
    """
    model = as_model(config.model)
    if not isinstance(model, Model) or not (callable(model.init) and callable(model.apply)):
        hint = (
            " (a flax module needs its input shape: softjax.flax_model(module, input_shape))"
            if hasattr(model, "init") and hasattr(model, "apply")
            else ""
        )
        raise ValueError(
            "config.model: expected an (init_fn, apply_fn) pair of functions, a "
            f"softjax.Model or softjax.flax_model(module, input_shape), got "
            f"{_describe(model)}{hint}"
        )
    if model.name is not None and not isinstance(model.name, str):
        raise ValueError(f"config.model: expected a str name or None, got {model.name!r}")
    if config.sizes is not None:
        raise ValueError(
            f"config.sizes: a user model (config.model) has its own layers; expected "
            f"sizes=None, got {config.sizes!r}"
        )
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for field in ("activations", "bias", "init"):
        if getattr(config, field) != defaults[field]:
            raise ValueError(
                f"config.{field}: an MLP field, unused by a user model (config.model); "
                f"expected the default {defaults[field]!r}, got {getattr(config, field)!r}"
            )
    if config.grad == "closed_form":
        raise ValueError(
            "config.grad: 'closed_form' is the MLP's backprop (the notes' formulas); a user "
            "model (config.model) trains with grad='autodiff'"
        )
    abstract_params(model)
    return model


def abstract_params(model: Model, dtype=None):
    """``init_fn``'s params as shapes and dtypes (``jax.eval_shape``), cast to ``dtype``.

    Raises:
      ValueError: naming ``config.model`` when ``init_fn(key)`` fails, gives no leaves,
        or a leaf that is not a float array.
    """
    try:
        params = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    except Exception as e:  # noqa: BLE001 - any failure: the user's init does not run
        raise ValueError(f"config.model: init_fn(key) failed: {type(e).__name__}: {e}") from None
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise ValueError("config.model: expected init_fn(key) to give params with arrays, got none")
    for path, leaf in leaves:
        dtype_ = getattr(leaf, "dtype", None)
        if dtype_ is None or not jnp.issubdtype(dtype_, jnp.floating):
            raise ValueError(
                f"config.model: expected init_fn(key) to give a pytree of float arrays, got "
                f"{dtype_} at params{jax.tree_util.keystr(path)}"
            )
    if dtype is None:
        return params
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, dtype), params)


def model_classes(config, x, argname: str) -> int:
    """K, the logits' width of ``config.model`` on a batch of ``x`` (N ≥ 1 rows, any
    trailing shape), traced abstractly; the labels of the split are checked against it.

    Raises:
      ValueError: naming ``argname`` for an empty split, naming ``config.model`` when
        ``apply_fn`` fails on the batch or gives anything but float logits (batch, K).
    """
    model = as_model(config.model)
    shape = np.shape(x)
    if len(shape) < 1 or shape[0] == 0:
        raise ValueError(f"{argname}: expected at least 1 row, got shape {shape}")
    dtype = np.dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)
    float_dtype = dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)
    params = abstract_params(model, float_dtype)
    batch = min(config.batch_size, shape[0])
    x_batch = jax.ShapeDtypeStruct((batch, *shape[1:]), dtype)
    try:
        out = jax.eval_shape(model.apply, params, x_batch)
    except Exception as e:  # noqa: BLE001 - any failure: the user's apply does not run
        raise ValueError(
            f"config.model: apply_fn(params, x) failed on a batch of {argname} of shape "
            f"{(batch, *shape[1:])}: {type(e).__name__}: {e}"
        ) from None
    ok = (
        isinstance(out, jax.ShapeDtypeStruct)
        and len(out.shape) == 2
        and out.shape[0] == batch
        and out.shape[1] >= 1
        and jnp.issubdtype(out.dtype, jnp.floating)
    )
    if not ok:
        got = jax.tree.map(lambda a: (a.shape, str(a.dtype)), out)
        raise ValueError(
            f"config.model: expected apply_fn(params, x) on a batch of {argname} of shape "
            f"{(batch, *shape[1:])} to give float logits of shape ({batch}, K), got {got}"
        )
    return int(out.shape[1])


def check_model_params(params, config, argname: str = "params") -> list[tuple[str, Any]]:
    """A caller's params for ``config.model``: ``init_fn``'s tree, shapes, float dtypes.

    Returns:
      ``[(name, leaf)]`` for the caller's finiteness check.

    Raises:
      ValueError: naming ``argname`` (or the leaf) for another structure or shape, or a
        non-float leaf.
    """
    want = abstract_params(as_model(config.model))
    try:
        got_leaves, got_tree = jax.tree.flatten(params)
    except Exception:  # noqa: BLE001 - not a pytree at all
        got_leaves, got_tree = None, None
    want_leaves, want_tree = jax.tree.flatten(want)
    if got_tree != want_tree:
        raise ValueError(
            f"{argname}: expected the structure of config.model's init_fn(key), "
            f"{want_tree}, got {got_tree}"
        )
    named = []
    for (path, w), g in zip(jax.tree_util.tree_leaves_with_path(want), got_leaves, strict=True):
        name = f"{argname}{jax.tree_util.keystr(path)}"
        if np.shape(g) != tuple(w.shape):
            raise ValueError(f"{name}: expected shape {tuple(w.shape)}, got {np.shape(g)}")
        dtype = np.dtype(g.dtype if hasattr(g, "dtype") else np.asarray(g).dtype)
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(f"{name}: expected a floating dtype, got {dtype}")
        named.append((name, g))
    return named


def init_model_params(model: Model, key, scale, dtype):
    """θ₀ = ``scale`` · init_fn(key), every leaf cast to ``dtype`` first (``scale`` may be
    traced: it is vmapped over in sweeps)."""
    return jax.tree.map(lambda a: jnp.asarray(a, dtype) * scale, model.init(key))


def logits_and_grads(model: Model, loss, params, x, y):
    """One batch's logits, mean loss, ∂L/∂logits and ∂L/∂params: the VJP of ``apply_fn``
    split at the logits (the logit-level diagnostics need ∂L/∂z)."""
    logits, apply_vjp = jax.vjp(lambda p: model.apply(p, x), params)
    value, g_logits = loss.value_and_grad(logits, y)
    (grads,) = apply_vjp(g_logits)
    return logits, value, g_logits, grads


def no_hidden_stats() -> dict[str, Any]:
    """The hidden-layer diagnostics' per-step sums for a user model: NaN, L = 1 (an
    opaque ``apply_fn`` exposes no hidden layer's Z and f)."""
    nan = jnp.full((1,), jnp.nan, jnp.float32)
    return {k: nan for k in NO_HIDDEN}


def model_logits(model: Model, params, x):
    """``apply_fn(params, x)`` over a whole split, :data:`EVAL_CHUNK` rows at a time."""
    n = x.shape[0]
    full = n - n % EVAL_CHUNK
    if full == 0:
        return model.apply(params, x)
    chunks = x[:full].reshape(full // EVAL_CHUNK, EVAL_CHUNK, *x.shape[1:])
    head = lax.map(lambda xb: model.apply(params, xb), chunks)
    head = head.reshape(full, head.shape[-1])
    if full == n:
        return head
    return jnp.concatenate([head, model.apply(params, x[full:])])
