"""Jets with their constituents: padded (event, jet, constituent) tensors for jet taggers.

A view's jets (``<view>_<jets>_*``) list their constituents in
``<view>_<jets>_ConstituentsIdx``: per jet, the index of each constituent in
the same event's particle collection of the view. Which collection depends on
the jet's input in the view card (``detector/cards/*.toml``, ``[[jets]] input``
and :func:`l1scout.reco.view.simulate_view`): ``input = "pf"`` jets (the CHS
jets ``JetAK4``, ``JetAK8``) index ``<view>_PFPart``, the candidates that
charged-hadron subtraction keeps; ``input = "puppi"`` jets (``JetPuppiAK4``,
``JetPuppiAK8``) index ``<view>_PUPPIPart``. By default the collection is
chosen by the jet name (``Puppi`` in it: ``PUPPIPart``, else ``PFPart``);
``particles=`` overrides it for a user's card.

Every event keeps its ``n_jets`` highest-pT jets and every jet its
``n_constituents`` highest-pT constituents (candidate pT, not PUPPI-weighted;
stable sorts), zero-padded with masks. Jet features (:data:`JET_FEATURES`):
``PT`` (GeV), ``Eta``, ``Phi`` (rad), ``Mass`` (GeV), ``Charge`` (e),
``NCharged``, ``NNeutrals``, ``BTag`` (bit mask); truth label ``Flavor``.
Constituent features (:data:`CONSTITUENT_FEATURES`): the particle features of
:mod:`l1scout.io.particle_sets` plus ``DEta`` and ``DPhi`` (rad, wrapped to
[-pi, pi)) to the jet axis (the jet's Eta and Phi); truth label ``IsPU``.

A constituent index outside its event's particle list (a file whose particle
list was cut after clustering) is skipped.

Example:
    >>> import awkward as ak
    >>> ev = {c: ak.Array([[0, 0]]) for c in jet_constituent_columns(truth=False)}
    >>> ev.update({c: ak.Array([[0.0, 0.0, 0.0]]) for c in ev if "PUPPIPart" in c})
    >>> ev["L1T_JetPuppiAK4_PT"] = ak.Array([[20.0, 50.0]])
    >>> ev["L1T_JetPuppiAK4_ConstituentsIdx"] = ak.Array([[[0], [1, 2]]])
    >>> ev["L1T_PUPPIPart_PT"] = ak.Array([[15.0, 10.0, 30.0]])
    >>> s = jets_with_constituents(ev, n_jets=3, n_constituents=2, truth=False)
    >>> s.jets[0, :, 0].tolist(), s.constituents[0, :, :, 0].tolist()
    ([50.0, 20.0, 0.0], [[30.0, 10.0], [15.0, 0.0], [0.0, 0.0]])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from l1scout._jagged import offsets_from_counts
from l1scout._types import F32, I64, B
from l1scout.errors import DataFormatError
from l1scout.io.particle_sets import (
    PARTICLE_FEATURES,
    particle_columns,
    particle_features,
    relative_features,
)
from l1scout.io.ragged import (
    EventsLike,
    check_count,
    field_like,
    gather,
    jagged,
    n_events,
    nested,
    segment_arange,
    top_k,
)

__all__ = [
    "CONSTITUENT_FEATURES",
    "JET_FEATURES",
    "JetSet",
    "jet_constituent_columns",
    "jet_particles",
    "jets_with_constituents",
]

_log = logging.getLogger(__name__)

#: Jet features, in order.
JET_FEATURES: tuple[str, ...] = (
    "PT",
    "Eta",
    "Phi",
    "Mass",
    "Charge",
    "NCharged",
    "NNeutrals",
    "BTag",
)
#: Constituent features, in order.
CONSTITUENT_FEATURES: tuple[str, ...] = (*PARTICLE_FEATURES, "DEta", "DPhi")


@dataclass(frozen=True)
class JetSet:
    """Padded jets and constituents of a chunk of events.

    Attributes:
        jets: float32 (n_events, n_jets, len(jet_names)); zeros where ``jet_mask`` is False.
        jet_mask: bool (n_events, n_jets).
        constituents: float32 (n_events, n_jets, n_constituents, len(constituent_names)).
        constituent_mask: bool (n_events, n_jets, n_constituents).
        jet_names: :data:`JET_FEATURES`.
        constituent_names: :data:`CONSTITUENT_FEATURES`.
        jet_labels: float32 (n_events, n_jets, len(jet_label_names)) truth, or None.
        jet_label_names: ``("Flavor",)`` with truth, else empty.
        constituent_labels: float32 (n_events, n_jets, n_constituents, L) truth, or None.
        constituent_label_names: the constituent label fields (``IsPU``), else empty.
    """

    jets: F32
    jet_mask: B
    constituents: F32
    constituent_mask: B
    jet_names: tuple[str, ...]
    constituent_names: tuple[str, ...]
    jet_labels: F32 | None
    jet_label_names: tuple[str, ...]
    constituent_labels: F32 | None
    constituent_label_names: tuple[str, ...]


def jet_particles(jets: str) -> str:
    """The particle collection that a jet collection's ``ConstituentsIdx`` indexes (by name).

    >>> jet_particles("JetPuppiAK4"), jet_particles("JetAK8")
    ('PUPPIPart', 'PFPart')
    """
    return "PUPPIPart" if "puppi" in jets.lower() else "PFPart"


def jet_constituent_columns(
    view: str = "L1T",
    jets: str = "JetPuppiAK4",
    truth: bool = True,
    *,
    particles: str | None = None,
    label_fields: Sequence[str] = ("IsPU",),
) -> tuple[str, ...]:
    """The canonical columns :func:`jets_with_constituents` reads.

    >>> jet_constituent_columns()[:2], jet_constituent_columns()[-1]
    (('L1T_JetPuppiAK4_PT', 'L1T_JetPuppiAK4_Eta'), 'L1T_PUPPIPart_IsPU')
    """
    prefix = f"{view}_{jets}"
    cols = [f"{prefix}_{f}" for f in JET_FEATURES]
    if truth:
        cols.append(f"{prefix}_Flavor")
    cols.append(f"{prefix}_ConstituentsIdx")
    part = f"{view}_{particles or jet_particles(jets)}"
    return (*cols, *particle_columns(part, truth=truth, label_fields=label_fields))


def _constituent_indices(
    events: EventsLike,
    prefix: str,
    jet_offsets: I64,
    jet_idx: I64,
    jet_mask: B,
    part_offsets: I64,
    part_pt: F32,
    n_constituents: int,
) -> tuple[I64, B]:
    """Flat particle indices (n, J, C) of the highest-pT constituents of the selected jets."""
    outer, inner, const = nested(events, f"{prefix}_ConstituentsIdx")
    if not np.array_equal(outer, jet_offsets):
        msg = f"column {prefix}_ConstituentsIdx does not have one list per jet of {prefix}_PT"
        raise DataFormatError(msg)
    sel = jet_idx[jet_mask]  # flat jet indices, event-major
    sel_event = np.nonzero(jet_mask)[0]
    counts = (inner[1:] - inner[:-1])[sel]
    elems = segment_arange(inner[:-1][sel], counts)
    local = const[elems].astype(np.int64)
    event = np.repeat(sel_event, counts)
    n_part = part_offsets[1:] - part_offsets[:-1]
    valid = (local >= 0) & (local < n_part[event])
    if not valid.all():
        _log.debug(
            "%s: %d constituent indices outside the particle list skipped",
            prefix,
            int((~valid).sum()),
        )
        cum = offsets_from_counts(valid)
        jet_bounds = offsets_from_counts(counts)
        counts = cum[jet_bounds[1:]] - cum[jet_bounds[:-1]]
        local, event = local[valid], event[valid]
    glob = part_offsets[:-1][event] + local
    top, top_mask = top_k(offsets_from_counts(counts), part_pt[glob], n_constituents)
    shape = (*jet_mask.shape, n_constituents)
    idx = np.zeros(shape, dtype=np.int64)
    mask = np.zeros(shape, dtype=np.bool_)
    if glob.size:
        idx[jet_mask] = np.where(top_mask, glob[top], 0)
    mask[jet_mask] = top_mask
    return idx, mask


def jets_with_constituents(
    events: EventsLike,
    view: str = "L1T",
    jets: str = "JetPuppiAK4",
    n_jets: int = 10,
    n_constituents: int = 32,
    truth: bool = True,
    *,
    particles: str | None = None,
    label_fields: Sequence[str] = ("IsPU",),
) -> JetSet:
    """The highest-pT jets of every event with their highest-pT constituents.

    Args:
        events: a chunk of events (``ak.Array`` of records or a mapping) with the
            columns of :func:`jet_constituent_columns`.
        view: the detector view.
        jets: the jet collection (a ``[[jets]]`` name of the view card).
        n_jets: jets kept per event.
        n_constituents: constituents kept per jet.
        truth: also return the labels (jet ``Flavor``, constituent *label_fields*).
        particles: the particle collection that ``ConstituentsIdx`` indexes
            (default: :func:`jet_particles`).
        label_fields: constituent truth fields.

    Returns:
        A :class:`JetSet`.

    Raises:
        ConfigError: *n_jets* or *n_constituents* is not a positive integer.
        DataFormatError: a column is missing or the jet and constituent lists disagree.
    """
    n_jets = check_count("n_jets", n_jets)
    n_constituents = check_count("n_constituents", n_constituents)
    prefix = f"{view}_{jets}"
    part = f"{view}_{particles or jet_particles(jets)}"
    cols = jet_constituent_columns(
        view, jets, truth, particles=particles, label_fields=label_fields
    )
    n_events(events, cols)
    j_off, j_pt = jagged(events, f"{prefix}_PT", np.float32)
    j_idx, j_mask = top_k(j_off, j_pt, n_jets)
    jet_feats = np.zeros((*j_mask.shape, len(JET_FEATURES)), dtype=np.float32)
    gather(j_pt, j_idx, j_mask, out=jet_feats[..., 0])
    for j, name in enumerate(JET_FEATURES[1:], start=1):
        gather(field_like(events, prefix, name, j_off, None), j_idx, j_mask, out=jet_feats[..., j])
    jet_labels = None
    if truth:
        jet_labels = gather(field_like(events, prefix, "Flavor", j_off, None), j_idx, j_mask)[
            ..., None
        ]
    p_off, p_pt = jagged(events, f"{part}_PT", np.float32)
    c_idx, c_mask = _constituent_indices(
        events, prefix, j_off, j_idx, j_mask, p_off, p_pt, n_constituents
    )
    feats, labels = particle_features(
        events,
        part,
        p_off,
        c_idx,
        c_mask,
        pt=p_pt,
        truth=truth,
        label_fields=label_fields,
        extra=2,
    )
    relative_features(feats, c_mask, jet_feats[..., 1, None], jet_feats[..., 2, None])
    return JetSet(
        jets=jet_feats,
        jet_mask=j_mask,
        constituents=feats,
        constituent_mask=c_mask,
        jet_names=JET_FEATURES,
        constituent_names=CONSTITUENT_FEATURES,
        jet_labels=jet_labels,
        jet_label_names=("Flavor",) if truth else (),
        constituent_labels=labels,
        constituent_label_names=tuple(label_fields) if truth else (),
    )
