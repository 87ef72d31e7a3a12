"""``l1scout run TASK``: the task registry, the shared options, the deprecated spellings and demo."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import l1scout.cli.demo as demo_cli
from l1scout.cli import run as run_cli
from l1scout.cli._common import RunOptions, Task
from l1scout.cli.app import app
from l1scout.errors import ConfigError

runner = CliRunner()


class _Recorder:
    """A task entry's loader and run function that record what they get."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path | None, RunOptions]] = []

    def load(self, path: Path | None) -> Path | None:
        return path

    def run(self, config: Path | None, options: RunOptions) -> None:
        self.calls.append((config, options))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, _Recorder]:
    """Every registered task replaced by a recorder (same names, same help)."""
    recorders: dict[str, _Recorder] = {}
    for name, task in list(run_cli.TASKS.items()):
        rec = recorders[name] = _Recorder()
        monkeypatch.setitem(run_cli.TASKS, name, Task(name, task.help, rec.load, rec.run))
    return recorders


def test_registry_entries() -> None:
    assert list(run_cli.TASKS) == [
        "anomaly",
        "recalib",
        "taus",
        "mlpf",
        "classify",
        "jettag",
        "scouting",
        "compress",
    ]
    for name, task in run_cli.TASKS.items():
        assert task.name == name
        assert task.help
        assert "\n" not in task.help  # one line for `l1scout run --help`
        assert callable(task.load)
        assert callable(task.run)


def test_run_help_lists_the_tasks_and_the_shared_options() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for name, task in run_cli.TASKS.items():
        assert f"{name}: {task.help.split()[0]}" in text
    for option in ("--out", "--data", "--tracking-uri", "--no-firmware"):
        assert option in text
    top = runner.invoke(app, ["--help"])
    commands = set(re.findall(r"^│ ([a-z-]+) {2,}", top.output, flags=re.MULTILINE))
    assert "run" in commands
    assert "demo" in commands
    assert not commands & {"recalib", "pipeline"}  # deprecated: hidden, still working


def test_unknown_task_is_one_line_naming_the_tasks(recorded: dict[str, _Recorder]) -> None:
    result = runner.invoke(app, ["run", "nosuch"])
    assert result.exit_code == 2
    assert (
        result.output
        == "error: unknown task 'nosuch'; the tasks are: anomaly, recalib, taus, mlpf, classify, jettag, scouting, compress\n"
    )
    assert not any(rec.calls for rec in recorded.values())


def test_run_passes_the_shared_options(tmp_path: Path, recorded: dict[str, _Recorder]) -> None:
    config = tmp_path / "study.toml"
    args = ["run", "recalib", str(config), "-o", str(tmp_path / "o"), "--data", str(tmp_path)]
    result = runner.invoke(app, [*args, "--tracking-uri", "sqlite:///x.db", "--no-firmware"])
    assert result.exit_code == 0, result.output
    assert recorded["recalib"].calls == [
        (config, RunOptions(tmp_path / "o", tmp_path, "sqlite:///x.db", firmware=False))
    ]
    assert runner.invoke(app, ["run", "anomaly"]).exit_code == 0
    assert recorded["anomaly"].calls == [(None, RunOptions(Path("anomaly-output")))]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            ["pipeline", "anomaly", "c.toml", "--out", "o", "--data-dir", "d"],
            ["run", "anomaly", "c.toml", "--out", "o", "--data", "d"],
            "`l1scout pipeline anomaly` is deprecated; use `l1scout run anomaly`",
        ),
        (
            ["recalib", "c.toml", "-o", "o", "--data", "d", "--no-firmware"],
            ["run", "recalib", "c.toml", "-o", "o", "--data", "d", "--no-firmware"],
            "`l1scout recalib` is deprecated; use `l1scout run recalib`",
        ),
    ],
)
def test_deprecated_commands_warn_then_do_the_same(
    old: list[str], new: list[str], message: str, recorded: dict[str, _Recorder]
) -> None:
    uri = ["--tracking-uri", "file:///tmp/runs"]
    task = recorded[new[1]]
    before = runner.invoke(app, [*old, *uri])
    assert before.exit_code == 0, before.output
    assert before.stderr.splitlines() == [f"warning: {message}"]
    assert before.stdout == ""
    after = runner.invoke(app, [*new, *uri])
    assert after.exit_code == 0, after.output
    assert after.output == ""
    assert len(task.calls) == 2
    assert task.calls[0] == task.calls[1]
    assert task.calls[0][1].tracking_uri == "file:///tmp/runs"


def test_deprecated_command_errors_as_run_does(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is not toml [")
    new = runner.invoke(app, ["run", "anomaly", str(bad), "--out", str(tmp_path / "o")])
    old = runner.invoke(app, ["pipeline", "anomaly", str(bad), "--out", str(tmp_path / "o")])
    assert new.exit_code == old.exit_code == 2
    assert new.output.startswith(f"error: {bad}")
    assert (
        old.stderr
        == "warning: `l1scout pipeline anomaly` is deprecated; use `l1scout run anomaly`\n"
        + new.stderr
    )


def test_recalib_needs_a_study_file() -> None:
    result = runner.invoke(app, ["run", "recalib"])
    assert result.exit_code == 2
    assert result.output == (
        "error: recalib needs a study file (TOML), e.g. examples/recalib/tiny.toml\n"
    )


def test_anomaly_applies_the_options_to_its_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from l1scout.tasks.anomaly import pipeline

    seen: dict[str, Any] = {}

    def fake_run_pipeline(config: Any, out: Path, **kwargs: Any) -> None:
        seen.update(config=config, out=out, **kwargs)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr(pipeline, "run_pipeline", fake_run_pipeline)
    args = ["run", "anomaly", "--out", str(tmp_path), "--data", str(tmp_path / "d")]
    result = runner.invoke(app, [*args, "--tracking-uri", "sqlite:///t.db", "--no-firmware"])
    assert result.exit_code == 2
    assert result.output.endswith("error: stopped by the test\n")
    assert seen["out"] == tmp_path
    assert seen["data_dir"] == tmp_path / "d"
    assert seen["config"].tracking.uri == "sqlite:///t.db"
    assert seen["config"].deploy.firmware is False


def test_recalib_passes_the_options_to_the_study(monkeypatch: pytest.MonkeyPatch) -> None:
    from l1scout.tasks.recalib import study

    seen: dict[str, Any] = {}

    def fake_run_study(config: Any, out: Path, progress: Any, **kwargs: Any) -> None:
        seen.update(out=out, **kwargs)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr(study, "run_study", fake_run_study)
    tiny = Path(__file__).resolve().parents[2] / "examples" / "recalib" / "tiny.toml"
    result = runner.invoke(app, ["run", "recalib", str(tiny), "--tracking-uri", "sqlite:///t.db"])
    assert result.exit_code == 2
    assert seen == {
        "out": Path("recalib-output"),
        "data_dir": None,
        "tracking_uri": "sqlite:///t.db",
        "firmware": None,
    }


def test_demo_runs_the_anomaly_task_on_the_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, RunOptions]] = []
    monkeypatch.setattr(demo_cli, "run_anomaly", lambda c, o: calls.append((c, o)))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--tracking-uri", "file:///r"])
    assert result.exit_code == 0, result.output
    ((config, options),) = calls
    assert config == run_cli.TASKS["anomaly"].load(None)
    assert options == RunOptions(tmp_path, tracking_uri="file:///r")
    assert runner.invoke(app, ["demo"]).exit_code == 0
    assert calls[1][1].out == Path("demo-output")
