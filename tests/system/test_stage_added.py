"""What a new stage costs: shown on a scratch copy of the project, through the real tools.

The files a stage needs, written here for a toy stage (its "science" is a sorted list):
    1. src/deepcollapse/commands/toy.py   its command (`deepcollapse toy`)
    2. src/deepcollapse/stages.py         its entry in the stage table
    3. workflow/rules/toy.smk             its rule
    4. params.yaml                        its section
    5. workflow/schemas/params.schema.yaml  the section's schema
    6. workflow/notebooks/toy.ipynb       its report page
A stage with real science adds its module under src/deepcollapse/ (the commands only parse
arguments): seven; if its section is a configuration with declared constraints, also
workflow/scripts/config_schema.py (ENTRIES), whose generated field rules the section's schema
`$ref`s; and a plotting module if its page needs one.  Nothing else is edited: the Snakefile includes the
rule file, the page joins the plan and the index, the CLI lists the command, and
dvc_pipelines.py writes its DVC stage, all from the table.  (tests/unit/test_stages.py shows the
same in-process, with the stage registered inside the test.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.support.pipeline import copy_workflow, environment
from tests.support.toy_stage import COMMAND, TABLE_ENTRY

pytestmark = pytest.mark.slow

RULE = '''# The toy stage of tests/system/test_stage_added.py: a table of the UFM runs' names.

rule toy:
    input:
        expand(OUT["ufm.store"], name=UFM_EXPERIMENTS),
    output:
        OUT["toy.table"],
    params:
        runs=list(UFM_EXPERIMENTS),
    log:
        "results/logs/toy.log",
    shell:
        "{DC} toy --runs {params.runs} --out {output} > {log} 2>&1"
'''

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["parameters"]}, "outputs": [],
         "source": ['page = "toy"\n', 'table = "results/toy/table.json"\n']},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["print(open(table).read())\n"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = copy_workflow(tmp_path_factory.mktemp("toy"), extra=("src", "demo"))
    shutil.rmtree(work / "src/deepcollapse.egg-info", ignore_errors=True)
    written = {
        "src/deepcollapse/commands/toy.py": COMMAND,
        "src/deepcollapse/stages.py": (work / "src/deepcollapse/stages.py").read_text() + TABLE_ENTRY,
        "workflow/rules/toy.smk": RULE,
        "params.yaml": (work / "params.yaml").read_text() + "\ntoy:\n  size: 3\n",
        "workflow/notebooks/toy.ipynb": json.dumps(NOTEBOOK, indent=1),
    }
    schema = yaml.safe_load((work / "workflow/schemas/params.schema.yaml").read_text())
    schema["properties"]["toy"] = {"type": "object", "additionalProperties": False, "properties": {"size": {"type": "integer"}}}
    written["workflow/schemas/params.schema.yaml"] = yaml.safe_dump(schema, sort_keys=False)
    for path, text in written.items():
        (work / path).write_text(text)
    env = dict(environment(), PYTHONPATH=str(work / "src"))  # the copy's package, with the toy stage
    return work, env, written


def test_six_files_make_a_stage(project):
    _work, _env, written = project
    assert len(written) == 6


def test_the_dry_run_plans_the_stage_and_its_page(project):
    work, env, _ = project
    run = subprocess.run([sys.executable, "-m", "snakemake", "all", "-n", "-p", "--profile", "workflow/profiles/local"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout.split("Job stats:", 1)[1], re.M))
    assert jobs["toy"] == "1"
    assert "-m deepcollapse toy --runs fig2a " in run.stdout
    (index,) = [line for line in run.stdout.splitlines() if " report index " in line]
    assert index.split(" --pages ", 1)[1].split(" --figures")[0].split()[-1] == "reports/pages/toy.html"  # last in the index
    (page,) = re.findall(r"-y '(\{[^']*\"page\":\"toy\"[^']*\})'", run.stdout)
    assert json.loads(page)["table"] == "results/toy/table.json"


def test_the_cli_and_the_dvc_pipeline_have_the_stage(project):
    work, env, _ = project
    help_text = subprocess.run([sys.executable, "-m", "deepcollapse", "--help"], cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert re.search(r"^    toy\s", help_text, re.M)
    subprocess.run([sys.executable, "workflow/scripts/dvc_pipelines.py"], cwd=work, env=env, check=True)
    for pipeline in ("dvc.yaml", "demo/dvc.yaml"):
        stage = yaml.safe_load((work / pipeline).read_text())["stages"]["toy"]
        assert stage["params"] == ["toy"] and list(stage["outs"][0]) == ["results/toy"]
        assert any(d.endswith("src/deepcollapse/commands/toy.py") for d in stage["deps"])
        assert any(d.endswith("workflow/rules/toy.smk") for d in stage["deps"])
