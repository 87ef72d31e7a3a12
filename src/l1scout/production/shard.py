"""One shard of a production: the task a worker receives, the function that makes it, its failures.

:func:`run_shard` runs on a worker (a Dask worker process or this process) and
returns the shard's manifest record; the client side is :mod:`l1scout.production.driver`.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from l1scout._version import __version__
from l1scout.errors import GenerationError, ProductionError
from l1scout.production.job import GenerationConfig, card_hashes, run_generation
from l1scout.production.manifest import ShardRecord
from l1scout.production.plan import ShardSpec

__all__ = [
    "DISK_FULL_ERRNOS",
    "DiskFullError",
    "ShardFailure",
    "ShardRunner",
    "ShardTask",
    "error_text",
    "is_disk_full",
    "run_shard",
    "shard_failure",
]

#: the ``errno`` values of a full disk or an exceeded quota
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


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


def run_shard(task: ShardTask, report: Callable[[int], None] | None = None) -> ShardRecord:
    """Make one shard in ``task.out`` and return its manifest record (runs on a worker).

    The file is written under a temporary name and renamed when complete
    (:func:`l1scout.production.job.run_generation`); an existing file of the same
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
        pool_sha256=result.pool_sha256,
    )


class DiskFullError(Exception):
    """A shard stopped by a full disk (internal: :func:`~l1scout.production.driver.produce` turns it into a ProductionError)."""

    def __init__(self, file: str, cause: BaseException) -> None:
        super().__init__(file, cause)
        self.file = file
        self.cause = cause


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an error (or its cause; or its text, when it crossed a process boundary) is a full disk."""
    texts = tuple(os.strerror(code) for code in DISK_FULL_ERRNOS)
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if any(t in str(exc) for t in texts):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def error_text(exc: BaseException) -> str:
    """``Type: first line of the message`` of an error, for logs and failure records."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def shard_failure(task: ShardTask, exc: BaseException) -> ShardFailure:
    """The failure record of *task* that raised *exc* on its last attempt."""
    return ShardFailure(task.shard.file, task.shard.process, task.shard.index, error_text(exc))
