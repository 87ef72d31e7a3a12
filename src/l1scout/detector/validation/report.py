"""Physics validation of the detector views of l1scout files: numbers, checks, plots, a page.

:func:`run_validation` reads Parquet files written by ``l1scout generate``
through :mod:`l1scout.io` batch by batch (only the columns it needs,
:mod:`~l1scout.detector.validation.reading`), links every view's candidates,
vertices, jets and MET to the generator truth
(:mod:`~l1scout.detector.validation.truth`), and turns the result into numbers
per view (:mod:`~l1scout.detector.validation.accumulator`, with the functions of
:mod:`~l1scout.detector.validation.metrics`) and named checks of the L1T view
against the offline one (:mod:`~l1scout.detector.validation.checks`).
:func:`render_report` adds the plots (:mod:`~l1scout.detector.validation.plots`,
matplotlib with the mplhep CMS style), ``numbers.json`` and a self-contained
``index.html`` showing them (:mod:`~l1scout.detector.validation.page`);
:func:`write_report` does both.

What is measured, per view (the definitions follow Delphes' validation,
``validation/DelphesValidation.cpp``, and CMS practice):

1. tracking efficiency of generated final-state charged particles of the
   hard collision (a track is a charged ``PUPPIPart`` candidate whose
   ``fUniqueID`` is the particle's ``Gen_Part`` index + 1), against the view
   card's tables times its acceptance; in events that hit the view's cap on
   candidates (L1T: 1000) only particles above the lowest kept candidate's pT
   count, so the cap is not mistaken for tracking inefficiency;
2. track pT resolution (robust sigma of (pT_reco - pT_gen) / pT_gen) and dz
   resolution (robust sigma of DZ - Gen_Part_Z of prompt particles);
3. primary-vertex z resolution and identification efficiency (|dz| < 1 mm);
4. jet response and resolution against generator jets (closest within
   Delta R, |eta| < 2.4);
5. MET resolution per component (MET minus the generator MET);
6. PUPPI weights of primary and pileup candidates, and the share of their pT
   that PUPPI keeps;
7. multiplicities per event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from l1scout.detector.validation.accumulator import ViewAccumulator
from l1scout.detector.validation.checks import l1t_checks
from l1scout.detector.validation.page import write_page
from l1scout.detector.validation.plots import draw_plots
from l1scout.detector.validation.reading import open_inputs, view_card
from l1scout.detector.validation.results import (
    FileInfo,
    ValidationResult,
)
from l1scout.detector.validation.truth import read_truth
from l1scout.detector.view_card import ViewCard
from l1scout.errors import ConfigError, DataFormatError

__all__ = ["render_report", "run_validation", "write_report"]

_log = logging.getLogger(__name__)


def run_validation(files: Sequence[Path | str], *, batch_size: int = 50) -> ValidationResult:
    """Read the files and measure every view (see the module docstring).

    Args:
        files: Parquet files of ``l1scout generate``, all with the views of
            the first one.
        batch_size: events measured at a time.

    Raises:
        DataFormatError: a file is missing, unreadable, has no view or lacks
            a column; the message names the file and the column.
        ConfigError: no file given, or ``batch_size`` < 1.
    """
    if not files:
        msg = "files: give at least one Parquet file"
        raise ConfigError(msg)
    if batch_size < 1:
        msg = f"batch_size must be at least 1, got {batch_size}"
        raise ConfigError(msg)
    inputs = open_inputs(files)
    first_metadata = inputs.files[0].metadata
    cards: dict[str, ViewCard | None] = {}
    accs: dict[str, ViewAccumulator] = {}
    for view in inputs.views:
        card = cards[view] = view_card(view, first_metadata)
        accs[view] = ViewAccumulator(
            view,
            inputs.jet_studies(view),
            cap=card.particle_flow.max_candidates if card is not None else 0,
        )
    gen_jets = sorted({jet.gen for acc in accs.values() for jet in acc.jets})
    infos: list[FileInfo] = []
    for index, file in enumerate(inputs.files):
        _log.info("validating %s (%d events)", file.path, file.n_events)
        n = 0
        for batch in inputs.batches(index, batch_size):
            try:
                truth = read_truth(batch, gen_jets)
                for acc in accs.values():
                    acc.add(batch, truth)
            except DataFormatError as exc:
                msg = f"{file.path}: {exc}"
                raise DataFormatError(msg) from exc
            n += batch.n_events
        meta = file.metadata
        infos.append(
            FileInfo(
                file.path,
                n,
                meta.get("process", ""),
                meta.get("nEvents", ""),
                meta.get("l1scout_version", ""),
            )
        )
    summaries = {v: accs[v].summary(cards[v]) for v in inputs.views}
    return ValidationResult(infos, summaries, l1t_checks(summaries, cards))


def _prepare(out_dir: Path | str) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the output directory {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    return out


def write_report(
    files: Sequence[Path | str],
    out_dir: Path | str,
    *,
    command: str | None = None,
    batch_size: int = 50,
) -> Path:
    """Validate the files and write the page, the plots and ``numbers.json`` into ``out_dir``.

    :func:`run_validation` followed by :func:`render_report`.

    Args:
        files: Parquet files written by ``l1scout generate`` with detector views.
        out_dir: the output folder (created if needed; files in it are replaced).
        command: the command line, shown on the page.
        batch_size: events measured at a time.

    Returns:
        The path of ``out_dir/index.html``.

    Raises:
        DataFormatError: an input file is missing, unreadable or lacks a column.
        ConfigError: no file, or ``out_dir`` cannot be written.
    """
    _prepare(out_dir)
    return render_report(run_validation(files, batch_size=batch_size), out_dir, command=command)


def render_report(
    result: ValidationResult, out_dir: Path | str, *, command: str | None = None
) -> Path:
    """Write the plots (PNG), ``numbers.json`` and ``index.html`` of a validation into ``out_dir``.

    Returns:
        The path of ``out_dir/index.html``.

    Raises:
        ConfigError: ``out_dir`` cannot be written.
    """
    out = _prepare(out_dir)
    return write_page(result, draw_plots(result, out), out, command=command)
