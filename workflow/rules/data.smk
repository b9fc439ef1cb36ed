# Datasets: converted once into a uint8 array store that training loads whole onto the device.

def dataset_config(name):
    return dict(config["networks"]["data"], dataset=name)


rule data:
    output:
        directory("data/{dataset}.zarr"),
    params:
        cfg=lambda w: as_json(dataset_config(w.dataset)),
    log:
        "results/logs/data/{dataset}.log",
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} data --config - --out {output} > {log} 2>&1"
