"""The codec protocol of the compression task, and one codec measured on a file actually written.

A codec turns one sample's :class:`~l1scout.tasks.scouting.events.StreamEvents`
into bytes (:meth:`Codec.encode`) and back (:meth:`Codec.decode`, the same
events in the same order; the metadata that is not part of the payload,
process, event numbers, files and cross section, is copied from *like*).
Embedding-only codecs decode to ``None`` and provide ``embed(events)`` and
``decode_embedding(payload)`` instead (:class:`EmbeddingCodec`).

:func:`measure` writes the payload to ``<folder>/<label>.bin`` (atomically),
takes its size **from the file system**, reads the file back and decodes it:
bytes per event are those of a file on disk, never a count of bits. A payload
made of named parts (:func:`~l1scout.tasks.compress.entropy.join_parts`, e.g.
``particle`` and ``object``) also gets ``<part>_bytes_per_event`` in
:attr:`Measured.params` (the parts' bytes; the few bytes of the parts' table
count in the total only).

Example:
    >>> import tempfile
    >>> from l1scout.tasks.scouting.encode import _example_events
    >>> class Raw:
    ...     family, label, params, lossless = "raw", "raw-counts", {}, True
    ...     def encode(self, events): return np.diff(events.puppi_offsets).astype("<u2").tobytes()
    ...     def decode(self, payload, like): return like
    >>> m = measure(Raw(), _example_events(), Path(tempfile.mkdtemp()))
    >>> m.n_bytes, m.bytes_per_event, m.file.name
    (4, 2.0, 'raw-counts.bin')
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.entropy import has_parts, part_sizes
from l1scout.tasks.scouting.events import StreamEvents

__all__ = ["Codec", "EmbeddingCodec", "Measured", "measure"]

#: A codec label: a file name without folders or spaces.
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@runtime_checkable
class Codec(Protocol):
    """What every codec of the task provides.

    The attributes are read-only for callers (plain attributes or properties
    in a codec):

    Attributes:
        family: ``"float16_parquet"``, ``"words_zstd"``, ``"int_pack"``,
            ``"quantized"``, ``"set_ae"``, ``"vicreg"``.
        label: unique per setting (e.g. ``"quantized-pt8-ang10"``): the file name stem.
        params: the setting (bit widths, latent size ...), for tables and tracking.
        lossless: exact on the values it stores (float16 or hardware bins).
    """

    @property
    def family(self) -> str:
        """The codec family."""
        ...

    @property
    def label(self) -> str:
        """The setting's unique label (a file name stem)."""
        ...

    @property
    def params(self) -> Mapping[str, int | float | str]:
        """The setting."""
        ...

    @property
    def lossless(self) -> bool:
        """Exact on the values it stores."""
        ...

    def encode(self, events: StreamEvents) -> bytes:
        """The payload of *events*."""
        ...

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents | None:
        """The events of *payload* (metadata from *like*); ``None`` for embedding-only codecs."""
        ...


@runtime_checkable
class EmbeddingCodec(Codec, Protocol):
    """A codec that stores an embedding (``decode`` returns ``None``)."""

    def embed(self, events: StreamEvents) -> np.ndarray:
        """The embedding of each event (float, ``[n, d]``), before quantization."""
        ...

    def decode_embedding(self, payload: bytes) -> np.ndarray:
        """The stored embedding of each event (float, ``[n, d]``) read back from *payload*."""
        ...


@dataclass(frozen=True, eq=False)
class Measured:
    """One codec on one set of events, measured on a file actually written.

    Attributes:
        label, family, params: the codec's (``params`` a copy, plus anything the
            codec measured, e.g. ``object_bytes_per_event``).
        n_events: events encoded.
        file: the payload file, ``<folder>/<label>.bin``.
        n_bytes: its size on disk (bytes, from the file system).
        bytes_per_event: ``n_bytes / n_events`` (``nan`` for no events).
        seconds_encode, seconds_decode: wall time of encode and of read + decode (s).
        decoded: the decoded events, or ``None`` for an embedding-only codec.
        embedding: the stored embedding read back (``[n, d]``) of an embedding
            codec, else ``None``.
    """

    label: str
    family: str
    params: dict[str, int | float | str]
    n_events: int
    file: Path
    n_bytes: int
    bytes_per_event: float
    seconds_encode: float
    seconds_decode: float
    decoded: StreamEvents | None
    embedding: np.ndarray | None


def measure(codec: Codec, events: StreamEvents, folder: Path) -> Measured:
    """Encode *events*, write ``<folder>/<label>.bin`` atomically, size it on disk, read it back, decode.

    An embedding codec (``decode`` returns ``None``) is read back through its
    ``decode_embedding`` when it has one.

    Raises:
        ConfigError: a label that is not a plain file name.
        DataFormatError: the codec's decode raised it, or decoded a different number of events.
    """
    if not _LABEL.match(codec.label):
        msg = f"codec label {codec.label!r}: expected letters, digits and _ . + - (a file name)"
        raise ConfigError(msg)
    start = time.perf_counter()
    payload = codec.encode(events)
    seconds_encode = time.perf_counter() - start
    path = atomic_write_bytes(Path(folder) / f"{codec.label}.bin", bytes(payload))
    n_bytes = path.stat().st_size
    start = time.perf_counter()
    stored = path.read_bytes()
    decoded = codec.decode(stored, events)
    embedding = None
    if decoded is None and hasattr(codec, "decode_embedding"):
        embedding = np.asarray(codec.decode_embedding(stored))
    seconds_decode = time.perf_counter() - start
    if decoded is not None and decoded.n_events != events.n_events:
        msg = f"codec {codec.label}: decoded {decoded.n_events} events, expected {events.n_events}"
        raise DataFormatError(msg)
    n = events.n_events
    params: dict[str, int | float | str] = dict(codec.params)
    if has_parts(stored) and n:
        params.update({f"{k}_bytes_per_event": v / n for k, v in part_sizes(stored).items()})
    return Measured(
        label=codec.label,
        family=codec.family,
        params=params,
        n_events=n,
        file=path,
        n_bytes=n_bytes,
        bytes_per_event=n_bytes / n if n else float("nan"),
        seconds_encode=seconds_encode,
        seconds_decode=seconds_decode,
        decoded=decoded,
        embedding=embedding,
    )
