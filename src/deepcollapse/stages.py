"""The pipeline's stages, each described once: the table every registry of the project derives from.

A stage is what DVC runs as one unit (`dvc repro STAGE`); its jobs are the Snakemake rules it runs,
each calling one command.  From `STAGES` come:

* the DVC pipelines (workflow/scripts/dvc_pipelines.py): a stage's targets, rule files, params
  sections, tracked outputs, and its inputs as other stages' outputs;
* the code dependencies of each rule (workflow/scripts/code_deps.py): the command a job runs;
* the artifact kinds of the output contract (`deepcollapse.outputs.KINDS`);
* the command line's subcommands (`deepcollapse.cli`);
* the report pages (`deepcollapse.reports.plan`) and the rule files the Snakefile includes;
* the paths the rules write and read (`path("ufm.store")`): a path is typed here only.

Read at start-up by the CLI, the Snakefile and the workflow scripts: this module imports nothing
but the standard library.  It computes nothing either, so no job's code depends on it
(workflow/scripts/code_deps.py, DECLARATIONS): editing the table reruns no science.

Adding a stage (tests/system/test_stage_added.py does it on a scratch copy; tests/unit/test_stages.py
registers one in-process):
    1. its science, a module of the package (or none, when the command is enough);
    2. its command, src/deepcollapse/commands/NAME.py (HELP, configure, run);
    3. its entry in `STAGES` below (with a page: its output among the `reports` stage's inputs too);
    4. its rule file, workflow/rules/NAME.smk (paths from `OUT`, i.e. from this table);
    5. its section of params.yaml;
    6. that section's schema, workflow/schemas/ (the structure, hand-written; a configuration
       with declared constraints joins workflow/scripts/config_schema.py's ENTRIES, and the
       section `$ref`s its generated field rules);
    7. its page, workflow/notebooks/NAME.ipynb (inputs: its outputs, by name);
then `python workflow/scripts/dvc_pipelines.py` regenerates dvc.yaml and demo/dvc.yaml.  The
Snakefile, the CLI, the output contract and the page plan need no edit.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from . import rundir  # the run folder's file names (standard library only)

PACKAGE = "deepcollapse"

#: on-disk format of an output, by its suffix (a run directory says its format itself)
_FORMATS = {".zarr": "zarr", ".json": "json", ".csv": "csv", ".html": "html", ".ipynb": "ipynb"}


class PlanError(ValueError):
    """params.yaml names something the pipeline does not have (one line; the Snakefile shows it)."""


@dataclass(frozen=True)
class Output:
    """A file or folder a job writes, as a template of its wildcards (relative to the output root).

    `kind`: the artifact kind the command marks it with (`deepcollapse.outputs`); None for files
    outside the output contract (a marker file, a notebook)."""

    path: str
    kind: str | None = None
    format: str | None = None

    def __post_init__(self):
        if self.format is None:
            object.__setattr__(self, "format", _FORMATS.get(posixpath.splitext(self.path)[1], "folder"))


@dataclass(frozen=True)
class Command:
    """What a job runs: `cli` (`deepcollapse NAME`, module deepcollapse.commands.NAME), `module`
    (`python -m MODULE`), `notebooks` (papermill over every template of a folder) or `script` (a
    workflow script that imports no package code)."""

    how: str
    target: str


def cli(name: str) -> Command:
    return Command("cli", name)


def module(name: str) -> Command:
    return Command("module", name)


def notebooks(folder: str) -> Command:
    return Command("notebooks", folder)


def script(path: str) -> Command:
    return Command("script", path)


@dataclass(frozen=True)
class Job:
    """A Snakemake rule that runs one command.

    `file`: its rule file under workflow/rules/ (default: RULE.smk).  `reads`: project files the
    job reads besides its inputs (a template folder, a document).  `planned_by`: package modules
    that decide the job's parameters (the page plan): a change of them reruns it, as its code does."""

    rule: str
    command: Command
    outputs: dict[str, Output]
    file: str = ""
    reads: tuple[str, ...] = ()
    planned_by: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.file:
            object.__setattr__(self, "file", f"{self.rule}.smk")


@dataclass(frozen=True)
class Stage:
    """One DVC stage.

    `params`: the params.yaml sections its jobs read, dotted (DVC tracks their top-level keys);
    `targets`: the Snakemake targets it runs; `jobs`: its rules; `inputs`: other stages' outputs it
    reads, as "RULE.OUTPUT"; `tracked`/`metrics`: the folders and files DVC tracks as its outputs
    and its metrics (every output of its jobs lies in one); `pages`: its report pages, by template
    (workflow/notebooks/PAGE.ipynb; see deepcollapse.reports.plan)."""

    name: str
    params: tuple[str, ...]
    targets: tuple[str, ...]
    jobs: tuple[Job, ...]
    tracked: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()

    @property
    def rule_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(job.file for job in self.jobs))

    @property
    def dvc_params(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(section.split(".")[0] for section in self.params))


def _stages(*stages: Stage) -> dict[str, Stage]:
    return {s.name: s for s in stages}


# The order is the order of the report pages in reports/index.html, of the subcommands in
# `deepcollapse --help`, of the stages in dvc.yaml and of the rule files the Snakefile includes.
STAGES: dict[str, Stage] = _stages(
    Stage("ufm", params=("ufm",), targets=("ufm_all",),
          jobs=(Job("ufm", cli("ufm"), {"store": Output("results/ufm/{name}.zarr", "ufm")}),),
          tracked=("results/ufm",), pages=("ufm_runs", "phase_diagram")),
    Stage("theory", params=("ufm",), targets=("theory", "dvc_metrics_theory"),
          jobs=(Job("theory", cli("theory"), {"json": Output("results/theory/agreement.json", "theory"),
                                              "csv": Output("results/theory/agreement.csv", "theory-csv")}),
                Job("dvc_metrics_theory", script("workflow/scripts/dvc_metrics.py"),
                    {"metrics": Output("results/dvc-metrics/theory.json")}, file="dvc_metrics.smk")),
          inputs=("ufm.store",), tracked=("results/theory",), metrics=("results/dvc-metrics/theory.json",),
          pages=("theory",)),
    Stage("asymptotic", params=("asymptotic",), targets=("asymptotic",),
          jobs=(Job("asymptotic", cli("asymptotic"), {"study": Output("results/asymptotic/theorem51.zarr", "asymptotic")}),),
          tracked=("results/asymptotic",), pages=("asymptotic",)),
    Stage("lowrank", params=("ufm.studies.lowrank",), targets=("lowrank",),
          jobs=(Job("lowrank", cli("lowrank"), {"study": Output("results/lowrank/study.zarr", "lowrank")}),),
          tracked=("results/lowrank",), pages=("lowrank",)),
    Stage("theorem1", params=("ufm.studies.theorem1",), targets=("theorem1",),
          jobs=(Job("theorem1", cli("theorem1"), {"study": Output("results/theorem1/map.json", "theorem1")}),),
          tracked=("results/theorem1",), pages=("theorem1", "literature")),
    # GD at the papers' own settings: no page of its own, the literature page (above) reads it
    Stage("papers", params=("ufm.studies.papers",), targets=("papers",),
          jobs=(Job("papers", cli("papers"), {"study": Output("results/papers/runs.zarr", "papers")}),),
          tracked=("results/papers",)),
    Stage("train", params=("networks",), targets=("train_all",),
          jobs=(Job("data", cli("data"), {"store": Output("data/{dataset}.zarr", "data")}),
                Job("train", cli("train"), {"run": Output("results/runs/{run}", "run", format="run"),
                                            "done": Output(f"results/runs/{{run}}/{rundir.DONE}")})),
          tracked=("data", "results/runs")),
    Stage("features", params=("networks",), targets=("features_all",),
          jobs=(Job("features", cli("features"), {"store": Output("results/features/{run}.zarr", "features")}),),
          inputs=("train.done",), tracked=("results/features",)),
    Stage("metrics", params=("networks",), targets=("metrics_all", "network_summary", "dvc_metrics_networks"),
          jobs=(Job("metrics", cli("metrics"), {"store": Output("results/metrics/{run}.zarr", "metrics")}),
                Job("network_summary", cli("report"), {"summary": Output("results/summary/networks.json", "summary")},
                    file="metrics.smk"),
                Job("dvc_metrics_networks", script("workflow/scripts/dvc_metrics.py"),
                    {"metrics": Output("results/dvc-metrics/nets/{run}.json")}, file="dvc_metrics.smk")),
          inputs=("features.store",), tracked=("results/metrics", "results/summary"), metrics=("results/dvc-metrics/nets",),
          pages=("networks", "comparison")),
    Stage("reports", params=("reports",), targets=("all",),
          jobs=(Job("report_page", notebooks("workflow/notebooks"),
                    {"notebook": Output("reports/notebooks/{page}.ipynb"), "html": Output("reports/pages/{page}.html"),
                     "figures": Output("reports/figures/{page}"), "data": Output("reports/data/{page}")},
                    file="reports.smk", reads=("workflow/nbconvert",), planned_by=(f"{PACKAGE}.reports.plan",)),
                Job("report_index", cli("report"), {"index": Output("reports/index.html", "index")}, file="reports.smk",
                    planned_by=(f"{PACKAGE}.reports.plan",)),
                Job("report_math", module(f"{PACKAGE}.reports.text"), {"html": Output("reports/math.html")},
                    file="reports.smk", reads=("docs/math.md",))),
          inputs=("ufm.store", "theory.json", "lowrank.study", "theorem1.study", "papers.study", "network_summary.summary", "metrics.store", "asymptotic.study"),
          tracked=("reports/index.html", "reports/math.html", "reports/pages", "reports/figures", "reports/data",
                   "reports/notebooks")),
)  # fmt: skip


# ------------------------------------------------------------------------------ derived views
def jobs() -> dict[str, Job]:
    """rule name -> job, every stage's."""
    return {job.rule: job for stage in STAGES.values() for job in stage.jobs}


def stage_of(rule: str) -> Stage:
    return next(stage for stage in STAGES.values() if any(job.rule == rule for job in stage.jobs))


def paths() -> dict[str, str]:
    """"RULE.OUTPUT" -> path template, e.g. "ufm.store" -> "results/ufm/{name}.zarr"."""
    return {f"{job.rule}.{name}": out.path for job in jobs().values() for name, out in job.outputs.items()}


def path(ref: str, **wildcards) -> str:
    """The path of output `ref` ("RULE.OUTPUT"), its wildcards filled when given."""
    template = paths()[ref]
    return template.format(**wildcards) if wildcards else template


def artifact_kinds() -> dict[str, str]:
    """kind -> on-disk format of every output a stage's command marks with its kind."""
    return {out.kind: out.format for job in jobs().values() for out in job.outputs.values() if out.kind}


def commands() -> tuple[str, ...]:
    """The CLI subcommands the stages run, in table order."""
    return tuple(dict.fromkeys(job.command.target for job in jobs().values() if job.command.how == "cli"))


def rule_files() -> tuple[str, ...]:
    """The rule files of workflow/rules/ the Snakefile includes, in table order."""
    return tuple(dict.fromkeys(f for stage in STAGES.values() for f in stage.rule_files))


# ------------------------------------------------------------------------- runs of a config
def section(config: dict, dotted: str):
    """The value at a dotted params.yaml path, or None when a level is absent."""
    value = config
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def ufm_runs(config: dict) -> dict[str, dict]:
    """name -> config of every `ufm` job: params.yaml ufm.experiments and ufm.sweeps (one store each,
    results/ufm/<name>.zarr, so a name must not appear in both)."""
    experiments, sweeps = config["ufm"]["experiments"], config["ufm"].get("sweeps") or {}
    both = sorted(set(experiments) & set(sweeps))
    if both:
        raise PlanError(f"params: ufm.experiments and ufm.sweeps both define {both[0]!r}; names must be unique")
    return {**experiments, **sweeps}


def network_runs(config: dict) -> dict[str, dict]:
    """Resolved training config (`deepcollapse train` fields) of every run, by name '<dataset>-<loss>'
    (and '<dataset>-<loss>-<variant>' for the runs of networks.variants).

    Not `threads`: `networks.threads` is the one key of a network job's CPU threads, and the rules
    pass the cores Snakemake gave the job (`--threads {threads}`, at most that key): in the config
    it would make a run's parameters, and so its rerun trigger, depend on `--cores`."""
    net = config["networks"]

    def run(dataset: str, loss: str, **variant) -> dict:
        return {**net["train"], **net["per_loss"].get(loss, {}), **variant, "dataset": dataset, "loss": loss,
                "data": path("data.store", dataset=dataset)}

    runs = {f"{dataset}-{loss}": run(dataset, loss) for dataset in net["datasets"] for loss in net["losses"]}
    # networks.variants: runs beside the grid, '<dataset>-<loss>-<variant>', the grid's config of that
    # dataset and loss updated by the variant's `train` (e.g. a linear head, GK25 Fig. 3).  A variant
    # runs where the grid runs: an override that narrows networks.datasets or losses (the README's
    # Fashion-MNIST example, the demo's digits) narrows the variants with it, instead of asking for
    # data stores nobody makes.  The schema refuses a name that is no dataset or loss at all.
    for name, variant in (net.get("variants") or {}).items():
        for dataset in (d for d in variant["datasets"] if d in net["datasets"]):
            for loss in (l for l in variant["losses"] if l in net["losses"]):
                runs[f"{dataset}-{loss}-{name}"] = run(dataset, loss, **variant.get("train", {}))
    return runs
