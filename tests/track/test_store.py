"""The tracking URI: explicit > $MLFLOW_TRACKING_URI > the local SQLite store; no MLflow import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from l1scout.track.store import artifact_root, local_store, sqlite_path, tracking_uri


def test_local_store_layout(tmp_path: Path) -> None:
    store = local_store(tmp_path / "st")
    assert store.root == (tmp_path / "st").resolve()
    assert store.db_path == store.root / "mlflow.db"
    assert store.artifacts == store.root / "artifacts"
    assert store.uri == f"sqlite:///{store.root.as_posix()}/mlflow.db"
    assert store.uri.startswith("sqlite:////")  # absolute path: four slashes
    assert not store.root.exists()  # nothing is created by computing a URI


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("L1SCOUT_MLFLOW_DIR", raising=False)
    default = f"sqlite:///{tmp_path.resolve().as_posix()}/mlruns/mlflow.db"
    assert tracking_uri() == default
    assert (
        tracking_uri(root="elsewhere")
        == f"sqlite:///{(tmp_path / 'elsewhere').resolve().as_posix()}/mlflow.db"
    )
    monkeypatch.setenv("L1SCOUT_MLFLOW_DIR", str(tmp_path / "env-root"))
    assert tracking_uri() == f"sqlite:///{(tmp_path / 'env-root').resolve().as_posix()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://server:5000")
    assert tracking_uri() == "http://server:5000"
    assert tracking_uri(root=tmp_path) == "http://server:5000"  # the environment wins over root
    assert tracking_uri("sqlite:///x.db") == "sqlite:///x.db"  # an explicit URI wins over all
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "  ")
    assert (
        tracking_uri(" ") == f"sqlite:///{(tmp_path / 'env-root').resolve().as_posix()}/mlflow.db"
    )


def test_artifact_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert artifact_root(local_store(tmp_path).uri) == local_store(tmp_path).artifacts
    monkeypatch.chdir(tmp_path)
    assert sqlite_path("sqlite:///rel/m.db") == (tmp_path / "rel" / "m.db").resolve()
    assert sqlite_path("sqlite:////abs/m.db?timeout=5") == Path("/abs/m.db")
    assert artifact_root("sqlite:///rel/m.db") == (tmp_path / "rel" / "artifacts").resolve()
    for remote in (
        "http://host:5000",
        "https://h",
        "postgresql://u@h/db",
        "databricks",
        "sqlite://",
    ):
        assert artifact_root(remote) is None


def test_import_does_not_load_mlflow() -> None:
    code = (
        "import sys, l1scout.track, l1scout.track.store, l1scout.track.runs, "
        "l1scout.track.registry, l1scout.cli.mlflow_ui; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'onnx', 'sqlalchemy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
