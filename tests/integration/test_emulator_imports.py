"""The emulator's modules depend on each other in one direction: no import cycle.

Every ``from .x import`` and ``from . import x`` line counts, those under
``if TYPE_CHECKING:`` included: a cycle there is still a tangle to read.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import ece_uploader.emulator as package

PACKAGE_DIR = Path(package.__file__).parent
MODULES = [
    *sorted(info.name for info in pkgutil.iter_modules([str(PACKAGE_DIR)]) if not info.ispkg),
    "__init__",
]


def local_imports(module: str) -> set[str]:
    """The sibling modules ``module`` imports (relative or absolute), anywhere in it."""
    tree = ast.parse((PACKAGE_DIR / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith(package.__name__ + "."):
                found.add(node.module.removeprefix(package.__name__ + ".").split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package.__name__ + "."):
                    found.add(alias.name.removeprefix(package.__name__ + ".").split(".")[0])
    return found & set(MODULES)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


@pytest.mark.parametrize("module", [m for m in MODULES if m != "__init__"])
def test_each_module_imports_on_its_own(module: str) -> None:
    importlib.import_module(f"{package.__name__}.{module}")


def test_the_module_graph_has_no_cycle() -> None:
    graph = {module: local_imports(module) - {module} for module in MODULES}

    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_layers_point_one_way() -> None:
    assert "app" not in local_imports("transport")
    assert "admin" not in local_imports("transport")
    assert local_imports("admin") & {"app", "transport", "server"} == set()
    assert "server" not in local_imports("app")


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
