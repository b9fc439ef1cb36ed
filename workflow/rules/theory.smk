# Closed form against gradient descent for every UFM run: a small JSON (a DVC metric) and a CSV.

rule theory:
    input:
        expand("results/ufm/{name}.zarr", name=UFM_EXPERIMENTS),
    output:
        json="results/theory/agreement.json",
        csv="results/theory/agreement.csv",
    log:
        "results/logs/theory.log",
    resources:
        **res("cpu"),
    shell:
        "{DC} theory --runs {input} --out {output.json} --csv {output.csv} > {log} 2>&1"


# The low-rank-bias study of the deep UFM (params.yaml ufm.studies.lowrank): one job, every sweep batched.
LOWRANK = (config["ufm"].get("studies") or {}).get("lowrank")


rule lowrank:
    output:
        directory("results/lowrank/study.zarr"),
    params:
        cfg=lambda w: as_json(LOWRANK),
    log:
        "results/logs/lowrank.log",
    threads: 1
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} lowrank --config - --out {output} > {log} 2>&1"
