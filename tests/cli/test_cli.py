from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["generate"],
        ["processes"],
        ["inspect"],
        ["demo"],
        ["produce"],
        ["check"],
        ["run"],
        ["mlflow-ui"],
        ["recalib"],
        ["pipeline", "anomaly"],
    ],
)
def test_help_is_useful(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_processes_table() -> None:
    result = runner.invoke(app, ["processes", "--group", "BSM"])
    assert result.exit_code == 0
    assert "ADC2021_A50_4l" in result.output
    assert "minbias" not in result.output


def test_generate_then_inspect(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "generate",
            "ggHgammagamma",
            "-n",
            "4",
            "--pileup",
            "5",
            "--pool-size",
            "50",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "ggHgammagamma" / "ggHgammagamma-NEVENT4-RS3.parquet"
    assert path.is_file()
    shown = runner.invoke(app, ["inspect", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "4 events" in shown.output
    assert "Gen_Part_PT" in shown.output
    assert "mean pileup collisions" in shown.output
    text = " ".join(shown.output.split())
    assert "schema: l1scout" in text
    assert "process: ggHgammagamma" in text
    assert "PUPPIPart" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "ggHtautua", "-n", "1"], "did you mean 'ggHtautau'"),
        (["generate", "ggHtautau", "-n", "1", "--seed", "0"], "seed"),
        (["generate", "x", "--lhe", "/nonexistent.lhe"], "does not exist"),
        (["inspect", "/nonexistent.parquet"], "no such file"),
        (["generate", "minbias", "-n", "1", "--view", "Bogus"], "not a shipped view"),
        (["generate", "minbias", "-n", "1", "--view", "/nonexistent.toml"], "nonexistent.toml"),
    ],
)
def test_errors_are_clear(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_inspect_rejects_a_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    result = runner.invoke(app, ["inspect", str(bad)])
    assert result.exit_code == 2
    assert "bad.parquet" in result.output
