# What `dvc metrics show` prints: a screen of numbers selected from the full summaries (which stay
# DVC outputs).  Cheap: they run on the submitting machine.  The script is an input, so that a
# change of it reruns them (Snakemake's code trigger sees the command line, not the script).

DVC_METRICS = project_file(stages.jobs()["dvc_metrics_theory"].command.target)


rule dvc_metrics_theory:
    input:
        table=OUT["theory.json"],
        script=DVC_METRICS,
    output:
        OUT["dvc_metrics_theory.metrics"],
    shell:
        "{PY} {input.script} theory {input.table} {output}"


rule dvc_metrics_networks:
    input:
        summary=OUT["network_summary.summary"],
        script=DVC_METRICS,
    output:
        # one file per run (a row each in `dvc metrics show`); DVC tracks the folder, which the
        # script swaps in whole: no Snakemake directory() output, whose marker file DVC would read
        expand(OUT["dvc_metrics_networks.metrics"], run=NET_RUNS),
    params:
        folder=os.path.dirname(OUT["dvc_metrics_networks.metrics"]),
    shell:
        "{PY} {input.script} networks {input.summary} {params.folder}"
