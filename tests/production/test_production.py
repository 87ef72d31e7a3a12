from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import numpy as np
import pyarrow.parquet as pq
import pytest

from l1scout.errors import GenerationError, ProductionError
from l1scout.generate.pileup import MinBiasPool, cache_dir
from l1scout.io.parquet import AtomicParquetWriter
from l1scout.production import job
from l1scout.production.driver import produce
from l1scout.production.engines import make_jobqueue_cluster
from l1scout.production.manifest import LOCK_NAME, ShardRecord, read_manifest
from l1scout.production.plan import EngineSpec, ProductionPlan
from l1scout.production.seeds import seed_coordinates
from l1scout.production.shard import ShardFailure, ShardTask, run_shard

TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
BASE = {
    "seed": 7,
    "shard_size": 2,
    "pileup": 0,
    "views": ("L1T",),
    "processes": [{"name": TTBAR, "events": 5}],
    "engine": {"kind": "single"},
}
Runner = Callable[[ShardTask, Callable[[int], None] | None], object]


def _plan(**fields: object) -> ProductionPlan:
    return ProductionPlan.model_validate(BASE | fields)


def _files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_single_engine_makes_the_files_of_the_plan(tmp_path: Path) -> None:
    plan = _plan(collections=["Event", "L1T_PUPPIMET", "L1T_MuonTight"])
    seen: list[tuple[str, int, int]] = []
    summary = produce(plan, tmp_path / "out", progress=lambda *a: seen.append(a))
    specs = plan.shards()
    assert (summary.planned, summary.made, summary.kept, summary.failures) == (3, 3, 0, ())
    assert (summary.events_made, summary.events, summary.files) == (5, 5, 3)
    assert summary.bytes == sum((tmp_path / "out" / s.file).stat().st_size for s in specs)
    assert summary.events_per_s == pytest.approx(5 / summary.wall_s)
    assert _files(tmp_path / "out") == sorted(
        [LOCK_NAME, "manifest.json", *(s.file for s in specs)]
    )
    # progress: the bars end full
    assert ("shards", 3, 3) in seen
    assert ("events", 5, 5) in seen
    # a shard is exactly the file of its generation job, made alone
    direct = job.run_generation(plan.generation_config(specs[2]), tmp_path / "direct").path
    assert direct.read_bytes() == (tmp_path / "out" / specs[2].file).read_bytes()
    assert pq.read_schema(direct).names == [c.name for c in plan.columns()]


def test_failing_shards_are_retried_then_reported(tmp_path: Path) -> None:
    attempts: dict[int, int] = {}

    def flaky(task: ShardTask, report: Callable[[int], None] | None) -> object:
        index = task.shard.index
        attempts[index] = attempts.get(index, 0) + 1
        if index == 0 and attempts[index] == 1:
            msg = "a passing hiccup"
            raise RuntimeError(msg)
        if index == 1:
            msg = "always broken"
            raise GenerationError(msg)
        return run_shard(task, report)

    plan = _plan(retries=2)
    summary = produce(plan, tmp_path, runner=flaky)
    files = [s.file for s in plan.shards()]
    assert attempts == {0: 2, 1: 3, 2: 1}
    assert summary.failures == (ShardFailure(files[1], TTBAR, 1, "GenerationError: always broken"),)
    assert (summary.made, summary.files) == (2, 2)
    manifest = read_manifest(tmp_path)
    assert manifest is not None
    assert [r.file for r in manifest.shards] == [files[0], files[2]]
    assert not (tmp_path / files[1]).exists()
    # a rerun makes the missing shard only
    again = produce(plan, tmp_path)
    assert (again.made, again.kept, again.failures, again.files) == (1, 2, (), 3)


def test_a_full_disk_stops_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan()
    files = [s.file for s in plan.shards()]
    real_write = AtomicParquetWriter.write

    def write(self: AtomicParquetWriter, data: object) -> None:
        if self.path.name == Path(files[1]).name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, data)

    monkeypatch.setattr(AtomicParquetWriter, "write", write)
    with pytest.raises(ProductionError, match=r"disk of .* is full") as info:
        produce(plan, tmp_path)
    assert "1 complete shards are kept" in str(info.value)
    assert "rerun" in str(info.value)
    # only the first shard and the manifest: no partial file, not even a temporary one
    assert _files(tmp_path) == sorted([LOCK_NAME, "manifest.json", files[0]])
    manifest = read_manifest(tmp_path)
    assert manifest is not None
    assert [r.file for r in manifest.shards] == [files[0]]
    monkeypatch.undo()
    again = produce(plan, tmp_path)
    assert (again.kept, again.made, again.files) == (1, 2, 3)


def test_output_folder_problems_come_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(task: ShardTask, report: Callable[[int], None] | None) -> object:
        raise AssertionError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    plan = _plan()
    with pytest.raises(ProductionError, match="cannot create the output folder"):
        produce(plan, blocker / "sub", runner=never)
    with pytest.raises(ProductionError, match="exists and is not a folder"):
        produce(plan, blocker, runner=never)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(ProductionError, match=r"is not writable .*Permission denied"):
        produce(plan, tmp_path / "ro", runner=never)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("tempfile.mkstemp", full)
    with pytest.raises(ProductionError, match="is full"):
        produce(plan, tmp_path / "ro", runner=never)
    assert _files(tmp_path / "ro") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ProductionError, match="is not writable"):
            produce(_plan(), folder)
    finally:
        folder.chmod(0o700)


def test_two_productions_never_share_a_folder(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    with (tmp_path / LOCK_NAME).open("a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ProductionError, match="another `l1scout produce` is writing"):
            produce(_plan(), tmp_path)


def _tiny_pool(n_events: int) -> MinBiasPool:
    """A handmade pool: every collision is one pi+ of 1 GeV along x."""
    n = n_events

    def f32(value: float) -> np.ndarray:
        return np.full(n, value, np.float32)

    return MinBiasPool(
        offsets=np.arange(n + 1, dtype=np.int64),
        pid=np.full(n, 211, np.int32),
        charge=np.ones(n, np.int8),
        px=f32(1.0),
        py=f32(0.0),
        pz=f32(0.5),
        mass=f32(0.13957),
        vx=f32(0.0),
        vy=f32(0.0),
        vz=f32(0.0),
        vt=f32(0.0),
    )


def test_per_shard_pools_are_private_and_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int, Path | None]] = []

    def spy(
        settings: object,
        seed: int,
        size: int,
        workers: int = 1,
        directory: Path | None = None,
        progress: object = None,
    ) -> tuple[MinBiasPool, Path, bool]:
        calls.append((seed, size, directory))
        assert directory is not None
        path = directory / f"pool-{seed}.npz"
        pool = _tiny_pool(size)
        pool.save(path)
        return pool, path, True

    monkeypatch.setattr(job, "load_or_build_pool", spy)
    cache_before = sorted(cache_dir().rglob("*")) if cache_dir().exists() else []
    plan = _plan(pileup=3.0, pool="per_shard", pool_size=40)
    summary = produce(plan, tmp_path / "out")
    assert summary.made == 3
    specs = plan.shards()
    assert [(seed, size) for seed, size, _ in calls] == [(s.pool_seed, 40) for s in specs]
    for _, _, directory in calls:
        assert directory is not None
        assert not directory.exists()  # deleted after its shard
        assert cache_dir() not in directory.parents
    assert (sorted(cache_dir().rglob("*")) if cache_dir().exists() else []) == cache_before
    for spec in specs:
        meta = pq.read_metadata(tmp_path / "out" / spec.file).metadata
        assert json.loads(meta[b"settings"])["pool"]["seed"] == spec.pool_seed
        assert spec.pool_seed is not None
        assert spec.pool_seed > 0


def test_the_shared_pool_is_built_once_by_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, tuple[str, ...], int, int, Path | None]] = []
    saved = tmp_path / "cache" / "pool.npz"
    where = ["client"]  # "worker" once the first shard runs

    def load_or_build(
        settings: tuple[str, ...],
        seed: int,
        size: int,
        workers: int = 1,
        directory: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[MinBiasPool, Path, bool]:
        calls.append((where[0], tuple(settings), seed, size, directory))
        if saved.exists():
            return MinBiasPool.load(saved), saved, False
        if where[0] == "worker":
            msg = "a worker would build the pool: the client did not"
            raise AssertionError(msg)
        _tiny_pool(size).save(saved)
        if progress:
            progress(size)
        return MinBiasPool.load(saved), saved, True

    def runner(task: ShardTask, report: Callable[[int], None] | None) -> ShardRecord:
        where[0] = "worker"
        return run_shard(task, report)

    monkeypatch.setattr(job, "load_or_build_pool", load_or_build)
    plan = _plan(pileup=3.0, pool_size=30)
    seen: list[tuple[str, int, int]] = []
    summary = produce(plan, tmp_path / "out", progress=lambda *a: seen.append(a), runner=runner)
    assert summary.made == 3
    shared = plan.shards()[0].pool_seed
    assert [c[0] for c in calls] == ["client", "worker", "worker", "worker"]
    # the client asks for the very pool the workers load: same settings, seed, size and cache
    assert {c[1:] for c in calls} == {calls[0][1:]}
    assert calls[0][2:] == (shared, 30, None)
    assert ("pool", 30, 30) in seen
    # nothing to make: no pool is needed
    calls.clear()
    assert produce(plan, tmp_path / "out").made == 0
    assert calls == []


def test_jobqueue_scripts() -> None:
    slurm = EngineSpec(
        kind="slurm",
        jobs=3,
        cores=4,
        memory="8GB",
        walltime="02:00:00",
        queue="short",
        account="cms",
        job_extra_directives=("--constraint=avx2",),
        job_script_prologue=("source /opt/venv/bin/activate",),
    )
    with make_jobqueue_cluster(slurm) as cluster:
        script = cluster.job_script()
    for line in (
        "#SBATCH -p short",
        "#SBATCH -A cms",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH -t 02:00:00",
        "#SBATCH --constraint=avx2",
        "source /opt/venv/bin/activate",
        # workers without Dask's MALLOC_TRIM_THRESHOLD_=65536 (generation is faster)
        "export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON=\"{'MALLOC_TRIM_THRESHOLD_': 134217728",
    ):
        assert line in script, line
    assert "--nthreads 1" in script
    assert "--nworkers 4" in script
    condor = EngineSpec(
        kind="htcondor",
        cores=2,
        memory="4GB",
        disk="2GB",
        job_extra_directives=('+JobFlavour = "workday"',),
    )
    with make_jobqueue_cluster(condor) as cluster:
        script = cluster.job_script()
    for line in (
        "RequestCpus = MY.DaskWorkerCores",
        "MY.DaskWorkerCores = 2",
        "MY.DaskWorkerMemory = 4000000000",
        "MY.DaskWorkerDisk = 2000000000",
        '+JobFlavour = "workday"',
    ):
        assert line in script, line
    assert "--nworkers 2" in script
    with pytest.raises(ProductionError, match="not a batch system"):
        make_jobqueue_cluster(EngineSpec(kind="local"))


# -- through Dask --------------------------------------------------------------------------


def _markers(task: ShardTask) -> Path:
    path = Path(task.out).parent / "markers"
    path.mkdir(exist_ok=True)
    return path


def _first_time(task: ShardTask, what: str) -> bool:
    marker = _markers(task) / f"{what}-{task.shard.index}"
    if marker.exists():
        return False
    marker.write_text("x")
    return True


def dask_flaky(task: ShardTask, report: Callable[[int], None] | None) -> object:
    """Shard 0 raises once, shard 1 kills its worker once, shard 2 always raises; plan seed 8 always kills."""
    index = task.shard.index
    (_markers(task) / f"attempt-{index}-{uuid.uuid4().hex}").write_text("x")
    if seed_coordinates(task.shard.seed).plan_seed == 8:
        os._exit(1)
    if index == 0 and _first_time(task, "raised"):
        msg = "a passing hiccup"
        raise RuntimeError(msg)
    if index == 1 and _first_time(task, "killed"):
        os._exit(1)
    if index == 2:
        msg = "always broken"
        raise GenerationError(msg)
    return run_shard(task, report)


@pytest.fixture
def cluster_address() -> Iterator[str]:
    import dask
    from distributed import LocalCluster

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        with (
            dask.config.set(
                {
                    "distributed.scheduler.allowed-failures": 1,
                    "distributed.scheduler.worker-saturation": 1.0,
                }
            ),
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            ) as cluster,
        ):
            yield cluster.scheduler_address
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.slow
def test_dask_retries_and_killed_workers(tmp_path: Path, cluster_address: str) -> None:
    engine = {"kind": "address", "address": cluster_address}
    plan = _plan(retries=1, engine=engine)
    files = [s.file for s in plan.shards()]
    summary = produce(plan, tmp_path / "a" / "out", runner=dask_flaky)
    assert summary.failures == (ShardFailure(files[2], TTBAR, 2, "GenerationError: always broken"),)
    assert (summary.made, summary.files) == (2, 2)
    manifest = read_manifest(tmp_path / "a" / "out")
    assert manifest is not None
    assert [r.file for r in manifest.shards] == files[:2]
    attempts = [p.name.split("-")[1] for p in (tmp_path / "a" / "markers").glob("attempt-*")]
    assert sorted(attempts) == ["0", "0", "1", "1", "2", "2"]
    # a shard whose worker always dies: given up after `retries` deaths, as KilledWorker
    dying = _plan(seed=8, retries=1, engine=engine, processes=[{"name": TTBAR, "events": 1}])
    summary = produce(dying, tmp_path / "b" / "out", runner=dask_flaky)
    assert [f.error.split(":")[0] for f in summary.failures] == ["KilledWorker"]
    assert summary.files == 0


def test_unreachable_scheduler(tmp_path: Path) -> None:
    import dask

    plan = _plan(engine={"kind": "address", "address": "tcp://127.0.0.1:9"})
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(
            ProductionError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
        ),
    ):
        produce(plan, tmp_path)
