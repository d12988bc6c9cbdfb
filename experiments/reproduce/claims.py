"""The notes' reproduced claims, as data: one :class:`Claim` per row of ``reproduce.md``.

A claim names its item and source (docs/SPEC.md §5), the run that checks it (a
:class:`Run`: a :class:`~softjax.training.TrainConfig` on a dataset with a set of seeds,
or a small function for the toy rows), what the notes say, how the run is measured and
the judgement (a :class:`Target`). ``python -m experiments.reproduce`` runs every claim in one
loop; a row's setting text is generated from its run by :func:`describe`, so it cannot
drift from what ran.

A new reproduced number is one more :class:`Claim` in :data:`CLAIMS` (and a :class:`Run`
if no existing run measures it; a measure from :mod:`experiments.measures` or a new one).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from experiments.reproduce import measures
from softjax.training import TrainConfig

# ------------------------------------------------------------------------ judgements


def _num(x: float) -> str:
    return f"{x:.0e}".replace("e-0", "e-") if 0 < abs(x) < 1e-3 else f"{x:g}"


@dataclasses.dataclass(frozen=True)
class Target:
    """A judgement as data: ``low ≤ value ≤ high`` (either side may be open).

    ``text(of_mean)`` is the row's "target" cell, written from the same numbers that
    ``judge`` compares with, so the two cannot disagree.
    """

    low: float = -math.inf
    high: float = math.inf
    kind: str = "bar"  # "bar" | "within" | "range" | "equal" | "close"
    unit: str = "%"
    center: float | None = None  # the notes' number, for kind "within"
    decimals: int | None = None  # for kind "equal"
    name: str = ""  # the quantity: "accuracy ≥ 90%", "|ΔJ| < 1e-5"
    note: str = ""  # a parenthetical after the bar, e.g. "our bar"

    def judge(self, value: float) -> bool:
        return bool(self.low <= value <= self.high) and not math.isnan(value)

    def text(self, of_mean: bool = False) -> str:
        mean = " (mean)" if of_mean and not self.note else ""
        note = f" ({self.note})" if self.note else ""
        if self.kind == "within":
            return f"within ±{self.high - self.center:g} pp"
        if self.kind == "range":
            return f"in [{self.low:g}, {self.high:g}]"
        if self.kind == "equal":
            return f"equal to {self.decimals} decimals"
        if self.kind == "close":
            return f"|Δ{self.name}| < {_num(self.high)}"
        side = f"≥ {self.low:g}" if math.isfinite(self.low) else f"≤ {self.high:g}"
        name = f"{self.name} " if self.name else ""
        return f"{name}{side}{self.unit}{mean}{note}"


def at_least(bar: float, name: str = "", note: str = "") -> Target:
    return Target(low=bar, name=name, note=note)


def at_most(bar: float) -> Target:
    return Target(high=bar)


def within(center: float, tol: float) -> Target:
    """``|value − center| ≤ tol`` percentage points."""
    return Target(low=center - tol, high=center + tol, kind="within", center=center)


def in_range(low: float, high: float) -> Target:
    return Target(low=low, high=high, kind="range")


def equal_to(decimals: int) -> Target:
    """The value is the largest deviation after rounding to ``decimals``: it must be 0."""
    return Target(low=0.0, high=0.0, kind="equal", decimals=decimals)


def close(name: str, tol: float) -> Target:
    """The value is ``|got − expected|``, which must stay below ``tol``."""
    return Target(high=tol, kind="close", name=name)


# ------------------------------------------------------------------------------ runs


@dataclasses.dataclass(frozen=True)
class Run:
    """One training setup that claims measure: ``config`` on ``data``, once per seed.

    Attributes:
      name: a key in the results (``wall_s``, the provenance configs).
      config: what trains.
      data: ``"mnist"`` (tfds order), ``"mnist_file"`` (the raw files' order), ``"blobs"``
        or ``"learn_sleep"`` (drawn afresh for each seed).
      seeds: which seed set: ``"all"``, ``"mnist"``, ``"mlp"`` (``--mlp-seeds``) or
        ``"one"`` (a deterministic run: seed 0 only).
      full_batch: the batch is the whole training set (its size comes from the data).
      init: ``"homework"`` starts from :func:`measures.homework_mlp_init` instead of
        ``config.init``.
      quick: the config changes of a ``--quick`` run.
    """

    name: str
    config: TrainConfig
    data: str
    seeds: str = "all"
    full_batch: bool = False
    init: str | None = None
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def for_quick(self) -> Run:
        return dataclasses.replace(self, config=self.config.replace(**self.quick))


@dataclasses.dataclass(frozen=True)
class Claim:
    """One row of the reproduction table.

    Attributes:
      item: the item number (rows of one item share it).
      id: a stable row id.
      source: where the number comes from (a seed of docs/SPEC.md, or "brief").
      run: a :class:`Run`, or a function ``() -> measures.Measured`` for a toy row.
      measure: ``(trained) -> measures.Measured`` for a :class:`Run`; ``None`` for a toy row.
      notes: what the notes say, as text.
      target: the judgement; ``None`` for rows that only show something.
    """

    item: int
    id: str
    source: str
    run: Run | Callable[[], measures.Measured]
    measure: Callable[..., measures.Measured] | None
    notes: str
    target: Target | None


# ------------------------------------------------------------- the notes' settings

BLOBS = Run(
    "blobs",
    TrainConfig(sizes=(2, 3), init="uniform01", loss="cce", lr=2.0, epochs=40, shuffle=False),
    data="blobs",
    full_batch=True,
)
SEED_MNIST = Run(
    "seed_mnist",
    TrainConfig(
        sizes=(784, 10), init="torch_linear", loss="cce", lr=0.001, batch_size=64, epochs=5
    ),
    data="mnist",
    seeds="mnist",
    quick={"epochs": 1},
)
_HW_SOFTMAX = TrainConfig(
    sizes=(784, 10), bias=False, init="zeros", lr=0.2, batch_size=100, epochs=10, shuffle=False
)
HW_SOFTMAX_FILE = Run(
    "hw_softmax_file", _HW_SOFTMAX, data="mnist_file", seeds="one", quick={"epochs": 2}
)
HW_SOFTMAX_TFDS = dataclasses.replace(HW_SOFTMAX_FILE, name="hw_softmax_tfds", data="mnist")
_HW_MLP = TrainConfig(
    sizes=(784, 400, 10),
    activations="relu",
    bias=False,
    init="fan_out_normal",
    lr=0.2,
    batch_size=100,
    epochs=20,
    shuffle=False,
)
HW_MLP = Run("hw_mlp", _HW_MLP, "mnist", seeds="mlp", quick={"epochs": 1, "sizes": (784, 64, 10)})
HW_MLP_HOMEWORK_INIT = dataclasses.replace(
    HW_MLP, name="hw_mlp_homework_init", data="mnist_file", seeds="one", init="homework"
)
# Item 6's lr falls tenfold for the last 3 epochs: a step schedule inside the one program
# (the Adam state carries on across the step).
TUNED_SOFTMAX = Run(
    "tuned_softmax",
    TrainConfig(
        sizes=(784, 10),
        optimizer="adam",
        lr=1e-3,
        schedule="step",
        schedule_kwargs={"boundaries": [10], "factor": 0.1},
        batch_size=100,
        epochs=13,
    ),
    data="mnist",
    seeds="mnist",
    quick={"epochs": 2, "schedule_kwargs": {"boundaries": [1], "factor": 0.1}},
)
TUNED_MLP = Run(
    "tuned_mlp",
    TrainConfig(
        sizes=(784, 256, 256, 10),
        activations="relu",
        init="he_normal",
        optimizer="adam",
        lr=1e-3,
        schedule="step",
        schedule_kwargs={"boundaries": [8], "factor": 0.1},
        batch_size=128,
        epochs=11,
    ),
    data="mnist",
    seeds="mlp",
    quick={"epochs": 2, "schedule_kwargs": {"boundaries": [1], "factor": 0.1}},
)
LEARN_SLEEP = Run(
    "learn_sleep",
    TrainConfig(
        sizes=(2, 3, 4, 1),
        activations="sigmoid",
        loss="sigmoid_bce",
        optimizer="adam",
        lr=0.01,
        batch_size=16,
        epochs=300,
    ),
    data="learn_sleep",
    quick={"epochs": 100},
)

# The notes' numbers (docs/SPEC.md §5) and the bars the brief sets.
SEED_MNIST_ACCURACY = 84.77
SEED_MNIST_LAST_EPOCH_LOSS = (0.73, 0.97)
HW_SOFTMAX_ERROR, HW_MLP_ERROR = 7.97, 1.89

CLAIMS: tuple[Claim, ...] = (
    Claim(
        1,
        "toy_forward",
        "seed 001",
        measures.toy_forward,
        None,
        f"z = {list(measures.TOY_Z)}, a = {list(measures.TOY_A)}",
        equal_to(3),
    ),
    Claim(
        1,
        "toy_loss",
        "seed 001",
        measures.toy_loss,
        None,
        f"J = −(log .9 + log .8 + log .7) = {measures.TOY_J:.5f}; likelihood of point 1 = 0.9",
        close("J", 1e-5),
    ),
    Claim(
        2,
        "blobs",
        "seed 001",
        BLOBS,
        measures.blobs,
        "no accuracy in the notes (the loop only)",
        at_least(90.0, name="accuracy", note="our bar"),
    ),
    Claim(
        3,
        "seed_mnist_accuracy",
        "seed 001 (PyTorch)",
        SEED_MNIST,
        measures.test_accuracy,
        f"{SEED_MNIST_ACCURACY}% test accuracy",
        within(SEED_MNIST_ACCURACY, 1.5),
    ),
    Claim(
        3,
        "seed_mnist_loss",
        "seed 001 (PyTorch)",
        SEED_MNIST,
        measures.last_epoch_loss,
        "batch loss 2.25 at the start, {}–{} at the end".format(*SEED_MNIST_LAST_EPOCH_LOSS),
        in_range(*SEED_MNIST_LAST_EPOCH_LOSS),
    ),
    *(
        Claim(
            4,
            row_id,
            "homework hw0 (seed 004's course)",
            run,
            measures.test_error,
            f"{HW_SOFTMAX_ERROR}% test error",
            at_most(8.1),
        )
        for row_id, run in (
            ("hw_softmax_raw", HW_SOFTMAX_FILE),
            ("hw_softmax_tfds", HW_SOFTMAX_TFDS),
        )
    ),
    *(
        Claim(
            5,
            row_id,
            "homework hw0 (seed 004's course)",
            run,
            measures.test_error,
            f"{HW_MLP_ERROR}% test error",
            at_most(2.1),
        )
        for row_id, run in (("hw_mlp_exact", HW_MLP_HOMEWORK_INIT), ("hw_mlp_seeds", HW_MLP))
    ),
    Claim(
        6,
        "tuned_softmax",
        "brief (no number in the notes)",
        TUNED_SOFTMAX,
        measures.test_accuracy,
        "—",
        at_least(92.5),
    ),
    Claim(
        6,
        "tuned_mlp",
        "brief (no number in the notes)",
        TUNED_MLP,
        measures.test_accuracy,
        "—",
        at_least(98.3),
    ),
    Claim(
        7,
        "learn_sleep",
        "seed 003",
        LEARN_SLEEP,
        measures.learn_sleep,
        "no number in the notes",
        None,
    ),
    Claim(
        8,
        "seed_mnist_probabilities",
        "seed 001",
        SEED_MNIST,
        measures.probabilities,
        "shown as figures, no number",
        None,
    ),
)


# --------------------------------------------------------------------- setting text

_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam"}


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def describe(run: Run, data_text: str = "", train_size: int | None = None) -> str:
    """A run's setting, written from its config: what the "setting" column shows.

    >>> describe(SEED_MNIST)
    '784-10, init torch_linear, CCE, SGD lr 0.001, batch 64, shuffled, 5 epochs'
    """
    c = run.config
    model = "-".join(map(str, c.sizes))
    if len(c.sizes) > 2:
        model += f" {c.activations}"
    if not c.bias:
        model += ", no bias"
    if run.init == "homework":
        h = c.sizes[1]
        init = f"the homework's init (np.random.seed(0), W1 = randn/√{h}, W2 = randn/√10)"
    else:
        init = f"init {c.init}" + (f" ×{c.init_scale:g}" if c.init_scale != 1 else "")
    optimizer = _OPTIMIZERS.get(c.optimizer, c.optimizer)
    boundaries = c.schedule_kwargs.get("boundaries") if c.schedule == "step" else None
    if boundaries:
        # One boundary in the table's runs: "lr a for n epochs, then lr b for m epochs".
        (b,), factor = boundaries, c.schedule_kwargs.get("factor", 0.1)
        lr = (
            f"{optimizer} lr {c.lr:g} for {_epochs(b)}, then lr {c.lr * factor:g} for "
            f"{_epochs(c.epochs - b)} (a step schedule)"
        )
    else:
        lr = f"{optimizer} lr {c.lr:g}"
    batch = f"full batch ({train_size})" if run.full_batch else f"batch {c.batch_size}"
    order = "shuffled" if c.shuffle else "in order"
    parts = [model, init, c.loss.upper().replace("_", " "), lr, batch, order]
    if not boundaries:
        parts.append(_epochs(c.epochs))
    if data_text:
        parts.append(data_text)
    return ", ".join(parts)
