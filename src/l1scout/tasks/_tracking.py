"""The names a task's ``[tracking]`` table gives MLflow, checked when the file is read.

MLflow refuses a bad registered-model name or alias only when the model is
registered, after the data and the training; a tracking URI of an unknown
scheme fails at the first run. These types make the task configurations
refuse them when they are read, naming the field.

The rules are MLflow's (``mlflow.utils.validation``, MLflow 3): a registered
model's name holds no ``/`` or ``:``; an alias is letters, digits, ``_`` and
``-``, neither ``latest`` nor a version (``v1``), at most 255 characters; an
experiment name at most 500 characters. The URI schemes are those of MLflow's
tracking stores (``mlflow.tracking._tracking_service.utils``): a plain path,
``file``, ``sqlite``, ``postgresql``, ``mysql`` and ``mssql`` (with a
``+driver``), ``http``, ``https``, ``databricks``, ``databricks-uc`` and
``uc``.

Example:
    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(TrackingUri).validate_python("sqlite:///mlruns/mlflow.db")
    'sqlite:///mlruns/mlflow.db'
    >>> TypeAdapter(TrackingUri).validate_python("sqlite+pysqlite:///x.db")
    'sqlite+pysqlite:///x.db'
    >>> from pydantic import ValidationError
    >>> try:
    ...     TypeAdapter(TrackingUri).validate_python("htp://host:5000")
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, tracking URI 'htp://host:5000': unknown scheme 'htp'; expected a path or a URI of file, sqlite, postgresql, mysql, mssql, http, https, databricks, databricks-uc, uc
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field

from l1scout.errors import ConfigError

__all__ = [
    "ExperimentName",
    "ModelAlias",
    "RegisteredModelName",
    "TrackingUri",
    "check_tracking_uri",
    "with_tracking_uri",
]

_SCHEMES = (
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "http",
    "https",
    "databricks",
    "databricks-uc",
    "uc",
)
_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _known_scheme(uri: str) -> str:
    match = _SCHEME.match(uri)
    if match is None or len(match.group(1)) == 1:  # a path (a Windows drive letter included)
        return uri
    scheme = match.group(1).lower()
    base = scheme.split("+", 1)[0] if scheme.split("+", 1)[0] in _DATABASES else scheme
    if base not in _SCHEMES:
        msg = (
            f"tracking URI {uri!r}: unknown scheme {scheme!r}; expected a path or a URI of "
            + ", ".join(_SCHEMES)
        )
        raise ValueError(msg)
    return uri


def check_tracking_uri(uri: str | None) -> str | None:
    """*uri* when MLflow knows its scheme (None passes): for a URI given on the command line.

    Raises:
        ConfigError: an unknown scheme; the message names the URI.

    >>> check_tracking_uri("http://mlflow.example.org:5000")
    'http://mlflow.example.org:5000'
    """
    if uri is None:
        return None
    try:
        return _known_scheme(uri)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


_Config = TypeVar("_Config", bound=Any)


def with_tracking_uri(cfg: _Config, uri: str | None) -> _Config:
    """*cfg* with ``tracking.uri`` replaced by *uri* (checked first; None: *cfg* unchanged).

    What every task's ``--tracking-uri`` does, before any work.

    Raises:
        ConfigError: an unknown scheme; the message names the URI.

    >>> from types import SimpleNamespace
    >>> class _T(SimpleNamespace):
    ...     def model_copy(self, update):
    ...         return _T(**{**vars(self), **update})
    >>> with_tracking_uri(_T(tracking=_T(uri=None)), "sqlite:///x.db").tracking.uri
    'sqlite:///x.db'
    """
    if uri is None:
        return cfg
    check_tracking_uri(uri)
    updated: _Config = cfg.model_copy(
        update={"tracking": cfg.tracking.model_copy(update={"uri": uri})}
    )
    return updated


def _not_reserved(alias: str) -> str:
    if alias == "latest" or re.fullmatch(r"[vV]\d+", alias):
        msg = f"alias {alias!r}: 'latest' and version names (v1, v2, ...) are MLflow's own"
        raise ValueError(msg)
    return alias


def _not_a_path_step(name: str) -> str:
    if name in {".", ".."}:
        msg = f"registered model name {name!r}: not a name"
        raise ValueError(msg)
    return name


#: An MLflow tracking URI (a path, or a URI of a scheme MLflow stores runs in).
TrackingUri = Annotated[str, Field(min_length=1), AfterValidator(_known_scheme)]
#: An MLflow experiment name.
ExperimentName = Annotated[str, Field(min_length=1, max_length=500)]
#: A registered model's name: no ``/`` or ``:``, not ``.`` or ``..``.
RegisteredModelName = Annotated[
    str, Field(min_length=1, max_length=255, pattern=r"^[^/:]+$"), AfterValidator(_not_a_path_step)
]
#: A registered model's alias: letters, digits, ``_``, ``-``; not ``latest`` nor ``v<N>``.
ModelAlias = Annotated[
    str, Field(min_length=1, max_length=255, pattern=r"^[\w-]+$"), AfterValidator(_not_reserved)
]
