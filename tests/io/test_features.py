"""Feature builders against hand-made events, slow per-event references and a generated file."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.features import (
    CONSTITUENT_FEATURES,
    JET_FEATURES,
    PARTICLE_FEATURES,
    jet_constituent_columns,
    jet_particles,
    jets_with_constituents,
    particle_set,
    particle_set_columns,
    trigger_input_columns,
    trigger_input_names,
    trigger_inputs,
)
from l1scout.io.ragged import top_k

Lists = list[list[Any]]

# ------------------------------------------------------------------------------------------------
# building chunks by hand


def _jag(lists: Lists, dtype: Any) -> ak.Array:
    """A plain list-per-event array (ListOffsetArray of NumpyArray), as the reader yields."""
    counts = np.array([len(x) for x in lists], dtype=np.int64)
    offsets = offsets_from_counts(counts)
    flat = np.array([v for x in lists for v in x], dtype=dtype)
    return ak.Array(
        ak.contents.ListOffsetArray(ak.index.Index64(offsets), ak.contents.NumpyArray(flat))
    )


def _nested(lists: list[Lists]) -> ak.Array:
    inner = [jet for event in lists for jet in event]
    outer = offsets_from_counts([len(e) for e in lists])
    content = ak.to_layout(_jag(inner, np.int16))
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(outer), content))


def _dtype(name: str) -> Any:
    field = name.rsplit("_", 1)[1]
    if field in {"PID", "Flavor", "NCharged", "NNeutrals"}:
        return np.int32
    if field in {"Charge", "IsPU", "BTag", "BTagPhys"}:
        return np.int8
    if field == "IsRecoPU":
        return np.int32
    return np.float32


def _chunk(columns: dict[str, Any]) -> ak.Array:
    """A record array of the columns: lists of lists become typed jagged arrays."""
    arrays = {}
    for name, value in columns.items():
        if isinstance(value, ak.Array):
            arrays[name] = value
        elif name.endswith("ConstituentsIdx"):
            arrays[name] = _nested(value)
        else:
            arrays[name] = _jag(value, _dtype(name))
    return ak.zip(arrays, depth_limit=1)


def _as_arrow(events: ak.Array, float16: bool = False) -> ak.Array:
    """The same chunk through Arrow: option types (UnmaskedArray), maybe float16 values."""
    table = ak.to_arrow_table(events, extensionarray=False)
    if float16:
        fields = []
        for f in table.schema:
            typ = f.type
            if pa.types.is_list(typ) and pa.types.is_float32(typ.value_type):
                typ = pa.list_(pa.float16())
            elif pa.types.is_large_list(typ) and pa.types.is_float32(typ.value_type):
                typ = pa.large_list(pa.float16())
            fields.append(pa.field(f.name, typ))
        table = table.cast(pa.schema(fields))
    return ak.from_arrow(table)


# ------------------------------------------------------------------------------------------------
# trigger inputs: a hand-made chunk with hand-computed answers


def _hand_trigger_events() -> dict[str, Lists]:
    return {
        "L1T_PUPPIMET_MET": [[45.5], [0.0], [12.0]],
        "L1T_PUPPIMET_Phi": [[1.0], [0.0], [-2.0]],
        "L1T_Electron_PT": [[20.0, 35.0], [], [8.0]],
        "L1T_Electron_Eta": [[0.1, -0.2], [], [0.3]],
        "L1T_Electron_Phi": [[0.5, 1.5], [], [3.1]],
        # event 0: photon 50 is 0.054 from electron 20 (dropped); event 2: the photon is
        # 0.053 from the electron across phi = pi (dropped only if phi wraps)
        "L1T_PhotonTight_PT": [[50.0, 18.0, 12.0, 10.0], [], [9.0]],
        "L1T_PhotonTight_Eta": [[0.15, 2.0, -1.0, 1.0], [], [0.3]],
        "L1T_PhotonTight_Phi": [[0.52, -2.0, 3.0, -3.0], [], [-3.13]],
        "L1T_MuonTight_PT": [[5.0, 60.0, 5.0], [], []],
        "L1T_MuonTight_Eta": [[1.0, 2.0, 3.0], [], []],
        "L1T_MuonTight_Phi": [[-1.0, -2.0, -3.0], [], []],
        # event 0: 12 jets, pT 1..12 shuffled; event 2: one jet
        "L1T_JetPuppiAK4_PT": [
            [7.0, 3.0, 12.0, 1.0, 9.0, 5.0, 11.0, 2.0, 8.0, 4.0, 10.0, 6.0],
            [],
            [40.0],
        ],
        "L1T_JetPuppiAK4_Eta": [
            [0.07, 0.03, 0.12, 0.01, 0.09, 0.05, 0.11, 0.02, 0.08, 0.04, 0.1, 0.06],
            [],
            [-4.0],
        ],
        "L1T_JetPuppiAK4_Phi": [
            [-0.7, -0.3, -1.2, -0.1, -0.9, -0.5, -1.1, -0.2, -0.8, -0.4, -1.0, -0.6],
            [],
            [0.25],
        ],
    }


def _hand_trigger_expected() -> np.ndarray:
    x = np.zeros((3, 19, 3), dtype=np.float32)
    x[0, 0] = [45.5, 0, 1.0]
    x[0, 1:5] = [[35.0, -0.2, 1.5], [20.0, 0.1, 0.5], [18.0, 2.0, -2.0], [12.0, -1.0, 3.0]]
    x[0, 5:8] = [[60.0, 2.0, -2.0], [5.0, 1.0, -1.0], [5.0, 3.0, -3.0]]
    for i, pt in enumerate(range(12, 2, -1)):
        x[0, 9 + i] = [pt, pt / 100, -pt / 10]
    x[2, 0] = [12.0, 0, -2.0]
    x[2, 1] = [8.0, 0.3, 3.1]
    x[2, 9] = [40.0, -4.0, 0.25]
    return x.reshape(3, 57)


def test_trigger_inputs_hand_made() -> None:
    x = trigger_inputs(_chunk(_hand_trigger_events()))
    assert x.dtype == np.float32
    assert x.shape == (3, 57)
    np.testing.assert_array_equal(x, _hand_trigger_expected())


def test_trigger_overlap_switch_keeps_photons() -> None:
    x = trigger_inputs(_chunk(_hand_trigger_events()), overlap_dr=0.0).reshape(3, 19, 3)
    np.testing.assert_array_equal(x[0, 1:5, 0], [50.0, 35.0, 20.0, 18.0])
    np.testing.assert_array_equal(x[2, 1:3, 0], [9.0, 8.0])
    electrons_only = trigger_inputs(_chunk(_hand_trigger_events()), photons=False)
    np.testing.assert_array_equal(electrons_only.reshape(3, 19, 3)[0, 1:5, 0], [35.0, 20.0, 0, 0])


def test_trigger_names_and_columns() -> None:
    names = trigger_input_names()
    assert len(names) == len(set(names)) == 57
    assert names[3:6] == ("L1T_EGamma1_PT", "L1T_EGamma1_Eta", "L1T_EGamma1_Phi")
    assert names[15] == "L1T_Muon1_PT"
    assert names[27] == "L1T_Jet1_PT"
    assert trigger_input_names("FullReco")[0] == "FullReco_MET_PT"
    assert set(trigger_input_columns()) == set(_hand_trigger_events())
    assert "L1T_JetAK4_PT" in trigger_input_columns(jets="JetAK4")


def _ref_top(pt: list[float], rows: list[list[float]], k: int) -> list[list[float]]:
    order = sorted(range(len(pt)), key=lambda i: -pt[i])  # stable
    return [rows[i] for i in order[:k]]


def _ref_trigger(ev: dict[str, Lists], overlap_dr: float) -> np.ndarray:
    """A per-event Python reference of :func:`trigger_inputs`."""
    n = len(ev["L1T_PUPPIMET_MET"])
    out = np.zeros((n, 19, 3), dtype=np.float32)

    def rows(coll: str, i: int) -> list[list[float]]:
        p = f"L1T_{coll}"
        return [
            list(r)
            for r in zip(ev[f"{p}_PT"][i], ev[f"{p}_Eta"][i], ev[f"{p}_Phi"][i], strict=True)
        ]

    for i in range(n):
        if ev["L1T_PUPPIMET_MET"][i]:
            out[i, 0] = [ev["L1T_PUPPIMET_MET"][i][0], 0.0, ev["L1T_PUPPIMET_Phi"][i][0]]
        electrons = rows("Electron", i)
        photons = []
        for g in rows("PhotonTight", i):
            close = False
            for e in electrons:
                dphi = abs(g[2] - e[2])
                dphi = min(dphi, 2 * math.pi - dphi)
                close |= (g[1] - e[1]) ** 2 + dphi**2 < overlap_dr**2
            if not close:
                photons.append(g)
        eg = electrons + photons
        for slot, coll, k, objs in (
            (1, "", 4, eg),
            (5, "MuonTight", 4, None),
            (9, "JetPuppiAK4", 10, None),
        ):
            group = objs if objs is not None else rows(coll, i)
            top = _ref_top([o[0] for o in group], group, k)
            if top:
                out[i, slot : slot + len(top)] = top
    return out.reshape(n, 57)


def _random_trigger_events(rng: np.random.Generator, n: int) -> dict[str, Lists]:
    ev: dict[str, Lists] = {c: [] for c in trigger_input_columns()}
    for _ in range(n):
        has_met = rng.random() < 0.9
        ev["L1T_PUPPIMET_MET"].append([float(rng.integers(0, 200)) * 0.5] if has_met else [])
        ev["L1T_PUPPIMET_Phi"].append([float(rng.uniform(-3, 3))] if has_met else [])
        electrons = None
        for coll, most in (
            ("Electron", 6),
            ("PhotonTight", 7),
            ("MuonTight", 6),
            ("JetPuppiAK4", 15),
        ):
            m = int(rng.integers(0, most + 1))
            pt = (rng.integers(1, 12, m) * 2.5).tolist()  # coarse: many ties
            eta = rng.uniform(-2.5, 2.5, m).tolist()
            phi = rng.uniform(-math.pi, math.pi, m).tolist()
            if coll == "Electron":
                electrons = (eta, phi)
            if coll == "PhotonTight" and electrons and electrons[0]:
                for j in range(m):  # put some photons on top of an electron, some across phi = pi
                    if rng.random() < 0.5:
                        e = int(rng.integers(0, len(electrons[0])))
                        eta[j] = electrons[0][e] + float(rng.uniform(-0.08, 0.08))
                        phi[j] = electrons[1][e] + float(rng.uniform(-0.08, 0.08))
                        phi[j] = (phi[j] + math.pi) % (2 * math.pi) - math.pi
            ev[f"L1T_{coll}_PT"].append(pt)
            ev[f"L1T_{coll}_Eta"].append(eta)
            ev[f"L1T_{coll}_Phi"].append(phi)
    return ev


def _float32_lists(ev: dict[str, Lists]) -> dict[str, Lists]:
    return {k: [np.asarray(x, dtype=np.float32).tolist() for x in v] for k, v in ev.items()}


def test_trigger_inputs_match_per_event_reference() -> None:
    rng = np.random.default_rng(5)
    ev = _float32_lists(_random_trigger_events(rng, 400))
    chunk = _chunk(ev)
    for dr in (0.1, 0.0, 0.3):
        np.testing.assert_array_equal(trigger_inputs(chunk, overlap_dr=dr), _ref_trigger(ev, dr))


def test_trigger_inputs_layouts_agree() -> None:
    rng = np.random.default_rng(6)
    ev = _float32_lists(_random_trigger_events(rng, 120))
    chunk = _chunk(ev)
    want = trigger_inputs(chunk)
    np.testing.assert_array_equal(trigger_inputs(_as_arrow(chunk)), want)
    np.testing.assert_array_equal(trigger_inputs({k: chunk[k] for k in chunk.fields}), want)
    # a mapping of plain Python lists works too
    np.testing.assert_array_equal(trigger_inputs(ev), want)
    # slices and selections (ListArray / IndexedArray layouts) give the selected rows
    np.testing.assert_array_equal(trigger_inputs(chunk[7:50]), want[7:50])
    np.testing.assert_array_equal(trigger_inputs(chunk[::3]), want[::3])
    np.testing.assert_array_equal(trigger_inputs(_as_arrow(chunk)[::-2]), want[::-2])
    # float16 columns (the files' type) give the float16-rounded inputs
    half_chunk = _as_arrow(chunk, float16=True)
    assert "float16" in str(half_chunk.type)
    half = trigger_inputs(half_chunk)
    rounded = {
        k: [np.asarray(x, np.float16).astype(np.float32).tolist() for x in v] for k, v in ev.items()
    }
    np.testing.assert_array_equal(half, trigger_inputs(_chunk(rounded)))


def test_trigger_inputs_errors() -> None:
    ev = _hand_trigger_events()
    with pytest.raises(DataFormatError, match="L1T_MuonTight_Phi"):
        trigger_inputs(_chunk({k: v for k, v in ev.items() if k != "L1T_MuonTight_Phi"}))
    bad = dict(ev, L1T_MuonTight_Eta=[[1.0], [], []])
    with pytest.raises(DataFormatError, match="different numbers of entries"):
        trigger_inputs(_chunk(bad))
    short = {k: (v[:2] if "Jet" in k else v) for k, v in ev.items()}
    with pytest.raises(DataFormatError, match="different numbers of events"):
        trigger_inputs(short)
    with pytest.raises(ConfigError, match="overlap_dr"):
        trigger_inputs(_chunk(ev), overlap_dr=-1.0)
    with pytest.raises(DataFormatError, match="L1T_PUPPIMET_MET"):
        trigger_inputs({**ev, "L1T_PUPPIMET_MET": [[[1.0]], [[0.0]], [[2.0]]]})


def test_top_k_sorts_only_what_it_must() -> None:
    offsets = np.array([0, 3, 3, 7, 8])
    pt = np.array([5.0, 5.0, 1.0, 2.0, 9.0, 2.0, np.nan, 4.0])
    idx, mask = top_k(offsets, pt, 3)
    assert mask.tolist() == [[True] * 3, [False] * 3, [True] * 3, [True, False, False]]
    assert idx[mask].tolist() == [0, 1, 2, 4, 3, 5, 7]  # ties stable, NaN last


def _ref_top_k(offsets: np.ndarray, pt: np.ndarray, k: int) -> list[list[int]]:
    out = []
    for a, b in itertools.pairwise(offsets):
        vals = [float(v) for v in pt[a:b]]
        order = sorted(
            range(len(vals)),
            key=lambda i: (math.isnan(vals[i]), -vals[i] if not math.isnan(vals[i]) else 0),
        )
        out.append([a + i for i in order[:k]])
    return out


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("unsorted_fraction", [0.05, 0.9])
def test_top_k_matches_a_stable_sort(dtype: Any, unsorted_fraction: float) -> None:
    rng = np.random.default_rng(int(unsorted_fraction * 100) + np.dtype(dtype).itemsize)
    counts = rng.integers(0, 9, 500)
    offsets = offsets_from_counts(counts)
    pt = rng.choice(
        np.array([-1.5, -0.0, 0.0, 0.5, 2.0, 2.0, 7.25, 1e4, np.inf, np.nan]), offsets[-1]
    )
    pt = pt.astype(dtype)
    for e in np.flatnonzero(rng.random(500) >= unsorted_fraction):  # the others: already sorted
        seg = pt[offsets[e] : offsets[e + 1]]
        seg[:] = seg[_ref_top_k(np.array([0, len(seg)]), seg, len(seg))[0]]
    for k in (1, 3, 8):
        idx, mask = top_k(offsets, pt, k)
        assert [list(i[m]) for i, m in zip(idx, mask, strict=True)] == _ref_top_k(offsets, pt, k)


# ------------------------------------------------------------------------------------------------
# particle sets


def _hand_particles() -> dict[str, Lists]:
    p = "L1T_PUPPIPart"
    return {
        f"{p}_PT": [[1.0, 8.0, 3.0, 8.0], [2.5]],
        f"{p}_Eta": [[0.1, 0.2, 0.3, 0.4], [-1.0]],
        f"{p}_Phi": [[1.0, 2.0, -3.0, 3.0], [0.5]],
        f"{p}_DZ": [[0.0, 1.5, -0.5, 0.0], [0.25]],
        f"{p}_D0": [[0.0, 0.01, 0.02, 0.0], [-0.03]],
        f"{p}_Charge": [[0, 1, -1, 0], [1]],
        f"{p}_PID": [[22, 211, 13, 0], [-11]],
        f"{p}_PuppiW": [[0.5, 1.0, 0.0, 0.25], [0.75]],
        f"{p}_IsPU": [[1, 0, 1, 0], [1]],
        f"{p}_IsRecoPU": [[0, 0, 1, 0], [0]],
    }


def test_particle_set_hand_made() -> None:
    s = particle_set(_chunk(_hand_particles()), k=3)
    assert s.names == PARTICLE_FEATURES
    assert s.features.shape == (2, 3, len(PARTICLE_FEATURES))
    assert s.features.dtype == np.float32
    # pT-sorted, ties (8, 8) in file order: the charged hadron, then the neutral hadron
    want0 = [
        [8.0, 0.2, 2.0, 1.5, 0.01, 1, 0, 0, 0, 1, 0, 1.0],
        [8.0, 0.4, 3.0, 0.0, 0.0, 0, 0, 0, 0, 0, 1, 0.25],
        [3.0, 0.3, -3.0, -0.5, 0.02, -1, 0, 0, 1, 0, 0, 0.0],
    ]
    want1 = [[2.5, -1.0, 0.5, 0.25, -0.03, 1, 0, 1, 0, 0, 0, 0.75], [0.0] * 12, [0.0] * 12]
    np.testing.assert_array_equal(s.features, np.array([want0, want1], dtype=np.float32))
    assert s.mask.tolist() == [[True, True, True], [True, False, False]]
    assert s.label_names == ("IsPU",)
    assert s.labels is not None
    assert s.labels[..., 0].tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


def test_particle_set_options() -> None:
    chunk = _chunk(_hand_particles())
    s = particle_set(chunk, k=5, truth=False)
    assert s.labels is None
    assert s.label_names == ()
    assert s.mask.sum() == 5
    two = particle_set(chunk, k=2, label_fields=("IsPU", "IsRecoPU"))
    assert two.labels is not None
    assert two.labels.shape == (2, 2, 2)
    assert two.labels[0, :, 1].tolist() == [0.0, 0.0]
    rel = particle_set(chunk, k=3, relative=True)
    assert rel.names[-2:] == ("DEta", "DPhi")
    pt = np.array([8.0, 8.0, 3.0])
    eta = np.array([0.2, 0.4, 0.3])
    phi = np.array([2.0, 3.0, -3.0])
    axis_eta = (pt * eta).sum() / pt.sum()
    axis_phi = math.atan2((pt * np.sin(phi)).sum(), (pt * np.cos(phi)).sum())
    want_dphi = (phi - axis_phi + math.pi) % (2 * math.pi) - math.pi
    np.testing.assert_allclose(rel.features[0, :, -2], eta - axis_eta, atol=1e-6)
    np.testing.assert_allclose(rel.features[0, :, -1], want_dphi, atol=1e-6)
    assert rel.features[1, 0, -2:].tolist() == [0.0, 0.0]  # a lone particle is its own axis
    assert rel.features[1, 1:, -2:].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    np.testing.assert_array_equal(rel.features[..., :-2], particle_set(chunk, k=3).features)
    with pytest.raises(ConfigError, match="k: expected a positive"):
        particle_set(chunk, k=0)
    with pytest.raises(DataFormatError, match="L1T_PFPart_PT"):
        particle_set(chunk, collection="PFPart")


def _ref_particle_set(
    ev: dict[str, Lists], k: int, prefix: str = "L1T_PUPPIPart"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(ev[f"{prefix}_PT"])
    feats = np.zeros((n, k, 12), dtype=np.float32)
    mask = np.zeros((n, k), dtype=bool)
    labels = np.zeros((n, k, 1), dtype=np.float32)
    for i in range(n):
        pt = ev[f"{prefix}_PT"][i]
        for slot, j in enumerate(sorted(range(len(pt)), key=lambda j: -pt[j])[:k]):
            pid, q = abs(ev[f"{prefix}_PID"][i][j]), ev[f"{prefix}_Charge"][i][j]
            kind = [q == 0 and pid == 22, q != 0 and pid == 11, q != 0 and pid == 13]
            kind += [q != 0 and not (kind[1] or kind[2]), q == 0 and not kind[0]]
            feats[i, slot] = [
                pt[j],
                ev[f"{prefix}_Eta"][i][j],
                ev[f"{prefix}_Phi"][i][j],
                ev[f"{prefix}_DZ"][i][j],
                ev[f"{prefix}_D0"][i][j],
                q,
                *kind,
                ev[f"{prefix}_PuppiW"][i][j],
            ]
            mask[i, slot] = True
            labels[i, slot, 0] = ev[f"{prefix}_IsPU"][i][j]
    return feats, mask, labels


def _random_particles(
    rng: np.random.Generator, n: int, most: int, prefix: str = "L1T_PUPPIPart"
) -> dict[str, Lists]:
    ev: dict[str, Lists] = {c: [] for c in particle_set_columns(collection=prefix.split("_", 1)[1])}
    pids = np.array([22, 0, 130, 211, -211, 11, -11, 13, -13, 321, 2212])
    charges = np.array([0, 0, 0, 1, -1, -1, 1, -1, 1, 1, 1])
    for _ in range(n):
        m = int(rng.integers(0, most + 1))
        kind = rng.integers(0, len(pids), m)
        ev[f"{prefix}_PT"].append((rng.integers(1, 40, m) * 0.5).tolist())
        ev[f"{prefix}_Eta"].append(np.float32(rng.uniform(-4, 4, m)).tolist())
        ev[f"{prefix}_Phi"].append(np.float32(rng.uniform(-math.pi, math.pi, m)).tolist())
        ev[f"{prefix}_DZ"].append(np.float32(rng.normal(0, 1, m)).tolist())
        ev[f"{prefix}_D0"].append(np.float32(rng.normal(0, 0.1, m)).tolist())
        ev[f"{prefix}_Charge"].append(charges[kind].tolist())
        ev[f"{prefix}_PID"].append(pids[kind].tolist())
        ev[f"{prefix}_PuppiW"].append(np.float32(rng.uniform(0, 1, m)).tolist())
        ev[f"{prefix}_IsPU"].append(rng.integers(0, 2, m).tolist())
    return ev


@pytest.mark.parametrize("k", [1, 7, 40])
def test_particle_set_matches_per_event_reference(k: int) -> None:
    rng = np.random.default_rng(k)
    ev = _random_particles(rng, 150, 30)
    s = particle_set(_chunk(ev), k=k)
    feats, mask, labels = _ref_particle_set(ev, k)
    np.testing.assert_array_equal(s.features, feats)
    np.testing.assert_array_equal(s.mask, mask)
    np.testing.assert_array_equal(s.labels, labels)
    # the Arrow layout (option types) and a slice give the same
    arrow = particle_set(_as_arrow(_chunk(ev))[10:], k=k)
    np.testing.assert_array_equal(arrow.features, feats[10:])


def test_particle_types_survive_the_int8_pid_wrap() -> None:
    from l1scout.io.ragged import particle_type_one_hot

    pid = np.array(
        [
            22,
            0,
            130,
            2112,
            310,
            3122,
            11,
            -11,
            13,
            -13,
            211,
            -211,
            321,
            -321,
            2212,
            -2212,
            3222,
            3312,
            411,
        ]
    )
    charge = np.array([0, 0, 0, 0, 0, 0, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, 1, -1, 1])
    wrapped = (((pid + 128) % 256) - 128).astype(np.int8)
    assert wrapped[14] == -92  # 2212, as the reference says
    want = particle_type_one_hot(pid, charge)
    np.testing.assert_array_equal(particle_type_one_hot(wrapped, charge.astype(np.int8)), want)
    assert want.sum(axis=0).tolist() == [1, 2, 2, 9, 5]  # photon, e, mu, charged, neutral hadrons
    assert (want.sum(axis=1) == 1).all()


# ------------------------------------------------------------------------------------------------
# jets with constituents


def _hand_jets() -> dict[str, Any]:
    j = "L1T_JetPuppiAK4"
    ev: dict[str, Any] = {
        f"{j}_PT": [[30.0, 80.0, 20.0], []],
        f"{j}_Eta": [[0.5, -1.0, 2.0], []],
        f"{j}_Phi": [[3.1, 0.0, 1.0], []],
        f"{j}_Mass": [[5.0, 10.0, 3.0], []],
        f"{j}_Charge": [[1, 0, -1], []],
        f"{j}_NCharged": [[2, 1, 1], []],
        f"{j}_NNeutrals": [[1, 1, 0], []],
        f"{j}_BTag": [[0, 1, 0], []],
        f"{j}_Flavor": [[21, 5, 1], []],
        # jet 0 lists particles 0, 2, 4 and 9 (outside the list: skipped), jet 1: 1, 3; jet 2: 5
        f"{j}_ConstituentsIdx": [[[0, 2, 4, 9], [1, 3], [5]], []],
    }
    ev.update(_hand_particles())
    p = "L1T_PUPPIPart"
    extra = {
        "PT": [[12.0, 50.0, 15.0, 30.0, 3.0, 20.0], [1.0]],
        "Eta": [[0.6, -1.1, 0.4, -0.9, 0.5, 2.0], [0.0]],
        "Phi": [[-3.1, 0.1, 3.0, -0.1, 3.1, 1.0], [0.0]],
        "DZ": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.0]],
        "D0": [[0.01, 0.02, 0.03, 0.04, 0.05, 0.06], [0.0]],
        "Charge": [[1, 0, 1, 0, 0, -1], [0]],
        "PID": [[211, 22, 211, 0, 22, 13], [22]],
        "PuppiW": [[1.0, 0.9, 0.8, 0.7, 0.6, 0.5], [1.0]],
        "IsPU": [[0, 0, 1, 0, 1, 0], [0]],
        "IsRecoPU": [[0, 0, 0, 0, 0, 0], [0]],
    }
    ev.update({f"{p}_{k}": v for k, v in extra.items()})
    return ev


def test_jets_with_constituents_hand_made() -> None:
    s = jets_with_constituents(_chunk(_hand_jets()), n_jets=2, n_constituents=2)
    assert s.jet_names == JET_FEATURES
    assert s.constituent_names == CONSTITUENT_FEATURES
    np.testing.assert_array_equal(
        s.jets,
        np.array(
            [
                [[80.0, -1.0, 0.0, 10.0, 0, 1, 1, 1], [30.0, 0.5, 3.1, 5.0, 1, 2, 1, 0]],
                np.zeros((2, 8)),
            ],
            dtype=np.float32,
        ),
    )
    assert s.jet_mask.tolist() == [[True, True], [False, False]]
    assert s.jet_labels is not None
    assert s.jet_labels[..., 0].tolist() == [[5.0, 21.0], [0.0, 0.0]]
    assert s.constituent_mask.tolist() == [
        [[True, True], [True, True]],
        [[False, False], [False, False]],
    ]
    c = s.constituents
    names = list(CONSTITUENT_FEATURES)
    # jet 80: particles 1 (50 GeV photon) then 3 (30 GeV neutral hadron)
    assert c[0, 0, :, 0].tolist() == [50.0, 30.0]
    assert c[0, 0, 0, names.index("IsPhoton")] == 1
    assert c[0, 0, 1, names.index("IsNeutralHadron")] == 1
    # jet 30 at phi 3.1: particles 2 (15 GeV, phi 3.0) and 0 (12 GeV, phi -3.1: across pi)
    assert c[0, 1, :, 0].tolist() == [15.0, 12.0]
    np.testing.assert_allclose(c[0, 1, :, names.index("DEta")], [0.4 - 0.5, 0.6 - 0.5], atol=1e-6)
    np.testing.assert_allclose(
        c[0, 1, :, names.index("DPhi")], [3.0 - 3.1, 2 * math.pi - 6.2], atol=1e-5
    )
    np.testing.assert_allclose(c[0, 0, :, names.index("DPhi")], [0.1, -0.1], atol=1e-6)
    assert s.constituent_labels is not None
    assert s.constituent_labels[0, 1, :, 0].tolist() == [1.0, 0.0]
    assert not c[1].any()
    assert c.shape == (2, 2, 2, len(CONSTITUENT_FEATURES))


@pytest.mark.parametrize("view", ["L1T", "FullReco"])
def test_jet_particles_follows_the_shipped_cards(view: str) -> None:
    from l1scout.detector.view_card import load_view_card

    card = load_view_card(view)
    assert card.jets
    for spec in card.jets:
        assert jet_particles(spec.name) == {"puppi": "PUPPIPart", "pf": "PFPart"}[spec.input]


def test_jets_with_constituents_options_and_errors() -> None:
    chunk = _chunk(_hand_jets())
    s = jets_with_constituents(chunk, n_jets=4, n_constituents=5, truth=False)
    assert s.jet_labels is None
    assert s.constituent_labels is None
    # jet 30 keeps 3 of its 4 listed constituents: index 9 is outside the 6-particle list
    assert s.constituent_mask[0].sum(axis=1).tolist() == [2, 3, 1, 0]
    assert jet_particles("JetAK4") == "PFPart"
    assert "L1T_PFPart_PT" in jet_constituent_columns(jets="JetAK4")
    assert "L1T_PUPPIPart_PT" in jet_constituent_columns(jets="JetAK4", particles="PUPPIPart")
    with pytest.raises(DataFormatError, match="L1T_PFPart_PT"):
        jets_with_constituents(chunk, jets="JetPuppiAK4", particles="PFPart")
    bad = _hand_jets()
    bad["L1T_JetPuppiAK4_ConstituentsIdx"] = [[[0], [1]], []]
    with pytest.raises(DataFormatError, match="one list per jet"):
        jets_with_constituents(_chunk(bad))
    with pytest.raises(ConfigError, match="n_constituents"):
        jets_with_constituents(chunk, n_constituents=0)


def _ref_jets(ev: dict[str, Any], n_jets: int, n_const: int) -> tuple[np.ndarray, np.ndarray]:
    j, p = "L1T_JetPuppiAK4", "L1T_PUPPIPart"
    n = len(ev[f"{j}_PT"])
    feats = np.zeros((n, n_jets, n_const, 14), dtype=np.float32)
    mask = np.zeros((n, n_jets, n_const), dtype=bool)
    part, _, _ = _ref_particle_set(ev, 10_000)  # every particle, pT-sorted: recover by index
    for i in range(n):
        jpt = ev[f"{j}_PT"][i]
        pt = ev[f"{p}_PT"][i]
        order = sorted(range(len(pt)), key=lambda a: -pt[a])
        slot_of = {a: s for s, a in enumerate(order)}
        for js, jet in enumerate(sorted(range(len(jpt)), key=lambda a: -jpt[a])[:n_jets]):
            members = [a for a in ev[f"{j}_ConstituentsIdx"][i][jet] if 0 <= a < len(pt)]
            members = sorted(members, key=lambda a: -pt[a])[:n_const]
            for cs, a in enumerate(members):
                row = part[i, slot_of[a]]
                deta = np.float32(row[1]) - np.float32(ev[f"{j}_Eta"][i][jet])
                dphi = np.float32(row[2]) - np.float32(ev[f"{j}_Phi"][i][jet])
                dphi = (dphi + math.pi) % (2 * math.pi) - math.pi
                feats[i, js, cs] = [*row, deta, dphi]
                mask[i, js, cs] = True
    return feats, mask


def test_jets_match_per_event_reference() -> None:
    rng = np.random.default_rng(11)
    ev: dict[str, Any] = _random_particles(rng, 80, 60)
    j = "L1T_JetPuppiAK4"
    for c in jet_constituent_columns():
        if c.startswith(j):
            ev[c] = []
    for parts in ev["L1T_PUPPIPart_PT"]:
        m = int(rng.integers(0, 12))
        for name in JET_FEATURES:
            ev[f"{j}_{name}"].append(
                (rng.integers(1, 9, m) * 5.0).tolist()
                if name == "PT"
                else np.float32(rng.uniform(-3, 3, m)).tolist()
            )
        ev[f"{j}_Flavor"].append(rng.integers(0, 6, m).tolist())
        # constituents: random subsets of the particles, sometimes out of range, in random order
        ev[f"{j}_ConstituentsIdx"].append(
            [rng.integers(0, len(parts) + 2, int(rng.integers(0, 25))).tolist() for _ in range(m)]
        )
    for name in ("Charge", "NCharged", "NNeutrals", "BTag"):
        ev[f"{j}_{name}"] = [[int(v) for v in x] for x in ev[f"{j}_{name}"]]
    s = jets_with_constituents(_chunk(ev), n_jets=6, n_constituents=9)
    feats, mask = _ref_jets(ev, 6, 9)
    np.testing.assert_array_equal(s.constituent_mask, mask)
    np.testing.assert_allclose(s.constituents, feats, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(s.constituents[..., :12], feats[..., :12])
    jet_pt = [sorted(x, reverse=True)[:6] + [0.0] * (6 - min(6, len(x))) for x in ev[f"{j}_PT"]]
    np.testing.assert_array_equal(s.jets[..., 0], np.array(jet_pt, dtype=np.float32))


def test_empty_chunks_and_lists_of_unknown_type() -> None:
    cols = {*trigger_input_columns(), *particle_set_columns(), *jet_constituent_columns()}
    none = {c: ak.Array([[], [], []])[:0] for c in cols}
    assert trigger_inputs(none).shape == (0, 57)
    assert particle_set(none, k=4).features.shape == (0, 4, len(PARTICLE_FEATURES))
    assert jets_with_constituents(none, n_jets=2, n_constituents=3).constituents.shape == (
        0,
        2,
        3,
        14,
    )
    empty = {c: ak.Array([[], [], []]) for c in cols}  # three events, nothing in them
    assert not trigger_inputs(empty).any()
    assert not particle_set(empty, k=4).mask.any()
    s = jets_with_constituents(empty, n_jets=2, n_constituents=3)
    assert s.constituents.shape == (3, 2, 3, 14)
    assert not s.jet_mask.any()


# ------------------------------------------------------------------------------------------------
# a generated file (both views, as the generator writes them)


@pytest.fixture(scope="module")
def generated(reader_l1scout_file: Path) -> ak.Array:
    """The session's generated file (tests/io/conftest.py: 20 ttbar events, both views, pileup 15)."""
    raw = ak.from_parquet(reader_l1scout_file)
    # float16 -> float32 as the reader does
    return ak.zip(
        {
            f: ak.values_astype(raw[f], np.float32) if "float16" in str(raw[f].type) else raw[f]
            for f in raw.fields
        },
        depth_limit=1,
    )


def _vector_sum(pt: np.ndarray, phi: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    px = (w * pt * np.cos(phi)).sum(axis=-1)
    py = (w * pt * np.sin(phi)).sum(axis=-1)
    return np.hypot(px, py), np.arctan2(py, px)


@pytest.mark.slow
@pytest.mark.parametrize("view", ["L1T", "FullReco"])
def test_builders_on_a_generated_file(generated: ak.Array, view: str) -> None:
    ev = generated
    n = len(ev)
    x = trigger_inputs(ev, view).reshape(n, 19, 3)
    assert np.isfinite(x).all()
    jets = ak.to_list(ev[f"{view}_JetPuppiAK4_PT"])
    assert x[:, 9:, 0].tolist() == [
        np.float32(sorted(j, reverse=True)[:10] + [0.0] * max(0, 10 - len(j))).tolist()
        for j in jets
    ]
    for lo, hi in ((1, 5), (5, 9), (9, 19)):
        assert (np.diff(x[:, lo:hi, 0], axis=1) <= 0).all()
    assert (x[:, 0, 1] == 0).all()
    assert (x[:, :, 0] > 0).sum() > n  # MET and jets in every event

    s = particle_set(ev, view, k=128)
    assert (
        s.mask.sum(axis=1).tolist()
        == np.minimum(ak.to_numpy(ak.num(ev[f"{view}_PUPPIPart_PT"])), 128).tolist()
    )
    assert (np.diff(s.features[..., 0], axis=1) <= 0).all()
    one_hot = s.features[..., 6:11]
    np.testing.assert_array_equal(one_hot.sum(axis=-1), s.mask)
    assert one_hot[s.mask][:, [0, 3, 4]].sum(axis=0).min() > 0  # photons, hadrons seen
    assert s.labels is not None
    assert set(np.unique(s.labels)) <= {0.0, 1.0}
    assert 0 < s.labels[s.mask].mean() < 1  # pileup and hard-scatter particles both there

    # ConstituentsIdx points into PUPPIPart for PUPPI jets: the weighted constituents sum
    # to the jet; into PFPart for CHS jets: the constituents point along the jet
    n_const = int(ak.max(ak.num(ev[f"{view}_JetPuppiAK4_ConstituentsIdx"], axis=2)))
    pj = jets_with_constituents(ev, view, n_jets=10, n_constituents=n_const)
    names = list(CONSTITUENT_FEATURES)
    c = pj.constituents
    pt_sum, phi_sum = _vector_sum(c[..., 0], c[..., 2], c[..., names.index("PuppiW")])
    real = pj.jet_mask
    np.testing.assert_allclose(pt_sum[real], pj.jets[..., 0][real], rtol=0.02)
    dphi = (phi_sum[real] - pj.jets[..., 2][real] + math.pi) % (2 * math.pi) - math.pi
    np.testing.assert_allclose(dphi, 0, atol=0.02)
    n_chs = int(ak.max(ak.num(ev[f"{view}_JetAK4_ConstituentsIdx"], axis=2)))
    cj = jets_with_constituents(ev, view, jets="JetAK4", n_jets=10, n_constituents=n_chs)
    assert cj.jet_mask.any()
    c = cj.constituents
    raw_pt, raw_phi = _vector_sum(c[..., 0], c[..., 2], np.ones_like(c[..., 0]))
    real = cj.jet_mask
    dphi = (raw_phi[real] - cj.jets[..., 2][real] + math.pi) % (2 * math.pi) - math.pi
    np.testing.assert_allclose(dphi, 0, atol=0.02)
    assert (cj.jets[..., 0][real] <= raw_pt[real] * 1.01).all()  # rho x area subtracted
    assert (np.abs(c[..., names.index("DEta")][cj.constituent_mask]) < 1.0).all()
