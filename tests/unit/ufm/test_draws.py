"""`ufm.draws` is torch's CPU normal generator bit for bit: every size path (scalar with its cache,
16-wide blocks, a redrawn tail), across calls on one stream, for seeds of 32 bits and above."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from deepcollapse.ufm import draws

SEQUENCES = [
    [(4, 20), (20, 200), (4, 1)],  # a plain UFM: W, H, b
    [(3,), (5,), (1,)],  # scalar draws only: the cached second normal crosses calls
    [(3,), (16,), (1,), (2, 2)],  # an odd scalar count, then a block (which leaves the cache alone)
    [(17,), (33,), (2, 2)],  # redrawn tails
    [(10, 30), (30, 30), (30, 200)],  # an extended UFM at the paper's Fig. 9 size
    [(1,), (15,), (16,), (31,), (32,)],
]


@pytest.mark.parametrize("seed", [0, 1, 7, 123456789, 2**32 + 5, 2**40 + 3])
@pytest.mark.parametrize("shapes", SEQUENCES, ids=lambda s: "-".join("x".join(map(str, shape)) for shape in s))
def test_draws_equal_torch_randn_bit_for_bit(seed, shapes):
    gen = torch.Generator().manual_seed(seed)
    stream = draws.NormalDraws(seed)
    for shape in shapes:
        expected = torch.randn(shape, generator=gen, dtype=torch.float64).numpy()
        got = stream.draw(shape)
        assert got.shape == expected.shape and got.dtype == np.float64
        assert np.array_equal(got.view(np.uint64), expected.view(np.uint64)), (seed, shape)


def test_initial_scales_each_parameter_of_each_problem_from_its_own_seed():
    shapes = {"W": (4, 8), "H": (8, 12), "b": (4, 1)}
    scales = {"W": [0.1, 2.0], "H": [1.0, 0.5], "b": [3.0, 0.25]}
    start = draws.initial([3, 11], shapes, scales)
    for i, seed in enumerate([3, 11]):
        gen = torch.Generator().manual_seed(seed)
        for name, shape in shapes.items():
            expected = torch.randn(shape, generator=gen, dtype=torch.float64) * scales[name][i]
            assert np.array_equal(start[name][i], expected.numpy())


def test_the_torch_loop_and_the_compiled_loop_start_from_the_same_bits():
    from deepcollapse.ufm import Config, problems, solver

    config = Config(model="deep", depth=3, activation="relu", K=3, n=5, d=[6, 7, 8])
    configs = [config, dataclasses.replace(config, seed=9)]
    lam = problems.lambda_tensors(configs, dtype=torch.float64, device="cpu")
    problem = problems.build(config, lam, dtype=torch.float64, device="cpu")
    scales = solver.init_scales(configs)
    in_torch = problem.init([c.seed for c in configs], scales)
    in_numpy = draws.initial([c.seed for c in configs], {name: tuple(problem.shapes()[name]) for name in problem.names}, scales)
    for name in problem.names:
        assert np.array_equal(in_torch[name].numpy(), in_numpy[name]), name


class _NotCompiled:
    """Stands for a compiled function that must not run; its Python source still may."""

    def __init__(self, compiled):
        self.py_func = compiled.py_func

    def __call__(self, *args):
        raise AssertionError("a compiled Box-Muller block ran where numba would use SVML")


def test_the_python_blocks_where_numba_would_use_svml_are_the_same_bits(monkeypatch):
    """With Intel's SVML numba's vectorised log/cos/sin would round differently: every block, the
    redrawn tail included, then runs in Python, with the same bits."""
    monkeypatch.setattr(draws.numba.config, "USING_SVML", True)
    monkeypatch.setattr(draws, "_box_muller_16", _NotCompiled(draws._box_muller_16))
    monkeypatch.setattr(draws, "_box_muller_blocks", _NotCompiled(draws._box_muller_blocks))
    gen = torch.Generator().manual_seed(3)
    stream = draws.NormalDraws(3)
    for shape in [(5, 40), (3, 7)]:  # 200 = 12 blocks and a redrawn tail; 21 = 1 block and a tail
        expected = torch.randn(shape, generator=gen, dtype=torch.float64).numpy()
        assert np.array_equal(stream.draw(shape).view(np.uint64), expected.view(np.uint64)), shape
