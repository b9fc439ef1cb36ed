"""Balanced per-class subsampling, reproducible from a seed."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def balanced_indices(labels: np.ndarray, *, per_class: int, num_classes: int, seed: int, what: str = "split") -> np.ndarray:
    """Indices (ascending) of `per_class` samples of every class, drawn without replacement.

    Class k's draw depends only on (seed, k), so adding classes or samples of other classes
    does not change it.
    """
    if per_class < 1:
        raise InputError(f"per-class sample count must be positive, got {per_class}")
    labels = np.asarray(labels)
    chosen = []
    for k in range(num_classes):
        members = np.flatnonzero(labels == k)
        if len(members) < per_class:
            raise InputError(f"class {k} of the {what} has {len(members)} samples, fewer than the {per_class} requested per class")
        pick = np.random.default_rng([seed, k]).permutation(len(members))[:per_class]
        chosen.append(members[np.sort(pick)])
    return np.sort(np.concatenate(chosen))
