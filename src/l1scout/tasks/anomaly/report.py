"""The anomaly-trigger report: an HTML page with tables and plots, and a text table for the CLI.

:func:`write_report` turns an :class:`~l1scout.tasks.anomaly.metrics.Evaluation`
into ``out_dir/index.html`` with three PNG plots beside it (score
distributions, ROC curves, efficiency versus rate; matplotlib with the mplhep
CMS style, :mod:`l1scout.tasks.anomaly._report_plots`) and ``metrics.json``
(the MLflow metrics). The page states the rate normalisation in its header
(:func:`~l1scout.tasks.rates.describe_crossing_rate`), the setup
(in the pipeline: the split and the figure that chose the model), the signal
efficiencies at the rates the zero-bias sample can measure
with their Clopper-Pearson intervals, which rates it cannot measure (in plain
words, with those columns greyed out and no number quoted), the thresholds
with their uncertainties, AUC and the ADC2021 figure of merit, the pure
efficiencies against the reference menu, and optional model, score-comparison
and stage-time tables. An evaluation without signals (a rate-only study) gives
the thresholds, rates and score distribution alone: no efficiency table, no
ROC or efficiency plot. Every file is written atomically; every string from
the caller is HTML-escaped.

:func:`efficiency_table_text` and :func:`efficiency_table_rich` render the
efficiency table for a terminal.

Example:
    >>> import numpy as np
    >>> from l1scout.tasks.anomaly.metrics import evaluate
    >>> rng = np.random.default_rng(3)
    >>> ev = evaluate(rng.normal(size=5000), {"A": rng.normal(3.0, 1.0, 500)},
    ...               rates_khz=(10.0, 100.0))
    >>> print(efficiency_table_text(ev).splitlines()[0])
    signal  events  AUC     eff @ bkg 1e-05  10 kHz  100 kHz
    >>> print(efficiency_table_text(ev).splitlines()[1])
    A       500     0.9820  n/m              n/m     67.0 +2.2 -2.2 %
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
from l1scout._html import REPORT_CSS, figure_html, page_head, plot_style
from l1scout._version import __version__
from l1scout.errors import ConfigError
from l1scout.tasks.anomaly._report_plots import plot_efficiency, plot_roc, plot_scores
from l1scout.tasks.anomaly.metrics import Evaluation
from l1scout.tasks.rates import Efficiency, describe_crossing_rate, format_rate

if TYPE_CHECKING:
    from rich.table import Table

    from l1scout.tasks.anomaly.menu import Menu
    from l1scout.tasks.rates import MeasuredRate

__all__ = ["efficiency_table_rich", "efficiency_table_text", "format_efficiency", "write_report"]

_log = logging.getLogger(__name__)

_NOT_MEASURABLE = "not measurable"
_CSS = (
    REPORT_CSS
    + """
th.nm, td.nm { background: #eee; color: #999; font-style: italic; }
p.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.6em; }
code { background: #f4f4f4; padding: 1px 4px; }
"""
)


def _rate_text(rate_khz: float) -> str:
    """``1 kHz``, ``0.15 kHz``: :func:`format_rate` with a space."""
    return f"{format_rate(rate_khz)[:-3]} kHz"


def format_efficiency(e: Efficiency) -> str:
    """An efficiency in percent with its asymmetric interval, e.g. ``"45.2 +1.3 -1.2 %"``.

    One decimal; with an error below 0.1 %, as many as give the larger error two digits.

    >>> from l1scout.tasks.rates import efficiency
    >>> format_efficiency(efficiency(50, 100))
    '50.0 +5.5 -5.5 %'
    """
    value, up, down = (100 * x for x in (e.value, e.err_high, e.err_low))
    err = max(up, down)
    decimals = 1 if err <= 0 or err >= 0.1 else min(4, 1 - math.floor(math.log10(err)))
    return f"{value:.{decimals}f} +{up:.{decimals}f} -{down:.{decimals}f} %"


def _efficiency_html(e: Efficiency) -> str:
    text = format_efficiency(e).removesuffix(" %")
    value, up, down = text.split(" ")
    return (
        f"<td class='num' title='{e.passed} / {e.total}'>{value}"
        f"<sup>{html.escape(up)}</sup><sub>{html.escape(down.replace('-', '−'))}</sub> %</td>"
    )


def _num(x: object) -> str:
    """A cell value: numbers to 4 significant digits, None as a dash."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        text = "–"
    elif isinstance(x, bool):
        text = "yes" if x else "no"
    elif isinstance(x, float):
        text = f"{x:.4g}" if math.isfinite(x) else ("+inf" if x > 0 else "-inf")
    elif isinstance(x, Mapping):
        text = json.dumps({str(k): _num(v) for k, v in x.items()})
    else:
        text = str(x)
    return text


def _rate_range(r: MeasuredRate) -> str:
    return f"{r.rate_khz:.3g} [{r.low_khz:.3g}, {r.high_khz:.3g}]"


# ---------------------------------------------------------------- text tables


def _table_cells(evaluation: Evaluation) -> tuple[list[str], list[list[str]], list[bool]]:
    """Header, rows and per-column 'measurable' flags of the efficiency table."""
    bkg_key = f"eff @ bkg {evaluation.bkg_eff:g}"
    header = ["signal", "events", "AUC", bkg_key]
    flags = [True, True, True, evaluation.bkg_threshold.measurable]
    header += [_rate_text(t.rate_khz) for t in evaluation.thresholds]
    flags += [t.measurable for t in evaluation.thresholds]
    rows = []
    for s in evaluation.signals.values():
        row = [
            s.name,
            str(s.n_events),
            f"{s.auc:.4f}",
            format_efficiency(s.eff_at_bkg) if evaluation.bkg_threshold.measurable else "n/m",
        ]
        row += [
            format_efficiency(e) if t.measurable else "n/m"
            for t, e in zip(evaluation.thresholds, s.efficiency, strict=True)
        ]
        rows.append(row)
    return header, rows, flags


def _footnote(evaluation: Evaluation) -> str:
    bad = evaluation.unmeasurable_rates_khz
    note = (
        f"Efficiencies at fixed zero-bias rate, Clopper-Pearson {100 * evaluation.cl:.2f} % intervals; "
        f"{evaluation.n_zero_bias} zero-bias events."
    )
    if bad:
        note += (
            f" n/m = not measurable: fewer than {evaluation.min_pass} zero-bias events expected "
            f"above the threshold (rates below {evaluation.min_measurable_rate_khz:.3g} kHz): "
            + ", ".join(_rate_text(r) for r in bad)
            + "."
        )
    if not evaluation.bkg_threshold.measurable:
        need = math.ceil(evaluation.min_pass / evaluation.bkg_eff)
        note += f" eff @ bkg {evaluation.bkg_eff:g} needs at least {need} zero-bias events: not measurable."
    return note


def efficiency_table_text(evaluation: Evaluation) -> str:
    """The efficiency table as plain text (fixed-width columns), with a footnote on n/m columns."""
    header, rows, _ = _table_cells(evaluation)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join([*lines, "", _footnote(evaluation)]) + "\n"


def efficiency_table_rich(evaluation: Evaluation) -> Table:
    """The efficiency table as a :class:`rich.table.Table`; columns not measurable are dimmed."""
    from rich.table import Table

    header, rows, flags = _table_cells(evaluation)
    table = Table(title="Signal efficiency at fixed zero-bias rate", caption=_footnote(evaluation))
    for i, (name, ok) in enumerate(zip(header, flags, strict=True)):
        table.add_column(name, justify="left" if i == 0 else "right", style=None if ok else "dim")
    for row in rows:
        table.add_row(*row)
    return table


# ---------------------------------------------------------------- page


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """A table of already-escaped cells (``<td>``... included in the cells); no header row if None."""
    head = "" if header is None else "<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _measurability(ev: Evaluation) -> str:
    e = html.escape
    bad = ev.unmeasurable_rates_khz
    rule = (
        f"A rate is measurable when at least {ev.min_pass} zero-bias events are expected above its "
        f"threshold: with {ev.n_zero_bias} zero-bias events, rates of at least "
        f"{ev.min_measurable_rate_khz:.3g} kHz."
    )
    if not bad:
        return f"<p>{e(rule)} Every target rate here is measurable.</p>"
    need = math.ceil(ev.min_pass * ev.crossing_rate_khz / min(bad))
    names = ", ".join(_rate_text(r) for r in bad)
    return (
        f"<p class='warn'><b>Not measurable: {e(names)}.</b> The zero-bias sample is too small for "
        f"these rates, so no efficiency is quoted there (greyed out below). {e(rule)} Measuring "
        f"{e(_rate_text(min(bad)))} needs at least {need} zero-bias events.</p>"
    )


def _efficiency_section(ev: Evaluation, *, pure: bool) -> str:
    header = ["signal", "events"]
    if pure:
        header.append("menu efficiency")
    for t in ev.thresholds:
        label = html.escape(_rate_text(t.rate_khz))
        header.append(
            label if t.measurable else f"<span title='{_NOT_MEASURABLE}'>{label}<br>(n/m)</span>"
        )
    cls = ["" if t.measurable else " class='nm'" for t in ev.thresholds]
    header_html = "".join(
        f"<th{c}>{h}</th>"
        for h, c in zip(header, ["", ""] + ([""] if pure else []) + cls, strict=True)
    )
    rows = []
    for s in ev.signals.values():
        effs = s.pure_efficiency if pure else s.efficiency
        if effs is None:
            continue
        cells = [f"<td>{html.escape(s.name)}</td>", f"<td class='num'>{s.n_events}</td>"]
        if pure:
            cells.append(_efficiency_html(s.menu_efficiency) if s.menu_efficiency else "<td>–</td>")
        for t, eff in zip(ev.thresholds, effs, strict=True):
            cells.append(
                _efficiency_html(eff) if t.measurable else f"<td class='nm'>{_NOT_MEASURABLE}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{header_html}</tr>{''.join(rows)}</table>"


def _threshold_section(ev: Evaluation) -> str:
    header = [
        "target rate",
        "threshold (accept score &gt; threshold)",
        f"threshold interval ({100 * ev.cl:.2f} %)",
        "zero-bias passing / expected",
        "measured rate [interval], kHz",
    ]
    if ev.pure_rates is not None:
        header.append("pure rate [interval], kHz")
    header.append("measurable")
    rows = []
    for i, t in enumerate(ev.thresholds):
        num = "num" if t.measurable else "num nm"
        nm = "" if t.measurable else " class='nm'"
        cells = [
            f"<td{nm}>{html.escape(_rate_text(t.rate_khz))}</td>",
            f"<td class='{num}'>{_num(t.threshold)}</td>",
            f"<td class='{num}'>[{_num(t.threshold_low)}, {_num(t.threshold_high)}]</td>",
            f"<td class='{num}'>{t.n_pass} / {t.expected_pass:.3g}</td>",
            f"<td class='{num}'>{t.rate_measured_khz:.3g} [{t.rate_low_khz:.3g}, {t.rate_high_khz:.3g}]</td>",
        ]
        if ev.pure_rates is not None:
            cells.append(f"<td class='{num}'>{_rate_range(ev.pure_rates[i])}</td>")
        cells.append(f"<td{nm}>{'yes' if t.measurable else 'no: sample too small'}</td>")
        rows.append(cells)
    return _table(header, rows)


def _auc_section(ev: Evaluation) -> str:
    bt = ev.bkg_threshold
    header = ["signal", "AUC", f"efficiency at zero-bias efficiency {ev.bkg_eff:g}"]
    rows = []
    for s in ev.signals.values():
        cell = (
            _efficiency_html(s.eff_at_bkg)
            if bt.measurable
            else f"<td class='nm'>{_NOT_MEASURABLE}</td>"
        )
        rows.append([f"<td>{html.escape(s.name)}</td>", f"<td class='num'>{s.auc:.4f}</td>", cell])
    note = (
        f"The ADC2021 figure of merit (Govorkova et al., Sci. Data 9 (2022) 118): threshold "
        f"{_num(bt.threshold)}, {bt.n_pass} of {bt.n_total} zero-bias events above it."
    )
    if not bt.measurable:
        need = math.ceil(ev.min_pass / ev.bkg_eff)
        note += (
            f" Not measurable here: {bt.expected_pass:.3g} zero-bias events expected above it, "
            f"at least {ev.min_pass} needed ({need} zero-bias events)."
        )
    return _table(header, rows) + f"<p>{html.escape(note)}</p>"


def _mapping_section(items: Mapping[str, object]) -> str:
    rows = [
        [f"<td>{html.escape(str(k))}</td>", f"<td>{html.escape(_num(v))}</td>"]
        for k, v in items.items()
    ]
    return _table(None, rows)


def _rows_section(rows: Sequence[Mapping[str, object]]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [str(k) for k in row if str(k) not in keys]
    body = [
        [
            f"<td class='num'>{html.escape(_num(row.get(k)))}</td>"
            if isinstance(row.get(k), int | float) and not isinstance(row.get(k), bool)
            else f"<td>{html.escape(_num(row.get(k)))}</td>"
            for k in keys
        ]
        for row in rows
    ]
    return _table([html.escape(k) for k in keys], body)


def _menu_section(menu: Menu, rates: Mapping[str, MeasuredRate] | None) -> str:
    from l1scout.tasks.anomaly.menu import menu_summary

    text = html.escape(menu.description)
    calib = (
        f"calibrated on {menu.calibrated_on_events} zero-bias events"
        if menu.calibrated_on_events
        else "NOT calibrated (the shipped thresholds)"
    )
    out = f"<p>Menu <code>{html.escape(menu.name)}</code>, {calib}. {text}</p>"
    out += _rows_section(menu_summary(menu, rates))
    return out


def _comparison_section(evaluations: Mapping[str, Evaluation]) -> str:
    """Several scores of one model on the same events: AUC and efficiency at each common rate."""
    e = html.escape
    evs = list(evaluations.values())
    first = evs[0]
    rates = [
        t.rate_khz
        for t in first.thresholds
        if all(ev.threshold_at(t.rate_khz).measurable for ev in evs)
    ]
    header = ["signal"]
    for label in evaluations:
        header += [f"{e(label)}: AUC"] + [f"{e(label)}: {e(_rate_text(r))}" for r in rates]
    rows = []
    for signal in first.signals:
        cells = [f"<td>{e(signal)}</td>"]
        for ev in evs:
            s = ev.signals.get(signal)
            if s is None:
                cells += ["<td>–</td>"] * (1 + len(rates))
                continue
            cells.append(f"<td class='num'>{s.auc:.4f}</td>")
            cells += [_efficiency_html(s.efficiency_at(r)) for r in rates]
        rows.append(cells)
    n_sig = sum(s.n_events for s in first.signals.values())
    shown = ", ".join(_rate_text(r) for r in rates) if rates else "none"
    note = (
        f"One trained backbone, each score on the same events: {first.n_zero_bias} zero-bias "
        f"validation events set each score's thresholds at the same rates, and {n_sig} signal "
        f"validation events give the efficiencies. Rates measurable on this split: {shown}. "
        "These are validation numbers, the split the models are chosen on; only the chosen "
        "model is evaluated on the test split."
    )
    return f"<p>{e(note)}</p>" + _table(header, rows)


def _html(
    ev: Evaluation,
    *,
    title: str,
    extra: Mapping[str, object],
    stage_times: Mapping[str, float] | None,
    model_rows: Sequence[Mapping[str, object]] | None,
    menu: Menu | None,
    menu_rates: Mapping[str, MeasuredRate] | None,
    plots: Sequence[tuple[str, Path]],
    comparisons: Sequence[tuple[str, Mapping[str, Evaluation]]] = (),
) -> str:
    e = html.escape
    parts = [
        *page_head(title, _CSS),
        f"<h1>{e(title)}</h1>",
        f"<p>Made by l1scout {e(__version__)}. <b>Rate normalisation:</b> rates are fractions of "
        f"zero-bias events accepted times {e(describe_crossing_rate(ev.crossing_rate_khz))} of "
        "non-empty crossings. "
        f"Intervals: {100 * ev.cl:.2f} % Clopper-Pearson (efficiencies and rates), order statistics "
        f"(thresholds).</p>",
        "<h2>Setup</h2>",
        _mapping_section({"zero-bias test events": ev.n_zero_bias, **extra}),
        "<h2>Which rates this sample can measure</h2>",
        _measurability(ev),
    ]
    if ev.signals:
        parts += [
            "<h2>Signal efficiency at fixed zero-bias rate</h2>",
            _efficiency_section(ev, pure=False),
        ]
    else:
        parts += [
            "<h2>Rate-only study</h2>",
            "<p>No signal samples: this page gives the thresholds of the target rates and the "
            "rates they give on the zero-bias test events, and no efficiency.</p>",
        ]
    if any(s.pure_efficiency is not None for s in ev.signals.values()):
        menu_rate = (
            f" The reference menu's own rate on this zero-bias sample: "
            f"{_rate_range(ev.menu_rate)} kHz."
            if ev.menu_rate is not None
            else ""
        )
        parts += [
            "<h2>Pure efficiency (accepted by the anomaly trigger and not by the reference menu)</h2>",
            f"<p>Fraction of each signal's events above the threshold that no seed of the reference "
            f"menu accepts.{e(menu_rate)}</p>",
            _efficiency_section(ev, pure=True),
        ]
    if ev.signals:
        parts += ["<h2>AUC and efficiency at a fixed background efficiency</h2>", _auc_section(ev)]
    parts += ["<h2>Thresholds</h2>", _threshold_section(ev)]
    if menu is not None:
        parts += ["<h2>Reference menu</h2>", _menu_section(menu, menu_rates)]
    if model_rows:
        parts += ["<h2>Models</h2>", _rows_section(model_rows)]
    for name, evaluations in comparisons:
        if not any(v.signals for v in evaluations.values()):
            continue  # rate-only: no efficiency to compare
        parts += [
            f"<h2>Scores of {e(name)} side by side (validation split)</h2>",
            _comparison_section(evaluations),
        ]
    if stage_times:
        times: dict[str, object] = {str(k): f"{v:.1f} s" for k, v in stage_times.items()}
        times["total"] = f"{sum(stage_times.values()):.1f} s"
        parts += ["<h2>Wall time per stage</h2>", _mapping_section(times)]
    parts.append("<h2>Plots</h2>")
    parts += [figure_html(t, p.name) for t, p in plots]
    parts.append(
        "<h2>Definitions</h2><ul>"
        "<li>Threshold of a rate R: with n zero-bias events, k = round(n R / crossing rate) (half up); "
        "the threshold is the (k+1)-th largest zero-bias score and an event is accepted when its score "
        "is strictly above it (ties at the threshold are rejected, so at most k zero-bias events pass).</li>"
        "<li>Efficiency: accepted signal events / signal events; pure efficiency: accepted by the anomaly "
        "trigger and by no seed of the reference menu.</li>"
        "<li>AUC: P(signal score &gt; zero-bias score) + P(equal) / 2.</li>"
        "<li>Metrics as logged: <a href='metrics.json'>metrics.json</a>.</li></ul>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    evaluation: Evaluation,
    out_dir: Path | str,
    *,
    title: str = "l1scout anomaly-detection trigger",
    extra: Mapping[str, object] | None = None,
    stage_times: Mapping[str, float] | None = None,
    model_rows: Sequence[Mapping[str, object]] | None = None,
    menu: Menu | None = None,
    menu_rates: Mapping[str, MeasuredRate] | None = None,
    comparisons: Sequence[tuple[str, Mapping[str, Evaluation]]] = (),
    dpi: int = 80,
) -> Path:
    """Write ``index.html``, the plots (PNG) and ``metrics.json`` of an evaluation into ``out_dir``.

    Args:
        evaluation: from :func:`l1scout.tasks.anomaly.metrics.evaluate`.
        out_dir: the output folder (created; files of the same names replaced).
        title: the page title.
        extra: setup lines (name -> value) shown first, e.g. samples, model, dataset hash.
        stage_times: pipeline stage -> wall seconds.
        model_rows: one mapping per model (e.g. FLOPs, LUTs, latency, ONNX and firmware parity);
            the columns are the union of the keys, None shown as a dash.
        menu: the reference menu the pure efficiencies were computed with (its seeds are listed).
        menu_rates: its rates per seed (:func:`l1scout.tasks.anomaly.menu.menu_rates`), shown with it.
        comparisons: (model name, {score name: its evaluation on the validation
            split}) per model evaluated with several scores (the VICReg
            autoencoder and distance scores): a table each, side by side.
        dpi: resolution of the plots.

    Returns:
        The path of ``out_dir/index.html``.

    Raises:
        ConfigError: ``out_dir`` cannot be created or written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        plots: list[tuple[str, Path]] = []
        with plot_style():
            plots.append(("Score distributions", plot_scores(evaluation, out / "scores.png", dpi)))
            if evaluation.signals:
                plots.append(("ROC curves", plot_roc(evaluation, out / "roc.png", dpi)))
                plots.append(
                    (
                        "Signal efficiency versus rate",
                        plot_efficiency(evaluation, out / "efficiency.png", dpi),
                    )
                )
        metrics = json.dumps(evaluation.to_metrics(), indent=1, sort_keys=True) + "\n"
        atomic_write_bytes(out / "metrics.json", metrics.encode("utf-8"))
        page = _html(
            evaluation,
            title=title,
            extra=dict(extra or {}),
            stage_times=stage_times,
            model_rows=model_rows,
            menu=menu,
            menu_rates=menu_rates,
            plots=plots,
            comparisons=comparisons,
        )
        index = atomic_write_bytes(out / "index.html", page.encode("utf-8"))
    except OSError as exc:
        msg = f"cannot write the report into {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("anomaly report: %s", index)
    return index
