"""The classification report: one HTML page with the headline tables, ROC curves and confusion matrices.

:func:`write_classify_report` turns a :class:`~l1scout.tasks.classify.pipeline.ClassifyResult`
into ``out/report.html`` with its PNG plots, as the public 18-class COLLIDE-2V
baseline reports its results (mean one-vs-rest ROC AUC; the best published
value is 0.935) and with the trigger view this study adds:

* a header: the caller's lines (configuration, data, models, ...);
* **the headline tables**: every model's mean AUC per view (FullReco against
  L1T, and the difference), then per model and class the AUC per view and the
  trigger efficiency per view at 10 kHz of zero-bias rate (or the highest
  rate computed);
* the trigger bits: per model, view, class and rate, the threshold on the
  class probability, the efficiency with its Clopper-Pearson interval and the
  zero-bias events that pass; a rate below what the zero-bias test events can
  measure (fewer than one passing event expected) is flagged;
* ROC curves (one panel per model, FullReco solid, L1T dashed), the confusion
  matrices, the training histories and the stage times.

A value that is not defined (a class without test events) is shown as ``-``,
never as ``nan``. Every string is HTML-escaped. The plots are written first,
the page last, each atomically: a ``report.html`` that exists is complete.

Example:
    >>> _cell(float("nan")), _cell(0.93512), _cell(0.5, "pct")
    ('-', '0.9351', '50.0 %')
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout._files import atomic_write_bytes
from l1scout._html import REPORT_CSS, figure_html, page_head, plot_style
from l1scout._version import __version__
from l1scout.tasks.classify._report_plots import plot_confusion, plot_history, plot_roc
from l1scout.tasks.classify.classes import ZERO_BIAS_CLASS

if TYPE_CHECKING:
    from l1scout.tasks.classify.results import ClassifyResult

__all__ = ["REPORT_NAME", "write_classify_report"]

_log = logging.getLogger(__name__)

#: The page's file name in the output folder.
REPORT_NAME = "report.html"
_CSS = (
    REPORT_CSS
    + """
p.note { background: #fff8e0; border: 1px solid #dc8; padding: 0.6em; }
"""
)
_E = html.escape


def _cell(value: float | str, kind: str = "") -> str:
    """The text of a table value: ``-`` for NaN or infinity, 4 decimals or a percentage."""
    if isinstance(value, str):
        return value
    x = float(value)
    if not math.isfinite(x):
        return "-"
    if kind == "pct":
        return f"{100 * x:.1f} %"
    if kind == "int":
        return f"{x:.0f}"
    if kind == "g":
        return f"{x:.4g}"
    return f"{x:.4f}"


def _table(
    rows: Sequence[Mapping[str, float | str]], kinds: Mapping[str, str] | None = None
) -> str:
    """A table of rows (the columns of the first row); numbers right-aligned, ``-`` where missing."""
    if not rows:
        return "<p>-</p>"
    kinds = kinds or {}
    columns = list(rows[0])
    head = "<tr>" + "".join(f"<th>{_E(c)}</th>" for c in columns) + "</tr>"
    body = []
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, math.nan)
            num = " class='num'" if not isinstance(v, str) else ""
            kind = next((k for prefix, k in kinds.items() if c.startswith(prefix)), "")
            cells.append(f"<td{num}>{_E(_cell(v, kind))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _pairs(items: Mapping[str, str]) -> str:
    rows = "".join(f"<tr><td>{_E(k)}</td><td>{_E(v)}</td></tr>" for k, v in items.items())
    return f"<table>{rows}</table>"


def _mean_auc_rows(result: ClassifyResult) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    for kind, by_view in result.mean_auc_table().items():
        row: dict[str, float | str] = {"model": kind}
        row.update({f"mean AUC {v}": x for v, x in by_view.items()})
        if "FullReco" in by_view and "L1T" in by_view:
            row["L1T - FullReco"] = by_view["L1T"] - by_view["FullReco"]
        rows.append(row)
    return rows


def _bit_rows(result: ClassifyResult, kind: str) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    for view in result.views:
        for bit in result.model(kind, view).trigger_bits:
            eff = bit.efficiency
            mr = bit.measured_rate
            rows.append(
                {
                    "view": view,
                    "class": bit.class_name,
                    "target rate (kHz)": bit.rate_khz,
                    "threshold": float(bit.threshold),
                    "efficiency": float(eff.value),
                    "interval": f"{_cell(eff.low, 'pct')} - {_cell(eff.high, 'pct')}",
                    "signal passed": f"{eff.passed} / {eff.total}",
                    "zero bias passed": f"{mr.n_pass} / {mr.n_total}",
                    "measured rate (kHz)": float(mr.rate_khz),
                    "measurable": "yes" if bit.measurable else "no",
                }
            )
    return rows


def _rate_note(result: ClassifyResult) -> str:
    """What the zero-bias test events can measure: one event's rate, and the target rates below it."""
    if ZERO_BIAS_CLASS not in result.classes:
        return ""
    n_zb = int((result.labels == result.classes.index(ZERO_BIAS_CLASS)).sum())
    if n_zb == 0:
        return "<p class='note'>No zero-bias test event: the trigger bits are not measured.</p>"
    quantum = result.crossing_rate_khz / n_zb
    text = (
        f"{n_zb} zero-bias ({ZERO_BIAS_CLASS}) test events measure the rates: one event is "
        f"{quantum:.4g} kHz."
    )
    below = [r for r in result.rates_khz if r < quantum]
    if below:
        text += (
            f" The target rates {', '.join(f'{r:g}' for r in below)} kHz are below one event: "
            "their thresholds sit above every zero-bias test event, so their efficiencies are "
            "those of a rate of at most one event and say little; more zero-bias events "
            "(events_per_class) make them meaningful."
        )
    return f"<p class='note'>{_E(text)}</p>"


def _page(
    result: ClassifyResult,
    header: Mapping[str, str],
    timing: Mapping[str, float] | None,
    plots: Mapping[str, Path],
) -> str:
    config = header.get("config")
    title = "l1scout event classification" + (f": {config}" if config else "")
    rate = result.headline_rate_khz
    parts = [
        *page_head(title, _CSS),
        f"<h1>{_E(title)}</h1>",
        f"<p>Made by l1scout {_E(__version__)}.</p>",
        _pairs({str(k): str(v) for k, v in header.items()}),
        "<h2>Mean one-vs-rest ROC AUC, per model and view</h2>",
        "<p>The mean over the classes of each class's ROC AUC against all the others, on the "
        "test events (the public 18-class COLLIDE-2V figure of merit; the best published "
        "value is 0.935).</p>",
        _table(_mean_auc_rows(result)),
    ]
    for kind in result.kinds:
        parts += [
            f"<h2>{_E(kind)}: per class, {' vs '.join(_E(v) for v in result.views)}</h2>",
            f"<p>AUC: one-vs-rest ROC AUC; eff: the trigger bit p(class) &gt; threshold at "
            f"{rate:g} kHz of zero-bias rate (- for the zero-bias class).</p>",
            _table(result.class_table(kind), {"eff": "pct"}),
        ]
    parts += ["<h2>Trigger bits</h2>", _rate_note(result)]
    for kind in result.kinds:
        parts += [
            f"<h3>{_E(kind)}</h3>",
            _table(
                _bit_rows(result, kind), {"efficiency": "pct", "threshold": "g", "measured": "g"}
            ),
        ]
    if "roc" in plots:
        parts.append(figure_html("One-vs-rest ROC curves per class", plots["roc"].name))
    for kind in result.kinds:
        key = f"confusion-{kind}"
        if key in plots:
            parts.append(
                figure_html(f"Confusion matrices of {kind} (rows: true class)", plots[key].name)
            )
    parts.append("<h2>Training</h2>")
    rows: list[dict[str, float | str]] = []
    for m in result.models:
        tr = m.training
        best = tr.history[tr.best_epoch] if tr.history else {}
        rows.append(
            {
                "model": m.kind,
                "view": m.view,
                "epochs": float(len(tr.history)),
                "best epoch": float(tr.best_epoch),
                "best validation loss": best.get("val_loss", math.nan),
                "seconds": tr.seconds,
                "ONNX max rel. diff": m.onnx.max_rel_diff if m.onnx else math.nan,
            }
        )
    parts.append(_table(rows, {"epochs": "int", "best epoch": "int", "seconds": "g", "ONNX": "g"}))
    if "history" in plots:
        parts.append(figure_html("Training history", plots["history"].name))
    if timing:
        parts += [
            "<h2>Timing</h2>",
            _pairs({str(k): f"{float(v):.1f} s" for k, v in timing.items()}),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_classify_report(
    result: ClassifyResult,
    out: Path | str,
    *,
    header: Mapping[str, str] | None = None,
    timing: Mapping[str, float] | None = None,
) -> Path:
    """Write ``out/report.html`` and its plots (module docstring); return the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Path] = {}
    with plot_style():
        plots["roc"] = plot_roc(result, out / "roc.png")
        for kind in result.kinds:
            plots[f"confusion-{kind}"] = plot_confusion(result, kind, out / f"confusion-{kind}.png")
        plots["history"] = plot_history(
            {f"{m.kind} {m.view}": m.training.history for m in result.models},
            out / "history.png",
        )
    page = _page(result, header or {}, timing, plots)
    path = out / REPORT_NAME
    atomic_write_bytes(path, page.encode())
    _log.info("report: %s", path)
    return path
