"""Entropy coding: bit packing against a slow reference, quantization error bounds, zstd, containers."""

from __future__ import annotations

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.entropy import (
    decode_latents,
    dequantize,
    encode_latents,
    join_parts,
    pack_bits,
    pack_columns,
    part_sizes,
    quantize,
    split_parts,
    unpack_bits,
    unpack_columns,
    unzigzag,
    zigzag,
    zstd_compress,
    zstd_decompress,
)


def _reference_pack(codes: list[int], bits: int) -> bytes:
    """Slow and obvious: one Python integer, code i at bit i * bits, little-endian bytes."""
    total = sum(int(c) << (i * bits) for i, c in enumerate(codes))
    return total.to_bytes((len(codes) * bits + 7) // 8, "little")


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> None:
    assert "\n" not in str(exc.value)
    assert str(exc.value)


@pytest.mark.parametrize("bits", range(1, 33))
def test_bits_round_trip_at_the_edges_and_match_the_reference(bits: int) -> None:
    rng = np.random.default_rng(bits)
    top = (1 << bits) - 1
    codes = np.concatenate(([0, top, top, 0, 1 % (top + 1)], rng.integers(0, top + 1, 37)))
    packed = pack_bits(codes, bits)
    assert packed == _reference_pack(codes.tolist(), bits)
    assert len(packed) == (len(codes) * bits + 7) // 8
    assert unpack_bits(packed, bits, len(codes)).tolist() == codes.tolist()


@pytest.mark.parametrize("bits", [1, 7, 32])
def test_no_codes_pack_to_no_bytes(bits: int) -> None:
    assert pack_bits(np.zeros(0, dtype=np.int64), bits) == b""
    assert unpack_bits(b"", bits, 0).tolist() == []


def test_bit_packing_refuses_bad_input() -> None:
    with pytest.raises(ConfigError, match="bits"):
        pack_bits(np.array([1]), 0)
    with pytest.raises(ConfigError, match="bits"):
        pack_bits(np.array([1]), 33)
    with pytest.raises(DataFormatError, match=r"0 \.\.\. 7") as exc:
        pack_bits(np.array([8]), 3)
    _one_line(exc)
    with pytest.raises(DataFormatError, match="-1"):
        pack_bits(np.array([-1]), 3)
    with pytest.raises(DataFormatError, match="expected 2 bytes") as exc:
        unpack_bits(b"\x00", 3, 5)
    _one_line(exc)
    with pytest.raises(ConfigError, match="count"):
        unpack_bits(b"", 3, -1)


def test_quantization_error_is_at_most_half_a_step_inside_the_range() -> None:
    rng = np.random.default_rng(1)
    for bits, lo, hi in ((1, 0.0, 1.0), (4, -5.0, 5.0), (10, -np.pi, np.pi), (24, 0.1, 8.3)):
        x = np.concatenate(([lo, hi, (lo + hi) / 2], rng.uniform(lo, hi, 1000)))
        codes = quantize(x, bits, lo, hi)
        assert codes.min() >= 0
        assert codes.max() <= (1 << bits) - 1
        step = (hi - lo) / (1 << bits)
        err = np.abs(dequantize(codes, bits, lo, hi) - x)
        assert err.max() <= step / 2 * (1 + 1e-9)
    # outside the range values clip to the first and last bin centres
    assert dequantize(quantize([-10.0, 10.0], 2, 0.0, 1.0), 2, 0.0, 1.0).tolist() == [0.125, 0.875]


def test_integers_with_a_wide_enough_range_quantize_losslessly() -> None:
    for bits in (1, 3, 8, 16):
        ints = np.arange(1 << min(bits, 10))
        codes = quantize(ints, bits, -0.5, (1 << bits) - 0.5)
        assert codes.tolist() == ints.tolist()
        assert dequantize(codes, bits, -0.5, (1 << bits) - 0.5).tolist() == ints.tolist()


def test_quantization_refuses_bad_input() -> None:
    with pytest.raises(DataFormatError, match="NaN"):
        quantize([np.nan], 4, 0.0, 1.0)
    with pytest.raises(ConfigError, match="lo < hi"):
        quantize([0.5], 4, 1.0, 1.0)
    with pytest.raises(DataFormatError, match="codes in 0"):
        dequantize([16], 4, 0.0, 1.0)


def test_zstd_round_trip_and_bad_payloads() -> None:
    for data in (b"", b"x", bytes(range(256)) * 50):
        assert zstd_decompress(zstd_compress(data)) == data
        assert zstd_decompress(zstd_compress(data, level=1)) == data
    payload = zstd_compress(b"scouting" * 1000)
    assert len(payload) < 100
    with pytest.raises(DataFormatError, match="truncated or corrupt") as exc:
        zstd_decompress(payload[:-5])
    _one_line(exc)
    with pytest.raises(DataFormatError, match="magic") as exc:
        zstd_decompress(b"PAR1" + payload[4:])
    _one_line(exc)
    with pytest.raises(ConfigError, match="level"):
        zstd_compress(b"x", level=23)


def test_zigzag_is_a_bijection_small_magnitudes_first() -> None:
    v = np.arange(-1000, 1001)
    assert np.array_equal(unzigzag(zigzag(v)), v)
    assert sorted(zigzag(v).tolist()) == list(range(2001))


def test_latents_lossless_setting_decodes_exactly() -> None:
    rng = np.random.default_rng(2)
    for bits in (1, 6, 12):
        z = rng.integers(0, 1 << bits, (50, 3)).astype(np.float64)
        payload = encode_latents(z, bits, -0.5, (1 << bits) - 0.5)
        assert np.array_equal(decode_latents(payload), z)


def test_latents_per_dimension_ranges_and_error_bound() -> None:
    rng = np.random.default_rng(3)
    lo, hi = np.array([-1.0, 0.0, 10.0]), np.array([1.0, 0.5, 20.0])
    z = rng.uniform(lo, hi, (200, 3))
    back = decode_latents(encode_latents(z, 5, lo, hi))
    assert back.shape == (200, 3)
    assert back.dtype == np.float32
    assert np.all(np.abs(back - z) <= (hi - lo) / 2**6 + 1e-5)
    assert decode_latents(encode_latents(np.zeros((0, 4)), 8, -1.0, 1.0)).shape == (0, 4)


def test_latents_refuse_bad_input_and_payloads() -> None:
    with pytest.raises(DataFormatError, match="2-d"):
        encode_latents(np.zeros(3), 4, 0.0, 1.0)
    with pytest.raises(ConfigError, match="3 values"):
        encode_latents(np.zeros((2, 3)), 4, [0.0, 0.0], [1.0, 1.0])
    payload = encode_latents(np.random.default_rng(0).uniform(size=(40, 2)), 6, 0.0, 1.0)
    for bad in (payload[:-3], payload[:10], b"L1Z1" + payload[4:], payload + b"\x00"):
        with pytest.raises(DataFormatError) as exc:
            decode_latents(bad)
        _one_line(exc)


def test_columns_round_trip_signed_unsigned_empty_and_wide() -> None:
    rng = np.random.default_rng(4)
    cols: dict[str, np.ndarray] = {
        "small": rng.integers(0, 4, 500),
        "signed": rng.integers(-2000, 2000, 500),
        "empty": np.zeros(0, dtype=np.int16),
        "wide": np.array([0, (1 << 32) - 1, 12345]),
        "negative_wide": np.array([-(1 << 31), (1 << 31) - 1]),
        "uint8": np.arange(256, dtype=np.uint8),
    }
    back = unpack_columns(pack_columns(cols))
    assert list(back) == list(cols)
    for name, v in cols.items():
        assert back[name].tolist() == v.tolist(), name
    # a low-entropy column packs far below its raw size
    assert len(pack_columns({"small": cols["small"]})) < 200


def test_columns_refuse_bad_input_and_payloads() -> None:
    with pytest.raises(DataFormatError, match="32 bits"):
        pack_columns({"huge": np.array([1 << 33])})
    with pytest.raises(DataFormatError, match="1-d integers"):
        pack_columns({"floats": np.array([0.5])})
    payload = pack_columns({"a": np.arange(100), "b": np.arange(50) - 25})
    for bad in (payload[:-4], payload[:12], b"XXXX" + payload[4:], payload + b"!"):
        with pytest.raises(DataFormatError) as exc:
            unpack_columns(bad)
        _one_line(exc)


def test_parts_keep_names_order_and_sizes() -> None:
    parts = {"particle": b"abcd", "object": b"", "extra": bytes(300)}
    payload = join_parts(parts)
    assert split_parts(payload) == parts
    assert part_sizes(payload) == {"particle": 4, "object": 0, "extra": 300}
    for bad in (payload[:-1], payload[:6], b"L1PC" + payload[4:]):
        with pytest.raises(DataFormatError) as exc:
            split_parts(bad)
        _one_line(exc)
    with pytest.raises(ConfigError, match="ASCII"):
        join_parts({"": b""})
