"""The shape of the repository, read from its source with ``ast``: the library's import
graph has no circle, no module is over the house's 400 lines, no library module ends in a
re-export tail or exports a private name, and ``softjax/`` names no study.

The import graph counts every import, at module level and inside functions: a lazy import
that closes a circle is still a circle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "softjax"
MAX_LINES = 400

STUDY_WORDS = (
    r"\bgolik\b",
    r"\bhui_belkin\b",
    r"\bnielsen\b",
    r"\bglorot\b(?!_)",  # the study; the init scheme "glorot_uniform" is library
    r"\blabel_noise\b",
    r"\bcalibration[\s_-]+study\b",
    r"\bmlp_depth\b",
    r"\bloss_sweep\b",
    r"\bloss\s+study\b",
    r"\breproduce\.py\b",
    r"\bexperiments\.\w+",
    r"(?i)\breadme[\s_-]+rows?\b",
)
"""What names a study: its module or folder name, its README row, ``experiments.<x>``.
Case-sensitive on purpose, so a citation ("Glorot & Bengio 2010", "Nielsen 2015") stays
allowed while the study's own identifier does not. Tighten by adding patterns."""


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of softjax/ it imports}``, every import statement counted.

    ``from package import name`` is an edge to ``package.name`` when that is a module,
    else to ``package`` (its ``__init__``); ``import a.b.c`` is an edge to the deepest
    of ``a.b.c``, ``a.b``, ``a`` that is a library module.
    """
    paths = {_module_name(p): p for p in _sources("softjax")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join(package + ([base] if base else []))
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle ``[a, b, …, a]`` of ``graph``, or None (depth-first search)."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            cycle = visit(target, path + [node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_find_cycle_finds_a_circle_and_none_in_a_ladder():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_import_graph_reads_the_library():
    graph = import_graph()
    assert "softjax.training" in graph and "softjax.config" in graph["softjax.training"]
    assert graph["softjax"] >= {"softjax.run", "softjax.sweeps"}
    # every edge points at a library module
    assert all(target in graph for edges in graph.values() for target in edges)


def test_library_has_no_import_circle_at_all():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def _param(path: Path):
    return pytest.param(path, id=_rel(path))


@pytest.mark.parametrize(
    "path",
    [_param(p) for p in _sources("softjax", "experiments", "benchmarks")],
)
def test_module_is_at_most_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_rel(path)}: {lines} lines, over the house's {MAX_LINES}"


@pytest.mark.parametrize("path", [_param(p) for p in _sources("softjax")])
def test_library_names_no_study(path):
    text = path.read_text()
    hits = [
        f"{_rel(path)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for pattern in STUDY_WORDS
        for m in re.finditer(pattern, text)
    ]
    assert not hits, "softjax/ names a study:\n" + "\n".join(hits)


def _top_level(path: Path) -> list[ast.stmt]:
    return ast.parse(path.read_text(), filename=str(path)).body


@pytest.mark.parametrize("path", [pytest.param(p, id=_rel(p)) for p in _sources("softjax")])
def test_no_import_after_the_first_definition(path):
    """A module-level import below a def or class is a re-export tail (or hides a circle)."""
    seen_definition = None
    for node in _top_level(path):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            seen_definition = seen_definition or node.name
        elif isinstance(node, ast.Import | ast.ImportFrom) and seen_definition:
            raise AssertionError(
                f"{_rel(path)}:{node.lineno}: import after the definition of {seen_definition}"
            )


def _all_names(path: Path) -> list[str] | None:
    for node in _top_level(path):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return [ast.literal_eval(e) for e in node.value.elts]
    return None


def _defined(path: Path) -> set[str]:
    names = set()
    for node in _top_level(path):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names.add(name.id)
    return names


@pytest.mark.parametrize("path", [_param(p) for p in _sources("softjax")])
def test_all_lists_public_names_of_its_own_module(path):
    """One import path per public name: only a package's ``__init__`` re-exports; a
    module's ``__all__`` lists what it defines, and no ``__all__`` lists a private name."""
    names = _all_names(path)
    if names is None:
        return
    private = [n for n in names if n.startswith("_")]
    assert not private, f"{_rel(path)}: __all__ exports private names {private}"
    if path.name != "__init__.py":
        foreign = sorted(set(names) - _defined(path))
        assert not foreign, f"{_rel(path)}: __all__ re-exports {foreign} defined elsewhere"


def test_package_inits_only_reexport():
    """``softjax/sweeps/__init__.py`` holds imports, ``__all__`` and a docstring only."""
    path = LIBRARY / "sweeps" / "__init__.py"
    for node in _top_level(path):
        allowed = isinstance(node, ast.Import | ast.ImportFrom | ast.Expr) or (
            isinstance(node, ast.Assign) and _all_names(path) is not None
        )
        assert allowed, f"{_rel(path)}:{node.lineno}: {type(node).__name__} in a re-export file"


def _module_path(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    if (path / "__init__.py").exists():
        return None  # a package: its __init__ gathers public names on purpose
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else None


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=_rel(p))
        for p in _sources("softjax", "benchmarks", "experiments", "tests")
    ],
)
def test_imports_name_the_module_that_defines_the_name(path):
    """One import path per public name: ``from softjax.<module> import name`` names the
    module where ``name`` is defined (or a submodule), never one that merely imports it;
    only packages (``softjax``, ``softjax.sweeps``, ``softjax.data``) gather names."""
    wrong = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("softjax.")):
            continue
        source = _module_path(node.module)
        if source is None or node.level:
            continue
        defined = _defined(source)
        for alias in node.names:
            submodule = source.with_suffix("") / f"{alias.name}.py"
            if alias.name not in defined and not submodule.exists():
                wrong.append(f"{_rel(path)}:{node.lineno}: {alias.name} from {node.module}")
    assert not wrong, "imported from a module that only re-exports it:\n" + "\n".join(wrong)
