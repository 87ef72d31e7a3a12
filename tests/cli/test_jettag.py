"""``l1scout run jettag``: the registry entry, the demo defaults and one-line config errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.cli.run import TASKS
from l1scout.tasks.jettag.config import demo_config

runner = CliRunner()


def test_jettag_is_registered_with_the_demo_defaults() -> None:
    task = TASKS["jettag"]
    assert "\n" not in task.help
    assert task.load(None) == demo_config()
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "jettag" in result.output


def test_a_bad_config_is_one_line_before_any_work(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[data]\nsignal = "ggHbb"\n')
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "jettag", str(config), "--out", str(out)])
    assert result.exit_code != 0
    assert result.output.startswith("error: ")
    assert "data: signal: 'ggHbb' is not among the samples" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
