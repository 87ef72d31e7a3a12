"""The plots of the soft-tau report (matplotlib, imported only when a plot is drawn).

Each function draws one figure of a :class:`~l1scout.tasks.taus.results.TauEvaluation`
as the seed study plots it (Camagni et al., "Deep learning-based
identification of soft taus in the L1 scouting stream for Phase-2", AI-INFN
hackathon, Pavia, November 2025), writes it as a PNG atomically
(:func:`l1scout._html.save_png`) and returns its path; the caller
(:func:`l1scout.tasks.taus.report.write_tau_report`) draws inside
:func:`l1scout._html.plot_style` (Agg backend, set there, not at import).
Error bars are the intervals of the numbers (Clopper-Pearson for
efficiencies, Garwood for counts); empty bins are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1scout._html import save_png
from l1scout.tasks.taus.metrics import BinnedCount, BinnedEff, Response
from l1scout.tasks.taus.results import MethodEvaluation, TauEvaluation

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_ditau", "plot_efficiency", "plot_response"]

_DPI = 60


def _plain(name: str) -> str:
    """A label that matplotlib shows as written (no mathtext)."""
    return name.replace("$", r"\$")


def _binned(
    ax: Axes, b: BinnedEff | BinnedCount, label: str, *, scale: float, **kw: object
) -> None:
    """Points at the bin centres with x bars (bin width) and y bars (the interval); empty bins skipped."""
    e = b.edges
    centres, half = 0.5 * (e[1:] + e[:-1]), 0.5 * np.diff(e)
    if isinstance(b, BinnedEff):
        value, ok = b.value, b.total > 0
    else:
        value, ok = b.per_event, np.ones(b.count.size, dtype=bool)
    if not ok.any():
        return
    v, lo, hi = (scale * np.asarray(a)[ok] for a in (value, b.low, b.high))
    ax.errorbar(
        centres[ok],
        v,
        xerr=half[ok],
        yerr=[np.maximum(v - lo, 0.0), np.maximum(hi - v, 0.0)],
        linestyle="none",
        capsize=2,
        label=label,
        **kw,  # type: ignore[arg-type]
    )


def plot_efficiency(me: MethodEvaluation, path: Path) -> Path:
    """RECO and ID efficiency vs visible pT (left), fakes per zero-bias event vs candidate pT (right)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 7))
    eff = me.efficiency
    _binned(left, eff.reco, "RECO (all candidates)", scale=100.0, marker="o", mfc="none")
    if eff.id is not None:
        label = f"ID ({_plain(me.id_name)} > {eff.id_threshold:g})"
        _binned(left, eff.id, label, scale=100.0, marker="s")
    left.set_ylim(0.0, 105.0)
    left.set_xlabel("visible tau pT [GeV]")
    left.set_ylabel("efficiency [%]")
    left.legend(fontsize=12, loc="lower right")
    _binned(right, me.fakes_reco.binned, "RECO", scale=1.0, marker="o", mfc="none")
    _binned(right, me.fakes_id.binned, "ID", scale=1.0, marker="s")
    right.set_xlabel("candidate pT [GeV]")
    right.set_ylabel("fakes per zero-bias event")
    right.set_ylim(bottom=0.0)
    right.legend(fontsize=12, loc="upper right")
    fig.suptitle(f"{_plain(me.method)}: test split", fontsize=16)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.9, wspace=0.25)
    return save_png(fig, path, _DPI)


def _response_points(ax: Axes, r: Response, which: str, label: str, marker: str) -> None:
    centres, ok = 0.5 * (r.edges[1:] + r.edges[:-1]), r.n > 0
    y = r.median if which == "median" else r.rel_width
    ok &= np.isfinite(y)
    if ok.any():
        ax.plot(centres[ok], y[ok], marker=marker, linestyle="-", label=label)


def plot_response(me: MethodEvaluation, path: Path) -> Path | None:
    """Median pT response (left) and relative resolution (right) before and after the regression.

    None (nothing drawn) when the method matched no test tau.
    """
    if me.response is None:
        return None
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 7))
    for ax, which in ((left, "median"), (right, "width")):
        _response_points(ax, me.response.before, which, "before (candidate pT)", "o")
        _response_points(ax, me.response.after, which, "after (regressed pT)", "s")
        ax.set_xlabel("visible tau pT [GeV]")
        ax.legend(fontsize=12)
    left.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    left.set_ylabel("median pT / visible pT")
    right.set_ylabel("resolution (robust width / median)")
    right.set_ylim(bottom=0.0)
    fig.suptitle(f"{_plain(me.method)}: pT response, test split", fontsize=16)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.9, wspace=0.25)
    return save_png(fig, path, _DPI)


def plot_ditau(ev: TauEvaluation, path: Path) -> Path | None:
    """Di-tau efficiency of every working point at the target rate, all taus and the verdict's range.

    None when the evaluation has no working point.
    """
    if not ev.ditau:
        return None
    import matplotlib.pyplot as plt

    results = list(ev.ditau.values())
    fig, ax = plt.subplots(figsize=(12, 1.5 + 1.2 * len(results)))
    y = np.arange(len(results), dtype=np.float64)
    if ev.verdict is not None:
        lo, hi = ev.verdict.vis_pt
        beats = f"taus of {lo:g}-{hi:g} GeV"
    else:
        beats = "taus of the verdict's range"
    for shift, name, effs in (
        (-0.15, "all di-tau signal events", [d.test.efficiency for d in results]),
        (0.15, beats, [d.test_beats_range.efficiency for d in results]),
    ):
        v = np.array([100 * e.value for e in effs])
        ax.errorbar(
            v,
            y + shift,
            xerr=[[100 * e.err_low for e in effs], [100 * e.err_high for e in effs]],
            marker="o",
            linestyle="none",
            capsize=3,
            label=name,
        )
    ax.set_yticks(y, [_plain(d.label) for d in results], fontsize=12)
    ax.set_xlim(0.0, 105.0)
    ax.set_ylim(len(results) - 0.3, -0.7)  # the table's order, top to bottom
    rate = results[0].search.target_rate_khz
    ax.set_xlabel(f"di-tau efficiency at {rate:g} kHz (test split) [%]")
    ax.legend(fontsize=11, loc="best")
    fig.subplots_adjust(left=0.35, right=0.97, bottom=0.55 / (1 + 0.8 * len(results)), top=0.95)
    return save_png(fig, path, _DPI)
