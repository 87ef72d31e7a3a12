"""Pieces shared by l1scout's HTML report pages: page head, embedded figures, plot style, PNGs, JSON.

The detector-validation, anomaly-trigger and re-calibration reports each lay
out their own page; what they share is here: the page head with its inline
style sheet (:func:`page_head`), a titled figure (:func:`figure_html`), the
matplotlib style of the plots (:func:`plot_style`, mplhep's CMS style on the
Agg backend), the atomic writing of a figure as a PNG (:func:`save_png`) and
the JSON-safe copy of the numbers written beside the page (:func:`json_safe`).

Example:
    >>> print(page_head("a < b", "p { margin: 0; }")[-1])
    <style>p { margin: 0; }</style></head><body>
    >>> figure_html("ROC", "plots/roc.png")
    "<h3>ROC</h3><img src='plots/roc.png' alt='ROC'>"
    >>> json_safe({"x": float("nan"), 1: (np.float32(0.5), Path("a"))})
    {'x': None, '1': [0.5, 'a']}
"""

from __future__ import annotations

import contextlib
import html
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._files import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "REPORT_CSS",
    "figure_html",
    "html_pairs",
    "html_table",
    "json_safe",
    "page_head",
    "plot_style",
    "save_png",
]

#: The style the task reports share (a report adds its own classes after it).
REPORT_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1500px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-family: monospace; white-space: nowrap; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0 1.5em 0; }
"""


def page_head(title: str, css: str) -> list[str]:
    """The opening lines of a page up to ``<body>``: doctype, UTF-8, escaped *title*, *css*."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{css}</style></head><body>",
    ]


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of escaped texts; cells after the first are numbers (class ``num``, right-aligned).

    >>> html_table(["a", "b"], [["x<y", "1"]])
    '<table><tr><th>a</th><th>b</th></tr><tr><td>x&lt;y</td><td class=num>1</td></tr></table>'
    """
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if j else ''}>{html.escape(c)}</td>" for j, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def html_pairs(items: Mapping[str, str]) -> str:
    """A two-column table of escaped names and values.

    >>> html_pairs({"a": "1"})
    '<table><tr><td>a</td><td>1</td></tr></table>'
    """
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in items.items()
    )
    return f"<table>{body}</table>"


def figure_html(title: str, src: str) -> str:
    """A figure under an ``<h3>`` heading: *src* is the image path relative to the page."""
    e = html.escape
    return f"<h3>{e(title)}</h3><img src='{e(src)}' alt='{e(title)}'>"


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """Draw with matplotlib's Agg backend in mplhep's CMS style (plain style without mplhep)."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    try:
        import mplhep

        style: Any = mplhep.style.CMS
    except (ImportError, AttributeError):  # pragma: no cover - mplhep is a dependency
        style = {}
    with plt.style.context(style):
        yield


def save_png(fig: Figure, path: Path, dpi: int) -> Path:
    """Write *fig* to *path* as a PNG at *dpi* atomically (folders created), and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def json_safe(x: Any) -> Any:
    """JSON-safe copy: NaN and infinities to None, numpy to Python, paths and keys to str."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x) if isinstance(x, Path) else x
