"""Measuring one view batch by batch: the compact extracts, then the summary of the view.

A :class:`ViewAccumulator` takes every batch of events with its generator
truth (:meth:`ViewAccumulator.add`), keeps what the numbers need (per-particle
extracts of the tracking study, per-event vertex, MET and multiplicity values,
PUPPI-weight histograms and sums) and turns them into a
:class:`~l1scout.detector.validation.results.ViewSummary` at the end
(:meth:`ViewAccumulator.summary`), with the view card's expectations where
there is a card. The measurements themselves are listed in
:mod:`l1scout.detector.validation.report`; the standalone Level-1 muons are
measured by :mod:`~l1scout.detector.validation.l1_muons`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, first_per_event, offsets_from_counts
from l1scout._types import F64, I64, B
from l1scout.detector.param import BinnedFunction
from l1scout.detector.validation import metrics as m
from l1scout.detector.validation.definitions import (
    CENTRAL_ETA,
    COUNTED,
    EFF_ETA_EDGES,
    EFF_PT_EDGES,
    JET_ETA_MAX,
    PUPPI_GROUPS,
    PUPPI_W_EDGES,
    PV_WINDOW_MM,
    RES_PT_EDGES,
    SPECIES,
    JetStudy,
)
from l1scout.detector.validation.l1_muons import StandaloneMuonStudy
from l1scout.detector.validation.reading import Batch
from l1scout.detector.validation.results import ViewSummary
from l1scout.detector.validation.truth import Truth
from l1scout.detector.view_card import ViewCard

__all__ = ["ViewAccumulator"]


@dataclass
class ViewAccumulator:
    """Compact per-batch extracts of one view, concatenated at the end.

    Attributes:
        name: the view (``FullReco``, ``L1T``, ...).
        jets: the jet studies measured on the view.
        cap: the view's cap on candidates per event (0: none); where an event
            hits it, only particles above the lowest kept candidate's pT enter
            the tracking efficiency, so that the cap is not counted as
            tracking inefficiency.
        muons: the study of the view's standalone Level-1 muons (None: the
            view's card has no ``[muon_system]``).
    """

    name: str
    jets: list[JetStudy]
    cap: int = 0
    muons: StandaloneMuonStudy | None = None
    _parts: defaultdict[str, list[npt.NDArray[Any]]] = field(
        init=False, default_factory=lambda: defaultdict(list)
    )
    _sums: defaultdict[str, float] = field(init=False, default_factory=lambda: defaultdict(float))
    _hists: dict[str, I64] = field(init=False, default_factory=dict)
    _track_min_pt: float = field(init=False, default=math.inf)
    _track_min_gen_pt: float = field(init=False, default=math.inf)
    _track_max_abs_eta: float = field(init=False, default=-math.inf)
    _n_tracks: int = field(init=False, default=0)

    def _put(self, **arrays: npt.NDArray[Any]) -> None:
        for key, value in arrays.items():
            self._parts[key].append(value)

    def _get(self, key: str, dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
        chunks = self._parts.get(key, [])
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)

    def add(self, batch: Batch, t: Truth) -> None:
        """Measure one batch of events, *t* its generator truth."""
        v = self.name
        c_off = batch.offsets(f"{v}_PUPPIPart_PT")
        uid = batch.ints(f"{v}_PUPPIPart_fUniqueID")
        charge = batch.ints(f"{v}_PUPPIPart_Charge")
        pt = batch.floats(f"{v}_PUPPIPart_PT")
        eta = batch.floats(f"{v}_PUPPIPart_Eta")
        self._tracks(
            t,
            c_off,
            uid,
            charge,
            pt,
            eta,
            batch.floats(f"{v}_PUPPIPart_DZ"),
            batch.floats(f"{v}_PUPPIPart_ErrorDZ"),
        )
        self._puppi(
            pt,
            charge,
            batch.ints(f"{v}_PUPPIPart_IsPU"),
            batch.floats(f"{v}_PUPPIPart_PuppiW"),
            c_off,
        )
        # vertices
        vz_off = batch.offsets(f"{v}_Vertex_Z")
        pv_z = first_per_event(vz_off, batch.floats(f"{v}_Vertex_Z"), fill=np.nan, dtype=np.float64)
        self._put(pv_dz=pv_z - t.hs_z, n_vertices=m.counts(vz_off), n_true_vertices=t.n_vertices)
        # MET
        for coll in ("MET", "PUPPIMET"):
            met_off = batch.offsets(f"{v}_{coll}_MET")
            mx, my = m.met_components(
                first_per_event(
                    met_off, batch.floats(f"{v}_{coll}_MET"), fill=np.nan, dtype=np.float64
                ),
                first_per_event(
                    met_off, batch.floats(f"{v}_{coll}_Phi"), fill=np.nan, dtype=np.float64
                ),
            )
            self._parts[f"{coll}_dx"].append(mx - t.met_x)
            self._parts[f"{coll}_dy"].append(my - t.met_y)
        # rho, one value per region of the card (files without it: left out)
        if batch.has(f"{v}_Rho_Rho"):
            self._put(
                rho_n=m.counts(batch.offsets(f"{v}_Rho_Rho")), rho=batch.floats(f"{v}_Rho_Rho")
            )
        # multiplicities
        for coll in COUNTED:
            self._parts[f"mult_{coll}"].append(m.counts(batch.offsets(f"{v}_{coll}_PT")))
        for jet in self.jets:
            self._jets(batch, t, jet)
        if self.muons is not None:
            self.muons.add(batch, t)

    def _tracks(
        self, t: Truth, c_off: I64, uid: I64, charge: I64, pt: F64, eta: F64, dz: F64, err_dz: F64
    ) -> None:
        gi = m.track_gen_index(t.gen_off, c_off, uid, charge)
        is_track = charge != 0
        if is_track.any():
            self._n_tracks += int(is_track.sum())
            self._track_min_pt = min(self._track_min_pt, float(pt[is_track].min()))
            self._track_max_abs_eta = max(
                self._track_max_abs_eta, float(np.abs(eta[is_track]).max())
            )
            linked = gi[gi >= 0]
            if len(linked):
                self._track_min_gen_pt = min(self._track_min_gen_pt, float(t.pt[linked].min()))
        match = m.match_tracks(t.gen_off, c_off, uid, charge)
        floor = np.zeros(len(c_off) - 1)
        if self.cap > 0:
            n_cand = np.diff(c_off)
            capped = np.flatnonzero(n_cand >= self.cap)
            floor[capped] = pt[c_off[capped + 1] - 1]  # candidates are sorted by pT
        gen_event = event_index(t.gen_off)
        above = t.pt > floor[gen_event]
        sel = np.flatnonzero((t.status == 1) & (t.charge != 0) & (t.is_pu == 0) & above)
        mi = match[sel]
        ok = mi >= 0
        reco_pt = np.full(len(sel), np.nan)
        reco_pt[ok] = pt[mi[ok]]
        dz_res = np.full(len(sel), np.nan)
        dz_res[ok] = dz[mi[ok]] - t.z[sel[ok]]
        dz_err = np.full(len(sel), np.nan)
        dz_err[ok] = err_dz[mi[ok]]
        self._put(
            gen_pt=t.pt[sel],
            gen_eta=t.eta[sel],
            gen_mass=t.mass[sel],
            gen_species=m.species(t.pid[sel]),
            gen_prompt=t.prompt[sel],
            matched=ok,
            reco_pt=reco_pt,
            dz_res=dz_res,
            dz_err=dz_err,
        )

    def _puppi(self, pt: F64, charge: I64, is_pu: I64, w: F64, c_off: I64) -> None:
        groups = {
            "charged_pv": (charge != 0) & (is_pu == 0),
            "charged_pu": (charge != 0) & (is_pu != 0),
            "neutral_pv": (charge == 0) & (is_pu == 0),
            "neutral_pu": (charge == 0) & (is_pu != 0),
        }
        for key, sel in groups.items():
            h = np.histogram(np.clip(w[sel], 0.0, 1.0), bins=PUPPI_W_EDGES)[0].astype(np.int64)
            self._hists[key] = self._hists.get(key, np.zeros_like(h)) + h
        for key in ("pu", "pv"):
            sel = (is_pu != 0) if key == "pu" else (is_pu == 0)
            self._sums[f"pt_{key}"] += float(pt[sel].sum())
            self._sums[f"ptw_{key}"] += float((pt[sel] * w[sel]).sum())
            neutral = sel & (charge == 0) & (pt > 1.0)
            self._sums[f"w_neutral_{key}"] += float(w[neutral].sum())
            self._sums[f"n_neutral_{key}"] += float(neutral.sum())
        positive = np.bincount(event_index(c_off)[w > 0], minlength=len(c_off) - 1)
        self._put(mult_PUPPIPart_w=positive.astype(np.int64))

    def _jets(self, batch: Batch, t: Truth, jet: JetStudy) -> None:
        reco = jet.reco
        g_off, g_pt, g_eta, g_phi = t.jets[jet.gen]
        central = np.abs(g_eta) < JET_ETA_MAX
        r_off = batch.offsets(f"{self.name}_{reco}_PT")
        r_pt = batch.floats(f"{self.name}_{reco}_PT")
        match = m.match_closest(
            g_eta[central],
            g_phi[central],
            _subset_offsets(g_off, central),
            batch.floats(f"{self.name}_{reco}_Eta"),
            batch.floats(f"{self.name}_{reco}_Phi"),
            r_off,
            jet.max_dr,
        )
        matched_pt = np.full(len(match), np.nan)
        matched_pt[match >= 0] = r_pt[match[match >= 0]]
        self._put(**{f"{reco}_gen_pt": g_pt[central], f"{reco}_reco_pt": matched_pt})
        self._parts[f"mult_{reco}"].append(m.counts(r_off))

    # ------------------------------------------------------------ summary

    def summary(self, card: ViewCard | None) -> ViewSummary:
        """The numbers, curves and per-event arrays of the view (*card*: its expectations)."""
        numbers: dict[str, float] = {"n_events": float(len(self._get("pv_dz")))}
        efficiency = self._efficiency(card, numbers)
        pt_res, pt_res_card, dz_res, dz_res_card = self._resolution(card, numbers)
        pv_dz = self._get("pv_dz")
        with_pv = np.isfinite(pv_dz)
        numbers["pv_dz_sigma"] = m.robust_sigma(pv_dz)
        numbers["pv_efficiency"] = (
            float(np.mean(with_pv & (np.abs(np.where(with_pv, pv_dz, np.inf)) < PV_WINDOW_MM)))
            if len(pv_dz)
            else math.nan
        )
        n_vertices = self._get("n_vertices", np.int64)
        n_true = self._get("n_true_vertices", np.int64)
        numbers["n_vertices_mean"] = _mean(n_vertices)
        numbers["n_true_vertices_mean"] = _mean(n_true)
        jets: dict[str, m.JetResponse] = {}
        for jet in self.jets:
            reco, edges, (lo, hi) = jet.reco, jet.edges, jet.table_bin
            resp = m.jet_response(self._get(f"{reco}_gen_pt"), self._get(f"{reco}_reco_pt"), edges)
            jets[reco] = resp
            med, res = resp.at(lo, hi)
            k = next(i for i in range(len(edges) - 1) if np.isclose(edges[i], lo))
            tag = f"{lo:.0f}_{hi:.0f}"
            numbers[f"jet_{reco}_response_{tag}"] = med
            numbers[f"jet_{reco}_resolution_{tag}"] = res
            numbers[f"jet_{reco}_matched_{tag}"] = (
                resp.n_matched[k] / resp.n_ref[k] if resp.n_ref[k] else math.nan
            )
        met = {}
        for coll in ("MET", "PUPPIMET"):
            dx, dy = self._get(f"{coll}_dx"), self._get(f"{coll}_dy")
            met[coll] = (dx, dy)
            numbers[f"{coll.lower()}_sigma_x"] = m.robust_sigma(dx)
            numbers[f"{coll.lower()}_sigma_y"] = m.robust_sigma(dy)
        s = self._sums
        for key in ("pu", "pv"):
            n = s[f"n_neutral_{key}"]
            numbers[f"puppi_w_neutral_{key}"] = s[f"w_neutral_{key}"] / n if n else math.nan
        for key in ("pu", "pv"):
            total = s[f"pt_{key}"]
            numbers[f"puppi_pt_kept_{key}"] = s[f"ptw_{key}"] / total if total > 0 else math.nan
        for coll in ("PFPart", "PUPPIPart", "PUPPIPart_w", "Electron", "MuonTight", "PhotonTight"):
            numbers[f"mult_{coll}"] = _mean(self._get(f"mult_{coll}"))
        for jet in self.jets:
            numbers[f"mult_{jet.reco}"] = _mean(self._get(f"mult_{jet.reco}"))
        n_puppi = self._get("mult_PUPPIPart", np.int64)
        numbers["max_PUPPIPart"] = float(n_puppi.max()) if len(n_puppi) else math.nan
        numbers["rho_central"] = self._rho_central(card)
        empty = np.zeros(len(PUPPI_W_EDGES) - 1, dtype=np.int64)
        hists = {k: self._hists.get(k, empty) for k in PUPPI_GROUPS}
        standalone = self.muons.summary(numbers) if self.muons is not None else None
        return ViewSummary(
            name=self.name,
            numbers=numbers,
            efficiency=efficiency,
            pt_resolution=pt_res,
            pt_resolution_card=pt_res_card,
            dz_resolution=dz_res,
            dz_resolution_card=dz_res_card,
            pv_dz=pv_dz,
            n_vertices=n_vertices,
            n_true_vertices=n_true,
            jets=jets,
            met=met,
            puppi_hist=hists,
            n_puppi=n_puppi,
            standalone_muons=standalone,
        )

    def _rho_central(self, card: ViewCard | None) -> float:
        """Mean rho (GeV per unit area) of the card's region around eta = 0; NaN without rho."""
        counts, rho = self._get("rho_n", np.int64), self._get("rho")
        if not len(counts) or len(counts) != len(self._get("pv_dz")) or np.any(counts != counts[0]):
            return math.nan
        n_regions = int(counts[0])
        if n_regions == 0:
            return math.nan
        regions = card.rho.regions if card is not None else []
        central = [k for k, (lo, hi) in enumerate(regions) if lo <= 0.0 < hi]
        k = central[0] if central and len(regions) == n_regions else n_regions // 2
        return float(np.mean(rho.reshape(-1, n_regions)[:, k]))

    def _efficiency(
        self, card: ViewCard | None, numbers: dict[str, float]
    ) -> dict[str, m.BinnedEfficiency]:
        pt, eta, mass = self._get("gen_pt"), self._get("gen_eta"), self._get("gen_mass")
        kind = self._get("gen_species", np.int8)
        matched = self._get("matched", bool)
        expected = np.full(len(pt), np.nan)
        if card is not None:
            tables = card.tracking.efficiency
            for k, name in enumerate(SPECIES):
                sel = kind == k
                expected[sel] = _card_value(getattr(tables, name), pt[sel], eta[sel], mass[sel])
            acc = (np.abs(eta) <= card.tracking.eta_max) & (pt > card.tracking.pt_min)
            expected = np.where(acc, expected, 0.0)
        out: dict[str, m.BinnedEfficiency] = {}
        for k, name in enumerate(SPECIES):
            sel = kind == k
            in_eta = sel & (np.abs(eta) < JET_ETA_MAX)
            out[f"{name}_pt"] = m.binned_efficiency(
                pt[in_eta], matched[in_eta], EFF_PT_EDGES, expected[in_eta]
            )
            above = sel & (pt > 2.0)
            out[f"{name}_eta"] = m.binned_efficiency(
                eta[above], matched[above], EFF_ETA_EDGES, expected[above]
            )
        table = (kind == m.HADRON) & (pt > 1.0) & (np.abs(eta) < CENTRAL_ETA)
        eff, err = m.binomial_efficiency([int((table & matched).sum())], [int(table.sum())])
        numbers["track_eff_hadron"] = float(eff[0])
        numbers["track_eff_hadron_err"] = float(err[0])
        numbers["track_eff_hadron_card"] = (
            float(np.mean(expected[table])) if table.any() else math.nan
        )
        numbers["track_min_pt"] = self._track_min_pt if self._n_tracks else math.nan
        numbers["track_min_gen_pt"] = self._track_min_gen_pt if self._n_tracks else math.nan
        numbers["track_max_abs_eta"] = self._track_max_abs_eta if self._n_tracks else math.nan
        return out

    def _resolution(
        self, card: ViewCard | None, numbers: dict[str, float]
    ) -> tuple[m.BinnedSpread, F64, m.BinnedSpread, F64]:
        pt, eta, mass = self._get("gen_pt"), self._get("gen_eta"), self._get("gen_mass")
        kind = self._get("gen_species", np.int8)
        matched = self._get("matched", bool)
        reco_pt = self._get("reco_pt")
        sel = matched & (kind == m.HADRON) & (np.abs(eta) < CENTRAL_ETA) & (pt > 0)
        rel = np.where(sel, (reco_pt - pt) / np.where(pt > 0, pt, 1.0), np.nan)
        pt_res = m.binned_spread(pt[sel], rel[sel], RES_PT_EDGES)
        card_res = np.full(len(RES_PT_EDGES) - 1, np.nan)
        window = sel & (pt >= 5.0) & (pt < 20.0)
        numbers["track_pt_resolution"] = m.robust_sigma(rel[window])
        numbers["track_pt_resolution_card"] = math.nan
        if card is not None:
            table = card.tracking.momentum_resolution.charged_hadron
            value = _card_value(table, pt[sel], eta[sel], mass[sel])
            card_res = m.binned_mean(pt[sel], value, RES_PT_EDGES)
            if window.any():
                numbers["track_pt_resolution_card"] = float(
                    np.mean(_card_value(table, pt[window], eta[window], mass[window]))
                )
        prompt = matched & self._get("gen_prompt", bool)
        dz_res, dz_err = self._get("dz_res"), self._get("dz_err")
        central = prompt & (np.abs(eta) < CENTRAL_ETA)
        dz = m.binned_spread(pt[central], dz_res[central], RES_PT_EDGES)
        dz_card = m.binned_mean(pt[central], dz_err[central], RES_PT_EDGES)
        numbers["track_dz_resolution"] = m.robust_sigma(dz_res[prompt])
        good = prompt & (dz_err > 0)
        numbers["track_dz_pull_width"] = m.robust_sigma(dz_res[good] / dz_err[good])
        return pt_res, card_res, dz, dz_card


def _card_value(table: BinnedFunction, pt: F64, eta: F64, mass: F64) -> F64:
    """Evaluate a card table on generated particles, whatever its variable (pT, energy or p)."""
    p = pt * np.cosh(eta)
    x = {"pt": pt, "p": p, "energy": np.sqrt(p * p + mass * mass)}[table.variable]
    return np.asarray(table(x, eta), dtype=np.float64)


def _mean(x: npt.NDArray[Any]) -> float:
    """The mean, NaN for no entry."""
    return float(np.mean(x)) if len(x) else math.nan


def _subset_offsets(offsets: I64, mask: B) -> I64:
    """Offsets of the entries that *mask* keeps."""
    return offsets_from_counts(np.bincount(event_index(offsets)[mask], minlength=len(offsets) - 1))
