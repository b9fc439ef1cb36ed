# deepcollapse: the whole reproduction as one DAG.
#
#   snakemake --profile workflow/profiles/local all                                # paper run (params.yaml)
#   snakemake --configfile workflow/demo.yaml --profile workflow/profiles/local all  # CPU demo (`make run`)
#
# Every job calls the `deepcollapse` command line; the science lives in the package.
from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"



include: "workflow/rules/common.smk"


# A misspelt key or a wrong type stops here, naming its path, before any job runs.
validate_params(config, "workflow/schemas/params.schema.yaml")


include: "workflow/rules/data.smk"
include: "workflow/rules/ufm.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/asymptotic.smk"
include: "workflow/rules/reports.smk"


# Cheap bookkeeping runs on the submitting machine, not through a cluster queue.
localrules:
    all,
    report_index,
    report_math,
    network_summary,


rule all:
    default_target: True
    input:
        "reports/index.html",
        "results/theory/agreement.json",
        # the final NC values of the network runs (a DVC metric)
        *(["results/summary/networks.json"] if NET_RUNS else []),
