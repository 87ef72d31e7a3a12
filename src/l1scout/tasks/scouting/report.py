"""The scouting report: one HTML page with the stream, the menu's rates, overlaps, efficiencies and models.

:func:`write_scouting_report` turns a menu run
(:class:`~l1scout.tasks.scouting.results.MenuResult`) and the stream's facts
(:class:`~l1scout.tasks.scouting.pipeline_results.StreamFacts`) into
``out_dir/report.html``:

* **setup**: the configuration, the filling scheme (2760 colliding bunches of
  3564), the luminosity, the orbits and their files, the PUPPI candidates per
  crossing, the stream's size per orbit (words and MB, per stream), the
  zero-bias reuse factor (crossings per distinct zero-bias event) and the
  injected signal crossings;
* **rates**: per selection the zero-bias rate on the distinct zero-bias
  events (``k / n`` x 2760 x orbit rate, Clopper-Pearson interval), the raw
  rate (passing BXs / evaluated BXs x 3564 x orbit rate) and the passing BXs
  per orbit, the pure rate (events no other selection accepts);
* **overlaps**: the matrix of zero-bias rates of events two selections both
  accept (the diagonal: the selection's own rate);
* **signal efficiencies**: per selection and injected signal, accepted /
  injected distinct events, with intervals;
* **data quality**: skipped BXs, the unpacker's problem counters, bad files;
* **models**: each model's registered version, ONNX parity and training,
  and the working points (anomaly threshold, di-tau cuts) with the
  validation rate they were chosen at;
* **throughput**: orbits per second of the menu stage (files read,
  unpacked, every selection) and per orbit the menu's own stage times
  (``unpack`` and each selection), and the cores that would keep up with the
  real orbit rate (11.246 kHz) at that speed;
* the wall time of each stage.

Every string is HTML-escaped; the page is written atomically
(:func:`l1scout._files.atomic_write_bytes`).

Example:
    >>> from l1scout.tasks.rates import measured_rate
    >>> rate_text(measured_rate(3, 1000, crossing_rate_khz=31038.96))
    '93.1 [42.5, 183]'
    >>> rate_text(None)
    'n/a'
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout._files import atomic_write_bytes
from l1scout._html import REPORT_CSS, html_pairs, html_table, page_head
from l1scout._version import __version__
from l1scout.tasks.rates import Efficiency, MeasuredRate
from l1scout.tasks.scouting.pipeline_results import StreamFacts
from l1scout.tasks.scouting.results import MenuResult
from l1scout.tasks.scouting.words import FILLED_BX, ORBIT_BX, ORBIT_RATE_KHZ

if TYPE_CHECKING:
    from l1scout.tasks.scouting.config import ScoutingConfig
    from l1scout.tasks.scouting.models import ModelsResult

__all__ = ["REPORT_NAME", "rate_text", "write_scouting_report"]

#: The page's file name in the output folder.
REPORT_NAME = "report.html"
_CSS = REPORT_CSS + "\ntd.diag { background: #eef5ff; }\np.note { color: #555; }\n"
_E = html.escape


def rate_text(r: MeasuredRate | None) -> str:
    """A rate in kHz with its interval, 3 significant digits (``n/a``: no zero-bias event)."""
    if r is None:
        return "n/a"
    return f"{r.rate_khz:.3g} [{r.low_khz:.3g}, {r.high_khz:.3g}]"


def _eff_text(e: Efficiency) -> str:
    """An efficiency in percent with its interval and counts."""
    return f"{100 * e.value:.1f} [{100 * e.low:.1f}, {100 * e.high:.1f}] % ({e.passed}/{e.total})"


def _setup(
    menu: MenuResult,
    stream: StreamFacts,
    config: ScoutingConfig | None,
    dataset_hash: str,
) -> str:
    lines: dict[str, str] = {}
    if config is not None:
        lines["configuration"] = config.name
        lines["samples"] = (
            ", ".join(
                f"{p} ({n:,} events)"
                for p, n in [(config.data.zero_bias.process, config.data.zero_bias.events)]
                + [(s.process, s.events) for s in config.data.signals]
            )
            + f"; pileup {config.data.pileup:g}, L1T view"
        )
        fr = config.splits.fractions
        lines["parts of every sample"] = (
            f"{fr[0]:g} training, {fr[1]:g} validation (the models), {fr[2]:g} orbits "
            "(stable hash of file and Event_Number: no event in two parts)"
        )
    lines["filling scheme"] = (
        f"{stream.filling}: {FILLED_BX} colliding bunches of {ORBIT_BX} BXs, "
        f"orbit rate {ORBIT_RATE_KHZ:.4g} kHz"
    )
    lines["luminosity"] = f"{stream.lumi_cm2s:.3g} cm^-2 s^-1"
    lines["orbits"] = f"{stream.n_orbits} in {len(stream.files)} files ({menu.n_orbits} run)"
    lines["PUPPI candidates per crossing"] = f"at most {stream.candidates} (highest pT)"
    per = max(stream.n_orbits, 1)
    words = ", ".join(f"{s} {w / per:,.0f}" for s, w in stream.words.items())
    lines["stream size per orbit"] = (
        f"{stream.words_per_orbit:,.0f} words = {stream.mb_per_orbit:.3f} MB ({words} words)"
    )
    lines["zero bias"] = (
        f"{stream.zero_bias_crossings:,} crossings from {stream.distinct_zero_bias:,} distinct "
        f"events: reuse factor {stream.zero_bias_reuse:.2f}; rates count distinct events"
    )
    if stream.injections:
        lines["injected signal crossings"] = ", ".join(
            f"{k} {v}" for k, v in stream.injections.items()
        )
    lines["intervals"] = f"{100 * menu.cl:.2f} % Clopper-Pearson"
    if dataset_hash:
        lines["dataset hash"] = dataset_hash
    return html_pairs(lines)


def _rates(menu: MenuResult) -> str:
    zb, raw, pure = menu.zero_bias_rates(), menu.raw_rates(), menu.pure_rates()
    per = max(menu.n_orbits, 1)
    rows = []
    for n in menu.selections:
        r = zb[n]
        rows.append(
            [
                n,
                rate_text(r),
                "n/a" if r is None else f"{r.n_pass}/{r.n_total}",
                rate_text(pure[n]),
                "n/a" if raw[n] is None else f"{raw[n]:.3g}",
                f"{menu.raw_pass[n] / per:.2f}",
            ]
        )
    header = [
        "selection",
        "zero-bias rate (kHz)",
        "distinct events",
        "pure rate (kHz)",
        "raw rate (kHz)",
        "passing BXs / orbit",
    ]
    note = (
        "<p class=note>Zero-bias rate: accepted / distinct zero-bias events x "
        f"{FILLED_BX} x orbit rate; raw rate: passing BXs / evaluated BXs x {ORBIT_BX} x "
        "orbit rate (every BX, injected signals included; no interval: a reused zero-bias "
        "event is counted once per crossing, so the crossings are not independent trials); "
        "pure: accepted by no other selection.</p>"
    )
    return html_table(header, rows) + note


def _overlaps(menu: MenuResult) -> str:
    names = menu.selections
    over = menu.overlaps()
    zb = menu.zero_bias_rates()
    rows = []
    for a in names:
        cells = [f"<td>{_E(a)}</td>"]
        for b in names:
            if a == b:
                cells.append(f"<td class='num diag'>{_E(rate_text(zb[a]))}</td>")
            else:
                r = over.get((a, b), over.get((b, a)))
                cells.append(f"<td class=num>{_E(rate_text(r))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr><th></th>" + "".join(f"<th>{_E(n)}</th>" for n in names) + "</tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _efficiencies(menu: MenuResult) -> str:
    effs = menu.efficiencies()
    signals = menu.signals
    if not signals:
        return "<p>No injected signal in the orbits run.</p>"
    rows = [[n, *(_eff_text(effs[n, s]) for s in signals)] for n in menu.selections]
    return html_table(["selection", *signals], rows)


def _quality(menu: MenuResult) -> str:
    lines = {
        "BXs evaluated": f"{menu.n_bx:,} of {ORBIT_BX * menu.n_orbits:,}",
        "skipped BXs": f"{menu.skipped_bx:,}",
    }
    for k, v in sorted(menu.problems.items()):
        lines[f"unpacker: {k}"] = f"{v:,}"
    lines["bad files"] = str(len(menu.bad_files))
    out = html_pairs(lines)
    if menu.bad_files:
        out += html_table(["file", "reason"], [list(b) for b in menu.bad_files])
    return out


def _cut(what: str, value: float, unit: str = "") -> str:
    """One cut of a working point; an infinite one is "no cut".

    >>> _cut("tau score >", float("-inf")), _cut("|dvz| <", 10.0, " mm")
    ('no tau score cut', '|dvz| < 10 mm')
    """
    if math.isinf(value):
        return f"no {what.rstrip(' <>')} cut"
    return f"{what} {value:.3g}{unit}"


def _models(models: ModelsResult | None) -> str:
    if models is None:
        return "<p>No models stage ([models] train = false): the menu's models ran as given.</p>"
    rows = [
        [
            c.kind,
            c.registered or "not registered",
            f"{c.max_diff:.2g} (<= {c.tolerance:.0e}: {'ok' if c.ok else 'FAILED'}) on {c.compared}",
            f"{c.train_seconds:.1f} s, best epoch {c.best_epoch}",
        ]
        for c in (models.anomaly, models.ditau)
    ]
    out = html_table(["model", "registered", "ONNX vs torch", "training"], rows)
    t = models.anomaly_threshold
    b = models.ditau_search.best
    s = models.ditau_search
    points = {
        "anomaly": (
            f"score > {t.threshold:.4g}: {t.n_pass} of {t.n_total} validation zero-bias events "
            f"= {t.rate_measured_khz:.3g} [{t.rate_low_khz:.3g}, {t.rate_high_khz:.3g}] kHz "
            f"(target {t.rate_khz:g} kHz{'' if t.measurable else ', not measurable at this size'})"
        ),
        "ditau": (
            f"{_cut('tau score >', b.class_threshold)}, "
            f"{_cut('opposite-sign probability >', b.charge_threshold)}, "
            f"{_cut('|dvz| <', b.dvz_cut, ' mm')}: validation efficiency "
            f"{_eff_text(b.efficiency)}, {b.rate.n_pass} of {b.rate.n_total} zero-bias events "
            f"= {b.rate.rate_khz:.3g} kHz (target {s.target_rate_khz:g} kHz"
            f"{'' if s.measurable else ', not measurable at this size'})"
        ),
    }
    events = "; ".join(
        f"{k}: {v.get('train', 0)} training, {v.get('validation', 0)} validation"
        for k, v in models.events.items()
    )
    points["events"] = events
    return out + html_pairs(points)


def _selected(menu: MenuResult, rows: int) -> str:
    sel = menu.selected
    n = len(sel["orbit"]) if "orbit" in sel else 0
    if rows == 0 or n == 0:
        return f"<p>{n:,} selected BXs (menu/selected.parquet).</p>"
    head = ["orbit", "bx", "sample", "event", "injected", *menu.selections]
    body = [
        [
            str(sel["orbit"][i]),
            str(sel["bx"][i]),
            str(sel["sample"][i]),
            str(sel["event"][i]),
            "yes" if sel["injected"][i] else "",
            *("x" if sel[s][i] else "" for s in menu.selections),
        ]
        for i in range(min(rows, n))
    ]
    more = f"the first {min(rows, n)} of {n:,}" if n > rows else f"all {n:,}"
    return f"<p>{more} (menu/selected.parquet; a table per selection beside it)</p>" + html_table(
        head, body
    )


def _throughput(menu: MenuResult, timings: Mapping[str, float], engine: str) -> str:
    seconds = timings.get("menu", 0.0)
    lines: dict[str, str] = {}
    per = max(menu.n_orbits, 1)
    if seconds > 0 and menu.n_orbits:
        lines["whole menu stage"] = (
            f"{menu.n_orbits / seconds:.3g} orbits/s wall on the {engine!r} engine "
            f"({seconds:.1f} s for {menu.n_orbits} orbits, files read and models loaded)"
        )
    busy = sum(menu.seconds.values()) / per  # one core's seconds per orbit, every stage
    if busy > 0:
        lines["one core"] = (
            f"{1 / busy:.3g} orbits/s (unpack and every selection, {1000 * busy:.1f} ms per "
            f"orbit): {ORBIT_RATE_KHZ * 1000 * busy:,.0f} cores would keep up with "
            f"{ORBIT_RATE_KHZ * 1000:,.0f} orbits/s"
        )
    for k, v in menu.seconds.items():
        ms = 1000 * v / per
        speed = f"{per / v:,.0f} orbits/s" if v > 0 else "n/a"
        lines[f"per orbit: {k}"] = f"{ms:.2f} ms ({speed})"
    note = (
        "<p class=note>Measured in this run on this machine (the first orbit of each process "
        "includes loading the compiled kernels and the ONNX sessions); benchmarks/scouting.py "
        "measures the unpacker alone at the full occupancy and the menu stage by stage.</p>"
    )
    return html_pairs(lines) + note


def write_scouting_report(
    menu: MenuResult,
    stream: StreamFacts,
    out_dir: Path | str,
    *,
    models: ModelsResult | None = None,
    config: ScoutingConfig | None = None,
    timings: Mapping[str, float] | None = None,
    dataset_hash: str = "",
) -> Path:
    """Write ``out_dir/report.html`` (module docstring); returns its path.

    Args:
        menu: the menu run's merged result.
        stream: the orbits it ran on.
        out_dir: the report's folder (created).
        models: the models stage, if any.
        config: the run's configuration (the setup lines), if any.
        timings: stage -> wall time (s); ``menu`` gives the throughput.
        dataset_hash: the samples' hash.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    times = dict(timings or {})
    title = f"l1scout scouting: {config.name if config else 'menu'}"
    parts = [
        *page_head(title, _CSS),
        f"<h1>{_E(title)}</h1>",
        f"<p class=note>l1scout {_E(__version__)}</p>",
        "<h2>Setup</h2>",
        _setup(menu, stream, config, dataset_hash),
        "<h2>Rates</h2>",
        _rates(menu),
        "<h2>Overlaps (zero-bias rate of events both accept, kHz)</h2>",
        _overlaps(menu),
        "<h2>Signal efficiencies (injected distinct events)</h2>",
        _efficiencies(menu),
        "<h2>Selected BXs</h2>",
        _selected(menu, config.report.bx_rows if config else 20),
        "<h2>Skipped BXs and bad files</h2>",
        _quality(menu),
        "<h2>Models and working points</h2>",
        _models(models),
        "<h2>Throughput</h2>",
        _throughput(menu, times, config.engine.kind if config is not None else "single"),
    ]
    if times:
        rows = [[k, f"{v:.1f}"] for k, v in times.items()]
        rows.append(["total", f"{sum(times.values()):.1f}"])
        parts += ["<h2>Stages</h2>", html_table(["stage", "wall time (s)"], rows)]
    parts.append("</body></html>")
    path = out / REPORT_NAME
    atomic_write_bytes(path, ("\n".join(parts) + "\n").encode())
    return path
