"""Flat batches of events: one entry per object plus per-event offsets.

Every batch in l1scout (particles, tracks, candidates, jets) is a set of flat
arrays with ``offsets`` of length n_events + 1: event k owns the entries
``offsets[k]:offsets[k + 1]``. These are the helpers every module shares,
among them the one-to-one dR matching of two such batches
(:func:`match_one_to_one`, on the pairs of :func:`candidate_pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "ETA_AT_ZERO_PT",
    "Jagged",
    "OneToOneMatch",
    "PtEtaPhiBatch",
    "candidate_pairs",
    "check_max_dr",
    "check_offsets",
    "delta_r",
    "eta_phi_pt",
    "event_index",
    "first_per_event",
    "flat_column",
    "match_one_to_one",
    "offsets_from_counts",
    "wrap_phi",
]

#: one jagged column: (offsets, flat values)
Jagged = tuple[npt.NDArray[np.int64], npt.NDArray[Any]]

#: Delphes' pseudorapidity for particles along the beam (pT = 0).
ETA_AT_ZERO_PT = 999.9

_S = TypeVar("_S", bound=np.generic)


def event_index(offsets: npt.ArrayLike) -> I64:
    """The event of every entry.

    >>> event_index(np.array([0, 2, 2, 5])).tolist()
    [0, 0, 2, 2, 2]
    """
    off: I64 = np.asarray(offsets, dtype=np.int64)
    counts: I64 = off[1:] - off[:-1]
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def offsets_from_counts(counts: npt.ArrayLike) -> I64:
    """Offsets of a batch from its per-event counts.

    >>> offsets_from_counts(np.array([2, 0, 3])).tolist()
    [0, 2, 2, 5]
    """
    c = np.asarray(counts)
    out = np.zeros(len(c) + 1, dtype=np.int64)
    np.cumsum(c, out=out[1:])
    return out


def eta_phi_pt(
    px: npt.NDArray[Any], py: npt.NDArray[Any], pz: npt.NDArray[Any]
) -> tuple[F64, F64, F64]:
    """Pseudorapidity, azimuth (rad, in [-pi, pi]) and pT (GeV) of momenta.

    >>> [round(float(v[0]), 4) for v in eta_phi_pt(np.array([1.0]), np.array([0.0]), np.array([1.0]))]
    [0.8814, 0.0, 1.0]
    """
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(
            pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), np.sign(pz) * ETA_AT_ZERO_PT
        )
    return eta, np.arctan2(py, px), pt


def wrap_phi(dphi: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """An azimuth difference wrapped to [-pi, pi) (rad); float32 stays float32.

    >>> wrap_phi(np.array([3 * np.pi / 2, -3 * np.pi / 2, 0.5])).round(4).tolist()
    [-1.5708, 1.5708, 0.5]
    """
    d = np.asarray(dphi)
    if not np.issubdtype(d.dtype, np.floating):
        d = d.astype(np.float64)
    return np.asarray((d + np.pi) % (2 * np.pi) - np.pi)


def delta_r(
    eta1: npt.ArrayLike, phi1: npt.ArrayLike, eta2: npt.ArrayLike, phi2: npt.ArrayLike
) -> F64:
    """``sqrt(deta^2 + dphi^2)`` in float64, the azimuth difference wrapped to [-pi, pi).

    Azimuths may be given in [0, 2 pi) on one side and [-pi, pi) on the other;
    the arguments broadcast against each other.

    >>> delta_r(0.0, 3.0, 0.0, -3.0).round(4).tolist()  # across phi = pi
    0.2832
    >>> delta_r([0.0, 1.0], [6.2, 0.5], 0.0, [-0.05, 0.5]).round(4).tolist()
    [0.0332, 1.0]
    """
    deta = np.asarray(eta1, dtype=np.float64) - np.asarray(eta2, dtype=np.float64)
    dphi = wrap_phi(np.asarray(phi1, dtype=np.float64) - np.asarray(phi2, dtype=np.float64))
    out: F64 = np.sqrt(deta * deta + dphi * dphi)
    return out


def first_per_event(
    offsets: npt.ArrayLike, values: npt.ArrayLike, *, fill: float, dtype: type[_S]
) -> npt.NDArray[_S]:
    """The first value of every event as *dtype*, *fill* for an empty event.

    The offsets are not checked (see :func:`check_offsets`); the values are
    cast to *dtype* like an assignment (``float64 -> float32`` rounds).

    >>> first_per_event([0, 2, 2, 3], [1.0, 2.0, 3.0], fill=np.nan, dtype=np.float64).tolist()
    [1.0, nan, 3.0]
    >>> first_per_event([0, 1, 1, 3], [5.0, 7.0, 8.0], fill=0.0, dtype=np.float32).tolist()
    [5.0, 0.0, 7.0]
    """
    off = np.asarray(offsets, dtype=np.int64)
    v = np.asarray(values)
    counts = off[1:] - off[:-1]
    out = np.full(len(counts), fill, dtype=dtype)
    has = counts > 0
    out[has] = v[off[:-1][has]]
    return out


def check_offsets(
    offsets: npt.ArrayLike, name: str = "offsets", n_entries: int | None = None
) -> I64:
    """*offsets* as contiguous int64 after checking they describe a batch.

    Raises:
        ConfigError: not a 1-D integer array, not starting at 0, decreasing, or
            (with *n_entries*) not ending at the number of entries; the message
            starts with *name*.

    >>> check_offsets([0, 2, 5], n_entries=5).tolist()
    [0, 2, 5]
    """
    arr = np.asarray(offsets)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        msg = (
            f"{name}: expected a 1-D integer array of length n_events + 1, "
            f"got shape {arr.shape} and dtype {arr.dtype}"
        )
        raise ConfigError(msg)
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if out[0] != 0 or np.any(np.diff(out) < 0):
        msg = f"{name}: expected non-decreasing offsets starting at 0"
        raise ConfigError(msg)
    if n_entries is not None and out[-1] != n_entries:
        msg = f"{name}: expected the last offset to be the number of entries ({n_entries}), got {int(out[-1])}"
        raise ConfigError(msg)
    return out


class PtEtaPhiBatch:
    """Derived quantities of a batch of objects given by ``offsets``, ``pt``, ``eta``, ``phi``.

    A base for the frozen dataclasses of batches (generated particles,
    particle-flow candidates); values are computed once, on first use.
    """

    offsets: I64
    pt: F64
    eta: F64
    phi: F64

    @property
    def n_events(self) -> int:
        """Events in the batch."""
        return len(self.offsets) - 1

    @cached_property
    def event(self) -> I64:
        """Event of every entry."""
        return event_index(self.offsets)

    @cached_property
    def px(self) -> F64:
        """X momentum (GeV)."""
        return self.pt * np.cos(self.phi)

    @cached_property
    def py(self) -> F64:
        """Y momentum (GeV)."""
        return self.pt * np.sin(self.phi)

    @cached_property
    def pz(self) -> F64:
        """Z momentum (GeV); zero for the +-999.9 pseudorapidity of pT = 0 particles."""
        return np.where(
            np.abs(self.eta) < 100.0, self.pt * np.sinh(np.clip(self.eta, -50, 50)), 0.0
        )


# ---------------------------------------------------------------- one-to-one dR matching


def candidate_pairs(offsets_a: npt.ArrayLike, offsets_b: npt.ArrayLike) -> tuple[I64, I64]:
    """Every (a, b) pair of the same event, as global indices, event by event, a-major.

    >>> ia, ib = candidate_pairs([0, 2, 3], [0, 1, 3])
    >>> ia.tolist(), ib.tolist()
    ([0, 1, 2, 2], [0, 0, 1, 2])
    """
    off_a = check_offsets(offsets_a, "offsets_a")
    off_b = check_offsets(offsets_b, "offsets_b")
    if len(off_a) != len(off_b):
        msg = f"the two collections have different numbers of events: {len(off_a) - 1} and {len(off_b) - 1}"
        raise DataFormatError(msg)
    n_a = np.diff(off_a)
    n_b = np.diff(off_b)
    per_event = n_a * n_b
    pair_off = offsets_from_counts(per_event)
    event = event_index(pair_off)
    k = np.arange(int(pair_off[-1]), dtype=np.int64) - pair_off[event]
    nb = n_b[event]
    ia: I64 = off_a[:-1][event] + k // np.maximum(nb, 1)
    ib: I64 = off_b[:-1][event] + k % np.maximum(nb, 1)
    return ia, ib


def check_max_dr(max_dr: float) -> float:
    """*max_dr* as a float, refused unless a positive finite distance (a matching radius)."""
    if not (np.isfinite(max_dr) and max_dr > 0):
        msg = f"max_dr: expected a positive finite distance, got {max_dr}"
        raise ConfigError(msg)
    return float(max_dr)


def flat_column(name: str, values: npt.ArrayLike, n: int) -> F64:
    """*values* as a float64 column of *n* entries (the last offset), refused naming *name* otherwise."""
    out: F64 = np.asarray(values, dtype=np.float64)
    if out.ndim != 1 or len(out) != n:
        msg = f"{name}: expected {n} entries (the last offset), got shape {out.shape}"
        raise DataFormatError(msg)
    return out


def _greedy(ia: I64, ib: I64, n_a: int, n_b: int) -> B:
    """Keep-mask of the greedy matching of candidates already sorted in matching order.

    Vectorised as rounds of mutual best choices: in each round every candidate
    that comes first (in the sorted order) among the remaining candidates of
    both its objects is kept, and the candidates of kept objects are removed.
    This equals the sequential greedy pass: the first remaining candidate is
    always kept, and a candidate kept in a round has no earlier remaining
    candidate sharing an object, so the sequential pass keeps it too. Each round
    keeps at least one pair; a handful of rounds suffice (at most the objects of
    the busiest event).
    """
    n = len(ia)
    rank = np.arange(n, dtype=np.int64)
    keep = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    used_a = np.zeros(n_a, dtype=bool)
    used_b = np.zeros(n_b, dtype=bool)
    while active.any():
        idx = rank[active]
        first_a = np.full(n_a, n, dtype=np.int64)
        first_b = np.full(n_b, n, dtype=np.int64)
        np.minimum.at(first_a, ia[idx], idx)
        np.minimum.at(first_b, ib[idx], idx)
        won = idx[(first_a[ia[idx]] == idx) & (first_b[ib[idx]] == idx)]
        keep[won] = True
        used_a[ia[won]] = True
        used_b[ib[won]] = True
        active &= ~(used_a[ia] | used_b[ib])
    return keep


@dataclass(frozen=True)
class OneToOneMatch:
    """A one-to-one matching: pairs of global indices, sorted by the L1 index.

    Attributes:
        l1: index of the L1 object of each pair.
        offline: index of its offline object.
        dr: their distance.
        n_l1: L1 objects that took part.
        n_offline: offline objects that took part.
    """

    l1: I64
    offline: I64
    dr: F64
    n_l1: int
    n_offline: int

    def summary(self, prefix: str = "") -> dict[str, float]:
        """Counts and fractions: ``l1``, ``offline``, ``matched``, ``l1_matched_fraction``, ``offline_matched_fraction``."""
        n = len(self.l1)
        return {
            f"{prefix}l1": float(self.n_l1),
            f"{prefix}offline": float(self.n_offline),
            f"{prefix}matched": float(n),
            f"{prefix}l1_matched_fraction": n / self.n_l1 if self.n_l1 else 0.0,
            f"{prefix}offline_matched_fraction": n / self.n_offline if self.n_offline else 0.0,
        }


def match_one_to_one(
    l1_offsets: npt.ArrayLike,
    l1_eta: npt.ArrayLike,
    l1_phi: npt.ArrayLike,
    offline_offsets: npt.ArrayLike,
    offline_eta: npt.ArrayLike,
    offline_phi: npt.ArrayLike,
    *,
    max_dr: float,
) -> OneToOneMatch:
    """Greedy one-to-one matching by increasing dR within each event, pairs with ``dR < max_dr`` only.

    Every (L1, offline) pair of an event with ``dR < max_dr`` is a candidate;
    candidates are taken in increasing dR (ties by L1 index, then offline
    index) and a pair is kept when neither object is used yet. Greedy, not the
    Hungarian (minimum total dR) assignment: the two differ only when two L1
    objects compete for two offline objects closer than ``max_dr``, rare for
    muons and taus, and greedy is what CMS matchers do (``L1MuonMatcherAlgo``).
    Vectorised with numpy: the candidate pairs (:func:`candidate_pairs`), then
    the greedy pass as a few rounds of mutual best choices. ``dR`` is
    :func:`delta_r`, so azimuths may be given in [0, 2 pi) on one side and
    [-pi, pi) on the other. "L1" and "offline" name the two sides; any two
    collections of the same events can be matched. Used by the muon
    re-calibration (:mod:`l1scout.tasks.recalib`) and the tau truth matching
    (:mod:`l1scout.tasks.taus`).

    Args:
        l1_offsets: per-event offsets of the L1 objects.
        l1_eta: their pseudorapidity (flat).
        l1_phi: their azimuth (rad, flat).
        offline_offsets: per-event offsets of the offline objects.
        offline_eta: their pseudorapidity (flat).
        offline_phi: their azimuth (rad, flat).
        max_dr: the largest distance of a pair (exclusive).

    Raises:
        ConfigError: bad offsets or ``max_dr``.
        DataFormatError: lengths that do not fit the offsets, or different event counts.

    >>> m = match_one_to_one([0, 2], [0.0, 0.05], [0.0, 0.0], [0, 2], [0.04, 0.3], [0.0, 0.0], max_dr=0.2)
    >>> m.l1.tolist(), m.offline.tolist()
    ([1], [0])
    """
    cut = check_max_dr(max_dr)
    off_a = check_offsets(l1_offsets, "l1_offsets")
    off_b = check_offsets(offline_offsets, "offline_offsets")
    n_a, n_b = int(off_a[-1]), int(off_b[-1])
    eta_a, phi_a = flat_column("l1_eta", l1_eta, n_a), flat_column("l1_phi", l1_phi, n_a)
    eta_b, phi_b = (
        flat_column("offline_eta", offline_eta, n_b),
        flat_column("offline_phi", offline_phi, n_b),
    )
    ia, ib = candidate_pairs(off_a, off_b)
    dr = delta_r(eta_a[ia], phi_a[ia], eta_b[ib], phi_b[ib])
    close = dr < cut
    ia, ib, dr = ia[close], ib[close], dr[close]
    order = np.lexsort((ib, ia, dr))
    ia, ib, dr = ia[order], ib[order], dr[order]
    keep = _greedy(ia, ib, n_a, n_b)
    ia, ib, dr = ia[keep], ib[keep], dr[keep]
    by_l1 = np.argsort(ia, kind="stable")
    return OneToOneMatch(ia[by_l1], ib[by_l1], dr[by_l1], n_a, n_b)
