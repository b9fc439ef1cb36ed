"""The compiled CPU backend of gradient descent: the whole GD loop of every layered UFM as one numba kernel.

What it computes is `ufm.problems.LayeredProblem`'s, read off the same description of the model
(`models.layered.Layers`: depth, widths, ReLU or not, bias or not) and the config's loss; nothing
here is specific to one model.  The explicit backpropagation of `LayeredProblem.data_gradients`
(docs/math.md#ufm-plain, #extended-linear, #extended-relu, #deep-ufm) is followed operation for
operation:

    forward   Z_{l+1} = W_l X_l,  X_{l+1} = σ(Z_{l+1})  (X_1 = H_1),  logits = W_L X_L (+ b1ᵀ)
    backward  R = ∂loss/∂logits,  ∇W_L = R X_Lᵀ,  G = W_Lᵀ R,
              below: G ⊙= 1[Z_{l+1} > 0] (ReLU),  ∇W_l = G X_lᵀ,  G = W_lᵀ G;  ∇H_1 = G,  ∇b = R1

and tests/unit/ufm/test_kernel.py holds this gradient against `LayeredProblem.data_gradients` and
against autograd of `LayeredProblem.objective` (the one definition of every objective) for every
model of the registry, and the GD end points against the torch loop's.  The sums run in another
order than torch's BLAS (reassociated and fused multiply-adds allowed), so the two backends agree
to rounding, not bit for bit (docs/operations.md).

Why numba (not JAX, torch.compile or torch.jit; measured in issue 22 and tests/benchmarks/bench_ufm.py):
one compiled signature serves every shape and depth (the layout travels as integer arrays), the
compiled code is cached on disk (`cache=True`: a pipeline pays the compilation once, not per job),
and the checks that the solver makes between iterations (finite parameters, dead samples, the
exact fixed point) run inside the loop without a round trip to Python.

Layout: one problem's parameters are one flat float64 vector in the order of `LayeredProblem.names`
(weights top first, features, bias), each a row-major block in the math's column layout — the
layout of `torch_loop.GradientDescent`'s buffer, so the two backends exchange parameters by reshape.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numba import njit

from . import models
from .config import Config

#: Rounding may be reassociated and multiply-adds fused; NaN and inf keep their IEEE meaning
#: (the finite check depends on it), so numba's blanket fastmath=True is not used.
FAST = {"reassoc", "contract", "nsz"}

# meta layout (int64 array): every offset the kernel needs, so that one compiled signature serves all models
M_L, M_K, M_N, M_N_PER, M_RELU, M_BIAS, M_CE, M_OFF_H, M_OFF_B, M_MAXW = range(10)
M_HEAD = 10  # then: widths d_1..d_L (L), offsets of W_1..W_L in θ (L), offsets of Z_2..Z_L in the scratch (L)


@dataclasses.dataclass(frozen=True)
class Plan:
    """The kernel's description of one configured model (read from `Layers`): meta array, sizes, names."""

    meta: np.ndarray
    names: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    size: int  # parameters of one problem
    scratch: int  # scratch floats of one problem
    relu_levels: tuple[str, ...]

    @property
    def depth(self) -> int:
        return int(self.meta[M_L])


def plan(config: Config) -> Plan:
    """The layout of `config`'s model for the kernel, from the model's `layers(config)`."""
    model = models.of(config)
    spec = model.layers(config)
    shapes = model.param_shapes(config)
    names = spec.weights + (spec.features,) + ((spec.bias,) if spec.bias else ())
    offsets, at = {}, 0
    for name in names:
        offsets[name] = at
        at += math.prod(shapes[name])
    L, N = spec.depth, config.N
    widths = [int(w) for w in spec.widths]
    weights_bottom_first = list(reversed(spec.weights))
    z_off, s = [], 0
    for l in range(1, L):  # Z_{l+1} (d_{l+1} × N), then X_{l+1} right after it when ReLU
        z_off.append(s)
        s += widths[l] * N * (2 if spec.relu else 1)
    z_off.append(s)  # unused slot (keeps the array length L)
    maxw = max(widths + [config.K])
    scratch = s + config.K * N + 2 * maxw * N  # Z/X levels, logits (then R), two G buffers
    meta = np.array(
        [L, config.K, N, config.n, int(spec.relu), int(spec.bias is not None), int(config.loss == "ce"),
         offsets[spec.features], offsets[spec.bias] if spec.bias else -1, maxw]
        + widths + [offsets[name] for name in weights_bottom_first] + z_off,
        dtype=np.int64,
    )
    return Plan(meta, names, {n: tuple(shapes[n]) for n in names}, at, scratch, tuple(model.relu_levels(config)))


# ----------------------------------------------------------------------------------- products
# Row-major blocks; `out` never aliases an input.  The innermost loops run along contiguous rows
# (N long for the wide products), the form LLVM vectorises, over a 4 × 4 register tile: four
# output rows take four terms of the inner dimension per pass, so that every input vector loaded
# feeds four multiply-adds and every output vector is loaded and stored once per four terms.
# Measured here (issue 22, one core, 20×20×200 and 30×30×200 products): 37-51 GFLOP/s, 1.5-2× the
# one-row form of four terms per pass, which the rows and terms left over (fewer than four) still
# take.  (Tiles over eight columns held in scalar temporaries instead stayed scalar and ran 2× slower
# than the one-row form; eight terms per pass in one row, 1.2× slower.)
@njit(cache=True, inline="always")
def _coefficient(A, r, q, transposed):
    return A[q, r] if transposed else A[r, q]


@njit(fastmath=FAST, cache=True)
def _axpy_rows(o, A, i, transposed, X, k):
    """o = Σ_q a_q X[q] over q < k, a_q = A[i, q] (or A[q, i] when `transposed`): one output row."""
    N = o.shape[0]
    for j in range(N):
        o[j] = 0.0
    q = 0
    while q + 4 <= k:
        a0, a1 = _coefficient(A, i, q, transposed), _coefficient(A, i, q + 1, transposed)
        a2, a3 = _coefficient(A, i, q + 2, transposed), _coefficient(A, i, q + 3, transposed)
        x0, x1, x2, x3 = X[q], X[q + 1], X[q + 2], X[q + 3]
        for j in range(N):
            o[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j]
        q += 4
    while q < k:
        a, x = _coefficient(A, i, q, transposed), X[q]
        for j in range(N):
            o[j] += a * x[j]
        q += 1


@njit(fastmath=FAST, cache=True)
def _axpy_tile(out, i, A, transposed, X, k):
    """The rows i..i+3 of `out` as `_axpy_rows` computes each, four at a time (the register tile)."""
    N = out.shape[1]
    o0, o1, o2, o3 = out[i], out[i + 1], out[i + 2], out[i + 3]
    for j in range(N):
        o0[j] = 0.0
        o1[j] = 0.0
        o2[j] = 0.0
        o3[j] = 0.0
    q = 0
    while q + 4 <= k:
        a0, a1 = _coefficient(A, i, q, transposed), _coefficient(A, i, q + 1, transposed)
        a2, a3 = _coefficient(A, i, q + 2, transposed), _coefficient(A, i, q + 3, transposed)
        b0, b1 = _coefficient(A, i + 1, q, transposed), _coefficient(A, i + 1, q + 1, transposed)
        b2, b3 = _coefficient(A, i + 1, q + 2, transposed), _coefficient(A, i + 1, q + 3, transposed)
        c0, c1 = _coefficient(A, i + 2, q, transposed), _coefficient(A, i + 2, q + 1, transposed)
        c2, c3 = _coefficient(A, i + 2, q + 2, transposed), _coefficient(A, i + 2, q + 3, transposed)
        e0, e1 = _coefficient(A, i + 3, q, transposed), _coefficient(A, i + 3, q + 1, transposed)
        e2, e3 = _coefficient(A, i + 3, q + 2, transposed), _coefficient(A, i + 3, q + 3, transposed)
        x0, x1, x2, x3 = X[q], X[q + 1], X[q + 2], X[q + 3]
        for j in range(N):
            y0, y1, y2, y3 = x0[j], x1[j], x2[j], x3[j]
            o0[j] += a0 * y0 + a1 * y1 + a2 * y2 + a3 * y3
            o1[j] += b0 * y0 + b1 * y1 + b2 * y2 + b3 * y3
            o2[j] += c0 * y0 + c1 * y1 + c2 * y2 + c3 * y3
            o3[j] += e0 * y0 + e1 * y1 + e2 * y2 + e3 * y3
        q += 4
    while q < k:
        a, b = _coefficient(A, i, q, transposed), _coefficient(A, i + 1, q, transposed)
        c, e = _coefficient(A, i + 2, q, transposed), _coefficient(A, i + 3, q, transposed)
        x = X[q]
        for j in range(N):
            y = x[j]
            o0[j] += a * y
            o1[j] += b * y
            o2[j] += c * y
            o3[j] += e * y
        q += 1


@njit(fastmath=FAST, cache=True)
def _rows(out, A, transposed, X, k):
    """Every row of `out` by tiles of four, the last few one by one."""
    rows = out.shape[0]
    i = 0
    while i + 4 <= rows:
        _axpy_tile(out, i, A, transposed, X, k)
        i += 4
    while i < rows:
        _axpy_rows(out[i], A, i, transposed, X, k)
        i += 1


@njit(fastmath=FAST, cache=True)
def _mm(A, X, out):
    """out = A X: A (r, k), X (k, N), out (r, N)."""
    _rows(out, A, False, X, A.shape[1])


@njit(fastmath=FAST, cache=True)
def _mm_tn(A, G, out):
    """out = Aᵀ G: A (r, k), G (r, N), out (k, N)."""
    _rows(out, A, True, G, A.shape[0])


@njit(fastmath=FAST, cache=True)
def _dot(g, x):
    c = 0.0
    for j in range(g.shape[0]):
        c += g[j] * x[j]
    return c


@njit(fastmath=FAST, cache=True)
def _mm_nt(G, X, out):
    """out = G Xᵀ: G (r, N), X (k, N), out (r, k): dot products along N, a 4 × 4 tile of them per pass
    (sixteen sums in registers, each input vector loaded once for four of them); the rows and
    columns left over one by one."""
    r, N = G.shape
    k = X.shape[0]
    i = 0
    while i + 4 <= r:
        g0, g1, g2, g3 = G[i], G[i + 1], G[i + 2], G[i + 3]
        q = 0
        while q + 4 <= k:
            x0, x1, x2, x3 = X[q], X[q + 1], X[q + 2], X[q + 3]
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = 0.0
            c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = 0.0
            for j in range(N):
                u0, u1, u2, u3 = g0[j], g1[j], g2[j], g3[j]
                y0, y1, y2, y3 = x0[j], x1[j], x2[j], x3[j]
                c00 += u0 * y0
                c01 += u0 * y1
                c02 += u0 * y2
                c03 += u0 * y3
                c10 += u1 * y0
                c11 += u1 * y1
                c12 += u1 * y2
                c13 += u1 * y3
                c20 += u2 * y0
                c21 += u2 * y1
                c22 += u2 * y2
                c23 += u2 * y3
                c30 += u3 * y0
                c31 += u3 * y1
                c32 += u3 * y2
                c33 += u3 * y3
            out[i, q], out[i, q + 1], out[i, q + 2], out[i, q + 3] = c00, c01, c02, c03
            out[i + 1, q], out[i + 1, q + 1], out[i + 1, q + 2], out[i + 1, q + 3] = c10, c11, c12, c13
            out[i + 2, q], out[i + 2, q + 1], out[i + 2, q + 2], out[i + 2, q + 3] = c20, c21, c22, c23
            out[i + 3, q], out[i + 3, q + 1], out[i + 3, q + 2], out[i + 3, q + 3] = c30, c31, c32, c33
            q += 4
        while q < k:
            x = X[q]
            c0 = c1 = c2 = c3 = 0.0
            for j in range(N):
                y = x[j]
                c0 += g0[j] * y
                c1 += g1[j] * y
                c2 += g2[j] * y
                c3 += g3[j] * y
            out[i, q], out[i + 1, q], out[i + 2, q], out[i + 3, q] = c0, c1, c2, c3
            q += 1
        i += 4
    while i < r:
        for q in range(k):
            out[i, q] = _dot(G[i], X[q])
        i += 1

# ----------------------------------------------------------------------------------- one problem
@njit(cache=True, inline="always")
def _block(v, offset, rows, cols):
    return v[offset : offset + rows * cols].reshape((rows, cols))


@njit(cache=True, inline="always")
def _column_max(Z, j):
    """max_i Z[i, j]: the shift that keeps exp() of a logit column finite (softmax, log-sum-exp)."""
    m = Z[0, j]
    for i in range(1, Z.shape[0]):
        m = max(m, Z[i, j])
    return m


@njit(fastmath=FAST, cache=True)
def _forward(theta, meta, s):
    """Levels and logits at θ into the scratch `s`; returns the logits' block (K, N)."""
    L, K, N = meta[M_L], meta[M_K], meta[M_N]
    relu = meta[M_RELU] == 1
    W0 = M_HEAD + L  # offsets of W_l
    Z0 = M_HEAD + 2 * L  # offsets of Z_{l+1}
    X = _block(theta, meta[M_OFF_H], meta[M_HEAD], N)
    for l in range(L - 1):  # W_{l+1} acts on X_{l+1}: Z_{l+2} (0-based l)
        d_in, d_out = meta[M_HEAD + l], meta[M_HEAD + l + 1]
        W = _block(theta, meta[W0 + l], d_out, d_in)
        Z = _block(s, meta[Z0 + l], d_out, N)
        _mm(W, X, Z)
        if relu:
            Xn = _block(s, meta[Z0 + l] + d_out * N, d_out, N)
            for i in range(d_out):
                z, x = Z[i], Xn[i]
                for j in range(N):
                    x[j] = z[j] if z[j] > 0.0 else 0.0
            X = Xn
        else:
            X = Z
    top = meta[Z0 + L - 1]
    logits = _block(s, top, K, N)
    _mm(_block(theta, meta[W0 + L - 1], K, meta[M_HEAD + L - 1]), X, logits)
    if meta[M_BIAS] == 1:
        ob = meta[M_OFF_B]
        for i in range(K):
            b = theta[ob + i]
            for j in range(N):
                logits[i, j] += b
    return logits


@njit(fastmath=FAST, cache=True)
def _level(theta, meta, s, l):
    """X_{l+1} (0-based l: X_1 = H_1) after `_forward`."""
    L, N = meta[M_L], meta[M_N]
    if l == 0:
        return _block(theta, meta[M_OFF_H], meta[M_HEAD], N)
    d = meta[M_HEAD + l]
    off = meta[M_HEAD + 2 * L + l - 1]
    if meta[M_RELU] == 1:
        off += d * N
    return _block(s, off, d, N)


@njit(cache=True)
def _residual(R, n):
    """R = (R − Y) · (1/N) in place, R (K, N), rounded as written (as torch's `mse_dlogits` computes
    it): no fast-math here, under which LLVM compiled the same source to (R − Y)/N or to
    (R − Y) · (1/N) depending on how often 1/N was used.  Y's row i is 1 on the columns of class i,
    i·n .. (i+1)·n − 1 (class-major), 0 elsewhere."""
    K, N = R.shape
    inv = 1.0 / N
    for i in range(K):
        r = R[i]
        for j in range(i * n):
            r[j] = r[j] * inv
        for j in range(i * n, (i + 1) * n):
            r[j] = (r[j] - 1.0) * inv
        for j in range((i + 1) * n, N):
            r[j] = r[j] * inv


@njit(fastmath=FAST, cache=True)
def data_gradient(theta, grad, meta, s):
    """The loss part of every gradient at θ into `grad` (flat, θ's layout); `s` is scratch."""
    L, K, N, n = meta[M_L], meta[M_K], meta[M_N], meta[M_N_PER]
    relu = meta[M_RELU] == 1
    W0 = M_HEAD + L
    Z0 = M_HEAD + 2 * L
    R = _forward(theta, meta, s)  # the logits, overwritten by R = ∂loss/∂logits
    if meta[M_CE] == 1:
        for j in range(N):
            m = _column_max(R, j)
            total = 0.0
            for i in range(K):
                e = math.exp(R[i, j] - m)
                R[i, j] = e
                total += e
            for i in range(K):
                R[i, j] = R[i, j] / total
    _residual(R, n)
    dL = meta[M_HEAD + L - 1]
    _mm_nt(R, _level(theta, meta, s, L - 1), _block(grad, meta[W0 + L - 1], K, dL))
    g_off = meta[Z0 + L - 1] + K * N  # two G buffers after the logits
    maxw = meta[M_MAXW]
    G = _block(grad, meta[M_OFF_H], dL, N) if L == 1 else _block(s, g_off, dL, N)
    _mm_tn(_block(theta, meta[W0 + L - 1], K, dL), R, G)
    which = 1
    for l in range(L - 2, -1, -1):  # W_{l+1} on X_{l+1}, from the top down (0-based l)
        d_in, d_out = meta[M_HEAD + l], meta[M_HEAD + l + 1]
        if relu:
            Z = _block(s, meta[Z0 + l], d_out, N)
            for i in range(d_out):
                z, gi = Z[i], G[i]
                for j in range(N):
                    gi[j] = gi[j] if z[j] > 0.0 else 0.0
        W = _block(theta, meta[W0 + l], d_out, d_in)
        _mm_nt(G, _level(theta, meta, s, l), _block(grad, meta[W0 + l], d_out, d_in))
        Gn = _block(grad, meta[M_OFF_H], d_in, N) if l == 0 else _block(s, g_off + which * maxw * N, d_in, N)
        _mm_tn(W, G, Gn)
        G = Gn
        which = 1 - which
    if meta[M_BIAS] == 1:
        ob = meta[M_OFF_B]
        for i in range(K):
            c = 0.0
            for j in range(N):
                c += R[i, j]
            grad[ob + i] = c


@njit(fastmath=FAST, cache=True)
def data_loss(theta, meta, s):
    """The loss part of the objective at θ (`problems.mse_loss` / `ce_loss`): (1/2N)‖Z − Y‖²_F, or
    (1/N) Σ_j (log Σ_i e^{Z_ij} − Z_{y_j j}); leaves `_forward`'s levels in the scratch `s`."""
    K, N, n = meta[M_K], meta[M_N], meta[M_N_PER]
    Z = _forward(theta, meta, s)
    total = 0.0
    if meta[M_CE] == 1:
        for j in range(N):
            m = _column_max(Z, j)
            e = 0.0
            for i in range(K):
                e += math.exp(Z[i, j] - m)
            total += m + math.log(e) - Z[j // n, j]
        return total / N
    for i in range(K):
        for j in range(N):
            r = Z[i, j] - (1.0 if j // n == i else 0.0)
            total += r * r
    return 0.5 * total / N


@njit(cache=True)
def measure_pass(theta, meta, scratch, loss, grad):
    """For every problem b: the loss, the loss part of every gradient (`data_gradient`) into grad[b], and
    the forward pass's levels and logits into scratch[b] (the layout of `plan(...).scratch`)."""
    for b in range(theta.shape[0]):
        data_gradient(theta[b], grad[b], meta, scratch[b])  # overwrites the logits with R: the loss comes after
        loss[b] = data_loss(theta[b], meta, scratch[b])


@njit(cache=True)
def _check(theta, meta, s, dead_count, dead_first, b, t):
    """The solver's check of θ_t for problem b: False if some entry is not finite; else counts dead
    samples per ReLU level (columns of Z_l all <= 0) into dead_count[b, level], dead_first[b, level]."""
    for v in theta:
        if not math.isfinite(v):
            return False
    L, N = meta[M_L], meta[M_N]
    if meta[M_RELU] == 1 and L > 1:
        _forward(theta, meta, s)
        for l in range(L - 1):
            d = meta[M_HEAD + l + 1]
            Z = _block(s, meta[M_HEAD + 2 * L + l], d, N)
            count = 0
            for j in range(N):
                alive = False
                for i in range(d):
                    if Z[i, j] > 0.0:
                        alive = True
                        break
                if not alive:
                    count += 1
            dead_count[b, l] = count
            if dead_first[b, l] < 0 and count > 0:
                dead_first[b, l] = t
    return True


@njit(fastmath=FAST, cache=True)
def advance(theta, decay, neg_lr, meta, t0, t1, every, fixed_every, shortcut, fixed_at, bad_at, checked, checked_at, dead_count, dead_first):
    """Gradient descent on every problem b with fixed_at[b] < 0 and bad_at[b] < 0 from iteration t0 to t1.

    theta (B, P) holds θ_t0 and is left holding θ_t1 (in place).  As `solver.run` does: at every
    t with t % every == 0, t == t0 or t == t1, θ_t is checked (`_check`: finite, dead samples) and
    kept in checked[b] (checked_at[b] = t); a non-finite θ_t sets bad_at[b] = t and stops problem b.
    With `shortcut`, at every t % fixed_every == 0 the step is compared with θ_t: if θ_{t+1} = θ_t bit for
    bit, fixed_at[b] = t and problem b stops there (every later iterate is θ_t).
    """
    B, P = theta.shape
    s = np.empty(meta[M_MAXW] * meta[M_N] * (2 * meta[M_L] + 3) + meta[M_K] * meta[M_N], dtype=np.float64)
    g = np.empty(P, dtype=np.float64)
    for b in range(B):
        if fixed_at[b] >= 0 or bad_at[b] >= 0:
            continue
        th = theta[b]
        dec = decay[b]
        lr = neg_lr[b]
        for t in range(t0, t1 + 1):
            at_check = t % every == 0
            if at_check or t == t0 or t == t1:
                if not _check(th, meta, s, dead_count, dead_first, b, t):
                    bad_at[b] = t
                    break
                checked[b, :] = th
                checked_at[b] = t
            if t == t1:
                break
            data_gradient(th, g, meta, s)
            if shortcut and t % fixed_every == 0:
                same = True
                for p in range(P):
                    new = dec[p] * th[p] + lr * g[p]
                    if new != th[p]:
                        same = False
                    th[p] = new
                if same:
                    fixed_at[b] = t
                    break
            else:
                for p in range(P):
                    th[p] = dec[p] * th[p] + lr * g[p]
