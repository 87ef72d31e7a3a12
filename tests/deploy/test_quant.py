from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pydantic
import pytest
import torch

from l1scout.deploy._qlayers import FixedPointQuantizer, QuantLinear, QuantReLU
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.quant import float_mlp, quantize, quantized_mlp
from l1scout.errors import ConfigError


def _reference(value: float, fmt: FixedPoint) -> float:
    """ap_fixed conversion by exact rational arithmetic, one value at a time."""
    scaled = Fraction(value) * Fraction(2) ** fmt.fractional
    # floor for AP_TRN; Python rounds Fractions half to even, as AP_RND_CONV
    n = math.floor(scaled) if fmt.rounding == "TRN" else round(scaled)
    if fmt.overflow == "SAT":
        n = min(max(n, fmt.int_min), fmt.int_max)
    else:
        span = 1 << fmt.width
        n = (n - fmt.int_min) % span + fmt.int_min
    return float(Fraction(n) / Fraction(2) ** fmt.fractional)


FORMATS = [
    FixedPoint(6, 3),
    FixedPoint(10, 7),
    FixedPoint(16, 6),
    FixedPoint(10, 6, signed=False),
    FixedPoint(6, 3, rounding="TRN"),
    FixedPoint(6, 3, overflow="WRAP"),
    FixedPoint(8, 2, signed=False, rounding="TRN", overflow="WRAP"),
    FixedPoint(5, 7),  # lsb 4: integer bits beyond the width
    FixedPoint(4, -1),  # all bits fractional, range +-1/4
]


def _values(fmt: FixedPoint) -> np.ndarray:
    rng = np.random.default_rng(fmt.width * 31 + fmt.integer)
    span = 2 * max(abs(fmt.min_value), abs(fmt.max_value)) + 1
    grid = np.arange(-40, 41) * fmt.lsb
    ties = grid + fmt.lsb / 2  # exactly halfway between two representable values
    return np.concatenate(
        [rng.uniform(-span, span, 400), grid, ties, [0.0, fmt.max_value, fmt.min_value]]
    ).astype(np.float32)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.hls())
def test_quantize_matches_exact_arithmetic(fmt: FixedPoint) -> None:
    x = _values(fmt)
    want = np.array([_reference(float(v), fmt) for v in x], dtype=np.float32)
    got_torch = quantize(torch.from_numpy(x), fmt).numpy()
    np.testing.assert_array_equal(got_torch, want)
    np.testing.assert_array_equal(fmt.quantize_numpy(x), want)
    assert fmt.quantize_numpy(x).dtype == np.float32
    got64 = fmt.quantize_numpy(x.astype(np.float64))
    assert got64.dtype == np.float64
    np.testing.assert_array_equal(got64, want.astype(np.float64))


def test_ties_round_to_even_and_saturate() -> None:
    w = FixedPoint(6, 3)  # lsb 1/8, range [-4, 3.875]
    x = [1 / 16, 3 / 16, -1 / 16, -3 / 16, 5.0, -5.0, 3.9]
    assert w.quantize_numpy(x).tolist() == [0.0, 0.25, 0.0, -0.25, 3.875, -4.0, 3.875]
    wrap = FixedPoint(6, 3, overflow="WRAP")
    assert wrap.quantize_numpy([4.0, -4.125]).tolist() == [-4.0, 3.875]


def test_format_properties_and_hls_strings() -> None:
    b = FixedPoint(10, 7)
    assert (b.lsb, b.min_value, b.max_value) == (0.125, -64.0, 63.875)
    a = FixedPoint(10, 6, signed=False)
    assert (a.lsb, a.min_value, a.max_value) == (1 / 16, 0.0, 64 - 1 / 16)
    assert FixedPoint(8, 2, rounding="TRN", overflow="WRAP").hls() == "ap_fixed<8,2,AP_TRN,AP_WRAP>"
    spec = QuantSpec()
    assert spec.weight.hls() == "ap_fixed<6,3,AP_RND_CONV,AP_SAT>"
    assert spec.bias.hls() == "ap_fixed<10,7,AP_RND_CONV,AP_SAT>"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0, "integer": 0}, "width"),
        ({"width": 65, "integer": 3}, "width"),
        ({"width": 6, "integer": 99}, "integer"),
        ({"width": 6, "integer": 3, "rounding": "RND"}, "rounding"),
        ({"width": 6, "integer": 3, "overflow": "SAT_SYM"}, "overflow"),
        ({"width": 6.0, "integer": 3}, "integer"),
    ],
)
def test_bad_formats_are_named(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FixedPoint(**kwargs)  # type: ignore[arg-type]


def test_spec_from_a_config_mapping_and_its_errors() -> None:
    spec = QuantSpec.model_validate({"weight": {"width": 8, "integer": 2}})
    assert spec.weight == FixedPoint(8, 2)
    assert spec.bias == FixedPoint(10, 7)
    with pytest.raises(pydantic.ValidationError, match=r"output[\s\S]*width must be"):
        QuantSpec.model_validate({"output": {"width": 0, "integer": 1}})
    with pytest.raises(pydantic.ValidationError, match="weight format must be signed"):
        QuantSpec(weight=FixedPoint(6, 3, signed=False))
    with pytest.raises(pydantic.ValidationError, match="extra"):
        QuantSpec.model_validate({"weights": {"width": 6, "integer": 3}})


def test_straight_through_gradient_is_the_identity() -> None:
    x = torch.tensor([0.01, 0.3, -7.0, 9.0], requires_grad=True)
    y = quantize(x, FixedPoint(6, 3))
    assert y.tolist() == [0.0, 0.25, -4.0, 3.875]
    y.backward(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert x.grad is not None
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_quantized_mlp_layers_and_formats() -> None:
    spec = QuantSpec()
    net = quantized_mlp([57, 32, 16, 8], spec, final_activation=False)
    kinds = [type(m) for m in net]
    assert kinds == [
        FixedPointQuantizer,
        QuantLinear,
        QuantReLU,
        QuantLinear,
        QuantReLU,
        QuantLinear,
        FixedPointQuantizer,
    ]
    assert net[0].fmt == spec.input
    assert net[-1].fmt == spec.output
    head = quantized_mlp([16, 8], spec, final_activation=True, quantize_input=False)
    assert [type(m) for m in head] == [QuantLinear, QuantReLU]
    with pytest.raises(ConfigError, match="layer sizes"):
        quantized_mlp([57], spec, final_activation=False)
    with pytest.raises(ConfigError, match="layer sizes"):
        quantized_mlp([57, 0, 8], spec, final_activation=False)


def _numpy_forward(net: torch.nn.Sequential, spec: QuantSpec, x: np.ndarray) -> np.ndarray:
    """The fixed-point network by hand: float64 sums, formats from the spec."""
    h = spec.input.quantize_numpy(x.astype(np.float64))
    linears = [m for m in net if isinstance(m, QuantLinear)]
    for i, lin in enumerate(linears):
        w = spec.weight.quantize_numpy(lin.weight.detach().double().numpy())
        b = spec.bias.quantize_numpy(lin.bias.detach().double().numpy())
        z = h @ w.T + b
        last = i == len(linears) - 1
        h = (
            spec.output.quantize_numpy(z)
            if last
            else spec.activation.quantize_numpy(np.maximum(z, 0))
        )
    return h


def test_quantized_forward_equals_hand_computation(make_inputs, trainer) -> None:
    torch.manual_seed(3)
    spec = QuantSpec()
    net = quantized_mlp([57, 32, 16, 8], spec, final_activation=False)
    x = make_inputs(2000, 1)
    before = [
        spec.weight.quantize_numpy(m.weight.detach().numpy())
        for m in net
        if isinstance(m, QuantLinear)
    ]
    trainer(net, x, 8, steps=100)
    after = [
        spec.weight.quantize_numpy(m.weight.detach().numpy())
        for m in net
        if isinstance(m, QuantLinear)
    ]
    assert any(
        (a != b).any() for a, b in zip(before, after, strict=True)
    )  # training moved the grid values
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    want = _numpy_forward(net, spec, x)
    np.testing.assert_array_equal(got.astype(np.float64), want)
    assert np.all(np.abs(got / spec.output.lsb - np.round(got / spec.output.lsb)) == 0)
    assert np.unique(got).size > 50


def test_float_mlp_layout() -> None:
    net = float_mlp([3, 32, 32, 3], batch_norm=True, dropout=0.1)
    names = [type(m).__name__ for m in net]
    assert names == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    plain = float_mlp([4, 8, 2], final_activation=True)
    assert [type(m).__name__ for m in plain] == ["Linear", "ReLU", "Linear", "ReLU"]
    with pytest.raises(ConfigError, match="dropout"):
        float_mlp([3, 4], dropout=1.0)
