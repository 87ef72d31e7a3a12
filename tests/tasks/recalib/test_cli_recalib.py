"""``l1scout run recalib``: the tiny example study from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "recalib"
runner = CliRunner()


def test_help() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--data", "--tracking-uri", "--no-firmware"):
        assert option in result.output


@pytest.mark.slow
def test_tiny_study(tmp_path: Path) -> None:
    out = tmp_path / "report"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "run",
        "recalib",
        str(EXAMPLES / "tiny.toml"),
        "--out",
        str(out),
        "--tracking-uri",
        uri,
        "--no-firmware",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "muon RMSE" in result.output
    assert "jet RMSE" in result.output
    assert "L1 (no correction)" in result.output
    assert "Nystrom KRR, Gaussian, M=50" in result.output
    assert "operations per inference" in result.output
    assert "3,296" in result.output
    assert "muon phi: the best correction" in result.output
    assert f"report: {out / 'index.html'}" in result.output
    assert (out / "index.html").is_file()
    assert (out / "results.json").is_file()
    assert not (out / "firmware").exists()  # --no-firmware
    # each model: its ONNX file and its own plots (logged with its MLflow run)
    for name in (
        "nn-32x3-mse.onnx",
        "nn-32x3-mse.png",
        "nn-32x3-mse_training.png",
        "krr-gaussian-m50.png",
    ):
        assert (out / "models" / "muon" / name).is_file(), name
    assert (out / "models" / "jet" / "krr-gaussian-m50.onnx").is_file()
    assert (tmp_path / "mlflow.db").is_file()


def test_bad_study_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[models]]\nkind = "nn"\narch = "big"\n')
    result = runner.invoke(app, ["run", "recalib", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "models[0].arch" in result.output
