"""The package's imports run one way: no import cycle among its modules, and no function-local
import of the package's own modules except where a command's start-up time needs it.

The import graph is read from the source (AST), not from an interpreter: an import inside a
function is an edge like any other (it runs when the function does; hiding a cycle inside a
function does not remove it), and only the imports under ``if TYPE_CHECKING:`` are left out
(they never run).  ``from package import name`` is an edge to ``package.name`` when that is a
module, else to ``package`` (its ``__init__``).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.import_graph import PACKAGE, SRC, Import, imports, modules


#: Where a function-local import of the package is allowed, and why.  Each module there says so in
#: a ``# lazy imports:`` comment at its top (the reason, where a reader of the module sees it).
LAZY_ALLOWED = {
    f"{PACKAGE}.commands": "the CLI imports every command module to build its parser, so a command "
    "module's top-level imports are paid by every `deepcollapse` call (--help and refusals included)",
}
#: Package `__init__` files that load their heavy half on first use (PEP 562 `__getattr__`), and why:
#: this module alone, not its submodules (each `from package.sub import x` runs the `__init__`).
LAZY_ALLOWED_MODULES = {
    f"{PACKAGE}.ufm": "the theory side and the pages import `ufm.theory`, which runs this __init__: "
    "its GD names (torch, the compiled kernel: ~3 CPU-s a process) load when first used",
    f"{PACKAGE}.asymptotic": "docs/math.md and the pages read the closed forms of `asymptotic.theory`; "
    "the study (torch) loads when first used",
    f"{PACKAGE}.ufm.solver": "a CPU job on the compiled kernel never imports torch; the torch loop (and "
    "`devices`, for a device other than 'cpu') loads when a run needs it",
    f"{PACKAGE}.metrics": "the compiled UFM loop measures numpy arrays with the metric table in a process "
    "without torch; `nc` and `Accumulator` (torch) load when first used",
}
LAZY_MARK = "# lazy imports:"


def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components with more than one module (each a set of modules that
    import each other, directly or not), each as one cycle through them: [a, b, ..., a]."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def strongconnect(v):  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return [_cycle_through(graph, c) for c in components]


def _cycle_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One closed path inside a strongly connected component, from its first module back to it."""
    start = min(component)
    paths = {start: [start]}
    todo = [start]
    while todo:  # breadth first: the shortest cycle through `start`
        v = todo.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    raise AssertionError(f"not strongly connected: {component}")


_SUBPACKAGES = {m.split(".")[1] for m, path in modules().items() if path.name == "__init__.py" and m != PACKAGE}


def _area(module: str) -> str:
    """The subpackage a module belongs to (its first level below the package), or the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in _SUBPACKAGES else PACKAGE


AREAS = sorted({_area(m) for m in modules()})


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    return imports()


def _show(cycle: list[str]) -> str:
    return " -> ".join(cycle)


@pytest.mark.parametrize("area", AREAS)
def test_no_import_cycle(graph, area):
    """One test per subpackage (and one for the top-level modules), so that a cycle is named where
    it lives; a cycle across subpackages is reported by each of them."""
    found = [c for c in cycles(graph) if any(_area(m) == area for m in c)]
    assert not found, "import cycles (function-level imports included):\n" + "\n".join(map(_show, found))


@pytest.mark.parametrize("area", AREAS)
def test_function_local_package_imports_only_where_start_up_time_needs_them(graph, area):
    mods = modules()
    lazy = [e for e in graph if e.local and _area(e.importer) == area]
    outside = [e for e in lazy if not any(e.importer == a or e.importer.startswith(a + ".") for a in LAZY_ALLOWED)
               and e.importer not in LAZY_ALLOWED_MODULES]  # fmt: skip
    assert not outside, (
        "function-local imports of the package (move them to the module's top; only "
        f"{', '.join([*LAZY_ALLOWED, *LAZY_ALLOWED_MODULES])} import lazily, see LAZY_ALLOWED):\n"
        + "\n".join(f"{mods[e.importer].relative_to(ROOT)}:{e.line}: {e.imported}" for e in outside)
    )
    unexplained = sorted({e.importer for e in lazy if LAZY_MARK not in mods[e.importer].read_text()})
    assert not unexplained, f"modules importing lazily without a '{LAZY_MARK} <why>' comment: {unexplained}"


# The run directory's file names are spelled once, in deepcollapse.rundir.
RUN_FILES = ("run.json", "done.json", "history.json")


def _code_strings(tree: ast.AST):
    """String constants that are not docstrings."""
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def _notebook_tree(path: Path) -> ast.AST:
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join(
        line for cell in cells if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!"))
    )  # fmt: skip
    return ast.parse(code, filename=str(path))


def test_the_run_directory_layout_has_one_owner():
    sources = {p: ast.parse(p.read_text(), filename=str(p)) for p in modules().values()}
    sources |= {p: _notebook_tree(p) for p in sorted((ROOT / "workflow" / "notebooks").glob("*.ipynb"))}
    spelled = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path, tree in sources.items() if path.name != "rundir.py"
        for node in _code_strings(tree) if any(name in node.value for name in RUN_FILES)
    ]  # fmt: skip
    assert not spelled, "a run directory's file named outside deepcollapse.rundir:\n" + "\n".join(spelled)


# ------------------------------------------------------------------ the checks can fail
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_graph_sees_function_level_imports_and_skips_type_checking(tmp_path):
    src = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from . import b\n",
        "b.py": "def f():\n    from .c import g\n",  # a cycle hidden inside a function is a cycle
        "c.py": "import pkg.a\nfrom pkg.sub import leaf\n",
        "sub/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..d import T\nelse:\n    from .. import e\n",
        "sub/leaf.py": "",
        "d.py": "from .sub import leaf\n",
        "e.py": "",
    })  # fmt: skip
    edges = imports(src, "pkg")
    assert {(e.importer, e.imported, e.local) for e in edges} == {
        ("pkg.a", "pkg.b", False), ("pkg.b", "pkg.c", True), ("pkg.c", "pkg.a", False), ("pkg.c", "pkg.sub.leaf", False),
        ("pkg.sub", "pkg.e", False), ("pkg.d", "pkg.sub.leaf", False),
    }  # fmt: skip
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]  # not pkg.sub <-> pkg.d: TYPE_CHECKING only
