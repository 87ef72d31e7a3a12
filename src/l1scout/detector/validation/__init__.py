"""Physics validation of the detector views: numbers, checks, plots and an HTML page.

:mod:`~l1scout.detector.validation.metrics` holds the pure numpy functions
(robust widths, efficiencies, truth matching, responses);
:mod:`~l1scout.detector.validation.report` reads the files, measures every
view and writes the page (``l1scout validate``). Importing this package does
not import matplotlib.
"""

from __future__ import annotations

from l1scout.detector.validation.report import (
    Check,
    FileInfo,
    ValidationResult,
    ViewSummary,
    render_report,
    run_validation,
    write_report,
)

__all__ = [
    "Check",
    "FileInfo",
    "ValidationResult",
    "ViewSummary",
    "render_report",
    "run_validation",
    "write_report",
]
