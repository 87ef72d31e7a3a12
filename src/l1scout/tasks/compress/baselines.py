"""The lossless baselines of the compression task: float16 Parquet, stream words + zstd, integer packing.

Each codec stores one sample's :class:`~l1scout.tasks.scouting.events.StreamEvents`
(the <= 128 highest-pT PUPPI candidates and the trigger objects of every
event) and decodes to a ``StreamEvents`` with the same events in the same
order; the metadata (process, event numbers, files, cross section) is copied
from ``like`` and is not part of any payload. The lossy baseline, each field
quantized to fewer bits, is :mod:`l1scout.tasks.compress.quantized`
(:class:`~l1scout.tasks.compress.quantized.QuantizedCodec`,
:func:`~l1scout.tasks.compress.quantized.quantized_scan`); the trigger objects of the
packed codecs are :mod:`l1scout.tasks.compress.objects`
(:func:`~l1scout.tasks.compress.objects.encode_objects`,
:func:`~l1scout.tasks.compress.objects.decode_objects`).

Byte layouts (integers little-endian; ``zstd(...)`` is
:func:`~l1scout.tasks.compress.entropy.zstd_compress`, ``columns(...)``
:func:`~l1scout.tasks.compress.entropy.pack_columns`: each named integer
column zigzag-coded if signed, then bit-packed or split in byte planes,
whichever zstd makes smaller; ``parts(...)``
:func:`~l1scout.tasks.compress.entropy.join_parts`):

* :class:`Float16ParquetCodec` (``float16_parquet``, lossless on float16):
  what the COLLIDE-2V files store, a Parquet file (zstd, pyarrow's writer
  defaults otherwise), one row per event, list columns ``puppi_<field>`` with
  the COLLIDE-2V types (pT, eta, phi, PUPPI weight float16; PID int32; charge
  int8; DZ, D0 float32 mm), ``muon_`` pt, eta, phi (float16), charge (int8),
  quality (uint8); ``egamma_`` and ``jet_`` pt, eta, phi (float16); scalar
  columns ``met``, ``met_phi``, ``ht`` (float16). Decodes to the
  float16-cast values.
* :class:`WordsZstdCodec` (``words_zstd``, lossless on the hardware bins):
  ``zstd(uint32 n, uint8 counts[4][n] (PUPPI, muon, e/gamma, jet words of
  each event), the uint64 words of PUPPI, muons, e/gamma, jets, then one sums
  word per event)``, the words of
  :func:`~l1scout.tasks.scouting.encode.encode_events` in event order (with
  ``shuffle`` the words are stored as 8 byte planes, low byte first).
* :class:`IntPackCodec` (``int_pack``, lossless on the hardware bins):
  ``parts(particle=columns(count, pt | pt_delta, eta, phi, code, then for
  charged candidates z0, dxy, quality, for neutral ones weight, egid),
  object=encode_objects(...))``: the fields of
  :class:`~l1scout.tasks.scouting.words.PuppiHardware` (pT 0.25 GeV, eta and
  phi pi/720, z0 and dxy 0.5 mm, weight 1/256, 3-bit particle code), each
  field its own column, the charged-only and neutral-only fields stored only
  where they mean something; ``pt_delta`` is each event's first pT then the
  drops from one candidate to the next (the candidates come by decreasing pT,
  so the drops are small and non-negative). With ``order="phi"`` the
  candidates are stored by increasing phi, ``pt`` plain and ``phi_rise``
  (each event's first ``phi + 720`` then the rises) instead of ``pt_delta``
  and ``phi``: exact as a set of candidates, ~10 % smaller.

Example:
    >>> from l1scout.tasks.scouting.encode import _example_events
    >>> events = _example_events()
    >>> codec = IntPackCodec()
    >>> back = codec.decode(codec.encode(events), events)
    >>> back.puppi["pt"].tolist(), back.jets["pt"].tolist(), back.event_number.tolist()
    ([20.0, 3.0], [40.0], [7, 8])
"""

from __future__ import annotations

import dataclasses
import io
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from l1scout._jagged import offsets_from_counts
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress._columns import (
    check_events,
    check_level,
    column,
    counts_of,
    event_sort,
    pt_drops,
    rises,
    split_particle_object,
    undo_drops,
    undo_rises,
)
from l1scout.tasks.compress.entropy import (
    ZSTD_LEVEL,
    join_parts,
    pack_columns,
    unpack_columns,
    zstd_compress,
    zstd_decompress,
)
from l1scout.tasks.compress.objects import _DECODERS, OBJECT_STREAMS, decode_objects, encode_objects
from l1scout.tasks.scouting.encode import encode_events
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import (
    PuppiHardware,
    decode_puppi,
    decode_sums,
    puppi_physical,
    puppi_to_hardware,
)

__all__ = ["Float16ParquetCodec", "IntPackCodec", "WordsZstdCodec"]


# --------------------------------------------------------------------------- float16 Parquet

_F16 = pa.float16()
#: Float16ParquetCodec's list columns: name -> (StreamEvents attribute, field, arrow type).
_PARQUET_LISTS = {
    **{
        f"puppi_{k}": ("puppi", k, t)
        for k, t in (
            ("pt", _F16),
            ("eta", _F16),
            ("phi", _F16),
            ("pid", pa.int32()),
            ("charge", pa.int8()),
            ("dz", pa.float32()),
            ("d0", pa.float32()),
            ("puppi_w", _F16),
        )
    },
    **{f"muon_{k}": ("muons", k, _F16) for k in ("pt", "eta", "phi")},
    "muon_charge": ("muons", "charge", pa.int8()),
    "muon_quality": ("muons", "quality", pa.uint8()),
    **{
        f"{s}_{k}": (a, k, _F16)
        for s, a in (("egamma", "egamma"), ("jet", "jets"))
        for k in ("pt", "eta", "phi")
    },
}
_OFFSETS_OF = {
    "puppi": "puppi_offsets",
    "muons": "muon_offsets",
    "egamma": "egamma_offsets",
    "jets": "jet_offsets",
}


class Float16ParquetCodec:
    """What COLLIDE-2V stores: float16 (and int, float32 DZ/D0) list columns, Parquet with zstd.

    Args:
        level: zstd level of the Parquet writer (``None``: pyarrow's default, as
            the COLLIDE-2V files and l1scout's own writer use).
    """

    family = "float16_parquet"
    lossless = True

    def __init__(self, level: int | None = None) -> None:
        check_level(level, allow_none=True)
        self.level = level
        self.label = "float16_parquet" if level is None else f"float16_parquet-zstd{level}"
        self.params: dict[str, int | float | str] = {
            "zstd_level": "default" if level is None else level
        }

    def encode(self, events: StreamEvents) -> bytes:
        """The Parquet file of *events* (module docstring)."""
        arrays: dict[str, pa.Array] = {}
        for name, (attr, key, typ) in _PARQUET_LISTS.items():
            off = np.asarray(getattr(events, _OFFSETS_OF[attr]), dtype=np.int32)
            values = pa.array(
                np.asarray(getattr(events, attr)[key]).astype(typ.to_pandas_dtype()), type=typ
            )
            arrays[name] = pa.ListArray.from_arrays(pa.array(off, pa.int32()), values)
        for key in ("met", "met_phi", "ht"):
            arrays[key] = pa.array(np.asarray(events.sums[key]).astype(np.float16), type=_F16)
        sink = io.BytesIO()
        pq.write_table(pa.table(arrays), sink, compression="zstd", compression_level=self.level)
        return sink.getvalue()

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents:
        """The float16-cast events of a payload (metadata from *like*).

        Raises:
            DataFormatError: not a Parquet file of this codec, or not the events of *like*.
        """
        try:
            table = pq.read_table(pa.BufferReader(bytes(payload)))
        except (OSError, pa.ArrowException) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            msg = f"float16 Parquet payload: not a readable Parquet file ({first})"
            raise DataFormatError(msg) from exc
        missing = [
            c for c in (*_PARQUET_LISTS, "met", "met_phi", "ht") if c not in table.column_names
        ]
        if missing:
            msg = f"float16 Parquet payload: no columns {missing} (a file of another codec?)"
            raise DataFormatError(msg)
        check_events(table.num_rows, like, "float16 Parquet")
        kw: dict[str, object] = {}
        columns: dict[str, dict[str, np.ndarray]] = {a: {} for a in _OFFSETS_OF}
        for name, (attr, key, _) in _PARQUET_LISTS.items():
            arr = table.column(name).combine_chunks()
            off = np.asarray(arr.offsets, dtype=np.int64)
            kw[_OFFSETS_OF[attr]] = off - off[0]
            values = arr.flatten().to_numpy(zero_copy_only=False)
            dtype = getattr(like, attr)[key].dtype if key in getattr(like, attr) else values.dtype
            columns[attr][key] = values.astype(np.float32 if values.dtype == np.float16 else dtype)
        kw.update(columns)
        kw["sums"] = {
            k: table.column(k).to_numpy().astype(np.float32) for k in ("met", "met_phi", "ht")
        }
        return dataclasses.replace(like, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- words + zstd

_WORD_STREAMS = ("puppi", "muon", "egamma", "jet")


class WordsZstdCodec:
    """The Phase-2 scouting words of every event (:func:`~l1scout.tasks.scouting.encode.encode_events`), zstd.

    Args:
        level: zstd level.
        shuffle: store the words as 8 byte planes (low bytes first) before zstd
            (not the wire format; a byte shuffle as Blosc and HDF5 filters do).
    """

    family = "words_zstd"
    lossless = True

    def __init__(self, level: int = ZSTD_LEVEL, shuffle: bool = False) -> None:
        check_level(level)
        self.level, self.shuffle = level, bool(shuffle)
        self.label = f"words_zstd-l{level}" + ("-shuffle" if shuffle else "")
        self.params: dict[str, int | float | str] = {
            "zstd_level": level,
            "shuffle": int(self.shuffle),
        }

    def encode(self, events: StreamEvents) -> bytes:
        """``zstd(n, counts, words)`` of *events* (module docstring).

        Raises:
            DataFormatError: more than 255 words of one stream in an event, or a value the words cannot hold.
        """
        enc = encode_events(events)
        counts = (
            np.stack([enc.counts(s) for s in _WORD_STREAMS])
            if enc.n_events
            else np.zeros((4, 0), np.int64)
        )
        if counts.size and counts.max() > 255:
            msg = f"words codec: at most 255 words per event and stream, got {int(counts.max())}"
            raise DataFormatError(msg)
        words = np.concatenate([enc.words[s] for s in (*_WORD_STREAMS, "sums")]).astype("<u8")
        body = words.view(np.uint8).reshape(-1, 8).T.tobytes() if self.shuffle else words.tobytes()
        head = struct.pack("<I", enc.n_events) + counts.astype(np.uint8).tobytes()
        return zstd_compress(head + body, self.level)

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents:
        """The events of the words (hardware bins, metadata from *like*).

        Raises:
            DataFormatError: not such a payload, truncated, or not the events of *like*.
        """
        data = zstd_decompress(payload)
        if len(data) < 4:
            msg = f"words payload: expected an event count, got {len(data)} bytes"
            raise DataFormatError(msg)
        (n,) = struct.unpack_from("<I", data)
        check_events(n, like, "words")
        if len(data) < 4 + 4 * n:
            msg = f"words payload: truncated counts ({len(data)} bytes for {n} events)"
            raise DataFormatError(msg)
        counts = np.frombuffer(data, np.uint8, 4 * n, 4).reshape(4, n).astype(np.int64)
        total = int(counts.sum()) + n
        body = data[4 + 4 * n :]
        if len(body) != 8 * total:
            msg = f"words payload: expected {total} words, got {len(body)} bytes"
            raise DataFormatError(msg)
        raw = np.frombuffer(body, np.uint8)
        flat = raw.reshape(8, total).T.copy() if self.shuffle else raw.reshape(total, 8)
        words = flat.reshape(-1).view("<u8").astype(np.uint64)
        cuts = np.cumsum([0, *(int(c.sum()) for c in counts), n])
        parts = {s: words[cuts[i] : cuts[i + 1]] for i, s in enumerate((*_WORD_STREAMS, "sums"))}
        kw: dict[str, object] = {
            "puppi_offsets": offsets_from_counts(counts[0]),
            "puppi": _puppi_from_hardware(decode_puppi(parts["puppi"])),
            "sums": decode_sums(parts["sums"]),
        }
        for i, (stream, attr) in enumerate(OBJECT_STREAMS.items()):
            kw[f"{stream}_offsets"] = offsets_from_counts(counts[i + 1])
            kw[attr] = _DECODERS[stream](parts[stream])
        return dataclasses.replace(like, **kw)  # type: ignore[arg-type]


def _puppi_from_hardware(hw: PuppiHardware) -> dict[str, np.ndarray]:
    """StreamEvents PUPPI columns of hardware candidates (``dz`` = z0, ``d0`` = dxy)."""
    p = puppi_physical(hw, ("pt", "eta", "phi", "pdgid", "charge", "z0", "dxy", "puppi_w"))
    return {
        "pt": p["pt"].astype(np.float32),
        "eta": p["eta"].astype(np.float32),
        "phi": p["phi"].astype(np.float32),
        "pid": p["pdgid"].astype(np.int32),
        "charge": p["charge"].astype(np.int8),
        "dz": p["z0"].astype(np.float32),
        "d0": p["dxy"].astype(np.float32),
        "puppi_w": p["puppi_w"].astype(np.float32),
    }


def _hardware(events: StreamEvents) -> PuppiHardware:
    p = events.puppi
    return puppi_to_hardware(
        p["pt"], p["eta"], p["phi"], p["pid"], p["charge"], p["dz"], p["d0"], p["puppi_w"]
    )


# --------------------------------------------------------------------------- integer packing


_ORDERS = ("pt", "phi")


def _check_order(order: str) -> str:
    if order not in _ORDERS:
        msg = f"candidate order {order!r}: expected one of {', '.join(_ORDERS)}"
        raise ConfigError(msg)
    return order


def _take(hw: PuppiHardware, perm: I64) -> PuppiHardware:
    return PuppiHardware(**{f.name: getattr(hw, f.name)[perm] for f in dataclasses.fields(hw)})


class IntPackCodec:
    """Lossless packing of the hardware bins: one narrow integer column per field, zstd (module docstring).

    Args:
        delta: store pT (PUPPI and objects) as each event's first value then
            the drops (with ``order="pt"``).
        order: ``"pt"`` keeps the candidates' order (decreasing pT), exactly;
            ``"phi"`` stores each event's candidates by increasing phi, phi as
            the first value then the rises (``phi_rise``, of ``phi + 720``), and
            the decoder sorts them back by decreasing pT (ties by increasing
            phi): every event's candidates are exact as a set, only the order
            of candidates of equal hardware pT can differ. The order of a set
            carries ~log2(n!) bits that a set need not store.
        level: zstd level.

    Raises:
        ConfigError: an unknown order or a zstd level outside 1 ... 22.
    """

    family = "int_pack"
    lossless = True

    def __init__(self, delta: bool = True, level: int = ZSTD_LEVEL, order: str = "pt") -> None:
        check_level(level)
        self.delta, self.level, self.order = bool(delta), level, _check_order(order)
        self.label = (
            f"int_pack-l{level}"
            + ("-delta" if delta and order == "pt" else "")
            + ("-phiorder" if order == "phi" else "")
        )
        self.params: dict[str, int | float | str] = {
            "zstd_level": level,
            "delta": int(self.delta),
            "order": order,
        }

    def encode(self, events: StreamEvents) -> bytes:
        """``parts(particle=columns(...), object=encode_objects(...))`` of *events* (module docstring).

        Raises:
            DataFormatError: a value the hardware bins cannot hold (NaN, infinity).
        """
        hw = _hardware(events)
        off = np.asarray(events.puppi_offsets, dtype=np.int64)
        pt_phi: dict[str, np.ndarray]
        if self.order == "phi":
            hw = _take(hw, event_sort(off, hw.phi, -hw.pt.astype(np.int64)))
            pt_phi = {"pt": hw.pt, "phi_rise": rises(hw.phi.astype(np.int64) + 720, off)}
        elif self.delta:
            pt_phi = {"pt_delta": pt_drops(hw.pt, off), "phi": hw.phi}
        else:
            pt_phi = {"pt": hw.pt, "phi": hw.phi}
        charged = hw.code >= 2
        cols: dict[str, np.ndarray] = {
            "count": counts_of(off),
            **pt_phi,
            "eta": hw.eta,
            "code": hw.code,
            "z0": hw.z0[charged],
            "dxy": hw.dxy[charged],
            "quality": hw.quality[charged],
            "weight": hw.weight[~charged],
            "egid": hw.egid[~charged],
        }
        particle = pack_columns(cols, self.level)
        objects = encode_objects(events, delta=self.delta, level=self.level)
        return join_parts({"particle": particle, "object": objects})

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents:
        """The events of a payload on the hardware bins (metadata from *like*).

        Raises:
            DataFormatError: not such a payload, truncated, or not the events of *like*.
        """
        what = "int pack"
        particle, objects = split_particle_object(payload, what)
        cols = unpack_columns(particle)
        off = offsets_from_counts(column(cols, "count", like.n_events, what))
        k = int(off[-1])
        if "pt_delta" in cols:
            pt = undo_drops(column(cols, "pt_delta", k, what), off)
        else:
            pt = column(cols, "pt", k, what)
        if "phi_rise" in cols:
            phi = undo_rises(column(cols, "phi_rise", k, what), off) - 720
        else:
            phi = column(cols, "phi", k, what)
        code = column(cols, "code", k, what)
        if k and (code.min() < 0 or code.max() > 7):
            msg = f"{what} payload: particle codes outside 0 ... 7"
            raise DataFormatError(msg)
        charged = code >= 2
        n_ch, n_ne = int(charged.sum()), int((~charged).sum())

        def spread(name: str, where: np.ndarray, n: int, dtype: type[np.generic]) -> np.ndarray:
            out = np.zeros(k, dtype=dtype)
            out[where] = column(cols, name, n, what)
            return out

        hw = PuppiHardware(
            pt=pt.astype(np.uint16),
            eta=column(cols, "eta", k, what).astype(np.int16),
            phi=phi.astype(np.int16),
            code=code.astype(np.uint8),
            z0=spread("z0", charged, n_ch, np.int16),
            dxy=spread("dxy", charged, n_ch, np.int16),
            quality=spread("quality", charged, n_ch, np.uint8),
            weight=spread("weight", ~charged, n_ne, np.uint16),
            egid=spread("egid", ~charged, n_ne, np.uint8),
        )
        if "phi_rise" in cols:
            hw = _take(hw, event_sort(off, -pt, phi))
        return dataclasses.replace(
            decode_objects(objects, like), puppi_offsets=off, puppi=_puppi_from_hardware(hw)
        )
