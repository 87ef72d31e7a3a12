"""A trunk and a head chained (as a VAE encoder is deployed), with truncating and wrapping formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.hls import build_firmware
from l1scout.deploy.quant import quantized_mlp

# AP_TRN activations and an AP_TRN/AP_WRAP output with ample headroom: the other
# rounding and overflow modes, end to end
SPEC = QuantSpec(
    activation=FixedPoint(10, 6, signed=False, rounding="TRN"),
    output=FixedPoint(18, 10, rounding="TRN", overflow="WRAP"),
)


@pytest.mark.slow
def test_chained_trunk_and_head_are_bit_exact(make_inputs, trainer, tmp_path: Path) -> None:
    torch.manual_seed(21)
    model = torch.nn.Sequential(
        quantized_mlp([57, 32, 16], SPEC, final_activation=True),
        quantized_mlp([16, 8], SPEC, final_activation=False, quantize_input=False),
    )
    trainer(model, make_inputs(4000, 22), 8, steps=200)
    project = build_firmware(model, 57, tmp_path / "chain", spec=SPEC, project_name="chain")
    assert project.output == SPEC.output
    assert (project.n_inputs, project.n_outputs) == (57, 8)
    x = make_inputs(3000, 23)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = project.predict(x)
    np.testing.assert_array_equal(got, want)
    assert np.unique(want).size > 100
    defines = (project.path / "firmware" / "defines.h").read_text()
    assert "ap_ufixed<10,6,AP_TRN,AP_SAT,0>" in defines
    assert "typedef ap_fixed<18,10> result_t;" in defines  # AP_TRN, AP_WRAP: ap_fixed's defaults
