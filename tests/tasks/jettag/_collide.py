"""A small hand-made file set in the COLLIDE-2V layout for the jet-tagging tests.

``<root>/<process>/<process>-NEVENT<n>-RS1.parquet``: COLLIDE-2V column names,
dtypes (float16 PT / Eta / Phi / E / PuppiW, int16 ConstituentsIdx) and the
``dataset_version`` metadata; the full ``Gen_Part`` record (no ``Gen_PartHS``).

Every event has, in both views, two jets of known content:

* jet 0: pT 50 GeV at (eta 0.5, phi 1.0), constituents a 30 GeV charged
  hadron and a 20 GeV photon; a hard-process gluon (status 23) of 55 GeV at its
  axis labels it ``g``; a 52 GeV generator jet matches it.
* jet 1: pT 40 GeV at (eta -1.0, phi -2.0), one 40 GeV neutral hadron; a B+
  meson (PID 521, status 2) in its cone labels it ``b``; no generator jet.
* in *signal* processes a third jet: pT 25 GeV at eta 3.0 (outside the
  tagger's |eta| < 2.4 and the HT's acceptance), one 25 GeV photon.

So HT (jets above 30 GeV, |eta| < 2.4) is 90 GeV in every event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

F16 = pa.float16()
F32 = pa.float32()


def _list(values: list[list[float | int]], typ: pa.DataType) -> pa.Array:
    return pa.array(values, type=pa.list_(typ))


def _f16(values: list[list[float]]) -> pa.Array:
    return pa.array([np.asarray(v, dtype=np.float16) for v in values], type=pa.list_(F16))


def _scaled(values: list[float], scales: list[float]) -> list[list[float]]:
    return [[v * k for v in values] for k in scales]


def _event_columns(scales: list[float], extra_jet: bool, first_number: int) -> dict[str, pa.Array]:
    n = len(scales)
    cols: dict[str, pa.Array] = {}
    jet_pt = [50.0, 40.0] + ([25.0] if extra_jet else [])
    jet_eta = [0.5, -1.0] + ([3.0] if extra_jet else [])
    jet_phi = [1.0, -2.0] + ([0.0] if extra_jet else [])
    idx = [[0, 1], [2]] + ([[3]] if extra_jet else [])
    part = {
        "PT": [30.0, 20.0, 40.0] + ([25.0] if extra_jet else []),
        "Eta": [0.5, 0.52, -1.0] + ([3.0] if extra_jet else []),
        "Phi": [1.0, 0.98, -2.0] + ([0.0] if extra_jet else []),
        "PID": [211, 22, 130] + ([22] if extra_jet else []),
        "Charge": [1, 0, 0] + ([0] if extra_jet else []),
    }
    m = len(part["PT"])
    for view in ("FullReco", "L1T"):
        j = f"{view}_JetPuppiAK4"
        cols[f"{j}_PT"] = _f16(_scaled(jet_pt, scales))
        cols[f"{j}_Eta"] = _f16([jet_eta] * n)
        cols[f"{j}_Phi"] = _f16([jet_phi] * n)
        cols[f"{j}_Mass"] = _list([[5.0] * len(jet_pt)] * n, F32)
        cols[f"{j}_Charge"] = _list([[0] * len(jet_pt)] * n, pa.int8())
        cols[f"{j}_Flavor"] = _list([[21, 5] + ([0] if extra_jet else [])] * n, pa.uint32())
        cols[f"{j}_BTag"] = _list([[0, 1] + ([0] if extra_jet else [])] * n, pa.int8())
        cols[f"{j}_NCharged"] = _list([[1, 0] + ([0] if extra_jet else [])] * n, pa.int32())
        cols[f"{j}_NNeutrals"] = _list([[1, 1] + ([1] if extra_jet else [])] * n, pa.int32())
        cols[f"{j}_ConstituentsIdx"] = pa.array([idx] * n, type=pa.list_(pa.list_(pa.int16())))
        p = f"{view}_PUPPIPart"
        cols[f"{p}_PT"] = _f16(_scaled(part["PT"], scales))
        cols[f"{p}_Eta"] = _f16([part["Eta"]] * n)
        cols[f"{p}_Phi"] = _f16([part["Phi"]] * n)
        cols[f"{p}_E"] = _f16(_scaled([pt * 1.2 for pt in part["PT"]], scales))
        cols[f"{p}_PID"] = _list([part["PID"]] * n, pa.int32())
        cols[f"{p}_Charge"] = _list([part["Charge"]] * n, pa.int8())
        cols[f"{p}_Mass"] = _list([[0.14, 0.0, 0.5] + ([0.0] if extra_jet else [])] * n, F32)
        for f in ("D0", "DZ", "ErrorD0", "ErrorDZ"):
            cols[f"{p}_{f}"] = _list([[0.01] * m] * n, F32)
        cols[f"{p}_PuppiW"] = _f16([[1.0] * m] * n)
    gen = {
        "PID": [21, 521],
        "Status": [23, 2],
        "PT": [55.0, 35.0],
        "Eta": [0.5, -1.0],
        "Phi": [1.0, -2.0],
        "Mass": [0.0, 5.28],
        "M1": [-1, -1],
        "M2": [-1, -1],
        "D1": [-1, -1],
        "D2": [-1, -1],
        "IsPU": [0, 0],
    }
    types = {"PID": pa.int32(), "Status": pa.int8(), "Mass": F32, "IsPU": pa.int8()}
    for f, v in gen.items():
        if f == "PT":
            cols[f"Gen_Part_{f}"] = _f16(_scaled(v, scales))
        elif f in ("Eta", "Phi"):
            cols[f"Gen_Part_{f}"] = _f16([v] * n)
        else:
            cols[f"Gen_Part_{f}"] = _list([v] * n, types.get(f, pa.int32()))
    cols["Gen_JetAK4_PT"] = _f16(_scaled([52.0], scales))
    cols["Gen_JetAK4_Eta"] = _f16([[0.5]] * n)
    cols["Gen_JetAK4_Phi"] = _f16([[1.0]] * n)
    cols["Gen_JetAK4_Mass"] = _list([[5.0]] * n, F32)
    cols["Event_Number"] = _list([[first_number + i] for i in range(n)], pa.int64())
    return cols


def write_collide_folder(
    root: Path, events: dict[str, int], signals: tuple[str, ...] = (), varied: tuple[str, ...] = ()
) -> Path:
    """Write one COLLIDE-2V file per process under *root* (module docstring); return *root*.

    In the *varied* processes, event ``i``'s momenta (jets, candidates,
    generator particles and jets) are scaled by ``1 + 0.25 (i mod 8)``, so
    HT runs from 90 to 247.5 GeV.
    """
    for process, n in events.items():
        scales = [1.0 + 0.25 * (i % 8) if process in varied else 1.0 for i in range(n)]
        cols = _event_columns(scales, process in signals, 1000)
        table = pa.table(cols).replace_schema_metadata(
            {
                "source_root": f"{process}.root",
                "nEvents": str(n),
                "dataset_version": "collide2v_v1.0",
            }
        )
        out = root / process / f"{process}-NEVENT{n}-RS1.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out, row_group_size=4, compression="zstd")
    return root
