"""The UFM objectives and their explicit gradients (docs/math.md#ufm-plain, #ufm-cross-entropy, #extended-linear, #extended-relu), batched.

Every tensor carries a leading batch dimension B (B problems of equal shapes solved at once) and
uses the spec's column layout: features are d × N with columns ordered class-major, classifiers
are K × d.  The public API is sample-major; `solver` transposes at the boundary.

Shapes (per problem):  plain      W (K, d), H (d, N), b (K, 1)
                       extended   W2 (K, d2), W1 (d2, d1), H1 (d1, N)
                       deep       W_L (K, d_L), …, W_1 (d_2, d_1), H1 (d_1, N)
(declared by each model in `ufm.models`; all three are one `LayeredProblem`).

The regularization weights are tensors of shape (B, 1, 1), keyed by parameter, so that a λ grid
is one batch.
Each problem exposes `data_gradients` (the loss part only: the GD step folds λ into a decay
factor) and `gradients` (the full gradients of the spec, what the tests hold against autograd).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from . import models, trajectory
from .config import Config
from .models.layered import Layers

Params = dict[str, torch.Tensor]


def labels(K: int, n: int, *, device=None) -> torch.Tensor:
    """`trajectory.labels` (class-major) as a tensor."""
    return torch.from_numpy(trajectory.labels(K, n)).to(device=device)


def one_hot(K: int, n: int, *, dtype, device) -> torch.Tensor:
    """Y = I_K ⊗ 1_nᵀ, shape (1, K, N)."""
    return torch.kron(torch.eye(K, dtype=dtype, device=device), torch.ones(1, n, dtype=dtype, device=device))[None]


# ----------------------------------------------------------------------------------- losses
def mse_loss(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """(1/2N)‖Z − Y‖²_F per problem."""
    return 0.5 * (Z - Y).square().sum(dim=(-2, -1)) / Z.shape[-1]


def mse_dlogits(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """∂/∂Z of `mse_loss`: R = (Z − Y)/N, written over Z (the step's own logits: one allocation fewer)."""
    return Z.sub_(Y).mul_(1.0 / Z.shape[-1])


def ce_loss(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """(1/N) Σ_i CE(z_i, y_i) per problem, CE(z, k) = −z_k + log Σ_j e^{z_j} (classes on dim −2)."""
    return (torch.logsumexp(Z, dim=-2) - (Z * Y).sum(dim=-2)).sum(dim=-1) / Z.shape[-1]


def ce_dlogits(Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """∂/∂Z of `ce_loss`: (softmax(Z) − Y)/N column-wise (Z is left alone)."""
    return torch.softmax(Z, dim=-2).sub_(Y).mul_(1.0 / Z.shape[-1])


def _sq(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(dim=(-2, -1))


# ----------------------------------------------------------------------------------- problems
class Problem:
    """Common machinery: the loss, the regularizer, full gradients and random initialization.

    `lambdas` maps each penalised parameter to its λ tensor of shape (B, 1, 1); `regularized`
    lists those parameters in the order the objective adds their penalties.
    """

    names: tuple[str, ...] = ()

    def __init__(self, config: Config, lambdas: Mapping[str, torch.Tensor], *, dtype: torch.dtype, device):
        self.config = config
        self.model = models.of(config)
        self.K, self.n, self.N = config.K, config.n, config.N
        self.Y = one_hot(config.K, config.n, dtype=dtype, device=device)
        self.dtype, self.device = dtype, device
        self._loss, self._dlogits = (mse_loss, mse_dlogits) if config.loss == "mse" else (ce_loss, ce_dlogits)
        self.regularized = tuple(self.model.regularization(config))
        self.lambdas = {name: lambdas[name] for name in self.regularized}

    def objective(self, params: Params) -> torch.Tensor:
        """The full objective per problem, shape (B,)."""
        value = self._loss(self.logits(params), self.Y)
        for name in self.regularized:
            value = value + 0.5 * self.lambdas[name].view(-1) * _sq(params[name])
        return value

    def gradients(self, params: Params) -> Params:
        """The full gradients of the spec: data part plus λ·parameter."""
        grads = self.data_gradients(params)
        for name in self.regularized:
            grads[name] = grads[name] + self.lambdas[name] * params[name]
        return grads

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return self.model.param_shapes(self.config)

    def init(self, seeds: Sequence[int], scales: Mapping[str, Sequence[float]]) -> Params:
        """N(0,1) entries times the per-parameter scale, drawn per problem from its own seed.

        Drawn in float64 on the CPU in the order of `names`, so a seed gives the same start
        whatever the batch, dtype or device; the compiled loop draws the same bits in numpy
        (`draws.initial`, held against this by tests/unit/ufm/test_draws.py; torch's own generator
        stays here: ~15x faster, for the large problems of the GPU path).
        """
        out: dict[str, list[torch.Tensor]] = {name: [] for name in self.names}
        shapes = self.shapes()
        for i, seed in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(seed))
            for name in self.names:
                draw = torch.randn(shapes[name], generator=gen, dtype=torch.float64)
                out[name].append(draw * float(scales[name][i]))
        return {name: torch.stack(out[name]).to(dtype=self.dtype, device=self.device) for name in self.names}


class LayeredProblem(Problem):
    """logits = W_L σ(⋯σ(W_1 H_1)) (+ b1ᵀ), MSE or CE, with explicit backpropagation (docs/math.md#ufm-plain, #extended-linear, #deep-ufm).

    The plain UFM is depth 1 (W, H, b), the extended UFM depth 2 (W2, W1, H1), the deep UFM any
    depth (W_L … W_1, H1).  The operations per step are exactly those of the per-model code this
    replaced, so results are bitwise unchanged:
        forward   Z_{l+1} = W_l X_l,  X_{l+1} = σ(Z_{l+1})              (X_1 = H_1)
        backward  R = ∂loss/∂logits,  ∇W_L = R X_Lᵀ,  G = W_Lᵀ R,
                  per layer below: G ⊙= 1[Z_{l+1} > 0] (ReLU, σ'(0) := 0),  ∇W_l = G X_lᵀ,  G = W_lᵀ G
                  ∇H_1 = G,  ∇b = R 1.
    """

    def __init__(self, config: Config, layers: Layers, lambdas: Mapping[str, torch.Tensor], *, dtype: torch.dtype, device):
        self.layers = layers
        self.relu = layers.relu
        self.has_bias = layers.bias is not None
        self.names = layers.weights + (layers.features,) + ((layers.bias,) if self.has_bias else ())
        super().__init__(config, lambdas, dtype=dtype, device=device)

    # Speed (tests/benchmarks/bench_ufm.py): a small problem's step is a dozen tiny tensor
    # operations, so Python and dispatch overhead dominate.  Every product is a direct torch.bmm
    # (the `@` operator reaches the same kernel through torch.matmul's shape logic, several µs
    # more per call; same bits), the loop bounds are precomputed, and tensors that this step
    # created itself are updated in place.  The arithmetic, and so every bit, is unchanged.
    def _plan(self) -> tuple:
        plan = getattr(self, "_plan_cache", None)
        if plan is None:
            weights = self.layers.weights
            below = weights[:0:-1]  # W_1 .. W_{L-1}, bottom first
            # backward: (W_l, index of its input X_l / pre-activation Z_{l+1}) from the top down
            backward = tuple((weights[len(weights) - l], l - 1) for l in range(len(weights) - 1, 0, -1))
            plan = self._plan_cache = (weights[0], below, backward, self.layers.features, self.layers.bias)
        return plan

    def forward(self, params: Params) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """(levels X_1..X_L, pre-activations Z_2..Z_L, logits)."""
        top, below, _, features, bias = self._plan()
        bmm, relu = torch.bmm, self.relu
        X = params[features]
        xs, zs = [X], []
        for name in below:
            Z = bmm(params[name], X)
            zs.append(Z)
            X = torch.relu(Z) if relu else Z
            xs.append(X)
        logits = bmm(params[top], X)
        if bias is not None:
            logits = logits + params[bias]
        return xs, zs, logits

    def logits(self, params: Params) -> torch.Tensor:
        return self.forward(params)[2]

    def data_gradients(self, params: Params, out: Params | None = None) -> Params:
        """The loss part of every gradient, at θ = `params`.

        With `out` (a tensor per parameter, contiguous, of the parameter's shape) each gradient
        is written there instead of into a new tensor: the same kernels, so the same bits.
        """
        xs, zs, logits = self.forward(params)
        top, _, backward, features, bias = self._plan()
        bmm, relu = torch.bmm, self.relu
        R = self._dlogits(logits, self.Y)

        into = (out or {}).get  # bmm(..., out=None) allocates as usual
        grads = {top: bmm(R, xs[-1].mT, out=into(top))}
        G = bmm(params[top].mT, R, out=None if backward else into(features))
        last = len(backward) - 1
        for k, (name, i) in enumerate(backward):  # W_l acting on X_l = xs[i], from l = L-1 down to 1
            if relu:
                G.mul_(zs[i] > 0)  # σ'(0) := 0 (G is this step's own tensor)
            grads[name] = bmm(G, xs[i].mT, out=into(name))
            G = bmm(params[name].mT, G, out=into(features) if k == last else None)
        grads[features] = G
        if bias is not None:
            grads[bias] = torch.sum(R, dim=-1, keepdim=True, out=into(bias))
        return grads

    def levels(self, params: Params):
        """(level, features d×N, classifier acting on them or None, bias or None), bottom level first
        (`Layers.measured_levels`)."""
        xs, zs, _ = self.forward(params)
        return self.layers.measured_levels(xs, zs, params)

    def dead_samples(self, params: Params) -> dict[str, torch.Tensor]:
        """Per ReLU level H_l (l >= 2): (B, N) mask of the samples whose pre-activations are all <= 0.

        Such a sample's column of H_l is 0, no loss gradient reaches its features below, and only
        weight decay acts on them (docs/math.md#extended-relu: plain GD cannot leave this state).
        """
        if not self.relu:
            return {}
        _, zs, _ = self.forward(params)
        return {name: (Z <= 0).all(dim=-2) for name, Z in zip(self.layers.feature_levels[1:], zs)}


def build(config: Config, lambdas: Mapping[str, torch.Tensor], *, dtype: torch.dtype, device) -> Problem:
    """The problem object of `config` with per-problem λ tensors of shape (B, 1, 1): every registered
    model is a stack of layers (`ufm.models.layered`), solved by one `LayeredProblem`."""
    return LayeredProblem(config, models.of(config).layers(config), lambdas, dtype=dtype, device=device)


def lambda_tensors(configs: Sequence[Config], *, dtype, device) -> dict[str, torch.Tensor]:
    """Stack each penalised parameter's λ over the configs into a (B, 1, 1) tensor."""
    model = models.of(configs[0])
    per_config = [model.regularization(c) for c in configs]
    return {
        name: torch.tensor([r[name] for r in per_config], dtype=dtype, device=device).view(-1, 1, 1)
        for name in per_config[0]
    }
