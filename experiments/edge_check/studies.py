"""The studies the edge check re-decides, each as its edge cases: what to train, how the
study measures a run, and the study's own analysis to re-run.

A :class:`Case` is one edge arm of one setting. ``runs`` are the committed runs its
analysis reads (the whole model for the loss study; every setting for the gradient swap,
whose families span settings), ``mine(run)`` says which of them are this arm's, and
``analyse(runs)`` is the study's analysis function on them, so that replacing this arm's
runs and re-running it re-decides every verdict by the study's own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments._common import lit
from experiments.edge_check.edges import bad_neighbours
from experiments.gradient_swap import analysis as swap_analysis
from experiments.gradient_swap.run import base_config as swap_config
from experiments.loss_sweep import analysis as loss_analysis
from softjax.config import TrainConfig
from softjax.results import read_json
from softjax.sweeps.budget import LONGER
from softjax.sweeps.lr_search import CHANCE_MARGIN


@dataclass
class Case:
    """One edge arm: its study, file, setting, ``arm`` (label, init scale) and search
    ``choice``; the ``config`` its replicates train with (the study's finals), on the
    data ``load(args)`` gives (``data_key`` names it, to load it once), for ``seeds``;
    ``short`` (the fixed budget's epoch, where validation chooses); ``loss`` (the spec
    to train, default the arm's label); ``chance`` and ``margin`` of its search; and
    the study's hooks: ``measure`` (a sweep record as the study's run) or ``trainer``
    (``(case, data, lrs) → (validation scores by lr, runs by lr)``, for a study whose
    choice and final runs differ, e.g. label noise); ``metric``, the runs' fixed-budget
    test accuracy, for the reproduction check."""

    study: str
    file: str
    setting: str
    arm: tuple[str, float]
    choice: dict
    config: TrainConfig
    data_key: tuple
    load: Callable[[Any], Any]
    seeds: list[int]
    short: int
    chance: float
    measure: Callable[[dict], dict]
    runs: list[dict]
    mine: Callable[[dict], bool]
    analyse: Callable[[list[dict]], dict]
    committed: dict
    loss: Any = None
    margin: float = CHANCE_MARGIN
    trainer: Callable | None = None
    metric: str = "test_short"
    extra: dict = field(default_factory=dict)

    @property
    def neighbours(self) -> list[tuple[float, str]]:
        return bad_neighbours(self.choice)


def loss_sweep_cases(path: Path) -> list[Case]:
    """The edge arms of one loss-study model (``loss_sweep_<dataset>_<model>.json``)."""
    doc = read_json(path)
    g = doc["grid"]
    label = f"{g['dataset']} {g['model']}"
    classes = g["sizes"][-1]
    short = g["epochs"]
    cases = []
    for c in doc["chosen"]:
        if not bad_neighbours(c["choice"]):
            continue
        arm = (c["loss"], float(c["init_scale"]))
        long = arm[1] in doc["long_scales"]
        epochs = LONGER * short if long else short
        budget = "long" if long else "short"

        def measure(record, budget=budget):
            return loss_analysis.run_measures(record, short, classes) | {"budget": budget}

        cases.append(
            Case(
                study="loss_sweep",
                file=path.name,
                setting=label,
                arm=arm,
                choice=c["choice"],
                config=TrainConfig.from_dict(g["base_config"], epochs=epochs, test_each_epoch=long),
                data_key=(g["dataset"], g["train_subset"]),
                load=lambda args, g=g: lit.load(g["dataset"], args, g["train_subset"]),
                seeds=list(g["seeds"]),
                short=short,
                chance=1 / classes,
                measure=measure,
                runs=doc["runs"],
                mine=lambda r, arm=arm: (r["loss"], r["init_scale"]) == arm,
                analyse=lambda runs, g=g, label=label: loss_analysis.analyse(
                    runs, g["losses"], g["init_scales"], short, label, g["delta"]
                ),
                committed=doc["analysis"],
                extra={"grid": g, "part": g["part"]},
            )
        )
    return cases


def gradient_swap_cases(path: Path) -> list[Case]:
    """The edge arms of the gradient swap (``gradient_swap.json``), every setting."""
    doc = read_json(path)
    size = doc["provenance"]["config"]
    short = size["epochs"]
    cases = []
    for key, model_doc in doc["models"].items():
        dataset, model = key.split("/")
        for c in model_doc["search"]["choices"]:
            if not bad_neighbours(c):
                continue
            arm = (c["arm"][0], float(c["arm"][1]))
            long = arm[1] in model_doc["long_scales"]
            epochs = LONGER * short if long else short
            budget = "long" if long else "short"

            def measure(record, dataset=dataset, model=model, budget=budget):
                m = swap_analysis.run_measures(
                    record["history"],
                    record["diverged"],
                    short=short,
                    target=swap_analysis.TARGETS[dataset],
                    classes=10,
                )
                fields = dict(dataset=dataset, model=model, init_scale=record["init_scale"])
                return (
                    fields
                    | dict(rule=record["loss"], lr=record["lr"], seed=record["seed"], budget=budget)
                    | m
                )

            cases.append(
                Case(
                    study="gradient_swap",
                    file=path.name,
                    setting=key,
                    arm=arm,
                    choice=c,
                    config=swap_config(model, epochs, test_each_epoch=long),
                    data_key=(dataset, size["train_subset"]),
                    load=lambda args, d=dataset, n=size["train_subset"]: lit.load(d, args, n),
                    seeds=list(size["seeds"]),
                    short=short,
                    chance=0.1,
                    measure=measure,
                    runs=doc["runs"],
                    mine=lambda r, key=key, arm=arm: (
                        f"{r['dataset']}/{r['model']}" == key
                        and (r["rule"], r["init_scale"]) == arm
                    ),
                    analyse=lambda runs, delta=size["delta"]: swap_analysis.analyse(runs, delta),
                    committed=doc["analysis"],
                )
            )
    return cases


def by_seed(runs, metric: str) -> dict[int, float | None]:
    """seed → ``metric`` over ``runs`` (a seed's runs without it, e.g. its longer budget's,
    do not hide the one with it)."""
    out: dict[int, float | None] = {}
    for r in runs:
        if out.get(r["seed"]) is None:
            out[r["seed"]] = r.get(metric)
    return out


def committed_by_seed(case: Case) -> dict[int, float | None]:
    """The committed runs of ``case``'s arm: seed → its ``metric``."""
    return by_seed([r for r in case.runs if case.mine(r)], case.metric)


def provenance_of(path: Path) -> Mapping[str, Any]:
    """An input file's commit and creation time (what this check re-decides)."""
    p = read_json(path)["provenance"]
    return {"file": path.name, "git_commit": p.get("git_commit"), "created": p.get("created")}
