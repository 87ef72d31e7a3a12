"""The plots of the classification report (matplotlib, imported only when a plot is drawn).

One-vs-rest ROC curves per class (one panel per model, FullReco solid and L1T
dashed), the confusion matrices (one per model and view) and the training
histories. Each is written as a PNG atomically (:func:`l1scout._html.save_png`)
and its path returned; the caller (:func:`l1scout.tasks.classify.report.write_classify_report`)
draws inside :func:`l1scout._html.plot_style` (Agg backend).

Example:
    >>> fpr, tpr = roc_curve(np.array([0.9, 0.1, 0.8, 0.3]), np.array([True, False, False, True]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1scout._html import save_png
from l1scout._types import F64, B

if TYPE_CHECKING:
    from l1scout.tasks.classify.results import ClassifyResult

__all__ = ["plot_confusion", "plot_history", "plot_roc", "roc_curve"]

_DPI = 60
_LINES = ("-", "--", ":", "-.")


def roc_curve(scores: F64, positive: B) -> tuple[F64, F64]:
    """False- and true-positive rates of the cut ``score >= t`` at every distinct score, from (0, 0).

    Tied scores move both rates at once (one point per distinct score).
    """
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], positive[order]
    tp, fp = np.cumsum(p), np.cumsum(~p)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1] if s.size else np.array([], int)
    n_pos, n_neg = max(int(p.sum()), 1), max(int((~p).sum()), 1)
    fpr = np.r_[0.0, fp[last] / n_neg]
    tpr = np.r_[0.0, tp[last] / n_pos]
    return fpr.astype(np.float64), tpr.astype(np.float64)


def plot_roc(result: ClassifyResult, path: Path) -> Path:
    """One panel per model: each class's one-vs-rest ROC curve, one line style per view."""
    import matplotlib.pyplot as plt

    kinds = result.kinds
    fig, axes = plt.subplots(1, len(kinds), figsize=(9 * len(kinds), 8), squeeze=False)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(result.classes), 2)))
    for ax, kind in zip(axes[0], kinds, strict=True):
        for j, view in enumerate(result.views):
            m = result.model(kind, view)
            for i, name in enumerate(result.classes):
                positive = result.labels == i
                if not positive.any() or positive.all():
                    continue
                fpr, tpr = roc_curve(m.probabilities[:, i].astype(np.float64), positive)
                ax.plot(
                    fpr,
                    tpr,
                    _LINES[j % len(_LINES)],
                    color=colors[i],
                    lw=1.2,
                    label=name if j == 0 else None,
                )
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        styles = ", ".join(f"{v} {_LINES[j % len(_LINES)]}" for j, v in enumerate(result.views))
        ax.set_title(f"{kind} ({styles})", fontsize=14)
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.legend(fontsize=8, ncol=2, loc="lower right")
    fig.tight_layout()
    return save_png(fig, path, _DPI)


def plot_confusion(result: ClassifyResult, kind: str, path: Path) -> Path:
    """The normalised confusion matrices of *kind*, one panel per view (rows: true class)."""
    import matplotlib.pyplot as plt

    views = result.views
    n = len(result.classes)
    fig, axes = plt.subplots(1, len(views), figsize=(10 * len(views), 9), squeeze=False)
    for ax, view in zip(axes[0], views, strict=True):
        m = result.model(kind, view)
        image = ax.imshow(np.nan_to_num(m.confusion), vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_xticks(range(n), result.classes, rotation=90, fontsize=8)
        ax.set_yticks(range(n), result.classes, fontsize=8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f"{kind}, {view}", fontsize=14)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return save_png(fig, path, _DPI)


def plot_history(histories: Mapping[str, Sequence[Mapping[str, float]]], path: Path) -> Path:
    """Training (solid) and validation (dashed) loss per epoch of every model and view."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7))
    for i, (key, history) in enumerate(histories.items()):
        color = f"C{i % 10}"
        epochs = [h["epoch"] for h in history]
        ax.plot(epochs, [h["loss"] for h in history], "-", color=color, label=key)
        ax.plot(epochs, [h["val_loss"] for h in history], "--", color=color)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (solid: train, dashed: validation)")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return save_png(fig, path, _DPI)
