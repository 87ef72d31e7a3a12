"""``l1scout mlflow-ui``: the MLflow web UI on l1scout's tracking store.

The server runs as a child in a process group of its own (``mlflow server``
starts a uvicorn process beneath it). SIGINT (Ctrl-C), SIGTERM and SIGHUP stop
the whole group: SIGTERM first, SIGKILL 10 seconds later for what is still
running, so nothing is left listening once the command returns.

The server has no authentication: whoever reaches its port can read, change
and delete every run and registered model. It listens on 127.0.0.1 unless
``--host`` says otherwise, and warns when it is asked to listen elsewhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from l1scout.cli._common import TrackingUri, warn
from l1scout.track.store import artifact_root, local_store, sqlite_path, tracking_uri

__all__ = ["mlflow_ui", "server_command"]

_REMOTE = ("http://", "https://", "databricks")
# The server's background job runner (GenAI scorers and the like) is not needed to browse runs
# and doubles the start-up time; a user who wants it sets the variable to true.
_JOBS_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
# the signals that stop the server (and this command) cleanly
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# seconds the server's processes are given to end after SIGTERM before they are killed
_STOP_GRACE_S = 10.0


def server_command(uri: str, host: str, port: int, workers: int = 1) -> list[str]:
    """The ``mlflow server`` command line showing the store at *uri* (a database URI)."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    root = artifact_root(uri)
    if root is not None:
        command += ["--default-artifact-root", root.as_uri()]
    return [*command, "--host", host, "--port", str(port), "--workers", str(workers)]


def _is_loopback(host: str) -> bool:
    """Whether *host* is reachable from this machine only.

    >>> [_is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "my-host")]
    [True, True, True, False, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


class _StopSignalError(Exception):
    """A stop signal arrived while the server ran."""


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group *pgid* still runs.

    A zombie (ended, not yet reaped) does not count: the server's orphaned
    children are reaped by init, which may take its time. Where there is no
    ``/proc`` (not Linux), any member counts.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member runs as another user: it exists
        pass
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:  # "<pid> (<command>) <state> <ppid> <pgrp> ..."; the command may hold ")"
            state, _, group = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):  # the process ended meanwhile
            continue
        if group == str(pgid) and state != "Z":
            return True
    return False


def _stop_group(server: subprocess.Popen[bytes], grace_s: float) -> bool:
    """End every process of *server*'s group: SIGTERM, then SIGKILL after *grace_s* seconds.

    Returns:
        Whether the group ended within *grace_s* (False: it had to be killed).
    """
    pgid = server.pid  # the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=grace_s)  # reaps the leader, so it no longer counts in the group
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not _group_alive(pgid):
        server.wait()
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    server.wait()
    return False


def _serve(command: list[str], env: dict[str, str], grace_s: float = _STOP_GRACE_S) -> int | None:
    """Run *command* in a process group of its own until it ends or a stop signal arrives.

    Whatever of the group is left when the server's process ends (or is
    stopped) is ended too (:func:`_stop_group`).

    Returns:
        The server's exit status, or None when a stop signal (SIGINT, SIGTERM,
        SIGHUP) stopped it.
    """
    received: list[int] = []
    armed = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal armed
        del frame
        received.append(signum)
        if armed:  # only around wait(), never inside Popen (which would lose the child); once
            armed = False
            raise _StopSignalError

    previous = {s: signal.signal(s, on_signal) for s in _STOP_SIGNALS}
    try:
        server = subprocess.Popen(command, env=env, process_group=0)  # noqa: S603
        try:
            armed = True
            if not received:
                server.wait()
            armed = False  # a signal before this line raises inside the try, and is caught
        except _StopSignalError:
            pass
        finally:
            armed = False
            if not _stop_group(server, grace_s):
                warn(
                    f"the MLflow server did not stop within {grace_s:g} s of SIGTERM; it was killed"
                )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return None if received else server.returncode


def mlflow_ui(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", help="Folder of the local store (default: $L1SCOUT_MLFLOW_DIR or ./mlruns)."
        ),
    ] = None,
    uri: TrackingUri = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Interface to listen on (0.0.0.0: every one). The server has no "
            "authentication: whoever reaches the port can read, change and delete every run "
            "and model. Keep 127.0.0.1 (reach it through an SSH tunnel) unless the network "
            "is trusted.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 5000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes (one is plenty for one user).")
    ] = 1,
) -> None:
    """Show the tracked runs in the MLflow web UI (runs `mlflow server` on the tracking store).

    Ctrl-C, SIGTERM or SIGHUP stop the server and every process it started
    (exit status 0); the command exits with the server's status if the server
    ends by itself.
    """
    # an explicit --root names the local store, whatever $MLFLOW_TRACKING_URI says
    store = local_store(root).uri if root is not None and uri is None else tracking_uri(uri)
    if store.startswith(_REMOTE):
        typer.echo(f"runs are tracked on the server {store}: open it in a browser")
        return
    db = sqlite_path(store)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    if not _is_loopback(host):
        warn(
            f"the MLflow server listens on {host}:{port} without authentication: whoever "
            "reaches that port can read, change and delete every run and model"
        )
    typer.echo(f"MLflow UI of {store} at http://{host}:{port} (Ctrl-C stops it)")
    env = {**os.environ, _JOBS_ENV: os.environ.get(_JOBS_ENV, "false")}
    code = _serve(server_command(store, host, port, workers), env)
    if code:  # the server ended by itself, and not well (a signal: 128 + its number)
        raise typer.Exit(code=code if code > 0 else 128 - code)
