# What `dvc metrics show` prints: a screen of numbers selected from the full summaries (which stay
# DVC outputs).  Cheap: they run on the submitting machine.

DVC_METRICS = project_file("workflow/scripts/dvc_metrics.py")


rule dvc_metrics_theory:
    input:
        "results/theory/agreement.json",
    output:
        "results/dvc-metrics/theory.json",
    shell:
        "{PY} {DVC_METRICS} theory {input} {output}"


rule dvc_metrics_networks:
    input:
        "results/summary/networks.json",
    output:
        "results/dvc-metrics/networks.json",
    shell:
        "{PY} {DVC_METRICS} networks {input} {output}"
