"""Standalone Level-1 muons against the generator muons: efficiency, resolutions and charge per region.

A view whose card has a ``[muon_system]`` section
(:mod:`l1scout.detector.muon_system`; the shipped ``L1T``) writes standalone
Level-1 muons (``L1T_MuonStandalone``): pT from the track finders' curvature,
eta and phi measured **at the second muon station**. :class:`StandaloneMuonStudy`
measures them batch by batch against the generator muons of the hard collision
(``Gen_Part`` with status 1, abs(PID) 13, IsPU 0; the truth of
:mod:`~l1scout.detector.validation.truth`, as the tracking efficiency uses):

1. every generator muon is propagated from its production point
   (``Gen_Part_X/Y/Z``) to the second station through the card's field map
   (:func:`l1scout.detector.muon_system.station_position` with the card's
   ``[muon_system.geometry]``, the card the file was made with where its
   metadata holds it), which gives its eta and phi at the station and its
   region: the card's ``region_names`` by ``abs_eta_edges`` of its |eta| at the
   station (at the vertex for a muon that does not reach the station, which
   then counts as lost);
2. it is matched one to one to the standalone muons of its event within
   Delta R < :data:`~l1scout.detector.validation.definitions.MUON_MATCH_DR`
   (0.3) at the station, closest pairs first
   (:func:`~l1scout.detector.validation.metrics.match_greedy`);
3. per region, in bins of generator pT
   (:data:`~l1scout.detector.validation.definitions.MUON_PT_EDGES`): the
   efficiency (matched share), the pT resolution ((pT_L1 - pT_gen) / pT_gen:
   robust sigma, the half width of the central 68 %, and the RMS, tails
   included), the phi and eta resolution at the station (robust sigma), the
   phi difference to the generator phi at the vertex (RMS and the median of
   q_gen times it, the bending the re-calibration study undoes) and the share
   of wrong charges.

The card's expectation is drawn beside the measurement (:func:`card_widths`):
the core curvature resolution ``curvature_resolution`` (for a small width
sigma the robust width of the pT ratio is sigma / (1 - sigma^2), and the tails
``tail_fraction`` x ``tail_scale`` widen it a little), and at the station the
detector resolution ``eta_resolution`` / ``phi_resolution`` in quadrature with
multiple scattering (Highland's theta0 for ``material_x0`` times
``scattering_lever``, times cosh(eta) for eta; PDG "Passage of particles through
matter") and the hardware bin / sqrt(12).

Example:
    >>> from l1scout.detector.view_card import load_view_card
    >>> spec = load_view_card("L1T").muon_system
    >>> core, phi, eta = card_widths(spec, np.array([20.0]), np.array([0.0]), np.array([0.0]))
    >>> core.tolist(), phi.round(4).tolist(), eta.round(4).tolist()
    ([0.15], [0.0074], [0.0305])
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts, wrap_phi
from l1scout._types import F64, B
from l1scout.detector.muon_system import MuonSystemSpec, highland_theta0, station_position
from l1scout.detector.validation import metrics as m
from l1scout.detector.validation.definitions import MUON_MATCH_DR, MUON_PT_EDGES, MUON_TABLE_PT
from l1scout.detector.validation.reading import Batch
from l1scout.detector.validation.results import (
    MuonRegionCurves,
    StandaloneMuonSummary,
    muon_key,
)
from l1scout.detector.validation.truth import Truth

__all__ = ["StandaloneMuonStudy", "binned_rms", "card_widths"]

#: Station position of a generator muon that does not reach the station: matches nothing.
_NOWHERE = 1e9


def binned_rms(x: npt.ArrayLike, values: npt.ArrayLike, edges: npt.ArrayLike) -> F64:
    """Root mean square of the finite ``values`` in bins of ``x`` (NaN for empty bins).

    The last bin is closed, as in :func:`numpy.histogram`.

    >>> binned_rms([0.5, 0.5, 1.5], [3.0, -4.0, 1.0], [0, 1, 2, 3]).round(4).tolist()
    [3.5355, 1.0, nan]
    """
    xv = np.asarray(x, dtype=np.float64)
    vv = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(vv) & np.isfinite(xv)
    e = np.asarray(edges, dtype=np.float64)
    n = np.histogram(xv[ok], e)[0]
    sq = np.histogram(xv[ok], e, weights=vv[ok] ** 2)[0]
    return np.where(n > 0, np.sqrt(sq / np.maximum(n, 1)), np.nan)


def card_widths(
    spec: MuonSystemSpec, pt: npt.ArrayLike, eta: npt.ArrayLike, eta_station: npt.ArrayLike
) -> tuple[F64, F64, F64]:
    """The card's widths for muons of generator *pt* (GeV) and *eta*, at *eta_station*.

    Returns:
        ``(core, phi, eta)``: the core relative curvature resolution
        (``curvature_resolution`` at pT and the station eta), and the phi (rad)
        and eta widths at the station: the detector resolution, multiple
        scattering (Highland's theta0 at p = pT cosh(eta) for the region's
        ``material_x0``, times ``scattering_lever``; times cosh(eta_station)
        for eta) and the hardware bin / sqrt(12), in quadrature. NaN outside
        every region.
    """
    p_t = np.asarray(pt, dtype=np.float64)
    e_v = np.asarray(eta, dtype=np.float64)
    e_s = np.asarray(eta_station, dtype=np.float64)
    region = spec.region_of(e_s)
    inside = region >= 0
    r = np.maximum(region, 0)
    p = p_t * np.cosh(e_v)
    theta0 = np.zeros(len(p_t))
    for k, (x0, lever) in enumerate(zip(spec.material_x0, spec.scattering_lever, strict=True)):
        here = region == k
        theta0[here] = highland_theta0(p[here], x0) * lever
    hw = spec.hardware
    phi_bin = 2.0 * math.pi / hw.phi_bins / math.sqrt(12.0)
    eta_bin = hw.eta_lsb / math.sqrt(12.0)
    phi_res = np.asarray(spec.phi_resolution)[r]
    eta_res = np.asarray(spec.eta_resolution)[r]
    phi_w = np.sqrt(phi_res**2 + theta0**2 + phi_bin**2)
    eta_w = np.sqrt(eta_res**2 + (theta0 * np.cosh(e_s)) ** 2 + eta_bin**2)
    core = np.asarray(spec.curvature_resolution(p_t, e_s), dtype=np.float64)
    nan = np.full(len(p_t), np.nan)
    return (
        np.where(inside, core, nan),
        np.where(inside, phi_w, nan),
        np.where(inside, eta_w, nan),
    )


@dataclass
class StandaloneMuonStudy:
    """The standalone Level-1 muons of one view, measured batch by batch (the module's recipe).

    Attributes:
        view: the view (``L1T``).
        spec: the view card's ``[muon_system]`` section.
        available: whether the files hold the collection's columns (older
            files do not: nothing is measured and the summary says so).
        max_dr: the matching distance at the station.
    """

    view: str
    spec: MuonSystemSpec
    available: bool = True
    max_dr: float = MUON_MATCH_DR
    _parts: defaultdict[str, list[npt.NDArray[Any]]] = field(
        init=False, default_factory=lambda: defaultdict(list)
    )

    @property
    def collection(self) -> str:
        """The collection's column prefix (``L1T_MuonStandalone``)."""
        return f"{self.view}_{self.spec.collection}"

    def _get(self, key: str, dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
        chunks = self._parts.get(key, [])
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)

    def add(self, batch: Batch, t: Truth) -> None:
        """Match the batch's generator muons (truth *t*) to its standalone muons and keep the pairs."""
        if not self.available:
            return
        sel = np.flatnonzero((np.abs(t.pid) == 13) & (t.status == 1) & (t.is_pu == 0) & (t.pt > 0))
        pt, eta, phi = t.pt[sel], t.eta[sel], t.phi[sel]
        q = np.sign(t.charge[sel]).astype(np.float64)
        eta_st, phi_st = np.full(len(sel), np.nan), np.full(len(sel), np.nan)
        reached: B = np.zeros(len(sel), dtype=np.bool_)
        if len(sel):
            e, f, reached = station_position(
                pt, eta, phi, q, t.x[sel], t.y[sel], t.z[sel], self.spec.geometry
            )
            eta_st = np.where(reached, e, np.nan)
            phi_st = np.where(reached, f, np.nan)
        counts = np.bincount(event_index(t.gen_off)[sel], minlength=t.n_events)
        c = self.collection
        l1_off = batch.offsets(f"{c}_PT")
        match = m.match_greedy(
            np.where(reached, eta_st, _NOWHERE),
            np.where(reached, phi_st, 0.0),
            offsets_from_counts(counts),
            batch.floats(f"{c}_Eta"),
            batch.floats(f"{c}_Phi"),
            l1_off,
            self.max_dr,
        )
        ok = match >= 0
        picked: dict[str, F64] = {}
        for name, values in (
            ("l1_pt", batch.floats(f"{c}_PT")),
            ("l1_eta", batch.floats(f"{c}_Eta")),
            ("l1_phi", batch.floats(f"{c}_Phi")),
            ("l1_charge", batch.floats(f"{c}_Charge")),
        ):
            out = np.full(len(sel), np.nan)
            out[ok] = values[match[ok]]
            picked[name] = out
        self._parts["pt"].append(pt)
        self._parts["eta"].append(eta)
        self._parts["phi"].append(phi)
        self._parts["charge"].append(q)
        self._parts["eta_st"].append(eta_st)
        self._parts["phi_st"].append(phi_st)
        self._parts["matched"].append(ok)
        for name, values in picked.items():
            self._parts[name].append(values)

    def summary(self, numbers: dict[str, float]) -> StandaloneMuonSummary:
        """The curves per region; the table numbers (``l1mu_*``, :func:`~l1scout.detector.validation.results.describe`) go into *numbers*."""
        spec = self.spec
        edges = tuple(spec.abs_eta_edges)
        if not self.available:
            note = (
                f"skipped: the files have no {self.collection} columns (written before the "
                "standalone Level-1 muons existed, or without the card's [muon_system])"
            )
            return StandaloneMuonSummary(self.collection, note, 0, 0, self.max_dr, edges, {})
        pt, eta, phi = self._get("pt"), self._get("eta"), self._get("phi")
        q = self._get("charge")
        eta_st, phi_st = self._get("eta_st"), self._get("phi_st")
        matched = self._get("matched", bool)
        reached = np.isfinite(eta_st)
        region = spec.region_of(np.where(reached, eta_st, eta))
        entered = (region >= 0) & (pt >= MUON_PT_EDGES[0]) & (pt <= MUON_PT_EDGES[-1])
        n_gen, n_matched = int(entered.sum()), int((entered & matched).sum())
        numbers["l1mu_n_gen"] = float(n_gen)
        numbers["l1mu_n_matched"] = float(n_matched)
        if n_gen == 0:
            note = (
                "no generator muon of the hard collision entered (a sample without muons, "
                "e.g. minimum bias): nothing to measure"
            )
            return StandaloneMuonSummary(self.collection, note, 0, 0, self.max_dr, edges, {})
        l1_pt, l1_eta, l1_phi = self._get("l1_pt"), self._get("l1_eta"), self._get("l1_phi")
        rel_pt = (l1_pt - pt) / pt
        d_phi_st = wrap_phi(l1_phi - phi_st)
        d_eta_st = l1_eta - eta_st
        d_phi_vtx = wrap_phi(l1_phi - phi)
        wrong = matched & (self._get("l1_charge") != q)
        core, phi_w, eta_w = card_widths(spec, pt, eta, np.where(reached, eta_st, eta))
        lo, hi = MUON_TABLE_PT
        window = (pt >= lo) & (pt < hi)
        regions: dict[str, MuonRegionCurves] = {}
        for k, name in enumerate(spec.region_names):
            den = entered & (region == k)
            num = den & matched
            x = pt[num]
            regions[name] = MuonRegionCurves(
                region=name,
                efficiency=m.binned_efficiency(pt[den], matched[den], MUON_PT_EDGES),
                pt=m.binned_spread(x, rel_pt[num], MUON_PT_EDGES),
                pt_rms=binned_rms(x, rel_pt[num], MUON_PT_EDGES),
                pt_card=m.binned_mean(x, core[num], MUON_PT_EDGES),
                phi_station=m.binned_spread(x, d_phi_st[num], MUON_PT_EDGES),
                phi_station_card=m.binned_mean(x, phi_w[num], MUON_PT_EDGES),
                eta_station=m.binned_spread(x, d_eta_st[num], MUON_PT_EDGES),
                eta_station_card=m.binned_mean(x, eta_w[num], MUON_PT_EDGES),
                phi_vertex=m.binned_spread(x, d_phi_vtx[num], MUON_PT_EDGES),
                phi_vertex_rms=binned_rms(x, d_phi_vtx[num], MUON_PT_EDGES),
                bending=m.binned_spread(x, q[num] * d_phi_vtx[num], MUON_PT_EDGES).median,
                charge_misid=m.binned_efficiency(x, wrong[num], MUON_PT_EDGES),
            )
            den_w, num_w = den & window, num & window
            n_w = int(den_w.sum())
            numbers[muon_key(name, "n_gen")] = float(n_w)
            numbers[muon_key(name, "efficiency")] = float(num_w.sum()) / n_w if n_w else math.nan
            numbers[muon_key(name, "pt_resolution")] = m.robust_sigma(rel_pt[num_w])
            numbers[muon_key(name, "pt_rms")] = _rms(rel_pt[num_w])
            numbers[muon_key(name, "pt_resolution_card")] = _mean(core[num_w])
            numbers[muon_key(name, "phi_station_resolution")] = m.robust_sigma(d_phi_st[num_w])
            numbers[muon_key(name, "eta_station_resolution")] = m.robust_sigma(d_eta_st[num_w])
            numbers[muon_key(name, "phi_vertex_rms")] = _rms(d_phi_vtx[num_w])
            numbers[muon_key(name, "charge_misid")] = (
                float(wrong[num_w].sum()) / int(num_w.sum()) if num_w.any() else math.nan
            )
        return StandaloneMuonSummary(
            self.collection, "", n_gen, n_matched, self.max_dr, edges, regions
        )


def _rms(x: F64) -> float:
    """Root mean square of the finite values, NaN for none."""
    v = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(v * v))) if len(v) else math.nan


def _mean(x: F64) -> float:
    """Mean of the finite values, NaN for none."""
    v = x[np.isfinite(x)]
    return float(np.mean(v)) if len(v) else math.nan
