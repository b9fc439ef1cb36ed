"""The report pages of a configuration: which pages, what each reads, with which parameters.

The Snakefile's report rules (workflow/rules/reports.smk) run one `report_page` job per page of
`pages(config)`, in order: papermill executes workflow/notebooks/<template>.ipynb with the page's
parameters (`parameters`), and `deepcollapse report index` links the pages in that order.

A stage names its pages in the stage table (`deepcollapse.stages`, `Stage.pages`).  A page whose
inputs are simply its stage's outputs (the asymptotic study, the low-rank study) needs nothing
here: it exists when its stage's params.yaml section is set, its notebook gets each output of
the stage's jobs by name, and it lists the overridden settings of that section.  Pages whose
inputs depend on the configuration (one page per `reports.ufm_pages` entry, the networks' runs)
have a builder below.

Imports only the stage table: the Snakefile reads this at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import stages
from ..stages import PlanError


@dataclass(frozen=True)
class Page:
    """A page: its notebook template, its inputs (parameter name -> path, or a nested mapping of
    paths), its other parameters, and the params.yaml prefixes whose overrides concern it."""

    template: str
    inputs: dict
    extra: dict = field(default_factory=dict)
    watch: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def paths(self) -> list[str]:
        """Every input path, in order (what the page's job waits for)."""
        return [p for value in self.inputs.values() for p in _paths(value)]


def _paths(value) -> list[str]:
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths(v)]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _run_prefixes(names) -> tuple[str, ...]:
    return tuple(f"ufm.{kind}.{name}." for name in names for kind in ("experiments", "sweeps"))


def _ufm_stores(names) -> dict[str, str]:
    return {name: stages.path("ufm.store", name=name) for name in names}


# ------------------------------------------------------------------------------- builders
def _ufm_pages(config, stage):
    """One page per reports.ufm_pages entry, each drawing the UFM runs it names."""
    runs = stages.ufm_runs(config)
    pages = {}
    for page, spec in config["reports"]["ufm_pages"].items():
        for name in spec["experiments"]:
            if name not in runs:
                raise PlanError(f"params: reports.ufm_pages.{page}.experiments names {name!r}, which is not in ufm.experiments or ufm.sweeps")
        pages[page] = Page("ufm_runs", {"runs": _ufm_stores(spec["experiments"])},
                           {"title": spec["title"], "notes": spec.get("notes", "")}, watch=_run_prefixes(spec["experiments"]))  # fmt: skip
    return pages


def _phase_diagram(config, stage):
    """The λ phase diagrams: a swept dimension of each sweep that reports.phase_diagram names
    (checked here, not after every UFM job has run)."""
    sweeps = config["ufm"].get("sweeps") or {}
    phase = config["reports"]["phase_diagram"]
    for name, dim in phase.items():
        if name not in sweeps:
            raise PlanError(f"params: reports.phase_diagram names {name!r}, which is not in ufm.sweeps")
        if dim not in sweeps[name]["sweep"]:
            swept = ", ".join(sweeps[name]["sweep"])
            raise PlanError(f"params: reports.phase_diagram.{name} draws {dim!r}, which ufm.sweeps.{name} does not sweep (it sweeps: {swept})")
    return {"phase_diagram": Page("phase_diagram", {"runs": _ufm_stores(phase)}, {"dims": dict(phase)}, watch=_run_prefixes(phase))}


def _theory(config, stage):
    """Closed form against GD for every UFM run; the low-rank study is not in the table (its own page)."""
    runs = stages.ufm_runs(config)
    inputs = {"agreement": stages.path("theory.json"), "runs": _ufm_stores(runs)}
    return {"theory": Page("theory", inputs, watch=_run_prefixes(runs) + ("ufm.",), ignore=("ufm.studies.",))}


def _networks(config, stage):
    runs = stages.network_runs(config)
    if not runs:
        return {}
    inputs = {"metrics": {r: stages.path("metrics.store", run=r) for r in runs}, "summary": stages.path("network_summary.summary")}
    return {"networks": Page("networks", inputs, watch=_sections(stage))}


def comparison_references(config) -> dict[str, dict[str, str]]:
    """network run -> {"ReLU": ufm experiment, "linear": ufm experiment} from params.yaml networks.compare."""
    compare = config["networks"].get("compare") or {}
    experiments = config["ufm"]["experiments"]
    for loss, refs in compare.items():
        for kind, name in refs.items():
            if name not in experiments:
                raise PlanError(f"params: networks.compare.{loss}.{kind} names {name!r}, which is not in ufm.experiments")
    return {
        network_run: {"ReLU": compare[cfg["loss"]]["relu"], "linear": compare[cfg["loss"]]["linear"]}
        for network_run, cfg in stages.network_runs(config).items()
        if cfg["loss"] in compare
    }


def _comparison(config, stage):
    compared = comparison_references(config)
    if not compared:
        return {}
    inputs = {
        "metrics": {r: stages.path("metrics.store", run=r) for r in compared},
        "references": {r: {label: stages.path("ufm.store", name=name) for label, name in refs.items()} for r, refs in compared.items()},
    }
    references = [name for refs in compared.values() for name in refs.values()]
    return {"comparison": Page("comparison", inputs, {"reference_names": compared}, watch=_run_prefixes(references) + _sections(stage))}


def _literature(config, stage):
    """The literature page (deepcollapse.reports.literature): the Theorem-1 map, and the stores of
    the low-rank study and of the papers' settings when their sections are set (rows of the page)."""
    if not stages.section(config, "ufm.studies.theorem1"):
        return {}
    inputs = {"study": stages.path("theorem1.study")}
    if stages.section(config, "ufm.studies.lowrank"):
        inputs["lowrank"] = stages.path("lowrank.study")
    if stages.section(config, "ufm.studies.papers"):
        inputs["papers"] = stages.path("papers.study")
    return {"literature": Page("literature", inputs, watch=("ufm.studies.theorem1.", "ufm.studies.lowrank.", "ufm.studies.papers."))}


def _sections(stage: stages.Stage) -> tuple[str, ...]:
    return tuple(f"{section}." for section in stage.params)


def _stage_outputs(config, stage, template):
    """The default page: the stage's outputs by name, when its params.yaml sections are set."""
    if not all(stages.section(config, section) for section in stage.params):
        return {}
    inputs = {name: out.path for job in stage.jobs for name, out in job.outputs.items() if "{" not in out.path}
    return {template: Page(template, inputs, watch=_sections(stage))}


#: page template -> builder(config, stage) -> {page name: Page}, for pages that are not `_stage_outputs`
BUILDERS = {"ufm_runs": _ufm_pages, "phase_diagram": _phase_diagram, "theory": _theory, "networks": _networks,
            "comparison": _comparison, "literature": _literature}  # fmt: skip


def pages(config: dict) -> dict[str, Page]:
    """page name -> Page for the resolved params (params.yaml + overrides), in index order."""
    out = {}
    for stage in stages.STAGES.values():
        for template in stage.pages:
            build = BUILDERS.get(template)
            out.update(build(config, stage) if build else _stage_outputs(config, stage, template))
    return out


# ------------------------------------------------------------------------ overridden settings
_ABSENT = "(absent)"


def config_changes(base: dict, here: dict, path=()) -> list[dict]:
    """[{key, params, here}] for every leaf where the resolved config differs from params.yaml."""
    out = []
    for key in sorted(set(base) | set(here), key=str):
        a, b = base.get(key, _ABSENT), here.get(key, _ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, path + (key,))
        elif a != b:
            out.append({"key": ".".join(map(str, path + (key,))), "params": a, "here": b})
    return out


def overrides(paper: dict, config: dict) -> list[dict]:
    """What --configfile overrides (the demo) changed in the science; resources are not science."""
    return [c for c in config_changes(paper, config) if not c["key"].startswith("resources.")]


def page_changes(page: Page, changes: list[dict]) -> list[dict]:
    """The changes that concern a page's data."""
    if not page.watch:
        return []
    return [c for c in changes if c["key"].startswith(page.watch) and not c["key"].startswith(page.ignore)]


def parameters(name: str, page: Page, reports: dict, changes: list[dict]) -> dict:
    """The notebook parameters of page `name`: its inputs, its own parameters, where its figures
    and data go, the figure settings (params.yaml reports) and the overrides that concern it."""
    settings = {key: reports[key] for key in ("formats", "dpi")}
    return dict(page.inputs, **page.extra, page=name, figures_dir=stages.path("report_page.figures", page=name),
                data_dir=stages.path("report_page.data", page=name), settings=settings,
                overrides={"changes": page_changes(page, changes), "total": len(changes)})  # fmt: skip


def index_note(changes: list[dict]) -> str:
    """What the index says first when --configfile overrides (the demo) changed the science."""
    if not changes:
        return ""
    return (f"Not the paper's settings: {len(changes)} setting(s) of params.yaml were overridden (e.g. the CPU "
            "demo, workflow/demo.yaml). Each page lists those that concern its data; figures of those runs are titled DEMO.")
