"""Two-dimensional CLUE kernels, and the distance primitives every kernel shares.

Private to :mod:`l1scout.reco.clue` (the rules) and
:mod:`l1scout.reco._clue_kernels` (the grid index and the stages, which call
the kernels here for two-dimensional events). The inner loops are branch-free
(0/1 masks, a running minimum): a branch per candidate pair would mispredict
about half the time and cost more than the pair itself.

Distances: a periodic coordinate is first reduced to ``[0, P)``; the distance
in one dimension is ``min(a, P - a)`` with ``a = |x_i - x_j|`` and ``P = inf``
for an open dimension (so ``a``). The tests' slow reference computes them with
the same operations, so the results agree bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from l1scout._types import F64, I64

__all__: list[str] = []

# slack (in tile widths) added to every search box, against rounding at tile edges
EPS = 1e-7
# expected candidates in a whole nearest-higher box below which it is searched at once
_SPARSE = 24.0


@numba.njit(cache=True, inline="always")
def comp(a: float, b: float, p: float) -> float:  # pragma: no cover - compiled
    """Distance of two (reduced) coordinates in one dimension of period *p* (inf: open)."""
    c = abs(a - b)
    return min(c, p - c)


@numba.njit(cache=True, inline="always")
def higher(rj: float, ij: int, rho_i: float, idx_i: int) -> bool:  # pragma: no cover - compiled
    """Whether j is higher than i: denser, or as dense (> 0) with the larger original index."""
    return (rj > rho_i) | ((rj == rho_i) & (rho_i > 0.0) & (ij > idx_i))


@numba.njit(cache=True, inline="always")
def _pairs_2d(
    x0: F64,
    x1: F64,
    ws: F64,
    acc: F64,
    p: int,
    m0: int,
    m1: int,
    dc: float,
    p0: float,
    p1: float,
    box: bool,
) -> float:  # pragma: no cover - compiled
    """Pairs of entry *p* with entries ``m0:m1`` within dc: adds ``w_p`` to ``acc[m]``, returns sum ``w_m``."""
    xi0 = x0[p]
    xi1 = x1[p]
    wp = ws[p]
    dc2 = dc * dc
    s = 0.0
    if box:
        for m in range(m0, m1):
            c0 = comp(x0[m], xi0, p0)
            c1 = comp(x1[m], xi1, p1)
            f = np.float64((c0 <= dc) & (c1 <= dc))
            s += ws[m] * f
            acc[m] += wp * f
    else:
        for m in range(m0, m1):
            c0 = comp(x0[m], xi0, p0)
            c1 = comp(x1[m], xi1, p1)
            f = np.float64(c0 * c0 + c1 * c1 <= dc2)
            s += ws[m] * f
            acc[m] += wp * f
    return s


@numba.njit(cache=True, inline="always")
def _cols(
    lo: int, hi: int, n: int, periodic: bool
) -> tuple[int, int, int, int]:  # pragma: no cover
    """Columns ``lo .. hi - 1`` as up to two runs ``[a0, a1)``, ``[b0, b1)`` in ``0 .. n - 1``."""
    if periodic:
        if lo < 0:
            return lo + n, n, 0, hi
        if hi > n:
            return lo, n, 0, hi - n
        return lo, hi, 0, 0
    return max(lo, 0), min(hi, n), 0, 0


@numba.njit(cache=True)
def density_2d(
    xs: F64,
    ws: F64,
    a: int,
    b: int,
    period: F64,
    pinf: F64,
    kk: I64,
    nt: I64,
    start: I64,
    s0: int,
    dc: float,
    box: bool,
    rho: F64,
) -> None:  # pragma: no cover - compiled
    """Densities of one event, every pair once.

    A pair within dc is at most ``kk[k]`` tiles apart in dimension k. Each entry
    is paired with the later entries of its cell, the next ``kk[1]`` cells of
    its row and the ``2 kk[1] + 1`` cells around its column in the next
    ``kk[0]`` rows; wrapped in a periodic dimension (which must have at least
    ``2 kk + 1`` tiles, checked by the caller) and dropped past the edge of an
    open one. Both entries of a pair get the other's weight.
    """
    x0 = xs[0, a:b]
    x1 = xs[1, a:b]
    we = ws[a:b]
    n0 = nt[0]
    n1 = nt[1]
    k0 = kk[0]
    k1 = kk[1]
    per0 = period[0] > 0.0
    per1 = period[1] > 0.0
    q0 = pinf[0]
    q1 = pinf[1]
    acc = np.zeros(b - a)
    runs = np.zeros((k0, 4), np.int64)
    for c0 in range(n0):
        for c1 in range(n1):
            cell = s0 + c0 * n1 + c1
            e0 = start[cell]
            e1 = start[cell + 1]
            if e0 == e1:
                continue
            # this row: the cells after c1 (the first run continues this cell in memory)
            ra0, ra1, rb0, rb1 = _cols(c1 + 1, c1 + k1 + 1, n1, per1)
            row = s0 + c0 * n1
            own_end = start[row + ra1] if ra0 == c1 + 1 else e1
            xa0 = start[row + ra0] if ra0 != c1 + 1 else 0
            xa1 = start[row + ra1] if ra0 != c1 + 1 else 0
            xb0 = start[row + rb0]
            xb1 = start[row + rb1]
            # the next rows: the cells around c1, as runs of entries
            ca0, ca1, cb0, cb1 = _cols(c1 - k1, c1 + k1 + 1, n1, per1)
            nr = 0
            for dr in range(1, k0 + 1):
                r = c0 + dr
                if r >= n0:
                    if not per0:
                        break
                    r -= n0
                rrow = s0 + r * n1
                runs[nr, 0] = start[rrow + ca0]
                runs[nr, 1] = start[rrow + ca1]
                runs[nr, 2] = start[rrow + cb0]
                runs[nr, 3] = start[rrow + cb1]
                nr += 1
            for q in range(e0, e1):
                sp = _pairs_2d(x0, x1, we, acc, q, q + 1, own_end, dc, q0, q1, box)
                if xa1 > xa0:
                    sp += _pairs_2d(x0, x1, we, acc, q, xa0, xa1, dc, q0, q1, box)
                if xb1 > xb0:
                    sp += _pairs_2d(x0, x1, we, acc, q, xb0, xb1, dc, q0, q1, box)
                for t in range(nr):
                    sp += _pairs_2d(x0, x1, we, acc, q, runs[t, 0], runs[t, 1], dc, q0, q1, box)
                    if runs[t, 3] > runs[t, 2]:
                        sp += _pairs_2d(x0, x1, we, acc, q, runs[t, 2], runs[t, 3], dc, q0, q1, box)
                acc[q] += sp
    for q in range(b - a):
        rho[a + q] = we[q] + 0.5 * acc[q]


@numba.njit(cache=True, inline="always")
def _span(
    v: float, r: float, periodic: bool, lo: float, w: float, iw: float, nt: int
) -> tuple[int, int, float]:  # pragma: no cover - compiled
    """First tile and number of tiles within +-r of *v* (``iw = 1 / w``), and *v*'s distance to their edges.

    The distance is inf on a side with no tile beyond (the edge of an open
    dimension), and when the tiles cover a whole period.
    """
    if periodic:
        lf = np.floor((v - r) * iw - EPS)
        hf = np.floor((v + r) * iw + EPS)
        if hf - lf + 1.0 >= nt:
            return 0, nt, np.inf
        return int(lf) % nt, int(hf - lf) + 1, min(v - lf * w, (hf + 1.0) * w - v)
    u = v - lo
    lf = max(np.floor((u - r) * iw - EPS), 0.0)
    hf = min(np.floor((u + r) * iw + EPS), nt - 1.0)
    below = np.inf if lf <= 0.0 else u - lf * w
    above = np.inf if hf >= nt - 1.0 else (hf + 1.0) * w - u
    return int(lf), int(hf - lf) + 1, min(below, above)


@numba.njit(cache=True, inline="always")
def _add_cyclic(
    runs: I64, nr: int, a: int, start: I64, row: int, c: int, length: int, n: int
) -> int:  # pragma: no cover - compiled
    """Append the entries of cells ``c .. c + length - 1`` (cyclic in 0..n-1) of a row as runs."""
    if length <= 0:
        return nr
    if c + length <= n:
        runs[nr, 0] = a + start[row + c]
        runs[nr, 1] = a + start[row + c + length]
        return nr + 1
    runs[nr, 0] = a + start[row + c]
    runs[nr, 1] = a + start[row + n]
    runs[nr + 1, 0] = a + start[row]
    runs[nr + 1, 1] = a + start[row + c + length - n]
    return nr + 2


@numba.njit(cache=True)
def _block_runs(
    a: int,
    start: I64,
    s0: int,
    nt: I64,
    l0: int,
    k0: int,
    l1: int,
    k1: int,
    pl0: int,
    pk0: int,
    pl1: int,
    pk1: int,
    runs: I64,
) -> int:  # pragma: no cover - compiled
    """Runs of entries of the tile block ``(l0, k0) x (l1, k1)`` less the block ``(pl0, pk0) x (pl1, pk1)``.

    Blocks are cyclic intervals of tiles (first tile, number of tiles) per
    dimension; the second lies inside the first (``pk0 = 0``: none).
    """
    n0 = nt[0]
    n1 = nt[1]
    nr = 0
    for t in range(k0):
        t0 = l0 + t
        if t0 >= n0:
            t0 -= n0
        row = s0 + t0 * n1
        if pk0 > 0 and (t0 - pl0) % n0 < pk0:
            left = (pl1 - l1) % n1
            nr = _add_cyclic(runs, nr, a, start, row, l1, left, n1)
            nr = _add_cyclic(runs, nr, a, start, row, (pl1 + pk1) % n1, k1 - pk1 - left, n1)
        else:
            nr = _add_cyclic(runs, nr, a, start, row, l1, k1, n1)
    return nr


@numba.njit(cache=True)
def nearest_higher_2d(
    xs: F64,
    rho: F64,
    order: I64,
    a: int,
    p: int,
    r_in: float,
    r: float,
    period: F64,
    pinf: F64,
    lo: F64,
    w: F64,
    nt: I64,
    start: I64,
    s0: int,
    box: bool,
    runs: I64,
    own: int,
) -> int:  # pragma: no cover - compiled
    """Nearest higher of entry *p* (an entry, or -1): the closest higher point within r.

    Boxes of tiles within ``+-r_in``, ``+-2 r_in``, ... ``+-r`` are searched in
    turn, each adding only its new tiles, until every point outside the box is
    farther than the best so far; in sparse surroundings (the own tile's
    points times the tiles of the whole box below ``_SPARSE``) the whole box
    at once. Only the result depends on the rules, not the order of the
    search (*own*: the number of entries in *p*'s tile, which the caller
    knows). One branch-free pass per box keeps the smallest
    distance, the first entry at it and how many candidates share it; only a
    tie (two candidates at exactly that distance) takes a second pass over
    the box, which applies the tie rule (higher density, then higher index).
    """
    x0 = xs[0]
    x1 = xs[1]
    xi0 = x0[p]
    xi1 = x1[p]
    rho_i = rho[p]
    idx_i = order[p]
    q0 = pinf[0]
    q1 = pinf[1]
    per0 = period[0] > 0.0
    per1 = period[1] > 0.0
    open_ = not (per0 or per1)
    slack = 1e-9 * (abs(xi0) + abs(xi1) + abs(lo[0]) + abs(lo[1]) + w[0] + w[1])
    r2 = r * r
    dmin = np.inf
    arg = -1
    count = 0
    pl0 = pk0 = pl1 = pk1 = 0
    rb = min(r, r_in)
    iw0 = 1.0 / w[0]
    iw1 = 1.0 / w[1]
    if rb < r and own * (2.0 * r / w[0] + 1.0) * (2.0 * r / w[1] + 1.0) < _SPARSE:
        # sparse surroundings (few points in the own tile): one search of the whole box
        # visits fewer tiles than a sequence of growing boxes
        rb = r
    while True:
        l0, k0, b0 = _span(xi0, rb, per0, lo[0], w[0], iw0, nt[0])
        l1, k1, b1 = _span(xi1, rb, per1, lo[1], w[1], iw1, nt[1])
        nr = _block_runs(a, start, s0, nt, l0, k0, l1, k1, pl0, pk0, pl1, pk1, runs)
        for q in range(nr):
            if open_ and not box:  # the common case, without the wrap and the box test
                for m in range(runs[q, 0], runs[q, 1]):
                    c0 = x0[m] - xi0
                    c1 = x1[m] - xi1
                    d2 = c0 * c0 + c1 * c1
                    rj = rho[m]
                    hi = rj > rho_i
                    if rj == rho_i:  # rare with real-valued weights: no index load otherwise
                        hi = (rho_i > 0.0) & (order[m] > idx_i)
                    ok = (d2 <= r2) & hi
                    v = d2 if ok else np.inf
                    lt = v < dmin
                    dmin = min(dmin, v)  # no NaN here: min is fmin, and a shorter chain
                    arg += (m - arg) * lt
                    count = count * (1 - lt) + (v == dmin)
                continue
            for m in range(runs[q, 0], runs[q, 1]):
                c0 = comp(x0[m], xi0, q0)
                c1 = comp(x1[m], xi1, q1)
                d2 = c0 * c0 + c1 * c1
                inside = ((c0 <= r) & (c1 <= r)) if box else (d2 <= r2)
                ok = inside & higher(rho[m], order[m], rho_i, idx_i)
                v = d2 if ok else np.inf
                lt = v < dmin
                dmin = min(dmin, v)
                arg += (m - arg) * lt
                count = count * (1 - lt) + (v == dmin)
        bound = min(b0, b1) - slack
        if rb >= r or (dmin < np.inf and dmin < bound * bound) or (dmin == np.inf and bound > r):
            break
        pl0, pk0, pl1, pk1 = l0, k0, l1, k1
        rb = min(r, 2.0 * rb)
    if dmin == np.inf:
        return -1
    if count == 1:
        return arg
    # a tie at the smallest distance: scan the whole box for the rule's choice among them
    nr = _block_runs(a, start, s0, nt, l0, k0, l1, k1, 0, 0, 0, 0, runs)
    best = -1
    br = 0.0
    bi = -1
    for q in range(nr):
        for m in range(runs[q, 0], runs[q, 1]):
            c0 = comp(x0[m], xi0, q0)
            c1 = comp(x1[m], xi1, q1)
            if c0 * c0 + c1 * c1 == dmin:
                rj = rho[m]
                ij = order[m]
                inside = ((c0 <= r) & (c1 <= r)) if box else True
                if inside and higher(rj, ij, rho_i, idx_i) and (rj > br or (rj == br and ij > bi)):
                    best = m
                    br = rj
                    bi = ij
    return best
