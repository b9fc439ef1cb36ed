# NC metrics per epoch × layer of every network run, streamed over the feature store.

rule metrics:
    input:
        OUT["features.store"],
    output:
        directory(OUT["metrics.store"]),
    log:
        "results/logs/metrics/{run}.log",
    wildcard_constraints:
        run=choice(NET_RUNS),
    threads: NET["threads"]
    resources:
        **res("cpu"),
    shell:
        "{DC} metrics --features {input} --threads {threads} --out {output} --no-progress > {log} 2>&1"


rule metrics_all:
    input:
        expand(OUT["metrics.store"], run=NET_RUNS),


rule network_summary:
    # Final NC values per run and layer: a small JSON that DVC tracks as a metric (cache: false).
    input:
        expand(OUT["metrics.store"], run=NET_RUNS),
    output:
        OUT["network_summary.summary"],
    params:
        stores=lambda w, input: " ".join(f"{run}={path}" for run, path in zip(NET_RUNS, input)),
    log:
        "results/logs/summary/networks.log",
    resources:
        **res("cpu"),
    shell:
        "{DC} report summary --store {params.stores} --along epoch --out {output} > {log} 2>&1"
