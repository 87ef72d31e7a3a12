"""The jet-tagging report: one HTML page with its PNG plots and ``metrics.json``.

Sections, in order:

* the setup (configuration, samples, events per split, source, dataset hash);
* the headline: AUC per class in every view (the L1T view against FullReco)
  and the labelled test jets behind each;
* b tagging against the card's ``BTag`` bit, the pT response, the ONNX and
  firmware checks;
* the HH -> 4b seed at equal zero-bias rate: per rate, working point and
  number of b-tags, the HT threshold alone and with b-tags, the signal
  efficiency of each (Clopper-Pearson interval) and the threshold drop;
* the plots (ROC curves per class, the b-tag comparison, the training
  histories) and the stage times.

A value that is not defined is shown as ``-``. Every string is
HTML-escaped. The plots and ``metrics.json`` are written first, the page
last, each atomically: a ``report.html`` that exists is complete.

Example:
    >>> _cell(float("nan")), _cell(0.91234), _cell(0.25, "pct"), _cell(12.0, "gev")
    ('-', '0.912', '25.0 %', '12 GeV')
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout._files import atomic_write_bytes
from l1scout._html import figure_html, json_safe, page_head, plot_style
from l1scout._version import __version__
from l1scout.errors import ConfigError
from l1scout.tasks.jettag._report_plots import plot_btag, plot_history, plot_rocs
from l1scout.tasks.rates import format_rate

if TYPE_CHECKING:
    from l1scout.tasks.jettag.config import JetTagConfig
    from l1scout.tasks.jettag.results import JetTagResult

__all__ = ["REPORT_NAME", "write_jettag_report"]

_log = logging.getLogger(__name__)

#: The page's file name.
REPORT_NAME = "report.html"
_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
    "th{background:#eee}td:first-child{text-align:left}img{max-width:100%}"
)


_FORMATS = {
    "pct": lambda v: f"{100 * v:.1f} %",
    "gev": lambda v: f"{v:.0f} GeV",
    "int": lambda v: f"{int(v)}",
    "sci": lambda v: f"{v:.2g}",
    "": lambda v: f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}",
}


def _cell(value: object, kind: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        v = float(value)
        return _FORMATS[kind](v) if math.isfinite(v) else "-"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _headline(result: JetTagResult) -> str:
    views = list(result.views)
    headers = ["class", *(f"AUC {v}" for v in views), *(f"test jets {v}" for v in views)]
    rows = [
        [
            _cell(r["class"]),
            *(_cell(r[v]) for v in views),
            *(_cell(r[f"{v} jets"], "int") for v in views),
        ]
        for r in result.auc_table()
    ]
    return _table(headers, rows)


def _btag_and_response(result: JetTagResult) -> str:
    rows = []
    for view, vr in result.views.items():
        b, r = vr.btag, vr.response
        rows.append(
            [
                _cell(view),
                _cell(b.card_eff, "pct"),
                _cell(b.card_mistag, "pct"),
                _cell(b.tagger_mistag_at_card_eff, "pct"),
                _cell(r.raw_median),
                _cell(r.raw_resolution, "pct"),
                _cell(r.regressed_median),
                _cell(r.regressed_resolution, "pct"),
                _cell(vr.onnx_parity, "sci"),
            ]
        )
    headers = [
        "view",
        "card BTag b eff.",
        "card BTag light mistag",
        "tagger mistag at card eff.",
        "raw response",
        "raw resolution",
        "regressed response",
        "regressed resolution",
        "ONNX parity",
    ]
    return _table(headers, rows)


def _firmware(result: JetTagResult) -> str:
    fw = result.firmware
    if fw is None:
        return "<p>Firmware: not run (deploy.firmware off, --no-firmware, or a float model).</p>"
    return (
        f"<p>Firmware ({_cell(str(fw.path))}): the integer emulation is "
        f"{'bit-exact' if fw.emulation_bit_exact else '<b>NOT</b> bit-exact'} with the quantized "
        f"model on {fw.emulation_jets:,} jets ({fw.emulation_seconds:.1f} s); hls4ml's C++ on "
        f"{fw.hls_jets:,} jets: {_cell(fw.hls_bit_exact)} (build and run {fw.build_seconds:.0f} s)."
        f"{(' ' + _cell(fw.note)) if fw.note else ''}</p>"
    )


def _hh4b(result: JetTagResult) -> str:
    h = result.hh4b
    if h is None:
        return "<p>No HH -> 4b study.</p>"
    rows = []
    for r in h.rows:
        e0, e1 = r.ht_only_efficiency, r.with_btag_efficiency
        rows.append(
            [
                _cell(format_rate(r.rate_khz)),
                _cell(r.working_point),
                _cell(r.n_btag, "int"),
                _cell(r.ht_threshold, "gev"),
                f"{_cell(e0.value, 'pct')} [{_cell(e0.low, 'pct')}, {_cell(e0.high, 'pct')}]",
                _cell(r.btag_ht_threshold, "gev"),
                f"{_cell(e1.value, 'pct')} [{_cell(e1.low, 'pct')}, {_cell(e1.high, 'pct')}]",
                _cell(r.threshold_drop, "gev"),
                _cell(r.measurable),
            ]
        )
    wps = ", ".join(f"{html.escape(k)}: {v:.4g}" for k, v in h.working_points.items())
    return (
        f"<p>{h.zero_bias_events:,} zero-bias events (rates) and {h.signal_events:,} signal events "
        f"(efficiencies), L1T view; b-score working points: {wps}. A b-tag HT threshold of 0 GeV: "
        "the b-tag requirement alone keeps the rate. Measurable: at least the configured number "
        "of zero-bias events expected above the threshold.</p>"
        + _table(
            [
                "rate",
                "working point",
                "b-tags",
                "HT-only threshold",
                "HT-only efficiency",
                "HT + b-tags threshold",
                "HT + b-tags efficiency",
                "threshold drop",
                "measurable",
            ],
            rows,
        )
    )


def _page(result: JetTagResult, cfg: JetTagConfig, plots: dict[str, Path | None]) -> str:
    e = html.escape
    setup = {
        "config": cfg.name,
        "samples": ", ".join(f"{s.process} ({s.events})" for s in cfg.data.samples),
        "pileup": f"{cfg.data.pileup:g}",
        "source": result.source,
        "events": ", ".join(f"{k} {v}" for k, v in result.events.items()),
        "jets": f"{cfg.data.jets}, pT > {cfg.data.pt_min:g} GeV, |eta| < {cfg.data.eta_max:g}",
        "trained on": "every sample but "
        f"{cfg.data.signal} and {cfg.data.zero_bias} (the seed study's, kept unseen)",
        "dataset hash": result.dataset_hash,
        "l1scout": __version__,
    }
    lines = page_head(f"jet tagging: {cfg.name}", _CSS)
    lines.append(f"<h1>Level-1 jet tagging: {e(cfg.name)}</h1>")
    lines.append(_table(["", ""], [[e(k), e(v)] for k, v in setup.items()]))
    lines.append("<h2>AUC per class and view (test jets)</h2>" + _headline(result))
    lines.append("<h2>b tagging against the card, pT regression, ONNX</h2>")
    lines.append(_btag_and_response(result))
    lines.append(_firmware(result))
    lines.append("<h2>HH -> 4b seed at equal zero-bias rate</h2>" + _hh4b(result))
    titles = {"roc": "ROC per class", "btag": "b tagging", "history": "training"}
    for key, path in plots.items():
        if path is not None:
            lines.append(figure_html(titles[key], path.name))
    lines.append("<h2>Stage times</h2>")
    lines.append(
        _table(["stage", "s"], [[e(k), f"{v:.1f}"] for k, v in result.stage_seconds.items()])
    )
    lines.append("</body></html>")
    return "\n".join(lines)


def write_jettag_report(result: JetTagResult, cfg: JetTagConfig, out: Path | str) -> Path:
    """Write ``out/report.html``, its plots and ``metrics.json`` (module docstring); the page's path.

    Raises:
        ConfigError: ``out`` cannot be created or written.
    """
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        history = {
            f"{view} {k}": v
            for view, vr in result.views.items()
            for k, v in vr.training.curves().items()
        }
        with plot_style():
            plots = {
                "roc": plot_rocs(result.views, folder / "roc.png"),
                "btag": plot_btag(result.views, folder / "btag.png"),
                "history": plot_history(history, folder / "history.png"),
            }
        metrics = {
            "auc_table": result.auc_table(),
            "hh4b": None if result.hh4b is None else result.hh4b.table(),
        }
        text = json.dumps(json_safe(metrics), indent=1) + "\n"
        atomic_write_bytes(folder / "metrics.json", text.encode("utf-8"))
        path = atomic_write_bytes(folder / REPORT_NAME, _page(result, cfg, plots).encode("utf-8"))
    except OSError as exc:
        msg = f"cannot write the jet-tagging report into {folder} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("jet-tagging report: %s", path)
    return path
