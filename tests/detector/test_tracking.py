"""Tests of l1scout.detector.tracking: efficiencies, resolutions and impact parameters vs the cards.

Many prompt charged particles (pions, electrons, muons) are propagated with the
card's field and reconstructed with the FullReco and L1T cards; the fractions of
reconstructed particles and the spreads of the measured quantities are compared
with the card's tables in bins of (pT, eta), with binomial / sampling tolerances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from l1scout.detector.particles import GenParticles
from l1scout.detector.propagation import SurfaceHits, propagate_to_surface
from l1scout.detector.tracking import Tracks, lognormal, particle_class, reconstruct_tracks
from l1scout.detector.view_card import ViewCard, load_view_card

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

N_PARTICLES = 200_000
N_EVENTS = 4
_MASS = {211: 0.13957, 11: 0.000511, 13: 0.10566}


def make_gen(
    pid: npt.NDArray[np.int32],
    pt: F64,
    eta: F64,
    phi: F64,
    z: F64,
    offsets: npt.NDArray[np.int64],
    is_pu: npt.NDArray[np.int8] | None = None,
) -> GenParticles:
    """Prompt (x = y = 0) status-1 particles; charge and mass from the PDG id (pi, e, mu only)."""
    apid = np.abs(pid)
    sign = np.sign(pid)
    charge = np.where(apid == 211, sign, -sign).astype(np.int8)
    mass = np.select([apid == 211, apid == 11, apid == 13], [_MASS[211], _MASS[11], _MASS[13]])
    n = len(pt)
    return GenParticles(
        offsets=offsets.astype(np.int64),
        pid=pid.astype(np.int32),
        status=np.ones(n, np.int8),
        pt=pt.astype(np.float64),
        eta=eta.astype(np.float64),
        phi=phi.astype(np.float64),
        mass=mass.astype(np.float64),
        charge=charge,
        is_pu=np.zeros(n, np.int8) if is_pu is None else is_pu,
        x=np.zeros(n),
        y=np.zeros(n),
        z=z.astype(np.float64),
        t=np.zeros(n),
        vertex_index=np.zeros(n, np.int32),
    )


def propagate(gen: GenParticles, card: ViewCard) -> SurfaceHits:
    p = card.propagation
    return propagate_to_surface(
        gen.px,
        gen.py,
        gen.pz,
        gen.charge,
        gen.x,
        gen.y,
        gen.z,
        bz_tesla=p.bz_tesla,
        radius_mm=p.radius_mm,
        half_length_mm=p.half_length_mm,
    )


@dataclass(frozen=True)
class Sample:
    gen: GenParticles
    hits: SurfaceHits
    full: ViewCard
    l1t: ViewCard
    tr_full: Tracks
    tr_l1t: Tracks


@pytest.fixture(scope="module")
def sample() -> Sample:
    rng = np.random.default_rng(2024)
    n = N_PARTICLES
    kind = rng.choice(3, size=n, p=[0.2, 0.2, 0.6])
    pid = np.choose(kind, [11, 13, 211]) * rng.choice([-1, 1], size=n)
    pt = np.exp(rng.uniform(np.log(0.1), np.log(50.0), n))
    eta = rng.uniform(-4.5, 4.5, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    z = rng.normal(0.0, 50.0, n)
    offsets = np.linspace(0, n, N_EVENTS + 1).astype(np.int64)
    gen = make_gen(pid.astype(np.int32), pt, eta, phi, z, offsets)
    full, l1t = load_view_card("FullReco"), load_view_card("L1T")
    assert full.propagation == l1t.propagation
    hits = propagate(gen, full)
    tr_full = reconstruct_tracks(
        gen, hits, full.tracking, full.propagation.bz_tesla, np.random.default_rng(1)
    )
    tr_l1t = reconstruct_tracks(
        gen, hits, l1t.tracking, l1t.propagation.bz_tesla, np.random.default_rng(2)
    )
    return Sample(gen, hits, full, l1t, tr_full, tr_l1t)


def _table(card: ViewCard, what: str, kind: int) -> object:
    group = getattr(card.tracking, what)
    return (group.electron, group.muon, group.charged_hadron)[kind]


def _reco_mask(tracks: Tracks, n: int) -> B:
    mask = np.zeros(n, bool)
    mask[tracks.gen] = True
    return mask


# ---------------------------------------------------------------- efficiency

# (particle class, pT lo, pT hi, |eta| lo, |eta| hi): bins of the FullReco and L1T tables
_FULL_BINS = [
    (2, 0.3, 0.9, 0.0, 1.2),
    (2, 2.0, 40.0, 0.0, 1.2),
    (2, 0.4, 0.9, 1.3, 2.4),
    (2, 2.0, 40.0, 1.3, 2.4),
    (2, 0.3, 0.9, 2.6, 3.9),
    (2, 2.0, 40.0, 2.6, 3.9),
    (2, 0.1, 0.2, 0.0, 4.0),
    (2, 1.0, 50.0, 4.05, 4.5),
    (0, 0.3, 0.9, 0.0, 1.2),
    (0, 1.5, 9.0, 1.3, 2.4),
    (0, 11.0, 50.0, 2.6, 3.9),
    (0, 1.5, 9.0, 2.6, 3.9),
    (1, 0.3, 0.9, 1.3, 2.7),
    (1, 1.5, 50.0, 2.9, 3.9),
]
_L1T_BINS = [
    (2, 2.05, 2.95, 0.0, 2.4),
    (2, 3.05, 3.95, 0.0, 2.4),
    (2, 5.1, 7.9, 0.0, 2.4),
    (2, 8.1, 14.9, 0.0, 2.4),
    (2, 25.1, 50.0, 0.0, 2.4),
    (0, 3.05, 3.95, 0.0, 2.4),
    (0, 15.1, 24.9, 0.0, 2.4),
    (1, 2.05, 2.95, 0.0, 2.4),
    (1, 5.1, 9.9, 0.0, 2.4),
    (2, 2.05, 50.0, 2.45, 4.0),
    (2, 0.1, 1.95, 0.0, 2.4),
]


@pytest.mark.parametrize("view", ["FullReco", "L1T"])
def test_efficiency_in_bins_matches_card(sample: Sample, view: str) -> None:
    card, tracks, bins = (
        (sample.full, sample.tr_full, _FULL_BINS)
        if view == "FullReco"
        else (sample.l1t, sample.tr_l1t, _L1T_BINS)
    )
    gen = sample.gen
    kind = particle_class(gen.pid)
    reco = _reco_mask(tracks, len(gen.pt))
    aeta = np.abs(gen.eta)
    for k, plo, phi, elo, ehi in bins:
        sel = (kind == k) & (gen.pt > plo) & (gen.pt <= phi) & (aeta > elo) & (aeta <= ehi)
        n = int(sel.sum())
        assert n > 400, (k, plo, phi, elo, ehi, n)
        p = _table(card, "efficiency", k)(gen.pt[sel], gen.eta[sel]) * sample.hits.reached[sel]  # type: ignore[operator]
        p = np.where(aeta[sel] <= card.tracking.eta_max, p, 0.0)
        expected, var = p.sum(), (p * (1 - p)).sum()
        got = int(reco[sel].sum())
        tol = 4.5 * math.sqrt(var) + 1e-9
        assert abs(got - expected) <= tol, (
            f"{view} bin {(k, plo, phi, elo, ehi)}: {got} reconstructed, expected {expected:.1f} +- {math.sqrt(var):.1f}"
        )


def test_fullreco_efficiency_known_values(sample: Sample) -> None:
    gen = sample.gen
    reco = _reco_mask(sample.tr_full, len(gen.pt))
    kind = particle_class(gen.pid)
    aeta = np.abs(gen.eta)
    # charged hadrons above 1 GeV: 0.97 / 0.87 / 0.82 in the three |eta| regions (v04 card)
    for lo, hi, eff in [(0.0, 1.2, 0.97), (1.2, 2.5, 0.87), (2.5, 4.0, 0.82)]:
        sel = (kind == 2) & (gen.pt > 1.0) & (aeta > lo) & (aeta <= hi)
        n = sel.sum()
        assert abs(reco[sel].mean() - eff) < 4.5 * math.sqrt(eff * (1 - eff) / n)
    assert not reco[aeta > 4.0].any()
    assert not reco[gen.pt <= 0.2].any()


def test_l1t_no_track_below_2_gev_or_beyond_eta_2p4(sample: Sample) -> None:
    gen, tr = sample.gen, sample.tr_l1t
    assert len(tr.gen) > 10_000
    assert gen.pt[tr.gen].min() > 2.0
    assert np.abs(gen.eta[tr.gen]).max() <= 2.4
    # and FullReco does track there
    full_gen = sample.tr_full.gen
    assert (gen.pt[full_gen] < 2.0).sum() > 1000
    assert (np.abs(gen.eta[full_gen]) > 2.4).sum() > 1000


# ---------------------------------------------------------------- track content


@pytest.mark.parametrize("view", ["FullReco", "L1T"])
def test_track_fields_follow_the_generated_particle(sample: Sample, view: str) -> None:
    gen = sample.gen
    card, tr = (sample.full, sample.tr_full) if view == "FullReco" else (sample.l1t, sample.tr_l1t)
    idx = tr.gen
    assert np.all(np.diff(idx) > 0)  # generator order, no duplicates
    np.testing.assert_array_equal(tr.eta, gen.eta[idx])
    np.testing.assert_array_equal(tr.phi, gen.phi[idx])
    np.testing.assert_array_equal(tr.charge, gen.charge[idx])
    np.testing.assert_array_equal(tr.pid, gen.pid[idx])
    np.testing.assert_array_equal(tr.mass, gen.mass[idx])
    np.testing.assert_array_equal(tr.is_pu, gen.is_pu[idx])
    np.testing.assert_array_equal(tr.kind, particle_class(gen.pid[idx]))
    np.testing.assert_array_equal(tr.surface_eta, sample.hits.eta[idx])
    np.testing.assert_array_equal(tr.surface_phi, sample.hits.phi[idx])
    assert sample.hits.reached[idx].all()
    counts = np.bincount(gen.event[idx], minlength=gen.n_events)
    np.testing.assert_array_equal(tr.offsets, np.concatenate([[0], np.cumsum(counts)]))
    # sigma_pt is the card's relative resolution times the true pT
    res = np.zeros(len(idx))
    for k in range(3):
        s = tr.kind == k
        res[s] = _table(card, "momentum_resolution", k)(gen.pt[idx][s], gen.eta[idx][s])  # type: ignore[operator]
    np.testing.assert_allclose(tr.sigma_pt, res * gen.pt[idx], rtol=1e-12)
    np.testing.assert_allclose(tr.energy, np.sqrt((tr.pt * np.cosh(tr.eta)) ** 2 + tr.mass**2))
    assert (tr.pt > 0).all()


# ---------------------------------------------------------------- resolutions


_RES_BINS = [
    # (class, pT lo, pT hi, |eta| lo, |eta| hi)
    (2, 2.0, 9.0, 0.0, 1.0),
    (2, 11.0, 50.0, 1.2, 2.4),
    (2, 2.0, 9.0, 1.6, 2.4),
    (2, 1.1, 9.0, 3.0, 4.0),
    (0, 2.0, 50.0, 0.0, 1.5),
    (0, 2.0, 50.0, 2.15, 2.4),
    (1, 5.5, 9.5, 0.0, 2.4),
    (1, 1.1, 4.9, 0.0, 1.2),
]


@pytest.mark.parametrize("view", ["FullReco", "L1T"])
def test_pt_resolution_matches_card(sample: Sample, view: str) -> None:
    gen = sample.gen
    card, tr = (sample.full, sample.tr_full) if view == "FullReco" else (sample.l1t, sample.tr_l1t)
    pt_true, eta = gen.pt[tr.gen], gen.eta[tr.gen]
    ratio = tr.pt / pt_true - 1.0
    checked = 0
    for k, plo, phi, elo, ehi in _RES_BINS:
        sel = (
            (tr.kind == k)
            & (pt_true > plo)
            & (pt_true <= phi)
            & (np.abs(eta) > elo)
            & (np.abs(eta) <= ehi)
        )
        if sel.sum() < 300:
            continue  # outside this view's acceptance
        checked += 1
        res = _table(card, "momentum_resolution", k)(pt_true[sel], eta[sel])  # type: ignore[operator]
        expected = math.sqrt(float(np.mean(res**2)))
        got = float(np.std(ratio[sel]))
        assert got == pytest.approx(expected, rel=0.10), f"{view} bin {(k, plo, phi, elo, ehi)}"
        assert abs(float(np.mean(ratio[sel]))) < 5 * expected / math.sqrt(
            sel.sum()
        )  # unbiased mean
    assert checked >= 6


def test_l1t_pt_resolution_is_twice_fullreco(sample: Sample) -> None:
    gen = sample.gen
    spreads = []
    for tr in (sample.tr_full, sample.tr_l1t):
        pt_true, eta = gen.pt[tr.gen], gen.eta[tr.gen]
        sel = (tr.kind == 2) & (pt_true > 2.0) & (pt_true < 9.0) & (np.abs(eta) < 1.0)
        spreads.append(float(np.std(tr.pt[sel] / pt_true[sel] - 1)))
    assert spreads[1] / spreads[0] == pytest.approx(2.0, rel=0.08)


@pytest.mark.parametrize("view", ["FullReco", "L1T"])
def test_impact_parameter_errors_and_pulls(sample: Sample, view: str) -> None:
    gen = sample.gen
    card, tr = (sample.full, sample.tr_full) if view == "FullReco" else (sample.l1t, sample.tr_l1t)
    pt_true, eta = gen.pt[tr.gen], gen.eta[tr.gen]
    np.testing.assert_allclose(tr.err_dz, card.tracking.dz_resolution(pt_true, eta), rtol=1e-12)
    np.testing.assert_allclose(tr.err_d0, card.tracking.d0_resolution(pt_true, eta), rtol=1e-12)
    assert (tr.err_dz > 0).all()
    n = len(tr.dz)
    pull_z = (tr.dz - gen.z[tr.gen]) / tr.err_dz
    pull_d0 = tr.d0 / tr.err_d0  # prompt: true d0 = 0
    for pull in (pull_z, pull_d0):
        assert abs(float(np.mean(pull))) < 4.5 / math.sqrt(n)
        assert float(np.std(pull)) == pytest.approx(1.0, abs=4.5 * math.sqrt(0.5 / n) + 0.002)


def test_empty_and_neutral_only_input_gives_no_tracks() -> None:
    card = load_view_card("FullReco")
    gen = make_gen(
        np.zeros(0, np.int32),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.array([0, 0, 0]),
    )
    tr = reconstruct_tracks(gen, propagate(gen, card), card.tracking, 3.8, np.random.default_rng(0))
    assert len(tr.pt) == 0
    assert tr.offsets.tolist() == [0, 0, 0]


# ---------------------------------------------------------------- helpers


def test_lognormal_mean_and_std() -> None:
    rng = np.random.default_rng(5)
    n = 200_000
    for mean, sigma in [(10.0, 2.0), (1.0, 0.3), (50.0, 0.5)]:
        draw = lognormal(np.full(n, mean), np.full(n, sigma), rng)
        assert (draw > 0).all()
        assert float(np.mean(draw)) == pytest.approx(mean, abs=4.5 * sigma / math.sqrt(n))
        assert float(np.std(draw)) == pytest.approx(sigma, rel=0.02)
        # log of a log-normal is normal with variance log(1 + (sigma/mean)^2)
        assert float(np.var(np.log(draw))) == pytest.approx(
            math.log1p((sigma / mean) ** 2), rel=0.02
        )


def test_lognormal_edge_cases() -> None:
    rng = np.random.default_rng(6)
    out = lognormal(np.array([0.0, -1.0, 3.0, 7.5]), np.array([1.0, 1.0, 0.0, 0.0]), rng)
    assert out[:2].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(out[2:], [3.0, 7.5], rtol=1e-14)


def test_particle_class() -> None:
    pid = np.array([11, -11, 13, -13, 211, -211, 321, 2212, -2212, 15])
    assert particle_class(pid).tolist() == [0, 0, 1, 1, 2, 2, 2, 2, 2, 2]
    assert particle_class(pid).dtype == np.int8
