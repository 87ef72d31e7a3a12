"""Each event's stream words, encoded once: per stream, per event offsets into one flat ``uint64`` array.

An orbit reuses zero-bias events (:mod:`l1scout.tasks.scouting.orbits`), so
the words of every event are made once, here, and orbits gather them
(:func:`~l1scout.tasks.scouting.orbits.build_orbit`). The words are those of
:mod:`l1scout.tasks.scouting.words`: the PUPPI candidates through
:func:`~l1scout.tasks.scouting.words.puppi_to_hardware` and
:func:`~l1scout.tasks.scouting.words.encode_puppi`, the muons, e/gamma objects
and jets one word each, the sums one word per event (always present: MET and
HT may be 0). The events come as :class:`~l1scout.tasks.scouting.samples.StreamEvents`,
already cut to what one crossing of the stream carries.

Example:
    >>> from l1scout.tasks.scouting.words import decode_sums
    >>> enc = encode_events(_example_events())
    >>> enc.n_events, enc.counts("puppi").tolist(), enc.counts("sums").tolist()
    (2, [2, 0], [1, 1])
    >>> float(decode_sums(enc.event_words("sums", 1))["ht"][0])
    40.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import I64
from l1scout.errors import ConfigError
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import (
    STREAMS,
    encode_egamma,
    encode_jets,
    encode_muons,
    encode_puppi,
    encode_sums,
    puppi_to_hardware,
)

__all__ = ["EncodedEvents", "encode_events"]

U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True, eq=False)
class EncodedEvents:
    """One sample's events as stream words: per stream int64 offsets (n + 1) and flat uint64 words.

    Attributes:
        process: the sample's catalog process.
        event_number: ``Event_Number`` of each event (int64, n).
        cross_section_pb: the sample's cross section (pb, branching fraction included).
        offsets: stream -> offsets of each event's words (read-only mapping).
        words: stream -> the words of all events, event after event.
    """

    process: str
    event_number: I64
    cross_section_pb: float
    offsets: Mapping[str, I64]
    words: Mapping[str, U64]

    @property
    def n_events(self) -> int:
        """Events of the sample."""
        return len(self.event_number)

    def counts(self, stream: str) -> I64:
        """Words of each event in *stream*.

        Raises:
            ConfigError: an unknown stream.
        """
        return np.diff(self._offsets(stream))

    def event_words(self, stream: str, event: int) -> U64:
        """The words of one event in *stream*."""
        off = self._offsets(stream)
        return self.words[stream][off[event] : off[event + 1]]

    def _offsets(self, stream: str) -> I64:
        if stream not in self.offsets:
            msg = f"stream {stream!r}: expected one of {', '.join(STREAMS)}"
            raise ConfigError(msg)
        return self.offsets[stream]


def encode_events(events: StreamEvents) -> EncodedEvents:
    """The stream words of every event of *events* (each event once).

    Raises:
        DataFormatError: a value the words cannot hold (NaN, a muon charge
            outside -1 ... 1; out-of-range physical values saturate instead).
    """
    p = events.puppi
    hw = puppi_to_hardware(
        p["pt"], p["eta"], p["phi"], p["pid"], p["charge"], p["dz"], p["d0"], p["puppi_w"]
    )
    m, e, j, s = events.muons, events.egamma, events.jets, events.sums
    words: dict[str, U64] = {
        "puppi": encode_puppi(hw),
        "muon": encode_muons(m["pt"], m["eta"], m["phi"], m["charge"], m["quality"]),
        "egamma": encode_egamma(e["pt"], e["eta"], e["phi"]),
        "jet": encode_jets(j["pt"], j["eta"], j["phi"]),
        "sums": encode_sums(s["met"], s["met_phi"], s["ht"]),
    }
    offsets = {
        "puppi": events.puppi_offsets,
        "muon": events.muon_offsets,
        "egamma": events.egamma_offsets,
        "jet": events.jet_offsets,
        "sums": offsets_from_counts(np.ones(events.n_events, dtype=np.int64)),
    }
    return EncodedEvents(
        process=events.process,
        event_number=events.event_number,
        cross_section_pb=events.cross_section_pb,
        offsets=MappingProxyType({k: np.asarray(offsets[k], dtype=np.int64) for k in STREAMS}),
        words=MappingProxyType(
            {k: np.asarray(words[k], dtype=np.uint64).reshape(-1) for k in STREAMS}
        ),
    )


def _example_events() -> StreamEvents:
    """Two hand-made events (the module's example): two PUPPI candidates in the first, a jet in the second."""
    f32, none = np.float32, np.zeros(0, dtype=np.float32)
    puppi: dict[str, np.ndarray] = {
        "pt": np.array([20.0, 3.0], f32),
        "eta": np.array([0.5, -1.0], f32),
        "phi": np.array([1.0, -2.0], f32),
        "pid": np.array([211, 22], np.int32),
        "charge": np.array([1, 0], np.int8),
        "dz": np.array([0.5, 0.0], f32),
        "d0": np.array([0.1, 0.0], f32),
        "puppi_w": np.array([1.0, 0.75], f32),
    }
    return StreamEvents(
        process="minbias",
        event_number=np.array([7, 8], dtype=np.int64),
        file_index=np.zeros(2, dtype=np.int32),
        files=(Path("example.parquet"),),
        puppi_offsets=np.array([0, 2, 2], dtype=np.int64),
        puppi=puppi,
        muon_offsets=np.zeros(3, dtype=np.int64),
        muons={
            "pt": none,
            "eta": none,
            "phi": none,
            "charge": none.astype(np.int8),
            "quality": none.astype(np.uint8),
        },
        egamma_offsets=np.zeros(3, dtype=np.int64),
        egamma={"pt": none, "eta": none, "phi": none},
        jet_offsets=np.array([0, 0, 1], dtype=np.int64),
        jets={
            "pt": np.array([40.0], f32),
            "eta": np.array([0.1], f32),
            "phi": np.array([0.2], f32),
        },
        sums={
            "met": np.array([0.0, 5.0], f32),
            "met_phi": np.zeros(2, f32),
            "ht": np.array([0.0, 40.0], f32),
        },
        cross_section_pb=1.0,
    )
