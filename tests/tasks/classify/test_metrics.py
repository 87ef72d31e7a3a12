"""Classifier metrics: one-vs-rest AUC against sklearn and a pairwise reference, confusion, trigger bits."""

from __future__ import annotations

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.classify.classes import CLASS_NAMES, ZERO_BIAS_CLASS, class_index
from l1scout.tasks.classify.metrics import (
    confusion_matrix,
    mean_auc,
    one_vs_rest_auc,
    trigger_bits,
)


def _pairwise_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(s > b) + P(s == b) / 2 over all pairs: slow and obviously correct."""
    greater = (pos[:, None] > neg[None, :]).sum()
    equal = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * equal) / (pos.size * neg.size))


def _random_scores(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return np.round(p, 2), y  # rounding makes many ties


def test_auc_matches_the_pairwise_reference_with_ties() -> None:
    p, y = _random_scores(300, 5, seed=1)
    aucs = one_vs_rest_auc(p, y)
    for c in range(5):
        assert aucs[c] == pytest.approx(_pairwise_auc(p[y == c, c], p[y != c, c]), abs=1e-12)


def test_auc_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    p, y = _random_scores(500, 18, seed=2)
    aucs = one_vs_rest_auc(p, y)
    expected = [metrics.roc_auc_score(y == c, p[:, c]) for c in range(18)]
    np.testing.assert_allclose(aucs, expected, rtol=0, atol=1e-12)
    assert mean_auc(p, y) == pytest.approx(np.mean(expected), abs=1e-12)


def test_auc_known_values_and_absent_classes() -> None:
    # perfect, inverted and constant scores
    y = np.array([0, 0, 1, 1])
    perfect = np.array([[1.0, 0.0], [0.9, 0.1], [0.2, 0.8], [0.1, 0.9]])
    assert one_vs_rest_auc(perfect, y).tolist() == [1.0, 1.0]
    assert one_vs_rest_auc(perfect[:, ::-1], y).tolist() == [0.0, 0.0]
    assert one_vs_rest_auc(np.full((4, 2), 0.5), y).tolist() == [0.5, 0.5]
    # class 2 absent: NaN, and left out of the mean
    p3 = np.column_stack([perfect, np.zeros(4)])
    aucs = one_vs_rest_auc(p3, y)
    assert np.isnan(aucs[2])
    assert mean_auc(p3, y) == 1.0
    # every event in one class: no negatives
    assert np.isnan(one_vs_rest_auc(perfect, [1, 1, 1, 1])).all()
    assert np.isnan(mean_auc(perfect, [1, 1, 1, 1]))


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        (np.zeros((3, 2)), [0, 1], "labels: expected shape"),
        (np.zeros(3), [0, 1, 0], "scores: expected shape"),
        (np.zeros((2, 2)), [0, 2], "classes in"),
        (np.zeros((2, 2)), [0.0, 1.0], "integer"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), [0, 1], "NaN"),
    ],
)
def test_bad_scores_or_labels(scores: np.ndarray, labels: list[float], message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        one_vs_rest_auc(scores, labels)


def test_confusion_matrix_by_hand_and_against_sklearn() -> None:
    y = np.array([0, 0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 2, 2])
    counts = confusion_matrix(y, p, 4, normalize=None)
    assert counts.tolist() == [[1, 2, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    true = confusion_matrix(y, p, 4)
    np.testing.assert_allclose(true[:3].sum(axis=1), 1.0)
    assert true[3].tolist() == [0.0] * 4  # class 3 has no event
    assert true[0].tolist() == pytest.approx([1 / 3, 2 / 3, 0, 0])
    np.testing.assert_allclose(
        confusion_matrix(y, p, 4, normalize="pred")[:, 1], [2 / 3, 1 / 3, 0, 0]
    )
    assert confusion_matrix(y, p, 4, normalize="all").sum() == pytest.approx(1.0)
    metrics = pytest.importorskip("sklearn.metrics")
    pp, yy = _random_scores(400, 6, seed=3)
    pred = pp.argmax(axis=1)
    for norm in ("true", "pred", "all", None):
        ref = metrics.confusion_matrix(yy, pred, labels=range(6), normalize=norm)
        np.testing.assert_allclose(confusion_matrix(yy, pred, 6, normalize=norm), ref)


def test_confusion_matrix_refuses_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="normalize"):
        confusion_matrix([0], [0], 2, normalize="rows")  # type: ignore[arg-type]
    with pytest.raises(DataFormatError, match="predicted"):
        confusion_matrix([0, 1], [0, 5], 2)
    with pytest.raises(DataFormatError, match="one length"):
        confusion_matrix([0, 1], [0], 2)


def test_trigger_bits_on_hand_made_scores() -> None:
    """1000 zero-bias events with known scores; 1 % and 10 % of them at 1 % / 10 % of the crossing rate."""
    n_zb = 1000
    zb_scores = np.arange(n_zb) / n_zb  # 0.000 ... 0.999, for both signal columns
    sig1 = np.array([0.9995, 0.995, 0.95, 0.5])  # class 1
    sig2 = np.array([0.9999, 0.0])  # class 2
    p = np.zeros((n_zb + 6, 3))
    p[:n_zb, 1] = zb_scores
    p[:n_zb, 2] = zb_scores
    p[n_zb : n_zb + 4, 1] = sig1
    p[n_zb + 4 :, 2] = sig2
    y = np.array([0] * n_zb + [1] * 4 + [2] * 2)
    crossing = 1000.0
    bits = trigger_bits(
        p, y, 0, rates_khz=(10.0, 100.0), crossing_rate_khz=crossing, class_names=["zb", "a", "b"]
    )
    assert [(b.class_name, b.rate_khz) for b in bits] == [
        ("a", 10.0),
        ("a", 100.0),
        ("b", 10.0),
        ("b", 100.0),
    ]
    a10, a100, b10, b100 = bits
    # 1 % of 1000: 10 zero-bias events above the threshold -> the 11th largest score
    assert a10.threshold == pytest.approx(0.989)
    assert a10.measured_rate.n_pass == 10
    assert a10.measured_rate.rate_khz == pytest.approx(10.0)
    assert a10.efficiency.passed == 2
    assert a10.efficiency.total == 4
    assert a10.efficiency.low < 0.5 < a10.efficiency.high
    assert a10.measurable
    assert a100.threshold == pytest.approx(0.899)
    assert a100.efficiency.passed == 3
    assert (b10.efficiency.passed, b10.efficiency.total) == (1, 2)
    assert b100.label == 2


def test_trigger_bits_with_the_eighteen_classes_and_the_default_rates() -> None:
    p, y = _random_scores(2000, 18, seed=4)
    zb = class_index(ZERO_BIAS_CLASS)
    bits = trigger_bits(p, y, zb)
    assert {b.rate_khz for b in bits} == {1.0, 10.0}
    assert {b.class_name for b in bits} == set(CLASS_NAMES) - {ZERO_BIAS_CLASS}
    for bit in bits:
        # the rate never exceeds the target; efficiency within its interval
        assert bit.measured_rate.rate_khz <= bit.rate_khz + 1e-9
        assert bit.efficiency.low <= bit.efficiency.value <= bit.efficiency.high
        passed = int((p[y == bit.label, bit.label] > bit.threshold).sum())
        assert bit.efficiency.passed == passed
        assert bit.measured_rate.n_total == int((y == zb).sum())
    # a few zero-bias events at these rates: 1 kHz of 31,039 kHz is far below measurable
    assert not any(b.measurable for b in bits if b.rate_khz == 1.0)


def test_trigger_bits_refuse_missing_zero_bias() -> None:
    p = np.full((3, 3), 1 / 3)
    with pytest.raises(DataFormatError, match="zero-bias"):
        trigger_bits(p, [1, 2, 2], 0)
    with pytest.raises(ConfigError, match="zero_bias_class"):
        trigger_bits(p, [0, 1, 2], 3)
    with pytest.raises(ConfigError, match="class_names"):
        trigger_bits(p, [0, 1, 2], 0, class_names=["a"])
    # a class without test events is left out
    assert {b.label for b in trigger_bits(p, [0, 0, 1], 0, rates_khz=[1.0])} == {1}
