"""Where M stacked models keep their model axis, and how per-model work is vmapped.

A sweep trains M models that share every minibatch in one program. Their leaves keep
the model axis second for a matrix and up ((d_in, M, d_out): the M models' weights side
by side, so ``W.reshape(d_in, M·d_out)`` is free and the forward pass of every model is
one matmul with no transposing copy), first for vectors and scalars (:func:`model_axis`).
:func:`per_model` vmaps only each model's own work in that layout; the loops around it
carry the stacked weights as one wide matrix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def model_axis(ndim: int) -> int:
    """Where stacked models keep their model axis in a leaf whose one-model value has
    ``ndim`` dims: second for a matrix and up, first for vectors and scalars."""
    return 1 if ndim >= 2 else 0


def model_axes(tree):
    """``vmap`` axes of a tree of stacked models' leaves (see :func:`model_axis`)."""
    return jax.tree.map(lambda a: model_axis(jnp.ndim(a) - 1), tree)


def to_model_layout(tree):
    """M models' leaves from a leading model axis (M, …) to :func:`model_axis`'s layout."""
    return jax.tree.map(lambda a: jnp.moveaxis(a, 0, model_axis(jnp.ndim(a) - 1)), tree)


def from_model_layout(tree):
    """The inverse of :func:`to_model_layout`: the model axis back in front."""
    return jax.tree.map(lambda a: jnp.moveaxis(a, model_axis(jnp.ndim(a) - 1), 0), tree)


def per_model(f, *args, shared=(), stacked: bool = False):
    """``f(*args, *shared)`` for one model, or with ``stacked`` for every stacked model:
    ``vmap`` over ``args`` in :func:`model_axis`'s layout (outputs in it too), ``shared``
    unbatched."""
    if not stacked:
        return f(*args, *shared)
    axes = model_axes(args)
    # One model's outputs (a trace, no compile) give the outputs' axes.
    one_model = jax.tree.map(
        lambda a, ax: jax.ShapeDtypeStruct(tuple(np.delete(np.shape(a), ax)), a.dtype),
        args,
        axes,
    )
    out_shapes = jax.eval_shape(lambda *a: f(*a, *shared), *one_model)
    out_axes = jax.tree.map(lambda a: model_axis(len(a.shape)), out_shapes)
    in_axes = (*axes, *(None,) * len(shared))
    return jax.vmap(f, in_axes=in_axes, out_axes=out_axes)(*args, *shared)
