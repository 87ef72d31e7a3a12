from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from l1scout.deploy.fixedpoint import QuantSpec
from l1scout.deploy.onnx import OnnxModel, export_onnx, onnx_parity
from l1scout.deploy.quant import float_mlp, quantized_mlp
from l1scout.errors import ConfigError, DataFormatError


class _TwoHeads(nn.Module):
    """A VAE-encoder-like model: a shared trunk, then mean and log-variance heads."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = quantized_mlp([57, 32, 16], QuantSpec(), final_activation=True)
        self.mu = nn.Linear(16, 8)
        self.logvar = nn.Linear(16, 8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.mu(h), self.logvar(h)


def _warm_batch_norm(net: nn.Module, n_in: int) -> None:
    """Give batch norm non-trivial running statistics."""
    net.train()
    with torch.no_grad():
        for _ in range(20):
            net(torch.rand(256, n_in) * 3 + 1)
    net.eval()


def test_float_mlp_parity_on_any_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = float_mlp([3, 32, 32, 32, 3], batch_norm=True, dropout=0.2)
    _warm_batch_norm(net, 3)
    path = export_onnx(net, 3, tmp_path / "sub" / "float.onnx")
    assert path == tmp_path / "sub" / "float.onnx"
    assert sorted(p.name for p in path.parent.iterdir()) == ["float.onnx"]  # no temp file left
    rng = np.random.default_rng(0)
    for n in (1, 1000):
        x = rng.uniform(0, 1, (n, 3)).astype(np.float32)
        assert onnx_parity(net, path, x) <= 1e-5
        assert OnnxModel(path).predict(x).shape == (n, 3)
    assert not net.training


def test_quantized_mlp_parity(tmp_path: Path, make_inputs, trainer) -> None:
    torch.manual_seed(1)
    net = quantized_mlp([57, 32, 16, 8], QuantSpec(), final_activation=False)
    trainer(net, make_inputs(4000, 2), 8, steps=100)
    path = export_onnx(net, 57, tmp_path / "q.onnx")
    for n, seed in ((1, 3), (1000, 4)):
        x = make_inputs(n, seed)
        assert onnx_parity(net, path, x) <= 1e-5
    # the fixed-point outputs agree exactly, not only to 1e-5
    x = make_inputs(1000, 5)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(OnnxModel(path, threads=1).predict(x), ref)


def test_two_outputs(tmp_path: Path, make_inputs) -> None:
    torch.manual_seed(2)
    net = _TwoHeads()
    path = export_onnx(net, 57, tmp_path / "two.onnx", output_names=("mu", "logvar"))
    model = OnnxModel(path)
    assert model.output_names == ["mu", "logvar"]
    x = make_inputs(1000, 6)
    mu, logvar = model.run(x)
    assert mu.shape == logvar.shape == (1000, 8)
    assert onnx_parity(net, path, x) <= 1e-5
    np.testing.assert_array_equal(model.predict(x[:1]), mu[:1])


def test_errors_name_the_problem(tmp_path: Path) -> None:
    net = float_mlp([3, 4, 2])
    with pytest.raises(ConfigError, match="returns 1 output"):
        export_onnx(net, 3, tmp_path / "x.onnx", output_names=("a", "b"))
    with pytest.raises(ConfigError, match="distinct"):
        export_onnx(net, 3, tmp_path / "x.onnx", input_name="y")
    with pytest.raises(DataFormatError, match="no such ONNX file"):
        OnnxModel(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DataFormatError, match="cannot load"):
        OnnxModel(bad)
    assert not (tmp_path / "x.onnx").exists()


def test_fixed_point_chain_is_folded_bit_exactly(tmp_path: Path, make_inputs, trainer) -> None:
    torch.manual_seed(3)
    net = quantized_mlp([57, 32, 16, 8], QuantSpec(), final_activation=False)
    trainer(net, make_inputs(4000, 7), 8, steps=100)
    path = export_onnx(net, 57, tmp_path / "q.onnx")
    folded, plain = OnnxModel(path, threads=1), OnnxModel(path, threads=1, fuse=False)
    assert folded.fused
    assert not plain.fused
    rng = np.random.default_rng(8)
    x = np.concatenate(
        [
            make_inputs(20_000, 9),
            (rng.standard_normal((2000, 57)) * 40).astype(np.float32),  # saturates
            rng.integers(-64, 64, (2000, 57)).astype(np.float32) / 2048,  # input ties
            np.full((2, 57), 1e30, dtype=np.float32) * np.array([[1], [-1]], dtype=np.float32),
        ]
    )
    got, want = folded.predict(x), plain.predict(x)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    with torch.no_grad():
        np.testing.assert_array_equal(got, net(torch.from_numpy(x)).numpy())


def test_other_graphs_run_as_written(tmp_path: Path) -> None:
    torch.manual_seed(4)
    net = float_mlp([3, 8, 2])
    path = export_onnx(net, 3, tmp_path / "f.onnx")
    assert not OnnxModel(path).fused
    two = export_onnx(_TwoHeads(), 57, tmp_path / "two.onnx", output_names=("mu", "logvar"))
    assert not OnnxModel(two).fused
