"""The tagger's figures of merit on test jets: per-class AUC and ROC, the card's BTag point, the pT response.

* **Classification**: per class, the one-vs-rest ROC curve and its area
  (AUC) of the class's softmax probability over the labelled test jets
  (:func:`per_class_auc`); a class absent from the test jets has NaN.
* **b tagging against the card**: the b-vs-light discriminant
  ``p_b / (p_b + p_uds + p_g)`` (the Phase-2 tagger's b score) as a ROC of
  b-jet efficiency against light-jet (uds, gluon) mistag rate, and the card's
  ``BTag`` bits (a jet tagged when ``BTag & 1``, the card's working point) as
  one (efficiency, mistag) point; the tagger's mistag at the card's
  efficiency says which is better (:func:`btag_comparison`).
* **Regression**: the response ``pT / gen-jet pT`` of the raw jet pT and of
  the regressed pT (``pT x exp(output)``) over the matched test jets: median
  and resolution (half the 16-84 % interquantile range over the median)
  (:func:`pt_response`).

Example:
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> per_class_auc(p, np.array([0, 1, 1])).tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._types import F64
from l1scout.errors import DataFormatError
from l1scout.tasks.jettag.labels import JET_CLASSES

__all__ = [
    "BTagComparison",
    "PtResponse",
    "b_score",
    "btag_comparison",
    "per_class_auc",
    "pt_response",
    "roc_points",
]

_B, _UDS, _G = JET_CLASSES.index("b"), JET_CLASSES.index("uds"), JET_CLASSES.index("g")
#: Points kept of a ROC curve for the report and the JSON (log-spaced in the mistag).
_ROC_POINTS = 60


def per_class_auc(probabilities: npt.ArrayLike, labels: npt.ArrayLike) -> F64:
    """One-vs-rest ROC AUC per class (NaN where a class, or every other class, is absent).

    Unlabelled jets (``-1``) are left out; the AUC is
    :func:`l1scout.tasks.classify.metrics.one_vs_rest_auc` (mid-ranks, equal to
    scikit-learn's ``roc_auc_score``).
    """
    from l1scout.tasks.classify.metrics import one_vs_rest_auc

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if p.ndim != 2 or p.shape[0] != y.size:
        msg = f"probabilities {p.shape} and labels {y.shape}: expected (n, C) and (n,)"
        raise DataFormatError(msg)
    keep = y >= 0
    return one_vs_rest_auc(p[keep], y[keep])


def b_score(probabilities: npt.ArrayLike) -> F64:
    """The b-vs-light discriminant ``p_b / (p_b + p_uds + p_g)`` per jet (0.5 where all three are 0).

    >>> b_score(np.array([[0.1, 0.1, 0.8, 0, 0, 0, 0, 0]])).round(3).tolist()
    [0.8]
    """
    p = np.asarray(probabilities, dtype=np.float64)
    den = p[:, _B] + p[:, _UDS] + p[:, _G]
    out: F64 = np.where(den > 0, p[:, _B] / np.where(den > 0, den, 1.0), 0.5)
    return out


def roc_points(signal: npt.ArrayLike, background: npt.ArrayLike) -> tuple[F64, F64]:
    """(signal efficiency, background efficiency) along the ROC curve, thinned to about 60 points."""
    from sklearn.metrics import roc_curve

    s = np.asarray(signal, dtype=np.float64)
    b = np.asarray(background, dtype=np.float64)
    if s.size == 0 or b.size == 0:
        return np.zeros(0), np.zeros(0)
    y = np.concatenate([np.ones(s.size, bool), np.zeros(b.size, bool)])
    fpr, tpr, _ = roc_curve(y, np.concatenate([s, b]))
    targets = np.unique(np.concatenate([[0.0], np.geomspace(1e-4, 1.0, _ROC_POINTS)]))
    idx = np.unique(np.clip(np.searchsorted(fpr, targets), 0, fpr.size - 1))
    return tpr[idx].astype(np.float64), fpr[idx].astype(np.float64)


@dataclass(frozen=True)
class BTagComparison:
    """The tagger's b-vs-light ROC and the card's ``BTag`` point on the same test jets.

    Attributes:
        tagger_eff: b-jet efficiencies along the tagger's ROC.
        tagger_mistag: the light-jet mistag rates at them.
        card_eff: the card's ``BTag`` b-jet efficiency.
        card_mistag: the card's ``BTag`` light-jet mistag rate.
        tagger_mistag_at_card_eff: the tagger's mistag at the card's efficiency (NaN: no b jet).
        n_b: b jets.
        n_light: light jets (uds, gluon).
    """

    tagger_eff: F64
    tagger_mistag: F64
    card_eff: float
    card_mistag: float
    tagger_mistag_at_card_eff: float
    n_b: int
    n_light: int


def btag_comparison(
    probabilities: npt.ArrayLike, labels: npt.ArrayLike, btag_bits: npt.ArrayLike
) -> BTagComparison:
    """The tagger's b score against the card's ``BTag & 1`` on b and light test jets (module docstring)."""
    y = np.asarray(labels, dtype=np.int64)
    score = b_score(probabilities)
    bits = np.asarray(btag_bits, dtype=np.int64)
    is_b = y == _B
    light = (y == _UDS) | (y == _G)
    card = (bits & 1) > 0
    eff, mistag = roc_points(score[is_b], score[light])
    card_eff = float(np.mean(card[is_b])) if np.any(is_b) else float("nan")
    card_mis = float(np.mean(card[light])) if np.any(light) else float("nan")
    at = float("nan")
    if np.any(is_b) and np.any(light):
        # the tagger's threshold giving the card's b efficiency, then its light mistag
        thr = np.quantile(score[is_b], 1.0 - card_eff) if card_eff > 0 else np.inf
        at = float(np.mean(score[light] > thr))
    return BTagComparison(
        eff,
        mistag,
        card_eff,
        card_mis,
        at,
        int(np.count_nonzero(is_b)),
        int(np.count_nonzero(light)),
    )


@dataclass(frozen=True)
class PtResponse:
    """The jet pT response over the matched test jets, raw and regressed.

    Attributes:
        n_jets: matched jets.
        raw_median: median of ``pT / gen pT``.
        raw_resolution: half the 16-84 % range of it over its median.
        regressed_median: the same for the regressed pT.
        regressed_resolution: the same for the regressed pT.
    """

    n_jets: int
    raw_median: float
    raw_resolution: float
    regressed_median: float
    regressed_resolution: float


def _median_resolution(r: F64) -> tuple[float, float]:
    if r.size == 0:
        return float("nan"), float("nan")
    q16, q50, q84 = np.quantile(r, [0.16, 0.5, 0.84])
    return float(q50), float((q84 - q16) / 2.0 / q50) if q50 > 0 else float("nan")


def pt_response(
    jet_pt: npt.ArrayLike, regressed_pt: npt.ArrayLike, gen_pt: npt.ArrayLike
) -> PtResponse:
    """The response of the raw and of the regressed pT against the generator-jet pT (module docstring).

    >>> r = pt_response([10.0, 20.0], [20.0, 40.0], [20.0, 40.0])
    >>> r.raw_median, r.regressed_median, r.regressed_resolution
    (0.5, 1.0, 0.0)
    """
    j = np.asarray(jet_pt, dtype=np.float64)
    r = np.asarray(regressed_pt, dtype=np.float64)
    g = np.asarray(gen_pt, dtype=np.float64)
    ok = np.isfinite(g) & (g > 0) & np.isfinite(j) & np.isfinite(r)
    raw = _median_resolution(j[ok] / g[ok])
    reg = _median_resolution(r[ok] / g[ok])
    return PtResponse(int(np.count_nonzero(ok)), raw[0], raw[1], reg[0], reg[1])
