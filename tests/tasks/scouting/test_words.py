"""The scouting words: hand-built words from the bit tables, limits, saturation, wrapping, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1scout.errors import DataFormatError
from l1scout.tasks.scouting.words import (
    FILLED_BX,
    MAX_ORBIT,
    MAX_RUN,
    ORBIT_BX,
    ORBIT_RATE_KHZ,
    PDG_CODES,
    PuppiHardware,
    decode_egamma,
    decode_headers,
    decode_jets,
    decode_muons,
    decode_puppi,
    decode_sums,
    encode_egamma,
    encode_headers,
    encode_jets,
    encode_muons,
    encode_puppi,
    encode_sums,
    pack_stream,
    puppi_code,
    puppi_physical,
    puppi_to_hardware,
)

LSB = math.pi / 720


def _tc(v: int, bits: int) -> int:
    """Two's complement of *v* in *bits* bits, by hand."""
    return v + (1 << bits) if v < 0 else v


def _hw(**kw: list[int]) -> PuppiHardware:
    n = len(next(iter(kw.values())))
    types = {
        "pt": np.uint16,
        "eta": np.int16,
        "phi": np.int16,
        "code": np.uint8,
        "z0": np.int16,
        "dxy": np.int16,
        "quality": np.uint8,
        "weight": np.uint16,
        "egid": np.uint8,
    }
    return PuppiHardware(**{k: np.array(kw.get(k, [0] * n), dtype=t) for k, t in types.items()})


def test_constants() -> None:
    assert ORBIT_BX == 3564
    assert FILLED_BX == 2760
    assert pytest.approx(11.2456, abs=1e-3) == ORBIT_RATE_KHZ
    assert PDG_CODES == (130, 22, -211, 211, 11, -11, 13, -13)


def test_header_from_the_bit_table() -> None:
    by_hand = 4095 | 3563 << 12 | MAX_ORBIT << 24 | MAX_RUN << 54 | 1 << 61 | 1 << 63
    assert int(encode_headers(4095, 3563, MAX_ORBIT, MAX_RUN, True)[0]) == by_hand
    small = 7 | 12 << 12 | 3 << 24 | 2 << 54 | 1 << 63
    w = encode_headers([7, 4095], [12, 3563], [3, MAX_ORBIT], [2, MAX_RUN], [False, True])
    assert w.tolist() == [small, by_hand]
    h = decode_headers(w)
    assert h.count.tolist() == [7, 4095]
    assert h.bx.tolist() == [12, 3563]
    assert h.orbit.tolist() == [3, MAX_ORBIT]
    assert h.run.tolist() == [2, MAX_RUN]
    assert h.bad.tolist() == [False, True]
    assert h.valid_marker.all()
    # a payload word (bit 63 clear) or bits 62-63 = 0b11 are not headers
    assert decode_headers(np.array([5, 3 << 62], dtype=np.uint64)).valid_marker.tolist() == [
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", 4096), ("bx", 4096), ("orbit", MAX_ORBIT + 1), ("run", 128), ("count", -1)],
)
def test_header_fields_out_of_range_refused(field: str, value: int) -> None:
    args = {"count": 0, "bx": 0, "orbit": 1, "run": 1} | {field: value}
    with pytest.raises(DataFormatError, match=f"header {field}"):
        encode_headers(**args)


def test_charged_puppi_word_from_the_bit_table() -> None:
    hw = _hw(pt=[16383], eta=[-2048], phi=[-720], code=[7], z0=[-512], dxy=[127], quality=[7])
    by_hand = (
        16383
        | _tc(-2048, 12) << 14
        | _tc(-720, 11) << 26
        | 7 << 37
        | _tc(-512, 10) << 40
        | 127 << 50
        | 7 << 58
    )
    assert int(encode_puppi(hw)[0]) == by_hand
    assert decode_puppi(np.array([by_hand], dtype=np.uint64)) == hw
    assert by_hand >> 61 == 0


def test_neutral_puppi_word_from_the_bit_table() -> None:
    hw = _hw(pt=[1], eta=[2047], phi=[719], code=[1], weight=[1023], egid=[63])
    by_hand = 1 | 2047 << 14 | 719 << 26 | 1 << 37 | 1023 << 40 | 63 << 50
    assert int(encode_puppi(hw)[0]) == by_hand
    assert decode_puppi(np.array([by_hand], dtype=np.uint64)) == hw
    # the neutral reading ignores the charged bits 58-60 and vice versa
    assert int(decode_puppi(np.array([by_hand | 7 << 58], dtype=np.uint64)).quality[0]) == 0


def test_puppi_round_trip_at_every_limit() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    code = rng.integers(0, 8, n)
    charged = code >= 2
    hw = _hw(
        pt=rng.choice([0, 1, 16382, 16383], n).tolist(),
        eta=rng.choice([-2048, -1, 0, 2047], n).tolist(),
        phi=rng.choice([-720, -1, 0, 719], n).tolist(),
        code=code.tolist(),
        z0=np.where(charged, rng.choice([-512, -1, 0, 511], n), 0).tolist(),
        dxy=np.where(charged, rng.choice([-128, -1, 0, 127], n), 0).tolist(),
        quality=np.where(charged, rng.integers(0, 8, n), 0).tolist(),
        weight=np.where(charged, 0, rng.choice([0, 1, 256, 1023], n)).tolist(),
        egid=np.where(charged, 0, rng.integers(0, 64, n)).tolist(),
    )
    assert decode_puppi(encode_puppi(hw)) == hw


def test_puppi_fields_out_of_range_refused() -> None:
    with pytest.raises(DataFormatError, match="PUPPI phi"):
        encode_puppi(_hw(phi=[720]))
    with pytest.raises(DataFormatError, match="PUPPI quality"):
        encode_puppi(_hw(code=[3], quality=[8]))


def test_digitisation_rounds_half_up_saturates_and_wraps() -> None:
    n = 9
    hw = puppi_to_hardware(
        pt=[0.125, 0.1249, 1e6, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        eta=[10.0, -10.0, 0.5 * LSB, -0.5 * LSB, -0.51 * LSB, 0.0, 0.0, 0.0, 0.0],
        phi=[
            math.pi,
            -math.pi,
            math.pi - 1e-9,
            3 * math.pi,
            719.49 * LSB,
            -0.5 * LSB,
            2 * math.pi,
            -1e-9,
            1.0,
        ],
        pid=[211, -211, 22, 130, 11, -11, 13, -13, 2112],
        charge=[1, -1, 0, 0, -1, 1, -1, 1, 0],
        dz_mm=[1e3, -1e3, 5.0, 0.0, 0.25, -0.25, 0.0, 0.0, 0.0],
        d0_mm=[1e3, -1e3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        puppi_w=[1.0, 0.0, 0.5, 1.0, 0.49, 0.5, 1.0, 1.0, 0.3],
    )
    assert hw.pt.tolist() == [1, 0, 16383, 0, 4, 4, 4, 4, 4]
    assert hw.eta.tolist() == [2047, -2048, 1, 0, -1, 0, 0, 0, 0]
    # +pi, -pi, just below +pi and 3 pi are all -720; 719.49 rounds to 719; -0.5 LSB rounds up to 0
    assert hw.phi.tolist() == [-720, -720, -720, -720, 719, 0, 0, 0, 229]
    assert hw.code.tolist() == [3, 2, 1, 0, 4, 5, 6, 7, 0]
    assert hw.z0.tolist() == [511, -512, 0, 0, 1, 0, 0, 0, 0]  # neutral: no z0
    assert hw.dxy.tolist() == [127, -128] + [0] * (n - 2)
    assert hw.quality.tolist() == [1, 0, 0, 0, 0, 1, 1, 1, 0]
    assert hw.weight.tolist() == [0, 0, 128, 256, 0, 0, 0, 0, 77]  # 0.3 * 256 = 76.8 -> 77
    assert decode_puppi(encode_puppi(hw)) == hw


def test_digitisation_refuses_nan() -> None:
    with pytest.raises(DataFormatError, match="NaN"):
        puppi_to_hardware([np.nan], [0.0], [0.0], [22], [0], [0.0], [0.0], [1.0])


def test_code_table_and_charges() -> None:
    pid = [130, 22, -211, 211, 11, -11, 13, -13]
    charge = [0, 0, -1, 1, -1, 1, -1, 1]
    code = puppi_code(pid, charge)
    assert code.tolist() == list(range(8))
    p = puppi_physical(
        _hw(
            code=code.tolist(),
            quality=[0, 0, 1, 0, 1, 1, 0, 1],
            weight=[128, 256, 0, 0, 0, 0, 0, 0],
        )
    )
    assert p["pdgid"].tolist() == pid
    assert p["charge"].tolist() == charge
    assert p["puppi_w"].tolist() == [0.5, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]


def test_physical_values_are_hw_times_lsb() -> None:
    hw = _hw(
        pt=[16383, 3], eta=[-2048, 5], phi=[-720, 719], code=[2, 3], z0=[-512, 511], dxy=[-128, 127]
    )
    p = puppi_physical(hw)
    assert p["pt"].tolist() == [4095.75, 0.75]
    np.testing.assert_allclose(p["eta"], [-2048 * LSB, 5 * LSB], rtol=1e-6)
    np.testing.assert_allclose(p["phi"], [-math.pi, 719 * LSB], rtol=1e-6)
    assert p["z0"].tolist() == [-256.0, 255.5]
    assert p["dxy"].tolist() == [-64.0, 63.5]
    assert {k: v.dtype.name for k, v in p.items()} == {
        "pt": "float32",
        "eta": "float32",
        "phi": "float32",
        "pdgid": "int16",
        "charge": "int8",
        "z0": "float32",
        "dxy": "float32",
        "quality": "uint8",
        "puppi_w": "float32",
        "egid": "uint8",
    }
    assert list(puppi_physical(hw, ["pt"])) == ["pt"]


def test_muon_word_from_the_bit_table() -> None:
    # 10 GeV -> 20; eta -0.5 / 0.010875 = -45.98 -> -46; phi pi -> bin 288; negative, valid; quality 12
    by_hand = 20 | _tc(-46, 9) << 9 | 288 << 18 | 1 << 28 | 1 << 29 | 12 << 30
    assert int(encode_muons([10.0], [-0.5], [math.pi], [-1], [12])[0]) == by_hand
    m = decode_muons(np.array([by_hand], dtype=np.uint64))
    assert m["pt"].tolist() == [10.0]
    assert m["charge"].tolist() == [-1]
    assert m["quality"].tolist() == [12]
    assert m["phi"][0] == pytest.approx(-math.pi)
    assert m["eta"][0] == pytest.approx(-46 * 0.010875)


def test_muon_limits() -> None:
    m = decode_muons(
        encode_muons(
            [1000.0, 0.0, 3.0, 3.0, 3.0],
            [5.0, -5.0, 0.0, 0.0, 0.0],
            [-0.001, -0.006, 2 * math.pi, 0.5, -0.5],
            [1, -1, 0, 1, -1],
            [15, 0, 0, 1, 2],
        )
    )
    lsb = 2 * math.pi / 576
    assert m["pt"].tolist() == [255.5, 0.0, 3.0, 3.0, 3.0]
    np.testing.assert_allclose(m["eta"], [255 * 0.010875, -256 * 0.010875, 0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(m["phi"], [0.0, -lsb, 0.0, 46 * lsb, -46 * lsb], atol=1e-6)
    assert m["charge"].tolist() == [1, -1, 0, 1, -1]
    assert m["quality"].tolist() == [15, 0, 0, 1, 2]
    with pytest.raises(DataFormatError, match="muon quality"):
        encode_muons([1.0], [0.0], [0.0], [1], [16])


def test_calo_words_from_the_bit_tables() -> None:
    # e/gamma 300 GeV saturates at 511; eta 1.0 / 0.0435 = 22.99 -> 23; phi -0.1 / (2 pi/144) = -2.29 -> -2 = bin 142
    assert int(encode_egamma([300.0], [1.0], [-0.1])[0]) == 511 | 23 << 9 | 142 << 17
    # jet 40.2 -> 80; eta -1.0 -> -23; phi -pi/2 -> bin 108
    assert int(encode_jets([40.2], [-1.0], [-math.pi / 2])[0]) == 80 | _tc(-23, 8) << 11 | 108 << 19
    # MET 25 -> 50, phi pi -> 72, HT 3000 saturates at 4095
    assert int(encode_sums([25.0], [math.pi], [3000.0])[0]) == 50 | 72 << 12 | 4095 << 20
    e = decode_egamma(np.array([511 | 23 << 9 | 142 << 17], dtype=np.uint64))
    assert e["pt"].tolist() == [255.5]
    j = decode_jets(np.array([2047 | _tc(-128, 8) << 11 | 143 << 19], dtype=np.uint64))
    assert j["pt"].tolist() == [1023.5]
    assert j["eta"][0] == pytest.approx(-128 * 0.0435)
    assert j["phi"][0] == pytest.approx(-2 * math.pi / 144)
    s = decode_sums(np.array([50 | 72 << 12 | 4095 << 20], dtype=np.uint64))
    assert s["met"].tolist() == [25.0]
    assert s["ht"].tolist() == [2047.5]
    assert s["met_phi"][0] == pytest.approx(-math.pi)


def test_object_round_trips_within_half_a_bin() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    pt, eta, phi = (
        rng.uniform(0, 250, n),
        rng.uniform(-2.7, 2.7, n),
        rng.uniform(-math.pi, math.pi, n),
    )
    for enc, dec, pt_lsb, eta_lsb, phi_lsb in (
        (encode_egamma, decode_egamma, 0.5, 0.0435, 2 * math.pi / 144),
        (encode_jets, decode_jets, 0.5, 0.0435, 2 * math.pi / 144),
    ):
        d = dec(enc(pt, eta, phi))
        assert np.all(np.abs(d["pt"] - pt) <= pt_lsb / 2 + 1e-4)
        assert np.all(np.abs(d["eta"] - eta) <= eta_lsb / 2 + 1e-4)
        dphi = (d["phi"] - phi + math.pi) % (2 * math.pi) - math.pi
        assert np.all(np.abs(dphi) <= phi_lsb / 2 + 1e-4)
        assert np.all((d["phi"] >= -math.pi) & (d["phi"] < math.pi))
        assert np.all(enc(pt, eta, phi) >> np.uint64(63) == 0)


def test_pack_stream_interleaves_headers_and_payload() -> None:
    counts = np.zeros(ORBIT_BX, dtype=np.int64)
    counts[[0, 5, 3563]] = [2, 4095, 1]
    payload = np.arange(1, counts.sum() + 1, dtype=np.uint64)
    s = pack_stream(counts, payload, orbit=MAX_ORBIT, run=MAX_RUN, bad=np.arange(ORBIT_BX) == 5)
    assert len(s) == ORBIT_BX + counts.sum()
    h = decode_headers(s)
    assert h.valid_marker.sum() == ORBIT_BX
    assert h.bx[h.valid_marker].tolist() == list(range(ORBIT_BX))
    assert h.count[h.valid_marker].tolist() == counts.tolist()
    assert np.all(h.orbit[h.valid_marker] == MAX_ORBIT)
    assert h.bad[h.valid_marker].sum() == 1
    assert s[~h.valid_marker].tolist() == payload.tolist()
    assert s[1:3].tolist() == [1, 2]
    assert int(s[-1]) == int(payload[-1])


def test_pack_stream_refuses_inconsistent_input() -> None:
    counts = np.zeros(ORBIT_BX, dtype=np.int64)
    with pytest.raises(DataFormatError, match="3564 BXs"):
        pack_stream(counts[:-1], np.zeros(0, np.uint64), 1, 1)
    with pytest.raises(DataFormatError, match="sum"):
        pack_stream(counts, np.zeros(1, np.uint64), 1, 1)
    counts[0] = 1
    with pytest.raises(DataFormatError, match="bit 63"):
        pack_stream(counts, np.array([1 << 63], np.uint64), 1, 1)
    counts[0] = 4096
    with pytest.raises(DataFormatError, match="count"):
        pack_stream(counts, np.zeros(4096, np.uint64), 1, 1)
