"""The seed's data recipe on synthetic awkward events, against direct numpy formulas."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from l1scout.detector.muon_system import station_position
from l1scout.detector.view_card import load_view_card
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.recalib.dataset import (
    JET_FEATURES,
    MUON_FEATURES,
    TARGET_NAMES,
    build_regression_data,
    drop_duplicates,
    jet_dataset,
    muon_dataset,
    offline_at_station,
    residuals,
    split_indices,
)
from l1scout.tasks.recalib.hardware import MuonBending

TWO_PI = 2 * math.pi
MU_PHI_LSB = TWO_PI / 576


def _jag(values: np.ndarray, counts: np.ndarray) -> ak.Array:
    return ak.unflatten(np.asarray(values), np.asarray(counts))


def _muon_events(
    n_events: int = 120, seed: int = 4
) -> tuple[dict[str, ak.Array], dict[str, np.ndarray]]:
    """One or two muons per event; the offline muon is the same muon with 1 % pT smearing."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 3, n_events)
    n = int(counts.sum())
    pt_true = rng.uniform(3.0, 60.0, n)
    eta = rng.uniform(-2.3, 2.3, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    q = rng.choice([-1, 1], n)
    pt_l1 = pt_true * (1 + 0.03 * rng.standard_normal(n))
    pt_reco = pt_true * (1 + 0.01 * rng.standard_normal(n))
    ev = {
        "L1T_MuonTight_PT": _jag(pt_l1, counts),
        "L1T_MuonTight_Eta": _jag(eta, counts),
        "L1T_MuonTight_Phi": _jag(phi, counts),
        "L1T_MuonTight_Charge": _jag(q.astype(np.int8), counts),
        "FullReco_MuonTight_PT": _jag(pt_reco, counts),
        "FullReco_MuonTight_Eta": _jag(eta, counts),
        "FullReco_MuonTight_Phi": _jag(phi, counts),
        "FullReco_MuonTight_Charge": _jag(q.astype(np.int8), counts),
    }
    truth = {"pt_l1": pt_l1, "pt_reco": pt_reco, "eta": eta, "phi": phi, "q": q, "counts": counts}
    return ev, truth


def _expected_muon_rows(t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and residuals of the recipe written out with plain numpy (no l1scout code)."""
    geo = MuonBending()
    hw_pt = np.clip(np.floor(t["pt_l1"] / 0.5 + 0.5), 0, 511)
    hw_eta = np.clip(np.floor(t["eta"] / 0.010875 + 0.5), -256, 255)
    # bending: circle of radius pT / (0.3 B) inside the field, straight line to the station
    tan_t = 1 / np.abs(np.sinh(t["eta"]))
    r_exit = np.minimum(geo.solenoid_radius_m, geo.solenoid_half_length_m * tan_t)
    r_st = np.minimum(geo.station_radius_m, geo.station_z_m * tan_t)
    a = np.arcsin(r_exit * 0.3 * geo.bz_tesla / (2 * t["pt_l1"]))
    station = t["phi"] - t["q"] * (2 * a - np.arcsin(r_exit * np.sin(a) / r_st))
    hw_phi = np.floor(station / MU_PHI_LSB + 0.5) % 576
    pt, eta, phi = hw_pt * 0.5, hw_eta * 0.010875, hw_phi * MU_PHI_LSB
    x = np.stack([pt, eta, phi, t["q"].astype(float)], axis=1)
    phi_reco = t["phi"] % TWO_PI
    dphi = (phi_reco - phi + math.pi) % TWO_PI - math.pi
    res = np.stack([(t["pt_reco"] - pt) / t["pt_reco"], t["eta"] - eta, dphi], axis=1)
    sel = (pt > 5.5) & (pt < 45.0)
    return x[sel], res[sel]


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def test_muon_recipe_against_numpy_formulas() -> None:
    ev, truth = _muon_events()
    data = muon_dataset(ev, seed=5, source="tracker")
    x_exp, res_exp = _expected_muon_rows(truth)
    assert data.kind == "muon"
    assert data.feature_names == MUON_FEATURES == ("pt", "eta", "phi", "charge")
    assert data.target_names == TARGET_NAMES == ("dpt_over_pt", "deta", "dphi")
    x_all = np.concatenate([data.x_physical[s] for s in ("train", "val", "test")])
    r_all = np.concatenate([data.residual[s] for s in ("train", "val", "test")])
    got = _sorted_rows(np.concatenate([x_all, r_all], axis=1))
    expected = _sorted_rows(np.concatenate([x_exp, res_exp], axis=1))
    assert got.shape == expected.shape
    assert np.allclose(got, expected, atol=1e-9)
    # the pT cut is on the L1 pT, exclusive at both ends
    assert x_all[:, 0].min() > 5.5
    assert x_all[:, 0].max() < 45.0
    # phi residual holds the bending: same sign as the charge
    assert np.all(np.sign(r_all[:, 2]) == x_all[:, 3])
    assert np.all(np.abs(r_all[:, 2]) <= math.pi)
    assert data.match["matched"] == data.match["l1"] == len(truth["pt_l1"])
    assert data.match["selected"] == len(x_exp)
    assert data.match["duplicates"] == 0


def test_split_sizes_and_scaling() -> None:
    ev, _ = _muon_events(300)
    data = muon_dataset(ev, seed=2, source="tracker")
    n = sum(data.sizes.values())
    assert data.sizes == {
        "train": round(0.65 * n),
        "val": round(0.2 * n),
        "test": n - round(0.65 * n) - round(0.2 * n),
    }
    train = data.x["train"]
    assert train.dtype == np.float32
    assert data.y["train"].dtype == np.float32
    assert np.allclose(train.min(axis=0), 0.0)
    assert np.allclose(train.max(axis=0), 1.0)
    assert np.allclose(data.input_min, data.x_physical["train"].min(axis=0))
    assert np.allclose(data.input_max, data.x_physical["train"].max(axis=0))
    for split in ("train", "val", "test"):
        span = data.input_max - data.input_min
        assert np.allclose(
            data.x[split], (data.x_physical[split] - data.input_min) / span, atol=1e-6
        )
        assert np.allclose(data.scale_inputs(data.x_physical[split]), data.x[split])
        assert np.allclose(data.unscale_targets(data.y[split]), data.residual[split], atol=1e-6)
    assert np.allclose(data.y["train"].mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(data.y["train"].std(axis=0), 1.0, atol=1e-5)
    assert np.allclose(data.target_mean, data.residual["train"].mean(axis=0))
    assert np.allclose(data.target_std, data.residual["train"].std(axis=0))
    # charge scales to {0, 1}
    assert set(np.unique(train[:, 3]).tolist()) == {0.0, 1.0}


def test_split_is_deterministic_and_disjoint() -> None:
    a = split_indices(1000, seed=7)
    b = split_indices(1000, seed=7)
    c = split_indices(1000, seed=8)
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert not np.array_equal(a["train"], c["train"])
    together = np.concatenate([a["train"], a["val"], a["test"]])
    assert np.array_equal(np.sort(together), np.arange(1000))
    assert [len(a[s]) for s in ("train", "val", "test")] == [650, 200, 150]
    with pytest.raises(ConfigError, match="fractions"):
        split_indices(10, seed=1, fractions=(0.5, 0.5, 0.5))
    ev, _ = _muon_events(200)
    d1, d2 = muon_dataset(ev, seed=3, source="tracker"), muon_dataset(ev, seed=3, source="tracker")
    assert np.array_equal(d1.x["test"], d2.x["test"])


def test_duplicates_are_dropped_within_an_event_only() -> None:
    ev, truth = _muon_events(60)
    fields = ("PT", "Eta", "Phi", "Charge")
    lists = {f: ak.to_list(ev[f"L1T_MuonTight_{f}"]) for f in fields}
    # event 0: an exact copy of its first L1 muon (dropped); events 1 and 2: the same new
    # muon (7.7 GeV, eta 0.3, phi 0.3, +1) once each (both kept: different events)
    for f, new in zip(fields, (7.7, 0.3, 0.3, 1), strict=True):
        lists[f][0].append(lists[f][0][0])
        lists[f][1].append(new)
        lists[f][2].append(new)
    dup = dict(ev) | {f"L1T_MuonTight_{f}": ak.Array(lists[f]) for f in fields}
    base = muon_dataset(ev, source="tracker")
    data = muon_dataset(dup, source="tracker")
    assert len(ak.flatten(dup["L1T_MuonTight_PT"])) == truth["counts"].sum() + 3
    assert data.match["duplicates"] == 1
    assert base.match["duplicates"] == 0
    assert data.match["l1"] == base.match["l1"] + 2
    assert drop_duplicates([0, 2, 4], [[1, 2], [1, 2], [1, 2], [3, 4]]).tolist() == [
        True,
        False,
        True,
        True,
    ]
    assert drop_duplicates([0, 0], np.zeros((0, 2))).tolist() == []


def test_residual_formulas() -> None:
    res = residuals([9.0, 20.0], [0.1, -1.0], [6.2, 0.1], [10.0, 16.0], [0.15, -1.2], [-0.05, 3.1])
    assert res[0].tolist() == pytest.approx([0.1, 0.05, (-0.05 + TWO_PI) - 6.2])
    assert res[1].tolist() == pytest.approx([-0.25, -0.2, 3.0])
    assert res[0, 2] == pytest.approx(0.0332, abs=1e-4)
    with pytest.raises(DataFormatError, match="positive"):
        residuals([1.0], [0.0], [0.0], [0.0], [0.0], [0.0])


def _jet_events() -> tuple[dict[str, ak.Array], list[tuple[float, float, float, float]]]:
    """Hand-made jets. Returns the events and the expected (L1 pT, L1 eta, L1 phi, target pT) rows."""
    l1 = [
        [(40.3, 0.0, 0.1), (25.0, 2.0, 3.0), (18.0, -1.0, 1.0)],
        [(60.0, 1.0, -1.0)],
        [],
        [(30.0, 0.5, 2.0), (30.0, 0.5, 2.0)],  # a duplicate
    ]
    reco = [
        [
            (30.0, 0.1, 0.1),
            (20.0, -0.2, 0.1),
            (16.0, 0.0, 0.6),
            (50.0, 2.1, -3.1),
            (10.0, -1.0, 1.0),
        ],
        [(70.0, 1.05, -1.0)],
        [(40.0, 0.0, 0.0)],
        [(33.0, 0.5, 2.05)],
    ]
    ev: dict[str, ak.Array] = {}
    for view, objs in (("L1T", l1), ("FullReco", reco)):
        for k, f in enumerate(("PT", "Eta", "Phi")):
            ev[f"{view}_JetPuppiAK4_{f}"] = ak.Array([[o[k] for o in event] for event in objs])

    def hw(pt: float, eta: float, phi: float) -> tuple[float, float, float]:
        return (
            math.floor(pt / 0.5 + 0.5) * 0.5,
            math.floor(eta / 0.0435 + 0.5) * 0.0435,
            (math.floor(phi / (TWO_PI / 144) + 0.5) % 144) * TWO_PI / 144,
        )

    rows = [
        (*hw(40.3, 0.0, 0.1), 50.0),  # two offline jets within 0.4; the 16 GeV one is 0.5 away
        (*hw(25.0, 2.0, 3.0), 50.0),  # across the phi wrap
        # the 18 GeV L1 jet: its only offline jet is 10 GeV, below the 15 GeV threshold
        (*hw(60.0, 1.0, -1.0), 70.0),
        (*hw(30.0, 0.5, 2.0), 33.0),  # the duplicate is dropped, so one row
    ]
    return ev, rows


def test_jet_recipe_on_hand_made_events() -> None:
    ev, rows = _jet_events()
    data = jet_dataset(ev, min_objects=4)
    assert data.kind == "jet"
    assert data.feature_names == JET_FEATURES == ("pt", "eta", "phi")
    assert data.target_names == ("dpt_over_pt",)  # the seed's jets: the pT only
    x_all = np.concatenate([data.x_physical[s] for s in ("train", "val", "test")])
    r_all = np.concatenate([data.residual[s] for s in ("train", "val", "test")])
    order = np.argsort(x_all[:, 0] * 1000 + x_all[:, 1])
    expected = sorted(rows, key=lambda r: r[0] * 1000 + r[1])
    assert np.allclose(x_all[order], [r[:3] for r in expected])
    target = np.array([r[3] for r in expected])
    assert np.allclose(r_all[order, 0], (target - x_all[order, 0]) / target)
    full = jet_dataset(ev, min_objects=4, targets=TARGET_NAMES)  # the option: eta and phi too
    assert full.target_names == TARGET_NAMES
    full_r = np.concatenate([full.residual[s] for s in ("train", "val", "test")])
    assert np.array_equal(full_r[:, 0], r_all[:, 0])
    assert np.all(np.abs(full_r[:, 2]) < 0.2)  # the axes sit near their L1 jets, wrap included
    with pytest.raises(ConfigError, match="targets"):
        jet_dataset(ev, min_objects=4, targets=("dpt",))
    m = data.match
    assert m["duplicates"] == 1
    assert m["selected"] == 4
    assert m["l1_jets"] == 5
    assert (m["offline_jets"], m["offline_matched"]) == (7, 5)  # 10 GeV jet below threshold
    assert m["l1_matches_0"] == pytest.approx(1 / 5)
    assert m["l1_matches_2"] == pytest.approx(1 / 5)
    assert m["offline_matched_pt_fraction"] == pytest.approx(203.0 / 259.0)


def test_too_few_objects_say_how_many() -> None:
    ev, _ = _jet_events()
    with pytest.raises(DataFormatError, match=r"4 matched L1 jets in 4 events, at least 20"):
        jet_dataset(ev)
    ev_mu, _ = _muon_events(5)
    with pytest.raises(
        DataFormatError,
        match=r"muon data set: \d+ matched L1 muons with 5.5 < pT < 45.0 GeV in 5 events",
    ):
        muon_dataset(ev_mu, source="tracker")
    with pytest.raises(DataFormatError, match="L1T_MuonTight_PT"):
        muon_dataset({k: v for k, v in ev_mu.items() if k != "L1T_MuonTight_PT"}, source="tracker")
    with pytest.raises(ConfigError, match="pt_max"):
        muon_dataset(ev_mu, pt_min=10.0, pt_max=5.0, source="tracker")


def test_build_regression_data_checks_shapes() -> None:
    x = np.arange(40.0).reshape(20, 2)
    r = np.ones((20, 3))
    d = build_regression_data("jet", ("a", "b"), x, r)
    assert np.allclose(d.target_std, 1.0)  # a constant target keeps a unit scale
    assert np.allclose(d.y["train"], 0.0)
    with pytest.raises(DataFormatError, match="inputs"):
        build_regression_data("jet", ("a",), x, r)
    with pytest.raises(DataFormatError, match="targets"):
        build_regression_data("jet", ("a", "b"), x, r[:, :2])
    with pytest.raises(DataFormatError, match="finite"):
        build_regression_data("jet", ("a", "b"), x, np.full((20, 3), np.nan))
    with pytest.raises(DataFormatError, match="targets"):
        d.unscale_targets(np.zeros((3, 2)))


def _standalone_events(
    n_events: int = 150, seed: int = 8
) -> tuple[dict[str, ak.Array], dict[str, np.ndarray]]:
    """Offline muons and standalone L1 muons at their station position, 30 % pT smearing."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 3, n_events)
    n = int(counts.sum())
    pt = rng.uniform(3.0, 40.0, n)
    eta = rng.uniform(-2.3, 2.3, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    q = rng.choice([-1, 1], n)
    spec = load_view_card("L1T").muon_system
    assert spec is not None
    zero = np.zeros(n)
    eta_st, phi_st, reached = station_position(pt, eta, phi, q, zero, zero, zero, spec.geometry)
    assert reached.all()
    pt_l1 = pt * np.exp(0.3 * rng.standard_normal(n))
    hw_pt = np.clip(np.floor(pt_l1 / 0.5 + 0.5), 1, 511).astype(np.int16)
    hw_eta = np.floor(eta_st / 0.010875 + 0.5).astype(np.int16)
    hw_phi = (np.floor((phi_st % TWO_PI) / MU_PHI_LSB + 0.5) % 576).astype(np.int16)
    ev = {
        "L1T_MuonStandalone_HwPt": _jag(hw_pt, counts),
        "L1T_MuonStandalone_HwEta": _jag(hw_eta, counts),
        "L1T_MuonStandalone_HwPhi": _jag(hw_phi, counts),
        "L1T_MuonStandalone_Charge": _jag(q.astype(np.int8), counts),
        "FullReco_MuonTight_PT": _jag(pt, counts),
        "FullReco_MuonTight_Eta": _jag(eta, counts),
        "FullReco_MuonTight_Phi": _jag(phi, counts),
        "FullReco_MuonTight_Charge": _jag(q.astype(np.int8), counts),
    }
    truth = {"pt": pt, "eta": eta, "phi": phi, "q": q, "hw_pt": hw_pt, "hw_eta": hw_eta}
    truth |= {"hw_phi": hw_phi, "phi_st": phi_st}
    return ev, truth


def test_standalone_muons_are_the_default_source() -> None:
    ev, t = _standalone_events()
    data = muon_dataset(ev, seed=2)
    pt, eta, phi = t["hw_pt"] * 0.5, t["hw_eta"] * 0.010875, t["hw_phi"] * MU_PHI_LSB
    dphi = (t["phi"] % TWO_PI - phi + math.pi) % TWO_PI - math.pi
    res = np.stack([(t["pt"] - pt) / t["pt"], t["eta"] - eta, dphi], axis=1)
    x = np.stack([pt, eta, phi, t["q"].astype(float)], axis=1)
    sel = (pt > 5.5) & (pt < 45.0)
    got = np.concatenate(
        [
            np.concatenate([data.x_physical[s], data.residual[s]], axis=1)
            for s in ("train", "val", "test")
        ]
    )
    expected = np.concatenate([x, res], axis=1)[sel]
    assert np.allclose(_sorted_rows(got), _sorted_rows(expected), atol=1e-9)
    # every L1 muon found its offline muon, though many sit far from it at the vertex:
    # the match is made at the station
    assert data.match["matched"] == data.match["l1"] == len(pt)
    bend = (t["phi_st"] - t["phi"] + math.pi) % TWO_PI - math.pi
    assert (np.abs(bend) > 0.2).sum() > 20
    # the targets are the vertex values: phi's holds the bending, against the charge's sign
    big = np.abs(res[sel, 2]) > 0.05
    assert np.all(np.sign(res[sel, 2][big]) == -np.sign(bend[sel][big]))


def test_offline_at_station_and_sources() -> None:
    pt = np.array([4.0, 20.0, 1.0])
    eta = np.array([0.3, -1.5, 0.0])
    phi = np.array([0.1, -3.0, 1.0])
    q = np.array([1.0, -1.0, 1.0])
    spec = load_view_card("L1T").muon_system
    assert spec is not None
    e_st, p_st = offline_at_station(pt, eta, phi, q)
    zero = np.zeros(3)
    ref_e, ref_p, ok = station_position(pt, eta, phi, q, zero, zero, zero, spec.geometry)
    assert ok.tolist() == [True, True, False]  # 1 GeV curls up inside the solenoid
    assert np.allclose(e_st[:2], ref_e[:2])
    assert np.allclose(p_st[:2], ref_p[:2] % TWO_PI)
    assert e_st[2] == 1e9  # matches nothing
    assert np.all((p_st >= 0) & (p_st < TWO_PI))
    ev, _ = _standalone_events(10)
    with pytest.raises(ConfigError, match="source: expected one of standalone, tracker"):
        muon_dataset(ev, source="muon-system")  # type: ignore[arg-type]
    with pytest.raises(DataFormatError, match="L1T_MuonStandalone_HwPt"):
        muon_dataset({k: v for k, v in ev.items() if k != "L1T_MuonStandalone_HwPt"})
