"""Tests of l1scout.reco.particleflow: merging tracks and neutrals into sorted candidates.

Inputs are small hand-made ``Tracks`` and ``NeutralCandidates``; the expected
candidates of every event are built by a slow pure-Python merge and compared
field by field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.detector.calorimeter import NeutralCandidates
from l1scout.detector.particles import GenParticles
from l1scout.detector.tracking import Tracks
from l1scout.reco.particleflow import Candidates, build_candidates

F64 = npt.NDArray[np.float64]
BASE = 1 << 31


def _gen(counts: list[int]) -> GenParticles:
    n = sum(counts)
    offsets = offsets_from_counts(np.array(counts))
    z = np.zeros(n)
    return GenParticles(
        offsets=offsets,
        pid=np.full(n, 211, np.int32),
        status=np.ones(n, np.int8),
        pt=np.ones(n),
        eta=z.copy(),
        phi=z.copy(),
        mass=np.full(n, 0.13957),
        charge=np.ones(n, np.int8),
        is_pu=np.zeros(n, np.int8),
        x=z.copy(),
        y=z.copy(),
        z=z.copy(),
        t=z.copy(),
        vertex_index=np.zeros(n, np.int32),
    )


def _tracks(
    gen: GenParticles, gidx: list[int], pt: list[float], rng: np.random.Generator
) -> Tracks:
    n = len(gidx)
    g = np.array(gidx, dtype=np.int64)
    counts = (
        np.bincount(gen.event[g], minlength=gen.n_events) if n else np.zeros(gen.n_events, np.int64)
    )
    return Tracks(
        offsets=offsets_from_counts(counts),
        gen=g,
        pt=np.array(pt, dtype=np.float64),
        eta=rng.uniform(-2, 2, n),
        phi=rng.uniform(-3, 3, n),
        mass=rng.choice([0.13957, 0.000511, 0.10566], n),
        charge=rng.choice(np.array([-1, 1], np.int8), n),
        pid=rng.choice(np.array([211, -11, 13], np.int32), n),
        is_pu=rng.choice(np.array([0, 1], np.int8), n),
        kind=np.full(n, 2, np.int8),
        sigma_pt=np.full(n, 0.01),
        d0=rng.normal(0, 0.01, n),
        dz=rng.normal(0, 50, n),
        err_d0=np.full(n, 0.01),
        err_dz=rng.uniform(0.01, 0.1, n),
        surface_eta=np.zeros(n),
        surface_phi=np.zeros(n),
    )


def _neutrals(
    event: list[int], energy: list[float], eta: list[float], is_pu: list[int]
) -> NeutralCandidates:
    n = len(event)
    return NeutralCandidates(
        event=np.array(event, dtype=np.int64),
        energy=np.array(energy, dtype=np.float64),
        eta=np.array(eta, dtype=np.float64),
        phi=np.linspace(-3, 3, n),
        is_pu=np.array(is_pu, dtype=np.int8),
    )


def _slow(
    gen: GenParticles,
    tracks: Tracks,
    ecal: NeutralCandidates,
    hcal: NeutralCandidates,
    photon_pid: int,
    hadron_pid: int,
    max_candidates: int,
) -> list[list[dict[str, Any]]]:
    """Per event: every track and neutral as a dict, sorted by pT descending, cut to max_candidates."""
    events: list[list[dict[str, Any]]] = [[] for _ in range(gen.n_events)]
    for i, g in enumerate(tracks.gen.tolist()):
        ev = int(np.searchsorted(gen.offsets, g, side="right") - 1)
        events[ev].append(
            {
                "uid": g - int(gen.offsets[ev]) + 1,
                "pt": float(tracks.pt[i]),
                "pid": int(tracks.pid[i]),
                "charge": int(tracks.charge[i]),
                "mass": float(tracks.mass[i]),
                "energy": math.sqrt(
                    (tracks.pt[i] * math.cosh(tracks.eta[i])) ** 2 + tracks.mass[i] ** 2
                ),
                "eta": float(tracks.eta[i]),
                "dz": float(tracks.dz[i]),
                "is_pu": int(tracks.is_pu[i]),
                "gen": g,
            }
        )
    for calo, neutral, pid in ((0, ecal, photon_pid), (1, hcal, hadron_pid)):
        seen = [0] * gen.n_events
        for i, ev in enumerate(neutral.event.tolist()):
            events[ev].append(
                {
                    "uid": BASE + calo * (1 << 30) + seen[ev],
                    "pt": float(neutral.energy[i] / math.cosh(neutral.eta[i])),
                    "pid": pid,
                    "charge": 0,
                    "mass": 0.0,
                    "energy": float(neutral.energy[i]),
                    "eta": float(neutral.eta[i]),
                    "dz": 0.0,
                    "is_pu": int(neutral.is_pu[i]),
                    "gen": -1,
                }
            )
            seen[ev] += 1
    out = []
    for cands in events:
        cands.sort(key=lambda c: -c["pt"])
        out.append(cands[:max_candidates] if max_candidates > 0 else cands)
    return out


def _check(c: Candidates, ref: list[list[dict[str, Any]]]) -> None:
    assert c.offsets.tolist() == offsets_from_counts(np.array([len(e) for e in ref])).tolist()
    flat = [cand for ev in ref for cand in ev]
    for key in ("uid", "pid", "charge", "is_pu", "gen"):
        assert getattr(c, key).tolist() == [x[key] for x in flat], key
    for key in ("pt", "mass", "energy", "eta", "dz"):
        np.testing.assert_allclose(getattr(c, key), [x[key] for x in flat], rtol=1e-12, err_msg=key)
    assert c.uid.dtype == np.uint32
    assert (c.is_reco_pu == 0).all()
    assert (c.puppi_w == 1).all()
    neutral = c.gen < 0
    assert (c.d0[neutral] == 0).all()
    assert (c.err_dz[neutral] == 0).all()


@pytest.fixture
def inputs() -> tuple[GenParticles, Tracks, NeutralCandidates, NeutralCandidates]:
    rng = np.random.default_rng(8)
    gen = _gen([5, 0, 4, 3])  # events 0..3; event 1 has no generated particles
    # global indices 0..4 (event 0), 5..8 (event 2), 9..11 (event 3)
    tracks = _tracks(gen, [0, 2, 4, 6, 7, 8, 11], [3.0, 12.0, 0.7, 5.0, 1.0, 40.0, 2.5], rng)
    ecal = _neutrals(
        [0, 0, 2, 3, 3, 3],
        [8.0, 1.0, 60.0, 2.0, 30.0, 4.0],
        [0.1, -1.0, 2.0, 0.0, 0.5, -0.2],
        [0, 1, 0, 1, 0, 0],
    )
    hcal = _neutrals([0, 1, 1, 3], [20.0, 9.0, 3.0, 15.0], [0.3, -0.5, 1.5, 4.0], [1, 0, 0, 1])
    return gen, tracks, ecal, hcal


def test_merge_sort_and_ids(
    inputs: tuple[GenParticles, Tracks, NeutralCandidates, NeutralCandidates],
) -> None:
    gen, tracks, ecal, hcal = inputs
    c = build_candidates(
        gen, tracks, ecal, hcal, photon_pid=22, neutral_hadron_pid=0, max_candidates=0
    )
    _check(c, _slow(gen, tracks, ecal, hcal, 22, 0, 0))
    assert c.n_events == 4
    assert c.offsets.tolist() == [0, 6, 8, 12, 17]
    for k in range(c.n_events):
        pt = c.pt[c.offsets[k] : c.offsets[k + 1]]
        assert np.all(np.diff(pt) <= 0)
    # fUniqueID: 1 + index in the event for tracks; >= 2^31 for neutrals, HCAL ones >= 2^31 + 2^30
    track = c.gen >= 0
    assert c.uid[track].tolist() == (gen.index[c.gen[track]] + 1).tolist()
    assert (c.uid[track] < BASE).all()
    assert (c.uid[~track] >= BASE).all()
    hcal_like = c.uid >= BASE + (1 << 30)
    assert (c.pid[hcal_like] == 0).all()
    assert (c.pid[~track & ~hcal_like] == 22).all()
    assert hcal_like.sum() == 4
    # uids are unique within each event
    for k in range(c.n_events):
        u = c.uid[c.offsets[k] : c.offsets[k + 1]]
        assert len(set(u.tolist())) == len(u)
    # neutrals: massless, pT = E / cosh(eta)
    np.testing.assert_allclose(c.pt[~track], c.energy[~track] / np.cosh(c.eta[~track]))
    assert (c.mass[~track] == 0).all()
    assert (c.charge[~track] == 0).all()
    np.testing.assert_allclose(c.px**2 + c.py**2, c.pt**2)


def test_neutral_ids_from_the_card(
    inputs: tuple[GenParticles, Tracks, NeutralCandidates, NeutralCandidates],
) -> None:
    gen, tracks, ecal, hcal = inputs
    c = build_candidates(
        gen, tracks, ecal, hcal, photon_pid=22, neutral_hadron_pid=130, max_candidates=0
    )
    _check(c, _slow(gen, tracks, ecal, hcal, 22, 130, 0))
    assert sorted(c.pid[c.gen < 0].tolist()) == [22] * 6 + [130] * 4


@pytest.mark.parametrize("cap", [1, 2, 3, 5, 100])
def test_max_candidates_keeps_the_highest_pt(
    inputs: tuple[GenParticles, Tracks, NeutralCandidates, NeutralCandidates], cap: int
) -> None:
    gen, tracks, ecal, hcal = inputs
    c = build_candidates(
        gen, tracks, ecal, hcal, photon_pid=22, neutral_hadron_pid=0, max_candidates=cap
    )
    ref = _slow(gen, tracks, ecal, hcal, 22, 0, cap)
    _check(c, ref)
    full = build_candidates(
        gen, tracks, ecal, hcal, photon_pid=22, neutral_hadron_pid=0, max_candidates=0
    )
    for k in range(4):
        kept = c.pt[c.offsets[k] : c.offsets[k + 1]]
        all_pt = np.sort(full.pt[full.offsets[k] : full.offsets[k + 1]])[::-1]
        np.testing.assert_array_equal(kept, all_pt[:cap])
    assert np.diff(c.offsets).max() <= cap


def test_random_batch_matches_slow_merge() -> None:
    rng = np.random.default_rng(77)
    counts = rng.integers(0, 40, 30).tolist()
    gen = _gen(counts)
    n = sum(counts)
    gidx = np.sort(rng.choice(n, size=n // 2, replace=False)).tolist()
    tracks = _tracks(gen, gidx, rng.exponential(3.0, len(gidx)).tolist(), rng)
    n_e, n_h = 150, 90
    ecal = _neutrals(
        np.sort(rng.integers(0, 30, n_e)).tolist(), rng.exponential(5.0, n_e).tolist(),
        rng.uniform(-3, 3, n_e).tolist(), rng.integers(0, 2, n_e).tolist(),
    )  # fmt: skip
    hcal = _neutrals(
        np.sort(rng.integers(0, 30, n_h)).tolist(), rng.exponential(8.0, n_h).tolist(),
        rng.uniform(-5, 5, n_h).tolist(), rng.integers(0, 2, n_h).tolist(),
    )  # fmt: skip
    for cap in (0, 7):
        c = build_candidates(
            gen, tracks, ecal, hcal, photon_pid=22, neutral_hadron_pid=0, max_candidates=cap
        )
        _check(c, _slow(gen, tracks, ecal, hcal, 22, 0, cap))


def test_no_input_at_all() -> None:
    gen = _gen([0, 0])
    rng = np.random.default_rng(1)
    tracks = _tracks(gen, [], [], rng)
    none = _neutrals([], [], [], [])
    c = build_candidates(
        gen, tracks, none, none, photon_pid=22, neutral_hadron_pid=0, max_candidates=1000
    )
    assert c.offsets.tolist() == [0, 0, 0]
    assert len(c.pt) == 0
    assert c.uid.dtype == np.uint32


def test_take_keeps_grouping_and_order(
    inputs: tuple[GenParticles, Tracks, NeutralCandidates, NeutralCandidates],
) -> None:
    gen, tracks, ecal, hcal = inputs
    c = build_candidates(
        gen, tracks, ecal, hcal, photon_pid=22, neutral_hadron_pid=0, max_candidates=0
    )
    keep = c.charge != 0
    t = c.take(keep)
    assert t.n_events == c.n_events == 4
    assert t.offsets.tolist() == [0, 3, 3, 6, 7]  # event 1 has only neutrals
    for field in ("uid", "pt", "eta", "phi", "energy", "gen", "dz", "is_pu", "puppi_w"):
        np.testing.assert_array_equal(getattr(t, field), getattr(c, field)[keep], err_msg=field)
    np.testing.assert_array_equal(t.event, c.event[keep])
    # taking everything or nothing
    all_ = c.take(np.ones(len(c.pt), bool))
    np.testing.assert_array_equal(all_.offsets, c.offsets)
    np.testing.assert_array_equal(all_.pt, c.pt)
    empty = c.take(np.zeros(len(c.pt), bool))
    assert empty.offsets.tolist() == [0, 0, 0, 0, 0]
    assert len(empty.uid) == 0
    # take of a take
    tt = t.take(t.pt > 4.0)
    np.testing.assert_array_equal(tt.pt, c.pt[keep & (c.pt > 4.0)])
    np.testing.assert_array_equal(
        tt.offsets, offsets_from_counts(np.bincount(c.event[keep & (c.pt > 4.0)], minlength=4))
    )
