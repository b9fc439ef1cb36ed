"""Theorem 5.1 (Tirer & Bruna 2022, docs/math.md#theorem-5-1): the optimal classifier for fixed noisy features.

With the features fixed at H = H* + E (H* the collapsed minimizer of the bias-free UFM with
λ_H = λ̃_H/n, E iid noise of variance σ²), the optimal classifier tends, as n → ∞, to an
attenuated copy of the noise-free one: W(H) → a·W*, a = `limit(...)`.

* `classifier(H, y, *, lambda_W)`: the exact minimizer for fixed features (a linear solve).
* `limit(*, K, lambda_W, lambda_H_tilde, sigma)`: the attenuation factor a.
* `Config`, `run(config) -> xarray.Dataset`: the study over (σ, n, seed), plus an EXPLORATORY
  extended-model counterpart (`ExtendedConfig`, variables prefixed ``exploratory_``).
* `write(ds, path, config)`: store it atomically as Zarr with provenance.
"""

from __future__ import annotations

from ..config import to_dict
from ..provenance import collect
from ..store import write_dataset
from .ridge import classifier
from .configs import Config, ExtendedConfig
from .noise import noisy_features
from .study import fit_rate, run
from .theory import extended_limit, extended_minimizer, limit, plain_minimizer


def write(ds, path, config: Config):
    """Write the study's dataset atomically as a consolidated Zarr store, with provenance."""
    return write_dataset(ds, path, kind="asymptotic", provenance=collect(params=to_dict(config), seed=config.seed, device=config.device))


__all__ = [
    "classifier",
    "limit",
    "Config",
    "ExtendedConfig",
    "run",
    "write",
    "fit_rate",
    "noisy_features",
    "plain_minimizer",
    "extended_minimizer",
    "extended_limit",
]
