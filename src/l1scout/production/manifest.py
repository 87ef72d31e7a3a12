"""The manifest of a production folder, and how a rerun reconciles the folder with it.

``<out>/manifest.json`` holds the plan (its values, its identity and hash) and
one record per finished shard: file, process, index, seed, pool seed, events,
size, SHA-256, l1scout version, card hashes, settings hash, wall time and the
content hash of the pileup pool it was made from (``pool_sha256``; absent in
manifests of older versions and for shards without pileup). The
client rewrites it atomically (temporary name, fsync, rename) as shards finish,
so a killed client loses at most the records of the last shards, and those are
adopted back on the next run (below).

A rerun with the same plan (:func:`reconcile`):

* removes leftover temporary files (``.<name>.tmp-<pid>``) of killed writers;
* keeps a shard whose file's size and SHA-256 match its record;
* adopts a complete file that has no record (the client died between the
  rename and the manifest write) if its Parquet footer reads, its
  ``settings_hash`` is the shard's and it holds the shard's number of events
  (its record takes the pool hash of the footer, ``pool_sha256``);
* deletes and remakes a broken file (checksum mismatch, unreadable, wrong
  settings), and remakes a missing one.

A rerun with a different plan is refused before anything is touched
(:func:`check_same_plan`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from l1scout._files import atomic_write_bytes, sha256_file
from l1scout.errors import ProductionError
from l1scout.production.job import card_hashes, settings_hash
from l1scout.production.plan import ProductionPlan, ShardSpec, plan_differences

__all__ = [
    "LOCK_NAME",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "Manifest",
    "Reconciliation",
    "ShardRecord",
    "check_same_plan",
    "is_temporary",
    "new_manifest",
    "read_manifest",
    "reconcile",
    "write_manifest",
]

_log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT: Literal[1] = 1
#: The lock file that keeps two productions out of one folder.
LOCK_NAME = ".l1scout-produce.lock"

# AtomicParquetWriter's and write_manifest's temporary names: ".<name>.tmp-<pid>"
_TEMPORARY = re.compile(r"^\..+\.tmp-\d+$")


def is_temporary(name: str) -> bool:
    """Whether a file name is a temporary file of a writer (``.<name>.tmp-<pid>``).

    >>> is_temporary(".a-NEVENT5-RS3.parquet.tmp-1234"), is_temporary("a-NEVENT5-RS3.parquet")
    (True, False)
    """
    return bool(_TEMPORARY.match(name))


class ShardRecord(BaseModel):
    """What the manifest knows of one finished shard.

    Attributes:
        file: path relative to the output folder.
        process, index, seed, pool_seed, events: as in the plan's shard.
        bytes: file size.
        sha256: SHA-256 of the file (hex).
        l1scout_version: the version that wrote it.
        card_hashes: SHA-256 of the front-end and view cards it was made with.
        settings_hash: the file's ``settings_hash`` metadata.
        wall_s: seconds the worker took (None: adopted by a rerun).
        pool_sha256: SHA-256 of the content of the pileup pool the file was
            made from (:attr:`l1scout.generate.pileup.MinBiasPool.sha256`, also
            the file's ``pool_sha256`` metadata); None without pileup, or in a
            record of an older version.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    process: str
    index: int = Field(ge=0)
    seed: int = Field(ge=1)
    pool_seed: int | None
    events: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    l1scout_version: str
    card_hashes: dict[str, str]
    settings_hash: str
    wall_s: float | None = None
    pool_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @classmethod
    def of(
        cls,
        spec: ShardSpec,
        path: Path,
        *,
        l1scout_version: str,
        card_hashes: dict[str, str],
        settings_hash: str,
        wall_s: float | None = None,
        pool_sha256: str | None = None,
    ) -> ShardRecord:
        """The record of *spec*'s complete file *path* (its size and SHA-256 are read here)."""
        return cls(
            file=spec.file,
            process=spec.process,
            index=spec.index,
            seed=spec.seed,
            pool_seed=spec.pool_seed,
            events=spec.events,
            bytes=path.stat().st_size,
            sha256=sha256_file(path),
            l1scout_version=l1scout_version,
            card_hashes=card_hashes,
            settings_hash=settings_hash,
            wall_s=wall_s,
            pool_sha256=pool_sha256,
        )


class Manifest(BaseModel):
    """The content of ``manifest.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = MANIFEST_FORMAT
    plan: dict[str, Any]
    identity: dict[str, Any]
    plan_hash: str
    shards: tuple[ShardRecord, ...] = ()

    def records(self) -> dict[str, ShardRecord]:
        """The shard records by file."""
        return {r.file: r for r in self.shards}

    def production_plan(self) -> ProductionPlan:
        """The plan the folder was made with.

        Raises:
            ProductionError: the recorded plan no longer validates (a view card
                it names is gone, a process left the catalog).
        """
        try:
            return ProductionPlan.model_validate(self.plan)
        except ValidationError as exc:
            msg = f"the plan recorded in the manifest does not validate any more: {exc}"
            raise ProductionError(msg) from None


def new_manifest(
    plan: ProductionPlan, records: Mapping[str, ShardRecord] | None = None
) -> Manifest:
    """A manifest of *plan* with the given shard records (in plan order)."""
    order = {s.file: i for i, s in enumerate(plan.shards())}
    return Manifest(
        plan=plan.model_dump(mode="json"),
        identity=plan.identity(),
        plan_hash=plan.plan_hash(),
        shards=tuple(sorted((records or {}).values(), key=lambda r: order.get(r.file, -1))),
    )


def read_manifest(out: Path) -> Manifest | None:
    """The manifest of the folder *out* (None if it has none).

    Raises:
        ProductionError: the manifest exists but cannot be read or parsed.
    """
    path = Path(out) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read the manifest {path} ({exc})"
        raise ProductionError(msg) from exc
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as exc:
        msg = (
            f"{path} is not an l1scout manifest or is damaged ({exc.error_count()} problems, "
            f"first: {exc.errors()[0]['msg']}); move it away to start the folder afresh"
        )
        raise ProductionError(msg) from None


def write_manifest(out: Path, manifest: Manifest) -> None:
    """Write ``<out>/manifest.json`` atomically: temporary name, fsync, rename, fsync of the folder.

    Raises:
        OSError: the write failed (the temporary file is removed; the previous
            manifest stays as it was).
    """
    data = json.dumps(manifest.model_dump(mode="json"), indent=1).encode()
    atomic_write_bytes(Path(out) / MANIFEST_NAME, data)


def check_same_plan(manifest: Manifest, plan: ProductionPlan, out: Path) -> None:
    """Refuse a plan that differs from the one the folder was made with.

    Raises:
        ProductionError: naming every value that differs between the plans' identities,
            down to the entry of a list (:func:`~l1scout.production.plan.plan_differences`).
    """
    current = plan.identity()
    if manifest.plan_hash == plan.plan_hash() and manifest.identity == current:
        return
    lines = plan_differences(manifest.identity, current) or ["(the recorded plan hash differs)"]
    msg = (
        f"{out} holds a production of another plan; nothing was touched. Differences:\n  "
        + "\n  ".join(lines)
        + "\nUse another output folder, or rerun with the plan in its manifest."
    )
    raise ProductionError(msg)


@dataclass
class Reconciliation:
    """What a rerun found in the folder, and what is left to make.

    Attributes:
        kept: verified and adopted records, by file.
        todo: the shards to make, in plan order.
        removed_temporary: temporary files deleted (relative paths).
        adopted: complete files without a record that were adopted.
        broken: files deleted because they did not verify (with the reason).
        missing: shards with a record but no file.
    """

    kept: dict[str, ShardRecord] = field(default_factory=dict)
    todo: list[ShardSpec] = field(default_factory=list)
    removed_temporary: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _footer(path: Path) -> tuple[int, dict[str, str]]:
    md = pq.read_metadata(path)
    meta = {k.decode(): v.decode(errors="replace") for k, v in (md.metadata or {}).items()}
    return md.num_rows, meta


def _adopt(
    out: Path, plan: ProductionPlan, spec: ShardSpec, cards: Callable[[], dict[str, str]]
) -> ShardRecord | str:
    """A record for a complete file without one, or why it cannot be adopted."""
    path = out / spec.file
    try:
        rows, meta = _footer(path)
    except (OSError, pa.ArrowException) as exc:
        return f"unreadable Parquet footer ({exc})"
    expected = settings_hash(plan.generation_config(spec))
    if meta.get("settings_hash") != expected:
        return "its settings_hash is not the shard's"
    if rows != spec.events:
        return f"it holds {rows} events, the shard {spec.events}"
    pool = meta.get("pool_sha256")
    if pool is not None and not re.fullmatch(r"[0-9a-f]{64}", pool):
        return "its pool_sha256 is not a SHA-256"
    return ShardRecord.of(
        spec,
        path,
        l1scout_version=meta.get("l1scout_version", "unknown"),
        card_hashes=cards(),
        settings_hash=expected,
        pool_sha256=pool,
    )


def _remove_temporaries(out: Path, plan: ProductionPlan) -> list[str]:
    removed = []
    folders = [out, *(out / p for p in dict.fromkeys(r.name for r in plan.processes))]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and is_temporary(path.name):
                path.unlink(missing_ok=True)
                removed.append(path.relative_to(out).as_posix())
    return removed


def reconcile(
    out: Path,
    plan: ProductionPlan,
    manifest: Manifest | None,
    progress: Callable[[int, int], None] | None = None,
) -> Reconciliation:
    """Bring the folder *out* in line with its manifest and list the shards to make.

    The manifest must be of *plan* (:func:`check_same_plan`). Deletes leftover
    temporary files and broken shard files; see the module docstring.

    Args:
        out: the production folder.
        plan: the plan.
        manifest: the folder's manifest (None: a new production, or one whose
            client died before its first manifest write).
        progress: called as ``progress(done, total)`` while files are verified.
    """
    out = Path(out)
    state = Reconciliation(removed_temporary=_remove_temporaries(out, plan))
    for name in state.removed_temporary:
        _log.info("removed the leftover temporary file %s", name)
    records = manifest.records() if manifest is not None else {}
    card_cache: list[dict[str, str]] = []

    def cards() -> dict[str, str]:
        if not card_cache:
            card_cache.append(card_hashes(plan.generation_config(plan.shards()[0])))
        return card_cache[0]

    shards = plan.shards()
    for done, spec in enumerate(shards, start=1):
        path = out / spec.file
        record = records.get(spec.file)
        exists = path.is_file()
        if record is not None and exists:
            if path.stat().st_size == record.bytes and sha256_file(path) == record.sha256:
                state.kept[spec.file] = record
            else:
                state.broken.append((spec.file, "checksum mismatch"))
                path.unlink()
                state.todo.append(spec)
        elif record is not None:
            state.missing.append(spec.file)
            state.todo.append(spec)
        elif exists:
            adopted = _adopt(out, plan, spec, cards)
            if isinstance(adopted, ShardRecord):
                state.kept[spec.file] = adopted
                state.adopted.append(spec.file)
            else:
                state.broken.append((spec.file, adopted))
                path.unlink()
                state.todo.append(spec)
        else:
            state.todo.append(spec)
        if progress:
            progress(done, len(shards))
    for name, why in state.broken:
        _log.warning("%s does not verify (%s); it is deleted and made again", name, why)
    for name in state.missing:
        _log.warning("%s is in the manifest but missing; it is made again", name)
    for name in state.adopted:
        _log.info("adopted %s (complete, but not yet in the manifest)", name)
    return state
