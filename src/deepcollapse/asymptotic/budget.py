"""What a Theorem 5.1 study will cost, from its configuration alone (`deepcollapse.cost`).

Each (n, seed) cell draws K·n·d unit noise in blocks of `noise.BLOCK_ROWS` rows and accumulates
its d×d Gram matrix (K·n·d² multiply-adds); every σ then costs a d×d solve.  The exploratory
extended study runs GD on all cells as one batch.  A study with ``n: [1e12]`` is valid field by
field and would draw noise for days: refused here, before any draw.
"""

from __future__ import annotations

from ..cost import Estimate
from .configs import DEFAULT_N, Config
from .noise import BLOCK_ROWS

#: A block draw's or a GD step's fixed cost, counted as multiply-adds at the nominal rate.
STEP_OVERHEAD = 5e5


def estimate(cfg: Config) -> Estimate:
    S, R, K, d = len(cfg.sigma), cfg.seeds, cfg.K, cfg.d
    cells = len(cfg.n) * R
    rows = sum(K * n for n in cfg.n) * R
    work = rows * (d * d + 2 * d) + (rows / BLOCK_ROWS + cells) * STEP_OVERHEAD + cells * S * d**3
    memory = BLOCK_ROWS * d * 8 * 3 + cells * S * (K * d + 2 * d * d) * 8 * 4
    keys = {"n": (max(cfg.n), DEFAULT_N[-1]), "seeds": (R, 10), "sigma": (S, 4), "d": (d, 20), "K": (K, 4)}
    ext = cfg.extended
    if ext.enabled:
        size = ext.d1 * ext.d1 + ext.d1 * K + K * ext.d2 + ext.d2 * ext.d1
        work += ext.iters * (cells * S * size * ext.d1 * 3 + STEP_OVERHEAD)
        memory += cells * S * size * 8 * 6
        keys.update({"extended.iters": (ext.iters, 4000), "extended.d1": (ext.d1, 20), "extended.d2": (ext.d2, 20)})
    device = "cuda" if cfg.device.startswith("cuda") else "cpu"
    return Estimate(memory=memory, work=work, what="the Theorem 5.1 study", keys=keys, device=device)
