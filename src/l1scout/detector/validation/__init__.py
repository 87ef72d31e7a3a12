"""Physics validation of the detector views: numbers, checks, plots and an HTML page.

:mod:`~l1scout.detector.validation.report` is the entry point (``l1scout
validate``): it reads the files, measures every view and writes the page,
through one module per step:

* :mod:`~l1scout.detector.validation.reading`: the files through
  :mod:`l1scout.io`, batches of events as numpy;
* :mod:`~l1scout.detector.validation.truth`: the generator truth of a batch;
* :mod:`~l1scout.detector.validation.accumulator`: one view measured batch by
  batch, then summarised;
* :mod:`~l1scout.detector.validation.metrics`: the pure numpy functions
  (robust widths, efficiencies, truth matching, responses);
* :mod:`~l1scout.detector.validation.checks`: the pass/fail checks of L1T
  against FullReco;
* :mod:`~l1scout.detector.validation.comparison`: files of two pileup
  definitions side by side (``l1scout validate FILES --compare OTHER``);
* :mod:`~l1scout.detector.validation.plots` and
  :mod:`~l1scout.detector.validation.page`: the PNGs, ``index.html`` and
  ``numbers.json``;
* :mod:`~l1scout.detector.validation.results` and
  :mod:`~l1scout.detector.validation.definitions`: the result types, and the
  bins and cuts.

Importing this package does not import matplotlib.
"""

from __future__ import annotations

from l1scout.detector.validation.report import render_report, run_validation, write_report
from l1scout.detector.validation.results import Check, FileInfo, ValidationResult, ViewSummary

__all__ = [
    "Check",
    "FileInfo",
    "ValidationResult",
    "ViewSummary",
    "render_report",
    "run_validation",
    "write_report",
]
