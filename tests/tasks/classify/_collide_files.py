"""A small hand-made file set in the COLLIDE-2V layout: ``<root>/<process>/<process>-NEVENT<n>-RS<seed>.parquet``.

Columns are the final COLLIDE-2V names of what the classification reads (both
views' objects, ``<view>_PUPPIPart`` without the pre-cut 128, ``Event_Number``),
with COLLIDE's dtypes (float16 for PT, Eta, Phi, E, MET and PuppiW, int8
charges and b-tag bits), every column a list per event (MET and the event
number lists of length 1), and the COLLIDE file metadata.

The values are known per (class position ``c``, event number ``e``, view
factor ``f``: FullReco 1, L1T 0.5): three jets of pT ``f * (100 (c + 1) + e)``,
``f * 50``, ``f * 20`` GeV written in *increasing* pT order; ``c % 3``
electrons; one muon for odd ``c``; no photon; MET ``f * (10 + c)``; five PUPPI
candidates, the leading one of pT ``f * (30 + c)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from l1scout.tasks.classify.inputs import object_input_columns, particle_input_columns

VIEWS = {"FullReco": 1.0, "L1T": 0.5}
_F16 = ("PT", "Eta", "Phi", "E", "MET", "PuppiW")


def _arrow_type(column: str) -> pa.DataType:
    field = column.rsplit("_", 1)[1]
    if field in _F16:
        return pa.float16()
    if field in ("Charge", "BTag", "BTagPhys", "IsPU"):
        return pa.int8()
    if field in ("PID", "NCharged", "NNeutrals"):
        return pa.int32()
    return pa.float32()


def _particles(field: str, c: int, f: float) -> list[float]:
    values = {
        "PT": [f * (30.0 + c), 10.0, 5.0, 3.0, 1.0],
        "PID": [211, 22, 0, -211, 22],
        "Charge": [1, 0, 0, -1, 0],
        "PuppiW": [1.0, 0.5, 0.25, 1.0, 0.0],
    }
    return values.get(field, [0.1, 0.2, 0.3, 0.4, 0.5])


def _values(column: str, c: int, e: int, f: float) -> list[float]:
    """The list of one event's values of *column*."""
    coll, field = column.rsplit("_", 1)
    coll = coll.split("_", 1)[1]
    pt = field in ("PT", "MET")
    jets = {"PT": [f * 20.0, f * 50.0, f * (100.0 * (c + 1) + e)], "Eta": [0.3, -0.2, 0.1]}
    by_collection = {
        # increasing pT: the reader sorts
        "JetPuppiAK4": jets.get(field, [1.0, 2.0, 3.0]),
        "Electron": [f * 15.0 if pt else 0.25] * (c % 3),
        "MuonTight": [f * 12.0 if pt else 0.5] * (c % 2),
        "PhotonTight": [],
        "PUPPIMET": [f * (10.0 + c) if pt else 0.25],
    }
    if coll.startswith("PUPPIPart"):
        return _particles(field, c, f)
    return by_collection[coll]


def columns() -> tuple[str, ...]:
    """The columns written: both views' inputs and ``Event_Number``."""
    cols = [c for v in VIEWS for c in (*object_input_columns(v), *particle_input_columns(v))]
    return (*dict.fromkeys(cols), "Event_Number")


def write_collide_set(
    root: Path,
    processes: Sequence[str],
    n_events: int,
    *,
    drop: str | None = None,
    seed: int = 7,
) -> Path:
    """One file of *n_events* per process under *root* (class position = process position)."""
    for c, process in enumerate(processes):
        folder = root / process
        folder.mkdir(parents=True, exist_ok=True)
        numbers = np.arange(n_events) * 3 + 1  # not row positions
        data: dict[str, pa.Array] = {}
        for column in columns():
            if column == drop:
                continue
            if column == "Event_Number":
                data[column] = pa.array([[int(e)] for e in numbers], pa.list_(pa.int64()))
                continue
            view = column.split("_", 1)[0]
            rows = [_values(column, c, int(e), VIEWS[view]) for e in numbers]
            data[column] = pa.array(rows, pa.list_(_arrow_type(column)))
        table = pa.table(data).replace_schema_metadata(
            {
                "dataset_version": "collide2v_v1.0",
                "nEvents": str(n_events),
                "source_root": f"{process}.root",
            }
        )
        pq.write_table(table, folder / f"{process}-NEVENT{n_events}-RS{seed}.parquet")
    return root
