"""Small synthetic data sets for the notes' toy problems and for tests.

Each maker takes an explicit ``jax.random`` key and returns a `Dataset` with an 80/20
train/test split (and, with ``validation=n``, the last ``n`` training rows held out).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from softjax._checks import positive_int
from softjax.data.dataset import Dataset, hold_out

TEST_FRACTION = 0.2

# The three toy points of seed 001 and their classes, used as the blob centres.
BLOB_CENTRES = ((-0.1, 1.4), (1.3, 0.9), (-1.4, -1.1))


def _typed_key(key: jax.Array) -> jax.Array:
    """Accepts new-style ``jax.random.key`` and legacy ``PRNGKey`` keys alike.

    Normalising to typed keys means both styles share JAX's compilation cache (each
    new key dtype would otherwise recompile every op) and give the same data.
    """
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


def _train_test_split(key: jax.Array, x: jax.Array, y: jax.Array, validation: int) -> Dataset:
    """Shuffles examples with ``key``, holds out TEST_FRACTION as the test split and the
    last ``validation`` training rows as the validation split."""
    num_examples = len(y)
    if num_examples < 2:
        raise ValueError(f"Need at least 2 examples for a train/test split, got {num_examples}.")
    num_test = min(max(1, round(num_examples * TEST_FRACTION)), num_examples - 1)
    order = np.asarray(jax.random.permutation(key, num_examples))
    x_np = np.asarray(x, dtype=np.float32)[order]
    y_np = np.asarray(y, dtype=np.int32)[order]
    data = Dataset(x_np[num_test:], y_np[num_test:], x_np[:num_test], y_np[:num_test])
    return hold_out(data, validation)


def make_blobs(
    key: jax.Array, n_per_class: int = 100, *, std: float = 0.5, validation: int = 0
) -> Dataset:
    """Seed 001's 3-class 2-D toy problem: isotropic Gaussian blobs.

    The centres are the notes' toy points themselves, (-0.1, 1.4) -> 0,
    (1.3, 0.9) -> 1 and (-1.4, -1.1) -> 2. With the default ``std=0.5`` classes 0
    and 1, whose centres are 1.49 apart (about 3 std), overlap: roughly 7% of their
    points lie past the midway boundary, so the problem is learnable but not
    trivially separable. Class 2 lies well apart (>= 2.8 from the others).

    Args:
        key: a ``jax.random`` key; the same key gives the same data.
        n_per_class: points drawn per class, before the 80/20 train/test split.
        std: standard deviation of each blob, per coordinate.
        validation: training rows held out as ``x_val``/``y_val`` (the last ones); 0 for none.

    Returns:
        A `Dataset` with float32 features (N, 2) and int32 labels in {0, 1, 2}.
    """
    positive_int(n_per_class, "n_per_class")
    draw_key, split_key = jax.random.split(_typed_key(key))
    centres = jnp.asarray(BLOB_CENTRES, dtype=jnp.float32)
    labels = jnp.repeat(jnp.arange(len(BLOB_CENTRES)), n_per_class)
    noise = std * jax.random.normal(draw_key, (len(labels), 2))
    return _train_test_split(split_key, centres[labels] + noise, labels, validation)


# The hidden rule of the Learn/Sleep problem: a weighted score in hours, and how
# sharply the pass probability rises as the score crosses the threshold.
LEARN_WEIGHT, SLEEP_WEIGHT, PASS_THRESHOLD_HOURS, PASS_STEEPNESS = 0.6, 0.4, 5.0, 1.5


def make_learn_sleep(key: jax.Array, n: int = 200, *, validation: int = 0) -> Dataset:
    """Seed 003's (Learn, Sleep) -> Is_Pass problem, with labels 0 (fail) / 1 (pass).

    The notes give no data for this example, so this generator is our own: only the
    features, their ranges and the label's meaning come from the notes. Hours of
    learning and of sleep are uniform on [0, 10]; a student passes with probability
    ``sigmoid(1.5 * (0.6 * learn + 0.4 * sleep - 5))``, so learning counts more than
    sleep, the pass/fail boundary is the line ``0.6 * learn + 0.4 * sleep = 5`` and
    labels near it are noisy. The classes come out roughly balanced.

    Args:
        key: a ``jax.random`` key; the same key gives the same data.
        n: number of students, before the 80/20 train/test split.
        validation: training rows held out as ``x_val``/``y_val`` (the last ones); 0 for none.

    Returns:
        A `Dataset` with float32 features (N, 2) = (learn, sleep) in hours and int32
        labels in {0, 1}.
    """
    positive_int(n, "n")
    hours_key, pass_key, split_key = jax.random.split(_typed_key(key), 3)
    hours = jax.random.uniform(hours_key, (n, 2), minval=0.0, maxval=10.0)
    score = LEARN_WEIGHT * hours[:, 0] + SLEEP_WEIGHT * hours[:, 1]
    pass_probability = jax.nn.sigmoid(PASS_STEEPNESS * (score - PASS_THRESHOLD_HOURS))
    passed = jax.random.bernoulli(pass_key, pass_probability)
    return _train_test_split(split_key, hours, passed, validation)


def make_gaussian_classes(
    key: jax.Array,
    n: int = 512,
    dim: int = 8,
    num_classes: int = 4,
    *,
    sep: float = 3.0,
    validation: int = 0,
) -> Dataset:
    """Generic balanced Gaussian classes, small and quick, for tests.

    Class means are random directions of length ``sep``; points are the mean plus
    unit-variance Gaussian noise. Random directions are nearly orthogonal, so two
    means are typically about ``sep * sqrt(2)`` apart: the default ``sep=3`` is easy
    but not perfectly separable.

    Args:
        key: a ``jax.random`` key; the same key gives the same data.
        n: total number of examples, before the 80/20 train/test split.
        dim: feature dimension.
        num_classes: number of classes; labels are 0..num_classes-1, balanced.
        sep: distance of each class mean from the origin.
        validation: training rows held out as ``x_val``/``y_val`` (the last ones); 0 for none.

    Returns:
        A `Dataset` with float32 features (N, dim) and int32 labels.
    """
    for value, argname in ((n, "n"), (dim, "dim"), (num_classes, "num_classes")):
        positive_int(value, argname)
    means_key, noise_key, split_key = jax.random.split(_typed_key(key), 3)
    directions = jax.random.normal(means_key, (num_classes, dim))
    means = sep * directions / jnp.linalg.norm(directions, axis=1, keepdims=True)
    labels = jnp.arange(n) % num_classes
    points = means[labels] + jax.random.normal(noise_key, (n, dim))
    return _train_test_split(split_key, points, labels, validation)


def make_many_classes(
    key: jax.Array,
    n: int,
    dim: int,
    num_classes: int,
    *,
    clusters: int = 2,
    sep: float = 3.0,
    validation: int = 0,
) -> Dataset:
    """Balanced classes for the class-count question (Hui & Belkin 2021, §4), drawn on
    the default device with ``jax.random``.

    Each class is a mixture of ``clusters`` unit-variance Gaussians whose centres are
    i.i.d. N(0, (sep²/dim)·I), so every centre lies about ``sep`` from the origin and the
    classes are not linearly separable (a hidden layer helps). With ``dim`` fixed, more
    classes crowd the same space, so the problem gets harder as ``num_classes`` grows,
    as it does from CIFAR-10 to ImageNet.

    Args:
        key: a ``jax.random`` key; the same key and sizes give the same data.
        n: total examples before the 80/20 train/test split; labels are ``arange(n) % K``.
        dim: feature dimension.
        num_classes: K ≥ 2.
        clusters: Gaussian components per class.
        sep: typical distance of a centre from the origin.
        validation: training rows held out as ``x_val``/``y_val`` (the last ones).

    Returns:
        A `Dataset` with float32 features (N, dim) and int32 labels in [0, K).
    """
    for value, argname in ((n, "n"), (dim, "dim"), (clusters, "clusters")):
        positive_int(value, argname)
    positive_int(num_classes, "num_classes", minimum=2)
    centre_key, pick_key, noise_key, split_key = jax.random.split(_typed_key(key), 4)
    centres = jax.random.normal(centre_key, (num_classes, clusters, dim)) * (sep / dim**0.5)
    labels = jnp.arange(n) % num_classes
    component = jax.random.randint(pick_key, (n,), 0, clusters)
    points = centres[labels, component] + jax.random.normal(noise_key, (n, dim))
    return _train_test_split(split_key, points, labels, validation)
