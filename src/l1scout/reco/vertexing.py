"""Reconstructed vertices: gap clustering of track z along the beam line.

Tracks of one event above a pT threshold are ordered in dz (their z at the
point of closest approach to the beam line) and split wherever two neighbours
are further apart than ``z_gap``, the gap-clustering step of the CMS primary
vertex reconstruction (CMS Collaboration, JINST 9 (2014) P10009, Sec. 3.1).
Clusters of at least ``min_tracks`` tracks are vertices: z is the
error-weighted mean of their tracks' dz, ``NDF = 2 n - 3`` (an adaptive fit with
all weights 1), ``SumPT2`` the sum of their pT^2. Vertices are sorted by
``SumPT2`` descending, so the first one is the primary vertex.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F64, I64

__all__ = ["Vertices", "gap_cluster_vertices"]


@dataclass(frozen=True)
class Vertices:
    """Vertices of a batch, sorted by SumPT2 in each event; ``track_vertex`` maps tracks to them.

    ``track_vertex`` holds, for every input track, the local index (in the
    sorted list) of its vertex in its event, or -1.
    """

    offsets: I64
    z: F64
    t: F64
    ndf: npt.NDArray[np.int32]
    sum_pt2: F64
    n_tracks: I64
    track_vertex: I64


@numba.njit(cache=True)
def _cluster(
    offsets: I64,
    dz: F64,
    err: F64,
    pt: F64,
    use: npt.NDArray[np.bool_],
    gap: float,
    min_tracks: int,
) -> tuple[I64, F64, F64, I64, I64]:
    n_ev = len(offsets) - 1
    label = np.full(len(dz), -1, dtype=np.int64)
    max_v = len(dz) // max(min_tracks, 1) + n_ev + 1
    vz = np.zeros(max_v)
    vsum = np.zeros(max_v)
    vn = np.zeros(max_v, dtype=np.int64)
    vevent = np.zeros(max_v, dtype=np.int64)
    nv = 0
    for ev in range(n_ev):
        lo, hi = offsets[ev], offsets[ev + 1]
        idx = np.empty(hi - lo, dtype=np.int64)
        m = 0
        for i in range(lo, hi):
            if use[i]:
                idx[m] = i
                m += 1
        idx = idx[:m]
        if m == 0:
            continue
        order = idx[np.argsort(dz[idx])]
        start = 0
        for k in range(1, m + 1):
            if k == m or dz[order[k]] - dz[order[k - 1]] > gap:
                n = k - start
                if n >= min_tracks:
                    sw = 0.0
                    swz = 0.0
                    s2 = 0.0
                    for j in range(start, k):
                        t = order[j]
                        w = 1.0 / (err[t] * err[t])
                        sw += w
                        swz += w * dz[t]
                        s2 += pt[t] * pt[t]
                        label[t] = nv
                    vz[nv] = swz / sw
                    vsum[nv] = s2
                    vn[nv] = n
                    vevent[nv] = ev
                    nv += 1
                start = k
    return label, vz[:nv], vsum[:nv], vn[:nv], vevent[:nv]


def gap_cluster_vertices(
    offsets: I64,
    dz: F64,
    err_dz: F64,
    pt: F64,
    time: F64 | None,
    *,
    pt_min: float,
    z_gap: float,
    min_tracks: int,
) -> Vertices:
    """Cluster the tracks of a batch into vertices.

    Args:
        offsets: per-event offsets of the tracks.
        dz: track z at closest approach (mm).
        err_dz: its resolution (mm).
        pt: track pT (GeV).
        time: measured track times (s), or None when the view measures no time
            (vertex T is then 0).
        pt_min: tracks at or below this pT take no part.
        z_gap: split distance (mm).
        min_tracks: smallest cluster that is a vertex.

    >>> v = gap_cluster_vertices(np.array([0, 5]), np.array([0.0, 0.01, 5.0, 5.02, 9.0]),
    ...     np.full(5, 0.01), np.array([10.0, 10.0, 1.0, 1.0, 3.0]), None,
    ...     pt_min=0.5, z_gap=0.1, min_tracks=2)
    >>> v.z.round(3).tolist(), v.ndf.tolist(), v.track_vertex.tolist()
    ([0.005, 5.01], [1, 1], [0, 0, 1, 1, -1])
    """
    use = (pt > pt_min) & np.isfinite(dz) & (err_dz > 0)
    label, vz, vsum, vn, vevent = _cluster(
        np.asarray(offsets, np.int64),
        np.asarray(dz, np.float64),
        np.asarray(err_dz, np.float64),
        np.asarray(pt, np.float64),
        use,
        float(z_gap),
        int(min_tracks),
    )
    n_ev = len(offsets) - 1
    vt = np.zeros(len(vz))
    if time is not None and len(vz):
        tracked = label >= 0
        vt = np.bincount(label[tracked], weights=time[tracked], minlength=len(vz)) / np.maximum(
            vn, 1
        )
    order = np.lexsort((-vsum, vevent))
    new_local = np.empty(len(vz), dtype=np.int64)
    counts = np.bincount(vevent, minlength=n_ev)
    v_off = offsets_from_counts(counts)
    new_local[order] = np.arange(len(vz)) - v_off[vevent[order]]
    track_vertex = np.full(len(label), -1, dtype=np.int64)
    ok = label >= 0
    track_vertex[ok] = new_local[label[ok]]
    return Vertices(
        offsets=v_off,
        z=vz[order],
        t=vt[order],
        ndf=(2 * vn[order] - 3).astype(np.int32),
        sum_pt2=vsum[order],
        n_tracks=vn[order],
        track_vertex=track_vertex,
    )
