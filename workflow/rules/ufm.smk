# Unconstrained features models: one job per entry of params.yaml `ufm.experiments` (the paper's
# figures and the variants) and of `ufm.sweeps` (λ phase diagrams, seeds: one batched job each).
# Both write results/ufm/<name>.zarr, so a name must not appear in both (UFM_EXPERIMENTS: the Snakefile).


rule ufm:
    output:
        directory(OUT["ufm.store"]),
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
        expand(OUT["ufm.store"], name=UFM_EXPERIMENTS),
