"""The re-calibration report: the seed's tables, the improvement per target, plots, one HTML page.

Tables come in three renderings: markdown (:func:`rmse_markdown`,
:func:`ops_markdown`, for notes and docs), rich tables for the command line
(:func:`rmse_rich`, :func:`ops_rich`) and HTML (the page). :func:`write_report`
writes, into the study's output folder:

* ``plots/``: histograms of the L1 and the corrected values minus the offline
  ones per target (seed Figure 11, first row; pT as ``(pT - pT_reco) / pT_reco``
  with the corrected ``pT = pT_L1 / (1 - r)``, :mod:`~l1scout.tasks.recalib.metrics`),
  offline against L1 and against the corrected values (pT, eta, phi; second
  row), the tuning curves (Figures 12-13) and the networks' training curves;
* ``results.json``: every number of the page;
* ``index.html``: the page, written last and atomically (a temporary name,
  then a rename), so an ``index.html`` that exists is complete. It ends with
  the wall-clock time of every stage of the study and of the whole study.

Plots use matplotlib's Agg backend (set inside the functions) and the mplhep
CMS style.

Example:
    >>> from l1scout.tasks.recalib.metrics import rmse_table
    >>> t = rmse_table("muon", ("dphi",), np.array([0.2, -0.2]), {"NN 32x3": np.array([0.1, -0.1])})
    >>> print(rmse_markdown(t))
    | model | phi | phi vs L1 |
    |---|---|---|
    | L1 (no correction) | 0.2 |  |
    | NN 32x3 | 0.1 | -50.0% |
    <BLANKLINE>
    RMS over the 2 test muons of: phi: phi - phi_reco, wrapped into [-pi, pi) (rad).
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from l1scout._files import atomic_write_bytes
from l1scout._html import figure_html, json_safe, page_head, plot_style, save_png
from l1scout._types import F64
from l1scout._version import __version__
from l1scout.errors import ConfigError
from l1scout.tasks.recalib.metrics import (
    PT_TARGET,
    UNCORRECTED,
    RMSETable,
    column_label,
    corrected_pt,
    correction_errors,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from rich.table import Table

    from l1scout.tasks.recalib.dataset import RegressionData
    from l1scout.tasks.recalib.krr import TuningCurve
    from l1scout.tasks.recalib.ops import OpsRow
    from l1scout.tasks.recalib.results import ModelResult, StudyResult

__all__ = [
    "SEED_RMSE",
    "corrected_values",
    "ops_markdown",
    "ops_rich",
    "plot_model",
    "report_files",
    "rmse_markdown",
    "rmse_rich",
    "write_report",
]

_log = logging.getLogger(__name__)


#: The seed's Table 7 (real 2017-18 zero-bias muons): label -> (phi, eta, pT/pT_reco - 1);
#: its network rows do not say which loss and L2 they used (its best network is 128x4,
#: log-cosh, L2 1e-5).
SEED_RMSE: dict[str, tuple[float, float, float]] = {
    UNCORRECTED: (0.499, 0.032, 0.493),
    "NN 128x4": (0.136, 0.030, 0.259),
    "NN 32x3": (0.136, 0.030, 0.274),
    "Nystrom KRR, Gaussian, M=500": (0.136, 0.030, 0.270),
    "Nystrom KRR, Gaussian, M=100": (0.137, 0.030, 0.304),
    "Nystrom KRR, linear, M=100": (0.173, 0.031, 0.288),
    "Nystrom KRR, polynomial deg 5, M=100": (0.138, 0.030, 0.272),
}

_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; }
th { background: #eee; }
td.num { text-align: right; font-family: monospace; }
td.good { color: #066; } td.bad { color: #a00; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.3em 0 1em; }
"""


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.4g}"


def _gain(value: float) -> str:
    """An RMSE change in percent: negative = lower RMSE than uncorrected."""
    return f"{-value * 100:+.1f}%"


def _rows(table: RMSETable) -> list[list[str]]:
    out = []
    for label, values in table.rows:
        cells = [label, *(_fmt(v) for v in values)]
        if label == UNCORRECTED:
            cells += [""] * len(values)
        else:
            gains = table.improvement(label)
            cells += [_gain(gains[t]) for t in table.targets]
        out.append(cells)
    return out


def _header(table: RMSETable) -> list[str]:
    return ["model", *table.columns, *(f"{c} vs L1" for c in table.columns)]


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def rmse_markdown(table: RMSETable) -> str:
    """The RMSE table (seed Table 7 form) with the change against the uncorrected row, in markdown.

    The caption below the table says what each column is the RMS of.
    """
    return _markdown(_header(table), _rows(table)) + "\n\n" + table.caption


def _ops_cells(row: OpsRow) -> list[str]:
    return [
        row.dataset,
        row.label,
        f"{row.inputs} -> {row.outputs}" if row.inputs else "",
        f"{row.macs:,}",
        f"{row.flops:,}",
        f"{row.params:,}",
        f"{row.seed:,}" if row.seed is not None else "",
        row.seed_note,
    ]


_OPS_HEADER = [
    "dataset",
    "model",
    "D -> T",
    "MACs",
    "FLOPs",
    "parameters",
    "seed Table 8",
    "how the seed counted",
]
#: What the operations table's columns are.
OPS_CAPTION = (
    "MACs: multiply-accumulates (networks: the dense layers, D H + (N_l - 1) H^2 + H T for "
    "N_l hidden layers of H; kernel models: M (D + T), the distance or dot product per centre "
    "and the product with alpha). FLOPs: every operation (exp counted as one). 'seed Table 8': "
    "the seed's approximate figure for the same structure on its 4 inputs and 3 outputs; its "
    "network figures are H (D + N_l H + T), one H x H layer more than its networks have, and "
    "its kernel figures are M D (M = 500) and M T (M = 100)."
)


def ops_markdown(rows: Sequence[OpsRow]) -> str:
    """The operations-per-inference table (seed Table 8 form) in markdown."""
    return _markdown(_OPS_HEADER, [_ops_cells(r) for r in rows])


def rmse_rich(table: RMSETable, title: str | None = None) -> Table:
    """The RMSE table as a rich table for the terminal."""
    from rich.table import Table

    out = Table(
        title=title or f"{table.kind} RMSE (test split, {table.events} objects)",
        caption=table.caption,
    )
    for i, name in enumerate(_header(table)):
        out.add_column(name, justify="left" if i == 0 else "right", style="bold" if i == 0 else "")
    for cells in _rows(table):
        out.add_row(*cells)
    return out


def ops_rich(rows: Sequence[OpsRow]) -> Table:
    """The operations table as a rich table for the terminal."""
    from rich.table import Table

    out = Table(title="operations per inference", caption=OPS_CAPTION)
    for i, name in enumerate(_OPS_HEADER):
        out.add_column(name, justify="left" if i == 0 else "right")
    for r in rows:
        out.add_row(*_ops_cells(r))
    return out


# ---------------------------------------------------------------- physical values


def corrected_values(
    data: RegressionData, split: str, residual: npt.ArrayLike, *, pt_cap: float | None = None
) -> dict[str, F64]:
    """Physical values implied by L1 inputs and residuals: ``pt``, ``eta``, ``phi`` where available.

    ``pT = pT_L1 / (1 - min(dpt_over_pt, pt_cap))`` (:func:`~l1scout.tasks.recalib.metrics.corrected_pt`,
    inverting ``(pT_reco - pT_L1) / pT_reco``), ``eta = eta_L1 + deta``,
    ``phi = phi_L1 + dphi`` wrapped to [0, 2 pi). With the true residuals these
    are the offline values; with predicted ones, the corrected L1 values.

    Raises:
        ConfigError: a (capped) pT residual of 1 or more.
    """
    r = np.asarray(residual, dtype=np.float64)
    x = data.x_physical[split]
    names, targets = data.feature_names, data.target_names
    out: dict[str, F64] = {}
    pairs = (("pt", PT_TARGET), ("eta", "deta"), ("phi", "dphi"))
    for feature, target in pairs:
        if feature not in names or target not in targets:
            continue
        l1 = x[:, names.index(feature)]
        res = r[:, targets.index(target)]
        if feature == "pt":
            out[feature] = corrected_pt(l1, res, pt_cap)
        elif feature == "eta":
            out[feature] = l1 + res
        else:
            out[feature] = np.mod(l1 + res, 2 * np.pi)
    return out


# ---------------------------------------------------------------- plots


def _figure(nrows: int, ncols: int, size: float = 6.0) -> tuple[Figure, npt.NDArray[Any]]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * 0.85 * nrows), squeeze=False
    )
    fig.subplots_adjust(wspace=0.5, hspace=0.45, left=0.1, right=0.97, top=0.9, bottom=0.18)
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    return save_png(fig, path, dpi=60)


_AXIS = {PT_TARGET: r"$(p_T - p_T^{reco})/p_T^{reco}$", "deta": r"$\eta - \eta^{reco}$"}
_AXIS["dphi"] = r"$\phi - \phi^{reco}$ [rad]"
_QUANTITY = {
    "pt": (r"$p_T$ [GeV]", False),
    "eta": (r"$\eta$", False),
    "phi": (r"$\phi$ [rad]", True),
}


def _plot_errors(
    data: RegressionData,
    predictions: list[tuple[str, F64]],
    path: Path,
    pt_cap: float | None = None,
) -> Path:
    targets, kind = data.target_names, data.kind
    true = data.residual["test"]
    fig, axes = _figure(1, len(targets))
    curves = [(UNCORRECTED, np.zeros_like(true)), *predictions]
    errors = [correction_errors(true, pred, targets, pt_cap=pt_cap) for _, pred in curves]
    for j, target in enumerate(targets):
        ax: Axes = axes[0, j]
        base = errors[0][:, j]
        lo, hi = np.nanpercentile(base, [0.5, 99.5]) if len(base) else (-1.0, 1.0)
        half = max(abs(lo), abs(hi), 1e-6)
        edges = np.linspace(-half, half, 61)
        for k, ((label, _), all_err) in enumerate(zip(curves, errors, strict=True)):
            err = all_err[:, j]
            rmse = float(np.sqrt(np.mean(err**2))) if len(err) else math.nan
            ax.hist(
                np.clip(err, edges[0], edges[-1]),
                bins=edges.tolist(),
                histtype="step",
                lw=2.5 if k == 0 else 1.5,
                color="black" if k == 0 else None,
                label=f"{label} ({rmse:.3g})",
            )
        ax.set_xlabel(_AXIS.get(target, target))
        ax.set_ylabel(f"{kind}s")
        ax.set_title(f"{column_label(target)}: L1 or corrected minus offline", fontsize=13)
        ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def _plot_2d(
    kind: str, data: RegressionData, model: ModelResult, path: Path, pt_cap: float | None
) -> Path | None:
    from matplotlib.colors import LogNorm

    offline = corrected_values(data, "test", data.residual["test"])
    l1 = {q: data.x_physical["test"][:, data.feature_names.index(q)] for q in offline}
    fixed = corrected_values(data, "test", model.test_prediction, pt_cap=pt_cap)
    quantities = [q for q in ("pt", "eta", "phi") if q in offline]
    if not quantities:
        return None
    fig, axes = _figure(2, len(quantities))
    for j, q in enumerate(quantities):
        label, periodic = _QUANTITY[q]
        ref = offline[q]
        finite = np.isfinite(ref)
        if periodic:
            lo, hi = 0.0, 2 * np.pi
        else:
            lo, hi = np.nanpercentile(ref[finite], [0.5, 99.5]) if finite.any() else (0.0, 1.0)
        edges = np.linspace(lo, hi, 51)
        for row, (name, values) in enumerate(((f"L1 {kind}", l1[q]), (model.title, fixed[q]))):
            ax: Axes = axes[row, j]
            ok = finite & np.isfinite(values)
            ax.hist2d(ref[ok], values[ok], bins=[edges, edges], norm=LogNorm(), cmap="viridis")
            ax.plot([lo, hi], [lo, hi], color="red", lw=1)
            ax.set_xlabel(f"offline {label}")
            ax.set_ylabel(f"{'L1' if row == 0 else 'corrected'} {label}")
            ax.set_title(name, fontsize=12)
    return _save(fig, path)


def _plot_curve(curve: TuningCurve, path: Path) -> Path:
    fig, axes = _figure(1, len(curve.rmse))
    for j, (target, values) in enumerate(curve.rmse.items()):
        ax: Axes = axes[0, j]
        ax.plot(curve.values, values, "o-")
        if curve.parameter in ("sigma", "penalty") or max(curve.values) / min(curve.values) > 20:
            ax.set_xscale("log")
        xlabel = {"sigma": r"$\sigma$", "penalty": r"$\lambda$", "centres": "M (centres)"}
        ax.set_xlabel(xlabel.get(curve.parameter, curve.parameter))
        ax.set_ylabel(f"validation RMSE: {target}", fontsize=15)
    fig.suptitle(curve.label, fontsize=13)
    return _save(fig, path)


def _plot_history(models: list[ModelResult], path: Path) -> Path | None:
    nets = [m for m in models if m.history]
    if not nets:
        return None
    fig, axes = _figure(1, 2)
    for m in nets:
        epochs = [h["epoch"] for h in m.history]
        line = axes[0, 0].plot(
            epochs, [h["train_loss"] for h in m.history], label=f"{m.dataset}: {m.title}"
        )
        axes[0, 0].plot(
            epochs, [h["val_loss"] for h in m.history], ls="--", color=line[0].get_color()
        )
        axes[0, 1].plot(epochs, [h["val_rmse"] for h in m.history], color=line[0].get_color())
    axes[0, 0].set_ylabel("loss (solid: train, dashed: validation)")
    axes[0, 1].set_ylabel("validation RMSE (standardised)")
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    return _save(fig, path)


def plot_model(
    data: RegressionData,
    title: str,
    prediction: npt.ArrayLike,
    path: Path,
    history: Sequence[Mapping[str, float]] = (),
    *,
    pt_cap: float | None = None,
) -> list[Path]:
    """The plots of one model for its MLflow run: its errors, and its training curve.

    The errors are drawn against the uncorrected ones (as in the report); the
    training curve (``<path stem>_training.png``) only when there is a history.

    Args:
        data: the dataset (test split).
        title: the model's row label.
        prediction: its predicted physical residuals of the test split.
        path: the PNG of the errors.
        history: per-epoch ``train_loss`` and ``val_loss`` (networks).
        pt_cap: the cap of the predicted pT residual (:func:`~l1scout.tasks.recalib.metrics.pt_cap`).
    """
    pred = np.asarray(prediction, dtype=np.float64)
    out = []
    with plot_style():
        out.append(_plot_errors(data, [(title, pred)], path, pt_cap))
        if history:
            fig, axes = _figure(1, 1)
            ax: Axes = axes[0, 0]
            epochs = [h["epoch"] for h in history]
            ax.plot(epochs, [h["train_loss"] for h in history], label="train")
            ax.plot(epochs, [h["val_loss"] for h in history], ls="--", label="validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss")
            ax.set_yscale("log")
            ax.set_title(title, fontsize=13)
            ax.legend()
            out.append(_save(fig, path.with_name(f"{path.stem}_training.png")))
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def _best(models: list[ModelResult]) -> ModelResult | None:
    if not models:
        return None
    return max(models, key=lambda m: float(np.mean(list(m.improvement.values()))))


def _draw(
    result: StudyResult, datasets: Mapping[str, RegressionData], folder: Path
) -> list[tuple[str, Path]]:
    plots: list[tuple[str, Path]] = []
    with plot_style():
        for kind, data in datasets.items():
            models = [m for m in result.models if m.dataset == kind]
            table = result.tables.get(kind)
            cap = table.pt_cap if table is not None else None
            plots.append(
                (
                    f"{kind}s: errors before and after the correction (test split; RMSE in brackets)",
                    _plot_errors(
                        data,
                        [(m.title, m.test_prediction) for m in models],
                        folder / f"residuals_{kind}.png",
                        cap,
                    ),
                )
            )
            best = _best(models)
            if best is not None:
                p = _plot_2d(kind, data, best, folder / f"offline_vs_l1_{kind}.png", cap)
                if p is not None:
                    plots.append((f"{kind}s: offline against L1 (top) and corrected (bottom)", p))
        for i, curve in enumerate(result.curves):
            plots.append(
                (
                    f"tuning curve: {curve.label}",
                    _plot_curve(curve, folder / f"tuning_{i}_{_slug(curve.parameter)}.png"),
                )
            )
        hist = _plot_history(result.models, folder / "training.png")
        if hist is not None:
            plots.append(("training curves of the networks", hist))
    return plots


# ---------------------------------------------------------------- page


def _table_html(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    e = html.escape
    parts = ["<table><tr>", *(f"<th>{e(h)}</th>" for h in header), "</tr>"]
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            css = ""
            if i > 0:
                css = " class='num'"
                if c.startswith("-") and c.endswith("%"):
                    css = " class='num good'"
                elif c.startswith("+") and c.endswith("%"):
                    css = " class='num bad'"
            cells.append(f"<td{css}>{e(c)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


def _results_json(result: StudyResult) -> dict[str, Any]:
    fw = result.firmware
    return {
        "title": result.title,
        "l1scout_version": __version__,
        "summary": result.summary(),
        "data": result.data,
        "tables": {k: t.records() for k, t in result.tables.items()},
        "improvement": {
            k: {label: t.improvement(label) for label in t.labels[1:]}
            for k, t in result.tables.items()
        },
        "captions": {k: t.caption for k, t in result.tables.items()},
        "pt_cap": {k: t.pt_cap for k, t in result.tables.items()},
        "ops": [
            {
                "model": r.label,
                "dataset": r.dataset,
                "inputs": r.inputs,
                "outputs": r.outputs,
                "macs": r.macs,
                "flops": r.flops,
                "params": r.params,
                "seed": r.seed,
                "seed_note": r.seed_note,
            }
            for r in result.ops_rows()
        ],
        "models": [
            {
                "key": m.key,
                "title": m.title,
                "dataset": m.dataset,
                "train_seconds": m.seconds,
                "wall_seconds": m.wall_seconds,
                "epochs": m.epochs,
                "val_rmse": m.val_rmse,
                "rmse": m.rmse,
                "onnx": m.onnx.name,
                "onnx_parity": m.onnx_parity,
                "onnx_parity_float32": m.onnx_parity_float32,
                "cancellation": m.cancellation,
                "run_id": m.run_id,
            }
            for m in result.models
        ],
        "curves": [
            {
                "label": c.label,
                "parameter": c.parameter,
                "values": list(c.values),
                "rmse": dict(c.rmse),
            }
            for c in result.curves
        ],
        "firmware": None
        if fw is None
        else {
            "model": fw.model,
            "events": fw.events,
            "max_abs_diff": fw.max_abs_diff,
            "lsb": fw.lsb,
            "within_lsb": fw.within_lsb,
            "rmse": fw.rmse,
            "rmse_torch": fw.rmse_torch,
            "seconds": fw.seconds,
            "error": fw.error,
        },
        "tracking": {
            "uri": result.tracking_uri,
            "parent_run_id": result.parent_run_id,
            "registered": None
            if result.registered is None
            else {
                "name": result.registered.name,
                "version": result.registered.version,
                "alias": result.registered.alias,
            },
        },
        "timings": result.timings,
    }


def _page(result: StudyResult, plots: list[tuple[str, Path]]) -> str:
    e = html.escape
    parts = [
        *page_head(result.title, _CSS),
        f"<h1>{e(result.title)}</h1>",
        f"<p>L1 objects corrected toward offline with neural networks and Nystrom kernel ridge "
        f"regression (the L1 re-calibration study of docs/physics/l1-algorithms.md); page made by l1scout {e(__version__)}.</p>",
        "<h2>Summary</h2><ul>",
        *(f"<li>{e(line)}</li>" for line in result.summary()),
        "</ul>",
        "<h2>Data</h2>",
    ]
    data_rows = []
    for kind, d in result.data.items():
        rows = d.get("rows", {})
        match = ", ".join(f"{k} {_fmt(float(v))}" for k, v in d.get("match", {}).items())
        data_rows.append(
            [
                kind,
                str(d.get("l1_objects", "")),
                *(str(rows.get(s, "")) for s in ("train", "val", "test")),
                ", ".join(d.get("features", [])),
                ", ".join(d.get("targets", [])),
                match,
            ]
        )
    parts.append(
        _table_html(
            ["dataset", "L1 objects", "train", "val", "test", "inputs", "targets", "matching"],
            data_rows,
        )
    )
    for kind, table in result.tables.items():
        parts.append(f"<h2>RMSE: {e(kind)}s (test split, {table.events} objects)</h2>")
        parts.append(
            f"<p>{e(table.caption)} The corrected values are those one can compute at "
            "inference from the L1 object and the model's prediction alone; the uncorrected "
            "row is the L1 object. 'vs L1': change of the RMSE against the uncorrected row.</p>"
        )
        parts.append(_table_html(_header(table), _rows(table)))
    parts.append("<h3>For comparison: the seed's Table 7 (real 2017-18 zero-bias muons)</h3>")
    parts.append(
        "<p>The seed heads its pT column 'pT/pT_reco': the RMS of the re-calibrated pT's "
        "relative error, as our 'pT/pT_reco - 1'. It does not say which loss and L2 its two "
        "network rows used (its best network is 128x4, log-cosh, L2 1e-5).</p>"
    )
    parts.append(
        _table_html(
            ["model", *(column_label(t) for t in ("dphi", "deta", PT_TARGET))],
            [[k, *(_fmt(v) for v in vals)] for k, vals in SEED_RMSE.items()],
        )
    )
    parts.append("<h2>Operations per inference</h2>")
    parts.append(f"<p>{e(OPS_CAPTION)}</p>")
    parts.append(_table_html(_OPS_HEADER, [_ops_cells(r) for r in result.ops_rows()]))
    parts.append("<h2>Training and deployment</h2>")
    parts.append(
        "<p>Every model is exported to ONNX and run with ONNX Runtime on the test split; "
        "'max |fit - ONNX|' compares it with the fitted model (networks: torch; kernel models: "
        "the float64 solution) in standardised target units. A float32 kernel model sums terms "
        "alpha_j k(x, c_j) that can be much larger than the prediction; its rounding error is a "
        "few 1e-7 of their sum ('relative to sum |alpha k|'), so small lambdas and polynomial "
        'kernels need precision = "float64" for a tight parity.</p>'
    )
    model_rows = [
        [
            m.dataset,
            m.title,
            f"{m.seconds:.2f}",
            f"{m.wall_seconds:.2f}",
            "" if m.epochs is None else str(m.epochs),
            _fmt(m.val_rmse),
            m.onnx.name,
            f"{m.onnx_parity:.2e}",
            "" if m.cancellation is None else f"{m.onnx_parity / max(m.cancellation, 1e-300):.1e}",
            m.run_id or "",
        ]
        for m in result.models
    ]
    parts.append(
        _table_html(
            [
                "dataset",
                "model",
                "train s",
                "wall s",
                "epochs",
                "val RMSE (std.)",
                "ONNX",
                "max |fit - ONNX|",
                "relative to sum |alpha k|",
                "MLflow run",
            ],
            model_rows,
        )
    )
    fw = result.firmware
    if fw is not None:
        parts.append("<h3>hls4ml emulation</h3>")
        if fw.error is not None:
            parts.append(f"<p>The firmware build of {e(fw.model)} failed: {e(fw.error)}</p>")
        else:
            rmse = ", ".join(
                f"{column_label(k)} {_fmt(v)} (torch {_fmt(fw.rmse_torch.get(k, math.nan))})"
                for k, v in fw.rmse.items()
            )
            lsb = "unknown" if fw.lsb is None else f"{fw.lsb:g}"
            parts.append(
                f"<p>{e(fw.model)}: bit-accurate C++ emulation (hls4ml, Vitis backend, compiled "
                f"with g++) on {fw.events} test events: max |emulation - torch| = "
                f"{fw.max_abs_diff:.3g} (standardised output units), {fw.within_lsb * 100:.1f}% of "
                f"outputs within one output LSB ({e(lsb)}); RMSE with the emulated outputs: "
                f"{e(rmse)}. Build and compile: {fw.seconds:.0f} s.</p>"
            )
    if result.parent_run_id is not None:
        reg = result.registered
        registered = (
            f"; best muon model registered as {e(reg.name)} version {e(reg.version)}, alias "
            f"'{e(reg.alias)}'"
            if reg is not None
            else ""
        )
        parts.append(
            f"<p>MLflow: parent run <code>{e(result.parent_run_id)}</code> at "
            f"<code>{e(result.tracking_uri or '')}</code>{registered}.</p>"
        )
    parts.append("<h2>How long the study took</h2>")
    total = result.timings.get("total")
    parts.append(
        f"<p>Wall-clock seconds per stage, measured by the study on this machine "
        f"({os.cpu_count()} CPU cores; torch threads: {e(str(result.threads or 'as set'))})"
        + (f": the whole study took {_duration(total)}" if total is not None else "")
        + ". 'wall s' in the table above is each model's share of the models stage.</p>"
    )
    parts.append(
        _table_html(
            ["stage", "seconds", "what"],
            [[k, f"{v:.1f}", _STAGES.get(k, "")] for k, v in result.timings.items()],
        )
    )
    parts.append("<h2>Plots</h2>")
    for title, path in plots:
        parts.append(figure_html(title, f"{path.parent.name}/{path.name}"))
    parts.append("</body></html>")
    return "\n".join(parts)


#: What each timed stage of the study covers.
_STAGES = {
    "samples": "event production (produce: generation, both detector views; files already made are reused)",
    "datasets": "reading the events, matching, building the datasets",
    "tracking": "opening the MLflow store and the study's parent run",
    "models": "every model: fit, predictions, ONNX export and check, its plots, MLflow logging",
    "scans": "the tuning curves",
    "firmware": "hls4ml conversion, g++ compile, emulation of the test events",
    "registry": "registering the best muon model in MLflow",
    "plots": "the report's plots",
    "total": "the whole study, from its start to this page",
}


def _duration(seconds: float) -> str:
    """``"42.0 s"`` or ``"1 h 02 min 05 s"``.

    >>> _duration(42.04), _duration(3725.2)
    ('42.0 s', '1 h 02 min 05 s')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, sec = divmod(rest, 60)
    return (f"{h} h {m:02d} min {sec:02d} s") if h else f"{m} min {sec:02d} s"


def report_files(out_dir: Path | str) -> list[Path]:
    """The files and folders of a written report: ``index.html``, ``results.json``, ``plots/``."""
    out = Path(out_dir)
    return [p for p in (out / "index.html", out / "results.json", out / "plots") if p.exists()]


def write_report(
    result: StudyResult,
    datasets: Mapping[str, RegressionData],
    *,
    plots: bool = True,
    started: float | None = None,
) -> Path:
    """Write the plots, ``results.json`` and ``index.html`` of a study into ``result.out_dir``.

    Args:
        result: the study's result; ``timings`` gets ``plots`` (and ``total``).
        datasets: the datasets (test splits for the plots).
        plots: draw the plots.
        started: ``time.perf_counter()`` at the start of the study: the page
            then states ``total``, the study's wall-clock time up to the page.

    Returns:
        The page, ``result.report``.

    Raises:
        ConfigError: the folder cannot be written.
    """
    out = result.out_dir
    drawn: list[tuple[str, Path]] = []
    try:
        if plots:
            t0 = time.perf_counter()
            drawn = _draw(result, datasets, out / "plots")
            result.timings["plots"] = time.perf_counter() - t0
        if started is not None:
            result.timings.pop("total", None)
            result.timings["total"] = time.perf_counter() - started
        numbers = json.dumps(json_safe(_results_json(result)), indent=1) + "\n"
        atomic_write_bytes(out / "results.json", numbers.encode())
        atomic_write_bytes(result.report, _page(result, drawn).encode())
    except OSError as exc:
        msg = f"cannot write the report into {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("re-calibration report: %s", result.report)
    return result.report
