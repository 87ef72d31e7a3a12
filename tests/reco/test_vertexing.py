"""Tests of l1scout.reco.vertexing against a slow pure-Python gap clustering and hand-made events."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from l1scout.reco.vertexing import Vertices, gap_cluster_vertices

F64 = npt.NDArray[np.float64]


# ---------------------------------------------------------------- slow reference


def _slow(
    offsets: list[int],
    dz: list[float],
    err: list[float],
    pt: list[float],
    time: list[float] | None,
    pt_min: float,
    gap: float,
    min_tracks: int,
) -> dict[str, Any]:
    """Sort each event's usable tracks in z, split on gaps > gap, keep clusters of >= min_tracks,
    z = 1/err^2-weighted mean, t = mean time, NDF = 2n - 3, SumPT2; sort by SumPT2 descending."""
    out: dict[str, Any] = {"offsets": [0], "z": [], "t": [], "ndf": [], "sum_pt2": [], "n": []}
    track_vertex = [-1] * len(dz)
    for ev in range(len(offsets) - 1):
        usable = [
            i
            for i in range(offsets[ev], offsets[ev + 1])
            if pt[i] > pt_min and math.isfinite(dz[i]) and err[i] > 0
        ]
        usable.sort(key=lambda i: dz[i])
        clusters: list[list[int]] = []
        for i in usable:
            if clusters and dz[i] - dz[clusters[-1][-1]] <= gap:
                clusters[-1].append(i)
            else:
                clusters.append([i])
        vertices: list[dict[str, Any]] = []
        for c in clusters:
            if len(c) < min_tracks:
                continue
            w = [1.0 / err[i] ** 2 for i in c]
            vertices.append(
                {
                    "z": sum(wi * dz[i] for wi, i in zip(w, c, strict=True)) / sum(w),
                    "t": (sum(time[i] for i in c) / len(c)) if time is not None else 0.0,
                    "ndf": 2 * len(c) - 3,
                    "sum_pt2": sum(pt[i] ** 2 for i in c),
                    "n": len(c),
                    "tracks": c,
                }
            )
        vertices.sort(key=lambda v: -v["sum_pt2"])
        for k, v in enumerate(vertices):
            for key in ("z", "t", "ndf", "sum_pt2"):
                out[key].append(v[key])
            out["n"].append(v["n"])
            for i in v["tracks"]:
                track_vertex[i] = k
        out["offsets"].append(out["offsets"][-1] + len(vertices))
    out["track_vertex"] = track_vertex
    return out


def _check(v: Vertices, ref: dict[str, Any]) -> None:
    assert v.offsets.tolist() == ref["offsets"]
    np.testing.assert_allclose(v.z, ref["z"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v.t, ref["t"], rtol=1e-12, atol=1e-24)
    assert v.ndf.tolist() == ref["ndf"]
    np.testing.assert_allclose(v.sum_pt2, ref["sum_pt2"], rtol=1e-12)
    assert v.n_tracks.tolist() == ref["n"]
    assert v.track_vertex.tolist() == ref["track_vertex"]


def _random_events(seed: int, n_events: int = 25) -> tuple[list[int], F64, F64, F64, F64]:
    rng = np.random.default_rng(seed)
    offsets = [0]
    dz: list[float] = []
    for ev in range(n_events):
        if ev in (3, 11):
            n = 0  # empty events
        elif ev == 7:
            n = 1
        else:
            n = int(rng.integers(2, 300))
        n_vtx = int(rng.integers(1, 25))
        vz = rng.normal(0.0, 50.0, n_vtx)
        z = vz[rng.integers(0, n_vtx, n)] + rng.normal(0.0, 0.05, n)
        dz += z.tolist()
        offsets.append(offsets[-1] + n)
    n_tot = offsets[-1]
    err = rng.uniform(0.01, 0.1, n_tot)
    pt = np.exp(rng.uniform(np.log(0.1), np.log(50.0), n_tot))
    t = rng.normal(0.0, 200e-12, n_tot)
    return offsets, np.array(dz), err, pt, t


# ---------------------------------------------------------------- against the reference


@pytest.mark.parametrize(
    ("seed", "pt_min", "gap", "min_tracks", "with_time"),
    [
        (1, 0.5, 0.15, 2, True),
        (2, 2.0, 1.5, 2, False),
        (3, 0.0, 0.15, 1, True),
        (4, 0.5, 0.05, 4, True),
    ],
)
def test_matches_slow_gap_clustering(
    seed: int, pt_min: float, gap: float, min_tracks: int, with_time: bool
) -> None:
    offsets, dz, err, pt, t = _random_events(seed)
    v = gap_cluster_vertices(
        np.array(offsets),
        dz,
        err,
        pt,
        t if with_time else None,
        pt_min=pt_min,
        z_gap=gap,
        min_tracks=min_tracks,
    )
    ref = _slow(
        offsets,
        dz.tolist(),
        err.tolist(),
        pt.tolist(),
        t.tolist() if with_time else None,
        pt_min,
        gap,
        min_tracks,
    )
    _check(v, ref)
    assert len(v.z) > 50  # the events make many vertices
    # SumPT2 descending in every event
    for k in range(len(offsets) - 1):
        s = v.sum_pt2[v.offsets[k] : v.offsets[k + 1]]
        assert np.all(np.diff(s) <= 0)


def test_docstring_event_by_hand() -> None:
    v = gap_cluster_vertices(
        np.array([0, 5]),
        np.array([0.0, 0.01, 5.0, 5.02, 9.0]),
        np.array([0.01, 0.02, 0.01, 0.01, 0.01]),
        np.array([10.0, 10.0, 1.0, 1.0, 3.0]),
        None,
        pt_min=0.5,
        z_gap=0.1,
        min_tracks=2,
    )
    # weights 1/0.01^2 and 1/0.02^2: z = (0 * 4 + 0.01 * 1) / 5
    np.testing.assert_allclose(v.z, [0.002, 5.01], rtol=1e-12)
    assert v.sum_pt2.tolist() == [200.0, 2.0]
    assert v.ndf.tolist() == [1, 1]
    assert v.n_tracks.tolist() == [2, 2]
    assert v.track_vertex.tolist() == [0, 0, 1, 1, -1]
    assert v.t.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------- the rules, by hand


def test_pt_threshold_excludes_tracks_at_or_below() -> None:
    dz = np.array([0.0, 0.01, 0.02, 0.03])
    v = gap_cluster_vertices(
        np.array([0, 4]), dz, np.full(4, 0.01), np.array([0.5, 0.6, 0.7, 0.4]), None,
        pt_min=0.5, z_gap=0.1, min_tracks=2,
    )  # fmt: skip
    assert v.n_tracks.tolist() == [2]
    assert v.sum_pt2[0] == pytest.approx(0.6**2 + 0.7**2)
    np.testing.assert_allclose(v.z, [0.015])
    assert v.track_vertex.tolist() == [-1, 0, 0, -1]


def test_min_tracks() -> None:
    dz = np.array([0.0, 0.01, 3.0, 3.01, 3.02])
    args = (np.array([0, 5]), dz, np.full(5, 0.01), np.full(5, 1.0), None)
    v3 = gap_cluster_vertices(*args, pt_min=0.5, z_gap=0.1, min_tracks=3)
    assert v3.n_tracks.tolist() == [3]
    assert v3.ndf.tolist() == [3]
    assert v3.track_vertex.tolist() == [-1, -1, 0, 0, 0]
    v2 = gap_cluster_vertices(*args, pt_min=0.5, z_gap=0.1, min_tracks=2)
    assert sorted(v2.n_tracks.tolist()) == [2, 3]
    # a second event with a big cluster: the 3-track one of event 0 is still not a vertex at 4
    v4 = gap_cluster_vertices(
        np.array([0, 5, 9]), np.concatenate([dz, [1.0, 1.01, 1.02, 1.03]]), np.full(9, 0.01),
        np.full(9, 1.0), None, pt_min=0.5, z_gap=0.1, min_tracks=4,
    )  # fmt: skip
    assert v4.offsets.tolist() == [0, 0, 1]
    assert v4.n_tracks.tolist() == [4]
    assert v4.track_vertex.tolist() == [-1] * 5 + [0] * 4


def test_gap_is_a_strict_inequality_and_chains() -> None:
    # neighbours exactly z_gap apart stay together; a chain of small steps is one cluster
    dz = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 2.0])
    v = gap_cluster_vertices(
        np.array([0, 6]), dz, np.full(6, 0.01), np.full(6, 1.0), None,
        pt_min=0.0, z_gap=0.25, min_tracks=2,
    )  # fmt: skip
    assert v.n_tracks.tolist() == [5]
    assert v.track_vertex.tolist() == [0, 0, 0, 0, 0, -1]


def test_unsorted_input_and_sorting_by_sumpt2() -> None:
    # input order is not z order; the high-pT cluster (z ~ 10) comes first
    dz = np.array([10.02, -4.0, 10.0, -4.01, -3.99])
    pt = np.array([20.0, 1.0, 30.0, 2.0, 1.5])
    v = gap_cluster_vertices(
        np.array([0, 5]), dz, np.full(5, 0.02), pt, None, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    np.testing.assert_allclose(v.z, [10.01, -4.0], atol=1e-12)
    assert v.track_vertex.tolist() == [0, 1, 0, 1, 1]
    assert v.sum_pt2.tolist() == [1300.0, pytest.approx(1.0 + 4.0 + 2.25)]


def test_time_is_the_mean_of_the_vertex_tracks() -> None:
    dz = np.array([0.0, 0.01, 0.02, 5.0, 5.01, 9.0])
    t = np.array([1e-10, 2e-10, 6e-10, -3e-10, -1e-10, 7e-9])
    pt = np.array([5.0, 5.0, 5.0, 1.0, 1.0, 1.0])
    v = gap_cluster_vertices(
        np.array([0, 6]), dz, np.full(6, 0.01), pt, t, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    np.testing.assert_allclose(v.t, [3e-10, -2e-10], rtol=1e-12)
    # a track below threshold takes no part in the time either
    pt[2] = 0.1
    v = gap_cluster_vertices(
        np.array([0, 6]), dz, np.full(6, 0.01), pt, t, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    np.testing.assert_allclose(v.t, [1.5e-10, -2e-10], rtol=1e-12)


def test_bad_tracks_take_no_part() -> None:
    dz = np.array([0.0, np.nan, 0.01, 0.02])
    err = np.array([0.01, 0.01, 0.0, 0.01])
    v = gap_cluster_vertices(
        np.array([0, 4]), dz, err, np.full(4, 3.0), None, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    assert v.n_tracks.tolist() == [2]
    assert v.track_vertex.tolist() == [0, -1, -1, 0]
    np.testing.assert_allclose(v.z, [0.01])


def test_events_are_kept_apart() -> None:
    # the same z in two events: two vertices, one per event
    dz = np.array([1.0, 1.01, 1.0, 1.01, 1.02])
    pt = np.array([1.0, 1.0, 2.0, 2.0, 2.0])
    v = gap_cluster_vertices(
        np.array([0, 2, 2, 5]), dz, np.full(5, 0.01), pt, None, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    assert v.offsets.tolist() == [0, 1, 1, 2]
    assert v.n_tracks.tolist() == [2, 3]
    assert v.track_vertex.tolist() == [0, 0, 0, 0, 0]


def test_empty_events_and_empty_batch() -> None:
    empty = np.zeros(0)
    v = gap_cluster_vertices(
        np.array([0, 0, 0]), empty, empty, empty, empty, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    assert v.offsets.tolist() == [0, 0, 0]
    assert len(v.z) == len(v.t) == len(v.ndf) == len(v.sum_pt2) == len(v.track_vertex) == 0
    v = gap_cluster_vertices(
        np.array([0]), empty, empty, empty, None, pt_min=0.5, z_gap=0.1, min_tracks=2
    )
    assert v.offsets.tolist() == [0]
    assert len(v.z) == 0


@pytest.mark.parametrize(
    ("pt", "min_tracks"),
    [
        ([0.2, 0.2, 0.2], 2),  # every track below the pT threshold
        ([3.0, 3.0, 3.0], 4),  # a cluster smaller than min_tracks
        ([3.0, 0.2, 0.2], 2),  # a single usable track
    ],
)
def test_batch_with_tracks_but_no_vertex(pt: list[float], min_tracks: int) -> None:
    """No vertex anywhere in the batch: every track gets -1 (no crash)."""
    v = gap_cluster_vertices(
        np.array([0, 1, 3]), np.array([0.0, 0.01, 0.02]), np.full(3, 0.01), np.array(pt), np.zeros(3),
        pt_min=0.5, z_gap=0.1, min_tracks=min_tracks,
    )  # fmt: skip
    assert v.offsets.tolist() == [0, 0, 0]
    assert len(v.z) == len(v.t) == 0
    assert v.track_vertex.tolist() == [-1, -1, -1]
