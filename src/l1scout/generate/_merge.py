"""Compiled kernels that merge the hard collision and its pileup into one pT-ordered particle list.

Each works on a whole batch in one pass per output column, reading the pileup
particles straight from the minimum-bias pool (rotated and displaced on the
fly), so no intermediate merged array is made. They reproduce, bit for bit, the
numpy expressions of the slow reference kept with the tests
(``tests/generate/_assemble_reference.py``): the same operations in the same
order, and ``np.round(x, d)`` as ``rint(x * 10**d) / 10**d`` as numpy does it.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from l1scout._types import F32, F64, I32, I64


@numba.njit(cache=True)
def merged_pt(
    offsets: I64,
    n_hard: I64,
    hard_off: I64,
    h_pt: F64,
    part_offsets: I64,
    source: I64,
    pool_pt: F64,
) -> F64:  # pragma: no cover - compiled
    """The pT of every particle in merged order: each event's hard particles, then its pileup."""
    out = np.empty(offsets[-1])
    for ev in range(len(offsets) - 1):
        o = offsets[ev]
        nh = n_hard[ev]
        for i in range(nh):
            out[o + i] = h_pt[hard_off[ev] + i]
        po = part_offsets[ev]
        for i in range(part_offsets[ev + 1] - po):
            out[o + nh + i] = pool_pt[source[po + i]]
    return out


@numba.njit(cache=True)
def _round(x: float, scale: float) -> float:  # pragma: no cover - compiled
    return float(np.rint(x * scale) / scale)


@numba.njit(cache=True)
def gather_particles(
    offsets: I64,
    n_hard: I64,
    hard_off: I64,
    part_offsets: I64,
    new_local: I64,
    hard_f: F64,
    hard_i: I32,
    source: I64,
    collision: I64,
    pu_vertex: I32,
    pu_phi: F64,
    pool_pt: F64,
    pool_eta: F64,
    pool_mass: F32,
    pool_vx: F32,
    pool_vy: F32,
    pool_vz: F32,
    pool_vt: F32,
    pool_pid: I32,
    pool_charge: npt.NDArray[np.int8],
    cos_c: F64,
    sin_c: F64,
    z_c: F64,
    t_c: F64,
    beamspot_x: float,
    beamspot_y: float,
    c_mm_per_ps: float,
    c_mm_per_s: float,
) -> tuple[F64, I32, npt.NDArray[np.int8]]:  # pragma: no cover - compiled
    """The particle columns in pT order (``new_local``: every merged particle's place in its event).

    ``hard_f`` rows: pt, eta, phi, mass, x, y, z, t (c t in mm) of the kept hard
    particles, beam spot and vertex already added; ``hard_i`` rows: pid, status,
    charge. The ``pool_*`` arrays are the pool's (float32 ones widened exactly).

    Returns ``f`` (rows PT, Eta, Phi, Mass, X, Y, Z, T), ``i32`` (rows PID,
    VertexIndex) and ``i8`` (rows Status, Charge, IsPU).
    """
    n = len(new_local)
    f = np.empty((8, n))
    i32 = np.empty((2, n), dtype=np.int32)
    i8 = np.empty((3, n), dtype=np.int8)
    for ev in range(len(offsets) - 1):
        o = offsets[ev]
        nh = n_hard[ev]
        # read in merged order (the pool's particles one collision after the other),
        # write each particle to its slot in pT order
        for j in range(nh):
            k = o + new_local[o + j]
            h = hard_off[ev] + j
            f[0, k] = hard_f[0, h]
            f[1, k] = hard_f[1, h]
            f[2, k] = hard_f[2, h]
            f[3, k] = hard_f[3, h]
            f[4, k] = _round(hard_f[4, h], 1e3)
            f[5, k] = _round(hard_f[5, h], 1e3)
            f[6, k] = _round(hard_f[6, h], 1e3)
            f[7, k] = _round(hard_f[7, h] / c_mm_per_s, 1e15)
            i32[0, k] = hard_i[0, h]
            i32[1, k] = 0
            i8[0, k] = hard_i[1, h]
            i8[1, k] = hard_i[2, h]
            i8[2, k] = 0
        po = part_offsets[ev]
        for j in range(part_offsets[ev + 1] - po):
            k = o + new_local[o + nh + j]
            p = po + j
            s = source[p]
            c = collision[p]
            vx = np.float64(pool_vx[s])
            vy = np.float64(pool_vy[s])
            f[0, k] = pool_pt[s]
            f[1, k] = pool_eta[s]
            f[2, k] = pu_phi[p]
            f[3, k] = np.float64(pool_mass[s])
            f[4, k] = _round(cos_c[c] * vx - sin_c[c] * vy + beamspot_x, 1e3)
            f[5, k] = _round(sin_c[c] * vx + cos_c[c] * vy + beamspot_y, 1e3)
            f[6, k] = _round(np.float64(pool_vz[s]) + z_c[c], 1e3)
            t_mm = np.float64(pool_vt[s]) + t_c[c] * c_mm_per_ps
            f[7, k] = _round(t_mm / c_mm_per_s, 1e15)
            i32[0, k] = pool_pid[s]
            i32[1, k] = pu_vertex[p]
            i8[0, k] = 1
            i8[1, k] = pool_charge[s]
            i8[2, k] = 1
    return f, i32, i8


@numba.njit(cache=True)
def gather_links(
    offsets: I64, n_hard: I64, hard_off: I64, perm: I64, new_local: I64, links: I32
) -> I32:  # pragma: no cover - compiled
    """M1, M2, D1, D2 (rows of *links*, local to the kept hard list) in pT order; -1 for pileup."""
    n = len(perm)
    out = np.full((4, n), -1, dtype=np.int32)
    for ev in range(len(offsets) - 1):
        o = offsets[ev]
        nh = n_hard[ev]
        for k in range(o, offsets[ev + 1]):
            local = perm[k] - o
            if local < nh:
                h = hard_off[ev] + local
                for r in range(4):
                    link = links[r, h]
                    if link >= 0:
                        out[r, k] = new_local[o + link]
    return out


@numba.njit(cache=True)
def vertex_sums(
    n_hard: I64,
    hard_off: I64,
    h_pt: F64,
    h_status: npt.NDArray[np.int8],
    h_charge: npt.NDArray[np.int8],
    part_offsets: I64,
    source: I64,
    pu_vertex: I32,
    pool_pt: F64,
    pool_charge: npt.NDArray[np.int8],
    vtx_off: I64,
) -> tuple[I64, F64]:  # pragma: no cover - compiled
    """Charged final-state particles and their sum of pT^2 per true vertex, summed in merged order."""
    n_v = vtx_off[-1]
    ndf = np.zeros(n_v, dtype=np.int64)
    sumpt2 = np.zeros(n_v)
    for ev in range(len(n_hard)):
        v0 = vtx_off[ev]
        for i in range(hard_off[ev], hard_off[ev] + n_hard[ev]):
            if h_status[i] == 1 and h_charge[i] != 0:
                ndf[v0] += 1
                sumpt2[v0] += h_pt[i] * h_pt[i]
        for p in range(part_offsets[ev], part_offsets[ev + 1]):
            s = source[p]
            if pool_charge[s] != 0:
                g = v0 + pu_vertex[p]
                ndf[g] += 1
                sumpt2[g] += pool_pt[s] * pool_pt[s]
    return ndf, sumpt2
