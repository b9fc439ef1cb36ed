# The low-rank-bias study of the deep UFM (params.yaml ufm.studies.lowrank): one job, every sweep batched.
LOWRANK = (config["ufm"].get("studies") or {}).get("lowrank")


rule lowrank:
    output:
        directory(OUT["lowrank.study"]),
    params:
        cfg=lambda w: as_json(LOWRANK),
    log:
        "results/logs/lowrank.log",
    threads: 1
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} lowrank --config - --out {output} > {log} 2>&1"
