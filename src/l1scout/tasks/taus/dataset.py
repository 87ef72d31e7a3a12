"""From sample files to the tau candidates the soft-tau study trains and evaluates on.

Two steps:

1. :func:`load_tau_events` reads the files once (with
   :func:`l1scout.io.dataset.open_dataset`, file by file in chunks) into
   :class:`TauEvents`: per event its sample, split and ``Event_Number``; the
   flat L1T PUPPI candidates (:data:`~l1scout.tasks.taus.data.PUPPI_FIELDS`)
   with per-event offsets; and the prompt hadronic truth taus
   (:func:`~l1scout.tasks.taus.truth.truth_taus` ``.hadronic()``) of the
   signals. **Zero bias has no truth**: its files hold no ``Gen_Part``
   (:mod:`l1scout.tasks.taus.data`) and every zero-bias candidate is a fake;
   minimum bias (Pythia SoftQCD) has no prompt tau, and a tau from a D_s
   decay is not a target of the study (``from_hadron``).
2. :func:`build_tau_dataset` makes the candidates of one method
   (:data:`~l1scout.tasks.taus.config.METHODS`), matches them to the truth taus
   (:func:`~l1scout.tasks.taus.truth.match_taus`, one to one, ``dR < 0.2``)
   and computes the NNPuppiTau inputs (n, 80), the transformer inputs (with
   ``IsPU`` per constituent) and the targets: a :class:`TauDataset`.

**Splits.** Every event's split (0 train, 1 validation, 2 test) is
:func:`l1scout.io.torchdata.split_of` of (file identity, ``Event_Number``)
with the signal or the zero-bias fractions of
:class:`~l1scout.tasks.taus.config.SplitsConfig`: stable across runs, file
orders and machines. A candidate inherits its event's split.

**Candidate pT.** With ``puppi_weights`` (the default) a PUPPI candidate's pT
is ``PT x PuppiW`` everywhere: in the builders, the NNPuppiTau inputs and the
transformer inputs; candidates of weight 0 are in no tau candidate.

:func:`scan_clue` tunes CLUE's (dc, rhoc, dm) on tau efficiency and fakes.

**Memory.** :class:`TauEvents` holds every PUPPI candidate: at pileup 200
about 1,000 per event, 8 fields, about 60 kB per event (350,000 events of a
full-size study: about 21 GB). The candidates of a :class:`TauDataset` are
small (a few per event, 80 + 16 x 11 floats each).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.paths import Source
from l1scout.io.ragged import field_like, jagged
from l1scout.io.torchdata import split_of
from l1scout.reco.taus import (
    TauCandidates,
    ak4_tau_candidates,
    clue_tau_candidates,
    nnpuppitau_candidates,
    puppi_type,
)
from l1scout.tasks.rates import Efficiency, efficiency
from l1scout.tasks.taus.config import METHODS, CandidatesConfig, ClueScanConfig, SplitsConfig
from l1scout.tasks.taus.data import PUPPI_FIELDS
from l1scout.tasks.taus.nnpuppitau import nnpuppitau_inputs
from l1scout.tasks.taus.transformer import TransformerInputs, transformer_inputs
from l1scout.tasks.taus.transformer_training import TauTargets
from l1scout.tasks.taus.truth import TruthTaus, match_taus, truth_taus

__all__ = [
    "ClueScanPoint",
    "TauDataset",
    "TauEvents",
    "build_tau_dataset",
    "load_tau_events",
    "scan_clue",
]

_log = logging.getLogger(__name__)

_EVENT_NUMBER = "Event_Number"
#: visible-pT range of the taus the study is after (GeV), the scan's efficiency denominator
_VIS_PT_RANGE = (5.0, 60.0)
_GEN_COLUMNS = tuple(
    f"Gen_Part_{f}" for f in ("PT", "PID", "Eta", "Phi", "Mass", "Charge", "M1", "Z")
)


@dataclass(frozen=True, eq=False)
class TauEvents:
    """The events of a study: samples, splits, PUPPI candidates and truth taus (flat + offsets).

    Attributes:
        samples: sample names, the zero bias first (index 0).
        event_sample: per event, the index of its sample in :attr:`samples`.
        event_split: per event, 0 train, 1 validation, 2 test.
        event_number: per event, ``Event_Number`` (the row in its file where absent).
        offsets: PUPPI candidates of event k: ``offsets[k]:offsets[k + 1]``.
        pt: PUPPI ``PT`` (GeV, unweighted).
        eta: ``Eta``.
        phi: ``Phi`` (rad).
        pid: ``PID`` (PDG id of a track; 22 / 0 for ECAL / HCAL neutrals).
        charge: ``Charge`` (e).
        dz: ``DZ`` (mm; 0 for neutrals).
        puppi_w: ``PuppiW`` in [0, 1].
        is_pu: ``IsPU`` truth (1: from a pileup collision).
        taus: the prompt hadronic truth taus of every event (none in zero bias).
    """

    samples: tuple[str, ...]
    event_sample: I64
    event_split: npt.NDArray[np.int8]
    event_number: I64
    offsets: I64
    pt: F64
    eta: F64
    phi: F64
    pid: I64
    charge: I64
    dz: F64
    puppi_w: F64
    is_pu: npt.NDArray[np.int8]
    taus: TruthTaus

    @property
    def n_events(self) -> int:
        """Events of every sample."""
        return len(self.event_sample)

    @property
    def zero_bias(self) -> str:
        """The zero-bias sample's name."""
        return self.samples[0]

    def weighted_pt(self, puppi_weights: bool = True) -> F64:
        """PUPPI pT as the builders use it (GeV): ``PT x PuppiW``, or ``PT``."""
        out: F64 = self.pt * self.puppi_w if puppi_weights else self.pt
        return out


@dataclass(frozen=True, eq=False)
class TauDataset:
    """The tau candidates of one method over every event of a study.

    Attributes:
        method: the builder (:data:`~l1scout.tasks.taus.config.METHODS`).
        samples: sample names, zero bias first.
        event_offsets: candidates of event k: ``event_offsets[k]:event_offsets[k + 1]``
            (the di-tau search groups them so).
        event_sample: per event, its sample index.
        event_split: per event, 0 train, 1 validation, 2 test.
        pt: candidate pT (GeV), the builder's.
        eta: candidate pseudorapidity.
        phi: candidate azimuth (rad).
        event: per candidate, its event.
        sample: per candidate, its event's sample index.
        split: per candidate, its event's split.
        n_constituents: per candidate, its constituents (all, not only the
            network's slots).
        tau: per candidate, its truth tau (index into :attr:`taus`, -1: a fake).
        nnpuppitau: float32 (n, 80), NNPuppiTau's inputs.
        transformer: the transformer's inputs, ``is_pu`` per constituent.
        targets: is_tau, charge (0 for fakes), visible pT and vz (NaN for fakes).
        taus: the truth taus of every event (prompt, hadronic).
        tau_candidate: per truth tau, its candidate (-1: none).
    """

    method: str
    samples: tuple[str, ...]
    event_offsets: I64
    event_sample: I64
    event_split: npt.NDArray[np.int8]
    pt: F64
    eta: F64
    phi: F64
    event: I64
    sample: I64
    split: npt.NDArray[np.int8]
    n_constituents: I64
    tau: I64
    nnpuppitau: F32
    transformer: TransformerInputs
    targets: TauTargets
    taus: TruthTaus
    tau_candidate: I64

    def __len__(self) -> int:
        return len(self.pt)

    @property
    def is_tau(self) -> B:
        """Per candidate: matched to a truth tau."""
        out: B = self.tau >= 0
        return out

    @property
    def decay_mode(self) -> I64:
        """Per candidate: its tau's decay mode (-2 for a fake)."""
        out: I64 = np.where(self.is_tau, self.taus.decay_mode[np.maximum(self.tau, 0)], -2)
        return out


# -- reading ------------------------------------------------------------------------------


def _open(source: Source, columns: Sequence[str], what: str) -> Dataset:
    ds = open_dataset(source, columns=list(columns), hub=False)
    if not isinstance(ds, Dataset):  # hub=False: never a HubDataset
        msg = f"{what}: expected local files, got {source!r}"
        raise ConfigError(msg)
    if not all(_EVENT_NUMBER in f.physical for f in ds.files):
        msg = f"{what}: every file needs {_EVENT_NUMBER} (the splits hash it)"
        raise DataFormatError(msg)
    return ds.with_columns([*ds.columns, _EVENT_NUMBER])


def _empty_truth(n_events: int) -> TruthTaus:
    values: dict[str, np.ndarray] = {}
    for f in fields(TruthTaus)[1:]:
        kind = {"is_leptonic": np.bool_, "from_hadron": np.bool_}.get(f.name)
        ints = ("gen_index", "charge", "n_prong", "n_pi0", "decay_mode")
        values[f.name] = np.zeros(0, kind or (np.int64 if f.name in ints else np.float64))
    return TruthTaus(offsets=np.zeros(n_events + 1, np.int64), **values)


def _concat_truth(parts: Sequence[TruthTaus]) -> TruthTaus:
    counts = np.concatenate([np.diff(p.offsets) for p in parts])
    values = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(TruthTaus)[1:]
    }
    return TruthTaus(offsets=offsets_from_counts(counts), **values)


def load_tau_events(
    zero_bias: Source,
    signals: Mapping[str, Source],
    *,
    splits: SplitsConfig | None = None,
    zero_bias_name: str = "zero_bias",
    view: str = "L1T",
) -> TauEvents:
    """Read the samples into :class:`TauEvents` (module docstring).

    Args:
        zero_bias: the zero-bias files (a folder, a glob, a list of files).
        signals: signal name -> its files (they need ``Gen_Part``).
        splits: the split fractions (default :class:`~l1scout.tasks.taus.config.SplitsConfig`).
        zero_bias_name: the zero-bias sample's name in :attr:`TauEvents.samples`.
        view: the view of the PUPPI candidates.

    Raises:
        ConfigError: no file found, a signal named like the zero bias.
        DataFormatError: a file lacks a column (named), or columns disagree.
    """
    splits = splits or SplitsConfig()
    if zero_bias_name in signals:
        msg = f"signals: {zero_bias_name!r} names the zero bias; give the signal another name"
        raise ConfigError(msg)
    prefix = f"{view}_PUPPIPart"
    puppi = [f"{prefix}_{f}" for f in PUPPI_FIELDS]
    names = (zero_bias_name, *signals)
    sources = (zero_bias, *signals.values())
    per_event: dict[str, list[np.ndarray]] = {"sample": [], "split": [], "number": []}
    flat: dict[str, list[np.ndarray]] = {f: [] for f in PUPPI_FIELDS}
    counts: list[I64] = []
    truth: list[TruthTaus] = []
    for index, (name, source) in enumerate(zip(names, sources, strict=True)):
        signal = index > 0
        ds = _open(source, [*puppi, *(_GEN_COLUMNS if signal else ())], f"sample {name!r}")
        fractions = splits.signal if signal else splits.zero_bias
        for file in ds.files:
            for chunk in ds.iter_file(file):
                n = len(chunk)
                numbers = np.asarray(chunk[_EVENT_NUMBER], dtype=np.int64).reshape(n, -1)[:, 0]
                per_event["sample"].append(np.full(n, index, np.int64))
                per_event["split"].append(split_of(file.identity, numbers, fractions))
                per_event["number"].append(numbers)
                off, pt = jagged(chunk, f"{prefix}_PT", np.float64)
                counts.append(np.diff(off))
                flat["PT"].append(pt)
                for f in PUPPI_FIELDS[1:]:
                    flat[f].append(field_like(chunk, prefix, f, off, np.float64))
                truth.append(truth_taus(chunk).hadronic() if signal else _empty_truth(n))
    if not counts:
        msg = "no events in the samples"
        raise DataFormatError(msg)
    cat = {k: np.concatenate(v) for k, v in flat.items()}
    events = TauEvents(
        samples=names,
        event_sample=np.concatenate(per_event["sample"]),
        event_split=np.concatenate(per_event["split"]).astype(np.int8),
        event_number=np.concatenate(per_event["number"]),
        offsets=offsets_from_counts(np.concatenate(counts)),
        pt=cat["PT"],
        eta=cat["Eta"],
        phi=cat["Phi"],
        pid=cat["PID"].astype(np.int64),
        charge=cat["Charge"].astype(np.int64),
        dz=cat["DZ"],
        puppi_w=cat["PuppiW"],
        is_pu=cat["IsPU"].astype(np.int8),
        taus=_concat_truth(truth),
    )
    _log.info(
        "%d events (%s), %d PUPPI candidates, %d prompt hadronic taus",
        events.n_events,
        ", ".join(f"{s}: {int(np.sum(events.event_sample == i))}" for i, s in enumerate(names)),
        len(events.pt),
        len(events.taus),
    )
    return events


# -- candidates ---------------------------------------------------------------------------


def _candidates(
    events: TauEvents,
    method: str,
    cfg: CandidatesConfig,
    puppi_weights: bool,
) -> TauCandidates:
    w = events.puppi_w if puppi_weights else None
    args = (events.offsets, events.pt, events.eta, events.phi)
    if method == "clue":
        c = cfg.clue
        return clue_tau_candidates(*args, weights=w, dc=c.dc, rhoc=c.rhoc, dm=c.dm, pt_min=c.pt_min)
    if method == "ak4":
        return ak4_tau_candidates(*args, weights=w, pt_min=cfg.ak4_pt_min)
    if method == "nnpuppitau":
        return nnpuppitau_candidates(
            *args,
            events.pid,
            events.charge,
            weights=w,
            pt_min=cfg.nnpuppitau_pt_min,
            max_taus=cfg.nnpuppitau_max_taus,
        )
    msg = f"method: expected one of {', '.join(METHODS)}, got {method!r}"
    raise ConfigError(msg)


def build_tau_dataset(
    events: TauEvents,
    method: str,
    cfg: CandidatesConfig | None = None,
    *,
    puppi_weights: bool = True,
) -> TauDataset:
    """The candidates of *method* with their truth, inputs and targets.

    Args:
        events: the study's events (:func:`load_tau_events`).
        method: ``"clue"``, ``"ak4"`` or ``"nnpuppitau"``.
        cfg: the builders' parameters and the matching distance.
        puppi_weights: candidates' pT is ``PT x PuppiW`` (module docstring).

    Raises:
        ConfigError: an unknown method.
    """
    cfg = cfg or CandidatesConfig()
    cand = _candidates(events, method, cfg, puppi_weights)
    m = match_taus(cand.offsets, cand.eta, cand.phi, events.taus, max_dr=cfg.match_dr)
    ev = event_index(cand.offsets)
    idx = cand.constituents
    ptw = events.weighted_pt(puppi_weights)
    nn = nnpuppitau_inputs(
        ptw[idx],
        events.eta[idx],
        events.phi[idx],
        puppi_type(events.pid[idx], events.charge[idx]),
        events.eta[cand.seed],
        events.phi[cand.seed],
        cand.constituent_offsets,
    )
    tr = transformer_inputs(
        cand.constituent_offsets,
        pt=ptw[idx],
        eta=events.eta[idx],
        phi=events.phi[idx],
        dz=events.dz[idx],
        charge=events.charge[idx],
        pid=events.pid[idx],
        axis_eta=cand.eta,
        axis_phi=cand.phi,
        is_pu=events.is_pu[idx],
        n_constituents=cfg.n_constituents,
    )
    tau = m.candidate_to_tau
    matched = tau >= 0
    t = np.maximum(tau, 0)
    taus = events.taus
    targets = TauTargets(
        is_tau=matched,
        charge=np.where(matched, taus.charge[t] if len(taus) else 0, 0).astype(np.int64),
        pt=np.where(matched, taus.vis_pt[t] if len(taus) else np.nan, np.nan),
        vz=np.where(matched, taus.vz[t] if len(taus) else np.nan, np.nan),
    )
    return TauDataset(
        method=method,
        samples=events.samples,
        event_offsets=cand.offsets,
        event_sample=events.event_sample,
        event_split=events.event_split,
        pt=cand.pt,
        eta=cand.eta,
        phi=cand.phi,
        event=ev,
        sample=events.event_sample[ev],
        split=events.event_split[ev],
        n_constituents=cand.n_constituents,
        tau=tau,
        nnpuppitau=nn,
        transformer=tr,
        targets=targets,
        taus=taus,
        tau_candidate=m.tau_to_candidate,
    )


# -- the CLUE scan ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClueScanPoint:
    """CLUE's candidates at one (dc, rhoc, dm).

    Attributes:
        dc: density radius.
        rhoc: smallest seed density, GeV.
        dm: outlier distance.
        efficiency: signal taus of visible pT 5-60 GeV matched to a candidate,
            over all of them, with its Clopper-Pearson interval.
        fakes_per_event: candidates per zero-bias event (every one a fake).
        median_response: median of candidate pT / visible pT of the matched taus
            (NaN without any).
    """

    dc: float
    rhoc: float
    dm: float
    efficiency: Efficiency
    fakes_per_event: float
    median_response: float


def scan_clue(
    events: TauEvents,
    grid: ClueScanConfig | None = None,
    *,
    split: int | None = 1,
    match_dr: float = 0.2,
    puppi_weights: bool = True,
    pt_min: float = 0.0,
) -> list[ClueScanPoint]:
    """Tau efficiency and fakes of CLUE's candidates over a grid of (dc, rhoc, dm).

    The efficiency's denominator is every prompt hadronic tau of the signal
    events with visible pT in [5, 60) GeV, the numerator those with a
    candidate within ``dR < match_dr`` (one to one); the fakes are the
    candidates per zero-bias event. Points with ``dm < dc`` are skipped.
    At fixed (dc, dm) a higher rhoc makes fewer seeds, so fewer candidates:
    the fakes per event never rise with rhoc.

    Args:
        events: the study's events.
        grid: the values of each parameter (default :class:`ClueScanConfig`).
        split: the split the scan uses (default 1, validation: parameters
            are not tuned on the test split); None: every event.
        match_dr: the matching distance.
        puppi_weights: candidates' pT is ``PT x PuppiW``.
        pt_min: smallest candidate pT counted, GeV.

    Raises:
        DataFormatError: no signal tau in the range, or no zero-bias event, in the split.
    """
    grid = grid or ClueScanConfig()
    keep = np.ones(events.n_events, bool) if split is None else events.event_split == split
    sel = _select_events(events, keep)
    is_zb = sel.event_sample == 0
    taus = sel.taus
    lo, hi = _VIS_PT_RANGE
    in_range = (taus.vis_pt >= lo) & (taus.vis_pt < hi)
    n_taus = int(in_range.sum())
    n_zb = int(is_zb.sum())
    if n_taus == 0 or n_zb == 0:
        msg = f"scan_clue: split {split} has {n_taus} signal taus of 5-60 GeV and {n_zb} zero-bias events; need both"
        raise DataFormatError(msg)
    w = sel.puppi_w if puppi_weights else None
    out: list[ClueScanPoint] = []
    for dc, rhoc, dm in itertools.product(grid.dc, grid.rhoc, grid.dm):
        if dm < dc:
            continue
        c = clue_tau_candidates(
            sel.offsets, sel.pt, sel.eta, sel.phi, weights=w, dc=dc, rhoc=rhoc, dm=dm, pt_min=pt_min
        )
        m = match_taus(c.offsets, c.eta, c.phi, taus, max_dr=match_dr)
        found = m.tau_matched & in_range
        n_cand = np.diff(c.offsets)
        ratio = c.pt[m.tau_to_candidate[found]] / taus.vis_pt[found]
        out.append(
            ClueScanPoint(
                dc=dc,
                rhoc=rhoc,
                dm=dm,
                efficiency=efficiency(int(found.sum()), n_taus),
                fakes_per_event=float(n_cand[is_zb].mean()),
                median_response=float(np.median(ratio)) if ratio.size else float("nan"),
            )
        )
    return out


def _select_events(events: TauEvents, keep: B) -> TauEvents:
    """The events where *keep*, with their candidates and taus."""
    ev = event_index(events.offsets)
    per_cand = keep[ev]
    taus = events.taus.select(keep[events.taus.event])
    counts = np.bincount(events.taus.event[keep[events.taus.event]], minlength=events.n_events)
    taus = TruthTaus(
        offsets=offsets_from_counts(counts[keep]),
        **{f.name: getattr(taus, f.name) for f in fields(TruthTaus)[1:]},
    )
    flat = {
        k: getattr(events, k)[per_cand]
        for k in ("pt", "eta", "phi", "pid", "charge", "dz", "puppi_w", "is_pu")
    }
    return TauEvents(
        samples=events.samples,
        event_sample=events.event_sample[keep],
        event_split=events.event_split[keep],
        event_number=events.event_number[keep],
        offsets=offsets_from_counts(np.diff(events.offsets)[keep]),
        taus=taus,
        **flat,
    )
