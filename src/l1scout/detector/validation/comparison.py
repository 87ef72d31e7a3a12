"""Two pileup definitions side by side: the generated pileup and the views' key numbers.

What "pileup 200" counts is the front-end card's ``pileup.definition``
(docs/physics/detector-views.md, "What pileup 200 counts"): ``collide2v`` draws
every collision from Pythia's ``SoftQCD:all``, elastic scattering included
(21.89 of 100.3 mb, so about 22 % of the collisions leave nothing in the
detector), as COLLIDE-2V's pool did; ``inelastic`` draws inelastic collisions
only, which is what CMS counts. ``l1scout validate FILES --compare OTHER``
measures the other files with the same code and the page shows both
(:func:`comparison_html`): candidates per event per view, rho, PUPPI MET
resolution, and the generated pileup behind them (:class:`PileupTruth`).

Example:
    >>> side_label(["collide2v", "collide2v"]), side_label(["inelastic", "collide2v"])
    ('collide2v', 'inelastic+collide2v')
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from l1scout.detector.validation.results import PileupComparison, describe
from l1scout.detector.validation.truth import Truth

__all__ = [
    "CMS_DEFINITION",
    "COMPARED_NUMBERS",
    "TRUTH_ETA_MAX",
    "PileupTruth",
    "comparison_html",
    "comparison_json",
    "comparison_rows",
    "side_label",
]

#: What the page says about which definition CMS's numbers assume.
CMS_DEFINITION = (
    "CMS rate studies assume the inelastic definition: CMS's pileup counts inelastic "
    "proton-proton collisions (sigma_inel about 80 mb), so its pileup 200 is 200 inelastic "
    "collisions per crossing (Delphes' CMS pileup card: Pythia SoftQCD non-, single- and "
    "double-diffractive). collide2v is COLLIDE-2V's pool, Pythia SoftQCD:all, in which "
    "21.89 of 100.3 mb are elastic scattering that leaves nothing in the detector: about "
    "22 % of its collisions are empty and its multiplicities sit about 20 % lower."
)

#: Pseudorapidity reach of the charged-particle count of :class:`PileupTruth` (the tracker's).
TRUTH_ETA_MAX = 2.5

#: The per-view numbers compared, in page order (keys of ``ViewSummary.numbers``).
COMPARED_NUMBERS = (
    "mult_PFPart",
    "mult_PUPPIPart",
    "mult_PUPPIPart_w",
    "mult_Electron",
    "mult_MuonTight",
    "mult_PhotonTight",
    "mult_JetAK4",
    "mult_JetPuppiAK4",
    "n_vertices_mean",
    "rho_central",
    "puppimet_sigma_x",
    "puppimet_sigma_y",
    "met_sigma_x",
    "met_sigma_y",
)

_TRUTH_NUMBERS = (
    "gen_pu_collisions_mean",
    "gen_pu_particles_per_collision",
    "gen_pu_charged_central_per_collision",
)


@dataclass
class PileupTruth:
    """The generated pileup of a set of files, summed batch by batch.

    Attributes:
        events: events seen.
        collisions: pileup collisions (generated vertices other than the hard one).
        particles: final-state (status 1) particles from pileup collisions.
        charged_central: the charged ones with |eta| < :data:`TRUTH_ETA_MAX`.
    """

    events: int = 0
    collisions: int = 0
    particles: int = 0
    charged_central: int = 0

    def add(self, t: Truth) -> None:
        """Count one batch's generated pileup."""
        final_pu = (t.status == 1) & (t.is_pu != 0)
        self.events += t.n_events
        self.collisions += int(np.sum(np.maximum(t.n_vertices - 1, 0)))
        self.particles += int(np.count_nonzero(final_pu))
        central = final_pu & (t.charge != 0) & (np.abs(t.eta) < TRUTH_ETA_MAX)
        self.charged_central += int(np.count_nonzero(central))

    def numbers(self) -> dict[str, float]:
        """Collisions per event and particles per collision (NaN without events or collisions).

        >>> PileupTruth(events=2, collisions=400, particles=60_000, charged_central=10_000).numbers()
        {'gen_pu_collisions_mean': 200.0, 'gen_pu_particles_per_collision': 150.0, 'gen_pu_charged_central_per_collision': 25.0}
        """
        c = self.collisions
        return {
            "gen_pu_collisions_mean": c / self.events if self.events else math.nan,
            "gen_pu_particles_per_collision": self.particles / c if c else math.nan,
            "gen_pu_charged_central_per_collision": self.charged_central / c if c else math.nan,
        }


def side_label(definitions: Sequence[str]) -> str:
    """The label of a set of files: their pileup definition, the distinct ones joined by ``+``."""
    distinct = list(dict.fromkeys(d or "unknown" for d in definitions))
    return "+".join(distinct) if distinct else "unknown"


def _ratio(a: float, b: float) -> float:
    return b / a if math.isfinite(a) and math.isfinite(b) and a != 0 else math.nan


def comparison_rows(
    comparison: PileupComparison,
) -> list[tuple[str, str, str, float, float, float]]:
    """The rows of the side-by-side table: (view or ``truth``, label, unit, first, second, second / first).

    Truth rows first, then per view (the views both sides have) the
    :data:`COMPARED_NUMBERS` that either side measured.
    """
    first, second = comparison.sides
    rows: list[tuple[str, str, str, float, float, float]] = []
    for key in _TRUTH_NUMBERS:
        a, b = first.truth.get(key, math.nan), second.truth.get(key, math.nan)
        label, unit = describe(key)
        rows.append(("truth", label.strip(), unit, a, b, _ratio(a, b)))
    for view in (v for v in first.views if v in second.views):
        na, nb = first.views[view].numbers, second.views[view].numbers
        for key in COMPARED_NUMBERS:
            if key not in na and key not in nb:
                continue
            a, b = na.get(key, math.nan), nb.get(key, math.nan)
            label, unit = describe(key)
            rows.append((view, label.strip(), unit, a, b, _ratio(a, b)))
    return rows


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def comparison_html(comparison: PileupComparison) -> list[str]:
    """The page section (HTML fragments) of a comparison: the CMS sentence, the files and the table."""
    e = html.escape
    first, second = comparison.sides
    parts = [
        "<h2>Pileup definitions side by side</h2>",
        f"<p>{e(CMS_DEFINITION)} The same measurements on the validated files "
        f"(<b>{e(first.label)}</b>) and on <b>{e(second.label)}</b> files; see "
        "docs/physics/detector-views.md, &quot;What pileup 200 counts&quot;.</p>",
    ]
    if first.label == second.label:
        parts.append(
            f"<p><b>Both sets of files have the pileup definition {e(first.label)}</b>: "
            "the table compares samples, not definitions.</p>"
        )
    parts.append("<table><tr><th>side</th><th>file</th><th>process</th><th>events</th></tr>")
    for side in comparison.sides:
        parts.extend(
            f"<tr><td>{e(side.label)}</td><td>{e(str(f.path))}</td><td>{e(f.process)}</td>"
            f"<td class='num'>{f.n_events}</td></tr>"
            for f in side.files
        )
    parts.append("</table>")
    parts.append(
        f"<table><tr><th>view</th><th>quantity</th><th>unit</th><th>{e(first.label)}</th>"
        f"<th>{e(second.label)}</th><th>{e(second.label)} / {e(first.label)}</th></tr>"
    )
    for view, label, unit, a, b, r in comparison_rows(comparison):
        parts.append(
            f"<tr><td>{e(view)}</td><td>{e(label)}</td><td>{e(unit)}</td>"
            f"<td class='num'>{_fmt(a)}</td><td class='num'>{_fmt(b)}</td>"
            f"<td class='num'>{'-' if not math.isfinite(r) else f'{r:.3f}'}</td></tr>"
        )
    parts.append("</table>")
    return parts


def comparison_json(comparison: PileupComparison) -> dict[str, Any]:
    """The comparison in ``numbers.json``: per side its label, files, truth and view numbers."""
    return {
        "cms_definition": CMS_DEFINITION,
        "sides": [
            {
                "pileup_definition": side.label,
                "events": side.n_events,
                "files": [str(f.path) for f in side.files],
                "truth": side.truth,
                "numbers": {v: s.numbers for v, s in side.views.items()},
            }
            for side in comparison.sides
        ],
    }
