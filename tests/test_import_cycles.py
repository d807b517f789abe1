"""No import cycle in hnas: neither between modules nor between its subpackages.

A cycle makes import order matter (a name is missing when the other side is half imported) and
ties layers together that should stand alone. Imports inside functions and under
``TYPE_CHECKING`` do not count: a lazy import is how a lower layer reaches an optional upper one
without loading it (e.g. the costs build a model only when one is priced).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import hnas

PACKAGE = Path(hnas.__file__).resolve().parent


def module_graph() -> dict[str, set[str]]:
    """hnas module -> the hnas modules its top-level statements import."""
    modules = {}
    for file in PACKAGE.rglob("*.py"):
        parts = file.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    graph: dict[str, set[str]] = defaultdict(set)
    for name, file in modules.items():
        for node in ast.parse(file.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from hnas.a import b``: the module hnas.a.b if there is one, else hnas.a
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def subpackage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(module_graph()) == []


def test_no_two_subpackages_import_each_other() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in module_graph().items():
        packages[subpackage(module)] |= {subpackage(t) for t in targets if subpackage(t) != subpackage(module)}
    assert cycles(packages) == []


def test_the_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
