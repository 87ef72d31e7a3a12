"""The soft-tau report: one HTML page with the comparison table, the verdict and each method's plots.

:func:`write_tau_report` turns a :class:`~l1scout.tasks.taus.results.TauEvaluation`
into ``out_dir/report.html`` with its PNG plots beside it, as the seed study
shows its results (Camagni et al., "Deep learning-based identification of
soft taus in the L1 scouting stream for Phase-2", AI-INFN hackathon, Pavia,
November 2025):

* a header: the caller's lines (configuration name, data, ...), the crossing
  rate that normalises every rate (:func:`~l1scout.tasks.rates.describe_crossing_rate`),
  the target zero-bias rate (50 kHz) and the split rule: **working points
  chosen on the validation split, every number quoted on the test split**;
* the verdict sentence, "the transformer beats NNPuppiTau for 20-60 GeV
  taus: yes / no / not resolved at this statistics"
  (:class:`~l1scout.tasks.taus.results.Verdict`);
* the comparison table: per working point (and NNPuppiTau's double-tau menu
  seed) the di-tau efficiency at the target rate and on the verdict's taus,
  the rate, all with intervals, the three cuts, and a "not measurable" flag
  where the validation zero bias is too small for the target rate; the
  efficiency and rate strings are those of
  :func:`~l1scout.tasks.taus.ditau.comparison_table`;
* per method: RECO and ID efficiency vs visible pT, fakes per zero-bias
  event, pT response and resolution before and after the regression, charge
  accuracy (a table per visible-pT bin and two plots,
  :mod:`l1scout.tasks.taus._report_plots`);
* the wall time of each stage, when given.

Every string from the caller or the evaluation is HTML-escaped. The plots are
written first, the page last, each atomically
(:func:`l1scout._files.atomic_write_bytes`): a ``report.html`` that exists is
complete, and a failure while writing leaves the previous one (or none).

Example:
    >>> from l1scout.tasks.rates import efficiency, measured_rate
    >>> from l1scout.tasks.taus.ditau import ComparisonRow, comparison_table
    >>> e = efficiency(45, 100)
    >>> _eff_text(e)
    '45.0 +5.5 -5.4 %'
    >>> row = ComparisonRow("m", e, measured_rate(1, 10, crossing_rate_khz=10.0))
    >>> comparison_table([row])[0]["di-tau eff."] == _eff_text(e)
    True
    >>> _slug("transformer + CLUE <1>")
    'transformer_clue_1'
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._html import REPORT_CSS, figure_html, page_head, plot_style
from l1scout._version import __version__
from l1scout.errors import ConfigError
from l1scout.tasks.rates import Efficiency, describe_crossing_rate
from l1scout.tasks.taus._report_plots import plot_ditau, plot_efficiency, plot_response
from l1scout.tasks.taus.metrics import BinnedEff
from l1scout.tasks.taus.results import DiTauResult, MethodEvaluation, TauEvaluation

__all__ = ["REPORT_NAME", "verdict_sentence", "write_tau_report"]

_log = logging.getLogger(__name__)

#: The page's file name in the output folder.
REPORT_NAME = "report.html"
_CSS = (
    REPORT_CSS
    + """
td.nm { background: #eee; color: #888; font-style: italic; }
p.verdict { font-size: 1.2em; background: #eef5ff; border: 1px solid #9bc; padding: 0.6em; }
"""
)
_E = html.escape


def _eff_text(e: Efficiency) -> str:
    """An efficiency in percent with its interval, as :func:`~l1scout.tasks.taus.ditau.comparison_table` writes it."""
    v = 100 * e.value
    return f"{v:.1f} +{100 * e.high - v:.1f} -{v - 100 * e.low:.1f} %"


def _range(value: float, low: float, high: float, unit: str = "") -> str:
    """``value [low, high]`` to 3 significant digits."""
    return f"{value:.3g} [{low:.3g}, {high:.3g}]{unit}"


def _slug(text: str) -> str:
    """A file-name part: letters and digits, runs of others as one ``_``, lower case."""
    out = "".join(c if c.isalnum() else "_" for c in text.lower())
    return "_".join(p for p in out.split("_") if p) or "method"


def verdict_sentence(evaluation: TauEvaluation) -> str:
    """The verdict in one sentence ("The transformer beats NNPuppiTau for 20-60 GeV taus: yes.").

    Without a verdict (the study lacks NNPuppiTau or every transformer) it says so.
    """
    v = evaluation.verdict
    if v is None:
        return "No verdict: the study needs NNPuppiTau and at least one transformer method."
    lo, hi = v.vis_pt
    return f"The transformer beats NNPuppiTau for {lo:g}-{hi:g} GeV taus: {v.answer}."


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """A table: escaped header texts (no header row if None); rows of ready ``<td>`` cells."""
    head = "" if header is None else "<tr>" + "".join(f"<th>{_E(h)}</th>" for h in header) + "</tr>"
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _td(text: str, cls: str = "") -> str:
    attr = f" class='{cls}'" if cls else ""
    return f"<td{attr}>{_E(text)}</td>"


def _pairs(items: Mapping[str, str]) -> str:
    return _table(None, [[_td(k), _td(v)] for k, v in items.items()])


# ---------------------------------------------------------------- page parts


def _header(ev: TauEvaluation, header: Mapping[str, str]) -> str:
    lines = dict(header)
    first = next(iter(ev.ditau.values()), None)
    if first is not None:
        s = first.search
        lines["crossing rate (rate normalisation)"] = describe_crossing_rate(s.crossing_rate_khz)
        lines["target zero-bias rate of the working points"] = f"{s.target_rate_khz:g} kHz"
        lines["zero-bias events (validation / test)"] = (
            f"{s.n_zero_bias} / {first.test.rate.n_total}"
        )
        lines["di-tau signal events (validation / test)"] = (
            f"{s.n_signal} / {first.test.efficiency.total}"
        )
        cl = first.test.efficiency.cl
        lines["intervals"] = (
            f"{100 * cl:.2f} % Clopper-Pearson (efficiencies, rates), Garwood (fake counts)"
        )
    lines["splits"] = (
        "working points chosen on the validation split; every number quoted on the test split"
    )
    return _pairs(lines)


def _verdict(ev: TauEvaluation) -> str:
    out = f"<p class='verdict'><b>{_E(verdict_sentence(ev))}</b></p>"
    v = ev.verdict
    if v is not None:
        per = "; ".join(f"{m}: {c}" for m, c in v.per_method.items())
        out += f"<p>{_E(v.text)}.</p><p>Per clustering against NNPuppiTau: {_E(per)}.</p>"
        out += (
            "<p>Rule: a method beats another when their efficiency intervals are separated "
            "(the lower end of one above the upper end of the other); otherwise the difference "
            "is not resolved at this statistics.</p>"
        )
    return out


def _comparison(ev: TauEvaluation) -> str:
    by_label: dict[str, DiTauResult] = {d.label: d for d in ev.ditau.values()}
    first = next(iter(ev.ditau.values()), None)
    rate = f"{first.search.target_rate_khz:g} kHz" if first is not None else "the target rate"
    lo, hi = ev.verdict.vis_pt if ev.verdict is not None else (math.nan, math.nan)
    beats = f"taus of {lo:g}-{hi:g} GeV" if ev.verdict is not None else "the verdict's taus"
    header = [
        "method",
        f"di-tau efficiency at {rate} (test)",
        f"di-tau efficiency, {beats} (test)",
        "zero-bias rate (test)",
        "class >",
        "OS charge >",
        "|dvz| < (mm)",
        "zero-bias passing / allowed (validation)",
        "rate measurable",
        "note",
    ]
    rows = []
    for printed, row in zip(ev.table(), ev.rows, strict=True):
        d = by_label.get(row.method)
        nm = "" if row.measurable else "num nm"
        cells = [
            _td(row.method),
            _td(str(printed["di-tau eff."]), nm or "num"),
            _td(_eff_text(d.test_beats_range.efficiency) if d else "–", nm or "num"),
            _td(str(printed["rate"]), nm or "num"),
            *(_td(str(printed[k]), "num") for k in ("class >", "OS charge >", "|dvz| < (mm)")),
        ]
        if d is None:
            cells += [_td("– (fixed selection)"), _td("–")]
        else:
            s = d.search
            cells.append(_td(f"{s.best.rate.n_pass} / {s.target_pass}", "num"))
            cells.append(
                _td("yes")
                if s.measurable
                else _td(
                    f"not measurable: {s.expected_pass:.3g} zero-bias events expected at "
                    f"{s.target_rate_khz:g} kHz in {s.n_zero_bias}",
                    "nm",
                )
            )
        cells.append(_td(str(printed["note"])))
        rows.append(cells)
    return _table(header, rows)


def _bin_cell(b: BinnedEff | None, k: int) -> str:
    if b is None or b.total[k] == 0:
        return _td("–")
    e = Efficiency(int(b.passed[k]), int(b.total[k]), b.value[k], b.low[k], b.high[k], b.cl)
    return _td(f"{_eff_text(e)} ({b.passed[k]}/{b.total[k]})", "num")


def _num(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "–"


def _method_tables(me: MethodEvaluation) -> str:
    eff = me.efficiency
    n_taus = int(eff.reco.total.sum())
    summary: dict[str, str] = {
        "identification": f"{me.id_name}, ID score > {eff.id_threshold:g}"
        if eff.id_threshold is not None
        else me.id_name,
        "true taus (test)": str(n_taus),
        "RECO efficiency, all bins": _eff_text(eff.reco.overall) if eff.reco.overall else "–",
        "ID efficiency, all bins": _eff_text(eff.id.overall)
        if eff.id is not None and eff.id.overall
        else "–",
    }
    for name, f in (("RECO", me.fakes_reco), ("ID", me.fakes_id)):
        summary[f"fakes per zero-bias event, {name}"] = _range(*f.per_event)
        r = f.rate
        summary[f"zero-bias events with a fake, {name}"] = (
            f"{_eff_text(f.event_fraction)}: single-tau rate {_range(r.rate_khz, r.low_khz, r.high_khz, ' kHz')}"
        )
    summary["zero-bias events (test)"] = str(me.fakes_reco.binned.n_events)
    summary["charge accuracy, matched taus"] = (
        _eff_text(me.charge.overall) if me.charge is not None else "– (no matched tau)"
    )
    edges = eff.reco.edges
    header = [
        "visible pT (GeV)",
        "RECO efficiency",
        "ID efficiency",
        "median response before / after",
        "resolution before / after",
        "charge accuracy",
    ]
    rows = []
    resp, charge = me.response, me.charge
    for k in range(edges.size - 1):
        if resp is None:
            med = width = "–"
        else:
            b, a = resp.before, resp.after
            med = f"{_num(b.median[k])} / {_num(a.median[k])}"
            width = f"{_num(b.rel_width[k])} / {_num(a.rel_width[k])}"
        rows.append(
            [
                _td(f"{edges[k]:g}-{edges[k + 1]:g}"),
                _bin_cell(eff.reco, k),
                _bin_cell(eff.id, k),
                _td(med, "num"),
                _td(width, "num"),
                _bin_cell(charge.binned if charge is not None else None, k),
            ]
        )
    return _pairs(summary) + _table(header, rows)


def _timings(timings: Mapping[str, float]) -> str:
    lines = {str(k): f"{float(v):.1f} s" for k, v in timings.items()}
    lines["total"] = f"{float(np.sum([float(v) for v in timings.values()])):.1f} s"
    return _pairs(lines)


_DEFINITIONS = (
    "<h2>Definitions</h2><ul>"
    "<li>RECO: every candidate of the clustering (CLUE, anti-kT R = 0.4, NNPuppiTau cones), no ID; "
    "a true hadronic tau is found when a candidate lies within dR &lt; 0.2 of its visible "
    "direction. ID: the matched candidate's ID score is above the ID threshold.</li>"
    "<li>Fakes per zero-bias event: candidates (passing the ID for ID) per zero-bias test "
    "event; every such candidate is a fake.</li>"
    "<li>Di-tau working point: an event passes when two of its candidates have class scores "
    "above the class threshold, an opposite-sign probability above the charge threshold and "
    "|vz1 - vz2| below the cut. The grid search on the validation split keeps the point of "
    "highest total di-tau efficiency whose zero-bias rate is at most the target; its "
    "efficiency and rate are then measured on the test split, where the rate may exceed the "
    "target by its statistical fluctuation.</li>"
    "<li>Rate: zero-bias events passing / zero-bias events x the crossing rate. Not measurable: "
    "fewer zero-bias events expected at the target rate than the study requires.</li>"
    "<li>Response: regressed (after) or candidate (before) pT over the visible pT of the matched "
    "tau; resolution: half the 15.87-84.13 % interquantile range over the median.</li>"
    "<li>Charge accuracy: the predicted charge (+1 when the charge score is at least 0.5) equals "
    "the true tau's.</li></ul>"
)


def _page(
    ev: TauEvaluation,
    header: Mapping[str, str],
    timings: Mapping[str, float] | None,
    summary_plot: Path | None,
    method_plots: Mapping[str, Sequence[tuple[str, Path]]],
) -> str:
    config = header.get("config")
    title = "l1scout soft-tau study" + (f": {config}" if config else "")
    parts = [
        *page_head(title, _CSS),
        f"<h1>{_E(title)}</h1>",
        f"<p>Made by l1scout {_E(__version__)}.</p>",
        _header(ev, header),
        "<h2>Verdict</h2>",
        _verdict(ev),
        "<h2>Di-tau working points</h2>",
        _comparison(ev),
    ]
    if summary_plot is not None:
        parts.append(figure_html("Di-tau efficiency at the target rate", summary_plot.name))
    for key, me in ev.methods.items():
        parts += [f"<h2>{_E(key)} candidates, {_E(me.id_name)}</h2>", _method_tables(me)]
        parts += [figure_html(t, p.name) for t, p in method_plots.get(key, ())]
    if timings:
        parts += ["<h2>Wall time per stage</h2>", _timings(timings)]
    parts += [_DEFINITIONS, "</body></html>"]
    return "\n".join(parts) + "\n"


def _draw(ev: TauEvaluation, out: Path) -> tuple[Path | None, dict[str, list[tuple[str, Path]]]]:
    """Every plot into *out*: the di-tau summary, and per method its efficiency and response."""
    per: dict[str, list[tuple[str, Path]]] = {}
    used: set[str] = set()
    with plot_style():
        summary = plot_ditau(ev, out / "ditau.png")
        for key, me in ev.methods.items():
            slug, i = _slug(key), 1
            while slug in used:
                i += 1
                slug = f"{_slug(key)}_{i}"
            used.add(slug)
            drawn = [
                (
                    f"{key}: RECO and ID efficiency vs visible pT; fakes per zero-bias event",
                    plot_efficiency(me, out / f"efficiency_{slug}.png"),
                )
            ]
            resp = plot_response(me, out / f"response_{slug}.png")
            if resp is not None:
                drawn.append((f"{key}: pT response and resolution before and after", resp))
            per[key] = drawn
    return summary, per


def write_tau_report(
    evaluation: TauEvaluation,
    out_dir: Path,
    *,
    header: Mapping[str, str] | None = None,
    timings: Mapping[str, float] | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and its PNG plots (module docstring).

    Args:
        evaluation: from :func:`~l1scout.tasks.taus.study.evaluate_tau_models`.
        out_dir: the output folder (created; files of the same names replaced).
        header: lines shown first (name -> value), e.g. ``config``, ``data``;
            a ``config`` entry also titles the page.
        timings: stage -> wall time (s), shown with their total.

    Returns:
        The path of ``out_dir/report.html``.

    Raises:
        ConfigError: ``out_dir`` cannot be created or written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        summary, per = _draw(evaluation, out)
        page = _page(evaluation, dict(header or {}), timings, summary, per)
        path = atomic_write_bytes(out / REPORT_NAME, page.encode("utf-8"))
    except OSError as exc:
        msg = f"cannot write the soft-tau report into {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("soft-tau report: %s", path)
    return path
