"""Tests of l1scout.detector.calorimeter: tower lookup, energy sharing, smearing and e-flow neutrals.

The tower lookup is compared with a slow loop over the card's segments; the
calorimeter response with single particles of fixed energy (one per event, many
events) against the card's resolution formulas written out by hand (v04 card,
modules ECal and HCal); the energy-flow neutrals against the Delphes
``SimpleCalorimeter`` rule (a neutral when the tower exceeds its tracks by more
than ``EnergyMin`` and ``EnergySignificanceMin`` sigma).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from l1scout.detector.calorimeter import (
    CaloTowers,
    NeutralCandidates,
    TowerGrid,
    _compact,
    energy_fractions,
    run_calorimeter,
)
from l1scout.detector.particles import GenParticles
from l1scout.detector.propagation import SurfaceHits, propagate_to_surface
from l1scout.detector.tracking import Tracks, reconstruct_tracks
from l1scout.detector.view_card import CalorimeterSpec, CaloSegment, ViewCard, load_view_card

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_CHARGE = {22: 0, 130: 0, 2112: 0, 111: 0, 310: 0, 12: 0, 211: 1, -211: -1, 11: -1, -11: 1, 13: -1}
_MASS = {
    22: 0.0,
    130: 0.497611,
    2112: 0.939565,
    111: 0.134977,
    310: 0.497611,
    12: 0.0,
    211: 0.13957,
    11: 0.000511,
    13: 0.10566,
}


@pytest.fixture(scope="module")
def card() -> ViewCard:
    return load_view_card("FullReco")


def make_gen(
    pid: list[int] | I64,
    energy: list[float] | F64,
    eta: list[float] | F64,
    phi: list[float] | F64,
    event: list[int] | I64,
    n_events: int,
    is_pu: list[int] | None = None,
) -> GenParticles:
    """Prompt status-1 particles at z = 0 with the given energies (GeV); *event* sorted."""
    pid_a = np.asarray(pid, dtype=np.int32)
    e = np.asarray(energy, dtype=np.float64)
    eta_a = np.asarray(eta, dtype=np.float64)
    mass = np.array([_MASS[abs(int(p))] for p in pid_a]) if len(pid_a) else np.zeros(0)
    charge = np.array(
        [_CHARGE[int(p)] if int(p) in _CHARGE else _CHARGE[abs(int(p))] for p in pid_a], np.int8
    )
    pt = np.sqrt(np.maximum(e**2 - mass**2, 0.0)) / np.cosh(eta_a)
    ev = np.asarray(event, dtype=np.int64)
    offsets = np.zeros(n_events + 1, np.int64)
    np.cumsum(np.bincount(ev, minlength=n_events), out=offsets[1:])
    n = len(pid_a)
    return GenParticles(
        offsets=offsets,
        pid=pid_a,
        status=np.ones(n, np.int8),
        pt=pt,
        eta=eta_a,
        phi=np.asarray(phi, dtype=np.float64),
        mass=mass,
        charge=charge,
        is_pu=np.zeros(n, np.int8) if is_pu is None else np.asarray(is_pu, np.int8),
        x=np.zeros(n),
        y=np.zeros(n),
        z=np.zeros(n),
        t=np.zeros(n),
        vertex_index=np.zeros(n, np.int32),
    )


def propagate(gen: GenParticles, card: ViewCard) -> SurfaceHits:
    p = card.propagation
    return propagate_to_surface(
        gen.px, gen.py, gen.pz, gen.charge, gen.x, gen.y, gen.z,
        bz_tesla=p.bz_tesla, radius_mm=p.radius_mm, half_length_mm=p.half_length_mm,
    )  # fmt: skip


def run(
    card: ViewCard,
    gen: GenParticles,
    calo: str,
    seed: int,
    spec: CalorimeterSpec | None = None,
) -> tuple[SurfaceHits, Tracks, CaloTowers, NeutralCandidates]:
    hits = propagate(gen, card)
    rng = np.random.default_rng(seed)
    tracks = reconstruct_tracks(gen, hits, card.tracking, card.propagation.bz_tesla, rng)
    g_ecal, g_hcal = energy_fractions(gen.pid, card.particle_flow)
    t_ecal, t_hcal = energy_fractions(tracks.pid, card.particle_flow)
    frac, tfrac = (g_ecal, t_ecal) if calo == "ecal" else (g_hcal, t_hcal)
    towers, neutrals = run_calorimeter(
        gen, hits, tracks, spec or getattr(card, calo), frac, tfrac, rng
    )
    return hits, tracks, towers, neutrals


# ---------------------------------------------------------------- tower grid


def _rows(segments: list[CaloSegment]) -> list[tuple[float, float, int]]:
    rows = []
    for seg in sorted(segments, key=lambda s: s.eta_min):
        n = max(1, round((seg.eta_max - seg.eta_min) / seg.deta))
        edges = np.linspace(seg.eta_min, seg.eta_max, n + 1)
        rows += [(float(edges[i]), float(edges[i + 1]), seg.n_phi) for i in range(n)]
    return rows


def _slow_locate(rows: list[tuple[float, float, int]], eta: float, phi: float) -> int:
    """Walk the rows (lo <= eta < hi) and the phi columns (lo <= phi < hi, +pi in the last)."""
    start = 0
    for lo, hi, n_phi in rows:
        if lo <= eta < hi:
            dphi = 2 * math.pi / n_phi
            for j in range(n_phi):
                plo = -math.pi + j * dphi
                if plo <= phi < plo + dphi or (j == n_phi - 1 and phi >= plo):
                    return start + j
            raise AssertionError(phi)
        start += n_phi
    return -1


@pytest.mark.parametrize("calo", ["ecal", "hcal"])
def test_locate_matches_slow_loop(card: ViewCard, calo: str) -> None:
    segments = list(getattr(card, calo).segments)
    grid = TowerGrid.from_segments(segments)
    rows = _rows(segments)
    assert grid.n_towers == sum(r[2] for r in rows)
    rng = np.random.default_rng(17)
    edges = np.array([r[0] for r in rows] + [rows[-1][1]])
    eta = np.concatenate(
        [rng.uniform(-5.5, 5.5, 1500), edges, edges, [-5.0 - 1e-9, 5.0 - 1e-9, 7.0, -7.0]]
    )
    phi = np.concatenate(
        [rng.uniform(-math.pi, math.pi, 1500), rng.uniform(-math.pi, math.pi, len(edges)),
         np.where(np.arange(len(edges)) % 2 == 0, -math.pi, math.pi), [0.3, -0.3, 0.0, 0.0]]
    )  # fmt: skip
    got = grid.locate(eta, phi)
    ref = [_slow_locate(rows, float(a), float(b)) for a, b in zip(eta, phi, strict=True)]
    np.testing.assert_array_equal(got, ref)
    assert (got == -1).sum() >= 4  # |eta| > 5 and the closing edge
    inside = got >= 0
    lo, hi, plo, phi_hi = grid.bounds(got[inside])
    assert np.all((lo <= eta[inside]) & (eta[inside] < hi))
    assert np.all((plo - 1e-12 <= phi[inside]) & (phi[inside] <= phi_hi + 1e-12))


def test_small_grid_by_hand() -> None:
    grid = TowerGrid.from_segments(
        [CaloSegment(eta_min=1.0, eta_max=2.0, deta=0.5, n_phi=2),
         CaloSegment(eta_min=-1.0, eta_max=1.0, deta=1.0, n_phi=4)]
    )  # fmt: skip
    # rows: [-1, 0) x 4, [0, 1) x 4, [1, 1.5) x 2, [1.5, 2) x 2
    assert grid.n_towers == 12
    eta = [-1.0, -0.5, 0.0, 0.99, 1.0, 1.5, 1.99, 2.0, -1.01]
    phi = [-math.pi, 0.1, -0.1, math.pi, 0.1, -0.1, math.pi, 0.0, 0.0]
    assert grid.locate(np.array(eta), np.array(phi)).tolist() == [0, 2, 5, 7, 9, 10, 11, -1, -1]
    lo, hi, plo, phi_hi = grid.bounds(np.array([5, 10]))
    assert lo.tolist() == [0.0, 1.5]
    assert hi.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(plo, [-math.pi / 2, -math.pi])
    np.testing.assert_allclose(phi_hi, [0.0, 0.0], atol=1e-15)


# ---------------------------------------------------------------- energy sharing


def test_energy_fractions_from_card(card: ViewCard) -> None:
    pid = np.array([11, -11, 22, 111, 310, 3122, 12, -14, 16, 13, -13, 211, -211, 2112, 130, 321])
    f_ecal, f_hcal = energy_fractions(pid, card.particle_flow)
    assert f_ecal.tolist() == [1, 1, 1, 1, 0.3, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f_hcal.tolist() == [0, 0, 0, 0, 0.7, 0.7, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


# ---------------------------------------------------------------- single particles


@pytest.mark.parametrize(
    ("calo", "pid", "energy", "eta", "a", "b", "c"),
    [
        ("ecal", 22, 20.0, 0.3, 0.009, 0.12, 0.45),  # barrel
        ("ecal", 22, 50.0, -2.0, 0.007, 0.21, 0.0),  # HGCAL 1.75-2.15
        ("ecal", 22, 300.0, 3.6, 0.08, 1.98, 0.0),  # HF
        ("hcal", 130, 50.0, 0.5, 0.05, 1.0, 0.0),
        ("hcal", 2112, 400.0, -3.6, 0.11, 2.8, 0.0),  # HF
    ],
)
def test_single_particle_response_matches_card_resolution(
    card: ViewCard, calo: str, pid: int, energy: float, eta: float, a: float, b: float, c: float
) -> None:
    n = 4000
    rng = np.random.default_rng(31)
    gen = make_gen(
        [pid] * n, [energy] * n, [eta] * n, rng.uniform(-math.pi, math.pi, n), np.arange(n), n
    )
    hits, tracks, towers, neutrals = run(card, gen, calo, seed=5)
    assert len(tracks.pt) == 0
    # one tower per event, holding the whole energy
    grid = towers.grid
    assert (
        towers.key.tolist()
        == (np.arange(n) * grid.n_towers + grid.locate(hits.eta, hits.phi)).tolist()
    )
    np.testing.assert_allclose(towers.true_energy, energy, rtol=1e-12)
    sigma = math.sqrt(energy**2 * a**2 + energy * b**2 + c**2)
    np.testing.assert_allclose(towers.sigma, sigma, rtol=1e-12)
    assert float(np.mean(towers.energy)) == pytest.approx(energy, abs=4.5 * sigma / math.sqrt(n))
    assert float(np.std(towers.energy)) == pytest.approx(sigma, rel=0.05)
    # no tracks: every tower is a neutral with the measured energy, inside its tower
    assert neutrals.event.tolist() == list(range(n))
    np.testing.assert_allclose(neutrals.energy, towers.energy)
    lo, hi, plo, phi_hi = grid.bounds(grid.locate(hits.eta, hits.phi))
    assert np.all((lo <= neutrals.eta) & (neutrals.eta <= hi))
    assert np.all((plo <= neutrals.phi) & (neutrals.phi <= phi_hi))
    # smeared uniformly inside the tower (Delphes SmearTowerCenter)
    u = (neutrals.eta - lo) / (hi - lo)
    assert float(np.std(u)) == pytest.approx(1 / math.sqrt(12), rel=0.05)
    assert (neutrals.is_pu == 0).all()


def test_photon_leaves_nothing_in_hcal_and_pion_nothing_in_ecal(card: ViewCard) -> None:
    gen = make_gen([22, 211], [30.0, 30.0], [0.2, -0.2], [0.5, -2.0], [0, 1], 2)
    _, _, towers, neutrals = run(card, gen, "hcal", seed=1)
    assert (towers.key // towers.grid.n_towers).tolist() == [1]
    _, _, towers, neutrals = run(card, gen, "ecal", seed=1)
    assert (towers.key // towers.grid.n_towers).tolist() == [0]
    assert neutrals.event.tolist() == [0]


def test_towers_below_threshold_are_zeroed(card: ViewCard) -> None:
    """0.3 GeV photons: the tower is kept only above EnergyMin 0.5 and 1 sigma (0.45 GeV noise)."""
    n = 3000
    gen = make_gen([22] * n, [0.3] * n, [0.1] * n, np.linspace(-3, 3, n), np.arange(n), n)
    _, _, towers, neutrals = run(card, gen, "ecal", seed=2)
    assert len(towers.key) == n
    sigma = math.sqrt(0.3**2 * 0.009**2 + 0.3 * 0.12**2 + 0.45**2)
    np.testing.assert_allclose(towers.sigma, sigma, rtol=1e-12)
    kept = towers.energy > 0
    assert (towers.energy[kept] >= max(0.5, sigma)).all()
    # P(log-normal of mean 0.3 GeV, sigma 0.455 GeV above 0.5 GeV)
    s2 = math.log1p((sigma / 0.3) ** 2)
    p = 0.5 * math.erfc((math.log(0.5) - (math.log(0.3) - 0.5 * s2)) / math.sqrt(2 * s2))
    assert abs(kept.sum() - n * p) < 4.5 * math.sqrt(n * p * (1 - p))
    # no tracks: the kept towers are exactly the neutrals
    assert neutrals.event.tolist() == np.flatnonzero(kept).tolist()
    np.testing.assert_allclose(neutrals.energy, towers.energy[kept])


# ---------------------------------------------------------------- energy flow with tracks


def _pion_events(
    card: ViewCard, n: int, extra_pid: int | None, extra_energy: float
) -> GenParticles:
    """One 20 GeV-pT pi+ per event at eta 0.3, plus optionally a neutral hitting the same point."""
    rng = np.random.default_rng(41)
    phi = rng.uniform(-math.pi, math.pi, n)
    e_pi = math.sqrt((20.0 * math.cosh(0.3)) ** 2 + _MASS[211] ** 2)
    pions = make_gen([211] * n, [e_pi] * n, [0.3] * n, phi, np.arange(n), n)
    if extra_pid is None:
        return pions
    hits = propagate(pions, card)
    pid = np.ravel(np.column_stack([np.full(n, 211), np.full(n, extra_pid)]))
    energy = np.ravel(np.column_stack([np.full(n, e_pi), np.full(n, extra_energy)]))
    eta = np.ravel(np.column_stack([np.full(n, 0.3), hits.eta]))
    phis = np.ravel(np.column_stack([phi, hits.phi]))
    return make_gen(pid, energy, eta, phis, np.repeat(np.arange(n), 2), n)


def test_pion_with_its_track_gives_no_neutral_when_tower_matches(card: ViewCard) -> None:
    n = 2000
    gen = _pion_events(card, n, None, 0.0)
    # a calorimeter as precise as the tracker: the tower always matches the track
    precise = card.hcal.model_copy(
        update={"resolution": card.hcal.resolution.model_copy(update={"scale": 1e-3})}
    )
    _, tracks, towers, neutrals = run(card, gen, "hcal", seed=3, spec=precise)
    has_track = np.zeros(n, bool)
    has_track[gen.event[tracks.gen]] = True
    assert 0.9 < has_track.mean() < 1.0  # FullReco pion efficiency 0.97
    # events with the track: no neutral; events without: the whole tower is a neutral
    assert not has_track[neutrals.event].any()
    assert neutrals.event.tolist() == np.flatnonzero(~has_track).tolist()
    np.testing.assert_allclose(neutrals.energy, towers.energy[~has_track], rtol=1e-12)
    np.testing.assert_allclose(neutrals.energy, gen.energy[~has_track], rtol=1e-2)
    np.testing.assert_allclose(towers.track_energy[has_track], tracks.energy, rtol=1e-12)


def test_pion_alone_neutral_rate_follows_the_significance_rule(card: ViewCard) -> None:
    """With the real HCAL resolution a neutral appears only on an upward fluctuation beyond 1 sigma."""
    n = 3000
    gen = _pion_events(card, n, None, 0.0)
    _, tracks, towers, neutrals = run(card, gen, "hcal", seed=4)
    ev_track = gen.event[tracks.gen]
    t_tower = np.searchsorted(towers.key // towers.grid.n_towers, ev_track)
    spec = card.hcal
    # the rule, tower by tower, from the tower's own numbers
    var_trk = (tracks.energy * tracks.sigma_pt / tracks.pt) ** 2
    excess = towers.energy[t_tower] - towers.track_energy[t_tower]
    sig_tot = np.sqrt(towers.sigma[t_tower] ** 2 + var_trk)
    rule = (excess > spec.energy_min) & (excess > spec.significance_min * sig_tot)
    has_neutral = np.isin(ev_track, neutrals.event)
    np.testing.assert_array_equal(has_neutral, rule)
    # the rate: P(lognormal tower > track energy + max(EnergyMin, sigma_tot))
    true_e = towers.true_energy[t_tower]
    s2 = np.log1p((towers.sigma[t_tower] / true_e) ** 2)
    mu = np.log(true_e) - 0.5 * s2
    thr = towers.track_energy[t_tower] + np.maximum(spec.energy_min, sig_tot)
    p = 0.5 * np.array([math.erfc(v) for v in (np.log(thr) - mu) / np.sqrt(2 * s2)])
    assert 0.08 < p.mean() < 0.25
    assert abs(has_neutral.sum() - p.sum()) < 4.5 * math.sqrt((p * (1 - p)).sum())


@pytest.mark.parametrize(("extra_pid", "extra_energy"), [(130, 30.0), (2112, 15.0)])
def test_neutral_hadron_on_top_of_a_pion_gives_the_excess(
    card: ViewCard, extra_pid: int, extra_energy: float
) -> None:
    n = 3000
    gen = _pion_events(card, n, extra_pid, extra_energy)
    hits, tracks, towers, neutrals = run(card, gen, "hcal", seed=6)
    # the neutral hadron sits in the pion's tower
    tow = towers.grid.locate(hits.eta, hits.phi)
    assert (tow[0::2] == tow[1::2]).all()
    assert len(towers.key) == n
    ev_track = gen.event[tracks.gen]
    e_pi = float(gen.energy[0])
    np.testing.assert_allclose(towers.true_energy, e_pi + extra_energy, rtol=1e-12)
    excess = towers.energy[ev_track] - towers.track_energy[ev_track]
    sigma = math.sqrt((e_pi + extra_energy) ** 2 * 0.05**2 + (e_pi + extra_energy))
    assert float(np.mean(excess)) == pytest.approx(
        extra_energy, abs=4.5 * sigma / math.sqrt(len(excess))
    )
    # nearly every event with a track has a neutral, of exactly that excess
    with_neutral = np.isin(ev_track, neutrals.event)
    assert with_neutral.mean() > 0.9
    pos = np.searchsorted(neutrals.event, ev_track[with_neutral])
    np.testing.assert_allclose(neutrals.energy[pos], excess[with_neutral], rtol=1e-12)
    # the ECAL sees nothing of either
    _, _, ecal_towers, ecal_neutrals = run(card, gen, "ecal", seed=6)
    assert len(ecal_towers.key) == 0
    assert len(ecal_neutrals.energy) == 0


def test_photon_on_top_of_an_electron_track_gives_the_photon(card: ViewCard) -> None:
    n = 2000
    rng = np.random.default_rng(43)
    phi = rng.uniform(-math.pi, math.pi, n)
    e_el = 40.0 * math.cosh(0.2)
    electrons = make_gen([11] * n, [e_el] * n, [0.2] * n, phi, np.arange(n), n)
    hits = propagate(electrons, card)
    e_ph = 25.0
    gen = make_gen(
        np.ravel(np.column_stack([np.full(n, 11), np.full(n, 22)])),
        np.ravel(np.column_stack([np.full(n, e_el), np.full(n, e_ph)])),
        np.ravel(np.column_stack([np.full(n, 0.2), hits.eta])),
        np.ravel(np.column_stack([phi, hits.phi])),
        np.repeat(np.arange(n), 2),
        n,
    )
    _, tracks, towers, neutrals = run(card, gen, "ecal", seed=8)
    ev_track = gen.event[tracks.gen]
    assert len(ev_track) > 0.9 * n  # electron tracking 0.97
    excess = towers.energy[ev_track] - towers.track_energy[ev_track]
    total = e_el + e_ph
    sigma = math.sqrt(total**2 * 0.009**2 + total * 0.12**2 + 0.45**2)
    sig_trk = e_el * 0.028  # ElectronEnergySmearing, |eta| < 1.5
    assert float(np.mean(excess)) == pytest.approx(
        e_ph, abs=4.5 * math.hypot(sigma, sig_trk) / math.sqrt(len(excess))
    )
    assert float(np.std(excess)) == pytest.approx(math.hypot(sigma, sig_trk), rel=0.08)
    assert np.isin(ev_track, neutrals.event).mean() > 0.99


# ---------------------------------------------------------------- lookup and pileup share


def test_energy_at_returns_the_tower_energy(card: ViewCard) -> None:
    n = 500
    rng = np.random.default_rng(51)
    eta = rng.uniform(-2.5, 2.5, n)
    gen = make_gen([22] * n, rng.uniform(5, 100, n), eta, rng.uniform(-3, 3, n), np.arange(n), n)
    hits, _, towers, _ = run(card, gen, "ecal", seed=9)
    events = np.arange(n)
    np.testing.assert_array_equal(towers.energy_at(events, hits.eta, hits.phi), towers.energy)
    assert (towers.energy > 0).all()
    # elsewhere, in another event, or outside the calorimeter: 0
    shifted = np.where(hits.eta > 0, hits.eta - 0.2, hits.eta + 0.2)
    assert (towers.energy_at(events, shifted, hits.phi) == 0).all()
    assert (towers.energy_at((events + 1) % n, hits.eta, hits.phi) == 0).all()
    assert (towers.energy_at(events, np.full(n, 6.0), hits.phi) == 0).all()
    # a batch with no towers at all
    _, _, no_towers, no_neutrals = run(card, make_gen([], [], [], [], [], 1), "ecal", seed=1)
    assert len(no_towers.key) == 0
    assert len(no_neutrals.energy) == 0
    assert no_towers.energy_at(np.array([0]), np.array([0.1]), np.array([0.2])).tolist() == [0.0]


def test_neutral_is_pu_follows_the_majority_of_true_energy(card: ViewCard) -> None:
    # per event two photons in the same direction: (pileup energy, hard-scatter energy)
    shares = [(30.0, 10.0), (10.0, 30.0), (20.0, 0.0), (0.0, 20.0), (26.0, 24.0)]
    pid, energy, eta, phi, event, is_pu = [], [], [], [], [], []
    for k, (e_pu, e_hs) in enumerate(shares):
        for e, flag in ((e_pu, 1), (e_hs, 0)):
            if e > 0:
                pid.append(22)
                energy.append(e)
                eta.append(0.4)
                phi.append(-2.0 + k)
                event.append(k)
                is_pu.append(flag)
    gen = make_gen(pid, energy, eta, phi, event, len(shares), is_pu)
    _, _, towers, neutrals = run(card, gen, "ecal", seed=10)
    np.testing.assert_allclose(towers.pu_energy, [s[0] for s in shares])
    np.testing.assert_allclose(towers.true_energy, [sum(s) for s in shares])
    assert neutrals.event.tolist() == [0, 1, 2, 3, 4]
    assert neutrals.is_pu.tolist() == [1, 0, 1, 0, 1]


def test_tower_center_without_smearing(card: ViewCard) -> None:
    spec = card.ecal.model_copy(update={"smear_tower_center": False})
    gen = make_gen([22, 22], [50.0, 80.0], [0.33, -1.01], [0.7, -2.9], [0, 1], 2)
    hits, _, towers, neutrals = run(card, gen, "ecal", seed=11, spec=spec)
    lo, hi, plo, phi_hi = towers.grid.bounds(towers.grid.locate(hits.eta, hits.phi))
    np.testing.assert_allclose(neutrals.eta, 0.5 * (lo + hi), rtol=1e-14)
    np.testing.assert_allclose(neutrals.phi, 0.5 * (plo + phi_hi), rtol=1e-14)


def test_compacting_tower_keys_equals_numpy_unique() -> None:
    rng = np.random.default_rng(21)
    for n_tow, n_events, n in ((7, 3, 0), (7, 3, 1), (50, 20, 400), (130_000, 6, 50_000)):
        keys = rng.integers(0, n_tow * n_events, n)
        distinct, inverse = _compact(keys, n_tow, n_events)
        ref, ref_inverse = np.unique(keys, return_inverse=True)
        np.testing.assert_array_equal(distinct, ref)
        np.testing.assert_array_equal(inverse, ref_inverse.ravel())
