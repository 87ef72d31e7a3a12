"""The FullRecoCLD card: FullReco changed as CLD differs from CLICdet (the MLPF transfer study's second detector).

The card must differ from FullReco in exactly the five documented places and
nowhere else; simulated through the whole view (with the detector elements)
it must show each change: the tracks bend as a 1.9 T field and a 1.845 m
surface give (analytic helix), two hadrons 0.07 apart in eta share a FullReco
HCAL tower but not a CLD one, the HCAL energy and the track pT resolutions are
those of the card's formulas, and a seed repeats the columns.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from l1scout.detector.calorimeter import TowerGrid
from l1scout.detector.particles import GenParticles
from l1scout.detector.view_card import CARD_NAMES, VIEW_NAMES, ViewCard, load_view_card
from l1scout.io.schema import ELEMENT_COLLECTIONS
from l1scout.reco.view import simulate_view

_MASS = {130: 0.497611, 211: 0.13957, -211: 0.13957}
_CHARGE = {130: 0, 211: 1, -211: -1}
CARDS = Path(__file__).resolve().parents[2] / "src" / "l1scout" / "detector" / "cards"

Cols = dict[str, tuple[np.ndarray, ...]]


@pytest.fixture(scope="module")
def cards() -> tuple[ViewCard, ViewCard]:
    return load_view_card("FullReco"), load_view_card("FullRecoCLD")


def make_gen(events: list[list[tuple[int, float, float, float]]]) -> GenParticles:
    """Prompt particles (pid, pT GeV, eta, phi), event by event, none of them pileup."""
    flat = [p for ev in events for p in ev]
    n = len(flat)
    pid = np.array([p[0] for p in flat], np.int32)
    return GenParticles(
        offsets=np.cumsum([0, *(len(ev) for ev in events)]).astype(np.int64),
        pid=pid,
        status=np.ones(n, np.int8),
        pt=np.array([p[1] for p in flat]),
        eta=np.array([p[2] for p in flat]),
        phi=np.array([p[3] for p in flat]),
        mass=np.array([_MASS[int(p)] for p in pid]),
        charge=np.array([_CHARGE[int(p)] for p in pid], np.int8),
        is_pu=np.zeros(n, np.int8),
        x=np.zeros(n),
        y=np.zeros(n),
        z=np.zeros(n),
        t=np.zeros(n),
        vertex_index=np.zeros(n, np.int32),
    )


def simulate(gen: GenParticles, card: ViewCard, seed: int = 1) -> Cols:
    n = gen.n_events
    rng = np.random.default_rng(seed)
    return simulate_view(
        gen, card, np.zeros(n), np.ones(n, np.int64), rng, elements=ELEMENT_COLLECTIONS
    )


def test_the_card_is_shipped_by_name_but_not_a_default_view(
    cards: tuple[ViewCard, ViewCard],
) -> None:
    _, cld = cards
    assert cld.name == "FullRecoCLD"
    assert "FullRecoCLD" in CARD_NAMES
    assert "FullRecoCLD" not in VIEW_NAMES  # productions do not write it unless asked
    assert load_view_card(CARDS / "FullRecoCLD.toml") == cld


def _paths(a: object, b: object, path: str = "") -> list[str]:
    """The dotted paths where two card dumps differ (lists of equal length element by element)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            p for k in sorted(set(a) | set(b)) for p in _paths(a.get(k), b.get(k), f"{path}.{k}")
        ]
    return [] if a == b else [path]


def test_it_differs_from_full_reco_exactly_where_documented(
    cards: tuple[ViewCard, ViewCard],
) -> None:
    full, cld = cards
    diff = _paths(full.model_dump(), cld.model_dump())
    assert diff == [
        ".description",
        ".hcal.resolution.coefficients.a",
        ".hcal.segments",
        ".name",
        ".propagation.bz_tesla",
        ".propagation.radius_mm",
        ".tracking.momentum_resolution.charged_hadron.coefficients.a",
        ".tracking.momentum_resolution.muon.coefficients.a",
    ]
    assert cld.propagation.bz_tesla == pytest.approx(full.propagation.bz_tesla / 2)
    assert cld.propagation.radius_mm == pytest.approx(1.43 * full.propagation.radius_mm, abs=1.0)
    for particle in ("charged_hadron", "muon"):
        a_full = np.array(getattr(full.tracking.momentum_resolution, particle).coefficients["a"])
        f = getattr(cld.tracking.momentum_resolution, particle).coefficients
        np.testing.assert_allclose(np.array(f["a"]), 1.43 * a_full, rtol=1e-6)
        b_full = getattr(full.tracking.momentum_resolution, particle).coefficients["b"]
        assert f["b"] == b_full
    # HCAL: constant term doubled for |eta| < 3, stochastic and HF kept
    assert cld.hcal.resolution.coefficients["a"] == [[0.1], [0.1], [0.11]]
    assert cld.hcal.resolution.coefficients["b"] == full.hcal.resolution.coefficients["b"]


def test_hcal_grid_is_uniform_finer_and_holds_whole_ecal_towers(
    cards: tuple[ViewCard, ViewCard],
) -> None:
    full, cld = cards
    g_full = TowerGrid.from_segments(list(full.hcal.segments))
    g_cld = TowerGrid.from_segments(list(cld.hcal.segments))
    ecal = TowerGrid.from_segments(list(cld.ecal.segments))
    hf = 2 * 11 * 36  # the forward towers, unchanged
    assert g_full.n_towers == 36 * 72 + 40 * 90 + hf
    assert g_cld.n_towers == 85 * 90 + hf
    # every ECAL tower of |eta| < 2.958 lies whole inside one CLD HCAL tower: 16 per HCAL tower
    tower = np.arange(ecal.n_towers, dtype=np.int64)
    lo, hi, plo, phi_hi = ecal.bounds(tower)
    central = (lo >= -2.958 - 1e-9) & (hi <= 2.958 + 1e-9)
    eps = 1e-6
    corners = [
        g_cld.locate(lo[central] + eps, plo[central] + eps),
        g_cld.locate(hi[central] - eps, phi_hi[central] - eps),
    ]
    np.testing.assert_array_equal(corners[0], corners[1])
    assert (corners[0] >= 0).all()
    assert np.bincount(corners[0]).max() == 16
    assert set(np.bincount(corners[0])[np.bincount(corners[0]) > 0].tolist()) == {16}


def test_tracks_bend_as_the_field_and_radius_give(cards: tuple[ViewCard, ViewCard]) -> None:
    # a 2 GeV charged pion at eta 0: at the surface its phi has turned by asin(0.3 B R / (2 pT))
    gen = make_gen([[(211, 2.0, 0.0, 0.4)], [(-211, 2.0, 0.0, 0.4)]])
    for card in cards:
        cols = simulate(gen, card)
        name = card.name
        turn = np.abs(cols[f"{name}_Track_PhiOuter"][1] - cols[f"{name}_Track_Phi"][1])
        b, r = card.propagation.bz_tesla, card.propagation.radius_mm / 1000.0
        expected = math.asin(0.299792458 * b * r / (2 * 2.0))
        np.testing.assert_allclose(turn, expected, rtol=2e-2)
    # CLD: about 0.27 rad against FullReco's 0.38
    assert math.asin(0.3 * 1.9 * 1.845 / 4) < 0.75 * math.asin(0.3 * 3.8 * 1.29 / 4)


def test_two_hadrons_share_a_full_reco_tower_but_not_a_cld_one(
    cards: tuple[ViewCard, ViewCard],
) -> None:
    # K_L at eta 0.01 and 0.08, same phi: FullReco's barrel tower is 0 < eta < 0.087; CLD's grid
    # (85 rows from -2.958) has a tower centred on eta 0 (|eta| < 0.0348) and the next one at 0.0696
    gen = make_gen([[(130, 40.0, 0.01, 0.01), (130, 40.0, 0.08, 0.01)]])
    full, cld = cards
    got_full = simulate(gen, full)
    got_cld = simulate(gen, cld)
    assert got_full["FullReco_Tower_E"][1].size == 1
    assert got_full["FullReco_Tower_NParticles"][1].tolist() == [2]
    assert got_cld["FullRecoCLD_Tower_E"][1].size == 2
    eta = np.sort(got_cld["FullRecoCLD_Tower_Eta"][1])
    np.testing.assert_allclose(eta, [0.0, 0.0696], atol=1e-9)  # the tower centres
    np.testing.assert_allclose(got_full["FullReco_Tower_Eta"][1], [0.0435], atol=1e-9)


def _spread(values: np.ndarray) -> float:
    """Half the 16-84 % quantile range: a Gaussian's sigma, robust to the few tails."""
    q16, q84 = np.quantile(values, [0.16, 0.84])
    return 0.5 * float(q84 - q16)


def test_hcal_and_track_resolutions_are_the_cards(cards: tuple[ViewCard, ViewCard]) -> None:
    n = 1500
    rng = np.random.default_rng(7)
    phis = rng.uniform(-3.0, 3.0, n)
    # neutral hadrons of E = 100 GeV at eta 0.3 (all in the HCAL), charged pions of pT 5 GeV at eta 0.1
    e_kl = 100.0
    pt_kl = math.sqrt(e_kl**2 - _MASS[130] ** 2) / math.cosh(0.3)
    gen = make_gen([[(130, pt_kl, 0.3, p), (211, 5.0, 0.1, -p)] for p in phis])
    got = {}
    for card in cards:
        cols = simulate(gen, card, seed=3)
        e = cols[f"{card.name}_Tower_E"]
        trk = cols[f"{card.name}_Track_PT"][1]
        kl = (
            cols[f"{card.name}_Tower_ETrue"][1] > 50.0
        )  # the K_L's tower (the pion's, if written, about 5 GeV)
        assert int(kl.sum()) == n
        got[card.name] = (_spread(e[1][kl] / e_kl), _spread(trk / 5.0))
    # sigma(E)/E = sqrt(a^2 + b^2 / E): FullReco a = 0.05, CLD a = 0.10, b = 1.0
    assert got["FullReco"][0] == pytest.approx(math.hypot(0.05, 1.0 / 10.0), rel=0.1)
    assert got["FullRecoCLD"][0] == pytest.approx(math.hypot(0.10, 1.0 / 10.0), rel=0.1)
    # sigma(pT)/pT = a + b pT for |eta| < 0.2, 1 < pT < 10: FullReco a = 0.004534, CLD 1.43 a
    a, b = 0.004534, 4.5e-05
    assert got["FullReco"][1] == pytest.approx(a + 5.0 * b, rel=0.1)
    assert got["FullRecoCLD"][1] == pytest.approx(1.43 * a + 5.0 * b, rel=0.1)


def test_a_seed_repeats_the_columns(cards: tuple[ViewCard, ViewCard]) -> None:
    _, cld = cards
    gen = make_gen([[(211, 7.0, 0.5, 1.0), (130, 20.0, -1.2, 2.0)], [(-211, 3.0, 2.0, -1.0)]])
    a, b, c = simulate(gen, cld, seed=5), simulate(gen, cld, seed=5), simulate(gen, cld, seed=6)
    assert a.keys() == b.keys()
    for name in a:
        for x, y in zip(a[name], b[name], strict=True):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a["FullRecoCLD_Track_PT"][1], c["FullRecoCLD_Track_PT"][1])
