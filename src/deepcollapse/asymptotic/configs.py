"""Parameters of the Theorem 5.1 study (defaults = params.yaml's `asymptotic:` section, docs/math.md#theorem-5-1).

A flat mapping of `Config` fields, plus the nested `extended:` mapping for the exploratory
extended-model counterpart.  Types and unknown keys are checked by `deepcollapse.config`; each
class declares its fields' ranges (`parameter_constraints`, see `deepcollapse.constraints`) and
checks the rules spanning fields in `__post_init__`, each failure one sentence naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from .. import devices
from ..constraints import DEVICE, NONNEGATIVE, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, Interval, ListOf, validate_fields
from ..errors import InputError

#: n = 10 … 10⁴, three points per decade (contains docs/math.md#theorem-5-1's 10, 100, 1000, 10⁴).
DEFAULT_N = (10, 22, 46, 100, 215, 464, 1000, 2154, 4642, 10000)
DEFAULT_SIGMA = (0.0, 0.1, 0.3, 0.5)


@dataclass(frozen=True)
class ExtendedConfig:
    """EXPLORATORY extended linear UFM with H1 = H1* + E frozen; (W2, W1) by GD (docs/math.md#extended-linear, App. F.1).

    λ_H1 = λ̃_H1 / n as in the plain study, so that H1* does not depend on n.  K, the n and σ
    grids, the seeds, the noise law and the device are the parent study's.
    """

    enabled: bool = True
    d1: int = 20
    d2: int = 20
    lambda_W1: float = 5e-3
    lambda_W2: float = 5e-3
    lambda_H1_tilde: float = 0.25
    # lr 1.0, not docs/math.md#gd-protocol's 0.1: with H1 frozen the curvature is below ~0.5 here (lr 4 diverged at
    # σ = 0.5, lr 2 converged), and at 0.1 the λ-rate modes need ~10× more iterations.
    # Every cell's distance to the global minimum is reported (`exploratory_gd_objective_gap`).
    lr: float = 1.0
    iters: int = 4000
    init_scale: float = 0.1

    parameter_constraints: ClassVar[dict] = {
        "d1": POSITIVE_INT, "d2": POSITIVE_INT, "lambda_W1": POSITIVE, "lambda_W2": POSITIVE,
        "lambda_H1_tilde": POSITIVE, "lr": POSITIVE, "iters": POSITIVE_INT, "init_scale": POSITIVE,
    }  # fmt: skip

    def __post_init__(self):
        validate_fields(self, prefix="extended.")  # its place in the parent study names its fields


@dataclass(frozen=True)
class Config:
    """Theorem 5.1: W(H* + E) over growing n against its limit a·W* (docs/math.md#theorem-5-1)."""

    K: int = 4
    d: int = 20
    lambda_W: float = 5e-3
    lambda_H_tilde: float = 0.25  # λ_H = λ̃_H / n, so H̄* does not depend on n
    n: tuple[int, ...] = DEFAULT_N
    sigma: tuple[float, ...] = DEFAULT_SIGMA
    seeds: int = 10  # seeds seed, seed+1, …, seed+seeds−1
    seed: int = 0
    noise: Literal["gaussian", "rademacher", "uniform"] = "gaussian"  # all scaled to variance σ²
    device: str = "cpu"
    rate_fit_n_min: int = 100  # the n^(-1/2) rate is fitted over n >= this (small n has O(1/n) bias)
    extended: ExtendedConfig = field(default_factory=ExtendedConfig)

    parameter_constraints: ClassVar[dict] = {
        "K": Interval(int, 2),
        "d": POSITIVE_INT,
        "lambda_W": POSITIVE,
        "lambda_H_tilde": POSITIVE,
        "n": ListOf(POSITIVE_INT, increasing=True),
        "sigma": ListOf(NONNEGATIVE, increasing=True),
        "seeds": POSITIVE_INT,
        "seed": NONNEGATIVE_INT,
        "device": DEVICE,
        "rate_fit_n_min": POSITIVE_INT,
    }

    def __post_init__(self):
        validate_fields(self)
        self.validate()

    def validate(self) -> None:
        """The rules that span fields, and the device this machine must have (each field's own
        values are declared above)."""
        if self.d < self.K:
            raise InputError(f"d must be at least K={self.K} (an orthogonal frame of K means), got {self.d}")
        if self.extended.enabled and self.extended.d1 < self.K:
            raise InputError(f"extended.d1 must be at least K={self.K}, got {self.extended.d1}")
        if self.extended.enabled and self.extended.d2 < self.K:
            # below K the product W2 W1 cannot reach rank K and the two-factor lemma fails
            raise InputError(f"extended.d2 must be at least K={self.K}, got {self.extended.d2}")
        if len(self.n) >= 2 and self.rate_fit_n_min > max(self.n):
            # every fitted rate would be NaN without a word (one n alone never has a rate)
            raise InputError(
                f"rate_fit_n_min={self.rate_fit_n_min} is above every n (largest {max(self.n)}): no rate can be fitted; "
                "lower rate_fit_n_min or add a larger n"
            )
        # the study refuses a device this machine lacks before it starts (devices.resolve)
        devices.resolve(self.device)
