"""Cone isolation of leptons and photons, as in Delphes' ``Isolation`` module.

For every object (electron, muon, photon) the transverse momenta of the
particle-flow candidates inside a cone of radius ``delta_r_max`` in
(eta, phi) around it are summed in three classes:

* ``charged``: charged candidates not flagged as pileup (Delphes ``SumPtCharged``),
* ``charged_pu``: charged candidates flagged as pileup (``SumPtChargedPU``),
* ``neutral``: neutral candidates (``SumPtNeutral``).

The selection follows Delphes ``modules/Isolation.cc`` (Delphes 3.5):

* a candidate counts when ``pT >= pt_min`` (Delphes drops candidates with
  ``pT < PTMin``) and ``dR <= delta_r_max`` (non-strict), where
  ``dR = sqrt(deta**2 + dphi**2)`` with ``dphi`` wrapped into [-pi, pi];
* the object's own candidate (``obj_self``) is left out (Delphes compares the
  candidates' unique ids);
* ``isolation_var`` is Delphes' ``IsolationVar``, the delta-beta corrected
  ratio ``(charged + max(neutral - 0.5 * charged_pu, 0)) / pT``;
* ``isolation_var_rho_corr`` is Delphes' ``IsolationVarRhoCorr``,
  ``(charged + max(neutral - max(rho, 0) * pi * delta_r_max**2, 0)) / pT``.

The raw sum over all classes, ``(charged + charged_pu + neutral) / pT``, is not
stored by Delphes as a ratio (only as ``SumPt``); compute it from the fields.

Candidates are classified by ``cand_class``: :data:`NEUTRAL`,
:data:`CHARGED_NOPU` or :data:`CHARGED_PU`.

The sums are computed by a numba kernel that, per event, sorts the candidates
by eta once and for each object scans only the candidates with
``|deta| <= delta_r_max`` (found by binary search). Events with only a few
objects skip the sort (an O(n log n) cost) and scan all their candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from l1scout._jagged import check_offsets, event_index
from l1scout._types import F64
from l1scout.errors import ConfigError

__all__ = [
    "CHARGED_NOPU",
    "CHARGED_PU",
    "NEUTRAL",
    "IsolationSums",
    "isolation",
]


NEUTRAL, CHARGED_NOPU, CHARGED_PU = 0, 1, 2
"""Candidate classes (``int8``): neutral, charged from the primary vertex, charged pileup."""

# Widening of the eta window found by binary search, so that rounding in
# ``eta +- delta_r_max`` can never drop a candidate that the exact dR test keeps.
_WINDOW_MARGIN = 1e-9
# Events with at least this many objects sort their candidates by eta and search a
# window; with fewer, scanning every candidate per object is cheaper than the sort.
_SORT_MIN_OBJECTS = 16


@dataclass(frozen=True)
class IsolationSums:
    """Isolation sums and ratios, one entry per object.

    Attributes:
        charged: sum pT of charged candidates not flagged pileup in the cone (GeV).
        charged_pu: sum pT of charged candidates flagged pileup in the cone (GeV).
        neutral: sum pT of neutral candidates in the cone (GeV).
        isolation_var: Delphes ``IsolationVar``,
            ``(charged + max(neutral - 0.5 * charged_pu, 0)) / pT`` (delta-beta corrected).
        isolation_var_rho_corr: Delphes ``IsolationVarRhoCorr``,
            ``(charged + max(neutral - max(rho, 0) * pi * delta_r_max**2, 0)) / pT``.
    """

    charged: F64
    charged_pu: F64
    neutral: F64
    isolation_var: F64
    isolation_var_rho_corr: F64


def _as_f64(name: str, values: npt.ArrayLike, n: int) -> F64:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise ConfigError(f"{name}: expected shape ({n},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name}: expected finite values")
    return arr


@numba.njit(cache=True)
def _wrap_dphi(d: float) -> float:
    while d > math.pi:
        d -= 2.0 * math.pi
    while d < -math.pi:
        d += 2.0 * math.pi
    return d


@numba.njit(cache=True)
def _in_cone(deta: float, dphi: float, delta_r_max: float) -> bool:
    d = _wrap_dphi(dphi)
    return math.sqrt(deta * deta + d * d) <= delta_r_max


@numba.njit(cache=True)
def _cone_sums_kernel(
    obj_offsets: Any,
    obj_eta: Any,
    obj_phi: Any,
    obj_self: Any,
    cand_offsets: Any,
    cand_pt: Any,
    cand_eta: Any,
    cand_phi: Any,
    cand_class: Any,
    delta_r_max: float,
    pt_min: float,
    min_objects_for_sort: int,
    out: Any,
) -> None:
    """Fill ``out[i, cls]`` (cls: candidate class) for every object ``i``.

    Events with at least ``min_objects_for_sort`` objects sort their candidates
    by eta and scan, per object, only the eta window ``|deta| <= delta_r_max``
    (binary search); events with fewer objects scan all candidates, which is
    cheaper than the sort.
    """
    n_events = len(obj_offsets) - 1
    for ev in range(n_events):
        c0 = cand_offsets[ev]
        n_cand = cand_offsets[ev + 1] - c0
        o0 = obj_offsets[ev]
        o1 = obj_offsets[ev + 1]
        if n_cand == 0 or o1 == o0:
            continue
        if o1 - o0 < min_objects_for_sort:
            for i in range(o0, o1):
                eta0 = obj_eta[i]
                phi0 = obj_phi[i]
                for local in range(n_cand):
                    j = c0 + local
                    if (
                        local != obj_self[i]
                        and cand_pt[j] >= pt_min
                        and _in_cone(cand_eta[j] - eta0, cand_phi[j] - phi0, delta_r_max)
                    ):
                        out[i, cand_class[j]] += cand_pt[j]
            continue
        order = np.argsort(cand_eta[c0 : c0 + n_cand])
        eta_sorted = cand_eta[c0 : c0 + n_cand][order]
        for i in range(o0, o1):
            eta0 = obj_eta[i]
            phi0 = obj_phi[i]
            lo = np.searchsorted(eta_sorted, eta0 - delta_r_max - _WINDOW_MARGIN)
            hi = np.searchsorted(eta_sorted, eta0 + delta_r_max + _WINDOW_MARGIN, side="right")
            for k in range(lo, hi):
                local = order[k]
                j = c0 + local
                if (
                    local != obj_self[i]
                    and cand_pt[j] >= pt_min
                    and _in_cone(cand_eta[j] - eta0, cand_phi[j] - phi0, delta_r_max)
                ):
                    out[i, cand_class[j]] += cand_pt[j]


def isolation(
    obj_offsets: npt.ArrayLike,
    obj_pt: npt.ArrayLike,
    obj_eta: npt.ArrayLike,
    obj_phi: npt.ArrayLike,
    obj_self: npt.ArrayLike,
    cand_offsets: npt.ArrayLike,
    cand_pt: npt.ArrayLike,
    cand_eta: npt.ArrayLike,
    cand_phi: npt.ArrayLike,
    cand_class: npt.ArrayLike,
    rho: npt.ArrayLike,
    *,
    delta_r_max: float,
    pt_min: float,
) -> IsolationSums:
    """Cone isolation sums of objects against particle-flow candidates (Delphes ``Isolation``).

    Objects and candidates are two flat+offsets batches over the same events.

    Args:
        obj_offsets: object offsets, int64, length n_events + 1.
        obj_pt: object pT (GeV), must be > 0.
        obj_eta: object pseudorapidity.
        obj_phi: object azimuth (rad).
        obj_self: per object, the local index (within its event) of the object's
            own candidate in the candidate list, excluded from the sums; -1: none.
        cand_offsets: candidate offsets, int64, length n_events + 1.
        cand_pt: candidate pT (GeV).
        cand_eta: candidate pseudorapidity.
        cand_phi: candidate azimuth (rad).
        cand_class: per candidate :data:`NEUTRAL`, :data:`CHARGED_NOPU` or :data:`CHARGED_PU`.
        rho: pileup pT density (GeV per unit eta-phi area) for each object, for the
            region the object lies in (see :func:`l1scout.reco.rho.rho_for`), shape
            (n_objects,); a scalar applies to every object. Negative values count as 0.
        delta_r_max: cone radius; candidates with dR <= delta_r_max count.
        pt_min: candidates with pT >= pt_min (GeV) count.

    Returns:
        The sums and ratios per object (see :class:`IsolationSums`).

    Raises:
        ConfigError: inconsistent shapes or offsets, out-of-range ``obj_self`` or
            ``cand_class``, non-positive ``obj_pt`` or ``delta_r_max``.

    >>> s = isolation([0, 1], [20.0], [0.0], [0.0], [0], [0, 3],
    ...               [20.0, 2.0, 4.0], [0.0, 0.1, -0.2], [0.0, 0.1, 0.0],
    ...               [CHARGED_NOPU, CHARGED_NOPU, NEUTRAL], 1.0, delta_r_max=0.3, pt_min=0.5)
    >>> float(s.charged[0]), float(s.neutral[0]), float(s.isolation_var[0])
    (2.0, 4.0, 0.3)
    >>> round(float(s.isolation_var_rho_corr[0]), 6)  # (2 + 4 - pi * 0.09) / 20
    0.285863
    """
    if not (math.isfinite(delta_r_max) and delta_r_max > 0):
        raise ConfigError(f"delta_r_max: expected a finite value > 0, got {delta_r_max!r}")
    if not math.isfinite(pt_min):
        raise ConfigError(f"pt_min: expected a finite value (GeV), got {pt_min!r}")

    n_obj = np.size(obj_pt)
    n_cand = np.size(cand_pt)
    o_off = check_offsets(obj_offsets, "obj_offsets", n_obj)
    c_off = check_offsets(cand_offsets, "cand_offsets", n_cand)
    if len(o_off) != len(c_off):
        raise ConfigError(
            f"cand_offsets: expected the same number of events as obj_offsets "
            f"({len(o_off) - 1}), got {len(c_off) - 1}"
        )

    o_pt = _as_f64("obj_pt", obj_pt, n_obj)
    if np.any(o_pt <= 0):
        raise ConfigError("obj_pt: expected every object pT > 0 (GeV)")
    o_eta = _as_f64("obj_eta", obj_eta, n_obj)
    o_phi = _as_f64("obj_phi", obj_phi, n_obj)
    c_pt = _as_f64("cand_pt", cand_pt, n_cand)
    c_eta = _as_f64("cand_eta", cand_eta, n_cand)
    c_phi = _as_f64("cand_phi", cand_phi, n_cand)

    o_self_raw = np.asarray(obj_self)
    if o_self_raw.shape != (n_obj,) or not np.issubdtype(o_self_raw.dtype, np.integer):
        raise ConfigError(f"obj_self: expected an integer array of shape ({n_obj},)")
    o_self = o_self_raw.astype(np.int64)
    n_cand_per_event = np.diff(c_off)
    obj_event = event_index(o_off)
    if np.any((o_self < -1) | (o_self >= n_cand_per_event[obj_event])):
        raise ConfigError(
            "obj_self: expected -1 or a local candidate index within the object's event"
        )

    cls_raw = np.asarray(cand_class)
    if cls_raw.shape != (n_cand,) or not np.issubdtype(cls_raw.dtype, np.integer):
        raise ConfigError(f"cand_class: expected an integer array of shape ({n_cand},)")
    if np.any((cls_raw < NEUTRAL) | (cls_raw > CHARGED_PU)):
        raise ConfigError(
            f"cand_class: expected values in {{{NEUTRAL}, {CHARGED_NOPU}, {CHARGED_PU}}}"
        )
    c_cls = cls_raw.astype(np.int8)

    rho_arr = np.asarray(rho, dtype=np.float64)
    if rho_arr.ndim == 0:
        rho_arr = np.full(n_obj, float(rho_arr))
    if rho_arr.shape != (n_obj,) or not np.all(np.isfinite(rho_arr)):
        raise ConfigError(
            f"rho: expected a finite scalar or one value per object, shape ({n_obj},), "
            f"got shape {np.shape(rho)}"
        )

    sums = np.zeros((n_obj, 3), dtype=np.float64)
    _cone_sums_kernel(
        o_off, o_eta, o_phi, o_self, c_off, c_pt, c_eta, c_phi, c_cls,
        float(delta_r_max), float(pt_min), _SORT_MIN_OBJECTS, sums,
    )  # fmt: skip
    neutral = sums[:, NEUTRAL].copy()
    charged = sums[:, CHARGED_NOPU].copy()
    charged_pu = sums[:, CHARGED_PU].copy()
    delta_beta = charged + np.maximum(neutral - 0.5 * charged_pu, 0.0)
    pu_area = np.maximum(rho_arr, 0.0) * math.pi * delta_r_max**2
    rho_corr = charged + np.maximum(neutral - pu_area, 0.0)
    return IsolationSums(
        charged=charged,
        charged_pu=charged_pu,
        neutral=neutral,
        isolation_var=delta_beta / o_pt,
        isolation_var_rho_corr=rho_corr / o_pt,
    )
