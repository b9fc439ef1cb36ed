"""An independent, deliberately naive float64 reference for the NC metrics (docs/math.md#nc-metrics).

It forms Σ_W and Σ_B as d×d matrices and takes the pseudo-inverse by eigen-decomposition,
exactly as the formulas read — only usable for small d, which is the point: it shares no code
with `deepcollapse.metrics`.
"""

from __future__ import annotations

import numpy as np


def _gram_distance(G: np.ndarray, target: np.ndarray) -> float:
    nG = np.linalg.norm(G)
    if nG == 0:
        return float("nan")
    return float(np.linalg.norm(G / nG - target / np.linalg.norm(target)))


def nc_reference(H, y, *, W=None, b=None, K=None) -> dict[str, float]:
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y)
    N, d = H.shape
    K = K or (W.shape[0] if W is not None else int(y.max()) + 1)
    means = np.stack([H[y == k].mean(axis=0) for k in range(K)])  # K×d, uncentered
    h_G = H.mean(axis=0)  # sample-weighted global mean
    M = means - h_G
    R = H - means[y]
    Sigma_W = R.T @ R / N
    Sigma_B = M.T @ M / K
    evals, evecs = np.linalg.eigh(Sigma_B)
    keep = evals > 1e-10 * evals.max()
    Sigma_B_pinv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    P = np.eye(K) - np.ones((K, K)) / K
    out = {
        "NC1": float(np.trace(Sigma_W @ Sigma_B_pinv) / K),
        "NC2_ETF": _gram_distance(M @ M.T, P),
        "NC2_OF": _gram_distance(means @ means.T, np.eye(K)),
        # about the plain mean of the class means (exactly 1 at an OF, whatever the class counts)
        "GM_RATIO": float(K * (K - 1) * (means.mean(0) @ means.mean(0)) / np.sum((means - means.mean(0)) ** 2))
        if np.sum(M**2) > 0 else float("nan"),
    }
    if W is not None:
        W = np.asarray(W, dtype=np.float64)
        Wc = W - W.mean(axis=0)
        out["NC2_W_ETF"] = _gram_distance(Wc @ Wc.T, P)
        out["NC2_W_OF"] = _gram_distance(W @ W.T, np.eye(K))
        out["NC3_OF"] = float(np.linalg.norm(W / np.linalg.norm(W) - means / np.linalg.norm(means)))
        out["NC3_ETF"] = float(np.linalg.norm(W / np.linalg.norm(W) - M / np.linalg.norm(M)))
        scores = H @ W.T + (0 if b is None else np.asarray(b, dtype=np.float64))
        dist = np.stack([np.linalg.norm(H - means[k], axis=1) for k in range(K)], axis=1)
        out["NC4"] = float(np.mean(scores.argmax(axis=1) != dist.argmin(axis=1)))
    return out
