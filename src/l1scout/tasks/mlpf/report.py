"""The MLPF report: one HTML page with the verdicts, the tables and the plots of an evaluation.

:func:`write_mlpf_report` turns a :class:`~l1scout.tasks.mlpf.study.MLPFEvaluation`
into ``out/report.html`` with its PNG plots and ``metrics.json`` (the flat
metrics of :meth:`~l1scout.tasks.mlpf.study.MLPFEvaluation.metrics`) beside
it, as the MLPF study reports its results (J. Pata et al., Commun. Phys. 7
(2024) 124; CMS, arXiv:2601.17554):

* a header: the caller's lines (configuration, data, model, ...), then the
  view, the test events and the evaluation settings;
* **where MLPF is worse**: every computed verdict whose outcome is
  ``worse``, in plain sentences, then the full verdict table (better, not
  resolved, not measured);
* the jet response and resolution per collection and generator-jet pT bin
  (table and plot), the MET resolution (table), the per-particle pileup ROC
  of the MLPF head against PUPPI (plot and table, with the warning that the
  two are on different particle sets), the per-class efficiency and fake
  rate (table and plot);
* with more than one sample, each sample's test events alone (top-quark
  pairs and QCD separately): the jet resolution and matching efficiency per
  collection and pT bin, the MET resolution and where MLPF is worse;
* the transfer study to a second detector, when given: the resolution
  against the number of target training events (plot and table);
* the training history (plot and last values) and the timing table (seconds
  unless a name carries its unit), when given.

A value that is not defined (an empty bin, no pileup) is shown as ``-``,
never as ``nan``. Every string from the caller or the evaluation is
HTML-escaped. The plots and ``metrics.json`` are written first, the page last,
each atomically (:func:`l1scout._files.atomic_write_bytes`): a
``report.html`` that exists is complete.

Example:
    >>> _cell(float("nan")), _cell(0.123456), _cell(0.5, "pct"), _cell(3.0, "int")
    ('-', '0.123', '50.0 %', '3')
    >>> _cell(0.25, "pct"), _cell("PF+CHS")
    ('25.0 %', 'PF+CHS')
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout._files import atomic_write_bytes
from l1scout._html import REPORT_CSS, figure_html, json_safe, page_head, plot_style
from l1scout._version import __version__
from l1scout.errors import ConfigError
from l1scout.tasks.mlpf._report_plots import (
    plot_history,
    plot_jets,
    plot_particles,
    plot_pileup_roc,
)
from l1scout.tasks.mlpf._verdicts import bin_label
from l1scout.tasks.mlpf.study import MLPFEvaluation

if TYPE_CHECKING:
    from l1scout.tasks.mlpf.transfer import TransferStudy

__all__ = ["REPORT_NAME", "write_mlpf_report"]

_log = logging.getLogger(__name__)

#: The page's file name in the output folder.
REPORT_NAME = "report.html"
_CSS = (
    REPORT_CSS
    + """
tr.worse td { background: #fde8e8; }
tr.better td { background: #e8f6e8; }
p.note { background: #fff8e0; border: 1px solid #dc8; padding: 0.6em; }
ul.worse li { font-weight: bold; color: #922; }
"""
)
_E = html.escape
# columns shown as percentages, and as integers
_PCT = {"efficiency", "fake rate"}
_INT = {"gen jets", "events", "efficiency (n)", "fake rate (n)"}


def _cell(value: float | str, kind: str = "") -> str:
    """The text of a table value: ``-`` for NaN or infinity, 3 significant digits otherwise."""
    if isinstance(value, str):
        return value
    x = float(value)
    if not math.isfinite(x):
        return "-"
    if kind == "pct":
        return f"{100 * x:.1f} %"
    if kind == "int":
        return f"{x:.0f}"
    return f"{x:.3g}"


def _kind(column: str) -> str:
    if column in _PCT:
        return "pct"
    return "int" if column in _INT else ""


def _rows_table(rows: Sequence[Mapping[str, float | str]], row_class: str | None = None) -> str:
    """A table of rows (the columns of the first row); numbers right-aligned, ``-`` where missing."""
    if not rows:
        return "<p>-</p>"
    columns = list(rows[0])
    head = "<tr>" + "".join(f"<th>{_E(c)}</th>" for c in columns) + "</tr>"
    body = []
    for row in rows:
        cls = f" class='{_E(str(row[row_class]))}'" if row_class else ""
        cells = []
        for c in columns:
            v = row.get(c, math.nan)
            num = " class='num'" if not isinstance(v, str) else ""
            cells.append(f"<td{num}>{_E(_cell(v, _kind(c)))}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _pairs(items: Mapping[str, str]) -> str:
    rows = "".join(f"<tr><td>{_E(k)}</td><td>{_E(v)}</td></tr>" for k, v in items.items())
    return f"<table>{rows}</table>"


def _header(ev: MLPFEvaluation, header: Mapping[str, str]) -> str:
    s = ev.settings
    lines = {str(k): str(v) for k, v in header.items()}
    lines["view"] = ev.view
    lines["test events"] = str(ev.n_events)
    lines["jets"] = (
        f"anti-kT R = 0.4, pT > {s.jet_pt_min:g} GeV; generator jets with |eta| < {s.eta_max:g}, "
        f"matched one-to-one with dR < {s.match_dr:g}"
    )
    lines["MLPF thresholds"] = (
        f"particle probability > {s.particle_threshold:g}; pileup flag: pileup probability > "
        f"{s.pileup_threshold:g}"
    )
    lines["verdict rule"] = (
        f"a difference counts when above {s.significance:g} bootstrap standard errors "
        f"({s.n_bootstrap} resamples); fewer than {s.min_count} jets or events: not measured"
    )
    lines["particles per collection"] = ", ".join(f"{k}: {v}" for k, v in ev.n_particles.items())
    return _pairs(lines)


def _verdicts(ev: MLPFEvaluation) -> str:
    worse = ev.worse
    if worse:
        items = "".join(f"<li>{_E(v.text)}</li>" for v in worse)
        out = f"<h2>Where MLPF is worse</h2><ul class='worse'>{items}</ul>"
    else:
        out = (
            "<h2>Where MLPF is worse</h2><p>Nowhere resolved at this statistics "
            "(see the table below for what is not resolved or not measured).</p>"
        )
    rows = ev.tables()["verdicts"]
    return out + "<h2>All verdicts</h2>" + _rows_table(rows, row_class="outcome")


_PILEUP_NOTE = (
    "<p class='note'>The two ROC curves are on <b>different particle sets</b>: the MLPF head's "
    "on the true particles (the elements with a target; label: the target's pileup energy "
    "fraction is 1), as if the particle/none decision were perfect; PUPPI's on the PUPPI "
    "candidates (every rule-based PF candidate; label: its truth IsPU). They compare the two "
    "pileup taggers on their own inputs, not particle for particle; the like-for-like comparison "
    "is the jet and MET resolution of 'MLPF + PU flag' against PUPPI above.</p>"
)

_DEFINITIONS = (
    "<h2>Definitions</h2><ul>"
    "<li>Collections: MLPF (elements with particle probability above the threshold), MLPF + PU "
    "flag (its particles flagged as pileup removed), targets (a perfect MLPF: the ceiling), "
    "targets - PU (targets whose particles are all pileup removed), PF+CHS (rule-based particle "
    "flow after charged-hadron subtraction), PF (no pileup removal), PUPPI (PF weighted by the "
    "PUPPI weights). The reference: visible stable generator particles of the hard collision.</li>"
    "<li>Jet response: median of pT_reco / pT_gen of matched jets per generator-jet pT bin; "
    "resolution: IQR (p75 - p25), also as IQR / median; efficiency: matched generator jets / "
    "generator jets.</li>"
    "<li>MET: minus the vector pT sum of a collection; resolution IQR / median of MET_reco / "
    "MET_gen over events with MET_gen of at least 1 GeV; the IQR of the difference components "
    "is in GeV.</li>"
    "<li>Particle efficiency: target particles of a class whose element predicts a particle of "
    "that class; fake rate: predicted particles of a class on elements without a target.</li>"
    "<li>Metrics as logged: <a href='metrics.json'>metrics.json</a>.</li></ul>"
)


def _history_table(history: Mapping[str, Sequence[float]]) -> str:
    rows: list[dict[str, float | str]] = []
    for name, values in history.items():
        vals = [float(v) for v in values]
        finite = [v for v in vals if math.isfinite(v)]
        rows.append(
            {
                "series": str(name),
                "epochs": float(len(vals)),
                "first": vals[0] if vals else math.nan,
                "last": vals[-1] if vals else math.nan,
                "best (min)": min(finite) if finite else math.nan,
            }
        )
    return _rows_table(rows)


_UNIT_MARKS = ("ms", "/", "MB", "GB", "(s)", "seconds", "%")


def _jet_pivot(ev: MLPFEvaluation) -> list[dict[str, float | str]]:
    """Per collection: ``IQR / median (efficiency)`` in each generator-jet pT bin."""
    rows: list[dict[str, float | str]] = []
    for name, jr in ev.jets.items():
        e = jr.response.edges
        row: dict[str, float | str] = {"collection": name}
        for k in range(len(e) - 1):
            res = _cell(float(jr.response.iqr_over_median[k]))
            eff = _cell(float(jr.efficiency.value[k]), "pct")
            row[f"{bin_label(e[k], e[k + 1])} GeV"] = f"{res} ({eff})"
        rows.append(row)
    return rows


def _by_sample(by_sample: Mapping[str, MLPFEvaluation]) -> list[str]:
    """The per-sample sections."""
    parts = [
        "<h2>Each sample alone</h2>",
        "<p>The test events of each sample evaluated alone. Jets: IQR / median of "
        "pT_reco / pT_gen (matching efficiency) per generator-jet pT bin.</p>",
    ]
    for name, ev in by_sample.items():
        worse = "".join(f"<li>{_E(v.text)}</li>" for v in ev.worse)
        parts += [
            f"<h3>{_E(name)} ({ev.n_events} test events)</h3>",
            _rows_table(_jet_pivot(ev)),
            _rows_table(ev.tables()["met"]),
            f"<ul class='worse'>{worse}</ul>"
            if worse
            else "<p>MLPF is nowhere resolved worse in this sample.</p>",
        ]
    return parts


def _transfer(study: TransferStudy, plot: Path | None) -> list[str]:
    lo, hi = study.jet_pt_range
    parts = [
        f"<h2>Transfer to {_E(study.view)}</h2>",
        f"<p>The model above, fine-tuned on events of the {_E(study.view)} card, against the "
        f"same architecture trained from scratch on them, by the number of training events "
        f"({_E(study.collection)}; jet resolution: IQR / median of pT_reco / pT_gen for "
        f"generator jets of {lo:g}-{hi:g} GeV; MET resolution: IQR / median of MET_reco / "
        f"MET_gen; mean and standard deviation over seeds; {study.n_test_events} test "
        f"events of the target card).</p>",
    ]
    if plot is not None:
        parts.append(figure_html("Resolution against target training events", plot.name))
    return [*parts, _rows_table(study.table())]


def _timing_table(timing: Mapping[str, float]) -> str:
    """Name -> value; seconds unless the name carries a unit (``ms``, ``/event``, ``MB``, ...)."""
    return _pairs(
        {
            str(k): _cell(float(v)) + ("" if any(u in str(k) for u in _UNIT_MARKS) else " s")
            for k, v in timing.items()
        }
    )


def _page(
    ev: MLPFEvaluation,
    header: Mapping[str, str],
    history: Mapping[str, Sequence[float]] | None,
    timing: Mapping[str, float] | None,
    plots: Mapping[str, Path | None],
    by_sample: Mapping[str, MLPFEvaluation],
    transfer: TransferStudy | None,
) -> str:
    config = header.get("config")
    title = "l1scout MLPF study" + (f": {config}" if config else "")
    tables = ev.tables()

    def fig(key: str, caption: str) -> list[str]:
        p = plots.get(key)
        return [figure_html(caption, p.name)] if p is not None else []

    parts = [
        *page_head(title, _CSS),
        f"<h1>{_E(title)}</h1>",
        f"<p>Made by l1scout {_E(__version__)}.</p>",
        _header(ev, header),
        _verdicts(ev),
        "<h2>Jet response and resolution</h2>",
        *fig("jets", "Jet matching efficiency, response and resolution vs generator-jet pT"),
        _rows_table(tables["jets"]),
        "<h2>MET resolution</h2>",
        _rows_table(tables["met"]),
        "<h2>Per-particle pileup ROC</h2>",
        _PILEUP_NOTE,
        *fig("pileup", "Pileup ROC: MLPF pileup head vs PUPPI"),
        _rows_table(tables["pileup"]),
        "<h2>Particle efficiency and fake rate per class (MLPF vs targets)</h2>",
        *fig("particles", "Per-class efficiency and fake rate vs pT"),
        _rows_table(tables["particles"]),
    ]
    if by_sample:
        parts += _by_sample(by_sample)
    if transfer is not None:
        parts += _transfer(transfer, plots.get("transfer"))
    if history:
        parts += ["<h2>Training history</h2>", *fig("history", "Training history")]
        parts.append(_history_table(history))
    if timing:
        parts += ["<h2>Timing</h2>", _timing_table(timing)]
    parts += [_DEFINITIONS, "</body></html>"]
    return "\n".join(parts) + "\n"


def write_mlpf_report(
    evaluation: MLPFEvaluation,
    out: Path,
    *,
    header: Mapping[str, str],
    history: Mapping[str, Sequence[float]] | None,
    timing: Mapping[str, float] | None,
    by_sample: Mapping[str, MLPFEvaluation] | None = None,
    transfer: TransferStudy | None = None,
) -> Path:
    """Write ``out/report.html``, its PNG plots and ``metrics.json`` (module docstring).

    Args:
        evaluation: from :func:`~l1scout.tasks.mlpf.study.evaluate_mlpf`.
        out: the output folder (created; files of the same names replaced).
        header: lines shown first (name -> value); a ``config`` entry also
            titles the page.
        history: training series by name (e.g. ``train loss``, ``val loss``),
            one value per epoch, or None.
        timing: name -> value, or None: wall seconds (a pipeline stage) unless the
            name carries a unit (e.g. ``MLPF ONNX ms/event``).
        by_sample: sample -> the evaluation of its events alone (a section each).
        transfer: the transfer study (its plot ``transfer.png`` and table).

    Returns:
        The path of ``out/report.html``.

    Raises:
        ConfigError: ``out`` cannot be created or written.
    """
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with plot_style():
            plots: dict[str, Path | None] = {
                "jets": plot_jets(evaluation, folder / "jets.png"),
                "pileup": plot_pileup_roc(evaluation, folder / "pileup_roc.png"),
                "particles": plot_particles(evaluation, folder / "particles.png"),
                "history": plot_history(history, folder / "history.png") if history else None,
            }
        if transfer is not None:
            from l1scout.tasks.mlpf.transfer import plot_transfer

            plots["transfer"] = plot_transfer(transfer, folder / "transfer.png")
        metrics = json.dumps(json_safe(evaluation.metrics()), indent=1, sort_keys=True) + "\n"
        atomic_write_bytes(folder / "metrics.json", metrics.encode("utf-8"))
        page = _page(evaluation, dict(header), history, timing, plots, by_sample or {}, transfer)
        path = atomic_write_bytes(folder / REPORT_NAME, page.encode("utf-8"))
    except OSError as exc:
        msg = f"cannot write the MLPF report into {folder} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("MLPF report: %s", path)
    return path
