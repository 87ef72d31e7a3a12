"""Fault of issue 16, item 6: ``l1scout mlflow-ui`` left the MLflow server running on SIGTERM.

The command now runs the server in a process group of its own and stops the
whole group on SIGTERM, SIGINT or SIGHUP: SIGTERM first, SIGKILL after a grace
time. The first test stops a real ``l1scout mlflow-ui`` (a real MLflow server:
7 to 20 s to answer on the 2-core development machine); the others drive the
same machinery with a stand-in server whose processes are known, including one
that ignores SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

# the `l1scout` console script, as a user runs it
L1SCOUT = [sys.executable, "-c", "from l1scout.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The processes of *pids* still running (not zombies) after up to *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _kill(pids: list[int]) -> None:
    """Clean up after a failed test: SIGKILL the processes it started, by id."""
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()


@pytest.mark.slow  # a real MLflow server: 7 to 20 s to start, with the machine's load
def test_sigterm_stops_the_real_server(tmp_path: Path) -> None:
    port = _free_port()
    command = [*L1SCOUT, "mlflow-ui", "--root", str(tmp_path / "store"), "--port", str(port)]
    ui = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    server: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while ui.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        assert ui.poll() is None, ui.communicate()
        # `mlflow server` and the uvicorn process it starts
        server = [p.pid for p in psutil.Process(ui.pid).children(recursive=True)]
        assert len(server) >= 2, server
        start = time.monotonic()
        ui.send_signal(signal.SIGTERM)  # to the command alone, as `kill PID` or a service manager
        _, err = ui.communicate(timeout=30)
        assert ui.returncode == 0, err
        assert time.monotonic() - start < 10  # stopped on SIGTERM, not killed after the grace time
        assert _gone(server) == []
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", port), timeout=2),
        ):
            pass  # nothing listens any more
        assert "Traceback" not in err
    finally:
        _kill([ui.pid, *server])


# A stand-in server: it starts a child (as `mlflow server` starts uvicorn), writes
# "<its pid> <its child's pid>" to a file, and waits; with "ignore", both ignore SIGTERM.
_SERVER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    mode, pids = sys.argv[1], sys.argv[2]
    if mode == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(pids + ".tmp", "w") as fh:
        fh.write(f"{os.getpid()} {child.pid}")
    os.replace(pids + ".tmp", pids)
    time.sleep(600)
    """
)
# the command's serving loop, on the stand-in server, with a 1 s grace time
_HARNESS = textwrap.dedent(
    """
    import os, sys
    from l1scout.cli.mlflow_ui import _serve
    code = _serve([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], dict(os.environ), grace_s=1.0)
    print("status", code)
    """
)


def _start_harness(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    pids = tmp_path / "pids"
    harness = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, _SERVER, mode, str(pids)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not pids.is_file() and time.monotonic() < deadline and harness.poll() is None:
        time.sleep(0.05)
    assert pids.is_file(), harness.communicate()
    server, child = (int(p) for p in pids.read_text().split())
    assert os.getpgid(server) == server == os.getpgid(child)  # a group of their own
    assert os.getpgid(server) != os.getpgid(harness.pid)
    return harness, [server, child]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_each_stop_signal_stops_the_whole_group(tmp_path: Path, signum: int) -> None:
    harness, server = _start_harness(tmp_path, "obey")
    try:
        harness.send_signal(signum)
        out, err = harness.communicate(timeout=30)
        assert harness.returncode == 0, err
        assert out.split() == ["status", "None"]  # stopped by a signal, not ended by itself
        assert _gone(server) == []
        assert err == ""  # no warning: it stopped within the grace time
    finally:
        _kill([harness.pid, *server])


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_time(tmp_path: Path) -> None:
    harness, server = _start_harness(tmp_path, "ignore")
    try:
        start = time.monotonic()
        harness.send_signal(signal.SIGTERM)
        out, err = harness.communicate(timeout=30)
        took = time.monotonic() - start
        assert harness.returncode == 0, err
        assert out.split() == ["status", "None"]
        assert 1.0 <= took < 10.0  # the 1 s grace time, then SIGKILL
        assert _gone(server) == []
        assert err.strip() == (
            "warning: the MLflow server did not stop within 1 s of SIGTERM; it was killed"
        )
    finally:
        _kill([harness.pid, *server])


def test_a_server_that_ends_by_itself_leaves_nothing(tmp_path: Path) -> None:
    harness, server = _start_harness(tmp_path, "obey")
    try:
        os.kill(server[0], signal.SIGKILL)  # the server dies; its child would be orphaned
        out, err = harness.communicate(timeout=30)
        assert harness.returncode == 0, err
        assert out.split() == ["status", "-9"]  # the status of the server itself
        assert _gone(server) == []
    finally:
        _kill([harness.pid, *server])
