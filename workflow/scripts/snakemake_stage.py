"""A DVC stage's command: run the stage's Snakemake targets in the current folder (DVC's wdir).

    python workflow/scripts/snakemake_stage.py STAGE [extra snakemake options]

Snakemake reruns a job when its inputs are newer or its parameters or command changed, but the
package code a job imports is an input of no rule.  DVC does see it (each stage lists the files
its jobs import): a stage can be out of date for DVC only because of code, and Snakemake would then
find nothing to do and DVC would record the old outputs as made by the new code.  So before
Snakemake starts, this compares the code files against the hashes this folder's dvc.lock recorded
for the stage, and forces (--forcerun) every rule of the stage that imports a changed file.
No lock yet (first run): nothing is forced; Snakemake runs what is missing.

The site profile is SNAKEMAKE_PROFILE when set (Snakemake reads that variable itself), else
workflow/profiles/local; the workflow profile workflow/profiles/default loads by itself.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_deps import PROJECT, rule_code  # noqa: E402
from dvc_pipelines import STAGES, rules_of  # noqa: E402


def recorded_code_hashes(lock: Path, stage: str) -> dict[Path, str] | None:
    """md5 of each package file the lock recorded for the stage (paths resolved), None without a record."""
    if not lock.is_file():
        return None
    entry = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).get(stage)
    if not entry:
        return None
    return {(lock.parent / dep["path"]).resolve(): dep.get("md5") for dep in entry.get("deps", []) if dep["path"].endswith(".py")}


def md5(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


def rules_with_changed_code(stage: str, lock: Path) -> list[str]:
    recorded = recorded_code_hashes(lock, stage)
    if recorded is None:
        return []
    forced = []
    for rule in rules_of(stage):
        files = [(PROJECT / path).resolve() for path in rule_code(rule)]
        # a file new to the stage counts as changed, as it does for DVC
        if any(recorded.get(f) != md5(f) for f in files):
            forced.append(rule)
    return forced


def command(stage: str, extra: list[str], cwd: Path) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", *STAGES[stage].targets, "--snakefile",
           os.path.relpath(PROJECT / "workflow/Snakefile", cwd)]  # fmt: skip
    if not os.environ.get("SNAKEMAKE_PROFILE"):
        cmd += ["--profile", os.path.relpath(PROJECT / "workflow/profiles/local", cwd)]
    cmd += extra
    forced = rules_with_changed_code(stage, cwd / "dvc.lock")
    if forced:  # last: --forcerun takes every value after it
        print(f"{stage}: package code changed since dvc.lock; forcing rules {' '.join(forced)}", file=sys.stderr)
        cmd += ["--forcerun", *forced]
    return cmd


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in STAGES:
        print(f"usage: snakemake_stage.py STAGE [snakemake options]; STAGE one of {', '.join(STAGES)}", file=sys.stderr)
        return 2
    cmd = command(argv[0], argv[1:], Path.cwd())
    sys.stdout.flush()
    os.execv(sys.executable, cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
