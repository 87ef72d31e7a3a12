"""Evaluation of soft-tau reconstruction and identification: pure functions on arrays.

The numbers of the soft-tau study of the CMS Phase-2 Level-1 scouting stream
(Camagni et al., "Deep learning-based identification of soft taus in the L1
scouting stream for Phase-2", AI-INFN hackathon, Pavia, November 2025;
``docs/physics/l1-algorithms.md``, "Level-1 taus"), each from flat arrays, no
plotting:

* **per-tau efficiency** in bins of the visible pT (GeV) of the true hadronic
  taus, "RECO" (a candidate matched to the tau, no ID) and "ID" (matched and
  the matched candidate's ID score ``> id_threshold``), each bin with its
  Clopper-Pearson interval (:func:`tau_efficiency`);
* **fake rates**, two definitions: *fakes per event*, the mean number of
  candidates passing a selection per zero-bias event (every such candidate is a
  fake), with a Garwood Poisson interval on the count, and the fraction of
  zero-bias events with at least one passing candidate, with its rate in kHz
  (:func:`fakes_per_event`); and the *fake fraction*, the fraction of
  candidates passing a selection that match no true tau, on any sample, with a
  Clopper-Pearson interval (:func:`fake_fraction`). "RECO": every candidate
  passes; "ID": the ID score is above its threshold;
* **pT response** ``reco / visible`` per visible-pT bin: median and mean, and
  two widths, ``width`` = half the 15.87-84.13 % interquantile range
  (:func:`l1scout.detector.validation.metrics.robust_sigma`, the Gaussian
  sigma for a Gaussian) and ``rms`` = the root-mean-square deviation from the
  mean, before and after the pT regression (:func:`regression_response`);
* **charge accuracy** on matched true taus: predicted charge +1 when the
  charge score (probability of +1) is ``>= 0.5``, else -1 (:func:`charge_accuracy`);
* the **di-tau working points** at a fixed zero-bias rate are in
  :mod:`l1scout.tasks.taus.ditau`.

Rates and intervals come from the anomaly task's homes
(:func:`l1scout.tasks.rates.clopper_pearson`,
:func:`l1scout.tasks.rates.efficiency`); bin counting and the robust
width from :mod:`l1scout.detector.validation.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import check_offsets, event_index
from l1scout._types import F64, I64, B
from l1scout.detector.validation.metrics import binned_efficiency, robust_sigma
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_CL,
    Efficiency,
    MeasuredRate,
    clopper_pearson,
    efficiency,
    measured_rate,
)

__all__ = [
    "BinnedCount",
    "BinnedEff",
    "ChargeAccuracy",
    "FakesPerEvent",
    "RegressionResponse",
    "Response",
    "TauEfficiency",
    "binned_cp_efficiency",
    "charge_accuracy",
    "fake_fraction",
    "fakes_per_event",
    "regression_response",
    "response",
    "tau_efficiency",
]

# ---------------------------------------------------------------- input checks


def _mask(x: npt.ArrayLike, what: str, n: int) -> B:
    arr = np.asarray(x)
    if arr.shape != (n,) or arr.dtype != np.bool_:
        msg = f"{what}: expected a bool array of shape ({n},), got dtype {arr.dtype} shape {arr.shape}"
        raise DataFormatError(msg)
    return arr


def _probability(x: npt.ArrayLike, what: str, n: int | None = None) -> F64:
    arr = flat_array(x, what, n)
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        msg = f"{what}: expected probabilities in [0, 1], got values in [{arr.min():g}, {arr.max():g}]"
        raise DataFormatError(msg)
    return arr


def _edges(edges: npt.ArrayLike) -> F64:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        msg = f"bin edges {e.tolist()}: expected at least two increasing finite numbers"
        raise ConfigError(msg)
    return e


# ---------------------------------------------------------------- binned efficiencies


@dataclass(frozen=True, eq=False)
class BinnedEff:
    """An efficiency in bins, with central Clopper-Pearson intervals (NaN in empty bins).

    Attributes:
        edges: bin edges (n + 1), as given; last bin closed, entries outside dropped.
        passed: numerator per bin.
        total: denominator per bin.
        value: ``passed / total``.
        low: lower end of the interval.
        high: upper end.
        overall: the efficiency over every entry inside the edges.
        cl: confidence level.
    """

    edges: F64
    passed: I64
    total: I64
    value: F64
    low: F64
    high: F64
    overall: Efficiency | None
    cl: float

    @property
    def centers(self) -> F64:
        """Bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def binned_cp_efficiency(
    x: npt.ArrayLike, passed: npt.ArrayLike, edges: npt.ArrayLike, *, cl: float = DEFAULT_CL
) -> BinnedEff:
    """Efficiency of ``passed`` in bins of ``x`` with Clopper-Pearson intervals.

    Raises:
        DataFormatError: ``x`` not finite, or ``passed`` not a bool array of its length.
        ConfigError: bad edges or ``cl``.

    >>> b = binned_cp_efficiency([5.0, 7.0, 15.0], np.array([True, False, True]), [0, 10, 20])
    >>> b.passed.tolist(), b.total.tolist(), b.value.tolist(), b.overall.value
    ([1, 1], [2, 1], [0.5, 1.0], 0.6666666666666666)
    """
    xv = flat_array(x, "binned variable")
    ok = _mask(passed, "passed", xv.size)
    e = _edges(edges)
    counted = binned_efficiency(xv, ok, e)
    total, npass = counted.total.astype(np.int64), counted.passed.astype(np.int64)
    value = np.full(total.size, np.nan)
    low, high = value.copy(), value.copy()
    for i in np.flatnonzero(total):
        value[i] = npass[i] / total[i]
        low[i], high[i] = clopper_pearson(int(npass[i]), int(total[i]), cl)
    n_all = int(total.sum())
    overall = efficiency(int(npass.sum()), n_all, cl) if n_all else None
    return BinnedEff(e, npass, total, value, low, high, overall, float(cl))


@dataclass(frozen=True, eq=False)
class TauEfficiency:
    """Per-tau efficiencies in visible-pT bins: "RECO" (matched) and "ID" (matched and passing the ID).

    Attributes:
        reco: matched / true taus.
        id: matched and ID score ``> id_threshold`` / true taus; None without ID scores.
        id_threshold: the ID threshold, or None.
    """

    reco: BinnedEff
    id: BinnedEff | None
    id_threshold: float | None


def tau_efficiency(
    vis_pt: npt.ArrayLike,
    matched: npt.ArrayLike,
    edges: npt.ArrayLike,
    *,
    id_score: npt.ArrayLike | None = None,
    id_threshold: float | None = None,
    cl: float = DEFAULT_CL,
) -> TauEfficiency:
    """RECO and ID efficiency of true hadronic taus in bins of their visible pT (GeV).

    Args:
        vis_pt: visible pT of each true tau (GeV).
        matched: whether a candidate is matched to it (the matching, e.g. dR < 0.2, is the caller's).
        edges: visible-pT bin edges (GeV).
        id_score: the ID score of the matched candidate, per true tau; read only
            where ``matched`` (NaN allowed elsewhere).
        id_threshold: the ID working point: pass when ``score > id_threshold``.
        cl: confidence level of the intervals.

    Raises:
        DataFormatError: mismatched lengths, NaN pT, NaN ID score of a matched tau.
        ConfigError: ``id_score`` without ``id_threshold`` or the reverse; bad edges.

    >>> t = tau_efficiency([10.0, 12.0, 30.0], np.array([True, True, False]), [0, 20, 40],
    ...                    id_score=[0.9, 0.1, np.nan], id_threshold=0.5)
    >>> t.reco.value.tolist(), t.id.value.tolist()
    ([1.0, 0.0], [0.5, 0.0])
    """
    pt = flat_array(vis_pt, "visible pT of the true taus")
    hit = _mask(matched, "matched", pt.size)
    reco = binned_cp_efficiency(pt, hit, edges, cl=cl)
    if (id_score is None) != (id_threshold is None):
        msg = "tau_efficiency: give both id_score and id_threshold, or neither"
        raise ConfigError(msg)
    if id_score is None or id_threshold is None:
        return TauEfficiency(reco, None, None)
    score = np.asarray(id_score, dtype=np.float64)
    if score.shape != pt.shape:
        msg = f"id_score: expected {pt.size} values (one per true tau), got shape {score.shape}"
        raise DataFormatError(msg)
    flat_array(score[hit], "id_score of the matched taus")
    passing = hit & (np.where(hit, score, -np.inf) > float(id_threshold))
    return TauEfficiency(reco, binned_cp_efficiency(pt, passing, edges, cl=cl), float(id_threshold))


def fake_fraction(
    cand_pt: npt.ArrayLike,
    matched: npt.ArrayLike,
    edges: npt.ArrayLike,
    *,
    selected: npt.ArrayLike | None = None,
    cl: float = DEFAULT_CL,
) -> BinnedEff:
    """Per-candidate fake fraction: selected candidates matched to no true tau / selected candidates.

    In bins of the candidate pT (GeV). ``selected`` None is "RECO" (every
    candidate); for "ID" pass ``id_score > threshold``.

    >>> f = fake_fraction([5.0, 6.0, 7.0, 25.0], np.array([True, False, False, True]), [0, 10, 30])
    >>> f.value.tolist()
    [0.6666666666666666, 0.0]
    """
    pt = flat_array(cand_pt, "candidate pT")
    hit = _mask(matched, "matched", pt.size)
    sel = np.ones(pt.size, dtype=bool) if selected is None else _mask(selected, "selected", pt.size)
    return binned_cp_efficiency(pt[sel], ~hit[sel], edges, cl=cl)


@dataclass(frozen=True, eq=False)
class BinnedCount:
    """Counts per event in bins, with Garwood (exact Poisson) intervals on each count.

    Attributes:
        edges: bin edges (n + 1).
        count: entries per bin.
        per_event: ``count / n_events``.
        low: lower end of the interval, per event.
        high: upper end, per event.
        n_events: events.
        cl: confidence level.
    """

    edges: F64
    count: I64
    per_event: F64
    low: F64
    high: F64
    n_events: int
    cl: float


@dataclass(frozen=True, eq=False)
class FakesPerEvent:
    """Fake candidates in zero-bias events.

    Attributes:
        binned: selected candidates per event in candidate-pT bins.
        per_event: selected candidates per event, all pT (``(value, low, high)``, Garwood).
        event_fraction: zero-bias events with at least one selected candidate.
        rate: that fraction times the crossing rate: the single-tau rate (kHz).
    """

    binned: BinnedCount
    per_event: tuple[float, float, float]
    event_fraction: Efficiency
    rate: MeasuredRate


def _garwood(k: int, cl: float) -> tuple[float, float]:
    """Central exact Poisson interval of a count (Garwood, Biometrika 28 (1936) 437)."""
    from scipy import stats

    alpha = 1.0 - cl
    low = 0.0 if k == 0 else float(stats.chi2.ppf(alpha / 2, 2 * k)) / 2
    return low, float(stats.chi2.ppf(1 - alpha / 2, 2 * k + 2)) / 2


def fakes_per_event(
    offsets: npt.ArrayLike,
    cand_pt: npt.ArrayLike,
    edges: npt.ArrayLike,
    *,
    selected: npt.ArrayLike | None = None,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    cl: float = DEFAULT_CL,
) -> FakesPerEvent:
    """Fake rate on zero-bias events: selected candidates per event, and events with one or more.

    Every candidate of a zero-bias event is a fake. ``selected`` None is "RECO"
    (every candidate); for "ID" pass ``id_score > threshold``. The Poisson
    interval treats the count as Poisson (candidates of one event are not
    independent, so it is indicative); the event fraction is binomial.

    >>> f = fakes_per_event([0, 2, 2, 3], [5.0, 15.0, 7.0], [0, 10, 20], crossing_rate_khz=3.0)
    >>> f.binned.per_event.tolist(), f.per_event[0], f.event_fraction.passed, f.rate.rate_khz
    ([0.6666666666666666, 0.3333333333333333], 1.0, 2, 2.0)
    """
    off = check_offsets(offsets, "offsets of the zero-bias candidates")
    n_events = off.size - 1
    if n_events < 1:
        msg = "offsets of the zero-bias candidates: expected at least one event"
        raise DataFormatError(msg)
    pt = flat_array(cand_pt, "candidate pT", int(off[-1]))
    sel = np.ones(pt.size, dtype=bool) if selected is None else _mask(selected, "selected", pt.size)
    e = _edges(edges)
    count = np.histogram(pt[sel], bins=e)[0].astype(np.int64)
    bounds = np.array([_garwood(int(c), cl) for c in count]).reshape(-1, 2) / n_events
    binned = BinnedCount(e, count, count / n_events, bounds[:, 0], bounds[:, 1], n_events, cl)
    n_sel = int(sel.sum())
    lo, hi = _garwood(n_sel, cl)
    events_with = int(np.unique(event_index(off)[sel]).size)
    return FakesPerEvent(
        binned=binned,
        per_event=(n_sel / n_events, lo / n_events, hi / n_events),
        event_fraction=efficiency(events_with, n_events, cl),
        rate=measured_rate(events_with, n_events, crossing_rate_khz=crossing_rate_khz, cl=cl),
    )


# ---------------------------------------------------------------- response, charge


@dataclass(frozen=True, eq=False)
class Response:
    """pT response ``reco / visible`` per visible-pT bin (NaN where too few entries).

    Attributes:
        edges: visible-pT bin edges (GeV).
        n: entries per bin.
        median: median response.
        mean: mean response.
        width: half the 15.87-84.13 % interquantile range (``robust_sigma``; two entries or more).
        rms: root-mean-square deviation from the mean (population, ``np.std``).
        rel_width: ``width / median``, the resolution relative to the scale.
    """

    edges: F64
    n: I64
    median: F64
    mean: F64
    width: F64
    rms: F64
    rel_width: F64


def response(vis_pt: npt.ArrayLike, reco_pt: npt.ArrayLike, edges: npt.ArrayLike) -> Response:
    """Response and resolution of ``reco_pt / vis_pt`` in bins of the visible pT (both GeV).

    Raises:
        DataFormatError: mismatched lengths, non-finite values, or a visible pT <= 0.

    >>> r = response([10.0, 10.0, 10.0], [9.0, 10.0, 11.0], [0, 20])
    >>> r.median.tolist(), r.mean.tolist(), r.rms.round(4).tolist()
    ([1.0], [1.0], [0.0816])
    """
    vis = flat_array(vis_pt, "visible pT")
    reco = flat_array(reco_pt, "reconstructed pT", vis.size)
    if vis.size and vis.min() <= 0:
        msg = f"visible pT: expected positive values (GeV), got a minimum of {vis.min():g}"
        raise DataFormatError(msg)
    e = _edges(edges)
    ratio = reco / np.where(vis > 0, vis, 1.0)
    nb = e.size - 1
    b = np.clip(np.searchsorted(e, vis, side="right") - 1, 0, nb - 1)
    inside = (vis >= e[0]) & (vis <= e[-1])
    n = np.zeros(nb, dtype=np.int64)
    median, mean, width, rms = (np.full(nb, np.nan) for _ in range(4))
    for k in range(nb):
        v = ratio[inside & (b == k)]
        n[k] = v.size
        if v.size:
            median[k], mean[k], rms[k] = np.median(v), v.mean(), v.std()
            width[k] = robust_sigma(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = width / median
    return Response(e, n, median, mean, width, rms, rel)


@dataclass(frozen=True, eq=False)
class RegressionResponse:
    """Response before (the candidate's own pT) and after (the regressed pT) the regression."""

    before: Response
    after: Response


def regression_response(
    vis_pt: npt.ArrayLike, raw_pt: npt.ArrayLike, regressed_pt: npt.ArrayLike, edges: npt.ArrayLike
) -> RegressionResponse:
    """:func:`response` of the raw and of the regressed pT of the same matched taus."""
    return RegressionResponse(
        response(vis_pt, raw_pt, edges), response(vis_pt, regressed_pt, edges)
    )


@dataclass(frozen=True, eq=False)
class ChargeAccuracy:
    """Charge accuracy on matched true taus: overall, and in visible-pT bins when asked."""

    overall: Efficiency
    binned: BinnedEff | None


def charge_accuracy(
    true_charge: npt.ArrayLike,
    charge_score: npt.ArrayLike,
    *,
    vis_pt: npt.ArrayLike | None = None,
    edges: npt.ArrayLike | None = None,
    cl: float = DEFAULT_CL,
) -> ChargeAccuracy:
    """Fraction of matched true taus whose charge is predicted right (+1 when score >= 0.5).

    Args:
        true_charge: +1 or -1 per matched true tau.
        charge_score: the matched candidate's probability of charge +1.
        vis_pt: visible pT of each matched true tau (GeV), for the binned accuracy.
        edges: visible-pT bin edges (GeV); give both or neither of ``vis_pt`` and ``edges``.
        cl: confidence level of the intervals.

    >>> charge_accuracy([1, -1, 1, -1], [0.9, 0.2, 0.4, 0.5]).overall.passed
    2
    """
    q = flat_array(true_charge, "true charge")
    if q.size == 0 or not np.all(np.abs(q) == 1):
        msg = "true charge: expected +1 or -1 for each of at least one matched tau"
        raise DataFormatError(msg)
    p = _probability(charge_score, "charge score", q.size)
    right = np.where(p >= 0.5, 1.0, -1.0) == q
    binned = None
    if (vis_pt is None) != (edges is None):
        msg = "charge_accuracy: give both vis_pt and edges, or neither"
        raise ConfigError(msg)
    if vis_pt is not None and edges is not None:
        binned = binned_cp_efficiency(flat_array(vis_pt, "visible pT", q.size), right, edges, cl=cl)
    return ChargeAccuracy(efficiency(int(right.sum()), q.size, cl), binned)
