# Unconstrained features models: one job per entry of params.yaml `ufm.experiments` (the paper's
# figures and the variants) and of `ufm.sweeps` (λ phase diagrams, seeds: one batched job each).
# Both write results/ufm/<name>.zarr, so a name must not appear in both.


def ufm_runs():
    experiments, sweeps = config["ufm"]["experiments"], config["ufm"].get("sweeps") or {}
    both = sorted(set(experiments) & set(sweeps))
    if both:
        raise WorkflowError(f"params: ufm.experiments and ufm.sweeps both define {both[0]!r}; names must be unique")
    return {**experiments, **sweeps}


UFM_EXPERIMENTS = ufm_runs()


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
