"""The low-rank-bias study's declaration: its grid (params.yaml `ufm.studies.lowrank`, `Study`) and
the deep UFM config of each of its points (`config_of`), with the λ grid from the theory's
threshold (`deep_theory.lambda_threshold`).

Both sides read it: `ufm.lowrank` runs the grid by gradient descent, `ufm.lowrank_theory` joins the
closed forms to what it produced; so it imports neither (no torch: the pages read it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from ..constraints import DEVICE, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, Interval, ListOf, Nested, declarations, validate_fields
from ..errors import InputError, shown
from . import deep_theory, models
from .config import Config

#: A singular value counts towards the numerical rank above this fraction of the largest (GD end
#: points carry residual directions that decay at rate lr·λ; 1e-3 separates them from structure).
RANK_RTOL = 1e-3


@dataclasses.dataclass(frozen=True)
class Size:
    K: int
    n: int
    d: int

    parameter_constraints: ClassVar[dict] = {"K": Interval(int, 2), "n": POSITIVE_INT, "d": POSITIVE_INT}

    def __post_init__(self) -> None:
        validate_fields(self)


def _size(mapping: Any, where: str) -> Size:
    """sizes[i] of the study: a mapping of integers K, n, d (each refusal names ``sizes[i].K``)."""
    if not isinstance(mapping, Mapping):
        raise InputError(f"{where.rstrip('.')} must be a mapping of K, n and d, got {shown(mapping)}")
    unknown = sorted(set(map(str, mapping)) - {"K", "n", "d"})
    if unknown:
        raise InputError(f"{where}{unknown[0]} is not a key of a size (K, n, d)")
    for key in ("K", "n", "d"):
        if key not in mapping:
            raise InputError(f"{where}{key} is missing (a size is K, n and d)")
        if isinstance(mapping[key], bool) or not isinstance(mapping[key], int):
            raise InputError(f"{where}{key} must be an integer, got {shown(mapping[key])}")
    try:
        return Size(mapping["K"], mapping["n"], mapping["d"])
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None  # the message starts with the field's name


@dataclasses.dataclass(frozen=True)
class Study:
    """The grid of the study (params.yaml `ufm.studies.lowrank`)."""

    depths: tuple[int, ...] = (1, 2, 3, 4, 5)
    sizes: tuple[Size, ...] = (Size(4, 10, 16), Size(10, 5, 20))
    lambda_ratios: tuple[float, ...] = (0.5, 0.8, 0.9, 1.0, 1.2)
    activations: tuple[str, ...] = ("linear", "relu")
    losses: tuple[str, ...] = ("mse", "ce")
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    init_scale: float = 0.3
    lr: float = 0.1
    iters: int = 150_000
    log_every: int = 50_000
    device: str = "cpu"

    parameter_constraints: ClassVar[dict] = {
        "depths": ListOf(models.get("deep").parameter_constraints["depth"]),  # the depths the deep model takes
        "sizes": ListOf(Nested(Size)),
        "lambda_ratios": ListOf(POSITIVE),
        "activations": ListOf(declarations(Config)["activation"]),
        "losses": ListOf(declarations(Config)["loss"]),
        "seeds": ListOf(NONNEGATIVE_INT),
        "init_scale": POSITIVE,
        "lr": POSITIVE,
        "iters": POSITIVE_INT,
        "log_every": POSITIVE_INT,
        "device": DEVICE,
    }

    def __post_init__(self) -> None:
        validate_fields(self)
        object.__setattr__(self, "lambda_ratios", tuple(float(r) for r in self.lambda_ratios))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, source: str = "ufm.studies.lowrank") -> "Study":
        if not isinstance(mapping, Mapping):
            raise InputError(f"{source}: expected a mapping, got {type(mapping).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise InputError(f"{source}: unknown key {shown(unknown[0])} (known: {', '.join(sorted(known))})")
        values = dict(mapping)
        try:
            if "sizes" in values and isinstance(values["sizes"], (list, tuple)):
                values["sizes"] = tuple(_size(s, f"sizes[{i}].") for i, s in enumerate(values["sizes"]))
            for name in ("depths", "seeds", "lambda_ratios", "activations", "losses"):
                if isinstance(values.get(name), list):
                    values[name] = tuple(values[name])  # each value checked by the declared constraint (`depths[0] must be ...`)
            study = cls(**values)
            study.check_runs()
            return study
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise InputError(f"{source}: {exc}") from None
            raise InputError(f"{source}: malformed value ({exc})") from None

    def check_runs(self) -> None:
        """Build the UFM config of every (depth, size, activation, loss) at the smallest and the
        largest λ ratio, and name a refusal by the study's own keys (``depths[0]``, ``sizes[1].K``,
        ``lambda_ratios[2]``), not by the config fields the study sets for it (depth, lambda_W)."""
        ends = sorted({min(range(len(self.lambda_ratios)), key=self.lambda_ratios.__getitem__),
                       max(range(len(self.lambda_ratios)), key=self.lambda_ratios.__getitem__)})
        for i, L in enumerate(self.depths):
            for j, size in enumerate(self.sizes):
                for activation in self.activations:
                    for loss in self.losses:
                        lambdas = lambdas_of(self, L, size)
                        for r in ends:
                            try:
                                config_of(self, L, size, activation, loss, lambdas[r])
                            except InputError as exc:
                                where = (f"depths[{i}]={L} with sizes[{j}] (K={size.K}, n={size.n}, d={size.d}), "
                                         f"activation {activation!r}, loss {loss!r}, lambda_ratios[{r}]={self.lambda_ratios[r]:g} "
                                         f"(lambda_W = lambda_H = {lambdas[r]:.3g})")
                                raise InputError(f"{where}: {exc}") from None

    def cases(self) -> list[tuple[int, Size, str, str]]:
        """(L, size, activation, loss) of every sweep. A ReLU case whose model has no ReLU level
        (depth 1: its logits are W1 H1, the plain UFM) would repeat the linear one: it runs once, as
        linear (kept under the name 'relu' only when the study has no linear activation)."""
        def repeats_linear(L: int, size: Size, activation: str, loss: str) -> bool:
            return activation == "relu" and "linear" in self.activations and not has_relu(config_of(self, L, size, activation, loss, 1.0))

        return [(L, s, a, loss) for L in self.depths for s in self.sizes for a in self.activations for loss in self.losses
                if not repeats_linear(L, s, a, loss)]  # fmt: skip


def lambdas_of(study: Study, depth: int, size: Size) -> list[float]:
    threshold = deep_theory.lambda_threshold(size.K, size.n, depth)
    return [r * threshold for r in study.lambda_ratios]


def config_of(study: Study, depth: int, size: Size, activation: str, loss: str, lam: float) -> Config:
    """The deep UFM config of one sweep point of the study (λ_H = every λ_Wl = `lam`)."""
    return Config(
        model="deep", depth=depth, activation=activation, loss=loss, K=size.K, n=size.n, d=size.d,
        lambda_W=lam, lambda_H=lam, lr=study.lr, iters=study.iters, log_every=study.log_every,
        init_scale=study.init_scale, device=study.device,
    )


def has_relu(config: Config) -> bool:
    """Whether the config's model has a ReLU level (the registry says; depth 1 has none)."""
    return bool(models.of(config).relu_levels(config))
