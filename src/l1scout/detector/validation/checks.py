"""The named pass/fail checks of the L1T view against the offline (FullReco) one.

The L1T view must keep the L1T card's acceptance (no track from a particle
below :data:`~l1scout.detector.validation.definitions.L1T_PT_MIN` GeV, none
beyond |eta| :data:`~l1scout.detector.validation.definitions.L1T_ETA_MAX`) and
its cap on candidates, and be worse than FullReco in track and vertex
resolution; PUPPI must remove pileup in every view.
"""

from __future__ import annotations

from collections.abc import Mapping

from l1scout.detector.validation.definitions import (
    ETA_TOLERANCE,
    L1T_ETA_MAX,
    L1T_MAX_CANDIDATES,
    L1T_PT_MIN,
    PUPPI_PU_OVER_PV_MAX,
)
from l1scout.detector.validation.results import Check, ViewSummary
from l1scout.detector.view_card import ViewCard

__all__ = ["l1t_checks"]


def l1t_checks(
    views: Mapping[str, ViewSummary], cards: Mapping[str, ViewCard | None]
) -> list[Check]:
    """The named checks of the L1T view against FullReco (none unless both views are there).

    Args:
        views: the summaries per view.
        cards: the view cards per view (the L1T card's cap on candidates is checked).
    """
    if "FullReco" not in views or "L1T" not in views:
        return []
    full, l1t = views["FullReco"].numbers, views["L1T"].numbers
    l1t_card = cards.get("L1T")
    cap = l1t_card.particle_flow.max_candidates if l1t_card is not None else 0
    cap = cap or L1T_MAX_CANDIDATES
    min_gen = l1t["track_min_gen_pt"]
    max_eta = l1t["track_max_abs_eta"]
    out = [
        Check(
            "l1t_no_tracks_below_2gev",
            not min_gen < L1T_PT_MIN,
            f"every L1T track comes from a particle with generated pT >= {L1T_PT_MIN} GeV "
            "(the cut is on the true pT; the measured pT is smeared around it)",
            {"min_gen_pt": min_gen, "min_measured_pt": l1t["track_min_pt"]},
        ),
        Check(
            "l1t_no_tracks_beyond_eta_2p4",
            not max_eta > L1T_ETA_MAX + ETA_TOLERANCE,
            f"every L1T track has |eta| <= {L1T_ETA_MAX} (+{ETA_TOLERANCE} for float16 rounding)",
            {"max_abs_eta": max_eta},
        ),
        Check(
            "l1t_track_resolution_worse",
            l1t["track_pt_resolution"] > full["track_pt_resolution"],
            "L1T track sigma(pT)/pT (charged hadrons 5-20 GeV, |eta| < 1.2) above FullReco's",
            {"L1T": l1t["track_pt_resolution"], "FullReco": full["track_pt_resolution"]},
        ),
        Check(
            "l1t_vertex_resolution_worse",
            l1t["pv_dz_sigma"] > full["pv_dz_sigma"],
            "L1T primary-vertex z resolution above FullReco's",
            {"L1T": l1t["pv_dz_sigma"], "FullReco": full["pv_dz_sigma"]},
        ),
    ]
    for name, view in views.items():
        pu, pv = view.numbers["puppi_pt_kept_pu"], view.numbers["puppi_pt_kept_pv"]
        out.append(
            Check(
                f"puppi_removes_pileup_{name}",
                pu < PUPPI_PU_OVER_PV_MAX * pv,
                f"share of pileup pT kept by PUPPI below {PUPPI_PU_OVER_PV_MAX} x that of primary pT",
                {"pu_kept": pu, "pv_kept": pv},
            )
        )
    most = l1t["max_PUPPIPart"]
    out.append(
        Check(
            "l1t_at_most_1000_candidates",
            not most > cap,
            f"at most {cap} L1T PUPPI candidates per event",
            {"max_per_event": most, "cap": float(cap)},
        )
    )
    return out
