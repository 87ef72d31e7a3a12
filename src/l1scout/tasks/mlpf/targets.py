"""The MLPF target definition: which generator particle each track and tower should predict.

Machine-learned particle flow (MLPF; J. Pata et al., "Improved particle-flow
event reconstruction with scalable neural networks for current and future
particle detectors", Commun. Phys. 7 (2024) 124; CMS, arXiv:2601.17554) reads
an event's *elements*, its tracks and calorimeter towers, and predicts for each
element none or one particle. This module builds those per-element targets from
the detector simulation's truth, as pure functions on flat arrays with
per-event offsets (:func:`mlpf_targets`; :func:`mlpf_targets_from_columns` reads
them from a mapping of file columns). The full definition, with the reasons
for each choice, is in ``docs/physics/mlpf-targets.md``; in short:

1. **Elements**: an event's tracks, then its towers; element ``i < n_tracks``
   is track ``i``, element ``n_tracks + j`` is tower ``j``.
2. **Candidates**: the visible stable generator particles, ``Status`` 1 and not
   invisible (neutrinos and the other ids of
   ``l1scout.detector.particles.INVISIBLE_PIDS``, the same rule as
   ``GenParticles.visible``).
3. **Assignment**, each candidate to at most one element: the track whose
   ``GenIndex`` is the particle (the first such track if several); else the
   tower holding most of its deposited energy (the sum of its
   ``TowerContrib`` rows per tower, rows with ``E = 0`` ignored; ties: the
   lowest tower index); else none: the particle is *lost* (outside the
   acceptance), not a target, and counted in the bookkeeping.
4. **Merging**: a track's target is its particle. A tower's target is the sum
   of the four-momenta of every particle assigned to it (energy and momentum
   conserved, as the reference merges unassigned particles into a host), with
   the class and ``gen_index`` of the most energetic of them (ties: lowest
   generator index).
5. **Class** by element type (what the element can measure, as in the
   reference): on a track an electron stays an electron (4), a muon a muon
   (5), anything else is a charged hadron (1); on a tower electrons and
   photons are photons (3), everything else a neutral hadron (2).
6. **Pileup**: ``pu_fraction`` = sum(IsPU x E) / sum(E) over the particles
   behind the target; the label ``is_pu`` is 1 iff all of them are pileup
   (the fraction is 1).

Energies and momenta in GeV (float64), angles in rad; elements without a
target have ``is_particle`` 0, ``cls`` 0, zeros elsewhere and ``gen_index`` -1.
Per event, ``accepted_energy`` (visible particles that reached an element)
equals ``target_energy`` (the sum of the element targets) up to rounding, and
``accepted_energy + lost_energy == visible_energy``.

Example:
    A charged pion with a track and a tower deposit, and a photon alone in a
    second tower: the track gets the pion, the photon's tower the photon, the
    pion's tower nothing.

    >>> t = mlpf_targets(
    ...     gen_offsets=[0, 2], gen_pid=[211, 22], gen_status=[1, 1], gen_charge=[1, 0],
    ...     gen_pt=[10.0, 5.0], gen_eta=[0.0, 1.0], gen_phi=[0.0, 2.0], gen_mass=[0.13957, 0.0],
    ...     gen_is_pu=[0, 1], track_offsets=[0, 1], track_gen_index=[0], tower_offsets=[0, 2],
    ...     contrib_offsets=[0, 2], contrib_tower=[0, 1], contrib_gen_index=[0, 1],
    ...     contrib_energy=[7.0, 7.5],
    ... )
    >>> t.elements.cls.tolist(), t.elements.gen_index.tolist(), t.elements.is_pu.tolist()
    ([1, 0, 3], [0, -1, 1], [0, 0, 1])
    >>> t.gen_element.tolist(), round(float(t.bookkeeping.lost_energy[0]), 6)
    ([0, 2], 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import Jagged, check_offsets, eta_phi_pt, event_index, offsets_from_counts
from l1scout._types import F64, I64
from l1scout.detector.particles import INVISIBLE_PIDS
from l1scout.errors import DataFormatError

__all__ = [
    "CLASS_NAMES",
    "CLS_CHARGED_HADRON",
    "CLS_ELECTRON",
    "CLS_MUON",
    "CLS_NEUTRAL_HADRON",
    "CLS_NONE",
    "CLS_PHOTON",
    "ElementTargets",
    "MLPFTargets",
    "TargetBookkeeping",
    "mlpf_targets",
    "mlpf_targets_from_columns",
    "particle_class",
]

#: target class: no particle
CLS_NONE = 0
#: target class: charged hadron
CLS_CHARGED_HADRON = 1
#: target class: neutral hadron
CLS_NEUTRAL_HADRON = 2
#: target class: photon
CLS_PHOTON = 3
#: target class: electron
CLS_ELECTRON = 4
#: target class: muon
CLS_MUON = 5
#: names of the target classes, indexed by class code
CLASS_NAMES = ("none", "charged hadron", "neutral hadron", "photon", "electron", "muon")

# class of a particle behind a track / a tower, indexed by its own class (particle_class)
_ON_TRACK = np.array([0, 1, 1, 1, 4, 5], dtype=np.int8)
_ON_TOWER = np.array([0, 2, 2, 3, 3, 2], dtype=np.int8)
# |eta| beyond which Gen_Part's pseudorapidity is the +-999.9 of a pT = 0 particle
_ETA_ALONG_BEAM = 100.0


@dataclass(frozen=True)
class ElementTargets:
    """Per-element targets of a batch, flat over events (tracks then towers per event).

    Attributes:
        offsets: per-event element offsets (n_events + 1); event k has
            ``n_tracks[k] + n_towers[k]`` elements.
        is_track: True for a track, False for a tower.
        is_particle: 1 where the element has a target particle, else 0.
        cls: target class (:data:`CLASS_NAMES`; 0 for none).
        pt: transverse momentum (GeV).
        eta: pseudorapidity.
        sin_phi: sine of the azimuth.
        cos_phi: cosine of the azimuth (1 for no target).
        energy: energy (GeV).
        is_pu: 1 iff every particle behind the target is from pileup.
        pu_fraction: sum(IsPU x E) / sum(E) over the particles behind the target.
        gen_index: ``Gen_Part`` index (within the event) of the main particle, -1 for none.
        n_particles: number of generator particles merged into the target.
    """

    offsets: I64
    is_track: npt.NDArray[np.bool_]
    is_particle: npt.NDArray[np.int8]
    cls: npt.NDArray[np.int8]
    pt: F64
    eta: F64
    sin_phi: F64
    cos_phi: F64
    energy: F64
    is_pu: npt.NDArray[np.int8]
    pu_fraction: F64
    gen_index: I64
    n_particles: I64


@dataclass(frozen=True)
class TargetBookkeeping:
    """Per-event energy and particle accounting of the assignment (arrays of n_events).

    ``accepted + lost == visible`` (counts exactly, energies up to rounding), and
    ``target_energy`` equals ``accepted_energy`` up to rounding: merging conserves energy.

    Attributes:
        n_visible: visible stable generator particles.
        n_accepted: those assigned to an element (in the acceptance).
        n_lost: those assigned to no element (outside the acceptance).
        visible_energy: their energy (GeV).
        accepted_energy: energy of the accepted particles (GeV).
        lost_energy: energy of the lost particles (GeV).
        target_energy: sum of the element targets' energies (GeV).
    """

    n_visible: I64
    n_accepted: I64
    n_lost: I64
    visible_energy: F64
    accepted_energy: F64
    lost_energy: F64
    target_energy: F64


@dataclass(frozen=True)
class MLPFTargets:
    """The targets of a batch: per element, per generator particle, per event.

    Attributes:
        elements: the per-element targets.
        gen_element: for every ``Gen_Part`` entry (flat), the index within its
            event of the element it was assigned to, -1 for none (not visible,
            or lost).
        bookkeeping: the per-event accounting.
    """

    elements: ElementTargets
    gen_element: I64
    bookkeeping: TargetBookkeeping


def particle_class(pid: npt.ArrayLike, charge: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Class of generator particles by their id and charge (before the element-type mapping).

    Electrons (|PID| 11), muons (13) and photons (22) are themselves; any
    other particle is a charged hadron if charged, else a neutral hadron.

    >>> particle_class([211, -11, 22, 130, 13, 2112, -321], [1, 1, 0, 0, -1, 0, -1]).tolist()
    [1, 4, 3, 2, 5, 2, 1]
    """
    apid = np.abs(np.asarray(pid, dtype=np.int64))
    q = np.asarray(charge)
    out = np.where(q != 0, CLS_CHARGED_HADRON, CLS_NEUTRAL_HADRON)
    out = np.where(apid == 11, CLS_ELECTRON, out)
    out = np.where(apid == 13, CLS_MUON, out)
    out = np.where(apid == 22, CLS_PHOTON, out)
    return np.asarray(out, dtype=np.int8)


def _visible(pid: I64, status: I64) -> npt.NDArray[np.bool_]:
    """Visible stable particles: the rule of ``GenParticles.visible`` on plain arrays."""
    apid = np.abs(pid)
    invisible = np.isin(apid, np.fromiter(INVISIBLE_PIDS, dtype=np.int64)) | (
        (apid >= 4_900_000) & (apid < 5_000_000)
    )
    return np.asarray((status == 1) & ~invisible, dtype=np.bool_)


def _event_offsets(offsets: npt.ArrayLike, name: str, n_events: int) -> I64:
    off = check_offsets(offsets, name)
    if len(off) - 1 != n_events:
        msg = f"{name}: expected offsets of {n_events} events (as gen_offsets), got {len(off) - 1}"
        raise DataFormatError(msg)
    return off


def _check_local_index(name: str, index: I64, size: I64, *, allow_none: bool) -> None:
    """Refuse local indices outside ``[0, size)`` (or -1 when *allow_none*) of their event."""
    low = -1 if allow_none else 0
    bad = (index < low) | (index >= size)
    if allow_none:
        bad &= index != -1
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        lo = "-1 or " if allow_none else ""
        msg = (
            f"{name}: {int(bad.sum())} indices out of range (first at entry {i}: "
            f"{int(index[i])}); expected {lo}0..{int(size[i]) - 1} for its event"
        )
        raise DataFormatError(msg)


def _refuse_negative(name: str, values: F64) -> None:
    neg = values < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        msg = f"{name}: {int(neg.sum())} negative values (first at index {i}: {values[i]}); expected >= 0"
        raise DataFormatError(msg)


def _sum_per(index: I64, weights: F64, n: int) -> F64:
    """``weights`` summed per ``index`` value in ``0..n-1``, in input order (``np.bincount``)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)


def _first_max_per_group(group: I64, values: F64) -> I64:
    """Position of the first largest value in every run of equal *group* values (sorted).

    Ties go to the earliest entry of the run, so the order within a run is the tie-break.
    """
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    largest = np.maximum.reduceat(values, start)
    at_max = np.flatnonzero(values == np.repeat(largest, np.diff(np.r_[start, len(group)])))
    keep = np.r_[True, group[at_max[1:]] != group[at_max[:-1]]]
    return at_max[keep]


def _tower_assignment(gp: I64, gt: I64, energy: F64, n_towers: int) -> tuple[I64, I64]:
    """(particle, tower) with the largest summed deposit per particle; ties: lowest tower.

    Rows are summed per (particle, tower) in row order (``np.bincount``).
    """
    key = gp * max(n_towers, 1) + gt
    ukey, inverse = np.unique(key, return_inverse=True)  # sorted by particle, then tower
    esum = _sum_per(inverse.ravel(), energy, len(ukey))
    up, ut = ukey // max(n_towers, 1), ukey % max(n_towers, 1)
    best = _first_max_per_group(up, esum)
    return up[best], ut[best]


def mlpf_targets(
    *,
    gen_offsets: npt.ArrayLike,
    gen_pid: npt.ArrayLike,
    gen_status: npt.ArrayLike,
    gen_charge: npt.ArrayLike,
    gen_pt: npt.ArrayLike,
    gen_eta: npt.ArrayLike,
    gen_phi: npt.ArrayLike,
    gen_mass: npt.ArrayLike,
    gen_is_pu: npt.ArrayLike,
    track_offsets: npt.ArrayLike,
    track_gen_index: npt.ArrayLike,
    tower_offsets: npt.ArrayLike,
    contrib_offsets: npt.ArrayLike,
    contrib_tower: npt.ArrayLike,
    contrib_gen_index: npt.ArrayLike,
    contrib_energy: npt.ArrayLike,
) -> MLPFTargets:
    """Per-element MLPF targets of a batch of events (the definition of the module docstring).

    Vectorised over the whole batch (sorts and ``bincount``; no Python loop
    over events or particles).

    Args:
        gen_offsets: per-event offsets of ``Gen_Part``.
        gen_pid: PDG id of every generator particle (flat).
        gen_status: HepMC status (1: final state).
        gen_charge: electric charge (e).
        gen_pt: transverse momentum (GeV, >= 0).
        gen_eta: pseudorapidity (+-999.9 for pT = 0).
        gen_phi: azimuth (rad).
        gen_mass: mass (GeV); the energy is sqrt(p^2 + m^2).
        gen_is_pu: 1 for a pileup particle, 0 for the hard collision.
        track_offsets: per-event offsets of the tracks.
        track_gen_index: each track's particle (index in its event's ``Gen_Part``), -1 for none.
        tower_offsets: per-event offsets of the towers.
        contrib_offsets: per-event offsets of the tower contributions.
        contrib_tower: tower of each contribution (index in its event's towers).
        contrib_gen_index: its particle (index in its event's ``Gen_Part``).
        contrib_energy: true energy the particle deposited in the tower (GeV, >= 0).

    Returns:
        The element targets, each particle's element, and the per-event bookkeeping.

    Raises:
        ConfigError: malformed offsets (not 1-D integers from 0, decreasing).
        DataFormatError: offsets of different event counts, a column whose
            length is not its last offset, NaN or infinite values, negative
            pT or deposited energy, an ``IsPU`` other than 0/1, or an index out
            of its event's range.
    """
    off_g = check_offsets(gen_offsets, "gen_offsets")
    n_ev = len(off_g) - 1
    off_t = _event_offsets(track_offsets, "track_offsets", n_ev)
    off_w = _event_offsets(tower_offsets, "tower_offsets", n_ev)
    off_c = _event_offsets(contrib_offsets, "contrib_offsets", n_ev)
    ng, nt, nc = int(off_g[-1]), int(off_t[-1]), int(off_c[-1])

    pid = flat_array(gen_pid, "gen_pid", ng, dtype=np.int64)
    status = flat_array(gen_status, "gen_status", ng, dtype=np.int64)
    charge = flat_array(gen_charge, "gen_charge", ng)
    pt = flat_array(gen_pt, "gen_pt", ng)
    eta = flat_array(gen_eta, "gen_eta", ng)
    phi = flat_array(gen_phi, "gen_phi", ng)
    mass = flat_array(gen_mass, "gen_mass", ng)
    is_pu = flat_array(gen_is_pu, "gen_is_pu", ng, dtype=np.int64)
    trk_gi = flat_array(track_gen_index, "track_gen_index", nt, dtype=np.int64)
    con_tower = flat_array(contrib_tower, "contrib_tower", nc, dtype=np.int64)
    con_gi = flat_array(contrib_gen_index, "contrib_gen_index", nc, dtype=np.int64)
    con_e = flat_array(contrib_energy, "contrib_energy", nc)
    _refuse_negative("gen_pt", pt)
    _refuse_negative("contrib_energy", con_e)
    if np.any((is_pu != 0) & (is_pu != 1)):
        msg = "gen_is_pu: expected 0 or 1 for every particle"
        raise DataFormatError(msg)

    n_gen, n_trk, n_tow = np.diff(off_g), np.diff(off_t), np.diff(off_w)
    ev_t, ev_c = event_index(off_t), event_index(off_c)
    _check_local_index("track_gen_index", trk_gi, n_gen[ev_t], allow_none=True)
    _check_local_index("contrib_tower", con_tower, n_tow[ev_c], allow_none=False)
    _check_local_index("contrib_gen_index", con_gi, n_gen[ev_c], allow_none=False)

    # four-momenta (GeV); a pT = 0 particle's +-999.9 pseudorapidity gives pz = 0
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    along = np.abs(eta) >= _ETA_ALONG_BEAM
    pz = np.where(along, 0.0, pt * np.sinh(np.where(along, 0.0, eta)))
    p4 = np.stack([px, py, pz, np.sqrt(px * px + py * py + pz * pz + mass * mass)])
    visible = _visible(pid, status)
    off_e = offsets_from_counts(n_trk + n_tow)  # elements: tracks then towers of each event
    element = _assign(
        visible, (off_g, off_t, off_w, off_c, off_e), trk_gi, con_tower, con_gi, con_e
    )
    elements = _merge(element, off_e, n_trk, off_g, particle_class(pid, charge), is_pu, p4)
    elements = _with_single_kinematics(elements, off_g, pt, eta, phi)

    ev_g, ev_e = event_index(off_g), event_index(off_e)
    energy = p4[3]

    def _per_event(mask: npt.NDArray[np.bool_]) -> tuple[I64, F64]:
        n = np.bincount(ev_g[mask], minlength=n_ev).astype(np.int64)
        return n, _sum_per(ev_g[mask], energy[mask], n_ev)

    n_vis, e_vis = _per_event(visible)
    n_acc, e_acc = _per_event(visible & (element >= 0))
    n_lost, e_lost = _per_event(visible & (element < 0))
    bookkeeping = TargetBookkeeping(
        n_visible=n_vis,
        n_accepted=n_acc,
        n_lost=n_lost,
        visible_energy=e_vis,
        accepted_energy=e_acc,
        lost_energy=e_lost,
        target_energy=_sum_per(ev_e, elements.energy, n_ev),
    )
    gen_element = np.where(element >= 0, element - off_e[ev_g], -1).astype(np.int64)
    return MLPFTargets(elements, gen_element, bookkeeping)


def _assign(
    visible: npt.NDArray[np.bool_],
    offsets: tuple[I64, I64, I64, I64, I64],
    trk_gi: I64,
    con_tower: I64,
    con_gi: I64,
    con_e: F64,
) -> I64:
    """Global element of every generator particle (-1: none): its first track, else its tower."""
    off_g, off_t, off_w, off_c, off_e = offsets
    n_trk = np.diff(off_t)
    ev_t, ev_c = event_index(off_t), event_index(off_c)
    element = np.full(len(visible), -1, dtype=np.int64)

    # 1. tracks: the first track of each visible particle
    g_trk = np.where(trk_gi >= 0, off_g[ev_t] + trk_gi, -1)
    cand = np.flatnonzero(g_trk >= 0)
    cand = cand[visible[g_trk[cand]]]
    particle, first = np.unique(g_trk[cand], return_index=True)
    track = cand[first]
    element[particle] = off_e[ev_t[track]] + (track - off_t[ev_t[track]])

    # 2. towers: the largest deposit of each visible particle without a track
    gp = off_g[ev_c] + con_gi
    use = (con_e > 0) & visible[gp] & (element[gp] < 0)
    gt = off_w[ev_c] + con_tower
    particle, tower = _tower_assignment(gp[use], gt[use], con_e[use], int(off_w[-1]))
    ev_w = event_index(off_w)[tower]
    element[particle] = off_e[ev_w] + n_trk[ev_w] + (tower - off_w[ev_w])
    return element


def _merge(
    element: I64,
    off_e: I64,
    n_trk: I64,
    off_g: I64,
    own_class: npt.NDArray[np.int8],
    is_pu: I64,
    p4: F64,
) -> ElementTargets:
    """Element targets: four-momentum sums of the assigned particles, class of the most energetic.

    *p4* is (px, py, pz, E) of every particle, shape (4, n_gen); pT, eta and phi
    come from the summed momentum (see ``_with_single_kinematics``).
    """
    n_el = int(off_e[-1])
    assigned = np.flatnonzero(element >= 0)
    el = element[assigned]
    sums = [_sum_per(el, p4[c, assigned], n_el) for c in range(4)]
    sum_pu_e = _sum_per(el, p4[3, assigned] * is_pu[assigned], n_el)
    n_part = np.bincount(el, minlength=n_el).astype(np.int64)
    n_hard = np.bincount(el[is_pu[assigned] == 0], minlength=n_el)

    order = np.argsort(el, kind="stable")  # by element, then generator index
    best = order[_first_max_per_group(el[order], p4[3, assigned][order])]
    main = np.full(n_el, -1, dtype=np.int64)
    main[el[best]] = assigned[best]
    has = main >= 0

    ev_e = event_index(off_e)
    is_track = (np.arange(n_el, dtype=np.int64) - off_e[ev_e]) < n_trk[ev_e]
    cls = np.zeros(n_el, dtype=np.int8)
    own = own_class[main[has]]
    cls[has] = np.where(is_track[has], _ON_TRACK[own], _ON_TOWER[own])
    eta, phi, pt = eta_phi_pt(sums[0], sums[1], sums[2])
    energy = sums[3]
    frac = np.zeros(n_el)
    pos = energy > 0
    frac[pos] = sum_pu_e[pos] / energy[pos]
    gen_index = np.full(n_el, -1, dtype=np.int64)
    gen_index[has] = main[has] - off_g[event_index(off_g)[main[has]]]
    return ElementTargets(
        offsets=off_e,
        is_track=is_track,
        is_particle=has.astype(np.int8),
        cls=cls,
        pt=np.where(has, pt, 0.0),
        eta=np.where(has, eta, 0.0),
        sin_phi=np.where(has, np.sin(phi), 0.0),
        cos_phi=np.where(has, np.cos(phi), 1.0),
        energy=energy,
        is_pu=(has & (n_hard == 0)).astype(np.int8),
        pu_fraction=frac,
        gen_index=gen_index,
        n_particles=n_part,
    )


def _with_single_kinematics(
    targets: ElementTargets, off_g: I64, pt: F64, eta: F64, phi: F64
) -> ElementTargets:
    """*targets* with the generator's own pT, eta and phi where one particle makes the target.

    The values from a summed momentum round-trip a lone particle's to about
    1e-15; the copy makes them exact (and keeps a pT = 0 particle's +-999.9).
    """
    single = targets.n_particles == 1
    main = np.full(len(single), -1, dtype=np.int64)
    ev_e = event_index(targets.offsets)
    main[single] = targets.gen_index[single] + off_g[ev_e[single]]
    out_pt, out_eta = targets.pt.copy(), targets.eta.copy()
    sin_phi, cos_phi = targets.sin_phi.copy(), targets.cos_phi.copy()
    m = main[single]
    out_pt[single], out_eta[single] = pt[m], eta[m]
    sin_phi[single], cos_phi[single] = np.sin(phi[m]), np.cos(phi[m])
    return replace(targets, pt=out_pt, eta=out_eta, sin_phi=sin_phi, cos_phi=cos_phi)


_GEN_FIELDS = ("PID", "Status", "Charge", "PT", "Eta", "Phi", "Mass", "IsPU")


def _collection(
    columns: Mapping[str, Jagged], prefix: str, fields: tuple[str, ...]
) -> tuple[I64, dict[str, npt.NDArray[Any]]]:
    """The shared offsets and the flat values of ``{prefix}_{field}`` columns."""
    offsets = np.asarray(columns[f"{prefix}_{fields[0]}"][0])
    values = {}
    for field in fields:
        off, val = columns[f"{prefix}_{field}"]
        if not np.array_equal(np.asarray(off), offsets):
            msg = f"{prefix}_{field}: expected the same offsets as {prefix}_{fields[0]}"
            raise DataFormatError(msg)
        values[field] = np.asarray(val)
    return np.asarray(offsets, dtype=np.int64), values


def mlpf_targets_from_columns(columns: Mapping[str, Jagged], view: str) -> MLPFTargets:
    """:func:`mlpf_targets` on file columns: a mapping of column name -> (offsets, values).

    Reads ``Gen_Part_{PID, Status, Charge, PT, Eta, Phi, Mass, IsPU}``,
    ``{view}_Track_GenIndex``, ``{view}_Tower_E`` (for the tower offsets) and
    ``{view}_TowerContrib_{Tower, GenIndex, E}``.

    Raises:
        DataFormatError: a column missing, or columns of one collection with
            different offsets (and everything :func:`mlpf_targets` refuses).
    """
    needed = [f"Gen_Part_{f}" for f in _GEN_FIELDS] + [
        f"{view}_Track_GenIndex",
        f"{view}_Tower_E",
        f"{view}_TowerContrib_Tower",
        f"{view}_TowerContrib_GenIndex",
        f"{view}_TowerContrib_E",
    ]
    missing = [n for n in needed if n not in columns]
    if missing:
        msg = f"columns missing for the MLPF targets: {', '.join(missing)} (write the {view} Track and Tower collections)"
        raise DataFormatError(msg)
    off_g, gen = _collection(columns, "Gen_Part", _GEN_FIELDS)
    off_t, trk = _collection(columns, f"{view}_Track", ("GenIndex",))
    off_w, _ = _collection(columns, f"{view}_Tower", ("E",))
    off_c, con = _collection(columns, f"{view}_TowerContrib", ("Tower", "GenIndex", "E"))
    return mlpf_targets(
        gen_offsets=off_g,
        gen_pid=gen["PID"],
        gen_status=gen["Status"],
        gen_charge=gen["Charge"],
        gen_pt=gen["PT"],
        gen_eta=gen["Eta"],
        gen_phi=gen["Phi"],
        gen_mass=gen["Mass"],
        gen_is_pu=gen["IsPU"],
        track_offsets=off_t,
        track_gen_index=trk["GenIndex"],
        tower_offsets=off_w,
        contrib_offsets=off_c,
        contrib_tower=con["Tower"],
        contrib_gen_index=con["GenIndex"],
        contrib_energy=con["E"],
    )
