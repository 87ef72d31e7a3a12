"""Compiled kernels of the scouting unpacker: one pass that walks the headers and decodes the payload.

Private to :mod:`l1scout.tasks.scouting.unpack`, which validates the inputs and
documents the rules. The buffer is read as ``int64`` (the same bits as the
``uint64`` words): arithmetic shifts followed by a mask give the unsigned fields,
and numba never mixes signed and unsigned integers (which it would promote to
float). Every kernel runs on one thread.

Design for speed (about 353,000 words, 2.85 MB, per orbit): the walk and the
decode are **one pass** over the buffer in address order. A separate header
walk first would be a chain of 3564 dependent reads 1 kB apart, each a cache
miss when the buffer comes from memory (about 0.3 ms per orbit, a third of the
budget); decoding each BX right after its header streams through memory, and
the hardware prefetcher brings the next header in with the payload before it.
The outputs are allocated for the whole buffer (an upper bound, 1 % too
large) and trimmed by the caller; pages never written are never touched. Per
BX the source and the destinations are slices, so the inner loop runs on
non-negative indices over contiguous memory and vectorises.
"""

from __future__ import annotations

import numba
import numpy as np

from l1scout._types import I64

__all__: list[str] = []

#: Indices of the problem counters.
BAD_FLAG, COUNT_PAST_END, NOT_A_HEADER, BAD_BX, ORBIT_MISMATCH, SKIPPED_BX, LOST_WORDS = range(7)
#: ... and of the walk's results stored after them: kept BXs, kept payload words, headers read, orbit, run.
KEPT, WORDS, HEADERS, ORBIT, RUN = range(7, 12)
N_STATE = 12


@numba.njit(cache=True, nogil=True, inline="always")
def _header(
    buf: I64, pos: int, n_bx: int, last_bx: int, state: I64
) -> int:  # pragma: no cover - compiled
    """Check the header at *pos*: its count if the BX is kept, -1 if skipped, -2 if the walk stops.

    A BX is kept when its header has the marker (bits 62-63 = 0b10), its payload
    fits in the buffer, the bad flag is clear, its BX is below *n_bx* and above
    *last_bx*, and its orbit is the first kept header's (``state[ORBIT]``, -1
    before). Problems are counted in *state*; a skipped BX's words and, when
    the walk stops, the rest of the buffer are lost words.
    """
    n = buf.shape[0]
    w = buf[pos]
    if ((w >> 62) & 3) != 2:
        state[NOT_A_HEADER] += 1
        state[LOST_WORDS] += n - pos
        return -2
    state[HEADERS] += 1
    cnt = w & 0xFFF
    if pos + 1 + cnt > n:
        state[COUNT_PAST_END] += 1
        state[SKIPPED_BX] += 1
        state[LOST_WORDS] += n - pos
        return -2
    bx = (w >> 12) & 0xFFF
    orb = (w >> 24) & 0x3FFFFFFF
    if (w >> 61) & 1:
        state[BAD_FLAG] += 1
    elif bx >= n_bx or bx <= last_bx:
        state[BAD_BX] += 1
    elif state[ORBIT] >= 0 and orb != state[ORBIT]:
        state[ORBIT_MISMATCH] += 1
    else:
        if state[ORBIT] < 0:
            state[ORBIT] = orb
            state[RUN] = (w >> 54) & 0x7F
        return int(cnt)
    state[SKIPPED_BX] += 1
    state[LOST_WORDS] += 1 + cnt
    return -1


@numba.njit(cache=True, nogil=True)
def scan(
    buf: I64, n_bx: int, bx_out: np.ndarray, count_out: I64, start_out: I64, state: I64
) -> None:  # pragma: no cover - compiled
    """Walk the headers only: the kept BXs' number, count and first payload word."""
    n = buf.shape[0]
    pos = 0
    k = 0
    last_bx = -1
    while pos < n:
        cnt = _header(buf, pos, n_bx, last_bx, state)
        if cnt == -2:
            break
        if cnt >= 0:
            last_bx = (buf[pos] >> 12) & 0xFFF
            bx_out[k] = last_bx
            count_out[k] = cnt
            start_out[k] = pos + 1
            k += 1
            state[WORDS] += cnt
        pos += 1 + ((buf[pos] & 0xFFF) if cnt == -1 else cnt)
    state[KEPT] = k


@numba.njit(cache=True, nogil=True)
def gather(
    buf: I64, n_bx: int, bx_out: np.ndarray, offsets: I64, out: I64, state: I64
) -> None:  # pragma: no cover - compiled
    """Walk and copy the kept BXs' payload words into *out*, one after the other."""
    n = buf.shape[0]
    pos = 0
    k = 0
    o = 0
    last_bx = -1
    while pos < n:
        cnt = _header(buf, pos, n_bx, last_bx, state)
        if cnt == -2:
            break
        if cnt >= 0:
            last_bx = (buf[pos] >> 12) & 0xFFF
            bx_out[k] = last_bx
            out[o : o + cnt] = buf[pos + 1 : pos + 1 + cnt]
            o += cnt
            k += 1
            offsets[k] = o
        pos += 1 + ((buf[pos] & 0xFFF) if cnt == -1 else cnt)
    state[KEPT] = k
    state[WORDS] = o


@numba.njit(cache=True, nogil=True)
def unpack_puppi_all(
    buf: I64,
    n_bx: int,
    bx_out: np.ndarray,
    offsets: I64,
    state: I64,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    code: np.ndarray,
    z0: np.ndarray,
    dxy: np.ndarray,
    quality: np.ndarray,
    weight: np.ndarray,
    egid: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Walk and decode every field of the kept BXs' PUPPI words.

    Signed fields are sign-extended by a left shift that puts their top bit at
    bit 63 and an arithmetic right shift. Charged (code >= 2) words fill z0,
    dxy and quality and zero weight and egid; neutral ones the reverse
    (branch-free selects).
    """
    n = buf.shape[0]
    pos = 0
    k = 0
    o = 0
    last_bx = -1
    while pos < n:
        cnt = _header(buf, pos, n_bx, last_bx, state)
        if cnt == -2:
            break
        if cnt >= 0:
            last_bx = (buf[pos] >> 12) & 0xFFF
            bx_out[k] = last_bx
            src = buf[pos + 1 : pos + 1 + cnt]
            d_pt = pt[o : o + cnt]
            d_eta = eta[o : o + cnt]
            d_phi = phi[o : o + cnt]
            d_code = code[o : o + cnt]
            d_z0 = z0[o : o + cnt]
            d_dxy = dxy[o : o + cnt]
            d_quality = quality[o : o + cnt]
            d_weight = weight[o : o + cnt]
            d_egid = egid[o : o + cnt]
            for i in range(cnt):
                w = src[i]
                cc = (w >> 37) & 7
                ch = cc >= 2
                d_pt[i] = w & 0x3FFF
                d_eta[i] = (w << 38) >> 52
                d_phi[i] = (w << 27) >> 53
                d_code[i] = cc
                d_z0[i] = ((w << 14) >> 54) if ch else 0
                d_dxy[i] = ((w << 6) >> 56) if ch else 0
                d_quality[i] = ((w >> 58) & 7) if ch else 0
                d_weight[i] = 0 if ch else ((w >> 40) & 0x3FF)
                d_egid[i] = 0 if ch else ((w >> 50) & 0x3F)
            o += cnt
            k += 1
            offsets[k] = o
        pos += 1 + ((buf[pos] & 0xFFF) if cnt == -1 else cnt)
    state[KEPT] = k
    state[WORDS] = o


@numba.njit(cache=True, nogil=True)
def unpack_puppi_some(
    buf: I64,
    n_bx: int,
    bx_out: np.ndarray,
    offsets: I64,
    state: I64,
    pt: np.ndarray | None,
    eta: np.ndarray | None,
    phi: np.ndarray | None,
    code: np.ndarray | None,
    z0: np.ndarray | None,
    dxy: np.ndarray | None,
    quality: np.ndarray | None,
    weight: np.ndarray | None,
    egid: np.ndarray | None,
) -> None:  # pragma: no cover - compiled
    """:func:`unpack_puppi_all` for some fields: an output passed as ``None`` is not decoded.

    Each combination of ``None`` outputs is its own compiled specialisation in
    which the branches of the missing fields are pruned before typing, so a
    field not asked for costs nothing. (With every field this is slower than
    :func:`unpack_puppi_all`, whose loop has no conditionally defined slices.)
    """
    n = buf.shape[0]
    pos = 0
    k = 0
    o = 0
    last_bx = -1
    while pos < n:
        cnt = _header(buf, pos, n_bx, last_bx, state)
        if cnt == -2:
            break
        if cnt >= 0:
            last_bx = (buf[pos] >> 12) & 0xFFF
            bx_out[k] = last_bx
            src = buf[pos + 1 : pos + 1 + cnt]
            if pt is not None:
                d_pt = pt[o : o + cnt]
            if eta is not None:
                d_eta = eta[o : o + cnt]
            if phi is not None:
                d_phi = phi[o : o + cnt]
            if code is not None:
                d_code = code[o : o + cnt]
            if z0 is not None:
                d_z0 = z0[o : o + cnt]
            if dxy is not None:
                d_dxy = dxy[o : o + cnt]
            if quality is not None:
                d_quality = quality[o : o + cnt]
            if weight is not None:
                d_weight = weight[o : o + cnt]
            if egid is not None:
                d_egid = egid[o : o + cnt]
            for i in range(cnt):
                w = src[i]
                cc = (w >> 37) & 7
                ch = cc >= 2
                if pt is not None:
                    d_pt[i] = w & 0x3FFF
                if eta is not None:
                    d_eta[i] = (w << 38) >> 52
                if phi is not None:
                    d_phi[i] = (w << 27) >> 53
                if code is not None:
                    d_code[i] = cc
                if z0 is not None:
                    d_z0[i] = ((w << 14) >> 54) if ch else 0
                if dxy is not None:
                    d_dxy[i] = ((w << 6) >> 56) if ch else 0
                if quality is not None:
                    d_quality[i] = ((w >> 58) & 7) if ch else 0
                if weight is not None:
                    d_weight[i] = 0 if ch else ((w >> 40) & 0x3FF)
                if egid is not None:
                    d_egid[i] = 0 if ch else ((w >> 50) & 0x3F)
            o += cnt
            k += 1
            offsets[k] = o
        pos += 1 + ((buf[pos] & 0xFFF) if cnt == -1 else cnt)
    state[KEPT] = k
    state[WORDS] = o


@numba.njit(cache=True, nogil=True)
def scale(hw: np.ndarray, lsb: float) -> np.ndarray:  # pragma: no cover - compiled
    """``hw * lsb`` as float32."""
    out = np.empty(hw.shape[0], dtype=np.float32)
    f = np.float32(lsb)
    for i in range(hw.shape[0]):
        out[i] = hw[i] * f
    return out


@numba.njit(cache=True, nogil=True)
def lookup(code: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``table[code]`` (codes are 3-bit, the table has 8 entries)."""
    out = np.empty(code.shape[0], dtype=table.dtype)
    for i in range(code.shape[0]):
        out[i] = table[code[i] & 7]
    return out


@numba.njit(cache=True, nogil=True)
def puppi_weight(
    code: np.ndarray, quality: np.ndarray, weight: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Physical PUPPI weight: charged ``quality & 1``, neutral ``weight / 256``."""
    out = np.empty(code.shape[0], dtype=np.float32)
    f = np.float32(1.0 / 256.0)
    for i in range(code.shape[0]):
        out[i] = np.float32(quality[i] & 1) if code[i] >= 2 else weight[i] * f
    return out


@numba.njit(cache=True, nogil=True)
def object_field(
    words: I64, shift: int, bits: int, signed: bool, lsb: float, period: int
) -> np.ndarray:  # pragma: no cover - compiled
    """One scaled field of object words as float32: ``float32(hw * lsb)`` (the product in float64).

    *signed*: two's complement of *bits* bits. *period* > 0: a periodic field
    (phi), whose values at or above ``period / 2`` are taken ``period`` lower.
    """
    out = np.empty(words.shape[0], dtype=np.float32)
    mask = (1 << bits) - 1
    half = period // 2
    for i in range(words.shape[0]):
        v = (words[i] >> shift) & mask
        if signed:
            v -= (v >> (bits - 1)) << bits
        if period > 0 and v >= half:
            v -= period
        out[i] = v * lsb
    return out
