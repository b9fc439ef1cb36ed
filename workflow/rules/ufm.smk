# Unconstrained features models: one job per experiment of params.yaml `ufm.experiments` (the
# paper's figures, the variants, and the λ phase diagram, which is a `sweep:` solved as one batch).

UFM_EXPERIMENTS = config["ufm"]["experiments"]


rule ufm:
    output:
        directory("results/ufm/{name}.zarr"),
    params:
        cfg=lambda w: as_json(UFM_EXPERIMENTS[w.name]),
    log:
        "results/logs/ufm/{name}.log",
    wildcard_constraints:
        name=choice(UFM_EXPERIMENTS),
    threads: 1
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} ufm --config - --out {output} > {log} 2>&1"


rule ufm_all:
    input:
        expand("results/ufm/{name}.zarr", name=UFM_EXPERIMENTS),
