"""Figures of the Theorem 5.1 study (the dataset of `deepcollapse asymptotic`: dims sigma × n × seed).

Theorem 5.1: for features fixed at H = H* + E (iid noise of variance σ²), the optimal classifier
tends to a·W*, an attenuated copy of the noise-free one, with a = 1/(1 + Kσ²√(λ̃_H/λ_W)); the
relative error to that limit decays like n^(−1/2).  Variables prefixed ``exploratory_`` are the
extended-model heuristic of the paper's appendix and are labelled as such.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import figures
from .figures import readable_log_ticks, reference


def _finite_mean(values) -> float:
    """Mean of the finite entries; NaN (and no warning) when there are none, e.g. a rate at σ = 0."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _quartiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and interquartile range over the last axis (seeds), ignoring NaN."""
    q1, med, q3 = np.nanpercentile(values, [25, 50, 75], axis=-1)
    return med, q1, q3


def error_figure(ds, *, prefix: str = "", title: str):
    """Relative error to the n → ∞ limit against n (median and IQR over seeds) with an n^(−1/2) guide."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8), constrained_layout=True)
    n = np.asarray(ds["n"].values, dtype=float)
    err = ds[f"{prefix}relative_error"]
    rate = ds.get(f"{prefix}rate_exponent")
    guide_at = None
    for i, sigma in enumerate(np.asarray(ds["sigma"].values, dtype=float)):
        values = np.asarray(err.isel(sigma=i).transpose("n", "seed").values, dtype=float)
        if sigma == 0 or not np.isfinite(values).any():
            continue  # no noise: W(H*) is the limit itself (error 0 up to rounding)
        med, q1, q3 = _quartiles(values)
        label = f"σ = {sigma:g}"
        if rate is not None:
            label += f" (fitted slope {_finite_mean(rate.isel(sigma=i).values):.2f})"
        ax.loglog(n, med, "o-", color=f"C{i}", ms=3, label=label)
        ax.fill_between(n, q1, q3, color=f"C{i}", alpha=0.2, lw=0)
        guide_at = med[-1] if guide_at is None or med[-1] > guide_at else guide_at
    if guide_at is not None:
        reference(ax.loglog(n, guide_at * (n / n[-1]) ** -0.5, "k--", lw=1, label=r"$n^{-1/2}$ guide"))
    ax.set_xlabel("n (samples per class)")
    ax.set_ylabel(r"$\|W(H) - aW^*\|_F\,/\,\|aW^*\|_F$")
    ax.set_title(title, fontsize="small")
    ax.legend(fontsize="x-small", loc="lower left")
    readable_log_ticks(ax)
    return fig


def attenuation_figure(ds, *, prefix: str = "", theory: Callable[[float], float] | None, title: str):
    """Measured attenuation ⟨W, W*⟩/‖W*‖² against σ at every n (darker: larger n) and the limit curve."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8), constrained_layout=True)
    sigma = np.asarray(ds["sigma"].values, dtype=float)
    n = np.asarray(ds["n"].values)
    cmap = mpl.colormaps["Blues"]
    att = ds[f"{prefix}attenuation"]
    for j, size in enumerate(n):
        values = np.asarray(att.isel(n=j).transpose("sigma", "seed").values, dtype=float)
        med, q1, q3 = _quartiles(values)
        shade = cmap(0.3 + 0.7 * j / max(1, len(n) - 1))
        ax.errorbar(sigma, med, yerr=[med - q1, q3 - med], fmt="o", ms=3, color=shade, capsize=2,
                    label=f"n = {size}" if j in (0, len(n) - 1) else None)
    if theory is not None:
        fine = np.linspace(0, sigma.max() * 1.05, 200)
        reference(ax.plot(fine, [theory(s) for s in fine], "r-", lw=1.2, label="limit a(σ)" + ("" if prefix else ", Theorem 5.1")))
    else:
        reference(ax.plot(sigma, np.asarray(ds[f"{prefix}attenuation_limit"].values, dtype=float), "r-", label="limit"))
    ax.set_xlabel("σ (noise standard deviation)")
    ax.set_ylabel(r"$\langle W, W^*\rangle\,/\,\|W^*\|_F^2$")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize="small")
    ax.legend(fontsize="x-small")
    return fig


def structure_figure(ds, *, prefix: str = "", title: str):
    """NC2 (orthogonal frame) of W's rows and NC3 against the noise-free means, against n."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    n = np.asarray(ds["n"].values, dtype=float)
    for ax, key, name in ((axes[0], "NC2_W_OF", "NC2 (OF) of the classifier rows"), (axes[1], "NC3_OF", r"NC3 against $\bar H^*$")):
        var = ds.get(f"{prefix}{key}")
        if var is None:
            continue
        for i, sigma in enumerate(np.asarray(ds["sigma"].values, dtype=float)):
            if sigma == 0:
                continue
            med, q1, q3 = _quartiles(np.asarray(var.isel(sigma=i).transpose("n", "seed").values, dtype=float))
            ax.loglog(n, med, "o-", ms=3, color=f"C{i}", label=f"σ = {sigma:g}")
            ax.fill_between(n, q1, q3, color=f"C{i}", alpha=0.2, lw=0)
        ax.set_xlabel("n")
        ax.set_title(name, fontsize="small")
        ax.legend(fontsize="x-small")
        readable_log_ticks(ax)
    figures.suptitle(fig, title, fontsize="small")
    return fig


def summary_rows(ds, *, prefix: str = "") -> list[dict]:
    """Per σ: the theoretical limit, the measured attenuation at the largest n, the fitted rate."""
    rows = []
    last = ds.isel(n=-1)
    for i, sigma in enumerate(np.asarray(ds["sigma"].values, dtype=float)):
        row = {
            "sigma": sigma,
            "limit a(σ)": float(ds[f"{prefix}attenuation_limit"].isel(sigma=i)),
            f"attenuation at n={int(last['n'])} (mean over seeds)": _finite_mean(last[f"{prefix}attenuation"].isel(sigma=i)),
            f"relative error at n={int(last['n'])} (median)": float(np.nanmedian(last[f"{prefix}relative_error"].isel(sigma=i))),
        }
        if f"{prefix}rate_exponent" in ds:
            row["fitted rate (mean over seeds; theory −0.5)"] = _finite_mean(ds[f"{prefix}rate_exponent"].isel(sigma=i))
        rows.append(row)
    return rows


#: How far a fitted exponent may be from Theorem 5.1's −1/2 for a page to call it "the predicted rate".
RATE_TOLERANCE = 0.1


def rate_sentence(ds, *, prefix: str = "") -> str:
    """What the fitted decay exponents say, per σ > 0, against the predicted −1/2 (built from the data)."""
    if f"{prefix}rate_exponent" not in ds:
        return "No decay exponent was fitted in this study."
    parts, off = [], []
    for i, sigma in enumerate(np.asarray(ds["sigma"].values, dtype=float)):
        slope = _finite_mean(ds[f"{prefix}rate_exponent"].isel(sigma=i).values)
        if sigma == 0 or not np.isfinite(slope):
            continue
        parts.append(f"{slope:.3f} at σ = {sigma:g}")
        if abs(slope + 0.5) > RATE_TOLERANCE:
            off.append(f"σ = {sigma:g}")
    if not parts:
        return "No finite decay exponent was fitted."
    verdict = ("all within ±" + f"{RATE_TOLERANCE:g} of the predicted −1/2" if not off
               else f"NOT the predicted −1/2 (off by more than {RATE_TOLERANCE:g}) at {', '.join(off)}")
    return f"Fitted exponents of the relative error against n ({fit_range(ds)}; mean over seeds): {'; '.join(parts)} — {verdict}."


def fit_range(ds) -> str:
    """'fitted over n ≥ 100: n = 100 … 10,000', the points the exponent was fitted on (the study's
    rate_fit_n_min: small n carries O(1/n) terms that bend the curve)."""
    n = np.asarray(ds["n"].values)
    n_min = int(dict(ds.attrs.get("config", {})).get("rate_fit_n_min", n.min()))
    used = n[n >= n_min]
    if not used.size:
        return f"fitted over n ≥ {n_min:,}: no n of the study is that large"
    return f"least-squares slope of log error against log n over n ≥ {n_min:,}: n = {int(used.min()):,} … {int(used.max()):,}, {used.size} values"
