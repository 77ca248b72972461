"""The modules of ``maas`` import one another without cycles.

Counting every import statement: top-level, function-local and under ``TYPE_CHECKING``. A
function-local import hides a cycle from the interpreter, not from the design: the two modules
can no longer be read, tested or split one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "maas"


def _imports(path: Path) -> set[str]:
    """The ``maas`` modules a source file imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # from maas import x
        elif isinstance(node, ast.ImportFrom):  # relative: from . import x, from .x import y
            base = f"maas.{node.module}" if node.module else "maas"
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module name -> the modules of the package it imports."""
    modules = {f"maas.{p.stem}": p for p in package.glob("*.py") if p.stem != "__init__"}
    return {name: _imports(path) & modules.keys() - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_maas_modules_import_without_cycles() -> None:
    graph = import_graph()
    assert "maas.ch" in graph and "maas.osm" in graph
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set(), "c": {"a", "b"}}, []),
    ],
)
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_function_local_imports_count(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import maas.b\n")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from maas.c import X\n"
    )
    (tmp_path / "c.py").write_text("def f():\n    from maas import a\n    return a\n")
    graph = import_graph(tmp_path)
    assert graph == {"maas.a": {"maas.b"}, "maas.b": {"maas.c"}, "maas.c": {"maas.a"}}
    assert cycles(graph) == [["maas.a", "maas.b", "maas.c"]]
