"""Faults of issue 16, item 5: messages that cut the information out.

A folder made by another plan is refused with the differing values themselves,
field by field down to the entry of a list, never shortened; ``l1scout check``
names every file whole, however narrow the terminal. Each runs the command as a
user does (typer's runner on the ``l1scout`` app) and checks the message, the
exit status, that no traceback is printed and that nothing on disk changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from l1scout.cli import _common
from l1scout.cli.app import app
from l1scout.production.manifest import new_manifest, write_manifest
from l1scout.production.plan import load_plan

runner = CliRunner()
TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
# a plan that is never run: the refusal and `check` come before any event is made
BASE = f"""
seed = 4
shard_size = 2
pileup = 200.0
views = ["L1T"]
collections = {{collections}}

[[processes]]
name = "{TTBAR}"
events = 5
"""
# 20 collections: their JSON list is far longer than the 100 characters the message
# used to keep, so two lists that differ late read the same when shortened
LONG = [
    "Event", "Gen_JetAK4", "Gen_JetAK8", "Gen_MissingET", "Gen_Part", "Vertex",
    "L1T_Electron", "L1T_JetAK4", "L1T_JetAK8", "L1T_JetPuppiAK4", "L1T_JetPuppiAK8",
    "L1T_MET", "L1T_MuonTight", "L1T_PFPart", "L1T_PUPPIMET", "L1T_PUPPIPart",
    "L1T_PhotonTight", "L1T_Rho", "L1T_ScalarHT", "L1T_Vertex",
]  # fmt: skip


def _plan_text(collections: list[str] = LONG, extra: str = "") -> str:
    quoted = ", ".join(f'"{c}"' for c in collections)
    return BASE.replace("{collections}", f"[{quoted}]") + extra


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under *folder*, hidden ones included, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _refusal(tmp_path: Path, recorded: str, current: str) -> tuple[list[str], Path]:
    """Produce *current* into a folder whose manifest is of *recorded*: the difference lines."""
    out = tmp_path / "data"
    (tmp_path / "recorded.toml").write_text(recorded)
    (tmp_path / "current.toml").write_text(current)
    write_manifest(out, new_manifest(load_plan(tmp_path / "recorded.toml")))
    before = _snapshot(out)
    result = runner.invoke(app, ["produce", str(tmp_path / "current.toml"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert _snapshot(out) == before  # nothing touched, no lock left
    lines = result.output.splitlines()
    assert lines[0] == (
        f"error: {out} holds a production of another plan; nothing was touched. Differences:"
    )
    assert lines[-1] == "error: Use another output folder, or rerun with the plan in its manifest."
    assert not any(line.rstrip().endswith("...") for line in lines)  # nothing shortened
    return [line.removeprefix("error:   ") for line in lines[1:-1]], out


def test_an_added_process_is_named(tmp_path: Path) -> None:
    added = '\n[[processes]]\nname = "ggHgammagamma"\nevents = 3\n'
    lines, _ = _refusal(tmp_path, _plan_text(), _plan_text(extra=added))
    assert len(lines) == 1, lines
    # the whole entry: its name, its events and its settings hash (64 hex digits, not cut)
    assert re.fullmatch(
        r'processes\[1\]: added in this plan: "ggHgammagamma" '
        r'\(events=3, settings_sha256="[0-9a-f]{64}"\)',
        lines[0],
    ), lines


def test_a_changed_pileup_is_named(tmp_path: Path) -> None:
    current = _plan_text().replace("pileup = 200.0", "pileup = 140.0")
    lines, _ = _refusal(tmp_path, _plan_text(), current)
    assert lines == ["pileup: 200.0 in the manifest, 140.0 in this plan"]


def test_a_changed_entry_of_a_long_list_is_named(tmp_path: Path) -> None:
    # L1T_Rho replaced by L1T_PUPPIPart128. Sorted (as the identity keeps them), the
    # recorded list has L1T_Rho at 16 (after ... L1T_PUPPIPart 14, L1T_PhotonTight 15);
    # the new one has L1T_PUPPIPart128 at 15, just after L1T_PUPPIPart, and L1T_Rho no more
    current = [c if c != "L1T_Rho" else "L1T_PUPPIPart128" for c in LONG]
    lines, _ = _refusal(tmp_path, _plan_text(), _plan_text(current))
    assert lines == [
        'collections[15]: added in this plan: "L1T_PUPPIPart128"',
        'collections[16]: removed in this plan: "L1T_Rho"',
    ]


def _narrow(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    """A terminal *columns* wide for both of the command line's consoles."""
    monkeypatch.setattr(_common.stdout, "_width", columns)
    monkeypatch.setattr(_common.console, "_width", columns)


def test_check_names_every_file_whole_on_a_narrow_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plan.toml").write_text(_plan_text(["Event"]))
    plan = load_plan(tmp_path / "plan.toml")
    out = tmp_path / "data"
    write_manifest(out, new_manifest(plan))  # no shard made yet: each is "not produced"
    stray = out / TTBAR / f"{'left-by-hand-' * 12}{TTBAR}.parquet"
    stray.parent.mkdir()
    stray.write_bytes(b"x")
    before = _snapshot(out)
    _narrow(monkeypatch, 40)
    result: Result = runner.invoke(app, ["check", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert _snapshot(out) == before
    lines = result.output.splitlines()
    planned = [s.file for s in plan.shards()]
    assert len(planned) == 3
    assert all(len(f) > 80 for f in planned)  # longer than the old table's 80 columns
    expected = [
        *(f"not produced  {f}: planned; not in the manifest yet" for f in planned),
        f"extra         {stray.relative_to(out).as_posix()}: not written by this production",
    ]
    assert [line.strip() for line in lines if line.startswith("  ")] == expected
    assert "0 of 3 planned shards verify" in " ".join(lines)
