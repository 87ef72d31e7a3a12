"""Pileup pT density rho by the grid median method.

The median method of Cacciari and Salam (Phys. Lett. B 659 (2008) 119,
arXiv:0707.1378), in the grid variant of FastJet's
``GridMedianBackgroundEstimator`` (FastJet manual, arXiv:1111.6097, sec. 9.1),
as used by Delphes' ``FastJetGridMedianEstimator`` module:

* each eta region is tiled with rectangular cells in (eta, phi);
* per cell the scalar sum of the particles' pT is divided by the cell area;
* rho is the median over all cells of the region, empty cells counting as 0.

Regions are given in **absolute** pseudorapidity: a region ``(a, b)`` holds the
particles with ``a <= |eta| < b``, i.e. the two strips ``-b < eta <= -a`` and
``a <= eta < b``, and its grid covers both. This matches how Delphes'
``Isolation`` module looks rho up (``Edges[0] <= |eta| < Edges[1]``).

Cell sizes follow FastJet's ``RectangularGrid``: a strip of width ``b - a`` gets
``n_eta = max(floor((b - a) / cell_size + 0.5), 1)`` cells and the azimuth
``n_phi = max(floor(2 pi / cell_size + 0.5), 1)`` cells, so the cells tile the
region exactly with sides as close to ``cell_size`` as possible. The phi cells
start at phi = -pi (FastJet starts at 0), and eta stands in for rapidity. The
median of an even number of cells is the mean of the two middle values, as in
FastJet 3's ``_percentile``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from l1scout._jagged import check_offsets, event_index
from l1scout._types import F64
from l1scout.errors import ConfigError

__all__ = ["rho_for", "rho_grid_median"]


# Upper bound on the (events x cells) table built at once, to bound memory.
_MAX_TABLE_ENTRIES = 4_000_000


def _check_regions(regions: Sequence[tuple[float, float]], signed: bool = False) -> F64:
    try:
        arr = np.asarray(regions, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError("regions: expected a sequence of (eta_min, eta_max) pairs") from exc
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ConfigError("regions: expected a non-empty sequence of (eta_min, eta_max) pairs")
    lo, hi = arr[:, 0], arr[:, 1]
    if not (np.all(np.isfinite(arr)) and (signed or np.all(lo >= 0)) and np.all(hi > lo)):
        raise ConfigError(
            f"regions: expected finite |eta| ranges with 0 <= eta_min < eta_max, got {arr.tolist()}"
        )
    order = np.argsort(lo)
    if np.any(lo[order][1:] < hi[order][:-1]):
        raise ConfigError(f"regions: expected non-overlapping |eta| ranges, got {arr.tolist()}")
    return arr


def _grid(eta_min: float, eta_max: float, cell_size: float) -> tuple[int, int, float, float]:
    """Cells of a region: (n_eta per strip, n_phi, cell width in eta, cell width in phi)."""
    n_eta = max(math.floor((eta_max - eta_min) / cell_size + 0.5), 1)
    n_phi = max(math.floor(2.0 * math.pi / cell_size + 0.5), 1)
    return n_eta, n_phi, (eta_max - eta_min) / n_eta, 2.0 * math.pi / n_phi


def rho_grid_median(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    *,
    regions: Sequence[tuple[float, float]],
    cell_size: float,
    signed: bool = False,
) -> F64:
    """Median pT density per event and |eta| region (FastJet ``GridMedianBackgroundEstimator``).

    Args:
        offsets: int64, length n_events + 1.
        pt: particle pT (GeV).
        eta: particle pseudorapidity.
        phi: particle azimuth (rad).
        regions: non-overlapping ``(eta_min, eta_max)`` ranges of |eta|; region
            ``(a, b)`` holds ``a <= |eta| < b`` (both signs of eta).
        cell_size: requested cell side in eta and phi; the actual sides are
            adjusted to tile the region and the full azimuth exactly.
        signed: regions are signed ranges ``a <= eta < b`` (one strip each), as
            the ``GridRange`` entries of Delphes' ``FastJetGridMedianEstimator``.

    Returns:
        rho, shape (n_events, n_regions), in GeV per unit eta-phi area; 0 for
        events with no particles in a region (more than half the cells empty
        gives 0 as well).

    Raises:
        ConfigError: bad offsets, shapes, regions or cell size.

    >>> # region |eta| < 1 with unit cells: 2 x 1 x 6 = 12 cells of area pi / 3
    >>> r = rho_grid_median([0, 12], np.arange(1.0, 13.0), np.repeat([-0.5, 0.5], 6),
    ...                     np.tile(np.linspace(-2.5, 2.5, 6), 2), regions=[(0.0, 1.0)],
    ...                     cell_size=1.0)
    >>> round(float(r[0, 0]), 6) == round(6.5 / (math.pi / 3), 6)
    True
    """
    if not (math.isfinite(cell_size) and cell_size > 0):
        raise ConfigError(f"cell_size: expected a finite value > 0, got {cell_size!r}")
    reg = _check_regions(regions, signed)
    pt_arr = np.asarray(pt, dtype=np.float64)
    n = len(pt_arr)
    off = check_offsets(offsets, "offsets", n)
    eta_arr = np.asarray(eta, dtype=np.float64)
    phi_arr = np.asarray(phi, dtype=np.float64)
    for name, arr in (("pt", pt_arr), ("eta", eta_arr), ("phi", phi_arr)):
        if arr.shape != (n,):
            raise ConfigError(f"{name}: expected shape ({n},), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"{name}: expected finite values")

    n_events = len(off) - 1
    event = event_index(off)
    abs_eta = eta_arr if signed else np.abs(eta_arr)
    n_sides = 1 if signed else 2
    out = np.zeros((n_events, len(reg)), dtype=np.float64)
    for r, (eta_min, eta_max) in enumerate(reg):
        n_eta, n_phi, d_eta, d_phi = _grid(float(eta_min), float(eta_max), cell_size)
        n_cells = n_sides * n_eta * n_phi
        sel = np.flatnonzero((abs_eta >= eta_min) & (abs_eta < eta_max))
        i_eta = np.minimum(np.floor((abs_eta[sel] - eta_min) / d_eta), n_eta - 1)
        i_phi = np.floor(np.mod(phi_arr[sel] + math.pi, 2.0 * math.pi) / d_phi) % n_phi
        side = (eta_arr[sel] < 0) & (not signed)
        cell = ((side * n_eta + i_eta) * n_phi + i_phi).astype(np.int64)
        key = event[sel] * n_cells + cell
        weight = pt_arr[sel]
        area = d_eta * d_phi
        # Build the (events x cells) table a chunk of events at a time to bound memory.
        chunk = max(1, _MAX_TABLE_ENTRIES // n_cells)
        starts = np.minimum(np.arange(0, n_events + chunk, chunk), n_events)
        bounds = np.searchsorted(sel, off[starts])  # selected particles per chunk
        for c, e0 in enumerate(range(0, n_events, chunk)):
            e1 = min(e0 + chunk, n_events)
            part = slice(int(bounds[c]), int(bounds[c + 1]))
            table = np.bincount(
                key[part] - e0 * n_cells, weights=weight[part], minlength=(e1 - e0) * n_cells
            )
            out[e0:e1, r] = np.median(table.reshape(e1 - e0, n_cells), axis=1) / area
    return out


def rho_for(
    eta: npt.ArrayLike,
    event_index: npt.ArrayLike,
    rho_table: npt.ArrayLike,
    regions: Sequence[tuple[float, float]],
    signed: bool = False,
) -> F64:
    """The rho of the |eta| region containing each object.

    An object lies in region ``(a, b)`` when ``a <= |eta| < b`` (as Delphes'
    ``Isolation`` looks rho up), or ``a <= eta < b`` with *signed* regions (as
    :func:`rho_grid_median` with ``signed``); an object outside every region
    gets the rho of the nearest region.

    Args:
        eta: object pseudorapidity, one per object.
        event_index: the event of each object (row of ``rho_table``).
        rho_table: shape (n_events, n_regions), from :func:`rho_grid_median`.
        regions: the regions ``rho_table`` was computed for.
        signed: the regions are signed ranges of eta.

    Returns:
        rho per object (GeV per unit area).

    Raises:
        ConfigError: shapes that do not match, or an event index out of range.

    >>> table = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> rho_for([0.3, -2.7, 6.0], [0, 1, 0], table, [(0.0, 2.5), (2.5, 5.0)]).tolist()
    [1.0, 4.0, 2.0]
    """
    reg = _check_regions(regions, signed)
    eta_arr = np.asarray(eta, dtype=np.float64)
    if eta_arr.ndim != 1 or not np.all(np.isfinite(eta_arr)):
        raise ConfigError("eta: expected a 1-D array of finite values")
    idx = np.asarray(event_index)
    if idx.shape != eta_arr.shape or not np.issubdtype(idx.dtype, np.integer):
        raise ConfigError(f"event_index: expected an integer array of shape {eta_arr.shape}")
    table = np.asarray(rho_table, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != len(reg):
        raise ConfigError(
            f"rho_table: expected shape (n_events, {len(reg)}) (one column per region), "
            f"got {table.shape}"
        )
    if np.any((idx < 0) | (idx >= table.shape[0])):
        raise ConfigError(f"event_index: expected values in [0, {table.shape[0]})")
    x = (eta_arr if signed else np.abs(eta_arr))[:, None]
    lo, hi = reg[None, :, 0], reg[None, :, 1]
    inside = (x >= lo) & (x < hi)
    distance = np.maximum(np.maximum(lo - x, x - hi), 0.0)
    # A containing region wins; otherwise the nearest (first on ties).
    region = np.argmin(np.where(inside, -1.0, distance), axis=1)
    return np.asarray(table[idx.astype(np.int64), region], dtype=np.float64)
