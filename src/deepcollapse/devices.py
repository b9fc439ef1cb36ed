"""Torch devices and CPU threads, the same way for every part of the package."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .constraints import DEVICE
from .errors import InputError


def resolve(name: str) -> torch.device:
    """'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'; anything else is an InputError."""
    if not DEVICE.accepts(name):
        raise InputError(DEVICE.refusal("device", name))
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} was requested but CUDA is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise InputError(f"device {name!r} was requested but this machine has {count} CUDA device{'s' * (count != 1)} (cuda:0..cuda:{count - 1})")
    return device


@contextlib.contextmanager
def cpu_threads(threads: int | None, *, device: torch.device) -> Iterator[None]:
    """Run CPU work with `threads` torch intra-op threads, then restore the previous setting.

    For many tiny matrices (UFM iterations, the Theorem 5.1 grid) one thread is several times
    faster than two on a 2-core machine: thread synchronisation costs more than the arithmetic.
    `threads=None`, or a non-CPU device, leaves torch alone.
    """
    if threads is None or device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
