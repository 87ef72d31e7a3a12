"""The HH -> 4b seed on hand-made events whose thresholds and efficiencies are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.jettag.hh4b import (
    btag_working_point,
    count_btagged,
    hh4b_study,
    ht,
    seed_efficiency,
    seed_thresholds,
)
from l1scout.tasks.rates import CROSSING_RATE_KHZ


def _slow_ht(
    pt: list[list[float]], eta: list[list[float]], pt_min: float, eta_max: float
) -> list[float]:
    return [
        sum(p for p, e in zip(ps, es, strict=True) if p > pt_min and abs(e) < eta_max)
        for ps, es in zip(pt, eta, strict=True)
    ]


def test_ht_matches_a_loop_over_events() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 7, size=200)
    pt = [list(rng.uniform(0, 120, c)) for c in counts]
    eta = [list(rng.uniform(-4, 4, c)) for c in counts]
    off = np.concatenate([[0], np.cumsum(counts)])
    flat_pt = np.concatenate([np.asarray(p) for p in pt])
    flat_eta = np.concatenate([np.asarray(e) for e in eta])
    got = ht(flat_pt, flat_eta, off, pt_min=30.0, eta_max=2.4)
    np.testing.assert_allclose(got, _slow_ht(pt, eta, 30.0, 2.4), rtol=1e-12)


def test_ht_cuts_are_strict() -> None:
    # a 30 GeV jet and a jet at |eta| = 2.4 are outside; 30.5 GeV at eta 2.39 is in
    assert ht([30.0, 50.0, 30.5], [0.0, 2.4, 2.39], [0, 3]).tolist() == [30.5]


def test_ht_rejects_offsets_that_do_not_fit() -> None:
    with pytest.raises(DataFormatError, match="offsets"):
        ht([1.0, 2.0], [0.0, 0.0], [0, 1])


def test_thresholds_on_known_zero_bias() -> None:
    # 100 zero-bias events: HT = 1 ... 100 GeV; the 10 events with HT 11 ... 20 have 2 b-tags
    zb_ht = np.arange(1.0, 101.0)
    zb_nb = np.zeros(100, dtype=np.int64)
    zb_nb[10:20] = 2
    rate = 0.05 * CROSSING_RATE_KHZ  # 5 of 100 events
    t = seed_thresholds(zb_ht, zb_nb, rate, 2, min_pass=1)
    # HT only: the 5 highest (96 ... 100) pass: threshold = the 6th largest, 95
    assert t.ht_only.threshold == 95.0
    assert t.ht_only.n_pass == 5
    # with 2 b-tags: only HT 11 ... 20 are candidates; the 5 highest (16 ... 20) pass
    assert t.with_btag.threshold == 15.0
    assert t.with_btag.n_pass == 5
    # one b-tag is not enough for the 2-b-tag seed: same thresholds with nb = 1 -> -inf
    t1 = seed_thresholds(zb_ht, np.minimum(zb_nb, 1), rate, 2, min_pass=1)
    assert t1.with_btag.threshold == -math.inf
    assert t1.with_btag.n_pass == 0


def test_efficiency_of_both_seeds() -> None:
    sig_ht = np.array([50.0, 100.0, 150.0, 200.0])
    sig_nb = np.array([3, 2, 1, 2])
    assert seed_efficiency(sig_ht, sig_nb, 95.0).value == 0.75  # HT only: 100, 150, 200
    e = seed_efficiency(sig_ht, sig_nb, 15.0, 2)
    assert (e.passed, e.total) == (3, 4)  # 50 (3 b), 100 (2 b), 200 (2 b)
    assert e.low < 0.75 < e.high


def test_study_table_and_threshold_drop() -> None:
    zb_ht = np.arange(1.0, 101.0)
    zb_nb = np.zeros(100, dtype=np.int64)
    zb_nb[10:20] = 2
    sig_ht = np.array([50.0, 100.0, 150.0, 200.0])
    result = hh4b_study(
        zb_ht,
        {"tight": zb_nb},
        sig_ht,
        {"tight": np.array([3, 2, 1, 2])},
        rates_khz=[0.05 * CROSSING_RATE_KHZ],
        n_btags=[2, 3],
        working_points={"tight": 0.9},
        min_pass=1,
    )
    assert [r.n_btag for r in result.rows] == [2, 3]
    two, three = result.rows
    assert two.ht_threshold == 95.0
    assert two.btag_ht_threshold == 15.0
    assert two.threshold_drop == 80.0
    assert two.ht_only_efficiency.value == 0.75
    assert two.with_btag_efficiency.value == 0.75
    # no zero-bias event has 3 b-tags: no HT cut, the signal with 3 b-tags passes
    assert three.with_btag.threshold == -math.inf
    assert three.btag_ht_threshold == 0.0
    assert three.threshold_drop == 95.0
    assert three.with_btag_efficiency.value == 0.25
    assert result.table()[0]["threshold_drop"] == 80.0
    assert result.zero_bias_events == 100
    assert result.signal_events == 4


def test_working_point_and_counting() -> None:
    rng = np.random.default_rng(0)
    light = rng.uniform(0, 1, 1000)
    b = rng.uniform(0.5, 1.5, 200)
    score = np.concatenate([light, b])
    is_light = np.concatenate([np.ones(1000, bool), np.zeros(200, bool)])
    wp = btag_working_point(score, is_light, 0.1)
    assert np.count_nonzero(light > wp) == 100
    events = np.array([0, 0, 0, 2])
    assert count_btagged(events, np.array([1.0, 0.0, 2.0, 3.0]), 0.5, 4).tolist() == [2, 0, 1, 0]


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="n_btag"):
        seed_thresholds([1.0, 2.0], [0, 1], 1.0, 0)
    with pytest.raises(DataFormatError, match="light jet"):
        btag_working_point([0.5], [False], 0.1)
    with pytest.raises(ConfigError, match="working points"):
        hh4b_study([1.0], {"a": [0]}, [1.0], {"b": [0]}, rates_khz=[1.0], n_btags=[1])
