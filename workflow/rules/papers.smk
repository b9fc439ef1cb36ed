# The deep UFM at the papers' own settings (params.yaml ufm.studies.papers): one job, every sweep batched.
PAPERS = (config["ufm"].get("studies") or {}).get("papers")


rule papers:
    output:
        directory(OUT["papers.study"]),
    params:
        cfg=lambda w: as_json(PAPERS),
    log:
        "results/logs/papers.log",
    threads: 1
    resources:
        **res("cpu"),
    shell:
        CONFIG_FROM_STDIN + "{DC} papers --config - --out {output} > {log} 2>&1"
