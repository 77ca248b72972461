"""The shape of the code: no module imports one that imports it back, and no product module
grows past 500 lines.

Cycles count every import statement: top-level, function-local and under ``TYPE_CHECKING``. A
function-local import hides a cycle from the interpreter, not from the design: the two modules
can no longer be read, tested or split one without the other. (import-linter checks the layers
between packages and rooms; this checks every module against every other.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "gnss", "parking", "maas", "api", "hardware")
MAX_LINES = 500


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: str) -> set[str]:
    """The modules a source file imports anywhere in its body (``from a import b`` names both
    ``a`` and ``a.b``: b may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative to the file's package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module name -> the modules of the product it imports (a package's ``__init__`` counts as
    the package)."""
    files = {_module_name(p, root): p for name in packages for p in (root / name).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        graph[name] = _imports(path, package) & files.keys() - {name}
    return graph


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


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert {"maas.ch", "maas.osm", "gnss.ntrip.caster", "parking.lots.service"} <= graph.keys()
    assert cycles(graph) == []


def test_no_product_module_is_over_500_lines() -> None:
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines())
        for name in PACKAGES
        for p in (ROOT / name).rglob("*.py")
    }
    assert len(sizes) > 150
    assert {f: n for f, n in sizes.items() if n > MAX_LINES} == {}


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
    (tmp_path / "maas").mkdir()
    (tmp_path / "maas" / "a.py").write_text("import maas.b\n")
    (tmp_path / "maas" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from maas.c import X\n"
    )
    (tmp_path / "maas" / "c.py").write_text("def f():\n    from maas import a\n    return a\n")
    graph = import_graph(tmp_path, ("maas",))
    assert graph == {"maas.a": {"maas.b"}, "maas.b": {"maas.c"}, "maas.c": {"maas.a"}}
    assert cycles(graph) == [["maas.a", "maas.b", "maas.c"]]
