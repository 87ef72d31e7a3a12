"""Error messages print one line each, whole, whatever the terminal width or the path length."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l1scout.cli._common import print_error
from l1scout.cli.app import app

runner = CliRunner()  # not a terminal: rich would wrap at 80 columns


def _long_path(root: Path, name: str) -> Path:
    path = root.joinpath(*(f"level-{i}-" + "y" * 45 for i in range(5)), name)
    assert len(str(path)) > 200
    return path


def test_domain_error_with_a_long_path_is_one_line(tmp_path: Path) -> None:
    missing = _long_path(tmp_path, "nope.parquet")
    result = runner.invoke(app, ["inspect", str(missing)])
    assert result.exit_code == 2
    assert result.output == f"error: {missing}: no such file\n"


def test_error_text_is_not_rich_markup(tmp_path: Path) -> None:
    card = _long_path(tmp_path, "[bold]view[/].toml")
    result = runner.invoke(app, ["generate", "minbias", "-n", "1", "--view", str(card)])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: {card}: ")


def test_a_message_of_several_lines_prints_each_whole(tmp_path: Path) -> None:
    config = _long_path(tmp_path, "pipeline.toml")
    config.parent.mkdir(parents=True)
    config.write_text("[data]\nbogus = 1\n[tracking]\nnope = 2\n")
    result = runner.invoke(app, ["run", "anomaly", str(config)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert f"error: {config}: data.bogus: Extra inputs are not permitted (got 1)" in lines
    assert f"error: {config}: tracking.nope: Extra inputs are not permitted (got 2)" in lines
    assert all(line.startswith(f"error: {config}: ") for line in lines)


def test_print_error_never_wraps(capsys: pytest.CaptureFixture[str]) -> None:
    message = "a very long message " * 30 + "/and/a/path/" + "z" * 150
    print_error(message)
    assert capsys.readouterr().err == f"error: {message}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-command-" + "q" * 220], "Error: No such command 'no-such-command-{}'."),
        (["inspect", "a.parquet", "extra-" + "q" * 220], "(extra-{})"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Usage: l1scout" in result.output
    expected = message.format("q" * 220)
    assert any(expected in line for line in result.output.splitlines()), result.output
    assert "╭" not in result.output  # no rich panel around the message


def test_help_stays_rich() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "╭─ Options" in result.output
