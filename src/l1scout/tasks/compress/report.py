"""The compression report: one HTML page with the rate-distortion picture, the goal and every codec.

:func:`write_compress_report` turns the measured codec settings
(:class:`~l1scout.tasks.compress.results.CodecPoint`) into
``out_dir/report.html`` with its plots in ``out_dir/plots/``:

* **setup**: the configuration, the samples and their parts, what one event
  holds, the dataset hash;
* **the goal**: HT and MET resolution <= 5 % at >= 10x fewer bytes per event
  than float16 Parquet + zstd, met or not, with the cheapest codec that
  reaches the resolution (:func:`~l1scout.tasks.compress.frontier.goal_check`);
* **codecs**: every setting with its stored bytes per event (files on disk;
  per process, and the particle / object split where the codec measures it),
  encode and decode times, and its main measures;
* **best codec per budget**: for each byte budget and main measure the best
  setting that fits;
* **where the learned codecs lose to quantization**: each learned setting a
  quantized setting matches or beats at no more bytes, per measure;
* **rate-distortion plots**: one per measure, bytes per event on a log axis,
  every family with its own marker (:mod:`._report_plots`);
* **fidelity per process**: median response and resolution of HT, MET and
  the leading jets;
* **downstream usefulness**: the downstream measures on the original test
  events and each codec's ratios;
* **deployability**: each encoder's ONNX parity, throughput (events/s) and
  the cores a 40 MHz stream needs, its operation count;
* **training** and the wall time of each stage.

Every string is HTML-escaped; the page is written atomically
(:func:`l1scout._files.atomic_write_bytes`).

Example:
    >>> _num(0.012345), _num(float("nan")), _num(1234567.0)
    ('0.0123', 'n/a', '1.23e+06')
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from l1scout._files import atomic_write_bytes
from l1scout._html import REPORT_CSS, figure_html, html_pairs, html_table, page_head, plot_style
from l1scout._version import __version__
from l1scout.tasks.compress.frontier import (
    GoalCheck,
    Loss,
    RDPoint,
    cheapest_match,
    pareto_front,
    points_of,
)
from l1scout.tasks.compress.results import MEASURES, CodecPoint, measure_better

if TYPE_CHECKING:
    from l1scout.tasks.compress.config import CompressConfig

__all__ = ["MAIN_MEASURES", "REPORT_NAME", "measure_keys", "write_compress_report"]

#: The page's file name in the output folder.
REPORT_NAME = "report.html"
#: The measures of the codec and budget tables (the downstream ones are added as measured).
MAIN_MEASURES: tuple[str, ...] = (
    "resolution/ht",
    "resolution/met",
    "resolution/jet1_pt",
    "distance/pt",
)
_CSS = REPORT_CSS + "\np.note { color: #555; }\np.met { font-weight: bold; }\n"
_E = html.escape
_QUANTITIES = ("ht", "met", "jet1_pt", "jet2_pt")


def _num(x: float) -> str:
    """A number with 3 significant digits; ``n/a`` when not finite."""
    return f"{x:.3g}" if isinstance(x, int | float) and math.isfinite(x) else "n/a"


def measure_keys(points: Sequence[CodecPoint]) -> list[str]:
    """The plotted measures: :data:`~l1scout.tasks.compress.results.MEASURES` present, then every downstream one."""
    have = {k for p in points for k in p.aggregate()}
    keys = [m.key for m in MEASURES if m.key in have]
    return keys + sorted(k for k in have if k.startswith("downstream/"))


def _title(key: str) -> str:
    for m in MEASURES:
        if m.key == key:
            return m.title
    return key.removeprefix("downstream/").replace("_", " ") + " (worst signal)"


def _setup(
    config: CompressConfig | None, counts: Mapping[str, Mapping[str, int]], digest: str
) -> str:
    lines: dict[str, str] = {}
    if config is not None:
        d = config.data
        lines["configuration"] = config.name
        lines["samples"] = (
            ", ".join(f"{r.process} ({r.events:,})" for r in (d.zero_bias, *d.processes))
            + f"; pileup {d.pileup:g}, L1T view"
        )
        fr = config.splits.fractions
        lines["parts of every sample"] = (
            f"{fr[0]:g} training, {fr[1]:g} validation (early stopping), {fr[2]:g} test "
            "(every measure; stable hash of file and Event_Number)"
        )
        lines["one event"] = (
            f"the {d.candidates} highest-pT L1T PUPPI candidates (pT, eta, phi, type, charge, "
            "z0, PUPPI weight; d0 is not stored by the lossy codecs) and the trigger objects "
            "(muons, e/gamma, jets, MET, HT)"
        )
    for process, parts in counts.items():
        lines[f"events: {process}"] = ", ".join(f"{k} {v:,}" for k, v in parts.items())
    if digest:
        lines["dataset hash"] = digest
    return html_pairs(lines)


def _goal(goal: GoalCheck) -> str:
    cls = "met" if goal.met else "note"
    out = f"<p class={cls}>{_E(goal.text())}</p>"
    if goal.passing:
        out += f"<p>Within the budget: {_E(', '.join(goal.passing))}.</p>"
    return out


def _codec_rows(points: Sequence[CodecPoint], keys: Sequence[str]) -> str:
    processes = list(dict.fromkeys(p for pt in points for p in pt.bytes_by_process))
    header = [
        "codec",
        "family",
        "lossless",
        "bytes/event",
        *(f"bytes/event {p}" for p in processes),
        "particles / objects",
        "encode (s)",
        "decode (s)",
        *keys,
    ]
    rows = []
    for p in points:
        agg = p.aggregate()
        split = "n/a"
        if "particle_bytes_per_event" in p.params or "object_bytes_per_event" in p.params:
            split = (
                f"{_num(float(p.params.get('particle_bytes_per_event', math.nan)))} / "
                f"{_num(float(p.params.get('object_bytes_per_event', math.nan)))}"
            )
        rows.append(
            [
                p.label,
                p.family,
                "yes" if p.lossless else "no",
                _num(p.bytes_per_event),
                *(_num(p.bytes_by_process.get(q, math.nan)) for q in processes),
                split,
                f"{p.seconds_encode:.2f}",
                f"{p.seconds_decode:.2f}",
                *(_num(agg.get(k, math.nan)) for k in keys),
            ]
        )
    note = (
        "<p class=note>Bytes per event: the payload files written for the test events of every "
        "process, sizes from the file system, divided by the events (per process: that "
        "process's file). Particles / objects: the learned codecs' split of their payload. "
        "Resolutions and distances: the worst process; downstream: the worst signal.</p>"
    )
    return html_table(header, rows) + note


def _best(best: Mapping[str, Sequence[tuple[float, RDPoint | None]]], keys: Sequence[str]) -> str:
    keys = [k for k in keys if k in best]
    if not keys:
        return "<p>No measure.</p>"
    budgets = [b for b, _ in best[keys[0]]]
    rows = []
    for i, budget in enumerate(budgets):
        cells = [f"<= {budget:g}"]
        for k in keys:
            p = best[k][i][1]
            cells.append("none fits" if p is None else f"{p.label} ({_num(p.value)})")
        rows.append(cells)
    return html_table(["bytes/event", *keys], rows)


def _matches(
    points: Sequence[CodecPoint], learned: Sequence[CodecPoint], keys: Sequence[str]
) -> str:
    """Per learned setting and measure: the fewest bytes quantization needs to be at least as good."""
    rows = [p.row() for p in points]
    out = []
    for p in learned:
        agg = p.aggregate()
        for key in keys:
            if key not in agg:
                continue
            q = cheapest_match(rows, p.label, key, measure_better(key))
            match = (
                "no quantized setting is as good"
                if q is None
                else f"{q.label}: {_num(q.bytes_per_event)} B ({_num(q.bytes_per_event / p.bytes_per_event)}x), {_num(q.value)}"
            )
            out.append([p.label, key, f"{_num(p.bytes_per_event)} B: {_num(agg[key])}", match])
    head = (
        "<p>What plain quantization needs, at any size, to be at least as good as each learned "
        "setting (the fewest bytes of the scan; the ratio to the learned setting's bytes):</p>"
    )
    return head + html_table(
        ["learned", "measure", "its bytes: value", "quantization that matches"], out
    )


def _losses(
    losses: Sequence[Loss], points: Sequence[CodecPoint], keys: Sequence[str] = MAIN_MEASURES
) -> str:
    learned = [p for p in points if p.family in ("set_ae", "vicreg")]
    if not learned:
        return "<p>No learned codec in this run.</p>"
    matches = _matches(points, learned, keys)
    if not losses:
        return (
            "<p>No learned setting is matched by a quantized setting at no more bytes on any "
            "measure.</p>" + matches
        )
    rows = [
        [
            x.measure,
            x.learned,
            f"{_num(x.learned_bytes)} B: {_num(x.learned_value)}",
            x.quantized,
            f"{_num(x.quantized_bytes)} B: {_num(x.quantized_value)}",
        ]
        for x in losses
    ]
    n = len({x.learned for x in losses})
    head = (
        f"<p>{n} of {len(learned)} learned settings lose on at least one measure to plain "
        "quantization: a quantized setting at no more bytes per event is at least as good.</p>"
    )
    header = ["measure", "learned", "its bytes: value", "quantized", "its bytes: value"]
    return head + html_table(header, rows) + matches


def _fidelity(points: Sequence[CodecPoint]) -> str:
    processes = list(dict.fromkeys(p for pt in points for p in pt.fidelity))
    parts = []
    for process in processes:
        rows = []
        for p in points:
            m = p.fidelity.get(process)
            if not m:
                continue
            cells = [
                f"{_num(m.get(f'response/{q}', math.nan))} / "
                f"{_num(m.get(f'resolution/{q}', math.nan))}"
                for q in _QUANTITIES
            ]
            rows.append([p.label, *cells])
        if rows:
            header = ["codec", *(f"{q}: median / resolution" for q in _QUANTITIES)]
            parts.append(f"<h3>{_E(process)}</h3>" + html_table(header, rows))
    note = (
        "<p class=note>Recomputed from the decoded PUPPI candidates (pT x PUPPI weight; anti-kT "
        "R = 0.4 jets; HT: jets above 30 GeV within |eta| < 2.4) against the same from the "
        "original candidates; median of decoded / original, resolution half its 16-84 % "
        "width; events below the floors left out.</p>"
    )
    return "".join(parts) + note if parts else "<p>No decoded events.</p>"


def _downstream(points: Sequence[CodecPoint], original: Mapping[str, float]) -> str:
    out = ""
    if original:
        out += "<h3>On the original test events</h3>" + html_pairs(
            {k: _num(v) for k, v in original.items()}
        )
    keys = sorted({k for p in points for k in p.downstream})
    if not keys:
        return out + "<p>No downstream measure.</p>"
    rows = [[p.label, *(_num(p.downstream.get(k, math.nan)) for k in keys)] for p in points]
    return out + "<h3>Relative to the original events</h3>" + html_table(["codec", *keys], rows)


def _deploy(deploy: Sequence[Mapping[str, Any]]) -> str:
    if not deploy:
        return "<p>No encoder deployed in this run.</p>"
    keys = list(dict.fromkeys(k for d in deploy for k in d))
    rows = [
        [str(d.get(k, "")) if not isinstance(d.get(k), float) else _num(d[k]) for k in keys]
        for d in deploy
    ]
    return html_table(keys, rows)


def _training(training: Mapping[str, Mapping[str, Any]]) -> str:
    if not training:
        return "<p>No model trained in this run.</p>"
    keys = list(dict.fromkeys(k for t in training.values() for k in t))
    rows = [
        [name, *(_num(v) if isinstance(v := t.get(k), float) else str(v) for k in keys)]
        for name, t in training.items()
    ]
    return html_table(["model", *keys], rows)


def _file_stem(key: str) -> str:
    """A plot's file name from a measure key.

    >>> _file_stem("resolution/ht")
    'rd_resolution_ht'
    """
    return "rd_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


def _plots(
    points: Sequence[CodecPoint],
    keys: Sequence[str],
    out: Path,
    goal: GoalCheck,
    dpi: int,
) -> str:
    from l1scout.tasks.compress._report_plots import plot_rate_distortion

    rows = [p.row() for p in points]
    parts = []
    with plot_style():
        for key in keys:
            pts = points_of(rows, key)
            front = pareto_front(pts, measure_better(key))
            path = plot_rate_distortion(
                pts,
                front,
                out / "plots" / f"{_file_stem(key)}.png",
                title=f"{key}: {len(pts)} codec settings, test events",
                ylabel=_title(key),
                budget=goal.budget,
                factor=goal.factor,
                goal=goal.goal if key in (goal.ht_key, goal.met_key) else None,
                dpi=dpi,
            )
            if path is not None:
                parts.append(figure_html(_title(key), f"plots/{path.name}"))
    return "".join(parts) or "<p>No measure to plot.</p>"


def write_compress_report(
    points: Sequence[CodecPoint],
    out_dir: Path | str,
    *,
    goal: GoalCheck,
    best: Mapping[str, Sequence[tuple[float, RDPoint | None]]],
    losses: Sequence[Loss] = (),
    deploy: Sequence[Mapping[str, Any]] = (),
    training: Mapping[str, Mapping[str, Any]] | None = None,
    downstream_original: Mapping[str, float] | None = None,
    counts: Mapping[str, Mapping[str, int]] | None = None,
    config: CompressConfig | None = None,
    timings: Mapping[str, float] | None = None,
    dataset_hash: str = "",
) -> Path:
    """Write ``out_dir/report.html`` and its plots (module docstring); returns the page's path.

    Args:
        points: every codec setting measured.
        out_dir: the report's folder (created).
        goal: the goal check.
        best: measure -> the best codec at each budget.
        losses: where learned codecs lose to quantization.
        deploy: per encoder its deployment facts (name -> value).
        training: per trained model its training facts.
        downstream_original: the downstream measures on the original events.
        counts: process -> part -> events.
        config: the run's configuration (setup lines, plot resolution).
        timings: stage -> wall time (s).
        dataset_hash: the samples' hash.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    times = dict(timings or {})
    keys = measure_keys(points)
    main = [
        k for k in (*MAIN_MEASURES, *(k for k in keys if k.startswith("downstream/"))) if k in keys
    ]
    title = f"l1scout compress: {config.name if config else 'codecs'}"
    dpi = config.report.dpi if config is not None else 70
    parts = [
        *page_head(title, _CSS),
        f"<h1>{_E(title)}</h1>",
        f"<p class=note>l1scout {_E(__version__)}</p>",
        "<h2>Setup</h2>",
        _setup(config, counts or {}, dataset_hash),
        "<h2>The goal</h2>",
        _goal(goal),
        "<h2>Codecs</h2>",
        _codec_rows(points, main),
        "<h2>Best codec per byte budget</h2>",
        _best(best, main),
        "<h2>Where the learned codecs lose to quantization</h2>",
        _losses(losses, points, main),
        "<h2>Rate-distortion</h2>",
        _plots(points, keys, out, goal, dpi),
        "<h2>Fidelity per process</h2>",
        _fidelity(points),
        "<h2>Downstream usefulness</h2>",
        _downstream(points, downstream_original or {}),
        "<h2>Deployability</h2>",
        _deploy(deploy),
        "<h2>Training</h2>",
        _training(training or {}),
    ]
    if times:
        rows = [[k, f"{v:.1f}"] for k, v in times.items()]
        rows.append(["total", f"{sum(times.values()):.1f}"])
        parts += ["<h2>Stages</h2>", html_table(["stage", "wall time (s)"], rows)]
    parts.append("</body></html>")
    path = out / REPORT_NAME
    atomic_write_bytes(path, ("\n".join(parts) + "\n").encode())
    return path
