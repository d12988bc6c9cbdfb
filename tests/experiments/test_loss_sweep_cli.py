"""The loss_sweep CLI end to end on a tiny MNIST subset, and its --redraw guards.

One real run (640 images, 1 epoch, two losses, softmax regression) is shared by the
module; the regression tests copy its files and fake the training or the plotting where
they test only the bookkeeping, so the file stays cheap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import softjax.sweeps.core as core_module
from experiments.loss_sweep import run as loss_sweep
from softjax.results import read_json, read_jsonl
from softjax.training import HISTORY_KEYS, Data, TrainConfig, history_shape

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
VAL_KEYS = ("val_loss", "val_accuracy")
REDRAW = ["--quick", "--redraw", "--sizes", "784", "10"]

NAME = "loss_sweep_mnist_linear_quick"
FIGURES = [f"{NAME}_{kind}.png" for kind in ("curves", "heatmap", "gradients", "stuck")]
N_SCALES, N_SEEDS = len(loss_sweep.QUICK["init_scales"]), len(loss_sweep.QUICK["seeds"])


def _argv(data_dir, out, subset=640):
    return [
        "--quick",
        "--source",
        "idx",
        "--data-dir",
        str(data_dir),
        "--train-subset",
        str(subset),
        "--epochs",
        "1",
        "--losses",
        "cce",
        "mse",
        "--sizes",
        "784",
        "10",
        "--out",
        str(out),
    ]


def _fake_trainer(calls, val_by_lr=None, test_by_lr=None):
    """A run_group that returns constant histories (val/test accuracy per lr if given)."""

    def fake_run_group(program, points, data, mesh, dtype, data_seed):
        calls.append(len(points))
        n, config = len(points), TrainConfig.from_dict(points[0]["config"])
        keys = (*HISTORY_KEYS, *VAL_KEYS)
        history = {k: np.full((n, *history_shape(config, k)), 0.5) for k in keys}
        for i, p in enumerate(points):
            lr = p["config"]["lr"]
            history["val_accuracy"][i] = (val_by_lr or {}).get(lr, 0.5)
            history["test_accuracy"][i] = (test_by_lr or {}).get(lr, 0.5)
        return None, history, np.ones(n, bool)

    return fake_run_group


@pytest.fixture(scope="module")
def run(tmp_path_factory, shared_data_dir):
    if "x_val" not in Data._fields:
        pytest.skip("training does not report val_* metrics yet")
    out = tmp_path_factory.mktemp("loss_sweep")
    assert loss_sweep.main(_argv(shared_data_dir, out)) == 0
    return out


def _copy(src, dst, names):
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(src / name, dst / name)
    return dst


def _n_configs(doc):
    return sum(map(len, doc["grid"]["lrs_by_loss"].values())) * N_SCALES * N_SEEDS


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_a_tiny_run_writes_results_summary_and_figures(run):
    doc = read_json(run / f"{NAME}.json")
    n = _n_configs(doc)
    assert doc["n_records"] == n and len(read_jsonl(run / f"{NAME}.jsonl")) == n
    assert doc["grid"]["losses"] == ["cce", "mse"] and doc["grid"]["epochs"] == 1
    data = doc["grid"]["data"]
    assert (data["n_train"], data["train_subset"], data["source"]) == (640, 640, "idx")
    assert len(doc["cells"]) == n // N_SEEDS and all(c["n"] == N_SEEDS for c in doc["cells"])
    md = (run / f"{NAME}.md").read_text()
    assert "first 640 training images" in md
    assert all((run / f).stat().st_size > 0 for f in FIGURES)
    # --quick says so in its files; softmax regression carries the square loss's closed forms.
    assert (
        doc["quick"] is True
        and loss_sweep.QUICK_NOTE in md
        and doc["summary"][0] == (loss_sweep.QUICK_NOTE)
    )
    ls = doc["analysis"]["least_squares"]
    # 640 images < 785 parameters: the min-norm fit interpolates the training split.
    assert ls["train_accuracy"] == 1 and 0.2 < ls["test_accuracy"] < 1
    assert doc["analysis"]["square_lr_bound"] > 0
    # Replicate i is init seed i and data seed i: n counts distinct runs.
    assert {(r["seed"], r["data_seed"]) for r in read_jsonl(run / f"{NAME}.jsonl")} == {
        (i, i) for i in loss_sweep.QUICK["seeds"]
    }


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_redraw_with_only_the_json_redraws_the_figures_and_keeps_the_results(run, tmp_path):
    out = _copy(run, tmp_path, [f"{NAME}.json"])
    before = (out / f"{NAME}.json").read_bytes()
    assert loss_sweep.main([*REDRAW, "--out", str(out)]) == 0
    assert (out / f"{NAME}.json").read_bytes() == before  # not rewritten from zero records
    assert all((out / f).stat().st_size > 0 for f in FIGURES)
    assert (out / f"{NAME}.md").read_text() == (run / f"{NAME}.md").read_text()


def test_redraw_without_the_json_says_so(tmp_path):
    with pytest.raises(SystemExit, match=rf"--redraw: no results at .*{NAME}\.json"):
        loss_sweep.main([*REDRAW, "--out", str(tmp_path)])


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_redraw_summarizes_only_this_grids_lines(run, tmp_path, monkeypatch):
    """Lines of an older grid under the same name (3 epochs) neither crash nor mix in."""
    monkeypatch.setattr(loss_sweep.plots, "draw", lambda *args: [])
    out = _copy(run, tmp_path, [f"{NAME}.json", f"{NAME}.jsonl"])
    old = []
    for r in read_jsonl(out / f"{NAME}.jsonl"):
        r = json.loads(json.dumps(r))
        r["config"]["epochs"] = 3
        r["key"] = "old-" + r["key"]
        r["history"] = {k: [0.0, 0.0, 0.0] for k in HISTORY_KEYS}
        old.append(r)
    lines = (out / f"{NAME}.jsonl").read_text()
    (out / f"{NAME}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old) + lines)
    assert loss_sweep.main([*REDRAW, "--out", str(out)]) == 0
    doc, ref = read_json(out / f"{NAME}.json"), read_json(run / f"{NAME}.json")
    assert doc["n_records"] == _n_configs(ref) and doc["cells"] == ref["cells"]
    # A JSONL missing some of the grid's lines: the JSON stays as it was.
    (out / f"{NAME}.jsonl").write_text("".join(lines.splitlines(keepends=True)[:5]))
    before = (out / f"{NAME}.json").read_bytes()
    assert loss_sweep.main([*REDRAW, "--out", str(out)]) == 0
    assert (out / f"{NAME}.json").read_bytes() == before


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_another_train_subset_reruns_and_the_same_one_resumes(
    run, tmp_path, monkeypatch, shared_data_dir
):
    """The resume key holds the data: 1280 images do not reuse the 640-image results."""
    calls = []
    monkeypatch.setattr(core_module, "build_program", lambda *args: None)
    monkeypatch.setattr(core_module, "run_group", _fake_trainer(calls))
    monkeypatch.setattr(loss_sweep.plots, "draw", lambda *args: [])
    out = _copy(run, tmp_path, [f"{NAME}.json", f"{NAME}.jsonl", f"{NAME}.meta.json"])
    assert loss_sweep.main(_argv(shared_data_dir, out, subset=640)) == 0
    assert calls == []  # the same data: everything resumes
    assert loss_sweep.main(_argv(shared_data_dir, out, subset=1280)) == 0
    doc = read_json(out / f"{NAME}.json")
    n = _n_configs(doc)
    assert sum(calls) == n
    assert doc["grid"]["data"]["n_train"] == 1280 and doc["n_records"] == n
    assert len(read_jsonl(out / f"{NAME}.jsonl")) == n + _n_configs(read_json(run / f"{NAME}.json"))


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_train_subset_and_epochs_must_be_positive_integers(value, capsys):
    for flag in ("--train-subset", "--epochs"):
        with pytest.raises(SystemExit):
            loss_sweep.parse_args([flag, value])
        assert f"argument {flag}: expected an integer > 0" in capsys.readouterr().err


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_the_cli_chooses_lrs_on_validation_and_reports_test_at_them(
    tmp_path, monkeypatch, shared_data_dir
):
    """Validation prefers lr 0.03, test prefers 0.3: the JSON, text and table follow
    validation and quote the test accuracy at 0.03. 0.03 is the grid's low edge, so the
    grid grows to 0.01, where validation is worse: 0.03 is interior and stays chosen."""
    calls = []
    fake = _fake_trainer(calls, val_by_lr={0.03: 0.9, 0.3: 0.8}, test_by_lr={0.03: 0.7, 0.3: 0.95})
    monkeypatch.setattr(core_module, "build_program", lambda *args: None)
    monkeypatch.setattr(core_module, "run_group", fake)
    assert loss_sweep.main(_argv(shared_data_dir, tmp_path)) == 0
    doc = read_json(tmp_path / f"{NAME}.json")
    assert doc["grid"]["data"]["n_val"] == 5000  # load_dataset's default validation split
    assert doc["grid"]["lrs_by_loss"] == {"cce": [0.01, 0.03, 0.3], "mse": [0.01, 0.03, 0.3]}
    assert {(b["lr"], b["final_test_accuracy"], b["edge"]) for b in doc["best"]} == {
        (0.03, 0.7, None)
    }
    assert "cce 70.00 ± 0.00% (lr 0.03)" in doc["summary"][2]
    assert "lr chosen on validation" in (tmp_path / f"{NAME}.md").read_text()
    assert all((tmp_path / f).stat().st_size > 0 for f in FIGURES)
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unwritable_out_folder_fails_before_loading_data(tmp_path, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("loaded the data before checking the folder")

    monkeypatch.setattr(loss_sweep, "load_dataset", no_loading)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match=f"out folder {blocker / 'out'}: expected a writable"):
        loss_sweep.main(["--quick", "--out", str(blocker / "out")])


_HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from softjax.sweeps import sweep_lock
    with sweep_lock(sys.argv[1], "loss_sweep_mnist_linear_quick"):
        (Path(sys.argv[1]) / "held").write_text("")
        while not (Path(sys.argv[1]) / "go").exists():
            time.sleep(0.05)
    """
)


def test_a_second_copy_on_the_same_folder_fails_at_once_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(loss_sweep, "load_dataset", lambda *a, **k: 1 / 0)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)], cwd=REPO_ROOT)
    try:
        for _ in range(600):
            if (tmp_path / "held").exists():
                break
            time.sleep(0.05)
        with pytest.raises(SystemExit, match=rf"{tmp_path}: .*already running .*pid {holder.pid}"):
            loss_sweep.main(["--quick", "--sizes", "784", "10", "--out", str(tmp_path)])
    finally:
        (tmp_path / "go").write_text("")
        holder.wait(timeout=60)


MLP_OVERVIEW = ("loss_sweep_mnist_mlp_quick.md", "loss_sweep_mnist_mlp_overview_quick.png")


@pytest.mark.slow  # over 8 s on 2 cores (a CLI run, a subprocess or a float64 equality)
def test_several_mlps_get_their_own_files_and_one_overview_redrawn_from_the_jsons(
    tmp_path, monkeypatch, shared_data_dir, capsys
):
    monkeypatch.setattr(core_module, "build_program", lambda *args: None)
    monkeypatch.setattr(core_module, "run_group", _fake_trainer([]))
    argv = _argv(shared_data_dir, tmp_path)
    argv[argv.index("--sizes") + 1 : argv.index("--sizes") + 3] = ["784", "8", "10"]
    argv += ["--activations", "sigmoid", "relu"]
    assert loss_sweep.main(argv) == 0
    stems = [f"loss_sweep_mnist_mlp_{act}_8_quick" for act in ("sigmoid", "relu")]
    for act, name in zip(("sigmoid", "relu"), stems, strict=True):
        doc = read_json(tmp_path / f"{name}.json")
        assert doc["grid"]["activation"] == act and doc["analysis"] is None
        assert (tmp_path / f"{name}_gradients.png").exists()
    assert (tmp_path / "loss_sweep_mnist_mlp_stuck_quick.png").stat().st_size > 0
    md, png = (tmp_path / f for f in MLP_OVERVIEW)
    text = md.read_text()
    assert loss_sweep.QUICK_NOTE in text and png.stat().st_size > 0
    assert all(f"({name}.md)" in text for name in stems)
    printed = capsys.readouterr().out.split("\nwrote\n")[-1]  # "where every file went"
    assert all(f"  {tmp_path / f}\n" in printed for f in MLP_OVERVIEW)
    # --redraw from the models' JSONs alone writes the same overview text and a figure.
    out = _copy(tmp_path, tmp_path / "redraw", [f"{name}.json" for name in stems])
    monkeypatch.setattr(loss_sweep.plots, "draw", lambda *args: [])  # tested above
    monkeypatch.setattr(loss_sweep.plots, "draw_stuck_overview", lambda paths, path: path)
    argv[argv.index("--out") + 1] = str(out)
    assert loss_sweep.main([*argv, "--redraw"]) == 0
    assert (out / MLP_OVERVIEW[0]).read_text() == text
    assert (out / MLP_OVERVIEW[1]).stat().st_size > 0
