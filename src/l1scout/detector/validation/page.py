"""The validation page: ``index.html`` (files, checks, numbers, plots) and ``numbers.json``.

:func:`write_page` writes both into the output folder beside the plots of
:func:`~l1scout.detector.validation.plots.draw_plots`: the page is
self-contained HTML (:mod:`l1scout._html` head and figures), the JSON holds
every number, check and binned curve of the page, NaN written as null. The
page is a list of sections (:data:`_SECTIONS`), each a function of the result;
a study adds its own there.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from l1scout._files import atomic_write_bytes
from l1scout._html import figure_html, json_safe, page_head
from l1scout._version import __version__
from l1scout.detector.validation.comparison import comparison_html, comparison_json
from l1scout.detector.validation.definitions import MUON_TABLE_PT, PUPPI_W_EDGES
from l1scout.detector.validation.metrics import BinnedEfficiency, BinnedSpread
from l1scout.detector.validation.results import (
    FileInfo,
    StandaloneMuonSummary,
    ValidationResult,
    ViewSummary,
    describe,
    muon_key,
)
from l1scout.errors import ConfigError

__all__ = ["numbers_json", "write_page"]

_log = logging.getLogger(__name__)


def _curves(s: ViewSummary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, b in s.efficiency.items():
        out[f"track_eff_{key}"] = {
            "edges": b.edges,
            "total": b.total,
            "passed": b.passed,
            "efficiency": b.efficiency,
            "error": b.error,
            "card": b.expected,
        }
    out["track_pt_resolution"] = {
        "edges": s.pt_resolution.edges,
        "n": s.pt_resolution.n,
        "sigma": s.pt_resolution.sigma,
        "bias": s.pt_resolution.median,
        "card": s.pt_resolution_card,
    }
    out["track_dz_resolution"] = {
        "edges": s.dz_resolution.edges,
        "n": s.dz_resolution.n,
        "sigma": s.dz_resolution.sigma,
        "error_dz": s.dz_resolution_card,
    }
    for coll, r in s.jets.items():
        out[f"jet_{coll}"] = {
            "edges": r.edges,
            "n_gen": r.n_ref,
            "n_matched": r.n_matched,
            "median": r.median,
            "resolution": r.resolution,
        }
    out["puppi_weight_hist"] = {"edges": PUPPI_W_EDGES, **s.puppi_hist}
    if s.standalone_muons is not None:
        out["standalone_muons"] = _muon_curves(s.standalone_muons)
    return out


def _efficiency_json(b: BinnedEfficiency) -> dict[str, Any]:
    return {"total": b.total, "passed": b.passed, "fraction": b.efficiency, "error": b.error}


def _spread_json(b: BinnedSpread) -> dict[str, Any]:
    return {"n": b.n, "median": b.median, "sigma": b.sigma}


def _muon_curves(mu: StandaloneMuonSummary) -> dict[str, Any]:
    """The standalone muons' curves: per region, each quantity in the generator-pT bins ``edges``."""
    regions: dict[str, Any] = {}
    edges = None
    for name, c in mu.regions.items():
        edges = c.efficiency.edges
        regions[name] = {
            "efficiency": _efficiency_json(c.efficiency),
            "pt_relative": {**_spread_json(c.pt), "rms": c.pt_rms, "card_core": c.pt_card},
            "phi_station": {**_spread_json(c.phi_station), "card": c.phi_station_card},
            "eta_station": {**_spread_json(c.eta_station), "card": c.eta_station_card},
            "phi_vertex": {**_spread_json(c.phi_vertex), "rms": c.phi_vertex_rms},
            "bending_median": c.bending,
            "charge_misid": _efficiency_json(c.charge_misid),
        }
    return {
        "collection": mu.collection,
        "note": mu.note,
        "n_gen": mu.n_gen,
        "n_matched": mu.n_matched,
        "max_dr": mu.max_dr,
        "edges": edges,
        "regions": regions,
    }


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x == int(x) and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.4g}"


_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1500px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-family: monospace; }
tr.pass td.status { background: #c8f0c8; } tr.fail td.status { background: #f6c4c4; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0 1.5em 0; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def _pileup_cell(f: FileInfo) -> str:
    mean = "" if not math.isfinite(f.pileup_mean) else f" (mean {f.pileup_mean:g})"
    return f"{f.pileup_definition or 'unknown'}{mean}"


def _files_section(result: ValidationResult) -> list[str]:
    e = html.escape
    parts = [
        "<h2>Files</h2><table><tr><th>file</th><th>process</th><th>events read</th>"
        "<th>nEvents</th><th>pileup</th><th>l1scout</th></tr>"
    ]
    parts.extend(
        f"<tr><td>{e(str(f.path))}</td><td>{e(f.process)}</td><td class='num'>{f.n_events}</td>"
        f"<td class='num'>{e(f.n_events_meta)}</td><td>{e(_pileup_cell(f))}</td>"
        f"<td>{e(f.l1scout_version)}</td></tr>"
        for f in result.files
    )
    parts.append("</table>")
    return parts


def _checks_section(result: ValidationResult) -> list[str]:
    e = html.escape
    if not result.checks:
        return ["<h2>Checks</h2><p>The checks compare L1T with FullReco and need both views.</p>"]
    n_pass = sum(c.passed for c in result.checks)
    parts = [
        f"<h2>Checks ({n_pass} of {len(result.checks)} pass)</h2>",
        "<table><tr><th>check</th><th>status</th><th>numbers</th><th>requirement</th></tr>",
    ]
    for c in result.checks:
        values = ", ".join(f"{k} = {_fmt(v)}" for k, v in c.values.items())
        css = "pass" if c.passed else "fail"
        parts.append(
            f"<tr class='{css}'><td><code>{e(c.name)}</code></td><td class='status'>{css.upper()}</td>"
            f"<td>{e(values)}</td><td>{e(c.requirement)}</td></tr>"
        )
    parts.append("</table>")
    return parts


def _comparison_section(result: ValidationResult) -> list[str]:
    return comparison_html(result.comparison) if result.comparison is not None else []


def _numbers_section(result: ValidationResult) -> list[str]:
    e = html.escape
    parts = ["<h2>Numbers</h2><table><tr><th>quantity</th><th>unit</th>"]
    parts += [f"<th>{e(v)}</th>" for v in result.views]
    parts.append("<th>key</th></tr>")
    keys: list[str] = []
    for s in result.views.values():
        keys += [k for k in s.numbers if k not in keys]
    for key in keys:
        label, unit = describe(key)
        indent = " style='padding-left: 2em'" if label.startswith(" ") else ""
        cells = "".join(
            f"<td class='num'>{_fmt(s.numbers.get(key, math.nan))}</td>"
            for s in result.views.values()
        )
        parts.append(
            f"<tr><td{indent}>{e(label.strip())}</td><td>{e(unit)}</td>{cells}<td><code>{e(key)}</code></td></tr>"
        )
    parts.append("</table>")
    return parts


_MUON_TEXT = (
    "Generator muons of the hard collision (<code>Gen_Part</code>: status 1, |PID| 13, IsPU 0, "
    "the truth of the tracking efficiency) are propagated from their production point "
    "(<code>Gen_Part_X/Y/Z</code>) to the second muon station through the view card's field map "
    "(<code>[muon_system.geometry]</code>; in the shipped L1T card the 3.8 T solenoid and the "
    "first yoke layer's return field up to station 2 at r = 4.9 m or |z| = 8.3 m, after JINST 3 "
    "(2008) S08004) and matched one to "
    "one to <code>{collection}</code> within Delta R &lt; {max_dr:g} at the station, closest "
    "pairs first. Regions are the card's (<code>region_names</code> by <code>abs_eta_edges</code>: "
    "{regions}; the track finders' ranges of JINST 15 (2020) P10017) by the generator muon's "
    "|eta| at the station. The figure <code>standalone_muons.png</code> shows, per region in bins "
    "of generator pT: the efficiency; the pT resolution, (pT - pT_gen)/pT_gen of matched muons "
    "as robust sigma (half the 16-84 % range; filled) and RMS (tails included; open); the phi "
    "and eta resolution at the station (robust sigma); phi - phi_gen at the vertex (RMS, and "
    "the median of q_gen times it, the bending that the re-calibration study undoes); and the "
    "share of wrong charges. The resolutions come from the card: <code>[muon_system]</code>'s "
    "<code>curvature_resolution</code>, <code>tail_fraction</code>/<code>tail_scale</code>, "
    "<code>eta_resolution</code>, <code>phi_resolution</code>, <code>material_x0</code> with "
    "<code>scattering_lever</code> (Highland's formula, PDG) and the "
    "<code>[muon_system.hardware]</code> bins; each entry there names its source ([A]: our "
    'assumption), and docs/physics/detector-views.md, "Standalone Level-1 muons", lists them. '
    "The dashed lines are the card's core curvature resolution and, at the station, the "
    "detector resolution, multiple scattering and bin width / sqrt(12) in quadrature."
)

_MUON_COLUMNS = (
    ("n_gen", "generator muons", "{:.0f}"),
    ("efficiency", "efficiency", "{:.3f}"),
    ("pt_resolution", "sigma(pT)/pT robust", "{:.3f}"),
    ("pt_rms", "RMS", "{:.3f}"),
    ("pt_resolution_card", "card core", "{:.3f}"),
    ("phi_station_resolution", "sigma(phi) station [rad]", "{:.4f}"),
    ("eta_station_resolution", "sigma(eta) station", "{:.4f}"),
    ("phi_vertex_rms", "RMS phi - phi_gen(vertex) [rad]", "{:.3f}"),
    ("charge_misid", "wrong charge", "{:.4f}"),
)


def _muon_cell(x: float, fmt: str) -> str:
    return fmt.format(x) if math.isfinite(x) else "-"


def _standalone_section(result: ValidationResult) -> list[str]:
    """Standalone Level-1 muons: what is shown, where the widths come from, and a table per view."""
    e = html.escape
    parts = ["<h2>Standalone Level-1 muons</h2>"]
    studied = {v: s for v, s in result.views.items() if s.standalone_muons is not None}
    if not studied:
        parts.append(
            "<p>No view of these files has standalone Level-1 muons (a view card with a "
            "<code>[muon_system]</code> section, as the shipped L1T card has).</p>"
        )
        return parts
    lo, hi = MUON_TABLE_PT
    for view, s in studied.items():
        mu = s.standalone_muons
        if mu is None:  # pragma: no cover - filtered above
            continue
        if mu.note:
            parts.append(f"<p><b>{e(view)}</b>: {e(mu.note)}.</p>")
            continue
        edges = mu.abs_eta_edges
        regions = ", ".join(
            f"{name} {edges[k]:g}-{edges[k + 1]:g}" for k, name in enumerate(mu.regions)
        )
        parts.append(
            "<p>"
            + _MUON_TEXT.format(collection=e(mu.collection), max_dr=mu.max_dr, regions=e(regions))
            + "</p>"
        )
        parts.append(
            f"<p><b>{e(view)}</b>: {mu.n_gen} generator muons entered (pT 2-500 GeV, inside the "
            f"regions), {mu.n_matched} matched. Table: generator pT {lo:g}-{hi:g} GeV "
            "(keys <code>l1mu_*</code> in the numbers table and numbers.json). With fewer than "
            "about 50 muons in a region a width is known to no better than about 10-20 %.</p>"
        )
        parts.append("<table><tr><th>region</th>")
        parts += [f"<th>{e(label)}</th>" for _, label, _ in _MUON_COLUMNS]
        parts.append("</tr>")
        for region in mu.regions:
            cells = "".join(
                f"<td class='num'>{_muon_cell(s.numbers.get(muon_key(region, k), math.nan), fmt)}</td>"
                for k, _, fmt in _MUON_COLUMNS
            )
            parts.append(f"<tr><td>{e(region)}</td>{cells}</tr>")
        parts.append("</table>")
    return parts


#: The sections of the page between its header and the plots, in order.
_SECTIONS: tuple[Callable[[ValidationResult], list[str]], ...] = (
    _files_section,
    _checks_section,
    _comparison_section,
    _numbers_section,
    _standalone_section,
)


def _html(result: ValidationResult, plots: Sequence[tuple[str, Path]], command: str | None) -> str:
    e = html.escape
    views = list(result.views)
    parts = [
        *page_head(f"l1scout validation: {', '.join(views)}", _CSS),
        f"<h1>l1scout detector validation: {e(', '.join(views))}</h1>",
        f"<p>{result.n_events} events from {len(result.files)} file(s); page made by l1scout {e(__version__)}.</p>",
    ]
    if command:
        parts.append(f"<p>Command: <code>{e(command)}</code></p>")
    for section in _SECTIONS:
        parts += section(result)
    parts.append("<h2>Plots</h2>")
    for title, path in plots:
        parts.append(figure_html(title, path.name))
    parts.append(
        "<p>Robust sigma: half the distance between the 15.9 % and 84.1 % quantiles. "
        "Efficiency errors: binomial. Raw numbers and curves: <a href='numbers.json'>numbers.json</a>.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def numbers_json(
    result: ValidationResult, plots: Sequence[tuple[str, Path]], command: str | None
) -> dict[str, Any]:
    """The content of ``numbers.json``: files, numbers, labels, checks, curves and plot names."""
    return {
        "l1scout_version": __version__,
        "command": command,
        "n_events": result.n_events,
        "files": [
            {
                "path": str(f.path),
                "events": f.n_events,
                "process": f.process,
                "nEvents": f.n_events_meta,
                "l1scout_version": f.l1scout_version,
                "pileup_definition": f.pileup_definition,
                "pileup_mean": f.pileup_mean,
            }
            for f in result.files
        ],
        "views": list(result.views),
        "numbers": {v: s.numbers for v, s in result.views.items()},
        "labels": {k: list(describe(k)) for s in result.views.values() for k in s.numbers},
        "checks": {
            c.name: {"passed": c.passed, "requirement": c.requirement, "values": c.values}
            for c in result.checks
        },
        "curves": {v: _curves(s) for v, s in result.views.items()},
        "plots": [p.name for _, p in plots],
        "pileup_comparison": comparison_json(result.comparison)
        if result.comparison is not None
        else None,
    }


def write_page(
    result: ValidationResult,
    plots: Sequence[tuple[str, Path]],
    out: Path,
    *,
    command: str | None = None,
) -> Path:
    """Write ``numbers.json`` and ``index.html`` into the folder *out* (the plots are there).

    Args:
        result: the validation.
        plots: (title, path) of the figures drawn, shown in this order.
        out: the output folder (it exists).
        command: the command line, shown on the page.

    Returns:
        The path of ``out/index.html``.

    Raises:
        ConfigError: the files cannot be written.
    """
    numbers = numbers_json(result, plots, command)
    try:
        atomic_write_bytes(
            out / "numbers.json", (json.dumps(json_safe(numbers), indent=1) + "\n").encode()
        )
        page = atomic_write_bytes(out / "index.html", _html(result, plots, command).encode())
    except OSError as exc:
        msg = f"cannot write into {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("validation page: %s", page)
    return page
