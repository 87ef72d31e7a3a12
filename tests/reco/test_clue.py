"""Tests of l1scout.reco.clue: the reference library's truth files, a slow O(n^2) reference, edge cases."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import l1scout.reco
from l1scout.errors import ConfigError, DataFormatError
from l1scout.reco.clue import ClueResult, clue, clue_batch

DATA = Path(__file__).resolve().parents[1] / "data" / "clue"
TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------------------
# the slow reference: every pair, written straight from the rules
# --------------------------------------------------------------------------------------


def _reference(
    x: np.ndarray,
    w: np.ndarray,
    *,
    dc: float,
    rhoc: float,
    dm: float,
    seed_dc: float | None = None,
    rules: str = "current",
    period: dict[int, float] | None = None,
) -> tuple[list[int], list[bool], np.ndarray, list[int]]:
    """CLUE over all pairs: (cluster, is_seed, rho, nearest_higher)."""
    n, d = x.shape
    sdc = dc if seed_dc is None else seed_dc
    period = period or {}
    # |dx_k| per pair; a periodic coordinate is reduced to [0, P) and the distance is min(a, P - a)
    comp = np.empty((n, n, d))
    for k in range(d):
        xk = x[:, k] - period[k] * np.floor(x[:, k] / period[k]) if k in period else x[:, k]
        a = np.abs(xk[:, None] - xk[None, :])
        comp[:, :, k] = np.minimum(a, period[k] - a) if k in period else a
    d2 = np.zeros((n, n))
    for k in range(d):
        d2 = d2 + comp[:, :, k] * comp[:, :, k]
    legacy = rules == "legacy"
    near = (comp <= dc).all(axis=2) if legacy else d2 <= dc * dc
    np.fill_diagonal(near, False)
    rho = w + 0.5 * (near * w[None, :]).sum(axis=1)

    nh: list[int] = []
    for i in range(n):
        r = dm if (legacy or rho[i] < rhoc) else sdc
        best: tuple[float, float, int] | None = None
        for j in range(n):
            higher = rho[j] > rho[i] or (rho[j] == rho[i] and rho[i] > 0 and j > i)
            if not higher:
                continue
            within = bool((comp[i, j] <= r).all()) if legacy else d2[i, j] <= r * r
            if within:
                key = (d2[i, j], -rho[j], -j)
                best = key if best is None or key < best else best
        nh.append(-1 if best is None else -best[2])

    is_seed = []
    for i in range(n):
        if rho[i] < rhoc:
            is_seed.append(False)
        elif nh[i] < 0:
            is_seed.append(True)
        elif legacy:
            is_seed.append(bool((comp[i, nh[i]] > sdc).all()))
        else:
            is_seed.append(False)
    nh = [-1 if s else h for s, h in zip(is_seed, nh, strict=True)]
    seeds = [i for i in range(n) if is_seed[i]]
    cluster = []
    for i in range(n):
        j = i
        while not is_seed[j] and nh[j] >= 0:
            j = nh[j]
        cluster.append(seeds.index(j) if is_seed[j] else -1)
    return cluster, is_seed, rho, nh


def _assert_same(got: ClueResult, ref: tuple[list[int], list[bool], np.ndarray, list[int]]) -> None:
    cluster, is_seed, rho, nh = ref
    np.testing.assert_allclose(got.rho, rho, rtol=1e-12, atol=0)
    assert got.nearest_higher.tolist() == nh
    assert got.is_seed.tolist() == is_seed
    assert got.cluster.tolist() == cluster


def _blobs(
    rng: np.random.Generator, n: int, d: int, *, span: float, sigma: float, step: float = 0.0
) -> np.ndarray:
    """Gaussian blobs plus 20 % uniform noise in [-span/2, span/2]^d, optionally on a grid of *step*."""
    n_blob = max(1, n // 25)
    centres = rng.uniform(-span / 2, span / 2, (n_blob, d))
    n_noise = n // 5
    pts = centres[rng.integers(0, n_blob, n - n_noise)] + rng.normal(0, sigma, (n - n_noise, d))
    pts = np.vstack([pts, rng.uniform(-span / 2, span / 2, (n_noise, d))])
    pts = pts[rng.permutation(n)]
    return np.round(pts / step) * step if step else pts


def _read(name: str) -> np.ndarray:
    with (DATA / name).open() as fh:
        rows = list(csv.reader(fh))[1:]
    return np.array([[float(v) for v in row] for row in rows])


# --------------------------------------------------------------------------------------
# the reference library's truth files (cms-patatrack/CLUEstering, see tests/data/clue/README.md)
# --------------------------------------------------------------------------------------


def test_moons_truth_file_legacy_rules() -> None:
    """data/truth_files/moons_1000_truth.csv of commit 5d58697, made with dc=50, rhoc=5, dm=120."""
    t = _read("moons_1000_truth.csv")
    r = clue(t[:, :2], t[:, 2], dc=50.0, rhoc=5.0, dm=120.0, rules="legacy")
    assert r.cluster.tolist() == t[:, 3].astype(int).tolist()
    assert r.is_seed.tolist() == t[:, 4].astype(bool).tolist()
    # the current rules on the same file do not give it: the rule sets really differ
    cur = clue(t[:, :2], t[:, 2], dc=50.0, rhoc=5.0, dm=120.0, rules="current")
    assert cur.cluster.tolist() != t[:, 3].astype(int).tolist()


def test_toy_detector_truth_file_current_rules() -> None:
    """toy_det_1000_truth.csv of commit 39faf99: the library's Euclidean rules, dc = dm = 4.5, rhoc = 2.5."""
    t = _read("toy_det_1000_truth.csv")
    r = clue(t[:, :2], t[:, 2], dc=4.5, rhoc=2.5, dm=4.5, rules="current")
    assert r.cluster.tolist() == t[:, 3].astype(int).tolist()
    assert r.is_seed.tolist() == t[:, 4].astype(bool).tolist()
    assert (r.cluster.max() + 1, int((r.cluster == -1).sum())) == (95, 49)


def test_toy_detector_legacy_counts() -> None:
    """The 5d58697 version of the toy-detector truth (dc=4, rhoc=2.5, dm=4): 95 clusters, 52 outliers."""
    inp = _read("toyDetector_1000.csv")
    assert np.array_equal(inp, _read("toy_det_1000_truth.csv")[:, :3])  # same points, same order
    r = clue(inp[:, :2], inp[:, 2], dc=4.0, rhoc=2.5, dm=4.0, rules="legacy")
    assert (r.cluster.max() + 1, int((r.cluster == -1).sum()), int(r.is_seed.sum())) == (95, 52, 95)
    _assert_same(r, _reference(inp[:, :2], inp[:, 2], dc=4.0, rhoc=2.5, dm=4.0, rules="legacy"))


def test_truth_files_as_one_batch() -> None:
    """The batched entry on [toy, toy shifted by 1000]: per-event ids from 0, global nearest highers."""
    t = _read("toy_det_1000_truth.csv")
    x = np.vstack([t[:, :2], t[:, :2] + 1000.0])
    n = len(t)
    r = clue_batch(x, np.tile(t[:, 2], 2), [0, n, 2 * n], dc=4.5, rhoc=2.5, dm=4.5)
    truth = t[:, 3].astype(int)
    assert r.cluster.tolist() == np.concatenate([truth, truth]).tolist()
    one = clue(t[:, :2], t[:, 2], dc=4.5, rhoc=2.5, dm=4.5)
    nh = one.nearest_higher
    assert r.nearest_higher.tolist() == np.concatenate([nh, np.where(nh >= 0, nh + n, -1)]).tolist()


# --------------------------------------------------------------------------------------
# against the slow reference
# --------------------------------------------------------------------------------------

CASES = [
    # (d, periodic dims, dc, rhoc, dm, seed_dc)
    (1, None, 0.3, 2.0, 0.6, None),
    (2, None, 0.5, 3.0, 1.0, None),
    (2, None, 0.5, 3.0, 0.4, 0.8),
    (2, {1: TWO_PI}, 0.4, 2.5, 0.8, None),
    (2, {1: 1.0}, 0.4, 2.0, 0.8, None),  # fewer than 3 tiles around the period
    (3, None, 0.8, 3.0, 1.6, 1.2),
    (3, {0: 6.0, 2: 4.0}, 0.7, 2.0, 1.5, None),
    (5, None, 1.5, 2.5, 2.5, None),
]


def _case_id(case: tuple) -> str:
    per = ",".join(f"{k}:{p:.3g}" for k, p in (case[1] or {}).items()) or "open"
    return f"d{case[0]}-{per}-dc{case[2]}-dm{case[4]}-sdc{case[5]}"


@pytest.mark.parametrize("rules", ["current", "legacy"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("seed", [1, 2])
def test_matches_reference_dyadic(case: tuple, rules: str, seed: int) -> None:
    """Coordinates on a 1/8 grid and weights in quarters: every sum exact, many exact ties."""
    d, per, dc, rhoc, dm, sdc = case
    rng = np.random.default_rng(100 * seed + d)
    span = 2 * math.pi if per == {1: TWO_PI} else 6.0
    x = _blobs(rng, 240, d, span=span, sigma=0.3, step=0.125)
    if per:
        for k, p in per.items():
            x[:, k] = np.round(rng.uniform(-p / 2, p / 2, len(x)) / 0.125) * 0.125
    w = rng.integers(1, 8, len(x)) / 4.0
    got = clue(x, w, dc=dc, rhoc=rhoc, dm=dm, seed_dc=sdc, rules=rules, periodic=per)
    ref = _reference(x, w, dc=dc, rhoc=rhoc, dm=dm, seed_dc=sdc, rules=rules, period=per)
    _assert_same(got, ref)
    assert got.rho.tolist() == ref[2].tolist()  # exactly, not only to 1e-12
    assert got.is_seed.sum() > 1
    assert (got.cluster >= 0).sum() > len(x) // 3


@pytest.mark.parametrize("rules", ["current", "legacy"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_reference_continuous(case: tuple, rules: str) -> None:
    """Continuous coordinates and exponential weights (pT-like)."""
    d, per, dc, rhoc, dm, sdc = case
    rng = np.random.default_rng(7 + d)
    x = _blobs(rng, 300, d, span=6.0, sigma=0.3)
    if per:
        # shift everything across the period: distances must not care
        for k, p in per.items():
            x[:, k] = x[:, k] + 3.5 * p
    w = rng.exponential(1.0, len(x))
    got = clue(x, w, dc=dc, rhoc=rhoc, dm=dm, seed_dc=sdc, rules=rules, periodic=per)
    _assert_same(
        got, _reference(x, w, dc=dc, rhoc=rhoc, dm=dm, seed_dc=sdc, rules=rules, period=per)
    )


@pytest.mark.parametrize("rules", ["current", "legacy"])
def test_sparse_points_tiny_dc(rules: str) -> None:
    """Points over 1e6 with dc = 1e-3 (the tile count is capped) and dm far beyond a tile."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1e6, (150, 2))
    x[75:] = x[:75] + rng.normal(0, 5e-4, (75, 2))  # close pairs
    w = rng.uniform(0.5, 2.0, 150)
    got = clue(x, w, dc=1e-3, rhoc=1.0, dm=3e5, rules=rules)
    _assert_same(got, _reference(x, w, dc=1e-3, rhoc=1.0, dm=3e5, rules=rules))


@pytest.mark.parametrize("d", [2, 3])
def test_huge_search_distance(d: int) -> None:
    """dm = 1e300: every point is within reach, the boxes cover the whole grid."""
    rng = np.random.default_rng(12)
    x = _blobs(rng, 150, d, span=10.0, sigma=0.5)
    w = rng.exponential(1.0, 150)
    for rules in ("current", "legacy"):
        kw = {"dc": 0.5, "rhoc": 4.0, "dm": 1e300, "rules": rules}
        _assert_same(clue(x, w, **kw), _reference(x, w, **kw))


@pytest.mark.parametrize("rules", ["current", "legacy"])
def test_search_wider_than_the_period(rules: str) -> None:
    """dm above half the period: the search box covers the whole ring once."""
    rng = np.random.default_rng(11)
    x = np.column_stack([rng.uniform(-1, 1, 120), rng.uniform(-math.pi, math.pi, 120)])
    w = rng.integers(1, 5, 120) / 2.0
    kw = {"dc": 0.3, "rhoc": 2.0, "dm": 4.0, "rules": rules}
    got = clue(x, w, periodic={1: TWO_PI}, **kw)
    _assert_same(got, _reference(x, w, period={1: TWO_PI}, **kw))


def test_legacy_equals_current_in_one_dimension() -> None:
    """In 1-d a box is a ball; with dm >= seed_dc the two rule sets give the same clustering."""
    rng = np.random.default_rng(5)
    x = _blobs(rng, 400, 1, span=20.0, sigma=0.4)
    w = rng.exponential(1.0, 400)
    cur = clue(x, w, dc=0.3, rhoc=2.0, dm=0.9, seed_dc=0.6)
    leg = clue(x, w, dc=0.3, rhoc=2.0, dm=0.9, seed_dc=0.6, rules="legacy")
    assert cur.cluster.tolist() == leg.cluster.tolist()
    assert cur.is_seed.tolist() == leg.is_seed.tolist()


@pytest.mark.parametrize("rules", ["current", "legacy"])
def test_batch_equals_events_one_by_one(rules: str) -> None:
    """Events of 0 to 120 points in (eta, phi), phi periodic, clustered together and alone."""
    rng = np.random.default_rng(21)
    counts = [0, 37, 120, 1, 0, 64, 2]
    events = [
        np.column_stack([rng.normal(0, 0.6, c), rng.uniform(-math.pi, math.pi, c)]) for c in counts
    ]
    weights = [rng.exponential(2.0, c) for c in counts]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    kw = {"dc": 0.2, "rhoc": 3.0, "dm": 0.4, "rules": rules, "periodic": [1]}
    got = clue_batch(np.vstack(events), np.concatenate(weights), offsets, **kw)
    for e, (x, w) in enumerate(zip(events, weights, strict=True)):
        one = clue(x, w, **kw)
        sl = slice(offsets[e], offsets[e + 1])
        assert got.cluster[sl].tolist() == one.cluster.tolist()
        assert got.is_seed[sl].tolist() == one.is_seed.tolist()
        assert got.rho[sl].tolist() == one.rho.tolist()
        nh = one.nearest_higher
        assert got.nearest_higher[sl].tolist() == np.where(nh >= 0, nh + offsets[e], -1).tolist()


def test_batch_timer_stages() -> None:
    timer: dict[str, float] = {}
    clue_batch(np.zeros((3, 2)), np.ones(3), [0, 3], dc=1.0, rhoc=1.0, dm=1.0, timer=timer)
    assert sorted(timer) == ["clue/assign", "clue/density", "clue/index", "clue/nearest_higher"]


# --------------------------------------------------------------------------------------
# edge cases, by hand
# --------------------------------------------------------------------------------------


def test_the_issue_names_the_function_by_its_module_path() -> None:
    # `l1scout.reco.clue.clue`: the package does not shadow the module with the function
    assert l1scout.reco.clue.clue is clue
    assert l1scout.reco.clue.clue_batch is clue_batch


def test_empty_input() -> None:
    r = clue(np.empty((0, 3)), np.empty(0), dc=1.0, rhoc=1.0, dm=1.0)
    assert [a.shape for a in r] == [(0,)] * 4
    assert [a.dtype for a in r] == [np.int64, np.bool_, np.float64, np.int64]
    b = clue_batch(np.empty((0, 2)), [], [0, 0, 0], dc=1.0, rhoc=1.0, dm=1.0)
    assert b.cluster.shape == (0,)


@pytest.mark.parametrize(("w", "seed"), [(2.0, True), (0.5, False)])
def test_one_point(w: float, seed: bool) -> None:
    r = clue([[1.0, 2.0]], [w], dc=1.0, rhoc=1.0, dm=1.0)
    assert r.rho.tolist() == [w]
    assert r.is_seed.tolist() == [seed]
    assert r.cluster.tolist() == [0 if seed else -1]
    assert r.nearest_higher.tolist() == [-1]


@pytest.mark.parametrize("rules", ["current", "legacy"])
def test_all_points_equal(rules: str) -> None:
    """Five copies of one point: rho = 1 + 0.5 x 4 each; the last index wins every tie."""
    r = clue(np.ones((5, 2)), np.ones(5), dc=0.1, rhoc=1.0, dm=0.1, rules=rules)
    assert r.rho.tolist() == [3.0] * 5
    assert r.is_seed.tolist() == [False] * 4 + [True]
    assert r.nearest_higher.tolist() == [4, 4, 4, 4, -1]
    assert r.cluster.tolist() == [0] * 5


def test_density_ties_go_to_the_higher_index() -> None:
    """Three points in a row, 1 apart, and a pair, dc = 1: rho by hand."""
    r = clue([[0.0], [1.0], [2.0], [10.0], [11.0]], np.ones(5), dc=1.0, rhoc=1.5, dm=1.0)
    assert r.rho.tolist() == [1.5, 2.0, 1.5, 1.5, 1.5]
    # 3 and 4 tie at 1.5 > 0: 4 is higher, so 3 follows 4
    assert r.nearest_higher.tolist() == [1, -1, 1, 4, -1]
    assert r.cluster.tolist() == [0, 0, 0, 1, 1]
    assert r.is_seed.tolist() == [False, True, False, False, True]


def test_equal_distances_go_to_the_higher_density() -> None:
    """Point 0 sits 1 from point 1 (rho 3) and from point 2 (rho 3.5): it follows 2."""
    x = [[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.2, 0.0], [1.2, 0.0], [1.25, 0.05]]
    r = clue(x, [0.1, 2.0, 2.0, 2.0, 2.0, 1.0], dc=0.3, rhoc=5.0, dm=1.0)
    assert r.rho.tolist() == [0.1, 3.0, 3.5, 3.0, 3.5, 3.0]
    assert r.nearest_higher[0] == 2


def test_zero_density_points_never_tie() -> None:
    """Zero weights give rho = 0; equal zero densities do not link, so each is a seed at rhoc = 0."""
    r = clue([[0.0], [0.1], [0.2]], [0.0, 0.0, 0.0], dc=1.0, rhoc=0.0, dm=1.0)
    assert r.rho.tolist() == [0.0, 0.0, 0.0]
    assert r.cluster.tolist() == [0, 1, 2]
    r = clue([[0.0], [0.1], [0.2]], [0.0, 0.0, 0.0], dc=1.0, rhoc=0.5, dm=1.0)
    assert r.cluster.tolist() == [-1, -1, -1]


def test_chain_ending_in_an_outlier_is_outlier() -> None:
    """Low points follow a higher low point that has no higher within dm: all -1."""
    r = clue([[0.0], [0.5], [1.0]], [1.0, 1.2, 1.0], dc=0.6, rhoc=5.0, dm=0.6)
    assert r.nearest_higher.tolist() == [1, -1, 1]
    assert r.cluster.tolist() == [-1, -1, -1]
    assert not r.is_seed.any()


@pytest.mark.parametrize("rules", ["current", "legacy"])
def test_cluster_across_the_phi_wrap(rules: str) -> None:
    """A blob centred on phi = pi is one cluster with phi periodic, two without."""
    rng = np.random.default_rng(8)
    phi = rng.normal(math.pi, 0.05, 40)
    phi = np.where(phi > math.pi, phi - TWO_PI, phi)  # half of it near -pi
    x = np.column_stack([rng.normal(0.0, 0.05, 40), phi])
    w = np.ones(40)
    kw = {"dc": 0.1, "rhoc": 3.0, "dm": 0.2, "rules": rules}
    r = clue(x, w, periodic=[1], **kw)
    assert set(r.cluster.tolist()) == {0}
    assert r.is_seed.sum() == 1
    # the same labels with the blob moved to phi = 0 (no wrap needed)
    moved = np.column_stack([x[:, 0], np.where(x[:, 1] > 0, x[:, 1] - math.pi, x[:, 1] + math.pi)])
    assert clue(moved, w, **kw).cluster.tolist() == r.cluster.tolist()
    assert clue(x, w, **kw).cluster.max() >= 1  # not periodic: split in two


def test_periodic_mapping_and_sequence_agree() -> None:
    rng = np.random.default_rng(4)
    x = np.column_stack([rng.normal(0, 1, 50), rng.uniform(-math.pi, math.pi, 50)])
    a = clue(x, np.ones(50), dc=0.5, rhoc=2.0, dm=1.0, periodic=[1])
    b = clue(x, np.ones(50), dc=0.5, rhoc=2.0, dm=1.0, periodic={1: TWO_PI})
    assert a.cluster.tolist() == b.cluster.tolist()


def test_three_dimensions_by_hand() -> None:
    """Legacy box vs current ball: (0.9, 0.9, 0.9) is inside the box of side 1 but 1.56 away."""
    x = [[0.0, 0.0, 0.0], [0.9, 0.9, 0.9]]
    assert clue(x, [1.0, 1.0], dc=1.0, rhoc=1.0, dm=1.0, rules="legacy").rho.tolist() == [1.5, 1.5]
    assert clue(x, [1.0, 1.0], dc=1.0, rhoc=1.0, dm=1.0).rho.tolist() == [1.0, 1.0]


def test_legacy_seed_needs_every_dimension_beyond_seed_dc() -> None:
    """Legacy: a nearest higher at (0.5, 3) is not 'farther than seed_dc = 1' in x, so no seed."""
    x = [[0.0, 0.0], [0.5, 3.0]]
    kw = {"dc": 0.1, "rhoc": 1.0, "dm": 5.0, "seed_dc": 1.0}
    r = clue(x, [2.0, 3.0], rules="legacy", **kw)
    assert r.is_seed.tolist() == [False, True]
    assert r.cluster.tolist() == [0, 0]
    assert r.nearest_higher.tolist() == [1, -1]
    # with seed_dc = 0.4 it is farther in both dimensions: a seed, its nearest higher reported as -1
    r = clue(x, [2.0, 3.0], rules="legacy", **(kw | {"seed_dc": 0.4}))
    assert r.cluster.tolist() == [0, 1]
    assert r.nearest_higher.tolist() == [-1, -1]
    # the current rules look within seed_dc only: point 0 is a seed of its own
    assert clue(x, [2.0, 3.0], **kw).cluster.tolist() == [0, 1]


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coords", "weights", "match"),
    [
        (np.zeros(3), np.ones(3), "coords: expected an \\(n, d\\) array"),
        (np.zeros((3, 0)), np.ones(3), "coords: expected an \\(n, d\\) array"),
        ([[0.0, np.nan]], [1.0], "coords: expected finite"),
        ([["a", "b"]], [1.0], "coords: expected an \\(n, d\\) array of numbers"),
        (np.zeros((3, 2)), np.ones(2), "weights: expected shape \\(3,\\)"),
        (np.zeros((2, 2)), [1.0, -1.0], "weights: expected finite, non-negative"),
        (np.zeros((2, 2)), [1.0, np.inf], "weights: expected finite, non-negative"),
    ],
)
def test_bad_data(coords: object, weights: object, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        clue(coords, weights, dc=1.0, rhoc=1.0, dm=1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dc": 0.0}, "dc: expected a distance > 0"),
        ({"dm": -1.0}, "dm: expected a distance > 0"),
        ({"seed_dc": math.inf}, "seed_dc: expected a finite number"),
        ({"rhoc": math.nan}, "rhoc: expected a finite number"),
        ({"rhoc": "x"}, "rhoc: expected a number"),
        ({"rules": "box"}, "rules: expected 'current' or 'legacy'"),
        ({"periodic": [2]}, "periodic: expected dimensions in 0..1"),
        ({"periodic": {0: 0.0}}, "periodic\\[0\\]: expected a distance > 0"),
        ({"periodic": [1, 1]}, "periodic: dimension 1 given twice"),
        ({"periodic": "phi"}, "periodic: expected a mapping"),
        ({"periodic": [True]}, "periodic: expected dimensions"),
    ],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    args = {"dc": 1.0, "rhoc": 1.0, "dm": 1.0} | kwargs
    with pytest.raises(ConfigError, match=match):
        clue(np.zeros((2, 2)), np.ones(2), **args)


@pytest.mark.parametrize(
    ("offsets", "match"),
    [([0, 1], "offsets: expected the last offset"), ([1, 2], "offsets: expected non-decreasing")],
)
def test_bad_offsets(offsets: list[int], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        clue_batch(np.zeros((2, 2)), np.ones(2), offsets, dc=1.0, rhoc=1.0, dm=1.0)
