"""Kernels per training step, counted in a compiled program's optimized HLO.

XLA:CPU runs every top-level instruction of a loop body that is not bookkeeping (a
fusion, a ``dot``, a ``copy``, a ``sort``, …) as one kernel (a thunk), so the body of the
step loop, instruction by instruction, is the step's kernel count. The step loop is the
``while`` with the largest ``known_trip_count`` among the loops whose body holds a
matmul (``dot`` or ``convolution``, directly or inside a fusion or a nested call).
Nested control flow inside the body (a ``while``, ``conditional`` or ``call``) counts
its own body's kernels; a fusion counts once, whatever it holds.

This is the static count; ``python -m benchmarks.profile_step`` measures the kernels a
run actually launches, with their times (the two agree up to the kernels XLA:CPU runs
inline, e.g. a scalar ``copy``).
"""

from __future__ import annotations

import collections
import itertools
import re

# Instructions that launch no kernel: plumbing between kernels.
BOOKKEEPING = frozenset(
    {"parameter", "get-tuple-element", "tuple", "constant", "bitcast", "after-all", "domain"}
)
_HEADER = re.compile(r"^(?:ENTRY )?%(\S+) .*\{\s*$")
_NAME = re.compile(r"^\s*(?:ROOT )?%(\S+) = ")
_CALLED = re.compile(
    r"(?:body|calls|to_apply|branch_computations|true_computation|"
    r"false_computation)=\{?([%\w.\-, ]+)\}?"
)
_BODY = re.compile(r"body=%([^,\s]+)")
_TRIPS = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')


def _opcode(rest: str) -> str:
    """The opcode of an instruction's right-hand side, ``<shape> <opcode>(…)``; a tuple
    shape ``(…)`` is skipped by matching its parentheses."""
    end = rest.find(" ")
    if rest.startswith("("):
        depths = itertools.accumulate((ch == "(") - (ch == ")") for ch in rest)
        end = next(i for i, depth in enumerate(depths, 1) if depth == 0)
    return rest[end:].strip().split("(", 1)[0]


def computations(hlo_text: str) -> dict[str, list[tuple[str, str, str]]]:
    """Computation name -> its instructions as ``(name, opcode, whole line)``."""
    comps: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for line in hlo_text.splitlines():
        header = _HEADER.match(line)
        if header and not line.startswith(" "):
            current = comps.setdefault(header.group(1), [])
            continue
        if line.startswith("}"):
            current = None
            continue
        m = _NAME.match(line)
        if current is not None and m:
            current.append((m.group(1), _opcode(line[m.end() :]), line))
    return comps


def _called(line: str) -> list[str]:
    names = []
    for group in _CALLED.findall(line):
        names += [n.strip().lstrip("%") for n in group.split(",") if n.strip()]
    return names


def _holds_matmul(comps, name: str, seen=None) -> bool:
    seen = set() if seen is None else seen
    if name in seen or name not in comps:
        return False
    seen.add(name)
    for _, op, line in comps[name]:
        if op in ("dot", "convolution") or any(
            _holds_matmul(comps, c, seen) for c in _called(line)
        ):
            return True
    return False


def kernels(comps, name: str) -> collections.Counter:
    """Kernels of computation ``name`` by opcode: a nested ``while`` counts its body, a
    ``call`` its callee, a ``conditional`` its largest branch (one branch runs)."""
    counts: collections.Counter = collections.Counter()
    for _, op, line in comps.get(name, ()):
        if op in BOOKKEEPING:
            continue
        if op == "while":
            body = _BODY.search(line)
            counts += kernels(comps, body.group(1)) if body else collections.Counter()
        elif op in ("call", "conditional"):
            inner = [kernels(comps, c) for c in _called(line)]
            counts += max(inner, key=lambda c: sum(c.values()), default=collections.Counter())
        else:
            counts[op] += 1
    return counts


def step_kernels(hlo_text: str) -> dict | None:
    """``{"trips": n, "kernels": k, "by_op": {opcode: count}}`` for the step loop of a
    compiled program's HLO text (``compiled.as_text()``), or None without such a loop."""
    comps = computations(hlo_text)
    best = None
    for instrs in comps.values():
        for _, op, line in instrs:
            if op != "while":
                continue
            trips = _TRIPS.search(line)
            body = _BODY.search(line)
            if not (trips and body and _holds_matmul(comps, body.group(1))):
                continue
            if best is None or int(trips.group(1)) > best[0]:
                best = (int(trips.group(1)), body.group(1))
    if best is None:
        return None
    by_op = kernels(comps, best[1])
    return {"trips": best[0], "kernels": sum(by_op.values()), "by_op": dict(by_op)}
