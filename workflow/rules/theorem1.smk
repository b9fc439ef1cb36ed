# The Theorem-1 map of the deep linear CE UFM (params.yaml ufm.studies.theorem1): one job, the reduced problem on a CPU.
THEOREM1 = (config["ufm"].get("studies") or {}).get("theorem1")


rule theorem1:
    output:
        OUT["theorem1.study"],
    params:
        cfg=lambda w: as_json(THEOREM1),
    log:
        "results/logs/theorem1.log",
    threads: 1
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} theorem1 --config - --out {output} > {log} 2>&1"
