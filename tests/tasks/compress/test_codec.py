"""measure(): sizes from the file written, the read-back decode, part sizes, embedding codecs, refusals."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.baselines import IntPackCodec
from l1scout.tasks.compress.codec import Codec, EmbeddingCodec, measure
from l1scout.tasks.compress.entropy import decode_latents, encode_latents, join_parts
from l1scout.tasks.scouting.encode import _example_events
from l1scout.tasks.scouting.events import StreamEvents


class _Recording:
    """A codec that remembers what it was asked to decode (the bytes measure() read back)."""

    family, lossless = "raw", True

    def __init__(self, label: str = "raw-1", payload: bytes = b"0123456789") -> None:
        self.label = label
        self.params: Mapping[str, int | float | str] = {"n": 1}
        self.payload = payload
        self.seen: bytes | None = None

    def encode(self, events: StreamEvents) -> bytes:
        return self.payload

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents | None:
        self.seen = payload
        return like


class _Embedding(_Recording):
    """An embedding-only codec: 2 numbers per event at 8 bits."""

    family, lossless = "vicreg", False

    def embed(self, events: StreamEvents) -> np.ndarray:
        return np.stack([events.event_number / 10.0, -events.event_number / 10.0], axis=1)

    def encode(self, events: StreamEvents) -> bytes:
        return encode_latents(self.embed(events), 8, -1.0, 1.0)

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents | None:
        return None

    def decode_embedding(self, payload: bytes) -> np.ndarray:
        return decode_latents(payload)


def test_measure_sizes_the_file_actually_written(tmp_path: Path) -> None:
    events = _example_events()
    codec = _Recording(payload=bytes(range(200)))
    m = measure(codec, events, tmp_path / "out")
    assert m.file == tmp_path / "out" / "raw-1.bin"
    assert m.file.read_bytes() == bytes(range(200))
    assert m.n_bytes == m.file.stat().st_size == 200
    assert m.bytes_per_event == 100.0
    assert m.n_events == 2
    assert codec.seen == bytes(range(200))  # decoded from the file read back
    assert m.decoded is events
    assert m.embedding is None
    assert m.params == {"n": 1}
    assert m.seconds_encode >= 0
    assert m.seconds_decode >= 0
    assert not list((tmp_path / "out").glob(".*tmp*"))  # no temporary file left


def test_measure_overwrites_a_previous_file(tmp_path: Path) -> None:
    events = _example_events()
    measure(_Recording(payload=b"x" * 1000), events, tmp_path)
    m = measure(_Recording(payload=b"y" * 10), events, tmp_path)
    assert m.n_bytes == 10


def test_measure_reports_the_parts_of_a_payload(tmp_path: Path) -> None:
    events = _example_events()
    payload = join_parts({"particle": b"p" * 30, "object": b"o" * 8})
    m = measure(_Recording(payload=payload), events, tmp_path)
    assert m.params["particle_bytes_per_event"] == 15.0
    assert m.params["object_bytes_per_event"] == 4.0
    assert m.n_bytes == len(payload) > 38
    real = measure(IntPackCodec(), events, tmp_path)
    assert real.n_bytes == len(IntPackCodec().encode(events))
    assert float(real.params["object_bytes_per_event"]) > 0
    assert real.decoded is not None
    assert real.decoded.puppi["pt"].tolist() == [20.0, 3.0]


def test_measure_reads_back_the_embedding_of_an_embedding_codec(tmp_path: Path) -> None:
    events = _example_events()  # event numbers 7 and 8
    codec = _Embedding("vicreg-d2-b8")
    assert isinstance(codec, EmbeddingCodec)
    m = measure(codec, events, tmp_path)
    assert m.decoded is None
    assert m.embedding is not None
    assert m.embedding.shape == (2, 2)
    assert np.allclose(m.embedding, codec.embed(events), atol=1 / 256)


def test_measure_refuses_bad_labels_and_wrong_event_counts(tmp_path: Path) -> None:
    events = _example_events()
    for label in ("a/b", "", "../x", "with space"):
        with pytest.raises(ConfigError, match="label"):
            measure(_Recording(label=label), events, tmp_path)

    class _Short(_Recording):
        def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents | None:
            return like.subset(np.array([True, False]))

    with pytest.raises(DataFormatError, match="decoded 1 events, expected 2"):
        measure(_Short(), events, tmp_path)


def test_the_protocols_check_their_members() -> None:
    assert isinstance(_Recording(), Codec)
    assert not isinstance(_Recording(), EmbeddingCodec)
    assert isinstance(_Embedding(), EmbeddingCodec)
    assert not isinstance(object(), Codec)
