"""Physics-validation numbers from flat column arrays: pure numpy, no I/O.

A batch of events is a set of flat arrays (all events concatenated) and
``offsets`` (int64, ``n_events + 1``), as everywhere in l1scout. These
functions turn such arrays into the numbers of the validation page:

* :func:`robust_sigma`: half the width of the central 68.27 % (the
  Gaussian 16-84 % quantiles), insensitive to tails;
* :func:`binned_efficiency`: efficiencies in bins with binomial errors
  (sqrt(eps (1 - eps) / n), the normal approximation) and, optionally, the
  mean expected probability of the entries of each bin;
* :func:`binned_spread`: median and robust sigma of a quantity in bins;
* :func:`jet_response`: median response and resolution (robust sigma over
  median) of matched objects in bins of the reference pT;
* :func:`track_gen_index` and :func:`match_tracks`: the truth link of tracks
  (``fUniqueID`` = index in the event's ``Gen_Part`` + 1, neutrals from 2^31);
* :func:`match_closest`: closest-in-Delta R matching within each event, and
  :func:`match_greedy`: the one-to-one variant (closest pairs first).

Units follow the inputs: GeV for momenta, mm for positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._jagged import (
    check_offsets,
    delta_r,
    event_index,
    match_one_to_one,
    offsets_from_counts,
)
from l1scout._types import F64, I64
from l1scout.errors import ConfigError

__all__ = [
    "ELECTRON",
    "HADRON",
    "MUON",
    "NEUTRAL_UID_MIN",
    "QUANTILE_HI",
    "QUANTILE_LO",
    "BinnedEfficiency",
    "BinnedSpread",
    "JetResponse",
    "binned_efficiency",
    "binned_mean",
    "binned_spread",
    "binomial_efficiency",
    "counts",
    "first_where",
    "jet_response",
    "match_closest",
    "match_greedy",
    "match_tracks",
    "met_components",
    "robust_sigma",
    "species",
    "track_gen_index",
    "weighted_fraction",
]

#: ``fUniqueID`` of neutral candidates starts here (tracks: Gen_Part index + 1).
NEUTRAL_UID_MIN = 1 << 31
#: The Gaussian +-1 sigma quantiles (Phi(-1), Phi(+1)): the "16-84 %" range.
QUANTILE_LO = 0.15865525393145707
QUANTILE_HI = 0.8413447460685429

#: Particle species of the tracking tables.
ELECTRON, MUON, HADRON = 0, 1, 2


def _f64(x: npt.ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


def counts(offsets: npt.ArrayLike) -> I64:
    """Entries per event.

    >>> counts(np.array([0, 2, 2, 5])).tolist()
    [2, 0, 3]
    """
    return np.diff(np.asarray(offsets, dtype=np.int64)).astype(np.int64)


def robust_sigma(x: npt.ArrayLike) -> float:
    """Half the distance between the 15.87 % and 84.13 % quantiles of the finite values.

    Equal to the standard deviation for a Gaussian, but blind to the tails
    (the usual "half the 16-84 % range" of resolution studies). NaN when
    fewer than two finite values.

    >>> round(robust_sigma(np.arange(101.0)), 3)  # quantiles 15.866 and 84.134
    34.134
    """
    v = _f64(x).ravel()
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan")
    lo, hi = np.quantile(v, [QUANTILE_LO, QUANTILE_HI])
    return float(0.5 * (hi - lo))


def binomial_efficiency(n_pass: npt.ArrayLike, n_total: npt.ArrayLike) -> tuple[F64, F64]:
    """Efficiency k / n and its binomial error sqrt(eps (1 - eps) / n); NaN where n = 0.

    >>> eff, err = binomial_efficiency([3, 0], [4, 0])
    >>> eff.tolist(), err.round(4).tolist()
    ([0.75, nan], [0.2165, nan])
    """
    k = _f64(n_pass)
    n = _f64(n_total)
    if np.any(k < 0) or np.any(k > n):
        msg = "binomial_efficiency: need 0 <= n_pass <= n_total in every bin"
        raise ConfigError(msg)
    ok = n > 0
    safe = np.where(ok, n, 1.0)
    eff = np.where(ok, k / safe, np.nan)
    err = np.where(ok, np.sqrt(np.clip(eff * (1 - eff), 0, None) / safe), np.nan)
    return eff, err


@dataclass(frozen=True)
class BinnedEfficiency:
    """Efficiency in bins of a variable.

    Attributes:
        edges: bin edges (n + 1).
        total: entries per bin (denominator).
        passed: passing entries per bin (numerator).
        efficiency: passed / total (NaN for empty bins).
        error: binomial error.
        expected: mean expected probability of the entries of each bin
            (NaN for empty bins, or all NaN when none was given).
    """

    edges: F64
    total: I64
    passed: I64
    efficiency: F64
    error: F64
    expected: F64

    @property
    def centers(self) -> F64:
        """Bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def _bin_of(x: F64, edges: F64) -> I64:
    """Bin of each value, -1 outside [edges[0], edges[-1]] (last bin closed, as numpy)."""
    i = np.searchsorted(edges, x, side="right") - 1
    i = np.where(x == edges[-1], len(edges) - 2, i)
    return np.where(np.isfinite(x) & (i >= 0) & (i < len(edges) - 1), i, -1).astype(np.int64)


def _edges(edges: npt.ArrayLike) -> F64:
    e = _f64(edges)
    if e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0):
        msg = f"edges must be at least two increasing numbers, got {e.tolist()}"
        raise ConfigError(msg)
    return e


def binned_efficiency(
    x: npt.ArrayLike,
    passed: npt.ArrayLike,
    edges: npt.ArrayLike,
    expected: npt.ArrayLike | None = None,
) -> BinnedEfficiency:
    """Efficiency of ``passed`` in bins of ``x``, with binomial errors.

    Args:
        x: the variable of every denominator entry (entries outside the
            edges or not finite are dropped).
        passed: whether each entry is in the numerator.
        edges: bin edges, increasing.
        expected: optional per-entry expected probability (e.g. a card's
            efficiency at the entry's pT and eta), averaged per bin.

    >>> b = binned_efficiency([0.5, 0.5, 1.5, 1.5], [True, False, True, True], [0, 1, 2])
    >>> b.efficiency.tolist(), b.total.tolist()
    ([0.5, 1.0], [2, 2])
    """
    xv = _f64(x)
    ok = np.asarray(passed, dtype=bool)
    e = _edges(edges)
    if ok.shape != xv.shape:
        msg = f"passed has shape {ok.shape}, x has {xv.shape}: they must match"
        raise ConfigError(msg)
    nb = len(e) - 1
    b = _bin_of(xv, e)
    inside = b >= 0
    total = np.bincount(b[inside], minlength=nb).astype(np.int64)
    npass = np.bincount(b[inside & ok], minlength=nb).astype(np.int64)
    eff, err = binomial_efficiency(npass, total)
    if expected is None:
        exp = np.full(nb, np.nan)
    else:
        pv = _f64(expected)
        if pv.shape != xv.shape:
            msg = f"expected has shape {pv.shape}, x has {xv.shape}: they must match"
            raise ConfigError(msg)
        sums = np.bincount(b[inside], weights=pv[inside], minlength=nb)
        exp = np.where(total > 0, sums / np.maximum(total, 1), np.nan)
    return BinnedEfficiency(e, total, npass, eff, err, exp)


def binned_mean(x: npt.ArrayLike, values: npt.ArrayLike, edges: npt.ArrayLike) -> F64:
    """Mean of the finite ``values`` in bins of ``x`` (NaN for empty bins).

    >>> binned_mean([0.5, 0.5, 1.5], [1.0, 3.0, 7.0], [0, 1, 2, 3]).tolist()
    [2.0, 7.0, nan]
    """
    xv, vv, e = _f64(x), _f64(values), _edges(edges)
    if vv.shape != xv.shape:
        msg = f"values has shape {vv.shape}, x has {xv.shape}: they must match"
        raise ConfigError(msg)
    b = np.where(np.isfinite(vv), _bin_of(xv, e), -1)
    nb = len(e) - 1
    n = np.bincount(b[b >= 0], minlength=nb)
    sums = np.bincount(b[b >= 0], weights=vv[b >= 0], minlength=nb)
    return np.where(n > 0, sums / np.maximum(n, 1), np.nan)


@dataclass(frozen=True)
class BinnedSpread:
    """Median and robust sigma of a quantity in bins of a variable.

    Attributes:
        edges: bin edges (n + 1).
        n: finite entries per bin.
        median: median per bin (NaN when empty).
        sigma: :func:`robust_sigma` per bin (NaN with fewer than two entries).
    """

    edges: F64
    n: I64
    median: F64
    sigma: F64

    @property
    def centers(self) -> F64:
        """Bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def binned_spread(x: npt.ArrayLike, values: npt.ArrayLike, edges: npt.ArrayLike) -> BinnedSpread:
    """Median and :func:`robust_sigma` of ``values`` in bins of ``x``.

    >>> s = binned_spread([0.5, 0.5, 1.5], [1.0, 3.0, 7.0], [0, 1, 2])
    >>> s.n.tolist(), s.median.tolist()
    ([2, 1], [2.0, 7.0])
    """
    xv = _f64(x)
    vv = _f64(values)
    e = _edges(edges)
    if vv.shape != xv.shape:
        msg = f"values has shape {vv.shape}, x has {xv.shape}: they must match"
        raise ConfigError(msg)
    b = _bin_of(xv, e)
    b = np.where(np.isfinite(vv), b, -1)
    nb = len(e) - 1
    n = np.bincount(b[b >= 0], minlength=nb).astype(np.int64)
    med = np.full(nb, np.nan)
    sig = np.full(nb, np.nan)
    for k in range(nb):
        v = vv[b == k]
        if len(v):
            med[k] = float(np.median(v))
            sig[k] = robust_sigma(v)
    return BinnedSpread(e, n, med, sig)


@dataclass(frozen=True)
class JetResponse:
    """Response reco pT / reference pT of matched objects in bins of the reference pT.

    Attributes:
        edges: reference-pT bin edges (GeV).
        n_ref: reference objects per bin.
        n_matched: those with a match.
        median: median response (NaN when none matched).
        resolution: robust sigma of the response over its median.
    """

    edges: F64
    n_ref: I64
    n_matched: I64
    median: F64
    resolution: F64

    @property
    def centers(self) -> F64:
        """Bin centres (GeV)."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def at(self, lo: float, hi: float) -> tuple[float, float]:
        """(median, resolution) of the bin [lo, hi] (NaN, NaN if there is no such bin)."""
        for k in range(len(self.edges) - 1):
            if np.isclose(self.edges[k], lo) and np.isclose(self.edges[k + 1], hi):
                return float(self.median[k]), float(self.resolution[k])
        return float("nan"), float("nan")


def jet_response(
    ref_pt: npt.ArrayLike, reco_pt: npt.ArrayLike, edges: npt.ArrayLike
) -> JetResponse:
    """Median response and resolution in bins of the reference (generator) pT.

    Args:
        ref_pt: pT of each reference (generator) object, GeV.
        reco_pt: pT of its matched reconstructed object, NaN if unmatched.
        edges: reference-pT bin edges, GeV.

    The resolution is :func:`robust_sigma` of the response divided by its
    median (the usual jet-energy-resolution definition, e.g. CMS JME-13-004).

    >>> r = jet_response([25.0, 25.0, 25.0, 40.0], [20.0, 25.0, 30.0, np.nan], [20, 30, 50])
    >>> r.median.tolist(), r.n_matched.tolist(), r.n_ref.tolist()
    ([1.0, nan], [3, 0], [3, 1])
    """
    ref = _f64(ref_pt)
    reco = _f64(reco_pt)
    if ref.shape != reco.shape:
        msg = f"reco_pt has shape {reco.shape}, ref_pt has {ref.shape}: they must match"
        raise ConfigError(msg)
    ratio = np.full(ref.shape, np.nan)
    good = np.isfinite(reco) & (ref > 0)
    ratio[good] = reco[good] / ref[good]
    spread = binned_spread(ref, ratio, edges)
    e = spread.edges
    b = _bin_of(ref, e)
    n_ref = np.bincount(b[b >= 0], minlength=len(e) - 1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(spread.median > 0, spread.sigma / spread.median, np.nan)
    return JetResponse(e, n_ref, spread.n, spread.median, res)


def species(pid: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """0 for electrons, 1 for muons, 2 for anything else (charged hadrons).

    >>> species(np.array([11, -13, 211, -2212])).tolist()
    [0, 1, 2, 2]
    """
    a = np.abs(np.asarray(pid))
    return np.where(a == 11, ELECTRON, np.where(a == 13, MUON, HADRON)).astype(np.int8)


def track_gen_index(
    gen_offsets: npt.ArrayLike,
    cand_offsets: npt.ArrayLike,
    cand_uid: npt.ArrayLike,
    cand_charge: npt.ArrayLike,
) -> I64:
    """Global ``Gen_Part`` index of every charged candidate's particle (-1: neutral or no link).

    A charged candidate of event k with ``fUniqueID`` u (1 <= u < 2^31)
    comes from the particle ``gen_offsets[k] + u - 1``; links pointing past
    the event's particles are treated as missing.

    >>> track_gen_index([0, 3, 5], [0, 2, 3], [3, 2**31, 1], [1, 0, -1]).tolist()
    [2, -1, 3]
    """
    uid = np.asarray(cand_uid, dtype=np.int64)
    charge = np.asarray(cand_charge)
    if charge.shape != uid.shape:
        msg = f"cand_charge has shape {charge.shape}, cand_uid has {uid.shape}: they must match"
        raise ConfigError(msg)
    coff = check_offsets(cand_offsets, "cand_offsets", len(uid))
    goff = np.asarray(gen_offsets, dtype=np.int64)
    if len(goff) != len(coff):
        msg = f"gen_offsets has {len(goff)} entries, cand_offsets {len(coff)}: the same events are needed"
        raise ConfigError(msg)
    ev = event_index(coff)
    local = uid - 1
    ok = (charge != 0) & (uid >= 1) & (uid < NEUTRAL_UID_MIN) & (local < np.diff(goff)[ev])
    return np.where(ok, goff[ev] + local, -1).astype(np.int64)


def match_tracks(
    gen_offsets: npt.ArrayLike,
    cand_offsets: npt.ArrayLike,
    cand_uid: npt.ArrayLike,
    cand_charge: npt.ArrayLike,
) -> I64:
    """For every generated particle, the global index of its charged candidate (-1: none).

    The inverse of :func:`track_gen_index`; if two candidates claim the same
    particle, the first one wins.

    >>> match_tracks([0, 3, 5], [0, 2, 3], [3, 2**31, 1], [1, 0, -1]).tolist()
    [-1, -1, 0, 2, -1]
    """
    goff = np.asarray(gen_offsets, dtype=np.int64)
    gi = track_gen_index(goff, cand_offsets, cand_uid, cand_charge)
    out = np.full(int(goff[-1]), -1, dtype=np.int64)
    cand = np.flatnonzero(gi >= 0)
    gen, first = np.unique(gi[cand], return_index=True)
    out[gen] = cand[first]
    return out


def _pairs(
    ref_eta: npt.ArrayLike,
    ref_phi: npt.ArrayLike,
    ref_offsets: npt.ArrayLike,
    obj_eta: npt.ArrayLike,
    obj_phi: npt.ArrayLike,
    obj_offsets: npt.ArrayLike,
) -> tuple[int, I64, I64, F64]:
    """Every (reference, object) pair of the same event: (n refs, ref index, object index, Delta R)."""
    reta, rphi = _f64(ref_eta), _f64(ref_phi)
    oeta, ophi = _f64(obj_eta), _f64(obj_phi)
    roff = check_offsets(ref_offsets, "ref_offsets", len(reta))
    ooff = check_offsets(obj_offsets, "obj_offsets", len(oeta))
    if len(roff) != len(ooff):
        msg = f"ref_offsets has {len(roff)} entries, obj_offsets {len(ooff)}: the same events are needed"
        raise ConfigError(msg)
    ev = event_index(roff)
    rep = counts(ooff)[ev]  # candidate objects of each reference
    total = int(rep.sum())
    ref_of_pair = np.repeat(np.arange(len(reta), dtype=np.int64), rep)
    block_start = offsets_from_counts(rep)[:-1]
    local = np.arange(total, dtype=np.int64) - np.repeat(block_start, rep)
    obj_of_pair = (ooff[ev[ref_of_pair]] + local).astype(np.int64)
    dr = delta_r(reta[ref_of_pair], rphi[ref_of_pair], oeta[obj_of_pair], ophi[obj_of_pair])
    return len(reta), ref_of_pair, obj_of_pair, dr


def match_closest(
    ref_eta: npt.ArrayLike,
    ref_phi: npt.ArrayLike,
    ref_offsets: npt.ArrayLike,
    obj_eta: npt.ArrayLike,
    obj_phi: npt.ArrayLike,
    obj_offsets: npt.ArrayLike,
    max_dr: float,
) -> I64:
    """For every reference object, the global index of the closest object of its event within ``max_dr``.

    -1 when no object lies within ``max_dr``. Objects may be shared by
    several references (no one-to-one constraint), as in Delphes' jet
    validation.

    >>> match_closest([0.0, 1.0], [0.0, 0.0], [0, 2], [1.05, 0.1, 0.0], [0.0, 0.0, 3.0], [0, 3], 0.2).tolist()
    [1, 0]
    """
    n_ref, ref_of_pair, obj_of_pair, dr = _pairs(
        ref_eta, ref_phi, ref_offsets, obj_eta, obj_phi, obj_offsets
    )
    out = np.full(n_ref, -1, dtype=np.int64)
    if len(dr) == 0:
        return out
    order = np.lexsort((dr, ref_of_pair))  # by reference, then by dR
    first = np.flatnonzero(np.r_[True, np.diff(ref_of_pair[order]) != 0])
    best = order[first]
    keep = dr[best] < max_dr
    out[ref_of_pair[best[keep]]] = obj_of_pair[best[keep]]
    return out


def match_greedy(
    ref_eta: npt.ArrayLike,
    ref_phi: npt.ArrayLike,
    ref_offsets: npt.ArrayLike,
    obj_eta: npt.ArrayLike,
    obj_phi: npt.ArrayLike,
    obj_offsets: npt.ArrayLike,
    max_dr: float,
) -> I64:
    """One-to-one Delta R matching within each event, closest pairs first: each reference's object (-1: none).

    Within an event the (reference, object) pair with the smallest Delta R
    below ``max_dr`` is matched first, both leave the pool, and so on
    (ties: the earlier reference, then the earlier object). Unlike
    :func:`match_closest`, an object matches at most one reference. This is
    :func:`l1scout._jagged.match_one_to_one`, given as an index per reference.

    >>> match_greedy([0.0, 0.1], [0.0, 0.0], [0, 2], [0.08, 1.0], [0.0, 0.0], [0, 2], 0.3).tolist()
    [-1, 0]
    """
    reta = _f64(ref_eta)
    match = match_one_to_one(  # the project's one greedy dR matcher, as an index per reference
        ref_offsets, reta, ref_phi, obj_offsets, obj_eta, obj_phi, max_dr=max_dr
    )
    out = np.full(len(reta), -1, dtype=np.int64)
    out[match.l1] = match.offline
    return out


def first_where(
    values: npt.ArrayLike, offsets: npt.ArrayLike, mask: npt.ArrayLike, fill: float = float("nan")
) -> F64:
    """The first entry of every event where ``mask`` holds (``fill`` where none does).

    >>> first_where([1.0, 2.0, 3.0], [0, 2, 3], [False, True, False]).tolist()
    [2.0, nan]
    """
    v = _f64(values)
    m = np.asarray(mask, dtype=bool)
    off = check_offsets(offsets, "offsets", len(v))
    if m.shape != v.shape:
        msg = f"mask has shape {m.shape}, values {v.shape}: they must match"
        raise ConfigError(msg)
    out = np.full(len(off) - 1, fill, dtype=np.float64)
    idx = np.flatnonzero(m)
    ev, first = np.unique(event_index(off)[idx], return_index=True)
    out[ev] = v[idx[first]]
    return out


def met_components(met: npt.ArrayLike, phi: npt.ArrayLike) -> tuple[F64, F64]:
    """(x, y) components of a missing transverse momentum (GeV).

    >>> [c.round(6).tolist() for c in met_components([2.0], [np.pi / 2])]
    [[0.0], [2.0]]
    """
    m, p = _f64(met), _f64(phi)
    return m * np.cos(p), m * np.sin(p)


def weighted_fraction(pt: npt.ArrayLike, weight: npt.ArrayLike) -> float:
    """Fraction of the pT kept by the weights: sum(pT w) / sum(pT); NaN for no pT.

    >>> weighted_fraction([1.0, 3.0], [1.0, 0.0])
    0.25
    """
    p, w = _f64(pt), _f64(weight)
    total = float(p.sum())
    return float((p * w).sum()) / total if total > 0 else float("nan")
