"""Faults of issue 16, items 2 and 6: a full disk, a bad --out, folders, NaN pileup, no scheduler.

Each runs the command as a user does (typer's runner, or a subprocess where
Dask's worker processes are part of the fault) and checks the one-line message,
the exit status, that no traceback is printed, and what is left on disk.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from l1scout.cli.app import app
from l1scout.io.parquet import AtomicParquetWriter
from l1scout.production import engines, job
from l1scout.production.plan import load_plan

runner = CliRunner()
PROCESS = "ggHgammagamma"
# a small, fast file: 3 events without pileup, one view
GENERATE = ["generate", PROCESS, "-n", "3", "--pileup", "0", "--view", "L1T"]
ENOSPC = f"OSError: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}"


def _files(folder: Path) -> list[str]:
    """Every file under *folder*, hidden ones included (relative, sorted)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _error_line(result: Result) -> str:
    """The one ``error:`` line of a failed command; no traceback anywhere in its output."""
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.fixture
def no_pool(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make building or loading a pileup pool record the call (a check after it comes too late)."""
    calls: list[object] = []

    def record(*args: object, **kwargs: object) -> object:
        calls.append(args)
        msg = "the pileup pool was asked for"
        raise AssertionError(msg)

    monkeypatch.setattr(job, "load_or_build_pool", record)
    return calls


# ---------------------------------------------------------------------------
# item 2: a full disk


def test_generate_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while the row group is written: one line, and not even the temporary file stays."""
    real_flush = AtomicParquetWriter._flush
    partial: list[int] = []

    def flush_then_full(self: AtomicParquetWriter) -> None:
        real_flush(self)  # the bytes reach the temporary file ...
        partial.append(self.tmp_path.stat().st_size)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ... and the disk is full

    monkeypatch.setattr(AtomicParquetWriter, "_flush", flush_then_full)
    out = tmp_path / "data"
    result = runner.invoke(app, [*GENERATE, "--out", str(out)])
    assert result.exit_code == 2
    file = f"{PROCESS}/{PROCESS}-NEVENT3-RS1.parquet"
    assert _error_line(result) == (
        f"error: the disk of {out} is full ({ENOSPC} while making {file}); no partial file "
        "is left under a final name. Free space and rerun the same command."
    )
    assert len(partial) == 1
    assert partial[0] > 0  # the failure came partway, with a partial file on disk
    assert _files(out) == []
    monkeypatch.undo()  # space is free again: the same command makes the file
    again = runner.invoke(app, [*GENERATE, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert _files(out) == [file]


_FULL_DISK_SITE = '''
"""Every process of this test, Dask's workers included: the disk fills at the first row group."""
import errno
import os

from l1scout.io.parquet import AtomicParquetWriter

_real_flush = AtomicParquetWriter._flush


def _flush_then_full(self):
    _real_flush(self)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


AtomicParquetWriter._flush = _flush_then_full
'''


@pytest.mark.parametrize("verbose", [False, True])
def test_produce_on_a_full_disk_with_the_local_dask_engine(tmp_path: Path, verbose: bool) -> None:
    """The worker's "Compute Failed" traceback stays out of the terminal but at DEBUG (``-v``).

    The client says what happened in one line either way.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(_FULL_DISK_SITE))
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    }
    out = tmp_path / "data"
    # one shard, no retry: a worker process starts, writes, and finds the disk full
    args = ["--process", PROCESS, "-n", "2", "--shard-size", "2", "--seed", "1", "--pileup", "0"]
    args += ["--view", "L1T", "--retries", "0", "--engine", "local", "--workers", "1"]
    args += ["--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", "from l1scout.cli import main; main()"]
        + (["-v"] if verbose else [])
        + ["produce", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    # the worker's traceback, and the client's record of it, only at DEBUG
    assert ("Compute Failed" in output) is verbose
    assert ("Traceback" in output) is verbose
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    (shard,) = load_plan(None, {"seed": 1, "processes": [{"name": PROCESS, "events": 2}]}).shards()
    file = shard.file
    assert errors == [
        f"error: the disk of {out} is full ({ENOSPC} while making {file}). 0 complete shards "
        f"are kept, listed in {out / 'manifest.json'}; no partial file is left under a final "
        "name. Free space and rerun the same command to make the rest."
    ]
    assert _files(out) == [".l1scout-produce.lock", "manifest.json"]


# ---------------------------------------------------------------------------
# item 6: --out checked first, folders given for files, NaN pileup, no scheduler


def test_generate_checks_out_before_the_pileup_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pool: list[object]
) -> None:
    with_pool = [*GENERATE[:4], "--pileup", "5", "--pool-size", "50"]
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = runner.invoke(app, [*with_pool, "--out", str(blocker)])
    assert result.exit_code == 2
    assert _error_line(result) == (
        f"error: cannot create the output folder {blocker / PROCESS} "
        f"({os.strerror(errno.ENOTDIR)}); choose another --out"
    )
    assert blocker.read_text() == "x"

    blocker = tmp_path / "data" / PROCESS
    blocker.parent.mkdir()
    blocker.write_text("x")  # a file where the process folder goes
    result = runner.invoke(app, [*with_pool, "--out", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert _error_line(result) == f"error: the output folder {blocker} exists and is not a folder"

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("tempfile.mkstemp", refuse)  # root writes through a chmod
    out = tmp_path / "ro"
    result = runner.invoke(app, [*with_pool, "--out", str(out)])
    assert result.exit_code == 2
    assert _error_line(result) == (
        f"error: the output folder {out / PROCESS} is not writable "
        f"({os.strerror(errno.EACCES)}); fix its permissions or choose another --out"
    )

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("tempfile.mkstemp", full)
    result = runner.invoke(app, [*with_pool, "--out", str(out)])
    assert result.exit_code == 2
    assert _error_line(result).startswith(f"error: the disk of {out / PROCESS} is full ({ENOSPC})")
    assert _files(out) == []
    assert no_pool == []


def test_inspect_a_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 2
    assert _error_line(result) == f"error: {tmp_path} is a folder, expected a Parquet file"
    assert result.output.count("\n") == 1


def test_validate_a_folder(tmp_path: Path) -> None:
    """A folder stands for its Parquet files (as for the readers); an empty one is refused."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["validate", str(empty), "--out", str(tmp_path / "page")])
    assert result.exit_code == 2
    assert _error_line(result) == f"error: {empty}: the folder holds no .parquet file"
    assert not (tmp_path / "page").exists()

    data = tmp_path / "data"
    made = runner.invoke(app, [*GENERATE[:6], "--out", str(data)])  # both views
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["validate", str(data), "--out", str(tmp_path / "page")])
    assert result.exit_code == 0, result.output
    assert "(3 events, views FullReco, L1T)" in " ".join(result.output.split())
    assert (tmp_path / "page" / "index.html").is_file()


@pytest.mark.parametrize("value", ["nan", "-nan", "inf"])
def test_generate_nan_pileup(tmp_path: Path, value: str, no_pool: list[object]) -> None:
    result = runner.invoke(app, [*GENERATE[:4], f"--pileup={value}", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2
    shown = {"nan": "nan", "-nan": "nan", "inf": "inf"}[value]
    assert _error_line(result) == f"error: --pileup: Input should be a finite number (got {shown})"
    assert not (tmp_path / "d").exists()
    assert no_pool == []


def test_produce_nan_pileup_on_the_command_line_and_in_a_plan(tmp_path: Path) -> None:
    out = tmp_path / "data"
    options = ["--process", PROCESS, "-n", "2", "--seed", "1", "--engine", "single"]
    result = runner.invoke(app, ["produce", *options, "--pileup", "nan", "--out", str(out)])
    assert result.exit_code == 2
    assert _error_line(result) == "error: options: pileup: expected a number, got nan"

    plan = tmp_path / "plan.toml"
    plan.write_text(f'seed = 1\npileup = nan\n\n[[processes]]\nname = "{PROCESS}"\nevents = 2\n')
    result = runner.invoke(app, ["produce", str(plan), "--out", str(out)])
    assert result.exit_code == 2
    line = _error_line(result)
    assert line.startswith(f"error: {plan}")
    assert line.endswith(": pileup: expected a number, got nan")
    assert not out.exists()


@pytest.mark.parametrize("existing", [False, True])
def test_produce_with_an_unreachable_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    """Refused within the short connect timeout, before the folder is created or touched."""
    monkeypatch.setattr(engines, "CONNECT_TIMEOUT_S", 1.0)  # Dask's own default is 30 s
    out = tmp_path / "data"
    if existing:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    address = "tcp://127.0.0.1:1"  # a port nothing listens on
    options = ["--process", PROCESS, "-n", "2", "--seed", "1", "--pileup", "0"]
    start = time.monotonic()
    result = runner.invoke(
        app, ["produce", *options, "--engine", "address", "--address", address, "--out", str(out)]
    )
    elapsed = time.monotonic() - start
    assert result.exit_code == 2
    assert _error_line(result) == (
        f"error: cannot reach the Dask scheduler at {address} (OSError: Timed out trying to "
        f"connect to {address} after 1 s); check the address and that the scheduler runs"
    )
    assert elapsed < 10
    if existing:
        assert _files(out) == ["notes.txt"]
    else:
        assert not out.exists()
