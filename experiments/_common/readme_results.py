"""Copies the results' generated text into the README, so the README never holds a typed
number: ``python -m experiments.readme_results`` rewrites every generated block of
``README.md``; ``--check`` only reports the blocks that differ (exit status 1).

A block is delimited by two HTML comments, invisible on GitHub. The opening one carries
the block's recipe as JSON::

    <!-- generated: {"from": "results/loss_sweep_mnist_mlp.md", "table": 0, "bullets": ["*"]} -->
    ...
    <!-- end generated -->

Recipes:

* ``from`` + ``table``: the ``table``-th markdown table of the file (0 is the first);
* ``from`` + ``bullets``: the bullets of the file whose text starts with one of the given
  prefixes, in the file's order (``"*"`` takes every bullet of its "Findings" section);
* ``from`` + ``section``: the text of the file's ``## <section>`` (up to the next
  heading);
* ``from`` + ``"whole": true``: the whole file (a generated report such as
  ``results/benchmarks.md``);
* ``rows``: a list of files; one table, the header of the first file's "## README row"
  section's table and the data rows of every file's, in the list's order (the literature
  experiments' summaries end with that section);
* ``wall_time``: a list of ``[label, glob]`` pairs; one sentence with each group's
  recorded ``wall_seconds`` (summed over the glob's JSON files) and the total, compared
  with ``goal_minutes`` when the recipe has it.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import sys
from pathlib import Path
from typing import Any

from experiments._common.verdicts import README_ROW_SECTION

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(<!-- generated: (\{.*?\}) -->\n)(.*?)(<!-- end generated -->)", re.S)


def tables(text: str) -> list[str]:
    """Every markdown table of ``text`` (runs of lines starting with ``|``), in order."""
    out, run = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            run.append(line)
        elif run:
            out.append("\n".join(run))
            run = []
    return out


def bullets(text: str, prefixes: list[str]) -> list[str]:
    """The top-level bullets of ``text`` whose text starts with one of ``prefixes``;
    ``["*"]``: every bullet of the "## Findings" section."""
    if prefixes == ["*"]:
        section = text.split("## Findings", 1)[1].split("\n## ", 1)[0]
        return [line for line in section.splitlines() if line.startswith("- ")]
    return [
        line
        for line in text.splitlines()
        if line.startswith("- ") and any(line[2:].startswith(p) for p in prefixes)
    ]


def section_table(text: str, section: str, name: str) -> list[str]:
    """The lines of the first table under ``## <section>`` of ``text`` (``name`` for the
    error)."""
    marker = f"## {section}\n"
    if marker not in text:
        raise ValueError(f"{name}: no section {section!r}")
    found = tables(text.split(marker, 1)[1].split("\n## ", 1)[0])
    if not found:
        raise ValueError(f"{name}: no table in section {section!r}")
    return found[0].splitlines()


def stacked_rows(files: list[str], root: Path, section: str = README_ROW_SECTION) -> str:
    """One table: the first file's header, then every file's data rows; the headers must
    agree."""
    header, rows = None, []
    for name in files:
        lines = section_table((root / name).read_text(), section, name)
        if header is None:
            header = lines[:2]
        elif lines[:2] != header:
            raise ValueError(f"{name}: its {section!r} table's header differs from {files[0]}'s")
        rows += lines[2:]
    return "\n".join([*header, *rows]) + "\n"


def wall_time(groups: list[list[str]], root: Path, goal_minutes: float | None = None) -> str:
    """One sentence: each group's recorded training wall time and the total, in minutes,
    with the machine's core count from the first file's provenance, and whether the total
    is within ``goal_minutes``."""
    parts, total, cores = [], 0.0, None
    for label, pattern in groups:
        files = sorted(f for f in glob.glob(str(root / pattern)) if not f.endswith(".meta.json"))
        if not files:
            raise FileNotFoundError(f"wall_time: no file matches {pattern!r}")
        docs = [json.loads(Path(f).read_text()) for f in files]
        seconds = sum(d["wall_seconds"] for d in docs)
        cores = cores or docs[0]["provenance"]["device"].get("cpu_count")
        parts.append(f"{label} {seconds / 60:.1f}")
        total += seconds
    verdict = ""
    if goal_minutes is not None:
        within = total / 60 <= goal_minutes
        verdict = f", {'within' if within else 'over'} the {goal_minutes:g}-minute goal"
    return (
        f"Recorded training wall time (the scripts' `wall_seconds`, {cores} CPU cores), in "
        f"minutes: {'; '.join(parts)}; {total / 60:.1f} in total{verdict}."
    )


def section_text(text: str, section: str, name: str) -> str:
    """The text under ``## <section>`` of ``text``, up to the next ``## `` heading."""
    marker = f"## {section}\n"
    if marker not in text:
        raise ValueError(f"{name}: no section {section!r}")
    body = text.split(marker, 1)[1].split("\n## ", 1)[0].strip()
    if not body:
        raise ValueError(f"{name}: section {section!r} is empty")
    return body


def render(recipe: dict[str, Any], root: Path = ROOT) -> str:
    """The text of one block from its recipe (module docstring)."""
    if "rows" in recipe:
        return stacked_rows(recipe["rows"], root)
    if "wall_time" in recipe:
        return wall_time(recipe["wall_time"], root, recipe.get("goal_minutes")) + "\n"
    source = (root / recipe["from"]).read_text()
    if recipe.get("whole"):
        return source if source.endswith("\n") else source + "\n"
    pieces = []
    if "section" in recipe:
        pieces.append(section_text(source, recipe["section"], recipe["from"]))
    if "table" in recipe:
        found = tables(source)
        if recipe["table"] >= len(found):
            raise ValueError(f"{recipe['from']}: no table {recipe['table']} ({len(found)} found)")
        pieces.append(found[recipe["table"]])
    if "bullets" in recipe:
        chosen = bullets(source, recipe["bullets"])
        if not chosen:
            raise ValueError(f"{recipe['from']}: no bullet starts with {recipe['bullets']}")
        pieces.append("\n".join(chosen))
    return "\n\n".join(pieces) + "\n"


def refresh(readme: str, root: Path = ROOT) -> tuple[str, list[str]]:
    """``readme`` with every block re-rendered, and the recipes of the blocks that changed."""
    changed = []

    def one(m: re.Match) -> str:
        new = render(json.loads(m.group(2)), root)
        if new != m.group(3):
            changed.append(m.group(2))
        return m.group(1) + new + m.group(4)

    return BLOCK.sub(one, readme), changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale blocks, write nothing")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    new, changed = refresh(text, args.readme.resolve().parent)
    for recipe in changed:
        print(f"{'stale' if args.check else 'rewrote'}: {recipe}")
    if args.check:
        return 1 if changed else 0
    if changed:
        tmp = args.readme.with_suffix(".md.tmp")
        tmp.write_text(new)
        tmp.replace(args.readme)
    print(f"{args.readme}: {len(changed)} block(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
