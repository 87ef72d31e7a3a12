from __future__ import annotations

import pytest
import torch
from torch import nn

from l1scout.deploy.fixedpoint import QuantSpec
from l1scout.deploy.flops import OpCount, count_ops
from l1scout.deploy.quant import float_mlp, quantized_mlp
from l1scout.errors import ConfigError


def test_seed_003_operation_counts() -> None:
    # the re-calibration study, Table 7: "NN 128x4" = 66,432 and "32x3" = 3,296 operations on
    # 4 inputs (pT, eta, phi, charge) and 3 outputs: 4->128, four 128->128, 128->3,
    # and 4->32, three 32->32, 32->3.
    big = float_mlp([4, 128, 128, 128, 128, 128, 3])
    small = float_mlp([4, 32, 32, 32, 32, 3])
    assert count_ops(big, 4).macs == 4 * 128 + 4 * 128 * 128 + 128 * 3 == 66_432
    assert count_ops(small, 4).macs == 4 * 32 + 3 * 32 * 32 + 32 * 3 == 3_296


def test_tiny_network_by_hand() -> None:
    # 2 -> 3 (bias) -> BN(3) -> ReLU -> 3 -> 1 (no bias)
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 1, bias=False))
    got = count_ops(net, 2)
    macs = 2 * 3 + 3 * 1
    flops = 2 * macs + 3 + 2 * 3 + 3  # MACs, 3 bias additions, BN scale+shift, 3 ReLUs
    params = (2 * 3 + 3) + (3 + 3) + 3  # dense, BN gamma/beta, dense without bias
    assert got == OpCount(macs=9, flops=flops, params=params)
    assert flops == 30


def test_quantizers_are_free_and_params_match_torch() -> None:
    net = quantized_mlp([57, 32, 16, 8], QuantSpec(), final_activation=False)
    got = count_ops(net, 57)
    macs = 57 * 32 + 32 * 16 + 16 * 8
    assert got.macs == macs == 2_464
    assert got.flops == 2 * macs + (32 + 16 + 8) + (32 + 16)
    assert got.params == sum(p.numel() for p in net.parameters())


class _Shared(nn.Module):
    """One layer used twice and a two-output forward."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.a(self.a(x)))
        return self.b(h), h


def test_follows_the_forward_pass() -> None:
    got = count_ops(_Shared(), 4)
    assert got.macs == 16 + 16 + 8
    assert got.params == 20 + 10  # a counted once although called twice


class _OwnParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.scale = nn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * self.scale


def test_unknown_layers_are_refused() -> None:
    with pytest.raises(ConfigError, match="Conv1d"):
        count_ops(nn.Sequential(nn.Unflatten(1, (1, 3)), nn.Conv1d(1, 1, 2)), 3)
    with pytest.raises(ConfigError, match="parameters of its own"):
        count_ops(_OwnParameter(), 3)
    with pytest.raises(ConfigError, match="n_inputs"):
        count_ops(nn.Linear(3, 1), 0)
