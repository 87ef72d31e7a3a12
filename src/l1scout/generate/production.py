"""Sharded, resumable, reproducible production of a plan on Dask (or in this process).

:func:`produce` makes every shard of a :class:`~l1scout.generate.plan.ProductionPlan`
in an output folder:

1. A folder holding another plan's production is refused before anything is
   touched; an unwritable folder is refused before any work.
2. The folder is reconciled with its manifest (:func:`l1scout.generate.manifest.reconcile`):
   leftover temporary files go, verified shards stay, broken ones are remade.
3. With ``pool = "shared"`` the plan's pileup pool is built once here (and
   cached) before anything is submitted; workers load it from the cache (a
   remote worker without the cache rebuilds the same pool). With
   ``pool = "per_shard"`` every worker builds its shard's own pool in a private
   temporary folder and deletes it.
4. One task per shard runs :func:`run_shard` on the engine (``local``:
   a Dask ``LocalCluster`` with one single-threaded worker process per core;
   ``address``: an existing scheduler; ``slurm``/``htcondor``: batch jobs through
   dask-jobqueue; ``single``: a plain loop here). A task that raises is retried
   ``plan.retries`` times, and so is one whose worker died; a shard that keeps
   failing is recorded with its error and the others go on.
5. The manifest is rewritten atomically as shards finish.

A full disk stops the production with :class:`~l1scout.errors.ProductionError`
saying what is kept and to rerun after freeing space; a killed production
leaves only hidden temporary files, and the same command resumes it.
"""

from __future__ import annotations

import errno
import functools
import importlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l1scout._version import __version__
from l1scout.errors import GenerationError, ProductionError
from l1scout.generate.job import GenerationConfig, card_hashes, prepare_pool, run_generation
from l1scout.generate.manifest import (
    LOCK_NAME,
    MANIFEST_NAME,
    Manifest,
    ShardRecord,
    check_same_plan,
    new_manifest,
    read_manifest,
    reconcile,
    write_manifest,
)
from l1scout.generate.plan import EngineSpec, ProductionPlan, ShardSpec

__all__ = [
    "ProductionSummary",
    "Progress",
    "ShardFailure",
    "ShardRunner",
    "ShardTask",
    "default_workers",
    "make_jobqueue_cluster",
    "produce",
    "run_shard",
]

_log = logging.getLogger(__name__)

#: ``progress(stage, done, total)`` with stage ``verify``, ``pool``, ``shards`` or ``events``.
Progress = Callable[[str, int, int], None]

# the topic under which workers report the events done in their shard
_TOPIC = "l1scout-shard-progress"
# seconds between two progress reports of one worker
_REPORT_EVERY_S = 0.5
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# The environment of Dask's worker processes. Dask sets MALLOC_TRIM_THRESHOLD_=65536 for
# memory hygiene, which makes every large array a fresh mmap and slows generation down.
# These values behave like glibc's defaults and keep one BLAS thread per worker.
_WORKER_ENVIRON: dict[str, int] = {
    "MALLOC_TRIM_THRESHOLD_": 128 << 20,
    "MALLOC_MMAP_THRESHOLD_": 32 << 20,
    "OMP_NUM_THREADS": 1,
    "MKL_NUM_THREADS": 1,
    "OPENBLAS_NUM_THREADS": 1,
}


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to make one shard (picklable).

    Attributes:
        shard: the shard.
        config: its generation job.
        out: the output folder (shared with the client).
        per_shard_pool: build the shard's own pool in a private temporary folder.
        l1scout_version: the client's version; a worker with another refuses.
        card_hashes: the client's card hashes; a worker that sees other cards refuses.
    """

    shard: ShardSpec
    config: GenerationConfig
    out: str
    per_shard_pool: bool
    l1scout_version: str
    card_hashes: tuple[tuple[str, str], ...]


#: ``runner(task, report)`` makes a shard and returns its record; ``report(events_done)``.
ShardRunner = Callable[[ShardTask, Callable[[int], None] | None], ShardRecord]


@dataclass(frozen=True)
class ShardFailure:
    """A shard that failed on every attempt, with its last error."""

    file: str
    process: str
    index: int
    error: str


@dataclass(frozen=True)
class ProductionSummary:
    """What :func:`produce` did.

    Attributes:
        out: the output folder.
        planned: shards in the plan.
        made: shards made by this run.
        kept: shards found complete and verified (adopted ones included).
        adopted: complete files without a manifest record, adopted.
        remade: shards whose file was broken or missing and was made again.
        removed_temporary: leftover temporary files deleted.
        failures: shards that failed on every attempt.
        events_made: events generated by this run.
        events: events in the folder's complete shards.
        files: complete shard files in the folder.
        bytes: their size.
        wall_s: wall time of the run (s), pool and cluster start included.
    """

    out: Path
    planned: int
    made: int
    kept: int
    adopted: int
    remade: int
    removed_temporary: int
    failures: tuple[ShardFailure, ...]
    events_made: int
    events: int
    files: int
    bytes: int
    wall_s: float

    @property
    def events_per_s(self) -> float:
        """Events made per second of wall time."""
        return self.events_made / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def complete(self) -> bool:
        """Whether every shard of the plan is in the folder."""
        return self.files == self.planned


def default_workers() -> int:
    """Cores this process may use (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- the worker side -------------------------------------------------------------------------


def run_shard(task: ShardTask, report: Callable[[int], None] | None = None) -> ShardRecord:
    """Make one shard in ``task.out`` and return its manifest record (runs on a worker).

    The file is written under a temporary name and renamed when complete
    (:func:`l1scout.generate.job.run_generation`); an existing file of the same
    name (a previous attempt that finished after its worker was given up) is
    replaced by the same bytes.

    Raises:
        ProductionError: the worker runs another l1scout version or sees other cards.
        GenerationError: the file holds fewer events than the shard.
    """
    start = time.perf_counter()
    if __version__ != task.l1scout_version:
        msg = (
            f"the worker runs l1scout {__version__}, the client {task.l1scout_version}; "
            "install the same version on every node"
        )
        raise ProductionError(msg)
    cards = card_hashes(task.config)
    if cards != dict(task.card_hashes):
        msg = (
            "the worker's detector cards differ from the client's; share the same files and version"
        )
        raise ProductionError(msg)

    def progress(stage: str, done: int, total: int) -> None:
        del total
        if stage == "events" and report is not None:
            report(done)

    out = Path(task.out)
    if task.per_shard_pool:
        with tempfile.TemporaryDirectory(prefix="l1scout-pool-") as tmp:
            result = run_generation(
                task.config, out, overwrite=True, progress=progress, pool_dir=Path(tmp)
            )
    else:
        result = run_generation(task.config, out, overwrite=True, progress=progress)
    shard = task.shard
    if result.events != shard.events:
        msg = f"{shard.file}: {result.events} events were written, the shard needs {shard.events}"
        raise GenerationError(msg)
    return ShardRecord.of(
        shard,
        result.path,
        l1scout_version=__version__,
        card_hashes=cards,
        settings_hash=result.settings_hash,
        wall_s=round(time.perf_counter() - start, 3),
    )


def _dask_task(task: ShardTask, runner: ShardRunner) -> ShardRecord:
    """A Dask task: *runner* with progress reports sent to the client as worker events."""
    from distributed import get_worker

    worker = get_worker()
    last = [0.0]

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY_S:
            last[0] = now
            worker.log_event(_TOPIC, {"file": task.shard.file, "done": done})

    return runner(task, report)


# -- the client side -------------------------------------------------------------------------


class _Tracker:
    """Shard and event counts for the progress bars; thread-safe (worker reports arrive on Dask's thread)."""

    def __init__(
        self,
        progress: Progress | None,
        shards: int,
        events: int,
        shards_done: int,
        events_done: int,
    ) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._shards = (shards_done, shards)
        self._events = (events_done, events)
        self._partial: dict[str, int] = {}
        self._show()

    def _show(self) -> None:
        if self._progress is None:
            return
        self._progress("shards", *self._shards)
        done, total = self._events
        self._progress("events", min(total, done + sum(self._partial.values())), total)

    def partial(self, file: str, done: int) -> None:
        with self._lock:
            if file in self._partial or done > 0:
                self._partial[file] = done
            self._show()

    def finished(self, file: str, events: int) -> None:
        with self._lock:
            self._partial.pop(file, None)
            self._shards = (self._shards[0] + 1, self._shards[1])
            self._events = (self._events[0] + events, self._events[1])
            self._show()

    def failed(self, file: str) -> None:
        with self._lock:
            self._partial.pop(file, None)
            self._shards = (self._shards[0] + 1, self._shards[1])
            self._show()


class _Book:
    """The manifest records of this run, written atomically as shards finish.

    A rewrite is skipped while the last one took more than a tenth of the time
    since it (a very large manifest with shards finishing fast); the files it
    leaves out are complete and are adopted by a rerun.
    """

    def __init__(self, out: Path, plan: ProductionPlan, kept: dict[str, ShardRecord]) -> None:
        self.out = out
        self.base: Manifest = new_manifest(plan)
        self.order = {s.file: i for i, s in enumerate(plan.shards())}
        self.records = dict(kept)
        self._written_at = 0.0
        self._cost = 0.0
        self._dirty = True

    def add(self, record: ShardRecord) -> None:
        self.records[record.file] = record
        self._dirty = True
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._dirty or (not force and now - self._written_at < 10 * self._cost):
            return
        shards = tuple(sorted(self.records.values(), key=lambda r: self.order[r.file]))
        write_manifest(self.out, self.base.model_copy(update={"shards": shards}))
        self._written_at = time.monotonic()
        self._cost = self._written_at - now
        self._dirty = False


class _DiskFullError(Exception):
    def __init__(self, file: str, cause: BaseException) -> None:
        super().__init__(file, cause)
        self.file = file
        self.cause = cause


def _is_disk_full(exc: BaseException | None) -> bool:
    """Whether an error (or its cause; or its text, when it crossed a process boundary) is a full disk."""
    texts = tuple(os.strerror(code) for code in _DISK_FULL)
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            return True
        if any(t in str(exc) for t in texts):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _prepare_folder(out: Path) -> None:
    """Create *out* and prove it writable, or raise :class:`ProductionError`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        msg = f"the output folder {out} exists and is not a folder"
        raise ProductionError(msg) from None
    except OSError as exc:
        msg = f"cannot create the output folder {out} ({exc.strerror or exc}); choose another --out"
        raise ProductionError(msg) from exc
    try:
        fd, name = tempfile.mkstemp(prefix=".l1scout-probe.", suffix=".tmp-0", dir=out)
        os.close(fd)
        Path(name).unlink()
    except OSError as exc:
        if _is_disk_full(exc):
            msg = f"the disk of {out} is full; free space and rerun"
        else:
            msg = (
                f"the output folder {out} is not writable ({exc.strerror or exc}); "
                "fix its permissions or choose another --out"
            )
        raise ProductionError(msg) from exc


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder so that two productions never share it."""
    import fcntl

    with (out / LOCK_NAME).open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = f"another `l1scout produce` is writing to {out}; wait for it to end or stop it"
            raise ProductionError(msg) from None
        except OSError as exc:  # a file system without locks: go on unprotected
            _log.warning("cannot lock %s (%s); do not run two productions in it", out, exc)
        try:
            yield
        finally:
            with suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build_shared_pool(plan: ProductionPlan, workers: int, progress: Progress | None) -> None:
    """Build (or find) the plan's shared pileup pool in the cache, as the workers will look it up."""
    config = plan.generation_config(plan.shards()[0])
    _, path, built = prepare_pool(config, workers=workers, progress=progress)
    if path is not None:
        _log.info("%s the shared pileup pool %s", "built" if built else "found", path)


def make_jobqueue_cluster(engine: EngineSpec) -> Any:
    """A dask-jobqueue SLURM or HTCondor cluster from the ``[engine]`` table (no job submitted yet).

    Each job runs ``engine.cores`` single-threaded worker processes; call
    ``cluster.scale(jobs=engine.jobs)`` to submit. ``cluster.job_script()``
    shows the batch script.

    Raises:
        ProductionError: the engine is not ``slurm`` or ``htcondor``.
    """
    environ = repr(_WORKER_ENVIRON).replace('"', "'")
    common: dict[str, Any] = {
        "cores": engine.cores,
        "processes": engine.cores,
        "memory": engine.memory,
        "job_script_prologue": [
            *engine.job_script_prologue,
            f'export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{environ}"',
        ],
        "scheduler_options": {"dashboard_address": ":0"},
    }
    for key in ("python", "local_directory", "log_directory", "interface"):
        value = getattr(engine, key)
        if value is not None:
            common[key] = value
    jobqueue: Any = importlib.import_module("dask_jobqueue")  # untyped
    if engine.kind == "slurm":
        slurm: dict[str, Any] = {"job_extra_directives": list(engine.job_extra_directives)}
        for key in ("queue", "account", "walltime"):
            value = getattr(engine, key)
            if value is not None:
                slurm[key] = value
        return jobqueue.SLURMCluster(**common, **slurm)
    if engine.kind == "htcondor":
        extra = {}
        for line in engine.job_extra_directives:
            key, value = line.split("=", 1)
            extra[key.strip()] = value.strip()
        return jobqueue.HTCondorCluster(**common, disk=engine.disk, job_extra_directives=extra)
    msg = f"engine {engine.kind!r} is not a batch system (slurm, htcondor)"
    raise ProductionError(msg)


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Keep Dask's INFO chatter (cluster start and stop, closed connections) out of our log."""
    loggers = [logging.getLogger(name) for name in ("distributed", "dask_jobqueue", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextmanager
def _dask_client(engine: EngineSpec, workers: int) -> Iterator[Any]:
    distributed: Any = importlib.import_module("distributed")  # untyped calls
    Client, LocalCluster = distributed.Client, distributed.LocalCluster  # noqa: N806

    if engine.kind == "local":
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # no dashboard; its HTTP server on a free port (8787 may be taken)
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    elif engine.kind == "address":
        try:
            client = Client(engine.address)  # waits distributed.comm.timeouts.connect (30 s)
        except (OSError, TimeoutError) as exc:
            msg = f"cannot reach the Dask scheduler at {engine.address} ({exc})"
            raise ProductionError(msg) from exc
        with client:
            yield client
    else:
        with make_jobqueue_cluster(engine) as cluster:
            cluster.scale(jobs=engine.jobs)
            with Client(cluster) as client:
                yield client


def _run_single(
    tasks: list[ShardTask],
    retries: int,
    runner: ShardRunner,
    book: _Book,
    tracker: _Tracker,
) -> list[ShardFailure]:
    failures = []
    for task in tasks:
        file = task.shard.file
        error: BaseException | None = None
        for attempt in range(retries + 1):
            try:
                record = runner(task, functools.partial(tracker.partial, file))
            except Exception as exc:
                if _is_disk_full(exc):
                    raise _DiskFullError(file, exc) from exc
                _log.warning("%s: attempt %d failed: %s", file, attempt + 1, _error_text(exc))
                error = exc
                tracker.partial(file, 0)
            else:
                book.add(record)
                tracker.finished(file, record.events)
                break
        else:
            assert error is not None  # the loop ran at least once and failed
            failures.append(_failure(task, error))
            tracker.failed(file)
    return failures


def _failure(task: ShardTask, exc: BaseException) -> ShardFailure:
    return ShardFailure(task.shard.file, task.shard.process, task.shard.index, _error_text(exc))


def _run_dask(
    tasks: list[ShardTask],
    plan: ProductionPlan,
    workers: int,
    runner: ShardRunner,
    book: _Book,
    tracker: _Tracker,
) -> list[ShardFailure]:
    import dask

    as_completed: Any = importlib.import_module("distributed").as_completed
    failures = []
    settings = {
        # a task whose worker died is given to another this many times more
        "distributed.scheduler.allowed-failures": plan.retries,
        # a worker holds only the shard it runs, so a dying worker takes no other down with it
        "distributed.scheduler.worker-saturation": 1.0,
        "distributed.nanny.pre-spawn-environ": _WORKER_ENVIRON,
    }
    with _quiet_dask(), dask.config.set(settings), _dask_client(plan.engine, workers) as client:

        def on_event(event: tuple[float, dict[str, Any]]) -> None:
            msg = event[1]
            tracker.partial(str(msg["file"]), int(msg["done"]))

        client.subscribe_topic(_TOPIC, on_event)
        futures = {
            client.submit(
                _dask_task,
                task,
                runner,
                key=f"l1scout-{task.shard.process}-{task.shard.index}-RS{task.shard.seed}",
                retries=plan.retries,
                pure=False,
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    record = future.result()
                except Exception as exc:
                    if _is_disk_full(exc):
                        raise _DiskFullError(task.shard.file, exc) from exc
                    failures.append(_failure(task, exc))
                    tracker.failed(task.shard.file)
                    continue
                book.add(record)
                tracker.finished(task.shard.file, record.events)
        finally:
            client.cancel(list(futures))
            client.unsubscribe_topic(_TOPIC)
    return failures


def produce(
    plan: ProductionPlan,
    out: Path | str,
    *,
    progress: Progress | None = None,
    runner: ShardRunner = run_shard,
) -> ProductionSummary:
    """Make (or complete) the production of *plan* in the folder *out*.

    Args:
        plan: the plan; ``plan.engine`` says where the shards run.
        out: the output folder (created if needed).
        progress: called as ``progress(stage, done, total)``, stages ``verify``
            (existing shards checked), ``pool``, ``shards`` and ``events``.
        runner: the function that makes one shard (tests inject failures here).

    Returns:
        The summary; shards that failed on every attempt are in ``failures``
        (the others are made and recorded all the same).

    Raises:
        ProductionError: *out* holds another plan's production (nothing is
            touched), cannot be created or written, is locked by another
            production, or its disk is full (what is complete is kept).
    """
    start = time.perf_counter()
    out = Path(out)
    if out.is_dir():
        found = read_manifest(out)
        if found is not None:
            check_same_plan(found, plan, out)
    _prepare_folder(out)
    engine = plan.engine
    workers = 1 if engine.kind == "single" else (engine.workers or default_workers())
    with _locked(out):
        manifest = read_manifest(out)  # again, now that no other production can write it
        if manifest is not None:
            check_same_plan(manifest, plan, out)
        verify = None
        if progress is not None and manifest is not None:  # a fresh folder has nothing to verify
            verify = functools.partial(progress, "verify")
        state = reconcile(out, plan, manifest, progress=verify)
        book = _Book(out, plan, state.kept)
        cards = tuple(sorted(card_hashes(plan.generation_config(plan.shards()[0])).items()))
        tasks = [
            ShardTask(
                shard=spec,
                config=plan.generation_config(spec),
                out=str(out.resolve()),
                per_shard_pool=plan.pool == "per_shard" and spec.pool_seed is not None,
                l1scout_version=__version__,
                card_hashes=cards,
            )
            for spec in state.todo
        ]
        tracker = _Tracker(
            progress,
            len(plan.shards()),
            plan.total_events,
            len(state.kept),
            sum(r.events for r in state.kept.values()),
        )
        failures: list[ShardFailure] = []
        try:
            book.flush(force=True)  # the plan is recorded before any shard is made
            if tasks and plan.pool == "shared":
                _build_shared_pool(plan, 1 if engine.kind == "single" else workers, progress)
            if tasks and engine.kind == "single":
                failures = _run_single(tasks, plan.retries, runner, book, tracker)
            elif tasks:
                failures = _run_dask(tasks, plan, workers, runner, book, tracker)
            book.flush(force=True)
        except _DiskFullError as full:
            _flush_quietly(book)
            msg = (
                f"the disk of {out} is full ({_error_text(full.cause)} while making {full.file}). "
                f"{len(book.records)} complete shards are kept, listed in {out / MANIFEST_NAME}; "
                "no partial file is left under a final name. Free space and rerun the same "
                "command to make the rest."
            )
            raise ProductionError(msg) from None
        except OSError as exc:
            if not _is_disk_full(exc):
                raise
            _flush_quietly(book)
            msg = (
                f"the disk of {out} is full ({_error_text(exc)}). {len(book.records)} complete "
                "shards are kept; free space and rerun the same command to make the rest."
            )
            raise ProductionError(msg) from None
        except BaseException:
            _flush_quietly(book)
            raise
    made = [book.records[t.shard.file] for t in tasks if t.shard.file in book.records]
    return ProductionSummary(
        out=out,
        planned=len(plan.shards()),
        made=len(made),
        kept=len(state.kept),
        adopted=len(state.adopted),
        remade=len(state.broken) + len(state.missing),
        removed_temporary=len(state.removed_temporary),
        failures=tuple(failures),
        events_made=sum(r.events for r in made),
        events=sum(r.events for r in book.records.values()),
        files=len(book.records),
        bytes=sum(r.bytes for r in book.records.values()),
        wall_s=time.perf_counter() - start,
    )


def _flush_quietly(book: _Book) -> None:
    try:
        book.flush(force=True)
    except OSError as exc:
        _log.error("could not update the manifest (%s); a rerun adopts the complete files", exc)
