"""Experiment: does ‖∂ℓ/∂z‖ vanish when the softmax saturates on a wrong class? (SPEC §3, §6)

The logits walk a one-parameter family: the true class is y = 0, one wrong class j = 1
gets the logit margin m = z_wrong − z_true, every other logit stays 0:

    z(m) = (0, m, 0, …, 0),   ŷ_wrong = softmax(z)_1 = e^m / (e^m + K − 1).

As m runs over [−10, 15] the probability on the wrong class sweeps from ~0 to ~1. For each
of the five losses and K ∈ {3, 10} the script records each sample's ‖∂ℓ/∂z‖ from the
notes' closed forms (``softjax.per_sample_logits_grad``, seed 000 part 2 and SPEC §3)
and, at every point, from ``jax.grad`` of the loss, in float64, and stores their largest
relative difference. It also evaluates the exact margins where ŷ_wrong = 0.5, 0.9, 0.99,
0.999 (m = log((K − 1) p / (1 − p)), the inverse of the formula above).

Run::

    python -m experiments.saturation            # full: 501 margins
    python -m experiments.saturation --quick    # 201 margins, writes saturation_quick.*
    python -m experiments.saturation --redraw   # figure and table from the JSON only (+ --quick)
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import softjax
from experiments._common import cli
from experiments._common.cli import draw_figures, require_results
from experiments.saturation import report as plots
from softjax.results import provenance, write_json

# File stems; a --quick run writes saturation_quick.* (as loss_sweep does), so it never
# overwrites the committed full results.
RESULTS_STEM = "saturation"
SIZES = {"quick": {"points": 201}, "full": {"points": 501}}
"""The number of margins of each mode; ``--config`` and ``--points`` override it."""
NUM_CLASSES = (3, 10)
MARGIN_RANGE = (-10.0, 15.0)
KEY_PROBS = (0.5, 0.9, 0.99, 0.999)
TRUE_CLASS, WRONG_CLASS = 0, 1
# The notes' five losses (SPEC §3), the ones this figure compares.
COMPARED = ("cce", "mse", "bce", "sigmoid_bce", "square")


def margin_family(margins, num_classes: int):
    """Logits z(m) = m·e_wrong (true class 0, wrong class 1) and their int labels (all 0)."""
    margins = jnp.asarray(margins)
    logits = jnp.zeros((margins.shape[0], num_classes), margins.dtype)
    logits = logits.at[:, WRONG_CLASS].set(margins)
    labels = jnp.full((margins.shape[0],), TRUE_CLASS, jnp.int32)
    return logits, labels


def margin_for_wrong_prob(p: float, num_classes: int) -> float:
    """The margin m at which this family puts probability p on the wrong class."""
    return math.log((num_classes - 1) * p / (1.0 - p))


def autodiff_per_sample_grads(loss_name: str, logits, labels):
    """∂ℓ_i/∂z_i from ``jax.grad`` of the batch sum N·mean (samples are independent)."""
    n = logits.shape[0]
    loss_fn = softjax.LOSSES[loss_name]
    return jax.grad(lambda z: n * loss_fn(z, labels))(logits)


@jax.jit
def _norms_and_rel_diff(logits, labels) -> dict:
    """Per loss: per-sample ‖∂ℓ/∂z‖ (closed form, jax.grad) and their relative difference."""
    out = {}
    for loss_name in COMPARED:
        closed = softjax.per_sample_logits_grad(loss_name, logits, labels)
        auto = autodiff_per_sample_grads(loss_name, logits, labels)
        # The batch-mean form must agree too: logits_grad = per-sample / N.
        mean_form = softjax.logits_grad(loss_name, logits, labels) * logits.shape[0]
        auto_norm = jnp.linalg.norm(auto, axis=-1)
        diff = jnp.maximum(
            jnp.linalg.norm(closed - auto, axis=-1), jnp.linalg.norm(mean_form - auto, axis=-1)
        )
        out[loss_name] = (jnp.linalg.norm(closed, axis=-1), auto_norm, diff / auto_norm)
    return out


def measure(margins, num_classes: int) -> dict:
    """Closed-form and autodiff gradient norms along the family, for every loss."""
    logits, labels = margin_family(margins, num_classes)
    probs = softjax.softmax(logits)
    per_loss = _norms_and_rel_diff(logits, labels)
    return {
        "margin": np.asarray(margins),
        "p_wrong": np.asarray(probs[:, WRONG_CLASS]),
        "p_true": np.asarray(probs[:, TRUE_CLASS]),
        # In COMPARED order (jit returns dicts with sorted keys).
        "closed_form_norm": {k: np.asarray(per_loss[k][0]) for k in COMPARED},
        "autodiff_norm": {k: np.asarray(per_loss[k][1]) for k in COMPARED},
        "rel_diff": {k: np.asarray(per_loss[k][2]) for k in COMPARED},
    }


def _take(curve: dict, index) -> dict:
    """The rows ``index`` of every array in a ``measure`` result."""
    return {
        key: {k: v[index] for k, v in value.items()} if isinstance(value, dict) else value[index]
        for key, value in curve.items()
    }


def measure_with_key_points(num_points: int, num_classes: int) -> tuple[dict, list[dict]]:
    """The sweep over MARGIN_RANGE, plus the exact margins where ŷ_wrong = KEY_PROBS.

    Both go through one call (one compiled shape); the key points are split off after.
    """
    sweep = jnp.linspace(*MARGIN_RANGE, num_points, dtype=jnp.float64)
    key = jnp.asarray([margin_for_wrong_prob(p, num_classes) for p in KEY_PROBS], jnp.float64)
    both = measure(jnp.concatenate([sweep, key]), num_classes)
    curve = _take(both, slice(0, num_points))
    curve["max_rel_diff"] = {k: float(np.max(v)) for k, v in both["rel_diff"].items()}
    del curve["rel_diff"]
    points = []
    for i, p in enumerate(KEY_PROBS):
        row = _take(both, num_points + i)
        del row["rel_diff"]
        points.append({"target_p_wrong": p, **row})
    return curve, points


def run(num_points: int) -> dict:
    """The whole experiment in float64; returns the results document (without provenance)."""
    out = {"curves": {}, "key_points": {}, "max_rel_diff": {}}
    with jax.enable_x64(True):
        for k in tqdm(NUM_CLASSES, desc="saturation", unit="K"):
            curve, points = measure_with_key_points(num_points, k)
            out["curves"][str(k)] = curve
            out["key_points"][str(k)] = points
            out["max_rel_diff"][str(k)] = curve["max_rel_diff"]
    out["max_rel_diff_overall"] = max(
        v for per_k in out["max_rel_diff"].values() for v in per_k.values()
    )
    return out


def _check(args) -> None:
    if args.points is not None and args.points < 2:
        raise ValueError(f"--points: expected an int ≥ 2, got {args.points}")


def parse_args(argv=None):
    """The shared flags (:func:`experiments._common.cli.parse_args`; no data: the margins
    are synthetic) and ``--points``."""
    return cli.parse_args(
        __doc__,
        argv,
        lambda p: p.add_argument("--points", type=int, default=None, help="number of margins"),
        modes=("quick", "full"),
        data=False,
        check=_check,
    )


def main(argv=None) -> list[Path]:
    args = parse_args(argv)
    out_dir, results_path = cli.results_path(args, RESULTS_STEM)
    if args.redraw:
        require_results(results_path)
    else:
        num_points = cli.size(args, SIZES, {"points": args.points})["points"]
        config = {
            "num_classes": list(NUM_CLASSES),
            "margin_range": list(MARGIN_RANGE),
            "num_points": num_points,
            "true_class": TRUE_CLASS,
            "wrong_class": WRONG_CLASS,
            "key_probs": list(KEY_PROBS),
            "losses": list(COMPARED),
            "dtype": "float64",
            "quick": args.quick,
        }
        start = time.perf_counter()
        doc = run(num_points)
        doc["wall_s"] = time.perf_counter() - start
        doc = {"provenance": provenance(config, seeds=[], argv=sys.argv), **doc}
        write_json(results_path, doc)
        print(
            f"wrote {results_path} in {doc['wall_s']:.1f} s; max relative difference "
            f"closed form vs jax.grad: {doc['max_rel_diff_overall']:.2e}"
        )
    return draw_figures(plots, results_path, out_dir)


if __name__ == "__main__":
    main()
