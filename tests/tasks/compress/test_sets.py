"""ParticleSets: StreamEvents -> padded sets -> StreamEvents, on hand-made events."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.sets import (
    FEATURE_NAMES,
    N_FEATURES,
    ParticleSets,
    with_particles,
)
from l1scout.tasks.scouting.encode import _example_events
from l1scout.tasks.scouting.words import PDG_CODES


def _events(pt, eta, phi, pid, charge, dz, w, counts):
    ev = _example_events()
    f32 = np.float32
    puppi = {
        "pt": np.asarray(pt, f32),
        "eta": np.asarray(eta, f32),
        "phi": np.asarray(phi, f32),
        "pid": np.asarray(pid, np.int32),
        "charge": np.asarray(charge, np.int8),
        "dz": np.asarray(dz, f32),
        "d0": np.full(len(pt), 0.3, f32),
        "puppi_w": np.asarray(w, f32),
    }
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return dataclasses.replace(ev, puppi=puppi, puppi_offsets=off)


@pytest.fixture
def events():
    # event 0: three candidates, not pT-ordered in the input; event 1: one muon
    return _events(
        pt=[5.0, 50.0, 12.0, 30.0],
        eta=[-4.9, 0.3, 2.0, -1.0],
        phi=[3.1, -3.1, 0.0, 1.0],
        pid=[22, 211, 0, -13],
        charge=[0, 1, 0, 1],
        dz=[7.0, -12.5, 0.0, 40.0],
        w=[0.25, 1.0, 0.0, 0.8],
        counts=[3, 1],
    )


def test_features_of_hand_made_events(events):
    sets = ParticleSets.from_events(events, k=4)
    assert sets.features.shape == (2, 4, N_FEATURES)
    assert sets.features.dtype == np.float32
    assert sets.mask.tolist() == [[True, True, True, False], [True, False, False, False]]
    first = dict(zip(FEATURE_NAMES, sets.features[0, 0].tolist(), strict=True))
    # the highest-pT candidate first: the pi+ of 50 GeV
    assert first["log_pt"] == pytest.approx(np.log(50.0) - 2.0, abs=1e-6)
    assert first["eta"] == pytest.approx(0.3 / 2.5, abs=1e-6)
    assert (first["cos_phi"], first["sin_phi"]) == pytest.approx(
        (np.cos(-3.1), np.sin(-3.1)), abs=1e-6
    )
    assert first["z0"] == pytest.approx(-0.125, abs=1e-6)
    assert first["code3"] == 1.0
    assert sum(sets.features[0, 0, 6:]) == 1.0
    # the photon's DZ is not stored (neutral); padding is all zero
    photon = sets.features[0, 2]
    assert photon[4] == 0.0
    assert photon[6 + 1] == 1.0
    assert not sets.features[0, 3].any()
    assert not sets.features[1, 1:].any()


def test_round_trip_restores_the_fields_d0_zero(events):
    off, cols = ParticleSets.from_events(events, k=4).to_columns()
    assert off.tolist() == [0, 3, 4]
    order = [1, 2, 0, 3]  # by decreasing pT within each event
    p = events.puppi
    np.testing.assert_allclose(cols["pt"], p["pt"][order], rtol=1e-6)
    np.testing.assert_allclose(cols["eta"], p["eta"][order], atol=1e-6)
    np.testing.assert_allclose(cols["phi"], p["phi"][order], atol=1e-6)
    assert cols["pid"].tolist() == [211, 130, 22, -13]  # PID 0 neutral hadron -> code 0 -> 130
    assert cols["charge"].tolist() == [1, 0, 0, 1]
    np.testing.assert_allclose(cols["dz"], [-12.5, 0.0, 0.0, 40.0], atol=1e-5)
    np.testing.assert_allclose(cols["puppi_w"], p["puppi_w"][order])
    assert not cols["d0"].any()


def test_k_cuts_to_the_highest_pt(events):
    sets = ParticleSets.from_events(events, k=1)
    _, cols = sets.to_columns()
    assert cols["pt"].tolist() == pytest.approx([50.0, 30.0])


def test_with_particles_keeps_objects_and_metadata(events):
    sets = ParticleSets.from_events(events, k=2)
    out = with_particles(events, sets)
    assert out.puppi_offsets.tolist() == [0, 2, 3]
    assert out.jets is events.jets
    assert out.sums is events.sums
    assert out.event_number is events.event_number
    with pytest.raises(DataFormatError, match="events"):
        with_particles(events, sets.subset([0]))


def test_decoded_slots_need_not_be_unit_or_one_hot():
    f = np.zeros((1, 2, N_FEATURES), np.float32)
    f[0, 0, :6] = [0.0, 0.4, 0.0, 2.0, 0.3, 1.7]  # (cos, sin) = (0, 2): phi = pi/2; w clipped
    f[0, 0, 6:] = [0.1, 0.2, 0.3, 0.1, 0.9, 0.2, 0.0, 0.0]  # code 4: electron, charge -1
    f[0, 1, :6] = [1.0, 0.0, 1.0, 0.0, 0.5, 0.0]
    f[0, 1, 6:8] = [0.0, 1.0]  # photon: DZ dropped
    _off, cols = ParticleSets(f, np.array([[True, True]])).to_columns()
    assert cols["pt"] == pytest.approx([np.exp(3.0), np.exp(2.0)], rel=1e-6)
    assert cols["phi"][1] == pytest.approx(np.pi / 2)
    assert cols["pid"].tolist() == [22, PDG_CODES[4]]
    assert cols["charge"].tolist() == [0, -1]
    assert cols["dz"].tolist() == pytest.approx([0.0, 30.0])
    assert cols["puppi_w"].tolist() == [0.0, 1.0]


def test_packed_layout(events):
    sets = ParticleSets.from_events(events, k=3)
    x = sets.packed().reshape(2, 3, N_FEATURES + 1)
    np.testing.assert_array_equal(x[..., :N_FEATURES], sets.features)
    assert x[..., N_FEATURES].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_bad_inputs(events):
    with pytest.raises(ConfigError, match="k"):
        ParticleSets.from_events(events, k=0)
    with pytest.raises(DataFormatError, match="ParticleSets"):
        ParticleSets(np.zeros((1, 2, 3), np.float32), np.zeros((1, 2), bool))
