"""The inputs of the 18-class event classifiers from one detector view.

**Object level** (:func:`event_objects`), the inputs of the public 18-class
COLLIDE-2V baseline: the 12 highest-pT PUPPI AK4 jets, the 8 highest-pT
electrons, tight muons and tight photons, and the PUPPI missing transverse
momentum, each object with the features of its group (:data:`OBJECT_GROUPS`),
plus the number of jets. Units: pT, MET and mass in GeV, phi in rad, impact
parameters in mm; the isolation is the views' ``IsolationVar`` (Delphes'
delta-beta corrected relative isolation), ``EhadOverEem`` the HCAL / ECAL
energy ratio, ``BTag`` the card's b-tag bits as a number, ``NCharged`` and
``NNeutrals`` the jet's constituent counts:

==========  =====  ===================================================================
group       slots  features
==========  =====  ===================================================================
jet         12     PT, Eta, Phi, Mass, BTag, NCharged, NNeutrals (``<view>_JetPuppiAK4``)
electron    8      PT, Eta, Phi, Charge, D0, DZ, EhadOverEem, IsolationVar (``<view>_Electron``)
muon        8      PT, Eta, Phi, Charge, D0, DZ, IsolationVar (``<view>_MuonTight``)
photon      8      PT, Eta, Phi, EhadOverEem, IsolationVar (``<view>_PhotonTight``)
met         1      MET, Phi (``<view>_PUPPIMET``)
==========  =====  ===================================================================

Every group is sorted by decreasing pT (stable: ties keep the file order)
before the highest are kept; missing objects are zero with a False mask. Two
layouts come out of one call (:class:`ObjectInputs`):

* ``tokens`` (n, 37, 13) for the transformer: one token per slot, the slot's
  own features left-aligned and zero-padded to the widest group's 8, then a
  one-hot of the 5 groups (:data:`TOKEN_FEATURES`);
* ``flat`` (n, 247) for the MLP: every slot's own features, slot by slot in
  the table's order (padded slots zero), then the jet count
  (:func:`flat_feature_names`): 12 x 7 + 8 x 8 + 8 x 7 + 8 x 5 + 2 + 1.

**Particle level** (:func:`event_particles`): the 128 highest-pT PUPPI
candidates of the view (the COLLIDE-2V dataset card's recommendation for
Level-1 studies), read from the pre-cut ``<view>_PUPPIPart128`` when the
chunk holds it, else from ``<view>_PUPPIPart``
(:func:`l1scout.io.particle_sets.particle_set`), with the features of
:data:`PARTICLE_INPUT_FEATURES`: those of
:data:`l1scout.io.particle_sets.PARTICLE_FEATURES` (pT, eta, phi, DZ, D0,
charge, the one-hot type, the PUPPI weight), then ``PuppiPT`` = pT x PUPPI
weight (GeV) and ``LogPT`` = ln(pT / GeV).

Everything is whole-array numpy (no loop over events); the inputs are float32
and the masks bool. The layout and the choices are documented in
``docs/physics/event-classes.md``.

Example:
    >>> import awkward as ak
    >>> ev = {c: ak.Array([[], []]) for c in object_input_columns("L1T")}
    >>> ev["L1T_JetPuppiAK4_PT"] = ak.Array([[30.0, 80.0], []])
    >>> for f in ("Eta", "Phi", "Mass", "BTag", "NCharged", "NNeutrals"):
    ...     ev[f"L1T_JetPuppiAK4_{f}"] = ak.Array([[0.0, 1.0], []])
    >>> ev["L1T_PUPPIMET_MET"], ev["L1T_PUPPIMET_Phi"] = ak.Array([[15.0], [4.0]]), ak.Array([[0.5], [-1.0]])
    >>> x = event_objects(ev, "L1T")
    >>> x.tokens.shape, x.flat.shape, x.mask.sum(axis=1).tolist()
    ((2, 37, 13), (2, 247), [3, 1])
    >>> x.tokens[0, :2, :2].tolist(), x.flat[:, -3:].tolist()
    ([[80.0, 1.0], [30.0, 0.0]], [[15.0, 0.5, 2.0], [4.0, -1.0, 0.0]])
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from l1scout._types import F32, B
from l1scout.io.particle_sets import PARTICLE_FEATURES, particle_set, particle_set_columns
from l1scout.io.ragged import EventsLike, check_count, field_like, gather, jagged, n_events, top_k

__all__ = [
    "N_OBJECT_TOKENS",
    "OBJECT_GROUPS",
    "PARTICLE_INPUT_FEATURES",
    "TOKEN_FEATURES",
    "ObjectInputs",
    "ParticleInputs",
    "event_objects",
    "event_particles",
    "flat_feature_names",
    "object_input_columns",
    "particle_input_columns",
]

_log = logging.getLogger(__name__)

#: Object groups in token order: name -> (slots, features); the first feature orders the slots.
OBJECT_GROUPS: MappingProxyType[str, tuple[int, tuple[str, ...]]] = MappingProxyType(
    {
        "jet": (12, ("PT", "Eta", "Phi", "Mass", "BTag", "NCharged", "NNeutrals")),
        "electron": (8, ("PT", "Eta", "Phi", "Charge", "D0", "DZ", "EhadOverEem", "IsolationVar")),
        "muon": (8, ("PT", "Eta", "Phi", "Charge", "D0", "DZ", "IsolationVar")),
        "photon": (8, ("PT", "Eta", "Phi", "EhadOverEem", "IsolationVar")),
        "met": (1, ("MET", "Phi")),
    }
)
#: The view collection of each group.
_COLLECTIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "jet": "JetPuppiAK4",
        "electron": "Electron",
        "muon": "MuonTight",
        "photon": "PhotonTight",
        "met": "PUPPIMET",
    }
)
#: Tokens per event: 12 + 8 + 8 + 8 + 1.
N_OBJECT_TOKENS: int = sum(k for k, _ in OBJECT_GROUPS.values())
_WIDEST = max(len(f) for _, f in OBJECT_GROUPS.values())
#: Features of a token: the group's own features in slots ``f0 ... f7``, then the group one-hot.
TOKEN_FEATURES: tuple[str, ...] = (
    *(f"f{j}" for j in range(_WIDEST)),
    *(f"Is{g.capitalize()}" for g in OBJECT_GROUPS),
)
#: Features of a particle: :data:`~l1scout.io.particle_sets.PARTICLE_FEATURES`, PuppiPT, LogPT.
PARTICLE_INPUT_FEATURES: tuple[str, ...] = (*PARTICLE_FEATURES, "PuppiPT", "LogPT")


def object_input_columns(view: str) -> tuple[str, ...]:
    """The canonical columns :func:`event_objects` reads from *view*.

    >>> cols = object_input_columns("FullReco")
    >>> len(cols), cols[0], cols[-1]
    (29, 'FullReco_JetPuppiAK4_PT', 'FullReco_PUPPIMET_Phi')
    """
    return tuple(
        f"{view}_{_COLLECTIONS[group]}_{field}"
        for group, (_, fields) in OBJECT_GROUPS.items()
        for field in fields
    )


def flat_feature_names(view: str = "") -> tuple[str, ...]:
    """Names of the :attr:`ObjectInputs.flat` columns, e.g. ``jet1_PT`` ... ``met_Phi``, ``n_jets``.

    >>> names = flat_feature_names()
    >>> len(names), names[:2], names[-3:]
    (247, ('jet1_PT', 'jet1_Eta'), ('met_MET', 'met_Phi', 'n_jets'))
    >>> flat_feature_names("L1T")[0]
    'L1T_jet1_PT'
    """
    prefix = f"{view}_" if view else ""
    out: list[str] = []
    for group, (k, fields) in OBJECT_GROUPS.items():
        for i in range(1, k + 1):
            label = group if k == 1 else f"{group}{i}"
            out += [f"{prefix}{label}_{f}" for f in fields]
    out.append(f"{prefix}n_jets")
    return tuple(out)


@dataclass(frozen=True)
class ObjectInputs:
    """The object-level inputs of a chunk of events (module docstring).

    Attributes:
        tokens: float32 (n, 37, 13): one token per slot, the slot's features
            left-aligned and zero-padded to 8, then the one-hot of its group
            (set on padded slots too: the slot's group is known).
        mask: bool (n, 37), True for a real object.
        flat: float32 (n, 247): the MLP input (:func:`flat_feature_names`).
    """

    tokens: F32
    mask: B
    flat: F32

    @property
    def n_events(self) -> int:
        """Events in the chunk."""
        return int(self.tokens.shape[0])

    @property
    def n_token_features(self) -> int:
        """Features of a token (13)."""
        return int(self.tokens.shape[2])

    @property
    def n_flat(self) -> int:
        """Inputs of the MLP (247)."""
        return int(self.flat.shape[1])


def _group(events: EventsLike, prefix: str, fields: tuple[str, ...], k: int) -> tuple[F32, B]:
    """(n, k, len(fields)) float32 of the k objects of *prefix* with the highest first field."""
    offsets, key = jagged(events, f"{prefix}_{fields[0]}", np.float32)
    idx, mask = top_k(offsets, key, k)
    out = np.zeros((*idx.shape, len(fields)), dtype=np.float32)
    gather(key, idx, mask, out=out[..., 0])
    for j, field in enumerate(fields[1:], start=1):
        gather(field_like(events, prefix, field, offsets, np.float32), idx, mask, out=out[..., j])
    return out, mask


def event_objects(chunk: EventsLike, view: str) -> ObjectInputs:
    """The object-level inputs of every event of *chunk* seen by *view*.

    Args:
        chunk: an ``ak.Array`` of records (or a mapping from column names to
            jagged arrays) with the columns of :func:`object_input_columns`.
        view: the detector view, ``FullReco`` or ``L1T``.

    Returns:
        :class:`ObjectInputs`, pT-ordered within each group.

    Raises:
        DataFormatError: a column is missing (the message names it), or its
            lists differ from those of its collection's ``PT``.
    """
    n = n_events(chunk, object_input_columns(view))
    tokens = np.zeros((n, N_OBJECT_TOKENS, len(TOKEN_FEATURES)), dtype=np.float32)
    mask = np.zeros((n, N_OBJECT_TOKENS), dtype=np.bool_)
    flat_parts: list[F32] = []
    start = 0
    for g, (group, (k, fields)) in enumerate(OBJECT_GROUPS.items()):
        values, real = _group(chunk, f"{view}_{_COLLECTIONS[group]}", fields, k)
        tokens[:, start : start + k, : len(fields)] = values
        tokens[:, start : start + k, _WIDEST + g] = 1.0
        mask[:, start : start + k] = real
        flat_parts.append(values.reshape(n, k * len(fields)))
        start += k
    jet_offsets, _ = jagged(chunk, f"{view}_{_COLLECTIONS['jet']}_PT")
    flat_parts.append(np.diff(jet_offsets).astype(np.float32)[:, None])
    flat = np.ascontiguousarray(np.concatenate(flat_parts, axis=1), dtype=np.float32)
    _log.debug("object inputs of %d events from view %s", n, view)
    return ObjectInputs(tokens=tokens, mask=mask, flat=flat)


def particle_input_columns(
    view: str, k: int = 128, *, available: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The canonical columns :func:`event_particles` reads from *view*.

    With *available* (the dataset's columns) the pre-cut ``<view>_PUPPIPart128``
    is named when it holds them and ``k <= 128``.

    >>> particle_input_columns("L1T")[:2]
    ('L1T_PUPPIPart_PT', 'L1T_PUPPIPart_Eta')
    >>> particle_input_columns("L1T", available=particle_input_columns("L1T") + tuple(
    ...     c.replace("PUPPIPart", "PUPPIPart128") for c in particle_input_columns("L1T")))[0]
    'L1T_PUPPIPart128_PT'
    """
    return particle_set_columns(view, "PUPPIPart", truth=False, k=k, available=available)


@dataclass(frozen=True)
class ParticleInputs:
    """The particle-level inputs of a chunk of events.

    Attributes:
        features: float32 (n, k, 14), :data:`PARTICLE_INPUT_FEATURES`; zero in padded slots.
        mask: bool (n, k), True for a real candidate (highest pT first).
    """

    features: F32
    mask: B

    @property
    def n_events(self) -> int:
        """Events in the chunk."""
        return int(self.features.shape[0])


def event_particles(chunk: EventsLike, view: str, k: int = 128) -> ParticleInputs:
    """The *k* highest-pT PUPPI candidates of every event of *chunk* seen by *view*.

    Args:
        chunk: events with the columns of :func:`particle_input_columns`
            (the pre-cut ``<view>_PUPPIPart128`` ones are used when present and
            ``k <= 128``; the sets are the same).
        view: the detector view, ``FullReco`` or ``L1T``.
        k: candidates per event.

    Raises:
        ConfigError: *k* is not a positive integer.
        DataFormatError: a column is missing or malformed.

    >>> import awkward as ak
    >>> ev = {c: ak.Array([[0.0, 0.0]]) for c in particle_input_columns("L1T")}
    >>> ev["L1T_PUPPIPart_PT"], ev["L1T_PUPPIPart_PuppiW"] = ak.Array([[1.0, 4.0]]), ak.Array([[1.0, 0.25]])
    >>> p = event_particles(ev, "L1T", k=3)
    >>> p.features[0, :, -2:].tolist(), p.mask.tolist()
    ([[1.0, 1.3862943649291992], [1.0, 0.0], [0.0, 0.0]], [[True, True, False]])
    """
    k = check_count("k", k)
    sets = particle_set(chunk, view, "PUPPIPart", k, truth=False)
    n_base = len(PARTICLE_FEATURES)
    feats = np.zeros((*sets.mask.shape, len(PARTICLE_INPUT_FEATURES)), dtype=np.float32)
    feats[..., :n_base] = sets.features
    pt = sets.features[..., 0]
    feats[..., n_base] = pt * sets.features[..., PARTICLE_FEATURES.index("PuppiW")]
    feats[..., n_base + 1] = np.log(pt, out=np.zeros_like(pt), where=sets.mask & (pt > 0))
    return ParticleInputs(features=feats, mask=sets.mask)
