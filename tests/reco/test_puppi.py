"""PUPPI weights: the numba implementation against a slow transcription of puppi.md."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.reco.puppi import CHARGED_PU, CHARGED_PV, LEPTON, NEUTRAL, puppi_weights

# --------------------------------------------------------------------------- tunes


@dataclass(frozen=True)
class Bin:
    eta_min: float
    eta_max: float
    pt_min: float
    cone_size: float
    rms_pt_min: float
    rms_scale_factor: float
    neutral_min_e: float
    neutral_pt_slope: float
    use_charged: bool


@dataclass(frozen=True)
class Tune:
    bins: tuple[Bin, ...]
    min_puppi_weight: float = 0.05
    apply_low_pu_corr: bool = True


# docs/physics/detector-views.md (PtMin 0, as the v04 card)
FULLRECO = Tune(
    bins=(
        Bin(0.0, 1.5, 0.0, 0.2, 0.1, 1.0, 0.2, 0.006, True),
        Bin(1.5, 4.0, 0.0, 0.2, 0.5, 1.0, 0.2, 0.013, True),
        Bin(4.0, 10.0, 0.0, 0.2, 0.5, 1.0, 0.5, 0.067, False),
    )
)
L1T = Tune(
    bins=(
        Bin(0.0, 1.5, 0.0, 0.3, 0.1, 1.0, 1.0, 0.006, True),
        Bin(1.5, 2.5, 0.0, 0.3, 0.5, 1.0, 1.0, 0.013, True),
        Bin(2.5, 3.0, 0.0, 0.3, 0.5, 1.0, 4.0, 0.03, False),
        Bin(3.0, 10.0, 0.0, 0.3, 0.5, 1.0, 10.0, 0.03, False),
    )
)
# PtMin > 0 with overlapping bins (first match wins), mixed cones, RMS scale, no low-PU correction
ODD = Tune(
    bins=(
        Bin(0.0, 2.0, 1.0, 0.25, 0.2, 1.0, 0.1, 0.002, True),
        Bin(1.5, 3.0, 0.0, 0.4, 0.3, 1.3, 0.3, 0.004, False),
        Bin(3.0, 6.0, 0.5, 0.15, 0.5, 0.8, 0.2, 0.01, True),
    ),
    min_puppi_weight=0.1,
    apply_low_pu_corr=False,
)
# a cone wider than pi in phi
WIDE = Tune(bins=(Bin(0.0, 20.0, 0.0, 3.5, 0.3, 1.0, 0.2, 0.005, False),))

TUNES = {"FullReco": FULLRECO, "L1T": L1T, "odd": ODD, "wide": WIDE}


# --------------------------------------------------------------------------- reference


def _dphi(a: float, b: float) -> float:
    d = a - b
    while d > math.pi:
        d -= 2 * math.pi
    while d < -math.pi:
        d += 2 * math.pi
    return d


def reference_event(pt, eta, y, phi, cat, n_pv, tune) -> list[float]:
    """puppi.md Steps 1-5 for one event, literally."""
    n = len(pt)
    bins = list(tune.bins)

    # Step 1: first bin with EtaMin <= |eta| <= EtaMax and pT >= PtMin; leptons are out
    def find_bin(i):
        if cat[i] == LEPTON:
            return None
        for b, spec in enumerate(bins):
            if spec.eta_min <= abs(eta[i]) <= spec.eta_max and pt[i] >= spec.pt_min:
                return b
        return None

    bin_of = [find_bin(i) for i in range(n)]

    # Step 2: alpha = ln(sum pT_j^2 / dR^2) over the cone, dR^2 < 1e-4 skipped
    alpha = [0.0] * n
    for i in range(n):
        b = bin_of[i]
        if b is None:
            continue
        spec = bins[b]
        total = 0.0
        for j in range(n):
            if cat[j] == LEPTON:
                continue
            if spec.use_charged and cat[j] != CHARGED_PV:
                continue
            dr2 = (y[j] - y[i]) ** 2 + _dphi(phi[j], phi[i]) ** 2
            if dr2 < 1e-4 or dr2 > spec.cone_size**2:
                continue
            total += pt[j] ** 2 / dr2
        alpha[i] = math.log(total) if total != 0 else 0.0

    # Step 3: median and RMS per bin
    stats = {}
    for b, spec in enumerate(bins):
        pu, pv = [], []
        for i in range(n):
            if bin_of[i] != b or pt[i] < spec.rms_pt_min:
                continue
            if spec.use_charged:
                if cat[i] == CHARGED_PU:
                    pu.append(alpha[i])
                elif cat[i] == CHARGED_PV:
                    pv.append(alpha[i])
            else:
                pu.append(alpha[i])
        if not pu:
            stats[b] = None
            continue
        srt = sorted(pu)
        n0 = 0
        for k, v in enumerate(srt):
            if v == 0:
                n0 = k
        median = srt[n0 + (len(srt) - n0) // 2]
        used = [v for v in srt if v != 0 and not (tune.apply_low_pu_corr and v > median)]
        rms2 = sum((v - median) ** 2 for v in used) / len(used) if used else 0.0
        if rms2 == 0:
            rms2 = 1e-5
        rms = math.sqrt(rms2) * spec.rms_scale_factor
        if tune.apply_low_pu_corr:
            n_below = sum(1 for v in pv if v <= median)
            a = n_below / (n_below + 0.5 * len(pu))
            if a > 0:
                q = NormalDist().inv_cdf((1 + a) / 2) ** 2  # chi2 (1 dof) quantile
                shift = math.sqrt(q * rms)
                median -= shift
                rms -= shift
        stats[b] = (median, rms)

    # Steps 4 and 5
    weights = []
    for i in range(n):
        b = bin_of[i]
        if cat[i] == LEPTON:
            weights.append(1.0)
            continue
        if b is None:
            weights.append(0.0 if cat[i] == CHARGED_PU else 1.0)
            continue
        if stats[b] is None:
            w = 1.0
        else:
            median, rms = stats[b]
            a = alpha[i] if alpha[i] != 0 else median
            chi2 = (a - median) * abs(a - median) / rms**2
            w = math.erf(math.sqrt(chi2 / 2)) if chi2 > 0 else 0.0
        if cat[i] == CHARGED_PV:
            w = 1.0
        if cat[i] == CHARGED_PU:
            w = 0.0
        if w < tune.min_puppi_weight:
            w = 0.0
        spec = bins[b]
        if cat[i] == NEUTRAL and w * pt[i] < spec.neutral_min_e + n_pv * spec.neutral_pt_slope:
            w = 0.0
        weights.append(w)
    return weights


def reference(offsets, pt, eta, y, phi, cat, n_pv, tune) -> np.ndarray:
    out: list[float] = []
    for k in range(len(offsets) - 1):
        s = slice(offsets[k], offsets[k + 1])
        out += reference_event(
            pt[s].tolist(),
            eta[s].tolist(),
            y[s].tolist(),
            phi[s].tolist(),
            cat[s].tolist(),
            int(n_pv[k]),
            tune,
        )
    return np.array(out)


# --------------------------------------------------------------------------- events


def _wrap(phi: np.ndarray) -> np.ndarray:
    return np.remainder(phi + np.pi, 2 * np.pi) - np.pi


def random_event(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Uniform particles over |eta| < 11 plus clusters (one at phi ~ pi), duplicates, edges."""
    n_uniform = n // 2
    eta = list(rng.uniform(-11, 11, n_uniform))
    phi = list(rng.uniform(-np.pi, np.pi, n_uniform))
    centres = [(rng.uniform(-1, 1), np.pi - 0.05), (rng.uniform(1.5, 3.5), rng.uniform(-3, 3))]
    centres += [(rng.uniform(-6, 6), rng.uniform(-3, 3)) for _ in range(3)]
    per = (n - n_uniform) // len(centres)
    for ce, cp in centres:
        eta += list(ce + rng.normal(0, 0.15, per))
        phi += list(_wrap(cp + rng.normal(0, 0.15, per)))
    eta_a, phi_a = np.array(eta), np.array(phi)
    # near-duplicates (dR^2 < 1e-4) of a few particles
    dup = rng.integers(0, len(eta_a), 4)
    eta_a = np.concatenate([eta_a, eta_a[dup] + 0.003])
    phi_a = np.concatenate([phi_a, _wrap(phi_a[dup] - 0.004)])
    # exact bin edges
    edges = np.array([1.5, -1.5, 2.5, 3.0, -4.0, 10.0, 2.0, 6.0])
    eta_a = np.concatenate([eta_a, edges])
    phi_a = np.concatenate([phi_a, rng.uniform(-np.pi, np.pi, len(edges))])
    m = len(eta_a)
    pt = rng.exponential(2.0, m) + 0.02
    pt[rng.random(m) < 0.1] *= 10
    cat = rng.choice(4, m, p=[0.45, 0.2, 0.3, 0.05]).astype(np.int8)
    # rapidity differs from eta (massive candidates): the cone must use rapidity
    y = eta_a - np.sign(eta_a) * rng.uniform(0, 0.05, m)
    return {"pt": pt, "eta": eta_a, "rapidity": y, "phi": phi_a, "category": cat}


def batch(events: list[dict[str, np.ndarray]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    offsets = np.concatenate([[0], np.cumsum([len(e["pt"]) for e in events])]).astype(np.int64)
    cols = {k: np.concatenate([e[k] for e in events]) for k in events[0]} if events else {}
    return offsets, cols


def run(offsets, cols, n_pv, tune) -> np.ndarray:
    return puppi_weights(
        offsets,
        cols["pt"],
        cols["eta"],
        cols["rapidity"],
        cols["phi"],
        cols["category"],
        n_pv,
        tune,
    )


def run_reference(offsets, cols, n_pv, tune) -> np.ndarray:
    return reference(
        offsets,
        cols["pt"],
        cols["eta"],
        cols["rapidity"],
        cols["phi"],
        cols["category"],
        n_pv,
        tune,
    )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", list(TUNES))
def test_matches_reference_on_random_events(name: str) -> None:
    tune = TUNES[name]
    rng = np.random.default_rng(list(TUNES).index(name) + 11)
    events = [random_event(rng, n) for n in (50, 160, 300)]
    offsets, cols = batch(events)
    n_pv = np.array([0, 12, 140], dtype=np.int64)
    got = run(offsets, cols, n_pv, tune)
    want = run_reference(offsets, cols, n_pv, tune)
    assert got.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # the comparison is not trivial: some neutrals keep a fractional weight, some lose it
    neutral = cols["category"] == NEUTRAL
    assert np.any((want[neutral] > 0.05) & (want[neutral] < 0.999))
    assert np.any(want[neutral] == 0.0)
    assert np.any(want[neutral] > 0.5)


def test_matches_reference_with_rapidity_outlier() -> None:
    # one far-away candidate stretches the rapidity range (coarser neighbour grid)
    rng = np.random.default_rng(5)
    ev = random_event(rng, 120)
    for k in ev:
        ev[k] = np.concatenate([ev[k], ev[k][:1]])
    ev["eta"][-1] = ev["rapidity"][-1] = 1500.0
    offsets, cols = batch([ev])
    n_pv = np.array([30])
    for tune in (FULLRECO, L1T, WIDE):
        np.testing.assert_allclose(
            run(offsets, cols, n_pv, tune),
            run_reference(offsets, cols, n_pv, tune),
            rtol=0,
            atol=1e-5,
        )


def test_known_numbers() -> None:
    # one bin, everything hand-computable:
    # PU track at (0, 0), alpha = ln(4^2 / 0.1^2) from the PV track at dphi 0.1;
    # two isolated PU tracks (alpha 0); PU list sorted [0, 0, 7.378], n0 = 1,
    # median = sorted[1 + 2 // 2] = 7.378; RMS^2 = 0 over non-zero alphas <= median -> 1e-5;
    # no low-PU correction. A neutral at dphi 0.05 from the PV track: alpha = ln(16 / 0.0025).
    b = Bin(0.0, 5.0, 0.0, 0.3, 0.1, 1.0, 0.0, 0.0, True)
    tune = Tune(bins=(b,), apply_low_pu_corr=False)
    pt = np.array([3.0, 4.0, 2.0, 2.0, 5.0, 5.0])
    eta = np.array([0.0, 0.0, 1.0, -1.0, 0.0, 2.0])
    phi = np.array([0.0, 0.1, 2.0, -2.0, 0.15, 1.0])
    cat = np.array([CHARGED_PU, CHARGED_PV, CHARGED_PU, CHARGED_PU, NEUTRAL, NEUTRAL], np.int8)
    w = puppi_weights(np.array([0, 6]), pt, eta, eta, phi, cat, np.array([0]), tune)
    median = math.log(16 / 0.01)
    rms = math.sqrt(1e-5)
    d = math.log(16 / 0.0025) - median
    w_near = math.erf(math.sqrt(d * d / rms**2 / 2))  # = 1 to double precision
    assert w.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0, w_near, 0.0], abs=1e-6)
    # with a wider RMS scale, the near neutral gets a fractional weight
    tune2 = Tune(
        bins=(Bin(0.0, 5.0, 0.0, 0.3, 0.1, 1000.0, 0.0, 0.0, True),), apply_low_pu_corr=False
    )
    w2 = puppi_weights(np.array([0, 6]), pt, eta, eta, phi, cat, np.array([0]), tune2)
    rms2 = math.sqrt(1e-5) * 1000.0
    assert w2[4] == pytest.approx(math.erf(math.sqrt(d * d / rms2**2 / 2)), abs=1e-6)
    assert 0.1 < w2[4] < 0.9
    # the isolated neutral has alpha 0 -> alpha = median -> chi2 0 -> weight 0
    assert w2[5] == 0.0


def test_low_pu_correction_known_numbers() -> None:
    # PV track isolated from tracks (alpha 0); PU list [0] -> median 0, RMS = sqrt(1e-5) * 1000;
    # PV list [0], a = 1 / (1 + 0.5 * 1) -> q = chi2 quantile(2/3); median and RMS drop by
    # sqrt(q * RMS). The neutral at dR 0.2 from the PV track has alpha = ln(0.3^2 / 0.04).
    b = Bin(0.0, 5.0, 0.0, 0.3, 0.1, 1000.0, 0.0, 0.0, True)
    pt = np.array([0.3, 3.0, 0.5])
    eta = np.array([0.0, 1.0, 0.2])
    phi = np.array([0.0, 2.0, 0.0])
    cat = np.array([CHARGED_PV, CHARGED_PU, NEUTRAL], np.int8)

    def chi2_quantile(a: float) -> float:
        return NormalDist().inv_cdf((1 + a) / 2) ** 2

    assert chi2_quantile(0.95) == pytest.approx(3.8415, abs=1e-4)  # the textbook table value
    q = chi2_quantile(2 / 3)
    assert q == pytest.approx(0.935904, abs=1e-6)  # scipy.stats.chi2.ppf(2 / 3, 1)
    rms0 = math.sqrt(1e-5) * 1000.0
    shift = math.sqrt(q * rms0)
    alpha = math.log(0.09 / 0.04)
    d = alpha + shift
    want = math.erf(math.sqrt(d * d / (rms0 - shift) ** 2 / 2))
    w = puppi_weights(np.array([0, 3]), pt, eta, eta, phi, cat, np.array([0]), Tune(bins=(b,)))
    assert w[2] == pytest.approx(want, abs=1e-6)
    # without the correction the weight is much smaller
    off = Tune(bins=(b,), apply_low_pu_corr=False)
    w_off = puppi_weights(np.array([0, 3]), pt, eta, eta, phi, cat, np.array([0]), off)
    assert w_off[2] == pytest.approx(math.erf(math.sqrt(alpha**2 / rms0**2 / 2)), abs=1e-6)
    assert w_off[2] < 0.5 < want
    # the neutral cut: w * pT < 0.2 + 100 * 0.006 -> 0
    b_cut = Bin(0.0, 5.0, 0.0, 0.3, 0.1, 1000.0, 0.2, 0.006, True)
    w_cut = puppi_weights(
        np.array([0, 3]), pt, eta, eta, phi, cat, np.array([100]), Tune(bins=(b_cut,))
    )
    assert w_cut.tolist() == [1.0, 0.0, 0.0]


def test_hard_jet_over_uniform_pileup() -> None:
    rng = np.random.default_rng(2024)
    # hard collimated jet at (eta 0.5, phi 1.0): charged PV tracks and neutrals within dR 0.15
    n_jet = 40
    jet_eta = 0.5 + rng.normal(0, 0.05, n_jet)
    jet_phi = 1.0 + rng.normal(0, 0.05, n_jet)
    jet_pt = rng.uniform(5, 40, n_jet)
    jet_cat = np.where(np.arange(n_jet) % 2 == 0, CHARGED_PV, NEUTRAL).astype(np.int8)
    # uniform soft pileup over |eta| < 4: 40% charged (CHS-flagged), 60% neutral
    n_pu = 2500
    pu_eta = rng.uniform(-4, 4, n_pu)
    pu_phi = rng.uniform(-np.pi, np.pi, n_pu)
    pu_pt = rng.exponential(1.0, n_pu) + 0.3
    pu_cat = np.where(rng.random(n_pu) < 0.4, CHARGED_PU, NEUTRAL).astype(np.int8)
    # a few soft primary tracks elsewhere, as in a real event
    n_soft = 30
    soft_eta = rng.uniform(-4, 4, n_soft)
    soft_phi = rng.uniform(-np.pi, np.pi, n_soft)
    soft_pt = rng.exponential(1.0, n_soft) + 0.3
    eta = np.concatenate([jet_eta, pu_eta, soft_eta])
    phi = np.concatenate([jet_phi, pu_phi, soft_phi])
    pt = np.concatenate([jet_pt, pu_pt, soft_pt])
    cat = np.concatenate([jet_cat, pu_cat, np.full(n_soft, CHARGED_PV, np.int8)])
    offsets = np.array([0, len(pt)])
    for n_pv in (0, 140):
        w = puppi_weights(offsets, pt, eta, eta, phi, cat, np.array([n_pv]), FULLRECO)
        jet_neutral = np.arange(len(pt)) < n_jet
        jet_neutral &= cat == NEUTRAL
        pu_neutral = (np.arange(len(pt)) >= n_jet) & (np.arange(len(pt)) < n_jet + n_pu)
        pu_neutral &= cat == NEUTRAL
        assert np.mean(w[pu_neutral] == 0.0) > 0.9
        assert np.sum(w[pu_neutral] * pt[pu_neutral]) < 0.1 * np.sum(pt[pu_neutral])
        assert np.mean(w[jet_neutral] > 0.9) > 0.9
        assert np.all(w[cat == CHARGED_PV] == 1.0)
        assert np.all(w[cat == CHARGED_PU] == 0.0)


def test_forward_jet_without_tracks() -> None:
    # |eta| > 4 (FullReco bin 3, no tracking): neighbours are all particles
    rng = np.random.default_rng(7)
    n_jet, n_pu = 20, 800
    eta = np.concatenate([4.6 + rng.normal(0, 0.04, n_jet), rng.uniform(4.0, 5.5, n_pu)])
    phi = np.concatenate([-2.0 + rng.normal(0, 0.04, n_jet), rng.uniform(-np.pi, np.pi, n_pu)])
    pt = np.concatenate([rng.uniform(10, 30, n_jet), rng.exponential(0.8, n_pu) + 0.5])
    cat = np.full(n_jet + n_pu, NEUTRAL, np.int8)
    w = puppi_weights(np.array([0, n_jet + n_pu]), pt, eta, eta, phi, cat, np.array([0]), FULLRECO)
    assert np.mean(w[:n_jet] > 0.9) > 0.9
    assert np.sum(w[n_jet:] * pt[n_jet:]) < 0.3 * np.sum(pt[n_jet:])


def test_chs_overrides_and_leptons() -> None:
    rng = np.random.default_rng(3)
    ev = random_event(rng, 200)
    # also candidates in no bin (|eta| > 10)
    offsets, cols = batch([ev])
    for tune in (FULLRECO, L1T, ODD):
        w = run(offsets, cols, np.array([140]), tune)
        cat = cols["category"]
        assert np.all(w[cat == CHARGED_PV] == 1.0)
        assert np.all(w[cat == CHARGED_PU] == 0.0)
        assert np.all(w[cat == LEPTON] == 1.0)
    # outside every bin: neutrals 1, CHS still applies to tracks
    eta = np.array([11.0, -12.0, 10.5, 15.0])
    cat = np.array([NEUTRAL, CHARGED_PV, CHARGED_PU, LEPTON], np.int8)
    w = puppi_weights(
        np.array([0, 4]), np.full(4, 0.3), eta, eta, np.zeros(4), cat, np.array([140]), L1T
    )
    assert w.tolist() == [1.0, 1.0, 0.0, 1.0]


def test_leptons_are_not_neighbours() -> None:
    rng = np.random.default_rng(9)
    ev = random_event(rng, 150)
    offsets, cols = batch([ev])
    base = run(offsets, cols, np.array([20]), L1T)
    # a hard lepton next to everything changes nothing
    extra = {k: np.concatenate([v, v[:20]]) for k, v in cols.items()}
    extra["phi"][-20:] = _wrap(extra["phi"][-20:] + 0.05)
    extra["pt"][-20:] = 500.0
    extra["category"][-20:] = LEPTON
    w = run(np.array([0, len(extra["pt"])]), extra, np.array([20]), L1T)
    np.testing.assert_array_equal(w[:-20], base)
    assert np.all(w[-20:] == 1.0)


def test_empty_events_and_no_pu_list() -> None:
    empty = puppi_weights(
        np.array([0, 0, 0]), *(np.empty(0),) * 4, np.empty(0, np.int8), np.array([5, 7]), L1T
    )
    assert empty.dtype == np.float32
    assert empty.shape == (0,)
    # charged-PV tracks and hard neutrals only: no PU list in the charged bins -> weight 1,
    # with an empty event in between
    pt = np.array([10.0, 8.0, 20.0, 15.0, 9.0])
    eta = np.array([0.1, 0.2, -1.0, 2.0, 1.9])
    phi = np.array([0.0, 0.1, 1.0, -2.0, -2.1])
    cat = np.array([CHARGED_PV, NEUTRAL, NEUTRAL, CHARGED_PV, NEUTRAL], np.int8)
    offsets = np.array([0, 3, 3, 5])
    w = puppi_weights(offsets, pt, eta, eta, phi, cat, np.array([140, 0, 140]), FULLRECO)
    assert w.tolist() == [1.0] * 5
    # forward bin (no charged information): every candidate below RMSPtMin -> no PU list
    soft = Tune(bins=(Bin(0.0, 10.0, 0.0, 0.3, 0.5, 1.0, 0.1, 0.0, False),))
    w = puppi_weights(
        np.array([0, 3]),
        np.array([0.3, 0.4, 0.2]),
        np.array([4.5, 4.6, 4.55]),
        np.array([4.5, 4.6, 4.55]),
        np.array([0.0, 0.05, 0.1]),
        np.zeros(3, np.int8),
        np.array([0]),
        soft,
    )
    assert w.tolist() == [1.0, 1.0, 1.0]


def test_batching_and_order_do_not_matter() -> None:
    rng = np.random.default_rng(21)
    events = [random_event(rng, n) for n in (120, 80, 200)]
    n_pv = np.array([10, 60, 130])
    offsets, cols = batch(events)
    together = run(offsets, cols, n_pv, L1T)
    for k, ev in enumerate(events):
        o, c = batch([ev])
        alone = run(o, c, n_pv[k : k + 1], L1T)
        np.testing.assert_array_equal(alone, together[offsets[k] : offsets[k + 1]])
        perm = rng.permutation(len(ev["pt"]))
        shuffled = run(o, {key: v[perm] for key, v in c.items()}, n_pv[k : k + 1], L1T)
        np.testing.assert_allclose(shuffled, alone[perm], rtol=0, atol=1e-6)


def test_phi_outside_range_is_wrapped() -> None:
    rng = np.random.default_rng(4)
    offsets, cols = batch([random_event(rng, 150)])
    base = run(offsets, cols, np.array([50]), FULLRECO)
    shifted = dict(cols)
    shifted["phi"] = np.where(cols["phi"] < 0, cols["phi"] + 2 * np.pi, cols["phi"])
    np.testing.assert_allclose(run(offsets, shifted, np.array([50]), FULLRECO), base, atol=1e-5)
    # float32 inputs (float32(pi) > pi)
    as32 = {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in cols.items()}
    as32["phi"][:3] = np.float32(np.pi)
    w32 = run(offsets, as32, np.array([50]), FULLRECO)
    assert w32.dtype == np.float32
    assert np.all(np.isfinite(w32))


def test_output_range_dtype_no_nan() -> None:
    rng = np.random.default_rng(8)
    events = [random_event(rng, 2000) for _ in range(3)]
    offsets, cols = batch(events)
    for tune in TUNES.values():
        w = run(offsets, cols, np.array([0, 70, 140]), tune)
        assert w.dtype == np.float32
        assert w.shape == cols["pt"].shape
        assert np.all(np.isfinite(w))
        assert np.all((w >= 0) & (w <= 1))
        assert np.all((w == 0) | (w >= tune.min_puppi_weight))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"offsets": np.array([0, 2, 1])}, "offsets"),
        ({"offsets": np.array([1, 3])}, "offsets"),
        ({"offsets": np.array([0.0, 3.0])}, "offsets"),
        ({"pt": np.ones(2)}, "pt"),
        ({"eta": np.array([0.0, np.nan, 1.0])}, "eta"),
        ({"category": np.array([0, 1, 7], np.int8)}, "category"),
        ({"category": np.array([0.0, 1.0, 2.0])}, "category"),
        ({"n_pv": np.array([1, 2])}, "n_pv"),
    ],
)
def test_bad_input(change: dict[str, np.ndarray], match: str) -> None:
    args = {
        "offsets": np.array([0, 3]),
        "pt": np.ones(3),
        "eta": np.zeros(3),
        "rapidity": np.zeros(3),
        "phi": np.zeros(3),
        "category": np.zeros(3, np.int8),
        "n_pv": np.array([1]),
    }
    args.update(change)
    with pytest.raises(ConfigError, match=match):
        puppi_weights(tune=L1T, **args)


def test_bad_tune() -> None:
    bad = Tune(bins=(Bin(0.0, 1.5, 0.0, 0.0, 0.1, 1.0, 1.0, 0.006, True),))
    with pytest.raises(ConfigError, match="cone_size"):
        puppi_weights(
            np.array([0, 1]), np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1),
            np.zeros(1, np.int8), np.array([1]), bad,
        )  # fmt: skip
