"""A cheap version of params.yaml for the end-to-end tests: every experiment, page and run kept,
each made small.  Built from the real file so that it follows whatever the sections contain."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

UFM_ITERS = 400
NET_TRAIN = {
    "epochs": 2, "checkpoints": [0, 1, 2], "width": 0.0625, "batch_size": 64, "train_per_class": 20,
    "test_per_class": 5, "device": "cpu", "lr_step": 1,
}


def reduced_params(path: str | Path) -> dict:
    params = yaml.safe_load(Path(path).read_text())
    out = copy.deepcopy(params)
    for exp in [*out["ufm"]["experiments"].values(), *(out["ufm"].get("sweeps") or {}).values()]:
        exp["iters"] = UFM_ITERS
        exp["log_every"] = UFM_ITERS // 4
        if "log_spaced" in exp:
            exp["log_spaced"] = min(exp["log_spaced"], 10)
    lowrank = (out["ufm"].get("studies") or {}).get("lowrank")
    if lowrank:  # one tiny sweep: the study's job and page, not its science
        lowrank.update(depths=[2], sizes=[{"K": 3, "n": 4, "d": 6}], lambda_ratios=[0.5], activations=["linear"],
                       losses=["mse"], seeds=[0], iters=UFM_ITERS, log_every=UFM_ITERS // 4)
    theorem1 = (out["ufm"].get("studies") or {}).get("theorem1")
    if theorem1:  # one point beyond the theorem: the job, its second certificate and the page
        theorem1.update(Ks=[4], depths=[2], k_rho=[0.3], starts=2, confirm_starts=2)
    papers = (out["ufm"].get("studies") or {}).get("papers") or {}
    for setting in papers.values():  # every named setting kept (the literature page finds runs by them): one short run each
        setting.update({key: setting[key][:1] for key in ("depths", "Ks", "widths", "lambdas") if key in setting})
        setting.update(seeds=[0], iters=UFM_ITERS, log_every=UFM_ITERS // 4)
    asym = out["asymptotic"]
    asym.update(n=[10, 100, 1000], sigma=[0.0, 0.1, 0.5], seeds=3, rate_fit_n_min=10)
    asym["extended"] = {**asym.get("extended", {}), "iters": 200}
    net = out["networks"]
    net["datasets"] = ["digits"]
    net["data"] = {**net.get("data", {}), "download": False}
    net["train"] = {**net["train"], **NET_TRAIN}
    for variant in (net.get("variants") or {}).values():  # each variant once, on digits: its model and metrics in the pipeline
        variant.update(datasets=["digits"], losses=variant["losses"][:1])
    net["threads"] = 1
    out["resources"]["gpu"]["gpu"] = 0
    return out


def keep_two_experiments(params: dict) -> list[str]:
    """Only the first two UFM experiments, no sweep and no UFM page (the phase-diagram page reads
    sweeps; the network-comparison page names experiments that are gone): the DVC test's cheap
    pipeline, whose stages up to the theory table run three times.  Returns the two names."""
    ufm = params["ufm"]
    names = list(ufm["experiments"])[:2]
    ufm["experiments"] = {name: ufm["experiments"][name] for name in names}
    ufm["sweeps"] = {}
    params["reports"]["phase_diagram"] = {}
    params["reports"]["ufm_pages"] = {}
    params["networks"].pop("compare", None)
    return names
