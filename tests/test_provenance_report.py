"""The provenance report tells current results from stale ones, from git alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from experiments.provenance import report


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _result(root: Path, name: str, commit: str | None) -> None:
    prov = None if commit is None else {"git_commit": commit, "created": "2026-01-01T00:00:00"}
    (root / "results" / name).write_text(json.dumps({"provenance": prov, "x": 1}))


def test_each_file_is_current_stale_dirty_or_unknown(tmp_path):
    root = tmp_path
    for args in (("init", "-q"), ("config", "user.email", "t@t"), ("config", "user.name", "t")):
        _git(root, *args)
    (root / "softjax").mkdir()
    (root / "results").mkdir()
    (root / "softjax" / "a.py").write_text("a = 1\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "one")
    first = _git(root, "rev-parse", "HEAD")
    (root / "softjax" / "a.py").write_text("a = 2\n")
    _git(root, "commit", "-qam", "two")
    second = _git(root, "rev-parse", "HEAD")
    (root / "README.md").write_text("docs only\n")  # a later non-code commit keeps `second` current
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "docs")

    _result(root, "old.json", first)
    _result(root, "new.json", second)
    _result(root, "dirty.json", second + "-dirty")
    _result(root, "gone.json", "0" * 40)
    _result(root, "none.json", None)
    (root / "results" / "new.meta.json").write_text("{}")  # sidecars are skipped

    by_file = {r.file: r for r in report.rows(root)}
    assert set(by_file) == {f"results/{n}.json" for n in ("old", "new", "dirty", "gone", "none")}
    assert by_file["results/old.json"].status == "code differs"
    assert by_file["results/old.json"].changed == 1
    assert by_file["results/new.json"].status == "current"
    assert by_file["results/dirty.json"].status == "dirty"
    assert by_file["results/gone.json"].status == "unknown commit"
    assert by_file["results/none.json"].status == "no provenance"

    text = report.render(report.rows(root), report.head_commit(root))
    assert "1 of 5 results files are current" in text
    assert "| `results/old.json` |" in text and "differs (1 files)" in text


def test_main_writes_the_report_atomically_and_print_writes_nothing(tmp_path, capsys):
    root = tmp_path
    _git(root, "init", "-q")
    (root / "results").mkdir()
    _git(
        root,
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    assert report.main(["--root", str(root), "--print"]) == 0
    assert not (root / "results" / report.REPORT_NAME).exists()
    assert report.main(["--root", str(root)]) == 0
    written = (root / "results" / report.REPORT_NAME).read_text()
    assert written.startswith("Provenance of `results/`") and "0 of 0" in written
    assert capsys.readouterr().out.count("Provenance of") == 2


def test_a_result_is_stale_only_when_its_own_code_changed(tmp_path):
    """A study's result goes stale with the library, its folder or a module it imports
    (transitively, relative imports too), not with another study's code."""
    root = tmp_path
    for args in (("init", "-q"), ("config", "user.email", "t@t"), ("config", "user.name", "t")):
        _git(root, *args)
    files = {
        "softjax/a.py": "a = 1\n",
        "experiments/__init__.py": "",
        "experiments/_common/__init__.py": "",
        "experiments/_common/cli.py": "c = 1\n",
        "experiments/_common/lit.py": "from . import cli\n",
        "experiments/_common/unused.py": "u = 1\n",
        "experiments/study/run.py": "from experiments._common import lit\n",
        "experiments/study_two/run.py": "s = 1\n",
        "experiments/other/run.py": "o = 1\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "results").mkdir()
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "one")
    first = _git(root, "rev-parse", "HEAD")
    for name in ("study_a.json", "study_two.json", "other.json", "loose.json"):
        _result(root, name, first)
    assert report.code_paths("results/study_a.json", root) == (  # lit imports cli
        "experiments/__init__.py",
        "experiments/_common/__init__.py",
        "experiments/_common/cli.py",
        "experiments/_common/lit.py",
        "experiments/study",
        "softjax",
    )
    assert report.code_paths("results/study_two.json", root)[-2:] == (
        "experiments/study_two",
        "softjax",
    )

    def statuses():
        return {r.file.split("/")[-1]: r.status for r in report.rows(root)}

    (root / "experiments/other/run.py").write_text("o = 2\n")
    (root / "experiments/_common/unused.py").write_text("u = 2\n")
    _git(root, "commit", "-qam", "other study and a module no study imports changed")
    assert statuses() == {
        "study_a.json": "current",
        "study_two.json": "current",
        "other.json": "code differs",
        "loose.json": "code differs",  # no folder claims it: all code compared
    }
    (root / "experiments/study/README.md").write_text("notes\n")  # docs never run
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "a study's notes")
    assert statuses()["study_a.json"] == "current"
    (root / "experiments/_common/cli.py").write_text("c = 2\n")
    _git(root, "commit", "-qam", "shared code changed")
    assert statuses()["study_a.json"] == "code differs"
    assert statuses()["study_two.json"] == "current"  # names no shared package
