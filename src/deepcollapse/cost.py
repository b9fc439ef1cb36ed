"""The cost check: what a command was asked to compute, estimated before anything is allocated.

A configuration can be valid field by field and still absurd as a whole: ``K: 1e9`` is a positive
integer, ``iters: 1e12`` too, and a sweep of a thousand by a thousand points is a short YAML file.
Unchecked, the machine pays: torch's allocator fails after minutes, or the job runs for years.
Every command that computes from a configuration (`ufm`, `lowrank`, `papers`, `asymptotic`, `train`) first
asks its domain for an `Estimate` (memory in bytes, work in multiply-adds, the per-step overhead
included) and `check` refuses, in one line naming the key most responsible and the estimate,

* what needs more memory than this machine has (its physical memory), or
* what would run longer than `MAX_SECONDS` at a nominal rate (`RATES`: multiply-adds per second
  of a CPU or a GPU; the estimate is good to a factor of a few, so the limit is a day, far from
  any run the project makes and far below the absurd).

The commands that only read artifacts (`features`, `metrics`, `theory`, `report`, `data`) are
bounded by their inputs and have nothing to estimate.  ``--allow-large`` (every computing
command) skips the check, for a job that is meant to be long (docs/usage.md, "Large jobs").
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from .errors import InputError

#: The longest nominal run accepted without --allow-large (seconds).
MAX_SECONDS = 86_400.0
#: Nominal multiply-adds per second by device type (a busy laptop CPU core, a datacenter GPU).
RATES = {"cpu": 1e10, "cuda": 1e13}
#: What a command should never exceed even when every estimate is right: this share of physical memory.
MEMORY_SHARE = 0.9

OVERRIDE = "--allow-large"


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a job needs: `memory` bytes at its peak, `work` multiply-adds (overheads counted as
    multiply-adds at the nominal rate) on `device` ("cpu" or "cuda").

    `keys`: the configuration keys the estimate grows with, as the user wrote them, each with its
    value and a reference value (its default): the key furthest above its reference is the one a
    refusal names.  `what`: the job in words ("gradient descent", "training").
    """

    memory: float
    work: float
    what: str
    keys: Mapping[str, tuple[float, float]]  # key -> (value, reference)
    device: str = "cpu"

    @property
    def seconds(self) -> float:
        return self.work / RATES.get(self.device, RATES["cpu"])

    def culprit(self) -> str:
        """The key whose value is furthest above its reference, written ``key=value``."""
        if not self.keys:
            return "the configuration"
        key, (value, _) = max(self.keys.items(), key=lambda kv: kv[1][0] / max(kv[1][1], 1e-300))
        return f"{key} ({_number(value)})" if " " in key else f"{key}={_number(value)}"


def physical_memory() -> float:
    """This machine's physical memory in bytes (inf where the system does not say)."""
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return float("inf")


def check(estimate: Estimate, *, source: str, allow: bool = False) -> None:
    """Refuse (InputError, one line naming `source`, the key and the estimate) a job that cannot
    fit in memory or would run absurdly long; `allow` (--allow-large) accepts it."""
    if allow:
        return
    limit = MEMORY_SHARE * physical_memory()
    if estimate.memory > limit:
        raise InputError(
            f"{source}: {estimate.culprit()} needs about {_bytes(estimate.memory)} of memory for {estimate.what}, "
            f"more than this machine's {_bytes(limit / MEMORY_SHARE)}; lower it (or add {OVERRIDE} if you mean it)"
        )
    if estimate.seconds > MAX_SECONDS:
        rate = RATES.get(estimate.device, RATES["cpu"])
        raise InputError(
            f"{source}: {estimate.culprit()} asks for about {estimate.work:.2g} multiply-adds of {estimate.what}, "
            f"{_duration(estimate.seconds)} at a nominal {rate:.0e} per second on {estimate.device} (limit: "
            f"{_duration(MAX_SECONDS)}); lower it, or add {OVERRIDE} if you mean it"
        )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 2**10:.3g} KiB"


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            value = seconds / size
            return f"about {value:.3g} {unit if f'{value:.3g}' != '1' else unit[:-1]}"
    return f"about {seconds:.3g} seconds"
