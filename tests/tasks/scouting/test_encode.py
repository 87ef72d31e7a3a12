"""Each event's words once per stream: hand-made events with known hardware values, empty events, subsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.encode import encode_events
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import (
    STREAMS,
    decode_egamma,
    decode_jets,
    decode_muons,
    decode_puppi,
    decode_sums,
)

F = np.float32


def _events() -> StreamEvents:
    """Three events: [two candidates, a muon, a jet], [nothing], [one saturated photon, an e/gamma]."""
    return StreamEvents(
        process="minbias",
        event_number=np.array([10, 11, 12], dtype=np.int64),
        file_index=np.array([0, 0, 1], dtype=np.int32),
        files=(Path("a.parquet"), Path("b.parquet")),
        puppi_offsets=np.array([0, 2, 2, 3], dtype=np.int64),
        puppi={
            # 10.1 GeV -> 40 x 0.25; eta -1.0 -> round(-1.0 x 720 / pi) = -229; phi +pi wraps to -720
            "pt": np.array([10.1, 2.0, 5000.0], F),
            "eta": np.array([-1.0, 0.0, 9.0], F),
            "phi": np.array([np.pi, 0.01, -1.0], F),
            "pid": np.array([-211, 13, 22], np.int32),
            "charge": np.array([1, -1, 0], np.int8),
            "dz": np.array([1.2, -30.0, 0.0], F),
            "d0": np.array([-0.3, 0.0, 0.0], F),
            "puppi_w": np.array([1.0, 0.2, 0.5], F),
        },
        muon_offsets=np.array([0, 1, 1, 1], dtype=np.int64),
        muons={
            "pt": np.array([20.0], F),
            "eta": np.array([0.5], F),
            "phi": np.array([-1.0], F),
            "charge": np.array([-1], np.int8),
            "quality": np.array([12], np.uint8),
        },
        egamma_offsets=np.array([0, 0, 0, 1], dtype=np.int64),
        egamma={"pt": np.array([15.0], F), "eta": np.array([-2.0], F), "phi": np.array([3.0], F)},
        jet_offsets=np.array([0, 1, 1, 1], dtype=np.int64),
        jets={"pt": np.array([45.0], F), "eta": np.array([1.0], F), "phi": np.array([0.5], F)},
        sums={
            "met": np.array([12.0, 0.0, 3.5], F),
            "met_phi": np.array([1.0, 0.0, -2.0], F),
            "ht": np.array([45.0, 0.0, 0.0], F),
        },
        cross_section_pb=7.0,
    )


def test_every_stream_holds_each_events_words_in_order() -> None:
    ev = _events()
    enc = encode_events(ev)
    assert (enc.process, enc.n_events, enc.cross_section_pb) == ("minbias", 3, 7.0)
    assert set(enc.offsets) == set(enc.words) == set(STREAMS)
    assert {s: enc.counts(s).tolist() for s in STREAMS} == {
        "puppi": [2, 0, 1],
        "muon": [1, 0, 0],
        "egamma": [0, 0, 1],
        "jet": [1, 0, 0],
        "sums": [1, 1, 1],
    }
    assert all(enc.words[s].dtype == np.uint64 for s in STREAMS)
    hw = decode_puppi(enc.words["puppi"])
    # by hand (module docstring of words): the pion, the muon, the saturated photon
    assert hw.pt.tolist() == [40, 8, 16383]
    assert hw.eta.tolist() == [-229, 0, 2047]
    assert hw.phi.tolist() == [-720, 2, -229]
    assert hw.code.tolist() == [3, 6, 1]  # pi+ (charge +1 whatever the PID's sign), mu-, photon
    assert hw.z0.tolist() == [2, -60, 0]
    assert hw.dxy.tolist() == [-1, 0, 0]
    assert hw.quality.tolist() == [1, 0, 0]  # PV-associated: weight >= 0.5 for charged
    assert hw.weight.tolist() == [0, 0, 128]
    assert len(enc.event_words("puppi", 1)) == 0
    mu = decode_muons(enc.event_words("muon", 0))
    assert (float(mu["pt"][0]), int(mu["charge"][0]), int(mu["quality"][0])) == (20.0, -1, 12)
    assert float(decode_jets(enc.event_words("jet", 0))["pt"][0]) == 45.0
    assert float(decode_egamma(enc.event_words("egamma", 2))["eta"][0]) == pytest.approx(
        -2.0, abs=0.022
    )
    sums = decode_sums(enc.words["sums"])
    assert sums["met"].tolist() == [12.0, 0.0, 3.5]
    assert sums["ht"].tolist() == [45.0, 0.0, 0.0]


def test_a_subset_encodes_as_the_subset_of_the_encoding() -> None:
    ev = _events()
    keep = np.array([True, False, True])
    sub = ev.subset(keep)
    assert sub.event_number.tolist() == [10, 12]
    assert sub.file_index.tolist() == [0, 1]
    whole, part = encode_events(ev), encode_events(sub)
    for stream in STREAMS:
        for new, old in enumerate(np.flatnonzero(keep)):
            assert np.array_equal(
                part.event_words(stream, new), whole.event_words(stream, int(old))
            )
    with pytest.raises(DataFormatError, match="expected 3 booleans"):
        ev.subset(np.array([0, 1, 2]))


def test_unknown_stream_and_unencodable_values_are_refused() -> None:
    enc = encode_events(_events())
    with pytest.raises(ConfigError, match="stream 'taus': expected one of puppi, muon"):
        enc.counts("taus")
    ev = _events()
    bad = StreamEvents(**{**ev.__dict__, "muons": {**ev.muons, "charge": np.array([3], np.int8)}})
    with pytest.raises(DataFormatError, match="muon charge"):
        encode_events(bad)
