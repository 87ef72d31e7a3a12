"""The shared array primitives (l1scout._jagged) against slow, obviously correct loops."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from l1scout._jagged import (
    ETA_AT_ZERO_PT,
    check_offsets,
    delta_r,
    eta_phi_pt,
    event_index,
    first_per_event,
    offsets_from_counts,
    wrap_phi,
)
from l1scout.errors import ConfigError

# ------------------------------------------------------------------ references


def _counts(rng: np.random.Generator, n_events: int) -> npt.NDArray[np.int64]:
    c = rng.poisson(2.0, n_events).astype(np.int64)
    c[::3] = 0  # empty events, the first one included
    return c


def _offsets_loop(counts: list[int]) -> list[int]:
    out = [0]
    for c in counts:
        out.append(out[-1] + c)
    return out


def _event_loop(offsets: list[int]) -> list[int]:
    return [k for k in range(len(offsets) - 1) for _ in range(offsets[k], offsets[k + 1])]


def _wrap_loop(x: float) -> float:
    while x >= math.pi:
        x -= 2 * math.pi
    while x < -math.pi:
        x += 2 * math.pi
    return x


def _delta_r_loop(eta1: float, phi1: float, eta2: float, phi2: float) -> float:
    return math.sqrt((eta1 - eta2) ** 2 + _wrap_loop(phi1 - phi2) ** 2)


# ------------------------------------------------------------------ types


# ------------------------------------------------------------------ offsets


@pytest.mark.parametrize("n_events", [0, 1, 7, 200])
def test_offsets_from_counts_matches_a_loop(n_events: int) -> None:
    counts = _counts(np.random.default_rng(n_events), n_events)
    got = offsets_from_counts(counts)
    assert got.dtype == np.int64
    assert got.tolist() == _offsets_loop(counts.tolist())


def test_offsets_from_counts_edge_cases() -> None:
    assert offsets_from_counts(np.zeros(0, np.int64)).tolist() == [0]  # zero events
    assert offsets_from_counts([0, 0, 0]).tolist() == [0, 0, 0, 0]  # only empty events
    assert offsets_from_counts([]).tolist() == [0]
    # other count dtypes (bincount's intp, int32, masks) give int64 offsets
    for counts in (np.array([2, 0, 3], np.int32), np.array([2, 0, 3], np.uint8), [2, 0, 3]):
        got = offsets_from_counts(counts)
        assert (got.dtype, got.tolist()) == (np.int64, [0, 2, 2, 5])
    assert offsets_from_counts(np.array([True, False, True])).tolist() == [0, 1, 1, 2]


@pytest.mark.parametrize("n_events", [0, 1, 7, 200])
def test_event_index_matches_a_loop(n_events: int) -> None:
    off = offsets_from_counts(_counts(np.random.default_rng(10 + n_events), n_events))
    got = event_index(off)
    assert got.dtype == np.int64
    assert got.tolist() == _event_loop(off.tolist())


def test_event_index_edge_cases() -> None:
    assert event_index([0]).tolist() == []  # zero events
    assert event_index([0, 0, 0]).tolist() == []  # only empty events
    assert event_index([0, 0, 2, 2, 3]).tolist() == [1, 1, 3]
    off = offsets_from_counts([3, 0, 2])
    assert offsets_from_counts(np.bincount(event_index(off), minlength=3)).tolist() == off.tolist()


def test_check_offsets_accepts_batches() -> None:
    assert check_offsets([0]).tolist() == [0]  # zero events
    assert check_offsets([0], n_entries=0).tolist() == [0]
    got = check_offsets(np.array([0, 0, 2, 2], np.int32), n_entries=2)
    assert (got.dtype, got.tolist()) == (np.int64, [0, 0, 2, 2])
    assert got.flags.c_contiguous
    assert check_offsets(np.arange(0, 10, dtype=np.int64)[::3]).flags.c_contiguous


@pytest.mark.parametrize(
    ("offsets", "n_entries", "match"),
    [
        ([1, 2], None, "starting at 0"),
        ([0, 3, 2], None, "non-decreasing"),
        ([0, 2], 3, r"number of entries \(3\), got 2"),
        ([], None, "1-D integer"),
        ([[0, 1]], None, "1-D integer"),
        ([0.0, 1.0], None, "1-D integer"),
    ],
)
def test_check_offsets_rejects_bad_offsets(
    offsets: list[object], n_entries: int | None, match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        check_offsets(np.array(offsets), "my_offsets", n_entries)
    assert str(err.value).startswith("my_offsets")


# ------------------------------------------------------------------ kinematics


def test_wrap_phi_matches_a_loop() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            rng.uniform(-20.0, 20.0, 500),
            [0.0, math.pi, -math.pi, 2 * math.pi, -2 * math.pi, 3 * math.pi / 2, 1e-12],
        ]
    )
    got = wrap_phi(x)
    assert got.dtype == np.float64
    assert np.all((got >= -math.pi) & (got < math.pi))
    assert got.tolist() == pytest.approx([_wrap_loop(v) for v in x.tolist()], abs=1e-12)
    # across pi: just under pi minus just over -pi is a small negative difference
    assert wrap_phi(np.array([(math.pi - 0.1) - (-math.pi + 0.1)]))[0] == pytest.approx(-0.2)
    assert wrap_phi(np.array([(-math.pi + 0.1) - (math.pi - 0.1)]))[0] == pytest.approx(0.2)


def test_wrap_phi_dtypes_and_empty() -> None:
    assert wrap_phi(np.zeros(0)).shape == (0,)
    assert wrap_phi(np.array([4.0], np.float32)).dtype == np.float32  # float32 stays float32
    assert wrap_phi(np.array([7], np.int64)).dtype == np.float64  # integers become float64
    assert wrap_phi(7)[()] == pytest.approx(7 - 2 * math.pi)
    # the same bits as the hand-written form it replaced: (x + pi) mod 2 pi - pi
    x = np.random.default_rng(4).normal(0.0, 10.0, 1000)
    assert np.array_equal(wrap_phi(x), np.mod(x + np.pi, 2 * np.pi) - np.pi)
    x32 = x.astype(np.float32)
    assert np.array_equal(wrap_phi(x32), np.remainder(x32 + math.pi, 2.0 * math.pi) - math.pi)


def test_delta_r_matches_a_loop() -> None:
    rng = np.random.default_rng(5)
    n = 400
    eta1, eta2 = rng.uniform(-5, 5, n), rng.uniform(-5, 5, n)
    phi1 = rng.uniform(0, 2 * math.pi, n)  # [0, 2 pi) on one side ...
    phi2 = rng.uniform(-math.pi, math.pi, n)  # ... [-pi, pi) on the other
    got = delta_r(eta1, phi1, eta2, phi2)
    assert got.dtype == np.float64
    ref = [_delta_r_loop(*v) for v in zip(eta1, phi1, eta2, phi2, strict=True)]
    assert got.tolist() == pytest.approx(ref, abs=1e-12)


def test_delta_r_edge_cases() -> None:
    # across phi = pi the short way round
    assert delta_r(0.0, math.pi - 0.1, 0.0, -math.pi + 0.1) == pytest.approx(0.2)
    assert delta_r(1.0, math.pi - 0.1, 1.3, -math.pi + 0.3) == pytest.approx(0.5)
    assert delta_r(0.0, 2 * math.pi - 0.03, 0.04, 0.0) == pytest.approx(0.05)
    assert delta_r(0.0, 0.0, 0.0, 0.0) == 0.0
    # broadcasting, float32 and integer inputs, and empty arrays
    assert delta_r([0.0, 0.3], 0.0, 0.0, [0.0, 0.4]).tolist() == pytest.approx([0.0, 0.5])
    assert delta_r(np.float32(3.0), 0, 0, np.float32(4.0)).dtype == np.float64
    assert delta_r(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)).shape == (0,)


def test_delta_r_is_bit_identical_to_both_former_copies() -> None:
    rng = np.random.default_rng(6)
    eta1, eta2 = rng.normal(0, 2, 1000), rng.normal(0, 2, 1000)
    phi1, phi2 = rng.uniform(-4, 7, 1000), rng.uniform(-4, 7, 1000)
    deta = eta1 - eta2
    dphi = wrap_phi(phi1 - phi2)
    got = delta_r(eta1, phi1, eta2, phi2)
    assert np.array_equal(got, np.sqrt(deta**2 + dphi**2))  # tasks/recalib/matching.py
    assert np.array_equal(got, np.sqrt(deta * deta + dphi * dphi))  # validation/metrics.py


def test_eta_phi_pt_matches_a_loop() -> None:
    rng = np.random.default_rng(7)
    px, py, pz = rng.normal(0, 10, (3, 300))
    px[:3] = py[:3] = 0.0  # along the beam: pT = 0
    pz[:3] = [5.0, -5.0, 0.0]
    eta, phi, pt = eta_phi_pt(px, py, pz)
    for i in range(len(px)):
        ref_pt = math.hypot(px[i], py[i])
        if ref_pt > 0:
            ref_eta = math.asinh(pz[i] / ref_pt)
        else:
            ref_eta = math.copysign(ETA_AT_ZERO_PT, pz[i]) if pz[i] != 0 else 0.0
        assert pt[i] == pytest.approx(ref_pt, abs=1e-12)
        assert eta[i] == pytest.approx(ref_eta, abs=1e-12)
        assert phi[i] == pytest.approx(math.atan2(py[i], px[i]), abs=1e-12)
    assert eta[:3].tolist() == [ETA_AT_ZERO_PT, -ETA_AT_ZERO_PT, 0.0]
    assert all(a.shape == (0,) for a in eta_phi_pt(np.zeros(0), np.zeros(0), np.zeros(0)))


# ------------------------------------------------------------------ first per event


@pytest.mark.parametrize("n_events", [0, 1, 7, 200])
@pytest.mark.parametrize(
    ("fill", "dtype"), [(math.nan, np.float64), (0.0, np.float32), (-1.0, np.float64)]
)
def test_first_per_event_matches_a_loop(
    n_events: int, fill: float, dtype: type[np.floating]
) -> None:
    rng = np.random.default_rng(20 + n_events)
    off = offsets_from_counts(_counts(rng, n_events))
    values = rng.normal(0.0, 100.0, int(off[-1]))  # float64: float32 output rounds
    got = first_per_event(off, values, fill=fill, dtype=dtype)
    assert got.dtype == dtype
    assert got.shape == (n_events,)
    for k in range(n_events):
        if off[k + 1] > off[k]:
            assert got[k] == dtype(values[off[k]])
        elif math.isnan(fill):
            assert math.isnan(got[k])
        else:
            assert got[k] == fill


def test_first_per_event_edge_cases() -> None:
    assert first_per_event([0], [], fill=0.0, dtype=np.float32).shape == (0,)  # zero events
    got = first_per_event([0, 0, 0], [], fill=math.nan, dtype=np.float64)  # only empty events
    assert np.isnan(got).all()
    assert got.shape == (2,)
    got_i = first_per_event(np.array([0, 2, 2, 3], np.int32), [7, 8, 9], fill=-1, dtype=np.int64)
    assert got_i.tolist() == [7, -1, 9]


def _ragged_first_per_event_before(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """io.ragged.first_per_event as it was written before it moved to _jagged."""
    counts = np.diff(offsets)
    out = np.full(len(counts), 0.0, dtype=np.float32)
    has = counts > 0
    out[has] = values[offsets[:-1][has]]
    return out


def _metrics_first_per_event_before(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """detector.validation.metrics.first_per_event as it was written before."""
    v = np.asarray(values, dtype=np.float64)
    c = np.diff(offsets)
    out = np.full(len(c), float("nan"), dtype=np.float64)
    has = c > 0
    out[has] = v[offsets[:-1][has]]
    return out


def test_first_per_event_gives_what_its_former_copies_gave() -> None:
    rng = np.random.default_rng(9)
    off = offsets_from_counts(_counts(rng, 50))
    for values in (rng.normal(0, 100, int(off[-1])), rng.normal(0, 1, int(off[-1])).astype("f4")):
        old = _ragged_first_per_event_before(off, values)
        new = first_per_event(off, values, fill=0.0, dtype=np.float32)  # trigger inputs
        assert new.dtype == old.dtype
        assert np.array_equal(new, old)
        old = _metrics_first_per_event_before(values, off)
        new = first_per_event(off, values, fill=np.nan, dtype=np.float64)  # validation
        assert new.dtype == old.dtype
        assert np.array_equal(new, old, equal_nan=True)
