"""Propagation to the calorimeter surface against a step-by-step RK4 integration and known numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1scout.detector.propagation import (
    SurfaceHits,
    beyond_end_caps,
    impact_parameters,
    propagate_to_surface,
)
from l1scout.errors import ConfigError

BZ = 3.8
RADIUS = 1290.0
HALF = 3000.0
KAPPA = 0.299792458e-3  # GeV / (T mm)

State = tuple[float, float, float, float, float, float]


# ---------------------------------------------------------------- slow reference


def _deriv(s: State, q: float, bz: float) -> State:
    """d(state)/d(path length) for dp/dt = q v x B, B = (0, 0, bz); lengths in mm."""
    _, _, _, px, py, pz = s
    p = math.sqrt(px * px + py * py + pz * pz)
    ux, uy, uz = px / p, py / p, pz / p
    k = KAPPA * q * bz
    return (ux, uy, uz, k * uy, -k * ux, 0.0)


def _rk4(s: State, q: float, bz: float, h: float) -> State:
    def add(a: State, b: State, f: float) -> State:
        return tuple(ai + f * bi for ai, bi in zip(a, b, strict=True))  # type: ignore[return-value]

    k1 = _deriv(s, q, bz)
    k2 = _deriv(add(s, k1, h / 2), q, bz)
    k3 = _deriv(add(s, k2, h / 2), q, bz)
    k4 = _deriv(add(s, k3, h), q, bz)
    return tuple(
        si + h / 6 * (a + 2 * b + 2 * c + d)
        for si, a, b, c, d in zip(s, k1, k2, k3, k4, strict=True)
    )  # type: ignore[return-value]


def _outside(s: State) -> float:
    return max(math.hypot(s[0], s[1]) - RADIUS, abs(s[2]) - HALF)


def _rk4_hit(
    p: tuple[float, float, float],
    q: float,
    v: tuple[float, float, float],
    bz: float = BZ,
    step: float = 4.0,
    max_path: float = 60_000.0,
) -> tuple[float, float, float, bool, float] | None:
    """First surface crossing by RK4 steps, bisection inside the last step.

    Returns (x, y, z, barrel, momentum azimuth) at the crossing, None if it never arrives.
    """
    s: State = (v[0], v[1], v[2], p[0], p[1], p[2])
    travelled = 0.0
    while travelled < max_path:
        nxt = _rk4(s, q, bz, step)
        if _outside(nxt) > 0.0:
            lo, hi = 0.0, step
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if _outside(_rk4(s, q, bz, mid)) > 0.0:
                    hi = mid
                else:
                    lo = mid
            e = _rk4(s, q, bz, 0.5 * (lo + hi))
            barrel = math.hypot(e[0], e[1]) - RADIUS > abs(e[2]) - HALF
            return e[0], e[1], e[2], barrel, math.atan2(e[4], e[3])
        s = nxt
        travelled += step
    return None


def _rk4_pca(
    p: tuple[float, float, float], q: float, v: tuple[float, float, float], step: float = 0.5
) -> tuple[float, float]:
    """(d0, dz) at the minimum of rho along the helix, scanning both ways from the vertex."""
    pt = math.hypot(p[0], p[1])
    ptot = math.sqrt(pt * pt + p[2] ** 2)
    n_steps = int((2 * math.hypot(v[0], v[1]) + 10.0) * ptot / pt / step) + 2
    best: tuple[float, State, float] | None = None  # (rho, state one step before, direction)
    for direction in (1.0, -1.0):
        s: State = (v[0], v[1], v[2], direction * p[0], direction * p[1], direction * p[2])
        prev = s
        for _ in range(n_steps):
            rho = math.hypot(s[0], s[1])
            if best is None or rho < best[0]:
                best = (rho, prev, direction)
            prev = s
            s = _rk4(s, direction * q, BZ, step)
    assert best is not None
    _, start, direction = best
    lo, hi = 0.0, 2 * step
    for _ in range(200):  # ternary search of the minimum of rho
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        r1 = math.hypot(*_rk4(start, direction * q, BZ, m1)[:2])
        r2 = math.hypot(*_rk4(start, direction * q, BZ, m2)[:2])
        if r1 < r2:
            hi = m2
        else:
            lo = m1
    e = _rk4(start, direction * q, BZ, 0.5 * (lo + hi))
    px, py = direction * e[3], direction * e[4]
    return (e[0] * py - e[1] * px) / pt, e[2]


def _momentum(pt: float, eta: float, phi: float) -> tuple[float, float, float]:
    return pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)


def _propagate(
    mom: list[tuple[float, float, float]],
    charge: list[float],
    vtx: list[tuple[float, float, float]],
    bz: float = BZ,
) -> SurfaceHits:
    p = np.array(mom, dtype=float).reshape(-1, 3)
    v = np.array(vtx, dtype=float).reshape(-1, 3)
    return propagate_to_surface(
        p[:, 0],
        p[:, 1],
        p[:, 2],
        np.array(charge),
        v[:, 0],
        v[:, 1],
        v[:, 2],
        bz_tesla=bz,
        radius_mm=RADIUS,
        half_length_mm=HALF,
    )


def _random_tracks(
    n: int, seed: int
) -> tuple[list[tuple[float, float, float]], list[float], list[tuple[float, float, float]]]:
    rng = np.random.default_rng(seed)
    mom, charge, vtx = [], [], []
    for i in range(n):
        pt = float(np.exp(rng.uniform(np.log(0.8), np.log(50.0))))
        mom.append(_momentum(pt, rng.uniform(-4, 4), rng.uniform(-math.pi, math.pi)))
        charge.append(1.0 if i % 2 else -1.0)
        if i < n // 3:  # prompt, on the beam line
            vtx.append((0.0, 0.0, float(rng.normal(0, 50))))
        else:  # displaced
            vtx.append(
                (
                    float(rng.uniform(-30, 30)),
                    float(rng.uniform(-30, 30)),
                    float(rng.uniform(-100, 100)),
                )
            )
    return mom, charge, vtx


# ---------------------------------------------------------------- tests


def test_charged_hits_match_rk4() -> None:
    mom, charge, vtx = _random_tracks(30, seed=11)
    # two low-pT loopers that reach an end cap after several turns
    mom += [_momentum(0.5, 0.5, 0.3), _momentum(0.6, -0.8, -2.0)]
    charge += [1.0, -1.0]
    vtx += [(0.0, 0.0, 10.0), (3.0, -2.0, -20.0)]
    hits = _propagate(mom, charge, vtx)
    assert hits.reached.all()
    n_barrel = 0
    for i in range(len(mom)):
        ref = _rk4_hit(mom[i], charge[i], vtx[i])
        assert ref is not None
        np.testing.assert_allclose(
            [hits.x[i], hits.y[i], hits.z[i]], ref[:3], atol=0.01, err_msg=f"particle {i}"
        )
        assert bool(hits.barrel[i]) == ref[3], f"particle {i}"
        assert abs(math.remainder(hits.phi_vertex[i] - ref[4], 2 * math.pi)) < 1e-6
        n_barrel += ref[3]
    assert 5 <= n_barrel <= len(mom) - 5  # both surfaces are exercised
    rho = np.hypot(hits.x, hits.y)
    np.testing.assert_allclose(rho[hits.barrel], RADIUS, rtol=1e-12)
    np.testing.assert_allclose(np.abs(hits.z[~hits.barrel]), HALF, rtol=0)
    np.testing.assert_allclose(hits.eta, np.arcsinh(hits.z / rho), rtol=1e-12)
    np.testing.assert_allclose(hits.phi, np.arctan2(hits.y, hits.x), rtol=1e-12)


def test_one_gev_track_bends_by_two_asin() -> None:
    r = 1.0 / (KAPPA * BZ)
    bend = 2 * math.asin(RADIUS / (2 * r))
    phi0 = 0.4
    hits = _propagate([_momentum(1.0, 0.0, phi0)] * 2, [1.0, -1.0], [(0.0, 0.0, 0.0)] * 2)
    assert hits.reached.all()
    assert hits.barrel.all()
    np.testing.assert_allclose(np.hypot(hits.x, hits.y), RADIUS, rtol=1e-12)
    np.testing.assert_allclose(hits.z, 0.0, atol=1e-12)
    np.testing.assert_allclose(hits.eta, 0.0, atol=1e-12)
    # positive: clockwise (phi decreases); the position turns by half the momentum bend
    np.testing.assert_allclose(hits.phi_vertex, [phi0 - bend, phi0 + bend], atol=1e-12)
    np.testing.assert_allclose(hits.phi, [phi0 - bend / 2, phi0 + bend / 2], atol=1e-12)
    # the field sign flips the sense of rotation; q = 2 bends like half the pT
    flipped = _propagate([_momentum(1.0, 0.0, phi0)], [1.0], [(0.0, 0.0, 0.0)], bz=-BZ)
    assert flipped.phi_vertex[0] == pytest.approx(phi0 + bend, abs=1e-12)
    double = _propagate([_momentum(2.0, 0.0, phi0)], [2], [(0.0, 0.0, 0.0)])
    assert double.phi_vertex[0] == pytest.approx(phi0 - bend, abs=1e-12)


def test_looper_threshold() -> None:
    threshold = 0.299792458 * BZ * (RADIUS / 1000.0) / 2
    assert threshold == pytest.approx(0.7348, abs=1e-4)
    below = _propagate([_momentum(threshold * (1 - 1e-6), 0.0, 1.0)], [1.0], [(0.0, 0.0, 0.0)])
    assert not below.reached[0]
    assert not below.barrel[0]
    for arr in (below.x, below.y, below.z, below.eta, below.phi, below.phi_vertex):
        assert arr[0] == 0.0
    above = _propagate([_momentum(threshold * (1 + 1e-6), 0.0, 1.0)], [1.0], [(0.0, 0.0, 0.0)])
    assert above.reached[0]
    assert above.barrel[0]
    assert math.hypot(above.x[0], above.y[0]) == pytest.approx(RADIUS, rel=1e-12)
    # nearly tangent: half a turn, the momentum points backwards at the surface
    assert abs(math.remainder(above.phi_vertex[0] - (1.0 - math.pi), 2 * math.pi)) < 1e-2


@pytest.mark.parametrize("eta", [0.5, -0.5])
def test_looper_with_pz_reaches_end_cap(eta: float) -> None:
    pt, phi0 = 0.5, 0.3
    hits = _propagate([_momentum(pt, eta, phi0)], [1.0], [(0.0, 0.0, 0.0)])
    assert hits.reached[0]
    assert not hits.barrel[0]
    assert hits.z[0] == math.copysign(HALF, eta)
    r = pt / (KAPPA * BZ)
    psi = HALF / abs(math.sinh(eta)) / r  # turning angle on the way to the end cap
    assert psi > 4 * math.pi  # it loops more than twice
    chord_dir = phi0 - psi / 2
    expected = (2 * r * math.sin(psi / 2)) * np.array([math.cos(chord_dir), math.sin(chord_dir)])
    np.testing.assert_allclose([hits.x[0], hits.y[0]], expected, atol=1e-8)
    ref = _rk4_hit(_momentum(pt, eta, phi0), 1.0, (0.0, 0.0, 0.0))
    assert ref is not None
    np.testing.assert_allclose([hits.x[0], hits.y[0], hits.z[0]], ref[:3], atol=0.01)


def test_neutral_particles_go_straight() -> None:
    rng = np.random.default_rng(3)
    n = 200
    pt = rng.uniform(0.1, 20, n)
    eta = rng.uniform(-5, 5, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    mom = [_momentum(*a) for a in zip(pt, eta, phi, strict=True)]
    vtx = [tuple(a) for a in rng.uniform([-50, -50, -200], [50, 50, 200], (n, 3))]
    hits = _propagate(mom, [0.0] * n, vtx)
    assert hits.reached.all()
    for i in range(n):
        p, v = np.array(mom[i]), np.array(vtx[i])
        # obviously-correct line parameters: rho(t) = R (quadratic) and |z(t)| = L
        qa = p[0] ** 2 + p[1] ** 2
        qb = 2 * (p[0] * v[0] + p[1] * v[1])
        qc = v[0] ** 2 + v[1] ** 2 - RADIUS**2
        t_r = (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
        t_z = (math.copysign(HALF, p[2]) - v[2]) / p[2]
        t = min(t_r, t_z)
        np.testing.assert_allclose([hits.x[i], hits.y[i], hits.z[i]], v + t * p, atol=1e-8)
        assert bool(hits.barrel[i]) == (t_r <= t_z)
        assert hits.phi_vertex[i] == pytest.approx(phi[i], abs=1e-12)
    # known numbers from the origin
    known = _propagate(
        [_momentum(5.0, 0.0, 0.3), _momentum(5.0, 1.0, 0.0), _momentum(5.0, -2.0, 0.0)],
        [0, 0, 0],
        [(0.0, 0.0, 0.0)] * 3,
    )
    np.testing.assert_allclose(known.x, [RADIUS * math.cos(0.3), RADIUS, HALF / math.sinh(2.0)])
    np.testing.assert_allclose(known.z, [0.0, RADIUS * math.sinh(1.0), -HALF], atol=1e-9)
    np.testing.assert_allclose(known.eta, [0.0, 1.0, -2.0], atol=1e-12)
    assert known.barrel.tolist() == [True, True, False]
    # a charged particle without field goes straight as well
    nofield = _propagate(mom[:20], [1.0] * 20, vtx[:20], bz=0.0)
    np.testing.assert_allclose(nofield.x, hits.x[:20])
    np.testing.assert_allclose(nofield.z, hits.z[:20])


def test_unreached_particles_are_zero_and_nothing_is_nan() -> None:
    mom = [
        _momentum(0.5, 0.0, 1.0),  # looper with pz = 0
        (0.0, 0.0, 10.0),  # pT = 0
        (0.0, 0.0, 0.0),  # at rest
        _momentum(5.0, 0.3, 0.1),  # produced outside in rho
        _momentum(5.0, 0.3, 0.1),  # produced outside in z
        _momentum(5.0, 0.3, 0.1),  # fine
        _momentum(1e-3, 0.0, 0.0),  # neutral, very soft
        (1e-3, 0.0, 5e-320),  # tiny subnormal pz: loops "forever"
        (10.0, 0.0, 5e-324),  # pz / pT underflows to 0
    ]
    charge = [1, -1, 1, 1, 0, 1, 0, 1, 1]
    vtx = [(0.0, 0.0, 0.0)] * 3 + [(1300.0, 0.0, 0.0), (0.0, 0.0, -3001.0)] + [(0.0, 0.0, 0.0)] * 4
    hits = _propagate(mom, charge, vtx)  # type: ignore[arg-type]
    assert hits.reached.tolist() == [False, False, False, False, False, True, True, False, True]
    for arr in (hits.x, hits.y, hits.z, hits.eta, hits.phi, hits.phi_vertex):
        assert np.isfinite(arr).all()
        assert (arr[~hits.reached] == 0.0).all()
    assert not hits.barrel[~hits.reached].any()
    d0, dz = impact_parameters(*np.array(mom).T, np.array(charge), *np.array(vtx).T, bz_tesla=BZ)
    assert np.isfinite(d0).all()
    assert np.isfinite(dz).all()


def test_impact_parameters_match_rk4_closest_approach() -> None:
    mom, charge, vtx = _random_tracks(18, seed=23)
    mom, charge, vtx = mom[6:], charge[6:], vtx[6:]  # the displaced ones
    mom = [(m[0], m[1], max(min(m[2], 30.0), -30.0)) for m in mom]  # keep the scan short
    p, v = np.array(mom), np.array(vtx)
    d0, dz = impact_parameters(*p.T, np.array(charge), *v.T, bz_tesla=BZ)
    for i in range(len(mom)):
        ref_d0, ref_dz = _rk4_pca(mom[i], charge[i], vtx[i])
        assert d0[i] == pytest.approx(ref_d0, abs=1e-5), i
        assert dz[i] == pytest.approx(ref_dz, abs=1e-4), i
    assert np.abs(d0).max() > 5.0  # genuinely displaced
    # a soft displaced track bends noticeably between vertex and closest approach
    soft = ((0.8, 0.3, 0.4), 1.0, (25.0, -20.0, 7.0))
    d0s, dzs = impact_parameters(
        *np.array([soft[0]]).T, [soft[1]], *np.array([soft[2]]).T, bz_tesla=BZ
    )
    ref = _rk4_pca(*soft)
    assert d0s[0] == pytest.approx(ref[0], abs=1e-5)
    assert dzs[0] == pytest.approx(ref[1], abs=1e-4)


def test_impact_parameters_known_values() -> None:
    # prompt tracks on the beam line: d0 = 0, dz = z0
    rng = np.random.default_rng(8)
    n = 50
    p = np.array(
        [
            _momentum(*a)
            for a in zip(
                rng.uniform(0.5, 50, n), rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), strict=True
            )
        ]
    )
    z0 = rng.normal(0, 50, n)
    q = rng.choice([-1, 0, 1], n)
    d0, dz = impact_parameters(*p.T, q, np.zeros(n), np.zeros(n), z0, bz_tesla=BZ)
    np.testing.assert_allclose(d0, 0.0, atol=1e-12)
    np.testing.assert_allclose(dz, z0, atol=1e-12)
    # sign convention: vertex (0, -5) mm, momentum along +x turns counter-clockwise about
    # the beam line, d0 = (x py - y px) / pT = +5 mm for every charge; mirrored: -5 mm
    d0, dz = impact_parameters(
        [2.0] * 6, [0.0] * 6, [1.0] * 6, [1, -1, 0] * 2,
        [0.0] * 6, [-5.0] * 3 + [5.0] * 3, [4.0] * 6, bz_tesla=BZ,
    )  # fmt: skip
    np.testing.assert_allclose(d0, [5.0] * 3 + [-5.0] * 3, atol=1e-12)
    np.testing.assert_allclose(dz, 4.0, atol=1e-12)
    # neutral straight line: closest approach of v + t p to the axis
    v = np.array([10.0, 3.0, 1.0])
    mom = np.array([1.0, 2.0, 3.0])
    t = -(v[0] * mom[0] + v[1] * mom[1]) / (mom[0] ** 2 + mom[1] ** 2)
    pca = v + t * mom
    d0, dz = impact_parameters(*mom[:, None], [0], *v[:, None], bz_tesla=BZ)
    expected_d0 = (pca[0] * mom[1] - pca[1] * mom[0]) / math.hypot(mom[0], mom[1])
    assert d0[0] == pytest.approx(expected_d0, abs=1e-12)
    assert abs(d0[0]) == pytest.approx(math.hypot(pca[0], pca[1]), abs=1e-12)
    assert dz[0] == pytest.approx(pca[2], abs=1e-12)


def test_stiff_tracks_keep_precision() -> None:
    # multi-TeV tracks are almost straight; the closed form must not lose the small bending
    vtx = (1.0, 2.0, 3.0)
    for pt in (5000.0, 50000.0):
        p = _momentum(pt, 0.7, 1.1)
        hits = _propagate([p, p, p], [1.0, -1.0, 0.0], [vtx] * 3)
        for k, q in enumerate((1.0, -1.0)):
            ref = _rk4_hit(p, q, vtx, step=20.0)
            assert ref is not None
            np.testing.assert_allclose([hits.x[k], hits.y[k], hits.z[k]], ref[:3], atol=1e-6)
        # the two charges bend to opposite sides of the straight line
        offsets = np.array([hits.x[0] - hits.x[2], hits.x[1] - hits.x[2]])
        assert offsets[0] * offsets[1] < 0
        d0, _ = impact_parameters(
            *np.array([p, p]).T, [1.0, 0.0], [vtx[0]] * 2, [vtx[1]] * 2, [vtx[2]] * 2, bz_tesla=BZ
        )
        assert d0[0] == pytest.approx(d0[1], abs=1e-5)


def test_bad_input_raises() -> None:
    kw = {"bz_tesla": BZ, "radius_mm": RADIUS, "half_length_mm": HALF}
    one = np.ones(1)
    with pytest.raises(ConfigError, match="charge"):
        propagate_to_surface(one, one, one, np.ones(2), one, one, one, **kw)
    with pytest.raises(ConfigError, match="finite"):
        propagate_to_surface(one, one, np.array([np.nan]), one, one, one, one, **kw)
    with pytest.raises(ConfigError, match="radius_mm"):
        propagate_to_surface(
            one, one, one, one, one, one, one, bz_tesla=BZ, radius_mm=0.0, half_length_mm=HALF
        )
    with pytest.raises(ConfigError, match="1-d"):
        impact_parameters(np.ones((1, 1)), one, one, one, one, one, one, bz_tesla=BZ)
    with pytest.raises(ConfigError, match="bz_tesla"):
        impact_parameters(one, one, one, one, one, one, one, bz_tesla=math.inf)
    empty = propagate_to_surface(*[np.zeros(0)] * 7, **kw)
    assert empty.x.shape == (0,)


def test_particles_beyond_the_end_caps_really_land_beyond_them() -> None:
    rng = np.random.default_rng(12)
    n = 200_000
    eta = rng.uniform(-9.0, 9.0, n)
    pt = rng.exponential(0.6, n) + 1e-3
    phi = rng.uniform(-np.pi, np.pi, n)
    q = rng.choice([-1.0, 0.0, 1.0], n)
    x, y = (
        rng.normal(0, 30.0, n) * (rng.random(n) < 0.3),
        rng.normal(0, 30.0, n) * (rng.random(n) < 0.3),
    )
    z = rng.uniform(-3100.0, 3100.0, n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    beyond = beyond_end_caps(eta, x, y, z, half_length_mm=HALF, eta_max=5.0)
    assert 0.05 < beyond.mean() < 0.5  # the test covers both outcomes
    hits = propagate_to_surface(
        px, py, pz, q, x, y, z, bz_tesla=BZ, radius_mm=RADIUS, half_length_mm=HALF
    )
    sure = beyond & hits.reached
    assert sure.any()
    assert (~hits.barrel[sure]).all()
    assert (np.abs(hits.eta[sure]) > 5.0).all()


def test_particles_not_needed_are_not_propagated() -> None:
    rng = np.random.default_rng(13)
    n = 1000
    args = [rng.normal(0, 2, n) for _ in range(3)] + [rng.choice([-1, 0, 1], n)]
    args += [np.zeros(n), np.zeros(n), rng.normal(0, 50, n)]
    needed = rng.random(n) < 0.5
    geometry = {"bz_tesla": BZ, "radius_mm": RADIUS, "half_length_mm": HALF}
    every = propagate_to_surface(*args, **geometry)
    some = propagate_to_surface(*args, **geometry, needed=needed)
    assert not some.reached[~needed].any()
    assert (some.x[~needed] == 0).all()
    assert (some.eta[~needed] == 0).all()
    for field in ("x", "y", "z", "eta", "phi", "reached", "barrel", "phi_vertex"):
        np.testing.assert_array_equal(getattr(some, field)[needed], getattr(every, field)[needed])
    with pytest.raises(ConfigError, match="needed has shape"):
        propagate_to_surface(*args, **geometry, needed=needed[:-1])
