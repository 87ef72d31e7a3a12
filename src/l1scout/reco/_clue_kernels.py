"""Compiled CLUE kernels on flat batches: grid index, density, nearest higher, assignment.

Private to :mod:`l1scout.reco.clue`, which validates the inputs and documents
the rules. Every stage is a pure function of arrays over a batch of events
(``offsets``, length n_events + 1) and runs the events in parallel (``prange``);
within an event the work is sequential. Two-dimensional events take the
kernels of :mod:`l1scout.reco._clue_2d`; other dimensions a generic odometer
over the tiles here.

Grid index of an event: tiles of width ``w[k] >= side`` in every dimension
(``side`` a little above dc, widened only to keep at most ``2 n + 64`` tiles).
A periodic dimension of period P has ``floor(P / side)`` tiles over one period;
an open one tiles the event's bounding box. Points are sorted by tile (a stable
counting sort) and their (reduced) coordinates copied in that order, one
contiguous array per dimension, so a neighbour search reads contiguous memory:
a run of tiles along the last dimension is one range of points.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from l1scout._types import F64, I64, B
from l1scout.reco._clue_2d import EPS, comp, density_2d, higher, nearest_higher_2d

__all__: list[str] = []

_CAP_FACTOR = 2
_CAP_MIN = 64
# the first nearest-higher search looks within this fraction of the tile width
_INNER = 0.5


@numba.njit(cache=True)
def _event_grid(
    x: F64, a: int, b: int, period: F64, side: float, lo: F64, w: F64, nt: I64
) -> int:  # pragma: no cover - compiled
    """Tile layout of points ``a:b`` (rows of *x*): fills ``lo``, ``w``, ``nt``; returns the cells.

    Tiles are ``side`` wide (a periodic dimension: the period over
    ``floor(P / side)`` tiles), widened until there are at most
    ``2 n + 64`` of them.
    """
    d = x.shape[1]
    n = b - a
    span = np.zeros(d)
    hi = np.zeros(d)
    for k in range(d):
        lo[k] = x[a, k] if n > 0 else 0.0
        hi[k] = lo[k]
    for i in range(a + 1, b):
        for k in range(d):
            v = x[i, k]
            lo[k] = min(lo[k], v)
            hi[k] = max(hi[k], v)
    for k in range(d):
        if period[k] > 0.0:
            lo[k] = 0.0
        else:
            span[k] = hi[k] - lo[k]
    cap = float(_CAP_FACTOR * n + _CAP_MIN)
    s = side
    for k in range(d):
        s = max(s, span[k] / cap)  # at most cap + 1 tiles in any open dimension
    while True:
        total = 1.0
        for k in range(d):
            if period[k] > 0.0:
                c = max(1.0, np.floor(period[k] / s))
                w[k] = period[k] / c
            else:
                c = np.floor(span[k] / s) + 1.0
                w[k] = s
            total *= c
            nt[k] = np.int64(min(c, cap + 1.0))
        if total <= cap:
            break
        s *= max(1.01, (total / cap) ** (1.0 / d))
    cells = 1
    for k in range(d):
        cells *= nt[k]
    return cells


@numba.njit(cache=True, inline="always")
def _reduce(v: float, p: float) -> float:  # pragma: no cover - compiled
    """A coordinate of period *p* reduced to [0, p); unchanged when ``p == 0`` (open)."""
    return v - p * np.floor(v / p) if p > 0.0 else v


@numba.njit(cache=True, parallel=True)
def build_index(
    x: F64, wt: F64, offsets: I64, period: F64, side: float
) -> tuple[F64, F64, I64, F64, F64, I64, I64, I64, I64]:  # pragma: no cover - compiled
    """Grid index of every event of a batch; *x* is (n, d), *period* 0 for an open dimension.

    Returns ``(xs, ws, order, lo, w, nt, strides, start, sbase)``: ``xs`` (d, n)
    the reduced coordinates and ``ws`` the weights sorted by tile within each
    event, ``order[p]`` the global index of sorted entry ``p``; per event ``e``
    the tile layout ``lo[e]``, ``w[e]``, ``nt[e]``, ``strides[e]`` (last
    dimension fastest) and the cell boundaries ``start[sbase[e] + c]``
    (positions relative to the event's first entry), ``c = 0 .. n_cells``.
    """
    n, d = x.shape
    n_ev = offsets.shape[0] - 1
    lo = np.zeros((n_ev, d))
    w = np.ones((n_ev, d))
    nt = np.ones((n_ev, d), np.int64)
    strides = np.ones((n_ev, d), np.int64)
    ncell = np.zeros(n_ev, np.int64)
    for e in numba.prange(n_ev):
        ncell[e] = _event_grid(x, offsets[e], offsets[e + 1], period, side, lo[e], w[e], nt[e])
        for k in range(d - 2, -1, -1):
            strides[e, k] = strides[e, k + 1] * nt[e, k + 1]
    sbase = np.zeros(n_ev + 1, np.int64)
    for e in range(n_ev):
        sbase[e + 1] = sbase[e] + ncell[e] + 1
    start = np.zeros(sbase[n_ev], np.int64)
    order = np.empty(n, np.int64)
    xs = np.empty((d, n))
    ws = np.empty(n)
    for e in numba.prange(n_ev):
        a = offsets[e]
        b = offsets[e + 1]
        s0 = sbase[e]
        cell = np.empty(b - a, np.int64)
        iw = np.empty(d)
        for k in range(d):
            iw[k] = 1.0 / w[e, k]
        for i in range(a, b):
            c = 0
            for k in range(d):
                v = _reduce(x[i, k], period[k])
                f = min(max(np.floor((v - lo[e, k]) * iw[k]), 0.0), nt[e, k] - 1.0)
                c += int(f) * strides[e, k]
            cell[i - a] = c
            start[s0 + c + 1] += 1
        for c in range(ncell[e]):
            start[s0 + c + 1] += start[s0 + c]
        fill = start[s0 : s0 + ncell[e]].copy()
        for i in range(a, b):
            c = cell[i - a]
            q = a + fill[c]
            fill[c] += 1
            order[q] = i
            ws[q] = wt[i]
            for k in range(d):
                xs[k, q] = _reduce(x[i, k], period[k])
    return xs, ws, order, lo, w, nt, strides, start, sbase


@numba.njit(cache=True, inline="always")
def _trange(
    v: float, r: float, periodic: bool, lo: float, w: float, nt: int
) -> tuple[int, int]:  # pragma: no cover - compiled
    """First tile and number of tiles within +-r of *v* in one dimension (0 tiles: none)."""
    if periodic:
        lf = np.floor((v - r) / w - EPS)
        hf = np.floor((v + r) / w + EPS)
        if hf - lf + 1.0 >= nt:
            return 0, nt
        return int(lf) % nt, int(hf - lf) + 1
    lf = max(np.floor((v - lo - r) / w - EPS), 0.0)
    hf = min(np.floor((v - lo + r) / w + EPS), nt - 1.0)
    if hf < lf:
        return 0, 0
    return int(lf), int(hf - lf) + 1


@numba.njit(cache=True, inline="always")
def _better(
    d2: float, rj: float, ij: int, bd2: float, br: float, bi: int
) -> bool:  # pragma: no cover - compiled
    """(d2, rho, index) beats the best so far: closer, then denser, then the higher index."""
    return d2 < bd2 or (d2 == bd2 and (rj > br or (rj == br and ij > bi)))


# ---------------------------------------------------------------------------------------
# any dimension
# ---------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _ranges(
    xs: F64,
    p: int,
    r: float,
    period: F64,
    lo: F64,
    w: F64,
    nt: I64,
    strides: I64,
    start: I64,
    s0: int,
    buf: I64,
    tlo: I64,
    tlen: I64,
    cur: I64,
) -> int:  # pragma: no cover - compiled
    """Entry ranges (relative to the event) of the tiles within +-r of entry *p*; returns their count."""
    d = xs.shape[0]
    for k in range(d):
        tlo[k], tlen[k] = _trange(xs[k, p], r, period[k] > 0.0, lo[k], w[k], nt[k])
        if tlen[k] == 0:
            return 0
    nb = 0
    for k in range(d - 1):
        cur[k] = 0
    last = d - 1
    while True:
        base = s0
        for k in range(last):
            t = tlo[k] + cur[k]
            if t >= nt[k]:
                t -= nt[k]
            base += t * strides[k]
        t0 = tlo[last]
        t1 = t0 + tlen[last]
        if t1 <= nt[last]:
            buf[nb, 0] = start[base + t0]
            buf[nb, 1] = start[base + t1]
            nb += 1
        else:
            buf[nb, 0] = start[base + t0]
            buf[nb, 1] = start[base + nt[last]]
            buf[nb + 1, 0] = start[base]
            buf[nb + 1, 1] = start[base + t1 - nt[last]]
            nb += 2
        k = last - 1
        while k >= 0:
            cur[k] += 1
            if cur[k] < tlen[k]:
                break
            cur[k] = 0
            k -= 1
        if k < 0:
            break
    return nb


@numba.njit(cache=True)
def _n_ranges(r: float, w: F64, nt: I64) -> int:  # pragma: no cover - compiled
    """Upper bound on the ranges :func:`_ranges` returns for radius *r*."""
    d = w.shape[0]
    m = 2
    for k in range(d - 1):
        m *= int(min(float(nt[k]), np.floor(2.0 * r / w[k] + 2.0 * EPS) + 2.0))
    return m


@numba.njit(cache=True)
def _density_nd(
    xs: F64,
    ws: F64,
    a: int,
    b: int,
    period: F64,
    pinf: F64,
    lo: F64,
    w: F64,
    nt: I64,
    strides: I64,
    start: I64,
    s0: int,
    dc: float,
    box: bool,
    rho: F64,
) -> None:  # pragma: no cover - compiled
    """Densities of entries ``a:b`` (one event) in any dimension, one point at a time."""
    d = xs.shape[0]
    buf = np.empty((_n_ranges(dc, w, nt), 2), np.int64)
    tlo = np.empty(d, np.int64)
    tlen = np.empty(d, np.int64)
    cur = np.empty(d, np.int64)
    dc2 = dc * dc
    for p in range(a, b):
        nb = _ranges(xs, p, dc, period, lo, w, nt, strides, start, s0, buf, tlo, tlen, cur)
        acc = 0.0
        for q in range(nb):
            for m in range(a + buf[q, 0], a + buf[q, 1]):
                if m == p:
                    continue
                inside = True
                d2 = 0.0
                for k in range(d):
                    c = comp(xs[k, m], xs[k, p], pinf[k])
                    if box and c > dc:
                        inside = False
                        break
                    d2 += c * c
                if inside and (box or d2 <= dc2):
                    acc += ws[m]
        rho[p] = ws[p] + 0.5 * acc


@numba.njit(cache=True)
def _scan_nh_nd(
    xs: F64,
    rho: F64,
    order: I64,
    a: int,
    p: int,
    r_box: float,
    r: float,
    period: F64,
    pinf: F64,
    lo: F64,
    w: F64,
    nt: I64,
    strides: I64,
    start: I64,
    s0: int,
    box: bool,
    buf: I64,
    tlo: I64,
    tlen: I64,
    cur: I64,
) -> tuple[int, float]:  # pragma: no cover - compiled
    """Nearest higher of entry *p* among the tiles within +-r_box: (entry or -1, d2).

    Candidates must be higher and within r (a ball, or a box under *box*);
    the closest wins, ties by :func:`_better`.
    """
    d = xs.shape[0]
    nb = _ranges(xs, p, r_box, period, lo, w, nt, strides, start, s0, buf, tlo, tlen, cur)
    rho_i = rho[p]
    idx_i = order[p]
    r2 = r * r
    best = -1
    bd2 = np.inf
    br = 0.0
    bi = -1
    for q in range(nb):
        for m in range(a + buf[q, 0], a + buf[q, 1]):
            rj = rho[m]
            ij = order[m]
            if not higher(rj, ij, rho_i, idx_i):
                continue
            d2 = 0.0
            inside = True
            for k in range(d):
                c = comp(xs[k, m], xs[k, p], pinf[k])
                if box and c > r:
                    inside = False
                    break
                d2 += c * c
            if inside and (box or d2 <= r2) and _better(d2, rj, ij, bd2, br, bi):
                best = m
                bd2 = d2
                br = rj
                bi = ij
    return best, bd2


# ---------------------------------------------------------------------------------------
# the stages over a batch
# ---------------------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def density(
    xs: F64,
    ws: F64,
    offsets: I64,
    period: F64,
    pinf: F64,
    lo: F64,
    w: F64,
    nt: I64,
    strides: I64,
    start: I64,
    sbase: I64,
    dc: float,
    box: bool,
) -> F64:  # pragma: no cover - compiled
    """Density of every sorted entry: its own weight + 0.5 x the weights of the others within dc.

    *box* selects the per-dimension test ``|dx_k| <= dc`` for every k (legacy
    rules) instead of the Euclidean ``sum dx_k^2 <= dc^2``.
    """
    d, n = xs.shape
    n_ev = offsets.shape[0] - 1
    rho = np.empty(n)
    for e in numba.prange(n_ev):
        a = offsets[e]
        b = offsets[e + 1]
        if b == a:
            continue
        kk = np.empty(d, np.int64)
        ok2 = d == 2
        for k in range(d):
            kk[k] = math.ceil(dc / w[e, k] * (1.0 + 1e-9))
            if period[k] > 0.0 and nt[e, k] < 2 * kk[k] + 1:
                ok2 = False
        if ok2:
            density_2d(xs, ws, a, b, period, pinf, kk, nt[e], start, sbase[e], dc, box, rho)
        else:
            _density_nd(
                xs, ws, a, b, period, pinf, lo[e], w[e], nt[e], strides[e], start, sbase[e],
                dc, box, rho,
            )  # fmt: skip
    return rho


@numba.njit(cache=True, parallel=True)
def nearest_higher(
    xs: F64,
    rho: F64,
    order: I64,
    offsets: I64,
    period: F64,
    pinf: F64,
    lo: F64,
    w: F64,
    nt: I64,
    strides: I64,
    start: I64,
    sbase: I64,
    rhoc: float,
    dm: float,
    seed_dc: float,
    box: bool,
) -> I64:  # pragma: no cover - compiled
    """Nearest higher (a sorted position, -1 for none) of every sorted entry.

    Candidates j of point i: ``rho_j > rho_i``, or ``rho_j == rho_i > 0`` with
    the larger original index, within the search distance: with *box* (legacy)
    ``|dx_k| <= dm`` in every dimension, else Euclidean within ``seed_dc`` if
    ``rho_i >= rhoc`` and ``dm`` otherwise. The closest (Euclidean) wins; equal
    distances go to the higher density, then to the higher original index.

    The tiles within half a tile width are searched first and the whole box
    within the search distance only when needed: when the best so far is not
    closer than every point outside the tiles searched (two dimensions: boxes
    of doubling size, see :func:`l1scout.reco._clue_2d.nearest_higher_2d`).
    """
    d, n = xs.shape
    n_ev = offsets.shape[0] - 1
    nh = np.full(n, -1, np.int64)
    r_max = dm if box else max(dm, seed_dc)
    for e in numba.prange(n_ev):
        a = offsets[e]
        b = offsets[e + 1]
        if b == a:
            continue
        we = w[e]
        r_in = _INNER * we.min() * (1.0 - 1e-6)
        buf = np.empty((_n_ranges(r_max, we, nt[e]), 2), np.int64)
        runs = np.empty((4 * int(min(nt[e, 0], 2.0 * r_max / we[0] + 3.0)), 2), np.int64)
        tlo = np.empty(d, np.int64)
        tlen = np.empty(d, np.int64)
        cur = np.empty(d, np.int64)
        own = 0  # entries in the tile of p (points are sorted by tile)
        cend = 0
        cell = sbase[e]
        for p in range(a, b):
            while p - a >= cend:
                own = start[cell + 1] - start[cell]
                cend = start[cell + 1]
                cell += 1
            r = dm if (box or rho[p] < rhoc) else seed_dc
            r1 = min(r, r_in)
            if d == 2:
                best = nearest_higher_2d(
                    xs, rho, order, a, p, r_in, r, period, pinf, lo[e], we, nt[e], start,
                    sbase[e], box, runs, own,
                )  # fmt: skip
            else:
                best, bd2 = _scan_nh_nd(
                    xs, rho, order, a, p, r1, r, period, pinf, lo[e], we, nt[e], strides[e],
                    start, sbase[e], box, buf, tlo, tlen, cur,
                )  # fmt: skip
                if r > r1 and not (best >= 0 and bd2 <= r1 * r1):
                    best, bd2 = _scan_nh_nd(
                        xs, rho, order, a, p, r, r, period, pinf, lo[e], we, nt[e], strides[e],
                        start, sbase[e], box, buf, tlo, tlen, cur,
                    )  # fmt: skip
            nh[p] = best
    return nh


@numba.njit(cache=True, parallel=True)
def assign(
    xs: F64,
    rho: F64,
    nh: I64,
    order: I64,
    offsets: I64,
    pinf: F64,
    rhoc: float,
    seed_dc: float,
    box: bool,
) -> tuple[I64, B, F64, I64]:  # pragma: no cover - compiled
    """Seeds, cluster ids and nearest highers in the original order of the points.

    Returns ``(cluster, is_seed, rho, nearest_higher)`` by global index; cluster
    ids restart at 0 in every event and follow the seeds' index order;
    ``nearest_higher`` is a global index, -1 for seeds and for points without one.
    """
    d, n = xs.shape
    n_ev = offsets.shape[0] - 1
    cluster = np.full(n, -2, np.int64)
    is_seed = np.zeros(n, np.bool_)
    rho_out = np.empty(n)
    nh_out = np.full(n, -1, np.int64)
    for e in numba.prange(n_ev):
        a = offsets[e]
        b = offsets[e + 1]
        for p in range(a, b):
            i = order[p]
            rho_out[i] = rho[p]
            h = nh[p]
            seed = rho[p] >= rhoc
            if seed and h >= 0:
                if box:
                    # legacy: a seed's nearest higher is farther than seed_dc in every dimension
                    for k in range(d):
                        if comp(xs[k, h], xs[k, p], pinf[k]) <= seed_dc:
                            seed = False
                            break
                else:
                    seed = False
            is_seed[i] = seed
            if not seed and h >= 0:
                nh_out[i] = order[h]
        n_cl = 0
        for i in range(a, b):
            if is_seed[i]:
                cluster[i] = n_cl
                n_cl += 1
            elif nh_out[i] < 0:
                cluster[i] = -1
        # followers: walk up to the first resolved point, then label the path
        path = np.empty(b - a, np.int64)
        for i in range(a, b):
            if cluster[i] != -2:
                continue
            m = 0
            j = i
            while cluster[j] == -2:
                path[m] = j
                m += 1
                j = nh_out[j]
            c = cluster[j]
            for q in range(m):
                cluster[path[q]] = c
    return cluster, is_seed, rho_out, nh_out
