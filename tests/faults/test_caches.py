"""Damaged caches are found, named, and rebuilt; `check` sees a shard made from another pool.

Each damage is met as a user meets it: through ``l1scout generate`` with a pool
(or MPI tables) in the cache that is truncated, bit-flipped, empty, of fewer
events than its name, or written before caches carried their hash.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from l1scout.cli.app import app
from l1scout.generate.pileup import (
    MinBiasPool,
    build_pool,
    cache_dir,
    pool_key,
    pool_path,
    pool_settings,
)
from l1scout.generate.pythia import mpi_init_file, process_settings
from l1scout.processes import load_catalog
from l1scout.production.driver import produce
from l1scout.production.manifest import read_manifest, write_manifest
from l1scout.production.plan import ProductionPlan
from l1scout.production.seeds import pool_seed

runner = CliRunner()

POOL_SEED = 16_016  # a pool of these tests alone in the session's cache
POOL_SIZE = 12
SETTINGS = pool_settings("collide2v")


@pytest.fixture(scope="module")
def fresh_pool() -> MinBiasPool:
    """The pool the CLI must end up with: built here, never cached."""
    return build_pool(SETTINGS, POOL_SEED, POOL_SIZE)


def _pool_bytes(pool: MinBiasPool, tmp: Path, key: str) -> bytes:
    path = tmp / "pool.npz"
    pool.save(path, key=key)
    return path.read_bytes()


def _flip(data: bytes, at: int) -> bytes:
    flipped = bytearray(data)
    flipped[at] ^= 0x01
    return bytes(flipped)


def _old_format(pool: MinBiasPool, _tmp: Path) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{f: getattr(pool, f) for f in MinBiasPool._FIELDS})
    return buffer.getvalue()


def _fewer_events(_pool: MinBiasPool, tmp: Path) -> bytes:
    """A valid pool of 8 events (its own metadata right) under the 12-event pool's name."""
    small = build_pool(SETTINGS, POOL_SEED, 8)
    return _pool_bytes(small, tmp, pool_key(SETTINGS, POOL_SEED, 8))


def _content_changed(pool: MinBiasPool, tmp: Path) -> bytes:
    """One momentum changed, the zip's CRCs right: only the content hash can tell."""
    good = _pool_bytes(pool, tmp, pool_key(SETTINGS, POOL_SEED, POOL_SIZE))
    with np.load(io.BytesIO(good)) as data:
        arrays = {name: data[name].copy() for name in data.files}
    arrays["px"][3] += 1.0
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _good(pool: MinBiasPool, tmp: Path) -> bytes:
    return _pool_bytes(pool, tmp, pool_key(SETTINGS, POOL_SEED, POOL_SIZE))


#: damage -> (the bytes left in the cache, what the notice says is wrong)
DAMAGES: dict[str, tuple[Callable[[MinBiasPool, Path], bytes], str]] = {
    "truncated": (
        lambda p, t: _good(p, t)[: len(_good(p, t)) // 2],
        "is truncated or damaged (BadZipFile: File is not a zip file)",
    ),
    "bit-flipped": (
        lambda p, t: _flip(_good(p, t), len(_good(p, t)) // 2),
        "is truncated or damaged (BadZipFile: Bad CRC-32",
    ),
    "content changed": (_content_changed, "fails its SHA-256 check"),
    "empty": (lambda p, t: b"", "is empty"),
    "not a pool": (lambda p, t: b"not a pool at all\n", "is not a pool file (not a zip archive)"),
    "fewer events": (_fewer_events, "holds 8 events, expected 12"),
    "old format": (_old_format, "has no metadata (written by an older l1scout)"),
}


def _generate(lhe_file: Path, out: Path) -> Result:
    return runner.invoke(
        app,
        [
            "generate", "zmumu", "--lhe", str(lhe_file), "-n", "2", "--truth-only",
            "--pileup", "3", "--pool-size", str(POOL_SIZE), "--pool-seed", str(POOL_SEED),
            "--out", str(out),
        ],
    )  # fmt: skip


def _flat(text: str) -> str:
    """The output with rich's line folding undone (a log line may be folded at 80 columns)."""
    return "".join(text.split())


def _leftovers() -> list[str]:
    return sorted(p.name for p in cache_dir().iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_pool_is_rebuilt_with_a_notice(
    damage: str, fresh_pool: MinBiasPool, lhe_file: Path, tmp_path: Path
) -> None:
    make, why = DAMAGES[damage]
    path = pool_path(SETTINGS, POOL_SEED, POOL_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = make(fresh_pool, tmp_path)
    path.write_bytes(bad)

    result = _generate(lhe_file, tmp_path / "out")

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert _flat(f"WARNING pileup pool {path} {why}") in _flat(result.output)
    assert _flat("; building it again") in _flat(result.output)
    assert result.output.count("WARNING") == 1  # one notice
    # the cache now holds the very pool a fresh build makes, verified, and nothing else
    assert path.read_bytes() != bad
    rebuilt = MinBiasPool.load(path, key=pool_key(SETTINGS, POOL_SEED, POOL_SIZE), events=POOL_SIZE)
    for name in MinBiasPool._FIELDS:
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(fresh_pool, name))
    assert rebuilt.sha256 == fresh_pool.sha256
    assert _leftovers() == []
    # and the file was made from it: its footer names the fresh pool's hash
    (written,) = (tmp_path / "out" / "zmumu").glob("*.parquet")
    meta = pq.read_metadata(written).metadata
    assert meta[b"pool_sha256"].decode() == fresh_pool.sha256


def test_an_intact_pool_is_used_without_a_notice(
    fresh_pool: MinBiasPool, lhe_file: Path, tmp_path: Path
) -> None:
    path = pool_path(SETTINGS, POOL_SEED, POOL_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_good(fresh_pool, tmp_path))
    stamp = path.stat().st_mtime_ns
    result = _generate(lhe_file, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output
    assert path.stat().st_mtime_ns == stamp  # read, not rebuilt


HARD = process_settings(load_catalog(), load_catalog().get("ggHgammagamma"))


@pytest.fixture(scope="module")
def good_tables() -> tuple[Path, bytes]:
    """ggHgammagamma's MPI tables (0.4 s to make) and their intact bytes."""
    path = mpi_init_file(HARD)
    return path, path.read_bytes()


def _without_check_line(data: bytes) -> bytes:
    """The tables as Pythia wrote them (as an older l1scout cached them)."""
    return data[: data.rfind(b"! l1scout: sha256 ")]


TABLE_DAMAGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated": (
        lambda d: d[: len(d) // 2],
        "have no l1scout checksum line (truncated, or written by an older l1scout)",
    ),
    # a digit changed: Pythia would read it without a word
    "bit-flipped": (
        lambda d: _flip(d, d.index(b"1.4")),
        "fail their checksum (truncated or damaged)",
    ),
    "empty": (lambda d: b"", "are empty"),
    "old format": (
        _without_check_line,
        "have no l1scout checksum line (truncated, or written by an older l1scout)",
    ),
}


@pytest.mark.parametrize("damage", list(TABLE_DAMAGES))
def test_damaged_mpi_tables_are_made_again(
    damage: str, good_tables: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, good = good_tables
    make, why = TABLE_DAMAGES[damage]
    path.write_bytes(make(good))
    result = runner.invoke(
        app,
        ["generate", "ggHgammagamma", "-n", "1", "--pileup", "0", "--truth-only",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert _flat(f"WARNING Pythia's MPI tables {path} {why}; making them again") in _flat(
        result.output
    )
    assert path.read_bytes() == good  # made again, the same tables and checksum line
    assert _leftovers() == []


def test_mpi_tables_end_with_their_checksum(good_tables: tuple[Path, bytes]) -> None:
    _, good = good_tables
    body = _without_check_line(good)
    line = good[len(body) :].decode()
    assert line == f"! l1scout: sha256 {hashlib.sha256(body).hexdigest()} of {len(body)} bytes\n"
    assert body.startswith(b"Init:reuseMPIiDiffSys0 = {")


# --- check: a shard made from another pool than the record, or than the cache holds

PLAN = ProductionPlan(
    seed=16,
    shard_size=1,
    pileup=2.0,
    pool_size=POOL_SIZE,
    views=("L1T",),
    collections=["Event"],
    processes=[{"name": "ggHgammagamma", "events": 2}],
    engine={"kind": "single"},
)


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("production") / "data"
    assert produce(PLAN, out).made == 2
    return out


def _check(out: Path) -> Result:
    return runner.invoke(app, ["check", str(out)])


def test_the_manifest_and_footers_record_the_pool(production: Path) -> None:
    manifest = read_manifest(production)
    assert manifest is not None
    shared = pool_path(SETTINGS, pool_seed(PLAN.seed), POOL_SIZE)
    expected = MinBiasPool.load(shared).sha256
    for record in manifest.shards:
        assert record.pool_sha256 == expected
        meta = pq.read_metadata(production / record.file).metadata
        assert meta[b"pool_sha256"].decode() == expected
    result = _check(production)
    assert result.exit_code == 0, result.output


def _copy(production: Path, tmp_path: Path) -> Path:
    out = tmp_path / "data"
    shutil.copytree(production, out)
    return out


def test_an_adopted_shard_records_the_pool_of_its_footer(production: Path, tmp_path: Path) -> None:
    out = _copy(production, tmp_path)
    manifest = read_manifest(out)
    assert manifest is not None
    write_manifest(out, manifest.model_copy(update={"shards": ()}))
    summary = produce(PLAN, out)
    assert (summary.adopted, summary.made) == (2, 0)
    adopted = read_manifest(out)
    assert adopted is not None
    assert [r.pool_sha256 for r in adopted.shards] == [r.pool_sha256 for r in manifest.shards]


def test_check_flags_a_record_of_another_pool(production: Path, tmp_path: Path) -> None:
    out = _copy(production, tmp_path)
    manifest = read_manifest(out)
    assert manifest is not None
    first = manifest.shards[0]
    other = "0" * 64
    shards = (first.model_copy(update={"pool_sha256": other}), *manifest.shards[1:])
    write_manifest(out, manifest.model_copy(update={"shards": shards}))

    result = _check(out)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line.split() for line in result.output.splitlines()]
    flagged = [words for words in lines if words[:1] == ["pool"]]
    assert {words[1].rstrip(":") for words in flagged} == {first.file}
    assert len(flagged) == 2  # against its footer and against the cached pool


def test_check_flags_shards_made_from_another_pool_than_the_cache_holds(
    production: Path,
) -> None:
    """The cache holds a pool of the same name and metadata but other content (another Pythia)."""
    seed = pool_seed(PLAN.seed)
    shared = pool_path(SETTINGS, seed, POOL_SIZE)
    kept = shared.read_bytes()
    try:
        other = build_pool(SETTINGS, seed + 1, POOL_SIZE)
        other.save(shared, key=pool_key(SETTINGS, seed, POOL_SIZE))
        result = _check(production)
    finally:
        shared.write_bytes(kept)
    assert result.exit_code == 1
    text = _flat(result.output)
    for spec in PLAN.shards():
        assert _flat(f"pool {spec.file}: made from the pileup pool") in text
    assert _flat(f"the cached pool {shared} is {other.sha256[:12]}...") in text
