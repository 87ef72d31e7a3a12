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
7. multiplicities per event and rho (the pileup pT density, central region);
8. standalone Level-1 muons (a view card with ``[muon_system]``, the L1T
   view): efficiency, pT, phi and eta resolution and wrong charges per region
   against the generator muons propagated to the second muon station
   (:mod:`~l1scout.detector.validation.l1_muons`).

With ``compare`` (``l1scout validate FILES --compare OTHER``) the other files,
typically made with the other pileup definition, are measured the same way
and the page shows both side by side
(:mod:`~l1scout.detector.validation.comparison`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from l1scout.detector.validation.accumulator import ViewAccumulator
from l1scout.detector.validation.checks import l1t_checks
from l1scout.detector.validation.comparison import PileupTruth, side_label
from l1scout.detector.validation.l1_muons import StandaloneMuonStudy
from l1scout.detector.validation.page import write_page
from l1scout.detector.validation.plots import draw_plots
from l1scout.detector.validation.reading import open_inputs, standalone_columns
from l1scout.detector.validation.results import (
    ComparisonSide,
    FileInfo,
    PileupComparison,
    ValidationResult,
    ViewSummary,
)
from l1scout.detector.validation.truth import read_truth
from l1scout.detector.view_card import ViewCard
from l1scout.errors import ConfigError, DataFormatError

__all__ = ["render_report", "run_validation", "write_report"]

_log = logging.getLogger(__name__)


def run_validation(
    files: Sequence[Path | str],
    *,
    batch_size: int = 50,
    compare: Sequence[Path | str] | None = None,
) -> ValidationResult:
    """Read the files and measure every view (see the module docstring).

    Args:
        files: Parquet files of ``l1scout generate``, all with the views of
            the first one.
        batch_size: events measured at a time.
        compare: other files (typically of the other pileup definition) to
            measure the same way and show beside *files*; they need the views
            of *files*.

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
    main = _measure(files, batch_size)
    comparison = None
    if compare:
        other = _measure(compare, batch_size, views=list(main.views))
        comparison = PileupComparison((main.side(), other.side()))
    return ValidationResult(main.files, main.views, l1t_checks(main.views, main.cards), comparison)


@dataclass(frozen=True)
class _Measured:
    """One set of files measured: per-file info, the views' summaries and cards, the generated pileup."""

    files: list[FileInfo]
    views: dict[str, ViewSummary]
    cards: dict[str, ViewCard | None]
    truth: dict[str, float]

    def side(self) -> ComparisonSide:
        return ComparisonSide(
            side_label([f.pileup_definition for f in self.files]),
            self.files,
            self.views,
            self.truth,
        )


def _measure(
    files: Sequence[Path | str], batch_size: int, views: Sequence[str] | None = None
) -> _Measured:
    """Measure the *views* (None: those of the first file) of every file."""
    inputs = open_inputs(files, views)
    cards: dict[str, ViewCard | None] = {}
    accs: dict[str, ViewAccumulator] = {}
    for view in inputs.views:
        card = cards[view] = inputs.cards.get(view)
        muons = None
        if card is not None and card.muon_system is not None:
            have = all(c in inputs.columns for c in standalone_columns(view, card))
            muons = StandaloneMuonStudy(view, card.muon_system, available=have)
        accs[view] = ViewAccumulator(
            view,
            inputs.jet_studies(view),
            cap=card.particle_flow.max_candidates if card is not None else 0,
            muons=muons,
        )
    gen_jets = sorted({jet.gen for acc in accs.values() for jet in acc.jets})
    pileup = PileupTruth()
    infos: list[FileInfo] = []
    for index, file in enumerate(inputs.files):
        _log.info("validating %s (%d events)", file.path, file.n_events)
        n = 0
        for batch in inputs.batches(index, batch_size):
            try:
                truth = read_truth(batch, gen_jets)
                pileup.add(truth)
                for acc in accs.values():
                    acc.add(batch, truth)
            except DataFormatError as exc:
                msg = f"{file.path}: {exc}"
                raise DataFormatError(msg) from exc
            n += batch.n_events
        meta = file.metadata
        provenance = file.pileup
        infos.append(
            FileInfo(
                file.path,
                n,
                meta.get("process", ""),
                meta.get("nEvents", ""),
                meta.get("l1scout_version", ""),
                provenance.definition,
                math.nan if provenance.mean is None else provenance.mean,
            )
        )
    summaries = {v: accs[v].summary(cards[v]) for v in inputs.views}
    return _Measured(infos, summaries, cards, pileup.numbers())


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
    compare: Sequence[Path | str] | None = None,
) -> Path:
    """Validate the files and write the page, the plots and ``numbers.json`` into ``out_dir``.

    :func:`run_validation` followed by :func:`render_report`.

    Args:
        files: Parquet files written by ``l1scout generate`` with detector views.
        out_dir: the output folder (created if needed; files in it are replaced).
        command: the command line, shown on the page.
        batch_size: events measured at a time.
        compare: files of another pileup definition, shown side by side.

    Returns:
        The path of ``out_dir/index.html``.

    Raises:
        DataFormatError: an input file is missing, unreadable or lacks a column.
        ConfigError: no file, or ``out_dir`` cannot be written.
    """
    _prepare(out_dir)
    result = run_validation(files, batch_size=batch_size, compare=compare)
    return render_report(result, out_dir, command=command)


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
