"""The square-loss experiment (Hui & Belkin 2021): the many-class generator, the
rescaling verdict, and the CLI."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from experiments.hui_belkin import report as plots
from experiments.hui_belkin import run as hui_belkin
from softjax.data import make_many_classes
from softjax.results import read_json
from tests.helpers import GROWN_CLAUSE, GROWN_GRIDS, readme_row_of


def test_many_classes_is_seeded_balanced_and_split():
    a = make_many_classes(jax.random.PRNGKey(0), 600, 8, 30, validation=60)
    b = make_many_classes(jax.random.PRNGKey(0), 600, 8, 30, validation=60)
    c = make_many_classes(jax.random.PRNGKey(1), 600, 8, 30, validation=60)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.x_train, c.x_train)
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (420, 60, 120)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int32
    labels = np.concatenate([a.y_train, a.y_val, a.y_test])
    np.testing.assert_array_equal(np.bincount(labels), np.full(30, 20))


def test_many_classes_refuses_bad_sizes_naming_them():
    for kwargs, name in (({"num_classes": 1}, "num_classes"), ({"dim": 0}, "dim")):
        args = {"n": 100, "dim": 4, "num_classes": 5} | kwargs
        with pytest.raises(ValueError, match=name):
            make_many_classes(jax.random.PRNGKey(0), **args)


def _synthetic(gaps):
    """K → rows with plain square loss at 0.5 and rescaled at 0.5 + gap (ci 0.01)."""

    def row(family, m):
        return {
            "family": family,
            "loss_spec": "x",
            "final_test_accuracy": m,
            "final_test_accuracy_ci95": 0.01,
        }

    return {str(k): [row("plain", 0.5), row("rescaled", 0.5 + g)] for k, g in gaps.items()}


def test_rescaling_onset_is_the_first_k_from_which_it_always_wins():
    assert (
        plots.rescaling_onset(_synthetic({10: 0.0, 20: 0.05, 50: 0.0, 100: 0.1, 200: 0.2})) == 100
    )
    assert plots.rescaling_onset(_synthetic({10: 0.05, 200: 0.2})) == 10
    assert plots.rescaling_onset(_synthetic({10: 0.0, 200: -0.1})) is None


@pytest.mark.slow
def test_cli_smoke_writes_json_figure_summary_and_redraws(shared_data_dir, tmp_path):
    argv = ["--smoke", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    written = hui_belkin.main(argv)
    assert {p.name for p in written} == {"hui_belkin_smoke.png", "hui_belkin_smoke.md"}
    doc = read_json(tmp_path / "hui_belkin_smoke.json")
    assert {r["family"] for r in doc["real"]["mnist"]} == {"cce", "plain"}
    assert set(doc["synthetic"]) == {"10", "20"}
    for k, rows in doc["synthetic"].items():
        fam = {r["family"]: r for r in rows}
        assert set(fam) == {"cce", "plain", "rescaled"}
        # The square losses' lr grid scales with K/10; CCE's does not.
        assert fam["plain"]["lrs"] == [hui_belkin.LR_GRIDS["plain"][1] * int(k) / 10]
        assert fam["cce"]["lrs"] == [hui_belkin.LR_GRIDS["cce"][1]]
    text = (tmp_path / "hui_belkin_smoke.md").read_text()
    assert "Hui & Belkin" in text and "rescaling" in text
    for p in written:
        p.unlink()
    redrawn = hui_belkin.main([*argv, "--redraw"])
    assert all(p.exists() and p.stat().st_size > 0 for p in redrawn)
    assert (tmp_path / "hui_belkin_smoke.md").read_text() == text


def _row(family, lr, edge, lrs):
    loss = {"cce": "cce", "plain": ["square_rescaled", {"k": 1.0, "M": 1.0}]}[family]
    stats = {"final_test_accuracy": 0.9, "final_test_accuracy_ci95": 0.01}
    return {"family": family, "loss": "x", "loss_spec": loss, "lr": lr, "edge": edge, **stats}


def _doc(edge):
    rows = [_row("cce", 0.3, edge, None), _row("plain", 0.1, None, None)]
    synth = [_row("cce", 0.1, None, None), {**_row("plain", 0.6000000000000001, edge, None)}]
    synth[1]["lrs"] = [0.6000000000000001, 2.0, 6.0]  # a grid scaled by K/10, as the CLI's
    config = {"train_subset": None, "epochs": 20, "synth_epochs": 5, "seeds": [0, 1]}
    config.update(
        mode="full",
        batch_size=64,
        hidden=128,
        lr_grids={"cce": [0.01, 0.1, 0.3], "plain": [0.03, 0.1, 0.3]},
    )
    return {
        "provenance": {"config": config, "git_commit": "abc"},
        "real": {"mnist": rows},
        "synthetic": {"20": synth},
    }


def test_summary_marks_and_names_an_lr_on_its_grid_edge(tmp_path):
    from softjax.results import write_json

    write_json(tmp_path / "hui_belkin.json", _doc("high"))
    text = plots.write_summary(tmp_path / "hui_belkin.json", tmp_path).read_text()
    assert "| mnist | CCE | 0.3† |" in text and "| 20 | square k=1 M=1 | 0.6† |" in text
    assert "† The lr chosen on validation lies on an edge" in text
    assert (
        "Chosen lr on an edge of its grid: mnist CCE lr 0.3 (high edge of [0.01, 0.1, 0.3]); "
        "K = 20 square k=1 M=1 lr 0.6 (high edge of [0.6, 2.0, 6.0]);"
    ) in text


def test_summary_without_edges_says_interior(tmp_path):
    from softjax.results import write_json

    write_json(tmp_path / "hui_belkin.json", _doc(None))
    text = plots.write_summary(tmp_path / "hui_belkin.json", tmp_path).read_text()
    assert "Every chosen lr is interior to its grid." in text and "†" not in text


def test_summary_says_how_the_grids_grew(tmp_path):
    from softjax.results import write_json

    doc = _doc("high")
    doc["provenance"]["config"].update(GROWN_GRIDS)
    doc["real"]["mnist"][0]["lrs"] = [0.01, 0.1, 0.3, 0.9]  # the row's own final grid
    doc["real"]["mnist"][0]["lr"] = 0.9
    write_json(tmp_path / "hui_belkin.json", doc)
    text = plots.write_summary(tmp_path / "hui_belkin.json", tmp_path).read_text()
    assert f"'plain': [0.03, 0.1, 0.3]}}, {GROWN_CLAUSE}, chosen on validation" in text
    assert "mnist CCE lr 0.9 (high edge of [0.01, 0.1, 0.3, 0.9])" in text


def test_the_readme_row_is_written_from_the_numbers(tmp_path):
    from softjax.results import write_json

    doc = _doc(None)
    doc["real"]["mnist"][1]["final_test_accuracy"] = 0.895  # square 0.5 pp behind CCE
    write_json(tmp_path / "hui_belkin.json", doc)
    text = plots.write_summary(tmp_path / "hui_belkin.json", tmp_path).read_text()
    row = readme_row_of(text)
    assert "square − CCE = -0.50 pp on MNIST (" in row
    assert "the rescaled form never separates from the plain one (2 seeds," in row
    assert row.endswith(
        "| yes: CE slightly ahead on vision or level with it; rescaling: we do not see it "
        "become necessary up to our largest K |"
    )
