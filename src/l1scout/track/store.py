"""Where runs are tracked: a local embedded MLflow store by default, or the user's own.

The tracking URI is chosen in this order: an explicit ``uri`` argument (the
``--tracking-uri`` option of the commands), then ``$MLFLOW_TRACKING_URI`` (so a
user's MLflow server, ``http://host:5000``, works by setting it, as MLflow's own
tools do), then a local store that needs no server: a SQLite database
``<root>/mlflow.db`` with the artifacts of each experiment under
``<root>/artifacts``, the layout MLflow 3's own server defaults to (a database
store, which also holds the model registry, rather than the older plain-folder
store). ``root`` is ``$L1SCOUT_MLFLOW_DIR`` when set, else ``./mlruns``.

This module is pure: it computes URIs and paths and imports no MLflow, so the
command line stays fast.

Example:
    >>> store = local_store("/data/track")
    >>> store.uri, store.artifacts.as_posix()
    ('sqlite:////data/track/mlflow.db', '/data/track/artifacts')
    >>> tracking_uri("http://mlflow.example.org:5000")
    'http://mlflow.example.org:5000'
    >>> artifact_root("sqlite:////data/track/mlflow.db").as_posix()
    '/data/track/artifacts'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

__all__ = [
    "DEFAULT_ROOT",
    "ROOT_ENV",
    "TRACKING_URI_ENV",
    "LocalStore",
    "artifact_root",
    "local_store",
    "sqlite_path",
    "tracking_uri",
]

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
"""MLflow's own environment variable for the tracking URI (a server or a database)."""

ROOT_ENV = "L1SCOUT_MLFLOW_DIR"
"""Environment variable naming the folder of the local store."""

DEFAULT_ROOT = Path("mlruns")
"""Folder of the local store when neither ``root`` nor ``$L1SCOUT_MLFLOW_DIR`` is given."""

_SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True)
class LocalStore:
    """The local embedded store: one SQLite database and an artifact folder beside it.

    Attributes:
        root: the store's folder (absolute).
    """

    root: Path

    @property
    def db_path(self) -> Path:
        """The SQLite database file, ``<root>/mlflow.db``."""
        return self.root / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        """The folder holding the artifacts of every experiment, ``<root>/artifacts``."""
        return self.root / "artifacts"

    @property
    def uri(self) -> str:
        """The tracking (and registry) URI, ``sqlite:///<absolute path of mlflow.db>``."""
        return _SQLITE_PREFIX + self.db_path.as_posix()


def local_store(root: Path | str | None = None) -> LocalStore:
    """The local store under *root*, else ``$L1SCOUT_MLFLOW_DIR``, else ``./mlruns``.

    The root is made absolute against the current folder, so the URI keeps its
    meaning when the process changes folder. Nothing is created here.
    """
    if root is None:
        root = os.environ.get(ROOT_ENV) or DEFAULT_ROOT
    return LocalStore(Path(root).expanduser().resolve())


def tracking_uri(uri: str | None = None, root: Path | str | None = None) -> str:
    """The tracking URI to use: *uri*, else ``$MLFLOW_TRACKING_URI``, else the local store.

    Args:
        uri: an explicit MLflow tracking URI (``http(s)://...``, ``sqlite:///...``,
            ``postgresql://...``, ``databricks``, ...); returned unchanged.
        root: folder of the local store, used only when neither *uri* nor the
            environment names one (see :func:`local_store`).

    Returns:
        A tracking URI; the model registry of l1scout uses the same URI.
    """
    if uri is not None and uri.strip():
        return uri.strip()
    env = os.environ.get(TRACKING_URI_ENV, "").strip()
    if env:
        return env
    return local_store(root).uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (absolute or relative), else None."""
    if not uri.startswith(_SQLITE_PREFIX):
        return None
    path = unquote(uri[len(_SQLITE_PREFIX) :].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().resolve()


def artifact_root(uri: str) -> Path | None:
    """Where l1scout puts the artifacts of new experiments in the store at *uri*.

    For a SQLite store (the local default, or any ``sqlite:///<dir>/<name>.db``) it is
    ``<dir>/artifacts``: MLflow itself would otherwise default to ``./mlruns`` in the
    current folder. For a server or another database it is None: the server (or the
    user's configuration) decides.
    """
    db = sqlite_path(uri)
    return None if db is None else db.parent / "artifacts"
