"""Tests of l1scout.detector.view_card and the shipped cards against the published numbers.

The reference numbers are written out here from the Delphes card
``cards/CMS_PhaseII/CMS_PhaseII_200PU_v04.tcl`` (module and parameter named at
each test) and from the COLLIDE-2V facts in ``docs/physics/detector-views.md``;
the cards are evaluated through their :class:`BinnedFunction` tables and
compared with those formulas at many points.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from l1scout.detector.calorimeter import TowerGrid
from l1scout.detector.view_card import VIEW_NAMES, ViewCard, load_view_card
from l1scout.errors import CardError, ConfigError

F64 = npt.NDArray[np.float64]
CARDS = Path(__file__).resolve().parents[2] / "src" / "l1scout" / "detector" / "cards"


@pytest.fixture(scope="module")
def full() -> ViewCard:
    return load_view_card("FullReco")


@pytest.fixture(scope="module")
def l1t() -> ViewCard:
    return load_view_card("L1T")


def _random_points(seed: int, n: int = 4000, pt_max: float = 300.0) -> tuple[F64, F64]:
    rng = np.random.default_rng(seed)
    pt = np.concatenate(
        [rng.uniform(0.0, 12.0, n // 2), np.exp(rng.uniform(-3, np.log(pt_max), n // 2))]
    )
    eta = rng.uniform(-5.0, 5.0, n)
    return pt, eta


# ---------------------------------------------------------------- v04 formulas, written out


def _v04_charged_hadron_eff(pt: F64, eta: F64) -> F64:
    """v04 card, ChargedHadronTrackingEfficiency, EfficiencyFormula (verbatim)."""
    a = np.abs(eta)
    return np.asarray(
        (pt <= 0.2) * 0.00
        + (a <= 1.2) * ((pt > 0.2) & (pt <= 1.0)) * (pt * 0.96)
        + (a <= 1.2) * (pt > 1.0) * 0.97
        + ((a > 1.2) & (a <= 2.5)) * ((pt > 0.2) & (pt <= 1.0)) * (pt * 0.85)
        + ((a > 1.2) & (a <= 2.5)) * (pt > 1.0) * 0.87
        + ((a > 2.5) & (a <= 4.0)) * ((pt > 0.2) & (pt <= 1.0)) * (pt * 0.8)
        + ((a > 2.5) & (a <= 4.0)) * (pt > 1.0) * 0.82
        + (a > 4.0) * 0.00
    )


def _v04_electron_eff(pt: F64, eta: F64) -> F64:
    """v04 card, ElectronTrackingEfficiency, EfficiencyFormula (verbatim)."""
    a = np.abs(eta)
    low = (pt > 0.2) & (pt <= 1.0)
    mid = (pt > 1.0) & (pt <= 10.0)
    return (
        (a <= 1.2) * low * (pt * 0.96)
        + (a <= 1.2) * (pt > 1.0) * 0.97
        + ((a > 1.2) & (a <= 2.5)) * low * (pt * 0.85)
        + ((a > 1.2) & (a <= 2.5)) * mid * (0.82 + pt * 0.01)
        + ((a > 1.2) & (a <= 2.5)) * (pt > 10.0) * 0.90
        + ((a > 2.5) & (a <= 4.0)) * low * (pt * 0.8)
        + ((a > 2.5) & (a <= 4.0)) * mid * (0.8 + pt * 0.01)
        + ((a > 2.5) & (a <= 4.0)) * (pt > 10.0) * 0.85
    )


def _v04_muon_eff(pt: F64, eta: F64) -> F64:
    """v04 card, MuonTrackingEfficiency, EfficiencyFormula (verbatim)."""
    a = np.abs(eta)
    low = (pt > 0.2) & (pt <= 1.0)
    return (
        (a <= 1.2) * low * (pt * 1.00)
        + (a <= 1.2) * (pt > 1.0) * 1.00
        + ((a > 1.2) & (a <= 2.8)) * low * (pt * 1.00)
        + ((a > 1.2) & (a <= 2.8)) * (pt > 1.0) * 1.00
        + ((a > 2.8) & (a <= 4.0)) * low * (pt * 0.95)
        + ((a > 2.8) & (a <= 4.0)) * (pt > 1.0) * 0.95
    )


# v04 card, ChargedHadronMomentumSmearing (layout OT612IT4025): per 0.2 |eta| bin
# c0, a1, s1, a10, s10, a100.
_OT612IT4025 = [
    (0.00457888, 0.004579, 0.000045, 0.004983, 0.000047, 0.009244),
    (0.00505011, 0.005050, 0.000033, 0.005343, 0.000043, 0.009172),
    (0.00510573, 0.005106, 0.000023, 0.005317, 0.000042, 0.009077),
    (0.00578020, 0.005780, -0.000000, 0.005779, 0.000038, 0.009177),
    (0.00728723, 0.007287, -0.000031, 0.007011, 0.000038, 0.010429),
    (0.01045117, 0.010451, -0.000051, 0.009989, 0.000043, 0.013867),
    (0.01477199, 0.014772, -0.000128, 0.013616, 0.000035, 0.016800),
    (0.01731474, 0.017315, -0.000208, 0.015439, 0.000030, 0.018161),
    (0.01942025, 0.019420, -0.000417, 0.015669, 0.000026, 0.018039),
    (0.02201432, 0.022014, -0.000667, 0.016012, 0.000045, 0.020098),
    (0.02574300, 0.025743, -0.001118, 0.015681, 0.000051, 0.020289),
    (0.02885821, 0.028858, -0.001345, 0.016753, 0.000053, 0.021524),
    (0.03204812, 0.032048, -0.001212, 0.021138, 0.000037, 0.024477),
    (0.03950405, 0.039504, -0.001386, 0.027026, 0.000037, 0.030392),
    (0.04084751, 0.040848, -0.001780, 0.024824, 0.000029, 0.027445),
    (0.04532425, 0.045324, -0.002497, 0.022851, 0.000024, 0.025053),
    (0.06418925, 0.064189, -0.004055, 0.027691, 0.000034, 0.030710),
    (0.07682500, 0.076825, -0.004510, 0.036234, 0.000049, 0.040629),
    (0.09796358, 0.097964, -0.005758, 0.046145, 0.000069, 0.052345),
    (0.13415929, 0.134159, -0.008283, 0.059612, 0.000111, 0.069617),
]


def _v04_charged_hadron_res(pt: float, eta: float) -> float:
    """v04 ChargedHadronMomentumSmearing: relative sigma(pT)/pT (bins lo <= v < hi)."""
    a = abs(eta)
    if a >= 4.0:
        return 0.0
    c0, a1, s1, a10, s10, a100 = _OT612IT4025[int(a / 0.2)]
    if pt < 1:
        return c0
    if pt < 10:
        return a1 + (pt - 1.0) * s1
    if pt < 100:
        return a10 + (pt - 10.0) * s10
    return a100 * pt / 100.0


# muonMomentumResolution.tcl, block (A): |eta| < 2.8, pT > 5, constants per pT bin
_MUON_A_ETA = [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.5, 2.6, 2.7, 2.8]
_MUON_A = {
    (5, 10): [
        0.00519,
        0.00575,
        0.00629,
        0.00626,
        0.00722,
        0.00968,
        0.00983,
        0.0102,
        0.0126,
        0.0178,
        0.0248,
        0.0347,
        0.0359,
        0.0412,
        0.0422,
        0.0496,
    ],
    (10, 20): [
        0.00533,
        0.00592,
        0.00602,
        0.00614,
        0.00736,
        0.0104,
        0.00968,
        0.00991,
        0.0106,
        0.0158,
        0.0207,
        0.0327,
        0.0369,
        0.039,
        0.0488,
        0.0543,
    ],
    (20, 40): [
        0.00559,
        0.00586,
        0.00614,
        0.00654,
        0.00759,
        0.0103,
        0.00963,
        0.0102,
        0.011,
        0.0142,
        0.0197,
        0.0315,
        0.0409,
        0.0471,
        0.0579,
        0.0679,
    ],
    (40, math.inf): [
        0.00656,
        0.007,
        0.00733,
        0.00752,
        0.00851,
        0.0105,
        0.0105,
        0.0111,
        0.0119,
        0.0165,
        0.0242,
        0.0359,
        0.0474,
        0.052,
        0.0639,
        0.0763,
    ],
}
# block (B): 2.8 <= |eta| < 4.0, tracker only: c0, a1, s1, a10, s10, a100 per 0.2 bin from 2.8
_MUON_B = [
    (0.03253153, 0.032532, 0.000382, 0.035969, 0.000673, 0.096568),
    (0.04551714, 0.045517, 0.002188, 0.065207, 0.003254, 0.358089),
    (0.04724756, 0.047248, 0.003322, 0.077142, 0.004516, 0.483608),
    (0.04493020, 0.044930, 0.002917, 0.071183, 0.004186, 0.447915),
    (0.05464199, 0.054642, 0.003456, 0.085748, 0.004995, 0.535262),
    (0.06551185, 0.065512, 0.006574, 0.124674, 0.009560, 0.985040),
]
# block (C): pT < 5 for 0 <= |eta| < 4.0: c0, a1, s1 per 0.2 bin
_MUON_C = [
    (0.00467469, 0.004675, 0.000056),
    (0.00515885, 0.005159, 0.000049),
    (0.00509775, 0.005098, 0.000055),
    (0.00568785, 0.005688, 0.000061),
    (0.00668287, 0.006683, 0.000065),
    (0.01047734, 0.010477, 0.000059),
    (0.01430653, 0.014307, 0.000038),
    (0.01719240, 0.017192, 0.000020),
    (0.01783940, 0.017839, 0.000045),
    (0.01787758, 0.017878, 0.000154),
    (0.01825549, 0.018255, 0.000270),
    (0.01803308, 0.018033, 0.000220),
    (0.02156195, 0.021562, 0.000225),
    (0.02691276, 0.026913, 0.000357),
    (0.03253153, 0.032532, 0.000382),
    (0.04551714, 0.045517, 0.002188),
    (0.04724756, 0.047248, 0.003322),
    (0.04493020, 0.044930, 0.002917),
    (0.05464199, 0.054642, 0.003456),
    (0.06551185, 0.065512, 0.006574),
]


def _v04_muon_res(pt: float, eta: float) -> float:
    """v04 MuonMomentumSmearing (muonMomentumResolution.tcl), relative.

    Where the tracker-only blocks (B) and (C) both fire (2.8 <= |eta| < 4, pT < 5) the
    Delphes formula adds them; the l1scout card takes that term once (documented in the card).
    """
    a = abs(eta)
    if a >= 4.0:
        return 0.0
    if pt < 5.0:
        c0, a1, s1 = _MUON_C[int(a / 0.2)]
        return c0 if pt < 1.0 else a1 + (pt - 1.0) * s1
    if a < 2.8:
        row = next(i for i in range(16) if _MUON_A_ETA[i] < a < _MUON_A_ETA[i + 1])
        col = next(k for k in _MUON_A if k[0] < pt < k[1])
        return _MUON_A[col][row]
    c0, a1, s1, a10, s10, a100 = _MUON_B[int((a - 2.8) / 0.2)]
    if pt < 10:
        return a1 + (pt - 1.0) * s1
    if pt < 100:
        return a10 + (pt - 10.0) * s10
    return a100 * pt / 100.0


def _v04_electron_res(eta: F64) -> F64:
    """v04 ElectronEnergySmearing: sigma(E)/E (flat in energy)."""
    a = np.abs(eta)
    return np.asarray(
        (a <= 1.5) * 0.028
        + ((a > 1.5) & (a <= 1.75)) * 0.037
        + ((a > 1.75) & (a <= 2.15)) * 0.038
        + ((a > 2.15) & (a <= 3.00)) * 0.044
        + ((a > 3.00) & (a <= 4.00)) * 0.10
    )


def _v04_chs_sigma_z_m(pt: F64, eta: F64) -> F64:
    """v04 TrackPileUpSubtractor ZVertexResolution, in metres (verbatim)."""
    return np.asarray(
        (pt < 10.0) * ((-0.8 * np.log10(pt) + 1.0) * (10 ** (0.5 * np.abs(eta) + 1.5)) * 1e-06)
        + (pt >= 10.0) * (0.2 * (10 ** (0.5 * np.abs(eta) + 1.5)) * 1e-06)
    )


def _off_edges(x: F64, edges: list[float], eps: float = 1e-6) -> npt.NDArray[np.bool_]:
    return np.asarray(np.all(np.abs(x[:, None] - np.asarray(edges)[None, :]) > eps, axis=1))


# ---------------------------------------------------------------- loading


def test_both_shipped_cards_load(full: ViewCard, l1t: ViewCard) -> None:
    assert VIEW_NAMES == ("FullReco", "L1T")
    assert (full.name, l1t.name) == ("FullReco", "L1T")
    assert full.schema_version == l1t.schema_version == 1
    assert load_view_card(CARDS / "L1T.toml") == l1t
    assert load_view_card(str(CARDS / "FullReco.toml")) == full


def test_shared_front_end(full: ViewCard, l1t: ViewCard) -> None:
    for card in (full, l1t):
        assert card.propagation.bz_tesla == 3.8
        assert card.propagation.radius_mm == 1290.0
        assert card.propagation.half_length_mm == 3000.0
    # [R] calorimeters: same granularity and resolution in both views
    assert full.ecal == l1t.ecal
    assert full.hcal == l1t.hcal
    assert full.particle_flow.energy_fractions == l1t.particle_flow.energy_fractions


# ---------------------------------------------------------------- tracking efficiencies


@pytest.mark.parametrize(
    ("kind", "formula"),
    [
        ("charged_hadron", _v04_charged_hadron_eff),
        ("electron", _v04_electron_eff),
        ("muon", _v04_muon_eff),
    ],
)
def test_fullreco_tracking_efficiency_is_the_v04_formula(
    full: ViewCard, kind: str, formula: object
) -> None:
    pt, eta = _random_points(7)
    # the card's edges themselves: both use lo < v <= hi, so they agree there too
    pt_e = np.array([0.2, 1.0, 10.0, 0.2 + 1e-9, 1.0 + 1e-9, 0.1, 0.0] * 8)
    eta_e = np.repeat([0.0, 1.2, -2.5, 2.8, 4.0, 1.2 + 1e-9, -4.0 - 1e-9, 2.8 + 1e-9], 7)
    pt, eta = np.concatenate([pt, pt_e]), np.concatenate([eta, eta_e])
    table = getattr(full.tracking.efficiency, kind)
    expected = formula(pt, eta)  # type: ignore[operator]
    np.testing.assert_allclose(table(pt, eta), expected, rtol=1e-12, atol=1e-15)
    assert full.tracking.eta_max >= 4.0


@pytest.mark.parametrize(
    ("kind", "table"),
    [
        (
            "charged_hadron",
            {
                (2, 3): 0.59,
                (3, 4): 0.71,
                (4, 5): 0.76,
                (5, 8): 0.82,
                (8, 15): 0.90,
                (15, 25): 0.92,
                (25, 1e4): 0.93,
            },
        ),
        (
            "electron",
            {
                (2, 3): 0.42,
                (3, 4): 0.58,
                (4, 5): 0.63,
                (5, 8): 0.71,
                (8, 15): 0.80,
                (15, 25): 0.86,
                (25, 1e4): 0.89,
            },
        ),
        ("muon", {(2, 3): 0.93, (3, 4): 0.96, (4, 5): 0.97, (5, 10): 0.98, (10, 1e4): 1.0}),
    ],
)
def test_l1t_tracking_efficiency_table(
    l1t: ViewCard, kind: str, table: dict[tuple[float, float], float]
) -> None:
    f = getattr(l1t.tracking.efficiency, kind)
    rng = np.random.default_rng(11)
    for (lo, hi), value in table.items():
        pt = rng.uniform(lo, min(hi, 500.0), 200)
        pt[0] = hi if hi < 1e4 else 1e4  # the upper edge belongs to the bin
        eta = rng.uniform(-2.4, 2.4, 200)
        eta[1], eta[2] = 2.4, -2.4
        np.testing.assert_allclose(
            f(pt, eta), value, rtol=0, atol=1e-15, err_msg=f"{kind} {lo}-{hi}"
        )
    # zero at and below 2 GeV and above |eta| 2.4
    assert (
        f([1.9, 2.0, 0.5, 10.0, 10.0, 100.0], [0.0, 0.5, 1.0, 2.5, -2.5, 2.4 + 1e-9]).tolist()
        == [0.0] * 6
    )
    assert l1t.tracking.eta_max == 2.4
    assert l1t.tracking.pt_min == 2.0


# ---------------------------------------------------------------- momentum resolutions


def test_fullreco_charged_hadron_resolution_is_ot612it4025(full: ViewCard) -> None:
    pt, eta = _random_points(5, n=6000, pt_max=1000.0)
    eta_bins = [0.2 * i for i in range(21)]
    ok = _off_edges(pt, [0.0, 1.0, 10.0, 100.0]) & _off_edges(np.abs(eta), eta_bins)
    pt, eta = pt[ok], eta[ok]
    got = full.tracking.momentum_resolution.charged_hadron(pt, eta)
    expected = [_v04_charged_hadron_res(float(p), float(e)) for p, e in zip(pt, eta, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    # the reference's spot value: 0.0046 relative at |eta| < 0.2, low pT
    assert (
        round(float(full.tracking.momentum_resolution.charged_hadron([0.5], [0.1])[0]), 4) == 0.0046
    )
    assert (
        round(float(full.tracking.momentum_resolution.charged_hadron([0.5], [-0.19])[0]), 4)
        == 0.0046
    )


def test_fullreco_muon_resolution_is_the_v04_muon_table(full: ViewCard) -> None:
    pt, eta = _random_points(9, n=6000, pt_max=1000.0)
    eta_bins = [*_MUON_A_ETA, 3.0, 3.2, 3.4, 3.6, 3.8, 4.0]
    ok = _off_edges(pt, [0.0, 1.0, 5.0, 10.0, 20.0, 40.0, 100.0]) & _off_edges(
        np.abs(eta), eta_bins
    )
    pt, eta = pt[ok], eta[ok]
    got = full.tracking.momentum_resolution.muon(pt, eta)
    expected = np.array([_v04_muon_res(float(p), float(e)) for p, e in zip(pt, eta, strict=True)])
    bad = ~np.isclose(got, expected, rtol=1e-9, atol=1e-12)
    ae = np.abs(eta[bad])
    assert not bad.any(), (
        f"{bad.sum()} of {len(pt)} points differ, in |eta| bins starting at "
        f"{sorted({math.floor(float(x) * 10) / 10 for x in ae})}, pT < {pt[bad].max():.2f}; "
        f"first: pt={pt[bad][0]:.3f} eta={eta[bad][0]:.3f} card={got[bad][0]:.6f} v04={expected[bad][0]:.6f}"
    )


def test_fullreco_electron_resolution_is_the_v04_energy_smearing(full: ViewCard) -> None:
    pt, eta = _random_points(13)
    ok = _off_edges(np.abs(eta), [1.5, 1.75, 2.15, 3.0, 4.0]) & (pt > 0)
    pt, eta = pt[ok], eta[ok]
    got = full.tracking.momentum_resolution.electron(pt, eta)
    np.testing.assert_allclose(got, _v04_electron_res(eta), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["charged_hadron", "electron", "muon"])
def test_l1t_momentum_resolution_is_twice_fullreco(
    full: ViewCard, l1t: ViewCard, kind: str
) -> None:
    pt, eta = _random_points(17)
    off = getattr(full.tracking.momentum_resolution, kind)(pt, eta)
    on = getattr(l1t.tracking.momentum_resolution, kind)(pt, eta)
    np.testing.assert_allclose(on, 2.0 * off, rtol=1e-12, atol=0)
    assert off.max() > 0


def test_l1t_impact_parameter_resolutions_are_ten_times_fullreco(
    full: ViewCard, l1t: ViewCard
) -> None:
    pt, eta = _random_points(19)
    pt = pt + 0.01
    for name in ("d0_resolution", "dz_resolution"):
        off = getattr(full.tracking, name)(pt, eta)
        np.testing.assert_allclose(getattr(l1t.tracking, name)(pt, eta), 10 * off, rtol=1e-12)
    # offline dz: sqrt(0.015^2 + (0.08 / pT)^2) mm in the barrel
    assert full.tracking.dz_resolution([1.0], [0.3])[0] == pytest.approx(math.hypot(0.015, 0.08))


# ---------------------------------------------------------------- CHS, PUPPI, particle flow, jets


def test_chs_sigma_z_is_the_v04_formula_in_mm(full: ViewCard, l1t: ViewCard) -> None:
    rng = np.random.default_rng(23)
    pt = np.concatenate([np.exp(rng.uniform(np.log(0.05), np.log(500), 3000)), [10.0, 9.999, 1.0]])
    eta = np.concatenate([rng.uniform(-5, 5, 3000), [0.0, 1.0, -2.0]])
    mm = _v04_chs_sigma_z_m(pt, eta) * 1e3
    np.testing.assert_allclose(full.chs.sigma_z(pt, eta), mm, rtol=1e-12)
    np.testing.assert_allclose(l1t.chs.sigma_z(pt, eta), 10 * mm, rtol=1e-12)
    # known number: pT >= 10, eta = 0: 0.2 * 10^1.5 um = 6.32 um
    assert full.chs.sigma_z([20.0], [0.0])[0] == pytest.approx(6.3246e-3, rel=1e-4)


def test_puppi_tunes(full: ViewCard, l1t: ViewCard) -> None:
    fields = (
        "eta_min",
        "eta_max",
        "cone_size",
        "rms_pt_min",
        "rms_scale_factor",
        "neutral_min_e",
        "neutral_pt_slope",
        "use_charged",
    )
    offline = [
        (0.0, 1.5, 0.2, 0.1, 1.0, 0.2, 0.006, True),
        (1.5, 4.0, 0.2, 0.5, 1.0, 0.2, 0.013, True),
        (4.0, 10.0, 0.2, 0.5, 1.0, 0.5, 0.067, False),
    ]
    trigger = [
        (0.0, 1.5, 0.3, 0.1, 1.0, 1.0, 0.006, True),
        (1.5, 2.5, 0.3, 0.5, 1.0, 1.0, 0.013, True),
        (2.5, 3.0, 0.3, 0.5, 1.0, 4.0, 0.03, False),
        (3.0, 10.0, 0.3, 0.5, 1.0, 10.0, 0.03, False),
    ]
    for card, ref in ((full, offline), (l1t, trigger)):
        got = [tuple(getattr(b, f) for f in fields) for b in card.puppi.bins]
        assert got == ref, card.name
        assert card.puppi.min_puppi_weight == 0.05
        assert card.puppi.apply_low_pu_corr is True
        assert card.puppi.metric == 5
    assert all(b.pt_min == 0.0 for b in l1t.puppi.bins)


def test_particle_flow_cut_and_neutral_ids(full: ViewCard, l1t: ViewCard) -> None:
    assert l1t.particle_flow.max_candidates == 1000
    assert full.particle_flow.max_candidates == 0
    for card in (full, l1t):
        assert card.particle_flow.photon_pid == 22
        assert card.particle_flow.neutral_hadron_pid == 0


def test_jets(full: ViewCard, l1t: ViewCard) -> None:
    for card in (full, l1t):
        by_name = {j.name: j for j in card.jets}
        assert {(j.radius, j.pt_min) for j in card.jets} == {(0.4, 15.0), (0.8, 200.0)}
        for j in card.jets:
            assert j.algorithm == "antikt"
            assert (j.radius, j.pt_min) == ((0.4, 15.0) if "AK4" in j.name else (0.8, 200.0))
        assert {j.input for j in card.jets} == {"pf", "puppi"}
        assert by_name["JetPuppiAK4"].btag == ["PuppiLoose", "PuppiMedium", "PuppiTight"]


# ---------------------------------------------------------------- calorimeters


@pytest.mark.parametrize(
    ("eta", "a", "b", "c"),
    [
        (0.0, 0.009, 0.12, 0.45),
        (-1.4, 0.009, 0.12, 0.45),
        (1.6, 0.006, 0.20, 0.0),
        (-2.0, 0.007, 0.21, 0.0),
        (2.5, 0.008, 0.24, 0.0),
        (-4.0, 0.08, 1.98, 0.0),
    ],
)
def test_ecal_resolution(
    full: ViewCard, l1t: ViewCard, eta: float, a: float, b: float, c: float
) -> None:
    """v04 ECal ResolutionFormula; barrel sqrt(E^2 0.009^2 + E 0.12^2 + 0.45^2)."""
    for e in (0.7, 5.0, 50.0, 500.0):
        expected = math.sqrt(e**2 * a**2 + e * b**2 + c**2)
        for card in (full, l1t):
            assert card.ecal.resolution([e], [eta])[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("eta", "a", "b"), [(0.3, 0.05, 1.0), (-1.5, 0.05, 1.0), (2.9, 0.05, 1.0), (3.5, 0.11, 2.8)]
)
def test_hcal_resolution(full: ViewCard, eta: float, a: float, b: float) -> None:
    """v04 HCal ResolutionFormula: sqrt(E^2 0.05^2 + E 1.0^2) up to |eta| 3, HF 0.11 / 2.8."""
    for e in (1.0, 10.0, 100.0, 1000.0):
        assert full.hcal.resolution([e], [eta])[0] == pytest.approx(
            math.sqrt(e**2 * a**2 + e * b**2), rel=1e-12
        )


def _hf_edges() -> list[float]:
    """The v04 HF eta edges (positive side, from the end of the HGCAL grid)."""
    return [2.958, 3.125, 3.3, 3.475, 3.65, 3.825, 4.0, 4.175, 4.35, 4.525, 4.7, 5.0]


def test_ecal_tower_binning_is_the_v04_one(full: ViewCard) -> None:
    """v04 ECal EtaPhiBins: 0.0174 from -2.958 to 2.958 x 360; HF card edges x 36; 123,192 towers."""
    grid = TowerGrid.from_segments(list(full.ecal.segments))
    hf = _hf_edges()
    central = [-2.958 + i * 0.0174 for i in range(341)]
    edges = [-e for e in reversed(hf[1:])] + central + hf[1:]
    np.testing.assert_allclose(grid.row_lo, edges[:-1], atol=1e-9)
    np.testing.assert_allclose(grid.row_hi, edges[1:], atol=1e-9)
    n_phi = [36] * 11 + [360] * 340 + [36] * 11
    assert grid.n_phi.tolist() == n_phi
    assert grid.n_towers == 123_192
    # the barrel loop i = -85..86 of the card: eta = i * 0.0174 are edges of this grid
    for i in (-85, -1, 0, 1, 86):
        assert np.min(np.abs(grid.row_lo - i * 0.0174)) < 1e-9


def test_hcal_tower_binning(full: ViewCard) -> None:
    """v04 HCal: 0.087 x 72 in the barrel to 1.566, 0.0696 x 90 to 2.958, HF as ECal."""
    grid = TowerGrid.from_segments(list(full.hcal.segments))
    hf = _hf_edges()
    barrel = [-1.566 + i * 0.087 for i in range(37)]
    endcap = [1.566 + i * 0.0696 for i in range(21)]
    edges = (
        [-e for e in reversed(hf[1:])]
        + [-e for e in reversed(endcap)]
        + barrel[1:-1]
        + endcap
        + hf[1:]
    )
    np.testing.assert_allclose(grid.row_lo, edges[:-1], atol=1e-9)
    np.testing.assert_allclose(grid.row_hi, edges[1:], atol=1e-9)
    assert grid.n_phi.tolist() == [36] * 11 + [90] * 20 + [72] * 36 + [90] * 20 + [36] * 11
    # the barrel list of the card: 0, +-0.087, ..., +-1.479 are edges
    for e in (0.0, 0.087, -0.87, 1.479, -1.479):
        assert np.min(np.abs(grid.row_lo - e)) < 1e-9
    for card_calo in (full.ecal, full.hcal):
        assert card_calo.smear_tower_center is True
        assert card_calo.significance_min == 1.0
    assert (full.ecal.energy_min, full.hcal.energy_min) == (0.5, 1.0)


def test_energy_fractions_in_the_card(full: ViewCard) -> None:
    pf = full.particle_flow
    table = {pid: (e.ecal, e.hcal) for e in pf.energy_fractions for pid in e.pids}
    for pid in (11, 22, 111):
        assert table[pid] == (1.0, 0.0)
    for pid in (12, 13, 14, 16, 1000022):
        assert table[pid] == (0.0, 0.0)
    for pid in (310, 3122):
        assert table[pid] == (0.3, 0.7)
    assert (pf.default_fraction_ecal, pf.default_fraction_hcal) == (0.0, 1.0)


# ---------------------------------------------------------------- malformed cards


def _broken(tmp_path: Path, old: str, new: str, source: str = "FullReco") -> Path:
    text = (CARDS / f"{source}.toml").read_text()
    assert text.count(old) >= 1, old
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "[propagation]\nbz_tesla = 3.8",
            "[propagation]\nbz_tesla = 3.8\nbz_gauss = 38000.0",
            "propagation.bz_gauss",
        ),
        ("radius_mm = 1290.0", "radius_mm = -1290.0", "propagation.radius_mm"),
        (
            "[vertexing]\ntrack_pt_min = 0.5",
            "[vertexing]\ntrack_pt_min = 0.5\nwindow = 1",
            "vertexing.window",
        ),
        ("max_candidates = 0", 'max_candidates = "many"', "particle_flow.max_candidates"),
        (
            "a = [\n  [0, 0.97],\n  [0, 0.87],\n  [0, 0.82],\n]",
            "a = [\n  [0, 0.97],\n  [0, 0.87],\n]",
            "tracking.efficiency.charged_hadron",
        ),
        ('form = "quadrature"', 'form = "cubic"', "ecal.resolution.form"),
        ("eta_max = 4.0", "eta_max = -4.0", "tracking.eta_max"),
        ("radius = 0.4", "radius = 0.0", "jets[0].radius"),
        ('name = "PuppiLoose"', 'name = "Puppi Loose"', "btag[1].name"),
        (
            'btag = ["PuppiLoose", "PuppiMedium", "PuppiTight"]',
            'btag = ["PuppiLoose", "PuppiUltra", "PuppiTight"]',
            "jets[2].btag",
        ),
    ],
)
def test_malformed_card_names_file_and_field(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(CardError) as info:
        load_view_card(path)
    message = str(info.value)
    assert str(path) in message
    assert where in message, message
    assert isinstance(info.value, ConfigError)


def test_wrong_table_shape_says_what_was_expected(tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        "a = [\n  [0, 0.97],\n  [0, 0.87],\n  [0, 0.82],\n]",
        "a = [\n  [0, 0.97],\n  [0, 0.87],\n]",
    )
    with pytest.raises(CardError, match=r"coefficients\.a must be a 3 x 2 table"):
        load_view_card(path)


def test_unknown_btag_point_names_it(tmp_path: Path) -> None:
    path = _broken(
        tmp_path, 'btag = ["PuppiLoose", "PuppiMedium", "PuppiTight"]', 'btag = ["PuppiUltra"]'
    )
    with pytest.raises(CardError, match="PuppiUltra"):
        load_view_card(path)


def test_missing_file_and_non_toml_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(CardError, match=r"nope\.toml"):
        load_view_card(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("this is [not toml\n= = =\n")
    with pytest.raises(CardError, match=r"bad\.toml.*TOML"):
        load_view_card(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CardError, match=r"binary\.toml"):
        load_view_card(binary)
    with pytest.raises(CardError, match="Offline"):
        load_view_card("Offline")


def test_a_users_third_view(tmp_path: Path, l1t: ViewCard) -> None:
    text = (CARDS / "L1T.toml").read_text()
    text = text.replace('name = "L1T"', 'name = "L1TPlus"', 1).replace(
        "max_candidates = 1000", "max_candidates = 128", 1
    )
    text = text.replace("z_gap_mm = 1.5", "z_gap_mm = 0.75", 1)
    path = tmp_path / "my_view.toml"
    path.write_text(text)
    card = load_view_card(path)
    assert card.name == "L1TPlus"
    assert card.particle_flow.max_candidates == 128
    assert card.vertexing.z_gap_mm == 0.75
    assert card.tracking == l1t.tracking
    assert card.puppi == l1t.puppi
    # the shipped card is untouched
    assert load_view_card("L1T").particle_flow.max_candidates == 1000
    shutil.copy(path, tmp_path / "copy.toml")
    assert load_view_card(tmp_path / "copy.toml") == card
