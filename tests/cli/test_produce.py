from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from l1scout.cli.produce import check, produce
from l1scout.errors import GenerationError
from l1scout.production import shard as production

TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
runner = CliRunner()


def _app() -> typer.Typer:
    # the coordinator registers both commands in l1scout.cli.app; the same, standalone
    app = typer.Typer()
    app.command(help=produce.__doc__)(produce)
    app.command(help=check.__doc__)(check)
    return app


APP = _app()
OPTIONS = [
    "--process",
    TTBAR,
    "--events",
    "5",
    "--shard-size",
    "2",
    "--pileup",
    "0",
    "--view",
    "L1T",
    "--collection",
    "Event",
    "--collection",
    "L1T_PUPPIMET",
    "--engine",
    "single",
]


def _manifest(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "manifest.json").read_text())
    return data


@pytest.mark.parametrize("command", ["produce", "check"])
def test_help(command: str) -> None:
    result = runner.invoke(APP, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_produce_check_repair(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = runner.invoke(APP, ["produce", *OPTIONS, "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "shards made now" in result.output
    assert "events per second" in result.output
    files = [str(s["file"]) for s in _manifest(out)["shards"]]  # type: ignore[attr-defined]
    assert len(files) == 3
    assert all((out / f).is_file() for f in files)

    checked = runner.invoke(APP, ["check", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "ok: 3 shards, 5 events" in checked.output

    path = out / files[1]
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    (out / "stray.txt").write_text("x")
    checked = runner.invoke(APP, ["check", str(out)])
    assert checked.exit_code == 1
    assert "checksum" in checked.output
    assert "extra" in checked.output
    assert "2 of 3 planned shards verify" in checked.output

    again = runner.invoke(APP, ["produce", *OPTIONS, "--seed", "4", "--out", str(out)])
    assert again.exit_code == 0, again.output
    row = next(line for line in again.output.splitlines() if "shards remade" in line)
    assert row.split("│")[2].strip() == "1"
    (out / "stray.txt").unlink()
    assert runner.invoke(APP, ["check", str(out)]).exit_code == 0

    # another plan into the same folder: refused, naming the difference
    other = runner.invoke(APP, ["produce", *OPTIONS, "--seed", "9", "--out", str(out)])
    assert other.exit_code == 2
    assert "seed: 4 in the manifest, 9 in this plan" in other.output


def test_plan_file_with_overrides(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'seed = 3\nshard_size = 2\npileup = 0.0\nviews = ["L1T"]\n'
        f'collections = ["Event"]\n\n[[processes]]\nname = "{TTBAR}"\nevents = 100\n\n'
        '[engine]\nkind = "single"\n'
    )
    out = tmp_path / "data"
    result = runner.invoke(
        APP, ["produce", str(plan), "--events", "3", "--seed", "6", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    recorded = _manifest(out)["plan"]
    assert isinstance(recorded, dict)
    assert recorded["seed"] == 6
    assert recorded["processes"] == [{"name": TTBAR, "events": 3}]
    assert recorded["collections"] == ["Event"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--process", "minbiass", "--events", "1", "--seed", "1"], "did you mean 'minbias'"),
        (["--process", TTBAR, "--seed", "1"], "--process needs --events"),
        (
            [
                "--process",
                TTBAR,
                "--process",
                "minbias",
                "--events",
                "1",
                "--events",
                "2",
                "--events",
                "3",
                "--seed",
                "1",
            ],
            "--events: give one value, or one per process (2), not 3",
        ),
        (["--events", "3", "--seed", "1"], "--events needs --process"),
        (["--process", TTBAR, "--events", "1"], "seed: Field required"),
        (
            ["--process", TTBAR, "--events", "1", "--seed", "1", "--pool", "x"],
            "pool: Input should be",
        ),
        (
            ["--process", TTBAR, "--events", "1", "--seed", "1", "--engine", "address"],
            "needs the scheduler's address",
        ),
        (
            ["--process", TTBAR, "--events", "1", "--seed", "1", "--collection", "L1T_MuonTigh"],
            "did you mean 'L1T_MuonTight'",
        ),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(APP, ["produce", *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


def test_failed_shards_exit_1_and_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = production.run_generation

    def broken_middle(config: object, out: Path, **kwargs: object) -> object:
        if getattr(config, "seed", 0) % 3 == 2:
            msg = "Pythia refused"
            raise GenerationError(msg)
        return real(config, out, **kwargs)

    monkeypatch.setattr(production, "run_generation", broken_middle)
    out = tmp_path / "data"
    result = runner.invoke(
        APP, ["produce", *OPTIONS, "--seed", "4", "--retries", "0", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "1 shards failed on every attempt" in text
    assert "GenerationError: Pythia refused" in text
    assert "rerun the same command" in text
    assert len(_manifest(out)["shards"]) == 2  # type: ignore[arg-type]


def test_check_of_a_folder_without_manifest(tmp_path: Path) -> None:
    result = runner.invoke(APP, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert "has no manifest.json" in " ".join(result.output.split())
