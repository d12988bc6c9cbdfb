"""How each reproduced claim is measured: the toy rows, and what is read off trained runs.

A measure returns a :class:`Measured`: the value its claim's target judges, the text of
the "softjax" column, the per-seed values stored in the JSON, and any extra named checks
that must also hold (for example "J falls"). The numbers are the notes' (docs/SPEC.md §5).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

import softjax
from softjax import data as sj_data

# Seed 001's toy model, in the slides' column form z = W x + b with W of shape (K, D).
TOY_W_COLUMN_FORM = ((0.31, 3.95), (7.07, -0.23), (-6.27, -2.35))
TOY_B = (1.2, 2.93, -4.14)
TOY_X = (-0.1, 1.4)
TOY_Z = (6.699, 1.901, -6.803)
TOY_A = (0.992, 0.008, 0.000)
# Seed 001's toy loss: three points' predicted probabilities and their labels.
TOY_PREDICTIONS = ((0.9, 0.1, 0.0), (0.1, 0.8, 0.1), (0.1, 0.2, 0.7))
TOY_LABELS = (0, 1, 2)
TOY_J = -(math.log(0.9) + math.log(0.8) + math.log(0.7))
PROBABILITY_EXAMPLES = (0, 1, 2)  # test images whose class probabilities item 8 shows


class Measured(NamedTuple):
    """What a measure found.

    Attributes:
      value: the number the claim's target judges (NaN when there is none).
      text: the "softjax" column.
      values: per-seed values (or named values) stored in the row.
      checks: further conditions the row needs, by name (they join the target's text).
      extra: more fields for the row.
      setting: the "setting" column, for rows whose setting is not a training run.
    """

    value: float
    text: str
    values: Any = None
    checks: dict = {}
    extra: dict = {}
    setting: str | None = None


class Trained(NamedTuple):
    """A run's results: one ``TrainResult`` and its dataset per seed; ``deterministic``
    when the run is one seed by design (no randomness left to average over)."""

    results: list
    datasets: list
    seeds: tuple
    deterministic: bool = False


def describe_data(key: str, data) -> str:
    """What the "setting" column says about a run's data."""
    n_train, n_test = len(data.y_train), len(data.y_test)
    if key == "blobs":
        k, d = int(np.max(data.y_train)) + 1, data.x_train.shape[1]
        return f"make_blobs ({k} classes, {d}-D, {n_train} train / {n_test} test)"
    if key == "learn_sleep":
        return f"make_learn_sleep ({n_train} train / {n_test} test)"
    order = "raw IDX file order (the homework's)" if key == "mnist_file" else "tfds order"
    return f"MNIST {n_train} train, {order}"


def homework_mlp_init(hidden: int, num_classes: int = 10, num_pixels: int = 784):
    """The homework's own initial weights: ``np.random.seed(0)``, then
    W1 = randn(784, hidden)/√hidden and W2 = randn(hidden, 10)/√10, float32."""
    legacy_rng = np.random.RandomState(0)  # noqa: NPY002 - the homework's legacy stream
    w1 = legacy_rng.randn(num_pixels, hidden).astype(np.float32) / np.float32(np.sqrt(hidden))
    w2 = legacy_rng.randn(hidden, num_classes).astype(np.float32) / np.float32(np.sqrt(num_classes))
    return [{"w": jnp.asarray(w1)}, {"w": jnp.asarray(w2)}]


def mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def pm(values, scale=100.0, digits=2, unit="%") -> str:
    """``mean ± std unit (n seeds)``, or ``value unit (1 run)``."""
    mean, std = mean_std(np.asarray(values) * scale)
    if len(values) == 1:
        return f"{mean:.{digits}f}{unit} (1 run)"
    return f"{mean:.{digits}f} ± {std:.{digits}f}{unit} ({len(values)} seeds)"


def final(result, key="test_accuracy") -> float:
    history = result.history[key]
    return float(history[-1]) if len(history) else math.nan


# ----------------------------------------------------------------- the toy rows


def toy_forward() -> Measured:
    """Seed 001's toy forward pass; the value is the largest deviation at 3 decimals."""
    # Row-major W (D, K) is the slides' (K, D) W transposed.
    params = [{"w": jnp.asarray(TOY_W_COLUMN_FORM).T, "b": jnp.asarray(TOY_B)}]
    z = softjax.mlp_apply(params, jnp.asarray([TOY_X]))[0]
    a = softjax.softmax(z)
    # Rounded in float64, so float32's 6.6989999 compares equal to the notes' 6.699;
    # + 0.0 turns −0.0 into 0.0.
    z3 = np.round(np.asarray(z, dtype=np.float64), 3) + 0.0
    a3 = np.round(np.asarray(a, dtype=np.float64), 3) + 0.0
    deviation = max(np.max(np.abs(z3 - TOY_Z)), np.max(np.abs(a3 - TOY_A)))
    return Measured(
        float(deviation),
        f"z = {z3.tolist()}, a = {a3.tolist()}",
        {"z": z, "a": a},
        setting=f"W (3×2), b, x = {TOY_X}: z = Wx + b, a = softmax(z)",
    )


def toy_loss() -> Measured:
    """Seed 001's toy cross-entropy J (a sum over the 3 points); the value is |ΔJ|."""
    # The notes' probabilities enter as logits log a (softmax(log a) = a); their 0 as a
    # logit of −1e4, whose probability e^−1e4 is exactly 0 in float32.
    predictions = jnp.asarray(TOY_PREDICTIONS)
    positive = predictions > 0
    logits = jnp.where(positive, jnp.log(jnp.where(positive, predictions, 1.0)), -1e4)
    # softjax's losses are batch means; the notes' J is the sum over the 3 points.
    total = float(softjax.LOSSES["cce"](logits, jnp.asarray(TOY_LABELS))) * len(TOY_LABELS)
    likelihood = float(softjax.softmax(logits)[0, 0])
    rows = ", ".join(
        "[" + " ".join(f"{p:g}".lstrip("0") or "0" for p in r) + "]" for r in TOY_PREDICTIONS
    )
    return Measured(
        abs(total - TOY_J),
        f"J = {total:.5f}; likelihood = {likelihood:.4f}",
        {"J": total, "likelihood": likelihood},
        checks={"likelihood 0.9 (±1e-6)": abs(likelihood - 0.9) < 1e-6},
        setting=f"{len(TOY_LABELS)} points, predictions {rows}",
    )


# ------------------------------------------------------------ measures of runs


def _accuracies(trained: Trained) -> list[float]:
    return [final(r) for r in trained.results]


def test_accuracy(trained: Trained) -> Measured:
    """Mean final test accuracy, in percent."""
    accuracies = _accuracies(trained)
    return Measured(mean_std(np.asarray(accuracies) * 100)[0], pm(accuracies), accuracies)


def test_error(trained: Trained) -> Measured:
    """Mean final test error, in percent."""
    errors = [100 * (1 - a) for a in _accuracies(trained)]
    if trained.deterministic:
        text = f"{errors[0]:.2f}% test error (deterministic: 1 run)"
    else:
        text = f"{pm(errors, scale=1)} test error"
    return Measured(mean_std(errors)[0], text, errors)


def last_epoch_loss(trained: Trained) -> Measured:
    """The last epoch's mean batch loss (the notes print batch losses of epoch 5)."""
    losses = [final(r, "train_loss") for r in trained.results]
    first = np.mean([r.history["train_loss"][0] for r in trained.results])
    text = (
        f"last epoch's mean batch loss {pm(losses, scale=1, digits=3, unit='')}; "
        f"first epoch's {first:.3f}"
    )
    return Measured(mean_std(losses)[0], text, losses)


def blobs(trained: Trained) -> Measured:
    """Mean test accuracy, and whether every run's loss J fell."""
    accuracies = _accuracies(trained)
    curves = [r.history["train_loss"] for r in trained.results]
    falls = all(curve[-1] < curve[0] for curve in curves)
    text = (
        f"test accuracy {pm(accuracies, digits=1)}; J/N {np.mean([c[0] for c in curves]):.3f} "
        f"→ {np.mean([c[-1] for c in curves]):.3f}"
    )
    return Measured(
        mean_std(np.asarray(accuracies) * 100)[0], text, accuracies, checks={"J falls": falls}
    )


def learn_sleep(trained: Trained) -> Measured:
    """Test accuracy beside the generator's own rule 0.6·learn + 0.4·sleep > 5: the best
    any model can do on these noisy labels, for scale."""
    accuracies = _accuracies(trained)
    rule = []
    for data in trained.datasets:
        score = sj_data.LEARN_WEIGHT * data.x_test[:, 0] + sj_data.SLEEP_WEIGHT * data.x_test[:, 1]
        rule.append(float(np.mean((score > sj_data.PASS_THRESHOLD_HOURS) == data.y_test)))
    text = (
        f"test accuracy {pm(accuracies, digits=1)}; the generator's own rule {pm(rule, digits=1)}"
    )
    return Measured(math.nan, text, accuracies, extra={"rule_accuracies": rule})


def probability_examples(trained: Trained) -> list[dict]:
    """The first seed's model's softmax probabilities of :data:`PROBABILITY_EXAMPLES`."""
    data, params = trained.datasets[0], trained.results[0].params
    x = data.x_test[list(PROBABILITY_EXAMPLES)]
    probabilities = softjax.softmax(softjax.mlp_apply(params, x))
    return [
        {
            "index": int(i),
            "label": int(data.y_test[i]),
            "image": data.x_test[i],
            "probabilities": probabilities[j],
        }
        for j, i in enumerate(PROBABILITY_EXAMPLES)
    ]


def probabilities(trained: Trained) -> Measured:
    """Item 8: shown as figures (weights_mnist.png, mnist_probabilities.png), not judged."""
    examples = probability_examples(trained)
    text = "; ".join(
        f"image {e['index']} (label {e['label']}): p = "
        f"{float(np.max(e['probabilities'])):.3f} for {int(np.argmax(e['probabilities']))}"
        for e in examples
    )
    setting = (
        f"softmax probabilities of test images {list(PROBABILITY_EXAMPLES)}; W[:, k] "
        "as 28×28 images (weights_mnist.png), from row 3's first model"
    )
    return Measured(math.nan, text, setting=setting)
