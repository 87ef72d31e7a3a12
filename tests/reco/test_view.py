"""End-to-end invariants of the dual-view simulation on a small real file, and the small reco helpers."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from l1scout.detector.card import CARD_DIR
from l1scout.detector.particles import GenParticles
from l1scout.detector.view_card import load_view_card
from l1scout.production.job import GenerationConfig, run_generation
from l1scout.reco.chs import chs_flags
from l1scout.reco.jets import Jets
from l1scout.reco.leptons import IsolationInputs, match_photons
from l1scout.reco.met import missing_momentum, scalar_ht
from l1scout.reco.particleflow import Candidates
from l1scout.reco.rho import rho_grid_median
from l1scout.reco.view import _subtract_rho_area

VIEWS = ("FullReco", "L1T")


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    out = tmp_path_factory.mktemp("views")
    config = GenerationConfig(
        process="tt0123j_5f_ckm_LO_MLM_semiLeptonic", events=6, seed=9, pileup=40.0, pool_size=400
    )
    return pq.read_table(run_generation(config, out).path)


def _flat(t: pa.Table, name: str) -> np.ndarray:
    arr = t[name].combine_chunks()
    values = arr.flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.float64) if values.dtype == np.float16 else values


def _offsets(t: pa.Table, name: str) -> np.ndarray:
    return t[name].combine_chunks().offsets.to_numpy().astype(np.int64)


def test_no_nan_and_lists_per_event(table: pa.Table) -> None:
    for name in table.column_names:
        typ = table.schema.field(name).type
        if pa.types.is_list(typ.value_type):
            continue
        values = _flat(table, name)
        if values.dtype.kind == "f":
            assert np.isfinite(values).all(), name
    for view in VIEWS:
        for coll, n in (("MET", 1), ("PUPPIMET", 1), ("ScalarHT", 1), ("Rho", 5)):
            field = {"MET": "MET", "PUPPIMET": "MET", "ScalarHT": "HT", "Rho": "Rho"}[coll]
            lengths = pc.list_value_length(table[f"{view}_{coll}_{field}"]).to_numpy()
            assert (lengths == n).all(), (view, coll)


def _sorted_desc(t: pa.Table, name: str) -> bool:
    off, v = _offsets(t, name), _flat(t, name)
    return all((np.diff(v[a:b]) <= 0).all() for a, b in itertools.pairwise(off))


def test_collections_are_sorted(table: pa.Table) -> None:
    for view in VIEWS:
        for coll in ("PFPart", "PUPPIPart", "Electron", "MuonTight", "PhotonTight"):
            assert _sorted_desc(table, f"{view}_{coll}_PT"), (view, coll)
        for jet in ("JetAK4", "JetAK8", "JetPuppiAK4", "JetPuppiAK8"):
            assert _sorted_desc(table, f"{view}_{jet}_PT"), (view, jet)
        assert _sorted_desc(table, f"{view}_Vertex_SumPT2")
    assert _sorted_desc(table, "Gen_JetAK4_PT")


def test_constituents_point_into_their_collection(table: pa.Table) -> None:
    for view in VIEWS:
        for jet, coll in (("JetAK4", "PFPart"), ("JetPuppiAK4", "PUPPIPart")):
            idx = table[f"{view}_{jet}_ConstituentsIdx"].to_pylist()
            uid = table[f"{view}_{jet}_Constituents"].to_pylist()
            cuid = table[f"{view}_{coll}_fUniqueID"].to_pylist()
            n_const = 0
            for ev_idx, ev_uid, ev_cuid in zip(idx, uid, cuid, strict=True):
                flat = [i for j in ev_idx for i in j]
                assert len(flat) == len(set(flat))  # no candidate in two jets
                for j_idx, j_uid in zip(ev_idx, ev_uid, strict=True):
                    assert all(0 <= i < len(ev_cuid) for i in j_idx)
                    assert [ev_cuid[i] for i in j_idx] == j_uid
                    n_const += len(j_idx)
            assert n_const > 0, (view, jet)


def test_puppi_jets_are_the_weighted_sum_of_their_constituents(table: pa.Table) -> None:
    for view in VIEWS:
        idx = table[f"{view}_JetPuppiAK4_ConstituentsIdx"].to_pylist()
        jet_pt = table[f"{view}_JetPuppiAK4_PT"].to_pylist()
        cols = {f: table[f"{view}_PUPPIPart_{f}"].to_pylist() for f in ("PT", "Phi", "PuppiW")}
        for e, jets in enumerate(idx):
            for j, members in enumerate(jets):
                w = np.array([cols["PuppiW"][e][i] for i in members], dtype=float)
                pt = np.array([cols["PT"][e][i] for i in members], dtype=float) * w
                phi = np.array([cols["Phi"][e][i] for i in members], dtype=float)
                assert (w > 0).all()
                total = math.hypot((pt * np.cos(phi)).sum(), (pt * np.sin(phi)).sum())
                assert total == pytest.approx(jet_pt[e][j], rel=0.01)


def test_view_rules(table: pa.Table) -> None:
    for view in VIEWS:
        w = _flat(table, f"{view}_PUPPIPart_PuppiW")
        assert ((w >= 0) & (w <= 1)).all()
        pid = _flat(table, f"{view}_PUPPIPart_PID")
        charge = _flat(table, f"{view}_PUPPIPart_Charge")
        lepton = np.isin(np.abs(pid), (11, 13)) & (charge != 0)
        assert (w[lepton] == 1).all()
        assert (_flat(table, f"{view}_PFPart_IsRecoPU") == 0).all()
        # fUniqueID of a track leads back to its generated particle
        uid = _flat(table, f"{view}_PUPPIPart_fUniqueID")
        off = _offsets(table, f"{view}_PUPPIPart_PT")
        gen_off = _offsets(table, "Gen_Part_PID")
        gen_pid = _flat(table, "Gen_Part_PID")
        event = np.repeat(np.arange(len(off) - 1), np.diff(off))
        track = charge != 0
        gen_index = gen_off[event[track]] + uid[track].astype(np.int64) - 1
        assert (gen_pid[gen_index] == pid[track]).all()
        assert (uid[~track] >= 2**31).all()
    # L1T: the 1000-candidate cap, tracks only above 2 GeV (true pT) and inside |eta| 2.4
    assert pc.max(pc.list_value_length(table["L1T_PUPPIPart_PT"])).as_py() <= 1000
    charge = _flat(table, "L1T_PUPPIPart_Charge")
    eta = _flat(table, "L1T_PUPPIPart_Eta")
    assert (np.abs(eta[charge != 0]) <= 2.401).all()
    # FullReco vertices are more numerous and the primary one closer to the truth
    n_full = pc.mean(pc.list_value_length(table["FullReco_Vertex_Z"])).as_py()
    n_l1t = pc.mean(pc.list_value_length(table["L1T_Vertex_Z"])).as_py()
    assert n_full > n_l1t


def test_chs_flags_follow_the_formula() -> None:
    card = load_view_card("FullReco")
    n = 400
    rng = np.random.default_rng(3)
    pt = rng.uniform(0.3, 30, n)
    eta = rng.uniform(-3, 3, n)
    z = rng.normal(0, 0.05, n)
    is_pu = rng.integers(0, 2, n).astype(np.int8)
    gen = GenParticles(
        offsets=np.array([0, n]),
        pid=np.full(n, 211, np.int32),
        status=np.ones(n, np.int8),
        pt=pt,
        eta=eta,
        phi=np.zeros(n),
        mass=np.full(n, 0.1396),
        charge=np.ones(n, np.int8),
        is_pu=is_pu,
        x=np.zeros(n),
        y=np.zeros(n),
        z=z,
        t=np.zeros(n),
        vertex_index=is_pu.astype(np.int32),
    )
    idx = np.append(np.arange(n), -1)
    flags = chs_flags(idx, gen, np.array([0.01]), card.chs.sigma_z)
    sigma_m = np.where(
        pt < 10,
        (-0.8 * np.log10(pt) + 1) * 10 ** (0.5 * np.abs(eta) + 1.5) * 1e-6,
        0.2 * 10 ** (0.5 * np.abs(eta) + 1.5) * 1e-6,
    )
    expected = (is_pu == 1) & (np.abs(z - 0.01) > sigma_m * 1e3)
    assert flags[:-1].tolist() == expected.astype(np.int32).tolist()
    assert flags[-1] == 0
    assert 0 < expected.sum() < n


def test_met_and_ht() -> None:
    ev = np.array([0, 0, 1])
    met, eta, phi = missing_momentum(
        ev, np.array([1.0, 2.0, 0.0]), np.array([0.0, 0.0, -4.0]), np.array([0.0, 3.0, 0.0]), 3
    )
    assert met.tolist() == [3.0, 4.0, 0.0]
    assert abs(phi[0]) == pytest.approx(math.pi)
    assert phi[1] == pytest.approx(math.pi / 2)
    assert eta[0] == pytest.approx(math.asinh(-1.0))
    assert scalar_ht(ev, np.array([1.0, 2.0, 4.0]), 3).tolist() == [3.0, 4.0, 0.0]


def test_rho_area_subtraction_scales_filters_and_resorts() -> None:
    jets = Jets(
        offsets=np.array([0, 3]),
        px=np.array([40.0, 30.0, 16.0]),
        py=np.zeros(3),
        pz=np.zeros(3),
        e=np.array([40.0, 30.0, 16.0]),
        pt=np.array([40.0, 30.0, 16.0]),
        eta=np.array([0.0, 2.0, 0.0]),
        phi=np.zeros(3),
        mass=np.zeros(3),
        constituent_offsets=np.array([0, 2, 3, 5]),
        constituents=np.array([0, 1, 2, 3, 4]),
    )
    area = math.pi * 0.4**2
    rho = np.array([50.0 / area, 1.0 / area, 5.0 / area])  # subtract 50, 1 and 5 GeV
    out = _subtract_rho_area(jets, rho, 0.4, 15.0)
    assert out.pt.tolist() == pytest.approx([29.0])
    assert out.constituents.tolist() == [2]
    assert out.offsets.tolist() == [0, 1]


def test_photon_matching() -> None:
    gen = GenParticles(
        offsets=np.array([0, 2, 3]),
        pid=np.array([22, 22, 22], np.int32),
        status=np.ones(3, np.int8),
        pt=np.array([50.0, 20.0, 30.0]),
        eta=np.array([0.5, -1.0, 0.0]),
        phi=np.array([3.1, 0.0, 0.0]),
        mass=np.zeros(3),
        charge=np.zeros(3, np.int8),
        is_pu=np.array([0, 0, 1], np.int8),
        x=np.zeros(3),
        y=np.zeros(3),
        z=np.zeros(3),
        t=np.zeros(3),
        vertex_index=np.array([0, 0, 1], np.int32),
    )
    matched = match_photons(
        np.array([0, 0, 0, 1]),
        np.array([48.0, 48.0, 5.0, 30.0]),
        np.array([0.52, 0.8, -1.0, 0.0]),
        np.array([-3.15, 3.1, 0.0, 0.0]),
        gen,
        delta_r=0.1,
        pt_ratio=0.5,
    )
    # across the phi wrap; too far; pT ratio off; matched only to a pileup photon
    assert matched.tolist() == [True, False, False, False]


def test_signed_rho_regions_are_one_strip_each() -> None:
    # uniform density on eta > 0 only: the positive region sees it, the negative one none
    rng = np.random.default_rng(4)
    n = 20_000
    eta = rng.uniform(0, 2, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    rho = rho_grid_median(
        np.array([0, n]),
        np.ones(n),
        eta,
        phi,
        regions=[(-2.0, 0.0), (0.0, 2.0)],
        cell_size=0.5,
        signed=True,
    )
    assert rho[0, 0] == 0.0
    assert rho[0, 1] == pytest.approx(n / (2 * 2 * math.pi), rel=0.05)


def test_a_third_view_from_a_copied_card(tmp_path: Path) -> None:
    text = (CARD_DIR / "L1T.toml").read_text()
    card = tmp_path / "L1Tnarrow.toml"
    card.write_text(
        text.replace('name = "L1T"', 'name = "L1Tnarrow"').replace("eta_max = 2.4", "eta_max = 1.5")
    )
    config = GenerationConfig(
        process="tt0123j_5f_ckm_LO_MLM_semiLeptonic",
        events=2,
        seed=3,
        pileup=0.0,
        views=(str(card),),
    )
    t = pq.read_table(run_generation(config, tmp_path / "out").path)
    eta = _flat(t, "L1Tnarrow_PUPPIPart_Eta")
    charge = _flat(t, "L1Tnarrow_PUPPIPart_Charge")
    assert (charge != 0).any()
    assert (np.abs(eta[charge != 0]) <= 1.501).all()


def test_isolation_inputs_leave_out_leptons_and_find_own_entries() -> None:
    n = 6
    cands = Candidates(
        offsets=np.array([0, 4, 6]),
        uid=np.arange(n, dtype=np.uint32),
        pid=np.array([11, 211, 22, 211, 13, 0], np.int32),
        charge=np.array([-1, 1, 0, -1, 1, 0], np.int8),
        pt=np.array([9.0, 5.0, 4.0, 3.0, 8.0, 2.0]),
        eta=np.zeros(n),
        phi=np.zeros(n),
        energy=np.ones(n),
        mass=np.zeros(n),
        d0=np.zeros(n),
        dz=np.zeros(n),
        err_d0=np.zeros(n),
        err_dz=np.zeros(n),
        is_pu=np.zeros(n, np.int8),
        gen=np.arange(n),
        is_reco_pu=np.array([0, 0, 0, 1, 0, 0], np.int32),
        puppi_w=np.array([1.0, 1.0, 0.5, 0.0, 1.0, 0.0], np.float32),
    )
    puppi = IsolationInputs.from_candidates(cands, weighted=True)
    chs = IsolationInputs.from_candidates(cands, weighted=False)
    assert puppi.source.tolist() == [1, 2]  # no leptons, no zero weights
    assert puppi.pt.tolist() == [5.0, 2.0]  # pT scaled by the weight
    assert chs.source.tolist() == [1, 2, 5]  # no leptons, no CHS-flagged track
    assert chs.offsets.tolist() == [0, 2, 3]
    assert chs.own_index(np.array([2, 5, 3])).tolist() == [1, 0, -1]
    assert puppi.own_index(np.array([2, 5])).tolist() == [1, -1]


def test_standalone_muons_leave_every_other_collection_unchanged(tmp_path: Path) -> None:
    text = (CARD_DIR / "L1T.toml").read_text()
    start = text.index(
        "# ---------------------------------------------------------------- standalone"
    )
    end = text.index("# [D] Photons:")
    card = tmp_path / "L1T.toml"
    card.write_text(text[:start] + text[end:])
    assert load_view_card(card).muon_system is None
    kw = {"process": "DYJetsToLL_13TeV-madgraphMLM-pythia8", "events": 40, "seed": 5, "pileup": 0.0}
    with_mu = pq.read_table(
        run_generation(GenerationConfig(**kw, views=("L1T",)), tmp_path / "a").path
    )
    without = pq.read_table(
        run_generation(GenerationConfig(**kw, views=(str(card),)), tmp_path / "b").path
    )
    added = {c for c in with_mu.column_names if c.startswith("L1T_MuonStandalone_")}
    assert "L1T_MuonStandalone_HwPt" in added
    assert set(with_mu.column_names) - added == set(without.column_names)
    for name in without.column_names:
        assert with_mu[name].equals(without[name]), name
    # Drell-Yan muons are found by the muon system: about as many as the tracker muons
    n_sa = pc.sum(pc.list_value_length(with_mu["L1T_MuonStandalone_PT"])).as_py()
    n_tk = pc.sum(pc.list_value_length(with_mu["L1T_MuonTight_PT"])).as_py()
    assert n_tk > 5
    assert 0.6 * n_tk <= n_sa <= 1.5 * n_tk + 2
