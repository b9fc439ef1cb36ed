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
