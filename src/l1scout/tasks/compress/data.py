"""The compression task's samples: one fast-mode production, read as the stream carries it, split in three.

What is compressed is one Level-1 scouting event as
:class:`~l1scout.tasks.scouting.events.StreamEvents` holds it: the (at most)
``data.candidates`` highest-pT L1T PUPPI candidates and the trigger objects
(muons, e/gamma, jets, MET, HT). So the samples are made like the scouting
task's (:mod:`l1scout.tasks.scouting.samples`): the fast mode of
``docs/production.md``, only the ``L1T`` view, only the collections the stream
carries (:data:`~l1scout.tasks.scouting.samples.ZERO_BIAS_COLLECTIONS`), at
the Phase-2 pileup, every process of one plan drawing its pileup from one
pool, in ``<data_dir>/samples``. A rerun verifies what is there and makes only
what is missing; a folder made with another configuration is refused.

Each sample is read once (:func:`~l1scout.tasks.scouting.events.read_stream_events`)
and split into :data:`PARTS` by :func:`~l1scout.tasks.scouting.training_events.event_parts`,
a stable hash of (file identity, ``Event_Number``): the same event is in the
same part in every run, whatever the file order.

Example:
    >>> from l1scout.tasks.compress.config import CompressDataConfig
    >>> plan = production_plan(CompressDataConfig())
    >>> plan.views, [p.name for p in plan.processes][:2]
    (('L1T',), ['minbias', 'tt0123j_5f_ckm_LO_MLM_semiLeptonic'])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1scout.errors import DataFormatError
from l1scout.production.driver import Progress
from l1scout.production.plan import ProductionPlan
from l1scout.production.samples import ensure_fast_samples, fast_plan_of, files_by_process
from l1scout.tasks.compress.config import CompressDataConfig
from l1scout.tasks.scouting.events import StreamEvents, read_stream_events
from l1scout.tasks.scouting.samples import ZERO_BIAS_COLLECTIONS

__all__ = [
    "PARTS",
    "SAMPLES_FOLDER",
    "CompressData",
    "ensure_compress_samples",
    "production_plan",
    "read_parts",
    "sample_files",
]

_log = logging.getLogger(__name__)
_VIEW = "L1T"
#: The parts of every sample, in the order of ``splits.fractions``.
PARTS: tuple[str, str, str] = ("train", "validation", "test")
#: The production's folder under the data folder.
SAMPLES_FOLDER = "samples"


def production_plan(cfg: CompressDataConfig) -> ProductionPlan:
    """The fast-mode plan of every sample (zero bias first), L1T view, the stream's collections.

    Raises:
        ConfigError: the plan does not validate (naming the plan's fields).
    """
    return fast_plan_of(
        cfg,
        (cfg.zero_bias, *cfg.processes),
        views=(_VIEW,),
        collections=ZERO_BIAS_COLLECTIONS,
        source="the compression production plan",
    )


def sample_files(cfg: CompressDataConfig, data_dir: Path | str) -> dict[str, list[Path]]:
    """The files of every sample in *data_dir*, process by process, zero bias first (they need not exist)."""
    return files_by_process(production_plan(cfg), Path(data_dir) / SAMPLES_FOLDER)


def ensure_compress_samples(
    cfg: CompressDataConfig, data_dir: Path | str, progress: Progress | None = None
) -> tuple[dict[str, list[Path]], str]:
    """Make what is missing of the samples in ``<data_dir>/samples``; their files and the dataset hash.

    Raises:
        ProductionError: the folder holds another configuration's samples
            (nothing is touched), cannot be written, or shards failed.
        DataFormatError: a planned file missing after the production.
    """
    folder = Path(data_dir) / SAMPLES_FOLDER
    return ensure_fast_samples(
        production_plan(cfg), folder, what="compression samples", progress=progress
    )


def read_parts(
    files: Sequence[Path | str], candidates: int, fractions: Sequence[float]
) -> dict[str, StreamEvents]:
    """One sample's events as the stream carries them, split into :data:`PARTS` (read once).

    Args:
        files: the sample's files (one process).
        candidates: PUPPI candidates kept per event, the highest pT.
        fractions: train, validation and test fractions (``splits.fractions``).

    Returns:
        ``"train"``, ``"validation"``, ``"test"`` -> the events of that part, in file order.

    Raises:
        DataFormatError: the files cannot be read as the stream (see
            :func:`~l1scout.tasks.scouting.events.read_stream_events`).
    """
    from l1scout.tasks.scouting.training_events import event_parts

    labels: list[np.ndarray] = []

    def record(identity: str, numbers: np.ndarray) -> np.ndarray:
        labels.append(np.asarray(event_parts(identity, numbers, fractions), dtype=np.int8))
        return np.ones(len(numbers), dtype=bool)

    events = read_stream_events(files, candidates, keep=record)
    part = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int8)
    if part.shape != (events.n_events,):  # pragma: no cover - read_stream_events keeps the order
        msg = f"{events.process}: {part.size} split labels for {events.n_events} events"
        raise DataFormatError(msg)
    return {name: events.subset(part == i) for i, name in enumerate(PARTS)}


@dataclass(frozen=True)
class CompressData:
    """Every sample of a run, split: ``events[process][part]``, zero bias first.

    Attributes:
        events: process -> part (:data:`PARTS`) -> its events.
        zero_bias: the zero-bias process.
        dataset_hash: the production's hash (empty when not from a production).
    """

    events: dict[str, dict[str, StreamEvents]]
    zero_bias: str
    dataset_hash: str = ""

    @property
    def processes(self) -> tuple[str, ...]:
        """Zero bias first, then the others in order."""
        return tuple(self.events)

    def part(self, name: str) -> dict[str, StreamEvents]:
        """Each process's events of the part *name* (``train``, ``validation``, ``test``).

        Raises:
            DataFormatError: *name* is not a part.
        """
        if name not in PARTS:
            msg = f"part {name!r}: expected one of {', '.join(PARTS)}"
            raise DataFormatError(msg)
        return {p: parts[name] for p, parts in self.events.items()}

    def counts(self) -> dict[str, dict[str, int]]:
        """Events per process and part: process -> part -> events."""
        return {p: {k: e.n_events for k, e in parts.items()} for p, parts in self.events.items()}

    @staticmethod
    def read(
        files: Mapping[str, Sequence[Path]],
        candidates: int,
        fractions: Sequence[float],
        *,
        zero_bias: str,
        dataset_hash: str = "",
    ) -> CompressData:
        """Read and split every sample of *files* (process -> its files, zero bias first).

        Raises:
            DataFormatError: a sample without events in a part, or unreadable.
        """
        events: dict[str, dict[str, StreamEvents]] = {}
        for process, paths in files.items():
            parts = read_parts(paths, candidates, fractions)
            for name, e in parts.items():
                if e.n_events == 0:
                    msg = f"{process}: no events in the {name} part; produce more events"
                    raise DataFormatError(msg)
            events[process] = parts
            _log.info(
                "%s: %s events",
                process,
                ", ".join(f"{k} {v.n_events}" for k, v in parts.items()),
            )
        return CompressData(events, zero_bias, dataset_hash)
