"""Flat numpy views of the jagged columns of an event chunk, and per-event top-k selection.

The feature builders (:mod:`l1scout.io.trigger_inputs`, :mod:`l1scout.io.particle_sets`,
:mod:`l1scout.io.jet_sets`) read a chunk of events, an ``ak.Array`` of records
whose fields are canonical column names (or a plain mapping from names to
arrays), turn each column into ``offsets`` plus flat ``values`` (zero-copy when
the layout allows it) and select the k highest-pT entries of every event with
whole-array numpy operations: no Python loop over events.

Example:
    >>> import awkward as ak
    >>> offsets, values = jagged({"X_PT": ak.Array([[3.0, 1.0], [], [2.0]])}, "X_PT")
    >>> offsets.tolist(), values.tolist()
    ([0, 2, 2, 3], [3.0, 1.0, 2.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import I64, B
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "PARTICLE_TYPES",
    "EventsLike",
    "check_count",
    "column",
    "field_like",
    "gather",
    "jagged",
    "n_events",
    "nested",
    "particle_type_one_hot",
    "segment_arange",
    "top_k",
]

EventsLike: TypeAlias = ak.Array | Mapping[str, Any]

#: Names of the one-hot particle types, in order (see :func:`particle_type_one_hot`).
PARTICLE_TYPES = ("IsPhoton", "IsElectron", "IsMuon", "IsChargedHadron", "IsNeutralHadron")


def column(events: EventsLike, name: str) -> ak.Array:
    """The column *name* of a chunk, as an ``ak.Array``.

    Raises:
        DataFormatError: the chunk has no such column (the message lists what it has).
    """
    names = events.fields if isinstance(events, ak.Array) else list(events)
    if name not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        msg = f"the event chunk has no column {name!r} (it has {len(names)}: {shown})"
        raise DataFormatError(msg)
    value = events[name]
    return value if isinstance(value, ak.Array) else ak.Array(ak.to_layout(value))


def n_events(events: EventsLike, names: tuple[str, ...]) -> int:
    """The number of events of a chunk, checked to be the same for every column in *names* (not empty).

    Raises:
        DataFormatError: a column is missing or the columns have different lengths.
    """
    lengths = {name: len(column(events, name)) for name in names}
    values = set(lengths.values())
    if len(values) != 1:
        msg = f"the columns of the event chunk have different numbers of events: {lengths}"
        raise DataFormatError(msg)
    return values.pop()


def _unwrap(layout: ak.contents.Content) -> ak.contents.Content:
    while isinstance(layout, ak.contents.UnmaskedArray):
        layout = layout.content
    return layout


def _fast_levels(layout: ak.contents.Content, depth: int) -> tuple[list[I64], np.ndarray] | None:
    """Offsets of *depth* list levels and the flat values, without copies; None if not plain."""
    start, stop = 0, layout.length
    node = _unwrap(layout)
    levels: list[I64] = []
    for _ in range(depth):
        if isinstance(node, ak.contents.EmptyArray):  # lists of unknown type: all empty
            off = np.zeros(stop - start + 1, dtype=np.int64)
            start, stop = 0, 0
            levels.append(off)
            continue
        if isinstance(node, ak.contents.ListOffsetArray):
            off = np.asarray(node.offsets.data, dtype=np.int64)[start : stop + 1]
        elif isinstance(node, ak.contents.ListArray):
            starts = np.asarray(node.starts.data, dtype=np.int64)[start:stop]
            stops = np.asarray(node.stops.data, dtype=np.int64)[start:stop]
            if starts.size and not np.array_equal(starts[1:], stops[:-1]):
                return None
            off = np.concatenate([starts[:1] if starts.size else np.zeros(1, np.int64), stops])
        elif isinstance(node, ak.contents.RegularArray):
            off = np.arange(start, stop + 1, dtype=np.int64) * node.size
        else:
            return None
        levels.append(off - off[0])
        start, stop = int(off[0]), int(off[-1])
        node = _unwrap(node.content)
    if isinstance(node, ak.contents.EmptyArray):
        return levels, np.zeros(0)
    if not isinstance(node, ak.contents.NumpyArray) or node.data.ndim != 1:
        return None
    return levels, np.asarray(node.data)[start:stop]


def _levels(arr: ak.Array, depth: int, fill: float) -> tuple[list[I64], np.ndarray]:
    fast = _fast_levels(ak.to_layout(arr), depth)
    if fast is not None:
        return fast
    # general layouts (missing lists or values, indexed views): missing lists are empty
    levels: list[I64] = []
    for _ in range(depth):
        counts = ak.to_numpy(ak.fill_none(ak.num(arr, axis=1), 0)).astype(np.int64)
        levels.append(offsets_from_counts(counts))
        arr = ak.flatten(arr, axis=1)
    values = ak.to_numpy(ak.fill_none(arr, fill))
    if values.ndim != 1 or len(values) != int(levels[-1][-1]):
        msg = f"a column is not {depth} level(s) of lists of numbers: {arr.type}"
        raise DataFormatError(msg)
    return levels, values


def jagged(
    events: EventsLike, name: str, dtype: npt.DTypeLike | None = None
) -> tuple[I64, np.ndarray]:
    """Offsets (int64, from 0, length n_events + 1) and flat values of a list-per-event column.

    A missing list counts as empty and a missing value as 0. *dtype* converts the
    values (float16 columns should be read as float32).

    Raises:
        DataFormatError: no such column, or it is not one list of numbers per event.
    """
    arr = column(events, name)
    try:
        (off,), values = _levels(arr, 1, 0)
    except (ValueError, TypeError, ak.errors.AxisError) as exc:
        msg = f"column {name!r}: expected one list of numbers per event, got {arr.type}"
        raise DataFormatError(msg) from exc
    if dtype is not None:
        values = values.astype(dtype, copy=False)
    return off, values


def field_like(
    events: EventsLike, prefix: str, field: str, offsets: I64, dtype: npt.DTypeLike | None = None
) -> np.ndarray:
    """Flat values of ``<prefix>_<field>``, checked to have the lists of *offsets* (``<prefix>_PT``'s).

    Raises:
        DataFormatError: no such column, or its lists differ from ``<prefix>_PT``'s.
    """
    off, values = jagged(events, f"{prefix}_{field}", dtype)
    if not np.array_equal(off, offsets):
        msg = (
            f"columns {prefix}_PT and {prefix}_{field} have different numbers of entries per event"
        )
        raise DataFormatError(msg)
    return values


def check_count(name: str, k: object) -> int:
    """*k* as an int after checking it is a positive integer.

    Raises:
        ConfigError: it is not (the message starts with *name*).
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"{name}: expected a positive integer number of entries, got {k!r}"
        raise ConfigError(msg)
    return int(k)


def nested(events: EventsLike, name: str) -> tuple[I64, I64, np.ndarray]:
    """Outer offsets (per event), inner offsets (per list) and flat values of a list<list> column.

    Raises:
        DataFormatError: no such column, or it is not a list of lists of numbers per event.
    """
    arr = column(events, name)
    try:
        (outer, inner), values = _levels(arr, 2, -1)
    except (ValueError, TypeError, ak.errors.AxisError) as exc:
        msg = f"column {name!r}: expected a list of lists of numbers per event, got {arr.type}"
        raise DataFormatError(msg) from exc
    return outer, inner, values


def segment_arange(starts: I64, counts: I64) -> I64:
    """Concatenated ``arange(s, s + c)`` for every (start, count) pair.

    >>> segment_arange(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist()
    [5, 6, 9, 10, 11]
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift: I64 = np.repeat(
        np.asarray(starts, dtype=np.int64) - offsets_from_counts(counts)[:-1], counts
    )
    out: I64 = np.arange(total, dtype=np.int64) + shift
    return out


def top_k(offsets: I64, pt: np.ndarray, k: int) -> tuple[I64, B]:
    """Flat indices of the *k* highest-*pt* entries of every event, in decreasing pT.

    Ties keep the input order (a stable sort); NaN pT sort last. Events whose
    entries are already in decreasing pT (every COLLIDE collection) take a fast
    path that only checks the order; the others are sorted, together, by one
    ``np.lexsort``.

    Args:
        offsets: int64 offsets from 0, length n_events + 1.
        pt: flat values (any real dtype), length ``offsets[-1]``.
        k: entries to keep per event.

    Returns:
        ``(idx, mask)``, both of shape (n_events, k): ``idx`` the flat index of
        the j-th highest entry (0 where ``mask`` is False, i.e. the event has
        fewer than j + 1 entries).

    >>> idx, mask = top_k(np.array([0, 3, 3, 4]), np.array([1.0, 5.0, 3.0, 2.0]), 2)
    >>> idx.tolist(), mask.tolist()
    ([[1, 2], [0, 0], [3, 0]], [[True, True], [False, False], [True, False]])
    """
    counts = offsets[1:] - offsets[:-1]
    pos = np.arange(k, dtype=np.int64)
    mask: B = pos[None, :] < counts[:, None]
    idx: I64 = np.where(mask, offsets[:-1, None] + pos[None, :], 0)
    if pt.size < 2 or k == 0:
        return idx, mask
    # entries that are not <= their predecessor (NaN included), at positions 1..N-1
    breaks = np.flatnonzero(~(pt[1:] <= pt[:-1])) + 1
    if breaks.size == 0:
        return idx, mask
    starts = np.zeros(pt.size + 1, dtype=np.bool_)
    starts[offsets[:-1]] = True
    breaks = breaks[~starts[breaks]]  # a break at an event's start is fine
    if breaks.size == 0:
        return idx, mask
    unsorted = np.zeros(len(counts), dtype=np.bool_)
    unsorted[np.searchsorted(offsets, breaks, side="right") - 1] = True
    if unsorted.sum() * 2 > len(counts):  # most events: sort them all, no gathering
        bad = np.arange(len(counts), dtype=np.int64)
        elems = np.arange(pt.size, dtype=np.int64)
    else:
        bad = np.flatnonzero(unsorted)
        elems = segment_arange(offsets[bad], counts[bad])
    sub_counts = counts[bad]
    sub_event = np.repeat(np.arange(len(bad), dtype=np.int64), sub_counts)
    order = _sort_by_group_then_decreasing(sub_event, pt[elems])
    sub_start = offsets_from_counts(sub_counts)[:-1]
    rank = np.arange(len(elems), dtype=np.int64) - np.repeat(sub_start, sub_counts)
    keep = rank < k
    idx[bad[sub_event[keep]], rank[keep]] = elems[order[keep]]
    return idx, mask


def _decreasing_key(values: np.ndarray) -> npt.NDArray[np.uint64]:
    """uint32 keys (as uint64) whose increasing order is the decreasing order of float32 *values*.

    The IEEE-754 bit pattern, with the sign bit flipped for positive numbers and
    all bits flipped for negative ones, orders like the numbers; NaN gets the
    largest key (sorts last) and -0.0 the key of +0.0.
    """
    f = np.asarray(values, dtype=np.float32) + np.float32(0.0)  # -0.0 -> +0.0
    u = f.view(np.uint32)
    ascending = np.where(u >> np.uint32(31), ~u, u | np.uint32(0x8000_0000))
    key = (~ascending).astype(np.uint64)
    key[np.isnan(f)] = 0xFFFF_FFFF
    return key


def _sort_by_group_then_decreasing(group: I64, values: np.ndarray) -> I64:
    """Stable order of the entries by increasing *group*, then decreasing *values* (NaN last).

    For values of at most 32 bits, one stable ``argsort`` of a 64-bit key
    (group in the high 32 bits): many times faster than ``np.lexsort``; wider
    values use ``np.lexsort``.
    """
    if values.dtype.kind == "f" and values.dtype.itemsize <= 4 and group.size and group[-1] < 2**32:
        key = (group.astype(np.uint64) << np.uint64(32)) | _decreasing_key(values)
        order: I64 = np.argsort(key, kind="stable")
        return order
    neg = -np.asarray(values, dtype=np.float64)
    neg[np.isnan(neg)] = np.inf
    out: I64 = np.lexsort((neg, group))
    return out


def gather(
    values: np.ndarray,
    idx: I64,
    mask: B,
    dtype: npt.DTypeLike = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``values[idx]`` as *dtype*, with 0 where *mask* is False.

    With *out* (zeros of ``idx.shape``, e.g. a slice of a feature tensor) the
    values are written there and *out* is returned.

    >>> gather(np.array([4.0, 5.0]), np.array([[1, 0]]), np.array([[True, False]])).tolist()
    [[5.0, 0.0]]
    """
    if out is None:
        out = np.zeros(idx.shape, dtype=dtype)
    if values.size:
        np.copyto(out, values[idx], where=mask, casting="unsafe")
    return out


def particle_type_one_hot(pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """One-hot particle type (:data:`PARTICLE_TYPES` order) of particle-flow candidates.

    The views write the true PDG id for tracks, 22 for ECAL neutrals and the
    card's ``neutral_hadron_pid`` (0, as Delphes) for HCAL neutrals
    (:mod:`l1scout.reco.particleflow`), so: photon = neutral with PID 22;
    electron / muon = charged with |PID| 11 / 13; charged hadron = any other
    charged candidate; neutral hadron = any other neutral (PID 0, 130, 2112, ...).
    COLLIDE-1m stores PID as int8 (wrapped modulo 256): 11, 13 and 22 survive
    the wrap and no common hadron id wraps onto them, so the types are the same.

    Returns:
        bool array of shape ``pid.shape + (5,)``.

    >>> particle_type_one_hot(np.array([22, -11, 13, 211, 0, 130]),
    ...                       np.array([0, 1, -1, 1, 0, 0])).astype(int).tolist()
    [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]]
    """
    apid = np.abs(pid.astype(np.int64, copy=False))
    charged = charge != 0
    electron = charged & (apid == 11)
    muon = charged & (apid == 13)
    photon = ~charged & (apid == 22)
    return np.stack(
        [photon, electron, muon, charged & ~electron & ~muon, ~charged & ~photon], axis=-1
    )
