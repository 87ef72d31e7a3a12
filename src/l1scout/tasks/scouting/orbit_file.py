"""Orbit files (``.l1sorb``): the words of many orbits, an index, a JSON trailer; read one orbit at a time.

Layout (every integer little-endian; ``docs/physics/scouting-stream.md``):

==========  =======================  ======================================================
offset      size (bytes)             content
==========  =======================  ======================================================
0           8                        magic: ``L1SORB``, bytes 0x00 0x01 (version 1)
8           8 x words                the words of every orbit, stream after stream, uint64
index_at    8 x n x (1 + 2 s)        per orbit: orbit number, then per stream (word offset
                                     from byte 8, word count), int64
json_at     json_bytes               the trailer, UTF-8 JSON: format, run, streams, n_orbits,
                                     meta
end - 32    32                       footer: index_at, n_orbits, json_bytes (uint64), magic
                                     ``b"L1SOEND1"``
==========  =======================  ======================================================

A writer (:class:`OrbitWriter`) streams the words to a temporary file beside
the target (``l1scout._files.temporary_name``), keeps only the index in
memory, and on a clean close appends the index, trailer and footer, syncs and
renames: a killed run or an exception leaves no orbit file. A reader
(:func:`open_orbit_file`) checks the magic, footer and index against the file
size once and then reads one orbit's stream at a time (bounded memory, any
file size); a truncated or foreign file is a one-line
:class:`~l1scout.errors.DataFormatError` naming the file.

Example:
    >>> import tempfile
    >>> from l1scout.tasks.scouting.words import ORBIT_BX, pack_stream
    >>> path = Path(tempfile.mkdtemp()) / "run1.l1sorb"
    >>> with OrbitWriter(path, run=1, streams=("puppi",), meta={"seed": 3}) as w:
    ...     for orbit in (1, 2):
    ...         w.write_orbit(orbit, {"puppi": pack_stream(np.zeros(ORBIT_BX, int), np.zeros(0, np.uint64), orbit, 1)})
    >>> with open_orbit_file(path) as f:
    ...     f.orbits.tolist(), f.run, f.meta, len(f.read(1, "puppi"))
    ([1, 2], 1, {'seed': 3}, 3564)
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from l1scout._files import temporary_name
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.words import MAX_ORBIT, MAX_RUN, STREAMS

__all__ = ["ORBIT_FILE_SUFFIX", "OrbitFile", "OrbitWriter", "open_orbit_file"]

#: Suffix of orbit files.
ORBIT_FILE_SUFFIX = ".l1sorb"
_MAGIC = b"L1SORB\x00\x01"
_END = b"L1SOEND1"
_FOOTER = struct.Struct("<QQQ8s")
_FORMAT = "l1scout-orbits"
_VERSION = 1


def _check_streams(streams: Sequence[str]) -> tuple[str, ...]:
    names = tuple(streams)
    if not names or len(set(names)) != len(names) or any(s not in STREAMS for s in names):
        msg = f"orbit file streams {list(names)}: expected distinct names among {list(STREAMS)}"
        raise ConfigError(msg)
    return names


class OrbitWriter:
    """Write orbits to an orbit file, atomically (context manager).

    Args:
        path: the target ``.l1sorb`` file (its folder is created).
        run: the run number (0 ... 127, the header's 7 bits).
        streams: the streams every orbit has (default all of :data:`~l1scout.tasks.scouting.words.STREAMS`).
        meta: JSON-serialisable metadata stored in the trailer.

    Raises:
        ConfigError: a bad run, stream list or metadata that JSON cannot store.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        run: int,
        streams: Sequence[str] = STREAMS,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        if (
            isinstance(run, bool)
            or not isinstance(run, int | np.integer)
            or not 0 <= run <= MAX_RUN
        ):
            msg = f"{self.path}: run {run!r}: expected an integer in [0, {MAX_RUN}]"
            raise ConfigError(msg)
        self.run = int(run)
        self.streams = _check_streams(streams)
        self.meta = dict(meta or {})
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError) as exc:
            msg = f"{self.path}: meta: expected JSON-serialisable values ({exc})"
            raise ConfigError(msg) from exc
        self._rows: list[list[int]] = []
        self._seen: set[int] = set()
        self._words = 0
        self._tmp = temporary_name(self.path)
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> OrbitWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self._tmp.open("wb")
        self._fh.write(_MAGIC)
        return self

    def write_orbit(self, orbit: int, buffers: Mapping[str, npt.ArrayLike]) -> None:
        """Append one orbit: per stream its words (1-d uint64); a stream left out has no words.

        Raises:
            ConfigError: outside ``with``, an orbit number outside [0, 2^30) or already written,
                or an unknown stream.
            DataFormatError: a buffer that is not a 1-d uint64 array.
        """
        if self._fh is None:
            msg = f"{self.path}: write_orbit outside the writer's 'with' block"
            raise ConfigError(msg)
        if (
            isinstance(orbit, bool)
            or not isinstance(orbit, int | np.integer)
            or not 0 <= orbit <= MAX_ORBIT
        ):
            msg = f"{self.path}: orbit {orbit!r}: expected an integer in [0, {MAX_ORBIT}]"
            raise ConfigError(msg)
        if int(orbit) in self._seen:
            msg = f"{self.path}: orbit {orbit} written twice"
            raise ConfigError(msg)
        unknown = [s for s in buffers if s not in self.streams]
        if unknown:
            msg = f"{self.path}: streams {unknown} are not among the file's {list(self.streams)}"
            raise ConfigError(msg)
        row = [int(orbit)]
        for stream in self.streams:
            words = np.asarray(buffers.get(stream, np.zeros(0, np.uint64)))
            if words.ndim != 1 or words.dtype != np.uint64:
                msg = f"{self.path}: stream {stream!r} of orbit {orbit}: expected a 1-d uint64 array, got {words.dtype} {words.shape}"
                raise DataFormatError(msg)
            self._fh.write(np.ascontiguousarray(words, dtype="<u8").tobytes())
            row += [self._words, len(words)]
            self._words += len(words)
        self._rows.append(row)
        self._seen.add(int(orbit))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if exc_type is None:
                self._finish(fh)
        except BaseException:
            fh.close()
            self._tmp.unlink(missing_ok=True)
            raise
        fh.close()
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)
            return
        self._tmp.replace(self.path)

    def _finish(self, fh: IO[bytes]) -> None:
        index = np.array(self._rows, dtype="<i8").reshape(
            len(self._rows), 1 + 2 * len(self.streams)
        )
        trailer = json.dumps(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "run": self.run,
                "streams": list(self.streams),
                "n_orbits": len(self._rows),
                "meta": self.meta,
            },
            sort_keys=True,
        ).encode()
        fh.write(index.tobytes())
        fh.write(trailer)
        fh.write(_FOOTER.pack(len(_MAGIC) + 8 * self._words, len(self._rows), len(trailer), _END))
        fh.flush()
        os.fsync(fh.fileno())


class OrbitFile:
    """An open orbit file (:func:`open_orbit_file`); a context manager that closes it.

    Attributes:
        path: the file.
        run: the run number.
        streams: the streams of every orbit.
        meta: the writer's metadata.
        orbits: int64, the orbit numbers in file order.
    """

    def __init__(
        self, path: Path, fh: io.BufferedReader, trailer: dict[str, Any], index: I64
    ) -> None:
        self.path = path
        self._fh = fh
        self.run: int = int(trailer["run"])
        self.streams: tuple[str, ...] = tuple(trailer["streams"])
        self.meta: dict[str, Any] = dict(trailer["meta"])
        self._index = index
        self.orbits: I64 = index[:, 0].copy()

    def __len__(self) -> int:
        return len(self.orbits)

    def __enter__(self) -> OrbitFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def n_words(self, i: int, stream: str) -> int:
        """Words of orbit *i* (position in the file) in *stream*."""
        return int(self._index[i, 2 + 2 * self._stream(stream)])

    def _stream(self, stream: str) -> int:
        if stream not in self.streams:
            msg = f"{self.path}: stream {stream!r}: expected one of {list(self.streams)}"
            raise ConfigError(msg)
        return self.streams.index(stream)

    def read(self, i: int, stream: str) -> npt.NDArray[np.uint64]:
        """The words of the *i*-th orbit (position in the file, not orbit number) in *stream*.

        Reads only those words.

        Raises:
            ConfigError: *i* out of range or an unknown stream.
            DataFormatError: the file ended early.
        """
        if not -len(self) <= i < len(self):
            msg = f"{self.path}: orbit position {i}: expected 0 ... {len(self) - 1}"
            raise ConfigError(msg)
        k = self._stream(stream)
        start, count = (int(x) for x in self._index[i, 1 + 2 * k : 3 + 2 * k])
        out = np.empty(count, dtype="<u8")
        self._fh.seek(len(_MAGIC) + 8 * start)
        got = self._fh.readinto(out.view(np.uint8).data)
        if got != out.nbytes:
            msg = f"{self.path}: orbit {int(self.orbits[i])} stream {stream!r}: file ended after {got} of {out.nbytes} bytes"
            raise DataFormatError(msg)
        return out.view(np.uint64)

    def iter_orbits(
        self, streams: Sequence[str] | None = None
    ) -> Iterator[tuple[int, dict[str, npt.NDArray[np.uint64]]]]:
        """Yield ``(orbit number, {stream: words})`` in file order, one orbit in memory at a time."""
        names = self.streams if streams is None else tuple(streams)
        for s in names:
            self._stream(s)
        for i in range(len(self)):
            yield int(self.orbits[i]), {s: self.read(i, s) for s in names}


def _bad(path: Path, what: str) -> DataFormatError:
    return DataFormatError(f"{path}: not a readable l1scout orbit file: {what}")


def open_orbit_file(path: Path | str) -> OrbitFile:
    """Open an orbit file and check its layout (magic, footer, index, trailer) against its size.

    Raises:
        DataFormatError: the file is missing, truncated, foreign or inconsistent (one line naming it).
    """
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise _bad(p, f"cannot open ({exc.strerror})") from exc
    try:
        return _open(p, fh)
    except BaseException:
        fh.close()
        raise


def _open(p: Path, fh: io.BufferedReader) -> OrbitFile:
    size = os.fstat(fh.fileno()).st_size
    if size < len(_MAGIC) + _FOOTER.size:
        raise _bad(p, f"{size} bytes, shorter than an empty orbit file")
    if fh.read(len(_MAGIC)) != _MAGIC:
        raise _bad(p, "wrong magic (a foreign file or another format version)")
    fh.seek(size - _FOOTER.size)
    index_at, n_orbits, json_bytes, end = _FOOTER.unpack(fh.read(_FOOTER.size))
    if end != _END:
        raise _bad(p, "no footer (truncated, or its writer did not finish)")
    tail = size - _FOOTER.size - json_bytes
    index_bytes = tail - index_at
    try:
        trailer = json.loads(_read_at(fh, tail, json_bytes))
        streams = _check_streams(trailer["streams"])
        width = 1 + 2 * len(streams)
        ok = trailer.get("format") == _FORMAT and trailer.get("version") == _VERSION
        ok = ok and int(trailer["n_orbits"]) == n_orbits and isinstance(trailer["meta"], dict)
        int(trailer["run"])
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise _bad(p, f"bad JSON trailer ({exc})") from exc
    if not ok or index_at < len(_MAGIC) or index_bytes != 8 * width * n_orbits:
        raise _bad(p, "footer, index and trailer sizes disagree with the file size")
    index = np.frombuffer(_read_at(fh, index_at, index_bytes), dtype="<i8").astype(np.int64)
    index = index.reshape(n_orbits, width)
    words = (index_at - len(_MAGIC)) // 8
    starts, counts = index[:, 1::2], index[:, 2::2]
    if np.any(counts < 0) or np.any(starts < 0) or np.any(starts + counts > words):
        raise _bad(p, "the index points outside the words")
    return OrbitFile(p, fh, trailer, index)


def _read_at(fh: IO[bytes], offset: int, n: int) -> bytes:
    fh.seek(offset)
    data = fh.read(n)
    if len(data) != n:
        msg = f"short read at byte {offset}"
        raise ValueError(msg)
    return data
