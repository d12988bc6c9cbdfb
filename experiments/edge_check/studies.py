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

import jax

from experiments._common import lit
from experiments.edge_check.edges import bad_neighbours
from experiments.gradient_swap import analysis as swap_analysis
from experiments.gradient_swap.run import base_config as swap_config
from experiments.hui_belkin import analysis as hui_analysis
from experiments.hui_belkin import run as hui
from experiments.label_noise import analysis as noise_analysis
from experiments.label_noise import run as noise
from experiments.loss_sweep import analysis as loss_analysis
from softjax.config import TrainConfig
from softjax.data import make_many_classes
from softjax.results import read_json
from softjax.sweeps import sweep
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
    choice and final runs differ, e.g. label noise)."""

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


def committed_by_seed(case: Case, metric: str) -> dict[int, float | None]:
    """The committed runs of ``case``'s arm: seed → ``metric``."""
    return by_seed([r for r in case.runs if case.mine(r)], metric)


def provenance_of(path: Path) -> Mapping[str, Any]:
    """An input file's commit and creation time (what this check re-decides)."""
    p = read_json(path)["provenance"]
    return {"file": path.name, "git_commit": p.get("git_commit"), "created": p.get("created")}


def _hui_body(doc: Mapping[str, Any], runs: list[dict]) -> dict:
    """hui_belkin's body (``real``/``synthetic`` → setting → family) with every family's
    ``per_seed`` test accuracy read from ``runs``."""
    seeds = doc["provenance"]["config"]["seeds"]
    value = {(r["part"], r["setting"], r["family"], r["seed"]): r["test_short"] for r in runs}
    return {
        part: {
            s: {
                f: fam | {"per_seed": [value.get((part, s, f, seed)) for seed in seeds]}
                for f, fam in fams.items()
            }
            for s, fams in doc[part].items()
        }
        for part in ("real", "synthetic")
    }


def hui_belkin_cases(path: Path) -> list[Case]:
    """The edge arms of Hui & Belkin's study (``hui_belkin.json``), real and synthetic."""
    doc = read_json(path)
    size = doc["provenance"]["config"]
    seeds = list(size["seeds"])
    runs = [
        {"part": part, "setting": s, "family": f, "seed": seed, "test_short": v}
        for part in ("real", "synthetic")
        for s, fams in doc[part].items()
        for f, fam in fams.items()
        for seed, v in zip(seeds, fam["per_seed"], strict=True)
    ]

    def analyse(runs):
        found = hui_analysis.analyse(_hui_body(doc, runs), seeds)
        return {
            "analysis": found,
            "verdicts": [j.to_dict() for j in hui_analysis.judgements(found)],
        }

    cases = []
    for part in ("real", "synthetic"):
        for s, fams in doc[part].items():
            for f, fam in fams.items():
                if not bad_neighbours(fam["choice"]):
                    continue
                if part == "real":
                    config = hui._config((784, size["hidden"], 10), size["epochs"])
                    classes, key = 10, (s, size["train_subset"])
                    load = lambda args, s=s: lit.load(s, args, size["train_subset"])  # noqa: E731
                else:
                    k = int(s)
                    config = hui._config((hui.DIM, size["hidden"], k), size["synth_epochs"])
                    classes, key = k, ("synthetic", k)
                    load = lambda args, k=k: hui_synthetic(size, k)  # noqa: E731

                def measure(r, part=part, s=s, f=f):
                    test = None if r["diverged"] else float(r["history"]["test_accuracy"][-1])
                    fields = {"part": part, "setting": s, "family": f, "seed": r["seed"]}
                    return fields | {"lr": r["lr"], "diverged": r["diverged"], "test_short": test}

                cases.append(
                    Case(
                        study="hui_belkin",
                        file=path.name,
                        setting=s if part == "real" else f"K = {s}",
                        arm=(f, 1.0),
                        choice=fam["choice"],
                        config=config,
                        data_key=key,
                        load=load,
                        seeds=seeds,
                        short=config.epochs,
                        chance=1 / classes,
                        measure=measure,
                        runs=runs,
                        mine=lambda r, p=part, s=s, f=f: (
                            (r["part"], r["setting"], r["family"]) == (p, s, f)
                        ),
                        analyse=analyse,
                        committed={"analysis": doc["analysis"], "verdicts": doc["verdicts"]},
                        loss=hui.LOSSES[f],
                    )
                )
    return cases


def hui_synthetic(size: Mapping[str, Any], k: int):
    """hui_belkin's synthetic data at K = ``k`` classes, as its run draws it."""
    n = size["per_class"] * k
    key = jax.random.fold_in(jax.random.PRNGKey(hui.SYNTH_SEED), k)
    return make_many_classes(
        key, n, hui.DIM, k, clusters=hui.CLUSTERS, sep=hui.SEP, validation=n // 10
    )


def label_noise_cases(path: Path) -> list[Case]:
    """The edge arms of the label-noise study (``label_noise.json``): its ``tuned``
    protocol at the rate of the edge (the ``fixed`` protocol's runs keep their lr)."""
    doc = read_json(path)
    size = doc["provenance"]["config"]
    cases = []
    for key, found in doc["rates"].items():
        rate = float(key)
        for c in found["search"]["choices"]:
            if not bad_neighbours(c):
                continue
            loss = c["arm"][0]
            cases.append(
                Case(
                    study="label_noise",
                    file=path.name,
                    setting=f"η = {rate:g}",
                    arm=(loss, 1.0),
                    choice=c,
                    config=noise.base_config(size, size["epochs"], test_each_epoch=False),
                    data_key=("label_noise", size["train_subset"], size["val_size"]),
                    load=lambda args: noise.load(args, size),
                    seeds=list(size["seeds"]),
                    short=size["epochs"],
                    chance=1 / noise.K,
                    margin=noise.noisy_margin(rate),
                    measure=None,
                    runs=doc["runs"],
                    mine=lambda r, loss=loss, rate=rate: (
                        (r["loss"], r["rate"], r.get("protocol", "tuned")) == (loss, rate, "tuned")
                    ),
                    analyse=lambda runs: noise_analysis.analyse(runs, size["delta"]),
                    committed=doc["analysis"],
                    trainer=lambda case, clean, lrs, rate=rate: _noise_trainer(
                        case, clean, lrs, rate, size
                    ),
                )
            )
    return cases


def _noise_trainer(case: Case, clean, lrs, rate: float, size) -> tuple[dict, dict]:
    """label_noise's two kinds of run per lr: scored on each replicate's noisy
    validation split as its search is, and its final runs at both budgets (the
    memorisation probe as validation; clean test)."""
    loss = case.arm[0]
    val: dict[float, list] = {lr: [] for lr in lrs}
    for s in case.seeds:
        data = noise.noisy(clean, rate, s)[0]
        got = sweep(
            case.config,
            data,
            losses=[loss],
            lrs=[sorted(lrs)],
            seeds=[s],
            data_seeds=[s],
            seed_pairing="paired",
            progress=False,
        )
        for r in got:
            val[r["lr"]].append(None if r["diverged"] else r["history"]["val_accuracy"][-1])
    runs = {}
    for lr in lrs:
        short, _ = noise.finals(clean, rate, {loss: lr}, size, size["epochs"])
        long, _ = noise.finals(clean, rate, {loss: lr}, size, LONGER * size["epochs"])
        runs[lr] = [dict(r, protocol="tuned") for r in short + long]
    return val, runs
