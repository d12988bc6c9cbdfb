"""The README's −inf promise (issue #29), scoped to the losses it holds for: a −inf logit
on a class that is not the label gives finite values and gradients. The set is derived
here from every registered built-in (a new one joins by itself) and must be exactly the
set the README names; the README must name every other built-in as excluded."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softjax as sj

README = Path(__file__).resolve().parents[1] / "README.md"
BUILTINS = [name for name in sj.LOSSES if sj.LOSSES.record(name).builtin]
# Rows with −inf on classes that are not the label (ids [0, 1, 1]); the last has every
# class but the label at −inf.
Z = np.array([[2.0, -np.inf, 0.5], [-np.inf, 1.0, 3.0], [-np.inf, 1.0, -np.inf]])
IDS = np.array([0, 1, 1])


def readme_scope():
    """(promised, excluded): the backticked names of the README's −inf sentence before
    and after "; not for"."""
    text = " ".join(README.read_text().split())
    sentence = re.search(r"A −inf logit on a class that is not the label gives (.*?)\.\s", text)
    assert sentence, "the README's −inf sentence is gone"
    promised, _, excluded = sentence.group(1).partition("; not for")
    return set(re.findall(r"`(\w+)`", promised)), set(re.findall(r"`(\w+)`", excluded))


def _finite_at_minus_inf(name):
    """Value, jax.grad and logits_grad finite for ids and one-hot rows (float64); and the
    value equal to that at −1000 in place of −inf (e^-1000 is 0 in float64)."""
    twin = np.where(np.isinf(Z), -1000.0, Z)
    finite, same = True, True
    with jax.enable_x64(True):
        for labels in (jnp.asarray(IDS), jnp.asarray(np.eye(3)[IDS])):
            z = jnp.asarray(Z)
            value = float(sj.LOSSES[name](z, labels))
            grads = (jax.grad(sj.LOSSES[name])(z, labels), sj.logits_grad(name, z, labels))
            finite &= np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)
            twin_value = float(sj.LOSSES[name](jnp.asarray(twin), labels))
            same &= bool(np.isclose(value, twin_value, rtol=1e-12, atol=0))
    return finite, same


def test_the_readme_classifies_every_builtin_once():
    promised, excluded = readme_scope()
    assert promised and excluded and not promised & excluded
    assert promised | excluded == set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_minus_inf_promise_holds_exactly_for_the_losses_the_readme_names(name):
    promised, _ = readme_scope()
    finite, same_as_twin = _finite_at_minus_inf(name)
    assert finite == (name in promised), (name, finite)
    if name in promised:
        assert same_as_twin, name
