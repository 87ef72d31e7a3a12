"""``l1scout run compress``: the registry entry, the help, and bad configurations refused before any work."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from l1scout.cli import run as run_cli
from l1scout.cli.app import app
from l1scout.cli.compress import load_compress

runner = CliRunner()

SMALL = """
[data]
zero_bias = { process = "minbias", events = 2000 }
processes = [{ process = "light_scalar_tautau_m40", events = 100 }]
engine = { kind = "single" }

[fidelity]
rate_khz = 1000.0
"""


def test_compress_is_registered_with_the_demo_defaults() -> None:
    task = run_cli.get_task("compress")
    assert task.load is load_compress
    cfg = load_compress(None)
    assert cfg.name == "compress-demo"
    assert cfg.data.processes_all[0] == "minbias"


def test_the_help_lists_the_compress_task() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "compress: Learned compression of L1 scouting events" in text


def _run(tmp_path: Path, text: str, *extra: str) -> tuple[str, Path, Path]:
    config = tmp_path / "c.toml"
    config.write_text(text)
    out, data = tmp_path / "out", tmp_path / "data"
    args = ["run", "compress", str(config), "--out", str(out), "--data", str(data), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    return result.output, out, data


def test_a_bad_config_is_one_line_before_any_work(tmp_path: Path) -> None:
    output, out, data = _run(tmp_path, SMALL + "[learned.set_ae]\nbits = [0, 4]\n")
    assert output.startswith("error: ")
    assert "learned.set_ae.bits[0]" in output
    assert len(output.strip().splitlines()) == 1
    assert not out.exists()
    assert not data.exists()


def test_an_unresolved_rate_is_refused_before_any_work(tmp_path: Path) -> None:
    output, out, data = _run(tmp_path, SMALL.replace("1000.0", "100.0"))
    assert "fidelity.rate_khz: 100 kHz needs" in output
    assert not out.exists()
    assert not data.exists()


def test_an_unknown_tracking_scheme_is_refused_before_any_work(tmp_path: Path) -> None:
    output, out, data = _run(tmp_path, SMALL, "--tracking-uri", "htp://host:5000")
    assert "unknown scheme 'htp'" in output
    assert not out.exists()
    assert not data.exists()
