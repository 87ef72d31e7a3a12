from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from l1scout.errors import DataFormatError
from l1scout.io.aliases import (
    INT8_NATIVE_PIDS,
    UNWRAPPED_PIDS,
    canonical_name,
    closest_names,
    column_collection,
    column_view,
    detect_schema,
    known_columns,
    legacy_name,
    unwrap_pid,
    wrap_pid,
)

F16 = pa.list_(pa.float16())
I32 = pa.list_(pa.int32())
I8 = pa.list_(pa.int8())

# The renames of the reference ("The older schema"), written out by hand.
LEGACY_EXAMPLES = {
    "FullReco_PFCand_PT": "FullReco_PFPart_PT",
    "L1T_PFCand_PuppiW": "L1T_PFPart_PuppiW",
    "FullReco_GenPart_PID": "Gen_Part_PID",
    "FullReco_GenPart_M1": "Gen_Part_M1",
    "FullReco_GenJetAK4_PT": "Gen_JetAK4_PT",
    "FullReco_GenJetAK8_Mass": "Gen_JetAK8_Mass",
    "FullReco_GenMissingET_MET": "Gen_MissingET_MET",
    "FullReco_PrimaryVertex_Z": "Vertex_Z",
    "FullReco_PrimaryVertex_SumPT2": "Vertex_SumPT2",
    # shared by both schemas
    "FullReco_PUPPIPart_PT": "FullReco_PUPPIPart_PT",
    "L1T_MuonTight_IsolationVarRhoCorr": "L1T_MuonTight_IsolationVarRhoCorr",
    "L1T_JetPuppiAK4_Constituents": "L1T_JetPuppiAK4_Constituents",
    "FullReco_PUPPIMET_MET": "FullReco_PUPPIMET_MET",
    "label": "label",
}


@pytest.mark.parametrize(("legacy", "canonical"), LEGACY_EXAMPLES.items())
def test_alias_table_maps_the_published_names(legacy: str, canonical: str) -> None:
    assert canonical_name(legacy) == canonical
    assert legacy_name(canonical) == legacy


def test_every_known_column_round_trips_through_the_legacy_name() -> None:
    names = [c.name for c in known_columns()]
    assert len(names) == len(set(names))
    legacy = [legacy_name(n) for n in names]
    assert len(set(legacy)) == len(names)  # the table is one to one
    assert [canonical_name(n) for n in legacy] == names
    # canonical names are fixed points: reading a final file never renames
    assert all(canonical_name(n) == n for n in names)


def test_user_view_pfcand_is_renamed_too() -> None:
    assert canonical_name("MyView_PFCand_PT") == "MyView_PFPart_PT"
    assert column_view("MyView_PFPart_PT") == "MyView"
    assert column_collection("MyView_PFPart_PT") == "MyView_PFPart"
    assert column_view("Vertex_Z") is None
    assert column_view("Event_Number") is None


def test_wrap_is_the_int8_cast() -> None:
    ids = np.array([2212, -2212, 211, -211, 321, 130, 310, 2112, 3122, 22, 0, 511, 3312])
    assert wrap_pid(ids).tolist() == ids.astype(np.int8).tolist()
    # the reference's examples: 2212 -> -92; 211 is -45 and -211 is 45 as int8
    assert wrap_pid([2212, 211, -211]).tolist() == [-92, -45, 45]


def test_unwrap_table_has_no_collision() -> None:
    images = wrap_pid(list(UNWRAPPED_PIDS)).tolist()
    assert len(set(images)) == len(UNWRAPPED_PIDS)
    for pid, image in zip(UNWRAPPED_PIDS, images, strict=True):
        if pid != image:  # an id that does not fit in int8 must not stand for one that does
            assert image not in INT8_NATIVE_PIDS, pid
    assert unwrap_pid(np.array(images, dtype=np.int8)).tolist() == list(UNWRAPPED_PIDS)


def test_unwrap_covers_final_state_and_pf_ids() -> None:
    wanted = {0, 11, -11, 13, -13, 22, 211, -211, 321, -321, 130, 310, 2112, -2112, 2212, -2212}
    wanted |= {12, -12, 14, -14, 16, -16, 3122, -3122, 3112, -3112, 3222, -3222}
    assert wanted <= set(UNWRAPPED_PIDS)


def test_unwrap_passes_other_values_through() -> None:
    # everything that fits in int8 is itself: quarks, leptons, bosons, pi0
    small = [1, -5, 6, 15, -15, 21, 23, 24, -24, 25, 111]
    assert unwrap_pid(wrap_pid(small)).tolist() == small
    # documented losses: B0 reads as d-bar, Xi- as anti-nu_tau, Omega- as top
    assert unwrap_pid(wrap_pid([511, 3312, 3334])).tolist() == [-1, -16, 6]
    assert unwrap_pid(wrap_pid([2212])).dtype == np.int32


def test_all_256_stored_values_unwrap_to_distinct_ids() -> None:
    stored = np.arange(-128, 128).astype(np.int8)
    out = unwrap_pid(stored)
    assert len(set(out.tolist())) == 256
    assert (wrap_pid(out) == stored).all()


def _final(names: list[str]) -> dict[str, pa.DataType]:
    return dict.fromkeys(names, F16) | {n: I32 for n in names if n.endswith("_PID")}


def test_detect_l1scout_and_collide2v_by_version() -> None:
    types = _final(["Gen_Part_PT", "Gen_Part_Eta", "Gen_Part_Phi", "Gen_Part_PID"])
    assert detect_schema(types, {"dataset_version": "l1scout_gen_v1"}, "f").kind == "l1scout"
    assert detect_schema(types, {"dataset_version": "collide2v_v1.0"}, "f").kind == "collide2v"
    match = detect_schema(types, {}, "f")
    assert match.kind == "collide2v"
    assert dict(match.physical) == {n: n for n in types}
    assert match.unwrap == frozenset()


def test_detect_legacy_maps_and_unwraps() -> None:
    types = {
        "FullReco_GenPart_PT": F16,
        "FullReco_GenPart_Eta": F16,
        "FullReco_GenPart_Phi": F16,
        "FullReco_GenPart_PID": I8,
        "L1T_PFCand_PID": I8,
        "L1T_PUPPIPart_PID": I8,
        "L1T_PUPPIPart_PT": F16,
    }
    match = detect_schema(types, {"dataset_version": "whatever"}, "f")
    assert match.kind == "collide1m"
    assert match.physical["Gen_Part_PID"] == "FullReco_GenPart_PID"
    assert match.physical["L1T_PFPart_PID"] == "L1T_PFCand_PID"
    assert match.physical["L1T_PUPPIPart_PT"] == "L1T_PUPPIPart_PT"
    assert match.unwrap == {"Gen_Part_PID", "L1T_PFPart_PID", "L1T_PUPPIPart_PID"}


def test_detect_shared_names_only() -> None:
    names = ["FullReco_PUPPIPart_PT", "FullReco_PUPPIPart_Eta", "FullReco_PUPPIPart_Phi"]
    assert detect_schema(dict.fromkeys(names, F16), {}, "f").kind == "collide2v"
    legacy = dict.fromkeys(names, F16) | {"FullReco_PUPPIPart_PID": I8}
    assert detect_schema(legacy, {}, "f").kind == "collide1m"
    final = dict.fromkeys(names, F16) | {"FullReco_PUPPIPart_PID": I32}
    assert detect_schema(final, {"dataset_version": "l1scout_x"}, "f").kind == "l1scout"


def test_detect_user_view_and_met_only_files() -> None:
    names = ["MyView_PUPPIPart_PT", "MyView_PUPPIPart_Eta", "MyView_PUPPIPart_Phi"]
    assert detect_schema(dict.fromkeys(names, F16), {}, "f").kind == "collide2v"
    met = ["L1T_PUPPIMET_MET", "L1T_PUPPIMET_Phi"]
    assert detect_schema(dict.fromkeys(met, F16), {}, "f").kind == "collide2v"


def test_a_file_of_no_schema_is_named_with_what_it_misses() -> None:
    with pytest.raises(DataFormatError) as err:
        detect_schema({"a": F16, "b": F16}, {}, "/data/x.parquet")
    text = str(err.value)
    assert "/data/x.parquet" in text
    assert "collide2v" in text
    assert "Gen_Part_PT, Gen_Part_Eta, Gen_Part_Phi" in text


def test_a_half_legacy_file_gets_the_legacy_names_it_misses() -> None:
    types = {"FullReco_GenPart_PT": F16, "FullReco_GenPart_PID": I8, "Event_Number": I32}
    with pytest.raises(DataFormatError) as err:
        detect_schema(types, {}, "old.parquet")
    text = str(err.value)
    assert "old.parquet" in text
    assert "collide1m" in text
    assert "FullReco_GenPart_Eta, FullReco_GenPart_Phi" in text


def test_a_canonical_name_wins_over_its_legacy_twin() -> None:
    types = {
        "FullReco_GenPart_PT": F16,
        "FullReco_GenPart_Eta": F16,
        "FullReco_GenPart_Phi": F16,
        "FullReco_PFCand_PT": F16,
        "FullReco_PFPart_PT": F16,
    }
    match = detect_schema(types, {}, "f")
    assert match.kind == "collide1m"
    assert match.physical["FullReco_PFPart_PT"] == "FullReco_PFPart_PT"


def test_closest_names() -> None:
    pool = ["L1T_PUPPIPart_PT", "L1T_PFPart_PT", "Gen_Part_PT"]
    assert closest_names("L1T_PUPPIPart_Pt", pool)[0] == "L1T_PUPPIPart_PT"
    assert closest_names("zzz", pool) == []
