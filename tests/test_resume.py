"""Exact resume: a run cut into pieces, saved with orbax and continued in another process,
is bitwise equal to the same run straight; checkpoints every N epochs survive a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import softjax
import softjax.run
from softjax.checkpoint import latest_epoch
from softjax.config import TrainConfig
from softjax.data import make_gaussian_classes
from softjax.run import train

REPO_ROOT = Path(__file__).resolve().parents[1]

# Adam, a warmup + cosine schedule over the 4 epochs, shuffling and a partial last batch:
# everything that a restarted optimizer or epoch counter would get wrong.
CONFIG = TrainConfig(
    sizes=(6, 8, 4),
    activations="tanh",
    optimizer="adam",
    lr=0.01,
    schedule="warmup_cosine",
    schedule_kwargs={"warmup_steps": 3},
    batch_size=24,
    epochs=4,
    seed=5,
)
MAKE_DATA = "make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)"


@pytest.fixture(scope="module")
def small():
    return make_gaussian_classes(jax.random.PRNGKey(3), n=100, dim=6, num_classes=4)


@pytest.fixture(scope="module")
def straight(small):
    return train(CONFIG, small)


def _assert_bitwise(a, b):
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        assert np.array_equal(np.asarray(x), np.asarray(y))
    assert set(a.history) == set(b.history)
    for key in a.history:
        assert np.array_equal(a.history[key], b.history[key]), key


def _python(code: str, **kwargs) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import jax, numpy as np
        from softjax.data import make_gaussian_classes
        from softjax import TrainConfig, train
        data = {MAKE_DATA}
        config = TrainConfig.from_dict({CONFIG.to_dict()!r})
        """
    ) + textwrap.dedent(code)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, **kwargs)


@pytest.mark.slow
def test_two_epochs_saved_then_two_more_in_a_new_process_equal_four_straight(
    small, straight, tmp_path
):
    first = _python(f"train(config, data, stop_after=2, checkpoint_dir={str(tmp_path)!r})")
    assert first.wait(timeout=300) == 0
    assert latest_epoch(tmp_path) == 2
    state = softjax.load_checkpoint(tmp_path)
    assert int(state.epoch) == 2
    resumed = train(CONFIG, small, resume=state)
    _assert_bitwise(resumed, straight)
    # Restarting the optimizer (the old train(params=...)) is NOT the same run.
    restarted = train(CONFIG.replace(epochs=2), small, params=state.params)
    assert not np.array_equal(restarted.params[0]["w"], straight.params[0]["w"])


def test_stop_after_and_resume_in_process_equal_straight_and_keep_the_whole_history(
    small, straight
):
    half = train(CONFIG, small, stop_after=2)
    assert half.history["train_loss"].shape == (2,)
    np.testing.assert_array_equal(half.history["train_loss"], straight.history["train_loss"][:2])
    _assert_bitwise(train(CONFIG, small, resume=half.state), straight)


def test_checkpoints_every_n_epochs_through_one_chunk_program(small, straight, tmp_path):
    compiled = []
    original = softjax.run.make_epochs

    def counting(*args, **kwargs):
        compiled.append(1)
        return original(*args, **kwargs)

    softjax.run.make_epochs = counting
    try:
        result = train(CONFIG, small, checkpoint_dir=tmp_path, checkpoint_every=3)
    finally:
        softjax.run.make_epochs = original
    _assert_bitwise(result, straight)
    assert len(compiled) == 1
    saved = sorted(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit())
    assert saved == [3, 4]
    # The same call again (a re-run script) resumes: the finished run comes back as it was.
    _assert_bitwise(train(CONFIG, small, checkpoint_dir=tmp_path), straight)
    assert len(compiled) == 1
    with pytest.raises(ValueError, match=r"^resume: checkpoint_dir .* holds a checkpoint \(epoch"):
        train(CONFIG, small, checkpoint_dir=tmp_path, resume=None)


@pytest.mark.slow
def test_a_checkpointed_run_killed_after_its_first_checkpoint_resumes_bitwise(small, tmp_path):
    config = CONFIG.replace(epochs=6, schedule_kwargs={"warmup_steps": 5})
    straight6 = train(config, small)
    # Each epoch sleeps on the host so the kill lands mid-run.
    child = _python(
        f"""
        import time, softjax.run
        config = config.replace(epochs=6, schedule_kwargs={{"warmup_steps": 5}})
        call = softjax.run._ProgressBar.__call__
        def slow(self, epoch, metrics):
            time.sleep(1.0)
            call(self, epoch, metrics)
        softjax.run._ProgressBar.__call__ = slow
        train(config, data, progress=True, checkpoint_dir={str(tmp_path)!r}, checkpoint_every=1)
        """,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while child.poll() is None and not latest_epoch(tmp_path) and time.time() < deadline:
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    state = softjax.load_checkpoint(tmp_path)
    assert 1 <= int(state.epoch) < 6, "the kill did not land mid-run"
    resumed = train(config, small, resume=state, checkpoint_dir=tmp_path, checkpoint_every=1)
    _assert_bitwise(resumed, straight6)
    assert latest_epoch(tmp_path) == 6


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_the_progress_bar_counts_every_epoch_across_chunks_and_resumes(
    small, monkeypatch, capsys, tmp_path
):
    calls = []
    original = softjax.run._ProgressBar.__call__

    def counting(self, epoch, metrics):
        calls.append(int(epoch))
        return original(self, epoch, metrics)

    monkeypatch.setattr(softjax.run._ProgressBar, "__call__", counting)
    half = train(
        CONFIG, small, progress=True, checkpoint_dir=tmp_path, checkpoint_every=1, stop_after=3
    )
    assert calls == [0, 1, 2]
    assert "3/3" in capsys.readouterr().err
    train(CONFIG, small, progress=True, resume=half.state)
    assert calls == [0, 1, 2, 3]
    assert "4/4" in capsys.readouterr().err


def test_resume_arguments_are_checked_before_compiling(small, straight):
    half = train(CONFIG, small, stop_after=2)
    with pytest.raises(ValueError, match="^resume.data_key: .*config.seed=6"):
        train(CONFIG.replace(seed=6), small, resume=half.state)
    with pytest.raises(ValueError, match="^params: give params .* or resume"):
        train(CONFIG, small, resume=half.state, params=half.params)
    with pytest.raises(ValueError, match=r"^stop_after: expected an epoch in \[2, "):
        train(CONFIG, small, resume=half.state, stop_after=1)
    with pytest.raises(ValueError, match="^resume.history: expected keys"):
        train(CONFIG.replace(epochs=5), small, resume=half.state)
    with pytest.raises(ValueError, match="^resume: expected a TrainState"):
        train(CONFIG, small, resume=half.params)
    with pytest.raises(ValueError, match="^checkpoint_every: needs checkpoint_dir"):
        train(CONFIG, small, checkpoint_every=1)
