"""The shared study skeleton (experiments._common.cli): the same flags in every study,
the size table read through --config, and --losses importing a user's loss by
pkg.module:function (issue 32)."""

from __future__ import annotations

import importlib
import json
import sys

import jax.numpy as jnp
import pytest

import softjax
from experiments._common import cli

STUDIES = (
    "loss_sweep",
    "mlp_depth",
    "reproduce",
    "saturation",
    "nielsen",
    "label_noise",
    "golik",
    "hui_belkin",
    "glorot",
    "calibration",
    "gradient_swap",
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's package on sys.path with one loss function, ``mylosses.hinge``."""
    (tmp_path / "mylosses.py").write_text(
        "import jax.numpy as jnp\n\n"
        "def hinge(logits, labels):\n"
        "    z_y = jnp.take_along_axis(logits, labels[:, None], axis=-1)\n"
        "    return jnp.mean(jnp.sum(jnp.maximum(0.0, 1.0 + logits - z_y), -1) - 1.0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mylosses"
    sys.modules.pop("mylosses", None)


def test_losses_import_a_users_function_by_module_and_name(user_module):
    args = cli.parse_args("doc", ["--losses", "cce", "mylosses:hinge"], losses=True)
    assert args.losses == ["cce", "mylosses:hinge"]
    bound = softjax.resolve_loss("mylosses:hinge")
    logits, labels = jnp.array([[0.0, 2.0], [1.0, 0.0]]), jnp.array([1, 1])
    assert float(bound.fn(logits, labels)) == pytest.approx(1.0)  # (0 + 2) / 2
    # Importing it again (a second CLI call in one process) keeps the one registration.
    assert cli.import_loss("mylosses:hinge") == "mylosses:hinge"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nope", "--losses: unknown \\['nope'\\]"),
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
        ("mylosses:missing", "mylosses has no callable 'missing'"),
    ],
)
def test_bad_losses_are_refused_naming_the_flag(user_module, capsys, spec, message):
    with pytest.raises(SystemExit):
        cli.parse_args("doc", ["--losses", spec], losses=True)
    assert __import__("re").search(message, capsys.readouterr().err)


def test_the_loss_sweep_cli_takes_a_user_loss(user_module):
    from experiments.loss_sweep import run

    args = run.cli.parse_args(
        run.__doc__, ["--quick", "--losses", "mylosses:hinge", "mse"], losses=True
    )
    parts = run._parts(args, run.cli.size(args, run.SIZES))
    assert {k: v["losses"] for k, v in parts.items()} == {
        "linear": ["mylosses:hinge", "mse"],
        "mlp": ["mylosses:hinge", "mse"],
    }


def test_size_reads_the_mode_then_the_config_then_the_flags(tmp_path):
    table = {"quick": {"a": 1, "b": 2}, "full": {"a": 10, "b": 20}}
    args = cli.parse_args("doc", ["--quick"], data=False)
    assert args.mode == "quick" and cli.size(args, table) == {"a": 1, "b": 2}
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"b": 5}))
    args = cli.parse_args("doc", ["--config", str(path)], data=False)
    assert args.mode == "full" and cli.size(args, table, {"a": None}) == {"a": 10, "b": 5}
    assert cli.size(args, table, {"a": 7}) == {"a": 7, "b": 5}
    path.write_text(json.dumps({"c": 1}))
    with pytest.raises(SystemExit, match="unknown keys \\['c'\\]"):
        cli.size(args, table)
    path.write_text("[1]")
    with pytest.raises(SystemExit, match="expected a JSON object"):
        cli.size(args, table)


def test_auto_source_takes_the_raw_files_when_they_are_there(tmp_path):
    assert cli.resolve_source("auto", str(tmp_path), ["mnist"]) == "tfds"
    (tmp_path / "mnist").mkdir()
    assert cli.resolve_source("auto", str(tmp_path), ["mnist"]) == "idx"
    assert cli.resolve_source("tfds", str(tmp_path), ["mnist"]) == "tfds"
    args = cli.parse_args("doc", ["--data-dir", str(tmp_path)])
    assert args.source == "idx"


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_takes_the_shared_flags(study, capsys):
    """Each study's --help lists the shared flags (one skeleton, same names everywhere)."""
    run = importlib.import_module(f"experiments.{study}.run")
    with pytest.raises(SystemExit) as exit_info:
        run.parse_args(["--help"]) if hasattr(run, "parse_args") else run.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--quick", "--redraw", "--out"):
        assert flag in text, (study, flag)
    if study != "saturation":  # synthetic margins: no data to load
        assert "--source" in text and "--data-dir" in text
    if study != "reproduce":  # its runs are the claims' own
        assert "--config" in text


@pytest.mark.parametrize("module", ["experiments.loss_sweep", "experiments.saturation"])
def test_python_dash_m_runs_a_study_folder(module):
    """``python -m experiments.<name>`` reaches the study's CLI through its __main__.py."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--redraw" in done.stdout and "--quick" in done.stdout
