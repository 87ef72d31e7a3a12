"""The plots of the MLPF report (matplotlib, imported only when a plot is drawn).

Each function draws one figure of a :class:`~l1scout.tasks.mlpf.study.MLPFEvaluation`
as the MLPF study shows its results (J. Pata et al., Commun. Phys. 7 (2024)
124; CMS, arXiv:2601.17554): jet response and resolution against generator-jet
pT per collection, the per-particle pileup ROC curves, per-class efficiency
and fake rate against pT, and the training history. Each is written as a PNG
atomically (:func:`l1scout._html.save_png`) and its path returned; the caller
(:func:`l1scout.tasks.mlpf.report.write_mlpf_report`) draws inside
:func:`l1scout._html.plot_style` (Agg backend). Empty bins are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1scout._html import save_png
from l1scout._types import F64
from l1scout.tasks.mlpf.metrics import BinnedRate
from l1scout.tasks.mlpf.study import MLPF, PUPPI, MLPFEvaluation

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_history", "plot_jets", "plot_particles", "plot_pileup_roc"]

_DPI = 60
# marker and line per collection: MLPF filled, ceilings dotted, rule-based open
_STYLE = {
    "MLPF": ("o", "-"),
    "MLPF + PU flag": ("s", "-"),
    "targets": ("^", ":"),
    "targets - PU": ("v", ":"),
    "PF+CHS": ("D", "--"),
    "PF": ("x", "--"),
    "PUPPI": ("P", "--"),
}


def _centres(edges: F64) -> F64:
    out: F64 = 0.5 * (edges[1:] + edges[:-1])
    return out


def plot_jets(ev: MLPFEvaluation, path: Path) -> Path:
    """Matching efficiency (left), median response (middle), IQR / median (right) vs generator-jet pT."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(21, 7))
    for name, jr in ev.jets.items():
        marker, line = _STYLE.get(name, ("o", "-"))
        x = _centres(jr.response.edges)
        err = ev.jet_resolution_error[name]
        for ax, y, yerr in (
            (axes[0], jr.efficiency.value, None),
            (axes[1], jr.response.median, None),
            (axes[2], jr.response.iqr_over_median, err),
        ):
            ok = np.isfinite(y)
            if not ok.any():
                continue
            e = None if yerr is None else np.where(np.isfinite(yerr), yerr, 0.0)[ok]
            ax.errorbar(x[ok], y[ok], yerr=e, marker=marker, linestyle=line, capsize=2, label=name)
    for ax, label in zip(
        axes,
        ("matching efficiency", "median pT_reco / pT_gen", "IQR / median of pT_reco / pT_gen"),
        strict=True,
    ):
        ax.set_xscale("log")
        ax.set_xlabel("generator jet pT [GeV]")
        ax.set_ylabel(label)
    axes[1].axhline(1.0, color="grey", linestyle=":", linewidth=1)
    axes[0].set_ylim(0.0, 1.05)
    axes[2].set_ylim(bottom=0.0)
    axes[2].legend(fontsize=11, loc="upper right")
    s = ev.settings
    fig.suptitle(
        f"anti-kT R = 0.4 jets, pT > {s.jet_pt_min:g} GeV, |eta| < {s.eta_max:g}, "
        f"matched dR < {s.match_dr:g} ({ev.n_events} events)",
        fontsize=16,
    )
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.9, wspace=0.28)
    return save_png(fig, path, _DPI)


def plot_pileup_roc(ev: MLPFEvaluation, path: Path) -> Path | None:
    """Pileup rejected vs hard particles kept: the MLPF head and PUPPI (None without either)."""
    if ev.pileup_mlpf is None and ev.pileup_puppi is None:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 8))
    for label, roc in (
        (f"{MLPF} pileup head (true particles)", ev.pileup_mlpf),
        (f"{PUPPI}: 1 - PuppiW (PUPPI candidates)", ev.pileup_puppi),
    ):
        if roc is not None:
            ax.plot(1.0 - roc.hard_flagged, roc.pu_flagged, label=f"{label}, AUC {roc.auc:.3f}")
    ax.set_xlabel("hard particles kept")
    ax.set_ylabel("pileup particles rejected")
    ax.set_xlim(0.0, 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.legend(fontsize=11, loc="lower left")
    ax.set_title("per-particle pileup ROC (different particle sets)", fontsize=14)
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.12, top=0.92)
    return save_png(fig, path, _DPI)


def _rate(ax: Axes, r: BinnedRate, label: str, marker: str) -> None:
    ok = r.total > 0
    if not ok.any():
        return
    x, half = _centres(r.edges), 0.5 * np.diff(r.edges)
    v = r.value[ok]
    ax.errorbar(
        x[ok],
        v,
        xerr=half[ok],
        yerr=[np.maximum(v - r.low[ok], 0.0), np.maximum(r.high[ok] - v, 0.0)],
        marker=marker,
        linestyle="none",
        capsize=2,
        label=label,
    )


def plot_particles(ev: MLPFEvaluation, path: Path) -> Path:
    """Per-class efficiency vs target pT (left) and fake rate vs predicted pT (right), MLPF vs targets."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 7))
    markers = "osD^vP"
    for i, (cls, rates) in enumerate(ev.particles.items()):
        _rate(left, rates.efficiency, cls, markers[i % len(markers)])
        _rate(right, rates.fake_rate, cls, markers[i % len(markers)])
    for ax, label in ((left, "efficiency (target pT)"), (right, "fake rate (predicted pT)")):
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel("particle pT [GeV]")
        ax.set_ylabel(label)
        ax.set_ylim(0.0, 1.05)
    left.legend(fontsize=11, loc="lower right")
    fig.suptitle(f"{MLPF} particles against the targets, per class", fontsize=16)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.9, wspace=0.25)
    return save_png(fig, path, _DPI)


def plot_history(history: Mapping[str, Sequence[float]], path: Path) -> Path | None:
    """Every series of the training history against the epoch (None when all are empty)."""
    series = {k: np.asarray(v, dtype=np.float64) for k, v in history.items() if len(v)}
    if not series:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 7))
    for name, y in series.items():
        ok = np.isfinite(y)
        ax.plot(np.arange(1, y.size + 1)[ok], y[ok], marker=".", label=name.replace("$", r"\$"))
    positive = all(np.all(y[np.isfinite(y)] > 0) for y in series.values())
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.legend(fontsize=11, loc="upper right")
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.12, top=0.95)
    return save_png(fig, path, _DPI)
