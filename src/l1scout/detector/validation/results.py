"""What a validation produces: per-file info, per-view summaries, checks, and the numbers' labels.

:func:`~l1scout.detector.validation.report.run_validation` returns a
:class:`ValidationResult`; the page (:mod:`~l1scout.detector.validation.page`)
and the plots (:mod:`~l1scout.detector.validation.plots`) show it, with the
labels of :func:`describe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l1scout._types import F64, I64
from l1scout.detector.validation.metrics import BinnedEfficiency, BinnedSpread, JetResponse

__all__ = ["Check", "FileInfo", "ValidationResult", "ViewSummary", "describe"]

_LABELS: dict[str, tuple[str, str]] = {
    "n_events": ("events", ""),
    "track_eff_hadron": ("tracking efficiency, charged hadrons pT > 1 GeV, |eta| < 1.2", ""),
    "track_eff_hadron_err": ("  its binomial error", ""),
    "track_eff_hadron_card": ("  the card's value (x acceptance) for the same particles", ""),
    "track_min_pt": ("smallest track pT (measured)", "GeV"),
    "track_min_gen_pt": ("smallest generated pT of a track's particle", "GeV"),
    "track_max_abs_eta": ("largest track |eta|", ""),
    "track_pt_resolution": ("track sigma(pT)/pT, charged hadrons 5-20 GeV, |eta| < 1.2", ""),
    "track_pt_resolution_card": ("  the card's value for the same tracks", ""),
    "track_dz_resolution": ("track dz resolution, prompt hard-scatter tracks", "mm"),
    "track_dz_pull_width": ("  width of (DZ - Z) / ErrorDZ (expect 1)", ""),
    "pv_dz_sigma": ("primary-vertex z resolution (robust sigma)", "mm"),
    "pv_efficiency": ("primary vertex within 1 mm of the hard scatter", ""),
    "n_vertices_mean": ("reconstructed vertices per event", ""),
    "n_true_vertices_mean": ("  generated collisions per event", ""),
    "met_sigma_x": ("MET resolution, x (robust sigma)", "GeV"),
    "met_sigma_y": ("MET resolution, y", "GeV"),
    "puppimet_sigma_x": ("PUPPI MET resolution, x", "GeV"),
    "puppimet_sigma_y": ("PUPPI MET resolution, y", "GeV"),
    "puppi_w_neutral_pu": ("mean PUPPI weight, neutral pileup candidates pT > 1 GeV", ""),
    "puppi_w_neutral_pv": ("mean PUPPI weight, neutral primary candidates pT > 1 GeV", ""),
    "puppi_pt_kept_pu": ("share of pileup pT kept by PUPPI (sum pT w / sum pT)", ""),
    "puppi_pt_kept_pv": ("share of primary pT kept by PUPPI", ""),
    "mult_PFPart": ("PF (CHS) candidates per event", ""),
    "mult_PUPPIPart": ("PUPPI candidates per event", ""),
    "mult_PUPPIPart_w": ("PUPPI candidates with w > 0 per event", ""),
    "mult_Electron": ("electrons per event", ""),
    "mult_MuonTight": ("tight muons per event", ""),
    "mult_PhotonTight": ("tight photons per event", ""),
    "max_PUPPIPart": ("most PUPPI candidates in an event", ""),
}


def describe(key: str) -> tuple[str, str]:
    """(label, unit) of a number of :attr:`ViewSummary.numbers`.

    >>> describe("pv_dz_sigma")
    ('primary-vertex z resolution (robust sigma)', 'mm')
    >>> describe("jet_JetPuppiAK4_response_50_80")
    ('JetPuppiAK4 median response pT/pT_gen, 50-80 GeV, |eta| < 2.4', '')
    """
    if key in _LABELS:
        return _LABELS[key]
    parts = key.split("_")
    if parts[0] == "jet" and len(parts) == 5:
        what = {"response": "median response pT/pT_gen", "resolution": "resolution (sigma/median)"}
        what.update({"matched": "share of generator jets matched"})
        return (
            f"{parts[1]} {what.get(parts[2], parts[2])}, {parts[3]}-{parts[4]} GeV, |eta| < 2.4",
            "",
        )
    if parts[0] == "mult":
        return f"{parts[1]} per event", ""
    return key, ""


@dataclass(frozen=True)
class FileInfo:
    """One input file: path, events read and its metadata (``""`` where absent)."""

    path: Path
    n_events: int
    process: str
    n_events_meta: str
    l1scout_version: str


@dataclass(frozen=True)
class Check:
    """A named pass/fail check with the numbers behind it and what it requires."""

    name: str
    passed: bool
    requirement: str
    values: dict[str, float]


@dataclass(frozen=True)
class ViewSummary:
    """Everything measured on one view: table numbers, binned curves and per-event arrays.

    Attributes:
        name: the view (``FullReco``, ``L1T``, ...).
        numbers: the table numbers, keys as in :func:`describe`.
        efficiency: tracking efficiency per ``<species>_pt`` / ``<species>_eta``
            (``expected`` holds the card's value; NaN without a card).
        pt_resolution: sigma(pT)/pT of central matched charged hadrons in bins
            of generated pT (``sigma``; ``median`` is the bias).
        pt_resolution_card: the card's mean relative resolution per bin.
        dz_resolution: robust sigma of DZ - Gen_Part_Z (mm) of prompt tracks
            with |eta| < 1.2 in bins of generated pT.
        dz_resolution_card: mean ErrorDZ per bin (mm).
        pv_dz: leading reconstructed minus true hard-scatter vertex z per event
            (mm, NaN without a vertex).
        n_vertices: reconstructed vertices per event.
        n_true_vertices: generated collisions per event.
        jets: response per reco jet collection.
        met: (x, y) residual per event of ``MET`` and ``PUPPIMET`` (GeV).
        puppi_hist: PuppiW histograms (counts over
            :data:`~l1scout.detector.validation.definitions.PUPPI_W_EDGES`) for
            ``charged_pv``, ``charged_pu``, ``neutral_pv``, ``neutral_pu``.
        n_puppi: PUPPI candidates per event.
    """

    name: str
    numbers: dict[str, float]
    efficiency: dict[str, BinnedEfficiency]
    pt_resolution: BinnedSpread
    pt_resolution_card: F64
    dz_resolution: BinnedSpread
    dz_resolution_card: F64
    pv_dz: F64
    n_vertices: I64
    n_true_vertices: I64
    jets: dict[str, JetResponse]
    met: dict[str, tuple[F64, F64]]
    puppi_hist: dict[str, I64]
    n_puppi: I64


@dataclass(frozen=True)
class ValidationResult:
    """The validation of a set of files: per-file info, per-view summaries and the checks."""

    files: list[FileInfo]
    views: dict[str, ViewSummary]
    checks: list[Check]

    @property
    def n_events(self) -> int:
        """Events read over all files."""
        return sum(f.n_events for f in self.files)
