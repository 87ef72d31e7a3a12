from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from l1scout._files import sha256_file
from l1scout.errors import ProductionError
from l1scout.production.check import PROBLEM_KINDS, check_dataset
from l1scout.production.driver import produce
from l1scout.production.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardRecord,
    is_temporary,
    read_manifest,
    write_manifest,
)
from l1scout.production.plan import ProductionPlan
from l1scout.production.shard import ShardTask, run_shard

TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
PLAN = ProductionPlan(
    seed=5,
    shard_size=5,
    pileup=0,
    views=("L1T",),
    processes=[{"name": TTBAR, "events": 12}],
    engine={"kind": "single"},
)
FILES = [s.file for s in PLAN.shards()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "data"
    summary = produce(PLAN, out)
    assert summary.made == 3
    assert not summary.failures
    return out


@pytest.fixture
def folder(reference: Path, tmp_path: Path) -> Path:
    out = tmp_path / "data"
    shutil.copytree(reference, out)
    return out


def _never(task: ShardTask, report: Callable[[int], None] | None) -> ShardRecord:
    msg = f"{task.shard.file} should not be made again"
    raise AssertionError(msg)


def _recording(made: list[str]) -> Callable[[ShardTask, Callable[[int], None] | None], ShardRecord]:
    def runner(task: ShardTask, report: Callable[[int], None] | None) -> ShardRecord:
        made.append(task.shard.file)
        return run_shard(task, report)

    return runner


def _snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(out).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def _manifest(out: Path) -> Manifest:
    found = read_manifest(out)
    assert found is not None
    return found


def _drop_records(out: Path, *files: str) -> None:
    m = _manifest(out)
    write_manifest(
        out, m.model_copy(update={"shards": tuple(r for r in m.shards if r.file not in files)})
    )


def _replace_record(out: Path, file: str, **changes: object) -> None:
    m = _manifest(out)
    shards = tuple(r.model_copy(update=changes) if r.file == file else r for r in m.shards)
    write_manifest(out, m.model_copy(update={"shards": shards}))


def _rewrite_file(out: Path, file: str, table_edit: Callable[..., object]) -> None:
    """Rewrite a shard with pyarrow and record its new size and checksum (only the content is off)."""
    path = out / file
    table = table_edit(pq.read_table(path))
    pq.write_table(table, path)
    _replace_record(out, file, bytes=path.stat().st_size, sha256=sha256_file(path))


def test_reference_manifest_records_every_shard(reference: Path) -> None:
    m = _manifest(reference)
    assert m.plan_hash == PLAN.plan_hash()
    assert m.identity == PLAN.identity()
    assert [r.file for r in m.shards] == FILES
    for record, spec in zip(m.shards, PLAN.shards(), strict=True):
        path = reference / record.file
        assert (record.seed, record.pool_seed, record.events) == (spec.seed, None, spec.events)
        assert record.bytes == path.stat().st_size
        assert record.sha256 == sha256_file(path)
        meta = pq.read_metadata(path).metadata
        assert record.settings_hash == meta[b"settings_hash"].decode()
        assert record.l1scout_version == meta[b"l1scout_version"].decode()
        assert set(record.card_hashes) == {"frontend", "L1T"}
        assert record.wall_s is not None
        assert record.wall_s > 0
    report = check_dataset(reference)
    assert report.ok
    assert (report.planned, report.verified, report.events) == (3, 3, 12)
    assert report.bytes == sum(r.bytes for r in m.shards)


def test_rerun_skips_verified_shards(folder: Path) -> None:
    before = _manifest(folder)
    summary = produce(PLAN, folder, runner=_never)
    assert (summary.made, summary.kept, summary.files, summary.events) == (0, 3, 3, 12)
    assert _manifest(folder).shards == before.shards


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"seed": 6}, "seed: 5 in the manifest, 6 in this plan"),
        ({"shard_size": 4}, "shard_size: 5 in the manifest, 4 in this plan"),
        ({"views": ("FullReco",)}, 'views[0]: added in this plan: "FullReco" (card_sha256='),
        (
            {"processes": [{"name": TTBAR, "events": 13}]},
            f"processes[0]({TTBAR}).events: 12 in the manifest, 13 in this plan",
        ),
    ],
)
def test_another_plan_is_refused_and_nothing_is_touched(
    folder: Path, change: dict[str, object], expected: str
) -> None:
    leftover = folder / TTBAR / f".{Path(FILES[0]).name}.tmp-999"
    leftover.write_bytes(b"partial")
    before = _snapshot(folder)
    other = ProductionPlan.model_validate(PLAN.model_dump() | change)
    with pytest.raises(ProductionError, match="another plan; nothing was touched") as info:
        produce(other, folder, runner=_never)
    assert expected in str(info.value)
    assert _snapshot(folder) == before


def test_leftover_temporary_files_are_removed(folder: Path) -> None:
    tmp_shard = folder / TTBAR / f".{Path(FILES[1]).name}.tmp-4242"
    tmp_manifest = folder / f".{MANIFEST_NAME}.tmp-17"
    stray = folder / "notes.txt"
    for path in (tmp_shard, tmp_manifest, stray):
        path.write_bytes(b"x")
    summary = produce(PLAN, folder, runner=_never)
    assert summary.removed_temporary == 2
    assert not tmp_shard.exists()
    assert not tmp_manifest.exists()
    assert stray.exists()  # not ours to delete; `check` reports it


def test_a_complete_file_without_record_is_adopted(folder: Path, reference: Path) -> None:
    original = _manifest(reference).records()[FILES[1]]
    _drop_records(folder, FILES[1])
    summary = produce(PLAN, folder, runner=_never)
    assert (summary.adopted, summary.made) == (1, 0)
    adopted = _manifest(folder).records()[FILES[1]]
    assert adopted.sha256 == original.sha256
    assert adopted.settings_hash == original.settings_hash
    assert adopted.bytes == original.bytes
    assert adopted.wall_s is None
    assert check_dataset(folder).ok


def test_files_that_cannot_be_adopted_are_remade(folder: Path, reference: Path) -> None:
    # shard 0: another shard's complete file under its name (other settings hash);
    # shard 2: a truncated file (no Parquet footer); neither has a record
    shutil.copyfile(reference / FILES[1], folder / FILES[0])
    path = folder / FILES[2]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _drop_records(folder, FILES[0], FILES[2])
    made: list[str] = []
    summary = produce(PLAN, folder, runner=_recording(made))
    assert made == [FILES[0], FILES[2]]
    assert (summary.adopted, summary.remade, summary.made) == (0, 2, 2)
    for file in FILES:
        assert (folder / file).read_bytes() == (reference / file).read_bytes()


def test_broken_and_missing_files_are_remade(folder: Path, reference: Path) -> None:
    path = folder / FILES[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    (folder / FILES[2]).unlink()
    made: list[str] = []
    summary = produce(PLAN, folder, runner=_recording(made))
    assert made == [FILES[0], FILES[2]]
    assert (summary.remade, summary.kept, summary.made) == (2, 1, 2)
    for file in FILES:
        assert (folder / file).read_bytes() == (reference / file).read_bytes()
    assert [r.sha256 for r in _manifest(folder).shards] == [
        r.sha256 for r in _manifest(reference).shards
    ]


def _flip_a_data_byte(out: Path) -> None:
    path = out / FILES[1]
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # in the first column chunk, far from the footer
    path.write_bytes(bytes(data))


def _truncate_and_record(out: Path) -> None:
    path = out / FILES[2]
    path.write_bytes(path.read_bytes()[:1000])
    _replace_record(out, FILES[2], bytes=1000, sha256=sha256_file(path))


def _extra_files(out: Path) -> None:
    (out / "notes.txt").write_text("mine")
    (out / TTBAR / "other.parquet").write_bytes(b"x")


SCENARIOS: dict[str, tuple[Callable[[Path], object], set[tuple[str, str]]]] = {
    "missing": (lambda out: (out / FILES[0]).unlink(), {("missing", FILES[0])}),
    "checksum": (_flip_a_data_byte, {("checksum", FILES[1])}),
    "unreadable": (_truncate_and_record, {("unreadable", FILES[2])}),
    "schema": (
        lambda out: _rewrite_file(out, FILES[0], lambda t: t.drop_columns(["L1T_MET_Phi"])),
        {("schema", FILES[0])},
    ),
    "events": (
        lambda out: _rewrite_file(out, FILES[0], lambda t: t.slice(0, 3)),
        {("events", FILES[0])},
    ),
    "record": (
        lambda out: _replace_record(out, FILES[1], seed=12345),
        {("record", FILES[1])},
    ),
    # the record names a pileup pool; the file, made without pileup, has none in its footer
    "pool": (
        lambda out: _replace_record(out, FILES[1], pool_sha256="ab" * 32),
        {("pool", FILES[1])},
    ),
    "not produced": (lambda out: _drop_records(out, FILES[2]), {("not produced", FILES[2])}),
    "extra": (
        _extra_files,
        {("extra", "notes.txt"), ("extra", f"{TTBAR}/other.parquet")},
    ),
    "temporary": (
        lambda out: (out / TTBAR / ".x.parquet.tmp-123").write_bytes(b"x"),
        {("temporary", f"{TTBAR}/.x.parquet.tmp-123")},
    ),
}


def test_every_problem_kind_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(PROBLEM_KINDS)


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_check_reports_each_problem(folder: Path, kind: str) -> None:
    damage, expected = SCENARIOS[kind]
    damage(folder)
    report = check_dataset(folder)
    assert not report.ok
    assert {(p.kind, p.file) for p in report.problems} == expected
    assert all(p.detail for p in report.problems)
    broken = {f for k, f in expected if k not in {"extra", "temporary"}}
    assert report.verified == 3 - len(broken)


def test_check_needs_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(ProductionError, match=r"has no manifest\.json"):
        check_dataset(tmp_path)
    with pytest.raises(ProductionError, match="is not a folder"):
        check_dataset(tmp_path / "nope")


def test_damaged_manifest_is_reported(folder: Path) -> None:
    (folder / MANIFEST_NAME).write_text('{"format": 1, "plan": ')
    with pytest.raises(ProductionError, match="damaged"):
        read_manifest(folder)
    with pytest.raises(ProductionError, match="damaged"):
        produce(PLAN, folder, runner=_never)


def test_manifest_write_is_atomic_and_round_trips(folder: Path) -> None:
    m = _manifest(folder)
    write_manifest(folder, m)
    assert [p.name for p in folder.iterdir() if is_temporary(p.name)] == []
    assert read_manifest(folder) == m
    assert json.loads((folder / MANIFEST_NAME).read_text())["plan_hash"] == PLAN.plan_hash()
    assert read_manifest(folder / "nowhere") is None
