"""Helpers shared by the columnar codecs (baselines, objects, quantization): offsets, pT drops, checks.

Example:
    >>> off = np.array([0, 2, 2, 5])
    >>> pt_drops([9, 4, 7, 7, 1], off).tolist(), rises([1, 4, 0, 2, 9], off).tolist()
    ([9, 5, 7, 0, 6], [1, 3, 0, 2, 7])
    >>> undo_drops(pt_drops([9, 4, 7, 7, 1], off), off).tolist()
    [9, 4, 7, 7, 1]
    >>> event_sort(off, np.array([5, 1, 3, 2, 2]), np.array([0, 0, 0, 1, 0])).tolist()
    [1, 0, 4, 3, 2]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.entropy import split_parts
from l1scout.tasks.scouting.events import StreamEvents

__all__ = [
    "CHARGE_OF_CODE",
    "PUPPI_DTYPES",
    "check_events",
    "check_level",
    "column",
    "counts_of",
    "empty_puppi",
    "event_sort",
    "pt_drops",
    "rises",
    "split_particle_object",
    "undo_drops",
    "undo_rises",
]

#: The dtypes of the StreamEvents PUPPI columns.
PUPPI_DTYPES: Mapping[str, type[np.generic]] = {
    "pt": np.float32,
    "eta": np.float32,
    "phi": np.float32,
    "pid": np.int32,
    "charge": np.int8,
    "dz": np.float32,
    "d0": np.float32,
    "puppi_w": np.float32,
}
#: The charge of each 3-bit particle code (:data:`~l1scout.tasks.scouting.words.PDG_CODES`).
CHARGE_OF_CODE = np.array([0, 0, -1, 1, -1, 1, -1, 1], dtype=np.int8)


def check_level(level: int | None, allow_none: bool = False) -> None:
    """Refuse a zstd level outside 1 ... 22 (``None`` too, unless *allow_none*).

    Raises:
        ConfigError: such a level.
    """
    if level is None and allow_none:
        return
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 22:
        msg = f"zstd level: expected an integer in 1 ... 22, got {level!r}"
        raise ConfigError(msg)


def check_events(n: int, like: StreamEvents, what: str) -> None:
    """Refuse a payload of *n* events when *like* has another number.

    Raises:
        DataFormatError: the numbers differ.
    """
    if n != like.n_events:
        msg = f"{what} payload: holds {n} events, expected {like.n_events} (those of `like`)"
        raise DataFormatError(msg)


def counts_of(offsets: npt.ArrayLike) -> I64:
    """Entries of each event (int64) of offsets."""
    off = np.asarray(offsets, dtype=np.int64)
    out: I64 = off[1:] - off[:-1]
    return out


def empty_puppi(n: int) -> tuple[I64, dict[str, np.ndarray]]:
    """Offsets and columns of *n* events without PUPPI candidates."""
    return np.zeros(n + 1, dtype=np.int64), {k: np.zeros(0, d) for k, d in PUPPI_DTYPES.items()}


def pt_drops(values: npt.ArrayLike, offsets: I64) -> I64:
    """Per event: the first value, then each value's drop from the one before (``v[i-1] - v[i]``).

    For values sorted by decreasing pT the drops are small and non-negative.
    """
    v = np.asarray(values, dtype=np.int64)
    out = np.zeros_like(v)
    out[1:] = v[:-1] - v[1:]
    starts = offsets[:-1][counts_of(offsets) > 0]
    out[starts] = v[starts]
    return out


def undo_drops(drops: npt.ArrayLike, offsets: I64) -> I64:
    """The values of :func:`pt_drops`."""
    d = np.asarray(drops, dtype=np.int64)
    steps = -d
    starts = offsets[:-1][counts_of(offsets) > 0]
    steps[starts] = d[starts]
    total = np.cumsum(steps)
    before = np.concatenate(([0], total))[offsets[:-1]]
    out: I64 = total - np.repeat(before, counts_of(offsets))
    return out


def column(cols: Mapping[str, I64], name: str, n: int, what: str) -> I64:
    """Column *name* of an unpacked payload, which must hold *n* values.

    Raises:
        DataFormatError: no such column, or another length.
    """
    if name not in cols:
        msg = f"{what} payload: no column {name!r} (a payload of another codec or setting?)"
        raise DataFormatError(msg)
    if len(cols[name]) != n:
        msg = f"{what} payload: column {name!r} has {len(cols[name])} values, expected {n}"
        raise DataFormatError(msg)
    return cols[name]


def split_particle_object(payload: bytes, what: str) -> tuple[bytes, bytes]:
    """The ``particle`` and ``object`` parts of a payload.

    Raises:
        DataFormatError: not a parts payload, or other parts.
    """
    parts = split_parts(payload)
    if set(parts) != {"particle", "object"}:
        msg = f"{what} payload: parts {sorted(parts)}, expected ['object', 'particle']"
        raise DataFormatError(msg)
    return parts["particle"], parts["object"]


def rises(values: npt.ArrayLike, offsets: I64) -> I64:
    """Per event: the first value, then each value's rise over the one before (``v[i] - v[i-1]``)."""
    out: I64 = -pt_drops(values, offsets)
    starts = offsets[:-1][counts_of(offsets) > 0]
    out[starts] = -out[starts]
    return out


def undo_rises(steps: npt.ArrayLike, offsets: I64) -> I64:
    """The values of :func:`rises`."""
    s = -np.asarray(steps, dtype=np.int64)
    starts = offsets[:-1][counts_of(offsets) > 0]
    s[starts] = -s[starts]
    return undo_drops(s, offsets)


def event_sort(offsets: I64, first: npt.ArrayLike, then: npt.ArrayLike) -> I64:
    """The permutation that sorts the entries of every event by *first*, then *then* (ascending, stable)."""
    out: I64 = np.lexsort((np.asarray(then), np.asarray(first), event_index(offsets)))
    return out
