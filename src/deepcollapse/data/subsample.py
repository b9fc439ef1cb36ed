"""Balanced per-class subsampling, reproducible from a seed."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def balanced_indices(labels: np.ndarray, *, per_class: int, num_classes: int, seed: int, what: str = "split", name: str = "per_class") -> np.ndarray:
    """Indices (ascending) of `per_class` samples of every class, drawn without replacement.

    Class k's draw depends only on (seed, k), so adding classes or samples of other classes
    does not change it.  `name` is what the user set the count with (``--train-per-class``,
    ``train_per_class``), for the messages.
    """
    check_count(per_class, name)
    labels = np.asarray(labels)
    chosen = []
    for k in range(num_classes):
        members = np.flatnonzero(labels == k)
        if len(members) < per_class:
            raise InputError(f"class {k} of the {what} has {len(members)} samples, fewer than the {per_class} per class that {name} asks for")
        pick = np.random.default_rng([seed, k]).permutation(len(members))[:per_class]
        chosen.append(members[np.sort(pick)])
    return np.sort(np.concatenate(chosen))


def check_count(per_class, name: str) -> None:
    """A per-class count is a positive integer (InputError naming `name` otherwise)."""
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise InputError(f"{name} must be a positive integer (samples per class), got {per_class!r}")
