"""The validation page: ``index.html`` (files, checks, numbers, plots) and ``numbers.json``.

:func:`write_page` writes both into the output folder beside the plots of
:func:`~l1scout.detector.validation.plots.draw_plots`: the page is
self-contained HTML (:mod:`l1scout._html` head and figures), the JSON holds
every number, check and binned curve of the page, NaN written as null.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from l1scout._files import atomic_write_bytes
from l1scout._html import figure_html, json_safe, page_head
from l1scout._version import __version__
from l1scout.detector.validation.definitions import PUPPI_W_EDGES
from l1scout.detector.validation.results import ValidationResult, ViewSummary, describe
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
    return out


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
    parts.append(
        "<h2>Files</h2><table><tr><th>file</th><th>process</th><th>events read</th><th>nEvents</th><th>l1scout</th></tr>"
    )
    parts.extend(
        f"<tr><td>{e(str(f.path))}</td><td>{e(f.process)}</td><td class='num'>{f.n_events}</td>"
        f"<td class='num'>{e(f.n_events_meta)}</td><td>{e(f.l1scout_version)}</td></tr>"
        for f in result.files
    )
    parts.append("</table>")
    if result.checks:
        n_pass = sum(c.passed for c in result.checks)
        parts.append(f"<h2>Checks ({n_pass} of {len(result.checks)} pass)</h2>")
        parts.append(
            "<table><tr><th>check</th><th>status</th><th>numbers</th><th>requirement</th></tr>"
        )
        for c in result.checks:
            values = ", ".join(f"{k} = {_fmt(v)}" for k, v in c.values.items())
            css = "pass" if c.passed else "fail"
            parts.append(
                f"<tr class='{css}'><td><code>{e(c.name)}</code></td><td class='status'>{css.upper()}</td>"
                f"<td>{e(values)}</td><td>{e(c.requirement)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append(
            "<h2>Checks</h2><p>The checks compare L1T with FullReco and need both views.</p>"
        )
    parts.append("<h2>Numbers</h2><table><tr><th>quantity</th><th>unit</th>")
    parts += [f"<th>{e(v)}</th>" for v in views]
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
