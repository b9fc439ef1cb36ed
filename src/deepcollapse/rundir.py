"""The layout of a training run directory (`deepcollapse train --out RUN_DIR`): the one place
that names its files.

    run.json        resolved config, dataset hash and normalisation, provenance (`nets.trainer`);
                    also what marks the folder as a run (`outputs.artifact_kind`)
    checkpoints/    epoch-NNNN.pt (kept) and resume.pt (rolling): named by `nets.checkpoint`
    history.json    per-epoch training loss/accuracy, lr, seconds
    done.json       written last: the run is complete (the workflow's declared output of a run)

Code that reads or writes one of these files takes its path from here; only the tests that check
this contract itself spell the names.
"""

from __future__ import annotations

import os
from pathlib import Path

META = "run.json"
CHECKPOINTS = "checkpoints"
HISTORY = "history.json"
DONE = "done.json"


def meta_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / META


def checkpoints_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CHECKPOINTS


def history_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / HISTORY


def done_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / DONE
