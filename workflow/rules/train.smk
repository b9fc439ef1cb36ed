# ResNet18 training: one run per dataset × loss of params.yaml `networks`.
#
# The run directory holds the checkpoints and is NOT a declared output: Snakemake deletes declared
# outputs before a job (re)starts, and a requeued or retried job must find its checkpoints to
# resume.  The declared output is a marker touched after `deepcollapse train` succeeded.


def network_runs():
    """Resolved training config of every run, by name '<dataset>-<loss>'."""
    net = config["networks"]
    runs = {}
    for dataset in net["datasets"]:
        for loss in net["losses"]:
            runs[f"{dataset}-{loss}"] = dict(net["train"], **net["per_loss"].get(loss, {}), loss=loss)
    return runs


NET_RUNS = network_runs()


def run_dataset(run):
    return run.rsplit("-", 1)[0]


rule train:
    input:
        data=lambda w: f"data/{run_dataset(w.run)}.zarr",
    output:
        touch("results/runs/{run}.done"),
    params:
        cfg=lambda w: as_json(NET_RUNS[w.run]),
        run_dir="results/runs/{run}",
    log:
        "results/logs/train/{run}.log",
    wildcard_constraints:
        run=choice(NET_RUNS),
    threads: 2
    resources:
        **res("gpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} train --config - --data {input.data} --out {params.run_dir} > {log} 2>&1"


rule train_all:
    input:
        expand("results/runs/{run}.done", run=NET_RUNS),
