"""MLPF evaluation metrics as pure functions on particle collections.

Every reconstruction is compared as a *particle collection*
(:class:`~l1scout.tasks.mlpf.particles.Particles`, built by
:mod:`l1scout.tasks.mlpf.particles`): per-event offsets plus pT, eta, phi
and energy, with an optional class and pileup score. The MLPF output, the
MLPF targets, the generator particles, the rule-based particle flow
(``<View>_PFPart``, which is PF after charged-hadron subtraction, CHS), PF
without CHS and PUPPI (``<View>_PUPPIPart`` with its ``PuppiW``) all become
one. The metrics, defined in ``docs/physics/mlpf-metrics.md`` after J. Pata
et al., Commun. Phys. 7 (2024) 124 and CMS, arXiv:2601.17554:

* :func:`jet_response`: anti-kT R = 0.4 jets of both collections, reco jets
  matched one-to-one to generator jets with dR < 0.1, per generator-pT bin the
  matching efficiency and the median, IQR (p75 - p25) and IQR / median of
  pT_reco / pT_gen;
* :func:`met_resolution`: MET (minus the vector pT sum) of both collections,
  median and IQR / median of MET_reco / MET_gen, and the IQR of the MET
  difference components (stable where MET_gen is small);
* :func:`particle_efficiency_fake_rate`: per class, per element, efficiency and
  fake rate in pT bins with Clopper-Pearson intervals;
* :func:`pileup_roc`: ROC curve and AUC of a per-particle pileup score, and the
  fraction of hard particles kept at a fixed pileup rejection.

Quantiles are numpy's default (linear interpolation, ``np.percentile``); the
interval on a median is the distribution-free order-statistic interval
(:func:`median_iqr`). Momenta and energies in GeV, angles in rad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import (
    check_max_dr,
    check_offsets,
    match_one_to_one,
)
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.reco.jets import JetDefinitionSpec, cluster_jets
from l1scout.reco.met import missing_momentum
from l1scout.tasks.mlpf.particles import Particles, check_same_events
from l1scout.tasks.mlpf.targets import CLASS_NAMES
from l1scout.tasks.rates import DEFAULT_CL, clopper_pearson

__all__ = [
    "DEFAULT_REJECTIONS",
    "BinnedRate",
    "ClassRates",
    "ElementPredictions",
    "JetResponse",
    "MetResolution",
    "PileupRoc",
    "Spread",
    "SpreadInBins",
    "jet_response",
    "median_iqr",
    "met_resolution",
    "particle_efficiency_fake_rate",
    "pileup_roc",
]

#: Pileup rejections at which :meth:`PileupRoc.hard_kept_at` is usually read.
DEFAULT_REJECTIONS = (0.5, 0.8, 0.9, 0.95)
# |eta| from which a pseudorapidity is Delphes' +-999.9 of a pT = 0 particle
# ---------------------------------------------------------------- medians, IQRs, binned rates


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range of a sample (NaN when empty).

    Attributes:
        n: values.
        median: the median (numpy's linear interpolation).
        p25: 25th percentile.
        p75: 75th percentile.
        median_low: lower end of the order-statistic interval of the median
            (``-inf`` when the sample is too small to bound it).
        median_high: upper end (``+inf`` likewise).
        cl: confidence level of that interval.
    """

    n: int
    median: float
    p25: float
    p75: float
    median_low: float
    median_high: float
    cl: float

    @property
    def iqr(self) -> float:
        """``p75 - p25``: the resolution."""
        return self.p75 - self.p25

    @property
    def iqr_over_median(self) -> float:
        """``iqr / median`` (NaN unless the median is > 0): the relative resolution."""
        return self.iqr / self.median if self.median > 0 else float("nan")


def median_iqr(values: npt.ArrayLike, *, cl: float = DEFAULT_CL) -> Spread:
    """Median, 25th and 75th percentiles (``np.percentile``) and an interval on the median.

    The interval is distribution-free, from order statistics: with ``B`` the
    number of values below the true median, ``B ~ Binomial(n, 1/2)``; with
    ``l`` the ``(1 - cl) / 2`` quantile of ``B``, ``[x_(l), x_(n - l + 1)]``
    (1-based order statistics) covers the median with probability at least
    ``cl`` (David & Nagaraja, *Order Statistics*, 3rd ed., sect. 7.1). At
    ``l = 0`` the bounds are infinite. Exact and cheap; no bootstrap.

    Raises:
        DataFormatError: NaN or infinite values.
        ConfigError: ``cl`` outside (0, 1).

    >>> s = median_iqr(np.arange(1.0, 11.0), cl=0.95)  # n = 10: [x_(2), x_(9)], 97.9 %
    >>> s.median, s.iqr, s.median_low, s.median_high
    (5.5, 4.5, 2.0, 9.0)
    """
    from scipy import stats

    if not 0.0 < cl < 1.0:
        msg = f"confidence level cl={cl!r}: expected a number strictly between 0 and 1"
        raise ConfigError(msg)
    v = np.sort(flat_array(values, "values"))
    n = v.size
    if n == 0:
        nan = float("nan")
        return Spread(0, nan, nan, nan, nan, nan, cl)
    med, p25, p75 = (float(q) for q in np.percentile(v, [50.0, 25.0, 75.0]))
    low_rank = int(stats.binom.ppf((1.0 - cl) / 2.0, n, 0.5))  # 1-based rank of the lower end
    low = float(v[low_rank - 1]) if low_rank >= 1 else -np.inf
    high = float(v[n - low_rank]) if low_rank >= 1 else np.inf
    return Spread(n, med, p25, p75, low, high, cl)


@dataclass(frozen=True, eq=False)
class SpreadInBins:
    """:class:`Spread` of a quantity in bins of another (bins ``[lo, hi)``).

    Attributes:
        edges: bin edges (n_bins + 1).
        bins: one :class:`Spread` per bin.
    """

    edges: F64
    bins: tuple[Spread, ...]

    def _get(self, name: str) -> F64:
        return np.array([getattr(b, name) for b in self.bins], dtype=np.float64)

    @property
    def n(self) -> I64:
        """Values per bin."""
        return np.array([b.n for b in self.bins], dtype=np.int64)

    @property
    def median(self) -> F64:
        """Median per bin (the response)."""
        return self._get("median")

    @property
    def iqr(self) -> F64:
        """IQR per bin (the resolution)."""
        return self._get("iqr")

    @property
    def iqr_over_median(self) -> F64:
        """IQR / median per bin."""
        return self._get("iqr_over_median")


def _edges(edges: npt.ArrayLike, name: str) -> F64:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        msg = f"{name}: expected at least two increasing finite bin edges, got {e.tolist()}"
        raise ConfigError(msg)
    return e


def _bin_index(x: F64, edges: F64) -> I64:
    """Bin of each value in ``[edges[k], edges[k + 1])``, -1 outside (or not finite)."""
    i = np.searchsorted(edges, x, side="right") - 1
    inside = np.isfinite(x) & (i >= 0) & (i < len(edges) - 1)
    return np.where(inside, i, -1).astype(np.int64)


def _spread_in_bins(x: F64, values: F64, edges: F64, cl: float) -> SpreadInBins:
    b = _bin_index(x, edges)
    return SpreadInBins(
        edges, tuple(median_iqr(values[b == k], cl=cl) for k in range(len(edges) - 1))
    )


@dataclass(frozen=True, eq=False)
class BinnedRate:
    """A fraction ``passed / total`` in bins ``[lo, hi)``, with Clopper-Pearson intervals.

    Attributes:
        edges: bin edges (n_bins + 1).
        passed: numerator per bin.
        total: denominator per bin.
        value: ``passed / total`` (NaN in empty bins).
        low: lower end of the central Clopper-Pearson interval (NaN in empty bins).
        high: upper end.
        cl: confidence level.
    """

    edges: F64
    passed: I64
    total: I64
    value: F64
    low: F64
    high: F64
    cl: float


def _binned_rate(x: F64, passed: B, edges: F64, cl: float) -> BinnedRate:
    b = _bin_index(x, edges)
    nb = len(edges) - 1
    total = np.bincount(b[b >= 0], minlength=nb).astype(np.int64)
    npass = np.bincount(b[(b >= 0) & passed], minlength=nb).astype(np.int64)
    value, low, high = np.full(nb, np.nan), np.full(nb, np.nan), np.full(nb, np.nan)
    for k in np.flatnonzero(total):
        value[k] = npass[k] / total[k]
        low[k], high[k] = clopper_pearson(int(npass[k]), int(total[k]), cl)
    return BinnedRate(edges, npass, total, value, low, high, cl)


# ---------------------------------------------------------------- jets


@dataclass(frozen=True, eq=False)
class JetResponse:
    """Jet response of a reco collection against the generator, in generator-jet pT bins.

    Attributes:
        efficiency: generator jets with a matched reco jet / generator jets.
        response: :class:`Spread` of ``pT_reco / pT_gen`` of the matched jets
            (median: response; IQR: resolution; IQR / median).
        gen_pt: pT of every generator jet in the acceptance (GeV).
        gen_eta: its pseudorapidity.
        reco_pt: pT of its matched reco jet (GeV), NaN when unmatched.
        n_reco_jets: reco jets of the batch (any eta).
    """

    efficiency: BinnedRate
    response: SpreadInBins
    gen_pt: F64
    gen_eta: F64
    reco_pt: F64
    n_reco_jets: int


def jet_response(
    reco: Particles,
    gen: Particles,
    *,
    pt_edges: npt.ArrayLike,
    eta_max: float,
    match_dr: float = 0.1,
    jet_pt_min: float = 3.0,
    radius: float = 0.4,
    cl: float = DEFAULT_CL,
) -> JetResponse:
    """Anti-kT jets of *reco* and *gen*, matched one-to-one, response per generator-pT bin.

    Both collections are clustered with anti-kT (R = *radius*, E-scheme,
    ``pT >= jet_pt_min``; :func:`l1scout.reco.jets.cluster_jets`). Reco jets
    are matched to generator jets greedily by increasing dR with
    ``dR < match_dr`` (:func:`l1scout._jagged.match_one_to_one`). Generator
    jets with ``|eta| < eta_max`` in the bin ``[lo, hi)`` of their pT are the
    denominator.

    Raises:
        ConfigError: bad edges, ``eta_max``, ``match_dr``, ``jet_pt_min`` or ``cl``.
        DataFormatError: collections of different event counts.

    >>> gen = Particles(np.array([0, 2]), [50.0, 50.0], [0.0, 0.0], [0.0, np.pi], [50.0, 50.0])
    >>> reco = Particles(np.array([0, 2]), [45.0, 45.0], [0.0, 0.0], [0.0, np.pi], [45.0, 45.0])
    >>> r = jet_response(reco, gen, pt_edges=[20.0, 100.0], eta_max=2.5)
    >>> r.efficiency.value.tolist(), r.response.median.round(6).tolist(), r.response.iqr.tolist()
    ([1.0], [0.9], [0.0])
    """
    check_same_events(reco, gen, "reco and gen")
    edges = _edges(pt_edges, "pt_edges")
    if not (np.isfinite(eta_max) and eta_max > 0):
        msg = f"eta_max: expected a positive finite pseudorapidity, got {eta_max}"
        raise ConfigError(msg)
    max_dr = check_max_dr(match_dr)
    spec = JetDefinitionSpec("antikt", radius, jet_pt_min)
    rj, gj = (cluster_jets(p.offsets, p.px, p.py, p.pz, p.energy, spec) for p in (reco, gen))
    m = match_one_to_one(rj.offsets, rj.eta, rj.phi, gj.offsets, gj.eta, gj.phi, max_dr=max_dr)
    matched_pt = np.full(len(gj.pt), np.nan)
    matched_pt[m.offline] = rj.pt[m.l1]
    sel = np.abs(gj.eta) < eta_max
    gen_pt, reco_pt = gj.pt[sel], matched_pt[sel]
    ok = np.isfinite(reco_pt)
    return JetResponse(
        efficiency=_binned_rate(gen_pt, ok, edges, cl),
        response=_spread_in_bins(gen_pt[ok], reco_pt[ok] / gen_pt[ok], edges, cl),
        gen_pt=gen_pt,
        gen_eta=gj.eta[sel],
        reco_pt=reco_pt,
        n_reco_jets=len(rj.pt),
    )


# ---------------------------------------------------------------- MET


@dataclass(frozen=True, eq=False)
class MetResolution:
    """MET of a reco collection against the generator's, per event and summarised.

    Attributes:
        met_reco: reco MET per event (GeV).
        met_gen: generator MET per event (GeV).
        dx: x component of MET_reco - MET_gen per event (GeV).
        dy: y component (GeV).
        response: :class:`Spread` of ``MET_reco / MET_gen`` over events with
            ``MET_gen >= gen_met_min`` (IQR / median is its ``iqr_over_median``).
        delta: :class:`Spread` of the difference components, x and y pooled
            (GeV; its IQR is the absolute resolution).
        binned_response: :attr:`response` in bins of ``MET_gen`` (None without edges).
        binned_delta: :attr:`delta` in bins of ``MET_gen`` (None without edges).
    """

    met_reco: F64
    met_gen: F64
    dx: F64
    dy: F64
    response: Spread
    delta: Spread
    binned_response: SpreadInBins | None
    binned_delta: SpreadInBins | None


def _met_vector(p: Particles) -> tuple[F64, F64, F64]:
    met, _, phi = missing_momentum(p.event, p.px, p.py, p.pz, p.n_events)
    return met, met * np.cos(phi), met * np.sin(phi)


def met_resolution(
    reco: Particles,
    gen: Particles,
    *,
    met_edges: npt.ArrayLike | None = None,
    gen_met_min: float = 1.0,
    cl: float = DEFAULT_CL,
) -> MetResolution:
    """MET (minus the vector pT sum, :func:`l1scout.reco.met.missing_momentum`) response and resolution.

    The ratio ``MET_reco / MET_gen`` is unstable where ``MET_gen`` is small (as
    for QCD, or when generator MET excludes pileup): read its IQR / median in
    bins of ``MET_gen`` (*met_edges*, GeV), or the IQR of the difference
    components, which stays finite. The ratio is taken over events with
    ``MET_gen >= gen_met_min`` (GeV; the default 1 GeV leaves out events whose
    generator MET is rounding, e.g. 1e-15 GeV for two back-to-back particles);
    the differences over every event.

    Raises:
        DataFormatError: collections of different event counts.
        ConfigError: bad edges, ``gen_met_min`` or ``cl``.

    >>> gen = Particles(np.array([0, 1, 2]), [10.0, 20.0], [0.0, 0.0], [0.0, 0.0], [10.0, 20.0])
    >>> reco = Particles(np.array([0, 1, 2]), [12.0, 24.0], [0.0, 0.0], [0.0, 0.0], [12.0, 24.0])
    >>> r = met_resolution(reco, gen)
    >>> r.met_reco.tolist(), r.response.median, r.dx.tolist()
    ([12.0, 24.0], 1.2, [-2.0, -4.0])
    """
    check_same_events(reco, gen, "reco and gen")
    met_r, x_r, y_r = _met_vector(reco)
    met_g, x_g, y_g = _met_vector(gen)
    dx, dy = x_r - x_g, y_r - y_g
    if not (np.isfinite(gen_met_min) and gen_met_min > 0):
        msg = f"gen_met_min: expected a positive finite MET in GeV, got {gen_met_min}"
        raise ConfigError(msg)
    pos = met_g >= gen_met_min
    ratio = met_r[pos] / met_g[pos]
    binned_r = binned_d = None
    if met_edges is not None:
        e = _edges(met_edges, "met_edges")
        binned_r = _spread_in_bins(met_g[pos], ratio, e, cl)
        binned_d = _spread_in_bins(np.r_[met_g, met_g], np.r_[dx, dy], e, cl)
    return MetResolution(
        met_reco=met_r,
        met_gen=met_g,
        dx=dx,
        dy=dy,
        response=median_iqr(ratio, cl=cl),
        delta=median_iqr(np.r_[dx, dy], cl=cl),
        binned_response=binned_r,
        binned_delta=binned_d,
    )


# ---------------------------------------------------------------- per-element efficiency and fakes


class ElementPredictions(Protocol):
    """Per-element particles, as :class:`~l1scout.tasks.mlpf.targets.ElementTargets` or the MLPF output.

    Attributes:
        offsets: per-event element offsets.
        is_particle: nonzero where the element holds (or predicts) a particle.
        cls: its class code (0: none).
        pt: its pT (GeV).
    """

    @property
    def offsets(self) -> npt.NDArray[Any]: ...  # noqa: D102
    @property
    def is_particle(self) -> npt.NDArray[Any]: ...  # noqa: D102
    @property
    def cls(self) -> npt.NDArray[Any]: ...  # noqa: D102
    @property
    def pt(self) -> npt.NDArray[Any]: ...  # noqa: D102


@dataclass(frozen=True, eq=False)
class ClassRates:
    """Particle-level rates of one class, in pT bins.

    Attributes:
        efficiency: target particles of the class whose element predicts a
            particle of the class, in bins of the target pT.
        efficiency_any: those whose element predicts any particle.
        fake_rate: predicted particles of the class on elements with no target,
            in bins of the predicted pT.
        wrong_class_rate: predicted particles of the class on elements whose
            target is a particle of another class.
    """

    efficiency: BinnedRate
    efficiency_any: BinnedRate
    fake_rate: BinnedRate
    wrong_class_rate: BinnedRate


def _element_columns(e: ElementPredictions, name: str, off: I64) -> tuple[B, I64, F64]:
    n = int(off[-1])
    is_p = flat_array(e.is_particle, f"{name}.is_particle", n, dtype=np.int64) != 0
    cls = flat_array(e.cls, f"{name}.cls", n, dtype=np.int64)
    return is_p, np.where(is_p, cls, 0), flat_array(e.pt, f"{name}.pt", n)


def particle_efficiency_fake_rate(
    pred: ElementPredictions,
    target: ElementPredictions,
    *,
    pt_edges: npt.ArrayLike,
    cl: float = DEFAULT_CL,
) -> dict[str, ClassRates]:
    """Per-class particle efficiency and fake rate, element by element, in pT bins.

    The prediction and the target of an element are compared directly (each
    element holds at most one particle in both). A prediction of a particle
    with class 0 counts as "any particle" but as no class. Keys: the class
    names of :data:`~l1scout.tasks.mlpf.targets.CLASS_NAMES` (1..5) and
    ``"any"`` (class ignored: efficiency and ``efficiency_any`` agree, and
    ``wrong_class_rate`` is empty).

    Raises:
        DataFormatError: different element offsets, columns not of their
            length, NaN or infinite pT.
        ConfigError: bad offsets, edges or ``cl``.

    >>> from types import SimpleNamespace as E
    >>> t = E(offsets=np.array([0, 3]), is_particle=np.array([1, 1, 0]), cls=np.array([1, 3, 0]),
    ...       pt=np.array([5.0, 5.0, 0.0]))
    >>> p = E(offsets=np.array([0, 3]), is_particle=np.array([1, 1, 1]), cls=np.array([1, 2, 2]),
    ...       pt=np.array([5.0, 4.0, 3.0]))
    >>> r = particle_efficiency_fake_rate(p, t, pt_edges=[0.0, 10.0])
    >>> r["charged hadron"].efficiency.value.tolist(), r["photon"].efficiency_any.value.tolist()
    ([1.0], [1.0])
    >>> r["neutral hadron"].fake_rate.value.tolist(), r["neutral hadron"].wrong_class_rate.value.tolist()
    ([0.5], [0.5])
    """
    off = check_offsets(target.offsets, "target.offsets")
    if not np.array_equal(check_offsets(pred.offsets, "pred.offsets"), off):
        msg = "pred.offsets: expected the same elements per event as target.offsets"
        raise DataFormatError(msg)
    edges = _edges(pt_edges, "pt_edges")
    p_is, p_cls, p_pt = _element_columns(pred, "pred", off)
    t_is, t_cls, t_pt = _element_columns(target, "target", off)
    out: dict[str, ClassRates] = {}
    for c in range(1, len(CLASS_NAMES)):
        t_c, p_c = t_is & (t_cls == c), p_is & (p_cls == c)
        out[CLASS_NAMES[c]] = ClassRates(
            efficiency=_binned_rate(t_pt[t_c], p_c[t_c], edges, cl),
            efficiency_any=_binned_rate(t_pt[t_c], p_is[t_c], edges, cl),
            fake_rate=_binned_rate(p_pt[p_c], ~t_is[p_c], edges, cl),
            wrong_class_rate=_binned_rate(p_pt[p_c], t_is[p_c] & (t_cls[p_c] != c), edges, cl),
        )
    eff_any = _binned_rate(t_pt[t_is], p_is[t_is], edges, cl)
    out["any"] = ClassRates(
        efficiency=eff_any,
        efficiency_any=eff_any,
        fake_rate=_binned_rate(p_pt[p_is], ~t_is[p_is], edges, cl),
        wrong_class_rate=_binned_rate(p_pt[:0], t_is[:0], edges, cl),
    )
    return out


# ---------------------------------------------------------------- pileup ROC and flag


@dataclass(frozen=True, eq=False)
class PileupRoc:
    """ROC curve of a per-particle pileup score (a particle is flagged when ``score >= threshold``).

    Attributes:
        thresholds: decreasing, ``+inf`` first (nothing flagged), then the distinct scores.
        pu_flagged: weighted fraction of pileup particles flagged (the pileup
            rejection; sklearn's true positive rate).
        hard_flagged: weighted fraction of hard particles flagged (sklearn's
            false positive rate).
        auc: area under the curve (trapezoidal; ties are straight steps).
        n_pu: weighted number of pileup particles.
        n_hard: weighted number of hard particles.
    """

    thresholds: F64
    pu_flagged: F64
    hard_flagged: F64
    auc: float
    n_pu: float
    n_hard: float

    def hard_kept_at(self, rejection: float) -> tuple[float, float]:
        """(fraction of hard particles kept, threshold) at the first point rejecting >= *rejection*.

        >>> roc = pileup_roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        >>> roc.hard_kept_at(0.5), roc.hard_kept_at(1.0)
        ((1.0, 0.8), (0.5, 0.35))
        """
        if not 0.0 <= rejection <= 1.0:
            msg = f"rejection: expected a fraction in [0, 1], got {rejection}"
            raise ConfigError(msg)
        k = int(np.argmax(self.pu_flagged >= rejection))
        return 1.0 - float(self.hard_flagged[k]), float(self.thresholds[k])


def pileup_roc(
    score: npt.ArrayLike, is_pu: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> PileupRoc:
    """ROC curve and AUC of a pileup score against the truth label, optionally weighted.

    The score is larger for more pileup-like particles (the MLPF pileup
    probability; ``1 - PuppiW`` for PUPPI). The points are those of
    ``sklearn.metrics.roc_curve(is_pu, score, sample_weight=weights,
    drop_intermediate=False)`` and the AUC that of ``roc_auc_score``.

    Raises:
        DataFormatError: NaN or infinite scores, labels other than 0/1,
            negative or non-finite weights, lengths that differ, or no weight
            in one of the two classes.

    >>> roc = pileup_roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> roc.auc, roc.pu_flagged.tolist(), roc.hard_flagged.tolist()
    (0.75, [0.0, 0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5, 1.0])
    """
    s = flat_array(score, "score")
    y = flat_array(is_pu, "is_pu", len(s), dtype=np.int64)
    if np.any((y != 0) & (y != 1)):
        msg = "is_pu: expected 0 or 1 for every particle"
        raise DataFormatError(msg)
    w = np.ones(len(s)) if weights is None else flat_array(weights, "weights", len(s))
    if np.any(w < 0):
        msg = f"weights: expected values >= 0, got a minimum of {w.min():g}"
        raise DataFormatError(msg)
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    tp, fp = np.cumsum(w * y), np.cumsum(w * (1 - y))
    n_pu, n_hard = (float(tp[-1]), float(fp[-1])) if len(s) else (0.0, 0.0)
    if n_pu <= 0 or n_hard <= 0:
        msg = f"is_pu: expected pileup and hard particles with weight, got {n_pu:g} and {n_hard:g}"
        raise DataFormatError(msg)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # the end of each block of ties
    tpr, fpr = np.r_[0.0, tp[last] / n_pu], np.r_[0.0, fp[last] / n_hard]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    return PileupRoc(np.r_[np.inf, s[last]], tpr, fpr, auc, n_pu, n_hard)
