"""The provenance record names the machine down to what changes a float between machines of one
architecture: the CPU model, the BLAS/LAPACK build and loaded libraries, and the thread counts."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from deepcollapse import provenance


def test_the_cpu_model_is_the_one_the_kernel_reports():
    record = provenance.collect()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "model name" in cpuinfo.read_text():
        names = {line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")}
        assert record["machine"]["cpu"] in names
    else:  # not Linux: what the platform says
        assert record["machine"]["cpu"] == (platform.processor() or platform.machine())
    assert record["machine"]["cpu"] in record["device"]
    json.dumps(record)  # stored in Zarr attributes and JSON files


def test_the_blas_build_and_the_loaded_libraries_are_numpys():
    np.linalg.svd(np.eye(3))  # the BLAS is loaded
    machine = provenance.machine()
    build = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    assert machine["numpy_build"]["blas"].startswith(build["name"])
    apis = {lib["api"] for lib in machine["blas"]}
    assert apis & {"openblas", "mkl", "blis", "accelerate"}, machine["blas"]


def test_thread_counts_are_read_when_recorded_not_assumed(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with threadpool_limits(limits=1, user_api="blas"):
            machine = provenance.machine()
        assert machine["threads"]["torch_intra_op"] == 1
        assert {lib["threads"] for lib in machine["blas"] if lib["api"] != "openmp"} == {1}
    finally:
        torch.set_num_threads(before)
    assert provenance.thread_counts()["torch_intra_op"] == before
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert provenance.thread_counts()["OMP_NUM_THREADS"] == "3"
    assert provenance.thread_counts()["logical_cores"] >= 1
    assert set(provenance.machine()["torch_build"]) == {"blas_info", "lapack_info"}


@pytest.mark.parametrize("key", ["cpu", "numpy_build", "blas", "threads"])
def test_every_artifact_carries_the_machine(tmp_path, key):
    import xarray as xr

    from deepcollapse.store import open_dataset, write_dataset

    path = write_dataset(xr.Dataset({"x": ("i", np.arange(3.0))}), tmp_path / "a.zarr", provenance=provenance.collect(seed=1))
    assert key in open_dataset(path).attrs["provenance"]["machine"]
