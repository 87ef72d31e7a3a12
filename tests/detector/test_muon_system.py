"""Tests of l1scout.detector.muon_system: transport to the second station and the standalone Level-1 muons.

The transport is checked against the closed-form bending of a single uniform
field region and against an independent fine-step integration of the Lorentz
force; every number of the card's ``[muon_system]`` section is checked by a
statistical test on a sample of muons shot at fixed kinematics, with the
expectation computed here from the card's numbers and a binomial or Gaussian
tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import norm

from l1scout.detector.card import CARD_DIR
from l1scout.detector.muon_system import (
    FieldShell,
    MuonGeometry,
    MuonSystemSpec,
    highland_theta0,
    standalone_muons,
    station_position,
)
from l1scout.detector.particles import GenParticles
from l1scout.detector.view_card import load_view_card
from l1scout.errors import CardError

F64 = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def spec() -> MuonSystemSpec:
    card = load_view_card("L1T").muon_system
    assert card is not None
    return card


def _muons(
    pt: F64, eta: F64, phi: F64, charge: npt.NDArray[np.int64], per_event: int = 1
) -> GenParticles:
    n = len(pt)
    z = np.zeros(n)
    return GenParticles(
        offsets=np.arange(0, n + 1, per_event, dtype=np.int64),
        pid=(-13 * charge).astype(np.int32),
        status=np.ones(n, np.int8),
        pt=pt,
        eta=eta,
        phi=phi,
        mass=np.full(n, 0.1057),
        charge=charge.astype(np.int8),
        is_pu=np.zeros(n, np.int8),
        x=z,
        y=z,
        z=z,
        t=z,
        vertex_index=np.zeros(n, np.int32),
    )


def _shoot(n: int, pt: float, eta: float, seed: int = 1, spread: float = 0.0) -> GenParticles:
    rng = np.random.default_rng(seed)
    return _muons(
        pt * (1 + spread * rng.uniform(-1, 1, n)),
        np.full(n, eta),
        rng.uniform(-np.pi, np.pi, n),
        rng.choice(np.array([-1, 1]), n),
    )


def _binomial_ok(k: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(k - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


# ---------------------------------------------------------------- transport


def _closed_form(pt: F64, b: float, r_exit: float, r_st: float) -> F64:
    """Bending of a uniform field out to r_exit, then a straight line to r_st (circle geometry)."""
    radius = pt / (0.299792458 * b)
    a = np.arcsin(r_exit / (2 * radius))
    return 2 * a - np.arcsin(r_exit * np.sin(a) / r_st)


def test_transport_matches_the_closed_form_of_one_field_region() -> None:
    geo = MuonGeometry(shells=[FieldShell(r_min_m=0, r_max_m=3.0, half_length_m=6.0, bz_tesla=3.8)])
    pt = np.array([4.0, 5.0, 10.0, 45.0, 1000.0])
    n = len(pt)
    for q in (1, -1):
        eta, phi, ok = station_position(
            pt,
            np.zeros(n),
            np.full(n, 0.3),
            np.full(n, q),
            np.zeros(n),
            np.zeros(n),
            np.zeros(n),
            geo,
        )
        assert ok.all()
        expected = 0.3 - q * _closed_form(pt, 3.8, 3.0, 4.9)
        np.testing.assert_allclose(phi, expected, atol=1e-3)  # a tenth of the hardware bin
        np.testing.assert_allclose(eta, 0.0, atol=1e-12)
    # endcap: the field ends at |z| = 6 m (r_exit = 6 tan theta), the hit is on the disk at 8.3 m
    eta0 = 2.0
    tan_theta = 1 / math.sinh(eta0)
    e, p, ok = station_position(
        pt, np.full(n, eta0), np.zeros(n), np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n), geo
    )
    assert ok.all()
    # a bent track's chord is shorter than its path: the hit looks more forward, less so when stiff
    np.testing.assert_allclose(e[2:], eta0, atol=2e-3)
    assert (np.diff(e) < 0).all()
    # the closed form takes the hit at r = 8.3 tan(theta), exact only for stiff tracks
    np.testing.assert_allclose(
        p[2:], -_closed_form(pt[2:], 3.8, 6.0 * tan_theta, 8.3 * tan_theta), atol=1e-3
    )


def _reference_transport(
    pt: float, phi0: float, q: int, z0: float, sinh_eta: float, geo: MuonGeometry
) -> tuple[float, float]:
    """Slow and obvious: integrate dp/ds = q 0.3 (v x B) with tiny Euler steps (m, GeV, T)."""
    x, y, z = 0.0, 0.0, z0
    px, py = pt * math.cos(phi0), pt * math.sin(phi0)
    ds = 2e-4
    while True:
        r = math.hypot(x, y)
        if r >= geo.station_radius_m or abs(z) >= geo.station_z_m:
            return math.asinh(z / r), math.atan2(y, x)
        b = 0.0
        for s in geo.shells:
            if s.r_min_m <= r < s.r_max_m and abs(z) < s.half_length_m:
                b = s.bz_tesla
                break
        # transverse: d(px, py)/ds = q 0.3 B (py, -px) / pT  (v x B with B along +z)
        k = q * 0.299792458 * b * ds / pt
        px, py = px + k * py, py - k * px
        norm_ = math.hypot(px, py)
        px, py = px * pt / norm_, py * pt / norm_
        x += ds * px / pt
        y += ds * py / pt
        z += ds * sinh_eta


def test_transport_with_the_return_yoke_matches_a_fine_step_integration(
    spec: MuonSystemSpec,
) -> None:
    geo = spec.geometry
    assert any(s.bz_tesla < 0 for s in geo.shells)  # the card's return field is tested here
    cases = [(5.0, 0.2, 1, 0.05, 0.0), (8.0, -1.0, -1, -0.04, 0.5), (20.0, 2.5, 1, 0.0, 1.1)]
    for pt, phi0, q, z0, eta in cases:
        e, p, ok = station_position(
            np.array([pt]),
            np.array([eta]),
            np.array([phi0]),
            np.array([q]),
            np.zeros(1),
            np.zeros(1),
            np.array([z0 * 1e3]),
            geo,
        )
        e_ref, p_ref = _reference_transport(pt, phi0, q, z0, math.sinh(eta), geo)
        assert ok[0]
        assert abs(p[0] - p_ref) < 1.5e-3, (pt, p[0], p_ref)
        assert abs(e[0] - e_ref) < 1e-3, (pt, e[0], e_ref)


def test_the_return_yoke_bends_back_and_a_looper_never_arrives(spec: MuonSystemSpec) -> None:
    solenoid_only = MuonGeometry(shells=[spec.geometry.shells[0]])
    args = (np.array([6.0, 1.0]), np.zeros(2), np.zeros(2), np.ones(2), *np.zeros((3, 2)))
    _, with_yoke, ok = station_position(*args, spec.geometry)
    _, without, _ = station_position(*args, solenoid_only)
    assert ok.tolist() == [True, False]  # 1 GeV at eta 0 curls inside the 3 m field region
    assert (
        0 < with_yoke[0] - without[0] < 0.05
    )  # a positive muon turns clockwise, the yoke undoes some


def test_vertex_z_moves_the_station_eta() -> None:
    geo = MuonGeometry()
    z0 = 100.0  # mm
    e, _, _ = station_position(
        np.array([50.0]),
        np.array([0.5]),
        np.zeros(1),
        np.ones(1),
        np.zeros(1),
        np.zeros(1),
        np.array([z0]),
        geo,
    )
    # the hit sits at r = 4.9 m, z = z0 + r sinh(eta): seen from the origin its eta is larger
    expected = math.asinh((z0 * 1e-3 + 4.9 * math.sinh(0.5)) / 4.9)
    assert e[0] == pytest.approx(expected, abs=1e-3)


# ---------------------------------------------------------------- the card's numbers


def _two_of_four(eff: float) -> float:
    return 1 - (1 - eff) ** 4 - 4 * eff * (1 - eff) ** 3


@pytest.mark.parametrize(("eta", "region"), [(0.3, 0), (1.0, 1), (1.8, 2)])
def test_plateau_efficiency_follows_acceptance_and_station_efficiency(
    spec: MuonSystemSpec, eta: float, region: int
) -> None:
    n = 20000
    mu = standalone_muons(_shoot(n, 30.0, eta), spec, np.random.default_rng(5))
    expected = spec.acceptance[region] * _two_of_four(spec.station_efficiency[region])
    assert _binomial_ok(len(mu.gen), n, expected)
    assert set(np.unique(mu.region).tolist()) <= {region, region - 1, region + 1}
    assert np.mean(mu.region == region) > 0.95


def test_station_thresholds_set_the_turn_on_and_the_quality(spec: MuonSystemSpec) -> None:
    n = 20000
    # p = 2.8 GeV at eta 1.8 (pT 0.9): only station 1 reachable, never two stations
    p_lo = 0.5 * (spec.station_p_min_gev[0] + spec.station_p_min_gev[1])
    mu = standalone_muons(_shoot(n, p_lo / math.cosh(1.8), 1.8), spec, np.random.default_rng(2))
    assert len(mu.gen) == 0
    # between the thresholds of stations 2 and 3: exactly two stations, quality 7
    p_mid = 0.5 * (spec.station_p_min_gev[1] + spec.station_p_min_gev[2])
    mu = standalone_muons(_shoot(n, p_mid / math.cosh(1.8), 1.8), spec, np.random.default_rng(3))
    eff = spec.station_efficiency[2]
    assert _binomial_ok(len(mu.gen), n, spec.acceptance[2] * eff**2)
    assert set(mu.quality.tolist()) == {7}
    # high momentum: four stations reachable, quality 15 for 4 segments with probability eff^4 / P(>= 2)
    mu = standalone_muons(_shoot(n, 30.0, 1.8), spec, np.random.default_rng(4))
    k = int(np.sum(mu.quality == 15))
    assert _binomial_ok(k, len(mu.gen), eff**4 / _two_of_four(eff))
    assert set(mu.quality.tolist()) <= {7, 11, 15}


@pytest.mark.parametrize(("pt", "eta", "region", "column"), [(20.0, 0.3, 0, 0), (70.0, 1.8, 2, 1)])
def test_curvature_resolution_core_and_tails(
    spec: MuonSystemSpec, pt: float, eta: float, region: int, column: int
) -> None:
    n = 40000
    gen = _shoot(n, pt, eta, seed=7, spread=0.05)  # a spread of true pT smooths the 0.5 GeV bins
    mu = standalone_muons(gen, spec, np.random.default_rng(8))
    q_true = gen.charge[mu.gen].astype(np.float64)
    rel = (mu.charge / mu.pt) / (q_true / gen.pt[mu.gen]) - 1.0  # relative error of the curvature
    sigma = spec.curvature_resolution.coefficients["a"][region][column]
    f, s = spec.tail_fraction[region], spec.tail_scale[region]
    # the share within one core sigma: (1 - f) P(|z| < 1) + f P(|z| < 1 / s), hardware pT bins aside
    inside = np.mean(np.abs(rel) < sigma)
    expected = (1 - f) * (2 * norm.cdf(1) - 1) + f * (2 * norm.cdf(1 / s) - 1)
    assert abs(inside - expected) < 4 * math.sqrt(expected * (1 - expected) / len(rel)) + 0.01
    # the variance of the mixture
    var = (1 - f) * sigma**2 + f * (s * sigma) ** 2
    assert np.var(rel[np.abs(rel) < 6 * s * sigma]) == pytest.approx(var, rel=0.1)


def test_charge_mis_assignment_comes_from_the_tails(spec: MuonSystemSpec) -> None:
    n = 60000
    pt = 200.0  # high pT: core 0.30 in the barrel, tails three times wider
    gen = _shoot(n, pt, 0.3, seed=9)
    mu = standalone_muons(gen, spec, np.random.default_rng(10))
    wrong = int(np.sum(mu.charge != gen.charge[mu.gen]))
    sigma = spec.curvature_resolution.coefficients["a"][0][2]
    f, s = spec.tail_fraction[0], spec.tail_scale[0]
    p_flip = (1 - f) * norm.cdf(-1 / sigma) + f * norm.cdf(-1 / (s * sigma))
    assert _binomial_ok(wrong, len(mu.gen), p_flip)
    assert wrong > 0


def test_eta_and_phi_resolution_at_the_station(spec: MuonSystemSpec) -> None:
    n = 30000
    pt, eta = 40.0, 0.4
    gen = _shoot(n, pt, eta, seed=11)
    mu = standalone_muons(gen, spec, np.random.default_rng(12))
    e_st, p_st, _ = station_position(
        gen.pt[mu.gen],
        gen.eta[mu.gen],
        gen.phi[mu.gen],
        gen.charge[mu.gen],
        gen.x[mu.gen],
        gen.y[mu.gen],
        gen.z[mu.gen],
        spec.geometry,
    )
    hw = spec.hardware
    theta0 = (
        float(highland_theta0(pt * math.cosh(eta), spec.material_x0[0])) * spec.scattering_lever[0]
    )
    sd_eta = math.sqrt(
        spec.eta_resolution[0] ** 2 + (theta0 * math.cosh(eta)) ** 2 + hw.eta_lsb**2 / 12
    )
    sd_phi = math.sqrt(
        spec.phi_resolution[0] ** 2 + theta0**2 + (2 * math.pi / hw.phi_bins) ** 2 / 12
    )
    d_phi = (mu.phi - p_st + np.pi) % (2 * np.pi) - np.pi
    assert np.std(mu.eta - e_st) == pytest.approx(sd_eta, rel=0.05)
    assert np.std(d_phi) == pytest.approx(sd_phi, rel=0.05)


def test_hardware_bins_sorting_and_the_cap(spec: MuonSystemSpec) -> None:
    rng = np.random.default_rng(13)
    n_ev, per = 200, 12
    n = n_ev * per
    gen = _muons(
        rng.uniform(5, 400, n),
        rng.uniform(-2.3, 2.3, n),
        rng.uniform(-np.pi, np.pi, n),
        rng.choice(np.array([-1, 1]), n),
        per_event=per,
    )
    mu = standalone_muons(gen, spec, np.random.default_rng(14))
    hw = spec.hardware
    counts = np.diff(mu.offsets)
    assert counts.max() == spec.max_muons
    assert len(counts) == n_ev
    assert (mu.hw_pt >= 1).all()
    assert (mu.hw_pt <= hw.pt_max).all()
    assert (mu.hw_phi >= 0).all()
    assert (mu.hw_phi < hw.phi_bins).all()
    np.testing.assert_array_equal(mu.pt, mu.hw_pt * hw.pt_lsb)
    np.testing.assert_array_equal(mu.eta, mu.hw_eta * hw.eta_lsb)
    np.testing.assert_allclose(
        np.mod(mu.phi, 2 * np.pi), np.mod(mu.hw_phi * 2 * np.pi / hw.phi_bins, 2 * np.pi), atol=1e-9
    )
    for a, b in zip(mu.offsets[:-1], mu.offsets[1:], strict=True):
        key = list(zip(-mu.quality[a:b], -mu.hw_pt[a:b], strict=True))
        assert key == sorted(key)
    # the kept muons are the best of the event: none dropped beats the worst kept one
    assert (mu.quality[mu.offsets[1:] - 1] >= 7).all()


def test_draws_do_not_depend_on_the_order_of_other_muons(spec: MuonSystemSpec) -> None:
    gen = _shoot(50, 20.0, 0.3, seed=15)
    a = standalone_muons(gen, spec, np.random.default_rng(16))
    b = standalone_muons(gen, spec, np.random.default_rng(16))
    np.testing.assert_array_equal(a.hw_pt, b.hw_pt)
    np.testing.assert_array_equal(a.hw_phi, b.hw_phi)


# ---------------------------------------------------------------- card validation


def test_a_region_list_of_the_wrong_length_names_the_field(tmp_path: Path) -> None:
    text = (CARD_DIR / "L1T.toml").read_text()
    bad = text.replace("acceptance = [0.96, 0.94, 0.96]", "acceptance = [0.96, 0.94]")
    assert bad != text
    path = tmp_path / "bad.toml"
    path.write_text(bad)
    with pytest.raises(CardError, match=r"muon_system.*acceptance.*one value per region"):
        load_view_card(path)
    bad = text.replace("station_p_min_gev = [2.5, 3.0, 3.9, 4.8]", "station_p_min_gev = [3.0, 2.5]")
    path.write_text(bad)
    with pytest.raises(CardError, match=r"station_p_min_gev"):
        load_view_card(path)


def test_full_reco_has_no_muon_system() -> None:
    assert load_view_card("FullReco").muon_system is None
