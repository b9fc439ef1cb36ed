"""The §6 initial draw in numpy, bit for bit what `torch.randn(shape, generator=torch.Generator().manual_seed(seed),
dtype=torch.float64)` gives on the CPU, so that a UFM job on the compiled kernel needs no torch at all.

torch's CPU generator is a 32-bit Mersenne Twister seeded by `init_genrand(seed mod 2³²)` (numpy's
legacy `RandomState(seed)` seeding).  A float64 uniform takes two 32-bit words (the first the high
half) and keeps the low 53 bits: u = (w & (2⁵³ − 1)) · 2⁻⁵³ in [0, 1).  `randn` then turns uniforms into
normals two ways (ATen's `normal_kernel`, native/cpu/DistributionTemplates.h):

* 16 or more entries: every entry is first filled with a uniform; each block of 16 becomes normals
  by Box–Muller, entry j < 8 paired with j + 8: r = √(−2 log(1 − u_j)), θ = 2π u_{j+8},
  x_j = r cos θ, x_{j+8} = r sin θ; when the size is not a multiple of 16 the last 16 entries are
  drawn again (16 fresh uniforms) and transformed as one more block.
* fewer than 16: one normal at a time, each pair of uniforms (u1, u2) giving r = √(−2 log1p(−u2)),
  θ = 2π u1, r cos θ now and r sin θ kept in the generator for the next scalar draw (a cache that
  survives between calls and that the 16-wide path neither reads nor clears).

The transcendental functions are the C library's, as ATen's scalar code calls them: `math`'s, and
in the compiled 16-wide blocks numba's `math`, which calls the same functions (no fast-math, and
no vector library: `_fill_blocks`) — not numpy's vectorised ones, which may round the last bit
differently.  The blocks are compiled because in Python they were most of the draw (1024 problems
of the plain UFM, K=4, d=20: 1.1 CPU-s in Python, 0.25 compiled).  tests/unit/ufm/test_draws.py
holds every path against torch.randn bit for bit, on sizes around 16 and across calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from numba import njit

_LOW53 = np.uint64((1 << 53) - 1)
_TWO_PI = 2.0 * math.pi


class NormalDraws:
    """A stream of standard normals from `seed`, torch's CPU generator's: `draw(shape)` per parameter, in order."""

    def __init__(self, seed: int):
        self._words = np.random.RandomState(int(seed) & 0xFFFFFFFF)  # init_genrand, as torch's mt19937
        self._cached: float | None = None  # torch's next_double_normal_sample

    def _uniforms(self, count: int) -> np.ndarray:
        # the generator's 32-bit outputs as they come: over the whole uint32 range `randint` takes
        # one output per value and rejects none
        words = self._words.randint(0, 2**32, size=2 * count, dtype=np.uint32).astype(np.uint64)
        return (((words[0::2] << np.uint64(32)) | words[1::2]) & _LOW53).astype(np.float64) * 2.0**-53

    def draw(self, shape: Sequence[int]) -> np.ndarray:
        """N(0, 1) entries of `shape`, float64, as `torch.randn(shape, generator=…, dtype=torch.float64)`."""
        size = math.prod(shape)
        if size >= 16:
            data = self._uniforms(size)
            _fill_blocks(data, 0, size // 16)
            if size % 16:
                data[size - 16 :] = self._uniforms(16)
                _fill_blocks(data, size - 16, 1)
            return data.reshape(tuple(shape))
        out = np.empty(size, dtype=np.float64)
        for i in range(size):
            if self._cached is not None:
                out[i], self._cached = self._cached, None
                continue
            u1, u2 = self._uniforms(2).tolist()
            radius = math.sqrt(-2.0 * math.log1p(-u2))
            theta = _TWO_PI * u1
            self._cached = radius * math.sin(theta)
            out[i] = radius * math.cos(theta)
        return out.reshape(tuple(shape))


@njit(cache=True)
def _box_muller_16(data: np.ndarray, start: int) -> None:
    """ATen's normal_fill_16 on data[start : start + 16], in place."""
    for j in range(start, start + 8):
        radius = math.sqrt(-2.0 * math.log(1.0 - data[j]))
        theta = _TWO_PI * data[j + 8]
        data[j] = radius * math.cos(theta)
        data[j + 8] = radius * math.sin(theta)


@njit(cache=True)
def _box_muller_blocks(data: np.ndarray, start: int, blocks: int) -> None:
    """`_box_muller_16` on `blocks` consecutive blocks of 16 entries from data[start]."""
    for block in range(blocks):
        _box_muller_16(data, start + 16 * block)


def _fill_blocks(data: np.ndarray, start: int, blocks: int) -> None:
    """`_box_muller_blocks` compiled, unless numba vectorises with Intel's SVML (conda's icc_rt), whose
    log, cos and sin round differently from the C library's: then in Python, one entry at a time."""
    if not numba.config.USING_SVML:
        _box_muller_blocks(data, start, blocks)
        return
    for block in range(blocks):
        _box_muller_16.py_func(data, start + 16 * block)


def initial(seeds: Sequence[int], shapes: dict[str, tuple[int, ...]], scales: dict[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """The §6 initialization of B problems (docs/math.md#gd-protocol): per problem, from its own seed,
    N(0, 1) entries for each parameter in the order of `shapes`, times that parameter's scale;
    each value (B, *shape), float64."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in shapes}
    for i, seed in enumerate(seeds):
        stream = NormalDraws(seed)
        for name, shape in shapes.items():
            out[name].append(stream.draw(shape) * float(scales[name][i]))
    return {name: np.stack(values) for name, values in out.items()}
