"""Top-k padded particle sets with a mask: the input of set and graph networks.

From a view's particle collection (``<view>_PUPPIPart``: every particle-flow
candidate with its PUPPI weight; ``<view>_PFPart``: the candidates that
charged-hadron subtraction keeps) every event gives its *k* highest-pT
candidates (stable sort: ties keep the file order), padded with zeros, and a
mask that is True for real candidates. The features (:data:`PARTICLE_FEATURES`)
and their units:

=================  =====  =====================================================
``PT``             GeV    transverse momentum (measured, not PUPPI-weighted)
``Eta``                   pseudorapidity
``Phi``            rad    azimuth in [-pi, pi]
``DZ``, ``D0``     mm     longitudinal / transverse impact parameter (0 for neutrals)
``Charge``         e      electric charge
``IsPhoton`` ...          one-hot particle type, :data:`PARTICLE_TYPES`
``PuppiW``                PUPPI weight in [0, 1]
``DEta``, ``DPhi`` rad    (``relative=True``) to the pT-weighted axis of the kept candidates
=================  =====  =====================================================

The particle type comes from PID and charge as the views write them
(:func:`l1scout.io.ragged.particle_type_one_hot`): photons are ECAL neutrals
(PID 22), neutral hadrons the HCAL neutrals (PID 0 in the views, any other
neutral id accepted), electrons and muons charged with |PID| 11 and 13, the
other charged candidates charged hadrons. Truth labels (``IsPU`` by default:
the candidate comes from a pileup collision) are a separate array, so that a
model's inputs never see them.

**Pre-cut collections.** A file may also hold ``<view>_PUPPIPart128``, the 128
highest-pT entries of ``<view>_PUPPIPart`` written at production time
(:data:`l1scout.io.schema.PRECUT_COLLECTIONS`). With k <= 128 the sets are
the same from either, and the pre-cut one decodes about eight times fewer
values: :func:`particle_set_columns` names it when the dataset's columns
(``available``) hold it, and :func:`particle_set` uses it whenever the chunk
holds it, else cuts the full collection (real COLLIDE files)::

    ds = open_dataset(files)                       # footers only
    ds = ds.with_columns(particle_set_columns(available=ds.columns))
    for chunk in ds:
        s = particle_set(chunk, k=128)

Example:
    >>> import awkward as ak
    >>> ev = {c: ak.Array([[0.0, 0.0], [0.0]]) for c in particle_set_columns()}
    >>> ev["L1T_PUPPIPart_PT"] = ak.Array([[2.0, 9.0], [4.0]])
    >>> ev["L1T_PUPPIPart_PID"] = ak.Array([[22, 211], [0]])
    >>> ev["L1T_PUPPIPart_Charge"] = ak.Array([[0, 1], [0]])
    >>> ev["L1T_PUPPIPart_IsPU"] = ak.Array([[1, 0], [1]])
    >>> s = particle_set(ev, k=3)
    >>> s.features[0, :, 0].tolist(), s.mask.tolist(), s.labels[..., 0].tolist()
    ([9.0, 2.0, 0.0], [[True, True, False], [True, False, False]], [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    >>> s.features[0, 0, s.names.index("IsChargedHadron")], s.features[1, 0, s.names.index("IsNeutralHadron")]
    (np.float32(1.0), np.float32(1.0))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._jagged import wrap_phi
from l1scout._types import F32, I64, B
from l1scout.io.ragged import (
    PARTICLE_TYPES,
    EventsLike,
    check_count,
    field_like,
    gather,
    jagged,
    n_events,
    particle_type_one_hot,
    top_k,
)
from l1scout.io.schema import PRECUT_COLLECTIONS

__all__ = [
    "PARTICLE_FEATURES",
    "PARTICLE_TYPES",
    "ParticleSet",
    "particle_columns",
    "particle_features",
    "particle_set",
    "particle_set_columns",
    "relative_features",
]

_log = logging.getLogger(__name__)

#: Feature names of a particle, in order (``DEta``, ``DPhi`` appended with ``relative=True``).
PARTICLE_FEATURES: tuple[str, ...] = (
    "PT",
    "Eta",
    "Phi",
    "DZ",
    "D0",
    "Charge",
    *PARTICLE_TYPES,
    "PuppiW",
)
#: Columns read for the features (``PID`` and ``Charge`` give the one-hot type).
_READ = ("PT", "Eta", "Phi", "DZ", "D0", "Charge", "PID", "PuppiW")


@dataclass(frozen=True)
class ParticleSet:
    """Padded particle sets of a chunk of events.

    Attributes:
        features: float32 (n_events, k, len(names)); zeros where ``mask`` is False.
        mask: bool (n_events, k), True for a real particle.
        names: the feature names (:data:`PARTICLE_FEATURES`, maybe ``DEta``, ``DPhi``).
        labels: float32 (n_events, k, len(label_names)) truth labels, or None.
        label_names: the label fields (``IsPU``, ...); empty without labels.
    """

    features: F32
    mask: B
    names: tuple[str, ...]
    labels: F32 | None
    label_names: tuple[str, ...]


def particle_columns(prefix: str, *, truth: bool, label_fields: Sequence[str]) -> tuple[str, ...]:
    """The columns of the particle collection *prefix* (``<view>_<collection>``) that the sets read."""
    fields = list(_READ)
    if truth:
        fields += [f for f in label_fields if f not in fields]
    return tuple(f"{prefix}_{f}" for f in fields)


def particle_set_columns(
    view: str = "L1T",
    collection: str = "PUPPIPart",
    truth: bool = True,
    *,
    label_fields: Sequence[str] = ("IsPU",),
    k: int = 128,
    available: Iterable[str] | None = None,
) -> tuple[str, ...]:
    """The canonical columns :func:`particle_set` reads.

    Args:
        view: the detector view (``L1T``, ``FullReco``, ...).
        collection: ``PUPPIPart`` or ``PFPart``.
        truth: also the truth *label_fields*.
        label_fields: fields of the collection used as labels.
        k: particles per event that :func:`particle_set` will keep.
        available: the columns the data has (``Dataset.columns``,
            ``DataFile.columns``): when they hold a pre-cut collection of
            *collection* with at least *k* entries per event
            (``<view>_PUPPIPart128`` for k <= 128), its columns are named
            instead of the full collection's. None: the full collection's.

    >>> particle_set_columns()[:3], particle_set_columns()[-1]
    (('L1T_PUPPIPart_PT', 'L1T_PUPPIPart_Eta', 'L1T_PUPPIPart_Phi'), 'L1T_PUPPIPart_IsPU')
    >>> cols = particle_set_columns(available=particle_set_columns(collection="PUPPIPart128"))
    >>> cols[0], len(particle_set_columns(k=129, available=cols))
    ('L1T_PUPPIPart128_PT', 9)
    """
    if available is not None:
        have = frozenset(available)
        for prefix in _precut_prefixes(view, collection, k):
            cols = particle_columns(prefix, truth=truth, label_fields=label_fields)
            if have.issuperset(cols):
                return cols
    return particle_columns(f"{view}_{collection}", truth=truth, label_fields=label_fields)


def _precut_prefixes(view: str, collection: str, k: int) -> list[str]:
    """``<view>_<pre-cut>`` of the pre-cut collections of *collection* that keep >= *k*, smallest first."""
    fits = [(n, name) for name, (full, n) in PRECUT_COLLECTIONS.items() if full == collection]
    return [f"{view}_{name}" for n, name in sorted(fits) if k <= n]


def _source_prefix(
    events: EventsLike, view: str, collection: str, k: int, cols: Sequence[str]
) -> str:
    """The collection a chunk's sets come from: a pre-cut one it holds that keeps >= *k*, else *collection*."""
    have = frozenset(events.fields if isinstance(events, ak.Array) else events)
    full = f"{view}_{collection}"
    for prefix in _precut_prefixes(view, collection, k):
        if have.issuperset(prefix + c[len(full) :] for c in cols):
            return prefix
    return full


def particle_features(
    events: EventsLike,
    prefix: str,
    offsets: I64,
    idx: np.ndarray,
    mask: np.ndarray,
    *,
    pt: np.ndarray | None = None,
    truth: bool = False,
    label_fields: Sequence[str] = (),
    extra: int = 0,
) -> tuple[F32, F32 | None]:
    """Features (:data:`PARTICLE_FEATURES` order) and labels of the particles at flat indices *idx*.

    The building block shared by :func:`particle_set` and the jet constituents.

    Args:
        events: the chunk.
        prefix: the collection, ``<view>_<collection>``.
        offsets: the collection's offsets (from ``<prefix>_PT``).
        idx: flat indices into the collection, any shape S.
        mask: bool of shape S, True where *idx* is a real particle.
        pt: the already-read flat ``<prefix>_PT`` values (float32), if any.
        truth: also gather the *label_fields*.
        label_fields: truth fields of the collection (``IsPU``, ...).
        extra: extra zero feature slots left at the end for the caller.

    Returns:
        ``(features (S, F + extra), labels (S, L) or None)``, float32, zero where *mask* is False.
    """
    n_feat = len(PARTICLE_FEATURES)
    feats = np.zeros((*idx.shape, n_feat + extra), dtype=np.float32)
    take = _taker(idx, mask)
    if pt is None:
        pt = field_like(events, prefix, "PT", offsets, np.float32)
    take(pt, out=feats[..., 0])
    for j, name in enumerate(("Eta", "Phi", "DZ", "D0"), start=1):
        take(field_like(events, prefix, name, offsets, np.float32), out=feats[..., j])
    charge = take(field_like(events, prefix, "Charge", offsets, None), dtype=np.int8)
    feats[..., 5] = charge
    pid = take(field_like(events, prefix, "PID", offsets, None), dtype=np.int32)
    one_hot = particle_type_one_hot(pid, charge) & mask[..., None]
    feats[..., 6 : 6 + len(PARTICLE_TYPES)] = one_hot
    take(field_like(events, prefix, "PuppiW", offsets, np.float32), out=feats[..., n_feat - 1])
    labels = None
    if truth:
        labels = np.zeros((*idx.shape, len(label_fields)), dtype=np.float32)
        for j, name in enumerate(label_fields):
            take(field_like(events, prefix, name, offsets, None), out=labels[..., j])
    return feats, labels


class _Taker(Protocol):
    def __call__(
        self, values: np.ndarray, *, out: np.ndarray | None = None, dtype: npt.DTypeLike = ...
    ) -> np.ndarray: ...


def _taker(idx: I64, mask: B) -> _Taker:
    """:func:`~l1scout.io.ragged.gather` at (*idx*, *mask*), faster for a dense block.

    When *mask* is all True and *idx* is one run of consecutive indices (every
    event has exactly k entries, already in pT order: a pre-cut collection at
    high pileup), the values are a reshaped slice, copied without indexing.
    """
    start = int(idx.flat[0]) if idx.size else 0
    dense = (
        idx.ndim == 2
        and idx.size > 0
        and (idx.shape[0] < 2 or int(idx[1, 0]) == int(idx[0, -1]) + 1)
        and bool(mask.all())
        and np.array_equal(idx.reshape(-1), np.arange(start, start + idx.size))
    )

    def take(
        values: np.ndarray, *, out: np.ndarray | None = None, dtype: npt.DTypeLike = np.float32
    ) -> np.ndarray:
        if not dense:
            return gather(values, idx, mask, dtype, out=out)
        block = values[start : start + idx.size].reshape(idx.shape)
        if out is None:
            return block.astype(dtype)
        np.copyto(out, block, casting="unsafe")
        return out

    return take


def relative_features(feats: F32, mask: B, axis_eta: F32, axis_phi: F32) -> None:
    """Write ``DEta``, ``DPhi`` (rad, wrapped to [-pi, pi)) to an axis after the particle features.

    Args:
        feats: :func:`particle_features` output made with ``extra >= 2``; the two
            slots after :data:`PARTICLE_FEATURES` are written in place.
        mask: True where *feats* is a real particle (the others get 0).
        axis_eta: the axis pseudorapidity, broadcastable to ``mask``.
        axis_phi: the axis azimuth (rad), broadcastable to ``mask``.
    """
    n_feat = len(PARTICLE_FEATURES)
    feats[..., n_feat] = np.where(mask, feats[..., 1] - axis_eta, 0)
    feats[..., n_feat + 1] = np.where(mask, wrap_phi(feats[..., 2] - axis_phi), 0)


def particle_set(
    events: EventsLike,
    view: str = "L1T",
    collection: str = "PUPPIPart",
    k: int = 128,
    truth: bool = True,
    *,
    label_fields: Sequence[str] = ("IsPU",),
    relative: bool = False,
) -> ParticleSet:
    """The *k* highest-pT particles of every event, padded, with a mask.

    Args:
        events: a chunk of events (``ak.Array`` of records or a mapping) with
            the columns of :func:`particle_set_columns`: those of the full
            collection or, for k <= 128, of its pre-cut ``<collection>128``
            (used whenever the chunk holds them; the sets are the same).
        view: the detector view (``L1T``, ``FullReco``, ...).
        collection: ``PUPPIPart`` or ``PFPart``.
        k: particles per event (the highest pT, stable on ties).
        truth: also return the truth *label_fields* as ``labels``.
        label_fields: fields of the collection used as labels (``IsPU``, or the
            CHS flag ``IsRecoPU``, ...).
        relative: append ``DEta`` and ``DPhi`` (wrapped to [-pi, pi)) of each
            particle to the event axis: the pT-weighted mean eta and the
            direction of the pT-weighted sum of (cos phi, sin phi) of the kept
            particles.

    Returns:
        A :class:`ParticleSet` (features float32 (n, k, F), zeros where padded).

    Raises:
        ConfigError: *k* is not a positive integer.
        DataFormatError: a column is missing or its lists do not match ``PT``'s.
    """
    k = check_count("k", k)
    cols = particle_set_columns(view, collection, truth, label_fields=label_fields)
    prefix = _source_prefix(events, view, collection, k, cols)
    if prefix != f"{view}_{collection}":
        cols = particle_columns(prefix, truth=truth, label_fields=label_fields)
    n_events(events, cols)
    offsets, pt = jagged(events, f"{prefix}_PT", np.float32)
    idx, mask = top_k(offsets, pt, k)
    extra = 2 if relative else 0
    feats, labels = particle_features(
        events,
        prefix,
        offsets,
        idx,
        mask,
        pt=pt,
        truth=truth,
        label_fields=label_fields,
        extra=extra,
    )
    names = PARTICLE_FEATURES
    if relative:
        axis_eta, axis_phi = _pt_weighted_axis(feats[..., 0], feats[..., 1], feats[..., 2])
        relative_features(feats, mask, axis_eta[:, None], axis_phi[:, None])
        names = (*PARTICLE_FEATURES, "DEta", "DPhi")
    _log.debug("particle sets of %d events, k = %d, from %s", len(mask), k, prefix)
    return ParticleSet(
        features=feats,
        mask=mask,
        names=names,
        labels=labels,
        label_names=tuple(label_fields) if truth else (),
    )


def _pt_weighted_axis(pt: F32, eta: F32, phi: F32) -> tuple[F32, F32]:
    """Per row: the pT-weighted mean of eta and the azimuth of sum pT (cos phi, sin phi).

    Padded entries have pT = 0 and weigh nothing; a row without pT has axis (0, 0).
    """
    w = pt.astype(np.float64)
    total = w.sum(axis=-1)
    eta_axis = np.divide((w * eta).sum(axis=-1), total, out=np.zeros_like(total), where=total > 0)
    phi_axis = np.arctan2((w * np.sin(phi)).sum(axis=-1), (w * np.cos(phi)).sum(axis=-1))
    return eta_axis.astype(np.float32), phi_axis.astype(np.float32)
