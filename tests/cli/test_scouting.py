"""``l1scout run scouting``: the registry entry, the help, and bad configurations refused before any work."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from l1scout.cli import run as run_cli
from l1scout.cli.app import app
from l1scout.cli.scouting import load_scouting

runner = CliRunner()

SMALL = """
[data]
zero_bias = { process = "minbias", events = 2000 }
signals = [{ process = "light_scalar_tautau_m40", events = 100 }]
engine = { kind = "single" }
"""


def test_scouting_is_registered_with_the_demo_defaults() -> None:
    task = run_cli.get_task("scouting")
    assert task.load is load_scouting
    cfg = load_scouting(None)
    assert cfg.name == "scouting-demo"
    assert cfg.data.processes[0] == "minbias"


def test_the_help_lists_the_scouting_task() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "scouting: The 40 MHz L1 scouting stream" in text


def _run(tmp_path: Path, text: str, *extra: str) -> tuple[str, Path, Path]:
    config = tmp_path / "c.toml"
    config.write_text(text)
    out, data = tmp_path / "out", tmp_path / "data"
    args = ["run", "scouting", str(config), "--out", str(out), "--data", str(data), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")  # after any log lines
    return result.output, out, data


def test_a_bad_config_is_one_line_before_any_work(tmp_path: Path) -> None:
    output, out, data = _run(tmp_path, SMALL + "[orbits]\ncandidates = 200\n")
    assert output.startswith("error: ")
    assert "orbits.candidates:" in output
    assert len(output.strip().splitlines()) == 1
    assert not out.exists()
    assert not data.exists()


def test_a_bad_menu_is_refused_before_any_work(tmp_path: Path) -> None:
    menu = tmp_path / "menu.toml"
    menu.write_text('[[selection]]\nname = "mu"\nkind = "single_muon"\npt = 3\n')
    output, out, data = _run(tmp_path, SMALL + f"[menu]\npath = '{menu}'\n")
    assert f"{menu}: selection[0].pt" in output
    assert not out.exists()
    assert not data.exists()


def test_a_transformer_that_does_not_fit_the_menu_is_refused_before_any_work(
    tmp_path: Path,
) -> None:
    text = (
        SMALL
        + "[models.ditau.transformer.model]\nn_constituents = 8\nembed_dims = [8]\nn_heads = 2\n"
    )
    output, _out, data = _run(tmp_path, text)
    assert "models.ditau.transformer.model.n_constituents: expected the menu's" in output
    assert not data.exists()


def test_without_training_the_menu_models_must_load_before_any_work(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    output, out, data = _run(tmp_path, SMALL + "[models]\ntrain = false\n", "--tracking-uri", uri)
    assert "cannot be loaded from" in output
    assert "train = true" in output
    assert not out.exists()
    assert not data.exists()


def test_an_unknown_tracking_scheme_is_refused_before_any_work(tmp_path: Path) -> None:
    output, _out, data = _run(tmp_path, SMALL, "--tracking-uri", "htp://host:5000")
    assert "unknown scheme 'htp'" in output
    assert not data.exists()
