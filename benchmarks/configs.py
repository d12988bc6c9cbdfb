"""What the benchmark cases train: their configs, the 48-config grid and the run sizes.

The systems that train them, and the table of cases, are in :mod:`benchmarks.cases`.
"""

from __future__ import annotations

import dataclasses

from softjax import TrainConfig

SWEEP_LOSSES = ("cce", "mse", "bce")
SWEEP_LRS = (0.001, 0.01, 0.1, 1.0)
SWEEP_INIT_SCALES = (0.5, 1.0, 2.0, 4.0)
SWEEP_GRID = [(l_, lr, s) for l_ in SWEEP_LOSSES for lr in SWEEP_LRS for s in SWEEP_INIT_SCALES]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work each case does."""

    n_train: int | None  # None: the whole training set
    n_test: int | None
    epochs: int
    mlp_epochs: int
    repeats: int
    compile_repeats: int
    sweep_subset: int  # sequential runs measured per round, scaled up to 48
    memory_systems: tuple[str, ...]  # "case/system" pairs measured in subprocesses
    growth_models: tuple[int, ...] = ()  # the cost-growth curve's M values
    growth_rounds: int = 1
    memory_sweep_models: int = 0  # a sweep of this many models in a memory child; 0: none
    # "case/system" rows these sizes leave out (its timed and compile rows), or
    # "case/compiles" for all of a case's compile rows (its systems still compile, untimed)
    left_out: tuple[str, ...] = ()
    hardware_repeats: int = 10  # the hardware floor's repeats (benchmarks.hardware)
    # the scale-out case (benchmarks.scaling): epochs, warm calls per launch, rounds
    scaling: tuple[int, int, int] = (5, 1, 2)

    def keeps(self, case: str, row: str) -> bool:
        """Whether case ``case``'s row ``row`` (a system, or "compiles") is measured."""
        return f"{case}/{row}" not in self.left_out


def single_config(sizes: Sizes) -> TrainConfig:
    """Seed 001's MNIST softmax regression: nn.Linear init, SGD lr 0.001, batch 64."""
    return TrainConfig(
        sizes=(784, 10),
        init="torch_linear",
        loss="cce",
        lr=0.001,
        batch_size=64,
        epochs=sizes.epochs,
        seed=0,
    )


def mlp_config(sizes: Sizes) -> TrainConfig:
    """The homework's 784-400-10 ReLU net without biases, batches in order (seed 004)."""
    return TrainConfig(
        sizes=(784, 400, 10),
        activations="relu",
        bias=False,
        init="fan_out_normal",
        loss="cce",
        lr=0.2,
        batch_size=100,
        epochs=sizes.mlp_epochs,
        seed=0,
        shuffle=False,
    )


def mlp_sweep_config(sizes: Sizes) -> TrainConfig:
    """Seed 001's config (nn.Linear init with biases, batch 64) on a 784-100-10 ReLU net:
    issue 14's MLP sweep, for 1 epoch on at most :data:`MLP_SWEEP_ROWS` training rows
    (the time over the floor does not depend on the rows or epochs, the full run's time
    does, so a subset keeps the case short)."""
    return single_config(sizes).replace(sizes=(784, 100, 10), activations="relu", epochs=1)


MLP_SWEEP_ROWS = 10_000
"""The MLP sweep's training rows (the loss study's MLP half trains on 10,000 too)."""
