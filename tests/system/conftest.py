"""The system tier's shared pieces: Debian packages a test needs (`system_package` marker: installed
with apt-get before the test when missing, so that `make test` passes on a fresh machine), and the
one demo-sized pipeline run the pipeline tests share (`demo_run`)."""

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.demo_run import DemoRun, shared_demo_run

APT_LOCK = Path("/tmp/deepcollapse-tests-apt.lock")  # pytest-xdist workers install one at a time


def pytest_configure(config):
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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """The suite's one demo-sized pipeline run (tests/support/demo_run.py), made once per session."""
    return shared_demo_run(tmp_path_factory)
