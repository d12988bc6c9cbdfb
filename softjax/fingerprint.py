"""What identifies a run beyond its names: the user's functions, and the data.

Resume must never hand back a result that another configuration computed, and names do not
say what a function computes (two lambdas share ``<lambda>``; a re-registered loss keeps
its name). A user function is identified by **what it computes**: a sha256 over its code
object (bytecode, constants and nested code objects, the names it reads), its closure
values, defaults and the globals its code reads, recursively; ``functools.partial`` by its
function and arguments; a callable object by its class and attributes; ``jax.jit`` and
``functools.wraps`` wrappers by what they wrap. A function of an installed library (jax,
optax, numpy, the standard library, softjax) is named ``module.qualname`` with the
library's version, plus its closure and defaults. Every fingerprint covers the Python
version and ``softjax.__version__``. Where none is possible (a C function no library
owns, an object with hidden state, a tracer) :class:`Unfingerprintable` is raised and
callers refuse to reuse rather than guess (:func:`point_code`). Built-in losses,
activations, optimizers and schedules are identified by their names, as before.

:func:`softjax.data.fingerprint.data_fingerprint` identifies the data;
:func:`check_user_functions` traces the
user's functions once, abstractly, so a wrong shape is a ``ValueError`` naming the field.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import types
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from softjax.activations import _BUILTIN_NAMES, ACTIVATIONS, resolve_activations
from softjax.data.fingerprint import data_splits
from softjax.losses import BoundLoss, resolve_loss
from softjax.user_models import model_classes


class Unfingerprintable(ValueError):
    """A function whose computation cannot be identified; never reuse its results."""


def softjax_version() -> str:
    """``softjax.__version__``, read from the loaded package (importing it would be a circle)."""
    return str(getattr(sys.modules.get("softjax"), "__version__", "unknown"))


def _library(module: str | None) -> str | None:
    """``"<package> <version>"`` when ``module`` belongs to softjax, the standard library
    or an installed package (site-packages); None for user code."""
    if not module:
        return None
    top = module.split(".")[0]
    if top == "softjax":
        return f"softjax {softjax_version()}"
    if top in sys.stdlib_module_names or top == "builtins":
        return f"python {sys.version_info[0]}.{sys.version_info[1]}"
    package = sys.modules.get(top)
    path = str(getattr(package, "__file__", "") or "")
    if "site-packages" in path or "dist-packages" in path:
        return f"{top} {getattr(package, '__version__', 'unknown')}"
    return None


class _Hasher:
    """One fingerprint: feeds a sha256 with a canonical walk over values and functions."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.active: set[int] = set()  # objects being walked, to cut reference cycles

    def feed(self, *tokens) -> None:
        for token in tokens:
            self.h.update(f"{token}\x00".encode())

    def value(self, x, where: str) -> None:
        if x is None or isinstance(x, bool | int | float | complex | str | bytes):
            self.feed(type(x).__name__, repr(x))
        elif isinstance(x, np.ndarray | np.generic | jax.Array):
            if isinstance(x, jax.core.Tracer):
                raise Unfingerprintable(f"{where}: a traced array has no value to identify")
            a = np.ascontiguousarray(np.asarray(x))
            self.feed("array", a.dtype.str, a.shape)
            self.h.update(a.tobytes())
        elif id(x) in self.active:
            self.feed("cycle", type(x).__qualname__)
        else:
            self.active.add(id(x))
            try:
                self._compound(x, where)
            finally:
                self.active.discard(id(x))

    def _compound(self, x, where: str) -> None:
        if isinstance(x, list | tuple):
            self.feed(type(x).__qualname__, len(x))
            for i, v in enumerate(x):
                self.value(v, f"{where}[{i}]")
        elif isinstance(x, Mapping):
            items = sorted((self.sub(k, where), k) for k in x)
            self.feed(type(x).__qualname__, len(items))
            for digest, k in items:
                self.feed(digest)
                self.value(x[k], f"{where}[{k!r}]")
        elif isinstance(x, set | frozenset):
            self.feed(type(x).__qualname__, *sorted(self.sub(v, where) for v in x))
        elif isinstance(x, types.ModuleType):
            self.feed("module", x.__name__)
        elif isinstance(x, types.CodeType):
            self.code(x, where)
        elif isinstance(x, type):
            self.cls(x, where)
        elif isinstance(x, types.FunctionType):
            self.function(x, where)
        elif isinstance(x, functools.partial):
            self.feed("partial")
            self.value(x.func, f"{where}.func")
            self.value(x.args, f"{where}.args")
            self.value(x.keywords, f"{where}.keywords")
        elif isinstance(x, types.MethodType):
            self.feed("method")
            self.value(x.__func__, f"{where}.__func__")
            self.value(x.__self__, f"{where}.__self__")
        else:
            self.other(x, where)

    def sub(self, x, where: str) -> str:  # x alone, to sort a set's or dict's members
        inner = _Hasher()
        inner.active = self.active
        inner.value(x, where)
        return inner.h.hexdigest()

    def code(self, code: types.CodeType, where: str) -> None:
        self.feed("code", code.co_code.hex(), code.co_names, code.co_varnames, code.co_freevars)
        self.feed(code.co_argcount, code.co_kwonlyargcount, code.co_flags)
        for const in code.co_consts:
            self.value(const, f"{where} (a constant)")

    def function(self, fn: types.FunctionType, where: str) -> None:
        name = f"{fn.__module__}.{fn.__qualname__}"
        library = _library(fn.__module__)
        if library is not None:
            self.feed("library function", name, library)
        else:
            self.feed("function")  # by its code, not its name
            self.code(fn.__code__, f"{where} ({name})")
            for global_name in sorted(_global_names(fn.__code__)):
                if global_name in fn.__globals__:
                    self.feed("global", global_name)
                    self.value(fn.__globals__[global_name], f"{where} (global {global_name})")
        for i, cell in enumerate(fn.__closure__ or ()):
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell (a name bound later)
                content = "<empty cell>"
            self.value(content, f"{where} ({name}: closure {fn.__code__.co_freevars[i]})")
        self.value(fn.__defaults__, f"{where} ({name}: defaults)")
        self.value(fn.__kwdefaults__, f"{where} ({name}: keyword defaults)")

    def cls(self, cls: type, where: str) -> None:
        name = f"{cls.__module__}.{cls.__qualname__}"
        library = _library(cls.__module__)
        if library is not None:
            self.feed("library class", name, library)
            return
        self.feed("class", cls.__qualname__)
        for base in cls.__bases__:
            self.value(base, f"{where} ({name}: base)")
        for attr, member in sorted(vars(cls).items()):
            if attr not in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__"):
                member = getattr(member, "__func__", member)  # static and class methods
                if isinstance(member, property):
                    member = (member.fget, member.fset, member.fdel)
                self.feed(attr)
                self.value(member, f"{where} ({name}.{attr})")

    def other(self, x, where: str) -> None:
        wrapped = getattr(x, "__wrapped__", None)
        module = getattr(x, "__module__", None)
        qualname = getattr(x, "__qualname__", None)
        if wrapped is not None and wrapped is not x:  # jax.jit, functools.wraps
            self.feed("wrapper", type(x).__qualname__)
            self.value(wrapped, f"{where}.__wrapped__")
        elif isinstance(x, np.ufunc):
            self.feed("ufunc", x.__name__, f"numpy {np.__version__}")
        elif isinstance(x, types.BuiltinFunctionType) or (qualname and not hasattr(x, "__dict__")):
            library = _library(module)
            if library is None or not qualname:
                raise Unfingerprintable(
                    f"{where}: the C function {x!r} belongs to no installed library, so what "
                    "it computes cannot be identified"
                )
            self.feed("library builtin", f"{module}.{qualname}", library)
        elif hasattr(x, "__dict__"):
            self.feed("object")
            self.value(type(x), f"{where} (its class)")
            self.value(dict(vars(x)), f"{where} (its attributes)")
        else:
            raise Unfingerprintable(
                f"{where}: {type(x).__qualname__} object {x!r} has no inspectable state, so "
                "what it computes cannot be identified"
            )


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def function_fingerprint(fn, where: str = "function") -> str:
    """A sha256 (32 hex digits) of what ``fn`` computes (module docstring), with the
    Python and softjax versions.

    Raises:
      Unfingerprintable: naming ``where`` and the part that cannot be identified.
    """
    hasher = _Hasher()
    hasher.feed(f"python {sys.version_info[0]}.{sys.version_info[1]}", softjax_version())
    hasher.value(fn, where)
    return hasher.h.hexdigest()[:32]


def user_functions(config) -> dict[str, Any]:
    """The user's functions a config computes with, by config field: a loss that is not
    a built-in (with its closed-form gradient under ``grad="closed_form"``), a user model
    (its init and apply functions), an optimizer
    or schedule factory, registered activations. Built-ins (names) are absent."""
    found: dict[str, Any] = {}
    loss = _resolved(config.loss)
    if not loss.is_builtin:
        grad = loss.record.logits_grad if config.grad == "closed_form" else None
        found["loss"] = (loss.function, loss.kwargs, grad)
    if config.model is not None:  # a user model: what its init and apply compute
        found["model"] = (config.model.init, config.model.apply)
    if callable(config.optimizer):
        found["optimizer"] = config.optimizer
    if callable(config.schedule):
        found["schedule"] = config.schedule
    names = sorted({a.name for a in _activations(config)} - _BUILTIN_NAMES)
    if names:
        found["activations"] = {n: ACTIVATIONS[n] for n in names}
    return found


def _resolved(spec) -> BoundLoss:
    """A loss spec resolved, or the resolved loss itself (resolved once per run)."""
    return spec if isinstance(spec, BoundLoss) else resolve_loss(spec, "config.loss")


def _activations(config):  # the hidden layers' activations (none for a single layer)
    if config.model is not None:  # a user model: its functions are config.model's
        return ()
    return resolve_activations(config.activations, len(tuple(config.sizes)) - 2)


def code_fingerprints(config) -> dict[str, str]:
    """``{field: function_fingerprint}`` of :func:`user_functions`; empty for a config
    made of names only.

    Raises:
      Unfingerprintable: naming the config field whose function cannot be identified.
    """
    return {
        field: function_fingerprint(fn, f"config.{field}")
        for field, fn in user_functions(config).items()
    }


def point_code(config, what: str = "sweep") -> str | None:
    """The part of a resume key that identifies ``config``'s user functions: None for a
    config of names only (keys as before), a sha256 of :func:`code_fingerprints`, or,
    where a function cannot be identified, a fresh random value with a
    ``RuntimeWarning``: its results are never reused (they are re-run)."""
    try:
        codes = code_fingerprints(config)
    except Unfingerprintable as e:
        warnings.warn(
            f"{what}: {e}; its configs will not reuse earlier records (they run again)",
            RuntimeWarning,
            stacklevel=3,
        )
        return f"unidentifiable-{uuid.uuid4().hex}"
    if not codes:
        return None
    text = "\n".join(f"{k}={v}" for k, v in sorted(codes.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _traced(fn, field: str, name: str, *args):
    try:
        return jax.eval_shape(fn, *args)
    except Exception as e:  # noqa: BLE001 - any failure here means the program won't build
        raise ValueError(
            f"{field}: {name} must be a pure JAX function (jit/grad/vmap-able), but tracing "
            f"it failed: {type(e).__name__}: {e}"
        ) from None


def check_user_functions(config, data, losses=None) -> None:
    """Traces the user's loss (or each of ``losses``, a sweep's: specs or resolved losses),
    closed-form logits gradient and activations of ``config`` once on one batch's shapes
    (``jax.eval_shape``: no compiling, no FLOPs), before the real program is built.

    A loss must return a scalar batch mean, a ``logits_grad`` an array of the logits'
    shape (N, K), an activation (and its derivative) an array of its input's shape.

    Raises:
      ValueError: naming the config field and the function, for a function that does not
        trace (not jittable) or returns the wrong shape.
    """
    x, y = data_splits(data)["train"]
    batch = min(int(config.batch_size), int(np.shape(x)[0]))
    dtype = jnp.result_type(np.asarray(x[:1]).dtype, jnp.float32)
    if config.model is None:
        sizes = tuple(config.sizes)
        classes = sizes[-1]
    else:  # a user model: K from its logits (softjax.user_models checked the model itself)
        classes = model_classes(config, x, "data.x_train")
    logits = jax.ShapeDtypeStruct((batch, classes), dtype)
    labels = jax.ShapeDtypeStruct((batch, *np.shape(y)[1:]), np.asarray(y[:1]).dtype)
    for spec in [config.loss] if losses is None else losses:
        _check_loss(_resolved(spec), config.grad, logits, labels)
    for i, act in enumerate(_activations(config)):
        if act.name in _BUILTIN_NAMES:
            continue
        z = jax.ShapeDtypeStruct((batch, sizes[i + 1]), dtype)
        for part in ("fn", "grad"):
            fn = getattr(ACTIVATIONS[act.name], part)
            name = f"activation {act.name!r}'s {part} ({_qualname(fn)})"
            out = _traced(getattr(act, part), "config.activations", name, z)
            if _shape(out) != z.shape:
                raise ValueError(
                    f"config.activations: {name} must act element-wise and return its "
                    f"input's shape {z.shape}, got {_shape(out)}"
                )


def _check_loss(loss, grad_mode, logits, labels) -> None:
    if loss.is_builtin:
        return
    batch = logits.shape[0]
    name = f"the loss {loss.name!r} ({_qualname(loss.function)})"
    out = _traced(loss.fn, "config.loss", name, logits, labels)
    if getattr(out, "shape", None) != ():
        raise ValueError(
            f"config.loss: {name} must return a scalar batch mean, got an array of shape "
            f"{getattr(out, 'shape', type(out).__name__)} for logits {logits.shape}"
            + (" (one value per sample? take the mean)" if _shape(out)[:1] == (batch,) else "")
        )
    grad = loss.record.logits_grad
    if grad_mode == "closed_form" and grad is not None:
        gname = f"the closed-form logits_grad of {loss.name!r} ({_qualname(grad)})"
        out = _traced(loss.logits_grad, "config.loss", gname, logits, labels)
        if _shape(out) != logits.shape:
            raise ValueError(
                f"config.loss: {gname} must return ∂loss/∂logits of the logits' shape "
                f"{logits.shape}, got {_shape(out)}"
            )


def _shape(out) -> tuple:
    return tuple(getattr(out, "shape", ("not an array",)))


def _qualname(fn) -> str:
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
