"""softjax.plots draws any user's sweep: from the records sweep() returns, from the
.jsonl it writes and from its .meta.json (issue 32), with no study code involved."""

from __future__ import annotations

import json

import jax
import pytest

import softjax as sj
from softjax.plots import gradients, records, sweep
from softjax.plots.common import describe


@pytest.fixture(scope="module")
def user_sweep(tmp_path_factory):
    """A user's own tiny sweep: blobs with a validation split, two losses × two lrs ×
    two seeds, one epoch, written under a temporary folder."""
    out = tmp_path_factory.mktemp("user_sweep")
    data = sj.make_blobs(jax.random.PRNGKey(0), 40, validation=12)
    base = sj.TrainConfig(sizes=(2, 8, 3), activations="tanh", batch_size=16, epochs=1)
    got = sj.sweep(
        base,
        data,
        losses=["cce", "mse"],
        lrs=[0.1, 1.0],
        seeds=[0, 1],
        name="mine",
        out_dir=out,
        progress=False,
    )
    return got, out


def _pngs(paths):
    return [p for p in paths if p.exists() and p.stat().st_size > 0 and p.suffix == ".png"]


@pytest.mark.parametrize("kind", ["records", "jsonl", "meta"])
def test_the_four_figures_draw_from_records_or_either_file(user_sweep, tmp_path, kind):
    got, out = user_sweep
    source = {"records": got, "jsonl": out / "mine.jsonl", "meta": out / "mine.meta.json"}[kind]
    paths = sweep.draw(source, tmp_path)
    stem = "sweep" if kind == "records" else "mine"
    assert [p.name for p in paths] == [
        f"{stem}_{k}.png" for k in ("curves", "heatmap", "gradients", "stuck")
    ]
    assert len(_pngs(paths)) == 4


def test_the_summary_document_lays_out_the_users_grid(user_sweep):
    got, out = user_sweep
    doc = records.summary_document(out / "mine.jsonl")
    assert doc["grid"]["losses"] == ["cce", "mse"]
    assert doc["grid"]["lrs_by_loss"] == {"cce": [0.1, 1.0], "mse": [0.1, 1.0]}
    assert doc["grid"]["sizes"] == [2, 8, 3] and len(doc["grid"]["seeds"]) == 2
    assert len(doc["cells"]) == 4 and all(c["n"] == 2 for c in doc["cells"])
    assert {b["loss"] for b in doc["best"]} == {"cce", "mse"}
    assert all(b["lr"] in (0.1, 1.0) for b in doc["best"])
    # The same document from the returned records and from the file.
    assert records.summary_document(got)["best"] == doc["best"]
    # A one-hidden-layer MLP: the gradients figure gets its f′ and saturation rows.
    assert [r[0] for r in gradients.hidden_rows(doc)] == ["hidden_fprime", "hidden_saturated"]
    assert describe(doc).startswith("2-8-3, sgd batch 16, 1 epochs;")


def test_a_summary_json_is_read_as_it_is_and_wrong_files_say_what_they_lack(user_sweep, tmp_path):
    _, out = user_sweep
    doc = records.summary_document(out / "mine.jsonl")
    (tmp_path / "summary.json").write_text(json.dumps(doc))
    assert records.summary_document(tmp_path / "summary.json") == json.loads(json.dumps(doc))
    assert len(_pngs(sweep.draw(tmp_path / "summary.json", tmp_path / "figs"))) == 4
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a sweep summary"):
        records.summary_document(tmp_path / "other.json")
    with pytest.raises(ValueError, match="no records file"):
        records.summary_document(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="expected a sweep's records file"):
        records.load_records(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="no records to draw"):
        records.summary_document([])
