"""The plots of the anomaly-trigger report (matplotlib, imported only when a plot is drawn).

Score distributions, ROC curves and efficiency versus rate of an
:class:`~l1scout.tasks.anomaly.metrics.Evaluation`, with the experiment-style
label; each function writes one PNG and returns its path
(:func:`l1scout.tasks.anomaly.report.write_report` calls them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1scout._html import save_png
from l1scout.tasks.anomaly.metrics import Evaluation

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_efficiency", "plot_roc", "plot_scores"]


def _label(ax: Axes, right: str) -> None:
    """The experiment-style label: bold ``l1scout``, italic ``Simulation``, ``right`` on the right."""
    first = ax.text(
        0.0, 1.015, "l1scout", transform=ax.transAxes, fontweight="bold", fontsize=20, va="bottom"
    )
    ax.annotate(
        "Simulation",
        xy=(1.0, 0.0),
        xycoords=first,
        xytext=(8, 0),
        textcoords="offset points",
        style="italic",
        fontsize=17,
        va="bottom",
    )
    ax.text(1.0, 1.015, right, transform=ax.transAxes, ha="right", fontsize=15, va="bottom")


def _plain(name: str) -> str:
    """A label that matplotlib shows as written (no mathtext)."""
    return name.replace("$", r"\$")


def plot_scores(ev: Evaluation, path: Path, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    h = ev.histogram
    fig, ax = plt.subplots(figsize=(10, 8))
    ax.stairs(h.zero_bias / ev.n_zero_bias, h.edges, color="black", linewidth=2, label="zero bias")
    for name, counts in h.signals.items():
        ax.stairs(counts / ev.signals[name].n_events, h.edges, linewidth=1.6, label=_plain(name))
    shown = [t for t in ev.thresholds if t.measurable and h.edges[0] <= t.threshold <= h.edges[-1]]
    for k, t in enumerate(shown):
        label = "thresholds of the measurable rates" if k == 0 else None
        ax.axvline(t.threshold, color="grey", linestyle=":", linewidth=1, label=label)
    if h.log_x:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("fraction of events")
    ax.legend(fontsize=12, loc="best")
    _label(ax, "14 TeV")
    fig.subplots_adjust(left=0.14, right=0.96, bottom=0.12, top=0.92)
    return save_png(fig, path, dpi)


def plot_roc(ev: Evaluation, path: Path, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 8))
    x_min = 0.5 / ev.n_zero_bias
    for s in ev.signals.values():
        keep = s.roc.bkg > 0
        ax.plot(
            s.roc.bkg[keep],
            s.roc.sig[keep],
            linewidth=1.6,
            label=f"{_plain(s.name)} (AUC {s.auc:.3f})",
        )
    limit = ev.min_pass / ev.n_zero_bias
    if limit > x_min:
        ax.axvspan(
            x_min, min(limit, 1.0), color="grey", alpha=0.2, label="too few zero-bias events"
        )
    ax.axvline(ev.bkg_eff, color="black", linestyle=":", linewidth=1)
    ax.text(ev.bkg_eff, 0.02, f" {ev.bkg_eff:g}", fontsize=11)
    ax.set_xscale("log")
    ax.set_xlim(min(x_min, ev.bkg_eff / 2), 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("zero-bias efficiency")
    ax.set_ylabel("signal efficiency")
    ax.legend(fontsize=11, loc="upper left")
    _label(ax, "14 TeV")
    fig.subplots_adjust(left=0.12, right=0.96, bottom=0.12, top=0.92)
    return save_png(fig, path, dpi)


def plot_efficiency(ev: Evaluation, path: Path, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 8))
    measurable = [i for i, t in enumerate(ev.thresholds) if t.measurable]
    rates = np.array([ev.thresholds[i].rate_khz for i in measurable])
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for k, s in enumerate(ev.signals.values()):
        colour = colours[k % len(colours)]
        if measurable:
            effs = [s.efficiency[i] for i in measurable]
            ax.errorbar(
                rates,
                [100 * e.value for e in effs],
                yerr=[[100 * e.err_low for e in effs], [100 * e.err_high for e in effs]],
                marker="o",
                markersize=6,
                color=colour,
                capsize=3,
                label=_plain(s.name),
            )
            if s.pure_efficiency is not None:
                pure = [s.pure_efficiency[i] for i in measurable]
                ax.errorbar(
                    rates,
                    [100 * e.value for e in pure],
                    yerr=[[100 * e.err_low for e in pure], [100 * e.err_high for e in pure]],
                    marker="o",
                    markerfacecolor="none",
                    markersize=6,
                    linestyle="--",
                    color=colour,
                    capsize=3,
                    label=f"{_plain(s.name)}, pure",
                )
    all_rates = [t.rate_khz for t in ev.thresholds]
    lo, hi = min(all_rates) / 1.5, max(all_rates) * 1.5
    limit = ev.min_measurable_rate_khz
    if limit > lo:
        ax.axvspan(
            lo,
            min(limit, hi),
            color="grey",
            alpha=0.2,
            label="not measurable (zero-bias sample too small)",
        )
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0.0, 105.0)
    ax.set_xlabel("zero-bias rate [kHz]")
    ax.set_ylabel("signal efficiency [%]")
    ax.legend(fontsize=11, loc="upper left")
    _label(ax, f"{ev.crossing_rate_khz / 1000:.1f} MHz crossings")
    fig.subplots_adjust(left=0.12, right=0.96, bottom=0.12, top=0.92)
    return save_png(fig, path, dpi)
