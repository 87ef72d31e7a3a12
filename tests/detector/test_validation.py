from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from l1scout._jagged import offsets_from_counts, wrap_phi
from l1scout.detector.muon_system import station_position
from l1scout.detector.validation import comparison, page, plots, reading
from l1scout.detector.validation import metrics as m
from l1scout.detector.validation.l1_muons import StandaloneMuonStudy, binned_rms
from l1scout.detector.validation.reading import Batch, detect_views
from l1scout.detector.validation.report import run_validation, write_report
from l1scout.detector.validation.results import describe
from l1scout.detector.validation.truth import read_truth
from l1scout.detector.view_card import load_view_card
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset
from l1scout.io.schema import GEN_COLUMNS, gen_object_columns, view_columns

# ------------------------------------------------------------------ metrics


def _random_offsets(rng: np.random.Generator, n_events: int, mean: float) -> np.ndarray:
    c = rng.poisson(mean, n_events)
    c[::5] = 0  # some empty events
    return offsets_from_counts(c)


def test_robust_sigma_is_the_gaussian_width_and_ignores_tails() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, 200_000)
    assert m.robust_sigma(x) == pytest.approx(2.0, rel=0.01)
    # 5 % of huge outliers barely move it, unlike the standard deviation
    y = np.r_[x, rng.normal(0, 1000.0, 10_000)]
    assert m.robust_sigma(y) == pytest.approx(2.0, rel=0.08)
    assert np.std(y) > 100
    # definition: half the 15.87-84.13 % quantile range, NaN and inf dropped
    z = np.r_[rng.exponential(1.0, 999), np.nan, np.inf]
    lo, hi = np.quantile(z[:999], [0.15865525393145707, 0.8413447460685429])
    assert m.robust_sigma(z) == pytest.approx(0.5 * (hi - lo))
    assert math.isnan(m.robust_sigma([1.0]))
    assert math.isnan(m.robust_sigma([]))


def test_binomial_efficiency_known_numbers() -> None:
    eff, err = m.binomial_efficiency([0, 5, 10, 0], [10, 10, 10, 0])
    assert eff[:3].tolist() == [0.0, 0.5, 1.0]
    assert err[:3] == pytest.approx([0.0, math.sqrt(0.25 / 10), 0.0])
    assert math.isnan(eff[3])
    with pytest.raises(ConfigError, match="n_pass"):
        m.binomial_efficiency([3], [2])


def test_binned_efficiency_matches_a_loop() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 11, 5000)
    passed = rng.random(5000) < 0.3 + 0.05 * x
    expected = np.clip(0.3 + 0.05 * x, 0, 1)
    edges = np.array([0.0, 1.0, 2.5, 5.0, 10.0])
    b = m.binned_efficiency(x, passed, edges, expected)
    for k in range(len(edges) - 1):
        inside = [i for i in range(len(x)) if edges[k] <= x[i] < edges[k + 1]]
        n = len(inside)
        npass = sum(bool(passed[i]) for i in inside)
        assert b.total[k] == n
        assert b.passed[k] == npass
        assert b.efficiency[k] == pytest.approx(npass / n)
        assert b.error[k] == pytest.approx(math.sqrt((npass / n) * (1 - npass / n) / n))
        assert b.expected[k] == pytest.approx(sum(expected[i] for i in inside) / n)
    assert b.centers.tolist() == [0.5, 1.75, 3.75, 7.5]
    # the last edge belongs to the last bin, as in numpy.histogram
    assert m.binned_efficiency([10.0], [True], edges).total.tolist() == [0, 0, 0, 1]
    assert np.isnan(m.binned_efficiency([], [], edges).efficiency).all()
    with pytest.raises(ConfigError, match="edges"):
        m.binned_efficiency([1.0], [True], [2.0, 1.0])


def test_binned_spread_matches_a_loop() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 4, 3000)
    v = rng.normal(0, 1 + x, 3000)
    v[::50] = np.nan
    s = m.binned_spread(x, v, [0, 1, 2, 4])
    for k, (lo, hi) in enumerate([(0, 1), (1, 2), (2, 4)]):
        sel = v[(x >= lo) & (x < hi) & np.isfinite(v)]
        assert s.n[k] == len(sel)
        assert s.median[k] == pytest.approx(float(np.median(sel)))
        assert s.sigma[k] == pytest.approx(m.robust_sigma(sel))
    # roughly the generated width 1 + x at the bin centre
    assert s.sigma[0] == pytest.approx(1.5, rel=0.1)
    assert s.sigma[2] == pytest.approx(4.0, rel=0.1)


def test_jet_response_matches_a_loop() -> None:
    rng = np.random.default_rng(4)
    ref = rng.uniform(20, 200, 4000)
    reco = ref * rng.normal(0.9, 0.09, 4000)
    reco[rng.random(4000) < 0.1] = np.nan  # unmatched
    edges = [20.0, 50.0, 80.0, 200.0]
    r = m.jet_response(ref, reco, edges)
    for k in range(3):
        in_bin = (ref >= edges[k]) & (ref < edges[k + 1])
        ratio = reco[in_bin] / ref[in_bin]
        ratio = ratio[np.isfinite(ratio)]
        assert r.n_ref[k] == in_bin.sum()
        assert r.n_matched[k] == len(ratio)
        assert r.median[k] == pytest.approx(float(np.median(ratio)))
        assert r.resolution[k] == pytest.approx(m.robust_sigma(ratio) / np.median(ratio))
        assert r.median[k] == pytest.approx(0.9, abs=0.01)
        assert r.resolution[k] == pytest.approx(0.1, rel=0.1)
    assert r.at(50, 80) == (r.median[1], r.resolution[1])
    assert all(math.isnan(v) for v in r.at(1, 2))


def _slow_match_closest(
    reta: np.ndarray,
    rphi: np.ndarray,
    roff: np.ndarray,
    oeta: np.ndarray,
    ophi: np.ndarray,
    ooff: np.ndarray,
    max_dr: float,
) -> list[int]:
    out = []
    for ev in range(len(roff) - 1):
        for i in range(roff[ev], roff[ev + 1]):
            best, best_dr = -1, max_dr
            for j in range(ooff[ev], ooff[ev + 1]):
                dphi = (rphi[i] - ophi[j] + math.pi) % (2 * math.pi) - math.pi
                dr = math.hypot(reta[i] - oeta[j], dphi)
                if dr < best_dr:
                    best, best_dr = j, dr
            out.append(best)
    return out


def test_match_closest_matches_a_loop() -> None:
    rng = np.random.default_rng(5)
    roff = _random_offsets(rng, 60, 3)
    ooff = _random_offsets(rng, 60, 6)
    reta = rng.uniform(-2, 2, roff[-1])
    rphi = rng.uniform(-math.pi, math.pi, roff[-1])
    oeta = rng.uniform(-2, 2, ooff[-1])
    ophi = rng.uniform(-math.pi, math.pi, ooff[-1])
    got = m.match_closest(reta, rphi, roff, oeta, ophi, ooff, 0.6)
    assert got.tolist() == _slow_match_closest(reta, rphi, roff, oeta, ophi, ooff, 0.6)
    assert (got >= 0).sum() > 20  # the test exercises matches and misses
    assert (got < 0).sum() > 20
    # across the phi = +-pi seam
    seam = m.match_closest([0.0], [3.1], [0, 1], [0.0, 0.0], [-3.1, 2.0], [0, 2], 0.2)
    assert seam.tolist() == [0]
    with pytest.raises(ConfigError, match="same events"):
        m.match_closest([0.0], [0.0], [0, 1], [0.0], [0.0], [0, 1, 1], 0.2)


def test_track_links_match_a_loop() -> None:
    rng = np.random.default_rng(6)
    goff = _random_offsets(rng, 40, 8)
    coff = _random_offsets(rng, 40, 6)
    n_gen = np.diff(goff)
    uid, charge = [], []
    for ev in range(40):
        for _ in range(coff[ev + 1] - coff[ev]):
            if rng.random() < 0.3 or n_gen[ev] == 0:
                uid.append((1 << 31) + int(rng.integers(0, 100)))
                charge.append(0)
            else:
                uid.append(int(rng.integers(1, n_gen[ev] + 2)))  # n_gen + 1 points past the event
                charge.append(int(rng.choice([-1, 1])))
    uid_a = np.array(uid, dtype=np.uint32)
    charge_a = np.array(charge, dtype=np.int8)
    got = m.track_gen_index(goff, coff, uid_a, charge_a)
    slow = []
    for ev in range(40):
        for c in range(coff[ev], coff[ev + 1]):
            ok = charge[c] != 0 and 1 <= uid[c] <= n_gen[ev]
            slow.append(goff[ev] + uid[c] - 1 if ok else -1)
    assert got.tolist() == slow
    inverse = m.match_tracks(goff, coff, uid_a, charge_a)
    for g in range(goff[-1]):
        claims = [c for c in range(len(slow)) if slow[c] == g]
        assert inverse[g] == (claims[0] if claims else -1)


def test_per_event_helpers_match_a_loop() -> None:
    rng = np.random.default_rng(7)
    off = _random_offsets(rng, 30, 3)
    v = rng.normal(size=off[-1])
    mask = rng.random(off[-1]) < 0.4
    where = m.first_where(v, off, mask, fill=-99.0)
    for ev in range(30):
        seg = range(off[ev], off[ev + 1])
        hits = [i for i in seg if mask[i]]
        assert where[ev] == (v[hits[0]] if hits else -99.0)
    assert m.counts(off).tolist() == np.diff(off).tolist()
    with pytest.raises(ConfigError, match="offsets"):
        m.first_where([1.0, 2.0], [0, 1], [True, False])


def test_binned_mean_matches_a_loop() -> None:
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 3, 500)
    v = rng.normal(size=500)
    v[::7] = np.nan
    got = m.binned_mean(x, v, [0, 1, 2, 3, 4])
    for k in range(3):
        sel = [v[i] for i in range(500) if k <= x[i] < k + 1 and np.isfinite(v[i])]
        assert got[k] == pytest.approx(sum(sel) / len(sel))
    assert math.isnan(got[3])


def test_small_helpers() -> None:
    x, y = m.met_components([10.0], [math.pi])
    assert (x[0], y[0]) == pytest.approx((-10.0, 0.0))
    assert m.weighted_fraction([2.0, 2.0], [0.5, 0.0]) == pytest.approx(0.25)
    assert math.isnan(m.weighted_fraction([], []))
    assert m.species(np.array([-11, 13, 321, 22])).tolist() == [0, 1, 2, 2]


# ------------------------------------------------------------------ synthetic files

_JETS = ["JetAK4", "JetPuppiAK4"]
_TYPES: dict[str, pa.DataType] = {
    c.name: c.arrow_type()
    for c in (
        *GEN_COLUMNS,
        *gen_object_columns(["Gen_JetAK4"]),
        *view_columns("FullReco", _JETS),
        *view_columns("L1T", _JETS, "MuonStandalone"),
    )
}
#: (track pT resolution, dz resolution mm, PV z resolution mm, MET resolution GeV, CHS / PUPPI jet response)
_VIEWS = {
    "FullReco": {
        "pt": 0.01,
        "dz": 0.02,
        "pv": 0.01,
        "met": 15.0,
        "puppimet": 10.0,
        "chs": 0.9,
        "puppi": 1.0,
    },
    "L1T": {
        "pt": 0.03,
        "dz": 0.1,
        "pv": 0.08,
        "met": 30.0,
        "puppimet": 20.0,
        "chs": 0.8,
        "puppi": 0.95,
    },
}
_NEUTRAL = 1 << 31


def _f16(x: float) -> float:
    return float(np.float16(x))


def _event(rng: np.random.Generator, k: int, views: tuple[str, ...]) -> dict[str, list[Any]]:
    ev: dict[str, list[Any]] = {}

    def put(name: str, *values: Any) -> None:
        ev.setdefault(name, []).extend(values)

    z_hs = float(np.float32(rng.normal(0, 40)))
    z_pu = [float(np.float32(rng.normal(0, 40))) for _ in range(2)]
    for idx, z in zip((1, 0, 2), (z_pu[0], z_hs, z_pu[1]), strict=True):  # hard scatter not first
        put("Vertex_Index", idx)
        put("Vertex_X", 0.0)
        put("Vertex_Y", 0.0)
        put("Vertex_Z", z)
    # generated particles: (pid, status, charge, is_pu, z, x)
    parts: list[tuple[int, int, int, int, float, float]] = []
    signs = rng.choice([-1, 1], 14)
    parts += [(int(211 * q), 1, int(q), 0, z_hs, 0.0) for q in signs]
    parts += [(11, 1, -1, 0, z_hs, 0.0), (-11, 1, 1, 0, z_hs, 0.0)]
    parts += [(13, 1, -1, 0, z_hs, 0.0), (-13, 1, 1, 0, z_hs, 0.0)]
    parts += [(411, 2, 1, 0, z_hs, 0.0), (211, 1, 1, 0, z_hs + 2.0, 1.0)]  # decayed, displaced
    parts += [(22, 1, 0, 0, z_hs, 0.0)] * 3
    parts += [(211, 1, 1, 1, z_pu[i % 2], 0.0) for i in range(10)]
    for n, (pid, status, charge, is_pu, z, x) in enumerate(parts):
        lepton = abs(pid) in {11, 13}
        pt = _f16(rng.uniform(3, 40) if lepton else np.exp(rng.uniform(np.log(0.5), np.log(50))))
        eta = _f16(rng.uniform(-2.3, 2.3) if lepton else rng.uniform(-3.0, 3.0))
        put("Gen_Part_PID", pid)
        put("Gen_Part_Status", status)
        put("Gen_Part_Charge", charge)
        put("Gen_Part_IsPU", is_pu)
        put("Gen_Part_PT", pt)
        put("Gen_Part_Eta", eta)
        put("Gen_Part_Phi", _f16((n * 2.4) % (2 * math.pi) - math.pi))  # no draw: same stream
        put("Gen_Part_Mass", 0.0)
        put("Gen_Part_X", x)
        put("Gen_Part_Y", 0.0)
        put("Gen_Part_Z", z)
    gen_met, gen_phi = rng.uniform(0, 100), rng.uniform(-math.pi, math.pi)
    put("Gen_MissingET_MET", gen_met)
    put("Gen_MissingET_Phi", gen_phi)
    gen_jets = [
        (np.exp(rng.uniform(np.log(20), np.log(400))), rng.uniform(-3, 3), rng.uniform(-3, 3))
        for _ in range(3)
    ]
    for pt, eta, phi in gen_jets:
        put("Gen_JetAK4_PT", pt)
        put("Gen_JetAK4_Eta", eta)
        put("Gen_JetAK4_Phi", phi)
    for view in views:
        p = _VIEWS[view]
        l1t = view == "L1T"
        v = f"{view}_PUPPIPart"
        n_neutral = 0
        for i, (_pid, status, charge, is_pu, z, _) in enumerate(parts):
            pt, eta = ev["Gen_Part_PT"][i], ev["Gen_Part_Eta"][i]
            if status != 1:
                continue
            if charge == 0:
                uid, w, dz, err = _NEUTRAL + n_neutral, 0.8, 0.0, 0.0
                n_neutral += 1
                reco_pt = pt
            else:
                accepted = not l1t or (pt > 2.0 and abs(eta) <= 2.4)
                if not accepted or rng.random() > 0.9:
                    continue
                uid, w, err = i + 1, 0.0 if is_pu else 1.0, p["dz"]
                dz = z + rng.normal(0, err)
                reco_pt = pt * (1 + rng.normal(0, p["pt"]))
            put(f"{v}_fUniqueID", uid)
            put(f"{v}_Charge", charge)
            put(f"{v}_PT", reco_pt)
            put(f"{v}_Eta", eta)
            put(f"{v}_DZ", dz)
            put(f"{v}_ErrorDZ", err)
            put(f"{v}_IsPU", is_pu)
            put(f"{v}_PuppiW", w)
        for _ in range(5):  # neutral pileup
            put(f"{v}_fUniqueID", _NEUTRAL + n_neutral)
            n_neutral += 1
            put(f"{v}_Charge", 0)
            put(f"{v}_PT", rng.uniform(1, 5))
            put(f"{v}_Eta", rng.uniform(-3, 3))
            put(f"{v}_DZ", 0.0)
            put(f"{v}_ErrorDZ", 0.0)
            put(f"{v}_IsPU", 1)
            put(f"{v}_PuppiW", 0.1)
        put(
            f"{view}_PFPart_PT",
            *[x for x, pu in zip(ev[f"{v}_PT"], ev[f"{v}_IsPU"], strict=True) if not pu],
        )
        put(f"{view}_Electron_PT", 20.0)
        put(f"{view}_MuonTight_PT", 25.0)
        if k % 2:
            put(f"{view}_PhotonTight_PT", 30.0)
        if not (l1t and k == 3):  # one L1T event without a vertex
            put(f"{view}_Vertex_Z", z_hs + rng.normal(0, p["pv"]), z_pu[0])
        ev.setdefault(f"{view}_Vertex_Z", [])
        ev.setdefault(f"{view}_PhotonTight_PT", [])
        for coll in ("MET", "PUPPIMET"):
            sigma = p[coll.lower()]
            mx = gen_met * math.cos(gen_phi) + rng.normal(0, sigma)
            my = gen_met * math.sin(gen_phi) + rng.normal(0, sigma)
            put(f"{view}_{coll}_MET", math.hypot(mx, my))
            put(f"{view}_{coll}_Phi", math.atan2(my, mx))
        for coll, resp in (("JetAK4", p["chs"]), ("JetPuppiAK4", p["puppi"])):
            for pt, eta, phi in gen_jets:
                put(f"{view}_{coll}_PT", pt * resp * (1 + rng.normal(0, 0.1)))
                put(f"{view}_{coll}_Eta", eta + 0.05)
                put(f"{view}_{coll}_Phi", phi - 0.05)
            put(f"{view}_{coll}_PT", 18.0)  # an unmatched pileup jet
            put(f"{view}_{coll}_Eta", 4.5)
            put(f"{view}_{coll}_Phi", 0.0)
    return ev


def _add_standalone_muons(events: list[dict[str, list[Any]]], rng: np.random.Generator) -> None:
    """``L1T_MuonStandalone`` for every generated muon: at its station position, eta and phi 0.01 wide."""
    geometry = load_view_card("L1T").muon_system.geometry  # type: ignore[union-attr]
    for ev in events:
        mu = [i for i, pid in enumerate(ev["Gen_Part_PID"]) if abs(pid) == 13]
        field = {
            f: np.array([ev[f"Gen_Part_{f}"][i] for i in mu], dtype=np.float64)
            for f in ("PT", "Eta", "Phi", "Charge", "X", "Y", "Z")
        }
        eta_st, phi_st, _ = station_position(
            *(field[f] for f in ("PT", "Eta", "Phi", "Charge", "X", "Y", "Z")), geometry
        )
        ev["L1T_MuonStandalone_PT"] = (field["PT"] * rng.normal(1.0, 0.1, len(mu))).tolist()
        ev["L1T_MuonStandalone_Eta"] = (eta_st + rng.normal(0, 0.01, len(mu))).tolist()
        ev["L1T_MuonStandalone_Phi"] = wrap_phi(phi_st + rng.normal(0, 0.01, len(mu))).tolist()
        ev["L1T_MuonStandalone_Charge"] = field["Charge"].astype(int).tolist()


def write_synthetic(
    path: Path,
    n_events: int = 120,
    seed: int = 11,
    views: tuple[str, ...] = ("FullReco", "L1T"),
    drop: tuple[str, ...] = (),
    rho: float | None = None,
    metadata: dict[str, str] | None = None,
    standalone: bool = False,
) -> Path:
    """A small l1scout-like file: the columns the validation reads, with known resolutions.

    With *rho*, each view gets ``<View>_Rho_Rho`` = rho x (1, 2, 3, 4, 5) in the
    five regions of the shipped cards (the central one, the third, is 3 rho).
    With *standalone*, the L1T view gets a standalone Level-1 muon for every
    generated muon (:func:`_add_standalone_muons`).
    """
    rng = np.random.default_rng(seed)
    events = [_event(rng, k, views) for k in range(n_events)]
    if standalone:
        _add_standalone_muons(events, np.random.default_rng(seed + 1))
    if rho is not None:
        for ev in events:
            for view in views:
                ev[f"{view}_Rho_Rho"] = [rho * k for k in range(1, 6)]
    names = [n for n in events[0] if n not in drop]
    table = pa.table({n: pa.array([ev[n] for ev in events], type=_TYPES[n]) for n in names})
    meta = {"process": "synthetic", "nEvents": str(n_events), "l1scout_version": "test"}
    meta |= metadata or {}
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("validation") / "synthetic.parquet")


def _column(path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    col = pq.read_table(path, columns=[name]).column(name).combine_chunks()
    off = np.asarray(col.offsets, dtype=np.int64)
    return off, np.asarray(col.values.to_numpy(zero_copy_only=False), dtype=np.float64)


def test_detect_views() -> None:
    assert detect_views(["Gen_Part_PT", "Mine_PFPart_PT", "L1T_PFPart_PT", "_PFPart_PT"]) == [
        "L1T",
        "Mine",
    ]
    assert detect_views(["Gen_Part_PT"]) == []


def test_numbers_of_a_synthetic_file(sample: Path) -> None:
    result = run_validation([sample], batch_size=32)  # several batches
    assert result.n_events == 120
    assert list(result.views) == ["FullReco", "L1T"]
    assert result.files[0].process == "synthetic"
    full, l1t = result.views["FullReco"].numbers, result.views["L1T"].numbers

    # tracking efficiency: recount from the file, slowly
    g_off, pid = _column(sample, "Gen_Part_PID")
    _, status = _column(sample, "Gen_Part_Status")
    _, pt = _column(sample, "Gen_Part_PT")
    _, eta = _column(sample, "Gen_Part_Eta")
    _, is_pu = _column(sample, "Gen_Part_IsPU")
    c_off, uid = _column(sample, "FullReco_PUPPIPart_fUniqueID")
    n_den = n_num = 0
    for ev in range(120):
        tracked = {int(u) - 1 for u in uid[c_off[ev] : c_off[ev + 1]] if u < _NEUTRAL}
        for j in range(g_off[ev + 1] - g_off[ev]):
            i = g_off[ev] + j
            if (
                status[i] == 1
                and abs(pid[i]) == 211
                and is_pu[i] == 0
                and pt[i] > 1
                and abs(eta[i]) < 1.2
            ):
                n_den += 1
                n_num += j in tracked
    assert n_den > 200
    assert full["track_eff_hadron"] == pytest.approx(n_num / n_den)
    assert full["track_eff_hadron"] == pytest.approx(0.9, abs=0.05)
    assert full["track_eff_hadron_card"] > 0.9  # FullReco card: 0.97 above 1 GeV, |eta| < 1.2

    # resolutions: the generated widths come back
    assert full["track_pt_resolution"] == pytest.approx(0.01, rel=0.2)
    assert l1t["track_pt_resolution"] == pytest.approx(0.03, rel=0.2)
    assert full["track_dz_resolution"] == pytest.approx(0.02, rel=0.15)  # displaced pion left out
    assert l1t["track_dz_resolution"] == pytest.approx(0.1, rel=0.15)
    assert full["track_dz_pull_width"] == pytest.approx(1.0, rel=0.15)
    assert full["pv_dz_sigma"] == pytest.approx(0.01, rel=0.25)
    assert l1t["pv_dz_sigma"] == pytest.approx(0.08, rel=0.25)
    assert full["pv_efficiency"] == 1.0
    assert l1t["pv_efficiency"] == pytest.approx(119 / 120)
    assert full["n_true_vertices_mean"] == 3.0
    assert full["met_sigma_x"] == pytest.approx(15.0, rel=0.25)
    assert l1t["puppimet_sigma_y"] == pytest.approx(20.0, rel=0.25)

    # jets: median response and resolution at 50-80 GeV
    assert full["jet_JetAK4_response_50_80"] == pytest.approx(0.9, abs=0.04)
    assert full["jet_JetPuppiAK4_response_50_80"] == pytest.approx(1.0, abs=0.04)
    assert l1t["jet_JetAK4_response_50_80"] == pytest.approx(0.8, abs=0.04)
    assert full["jet_JetAK4_resolution_50_80"] == pytest.approx(0.1, rel=0.3)
    assert full["jet_JetAK4_matched_50_80"] == 1.0

    # PUPPI: neutral PU weight 0.1, neutral PV 0.8; PU pT mostly removed
    assert full["puppi_w_neutral_pu"] == pytest.approx(0.1, abs=1e-3)
    assert full["puppi_w_neutral_pv"] == pytest.approx(0.8, abs=1e-3)
    assert full["puppi_pt_kept_pu"] < 0.1
    assert full["puppi_pt_kept_pv"] > 0.9

    # acceptance and multiplicities
    assert l1t["track_min_gen_pt"] > 2.0
    assert l1t["track_max_abs_eta"] <= 2.4
    assert full["track_max_abs_eta"] > 2.4
    assert full["mult_Electron"] == 1.0
    assert full["mult_PhotonTight"] == 0.5
    assert full["mult_JetAK4"] == 4.0
    p_off, _ = _column(sample, "L1T_PUPPIPart_PT")
    assert l1t["max_PUPPIPart"] == np.diff(p_off).max()
    assert l1t["mult_PUPPIPart"] == pytest.approx(np.diff(p_off).mean())
    assert math.isnan(full["rho_central"])  # the file has no rho

    checks = {c.name: c for c in result.checks}
    assert sorted(checks) == [
        "l1t_at_most_1000_candidates",
        "l1t_no_tracks_below_2gev",
        "l1t_no_tracks_beyond_eta_2p4",
        "l1t_track_resolution_worse",
        "l1t_vertex_resolution_worse",
        "puppi_removes_pileup_FullReco",
        "puppi_removes_pileup_L1T",
    ]
    assert all(c.passed for c in result.checks), [c for c in result.checks if not c.passed]


def test_checks_fail_when_the_views_are_swapped(tmp_path: Path) -> None:
    # an "L1T" view that is really the offline one: FullReco-like acceptance and resolution
    path = write_synthetic(tmp_path / "swapped.parquet", n_events=40, views=("FullReco", "L1T"))
    table = pq.read_table(path)
    renamed = [
        n.replace("FullReco_", "X_").replace("L1T_", "FullReco_").replace("X_", "L1T_")
        for n in table.column_names
    ]
    pq.write_table(table.rename_columns(renamed), path)
    checks = {c.name: c.passed for c in run_validation([path]).checks}
    assert checks["l1t_no_tracks_beyond_eta_2p4"] is False
    assert checks["l1t_no_tracks_below_2gev"] is False
    assert checks["l1t_track_resolution_worse"] is False
    assert checks["l1t_vertex_resolution_worse"] is False
    assert checks["puppi_removes_pileup_L1T"] is True


def test_write_report(sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one cheap plot here; tests/cli/test_validate.py draws them all
    cheap = [p for p in plots._PLOTS if p[1] is plots._plot_multiplicity]
    monkeypatch.setattr(plots, "_PLOTS", tuple(cheap))
    out = tmp_path / "page"
    page = write_report([sample, sample], out, command="l1scout validate x --out page")
    assert page == out / "index.html"
    text = page.read_text()
    assert "l1scout validate x --out page" in text
    assert "synthetic" in text
    assert "l1t_track_resolution_worse" in text
    assert text.count("class='pass'") == 7
    numbers = json.loads((out / "numbers.json").read_text())
    assert numbers["n_events"] == 240
    assert [f["events"] for f in numbers["files"]] == [120, 120]
    assert set(numbers["numbers"]) == {"FullReco", "L1T"}
    single = run_validation([sample]).views["FullReco"].numbers
    doubled = numbers["numbers"]["FullReco"]
    assert doubled["track_eff_hadron"] == pytest.approx(single["track_eff_hadron"])
    assert doubled["pv_dz_sigma"] == pytest.approx(single["pv_dz_sigma"], rel=0.05)
    assert numbers["checks"]["l1t_at_most_1000_candidates"]["passed"] is True
    assert numbers["plots"] == ["multiplicity.png"]
    assert (out / "multiplicity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "multiplicity.png").stat().st_size > 1000
    assert sorted(p.name for p in out.iterdir()) == [
        "index.html",
        "multiplicity.png",
        "numbers.json",
    ]
    assert "src='multiplicity.png'" in text
    curve = numbers["curves"]["L1T"]["track_eff_charged_hadron_pt"]
    assert len(curve["edges"]) == len(curve["efficiency"]) + 1
    assert curve["efficiency"][0] is None  # L1T sees no pion below 2 GeV: empty bins are null
    assert describe("track_dz_resolution")[1] == "mm"


def test_numbers_do_not_depend_on_the_chunks_io_reads(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # io reads chunks within its byte budget, cut at a multiple of batch_size; the
    # batches (and so every number) are the same as with one chunk for the whole file
    reference = run_validation([sample], batch_size=32)
    inputs = reading.open_inputs([sample])
    per_event = 1e6 / Dataset(inputs.files, inputs.columns, 10_000, 10**6).chunk_events(0)
    # 1 byte: chunks of one batch beyond the budget; ~70 events: chunks of 64 events
    for budget in (1, int(70 * per_event)):
        monkeypatch.setattr(reading, "CHUNK_BYTES", budget)
        batches = list(reading.open_inputs([sample]).batches(0, 32))
        assert [b.n_events for b in batches] == [32, 32, 32, 24]
        result = run_validation([sample], batch_size=32)
        for view, summary in reference.views.items():
            got = result.views[view].numbers
            assert list(got) == list(summary.numbers)
            assert all(
                got[k] == v or (math.isnan(got[k]) and math.isnan(v))
                for k, v in summary.numbers.items()
            )
        assert [c.passed for c in result.checks] == [c.passed for c in reference.checks]


def test_one_view_gives_no_checks(tmp_path: Path) -> None:
    path = write_synthetic(tmp_path / "one.parquet", n_events=10, views=("FullReco",))
    result = run_validation([path])
    assert list(result.views) == ["FullReco"]
    assert result.checks == []


def test_bad_inputs_are_named(tmp_path: Path, sample: Path) -> None:
    truth_only = write_synthetic(tmp_path / "truth.parquet", n_events=3, views=())
    with pytest.raises(DataFormatError, match=r"truth\.parquet: no detector view"):
        run_validation([truth_only])
    lacking = write_synthetic(tmp_path / "lacking.parquet", n_events=3, drop=("L1T_Vertex_Z",))
    with pytest.raises(DataFormatError, match=r"lacking\.parquet: missing column L1T_Vertex_Z"):
        run_validation([lacking])
    one = write_synthetic(tmp_path / "one.parquet", n_events=3, views=("FullReco",))
    with pytest.raises(DataFormatError, match=r"one\.parquet: missing column L1T_PUPPIPart"):
        run_validation([sample, one])
    with pytest.raises(DataFormatError, match="no such file"):
        run_validation([tmp_path / "nope.parquet"])
    with pytest.raises(ConfigError, match="at least one"):
        run_validation([])


# ------------------------------------------------------------ pileup definitions side by side


def _pileup_truth_by_hand(path: Path) -> tuple[float, float, float]:
    """(pileup collisions per event, final-state pileup particles and charged |eta| < 2.5 per collision)."""
    v_off, _ = _column(path, "Vertex_Index")
    _, status = _column(path, "Gen_Part_Status")
    _, is_pu = _column(path, "Gen_Part_IsPU")
    _, charge = _column(path, "Gen_Part_Charge")
    _, eta = _column(path, "Gen_Part_Eta")
    n_ev = len(v_off) - 1
    collisions = sum(v_off[e + 1] - v_off[e] - 1 for e in range(n_ev))
    final = [i for i in range(len(status)) if status[i] == 1 and is_pu[i] == 1]
    central = [i for i in final if charge[i] != 0 and abs(eta[i]) < 2.5]
    return collisions / n_ev, len(final) / collisions, len(central) / collisions


def test_two_pileup_definitions_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = write_synthetic(tmp_path / "c2v.parquet", n_events=40, seed=3, rho=2.0)
    new = write_synthetic(
        tmp_path / "inel.parquet",
        n_events=30,
        seed=4,
        rho=2.5,
        metadata={"pileup_definition": "inelastic", "pileup_mean": "200.0"},
    )
    # the first file was made before the metadata named the definition: its pool settings say it
    table = pq.read_table(old)
    settings = '{"pool": {"settings": ["Tune:pp = 14", "SoftQCD:all = on"], "seed": 1, "size": 9}}'
    meta = {**table.schema.metadata, b"settings": settings.encode(), b"pileup_mean": b"200.0"}
    pq.write_table(table.replace_schema_metadata(meta), old)

    result = run_validation([old], compare=[new], batch_size=16)
    assert result.files[0].pileup_definition == "collide2v"
    assert result.files[0].pileup_mean == 200.0
    assert result.comparison is not None
    first, second = result.comparison.sides
    assert (first.label, second.label) == ("collide2v", "inelastic")
    assert (first.n_events, second.n_events) == (40, 30)
    # each side measures what the validation of its files alone measures
    alone = run_validation([new], batch_size=16)
    for view in ("FullReco", "L1T"):
        assert (
            second.views[view].numbers["mult_PUPPIPart"]
            == alone.views[view].numbers["mult_PUPPIPart"]
        )
        assert first.views[view].numbers == result.views[view].numbers
    # rho: the card's central region (|eta| < 1.5) is the third of five: 3 x rho
    assert result.views["L1T"].numbers["rho_central"] == pytest.approx(6.0)
    assert second.views["FullReco"].numbers["rho_central"] == pytest.approx(7.5)
    # the generated pileup, counted by hand
    for side, path in ((first, old), (second, new)):
        collisions, particles, charged = _pileup_truth_by_hand(path)
        assert side.truth["gen_pu_collisions_mean"] == pytest.approx(collisions) == 2.0
        assert side.truth["gen_pu_particles_per_collision"] == pytest.approx(particles) == 5.0
        assert side.truth["gen_pu_charged_central_per_collision"] == pytest.approx(charged)
    rows = {(r[0], r[1]): r[3:] for r in comparison.comparison_rows(result.comparison)}
    a, b, ratio = rows[("FullReco", describe("rho_central")[0])]
    assert (a, b, ratio) == pytest.approx((6.0, 7.5, 1.25))
    a, b, ratio = rows[("L1T", describe("mult_PUPPIPart")[0])]
    assert ratio == pytest.approx(b / a)

    # the page: a section with both definitions and the sentence on CMS's, the plot, the JSON
    keep = (plots._plot_multiplicity, plots._plot_pileup_definitions)
    monkeypatch.setattr(plots, "_PLOTS", tuple(p for p in plots._PLOTS if p[1] in keep))
    page = write_report([old], tmp_path / "page", compare=[new], batch_size=16)
    text = page.read_text()
    assert "Pileup definitions side by side" in text
    assert "CMS rate studies assume the inelastic definition" in text
    assert "<th>collide2v</th><th>inelastic</th>" in text
    assert "collide2v (mean 200)" in text  # the files table
    assert "src='pileup_definitions.png'" in text
    assert (tmp_path / "page" / "pileup_definitions.png").stat().st_size > 1000
    numbers = json.loads((tmp_path / "page" / "numbers.json").read_text())
    sides = numbers["pileup_comparison"]["sides"]
    assert [s["pileup_definition"] for s in sides] == ["collide2v", "inelastic"]
    assert sides[1]["numbers"]["FullReco"]["rho_central"] == pytest.approx(7.5)
    assert numbers["files"][0]["pileup_definition"] == "collide2v"

    # without --compare: no section, no plot
    plain = write_report([old], tmp_path / "plain", batch_size=16)
    assert "Pileup definitions side by side" not in plain.read_text()
    assert not (tmp_path / "plain" / "pileup_definitions.png").exists()
    assert (
        json.loads((tmp_path / "plain" / "numbers.json").read_text())["pileup_comparison"] is None
    )


def test_same_definition_on_both_sides_is_said(tmp_path: Path) -> None:
    named = {"pileup_definition": "inelastic"}
    a = write_synthetic(tmp_path / "a.parquet", n_events=8, seed=5, metadata=named)
    b = write_synthetic(tmp_path / "b.parquet", n_events=8, seed=6, metadata=named)
    result = run_validation([a], compare=[b])
    assert result.comparison is not None
    assert [s.label for s in result.comparison.sides] == ["inelastic", "inelastic"]
    assert "the table compares samples, not definitions" in "".join(
        comparison.comparison_html(result.comparison)
    )
    one_view = write_synthetic(tmp_path / "one.parquet", n_events=3, views=("FullReco",))
    with pytest.raises(DataFormatError, match=r"one\.parquet: missing column L1T_PUPPIPart"):
        run_validation([a], compare=[one_view])


# ------------------------------------------------------------ standalone Level-1 muons


def _slow_match_greedy(
    reta: np.ndarray,
    rphi: np.ndarray,
    roff: np.ndarray,
    oeta: np.ndarray,
    ophi: np.ndarray,
    ooff: np.ndarray,
    max_dr: float,
) -> list[int]:
    out = [-1] * len(reta)
    for ev in range(len(roff) - 1):
        refs = set(range(roff[ev], roff[ev + 1]))
        objs = set(range(ooff[ev], ooff[ev + 1]))
        while True:
            pairs = [
                (
                    math.hypot(
                        reta[i] - oeta[j], (rphi[i] - ophi[j] + math.pi) % (2 * math.pi) - math.pi
                    ),
                    i,
                    j,
                )
                for i in refs
                for j in objs
            ]
            pairs = [p for p in pairs if p[0] < max_dr]
            if not pairs:
                break
            _, i, j = min(pairs)
            out[i] = j
            refs.discard(i)
            objs.discard(j)
    return out


def test_match_greedy_matches_a_loop_and_is_one_to_one() -> None:
    rng = np.random.default_rng(15)
    roff = _random_offsets(rng, 80, 3)
    ooff = _random_offsets(rng, 80, 3)
    reta = rng.uniform(-1, 1, roff[-1])
    rphi = rng.uniform(-1, 1, roff[-1])
    oeta = rng.uniform(-1, 1, ooff[-1])
    ophi = rng.uniform(-1, 1, ooff[-1])
    got = m.match_greedy(reta, rphi, roff, oeta, ophi, ooff, 0.5)
    assert got.tolist() == _slow_match_greedy(reta, rphi, roff, oeta, ophi, ooff, 0.5)
    matched = got[got >= 0]
    assert len(matched) > 50
    assert len(set(matched.tolist())) == len(matched)  # no object twice
    closest = m.match_closest(reta, rphi, roff, oeta, ophi, ooff, 0.5)
    assert len(set(closest[closest >= 0].tolist())) < (closest >= 0).sum()  # unlike the closest
    # two muons near one L1 muon: the closer takes it, the other is left unmatched
    pair = m.match_greedy([0.0, 0.1], [0.0, 0.0], [0, 2], [0.08], [0.0], [0, 1], 0.3)
    assert pair.tolist() == [-1, 0]


#: The synthetic standalone muons: pT resolution and efficiency per region, wrong-charge share,
#: eta and phi widths at the station.
_MU_SIGMA_PT = {"barrel": 0.10, "overlap": 0.20, "endcap": 0.30}
_MU_EFF = {"barrel": 0.90, "overlap": 0.80, "endcap": 0.70}
_MU_FLIP, _MU_SIGMA_ETA, _MU_SIGMA_PHI = 0.05, 0.02, 0.01


def _muon_batch(n: int, seed: int, with_muons: bool = True) -> tuple[Batch, dict[str, np.ndarray]]:
    """*n* events, each with two hard muons, a hard pion and a pileup muon, and their L1 muons.

    The two hard muons are about back to back in phi and the pileup muon
    (50 GeV) at 90 degrees, so no L1 muon lies near another muon. Each muon reaches the second station where the card's field map puts it
    (production point: the event's vertex, z about 5 cm wide); it gives an L1
    muon there with the efficiency of its region, eta and phi smeared by
    0.02 and 0.01, pT by a Gaussian of the region's width and the charge
    flipped 5 % of the time; the pileup muon always gives one. Returns the
    batch and the per-hard-muon truth of the construction.
    """
    rng = np.random.default_rng(seed)
    spec = load_view_card("L1T").muon_system
    assert spec is not None
    per = 4  # mu, mu, pion, pileup mu
    # log-uniform in 3-200 GeV, with most muons in the 10-50 GeV window of the table numbers
    wide = np.exp(rng.uniform(np.log(3.0), np.log(200.0), (n, per)))
    pt = np.where(
        rng.random((n, per)) < 0.6, np.exp(rng.uniform(np.log(10), np.log(50), (n, per))), wide
    )
    pt[:, 3] = 50.0  # the pileup muon: little bending, so never near a hard one at the station
    eta = rng.uniform(-2.3, 2.3, (n, per))
    phi0 = rng.uniform(-np.pi, np.pi, n)
    phi = wrap_phi(phi0[:, None] + np.array([0.0, np.pi, 0.0, -np.pi / 2]))
    phi[:, 1] = wrap_phi(phi[:, 1] + rng.uniform(-0.3, 0.3, n))
    q = rng.choice([-1, 1], (n, per)).astype(np.float64)
    q[:, 2] = 1.0
    pid = (-13 * q).astype(np.int64)
    pid[:, 2] = 211
    if not with_muons:
        pid[:] = np.where(q > 0, 211, -211)
    is_pu = np.tile([0, 0, 0, 1], (n, 1))
    z = np.where(is_pu == 1, rng.normal(0, 50.0, (n, 1)), rng.normal(0, 50.0, (n, 1)))
    x, y = rng.normal(0, 0.01, (n, per)), rng.normal(0, 0.01, (n, per))
    arrays = {"pt": pt, "eta": eta, "phi": phi, "q": q, "x": x, "y": y, "z": z}
    flat = {k: v.ravel() for k, v in arrays.items()}
    eta_st, phi_st, reached = station_position(
        flat["pt"],
        flat["eta"],
        flat["phi"],
        flat["q"],
        flat["x"],
        flat["y"],
        flat["z"],
        spec.geometry,
    )
    region = spec.region_of(np.where(reached, eta_st, flat["eta"]))
    name = np.array(spec.region_names)[np.maximum(region, 0)]
    is_mu = np.abs(pid.ravel()) == 13
    eff = np.array([_MU_EFF[r] for r in name])
    hard = is_pu.ravel() == 0
    found = is_mu & reached & (region >= 0) & np.where(hard, rng.random(n * per) < eff, True)
    sigma = np.array([_MU_SIGMA_PT[r] for r in name])
    l1_pt = np.maximum(flat["pt"] * (1 + sigma * rng.normal(size=n * per)), 0.5)
    l1_q = np.where(rng.random(n * per) < _MU_FLIP, -flat["q"], flat["q"])
    l1_eta = eta_st + _MU_SIGMA_ETA * rng.normal(size=n * per)
    l1_phi = wrap_phi(phi_st + _MU_SIGMA_PHI * rng.normal(size=n * per))
    gen_off = np.arange(n + 1, dtype=np.int64) * per
    l1_off = offsets_from_counts(found.reshape(n, per).sum(axis=1))
    one = np.arange(n + 1, dtype=np.int64)
    columns = {
        "Gen_Part_PT": (gen_off, flat["pt"]),
        "Gen_Part_Eta": (gen_off, flat["eta"]),
        "Gen_Part_Phi": (gen_off, flat["phi"]),
        "Gen_Part_PID": (gen_off, pid.ravel()),
        "Gen_Part_Status": (gen_off, np.ones(n * per, dtype=np.int64)),
        "Gen_Part_Charge": (gen_off, flat["q"].astype(np.int64)),
        "Gen_Part_IsPU": (gen_off, is_pu.ravel()),
        "Gen_Part_Mass": (gen_off, np.full(n * per, 0.1057)),
        "Gen_Part_X": (gen_off, flat["x"]),
        "Gen_Part_Y": (gen_off, flat["y"]),
        "Gen_Part_Z": (gen_off, flat["z"]),
        "Vertex_Index": (one, np.zeros(n, dtype=np.int64)),
        "Vertex_X": (one, np.zeros(n)),
        "Vertex_Y": (one, np.zeros(n)),
        "Vertex_Z": (one, z[:, 0]),
        "Gen_MissingET_MET": (one, np.zeros(n)),
        "Gen_MissingET_Phi": (one, np.zeros(n)),
        "L1T_MuonStandalone_PT": (l1_off, l1_pt[found]),
        "L1T_MuonStandalone_Eta": (l1_off, l1_eta[found]),
        "L1T_MuonStandalone_Phi": (l1_off, l1_phi[found]),
        "L1T_MuonStandalone_Charge": (l1_off, l1_q[found]),
    }
    truth = {
        "hard_mu": is_mu & hard,
        "pt": flat["pt"],
        "phi": flat["phi"],
        "region": region,
        "found": found,
        "rel_pt": (l1_pt - flat["pt"]) / flat["pt"],
        "wrong": l1_q != flat["q"],
        "dphi_vertex": wrap_phi(l1_phi - flat["phi"]),
    }
    return Batch(columns, 0, n), truth


def test_standalone_muons_against_known_smearing() -> None:
    spec = load_view_card("L1T").muon_system
    assert spec is not None
    n = 8000
    batch, t = _muon_batch(n, seed=21)
    study = StandaloneMuonStudy("L1T", spec)
    for start in range(0, n, 2500):  # several batches, as the page reads them
        part = Batch(batch._columns, start, min(start + 2500, n))
        study.add(part, read_truth(part, []))
    numbers: dict[str, float] = {}
    summary = study.summary(numbers)
    assert summary.note == ""
    assert list(summary.regions) == ["barrel", "overlap", "endcap"]
    # only the hard muons enter (not the pileup muon, not the pion), within the regions and pT bins
    entered = t["hard_mu"] & (t["region"] >= 0) & (t["pt"] >= 2.0) & (t["pt"] <= 500.0)
    assert summary.n_gen == numbers["l1mu_n_gen"] == entered.sum()
    assert summary.n_matched == (entered & t["found"]).sum()
    window = entered & (t["pt"] >= 10.0) & (t["pt"] < 50.0)
    for k, region in enumerate(spec.region_names):
        sel = window & (t["region"] == k)
        hit = sel & t["found"]
        n_sel, n_hit = int(sel.sum()), int(hit.sum())
        assert n_hit > 1500  # the widths below are known to about 3 %
        # efficiency: the constructed one exactly, and the region's input value within 4 sigma
        eff = numbers[f"l1mu_{region}_efficiency"]
        assert numbers[f"l1mu_{region}_n_gen"] == n_sel
        assert eff == pytest.approx(n_hit / n_sel)
        p = _MU_EFF[region]
        assert abs(eff - p) < 4 * math.sqrt(p * (1 - p) / n_sel)
        # pT: a Gaussian of known width, so robust sigma and RMS both give it back
        sigma = _MU_SIGMA_PT[region]
        assert numbers[f"l1mu_{region}_pt_resolution"] == pytest.approx(sigma, rel=0.08)
        rms = math.sqrt(float(np.mean(t["rel_pt"][hit] ** 2)))
        assert numbers[f"l1mu_{region}_pt_rms"] == pytest.approx(rms, rel=1e-9)
        assert rms == pytest.approx(sigma, rel=0.08)
        # eta and phi at the station: only a propagation from the production point gives these
        assert numbers[f"l1mu_{region}_phi_station_resolution"] == pytest.approx(
            _MU_SIGMA_PHI, rel=0.08
        )
        assert numbers[f"l1mu_{region}_eta_station_resolution"] == pytest.approx(
            _MU_SIGMA_ETA, rel=0.08
        )
        # phi to the vertex direction: the bending, far wider than the station width
        bend = math.sqrt(float(np.mean(t["dphi_vertex"][hit] ** 2)))
        assert numbers[f"l1mu_{region}_phi_vertex_rms"] == pytest.approx(bend, rel=1e-9)
        assert bend > 3 * _MU_SIGMA_PHI
        # wrong charges
        wrong = numbers[f"l1mu_{region}_charge_misid"]
        assert wrong == pytest.approx(t["wrong"][hit].sum() / n_hit)
        assert abs(wrong - _MU_FLIP) < 4 * math.sqrt(_MU_FLIP * (1 - _MU_FLIP) / n_hit)
        # the binned curves count the same muons
        c = summary.regions[region]
        in_region = entered & (t["region"] == k)
        totals = np.histogram(t["pt"][in_region], c.efficiency.edges)[0]
        assert c.efficiency.total.tolist() == totals.tolist()
        assert c.pt.n.sum() == (in_region & t["found"]).sum()
        # the card's core curvature resolution below 50 GeV (L1T card: 0.15, 0.22, 0.18)
        assert numbers[f"l1mu_{region}_pt_resolution_card"] == pytest.approx(
            {"barrel": 0.15, "overlap": 0.22, "endcap": 0.18}[region]
        )
    # the bending falls with pT: q dphi at 5-7 GeV is several times the one at 20-30 GeV
    b = summary.regions["barrel"].bending
    edges = list(summary.regions["barrel"].efficiency.edges)
    assert abs(b[edges.index(5.0)]) > 3 * abs(b[edges.index(20.0)]) > 0


def test_binned_rms_by_hand() -> None:
    got = binned_rms([1.0, 1.5, 2.5, 9.0], [3.0, 4.0, np.nan, 1.0], [1.0, 2.0, 3.0])
    assert got[0] == pytest.approx(math.sqrt(12.5))
    assert math.isnan(got[1])  # its only value is NaN; 9 lies outside


def test_standalone_muons_without_muons_or_columns(sample: Path, tmp_path: Path) -> None:
    spec = load_view_card("L1T").muon_system
    assert spec is not None
    # a sample without generator muons (minimum bias): said, not failed
    batch, _ = _muon_batch(50, seed=3, with_muons=False)
    study = StandaloneMuonStudy("L1T", spec)
    study.add(batch, read_truth(batch, []))
    numbers: dict[str, float] = {}
    summary = study.summary(numbers)
    assert summary.n_gen == 0
    assert summary.regions == {}
    assert "no generator muon" in summary.note
    assert numbers == {"l1mu_n_gen": 0.0, "l1mu_n_matched": 0.0}
    # files without the standalone columns (older files): the section is skipped with a note
    result = run_validation([sample])
    assert result.views["FullReco"].standalone_muons is None  # its card has no [muon_system]
    mu = result.views["L1T"].standalone_muons
    assert mu is not None
    assert mu.note.startswith("skipped: the files have no L1T_MuonStandalone columns")
    assert not any(k.startswith("l1mu_") for k in result.views["L1T"].numbers)
    assert plots._plot_standalone_muons(result, tmp_path) is None
    text = "".join(page._standalone_section(result))
    assert "<h2>Standalone Level-1 muons</h2>" in text
    assert "skipped: the files have no L1T_MuonStandalone columns" in text


def test_standalone_muons_on_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_synthetic(tmp_path / "muons.parquet", n_events=150, seed=5, standalone=True)
    keep = (plots._plot_standalone_muons,)
    monkeypatch.setattr(plots, "_PLOTS", tuple(p for p in plots._PLOTS if p[1] in keep))
    out = tmp_path / "page"
    text = write_report([path], out, batch_size=64).read_text()
    numbers = json.loads((out / "numbers.json").read_text())
    l1t = numbers["numbers"]["L1T"]
    # two hard muons per event, every one with an L1 muon at its station position
    assert l1t["l1mu_n_gen"] == l1t["l1mu_n_matched"]
    assert l1t["l1mu_n_gen"] >= 0.95 * 2 * 150
    assert l1t["l1mu_barrel_phi_station_resolution"] == pytest.approx(0.01, rel=0.3)
    assert l1t["l1mu_endcap_pt_resolution"] == pytest.approx(0.1, rel=0.3)
    assert "l1mu_n_gen" not in numbers["numbers"]["FullReco"]
    assert numbers["labels"]["l1mu_barrel_efficiency"][0].startswith(
        "standalone L1 muons, barrel: efficiency"
    )
    curves = numbers["curves"]["L1T"]["standalone_muons"]
    assert curves["collection"] == "L1T_MuonStandalone"
    assert list(curves["regions"]) == ["barrel", "overlap", "endcap"]
    barrel = curves["regions"]["barrel"]
    assert len(curves["edges"]) == len(barrel["efficiency"]["fraction"]) + 1
    assert sum(barrel["efficiency"]["total"]) == sum(barrel["pt_relative"]["n"])
    assert "standalone_muons" not in numbers["curves"]["FullReco"]
    assert numbers["plots"] == ["standalone_muons.png"]
    assert (out / "standalone_muons.png").stat().st_size > 1000
    assert "<h2>Standalone Level-1 muons</h2>" in text
    assert "within Delta R &lt; 0.3 at the station" in text
    assert f"{int(l1t['l1mu_n_gen'])} generator muons entered" in text
    assert "curvature_resolution" in text  # where the widths come from
