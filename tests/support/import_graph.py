"""The package's import graph, read from the source (AST): every import that can run is an edge,
function-level ones included; only those under ``if TYPE_CHECKING:`` are left out.
``from package import name`` is an edge to ``package.name`` when that is a module, else to
``package`` (its ``__init__``).  Read by tests/unit/test_architecture.py (no cycles) and
tests/unit/ufm/test_import_graph.py (gradient descent never reaches the closed forms)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from . import ROOT

SRC = ROOT / "src"
PACKAGE = "deepcollapse"


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    local: bool  # inside a function body


def modules(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST):
    """(Import/ImportFrom node, inside a function?) for every import that can run."""
    def visit(node, local):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child.test):
                for stmt in child.orelse:
                    yield from visit_one(stmt, local)
                continue
            yield from visit_one(child, local)

    def visit_one(node, local):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, local
        yield from visit(node, local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    yield from visit(tree, False)


def imports(src: Path = SRC, package: str = PACKAGE) -> list[Import]:
    """Every import of a package module by a package module (self-imports left out)."""
    mods = modules(src, package)
    out = []
    for name, path in mods.items():
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, local in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    parts = base.split(".")
                    module = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module for a in node.names]
            out += [Import(name, t, node.lineno, local) for t in dict.fromkeys(targets) if t in mods and t != name]
    return out
