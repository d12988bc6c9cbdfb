"""The pure computing core of a sweep: configs in, arrays out.

A sweep's numeric axes (lr, init scale, init seed) change only array *values*, so every
model of one data order runs in one program::

    sweep_fn = make_train(config, stacked=True)         # = vmap(make_train(config))
    sweep_fn(params_stack, lr_stack, data_key, data)    # M models at once

``data_key`` and ``data`` are *not* batched: the epoch's permutation is computed once and
every model trains on the same minibatches, so a minibatch is one row gather ``x[idx]``
and the M models' forward pass is one wide matmul ``(B, D) @ (D, M·K)``. ``stacked``
vmaps only each model's step and evaluation, not the loops around them, so the loops
carry the weights as (D, M, K), one (D, M·K) matrix, rather than (M, D, K), which XLA
copied to (D, M·K) and back at every step.

Losses. The models of every loss share that one program: they sit on the model axis in
static contiguous blocks, one per loss (:func:`block_layout`), and the step's loss is a
:class:`~softjax.sweeps.mixed.BlockedLoss` whose ``custom_vmap`` rule runs each loss on
its own block only. So the gather, the forward matmul and the backward ``Xᵀ G`` are
shared by all the grid's models, while each loss's value, gradient and the per-step
diagnostics built from them cost only its block (a ``lax.switch`` on a batched loss index
would instead become a select running every loss for every model). One call of the
program is one data seed's models of every loss; data seeds are a Python loop over
calls. The program is compiled once per block layout (:func:`build_program` caches it),
so a fresh grid compiles once for all its losses and data seeds; a resumed grid whose
missing models form other blocks compiles once more. :func:`shared_program` keeps the
built programs across ``sweep()`` calls of one process, keyed on what identifies a
resumed record (the config's fields, the user functions' code), so a later call with the
same base config and losses (another lr grid, another seed, an lr search's next round)
neither traces nor loads the program again.

Several devices: the config axis is split over them (:func:`device_order`), and each
device runs the one-device program on its own share (:func:`per_device`; nothing is
communicated). Every device must see the same blocks, so each loss's block is padded to
a multiple of the device count with copies of its last model and the axis is ordered
device-major (:func:`block_layout`). The result equals the one-device result up to float
rounding (XLA may round a narrower matmul differently).

Several processes (JAX's multi-controller runtime): every process runs the same script,
calls ``jax.distributed.initialize()`` first, then the same ``sweep()``. ``jax.devices()``
is then every process's devices, so the mesh spans them all and each process trains the
shares of its own devices as above. Outputs are gathered to every process
(``process_allgather``), and
what only process 0 can know (the records already on disk, the run id, a lock refused)
reaches the others through :func:`softjax.sweeps.handshake.share_from_first`.
``tests/test_multiprocess.py`` runs 2 and 4 CPU processes (gloo collectives over
127.0.0.1).
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from softjax.compilation_cache import process_cached
from softjax.config import TrainConfig, init_params, seed_keys
from softjax.fingerprint import Unfingerprintable, code_fingerprints
from softjax.losses import BoundLoss
from softjax.results import to_jsonable
from softjax.sweeps.mixed import BlockedLoss
from softjax.training import make_train

CONFIG_AXIS = "configs"

MIN_MODELS_PER_DEVICE = 2
"""Each device trains at least this many models (padding if needed): with one model XLA
drops the size-1 model axis and takes a different code path, so that one model would
round differently from its copy in a wide run."""


def init_key(seed: int):
    """The init key of seed ``seed``: ``split(PRNGKey(seed))[0]``, as ``train()`` uses."""
    return seed_keys(seed)[0]


def data_key(seed: int):
    """The data-order key of seed ``seed``: ``split(PRNGKey(seed))[1]``, as ``train()``."""
    return seed_keys(seed)[1]


def make_sweep(config: TrainConfig, loss=None):
    """``sweep_fn(params_stack, lr_stack, data_key, data) -> (params, history, finite)``.

    :func:`softjax.training.make_train` with ``stacked=True``: what ``jax.vmap`` of one
    model's ``train_fn`` over its first two arguments computes (the params pytree and the
    lr carry a leading model axis M, ``data_key`` and data are shared), with only each
    model's step and evaluation vmapped, so the epoch loops carry the M models' weights
    as one wide matrix. Outputs have the leading axis M: ``history[key]`` is (M, epochs)
    ((M, epochs, L) for the per-layer keys), ``finite`` is (M,). Each model freezes its
    own params when it diverges; the program stops early only once all have. ``loss``
    replaces ``config.loss`` (a :class:`~softjax.sweeps.mixed.BlockedLoss` for mixed
    losses). Pure: ``jit`` it.
    """
    return make_train(config, loss=loss, stacked=True)


def init_stack(config: TrainConfig, init_keys, init_scales, dtype=jnp.float32):
    """The params of M models, ``init_params(config, init_keys[i], init_scales[i])``."""
    return jax.vmap(lambda k, s: init_params(config, k, s, dtype=dtype))(init_keys, init_scales)


def build_program(base: TrainConfig, losses: Sequence[BoundLoss], dtype, mesh: Mesh | None):
    """``program(blocks)``: the compiled ``(unit_params, init_scales, lrs, data_key, data)
    -> (params, history, finite)`` for one block layout, built once per layout.

    ``unit_params`` is the stack of each model's init at scale 1
    (``program.unit_params(seed)``, made outside the compiled program); the program
    multiplies it by ``init_scales``, which is ``init_params(base, key, scale)``
    exactly. Drawing the init outside matters for compile time: vmapped truncated-normal
    draws are a large part of each program's compile, paid again by every block layout,
    i.e. by every lr extension round of :mod:`softjax.sweeps.adaptive`; drawn eagerly, as
    ``train()`` draws them, each seed's init compiles once for its shapes.

    ``base`` holds what every model shares (its ``loss``, ``lr``, ``init_scale`` and
    ``seed`` are the models' own); ``losses`` are the grid's resolved losses. ``blocks``
    is a static tuple of ``(loss index, models per device)``: each device's models are
    those blocks in that order, each trained with ``losses[loss index]`` through one
    :class:`~softjax.sweeps.mixed.BlockedLoss` (init included). Sharded over ``mesh``'s
    devices when given: per-model inputs and all outputs split along the config axis,
    the rest replicated.
    """

    @functools.cache
    def program(blocks: tuple[tuple[int, int], ...]):
        loss = BlockedLoss(tuple(losses[i] for i, _ in blocks), tuple(m for _, m in blocks))
        sweep_fn = make_sweep(base, loss)

        def run(unit_params, init_scales, lrs, data_key, data):
            return sweep_fn(scaled(unit_params, init_scales), lrs, data_key, data)

        program = process_cached(jax.jit(run))
        return program if mesh is None else per_device(program, local_slots(mesh), mesh.size)

    @functools.cache
    def unit_params(seed: int):
        # Eager, as train() draws its init, so the two see the same bits.
        return init_params(base, init_key(seed), 1.0, dtype=dtype)

    program.unit_params = unit_params
    return program


PROGRAMS_KEPT = 8
"""How many :func:`build_program` programs :func:`shared_program` keeps (least recently
used first out); each holds its compiled executables."""

_programs: collections.OrderedDict = collections.OrderedDict()


def program_key(base: TrainConfig, losses: Sequence[BoundLoss], dtype, mesh: Mesh | None):
    """What :func:`build_program`'s program depends on, as a hashable key, or None when a
    user function cannot be identified (its program is then never shared).

    The base config with each loss (the program reads ``losses``, never ``base.loss``)
    enters as the resume key's parts (:func:`softjax.sweeps.storage.config_key`): its
    fields serialised and the fingerprints of the user functions it computes with
    (:func:`softjax.fingerprint.code_fingerprints`). A key two different programs shared
    would hand one grid another's results, so anything unidentifiable means no key."""
    parts = []
    for config in (base.replace(loss=loss) for loss in losses):
        try:
            codes = sorted(code_fingerprints(config).items())
        except Unfingerprintable:
            return None
        parts.append((repr(to_jsonable(config)), tuple(codes)))
    return tuple(parts), str(np.dtype(dtype)), mesh


def shared_program(base: TrainConfig, losses: Sequence[BoundLoss], dtype, mesh: Mesh | None):
    """:func:`build_program`'s program, the same one for every call of this process with
    the same :func:`program_key` (the last :data:`PROGRAMS_KEPT` of them): JAX's own
    caches then serve its traced and compiled forms, where a new program would trace
    again and load its executable from the persistent cache (about a second a call for
    the 48-model MNIST sweep). Built anew when the key is None."""
    key = program_key(base, losses, dtype, mesh)
    if key is None:
        return build_program(base, losses, dtype, mesh)
    if key not in _programs:
        _programs[key] = build_program(base, losses, dtype, mesh)
        while len(_programs) > PROGRAMS_KEPT:
            _programs.popitem(last=False)
    _programs.move_to_end(key)
    return _programs[key]


def clear_programs() -> None:
    """Forgets :func:`shared_program`'s programs (their executables are freed with them)."""
    _programs.clear()


def device_order(mesh: Mesh) -> list[jax.Device]:
    """``mesh``'s devices in the order the config axis is split over them: process by
    process (in process order), each process's in the mesh's order. Device k trains the
    k-th share (:func:`block_layout`), so each process's shares are contiguous and
    ``process_allgather(tiled=True)`` returns the config axis in order.

    Raises:
      ValueError: naming ``mesh`` when its processes hold unequal numbers of its devices
        (every process of the run must hold the same number, at least one).
    """
    devices = sorted(mesh.devices.flat, key=lambda d: d.process_index)
    counts = collections.Counter(d.process_index for d in devices)
    held = [counts[p] for p in range(jax.process_count())]
    if len(set(held)) != 1:
        raise ValueError(
            "mesh: expected every process to hold the same number of its devices, got "
            + ", ".join(f"process {p}: {n}" for p, n in enumerate(held))
        )
    return devices


def local_slots(mesh: Mesh) -> tuple[tuple[int, jax.Device], ...]:
    """This process's devices of ``mesh``, each with its share's index on the config axis
    (:func:`device_order`)."""
    return tuple(
        (k, d) for k, d in enumerate(device_order(mesh)) if d.process_index == jax.process_index()
    )


def per_device(program, slots, n_slots: int):
    """``program`` (the one-device compiled program) run on each of this process's
    devices on that device's share of the config axis: for ``(k, device)`` in ``slots``
    (:func:`local_slots`), the device-major slice ``[k·m, (k+1)·m)`` of every per-model
    input (``m = len(init_scales) / n_slots``, :func:`block_layout`) and a copy of the
    data, all on ``device``. The calls are dispatched before any is awaited, so the
    devices train at once. Returns this process's models, in slot order, as numpy (one
    device's arrays as they come); :func:`run_group`'s ``process_allgather(tiled=True)``
    concatenates the processes' in process order, the config axis in order.

    Why not ``shard_map``: it computes the same thing, but XLA then lays the loop's
    weights out model-first and transposes them at every step (issue 35: 1.7× slower per
    step); here each device's loop keeps the one-device program's wide (D, M·K) layout.
    Nothing is communicated during training either way. The price: each device's
    executable is compiled (or loaded) once, on CPU a compile per device on a first run
    (JAX's CPU cache keys hold the device; its GPU keys do not).
    """

    def call(unit_params, init_scales, lrs, data_key, data):
        m = len(init_scales) // n_slots

        def on(slot):
            k, device = slot
            own = functools.partial(
                jax.tree.map, lambda a: jax.device_put(a[k * m : (k + 1) * m], device)
            )
            shared = jax.device_put((data_key, data), device)
            return program(own(unit_params), own(init_scales), own(lrs), *shared)

        if len(slots) == 1:
            return on(slots[0])
        # Dispatch is asynchronous: every device is training before the first is awaited.
        # (Not threads: JAX's config, e.g. jax.enable_x64, is thread-local.)
        outs = [on(slot) for slot in slots]
        return jax.tree.map(lambda *a: np.concatenate(a), *jax.device_get(outs))

    return call


def scaled(unit_params, init_scales):
    """Model i's params ``unit_params[i] · init_scales[i]``: what ``init_params`` computes
    from the scale-1 draw (``w · init_scale``, ``b · init_scale``)."""
    return jax.vmap(lambda p, s: jax.tree.map(lambda a: a * s, p))(unit_params, init_scales)


def block_layout(loss_indices: Sequence[int], n_devices: int):
    """Where each model of a mixed group sits on the config axis.

    Every device holds the same blocks: loss ℓ's n_ℓ models padded to
    ``ceil(n_ℓ / n_devices)`` per device (with copies of its last model), in loss order,
    at least :data:`MIN_MODELS_PER_DEVICE` in all (the last block grows). The axis is
    device-major: slot ``d · per_device + offset_ℓ + j mod b_ℓ`` holds loss ℓ's model j,
    ``d = j // b_ℓ``, so the contiguous split (:func:`per_device`) gives device d its
    ``[block 1 | block 2 | …]``.

    Returns:
      ``(blocks, slots, where)``: ``blocks`` the static ``((loss index, b_ℓ), …)``;
      ``slots[k]`` the input index whose model fills slot k; ``where[i]`` input i's slot.
    """
    members: dict[int, list[int]] = {}
    for i, loss_index in enumerate(loss_indices):
        members.setdefault(int(loss_index), []).append(i)
    order = sorted(members)
    sizes = [-(-len(members[ell]) // n_devices) for ell in order]
    sizes[-1] += max(0, MIN_MODELS_PER_DEVICE - sum(sizes))
    per_device = sum(sizes)
    slots = np.empty(per_device * n_devices, np.int64)
    where = np.empty(len(loss_indices), np.int64)
    offset = 0
    for ell, b in zip(order, sizes, strict=True):
        own = members[ell]
        for j, i in enumerate(own + [own[-1]] * (b * n_devices - len(own))):
            slots[(j // b) * per_device + offset + j % b] = i
            if j < len(own):
                where[i] = (j // b) * per_device + offset + j % b
        offset += b
    return tuple(zip(order, sizes, strict=True)), slots, where


def default_mesh() -> Mesh | None:
    """A 1-D mesh named ``"configs"`` over all devices, or None with a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    return Mesh(np.array(devices), (CONFIG_AXIS,))


def padded_size(n: int, n_devices: int) -> int:
    """The config axis length of ``n`` models of one loss (see :func:`block_layout`): a
    multiple of ``n_devices``, ≥ MIN_MODELS_PER_DEVICE each."""
    return len(block_layout([0] * n, n_devices)[1])


def _fetch(tree):
    """Device arrays to numpy on every host (gathering across hosts when there are many)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def run_group(program, points, data, mesh, dtype, data_seed: int):
    """Runs one data seed's grid points, every loss at once, through ``program``
    (:func:`build_program`).

    ``points[i]["loss_index"]`` picks model i's loss, ``points[i]["config"]`` (a
    :class:`~softjax.config.TrainConfig`) its ``seed``, ``init_scale`` and ``lr``; the
    models are laid out by :func:`block_layout`.

    Returns:
      ``(params, history, finite)`` as numpy, leading axis ``len(points)`` in the order of
      ``points``: the stacked final params, ``{key: (n, epochs)}`` for every key the
      program returns, and (n,) flags.
    """
    n_devices = mesh.size if mesh is not None else 1
    blocks, slots, where = block_layout([p["loss_index"] for p in points], n_devices)
    padded = [points[i] for i in slots]
    seeds = [p["config"].seed for p in padded]
    units = {s: jax.device_get(program.unit_params(s)) for s in set(seeds)}
    unit_params = jax.tree.map(lambda *a: np.stack(a), *[units[s] for s in seeds])
    scales = np.array([p["config"].init_scale for p in padded], dtype)
    lrs = np.array([p["config"].lr for p in padded], dtype)
    out = program(blocks)(unit_params, scales, lrs, data_key(data_seed), data)
    params, history, finite = _fetch(jax.block_until_ready(out))
    params = jax.tree.map(lambda a: np.asarray(a)[where], params)
    history = {k: np.asarray(v)[where] for k, v in history.items()}
    return params, history, np.asarray(finite)[where]
