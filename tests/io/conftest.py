"""Session files for the reader tests: one generated l1scout file and its COLLIDE copies.

The COLLIDE-2V copy keeps the final names and only COLLIDE's columns and
metadata; the COLLIDE-1m copy renames the columns as the published
COLLIDE-1m column list has them (written out here by hand, independently of
:mod:`l1scout.io.aliases`) and stores PID as int8 with the wrap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"

#: Published COLLIDE-1m collections (reference, "The older schema"): canonical -> legacy prefix.
LEGACY_PREFIX = {
    "Gen_Part": "FullReco_GenPart",
    "Gen_JetAK4": "FullReco_GenJetAK4",
    "Gen_JetAK8": "FullReco_GenJetAK8",
    "Gen_MissingET": "FullReco_GenMissingET",
    "Vertex": "FullReco_PrimaryVertex",
    "FullReco_PFPart": "FullReco_PFCand",
    "L1T_PFPart": "L1T_PFCand",
}
for _view in ("FullReco", "L1T"):
    for _coll in (
        "PUPPIPart",
        "Electron",
        "MuonTight",
        "PhotonTight",
        "JetAK4",
        "JetAK8",
        "JetPuppiAK4",
        "JetPuppiAK8",
        "MET",
        "PUPPIMET",
    ):
        LEGACY_PREFIX[f"{_view}_{_coll}"] = f"{_view}_{_coll}"


def _int8_wrap(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """PID stored as int8, values wrapping modulo 256 (a C cast)."""
    chunks = []
    for chunk in column.chunks:
        values = chunk.values.to_numpy().astype(np.int64)
        wrapped = (((values + 128) % 256) - 128).astype(np.int8)
        chunks.append(pa.ListArray.from_arrays(chunk.offsets, pa.array(wrapped)))
    return pa.chunked_array(chunks)


@pytest.fixture(scope="session")
def reader_l1scout_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 ttbar events, both views, pileup 15, from our generator and writer."""
    from l1scout.production.job import GenerationConfig, run_generation

    config = GenerationConfig(process=PROCESS, events=20, seed=3, pileup=15.0, pool_size=150)
    return run_generation(config, tmp_path_factory.mktemp("reader-l1scout")).path


@pytest.fixture(scope="session")
def reader_collide2v_file(
    reader_l1scout_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same events as a final COLLIDE-2V file: COLLIDE columns, metadata, row groups of 6."""
    from l1scout.io.schema import GEN_COLUMNS, view_columns

    extensions = {c.name for c in GEN_COLUMNS if not c.collide}
    for view in ("FullReco", "L1T"):
        cols = view_columns(view, ["JetAK4", "JetAK8", "JetPuppiAK4", "JetPuppiAK8"])
        extensions |= {c.name for c in cols if not c.collide}
    table = pq.read_table(reader_l1scout_file)
    table = table.select([n for n in table.column_names if n not in extensions])
    table = table.replace_schema_metadata(
        {"source_root": "ttbar.root", "nEvents": "20", "dataset_version": "collide2v_v1.0"}
    )
    out = tmp_path_factory.mktemp("reader-collide2v") / PROCESS / f"{PROCESS}-NEVENT20-RS7.parquet"
    out.parent.mkdir(parents=True)
    pq.write_table(table, out, row_group_size=6, compression="zstd")
    return out


@pytest.fixture(scope="session")
def reader_legacy_file(reader_l1scout_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same events as a COLLIDE-1m file: legacy names, int8 PID, no Event columns, row groups of 7."""
    from l1scout.io.schema import GEN_COLUMNS

    extensions = {c.name for c in GEN_COLUMNS if not c.collide}
    table = pq.read_table(reader_l1scout_file)
    names, arrays = [], []
    for name in table.column_names:
        head, field = name.rsplit("_", 1)
        if head not in LEGACY_PREFIX or name in extensions:
            continue
        column = table.column(name)
        if field == "PID":
            column = _int8_wrap(column)
        names.append(f"{LEGACY_PREFIX[head]}_{field}")
        arrays.append(column)
    legacy = pa.table(arrays, names=names).replace_schema_metadata(
        {"source_root": "ttbar.root", "nEvents": "20"}
    )
    out = tmp_path_factory.mktemp("reader-collide1m") / PROCESS / f"{PROCESS}-NEVENT20-RS11.parquet"
    out.parent.mkdir(parents=True)
    pq.write_table(legacy, out, row_group_size=7, compression="zstd")
    return out


@pytest.fixture(scope="session")
def reader_minbias_file(
    reader_collide2v_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The COLLIDE-2V copy relabelled as process ``minbias`` (metadata, folder, name), row groups of 7."""
    table = pq.read_table(reader_collide2v_file)
    meta = dict(table.schema.metadata or {})
    meta[b"process"] = b"minbias"
    meta[b"seed"] = b"5"
    out = tmp_path_factory.mktemp("reader-minbias") / "minbias" / "minbias-NEVENT20-RS5.parquet"
    out.parent.mkdir(parents=True)
    pq.write_table(table.replace_schema_metadata(meta), out, row_group_size=7)
    return out
