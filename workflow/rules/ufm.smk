# Unconstrained features models: one job per experiment of params.yaml `ufm.experiments`
# (the paper's figures and the variants), one job per point of the λ phase diagram.

UFM_EXPERIMENTS = config["ufm"]["experiments"]


def phase_points():
    """Config of every point of the λ phase diagram, by name (λ_W = λ_H = value)."""
    grid = config["ufm"]["phase_diagram"]
    return {f"lambda_{value:g}": dict(grid["base"], lambda_W=value, lambda_H=value) for value in grid["lambdas"]}


UFM_PHASE = phase_points()


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


rule ufm_phase_point:
    output:
        directory("results/ufm/phase/{point}.zarr"),
    params:
        cfg=lambda w: as_json(UFM_PHASE[w.point]),
    log:
        "results/logs/ufm/phase/{point}.log",
    wildcard_constraints:
        point=choice(UFM_PHASE),
    threads: 1
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} ufm --config - --out {output} > {log} 2>&1"


rule ufm_all:
    input:
        expand("results/ufm/{name}.zarr", name=UFM_EXPERIMENTS),
        expand("results/ufm/phase/{point}.zarr", point=UFM_PHASE),
