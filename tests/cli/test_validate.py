from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.io.schema import GEN_COLUMNS, gen_object_columns, view_columns

runner = CliRunner()
_VIEWS = ("FullReco", "L1T")
_JETS = ["JetAK4", "JetPuppiAK4"]
_TYPES = {
    c.name: c.arrow_type()
    for c in (
        *GEN_COLUMNS,
        *gen_object_columns(["Gen_JetAK4"]),
        *(col for v in _VIEWS for col in view_columns(v, _JETS)),
    )
}


def _event(rng: np.random.Generator, views: tuple[str, ...]) -> dict[str, list[Any]]:
    """One event: 20 hard-scatter pions at the origin, 10 pileup ones, 2 jets, MET."""
    n_hs, n_pu = 20, 10
    pt = rng.uniform(0.5, 30, n_hs + n_pu)
    eta = rng.uniform(-3, 3, n_hs + n_pu)
    ev: dict[str, list[Any]] = {
        "Gen_Part_PID": [211] * (n_hs + n_pu),
        "Gen_Part_Status": [1] * (n_hs + n_pu),
        "Gen_Part_Charge": [1] * (n_hs + n_pu),
        "Gen_Part_IsPU": [0] * n_hs + [1] * n_pu,
        "Gen_Part_PT": pt.tolist(),
        "Gen_Part_Eta": eta.tolist(),
        "Gen_Part_Phi": [0.0] * (n_hs + n_pu),
        "Gen_Part_Mass": [0.1396] * (n_hs + n_pu),
        "Gen_Part_X": [0.0] * (n_hs + n_pu),
        "Gen_Part_Y": [0.0] * (n_hs + n_pu),
        "Gen_Part_Z": [0.0] * n_hs + [5.0] * n_pu,
        "Vertex_Index": [0, 1],
        "Vertex_X": [0.0, 0.0],
        "Vertex_Y": [0.0, 0.0],
        "Vertex_Z": [0.0, 5.0],
        "Gen_MissingET_MET": [20.0],
        "Gen_MissingET_Phi": [0.0],
        "Gen_JetAK4_PT": [60.0, 100.0],
        "Gen_JetAK4_Eta": [0.0, 1.0],
        "Gen_JetAK4_Phi": [0.0, 2.0],
    }
    for view in views:
        l1t = view == "L1T"
        keep = [i for i in range(n_hs + n_pu) if not l1t or (pt[i] > 2 and abs(eta[i]) < 2.4)]
        res = 0.02 if l1t else 0.01
        p = f"{view}_PUPPIPart"
        ev[f"{p}_fUniqueID"] = [i + 1 for i in keep] + [2**31]
        ev[f"{p}_Charge"] = [1] * len(keep) + [0]
        ev[f"{p}_PT"] = [pt[i] * (1 + rng.normal(0, res)) for i in keep] + [3.0]
        ev[f"{p}_Eta"] = [eta[i] for i in keep] + [0.5]
        ev[f"{p}_DZ"] = [ev["Gen_Part_Z"][i] + rng.normal(0, 10 * res) for i in keep] + [0.0]
        ev[f"{p}_ErrorDZ"] = [10 * res] * len(keep) + [0.0]
        ev[f"{p}_IsPU"] = [int(i >= n_hs) for i in keep] + [1]
        ev[f"{p}_PuppiW"] = [float(i < n_hs) for i in keep] + [0.05]
        ev[f"{view}_PFPart_PT"] = [pt[i] for i in keep if i < n_hs]
        ev[f"{view}_Electron_PT"] = []
        ev[f"{view}_MuonTight_PT"] = [30.0]
        ev[f"{view}_PhotonTight_PT"] = []
        ev[f"{view}_Vertex_Z"] = [rng.normal(0, 10 * res), 5.0]
        for coll in ("MET", "PUPPIMET"):
            ev[f"{view}_{coll}_MET"] = [20.0 + rng.normal(0, 5)]
            ev[f"{view}_{coll}_Phi"] = [rng.normal(0, 0.2)]
        for coll in ("JetAK4", "JetPuppiAK4"):
            ev[f"{view}_{coll}_PT"] = [60.0 * rng.normal(1, 0.1), 100.0 * rng.normal(1, 0.1)]
            ev[f"{view}_{coll}_Eta"] = [0.02, 1.02]
            ev[f"{view}_{coll}_Phi"] = [0.0, 2.0]
    return ev


def _write(
    path: Path, n_events: int, views: tuple[str, ...], metadata: dict[str, str] | None = None
) -> Path:
    rng = np.random.default_rng(3)
    events = [_event(rng, views) for _ in range(n_events)]
    table = pa.table({n: pa.array([e[n] for e in events], type=_TYPES[n]) for n in events[0]})
    meta = {"process": "pions", "nEvents": str(n_events), "l1scout_version": "0.0-test"}
    meta |= metadata or {}
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")
    return path


def test_validate_writes_the_page(tmp_path: Path) -> None:
    sample = _write(tmp_path / "pions.parquet", 30, _VIEWS)
    out = tmp_path / "report"
    result = runner.invoke(app, ["validate", str(sample), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the page's path is printed whole on one line, however long the temporary folder
    page_line = f"validation page: {out / 'index.html'} (30 events"
    assert any(line.startswith(page_line) for line in result.output.splitlines())
    text = " ".join(result.output.split())
    assert "l1t_track_resolution_worse" in text
    assert "pass" in text

    page = (out / "index.html").read_text()
    numbers = json.loads((out / "numbers.json").read_text())
    assert set(numbers) >= {"files", "n_events", "views", "numbers", "checks", "curves", "plots"}
    assert numbers["n_events"] == 30
    assert numbers["files"][0]["process"] == "pions"
    assert f"l1scout validate {sample} --out {out}" == numbers["command"]
    for view in _VIEWS:
        nums = numbers["numbers"][view]
        for key in (
            "track_eff_hadron",
            "track_min_pt",
            "track_max_abs_eta",
            "track_pt_resolution",
            "track_dz_resolution",
            "pv_dz_sigma",
            "pv_efficiency",
            "n_vertices_mean",
            "jet_JetAK4_response_50_80",
            "jet_JetPuppiAK4_resolution_50_80",
            "met_sigma_x",
            "puppimet_sigma_y",
            "puppi_w_neutral_pu",
            "puppi_pt_kept_pu",
            "puppi_pt_kept_pv",
            "mult_PUPPIPart",
            "max_PUPPIPart",
        ):
            assert key in nums, key
        assert nums["pv_efficiency"] == 1.0
        assert nums["mult_MuonTight"] == 1.0
    assert numbers["numbers"]["FullReco"]["track_eff_hadron"] == 1.0  # every pion is tracked
    assert 0.8 < numbers["numbers"]["L1T"]["track_eff_hadron"] < 1.0  # not those of 1-2 GeV
    assert numbers["numbers"]["L1T"]["track_min_gen_pt"] > 2.0
    assert set(numbers["checks"]) == {
        "l1t_no_tracks_below_2gev",
        "l1t_no_tracks_beyond_eta_2p4",
        "l1t_track_resolution_worse",
        "l1t_vertex_resolution_worse",
        "puppi_removes_pileup_FullReco",
        "puppi_removes_pileup_L1T",
        "l1t_at_most_1000_candidates",
    }
    assert all(c["passed"] for c in numbers["checks"].values()), numbers["checks"]

    assert len(numbers["plots"]) == 7  # no AK8 jets in the file
    for name in numbers["plots"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"src='{name}'" in page
    assert "pions" in page
    assert "class='pass'" in page
    assert "class='fail'" not in page


def test_validate_rejects_a_file_without_views(tmp_path: Path) -> None:
    path = _write(tmp_path / "truth-only.parquet", 2, ())
    result = runner.invoke(app, ["validate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()  # one line, the path whole
    assert line.startswith(f"error: {path}")
    assert "no detector view" in line
    assert not (tmp_path / "out" / "index.html").exists()


def test_validate_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    result = runner.invoke(app, ["validate", str(missing), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == f"error: {missing}: no such file\n"


def test_validate_missing_file_with_a_long_path(tmp_path: Path) -> None:
    """The message stays one line whatever the path's length (rich wraps at 80 columns)."""
    missing = tmp_path.joinpath(*(f"folder-{i}-" + "x" * 40 for i in range(5)), "nope.parquet")
    assert len(str(missing)) > 200
    result = runner.invoke(app, ["validate", str(missing), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == f"error: {missing}: no such file\n"


def test_validate_compare_shows_both_pileup_definitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from l1scout.detector.validation import plots

    wanted = (plots._plot_pileup_definitions,)
    monkeypatch.setattr(plots, "_PLOTS", tuple(p for p in plots._PLOTS if p[1] in wanted))
    old = _write(tmp_path / "c2v.parquet", 10, _VIEWS, {"pileup_definition": "collide2v"})
    new = _write(tmp_path / "inel.parquet", 12, _VIEWS, {"pileup_definition": "inelastic"})
    out = tmp_path / "report"
    args = ["validate", str(old), "--out", str(out), "--compare", str(new)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "pileup definitions side by side" in text
    assert "collide2v" in text
    assert "inelastic" in text
    numbers = json.loads((out / "numbers.json").read_text())
    assert numbers["command"] == f"l1scout validate {old} --out {out} --compare {new}"
    sides = numbers["pileup_comparison"]["sides"]
    assert [(s["pileup_definition"], s["events"]) for s in sides] == [
        ("collide2v", 10),
        ("inelastic", 12),
    ]
    assert numbers["plots"] == ["pileup_definitions.png"]
    assert "CMS rate studies assume the inelastic definition" in (out / "index.html").read_text()


def test_validate_help() -> None:
    result = runner.invoke(app, ["validate", "--help"])
    assert result.exit_code == 0
    assert "--out" in result.output
