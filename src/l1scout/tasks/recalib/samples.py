"""The event samples of the re-calibration study: made once with ``produce``, then read.

:class:`RecalibSampleConfig` names the processes and events, the pileup and the
production settings. :func:`ensure_recalib_samples` turns it into a
:class:`~l1scout.production.plan.ProductionPlan` in **fast mode**: both detector
views (``FullReco``, ``L1T``) are simulated, but only the collections the study
reads are written (:data:`RECALIB_COLLECTIONS`: ``Event``, the tight muons and
the PUPPI AK4 jets of both views), and runs it with
:func:`l1scout.production.driver.produce` (see ``docs/production.md``): only
missing or broken shards are made, finished ones are verified and kept, and a
killed run resumes.

The production goes to ``<data_dir>/recalib-pu<pileup>-s<seed>-<hash>``, where
``<hash>`` is the start of the plan's hash (:meth:`ProductionPlan.plan_hash`):
a production folder holds one plan, so another configuration (more events,
another pileup) gets its own folder instead of being refused by the first.

:func:`load_events` reads the study's columns (:data:`RECALIB_COLUMNS`) from any
files :func:`l1scout.io.open_dataset` reads: these samples, other l1scout
files, or real COLLIDE-2V files, whose column names are the same.

Example:
    >>> cfg = RecalibSampleConfig(processes=[{"process": "QCD_HT50toInf", "events": 100}], pileup=50)
    >>> cfg.processes[0].events, cfg.pileup, cfg.engine
    (100, 50.0, 'local')
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout.errors import ConfigError
from l1scout.production.samples import SampleRequest, shard_slots_problem

if TYPE_CHECKING:
    import awkward as ak

    from l1scout.production.plan import ProductionPlan

__all__ = [
    "DEFAULT_PROCESSES",
    "JET_COLUMNS",
    "MUON_COLUMNS",
    "RECALIB_COLLECTIONS",
    "RECALIB_COLUMNS",
    "TRACKER_MUON_COLUMNS",
    "RecalibSampleConfig",
    "SampleRequest",
    "ensure_recalib_samples",
    "load_events",
    "sample_folder",
]

_log = logging.getLogger(__name__)

#: The collections a re-calibration production writes (fast mode).
RECALIB_COLLECTIONS: tuple[str, ...] = (
    "Event",
    "FullReco_JetPuppiAK4",
    "FullReco_MuonTight",
    "L1T_JetPuppiAK4",
    "L1T_MuonStandalone",
    "L1T_MuonTight",
)
#: Columns :func:`l1scout.tasks.recalib.dataset.muon_dataset` reads with the tracker muons.
TRACKER_MUON_COLUMNS: tuple[str, ...] = tuple(
    f"{view}_MuonTight_{field}"
    for view in ("L1T", "FullReco")
    for field in ("PT", "Eta", "Phi", "Charge")
)
#: Columns :func:`l1scout.tasks.recalib.dataset.muon_dataset` reads (the default,
#: standalone L1 muons from the muon system).
MUON_COLUMNS: tuple[str, ...] = tuple(
    f"L1T_MuonStandalone_{field}" for field in ("HwPt", "HwEta", "HwPhi", "Charge")
) + tuple(f"FullReco_MuonTight_{field}" for field in ("PT", "Eta", "Phi", "Charge"))
#: Columns :func:`l1scout.tasks.recalib.dataset.jet_dataset` reads.
JET_COLUMNS: tuple[str, ...] = tuple(
    f"{view}_JetPuppiAK4_{field}" for view in ("L1T", "FullReco") for field in ("PT", "Eta", "Phi")
)
#: Every column the study reads (with either muon source).
RECALIB_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(MUON_COLUMNS + TRACKER_MUON_COLUMNS + JET_COLUMNS)
)

#: ``progress(stage, done, total)``, as :func:`l1scout.production.driver.produce` calls it.
Progress = Callable[[str, int, int], None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: Drell-Yan (muons) and semileptonic ttbar (muons and many jets). Measured in fast mode at
#: pileup 200, one core: about 15 events per CPU second for either, with 0.28 (DY) and 0.30
#: (ttbar) selected muons and 1.3 (DY) and 4.7 (ttbar) matched L1 jets per event: the
#: default 20,000 events give about 5,800 muons and 60,000 jets in some 25 CPU minutes.
DEFAULT_PROCESSES: tuple[SampleRequest, ...] = (
    SampleRequest(process="DYJetsToLL_13TeV-madgraphMLM-pythia8", events=10_000),
    SampleRequest(process="tt0123j_5f_ckm_LO_MLM_semiLeptonic", events=10_000),
)


class RecalibSampleConfig(_Model):
    """The samples of the re-calibration study (validated; unknown fields are rejected).

    Attributes:
        processes: processes and events; every event feeds both data sets (muons
            and jets), so a muon-rich process and a jet-rich one together serve both.
        pileup: mean number of pileup collisions (the Phase-2 200 by default).
        seed: the production's plan seed, 1 ... 225 (``docs/production.md``).
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: ``local`` (a Dask cluster on this machine) or ``single`` (a
            plain loop in this process).
        workers: worker processes of the local engine (None: one per core).
    """

    processes: tuple[SampleRequest, ...] = DEFAULT_PROCESSES
    pileup: float = Field(default=200.0, ge=0, le=1000)
    seed: int = Field(default=31, ge=1, le=225)
    pool_size: int = Field(default=5_000, ge=1, le=10_000_000)
    shard_size: int = Field(default=1_000, ge=1, le=10_000_000)
    engine: Literal["local", "single"] = "local"
    workers: int | None = Field(default=None, ge=1, le=4096)

    @field_validator("processes")
    @classmethod
    def _distinct(cls, value: tuple[SampleRequest, ...]) -> tuple[SampleRequest, ...]:
        if not value:
            msg = "name at least one process"
            raise ValueError(msg)
        names = [r.process for r in value]
        for i, name in enumerate(names):
            if name in names[:i]:
                msg = f"process {name!r} is listed twice (processes[{i}]); give it once with the sum of the events"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _files_per_process(self) -> RecalibSampleConfig:
        where = [(f"processes[{i}]", r) for i, r in enumerate(self.processes)]
        problem = shard_slots_problem(where, self.shard_size)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def total_events(self) -> int:
        """Events over all processes."""
        return sum(r.events for r in self.processes)

    def plan(self) -> ProductionPlan:
        """The production plan of these samples (fast mode, both views, :data:`RECALIB_COLLECTIONS`).

        Raises:
            ConfigError: the plan does not validate (e.g. too many shards for the
                seed layout; the message names the field).
        """
        from l1scout.production.plan import EngineSpec
        from l1scout.production.samples import fast_plan

        return fast_plan(
            self.processes,
            seed=self.seed,
            shard_size=self.shard_size,
            pileup=self.pileup,
            pool_size=self.pool_size,
            views=("FullReco", "L1T"),
            collections=RECALIB_COLLECTIONS,
            engine=EngineSpec(kind=self.engine, workers=self.workers),
            source="recalib samples",
        )


def sample_folder(cfg: RecalibSampleConfig, data_dir: Path | str) -> Path:
    """The production folder of *cfg* under *data_dir* (one folder per plan)."""
    return Path(data_dir) / f"recalib-pu{cfg.pileup:g}-s{cfg.seed}-{cfg.plan().plan_hash()[:12]}"


def ensure_recalib_samples(
    cfg: RecalibSampleConfig, data_dir: Path | str, progress: Progress | None = None
) -> list[Path]:
    """Make the missing shards of *cfg*'s production and return every shard file, in plan order.

    Args:
        cfg: the samples.
        data_dir: the folder under which the production folder lies (created if needed).
        progress: ``progress(stage, done, total)`` as ``produce`` reports it
            (stages ``verify``, ``pool``, ``shards``, ``events``).

    Raises:
        ConfigError: the plan does not validate.
        ProductionError: the folder cannot be used, the disk is full, or shards
            failed on every attempt (the message lists them; rerun to retry).
    """
    from l1scout.production.samples import produce_or_raise

    plan = cfg.plan()
    out = sample_folder(cfg, data_dir)
    produce_or_raise(plan, out, what="re-calibration samples", progress=progress)
    return [out / spec.file for spec in plan.shards()]


def load_events(
    paths: Path | str | Iterable[Path | str],
    *,
    kinds: Iterable[Literal["muon", "jet"]] = ("muon", "jet"),
    max_events: int | None = None,
    muon_source: Literal["standalone", "tracker"] = "standalone",
) -> ak.Array:
    """Read the study's columns of *paths* into one awkward record array.

    Args:
        paths: files, folders or globs (anything :func:`l1scout.io.open_dataset`
            takes as a local source: l1scout or COLLIDE-2V files).
        kinds: which data sets the events are for: ``muon`` reads
            :data:`MUON_COLUMNS` (:data:`TRACKER_MUON_COLUMNS` with
            ``muon_source="tracker"``), ``jet`` :data:`JET_COLUMNS`.
        max_events: read at most this many events (None: all).
        muon_source: the L1 muons the muon data set takes
            (:func:`l1scout.tasks.recalib.dataset.muon_dataset`'s ``source``).

    Raises:
        ConfigError: no file found, an unknown kind, or a needed column missing
            from the files (the message names it and the closest ones).
        DataFormatError: a file is corrupt or follows no known layout.
    """
    from l1scout.io.dataset import Dataset, open_dataset

    wanted: list[str] = []
    for kind in kinds:
        if kind == "muon":
            wanted += MUON_COLUMNS if muon_source == "standalone" else TRACKER_MUON_COLUMNS
        elif kind == "jet":
            wanted += JET_COLUMNS
        else:
            msg = f"kinds: expected 'muon' or 'jet', got {kind!r}"
            raise ConfigError(msg)
    if not wanted:
        msg = "kinds: name at least one of 'muon', 'jet'"
        raise ConfigError(msg)
    source = [str(paths)] if isinstance(paths, str | Path) else [str(p) for p in paths]
    if not source:
        msg = "paths: no file given"
        raise ConfigError(msg)
    dataset = open_dataset(source, columns=wanted, hub=False)
    if not isinstance(dataset, Dataset):  # pragma: no cover - hub=False gives a Dataset
        msg = "paths: expected local files"
        raise ConfigError(msg)
    return dataset.read(max_events)
