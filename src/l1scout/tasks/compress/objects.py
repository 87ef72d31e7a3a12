"""The trigger objects of the scouting events as hardware integers: the object part of the packed codecs.

:func:`encode_objects` stores the muons, e/gamma candidates, jets and energy
sums of every event exactly as the Phase-2 scouting object words hold them
(:data:`~l1scout.tasks.scouting.words.OBJECT_FIELDS`: pT 0.5 GeV, eta
0.010875 (muons) or 0.0435, phi 2 pi/576 (muons) or 2 pi/144, MET and HT
0.5 GeV), so decoding gives what
:func:`~l1scout.tasks.scouting.words.decode_muons` and its siblings give for
the words. :class:`~l1scout.tasks.compress.baselines.IntPackCodec`,
:class:`~l1scout.tasks.compress.quantized.QuantizedCodec` and the learned
codecs store the objects this way and report their bytes apart.

Layout: :func:`~l1scout.tasks.compress.entropy.pack_columns` of
``muon_count, egamma_count, jet_count`` (per event), then for each stream
``muon``, ``egamma``, ``jet`` the columns ``<stream>_pt`` (or
``<stream>_pt_delta``: each event's first pT, then the drops from one object
to the next), ``<stream>_eta`` (signed), ``<stream>_phi`` and
``<stream>_rest`` (the word's bits above phi: the muon's charge sign, charge
valid and quality; 0 for the others), then ``sums_met``, ``sums_met_phi``,
``sums_ht``, ``sums_rest`` (one per event).

Example:
    >>> from l1scout.tasks.scouting.encode import _example_events
    >>> events = _example_events()
    >>> back = decode_objects(encode_objects(events), events)
    >>> back.jets["pt"].tolist(), back.sums["met"].tolist(), back.puppi_offsets.tolist()
    ([40.0], [0.0, 5.0], [0, 0, 0])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import I64
from l1scout.tasks.compress._columns import (
    check_level,
    column,
    counts_of,
    empty_puppi,
    pt_drops,
    undo_drops,
)
from l1scout.tasks.compress.entropy import ZSTD_LEVEL, pack_columns, unpack_columns
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import (
    OBJECT_FIELDS,
    decode_egamma,
    decode_jets,
    decode_muons,
    decode_sums,
    encode_egamma,
    encode_jets,
    encode_muons,
    encode_sums,
)

__all__ = ["OBJECT_STREAMS", "decode_objects", "encode_objects"]

U64 = npt.NDArray[np.uint64]
#: The object streams: word stream -> the StreamEvents attribute (offsets ``<stream>_offsets``).
OBJECT_STREAMS: Mapping[str, str] = {"muon": "muons", "egamma": "egamma", "jet": "jets"}
_DECODERS: Mapping[str, Callable[[npt.ArrayLike], dict[str, np.ndarray]]] = {
    "muon": decode_muons,
    "egamma": decode_egamma,
    "jet": decode_jets,
}


def _object_words(events: StreamEvents) -> dict[str, U64]:
    m, e, j, s = events.muons, events.egamma, events.jets, events.sums
    return {
        "muon": encode_muons(m["pt"], m["eta"], m["phi"], m["charge"], m["quality"]),
        "egamma": encode_egamma(e["pt"], e["eta"], e["phi"]),
        "jet": encode_jets(j["pt"], j["eta"], j["phi"]),
        "sums": encode_sums(s["met"], s["met_phi"], s["ht"]),
    }


def _fields_of(stream: str, words: U64) -> dict[str, I64]:
    """The hardware integers of object words: each scaled field (signed ones sign-extended), the bits above."""
    out: dict[str, I64] = {}
    end = 0
    for key, (shift, bits, signed, _) in OBJECT_FIELDS[stream].items():
        v = ((words >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)
        out[key] = v - ((v >> (bits - 1)) << bits) if signed else v
        end = max(end, shift + bits)
    out["rest"] = (words >> np.uint64(end)).astype(np.int64)
    return out


def _words_of(stream: str, cols: Mapping[str, I64]) -> U64:
    """The words of :func:`_fields_of`'s integers."""
    out = np.zeros(len(cols["rest"]), dtype=np.uint64)
    end = 0
    for key, (shift, bits, _, _) in OBJECT_FIELDS[stream].items():
        v = np.asarray(cols[key], dtype=np.int64).astype(np.uint64) & np.uint64((1 << bits) - 1)
        out |= v << np.uint64(shift)
        end = max(end, shift + bits)
    rest = np.asarray(cols["rest"], dtype=np.int64).astype(np.uint64)
    out |= rest << np.uint64(end)
    return out


def encode_objects(events: StreamEvents, *, delta: bool = True, level: int = ZSTD_LEVEL) -> bytes:
    """The trigger objects of *events* as hardware integers, packed (module docstring).

    Args:
        events: the events.
        delta: store each event's object pT as the first value then the drops.
        level: zstd level.

    Raises:
        ConfigError: *level* outside 1 ... 22.
        DataFormatError: a value the object words cannot hold (NaN, a muon charge outside -1 ... 1).
    """
    check_level(level)
    words = _object_words(events)
    cols: dict[str, npt.ArrayLike] = {
        f"{s}_count": counts_of(getattr(events, f"{s}_offsets")) for s in OBJECT_STREAMS
    }
    for stream in (*OBJECT_STREAMS, "sums"):
        for key, v in _fields_of(stream, words[stream]).items():
            if delta and key == "pt" and stream != "sums":
                off = np.asarray(getattr(events, f"{stream}_offsets"), dtype=np.int64)
                cols[f"{stream}_pt_delta"] = pt_drops(v, off)
            else:
                cols[f"{stream}_{key}"] = v
    return pack_columns(cols, level)


def decode_objects(payload: bytes, like: StreamEvents) -> StreamEvents:
    """The events of an :func:`encode_objects` payload: objects on their hardware bins, no PUPPI candidates.

    The metadata (process, event numbers, files, cross section) is *like*'s.

    Raises:
        DataFormatError: not such a payload, truncated, or not the events of *like*.
    """
    what = "object"
    cols = unpack_columns(payload)
    n = like.n_events
    kw: dict[str, object] = {}
    for stream, attr in OBJECT_STREAMS.items():
        off = offsets_from_counts(column(cols, f"{stream}_count", n, what))
        k = int(off[-1])
        fields = {key: column(cols, f"{stream}_{key}", k, what) for key in ("eta", "phi", "rest")}
        if f"{stream}_pt_delta" in cols:
            fields["pt"] = undo_drops(column(cols, f"{stream}_pt_delta", k, what), off)
        else:
            fields["pt"] = column(cols, f"{stream}_pt", k, what)
        kw[f"{stream}_offsets"] = off
        kw[attr] = _DECODERS[stream](_words_of(stream, fields))
    sums = {key: column(cols, f"sums_{key}", n, what) for key in ("met", "met_phi", "ht", "rest")}
    kw["sums"] = decode_sums(_words_of("sums", sums))
    off, puppi = empty_puppi(n)
    return dataclasses.replace(like, puppi_offsets=off, puppi=puppi, **kw)  # type: ignore[arg-type]
