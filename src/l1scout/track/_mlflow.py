"""MLflow access for :mod:`l1scout.track`: one client per URI, experiments, known warnings.

MLflow is imported here, inside functions, never when :mod:`l1scout.track` is
imported. Every client is bound explicitly to one tracking URI (and the same
registry URI): nothing here calls ``mlflow.set_tracking_uri`` or reads the fluent
API's active run, so two stores in one process stay apart.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from l1scout.errors import ConfigError
from l1scout.track.store import artifact_root, sqlite_path

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["client", "experiment_id", "quiet"]

_log = logging.getLogger(__name__)

# Warnings MLflow 3.17 raises on code paths l1scout uses, silenced only where they arise
# (pytest runs with filterwarnings = error, and users need not see them either):
_KNOWN_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # SQLAlchemy 2.x, when mlflow.store.*.sqlalchemy_store is imported (configure_mappers
    # on MLflow's ORM classes, which use the deprecated ``noload`` loader).
    (DeprecationWarning, r"The ``noload`` loader strategy is deprecated"),
    # mlflow.pyfunc import: mlflow.types.responses infers a schema from a pydantic model
    # with ``Any`` fields (the message starts with ANSI colour codes).
    (UserWarning, r".*Any type hint is inferred as AnyType"),
)


@contextmanager
def quiet() -> Iterator[None]:
    """Silence exactly the MLflow warnings listed in ``_KNOWN_WARNINGS``; others still show."""
    with warnings.catch_warnings():
        for category, message in _KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@functools.cache
def client(uri: str) -> MlflowClient:
    """An ``MlflowClient`` bound to *uri* for tracking and the model registry (cached per URI).

    For a SQLite store, the database folder is created, and a new database is
    initialised with ``<folder>/artifacts`` as its default artifact root (MLflow
    would take ``./mlruns`` of the current folder).
    """
    with quiet():
        import mlflow

        db = sqlite_path(uri)
        root = artifact_root(uri)
        if db is not None and root is not None and not db.exists():
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            db.parent.mkdir(parents=True, exist_ok=True)
            _log.info("creating the MLflow store %s", db)
            SqlAlchemyStore(uri, root.as_uri())  # type: ignore[no-untyped-call]
        return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _folder_name(experiment: str) -> str:
    """A file-system-safe, collision-free folder name for an experiment.

    >>> _folder_name("anomaly/vae scan")
    'anomaly-vae-scan-578c73ce'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", experiment).strip("-.")[:64] or "experiment"
    return f"{slug}-{hashlib.sha256(experiment.encode()).hexdigest()[:8]}"


def experiment_id(uri: str, name: str, *, create: bool = True) -> str:
    """The id of experiment *name* in the store at *uri*, created if missing and *create*.

    New experiments of a SQLite store keep their artifacts in
    ``<store>/artifacts/<name-slug>-<hash>``; on a server, the server decides.

    Raises:
        ConfigError: *name* is empty, was deleted, or does not exist and *create* is false.
    """
    if not name.strip():
        raise ConfigError("experiment: expected a non-empty name")
    mlf = client(uri)
    from mlflow.exceptions import MlflowException

    with quiet():
        found = mlf.get_experiment_by_name(name)
        if found is None:
            if not create:
                raise ConfigError(f"experiment {name!r}: no such experiment in {uri}")
            root = artifact_root(uri)
            location = None if root is None else (root / _folder_name(name)).as_uri()
            try:
                return mlf.create_experiment(name, artifact_location=location)
            except MlflowException as exc:  # created meanwhile by another process
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                found = mlf.get_experiment_by_name(name)
                if found is None:
                    raise
    if found.lifecycle_stage == "deleted":
        raise ConfigError(
            f"experiment {name!r} was deleted in {uri}; restore it "
            f"(`mlflow experiments restore --experiment-id {found.experiment_id}`) "
            "or choose another name"
        )
    return str(found.experiment_id)
