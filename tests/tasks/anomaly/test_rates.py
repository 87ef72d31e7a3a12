"""Thresholds from target rates: hand-made score lists, ties, intervals against scipy and coverage."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    CROSSING_RATES_KHZ,
    DEFAULT_RATES_KHZ,
    PHASE2_CROSSING_RATE_KHZ,
    RUN3_CROSSING_RATE_KHZ,
    clopper_pearson,
    crossing_rate_khz,
    describe_crossing_rate,
    format_rate,
    measured_rate,
    min_measurable_rate_khz,
    threshold_for_fraction,
    threshold_for_rate,
    thresholds_for_rates,
)

SCORES_0_999 = np.arange(1000.0)


def _rate_for(passes: float, n: int) -> float:
    """The rate (kHz) at which ``passes`` of ``n`` zero-bias events are expected."""
    return passes / n * CROSSING_RATE_KHZ


def test_default_crossing_rate_is_phase2_and_run3_is_an_option() -> None:
    # Phase-2: 2760 colliding bunch pairs x 11.246 kHz; Run 3: 2544 x 11.2456 kHz
    assert CROSSING_RATE_KHZ == PHASE2_CROSSING_RATE_KHZ
    assert abs(CROSSING_RATE_KHZ - 31_038.96) < 1e-9
    assert round(CROSSING_RATE_KHZ) == 31_039
    assert abs(RUN3_CROSSING_RATE_KHZ - 28_608.8064) < 1e-9
    assert dict(CROSSING_RATES_KHZ) == {
        "phase2": PHASE2_CROSSING_RATE_KHZ,
        "run3": RUN3_CROSSING_RATE_KHZ,
    }
    assert crossing_rate_khz("phase2") == CROSSING_RATE_KHZ
    assert crossing_rate_khz("run3") == RUN3_CROSSING_RATE_KHZ
    assert crossing_rate_khz(40_000) == 40_000.0
    for bad in ("run2", 0.0, -5.0, float("inf"), True):
        with pytest.raises(ConfigError, match="crossing"):
            crossing_rate_khz(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CROSSING_RATES_KHZ["run1"] = 1.0  # type: ignore[index]
    assert DEFAULT_RATES_KHZ[0] == 0.15
    assert DEFAULT_RATES_KHZ[-1] == 100.0


def test_the_normalisation_scales_every_rate_and_is_named() -> None:
    """The same zero-bias sample and fraction: rates in proportion to the crossing rate."""
    zb = np.arange(10_000.0)
    phase2 = threshold_for_rate(zb, 31.03896)  # 10 events of 10,000 at 31,038.96 kHz
    run3 = threshold_for_rate(zb, 28.6088064, crossing_rate_khz=RUN3_CROSSING_RATE_KHZ)
    assert phase2.threshold == run3.threshold == 9989.0
    assert phase2.n_pass == run3.n_pass == 10
    assert phase2.rate_measured_khz == pytest.approx(10 / 10_000 * 31_038.96)
    assert run3.rate_measured_khz == pytest.approx(10 / 10_000 * 28_608.8064)
    # one rate, two normalisations: a 10 % larger crossing rate accepts a smaller fraction
    assert threshold_for_rate(zb, 28.6088064).n_pass == 9
    assert describe_crossing_rate(CROSSING_RATE_KHZ).startswith("31,039 kHz (Phase-2: 2760")
    assert describe_crossing_rate(RUN3_CROSSING_RATE_KHZ).startswith("28,608.8 kHz (Run 3: 2544")
    assert "neither" in describe_crossing_rate(30_000.0)


@pytest.mark.parametrize(
    ("passes", "threshold", "measurable"),
    [(1, 998.0, False), (10, 989.0, True), (100, 899.0, True)],
)
def test_threshold_on_scores_0_to_999(passes: int, threshold: float, measurable: bool) -> None:
    t = threshold_for_rate(SCORES_0_999, _rate_for(passes, 1000))
    # accept score > threshold: the top `passes` scores 999, 998, ... pass
    assert t.threshold == threshold
    assert t.n_pass == passes
    assert t.n_total == 1000
    assert t.target_pass == passes
    assert t.measurable is measurable
    assert t.rate_measured_khz == pytest.approx(_rate_for(passes, 1000))
    assert np.count_nonzero(t.threshold < SCORES_0_999) == passes


def test_threshold_does_not_depend_on_order_or_dtype() -> None:
    rng = np.random.default_rng(5)
    shuffled = rng.permutation(SCORES_0_999).astype(np.float32)
    a = threshold_for_rate(shuffled, _rate_for(10, 1000))
    b = threshold_for_rate(SCORES_0_999, _rate_for(10, 1000))
    assert a == b


def test_ties_at_the_threshold_are_rejected() -> None:
    # decreasing: 10, 9, 9, 8, 8, 8, then 94 zeros
    scores = np.array([10.0, 9.0, 9.0, 8.0, 8.0, 8.0] + [0.0] * 94)
    expected = {  # target count k -> (threshold, n_pass)
        1: (9.0, 1),
        2: (9.0, 1),  # the 3rd largest is tied with the 2nd: both 9s rejected
        3: (8.0, 3),
        4: (8.0, 3),
        5: (8.0, 3),
        6: (0.0, 6),
        7: (0.0, 6),  # 94 tied zeros: nothing more can be accepted below 7
    }
    for k, (threshold, n_pass) in expected.items():
        t = threshold_for_rate(scores, _rate_for(k, 100), min_pass=1)
        assert (t.target_pass, t.threshold, t.n_pass) == (k, threshold, n_pass), k


def test_target_count_rounds_half_up() -> None:
    scores = np.arange(10.0)
    # 2.5 expected passes -> k = 3 (Python's round() would give 2)
    t = threshold_for_rate(scores, _rate_for(2.5, 10), min_pass=1)
    assert t.target_pass == 3
    assert t.n_pass == 3
    assert t.threshold == 6.0
    t = threshold_for_rate(scores, _rate_for(2.49, 10), min_pass=1)
    assert t.target_pass == 2


def test_rate_too_small_for_one_event_accepts_nothing() -> None:
    t = threshold_for_rate(SCORES_0_999, _rate_for(0.3, 1000))
    assert t.target_pass == 0
    assert t.threshold == 999.0
    assert t.n_pass == 0
    assert t.rate_measured_khz == 0.0
    assert t.rate_low_khz == 0.0
    assert not t.measurable


def test_full_crossing_rate_accepts_everything() -> None:
    t = threshold_for_rate(SCORES_0_999, CROSSING_RATE_KHZ)
    assert t.threshold == -math.inf
    assert t.n_pass == 1000
    assert t.rate_high_khz == CROSSING_RATE_KHZ


def test_brute_force_definition_on_random_scores_with_ties() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(1, 300))
        scores = rng.integers(0, 12, n).astype(np.float64)
        fraction = float(rng.uniform(0.001, 1.0))
        t = threshold_for_fraction(scores, fraction, min_pass=1)
        k = min(n, math.floor(n * fraction + 0.5))
        if k == 0:
            assert t.threshold == scores.max()
        elif k < n:
            # the smallest observed score that at most k scores exceed
            candidates = [s for s in np.unique(scores) if np.sum(scores > s) <= k]
            assert t.threshold == min(candidates)
        assert t.n_pass == int(np.sum(scores > t.threshold))
        assert t.n_pass <= k


def test_rate_interval_is_clopper_pearson_from_scipy() -> None:
    cases = [(10, 1000, 0.6827), (1, 1000, 0.6827), (37, 5000, 0.95), (0.3, 200, 0.9)]
    for target, n, cl in cases:
        scores = np.arange(float(n))
        t = threshold_for_rate(scores, _rate_for(target, n), cl=cl, min_pass=1)
        passes = round(target)
        assert t.n_pass == passes
        ci = stats.binomtest(passes, n).proportion_ci(confidence_level=cl, method="exact")
        assert t.rate_low_khz == pytest.approx(ci.low * CROSSING_RATE_KHZ, rel=1e-9, abs=1e-12)
        assert t.rate_high_khz == pytest.approx(ci.high * CROSSING_RATE_KHZ, rel=1e-9)
        r = measured_rate(passes, n, cl=cl)
        assert (r.low_khz, r.high_khz) == (t.rate_low_khz, t.rate_high_khz)


def test_clopper_pearson_against_scipy_on_random_counts() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(1, 500))
        k = int(rng.integers(0, n + 1))
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.6827, method="exact")
        low, high = clopper_pearson(k, n)
        assert low == pytest.approx(ci.low, abs=1e-12)
        assert high == pytest.approx(ci.high, abs=1e-12)


def test_threshold_interval_by_hand() -> None:
    # n = 1000, f = 1 %: J ~ Binomial(1000, 0.01); 68.27 % central quantiles a (upper) and b (lower)
    alpha = 1 - 0.6827
    a = int(stats.binom.ppf(1 - alpha / 2, 1000, 0.01))
    b = int(stats.binom.ppf(alpha / 2, 1000, 0.01))
    assert (b, a) == (7, 13)  # mean 10, sd 3.1
    t = threshold_for_rate(SCORES_0_999, _rate_for(10, 1000))
    # (a+1)-th largest = 999 - a, b-th largest = 1000 - b
    assert (t.threshold_low, t.threshold_high) == (986.0, 993.0)
    assert t.threshold_low <= t.threshold <= t.threshold_high


def test_threshold_interval_covers_the_true_quantile() -> None:
    """Uniform scores: the true threshold of a fraction f is 1 - f; count how often it is covered."""
    rng = np.random.default_rng(7)
    fraction, n, trials = 0.02, 500, 800
    covered = 0
    for _ in range(trials):
        t = threshold_for_fraction(rng.random(n), fraction)
        covered += t.threshold_low <= 1 - fraction <= t.threshold_high
    coverage = covered / trials
    assert coverage >= 0.6827 - 0.04  # at least the confidence level (minus MC noise)
    assert coverage <= 0.90  # and not uselessly wide


def test_measurable_rule_and_smallest_measurable_rate() -> None:
    n = 10_000
    limit = min_measurable_rate_khz(n)
    assert limit == pytest.approx(10 / n * CROSSING_RATE_KHZ)
    scores = np.arange(float(n))
    assert threshold_for_rate(scores, limit * 1.001).measurable
    assert not threshold_for_rate(scores, limit * 0.999).measurable
    assert threshold_for_rate(scores, limit * 0.5, min_pass=5).measurable
    assert not threshold_for_rate(scores, limit * 0.5, min_pass=6).measurable


def test_thresholds_for_rates_match_single_calls() -> None:
    rng = np.random.default_rng(3)
    scores = rng.exponential(size=50_000)
    many = thresholds_for_rates(scores, DEFAULT_RATES_KHZ)
    assert [t.rate_khz for t in many] == list(DEFAULT_RATES_KHZ)
    for t in many:
        assert t == threshold_for_rate(scores, t.rate_khz)
    # higher rate, lower threshold
    assert all(a.threshold >= b.threshold for a, b in itertools.pairwise(many))


def test_format_rate() -> None:
    assert format_rate(0.15) == "0.15kHz"
    assert format_rate(1.0) == "1kHz"
    assert format_rate(100) == "100kHz"
    assert format_rate(1e-5) == "0.00001kHz"
    assert format_rate(1234567.0) == "1234570kHz"


def test_infinite_scores_are_allowed() -> None:
    scores = np.array([np.inf, 3.0, 2.0, 1.0, -np.inf])
    t = threshold_for_rate(scores, _rate_for(1, 5), min_pass=1)
    assert (t.threshold, t.n_pass) == (3.0, 1)


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        ([], "empty"),
        ([[1.0, 2.0]], "1-d"),
        ([1.0, float("nan")], "NaN"),
        (["a", "b"], "numbers"),
    ],
)
def test_bad_scores(scores: object, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        threshold_for_rate(scores, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_khz": 0.0}, "target rate"),
        ({"rate_khz": -1.0}, "target rate"),
        ({"rate_khz": 32_000.0}, "crossing rate"),
        ({"rate_khz": 30_000.0, "crossing_rate_khz": RUN3_CROSSING_RATE_KHZ}, "crossing rate"),
        ({"rate_khz": float("nan")}, "target rate"),
        ({"rate_khz": 1.0, "min_pass": 0}, "min_pass"),
        ({"rate_khz": 1.0, "cl": 1.0}, "confidence"),
        ({"rate_khz": 1.0, "crossing_rate_khz": 0.0}, "crossing_rate_khz"),
    ],
)
def test_bad_settings(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        threshold_for_rate(SCORES_0_999, **kwargs)  # type: ignore[arg-type]


def test_bad_rate_lists() -> None:
    with pytest.raises(ConfigError, match="more than once"):
        thresholds_for_rates(SCORES_0_999, (1.0, 2.0, 1.0))
    with pytest.raises(ConfigError, match="at least one"):
        thresholds_for_rates(SCORES_0_999, ())
    with pytest.raises(ConfigError, match="fraction"):
        threshold_for_fraction(SCORES_0_999, 0.0)
    with pytest.raises(ConfigError, match="total"):
        clopper_pearson(3, 2)
    with pytest.raises(ConfigError, match="total"):
        clopper_pearson(0, 0)
