"""MLPF element features and padding (l1scout.tasks.mlpf.features)."""

from __future__ import annotations

import numpy as np
import pytest

from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf.features import (
    INPUT_WIDTH,
    N_FEATURES,
    TOWER,
    TOWER_COLUMNS,
    TOWER_FEATURES,
    TRACK,
    TRACK_COLUMNS,
    TRACK_FEATURES,
    element_features,
    pad_events,
)


def _tracks(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cols = {c: rng.uniform(0.1, 1.0, n) for c in TRACK_COLUMNS}
    cols["PT"] = rng.uniform(1.0, 50.0, n)
    cols["P"] = cols["PT"] * 1.5
    cols["Eta"] = rng.uniform(-2.5, 2.5, n)
    cols["EtaOuter"] = cols["Eta"] + 0.01
    cols["Phi"] = rng.uniform(-np.pi, np.pi, n)
    cols["Charge"] = rng.choice([-1.0, 1.0], n)
    return cols


def _towers(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cols = {c: rng.uniform(0.1, 1.0, n) for c in TOWER_COLUMNS}
    cols["E"] = rng.uniform(0.5, 80.0, n)
    cols["ET"] = cols["E"] / 2.0
    cols["Eta"] = rng.uniform(-4.0, 4.0, n)
    cols["Phi"] = rng.uniform(-np.pi, np.pi, n)
    return cols


def test_hand_made_event_features() -> None:
    tracks = {
        "PT": [10.0],
        "Eta": [0.5],
        "Phi": [np.pi / 2],
        "Charge": [-1],
        "P": [np.e * 10.0],
        "D0": [0.0],
        "DZ": [50.0],
        "ErrorPT": [0.5],
        "ErrorD0": [0.01],
        "ErrorDZ": [0.0],
        "EtaOuter": [0.6],
        "PhiOuter": [0.0],
    }
    towers = {
        "E": [4.0],
        "ET": [2.0],
        "Eem": [1.0],
        "Ehad": [3.0],
        "Ehf": [0.0],
        "Eta": [-1.0],
        "Phi": [np.pi],
        "X": [1000.0],
        "Y": [-500.0],
        "Z": [2000.0],
        "NParticles": [3],
    }
    el = element_features(tracks, [0, 1], towers, [0, 1])
    trk, twr = el.features.astype(np.float64)
    expected_track = [
        np.log(10.0),
        0.5,
        1.0,
        0.0,
        -1.0,
        np.log(10.0) + 1.0,
        0.0,
        0.5,
        0.05,
        np.log(2.0),
        0.0,
        0.6,
        0.0,
        1.0,
    ]
    np.testing.assert_allclose(trk, expected_track, atol=1e-6)
    expected_tower = [np.log(4.0), -1.0, 0.0, -1.0, np.log(2.0), 0.25, 0.75, 0.0, 1.0, -0.5, 2.0]
    np.testing.assert_allclose(twr[: len(TOWER_FEATURES)], expected_tower, atol=1e-6)
    assert np.all(twr[len(TOWER_FEATURES) :] == 0)  # zero-filled to the common width
    assert el.kind.tolist() == [TRACK, TOWER]
    assert el.pt.tolist() == [10.0, 2.0]
    np.testing.assert_allclose(el.energy, [np.e * 10.0, 4.0])
    np.testing.assert_allclose(el.sort_eta, [0.6, -1.0], rtol=1e-6)  # the track at the calorimeter
    assert len(TRACK_FEATURES) == N_FEATURES == INPUT_WIDTH - 3


def test_tracks_then_towers_per_event() -> None:
    rng = np.random.default_rng(0)
    tracks, towers = _tracks(3, rng), _towers(4, rng)
    tracks["PT"] = np.array([1.0, 2.0, 3.0])
    tracks["P"] = tracks["PT"] * 1.5
    towers["ET"] = np.array([10.0, 20.0, 30.0, 40.0])
    # event 0: tracks 0-1, towers 0; event 1: nothing; event 2: track 2, towers 1-3
    el = element_features(tracks, [0, 2, 2, 3], towers, [0, 1, 1, 4])
    assert el.offsets.tolist() == [0, 3, 3, 7]
    assert el.pt.tolist() == [1.0, 2.0, 10.0, 3.0, 20.0, 30.0, 40.0]
    assert el.kind.tolist() == [1, 1, 2, 1, 2, 2, 2]


def test_pad_events_sorts_by_eta_then_phi_and_pads() -> None:
    rng = np.random.default_rng(1)
    towers = _towers(5, rng)
    towers["Eta"] = np.array([0.3, -0.2, 0.3, 0.3, -1.0])
    towers["Phi"] = np.array([1.0, 0.0, -1.0, 0.5, 2.0])
    towers["E"] = np.arange(1.0, 6.0)
    tracks = _tracks(0, rng)
    el = element_features(tracks, [0, 0, 0], towers, [0, 2, 5])
    batch = pad_events(el, multiple=4)
    assert batch.x.shape == (2, 4, INPUT_WIDTH)
    # event 0: elements 0 (0.3) and 1 (-0.2); event 1: 2 (0.3, -1), 3 (0.3, 0.5), 4 (-1.0)
    assert batch.index.tolist() == [[1, 0, -1, -1], [4, 2, 3, -1]]
    assert batch.mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    assert np.all(batch.x[~batch.mask] == 0)
    np.testing.assert_allclose(batch.x[1, :3, 3], np.log([5.0, 3.0, 4.0]), rtol=1e-6)
    assert batch.x[0, 0, 0] == TOWER
    # gather lays a flat array out like the batch
    assert batch.gather(np.arange(5) * 10, fill=-1).tolist() == [[10, 0, -1, -1], [40, 20, 30, -1]]
    # a subset of events, and a minimum length
    sub = pad_events(el, [1], multiple=4, min_slots=5)
    assert sub.x.shape == (1, 8, INPUT_WIDTH)
    assert sub.index[0, :3].tolist() == [4, 2, 3]


def test_errors_are_one_line_and_name_the_column() -> None:
    rng = np.random.default_rng(2)
    tracks, towers = _tracks(2, rng), _towers(2, rng)
    bad = dict(tracks)
    del bad["EtaOuter"]
    with pytest.raises(
        DataFormatError, match=r"^tracks: missing column\(s\) EtaOuter; expected PT"
    ):
        element_features(bad, [0, 2], towers, [0, 2])
    bad = dict(towers, Ehf=np.array([0.0, np.nan]))
    with pytest.raises(DataFormatError, match=r"^towers\.Ehf: 1 NaN or infinite"):
        element_features(tracks, [0, 2], bad, [0, 2])
    bad = dict(tracks, DZ=np.array([np.inf, 0.0]))
    with pytest.raises(DataFormatError, match=r"^tracks\.DZ: 1 NaN or infinite"):
        element_features(bad, [0, 2], towers, [0, 2])
    with pytest.raises(DataFormatError, match=r"^towers\.E: expected positive"):
        element_features(tracks, [0, 2], dict(towers, E=np.array([1.0, 0.0])), [0, 2])
    with pytest.raises(DataFormatError, match=r"^tower_offsets: expected 1 events"):
        element_features(tracks, [0, 2], towers, [0, 1, 2])
    with pytest.raises(DataFormatError, match=r"^tracks\.PT: expected 3 values"):
        element_features(tracks, [0, 3], towers, [0, 2])
    with pytest.raises(
        DataFormatError, match=r"^features: value beyond float32 range at element 0"
    ):
        element_features(dict(tracks, Eta=np.array([1e39, 0.0])), [0, 2], towers, [0, 2])
    el = element_features(tracks, [0, 2], towers, [0, 2])
    with pytest.raises(DataFormatError, match=r"^events: expected indices in \[0, 1\)") as info:
        pad_events(el, [1])
    assert "\n" not in str(info.value)
