"""No module of cargo_mcp imports itself back, also through imports under TYPE_CHECKING or inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import cargo_mcp

ROOT = Path(cargo_mcp.__file__).parent


def module_graph() -> dict[str, set[str]]:
    """Each cargo_mcp module → the cargo_mcp modules it imports anywhere in its text."""
    files = {".".join(("cargo_mcp", *f.relative_to(ROOT).with_suffix("").parts)): f for f in ROOT.rglob("*.py")}
    files = {name.removesuffix(".__init__"): f for name, f in files.items()}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, …, a]``, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    return next((c for c in (visit(n, []) for n in sorted(graph)) if c), None)


def test_the_package_has_no_import_cycle() -> None:
    graph = module_graph()
    assert "cargo_mcp.sandbox.app" in graph and "cargo_mcp.sandbox.engine" in graph["cargo_mcp.sandbox.app"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
