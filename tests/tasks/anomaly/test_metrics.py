"""Efficiencies, ROC/AUC and the evaluation at fixed rates, against slow references and hand-made cases."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.anomaly.metrics import (
    auc,
    efficiency,
    evaluate,
    metric_name_part,
    roc_curve,
)
from l1scout.tasks.rates import CROSSING_RATE_KHZ, threshold_for_rate

ALPHA = 1 - 0.6827


def _slow_auc(background: np.ndarray, signal: np.ndarray) -> float:
    """O(n m) reference: P(s > b) + P(s == b) / 2 over all pairs."""
    greater = equal = 0
    for s in signal:
        for b in background:
            greater += s > b
            equal += s == b
    return (greater + 0.5 * equal) / (len(signal) * len(background))


def _rate_for(passes: float, n: int) -> float:
    return passes / n * CROSSING_RATE_KHZ


# ---------------------------------------------------------------- efficiency


def test_efficiency_of_zero_is_exact() -> None:
    for n in (1, 7, 100, 10_000):
        e = efficiency(0, n)
        assert e.value == 0.0
        assert e.low == 0.0
        # Beta(1, n) quantile in closed form: 1 - (alpha/2)^(1/n)
        assert e.high == pytest.approx(1 - (ALPHA / 2) ** (1 / n), rel=1e-10)


def test_efficiency_of_all_is_exact() -> None:
    for n in (1, 7, 100, 10_000):
        e = efficiency(n, n)
        assert e.value == 1.0
        assert e.high == 1.0
        assert e.low == pytest.approx((ALPHA / 2) ** (1 / n), rel=1e-10)


def test_efficiency_known_value() -> None:
    # Clopper-Pearson 95 % interval of 5 out of 10: [0.1871, 0.8129] (textbook value)
    e = efficiency(5, 10, cl=0.95)
    assert e.low == pytest.approx(0.18709, abs=1e-5)
    assert e.high == pytest.approx(0.81291, abs=1e-5)
    # and one sigma for 1 of 4: scipy's exact binomial interval
    ci = stats.binomtest(1, 4).proportion_ci(confidence_level=0.6827, method="exact")
    e = efficiency(1, 4)
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert e.err_low == pytest.approx(0.25 - ci.low)
    assert e.err_high == pytest.approx(ci.high - 0.25)


def test_efficiency_rejects_bad_counts() -> None:
    with pytest.raises(ConfigError, match="total"):
        efficiency(0, 0)
    with pytest.raises(ConfigError, match="passed"):
        efficiency(5, 4)
    with pytest.raises(ConfigError, match="passed"):
        efficiency(-1, 4)


# ---------------------------------------------------------------- ROC and AUC


def test_auc_against_pairwise_reference_with_ties() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        n, m = int(rng.integers(1, 80)), int(rng.integers(1, 80))
        bkg = rng.integers(0, 6, n).astype(float)  # many ties, within and across samples
        sig = rng.integers(1, 8, m).astype(float)
        assert auc(bkg, sig) == pytest.approx(_slow_auc(bkg, sig), abs=1e-12)


def test_auc_against_pairwise_reference_continuous() -> None:
    rng = np.random.default_rng(5)
    bkg, sig = rng.normal(size=300), rng.normal(0.7, 1.0, 200)
    assert auc(bkg, sig) == pytest.approx(_slow_auc(bkg, sig), abs=1e-12)


def test_auc_extremes() -> None:
    assert auc([0.0, 1.0], [2.0, 3.0]) == 1.0
    assert auc([2.0, 3.0], [0.0, 1.0]) == 0.0
    assert auc([1.0, 1.0], [1.0]) == 0.5


def test_roc_curve_by_hand() -> None:
    bkg_eff, sig_eff, thresholds = roc_curve([0.0, 1.0, 2.0], [1.0, 3.0])
    assert thresholds.tolist() == [3.0, 2.0, 1.0, 0.0, -math.inf]
    assert bkg_eff.tolist() == pytest.approx([0, 0, 1 / 3, 2 / 3, 1])
    assert sig_eff.tolist() == pytest.approx([0, 0.5, 0.5, 1, 1])


def test_roc_curve_is_the_trigger_rule_and_integrates_to_auc() -> None:
    rng = np.random.default_rng(6)
    bkg = rng.integers(0, 20, 500).astype(float)
    sig = rng.integers(5, 30, 300).astype(float)
    bkg_eff, sig_eff, thresholds = roc_curve(bkg, sig)
    for i in rng.integers(0, len(thresholds), 30):
        assert bkg_eff[i] == np.mean(bkg > thresholds[i])
        assert sig_eff[i] == np.mean(sig > thresholds[i])
    assert np.all(np.diff(bkg_eff) >= 0)
    assert np.all(np.diff(sig_eff) >= 0)
    assert (bkg_eff[0], sig_eff[0], bkg_eff[-1], sig_eff[-1]) == (0.0, 0.0, 1.0, 1.0)
    area = float(np.sum(np.diff(bkg_eff) * (sig_eff[1:] + sig_eff[:-1]) / 2))
    assert area == pytest.approx(auc(bkg, sig), abs=1e-12)


# ---------------------------------------------------------------- evaluate


def test_efficiencies_at_rates_against_brute_force() -> None:
    rng = np.random.default_rng(8)
    zb = rng.exponential(size=30_000)
    sigs = {"A": rng.exponential(3.0, 2000), "B": np.round(rng.exponential(2.0, 1500), 1)}
    ev = evaluate(zb, sigs, rates_khz=(100.0, 1.0, 20.0))
    assert [t.rate_khz for t in ev.thresholds] == [1.0, 20.0, 100.0]  # sorted
    for name, s in sigs.items():
        res = ev.signals[name]
        assert res.n_events == len(s)
        for t, e in zip(ev.thresholds, res.efficiency, strict=True):
            assert t == threshold_for_rate(zb, t.rate_khz)
            assert e.passed == int(np.sum(s > t.threshold))
            assert e.total == len(s)
            assert res.efficiency_at(t.rate_khz) == e
        assert res.auc == pytest.approx(auc(zb, s))
        assert res.pure_efficiency is None
    assert ev.pure_rates is None
    assert ev.menu_rate is None
    with pytest.raises(ConfigError, match="not evaluated"):
        ev.signals["A"].efficiency_at(2.0)


def test_pure_efficiency_by_hand() -> None:
    zb = np.arange(1000.0)
    rate = _rate_for(10, 1000)  # threshold 989: scores 990 ... 999 pass
    sig = np.array([995.0, 992.0, 990.0, 989.0, 500.0, 999.0])
    sig_menu = np.array([True, False, False, True, True, False])
    zb_menu = zb >= 995  # the menu takes the 5 highest zero-bias events
    ev = evaluate(zb, {"S": sig}, rates_khz=(rate,), zb_menu=zb_menu, signal_menu={"S": sig_menu})
    (t,) = ev.thresholds
    assert t.threshold == 989.0
    s = ev.signals["S"]
    # anomaly trigger accepts 995, 992, 990, 999 (989 is not > 989); the menu takes 995
    assert (s.efficiency[0].passed, s.efficiency[0].total) == (4, 6)
    assert s.pure_efficiency is not None
    assert (s.pure_efficiency[0].passed, s.pure_efficiency[0].total) == (3, 6)
    assert s.pure_efficiency_at(rate) == s.pure_efficiency[0]
    assert s.menu_efficiency is not None
    assert s.menu_efficiency.passed == 3
    # zero bias: 990 ... 994 are accepted by the anomaly trigger only
    assert ev.pure_rates is not None
    assert ev.pure_rates[0].n_pass == 5
    assert ev.pure_rates[0].rate_khz == pytest.approx(_rate_for(5, 1000))
    assert ev.menu_rate is not None
    assert ev.menu_rate.n_pass == 5
    m = ev.to_metrics()
    label = t.label
    assert m[f"pure_eff/S/{label}"] == pytest.approx(0.5)
    assert m[f"eff/S/{label}"] == pytest.approx(4 / 6)
    assert m[f"pure_rate/{label}"] == pytest.approx(_rate_for(5, 1000))
    assert m["menu_eff/S"] == pytest.approx(0.5)


def test_efficiency_at_background_working_point() -> None:
    zb = np.arange(1000.0)
    sig = np.array([995.0, 989.0, 990.0, 10.0])
    ev = evaluate(zb, {"S": sig}, rates_khz=(100.0,), bkg_eff=0.01)
    assert ev.bkg_threshold.threshold == 989.0
    assert ev.bkg_threshold.measurable
    assert ev.signals["S"].eff_at_bkg.passed == 2
    assert ev.to_metrics()["eff_at_bkg/S"] == 0.5
    # ADC2021's 1e-5 needs a million zero-bias events for 10 expected passes
    ev = evaluate(zb, {"S": sig}, rates_khz=(100.0,))
    assert not ev.bkg_threshold.measurable
    assert "eff_at_bkg/S" not in ev.to_metrics()


@pytest.mark.slow
def test_metrics_leave_out_unmeasurable_rates_and_are_valid_mlflow_names() -> None:
    rng = np.random.default_rng(9)
    zb = rng.normal(size=20_000)
    sigs = {"ADC2021_A50_4l": rng.normal(2, 1, 500), "ttH(bb) -> 4b?": rng.normal(1, 1, 500)}
    ev = evaluate(
        zb,
        sigs,
        zb_menu=zb > 2.5,
        signal_menu={k: v > 2.5 for k, v in sigs.items()},
    )
    measurable = {t.label for t in ev.thresholds if t.measurable}
    unmeasurable = {t.label for t in ev.thresholds if not t.measurable}
    assert measurable == {"20kHz", "50kHz", "100kHz"}  # 10 expected passes need 14.3 kHz
    assert ev.unmeasurable_rates_khz == (0.15, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)
    metrics = ev.to_metrics()
    assert "eff/ADC2021_A50_4l/20kHz" in metrics
    assert "eff/ttH_bb__-__4b_/100kHz" in metrics
    assert "auc/ADC2021_A50_4l" in metrics
    for key in metrics:
        assert not any(key.endswith("/" + lab) for lab in unmeasurable), key
        assert re.fullmatch(r"[A-Za-z0-9_.\-/ ]+", key), key
    assert all(math.isfinite(v) for v in metrics.values())
    validation = pytest.importorskip("mlflow.utils.validation")
    for key in metrics:
        validation._validate_metric_name(key)


def test_table_and_records() -> None:
    zb = np.arange(2000.0)
    ev = evaluate(zb, {"S": np.array([1999.5, 1000.0, 1990.0, 3.0])}, rates_khz=(1.0, 200.0))
    (row,) = ev.table()
    assert row["signal"] == "S"
    assert row["events"] == 4
    assert row["1 kHz"] == "not measurable"  # 0.07 zero-bias events expected
    # 200 kHz: 14 passes, threshold 1985: 1999.5 and 1990 pass -> 50 %
    e = ev.signals["S"].efficiency[1]
    assert e.passed == 2
    assert row["200 kHz"] == f"50.0 +{100 * e.err_high:.1f} -{100 * e.err_low:.1f} %"
    records = ev.records()
    assert [r["rate_khz"] for r in records] == [1.0, 200.0]
    assert records[1]["efficiency"] == 0.5
    assert records[0]["measurable"] is False


def test_histogram_counts_every_event() -> None:
    rng = np.random.default_rng(10)
    zb, sig = rng.exponential(size=5000), rng.exponential(10.0, 700)
    ev = evaluate(zb, {"S": sig}, rates_khz=(100.0,))
    h = ev.histogram
    assert int(h.zero_bias.sum()) == 5000
    assert int(h.signals["S"].sum()) == 700
    assert h.log_x  # positive scores over more than three decades
    ev = evaluate(rng.normal(size=500), {"S": rng.normal(size=50)}, rates_khz=(100.0,))
    assert not ev.histogram.log_x


def test_roc_kept_for_plots_is_thinned_but_spans_the_curve() -> None:
    rng = np.random.default_rng(12)
    ev = evaluate(rng.normal(size=50_000), {"S": rng.normal(1, 1, 5000)}, rates_khz=(100.0,))
    roc = ev.signals["S"].roc
    assert len(roc.bkg) <= 1500
    assert (roc.bkg[0], roc.bkg[-1], roc.sig[-1]) == (0.0, 1.0, 1.0)
    assert np.all(np.diff(roc.bkg) >= 0)


def test_metric_name_part() -> None:
    assert metric_name_part("ADC2021_A50_4l") == "ADC2021_A50_4l"
    assert metric_name_part("H->aa (m=10)") == "H-_aa__m_10_"
    assert metric_name_part("a/b") == "a_b"
    assert metric_name_part(".") == "_."


def test_rate_only_evaluation_has_thresholds_and_no_efficiency() -> None:
    # scores 0 ... 999; 100 kHz of 1000 kHz crossings: k = 100 events above the 101st largest
    ev = evaluate(
        np.arange(1000.0), {}, rates_khz=(100.0, 1.0), crossing_rate_khz=1000.0, min_pass=5
    )
    assert ev.signals == {}
    assert [t.threshold for t in ev.thresholds] == [998.0, 899.0]  # 1 kHz: k = 1
    assert [t.measurable for t in ev.thresholds] == [False, True]
    metrics = ev.to_metrics()
    assert metrics["threshold/100kHz"] == 899.0
    assert metrics["rate/100kHz"] == pytest.approx(100.0)
    assert not [
        k
        for k in metrics
        if k.startswith(("eff", "auc", "n_events/")) and k != "n_events/zero_bias"
    ]
    assert ev.table() == []
    assert ev.records() == []


def test_evaluate_errors() -> None:
    zb = np.arange(100.0)
    sig = {"S": np.arange(10.0)}
    with pytest.raises(ConfigError, match="no menu decisions"):
        evaluate(zb, {**sig, "T": np.ones(3)}, signal_menu={"S": np.zeros(10, bool)})
    with pytest.raises(DataFormatError, match="shape"):
        evaluate(zb, sig, signal_menu={"S": np.zeros(9, bool)})
    with pytest.raises(DataFormatError, match="bool"):
        evaluate(zb, sig, zb_menu=np.zeros(100))
    with pytest.raises(ConfigError, match="same metric name"):
        evaluate(zb, {"a b": np.ones(2), "a_b": np.ones(2)})
    with pytest.raises(DataFormatError, match="NaN"):
        evaluate(zb, {"S": np.array([1.0, np.nan])})
    with pytest.raises(DataFormatError, match="empty"):
        evaluate(zb, {"S": np.array([])})
