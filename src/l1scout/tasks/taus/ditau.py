"""Di-tau working points at a fixed zero-bias rate, and the comparison table of methods.

The soft-tau study (Camagni et al., "Deep learning-based identification of
soft taus in the L1 scouting stream for Phase-2", AI-INFN hackathon, Pavia,
November 2025; ``docs/physics/l1-algorithms.md``, "Level-1 taus") selects
di-tau events with three cuts, a class score, an opposite-sign charge score
and ``|delta vz|``, chosen by a grid search that maximises the total di-tau
efficiency at a fixed zero-bias rate of 50 kHz. The candidates' scores, charge
probabilities and vz are those of
:func:`l1scout.tasks.taus.transformer.decode_outputs` (``tau_score``,
``charge_score``, ``vz`` in mm) or of any other identification.

Di-tau rule. Each candidate has a class score ``s`` (tau vs fake), a charge
score ``p`` (probability that its charge is +1) and a vertex ``vz`` (mm, the
unit of the candidates). A pair is opposite-sign with probability
``p_os = p1 (1 - p2) + p2 (1 - p1)`` (the two charges predicted
independently). An event passes ``(t_class, t_charge, dvz_cut)`` when **any**
two of its candidates have ``s1 > t_class`` and ``s2 > t_class`` and
``p_os > t_charge`` and ``|vz1 - vz2| < dvz_cut`` (``max_candidates=2`` keeps
only the two highest class scores of each event, the "leading pair" variant;
the study names the three cuts but not the pairing, so "any pair", the rule of
a double-object trigger seed, is the default). For a fixed
``(t_charge, dvz_cut)`` the event passes exactly when its *best pair score*
``m`` = max, over pairs passing the charge and vz cuts, of ``min(s1, s2)``
(``-inf`` without such a pair) is ``> t_class``. The search scans only the grid
of ``(t_charge, dvz_cut)``; for each it takes the loosest class threshold whose
zero-bias rate is at most the target, from the zero-bias ``m`` with the order
statistics of :func:`l1scout.tasks.rates.threshold_for_fraction`:

* the rate of a working point is (zero-bias events passing / zero-bias events)
  x the crossing rate (default 31,039 kHz,
  :data:`l1scout.tasks.rates.CROSSING_RATE_KHZ`), with its
  Clopper-Pearson interval; it is admissible when that measured rate is
  ``<= rate_khz``. With ``n`` zero-bias events the target count is
  ``k = floor(n rate / crossing)`` (rounded *down*, unlike the half-up rule of
  :func:`~l1scout.tasks.rates.threshold_for_rate`, so the rate never
  exceeds the target), and the class threshold is the ``(k+1)``-th largest
  ``m``: every lower threshold passes more than ``k`` events, and the signal
  efficiency only falls as the threshold rises;
* among the grid points the highest signal efficiency (signal events passing /
  all signal events: the *total* di-tau efficiency) wins; ties go to the lower
  zero-bias count, then to the first in grid order (charge thresholds outer,
  vz cuts inner);
* too few zero-bias events: with ``n`` events the smallest non-zero rate is
  ``crossing / n`` (50 kHz at 31,039 kHz needs ``n >= 621`` for one passing
  event). ``k = 0`` raises :class:`~l1scout.errors.ConfigError` naming the
  events needed; ``1 <= n rate / crossing < min_pass`` (default 10, 6,208
  events at 50 kHz) gives a result flagged ``measurable=False``, the rule of
  :mod:`l1scout.tasks.rates`.

Pairs per event grow as ``n (n - 1) / 2``; ``max_candidates`` bounds them.

Example (three zero-bias events, one signal event; crossing rate 3 kHz, so one event is 1 kHz):
    >>> zb = ScoredCandidates.build([0, 2, 4, 6], [0.9, 0.8, 0.5, 0.4, 0.3, 0.2],
    ...                          [1.0, 0.0, 1.0, 0.0, 1.0, 1.0], [0.0] * 6, what="zb")
    >>> sig = ScoredCandidates.build([0, 2], [0.95, 0.9], [1.0, 0.0], [0.0, 1.0], what="sig")
    >>> s = search_ditau(zb, sig, rate_khz=1.0, crossing_rate_khz=3.0, min_pass=1,
    ...                  charge_thresholds=[0.5], dvz_cuts=[2.0])
    >>> s.best.class_threshold, s.best.rate.n_pass, s.best.efficiency.value
    (0.4, 1, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import check_offsets, event_index, offsets_from_counts
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_CL,
    DEFAULT_MIN_PASS,
    Efficiency,
    MeasuredRate,
    efficiency,
    measured_rate,
    threshold_for_fraction,
)

__all__ = [
    "DEFAULT_CHARGE_THRESHOLDS",
    "DEFAULT_DVZ_CUTS_MM",
    "DITAU_RATE_KHZ",
    "ComparisonRow",
    "DiTauSearch",
    "DiTauWorkingPoint",
    "ScoredCandidates",
    "comparison_row",
    "comparison_table",
    "ditau_decisions",
    "ditau_event_scores",
    "evaluate_ditau",
    "search_ditau",
]

#: The di-tau working points are chosen at this zero-bias rate (kHz).
DITAU_RATE_KHZ = 50.0
#: Default grid of opposite-sign charge-score thresholds (-inf: no charge requirement).
DEFAULT_CHARGE_THRESHOLDS: tuple[float, ...] = (-math.inf, *(round(0.1 * i, 1) for i in range(10)))
#: Default grid of |delta vz| cuts (mm; inf: no cut).
DEFAULT_DVZ_CUTS_MM: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, math.inf)


@dataclass(frozen=True, eq=False)
class ScoredCandidates:
    """The tau candidates of a sample of events, as the di-tau selection reads them.

    Build with :meth:`build`, which checks them.

    Attributes:
        offsets: per-event offsets (n_events + 1).
        class_score: tau-vs-fake score of each candidate (higher: more tau-like).
        charge_score: probability that the candidate's charge is +1, in [0, 1].
        vz: vertex z of each candidate (mm).
        what: the sample's name, for messages.
    """

    offsets: I64
    class_score: F64
    charge_score: F64
    vz: F64
    what: str

    @property
    def n_events(self) -> int:
        """Events in the sample."""
        return int(self.offsets.size - 1)

    @classmethod
    def build(
        cls,
        offsets: npt.ArrayLike,
        class_score: npt.ArrayLike,
        charge_score: npt.ArrayLike,
        vz: npt.ArrayLike,
        *,
        what: str = "candidates",
    ) -> ScoredCandidates:
        """Checked candidates.

        Raises:
            ConfigError: offsets that do not describe a batch.
            DataFormatError: no event, a length other than the offsets' last
                entry, a NaN or infinite value, a charge score outside [0, 1].
        """
        off = check_offsets(offsets, f"offsets of {what}")
        if off.size < 2:
            msg = f"offsets of {what}: expected at least one event"
            raise DataFormatError(msg)
        n = int(off[-1])
        s = flat_array(class_score, f"class scores of {what}", n)
        p = flat_array(charge_score, f"charge scores of {what}", n)
        if n and (p.min() < 0.0 or p.max() > 1.0):
            msg = f"charge scores of {what}: expected probabilities in [0, 1], got [{p.min():g}, {p.max():g}]"
            raise DataFormatError(msg)
        return cls(off, s, p, flat_array(vz, f"vz of {what}", n), what)


def _keep_leading(c: ScoredCandidates, max_candidates: int) -> tuple[I64, I64]:
    """Indices of the ``max_candidates`` highest class scores of each event, and their offsets."""
    counts = np.diff(c.offsets)
    ev = event_index(c.offsets)
    order = np.lexsort((-c.class_score, ev))  # by event, then decreasing score (stable)
    rank = np.arange(order.size) - c.offsets[ev[order]]
    keep = np.sort(order[rank < max_candidates])
    return keep.astype(np.int64), offsets_from_counts(np.minimum(counts, max_candidates))


@dataclass(frozen=True, eq=False)
class _Pairs:
    """Every pair of candidates within each event: its score, opposite-sign probability and |dvz|."""

    score: F64
    p_os: F64
    dvz: F64
    starts: I64
    has_pair: B
    n_events: int


def _check_max(max_candidates: int | None) -> int | None:
    if max_candidates is not None and (
        isinstance(max_candidates, bool)
        or not isinstance(max_candidates, int)
        or max_candidates < 2
    ):
        msg = f"max_candidates={max_candidates!r}: expected None or a whole number >= 2"
        raise ConfigError(msg)
    return max_candidates


def _pairs(c: ScoredCandidates, max_candidates: int | None) -> _Pairs:
    idx = np.arange(c.class_score.size, dtype=np.int64)
    off = c.offsets
    keep = _check_max(max_candidates)
    if keep is not None:
        idx, off = _keep_leading(c, keep)
    counts = np.diff(off)
    ev = event_index(off)
    local = np.arange(idx.size) - off[ev]
    partners = counts[ev] - 1 - local  # pairs in which this candidate is the first
    first = np.repeat(np.arange(idx.size), partners)
    step = np.arange(first.size) - np.repeat(offsets_from_counts(partners)[:-1], partners)
    i, j = idx[first], idx[first + 1 + step]
    p1, p2 = c.charge_score[i], c.charge_score[j]
    pair_counts = counts * (counts - 1) // 2
    return _Pairs(
        score=np.minimum(c.class_score[i], c.class_score[j]),
        p_os=p1 * (1.0 - p2) + p2 * (1.0 - p1),
        dvz=np.abs(c.vz[i] - c.vz[j]),
        starts=offsets_from_counts(pair_counts)[:-1][pair_counts > 0],
        has_pair=pair_counts > 0,
        n_events=int(counts.size),
    )


def _best(pairs: _Pairs, charge_threshold: float, dvz_cut: float) -> F64:
    out = np.full(pairs.n_events, -np.inf)
    if pairs.score.size:
        ok = (pairs.p_os > charge_threshold) & (pairs.dvz < dvz_cut)
        out[pairs.has_pair] = np.maximum.reduceat(np.where(ok, pairs.score, -np.inf), pairs.starts)
    return out


def _cut(value: float, what: str) -> float:
    v = float(value)
    if math.isnan(v):
        msg = f"{what}: expected a number, got NaN"
        raise ConfigError(msg)
    return v


def ditau_event_scores(
    c: ScoredCandidates,
    charge_threshold: float,
    dvz_cut: float,
    *,
    max_candidates: int | None = None,
) -> F64:
    """Per event, the best pair score ``m`` (module docstring): pass ``t_class`` when ``m > t_class``.

    >>> c = ScoredCandidates.build([0, 3, 4], [0.9, 0.7, 0.8, 0.99], [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 9.0, 0.0])
    >>> ditau_event_scores(c, 0.5, 5.0).tolist()
    [0.7, -inf]
    """
    q, z = _cut(charge_threshold, "charge threshold"), _cut(dvz_cut, "dvz cut")
    return _best(_pairs(c, max_candidates), q, z)


def ditau_decisions(
    c: ScoredCandidates,
    class_threshold: float,
    charge_threshold: float,
    dvz_cut: float,
    *,
    max_candidates: int | None = None,
) -> B:
    """Per event, whether it passes the working point ``(class, charge, dvz)``."""
    t = _cut(class_threshold, "class threshold")
    return ditau_event_scores(c, charge_threshold, dvz_cut, max_candidates=max_candidates) > t


@dataclass(frozen=True)
class DiTauWorkingPoint:
    """A di-tau working point with its signal efficiency and zero-bias rate.

    Attributes:
        class_threshold: both candidates' class score ``>`` this.
        charge_threshold: the pair's opposite-sign probability ``>`` this.
        dvz_cut: ``|vz1 - vz2| <`` this (mm).
        efficiency: signal events passing / signal events, Clopper-Pearson interval.
        rate: zero-bias events passing x crossing rate / zero-bias events (kHz), with interval.
    """

    class_threshold: float
    charge_threshold: float
    dvz_cut: float
    efficiency: Efficiency
    rate: MeasuredRate


def evaluate_ditau(
    zero_bias: ScoredCandidates,
    signal: ScoredCandidates,
    class_threshold: float,
    charge_threshold: float,
    dvz_cut: float,
    *,
    max_candidates: int | None = None,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    cl: float = DEFAULT_CL,
) -> DiTauWorkingPoint:
    """Efficiency and rate of a given working point (e.g. one chosen on another sample)."""
    kw = {"max_candidates": max_candidates}
    zb = ditau_decisions(zero_bias, class_threshold, charge_threshold, dvz_cut, **kw)
    sig = ditau_decisions(signal, class_threshold, charge_threshold, dvz_cut, **kw)
    return DiTauWorkingPoint(
        float(class_threshold),
        float(charge_threshold),
        float(dvz_cut),
        efficiency(int(sig.sum()), sig.size, cl),
        measured_rate(int(zb.sum()), zb.size, crossing_rate_khz=crossing_rate_khz, cl=cl),
    )


@dataclass(frozen=True, eq=False)
class DiTauSearch:
    """The result of :func:`search_ditau`.

    Attributes:
        best: the winning working point.
        target_rate_khz: the rate the search was held to (kHz).
        crossing_rate_khz: the normalisation (kHz).
        measurable: at least ``min_pass`` zero-bias events are expected at the target rate.
        expected_pass: ``n_zero_bias x target / crossing``.
        target_pass: the most zero-bias events a working point may pass (``expected_pass`` rounded down).
        n_zero_bias: zero-bias events.
        n_signal: signal events.
        max_candidates: the pairing (None: any two candidates).
        charge_thresholds: the charge grid (rows of the arrays below).
        dvz_cuts: the vz grid (columns, mm).
        class_thresholds: the loosest admissible class threshold of each grid point.
        signal_pass: signal events passing at each grid point.
        zero_bias_pass: zero-bias events passing at each grid point.
    """

    best: DiTauWorkingPoint
    target_rate_khz: float
    crossing_rate_khz: float
    measurable: bool
    expected_pass: float
    target_pass: int
    n_zero_bias: int
    n_signal: int
    max_candidates: int | None
    charge_thresholds: F64
    dvz_cuts: F64
    class_thresholds: F64
    signal_pass: I64
    zero_bias_pass: I64

    @property
    def efficiencies(self) -> F64:
        """Signal efficiency at each grid point."""
        return self.signal_pass / self.n_signal


def _grid(values: Sequence[float], what: str) -> F64:
    arr = np.asarray([_cut(v, what) for v in values], dtype=np.float64)
    if arr.size == 0:
        msg = f"{what}: expected at least one value"
        raise ConfigError(msg)
    return arr


def search_ditau(
    zero_bias: ScoredCandidates,
    signal: ScoredCandidates,
    *,
    rate_khz: float = DITAU_RATE_KHZ,
    charge_thresholds: Sequence[float] = DEFAULT_CHARGE_THRESHOLDS,
    dvz_cuts: Sequence[float] = DEFAULT_DVZ_CUTS_MM,
    max_candidates: int | None = None,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    min_pass: int = DEFAULT_MIN_PASS,
    cl: float = DEFAULT_CL,
) -> DiTauSearch:
    """The di-tau working point of highest total signal efficiency at a zero-bias rate ``<= rate_khz``.

    The rule, the tie-break and the handling of small samples: module docstring.

    Raises:
        ConfigError: a rate not in (0, crossing rate], an empty or NaN grid, a
            zero-bias sample too small to pass one event at the target rate, bad
            ``min_pass``, ``cl`` or ``max_candidates``.
    """
    crossing = float(crossing_rate_khz)
    if not (math.isfinite(crossing) and crossing > 0):
        msg = f"crossing_rate_khz={crossing_rate_khz!r}: expected a positive rate in kHz"
        raise ConfigError(msg)
    if not (math.isfinite(rate_khz) and 0.0 < rate_khz <= crossing):
        msg = f"target rate {rate_khz!r} kHz: expected a positive rate up to the crossing rate {crossing:g} kHz"
        raise ConfigError(msg)
    qs, zs = _grid(charge_thresholds, "charge thresholds"), _grid(dvz_cuts, "dvz cuts")
    _check_max(max_candidates)
    n_zb, n_sig = zero_bias.n_events, signal.n_events
    expected = n_zb * rate_khz / crossing
    k = math.floor(expected)
    if k < 1:
        need = math.ceil(crossing / rate_khz)
        need += int(need * rate_khz / crossing < 1)
        msg = (
            f"zero-bias sample {zero_bias.what!r}: {n_zb} events cannot measure {rate_khz:g} kHz "
            f"(one event is {crossing / n_zb:.4g} kHz); need at least {need} events"
        )
        raise ConfigError(msg)
    zb_pairs, sig_pairs = _pairs(zero_bias, max_candidates), _pairs(signal, max_candidates)
    shape = (qs.size, zs.size)
    thresholds = np.empty(shape)
    sig_pass, zb_pass = np.empty(shape, dtype=np.int64), np.empty(shape, dtype=np.int64)
    for a, q in enumerate(qs):
        for b, z in enumerate(zs):
            t = threshold_for_fraction(
                _best(zb_pairs, q, z),
                k / n_zb,
                min_pass=min_pass,
                cl=cl,
                crossing_rate_khz=crossing,
            )
            thresholds[a, b], zb_pass[a, b] = t.threshold, t.n_pass
            sig_pass[a, b] = int(np.count_nonzero(_best(sig_pairs, q, z) > t.threshold))
    # highest signal count, then lowest zero-bias count, then grid order
    flat = np.lexsort((np.arange(sig_pass.size), zb_pass.ravel(), -sig_pass.ravel()))[0]
    a, b = np.unravel_index(flat, shape)
    best = DiTauWorkingPoint(
        float(thresholds[a, b]),
        float(qs[a]),
        float(zs[b]),
        efficiency(int(sig_pass[a, b]), n_sig, cl),
        measured_rate(int(zb_pass[a, b]), n_zb, crossing_rate_khz=crossing, cl=cl),
    )
    return DiTauSearch(
        best=best,
        target_rate_khz=float(rate_khz),
        crossing_rate_khz=crossing,
        measurable=bool(expected >= min_pass),
        expected_pass=float(expected),
        target_pass=int(k),
        n_zero_bias=n_zb,
        n_signal=n_sig,
        max_candidates=max_candidates,
        charge_thresholds=qs,
        dvz_cuts=zs,
        class_thresholds=thresholds,
        signal_pass=sig_pass,
        zero_bias_pass=zb_pass,
    )


# ---------------------------------------------------------------- comparison table


@dataclass(frozen=True)
class ComparisonRow:
    """One method in the comparison table.

    Attributes:
        method: e.g. ``"transformer + CLUE"``, ``"NNPuppiTau (double-tau seed)"``.
        efficiency: total di-tau efficiency on the signal, with interval.
        rate: zero-bias rate (kHz), with interval.
        class_threshold, charge_threshold, dvz_cut: the working point; None for a
            fixed selection such as a menu seed.
        measurable: the zero-bias sample can measure the target rate.
        note: free text (e.g. "menu seed, not tuned to 50 kHz").
    """

    method: str
    efficiency: Efficiency
    rate: MeasuredRate
    class_threshold: float | None = None
    charge_threshold: float | None = None
    dvz_cut: float | None = None
    measurable: bool = True
    note: str = ""


def comparison_row(
    method: str,
    source: DiTauSearch | DiTauWorkingPoint | tuple[npt.ArrayLike, npt.ArrayLike],
    *,
    note: str = "",
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    cl: float = DEFAULT_CL,
) -> ComparisonRow:
    """A table row from a search, a working point, or per-event decisions ``(zero_bias, signal)``.

    Decisions (bool arrays, one per event) are for fixed selections such as
    NNPuppiTau's double-tau menu seed; their rate is whatever it is, not held to 50 kHz.
    Only a search carries the ``measurable`` flag; other sources count as measurable.

    >>> r = comparison_row("seed", (np.array([True, False]), np.array([True, True, False, False])),
    ...                    crossing_rate_khz=2.0)
    >>> r.efficiency.value, r.rate.rate_khz, r.class_threshold
    (0.5, 1.0, None)
    """
    if isinstance(source, DiTauSearch):
        wp, measurable = source.best, source.measurable
    elif isinstance(source, DiTauWorkingPoint):
        wp, measurable = source, True
    else:
        zb, sig = (np.asarray(x) for x in source)
        for arr, what in ((zb, "zero-bias decisions"), (sig, "signal decisions")):
            if arr.ndim != 1 or arr.dtype != np.bool_ or arr.size == 0:
                msg = f"{what} of {method!r}: expected a non-empty 1-d bool array, got {arr.dtype} {arr.shape}"
                raise DataFormatError(msg)
        rate = measured_rate(int(zb.sum()), zb.size, crossing_rate_khz=crossing_rate_khz, cl=cl)
        return ComparisonRow(method, efficiency(int(sig.sum()), sig.size, cl), rate, note=note)
    return ComparisonRow(
        method,
        wp.efficiency,
        wp.rate,
        wp.class_threshold,
        wp.charge_threshold,
        wp.dvz_cut,
        measurable,
        note,
    )


def _interval(value: float, low: float, high: float, scale: float, unit: str) -> str:
    v, lo, hi = value * scale, low * scale, high * scale
    return f"{v:.1f} +{hi - v:.1f} -{v - lo:.1f}{unit}"


def comparison_table(rows: Sequence[ComparisonRow]) -> list[dict[str, object]]:
    """Printable rows: method, efficiency and rate with intervals, the three cuts.

    Keys: ``method``, ``di-tau eff.`` (``"45.2 +1.3 -1.2 %"``), ``rate`` (``"48.3 +4.9 -4.7 kHz"``),
    ``class >``, ``OS charge >``, ``|dvz| < (mm)`` (``"-"`` for fixed selections), ``note``
    (``"rate not measurable"`` is added when the sample cannot measure the target).

    >>> row = ComparisonRow("m", efficiency(1, 2), measured_rate(0, 10, crossing_rate_khz=10.0), 0.5, 0.7, 5.0)
    >>> comparison_table([row])[0]["class >"], comparison_table([row])[0]["rate"]
    ('0.5', '0.0 +1.7 -0.0 kHz')
    """
    out: list[dict[str, object]] = []
    for r in rows:
        e, rt = r.efficiency, r.rate
        notes = [n for n in (r.note, "" if r.measurable else "rate not measurable") if n]
        out.append(
            {
                "method": r.method,
                "di-tau eff.": _interval(e.value, e.low, e.high, 100.0, " %"),
                "rate": _interval(rt.rate_khz, rt.low_khz, rt.high_khz, 1.0, " kHz"),
                "class >": "-" if r.class_threshold is None else f"{r.class_threshold:.4g}",
                "OS charge >": "-" if r.charge_threshold is None else f"{r.charge_threshold:.4g}",
                "|dvz| < (mm)": "-" if r.dvz_cut is None else f"{r.dvz_cut:.4g}",
                "note": "; ".join(notes),
            }
        )
    return out
