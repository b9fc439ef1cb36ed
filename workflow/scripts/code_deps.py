"""Which package files a workflow rule's job runs: the import graph of its entry points.

A job runs `python -m deepcollapse <command>` (the package's __main__, the CLI, and the command's
module, whose imports are lazy and happen inside `run`) or executes a notebook template with
papermill.  Every `import` / `from ... import` of `deepcollapse` anywhere in those files (at top
level or inside a function: both run) is followed, parent packages' `__init__` included, until no
new module appears.  The result is what DVC lists as a stage's code dependencies
(workflow/scripts/dvc_pipelines.py) and what decides which rules a code change forces
(workflow/scripts/snakemake_stage.py): one derivation, so the two cannot disagree.
"""

from __future__ import annotations

import ast
import json
import sys
from functools import lru_cache
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = "deepcollapse"
SRC = Path("src")  # relative to the project root

CLI = (f"{PACKAGE}.__main__", f"{PACKAGE}.cli")

# The stage table of this project's own source (not of whatever deepcollapse is installed): it
# names each rule's command.
sys.path.insert(0, str(PROJECT / SRC))
from deepcollapse import stages  # noqa: E402

# Modules that describe the pipeline and compute nothing: the stage table says which commands
# exist and where their outputs go, never a number in them.  Every stage lists it among the
# workflow files (dvc_pipelines.WORKFLOW), as it lists the Snakefile, so DVC sees an edit; but
# it is no job's code, so an edit (a new stage) forces no rule to rerun (snakemake_stage.py).
# A changed path or command reaches Snakemake as a changed output or shell command anyway.
DECLARATIONS = frozenset({f"{PACKAGE}.stages"})


def entries(job: stages.Job) -> tuple[str, ...]:
    """The entry points of a job's command, plus the modules that plan its parameters."""
    how, target = job.command.how, job.command.target
    command = {"cli": (*CLI, f"{PACKAGE}.commands.{target}"), "module": (target,), "notebooks": (f"notebooks:{target}",),
               "script": ()}[how]  # fmt: skip
    return (*command, *job.planned_by)


# rule -> the entry points of its command (`deepcollapse NAME`: the package's __main__, the CLI and
# the command's module; `python -m MODULE`; papermill over every template of a folder).  Rules that
# only collect targets (ufm_all, …) and the workflow scripts' rules run no package code and are absent.
RULE_ENTRIES: dict[str, tuple[str, ...]] = {rule: entries(job) for rule, job in stages.jobs().items() if entries(job)}


def module_path(name: str, root: Path = PROJECT) -> Path | None:
    """The source file of a package module (relative to the project root), or None if it is not one."""
    rel = SRC.joinpath(*name.split("."))
    for candidate in (rel.with_suffix(".py"), rel / "__init__.py"):
        if (root / candidate).is_file():
            return candidate
    return None


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(tree: ast.AST, name: str = "", path: Path = Path()) -> set[str]:
    """Package modules an AST imports (relative imports resolved against module `name`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(name, path).split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from package import submodule` imports the submodule
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def notebook_tree(path: Path) -> ast.AST:
    """The code cells of a notebook as one module (IPython magics left out)."""
    cells = json.loads(path.read_text())["cells"]
    lines = [
        line for cell in cells if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!"))
    ]  # fmt: skip
    return ast.parse("\n".join(lines), filename=str(path))


def entry_trees(entry: str, root: Path = PROJECT) -> list[tuple[str, Path, ast.AST]]:
    if entry.startswith("notebooks:"):
        folder = root / entry.partition(":")[2]
        return [("", nb.relative_to(root), notebook_tree(nb)) for nb in sorted(folder.glob("*.ipynb"))]
    path = module_path(entry, root)
    if path is None:
        raise LookupError(f"{entry}: no such module under {root / SRC}")
    return [(entry, path, ast.parse((root / path).read_text(), filename=str(path)))]


def closure(entries, root: Path = PROJECT) -> list[Path]:
    """Every package source file (relative to the project root) the entry points import, transitively."""
    seen: dict[str, Path] = {}
    todo = []
    for entry in entries:
        for name, _path, tree in entry_trees(entry, root):
            todo += [*imported_modules(tree, name, _path), *([name] if name else [])]
    while todo:
        for name in _with_parents(todo.pop()):
            if name in seen or name in DECLARATIONS:
                continue
            path = module_path(name, root)
            if path is None:  # `from package import function`: not a module
                continue
            seen[name] = path
            todo += imported_modules(ast.parse((root / path).read_text(), filename=str(path)), name, path)
    return sorted(set(seen.values()))


@lru_cache(maxsize=None)
def rule_code(rule: str, root: Path = PROJECT) -> tuple[Path, ...]:
    """The package files a rule's jobs run."""
    return tuple(closure(entries(stages.jobs()[rule]), root))


if __name__ == "__main__":  # print the derivation: python workflow/scripts/code_deps.py [rule ...]
    for rule in sys.argv[1:] or sorted(RULE_ENTRIES):
        print(f"{rule}:", *map(str, rule_code(rule)), sep="\n  ")
