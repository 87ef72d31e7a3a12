"""The integer emulation against hls4ml's compiled C++ emulation, bit for bit."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout.deploy._plan import plan_network
from l1scout.deploy.emulate import FixedPointEmulator, input_batch, load_plan, save_plan
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.hls import PLAN, FirmwareProject, build_firmware
from l1scout.deploy.quant import float_mlp, quantized_mlp
from l1scout.errors import ConfigError, L1ScoutError

SPEC = QuantSpec()
#: Formats off the default path: floor rounding, wrapping, a signed activation.
ODD_SPEC = QuantSpec(
    input=FixedPoint(12, 4, rounding="TRN", overflow="WRAP"),
    weight=FixedPoint(5, 2),
    bias=FixedPoint(8, 4, rounding="TRN"),
    activation=FixedPoint(8, 3, rounding="TRN", overflow="WRAP"),
    output=FixedPoint(10, 3, overflow="WRAP"),
)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def hard_inputs(rng: np.random.Generator, n: int, n_features: int, fmt: FixedPoint) -> np.ndarray:
    """Inputs that probe every corner of the input conversion, ``n`` rows of each kind."""
    lsb = fmt.lsb
    ties = (rng.integers(fmt.int_min, fmt.int_max, (n, n_features)) + 0.5) * lsb  # exact ties
    edges = rng.choice(
        [
            *(fmt.min_value, fmt.max_value, fmt.max_value + lsb / 2, fmt.min_value - lsb / 2),
            *(fmt.max_value + lsb, fmt.min_value - lsb, -lsb / 2, lsb / 2, -lsb / 4),
        ],
        (n, n_features),
    )
    huge = rng.choice([1e3, -1e3, 1e30, -1e30, 3e38, -3e38, np.inf, -np.inf], (n, n_features))
    tiny = rng.choice([1e-40, -1e-40, 1e-30, -1e-30, -0.0, 0.0], (n, n_features))
    wide = rng.standard_normal((n, n_features)) * 4 * fmt.max_value  # saturates often
    zeros = np.zeros((n, n_features))
    mixed = np.where(rng.random((n, n_features)) < 0.3, huge, ties)
    return np.concatenate([ties, edges, huge, tiny, wide, zeros, mixed]).astype(np.float32)


@pytest.fixture(scope="module")
def encoder(make_inputs, trainer) -> torch.nn.Sequential:
    torch.manual_seed(11)
    net = quantized_mlp([57, 32, 16, 8], SPEC, final_activation=False)
    trainer(net, make_inputs(5000, 12), 8, steps=300)
    return net


@pytest.fixture(scope="module")
def project(
    encoder: torch.nn.Sequential, tmp_path_factory: pytest.TempPathFactory
) -> FirmwareProject:
    return build_firmware(encoder, 57, tmp_path_factory.mktemp("fw") / "encoder", spec=SPEC)


@pytest.mark.slow
def test_encoder_bit_exact_on_120k_events(
    project: FirmwareProject, encoder: torch.nn.Sequential, make_inputs
) -> None:
    """100k trigger-like events plus 21k that saturate, tie, underflow or are zero."""
    rng = np.random.default_rng(21)
    x = np.concatenate([make_inputs(100_000, 22), hard_inputs(rng, 3000, 57, SPEC.input)])
    x[rng.choice(len(x), 20, replace=False), 3] = np.nan  # read by ap_fixed as +-huge
    x[rng.choice(len(x), 20, replace=False), 5] = -np.nan
    assert len(x) >= 120_000
    want = project.predict(x, threads=2)
    got = project.predict(x, engine="integer", threads=2)
    direct = FixedPointEmulator.from_model(encoder, 57, spec=SPEC).predict(x, threads=1)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    np.testing.assert_array_equal(_bits(direct), _bits(want))
    # the test data reach the corners: saturated hidden activations, many distinct outputs
    assert np.unique(want).size > 1000
    with torch.no_grad():
        hidden = encoder[:3](torch.from_numpy(np.nan_to_num(x))).numpy()
    assert (hidden == SPEC.activation.max_value).any(axis=1).mean() > 0.01
    assert project.emulator() is project.emulator()  # cached


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["odd_formats", "float_batch_norm"])
def test_other_formats_bit_exact(kind: str, tmp_path: Path, make_inputs, trainer) -> None:
    """Floor rounding, wrapping, signed activations; a float network (rounded dense results)."""
    torch.manual_seed(5)
    x_train = make_inputs(3000, 31)[:, :9]
    if kind == "odd_formats":
        net = quantized_mlp([9, 12, 6, 3], ODD_SPEC, final_activation=False)
        spec: QuantSpec | None = ODD_SPEC
        fmt = ODD_SPEC.input
    else:
        net = float_mlp([9, 12, 6, 3], batch_norm=True)
        spec = None
        fmt = plan_network(net, 9, None).input
    trainer(net, x_train, 3, steps=150)
    project = build_firmware(net, 9, tmp_path / kind, spec=spec)
    rng = np.random.default_rng(32)
    x = np.concatenate([make_inputs(30_000, 33)[:, :9] * 3, hard_inputs(rng, 1000, 9, fmt)])
    want = project.predict(x, threads=2)
    got = project.predict(x, engine="integer")
    np.testing.assert_array_equal(_bits(got), _bits(want))
    assert np.unique(want).size > 100


def test_matches_torch_and_plan_round_trip(encoder: torch.nn.Sequential, tmp_path: Path) -> None:
    """Without g++: the torch model (bit-exact with hls4ml, test_hls_quant) on ordinary inputs."""
    x = np.random.default_rng(3).standard_normal((5000, 57)).astype(np.float32) * 2
    plan = plan_network(encoder, 57, SPEC)
    emulator = FixedPointEmulator.from_plan(plan)
    with torch.no_grad():
        want = encoder(torch.from_numpy(x)).numpy()
    got = emulator.predict(x)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    assert emulator.bits < 28  # 57 x 2**15 x 2**5 and the bias
    save_plan(plan, tmp_path / "plan.npz")
    again = FixedPointEmulator.from_plan(load_plan(tmp_path / "plan.npz"))
    np.testing.assert_array_equal(_bits(again.predict(x, threads=3)), _bits(got))
    np.testing.assert_array_equal(again.predict(x[4]), got[4])
    assert again.predict(x[:0]).shape == (0, 8)
    with pytest.raises(L1ScoutError, match=r"\(n, 57\)"):
        emulator.predict(np.zeros((2, 56)))
    with pytest.raises(ConfigError, match="threads"):
        emulator.predict(x, threads=0)
    with pytest.raises(L1ScoutError, match="not a firmware plan"):
        load_plan(tmp_path / "missing.npz")


def test_refuses_what_it_cannot_compute_exactly(tmp_path: Path, caplog) -> None:
    """Sums beyond 2**53 are refused; a project then falls back to hls4ml (logged)."""
    wide = QuantSpec(input=FixedPoint(50, 24), output=FixedPoint(20, 8))
    net = quantized_mlp([40, 4], wide, final_activation=False)
    with torch.no_grad():
        net[1].weight.fill_(1.0)  # sums up to 40 x 2**49 input lsb
    with pytest.raises(ConfigError, match="2\\*\\*53"):
        FixedPointEmulator.from_model(net, 40, spec=wide)
    project = build_firmware(net, 40, tmp_path / "wide", spec=wide, compile=False)
    assert (project.path / PLAN).is_file()
    with caplog.at_level(logging.WARNING), pytest.raises(L1ScoutError, match="not compiled"):
        project.predict(np.zeros((2, 40)), engine="integer")
    assert "using hls4ml" in caplog.text
    with pytest.raises(ConfigError, match="engine"):
        project.predict(np.zeros((2, 40)), engine="fast")  # type: ignore[arg-type]


def test_inputs_of_the_wrong_shape_are_refused_by_name() -> None:
    batch, single = input_batch([1.0, 2.0, 3.0], 3, "the emulation")
    assert batch.shape == (1, 3)
    assert batch.dtype == np.float32
    assert single
    with pytest.raises(
        L1ScoutError, match=r"firmware x expects inputs of shape \(n, 3\), got \(2, 4\)"
    ):
        input_batch(np.zeros((2, 4)), 3, "firmware x")
