"""Every citation in the code resolves inside the repository, in docs/SPEC.md.

The code, CLI help, figure text and results generators cite "SPEC §N", "seed NNN",
"seed 000 eq. N" and "hw0"; a clone (or a pip install) has nothing outside the repo to
look them up in, so each must be defined by docs/SPEC.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "SPEC.md"
CITING = ("softjax", "experiments", "benchmarks")


def _sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for folder in CITING
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def _spec() -> str:
    return SPEC.read_text(encoding="utf-8")


def _cited(pattern: str) -> dict[str, list[str]]:
    """{citation: [files citing it]} for every match of ``pattern``."""
    found: dict[str, list[str]] = {}
    for path, text in _sources().items():
        for match in re.finditer(pattern, text):
            found.setdefault(match.group(1), []).append(str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_citations():
    # A scan that finds nothing would pass vacuously.
    assert {"3", "5", "6"} <= set(_cited(r"SPEC(?:\.md)? §(\d+)"))
    assert {"000", "001", "003"} <= set(_cited(r"\bseeds? (\d{3})\b"))


def test_every_spec_section_cited_has_a_heading():
    headings = set(re.findall(r"^## §(\d+)\.", _spec(), flags=re.MULTILINE))
    missing = {
        n: files for n, files in _cited(r"SPEC(?:\.md)? §(\d+)").items() if n not in headings
    }
    assert not missing, f"SPEC sections cited but not in docs/SPEC.md: {missing}"


def test_every_seed_and_hw0_cited_is_defined():
    defined = set(re.findall(r"^\| (seed \d{3}|hw0) \|", _spec(), flags=re.MULTILINE))
    cited = {f"seed {n}" for n in _cited(r"\bseeds? (\d{3})\b")}
    # "seeds 002-004" cites the range's end too.
    cited |= {f"seed {n}" for n in _cited(r"\bseeds \d{3}-(\d{3})\b")}
    cited |= {"hw0"} if _cited(r"\b(hw0)\b") else set()
    assert cited, "no citations found"
    assert cited <= defined, f"cited but not defined in docs/SPEC.md: {cited - defined}"


def test_every_seed_000_equation_cited_is_in_its_table():
    table = {int(n) for n in re.findall(r"^\| (\d+)(?: \(\w+\))? \|", _spec(), re.MULTILINE)}
    table |= {
        n
        for lo, hi in re.findall(r"^\| (\d+)–(\d+) \|", _spec(), re.MULTILINE)
        for n in range(int(lo), int(hi) + 1)
    }
    assert set(range(1, 15)) <= table
    cited = _cited(r"seed 000 eqs?\. (\d+(?:-\d+)?)")
    assert cited
    for numbers, files in cited.items():
        for n in map(int, numbers.split("-")):
            assert n in table, (numbers, files)


@pytest.mark.parametrize("outside", ["../shared", "shared/docs", "shared/seeds"])
def test_no_citation_points_outside_the_repo(outside):
    hits = [str(p.relative_to(ROOT)) for p, text in _sources().items() if outside in text]
    assert not hits, f"{outside} cited in {hits}: cite docs/SPEC.md instead"
