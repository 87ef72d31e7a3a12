"""Fidelity measures on hand-made events with known HT, MET, jets and responses."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.fidelity import (
    EVENT_QUANTITIES,
    PARTICLE_DISTANCES,
    _events_from,
    event_quantities,
    fidelity_metrics,
    particle_distances,
    response_resolution,
    wasserstein_1d,
)
from l1scout.tasks.scouting.events import StreamEvents

PI = float(np.pi)


def _scaled(events: StreamEvents, factor: float) -> StreamEvents:
    """The same events with every candidate's pT times *factor*."""
    puppi = {**events.puppi, "pt": (events.puppi["pt"] * np.float32(factor)).astype(np.float32)}
    return dataclasses.replace(events, puppi=puppi)


def _sample() -> StreamEvents:
    """Five events whose quantities are known by hand (far-apart candidates: one jet each)."""
    return _events_from(
        [
            # back to back: MET 0, two 50 GeV jets, HT 100
            [(50.0, 0.0, 0.0), (50.0, 0.5, PI)],
            # one 80 GeV candidate at phi 1: MET 80, HT 80, jet1 80
            [(80.0, 1.0, 1.0)],
            # a 25 GeV jet (below the HT threshold) and a forward 60 GeV one
            [(25.0, 0.0, 0.0), (60.0, 3.0, 2.0)],
            # PUPPI weights: 100 GeV at weight 0.5 counts as 50, weight 0 not at all
            [(100.0, -1.0, -1.0, 211, 1, 0.0, 0.5), (70.0, 1.0, 2.0, 22, 0, 0.0, 0.0)],
            # no candidate
            [],
        ]
    )


def test_event_quantities_of_hand_made_events() -> None:
    q = event_quantities(_sample())
    assert set(EVENT_QUANTITIES) <= set(q)
    np.testing.assert_allclose(q["ht"], [100.0, 80.0, 0.0, 50.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(
        q["met"],
        [0.0, 80.0, np.hypot(25 + 60 * np.cos(2.0), 60 * np.sin(2.0)), 50.0, 0.0],
        atol=1e-4,
    )
    np.testing.assert_allclose(q["jet1_pt"], [50.0, 80.0, 25.0, 50.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(q["jet2_pt"], [50.0, 0.0, 0.0, 0.0, 0.0], atol=1e-4)
    # the MET points opposite the lone candidates
    assert q["met_phi"][1] == pytest.approx(1.0 - PI, abs=1e-6)
    assert q["met_phi"][3] == pytest.approx(PI - 1.0, abs=1e-6)


def test_nearby_candidates_merge_into_one_jet() -> None:
    # 20 + 20 GeV at dR = 0.2 < 0.4: one 40 GeV jet above the HT threshold
    q = event_quantities(_events_from([[(20.0, 0.0, 0.0), (20.0, 0.0, 0.2)]]))
    assert q["jet1_pt"][0] == pytest.approx(40.0 * np.cos(0.1), rel=1e-6)
    assert q["ht"][0] == pytest.approx(q["jet1_pt"][0])
    assert q["jet2_pt"][0] == 0.0


def test_identical_events_give_response_one_resolution_zero_distance_zero() -> None:
    ev = _sample()
    for name, r in response_resolution(ev, ev).items():
        assert (r.median, r.resolution) == (1.0, 0.0), name
    assert particle_distances(ev, ev) == dict.fromkeys(PARTICLE_DISTANCES, 0.0)


def test_scaled_copy_has_response_exactly_the_scale() -> None:
    ev = _sample()
    rr = response_resolution(ev, _scaled(ev, 1.25), floors={"ht": 1.0, "met": 1.0, "jet1_pt": 1.0})
    for name, r in rr.items():
        assert r.median == pytest.approx(1.25, rel=1e-5), name
        assert r.resolution == pytest.approx(0.0, abs=1e-5), name
    # events with HT 0 are below the 1 GeV floor: left out and counted
    assert (rr["ht"].n_events, rr["ht"].n_below_floor) == (3, 2)
    assert particle_distances(ev, _scaled(ev, 1.25))["eta"] == 0.0


def test_resolution_is_half_the_16_84_width() -> None:
    # responses 0.9 ... 1.1 in 101 steps: the 16 % and 84 % points are 0.932 and 1.068
    original = {"ht": np.full(101, 100.0)}
    decoded = {"ht": np.linspace(90.0, 110.0, 101)}
    r = response_resolution(original, decoded, floors={"ht": 50.0})["ht"]
    assert r.median == pytest.approx(1.0)
    assert r.resolution == pytest.approx(0.068)
    assert (r.n_events, r.n_below_floor, r.floor) == (101, 0, 50.0)
    # relative to the median: the same spread around half the value is twice as wide,
    # and a decoder that returns 0 has no resolution at all
    half = response_resolution(original, {"ht": decoded["ht"] / 2}, floors={"ht": 50.0})["ht"]
    assert half.median == pytest.approx(0.5)
    assert half.resolution == pytest.approx(0.068)
    zero = response_resolution(original, {"ht": np.zeros(101)}, floors={"ht": 50.0})["ht"]
    assert zero.median == 0.0
    assert math.isnan(zero.resolution)


def test_floors_leave_events_out_and_count_them() -> None:
    original = {"met": np.array([5.0, 25.0, 40.0, 0.0])}
    decoded = {"met": np.array([50.0, 25.0, 20.0, 7.0])}
    r = response_resolution(original, decoded, floors={"met": 20.0})["met"]
    assert (r.n_events, r.n_below_floor) == (2, 2)
    assert r.median == pytest.approx(0.75)
    nothing = response_resolution(original, decoded, floors={"met": 1000.0})["met"]
    assert np.isnan(nothing.median)
    assert nothing.n_below_floor == 4


def test_bad_inputs_are_refused() -> None:
    ev = _sample()
    with pytest.raises(DataFormatError, match="3 events, expected the original's 5"):
        particle_distances(ev, ev.subset(np.arange(5) < 3))
    with pytest.raises(ConfigError, match="floor"):
        response_resolution(ev, ev, floors={"ht": -1.0})
    with pytest.raises(DataFormatError, match="expected one of"):
        response_resolution(ev, ev, floors={"mass": 1.0})
    bad = dataclasses.replace(ev, puppi={**ev.puppi, "eta": ev.puppi["eta"] * np.nan})
    with pytest.raises(DataFormatError, match="eta"):
        event_quantities(bad)


def test_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    for n, m in ((1, 1), (7, 3), (500, 800)):
        a = rng.exponential(5.0, n).round(1)  # rounded: ties
        b = rng.exponential(6.0, m).round(1)
        assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)
    assert wasserstein_1d(np.zeros(0), np.zeros(0)) == 0.0
    assert wasserstein_1d(np.zeros(0), np.ones(2)) == np.inf


def test_particle_distances_of_known_changes() -> None:
    ev = _events_from(
        [[(10.0, 0.0, 0.0, 22, 0, 0.0, 1.0), (5.0, 1.0, 1.0, 211, 1, 2.0, 1.0)], [(7.0, 0.5, 2.0)]]
    )
    shifted = {**ev.puppi, "pt": ev.puppi["pt"] + np.float32(1.0), "dz": ev.puppi["dz"] + 3}
    # the photon becomes a neutral hadron: 1 of 3 candidates changes type
    shifted["pid"] = np.array([0, 211, 211], np.int32)
    d = particle_distances(ev, dataclasses.replace(ev, puppi=shifted))
    assert d["pt"] == pytest.approx(1.0)
    assert d["dz"] == pytest.approx(3.0)  # charged candidates only
    assert d["type"] == pytest.approx(1 / 3)
    assert d["eta"] == d["phi"] == d["charge"] == d["multiplicity"] == 0.0
    fewer = dataclasses.replace(
        ev,
        puppi_offsets=np.array([0, 1, 2]),
        puppi={k: v[[0, 2]] for k, v in ev.puppi.items()},
    )
    assert particle_distances(ev, fewer)["multiplicity"] == pytest.approx(0.5)


def test_fidelity_metrics_of_a_doubled_sample() -> None:
    ev = _sample()
    m = fidelity_metrics(ev, _scaled(ev, 2.0))
    assert m["response/ht"] == pytest.approx(2.0, rel=1e-6)
    assert m["resolution/met"] == pytest.approx(0.0, abs=1e-6)
    assert m["events/ht"] + m["below_floor/ht"] == 5
    assert m["distance/pt"] > 0
    assert fidelity_metrics(ev, ev, original_quantities=event_quantities(ev))["response/ht"] == 1.0
