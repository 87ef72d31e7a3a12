"""Trigger rates and efficiencies: thresholds for target rates, with their uncertainties.

Shared by the tasks that evaluate a trigger at fixed rates
(:mod:`l1scout.tasks.anomaly`, :mod:`l1scout.tasks.taus`): the crossing-rate
normalisations, thresholds from zero-bias scores, measured rates and
efficiencies (:func:`efficiency`), all with Clopper-Pearson intervals.

A Level-1 trigger's rate is the fraction of zero-bias crossings it accepts
times the rate of non-empty bunch crossings (``docs/physics/l1-algorithms.md``,
"Crossing-rate conventions"; at Phase-2 a zero-bias event is minimum bias at
pileup 200). Two normalisations are named (:data:`CROSSING_RATES_KHZ`):

* ``"phase2"`` (the default, :data:`CROSSING_RATE_KHZ`): 2760 colliding bunch
  pairs x 11.246 kHz = 31,038.96 kHz (31,039 kHz rounded), the normalisation
  of the public Phase-2 Level-1 rate studies (CMS-TDR-021), right for
  simulation at pileup 140-200 such as l1scout's;
* ``"run3"``: 2544 colliding bunch pairs x 11.2456 kHz = 28,608.8 kHz, the
  normalisation behind the published AXOL1TL rates (CMS-DP-2023-079,
  CMS-DP-2024-059), for comparing with them.

Every function takes the normalisation as ``crossing_rate_khz``;
:func:`crossing_rate_khz` turns a name or a number into kHz and
:func:`describe_crossing_rate` says which one a value is. The
AXOL1TL thresholds are the percentile of the zero-bias score at
``100 - 100 * rate / crossing rate``; :func:`threshold_for_rate` makes that
exact for a finite sample, ties included:

* the target fraction is ``f = rate / crossing rate``; with ``n`` zero-bias
  scores the target number of accepted events is ``k = floor(n f + 1/2)``
  (``n f`` rounded half up);
* the trigger accepts an event when ``score > threshold`` (strictly), and the
  threshold is the ``(k+1)``-th largest zero-bias score: the smallest observed
  score that at most ``k`` zero-bias scores exceed. Scores tied with it are all
  rejected, so ties never push the rate above the target: ``n_pass <= k``,
  with equality when the ``k``-th and ``(k+1)``-th largest scores differ.
  ``k = 0`` gives the largest score (nothing passes), ``k = n`` gives ``-inf``
  (everything finite passes);
* rate uncertainty: the Clopper-Pearson interval (Clopper & Pearson,
  Biometrika 26 (1934) 404; the central interval as ROOT's
  ``TEfficiency::ClopperPearson``) of ``n_pass`` out of ``n``, times the
  crossing rate, at confidence ``cl`` (default 68.27 %, one Gaussian sigma);
* threshold uncertainty: the distribution-free confidence interval of the
  ``(1 - f)`` quantile from order statistics (e.g. David & Nagaraja, *Order
  Statistics*, 3rd ed., sect. 7.1). The number ``J`` of zero-bias scores above
  the true threshold is Binomial(n, f); with ``a`` and ``b`` its upper and lower
  ``(1 -+ cl) / 2`` quantiles, ``[(a+1)-th largest, b-th largest]`` covers the
  true threshold with probability at least ``cl``. Where the interval runs off
  the sample the bound is ``-inf`` (or ``+inf``);
* ``measurable``: the sample can measure the rate when at least ``min_pass``
  (default :data:`DEFAULT_MIN_PASS` = 10) zero-bias events are *expected* above
  the threshold, ``n f >= min_pass``: below that the relative statistical
  uncertainty of the rate exceeds about 1/sqrt(10) = 32 % and the threshold is
  set by a handful of events. The rule depends on the sample size only, not on
  the scores, so the smallest measurable rate is known in advance
  (:func:`min_measurable_rate_khz`).

Example:
    >>> t = threshold_for_rate(np.arange(1000.0), rate_khz=CROSSING_RATE_KHZ * 0.01)
    >>> t.threshold, t.n_pass, t.measurable
    (989.0, 10, True)
    >>> t.rate_low_khz < t.rate_measured_khz < t.rate_high_khz
    True
    >>> format_rate(0.15), format_rate(1.0), format_rate(100.0)
    ('0.15kHz', '1kHz', '100kHz')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from l1scout._types import F64
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "CROSSING_RATES_KHZ",
    "CROSSING_RATE_KHZ",
    "DEFAULT_CL",
    "DEFAULT_MIN_PASS",
    "DEFAULT_RATES_KHZ",
    "PHASE2_CROSSING_RATE_KHZ",
    "RUN3_CROSSING_RATE_KHZ",
    "CrossingRate",
    "Efficiency",
    "MeasuredRate",
    "Threshold",
    "as_scores",
    "clopper_pearson",
    "crossing_rate_khz",
    "describe_crossing_rate",
    "efficiency",
    "format_rate",
    "measured_rate",
    "min_measurable_rate_khz",
    "threshold_for_fraction",
    "threshold_for_rate",
    "thresholds_for_rates",
]


#: Phase-2 (HL-LHC) non-empty crossings in kHz: 2760 colliding bunch pairs x 11.246 kHz
#: = 31,038.96 kHz, the normalisation of the public Phase-2 L1 rate studies (CMS-TDR-021).
PHASE2_CROSSING_RATE_KHZ: float = 2760 * 11_246 / 1000
#: Run-3 non-empty crossings in kHz: 2544 colliding bunch pairs x 11.2456 kHz = 28,608.8 kHz,
#: the normalisation of the published AXOL1TL rates (CMS-DP-2023-079, CMS-DP-2024-059).
RUN3_CROSSING_RATE_KHZ: float = 2544 * 112_456 / 10_000
#: The named normalisations: name -> non-empty crossings per second (kHz). Read-only.
CROSSING_RATES_KHZ: Mapping[str, float] = MappingProxyType(
    {"phase2": PHASE2_CROSSING_RATE_KHZ, "run3": RUN3_CROSSING_RATE_KHZ}
)
#: The default normalisation of every rate (kHz): the Phase-2 one, as l1scout simulates Phase-2.
CROSSING_RATE_KHZ: float = PHASE2_CROSSING_RATE_KHZ
#: A normalisation as configured: a name of :data:`CROSSING_RATES_KHZ` or a rate in kHz.
CrossingRate = Literal["phase2", "run3"] | float
_CROSSING_TEXT = {
    "phase2": "Phase-2: 2760 colliding bunch pairs x 11.246 kHz",
    "run3": "Run 3: 2544 colliding bunch pairs x 11.2456 kHz",
}
#: Target rates of the evaluation (kHz): the AXOL1TL range 0.15 ... 10 kHz and above.
DEFAULT_RATES_KHZ: tuple[float, ...] = (0.15, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: A rate is measurable when at least this many zero-bias events are expected above its threshold.
DEFAULT_MIN_PASS: int = 10
#: Confidence level of every interval: one Gaussian sigma, 68.27 %.
DEFAULT_CL: float = 0.6827


def crossing_rate_khz(rate: str | float) -> float:
    """The crossing rate (kHz) of a normalisation: a name of :data:`CROSSING_RATES_KHZ` or a number.

    Raises:
        ConfigError: an unknown name, or a number that is not a positive finite rate.

    >>> crossing_rate_khz("phase2"), round(crossing_rate_khz("run3"), 1), crossing_rate_khz(40000)
    (31038.96, 28608.8, 40000.0)
    """
    if isinstance(rate, str):
        if rate not in CROSSING_RATES_KHZ:
            names = " or ".join(repr(k) for k in CROSSING_RATES_KHZ)
            msg = f"crossing rate {rate!r}: expected {names}, or a rate in kHz"
            raise ConfigError(msg)
        return CROSSING_RATES_KHZ[rate]
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        msg = f"crossing rate {rate!r}: expected 'phase2', 'run3' or a rate in kHz"
        raise ConfigError(msg)
    return _check_crossing(float(rate))


def describe_crossing_rate(rate_khz: float) -> str:
    """Which normalisation a crossing rate is, in words, for report headers.

    >>> describe_crossing_rate(CROSSING_RATE_KHZ)
    '31,039 kHz (Phase-2: 2760 colliding bunch pairs x 11.246 kHz = 31,038.96 kHz)'
    >>> describe_crossing_rate(RUN3_CROSSING_RATE_KHZ)
    '28,608.8 kHz (Run 3: 2544 colliding bunch pairs x 11.2456 kHz = 28,608.81 kHz)'
    >>> describe_crossing_rate(40000.0)
    '40,000 kHz (a configured value, neither the Phase-2 nor the Run-3 normalisation)'
    """
    for name, value in CROSSING_RATES_KHZ.items():
        if math.isclose(rate_khz, value, rel_tol=1e-12):
            shown = f"{value:,.0f}" if name == "phase2" else f"{value:,.1f}"
            return f"{shown} kHz ({_CROSSING_TEXT[name]} = {value:,.2f} kHz)"
    return (
        f"{rate_khz:,.6g} kHz (a configured value, neither the Phase-2 nor the Run-3 normalisation)"
    )


@dataclass(frozen=True)
class Threshold:
    """The score threshold of one target rate, measured on a zero-bias sample.

    The trigger accepts an event when ``score > threshold``.

    Attributes:
        rate_khz: the target rate (kHz).
        threshold: the score threshold (accept ``score > threshold``).
        n_pass: zero-bias events above the threshold (at most the target count).
        n_total: zero-bias events in the sample.
        rate_measured_khz: ``n_pass / n_total`` x crossing rate (kHz).
        rate_low_khz: lower end of the Clopper-Pearson interval of the rate (kHz).
        rate_high_khz: upper end (kHz).
        threshold_low: lower end of the order-statistic interval of the threshold.
        threshold_high: upper end.
        measurable: at least ``min_pass`` zero-bias events are expected above it.
        fraction: the target fraction ``rate_khz / crossing rate``.
        expected_pass: ``n_total * fraction``, what :attr:`measurable` is judged on.
        target_pass: the target count ``k``: ``expected_pass`` rounded half up.
        cl: confidence level of the intervals.
    """

    rate_khz: float
    threshold: float
    n_pass: int
    n_total: int
    rate_measured_khz: float
    rate_low_khz: float
    rate_high_khz: float
    threshold_low: float
    threshold_high: float
    measurable: bool
    fraction: float
    expected_pass: float
    target_pass: int
    cl: float

    @property
    def label(self) -> str:
        """The rate for metric names and table headers, e.g. ``"1kHz"`` (:func:`format_rate`)."""
        return format_rate(self.rate_khz)


@dataclass(frozen=True)
class MeasuredRate:
    """A rate counted on zero-bias events, with its Clopper-Pearson interval.

    Attributes:
        n_pass: accepted zero-bias events.
        n_total: zero-bias events.
        rate_khz: ``n_pass / n_total`` x crossing rate (kHz).
        low_khz: lower end of the interval (kHz).
        high_khz: upper end (kHz).
        cl: confidence level.
    """

    n_pass: int
    n_total: int
    rate_khz: float
    low_khz: float
    high_khz: float
    cl: float


@dataclass(frozen=True)
class Efficiency:
    """An efficiency ``passed / total`` with its central Clopper-Pearson interval.

    Attributes:
        passed: accepted events.
        total: events.
        value: ``passed / total``.
        low: lower end of the interval (exactly 0 at ``passed = 0``).
        high: upper end (exactly 1 at ``passed = total``).
        cl: confidence level.
    """

    passed: int
    total: int
    value: float
    low: float
    high: float
    cl: float = DEFAULT_CL

    @property
    def err_low(self) -> float:
        """``value - low``."""
        return self.value - self.low

    @property
    def err_high(self) -> float:
        """``high - value``."""
        return self.high - self.value


def _check_cl(cl: float) -> float:
    if not 0.0 < cl < 1.0:
        msg = f"confidence level cl={cl!r}: expected a number strictly between 0 and 1"
        raise ConfigError(msg)
    return float(cl)


def clopper_pearson(passed: int, total: int, cl: float = DEFAULT_CL) -> tuple[float, float]:
    """Central Clopper-Pearson interval of a binomial proportion ``passed / total``.

    ``[B(a/2; k, n-k+1), B(1-a/2; k+1, n-k)]`` with ``B(p; x, y)`` the quantile
    of the beta distribution and ``a = 1 - cl``; the lower end is exactly 0 at
    ``k = 0`` and the upper end exactly 1 at ``k = n`` (Clopper & Pearson,
    Biometrika 26 (1934) 404; ROOT ``TEfficiency::ClopperPearson``).

    Raises:
        ConfigError: ``total < 1``, ``passed`` outside ``[0, total]``, or ``cl`` outside (0, 1).

    Example:
        >>> low, high = clopper_pearson(0, 10, cl=0.95)
        >>> low, round(high, 4), round(1 - 0.025 ** 0.1, 4)
        (0.0, 0.3085, 0.3085)
    """
    from scipy import stats

    cl = _check_cl(cl)
    k, n = int(passed), int(total)
    if n < 1 or not 0 <= k <= n:
        msg = f"binomial counts passed={passed!r}, total={total!r}: expected 0 <= passed <= total, total >= 1"
        raise ConfigError(msg)
    alpha = 1.0 - cl
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def measured_rate(
    passed: int,
    total: int,
    *,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    cl: float = DEFAULT_CL,
) -> MeasuredRate:
    """The rate of ``passed`` accepted events out of ``total`` zero-bias events, with its interval.

    >>> r = measured_rate(1, 1000)
    >>> round(r.rate_khz, 5)
    31.03896
    """
    low, high = clopper_pearson(passed, total, cl)
    return MeasuredRate(
        n_pass=int(passed),
        n_total=int(total),
        rate_khz=passed / total * crossing_rate_khz,
        low_khz=low * crossing_rate_khz,
        high_khz=high * crossing_rate_khz,
        cl=cl,
    )


def efficiency(passed: int, total: int, cl: float = DEFAULT_CL) -> Efficiency:
    """The efficiency ``passed / total`` with its Clopper-Pearson interval at confidence ``cl``.

    Raises:
        ConfigError: ``total < 1`` or ``passed`` outside ``[0, total]``.

    Example (the textbook 95 % interval of 5 out of 10):
        >>> e = efficiency(5, 10, cl=0.95)
        >>> e.value, round(e.low, 4), round(e.high, 4)
        (0.5, 0.1871, 0.8129)
    """
    low, high = clopper_pearson(passed, total, cl)
    return Efficiency(int(passed), int(total), passed / total, low, high, float(cl))


def as_scores(scores: npt.ArrayLike, what: str = "scores") -> F64:
    """Scores as a 1-d float64 array; raise :class:`DataFormatError` on NaN or an empty array.

    Infinite scores are allowed (a float model can overflow); NaN is not, as it
    is neither above nor below any threshold.
    """
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{what}: expected a 1-d array of numbers ({exc})"
        raise DataFormatError(msg) from exc
    if arr.ndim != 1:
        msg = f"{what}: expected a 1-d array of scores, got shape {arr.shape}"
        raise DataFormatError(msg)
    if arr.size == 0:
        msg = f"{what}: no scores (empty array)"
        raise DataFormatError(msg)
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        msg = f"{what}: {n_nan} of {arr.size} scores are NaN; a score must be a number"
        raise DataFormatError(msg)
    return arr


def min_measurable_rate_khz(
    n_total: int,
    *,
    min_pass: int = DEFAULT_MIN_PASS,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
) -> float:
    """The smallest rate (kHz) a sample of ``n_total`` zero-bias events can measure.

    ``min_pass / n_total`` x crossing rate: the rate at which ``min_pass`` events are expected.

    >>> round(min_measurable_rate_khz(100_000), 3)
    3.104
    """
    return min_pass / n_total * crossing_rate_khz


def format_rate(rate_khz: float) -> str:
    """A rate as a short name without exponent: 6 significant digits, trailing zeros dropped, ``kHz``.

    Used in metric names (``eff/<signal>/1kHz``) and table headers.

    >>> format_rate(0.15), format_rate(2.0), format_rate(CROSSING_RATE_KHZ)
    ('0.15kHz', '2kHz', '31039kHz')
    """
    text = np.format_float_positional(
        float(rate_khz), precision=6, unique=True, fractional=False, trim="-"
    )
    return f"{text}kHz"


def _descending(scores: F64) -> F64:
    return np.sort(scores)[::-1]


def _threshold_from_sorted(
    desc: F64,
    fraction: float,
    rate_khz: float,
    *,
    min_pass: int,
    cl: float,
    crossing_rate_khz: float,
) -> Threshold:
    """:func:`threshold_for_fraction` on scores already sorted in decreasing order."""
    from scipy import stats

    n = int(desc.size)

    def nth_largest(j: int) -> float:
        """The j-th largest score (1-based); +inf above the sample, -inf below it."""
        if j < 1:
            return math.inf
        if j > n:
            return -math.inf
        return float(desc[j - 1])

    expected = n * fraction
    k = min(n, math.floor(expected + 0.5))
    threshold = nth_largest(k + 1)
    if k == 0:
        threshold = float(desc[0])
    # strictly above: the first index whose score is <= threshold, in a decreasing array
    n_pass = int(np.searchsorted(-desc, -threshold, side="left"))
    low, high = clopper_pearson(n_pass, n, cl)
    alpha = 1.0 - cl
    a = int(stats.binom.ppf(1 - alpha / 2, n, fraction))
    b = int(stats.binom.ppf(alpha / 2, n, fraction))
    return Threshold(
        rate_khz=float(rate_khz),
        threshold=threshold,
        n_pass=n_pass,
        n_total=n,
        rate_measured_khz=n_pass / n * crossing_rate_khz,
        rate_low_khz=low * crossing_rate_khz,
        rate_high_khz=high * crossing_rate_khz,
        threshold_low=nth_largest(a + 1),
        threshold_high=nth_largest(b),
        measurable=bool(expected >= min_pass),
        fraction=float(fraction),
        expected_pass=float(expected),
        target_pass=int(k),
        cl=cl,
    )


def _check_min_pass(min_pass: int) -> int:
    if isinstance(min_pass, bool) or not isinstance(min_pass, int) or min_pass < 1:
        msg = f"min_pass={min_pass!r}: expected a whole number of events >= 1"
        raise ConfigError(msg)
    return min_pass


def _check_crossing(crossing_rate_khz: float) -> float:
    if not (math.isfinite(crossing_rate_khz) and crossing_rate_khz > 0):
        msg = f"crossing_rate_khz={crossing_rate_khz!r}: expected a positive rate in kHz"
        raise ConfigError(msg)
    return float(crossing_rate_khz)


def threshold_for_fraction(
    zb_scores: npt.ArrayLike,
    fraction: float,
    *,
    min_pass: int = DEFAULT_MIN_PASS,
    cl: float = DEFAULT_CL,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
) -> Threshold:
    """The threshold accepting a fraction ``fraction`` of the zero-bias (background) scores.

    The rule of the module docstring; the rate fields are ``fraction`` x
    ``crossing_rate_khz``. Used for background efficiencies that are not rates,
    such as the ADC2021 working point 1e-5.

    Raises:
        ConfigError: ``fraction`` outside (0, 1], ``min_pass < 1``, a bad ``cl``.
        DataFormatError: the scores are empty, not 1-d, or hold NaN.
    """
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        msg = f"accepted fraction {fraction!r}: expected a number in (0, 1]"
        raise ConfigError(msg)
    desc = _descending(as_scores(zb_scores, "zero-bias scores"))
    return _threshold_from_sorted(
        desc,
        float(fraction),
        fraction * crossing_rate_khz,
        min_pass=_check_min_pass(min_pass),
        cl=_check_cl(cl),
        crossing_rate_khz=_check_crossing(crossing_rate_khz),
    )


def _fraction_of(rate_khz: float, crossing_rate_khz: float) -> float:
    if not (math.isfinite(rate_khz) and 0.0 < rate_khz <= crossing_rate_khz):
        msg = (
            f"target rate {rate_khz!r} kHz: expected a positive rate up to the crossing rate "
            f"{crossing_rate_khz:g} kHz"
        )
        raise ConfigError(msg)
    return rate_khz / crossing_rate_khz


def threshold_for_rate(
    zb_scores: npt.ArrayLike,
    rate_khz: float,
    *,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    min_pass: int = DEFAULT_MIN_PASS,
    cl: float = DEFAULT_CL,
) -> Threshold:
    """The zero-bias score threshold of a target rate, with the rate's and the threshold's intervals.

    Args:
        zb_scores: anomaly scores of zero-bias events (higher = more anomalous), 1-d.
        rate_khz: the target rate in kHz.
        crossing_rate_khz: rate of non-empty crossings (kHz); default
            :data:`CROSSING_RATE_KHZ`, the Phase-2 normalisation.
        min_pass: expected zero-bias events above the threshold for the rate to be measurable.
        cl: confidence level of the intervals.

    Returns:
        The :class:`Threshold`; accept events with ``score > threshold``.

    Raises:
        ConfigError: the rate is not in (0, crossing rate], or a bad ``min_pass`` / ``cl``.
        DataFormatError: the scores are empty, not 1-d, or hold NaN.

    Example (ties at the threshold are rejected, so the rate stays below the target):
        >>> zb = [5.0, 4.0, 4.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        >>> t = threshold_for_rate(zb, CROSSING_RATE_KHZ * 0.2, min_pass=1)
        >>> t.target_pass, t.threshold, t.n_pass
        (2, 4.0, 1)
    """
    crossing = _check_crossing(crossing_rate_khz)
    fraction = _fraction_of(rate_khz, crossing)
    desc = _descending(as_scores(zb_scores, "zero-bias scores"))
    return _threshold_from_sorted(
        desc,
        fraction,
        rate_khz,
        min_pass=_check_min_pass(min_pass),
        cl=_check_cl(cl),
        crossing_rate_khz=crossing,
    )


def thresholds_for_rates(
    zb_scores: npt.ArrayLike,
    rates_khz: Sequence[float] = DEFAULT_RATES_KHZ,
    *,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    min_pass: int = DEFAULT_MIN_PASS,
    cl: float = DEFAULT_CL,
) -> tuple[Threshold, ...]:
    """:func:`threshold_for_rate` for several rates, sorting the scores once; in the given order.

    Raises:
        ConfigError: no rate, a rate twice (as :func:`format_rate` writes it), or a bad rate.
    """
    crossing = _check_crossing(crossing_rate_khz)
    rates = [float(r) for r in rates_khz]
    if not rates:
        msg = "rates_khz: expected at least one target rate"
        raise ConfigError(msg)
    labels = [format_rate(r) for r in rates]
    dup = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dup:
        msg = f"rates_khz: each rate once, got {', '.join(dup)} more than once"
        raise ConfigError(msg)
    fractions = [_fraction_of(r, crossing) for r in rates]
    min_pass, cl = _check_min_pass(min_pass), _check_cl(cl)
    desc = _descending(as_scores(zb_scores, "zero-bias scores"))
    return tuple(
        _threshold_from_sorted(desc, f, r, min_pass=min_pass, cl=cl, crossing_rate_khz=crossing)
        for r, f in zip(rates, fractions, strict=True)
    )
