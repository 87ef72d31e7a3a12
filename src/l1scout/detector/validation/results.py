"""What a validation produces: per-file info, per-view summaries, checks, and the numbers' labels.

:func:`~l1scout.detector.validation.report.run_validation` returns a
:class:`ValidationResult`; the page (:mod:`~l1scout.detector.validation.page`)
and the plots (:mod:`~l1scout.detector.validation.plots`) show it, with the
labels of :func:`describe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from l1scout._types import F64, I64
from l1scout.detector.validation.definitions import MUON_TABLE_PT
from l1scout.detector.validation.metrics import BinnedEfficiency, BinnedSpread, JetResponse

__all__ = [
    "Check",
    "ComparisonSide",
    "FileInfo",
    "MuonRegionCurves",
    "PileupComparison",
    "StandaloneMuonSummary",
    "ValidationResult",
    "ViewSummary",
    "describe",
    "muon_key",
]

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
    "rho_central": ("rho, central region of the view card (|eta| < 1.5), mean per event", "GeV"),
    "gen_pu_collisions_mean": ("generated pileup collisions per event", ""),
    "gen_pu_particles_per_collision": ("final-state particles per pileup collision", ""),
    "gen_pu_charged_central_per_collision": (
        "  charged ones with |eta| < 2.5 (the tracker's reach)",
        "",
    ),
}


_MUON_WINDOW = f"generator pT {MUON_TABLE_PT[0]:g}-{MUON_TABLE_PT[1]:g} GeV"
#: Labels of the standalone Level-1 muon numbers ``l1mu_<region>_<what>`` (:func:`muon_key`).
_MUON_LABELS: dict[str, tuple[str, str]] = {
    "n_gen": (f"generator muons, {_MUON_WINDOW}", ""),
    "efficiency": (f"efficiency (matched share of generator muons), {_MUON_WINDOW}", ""),
    "pt_resolution": (f"sigma(pT)/pT, robust, {_MUON_WINDOW}", ""),
    "pt_rms": ("  RMS of (pT - pT_gen)/pT_gen, tails included", ""),
    "pt_resolution_card": ("  the card's core curvature resolution for the same muons", ""),
    "phi_station_resolution": ("phi resolution at the second station (robust sigma)", "rad"),
    "eta_station_resolution": ("eta resolution at the second station (robust sigma)", ""),
    "phi_vertex_rms": ("RMS of phi - phi_gen at the vertex (the bending)", "rad"),
    "charge_misid": ("share of matched muons with the wrong charge", ""),
}


def muon_key(region: str, what: str) -> str:
    """The key of a standalone Level-1 muon number of one region (``what`` as :func:`describe` knows it).

    >>> muon_key("barrel", "pt_rms")
    'l1mu_barrel_pt_rms'
    """
    return f"l1mu_{region}_{what}"


def _describe_muon(key: str) -> tuple[str, str] | None:
    rest = key.removeprefix("l1mu_")
    if rest == "n_gen":
        return "standalone L1 muons: generator muons entering (all pT bins and regions)", ""
    if rest == "n_matched":
        return "  of which matched to a standalone L1 muon", ""
    for what in sorted(_MUON_LABELS, key=len, reverse=True):
        if rest.endswith(f"_{what}"):
            region = rest[: -len(what) - 1]
            label, unit = _MUON_LABELS[what]
            indent = "  " if label.startswith(" ") else ""
            return f"{indent}standalone L1 muons, {region}: {label.strip()}", unit
    return None


def describe(key: str) -> tuple[str, str]:
    """(label, unit) of a number of :attr:`ViewSummary.numbers`.

    >>> describe("pv_dz_sigma")
    ('primary-vertex z resolution (robust sigma)', 'mm')
    >>> describe("jet_JetPuppiAK4_response_50_80")
    ('JetPuppiAK4 median response pT/pT_gen, 50-80 GeV, |eta| < 2.4', '')
    >>> describe("l1mu_endcap_phi_vertex_rms")
    ('standalone L1 muons, endcap: RMS of phi - phi_gen at the vertex (the bending)', 'rad')
    """
    if key in _LABELS:
        return _LABELS[key]
    if key.startswith("l1mu_"):
        muon = _describe_muon(key)
        if muon is not None:
            return muon
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
    """One input file: path, events read and its metadata (``""`` where absent).

    ``pileup_definition`` is what its pileup collisions are
    (:func:`l1scout.io.footer.pileup_provenance`: ``collide2v``,
    ``inelastic``, ``none``, ``unknown``); ``pileup_mean`` its mean pileup
    (NaN where not recorded).
    """

    path: Path
    n_events: int
    process: str
    n_events_meta: str
    l1scout_version: str
    pileup_definition: str = ""
    pileup_mean: float = math.nan


@dataclass(frozen=True)
class Check:
    """A named pass/fail check with the numbers behind it and what it requires."""

    name: str
    passed: bool
    requirement: str
    values: dict[str, float]


@dataclass(frozen=True)
class MuonRegionCurves:
    """Standalone Level-1 muons of one region against the generator muons, in bins of generator pT.

    The region is the card's (``region_names`` by ``abs_eta_edges``) of the
    generator muon's |eta| at the second station. Widths are
    :func:`~l1scout.detector.validation.metrics.robust_sigma` unless named RMS;
    the ``*_card`` curves are the view card's expectation averaged over the
    bin's matched muons (NaN in empty bins).

    Attributes:
        region: the region's name.
        efficiency: share of generator muons matched (``passed``: matched).
        pt: (pT_L1 - pT_gen) / pT_gen of the matched muons (``median``: bias).
        pt_rms: its RMS per bin, tails included.
        pt_card: the card's core curvature resolution.
        phi_station: phi_L1 - phi_gen at the station (rad).
        phi_station_card: the card's phi width at the station (rad).
        eta_station: eta_L1 - eta_gen at the station.
        eta_station_card: the card's eta width at the station.
        phi_vertex: phi_L1 - phi_gen at production (rad): ``sigma`` robust width.
        phi_vertex_rms: its RMS per bin (rad).
        bending: median of q_gen (phi_L1 - phi_gen at production) per bin (rad).
        charge_misid: share of matched muons with the wrong charge
            (``passed``: wrong).
    """

    region: str
    efficiency: BinnedEfficiency
    pt: BinnedSpread
    pt_rms: F64
    pt_card: F64
    phi_station: BinnedSpread
    phi_station_card: F64
    eta_station: BinnedSpread
    eta_station_card: F64
    phi_vertex: BinnedSpread
    phi_vertex_rms: F64
    bending: F64
    charge_misid: BinnedEfficiency


@dataclass(frozen=True)
class StandaloneMuonSummary:
    """The standalone Level-1 muons of a view measured against the generator muons.

    Attributes:
        collection: the view's collection (``L1T_MuonStandalone``).
        note: why nothing was measured (no columns in the files, no generator
            muon); empty when measured.
        n_gen: generator muons that entered (in the pT bins, within the last
            region edge).
        n_matched: those matched to a standalone muon.
        max_dr: the matching distance at the station (Delta R).
        abs_eta_edges: the card's region edges in |eta| at the station.
        regions: the curves per region, in the card's order.
    """

    collection: str
    note: str
    n_gen: int
    n_matched: int
    max_dr: float
    abs_eta_edges: tuple[float, ...]
    regions: dict[str, MuonRegionCurves]


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
        standalone_muons: the standalone Level-1 muons against the generator
            muons (None for a view whose card has no ``[muon_system]``).
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
    standalone_muons: StandaloneMuonSummary | None = None


@dataclass(frozen=True)
class ComparisonSide:
    """One set of files of a side-by-side comparison of pileup definitions.

    Attributes:
        label: the files' pileup definition (``collide2v``, ``inelastic``;
            the definitions joined by ``+`` where the files disagree).
        files: the files.
        views: every number of each view measured on them.
        truth: the generated pileup: ``gen_pu_collisions_mean``,
            ``gen_pu_particles_per_collision``,
            ``gen_pu_charged_central_per_collision`` (see :func:`describe`).
    """

    label: str
    files: list[FileInfo]
    views: dict[str, ViewSummary]
    truth: dict[str, float]

    @property
    def n_events(self) -> int:
        """Events read over the side's files."""
        return sum(f.n_events for f in self.files)


@dataclass(frozen=True)
class PileupComparison:
    """The same measurements on files of two pileup definitions: the validated files first."""

    sides: tuple[ComparisonSide, ComparisonSide]


@dataclass(frozen=True)
class ValidationResult:
    """The validation of a set of files: per-file info, per-view summaries and the checks.

    ``comparison`` holds the side-by-side measurement of other files (another
    pileup definition) where one was asked for.
    """

    files: list[FileInfo]
    views: dict[str, ViewSummary]
    checks: list[Check]
    comparison: PileupComparison | None = None

    @property
    def n_events(self) -> int:
        """Events read over all files."""
        return sum(f.n_events for f in self.files)
