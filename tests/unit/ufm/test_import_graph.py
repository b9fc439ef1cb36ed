"""The import graph of `deepcollapse.ufm`: gradient descent never depends on the closed forms.

* The `ufm` stage's code dependencies (workflow/scripts/code_deps.py: what DVC and Snakemake rerun
  a stage for) hold none of the theory's modules, so that a fix to a closed form reruns the theory
  table and the pages, never hours of gradient descent; the theory table's do hold them.  The same
  for the `lowrank` stage (GD too), except `deep_theory`: the study's λ grid is a multiple of the
  theory's collapse threshold, so a change there must rerun it.
* Inside `ufm/`, the facts and gradient descent (models, config, problems, solver) never reach a
  theory module, with every import counted (tests.support.import_graph; that there is no cycle at
  all is tests/unit/test_architecture.py's).
* No module of `ufm/` binds code by a string (`importlib`): grep, the IDE and the code deps see
  every binding.
* The other way round, at run time: the theory side, `deepcollapse theory` and every page template's
  imports load neither torch nor numba (gradient descent's), which cost ~3 CPU-s a process.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import import_graph

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
UFM = REPO / "src" / "deepcollapse" / "ufm"
#: The theory side: closed forms, the reduced problem, GD against them, the joins of stores with them.
THEORY_MODULES = ("theory.py", "theory_hooks.py", "agreement.py", "reduced.py", "deep_theory.py", "joined.py", "lowrank_theory.py",
                  "candidates.py", "theorem1.py")


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


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules importing it runs: its imports (tests.support.import_graph) and
    the packages above each of them (their __init__ runs first), not its own."""
    graph: dict[str, set[str]] = {name: set() for name in import_graph.modules()}
    for edge in import_graph.imports():
        target = edge.imported
        while target:
            if target != edge.importer and not edge.importer.startswith(target + "."):
                graph[edge.importer].add(target)
            target = target.rpartition(".")[0]
    return graph


def test_the_graph_sees_the_imports():
    assert "deepcollapse.ufm.theory" in _graph()["deepcollapse.ufm.agreement"]


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


#: Modules read by the theory table, the pages and docs/math.md (the theory side of the package).
THEORY_SIDE = ("deepcollapse.ufm.theory", "deepcollapse.ufm.joined", "deepcollapse.ufm.agreement",
               "deepcollapse.ufm.lowrank_theory", "deepcollapse.ufm.papers_theory", "deepcollapse.ufm.candidates",
               "deepcollapse.ufm.theorem1", "deepcollapse.asymptotic.theory", "deepcollapse.commands.theory")
#: Imports fail for these packages in the child process (a meta-path finder ahead of the real ones).
BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("torch", "numba"):
            raise ImportError(f"gradient descent's {name} imported by the theory side")
sys.meta_path.insert(0, Block())
"""


def test_the_theory_side_and_the_pages_load_no_gradient_descent():
    deps = _code_deps()
    statements = [f"import {name}" for name in THEORY_SIDE]
    for notebook in sorted((REPO / "workflow" / "notebooks").glob("*.ipynb")):
        tree = deps.notebook_tree(notebook)
        statements += [ast_line for ast_line in (_source(node) for node in tree.body) if ast_line]
    script = BLOCKER + "\n".join(dict.fromkeys(statements)) + "\nimport deepcollapse.reports.math_values\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def _source(node) -> str | None:
    """An import statement of a notebook's code, as source (the notebooks' other code is not run)."""
    import ast

    return ast.unparse(node) if isinstance(node, (ast.Import, ast.ImportFrom)) else None


#: Imports of torch fail in the child process (the UFM jobs of the pipeline run on the compiled kernel).
TORCH_BLOCKER = BLOCKER.replace('("torch", "numba")', '("torch",)').replace("by the theory side", "by a CPU UFM job")


@pytest.mark.parametrize(
    "config",
    [
        '{"model": "plain", "bias": "unregularized", "K": 3, "n": 4, "d": 5, "iters": 300, "log_every": 100}',
        '{"model": "extended", "activation": "relu", "loss": "ce", "K": 3, "n": 4, "d1": 5, "d2": 5, "iters": 300, "log_every": 100,'
        ' "sweep": {"seed": [0, 1]}}',
    ],
    ids=["plain", "relu-ce-sweep"],
)
def test_a_cpu_ufm_job_does_not_import_torch(config, tmp_path):
    """`deepcollapse ufm` on the CPU in float64 (every UFM job of params.yaml): the compiled loop, the
    §6 draw in numpy and the metric table in numpy; torch (~2.5 CPU-s a process) is never imported."""
    script = TORCH_BLOCKER + "import sys\nfrom deepcollapse.cli import entry\nsys.argv = ['deepcollapse', 'ufm', '--config', '-', '--out', sys.argv[1], '--no-progress']\nentry()\n"
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run.zarr")], input=config, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run.zarr").is_dir() and "objective" in proc.stdout
