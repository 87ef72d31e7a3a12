"""The compiled unpacker against a slow pure-Python walk, on random and on corrupted orbits."""

from __future__ import annotations

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.unpack import Problems, scan_headers, unpack_objects, unpack_puppi
from l1scout.tasks.scouting.words import (
    ORBIT_BX,
    PUPPI_FIELDS,
    decode_egamma,
    decode_jets,
    decode_muons,
    decode_sums,
    encode_egamma,
    encode_headers,
    encode_jets,
    encode_muons,
    encode_sums,
    pack_stream,
    puppi_physical,
)

NAMES = [name for name, _ in PUPPI_FIELDS]


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


def _ref_word(w: int) -> tuple[int, ...]:
    """One PUPPI word decoded with Python integers, straight from the bit table."""
    code = (w >> 37) & 7
    charged = code >= 2
    return (
        w & 0x3FFF,
        _signed((w >> 14) & 0xFFF, 12),
        _signed((w >> 26) & 0x7FF, 11),
        code,
        _signed((w >> 40) & 0x3FF, 10) if charged else 0,
        _signed((w >> 50) & 0xFF, 8) if charged else 0,
        (w >> 58) & 7 if charged else 0,
        0 if charged else (w >> 40) & 0x3FF,
        0 if charged else (w >> 50) & 0x3F,
    )


def _ref_unpack(
    buffer: np.ndarray,
) -> tuple[list[int], list[int], list[tuple[int, ...]], dict[str, int]]:
    """The header walk and decode, one word at a time: (kept bx, counts, candidates, problems)."""
    words = [int(x) for x in buffer]
    bxs: list[int] = []
    counts: list[int] = []
    cands: list[tuple[int, ...]] = []
    p = dict.fromkeys(
        [
            "bad_flag",
            "count_past_end",
            "not_a_header",
            "bad_bx",
            "orbit_mismatch",
            "skipped_bx",
            "lost_words",
        ],
        0,
    )
    orbit = None
    headers = 0
    pos = 0
    while pos < len(words):
        w = words[pos]
        if w >> 62 != 2:
            p["not_a_header"] += 1
            p["lost_words"] += len(words) - pos
            break
        headers += 1
        count, bx, orb, bad = w & 0xFFF, (w >> 12) & 0xFFF, (w >> 24) & (2**30 - 1), (w >> 61) & 1
        if pos + 1 + count > len(words):
            p["count_past_end"] += 1
            p["skipped_bx"] += 1
            p["lost_words"] += len(words) - pos
            break
        problem = None
        if bad:
            problem = "bad_flag"
        elif bx >= ORBIT_BX or (bxs and bx <= bxs[-1]):
            problem = "bad_bx"
        elif orbit is not None and orb != orbit:
            problem = "orbit_mismatch"
        if problem:
            p[problem] += 1
            p["skipped_bx"] += 1
            p["lost_words"] += 1 + count
        else:
            orbit = orb if orbit is None else orbit
            bxs.append(bx)
            counts.append(count)
            cands.extend(_ref_word(x) for x in words[pos + 1 : pos + 1 + count])
        pos += 1 + count
    p["missing_bx"] = max(0, ORBIT_BX - headers)
    return bxs, counts, cands, p


def _check_against_reference(buffer: np.ndarray) -> None:
    u = unpack_puppi(buffer)
    bxs, counts, cands, problems = _ref_unpack(buffer)
    assert u.bx.tolist() == bxs
    assert np.diff(u.offsets).tolist() == counts
    got = (
        list(zip(*(getattr(u.hw, name).tolist() for name in NAMES), strict=True)) if len(u) else []
    )
    assert got == cands
    assert u.problems.as_dict() == problems
    assert len(bxs) + sum(counts) + problems["lost_words"] == len(buffer)


def _random_orbit(
    rng: np.random.Generator, orbit: int = 7, max_count: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """An orbit of random words (any bit pattern below bit 61) and its counts."""
    counts = rng.integers(0, max_count, ORBIT_BX) * (rng.random(ORBIT_BX) < 0.8)
    payload = rng.integers(0, 1 << 61, int(counts.sum()), dtype=np.uint64)
    return pack_stream(counts, payload, orbit=orbit, run=3), counts


@pytest.mark.parametrize("seed", [0, 1])
def test_unpacker_equals_slow_reference_on_random_orbits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    buffer, counts = _random_orbit(rng)
    _check_against_reference(buffer)
    u = unpack_puppi(buffer)
    assert (u.orbit, u.run, u.problems) == (7, 3, Problems())
    assert u.bx.tolist() == list(range(ORBIT_BX))
    assert np.diff(u.offsets).tolist() == counts.tolist()


def test_dtypes_and_fields_subset() -> None:
    buffer, _ = _random_orbit(np.random.default_rng(3))
    full = unpack_puppi(buffer)
    assert {n: getattr(full.hw, n).dtype for n in NAMES} == {
        n: np.dtype(t) for n, t in PUPPI_FIELDS
    }
    assert full.bx.dtype == np.int16
    assert full.offsets.dtype == np.int64
    for subset in (["pt"], ["eta", "phi"], ["code", "z0", "weight"], ["dxy", "quality", "egid"]):
        part = unpack_puppi(buffer, fields=subset)
        assert part.fields == tuple(n for n in NAMES if n in subset)
        for name in NAMES:
            expected = getattr(full.hw, name) if name in subset else np.zeros(0)
            assert np.array_equal(getattr(part.hw, name), expected)
    phys = unpack_puppi(buffer, fields=["pt", "code"]).physical()
    assert sorted(phys) == ["charge", "pdgid", "pt"]
    with pytest.raises(ConfigError, match="mass"):
        unpack_puppi(buffer, fields=["mass"])


def test_zero_candidates_and_the_maximum_count() -> None:
    counts = np.zeros(ORBIT_BX, dtype=np.int64)
    empty = unpack_puppi(pack_stream(counts, np.zeros(0, np.uint64), 1, 1))
    assert len(empty) == 0
    assert len(empty.bx) == ORBIT_BX
    assert empty.problems.total == 0
    counts[ORBIT_BX - 1] = 4095
    payload = np.arange(4095, dtype=np.uint64) << np.uint64(26)  # phi = 0 ... 4094 mod 2048, signed
    u = unpack_puppi(pack_stream(counts, payload, 1, 1))
    assert u.offsets[-2:].tolist() == [0, 4095]
    expected = [_signed(k & 0x7FF, 11) for k in range(4095)]
    assert u.hw.phi.tolist() == expected


def test_physical_and_awkward_match_the_reference_decode() -> None:
    import awkward as ak

    buffer, counts = _random_orbit(np.random.default_rng(4), max_count=5)
    u = unpack_puppi(buffer)
    ref = puppi_physical(u.hw)
    phys = u.physical()
    assert all(np.array_equal(phys[k], ref[k]) for k in ref)
    arr = u.to_awkward()
    assert len(arr) == ORBIT_BX
    assert ak.num(arr.puppi, axis=1).to_list() == counts.tolist()
    assert np.array_equal(ak.flatten(arr.puppi.pt).to_numpy(), phys["pt"])
    k = int(np.argmax(counts))
    assert arr.bx[k] == k
    assert arr.puppi.pdgid[k].to_list() == phys["pdgid"][u.offsets[k] : u.offsets[k + 1]].tolist()
    hw = u.to_awkward(physical=False)
    assert ak.flatten(hw.puppi.eta).to_list() == u.hw.eta.tolist()


def _clean(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    return _random_orbit(np.random.default_rng(seed), max_count=6)


def _same_bxs(corrupt: np.ndarray, clean: np.ndarray, bxs: list[int]) -> None:
    """The candidates of *bxs* are those of the clean orbit."""
    a, b = unpack_puppi(corrupt), unpack_puppi(clean)
    for bx in bxs:
        ka, kb = int(np.searchsorted(a.bx, bx)), int(np.searchsorted(b.bx, bx))
        assert a.bx[ka] == bx
        sa = slice(a.offsets[ka], a.offsets[ka + 1])
        sb = slice(b.offsets[kb], b.offsets[kb + 1])
        assert all(np.array_equal(getattr(a.hw, n)[sa], getattr(b.hw, n)[sb]) for n in NAMES)


def _header_at(counts: np.ndarray, bx: int) -> int:
    return int(bx + counts[:bx].sum())


def test_bad_flag_skips_that_bx_only() -> None:
    clean, counts = _clean()
    bad = np.zeros(ORBIT_BX, bool)
    bad[[5, 6, 3000]] = True
    corrupt = pack_stream(
        counts, clean[~np.isin(np.arange(len(clean)), _headers(counts))], 7, 3, bad=bad
    )
    u = unpack_puppi(corrupt)
    assert u.problems.bad_flag == 3
    assert u.problems.skipped_bx == 3
    assert u.problems.lost_words == 3 + int(counts[[5, 6, 3000]].sum())
    assert sorted(set(range(ORBIT_BX)) - set(u.bx.tolist())) == [5, 6, 3000]
    _same_bxs(corrupt, clean, [0, 4, 7, 2999, 3001, 3563])
    _check_against_reference(corrupt)


def _headers(counts: np.ndarray) -> np.ndarray:
    return np.arange(ORBIT_BX) + np.concatenate(([0], np.cumsum(counts)[:-1]))


def test_truncated_buffer_keeps_the_bxs_before_the_cut() -> None:
    clean, counts = _clean()
    k = int(np.flatnonzero(counts > 1)[1000])
    cut = _header_at(counts, k) + 1 + int(counts[k]) // 2  # inside BX k's payload
    u = unpack_puppi(clean[:cut])
    assert u.bx.tolist() == list(range(k))
    assert u.problems.count_past_end == 1
    assert u.problems.missing_bx == ORBIT_BX - (k + 1)
    assert u.problems.lost_words == cut - _header_at(counts, k)
    _same_bxs(clean[:cut], clean, [0, k - 1])
    _check_against_reference(clean[:cut])
    # cut exactly at a BX boundary: nothing wrong but the missing BXs
    v = unpack_puppi(clean[: _header_at(counts, k)])
    assert v.bx.tolist() == list(range(k))
    assert v.problems.as_dict() == Problems(missing_bx=ORBIT_BX - k).as_dict()


def test_count_past_the_end() -> None:
    clean, counts = _clean()
    last = _header_at(counts, ORBIT_BX - 1)
    corrupt = clean.copy()
    corrupt[last] = encode_headers(4095, ORBIT_BX - 1, 7, 3)[0]
    u = unpack_puppi(corrupt)
    assert u.problems.count_past_end == 1
    assert u.bx.tolist() == list(range(ORBIT_BX - 1))
    assert u.problems.lost_words == len(clean) - last
    _same_bxs(corrupt, clean, [0, ORBIT_BX - 2])
    _check_against_reference(corrupt)


def test_a_word_that_is_not_a_header_stops_the_walk() -> None:
    clean, counts = _clean()
    k = 2000
    corrupt = clean.copy()
    corrupt[_header_at(counts, k)] = np.uint64(12345)  # a payload word where BX k's header was
    u = unpack_puppi(corrupt)
    assert u.problems.not_a_header == 1
    assert u.bx.tolist() == list(range(k))
    assert u.problems.lost_words == len(clean) - _header_at(counts, k)
    assert u.problems.missing_bx == ORBIT_BX - k
    _same_bxs(corrupt, clean, [0, k - 1])
    _check_against_reference(corrupt)
    # a count one too large makes the next header position land on a payload word
    j = int(np.flatnonzero(counts[:k] > 0)[-1])
    wrong = clean.copy()
    wrong[_header_at(counts, j)] = encode_headers(int(counts[j]) - 1, j, 7, 3)[0]
    assert unpack_puppi(wrong).problems.not_a_header == 1
    _check_against_reference(wrong)


def test_bad_bx_and_orbit_mismatch() -> None:
    clean, counts = _clean()
    corrupt = clean.copy()
    corrupt[_header_at(counts, 10)] = encode_headers(counts[10], 9, 7, 3)[0]  # BX going back
    corrupt[_header_at(counts, 11)] = encode_headers(counts[11], 4000, 7, 3)[0]  # BX past the orbit
    corrupt[_header_at(counts, 12)] = encode_headers(counts[12], 12, 8, 3)[0]  # another orbit
    u = unpack_puppi(corrupt)
    assert (u.problems.bad_bx, u.problems.orbit_mismatch, u.problems.skipped_bx) == (2, 1, 3)
    assert sorted(set(range(ORBIT_BX)) - set(u.bx.tolist())) == [10, 11, 12]
    _same_bxs(corrupt, clean, [9, 13, 3563])
    _check_against_reference(corrupt)


def test_random_corruption_matches_reference_and_never_raises() -> None:
    rng = np.random.default_rng(21)
    for _ in range(20):
        buffer, _ = _random_orbit(rng, max_count=4)
        corrupt = buffer.copy()
        idx = rng.integers(0, len(buffer), 3)
        corrupt[idx] = rng.integers(0, 2**63, 3, dtype=np.uint64) | (
            rng.integers(0, 2, 3, dtype=np.uint64) << np.uint64(63)
        )
        corrupt = corrupt[: rng.integers(len(buffer) // 2, len(buffer) + 1)]
        _check_against_reference(corrupt)


def test_a_corrupt_orbit_does_not_affect_the_others() -> None:
    rng = np.random.default_rng(8)
    orbits = [_random_orbit(rng, orbit=o, max_count=5)[0] for o in (1, 2, 3)]
    bad = orbits[1].copy()
    bad[len(bad) // 2] = np.uint64(1)
    results = [unpack_puppi(b) for b in (orbits[0], bad[: len(bad) - 3], orbits[2])]
    assert [r.orbit for r in results] == [1, 2, 3]
    assert results[0].problems.total == 0
    assert results[2].problems.total == 0
    assert results[1].problems.total > 0
    assert results[2].hw == unpack_puppi(orbits[2]).hw


def test_empty_and_wrong_buffers() -> None:
    u = unpack_puppi(np.zeros(0, dtype=np.uint64))
    assert (u.orbit, len(u.bx), len(u)) == (-1, 0, 0)
    assert u.problems.missing_bx == ORBIT_BX
    idx = scan_headers(np.zeros(0, dtype=np.uint64))
    assert idx.offsets.tolist() == [0]
    with pytest.raises(DataFormatError, match="uint64"):
        unpack_puppi(np.zeros(3, dtype=np.float64))
    with pytest.raises(DataFormatError, match="uint64"):
        unpack_puppi(np.zeros((2, 2), dtype=np.uint64))


def test_problems_add_up() -> None:
    a = Problems(bad_flag=1, lost_words=3)
    b = Problems(not_a_header=2, lost_words=1, missing_bx=5)
    assert (a + b).as_dict() == Problems(
        bad_flag=1, not_a_header=2, lost_words=4, missing_bx=5
    ).as_dict()
    assert (a + b).total == 8


def test_object_streams_round_trip() -> None:
    rng = np.random.default_rng(6)
    counts = rng.integers(0, 4, ORBIT_BX)
    n = int(counts.sum())
    pt, eta, phi = rng.uniform(0, 200, n), rng.uniform(-2.5, 2.5, n), rng.uniform(-3, 3, n)
    charge, quality = rng.choice([-1, 1], n), rng.integers(0, 16, n)
    for stream, words, decode in (
        ("muon", encode_muons(pt, eta, phi, charge, quality), decode_muons),
        ("jet", encode_jets(pt, eta, phi), decode_jets),
        ("egamma", encode_egamma(pt, eta, phi), decode_egamma),
    ):
        u = unpack_objects(pack_stream(counts, words, 4, 2), stream)
        assert (u.orbit, u.run, u.stream) == (4, 2, stream)
        assert np.diff(u.offsets).tolist() == counts.tolist()
        ref = decode(words)
        assert list(u.values) == list(ref)
        assert all(np.array_equal(u.values[k], ref[k]) for k in ref)
    ones = np.ones(ORBIT_BX, dtype=np.int64)
    sums = encode_sums(
        rng.uniform(0, 100, ORBIT_BX), rng.uniform(-3, 3, ORBIT_BX), rng.uniform(0, 900, ORBIT_BX)
    )
    bad = np.zeros(ORBIT_BX, bool)
    bad[17] = True
    u = unpack_objects(pack_stream(ones, sums, 4, 2, bad=bad), "sums")
    assert len(u.bx) == ORBIT_BX - 1
    assert u.problems.bad_flag == 1
    ref = decode_sums(np.delete(sums, 17))
    assert all(np.array_equal(u.values[k], ref[k]) for k in ref)
    assert len(u.to_awkward()) == ORBIT_BX - 1
    with pytest.raises(ConfigError, match="puppi"):
        unpack_objects(sums, "puppi")
