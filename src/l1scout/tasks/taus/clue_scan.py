"""The CLUE parameter scan of the soft-tau study: tau efficiency and fakes per (dc, rhoc, dm).

:func:`scan_clue` clusters the events of a :class:`~l1scout.tasks.taus.dataset.TauEvents`
with every CLUE parameter set of a grid and counts, on signal, the prompt
hadronic taus of 5-60 GeV visible pT matched to a candidate (with a
Clopper-Pearson interval) and, on zero bias, the candidates per event.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

import numpy as np

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import B
from l1scout.errors import DataFormatError
from l1scout.reco.taus import clue_tau_candidates
from l1scout.tasks.rates import Efficiency, efficiency
from l1scout.tasks.taus.config import ClueScanConfig
from l1scout.tasks.taus.dataset import TauEvents
from l1scout.tasks.taus.truth import TruthTaus, match_taus

__all__ = ["ClueScanPoint", "scan_clue"]

#: Visible pT range (GeV) of the taus the scan counts: the soft-tau study's.
_VIS_PT_RANGE = (5.0, 60.0)


@dataclass(frozen=True)
class ClueScanPoint:
    """CLUE's candidates at one (dc, rhoc, dm).

    Attributes:
        dc: density radius.
        rhoc: smallest seed density, GeV.
        dm: outlier distance.
        efficiency: signal taus of visible pT 5-60 GeV matched to a candidate,
            over all of them, with its Clopper-Pearson interval.
        fakes_per_event: candidates per zero-bias event (every one a fake).
        median_response: median of candidate pT / visible pT of the matched taus
            (NaN without any).
    """

    dc: float
    rhoc: float
    dm: float
    efficiency: Efficiency
    fakes_per_event: float
    median_response: float


def scan_clue(
    events: TauEvents,
    grid: ClueScanConfig | None = None,
    *,
    split: int | None = 1,
    match_dr: float = 0.2,
    puppi_weights: bool = True,
    pt_min: float = 0.0,
) -> list[ClueScanPoint]:
    """Tau efficiency and fakes of CLUE's candidates over a grid of (dc, rhoc, dm).

    The efficiency's denominator is every prompt hadronic tau of the signal
    events with visible pT in [5, 60) GeV, the numerator those with a
    candidate within ``dR < match_dr`` (one to one); the fakes are the
    candidates per zero-bias event. Points with ``dm < dc`` are skipped.
    At fixed (dc, dm) a higher rhoc makes fewer seeds, so fewer candidates:
    the fakes per event never rise with rhoc.

    Args:
        events: the study's events.
        grid: the values of each parameter (default :class:`ClueScanConfig`).
        split: the split the scan uses (default 1, validation: parameters
            are not tuned on the test split); None: every event.
        match_dr: the matching distance.
        puppi_weights: candidates' pT is ``PT x PuppiW``.
        pt_min: smallest candidate pT counted, GeV.

    Raises:
        DataFormatError: no signal tau in the range, or no zero-bias event, in the split.
    """
    grid = grid or ClueScanConfig()
    keep = np.ones(events.n_events, bool) if split is None else events.event_split == split
    sel = _select_events(events, keep)
    is_zb = sel.event_sample == 0
    taus = sel.taus
    lo, hi = _VIS_PT_RANGE
    in_range = (taus.vis_pt >= lo) & (taus.vis_pt < hi)
    n_taus = int(in_range.sum())
    n_zb = int(is_zb.sum())
    if n_taus == 0 or n_zb == 0:
        msg = f"scan_clue: split {split} has {n_taus} signal taus of 5-60 GeV and {n_zb} zero-bias events; need both"
        raise DataFormatError(msg)
    w = sel.puppi_w if puppi_weights else None
    out: list[ClueScanPoint] = []
    for dc, rhoc, dm in itertools.product(grid.dc, grid.rhoc, grid.dm):
        if dm < dc:
            continue
        c = clue_tau_candidates(
            sel.offsets, sel.pt, sel.eta, sel.phi, weights=w, dc=dc, rhoc=rhoc, dm=dm, pt_min=pt_min
        )
        m = match_taus(c.offsets, c.eta, c.phi, taus, max_dr=match_dr)
        found = m.tau_matched & in_range
        n_cand = np.diff(c.offsets)
        ratio = c.pt[m.tau_to_candidate[found]] / taus.vis_pt[found]
        out.append(
            ClueScanPoint(
                dc=dc,
                rhoc=rhoc,
                dm=dm,
                efficiency=efficiency(int(found.sum()), n_taus),
                fakes_per_event=float(n_cand[is_zb].mean()),
                median_response=float(np.median(ratio)) if ratio.size else float("nan"),
            )
        )
    return out


def _select_events(events: TauEvents, keep: B) -> TauEvents:
    """The events where *keep*, with their candidates and taus."""
    ev = event_index(events.offsets)
    per_cand = keep[ev]
    taus = events.taus.select(keep[events.taus.event])
    counts = np.bincount(events.taus.event[keep[events.taus.event]], minlength=events.n_events)
    taus = TruthTaus(
        offsets=offsets_from_counts(counts[keep]),
        **{f.name: getattr(taus, f.name) for f in fields(TruthTaus)[1:]},
    )
    flat = {
        k: getattr(events, k)[per_cand]
        for k in ("pt", "eta", "phi", "pid", "charge", "dz", "puppi_w", "is_pu")
    }
    return TauEvents(
        samples=events.samples,
        event_sample=events.event_sample[keep],
        event_split=events.event_split[keep],
        event_number=events.event_number[keep],
        offsets=offsets_from_counts(np.diff(events.offsets)[keep]),
        taus=taus,
        **flat,
    )
