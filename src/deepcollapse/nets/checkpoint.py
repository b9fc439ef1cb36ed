"""Checkpoint files of a run directory: atomic writes, discovery, loading with clear errors.

    RUN_DIR/checkpoints/epoch-0040.pt   kept: the state after 40 epochs (a `checkpoints` epoch)
    RUN_DIR/checkpoints/resume.pt       rolling resume point (every `save_every` epochs, or the
                                        mid-epoch state saved on SIGTERM); deleted once older than
                                        the newest kept checkpoint

Each file is a `torch.save` dict: ``epoch`` (completed epochs), ``step`` (batches done in the
next epoch; 0 at an epoch boundary), ``model``, ``optimizer``, ``scheduler``, ``rng``,
``partial`` (running sums of an interrupted epoch), ``history`` and ``config`` (resolved).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_path
from ..errors import InputError
from ..rundir import checkpoints_path

FORMAT = 1
RESUME_NAME = "resume.pt"
_EPOCH_RE = re.compile(r"^epoch-(\d+)\.pt$")


def directory(run_dir: Path) -> Path:
    return checkpoints_path(run_dir)


def epoch_path(run_dir: Path, epoch: int) -> Path:
    return directory(run_dir) / f"epoch-{epoch:04d}.pt"


def save(path: Path, state: dict[str, Any]) -> Path:
    state = dict(state, format=FORMAT)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load(path: Path, *, map_location: Any = "cpu") -> dict[str, Any]:
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise InputError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path}: not a deepcollapse checkpoint (format {state.get('format') if isinstance(state, dict) else '?'})")
    return state


def restore(model: torch.nn.Module, state: dict[str, Any], path: Path) -> None:
    """Load the weights of checkpoint `path` into `model`; a checkpoint of another architecture
    (a run of another width, stem or number of classes) is an InputError naming the file."""
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line or "Missing" in line), str(exc).splitlines()[0] if str(exc) else "")
        raise InputError(f"{path}: checkpoint does not fit this run's model ({first[:200]})") from None


def kept_epochs(run_dir: Path) -> dict[int, Path]:
    """{epoch: path} of the kept checkpoints present in `run_dir`."""
    out = {}
    folder = directory(run_dir)
    if folder.is_dir():
        for path in folder.iterdir():
            match = _EPOCH_RE.match(path.name)
            if match:
                out[int(match.group(1))] = path
    return dict(sorted(out.items()))


def _load_or_skip(path: Path) -> dict[str, Any] | None:
    try:
        return load(path)
    except InputError as exc:
        # Renames are atomic, but without fsync a node crash can still leave a damaged file:
        # resume from the newest checkpoint that reads rather than stop the run.
        print(f"warning: {exc}; resuming from an older checkpoint", file=sys.stderr)
        return None


def newest(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The most advanced readable checkpoint (by epoch, then step) and its state, or None.

    Unreadable files are reported on stderr and skipped.
    """
    resume = directory(run_dir) / RESUME_NAME
    resume_state = _load_or_skip(resume) if resume.is_file() else None
    resume_key = (int(resume_state["epoch"]), int(resume_state["step"])) if resume_state else None
    for epoch, path in sorted(kept_epochs(run_dir).items(), reverse=True):
        if resume_key is not None and resume_key > (epoch, 0):
            break
        state = _load_or_skip(path)
        if state is not None:
            return path, state
    return (resume, resume_state) if resume_state is not None else None


def remove_partial_writes(run_dir: Path) -> None:
    """Delete temporary files of checkpoint writes that a killed process left behind."""
    folder = directory(run_dir)
    if folder.is_dir():
        for path in folder.glob(".*.tmp-*"):
            path.unlink(missing_ok=True)


def drop_resume(run_dir: Path) -> None:
    """Delete the rolling resume point: called right after a kept checkpoint supersedes it
    (training only moves forward, so any resume point is older than the checkpoint just written)."""
    (directory(run_dir) / RESUME_NAME).unlink(missing_ok=True)
