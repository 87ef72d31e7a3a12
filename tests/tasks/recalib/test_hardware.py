"""Hardware scales of the L1 muons and jets, and the muon bending to the station."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.recalib.hardware import (
    JET_ETA,
    JET_PHI,
    JET_PT,
    MUON_ETA,
    MUON_PHI,
    MUON_PT,
    HardwareScale,
    MuonBending,
    charge_from_sign,
    jets_to_hardware,
    l1_jets,
    l1_muons,
    l1_standalone_muons,
    muons_to_hardware,
    phi_at_station,
    sign_from_charge,
)

TWO_PI = 2 * math.pi
ALL_SCALES = (MUON_PT, MUON_ETA, MUON_PHI, JET_PT, JET_ETA, JET_PHI)


def test_scale_constants_follow_the_seed_tables() -> None:
    # the re-calibration study, Table 2 (muons) and Table 4 (jets): ranges and bin widths
    assert (MUON_PT.lo, MUON_PT.hi, MUON_PT.lsb) == (0, 511, 0.5)
    assert (MUON_ETA.lo, MUON_ETA.hi, MUON_ETA.lsb) == (-256, 255, 0.0870 / 8)
    assert (MUON_PHI.lo, MUON_PHI.hi) == (0, 575)
    assert MUON_PHI.lsb == pytest.approx(TWO_PI / 576)
    assert (JET_PT.lo, JET_PT.hi, JET_PT.lsb) == (0, 2047, 0.5)
    assert (JET_ETA.lo, JET_ETA.hi, JET_ETA.lsb) == (-128, 127, 0.0870 / 2)
    assert (JET_PHI.lo, JET_PHI.hi) == (0, 143)
    assert JET_PHI.lsb == pytest.approx(TWO_PI / 144)


@pytest.mark.parametrize("scale", ALL_SCALES, ids=lambda s: f"{s.name}-{s.n_bins}")
def test_every_hardware_value_round_trips(scale: HardwareScale) -> None:
    hw = np.arange(scale.lo, scale.hi + 1)
    assert np.array_equal(scale.to_hardware(scale.to_physical(hw)), hw)


@pytest.mark.parametrize("scale", ALL_SCALES, ids=lambda s: f"{s.name}-{s.n_bins}")
def test_physical_round_trip_is_within_half_a_bin(scale: HardwareScale) -> None:
    rng = np.random.default_rng(1)
    if scale.periodic:
        x = rng.uniform(-3 * math.pi, 3 * math.pi, 5000)  # any range: wrapped
        back = scale.to_physical(scale.to_hardware(x))
        err = (back - x + math.pi) % TWO_PI - math.pi
        assert np.all((back >= 0) & (back < TWO_PI))
    else:
        x = rng.uniform((scale.lo - 0.49) * scale.lsb, (scale.hi + 0.49) * scale.lsb, 5000)
        err = scale.to_physical(scale.to_hardware(x)) - x
    assert np.max(np.abs(err)) <= scale.lsb / 2 + 1e-12
    # rounding to nearest is unbiased: the mean error is a small fraction of a bin
    assert abs(float(np.mean(err))) < 0.02 * scale.lsb


def test_rounding_goes_to_the_nearest_bin_halves_up() -> None:
    assert MUON_PT.to_hardware([0.2499, 0.25, 0.7499, 0.75, 7.26]).tolist() == [0, 1, 1, 2, 15]
    assert MUON_PT.to_physical([15]).tolist() == [7.5]
    # negative eta: -0.5 bin rounds up to 0, below it to -1
    lsb = MUON_ETA.lsb
    assert MUON_ETA.to_hardware([-0.5 * lsb, -0.51 * lsb, -1.49 * lsb, -1.51 * lsb]).tolist() == [
        0,
        -1,
        -1,
        -2,
    ]
    assert MUON_ETA.to_physical([-46]).tolist() == [pytest.approx(-0.50025)]
    assert JET_ETA.to_hardware([-1.0, 1.0]).tolist() == [-23, 23]  # 1 / 0.0435 = 22.99


def test_saturation_at_both_ends() -> None:
    assert MUON_PT.to_hardware([255.5, 255.8, 1e4]).tolist() == [511, 511, 511]
    assert MUON_PT.to_hardware([-3.0]).tolist() == [0]
    assert MUON_ETA.to_hardware([2.78, 3.0, -2.79, -3.0]).tolist() == [255, 255, -256, -256]
    assert JET_PT.to_hardware([1023.5, 5000.0]).tolist() == [2047, 2047]
    assert JET_ETA.to_hardware([5.6, 6.0, -5.6, -6.0]).tolist() == [127, 127, -128, -128]


def test_phi_wraps_at_two_pi() -> None:
    lsb = MUON_PHI.lsb
    values = [0.0, TWO_PI, TWO_PI - 1e-6, TWO_PI - 0.6 * lsb, -0.4 * lsb, -0.6 * lsb, -math.pi / 2]
    assert MUON_PHI.to_hardware(values).tolist() == [0, 0, 0, 575, 0, 575, 432]
    assert JET_PHI.to_hardware([-math.pi / 2, math.pi, -math.pi, 7 * math.pi]).tolist() == [
        108,
        72,
        72,
        72,
    ]
    assert MUON_PHI.to_physical([575])[0] == pytest.approx(TWO_PI - lsb)


def test_bad_values_and_scales_are_refused() -> None:
    with pytest.raises(DataFormatError, match="hwPt: expected finite"):
        MUON_PT.to_hardware([1.0, np.nan])
    with pytest.raises(DataFormatError, match=r"\[0, 575\]"):
        MUON_PHI.to_physical([576])
    with pytest.raises(DataFormatError, match=r"\[-128, 127\]"):
        JET_ETA.to_physical([-129])
    with pytest.raises(ConfigError, match="lsb > 0"):
        HardwareScale("x", 0.0, 0, 1)
    with pytest.raises(ConfigError, match="cover 2 pi"):
        HardwareScale("phi", 0.1, 0, 9, periodic=True)


def test_charge_sign_bit() -> None:
    assert sign_from_charge([1, -1, -1]).tolist() == [0, 1, 1]
    assert charge_from_sign([0, 1]).tolist() == [1, -1]
    q = np.array([1, -1, 1, 1, -1])
    assert np.array_equal(charge_from_sign(sign_from_charge(q)), q)
    with pytest.raises(DataFormatError, match="zero charge"):
        sign_from_charge([1, 0])
    with pytest.raises(DataFormatError, match="hwSign"):
        charge_from_sign([2])


def _helix_reference(pt: float, eta: float, q: int, geo: MuonBending, step: float = 2e-4) -> float:
    """Position angle at the station by stepping the track (slow, obviously correct).

    Transverse plane: circle of radius pT / (0.3 B) while inside the field volume
    (r < R_sol and |z| < L, with z = s_T sinh(eta) along the transverse path
    s_T), then a straight line until r reaches the barrel station radius or |z|
    the endcap station plane. Starts at the origin with azimuth 0.
    """
    x = y = s = 0.0
    psi = 0.0
    curvature = 0.3 * geo.bz_tesla / pt
    sh = abs(math.sinh(eta))
    while math.hypot(x, y) < geo.solenoid_radius_m and s * sh < geo.solenoid_half_length_m:
        x += step * math.cos(psi - 0.5 * q * curvature * step)
        y += step * math.sin(psi - 0.5 * q * curvature * step)
        psi -= q * curvature * step
        s += step
    while math.hypot(x, y) < geo.station_radius_m and s * sh < geo.station_z_m:
        x += step * math.cos(psi)
        y += step * math.sin(psi)
        s += step
    return math.atan2(y, x)


@pytest.mark.parametrize(
    ("pt", "eta"),
    [(3.0, 0.0), (5.5, 0.3), (10.0, -0.8), (45.0, 1.0), (8.0, 1.6), (6.0, -2.2), (20.0, 2.4)],
)
def test_bending_matches_a_stepped_track(pt: float, eta: float) -> None:
    geo = MuonBending()
    for q in (1, -1):
        expected = _helix_reference(pt, eta, q, geo)
        got = phi_at_station([0.0], [pt], [eta], [q], geo)[0]
        diff = (got - expected + math.pi) % TWO_PI - math.pi
        # z is reached at transverse path length s_T, taken as the radius by the formula:
        # a second-order difference in the bending, well below a hardware bin (0.011 rad)
        assert abs(diff) < 2e-3, (pt, eta, q, got, expected)


def test_bending_flips_with_charge_and_shrinks_as_one_over_pt() -> None:
    geo = MuonBending()
    phi0 = np.array([0.3, 0.3])
    pos = phi_at_station(phi0, [10.0, 10.0], [0.2, 0.2], [1, 1], geo)
    neg = phi_at_station(phi0, [10.0, 10.0], [0.2, 0.2], [-1, -1], geo)
    # positive muons turn clockwise (phi decreases) in B along +z, negative ones the other way
    assert np.all(pos < 0.3)
    assert np.all(neg > 0.3)
    assert np.allclose(0.3 - pos, neg - 0.3)
    pts = np.array([20.0, 40.0, 80.0, 160.0])
    d = geo.deflection(pts, np.zeros(4))
    assert np.allclose(d[1:] / d[:-1], 0.5, atol=2e-3)
    # small-angle limit: pT * dphi -> k = 0.3 B r_s (1 - r_s / (2 r_st))
    assert d[-1] * 160.0 == pytest.approx(0.3 * 3.8 * 3.0 * (1 - 3.0 / 9.8), rel=1e-3)
    assert geo.small_angle_k() == pytest.approx(0.3 * 3.8 * 3.0 * (1 - 3.0 / 9.8))
    # the endcap leaves the field earlier: less bending at large |eta|
    assert geo.deflection([10.0], [2.2])[0] < 0.5 * geo.deflection([10.0], [0.0])[0]
    # a stronger field bends more
    assert MuonBending(bz_tesla=4.0).deflection([10.0], [0.0])[0] > d[0] * 2


def test_bending_stays_finite_and_in_range() -> None:
    geo = MuonBending()
    d = geo.deflection([0.5, 1.0, 1.7, 2.0], [0.0, 0.0, 0.0, 0.0])
    assert np.all(np.isfinite(d))
    assert np.all(np.diff(d) <= 0)
    phi = phi_at_station([6.2, -3.1, 0.01], [3.0, 3.0, 3.0], [0.0, 0.0, 0.0], [-1, 1, 1])
    assert np.all((phi >= 0) & (phi < TWO_PI))
    with pytest.raises(DataFormatError, match="positive"):
        geo.deflection([0.0], [0.0])
    with pytest.raises(ConfigError, match="station_radius_m"):
        MuonBending(station_radius_m=2.0)
    with pytest.raises(ConfigError, match="bz_tesla"):
        MuonBending(bz_tesla=0.0)


def test_muons_to_hardware_digitises_the_station_phi() -> None:
    pt = np.array([10.0, 30.2, 7.0])
    eta = np.array([0.5, -1.3, 2.0])
    phi = np.array([1.0, -3.0, 3.1])
    q = np.array([1, -1, 1])
    mu = muons_to_hardware([0, 2, 3], pt, eta, phi, q)
    station = phi_at_station(phi, pt, eta, q)
    assert mu.hw_pt.tolist() == [20, 60, 14]
    assert mu.hw_eta.tolist() == [
        round(0.5 / 0.010875),
        round(-1.3 / 0.010875),
        round(2.0 / 0.010875),
    ]
    assert (
        mu.hw_phi.tolist() == (np.floor(station / (TWO_PI / 576) + 0.5) % 576).astype(int).tolist()
    )
    assert mu.hw_sign.tolist() == [0, 1, 0]
    assert mu.charge.tolist() == [1, -1, 1]
    assert mu.hardware().shape == (3, 4)
    assert np.allclose(mu.phi, station, atol=TWO_PI / 576 / 2 + 1e-12)
    with pytest.raises(DataFormatError, match="charge"):
        muons_to_hardware([0, 2], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0], [1])


def test_l1_objects_from_event_columns() -> None:
    ev = {
        "L1T_MuonTight_PT": ak.Array([[12.3], [], [6.1, 40.0]]),
        "L1T_MuonTight_Eta": ak.Array([[0.1], [], [-0.7, 1.9]]),
        "L1T_MuonTight_Phi": ak.Array([[-2.0], [], [0.5, 3.0]]),
        "L1T_MuonTight_Charge": ak.Array([[-1], [], [1, -1]]),
        "L1T_JetPuppiAK4_PT": ak.Array([[40.0, 20.1], [100.0], []]),
        "L1T_JetPuppiAK4_Eta": ak.Array([[0.0, -4.0], [1.0], []]),
        "L1T_JetPuppiAK4_Phi": ak.Array([[-0.01, 1.0], [3.14], []]),
    }
    mu = l1_muons(ev)
    assert mu.offsets.tolist() == [0, 1, 1, 3]
    ref = muons_to_hardware(
        [0, 1, 1, 3], [12.3, 6.1, 40.0], [0.1, -0.7, 1.9], [-2.0, 0.5, 3.0], [-1, 1, -1]
    )
    assert np.array_equal(mu.hardware(), ref.hardware())
    jets = l1_jets(ev)
    assert jets.offsets.tolist() == [0, 2, 3, 3]
    assert jets.hardware().tolist() == [[80, 0, 0], [40, -92, 23], [200, 23, 72]]
    assert jets.pt.tolist() == [40.0, 20.0, 100.0]
    assert jets_to_hardware([0, 1], [1.0], [0.0], [0.0]).hw_pt.tolist() == [2]
    with pytest.raises(DataFormatError, match="L1T_MuonTight_Charge"):
        l1_muons({k: v for k, v in ev.items() if not k.endswith("Charge")})


def test_standalone_muons_read_as_stored() -> None:
    ev = {
        "L1T_MuonStandalone_HwPt": ak.Array([[24, 11], [], [90]]),
        "L1T_MuonStandalone_HwEta": ak.Array([[10, -200], [], [0]]),
        "L1T_MuonStandalone_HwPhi": ak.Array([[0, 575], [], [288]]),
        "L1T_MuonStandalone_Charge": ak.Array([[1, -1], [], [-1]]),
    }
    mu = l1_standalone_muons(ev)
    assert mu.offsets.tolist() == [0, 2, 2, 3]
    assert mu.pt.tolist() == [12.0, 5.5, 45.0]  # 0.5 GeV bins, nothing re-digitised
    assert np.allclose(mu.eta, [10 * 0.010875, -200 * 0.010875, 0.0])
    assert np.allclose(mu.phi, [0.0, 575 * TWO_PI / 576, math.pi])  # no bending added
    assert mu.charge.tolist() == [1, -1, -1]
    bad = dict(ev) | {"L1T_MuonStandalone_HwPhi": ak.Array([[0, 576], [], [288]])}
    with pytest.raises(
        DataFormatError, match=r"L1T_MuonStandalone_HwPhi: expected hardware values in \[0, 575\]"
    ):
        l1_standalone_muons(bad)
