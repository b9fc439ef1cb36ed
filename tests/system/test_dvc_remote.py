"""DVC remotes for the feature stores: a sharded Zarr store written by `deepcollapse.store` is pushed
as a handful of files, and a fresh clone pulls it back byte for byte, to a local-directory remote
and to S3 (a moto server on loopback)."""

from __future__ import annotations

import contextlib
import hashlib
import json

import pytest
import xarray as xr

from deepcollapse.store import open_dataset, write_dataset
from tests.support.dvc import BUCKET, add_remote, encoding, feature_dataset, files_under, init_repo, moto_s3, sh

pytestmark = pytest.mark.slow

EPOCHS = 3
DIMS = {"stage1": 16, "penultimate": 64}
STORE = "results/features/digits-mse.zarr"


def digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files_under(root)}


@pytest.fixture(scope="module")
def features():
    return feature_dataset(samples=3000, epochs=EPOCHS, dims=DIMS)


def write_store(path, ds, *, sharded: bool):
    # chunks of 64 KiB: a shard holds 4 of them for penultimate, so sharding visibly saves files
    return write_dataset(ds, path, encoding=encoding(ds, chunk_bytes=64 << 10, sharded=sharded), provenance={"test": True})


def test_sharding_makes_a_store_a_handful_of_files(tmp_path, features):
    sharded = write_store(tmp_path / "sharded.zarr", features, sharded=True)
    plain = write_store(tmp_path / "plain.zarr", features, sharded=False)
    for name in DIMS:  # one shard file per epoch and variable
        assert len(files_under(sharded / name / "c")) == EPOCHS
    assert len(files_under(plain / "penultimate" / "c")) == EPOCHS * 12  # 3000 rows / 256 rows per chunk
    assert len(files_under(sharded)) < len(files_under(plain)) / 3
    xr.testing.assert_identical(open_dataset(sharded).load(), open_dataset(plain).load())


@pytest.mark.parametrize("remote", ["local", "s3"])
def test_push_fresh_clone_pull_gives_identical_store(tmp_path, features, remote):
    with moto_s3(tmp_path / "moto.log") if remote == "s3" else contextlib.nullcontext() as endpoint:
        repo = init_repo(tmp_path / "project")
        if remote == "local":
            add_remote(repo, str(tmp_path / "remote"))
        else:
            add_remote(repo, f"s3://{BUCKET}/dvc", endpoint=endpoint)
        store = write_store(repo / STORE, features, sharded=True)
        sh("dvc", "add", STORE, cwd=repo)
        sh("git", "add", "-A", cwd=repo)
        sh("git", "commit", "-q", "-m", "features", cwd=repo)
        pushed = sh("dvc", "push", cwd=repo)
        n_files = len(files_under(store))
        assert f"{n_files + 1} files pushed" in pushed  # the store's files + the directory manifest
        if remote == "local":
            assert len(files_under(tmp_path / "remote")) == n_files + 1

        clone = tmp_path / "clone"
        sh("git", "clone", "-q", repo, clone, cwd=tmp_path)
        assert not (clone / STORE).exists()
        sh("dvc", "pull", cwd=clone)
        assert digests(clone / STORE) == digests(store)
        expected = features.assign_attrs(provenance={"test": True}, deepcollapse_artifact="dataset")  # + our marker
        xr.testing.assert_identical(open_dataset(clone / STORE).load(), expected)
        assert json.loads(sh("dvc", "status", "--json", cwd=clone)) == {}

