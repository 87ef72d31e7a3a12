"""CLUE: density-based clustering of weighted points on a grid spatial index.

CLUE (CLUstering of Energy; M. Rovere et al., "CLUE: a fast parallel clustering
algorithm for high granularity calorimeters in high-energy physics", Front. Big
Data 3 (2020) 591315, arXiv:2001.09761) clusters weighted points in four steps:

1. **density**: ``rho_i = w_i + 0.5 * sum(w_j)`` over the other points j within
   the density radius ``dc`` (a flat kernel: the point itself counts with 1,
   its neighbours with 0.5);
2. **nearest higher**: the closest point j with ``rho_j > rho_i``, or
   ``rho_j == rho_i > 0`` and ``j > i`` (the index breaks ties), searched within
   ``seed_dc`` when ``rho_i >= rhoc`` and within ``dm`` otherwise; equal
   distances go to the higher density, then to the higher index;
3. **seeds and outliers**: a point without a nearest higher is a seed when
   ``rho_i >= rhoc`` and an outlier (cluster -1) otherwise;
4. **assignment**: every other point takes the cluster of its nearest higher,
   following the chain to a seed; a chain that ends at an outlier gives -1.
   Seeds are numbered 0, 1, ... in index order.

These are the rules of the reference implementation, cms-patatrack/CLUEstering
(v2, ``rules="current"``; distances Euclidean). ``rules="legacy"`` selects its
older box rules, with which part of its published truth files
(``data/truth_files/*_truth.csv``, e.g. ``moons_1000_truth.csv`` at commit
5d58697) were made: per-dimension boxes instead of balls (``|dx_k| <= dc`` in
every dimension k for the density, ``|dx_k| <= dm`` for the nearest-higher
candidates, of which the Euclidean closest wins), every point searching within
``dm``; a point with ``rho_i >= rhoc`` is a seed when it has no nearest higher
or its nearest higher is farther than ``seed_dc`` in *every* dimension (its
nearest higher is then reported as -1); a point that is not a seed follows its
nearest higher when it has one and is an outlier otherwise. ``dm`` and
``seed_dc`` are absolute distances under both rules. Where the library keeps
the first of equally distant candidates in its tile order, l1scout applies the
tie rule of step 2. See ``docs/physics/clue.md``.

Periodic dimensions (the azimuth phi): a coordinate is reduced to ``[0, P)``
and the distance in that dimension is ``min(a, P - a)`` with
``a = |x_i - x_j|``; the grid wraps too, so a cluster across phi = +-pi is one
cluster.

The grid index (tiles of side dc over each event's bounding box, or over one
period) keeps the cost linear in the number of points at fixed density; the
kernels are compiled with numba and run the events of a batch in parallel
(``numba.set_num_threads`` sets the threads). Densities are sums in a fixed
order of the kernel's choosing (each pair once): exact whenever the weights'
sums are exact, otherwise equal to the sum in index order to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from l1scout._jagged import check_offsets
from l1scout._timing import Timer, stage
from l1scout._types import F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.reco import _clue_kernels as _k

__all__ = ["ClueResult", "Periodic", "Rules", "clue", "clue_batch"]

# tile side / dc: a little above 1, so that a pair within dc is at most one tile
# apart in every dimension whatever the rounding of the tile coordinates
_SIDE = 1.000001

#: ``"current"`` (CLUEstering v2) or ``"legacy"`` (the box rules of its truth files).
Rules = Literal["current", "legacy"]

#: Periodic dimensions: ``{dimension: period}``, or a sequence of dimensions of period 2 pi.
Periodic = Mapping[int, float] | Sequence[int]


class ClueResult(NamedTuple):
    """Per-point result of CLUE, in the order of the input points.

    >>> r = clue([[0.0], [0.1], [5.0]], [1.0, 2.0, 1.0], dc=0.5, rhoc=1.5, dm=1.0)
    >>> r.cluster.tolist(), r.is_seed.tolist(), r.rho.tolist(), r.nearest_higher.tolist()
    ([0, 0, -1], [False, True, False], [2.0, 2.5, 1.0], [1, -1, -1])
    """

    #: cluster id (int64), 0, 1, ... per event in the index order of the seeds; -1 for outliers
    cluster: I64
    #: whether the point is a cluster seed
    is_seed: B
    #: density rho (float64, units of the weights)
    rho: F64
    #: index of the nearest higher (int64; a global index in a batch), -1 for seeds and points without one
    nearest_higher: I64


def clue(
    coords: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    dc: float,
    rhoc: float,
    dm: float,
    seed_dc: float | None = None,
    rules: Rules = "current",
    periodic: Periodic | None = None,
) -> ClueResult:
    """Cluster weighted points with CLUE (rules in the module docstring).

    Args:
        coords: (n, d) point coordinates, any d >= 1, in the units of the
            distances below; phi in rad for a periodic azimuth.
        weights: (n,) non-negative point weights (an energy or pT, GeV).
        dc: density radius (> 0).
        rhoc: minimum density of a seed (units of the weights).
        dm: outlier distance (> 0): how far a point below ``rhoc`` looks for
            its nearest higher (under ``rules="legacy"``, every point).
        seed_dc: how far a point at or above ``rhoc`` looks for a nearest
            higher before it becomes a seed (> 0; default ``dc``).
        rules: ``"current"`` or ``"legacy"`` (see the module docstring).
        periodic: dimensions that wrap: ``{dimension: period}``, or a sequence
            of dimensions of period 2 pi (e.g. ``[1]`` for (eta, phi)).

    Returns:
        The per-point :class:`ClueResult`.

    Raises:
        DataFormatError: *coords* or *weights* of the wrong shape, or not
            finite, or negative weights.
        ConfigError: a parameter out of range, unknown *rules*, or a bad
            *periodic* dimension or period.

    Two clusters in (eta, phi), one across phi = pi:

    >>> pts = [[0.0, 3.1], [0.0, -3.1], [0.02, 3.13], [1.0, 0.0], [1.0, 0.05]]
    >>> clue(pts, [1.0] * 5, dc=0.1, rhoc=1.5, dm=0.2, periodic=[1]).cluster.tolist()
    [0, 0, 0, 1, 1]
    """
    x, _ = _coords(coords)
    return clue_batch(
        x,
        weights,
        np.array([0, x.shape[0]], dtype=np.int64),
        dc=dc,
        rhoc=rhoc,
        dm=dm,
        seed_dc=seed_dc,
        rules=rules,
        periodic=periodic,
    )


def clue_batch(
    coords: npt.ArrayLike,
    weights: npt.ArrayLike,
    offsets: npt.ArrayLike,
    *,
    dc: float,
    rhoc: float,
    dm: float,
    seed_dc: float | None = None,
    rules: Rules = "current",
    periodic: Periodic | None = None,
    timer: Timer | None = None,
) -> ClueResult:
    """Cluster every event of a flat batch with CLUE, each on its own.

    Event k owns the points ``offsets[k]:offsets[k + 1]``; cluster ids restart
    at 0 in every event, and ``nearest_higher`` holds global indices. The
    events run in parallel on ``numba.get_num_threads()`` threads.

    Args:
        coords: (n, d) coordinates of all events, as for :func:`clue`.
        weights: (n,) non-negative weights.
        offsets: (n_events + 1,) integer offsets, from 0 to n.
        dc: density radius, as for :func:`clue`.
        rhoc: minimum density of a seed, as for :func:`clue`.
        dm: outlier distance, as for :func:`clue`.
        seed_dc: seeding distance (default ``dc``), as for :func:`clue`.
        rules: ``"current"`` or ``"legacy"``, as for :func:`clue`.
        periodic: the dimensions that wrap, as for :func:`clue`.
        timer: when given, the wall time (s) of the stages ``clue/index``,
            ``clue/density``, ``clue/nearest_higher`` and ``clue/assign`` is
            added to it (for the benchmarks).

    Returns:
        The per-point :class:`ClueResult` of the whole batch.

    Raises:
        DataFormatError: as for :func:`clue`.
        ConfigError: as for :func:`clue`, or bad *offsets*.

    >>> xy = [[0.0, 0.0], [0.1, 0.0], [0.0, 0.0], [0.0, 0.1], [0.05, 0.0]]
    >>> r = clue_batch(xy, [1.0] * 5, [0, 2, 5], dc=0.2, rhoc=1.0, dm=0.2)
    >>> r.cluster.tolist(), r.nearest_higher.tolist()
    ([0, 0, 0, 0, 0], [1, -1, 4, 4, -1])
    """
    x, d = _coords(coords)
    n = x.shape[0]
    w = _weights(weights, n)
    off = check_offsets(offsets, "offsets", n_entries=n)
    dc_f = _positive("dc", dc)
    dm_f = _positive("dm", dm)
    sdc_f = dc_f if seed_dc is None else _positive("seed_dc", seed_dc)
    rhoc_f = _finite("rhoc", rhoc)
    if rules not in ("current", "legacy"):
        raise ConfigError(f"rules: expected 'current' or 'legacy', got {rules!r}")
    box = rules == "legacy"
    period = _periods(periodic, d)
    pinf = np.where(period > 0, period, np.inf)
    with stage(timer, "clue/index"):
        xs, ws, order, lo, wd, nt, strides, start, sbase = _k.build_index(
            x, w, off, period, _SIDE * dc_f
        )
        grid = (lo, wd, nt, strides, start, sbase)
    with stage(timer, "clue/density"):
        rho = _k.density(xs, ws, off, period, pinf, *grid, dc_f, box)
    with stage(timer, "clue/nearest_higher"):
        nh = _k.nearest_higher(xs, rho, order, off, period, pinf, *grid, rhoc_f, dm_f, sdc_f, box)
    with stage(timer, "clue/assign"):
        cluster, is_seed, rho_out, nh_out = _k.assign(
            xs, rho, nh, order, off, pinf, rhoc_f, sdc_f, box
        )
    return ClueResult(cluster, is_seed, rho_out, nh_out)


def _coords(coords: npt.ArrayLike) -> tuple[F64, int]:
    try:
        x = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError("coords: expected an (n, d) array of numbers") from exc
    if x.ndim != 2 or x.shape[1] < 1:
        raise DataFormatError(f"coords: expected an (n, d) array with d >= 1, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataFormatError("coords: expected finite values, found NaN or inf")
    return np.ascontiguousarray(x), int(x.shape[1])


def _weights(weights: npt.ArrayLike, n: int) -> F64:
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError("weights: expected an (n,) array of numbers") from exc
    if w.shape != (n,):
        raise DataFormatError(f"weights: expected shape ({n},) to match coords, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataFormatError("weights: expected finite, non-negative values")
    return np.ascontiguousarray(w)


def _finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ConfigError(f"{name}: expected a finite number, got {v}")
    return v


def _positive(name: str, value: float) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise ConfigError(f"{name}: expected a distance > 0, got {v}")
    return v


def _periods(periodic: Periodic | None, d: int) -> F64:
    """Per-dimension period, 0 for an open dimension."""
    period = np.zeros(d)
    if periodic is None:
        return period
    if isinstance(periodic, Mapping):
        items = [(k, periodic[k]) for k in periodic]
    elif isinstance(periodic, (str, bytes)) or not isinstance(periodic, Sequence):
        raise ConfigError(
            "periodic: expected a mapping {dimension: period} or a sequence of dimensions"
        )
    else:
        items = [(k, 2.0 * math.pi) for k in periodic]
    for k, p in items:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < d:
            raise ConfigError(f"periodic: expected dimensions in 0..{d - 1}, got {k!r}")
        if period[k] > 0:
            raise ConfigError(f"periodic: dimension {k} given twice")
        period[k] = _positive(f"periodic[{k}]", p)
    return period
