"""The import graph of `deepcollapse.ufm`: gradient descent never depends on the closed forms, and
the package has no import cycle.

* The `ufm` stage's code dependencies (workflow/scripts/code_deps.py: what DVC and Snakemake rerun
  a stage for) hold none of the theory's modules, so that a fix to a closed form reruns the theory
  table and the pages, never hours of gradient descent; the theory table's do hold them.  The same
  for the `lowrank` stage (GD too), except `deep_theory`: the study's λ grid is a multiple of the
  theory's collapse threshold, so a change there must rerun it.
* Inside `ufm/`, imports run one way (models ← config ← problems ← solver; theory on top of the
  models), with every import counted, at top level or inside a function (`TYPE_CHECKING` aside):
  a cycle hidden in a function is still a cycle.
* No module of `ufm/` binds code by a string (`importlib`): grep, the IDE and the code deps see
  every binding.
"""

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
UFM = REPO / "src" / "deepcollapse" / "ufm"
#: The theory side: closed forms, the reduced problem, GD against them, the joins of stores with them.
THEORY_MODULES = ("theory.py", "theory_hooks.py", "agreement.py", "reduced.py", "deep_theory.py", "joined.py", "lowrank_theory.py")


def _code_deps():
    spec = importlib.util.spec_from_file_location("code_deps_under_test", REPO / "workflow" / "scripts" / "code_deps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _ufm_files(rule: str) -> set[str]:
    return {p.name for p in _code_deps().closure(_code_deps().RULE_ENTRIES[rule]) if p.parent.name == "ufm"}


def test_gradient_descent_does_not_depend_on_the_closed_forms():
    deps = _ufm_files("ufm")
    assert {"solver.py", "batched.py", "problems.py"} <= deps  # the stage's own code is seen
    assert not deps & set(THEORY_MODULES), f"the ufm stage depends on theory: {sorted(deps & set(THEORY_MODULES))}"


def test_the_lowrank_study_depends_on_the_collapse_threshold_only():
    deps = _ufm_files("lowrank")
    assert {"lowrank.py", "solver.py", "deep_theory.py"} <= deps
    assert not deps & (set(THEORY_MODULES) - {"deep_theory.py"}), sorted(deps & set(THEORY_MODULES))


def test_the_theory_table_depends_on_the_closed_forms():
    assert {"theory.py", "agreement.py", "reduced.py", "deep_theory.py"} <= _ufm_files("theory")


def _imports(path: Path, module: str) -> set[str]:
    """Modules of deepcollapse.ufm that `path` imports anywhere, TYPE_CHECKING blocks aside."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in sorted(UFM.rglob("*.py")):
        parts = path.relative_to(UFM.parent.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target in _imports(path, name):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            while target:  # the target and the packages above it (their __init__ runs first), not our own
                if target != name and not name.startswith(target + "."):
                    edges.add(target)
                target = target.rpartition(".")[0]
                target = target if target in modules else ""
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_ufm_has_no_import_cycle():
    graph = _graph()
    assert "deepcollapse.ufm.theory" in graph["deepcollapse.ufm.agreement"]  # the graph sees imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


@pytest.mark.parametrize("facts", ["models", "models.base", "models.layered", "models.plain", "models.extended", "models.deep",
                                   "config", "problems", "solver", "batched"])
def test_the_facts_and_gradient_descent_import_no_theory(facts):
    graph = _graph()
    seen, todo = set(), [f"deepcollapse.ufm.{facts}"]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    theory = {f"deepcollapse.ufm.{name.removesuffix('.py')}" for name in THEORY_MODULES}
    assert not seen & theory, sorted(seen & theory)


def test_no_binding_by_strings():
    found = [str(p.relative_to(UFM)) for p in UFM.rglob("*.py") if "importlib" in p.read_text()]
    assert not found, found
