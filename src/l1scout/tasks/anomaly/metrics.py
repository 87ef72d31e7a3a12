"""Rate-based evaluation of an anomaly trigger: efficiencies, pure efficiencies, ROC, AUC.

Trigger people read an anomaly trigger as *signal efficiency at a fixed rate*
(``docs/physics/l1-algorithms.md``, "Evaluation at a fixed rate"): for each target rate the
zero-bias threshold (:mod:`l1scout.tasks.rates`), and for each signal
the fraction of its events above it, with a Clopper-Pearson interval
(:func:`l1scout.tasks.rates.efficiency`). Also:

* the *pure* efficiency: the fraction of signal events the anomaly trigger
  accepts and the reference menu (:mod:`l1scout.tasks.anomaly.menu`) does not,
  and the pure rate: zero-bias events accepted by the anomaly trigger and by no
  menu seed ("pure rate counts accepted events that no other trigger bit
  accepted", AXOL1TL);
* the ROC curve and its area (AUC; ties count one half), and the signal
  efficiency at a background efficiency of 1e-5, the figure of merit of the
  ADC2021 challenge (Govorkova et al., Sci. Data 9 (2022) 118). With the
  zero-bias sample as background 1e-5 is a rate of 0.310 kHz (Phase-2
  normalisation; 0.286 kHz with the Run-3 one), so it is judged
  measurable by the same rule as the rates: at least ``min_pass`` expected
  background events above the threshold (10 needs a million events).

:func:`evaluate` gathers everything into an :class:`Evaluation`, whose
:meth:`Evaluation.to_metrics` gives flat MLflow metric names and
:meth:`Evaluation.table` rows to print.

Metric names (only ``[A-Za-z0-9_.-/]``; the rate as :func:`format_rate` writes
it, e.g. ``1kHz``, ``0.15kHz``; the signal name with any other character
replaced by ``_``). Rates that the zero-bias sample cannot measure are left out:

==================================  ===============================================
``n_events/zero_bias``              zero-bias events
``n_events/<signal>``               signal events
``threshold/<rate>``                score threshold
``rate/<rate>``                     rate measured with that threshold (kHz)
``eff/<signal>/<rate>``             signal efficiency (fraction, not %)
``eff_low/<signal>/<rate>``         lower end of its Clopper-Pearson interval
``eff_high/<signal>/<rate>``        upper end
``pure_eff/<signal>/<rate>``        pure efficiency (with a reference menu)
``pure_rate/<rate>``                pure rate (kHz, with a zero-bias menu decision)
``menu_rate``                       rate of the reference menu (kHz)
``menu_eff/<signal>``               efficiency of the reference menu
``auc/<signal>``                    ROC AUC (always)
``eff_at_bkg/<signal>``             efficiency at background efficiency ``bkg_eff``
==================================  ===============================================

Example:
    >>> rng = np.random.default_rng(1)
    >>> ev = evaluate(rng.normal(size=20_000), {"sig": rng.normal(2.0, 1.0, 2_000)},
    ...               rates_khz=(1.0, 100.0))
    >>> [t.measurable for t in ev.thresholds]
    [False, True]
    >>> sorted(k for k in ev.to_metrics() if k.startswith("eff/"))
    ['eff/sig/100kHz']
    >>> from scipy.stats import norm  # two unit Gaussians 2 apart: AUC = Phi(2 / sqrt(2))
    >>> bool(abs(ev.signals["sig"].auc - norm.cdf(2 / np.sqrt(2))) < 0.01)
    True
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._types import F64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_CL,
    DEFAULT_MIN_PASS,
    DEFAULT_RATES_KHZ,
    Efficiency,
    MeasuredRate,
    Threshold,
    as_scores,
    efficiency,
    format_rate,
    measured_rate,
    threshold_for_fraction,
    thresholds_for_rates,
)

__all__ = [
    "ADC2021_BKG_EFF",
    "Evaluation",
    "RocCurve",
    "ScoreHistogram",
    "SignalEvaluation",
    "auc",
    "evaluate",
    "metric_name_part",
    "roc_curve",
]


#: The ADC2021 working point: signal efficiency at this background efficiency.
ADC2021_BKG_EFF = 1e-5
#: Most points kept per ROC curve in an :class:`Evaluation` (for plots).
ROC_POINTS = 1500
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def _count_above(sorted_asc: F64, threshold: float) -> int:
    """How many entries of an ascending array are strictly above ``threshold``."""
    return int(sorted_asc.size - np.searchsorted(sorted_asc, threshold, side="right"))


def roc_curve(background: npt.ArrayLike, signal: npt.ArrayLike) -> tuple[F64, F64, F64]:
    """The ROC curve of a score: background and signal efficiency for each threshold.

    The thresholds are the distinct scores of both samples in decreasing order
    followed by ``-inf``; at each, an event is accepted when ``score >
    threshold`` (the trigger's rule). The curve runs from (0, 0) to (1, 1); a
    block of tied scores is one straight step, so the trapezoidal area under the
    curve equals :func:`auc`.

    Returns:
        ``(bkg_eff, sig_eff, thresholds)``, three arrays of equal length.

    Example:
        >>> b, s, t = roc_curve([0.0, 1.0, 2.0], [1.0, 3.0])
        >>> b.tolist(), s.tolist(), t.tolist()
        ([0.0, 0.0, 0.3333333333333333, 0.6666666666666666, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [3.0, 2.0, 1.0, 0.0, -inf])
    """
    bkg = np.sort(as_scores(background, "background scores"))
    sig = np.sort(as_scores(signal, "signal scores"))
    thresholds = np.concatenate([np.unique(np.concatenate([bkg, sig]))[::-1], [-np.inf]])
    bkg_eff = (bkg.size - np.searchsorted(bkg, thresholds, side="right")) / bkg.size
    sig_eff = (sig.size - np.searchsorted(sig, thresholds, side="right")) / sig.size
    return bkg_eff.astype(np.float64), sig_eff.astype(np.float64), thresholds


def auc(background: npt.ArrayLike, signal: npt.ArrayLike) -> float:
    """Area under the ROC curve: ``P(s > b) + P(s == b) / 2`` over all (signal, background) pairs.

    The Mann-Whitney statistic from mid-ranks (ties get the average rank), in
    O((n + m) log(n + m)).

    Example:
        >>> auc([0.0, 1.0], [1.0, 2.0])
        0.875
    """
    from scipy import stats

    bkg = as_scores(background, "background scores")
    sig = as_scores(signal, "signal scores")
    ranks = stats.rankdata(np.concatenate([sig, bkg]), method="average")
    n_s, n_b = sig.size, bkg.size
    u = float(ranks[:n_s].sum()) - n_s * (n_s + 1) / 2.0
    return u / (n_s * n_b)


def metric_name_part(name: str) -> str:
    """A name made safe for one segment of an MLflow metric name.

    Characters other than ``A-Z a-z 0-9 _ . -`` become ``_``; names that would
    read as a path step (``""``, ``.``, ``..``) get a leading ``_``.

    >>> metric_name_part("ADC2021 A->4l"), metric_name_part("..")
    ('ADC2021_A-_4l', '_..')
    """
    out = _NAME_BAD.sub("_", name)
    return out if out.strip(".") else f"_{out}"


@dataclass(frozen=True, eq=False)
class RocCurve:
    """A ROC curve thinned for plotting (at most :data:`ROC_POINTS` points, more at small ``bkg``).

    Attributes:
        bkg: background efficiency, increasing (read-only array).
        sig: signal efficiency.
    """

    bkg: F64
    sig: F64


@dataclass(frozen=True, eq=False)
class ScoreHistogram:
    """Score distributions of zero-bias and signals on common bins (for the report's plot).

    Attributes:
        edges: bin edges; scores outside are counted in the first or last bin.
        zero_bias: zero-bias counts per bin.
        signals: signal name -> counts per bin.
        log_x: the bins are logarithmic (positive scores spanning decades; scores
            at or below the first edge, zero included, are in the first bin).
    """

    edges: F64
    zero_bias: npt.NDArray[np.int64]
    signals: Mapping[str, npt.NDArray[np.int64]]
    log_x: bool


@dataclass(frozen=True, eq=False)
class SignalEvaluation:
    """The numbers of one signal.

    Attributes:
        name: the signal (as given to :func:`evaluate`).
        n_events: its events.
        rates_khz: the target rates, as :attr:`Evaluation.rates_khz`.
        efficiency: one :class:`Efficiency` per :attr:`Evaluation.thresholds`.
        pure_efficiency: accepted by the anomaly trigger and not by the menu, per
            threshold; None without a menu decision.
        menu_efficiency: accepted by the reference menu; None without a menu decision.
        auc: ROC AUC against the zero-bias scores.
        eff_at_bkg: efficiency at :attr:`Evaluation.bkg_threshold`.
        roc: the thinned ROC curve.
    """

    name: str
    n_events: int
    rates_khz: tuple[float, ...]
    efficiency: tuple[Efficiency, ...]
    pure_efficiency: tuple[Efficiency, ...] | None
    menu_efficiency: Efficiency | None
    auc: float
    eff_at_bkg: Efficiency
    roc: RocCurve

    def _index(self, rate_khz: float) -> int:
        label = format_rate(rate_khz)
        for i, r in enumerate(self.rates_khz):
            if format_rate(r) == label:
                return i
        msg = (
            f"rate {rate_khz!r} kHz was not evaluated; rates: "
            f"{', '.join(format_rate(r) for r in self.rates_khz)}"
        )
        raise ConfigError(msg)

    def efficiency_at(self, rate_khz: float) -> Efficiency:
        """The efficiency at an evaluated target rate (matched as :func:`format_rate` writes it).

        Whether the rate is measurable is :attr:`Threshold.measurable` of the evaluation.

        Raises:
            ConfigError: the rate was not evaluated.
        """
        return self.efficiency[self._index(rate_khz)]

    def pure_efficiency_at(self, rate_khz: float) -> Efficiency | None:
        """The pure efficiency at an evaluated target rate; None without menu decisions.

        Raises:
            ConfigError: the rate was not evaluated.
        """
        i = self._index(rate_khz)
        return None if self.pure_efficiency is None else self.pure_efficiency[i]


def _pct(e: Efficiency) -> str:
    return f"{100 * e.value:.1f} +{100 * e.err_high:.1f} -{100 * e.err_low:.1f} %"


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything the report and the tracking need from one model's scores.

    Attributes:
        thresholds: one per target rate, in increasing rate.
        signals: signal name -> its numbers, in the order given.
        n_zero_bias: zero-bias events.
        crossing_rate_khz: rate of non-empty crossings (kHz).
        cl: confidence level of every interval.
        min_pass: the measurability rule (expected zero-bias passes).
        bkg_eff: the background-efficiency working point (ADC2021: 1e-5).
        bkg_threshold: the threshold of that working point.
        pure_rates: per threshold, zero-bias events accepted by the anomaly
            trigger and not by the menu; None without a zero-bias menu decision.
        menu_rate: rate of the reference menu on the zero-bias sample, or None.
        histogram: score distributions.
    """

    thresholds: tuple[Threshold, ...]
    signals: Mapping[str, SignalEvaluation]
    n_zero_bias: int
    crossing_rate_khz: float
    cl: float
    min_pass: int
    bkg_eff: float
    bkg_threshold: Threshold
    pure_rates: tuple[MeasuredRate, ...] | None
    menu_rate: MeasuredRate | None
    histogram: ScoreHistogram

    @property
    def rates_khz(self) -> tuple[float, ...]:
        """The target rates (kHz)."""
        return tuple(t.rate_khz for t in self.thresholds)

    @property
    def measurable_rates_khz(self) -> tuple[float, ...]:
        """The target rates the zero-bias sample can measure."""
        return tuple(t.rate_khz for t in self.thresholds if t.measurable)

    @property
    def unmeasurable_rates_khz(self) -> tuple[float, ...]:
        """The target rates the zero-bias sample is too small for."""
        return tuple(t.rate_khz for t in self.thresholds if not t.measurable)

    @property
    def min_measurable_rate_khz(self) -> float:
        """The smallest rate this zero-bias sample can measure (kHz)."""
        return self.min_pass / self.n_zero_bias * self.crossing_rate_khz

    def threshold_at(self, rate_khz: float) -> Threshold:
        """The threshold of an evaluated target rate (matched as :func:`format_rate` writes it).

        Raises:
            ConfigError: the rate was not evaluated.
        """
        for t in self.thresholds:
            if t.label == format_rate(rate_khz):
                return t
        msg = f"rate {rate_khz!r} kHz was not evaluated; rates: {', '.join(t.label for t in self.thresholds)}"
        raise ConfigError(msg)

    def to_metrics(self) -> dict[str, float]:
        """Flat metric names -> finite values (module docstring); unmeasurable rates left out."""
        out: dict[str, float] = {"n_events/zero_bias": float(self.n_zero_bias)}
        for i, t in enumerate(self.thresholds):
            if not t.measurable:
                continue
            out[f"threshold/{t.label}"] = t.threshold
            out[f"rate/{t.label}"] = t.rate_measured_khz
            if self.pure_rates is not None:
                out[f"pure_rate/{t.label}"] = self.pure_rates[i].rate_khz
        if self.menu_rate is not None:
            out["menu_rate"] = self.menu_rate.rate_khz
        for s in self.signals.values():
            name = metric_name_part(s.name)
            out[f"n_events/{name}"] = float(s.n_events)
            out[f"auc/{name}"] = s.auc
            if self.bkg_threshold.measurable:
                out[f"eff_at_bkg/{name}"] = s.eff_at_bkg.value
            if s.menu_efficiency is not None:
                out[f"menu_eff/{name}"] = s.menu_efficiency.value
            for i, t in enumerate(self.thresholds):
                if not t.measurable:
                    continue
                e = s.efficiency[i]
                out[f"eff/{name}/{t.label}"] = e.value
                out[f"eff_low/{name}/{t.label}"] = e.low
                out[f"eff_high/{name}/{t.label}"] = e.high
                if s.pure_efficiency is not None:
                    out[f"pure_eff/{name}/{t.label}"] = s.pure_efficiency[i].value
        return {k: float(v) for k, v in out.items() if math.isfinite(v)}

    def table(self) -> list[dict[str, object]]:
        """Rows to print, one per signal: formatted strings.

        Keys: ``signal``, ``events``, ``AUC``, ``eff @ bkg <bkg_eff>``, then one
        key per target rate (``"1 kHz"``) holding ``"45.2 +1.3 -1.2 %"``, or
        ``"not measurable"`` where the zero-bias sample is too small.
        """
        rows: list[dict[str, object]] = []
        bkg_key = f"eff @ bkg {self.bkg_eff:g}"
        for s in self.signals.values():
            row: dict[str, object] = {
                "signal": s.name,
                "events": s.n_events,
                "AUC": f"{s.auc:.4f}",
                bkg_key: _pct(s.eff_at_bkg) if self.bkg_threshold.measurable else "not measurable",
            }
            for t, e in zip(self.thresholds, s.efficiency, strict=True):
                key = f"{format_rate(t.rate_khz)[:-3]} kHz"
                row[key] = _pct(e) if t.measurable else "not measurable"
            rows.append(row)
        return rows

    def records(self) -> list[dict[str, object]]:
        """Long-format numeric rows, one per (signal, rate), for CSV or data frames.

        Keys: ``signal``, ``rate_khz``, ``measurable``, ``threshold``,
        ``rate_measured_khz``, ``efficiency``, ``eff_low``, ``eff_high``,
        ``passed``, ``total``, and ``pure_efficiency`` (None without a menu).
        """
        out: list[dict[str, object]] = []
        for s in self.signals.values():
            for i, t in enumerate(self.thresholds):
                e = s.efficiency[i]
                pure = s.pure_efficiency[i].value if s.pure_efficiency is not None else None
                out.append(
                    {
                        "signal": s.name,
                        "rate_khz": t.rate_khz,
                        "measurable": t.measurable,
                        "threshold": t.threshold,
                        "rate_measured_khz": t.rate_measured_khz,
                        "efficiency": e.value,
                        "eff_low": e.low,
                        "eff_high": e.high,
                        "passed": e.passed,
                        "total": e.total,
                        "pure_efficiency": pure,
                    }
                )
        return out


def _thin_roc(bkg_eff: F64, sig_eff: F64, max_points: int = ROC_POINTS) -> RocCurve:
    n = bkg_eff.size
    if n > max_points:
        half = max_points // 2
        idx = np.unique(
            np.concatenate(
                [
                    np.geomspace(1, n, half).astype(np.int64) - 1,
                    np.linspace(0, n - 1, half).astype(np.int64),
                ]
            )
        )
        bkg_eff, sig_eff = bkg_eff[idx], sig_eff[idx]
    bkg, sig = bkg_eff.copy(), sig_eff.copy()
    bkg.setflags(write=False)
    sig.setflags(write=False)
    return RocCurve(bkg=bkg, sig=sig)


def _histogram(zb: F64, sigs: Mapping[str, F64], n_bins: int) -> ScoreHistogram:
    everything = np.concatenate([zb, *sigs.values()])
    everything = everything[np.isfinite(everything)]
    if everything.size == 0:
        everything = np.zeros(1)
    lo, hi = float(everything.min()), float(everything.max())
    positive = everything[everything > 0]
    log_x = False
    if lo >= 0 and positive.size:
        p_lo = float(np.quantile(positive, 0.001))
        log_x = hi / p_lo > 1e3
    if log_x:
        edges = np.geomspace(p_lo, hi, n_bins + 1)
    else:
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)

    def count(s: F64) -> npt.NDArray[np.int64]:
        c, _ = np.histogram(np.clip(s, edges[0], edges[-1]), bins=edges)
        c = c.astype(np.int64)
        c.setflags(write=False)
        return c

    edges.setflags(write=False)
    return ScoreHistogram(
        edges=edges,
        zero_bias=count(zb),
        signals={name: count(s) for name, s in sigs.items()},
        log_x=bool(log_x),
    )


def _as_decision(x: npt.ArrayLike, n: int, what: str) -> B:
    arr = np.asarray(x)
    if arr.shape != (n,):
        msg = f"{what}: expected one menu decision per event, shape ({n},), got {arr.shape}"
        raise DataFormatError(msg)
    if arr.dtype != np.bool_:
        msg = f"{what}: expected a bool array (True = accepted by the menu), got dtype {arr.dtype}"
        raise DataFormatError(msg)
    return arr


def evaluate(
    zb_scores: npt.ArrayLike,
    signal_scores: Mapping[str, npt.ArrayLike],
    *,
    rates_khz: Sequence[float] = DEFAULT_RATES_KHZ,
    zb_menu: npt.ArrayLike | None = None,
    signal_menu: Mapping[str, npt.ArrayLike] | None = None,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    min_pass: int = DEFAULT_MIN_PASS,
    cl: float = DEFAULT_CL,
    bkg_eff: float = ADC2021_BKG_EFF,
    n_bins: int = 60,
) -> Evaluation:
    """Evaluate anomaly scores at trigger rates (module docstring).

    Args:
        zb_scores: scores of the zero-bias test events, 1-d.
        signal_scores: signal name -> scores of its test events; empty for a
            rate-only evaluation (thresholds, rates and the score histogram).
        rates_khz: target rates (kHz); evaluated in increasing order.
        zb_menu: per zero-bias event, True if the reference menu accepts it
            (:func:`l1scout.tasks.anomaly.menu.menu_decisions`): gives the pure rate.
        signal_menu: signal name -> the same per signal event: gives the pure
            efficiency; must cover every signal.
        crossing_rate_khz: rate of non-empty crossings (kHz): the rate
            normalisation; default the Phase-2 one (:mod:`l1scout.tasks.rates`).
        min_pass: a rate is measurable when this many zero-bias events are expected above it.
        cl: confidence level of the intervals.
        bkg_eff: background-efficiency working point (ADC2021: 1e-5).
        n_bins: bins of the score histogram.

    Raises:
        ConfigError: bad rates, a signal without menu decisions, bad settings.
        DataFormatError: empty or NaN scores, menu decisions of the wrong shape or type.
    """
    zb = as_scores(zb_scores, "zero-bias scores")
    sigs = {name: as_scores(s, f"scores of signal {name!r}") for name, s in signal_scores.items()}
    seen: dict[str, str] = {}
    for name in sigs:
        part = metric_name_part(name)
        if part in seen:
            msg = f"signals {seen[part]!r} and {name!r} give the same metric name {part!r}; rename one"
            raise ConfigError(msg)
        seen[part] = name
    rates = sorted(float(r) for r in rates_khz)
    thresholds = thresholds_for_rates(
        zb, rates, crossing_rate_khz=crossing_rate_khz, min_pass=min_pass, cl=cl
    )
    bkg_threshold = threshold_for_fraction(
        zb, bkg_eff, min_pass=min_pass, cl=cl, crossing_rate_khz=crossing_rate_khz
    )
    zb_dec = None if zb_menu is None else _as_decision(zb_menu, zb.size, "zb_menu")
    if signal_menu is not None:
        missing = [name for name in sigs if name not in signal_menu]
        if missing:
            msg = f"signal_menu: no menu decisions for signal(s) {', '.join(map(repr, missing))}"
            raise ConfigError(msg)
    pure_rates = None
    menu_rate = None
    if zb_dec is not None:
        kw = {"crossing_rate_khz": crossing_rate_khz, "cl": cl}
        menu_rate = measured_rate(int(zb_dec.sum()), zb.size, **kw)
        pure_rates = tuple(
            measured_rate(int(np.count_nonzero((zb > t.threshold) & ~zb_dec)), zb.size, **kw)
            for t in thresholds
        )
    results: dict[str, SignalEvaluation] = {}
    for name, s in sigs.items():
        s_sorted = np.sort(s)
        effs = tuple(
            efficiency(_count_above(s_sorted, t.threshold), s.size, cl) for t in thresholds
        )
        pure = None
        menu_eff = None
        if signal_menu is not None:
            dec = _as_decision(signal_menu[name], s.size, f"signal_menu[{name!r}]")
            menu_eff = efficiency(int(dec.sum()), s.size, cl)
            pure = tuple(
                efficiency(int(np.count_nonzero((s > t.threshold) & ~dec)), s.size, cl)
                for t in thresholds
            )
        b_eff, s_eff, _ = roc_curve(zb, s)
        results[name] = SignalEvaluation(
            name=name,
            n_events=int(s.size),
            rates_khz=tuple(t.rate_khz for t in thresholds),
            efficiency=effs,
            pure_efficiency=pure,
            menu_efficiency=menu_eff,
            auc=auc(zb, s),
            eff_at_bkg=efficiency(_count_above(s_sorted, bkg_threshold.threshold), s.size, cl),
            roc=_thin_roc(b_eff, s_eff),
        )
    return Evaluation(
        thresholds=thresholds,
        signals=results,
        n_zero_bias=int(zb.size),
        crossing_rate_khz=float(crossing_rate_khz),
        cl=float(cl),
        min_pass=int(min_pass),
        bkg_eff=float(bkg_eff),
        bkg_threshold=bkg_threshold,
        pure_rates=pure_rates,
        menu_rate=menu_rate,
        histogram=_histogram(zb, sigs, n_bins),
    )
