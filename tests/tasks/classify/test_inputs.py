"""Object- and particle-level classifier inputs on hand-made events with known slots."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from l1scout.errors import DataFormatError
from l1scout.tasks.classify.inputs import (
    N_OBJECT_TOKENS,
    OBJECT_GROUPS,
    PARTICLE_INPUT_FEATURES,
    TOKEN_FEATURES,
    event_objects,
    event_particles,
    flat_feature_names,
    object_input_columns,
    particle_input_columns,
)

VIEW = "L1T"
_COLL = {
    "jet": "JetPuppiAK4",
    "electron": "Electron",
    "muon": "MuonTight",
    "photon": "PhotonTight",
    "met": "PUPPIMET",
}


def _events(objects: dict[str, list[list[dict[str, float]]]], n: int) -> dict[str, ak.Array]:
    """Columns of *n* events; ``objects[group][event]`` is a list of {field: value} (unset fields 0)."""
    out: dict[str, ak.Array] = {}
    for group, (_, fields) in OBJECT_GROUPS.items():
        per_event = objects.get(group, [[] for _ in range(n)])
        for field in fields:
            out[f"{VIEW}_{_COLL[group]}_{field}"] = ak.Array(
                [[float(o.get(field, 0.0)) for o in ev] for ev in per_event]
            )
    return out


def _flat_reference(objects: dict[str, list[list[dict[str, float]]]], n: int) -> np.ndarray:
    """The flat MLP input, slot by slot, with Python loops: the obviously correct version."""
    rows = []
    for e in range(n):
        row: list[float] = []
        for group, (k, fields) in OBJECT_GROUPS.items():
            objs = objects.get(group, [[] for _ in range(n)])[e]
            key = fields[0]
            order = sorted(range(len(objs)), key=lambda i: -objs[i].get(key, 0.0))  # stable
            for slot in range(k):
                if slot < len(order):
                    row += [float(objs[order[slot]].get(f, 0.0)) for f in fields]
                else:
                    row += [0.0] * len(fields)
        row.append(float(len(objects.get("jet", [[] for _ in range(n)])[e])))
        rows.append(row)
    return np.array(rows, dtype=np.float32)


def _hand_made() -> tuple[dict[str, list[list[dict[str, float]]]], int]:
    rng = np.random.default_rng(3)
    jets_ev0 = [
        {
            "PT": float(pt),
            "Eta": 0.1 * i,
            "Phi": -0.2 * i,
            "Mass": 5 + i,
            "BTag": i % 2,
            "NCharged": i,
            "NNeutrals": 2 * i,
        }
        for i, pt in enumerate(rng.permutation(np.arange(20.0, 160.0, 10.0)))  # 14 jets, shuffled
    ]
    objects = {
        "jet": [jets_ev0, [], [{"PT": 33.0, "Eta": 2.0, "BTag": 1, "NCharged": 4}]],
        "electron": [
            [
                {
                    "PT": 12.0,
                    "Charge": -1,
                    "D0": 0.01,
                    "DZ": 0.3,
                    "EhadOverEem": 0.05,
                    "IsolationVar": 0.1,
                },
                {"PT": 40.0, "Charge": 1, "Eta": -1.2, "Phi": 3.0, "IsolationVar": 0.02},
            ],
            [],
            [],
        ],
        "muon": [[], [{"PT": 25.0, "Charge": 1, "Eta": 2.3, "DZ": -1.5, "IsolationVar": 0.4}], []],
        "photon": [
            [],
            [],
            [{"PT": 60.0, "EhadOverEem": 0.01, "IsolationVar": 0.2}, {"PT": 60.0, "Eta": 1.0}],
        ],  # a pT tie: file order kept
        "met": [[{"MET": 45.0, "Phi": 1.0}], [{"MET": 3.0, "Phi": -2.5}], [{"MET": 0.5}]],
    }
    return objects, 3


def test_layout_sizes() -> None:
    assert N_OBJECT_TOKENS == 37
    assert len(TOKEN_FEATURES) == 8 + 5
    assert [len(f) for _, f in OBJECT_GROUPS.values()] == [7, 8, 7, 5, 2]
    assert len(flat_feature_names()) == 12 * 7 + 8 * 8 + 8 * 7 + 8 * 5 + 2 + 1
    assert len(set(object_input_columns(VIEW))) == len(object_input_columns(VIEW))


def test_flat_input_matches_a_slot_by_slot_reference() -> None:
    objects, n = _hand_made()
    x = event_objects(_events(objects, n), VIEW)
    np.testing.assert_array_equal(x.flat, _flat_reference(objects, n))
    assert x.flat.dtype == np.float32
    assert (x.n_events, x.n_token_features, x.n_flat) == (3, 13, 247)


def test_slots_ordering_padding_and_counts() -> None:
    objects, n = _hand_made()
    x = event_objects(_events(objects, n), VIEW)
    names = flat_feature_names()
    col = {name: j for j, name in enumerate(names)}
    # 14 jets: the 12 highest kept, in decreasing pT, and the count is 14
    jet_pt = x.flat[0, [col[f"jet{i}_PT"] for i in range(1, 13)]]
    assert jet_pt.tolist() == list(np.arange(150.0, 30.0, -10.0))
    assert x.flat[:, col["n_jets"]].tolist() == [14.0, 0.0, 1.0]
    # electrons sorted: the 40 GeV one first, with its own charge and isolation
    assert x.flat[0, col["electron1_PT"]] == 40.0
    assert x.flat[0, col["electron1_Charge"]] == 1.0
    assert x.flat[0, col["electron2_Charge"]] == -1.0
    assert x.flat[0, col["electron2_EhadOverEem"]] == np.float32(0.05)
    # photon tie keeps the file order
    assert x.flat[2, col["photon1_IsolationVar"]] == np.float32(0.2)
    assert x.flat[2, col["photon2_Eta"]] == 1.0
    # MET
    assert x.flat[:, col["met_MET"]].tolist() == [45.0, 3.0, 0.5]
    assert x.flat[1, col["met_Phi"]] == -2.5
    # masks: jets 12 (ev 0), muon only + MET (ev 1), 1 jet + 2 photons + MET (ev 2)
    assert x.mask.sum(axis=1).tolist() == [12 + 2 + 1, 1 + 1, 1 + 2 + 1]


def test_tokens_carry_the_same_values_and_the_group_one_hot() -> None:
    objects, n = _hand_made()
    x = event_objects(_events(objects, n), VIEW)
    start, pos = 0, 0
    for g, (k, fields) in enumerate(OBJECT_GROUPS.values()):
        block = x.tokens[:, start : start + k]
        width = len(fields)
        np.testing.assert_array_equal(
            block[..., :width].reshape(n, -1), x.flat[:, pos : pos + k * width]
        )
        assert not block[..., width:8].any()  # zero-padded to the widest group
        one_hot = block[..., 8:]
        assert (one_hot[..., g] == 1).all()
        assert one_hot.sum(axis=-1).max() == 1
        start, pos = start + k, pos + k * width
    # padded tokens hold no feature
    assert not x.tokens[~x.mask][:, :8].any()


def test_record_array_chunk_gives_the_same_inputs() -> None:
    objects, n = _hand_made()
    cols = _events(objects, n)
    as_mapping = event_objects(cols, VIEW)
    as_records = event_objects(ak.Array(cols), VIEW)
    np.testing.assert_array_equal(as_mapping.tokens, as_records.tokens)
    np.testing.assert_array_equal(as_mapping.mask, as_records.mask)


def test_float16_columns_are_read_as_float32() -> None:
    objects, n = _hand_made()
    cols = _events(objects, n)
    cols[f"{VIEW}_JetPuppiAK4_PT"] = ak.values_astype(cols[f"{VIEW}_JetPuppiAK4_PT"], np.float16)
    x = event_objects(cols, VIEW)
    assert x.flat.dtype == np.float32
    assert x.flat[0, 0] == 150.0


def test_missing_collection_is_an_error_naming_the_column() -> None:
    objects, n = _hand_made()
    cols = _events(objects, n)
    del cols[f"{VIEW}_PhotonTight_EhadOverEem"]
    with pytest.raises(DataFormatError, match="L1T_PhotonTight_EhadOverEem"):
        event_objects(cols, VIEW)
    with pytest.raises(DataFormatError, match="FullReco_JetPuppiAK4_PT"):
        event_objects(_events(objects, n), "FullReco")


def test_mismatched_lists_are_an_error() -> None:
    objects, n = _hand_made()
    cols = _events(objects, n)
    cols[f"{VIEW}_MuonTight_Charge"] = ak.Array([[1.0], [], []])
    with pytest.raises(DataFormatError, match="MuonTight"):
        event_objects(cols, VIEW)


# ---------------------------------------------------------------- particles


def _particles(
    prefix: str, pts: list[list[float]], weights: list[list[float]]
) -> dict[str, ak.Array]:
    cols = {c.replace("L1T_PUPPIPart", prefix): None for c in particle_input_columns(VIEW)}
    out: dict[str, ak.Array] = {}
    for c in cols:
        field = c.rsplit("_", 1)[-1]
        if field == "PT":
            out[c] = ak.Array(pts)
        elif field == "PuppiW":
            out[c] = ak.Array(weights)
        elif field == "PID":
            out[c] = ak.Array([[211] * len(p) for p in pts])
        elif field == "Charge":
            out[c] = ak.Array([[1] * len(p) for p in pts])
        else:
            out[c] = ak.Array([[0.5] * len(p) for p in pts])
    return out


def test_particles_top_k_with_puppi_pt() -> None:
    cols = _particles("L1T_PUPPIPart", [[1.0, 8.0, 2.0, 4.0], []], [[1.0, 0.5, 0.0, 0.25], []])
    p = event_particles(cols, VIEW, k=3)
    assert p.features.shape == (2, 3, len(PARTICLE_INPUT_FEATURES))
    assert p.mask.tolist() == [[True, True, True], [False, False, False]]
    i_pt = PARTICLE_INPUT_FEATURES.index("PT")
    i_ppt = PARTICLE_INPUT_FEATURES.index("PuppiPT")
    i_log = PARTICLE_INPUT_FEATURES.index("LogPT")
    assert p.features[0, :, i_pt].tolist() == [8.0, 4.0, 2.0]
    assert p.features[0, :, i_ppt].tolist() == [4.0, 1.0, 0.0]
    np.testing.assert_allclose(p.features[0, :, i_log], np.log([8.0, 4.0, 2.0]), rtol=1e-6)
    assert not p.features[1].any()
    assert p.features[0, 0, PARTICLE_INPUT_FEATURES.index("IsChargedHadron")] == 1.0


def test_particles_prefer_the_precut_collection() -> None:
    full = _particles("L1T_PUPPIPart", [[9.0, 7.0]], [[1.0, 1.0]])
    precut = _particles("L1T_PUPPIPart128", [[5.0, 3.0]], [[1.0, 1.0]])
    p = event_particles({**full, **precut}, VIEW, k=2)
    assert p.features[0, :, 0].tolist() == [5.0, 3.0]  # read from PUPPIPart128
    assert event_particles(full, VIEW, k=2).features[0, :, 0].tolist() == [9.0, 7.0]
    available = tuple(full) + tuple(precut)
    assert particle_input_columns(VIEW, available=available)[0] == "L1T_PUPPIPart128_PT"
    assert particle_input_columns(VIEW, k=129, available=available)[0] == "L1T_PUPPIPart_PT"


def test_particles_missing_column_is_named() -> None:
    cols = _particles("L1T_PUPPIPart", [[1.0]], [[1.0]])
    del cols["L1T_PUPPIPart_PuppiW"]
    with pytest.raises(DataFormatError, match="L1T_PUPPIPart_PuppiW"):
        event_particles(cols, VIEW)
