from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.errors import DataFormatError
from l1scout.io.inspect import inspect_file

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"

pytestmark = pytest.mark.slow


def _mean_length(path: Path, column: str) -> float:
    table = pq.read_table(path, columns=[column])
    return float(np.mean(pc.list_value_length(table.column(column)).to_numpy()))


def test_our_file(reader_l1scout_file: Path) -> None:
    s = inspect_file(reader_l1scout_file)
    assert s.schema == "l1scout"
    assert s.process == PROCESS
    assert s.n_events == 20
    assert s.views == ("FullReco", "L1T")
    assert s.metadata["dataset_version"] == "l1scout_gen_v1"
    for coll, column in [
        ("Gen_Part", "Gen_Part_PT"),
        ("L1T_PUPPIPart", "L1T_PUPPIPart_PT"),
        ("FullReco_JetPuppiAK4", "FullReco_JetPuppiAK4_PT"),
        ("Vertex", "Vertex_Z"),
    ]:
        assert s.multiplicities[coll] == pytest.approx(_mean_length(reader_l1scout_file, column))
    assert s.multiplicities["L1T_MET"] == 1.0
    assert s.multiplicities["Event"] == 1.0
    assert s.multiplicities["L1T_Rho"] == 5.0
    assert s.numbers["mean Gen_Part per event"] == s.multiplicities["Gen_Part"]
    table = pq.read_table(reader_l1scout_file, columns=["Event_NumPU", "Gen_Part_IsPU"])
    numpu = pc.list_flatten(table.column("Event_NumPU")).to_numpy()
    assert s.numbers["mean pileup collisions"] == pytest.approx(np.mean(numpu))
    is_pu = pc.list_flatten(table.column("Gen_Part_IsPU")).to_numpy()
    assert s.numbers["fraction of Gen_Part from pileup"] == pytest.approx(np.mean(is_pu))
    assert s.notes == ()
    # the file names its pileup definition, and the pool settings it implies
    assert s.metadata["pileup_definition"] == "collide2v"
    assert (s.pileup.definition, s.pileup.source, s.pileup.mean) == ("collide2v", "metadata", 15.0)
    assert s.pileup.pool_softqcd == ("SoftQCD:all = on",)


def test_files_without_the_definition_read_as_their_pool_says(
    reader_l1scout_file: Path, reader_collide2v_file: Path, tmp_path: Path
) -> None:
    # a file written before pileup_definition existed: its recorded pool settings decide
    table = pq.read_table(reader_l1scout_file)
    footer = pq.read_metadata(reader_l1scout_file).metadata
    meta = {k: v for k, v in footer.items() if k not in (b"pileup_definition", b"ARROW:schema")}
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata(meta), old)
    s = inspect_file(old)
    assert "pileup_definition" not in s.metadata
    assert (s.pileup.definition, s.pileup.source) == ("collide2v", "pool settings")
    # ... a pool of other settings is not guessed
    other = meta | {
        b"settings": meta[b"settings"].replace(b"SoftQCD:all", b"SoftQCD:nonDiffractive")
    }
    pq.write_table(table.replace_schema_metadata(other), old)
    assert inspect_file(old).pileup.definition == "unknown"
    # COLLIDE files record no settings: COLLIDE-2V's published pool is SoftQCD:all
    final = inspect_file(reader_collide2v_file)
    assert (final.pileup.definition, final.pileup.source) == ("collide2v", "COLLIDE")
    result = CliRunner().invoke(app, ["inspect", "--no-columns", str(reader_collide2v_file)])
    assert result.exit_code == 0, result.output
    assert (
        "definition collide2v (Pythia SoftQCD:all, elastic included, as COLLIDE-2V; "
        in " ".join(result.output.split())
    )


def test_collide_files(
    reader_l1scout_file: Path, reader_collide2v_file: Path, reader_legacy_file: Path
) -> None:
    ours = inspect_file(reader_l1scout_file)
    final = inspect_file(reader_collide2v_file)
    assert final.schema == "collide2v"
    assert final.process == PROCESS
    assert final.n_row_groups == 4
    legacy = inspect_file(reader_legacy_file)
    assert legacy.schema == "collide1m"
    assert legacy.process == PROCESS
    assert legacy.views == ("FullReco", "L1T")
    # canonical names, the same numbers as our file
    for coll in (
        "Gen_Part",
        "L1T_PFPart",
        "FullReco_PFPart",
        "Vertex",
        "L1T_PUPPIPart",
        "Gen_JetAK4",
    ):
        assert legacy.multiplicities[coll] == pytest.approx(ours.multiplicities[coll]), coll
        assert final.multiplicities[coll] == pytest.approx(ours.multiplicities[coll]), coll
    assert "Event" not in legacy.multiplicities
    assert any(name == "FullReco_GenPart_PID" and "int8" in t for name, t in legacy.columns)
    assert legacy.notes
    assert "int8" in legacy.notes[0]


def test_not_an_event_file(tmp_path: Path) -> None:
    other = tmp_path / "table.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), other)
    with pytest.raises(DataFormatError, match="Gen_Part_PT"):
        inspect_file(other)


def test_cli_shows_schema_and_collections(
    reader_legacy_file: Path, reader_collide2v_file: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", "--no-columns", str(reader_legacy_file)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "schema: collide1m" in text
    assert f"process: {PROCESS}" in text
    assert "PFPart" in text
    assert "Gen_Part" in text
    assert "unwrapped" in text
    result = runner.invoke(app, ["inspect", str(reader_collide2v_file)])
    assert result.exit_code == 0, result.output
    assert "schema: collide2v" in " ".join(result.output.split())
    assert "L1T_PUPPIPart_PuppiW" in result.output
