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
# Instead they start first and the other worker takes the rest; then the longest other modules
# (measured; the list is only an order, a module missing from it runs after them), the short ones
# last, so that both workers finish together.
RUN_FIRST = (
    "test_slurm_workflow.py",
    "test_slurm_signal.py",
)


def _keep_the_collection_order(config):
    if getattr(config.option, "dist", "no") == "loadscope":
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
