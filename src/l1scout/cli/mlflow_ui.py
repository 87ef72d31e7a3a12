"""``l1scout mlflow-ui``: the MLflow web UI on l1scout's tracking store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from l1scout.cli._common import TrackingUri
from l1scout.track.store import artifact_root, local_store, sqlite_path, tracking_uri

__all__ = ["mlflow_ui", "server_command"]

_REMOTE = ("http://", "https://", "databricks")
# The server's background job runner (GenAI scorers and the like) is not needed to browse runs
# and doubles the start-up time; a user who wants it sets the variable to true.
_JOBS_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


def server_command(uri: str, host: str, port: int, workers: int = 1) -> list[str]:
    """The ``mlflow server`` command line showing the store at *uri* (a database URI)."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    root = artifact_root(uri)
    if root is not None:
        command += ["--default-artifact-root", root.as_uri()]
    return [*command, "--host", host, "--port", str(port), "--workers", str(workers)]


def mlflow_ui(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", help="Folder of the local store (default: $L1SCOUT_MLFLOW_DIR or ./mlruns)."
        ),
    ] = None,
    uri: TrackingUri = None,
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every one).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 5000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes (one is plenty for one user).")
    ] = 1,
) -> None:
    """Show the tracked runs in the MLflow web UI (runs `mlflow server` on the tracking store)."""
    # an explicit --root names the local store, whatever $MLFLOW_TRACKING_URI says
    store = local_store(root).uri if root is not None and uri is None else tracking_uri(uri)
    if store.startswith(_REMOTE):
        typer.echo(f"runs are tracked on the server {store}: open it in a browser")
        return
    db = sqlite_path(store)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    typer.echo(f"MLflow UI of {store} at http://{host}:{port} (Ctrl-C stops it)")
    try:
        env = {**os.environ, _JOBS_ENV: os.environ.get(_JOBS_ENV, "false")}
        command = server_command(store, host, port, workers)
        code = subprocess.run(command, env=env, check=False).returncode  # noqa: S603
    except KeyboardInterrupt:
        code = 0
    if code not in (0, -2, 130):  # -2 / 130: stopped by Ctrl-C
        raise typer.Exit(code=code)
