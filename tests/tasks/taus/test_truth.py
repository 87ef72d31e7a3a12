"""Generator taus: hand-built records, a small Pythia sample, and the dR matching."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.production.job import GenerationConfig, run_generation
from l1scout.tasks.taus.truth import (
    DECAY_MODE_GROUPS,
    DM_LEPTONIC,
    DM_OTHER,
    GenRecord,
    TruthTaus,
    decay_mode_code,
    decay_mode_group,
    gen_record,
    match_taus,
    truth_taus,
)

M_PI, M_PI0, M_K, M_E, M_MU = 0.13957, 0.13498, 0.49368, 0.000511, 0.10566
HALF_PI = math.pi / 2

# One row per particle: pid, pT, eta, phi, mass, charge, M1 (index in the event), z (mm).
EVENT_H = [
    (25, 1.0, 0.0, 0.0, 125.0, 0, -1, 1.5),  # 0 H
    (15, 40.0, 0.3, 0.2, 1.777, -1, 0, 1.5),  # 1 tau- (hard process)
    (-15, 40.0, -0.3, -2.9, 1.777, 1, 0, 1.5),  # 2 tau+ -> e+ nu nu (leptonic)
    (15, 38.0, 0.3, 0.2, 1.777, -1, 1, 1.5),  # 3 tau- after tau -> tau gamma: decays
    (22, 2.0, 0.3, 0.2, 0.0, 0, 1, 1.5),  # 4 the FSR photon (not a decay product)
    (-211, 10.0, 0.0, 0.0, M_PI, -1, 3, 1.5001),  # 5 pi-
    (111, 5.0, 0.0, HALF_PI, M_PI0, 0, 3, 1.5001),  # 6 pi0
    (16, 7.0, 0.5, 0.3, 0.0, 0, 3, 1.5001),  # 7 nu_tau
    (22, 2.5, 0.0, HALF_PI, 0.0, 0, 6, 1.5001),  # 8 gamma from the pi0
    (22, 2.5, 0.0, HALF_PI, 0.0, 0, 6, 1.5001),  # 9 gamma from the pi0
    (-11, 12.0, -0.3, -2.9, M_E, 1, 2, 1.5001),  # 10 e+
    (12, 10.0, -0.3, -2.9, 0.0, 0, 2, 1.5001),  # 11 nu_e
    (-16, 18.0, -0.3, -2.9, 0.0, 0, 2, 1.5001),  # 12 anti-nu_tau
]
EVENT_Z = [
    (23, 3.0, 0.0, 0.0, 91.0, 0, -1, -20.0),  # 0 Z
    (-15, 30.0, 1.0, -3.0, 1.777, 1, 0, -20.0),  # 1 tau+ -> pi+ pi+ pi- pi0 nu: 3 prongs + pi0
    (211, 8.0, 1.0, -3.0, M_PI, 1, 1, -20.0),
    (211, 6.0, 1.0, -3.1, M_PI, 1, 1, -20.0),
    (-211, 5.0, 1.0, 3.1, M_PI, -1, 1, -20.0),
    (111, 4.0, 1.0, -3.0, M_PI0, 0, 1, -20.0),
    (-16, 7.0, 1.0, -3.0, 0.0, 0, 1, -20.0),
    (15, 25.0, -1.0, 0.0, 1.777, -1, 0, -20.0),  # 7 tau- -> K- nu, the K- decays to mu- nu
    (-321, 10.0, 0.0, 0.0, M_K, -1, 7, -20.0),  # 8 K- (decayed)
    (16, 15.0, -1.0, 0.0, 0.0, 0, 7, -20.0),  # 9 nu_tau
    (13, 6.0, 0.0, 0.1, M_MU, -1, 8, -20.0),  # 10 mu- from the K-
    (-14, 4.0, 0.0, -0.5, 0.0, 0, 8, -20.0),  # 11 anti-nu_mu from the K-: not visible
    (15, 9.0, 2.0, 1.0, 1.777, -1, 0, -20.0),  # 12 tau- -> pi- K0 nu (K0 -> K0S -> pi+ pi-)
    (-211, 3.0, 2.0, 1.0, M_PI, -1, 12, -20.0),
    (311, 3.0, 2.0, 1.1, 0.4976, 0, 12, -20.0),  # 14 K0 (decayed)
    (16, 3.0, 2.0, 1.0, 0.0, 0, 12, -20.0),
    (211, 1.5, 2.0, 1.1, M_PI, 1, 14, -20.0),  # pions of the K0S: not prongs
    (-211, 1.5, 2.0, 1.1, M_PI, -1, 14, -20.0),
]
EVENT_DS = [
    (431, 20.0, 0.0, 1.0, 1.968, 1, -1, 0.0),  # 0 D_s+ -> tau+ nu
    (-15, 15.0, 0.0, 1.0, 1.777, 1, 0, 0.4),  # 1 tau+ from the D_s+
    (211, 9.0, 0.0, 1.0, M_PI, 1, 1, 0.41),
    (-16, 6.0, 0.0, 1.0, 0.0, 0, 1, 0.41),
    (16, 5.0, 0.0, 1.0, 0.0, 0, 0, 0.4),
]


def _record(*events: list[tuple[float, ...]]) -> GenRecord:
    rows = [row for event in events for row in event]
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    return GenRecord(
        offsets=np.cumsum([0] + [len(e) for e in events]),
        pid=cols[0],
        pt=cols[1],
        eta=cols[2],
        phi=cols[3],
        mass=cols[4],
        charge=cols[5],
        m1=cols[6],
        z=cols[7],
    )


def _p4(pt: float, eta: float, phi: float, m: float) -> tuple[float, float, float, float]:
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m)


@pytest.fixture(scope="module")
def hand() -> TruthTaus:
    return truth_taus(_record(EVENT_H, [], EVENT_Z, EVENT_DS))


def test_the_decaying_copies_are_the_taus(hand: TruthTaus) -> None:
    # the hard tau- (1) has a tau child: its decaying copy (3) is the one kept
    assert hand.offsets.tolist() == [0, 2, 2, 5, 6]
    assert hand.gen_index.tolist() == [2, 3, 1, 7, 12, 1]
    assert hand.charge.tolist() == [1, -1, 1, -1, -1, 1]
    assert hand.vz.tolist() == [1.5, 1.5, -20.0, -20.0, -20.0, 0.4]
    assert hand.is_leptonic.tolist() == [True, False, False, False, False, False]
    assert hand.from_hadron.tolist() == [False] * 5 + [True]
    assert hand.pt.tolist() == [40.0, 38.0, 30.0, 25.0, 9.0, 15.0]


def test_pi_pi0_visible_four_momentum_by_hand(hand: TruthTaus) -> None:
    # pi- (10 GeV along x) + pi0 (5 GeV along y), both at eta 0: p = (10, 5, 0)
    assert hand.vis_pt[1] == pytest.approx(math.sqrt(125.0), rel=1e-12)
    assert hand.vis_phi[1] == pytest.approx(math.atan2(5.0, 10.0), rel=1e-12)
    assert hand.vis_eta[1] == pytest.approx(0.0, abs=1e-12)
    # m^2 = (E1 + E2)^2 - |p|^2 = (10.000974 + 5.001822)^2 - 125 = 100.0839
    e1, e2 = math.sqrt(100 + M_PI**2), math.sqrt(25 + M_PI0**2)
    assert hand.vis_mass[1] == pytest.approx(math.sqrt((e1 + e2) ** 2 - 125.0), rel=1e-9)
    assert hand.vis_mass[1] == pytest.approx(10.0042, abs=1e-4)
    assert (hand.n_prong[1], hand.n_pi0[1], hand.decay_mode[1]) == (1, 1, 1)


def test_leptonic_tau_is_its_lepton(hand: TruthTaus) -> None:
    assert hand.decay_mode[0] == DM_LEPTONIC
    assert hand.vis_pt[0] == pytest.approx(12.0)
    assert hand.vis_phi[0] == pytest.approx(-2.9)
    assert hand.vis_mass[0] == pytest.approx(M_E, rel=1e-6)


def test_three_prongs_plus_pi0(hand: TruthTaus) -> None:
    p = np.sum([_p4(*row[1:5]) for row in EVENT_Z[2:6]], axis=0)
    assert hand.vis_pt[2] == pytest.approx(math.hypot(p[0], p[1]), rel=1e-12)
    assert hand.vis_phi[2] == pytest.approx(math.atan2(p[1], p[0]), rel=1e-12)
    assert (hand.n_prong[2], hand.n_pi0[2], hand.decay_mode[2]) == (3, 1, 11)
    # the visible direction crosses phi = pi: the pi- at +3.1 pulls it to about -3.07
    assert -3.1 < hand.vis_phi[2] < -3.0


def test_neutrino_of_a_decayed_product_is_not_visible(hand: TruthTaus) -> None:
    # K- (10, 0, 0) minus its anti-nu_mu (4 cos 0.5, -4 sin 0.5, 0): (6.48967, 1.91770, 0)
    px, py = 10.0 - 4.0 * math.cos(-0.5), -4.0 * math.sin(-0.5)
    assert (px, py) == pytest.approx((6.48967, 1.91770), abs=1e-5)
    assert hand.vis_pt[3] == pytest.approx(math.hypot(px, py), rel=1e-12)
    assert hand.vis_pt[3] == pytest.approx(6.76709, abs=1e-5)
    assert (hand.n_prong[3], hand.decay_mode[3]) == (1, 0)  # a K- is a prong, not a lepton


def test_k0_makes_other_and_its_pions_are_not_prongs(hand: TruthTaus) -> None:
    assert (hand.n_prong[4], hand.n_pi0[4], hand.decay_mode[4]) == (1, 0, DM_OTHER)
    # visible = pi- + K0 (the K0 carries its pions' momentum): 3 + 3 GeV, 0.1 apart
    assert hand.vis_pt[4] == pytest.approx(math.sqrt(9 + 9 + 18 * math.cos(0.1)), rel=1e-12)


def test_hadronic_selection(hand: TruthTaus) -> None:
    had = hand.hadronic()
    assert had.offsets.tolist() == [0, 1, 1, 4, 4]
    assert had.gen_index.tolist() == [3, 1, 7, 12]
    with_ds = hand.hadronic(include_from_hadron=True)
    assert with_ds.offsets.tolist() == [0, 1, 1, 4, 5]
    assert with_ds.decay_mode[-1] == 0
    assert with_ds.vis_pt[-1] == pytest.approx(9.0)
    with pytest.raises(DataFormatError, match="one boolean per tau"):
        hand.select(np.ones(3, dtype=bool))


def test_no_taus() -> None:
    taus = truth_taus(_record([], [(211, 1.0, 0.0, 0.0, M_PI, 1, -1, 0.0)]))
    assert taus.offsets.tolist() == [0, 0, 0]
    assert len(taus) == 0
    assert taus.hadronic().offsets.tolist() == [0, 0, 0]


def test_decay_mode_codes_are_cms_ids() -> None:
    # reco::PFTau: kOneProng0PiZero 0, kOneProng1PiZero 1, kOneProng2PiZero 2,
    # kOneProngNPiZero 4, kThreeProng0PiZero 10, kThreeProng1PiZero 11, kRareDecayMode 15
    codes = decay_mode_code([1, 1, 1, 1, 3, 3, 5, 3], [0, 1, 2, 7, 0, 1, 0, 0])
    assert codes.tolist() == [0, 1, 2, 4, 10, 11, 15, 10]
    assert decay_mode_code(1, 0, 1).tolist() == DM_OTHER
    assert [DECAY_MODE_GROUPS[g] for g in decay_mode_group([0, 2, 10, 14, 15])] == [
        "1-prong",
        "1-prong+pi0s",
        "3-prong",
        "3-prong+pi0s",
        "other",
    ]


def test_malformed_records_name_the_field() -> None:
    good = {
        "offsets": [0, 2],
        "pid": [15, 16],
        "pt": [1.0, 1.0],
        "eta": [0.0, 0.0],
        "phi": [0.0, 0.0],
        "mass": [1.8, 0.0],
        "charge": [-1, 0],
        "m1": [-1, 0],
        "z": [0.0, 0.0],
    }
    with pytest.raises(DataFormatError, match="Gen_Part eta: expected 2 entries"):
        GenRecord(**(good | {"eta": [0.0]}))  # type: ignore[arg-type]
    with pytest.raises(DataFormatError, match="Gen_Part M1"):
        GenRecord(**(good | {"m1": [-1, 2]}))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Gen_Part offsets"):
        GenRecord(**(good | {"offsets": [1, 2]}))  # type: ignore[arg-type]
    chunk = {f"Gen_Part_{k}": [v] for k, v in zip(
        ("PT", "PID", "Eta", "Phi", "Mass", "Charge", "M1"),
        ([1.0, 1.0], [15, 16], [0.0, 0.0], [0.0, 0.0], [1.8, 0.0], [-1, 0], [-1, 0]),
        strict=True,
    )}  # fmt: skip
    with pytest.raises(DataFormatError, match="no column 'Gen_Part_Z'"):
        gen_record(chunk)


# ------------------------------------------------------------------ Pythia


@pytest.fixture(scope="module")
def gghtautau(tmp_path_factory: pytest.TempPathFactory) -> ak.Array:
    """200 gg -> H(125) -> tau tau events, generator level, no pileup (~4 s)."""
    out: Path = tmp_path_factory.mktemp("gghtautau")
    cfg = GenerationConfig(process="ggHtautau", seed=17, events=200, pileup=0.0, views=())
    return ak.from_parquet(run_generation(cfg, out).path)


def test_pythia_taus_physics(gghtautau: ak.Array) -> None:
    taus = truth_taus(gghtautau)
    prompt = taus.select(~taus.from_hadron)
    n = len(prompt)
    # every event: exactly the two Higgs taus, opposite charges
    assert np.diff(prompt.offsets).tolist() == [2] * 200
    assert np.all(np.add.reduceat(prompt.charge, prompt.offsets[:-1]) == 0)
    # our charge (from the PDG id) agrees with the generator's Charge column
    gen_q = ak.to_numpy(ak.flatten(gghtautau.Gen_Part_Charge))
    first = np.asarray(ak.num(gghtautau.Gen_Part_PID))
    starts = np.concatenate([[0], np.cumsum(first)[:-1]])
    assert np.array_equal(gen_q[starts[taus.event] + taus.gen_index], taus.charge)
    # branching fractions (PDG: leptonic 35.2 %, one prong 47.9 %, three prongs 15.2 %);
    # binomial sigma for 400 taus is <= 0.025: 3-sigma windows
    group = decay_mode_group(prompt.decay_mode)
    assert abs(prompt.is_leptonic.mean() - 0.352) < 0.072
    assert abs(np.isin(group, (0, 1)).mean() - 0.479) < 0.075
    assert abs(np.isin(group, (2, 3)).mean() - 0.152) < 0.054
    assert abs((group == 1).mean() - 0.363) < 0.072  # one prong + pi0s
    assert (group == 4).mean() < 0.06
    had = prompt.hadronic()
    assert len(had) == n - prompt.is_leptonic.sum()
    assert np.all(had.n_prong % 2 == 1)
    # visible below the full pT (float16 storage: 1e-3), and below the tau mass
    assert np.all(had.vis_pt > 0)
    assert np.all(had.vis_pt <= prompt.pt[~prompt.is_leptonic] * (1 + 1e-3))
    assert np.all(had.vis_mass < 1.777 * (1 + 2e-3))
    lep_mass = prompt.vis_mass[prompt.is_leptonic]
    assert np.all(np.isclose(lep_mass, M_E, rtol=0.02) | np.isclose(lep_mass, M_MU, rtol=0.02))
    # boosted taus: the visible products fly along the tau (dR ~ m / pT)
    hard = had.vis_pt > 20
    dr = np.hypot(had.vis_eta - had.eta, np.angle(np.exp(1j * (had.vis_phi - had.phi))))
    assert (dr[hard] < 0.2).mean() > 0.95


def test_pythia_tau_vertex_is_the_hard_vertex(gghtautau: ak.Array) -> None:
    taus = truth_taus(gghtautau).hadronic()
    hard = gghtautau.Vertex_Z[gghtautau.Vertex_Index == 0]
    vz = ak.to_numpy(ak.flatten(hard))
    assert len(vz) == 200
    assert np.allclose(taus.vz, vz[taus.event], atol=1e-3)  # rounded to 1 um
    assert np.std(vz) > 1.0  # the beam spot spreads it by centimetres


# ---------------------------------------------------------------- matching


def _taus(offsets: list[int], eta: list[float], phi: list[float]) -> TruthTaus:
    n = len(eta)
    f, i = np.zeros(n), np.zeros(n, dtype=np.int64)
    return TruthTaus(
        offsets=np.asarray(offsets, dtype=np.int64),
        gen_index=i,
        pt=f,
        eta=f,
        phi=f,
        vis_pt=f + 10,
        vis_eta=np.asarray(eta, dtype=np.float64),
        vis_phi=np.asarray(phi, dtype=np.float64),
        vis_mass=f,
        charge=i - 1,
        n_prong=i + 1,
        n_pi0=i,
        decay_mode=i,
        vz=f,
        is_leptonic=np.zeros(n, dtype=bool),
        from_hadron=np.zeros(n, dtype=bool),
    )


def test_match_across_phi_wrap() -> None:
    taus = _taus([0, 1], [0.0], [3.1])
    m = match_taus([0, 2], [0.0, 0.0], [-3.1, 2.85], taus)  # dR 0.0832 and 0.25
    assert m.tau_to_candidate.tolist() == [0]
    assert m.candidate_to_tau.tolist() == [0, -1]
    assert m.dr[0] == pytest.approx(2 * math.pi - 6.2, abs=1e-12)
    # the same in [0, 2 pi)
    m2 = match_taus([0, 2], [0.0, 0.0], [-3.1 + 2 * math.pi, 2.85], taus)
    assert m2.tau_to_candidate.tolist() == [0]


def test_two_candidates_near_one_tau_the_closest_wins() -> None:
    taus = _taus([0, 1], [0.0], [0.0])
    m = match_taus([0, 2], [0.15, 0.05], [0.0, 0.0], taus)
    assert m.tau_to_candidate.tolist() == [1]
    assert m.candidate_to_tau.tolist() == [-1, 0]
    assert m.candidate_matched.tolist() == [False, True]
    assert m.dr[0] == pytest.approx(0.05)


def test_crossing_pairs_and_the_exclusive_cut() -> None:
    # event 0: taus at eta 0 and 0.3, candidates at 0.18 and 0.12: both are within 0.2 of
    # both taus; greedy by dR takes the two 0.12 pairs (cand 0 -> tau 1, cand 1 -> tau 0)
    # event 1: a tau at 0 and candidates at 0.2001 (out) and -0.1999 (in)
    taus = _taus([0, 2, 3], [0.0, 0.3, 0.0], [0.0, 0.0, 1.0])
    m = match_taus([0, 2, 4], [0.18, 0.12, 0.2001, -0.1999], [0.0, 0.0, 1.0, 1.0], taus)
    assert m.tau_to_candidate.tolist() == [1, 0, 3]
    assert m.candidate_to_tau.tolist() == [1, 0, -1, 2]
    assert m.tau_matched.all()
    narrow = match_taus(
        [0, 2, 4], [0.18, 0.12, 0.2001, -0.1999], [0, 0, 1.0, 1.0], taus, max_dr=0.1
    )
    assert narrow.tau_to_candidate.tolist() == [-1, -1, -1]
    assert np.isinf(narrow.dr).all()


def test_match_bad_input() -> None:
    taus = _taus([0, 1], [0.0], [0.0])
    with pytest.raises(DataFormatError, match="different numbers of events: 2 and 1"):
        match_taus([0, 1, 1], [0.0], [0.0], taus)
    with pytest.raises(ConfigError, match="max_dr"):
        match_taus([0, 1], [0.0], [0.0], taus, max_dr=0.0)
    with pytest.raises(DataFormatError, match="cand_eta: expected 2 entries"):
        match_taus([0, 2], [0.0], [0.0], taus)
