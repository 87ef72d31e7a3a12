"""The jet tagger's firmware: bit-exact integer emulation and hls4ml C++ against torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from l1scout.deploy.flops import count_ops
from l1scout.errors import ConfigError, DataFormatError, L1ScoutError
from l1scout.tasks.jettag.firmware import (
    JetTagFirmware,
    build_jettag_firmware,
    emulate_jettag,
    estimate_jettag_fpga,
    firmware_inputs,
    jettag_emulator,
    jettag_networks,
    jettag_op_count,
    pooled_format,
)
from l1scout.tasks.jettag.model import JetTagDeepSets, JetTagModelConfig, fit_standardization

from .test_model import N, random_jets, run, spread_model


def saturating_jets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`random_jets` with 2 % of the features far outside the input range."""
    x, mask = random_jets(rng, n)
    wild = rng.random(x.shape) < 0.02
    x[wild] = rng.normal(size=int(wild.sum())) * 1e3
    return x, mask


def fitted(
    config: JetTagModelConfig | None = None, seed: int = 0, width: float = 0.5
) -> JetTagDeepSets:
    model: JetTagDeepSets = spread_model(config, seed=seed, width=width)
    x, mask = random_jets(np.random.default_rng(100 + seed), 2000)
    fit_standardization(model, x, mask)
    return model


@pytest.mark.parametrize(
    "config",
    [
        JetTagModelConfig(),
        JetTagModelConfig(pooling="sum", phi_widths=(16, 8, 8), rho_widths=(16, 8)),
    ],
)
def test_integer_emulation_equals_torch_bit_for_bit(config: JetTagModelConfig) -> None:
    model = fitted(config, seed=1, width=1.0)
    x, mask = saturating_jets(np.random.default_rng(1), 5000)
    ref = run(model, x, mask)
    got = emulate_jettag(model, x, mask)
    assert np.array_equal(got, ref)
    # saturations were exercised: inputs beyond the input range, ReLUs at their maximum
    fm = config.formats
    slots = firmware_inputs(model, x, mask).reshape(-1, 22)
    assert np.mean(np.abs(slots) > fm.input.max_value) > 0.005
    phi, _ = jettag_networks(model)
    with torch.no_grad():
        hidden = phi.double()(torch.from_numpy(slots).double()).numpy()
    assert np.any(hidden == fm.activation.max_value)
    assert len(np.unique(ref)) > 1000


@pytest.mark.slow
def test_integer_emulation_equals_torch_on_100k_jets() -> None:
    model = fitted(seed=2)
    x, mask = saturating_jets(np.random.default_rng(2), 100_000)
    ref = np.concatenate(
        [run(model, x[i : i + 25_000], mask[i : i + 25_000]) for i in range(0, 100_000, 25_000)]
    )
    got = emulate_jettag(model, x, mask)
    assert got.shape == (100_000, 9)
    assert np.array_equal(got, ref)


def test_padding_is_masked_in_the_emulation() -> None:
    model = fitted(seed=3)
    x, mask = random_jets(np.random.default_rng(3), 500)
    emu = jettag_emulator(model)
    ref = emu.predict(x, mask)
    x2 = x.copy()
    x2[~mask] = -7e3
    assert np.array_equal(emu.predict(x2, mask), ref)
    slots = firmware_inputs(model, x2, mask)
    assert slots.shape == (500, N, 22)
    assert np.all(slots[~mask] == 0.0)
    assert np.array_equal(slots[..., 21], mask.astype(np.float32))
    # a padded slot gives exactly zero out of phi
    phi, _ = jettag_networks(model)
    with torch.no_grad():
        assert float(phi(torch.zeros(3, 22)).abs().max()) == 0.0


def test_pooled_format_holds_every_sum() -> None:
    for pooling in ("mean", "sum"):
        model = JetTagDeepSets(JetTagModelConfig(pooling=pooling))
        fmt = pooled_format(model)
        act = model.config.formats.activation
        worst = N * act.max_value * model.pool_weight
        assert fmt.max_value >= worst
        assert fmt.lsb <= act.lsb * model.pool_weight  # no bit of a sum dropped
    assert pooled_format(JetTagDeepSets(JetTagModelConfig(pooling="sum"))).hls() == (
        "ap_ufixed<14,9,AP_RND_CONV,AP_SAT>"
    )


def test_float_model_has_no_firmware() -> None:
    model = JetTagDeepSets(JetTagModelConfig(quantized=False))
    with pytest.raises(ConfigError, match="quantized"):
        jettag_networks(model)
    with pytest.raises(ConfigError, match="quantized"):
        emulate_jettag(model, np.zeros((1, N, 21)), np.ones((1, N), dtype=bool))


def test_shapes_are_checked() -> None:
    model = fitted(seed=4)
    with pytest.raises(DataFormatError, match=r"\(n, 16, 21\)"):
        emulate_jettag(model, np.zeros((2, N, 20)), np.ones((2, N), dtype=bool))
    with pytest.raises(DataFormatError, match=r"\(n, 16\)"):
        jettag_emulator(model).predict(np.zeros((2, N, 21)), np.ones((2, 8), dtype=bool))


def test_op_count_counts_the_shared_weights_once_per_slot() -> None:
    model = JetTagDeepSets(JetTagModelConfig())
    ops = jettag_op_count(model)
    phi = nn.Sequential(nn.Linear(22, 32, bias=False), nn.ReLU())
    phi2 = nn.Sequential(nn.Linear(33, 32, bias=False), nn.ReLU())
    rho = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 9))
    c1, c2, c3 = count_ops(phi, 22), count_ops(phi2, 33), count_ops(rho, 32)
    assert ops.macs == N * (c1.macs + c2.macs) + c3.macs
    pool = (N - 1) * 32 + 32
    assert ops.flops == N * (c1.flops + c2.flops) + pool + c3.flops
    assert ops.params == sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> tuple[JetTagDeepSets, JetTagFirmware]:
    model = fitted(seed=5)
    folder = tmp_path_factory.mktemp("jettag_fw")
    return model, build_jettag_firmware(model, folder)


@pytest.mark.slow
def test_hls4ml_emulation_equals_torch_bit_for_bit(
    firmware: tuple[JetTagDeepSets, JetTagFirmware],
) -> None:
    model, fw = firmware
    x, mask = saturating_jets(np.random.default_rng(5), 1500)
    x[:5] = 0.0
    mask[:5] = False  # empty jets
    ref = run(model, x, mask)
    hls = fw.predict(x, mask)
    assert np.array_equal(hls, ref)
    assert np.array_equal(fw.predict(x, mask, engine="integer"), ref)
    # garbage in padded slots is masked in the C++ too
    x2 = x.copy()
    x2[~mask] = 5e3
    assert np.array_equal(fw.predict(x2[:300], mask[:300]), ref[:300])


@pytest.mark.slow
def test_firmware_folder_reloads(
    firmware: tuple[JetTagDeepSets, JetTagFirmware], tmp_path: Path
) -> None:
    model, fw = firmware
    again = JetTagFirmware.load(fw.path)
    x, mask = random_jets(np.random.default_rng(6), 50)
    assert np.array_equal(again.predict(x, mask), run(model, x, mask))
    assert again.n_constituents == N
    assert again.pool_weight == 1.0 / N
    with pytest.raises(L1ScoutError, match="build_jettag_firmware"):
        JetTagFirmware.load(tmp_path)


def test_fpga_estimate_grows_with_the_weights() -> None:
    small = JetTagModelConfig(phi_widths=(8,), rho_widths=(8,))
    model = fitted(small, seed=7)
    phi, rho = estimate_jettag_fpga(model)
    assert phi.luts > 0
    assert rho.luts > 0
    assert phi.dsps == rho.dsps == 0
    with torch.no_grad():
        for layer in model.phi_layers:
            layer.weight.zero_()
    empty_phi, same_rho = estimate_jettag_fpga(model)
    assert empty_phi.luts < phi.luts
    assert same_rho.luts == rho.luts
