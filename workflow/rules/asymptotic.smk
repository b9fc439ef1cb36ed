# Theorem 5.1: the optimal classifier for fixed noisy features, over growing n.

rule asymptotic:
    output:
        directory(OUT["asymptotic.study"]),
    params:
        cfg=as_json(config["asymptotic"]),
    log:
        "results/logs/asymptotic.log",
    threads: 2
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} asymptotic --config - --out {output} > {log} 2>&1"
