from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.detector.validation import metrics as m
from l1scout.detector.validation import plots, reading
from l1scout.detector.validation.reading import detect_views
from l1scout.detector.validation.report import run_validation, write_report
from l1scout.detector.validation.results import describe
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
        *view_columns("L1T", _JETS),
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
    for pid, status, charge, is_pu, z, x in parts:
        lepton = abs(pid) in {11, 13}
        pt = _f16(rng.uniform(3, 40) if lepton else np.exp(rng.uniform(np.log(0.5), np.log(50))))
        eta = _f16(rng.uniform(-2.3, 2.3) if lepton else rng.uniform(-3.0, 3.0))
        put("Gen_Part_PID", pid)
        put("Gen_Part_Status", status)
        put("Gen_Part_Charge", charge)
        put("Gen_Part_IsPU", is_pu)
        put("Gen_Part_PT", pt)
        put("Gen_Part_Eta", eta)
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


def write_synthetic(
    path: Path,
    n_events: int = 120,
    seed: int = 11,
    views: tuple[str, ...] = ("FullReco", "L1T"),
    drop: tuple[str, ...] = (),
) -> Path:
    """A small l1scout-like file: the columns the validation reads, with known resolutions."""
    rng = np.random.default_rng(seed)
    events = [_event(rng, k, views) for k in range(n_events)]
    names = [n for n in events[0] if n not in drop]
    table = pa.table({n: pa.array([ev[n] for ev in events], type=_TYPES[n]) for n in names})
    meta = {"process": "synthetic", "nEvents": str(n_events), "l1scout_version": "test"}
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
