# Datasets: converted once into a uint8 array store (data/<dataset>.zarr) that training loads whole
# onto the device; subsampling happens at training time, so one store serves every run.

DATA = config["networks"]["data"]


def data_options(w):
    root = (DATA.get("roots") or {}).get(w.dataset)
    options = [f"--root {shlex_quote(root)}"] if root else []
    if not DATA.get("download", True):
        options.append("--no-download")
    return " ".join(options)


rule data:
    output:
        directory(OUT["data.store"]),
    params:
        options=data_options,
    log:
        "results/logs/data/{dataset}.log",
    wildcard_constraints:
        dataset=choice(config["networks"]["datasets"]),
    resources:
        **res("cpu"),
    shell:
        "{DC} data --dataset {wildcards.dataset} {params.options} --out {output} > {log} 2>&1"
