"""Gradient descent on the deep UFM at the published papers' own settings (docs/math.md#papers).

The low-rank study (`ufm.lowrank`) runs on the project's footing (λ relative to the collapse
threshold, width 20, lr 0.1): none of its numbers can be set beside a published figure.  This
study runs each figure's own setting instead — absolute λ on every parameter, the paper's width,
learning rate, depth and class count — as named settings (params.yaml `ufm.studies.papers`):

    gk25_width:   {paper: "GK25 Fig. 1", depths: [2], Ks: [10], n: 5, widths: [20, 40, 70],
                   lambdas: [0.0009765625], activation: linear, loss: ce, lr: 0.5, seeds: [0, …, 9], …}

Each setting is a grid depth × K × width × λ × seed; one batched sweep (`batched.solve_sweep`,
the low-rank study's machinery) per (depth, K, width) over (λ × seed).  Per run it stores what GD
produced, no closed form (`ufm.papers_theory` joins the DNC and SRG values on the theory side):

* "objective", "grad_norm", "last_decrease", "dead_samples" and each level's class-mean rank
  (`lowrank.per_run`);
* "logits_sv": the singular values of the class-mean logits W_L H̄_L (padded with NaN to the
  largest K), and "logits_rank" their numerical rank (`lowrank.RANK_RTOL`, relative);
* "structure": the logits' structure (`structures.classify`, scale-free invariants), and
  "dnc_structure": whether it is deep neural collapse's — the orthogonal frame s·I (MSE) or the
  simplex ETF t·(I − 11ᵀ/K) (CE) — within `structures.MATCH_RTOL` (`dnc_structure`).  Whether
  the run *reached DNC* also asks that its objective be DNC's value, a closed form: decided on the
  theory side (`papers_theory.with_theory`).

The store has one flat dimension "run", each run labelled by its setting's name and paper, depth,
K, n, width, λ, activation, loss and seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..constraints import DEVICE, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, Interval, ListOf, Text, declarations, validate_fields
from ..cost import Estimate
from ..errors import InputError, shown
from . import budget, lowrank, models, observables, structures
from .batched import Axis, Sweep, solve_sweep
from .config import Config

#: The class-mean logits' structure of deep neural collapse, per loss (`structures.classify` names).
DNC_STRUCTURE = {"mse": "orthogonal frame", "ce": "simplex ETF"}


def dnc_rank(K: int, loss: str) -> int:
    """The rank of DNC's class-mean logits: K (MSE, s·I) or K − 1 (CE, the simplex ETF)."""
    return K if loss == "mse" else K - 1


def dnc_structure(structure: str, loss: str) -> bool:
    """Whether a run's logits structure is DNC's (the module docstring)."""
    return structure == DNC_STRUCTURE[loss]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One named setting of the study: a paper's figure, as a grid depth × K × width × λ × seed."""

    paper: str = "chosen here"
    depths: tuple[int, ...] = (2,)
    Ks: tuple[int, ...] = (10,)
    n: int = 5
    widths: tuple[int, ...] = (70,)
    lambdas: tuple[float, ...] = (2.0**-10,)
    activation: str = "linear"
    loss: str = "ce"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    lr: float = 0.5
    init_scale: float = 0.3
    iters: int = 100_000
    log_every: int = 50_000
    device: str = "cpu"

    parameter_constraints: ClassVar[dict] = {
        "paper": Text(),
        "depths": ListOf(models.get("deep").parameter_constraints["depth"]),
        "Ks": ListOf(Interval(int, 2)),
        "n": POSITIVE_INT,
        "widths": ListOf(POSITIVE_INT),
        "lambdas": ListOf(POSITIVE),
        "activation": declarations(Config)["activation"],
        "loss": declarations(Config)["loss"],
        "seeds": ListOf(NONNEGATIVE_INT),
        "lr": POSITIVE,
        "init_scale": POSITIVE,
        "iters": POSITIVE_INT,
        "log_every": POSITIVE_INT,
        "device": DEVICE,
    }

    def __post_init__(self) -> None:
        validate_fields(self)
        object.__setattr__(self, "lambdas", tuple(float(v) for v in self.lambdas))

    def cases(self) -> list[tuple[int, int, int]]:
        """(depth, K, width) of every batched sweep, in grid order."""
        return [(L, K, w) for L in self.depths for K in self.Ks for w in self.widths]

    def config(self, depth: int, K: int, width: int, lam: float, seed: int = 0) -> Config:
        """The deep UFM config of one run (λ_H = every λ_Wl = `lam`; every level `width` wide)."""
        return Config(model="deep", depth=depth, activation=self.activation, loss=self.loss, K=K, n=self.n, d=width,
                      lambda_W=lam, lambda_H=lam, lr=self.lr, iters=self.iters, log_every=self.log_every,
                      init_scale=self.init_scale, seed=seed, device=self.device)  # fmt: skip


def _setting(name: str, mapping: Any, source: str) -> Setting:
    where = f"{source}.{name}"
    if not isinstance(mapping, Mapping):
        raise InputError(f"{where}: expected a mapping of setting keys, got {shown(mapping)}")
    known = {f.name for f in dataclasses.fields(Setting)}
    unknown = sorted(set(map(str, mapping)) - known)
    if unknown:
        raise InputError(f"{where}: unknown key {shown(unknown[0])} (known: {', '.join(sorted(known))})")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in mapping.items()}
    try:
        setting = Setting(**values)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: malformed value ({exc})") from None
    for i, L in enumerate(setting.depths):  # the cross-field rules (lr·λ < 2, …), named by the setting's keys
        for j, K in enumerate(setting.Ks):
            for k, w in enumerate(setting.widths):
                for m, lam in enumerate(setting.lambdas):
                    try:
                        setting.config(L, K, w, lam)
                    except InputError as exc:
                        raise InputError(f"{where}: depths[{i}]={L}, Ks[{j}]={K}, widths[{k}]={w}, lambdas[{m}]={lam:g}: {exc}") from None
    return setting


@dataclasses.dataclass(frozen=True)
class Study:
    """The named settings of params.yaml `ufm.studies.papers` (name -> `Setting`)."""

    settings: dict[str, Setting]

    @classmethod
    def from_mapping(cls, mapping: Any, *, source: str = "ufm.studies.papers") -> "Study":
        if not isinstance(mapping, Mapping) or not mapping:
            raise InputError(f"{source}: expected a non-empty mapping of setting names to settings, got {shown(mapping)}")
        for name in mapping:
            if not isinstance(name, str) or not name.replace("_", "").isalnum():
                raise InputError(f"{source}: {shown(name)} cannot name a setting (letters, digits and _)")
        return cls({name: _setting(name, spec, source) for name, spec in mapping.items()})

    def to_dict(self) -> dict[str, dict]:
        return {name: dataclasses.asdict(s) for name, s in self.settings.items()}


def _logits_sv(config: Config, point) -> np.ndarray:
    names = observables.weight_names(config)
    params = {name: np.asarray(point[name].values, dtype=np.float64) for name in [*names, "H1"]}
    means = observables.level_means(config, params)
    return np.linalg.svd(params[names[-1]] @ means[-1], compute_uv=False)


def run(study: Study, *, progress=None) -> Any:
    """Every setting's grid; one dataset with the flat dimension "run" (module docstring)."""
    import xarray as xr

    width_levels = max(L for s in study.settings.values() for L in s.depths)
    k_max = max(K for s in study.settings.values() for K in s.Ks)
    rows: list[dict[str, Any]] = []
    for name, s in study.settings.items():
        for depth, K, width in s.cases():
            base = s.config(depth, K, width, s.lambdas[0])
            sweep = Sweep((Axis("lam", ("lambda_W", "lambda_H"), s.lambdas), Axis("seed", ("seed",), s.seeds)))
            if progress:
                progress(f"{name} ({s.paper}): L={depth} K={K} width={width}: {sweep.size} problems x {s.iters} iterations")
            ds = solve_sweep(base, sweep)
            for i, lam in enumerate(s.lambdas):
                config = s.config(depth, K, width, lam)
                for j, seed in enumerate(s.seeds):
                    point = ds.isel(lam=i, seed=j)
                    seen = lowrank.per_run(config, point, width_levels)
                    sv = np.full(k_max, np.nan)
                    sv[:K] = _logits_sv(config, point)
                    rows.append({"setting": name, "paper": s.paper, "depth": depth, "K": K, "n": s.n, "width": width, "lam": lam,
                                 "activation": s.activation, "loss": s.loss, "seed": seed, **seen, "logits_sv": sv,
                                 "logits_rank": structures.numerical_rank(sv[:K], lowrank.RANK_RTOL),
                                 "dnc_structure": dnc_structure(seen["structure"], s.loss)})  # fmt: skip
    labels = ("setting", "paper", "depth", "K", "n", "width", "lam", "activation", "loss", "seed")
    coords = {key: ("run", np.array([r[key] for r in rows], dtype=object if isinstance(rows[0][key], str) else None)) for key in labels}
    coords.update(run=np.arange(len(rows)), level=np.arange(1, width_levels + 1), sv=np.arange(1, k_max + 1))
    data = {
        "objective": ("run", np.array([r["objective"] for r in rows])),
        "grad_norm": ("run", np.array([r["grad_norm"] for r in rows])),
        "last_decrease": ("run", np.array([r["last_decrease"] for r in rows])),
        "dead_samples": ("run", np.array([r["dead"] for r in rows], dtype=np.int64)),
        "structure": ("run", np.array([r["structure"] for r in rows]).astype(str)),
        "dnc_structure": ("run", np.array([r["dnc_structure"] for r in rows], dtype=bool)),
        "logits_rank": ("run", np.array([r["logits_rank"] for r in rows], dtype=np.int64)),
        "logits_sv": (("run", "sv"), np.stack([r["logits_sv"] for r in rows])),
        "means_rank": (("run", "level"), np.stack([r["means_rank"] for r in rows])),
    }
    ds = xr.Dataset(data, coords=coords)
    for key in ("setting", "paper", "activation", "loss"):
        ds = ds.assign_coords({key: ("run", ds[key].values.astype(str))})
    ds.attrs["study"] = study.to_dict()
    ds.attrs["rank_rtol"] = lowrank.RANK_RTOL
    ds.attrs["match_rtol"] = structures.MATCH_RTOL
    return ds


def estimate(study: Study) -> Estimate:
    """One batched sweep of (λ × seed) problems per (setting, depth, K, width), one after another
    (memory: the largest sweep; work: their sum); each key named by its setting."""
    memory, work, keys = 0.0, 0.0, {}
    device = "cpu"
    for name, s in study.settings.items():
        for depth, K, width in s.cases():
            one = budget.estimate(s.config(depth, K, width, s.lambdas[0]), len(s.lambdas) * len(s.seeds))
            memory, work = max(memory, one.memory), work + one.work
        keys[f"{name}.iters"] = (s.iters, 100_000)
        keys[f"{name}.widths"] = (max(s.widths), 70)
        keys[f"{name}.seeds"] = (len(s.seeds), 10)
        device = "cuda" if s.device.startswith("cuda") else device
    return Estimate(memory=memory, work=work, what="the papers' settings' gradient descent", keys=keys, device=device)
