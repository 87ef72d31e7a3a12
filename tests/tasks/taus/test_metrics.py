"""Soft-tau evaluation: efficiencies against hand counts and scipy, response against numpy,
and the di-tau working-point search against a brute-force grid on synthetic events."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import CROSSING_RATE_KHZ, efficiency, measured_rate
from l1scout.tasks.taus.ditau import (
    DITAU_RATE_KHZ,
    ComparisonRow,
    ScoredCandidates,
    comparison_row,
    comparison_table,
    ditau_decisions,
    ditau_event_scores,
    evaluate_ditau,
    search_ditau,
)
from l1scout.tasks.taus.metrics import (
    binned_cp_efficiency,
    charge_accuracy,
    fake_fraction,
    fakes_per_event,
    regression_response,
    response,
    tau_efficiency,
)

CL = 0.6827
PHI_M1, PHI_P1 = stats.norm.cdf(-1.0), stats.norm.cdf(1.0)


def _cp(k: int, n: int, cl: float = CL) -> tuple[float, float]:
    a = 1.0 - cl
    low = 0.0 if k == 0 else stats.beta.ppf(a / 2, k, n - k + 1)
    high = 1.0 if k == n else stats.beta.ppf(1 - a / 2, k + 1, n - k)
    return float(low), float(high)


# ---------------------------------------------------------------- per-tau efficiency


def test_binned_efficiency_counts_by_hand_and_intervals_match_scipy_beta() -> None:
    x = np.array([1.0, 2.0, 3.0, 11.0, 12.0, 19.0, 20.0, 25.0, 40.0, -1.0])
    ok = np.array([True, False, True, True, True, True, False, True, True, True])
    b = binned_cp_efficiency(x, ok, [0.0, 10.0, 20.0, 30.0], cl=CL)
    # bins [0,10): 1,2,3 -> 2/3; [10,20): 11,12,19 -> 3/3; [20,30]: 20,25 -> 1/2; 40 and -1 dropped
    assert b.total.tolist() == [3, 3, 2]
    assert b.passed.tolist() == [2, 3, 1]
    np.testing.assert_allclose(b.value, [2 / 3, 1.0, 0.5])
    for i, (k, n) in enumerate([(2, 3), (3, 3), (1, 2)]):
        assert (b.low[i], b.high[i]) == pytest.approx(_cp(k, n), abs=1e-12)
    assert b.high[1] == 1.0
    assert b.overall is not None
    assert (b.overall.passed, b.overall.total) == (6, 8)
    empty = binned_cp_efficiency(x, ok, [100.0, 200.0])
    assert math.isnan(empty.value[0])
    assert empty.overall is None


def test_tau_efficiency_reco_and_id_against_hand_counts() -> None:
    vis = np.array([8.0, 9.0, 15.0, 16.0, 17.0, 45.0])
    matched = np.array([True, False, True, True, False, True])
    score = np.array([0.9, np.nan, 0.2, 0.6, np.nan, 0.5])  # NaN only where unmatched: ignored
    t = tau_efficiency(vis, matched, [5.0, 10.0, 20.0, 60.0], id_score=score, id_threshold=0.5)
    assert t.reco.passed.tolist() == [1, 2, 1]
    assert t.reco.total.tolist() == [2, 3, 1]
    # ID: matched and score > 0.5 strictly: 8 GeV (0.9) and 16 GeV (0.6); 45 GeV at 0.5 fails
    assert t.id is not None
    assert t.id.passed.tolist() == [1, 1, 0]
    assert t.id.low[2] == 0.0
    assert t.id.high[2] == pytest.approx(1 - (1 - CL) / 2)
    assert tau_efficiency(vis, matched, [0.0, 100.0]).id is None


def test_tau_efficiency_rejects_bad_inputs_in_one_line() -> None:
    vis, m = np.array([10.0, 20.0]), np.array([True, True])
    cases: list[tuple[Callable[[], object], type[Exception], str]] = [
        (lambda: tau_efficiency([10.0, np.nan], m, [0, 50]), DataFormatError, "visible pT"),
        (lambda: tau_efficiency(vis, np.array([True]), [0, 50]), DataFormatError, "matched"),
        (
            lambda: tau_efficiency(vis, m, [0, 50], id_score=[0.1, np.nan], id_threshold=0.5),
            DataFormatError,
            "id_score of the matched",
        ),
        (lambda: tau_efficiency(vis, m, [0, 50], id_score=[0.1, 0.2]), ConfigError, "both"),
        (lambda: tau_efficiency(vis, m, [50, 0]), ConfigError, "edges"),
    ]
    for call, err, text in cases:
        with pytest.raises(err, match=text) as exc:
            call()
        assert "\n" not in str(exc.value)


def test_fake_fraction_and_fakes_per_event_by_hand() -> None:
    pt = np.array([5.0, 6.0, 7.0, 25.0, 28.0])
    matched = np.array([True, False, False, True, False])
    reco = fake_fraction(pt, matched, [0.0, 10.0, 30.0])
    assert reco.passed.tolist() == [2, 1]
    assert reco.total.tolist() == [3, 2]
    ident = fake_fraction(pt, matched, [0.0, 10.0, 30.0], selected=np.array([1, 1, 0, 0, 1], bool))
    assert ident.passed.tolist() == [1, 1]
    assert ident.total.tolist() == [2, 1]
    # four zero-bias events: 2, 0, 3, 1 candidates
    off = [0, 2, 2, 5, 6]
    zpt = np.array([5.0, 15.0, 6.0, 7.0, 8.0, 50.0])
    sel = np.array([False, True, True, False, False, False])
    f = fakes_per_event(
        off, zpt, [0.0, 10.0, 20.0], selected=sel, crossing_rate_khz=CROSSING_RATE_KHZ
    )
    assert f.binned.count.tolist() == [1, 1]
    assert f.binned.per_event.tolist() == [0.25, 0.25]
    assert f.per_event[0] == 0.5  # 2 selected candidates in 4 events
    # Garwood interval of 2 counts, from scipy's gamma quantiles, per event
    a = 1 - CL
    assert f.per_event[1] == pytest.approx(stats.gamma.ppf(a / 2, 2) / 4, rel=1e-10)
    assert f.per_event[2] == pytest.approx(stats.gamma.ppf(1 - a / 2, 3) / 4, rel=1e-10)
    assert (f.event_fraction.passed, f.event_fraction.total) == (2, 4)  # events 0 and 2
    assert f.rate.rate_khz == pytest.approx(0.5 * CROSSING_RATE_KHZ)
    reco_all = fakes_per_event(off, zpt, [0.0, 100.0])
    assert reco_all.per_event[0] == 1.5
    assert reco_all.event_fraction.passed == 3
    with pytest.raises(DataFormatError, match="candidate pT: expected 6"):
        fakes_per_event(off, zpt[:5], [0.0, 10.0])


# ---------------------------------------------------------------- response and charge


def test_response_matches_numpy_on_gaussian_and_tailed_distributions() -> None:
    rng = np.random.default_rng(7)
    n = 40_000
    vis = rng.uniform(5.0, 60.0, n)
    core = rng.normal(0.9, 0.1, n)
    tails = np.where(rng.random(n) < 0.05, rng.normal(0.0, 1.0, n), 0.0)  # 5 % wide outliers
    reco = vis * (core + tails)
    edges = [5.0, 20.0, 40.0, 60.0]
    r = response(vis, reco, edges)
    for k in range(3):
        inb = (vis >= edges[k]) & (vis < edges[k + 1]) if k < 2 else (vis >= edges[k])
        v = reco[inb] / vis[inb]
        assert r.n[k] == v.size
        q16, q84 = np.quantile(v, [PHI_M1, PHI_P1])
        assert r.width[k] == pytest.approx(0.5 * (q84 - q16), rel=1e-12)
        assert r.rms[k] == pytest.approx(np.sqrt(np.mean((v - v.mean()) ** 2)), rel=1e-12)
        assert r.median[k] == pytest.approx(np.median(v), rel=1e-12)
        # the robust width sees the 0.1 core (slightly widened by the tails); the RMS sees the tails
        assert 0.09 < r.width[k] < 0.12
        assert r.rms[k] > 0.2
        assert r.rel_width[k] == pytest.approx(r.width[k] / r.median[k])
    reg = regression_response(vis, reco, reco / 0.9, edges)
    np.testing.assert_allclose(reg.after.median, reg.before.median / 0.9, rtol=1e-12)
    np.testing.assert_allclose(reg.after.median, 1.0, atol=0.01)
    with pytest.raises(DataFormatError, match="visible pT: expected positive"):
        response([0.0, 10.0], [1.0, 1.0], edges)
    with pytest.raises(DataFormatError, match="reconstructed pT: expected 2"):
        response([5.0, 10.0], [1.0], edges)


def test_charge_accuracy_by_hand() -> None:
    q = np.array([1, -1, 1, -1, 1])
    p = np.array([0.9, 0.2, 0.4, 0.5, 0.5])  # right, right, wrong, wrong (0.5 -> +1), right
    c = charge_accuracy(q, p, vis_pt=[10.0, 10.0, 30.0, 30.0, 30.0], edges=[0.0, 20.0, 40.0])
    assert (c.overall.passed, c.overall.total) == (3, 5)
    assert c.binned is not None
    assert c.binned.passed.tolist() == [2, 1]
    with pytest.raises(DataFormatError, match=r"charge score: expected probabilities"):
        charge_accuracy(q, p + 0.6)
    with pytest.raises(DataFormatError, match="true charge"):
        charge_accuracy([0, 1], [0.5, 0.5])


# ---------------------------------------------------------------- di-tau search


def _random_candidates(
    rng: np.random.Generator, n_events: int, signal: bool, what: str
) -> ScoredCandidates:
    counts = rng.integers(0, 6, n_events)
    n = int(counts.sum())
    off = np.concatenate([[0], np.cumsum(counts)])
    shift = 0.25 if signal else 0.0
    score = np.round(np.clip(rng.random(n) + shift * rng.random(n), 0, 1), 2)  # ties on purpose
    charge = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], n)
    vz = np.round(rng.normal(0.0, 30.0 if not signal else 5.0, n), 1)
    return ScoredCandidates.build(off, score, charge, vz, what=what)


def _brute_force(
    zb: ScoredCandidates,
    sig: ScoredCandidates,
    qs: list[float],
    zs: list[float],
    k: int,
    max_candidates: int | None,
) -> tuple[tuple[float, float, float], int, int]:
    """Blind grid over every zero-bias class score, event by event, pair by pair."""
    t_grid = np.concatenate([[-np.inf], np.unique(zb.class_score)])

    def passes(c: ScoredCandidates, q: float, z: float) -> npt.NDArray[np.bool_]:
        out = np.zeros((c.n_events, t_grid.size), dtype=bool)
        for e in range(c.n_events):
            idx = list(range(c.offsets[e], c.offsets[e + 1]))
            if max_candidates is not None:
                idx = sorted(sorted(idx, key=lambda i: -c.class_score[i])[:max_candidates])
            for i, j in itertools.combinations(idx, 2):
                p1, p2 = c.charge_score[i], c.charge_score[j]
                if p1 * (1 - p2) + p2 * (1 - p1) > q and abs(c.vz[i] - c.vz[j]) < z:
                    out[e] |= (c.class_score[i] > t_grid) & (c.class_score[j] > t_grid)
        return out

    best: tuple[tuple[int, int, int, int], tuple[float, float, float], int, int] | None = None
    for a, q in enumerate(qs):
        for b, z in enumerate(zs):
            n_zb = passes(zb, q, z).sum(axis=0)
            n_sig = passes(sig, q, z).sum(axis=0)
            ok = np.flatnonzero(n_zb <= k)
            top = ok[n_sig[ok] == n_sig[ok].max()][0]  # loosest threshold of the best efficiency
            key = (-int(n_sig[top]), int(n_zb[top]), a, b)
            if best is None or key < best[0]:
                best = (
                    key,
                    (float(t_grid[top]), float(q), float(z)),
                    int(n_sig[top]),
                    int(n_zb[top]),
                )
    assert best is not None
    return best[1], best[2], best[3]


@pytest.mark.parametrize(("seed", "max_candidates"), [(1, None), (2, None), (3, 2), (4, 3)])
def test_search_matches_brute_force_grid(seed: int, max_candidates: int | None) -> None:
    rng = np.random.default_rng(seed)
    zb = _random_candidates(rng, 300, False, "zero bias")
    sig = _random_candidates(rng, 120, True, "signal")
    qs, zs = [-np.inf, 0.3, 0.6], [5.0, 20.0, np.inf]
    crossing = 1000.0  # 50 kHz is 5 % of the events: k = 15 of 300
    s = search_ditau(
        zb,
        sig,
        rate_khz=50.0,
        charge_thresholds=qs,
        dvz_cuts=zs,
        crossing_rate_khz=crossing,
        max_candidates=max_candidates,
        min_pass=10,
    )
    assert s.target_pass == 15
    assert s.measurable
    triple, n_sig, n_zb = _brute_force(zb, sig, qs, zs, 15, max_candidates)
    got = (s.best.class_threshold, s.best.charge_threshold, s.best.dvz_cut)
    assert got == triple
    assert (s.best.efficiency.passed, s.best.rate.n_pass) == (n_sig, n_zb)
    assert s.best.rate.rate_khz <= 50.0
    assert s.best.efficiency.value == n_sig / 120
    assert (s.best.efficiency.low, s.best.efficiency.high) == pytest.approx(_cp(n_sig, 120))
    assert np.all(s.zero_bias_pass <= 15)
    # the chosen triple, re-evaluated from scratch, gives the same numbers
    wp = evaluate_ditau(zb, sig, *got, max_candidates=max_candidates, crossing_rate_khz=crossing)
    assert (wp.efficiency.passed, wp.rate.n_pass) == (n_sig, n_zb)


def test_event_scores_by_hand_and_the_leading_pair_variant() -> None:
    # event 0: (0.9, +), (0.7, -), (0.8, +, vz 9): the OS pairs are 0-1 (dvz 0) and 1-2 (dvz 9)
    c = ScoredCandidates.build(
        [0, 3, 4, 4], [0.9, 0.7, 0.8, 0.99], [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 9.0, 0.0]
    )
    assert ditau_event_scores(c, 0.5, 5.0).tolist() == [0.7, -np.inf, -np.inf]
    assert ditau_event_scores(c, 0.5, 10.0).tolist() == [0.7, -np.inf, -np.inf]
    assert ditau_event_scores(c, -np.inf, np.inf).tolist() == [0.8, -np.inf, -np.inf]
    # leading pair: 0.9 and 0.8, both +: same-sign certain, so no OS pair
    assert ditau_event_scores(c, 0.5, 10.0, max_candidates=2).tolist() == [-np.inf] * 3
    assert ditau_decisions(c, 0.69, 0.5, 5.0).tolist() == [True, False, False]
    assert ditau_decisions(c, 0.7, 0.5, 5.0).tolist() == [False, False, False]  # strictly above


def test_rate_constraint_with_the_phase2_crossing_rate_and_too_small_samples() -> None:
    rng = np.random.default_rng(11)
    sig = _random_candidates(rng, 50, True, "signal")
    for n in (621, 1000):  # 1000 x 50 / 31039 = 1.61: half up would allow 2 events = 62 kHz
        zb = _random_candidates(rng, n, False, "zero bias")
        s = search_ditau(zb, sig, charge_thresholds=[0.0, 0.5], dvz_cuts=[10.0, np.inf])
        assert s.target_pass == 1
        assert not s.measurable
        assert s.best.rate.rate_khz <= DITAU_RATE_KHZ
        assert s.best.rate.high_khz > DITAU_RATE_KHZ  # the interval says how little it is pinned
    zb = _random_candidates(rng, 620, False, "zero bias")
    with pytest.raises(
        ConfigError, match=r"620 events cannot measure 50 kHz .* need at least 621 events"
    ) as exc:
        search_ditau(zb, sig)
    assert "\n" not in str(exc.value)


def test_ties_in_zero_bias_never_push_the_rate_above_the_target() -> None:
    # 40 zero-bias events, all with the same OS pair score 0.5: any threshold below passes all
    off = np.arange(0, 81, 2)
    zb = ScoredCandidates.build(off, np.full(80, 0.5), np.tile([1.0, 0.0], 40), np.zeros(80))
    sig = ScoredCandidates.build([0, 2], [0.6, 0.7], [1.0, 0.0], [0.0, 0.0])
    s = search_ditau(
        zb,
        sig,
        rate_khz=5.0,
        crossing_rate_khz=40.0,
        min_pass=1,
        charge_thresholds=[0.5],
        dvz_cuts=[1.0],
    )
    assert s.best.class_threshold == 0.5
    assert s.best.rate.n_pass == 0
    assert s.best.efficiency.passed == 1


def test_events_without_pairs_and_a_sample_without_any_pair() -> None:
    zb = ScoredCandidates.build([0, 1, 1, 2], [0.9, 0.8], [1.0, 0.0], [0.0, 0.0])
    sig = ScoredCandidates.build([0, 2, 3], [0.3, 0.2, 0.9], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    s = search_ditau(
        zb,
        sig,
        rate_khz=1.0,
        crossing_rate_khz=3.0,
        min_pass=1,
        charge_thresholds=[0.5],
        dvz_cuts=[1.0],
    )
    assert s.best.class_threshold == -np.inf
    assert s.best.rate.n_pass == 0
    assert s.best.efficiency.passed == 1


def test_di_tau_bad_inputs_raise_one_line_errors() -> None:
    ok = ([0, 2], [0.5, 0.6], [1.0, 0.0], [0.0, 0.0])
    c = ScoredCandidates.build(*ok)
    cases: list[tuple[Callable[[], object], type[Exception], str]] = [
        (
            lambda: ScoredCandidates.build([0, 2], [0.5, np.nan], ok[2], ok[3], what="zb"),
            DataFormatError,
            "class scores of zb: 1 NaN",
        ),
        (
            lambda: ScoredCandidates.build([0, 2], [0.5], ok[2], ok[3]),
            DataFormatError,
            "expected 2 values",
        ),
        (
            lambda: ScoredCandidates.build([0, 2], ok[1], [1.5, 0.0], ok[3]),
            DataFormatError,
            "probabilities",
        ),
        (lambda: ScoredCandidates.build([0, 3], *ok[1:]), DataFormatError, "expected 3 values"),
        (lambda: ScoredCandidates.build([0], [], [], []), DataFormatError, "at least one event"),
        (lambda: search_ditau(c, c, rate_khz=0.0), ConfigError, "target rate 0.0 kHz"),
        (lambda: search_ditau(c, c, rate_khz=-5.0), ConfigError, "positive rate"),
        (lambda: search_ditau(c, c, crossing_rate_khz=0.0), ConfigError, "crossing_rate_khz"),
        (lambda: search_ditau(c, c, charge_thresholds=[np.nan]), ConfigError, "charge thresholds"),
        (lambda: search_ditau(c, c, dvz_cuts=[]), ConfigError, "dvz cuts"),
        (lambda: search_ditau(c, c, max_candidates=1), ConfigError, "max_candidates"),
        (
            lambda: comparison_row("m", (np.array([1, 0]), np.array([True]))),
            DataFormatError,
            "zero-bias decisions of 'm'",
        ),
    ]
    for call, err, text in cases:
        with pytest.raises(err, match=text) as exc:
            call()
        assert "\n" not in str(exc.value)


def test_comparison_table_rows() -> None:
    rng = np.random.default_rng(5)
    zb = _random_candidates(rng, 200, False, "zero bias")
    sig = _random_candidates(rng, 80, True, "signal")
    s = search_ditau(
        zb, sig, rate_khz=50.0, crossing_rate_khz=1000.0, charge_thresholds=[0.5], dvz_cuts=[10.0]
    )
    menu_zb, menu_sig = np.zeros(200, bool), np.zeros(80, bool)
    menu_zb[:3], menu_sig[:4] = True, True
    rows = [
        comparison_row("transformer + CLUE", s),
        comparison_row(
            "NNPuppiTau (double-tau seed)",
            (menu_zb, menu_sig),
            note="menu seed",
            crossing_rate_khz=1000.0,
        ),
        ComparisonRow("m", efficiency(1, 2), measured_rate(1, 10), measurable=False),
    ]
    table = comparison_table(rows)
    assert [r["method"] for r in table] == [
        "transformer + CLUE",
        "NNPuppiTau (double-tau seed)",
        "m",
    ]
    assert table[0]["OS charge >"] == "0.5"
    assert table[0]["|dvz| < (mm)"] == "10"
    assert rows[1].efficiency.value == 0.05
    assert rows[1].rate.rate_khz == 15.0
    assert table[1]["class >"] == "-"
    assert table[1]["note"] == "menu seed"
    assert (
        table[1]["di-tau eff."]
        == f"5.0 +{100 * (_cp(4, 80)[1] - 0.05):.1f} -{100 * (0.05 - _cp(4, 80)[0]):.1f} %"
    )
    assert table[2]["note"] == "rate not measurable"


def test_equal_efficiency_goes_to_the_lower_zero_bias_count() -> None:
    # ten zero-bias events, each one OS pair of score 0.1 ... 1.0 at |dvz| = 50 mm
    s_zb = np.repeat(np.round(np.arange(1, 11) / 10, 1), 2)
    zb = ScoredCandidates.build(
        np.arange(0, 21, 2), s_zb, np.tile([1.0, 0.0], 10), np.tile([0.0, 50.0], 10)
    )
    sig = ScoredCandidates.build([0, 2], [0.95, 0.95], [1.0, 0.0], [0.0, 0.0])
    s = search_ditau(
        zb,
        sig,
        rate_khz=5.0,
        crossing_rate_khz=10.0,
        min_pass=1,
        charge_thresholds=[0.5],
        dvz_cuts=[100.0, 1.0],
    )
    # dvz < 100: threshold 0.5 (6th largest), 5 zero-bias pass; dvz < 1: none pass; signal passes both
    assert s.zero_bias_pass.tolist() == [[5, 0]]
    assert s.signal_pass.tolist() == [[1, 1]]
    assert s.class_thresholds.tolist() == [[0.5, -np.inf]]
    assert s.best.dvz_cut == 1.0
    assert s.best.rate.n_pass == 0
