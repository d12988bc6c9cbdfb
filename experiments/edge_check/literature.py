"""The literature studies' edge cases (:class:`.studies.Case`): Hui & Belkin's, the
label-noise study's, the depth study's and Glorot & Bengio's, each trained as its own
run trains."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from experiments._common import lit
from experiments.edge_check.edges import bad_neighbours
from experiments.edge_check.studies import Case
from experiments.glorot import analysis as glorot_analysis
from experiments.glorot import run as glorot
from experiments.hui_belkin import analysis as hui_analysis
from experiments.hui_belkin import run as hui
from experiments.label_noise import analysis as noise_analysis
from experiments.label_noise import run as noise
from experiments.mlp_depth import analysis as depth_analysis
from experiments.mlp_depth import run as depth
from softjax.config import TrainConfig
from softjax.data import make_many_classes
from softjax.results import read_json
from softjax.sweeps import sweep
from softjax.sweeps.budget import LONGER


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


def mlp_depth_cases(path: Path) -> list[Case]:
    """The edge arms of the depth study (``mlp_depth.json``): each (activation, depth)
    whose lr (from its search, or its longer search where the first found no lr that
    trains) sits next to a diverged or chance-level lr."""
    doc = read_json(path)
    size = doc["provenance"]["config"]
    base = TrainConfig.from_dict(size["base_train_config"])
    cases = []
    for found in doc["searches"]:
        act, d = found["activation"], found["depth"]
        search = found.get("longer", found)["search"]
        (choice,) = search["choices"]
        if not bad_neighbours(choice):
            continue
        epochs = found["epochs"]
        config = base.replace(sizes=(784, *([size["width"]] * d), 10), activations=act)
        cases.append(
            Case(
                study="mlp_depth",
                file=path.name,
                setting=f"{act} depth {d}" + (f" ({epochs} epochs)" if "longer" in found else ""),
                arm=("cce", 1.0),
                choice=choice,
                config=config.replace(epochs=epochs),
                data_key=("mnist", size["train_size"]),
                load=lambda args: lit.load("mnist", args, size["train_size"]),
                seeds=list(size["seeds"]),
                short=epochs,
                chance=size["chance"],
                measure=None,
                runs=doc["runs"],
                mine=lambda r, act=act, d=d: (r["activation"], r["depth"]) == (act, d),
                analyse=lambda runs: depth_analysis.analyse(runs, doc["searches"], size["epochs"]),
                committed=doc["analysis"],
                trainer=lambda case, data, lrs: _depth_trainer(case, data, lrs, size),
                metric="test_accuracy",
            )
        )
    return cases


def _depth_trainer(case: Case, data, lrs, size) -> tuple[dict, dict]:
    """The depth study's final runs (layer statistics included) at each lr, scored on
    validation accuracy after the search's budget."""
    x = jnp.asarray(data.x_train[: size["stats_size"]])
    y = jnp.asarray(data.y_train[: size["stats_size"]])
    runs = {}
    for lr in lrs:
        config = case.config.replace(lr=lr)
        runs[lr] = depth.finals(config, data, case.seeds, x, y, size["epochs"])
    val = {
        lr: [None if r["diverged"] else r["val_accuracy"][case.short - 1] for r in rs]
        for lr, rs in runs.items()
    }
    return val, runs


def glorot_cases(path: Path) -> list[Case]:
    """The edge arms of the Glorot & Bengio study (``glorot.json``): an activation whose
    lr sits next to a diverged or chance-level one. A "run" here is one replicate of an
    activation (its test accuracy after the search's budget, for the reproduction
    check) carrying its slice of the activation's stats and history."""
    doc = read_json(path)
    size = doc["provenance"]["config"]
    runs = [r for act, blob in doc["activations"].items() for r in _glorot_runs(act, blob, size)]
    cases = []
    for act, found in doc["searches"].items():
        (choice,) = found["search"]["choices"]
        if not bad_neighbours(choice):
            continue
        cases.append(
            Case(
                study="glorot",
                file=path.name,
                setting=act,
                arm=("cce", 1.0),
                choice=choice,
                config=glorot.base_config(act, size, size["epochs"]),
                data_key=("mnist", size["train_subset"]),
                load=lambda args: lit.load("mnist", args, size["train_subset"]),
                seeds=list(size["seeds"]),
                short=size["search_epochs"],
                chance=size["chance"],
                measure=None,
                runs=runs,
                mine=lambda r, act=act: r["activation"] == act,
                analyse=lambda runs: glorot_analysis.analyse(
                    _glorot_blobs(runs), size["search_epochs"]
                ),
                committed=doc["analysis"],
                trainer=lambda case, data, lrs, act=act: _glorot_trainer(act, data, lrs, size),
            )
        )
    return cases


def _glorot_runs(act: str, blob: Mapping[str, Any], size) -> list[dict]:
    """An activation's replicates as runs: seed i's slice of every stat and history."""
    out = []
    for i, seed in enumerate(size["seeds"]):
        test = blob["history"]["test_accuracy"][i]
        out.append(
            {
                "activation": act,
                "seed": seed,
                "lr": blob["lr"],
                "test_short": test[size["search_epochs"] - 1],
                "blob": {k: v for k, v in blob.items() if k not in ("stats", "history")},
                "stats": {k: v[i] for k, v in blob["stats"].items()},
                "history": {k: v[i] for k, v in blob["history"].items()},
            }
        )
    return out


def _glorot_blobs(runs: list[dict]) -> dict[str, dict]:
    """The activations' blobs (``activation_run``'s) back from their replicates' runs."""
    blobs: dict[str, dict] = {}
    for r in sorted(runs, key=lambda r: r["seed"]):
        b = blobs.setdefault(r["activation"], dict(r["blob"], stats={}, history={}))
        for part in ("stats", "history"):
            for k, v in r[part].items():
                b[part].setdefault(k, []).append(v)
    return blobs


def _glorot_trainer(act: str, data, lrs, size) -> tuple[dict, dict]:
    """The study's own replicates (``activation_run``) at each lr, scored on validation
    accuracy after the search's budget."""
    runs, val = {}, {}
    for lr in lrs:
        blob = glorot.activation_run(act, data, size, list(size["seeds"]), lr)
        runs[lr] = _glorot_runs(act, blob, size)
        val[lr] = [
            _finite_or_none(r["history"]["val_accuracy"][size["search_epochs"] - 1])
            for r in runs[lr]
        ]
    return val, runs


def _finite_or_none(x):
    return x if isinstance(x, int | float) and math.isfinite(x) else None
