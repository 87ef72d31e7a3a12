"""hls4ml emulation of the small re-calibration network inside the study (one slow test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.tasks.recalib.config import RecalibConfig
from l1scout.tasks.recalib.study import run_study
from l1scout.tasks.recalib.synthetic import synthetic_dataset


@pytest.mark.slow
def test_32x3_network_emulated_in_firmware(tmp_path: Path) -> None:
    cfg = RecalibConfig(
        models=[{"kind": "nn", "arch": "32x3", "batch_size": 64, "epochs": 6, "patience": 3}],
        tracking={"enabled": False},
        outputs={"firmware": True, "firmware_events": 150, "plots": False},
        threads=1,
    )
    data = {"muon": synthetic_dataset("muon", 1200, seed=5)}
    result = run_study(cfg, tmp_path, datasets=data)
    fw = result.firmware
    assert fw is not None
    assert fw.error is None, fw
    assert fw.model == "nn-32x3-mse"
    assert fw.events == 150
    assert fw.path is not None
    assert fw.path.is_dir()
    # ap_fixed<18,8> everywhere (lsb 2^-10): the emulation follows torch to a few LSB ...
    assert fw.lsb == 2.0**-10
    assert fw.max_abs_diff < 40 * fw.lsb
    assert fw.within_lsb > 0.1
    # ... and corrects as well as torch does on the same events
    for target, rmse in fw.rmse.items():
        assert rmse == pytest.approx(fw.rmse_torch[target], rel=0.05), target
    assert "hls4ml emulation" in result.report.read_text()
