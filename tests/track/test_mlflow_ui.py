"""``l1scout mlflow-ui``: the server command on the store, and a real server showing its runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import l1scout.cli.mlflow_ui as ui
from l1scout.track._mlflow import experiment_id
from l1scout.track.store import local_store

runner = CliRunner()
app = typer.Typer()
app.command()(ui.mlflow_ui)


def test_server_command(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    assert ui.server_command(store.uri, "0.0.0.0", 5123) == [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", store.uri,
        "--default-artifact-root", store.artifacts.as_uri(),
        "--host", "0.0.0.0", "--port", "5123", "--workers", "1",
    ]  # fmt: skip
    pg = ui.server_command("postgresql://u@h/db", "127.0.0.1", 5000, workers=2)
    assert "--default-artifact-root" not in pg
    assert pg[-2:] == ["--workers", "2"]


def test_runs_mlflow_on_the_local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.delenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", raising=False)

    def fake_serve(command: list[str], env: dict[str, str]) -> int:
        calls.append(command)
        assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
        return 0

    monkeypatch.setattr(ui, "_serve", fake_serve)
    result = runner.invoke(app, ["--root", str(tmp_path / "st"), "--port", "5111"])
    assert result.exit_code == 0, result.output
    store = local_store(tmp_path / "st")
    assert f"MLflow UI of {store.uri} at http://127.0.0.1:5111" in result.output
    assert calls == [ui.server_command(store.uri, "127.0.0.1", 5111)]
    assert store.root.is_dir()  # sqlite needs the folder to exist

    monkeypatch.setenv("L1SCOUT_MLFLOW_DIR", str(tmp_path / "env"))
    assert runner.invoke(app, []).exit_code == 0
    assert calls[-1][5] == local_store(tmp_path / "env").uri


def test_server_uri_is_not_served_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("no server should start")

    monkeypatch.setattr(ui, "_serve", no_serve)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example.org:5000")
    result = runner.invoke(app, [])
    assert result.exit_code == 0
    assert "tracked on the server http://mlflow.example.org:5000" in result.output
    calls: list[list[str]] = []

    def fake_serve(command: list[str], env: object) -> int:
        calls.append(command)
        return 0

    monkeypatch.setattr(ui, "_serve", fake_serve)
    assert runner.invoke(app, ["--root", "here"]).exit_code == 0  # --root names the local store
    assert calls[0][5] == local_store("here").uri


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_server_shows_the_store(store: str) -> None:
    experiment_id(store, "ui-visible")
    root = Path(store[len("sqlite:///") :]).parent
    port = _free_port()
    code = "import typer; from l1scout.cli.mlflow_ui import mlflow_ui; typer.run(mlflow_ui)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--root", str(root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = (
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=ui-visible"
    )
    try:
        deadline = time.monotonic() + 120
        body = None
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert body is not None, f"no answer from the MLflow server (exit status {proc.poll()})"
        assert body["experiment"]["name"] == "ui-visible"
        assert body["experiment"]["artifact_location"].startswith((root / "artifacts").as_uri())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
