"""The checked inputs of a run: :class:`Data` and :func:`validate`, at the public boundary.

Everything a careless or hostile caller can pass wrong is caught here, in plain Python
before anything compiles, with an error that names the argument, says what was expected
and what came: the config's fields (:func:`softjax.config.check_config`), the data's
shapes, dtypes and values (non-finite features or target rows, empty splits, strings), and
a caller's params (widths, dtypes, finiteness). Code inside the compiled program trusts
what passes.

:func:`compact` is how checked data is stored on the device: 8-bit images scaled to
[0, 1] travel as their byte codes and are decoded, exactly, one batch at a time
(:func:`features`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from softjax.config import (
    TrainConfig,
    check_config,
    check_fields,
    check_loss,
    init_params,
    steps_per_epoch,
)
from softjax.data.dataset import PIXEL_SCALE
from softjax.losses import BoundLoss
from softjax.models import check_params
from softjax.optim import make_schedule, optimizer_factory
from softjax.targets import check_labels
from softjax.user_models import check_model_params, model_classes


class Data(NamedTuple):
    """The arrays ``train_fn`` needs, resident on the device; ``x_val``/``y_val`` may be
    None (no validation split), which decides the history's keys at trace time.

    ``x_scale`` None: the ``x_*`` are the features. Otherwise (:func:`compact`) they are
    uint8 codes k standing for the float32 features ``k / x_scale``, and the program reads
    them through :func:`features`; which of the two is also decided at trace time."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    x_val: Any = None
    y_val: Any = None
    x_scale: Any = None


#: The loaders' pixel scale, one rule: code k stands for ``float32(k) / 255``.
BYTE_SCALE = PIXEL_SCALE
_BYTE_VALUES = np.arange(256, dtype=np.float32) / np.float32(BYTE_SCALE)
_CHUNK = 1 << 20  # entries per pass: a few MiB of temporaries, not a copy of the data


def byte_codes(x) -> np.ndarray | None:
    """``x``'s uint8 codes k with ``float32(k) / 255 == x`` bit for bit (the sign of zero
    included), or None when ``x`` is not float32 or any entry is not such a value.

    >>> byte_codes(np.array([[0.0, 1.0]], np.float32))
    array([[  0, 255]], dtype=uint8)
    >>> byte_codes(np.array([0.5], np.float32)) is None
    True
    """
    a = np.asarray(x)
    if a.dtype != np.float32 or a.size == 0:
        return None
    flat, codes = a.reshape(-1), np.empty(a.size, np.uint8)
    for start in range(0, flat.size, _CHUNK):
        part = flat[start : start + _CHUNK]
        k = np.rint(part * np.float32(BYTE_SCALE))
        if not (np.all(k >= 0) and np.all(k <= BYTE_SCALE)):
            return None
        k = k.astype(np.uint8)
        if not np.array_equal(_BYTE_VALUES[k].view(np.uint32), part.view(np.uint32)):
            return None
        codes[start : start + part.size] = k
    return codes.reshape(a.shape)


def compact(data: Data, *, shuffled: bool = True) -> Data:
    """The data as the program stores it: when the batches are shuffled and every split's
    features are 8-bit images scaled to [0, 1] (``k / 255``, as
    :func:`softjax.data.load_dataset` gives them), their uint8 codes and ``x_scale=255``;
    otherwise ``data`` unchanged.

    The numbers are the same (:func:`features` decodes bit for bit), the features take a
    quarter of the memory, and an epoch's shuffled copy of them is cheap enough that the
    program gathers each epoch's rows once instead of each batch's. In order
    (``shuffled=False``) the batches are contiguous slices with nothing to gather, and
    decoding would only add a pass per step, so the floats stay. Float64 or any other
    features are left alone.
    """
    if data.x_scale is not None or not shuffled:
        return data
    names = [f"x_{s}" for s in ("train", "test", "val") if getattr(data, f"x_{s}") is not None]
    codes = {}
    for name in names:
        codes[name] = byte_codes(getattr(data, name))
        if codes[name] is None:
            return data
    return data._replace(**codes, x_scale=np.float32(BYTE_SCALE))


def features(data: Data, x):
    """The float features of stored rows ``x`` of ``data`` (traced): ``x`` itself, or
    its codes decoded, ``float32(k) / x_scale``, bit for bit the loader's values."""
    if data.x_scale is None:
        return x
    # A true division: XLA turns ``/ broadcast(s)`` into ``* (1/s)``, which is off by an
    # ulp for some k; dividing by a materialized array keeps IEEE division's rounding.
    divisor = lax.optimization_barrier(jnp.full(x.shape, data.x_scale, jnp.float32))
    return x.astype(jnp.float32) / divisor


def as_data(data) -> Data:
    """A Dataset, a 4-tuple ``(x_train, y_train, x_test, y_test)`` or a 6-tuple
    ``(x_train, y_train, x_val, y_val, x_test, y_test)`` as :class:`Data`."""
    if hasattr(data, "x_train"):
        return Data(
            data.x_train,
            data.y_train,
            data.x_test,
            data.y_test,
            getattr(data, "x_val", None),
            getattr(data, "y_val", None),
        )
    if isinstance(data, Sequence) and not isinstance(data, str) and len(data) == 4:
        return Data(*data)
    if isinstance(data, Sequence) and not isinstance(data, str) and len(data) == 6:
        x_train, y_train, x_val, y_val, x_test, y_test = data
        return Data(x_train, y_train, x_test, y_test, x_val, y_val)
    raise ValueError(
        "data: expected a Dataset, a 4-tuple (x_train, y_train, x_test, y_test) or a "
        f"6-tuple (x_train, y_train, x_val, y_val, x_test, y_test), got {type(data).__name__}"
    )


def splits(data: Data) -> tuple[str, ...]:
    """The evaluated splits: ``("val", "test")`` with a validation split, else ``("test",)``."""
    return ("val", "test") if data.x_val is not None else ("test",)


def _dtype(x, argname: str) -> np.dtype:
    """The array's dtype, refusing strings and objects without printing the array."""
    dtype = np.dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"{argname}: expected a numeric array, got dtype {dtype}")
    return dtype


def check_finite(x, argname: str) -> None:
    """NaN and ±inf anywhere in a float array are an error that counts them."""
    if not np.issubdtype(_dtype(x, argname), np.floating):
        return
    a = np.asarray(x)
    if not np.isfinite(a).all():
        nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
        raise ValueError(
            f"{argname}: expected finite values, got {nan} NaN and {inf} inf among {a.size} values"
        )


def warn_integer_features(x, argname: str) -> None:
    """Integer features train as given, but raw 8-bit images (0–255) are almost always a
    missing ``/ 255``: say so once, naming the array and its largest value."""
    dtype = _dtype(x, argname)
    if dtype.kind in "iu" and np.size(x):
        top = np.max(np.asarray(x))
        warnings.warn(
            f"{argname}: integer features (dtype {dtype}, largest value {top}) train as "
            "given; images are usually scaled to [0, 1] first (x / 255, as "
            "softjax.load_dataset gives them)",
            UserWarning,
            stacklevel=4,
        )


def check_features(x, width: int, argname: str) -> None:
    """Features ``(N ≥ 1, width)``, numeric and finite (integer ones with a warning)."""
    warn_integer_features(x, argname)
    shape = np.shape(x)
    if len(shape) != 2 or shape[1] != width:
        raise ValueError(
            f"{argname}: expected shape (N, {width}) to match config.sizes[0], got shape {shape}"
        )
    if shape[0] == 0:
        raise ValueError(f"{argname}: expected at least 1 row, got 0 (an empty split)")
    check_finite(x, argname)


def check_user_params(params, config: TrainConfig, argname: str = "params") -> None:
    """A caller's params: the config's widths and biases, float dtypes, finite values."""
    if config.model is not None:  # softjax.user_models: init_fn's tree and shapes
        for name, value in check_model_params(params, config, argname):
            check_finite(value, name)
        return
    got = check_params(params, argname)
    if got != tuple(config.sizes):
        raise ValueError(f"{argname}: expected layer widths {list(config.sizes)}, got {list(got)}")
    if config.bias != all("b" in layer for layer in params):
        raise ValueError(f"{argname}: config.bias={config.bias} but the params' biases differ")
    for i, layer in enumerate(params):
        for key, value in layer.items():
            name = f"{argname}[{i}][{key!r}]"
            if not np.issubdtype(_dtype(value, name), np.floating):
                raise ValueError(f"{name}: expected a floating dtype, got {np.dtype(value.dtype)}")
            check_finite(value, name)


def validate(config: TrainConfig, data, params=None) -> Data:
    """Checks a config against its data (and a caller's params), before compiling.

    Returns:
      The data as :class:`Data`.

    Raises:
      ValueError: naming the field or argument, what was expected and what came.
    """
    return check_run(config, data, params)[0]


def check_run(config: TrainConfig, data, params=None) -> tuple[Data, BoundLoss]:
    """:func:`validate`, also returning the config's loss, resolved once for the run."""
    loss = check_config(config)
    data = check_data(config, data, [loss])
    if params is not None:
        check_user_params(params, config)
    _check_optimizer_runs(config, params, np.shape(data.x_train)[0])
    return data, loss


def check_runs(config: TrainConfig, data, losses: Sequence[BoundLoss]) -> Data:
    """Checks runs of ``config`` on ``data`` that differ in their (resolved) loss, lr and
    init scale, as a sweep's grid does: each field, each loss and each array once.

    ``config.lr`` and ``config.init_scale`` are the grid's to check (its axes).

    Raises:
      ValueError: naming the field or argument, what was expected and what came.
    """
    check_fields(config, grid_axes=True)
    for loss in losses:
        check_loss(config, loss)
    data = check_data(config, data, losses)
    _check_optimizer_runs(config, None, np.shape(data.x_train)[0])
    return data


def check_data(config: TrainConfig, data, losses: Sequence[BoundLoss]) -> Data:
    """Checks ``data`` for ``config``'s model and each of ``losses``: every split's
    features once (shapes, dtypes, finite values), its labels once per loss name (each
    loss has its own label rules; its keyword arguments do not change them), and the
    batch size against the training rows.

    Returns:
      The data as :class:`Data`.
    """
    data = as_data(data)
    if (data.x_val is None) != (data.y_val is None):
        raise ValueError("data: expected both x_val and y_val, or neither")
    label_rules = list({loss.name: loss for loss in losses}.values())
    for name in ("train", *splits(data)):
        x, y = getattr(data, f"x_{name}"), getattr(data, f"y_{name}")
        if config.model is None:
            sizes = tuple(config.sizes)
            check_features(x, sizes[0], f"data.x_{name}")
            classes = sizes[-1]
        else:  # softjax.user_models: any input shape, K from the model's logits
            warn_integer_features(x, f"data.x_{name}")
            check_finite(x, f"data.x_{name}")
            classes = model_classes(config, x, f"data.x_{name}")
        _dtype(y, f"data.y_{name}")
        for loss in label_rules:
            # check_labels also refuses non-finite target rows (the rule lives there, once).
            check_labels(y, classes, np.shape(x)[0], loss, f"data.y_{name}")
    n = np.shape(data.x_train)[0]
    if config.batch_size > n:
        raise ValueError(
            f"config.batch_size: expected an int in [1, {n}] (the training set size), "
            f"got {config.batch_size!r}"
        )
    return data


def _check_optimizer_runs(config: TrainConfig, params, n: int) -> None:
    """Traces one optimizer step with its schedule abstractly (``jax.eval_shape``: no
    compiling, no FLOPs).

    Catches optimizers whose ``update`` needs more than ``(grads, state, params)``, such as
    ``optax.lbfgs``, and factories or schedules that do not trace, before the real program
    is built.
    """
    steps = steps_per_epoch(config, n)
    warmup = dict(config.schedule_kwargs).get("warmup_steps", 0)
    if config.schedule == "warmup_cosine" and warmup >= steps * config.epochs:
        raise ValueError(
            f"config.schedule_kwargs['warmup_steps']: expected fewer than the run's "
            f"{steps * config.epochs} steps ({config.epochs} epochs of {steps}), got {warmup}"
        )

    if params is None:
        params = jax.eval_shape(lambda: init_params(config, jax.random.PRNGKey(0)))

    def one_update(p):
        tx = optimizer_factory(config)(make_schedule(config, jnp.float32(1.0), steps))
        updates, _ = tx.update(p, tx.init(p), p)
        return updates

    what = "config.optimizer" if config.schedule is None else "config.schedule"
    try:
        jax.eval_shape(one_update, params)
    except Exception as e:  # noqa: BLE001 - any failure here means the step won't run
        raise ValueError(
            f"{what}: {config.optimizer!r} with schedule {config.schedule!r} cannot be used "
            f"as update(grads, state, params) in a training step: {type(e).__name__}: {e}"
        ) from None
