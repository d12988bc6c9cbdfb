"""The README's generated blocks (``experiments/_common/readme_results.py``) equal the results."""

import json

import pytest

from experiments._common import readme_results
from experiments._common.readme_results import ROOT, bullets, refresh, render, tables

MD = """# title

Intro.

## Findings

- Test accuracy, mse vs cce: no difference measured.
- Test accuracy, bce vs cce: bce higher than cce.
- Every chosen lr is interior to its grid.

## Table

| loss | acc |
| --- | --- |
| cce | 92.1 |

| second | table |
| --- | --- |
"""


def test_the_readme_says_what_the_results_say():
    text = (ROOT / "README.md").read_text()
    new, changed = refresh(text)
    assert "<!-- generated:" in text
    assert changed == [], (
        f"README blocks out of date; run python -m experiments.readme_results: {changed}"
    )
    assert new == text


def test_tables_and_bullets_are_read_in_order():
    assert tables(MD) == [
        "| loss | acc |\n| --- | --- |\n| cce | 92.1 |",
        "| second | table |\n| --- | --- |",
    ]
    assert bullets(MD, ["Test accuracy, bce"]) == [
        "- Test accuracy, bce vs cce: bce higher than cce."
    ]
    assert len(bullets(MD, ["*"])) == 3


def test_a_block_is_rewritten_from_its_file(tmp_path):
    (tmp_path / "r.md").write_text(MD)
    recipe = {"from": "r.md", "table": 0, "bullets": ["Every chosen"]}
    readme = f"a\n<!-- generated: {json.dumps(recipe)} -->\nstale\n<!-- end generated -->\nb\n"
    new, changed = refresh(readme, tmp_path)
    assert changed == [json.dumps(recipe)]
    assert "stale" not in new
    assert (
        "| cce | 92.1 |\n\n- Every chosen lr is interior to its grid.\n<!-- end generated -->\nb"
        in new
    )
    assert refresh(new, tmp_path)[1] == []


def test_a_whole_file_block_is_the_file(tmp_path):
    (tmp_path / "r.md").write_text(MD.rstrip("\n"))
    assert render({"from": "r.md", "whole": True}, tmp_path) == MD


def test_missing_pieces_are_errors(tmp_path):
    (tmp_path / "r.md").write_text(MD)
    with pytest.raises(ValueError, match="no table 2"):
        render({"from": "r.md", "table": 2}, tmp_path)
    with pytest.raises(ValueError, match="no bullet"):
        render({"from": "r.md", "bullets": ["Nothing like this"]}, tmp_path)
    with pytest.raises(FileNotFoundError, match="no file matches"):
        render({"wall_time": [["x", "none_*.json"]]}, tmp_path)


def test_wall_time_sums_each_group_and_judges_the_goal(tmp_path):
    prov = {"device": {"cpu_count": 2}}
    for name, seconds in (("a.json", 600.0), ("b_1.json", 1200.0), ("b_2.json", 300.0)):
        (tmp_path / name).write_text(json.dumps({"wall_seconds": seconds, "provenance": prov}))
    (tmp_path / "b_1.meta.json").write_text("{}")
    groups = [["A", "a.json"], ["B", "b_*.json"]]
    text = readme_results.wall_time(groups, tmp_path, goal_minutes=45)
    assert "A 10.0; B 25.0; 35.0 in total, within the 45-minute goal" in text
    assert "over the 30-minute goal" in readme_results.wall_time(groups, tmp_path, goal_minutes=30)


def _summary(rows, header="| a | b |\n| --- | --- |"):
    return "# t\n\n## Findings\n\n- x\n\n## README row\n\nWhy.\n\n" + header + "\n" + rows + "\n"


def test_rows_stack_every_files_readme_row_under_one_header(tmp_path):
    (tmp_path / "one.md").write_text(_summary("| 1 | 2 |\n| 3 | 4 |"))
    (tmp_path / "two.md").write_text(_summary("| 5 | 6 |"))
    got = render({"rows": ["one.md", "two.md"]}, tmp_path)
    assert got == "| a | b |\n| --- | --- |\n| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |\n"
    (tmp_path / "three.md").write_text(_summary("| 7 | 8 |", header="| c | d |\n| --- | --- |"))
    with pytest.raises(ValueError, match="three.md: its 'README row' table's header differs"):
        render({"rows": ["one.md", "three.md"]}, tmp_path)
    (tmp_path / "none.md").write_text(MD)
    with pytest.raises(ValueError, match="none.md: no section 'README row'"):
        render({"rows": ["none.md"]}, tmp_path)


@pytest.mark.parametrize(
    "stem", ["nielsen", "label_noise", "golik", "hui_belkin", "glorot", "calibration"]
)
def test_each_literature_summary_is_what_its_json_writes(stem, tmp_path):
    """The committed summaries (whose "README row" sections the README copies) are the
    plots modules' text from the committed JSON: no number in them was typed. Strict for a
    result that is current (``python -m experiments.provenance``: its code equals HEAD's);
    a stale one is skipped, saying so, when today's code writes it otherwise."""
    import importlib

    from experiments.provenance import report as provenance

    path = ROOT / "results" / f"{stem}.json"
    row = provenance.row_for(path, ROOT)
    plots = importlib.import_module(f"experiments.{stem}.report")
    stale = f"results/{stem}.json is not current ({row.status}); re-run it"
    if row.status != "current":
        legacy = getattr(plots, "legacy", None)
        methods = getattr(plots, "METHODS", None)
        doc = json.loads(path.read_text())
        if (legacy is not None and legacy(doc)) or (methods and doc.get("methods") != methods):
            pytest.skip(f"{stale}: it predates its study's current summary")
        try:
            written = plots.write_summary(path, tmp_path).read_text()
        except (KeyError, TypeError, ValueError) as e:
            pytest.skip(f"{stale}: today's report cannot read it ({e!r})")
        if written != (ROOT / "results" / f"{stem}.md").read_text():
            pytest.skip(f"{stale}: today's report writes it otherwise")
        return
    written = plots.write_summary(path, tmp_path)
    assert written.read_text() == (ROOT / "results" / f"{stem}.md").read_text()


def test_a_section_block_is_the_sections_text(tmp_path):
    text = "# t\n\n## Answer\n\ninit 1: cannot tell.\n\n## Next\n\nno\n"
    (tmp_path / "r.md").write_text(text)
    assert render({"from": "r.md", "section": "Answer"}, tmp_path) == "init 1: cannot tell.\n"
    with pytest.raises(ValueError, match="no section 'Missing'"):
        render({"from": "r.md", "section": "Missing"}, tmp_path)
