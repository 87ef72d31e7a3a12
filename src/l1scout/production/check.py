"""Verify a production folder against its manifest: ``l1scout check DIR``.

:func:`check_dataset` reads ``<dir>/manifest.json`` and reports, file by file,
every problem of these kinds (:data:`PROBLEM_KINDS`):

* ``missing``: a shard in the manifest whose file is gone;
* ``checksum``: the file's size or SHA-256 differs from the record;
* ``unreadable``: the file's Parquet footer cannot be read;
* ``schema``: its columns or types are not those of the plan's views and collections;
* ``events``: its row count differs from the record or from the plan's shard;
* ``record``: the record contradicts the plan (seed, events, process, index);
* ``pool``: the file was made from another pileup pool than its record says
  (the ``pool_sha256`` of its footer), or, with a shared pool that the pool
  cache holds, than the cached pool (its verified content hash);
* ``not produced``: a shard of the plan that the manifest does not list yet;
* ``extra``: a file the production did not write;
* ``temporary``: a leftover temporary file (``.<name>.tmp-<pid>``) of a killed writer.

Nothing is changed; ``l1scout produce`` with the same plan repairs what it can.
Records without ``pool_sha256`` (manifests of older versions) skip the pool checks;
a cached pool that fails its own verification is not compared (a warning says so;
it is rebuilt when next used).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from l1scout._files import sha256_file
from l1scout.errors import DataFormatError, ProductionError
from l1scout.io.schema import arrow_schema
from l1scout.production.job import cached_pool
from l1scout.production.manifest import (
    LOCK_NAME,
    MANIFEST_NAME,
    ShardRecord,
    is_temporary,
    read_manifest,
)
from l1scout.production.plan import ProductionPlan, ShardSpec

__all__ = ["PROBLEM_KINDS", "CheckReport", "Problem", "check_dataset"]

_log = logging.getLogger(__name__)

PROBLEM_KINDS = (
    "missing",
    "checksum",
    "unreadable",
    "schema",
    "events",
    "record",
    "pool",
    "not produced",
    "extra",
    "temporary",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a production folder."""

    kind: str
    file: str
    detail: str


@dataclass(frozen=True)
class CheckReport:
    """The result of :func:`check_dataset`.

    Attributes:
        planned: shards in the plan.
        verified: shards whose file passed every check.
        events: events in the verified shards.
        bytes: bytes of the verified shards.
        problems: everything found wrong, by file.
    """

    planned: int
    verified: int
    events: int
    bytes: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """Whether the folder holds every planned shard and nothing is wrong."""
        return not self.problems


def _schema_problem(actual: pa.Schema, expected: pa.Schema) -> str | None:
    have = {f.name: f.type for f in actual}
    want = {f.name: f.type for f in expected}
    parts = []
    lacking = [n for n in want if n not in have]
    surplus = [n for n in have if n not in want]
    typed = [f"{n} is {have[n]}, not {want[n]}" for n in want if n in have and have[n] != want[n]]
    if lacking:
        parts.append(f"{len(lacking)} columns missing ({', '.join(lacking[:3])}...)")
    if surplus:
        parts.append(f"{len(surplus)} unexpected columns ({', '.join(surplus[:3])}...)")
    if typed:
        parts.append("; ".join(typed[:3]))
    if not parts and actual.names != expected.names:
        parts.append("the columns are not in the plan's order")
    return "; ".join(parts) or None


def _record_problem(record: ShardRecord, spec: ShardSpec) -> str | None:
    wrong = [
        f"{name} {got} (plan: {want})"
        for name, got, want in (
            ("process", record.process, spec.process),
            ("index", record.index, spec.index),
            ("seed", record.seed, spec.seed),
            ("pool seed", record.pool_seed, spec.pool_seed),
            ("events", record.events, spec.events),
        )
        if got != want
    ]
    return ", ".join(wrong) or None


def _check_file(
    out: Path, record: ShardRecord, spec: ShardSpec, expected: pa.Schema
) -> list[Problem]:
    path = out / record.file
    if not path.is_file():
        return [Problem("missing", record.file, "in the manifest, but the file is gone")]
    problems = []
    size = path.stat().st_size
    digest = sha256_file(path)
    if size != record.bytes or digest != record.sha256:
        problems.append(
            Problem(
                "checksum",
                record.file,
                f"{size} bytes, SHA-256 {digest[:12]}...; the manifest has {record.bytes} bytes, "
                f"{record.sha256[:12]}...",
            )
        )
    try:
        with pq.ParquetFile(path) as parquet:  # one footer read: rows and schema
            meta, schema = parquet.metadata, parquet.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        problems.append(Problem("unreadable", record.file, f"no readable Parquet footer ({exc})"))
        return problems
    why = _schema_problem(schema, expected)
    if why:
        problems.append(Problem("schema", record.file, why))
    footer_pool = (meta.metadata or {}).get(b"pool_sha256", b"").decode(errors="replace")
    if record.pool_sha256 is not None and footer_pool != record.pool_sha256:
        named = f"the pileup pool {footer_pool[:12]}..." if footer_pool else "no pileup pool"
        detail = f"its footer names {named}; the manifest {record.pool_sha256[:12]}..."
        problems.append(Problem("pool", record.file, detail))
    if meta.num_rows != record.events or meta.num_rows != spec.events:
        problems.append(
            Problem(
                "events",
                record.file,
                f"{meta.num_rows} events; the manifest has {record.events}, the plan {spec.events}",
            )
        )
    return problems


def _shared_pool(plan: ProductionPlan) -> tuple[Path, str] | None:
    """The file and content hash of the plan's shared pileup pool, if the cache holds it intact."""
    if plan.pool != "shared" or plan.pileup_mean <= 0:
        return None
    try:
        found = cached_pool(plan.generation_config(plan.shards()[0]))
    except DataFormatError as exc:
        _log.warning("%s; the shards are not compared with it", exc)
        return None
    return None if found is None else (found[0], found[1].sha256)


def _pool_problem(record: ShardRecord, pool: tuple[Path, str] | None) -> Problem | None:
    if pool is None or record.pool_sha256 is None or record.pool_sha256 == pool[1]:
        return None
    detail = (
        f"made from the pileup pool {record.pool_sha256[:12]}...; the cached pool "
        f"{pool[0]} is {pool[1][:12]}..."
    )
    return Problem("pool", record.file, detail)


def check_dataset(
    out: Path | str, progress: Callable[[int, int], None] | None = None
) -> CheckReport:
    """Verify the production folder *out* against its manifest (reads every file once).

    Args:
        out: the folder.
        progress: called as ``progress(done, total)`` as shards are verified.

    Raises:
        ProductionError: the folder or its manifest is missing or unreadable.
    """
    out = Path(out)
    if not out.is_dir():
        msg = f"{out} is not a folder"
        raise ProductionError(msg)
    manifest = read_manifest(out)
    if manifest is None:
        msg = f"{out} has no {MANIFEST_NAME}; is it a folder made by `l1scout produce`?"
        raise ProductionError(msg)
    plan = manifest.production_plan()
    expected = arrow_schema(plan.columns())
    pool = _shared_pool(plan)
    specs = {s.file: s for s in plan.shards()}
    records = manifest.records()
    problems: list[Problem] = []
    verified = events = size = 0
    for done, (name, spec) in enumerate(specs.items(), start=1):
        record = records.get(name)
        if record is None:
            problems.append(Problem("not produced", name, "planned; not in the manifest yet"))
        else:
            why = _record_problem(record, spec)
            found = [Problem("record", name, why)] if why else []
            found += _check_file(out, record, spec, expected)
            stale = _pool_problem(record, pool)
            found += [stale] if stale else []
            problems += found
            if not found:
                verified += 1
                events += record.events
                size += record.bytes
        if progress:
            progress(done, len(specs))
    for name in sorted(set(records) - set(specs)):
        problems.append(Problem("record", name, "in the manifest, but not a shard of its plan"))
    known = set(specs) | set(records) | {MANIFEST_NAME, LOCK_NAME}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel in known:
            continue
        if is_temporary(path.name):
            problems.append(
                Problem("temporary", rel, "left by a killed writer; a rerun removes it")
            )
        else:
            problems.append(Problem("extra", rel, "not written by this production"))
    return CheckReport(len(specs), verified, events, size, tuple(problems))
