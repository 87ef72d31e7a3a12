"""The HH -> 4b Level-1 seed at a fixed zero-bias rate: HT alone against HT plus b-tagged jets.

The physics use of a Level-1 b-tagger (arXiv:2509.24371): a seed on the scalar
sum of jet pT (HT) alone must run at a high HT threshold to keep its rate; a
seed that also asks for ``n`` b-tagged jets rejects most zero-bias crossings
by the b-tags and can lower its HT threshold at the same rate (the public
result: about 150 GeV lower for HH -> 4b). Pure functions on arrays:

* :func:`ht`: per event, the sum of the pT of jets with ``pT > pt_min`` and
  ``|eta| < eta_max`` (GeV; the Phase-2 L1 HT uses 30 GeV and 2.4);
* :func:`btag_working_point`: the b-score threshold of a light-jet mistag
  rate (the fraction of light jets, uds and gluon, above it);
* :func:`count_btagged`: per event, the jets with a b score above a working point;
* :func:`seed_thresholds`: the HT thresholds of both seeds at one zero-bias
  rate. The rate of a seed is the fraction of zero-bias events it accepts
  times the crossing rate (``l1scout.tasks.rates``). The HT-only seed's score
  is HT; the b-tag seed's score is HT where the event has at least ``n``
  b-tagged jets and ``-inf`` elsewhere, so one rule
  (:func:`~l1scout.tasks.rates.threshold_for_rate`, accept ``score >
  threshold``) gives both. A b-tag threshold of ``-inf`` means the b-tag
  requirement alone already stays below the rate (no HT cut is needed);
  tables show it as 0 GeV;
* :func:`seed_efficiency`: the fraction of signal events a seed accepts,
  with its Clopper-Pearson interval;
* :func:`hh4b_study`: the table over rates, working points and b-tag counts
  (:class:`HH4bResult`).

Example (ten zero-bias events, one of them b-tagged; at 20 % of the crossings
the HT seed keeps the 2 highest-HT events, the b-tag seed needs no HT cut):
    >>> zb_ht = np.array([10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    >>> zb_nb = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    >>> t = seed_thresholds(zb_ht, zb_nb, 0.2 * CROSSING_RATE_KHZ, 1)
    >>> t.ht_only.threshold, t.with_btag.threshold
    (80.0, -inf)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._types import F64, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_CL,
    DEFAULT_MIN_PASS,
    Efficiency,
    Threshold,
    efficiency,
    threshold_for_fraction,
    threshold_for_rate,
)

__all__ = [
    "HH4bResult",
    "HH4bRow",
    "SeedThresholds",
    "btag_working_point",
    "count_btagged",
    "hh4b_study",
    "ht",
    "seed_efficiency",
    "seed_thresholds",
]


def _offsets(offsets: npt.ArrayLike, n_values: int, what: str) -> I64:
    off = np.asarray(offsets, dtype=np.int64)
    if off.ndim != 1 or off.size < 1 or off[0] != 0 or off[-1] != n_values:
        msg = f"{what}: expected offsets from 0 to {n_values} (one more than the events)"
        raise DataFormatError(msg)
    if np.any(np.diff(off) < 0):
        msg = f"{what}: expected non-decreasing offsets"
        raise DataFormatError(msg)
    return off


def ht(
    jet_pt: npt.ArrayLike,
    jet_eta: npt.ArrayLike,
    offsets: npt.ArrayLike,
    *,
    pt_min: float = 30.0,
    eta_max: float = 2.4,
) -> F64:
    """Per event, the scalar sum of the pT of jets with ``pT > pt_min`` and ``|eta| < eta_max`` (GeV).

    Args:
        jet_pt: flat jet pT of every event (GeV).
        jet_eta: flat jet pseudorapidity, aligned with *jet_pt*.
        offsets: the events' jet offsets (n_events + 1).
        pt_min: jets at or below this pT are left out (GeV).
        eta_max: jets at or beyond this |eta| are left out.

    Raises:
        DataFormatError: arrays of different lengths or offsets that do not fit them.

    >>> ht([50.0, 20.0, 40.0, 100.0], [0.0, 0.0, 3.0, -1.0], [0, 3, 3, 4]).tolist()
    [50.0, 0.0, 100.0]
    """
    pt = np.asarray(jet_pt, dtype=np.float64)
    eta = np.asarray(jet_eta, dtype=np.float64)
    if pt.shape != eta.shape or pt.ndim != 1:
        msg = (
            f"jet pT and eta: expected two 1-d arrays of one length, got {pt.shape} and {eta.shape}"
        )
        raise DataFormatError(msg)
    off = _offsets(offsets, pt.size, "jet offsets")
    used = np.where((pt > pt_min) & (np.abs(eta) < eta_max), pt, 0.0)
    sums = np.concatenate([[0.0], np.cumsum(used)])
    out: F64 = sums[off[1:]] - sums[off[:-1]]
    return out


def btag_working_point(b_score: npt.ArrayLike, is_light: npt.ArrayLike, mistag: float) -> float:
    """The b-score threshold at which a fraction *mistag* of light jets is tagged (``score > wp``).

    Args:
        b_score: per jet, the tagger's b score (higher = more b-like).
        is_light: per jet, True for a light jet (uds or gluon).
        mistag: the light-jet mistag rate, in (0, 1] (e.g. 0.01 or 0.1).

    Raises:
        ConfigError: *mistag* outside (0, 1].
        DataFormatError: no light jet, or NaN scores.

    >>> btag_working_point([0.1, 0.2, 0.3, 0.4, 0.9], [True, True, True, True, False], 0.25)
    0.3
    """
    score = np.asarray(b_score, dtype=np.float64)
    light = np.asarray(is_light, dtype=bool)
    if score.shape != light.shape:
        msg = f"b scores and light flags: expected one length, got {score.shape} and {light.shape}"
        raise DataFormatError(msg)
    if not np.any(light):
        raise DataFormatError(
            "b-tag working point: no light jet (uds or gluon) to measure the mistag on"
        )
    return float(threshold_for_fraction(score[light], mistag, min_pass=1).threshold)


def count_btagged(
    event: npt.ArrayLike, b_score: npt.ArrayLike, working_point: float, n_events: int
) -> I64:
    """Per event, the jets with ``b_score > working_point``.

    Args:
        event: per jet, its event's row (0 ... n_events - 1).
        b_score: per jet, the b score.
        working_point: the threshold (:func:`btag_working_point`).
        n_events: the events.

    >>> count_btagged([0, 0, 2, 2, 2], [0.9, 0.1, 0.8, 0.95, 0.5], 0.7, 3).tolist()
    [1, 0, 2]
    """
    ev = np.asarray(event, dtype=np.int64)
    score = np.asarray(b_score, dtype=np.float64)
    if ev.shape != score.shape:
        msg = f"jet events and b scores: expected one length, got {ev.shape} and {score.shape}"
        raise DataFormatError(msg)
    if ev.size and (ev.min() < 0 or ev.max() >= n_events):
        msg = f"jet events: expected rows in 0 ... {n_events - 1}"
        raise DataFormatError(msg)
    return np.bincount(ev[score > working_point], minlength=n_events).astype(np.int64)


@dataclass(frozen=True)
class SeedThresholds:
    """The HT thresholds of the two seeds at one zero-bias rate.

    Attributes:
        ht_only: the HT-only seed (accept ``HT > threshold``).
        with_btag: the seed ``HT > threshold`` and at least ``n_btag`` b-tagged jets.
        n_btag: the b-tagged jets the second seed asks for.
    """

    ht_only: Threshold
    with_btag: Threshold
    n_btag: int


def _btag_score(ht_values: F64, nb: I64, n_btag: int) -> F64:
    out: F64 = np.where(nb >= n_btag, ht_values, -np.inf)
    return out


def _check_pair(ht_values: npt.ArrayLike, nb: npt.ArrayLike, what: str) -> tuple[F64, I64]:
    h = np.asarray(ht_values, dtype=np.float64)
    n = np.asarray(nb, dtype=np.int64)
    if h.shape != n.shape or h.ndim != 1:
        msg = f"{what}: expected HT and b-tag counts as 1-d arrays of one length, got {h.shape} and {n.shape}"
        raise DataFormatError(msg)
    return h, n


def _check_n_btag(n_btag: int) -> int:
    if isinstance(n_btag, bool) or not isinstance(n_btag, int | np.integer) or n_btag < 1:
        msg = f"n_btag={n_btag!r}: expected a whole number of b-tagged jets >= 1"
        raise ConfigError(msg)
    return int(n_btag)


def seed_thresholds(
    zb_ht: npt.ArrayLike,
    zb_nb: npt.ArrayLike,
    rate_khz: float,
    n_btag: int,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    *,
    min_pass: int = DEFAULT_MIN_PASS,
) -> SeedThresholds:
    """The HT threshold of the HT-only seed and of the HT + ``n_btag`` b-tags seed at one rate.

    Args:
        zb_ht: per zero-bias event, HT (GeV).
        zb_nb: per zero-bias event, b-tagged jets.
        rate_khz: the target rate (kHz).
        n_btag: b-tagged jets the second seed asks for (>= 1).
        crossing_rate_khz: non-empty crossings per second (kHz).
        min_pass: zero-bias events expected above a threshold for the rate to be measurable.

    Raises:
        ConfigError: a bad rate or ``n_btag``.
        DataFormatError: arrays that do not fit, or no zero-bias event.
    """
    h, n = _check_pair(zb_ht, zb_nb, "zero-bias events")
    k = _check_n_btag(n_btag)
    ht_only, with_btag = (
        threshold_for_rate(scores, rate_khz, crossing_rate_khz=crossing_rate_khz, min_pass=min_pass)
        for scores in (h, _btag_score(h, n, k))
    )
    return SeedThresholds(ht_only=ht_only, with_btag=with_btag, n_btag=k)


def seed_efficiency(
    sig_ht: npt.ArrayLike,
    sig_nb: npt.ArrayLike,
    threshold: float,
    n_btag: int = 0,
    *,
    cl: float = DEFAULT_CL,
) -> Efficiency:
    """The fraction of signal events with ``HT > threshold`` and at least ``n_btag`` b-tagged jets.

    ``n_btag = 0`` is the HT-only seed. Clopper-Pearson interval at *cl*.

    Raises:
        DataFormatError: arrays that do not fit, or no signal event.

    >>> e = seed_efficiency([100.0, 200, 300, 400], [0, 2, 1, 3], 150.0, 2)
    >>> e.passed, e.total, e.value
    (2, 4, 0.5)
    """
    h, n = _check_pair(sig_ht, sig_nb, "signal events")
    if h.size == 0:
        raise DataFormatError("signal events: none to measure the seed efficiency on")
    passed = int(np.count_nonzero((h > threshold) & (n >= int(n_btag))))
    return efficiency(passed, int(h.size), cl)


@dataclass(frozen=True)
class HH4bRow:
    """One row of the HH -> 4b table: one rate, one working point, one b-tag count.

    Attributes:
        rate_khz: the zero-bias rate of both seeds (kHz).
        working_point: the b-tag working point's name (e.g. ``"mistag 10%"``).
        n_btag: b-tagged jets the second seed asks for.
        ht_only: the HT-only seed's threshold.
        ht_only_efficiency: its signal efficiency.
        with_btag: the HT + b-tags seed's threshold (``-inf``: no HT cut needed).
        with_btag_efficiency: its signal efficiency.
    """

    rate_khz: float
    working_point: str
    n_btag: int
    ht_only: Threshold
    ht_only_efficiency: Efficiency
    with_btag: Threshold
    with_btag_efficiency: Efficiency

    @property
    def ht_threshold(self) -> float:
        """The HT-only seed's HT threshold (GeV, at least 0)."""
        return max(self.ht_only.threshold, 0.0)

    @property
    def btag_ht_threshold(self) -> float:
        """The b-tag seed's HT threshold (GeV, at least 0: 0 when the b-tags alone keep the rate)."""
        return max(self.with_btag.threshold, 0.0)

    @property
    def threshold_drop(self) -> float:
        """How much lower the b-tag seed's HT threshold is (GeV); the public result is about 150."""
        return self.ht_threshold - self.btag_ht_threshold

    @property
    def measurable(self) -> bool:
        """Whether the zero-bias sample measures this rate (:func:`l1scout.tasks.rates.threshold_for_rate`)."""
        return self.ht_only.measurable

    def as_dict(self) -> dict[str, float | int | str | bool]:
        """The row as plain numbers (JSON; NaN / inf as None is the caller's choice)."""
        return {
            "rate_khz": self.rate_khz,
            "working_point": self.working_point,
            "n_btag": self.n_btag,
            "ht_threshold": self.ht_threshold,
            "ht_efficiency": self.ht_only_efficiency.value,
            "ht_efficiency_low": self.ht_only_efficiency.low,
            "ht_efficiency_high": self.ht_only_efficiency.high,
            "btag_ht_threshold": self.btag_ht_threshold,
            "btag_efficiency": self.with_btag_efficiency.value,
            "btag_efficiency_low": self.with_btag_efficiency.low,
            "btag_efficiency_high": self.with_btag_efficiency.high,
            "threshold_drop": self.threshold_drop,
            "zero_bias_events": self.ht_only.n_total,
            "measurable": self.measurable,
        }


@dataclass(frozen=True)
class HH4bResult:
    """The HH -> 4b seed table (:func:`hh4b_study`).

    Attributes:
        rows: one per (rate, working point, b-tag count), in that order.
        zero_bias_events: zero-bias events the rates are measured on.
        signal_events: HH -> 4b events the efficiencies are measured on.
        working_points: working point name -> b-score threshold.
    """

    rows: tuple[HH4bRow, ...]
    zero_bias_events: int
    signal_events: int
    working_points: Mapping[str, float]

    def table(self) -> list[dict[str, float | int | str | bool]]:
        """The rows as plain dictionaries."""
        return [r.as_dict() for r in self.rows]


def hh4b_study(
    zb_ht: npt.ArrayLike,
    zb_nb: Mapping[str, npt.ArrayLike],
    sig_ht: npt.ArrayLike,
    sig_nb: Mapping[str, npt.ArrayLike],
    *,
    rates_khz: Sequence[float],
    n_btags: Sequence[int],
    working_points: Mapping[str, float] | None = None,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    min_pass: int = DEFAULT_MIN_PASS,
    cl: float = DEFAULT_CL,
) -> HH4bResult:
    """Both seeds at every rate, working point and b-tag count (module docstring).

    Args:
        zb_ht: per zero-bias event, HT (GeV).
        zb_nb: working point name -> per zero-bias event, b-tagged jets.
        sig_ht: per signal event, HT (GeV).
        sig_nb: working point name -> per signal event, b-tagged jets (same names).
        rates_khz: the zero-bias rates (kHz).
        n_btags: the b-tag counts of the second seed.
        working_points: working point name -> b-score threshold (recorded only).
        crossing_rate_khz: non-empty crossings per second (kHz).
        min_pass: see :func:`seed_thresholds`.
        cl: confidence level of the efficiencies.

    Raises:
        ConfigError: no rate or b-tag count, or working points that differ between samples.
    """
    if not rates_khz or not n_btags:
        raise ConfigError("HH -> 4b study: expected at least one rate and one b-tag count")
    if set(zb_nb) != set(sig_nb):
        msg = f"HH -> 4b study: zero-bias working points {sorted(zb_nb)} differ from the signal's {sorted(sig_nb)}"
        raise ConfigError(msg)
    h_zb = np.asarray(zb_ht, dtype=np.float64)
    h_sig = np.asarray(sig_ht, dtype=np.float64)
    rows: list[HH4bRow] = []
    for rate in rates_khz:
        for name in zb_nb:
            for k in n_btags:
                t = seed_thresholds(
                    h_zb, zb_nb[name], float(rate), k, crossing_rate_khz, min_pass=min_pass
                )
                rows.append(
                    HH4bRow(
                        rate_khz=float(rate),
                        working_point=name,
                        n_btag=t.n_btag,
                        ht_only=t.ht_only,
                        ht_only_efficiency=seed_efficiency(
                            h_sig, np.zeros(h_sig.size, np.int64), t.ht_only.threshold, 0, cl=cl
                        ),
                        with_btag=t.with_btag,
                        with_btag_efficiency=seed_efficiency(
                            h_sig, sig_nb[name], t.with_btag.threshold, t.n_btag, cl=cl
                        ),
                    )
                )
    wps = {k: float(v) for k, v in (working_points or {}).items()}
    return HH4bResult(tuple(rows), int(h_zb.size), int(h_sig.size), wps)
