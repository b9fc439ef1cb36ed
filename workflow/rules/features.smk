# Per-checkpoint features of every ResBlock stage (the last one's pooled output is `penultimate`)
# (Zarr v3, sharded).  The log gets one line per checkpoint (--no-progress: no bar in a file).

rule features:
    input:
        OUT["train.done"],
    output:
        directory(OUT["features.store"]),
    params:
        run_dir=OUT["train.run"],
        options=" ".join(
            [f"--batch-size {NET['features']['batch_size']}"]
            + (["--test"] if NET["features"]["test"] else [])
            + ([f"--test-per-class {NET['features']['test_per_class']}"] if NET["features"].get("test_per_class") else [])
            + ([f"--maps-per-class {NET['features']['maps_per_class']}"] if NET["features"]["maps_per_class"] else [])
        ),
    log:
        "results/logs/features/{run}.log",
    wildcard_constraints:
        run=choice(NET_RUNS),
    threads: NET["threads"]
    resources:
        **res("gpu"),
    shell:
        "{DC} features --run {params.run_dir} {params.options} --threads {threads} --out {output} --no-progress > {log} 2>&1"


rule features_all:
    input:
        expand(OUT["features.store"], run=NET_RUNS),
