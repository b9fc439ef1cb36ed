# Closed form against gradient descent for every UFM run: a small JSON (a DVC metric) and a table.

rule theory:
    input:
        runs=expand("results/ufm/{name}.zarr", name=UFM_EXPERIMENTS),
        phase=expand("results/ufm/phase/{point}.zarr", point=UFM_PHASE),
    output:
        "results/theory/agreement.json",
    log:
        "results/logs/theory.log",
    resources:
        **res("cpu"),
    shell:
        "{DC} theory --runs {input.runs} {input.phase} --out {output} > {log} 2>&1"
