"""Conversion and validation of metric inputs (numpy, torch, or sliceable arrays such as Zarr).

All checks raise `InputError` with one sentence naming the argument and the value at fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InputError

F64 = torch.float64


def device_of(x: Any) -> torch.device:
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


def to_tensor(x: Any, *, name: str, device: torch.device, dtype: torch.dtype | None = F64) -> torch.Tensor:
    """A torch tensor on `device` (float64 unless `dtype` is None); refuses non-numeric input."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise InputError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        if arr.dtype.byteorder not in "=|":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:  # long double: torch has none; metrics are float64
            arr = arr.astype(np.float64)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise InputError(f"{name} must be real, got a complex {t.dtype}")
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device=device)


def shape_of(x: Any, *, name: str) -> tuple[int, ...]:
    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    return tuple(int(s) for s in shape)


def labels(y: Any, *, n: int, K: int, device: torch.device, offset: int = 0) -> torch.Tensor:
    """Integer labels of shape (n,) with values in 0..K-1, as int64 on `device`."""
    t = to_tensor(y, name="y", device=device, dtype=None)
    if t.ndim != 1 or t.shape[0] != n:
        raise InputError(f"y must have shape ({n},) to match H, got {tuple(t.shape)}")
    if t.is_floating_point():
        if not torch.all(t == torch.round(t)):
            raise InputError("y must hold integer class labels, got non-integer values")
    elif t.dtype == torch.bool:
        raise InputError("y must hold integer class labels, got booleans")
    t = t.to(torch.int64)
    if n:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= K:
            bad = lo if lo < 0 else hi
            where = int(torch.nonzero(t == bad)[0]) + offset
            raise InputError(f"label {bad} of sample {where} is outside 0..{K - 1} (K={K})")
    return t


def check_finite(H: torch.Tensor, *, name: str = "H", offset: int = 0) -> None:
    finite = torch.isfinite(H)
    if not bool(finite.all()):
        if name == "H" and H.ndim == 2:  # features: name the sample, counted across batches
            row = int(torch.nonzero(~finite.all(dim=-1))[0]) + offset
            raise InputError(f"{name} contains NaN or inf (first in sample {row})")
        first = tuple(int(i) for i in torch.nonzero(~finite)[0])
        raise InputError(f"{name} contains NaN or inf (first at index {first[0] if len(first) == 1 else first})")


def classifier(W: Any, b: Any, *, K: int, d: int, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Validate and convert the classifier: W of shape (K, d), b of shape (K,)."""
    if W is None:
        if b is not None:
            raise InputError("b was given without W; NC3/NC4 need the classifier weights W")
        return None, None
    Wt = to_tensor(W, name="W", device=device)
    if Wt.shape != (K, d):
        raise InputError(f"W must have shape (K, d) = ({K}, {d}), got {tuple(Wt.shape)}")
    check_finite(Wt, name="W")
    bt = None
    if b is not None:
        bt = to_tensor(b, name="b", device=device)
        if bt.shape != (K,):
            raise InputError(f"b must have shape (K,) = ({K},), got {tuple(bt.shape)}")
        check_finite(bt, name="b")
    return Wt, bt


def num_classes(K: int | None, y: Any, W: Any) -> int:
    """K from the argument, else the classifier's rows, else the largest label + 1."""
    if K is None and W is not None:
        K = shape_of(W, name="W")[0]
    if K is None:
        yt = to_tensor(y, name="y", device=torch.device("cpu"), dtype=None)
        if yt.numel() == 0:
            raise InputError("y is empty: no samples to measure")
        K = int(yt.max()) + 1
    if isinstance(K, bool) or int(K) != K:
        raise InputError(f"K must be an integer, got {K!r}")
    K = int(K)
    if K < 2:
        raise InputError(f"need at least 2 classes, got K={K}")
    return K
