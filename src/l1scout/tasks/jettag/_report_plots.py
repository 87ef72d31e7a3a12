"""The plots of the jet-tagging report (matplotlib, imported only when a plot is drawn).

Each function draws one figure and writes it as a PNG atomically
(:func:`l1scout._html.save_png`), returning its path (None when there is
nothing to draw); the caller (:func:`l1scout.tasks.jettag.report.write_jettag_report`)
draws inside :func:`l1scout._html.plot_style`. ROC curves are drawn as the
Phase-2 tagger's paper shows them (arXiv:2509.24371): signal efficiency
against background efficiency on a log scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1scout._html import save_png

if TYPE_CHECKING:
    from l1scout.tasks.jettag.results import JetTagViewResult

__all__ = ["plot_btag", "plot_history", "plot_rocs"]

_DPI = 60
_LINES = {"L1T": "-", "FullReco": "--"}


def plot_rocs(views: Mapping[str, JetTagViewResult], path: Path) -> Path | None:
    """One-vs-rest ROC curves per class: L1T solid, FullReco dashed (None: no curve)."""
    if not any(vr.roc for vr in views.values()):
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = sorted({n for vr in views.values() for n in vr.roc})
    for view, vr in views.items():
        for i, name in enumerate(names):
            if name not in vr.roc:
                continue
            eff, bkg = (np.asarray(v) for v in vr.roc[name])
            ok = bkg > 0
            ax.plot(
                eff[ok],
                bkg[ok],
                _LINES.get(view, ":"),
                color=colours[i % len(colours)],
                label=f"{name} {view} (AUC {vr.auc[name]:.3f})",
            )
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("background efficiency")
    ax.legend(fontsize=9, ncol=2, loc="lower right")
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.1, top=0.96)
    return save_png(fig, path, _DPI)


def plot_btag(views: Mapping[str, JetTagViewResult], path: Path) -> Path | None:
    """b-jet efficiency against light mistag: the tagger's curve and the card's ``BTag`` point per view."""
    if not any(vr.btag.tagger_eff.size for vr in views.values()):
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7))
    for view, vr in views.items():
        b = vr.btag
        ok = b.tagger_mistag > 0
        line = ax.plot(
            b.tagger_eff[ok], b.tagger_mistag[ok], _LINES.get(view, ":"), label=f"tagger {view}"
        )
        if np.isfinite(b.card_eff) and b.card_mistag > 0:
            ax.plot(
                [b.card_eff],
                [b.card_mistag],
                "o",
                color=line[0].get_color(),
                label=f"card BTag {view}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("b-jet efficiency")
    ax.set_ylabel("light-jet (uds, g) mistag rate")
    ax.legend(fontsize=11, loc="lower right")
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.96)
    return save_png(fig, path, _DPI)


def plot_history(history: Mapping[str, Sequence[float]], path: Path) -> Path | None:
    """Every series of the training histories against the epoch (None when all are empty)."""
    series = {k: np.asarray(v, dtype=np.float64) for k, v in history.items() if len(v)}
    if not series:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    for name, y in series.items():
        ok = np.isfinite(y)
        ax.plot(np.arange(1, y.size + 1)[ok], y[ok], marker=".", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=11, loc="upper right")
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.95)
    return save_png(fig, path, _DPI)
