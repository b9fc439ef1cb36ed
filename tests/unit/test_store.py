"""Atomic writes and provenance of stored artifacts."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from deepcollapse import provenance, store
from deepcollapse.errors import InputError


def small_dataset(value=1.0):
    return xr.Dataset({"a": (("x", "y"), np.full((3, 2), value))}, attrs={"config": {"K": 4, "lam": np.float64(5e-3)}})


def test_write_dataset_roundtrip_with_provenance(tmp_path):
    path = tmp_path / "out.zarr"
    prov = provenance.collect(params={"K": 4}, seed=3)
    store.write_dataset(small_dataset(), path, provenance=prov)
    ds = store.open_dataset(path)
    np.testing.assert_array_equal(ds["a"].values, np.ones((3, 2)))
    assert ds.attrs["config"] == {"K": 4, "lam": 5e-3}
    assert ds.attrs["provenance"]["seed"] == 3 and ds.attrs["provenance"]["params"] == {"K": 4}
    assert set(ds.attrs["provenance"]["versions"]) >= {"torch", "numpy", "zarr", "deepcollapse"}
    assert list(tmp_path.iterdir()) == [path]  # no temporary leftovers


def test_failed_write_leaves_previous_artifact_intact(tmp_path):
    path = tmp_path / "out.zarr"
    store.write_dataset(small_dataset(1.0), path)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with store.atomic_path(path) as tmp:
            small_dataset(2.0).to_zarr(tmp, zarr_format=3, consolidated=False)
            raise Boom
    assert store.open_dataset(path)["a"].values[0, 0] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_overwrite_replaces_directory(tmp_path):
    path = tmp_path / "out.zarr"
    store.write_dataset(small_dataset(1.0), path)
    store.write_dataset(small_dataset(2.0), path)
    assert store.open_dataset(path)["a"].values[0, 0] == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_json_text_and_jsonable(tmp_path):
    store.write_json({"x": np.float32(1.5), "nan": float("nan"), "t": (1, 2)}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1.5, "nan": None, "t": [1, 2]}
    store.write_text("hello", tmp_path / "sub" / "t.txt")
    assert (tmp_path / "sub" / "t.txt").read_text() == "hello"


def test_open_missing_or_corrupt_store_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no such Zarr store"):
        store.open_dataset(tmp_path / "missing.zarr")
    bad = tmp_path / "bad.zarr"
    bad.mkdir()
    (bad / "zarr.json").write_text("{not json")
    with pytest.raises(InputError, match="not a readable Zarr store"):
        store.open_dataset(bad)


def test_git_revision_of_this_checkout():
    # the revision of the tree the package was imported from, compared with git's own answer
    package_dir = Path(provenance.__file__).parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package_dir, capture_output=True, text=True)
    rev = provenance.git_revision()
    if head.returncode != 0:  # not a git checkout (an installed copy): says so
        assert rev == {"commit": "unknown", "dirty": None}
    else:
        assert rev["commit"] == head.stdout.strip() and len(rev["commit"]) == 40
        assert isinstance(rev["dirty"], bool)


def test_text_is_stored_as_variable_length_strings(tmp_path, recwarn):
    ds = xr.Dataset(
        {"a": (("layer",), np.ones(3)), "note": (("layer",), np.array(["x", "yy", "zzz"]))},
        coords={"layer": ["stage1", "stage2", "penultimate"]},
    )
    store.write_dataset(ds, tmp_path / "s.zarr")
    assert not [w for w in recwarn if "specification" in str(w.message)]
    back = store.open_dataset(tmp_path / "s.zarr")
    assert list(back["layer"].values) == ["stage1", "stage2", "penultimate"]
    assert list(back["note"].values) == ["x", "yy", "zzz"]
    assert back.sel(layer="stage2")["a"].item() == 1.0


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    import os
    import socket
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    host = socket.gethostname()
    stale = tmp_path / f".out.zarr.tmp-{host}-{dead.pid}-0123abcd"
    live = tmp_path / f".out.zarr.tmp-{host}-{os.getpid()}-4567ef01"  # a concurrent writer: kept
    other_host = tmp_path / f".out.zarr.tmp-elsewhere-{dead.pid}-89abcdef"  # cannot be judged here: kept
    for path in (stale, live, other_host):
        (path / "c").mkdir(parents=True)
    store.write_dataset(small_dataset(), tmp_path / "out.zarr")
    assert not stale.exists() and live.exists() and other_host.exists()
