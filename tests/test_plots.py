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


# Figures honest at a glance (issue 33): intervals inside their quantity's range, no
# interval over one replicate, titles of at most two lines, lrs to three digits.


@pytest.fixture
def kept(monkeypatch):
    """Every figure the drawing code closes, kept open for inspection."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    yield figures
    monkeypatch.undo()
    plt.close("all")


def _doc(user_sweep, *, n=None, wide=False, lr=None):
    """The user's summary with every interval made absurdly wide (``wide``), cut to
    one replicate (``n=1``), or its lr 0.1 renamed ``lr``."""
    import copy

    _, out = user_sweep
    doc = copy.deepcopy(records.summary_document(out / "mine.jsonl"))
    cells_and_best = doc["cells"] + doc["best"]
    if lr is not None:
        for c in cells_and_best:
            c["lr"] = lr if c["lr"] == 0.1 else c["lr"]
        doc["grid"]["lrs_by_loss"] = {k: [lr, 1.0] for k in doc["grid"]["lrs_by_loss"]}
    for c in cells_and_best:
        if wide:
            for key in c.get("ci95") or {}:
                c["ci95"][key] = _inflate(c["ci95"][key])
            for split in ("val", "test"):
                if c.get(f"final_{split}_accuracy_ci95") is not None:
                    c[f"final_{split}_accuracy_ci95"] = 5.0
            if c.get("stuck_ci95") is not None:
                c["stuck_ci95"] = [-0.5, 1.5]
        if n == 1:
            c["n"] = c["n_finite"] = 1
            c["n_diverged"] = 0
            c["ci95"] = {k: None for k in c.get("ci95") or {}}
            for split in ("val", "test"):
                c[f"final_{split}_accuracy_ci95"] = None
    if n == 1:
        doc["grid"]["seeds"] = doc["grid"]["seeds"][:1]
    return doc


def _inflate(v):
    """Every number of a (nested) list times 1000 plus 5: an interval far past any range."""
    if isinstance(v, list):
        return [_inflate(x) for x in v]
    return None if v is None else 1000 * abs(v) + 5.0


def _bands(ax):
    """The y-values of every filled band and error bar drawn on ``ax``."""
    from matplotlib.collections import LineCollection, PolyCollection

    ys = []
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            ys += [y for p in coll.get_paths() for y in p.vertices[:, 1]]
        elif isinstance(coll, LineCollection):
            ys += [y for seg in coll.get_segments() for y in seg[:, 1]]
    return [y for y in ys if y == y]


def _range_of(ax):
    label = ax.get_ylabel()
    if "cos" in label:
        return -1.0, 1.0
    if "%" in label:
        return 0.0, 100.0
    return 0.0, float("inf")


def _titles(fig):
    texts = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    return texts + [ax.get_title() for ax in fig.axes]


def test_every_interval_stays_inside_its_quantitys_range(user_sweep, tmp_path, kept):
    doc = _doc(user_sweep, wide=True)
    (tmp_path / "wide.json").write_text(json.dumps(doc))
    sweep.draw(tmp_path / "wide.json", tmp_path)
    checked = 0
    for fig in kept:
        for ax in fig.axes:
            ys = _bands(ax)
            if not ys or not ax.get_ylabel():
                continue
            low, high = _range_of(ax)
            assert low - 1e-9 <= min(ys) and max(ys) <= high + 1e-9, (ax.get_ylabel(), min(ys))
            checked += 1
    # curves, four gradient rows × one scale, stuck bars: all had out-of-range intervals
    assert checked >= 6


def test_one_replicate_draws_no_band_and_says_so(user_sweep, tmp_path, kept):
    from matplotlib.collections import PolyCollection

    (tmp_path / "one.json").write_text(json.dumps(_doc(user_sweep, n=1)))
    sweep.draw(tmp_path / "one.json", tmp_path)
    curves, _, grads, _ = kept
    for fig in (curves, grads):
        assert not [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
        assert "n = 1, no interval" in fig._suptitle.get_text()
        assert "95%" not in fig._suptitle.get_text()


def test_titles_take_at_most_two_lines(user_sweep, tmp_path, kept):
    long = "a study's own title line, " * 12
    sweep.draw(user_sweep[1] / "mine.jsonl", tmp_path, title=long)
    assert len(kept) == 4
    for fig in kept:
        for text in _titles(fig):
            assert text.count("\n") <= 1, text
    # What did not fit is under the figure, not lost.
    assert any("own title line" in t.get_text() for t in kept[0].texts)


def test_lrs_are_printed_to_three_significant_digits(user_sweep, tmp_path, kept):
    from softjax.plots.common import fmt_lr

    assert [fmt_lr(x) for x in (0.00111111, 3e-5, 0.5, 1.0, 2, 0.316228, 1234.5, None)] == [
        "0.00111",
        "3e-5",
        "0.5",
        "1.0",
        "2",
        "0.316",
        "1.23e3",
        "none",
    ]
    (tmp_path / "lr.json").write_text(json.dumps(_doc(user_sweep, lr=0.00111111)))
    sweep.draw(tmp_path / "lr.json", tmp_path)
    texts = []
    for fig in kept:
        for ax in fig.axes:
            texts += [t.get_text() for t in ax.get_xticklabels() + ax.texts]
            legend = ax.get_legend()
            texts += [t.get_text() for t in legend.get_texts()] if legend else []
    assert any("0.00111" in t for t in texts)
    assert not any("0.0011111" in t for t in texts)


def test_clip_band_cuts_to_the_range_and_says_whether_it_did():
    from softjax.plots.common import COSINE, PERCENT, clip_band, yerr

    low, high, cut = clip_band([-1.4, 0.2], [0.3, 1.7], COSINE)
    assert low.tolist() == [-1.0, 0.2] and high.tolist() == [0.3, 1.0] and cut
    assert clip_band([10.0], [20.0], PERCENT)[2] is False
    assert yerr([90.0], [70.0], [150.0], PERCENT).tolist() == [[20.0], [10.0]]
    with pytest.raises(ValueError, match="bounds"):
        clip_band([0], [1], (1.0, 0.0))
