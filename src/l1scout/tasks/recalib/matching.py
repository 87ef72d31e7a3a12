"""Matching Level-1 objects to offline objects, event by event, vectorised over a batch.

Objects come as flat arrays with per-event offsets (:mod:`l1scout._jagged`);
indices in the results are global (into the flat arrays). Distances are
``dR = sqrt(deta^2 + dphi^2)`` with ``dphi`` wrapped to [-pi, pi), so azimuths
may be given in [0, 2 pi) on one side and [-pi, pi) on the other.

* **Muons, one to one** (:func:`match_one_to_one`): greedy by dR. Every
  (L1, offline) pair of an event with ``dR < max_dr`` is a candidate; candidates
  are taken in increasing dR (ties by L1 index, then offline index) and a pair is
  kept when neither object is used yet. Greedy, not the Hungarian (minimum total
  dR) assignment: the two differ only when two L1 muons compete for two offline
  muons closer than ``max_dr``, rare for muons, and greedy is what CMS matchers
  do (``L1MuonMatcherAlgo``). Vectorised with numpy: the candidate pairs, then
  the greedy pass as a few rounds of mutual best choices (``_greedy``).
* **Jets, many to one** (:func:`match_jets`): the seed's procedure (seed
  document 003, section 2.b): every offline jet goes to the L1 jet at minimum dR
  if that minimum is below ``max_dr`` (0.4); an L1 jet may receive several
  offline jets, and its target is the **scalar sum of their pT**. The axis of
  the matched offline jets (for eta and phi targets) is the direction of the
  vector sum of their momenta (massless, from pT, eta, phi). The match fractions
  are reported as the seed's Table 5 (offline jets matched, unmatched, the
  matched fraction and the matched-pT fraction, without a cut and for
  |eta| < 3) and Figure 7 (L1 jets with 0, 1, 2, >= 3 matches).

Example:
    >>> m = match_jets([0, 2], [0.0, 2.0], [0.0, 0.0], [0, 3], [10.0, 20.0, 5.0],
    ...                [0.1, -0.2, 1.0], [0.0, 0.1, 0.0])
    >>> m.reco_to_l1.tolist(), m.n_matched.tolist(), m.sum_pt.tolist()
    ([0, 0, -1], [2, 0], [30.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from l1scout._jagged import check_offsets, delta_r, event_index, offsets_from_counts
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "JetMatch",
    "OneToOneMatch",
    "candidate_pairs",
    "jet_match_table",
    "match_jets",
    "match_one_to_one",
]


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


def _check_max_dr(max_dr: float) -> float:
    if not (np.isfinite(max_dr) and max_dr > 0):
        msg = f"max_dr: expected a positive finite distance, got {max_dr}"
        raise ConfigError(msg)
    return float(max_dr)


def _flat(name: str, values: npt.ArrayLike, n: int) -> F64:
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
    cut = _check_max_dr(max_dr)
    off_a = check_offsets(l1_offsets, "l1_offsets")
    off_b = check_offsets(offline_offsets, "offline_offsets")
    n_a, n_b = int(off_a[-1]), int(off_b[-1])
    eta_a, phi_a = _flat("l1_eta", l1_eta, n_a), _flat("l1_phi", l1_phi, n_a)
    eta_b, phi_b = _flat("offline_eta", offline_eta, n_b), _flat("offline_phi", offline_phi, n_b)
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


@dataclass(frozen=True)
class JetMatch:
    """Offline jets matched to their nearest L1 jet (several offline jets may share one L1 jet).

    Attributes:
        reco_to_l1: per offline jet, the global index of its L1 jet (-1: unmatched).
        dr: per offline jet, the distance to the nearest L1 jet of its event (inf: none).
        n_matched: per L1 jet, the number of offline jets matched to it.
        sum_pt: per L1 jet, the scalar sum of the matched offline pT (GeV; 0 if none).
        offline_pt: pT of every offline jet (GeV).
        offline_eta: eta of every offline jet.
        offline_phi: phi of every offline jet (rad).
    """

    reco_to_l1: I64
    dr: F64
    n_matched: I64
    sum_pt: F64
    offline_pt: F64
    offline_eta: F64
    offline_phi: F64

    @cached_property
    def _axis(self) -> tuple[F64, F64]:
        sel = self.reco_to_l1 >= 0
        idx = self.reco_to_l1[sel]
        n = len(self.n_matched)
        pt, eta, phi = self.offline_pt[sel], self.offline_eta[sel], self.offline_phi[sel]
        px = np.bincount(idx, weights=pt * np.cos(phi), minlength=n)
        py = np.bincount(idx, weights=pt * np.sin(phi), minlength=n)
        pz = np.bincount(idx, weights=pt * np.sinh(eta), minlength=n)
        ptv = np.hypot(px, py)
        with np.errstate(invalid="ignore", divide="ignore"):
            axis_eta = np.where(self.n_matched > 0, np.arcsinh(pz / ptv), np.nan)
        axis_phi = np.where(self.n_matched > 0, np.arctan2(py, px), np.nan)
        return axis_eta, axis_phi

    @property
    def axis_eta(self) -> F64:
        """Per L1 jet: pseudorapidity of the vector sum of its matched offline jets (NaN if none)."""
        return self._axis[0]

    @property
    def axis_phi(self) -> F64:
        """Per L1 jet: azimuth (rad, [-pi, pi]) of the vector sum of its matched offline jets (NaN if none)."""
        return self._axis[1]

    def summary(self, eta_max: float = 3.0) -> dict[str, float]:
        """The seed's match fractions (Table 5 and Figure 7 of the re-calibration study), flat.

        Keys: ``l1_jets``; ``l1_matches_0``, ``l1_matches_1``, ``l1_matches_2``,
        ``l1_matches_3plus`` (fractions of the L1 jets); ``offline_jets``,
        ``offline_matched``, ``offline_unmatched`` (counts),
        ``offline_matched_fraction``, ``offline_matched_pt_fraction``; and the
        offline keys again with the prefix ``eta3_`` for offline jets with
        ``|eta| < eta_max``.
        """
        n_l1 = len(self.n_matched)
        out: dict[str, float] = {"l1_jets": float(n_l1)}
        counts = np.minimum(self.n_matched, 3)
        for k, name in enumerate(("0", "1", "2", "3plus")):
            out[f"l1_matches_{name}"] = float(np.mean(counts == k)) if n_l1 else 0.0
        everything = np.ones(len(self.reco_to_l1), dtype=bool)
        for prefix, sel in (("", everything), ("eta3_", np.abs(self.offline_eta) < eta_max)):
            matched = self.reco_to_l1[sel] >= 0
            pt = self.offline_pt[sel]
            n = int(sel.sum())
            total_pt = float(pt.sum())
            out[f"{prefix}offline_jets"] = float(n)
            out[f"{prefix}offline_matched"] = float(matched.sum())
            out[f"{prefix}offline_unmatched"] = float(n - matched.sum())
            out[f"{prefix}offline_matched_fraction"] = float(matched.mean()) if n else 0.0
            out[f"{prefix}offline_matched_pt_fraction"] = (
                float(pt[matched].sum()) / total_pt if total_pt > 0 else 0.0
            )
        return out

    def table(self, eta_max: float = 3.0) -> list[dict[str, object]]:
        """The seed's Table 5 (:func:`jet_match_table` of :meth:`summary`)."""
        return jet_match_table(self.summary(eta_max), eta_max)


def jet_match_table(summary: Mapping[str, float], eta_max: float = 3.0) -> list[dict[str, object]]:
    """The seed's Table 5 from a :meth:`JetMatch.summary` (or a jet ``RegressionData.match``).

    One row without a cut and one for offline ``|eta| < eta_max``; columns
    ``selection``, ``matched``, ``unmatched``, ``matched_percent``, ``matched_pt_percent``.

    Raises:
        DataFormatError: *summary* lacks the jet match counts.

    >>> s = {"offline_matched": 3.0, "offline_unmatched": 1.0, "offline_matched_fraction": 0.75,
    ...      "offline_matched_pt_fraction": 0.9, "eta3_offline_matched": 3.0,
    ...      "eta3_offline_unmatched": 0.0, "eta3_offline_matched_fraction": 1.0,
    ...      "eta3_offline_matched_pt_fraction": 1.0}
    >>> [(r["selection"], r["unmatched"], r["matched_percent"]) for r in jet_match_table(s)]
    [('no cut', 1, 75.0), ('|eta| < 3', 0, 100.0)]
    """
    rows: list[dict[str, object]] = []
    for label, prefix in (("no cut", ""), (f"|eta| < {eta_max:g}", "eta3_")):
        keys = [
            f"{prefix}offline_{k}"
            for k in ("matched", "unmatched", "matched_fraction", "matched_pt_fraction")
        ]
        missing = [k for k in keys if k not in summary]
        if missing:
            msg = (
                f"jet match summary: missing {', '.join(missing)} (a jet data set's match has them)"
            )
            raise DataFormatError(msg)
        matched, unmatched, fraction, pt_fraction = (float(summary[k]) for k in keys)
        rows.append(
            {
                "selection": label,
                "matched": int(matched),
                "unmatched": int(unmatched),
                "matched_percent": 100.0 * fraction,
                "matched_pt_percent": 100.0 * pt_fraction,
            }
        )
    return rows


def match_jets(
    l1_offsets: npt.ArrayLike,
    l1_eta: npt.ArrayLike,
    l1_phi: npt.ArrayLike,
    offline_offsets: npt.ArrayLike,
    offline_pt: npt.ArrayLike,
    offline_eta: npt.ArrayLike,
    offline_phi: npt.ArrayLike,
    *,
    max_dr: float = 0.4,
) -> JetMatch:
    """Every offline jet to the nearest L1 jet of its event when that dR is below *max_dr*.

    Ties in dR go to the L1 jet with the lower index.

    Raises:
        ConfigError: bad offsets or ``max_dr``.
        DataFormatError: lengths that do not fit the offsets, or different event counts.
    """
    cut = _check_max_dr(max_dr)
    off_a = check_offsets(l1_offsets, "l1_offsets")
    off_b = check_offsets(offline_offsets, "offline_offsets")
    n_a, n_b = int(off_a[-1]), int(off_b[-1])
    eta_a, phi_a = _flat("l1_eta", l1_eta, n_a), _flat("l1_phi", l1_phi, n_a)
    pt_b = _flat("offline_pt", offline_pt, n_b)
    eta_b, phi_b = _flat("offline_eta", offline_eta, n_b), _flat("offline_phi", offline_phi, n_b)
    ia, ib = candidate_pairs(off_a, off_b)
    dr = delta_r(eta_a[ia], phi_a[ia], eta_b[ib], phi_b[ib])
    order = np.lexsort((ia, dr, ib))  # by offline jet, then dR, then L1 index
    ib_sorted = ib[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ib_sorted[1:] != ib_sorted[:-1]
    nearest = order[first]  # one candidate per offline jet that has any L1 jet in its event
    best_dr = np.full(n_b, np.inf)
    best_dr[ib[nearest]] = dr[nearest]
    reco_to_l1 = np.full(n_b, -1, dtype=np.int64)
    ok = nearest[dr[nearest] < cut]
    reco_to_l1[ib[ok]] = ia[ok]
    matched = reco_to_l1 >= 0
    n_matched = np.bincount(reco_to_l1[matched], minlength=n_a).astype(np.int64)
    sum_pt = np.bincount(reco_to_l1[matched], weights=pt_b[matched], minlength=n_a)
    return JetMatch(
        reco_to_l1=reco_to_l1,
        dr=best_dr,
        n_matched=n_matched,
        sum_pt=sum_pt.astype(np.float64),
        offline_pt=pt_b,
        offline_eta=eta_b,
        offline_phi=phi_b,
    )
