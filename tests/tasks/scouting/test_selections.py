"""The cut-based scouting selections: the W -> 3 pi kernel against a plain triple loop, cut edges."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.selections import (
    PION_MASS_GEV,
    W3PI_DEFAULTS,
    W3PiCuts,
    ht_select,
    single_muon_select,
    w3pi_pions,
    w3pi_select,
)


def _dr2(e1: float, p1: float, e2: float, p2: float) -> float:
    dphi = p1 - p2
    while dphi >= math.pi:
        dphi -= 2 * math.pi
    while dphi < -math.pi:
        dphi += 2 * math.pi
    return (e1 - e2) ** 2 + dphi**2


def _mass(pt: list[float], eta: list[float], phi: list[float], m: float) -> float:
    e = px = py = pz = 0.0
    for a, b, c in zip(pt, eta, phi, strict=True):
        x, y, z = a * math.cos(c), a * math.sin(c), a * math.sinh(b)
        e += math.sqrt(x * x + y * y + z * z + m * m)
        px, py, pz = px + x, py + y, pz + z
    m2 = e * e - px * px - py * py - pz * pz
    return math.sqrt(m2) if m2 > 0 else 0.0


def _reference_bx(pt, eta, phi, q, pion, iso_pt, cuts: W3PiCuts):
    """Every triple of distinct candidates, the cuts written out, the best by (sum, indices)."""
    n = len(pt)

    def isolated(i: int) -> bool:
        s = sum(
            iso_pt[j]
            for j in range(n)
            if j != i
            and cuts.iso_dr_min**2 < _dr2(eta[i], phi[i], eta[j], phi[j]) < cuts.iso_dr_max**2
        )
        return s / pt[i] < cuts.max_iso

    best = None
    for trip in itertools.permutations(range(n), 3):
        # the pT order: decreasing pT, ties by index
        if list(trip) != sorted(trip, key=lambda i: (-pt[i], i)):
            continue
        i1, i2, i3 = trip
        if not all(pion[i] for i in trip):
            continue
        if not (pt[i1] >= cuts.pt_min[2] and pt[i2] >= cuts.pt_min[1] and pt[i3] >= cuts.pt_min[0]):
            continue
        if abs(q[i1] + q[i2] + q[i3]) != 1:
            continue
        if any(
            _dr2(eta[a], phi[a], eta[b], phi[b]) <= cuts.min_dr**2
            for a, b in itertools.combinations(trip, 2)
        ):
            continue
        m = _mass(
            [pt[i] for i in trip], [eta[i] for i in trip], [phi[i] for i in trip], PION_MASS_GEV
        )
        if not cuts.mass_min < m < cuts.mass_max:
            continue
        if not all(isolated(i) for i in trip):
            continue
        key = (-(pt[i1] + pt[i2] + pt[i3]), trip)
        if best is None or key < best[0]:
            best = (key, trip, m)
    return None if best is None else (best[1], best[2])


def _random_orbit(rng: np.random.Generator, n_bx: int, max_n: int):
    counts = rng.integers(0, max_n + 1, n_bx)
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(off[-1])
    pt = np.round(rng.exponential(12.0, n) + 0.25, 2)
    # exact ties of pT now and then
    pt[rng.random(n) < 0.1] = 20.0
    eta = rng.uniform(-2.5, 2.5, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    q = rng.choice([-1, 0, 1], n, p=[0.4, 0.2, 0.4])
    pion = (q != 0) & (rng.random(n) < 0.9)
    iso_pt = pt * rng.choice([0.0, 1.0], n, p=[0.2, 0.8])
    return off, pt, eta, phi, q, pion, iso_pt


@pytest.mark.parametrize(
    "cuts",
    [
        W3PiCuts(),
        W3PiCuts(mass_min=10.0, mass_max=400.0, max_iso=5.0, min_dr=0.2),
        W3PiCuts(pt_min=(3.0, 5.0, 8.0), mass_min=5.0, mass_max=1000.0, max_iso=100.0, min_dr=0.1),
    ],
)
def test_w3pi_kernel_equals_reference_on_random_bxs(cuts: W3PiCuts) -> None:
    rng = np.random.default_rng(7)
    off, pt, eta, phi, q, pion, iso_pt = _random_orbit(rng, 300, 12)
    out = w3pi_select(off, pt=pt, eta=eta, phi=phi, charge=q, pion=pion, iso_pt=iso_pt, cuts=cuts)
    expected = []
    for b in range(off.size - 1):
        s = slice(off[b], off[b + 1])
        ref = _reference_bx(
            pt[s].tolist(), eta[s].tolist(), phi[s].tolist(), q[s].tolist(),
            pion[s].tolist(), iso_pt[s].tolist(), cuts,
        )  # fmt: skip
        assert out.passed[b] == (ref is not None), b
        if ref is not None:
            expected.append((b, *ref[0], ref[1]))
    n_pass = int(out.passed.sum())
    assert n_pass == len(expected)
    assert n_pass > 3  # the test exercises passing triplets
    t = out.table
    got = list(zip(t["bx_index"], t["i1"], t["i2"], t["i3"], strict=True))
    assert got == [e[:4] for e in expected]
    np.testing.assert_allclose(t["mass"], [e[4] for e in expected], rtol=1e-12)
    glob = t["i1"] + off[t["bx_index"]]
    np.testing.assert_array_equal(t["pt1"], pt[glob])


def _triplet(**change: float):
    """One BX with a passing triplet (40, 30, 25 GeV; m = 91.9 GeV) and an isolation partner."""
    base = {
        "pt": [40.0, 30.0, 25.0, 1.0],
        "eta": [0.0, 0.5, -0.5, 2.0],
        "phi": [0.0, 1.5, -1.5, 0.0],
        "q": [1, -1, 1, 0],
    }
    return base | change


def _run(bx, cuts: W3PiCuts = W3PI_DEFAULTS):
    n = len(bx["pt"])
    pion = [q != 0 for q in bx["q"]]
    return w3pi_select(
        [0, n], pt=bx["pt"], eta=bx["eta"], phi=bx["phi"], charge=bx["q"], pion=pion, cuts=cuts
    )


def test_w3pi_passes_the_base_triplet() -> None:
    out = _run(_triplet())
    assert out.passed.tolist() == [True]
    assert (out.table["i1"][0], out.table["i2"][0], out.table["i3"][0]) == (0, 1, 2)
    assert out.table["mass"][0] == pytest.approx(91.9244, abs=1e-4)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_w3pi_pt_thresholds_inclusive(index: int) -> None:
    # thresholds equal to the triplet's own pTs (40, 30, 25): it passes; one ulp less fails
    cuts = W3PiCuts(pt_min=(25.0, 30.0, 40.0), mass_min=1.0, mass_max=500.0)
    assert _run(_triplet(), cuts).passed[0]
    pt = list(_triplet()["pt"])
    pt[index] = float(np.nextafter(pt[index], 0))
    assert not _run(_triplet(pt=pt), cuts).passed[0]


def test_w3pi_charge_sum() -> None:
    assert not _run(_triplet(q=[1, 1, 1, 0])).passed[0]
    assert _run(_triplet(q=[-1, -1, 1, 0])).passed[0]
    assert not _run(_triplet(q=[1, -1, -1, 0]) | {"q": [1, -1, 0, 0]}).passed[0]  # a neutral


def test_w3pi_pair_separation_is_strict() -> None:
    # pions 1 and 2 exactly 0.5 apart in eta (same phi): fails; a hair more: passes
    cuts = W3PiCuts(mass_min=1.0, mass_max=500.0)
    at = _triplet(eta=[0.0, 0.25, -0.25, 2.0], phi=[2.0, -1.0, -1.0, 0.0])
    assert not _run(at, cuts).passed[0]
    off = _triplet(eta=[0.0, 0.25, -0.2500001, 2.0], phi=[2.0, -1.0, -1.0, 0.0])
    assert _run(off, cuts).passed[0]


def test_w3pi_isolation_ring_and_threshold() -> None:
    cuts = W3PiCuts()
    # a neighbour of 80 GeV (iso of the 40 GeV pion = 2.0 exactly): rejected (strict <)
    for deta, pt_n, ok in (
        (0.1, 80.0, False),  # inside the ring, relative isolation exactly 2
        (0.1, 79.99, True),  # just below
        (0.25, 1000.0, True),  # on the outer edge: outside the ring
        (0.2499, 1000.0, False),  # just inside
        (0.01, 1000.0, True),  # on the inner edge: outside the ring
        (0.0101, 1000.0, False),
    ):
        bx = _triplet(
            pt=[40.0, 30.0, 25.0, pt_n], eta=[0.0, 0.5, -0.5, deta], phi=[0.0, 1.5, -1.5, 0.0]
        )
        assert _run(bx, cuts).passed[0] == ok, (deta, pt_n)
    # the isolation sum uses iso_pt (PUPPI-weighted pT): a pileup neighbour of weight 0 is ignored
    bx = _triplet(pt=[40.0, 30.0, 25.0, 1000.0], eta=[0.0, 0.5, -0.5, 0.1])
    out = w3pi_select(
        [0, 4], pt=bx["pt"], eta=bx["eta"], phi=bx["phi"], charge=bx["q"],
        pion=[True, True, True, False], iso_pt=[40.0, 30.0, 25.0, 0.0],
    )  # fmt: skip
    assert out.passed[0]


def test_w3pi_mass_window_is_strict() -> None:
    m = float(_run(_triplet()).table["mass"][0])
    assert not _run(_triplet(), W3PiCuts(mass_max=m)).passed[0]
    assert _run(_triplet(), W3PiCuts(mass_max=float(np.nextafter(m, np.inf)))).passed[0]
    assert not _run(_triplet(), W3PiCuts(mass_min=m)).passed[0]
    assert _run(_triplet(), W3PiCuts(mass_min=float(np.nextafter(m, 0)))).passed[0]


def test_w3pi_picks_the_highest_pt_sum() -> None:
    # two disjoint passing triplets in one BX; the second has the larger sum
    a = _triplet()
    pt = [*a["pt"][:3], 45.0, 33.0, 26.0]
    eta = [*a["eta"][:3], 0.0, 0.5, -0.5]
    phi = [*a["phi"][:3], 3.0, 3.0 + 1.5 - 2 * math.pi, 3.0 - 1.5]
    q = [1, -1, 1, -1, 1, -1]
    cuts = W3PiCuts(max_iso=1e9, mass_min=1.0, mass_max=1000.0)
    out = w3pi_select([0, 6], pt=pt, eta=eta, phi=phi, charge=q, pion=[True] * 6, cuts=cuts)
    assert out.passed[0]
    assert (out.table["i1"][0], out.table["pt1"][0]) == (3, 45.0)


def test_w3pi_inputs_checked() -> None:
    with pytest.raises(DataFormatError, match="pion"):
        w3pi_select([0, 1], pt=[1.0], eta=[0.0], phi=[0.0], charge=[1], pion=[True, False])
    with pytest.raises(DataFormatError, match="pt"):
        w3pi_select([0, 2], pt=[1.0], eta=[0.0], phi=[0.0], charge=[1], pion=[True])
    with pytest.raises(ConfigError, match="mass_min < mass_max"):
        W3PiCuts(mass_min=100.0, mass_max=60.0)
    with pytest.raises(ConfigError, match="pt_min increasing"):
        W3PiCuts(pt_min=(15.0, 12.0, 7.0))
    assert dataclasses.asdict(W3PiCuts())["pt_min"] == (7.0, 12.0, 15.0)


def test_w3pi_empty_orbit() -> None:
    out = w3pi_select([0, 0, 0], pt=[], eta=[], phi=[], charge=[], pion=[])
    assert out.passed.tolist() == [False, False]
    assert all(len(v) == 0 for v in out.table.values())


def test_pions_from_codes() -> None:
    pid = np.array([211, -211, 11, -11, 13, 22, 130])
    quality = np.array([1, 1, 1, 1, 1, 0, 0])
    assert w3pi_pions(pid, quality).tolist() == [True, True, False, False, False, False, False]
    assert w3pi_pions(pid, quality * 0).tolist() == [False] * 7
    assert w3pi_pions(pid, quality, include_electrons=True).sum() == 4


def test_single_muon_edges_and_leading() -> None:
    off = [0, 3, 4, 5, 5]
    pt = [22.0, 30.0, 50.0, 21.99, 22.0]
    eta = [0.0, -2.4, 2.41, 0.0, 2.4]
    q = [0, 5, 3, 3, 1]
    out = single_muon_select(off, pt=pt, eta=eta, pt_min=22.0, eta_max=2.4)
    assert out.passed.tolist() == [True, False, True, False]
    assert out.table["pt"].tolist() == [30.0, 22.0]  # the leading passing muon, not the 50 GeV one
    assert out.table["bx_index"].tolist() == [0, 2]
    out = single_muon_select(off, pt=pt, eta=eta, quality=q, quality_min=2)
    assert out.passed.tolist() == [True, False, False, False]


def test_ht_threshold_inclusive() -> None:
    out = ht_select([399.5, 400.0, 0.0], ht_min=400.0)
    assert out.passed.tolist() == [False, True, False]
