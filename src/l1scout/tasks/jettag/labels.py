"""The 8 jet classes of the Level-1 jet tagger, labelled from the generator record, and the matched generator-jet pT.

The classes (:data:`JET_CLASSES`) are those of the Phase-2 Level-1 jet tagger
(arXiv:2509.24371): light quark (``uds``), gluon (``g``), ``b``, ``c``,
hadronic ``tau+`` and ``tau-``, electron (``e``) and muon (``mu``). Only the
hard collision's generator particles (``IsPU`` = 0) label a jet; a jet with
none of the objects below within ``dR < dr`` (default 0.4, the AK4 radius,
exclusive) is unlabelled (-1: a pileup jet). The labelling objects of an
event, in order of priority (the first kind present in the cone wins, the
highest-pT object of that kind gives the label):

1. **Prompt electrons and muons** -> ``e`` / ``mu``: final-state (status 1)
   e or mu that is itself a hard-process particle or one of its copies
   (status 21-29 on the chain of same-flavour mothers), or whose first
   ancestor of another flavour is a boson or a new-physics particle (W, Z,
   gamma, H, the catalog's scalars) or a prompt tau. Leptons from hadron
   decays (b and c hadrons, light-hadron decays such as pi0 Dalitz, which
   reach no kept ancestor) are not prompt.
2. **Hadronically decaying prompt taus** -> ``tau+`` / ``tau-`` by the tau's
   charge, at the direction of its *visible* momentum (the decay products
   less the neutrinos, :func:`l1scout.tasks.taus.truth.truth_taus`). Taus
   decaying to e or mu label through their lepton (rule 1); taus from hadron
   decays (D_s -> tau nu, B -> tau nu) label nothing.
3. **b hadrons** (any hadron with a b quark, PDG digit rules,
   :mod:`l1scout.pdg`) -> ``b``.
4. **c hadrons** (without a b quark) -> ``c``.
5. **Hard-process partons** (status 23-29: outgoing partons of the hard
   process and of resonance decays, before the shower) -> the highest-pT one
   decides: gluon -> ``g``, u, d, s -> ``uds``, c -> ``c``, b -> ``b`` (a
   heavy quark whose hadron left the cone; tops and incoming partons are not
   labelling partons).

The generator record (``Gen_Part`` or its hard-collision cut ``Gen_PartHS``,
``docs/physics/data-format.md``) keeps the final-state particles, the
hard-process particles, the taus with their direct decay products and the
b and c hadrons, with ``M1`` pointing at the nearest kept ancestor; the rules
above read only those. A full Pythia record (COLLIDE-2V's ``Gen_Part``) gives
the same labels: the copies and the unkept intermediate states it adds are
walked through.

The regression target's ``gen_pt`` is the pT (GeV) of the generator jet
(``Gen_JetAK4``) matched one to one to the jet, greedy in increasing
``dR < dr`` (:func:`l1scout._jagged.match_one_to_one`); NaN when none.

Example: one event with a gluon-initiated jet and a pileup jet.

    >>> j = lambda *v: (np.array([0, len(v)]), np.array(v, dtype=np.float64))
    >>> jets = {"PT": j(40.0, 20.0), "Eta": j(0.0, 2.0), "Phi": j(1.0, -2.0)}
    >>> gen = {"PID": j(21), "Status": j(23), "PT": j(45.0), "Eta": j(0.1), "Phi": j(1.0),
    ...        "M1": j(-1), "M2": j(-1), "D1": j(-1), "D2": j(-1), "IsPU": j(0)}
    >>> truth = jet_truth(jets, gen, {"PT": j(43.0), "Eta": j(0.05), "Phi": j(1.0)})
    >>> [JET_CLASSES[k] if k >= 0 else None for k in truth.label], truth.gen_pt.tolist()
    (['g', None], [43.0, nan])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1scout._jagged import (
    Jagged,
    candidate_pairs,
    check_max_dr,
    check_offsets,
    delta_r,
    event_index,
    match_one_to_one,
    offsets_from_counts,
)
from l1scout._types import F32, F64, I64, B
from l1scout.errors import DataFormatError
from l1scout.io.ragged import EventsLike, field_like, jagged
from l1scout.pdg import is_hadron, is_heavy_flavour_hadron
from l1scout.tasks.taus.truth import GenRecord, truth_taus

__all__ = [
    "GEN_FIELDS",
    "JET_CLASSES",
    "JetTruth",
    "jet_truth",
    "jet_truth_from_chunk",
    "label_columns",
]

#: The jet classes, in the order of the tagger's outputs (a label is an index into this tuple).
JET_CLASSES: tuple[str, ...] = ("uds", "g", "b", "c", "tau+", "tau-", "e", "mu")
#: The generator-record fields :func:`jet_truth` reads.
GEN_FIELDS: tuple[str, ...] = ("PID", "Status", "PT", "Eta", "Phi", "M1", "M2", "D1", "D2", "IsPU")
#: The jet and generator-jet fields :func:`jet_truth` reads.
_JET_FIELDS: tuple[str, ...] = ("PT", "Eta", "Phi")

_UDS, _G, _B, _C, _TAUP, _TAUM, _E, _MU = range(len(JET_CLASSES))
#: Priority of the labelling objects (lower wins): leptons, taus, b hadrons, c hadrons, partons.
_P_LEPTON, _P_TAU, _P_B, _P_C, _P_PARTON = range(5)
_HARD_STATUS = (21, 29)
_PARTON_STATUS = (23, 29)


@dataclass(frozen=True)
class JetTruth:
    """Truth of a batch of jets, flat over the jets in event order.

    Attributes:
        label: int64 per jet, an index into :data:`JET_CLASSES`; -1 unlabelled.
        gen_pt: float32 per jet, the matched generator jet's pT (GeV); NaN when none.
    """

    label: I64
    gen_pt: F32

    def __len__(self) -> int:
        return len(self.label)


def label_columns(
    view: str = "L1T",
    jets: str = "JetPuppiAK4",
    *,
    gen: str | None = None,
    available: Iterable[str] | None = None,
) -> tuple[str, ...]:
    """The canonical columns :func:`jet_truth_from_chunk` reads.

    Args:
        view: the detector view of the jets.
        jets: the jet collection.
        gen: the generator record, ``"Gen_PartHS"`` or ``"Gen_Part"``; None:
            ``Gen_PartHS`` when *available* holds it, else ``Gen_Part``.
        available: the columns the data has (``Dataset.columns``), or None.

    >>> label_columns()[:3], label_columns()[-1]
    (('L1T_JetPuppiAK4_PT', 'L1T_JetPuppiAK4_Eta', 'L1T_JetPuppiAK4_Phi'), 'Gen_JetAK4_Phi')
    >>> label_columns(available=["Gen_PartHS_PT"])[3]
    'Gen_PartHS_PID'
    """
    if gen is None:
        gen = (
            "Gen_PartHS"
            if available is not None and "Gen_PartHS_PT" in set(available)
            else "Gen_Part"
        )
    return (
        *(f"{view}_{jets}_{f}" for f in _JET_FIELDS),
        *(f"{gen}_{f}" for f in GEN_FIELDS),
        *(f"Gen_JetAK4_{f}" for f in _JET_FIELDS),
    )


def _fields(
    what: str, mapping: Mapping[str, Jagged], names: tuple[str, ...], n_events: int | None
) -> tuple[I64, dict[str, np.ndarray]]:
    """The offsets and flat values of *names* in *mapping*, checked to share their offsets."""
    missing = [n for n in names if n not in mapping]
    if missing:
        msg = f"{what}: missing field(s) {', '.join(missing)} (expected {', '.join(names)})"
        raise DataFormatError(msg)
    off = check_offsets(mapping[names[0]][0], f"{what} offsets")
    if n_events is not None and len(off) - 1 != n_events:
        msg = f"{what}: expected {n_events} events (as the jets), got {len(off) - 1}"
        raise DataFormatError(msg)
    values: dict[str, np.ndarray] = {}
    for name in names:
        o, v = mapping[name]
        if not np.array_equal(np.asarray(o), off):
            msg = f"{what} {name}: expected the offsets of {names[0]}"
            raise DataFormatError(msg)
        arr = np.asarray(v)
        if arr.shape != (int(off[-1]),):
            msg = f"{what} {name}: expected {int(off[-1])} values (the last offset), got shape {arr.shape}"
            raise DataFormatError(msg)
        values[name] = arr
    return off, values


def _is_prompt_parent(pid: I64) -> B:
    """True for a boson or new-physics particle: not a hadron, quark, gluon, diquark or lepton."""
    a = np.abs(pid)
    parton = (a <= 8) | (a == 21) | ((a > 1000) & (a < 10000) & ((a // 10) % 10 == 0))
    lepton = (a >= 11) & (a <= 18)
    return np.asarray(~parton & ~lepton & ~is_hadron(pid), dtype=np.bool_)


def _prompt_leptons(pid: I64, status: I64, m1g: I64, prompt_tau: B, cand: I64) -> B:
    """Per final e / mu (global indices *cand*): prompt, by the rules of the module docstring."""
    apid = np.abs(pid)
    hard = (status >= _HARD_STATUS[0]) & (status <= _HARD_STATUS[1])
    cur = cand.copy()
    on_hard = hard[cur]
    for _ in range(len(pid)):  # walk the same-flavour copies up M1
        anc = m1g[cur]
        same = (anc >= 0) & (apid[np.maximum(anc, 0)] == apid[cand])
        if not same.any():
            break
        cur = np.where(same, anc, cur)
        on_hard |= hard[cur]
    anc = m1g[cur]
    has = anc >= 0
    a = np.maximum(anc, 0)
    parent_ok = has & (_is_prompt_parent(pid[a]) | ((apid[a] == 15) & prompt_tau[a]))
    out: B = on_hard | parent_ok
    return out


@dataclass(frozen=True)
class _Objects:
    """The labelling objects of a batch: flat arrays plus the event of each."""

    event: I64
    eta: F64
    phi: F64
    pt: F64
    priority: I64
    label: I64


def _hard_collision(off: I64, g: dict[str, np.ndarray]) -> tuple[I64, dict[str, np.ndarray]]:
    """The hard collision's entries (``IsPU`` = 0) with ``M1`` pointed into the cut record.

    At pileup 200 a ``Gen_Part`` is about 96 % pileup particles (final state,
    no links): cutting them first makes the labelling 20 times cheaper.

    Raises:
        DataFormatError: an ``M1`` outside its event.
    """
    evt = event_index(off)
    m1 = g["M1"].astype(np.int64)
    if np.any((m1 < -1) | (m1 >= np.diff(off)[evt])):
        msg = "generator record M1: expected indices into the same event's particles (or -1)"
        raise DataFormatError(msg)
    keep = g["IsPU"].astype(np.int64) == 0
    new_off = offsets_from_counts(np.bincount(evt[keep], minlength=len(off) - 1))
    new_global = np.cumsum(keep) - 1
    m1g = np.where(m1 >= 0, off[evt] + m1, 0)
    new_m1 = np.where((m1 >= 0) & keep[m1g], new_global[m1g] - new_off[evt], -1)
    cut = {name: values[keep] for name, values in g.items()}
    cut["M1"] = new_m1[keep]
    return new_off, cut


def _labelling_objects(full_off: I64, full: dict[str, np.ndarray]) -> _Objects:
    """Prompt leptons, hadronic prompt taus (visible), b and c hadrons and hard partons of the hard collision."""
    off, g = _hard_collision(full_off, full)
    n = int(off[-1])
    pid = g["PID"].astype(np.int64)
    apid = np.abs(pid)
    status = g["Status"].astype(np.int64)
    pt = g["PT"].astype(np.float64)
    eta = g["Eta"].astype(np.float64)
    phi = g["Phi"].astype(np.float64)
    m1 = g["M1"]
    evt = event_index(off)
    m1g = np.where(m1 >= 0, off[evt] + m1, -1)

    zeros = np.zeros(n)
    taus = truth_taus(
        GenRecord(
            offsets=off, pid=pid, pt=pt, eta=eta, phi=phi, mass=zeros,
            charge=np.zeros(n, dtype=np.int64), m1=m1, z=zeros,
        )
    )  # fmt: skip
    tau_global = off[taus.event] + taus.gen_index
    prompt_tau = np.zeros(n, dtype=bool)
    prompt_tau[tau_global] = ~taus.from_hadron
    had = ~taus.is_leptonic & ~taus.from_hadron

    lep = np.flatnonzero((status == 1) & ((apid == 11) | (apid == 13)))
    lep = lep[_prompt_leptons(pid, status, m1g, prompt_tau, lep)]
    b_had = np.flatnonzero(is_heavy_flavour_hadron(pid, 5))
    c_had = np.flatnonzero(is_heavy_flavour_hadron(pid, 4) & ~is_heavy_flavour_hadron(pid, 5))
    parton = (apid <= 5) | (apid == 21)
    part = np.flatnonzero(parton & (status >= _PARTON_STATUS[0]) & (status <= _PARTON_STATUS[1]))
    part_label = np.select(
        [apid[part] == 21, apid[part] == 5, apid[part] == 4], [_G, _B, _C], default=_UDS
    )

    def cat(*parts: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(p) for p in parts])

    return _Objects(
        event=cat(evt[lep], taus.event[had], evt[b_had], evt[c_had], evt[part]),
        eta=cat(eta[lep], taus.vis_eta[had], eta[b_had], eta[c_had], eta[part]),
        phi=cat(phi[lep], taus.vis_phi[had], phi[b_had], phi[c_had], phi[part]),
        pt=cat(pt[lep], taus.vis_pt[had], pt[b_had], pt[c_had], pt[part]),
        priority=cat(
            np.full(len(lep), _P_LEPTON),
            np.full(int(had.sum()), _P_TAU),
            np.full(len(b_had), _P_B),
            np.full(len(c_had), _P_C),
            np.full(len(part), _P_PARTON),
        ).astype(np.int64),
        label=cat(
            np.where(apid[lep] == 11, _E, _MU),
            np.where(taus.charge[had] > 0, _TAUP, _TAUM),
            np.full(len(b_had), _B),
            np.full(len(c_had), _C),
            part_label,
        ).astype(np.int64),
    )


def _labels(j_off: I64, j_eta: F64, j_phi: F64, obj: _Objects, n_events: int, dr: float) -> I64:
    """Per jet: the label of the best labelling object within ``dR < dr`` (-1: none)."""
    order = np.argsort(obj.event, kind="stable")
    o_off = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(np.bincount(obj.event, minlength=n_events), out=o_off[1:])
    ij, io = candidate_pairs(j_off, o_off)
    io = order[io]
    close = delta_r(j_eta[ij], j_phi[ij], obj.eta[io], obj.phi[io]) < dr
    ij, io = ij[close], io[close]
    best = np.lexsort((-obj.pt[io], obj.priority[io], ij))
    ij, io = ij[best], io[best]
    first = np.ones(len(ij), dtype=bool)
    first[1:] = ij[1:] != ij[:-1]
    label = np.full(int(j_off[-1]), -1, dtype=np.int64)
    label[ij[first]] = obj.label[io[first]]
    return label


def jet_truth(
    jets: Mapping[str, Jagged],
    gen: Mapping[str, Jagged],
    gen_jets: Mapping[str, Jagged],
    dr: float = 0.4,
) -> JetTruth:
    """The class label and matched generator-jet pT of every jet (rules in the module docstring).

    Args:
        jets: ``PT``, ``Eta``, ``Phi`` of one view's jets, each ``(offsets, flat values)``.
        gen: the generator record's ``PID``, ``Status``, ``PT``, ``Eta``,
            ``Phi``, ``M1``, ``M2``, ``D1``, ``D2`` and ``IsPU`` (:data:`GEN_FIELDS`;
            ``Gen_Part`` or ``Gen_PartHS`` of the same events).
        gen_jets: ``PT``, ``Eta``, ``Phi`` of the generator jets (``Gen_JetAK4``).
        dr: the cone of the labelling objects and the generator-jet matching
            distance (exclusive).

    Returns:
        A :class:`JetTruth`, flat over the jets in event order.

    Raises:
        ConfigError: *dr* is not a positive finite distance, or bad offsets.
        DataFormatError: a field is missing, has other offsets than its
            collection's ``PT`` or another number of events than the jets.
    """
    cut = check_max_dr(dr)
    j_off, j = _fields("jets", jets, _JET_FIELDS, None)
    n_events = len(j_off) - 1
    g_off, g = _fields("generator record", gen, GEN_FIELDS, n_events)
    gj_off, gj = _fields("generator jets", gen_jets, _JET_FIELDS, n_events)
    j_eta = j["Eta"].astype(np.float64)
    j_phi = j["Phi"].astype(np.float64)
    label = _labels(j_off, j_eta, j_phi, _labelling_objects(g_off, g), n_events, cut)
    m = match_one_to_one(j_off, j_eta, j_phi, gj_off, gj["Eta"], gj["Phi"], max_dr=cut)
    gen_pt = np.full(int(j_off[-1]), np.nan, dtype=np.float32)
    gen_pt[m.l1] = gj["PT"][m.offline]
    return JetTruth(label=label, gen_pt=gen_pt)


def jet_truth_from_chunk(
    chunk: EventsLike, view: str = "L1T", jets: str = "JetPuppiAK4", *, dr: float = 0.4
) -> JetTruth:
    """:func:`jet_truth` of the jets of *view* in a chunk of events (``ak.Array`` or mapping of columns).

    Reads the columns of :func:`label_columns`: the generator record is
    ``Gen_PartHS`` where the chunk holds it (the hard collision only, far
    smaller at pileup 200), else ``Gen_Part``.

    Raises:
        DataFormatError: a column is missing or its lists differ from its collection's ``PT``.
    """
    names = chunk.fields if isinstance(chunk, ak.Array) else list(chunk)
    gen = "Gen_PartHS" if "Gen_PartHS_PT" in names else "Gen_Part"

    def read(prefix: str, fields: tuple[str, ...]) -> dict[str, Jagged]:
        off, _ = jagged(chunk, f"{prefix}_PT", None)
        return {f: (off, field_like(chunk, prefix, f, off, None)) for f in fields}

    return jet_truth(
        read(f"{view}_{jets}", _JET_FIELDS),
        read(gen, GEN_FIELDS),
        read("Gen_JetAK4", _JET_FIELDS),
        dr=dr,
    )
