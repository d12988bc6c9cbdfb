"""A checkpoint never belongs to another run: it records its config and data and a resume
that differs is refused, naming each field; one run per folder; damaged steps skipped;
a checkpoint_dir re-run unchanged continues (softjax.checkpoint, softjax.run)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

import softjax
import softjax.optim
import softjax.results as results_module
import softjax.run
from softjax.checkpoint import CheckpointLocked, checkpoint_lock, load_checkpoint, save_checkpoint
from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.run import train
from tests.helpers import REPO_ROOT

CONFIG = TrainConfig(sizes=(6, 4), optimizer="adam", lr=0.01, batch_size=25, epochs=2, seed=1)


@pytest.fixture(scope="module")
def small():
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


@pytest.fixture(scope="module")
def saved(small, tmp_path_factory):
    """A finished adam run checkpointed at epochs 1 and 2."""
    folder = tmp_path_factory.mktemp("ckpt") / "run"
    result = train(CONFIG, small, checkpoint_dir=folder, checkpoint_every=1)
    return folder, result


def _copy(saved, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(saved[0], folder)
    (folder / ".softjax.lock").unlink(missing_ok=True)
    return folder


def _same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert np.array_equal(np.asarray(x), np.asarray(y))


# --------------------------------------------------- a resume that differs is refused


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"optimizer": "sgd"}, "optimizer"),
        ({"lr": 0.5}, "lr"),
        ({"loss": "square"}, "loss"),
        ({"schedule": "cosine"}, "schedule"),
        ({"epochs": 3}, "epochs"),
        ({"sizes": (6, 5, 4)}, "sizes"),
    ],
)
def test_a_resume_with_another_config_names_the_field(small, saved, change, field):
    other = CONFIG.replace(**change)
    for call in (
        lambda: train(other, small, checkpoint_dir=saved[0]),
        lambda: train(other, small, resume=saved[0]),
        lambda: load_checkpoint(saved[0], other),
    ):
        with pytest.raises(ValueError, match=rf"^config: .*changed: {field}: ") as caught:
            call()
        assert f"allow_changes=('{field}',)" in str(caught.value)
        assert "strict=False" not in str(caught.value)


def test_a_resume_on_other_data_or_dtype_names_it(small, saved):
    fewer = small._replace(x_train=small.x_train[:50], y_train=small.y_train[:50])
    with pytest.raises(ValueError, match=r"changed: data: n_train 80 → 50"):
        train(CONFIG, fewer, checkpoint_dir=saved[0])
    half = train(CONFIG, small, stop_after=1).state  # a bare state: its step count tells
    with pytest.raises(ValueError, match=r"^resume.opt_state: .*took 4 optimizer steps in 1"):
        train(CONFIG, fewer, resume=half)
    with pytest.raises(ValueError, match=r"changed: data: .*sha256"):
        load_checkpoint(saved[0], data=small._replace(y_train=small.y_train[::-1]))
    wide = small._replace(
        **{k: getattr(small, k).astype(np.float64) for k in ("x_train", "x_test")}
    )
    with jax.enable_x64(True):
        with pytest.raises(ValueError, match=r"changed: dtype: float32 params → float64 data"):
            train(CONFIG, wide, checkpoint_dir=saved[0])
        with pytest.raises(ValueError, match=r"^resume.params: .*float32 params.*float64"):
            train(CONFIG, wide, resume=saved[1].state)


def test_a_state_resumed_with_another_optimizer_or_a_schedule_added_is_refused(small, saved):
    half = train(CONFIG, small, stop_after=1).state
    for change in ({"optimizer": "sgd"}, {"schedule": "cosine"}):
        with pytest.raises(ValueError, match=r"^resume.opt_state: .*optimizer"):
            train(CONFIG.replace(**change), small, resume=half)


def test_allow_changes_resumes_on_purpose(small, saved, tmp_path):
    folder = _copy(saved, tmp_path)
    tuned = CONFIG.replace(lr=0.001, epochs=2)
    state = load_checkpoint(folder, tuned, epoch=1, allow_changes=("lr",))
    assert int(state.epoch) == 1
    result = train(tuned, small, resume=state)
    assert result.history["train_loss"].shape == (2,)
    with pytest.raises(ValueError, match=r"^allow_changes: .*\['epochs'\]"):
        load_checkpoint(folder, CONFIG.replace(epochs=3), allow_changes=("epochs",))


def test_a_user_function_is_compared_by_what_it_computes(small, tmp_path):
    import optax

    one = CONFIG.replace(optimizer=lambda lr: optax.sgd(lr))
    save_checkpoint(tmp_path, train(one, small, stop_after=1).state, one, data=small)
    other = CONFIG.replace(optimizer=lambda lr: optax.sgd(lr, momentum=0.9))
    with pytest.raises(ValueError, match=r"changed: optimizer: a function that computes"):
        load_checkpoint(tmp_path, other)
    assert int(load_checkpoint(tmp_path, one, data=small).epoch) == 1


def test_another_runs_checkpoint_is_not_overwritten_by_a_save(small, saved, tmp_path):
    folder = _copy(saved, tmp_path)
    other = CONFIG.replace(lr=0.5)
    state = train(other, small, stop_after=1).state
    with pytest.raises(ValueError, match=r"belongs to another run; changed: lr"):
        save_checkpoint(folder, state, other)
    save_checkpoint(folder, state, other, overwrite=True)
    assert int(load_checkpoint(folder, other).epoch) == 1


# ------------------------------------------------- the checkpoint_dir policy


def test_the_readme_snippet_runs_twice(small, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        part = softjax.train(CONFIG, small, stop_after=1)
        softjax.save_checkpoint("ckpt", part.state, CONFIG)
        state = softjax.load_checkpoint("ckpt", CONFIG)
        result = softjax.train(CONFIG, small, resume=state)
        again = softjax.train(CONFIG, small, checkpoint_dir="run1", checkpoint_every=1)
        _same(result.params, again.params)


def test_a_rerun_continues_and_overwrite_starts_over(small, saved, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    half = train(CONFIG, small, checkpoint_dir=folder, stop_after=1)
    assert int(half.state.epoch) == 1
    resumed = train(CONFIG, small, checkpoint_dir=folder)  # resume="auto"
    _same(resumed.params, saved[1].params)
    other = CONFIG.replace(lr=0.05)
    with pytest.raises(ValueError, match=r"overwrite=True"):
        train(other, small, checkpoint_dir=folder)
    other_half = train(other, small, stop_after=1).state
    monkeypatch.setattr(softjax.run, "make_epochs", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match=r"belongs to another run; changed: lr"):
        train(other, small, checkpoint_dir=folder, resume=other_half)
    monkeypatch.undo()
    fresh = train(other, small, checkpoint_dir=folder, overwrite=True)
    _same(fresh.params, train(other, small).params)
    assert int(load_checkpoint(folder, other).epoch) == 2


def test_an_unusable_checkpoint_dir_is_found_before_training(small, tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking checkpoint_dir")

    monkeypatch.setattr(softjax.run, "make_epochs", no_training)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match=f"checkpoint_dir {blocker}: expected a writable"):
        train(CONFIG, small, checkpoint_dir=blocker)

    def read_only(*args, **kwargs):  # root ignores chmod, so simulate the refusal
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(results_module.tempfile, "TemporaryFile", read_only)
    with pytest.raises(PermissionError, match="checkpoint_dir .*Permission denied"):
        train(CONFIG, small, checkpoint_dir=tmp_path / "ro")


def test_a_second_run_on_a_checkpoint_dir_is_refused_and_a_dead_ones_lock_recovered(
    small, tmp_path
):
    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from softjax.checkpoint import checkpoint_lock
                with checkpoint_lock({str(folder)!r}):
                    print("held", flush=True)
                    time.sleep(120)
                """
            ),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.perf_counter()
        with pytest.raises(CheckpointLocked, match=rf"pid {holder.pid} holds \.softjax\.lock"):
            train(CONFIG, small, checkpoint_dir=folder)
        assert time.perf_counter() - start < 10  # at once, no waiting
    finally:
        holder.kill()  # SIGKILL: the lock file stays, naming a dead pid
        holder.wait()
    assert (folder / ".softjax.lock").read_text().strip() == str(holder.pid)
    assert int(train(CONFIG, small, checkpoint_dir=folder).state.epoch) == 2
    with checkpoint_lock(folder), checkpoint_lock(folder):  # re-entrant in one process
        pass


# ------------------------------------------------- damaged steps, bad arguments, noise


@pytest.mark.parametrize("damage", ["truncated_metadata", "half_copied"])
def test_a_damaged_newest_step_is_named_and_the_newest_intact_one_loaded(
    small, saved, tmp_path, damage
):
    folder = _copy(saved, tmp_path)
    if damage == "truncated_metadata":
        meta = folder / "2" / "meta" / "metadata"
        meta.write_text(meta.read_text()[:20])
    else:
        for path in (folder / "2" / "state").rglob("*"):
            if path.is_file() and "ocdbt" in str(path):
                path.unlink()
    with pytest.warns(UserWarning, match=rf"{folder / '2'}: unreadable .*intact epoch, 1"):
        state = load_checkpoint(folder, CONFIG)
    assert int(state.epoch) == 1
    with pytest.warns(UserWarning, match="intact epoch, 1"):
        result = train(CONFIG, small, checkpoint_dir=folder)
    _same(result.params, saved[1].params)


def test_load_checkpoint_arguments_are_checked(saved):
    for epoch in (True, 1.0, "2"):
        with pytest.raises(ValueError, match=r"^epoch: expected an int"):
            load_checkpoint(saved[0], CONFIG, epoch=epoch)
    with pytest.raises(ValueError, match=r"^allow_changes: expected a tuple"):
        load_checkpoint(saved[0], CONFIG, allow_changes="lr")


def test_loading_says_nothing_about_orbax_read_only_options(saved, caplog):
    with caplog.at_level(logging.INFO):
        load_checkpoint(saved[0], CONFIG)
    assert not [r for r in caplog.records if "read only" in r.getMessage().lower()]
    assert not [r for r in caplog.records if "read_only" in r.getMessage()]


# ------------------------------------------------- config names, warmup_fraction=1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"loss": "xent"}, r"^config.loss: unknown loss 'xent'"),
        ({"activations": "relux"}, r"^activations: unknown activation 'relux'"),
        ({"activations": ["relu", "mish"]}, r"^activations\[1\]: unknown activation 'mish'"),
        ({"optimizer": "sgdd"}, r"^config.optimizer: expected the name of an optax optimizer"),
        ({"schedule": "cosin"}, r"^config.schedule: expected one of"),
    ],
)
def test_a_config_names_an_unknown_name_when_it_is_made(change, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(sizes=(6, 5, 4), **change)
    with pytest.raises(ValueError, match=match):
        CONFIG.replace(**change)


def test_warmup_fraction_one_is_allowed_and_warms_up_over_the_whole_run(small):
    config = CONFIG.replace(
        optimizer="sgd", schedule="warmup_cosine", schedule_kwargs={"warmup_fraction": 1.0}
    )
    result = train(config, small)
    assert np.all(np.isfinite(result.history["train_loss"]))
    lr = softjax.optim.make_schedule(config, 1.0, 4)
    steps = np.array([float(lr(c)) for c in range(8)])
    assert np.all(np.diff(steps) > 0) and steps[0] == 0.0 and steps[-1] < 1.0
