"""Figures of merit of the event classifiers: one-vs-rest AUC, confusion, trigger bits at fixed rate.

* :func:`one_vs_rest_auc`: for every class c, the area under the ROC curve of
  the score ``p_c`` separating class c from all the other classes, the public
  18-class baseline's figure of merit; :func:`mean_auc` is their mean over the
  classes present (the public best on COLLIDE-2V is 0.935). The AUC is the
  Mann-Whitney statistic ``P(s > b) + P(s == b) / 2`` from mid-ranks (ties get
  the average rank; Hanley & McNeil, Radiology 143 (1982) 29), so it equals
  ``sklearn.metrics.roc_auc_score`` exactly, ties included.
* :func:`confusion_matrix`: counts of (true, predicted) classes, rows true,
  normalised over the true class by default.
* :func:`trigger_bits`: the classifier used as a Level-1 trigger bit. For each
  class other than zero bias, the bit fires when ``p_class > threshold``; the
  threshold is the one the zero-bias test events (minimum bias at pileup 200)
  pass at the target rate (:func:`l1scout.tasks.rates.threshold_for_rate`:
  ``rate = fraction of zero-bias events accepted x crossing rate``, default
  31,039 kHz), and the bit's efficiency on the class's own test events comes
  with its Clopper-Pearson interval (:func:`l1scout.tasks.rates.efficiency`).

Example:
    >>> scores = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
    >>> one_vs_rest_auc(scores, [0, 0, 1, 1]).tolist()
    [1.0, 1.0]
    >>> confusion_matrix([0, 0, 1, 1], scores.argmax(axis=1), 2).tolist()
    [[1.0, 0.0], [0.5, 0.5]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from l1scout._types import F64, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.classify.classes import CLASS_NAMES
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_MIN_PASS,
    Efficiency,
    MeasuredRate,
    efficiency,
    measured_rate,
    threshold_for_rate,
)

__all__ = [
    "TriggerBit",
    "confusion_matrix",
    "mean_auc",
    "one_vs_rest_auc",
    "trigger_bits",
]

_log = logging.getLogger(__name__)


def _scores_and_labels(scores: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[F64, I64]:
    """Scores (n, C) float64 and labels (n,) int64, checked: finite scores, labels in [0, C)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 2 or s.shape[1] < 2:
        raise DataFormatError(f"scores: expected shape (n, n_classes >= 2), got {s.shape}")
    if y.shape != (s.shape[0],):
        raise DataFormatError(f"labels: expected shape ({s.shape[0]},), got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise DataFormatError(f"labels: expected integer class labels, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= s.shape[1]):
        raise DataFormatError(
            f"labels: expected classes in [0, {s.shape[1] - 1}], got {y.min()} ... {y.max()}"
        )
    if np.isnan(s).any():
        raise DataFormatError("scores: NaN scores; a score must be a number")
    return s, y


def one_vs_rest_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> F64:
    """Per class c, the AUC of ``scores[:, c]`` for class c against all other classes.

    Args:
        scores: (n, C) class scores (probabilities or logits: the AUC only
            depends on their order).
        labels: (n,) true class of each event, in [0, C).

    Returns:
        float64 (C,): NaN for a class with no event, or with all events.

    Raises:
        DataFormatError: wrong shapes, NaN scores or labels out of range.

    >>> one_vs_rest_auc([[0.9, 0.1, 0.0], [0.5, 0.5, 0.0], [0.5, 0.2, 0.3]], [0, 1, 0]).tolist()
    [0.75, 1.0, nan]
    """
    from scipy import stats

    s, y = _scores_and_labels(scores, labels)
    n, n_classes = s.shape
    out = np.full(n_classes, np.nan)
    if n == 0:
        return out
    ranks = stats.rankdata(s, method="average", axis=0)  # mid-ranks per column
    n_pos = np.bincount(y, minlength=n_classes).astype(np.float64)
    n_neg = n - n_pos
    rank_sum = np.zeros(n_classes)
    np.add.at(rank_sum, y, ranks[np.arange(n), y])
    ok = (n_pos > 0) & (n_neg > 0)
    u = rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1.0) / 2.0
    out[ok] = u / (n_pos[ok] * n_neg[ok])
    return out


def mean_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """The mean of :func:`one_vs_rest_auc` over the classes it is defined for (NaN if none).

    >>> mean_auc([[0.9, 0.1, 0.0], [0.5, 0.5, 0.0], [0.5, 0.2, 0.3]], [0, 1, 0])
    0.875
    """
    aucs = one_vs_rest_auc(scores, labels)
    ok = np.isfinite(aucs)
    return float(aucs[ok].mean()) if ok.any() else float("nan")


def confusion_matrix(
    labels: npt.ArrayLike,
    predicted: npt.ArrayLike,
    n_classes: int,
    normalize: Literal["true", "pred", "all"] | None = "true",
) -> F64:
    """The (n_classes, n_classes) confusion matrix: row = true class, column = predicted class.

    Args:
        labels: true classes, (n,), in [0, n_classes).
        predicted: predicted classes (e.g. the argmax of the scores), (n,).
        n_classes: classes.
        normalize: ``"true"`` (each row sums to 1: the fraction of a class's
            events given each prediction), ``"pred"`` (each column sums to 1),
            ``"all"`` (the matrix sums to 1) or None (counts). A row (column) with
            no event stays 0, as in ``sklearn.metrics.confusion_matrix``.

    Raises:
        ConfigError: a bad *n_classes* or *normalize*.
        DataFormatError: shapes differ or a class is out of range.

    >>> confusion_matrix([0, 1, 1, 1], [0, 0, 1, 1], 3, normalize=None).astype(int).tolist()
    [[1, 0, 0], [1, 2, 0], [0, 0, 0]]
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ConfigError(f"n_classes: expected a positive integer, got {n_classes!r}")
    if normalize not in ("true", "pred", "all", None):
        raise ConfigError(f"normalize: expected 'true', 'pred', 'all' or None, got {normalize!r}")
    y, p = np.asarray(labels), np.asarray(predicted)
    if y.ndim != 1 or p.shape != y.shape:
        raise DataFormatError(
            f"labels, predicted: expected two 1-d arrays of one length, got {y.shape}, {p.shape}"
        )
    for name, arr in (("labels", y), ("predicted", p)):
        if arr.size and (
            not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= n_classes
        ):
            raise DataFormatError(f"{name}: expected integer classes in [0, {n_classes - 1}]")
    counts = (
        np.bincount(
            y.astype(np.int64) * n_classes + p.astype(np.int64), minlength=n_classes * n_classes
        )
        .reshape(n_classes, n_classes)
        .astype(np.float64)
    )
    if normalize is None:
        return counts
    if normalize == "all":
        total = counts.sum()
        return counts / total if total else counts
    axis = 1 if normalize == "true" else 0
    sums = counts.sum(axis=axis, keepdims=True)
    out: F64 = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
    return out


@dataclass(frozen=True)
class TriggerBit:
    """One class's classifier score used as a trigger bit at one zero-bias rate.

    Attributes:
        class_name: the class whose probability is cut on.
        rate_khz: the target rate (kHz).
        threshold: fire when ``p_class > threshold``.
        efficiency: the fraction of the class's events that fire, with its
            Clopper-Pearson interval.
        measured_rate: the zero-bias rate that fires at this threshold (at most
            the target), with its interval.
        label: the class's label (its column of the scores).
        measurable: at least :data:`~l1scout.tasks.rates.DEFAULT_MIN_PASS`
            zero-bias events are expected above the threshold (else the rate,
            and so the efficiency, rests on a handful of events).
    """

    class_name: str
    rate_khz: float
    threshold: float
    efficiency: Efficiency
    measured_rate: MeasuredRate
    label: int = -1
    measurable: bool = True


def trigger_bits(
    probabilities: npt.ArrayLike,
    labels: npt.ArrayLike,
    zero_bias_class: int,
    rates_khz: Sequence[float] = (1.0, 10.0),
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    *,
    class_names: Sequence[str] | None = None,
    min_pass: int = DEFAULT_MIN_PASS,
) -> list[TriggerBit]:
    """Every class's trigger bit at every target rate (module docstring).

    Args:
        probabilities: (n, C) class probabilities of the test events.
        labels: (n,) true classes.
        zero_bias_class: the label of the zero-bias class (minimum bias).
        rates_khz: target rates (kHz).
        crossing_rate_khz: rate of non-empty crossings (kHz).
        class_names: names of the C classes (default: the 18
            :data:`~l1scout.tasks.classify.classes.CLASS_NAMES` when C = 18,
            else ``class0``, ``class1``, ...).
        min_pass: zero-bias events expected above a threshold for it to be
            :attr:`TriggerBit.measurable`.

    Returns:
        One :class:`TriggerBit` per (class, rate), class-major; classes without
        test events are left out.

    Raises:
        ConfigError: a bad zero-bias label, rate or *class_names*.
        DataFormatError: wrong shapes, NaN scores, or no zero-bias event.

    Example (crossing rate 100 kHz: 10 kHz is 10 % of the zero-bias events):
        >>> p = np.array([[0.9, 0.1]] * 9 + [[0.2, 0.8]] + [[0.95, 0.05], [0.1, 0.9]])
        >>> y = np.array([0] * 10 + [1, 1])
        >>> bit = trigger_bits(p, y, zero_bias_class=0, rates_khz=[10.0], crossing_rate_khz=100.0,
        ...                    class_names=["zb", "sig"], min_pass=1)[0]
        >>> bit.class_name, bit.threshold, bit.efficiency.value, bit.measured_rate.rate_khz
        ('sig', 0.1, 0.5, 10.0)
    """
    s, y = _scores_and_labels(probabilities, labels)
    n_classes = s.shape[1]
    if isinstance(zero_bias_class, bool) or not 0 <= int(zero_bias_class) < n_classes:
        raise ConfigError(
            f"zero_bias_class: expected a label in [0, {n_classes - 1}], got {zero_bias_class!r}"
        )
    zb = int(zero_bias_class)
    if class_names is None:
        names = (
            list(CLASS_NAMES)
            if n_classes == len(CLASS_NAMES)
            else [f"class{i}" for i in range(n_classes)]
        )
    else:
        names = list(class_names)
        if len(names) != n_classes:
            raise ConfigError(f"class_names: expected {n_classes} names, got {len(names)}")
    is_zb = y == zb
    if not is_zb.any():
        raise DataFormatError(
            f"labels: no zero-bias event (class {names[zb]!r}) to set the thresholds on"
        )
    bits: list[TriggerBit] = []
    for c in range(n_classes):
        if c == zb:
            continue
        signal = s[y == c, c]
        if signal.size == 0:
            _log.debug("trigger bits: no test event of class %s", names[c])
            continue
        for rate in rates_khz:
            t = threshold_for_rate(
                s[is_zb, c], float(rate), crossing_rate_khz=crossing_rate_khz, min_pass=min_pass
            )
            passed = int(np.count_nonzero(signal > t.threshold))
            bits.append(
                TriggerBit(
                    class_name=names[c],
                    rate_khz=float(rate),
                    threshold=t.threshold,
                    efficiency=efficiency(passed, signal.size, t.cl),
                    measured_rate=measured_rate(
                        t.n_pass, t.n_total, crossing_rate_khz=crossing_rate_khz, cl=t.cl
                    ),
                    label=c,
                    measurable=t.measurable,
                )
            )
    return bits
