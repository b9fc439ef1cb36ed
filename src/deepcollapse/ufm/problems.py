"""The UFM objectives and their explicit gradients (docs/math.md#ufm-plain, docs/math.md#ufm-cross-entropy, docs/math.md#extended-linear, docs/math.md#extended-relu), batched.

Every tensor carries a leading batch dimension B (B problems of equal shapes solved at once) and
uses the spec's column layout: features are d × N with columns ordered class-major, classifiers
are K × d.  The public API is sample-major; `solver` transposes at the boundary.

Shapes (per problem):  plain      W (K, d), H (d, N), b (K, 1)
                       extended   W2 (K, d2), W1 (d2, d1), H1 (d1, N)

The regularization weights are tensors of shape (B, 1, 1), so that a λ grid is one batch.
Each problem exposes `data_gradients` (the loss part only: the GD step folds λ into a decay
factor) and `gradients` (the full gradients of the spec, what the tests hold against autograd).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .config import Config

Params = dict[str, torch.Tensor]


def labels(K: int, n: int, *, device=None) -> torch.Tensor:
    """Class-major labels 0..K-1, each repeated n times (column (k-1)n+i is class k)."""
    return torch.arange(K, device=device).repeat_interleave(n)


def one_hot(K: int, n: int, *, dtype, device) -> torch.Tensor:
    """Y = I_K ⊗ 1_nᵀ, shape (1, K, N)."""
    return torch.kron(torch.eye(K, dtype=dtype, device=device), torch.ones(1, n, dtype=dtype, device=device))[None]


# ----------------------------------------------------------------------------------- losses
def mse_loss(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """(1/2N)‖Z − Y‖²_F per problem."""
    return 0.5 * (Z - Y).square().sum(dim=(-2, -1)) / Z.shape[-1]


def mse_dlogits(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """∂/∂Z of `mse_loss`: R = (Z − Y)/N."""
    return (Z - Y).mul_(1.0 / Z.shape[-1])


def ce_loss(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """(1/N) Σ_i CE(z_i, y_i) per problem, CE(z, k) = −z_k + log Σ_j e^{z_j} (classes on dim −2)."""
    return (torch.logsumexp(Z, dim=-2) - (Z * Y).sum(dim=-2)).sum(dim=-1) / Z.shape[-1]


def ce_dlogits(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """∂/∂Z of `ce_loss`: (softmax(Z) − Y)/N column-wise."""
    return (torch.softmax(Z, dim=-2) - Y).mul_(1.0 / Z.shape[-1])


def _sq(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(dim=(-2, -1))


# ----------------------------------------------------------------------------------- problems
class Problem:
    """Common machinery: the loss, the regularizer, full gradients and random initialization."""

    names: tuple[str, ...] = ()

    def __init__(self, config: Config, lambdas: Mapping[str, torch.Tensor], *, dtype: torch.dtype, device):
        self.config = config
        self.K, self.n, self.N = config.K, config.n, config.N
        self.Y = one_hot(config.K, config.n, dtype=dtype, device=device)
        self.dtype, self.device = dtype, device
        self._loss, self._dlogits = (mse_loss, mse_dlogits) if config.loss == "mse" else (ce_loss, ce_dlogits)
        # parameter name -> config field of its regularization weight (set by each subclass)
        self.lambdas = {field: lambdas[field] for field in self.regularized.values()}

    regularized: dict[str, str] = {}

    def objective(self, params: Params) -> torch.Tensor:
        """The full objective per problem, shape (B,)."""
        value = self._loss(self.logits(params), self.Y)
        for name, field in self.regularized.items():
            value = value + 0.5 * self.lambdas[field].view(-1) * _sq(params[name])
        return value

    def gradients(self, params: Params) -> Params:
        """The full gradients of the spec: data part plus λ·parameter."""
        grads = self.data_gradients(params)
        for name, field in self.regularized.items():
            grads[name] = grads[name] + self.lambdas[field] * params[name]
        return grads

    def shapes(self) -> dict[str, tuple[int, int]]:
        raise NotImplementedError

    def init(self, seeds: Sequence[int], scales: Mapping[str, Sequence[float]]) -> Params:
        """N(0,1) entries times the per-parameter scale, drawn per problem from its own seed.

        Drawn in float64 on the CPU in the order of `names`, so a seed gives the same start
        whatever the batch, dtype or device.
        """
        out: dict[str, list[torch.Tensor]] = {name: [] for name in self.names}
        shapes = self.shapes()
        for i, seed in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(seed))
            for name in self.names:
                draw = torch.randn(shapes[name], generator=gen, dtype=torch.float64)
                out[name].append(draw * float(scales[name][i]))
        return {name: torch.stack(out[name]).to(dtype=self.dtype, device=self.device) for name in self.names}


class PlainUFM(Problem):
    """(1/2N)‖WH + b1ᵀ − Y‖² + λ_W/2‖W‖² + λ_H/2‖H‖² (+ λ_b/2‖b‖²), or CE (docs/math.md#ufm-plain, docs/math.md#ufm-cross-entropy)."""

    def __init__(self, config: Config, lambdas, *, dtype, device):
        self.has_bias = config.bias != "none"
        self.names = ("W", "H", "b") if self.has_bias else ("W", "H")
        self.regularized = {"W": "lambda_W", "H": "lambda_H"}
        if config.bias == "regularized":
            self.regularized["b"] = "lambda_b"
        super().__init__(config, lambdas, dtype=dtype, device=device)

    def shapes(self):
        c = self.config
        return {"W": (c.K, c.d), "H": (c.d, c.N), "b": (c.K, 1)}

    def logits(self, params: Params) -> torch.Tensor:
        Z = params["W"] @ params["H"]
        return Z + params["b"] if self.has_bias else Z

    def data_gradients(self, params: Params) -> Params:
        W, H = params["W"], params["H"]
        R = self._dlogits(self.logits(params), self.Y)
        grads = {"W": R @ H.mT, "H": W.mT @ R}
        if self.has_bias:
            grads["b"] = R.sum(dim=-1, keepdim=True)
        return grads

    def levels(self, params: Params):
        """(level, features d×N, classifier acting on them, bias) — the plain model has one level."""
        b = params["b"][..., 0] if self.has_bias else None
        return [("H", params["H"], params["W"], b)]


class ExtendedUFM(Problem):
    """(1/2N)‖W2 σ(W1H1) − Y‖² + Σ λ/2‖·‖², σ = identity or ReLU, or CE (docs/math.md#extended-linear, docs/math.md#extended-relu)."""

    names = ("W2", "W1", "H1")
    regularized = {"W2": "lambda_W2", "W1": "lambda_W1", "H1": "lambda_H1"}

    def __init__(self, config: Config, lambdas, *, dtype, device):
        self.relu = config.activation == "relu"
        super().__init__(config, lambdas, dtype=dtype, device=device)

    def shapes(self):
        c = self.config
        return {"W2": (c.K, c.d2), "W1": (c.d2, c.d1), "H1": (c.d1, c.N)}

    def _forward(self, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        Z = params["W1"] @ params["H1"]
        return Z, (torch.relu(Z) if self.relu else Z)

    def logits(self, params: Params) -> torch.Tensor:
        return params["W2"] @ self._forward(params)[1]

    def data_gradients(self, params: Params) -> Params:
        W2, W1, H1 = params["W2"], params["W1"], params["H1"]
        Z, H2 = self._forward(params)
        R = self._dlogits(W2 @ H2, self.Y)
        G = W2.mT @ R
        if self.relu:
            G = G * (Z > 0)  # σ'(0) := 0
        return {"W2": R @ H2.mT, "W1": G @ H1.mT, "H1": W1.mT @ G}

    def levels(self, params: Params):
        """H1, (pre-ReLU Z,) H2 with the linear classifier acting on each where there is one.

        Linear model: W2W1 acts on H1 and W2 on H2 = Z.  ReLU model: only W2 (on H2) is linear;
        H1 and Z get the feature metrics only (the paper computes NC1/NC2 there).
        """
        Z, H2 = self._forward(params)
        W2 = params["W2"]
        if self.relu:
            return [("H1", params["H1"], None, None), ("Z", Z, None, None), ("H2", H2, W2, None)]
        return [("H1", params["H1"], W2 @ params["W1"], None), ("H2", H2, W2, None)]


def level_names(config: Config) -> tuple[str, ...]:
    if config.model == "plain":
        return ("H",)
    return ("H1", "Z", "H2") if config.activation == "relu" else ("H1", "H2")


def build(config: Config, lambdas: Mapping[str, torch.Tensor], *, dtype: torch.dtype, device) -> Problem:
    """The problem object of `config` with per-problem λ tensors of shape (B, 1, 1)."""
    cls = PlainUFM if config.model == "plain" else ExtendedUFM
    return cls(config, lambdas, dtype=dtype, device=device)


def lambda_tensors(configs: Sequence[Config], *, dtype, device) -> dict[str, torch.Tensor]:
    """Stack each λ field of the configs into a (B, 1, 1) tensor."""
    fields = configs[0].lambdas().keys()
    return {
        f: torch.tensor([getattr(c, f) for c in configs], dtype=dtype, device=device).view(-1, 1, 1) for f in fields
    }

