"""Cut-based selections of the scouting stream: W -> 3 pions, single muon, HT.

Each selection reads the unpacked objects of one orbit as flat arrays with
per-BX offsets (the Run-3 orbit-collection layout: BX ``i`` owns the entries
``offsets[i]:offsets[i + 1]``) and returns, per BX, whether it passes, plus the
quantities of its flat table (:class:`SelectionOutput`).

**W -> 3 pions** (:func:`w3pi_select`). The demonstration selection of the
public Phase-2 scouting prototype (CMSSW ``L1TriggerScouting/Phase2``; its
example analysis of W -> 3 pions, by C. Miller and G. Petrucciani) on the PUPPI
candidates of each BX:

* *pions*: charged candidates with ``|pdgid| = 211`` (and ``|pdgid| = 11`` with
  ``include_electrons``, as the prototype's code does: a Level-1 electron is a
  track too), with ``require_pv`` only those associated with the primary vertex
  (PUPPI quality bit 0), and ``pT >= pt_min[0]`` (7 GeV);
* a *triplet* of three distinct pions ordered by decreasing pT (ties: the lower
  index first), ``pT1 >= pt_min[2]`` (15 GeV), ``pT2 >= pt_min[1]`` (12 GeV),
  ``pT3 >= pt_min[0]`` (7 GeV), ``|q1 + q2 + q3| = 1``, every pair ``dR >
  min_dr`` (0.5), each pion isolated: the PUPPI-weighted pT (``pT x PuppiW``)
  of *every other* candidate of the BX in the ring ``iso_dr_min < dR <
  iso_dr_max`` (0.01, 0.25) divided by the pion's pT below ``max_iso`` (2.0),
  and the invariant mass with the charged-pion mass ``mass_min < m < mass_max``
  (60, 100 GeV);
* *one triplet per BX*: among the passing triplets the highest scalar sum
  ``pT1 + pT2 + pT3`` (the prototype's choice); on equal sums the first
  ``(i1, i2, i3)`` in lexicographic order of the BX-local candidate indices.

The cuts are strict where the published selection writes ``<`` and inclusive
for the pT thresholds (``>=``); the prototype's code is inclusive everywhere,
which differs only on a set of measure zero. The prototype's "tight" variant
(9, 15, 20 GeV, isolation 1.0) and its "loose" mass window (40-150 GeV) are
parameters.
Masses: the charged pion's, 139.57039 MeV (Particle Data Group, PTEP 2022,
083C01). pT in GeV, eta, phi in rad; dR with phi wrapped to [-pi, pi).

The search is a numba kernel over BXs (:func:`w3pi_select`); the tests hold it
against a plain-Python triple loop. **Single muon** (:func:`single_muon_select`):
any muon with ``pT >= pt_min`` and ``|eta| <= eta_max`` (and quality at least
``quality_min``). **HT** (:func:`ht_select`): the sums word's HT ``>= ht_min``.

Example (two BXs: three isolated pions of 40, 30 and 25 GeV, then the same charges all +1):
    >>> out = w3pi_select([0, 3, 6], pt=[40.0, 30.0, 25.0] * 2, eta=[0.0, 0.5, -0.5] * 2,
    ...                   phi=[0.0, 1.5, -1.5] * 2, charge=[1, -1, 1, 1, 1, 1], pion=[True] * 6)
    >>> out.passed.tolist(), out.table["i1"].tolist(), round(float(out.table["mass"][0]), 2)
    ([True, False], [0], 91.92)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numba
import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import check_offsets, event_index
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "PION_MASS_GEV",
    "W3PI_DEFAULTS",
    "SelectionOutput",
    "W3PiCuts",
    "ht_select",
    "single_muon_select",
    "w3pi_pions",
    "w3pi_select",
]

#: Charged-pion mass (GeV), Particle Data Group (PTEP 2022, 083C01).
PION_MASS_GEV = 0.13957039


@dataclass(frozen=True)
class W3PiCuts:
    """The W -> 3 pion cuts (module docstring); defaults: the published ones.

    Attributes:
        pt_min: pT thresholds (GeV) of the third, second and leading pion.
        min_dr: every pair of pions farther apart than this in (eta, phi).
        iso_dr_min: inner radius of the isolation ring (exclusive).
        iso_dr_max: outer radius of the isolation ring (exclusive).
        max_iso: relative isolation below this.
        mass_min: invariant mass above this (GeV).
        mass_max: invariant mass below this (GeV).
    """

    pt_min: tuple[float, float, float] = (7.0, 12.0, 15.0)
    min_dr: float = 0.5
    iso_dr_min: float = 0.01
    iso_dr_max: float = 0.25
    max_iso: float = 2.0
    mass_min: float = 60.0
    mass_max: float = 100.0

    def __post_init__(self) -> None:
        lo, mid, hi = self.pt_min
        values = (*self.pt_min, self.min_dr, self.iso_dr_min, self.iso_dr_max, self.max_iso)
        if not all(math.isfinite(v) and v >= 0 for v in values) or not lo <= mid <= hi:
            msg = f"W -> 3 pi cuts {self}: expected finite non-negative cuts, pt_min increasing"
            raise ConfigError(msg)
        if self.iso_dr_min >= self.iso_dr_max or self.mass_min >= self.mass_max:
            msg = f"W -> 3 pi cuts {self}: expected iso_dr_min < iso_dr_max, mass_min < mass_max"
            raise ConfigError(msg)


#: The published cuts.
W3PI_DEFAULTS = W3PiCuts()


@dataclass(frozen=True, eq=False)
class SelectionOutput:
    """One selection's decision on each BX of an orbit, and its flat table.

    Attributes:
        passed: bool, one per BX (the BXs of the offsets given).
        table: column name -> array, one row per passing BX in BX order.
    """

    passed: B
    table: Mapping[str, np.ndarray] = field(default_factory=dict)


def _offsets(offsets: npt.ArrayLike, what: str) -> I64:
    try:
        off = check_offsets(offsets, f"offsets of {what}")
    except ConfigError as exc:
        raise DataFormatError(str(exc)) from exc
    if off.size < 1:
        msg = f"offsets of {what}: expected at least [0]"
        raise DataFormatError(msg)
    return off


def w3pi_pions(
    pdgid: npt.ArrayLike,
    quality: npt.ArrayLike,
    *,
    require_pv: bool = True,
    include_electrons: bool = False,
) -> B:
    """Which PUPPI candidates count as pions (module docstring): charge and PV association.

    Args:
        pdgid: the candidates' PDG ids as the PUPPI word codes them (130, 22, +-211, +-11, +-13).
        quality: the charged candidates' 3-bit quality (bit 0: primary-vertex associated).
        require_pv: keep only candidates with quality bit 0 set.
        include_electrons: electrons (``|pdgid| = 11``) count as pions.

    >>> w3pi_pions([211, -211, 11, 22], [1, 0, 1, 0]).tolist()
    [True, False, False, False]
    >>> w3pi_pions([211, -211, 11, 22], [1, 0, 1, 0], require_pv=False, include_electrons=True).tolist()
    [True, True, True, False]
    """
    pid = np.asarray(pdgid)  # the word's narrow integers: no widening copy of a whole orbit
    ok = (pid == 211) | (pid == -211)
    if include_electrons:
        ok |= (pid == 11) | (pid == -11)
    if require_pv:
        ok &= (np.asarray(quality) & 1).astype(np.bool_)
    out: B = ok
    return out


@numba.njit(cache=True, nogil=True)
def _dr2(eta1: float, phi1: float, eta2: float, phi2: float) -> float:  # pragma: no cover - numba
    deta = eta1 - eta2
    dphi = (phi1 - phi2 + math.pi) % (2.0 * math.pi) - math.pi
    return deta * deta + dphi * dphi


@numba.njit(cache=True, nogil=True)
def _mass(
    pt: F64, eta: F64, phi: F64, i: int, j: int, k: int, m: float
) -> float:  # pragma: no cover
    e = px = py = pz = 0.0
    for a in (i, j, k):
        pxa = pt[a] * math.cos(phi[a])
        pya = pt[a] * math.sin(phi[a])
        pza = pt[a] * math.sinh(eta[a])
        e += math.sqrt(pxa * pxa + pya * pya + pza * pza + m * m)
        px += pxa
        py += pya
        pz += pza
    m2 = e * e - px * px - py * py - pz * pz
    return math.sqrt(m2) if m2 > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def _isolated(
    i: int, lo: int, hi: int, pt: F64, eta: F64, phi: F64, iso_pt: F64, cuts: F64
) -> bool:  # pragma: no cover - numba
    r2_lo, r2_hi = cuts[4] * cuts[4], cuts[5] * cuts[5]
    total = 0.0
    for j in range(lo, hi):
        if j != i:
            d2 = _dr2(eta[i], phi[i], eta[j], phi[j])
            if r2_lo < d2 < r2_hi:
                total += iso_pt[j]
    return bool(total / pt[i] < cuts[6])


@numba.njit(cache=True, nogil=True)
def _w3pi_kernel(
    offsets: I64,
    pt: F64,
    eta: F64,
    phi: F64,
    charge: I64,
    pion: B,
    iso_pt: F64,
    cuts: F64,
    mass_pion: float,
    best: I64,
    mass: F64,
) -> None:  # pragma: no cover - numba
    """Per BX the best triplet (BX-local indices into ``best[b]``, -1: none) and its mass."""
    pt1, pt2, pt3 = cuts[2], cuts[1], cuts[0]
    dr2_min = cuts[3] * cuts[3]
    n_bx = offsets.size - 1
    # per-candidate isolation cache: 0 unknown, 1 isolated, 2 not
    iso = np.zeros(pt.size, dtype=np.int8)
    order = np.empty(pt.size, dtype=np.int64)
    for b in range(n_bx):
        lo, hi = offsets[b], offsets[b + 1]
        # the pions of this BX above the lowest threshold, by decreasing pT (ties: lower index)
        n = 0
        for i in range(lo, hi):
            if pion[i] and pt[i] >= pt3:
                j = n
                while j > 0 and pt[order[lo + j - 1]] < pt[i]:
                    order[lo + j] = order[lo + j - 1]
                    j -= 1
                order[lo + j] = i
                n += 1
        best_sum = -1.0
        for a in range(n):
            i1 = order[lo + a]
            if pt[i1] < pt1:
                break
            for b2 in range(a + 1, n):
                i2 = order[lo + b2]
                if pt[i2] < pt2:
                    break
                if _dr2(eta[i1], phi[i1], eta[i2], phi[i2]) <= dr2_min:
                    continue
                for c in range(b2 + 1, n):
                    i3 = order[lo + c]
                    if abs(charge[i1] + charge[i2] + charge[i3]) != 1:
                        continue
                    if _dr2(eta[i1], phi[i1], eta[i3], phi[i3]) <= dr2_min:
                        continue
                    if _dr2(eta[i2], phi[i2], eta[i3], phi[i3]) <= dr2_min:
                        continue
                    m = _mass(pt, eta, phi, i1, i2, i3, mass_pion)
                    if not cuts[7] < m < cuts[8]:
                        continue
                    ok = True
                    for t in (i1, i2, i3):
                        if iso[t] == 0:
                            iso[t] = 1 if _isolated(t, lo, hi, pt, eta, phi, iso_pt, cuts) else 2
                        if iso[t] == 2:
                            ok = False
                            break
                    if not ok:
                        continue
                    s = pt[i1] + pt[i2] + pt[i3]
                    t1, t2, t3 = i1 - lo, i2 - lo, i3 - lo
                    better = s > best_sum
                    if s == best_sum:
                        better = (t1, t2, t3) < (best[b, 0], best[b, 1], best[b, 2])
                    if better:
                        best_sum = s
                        best[b, 0], best[b, 1], best[b, 2] = t1, t2, t3
                        mass[b] = m


def w3pi_select(
    offsets: npt.ArrayLike,
    *,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    charge: npt.ArrayLike,
    pion: npt.ArrayLike,
    iso_pt: npt.ArrayLike | None = None,
    cuts: W3PiCuts = W3PI_DEFAULTS,
) -> SelectionOutput:
    """The W -> 3 pion selection on every BX (module docstring).

    Args:
        offsets: per-BX offsets of the PUPPI candidates (n_bx + 1).
        pt: candidate pT (GeV, as the PUPPI word carries it).
        eta: candidate pseudorapidity.
        phi: candidate azimuth (rad).
        charge: candidate charge (-1, 0, +1).
        pion: which candidates are pions (:func:`w3pi_pions`); candidates of
            pT 0 (below the word's 0.25 GeV step) never are.
        iso_pt: each candidate's pT in the isolation sums (GeV; the PUPPI-weighted
            pT ``pT x PuppiW``); default ``pt``.
        cuts: the cuts.

    Returns:
        ``passed`` per BX and the table (one row per passing BX): ``bx_index``
        (the BX's position in *offsets*), ``i1, i2, i3`` (BX-local indices of the
        pions, by decreasing pT), ``pt1, pt2, pt3`` (GeV), ``mass`` (GeV).

    Raises:
        DataFormatError: offsets or columns of the wrong length, or NaN values.
    """
    off = _offsets(offsets, "PUPPI candidates")
    n = int(off[-1])
    pt_ = flat_array(pt, "pt", n)
    eta_, phi_ = flat_array(eta, "eta", n), flat_array(phi, "phi", n)
    q = flat_array(charge, "charge", n, dtype=np.int64)
    pions = np.ascontiguousarray(np.asarray(pion, dtype=np.bool_))
    if pions.shape != (n,):
        msg = f"pion: expected {n} flags, got shape {pions.shape}"
        raise DataFormatError(msg)
    pions = pions & (pt_ > 0)  # a zero-pT word (below the 0.25 GeV step) is never a pion
    iso = pt_ if iso_pt is None else flat_array(iso_pt, "iso_pt", n)
    c = np.array(
        [*cuts.pt_min, cuts.min_dr, cuts.iso_dr_min, cuts.iso_dr_max, cuts.max_iso],
        dtype=np.float64,
    )
    c = np.append(c, [cuts.mass_min, cuts.mass_max])
    n_bx = off.size - 1
    best = np.full((n_bx, 3), -1, dtype=np.int64)
    mass = np.zeros(n_bx, dtype=np.float64)
    _w3pi_kernel(off, pt_, eta_, phi_, q, pions, iso, c, PION_MASS_GEV, best, mass)
    passed: B = best[:, 0] >= 0
    rows = np.flatnonzero(passed)
    glob = best[rows] + off[rows, None]
    table = {
        "bx_index": rows.astype(np.int64),
        "i1": best[rows, 0],
        "i2": best[rows, 1],
        "i3": best[rows, 2],
        "pt1": pt_[glob[:, 0]],
        "pt2": pt_[glob[:, 1]],
        "pt3": pt_[glob[:, 2]],
        "mass": mass[rows],
    }
    return SelectionOutput(passed, table)


def _leading(off: I64, values: F64, keep: B) -> tuple[B, I64]:
    """Per BX: any kept entry, and the flat index of the highest kept value (-1: none)."""
    n_bx = off.size - 1
    ev = event_index(off)
    idx = np.flatnonzero(keep)
    lead = np.full(n_bx, -1, dtype=np.int64)
    if idx.size:
        order = idx[np.lexsort((idx, -values[idx], ev[idx]))]
        first = np.ones(order.size, dtype=np.bool_)
        first[1:] = ev[order[1:]] != ev[order[:-1]]
        lead[ev[order[first]]] = order[first]
    has: B = lead >= 0
    return has, lead


def single_muon_select(
    offsets: npt.ArrayLike,
    *,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    quality: npt.ArrayLike | None = None,
    pt_min: float = 22.0,
    eta_max: float = 2.4,
    quality_min: int = 0,
) -> SelectionOutput:
    """BXs with at least one muon of ``pT >= pt_min`` GeV, ``|eta| <= eta_max``, quality ``>= quality_min``.

    The table: ``bx_index``, ``pt`` and ``eta`` of the highest-pT passing muon.

    >>> out = single_muon_select([0, 2, 3, 3], pt=[30.0, 25.0, 10.0], eta=[2.5, 0.1, 0.0])
    >>> out.passed.tolist(), out.table["pt"].tolist()
    ([True, False, False], [25.0])
    """
    off = _offsets(offsets, "muons")
    n = int(off[-1])
    pt_, eta_ = flat_array(pt, "pt", n), flat_array(eta, "eta", n)
    keep = (pt_ >= pt_min) & (np.abs(eta_) <= eta_max)
    if quality is not None and quality_min > 0:
        keep &= flat_array(quality, "quality", n, dtype=np.int64) >= quality_min
    has, lead = _leading(off, pt_, keep)
    rows = np.flatnonzero(has)
    table = {"bx_index": rows.astype(np.int64), "pt": pt_[lead[rows]], "eta": eta_[lead[rows]]}
    return SelectionOutput(has, table)


def ht_select(ht: npt.ArrayLike, *, ht_min: float = 400.0) -> SelectionOutput:
    """BXs whose HT (GeV, the sums word's; one value per BX) is at least ``ht_min`` GeV.

    The table: ``bx_index`` and ``ht``.

    >>> out = ht_select([450.0, 120.0, 400.0], ht_min=400.0)
    >>> out.passed.tolist(), out.table["ht"].tolist()
    ([True, False, True], [450.0, 400.0])
    """
    h = flat_array(ht, "ht")
    passed: B = h >= ht_min
    rows = np.flatnonzero(passed)
    return SelectionOutput(passed, {"bx_index": rows.astype(np.int64), "ht": h[rows]})
