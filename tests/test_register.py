"""Registering users' losses and activations (issues #29, #32): a taken name is refused
unless ``overwrite=True``, and a loss declares the labels it takes (class ids or rows), so
the README's hinge (``take_along_axis`` on ids) works whatever form the data hold."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj
from tests.helpers import tiny_gaussian_classes

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_hinge():
    """The README's own hinge function, executed from its text."""
    text = README.read_text()
    code = re.search(r"^def hinge\(.*?\n\n", text, re.S | re.M).group(0)
    namespace = {"jnp": jnp}
    exec(code, namespace)
    assert 'sj.register_loss("hinge", hinge, labels="ids")' in text
    return namespace["hinge"]


def test_a_taken_loss_name_is_refused_unless_overwrite():
    sj.register_loss("test_register_twice", lambda z, y: jnp.mean(z))
    with pytest.raises(ValueError, match="name: 'test_register_twice' is already a registered"):
        sj.register_loss("test_register_twice", lambda z, y: jnp.mean(z**2))
    assert float(sj.LOSSES["test_register_twice"](jnp.full((1, 2), 3.0), None)) == 3.0

    def replacement(z, y):
        return jnp.mean(z**2)

    sj.register_loss("test_register_twice", replacement, overwrite=True)
    assert sj.LOSSES["test_register_twice"] is replacement
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="name: 'mse' is a built-in loss"):
            sj.register_loss("mse", replacement, overwrite=overwrite)


def test_a_taken_activation_name_is_refused_unless_overwrite():
    def grad(z):
        return jnp.ones_like(z)

    sj.register_activation("test_register_act", lambda z: z, grad)
    with pytest.raises(ValueError, match="name: 'test_register_act' is already a registered"):
        sj.register_activation("test_register_act", lambda z: 2 * z, grad)
    np.testing.assert_array_equal(sj.ACTIVATIONS["test_register_act"].fn(jnp.ones(2)), 1.0)
    sj.register_activation("test_register_act", lambda z: 2 * z, grad, overwrite=True)
    np.testing.assert_array_equal(sj.ACTIVATIONS["test_register_act"].fn(jnp.ones(2)), 2.0)
    with pytest.raises(ValueError, match="name: 'relu' is a built-in activation"):
        sj.register_activation("relu", lambda z: z, grad, overwrite=True)


def test_the_readme_hinge_takes_ids_and_one_hot_rows():
    hinge = _readme_hinge()
    bound = sj.register_loss("test_register_hinge", hinge, labels="ids")
    z = jnp.asarray(np.random.default_rng(0).standard_normal((5, 3)), jnp.float32)
    ids = jnp.asarray([0, 2, 1, 1, 0])
    rows = jax.nn.one_hot(ids, 3)
    expected = hinge(z, ids)
    for labels in (ids, rows):
        assert float(bound.fn(z, labels)) == float(expected)
        value, grad = bound.value_and_grad(z, labels)
        np.testing.assert_array_equal(grad, jax.grad(hinge)(z, ids))
    assert float(jax.jit(bound.fn)(z, rows)) == pytest.approx(float(expected))
    with pytest.raises(ValueError, match=r"labels: loss 'test_register_hinge' takes class ids"):
        sj.losses.check_labels(np.full((5, 3), 1 / 3, np.float32), 3, 5, bound)
    assert sj.losses.check_labels(rows, 3, 5, bound) is rows


def test_a_loss_that_takes_rows_gets_rows_from_ids():
    seen = []

    def soft_cce(logits, targets):
        seen.append(targets.shape)
        return -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(logits), -1))

    bound = sj.register_loss("test_register_rows", soft_cce, labels="rows")
    z = jnp.zeros((4, 3), jnp.float64 if jax.config.x64_enabled else jnp.float32)
    ids = jnp.asarray([0, 1, 2, 0])
    np.testing.assert_allclose(float(bound.fn(z, ids)), np.log(3), rtol=1e-6)
    assert seen == [(4, 3)]
    assert sj.LOSSES.record("test_register_rows").labels == "rows" == bound.labels


@pytest.mark.slow  # two compiled trainings
def test_a_user_loss_taking_ids_trains_on_one_hot_rows():
    """train() hands the declared ids to the loss although the data hold one-hot rows."""
    hinge = _readme_hinge()
    sj.register_loss("test_register_train_hinge", hinge, labels="ids", overwrite=True)
    data = tiny_gaussian_classes()
    rows = data._replace(
        y_train=np.eye(3, dtype=np.float32)[data.y_train],
        y_test=np.eye(3, dtype=np.float32)[data.y_test],
    )
    config = sj.TrainConfig(
        sizes=(5, 3), loss="test_register_train_hinge", lr=0.1, batch_size=16, epochs=2
    )
    from_rows = sj.train(config, rows)
    from_ids = sj.train(config, data)
    np.testing.assert_allclose(
        from_rows.history["train_loss"], from_ids.history["train_loss"], rtol=1e-6
    )
    assert np.all(np.isfinite(from_rows.history["train_loss"]))


@pytest.mark.parametrize("bad", ["one-hot", "", 3])
def test_register_loss_refuses_an_unknown_label_form(bad):
    with pytest.raises(ValueError, match=r"labels: expected one of \['any', 'ids', 'rows'\]"):
        sj.register_loss("test_register_bad_labels", lambda z, y: jnp.mean(z), labels=bad)
