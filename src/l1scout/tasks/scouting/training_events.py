"""The training and validation events of the scouting models, as the stream carries them.

Every event of every sample belongs to one part (:func:`event_parts`): the
models learn on :data:`TRAIN`, choose their working points on
:data:`VALIDATION`, and the orbits hold :data:`ORBIT` only. The events of the
first two are read here the way the menu sees the orbit events:

* :func:`stream_trigger_inputs`: the 57 anomaly-trigger inputs of the events
  as the stream carries them (:func:`~l1scout.tasks.scouting.events.read_stream_events`),
  through their words and back, into
  :func:`~l1scout.tasks.scouting.ml_selections.anomaly_inputs`;
* :func:`stream_tau_events`: the PUPPI candidates (the ``candidates``
  highest pT, through the 64-bit word and back) and the prompt hadronic
  truth taus (``Gen_PartHS``) as the soft-tau task's
  :class:`~l1scout.tasks.taus.dataset.TauEvents`, for
  :func:`~l1scout.tasks.taus.dataset.build_tau_dataset`. The stream has no
  ``IsPU``: it is 0.

Example:
    >>> parts = event_parts("minbias:RS1", np.arange(10), (0.3, 0.2, 0.5))
    >>> bool(np.isin(parts, (TRAIN, VALIDATION, ORBIT)).all())
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F32, I64, B
from l1scout.errors import DataFormatError
from l1scout.tasks.scouting.events import _puppi_collection

if TYPE_CHECKING:
    from l1scout.tasks.taus.dataset import TauEvents

__all__ = [
    "ORBIT",
    "TRAIN",
    "VALIDATION",
    "event_parts",
    "stream_tau_events",
    "stream_trigger_inputs",
]

#: The parts of :func:`event_parts`: training, validation (the models), orbits.
TRAIN, VALIDATION, ORBIT = 0, 1, 2
_VIEW = "L1T"
_GEN = "Gen_PartHS"


def event_parts(
    identity: str, numbers: npt.ArrayLike, fractions: Sequence[float]
) -> npt.NDArray[np.int8]:
    """The part of each event of one file: 0 training, 1 validation, 2 orbits.

    :func:`l1scout.io.torchdata.split_of` of the file's identity and the
    events' ``Event_Number``: the same event is in the same part in every run,
    whatever the file order, in the models stage and in the orbit building.

    >>> parts = event_parts("minbias:RS1", np.arange(10_000), (0.3, 0.2, 0.5))
    >>> [round(float(np.mean(parts == p)), 1) for p in (0, 1, 2)]
    [0.3, 0.2, 0.5]
    """
    from l1scout.io.torchdata import split_of  # imports torch: on demand

    return split_of(identity, numbers, fractions)


def _stream_view(
    off: I64, cols: dict[str, np.ndarray], candidates: int
) -> tuple[I64, dict[str, np.ndarray]]:
    """The *candidates* highest-pT PUPPI candidates of each event, through the hardware word and back."""
    from l1scout.io.ragged import top_k
    from l1scout.tasks.scouting.words import puppi_physical, puppi_to_hardware

    idx, mask = top_k(off, cols["PT"], candidates)
    flat = idx[mask]
    counts = mask.sum(axis=1)
    hw = puppi_to_hardware(
        cols["PT"][flat],
        cols["Eta"][flat],
        cols["Phi"][flat],
        cols["PID"][flat].astype(np.int64),
        cols["Charge"][flat].astype(np.int64),
        cols["DZ"][flat],
        cols["D0"][flat] if "D0" in cols else np.zeros(flat.size),
        cols["PuppiW"][flat],
    )
    ph = puppi_physical(hw)
    out = {
        "pt": np.asarray(ph["pt"], np.float64),
        "eta": np.asarray(ph["eta"], np.float64),
        "phi": np.asarray(ph["phi"], np.float64),
        "pid": np.asarray(ph["pdgid"], np.int64),
        "charge": np.asarray(ph["charge"], np.int64),
        "dz": np.asarray(ph["z0"], np.float64),
        "puppi_w": np.asarray(ph["puppi_w"], np.float64),
    }
    return offsets_from_counts(counts), out


def stream_tau_events(
    samples: Mapping[str, Sequence[Path]], fractions: Sequence[float], candidates: int
) -> TauEvents:
    """The training and validation events of *samples* (zero bias first) as the stream sees them."""
    from l1scout.io.dataset import open_dataset
    from l1scout.io.ragged import field_like, jagged
    from l1scout.tasks.taus.truth import gen_record, truth_taus

    names = tuple(samples)
    keep_fields = ("PT", "Eta", "Phi", "PID", "Charge", "DZ", "D0", "PuppiW")
    parts: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        for path in samples[name]:
            ds = open_dataset(path, hub=False)
            file = ds.files[0]
            puppi = _puppi_collection(file.physical, path)
            cols = [f"{puppi}_{f}" for f in keep_fields if f"{puppi}_{f}" in file.physical]
            gen = [c for c in file.physical if c.startswith(f"{_GEN}_")] if index else []
            if index and not gen:
                msg = f"{path}: a tau signal file needs {_GEN} (the truth taus)"
                raise DataFormatError(msg)
            ds = open_dataset(path, columns=[*cols, "Event_Number", *gen], hub=False)
            for chunk in ds.iter_file(ds.files[0]):
                n = len(chunk)
                numbers = np.asarray(chunk["Event_Number"], dtype=np.int64).reshape(n, -1)[:, 0]
                part = event_parts(file.identity, numbers, fractions)
                keep = part != ORBIT
                off, pt = jagged(chunk, f"{puppi}_PT", np.float64)
                raw = {"PT": pt}
                for f in keep_fields[1:]:
                    if f"{puppi}_{f}" in file.physical:
                        raw[f] = field_like(chunk, puppi, f, off, np.float64)
                sel = np.repeat(keep, np.diff(off))
                sub_off = offsets_from_counts(np.diff(off)[keep])
                o, puppi_cols = _stream_view(
                    sub_off, {k: v[sel] for k, v in raw.items()}, candidates
                )
                taus = truth_taus(gen_record(chunk[keep], _GEN)).hadronic() if index else None
                parts.append(
                    {
                        "sample": index,
                        "split": part[keep],
                        "number": numbers[keep],
                        "offsets": o,
                        "puppi": puppi_cols,
                        "taus": taus,
                    }
                )
    return _join_tau_events(names, parts)


def _join_tau_events(names: tuple[str, ...], parts: list[dict[str, Any]]) -> TauEvents:
    from l1scout.tasks.taus.dataset import TauEvents
    from l1scout.tasks.taus.truth import TruthTaus

    if not parts:
        msg = "no events for the soft-tau model"
        raise DataFormatError(msg)
    n_events = [len(p["split"]) for p in parts]
    truth = [
        p["taus"] if p["taus"] is not None else _no_taus(n)
        for p, n in zip(parts, n_events, strict=True)
    ]
    counts = np.concatenate([np.diff(t.offsets) for t in truth])
    values = {
        f: np.concatenate([getattr(t, f) for t in truth])
        for f in TruthTaus.__dataclass_fields__
        if f != "offsets"
    }
    taus = TruthTaus(offsets=offsets_from_counts(counts), **values)
    cat = {k: np.concatenate([p["puppi"][k] for p in parts]) for k in parts[0]["puppi"]}
    return TauEvents(
        samples=names,
        event_sample=np.concatenate(
            [np.full(n, p["sample"], np.int64) for p, n in zip(parts, n_events, strict=True)]
        ),
        event_split=np.concatenate([p["split"] for p in parts]).astype(np.int8),
        event_number=np.concatenate([p["number"] for p in parts]),
        offsets=offsets_from_counts(np.concatenate([np.diff(p["offsets"]) for p in parts])),
        pt=cat["pt"],
        eta=cat["eta"],
        phi=cat["phi"],
        pid=cat["pid"],
        charge=cat["charge"],
        dz=cat["dz"],
        puppi_w=cat["puppi_w"],
        is_pu=np.zeros(len(cat["pt"]), np.int8),
        taus=taus,
    )


def _no_taus(n_events: int) -> Any:
    from l1scout.tasks.taus.truth import TruthTaus

    ints = ("gen_index", "charge", "n_prong", "n_pi0", "decay_mode")
    values: dict[str, np.ndarray] = {}
    for name in TruthTaus.__dataclass_fields__:
        if name == "offsets":
            continue
        kind = {"is_leptonic": np.bool_, "from_hadron": np.bool_}.get(name)
        values[name] = np.zeros(0, kind or (np.int64 if name in ints else np.float64))
    return TruthTaus(offsets=np.zeros(n_events + 1, np.int64), **values)


def stream_trigger_inputs(
    files: Sequence[Path], fractions: Sequence[float], candidates: int
) -> tuple[F32, npt.NDArray[np.int8]]:
    """The 57 trigger inputs of the training and validation events as the menu computes them, and their parts.

    The events as the stream carries them (:func:`~l1scout.tasks.scouting.events.read_stream_events`),
    through their words (:func:`~l1scout.tasks.scouting.encode.encode_events`) and
    back (the ``decode_*`` of :mod:`~l1scout.tasks.scouting.words`), into
    :func:`~l1scout.tasks.scouting.ml_selections.anomaly_inputs`: the model and
    its threshold see the hardware values the menu scores (a threshold chosen
    on other inputs moves the rate, most of all where scores tie).
    """
    from l1scout.io.dataset import open_dataset
    from l1scout.tasks.scouting.encode import encode_events
    from l1scout.tasks.scouting.events import read_stream_events
    from l1scout.tasks.scouting.ml_selections import anomaly_inputs
    from l1scout.tasks.scouting.words import decode_egamma, decode_jets, decode_muons, decode_sums

    def not_orbit(identity: str, numbers: I64) -> B:
        return np.asarray(event_parts(identity, numbers, fractions) != ORBIT)

    events = read_stream_events(list(files), candidates, keep=not_orbit)
    parts = np.empty(events.n_events, dtype=np.int8)
    for i, path in enumerate(events.files):
        here = events.file_index == i
        identity = open_dataset(path, hub=False).files[0].identity
        parts[here] = event_parts(identity, events.event_number[here], fractions)
    enc = encode_events(events)

    def decoded(stream: str, decode: Callable[[Any], dict[str, np.ndarray]]) -> Any:
        return enc.offsets[stream], decode(enc.words[stream])

    x = anomaly_inputs(
        decode_sums(enc.words["sums"]),
        decoded("egamma", decode_egamma),
        decoded("muon", decode_muons),
        decoded("jet", decode_jets),
    )
    return np.ascontiguousarray(x, dtype=np.float32), parts
