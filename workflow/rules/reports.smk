# Report pages: papermill executes a template of workflow/notebooks/ with the page's inputs as
# parameters (the executed notebook: reports/notebooks/<page>.ipynb), nbconvert renders it to
# reports/pages/<page>.html; figures go to reports/figures/<page>/
# as PNG + SVG, with the plotted data as CSV in reports/data/<page>/.  reports/index.html links every page and figure.

REPORTS = config["reports"]
# The nbconvert template of the pages (JupyterLab's, without CDN scripts: pages work offline) and
# the project's math document, rendered beside the index; every page links its anchors.
NBCONVERT_DIR = project_file("workflow/nbconvert")
NBCONVERT_TEMPLATE = sorted(glob.glob(f"{NBCONVERT_DIR}/offline/*"))
MATH_DOC = project_file("docs/math.md")
# The pages' plotting code: a change reruns the (cheap) pages, as a template change does.  The science
# jobs do not depend on the package's source this way: see docs/operations.md, "When code changes".
REPORT_CODE = sorted(glob.glob(project_file("src/deepcollapse/reports/*.py")) + glob.glob(project_file("src/deepcollapse/compare/*.py")))
UFM_PAGES = REPORTS["ufm_pages"]


def _check_ufm_pages():
    named = [(f"reports.ufm_pages.{page}.experiments", spec["experiments"]) for page, spec in UFM_PAGES.items()]
    for where, names in named:
        for name in names:
            if name not in UFM_EXPERIMENTS:
                raise WorkflowError(f"params: {where} names {name!r}, which is not in ufm.experiments or ufm.sweeps")
    # the phase-diagram page draws a swept dimension: checked here, not after every UFM job has run
    sweeps = config["ufm"].get("sweeps") or {}
    for name, dim in REPORTS["phase_diagram"].items():
        if name not in sweeps:
            raise WorkflowError(f"params: reports.phase_diagram names {name!r}, which is not in ufm.sweeps")
        if dim not in sweeps[name]["sweep"]:
            swept = ", ".join(sweeps[name]["sweep"])
            raise WorkflowError(f"params: reports.phase_diagram.{name} draws {dim!r}, which ufm.sweeps.{name} does not sweep (it sweeps: {swept})")


_check_ufm_pages()


def report_pages():
    """page name -> (template, {parameter name: input path(s)}, extra parameters), in index order."""
    pages = {}
    for page, spec in UFM_PAGES.items():
        pages[page] = (
            "ufm_runs",
            {"runs": {name: f"results/ufm/{name}.zarr" for name in spec["experiments"]}},
            {"title": spec["title"], "notes": spec.get("notes", "")},
        )
    phase = REPORTS["phase_diagram"]
    pages["phase_diagram"] = (
        "phase_diagram",
        {"runs": {name: f"results/ufm/{name}.zarr" for name in phase}},
        {"dims": dict(phase)},
    )
    pages["theory"] = (
        "theory",
        {"agreement": "results/theory/agreement.json", "runs": {n: f"results/ufm/{n}.zarr" for n in UFM_EXPERIMENTS}},
        {},
    )
    pages["asymptotic"] = ("asymptotic", {"study": "results/asymptotic/theorem51.zarr"}, {})
    if LOWRANK:
        pages["lowrank"] = ("lowrank", {"study": "results/lowrank/study.zarr"}, {})
    if NET_RUNS:
        pages["networks"] = (
            "networks",
            {"metrics": {r: f"results/metrics/{r}.zarr" for r in NET_RUNS}, "summary": "results/summary/networks.json"},
            {},
        )
    compared = comparison_references()
    if compared:
        pages["comparison"] = (
            "comparison",
            {
                "metrics": {r: f"results/metrics/{r}.zarr" for r in compared},
                "references": {r: {label: f"results/ufm/{name}.zarr" for label, name in refs.items()} for r, refs in compared.items()},
            },
            {"reference_names": compared},
        )
    return pages


def comparison_references():
    """network run -> {"ReLU": ufm experiment, "linear": ufm experiment} from params.yaml networks.compare."""
    compare = NET.get("compare") or {}
    experiments = config["ufm"]["experiments"]
    for loss, refs in compare.items():
        for kind, name in refs.items():
            if name not in experiments:
                raise WorkflowError(f"params: networks.compare.{loss}.{kind} names {name!r}, which is not in ufm.experiments")
    return {
        network_run: {"ReLU": compare[cfg["loss"]]["relu"], "linear": compare[cfg["loss"]]["linear"]}
        for network_run, cfg in NET_RUNS.items()
        if cfg["loss"] in compare
    }


PAGES = report_pages()


def _paths(value):
    if isinstance(value, dict):
        return [path for v in value.values() for path in _paths(v)]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def page_inputs(w):
    return [path for value in PAGES[w.page][1].values() for path in _paths(value)]


_ABSENT = "(absent)"


def config_changes(base, here, path=()):
    """[{key, params, here}] for every leaf where the resolved config differs from params.yaml."""
    out = []
    for key in sorted(set(base) | set(here), key=str):
        a, b = base.get(key, _ABSENT), here.get(key, _ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, path + (key,))
        elif a != b:
            out.append({"key": ".".join(map(str, path + (key,))), "params": a, "here": b})
    return out


def _paper_params():
    """params.yaml alone, with the schema's defaults filled in exactly as for the resolved config."""
    import yaml

    paper = yaml.safe_load(open(project_file("params.yaml")))  # the paper run's, also when the demo runs under demo/
    validate(paper, "../schemas/params.schema.yaml")  # relative to this file, as Snakemake resolves it
    return paper


# What --configfile overrides (the demo) changed; resources are not science and are left out.
CONFIG_CHANGES = [c for c in config_changes(_paper_params(), config) if not c["key"].startswith("resources.")]


def page_changes(page):
    """The changes that concern a page's data: its runs' UFM settings, or its section."""
    template, inputs, extra = PAGES[page]
    # the UFM runs a page shows: its own, every run (theory), or the comparison's references
    runs = list(inputs.get("runs", {})) + [name for refs in extra.get("reference_names", {}).values() for name in refs.values()]
    prefixes = tuple(f"ufm.{kind}.{name}." for name in runs for kind in ("experiments", "sweeps"))
    prefixes += {"asymptotic": ("asymptotic.",), "networks": ("networks.",), "comparison": ("networks.",),
                 "lowrank": ("ufm.studies.lowrank.",), "theory": ("ufm.",)}.get(template, ())
    # the theory table holds every UFM run, not the low-rank study (its own page)
    skip = ("ufm.studies.",) if template == "theory" else ()
    return [c for c in CONFIG_CHANGES if c["key"].startswith(prefixes) and not c["key"].startswith(skip)] if prefixes else []


def page_parameters(w):
    template, inputs, extra = PAGES[w.page]
    settings = {key: REPORTS[key] for key in ("formats", "dpi")}
    overrides = {"changes": page_changes(w.page), "total": len(CONFIG_CHANGES)}
    return as_json(
        dict(inputs, **extra, page=w.page, figures_dir=f"reports/figures/{w.page}", data_dir=f"reports/data/{w.page}",
             settings=settings, overrides=overrides)
    )


rule report_page:
    input:
        template=lambda w: project_file(f"workflow/notebooks/{PAGES[w.page][0]}.ipynb"),
        data=page_inputs,
        code=REPORT_CODE,
        html_template=NBCONVERT_TEMPLATE,
    output:
        notebook="reports/notebooks/{page}.ipynb",
        html="reports/pages/{page}.html",
        figures=directory("reports/figures/{page}"),
        data=directory("reports/data/{page}"),
    params:
        nb=page_parameters,
        kernel=REPORTS["kernel"],
        timeout=REPORTS["cell_timeout_s"],
    log:
        "results/logs/reports/{page}.log",
    wildcard_constraints:
        page=choice(PAGES),
    resources:
        **res("cpu"),
    shell:
        "mkdir -p {output.figures} {output.data} && "
        "{PY} -m papermill --kernel {params.kernel} --cwd . --no-progress-bar --execution-timeout {params.timeout}"
        " {input.template} {output.notebook} -y {params.nb:q} > {log} 2>&1 && "
        "{PY} -m nbconvert --to html --no-input --TemplateExporter.extra_template_basedirs={NBCONVERT_DIR} --template offline"
        " --output-dir reports/pages --output {wildcards.page} {output.notebook} >> {log} 2>&1"


rule report_math:
    input:
        doc=MATH_DOC,
        code=[path for path in REPORT_CODE if path.endswith("text.py")],  # none in a copy without src/
    output:
        "reports/math.html",
    log:
        "results/logs/reports/math.log",
    resources:
        **res("cpu"),
    shell:
        "{PY} -m deepcollapse.reports.text {input.doc} {output} > {log} 2>&1"


def index_note():
    """What the index says first when --configfile overrides (the demo) changed the science."""
    if not CONFIG_CHANGES:
        return ""
    return (f"Not the paper's settings: {len(CONFIG_CHANGES)} setting(s) of params.yaml were overridden (e.g. the CPU "
            "demo, workflow/demo.yaml). Each page lists those that concern its data; figures of those runs are titled DEMO.")


rule report_index:
    input:
        math="reports/math.html",
        pages=expand("reports/pages/{page}.html", page=PAGES),
        figures=expand("reports/figures/{page}", page=PAGES),
        data=expand("reports/data/{page}", page=PAGES),
    output:
        "reports/index.html",
    params:
        note=index_note(),  # "--note=": an empty note (the paper's settings) quotes to nothing
    log:
        "results/logs/reports/index.log",
    resources:
        **res("cpu"),
    shell:
        "{DC} report index --pages {input.pages} --figures reports/figures --data reports/data --note={params.note:q}"
        " --out {output} > {log} 2>&1"
