"""The house has no back-edges: between the package's top-level units (a module such as
settings.py, or a subpackage such as vendors/ taken whole), imports go one way only.

The graph is drawn from every import statement of every module, function-level imports
included (ast, so nothing is executed); a cycle between units is reported with the import
lines that close it."""

from __future__ import annotations

import ast
from pathlib import Path

import backfill_pipeline

ROOT = Path(backfill_pipeline.__file__).parent


def _imports(path: Path) -> list[tuple[str, int]]:
    package = ["backfill_pipeline", *path.relative_to(ROOT).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.append((".".join([*base, *([node.module] if node.module else [])]), node.lineno))
            elif node.module:
                found.append((node.module, node.lineno))
    return found


def unit_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> {imported unit: ["file:line", ...]} for imports between different units."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts == ("__init__.py",):
            continue
        unit = parts[0].removesuffix(".py")
        for name, line in _imports(path):
            bits = name.split(".")
            if bits[0] != "backfill_pipeline" or len(bits) < 2 or bits[1] == unit:
                continue
            graph.setdefault(unit, {}).setdefault(bits[1], []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
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


def test_the_units_import_one_way():
    graph = unit_graph()
    assert graph["cli"] and graph["assets"], "the graph was not drawn (no imports found)"
    problems = []
    for component in cycles(graph):
        edges = [f"  {a} -> {b} ({', '.join(graph[a][b][:3])})" for a in component for b in graph.get(a, {})
                 if b in component]
        problems.append(f"cycle between {', '.join(component)}:\n" + "\n".join(edges))
    assert not problems, "\n".join(problems)


def test_a_cycle_is_found_and_named():
    graph = {"settings": {"automation": ["settings.py:3"]}, "automation": {"settings": ["automation/x.py:9"]},
             "cli": {"settings": ["cli/main.py:1"]}}
    assert cycles(graph) == [["automation", "settings"]]
