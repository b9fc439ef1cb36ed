import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# helpers shared by tests (e.g. the independent NC reference) are importable as plain modules
sys.path.insert(0, str(Path(__file__).parent))

APT_LOCK = Path("/tmp/deepcollapse-tests-apt.lock")  # pytest-xdist workers install one at a time


def pytest_configure(config):
    _keep_the_collection_order(config)
    config.addinivalue_line(
        "markers",
        "system_package(name, path): the test needs a Debian package (path: a file it installs); "
        "installed with apt-get before the test when missing, so that `make test` passes on a fresh machine",
    )


def pytest_runtest_setup(item):
    for mark in item.iter_markers("system_package"):
        ensure_debian_package(*mark.args, **mark.kwargs)


def _apt(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=900)


def ensure_debian_package(name: str, path: str) -> None:
    """Install Debian package `name` unless `path` exists; fail the test with what to do when this
    process cannot (not root, no apt-get, no package source)."""
    if Path(path).exists():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(f"needs Debian package {name} ({path} is missing) and cannot install it here "
                    f"(root and apt-get needed): run `apt-get install --no-install-recommends {name}` as root", pytrace=False)  # fmt: skip
    with open(APT_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if Path(path).exists():  # another worker installed it meanwhile
            return
        proc = _apt("install", "-y", "-q", "--no-install-recommends", name)
        if proc.returncode != 0:  # a fresh machine may have no package lists yet
            _apt("update", "-q")
            proc = _apt("install", "-y", "-q", "--no-install-recommends", name)
    if proc.returncode != 0 or not Path(path).exists():
        pytest.fail(f"apt-get install {name} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}", pytrace=False)


# `make test` runs `pytest -n 2 --dist loadscope`: each module goes whole to one of two workers, so
# the suite lasts as long as the busier worker.  xdist's default order (--loadscope-reorder) hands
# out the modules with the most tests first, which would start the one- and five-test SLURM modules
# (minutes of waiting for SLURM's time limits) last, with one worker then running them alone.
# Instead the longest modules start first, the short ones fill in at the end, so that both workers
# finish together.  The order is measured (CPU seconds, 2026-12: the SLURM workflow ~350 in its
# jobs, the README journey ~300, dvc repro ~170, the end-to-end pipeline, the SLURM signal ~150 in
# its job, ...); a module missing from the list only runs after them.
# xdist gives a worker its next module while it still has up to two tests left, so the SLURM
# workflow's checks are five tests of one module fixture: no module waits behind its run.
RUN_FIRST = (
    "test_slurm_workflow.py",
    "test_cached_features_journey.py",
    "test_pipeline_dvc.py",
    "test_pipeline_e2e.py",
    "test_slurm_signal.py",  # after these: its job would hold one of the local SLURM's 2 CPUs the workflow's jobs need
    "test_faults.py",
    "test_nets_train.py",
    "test_pipeline_dag.py",
    "test_reports_claims.py",
    "test_reports_browser.py",
    "test_dvc_remote.py",
    "test_slurm_profile.py",
    "test_ufm_deep.py",
    "test_ufm_deep_theory.py",
    "test_ufm_models.py",
    "test_slurm_cluster.py",
    "test_bad_inputs.py",
)


def _keep_the_collection_order(config):
    if getattr(config.option, "dist", "no") == "loadscope":
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
