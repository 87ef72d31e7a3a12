"""A production killed midway (SIGKILL to the client and its workers) resumes to the same bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l1scout.production.check import check_dataset
from l1scout.production.driver import produce
from l1scout.production.manifest import read_manifest
from l1scout.production.plan import load_plan

TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
PLAN = f"""
seed = 13
shard_size = 4
pileup = 0.0
views = ["L1T"]

[[processes]]
name = "{TTBAR}"
events = 22

[engine]
kind = "local"
workers = 2
"""
# `l1scout produce` as the coordinator registers it in the app, in a subprocess
APP = (
    "import typer; from l1scout.cli.produce import produce; "
    "app = typer.Typer(); app.command()(produce); app()"
)


def _command(plan: Path, out: Path) -> list[str]:
    return [sys.executable, "-c", APP, str(plan), "--out", str(out)]


def _shards_recorded(out: Path) -> int:
    try:
        manifest = read_manifest(out)
    except Exception:  # noqa: BLE001 - not written yet
        return 0
    return 0 if manifest is None else len(manifest.shards)


def _parquet_files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*.parquet"))
        if not p.name.startswith(".")
    }


@pytest.mark.slow
def test_a_killed_production_resumes_to_identical_bytes(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(PLAN)
    plan = load_plan(plan_file)
    n_shards = len(plan.shards())
    assert n_shards == 6
    killed = tmp_path / "killed"
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(  # the conftest's pool cache goes along in the environment
        _command(plan_file, killed),
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 180
    try:
        while True:
            recorded = _shards_recorded(killed)
            if recorded >= 1:
                break
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline, "no shard was made in time"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the client and every worker process
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    recorded = _shards_recorded(killed)
    assert 1 <= recorded < n_shards, "the kill did not land midway"
    # nothing that looks complete is incomplete: every visible shard file is a whole Parquet file
    for name in _parquet_files(killed):
        assert name in {s.file for s in plan.shards()}

    # rerun the same plan to completion (same engine, here in the test's process)
    summary = produce(plan, killed)
    assert summary.kept + summary.made == n_shards
    assert summary.made >= 1
    assert summary.failures == ()
    assert check_dataset(killed).ok

    # an uninterrupted run of the same plan, in this process and without Dask
    straight = tmp_path / "straight"
    produce(
        plan.model_copy(update={"engine": plan.engine.model_copy(update={"kind": "single"})}),
        straight,
    )
    a, b = _parquet_files(killed), _parquet_files(straight)
    assert sorted(a) == sorted(s.file for s in plan.shards())
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name
    ma, mb = read_manifest(killed), read_manifest(straight)
    assert ma is not None
    assert mb is not None
    assert [(r.file, r.sha256) for r in ma.shards] == [(r.file, r.sha256) for r in mb.shards]
