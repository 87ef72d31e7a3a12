"""Sorting the entries of every event of a flat batch: a stable radix sort, compiled.

:func:`sort_within_events` orders each event's entries by a float key,
descending, keeping ties in their order: the order of
``np.lexsort((-key, event))`` in a fraction of its time (eight passes of
counting sort over the key's bytes, per event; passes where every key of the
event has the same byte are skipped).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index
from l1scout._types import I64

__all__ = ["sort_within_events"]


_SMALL = 32  # events shorter than this are insertion-sorted


@numba.njit(cache=True)
def _sort_kernel(offsets: I64, ukey: npt.NDArray[np.uint64]) -> I64:  # pragma: no cover - compiled
    """Stable ascending argsort of *ukey* within each event: LSD radix sort, 8 bits a pass.

    Passes in which every key of the event has the same byte are skipped.
    """
    n = len(ukey)
    perm = np.empty(n, dtype=np.int64)
    longest = 0
    for ev in range(len(offsets) - 1):
        longest = max(longest, offsets[ev + 1] - offsets[ev])
    buf_i = np.empty(longest, dtype=np.int64)
    buf_k = np.empty(longest, dtype=np.uint64)
    cur_i = np.empty(longest, dtype=np.int64)
    cur_k = np.empty(longest, dtype=np.uint64)
    hist = np.zeros((8, 257), dtype=np.int64)
    for ev in range(len(offsets) - 1):
        lo, hi = offsets[ev], offsets[ev + 1]
        m = hi - lo
        if m < _SMALL:  # stable insertion sort
            for j in range(m):
                perm[lo + j] = lo + j
            for j in range(1, m):
                p = perm[lo + j]
                k = ukey[p]
                i = j - 1
                while i >= 0 and ukey[perm[lo + i]] > k:
                    perm[lo + i + 1] = perm[lo + i]
                    i -= 1
                perm[lo + i + 1] = p
            continue
        hist[:, :] = 0
        for j in range(m):
            k = ukey[lo + j]
            cur_k[j] = k
            cur_i[j] = lo + j
            for b in range(8):
                hist[b, ((k >> np.uint64(8 * b)) & np.uint64(255)) + 1] += 1
        for b in range(8):
            if hist[b, ((cur_k[0] >> np.uint64(8 * b)) & np.uint64(255)) + 1] == m:
                continue  # one byte value for all: nothing moves
            start = hist[b]
            for d in range(1, 257):
                start[d] += start[d - 1]
            shift = np.uint64(8 * b)
            for j in range(m):
                k = cur_k[j]
                d = (k >> shift) & np.uint64(255)
                pos = start[d]
                start[d] = pos + 1
                buf_k[pos] = k
                buf_i[pos] = cur_i[j]
            for j in range(m):
                cur_k[j] = buf_k[j]
                cur_i[j] = buf_i[j]
        for j in range(m):
            perm[lo + j] = cur_i[j]
    return perm


def _descending_key(key: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Unsigned integers whose ascending order is the descending order of the floats *key*.

    IEEE 754 bit patterns order like the numbers once the sign bit is flipped
    (positive) or all bits are (negative); -0.0 is read as +0.0, as ``<`` does.
    """
    bits = (np.asarray(key, dtype=np.float64) + 0.0).view(np.uint64)
    top = np.uint64(1) << np.uint64(63)
    ordered = np.where(bits & top, ~bits, bits | top)
    return ~ordered


def sort_within_events(offsets: I64, key: npt.NDArray[Any]) -> tuple[I64, I64]:
    """Order each event's entries by *key* descending (stable: ties keep their order).

    Returns:
        ``perm`` (global indices in the new order) and ``new_local`` (for every
        old global index, its new index within its event).

    >>> perm, new_local = sort_within_events(np.array([0, 3, 5]), np.array([1.0, 3.0, 1.0, 2.0, 5.0]))
    >>> perm.tolist(), new_local.tolist()
    ([1, 0, 2, 4, 3], [1, 0, 2, 1, 0])
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    perm = _sort_kernel(offsets, _descending_key(key))
    evt = event_index(offsets)
    new_local = np.empty(len(key), dtype=np.int64)
    new_local[perm] = np.arange(len(key)) - offsets[evt]
    return perm, new_local
