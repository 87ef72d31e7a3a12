from __future__ import annotations

import numpy as np
import pytest
import torch

from l1scout.deploy._plan import plan_network
from l1scout.deploy._qlayers import QuantLinear
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.fpga import estimate_fpga, trace_logic
from l1scout.deploy.quant import quantized_mlp
from l1scout.errors import ConfigError

SPEC = QuantSpec()


def _linears(net: torch.nn.Module) -> list[QuantLinear]:
    return [m for m in net.modules() if isinstance(m, QuantLinear)]


@pytest.fixture(scope="module")
def encoder(make_inputs, trainer) -> torch.nn.Sequential:
    torch.manual_seed(5)
    net = quantized_mlp([57, 32, 16, 8], SPEC, final_activation=False)
    trainer(net, make_inputs(4000, 7), 8, steps=200)
    return net


@pytest.mark.slow
def test_encoder_estimate(encoder: torch.nn.Sequential) -> None:
    est = estimate_fpga(encoder, SPEC)
    assert est.luts > 1000
    assert est.dsps == 0
    assert est.delay > 0
    assert est.latency_cycles >= 1
    assert est.latency_ns == est.latency_cycles * est.clock_ns == est.latency_cycles * 25.0
    fast = estimate_fpga(encoder, SPEC, clock_ns=2.0)
    assert fast.luts == est.luts  # the logic does not depend on the clock
    assert fast.latency_cycles > est.latency_cycles
    assert fast.latency_cycles * 2.0 >= fast.delay  # every stage fits in a period


@pytest.mark.slow
def test_adding_neurons_costs_luts(encoder: torch.nn.Sequential) -> None:
    wide = quantized_mlp([57, 48, 16, 8], SPEC, final_activation=False)
    small_l, wide_l = _linears(encoder), _linears(wide)
    with torch.no_grad():
        # the wide network holds the trained one plus 16 extra first-layer neurons
        wide_l[0].weight[:32] = small_l[0].weight
        wide_l[0].bias[:32] = small_l[0].bias
        wide_l[0].weight[32:] = small_l[0].weight[:16]
        wide_l[1].weight.zero_()
        wide_l[1].weight[:, :32] = small_l[1].weight
        wide_l[1].weight[:, 32:] = 0.5
        wide_l[1].bias.copy_(small_l[1].bias)
        wide_l[2].load_state_dict(small_l[2].state_dict())
    assert estimate_fpga(wide, SPEC).luts > estimate_fpga(encoder, SPEC).luts


def test_constant_networks_cost_nothing() -> None:
    net = quantized_mlp([57, 32, 16, 8], SPEC, final_activation=False)
    with torch.no_grad():
        for lin in _linears(net):
            lin.weight.zero_()
            lin.bias.zero_()
    est = estimate_fpga(net, SPEC)
    assert (est.luts, est.latency_cycles, est.delay) == (0, 0, 0.0)
    with torch.no_grad():
        for lin in _linears(net):
            lin.bias.fill_(1.5)  # outputs still constant: wires to constants
    assert estimate_fpga(net, SPEC).luts == 0


@pytest.mark.parametrize(
    ("n", "luts", "depth"), [(2, 5, 1), (3, 5 + 6, 2), (8, 4 * 5 + 2 * 6 + 7, 3)]
)
def test_adder_tree_by_hand(n: int, luts: int, depth: int) -> None:
    # y = x_0 + ... + x_{n-1} on 5-bit signed integers, exact output: a balanced
    # adder tree, one LUT per operand bit of each adder (5-bit operands, then 6, 7)
    spec = QuantSpec(input=FixedPoint(5, 5), output=FixedPoint(8, 8, rounding="TRN"))
    net = quantized_mlp([n, 1], spec, final_activation=False)
    with torch.no_grad():
        net[1].weight.fill_(1.0)
        net[1].bias.zero_()
    logic = trace_logic(net, spec)
    assert logic.cost == luts
    assert logic.latency == (depth, depth)


def test_traced_logic_computes_the_torch_model(make_inputs, trainer) -> None:
    # with truncating formats (da4ml has no ties-to-even rounding) the da4ml logic is
    # the torch network, bit for bit, in da4ml's own interpreter
    trn = QuantSpec(
        input=FixedPoint(16, 6, rounding="TRN"),
        activation=FixedPoint(10, 6, signed=False, rounding="TRN"),
        output=FixedPoint(16, 8, rounding="TRN"),
    )
    torch.manual_seed(6)
    net = quantized_mlp([57, 16, 8], trn, final_activation=False)
    trainer(net, make_inputs(2000, 8), 8, steps=100)
    x = trn.input.quantize_numpy(make_inputs(500, 9))
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy().astype(np.float64)
    got = trace_logic(net, trn).predict(x.astype(np.float64))
    np.testing.assert_array_equal(got, want)
    assert np.unique(want).size > 20


def test_spec_mismatch_and_bad_clock() -> None:
    net = quantized_mlp([4, 3], SPEC, final_activation=False)
    other = QuantSpec(weight=FixedPoint(8, 3))
    with pytest.raises(ConfigError, match=r"spec\.weight"):
        estimate_fpga(net, other)
    with pytest.raises(ConfigError, match="clock_ns"):
        estimate_fpga(net, SPEC, clock_ns=0.0)


@pytest.mark.parametrize("training", [True, False])
def test_planning_keeps_the_training_mode(training: bool) -> None:
    torch.manual_seed(2)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 1)
    )
    net.train(training)
    plan = plan_network(net, None, None)
    assert [layer.kind for layer in plan.layers] == ["dense", "relu", "dense"]
    assert net.training is training
    assert all(m.training is training for m in net.modules())
