"""The baselines on hand-made events: exact decodes of the lossless codecs, error bounds of quantization."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.baselines import Float16ParquetCodec, IntPackCodec, WordsZstdCodec
from l1scout.tasks.compress.codec import Codec
from l1scout.tasks.compress.objects import decode_objects, encode_objects
from l1scout.tasks.compress.quantized import QuantizedCodec, quantized_scan
from l1scout.tasks.scouting.encode import encode_events
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import (
    PDG_CODES,
    decode_egamma,
    decode_jets,
    decode_muons,
    decode_puppi,
    decode_sums,
    puppi_code,
    puppi_physical,
    puppi_to_hardware,
)

F = np.float32
PUPPI = ("pt", "eta", "phi", "pid", "charge", "dz", "d0", "puppi_w")


def _events() -> StreamEvents:
    """Four events: [4 candidates, 2 muons, e/gamma, jet], [nothing], [128 candidates, 12 jets], [saturating]."""
    rng = np.random.default_rng(7)
    k = 128
    pt_full = np.sort(np.round(rng.exponential(6.0, k) + 1.0, 1))[
        ::-1
    ]  # ties after 0.25 GeV binning
    codes = rng.integers(0, 8, k)
    pid_of = np.array([130, 22, -211, 211, 11, -11, 13, -13])
    charge_of = np.array([0, 0, -1, 1, -1, 1, -1, 1])
    charged = charge_of[codes] != 0
    full = {
        "pt": pt_full,
        "eta": rng.uniform(-5, 5, k),
        "phi": rng.uniform(-np.pi, np.pi, k),
        "pid": pid_of[codes],
        "charge": charge_of[codes],
        "dz": np.where(charged, rng.normal(0, 40, k), 0.0),
        "d0": np.where(charged, rng.normal(0, 0.5, k), 0.0),
        "puppi_w": np.where(
            charged, rng.integers(0, 2, k), rng.uniform(0, 1, k) * (rng.random(k) < 0.3)
        ),
    }
    first = {
        "pt": [10.1, 7.3, 2.0, 0.3],
        "eta": [-1.0, 2.4, 0.0, 4.9],
        "phi": [np.pi, -0.5, 0.01, -np.pi],
        "pid": [-211, 22, 13, 130],
        "charge": [1, 0, -1, 0],
        "dz": [1.2, 0.0, -30.0, 0.0],
        "d0": [-0.3, 0.0, 0.2, 0.0],
        "puppi_w": [1.0, 0.4, 0.0, 0.0],
    }
    saturating = {  # above every hardware range: pT 4095.75 GeV, eta 2047 pi/720, z0 -256 mm
        "pt": [5000.0],
        "eta": [9.0],
        "phi": [3.5],
        "pid": [211],
        "charge": [1],
        "dz": [-300.0],
        "d0": [90.0],
        "puppi_w": [1.0],
    }
    dtypes = {"pid": np.int32, "charge": np.int8}
    puppi = {
        f: np.concatenate([np.asarray(d[f]) for d in (first, full, saturating)]).astype(
            dtypes.get(f, F)
        )
        for f in PUPPI
    }
    jets_pt = np.sort(rng.uniform(15, 300, 12))[::-1]
    return StreamEvents(
        process="minbias",
        event_number=np.array([10, 11, 12, 13], dtype=np.int64),
        file_index=np.array([0, 0, 1, 1], dtype=np.int32),
        files=(Path("a.parquet"), Path("b.parquet")),
        puppi_offsets=np.array([0, 4, 4, 4 + k, 5 + k], dtype=np.int64),
        puppi=puppi,
        muon_offsets=np.array([0, 2, 2, 2, 3], dtype=np.int64),
        muons={
            "pt": np.array([30.2, 4.0, 400.0], F),
            "eta": np.array([0.1, -2.3, 3.0], F),
            "phi": np.array([3.1, -3.1, 0.0], F),
            "charge": np.array([-1, 1, 0], np.int8),
            "quality": np.array([12, 15, 12], np.uint8),
        },
        egamma_offsets=np.array([0, 1, 1, 1, 2], dtype=np.int64),
        egamma={
            "pt": np.array([25.0, 1000.0], F),
            "eta": np.array([1.4, -1.0], F),
            "phi": np.array([-0.2, 2.0], F),
        },
        jet_offsets=np.array([0, 1, 1, 13, 13], dtype=np.int64),
        jets={
            "pt": np.concatenate(([45.0], jets_pt)).astype(F),
            "eta": rng.uniform(-4, 4, 13).astype(F),
            "phi": rng.uniform(-np.pi, np.pi, 13).astype(F),
        },
        sums={
            "met": np.array([12.0, 0.0, 80.0, 5000.0], F),
            "met_phi": np.array([1.0, 0.0, -3.0, np.pi], F),
            "ht": np.array([45.0, 0.0, 1500.0, 3000.0], F),
        },
        cross_section_pb=7.5e10,
    )


@pytest.fixture(scope="module")
def events() -> StreamEvents:
    return _events()


def _same_metadata(a: StreamEvents, b: StreamEvents) -> None:
    assert a.process == b.process
    assert a.files == b.files
    assert a.event_number.tolist() == b.event_number.tolist()
    assert a.file_index.tolist() == b.file_index.tolist()
    assert a.cross_section_pb == b.cross_section_pb


def _objects_equal(a: StreamEvents, b: StreamEvents) -> None:
    for off, attr in (
        ("muon_offsets", "muons"),
        ("egamma_offsets", "egamma"),
        ("jet_offsets", "jets"),
    ):
        assert getattr(a, off).tolist() == getattr(b, off).tolist(), off
        assert set(getattr(a, attr)) == set(getattr(b, attr)), attr
        for k, v in getattr(a, attr).items():
            assert np.array_equal(v, getattr(b, attr)[k]), (attr, k)
            assert v.dtype == getattr(b, attr)[k].dtype, (attr, k)
    for k, v in a.sums.items():
        assert np.array_equal(v, b.sums[k]), k


def _hardware_binned(events: StreamEvents) -> dict[str, np.ndarray]:
    """The PUPPI columns after the hardware bins, through puppi_to_hardware and puppi_physical."""
    p = events.puppi
    hw = puppi_to_hardware(*(p[f] for f in PUPPI))
    phys = puppi_physical(hw)
    return {
        "pt": phys["pt"],
        "eta": phys["eta"],
        "phi": phys["phi"],
        "pid": phys["pdgid"].astype(np.int32),
        "charge": phys["charge"],
        "dz": phys["z0"],
        "d0": phys["dxy"],
        "puppi_w": phys["puppi_w"],
    }


def _words_decoded(events: StreamEvents) -> StreamEvents:
    """The events as the words decode, stream by stream (the reference of the words codec)."""
    enc = encode_events(events)
    phys = puppi_physical(decode_puppi(enc.words["puppi"]))
    puppi = {
        "pt": phys["pt"],
        "eta": phys["eta"],
        "phi": phys["phi"],
        "pid": phys["pdgid"].astype(np.int32),
        "charge": phys["charge"],
        "dz": phys["z0"],
        "d0": phys["dxy"],
        "puppi_w": phys["puppi_w"],
    }
    return dataclasses.replace(
        events,
        puppi=puppi,
        muons=decode_muons(enc.words["muon"]),
        egamma=decode_egamma(enc.words["egamma"]),
        jets=decode_jets(enc.words["jet"]),
        sums=decode_sums(enc.words["sums"]),
    )


def _puppi_equal(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(PUPPI)
    for f in PUPPI:
        assert np.array_equal(got[f], want[f]), f
        assert got[f].dtype == np.asarray(want[f]).dtype or f in ("pid", "charge"), f


def _as_sets(off: np.ndarray, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Each event's candidates in a canonical order (rows of every field), for set comparisons."""
    event = np.repeat(np.arange(len(off) - 1), np.diff(off))
    rows = np.stack([event, *(np.asarray(cols[f], np.float64) for f in PUPPI)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def test_every_codec_follows_the_protocol() -> None:
    for codec in (Float16ParquetCodec(), WordsZstdCodec(), IntPackCodec(), QuantizedCodec()):
        assert isinstance(codec, Codec)
        assert codec.label
        assert codec.family in codec.label


def test_float16_parquet_decodes_to_the_float16_cast_values(events: StreamEvents) -> None:
    codec = Float16ParquetCodec()
    back = codec.decode(codec.encode(events), events)
    _same_metadata(back, events)
    assert back.puppi_offsets.tolist() == events.puppi_offsets.tolist()
    for f in PUPPI:
        v = events.puppi[f]
        want = v.astype(np.float16).astype(F) if f in ("pt", "eta", "phi", "puppi_w") else v
        assert np.array_equal(back.puppi[f], want), f
        assert back.puppi[f].dtype == v.dtype, f
    for attr in ("muons", "egamma", "jets"):
        for k in ("pt", "eta", "phi"):
            assert np.array_equal(
                getattr(back, attr)[k], getattr(events, attr)[k].astype(np.float16).astype(F)
            )
    assert back.muons["charge"].tolist() == [-1, 1, 0]
    assert back.muons["quality"].tolist() == [
        12,
        15,
        12,
    ]
    assert back.sums["ht"].tolist() == [45.0, 0.0, 1500.0, 3000.0]
    assert np.array_equal(back.sums["met_phi"], events.sums["met_phi"].astype(np.float16).astype(F))
    assert Float16ParquetCodec(19).label == "float16_parquet-zstd19"


def test_words_codec_decodes_as_the_words_do(events: StreamEvents) -> None:
    want = _words_decoded(events)
    for codec in (WordsZstdCodec(), WordsZstdCodec(level=3, shuffle=True)):
        back = codec.decode(codec.encode(events), events)
        _same_metadata(back, events)
        assert back.puppi_offsets.tolist() == events.puppi_offsets.tolist()
        _puppi_equal(back.puppi, want.puppi)
        _objects_equal(back, want)


def test_int_pack_decodes_exactly_to_the_hardware_bins(events: StreamEvents) -> None:
    hw = _hardware_binned(events)
    want_objects = _words_decoded(events)
    # saturation reached the hardware limits: 4095.75 GeV, eta 2047 pi/720, z0 -256 mm
    assert hw["pt"][-1] == 4095.75
    assert hw["dz"][-1] == -256.0
    for codec in (IntPackCodec(), IntPackCodec(delta=False, level=1)):
        back = codec.decode(codec.encode(events), events)
        _same_metadata(back, events)
        assert back.puppi_offsets.tolist() == events.puppi_offsets.tolist()
        _puppi_equal(back.puppi, hw)
        _objects_equal(back, want_objects)


def test_int_pack_in_phi_order_is_exact_as_a_set_and_sorted_by_pt(events: StreamEvents) -> None:
    hw = _hardware_binned(events)
    codec = IntPackCodec(order="phi")
    payload = codec.encode(events)
    back = codec.decode(payload, events)
    assert back.puppi_offsets.tolist() == events.puppi_offsets.tolist()
    assert np.array_equal(
        _as_sets(back.puppi_offsets, back.puppi), _as_sets(events.puppi_offsets, hw)
    )
    off = back.puppi_offsets
    for i in range(events.n_events):
        assert np.all(np.diff(back.puppi["pt"][off[i] : off[i + 1]]) <= 0)
    _objects_equal(back, _words_decoded(events))


def test_objects_alone_round_trip_with_empty_puppi(events: StreamEvents) -> None:
    for delta in (True, False):
        back = decode_objects(encode_objects(events, delta=delta), events)
        _same_metadata(back, events)
        _objects_equal(back, _words_decoded(events))
        assert back.puppi_offsets.tolist() == [0] * 5
        assert all(len(v) == 0 for v in back.puppi.values())


def test_quantized_error_is_at_most_half_a_step_per_field(events: StreamEvents) -> None:
    inside = np.ones(len(events.puppi["pt"]), bool)
    inside[-1] = False  # the saturating candidate lies outside every range
    for bits in (3, 6, 11):
        codec = QuantizedCodec(bits, bits, bits, bits, bits, order="pt")
        back = codec.decode(codec.encode(events), events)
        _same_metadata(back, events)
        p, q = events.puppi, back.puppi
        assert back.puppi_offsets.tolist() == events.puppi_offsets.tolist()
        tol = 1 + 1e-5
        d_lnpt = np.abs(np.log(q["pt"].astype(np.float64)) - np.log(p["pt"].astype(np.float64)))
        assert d_lnpt[inside].max() <= codec.step("pt") / 2 * tol + 1e-6
        for f in ("eta", "phi"):
            assert np.abs(q[f] - p[f])[inside].max() <= codec.step(f) / 2 * tol + 1e-6, f
        charged = p["charge"] != 0
        dz_err = np.abs(q["dz"] - p["dz"])[inside & charged]
        assert dz_err.max() <= codec.step("z0") / 2 * tol + 1e-4
        w_err = np.abs(q["puppi_w"] - p["puppi_w"])[~charged]
        assert w_err.max() <= codec.step("puppi_w") / 2 * tol + 1e-6
        # the 3-bit particle code is exact: PID and charge as the code holds them
        code = puppi_code(p["pid"], p["charge"])
        assert np.array_equal(q["pid"], np.asarray(PDG_CODES)[code])
        assert np.array_equal(q["charge"], p["charge"])
        assert q["pid"][0] == 211  # the hand-made PID -211 with charge +1 reads as a pi+
        assert np.array_equal(q["puppi_w"][charged], (p["puppi_w"][charged] >= 0.5).astype(F))
        assert np.all(q["dz"][~charged] == 0)
        assert np.all(q["d0"] == 0)
        # out of range: clipped to the last bins
        top_lnpt = codec.ranges["pt"][1] - codec.step("pt") / 2
        assert np.isclose(np.log(q["pt"][-1]), top_lnpt, rtol=1e-6)
        assert np.isclose(q["eta"][-1], 5.0 - codec.step("eta") / 2, rtol=1e-6)
        _objects_equal(back, _words_decoded(events))


def test_quantized_phi_order_is_the_same_set_sorted_by_pt(events: StreamEvents) -> None:
    by_pt = QuantizedCodec(6, 6, 6, 6, 6, order="pt")
    by_phi = QuantizedCodec(6, 6, 6, 6, 6)
    a = by_pt.decode(by_pt.encode(events), events)
    payload = by_phi.encode(events)
    b = by_phi.decode(payload, events)
    assert np.array_equal(_as_sets(a.puppi_offsets, a.puppi), _as_sets(b.puppi_offsets, b.puppi))
    off = b.puppi_offsets
    for i in range(events.n_events):
        assert np.all(np.diff(b.puppi["pt"][off[i] : off[i + 1]]) <= 0)


def test_fewer_bits_give_fewer_bytes(events: StreamEvents) -> None:
    sizes = [len(c.encode(events)) for c in quantized_scan([3, 6, 9, 12])]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[-1]


def test_quantized_scan_labels_and_bad_settings() -> None:
    scan = quantized_scan([4, {"pt": 8, "puppi_w": 2}], eta_max=4.0)
    assert [c.label for c in scan] == [
        "quantized-pt4-eta4-phi4-z4-w4",
        "quantized-pt8-eta10-phi10-z8-w2",
    ]
    assert scan[0].params["eta_max"] == 4.0
    with pytest.raises(ConfigError, match="expected some of"):
        quantized_scan([{"mass": 3}])
    with pytest.raises(ConfigError, match="pt bits"):
        QuantizedCodec(pt_bits=0)
    with pytest.raises(ConfigError, match="order"):
        IntPackCodec(order="eta")


@pytest.mark.parametrize(
    "codec",
    [
        Float16ParquetCodec(),
        WordsZstdCodec(),
        IntPackCodec(),
        IntPackCodec(order="phi"),
        QuantizedCodec(),
    ],
    ids=lambda c: c.label,
)
def test_truncated_or_foreign_payload_is_a_one_line_error(
    codec: Codec, events: StreamEvents
) -> None:
    payload = codec.encode(events)
    foreign = (
        QuantizedCodec(4, 4, 4, 4, 4) if codec.family != "quantized" else IntPackCodec()
    ).encode(events)
    for bad in (payload[: len(payload) // 2], payload[:3], foreign, b""):
        with pytest.raises(DataFormatError) as exc:
            codec.decode(bad, events)
        assert "\n" not in str(exc.value)


def test_a_payload_of_other_events_is_refused(events: StreamEvents) -> None:
    fewer = events.subset(np.array([True, True, False, True]))
    for codec in (Float16ParquetCodec(), WordsZstdCodec(), IntPackCodec(), QuantizedCodec()):
        with pytest.raises(DataFormatError, match=r"events|values"):
            codec.decode(codec.encode(fewer), events)


def test_another_quantized_setting_is_refused(events: StreamEvents) -> None:
    with pytest.raises(DataFormatError, match="bit widths"):
        QuantizedCodec(8).decode(QuantizedCodec(7).encode(events), events)


def test_no_events_round_trip(events: StreamEvents) -> None:
    none = events.subset(np.zeros(events.n_events, bool))
    for codec in (Float16ParquetCodec(), WordsZstdCodec(), IntPackCodec(), QuantizedCodec()):
        back = codec.decode(codec.encode(none), none)
        assert back.n_events == 0
        assert back.puppi_offsets.tolist() == [0]
