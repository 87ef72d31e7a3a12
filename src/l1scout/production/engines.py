"""Where shards run: one process, a local Dask cluster, a scheduler address, SLURM or HTCondor.

:func:`run_single` and :func:`run_dask` run a list of :class:`~l1scout.production.shard.ShardTask`
with retries and hand every outcome to a :class:`ShardSink` (the client's manifest
and progress bars, :mod:`l1scout.production.driver`). A full disk stops either
loop with :class:`~l1scout.production.shard.DiskFullError`.

The local cluster's workers keep the traceback of a failing shard to
themselves (it reaches the client, which says what failed in one line); with
logging at DEBUG (``l1scout -v``) they print it, and the client logs it too.
:func:`check_engine` proves a scheduler address reachable, waiting at most
:data:`CONNECT_TIMEOUT_S`, before a production creates anything.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from l1scout.errors import ProductionError
from l1scout.production.manifest import ShardRecord
from l1scout.production.plan import EngineSpec, ProductionPlan
from l1scout.production.shard import (
    DiskFullError,
    ShardFailure,
    ShardRunner,
    ShardTask,
    error_text,
    is_disk_full,
    shard_failure,
)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "WORKER_ENVIRON",
    "ShardSink",
    "check_engine",
    "dask_map",
    "default_workers",
    "make_jobqueue_cluster",
    "run_dask",
    "run_single",
]

_log = logging.getLogger(__name__)

#: Longest wait (s) for the scheduler of the ``address`` engine; Dask's own connect timeout
#: (``distributed.comm.timeouts.connect``, 30 s) applies when it is shorter.
CONNECT_TIMEOUT_S = 10.0
# the topic under which workers report the events done in their shard
_TOPIC = "l1scout-shard-progress"
# seconds between two progress reports of one worker
_REPORT_EVERY_S = 0.5
# The environment of Dask's worker processes. Dask sets MALLOC_TRIM_THRESHOLD_=65536 for
# memory hygiene, which makes every large array a fresh mmap and slows generation down.
# These values behave like glibc's defaults and keep one BLAS thread per worker.
WORKER_ENVIRON: dict[str, int] = {
    "MALLOC_TRIM_THRESHOLD_": 128 << 20,
    "MALLOC_MMAP_THRESHOLD_": 32 << 20,
    "OMP_NUM_THREADS": 1,
    "MKL_NUM_THREADS": 1,
    "OPENBLAS_NUM_THREADS": 1,
}


_T = TypeVar("_T")
_R = TypeVar("_R")


class ShardSink(Protocol):
    """What the engines tell the client about each shard."""

    def partial(self, file: str, done: int) -> None:
        """*done* events of *file* are made so far (0: an attempt failed and starts again)."""

    def finished(self, file: str, record: ShardRecord) -> None:
        """*file* is complete; *record* is its manifest record."""

    def failed(self, file: str) -> None:
        """*file* failed on its last attempt."""


def default_workers() -> int:
    """Cores this process may use (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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


def make_jobqueue_cluster(engine: EngineSpec) -> Any:
    """A dask-jobqueue SLURM or HTCondor cluster from the ``[engine]`` table (no job submitted yet).

    Each job runs ``engine.cores`` single-threaded worker processes; call
    ``cluster.scale(jobs=engine.jobs)`` to submit. ``cluster.job_script()``
    shows the batch script.

    Raises:
        ProductionError: the engine is not ``slurm`` or ``htcondor``.
    """
    environ = repr(WORKER_ENVIRON).replace('"', "'")
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


def _connect(address: str) -> Any:
    """A Dask client of the scheduler at *address*, or a ProductionError naming it."""
    import dask
    from dask.utils import parse_timedelta

    distributed: Any = importlib.import_module("distributed")  # untyped calls
    configured = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    timeout = min(float(configured or CONNECT_TIMEOUT_S), CONNECT_TIMEOUT_S)
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        msg = (
            f"cannot reach the Dask scheduler at {address} ({error_text(exc)}); "
            "check the address and that the scheduler runs"
        )
        raise ProductionError(msg) from exc


def check_engine(engine: EngineSpec) -> None:
    """Refuse an engine that cannot run, before a production creates anything.

    The ``address`` engine's scheduler must answer within
    :data:`CONNECT_TIMEOUT_S` (the connection is closed again); the other
    engines start their own cluster and are not checked.

    Raises:
        ProductionError: the scheduler cannot be reached; the message names its address.
    """
    if engine.kind != "address" or engine.address is None:
        return
    with _quiet_dask():
        _connect(engine.address).close()


@contextmanager
def _dask_client(engine: EngineSpec, workers: int) -> Iterator[Any]:
    distributed: Any = importlib.import_module("distributed")  # untyped calls
    Client, LocalCluster = distributed.Client, distributed.LocalCluster  # noqa: N806

    if engine.kind == "local":
        # a failing task's traceback ("Compute Failed") is logged at ERROR by its worker;
        # the client says what failed in one line (at DEBUG, both show)
        worker_logs = logging.ERROR if _log.isEnabledFor(logging.DEBUG) else logging.CRITICAL
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # no dashboard; its HTTP server on a free port (8787 may be taken)
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=worker_logs,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    elif engine.kind == "address" and engine.address is not None:
        with _connect(engine.address) as client:
            yield client
    else:
        with make_jobqueue_cluster(engine) as cluster:
            cluster.scale(jobs=engine.jobs)
            with Client(cluster) as client:
                yield client


def run_single(
    tasks: list[ShardTask],
    retries: int,
    runner: ShardRunner,
    sink: ShardSink,
) -> list[ShardFailure]:
    """Run *tasks* one after the other in this process, each up to ``retries + 1`` times.

    Returns the shards that failed on every attempt.
    """
    failures = []
    for task in tasks:
        file = task.shard.file
        error: BaseException | None = None
        for attempt in range(retries + 1):
            try:
                record = runner(task, functools.partial(sink.partial, file))
            except Exception as exc:
                if is_disk_full(exc):
                    raise DiskFullError(file, exc) from exc
                _log.warning("%s: attempt %d failed: %s", file, attempt + 1, error_text(exc))
                error = exc
                sink.partial(file, 0)
            else:
                sink.finished(file, record)
                break
        else:
            assert error is not None  # the loop ran at least once and failed
            failures.append(shard_failure(task, error))
            sink.failed(file)
    return failures


def run_dask(
    tasks: list[ShardTask],
    plan: ProductionPlan,
    workers: int,
    runner: ShardRunner,
    sink: ShardSink,
) -> list[ShardFailure]:
    """Run *tasks* on the Dask engine of ``plan.engine`` with *workers* workers (local cluster).

    A task that raises is retried ``plan.retries`` times, and so is one whose
    worker died. Returns the shards that failed on every attempt.
    """
    import dask

    as_completed: Any = importlib.import_module("distributed").as_completed
    failures = []
    settings = {
        # a task whose worker died is given to another this many times more
        "distributed.scheduler.allowed-failures": plan.retries,
        # a worker holds only the shard it runs, so a dying worker takes no other down with it
        "distributed.scheduler.worker-saturation": 1.0,
        "distributed.nanny.pre-spawn-environ": WORKER_ENVIRON,
    }
    with _quiet_dask(), dask.config.set(settings), _dask_client(plan.engine, workers) as client:

        def on_event(event: tuple[float, dict[str, Any]]) -> None:
            msg = event[1]
            sink.partial(str(msg["file"]), int(msg["done"]))

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
                    _log.debug("%s failed on its worker", task.shard.file, exc_info=exc)
                    if is_disk_full(exc):
                        raise DiskFullError(task.shard.file, exc) from exc
                    failures.append(shard_failure(task, exc))
                    sink.failed(task.shard.file)
                    continue
                sink.finished(task.shard.file, record)
        finally:
            client.cancel(list(futures))
            client.unsubscribe_topic(_TOPIC)
    return failures


def dask_map(
    engine: EngineSpec,
    fn: Callable[[_T], _R],
    items: Sequence[_T],
    workers: int | None = None,
) -> list[_R]:
    """``[fn(item) for item in items]`` on the Dask engine *engine*, one task per item.

    The results come back in the order of *items*, whatever order the workers
    finish in. *fn* and the items travel to the workers by pickle (a module-level
    function or a ``functools.partial`` of one). A task that raises fails the
    map: the first error is raised here (catch the expected ones inside *fn*).

    Args:
        engine: the engine (``local``, ``address``, ``slurm``, ``htcondor``;
            ``single`` runs the plain loop in this process).
        fn: the task.
        items: one task per item.
        workers: worker processes of the ``local`` engine (default
            ``engine.workers``, else one per core).

    Raises:
        ProductionError: the scheduler of an ``address`` engine cannot be reached.

    >>> dask_map(EngineSpec(kind="single"), abs, [-2, 3])
    [2, 3]
    """
    if engine.kind == "single" or not items:
        return [fn(item) for item in items]
    import dask

    n = workers or engine.workers or default_workers()
    settings = {"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON}
    with _quiet_dask(), dask.config.set(settings), _dask_client(engine, n) as client:
        futures = client.map(fn, list(items), pure=False)
        try:
            results: list[_R] = client.gather(futures)
        finally:
            client.cancel(futures)
    return results
