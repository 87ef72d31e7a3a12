"""Operations per inference against hand counts: a tiny network and tiny kernel models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from l1scout.deploy.quant import float_mlp
from l1scout.errors import ConfigError
from l1scout.tasks.recalib.krr import KernelModel, KernelParams
from l1scout.tasks.recalib.nn import build_network, parse_arch
from l1scout.tasks.recalib.ops import (
    SEED_OPS,
    kernel_ops,
    model_ops,
    power_multiplications,
    seed_figure,
    seed_network_count,
    seed_note,
)


def test_tiny_network_by_hand() -> None:
    # 2 -> 3 (+ batch norm + ReLU) -> 1: MACs 2*3 + 3*1 = 9;
    # parameters: W1 6 + b1 3 + BN gamma/beta 6 + W2 3 + b2 1 = 19
    net = float_mlp([2, 3, 1], batch_norm=True)
    ops = model_ops(net, 2)
    assert ops.macs == 9
    assert ops.params == 19


@pytest.mark.parametrize(
    ("arch", "ours", "seed", "formula"),
    [
        # our 4 blocks: 4*128 + 3*128^2 + 128*3; the seed's 128 (4 + 4*128 + 3)
        ("128x4", 50_048, 66_432, "128 (4 + 4 x 128 + 3)"),
        # our 3 blocks: 4*32 + 2*32^2 + 32*3; the seed's 32 (4 + 3*32 + 3)
        ("32x3", 2_272, 3_296, "32 (4 + 3 x 32 + 3)"),
    ],
)
def test_seed_networks_against_table_8(arch: str, ours: int, seed: int, formula: str) -> None:
    assert model_ops(build_network(4, 3, arch), 4).macs == ours
    assert SEED_OPS[f"NN {arch}"] == seed == seed_figure("nn", arch=arch)
    h, n = parse_arch(arch)
    # Table 8 is the seed's H (D + N_l H + T): N_l hidden-to-hidden layers, where N_l
    # hidden layers have N_l - 1, so the figure is ours plus one H x H layer
    assert seed_network_count(h, n, n_inputs=4, n_outputs=3) == seed
    assert seed - ours == h * h
    assert formula in seed_note("nn", arch=arch)
    assert seed_note("nn", arch="64x2") == ""


def test_jet_networks_count_their_own_inputs_and_outputs() -> None:
    # jets: 3 inputs, the pT alone: 3*32 + 2*32*32 + 32*1
    assert model_ops(build_network(3, 1, "32x3"), 3).macs == 96 + 2_048 + 32


class _Counter:
    """Scalar arithmetic that counts every operation (a hand count, executed)."""

    def __init__(self) -> None:
        self.ops = 0

    def add(self, a: float, b: float) -> float:
        self.ops += 1
        return a + b

    def sub(self, a: float, b: float) -> float:
        self.ops += 1
        return a - b

    def mul(self, a: float, b: float) -> float:
        self.ops += 1
        return a * b

    def exp(self, a: float) -> float:
        self.ops += 1
        return math.exp(a)


def _power(n: _Counter, z: float, p: int) -> float:
    """z**p by repeated squaring, counting multiplications."""
    result, base, first = 1.0, z, True
    while p:
        if p & 1:
            result = base if first else n.mul(result, base)
            first = False
        p >>= 1
        if p:
            base = n.mul(base, base)
    return result


def _evaluate(
    x: np.ndarray, c: np.ndarray, alpha: np.ndarray, p: KernelParams
) -> tuple[list[float], int]:
    """One inference of a kernel model, operation by operation, as an FPGA would do it."""
    n = _Counter()
    ks = []
    for cj in c:
        if p.kernel == "gaussian":
            d2 = 0.0
            for k in range(len(x)):
                diff = n.sub(x[k], cj[k])
                sq = n.mul(diff, diff)
                d2 = sq if k == 0 else n.add(d2, sq)
            ks.append(n.exp(n.mul(d2, -0.5 / p.sigma**2)))
        else:
            dot = 0.0
            for k in range(len(x)):
                prod = n.mul(x[k], cj[k])
                dot = prod if k == 0 else n.add(dot, prod)
            if p.kernel == "linear":
                ks.append(n.add(n.mul(dot, 1.0 / p.sigma**2), p.beta))
            else:
                ks.append(_power(n, n.add(n.mul(dot, p.scale), p.beta), p.degree))
    out = []
    for t in range(alpha.shape[1]):
        acc = 0.0
        for j, kj in enumerate(ks):
            term = n.mul(alpha[j, t], kj)
            acc = term if j == 0 else n.add(acc, term)
        out.append(acc)
    return out, n.ops


@pytest.mark.parametrize(
    ("params", "d", "m", "t", "by_hand"),
    [
        # Gaussian, d=2, M=3, T=1: per centre 2 sub + 2 sq + 1 add + 1 scale + 1 exp = 7 -> 21;
        # product 3 mul + 2 add = 5; total 26
        (KernelParams("gaussian", sigma=0.7), 2, 3, 1, 26),
        # linear, d=2, M=2, T=2: per centre 2 mul + 1 add + 1 scale + 1 add = 5 -> 10;
        # product 2 x (2 mul + 1 add) = 6; total 16
        (KernelParams("linear", sigma=0.9, beta=0.5), 2, 2, 2, 16),
        # polynomial degree 5, d=2, M=2, T=2: per centre dot 3 + scale 1 + offset 1 +
        # z^5 = z^4 * z with z^2, z^4: 3 mul -> 8 -> 16; product 6; total 22
        (KernelParams("polynomial", degree=5, scale=0.5, beta=1.0), 2, 2, 2, 22),
    ],
    ids=["gaussian", "linear", "polynomial"],
)
def test_tiny_kernel_models_by_hand(
    params: KernelParams, d: int, m: int, t: int, by_hand: int
) -> None:
    rng = np.random.default_rng(1)
    x, c, alpha = rng.uniform(size=d), rng.uniform(size=(m, d)), rng.normal(size=(m, t))
    values, executed = _evaluate(x, c, alpha, params)
    assert executed == by_hand
    model = KernelModel(c, alpha, params, precision="float64", output="float64")
    np.testing.assert_allclose(model.predict(x[None, :])[0], values, rtol=1e-12)
    ops = model_ops(model, d)
    assert ops.flops == by_hand
    assert ops.macs == m * d + m * t
    assert ops.params == m * d + m * t


def test_bias_adds_one_operation_and_one_parameter_per_output() -> None:
    a = kernel_ops("gaussian", n_inputs=4, centres=10, n_outputs=3)
    b = kernel_ops("gaussian", n_inputs=4, centres=10, n_outputs=3, bias=True)
    assert (b.flops - a.flops, b.params - a.params, b.macs - a.macs) == (3, 3, 0)
    model = KernelModel(np.zeros((10, 4)), np.zeros((10, 3)), KernelParams(), bias=np.zeros(3))
    assert model_ops(model, 4) == b


def test_seed_kernel_figures_are_the_two_terms_of_our_count() -> None:
    # seed Table 8: "M=500: 2000" is M*d, "M=100: 300" is M*T (d = 4 inputs, T = 3 outputs)
    big = kernel_ops("gaussian", n_inputs=4, centres=500, n_outputs=3)
    small = kernel_ops("gaussian", n_inputs=4, centres=100, n_outputs=3)
    assert big.macs == 500 * 4 + 500 * 3
    assert SEED_OPS["KRR M=500"] == 500 * 4
    assert small.macs == 100 * 4 + 100 * 3
    assert SEED_OPS["KRR M=100"] == 100 * 3
    assert seed_figure("krr", centres=500) == 2000
    assert seed_figure("krr", centres=42) is None
    assert seed_note("krr", centres=500).startswith("M D = 500 x 4")
    assert seed_note("krr", centres=100).startswith("M T = 100 x 3")
    assert seed_note("krr", centres=42) == ""
    # far fewer operations than the 128x4 network, as the seed concludes
    assert big.flops < SEED_OPS["NN 128x4"]


def test_power_multiplications_and_errors() -> None:
    for p in range(1, 40):
        n = _Counter()
        assert _power(n, 1.1, p) == pytest.approx(1.1**p)
        assert n.ops == power_multiplications(p)
    with pytest.raises(ConfigError, match="degree"):
        power_multiplications(0)
    with pytest.raises(ConfigError, match="kernel"):
        kernel_ops("laplacian", n_inputs=1, centres=1, n_outputs=1)
    with pytest.raises(ConfigError, match="M, T"):
        kernel_ops("gaussian", n_inputs=1, centres=0, n_outputs=1)


def test_model_ops_counts_a_network_with_deploy() -> None:
    from l1scout.deploy.flops import count_ops

    net = build_network(4, 3, "32x3")
    assert model_ops(net, 4) == count_ops(net, 4)
    assert isinstance(model_ops(torch.nn.Sequential(torch.nn.Linear(2, 2)), 2).macs, int)
