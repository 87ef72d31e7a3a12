"""Propagation of particles in the solenoid field to the calorimeter surface.

The tracker volume is a cylinder of radius ``radius_mm`` and half-length
``half_length_mm`` about the z axis, filled with a uniform field ``Bz`` along +z
(Delphes ``ParticlePropagator``; the Phase-2 card uses Bz = 3.8 T, R = 1.29 m,
half-length 3.0 m). Neutral particles travel on straight lines; a particle of
charge q (units of e) and transverse momentum pT (GeV) follows a helix of radius

    r [m] = pT / (0.299792458 * |q| * Bz [T]),

turning clockwise seen from +z when q * Bz > 0 (the Lorentz force q v x B).
:func:`propagate_to_surface` returns where each particle first crosses the
surface: the cylinder side (rho = R, |z| <= L) or an end cap (|z| = L, rho <= R).
As in Delphes, a helix whose circle never reaches rho = R (r_c + r < R, with r_c
the distance of its centre from the axis) loops until it reaches an end cap, or
never arrives when pz = 0; particles produced outside the volume never arrive.

:func:`impact_parameters` gives the transverse (d0) and longitudinal (dz)
impact parameters of the helix through the production point.

The helix is parametrised by its turning angle psi (transverse path s = r psi):

    p(psi) = p0 + r sin(psi) t + h r (1 - cos(psi)) n,   z(psi) = z0 + s pz / pT,

with t = (cos phi0, sin phi0) the initial transverse direction, n = (-sin phi0,
cos phi0) its left normal and h = -sign(q Bz) (+1: counter-clockwise). The
crossing angles come from the distance |p|^2 = r_c^2 + r^2 + 2 r r_c cos(theta)
of a point at angle theta about the circle centre, written in half-angle form
so that stiff tracks (r >> R) keep full precision.

Example:
    >>> import numpy as np
    >>> hits = propagate_to_surface(
    ...     np.array([1.0, 10.0]), np.array([0.0, 0.0]), np.array([0.0, 100.0]),
    ...     np.array([0, 1]), np.zeros(2), np.zeros(2), np.zeros(2),
    ...     bz_tesla=3.8, radius_mm=1290.0, half_length_mm=3000.0,
    ... )
    >>> hits.reached.tolist(), hits.barrel.tolist()
    ([True, True], [True, False])
    >>> round(float(hits.x[0]), 6), round(float(hits.z[1]), 6)
    (1290.0, 3000.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from l1scout._types import F64, B
from l1scout.constants import C_LIGHT_GEV_PER_T_M
from l1scout.errors import ConfigError

__all__ = ["SurfaceHits", "beyond_end_caps", "impact_parameters", "propagate_to_surface"]


_KAPPA_PER_MM = C_LIGHT_GEV_PER_T_M * 1.0e-3  # GeV / (T mm)
_MIN_PT2 = 1.0e-9  # GeV^2; below this there is no transverse direction (Delphes' cut)
_MIN_CHARGE = 1.0e-9  # |q| or |Bz| below this: straight line (Delphes' cut)
_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class SurfaceHits:
    """Where each particle crosses the calorimeter surface (one entry per particle).

    Attributes:
        x: hit x (mm); 0 where ``reached`` is False.
        y: hit y (mm); 0 where ``reached`` is False.
        z: hit z (mm); 0 where ``reached`` is False.
        eta: pseudorapidity of the hit position seen from the origin (detector eta).
        phi: azimuth of the hit position seen from the origin (rad, in [-pi, pi]).
        reached: False for particles that never arrive (produced outside the
            volume, pT ~ 0, or a looper with pz = 0 that never reaches the side).
        barrel: True where the particle crossed the cylinder side, False for an
            end cap (and for particles that never arrive).
        phi_vertex: azimuth of the particle momentum at the surface (rad, in
            [-pi, pi]); equals the production azimuth for neutrals.
    """

    x: F64
    y: F64
    z: F64
    eta: F64
    phi: F64
    reached: B
    barrel: B
    phi_vertex: F64


@numba.njit(cache=True)
def _wrap_pi(a: float) -> float:  # pragma: no cover - compiled
    """Wrap an angle into [-pi, pi)."""
    return a - _TWO_PI * math.floor((a + math.pi) / _TWO_PI)


@numba.njit(cache=True)
def _mod_two_pi(a: float) -> float:  # pragma: no cover - compiled
    """Reduce an angle into [0, 2 pi)."""
    return a - _TWO_PI * math.floor(a / _TWO_PI)


@numba.njit(cache=True)
def _propagate_kernel(
    px: F64,
    py: F64,
    pz: F64,
    q: F64,
    x0: F64,
    y0: F64,
    z0: F64,
    bz: float,
    rcyl: float,
    half: float,
    needed: B,
) -> tuple[F64, F64, F64, F64, F64, B, B, F64]:  # pragma: no cover - compiled
    n = px.shape[0]
    hx = np.zeros(n)
    hy = np.zeros(n)
    hz = np.zeros(n)
    heta = np.zeros(n)
    hphi = np.zeros(n)
    reached = np.zeros(n, np.bool_)
    barrel = np.zeros(n, np.bool_)
    phimom = np.zeros(n)
    rcyl2 = rcyl * rcyl
    for i in range(n):
        if not needed[i]:
            continue
        rho0sq = x0[i] * x0[i] + y0[i] * y0[i]
        if rho0sq > rcyl2 or abs(z0[i]) > half:
            continue
        pt2 = px[i] * px[i] + py[i] * py[i]
        if pt2 < _MIN_PT2:
            continue
        pt = math.sqrt(pt2)
        ct = px[i] / pt
        st = py[i] / pt
        cotl = pz[i] / pt
        # transverse path length to the end cap the particle heads for
        sz = math.inf
        if pz[i] > 0.0:
            sz = (half - z0[i]) * pt / pz[i]  # pz != 0: no division by zero
        elif pz[i] < 0.0:
            sz = (-half - z0[i]) * pt / pz[i]
        if not math.isfinite(sz):
            sz = math.inf
        a = x0[i] * ct + y0[i] * st  # p0 . t
        qb = q[i] * bz
        phi0 = math.atan2(py[i], px[i])
        if abs(q[i]) < _MIN_CHARGE or abs(bz) < _MIN_CHARGE:
            # straight line: |p0 + s t|^2 = R^2, larger root (the particle is inside)
            d = max(rcyl2 - rho0sq, 0.0)
            disc = math.sqrt(a * a + d)
            sr = disc - a  # no cancellation for a < 0
            if a >= 0.0:
                sr = d / (a + disc) if a + disc > 0.0 else 0.0
            s = min(sr, sz)
            ex = x0[i] + s * ct
            ey = y0[i] + s * st
            pphi = phi0
        else:
            r = pt / (_KAPPA_PER_MM * abs(qb))
            h = -1.0 if qb > 0.0 else 1.0
            b = -x0[i] * st + y0[i] * ct  # p0 . n
            xc = x0[i] - h * r * st
            yc = y0[i] + h * r * ct
            rc = math.hypot(xc, yc)
            sr = math.inf
            if rc + r >= rcyl:
                # signed distance of closest approach h (r - r_c), without cancellation
                dd = -(h * rho0sq + 2.0 * r * b) / (r + rc)
                u = max((rc + r - rcyl) * (rc + r + rcyl), 0.0)
                w = max((rcyl - abs(dd)) * (rcyl + abs(dd)), 0.0)
                big_a = 2.0 * math.atan2(math.sqrt(u), math.sqrt(w))  # acos of cos(theta_hit)
                vx = h * r * st  # p0 - c
                vy = -h * r * ct
                th0 = math.atan2(xc * vy - yc * vx, xc * vx + yc * vy)
                psi1 = _mod_two_pi(h * (big_a - th0))
                psi2 = _mod_two_pi(h * (-big_a - th0))
                sr = r * min(psi1, psi2)
            s = min(sr, sz)
            if not math.isfinite(s):
                continue
            psi = s / r
            sn = math.sin(psi)
            half_sin = math.sin(0.5 * psi)
            omc = 2.0 * half_sin * half_sin  # 1 - cos(psi)
            ex = x0[i] + r * (sn * ct - h * omc * st)
            ey = y0[i] + r * (sn * st + h * omc * ct)
            pphi = _wrap_pi(phi0 + h * psi)
        is_barrel = sr <= sz
        ez = z0[i] + s * cotl if is_barrel else math.copysign(half, pz[i])
        rho = math.hypot(ex, ey)
        if rho <= 0.0 or not math.isfinite(rho):
            continue
        hx[i] = ex
        hy[i] = ey
        hz[i] = ez
        heta[i] = math.asinh(ez / rho)
        hphi[i] = math.atan2(ey, ex)
        reached[i] = True
        barrel[i] = is_barrel
        phimom[i] = pphi
    return hx, hy, hz, heta, hphi, reached, barrel, phimom


@numba.njit(cache=True)
def _impact_kernel(
    px: F64, py: F64, pz: F64, q: F64, x0: F64, y0: F64, z0: F64, bz: float
) -> tuple[F64, F64]:  # pragma: no cover - compiled
    n = px.shape[0]
    d0 = np.zeros(n)
    dz = np.zeros(n)
    for i in range(n):
        pt2 = px[i] * px[i] + py[i] * py[i]
        if pt2 < _MIN_PT2:
            dz[i] = z0[i]
            continue
        pt = math.sqrt(pt2)
        ct = px[i] / pt
        st = py[i] / pt
        cotl = pz[i] / pt
        a = x0[i] * ct + y0[i] * st
        b = -x0[i] * st + y0[i] * ct
        qb = q[i] * bz
        if abs(q[i]) < _MIN_CHARGE or abs(bz) < _MIN_CHARGE:
            d0[i] = 0.0 - b
            dz[i] = z0[i] - a * cotl
            continue
        r = pt / (_KAPPA_PER_MM * abs(qb))
        h = -1.0 if qb > 0.0 else 1.0
        rho0sq = x0[i] * x0[i] + y0[i] * y0[i]
        xc = x0[i] - h * r * st
        yc = y0[i] + h * r * ct
        rc = math.hypot(xc, yc)
        d0[i] = 0.0 - (h * rho0sq + 2.0 * r * b) / (r + rc)
        vx = h * r * st
        vy = -h * r * ct
        th0 = math.atan2(xc * vy - yc * vx, xc * vx + yc * vy)
        psi = _wrap_pi(h * (math.pi - th0))  # turning angle to the closest approach
        dz[i] = z0[i] + r * psi * cotl
    return d0, dz


def _as_inputs(
    px: npt.ArrayLike,
    py: npt.ArrayLike,
    pz: npt.ArrayLike,
    charge: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    bz_tesla: float,
) -> tuple[F64, F64, F64, F64, F64, F64, F64]:
    names = ("px", "py", "pz", "charge", "x", "y", "z")
    arrays = tuple(np.ascontiguousarray(v, dtype=np.float64) for v in (px, py, pz, charge, x, y, z))
    n = arrays[0].shape
    for name, arr in zip(names, arrays, strict=True):
        if arr.ndim != 1:
            msg = f"{name} must be a flat (1-d) array, got shape {arr.shape}"
            raise ConfigError(msg)
        if arr.shape != n:
            msg = f"{name} has {arr.shape[0]} entries, expected {n[0]} (the length of px)"
            raise ConfigError(msg)
        if not np.isfinite(arr).all():
            msg = f"{name} must be finite (no NaN or inf)"
            raise ConfigError(msg)
    if not math.isfinite(bz_tesla):
        msg = f"bz_tesla must be a finite field in tesla, got {bz_tesla!r}"
        raise ConfigError(msg)
    return arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5], arrays[6]


def propagate_to_surface(
    px: npt.ArrayLike,
    py: npt.ArrayLike,
    pz: npt.ArrayLike,
    charge: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    *,
    bz_tesla: float,
    radius_mm: float,
    half_length_mm: float,
    needed: npt.ArrayLike | None = None,
) -> SurfaceHits:
    """Propagate particles to the calorimeter surface (Delphes ``ParticlePropagator``).

    Neutral particles (|q| < 1e-9, or |Bz| < 1e-9) follow a straight line from
    the production point; charged ones the helix of radius
    ``pT / (0.299792458 |q| Bz)`` m, clockwise seen from +z for q Bz > 0. The hit
    is the first crossing of the cylinder side or an end cap. A helix whose
    circle stays inside the cylinder (r_c + r < R) reaches an end cap when
    pz != 0 and never arrives when pz == 0. Particles produced outside the
    volume, with pT^2 < 1e-9 GeV^2 (no transverse direction, Delphes' cut) or
    with a hit on the z axis itself (eta undefined) get ``reached = False``.

    Args:
        px: momentum x per particle (GeV).
        py: momentum y per particle (GeV).
        pz: momentum z per particle (GeV).
        charge: charge per particle (units of e; int or float).
        x: production x (mm).
        y: production y (mm).
        z: production z (mm).
        bz_tesla: field along +z (T), e.g. 3.8.
        radius_mm: radius of the calorimeter surface (mm), e.g. 1290.
        half_length_mm: half-length of the surface (mm), e.g. 3000.
        needed: which particles to propagate (None: all); the others get
            ``reached = False`` and zeros, at no cost.

    Returns:
        The hits, with 0 in every coordinate of particles that never arrive.

    Raises:
        ConfigError: arrays of different lengths or not 1-d, non-finite
            values, or a non-positive radius or half-length.

    Example:
        A 1 GeV track at eta = 0 bends by 2 asin(R / 2r) on its way to the barrel:

        >>> h = propagate_to_surface([1.0], [0.0], [0.0], [1], [0.0], [0.0], [0.0],
        ...                          bz_tesla=3.8, radius_mm=1290.0, half_length_mm=3000.0)
        >>> r = 1000.0 / (0.299792458 * 3.8)
        >>> bool(np.isclose(h.phi_vertex[0], -2 * np.arcsin(1290.0 / (2 * r))))
        True
    """
    for name, value in (("radius_mm", radius_mm), ("half_length_mm", half_length_mm)):
        if not (math.isfinite(value) and value > 0.0):
            msg = f"{name} must be a positive finite length in mm, got {value!r}"
            raise ConfigError(msg)
    a = _as_inputs(px, py, pz, charge, x, y, z, bz_tesla)
    if needed is None:
        mask = np.ones(len(a[0]), dtype=np.bool_)
    else:
        mask = np.ascontiguousarray(needed, dtype=np.bool_)
        if mask.shape != a[0].shape:
            msg = f"needed has shape {mask.shape}, expected {a[0].shape} (one flag per particle)"
            raise ConfigError(msg)
    hx, hy, hz, eta, phi, reached, barrel, phimom = _propagate_kernel(
        *a, float(bz_tesla), float(radius_mm), float(half_length_mm), mask
    )
    return SurfaceHits(
        x=hx, y=hy, z=hz, eta=eta, phi=phi, reached=reached, barrel=barrel, phi_vertex=phimom
    )


def beyond_end_caps(
    eta: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    *,
    half_length_mm: float,
    eta_max: float,
) -> B:
    """Particles sure to cross an end cap at |eta| > *eta_max* (seen from the origin), or never to arrive.

    Without propagating: a particle of pseudorapidity eta made at (x, y, z)
    travels the transverse path ``s_z = (L -+ z) / |sinh(eta)|`` before it
    reaches the end cap it heads for, and its transverse distance from the axis
    there is at most ``rho0 + s_z`` (an arc is never shorter than its chord).
    Where ``rho0 + s_z`` stays below ``0.99 L / sinh(eta_max)`` the crossing is
    an end-cap one with |eta| above ``eta_max`` by at least 0.01: a calorimeter
    that ends at ``eta_max`` sees nothing of it, whatever the field. The
    detector simulation skips the propagation of such particles.

    Args:
        eta: pseudorapidity of the momentum.
        x: production x (mm).
        y: production y (mm).
        z: production z (mm).
        half_length_mm: half-length of the surface (mm).
        eta_max: the largest |eta| of interest (for example a calorimeter's edge).

    Example:
        >>> beyond_end_caps([6.0, 4.0, 6.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2999.9],
        ...                 half_length_mm=3000.0, eta_max=5.0).tolist()
        [True, False, True]
    """
    eta_a = np.abs(np.asarray(eta, dtype=np.float64))
    z_a = np.asarray(z, dtype=np.float64)
    sign = np.sign(np.asarray(eta, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_z = (half_length_mm - sign * z_a) / np.sinh(eta_a)
        reach = np.hypot(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) + s_z
        limit = 0.99 * half_length_mm / math.sinh(eta_max)
        return np.asarray((eta_a > eta_max) & (reach < limit) & (s_z >= 0.0), dtype=np.bool_)


def impact_parameters(
    px: npt.ArrayLike,
    py: npt.ArrayLike,
    pz: npt.ArrayLike,
    charge: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    *,
    bz_tesla: float,
) -> tuple[F64, F64]:
    """Transverse and longitudinal impact parameters of the trajectory through the production point.

    The point of closest approach (PCA) to the z axis is taken on the helix
    (straight line for neutrals) nearest along the trajectory to the
    production point (turning angle in [-pi, pi)).

    Sign convention (Delphes ``Candidate::D0``, CMS ``reco::TrackBase::d0()`` =
    ``-dxy()``): ``d0 = (x_pca * py - y_pca * px) / pT`` with the momentum at the
    PCA, i.e. positive when the particle goes counter-clockwise about the beam
    line (seen from +z) at the PCA. For a helix ``d0 = h (r - r_c)`` with
    h = -sign(q Bz); Delphes uses the production-point momentum in this
    formula, which agrees for prompt tracks. ``dz`` is the z of the PCA (no
    reference vertex subtracted); unlike Delphes' linear estimate of the path
    to the PCA it uses the exact helix arc. Particles with pT^2 < 1e-9 GeV^2
    have no transverse direction and get ``d0 = 0``, ``dz = z``.

    Args:
        px: momentum x per particle (GeV).
        py: momentum y per particle (GeV).
        pz: momentum z per particle (GeV).
        charge: charge per particle (units of e; int or float).
        x: production x (mm).
        y: production y (mm).
        z: production z (mm).
        bz_tesla: field along +z (T).

    Returns:
        ``(d0, dz)`` in mm, one entry per particle.

    Raises:
        ConfigError: arrays of different lengths or not 1-d, or non-finite values.

    Example:
        A prompt track has d0 = 0 and dz = z0; a track produced at (0, -5) mm
        moving along +x has d0 = +5 mm for either charge:

        >>> d0, dz = impact_parameters([3.0, 3.0, 3.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0],
        ...                            [1, 1, -1], [0.0, 0.0, 0.0], [0.0, -5.0, -5.0],
        ...                            [12.5, 0.0, 0.0], bz_tesla=3.8)
        >>> np.round(d0, 9).tolist(), np.round(dz, 9).tolist()
        ([0.0, 5.0, 5.0], [12.5, 0.0, 0.0])
    """
    a = _as_inputs(px, py, pz, charge, x, y, z, bz_tesla)
    return _impact_kernel(*a, float(bz_tesla))
