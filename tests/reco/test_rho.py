"""Tests of l1scout.reco.rho against a slow pure-Python reference and known values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.reco import rho as rho_module
from l1scout.reco.rho import rho_for, rho_grid_median

REGIONS = [(0.0, 2.5), (2.5, 4.0), (4.0, 5.0)]


def _median(values: list[float]) -> float:
    v = sorted(values)
    m = len(v)
    return v[m // 2] if m % 2 else 0.5 * (v[m // 2 - 1] + v[m // 2])


def _reference(
    offsets: list[int],
    pt: list[float],
    eta: list[float],
    phi: list[float],
    regions: list[tuple[float, float]],
    cell_size: float,
) -> list[list[float]]:
    """One event, one region, one particle at a time; cells as in FastJet's RectangularGrid."""
    out = []
    for ev in range(len(offsets) - 1):
        row = []
        for lo, hi in regions:
            n_eta = max(math.floor((hi - lo) / cell_size + 0.5), 1)
            n_phi = max(math.floor(2 * math.pi / cell_size + 0.5), 1)
            d_eta, d_phi = (hi - lo) / n_eta, 2 * math.pi / n_phi
            cells = {
                (side, i, j): 0.0 for side in (0, 1) for i in range(n_eta) for j in range(n_phi)
            }
            for k in range(offsets[ev], offsets[ev + 1]):
                x = abs(eta[k])
                if not lo <= x < hi:
                    continue
                i = min(math.floor((x - lo) / d_eta), n_eta - 1)
                j = math.floor(((phi[k] + math.pi) % (2 * math.pi)) / d_phi) % n_phi
                cells[(1 if eta[k] < 0 else 0, i, j)] += pt[k]
            row.append(_median([v / (d_eta * d_phi) for v in cells.values()]))
        out.append(row)
    return out


def _random_events(seed: int) -> tuple[list[int], list[float], list[float], list[float]]:
    rng = np.random.default_rng(seed)
    offsets, pt, eta, phi = [0], [], [], []
    for ev in range(8):
        n = 0 if ev == 2 else int(rng.integers(1, 30) if ev == 5 else rng.integers(800, 3000))
        pt += list(rng.exponential(1.5, n))
        eta += list(rng.uniform(-5.5, 5.5, n))
        phi += list(rng.uniform(-math.pi, math.pi, n))
        # region and phi boundaries
        pt += [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        eta += [2.5, -2.5, 0.0, -4.0, 5.0, 1.0]
        phi += [math.pi, -math.pi, 0.0, 1.0, 2.0, -math.pi]
        offsets.append(len(pt))
    return offsets, pt, eta, phi


@pytest.mark.parametrize(("seed", "cell_size"), [(0, 0.55), (1, 0.8), (2, 0.3), (3, 2.0)])
def test_matches_reference(seed: int, cell_size: float) -> None:
    offsets, pt, eta, phi = _random_events(seed)
    fast = rho_grid_median(
        np.asarray(offsets), np.asarray(pt), np.asarray(eta), np.asarray(phi),
        regions=REGIONS, cell_size=cell_size,
    )  # fmt: skip
    slow = np.asarray(_reference(offsets, pt, eta, phi, REGIONS, cell_size))
    assert fast.shape == (len(offsets) - 1, len(REGIONS))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    assert np.count_nonzero(fast) >= fast.size - 2 * len(REGIONS)  # not vacuous


def test_chunked_tables_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    offsets, pt, eta, phi = (np.asarray(a) for a in _random_events(4))
    whole = rho_grid_median(offsets, pt, eta, phi, regions=REGIONS, cell_size=0.5)
    monkeypatch.setattr(rho_module, "_MAX_TABLE_ENTRIES", 300)  # a few events per chunk
    np.testing.assert_array_equal(
        rho_grid_median(offsets, pt, eta, phi, regions=REGIONS, cell_size=0.5), whole
    )


def _uniform_event(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-2.5, 2.5, n), rng.uniform(-math.pi, math.pi, n)


def test_uniform_density() -> None:
    rng = np.random.default_rng(7)
    n, pt0, n_events = 13_000, 0.8, 3  # about 100 particles per cell
    etas, phis = zip(*(_uniform_event(rng, n) for _ in range(n_events)), strict=True)
    rho = rho_grid_median(
        np.arange(n_events + 1) * n, np.full(n * n_events, pt0), np.concatenate(etas),
        np.concatenate(phis), regions=REGIONS, cell_size=0.5,
    )  # fmt: skip
    expected = n * pt0 / (5.0 * 2 * math.pi)  # both strips of |eta| < 2.5
    np.testing.assert_allclose(rho[:, 0], expected, rtol=0.05)
    np.testing.assert_array_equal(rho[:, 1:], 0.0)


def test_single_hard_particle_barely_moves_the_median() -> None:
    rng = np.random.default_rng(8)
    n = 13_000
    eta, phi = _uniform_event(rng, n)
    pt = np.full(n, 1.0)
    base = rho_grid_median([0, n], pt, eta, phi, regions=REGIONS, cell_size=0.5)[0, 0]
    hard = rho_grid_median(
        [0, n + 1], np.append(pt, 1e5), np.append(eta, 1.0), np.append(phi, 0.5),
        regions=REGIONS, cell_size=0.5,
    )[0, 0]  # fmt: skip
    mean_shift = 1e5 / (5.0 * 2 * math.pi)  # what the mean density would move by: ~8 x rho
    assert mean_shift > 5 * base
    assert base <= hard < base * 1.02


def test_empty_events_and_sparse_events_give_zero() -> None:
    e = np.zeros(0)
    np.testing.assert_array_equal(
        rho_grid_median([0, 0, 0], e, e, e, regions=REGIONS, cell_size=0.5), np.zeros((2, 3))
    )
    # particles only outside every region, and a few particles in many cells
    rho = rho_grid_median(
        [0, 2, 5], [5.0, 6.0, 1.0, 2.0, 3.0], [5.5, -7.0, 0.1, 1.0, -3.0],
        [0.0, 1.0, 0.0, 1.0, 2.0],
        regions=REGIONS, cell_size=0.5,
    )  # fmt: skip
    np.testing.assert_array_equal(rho, np.zeros((2, 3)))


def test_known_values() -> None:
    # |eta| < 1 with unit cells: 2 strips x 1 x 6 cells of area pi / 3
    area = math.pi / 3
    phi_centres = np.linspace(-math.pi, math.pi, 7)[:-1] + math.pi / 6
    pt = np.arange(1.0, 13.0)
    eta = np.repeat([-0.5, 0.5], 6)
    rho = rho_grid_median([0, 12], pt, eta, np.tile(phi_centres, 2), regions=[(0.0, 1.0)],
                          cell_size=1.0)  # fmt: skip
    assert rho[0, 0] == pytest.approx(6.5 / area, rel=1e-12)
    # only the positive strip filled: 6 of 12 cells empty, median = (0 + 1) / 2 / area
    rho = rho_grid_median([0, 6], pt[:6], np.full(6, 0.5), phi_centres, regions=[(0.0, 1.0)],
                          cell_size=1.0)  # fmt: skip
    assert rho[0, 0] == pytest.approx(0.5 / area, rel=1e-12)
    # |eta| < 2.5 with cell_size 0.55: 5 x 11 cells per strip of 0.5 x 2 pi / 11; one unit each
    ce = (np.arange(5) + 0.5) * 0.5
    cp = -math.pi + (np.arange(11) + 0.5) * 2 * math.pi / 11
    ge, gp = np.meshgrid(np.concatenate([ce, -ce]), cp)
    rho = rho_grid_median([0, 110], np.ones(110), ge.ravel(), gp.ravel(), regions=REGIONS,
                          cell_size=0.55)  # fmt: skip
    assert rho[0, 0] == pytest.approx(1.0 / (0.5 * 2 * math.pi / 11), rel=1e-12)


def test_rho_for() -> None:
    table = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    eta = [0.0, -2.4999, 2.5, -4.0, 4.999, 5.0, -9.0, 1.0]
    ev = [0, 1, 0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(
        rho_for(eta, ev, table, REGIONS), [1.0, 10.0, 2.0, 30.0, 3.0, 30.0, 3.0, 10.0]
    )
    # a gap between regions: the nearest region in |eta| wins
    gap = [(0.0, 1.0), (2.0, 3.0)]
    t2 = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(rho_for([1.4, -1.8, 0.5], [0, 0, 0], t2, gap), [1.0, 2.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"regions": [(0.0, 2.5), (2.0, 4.0)]}, "regions"),
        ({"regions": [(2.5, 1.0)]}, "regions"),
        ({"regions": [(-1.0, 1.0)]}, "regions"),
        ({"regions": []}, "regions"),
        ({"cell_size": 0.0}, "cell_size"),
        ({"offsets": [0, 3]}, "offsets"),
        ({"eta": [0.0, float("inf")]}, "eta"),
    ],
)
def test_bad_input_raises(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"offsets": [0, 2], "pt": [1.0, 2.0], "eta": [0.0, 1.0],
                            "phi": [0.0, 1.0], "regions": REGIONS, "cell_size": 0.5}  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        rho_grid_median(**args)


def test_rho_for_bad_input_raises() -> None:
    table = np.zeros((2, 3))
    with pytest.raises(ConfigError, match="event_index"):
        rho_for([0.0], [2], table, REGIONS)
    with pytest.raises(ConfigError, match="rho_table"):
        rho_for([0.0], [0], np.zeros((2, 2)), REGIONS)
