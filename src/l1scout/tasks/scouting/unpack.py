"""The scouting unpacker: orbit buffers -> per-BX columns (flat data + BX offsets) and awkward arrays.

This is the Run-3 orbit-collection idea (CMSSW ``DataFormats/L1Scouting``
``OrbitCollection``: the objects of one orbit in one flat vector plus per-BX
offsets) applied to the Phase-2 words of :mod:`l1scout.tasks.scouting.words`.
One pass over a stream's buffer walks its headers (:func:`scan_headers`, 3564
words read out of about 353,000 at 128 candidates per filled BX), a second
decodes the payload of the kept BXs into narrow integer columns, only the
fields asked for (:func:`unpack_puppi`), in a compiled loop on one thread.

**Corrupted input never raises** (a whole orbit, or a file, must not be lost
for one bad word); every problem is counted in :class:`Problems`:

* a header with the **bad flag** (bit 61): that BX is skipped, the walk goes on;
* a header whose **BX** is 3564 or more, or not above the previous kept BX: skipped;
* a header whose **orbit** differs from the first unflagged header's: skipped;
* a **count past the end** of the buffer (a truncated buffer): that BX is
  skipped and the walk ends;
* a word in a header's place **without the header marker** (bits 62-63 =
  ``0b10``; payload words have bit 63 = 0): the walk ends, the rest is lost;
* BXs of the orbit for which no header was read at all (``missing_bx``: a
  buffer cut at a BX boundary, or an empty stream).

The words of skipped BXs and of the unread rest are ``lost_words``: for every
buffer ``kept BXs + kept payload words + lost_words == len(buffer)``.

Example:
    >>> from l1scout.tasks.scouting.words import pack_stream, puppi_to_hardware, encode_puppi
    >>> counts = np.zeros(ORBIT_BX, dtype=np.int64); counts[7] = 2
    >>> hw = puppi_to_hardware([10.0, 2.0], [0.5, -0.5], [1.0, -1.0], [211, 22], [1, 0],
    ...                        [1.0, 0.0], [0.0, 0.0], [1.0, 0.5])
    >>> u = unpack_puppi(pack_stream(counts, encode_puppi(hw), orbit=5, run=1))
    >>> u.orbit, u.bx[7:8].tolist(), u.offsets[7:9].tolist(), u.hw.pt.tolist(), u.problems.total
    (5, [7], [0, 2], [40, 8], 0)
    >>> u.physical()["pdgid"].tolist(), u.physical()["puppi_w"].tolist()
    ([211, 22], [1.0, 0.5])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting import _unpack_kernels as _k
from l1scout.tasks.scouting.words import (
    _CHARGE,
    _PDG,
    OBJECT_FIELDS,
    ORBIT_BX,
    PHYSICAL_NEEDS,
    PUPPI_DXY,
    PUPPI_ETA,
    PUPPI_FIELDS,
    PUPPI_PHI,
    PUPPI_PT,
    PUPPI_Z0,
    PuppiHardware,
    muon_charge_quality,
)

__all__ = [
    "BxIndex",
    "Problems",
    "UnpackedObjects",
    "UnpackedPuppi",
    "scan_headers",
    "unpack_objects",
    "unpack_puppi",
]

_FIELD_NAMES = tuple(name for name, _ in PUPPI_FIELDS)
_OBJECT_STREAMS = tuple(OBJECT_FIELDS)


def _decode_objects(stream: str, payload: I64) -> dict[str, np.ndarray]:
    """``words.decode_<stream>`` (the numpy reference) with a compiled loop per scaled field."""
    out = {}
    for key, (shift, bits, signed, scale) in OBJECT_FIELDS[stream].items():
        period = scale.n_bins if scale.periodic else 0
        out[key] = _k.object_field(payload, shift, bits, signed, scale.lsb, period)
    if stream == "muon":
        out.update(muon_charge_quality(payload.view(np.uint64)))
    return out


@dataclass(frozen=True)
class Problems:
    """Counters of what the unpacker skipped in one or more stream buffers (add them with ``+``).

    Attributes:
        bad_flag: headers with the bad flag set (BX skipped).
        count_past_end: headers whose count runs past the end of the buffer (BX skipped, walk ended).
        not_a_header: words without the header marker where a header was due (walk ended).
        bad_bx: headers with a BX >= 3564 or not above the previous kept BX (BX skipped).
        orbit_mismatch: headers of another orbit than the buffer's first (BX skipped).
        skipped_bx: BXs whose header was read but whose payload was dropped.
        lost_words: words neither a kept header nor a kept payload word.
        missing_bx: BXs of the orbit without any header in the buffer (3564 minus the headers read).
    """

    bad_flag: int = 0
    count_past_end: int = 0
    not_a_header: int = 0
    bad_bx: int = 0
    orbit_mismatch: int = 0
    skipped_bx: int = 0
    lost_words: int = 0
    missing_bx: int = 0

    def __add__(self, other: Problems) -> Problems:
        if not isinstance(other, Problems):
            return NotImplemented
        return Problems(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def total(self) -> int:
        """The number of problems: every counter but the derived ``skipped_bx`` and ``lost_words``."""
        return (
            self.bad_flag
            + self.count_past_end
            + self.not_a_header
            + self.bad_bx
            + self.orbit_mismatch
            + self.missing_bx
        )

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class BxIndex:
    """The kept BXs of one stream's orbit buffer.

    Attributes:
        orbit: the orbit number of the buffer's first unflagged header (-1: none kept).
        run: its run number (-1: none kept).
        bx: int16, the kept BXs, increasing.
        count: int64, payload words of each kept BX.
        start: int64, index in the buffer of each kept BX's first payload word.
        problems: what was skipped.
    """

    orbit: int
    run: int
    bx: npt.NDArray[np.int16]
    count: I64
    start: I64
    problems: Problems

    @property
    def offsets(self) -> I64:
        """Offsets of the kept BXs in the flat unpacked columns (int64, length n_bx + 1)."""
        return offsets_from_counts(self.count)


def _as_words(buffer: npt.ArrayLike) -> I64:
    """The buffer's bits as a contiguous int64 array (no copy for a contiguous uint64 array)."""
    b = np.asarray(buffer)
    if b.ndim != 1 or b.dtype not in (np.dtype(np.uint64), np.dtype(np.int64)):
        msg = f"scouting buffer: expected a 1-d uint64 array, got {b.dtype} with shape {b.shape}"
        raise DataFormatError(msg)
    out: I64 = np.ascontiguousarray(b).view(np.int64)
    return out


def _problems(state: I64) -> Problems:
    c = [int(x) for x in state]
    return Problems(
        bad_flag=c[_k.BAD_FLAG],
        count_past_end=c[_k.COUNT_PAST_END],
        not_a_header=c[_k.NOT_A_HEADER],
        bad_bx=c[_k.BAD_BX],
        orbit_mismatch=c[_k.ORBIT_MISMATCH],
        skipped_bx=c[_k.SKIPPED_BX],
        lost_words=c[_k.LOST_WORDS],
        missing_bx=max(0, ORBIT_BX - c[_k.HEADERS]),
    )


def _new_state() -> I64:
    state = np.zeros(_k.N_STATE, dtype=np.int64)
    state[_k.ORBIT] = -1
    state[_k.RUN] = -1
    return state


def _scan(words: I64) -> BxIndex:
    bx = np.empty(ORBIT_BX, dtype=np.int16)
    count = np.empty(ORBIT_BX, dtype=np.int64)
    start = np.empty(ORBIT_BX, dtype=np.int64)
    state = _new_state()
    _k.scan(words, ORBIT_BX, bx, count, start, state)
    kept = int(state[_k.KEPT])
    return BxIndex(
        orbit=int(state[_k.ORBIT]),
        run=int(state[_k.RUN]),
        bx=bx[:kept],
        count=count[:kept],
        start=start[:kept],
        problems=_problems(state),
    )


def scan_headers(buffer: npt.ArrayLike) -> BxIndex:
    """Walk the headers of one stream's orbit buffer: the kept BXs and the counted problems.

    Raises:
        DataFormatError: *buffer* is not a 1-d uint64 array (a programming error;
            corrupted words are counted, never raised).

    >>> from l1scout.tasks.scouting.words import encode_headers
    >>> idx = scan_headers(encode_headers([0, 0, 0], [0, 1, 2], 9, 1, [0, 1, 0]))
    >>> idx.bx.tolist(), idx.problems.bad_flag, idx.problems.lost_words
    ([0, 2], 1, 1)
    """
    return _scan(_as_words(buffer))


def _jagged_awkward(
    offsets: I64, bx: np.ndarray, columns: Mapping[str, np.ndarray], name: str
) -> Any:
    import awkward as ak

    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.asarray(v)) for v in columns.values()],
        list(columns),
        length=int(offsets[-1]),
    )
    lists = ak.contents.ListOffsetArray(ak.index.Index64(offsets), record)
    outer = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.asarray(bx)), lists], ["bx", name], length=len(bx)
    )
    return ak.Array(outer)


@dataclass(frozen=True)
class UnpackedPuppi:
    """The PUPPI candidates of one orbit, flat, with per-BX offsets.

    Attributes:
        orbit: orbit number (-1: no BX kept).
        run: run number (-1: no BX kept).
        bx: int16, the kept BXs.
        offsets: int64, length ``len(bx) + 1``: BX ``bx[k]`` owns candidates
            ``offsets[k]:offsets[k + 1]``.
        hw: the hardware fields; a field not asked for (``fields=``) is an empty array.
        fields: the decoded field names.
        problems: what the header walk skipped.
    """

    orbit: int
    run: int
    bx: npt.NDArray[np.int16]
    offsets: I64
    hw: PuppiHardware
    fields: tuple[str, ...]
    problems: Problems

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def physical(self) -> dict[str, np.ndarray]:
        """Physical values (:func:`~l1scout.tasks.scouting.words.puppi_physical`) of the decoded fields.

        Keys whose hardware fields were not decoded are left out.
        """
        have = set(self.fields)
        keys = [k for k, needs in PHYSICAL_NEEDS.items() if have.issuperset(needs)]
        return _physical(self.hw, keys)

    def to_awkward(self, *, physical: bool = True) -> Any:
        """An awkward array of the kept BXs: records ``{bx, puppi: [candidate records]}``.

        Args:
            physical: candidate fields in physical units (:meth:`physical`), else the hardware integers.
        """
        cols = self.physical() if physical else {f: getattr(self.hw, f) for f in self.fields}
        return _jagged_awkward(self.offsets, self.bx, cols, "puppi")


def _physical(hw: PuppiHardware, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """:func:`~l1scout.tasks.scouting.words.puppi_physical` (the numpy reference) with compiled loops."""
    compute: dict[str, Callable[[], np.ndarray]] = {
        "pt": lambda: _k.scale(hw.pt, PUPPI_PT.lsb),
        "eta": lambda: _k.scale(hw.eta, PUPPI_ETA.lsb),
        "phi": lambda: _k.scale(hw.phi, PUPPI_PHI.lsb),
        "pdgid": lambda: _k.lookup(hw.code, _PDG),
        "charge": lambda: _k.lookup(hw.code, _CHARGE),
        "z0": lambda: _k.scale(hw.z0, PUPPI_Z0.lsb),
        "dxy": lambda: _k.scale(hw.dxy, PUPPI_DXY.lsb),
        "quality": lambda: hw.quality,
        "puppi_w": lambda: _k.puppi_weight(hw.code, hw.quality, hw.weight),
        "egid": lambda: hw.egid,
    }
    return {k: compute[k]() for k in keys}


def _puppi_fields(fields_: Iterable[str] | None) -> tuple[str, ...]:
    if fields_ is None:
        return _FIELD_NAMES
    wanted = tuple(dict.fromkeys(fields_))
    unknown = [f for f in wanted if f not in _FIELD_NAMES]
    if unknown:
        msg = f"unpack_puppi fields {unknown}: expected some of {list(_FIELD_NAMES)}"
        raise ConfigError(msg)
    return tuple(f for f in _FIELD_NAMES if f in wanted)


def unpack_puppi(buffer: npt.ArrayLike, *, fields: Iterable[str] | None = None) -> UnpackedPuppi:
    """Unpack one orbit of the PUPPI stream into hardware columns.

    Args:
        buffer: the stream's words of one orbit (1-d uint64).
        fields: the :class:`~l1scout.tasks.scouting.words.PuppiHardware` fields to
            decode (default all); the others are left as empty arrays and cost nothing.

    Raises:
        ConfigError: an unknown field name.
        DataFormatError: *buffer* is not a 1-d uint64 array (corrupted words are counted in
            ``problems``, never raised).
    """
    names = _puppi_fields(fields)
    words = _as_words(buffer)
    bx = np.empty(ORBIT_BX, dtype=np.int16)
    offsets = np.zeros(ORBIT_BX + 1, dtype=np.int64)
    state = _new_state()
    cap = len(words)  # an upper bound of the payload words; pages never written cost nothing
    out: dict[str, Any] = {
        name: np.empty(cap if name in names else 0, dtype=dtype) for name, dtype in PUPPI_FIELDS
    }
    if names == _FIELD_NAMES:
        _k.unpack_puppi_all(words, ORBIT_BX, bx, offsets, state, *out.values())
    else:
        args = [out[name] if name in names else None for name in _FIELD_NAMES]
        _k.unpack_puppi_some(words, ORBIT_BX, bx, offsets, state, *args)
    kept, n = int(state[_k.KEPT]), int(state[_k.WORDS])
    return UnpackedPuppi(
        orbit=int(state[_k.ORBIT]),
        run=int(state[_k.RUN]),
        bx=bx[:kept],
        offsets=offsets[: kept + 1],
        hw=PuppiHardware(**{k: v[:n] for k, v in out.items()}),
        fields=names,
        problems=_problems(state),
    )


@dataclass(frozen=True)
class UnpackedObjects:
    """The trigger objects of one stream and orbit, flat, with per-BX offsets.

    Attributes:
        stream: ``muon``, ``egamma``, ``jet`` or ``sums``.
        orbit: orbit number (-1: no BX kept).
        run: run number (-1: no BX kept).
        bx: int16, the kept BXs.
        offsets: int64, length ``len(bx) + 1``.
        values: the decoded physical columns (``words.decode_<stream>``).
        problems: what the header walk skipped.
    """

    stream: str
    orbit: int
    run: int
    bx: npt.NDArray[np.int16]
    offsets: I64
    values: dict[str, np.ndarray]
    problems: Problems

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def to_awkward(self) -> Any:
        """An awkward array of the kept BXs: records ``{bx, <stream>: [object records]}``."""
        return _jagged_awkward(self.offsets, self.bx, self.values, self.stream)


def unpack_objects(buffer: npt.ArrayLike, stream: str) -> UnpackedObjects:
    """Unpack one orbit of an object stream (muon, egamma, jet, sums) into physical columns.

    Raises:
        ConfigError: an unknown stream.
        DataFormatError: *buffer* is not a 1-d uint64 array.

    >>> from l1scout.tasks.scouting.words import encode_jets, pack_stream
    >>> counts = np.zeros(ORBIT_BX, dtype=np.int64); counts[3] = 1
    >>> u = unpack_objects(pack_stream(counts, encode_jets([40.0], [0.0], [0.0]), 2, 1), "jet")
    >>> u.values["pt"].tolist(), u.offsets[3:5].tolist()
    ([40.0], [0, 1])
    """
    if stream not in _OBJECT_STREAMS:
        names = list(_OBJECT_STREAMS)
        msg = f"unpack_objects stream {stream!r}: expected one of {names}"
        raise ConfigError(msg)
    words = _as_words(buffer)
    bx = np.empty(ORBIT_BX, dtype=np.int16)
    offsets = np.zeros(ORBIT_BX + 1, dtype=np.int64)
    state = _new_state()
    payload = np.empty(len(words), dtype=np.int64)
    _k.gather(words, ORBIT_BX, bx, offsets, payload, state)
    kept, n = int(state[_k.KEPT]), int(state[_k.WORDS])
    return UnpackedObjects(
        stream=stream,
        orbit=int(state[_k.ORBIT]),
        run=int(state[_k.RUN]),
        bx=bx[:kept],
        offsets=offsets[: kept + 1],
        values=_decode_objects(stream, payload[:n]),
        problems=_problems(state),
    )
