# Unconstrained features models: one job per entry of params.yaml `ufm.experiments` (the paper's
# figures and the variants) and of `ufm.sweeps` (λ phase diagrams, seeds: one batched job each).
# Both write results/ufm/<name>.zarr, so a name must not appear in both (UFM_EXPERIMENTS: the Snakefile).


def ufm_priority(mapping):
    """deepcollapse.ufm.budget.priority, imported when Snakemake schedules a ufm job (not by every
    Snakefile parse: it loads the compiled solver's modules, ~0.7 s)."""
    from deepcollapse.ufm.budget import priority

    return priority(mapping)


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
    # the longest jobs first (estimated work): on a few cores the stage then ends with short jobs side by side
    priority: lambda w: ufm_priority(UFM_EXPERIMENTS[w.name])
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} ufm --config - --out {output} > {log} 2>&1"


rule ufm_all:
    input:
        expand(OUT["ufm.store"], name=UFM_EXPERIMENTS),
