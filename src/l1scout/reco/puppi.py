"""PUPPI weights (PileUp Per Particle Identification) as Delphes 3.5 ``RunPUPPI`` computes them.

PUPPI (D. Bertolini, P. Harris, M. Low, N. Tran, JHEP 10 (2014) 059) gives each
particle-flow candidate a weight in [0, 1], the probability that it comes from
the primary collision. This module follows ``docs/physics/puppi.md`` step by
step, i.e. Delphes' ``modules/RunPUPPI.cc`` with ``external/PUPPI/PuppiContainer.cc``
and ``PuppiAlgo.cc``, with metric 5 (``log(sum pT^2 / dR^2)``) and CHS applied:

1. *eta bin*: the first tune bin with ``eta_min <= |eta| <= eta_max`` and
   ``pT >= pt_min``; a candidate in no bin gets weight 1.
2. *alpha*: ``alpha_i = ln(sum_j pT_j^2 / dR_ij^2)`` over neighbours ``j`` with
   ``1e-4 <= dR_ij^2 <= cone_size^2`` (rapidity-phi); the neighbours are the
   charged-PV candidates in ``use_charged`` bins, else every candidate; 0 for an
   empty sum.
3. *pileup reference per event and bin* from candidates with ``pT >= rms_pt_min``:
   the median of the PU alphas (charged PU in ``use_charged`` bins, everything
   otherwise) with Delphes' "last zero" rule, the RMS about it, and the low-pileup
   correction.
4. *weight*: the chi2 (1 dof) CDF of ``(alpha - median) |alpha - median| / RMS^2``.
5. *overrides*: CHS (charged PV -> 1, charged PU -> 0), ``w < min_puppi_weight -> 0``,
   and for neutrals ``w pT < neutral_min_e + N_PV neutral_pt_slope -> 0``.

Performance: the neighbour sums and the per-bin medians run in a numba kernel.
Each event's neighbour candidates are bucketed (counting sort, ``O(N)``) into
rapidity strips of half the smallest cone size, and within a strip into phi
cells; a candidate scans only the cells overlapping ``|dy| <= R, |dphi| <= R``
(one contiguous range per strip, two where it wraps in phi) and tests the exact
cone there. An event costs ``O(N k)`` for ``k`` candidates near the cone instead
of ``O(N^2)``: about 2-5 ms for 6,000 candidates on one core. The chi2 (1 dof)
quantile of the low-pileup correction, ``2 erfinv(a)^2``, is taken in numpy
(``scipy.special.erfinv``) between the two kernels; the weights use the CDF
``erf(sqrt(chi2 / 2))``.

Choices where ``puppi.md`` is silent, following the Delphes source:

* The cone is closed, ``dR^2 <= cone_size^2`` (FastJet ``SelectorCircle``), and
  ``dR`` is measured in rapidity-phi for both the cone and the metric (Delphes
  builds its pseudojets with the pseudorapidity as rapidity); the bin is chosen
  with the pseudorapidity ``|eta|``. Delta-phi is wrapped exactly into [-pi, pi].
* Non-``use_charged`` bins have no PV list, so the low-pileup correction never
  fires there (``a = 0``), as in ``PuppiAlgo::add``.
* The median and the RMS are reduced by the same amount ``sqrt(q * RMS)`` computed
  from the uncorrected RMS (``PuppiAlgo::computeMedRMS``); the corrected RMS may be
  negative, only its square is used. Should it be exactly 0, ``chi2`` is
  ``+-inf`` (0 when ``alpha`` equals the median) instead of Delphes' NaN.
* A candidate with ``alpha = 0`` takes the corrected median, so its chi2 is 0 and
  its PUPPI weight 0 (before the CHS override), as in ``PuppiAlgo::compute``.
* ``MinPuppiWeight`` and the neutral cut apply only to candidates in a bin; the
  CHS override applies to every charged candidate, also those in no bin (Delphes
  skips it there; ``puppi.md`` says CHS is always applied).
* ``n_pv`` is used as given. (Delphes takes ``max(1, int(0.7 * n_vertices))``
  from its charged-PU inputs only, so it falls back to 1 in an event without any
  charged PU; the caller owns that choice.)
* Leptons (:data:`LEPTON`) are removed before PUPPI and added back with weight 1:
  they are never neighbours and never enter the median.

Example:
    A charged PV track, a CHS-flagged pileup track, a muon, a neutral next to the
    track and an isolated neutral (one event, one bin):

    >>> from types import SimpleNamespace as NS
    >>> central = NS(eta_min=0.0, eta_max=10.0, pt_min=0.0, cone_size=0.3, rms_pt_min=0.1,
    ...              rms_scale_factor=1.0, neutral_min_e=0.2, neutral_pt_slope=0.0,
    ...              use_charged=True)
    >>> tune = NS(bins=(central,), min_puppi_weight=0.05, apply_low_pu_corr=True)
    >>> eta = np.array([0.1, -1.0, 0.5, 0.2, 2.0])
    >>> w = puppi_weights(
    ...     np.array([0, 5]), pt=np.array([5.0, 3.0, 20.0, 4.0, 4.0]), eta=eta, rapidity=eta,
    ...     phi=np.array([0.0, 2.0, 1.0, 0.0, -2.0]),
    ...     category=np.array([CHARGED_PV, CHARGED_PU, LEPTON, NEUTRAL, NEUTRAL], np.int8),
    ...     n_pv=np.array([0]), tune=tune)
    >>> w.dtype, w.tolist()
    (dtype('float32'), [1.0, 0.0, 1.0, 1.0, 0.0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numba
import numpy as np
import numpy.typing as npt
from scipy import special

from l1scout._jagged import check_offsets, wrap_phi
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError

__all__ = [
    "CHARGED_PU",
    "CHARGED_PV",
    "LEPTON",
    "NEUTRAL",
    "PuppiBinLike",
    "PuppiTuneLike",
    "puppi_weights",
]

#: Category code of a neutral particle-flow candidate (tower).
NEUTRAL = 0
#: Category code of a charged candidate from the primary vertex (not CHS-flagged).
CHARGED_PV = 1
#: Category code of a charged candidate flagged as pileup by CHS (``IsRecoPU``).
CHARGED_PU = 2
#: Category code of an electron or muon: weight 1, not used by PUPPI.
LEPTON = 3

I8 = npt.NDArray[np.int8]

#: Neighbours closer than this in dR^2 are skipped (``PuppiContainer::var_within_R``).
_DR2_MIN = 1e-4
#: Most phi cells of the neighbour grid (cells are then wider than a small cone).
_MAX_PHI_CELLS = 64
#: RMS^2 used when it comes out 0 (``PuppiAlgo::computeMedRMS``).
_RMS2_FLOOR = 1e-5


class PuppiBinLike(Protocol):
    """One eta bin of a PUPPI tune (Delphes ``RunPUPPI`` per-bin parameters); GeV units."""

    @property
    def eta_min(self) -> float:
        """Lower edge of the bin in |eta| (inclusive)."""
        ...

    @property
    def eta_max(self) -> float:
        """Upper edge of the bin in |eta| (inclusive)."""
        ...

    @property
    def pt_min(self) -> float:
        """Minimum pT [GeV] of a candidate to belong to the bin."""
        ...

    @property
    def cone_size(self) -> float:
        """Radius of the neighbour cone in rapidity-phi."""
        ...

    @property
    def rms_pt_min(self) -> float:
        """Minimum pT [GeV] of a candidate entering the median and RMS."""
        ...

    @property
    def rms_scale_factor(self) -> float:
        """Factor applied to the RMS."""
        ...

    @property
    def neutral_min_e(self) -> float:
        """Constant term [GeV] of the neutral weighted-pT cut."""
        ...

    @property
    def neutral_pt_slope(self) -> float:
        """Slope [GeV per vertex] of the neutral weighted-pT cut in N_PV."""
        ...

    @property
    def use_charged(self) -> bool:
        """Use only charged-PV neighbours and the charged PU/PV lists."""
        ...


class PuppiTuneLike(Protocol):
    """A PUPPI tune: its eta bins (first match wins) and global settings."""

    @property
    def bins(self) -> Sequence[PuppiBinLike]:
        """The eta bins, in the order they are tried."""
        ...

    @property
    def min_puppi_weight(self) -> float:
        """Weights below this are set to 0 (Delphes ``MinPuppiWeight``)."""
        ...

    @property
    def apply_low_pu_corr(self) -> bool:
        """Apply the low-pileup correction of the median and RMS (``ApplyLowPUCorr``)."""
        ...


@numba.njit(cache=True)
def _grid_table(
    idx: I64, y: F64, phi: F64, pt: F64, h_min: float
) -> tuple[float, float, int, I64, F64, F64, F64]:  # pragma: no cover - compiled
    """Neighbour table of the candidates ``idx`` on a rapidity-phi grid.

    Returns ``(y_lo, h, n_phi, start, ys, phis, pt2)``: cell
    ``c = strip * n_phi + phi_cell`` with ``strip = floor((y - y_lo) / h)`` and
    ``phi_cell = floor((phi + pi) / (2 pi / n_phi))`` owns entries
    ``start[c]:start[c + 1]`` of ``ys``, ``phis`` and ``pt2`` (pT^2). Cells are at
    least ``h_min`` wide in both directions; strips get wider only when the
    rapidity range would need more than ``n + 16`` of them.
    """
    n = idx.shape[0]
    if n == 0:
        return 0.0, h_min, 1, np.zeros(2, np.int64), np.empty(0), np.empty(0), np.empty(0)
    y_lo = y[idx[0]]
    y_hi = y_lo
    for k in range(n):
        y_lo = min(y_lo, y[idx[k]])
        y_hi = max(y_hi, y[idx[k]])
    span = y_hi - y_lo
    # never more strips than O(n), whatever the rapidity range
    h = max(h_min, span / (n + 16))
    n_strips = math.floor(span / h) + 1
    n_phi = min(max(math.floor(2.0 * math.pi / h_min), 1), _MAX_PHI_CELLS)
    w = 2.0 * math.pi / n_phi
    cell = np.empty(n, np.int64)
    start = np.zeros(n_strips * n_phi + 1, np.int64)
    for k in range(n):
        j = idx[k]
        st = min(math.floor((y[j] - y_lo) / h), n_strips - 1)
        c = min(max(math.floor((phi[j] + math.pi) / w), 0), n_phi - 1)
        cell[k] = st * n_phi + c
        start[cell[k] + 1] += 1
    for c in range(n_strips * n_phi):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    ys = np.empty(n)
    ps = np.empty(n)
    p2 = np.empty(n)
    for k in range(n):
        j = idx[k]
        pos = fill[cell[k]]
        fill[cell[k]] += 1
        ys[pos] = y[j]
        ps[pos] = phi[j]
        p2[pos] = pt[j] * pt[j]
    return y_lo, h, n_phi, start, ys, ps, p2


@numba.njit(cache=True)
def _scan(
    k0: int, k1: int, y0: float, phi0: float, r2: float, ys: F64, phis: F64, pt2: F64
) -> float:  # pragma: no cover - compiled
    """Sum of pT_j^2 / dR^2 over entries k0:k1 with 1e-4 <= dR^2 <= r2 (metric 5)."""
    two_pi = 2.0 * math.pi
    s = 0.0
    for k in range(k0, k1):
        dy = ys[k] - y0
        dphi = phis[k] - phi0
        # branch-free wrap into [-pi, pi] and cone test (selects, not jumps)
        dphi = dphi - two_pi if dphi > math.pi else dphi
        dphi = dphi + two_pi if dphi < -math.pi else dphi
        dr2 = dy * dy + dphi * dphi
        inside = (dr2 >= _DR2_MIN) & (dr2 <= r2)
        s += (pt2[k] if inside else 0.0) / (dr2 if inside else 1.0)
    return s


@numba.njit(cache=True)
def _cone_sum(
    y0: float,
    phi0: float,
    r: float,
    y_lo: float,
    h: float,
    n_phi: int,
    start: I64,
    ys: F64,
    phis: F64,
    pt2: F64,
) -> float:  # pragma: no cover - compiled
    """Metric-5 sum over the closed rapidity-phi cone of radius ``r`` around (y0, phi0).

    Visits only the grid cells that overlap the square ``|dy|, |dphi| <= r``; the
    phi cells of one strip are contiguous, so a strip is one range (two where the
    square wraps around phi = +-pi).
    """
    r2 = r * r
    # a hair wider than the cone so that rounding never drops a member
    rr = r + r * 1e-9 + 1e-12
    n_strips = (start.shape[0] - 1) // n_phi
    s_lo = max(math.floor((y0 - rr - y_lo) / h), 0)
    s_hi = min(math.floor((y0 + rr - y_lo) / h), n_strips - 1)
    w = 2.0 * math.pi / n_phi
    c_lo = math.floor((phi0 - rr + math.pi) / w)
    c_hi = math.floor((phi0 + rr + math.pi) / w)
    whole = rr >= math.pi or c_hi - c_lo + 1 >= n_phi
    total = 0.0
    for st in range(s_lo, s_hi + 1):
        base = st * n_phi
        if whole:
            total += _scan(start[base], start[base + n_phi], y0, phi0, r2, ys, phis, pt2)
        elif c_lo < 0:
            total += _scan(
                start[base + c_lo + n_phi], start[base + n_phi], y0, phi0, r2, ys, phis, pt2
            )
            total += _scan(start[base], start[base + c_hi + 1], y0, phi0, r2, ys, phis, pt2)
        elif c_hi >= n_phi:
            total += _scan(start[base + c_lo], start[base + n_phi], y0, phi0, r2, ys, phis, pt2)
            total += _scan(start[base], start[base + c_hi - n_phi + 1], y0, phi0, r2, ys, phis, pt2)
        else:
            total += _scan(start[base + c_lo], start[base + c_hi + 1], y0, phi0, r2, ys, phis, pt2)
    return total


@numba.njit(cache=True)
def _sift_down(a: F64, root: int, end: int) -> None:  # pragma: no cover - compiled
    """Restore the max-heap property of ``a[:end]`` below ``root``."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and a[child] < a[child + 1]:
            child += 1
        if a[root] >= a[child]:
            return
        a[root], a[child] = a[child], a[root]
        root = child


@numba.njit(cache=True)
def _heapsort(a: F64) -> None:  # pragma: no cover - compiled
    """Sort ``a`` in place (ascending); a hand-written heapsort compiles much faster than np.sort."""
    n = a.shape[0]
    for root in range(n // 2 - 1, -1, -1):
        _sift_down(a, root, n)
    for end in range(n - 1, 0, -1):
        a[0], a[end] = a[end], a[0]
        _sift_down(a, 0, end)


@numba.njit(cache=True)
def _event_alphas(
    lo: int,
    hi: int,
    pt: F64,
    y: F64,
    phi: F64,
    category: I8,
    bin_idx: I64,
    cone: F64,
    use_charged: B,
    h_min: float,
    alpha: F64,
) -> None:  # pragma: no cover - compiled
    """Step 2 for the candidates lo:hi: fill ``alpha`` (metric 5) of those in a bin."""
    n_all = 0
    n_chg = 0
    for i in range(lo, hi):
        if category[i] != LEPTON:
            n_all += 1
        if category[i] == CHARGED_PV:
            n_chg += 1
    idx_all = np.empty(n_all, np.int64)
    idx_chg = np.empty(n_chg, np.int64)
    k_all = 0
    k_chg = 0
    for i in range(lo, hi):
        if category[i] != LEPTON:
            idx_all[k_all] = i
            k_all += 1
        if category[i] == CHARGED_PV:
            idx_chg[k_chg] = i
            k_chg += 1
    lo_a, h_a, nphi_a, st_a, y_a, phi_a, pt2_a = _grid_table(idx_all, y, phi, pt, h_min)
    lo_c, h_c, nphi_c, st_c, y_c, phi_c, pt2_c = _grid_table(idx_chg, y, phi, pt, h_min)
    for i in range(lo, hi):
        b = bin_idx[i]
        if b < 0:
            continue
        if use_charged[b]:
            s = _cone_sum(y[i], phi[i], cone[b], lo_c, h_c, nphi_c, st_c, y_c, phi_c, pt2_c)
        else:
            s = _cone_sum(y[i], phi[i], cone[b], lo_a, h_a, nphi_a, st_a, y_a, phi_a, pt2_a)
        alpha[i] = math.log(s) if s != 0.0 else 0.0


@numba.njit(cache=True)
def _median_rms(
    pu: F64, pv: F64, low_pu: bool, scale: float
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """Step 3 for one bin: (median, RMS, low-PU fraction a) of a non-empty PU list.

    ``pu`` is sorted in place. The median is ``sorted[n0 + (N - n0) // 2]`` with
    ``n0`` the index of the last zero (0 if none); RMS^2 is the mean of
    ``(alpha - median)^2`` over non-zero alphas (only those <= median with the
    low-PU correction), 1e-5 if 0; RMS = sqrt(RMS^2) * scale (``PuppiAlgo::computeMedRMS``).
    """
    npu = pu.shape[0]
    _heapsort(pu)
    n0 = 0
    for k in range(npu):
        if pu[k] == 0.0:
            n0 = k
    med = pu[n0 + (npu - n0) // 2]
    acc = 0.0
    cnt = 0
    for k in range(npu):
        v = pu[k]
        if v == 0.0 or (low_pu and v > med):
            continue
        acc += (v - med) * (v - med)
        cnt += 1
    if cnt > 0:
        acc /= cnt
    if acc == 0.0:
        acc = _RMS2_FLOOR
    a = 0.0
    if low_pu:
        below = 0
        for k in range(pv.shape[0]):
            if pv[k] <= med:
                below += 1
        a = below / (below + 0.5 * npu)
    return med, math.sqrt(acc) * scale, a


@numba.njit(cache=True)
def _puppi_kernel(
    offsets: I64,
    pt: F64,
    abseta: F64,
    y: F64,
    phi: F64,
    category: I8,
    eta_min: F64,
    eta_max: F64,
    pt_min: F64,
    cone: F64,
    rms_pt_min: F64,
    rms_scale: F64,
    use_charged: B,
    low_pu: bool,
) -> tuple[I64, F64, F64, F64, I64, F64]:  # pragma: no cover - compiled
    """Bins, alphas and, per (event, bin), median, RMS, PU-list size and low-PU fraction a."""
    n = pt.shape[0]
    n_ev = offsets.shape[0] - 1
    n_bins = eta_min.shape[0]
    # grid cells of half the smallest cone: a cone visits ~(2.5 R)^2 instead of (3 R)^2
    h_min = 0.5 * cone.min() if n_bins > 0 else 1.0
    bin_idx = np.full(n, -1, np.int64)
    alpha = np.zeros(n)
    median = np.zeros((n_ev, n_bins))
    rms = np.zeros((n_ev, n_bins))
    n_pu = np.zeros((n_ev, n_bins), np.int64)
    adjust = np.zeros((n_ev, n_bins))
    # Step 1: the first bin with eta_min <= |eta| <= eta_max and pT >= pt_min
    for i in range(n):
        if category[i] == LEPTON:
            continue
        for b in range(n_bins):
            if eta_min[b] <= abseta[i] <= eta_max[b] and pt[i] >= pt_min[b]:
                bin_idx[i] = b
                break
    pu = np.empty(n)
    pv = np.empty(n)
    for ev in range(n_ev):
        lo = offsets[ev]
        hi = offsets[ev + 1]
        if hi == lo:
            continue
        _event_alphas(lo, hi, pt, y, phi, category, bin_idx, cone, use_charged, h_min, alpha)
        # Step 3: the PU (and PV) lists of each bin
        for b in range(n_bins):
            npu = 0
            npv = 0
            for i in range(lo, hi):
                if bin_idx[i] != b or pt[i] < rms_pt_min[b]:
                    continue
                c = category[i]
                if not use_charged[b] or c == CHARGED_PU:
                    pu[npu] = alpha[i]
                    npu += 1
                elif c == CHARGED_PV:
                    pv[npv] = alpha[i]
                    npv += 1
            n_pu[ev, b] = npu
            if npu > 0:
                median[ev, b], rms[ev, b], adjust[ev, b] = _median_rms(
                    pu[:npu], pv[:npv], low_pu, rms_scale[b]
                )
    return bin_idx, alpha, median, rms, n_pu, adjust


@numba.njit(cache=True)
def _weight_kernel(
    offsets: I64,
    pt: F64,
    category: I8,
    bin_idx: I64,
    alpha: F64,
    median: F64,
    rms: F64,
    n_pu: I64,
    n_pv: F64,
    neutral_min_e: F64,
    neutral_slope: F64,
    min_weight: float,
) -> npt.NDArray[np.float32]:  # pragma: no cover - compiled
    """Steps 4 and 5: chi2 (1 dof) CDF of the signed alpha distance, CHS and cuts."""
    w = np.ones(pt.shape[0], np.float32)
    for ev in range(offsets.shape[0] - 1):
        for i in range(offsets[ev], offsets[ev + 1]):
            c = category[i]
            b = bin_idx[i]
            if b < 0:
                # no bin (or a lepton): weight 1, CHS still applied
                if c == CHARGED_PU:
                    w[i] = 0.0
                continue
            if n_pu[ev, b] == 0:
                wi = 1.0
            else:
                med = median[ev, b]
                r = rms[ev, b]
                a = alpha[i] if alpha[i] != 0.0 else med
                d = a - med
                num = d * abs(d)
                if num == 0.0:
                    chi2 = 0.0
                elif r == 0.0:
                    chi2 = math.inf if num > 0.0 else -math.inf
                else:
                    chi2 = num / r / r
                # chi2 CDF with one degree of freedom: erf(sqrt(x / 2)); 0 for x <= 0
                wi = math.erf(math.sqrt(0.5 * chi2)) if chi2 > 0.0 else 0.0
            if c == CHARGED_PV:
                wi = 1.0
            elif c == CHARGED_PU:
                wi = 0.0
            if wi < min_weight:
                wi = 0.0
            if c == NEUTRAL and wi * pt[i] < neutral_min_e[b] + n_pv[ev] * neutral_slope[b]:
                wi = 0.0
            w[i] = min(max(wi, 0.0), 1.0)
    return w


def _flat_float(name: str, values: npt.ArrayLike, n: int) -> F64:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ConfigError(f"{name}: expected a 1-D array of length {n}, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ConfigError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise ConfigError(f"{name}: expected finite values, found NaN or inf")
    return out


def _tune_arrays(tune: PuppiTuneLike) -> tuple[F64, F64, F64, F64, F64, F64, F64, F64, B]:
    bins = list(tune.bins)

    def col(attr: str) -> F64:
        return np.array([float(getattr(b, attr)) for b in bins], dtype=np.float64).reshape(-1)

    cone = col("cone_size")
    scale = col("rms_scale_factor")
    if not np.all(np.isfinite(cone) & (cone > 0)):
        raise ConfigError(f"tune.bins[*].cone_size: expected finite values > 0, got {cone}")
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ConfigError(f"tune.bins[*].rms_scale_factor: expected finite values > 0, got {scale}")
    use_charged = np.array([bool(b.use_charged) for b in bins], dtype=np.bool_).reshape(-1)
    return (
        col("eta_min"),
        col("eta_max"),
        col("pt_min"),
        cone,
        col("rms_pt_min"),
        scale,
        col("neutral_min_e"),
        col("neutral_pt_slope"),
        use_charged,
    )


def puppi_weights(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    rapidity: npt.ArrayLike,
    phi: npt.ArrayLike,
    category: npt.ArrayLike,
    n_pv: npt.ArrayLike,
    tune: PuppiTuneLike,
) -> npt.NDArray[np.float32]:
    """PUPPI weight of every particle-flow candidate of a batch of events.

    Implements Steps 1-5 of ``docs/physics/puppi.md`` (Delphes 3.5
    ``RunPUPPI``, metric 5, CHS on); see the module docstring for the choices
    taken from the Delphes source where the reference is silent.

    Args:
        offsets: int64, length ``n_events + 1``; event ``k`` owns candidates
            ``offsets[k]:offsets[k + 1]``.
        pt: transverse momentum per candidate [GeV].
        eta: pseudorapidity per candidate (chooses the eta bin).
        rapidity: rapidity per candidate (cone and dR of the metric).
        phi: azimuth per candidate [rad], in [-pi, pi].
        category: int8 code per candidate: :data:`NEUTRAL`, :data:`CHARGED_PV`,
            :data:`CHARGED_PU` (CHS ``IsRecoPU``) or :data:`LEPTON` (weight 1,
            left out of PUPPI).
        n_pv: per event, the N_PV of the neutral cut (Delphes uses
            ``int(0.7 * number of vertices)``).
        tune: the PUPPI tune (e.g. :class:`l1scout.detector.view_card.PuppiTune`).

    Returns:
        float32 weight per candidate, in [0, 1].

    Raises:
        ConfigError: on arrays of the wrong shape or type, non-finite kinematics,
            unknown category codes, or a bin with ``cone_size <= 0`` or
            ``rms_scale_factor <= 0``.
    """
    off = check_offsets(offsets)
    n_ev = off.shape[0] - 1
    n = int(off[-1])
    pt_a = _flat_float("pt", pt, n)
    eta_a = _flat_float("eta", eta, n)
    y_a = _flat_float("rapidity", rapidity, n)
    phi_a = _flat_float("phi", phi, n)
    outside = (phi_a < -math.pi) | (phi_a > math.pi)
    if np.any(outside):  # e.g. float32 +-pi, which lies just outside the float64 range
        phi_a = np.where(outside, wrap_phi(phi_a), phi_a)
    cat_raw = np.asarray(category)
    if cat_raw.ndim != 1 or cat_raw.shape[0] != n or not np.issubdtype(cat_raw.dtype, np.integer):
        raise ConfigError(
            f"category: expected a 1-D integer array of length {n}, got shape "
            f"{cat_raw.shape} and dtype {cat_raw.dtype}"
        )
    if n and (cat_raw.min() < NEUTRAL or cat_raw.max() > LEPTON):
        raise ConfigError(
            f"category: expected codes NEUTRAL={NEUTRAL}, CHARGED_PV={CHARGED_PV}, "
            f"CHARGED_PU={CHARGED_PU} or LEPTON={LEPTON}"
        )
    cat = np.ascontiguousarray(cat_raw, dtype=np.int8)
    npv = _flat_float("n_pv", n_pv, n_ev)
    (eta_min, eta_max, pt_min, cone, rms_pt_min, scale, neutral_min_e, neutral_slope, use_ch) = (
        _tune_arrays(tune)
    )
    low_pu = bool(tune.apply_low_pu_corr)

    bin_idx, alpha, median, rms, n_pu, adjust = _puppi_kernel(
        off,
        pt_a,
        np.abs(eta_a),
        y_a,
        phi_a,
        cat,
        eta_min,
        eta_max,
        pt_min,
        cone,
        rms_pt_min,
        scale,
        use_ch,
        low_pu,
    )

    # Step 3, low-pileup correction: q = chi2 (1 dof) quantile of a = 2 erfinv(a)^2
    fire = adjust > 0
    shift = np.zeros_like(rms)
    shift[fire] = np.sqrt(2.0 * special.erfinv(adjust[fire]) ** 2 * rms[fire])
    median = np.ascontiguousarray(median - shift)
    rms = np.ascontiguousarray(rms - shift)

    # Steps 4 and 5
    return _weight_kernel(
        off,
        pt_a,
        cat,
        bin_idx,
        alpha,
        median,
        rms,
        n_pu,
        npv,
        neutral_min_e,
        neutral_slope,
        float(tune.min_puppi_weight),
    )
