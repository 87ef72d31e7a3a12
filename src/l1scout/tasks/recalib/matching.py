"""Matching Level-1 objects to offline objects, event by event, vectorised over a batch.

Objects come as flat arrays with per-event offsets (:mod:`l1scout._jagged`);
indices in the results are global (into the flat arrays). Distances are
``dR = sqrt(deta^2 + dphi^2)`` with ``dphi`` wrapped to [-pi, pi), so azimuths
may be given in [0, 2 pi) on one side and [-pi, pi) on the other.

* **Muons, one to one**: greedy by dR, the generic matcher
  :func:`l1scout.tasks.recalib.match_one_to_one` (at home in the core array
  helpers, as the tau truth matching uses it too).
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

from l1scout._jagged import candidate_pairs, check_max_dr, check_offsets, delta_r, flat_column
from l1scout._types import F64, I64
from l1scout.errors import DataFormatError

__all__ = [
    "JetMatch",
    "jet_match_table",
    "match_jets",
]


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
    cut = check_max_dr(max_dr)
    off_a = check_offsets(l1_offsets, "l1_offsets")
    off_b = check_offsets(offline_offsets, "offline_offsets")
    n_a, n_b = int(off_a[-1]), int(off_b[-1])
    eta_a, phi_a = flat_column("l1_eta", l1_eta, n_a), flat_column("l1_phi", l1_phi, n_a)
    pt_b = flat_column("offline_pt", offline_pt, n_b)
    eta_b, phi_b = (
        flat_column("offline_eta", offline_eta, n_b),
        flat_column("offline_phi", offline_phi, n_b),
    )
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
