"""Downstream measures of the compression task: AUC and efficiency at a fixed rate, and their ratios.

A score (higher = more signal-like) of the test events of each process gives,
per signal against the zero-bias process (:func:`measure_scores`):

* the **AUC**: the area under the ROC curve of the signal against zero bias,
  ``P(s > b) + P(s = b) / 2`` (the Mann-Whitney statistic,
  :func:`l1scout.tasks.anomaly.metrics.auc`);
* the **efficiency at a fixed zero-bias rate**: the threshold of
  :func:`l1scout.tasks.rates.threshold_for_rate` on the zero-bias scores
  (accept ``score > threshold``; the rate is the accepted fraction of zero
  bias times the Phase-2 crossing rate, 31,039 kHz, CMS-TDR-021), the fraction
  of the signal above it, with its central Clopper-Pearson interval (Clopper &
  Pearson, Biometrika 26 (1934) 404) at 68.27 %.

:func:`downstream_ratios` divides each measure on a stored form by the same
measure on the original events: 1 for a lossless codec.

**The fixed rate.** A rate ``r`` keeps the fraction ``r / 31,039 kHz`` of
zero bias; with ``n`` zero-bias test events, ``N = n r / 31,039 kHz`` are
expected above the threshold and the rate's relative statistical uncertainty
is about ``1 / sqrt(N)``. :func:`choose_rate_khz` takes the smallest rate of
:data:`RATE_LADDER_KHZ` with ``N >= 50`` (:data:`DEFAULT_MIN_EXPECTED`; about
14 %): 100 kHz (the rate the issue names first) needs 15,520 zero-bias test
events, 300 kHz 5,170, 1 MHz 1,552. The rate is the same for the originals
and for every codec of one run (the same test events), and
:class:`DownstreamResult` records it; a configuration can fix it instead.

Example (a perfectly separating score):
    >>> zb = np.arange(2000.0)
    >>> r = measure_scores({"s": {"minbias": zb, "sig": zb + 5000.0}}, "minbias")
    >>> r.rate_khz, r.measures["s"]["sig"].auc, r.measures["s"]["sig"].efficiency.value
    (1000.0, 1.0, 1.0)
    >>> downstream_ratios(r, r)
    {'s/auc_ratio/sig': 1.0, 's/eff_ratio/sig': 1.0}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.anomaly.metrics import auc, metric_name_part
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_CL,
    Efficiency,
    Threshold,
    efficiency,
    threshold_for_rate,
)

__all__ = [
    "DEFAULT_MIN_EXPECTED",
    "EMBEDDING_PAIRS",
    "RATE_LADDER_KHZ",
    "DownstreamResult",
    "SignalMeasure",
    "choose_rate_khz",
    "downstream_ratios",
    "measure_scores",
]

_log = logging.getLogger(__name__)

#: The rates :func:`choose_rate_khz` picks from (kHz), smallest first.
RATE_LADDER_KHZ: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
#: Zero-bias test events expected above the threshold for a rate to count as resolved.
DEFAULT_MIN_EXPECTED = 50

#: Stored-form scores and the original-event score each is compared with.
EMBEDDING_PAIRS: Mapping[str, str] = {"probe": "classifier", "mahalanobis": "anomaly"}


def choose_rate_khz(
    n_zero_bias: int,
    *,
    min_expected: int = DEFAULT_MIN_EXPECTED,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
) -> float:
    """The smallest rate of :data:`RATE_LADDER_KHZ` that *n_zero_bias* test events resolve (kHz).

    Resolved: at least *min_expected* zero-bias events expected above the
    threshold (module docstring). Too few events for every rate of the ladder
    gives its largest rate (and a warning): the result's thresholds then say
    ``measurable=False``.

    Raises:
        ConfigError: *n_zero_bias* or *min_expected* below 1.

    >>> choose_rate_khz(20_000), choose_rate_khz(2_000), choose_rate_khz(200_000)
    (100.0, 1000.0, 10.0)
    """
    if n_zero_bias < 1 or min_expected < 1:
        msg = f"choose_rate_khz: expected positive counts, got {n_zero_bias} events, {min_expected} expected"
        raise ConfigError(msg)
    for rate in RATE_LADDER_KHZ:
        if n_zero_bias * rate / crossing_rate_khz >= min_expected:
            return rate
    _log.warning(
        "%d zero-bias test events resolve no rate of %s kHz (%d events expected above); using %g kHz",
        n_zero_bias,
        RATE_LADDER_KHZ,
        min_expected,
        RATE_LADDER_KHZ[-1],
    )
    return RATE_LADDER_KHZ[-1]


@dataclass(frozen=True)
class SignalMeasure:
    """One score on one signal against zero bias.

    Attributes:
        auc: area under the ROC curve of the signal against zero bias.
        efficiency: signal events above the threshold, with the Clopper-Pearson interval.
        threshold: the zero-bias threshold of the fixed rate (its measured rate and interval).
    """

    auc: float
    efficiency: Efficiency
    threshold: Threshold


@dataclass(frozen=True)
class DownstreamResult:
    """The downstream measures of one stored form (or of the originals) on the test events.

    Attributes:
        zero_bias: the zero-bias process.
        rate_khz: the fixed zero-bias rate of the efficiencies (kHz).
        n_zero_bias: zero-bias test events.
        measures: score name -> signal process -> :class:`SignalMeasure`.
    """

    zero_bias: str
    rate_khz: float
    n_zero_bias: int
    measures: Mapping[str, Mapping[str, SignalMeasure]] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat metrics, names stable for MLflow.

        ``<score>/auc/<signal>``, ``<score>/eff/<signal>`` (and ``eff_low``,
        ``eff_high``), ``<score>/rate_khz`` (the measured zero-bias rate at the
        threshold) and ``rate_khz`` (the target).
        """
        out: dict[str, float] = {"rate_khz": self.rate_khz}
        for score, per_signal in self.measures.items():
            for signal, m in per_signal.items():
                s = metric_name_part(signal)
                out[f"{score}/auc/{s}"] = m.auc
                out[f"{score}/eff/{s}"] = m.efficiency.value
                out[f"{score}/eff_low/{s}"] = m.efficiency.low
                out[f"{score}/eff_high/{s}"] = m.efficiency.high
                out[f"{score}/rate_khz"] = m.threshold.rate_measured_khz
        return out


def measure_scores(
    scores: Mapping[str, Mapping[str, npt.ArrayLike]],
    zero_bias: str,
    *,
    rate_khz: float | None = None,
    min_expected: int = DEFAULT_MIN_EXPECTED,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    cl: float = DEFAULT_CL,
) -> DownstreamResult:
    """AUC and efficiency at a fixed rate of every score and signal (module docstring).

    Args:
        scores: score name -> process -> the score of each test event (higher =
            more signal-like); each signal is measured against the zero-bias
            process of the same score.
        zero_bias: the zero-bias process.
        rate_khz: the fixed rate; None: :func:`choose_rate_khz` of the zero-bias count.
        min_expected: what :func:`choose_rate_khz` asks, and the thresholds' ``min_pass``.
        crossing_rate_khz: the crossing rate (kHz).
        cl: confidence level of the intervals.

    Raises:
        DataFormatError: no zero-bias scores for a score, or NaN scores.
        ConfigError: a bad rate or confidence level.
    """
    measures: dict[str, dict[str, SignalMeasure]] = {}
    n_zb = 0
    rate = rate_khz
    for name, per_process in scores.items():
        if zero_bias not in per_process:
            msg = f"scores[{name!r}]: no {zero_bias!r} (zero-bias) scores"
            raise DataFormatError(msg)
        zb = np.asarray(per_process[zero_bias], dtype=np.float64)
        n_zb = zb.size
        if rate is None:
            rate = choose_rate_khz(
                n_zb, min_expected=min_expected, crossing_rate_khz=crossing_rate_khz
            )
        thr = threshold_for_rate(
            zb, rate, crossing_rate_khz=crossing_rate_khz, min_pass=min_expected, cl=cl
        )
        out: dict[str, SignalMeasure] = {}
        for process, values in per_process.items():
            if process == zero_bias:
                continue
            sig = np.asarray(values, dtype=np.float64)
            passed = int(np.count_nonzero(sig > thr.threshold))
            out[process] = SignalMeasure(auc(zb, sig), efficiency(passed, sig.size, cl), thr)
        measures[name] = out
    return DownstreamResult(zero_bias, float(rate or math.nan), n_zb, measures)


def downstream_ratios(
    on_stored: DownstreamResult,
    on_original: DownstreamResult,
    *,
    pairs: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Each measure on the stored form divided by the same measure on the originals.

    Args:
        on_stored: the measures on the decoded events (or the embeddings).
        on_original: the measures on the original events.
        pairs: stored score -> original score; default each score of
            *on_stored* with the same name (decoded events);
            :data:`EMBEDDING_PAIRS` for embeddings.

    Returns:
        ``<score>/auc_ratio/<signal>`` and ``<score>/eff_ratio/<signal>``
        (NaN where the original's AUC or efficiency is 0), for every score and
        signal in both.
    """
    use = pairs if pairs is not None else {k: k for k in on_stored.measures}
    out: dict[str, float] = {}
    for stored, original in use.items():
        a = on_stored.measures.get(stored, {})
        b = on_original.measures.get(original, {})
        for signal in sorted(set(a) & set(b)):
            s = metric_name_part(signal)
            auc_b = b[signal].auc
            out[f"{stored}/auc_ratio/{s}"] = a[signal].auc / auc_b if auc_b > 0 else math.nan
            e_a, e_b = a[signal].efficiency.value, b[signal].efficiency.value
            out[f"{stored}/eff_ratio/{s}"] = e_a / e_b if e_b > 0 else math.nan
    return out
