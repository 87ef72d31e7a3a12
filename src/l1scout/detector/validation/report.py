"""Physics validation of the detector views of l1scout files: numbers, checks, plots, a page.

:func:`run_validation` reads Parquet files written by ``l1scout generate``
batch by batch (only the columns it needs), links every view's candidates,
vertices, jets and MET to the generator truth, and turns the result into
numbers per view (:mod:`l1scout.detector.validation.metrics`) and named checks
of the L1T view against the offline one. :func:`write_report` adds the plots
(matplotlib with the mplhep CMS style), ``numbers.json`` and a self-contained
``index.html`` showing them.

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

import html
import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from l1scout._files import atomic_write_bytes
from l1scout._html import figure_html, json_safe, page_head, plot_style, save_png
from l1scout._jagged import event_index, offsets_from_counts
from l1scout._version import __version__
from l1scout.detector.param import BinnedFunction
from l1scout.detector.validation import metrics as m
from l1scout.detector.view_card import VIEW_NAMES, ViewCard, load_view_card
from l1scout.errors import ConfigError, DataFormatError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Check",
    "FileInfo",
    "ValidationResult",
    "ViewSummary",
    "describe",
    "detect_views",
    "render_report",
    "run_validation",
    "write_report",
]

_log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Track-efficiency bins: pT (GeV, |eta| < 2.4) and eta (pT > 2 GeV).
EFF_PT_EDGES = np.array(
    [0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.5, 8.0, 10.0, 15.0, 25.0, 50.0, 100.0]
)
EFF_ETA_EDGES = np.linspace(-4.0, 4.0, 33)
#: Track-resolution bins in generator pT (GeV).
RES_PT_EDGES = np.array([1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0])
#: Jet bins in generator pT (GeV): AK4 and AK8.
JET_PT_EDGES = np.array([20.0, 30.0, 50.0, 80.0, 120.0, 200.0, 500.0])
FAT_JET_PT_EDGES = np.array([200.0, 300.0, 400.0, 600.0, 1000.0])
PUPPI_W_EDGES = np.linspace(0.0, 1.0, 51)
#: Acceptance of the jet study: the L1T tracker.
JET_ETA_MAX = 2.4
#: Central tracks of the table numbers.
CENTRAL_ETA = 1.2
#: A particle is prompt if produced within this distance of the hard-scatter vertex (mm).
PROMPT_MM = 0.01
#: PV identified when the leading vertex is this close to the true one (mm).
PV_WINDOW_MM = 1.0
#: L1T requirements checked on the files (the L1T card's acceptance and cap).
L1T_PT_MIN, L1T_ETA_MAX, L1T_MAX_CANDIDATES = 2.0, 2.4, 1000
#: Float16 spacing near |eta| = 2.4 is 2^-9; allow for the rounding of the stored Eta.
ETA_TOLERANCE = 0.005
#: "PUPPI removes pileup": the PU pT share kept is below this fraction of the PV one.
PUPPI_PU_OVER_PV_MAX = 0.25

_SPECIES = ("electron", "muon", "charged_hadron")
_SPECIES_LABEL = {"electron": "electrons", "muon": "muons", "charged_hadron": "charged hadrons"}
#: (reco collection, generator collection, Delta R, bins, table bin).
_JETS = (
    ("JetAK4", "Gen_JetAK4", 0.2, JET_PT_EDGES, (50.0, 80.0)),
    ("JetPuppiAK4", "Gen_JetAK4", 0.2, JET_PT_EDGES, (50.0, 80.0)),
    ("JetAK8", "Gen_JetAK8", 0.4, FAT_JET_PT_EDGES, (300.0, 400.0)),
    ("JetPuppiAK8", "Gen_JetAK8", 0.4, FAT_JET_PT_EDGES, (300.0, 400.0)),
)
_COUNTED = ("PFPart", "PUPPIPart", "Electron", "MuonTight", "PhotonTight")
_VIEW_COLORS = {"FullReco": "tab:blue", "L1T": "tab:red"}
_OTHER_COLORS = ("tab:green", "tab:purple", "tab:orange", "tab:brown")

_GEN = ("PID", "Status", "PT", "Eta", "Charge", "IsPU", "Mass", "X", "Y", "Z")
_TRUTH_COLUMNS = (
    *(f"Gen_Part_{f}" for f in _GEN),
    "Vertex_Index",
    "Vertex_X",
    "Vertex_Y",
    "Vertex_Z",
    "Gen_MissingET_MET",
    "Gen_MissingET_Phi",
)
_CAND = ("fUniqueID", "Charge", "PT", "Eta", "DZ", "ErrorDZ", "IsPU", "PuppiW")


def _view_required(view: str) -> tuple[str, ...]:
    return (
        *(f"{view}_PUPPIPart_{f}" for f in _CAND),
        f"{view}_PFPart_PT",
        f"{view}_Electron_PT",
        f"{view}_MuonTight_PT",
        f"{view}_PhotonTight_PT",
        f"{view}_Vertex_Z",
        f"{view}_MET_MET",
        f"{view}_MET_Phi",
        f"{view}_PUPPIMET_MET",
        f"{view}_PUPPIMET_Phi",
    )


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
        puppi_hist: PuppiW histograms (counts over :data:`PUPPI_W_EDGES`) for
            ``charged_pv``, ``charged_pu``, ``neutral_pv``, ``neutral_pu``.
        n_puppi: PUPPI candidates per event.
    """

    name: str
    numbers: dict[str, float]
    efficiency: dict[str, m.BinnedEfficiency]
    pt_resolution: m.BinnedSpread
    pt_resolution_card: F64
    dz_resolution: m.BinnedSpread
    dz_resolution_card: F64
    pv_dz: F64
    n_vertices: I64
    n_true_vertices: I64
    jets: dict[str, m.JetResponse]
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


# ---------------------------------------------------------------- reading


def detect_views(names: Sequence[str]) -> list[str]:
    """The detector views of a file, from its column names (prefix of ``<View>_PFPart_PT``).

    >>> detect_views(["Gen_Part_PT", "L1T_PFPart_PT", "FullReco_PFPart_PT"])
    ['FullReco', 'L1T']
    """
    suffix = "_PFPart_PT"
    found = [n[: -len(suffix)] for n in names if n.endswith(suffix) and len(n) > len(suffix)]
    known = [v for v in VIEW_NAMES if v in found]
    return known + sorted(v for v in found if v not in VIEW_NAMES)


def _open(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        msg = f"{path}: no such file"
        raise DataFormatError(msg)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"{path}: not a readable Parquet file ({exc})"
        raise DataFormatError(msg) from exc


def _metadata(pf: pq.ParquetFile) -> dict[str, str]:
    """The file's key-value metadata (``process``, ``nEvents``, ``settings``, ...)."""
    raw = {**(pf.schema_arrow.metadata or {}), **(pf.metadata.metadata or {})}
    return {k.decode(): v.decode(errors="replace") for k, v in raw.items() if k != b"ARROW:schema"}


def _card_of(view: str, metadata: dict[str, str]) -> ViewCard | None:
    """The view card a file was made with (from its ``settings``), else the shipped one."""
    try:
        settings = json.loads(metadata.get("settings", "{}"))
        for dump in settings.get("views", []) if isinstance(settings, dict) else []:
            if isinstance(dump, dict) and dump.get("name") == view:
                return ViewCard.model_validate(dump)
    except (ValueError, TypeError) as exc:
        _log.debug("view %s: card in the file metadata unreadable (%s)", view, exc)
    if view in VIEW_NAMES:
        return load_view_card(view)
    _log.warning("view %s: no view card found; the card curves are left out", view)
    return None


def _jagged(batch: pa.RecordBatch, name: str) -> tuple[I64, npt.NDArray[Any]]:
    """(offsets, flat values) of a list column of a batch."""
    col = batch.column(name)
    lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = offsets_from_counts(lengths)
    values = pc.list_flatten(col).to_numpy(zero_copy_only=False)
    if len(values) != offsets[-1]:
        msg = f"column {name}: {len(values)} values for {offsets[-1]} list entries"
        raise DataFormatError(msg)
    return offsets, values


def _f(batch: pa.RecordBatch, name: str) -> F64:
    return np.asarray(_jagged(batch, name)[1], dtype=np.float64)


def _i(batch: pa.RecordBatch, name: str) -> I64:
    return np.asarray(_jagged(batch, name)[1], dtype=np.int64)


def _off(batch: pa.RecordBatch, name: str) -> I64:
    return _jagged(batch, name)[0]


def _subset_offsets(offsets: I64, mask: npt.NDArray[np.bool_]) -> I64:
    return offsets_from_counts(np.bincount(event_index(offsets)[mask], minlength=len(offsets) - 1))


@dataclass
class _Truth:
    """The generator truth of one batch."""

    n_events: int
    gen_off: I64
    pid: I64
    status: I64
    pt: F64
    eta: F64
    charge: I64
    is_pu: I64
    mass: F64
    z: F64
    prompt: npt.NDArray[np.bool_]
    hs_z: F64
    n_vertices: I64
    met_x: F64
    met_y: F64
    jets: dict[str, tuple[I64, F64, F64, F64]]


def _truth(batch: pa.RecordBatch, gen_jets: Sequence[str]) -> _Truth:
    gen_off = _off(batch, "Gen_Part_PT")
    n_events = len(gen_off) - 1
    v_off = _off(batch, "Vertex_Index")
    v_index = _i(batch, "Vertex_Index")
    hard = v_index == 0
    hs = {c: m.first_where(_f(batch, f"Vertex_{c}"), v_off, hard) for c in ("X", "Y", "Z")}
    ev = event_index(gen_off)
    x, y, z = (_f(batch, f"Gen_Part_{c}") for c in ("X", "Y", "Z"))
    dist = np.sqrt((x - hs["X"][ev]) ** 2 + (y - hs["Y"][ev]) ** 2 + (z - hs["Z"][ev]) ** 2)
    met_off = _off(batch, "Gen_MissingET_MET")
    met_x, met_y = m.met_components(
        m.first_per_event(_f(batch, "Gen_MissingET_MET"), met_off),
        m.first_per_event(_f(batch, "Gen_MissingET_Phi"), met_off),
    )
    jets = {
        name: (
            _off(batch, f"{name}_PT"),
            _f(batch, f"{name}_PT"),
            _f(batch, f"{name}_Eta"),
            _f(batch, f"{name}_Phi"),
        )
        for name in gen_jets
    }
    return _Truth(
        n_events=n_events,
        gen_off=gen_off,
        pid=_i(batch, "Gen_Part_PID"),
        status=_i(batch, "Gen_Part_Status"),
        pt=_f(batch, "Gen_Part_PT"),
        eta=_f(batch, "Gen_Part_Eta"),
        charge=_i(batch, "Gen_Part_Charge"),
        is_pu=_i(batch, "Gen_Part_IsPU"),
        mass=_f(batch, "Gen_Part_Mass"),
        z=z,
        prompt=dist < PROMPT_MM,
        hs_z=hs["Z"],
        n_vertices=m.counts(v_off),
        met_x=met_x,
        met_y=met_y,
        jets=jets,
    )


@dataclass
class _ViewAccumulator:
    """Compact per-batch extracts of one view, concatenated at the end."""

    name: str
    jets: list[tuple[str, str, float, F64, tuple[float, float]]]
    parts: defaultdict[str, list[npt.NDArray[Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    sums: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    hists: dict[str, I64] = field(default_factory=dict)
    track_min_pt: float = math.inf
    track_min_gen_pt: float = math.inf
    track_max_abs_eta: float = -math.inf
    n_tracks: int = 0
    #: the view's cap on candidates per event (0: none); where an event hits it,
    #: only particles above the lowest kept candidate's pT enter the tracking
    #: efficiency, so that the cap is not counted as tracking inefficiency
    cap: int = 0

    def _put(self, **arrays: npt.NDArray[Any]) -> None:
        for key, value in arrays.items():
            self.parts[key].append(value)

    def get(self, key: str, dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
        chunks = self.parts.get(key, [])
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)

    def add(self, batch: pa.RecordBatch, t: _Truth) -> None:
        v = self.name
        c_off = _off(batch, f"{v}_PUPPIPart_PT")
        uid = _i(batch, f"{v}_PUPPIPart_fUniqueID")
        charge = _i(batch, f"{v}_PUPPIPart_Charge")
        pt = _f(batch, f"{v}_PUPPIPart_PT")
        eta = _f(batch, f"{v}_PUPPIPart_Eta")
        self._tracks(
            t,
            c_off,
            uid,
            charge,
            pt,
            eta,
            _f(batch, f"{v}_PUPPIPart_DZ"),
            _f(batch, f"{v}_PUPPIPart_ErrorDZ"),
        )
        self._puppi(
            pt, charge, _i(batch, f"{v}_PUPPIPart_IsPU"), _f(batch, f"{v}_PUPPIPart_PuppiW"), c_off
        )
        # vertices
        vz_off = _off(batch, f"{v}_Vertex_Z")
        pv_z = m.first_per_event(_f(batch, f"{v}_Vertex_Z"), vz_off)
        self._put(pv_dz=pv_z - t.hs_z, n_vertices=m.counts(vz_off), n_true_vertices=t.n_vertices)
        # MET
        for coll in ("MET", "PUPPIMET"):
            met_off = _off(batch, f"{v}_{coll}_MET")
            mx, my = m.met_components(
                m.first_per_event(_f(batch, f"{v}_{coll}_MET"), met_off),
                m.first_per_event(_f(batch, f"{v}_{coll}_Phi"), met_off),
            )
            self.parts[f"{coll}_dx"].append(mx - t.met_x)
            self.parts[f"{coll}_dy"].append(my - t.met_y)
        # multiplicities
        for coll in _COUNTED:
            self.parts[f"mult_{coll}"].append(m.counts(_off(batch, f"{v}_{coll}_PT")))
        for reco, gen, max_dr, _, _ in self.jets:
            self._jets(batch, t, reco, gen, max_dr)

    def _tracks(
        self, t: _Truth, c_off: I64, uid: I64, charge: I64, pt: F64, eta: F64, dz: F64, err_dz: F64
    ) -> None:
        gi = m.track_gen_index(t.gen_off, c_off, uid, charge)
        is_track = charge != 0
        if is_track.any():
            self.n_tracks += int(is_track.sum())
            self.track_min_pt = min(self.track_min_pt, float(pt[is_track].min()))
            self.track_max_abs_eta = max(self.track_max_abs_eta, float(np.abs(eta[is_track]).max()))
            linked = gi[gi >= 0]
            if len(linked):
                self.track_min_gen_pt = min(self.track_min_gen_pt, float(t.pt[linked].min()))
        match = m.match_tracks(t.gen_off, c_off, uid, charge)
        floor = np.zeros(len(c_off) - 1)
        if self.cap > 0:
            n_cand = np.diff(c_off)
            capped = np.flatnonzero(n_cand >= self.cap)
            floor[capped] = pt[c_off[capped + 1] - 1]  # candidates are sorted by pT
        gen_event = event_index(t.gen_off)
        above = t.pt > floor[gen_event]
        sel = np.flatnonzero((t.status == 1) & (t.charge != 0) & (t.is_pu == 0) & above)
        mi = match[sel]
        ok = mi >= 0
        reco_pt = np.full(len(sel), np.nan)
        reco_pt[ok] = pt[mi[ok]]
        dz_res = np.full(len(sel), np.nan)
        dz_res[ok] = dz[mi[ok]] - t.z[sel[ok]]
        dz_err = np.full(len(sel), np.nan)
        dz_err[ok] = err_dz[mi[ok]]
        self._put(
            gen_pt=t.pt[sel],
            gen_eta=t.eta[sel],
            gen_mass=t.mass[sel],
            gen_species=m.species(t.pid[sel]),
            gen_prompt=t.prompt[sel],
            matched=ok,
            reco_pt=reco_pt,
            dz_res=dz_res,
            dz_err=dz_err,
        )

    def _puppi(self, pt: F64, charge: I64, is_pu: I64, w: F64, c_off: I64) -> None:
        groups = {
            "charged_pv": (charge != 0) & (is_pu == 0),
            "charged_pu": (charge != 0) & (is_pu != 0),
            "neutral_pv": (charge == 0) & (is_pu == 0),
            "neutral_pu": (charge == 0) & (is_pu != 0),
        }
        for key, sel in groups.items():
            h = np.histogram(np.clip(w[sel], 0.0, 1.0), bins=PUPPI_W_EDGES)[0].astype(np.int64)
            self.hists[key] = self.hists.get(key, np.zeros_like(h)) + h
        for key in ("pu", "pv"):
            sel = (is_pu != 0) if key == "pu" else (is_pu == 0)
            self.sums[f"pt_{key}"] += float(pt[sel].sum())
            self.sums[f"ptw_{key}"] += float((pt[sel] * w[sel]).sum())
            neutral = sel & (charge == 0) & (pt > 1.0)
            self.sums[f"w_neutral_{key}"] += float(w[neutral].sum())
            self.sums[f"n_neutral_{key}"] += float(neutral.sum())
        positive = np.bincount(event_index(c_off)[w > 0], minlength=len(c_off) - 1)
        self._put(mult_PUPPIPart_w=positive.astype(np.int64))

    def _jets(self, batch: pa.RecordBatch, t: _Truth, reco: str, gen: str, max_dr: float) -> None:
        g_off, g_pt, g_eta, g_phi = t.jets[gen]
        central = np.abs(g_eta) < JET_ETA_MAX
        r_off = _off(batch, f"{self.name}_{reco}_PT")
        r_pt = _f(batch, f"{self.name}_{reco}_PT")
        match = m.match_closest(
            g_eta[central],
            g_phi[central],
            _subset_offsets(g_off, central),
            _f(batch, f"{self.name}_{reco}_Eta"),
            _f(batch, f"{self.name}_{reco}_Phi"),
            r_off,
            max_dr,
        )
        matched_pt = np.full(len(match), np.nan)
        matched_pt[match >= 0] = r_pt[match[match >= 0]]
        self._put(**{f"{reco}_gen_pt": g_pt[central], f"{reco}_reco_pt": matched_pt})
        self.parts[f"mult_{reco}"].append(m.counts(r_off))

    # ------------------------------------------------------------ summary

    def summary(self, card: ViewCard | None) -> ViewSummary:
        numbers: dict[str, float] = {"n_events": float(len(self.get("pv_dz")))}
        efficiency = self._efficiency(card, numbers)
        pt_res, pt_res_card, dz_res, dz_res_card = self._resolution(card, numbers)
        pv_dz = self.get("pv_dz")
        with_pv = np.isfinite(pv_dz)
        numbers["pv_dz_sigma"] = m.robust_sigma(pv_dz)
        numbers["pv_efficiency"] = (
            float(np.mean(with_pv & (np.abs(np.where(with_pv, pv_dz, np.inf)) < PV_WINDOW_MM)))
            if len(pv_dz)
            else math.nan
        )
        n_vertices = self.get("n_vertices", np.int64)
        n_true = self.get("n_true_vertices", np.int64)
        numbers["n_vertices_mean"] = _mean(n_vertices)
        numbers["n_true_vertices_mean"] = _mean(n_true)
        jets: dict[str, m.JetResponse] = {}
        for reco, _, _, edges, (lo, hi) in self.jets:
            resp = m.jet_response(self.get(f"{reco}_gen_pt"), self.get(f"{reco}_reco_pt"), edges)
            jets[reco] = resp
            med, res = resp.at(lo, hi)
            k = next(i for i in range(len(edges) - 1) if np.isclose(edges[i], lo))
            tag = f"{lo:.0f}_{hi:.0f}"
            numbers[f"jet_{reco}_response_{tag}"] = med
            numbers[f"jet_{reco}_resolution_{tag}"] = res
            numbers[f"jet_{reco}_matched_{tag}"] = (
                resp.n_matched[k] / resp.n_ref[k] if resp.n_ref[k] else math.nan
            )
        met = {}
        for coll in ("MET", "PUPPIMET"):
            dx, dy = self.get(f"{coll}_dx"), self.get(f"{coll}_dy")
            met[coll] = (dx, dy)
            numbers[f"{coll.lower()}_sigma_x"] = m.robust_sigma(dx)
            numbers[f"{coll.lower()}_sigma_y"] = m.robust_sigma(dy)
        s = self.sums
        for key in ("pu", "pv"):
            n = s[f"n_neutral_{key}"]
            numbers[f"puppi_w_neutral_{key}"] = s[f"w_neutral_{key}"] / n if n else math.nan
        for key in ("pu", "pv"):
            total = s[f"pt_{key}"]
            numbers[f"puppi_pt_kept_{key}"] = s[f"ptw_{key}"] / total if total > 0 else math.nan
        for coll in ("PFPart", "PUPPIPart", "PUPPIPart_w", "Electron", "MuonTight", "PhotonTight"):
            numbers[f"mult_{coll}"] = _mean(self.get(f"mult_{coll}"))
        for reco, *_ in self.jets:
            numbers[f"mult_{reco}"] = _mean(self.get(f"mult_{reco}"))
        n_puppi = self.get("mult_PUPPIPart", np.int64)
        numbers["max_PUPPIPart"] = float(n_puppi.max()) if len(n_puppi) else math.nan
        empty = np.zeros(len(PUPPI_W_EDGES) - 1, dtype=np.int64)
        hists = {
            k: self.hists.get(k, empty)
            for k in ("charged_pv", "charged_pu", "neutral_pv", "neutral_pu")
        }
        return ViewSummary(
            name=self.name,
            numbers=numbers,
            efficiency=efficiency,
            pt_resolution=pt_res,
            pt_resolution_card=pt_res_card,
            dz_resolution=dz_res,
            dz_resolution_card=dz_res_card,
            pv_dz=pv_dz,
            n_vertices=n_vertices,
            n_true_vertices=n_true,
            jets=jets,
            met=met,
            puppi_hist=hists,
            n_puppi=n_puppi,
        )

    def _efficiency(
        self, card: ViewCard | None, numbers: dict[str, float]
    ) -> dict[str, m.BinnedEfficiency]:
        pt, eta, mass = self.get("gen_pt"), self.get("gen_eta"), self.get("gen_mass")
        kind = self.get("gen_species", np.int8)
        matched = self.get("matched", bool)
        expected = np.full(len(pt), np.nan)
        if card is not None:
            tables = card.tracking.efficiency
            for k, name in enumerate(_SPECIES):
                sel = kind == k
                expected[sel] = _card_value(getattr(tables, name), pt[sel], eta[sel], mass[sel])
            acc = (np.abs(eta) <= card.tracking.eta_max) & (pt > card.tracking.pt_min)
            expected = np.where(acc, expected, 0.0)
        out: dict[str, m.BinnedEfficiency] = {}
        for k, name in enumerate(_SPECIES):
            sel = kind == k
            in_eta = sel & (np.abs(eta) < JET_ETA_MAX)
            out[f"{name}_pt"] = m.binned_efficiency(
                pt[in_eta], matched[in_eta], EFF_PT_EDGES, expected[in_eta]
            )
            above = sel & (pt > 2.0)
            out[f"{name}_eta"] = m.binned_efficiency(
                eta[above], matched[above], EFF_ETA_EDGES, expected[above]
            )
        table = (kind == m.HADRON) & (pt > 1.0) & (np.abs(eta) < CENTRAL_ETA)
        eff, err = m.binomial_efficiency([int((table & matched).sum())], [int(table.sum())])
        numbers["track_eff_hadron"] = float(eff[0])
        numbers["track_eff_hadron_err"] = float(err[0])
        numbers["track_eff_hadron_card"] = (
            float(np.mean(expected[table])) if table.any() else math.nan
        )
        numbers["track_min_pt"] = self.track_min_pt if self.n_tracks else math.nan
        numbers["track_min_gen_pt"] = self.track_min_gen_pt if self.n_tracks else math.nan
        numbers["track_max_abs_eta"] = self.track_max_abs_eta if self.n_tracks else math.nan
        return out

    def _resolution(
        self, card: ViewCard | None, numbers: dict[str, float]
    ) -> tuple[m.BinnedSpread, F64, m.BinnedSpread, F64]:
        pt, eta, mass = self.get("gen_pt"), self.get("gen_eta"), self.get("gen_mass")
        kind = self.get("gen_species", np.int8)
        matched = self.get("matched", bool)
        reco_pt = self.get("reco_pt")
        sel = matched & (kind == m.HADRON) & (np.abs(eta) < CENTRAL_ETA) & (pt > 0)
        rel = np.where(sel, (reco_pt - pt) / np.where(pt > 0, pt, 1.0), np.nan)
        pt_res = m.binned_spread(pt[sel], rel[sel], RES_PT_EDGES)
        card_res = np.full(len(RES_PT_EDGES) - 1, np.nan)
        window = sel & (pt >= 5.0) & (pt < 20.0)
        numbers["track_pt_resolution"] = m.robust_sigma(rel[window])
        numbers["track_pt_resolution_card"] = math.nan
        if card is not None:
            table = card.tracking.momentum_resolution.charged_hadron
            value = _card_value(table, pt[sel], eta[sel], mass[sel])
            card_res = m.binned_mean(pt[sel], value, RES_PT_EDGES)
            if window.any():
                numbers["track_pt_resolution_card"] = float(
                    np.mean(_card_value(table, pt[window], eta[window], mass[window]))
                )
        prompt = matched & self.get("gen_prompt", bool)
        dz_res, dz_err = self.get("dz_res"), self.get("dz_err")
        central = prompt & (np.abs(eta) < CENTRAL_ETA)
        dz = m.binned_spread(pt[central], dz_res[central], RES_PT_EDGES)
        dz_card = m.binned_mean(pt[central], dz_err[central], RES_PT_EDGES)
        numbers["track_dz_resolution"] = m.robust_sigma(dz_res[prompt])
        good = prompt & (dz_err > 0)
        numbers["track_dz_pull_width"] = m.robust_sigma(dz_res[good] / dz_err[good])
        return pt_res, card_res, dz, dz_card


def _card_value(table: BinnedFunction, pt: F64, eta: F64, mass: F64) -> F64:
    """Evaluate a card table on generated particles, whatever its variable (pT, energy or p)."""
    p = pt * np.cosh(eta)
    x = {"pt": pt, "p": p, "energy": np.sqrt(p * p + mass * mass)}[table.variable]
    return np.asarray(table(x, eta), dtype=np.float64)


def _mean(x: npt.NDArray[Any]) -> float:
    return float(np.mean(x)) if len(x) else math.nan


def _columns(path: Path, pf: pq.ParquetFile, views: Sequence[str]) -> list[str]:
    """The columns to read from a file (checks that the required ones are there)."""
    names = set(pf.schema_arrow.names)
    if not detect_views(list(names)):
        msg = (
            f"{path}: no detector view in the file (no column <View>_PFPart_PT, e.g. "
            f"FullReco_PFPart_PT); write it with `l1scout generate` and its views"
        )
        raise DataFormatError(msg)
    needed = list(_TRUTH_COLUMNS)
    for view in views:
        needed += _view_required(view)
    for name in needed:
        if name not in names:
            msg = f"{path}: missing column {name}, which the validation needs"
            raise DataFormatError(msg)
    gen_jets = [g for g in ("Gen_JetAK4", "Gen_JetAK8") if f"{g}_PT" in names]
    needed += [f"{g}_{f}" for g in gen_jets for f in ("PT", "Eta", "Phi")]
    for view in views:
        for reco, gen, *_ in _JETS:
            if gen in gen_jets and f"{view}_{reco}_PT" in names:
                needed += [f"{view}_{reco}_{f}" for f in ("PT", "Eta", "Phi")]
    return needed


def run_validation(files: Sequence[Path | str], *, batch_size: int = 50) -> ValidationResult:
    """Read the files and measure every view (see the module docstring).

    Args:
        files: Parquet files of ``l1scout generate``, all with the views of
            the first one.
        batch_size: events read at a time.

    Raises:
        DataFormatError: a file is missing, unreadable, has no view or lacks
            a column; the message names the file and the column.
        ConfigError: no file given, or ``batch_size`` < 1.
    """
    paths = [Path(f) for f in files]
    if not paths:
        msg = "files: give at least one Parquet file"
        raise ConfigError(msg)
    if batch_size < 1:
        msg = f"batch_size must be at least 1, got {batch_size}"
        raise ConfigError(msg)
    opened = [(p, _open(p)) for p in paths]
    first_names = opened[0][1].schema_arrow.names
    views = detect_views(first_names)
    plans = [(p, pf, _columns(p, pf, views)) for p, pf in opened]
    # jet collections measured: those every file has
    common = set.intersection(*(set(cols) for _, _, cols in plans))
    first_metadata = _metadata(opened[0][1])
    cards: dict[str, ViewCard | None] = {}
    accs: dict[str, _ViewAccumulator] = {}
    for view in views:
        cards[view] = _card_of(view, first_metadata)
        jets = [
            (reco, gen, dr, edges, tb)
            for reco, gen, dr, edges, tb in _JETS
            if f"{view}_{reco}_PT" in common and f"{gen}_PT" in common
        ]
        card = cards[view]
        accs[view] = _ViewAccumulator(
            view, jets, cap=card.particle_flow.max_candidates if card is not None else 0
        )
    gen_jets = sorted({gen for acc in accs.values() for _, gen, *_ in acc.jets})
    infos: list[FileInfo] = []
    for path, pf, cols in plans:
        _log.info("validating %s (%d events)", path, pf.metadata.num_rows)
        wanted = [c for c in cols if c in common]
        n = 0
        try:
            for batch in pf.iter_batches(batch_size=batch_size, columns=wanted):
                truth = _truth(batch, gen_jets)
                for acc in accs.values():
                    acc.add(batch, truth)
                n += truth.n_events
        except (pa.ArrowInvalid, OSError) as exc:
            msg = f"{path}: corrupt data ({exc})"
            raise DataFormatError(msg) from exc
        except DataFormatError as exc:
            msg = f"{path}: {exc}"
            raise DataFormatError(msg) from exc
        meta = _metadata(pf)
        infos.append(
            FileInfo(
                path,
                n,
                meta.get("process", ""),
                meta.get("nEvents", ""),
                meta.get("l1scout_version", ""),
            )
        )
    summaries = {v: accs[v].summary(cards[v]) for v in views}
    return ValidationResult(infos, summaries, _checks(summaries, cards))


def _checks(views: dict[str, ViewSummary], cards: dict[str, ViewCard | None]) -> list[Check]:
    """The named checks of the L1T view against FullReco (only when both are there)."""
    if "FullReco" not in views or "L1T" not in views:
        return []
    full, l1t = views["FullReco"].numbers, views["L1T"].numbers
    l1t_card = cards.get("L1T")
    cap = l1t_card.particle_flow.max_candidates if l1t_card is not None else 0
    cap = cap or L1T_MAX_CANDIDATES
    min_gen = l1t["track_min_gen_pt"]
    max_eta = l1t["track_max_abs_eta"]
    out = [
        Check(
            "l1t_no_tracks_below_2gev",
            not min_gen < L1T_PT_MIN,
            f"every L1T track comes from a particle with generated pT >= {L1T_PT_MIN} GeV "
            "(the cut is on the true pT; the measured pT is smeared around it)",
            {"min_gen_pt": min_gen, "min_measured_pt": l1t["track_min_pt"]},
        ),
        Check(
            "l1t_no_tracks_beyond_eta_2p4",
            not max_eta > L1T_ETA_MAX + ETA_TOLERANCE,
            f"every L1T track has |eta| <= {L1T_ETA_MAX} (+{ETA_TOLERANCE} for float16 rounding)",
            {"max_abs_eta": max_eta},
        ),
        Check(
            "l1t_track_resolution_worse",
            l1t["track_pt_resolution"] > full["track_pt_resolution"],
            "L1T track sigma(pT)/pT (charged hadrons 5-20 GeV, |eta| < 1.2) above FullReco's",
            {"L1T": l1t["track_pt_resolution"], "FullReco": full["track_pt_resolution"]},
        ),
        Check(
            "l1t_vertex_resolution_worse",
            l1t["pv_dz_sigma"] > full["pv_dz_sigma"],
            "L1T primary-vertex z resolution above FullReco's",
            {"L1T": l1t["pv_dz_sigma"], "FullReco": full["pv_dz_sigma"]},
        ),
    ]
    for name, view in views.items():
        pu, pv = view.numbers["puppi_pt_kept_pu"], view.numbers["puppi_pt_kept_pv"]
        out.append(
            Check(
                f"puppi_removes_pileup_{name}",
                pu < PUPPI_PU_OVER_PV_MAX * pv,
                f"share of pileup pT kept by PUPPI below {PUPPI_PU_OVER_PV_MAX} x that of primary pT",
                {"pu_kept": pu, "pv_kept": pv},
            )
        )
    most = l1t["max_PUPPIPart"]
    out.append(
        Check(
            "l1t_at_most_1000_candidates",
            not most > cap,
            f"at most {cap} L1T PUPPI candidates per event",
            {"max_per_event": most, "cap": float(cap)},
        )
    )
    return out


# ---------------------------------------------------------------- plots


def _color(view: str, k: int) -> str:
    return _VIEW_COLORS.get(view, _OTHER_COLORS[k % len(_OTHER_COLORS)])


def _figure(nrows: int, ncols: int) -> tuple[Figure, npt.NDArray[Any]]:
    import matplotlib.pyplot as plt

    width, height = 8.5 * ncols, 7.0 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    # fixed margins in inches: tight_layout triples the drawing time of these figures
    fig.subplots_adjust(
        left=1.4 / width,
        right=1 - 0.3 / width,
        bottom=1.1 / height,
        top=1 - 0.6 / height,
        wspace=0.3,
        hspace=0.35,
    )
    return fig, axes


def _log_x(ax: Axes, edges: F64) -> None:
    """Log x axis over the bins, labelled with plain numbers at 1-2-5 steps."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(edges[0], edges[-1])
    steps = [f * 10.0**e for e in range(-1, 4) for f in (1.0, 2.0, 5.0)]
    ax.set_xticks([t for t in steps if edges[0] <= t <= edges[-1]])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _save(fig: Figure, path: Path) -> Path:
    return save_png(fig, path, dpi=70)


def _plot_efficiency(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(2, 3)
    for col, name in enumerate(_SPECIES):
        for row, var in enumerate(("pt", "eta")):
            ax = axes[row, col]
            for k, (view, s) in enumerate(result.views.items()):
                b = s.efficiency[f"{name}_{var}"]
                color = _color(view, k)
                half = 0.5 * np.diff(b.edges)
                ax.errorbar(
                    b.centers,
                    b.efficiency,
                    yerr=b.error,
                    xerr=half,
                    fmt="o",
                    ms=4,
                    color=color,
                    label=view,
                )
                if np.isfinite(b.expected).any():
                    ax.stairs(
                        b.expected,
                        b.edges,
                        baseline=None,
                        color=color,
                        ls="--",
                        label=f"{view} card",
                    )
            ax.set_ylim(0, 1.15)
            ax.set_ylabel("tracking efficiency")
            if var == "pt":
                _log_x(ax, EFF_PT_EDGES)
                ax.set_xlabel(r"generated $p_T$ [GeV] ($|\eta| < 2.4$)")
            else:
                ax.set_xlabel(r"generated $\eta$ ($p_T > 2$ GeV)")
            ax.set_title(f"{_SPECIES_LABEL[name]}, hard scatter", fontsize=18)
            _legend(ax, fontsize=13, loc="lower right")
    return _save(fig, out / "tracking_efficiency.png")


def _measured_and_expected(
    ax: Axes, measured: m.BinnedSpread, expected: F64, color: str, view: str, what: str
) -> None:
    """Measured widths per bin (markers) and the expected ones (dashed steps, when known)."""
    ax.plot(measured.centers, measured.sigma, "o", color=color, label=view)
    if np.isfinite(expected).any():
        ax.stairs(
            expected, measured.edges, baseline=None, color=color, ls="--", label=f"{view} {what}"
        )


def _plot_track_resolution(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 2)
    ax_pt, ax_dz = axes[0]
    for k, (view, s) in enumerate(result.views.items()):
        color = _color(view, k)
        _measured_and_expected(ax_pt, s.pt_resolution, s.pt_resolution_card, color, view, "card")
        _measured_and_expected(
            ax_dz, s.dz_resolution, s.dz_resolution_card, color, view, "mean ErrorDZ"
        )
    ax_pt.set_ylabel(r"$\sigma(p_T)/p_T$ (robust)")
    ax_pt.set_title(r"charged hadrons, $|\eta| < 1.2$", fontsize=18)
    ax_dz.set_ylabel(r"$\sigma(d_z - z_{gen})$ [mm] (robust)")
    ax_dz.set_title(r"prompt hard-scatter tracks, $|\eta| < 1.2$", fontsize=18)
    for ax in (ax_pt, ax_dz):
        _log_x(ax, RES_PT_EDGES)
        ax.set_xlabel(r"generated $p_T$ [GeV]")
        ax.set_ylim(bottom=0)
        _legend(ax, fontsize=13)
    return _save(fig, out / "track_resolution.png")


def _plot_vertices(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 2)
    ax_dz, ax_n = axes[0]
    sigmas = [s.numbers["pv_dz_sigma"] for s in result.views.values()]
    finite = [x for x in sigmas if math.isfinite(x)]
    half = min(max(5.0 * max(finite, default=0.0), 0.05), 10.0)
    dz_edges = np.linspace(-half, half, 51)
    top = max([int(s.n_vertices.max(initial=0)) for s in result.views.values()] + [1])
    n_edges = np.arange(-0.5, top + 1.5, max(1, (top + 2) // 60))
    for k, (view, s) in enumerate(result.views.items()):
        color = _color(view, k)
        dz = np.clip(s.pv_dz[np.isfinite(s.pv_dz)], dz_edges[0], dz_edges[-1])
        label = f"{view}: $\\sigma$ = {s.numbers['pv_dz_sigma'] * 1e3:.0f} $\\mu$m"
        ax_dz.stairs(np.histogram(dz, dz_edges)[0], dz_edges, color=color, label=label)
        ax_n.stairs(np.histogram(s.n_vertices, n_edges)[0], n_edges, color=color, label=view)
    ax_dz.set_xlabel(r"$z_{PV}^{reco} - z_{HS}^{gen}$ [mm] (overflow in the edge bins)")
    ax_dz.set_ylabel("events")
    ax_n.set_xlabel("reconstructed vertices per event")
    ax_n.set_ylabel("events")
    first = next(iter(result.views.values()), None)
    if first is not None and len(first.n_true_vertices):
        ax_n.axvline(
            float(np.mean(first.n_true_vertices)),
            color="gray",
            ls=":",
            label="mean generated collisions",
        )
    _legend(ax_dz, fontsize=13)
    _legend(ax_n, fontsize=13)
    return _save(fig, out / "vertices.png")


def _plot_jets(result: ValidationResult, out: Path, kind: str) -> Path | None:
    colls = ("JetAK4", "JetPuppiAK4") if kind == "ak4" else ("JetAK8", "JetPuppiAK8")
    if not any(c in s.jets for s in result.views.values() for c in colls):
        return None
    fig, axes = _figure(1, 2)
    ax_r, ax_s = axes[0]
    for k, (view, s) in enumerate(result.views.items()):
        color = _color(view, k)
        for coll in colls:
            if coll not in s.jets:
                continue
            r = s.jets[coll]
            style = "s--" if "Puppi" in coll else "o-"
            label = f"{view} {'PUPPI' if 'Puppi' in coll else 'CHS'}"
            ax_r.plot(r.centers, r.median, style, color=color, label=label)
            ax_s.plot(r.centers, r.resolution, style, color=color, label=label)
    ax_r.axhline(1.0, color="gray", lw=1)
    ax_r.set_ylabel(r"median $p_T / p_T^{gen}$")
    ax_s.set_ylabel(r"$\sigma(p_T / p_T^{gen})$ / median")
    ax_s.set_ylim(bottom=0)
    radius = "0.4" if kind == "ak4" else "0.8"
    for ax in (ax_r, ax_s):
        _log_x(ax, JET_PT_EDGES if kind == "ak4" else FAT_JET_PT_EDGES)
        ax.set_xlabel(r"generator jet $p_T$ [GeV]")
        ax.set_title(f"anti-kT R = {radius}, $|\\eta^{{gen}}| < 2.4$", fontsize=18)
        _legend(ax, fontsize=13)
    return _save(fig, out / f"jets_{kind}.png")


def _plot_met(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 2)
    widths = [
        s.numbers[k] for s in result.views.values() for k in ("met_sigma_x", "puppimet_sigma_x")
    ]
    finite = [w for w in widths if math.isfinite(w)]
    half = 5.0 * max(finite) if finite and max(finite) > 0 else 100.0
    edges = np.linspace(-half, half, 51)
    for col, comp in enumerate(("x", "y")):
        ax = axes[0, col]
        for k, (view, s) in enumerate(result.views.items()):
            color = _color(view, k)
            for coll, ls in (("MET", "-"), ("PUPPIMET", "--")):
                values = s.met[coll][col]
                values = np.clip(values[np.isfinite(values)], edges[0], edges[-1])
                sigma = s.numbers[f"{coll.lower()}_sigma_{comp}"]
                ax.stairs(
                    np.histogram(values, edges)[0],
                    edges,
                    color=color,
                    ls=ls,
                    label=f"{view} {coll}: {sigma:.1f} GeV",
                )
        ax.set_xlabel(f"$E_{{T,{comp}}}^{{miss}} - E_{{T,{comp}}}^{{miss,gen}}$ [GeV]")
        ax.set_ylabel("events")
        _legend(ax, fontsize=12)
    return _save(fig, out / "met.png")


def _plot_puppi(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(len(result.views), 2)
    for row, (view, s) in enumerate(result.views.items()):
        for col, charge in enumerate(("charged", "neutral")):
            ax = axes[row, col]
            for origin, color in (("pv", "tab:green"), ("pu", "tab:gray")):
                h = s.puppi_hist[f"{charge}_{origin}"]
                label = "primary (IsPU 0)" if origin == "pv" else "pileup (IsPU 1)"
                ax.stairs(h, PUPPI_W_EDGES, color=color, label=f"{label}: {int(h.sum())}")
            if any(int(s.puppi_hist[f"{charge}_{o}"].sum()) for o in ("pv", "pu")):
                ax.set_yscale("log")
                ax.set_ylim(bottom=0.5)
            ax.set_xlabel("PUPPI weight")
            ax.set_ylabel("candidates")
            ax.set_title(f"{view}, {charge} candidates", fontsize=18)
            _legend(ax, fontsize=13, loc="upper center")
    return _save(fig, out / "puppi_weights.png")


def _plot_multiplicity(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 1)
    ax = axes[0, 0]
    top = max([int(s.n_puppi.max(initial=0)) for s in result.views.values()] + [1])
    edges = np.linspace(0, top * 1.05 + 1, 41)
    for k, (view, s) in enumerate(result.views.items()):
        ax.stairs(np.histogram(s.n_puppi, edges)[0], edges, color=_color(view, k), label=view)
    if "L1T" in result.views:
        ax.axvline(L1T_MAX_CANDIDATES, color="gray", ls=":", label="L1T cap")
    ax.set_xlabel("PUPPI candidates per event")
    ax.set_ylabel("events")
    _legend(ax, fontsize=13)
    return _save(fig, out / "multiplicity.png")


_PLOTS: tuple[tuple[str, Callable[[ValidationResult, Path], Path | None]], ...] = (
    (
        "Tracking efficiency (markers) and the view card's table x acceptance (dashed)",
        _plot_efficiency,
    ),
    ("Track pT and dz resolution", _plot_track_resolution),
    ("Primary vertex", _plot_vertices),
    ("AK4 jets: response and resolution", lambda r, o: _plot_jets(r, o, "ak4")),
    ("AK8 jets: response and resolution", lambda r, o: _plot_jets(r, o, "ak8")),
    ("Missing transverse momentum", _plot_met),
    ("PUPPI weights", _plot_puppi),
    ("PUPPI candidates per event", _plot_multiplicity),
)


# ---------------------------------------------------------------- page and json


def _curves(s: ViewSummary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, b in s.efficiency.items():
        out[f"track_eff_{key}"] = {
            "edges": b.edges,
            "total": b.total,
            "passed": b.passed,
            "efficiency": b.efficiency,
            "error": b.error,
            "card": b.expected,
        }
    out["track_pt_resolution"] = {
        "edges": s.pt_resolution.edges,
        "n": s.pt_resolution.n,
        "sigma": s.pt_resolution.sigma,
        "bias": s.pt_resolution.median,
        "card": s.pt_resolution_card,
    }
    out["track_dz_resolution"] = {
        "edges": s.dz_resolution.edges,
        "n": s.dz_resolution.n,
        "sigma": s.dz_resolution.sigma,
        "error_dz": s.dz_resolution_card,
    }
    for coll, r in s.jets.items():
        out[f"jet_{coll}"] = {
            "edges": r.edges,
            "n_gen": r.n_ref,
            "n_matched": r.n_matched,
            "median": r.median,
            "resolution": r.resolution,
        }
    out["puppi_weight_hist"] = {"edges": PUPPI_W_EDGES, **s.puppi_hist}
    return out


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x == int(x) and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.4g}"


_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1500px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-family: monospace; }
tr.pass td.status { background: #c8f0c8; } tr.fail td.status { background: #f6c4c4; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0 1.5em 0; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def _html(result: ValidationResult, plots: list[tuple[str, Path]], command: str | None) -> str:
    e = html.escape
    views = list(result.views)
    parts = [
        *page_head(f"l1scout validation: {', '.join(views)}", _CSS),
        f"<h1>l1scout detector validation: {e(', '.join(views))}</h1>",
        f"<p>{result.n_events} events from {len(result.files)} file(s); page made by l1scout {e(__version__)}.</p>",
    ]
    if command:
        parts.append(f"<p>Command: <code>{e(command)}</code></p>")
    parts.append(
        "<h2>Files</h2><table><tr><th>file</th><th>process</th><th>events read</th><th>nEvents</th><th>l1scout</th></tr>"
    )
    parts.extend(
        f"<tr><td>{e(str(f.path))}</td><td>{e(f.process)}</td><td class='num'>{f.n_events}</td>"
        f"<td class='num'>{e(f.n_events_meta)}</td><td>{e(f.l1scout_version)}</td></tr>"
        for f in result.files
    )
    parts.append("</table>")
    if result.checks:
        n_pass = sum(c.passed for c in result.checks)
        parts.append(f"<h2>Checks ({n_pass} of {len(result.checks)} pass)</h2>")
        parts.append(
            "<table><tr><th>check</th><th>status</th><th>numbers</th><th>requirement</th></tr>"
        )
        for c in result.checks:
            values = ", ".join(f"{k} = {_fmt(v)}" for k, v in c.values.items())
            css = "pass" if c.passed else "fail"
            parts.append(
                f"<tr class='{css}'><td><code>{e(c.name)}</code></td><td class='status'>{css.upper()}</td>"
                f"<td>{e(values)}</td><td>{e(c.requirement)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append(
            "<h2>Checks</h2><p>The checks compare L1T with FullReco and need both views.</p>"
        )
    parts.append("<h2>Numbers</h2><table><tr><th>quantity</th><th>unit</th>")
    parts += [f"<th>{e(v)}</th>" for v in views]
    parts.append("<th>key</th></tr>")
    keys: list[str] = []
    for s in result.views.values():
        keys += [k for k in s.numbers if k not in keys]
    for key in keys:
        label, unit = describe(key)
        indent = " style='padding-left: 2em'" if label.startswith(" ") else ""
        cells = "".join(
            f"<td class='num'>{_fmt(s.numbers.get(key, math.nan))}</td>"
            for s in result.views.values()
        )
        parts.append(
            f"<tr><td{indent}>{e(label.strip())}</td><td>{e(unit)}</td>{cells}<td><code>{e(key)}</code></td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Plots</h2>")
    for title, path in plots:
        parts.append(figure_html(title, path.name))
    parts.append(
        "<p>Robust sigma: half the distance between the 15.9 % and 84.1 % quantiles. "
        "Efficiency errors: binomial. Raw numbers and curves: <a href='numbers.json'>numbers.json</a>.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


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
        batch_size: events read at a time.

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
    plots: list[tuple[str, Path]] = []
    with plot_style():
        for title, plot in _PLOTS:
            _log.info("plotting: %s", title)
            path = plot(result, out)
            if path is not None:
                plots.append((title, path))
    numbers = {
        "l1scout_version": __version__,
        "command": command,
        "n_events": result.n_events,
        "files": [
            {
                "path": str(f.path),
                "events": f.n_events,
                "process": f.process,
                "nEvents": f.n_events_meta,
                "l1scout_version": f.l1scout_version,
            }
            for f in result.files
        ],
        "views": list(result.views),
        "numbers": {v: s.numbers for v, s in result.views.items()},
        "labels": {k: list(describe(k)) for s in result.views.values() for k in s.numbers},
        "checks": {
            c.name: {"passed": c.passed, "requirement": c.requirement, "values": c.values}
            for c in result.checks
        },
        "curves": {v: _curves(s) for v, s in result.views.items()},
        "plots": [p.name for _, p in plots],
    }
    try:
        atomic_write_bytes(
            out / "numbers.json", (json.dumps(json_safe(numbers), indent=1) + "\n").encode()
        )
        page = atomic_write_bytes(out / "index.html", _html(result, plots, command).encode())
    except OSError as exc:
        msg = f"cannot write into {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    _log.info("validation page: %s", page)
    return page
