"""From sample files to the tau candidates the soft-tau study trains and evaluates on.

Two steps:

1. :func:`load_tau_events` reads the files once (with
   :func:`l1scout.io.dataset.open_dataset`, file by file in chunks) into
   :class:`TauEvents`: per event its sample, split and ``Event_Number``; the
   flat L1T PUPPI candidates (:data:`~l1scout.tasks.taus.data.PUPPI_FIELDS`)
   with per-event offsets; and the prompt hadronic truth taus
   (:func:`~l1scout.tasks.taus.truth.truth_taus` ``.hadronic()``) of the
   signals, from ``Gen_PartHS`` (the hard collision's generator record, which
   the signal production writes) or, in files without it, ``Gen_Part``
   (the same taus, :mod:`l1scout.tasks.taus.truth`), file by file.
   **Zero bias has no truth**: its files hold no ``Gen_Part``
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

:func:`l1scout.tasks.taus.clue_scan.scan_clue` tunes CLUE's (dc, rhoc, dm) on tau efficiency and fakes.

**Memory.** :class:`TauEvents` holds every PUPPI candidate: at pileup 200
about 1,000 per event, 8 fields, about 60 kB per event (350,000 events of a
full-size study: about 21 GB). The candidates of a :class:`TauDataset` are
small (a few per event, 80 + 16 x 11 floats each): :func:`load_tau_datasets`
reads one file at a time, builds each method's :class:`TauDataset` of that
file and joins them (:meth:`TauDataset.concatenate`), so it holds only one
file's PUPPI candidates; every builder, the matching and the inputs work
event by event and the splits hash (file, ``Event_Number``), so the result
equals :func:`build_tau_dataset` on :func:`load_tau_events`, array for array.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.footer import DataFile
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
from l1scout.tasks.taus.config import METHODS, CandidatesConfig, SplitsConfig
from l1scout.tasks.taus.data import PUPPI_FIELDS
from l1scout.tasks.taus.nnpuppitau import nnpuppitau_inputs
from l1scout.tasks.taus.transformer import TransformerInputs, transformer_inputs
from l1scout.tasks.taus.transformer_training import TauTargets
from l1scout.tasks.taus.truth import TruthTaus, gen_record, match_taus, truth_taus

__all__ = [
    "TauDataset",
    "TauEvents",
    "build_tau_dataset",
    "load_tau_datasets",
    "load_tau_events",
]

_log = logging.getLogger(__name__)

_EVENT_NUMBER = "Event_Number"
_GEN_FIELDS = ("PT", "PID", "Eta", "Phi", "Mass", "Charge", "M1", "Z")
#: The generator columns the truth taus read, per record (preferred first).
_GEN_COLUMNS: dict[str, tuple[str, ...]] = {
    "Gen_PartHS": tuple(f"Gen_PartHS_{f}" for f in (*_GEN_FIELDS, "Index")),
    "Gen_Part": tuple(f"Gen_Part_{f}" for f in _GEN_FIELDS),
}


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

    @classmethod
    def concatenate(cls, parts: Sequence[TauDataset]) -> TauDataset:
        """The events of *parts* one after the other: one dataset of the same method.

        Event arrays and candidate arrays are appended; the indices are
        shifted: ``event`` by the events before, ``tau`` (not -1) by the
        truth taus before, ``tau_candidate`` (not -1) by the candidates
        before; the offsets (``event_offsets``, ``taus.offsets``) continue.
        The network inputs are per candidate (padded, no offsets inside).

        Raises:
            DataFormatError: no part, or parts of other methods or samples.

        Example:
            >>> from l1scout.tasks.taus.dataset import TauDataset
            >>> TauDataset.concatenate([])
            Traceback (most recent call last):
            ...
            l1scout.errors.DataFormatError: TauDataset.concatenate: expected at least one dataset, got none
        """
        if not parts:
            msg = "TauDataset.concatenate: expected at least one dataset, got none"
            raise DataFormatError(msg)
        first = parts[0]
        for p in parts[1:]:
            if (p.method, p.samples) != (first.method, first.samples):
                msg = (
                    f"TauDataset.concatenate: expected datasets of {first.method!r} over "
                    f"{first.samples}, got {p.method!r} over {p.samples}"
                )
                raise DataFormatError(msg)
        n_ev = np.cumsum([0] + [len(p.event_sample) for p in parts])
        n_cand = np.cumsum([0] + [len(p) for p in parts])
        n_tau = np.cumsum([0] + [len(p.taus) for p in parts])

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts])

        def shifted(name: str, by: np.ndarray) -> I64:
            out: I64 = np.concatenate(
                [
                    np.where(getattr(p, name) >= 0, getattr(p, name) + s, -1)
                    for p, s in zip(parts, by, strict=False)
                ]
            ).astype(np.int64)
            return out

        pu = [p.transformer.is_pu for p in parts]
        transformer = TransformerInputs(
            features=np.concatenate([p.transformer.features for p in parts]),
            mask=np.concatenate([p.transformer.mask for p in parts]),
            is_pu=None if any(x is None for x in pu) else np.concatenate(pu),  # type: ignore[arg-type]
        )
        targets = TauTargets(
            is_tau=np.concatenate([p.targets.is_tau for p in parts]),
            charge=np.concatenate([p.targets.charge for p in parts]),
            pt=np.concatenate([p.targets.pt for p in parts]),
            vz=np.concatenate([p.targets.vz for p in parts]),
        )
        return cls(
            method=first.method,
            samples=first.samples,
            event_offsets=offsets_from_counts(
                np.concatenate([np.diff(p.event_offsets) for p in parts])
            ),
            event_sample=cat("event_sample"),
            event_split=cat("event_split"),
            pt=cat("pt"),
            eta=cat("eta"),
            phi=cat("phi"),
            event=np.concatenate([p.event + s for p, s in zip(parts, n_ev, strict=False)]),
            sample=cat("sample"),
            split=cat("split"),
            n_constituents=cat("n_constituents"),
            tau=shifted("tau", n_tau),
            nnpuppitau=cat("nnpuppitau"),
            transformer=transformer,
            targets=targets,
            taus=_concat_truth([p.taus for p in parts]),
            tau_candidate=shifted("tau_candidate", n_cand),
        )


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


def _file_events(
    ds: Dataset,
    file: DataFile,
    index: int,
    names: tuple[str, ...],
    fractions: tuple[float, ...],
    prefix: str,
    gen: str | None,
) -> TauEvents:
    """The events of one file of sample *index* (chunk by chunk), with the truth taus of record *gen*."""
    ds = Dataset(
        (file,), [*ds.columns, *_GEN_COLUMNS.get(gen or "", ())], ds.chunk_size, ds.chunk_bytes
    )
    per_event: dict[str, list[np.ndarray]] = {"split": [], "number": []}
    flat: dict[str, list[np.ndarray]] = {f: [] for f in PUPPI_FIELDS}
    counts: list[I64] = [np.zeros(0, np.int64)]
    truth: list[TruthTaus] = [_empty_truth(0)]
    for chunk in ds.iter_file(file):
        n = len(chunk)
        numbers = np.asarray(chunk[_EVENT_NUMBER], dtype=np.int64).reshape(n, -1)[:, 0]
        per_event["split"].append(split_of(file.identity, numbers, fractions))
        per_event["number"].append(numbers)
        off, pt = jagged(chunk, f"{prefix}_PT", np.float64)
        counts.append(np.diff(off))
        flat["PT"].append(pt)
        for f in PUPPI_FIELDS[1:]:
            flat[f].append(field_like(chunk, prefix, f, off, np.float64))
        truth.append(truth_taus(gen_record(chunk, gen)).hadronic() if gen else _empty_truth(n))
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in flat.items()}
    numbers_all = (
        np.concatenate(per_event["number"]) if per_event["number"] else np.zeros(0, np.int64)
    )
    split_all = np.concatenate(per_event["split"]) if per_event["split"] else np.zeros(0)
    return TauEvents(
        samples=names,
        event_sample=np.full(len(numbers_all), index, np.int64),
        event_split=split_all.astype(np.int8),
        event_number=numbers_all,
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


def _gen_collection(file: DataFile) -> str:
    """The generator record a signal file's truth taus are read from: ``Gen_PartHS``, else ``Gen_Part``.

    Raises:
        DataFormatError: the file holds neither completely.
    """
    for name, cols in _GEN_COLUMNS.items():
        if all(c in file.physical for c in cols):
            return name
    msg = (
        f"{file.path}: a signal file needs the generator record of its taus, "
        f"{' or '.join(_GEN_COLUMNS)} ({', '.join(_GEN_FIELDS)}); it has neither"
    )
    raise DataFormatError(msg)


def _iter_file_events(
    zero_bias: Source,
    signals: Mapping[str, Source],
    splits: SplitsConfig | None,
    zero_bias_name: str,
    view: str,
) -> Iterator[TauEvents]:
    """Every file's :class:`TauEvents`, the zero bias first, file by file."""
    splits = splits or SplitsConfig()
    if zero_bias_name in signals:
        msg = f"signals: {zero_bias_name!r} names the zero bias; give the signal another name"
        raise ConfigError(msg)
    prefix = f"{view}_PUPPIPart"
    puppi = [f"{prefix}_{f}" for f in PUPPI_FIELDS]
    names = (zero_bias_name, *signals)
    sources = (zero_bias, *signals.values())
    opened = [
        _open(source, puppi, f"sample {name!r}")
        for name, source in zip(names, sources, strict=True)
    ]
    # every signal file's record is found before the first file is read
    gens = [
        [_gen_collection(f) if index else None for f in ds.files] for index, ds in enumerate(opened)
    ]
    for index, ds in enumerate(opened):
        fractions = splits.signal if index else splits.zero_bias
        for file, gen in zip(ds.files, gens[index], strict=True):
            yield _file_events(ds, file, index, names, fractions, prefix, gen)


def _concat_events(parts: Sequence[TauEvents]) -> TauEvents:
    """The events of *parts* one after the other (same samples)."""
    flat = ("pt", "eta", "phi", "pid", "charge", "dz", "puppi_w", "is_pu")
    return TauEvents(
        samples=parts[0].samples,
        event_sample=np.concatenate([p.event_sample for p in parts]),
        event_split=np.concatenate([p.event_split for p in parts]),
        event_number=np.concatenate([p.event_number for p in parts]),
        offsets=offsets_from_counts(np.concatenate([np.diff(p.offsets) for p in parts])),
        taus=_concat_truth([p.taus for p in parts]),
        **{k: np.concatenate([getattr(p, k) for p in parts]) for k in flat},
    )


def load_tau_events(
    zero_bias: Source,
    signals: Mapping[str, Source],
    *,
    splits: SplitsConfig | None = None,
    zero_bias_name: str = "zero_bias",
    view: str = "L1T",
) -> TauEvents:
    """Read the samples into :class:`TauEvents` (module docstring).

    Holds every PUPPI candidate (module docstring, *Memory*): for the
    datasets alone use :func:`load_tau_datasets`, which streams.

    Args:
        zero_bias: the zero-bias files (a folder, a glob, a list of files).
        signals: signal name -> its files (they need ``Gen_PartHS`` or ``Gen_Part``).
        splits: the split fractions (default :class:`~l1scout.tasks.taus.config.SplitsConfig`).
        zero_bias_name: the zero-bias sample's name in :attr:`TauEvents.samples`.
        view: the view of the PUPPI candidates.

    Raises:
        ConfigError: no file found, a signal named like the zero bias.
        DataFormatError: a file lacks a column (named), or columns disagree.
    """
    parts = list(_iter_file_events(zero_bias, signals, splits, zero_bias_name, view))
    if not parts or sum(p.n_events for p in parts) == 0:
        msg = "no events in the samples"
        raise DataFormatError(msg)
    events = _concat_events(parts)
    del parts
    _log.info(
        "%d events (%s), %d PUPPI candidates, %d prompt hadronic taus",
        events.n_events,
        ", ".join(
            f"{s}: {int(np.sum(events.event_sample == i))}" for i, s in enumerate(events.samples)
        ),
        len(events.pt),
        len(events.taus),
    )
    return events


def load_tau_datasets(
    zero_bias: Source,
    signals: Mapping[str, Source],
    methods: Sequence[str],
    cfg: CandidatesConfig | None = None,
    *,
    splits: SplitsConfig | None = None,
    zero_bias_name: str = "zero_bias",
    view: str = "L1T",
    puppi_weights: bool = True,
) -> dict[str, TauDataset]:
    """One :class:`TauDataset` per method, streaming the files (one file's events at a time).

    Equal, array for array, to :func:`build_tau_dataset` on
    :func:`load_tau_events` (every builder, the matching and the inputs work
    event by event; the splits hash (file, ``Event_Number``)), but the peak
    memory is the candidates plus one file's PUPPI candidates instead of
    every event's (about 60 kB per event at pileup 200).

    Args:
        zero_bias: the zero-bias files.
        signals: signal name -> its files (they need ``Gen_PartHS`` or ``Gen_Part``).
        methods: the builders (:data:`~l1scout.tasks.taus.config.METHODS`).
        cfg: the builders' parameters and the matching distance.
        splits: the split fractions.
        zero_bias_name: the zero-bias sample's name.
        view: the view of the PUPPI candidates.
        puppi_weights: candidates' pT is ``PT x PuppiW``.

    Raises:
        ConfigError: no file found, a signal named like the zero bias, an unknown method.
        DataFormatError: no events, a file lacks a column, or columns disagree.
    """
    cfg = cfg or CandidatesConfig()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        msg = f"method: expected one of {', '.join(METHODS)}, got {unknown[0]!r}"
        raise ConfigError(msg)
    parts: dict[str, list[TauDataset]] = {m: [] for m in methods}
    n_events = n_puppi = 0
    for events in _iter_file_events(zero_bias, signals, splits, zero_bias_name, view):
        n_events += events.n_events
        n_puppi += len(events.pt)
        for m in methods:
            parts[m].append(build_tau_dataset(events, m, cfg, puppi_weights=puppi_weights))
        del events
    if n_events == 0:
        msg = "no events in the samples"
        raise DataFormatError(msg)
    _log.info("%d events, %d PUPPI candidates, streamed file by file", n_events, n_puppi)
    return {m: TauDataset.concatenate(p) for m, p in parts.items()}


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
