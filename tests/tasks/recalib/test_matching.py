"""Matching L1 objects to offline ones: hand-made events and slow references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1scout._jagged import candidate_pairs, delta_r, match_one_to_one
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.recalib.matching import jet_match_table, match_jets


def _dr(e1: float, p1: float, e2: float, p2: float) -> float:
    dphi = (p1 - p2 + math.pi) % (2 * math.pi) - math.pi
    return math.hypot(e1 - e2, dphi)


def test_delta_r_wraps_phi() -> None:
    assert delta_r(0.0, 2 * math.pi - 0.03, 0.04, 0.0) == pytest.approx(0.05)
    assert delta_r([0.0], [math.pi - 0.1], [0.0], [-math.pi + 0.1]).tolist() == [pytest.approx(0.2)]


def test_candidate_pairs_per_event() -> None:
    ia, ib = candidate_pairs([0, 2, 2, 3, 5], [0, 1, 3, 3, 4])
    # event 0: a{0,1} x b{0}; event 1: no a; event 2: a{2} x no b; event 3: a{3,4} x b{3}
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == [(0, 0), (1, 0), (3, 3), (4, 3)]
    ia, ib = candidate_pairs([0, 0], [0, 0])
    assert ia.size == 0
    assert ib.size == 0
    with pytest.raises(DataFormatError, match="different numbers of events"):
        candidate_pairs([0, 1], [0, 1, 2])
    with pytest.raises(ConfigError, match="offsets_b"):
        candidate_pairs([0, 1], [1, 2])


def test_muon_matching_resolves_competition_greedily() -> None:
    # event 0: L1 A (phi 0), B (phi 0.1); offline X (0.06), Y (-0.1)
    #   dR: A-X 0.06, A-Y 0.10, B-X 0.04, B-Y 0.20 -> greedy: B-X first, then A-Y
    # event 1: L1 C (0.0), D (0.05); offline Z (0.04), W (0.3): Z goes to D (0.01), C stays
    #   unmatched (W is beyond 0.2)
    m = match_one_to_one(
        [0, 2, 4],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.1, 0.0, 0.05],
        [0, 2, 4],
        [0.0, 0.0, 0.0, 0.0],
        [0.06, -0.1, 0.04, 0.3],
        max_dr=0.15,
    )
    assert m.l1.tolist() == [0, 1, 3]
    assert m.offline.tolist() == [1, 0, 2]
    assert m.dr.tolist() == [pytest.approx(0.1), pytest.approx(0.04), pytest.approx(0.01)]
    s = m.summary()
    assert s == {
        "l1": 4.0,
        "offline": 4.0,
        "matched": 3.0,
        "l1_matched_fraction": 0.75,
        "offline_matched_fraction": 0.75,
    }


def test_muon_matching_across_the_phi_wrap_and_cut() -> None:
    m = match_one_to_one(
        [0, 2], [1.0, -1.0], [6.25, 3.0], [0, 2], [1.0, -1.0], [0.02, 3.3], max_dr=0.2
    )
    assert m.l1.tolist() == [0]
    assert m.offline.tolist() == [0]
    assert m.dr[0] == pytest.approx(_dr(1.0, 6.25, 1.0, 0.02))
    with pytest.raises(ConfigError, match="max_dr"):
        match_one_to_one([0, 0], [], [], [0, 0], [], [], max_dr=0.0)
    with pytest.raises(DataFormatError, match="l1_eta"):
        match_one_to_one([0, 2], [1.0], [1.0, 2.0], [0, 0], [], [], max_dr=0.2)


def _greedy_reference(
    off_a: list[int],
    eta_a: np.ndarray,
    phi_a: np.ndarray,
    off_b: list[int],
    eta_b: np.ndarray,
    phi_b: np.ndarray,
    cut: float,
) -> list[tuple[int, int]]:
    out = []
    for k in range(len(off_a) - 1):
        pairs = sorted(
            (_dr(eta_a[i], phi_a[i], eta_b[j], phi_b[j]), i, j)
            for i in range(off_a[k], off_a[k + 1])
            for j in range(off_b[k], off_b[k + 1])
        )
        used_a: set[int] = set()
        used_b: set[int] = set()
        for dr, i, j in pairs:
            if dr < cut and i not in used_a and j not in used_b:
                used_a.add(i)
                used_b.add(j)
                out.append((i, j))
    return sorted(out)


def _random_events(seed: int, n_events: int, max_a: int, max_b: int) -> tuple:
    rng = np.random.default_rng(seed)
    na = rng.integers(0, max_a + 1, n_events)
    nb = rng.integers(0, max_b + 1, n_events)
    off_a = np.r_[0, np.cumsum(na)].tolist()
    off_b = np.r_[0, np.cumsum(nb)].tolist()
    # a small eta-phi patch so that objects compete
    eta_a = rng.uniform(-0.5, 0.5, off_a[-1])
    phi_a = rng.uniform(-0.4, 0.4, off_a[-1]) % (2 * math.pi)  # L1 range [0, 2 pi)
    eta_b = rng.uniform(-0.5, 0.5, off_b[-1])
    phi_b = rng.uniform(-0.4, 0.4, off_b[-1])  # offline range [-pi, pi)
    return off_a, eta_a, phi_a, off_b, eta_b, phi_b


def test_muon_matching_equals_the_slow_reference() -> None:
    off_a, eta_a, phi_a, off_b, eta_b, phi_b = _random_events(7, 300, 4, 4)
    m = match_one_to_one(off_a, eta_a, phi_a, off_b, eta_b, phi_b, max_dr=0.3)
    got = sorted(zip(m.l1.tolist(), m.offline.tolist(), strict=True))
    expected = _greedy_reference(off_a, eta_a, phi_a, off_b, eta_b, phi_b, 0.3)
    assert got == expected
    assert len(expected) > 200  # the test exercises competition, not empty events
    assert len(set(m.l1.tolist())) == len(m.l1)
    assert len(set(m.offline.tolist())) == len(m.offline)


def test_jets_two_offline_in_one_l1_and_one_outside() -> None:
    # event 0: L1 jets J0 (eta 0, phi 0.1) and J1 (eta 2, phi 3.0)
    #   offline: a (30 GeV, dR 0.1 to J0), b (20 GeV, dR 0.2 to J0), c (15 GeV, dR 0.5 to J0: none),
    #            d (50 GeV, eta 2.1, phi -3.1: across the wrap, dR ~0.21 to J1)
    # event 1: one L1 jet, no offline jet; event 2: one offline jet, no L1 jet
    l1_eta = [0.0, 2.0, 1.0]
    l1_phi = [0.1, 3.0, 1.0]
    pt = [30.0, 20.0, 15.0, 50.0, 40.0]
    eta = [0.1, -0.2, 0.0, 2.1, 0.0]
    phi = [0.1, 0.1, 0.6, -3.1, 0.0]
    m = match_jets([0, 2, 3, 3], l1_eta, l1_phi, [0, 4, 4, 5], pt, eta, phi, max_dr=0.4)
    assert m.reco_to_l1.tolist() == [0, 0, -1, 1, -1]
    assert m.n_matched.tolist() == [2, 1, 0]
    assert m.sum_pt.tolist() == [50.0, 50.0, 0.0]
    assert m.dr[:4].tolist() == [
        pytest.approx(0.1),
        pytest.approx(0.2),
        pytest.approx(0.5),
        pytest.approx(_dr(2.0, 3.0, 2.1, -3.1)),
    ]
    assert math.isinf(m.dr[4])
    # axis of a + b: vector sum of (30, 0.1, 0.1) and (20, -0.2, 0.1)
    px = 30 * math.cos(0.1) + 20 * math.cos(0.1)
    py = 30 * math.sin(0.1) + 20 * math.sin(0.1)
    pz = 30 * math.sinh(0.1) + 20 * math.sinh(-0.2)
    assert m.axis_eta[0] == pytest.approx(math.asinh(pz / math.hypot(px, py)))
    assert m.axis_phi[0] == pytest.approx(0.1)
    assert m.axis_eta[1] == pytest.approx(2.1)
    assert m.axis_phi[1] == pytest.approx(-3.1)
    assert math.isnan(m.axis_eta[2])
    assert math.isnan(m.axis_phi[2])


def test_an_offline_jet_goes_to_its_nearest_l1_jet_only() -> None:
    # two L1 jets 0.5 apart; the offline jet sits 0.2 from the first, 0.3 from the second
    m = match_jets([0, 2], [0.0, 0.5], [0.0, 0.0], [0, 1], [25.0], [0.2], [0.0])
    assert m.reco_to_l1.tolist() == [0]
    assert m.n_matched.tolist() == [1, 0]
    assert m.sum_pt.tolist() == [25.0, 0.0]


def test_jet_match_summary_is_the_seed_table() -> None:
    # L1 jets: J0 gets 3, J1 gets 1, J2 gets 2, J3 none; offline: 6 matched + 2 unmatched
    # (one of them at |eta| 3.5, outside the |eta| < 3 subset)
    l1_eta = [0.0, 1.0, -1.0, 2.5]
    l1_phi = [0.0, 0.0, 0.0, 2.0]
    pt = [10.0, 10.0, 10.0, 20.0, 5.0, 5.0, 40.0, 60.0]
    eta = [0.0, 0.1, -0.1, 1.0, -1.0, -1.1, 0.0, 3.5]
    phi = [0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 1.5, 0.0]
    m = match_jets([0, 4], l1_eta, l1_phi, [0, 8], pt, eta, phi)
    assert m.n_matched.tolist() == [3, 1, 2, 0]
    s = m.summary()
    assert s["l1_jets"] == 4
    assert [s["l1_matches_0"], s["l1_matches_1"], s["l1_matches_2"], s["l1_matches_3plus"]] == [
        0.25,
        0.25,
        0.25,
        0.25,
    ]
    assert (s["offline_jets"], s["offline_matched"], s["offline_unmatched"]) == (8, 6, 2)
    assert s["offline_matched_fraction"] == 0.75
    assert s["offline_matched_pt_fraction"] == pytest.approx(60.0 / 160.0)
    assert (s["eta3_offline_jets"], s["eta3_offline_matched"], s["eta3_offline_unmatched"]) == (
        7,
        6,
        1,
    )
    assert s["eta3_offline_matched_pt_fraction"] == pytest.approx(60.0 / 100.0)
    rows = m.table()
    assert [r["selection"] for r in rows] == ["no cut", "|eta| < 3"]
    assert rows[0]["matched"] == 6
    assert rows[0]["matched_percent"] == pytest.approx(75.0)
    assert rows[1]["unmatched"] == 1
    assert rows[1]["matched_pt_percent"] == pytest.approx(60.0)


def test_jet_matching_equals_the_slow_reference() -> None:
    off_a, eta_a, phi_a, off_b, eta_b, phi_b = _random_events(11, 300, 3, 5)
    pt_b = np.random.default_rng(3).uniform(15, 100, off_b[-1])
    m = match_jets(off_a, eta_a, phi_a, off_b, pt_b, eta_b, phi_b, max_dr=0.4)
    expected = np.full(off_b[-1], -1)
    for k in range(len(off_a) - 1):
        for j in range(off_b[k], off_b[k + 1]):
            cands = [
                (_dr(eta_a[i], phi_a[i], eta_b[j], phi_b[j]), i)
                for i in range(off_a[k], off_a[k + 1])
            ]
            if cands and min(cands)[0] < 0.4:
                expected[j] = min(cands)[1]
    assert m.reco_to_l1.tolist() == expected.tolist()
    assert (m.n_matched >= 2).sum() > 20  # several L1 jets take more than one offline jet
    sums = np.zeros(off_a[-1])
    for j, i in enumerate(expected):
        if i >= 0:
            sums[i] += pt_b[j]
    assert np.allclose(m.sum_pt, sums)


def test_jet_match_table_from_a_dataset_match() -> None:
    m = match_jets([0, 1], [0.0], [0.0], [0, 2], [30.0, 10.0], [0.1, 3.5], [0.0, 0.0])
    s = m.summary() | {"duplicates": 0.0, "selected": 1.0}  # as a jet RegressionData.match
    assert jet_match_table(s) == m.table()
    assert jet_match_table(s)[0] == {
        "selection": "no cut",
        "matched": 1,
        "unmatched": 1,
        "matched_percent": 50.0,
        "matched_pt_percent": 75.0,
    }
    with pytest.raises(DataFormatError, match="eta3_offline_matched"):
        jet_match_table({k: v for k, v in s.items() if not k.startswith("eta3_")})
