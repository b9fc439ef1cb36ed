"""Exact neural-collapse metrics in float64 (docs/math.md#nc-metrics).

* `nc(H, y, *, W=None, b=None)`: every metric for features in memory (or any sliceable array:
  a Zarr array, a numpy memmap), streamed in row chunks so that no d×d matrix and no float64
  copy of H is ever formed.
* `Accumulator(K, d)`: the same numbers for data that arrive in batches.
* `table`: the metric table, every key defined once (`Metric`, `SampleSum`, `register`); the
  UFM solver's batched path (`ufm.batched_metrics`) reads the same table.
* `core`: the batched geometry the table is built from (NC2, NC3, the NC1 projector, NC4 decisions),
  for torch tensors or numpy arrays alike.
* `blocks`: the row-block streaming shared by every chunked loop of the package.

Features are sample-major: H has shape (N, d), labels y shape (N,) with values 0..K-1,
classifier W shape (K, d) and bias b shape (K,).
"""

from __future__ import annotations

from ..errors import InputError, SecondPassRequired
from . import blocks, core, table
from .statistics import ClassStatistics
from .table import CLASSIFIER_KEYS, FEATURE_KEYS, KEYS, Metric, SampleSum, register, registered, unregister

# KEYS, FEATURE_KEYS, CLASSIFIER_KEYS are live views of the table: the keys of `nc` (the
# classifier keys appear only when W is given), including any metric registered later.

# lazy imports: `nc` and `Accumulator` measure torch tensors (any device); the table, its
# statistics and `core` compute in their input's namespace, and the compiled UFM loop reads them with
# numpy arrays in a process that never imports torch (~2.5 CPU-s), so those load on first use (PEP 562).


def __getattr__(name: str):
    if name == "nc":
        from .features import nc

        return nc
    if name == "Accumulator":
        from .streaming import Accumulator

        return Accumulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "nc",
    "Accumulator",
    "ClassStatistics",
    "Metric",
    "SampleSum",
    "register",
    "registered",
    "unregister",
    "table",
    "core",
    "blocks",
    "KEYS",
    "FEATURE_KEYS",
    "CLASSIFIER_KEYS",
    "InputError",
    "SecondPassRequired",
]
