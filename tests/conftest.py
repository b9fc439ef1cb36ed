"""What every test shares: DVC's analytics off, and the order `make test` hands modules to its two
workers.  The system tier's needs (Debian packages) are in tests/system/conftest.py; the helpers are
the package tests.support."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

TESTS = Path(__file__).parent


def pytest_configure(config):
    moved = [path for path in RUN_FIRST if not (TESTS / path).is_file()]
    if moved:  # a renamed module would silently lose its place and start last
        raise pytest.UsageError(f"tests/conftest.py RUN_FIRST names modules that do not exist: {moved}")
    _keep_the_collection_order(config)


# `make test` runs `pytest -n 2 --dist loadscope`: each module goes whole to one of two workers, so
# the suite lasts as long as the busier worker.  xdist's default order (--loadscope-reorder) hands
# out the modules with the most tests first, which would start the one- and five-test SLURM modules
# (minutes of waiting for SLURM's time limits) last, with one worker then running them alone.
# Instead the longest modules start first, the short ones fill in at the end, so that both workers
# finish together.  The order is measured (CPU seconds, 2026-12: the SLURM workflow ~350 in its
# jobs, the README journey with the suite's one demo run, dvc repro ~170, ...); a module missing from the list only runs after them.
# xdist gives a worker its next module while it still has up to two tests left, so the SLURM
# workflow's checks are five tests of one module fixture: no module waits behind its run.
RUN_FIRST = (  # paths under tests/
    "system/test_slurm_workflow.py",
    "system/test_cached_features_journey.py",
    "system/test_gpu_kit.py",  # every step of the GPU kit on CPU (minutes of training variants)
    "system/test_pipeline_dvc.py",
    "system/test_faults.py",
    "system/test_trainer_processes.py",  # training processes killed and resumed, a second training beside the first
    "unit/nets/test_trainer.py",
    "system/test_execution_variants.py",  # bf16 and torch.compile on CPU: minutes each
    "system/test_pipeline_dag.py",
    "system/test_network_journey.py",  # the README's real-data network example, shrunk (~4 min wall loaded)
    "system/test_reports_claims.py",
    "system/test_reports_demo.py",  # every notebook rendered from overridden settings
    "system/test_pipeline_e2e.py",  # only reads the journey's demo run (a file lock makes it wait for that run)
    "system/test_reports_browser.py",
    "system/test_dvc_remote.py",
    "system/test_slurm_profile.py",
    "unit/ufm/test_deep.py",
    "unit/ufm/test_deep_theory.py",
    "unit/ufm/test_models.py",
    "system/test_slurm_cluster.py",
    "unit/test_bad_inputs.py",
)


def _keep_the_collection_order(config):
    if getattr(config.option, "dist", "no") == "loadscope":
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(_under_tests(item.path), len(rank)))  # stable: the rest keep their order


def _under_tests(path: Path) -> str:
    return path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else path.as_posix()
