# Closed form against gradient descent for every UFM run: a small JSON (a DVC metric) and a CSV.

rule theory:
    input:
        expand(OUT["ufm.store"], name=UFM_EXPERIMENTS),
    output:
        json=OUT["theory.json"],
        csv=OUT["theory.csv"],
    log:
        "results/logs/theory.log",
    resources:
        **res("cpu"),
    shell:
        "{DC} theory --runs {input} --out {output.json} --csv {output.csv} > {log} 2>&1"
