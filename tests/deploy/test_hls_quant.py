"""The deployed encoder (57-32-16-8, default formats) through hls4ml: bit-exact emulation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.hls import FirmwareProject, build_firmware
from l1scout.deploy.quant import quantized_mlp
from l1scout.errors import ConfigError, L1ScoutError

SPEC = QuantSpec()


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


@pytest.fixture(scope="module")
def events(make_inputs) -> np.ndarray:
    x = make_inputs(10_000, 13)
    # a few events beyond the input range (+-32): the input conversion saturates
    rng = np.random.default_rng(14)
    rows = rng.choice(len(x), 100, replace=False)
    x[rows, rng.integers(0, 57, 100)] = rng.choice([-50.0, 40.0, 1000.0], 100)
    return x


@pytest.mark.slow
def test_emulation_is_bit_exact(
    project: FirmwareProject, encoder: torch.nn.Sequential, events: np.ndarray
) -> None:
    with torch.no_grad():
        want = encoder(torch.from_numpy(events)).numpy()
    got = project.predict(events)
    assert got.shape == (10_000, 8)
    assert got.dtype == np.float32
    lsb = project.output.lsb if project.output is not None else 0.0
    assert project.output == SPEC.output
    within_lsb = np.all(np.abs(got - want) <= lsb, axis=1).mean()
    exact = np.all(got == want, axis=1).mean()
    assert within_lsb >= 0.999
    assert exact == 1.0
    assert np.unique(want).size > 100  # a trained model, not a constant


@pytest.mark.slow
def test_threads_single_events_and_bad_shapes(project: FirmwareProject, events: np.ndarray) -> None:
    x = events[:3000]
    one = project.predict(x, threads=1)
    np.testing.assert_array_equal(project.predict(x, threads=2), one)
    np.testing.assert_array_equal(project.predict(x[5]), one[5])
    assert project.predict(x[:0]).shape == (0, 8)
    with pytest.raises(L1ScoutError, match=r"\(n, 57\)"):
        project.predict(np.zeros((4, 56)))
    with pytest.raises(ConfigError, match="threads"):
        project.predict(x, threads=0)


@pytest.mark.slow
def test_batch_entry_equals_per_event_calls(project: FirmwareProject, events: np.ndarray) -> None:
    """The C++ batch loop gives the per-event emulation bit for bit, on any chunking."""
    bridge = (project.path / "l1scout_model_bridge.cpp").read_text()
    assert "l1scout_model_float_batch" in bridge
    rng = np.random.default_rng(15)
    wide = (rng.standard_normal((3000, 57)) * 20).astype(np.float32)  # often saturates
    x = np.concatenate([events[:3000], wide])
    old = project._run(x, 1, per_event=True)
    for threads in (1, 2, 3):
        got = project.predict(x, threads=threads)
        np.testing.assert_array_equal(got.view(np.uint32), old.view(np.uint32))
    np.testing.assert_array_equal(project.predict(x[7]), old[7])


@pytest.mark.slow
def test_project_is_relocatable(
    project: FirmwareProject, events: np.ndarray, tmp_path: Path
) -> None:
    meta = json.loads((project.path / "l1scout_firmware.json").read_text())
    assert meta["backend"] == "Vitis"
    assert meta["io_type"] == "io_parallel"
    assert meta["strategy"] == "Latency"
    config = (project.path / "hls4ml_config.yml").read_text()
    assert "Vitis" in config
    assert "io_parallel" in config
    defines = (project.path / "firmware" / "defines.h").read_text()
    assert "ap_fixed<6,3,AP_RND_CONV,AP_SAT,0>" in defines  # weights
    assert "ap_fixed<10,7,AP_RND_CONV,AP_SAT,0>" in defines  # biases
    assert not list((project.path / "firmware" / "weights").glob("*.txt"))  # compiled in
    moved = tmp_path / "moved"
    shutil.copytree(project.path, moved)
    parked = project.path.with_name("parked")
    project.path.rename(parked)  # the original folder is gone while the copy runs
    try:
        loaded = FirmwareProject.load(moved)
        assert loaded.n_inputs == 57
        assert loaded.output == SPEC.output
        got = loaded.predict(events[:500])
    finally:
        parked.rename(project.path)
    np.testing.assert_array_equal(got, project.predict(events[:500]))


def test_spec_mismatch_is_refused_before_writing(tmp_path: Path) -> None:
    net = quantized_mlp([57, 32, 16, 8], SPEC, final_activation=False)
    with pytest.raises(ConfigError, match=r"spec\.bias"):
        build_firmware(net, 57, tmp_path / "fw", spec=QuantSpec(bias=FixedPoint(12, 7)))
    with pytest.raises(ConfigError, match="expects 57 inputs"):
        build_firmware(net, 50, tmp_path / "fw", spec=SPEC)
    with pytest.raises(ConfigError, match="cannot deploy"):
        build_firmware(
            torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()), 3, tmp_path / "fw"
        )
    with pytest.raises(ConfigError, match="identifier"):
        build_firmware(net, 57, tmp_path / "fw", project_name="my-model")
    assert not (tmp_path / "fw").exists()
    with pytest.raises(L1ScoutError, match="not a firmware project"):
        FirmwareProject.load(tmp_path)


def test_project_without_compiling(tmp_path: Path) -> None:
    net = quantized_mlp([4, 3], SPEC, final_activation=True)
    project = build_firmware(net, 4, tmp_path / "src_only", spec=SPEC, compile=False)
    assert not project.compiled
    assert (project.path / "firmware" / "l1scout_model.cpp").is_file()
    assert project.output == SPEC.activation
    assert FirmwareProject.load(project.path) == project
    with pytest.raises(L1ScoutError, match="not compiled"):
        project.predict(np.zeros((2, 4)))
