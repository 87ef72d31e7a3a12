"""Hadronic-tau candidates from the PUPPI candidates of each event, three ways.

The three builders read the same flat batch (``offsets``, ``pt``, ``eta``,
``phi`` of the PUPPI candidates, optionally their PUPPI weights) and return the
same :class:`TauCandidates`: per candidate its pT, eta, phi, a seed and its
constituents. See ``docs/physics/taus.md``.

* :func:`nnpuppitau_candidates`: the seeded cones of the CMS Phase-2 Level-1
  tau producer NNPuppiTau (CMSSW ``L1Trigger/Phase2L1ParticleFlow``,
  ``L1NNTauProducer``, its hardware-emulation path; CMS-DP-2024-018).
* :func:`clue_tau_candidates`: CLUE clusters (:func:`l1scout.reco.clue.clue_batch`)
  in (eta, phi), phi periodic, weighted by pT, as the soft-tau study of the
  Phase-2 L1 scouting stream uses them instead of anti-kT.
* :func:`ak4_tau_candidates`: anti-kT R = 0.4 jets (Cacciari, Salam, Soyez,
  JHEP 04 (2008) 063) through :func:`l1scout.reco.jets.cluster_jets`.

**Inputs.** The candidates' pT used everywhere is ``pt * weights`` (GeV) when
PUPPI weights are given, else ``pt``; a candidate whose pT so computed is 0 is
ignored (never a seed or a constituent), as CMS drops PUPPI candidates of zero
weight. Candidates are massless here (four-momenta from pT, eta, phi).

**Particle types** (:func:`puppi_type`), from the ``PID`` and ``Charge`` the
l1scout views store for a particle-flow candidate (the true PDG id for a
track, 22 for an ECAL neutral, 0 for an HCAL neutral): a charged candidate
with ``|PID| == 11`` is an electron, with ``|PID| == 13`` a muon, any other
charged one a charged hadron; a neutral one with ``PID == 22`` a photon, any
other neutral one a neutral hadron. The codes 0-4 follow NNPuppiTau's one-hot
order (photon, electron, muon, neutral hadron, charged hadron).

**Output.** Candidates are sorted by pT, descending, in each event;
``constituents`` are *global* indices into the input arrays (subtract
``offsets[event]`` of the input for the index within the event), sorted by
the constituents' pT, descending (ties by index), in every candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import PtEtaPhiBatch, check_offsets, event_index, offsets_from_counts
from l1scout._types import F64, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import particle_type_one_hot
from l1scout.reco.clue import clue_batch
from l1scout.reco.jets import JetDefinitionSpec, cluster_jets

__all__ = [
    "CHARGED_HADRON",
    "CLUE_TAU_DC",
    "CLUE_TAU_DM",
    "CLUE_TAU_RHOC",
    "ELECTRON",
    "MUON",
    "NEUTRAL_HADRON",
    "PHOTON",
    "PUPPI_TYPE_NAMES",
    "TauCandidates",
    "ak4_tau_candidates",
    "clue_tau_candidates",
    "nnpuppitau_candidates",
    "puppi_type",
]

#: particle-type codes of :func:`puppi_type` (NNPuppiTau's one-hot order)
PHOTON = 0
ELECTRON = 1
MUON = 2
NEUTRAL_HADRON = 3
CHARGED_HADRON = 4
#: io.ragged.PARTICLE_TYPES order (photon, electron, muon, charged hadron, neutral hadron) -> code
_FROM_ONE_HOT = np.array([PHOTON, ELECTRON, MUON, CHARGED_HADRON, NEUTRAL_HADRON], dtype=np.int8)
#: the names of the type codes 0-4
PUPPI_TYPE_NAMES = ("photon", "electron", "muon", "neutral_hadron", "charged_hadron")

#: CLUE density radius in (eta, phi) for tau candidates (the public soft-tau defaults)
CLUE_TAU_DC = 0.2
#: CLUE minimum seed density for tau candidates, GeV of pT
CLUE_TAU_RHOC = 5.0
#: CLUE outlier distance in (eta, phi) for tau candidates
CLUE_TAU_DM = 0.4


@dataclass(frozen=True, eq=False)
class TauCandidates(PtEtaPhiBatch):
    """Tau candidates of a batch: flat arrays plus offsets, pT descending in each event.

    Attributes:
        offsets: int64, length n_events + 1; event k owns candidates
            ``offsets[k]:offsets[k + 1]``.
        pt: candidate pT, GeV (its definition depends on the builder).
        eta: candidate pseudorapidity.
        phi: candidate azimuth, rad, in [-pi, pi].
        seed: int64 global index (into the input arrays) of the candidate's
            seed: NNPuppiTau's seed, CLUE's seed point, or a jet's
            highest-pT constituent.
        constituent_offsets: int64, length n_candidates + 1; candidate j owns
            ``constituents[constituent_offsets[j]:constituent_offsets[j + 1]]``.
        constituents: int64 global indices into the input arrays, pT
            descending (ties by index) within a candidate.

    >>> c = nnpuppitau_candidates([0, 2], [30.0, 5.0], [0.0, 0.05], [1.0, 1.0], [211, 22], [1, 0])
    >>> c.pt.tolist(), c.seed.tolist(), c.constituents.tolist(), c.n_constituents.tolist()
    ([35.0], [0], [0, 1], [2])
    """

    offsets: I64
    pt: F64
    eta: F64
    phi: F64
    seed: I64
    constituent_offsets: I64
    constituents: I64

    @property
    def n_constituents(self) -> I64:
        """Constituents of every candidate."""
        return np.diff(self.constituent_offsets)


def puppi_type(pid: npt.ArrayLike, charge: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Particle-type code (:data:`PHOTON` ... :data:`CHARGED_HADRON`) of PUPPI candidates.

    Args:
        pid: the candidates' ``PID`` (PDG id of a track; 22 / 0 for ECAL / HCAL neutrals).
        charge: the candidates' ``Charge``, e.

    Returns:
        int8 codes: 0 photon, 1 electron, 2 muon, 3 neutral hadron, 4 charged hadron.

    Raises:
        DataFormatError: the arrays differ in shape.

    >>> puppi_type([211, -11, 13, 22, 0, 2212], [1, 1, -1, 0, 0, 1]).tolist()
    [4, 1, 2, 0, 3, 4]
    """
    p = np.asarray(pid, dtype=np.int64)
    q = np.asarray(charge)
    if p.shape != q.shape:
        raise DataFormatError(f"charge: expected the shape of pid {p.shape}, got {q.shape}")
    # the one home of the rule: io.ragged.particle_type_one_hot (PARTICLE_TYPES order)
    out: npt.NDArray[np.int8] = _FROM_ONE_HOT[np.argmax(particle_type_one_hot(p, q), axis=-1)]
    return out


# ---------------------------------------------------------------------------
# NNPuppiTau seeded cones


def nnpuppitau_candidates(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    pid: npt.ArrayLike,
    charge: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    pt_min: float = 20.0,
    max_taus: int = 5,
    photon_seeds: bool = False,
    cone: float = 0.4,
    core: float = 0.1,
    seed_eta_max: float = 2.5,
) -> TauCandidates:
    """NNPuppiTau's seeded-cone taus of every event.

    The rules of the CMS Phase-2 Level-1 tau producer (``L1NNTauProducer``,
    hardware path), per event:

    1. seeds: charged hadrons and electrons (and photons with
       *photon_seeds*) with ``|eta| < seed_eta_max``, in decreasing pT;
    2. the highest remaining seed collects every remaining candidate (any
       type, any eta) with ``dR < cone``; these candidates, the other seeds
       among them included, are removed before the next seed;
    3. the tau pT is the scalar sum of the pT of the charged hadrons,
       electrons and photons of the cone with ``dR < core`` of the seed (the
       seed included; muons and neutral hadrons do not count); its eta and phi
       are the seed's;
    4. a tau with ``pT >= pt_min`` is kept; the loop stops after *max_taus*
       kept taus or when no seed is left. A cone below *pt_min* is not kept
       and does not count towards *max_taus*, but its candidates stay removed.

    The constituents are the cone's candidates. ``dR`` is
    ``sqrt(deta^2 + dphi^2)``, phi wrapped.

    Args:
        offsets: int64 event offsets, length n_events + 1.
        pt: candidate pT, GeV (unweighted when *weights* are given).
        eta: candidate pseudorapidity.
        phi: candidate azimuth, rad.
        pid: candidate ``PID`` (see :func:`puppi_type`).
        charge: candidate ``Charge``, e.
        weights: optional PUPPI weights: pT becomes ``pt * weights``.
        pt_min: smallest tau pT kept, GeV. NNPuppiTau's 20 GeV is the default;
            a soft-tau study (taus of 5-60 GeV) needs a lower one.
        max_taus: most taus kept per event (NNPuppiTau: 5).
        photon_seeds: also seed from photons (CMSSW's ``emseed``, which its
            producer's configuration turns on).
        cone: cone radius in (eta, phi).
        core: radius of the pT sum in (eta, phi).
        seed_eta_max: a seed has ``|eta| < seed_eta_max`` (the track-trigger
            acceptance).

    Returns:
        The taus, pT descending in each event.

    Raises:
        DataFormatError: arrays of the wrong length, not finite, or negative
            pT or weights.
        ConfigError: bad offsets or a parameter out of range.

    The lower seed inside the first cone is no seed; the photon counts in the pT:

    >>> c = nnpuppitau_candidates(
    ...     [0, 3], [25.0, 22.0, 4.0], [0.0, 0.2, 0.05], [0.0, 0.0, 0.0], [211, -211, 22], [1, -1, 0])
    >>> c.pt.tolist(), c.constituents.tolist()
    ([29.0], [0, 1, 2])
    """
    off, ptw, eta_a, phi_a = _inputs(offsets, pt, eta, phi, weights)
    n = ptw.shape[0]
    ptype = puppi_type(flat_array(pid, "pid", n), flat_array(charge, "charge", n))
    pt_min_f = _non_negative("pt_min", pt_min)
    cone_f = _radius("cone", cone)
    core_f = _radius("core", core)
    eta_max_f = _radius("seed_eta_max", seed_eta_max)
    if isinstance(max_taus, bool) or not isinstance(max_taus, (int, np.integer)) or max_taus < 1:
        raise ConfigError(f"max_taus: expected an integer >= 1, got {max_taus!r}")
    is_seed_type = (ptype == CHARGED_HADRON) | (ptype == ELECTRON)
    if photon_seeds:
        is_seed_type |= ptype == PHOTON
    in_core_type = is_seed_type | (ptype == PHOTON)
    event = event_index(off)
    order = np.lexsort((-ptw, event)).astype(np.int64)  # pT descending, stable, in each event
    n_events = off.shape[0] - 1
    t_pt, t_seed, t_count, c_index, c_count = _cones(
        off,
        order,
        ptw,
        eta_a,
        phi_a,
        is_seed_type & (np.abs(eta_a) < eta_max_f) & (ptw > 0),
        in_core_type,
        cone_f * cone_f,
        core_f * core_f,
        pt_min_f,
        int(max_taus),
    )
    slot = np.arange(max_taus, dtype=np.int64)[None, :] < t_count[:, None]
    tau_pt = t_pt.reshape(n_events, max_taus)[slot]
    tau_seed = t_seed.reshape(n_events, max_taus)[slot]
    n_const = c_count.reshape(n_events, max_taus)[slot]
    # constituents of event k's taus sit at off[k]:off[k] + their total, in tau order
    total = np.zeros(n_events, dtype=np.int64)
    np.add.at(total, np.repeat(np.arange(n_events), t_count), n_const)
    used = np.arange(n, dtype=np.int64) - np.repeat(off[:-1], np.diff(off)) < np.repeat(
        total, np.diff(off)
    )
    const = c_index[used]
    return _assemble(
        n_events,
        np.repeat(np.arange(n_events, dtype=np.int64), t_count),
        tau_pt,
        eta_a[tau_seed],
        phi_a[tau_seed],
        tau_seed,
        np.repeat(np.arange(tau_pt.shape[0], dtype=np.int64), n_const),
        const,
        ptw,
    )


@numba.njit(cache=True, parallel=True)
def _cones(
    off: I64,
    order: I64,
    pt: F64,
    eta: F64,
    phi: F64,
    can_seed: npt.NDArray[np.bool_],
    in_core: npt.NDArray[np.bool_],
    cone2: float,
    core2: float,
    pt_min: float,
    max_taus: int,
) -> tuple[F64, I64, I64, I64, I64]:  # pragma: no cover - compiled
    """Seeded cones of every event (rules in :func:`nnpuppitau_candidates`).

    Event k writes its taus to slots ``k * max_taus + t`` (pT, seed, constituent
    count) and their constituents, tau after tau, from ``off[k]`` on.
    """
    n_events = off.shape[0] - 1
    t_pt = np.zeros(n_events * max_taus)
    t_seed = np.full(n_events * max_taus, -1, np.int64)
    t_count = np.zeros(n_events, np.int64)
    c_count = np.zeros(n_events * max_taus, np.int64)
    c_index = np.full(order.shape[0], -1, np.int64)
    two_pi = 2.0 * math.pi
    for k in numba.prange(n_events):
        a = off[k]
        b = off[k + 1]
        alive = np.empty(b - a, np.bool_)
        for i in range(b - a):
            alive[i] = pt[order[a + i]] > 0.0
        n_taus = 0
        write = a
        for s in range(b - a):
            seed = order[a + s]
            if n_taus >= max_taus:
                break
            if not (alive[s] and can_seed[seed]):
                continue
            start = write
            tau_pt = 0.0
            for i in range(b - a):  # in pT order, so the constituents come pT descending
                if not alive[i]:
                    continue
                j = order[a + i]
                de = eta[j] - eta[seed]
                dp = (phi[j] - phi[seed] + math.pi) % two_pi - math.pi
                d2 = de * de + dp * dp
                if d2 < cone2:
                    alive[i] = False
                    c_index[write] = j
                    write += 1
                    if d2 < core2 and in_core[j]:
                        tau_pt += pt[j]
            if tau_pt >= pt_min:
                slot = k * max_taus + n_taus
                t_pt[slot] = tau_pt
                t_seed[slot] = seed
                c_count[slot] = write - start
                n_taus += 1
            else:
                write = start
        t_count[k] = n_taus
    return t_pt, t_seed, t_count, c_index, c_count


# ---------------------------------------------------------------------------
# CLUE clusters


def clue_tau_candidates(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    dc: float = CLUE_TAU_DC,
    rhoc: float = CLUE_TAU_RHOC,
    dm: float = CLUE_TAU_DM,
    seed_dc: float | None = None,
    pt_min: float = 0.0,
) -> TauCandidates:
    """CLUE clusters of every event's candidates in (eta, phi) as tau candidates.

    CLUE (:func:`l1scout.reco.clue.clue_batch`, current rules) runs on the
    points (eta, phi), phi periodic with period 2 pi, each weighted by its pT.
    Every cluster is a candidate; outliers belong to none. A candidate's pT is
    the *vector* sum of its constituents' transverse momenta (as an E-scheme
    jet's; the scalar sum, CLUE's total weight, is at least as large), its phi
    the direction of that sum (the pT-weighted circular mean, right across
    phi = +-pi), its eta the pT-weighted mean of the constituents' eta, and
    its seed CLUE's seed point.

    Args:
        offsets: int64 event offsets, length n_events + 1.
        pt: candidate pT, GeV (unweighted when *weights* are given).
        eta: candidate pseudorapidity.
        phi: candidate azimuth, rad.
        weights: optional PUPPI weights: pT becomes ``pt * weights``.
        dc: density radius in (eta, phi). Default :data:`CLUE_TAU_DC` = 0.2.
        rhoc: smallest seed density, GeV. Default :data:`CLUE_TAU_RHOC` = 5.
        dm: outlier distance in (eta, phi). Default :data:`CLUE_TAU_DM` = 0.4.
        seed_dc: seeding distance (default *dc*).
        pt_min: smallest candidate pT kept, GeV (default 0: every cluster).

    Returns:
        The candidates, pT descending in each event.

    Raises:
        DataFormatError: arrays of the wrong length, not finite, or negative
            pT or weights.
        ConfigError: bad offsets or a CLUE parameter out of range.

    One cluster across phi = pi (pT 2 x 10 cos(0.0416) GeV); the isolated
    point, of density 1 GeV < rhoc, is an outlier:

    >>> c = clue_tau_candidates([0, 3], [10.0, 10.0, 1.0], [0.0, 0.0, 1.0], [3.1, -3.1, 0.0])
    >>> c.pt.round(3).tolist(), c.phi.round(3).tolist(), c.constituents.tolist()
    ([19.983], [3.142], [0, 1])
    """
    off, ptw, eta_a, phi_a = _inputs(offsets, pt, eta, phi, weights)
    pt_min_f = _non_negative("pt_min", pt_min)
    n_events = off.shape[0] - 1
    event = event_index(off)
    sel = np.flatnonzero(ptw > 0).astype(np.int64)
    ev = event[sel]
    sub_off = offsets_from_counts(np.bincount(ev, minlength=n_events))
    res = clue_batch(
        np.column_stack((eta_a[sel], phi_a[sel])),
        ptw[sel],
        sub_off,
        dc=dc,
        rhoc=rhoc,
        dm=dm,
        seed_dc=seed_dc,
        periodic=[1],
    )
    cl_off = offsets_from_counts(np.bincount(ev[res.is_seed], minlength=n_events))
    member = res.cluster >= 0
    gid = cl_off[ev[member]] + res.cluster[member]
    index = sel[member]
    n_cl = int(cl_off[-1])
    p = ptw[index]
    px = np.bincount(gid, weights=p * np.cos(phi_a[index]), minlength=n_cl)
    py = np.bincount(gid, weights=p * np.sin(phi_a[index]), minlength=n_cl)
    sum_pt = np.bincount(gid, weights=p, minlength=n_cl)
    sum_eta = np.bincount(gid, weights=p * eta_a[index], minlength=n_cl)
    seed = np.empty(n_cl, dtype=np.int64)
    seed[cl_off[ev[res.is_seed]] + res.cluster[res.is_seed]] = sel[res.is_seed]
    cand_event = np.repeat(np.arange(n_events, dtype=np.int64), np.diff(cl_off))
    return _assemble(
        n_events,
        cand_event,
        np.hypot(px, py),
        sum_eta / np.where(sum_pt > 0, sum_pt, 1.0),
        np.arctan2(py, px),
        seed,
        gid,
        index,
        ptw,
        pt_min_f,
    )


# ---------------------------------------------------------------------------
# anti-kT jets


def ak4_tau_candidates(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    pt_min: float = 5.0,
    radius: float = 0.4,
) -> TauCandidates:
    """Anti-kT jets of every event's candidates as tau candidates.

    :func:`l1scout.reco.jets.cluster_jets` (FastJet, E-scheme) clusters the
    massless four-momenta of the candidates of pT > 0. A candidate is a jet
    with ``pT >= pt_min``: its pT, pseudorapidity and phi are the jet's, its
    seed the jet's highest-pT constituent.

    Args:
        offsets: int64 event offsets, length n_events + 1.
        pt: candidate pT, GeV (unweighted when *weights* are given).
        eta: candidate pseudorapidity.
        phi: candidate azimuth, rad.
        weights: optional PUPPI weights: pT becomes ``pt * weights``.
        pt_min: smallest jet pT, GeV (default 5, l1scout's choice: taus of
            the soft-tau study start at 5 GeV visible pT).
        radius: anti-kT distance parameter R (default 0.4).

    Returns:
        The candidates, pT descending in each event.

    Raises:
        DataFormatError: arrays of the wrong length, not finite, or negative
            pT or weights.
        ConfigError: bad offsets, *pt_min* or *radius*.

    >>> c = ak4_tau_candidates([0, 3], [10.0, 8.0, 6.0], [0.0, 0.1, 2.0], [0.0, 0.0, 0.0])
    >>> c.pt.round(3).tolist(), c.seed.tolist(), c.constituents.tolist()
    ([18.0, 6.0], [0, 2], [0, 1, 2])
    """
    off, ptw, eta_a, phi_a = _inputs(offsets, pt, eta, phi, weights)
    spec = JetDefinitionSpec("antikt", float(radius), _non_negative("pt_min", pt_min))
    n_events = off.shape[0] - 1
    on = ptw > 0
    eta_on = np.where(on, eta_a, 0.0)
    jets = cluster_jets(
        off,
        ptw * np.cos(phi_a),
        ptw * np.sin(phi_a),
        ptw * np.sinh(eta_on),
        ptw * np.cosh(eta_on),
        spec,
        weights=on.astype(np.float64),
    )
    n_jets = jets.pt.shape[0]
    jet_event = np.repeat(np.arange(n_events, dtype=np.int64), np.diff(jets.offsets))
    n_const = np.diff(jets.constituent_offsets)
    const = off[np.repeat(jet_event, n_const)] + jets.constituents
    const_jet = np.repeat(np.arange(n_jets, dtype=np.int64), n_const)
    out = _assemble(
        n_events,
        jet_event,
        jets.pt,
        jets.eta,
        jets.phi,
        np.zeros(n_jets, dtype=np.int64),
        const_jet,
        const,
        ptw,
    )
    # every jet has a constituent; the first one is the highest-pT one
    return TauCandidates(
        offsets=out.offsets,
        pt=out.pt,
        eta=out.eta,
        phi=out.phi,
        seed=out.constituents[out.constituent_offsets[:-1]],
        constituent_offsets=out.constituent_offsets,
        constituents=out.constituents,
    )


# ---------------------------------------------------------------------------
# helpers


def _assemble(
    n_events: int,
    cand_event: I64,
    pt: F64,
    eta: F64,
    phi: F64,
    seed: I64,
    const_cand: I64,
    const_index: I64,
    ptw: F64,
    pt_min: float = 0.0,
) -> TauCandidates:
    """Candidates with ``pt >= pt_min``, pT descending per event, constituents pT descending."""
    order = np.lexsort((-pt, cand_event))
    order = order[pt[order] >= pt_min]
    new_id = np.full(pt.shape[0], -1, dtype=np.int64)
    new_id[order] = np.arange(order.shape[0], dtype=np.int64)
    cc = new_id[const_cand]
    kept = cc >= 0
    cc, ci = cc[kept], const_index[kept]
    corder = np.lexsort((ci, -ptw[ci], cc))
    return TauCandidates(
        offsets=offsets_from_counts(np.bincount(cand_event[order], minlength=n_events)),
        pt=np.ascontiguousarray(pt[order], dtype=np.float64),
        eta=np.ascontiguousarray(eta[order], dtype=np.float64),
        phi=np.ascontiguousarray(phi[order], dtype=np.float64),
        seed=np.ascontiguousarray(seed[order], dtype=np.int64),
        constituent_offsets=offsets_from_counts(np.bincount(cc, minlength=order.shape[0])),
        constituents=np.ascontiguousarray(ci[corder], dtype=np.int64),
    )


def _inputs(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    weights: npt.ArrayLike | None,
) -> tuple[I64, F64, F64, F64]:
    """Checked offsets, pT (times the weights), eta and phi."""
    off = check_offsets(offsets, "offsets")
    n = int(off[-1])
    ptw = flat_array(pt, "pt", n)
    if np.any(ptw < 0):
        raise DataFormatError("pt: expected non-negative values (GeV)")
    if weights is not None:
        w = flat_array(weights, "weights", n)
        if np.any(w < 0):
            raise DataFormatError("weights: expected non-negative PUPPI weights")
        ptw = ptw * w
    return off, ptw, flat_array(eta, "eta", n), flat_array(phi, "phi", n)


def _non_negative(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from exc
    if not (math.isfinite(v) and v >= 0):
        raise ConfigError(f"{name}: expected a finite number >= 0, got {v}")
    return v


def _radius(name: str, value: float) -> float:
    v = _non_negative(name, value)
    if v == 0:
        raise ConfigError(f"{name}: expected a distance > 0, got {v}")
    return v
