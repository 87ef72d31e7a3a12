"""Samples of a study: catalog processes made in fast mode by one ``produce`` call.

The tasks (anomaly detection, re-calibration) each name processes and events
(:class:`SampleRequest`), turn them into a fast-mode
:class:`~l1scout.production.plan.ProductionPlan` (:func:`fast_plan`: one shared
pileup pool, only the collections the task reads), run it
(:func:`produce_or_raise`, failures become a :class:`~l1scout.errors.ProductionError`)
and read the shard files back process by process (:func:`files_by_process`).
Where a task keeps its production (one folder per plan, or one refusing another
plan) stays with the task.

Example:
    >>> from l1scout.production.plan import EngineSpec
    >>> plan = fast_plan(
    ...     [SampleRequest(process="minbias", events=10)],
    ...     seed=1, shard_size=4, pileup=0.0, pool_size=10, views=("L1T",),
    ...     collections=("Event",), engine=EngineSpec(kind="single"), source="example",
    ... )
    >>> {process: len(files) for process, files in files_by_process(plan, "out").items()}
    {'minbias': 3}
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from l1scout._datafile import format_validation_error
from l1scout.errors import ConfigError, DataFormatError, ProductionError

if TYPE_CHECKING:
    from l1scout.production.driver import ProductionSummary, Progress
    from l1scout.production.manifest import Manifest
    from l1scout.production.plan import EngineSpec, ProductionPlan

__all__ = [
    "SampleRequest",
    "check_sample_folder",
    "dataset_hash",
    "ensure_fast_samples",
    "fast_plan",
    "fast_plan_of",
    "files_by_process",
    "produce_or_raise",
    "samples_problem",
    "shard_slots_problem",
]

_log = logging.getLogger(__name__)


class SampleRequest(BaseModel):
    """One sample: a catalog process and how many events of it.

    Attributes:
        process: a catalog name (``l1scout processes`` lists them).
        events: events to generate.

    >>> SampleRequest(process="minbias", events=10).events
    10
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    process: str = Field(min_length=1)
    events: int = Field(gt=0, le=100_000_000)

    @field_validator("process")
    @classmethod
    def _in_catalog(cls, value: str) -> str:
        from l1scout.production.seeds import process_slot  # imports the generator: deferred

        process_slot(value)  # an unknown name raises with the closest catalog names
        return value


def shard_slots_problem(
    requests: Sequence[tuple[str, SampleRequest]], shard_size: int
) -> str | None:
    """What is wrong when a sample needs more files than a process has seeds, or None.

    A process has :data:`~l1scout.production.seeds.SHARD_SLOTS` file seeds per
    plan seed, so its events make at most that many files of *shard_size*; a
    task's configuration checks it when it is read, where the plan would refuse
    it only when the production starts.

    Args:
        requests: (where, request) pairs; *where* names the request in the
            message, e.g. ``"signals[0]"``.
        shard_size: events per file.

    >>> shard_slots_problem([("zero_bias", SampleRequest(process="minbias", events=10))], 5)
    >>> shard_slots_problem([("zero_bias", SampleRequest(process="minbias", events=20_001))], 1)
    'zero_bias.events: 20,001 events make 20,001 files of shard_size 1; at most 20,000 per process (raise shard_size)'
    """
    from l1scout.production.seeds import SHARD_SLOTS  # imports the generator: deferred

    for where, req in requests:
        n = -(-req.events // shard_size)
        if n > SHARD_SLOTS:
            return (
                f"{where}.events: {req.events:,} events make {n:,} files of shard_size "
                f"{shard_size:,}; at most {SHARD_SLOTS:,} per process (raise shard_size)"
            )
    return None


def samples_problem(
    zero_bias: SampleRequest,
    others: Sequence[SampleRequest],
    *,
    field: str,
    shard_size: int,
    workers: int | None,
    engine_workers: int | None,
) -> str | None:
    """What is wrong with a task's samples table, or None (its configuration's check).

    A process named twice, a sample that needs more files than a process has
    seeds (:func:`shard_slots_problem`), or ``workers`` given twice.

    Args:
        zero_bias: the zero-bias request.
        others: the other requests, named ``<field>[i]`` in the messages.
        field: the table's name of *others* (``"signals"``, ``"processes"``).
        shard_size: events per file.
        workers: the table's ``workers`` shortcut.
        engine_workers: ``engine.workers``.

    >>> zb = SampleRequest(process="minbias", events=10)
    >>> samples_problem(zb, [zb], field="signals", shard_size=5, workers=None, engine_workers=None)
    "signals[0].process: 'minbias' is already zero_bias.process"
    >>> samples_problem(zb, [], field="signals", shard_size=5, workers=2, engine_workers=2)
    'workers: give workers or engine.workers, not both'
    """
    seen = {zero_bias.process: "zero_bias.process"}
    for i, req in enumerate(others):
        if req.process in seen:
            return f"{field}[{i}].process: {req.process!r} is already {seen[req.process]}"
        seen[req.process] = f"{field}[{i}].process"
    requests = [("zero_bias", zero_bias), *((f"{field}[{i}]", r) for i, r in enumerate(others))]
    problem = shard_slots_problem(requests, shard_size)
    if problem is not None:
        return problem
    if workers is not None and engine_workers is not None:
        return "workers: give workers or engine.workers, not both"
    return None


def fast_plan(
    requests: Sequence[SampleRequest],
    *,
    seed: int,
    shard_size: int,
    pileup: float,
    pool_size: int,
    views: Sequence[str],
    collections: Sequence[str],
    engine: EngineSpec,
    source: str,
) -> ProductionPlan:
    """The fast-mode production plan of *requests* (one shared pileup pool).

    Raises:
        ConfigError: the plan does not validate; the message starts with *source*
            and names the plan's fields.
    """
    from l1scout.production.plan import ProductionPlan

    data = {
        "seed": seed,
        "shard_size": shard_size,
        "pileup": pileup,
        "pool": "shared",
        "pool_size": pool_size,
        "views": tuple(views),
        "collections": tuple(collections),
        "processes": [{"name": r.process, "events": r.events} for r in requests],
        "engine": engine.model_dump(),
    }
    try:
        return ProductionPlan.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


class SamplesTable(Protocol):
    """What :func:`fast_plan_of` reads of a task's ``[data]`` table."""

    @property
    def seed(self) -> int: ...
    @property
    def shard_size(self) -> int: ...
    @property
    def pileup(self) -> float: ...
    @property
    def pool_size(self) -> int: ...
    @property
    def engine(self) -> EngineSpec: ...
    @property
    def workers(self) -> int | None: ...


def fast_plan_of(
    data: SamplesTable,
    requests: Sequence[SampleRequest],
    *,
    views: Sequence[str],
    collections: Sequence[str],
    source: str,
) -> ProductionPlan:
    """:func:`fast_plan` of *requests* with a task's ``[data]`` table: its seed, sizes, pileup and engine.

    ``data.workers``, when given, replaces ``data.engine.workers`` (the tasks'
    shortcut).

    Raises:
        ConfigError: the plan does not validate (the message starts with *source*).
    """
    engine = data.engine
    if data.workers is not None:
        engine = engine.model_copy(update={"workers": data.workers})
    return fast_plan(
        requests,
        seed=data.seed,
        shard_size=data.shard_size,
        pileup=data.pileup,
        pool_size=data.pool_size,
        views=views,
        collections=collections,
        engine=engine,
        source=source,
    )


def files_by_process(plan: ProductionPlan, out: Path | str) -> dict[str, list[Path]]:
    """The shard files of *plan* in *out*, process by process in plan order (they need not exist)."""
    files: dict[str, list[Path]] = {p.name: [] for p in plan.processes}
    for shard in plan.shards():
        files[shard.process].append(Path(out) / shard.file)
    return files


def check_sample_folder(plan: ProductionPlan, folder: Path, *, what: str) -> Manifest | None:
    """The manifest of a task's sample *folder* (None: none yet), refused if it is of another plan.

    Args:
        plan: the plan the task's configuration makes.
        folder: the production folder.
        what: the configuration's name in the message, e.g. ``"anomaly data"``.

    Raises:
        ProductionError: *folder* holds a production of another plan; the
            message lists the differences and says what to do (nothing is touched).
    """
    from l1scout.production.manifest import check_same_plan, read_manifest

    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is not None:
        try:
            check_same_plan(manifest, plan, folder)
        except ProductionError as exc:
            msg = (
                f"{exc}\nThe data folder {folder} was made with another {what} configuration "
                "(samples, events, pileup, seed, pool or shard size): set another data_dir for "
                "this configuration, or restore the values it was made with."
            )
            raise ProductionError(msg) from None
    return manifest


def produce_or_raise(
    plan: ProductionPlan, out: Path, *, what: str, progress: Progress | None = None
) -> ProductionSummary:
    """Run :func:`~l1scout.production.driver.produce` and refuse a run with failed shards.

    Args:
        plan: the plan.
        out: the production folder (created if needed).
        what: the samples' name in messages, e.g. ``"anomaly samples"``.
        progress: ``progress(stage, done, total)`` as ``produce`` calls it.

    Raises:
        ProductionError: the folder cannot be used, or shards failed on every
            attempt (each listed; the others are kept, rerun to retry them).
    """
    from l1scout.production.driver import produce

    summary = produce(plan, out, progress=progress)
    _log.info(
        "%s in %s: %d files made (%d events, %.1f events/s), %d kept",
        what,
        out,
        summary.made,
        summary.events_made,
        summary.events_per_s,
        summary.kept,
    )
    if summary.failures:
        lines = [f"{f.file}: {f.error}" for f in summary.failures]
        msg = (
            f"{len(lines)} of {summary.planned} files of the {what} in {out} "
            "failed on every attempt (the others are kept; rerun to retry them):\n  "
            + "\n  ".join(lines)
        )
        raise ProductionError(msg)
    return summary


def dataset_hash(plan: ProductionPlan, folder: Path) -> str:
    """SHA-256 of the plan's hash and the (file, SHA-256, events) of every shard's manifest record.

    It names the data a study read: the same plan and the same bytes give the
    same hash, whatever the folder.

    Raises:
        DataFormatError: no manifest in *folder*, or a shard without its record.
    """
    from l1scout.production.manifest import read_manifest

    manifest = read_manifest(folder)
    if manifest is None:
        raise DataFormatError(f"{folder}: no manifest; produce the samples first")
    records = manifest.records()
    rows = []
    for shard in plan.shards():
        rec = records.get(shard.file)
        if rec is None:
            msg = f"{folder / shard.file}: no record in the manifest; rerun the production"
            raise DataFormatError(msg)
        rows.append([rec.file, rec.sha256, rec.events])
    payload = {"plan_hash": manifest.plan_hash, "files": rows}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ensure_fast_samples(
    plan: ProductionPlan, folder: Path, *, what: str, progress: Progress | None = None
) -> tuple[dict[str, list[Path]], str]:
    """Make what is missing of *plan* in *folder*; return its files by process and :func:`dataset_hash`.

    A folder holding another plan's samples is refused untouched
    (:func:`check_sample_folder`); the production resumes (:func:`produce_or_raise`).

    Args:
        plan: the fast-mode plan.
        folder: its production folder (created if needed).
        what: the samples' name in messages, e.g. ``"MLPF samples"``.
        progress: ``progress(stage, done, total)`` as ``produce`` calls it.

    Raises:
        ProductionError: another plan's folder, a folder that cannot be
            written, or shards failed on every attempt.
        DataFormatError: a planned file missing after the production.
    """
    check_sample_folder(plan, folder, what=what)
    produce_or_raise(plan, folder, what=what, progress=progress)
    files = files_by_process(plan, folder)
    missing = [p for paths in files.values() for p in paths if not p.is_file()]
    if missing:
        msg = f"{folder}: {len(missing)} sample files missing after the production: {missing[0]}"
        raise DataFormatError(msg)
    digest = dataset_hash(plan, folder)
    n_files = sum(len(v) for v in files.values())
    _log.info("%s in %s: %d files, dataset %s", what, folder, n_files, digest[:12])
    return files, digest
