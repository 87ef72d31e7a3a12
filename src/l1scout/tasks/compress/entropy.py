"""Entropy coding of the compression task: zstd, uniform quantization, bit packing, column containers.

Every payload here is self-describing: it starts with a 4-byte magic and
carries the lengths and settings its decoder needs, so a file alone decodes.
zstd comes from pyarrow (``pyarrow.Codec("zstd", compression_level)``, Zstandard,
RFC 8878); no other compression module is needed.

Byte layouts (all integers little-endian):

* :func:`zstd_compress`: ``b"L1Z1"``, uint64 length of the raw data, the zstd frame.
* :func:`pack_bits`: code ``i`` occupies bits ``i*bits ... i*bits + bits - 1``
  of the output read as one little-endian bit string (bit 0 of byte 0 first);
  ``ceil(n * bits / 8)`` bytes, the unused high bits of the last byte zero.
* :func:`encode_latents`: ``b"L1ZL"``, uint8 bits, uint8 layout (0: bit-packed,
  1: byte planes), uint32 n, uint32 d, float64 ``lo[d]``, float64 ``hi[d]``,
  then :func:`zstd_compress` of the codes of dimension 0 (all events), then of
  dimension 1, ... (dimension-major: one dimension's codes share statistics).
* :func:`pack_columns`: ``b"L1PC"``, uint32 length of a JSON header, the header
  (``{"columns": [[name, length, zigzag, mode, width, n_bytes], ...]}``), then
  each column's zstd frame (``n_bytes`` each, in order). A column of integers
  is zigzag-coded when it has negatives (``0, -1, 1, -2 -> 0, 1, 2, 3``), then
  stored whichever is smaller of *byte planes* (``mode`` 1: the low byte of
  every value, then the next byte ..., ``width`` planes) or *bit-packed*
  (``mode`` 0: :func:`pack_bits` at ``width`` bits), each zstd-compressed.
* :func:`join_parts`: ``b"L1PP"``, uint8 number of parts, per part uint8
  name length, the name (ASCII), uint64 size; then the parts' bytes in order
  (e.g. ``particle`` and ``object`` of a codec that stores both, so their
  sizes are reported apart, :func:`part_sizes`).

**Quantization** (:func:`quantize`, :func:`dequantize`) is uniform mid-rise on
``2**bits`` bins of ``[lo, hi]``: ``code = floor((x - lo) / step)`` clipped to
``0 ... 2**bits - 1`` with ``step = (hi - lo) / 2**bits``, decoded to the bin
centre ``lo + (code + 0.5) * step``: inside ``[lo, hi]`` the error is at most
half a step; outside, values clip to the first or last bin centre. Integers
``0 ... 2**bits - 1`` with ``lo = -0.5``, ``hi = 2**bits - 0.5`` decode exactly.

Example:
    >>> codes = quantize(np.array([0.0, 0.49, 1.0]), bits=2, lo=0.0, hi=1.0)
    >>> codes.tolist(), dequantize(codes, 2, 0.0, 1.0).tolist()
    ([0, 1, 3], [0.125, 0.375, 0.875])
    >>> unpack_bits(pack_bits(np.array([5, 0, 7]), 3), 3, 3).tolist()
    [5, 0, 7]
    >>> zstd_decompress(zstd_compress(b"scouting" * 100)) == b"scouting" * 100
    True
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from l1scout._types import F32, F64, I64
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "MAX_BITS",
    "ZSTD_LEVEL",
    "decode_latents",
    "dequantize",
    "encode_latents",
    "has_parts",
    "join_parts",
    "pack_bits",
    "pack_columns",
    "part_sizes",
    "quantize",
    "split_parts",
    "unpack_bits",
    "unpack_columns",
    "unzigzag",
    "zigzag",
    "zstd_compress",
    "zstd_decompress",
]

#: Widest code :func:`pack_bits` and :func:`quantize` handle (bits).
MAX_BITS = 32
#: Default zstd level (19 of 1 ... 22: slow to write, as fast to read as any level).
ZSTD_LEVEL = 19

_ZSTD_MAGIC = b"L1Z1"
_LATENT_MAGIC = b"L1ZL"
_COLUMNS_MAGIC = b"L1PC"
_LATENT_HEAD = struct.Struct("<4sBBII")


def _bits(bits: int) -> int:
    if (
        isinstance(bits, bool)
        or not isinstance(bits, int | np.integer)
        or not 1 <= bits <= MAX_BITS
    ):
        msg = f"bits: expected an integer in 1 ... {MAX_BITS}, got {bits!r}"
        raise ConfigError(msg)
    return int(bits)


def _level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 22:
        msg = f"zstd level: expected an integer in 1 ... 22, got {level!r}"
        raise ConfigError(msg)
    return level


# --------------------------------------------------------------------------- zstd


def zstd_compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    """*data* zstd-compressed, behind ``b"L1Z1"`` and the raw length (uint64).

    Raises:
        ConfigError: *level* outside 1 ... 22.
    """
    raw = bytes(data)
    body = pa.Codec("zstd", compression_level=_level(level)).compress(raw, asbytes=True)
    return _ZSTD_MAGIC + struct.pack("<Q", len(raw)) + bytes(body)


def zstd_decompress(payload: bytes) -> bytes:
    """The data of a :func:`zstd_compress` payload.

    Raises:
        DataFormatError: not such a payload (magic), truncated or corrupt.
    """
    data = bytes(payload)
    if len(data) < 12 or data[:4] != _ZSTD_MAGIC:
        msg = f"zstd payload: expected the magic {_ZSTD_MAGIC!r} and a length ({len(data)} bytes given)"
        raise DataFormatError(msg)
    (size,) = struct.unpack_from("<Q", data, 4)
    try:
        out = pa.Codec("zstd").decompress(data[12:], decompressed_size=size, asbytes=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"zstd payload: truncated or corrupt ({first})"
        raise DataFormatError(msg) from exc
    return bytes(out)


# --------------------------------------------------------------------------- quantization


def _bounds(lo: npt.ArrayLike, hi: npt.ArrayLike) -> tuple[F64, F64]:
    a, b = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(b > a)):
        msg = f"quantization range: expected finite lo < hi, got lo={lo!r}, hi={hi!r}"
        raise ConfigError(msg)
    return a, b


def quantize(x: npt.ArrayLike, bits: int, lo: npt.ArrayLike, hi: npt.ArrayLike) -> I64:
    """Uniform mid-rise codes (0 ... 2**bits - 1) of *x* on ``[lo, hi]`` (clipping; module docstring).

    *lo* and *hi* broadcast against *x* (e.g. one range per latent dimension).

    Raises:
        ConfigError: *bits* outside 1 ... 32, or not ``lo < hi``.
        DataFormatError: NaN or infinite values.
    """
    b = _bits(bits)
    a, h = _bounds(lo, hi)
    v = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        msg = f"quantize: expected finite values, got {int(np.sum(~np.isfinite(v)))} NaN/inf"
        raise DataFormatError(msg)
    top = (1 << b) - 1
    codes = np.floor((v - a) / (h - a) * (top + 1))
    return np.clip(codes, 0, top).astype(np.int64)


def dequantize(codes: npt.ArrayLike, bits: int, lo: npt.ArrayLike, hi: npt.ArrayLike) -> F64:
    """The bin centres ``lo + (code + 0.5) * step`` of :func:`quantize` codes (float64).

    Raises:
        ConfigError: *bits* outside 1 ... 32, or not ``lo < hi``.
        DataFormatError: a code outside ``0 ... 2**bits - 1``.
    """
    b = _bits(bits)
    a, h = _bounds(lo, hi)
    c = np.asarray(codes, dtype=np.int64)
    if c.size and (c.min() < 0 or c.max() >= 1 << b):
        msg = f"dequantize: expected codes in 0 ... {(1 << b) - 1}, got [{c.min()}, {c.max()}]"
        raise DataFormatError(msg)
    out: F64 = a + (c + 0.5) * ((h - a) / (1 << b))
    return out


# --------------------------------------------------------------------------- bit packing


def pack_bits(codes: npt.ArrayLike, bits: int) -> bytes:
    """Codes of *bits* bits each, packed back to back (module docstring), ``ceil(n * bits / 8)`` bytes.

    Raises:
        ConfigError: *bits* outside 1 ... 32.
        DataFormatError: a code outside ``0 ... 2**bits - 1``, or not one-dimensional.

    >>> pack_bits(np.array([1, 2, 3]), 2).hex(), pack_bits(np.array([], dtype=int), 5)
    ('39', b'')
    """
    b = _bits(bits)
    c = np.asarray(codes)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        msg = f"pack_bits: expected a 1-d integer array, got {c.dtype} with shape {c.shape}"
        raise DataFormatError(msg)
    c = c.astype(np.int64)
    if c.size and (c.min() < 0 or c.max() >= 1 << b):
        msg = f"pack_bits: expected codes in 0 ... {(1 << b) - 1}, got [{c.min()}, {c.max()}]"
        raise DataFormatError(msg)
    planes = ((c[:, None] >> np.arange(b, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(planes.reshape(-1), bitorder="little").tobytes()


def unpack_bits(data: bytes, bits: int, n: int) -> I64:
    """The *n* codes of *bits* bits packed by :func:`pack_bits` (int64).

    Raises:
        ConfigError: *bits* outside 1 ... 32, or a negative *n*.
        DataFormatError: *data* is not ``ceil(n * bits / 8)`` bytes.
    """
    b = _bits(bits)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        msg = f"unpack_bits n: expected a count >= 0, got {n!r}"
        raise ConfigError(msg)
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    if len(raw) != (int(n) * b + 7) // 8:
        msg = f"bit-packed data: expected {(int(n) * b + 7) // 8} bytes for {n} codes of {b} bits, got {len(raw)}"
        raise DataFormatError(msg)
    flat = np.unpackbits(raw, count=int(n) * b, bitorder="little").reshape(int(n), b)
    out: I64 = (flat.astype(np.int64) << np.arange(b, dtype=np.int64)).sum(axis=1)
    return out


def zigzag(v: npt.ArrayLike) -> I64:
    """Signed integers to non-negative ones, small magnitudes first: ``0, -1, 1, -2, 2 -> 0, 1, 2, 3, 4``.

    >>> zigzag([0, -1, 1, -2, 2]).tolist(), unzigzag(zigzag([-7, 7])).tolist()
    ([0, 1, 2, 3, 4], [-7, 7])
    """
    x = np.asarray(v, dtype=np.int64)
    out: I64 = np.where(x < 0, -2 * x - 1, 2 * x)
    return out


def unzigzag(u: npt.ArrayLike) -> I64:
    """The inverse of :func:`zigzag`."""
    x = np.asarray(u, dtype=np.int64)
    out: I64 = np.where(x & 1, -(x >> 1) - 1, x >> 1)
    return out


# --------------------------------------------------------------------------- latents


def encode_latents(
    z: npt.ArrayLike, bits: int, lo: npt.ArrayLike, hi: npt.ArrayLike, level: int = ZSTD_LEVEL
) -> bytes:
    """Latents ``[n, d]`` quantized to *bits* each on ``[lo, hi]`` (scalars or one per dimension), entropy-coded.

    The codes are stored dimension-major, bit-packed or as byte planes,
    whichever zstd makes smaller (module docstring for the layout).

    Raises:
        ConfigError: *bits* outside 1 ... 32, ranges not ``lo < hi``, or not one range per dimension.
        DataFormatError: *z* is not a finite 2-d array.

    >>> z = np.array([[0.0, 1.0], [0.5, -1.0]])
    >>> decode_latents(encode_latents(z, 8, -1.0, 1.0)).astype(float).round(3).tolist()
    [[0.004, 0.996], [0.504, -0.996]]
    """
    x = np.asarray(z, dtype=np.float64)
    if x.ndim != 2:
        msg = f"latents: expected a 2-d array [events, dimensions], got shape {x.shape}"
        raise DataFormatError(msg)
    n, d = x.shape
    try:
        a = np.broadcast_to(np.asarray(lo, dtype=np.float64), (d,)).copy()
        h = np.broadcast_to(np.asarray(hi, dtype=np.float64), (d,)).copy()
    except ValueError as exc:
        msg = f"latent range: expected a scalar or {d} values for lo and hi"
        raise ConfigError(msg) from exc
    b = _bits(bits)
    codes = quantize(x, b, a, h).T
    frames = {
        mode: b"".join(_sized(zstd_compress(_latent_store(row, mode, b), level)) for row in codes)
        for mode in (0, 1)
    }
    mode = min(frames, key=lambda m: len(frames[m]))
    head = _LATENT_HEAD.pack(_LATENT_MAGIC, b, mode, n, d) + a.tobytes() + h.tobytes()
    return head + frames[mode]


def decode_latents(payload: bytes) -> F32:
    """The dequantized latents ``[n, d]`` (float32) of an :func:`encode_latents` payload.

    Raises:
        DataFormatError: not such a payload, truncated or corrupt.
    """
    data = bytes(payload)
    if len(data) < _LATENT_HEAD.size or data[:4] != _LATENT_MAGIC:
        msg = f"latent payload: expected the magic {_LATENT_MAGIC!r} and a header ({len(data)} bytes given)"
        raise DataFormatError(msg)
    _, b, mode, n, d = _LATENT_HEAD.unpack_from(data)
    pos = _LATENT_HEAD.size
    if not 1 <= b <= MAX_BITS or mode not in (0, 1) or len(data) < pos + 16 * d:
        msg = f"latent payload: bad header (bits {b}, layout {mode}, {d} dimensions, {len(data)} bytes)"
        raise DataFormatError(msg)
    a = np.frombuffer(data, np.float64, d, pos)
    h = np.frombuffer(data, np.float64, d, pos + 8 * d)
    pos += 16 * d
    codes = np.empty((d, n), dtype=np.int64)
    for i in range(d):
        frame, pos = _take_sized(data, pos, "latent payload")
        width = b if mode == 0 else _planes(b)
        codes[i] = _load(zstd_decompress(frame), mode, width, n, "latent payload")
    if pos != len(data):
        msg = f"latent payload: {len(data) - pos} bytes after the last dimension"
        raise DataFormatError(msg)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(h)) and np.all(h > a)):
        msg = "latent payload: the stored ranges are not finite lo < hi"
        raise DataFormatError(msg)
    return dequantize(codes.T, b, a, h).astype(np.float32)


def _sized(frame: bytes) -> bytes:
    return struct.pack("<I", len(frame)) + frame


def _take_sized(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    if pos + 4 > len(data):
        msg = f"{what}: truncated ({len(data)} bytes)"
        raise DataFormatError(msg)
    (size,) = struct.unpack_from("<I", data, pos)
    end = pos + 4 + size
    if end > len(data):
        msg = f"{what}: truncated (a frame of {size} bytes runs past the end, {len(data)} bytes)"
        raise DataFormatError(msg)
    return data[pos + 4 : end], end


def _planes(width_bits: int) -> int:
    return (width_bits + 7) // 8


def _store(values: I64, mode: int, width: int) -> bytes:
    """Non-negative *values* as bit-packed codes (mode 0, *width* bits) or byte planes (mode 1, *width* bytes)."""
    if mode == 0:
        return pack_bits(values, width)
    v = np.asarray(values, dtype=np.int64)
    return b"".join(((v >> (8 * p)) & 0xFF).astype(np.uint8).tobytes() for p in range(width))


def _load(raw: bytes, mode: int, width: int, n: int, what: str) -> I64:
    if mode == 0:
        return unpack_bits(raw, width, n)
    if len(raw) != n * width:
        msg = f"{what}: expected {n * width} bytes of byte planes, got {len(raw)}"
        raise DataFormatError(msg)
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(width, n).astype(np.int64)
    out: I64 = (planes << (8 * np.arange(width, dtype=np.int64))[:, None]).sum(axis=0)
    return out


def _latent_store(values: I64, mode: int, bits: int) -> bytes:
    return _store(values, mode, bits if mode == 0 else _planes(bits))


# --------------------------------------------------------------------------- columns


def pack_columns(columns: Mapping[str, npt.ArrayLike], level: int = ZSTD_LEVEL) -> bytes:
    """Named 1-d integer columns in one self-describing payload (module docstring for the layout).

    Each column is zigzag-coded if it has negatives, then stored bit-packed at
    its width or as byte planes, whichever zstd makes smaller.

    Raises:
        ConfigError: *level* outside 1 ... 22.
        DataFormatError: a column that is not 1-d integers, or wider than 32 bits after zigzag.

    >>> cols = unpack_columns(pack_columns({"a": [3, -1, 0], "b": np.arange(300)}))
    >>> cols["a"].tolist(), int(cols["b"].sum())
    ([3, -1, 0], 44850)
    """
    _level(level)
    meta: list[list[object]] = []
    frames: list[bytes] = []
    for name, column in columns.items():
        c = np.asarray(column)
        if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
            msg = f"column {name!r}: expected 1-d integers, got {c.dtype} with shape {c.shape}"
            raise DataFormatError(msg)
        v = c.astype(np.int64)
        signed = bool(v.size and v.min() < 0)
        u = zigzag(v) if signed else v
        top = int(u.max()) if u.size else 0
        if top >= 1 << MAX_BITS:
            msg = f"column {name!r}: values need more than {MAX_BITS} bits (largest {top})"
            raise DataFormatError(msg)
        width = max(1, top.bit_length())
        options = [
            (zstd_compress(_store(u, mode, w), level), mode, w)
            for mode, w in ((0, width), (1, _planes(width)))
        ]
        frame, mode, w = min(options, key=lambda o: len(o[0]))
        meta.append([str(name), len(u), int(signed), mode, w, len(frame)])
        frames.append(frame)
    head = json.dumps({"columns": meta}, separators=(",", ":")).encode()
    return _COLUMNS_MAGIC + struct.pack("<I", len(head)) + head + b"".join(frames)


def unpack_columns(payload: bytes) -> dict[str, I64]:
    """The columns (int64) of a :func:`pack_columns` payload, in their order.

    Raises:
        DataFormatError: not such a payload, truncated or corrupt.
    """
    data = bytes(payload)
    what = "column payload"
    if len(data) < 8 or data[:4] != _COLUMNS_MAGIC:
        msg = (
            f"{what}: expected the magic {_COLUMNS_MAGIC!r} and a header ({len(data)} bytes given)"
        )
        raise DataFormatError(msg)
    (size,) = struct.unpack_from("<I", data, 4)
    pos = 8 + size
    try:
        meta = json.loads(data[8:pos])["columns"]
        specs = [(str(n), int(k), bool(s), int(m), int(w), int(b)) for n, k, s, m, w, b in meta]
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{what}: unreadable header ({type(exc).__name__})"
        raise DataFormatError(msg) from exc
    out: dict[str, I64] = {}
    for name, n, signed, mode, width, n_bytes in specs:
        if pos + n_bytes > len(data) or mode not in (0, 1) or not 1 <= width <= MAX_BITS:
            msg = f"{what}: column {name!r} truncated or malformed ({len(data)} bytes)"
            raise DataFormatError(msg)
        raw = zstd_decompress(data[pos : pos + n_bytes])
        pos += n_bytes
        u = _load(raw, mode, width, n, f"{what} column {name!r}")
        out[name] = unzigzag(u) if signed else u
    if pos != len(data):
        msg = f"{what}: {len(data) - pos} bytes after the last column"
        raise DataFormatError(msg)
    return out


# --------------------------------------------------------------------------- parts

_PARTS_MAGIC = b"L1PP"


def join_parts(parts: Mapping[str, bytes]) -> bytes:
    """Named byte strings in one payload (module docstring), split again by :func:`split_parts`.

    Raises:
        ConfigError: more than 255 parts, or a name that is not 1 ... 255 ASCII characters.

    >>> split_parts(join_parts({"particle": b"abc", "object": b""}))
    {'particle': b'abc', 'object': b''}
    """
    if len(parts) > 255:
        msg = f"join_parts: expected at most 255 parts, got {len(parts)}"
        raise ConfigError(msg)
    head = [_PARTS_MAGIC, struct.pack("<B", len(parts))]
    for name, body in parts.items():
        if not name or len(name) > 255 or not name.isascii():
            msg = f"part name {name!r}: expected 1 ... 255 ASCII characters"
            raise ConfigError(msg)
        head += [struct.pack("<B", len(name)), name.encode(), struct.pack("<Q", len(body))]
    return b"".join(head) + b"".join(bytes(b) for b in parts.values())


def _part_table(data: bytes) -> tuple[list[tuple[str, int]], int]:
    what = "parts payload"
    if len(data) < 5 or data[:4] != _PARTS_MAGIC:
        msg = f"{what}: expected the magic {_PARTS_MAGIC!r} ({len(data)} bytes given)"
        raise DataFormatError(msg)
    pos, table = 5, []
    for _ in range(data[4]):
        if pos >= len(data) or pos + 1 + data[pos] + 8 > len(data):
            msg = f"{what}: truncated header ({len(data)} bytes)"
            raise DataFormatError(msg)
        size_at = pos + 1 + data[pos]
        name = data[pos + 1 : size_at].decode("ascii", errors="replace")
        (size,) = struct.unpack_from("<Q", data, size_at)
        table.append((name, int(size)))
        pos = size_at + 8
    if pos + sum(s for _, s in table) != len(data):
        msg = f"{what}: expected {pos + sum(s for _, s in table)} bytes, got {len(data)} (truncated or foreign)"
        raise DataFormatError(msg)
    return table, pos


def has_parts(payload: bytes) -> bool:
    """Whether *payload* starts like a :func:`join_parts` payload (its magic)."""
    return bytes(payload[:4]) == _PARTS_MAGIC


def split_parts(payload: bytes) -> dict[str, bytes]:
    """The named parts of a :func:`join_parts` payload.

    Raises:
        DataFormatError: not such a payload, or truncated.
    """
    data = bytes(payload)
    table, pos = _part_table(data)
    out = {}
    for name, size in table:
        out[name] = data[pos : pos + size]
        pos += size
    return out


def part_sizes(payload: bytes) -> dict[str, int]:
    """Bytes of each part of a :func:`join_parts` payload (its header not counted).

    Raises:
        DataFormatError: not such a payload, or truncated.
    """
    table, _ = _part_table(bytes(payload))
    return dict(table)
