"""``l1scout run classify``: the registry entry, the demo defaults and the printed results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1scout.cli import run as run_cli
from l1scout.cli.classify import load_classify, print_classify_result
from l1scout.tasks.classify.classes import CLASS_NAMES
from l1scout.tasks.classify.results import ClassifyResult, ModelResult, OnnxCheck
from l1scout.tasks.classify.training import ClassifierTrainResult


def test_classify_is_registered_with_the_demo_defaults() -> None:
    task = run_cli.get_task("classify")
    assert task.load is load_classify
    cfg = load_classify(None)
    assert cfg.name == "classify-demo"
    assert cfg.data.classes == CLASS_NAMES


def test_the_printed_results_give_the_mean_auc_per_model_and_view_and_the_onnx_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import torch

    def model(kind: str, view: str, auc: float, diff: float) -> ModelResult:
        return ModelResult(
            kind=kind,
            view=view,
            training=ClassifierTrainResult(torch.nn.Linear(1, 1)),
            model_file=tmp_path / f"{kind}-{view}.pt",
            auc=np.array([auc, auc]),
            mean_auc=auc,
            confusion=np.eye(2),
            trigger_bits=[],
            probabilities=np.zeros((0, 2), np.float32),
            onnx=OnnxCheck(tmp_path / f"{kind}-{view}.onnx", 10, diff),
        )

    result = ClassifyResult(
        report=tmp_path / "report.html",
        summary=tmp_path / "summary.json",
        classes=("qcd", "minbias"),
        views=("FullReco", "L1T"),
        rates_khz=(1.0, 10.0),
        crossing_rate_khz=31_039.0,
        labels=np.zeros(0, np.int64),
        models=[model("mlp", "FullReco", 0.91, 1e-7), model("mlp", "L1T", 0.87, 2e-5)],
        events={"train": 5, "validation": 2, "test": 3},
        stage_seconds={"train": 1.0},
    )
    print_classify_result(result)
    out = " ".join(capsys.readouterr().out.split())
    assert "mlp: 0.9100 | 0.8700" in out
    assert "mlp-FullReco.onnx" in out
    assert "on 10 test events: ok" in out
    assert (
        "mlp-L1T.onnx: max relative |torch - ONNX| 2e-05 (<= 1e-05) on 10 test events: FAILED"
        in out
    )
