"""The rate-distortion plots of the compression report (matplotlib, imported only when a plot is drawn).

One figure per fidelity measure (:func:`plot_rate_distortion`): stored bytes
per event on a log x axis, the measure on the y axis, every codec setting a
point with its family's marker (:data:`FAMILY_MARKERS`), the Pareto frontier
as a dashed line, the goal's byte budget (float16 Parquet + zstd / factor)
as a vertical line and, for the HT and MET resolutions, the goal as a
horizontal one. The caller (:func:`l1scout.tasks.compress.report.write_compress_report`)
draws inside :func:`l1scout._html.plot_style` (Agg backend); each figure is
written as a PNG atomically (:func:`l1scout._html.save_png`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from l1scout._html import save_png
from l1scout.tasks.compress.frontier import RDPoint

__all__ = ["FAMILY_MARKERS", "plot_rate_distortion"]

#: The marker and the legend name of each codec family.
FAMILY_MARKERS: dict[str, tuple[str, str]] = {
    "float16_parquet": ("s", "float16 Parquet + zstd"),
    "words_zstd": ("D", "Phase-2 64-bit words + zstd"),
    "int_pack": ("^", "integer packing (hardware bins)"),
    "quantized": ("o", "quantized fields"),
    "set_ae": ("*", "set autoencoder"),
    "vicreg": ("P", "VICReg embedding"),
}


def _plain(text: str) -> str:
    """A label that matplotlib shows as written (no mathtext)."""
    return text.replace("$", r"\$")


def plot_rate_distortion(
    points: Sequence[RDPoint],
    front: Sequence[RDPoint],
    path: Path,
    *,
    title: str,
    ylabel: str,
    budget: float = math.nan,
    factor: float = 10.0,
    goal: float | None = None,
    dpi: int = 70,
) -> Path | None:
    """One measure's points, frontier, goal budget and goal (module docstring); None with no point.

    Args:
        points: every codec setting's (bytes per event, value).
        front: the Pareto frontier, by increasing bytes.
        path: the PNG to write.
        title: the figure's title.
        ylabel: the measure's name and unit.
        budget: the goal's bytes per event (nan: no line).
        factor: the goal's reduction, for the budget line's label.
        goal: the goal's value (None: no line).
        dpi: the PNG's resolution.
    """
    if not points:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 7.5))
    families = list(dict.fromkeys(p.family for p in points))
    for family in families:
        marker, name = FAMILY_MARKERS.get(family, ("x", family))
        mine = [p for p in points if p.family == family]
        ax.plot(
            [p.bytes_per_event for p in mine],
            [p.value for p in mine],
            marker=marker,
            markersize=11 if marker == "*" else 8,
            linestyle="none",
            label=_plain(name),
        )
    if front:
        ax.plot(
            [p.bytes_per_event for p in front],
            [p.value for p in front],
            linestyle="--",
            color="grey",
            linewidth=1,
            label="Pareto frontier",
        )
    if math.isfinite(budget) and budget > 0:
        ax.axvline(
            budget,
            color="red",
            linestyle=":",
            linewidth=1.2,
            label=f"goal: {factor:g}x fewer bytes",
        )
    if goal is not None:
        ax.axhline(goal, color="red", linestyle="-.", linewidth=1.0, label=f"goal: {goal:g}")
    ax.set_xscale("log")
    ax.set_xlabel("stored bytes per event (test events, files on disk)")
    ax.set_ylabel(_plain(ylabel), fontsize=14)
    values = [p.value for p in points]
    if min(values) > 0 and max(values) / min(values) > 100:  # spans decades: a log axis
        ax.set_yscale("log")
    ax.legend(fontsize=11, loc="best")
    ax.set_title(_plain(title), fontsize=15)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)
    return save_png(fig, path, dpi)
