"""Tracked runs: parameters, metrics per step, artifacts, tags and ONNX models in MLflow.

:func:`start_run` opens an MLflow run in a named experiment of the store chosen
by :func:`l1scout.track.store.tracking_uri` and returns a :class:`TrackedRun`, a
context manager that ends the run ``FINISHED``, or ``FAILED`` when the block
raises (``KILLED`` on Ctrl-C); the exception goes on. Every run is tagged with
the l1scout version, the git commit of the code (and whether the checkout had
uncommitted changes) and, when given, the hash of the dataset it used
(:func:`dataset_hash`). A scan nests its runs under a parent run (MLflow's
``mlflow.parentRunId`` tag), which the MLflow UI shows as a tree.

All calls go through an ``MlflowClient`` bound to the run's tracking URI: the
process-wide MLflow state (``mlflow.set_tracking_uri``, the fluent active run)
is neither read nor changed.

Example:
    >>> flatten_params({"model": {"hidden": (32, 16), "beta": 0.5}, "seed": 1})
    {'model.hidden': '(32, 16)', 'model.beta': '0.5', 'seed': '1'}
"""

from __future__ import annotations

import dataclasses
import enum
import getpass
import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from l1scout._files import sha256_file
from l1scout._version import __version__
from l1scout.errors import ConfigError, DataFormatError
from l1scout.track._mlflow import client, experiment_id, quiet
from l1scout.track.store import tracking_uri

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "TrackedRun",
    "dataset_hash",
    "flatten_params",
    "git_commit",
    "git_dirty",
    "start_run",
]

_log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation: MAX_ENTITY_KEY_LENGTH, MAX_PARAM_VAL_LENGTH,
# MAX_TAG_VAL_LENGTH); a test checks that they still agree.
MAX_KEY_LENGTH = 250
"""Longest parameter, metric or tag name MLflow stores (characters)."""
MAX_PARAM_VALUE_LENGTH = 6000
"""Longest parameter value MLflow stores (characters); longer values are truncated."""
MAX_TAG_VALUE_LENGTH = 8000
"""Longest tag value MLflow stores (characters); longer values are truncated."""

# Names valid for MLflow on every system (no colon: Windows stores refuse it).
_NAME = re.compile(r"^[/\w.\- ]+$")
_TRUNCATED = "...[truncated]"
_GIT_TIMEOUT_S = 10.0


# ----------------------------------------------------------------------------- pure helpers


def _is_record(value: object) -> bool:
    """A value whose fields become dotted parameters: mapping, pydantic model or dataclass."""
    return (
        isinstance(value, Mapping)
        or callable(getattr(value, "model_dump", None))
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
    )


def _fields(value: object) -> Mapping[Any, Any]:
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        fields = dump(mode="json")
        if isinstance(fields, Mapping):
            return fields
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} has no fields")  # pragma: no cover - guarded


def _text(value: object) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)


def _clip(value: str, limit: int, what: str) -> str:
    if len(value) <= limit:
        return value
    _log.warning("%s: value of %d characters truncated to %d", what, len(value), limit)
    return value[: limit - len(_TRUNCATED)] + _TRUNCATED


def _check_name(name: str, what: str) -> str:
    """*name* if MLflow accepts it as a parameter/metric/tag name, else a ConfigError."""
    if len(name) > MAX_KEY_LENGTH:
        raise ConfigError(f"{what} {name[:60]!r}...: longer than {MAX_KEY_LENGTH} characters")
    if not _NAME.match(name):
        raise ConfigError(
            f"{what} {name!r}: expected letters, digits, '_', '-', '.', ' ' and '/' only"
        )
    parts = name.split("/")
    if name.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise ConfigError(
            f"{what} {name!r}: expected a relative name without empty, '.' or '..' parts"
        )
    return name


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested parameters into MLflow's flat, string-valued form.

    Mappings, pydantic models and dataclasses become dotted names (``a.b``);
    lists and tuples that hold such records are indexed (``models.0.name``);
    every other value is converted with ``str`` (enums by value, paths in POSIX
    form) and truncated to :data:`MAX_PARAM_VALUE_LENGTH` characters.

    Raises:
        ConfigError: a name is too long or holds characters MLflow refuses.

    Example:
        >>> flatten_params({"models": [{"name": "a"}, {"name": "b"}], "rates": [0.5, 1.0]})
        {'models.0.name': 'a', 'models.1.name': 'b', 'rates': '[0.5, 1.0]'}
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if _is_record(value):
            flat.update(flatten_params(_fields(value), f"{name}."))
        elif (
            isinstance(value, Sequence)
            and not isinstance(value, str | bytes)
            and any(_is_record(v) for v in value)
        ):
            flat.update(flatten_params({str(i): v for i, v in enumerate(value)}, f"{name}."))
        else:
            flat[_check_name(name, "parameter")] = _clip(
                _text(value), MAX_PARAM_VALUE_LENGTH, f"parameter {name!r}"
            )
    return flat


def _files_of(path: Path) -> list[tuple[str, Path]]:
    """(name, file) pairs of a file, or of a folder's non-hidden files (names relative to it)."""
    if path.is_file():
        return [(path.name, path)]
    if path.is_dir():
        return [
            (f"{path.name}/{f.relative_to(path).as_posix()}", f)
            for f in sorted(path.rglob("*"))
            if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
        ]
    raise DataFormatError(f"dataset file {path}: does not exist")


def dataset_hash(paths: Iterable[Path | str]) -> str:
    """A SHA-256 identifying a dataset by the names and bytes of its files.

    The hash is taken over the sorted list of ``(name, sha256 of the file's
    bytes)``, so it does not depend on the order of *paths* or on where the
    files lie, and it changes when any byte of any file does. A file's name is
    its base name; the files of a folder (hidden ones, such as a killed
    writer's temporary files, left out) are named ``<folder>/<relative path>``.

    Raises:
        DataFormatError: a path does not exist.
        ConfigError: there is no file to hash.
    """
    entries = sorted(
        (name, sha256_file(file)) for path in paths for name, file in _files_of(Path(path))
    )
    if not entries:
        raise ConfigError("dataset_hash: expected at least one file")
    digest = hashlib.sha256()
    for name, file_digest in entries:
        digest.update(f"{name}\0{file_digest}\n".encode())
    return digest.hexdigest()


def _git(args: Sequence[str], where: Path) -> str | None:
    """Output of ``git <args>`` run in *where*, or None (no git, not a checkout, error)."""
    git = shutil.which("git")
    if git is None or not where.is_dir():
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [git, *args],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _checkout(path: Path | str | None) -> Path | None:
    """The folder whose checkout describes the code: *path*, else l1scout's, else the cwd's."""
    candidates = [Path(path)] if path is not None else [Path(__file__).resolve().parent, Path.cwd()]
    for where in candidates:
        folder = where if where.is_dir() else where.parent
        if _git(["rev-parse", "--is-inside-work-tree"], folder) is not None:
            return folder
    return None


def git_commit(path: Path | str | None = None) -> str:
    """The commit checked out where the code runs (``git rev-parse HEAD``), or ``"unknown"``.

    Args:
        path: a file or folder inside the checkout; by default the l1scout
            package's own folder (an editable install), else the current folder.
    """
    folder = _checkout(path)
    out = None if folder is None else _git(["rev-parse", "HEAD"], folder)
    return out.strip() if out and out.strip() else "unknown"


def git_dirty(path: Path | str | None = None) -> bool | None:
    """Whether tracked files of the checkout differ from the commit; None outside a checkout.

    Untracked files are not counted (a store or data folder inside the checkout
    would otherwise always make it dirty).
    """
    folder = _checkout(path)
    out = (
        None if folder is None else _git(["status", "--porcelain", "--untracked-files=no"], folder)
    )
    return None if out is None else bool(out.strip())


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (containers without a passwd entry)
        return "unknown"


# ----------------------------------------------------------------------------- the run


class TrackedRun:
    """An open MLflow run; use it as a context manager (see :func:`start_run`).

    Attributes:
        run_id: MLflow's run id.
        experiment: the experiment name.
        experiment_id: MLflow's experiment id.
        uri: the tracking URI of the store holding the run.
        status: None while the run is open, then ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``.
    """

    def __init__(self, *, run_id: str, experiment: str, experiment_id: str, uri: str) -> None:
        self.run_id = run_id
        self.experiment = experiment
        self.experiment_id = experiment_id
        self.uri = uri
        self.status: str | None = None

    def __repr__(self) -> str:
        return (
            f"TrackedRun(run_id={self.run_id!r}, experiment={self.experiment!r}, "
            f"uri={self.uri!r}, status={self.status!r})"
        )

    @property
    def artifact_uri(self) -> str:
        """Root URI of the run's artifacts (a ``file://`` folder for the local store)."""
        with quiet():
            return str(client(self.uri).get_run(self.run_id).info.artifact_uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters, nested mappings flattened to dotted names (:func:`flatten_params`).

        MLflow keeps parameters immutable: logging a name again with another value fails.
        """
        from mlflow.entities import Param

        flat = flatten_params(params)
        if flat:
            with quiet():
                client(self.uri).log_batch(
                    self.run_id, params=[Param(k, v) for k, v in flat.items()]
                )

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metric values at *step* (an epoch, for training curves; 0 when None).

        Raises:
            ConfigError: a name MLflow refuses, or a value that is not a number.
        """
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = []
        for key, value in metrics.items():
            name = _check_name(str(key), "metric")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"metric {name!r}: expected a number, got {value!r}") from None
            batch.append(Metric(name, number, stamp, 0 if step is None else int(step)))
        if batch:
            with quiet():
                client(self.uri).log_batch(self.run_id, metrics=batch)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set tags (string values, truncated to :data:`MAX_TAG_VALUE_LENGTH`); later values win."""
        from mlflow.entities import RunTag

        batch = [
            RunTag(
                _check_name(str(k), "tag"),
                _clip(_text(v), MAX_TAG_VALUE_LENGTH, f"tag {k!r}"),
            )
            for k, v in tags.items()
        ]
        if batch:
            with quiet():
                client(self.uri).log_batch(self.run_id, tags=batch)

    def log_artifact(self, path: Path | str, subdir: str | None = None) -> None:
        """Store a file or a folder with the run.

        A file lands at ``<subdir>/<file name>``. A folder's contents land under
        ``<subdir>/``, or under ``<folder name>/`` when *subdir* is None.

        Raises:
            DataFormatError: *path* does not exist.
        """
        path = Path(path)
        if subdir is not None:
            subdir = subdir.strip("/") or None
        with quiet():
            if path.is_file():
                client(self.uri).log_artifact(self.run_id, str(path), artifact_path=subdir)
            elif path.is_dir():
                target = subdir if subdir is not None else path.name
                client(self.uri).log_artifacts(self.run_id, str(path), artifact_path=target)
            else:
                raise DataFormatError(f"artifact {path}: no such file or folder")

    def log_onnx_model(self, path: Path | str, name: str = "model") -> str:
        """Log an ONNX file as an MLflow model (``onnx`` flavour, loadable with ``mlflow.pyfunc``).

        The model becomes an MLflow "logged model" of this run. Its Python
        requirements are the pinned installed versions of onnx, onnxruntime and
        mlflow, given explicitly, so nothing is inferred (no model reload in a
        subprocess, no network). It is served on the CPU execution provider.

        Args:
            path: the ``.onnx`` file (external data files beside it are included).
            name: the logged model's name.

        Returns:
            The model URI ``models:/<model id>``, which :func:`l1scout.track.registry.register_model`
            accepts.

        Raises:
            DataFormatError: *path* is not a readable ONNX file.
        """
        path = Path(path)
        if not path.is_file():
            raise DataFormatError(f"ONNX model {path}: no such file")
        with quiet():
            import mlflow.onnx
            import onnx
            from mlflow.entities import LoggedModelOutput, LoggedModelStatus
            from mlflow.models import Model

            try:
                proto = onnx.load(path)
            except Exception as exc:  # onnx raises DecodeError and others
                raise DataFormatError(f"ONNX model {path}: cannot be read ({exc})") from exc
            mlf = client(self.uri)
            logged = mlf.create_logged_model(
                self.experiment_id, name=name, source_run_id=self.run_id
            )
            try:
                mlf.log_outputs(self.run_id, [LoggedModelOutput(logged.model_id, step=0)])
                meta = Model(
                    artifact_path=logged.artifact_location,
                    model_uuid=logged.model_id,
                    run_id=self.run_id,
                    model_id=logged.model_id,
                )
                with tempfile.TemporaryDirectory(prefix="l1scout-model-") as tmp:
                    local = Path(tmp) / "model"
                    mlflow.onnx.save_model(
                        proto,
                        local,
                        mlflow_model=meta,
                        pip_requirements=mlflow.onnx.get_default_pip_requirements(),
                        onnx_execution_providers=["CPUExecutionProvider"],
                    )
                    mlf.log_model_artifacts(logged.model_id, str(local))
            except BaseException:
                mlf.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
                raise
            mlf.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
        return f"models:/{logged.model_id}"

    def end(self, status: str = "FINISHED") -> None:
        """End the run with *status* (``FINISHED``, ``FAILED`` or ``KILLED``); later calls do nothing."""
        if self.status is not None:
            return
        with quiet():
            client(self.uri).set_terminated(self.run_id, status=status)
        self.status = status

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end("FINISHED")
        else:
            self.end("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")


def start_run(
    experiment: str,
    *,
    run_name: str,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    dataset_hash: str | None = None,
    uri: str | None = None,
    parent: TrackedRun | None = None,
) -> TrackedRun:
    """Open a run in *experiment* (created if missing) and log its parameters and tags.

    Args:
        experiment: experiment name.
        run_name: the run's display name.
        params: parameters, nested mappings flattened (:func:`flatten_params`).
        tags: extra tags.
        dataset_hash: :func:`dataset_hash` of the data used, tagged ``dataset.hash``.
        uri: tracking URI; by default the parent's, else :func:`l1scout.track.store.tracking_uri`.
        parent: the run this one nests under (a scan's runs under the scan).

    Returns:
        The open run; end it by leaving its ``with`` block (or calling ``end``).

    Tags set on every run: ``l1scout.version``, ``git.commit`` (:func:`git_commit`,
    also as MLflow's ``mlflow.source.git.commit``), ``git.dirty`` (``true``, ``false``
    or ``unknown``), ``mlflow.user``, and ``dataset.hash`` and ``mlflow.parentRunId``
    when given.
    """
    if uri is None and parent is not None:
        uri = parent.uri
    resolved = tracking_uri(uri)
    exp_id = experiment_id(resolved, experiment)
    commit = git_commit()
    dirty = git_dirty()
    base: dict[str, str] = {
        "l1scout.version": __version__,
        "git.commit": commit,
        "git.dirty": "unknown" if dirty is None else str(dirty).lower(),
        "mlflow.user": _user(),
    }
    if commit != "unknown":
        base["mlflow.source.git.commit"] = commit
    if dataset_hash is not None:
        base["dataset.hash"] = dataset_hash
    if parent is not None:
        base["mlflow.parentRunId"] = parent.run_id
    with quiet():
        created = client(resolved).create_run(exp_id, run_name=run_name, tags=base)
    run = TrackedRun(
        run_id=created.info.run_id, experiment=experiment, experiment_id=exp_id, uri=resolved
    )
    try:
        if tags:
            run.set_tags(tags)
        if params:
            run.log_params(params)
    except BaseException:
        run.end("FAILED")
        raise
    _log.debug("run %s (%s) started in %s", run.run_id, run_name, resolved)
    return run
