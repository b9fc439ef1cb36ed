# Report pages: papermill executes a template of workflow/notebooks/ with the page's inputs as
# parameters (the executed notebook: reports/notebooks/<page>.ipynb), nbconvert renders it to
# reports/pages/<page>.html; figures go to reports/figures/<page>/
# as PNG + SVG, with the plotted data as CSV in reports/data/<page>/.  reports/index.html links every page and figure.

REPORTS = config["reports"]
# The nbconvert template of the pages (JupyterLab's, without CDN scripts: pages work offline) and
# the project's math document, rendered beside the index; every page links its anchors.
NBCONVERT_DIR = project_file(stages.jobs()["report_page"].reads[0])
NBCONVERT_TEMPLATE = sorted(glob.glob(f"{NBCONVERT_DIR}/offline/*"))
MATH_DOC = project_file(stages.jobs()["report_math"].reads[0])
NOTEBOOKS = stages.jobs()["report_page"].command.target
# Where the pages, their figures and their data go: one folder each, a subfolder or file per page.
PAGES_DIR, FIGURES_DIR, DATA_DIR = (os.path.dirname(OUT[f"report_page.{out}"]) for out in ("html", "figures", "data"))
# The pages' plotting code: a change reruns the (cheap) pages, as a template change does.  The science
# jobs do not depend on the package's source this way: see docs/operations.md, "When code changes".
REPORT_CODE = sorted(glob.glob(project_file("src/deepcollapse/reports/*.py")) + glob.glob(project_file("src/deepcollapse/compare/*.py")))


# The pages of this configuration, in index order, and what --configfile overrides (the demo)
# changed: deepcollapse.reports.plan.
PAGES = planned(plan.pages, config)
CONFIG_CHANGES = plan.overrides(paper_params(), config)


rule report_page:
    input:
        template=lambda w: project_file(f"{NOTEBOOKS}/{PAGES[w.page].template}.ipynb"),
        data=lambda w: PAGES[w.page].paths(),
        code=REPORT_CODE,
        html_template=NBCONVERT_TEMPLATE,
    output:
        notebook=OUT["report_page.notebook"],
        html=OUT["report_page.html"],
        figures=directory(OUT["report_page.figures"]),
        data=directory(OUT["report_page.data"]),
    params:
        nb=lambda w: as_json(plan.parameters(w.page, PAGES[w.page], REPORTS, CONFIG_CHANGES)),
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
        " --output-dir " + PAGES_DIR + " --output {wildcards.page} {output.notebook} >> {log} 2>&1"


rule report_math:
    input:
        doc=MATH_DOC,
        code=[path for path in REPORT_CODE if path.endswith(("text.py", "math_values.py"))],  # none in a copy without src/
    output:
        OUT["report_math.html"],
    log:
        "results/logs/reports/math.log",
    resources:
        **res("cpu"),
    shell:
        "{PY} -m deepcollapse.reports.text {input.doc} {output} > {log} 2>&1"


rule report_index:
    input:
        math=OUT["report_math.html"],
        pages=expand(OUT["report_page.html"], page=PAGES),
        figures=expand(OUT["report_page.figures"], page=PAGES),
        data=expand(OUT["report_page.data"], page=PAGES),
    output:
        OUT["report_index.index"],
    params:
        note=plan.index_note(CONFIG_CHANGES),  # "--note=": an empty note (the paper's settings) quotes to nothing
    log:
        "results/logs/reports/index.log",
    resources:
        **res("cpu"),
    shell:
        "{DC} report index --pages {input.pages} --figures " + FIGURES_DIR + " --data " + DATA_DIR + " --note={params.note:q}"
        " --out {output} > {log} 2>&1"
