"""The provenance report: for each results JSON, the commit it was made at and whether the
code it ran differs from HEAD's.

The code a result ran is the library ``softjax/`` plus its own program: the study folder
whose name starts its file name (``loss_sweep_mnist_linear.json`` → ``experiments/loss_sweep/``;
``benchmarks.json`` → ``benchmarks/``) and every ``experiments`` module its files import,
followed transitively (so ``experiments/__init__.py`` and the ``experiments/_common``
modules it uses). Imports are read from the source (``ast``); a module loaded by name at
run time is not seen. A file no folder claims is compared against all of
``softjax/``, ``experiments/`` and ``benchmarks/``. A result is *current* when its commit is
clean (no ``-dirty`` suffix) and ``git diff`` finds no change in its code between that
commit and HEAD; markdown files (``*.md``: a folder's README, notes) never run and are not
compared. Sidecar files (``*.meta.json``) carry no provenance of their own and are
skipped.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import subprocess
from pathlib import Path

from softjax.results import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
CODE_PATHS = ("softjax", "experiments", "benchmarks")
NOT_CODE = (":(exclude,glob)**/*.md",)
"""Pathspecs left out of the comparison: documentation does not run."""
REPORT_NAME = "provenance.md"


@dataclasses.dataclass(frozen=True)
class Row:
    """One results file: its commit, when it was made, and how its code compares to HEAD's."""

    file: str
    commit: str | None
    created: str | None
    status: str  # "current", "code differs", "dirty", "unknown commit", "no provenance"
    changed: int  # files of its code (code_paths) that differ from HEAD (0 when current)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)


def head_commit(root: Path) -> str:
    """HEAD's full hash."""
    return _git(root, "rev-parse", "HEAD").stdout.strip()


def _program(stem: str, root: Path) -> str | None:
    """The folder whose name is the longest prefix of a result's file stem, or None."""
    folders = [p for p in (root / "experiments").glob("*/") if p.is_dir()]
    folders += [root / "benchmarks"] if (root / "benchmarks").is_dir() else []
    names = [p.relative_to(root).as_posix() for p in folders]
    fits = [
        n
        for n in names
        if stem == n.rsplit("/", 1)[-1] or stem.startswith(n.rsplit("/", 1)[-1] + "_")
    ]
    return max(fits, key=len) if fits else None


def _module_file(dotted: str, root: Path) -> str | None:
    """The repository path of an in-repo module ``experiments.…``, or None."""
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(root).as_posix()
    return None


def _imports(source: Path, root: Path) -> set[str]:
    """The ``experiments`` modules one file imports (``import a.b``, ``from a import b``,
    ``from a.b import c``; relative imports resolved), as repository paths."""
    tree = ast.parse(source.read_text())
    package = source.relative_to(root).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "experiments":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # the packages on the way load too
                    path = _module_file(".".join(parts[:i]), root)
                    if path:
                        found.add(path)
    return found


def code_paths(result: str, root: Path = ROOT) -> tuple[str, ...]:
    """The paths whose change makes ``result`` (a results file name) stale: ``softjax/``,
    the result's program folder and every ``experiments`` module its files import,
    transitively (module docstring)."""
    program = _program(Path(result).name.split(".")[0], root)
    if program is None:
        return CODE_PATHS
    paths = {"softjax", program}
    if (root / "experiments" / "__init__.py").is_file() and program.startswith("experiments/"):
        paths.add("experiments/__init__.py")  # `python -m experiments.<study>` loads it
    todo = sorted((root / program).rglob("*.py"))
    seen = set()
    while todo:
        source = todo.pop()
        if source in seen:
            continue
        seen.add(source)
        for module in _imports(source, root):
            if not any(module == p or module.startswith(p + "/") for p in paths):
                paths.add(module)
            todo.append(root / module)
    return tuple(sorted(paths))


def row_for(path: Path, root: Path) -> Row:
    """The report's row for one results JSON."""
    name = path.relative_to(root).as_posix()
    doc = json.loads(path.read_text())
    prov = doc.get("provenance") if isinstance(doc, dict) else None
    if not isinstance(prov, dict) or not prov.get("git_commit"):
        return Row(name, None, None, "no provenance", 0)
    commit, created = prov["git_commit"], prov.get("created")
    if commit.endswith("-dirty"):
        return Row(name, commit, created, "dirty", 0)
    paths = code_paths(name, root)
    diff = _git(root, "diff", "--name-only", commit, "HEAD", "--", *paths, *NOT_CODE)
    if diff.returncode != 0:
        return Row(name, commit, created, "unknown commit", 0)
    changed = len([line for line in diff.stdout.splitlines() if line.strip()])
    return Row(name, commit, created, "current" if changed == 0 else "code differs", changed)


def rows(root: Path = ROOT) -> list[Row]:
    """One row per ``results/*.json`` (sidecars skipped), sorted by file name."""
    files = sorted(
        p for p in (root / "results").glob("*.json") if not p.name.endswith(".meta.json")
    )
    return [row_for(p, root) for p in files]


def render(found: list[Row], head: str) -> str:
    """The markdown report: a one-line summary, then one table row per file."""
    current = sum(r.status == "current" for r in found)
    commits = sorted({r.commit[:12] for r in found if r.commit})
    lines = [
        f"Provenance of `results/` against HEAD `{head[:12]}` (code compared: `softjax/` and "
        "the result's own program: its study folder and every `experiments` module it imports, "
        f"or `benchmarks/`): {current} of {len(found)} results files are current; they come "
        f"from {len(commits)} commit(s).",
        "",
        "| file | commit | created | code vs HEAD |",
        "| --- | --- | --- | --- |",
    ]
    for r in found:
        status = f"differs ({r.changed} files)" if r.status == "code differs" else r.status
        commit = f"`{r.commit[:12]}`" if r.commit else ""
        lines.append(f"| `{r.file}` | {commit} | {r.created or ''} | {status} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"the report (default: <root>/results/{REPORT_NAME})"
    )
    parser.add_argument("--print", action="store_true", help="print only, write nothing")
    args = parser.parse_args(argv)
    text = render(rows(args.root), head_commit(args.root))
    print(text, end="")
    if not args.print:
        atomic_write_text(args.out or args.root / "results" / REPORT_NAME, text)
    return 0
