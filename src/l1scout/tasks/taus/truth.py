"""Generator-level taus of the soft-tau study: visible four-momentum, charge, decay mode, vertex; matching.

**What the record holds.** A file's ``Gen_Part`` keeps, for the hard
collision, the final-state particles, the hard-process particles, every tau
(each shower copy: ``tau -> tau gamma`` leaves a chain of copies) and the
*direct* decay products of the taus, with ``M1`` pointing to the nearest kept
ancestor (:mod:`l1scout.generate.truth`). Pythia's tau decays write the final
mesons directly (no rho or a1 in the record): the direct products are
neutrinos, e or mu, pi+-, K+- (final), and pi0, eta, K0 or K0S (decayed, their
decay products kept only when final, with ``M1`` pointing to the direct
product since nothing in between is kept).

**Hard collision only.** The taus are the hard collision's (the pileup
collisions' particles are final-state only, without links), so the record
may be a file's ``Gen_PartHS`` instead (the hard collision's entries of
``Gen_Part``, links pointed into it, :mod:`l1scout.io.schema`): the taus are
the same, and :func:`gen_record` reads it where a chunk holds it (``Index``
maps each entry back to ``Gen_Part``, so ``gen_index`` keeps its meaning).

**Which taus** (:func:`truth_taus`): the *decaying* copy of every tau: a tau
with at least one child in the record and no tau among its children. A tau
whose first non-tau ancestor (following ``M1`` through its copies) is a hadron
comes from a hadron decay (``from_hadron``, e.g. D_s -> tau nu); the others
are prompt (from a Higgs, a Z, a scalar, a W).

**Visible four-momentum**: the sum of the direct decay products that are not
neutrinos, minus any neutrino among the final decay products of a decayed
direct product (a recursion one level deep is exact: the record keeps no
particle between a direct product and its final descendants). Each product's
four-momentum comes from its ``PT``, ``Eta``, ``Phi`` (stored as float16, a
relative precision of 5e-4) and ``Mass``.

**Decay mode**: counted on the direct products. Prongs: charged hadrons (pi+-,
K+-); pi0s: direct pi0s; *other neutrals*: neutral hadrons other than the pi0
(K0, K0S, K0L, eta, omega, n). A K0S is not opened (its pions are displaced
by centimetres; CMS's generator record keeps it stable as well), so
tau -> pi K0S nu is a one-prong with another neutral. The code is CMS's
hadronic decay-mode id (``reco::PFTau::hadronicDecayMode``)::

    decay_mode = 5 * (n_prong - 1) + min(n_pi0, 4)   for 1 <= n_prong <= 3, no other neutral
               = 15 (DM_OTHER)                         otherwise (5 prongs, K0, eta, ...)
               = -1 (DM_LEPTONIC)                      tau -> e or mu + neutrinos

so 0 is one prong, 1-4 one prong with 1, 2, 3, >= 4 pi0s, 10 three prongs,
11-14 three prongs with pi0s (NanoAOD's ``GenVisTau_status`` uses the same
numbers). :func:`decay_mode_group` folds the codes into the five groups of
:data:`DECAY_MODE_GROUPS`. Expected fractions of all taus (PDG): leptonic
35.2 %, one prong (no pi0) 11.5 %, one prong + pi0s 36.3 %, three prongs
9.8 %, three prongs + pi0s 4.8 %.

**Matching** (:func:`match_taus`): reconstructed candidates to the truth taus'
*visible* directions, ``dR = sqrt(deta^2 + dphi^2) < 0.2`` (:data:`MATCH_DR`,
exclusive), one to one, greedy in increasing dR: the closest (candidate, tau)
pair of an event is matched first, then the closest remaining one, and so on
(:func:`l1scout._jagged.match_one_to_one`). Greedy by dR rather
than by tau pT: a candidate is a tau's because it is close to it, whatever
the tau's pT; the two orders differ only when two taus lie within 0.4 of each
other, rare for the taus of a di-tau resonance (their opening angle is about
2 m / pT). A second candidate near an already matched tau stays unmatched
(a split tau counts as a fake candidate).

Example:
    >>> rec = GenRecord(offsets=[0, 4], pid=[25, 15, -211, 16], pt=[0, 20, 12, 8],
    ...                 eta=[0, 0.5, 0.5, 0.5], phi=[0, 1.0, 1.0, 1.0],
    ...                 mass=[60, 1.777, 0.1396, 0], charge=[0, -1, -1, 0],
    ...                 m1=[-1, 0, 1, 1], z=[0.0, 3.2, 3.2, 3.2])
    >>> taus = truth_taus(rec)
    >>> taus.vis_pt.round(3).tolist(), taus.decay_mode.tolist(), taus.charge.tolist(), taus.vz.tolist()
    ([12.0], [0], [-1], [3.2])
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._jagged import (
    check_offsets,
    eta_phi_pt,
    event_index,
    match_one_to_one,
    offsets_from_counts,
)
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import EventsLike, field_like, jagged
from l1scout.pdg import is_hadron

__all__ = [
    "DECAY_MODE_GROUPS",
    "DM_LEPTONIC",
    "DM_OTHER",
    "GEN_COLLECTIONS",
    "MATCH_DR",
    "GenRecord",
    "TauMatch",
    "TruthTaus",
    "decay_mode_code",
    "decay_mode_group",
    "gen_record",
    "match_taus",
    "truth_taus",
]

#: Decay-mode code of a leptonic tau (CMS's ``kNull``).
DM_LEPTONIC = -1
#: Decay-mode code of a hadronic tau outside 1-3 prongs plus pi0s (CMS's ``kRareDecayMode``).
DM_OTHER = 15
#: The five groups of hadronic decay modes, as :func:`decay_mode_group` numbers them.
DECAY_MODE_GROUPS = ("1-prong", "1-prong+pi0s", "3-prong", "3-prong+pi0s", "other")
#: Matching distance of candidates to truth taus (exclusive).
MATCH_DR = 0.2

#: The generator records the truth taus read, preferred first: the hard collision's cut, the full one.
GEN_COLLECTIONS: tuple[str, ...] = ("Gen_PartHS", "Gen_Part")

_NEUTRINOS = (12, 14, 16)
_LEPTONS = (11, 13)
_PI0 = 111
_PHOTON = 22
_TAU = 15


def _pz(pt: F64, eta: F64) -> F64:
    """Longitudinal momentum (GeV); 0 for the +-999.9 pseudorapidity of pT = 0."""
    out: F64 = np.where(np.abs(eta) < 100.0, pt * np.sinh(np.clip(eta, -50.0, 50.0)), 0.0)
    return out


@dataclass(frozen=True)
class GenRecord:
    """The generator record of a batch of events: flat ``Gen_Part`` fields plus offsets.

    Attributes:
        offsets: per-event offsets (length n_events + 1).
        pid: PDG id.
        pt: transverse momentum (GeV).
        eta: pseudorapidity.
        phi: azimuth (rad).
        mass: generated mass (GeV).
        charge: electric charge (e).
        m1: first mother, an index into the same event's list (-1: none).
        z: production vertex z (mm).
        index: each entry's index in its event's full ``Gen_Part`` when the
            record is a cut of it (``Gen_PartHS_Index``); None: the record is
            the full ``Gen_Part``.

    Raises:
        ConfigError: bad offsets.
        DataFormatError: a field whose length is not the last offset, or a
            mother index outside its event.
    """

    offsets: I64
    pid: I64
    pt: F64
    eta: F64
    phi: F64
    mass: F64
    charge: I64
    m1: I64
    z: F64
    index: I64 | None = None

    def __post_init__(self) -> None:
        off = check_offsets(self.offsets, "Gen_Part offsets")
        object.__setattr__(self, "offsets", off)
        n = int(off[-1])
        for f in fields(self)[1:]:
            if getattr(self, f.name) is None:  # index: the full record
                continue
            dtype = np.int64 if f.name in ("pid", "charge", "m1", "index") else np.float64
            arr = np.asarray(getattr(self, f.name), dtype=dtype)
            if arr.ndim != 1 or len(arr) != n:
                msg = f"Gen_Part {f.name}: expected {n} entries (the last offset), got shape {arr.shape}"
                raise DataFormatError(msg)
            object.__setattr__(self, f.name, arr)
        size = np.diff(off)[event_index(off)]
        if np.any((self.m1 < -1) | (self.m1 >= size)):
            msg = "Gen_Part M1: expected indices into the same event's particles (or -1)"
            raise DataFormatError(msg)

    @property
    def n_events(self) -> int:
        """Events in the batch."""
        return len(self.offsets) - 1


def gen_record(events: EventsLike, collection: str | None = None) -> GenRecord:
    """The :class:`GenRecord` of a chunk of events (an ``ak.Array`` or a mapping of ``Gen_Part*`` columns).

    Reads ``PT``, ``PID``, ``Eta``, ``Phi``, ``Mass``, ``Charge``, ``M1`` and
    ``Z`` of *collection* (:data:`GEN_COLLECTIONS`), and ``Index`` of
    ``Gen_PartHS``.

    Args:
        events: the chunk.
        collection: ``"Gen_PartHS"`` or ``"Gen_Part"``; None: ``Gen_PartHS``
            where the chunk has ``Gen_PartHS_PT``, else ``Gen_Part``.

    Raises:
        ConfigError: *collection* is neither.
        DataFormatError: a column is missing or its lists differ from the ``PT``'s.

    >>> hs = {"Gen_PartHS_" + k: v for k, v in dict(PT=[[20, 12, 8]], PID=[[15, -211, 16]],
    ...       Eta=[[0.5] * 3], Phi=[[1.0] * 3], Mass=[[1.777, 0.1396, 0]], Charge=[[-1, -1, 0]],
    ...       M1=[[-1, 0, 0]], Z=[[3.2] * 3], Index=[[2, 5, 9]]).items()}
    >>> truth_taus(gen_record(hs)).gen_index.tolist()
    [2]
    """
    if collection is None:
        names = events.fields if isinstance(events, ak.Array) else list(events)
        collection = GEN_COLLECTIONS[0] if f"{GEN_COLLECTIONS[0]}_PT" in names else "Gen_Part"
    if collection not in GEN_COLLECTIONS:
        msg = f"collection: expected one of {', '.join(GEN_COLLECTIONS)}, got {collection!r}"
        raise ConfigError(msg)
    off, pt = jagged(events, f"{collection}_PT", np.float64)
    index = None
    if collection == GEN_COLLECTIONS[0]:
        index = field_like(events, collection, "Index", off, np.int64)
    get = {
        name: field_like(events, collection, name, off, dtype)
        for name, dtype in (
            ("PID", np.int64),
            ("Eta", np.float64),
            ("Phi", np.float64),
            ("Mass", np.float64),
            ("Charge", np.int64),
            ("M1", np.int64),
            ("Z", np.float64),
        )
    }
    return GenRecord(
        offsets=off,
        pid=get["PID"],
        pt=pt,
        eta=get["Eta"],
        phi=get["Phi"],
        mass=get["Mass"],
        charge=get["Charge"],
        m1=get["M1"],
        z=get["Z"],
        index=index,
    )


def decay_mode_code(
    n_prong: npt.ArrayLike, n_pi0: npt.ArrayLike, n_other: npt.ArrayLike = 0
) -> I64:
    """CMS's hadronic decay-mode id: ``5 * (n_prong - 1) + min(n_pi0, 4)``, or 15 (:data:`DM_OTHER`).

    The formula holds for 1-3 prongs without another neutral hadron
    (*n_other*); anything else is 15.

    >>> decay_mode_code([1, 1, 1, 3, 3, 5, 1], [0, 1, 6, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0, 1]).tolist()
    [0, 1, 4, 10, 11, 15, 15]
    """
    npr = np.asarray(n_prong, dtype=np.int64)
    npi = np.asarray(n_pi0, dtype=np.int64)
    other = np.asarray(n_other, dtype=np.int64)
    ok = (npr >= 1) & (npr <= 3) & (other == 0)
    out: I64 = np.where(ok, 5 * (npr - 1) + np.minimum(npi, 4), DM_OTHER).astype(np.int64)
    return out


def decay_mode_group(code: npt.ArrayLike) -> I64:
    """The group of each decay-mode code, an index into :data:`DECAY_MODE_GROUPS` (-1: leptonic).

    >>> decay_mode_group([0, 1, 4, 10, 12, 15, 7, -1]).tolist()
    [0, 1, 1, 2, 3, 4, 4, -1]
    """
    c = np.asarray(code, dtype=np.int64)
    out: I64 = np.select(
        [c == DM_LEPTONIC, c == 0, (c >= 1) & (c <= 4), c == 10, (c >= 11) & (c <= 14)],
        [-1, 0, 1, 2, 3],
        default=4,
    ).astype(np.int64)
    return out


@dataclass(frozen=True)
class TruthTaus:
    """Decaying generator taus of a batch: flat arrays over the taus plus per-event offsets.

    Attributes:
        offsets: per-event offsets into the tau arrays.
        gen_index: index of the tau in its event's ``Gen_Part`` list (the
            full one also when the record was ``Gen_PartHS``).
        pt: the tau's pT (GeV), neutrinos included.
        eta: its pseudorapidity.
        phi: its azimuth (rad).
        vis_pt: visible pT (GeV): everything but the neutrinos.
        vis_eta: visible pseudorapidity.
        vis_phi: visible azimuth (rad, [-pi, pi]).
        vis_mass: visible mass (GeV).
        charge: the tau's charge (-1 for a tau-, +1 for a tau+).
        n_prong: charged hadrons among the direct decay products.
        n_pi0: pi0s among them.
        decay_mode: CMS's decay-mode id (-1 leptonic, 15 other; module docstring).
        vz: production vertex z (mm).
        is_leptonic: the tau decays to an electron or a muon.
        from_hadron: the tau comes from a hadron decay (not prompt).
    """

    offsets: I64
    gen_index: I64
    pt: F64
    eta: F64
    phi: F64
    vis_pt: F64
    vis_eta: F64
    vis_phi: F64
    vis_mass: F64
    charge: I64
    n_prong: I64
    n_pi0: I64
    decay_mode: I64
    vz: F64
    is_leptonic: B
    from_hadron: B

    @property
    def n_events(self) -> int:
        """Events in the batch."""
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return len(self.gen_index)

    @cached_property
    def event(self) -> I64:
        """Event of every tau."""
        return event_index(self.offsets)

    def select(self, mask: npt.ArrayLike) -> TruthTaus:
        """The taus where *mask* is true, with new offsets over the same events.

        Raises:
            DataFormatError: *mask* is not one boolean per tau.
        """
        keep = np.asarray(mask)
        if keep.dtype != np.bool_ or keep.shape != (len(self),):
            msg = f"select: expected one boolean per tau ({len(self)}), got {keep.dtype} of shape {keep.shape}"
            raise DataFormatError(msg)
        counts = np.bincount(self.event[keep], minlength=self.n_events)
        values = {f.name: getattr(self, f.name)[keep] for f in fields(self)[1:]}
        return TruthTaus(offsets=offsets_from_counts(counts), **values)

    def hadronic(self, *, include_from_hadron: bool = False) -> TruthTaus:
        """The hadronic taus (leptonic ones excluded), prompt only unless *include_from_hadron*."""
        keep = ~self.is_leptonic
        if not include_from_hadron:
            keep &= ~self.from_hadron
        return self.select(keep)


def _first_non_tau_ancestor(pid: I64, m1g: I64, start: I64) -> I64:
    """Follow ``M1`` (global indices) from *start* through tau copies; -1 where none."""
    anc = m1g[start]
    for _ in range(len(pid)):
        more = (anc >= 0) & (np.abs(pid[np.maximum(anc, 0)]) == _TAU)
        if not more.any():
            break
        anc = np.where(more, m1g[np.maximum(anc, 0)], anc)
    out: I64 = anc
    return out


def truth_taus(record: GenRecord | EventsLike) -> TruthTaus:
    """The decaying taus of every event with their visible four-momentum, charge, decay mode and vertex.

    Args:
        record: a :class:`GenRecord`, or a chunk of events with the
            ``Gen_PartHS`` or ``Gen_Part`` columns (read with :func:`gen_record`:
            ``Gen_PartHS`` where the chunk has it; the taus are the same).

    Returns:
        All decaying taus, leptonic ones and those from hadron decays included
        (flags ``is_leptonic``, ``from_hadron``); :meth:`TruthTaus.hadronic`
        keeps the prompt hadronic ones. Taus are in record order (by pT of the
        tau, as the file sorts them).
    """
    rec = record if isinstance(record, GenRecord) else gen_record(record)
    off = rec.offsets
    n = len(rec.pid)
    apid = np.abs(rec.pid)
    evt = event_index(off)
    m1g = np.where(rec.m1 >= 0, off[evt] + rec.m1, -1)
    has_parent = m1g >= 0
    parent = np.maximum(m1g, 0)

    has_child = np.zeros(n, dtype=bool)
    has_child[m1g[has_parent]] = True
    has_tau_child = np.zeros(n, dtype=bool)
    has_tau_child[m1g[has_parent & (apid == _TAU)]] = True
    decaying = (apid == _TAU) & has_child & ~has_tau_child
    tau_idx = np.flatnonzero(decaying)
    n_tau = len(tau_idx)
    tau_pos = np.full(n, -1, dtype=np.int64)
    tau_pos[tau_idx] = np.arange(n_tau)

    # direct products: their M1 is a decaying tau
    product = has_parent & decaying[parent]
    owner = np.where(product, tau_pos[parent], -1)
    is_nu = np.isin(apid, _NEUTRINOS)
    px = rec.pt * np.cos(rec.phi)
    py = rec.pt * np.sin(rec.phi)
    pz = _pz(rec.pt, rec.eta)
    energy = np.sqrt(px * px + py * py + pz * pz + rec.mass * rec.mass)

    # visible: direct non-neutrinos, minus neutrinos from the decay of a direct product
    visible = product & ~is_nu
    sign = np.where(visible, 1.0, 0.0)
    late_nu = is_nu & has_parent & product[parent] & ~decaying[parent]
    late_owner = np.where(late_nu, owner[parent], -1)
    sign = np.where(late_nu, -1.0, sign)
    who = np.where(visible, owner, late_owner)
    use = who >= 0

    def _sum(values: F64) -> F64:
        out = np.bincount(who[use], weights=(sign * values)[use], minlength=n_tau)
        return out.astype(np.float64)

    vpx, vpy, vpz, ve = _sum(px), _sum(py), _sum(pz), _sum(energy)
    vis_eta, vis_phi, vis_pt = eta_phi_pt(vpx, vpy, vpz)
    vis_mass = np.sqrt(np.maximum(ve * ve - vpx * vpx - vpy * vpy - vpz * vpz, 0.0))

    def _count(mask: B) -> I64:
        sel = product & mask
        out: I64 = np.bincount(owner[sel], minlength=n_tau).astype(np.int64)
        return out

    charged = rec.charge != 0
    leptons = _count(np.isin(apid, _LEPTONS))
    n_prong = _count(charged & is_hadron(rec.pid))
    n_pi0 = _count(apid == _PI0)
    n_other = _count(
        ~charged & ~is_nu & (apid != _PI0) & (apid != _PHOTON) & ~np.isin(apid, _LEPTONS)
    )
    is_leptonic = leptons > 0
    code = np.where(is_leptonic, DM_LEPTONIC, decay_mode_code(n_prong, n_pi0, n_other))

    anc = _first_non_tau_ancestor(rec.pid, m1g, tau_idx)
    from_hadron = (anc >= 0) & is_hadron(rec.pid[np.maximum(anc, 0)])
    counts = np.bincount(evt[tau_idx], minlength=rec.n_events)
    return TruthTaus(
        offsets=offsets_from_counts(counts),
        gen_index=(tau_idx - off[evt[tau_idx]] if rec.index is None else rec.index[tau_idx]).astype(
            np.int64
        ),
        pt=rec.pt[tau_idx],
        eta=rec.eta[tau_idx],
        phi=rec.phi[tau_idx],
        vis_pt=vis_pt,
        vis_eta=vis_eta,
        vis_phi=vis_phi,
        vis_mass=vis_mass,
        charge=-np.sign(rec.pid[tau_idx]).astype(np.int64),
        n_prong=n_prong,
        n_pi0=n_pi0,
        decay_mode=code.astype(np.int64),
        vz=rec.z[tau_idx],
        is_leptonic=is_leptonic,
        from_hadron=from_hadron,
    )


@dataclass(frozen=True)
class TauMatch:
    """Candidates matched one to one to truth taus (global indices into the flat arrays).

    Attributes:
        tau_to_candidate: per truth tau, its candidate (-1: none).
        candidate_to_tau: per candidate, its truth tau (-1: none, a fake).
        dr: per truth tau, the distance to its candidate (inf: none).
    """

    tau_to_candidate: I64
    candidate_to_tau: I64
    dr: F64

    @property
    def tau_matched(self) -> B:
        """Per truth tau: it has a candidate."""
        out: B = self.tau_to_candidate >= 0
        return out

    @property
    def candidate_matched(self) -> B:
        """Per candidate: it is a truth tau's."""
        out: B = self.candidate_to_tau >= 0
        return out


def match_taus(
    cand_offsets: npt.ArrayLike,
    cand_eta: npt.ArrayLike,
    cand_phi: npt.ArrayLike,
    taus: TruthTaus,
    *,
    max_dr: float = MATCH_DR,
) -> TauMatch:
    """Match candidates to the visible directions of *taus*: one to one, greedy by dR, ``dR < max_dr``.

    Args:
        cand_offsets: per-event offsets of the candidates.
        cand_eta: their pseudorapidity (flat).
        cand_phi: their azimuth (rad, flat; any 2 pi convention).
        taus: the truth taus of the same events (usually ``truth_taus(...).hadronic()``).
        max_dr: the largest distance of a pair (exclusive; default 0.2).

    Raises:
        ConfigError: bad offsets or ``max_dr``.
        DataFormatError: lengths that do not fit the offsets, or different event counts.

    >>> taus = truth_taus(GenRecord(offsets=[0, 3], pid=[15, -211, 16], pt=[20, 12, 8],
    ...                   eta=[0, 0, 0], phi=[3.1, 3.1, 3.1], mass=[1.777, 0.14, 0],
    ...                   charge=[-1, -1, 0], m1=[-1, 0, 0], z=[0, 0, 0]))
    >>> m = match_taus([0, 2], [0.0, 0.0], [-3.1, 3.0], taus)
    >>> m.tau_to_candidate.tolist(), m.candidate_to_tau.tolist(), round(float(m.dr[0]), 4)
    ([0], [0, -1], 0.0832)
    """
    off_c = check_offsets(cand_offsets, "cand_offsets")
    if len(off_c) != len(taus.offsets):
        msg = (
            f"candidates and truth taus have different numbers of events: "
            f"{len(off_c) - 1} and {taus.n_events}"
        )
        raise DataFormatError(msg)
    if not np.isfinite(max_dr) or max_dr <= 0:
        msg = f"max_dr: expected a positive finite distance, got {max_dr}"
        raise ConfigError(msg)
    n_cand = int(off_c[-1])
    eta_c = np.asarray(cand_eta, dtype=np.float64)
    phi_c = np.asarray(cand_phi, dtype=np.float64)
    for name, arr in (("cand_eta", eta_c), ("cand_phi", phi_c)):
        if arr.shape != (n_cand,):
            msg = f"{name}: expected {n_cand} entries (the last offset), got shape {arr.shape}"
            raise DataFormatError(msg)
    m = match_one_to_one(
        off_c, eta_c, phi_c, taus.offsets, taus.vis_eta, taus.vis_phi, max_dr=max_dr
    )
    tau_to_cand = np.full(len(taus), -1, dtype=np.int64)
    cand_to_tau = np.full(n_cand, -1, dtype=np.int64)
    dr = np.full(len(taus), np.inf)
    tau_to_cand[m.offline] = m.l1
    cand_to_tau[m.l1] = m.offline
    dr[m.offline] = m.dr
    return TauMatch(tau_to_cand, cand_to_tau, dr)
