"""Noise E of the study: iid entries, zero mean, variance σ², drawn reproducibly per (n, seed).

The study draws a unit-variance Z once per (n, seed) and uses σZ for every σ (common random
numbers: the σ curves of one seed differ only by σ, not by the draw).  Every cell's noise is
reproducible from (seed, n, stream) alone, independent of the rest of the grid, and can be
materialised with `noisy_features` to check a cell against `classifier`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

F64 = torch.float64
Distribution = Literal["gaussian", "rademacher", "uniform"]

# Rows per generated block: bounds memory for any n and fixes how the random stream is consumed,
# so a cell's noise does not depend on how the caller batches it.
BLOCK_ROWS = 8192

#: Independent random streams for the two studies and the GD initialisation.
STREAMS = {"plain": 0, "extended": 1, "init": 2}


def generator(*, seed: int, n: int, stream: str, device: torch.device) -> torch.Generator:
    """A torch generator for cell (seed, n) of `stream`, seeded through numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, n, STREAMS[stream]]).generate_state(2, dtype=np.uint64)
    g = torch.Generator(device=device)
    g.manual_seed(int(state[0] >> np.uint64(1)))  # manual_seed takes a non-negative int64
    return g


def _unit_block(rows: int, d: int, *, distribution: Distribution, g: torch.Generator, device: torch.device) -> torch.Tensor:
    if distribution == "gaussian":
        return torch.randn(rows, d, generator=g, device=device, dtype=F64)
    if distribution == "rademacher":  # ±1: the smallest fourth moment of any unit-variance law
        return torch.randint(0, 2, (rows, d), generator=g, device=device).to(F64).mul_(2).sub_(1)
    if distribution == "uniform":  # U(−√3, √3)
        return torch.rand(rows, d, generator=g, device=device, dtype=F64).mul_(2 * math.sqrt(3)).sub_(math.sqrt(3))
    raise ValueError(f"unknown noise distribution {distribution!r}")


def unit_noise_blocks(
    *, K: int, n: int, d: int, seed: int, stream: str, distribution: Distribution, device: torch.device
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (first row, block) of the unit-variance noise Z (K·n, d), rows class-major."""
    g = generator(seed=seed, n=n, stream=stream, device=device)
    N = K * n
    for start in range(0, N, BLOCK_ROWS):
        yield start, _unit_block(min(BLOCK_ROWS, N - start), d, distribution=distribution, g=g, device=device)


def labels(*, K: int, n: int, device: torch.device) -> torch.Tensor:
    """Class-major labels (0…0, 1…1, …): sample (k−1)n+i belongs to class k, as in docs/math.md#notation."""
    return torch.arange(K, device=device).repeat_interleave(n)


def unit_noise_moments(
    *, K: int, n: int, d: int, seed: int, stream: str, distribution: Distribution, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ZᵀZ (d, d), class sums S (K, d)) of the unit noise: all the study needs of Z."""
    gram = torch.zeros(d, d, dtype=F64, device=device)
    sums = torch.zeros(K, d, dtype=F64, device=device)
    for start, Z in unit_noise_blocks(K=K, n=n, d=d, seed=seed, stream=stream, distribution=distribution, device=device):
        gram += Z.T @ Z
        # rows are class-major, so a block meets each class in one contiguous slice
        stop = start + Z.shape[0]
        for k in range(start // n, (stop - 1) // n + 1):
            a, b = max(start, k * n), min(stop, (k + 1) * n)
            sums[k] += Z[a - start : b - start].sum(0)
    return gram, sums


def noisy_features(
    means,
    *,
    n: int,
    sigma: float,
    seed: int,
    distribution: Distribution = "gaussian",
    stream: str = "plain",
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """H = H* + σZ (K·n, d) and its labels, exactly the features of the study's cell (σ, n, seed).

    `means` (K, d): the class means H̄* (numpy, torch or xarray), e.g. the dataset's `class_means_star`.
    """
    device = torch.device(device)
    means = means if isinstance(means, torch.Tensor) else torch.as_tensor(np.asarray(means))  # also xarray
    means = means.to(dtype=F64, device=device)
    K, d = means.shape
    y = labels(K=K, n=n, device=device)
    Z = torch.cat([b for _, b in unit_noise_blocks(K=K, n=n, d=d, seed=seed, stream=stream, distribution=distribution, device=device)])
    return means[y] + sigma * Z, y


def noisy_moments(
    *, means: torch.Tensor, n: int, sigma: torch.Tensor, gram_Z: torch.Tensor, sums_Z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(HᵀH (S, d, d), HᵀY (S, d, K)) of H = H* + σZ for the S values of σ at once, from Z's moments.

    means (K, d) are the collapsed class means; H* repeats row k n times, so
    HᵀH = n·H̄ᵀH̄ + σ(H̄ᵀS + SᵀH̄) + σ²ZᵀZ and HᵀY = (n·H̄ + σS)ᵀ with S the class sums of Z.
    """
    s = sigma.to(means)[:, None, None]
    mixed = means.T @ sums_Z  # Σ_i h*_{y_i} z_iᵀ
    gram = n * (means.T @ means) + s * (mixed + mixed.T) + (s * s) * gram_Z
    cross = (n * means + s * sums_Z).transpose(-1, -2)
    return gram, cross
