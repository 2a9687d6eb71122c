"""No import cycles inside exporter/ (issue 15): each module imports only what sits below it,
so the package reads from the bottom up and a change low down cannot need one high up.

The graph is built from the source with `ast`, not by importing: every `import` and
`from ... import` of an exporter module counts, at module level and inside functions alike
(a deferred import is still a dependency; deferring only hides the cycle from the
interpreter). Imports under `if TYPE_CHECKING:` are left out: they exist for annotations only,
are never executed, and are how a lower module names a higher type without depending on it.
A package's `__init__` that Python runs on the way to a submodule is not an edge either; only
what a module names is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "exporter"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, except those in the body of `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def dependencies(name: str, path: Path, known: set[str]) -> set[str]:
    """The exporter modules `name` imports: for `from P import N`, the module `P.N` if there
    is one (`from . import metrics`), else `P` (`from .config import Config`)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    deps: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        for alias in node.names:
            submodule = f"{prefix}.{alias.name}"
            deps.add(submodule if submodule in known else prefix)
    return {dep for dep in deps if dep in known and dep != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: dependencies(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a path
    that shows the cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(edges.get(node, ())):
            if dep not in index:
                connect(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return components


def test_the_graph_sees_the_imports_it_should() -> None:
    """The control: known edges are found, a TYPE_CHECKING-only import is not."""
    edges = graph()
    assert "exporter.app" in edges["exporter.cli"]
    assert "exporter.web" in edges["exporter.app"]
    assert "exporter.metrics" in edges["exporter.selfmetrics"]
    # selfmetrics names Targets for an annotation only.
    assert "exporter.targets" not in edges["exporter.selfmetrics"]


def test_no_import_cycles_in_the_package() -> None:
    found = cycles(graph())
    assert not found, "import cycles in exporter/:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_nothing_imports_the_wiring_or_the_command_line() -> None:
    """app.py assembles the exporter and cli.py parses its flags: nothing below may import
    them (demo.py is the one caller of app.serve besides cli.py)."""
    edges = graph()
    for name, deps in edges.items():
        if name not in ("exporter.cli", "exporter.demo"):
            assert "exporter.app" not in deps, name
        if name != "exporter.cli":
            assert "exporter.cli" not in deps, name


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .a import b\n", {"exporter.a"}),
        ("from . import a\n", {"exporter.a"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import b\n", set()),
        ("def f():\n    from .a import b\n", {"exporter.a"}),
        ("import exporter.a\n", {"exporter.a"}),
    ],
)
def test_dependencies_of_a_module(tmp_path: Path, source: str, expected: set[str]) -> None:
    module = tmp_path / "m.py"
    module.write_text(source)
    assert dependencies("exporter.m", module, {"exporter.a", "exporter.m"}) == expected


def test_a_cycle_is_reported() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
