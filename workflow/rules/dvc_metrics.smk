# What `dvc metrics show` prints: a screen of numbers selected from the full summaries (which stay
# DVC outputs).  Cheap: they run on the submitting machine.  The script is an input, so that a
# change of it reruns them (Snakemake's code trigger sees the command line, not the script).

DVC_METRICS = project_file("workflow/scripts/dvc_metrics.py")


rule dvc_metrics_theory:
    input:
        table="results/theory/agreement.json",
        script=DVC_METRICS,
    output:
        "results/dvc-metrics/theory.json",
    shell:
        "{PY} {input.script} theory {input.table} {output}"


rule dvc_metrics_networks:
    input:
        summary="results/summary/networks.json",
        script=DVC_METRICS,
    output:
        # one file per run (a row each in `dvc metrics show`); DVC tracks the folder, which the
        # script swaps in whole: no Snakemake directory() output, whose marker file DVC would read
        expand("results/dvc-metrics/nets/{run}.json", run=NET_RUNS),
    params:
        folder="results/dvc-metrics/nets",
    shell:
        "{PY} {input.script} networks {input.summary} {params.folder}"
