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

from typing import TYPE_CHECKING

from ..config import to_dict
from ..provenance import collect
from ..store import write_dataset
from .theory import extended_limit, extended_minimizer, limit, plain_minimizer

if TYPE_CHECKING:  # pragma: no cover
    from .configs import Config

# lazy imports: the study (torch: `classifier`, `noisy_features`, `run`, `fit_rate`, and `Config`,
# which checks its device on the machine) loads on first use (PEP 562); the pages and docs/math.md
# read the closed forms above, and never pay for torch (~3 CPU-s a process).


def __getattr__(name: str):
    if name == "classifier":
        from .ridge import classifier

        return classifier
    if name in ("Config", "ExtendedConfig"):
        from . import configs

        return getattr(configs, name)
    if name == "noisy_features":
        from .noise import noisy_features

        return noisy_features
    if name in ("run", "fit_rate"):
        from . import study

        return getattr(study, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
