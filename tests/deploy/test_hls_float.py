"""A floating-point network (3-32-32-32-3 with batch norm) through hls4ml at the default precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from l1scout.deploy.hls import FLOAT_DEFAULT, build_firmware
from l1scout.deploy.quant import float_mlp


def _folded(mods: list[nn.Module], i: int) -> torch.Tensor:
    w = mods[i].weight.double()
    if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm1d):
        bn = mods[i + 1]
        w = w * (bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps))[:, None]
    return w


def _error_bounds(model: nn.Sequential, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per event and output: a worst-case bound and the rounding-noise standard deviation.

    Every tensor is in FLOAT_DEFAULT (lsb 2**-10). For a dense layer z = W h + b (batch
    norm folded in) the emulation computes Q(W' h' + b') with W', b' rounded to the grid
    (|W' - W| <= lsb/2, same for b), h' its input off by e, and Q rounding the result:

    * worst case: |z' - z| <= (|W| + lsb/2) e + lsb/2 ||h||_1 + lsb, row by row;
    * as noise (roundings independent, uniform, variance lsb**2/12):
      var(z' - z) = W**2 var(e) + lsb**2/12 (||h||_2**2 + 2).

    ReLU is 1-Lipschitz and exact on the grid (its inactive units drop the noise).
    No value comes near the range limits (checked), so nothing saturates.
    """
    lsb = FLOAT_DEFAULT.lsb
    h = torch.from_numpy(x).double()
    worst = torch.full_like(h, lsb / 2)
    var = torch.full_like(h, lsb**2 / 12)
    mods = list(model)
    with torch.no_grad():
        for i, mod in enumerate(mods):
            if isinstance(mod, nn.Linear):
                w = _folded(mods, i)
                worst = worst @ (w.abs() + lsb / 2).T + lsb / 2 * h.abs().sum(1, keepdim=True) + lsb
                var = var @ (w**2).T + lsb**2 / 12 * ((h**2).sum(1, keepdim=True) + 2)
            h = mod.double()(h)
            mod.float()
            if isinstance(mod, nn.ReLU):
                var = var * (h > 0)
            assert float(h.abs().max()) < FLOAT_DEFAULT.max_value / 2
    return worst.numpy(), np.sqrt(var.numpy())


@pytest.mark.slow
def test_float_network_within_its_rounding_bound(tmp_path: Path) -> None:
    torch.manual_seed(31)
    model = float_mlp([3, 32, 32, 32, 3], batch_norm=True, dropout=0.1)
    rng = np.random.default_rng(32)
    x_train = torch.from_numpy(rng.uniform(0, 1, (4096, 3)).astype(np.float32))
    target = torch.sin(3 * x_train) @ torch.randn(3, 3)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(300):
        idx = torch.randint(0, 4096, (256,), generator=torch.Generator().manual_seed(step))
        loss = ((model(x_train[idx]) - target[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    project = build_firmware(model, 3, tmp_path / "float", project_name="recalib")
    assert project.output == FLOAT_DEFAULT
    x = rng.uniform(0, 1, (5000, 3)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = project.predict(x)
    diff = np.abs(got.astype(np.float64) - want)
    worst, sigma = _error_bounds(model, x)
    assert np.all(diff <= worst + 1e-5)  # + float32 rounding of the torch side
    rms, predicted = np.sqrt((diff**2).mean()), np.sqrt((sigma**2).mean())
    assert predicted / 3 < rms < 3 * predicted  # the differences are the rounding noise
    assert diff.max() > 0  # not a trivially exact case: weights really were rounded
    defines = (project.path / "firmware" / "defines.h").read_text()
    assert "ap_fixed<18,8,AP_RND_CONV,AP_SAT,0> input_t;" in defines
