# Helpers shared by every rule file: how jobs call the package, and how parameters reach them.
import glob
import json
import os
import re
import sys
from shlex import quote as shlex_quote

import jsonschema

from snakemake.exceptions import WorkflowError

from deepcollapse import params_schema, stages
from deepcollapse.reports import plan

# The interpreter running Snakemake also runs every job: inside a SLURM job or a DVC stage there
# may be no activated virtual environment, but sys.executable still points at the right one.
DC = f"{sys.executable} -m deepcollapse"
PY = sys.executable

# Outputs are relative to the working directory (the project root for the paper run, demo/ for the
# demo); the workflow's own files (notebook templates, package code) are found from here, so one
# Snakefile serves both output roots.
PROJECT = os.path.relpath(os.path.dirname(workflow.basedir))


def project_file(path):
    """A file of the project (not an output), as a path relative to the working directory."""
    return os.path.normpath(os.path.join(PROJECT, path))


def as_json(obj):
    """Parameters handed to a job on stdin. Sorted keys: Snakemake's params rerun-trigger compares
    this string, so a job reruns exactly when one of its resolved parameters changes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def choice(names):
    """A wildcard constraint accepting exactly the given names."""
    names = sorted(map(str, names))
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def res(kind):
    """Resources of a job class from params.yaml's `resources:` section (SLURM reads them too)."""
    return dict(config["resources"][kind])


# Jobs pipe JSON to `--config -`; a job's log holds its stdout and stderr.
CONFIG_FROM_STDIN = "printf '%s\\n' {params.cfg:q} | "


def schema_file(name):
    """A schema of workflow/schemas/ by file name."""
    return os.path.join(workflow.basedir, "schemas", name)


def validate_params(config, schema, what="params (params.yaml and any --configfile)"):
    """Validate the merged config (params.yaml + --configfile overrides) against the JSON Schema,
    filling in its defaults (deepcollapse.params_schema: Snakemake's validate, each schema file read once).

    The message names the key's path first: "params: ufm.experiments.fig2a: unknown key 'lamda_W'"."""
    try:
        params_schema.validate(config, schema_file(schema))
    except jsonschema.ValidationError as err:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        if err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            unknown = sorted(set(err.instance) - set(allowed))
            problem = f"unknown key {unknown[0]!r}" if unknown else err.message
            if allowed:
                problem += f" (allowed: {', '.join(allowed)})"
        else:
            problem = err.message
        raise WorkflowError(f"{what}: {where}: {problem}") from None


def paper_params():
    """params.yaml alone, with the schema's defaults filled in exactly as for the resolved config."""
    import yaml

    paper = yaml.safe_load(open(project_file("params.yaml")))  # the paper run's, also when the demo runs under demo/
    validate_params(paper, "params.schema.yaml", what="params.yaml")
    return paper


def planned(derive, *args):
    """A plan derived from the params (deepcollapse.stages, deepcollapse.reports.plan): a params
    mistake it finds stops the workflow with its one-line message."""
    try:
        return derive(*args)
    except stages.PlanError as exc:
        raise WorkflowError(str(exc)) from None


# Every path a rule writes or reads, from the stage table: "RULE.OUTPUT" -> template.
OUT = stages.paths()
