"""The 57 inputs of the Level-1 anomaly-detection trigger (AXOL1TL, ADC2021 layout) from a view.

The CMS anomaly-detection trigger AXOL1TL reads 19 objects x (pT, eta, phi):
1 missing transverse momentum (eta = 0), 4 e/gamma, 4 muons and 10 jets,
each group sorted by decreasing pT and zero-padded
(``docs/physics/l1-algorithms.md``, "Trigger inputs"; the public ADC2021 data set, Govorkova
et al., Sci. Data 2022, stores them as an array of shape (19, 3)). Here they
are built from the columns of one detector view (``L1T`` by default):

* MET: ``<view>_PUPPIMET`` (MET, Phi), eta set to 0 as AXOL1TL does;
* e/gamma: ``<view>_Electron`` and ``<view>_PhotonTight`` merged and sorted by
  pT. In the views an electron is a track whose calorimeter energy is
  subtracted by particle flow, and a tight photon is an ECAL neutral candidate:
  a photon within ``overlap_dr`` (default 0.1) of an electron is the leftover of
  the same shower (bremsstrahlung or a fluctuation above the track momentum),
  which the Level-1 e/gamma finder would see as one cluster, so it is dropped;
  ``overlap_dr=0`` keeps every photon. On equal pT an electron comes first.
* muons: ``<view>_MuonTight`` (the views' tight muons are tracks: eta and phi at
  the vertex, as AXOL1TL's muons extrapolated to the vertex);
* jets: ``<view>_JetPuppiAK4``, the PUPPI anti-kT R = 0.4 jets of the view card
  (``detector/cards/L1T.toml``, ``[[jets]] name = "JetPuppiAK4"``), as the
  Phase-2 Level-1 trigger's jets are PUPPI jets.

The input order of each collection is not trusted: every group is sorted by pT
(stable) before the highest ones are kept. Units: pT in GeV, eta, phi in rad
(phi as the view writes it, in [-pi, pi]). Missing objects are zeros.

Example:
    >>> import awkward as ak
    >>> names = trigger_input_columns()
    >>> ev = {name: ak.Array([[]]) for name in names}
    >>> ev["L1T_MuonTight_PT"], ev["L1T_MuonTight_Eta"] = ak.Array([[7.0, 30.0]]), ak.Array([[0.5, -1.0]])
    >>> ev["L1T_MuonTight_Phi"] = ak.Array([[0.25, 2.0]])
    >>> x = trigger_inputs(ev)
    >>> x.shape, x[0, 15:21].tolist()
    ((1, 57), [30.0, -1.0, 2.0, 7.0, 0.5, 0.25])
"""

from __future__ import annotations

import logging

import numpy as np

from l1scout._jagged import event_index, first_per_event, offsets_from_counts
from l1scout._types import F32, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import (
    EventsLike,
    field_like,
    gather,
    jagged,
    n_events,
    segment_arange,
    top_k,
)

__all__ = [
    "N_TRIGGER_INPUTS",
    "TRIGGER_OBJECTS",
    "egamma_objects",
    "trigger_input_columns",
    "trigger_input_names",
    "trigger_inputs",
]

_log = logging.getLogger(__name__)

#: The object groups of the anomaly-trigger inputs and how many of each, in order.
TRIGGER_OBJECTS: tuple[tuple[str, int], ...] = (("MET", 1), ("EGamma", 4), ("Muon", 4), ("Jet", 10))
#: 19 objects x (pT, eta, phi).
N_TRIGGER_INPUTS = 57

_QUANTITIES = ("PT", "Eta", "Phi")


def trigger_input_names(view: str = "L1T") -> tuple[str, ...]:
    """The 57 input names, object-major: ``<view>_MET_PT``, ``<view>_MET_Eta``, ..., ``<view>_Jet10_Phi``.

    >>> names = trigger_input_names()
    >>> len(names), names[:4], names[-1]
    (57, ('L1T_MET_PT', 'L1T_MET_Eta', 'L1T_MET_Phi', 'L1T_EGamma1_PT'), 'L1T_Jet10_Phi')
    """
    out = []
    for obj, count in TRIGGER_OBJECTS:
        for i in range(1, count + 1):
            label = obj if count == 1 else f"{obj}{i}"
            out += [f"{view}_{label}_{q}" for q in _QUANTITIES]
    return tuple(out)


def trigger_input_columns(
    view: str = "L1T", *, jets: str = "JetPuppiAK4", met: str = "PUPPIMET", photons: bool = True
) -> tuple[str, ...]:
    """The canonical columns :func:`trigger_inputs` reads.

    >>> trigger_input_columns()[:3]
    ('L1T_PUPPIMET_MET', 'L1T_PUPPIMET_Phi', 'L1T_Electron_PT')
    """
    cols = [f"{view}_{met}_MET", f"{view}_{met}_Phi"]
    colls = ["Electron", "PhotonTight"] if photons else ["Electron"]
    for coll in (*colls, "MuonTight", jets):
        cols += [f"{view}_{coll}_{q}" for q in _QUANTITIES]
    return tuple(cols)


def _objects(events: EventsLike, prefix: str) -> tuple[I64, list[F32]]:
    """Offsets and flat float32 (PT, Eta, Phi) of the collection *prefix*."""
    offsets, pt = jagged(events, f"{prefix}_PT", np.float32)
    rest = [field_like(events, prefix, q, offsets, np.float32) for q in _QUANTITIES[1:]]
    return offsets, [pt, *rest]


def _top(offsets: I64, values: list[F32], k: int) -> tuple[F32, np.ndarray]:
    """(n, k, 3) float32 of the k highest-pT objects, and their (n, k) mask."""
    idx, mask = top_k(offsets, values[0], k)
    return np.stack([gather(v, idx, mask) for v in values], axis=-1), mask


def _photons_apart(
    e_off: I64,
    e: list[F32],
    g_off: I64,
    g: list[F32],
    overlap_dr: float,
) -> tuple[I64, list[F32]]:
    """The photons farther than *overlap_dr* from every electron of their event."""
    if overlap_dr <= 0 or len(e[0]) == 0 or len(g[0]) == 0:
        return g_off, g
    g_event = event_index(g_off)
    n_pair = np.diff(e_off)[g_event]
    pair_g = np.repeat(np.arange(len(g_event), dtype=np.int64), n_pair)
    # electron partner: e_off[event] + 0 .. n_e - 1, for each photon
    pair_e = segment_arange(e_off[:-1][g_event], n_pair)
    deta = g[1][pair_g] - e[1][pair_e]
    dphi = np.abs(g[2][pair_g] - e[2][pair_e])
    dphi = np.minimum(dphi, np.float32(2 * np.pi) - dphi)
    close = deta * deta + dphi * dphi < np.float32(overlap_dr) ** 2
    keep = np.ones(len(g_event), dtype=np.bool_)
    keep[pair_g[close]] = False
    if keep.all():
        return g_off, g
    return offsets_from_counts(keep)[g_off], [v[keep] for v in g]


def egamma_objects(
    events: EventsLike, view: str = "L1T", *, overlap_dr: float = 0.1
) -> tuple[I64, list[F32]]:
    """Every e/gamma object of every event: the electrons, then the photons kept by the overlap removal.

    The merge of :func:`trigger_inputs` (module docstring: a photon within
    *overlap_dr* of an electron of its event is dropped) without its cut to
    the four highest: per event the electrons in their order, then the kept
    photons in theirs (a stable sort by pT then puts an electron first on a
    tie, as :func:`trigger_inputs` does).

    Returns:
        (int64 offsets, [pT (GeV), eta, phi (rad)] flat float32).

    Raises:
        DataFormatError: a column is missing or malformed.
        ConfigError: *overlap_dr* is negative or not finite.

    >>> ev = {f"L1T_{c}_{q}": [[v]] for c, v in (("Electron", 1.0), ("PhotonTight", 1.05))
    ...       for q in ("PT", "Eta", "Phi")}
    >>> ev["L1T_PhotonTight_PT"] = [[9.0]]
    >>> off, (pt, eta, phi) = egamma_objects(ev)
    >>> off.tolist(), pt.tolist()
    ([0, 1], [1.0])
    >>> egamma_objects(ev, overlap_dr=0)[1][0].tolist()
    [1.0, 9.0]
    """
    if not np.isfinite(overlap_dr) or overlap_dr < 0:
        msg = f"overlap_dr: expected a finite distance >= 0, got {overlap_dr!r}"
        raise ConfigError(msg)
    e_off, e = _objects(events, f"{view}_Electron")
    g_off, g = _objects(events, f"{view}_PhotonTight")
    if len(e_off) != len(g_off):
        msg = (
            f"{view}_Electron and {view}_PhotonTight: {len(e_off) - 1} and {len(g_off) - 1} events"
        )
        raise DataFormatError(msg)
    g_off, g = _photons_apart(e_off, e, g_off, g, overlap_dr)
    n_e, n_g = np.diff(e_off), np.diff(g_off)
    off = offsets_from_counts(n_e + n_g)
    to_e = segment_arange(off[:-1], n_e)  # where each electron goes
    to_g = segment_arange(off[:-1] + n_e, n_g)
    out = []
    for ve, vg in zip(e, g, strict=True):
        merged = np.empty(int(off[-1]), dtype=np.float32)
        merged[to_e] = ve
        merged[to_g] = vg
        out.append(merged)
    return off, out


def _egamma(events: EventsLike, view: str, overlap_dr: float, photons: bool) -> F32:
    """(n, 4, 3): the four highest-pT of electrons and photons, electrons first on ties.

    The caller has checked that all the columns have the same number of events.
    """
    e_off, e = _objects(events, f"{view}_Electron")
    top_e, mask_e = _top(e_off, e, 4)
    if not photons:
        return top_e
    g_off, g = _objects(events, f"{view}_PhotonTight")
    g_off, g = _photons_apart(e_off, e, g_off, g, overlap_dr)
    top_g, mask_g = _top(g_off, g, 4)
    both = np.concatenate([top_e, top_g], axis=1)
    mask = np.concatenate([mask_e, mask_g], axis=1)
    key = np.where(mask, -both[..., 0], np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :4]
    return np.take_along_axis(both, order[..., None], axis=1)


def trigger_inputs(
    events: EventsLike,
    view: str = "L1T",
    *,
    jets: str = "JetPuppiAK4",
    met: str = "PUPPIMET",
    photons: bool = True,
    overlap_dr: float = 0.1,
) -> F32:
    """The 57 anomaly-trigger inputs of every event, object-major as :func:`trigger_input_names`.

    Args:
        events: a chunk of events: an ``ak.Array`` of records (or a mapping) with
            the columns of :func:`trigger_input_columns`.
        view: the detector view whose objects are read.
        jets: the view's jet collection (the card's ``[[jets]]`` name).
        met: the view's missing-momentum collection (``PUPPIMET`` or ``MET``).
        photons: merge ``PhotonTight`` into the e/gamma objects (False: electrons only).
        overlap_dr: a photon closer than this (in eta-phi) to an electron of its
            event is dropped; 0 keeps all.

    Returns:
        float32 array of shape (n_events, 57): per object (pT [GeV], eta, phi [rad]),
        objects [MET, e/gamma 1-4, muon 1-4, jet 1-10], missing objects zero.
        ``.reshape(-1, 19, 3)`` gives the ADC2021 layout.

    Raises:
        DataFormatError: a column is missing or malformed.
        ConfigError: *overlap_dr* is negative or not finite.
    """
    if not np.isfinite(overlap_dr) or overlap_dr < 0:
        msg = f"overlap_dr: expected a finite distance >= 0, got {overlap_dr!r}"
        raise ConfigError(msg)
    names = trigger_input_columns(view, jets=jets, met=met, photons=photons)
    n = n_events(events, names)
    out = np.zeros((n, 19, 3), dtype=np.float32)
    m_off, m_pt = jagged(events, f"{view}_{met}_MET", np.float32)
    p_off, m_phi = jagged(events, f"{view}_{met}_Phi", np.float32)
    out[:, 0, 0] = first_per_event(m_off, m_pt, fill=0.0, dtype=np.float32)
    out[:, 0, 2] = first_per_event(p_off, m_phi, fill=0.0, dtype=np.float32)
    out[:, 1:5] = _egamma(events, view, overlap_dr, photons)
    out[:, 5:9] = _top(*_objects(events, f"{view}_MuonTight"), 4)[0]
    out[:, 9:19] = _top(*_objects(events, f"{view}_{jets}"), 10)[0]
    _log.debug("trigger inputs of %d events from view %s", n, view)
    return out.reshape(n, N_TRIGGER_INPUTS)
