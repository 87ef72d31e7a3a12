"""The model registry: register a logged model under a name and alias, find the best run.

A registered model has numbered versions; an alias (``champion`` by default)
points at one of them and moves when a newer version is registered with it, so
``models:/<name>@<alias>`` always names the current choice. :func:`load_model`
loads such a URI (or ``models:/<name>/<version>``, or a ``models:/<model id>``
from :meth:`l1scout.track.runs.TrackedRun.log_onnx_model`) as an
``mlflow.pyfunc`` model from an explicit store, without touching the
process-wide MLflow URIs; it loads only the ONNX models l1scout writes unless
told otherwise (``allow_unsafe=True``), since loading another flavour can run
code stored with the model.

Example:
    >>> _parse_models_uri("models:/l1scout-axo@champion")
    ('l1scout-axo', None, 'champion', None)
    >>> _parse_models_uri("models:/l1scout-axo/3")
    ('l1scout-axo', '3', None, None)
    >>> _parse_models_uri("models:/m-0123abcd")
    (None, None, None, 'm-0123abcd')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from l1scout.errors import ConfigError, DataFormatError
from l1scout.track._mlflow import client, experiment_id, quiet
from l1scout.track.store import tracking_uri

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

__all__ = ["RegisteredModel", "best_run", "load_model", "model_location", "register_model"]

_PAGE = 100
# the python_function loader of the one flavour l1scout writes (TrackedRun.log_onnx_model)
_SAFE_LOADER = "mlflow.onnx"


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model version and the alias that points at it.

    Attributes:
        name: the registered model's name.
        version: its version number, as MLflow writes it (``"1"``, ``"2"``, ...).
        alias: the alias now pointing at this version.
        run_id: the run that logged the model.
        uri: the model URI of this version, ``models:/<name>/<version>``.
    """

    name: str
    version: str
    alias: str
    run_id: str
    uri: str

    @property
    def alias_uri(self) -> str:
        """``models:/<name>@<alias>``: whichever version the alias points at when it is read."""
        return f"models:/{self.name}@{self.alias}"


def _parse_models_uri(model_uri: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(name, version, alias, model id) of a ``models:/`` URI; ConfigError otherwise."""
    prefix = "models:/"
    body = model_uri[len(prefix) :].strip("/") if model_uri.startswith(prefix) else ""
    name, at, alias = body.rpartition("@")
    if at:
        if name and alias and "/" not in alias:
            return name, None, alias, None
    elif "/" in body:
        name, _, version = body.rpartition("/")
        if name and version.isdigit():
            return name, version, None, None
    elif body:
        return None, None, None, body
    raise ConfigError(
        f"model URI {model_uri!r}: expected models:/<name>@<alias>, models:/<name>/<version> "
        "or models:/<model id>"
    )


def _source(model_uri: str, uri: str) -> tuple[str, str | None]:
    """(artifact location, source run id) of a ``models:/<model id>`` or ``runs:/`` URI."""
    mlf = client(uri)
    if model_uri.startswith("runs:/"):
        run_id, _, path = model_uri[len("runs:/") :].partition("/")
        if not run_id or not path:
            raise ConfigError(f"model URI {model_uri!r}: expected runs:/<run id>/<path>")
        with quiet():
            root = mlf.get_run(run_id).info.artifact_uri
        return f"{str(root).rstrip('/')}/{path.strip('/')}", run_id
    name, _, _, model_id = _parse_models_uri(model_uri)
    if model_id is None:
        raise ConfigError(
            f"model URI {model_uri!r}: register a logged model (models:/<model id>, as "
            "TrackedRun.log_onnx_model returns) or runs:/<run id>/<path>, not a registered "
            f"version of {name!r}"
        )
    with quiet():
        logged = mlf.get_logged_model(model_id)
    return str(logged.artifact_location), logged.source_run_id


def register_model(
    model_uri: str,
    name: str,
    *,
    alias: str = "champion",
    uri: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> RegisteredModel:
    """Register *model_uri* as a new version of *name* and point *alias* at it.

    The registered model is created on first use. The version records the
    model's artifact location as its source (MLflow 3.17's SQL registry would
    otherwise resolve ``models:/<model id>`` through the process-wide tracking
    URI), and the run that logged it.

    Args:
        model_uri: ``models:/<model id>`` (from :meth:`TrackedRun.log_onnx_model`)
            or ``runs:/<run id>/<path>`` of an MLflow model folder.
        name: the registered model's name.
        alias: the alias to set on the new version (moved from an older one).
        uri: tracking URI (:func:`l1scout.track.store.tracking_uri`).
        tags: tags of the new version.

    Raises:
        ConfigError: *model_uri* is not of an accepted form.
    """
    resolved = tracking_uri(uri)
    source, run_id = _source(model_uri, resolved)
    model_id = _parse_models_uri(model_uri)[3] if model_uri.startswith("models:/") else None
    mlf = client(resolved)
    from mlflow.exceptions import MlflowException

    with quiet():
        try:
            mlf.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = mlf.create_model_version(
            name, source, run_id=run_id, tags=dict(tags) if tags else None, model_id=model_id
        )
        mlf.set_registered_model_alias(name, alias, str(version.version))
    return RegisteredModel(
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=run_id or "",
        uri=f"models:/{name}/{version.version}",
    )


def model_location(model_uri: str, *, uri: str | None = None) -> str:
    """The artifact location (``file://...`` for the local store) a ``models:/`` URI names now.

    Accepts ``models:/<name>@<alias>``, ``models:/<name>/<version>`` and
    ``models:/<model id>``, resolved in the store at *uri*.
    """
    resolved = tracking_uri(uri)
    name, version, alias, model_id = _parse_models_uri(model_uri)
    mlf = client(resolved)
    with quiet():
        if model_id is not None or name is None:
            return str(mlf.get_logged_model(str(model_id)).artifact_location)
        if alias is not None:
            version = str(mlf.get_model_version_by_alias(name, alias).version)
        return str(mlf.get_model_version_download_uri(name, str(version)))


def _refusal(flavors: Mapping[str, Any]) -> str | None:
    """Why loading a model with these MLmodel *flavors* could run code or write files (None: it cannot).

    Only the model l1scout writes passes (:meth:`~l1scout.track.runs.TrackedRun.log_onnx_model`):
    the ``onnx`` flavour, loaded by ``mlflow.onnx`` (which reads an ONNX graph),
    with no code paths, no extra onnxruntime session settings (some write files)
    and execution providers named without options.

    >>> onnx = {"python_function": {"loader_module": "mlflow.onnx"}, "onnx": {"providers": ["CPUExecutionProvider"]}}
    >>> _refusal(onnx) is None
    True
    >>> _refusal({"python_function": {"loader_module": "mlflow.pyfunc.model"}})
    'its flavour is python_function (loader mlflow.pyfunc.model), and loading it can run code stored with it'
    >>> _refusal({**onnx, "python_function": {"loader_module": "mlflow.onnx", "code": "code"}})
    'its flavour is onnx with code paths (code), which loading imports'
    """
    pyfunc = flavors.get("python_function")
    pyfunc = pyfunc if isinstance(pyfunc, Mapping) else {}
    onnx = flavors.get("onnx")
    loader = pyfunc.get("loader_module")
    if loader != _SAFE_LOADER or not isinstance(onnx, Mapping):
        names = ", ".join(sorted(str(k) for k in flavors if k != "python_function"))
        return (
            f"its flavour is {names or 'python_function'} (loader {loader}), "
            "and loading it can run code stored with it"
        )
    code = pyfunc.get("code") or onnx.get("code")
    if code:
        return f"its flavour is onnx with code paths ({code}), which loading imports"
    options = onnx.get("onnx_session_options")
    if isinstance(options, Mapping) and options.get("extra_session_config"):
        return "its flavour is onnx with extra onnxruntime session settings, which can write files"
    providers = onnx.get("providers") or []
    entries = [providers] if isinstance(providers, str) else providers
    if not isinstance(entries, list) or not all(isinstance(p, str) for p in entries):
        return "its flavour is onnx with options for its execution providers, which can name files"
    return None


def load_model(
    model_uri: str, *, uri: str | None = None, allow_unsafe: bool = False
) -> PyFuncModel:
    """Load a registered or logged model as ``mlflow.pyfunc`` from the store at *uri*.

    ``mlflow.pyfunc.load_model("models:/...")`` resolves the name through the
    process-wide registry URI (``$MLFLOW_TRACKING_URI``); this resolves it in an
    explicit store instead and loads the model from its artifact location.

    Loading an MLflow model can run code stored with it: a ``python_function``
    model is a pickled Python object, and so are the ``pytorch`` and
    ``sklearn`` flavours. By default only the models l1scout writes are
    loaded: the ``onnx`` flavour of :meth:`~l1scout.track.runs.TrackedRun.log_onnx_model`,
    with no code paths, no extra onnxruntime session settings (some write
    files) and execution providers named without options. The MLmodel file is
    read (as YAML data) and checked before anything is loaded. (l1scout's torch models are not MLflow models but
    state-dict artifacts of the training runs, ``model/model.pt``: read one with
    ``torch.load(path, weights_only=True)``, which unpickles tensors only.)

    Args:
        model_uri: ``models:/<name>@<alias>``, ``models:/<name>/<version>`` or ``models:/<model id>``.
        uri: tracking URI (:func:`l1scout.track.store.tracking_uri`).
        allow_unsafe: load a model of any flavour. Only for a store whose every
            writer you trust: whoever can write to it can run code in this process.

    Raises:
        DataFormatError: the model is not one l1scout writes (and *allow_unsafe*
            is False), or it has no MLmodel file; nothing of it was loaded.
    """
    resolved = tracking_uri(uri)
    location = model_location(model_uri, uri=resolved)
    with quiet():
        import mlflow.artifacts
        import mlflow.pyfunc
        from mlflow.exceptions import MlflowException
        from mlflow.models import Model

        local = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=resolved)
        if not allow_unsafe:
            try:
                flavors = Model.load(local).flavors
            except MlflowException as exc:
                msg = f"model {model_uri}: no MLmodel file in {location} ({exc.message})"
                raise DataFormatError(msg) from None
            why = _refusal(flavors)
            if why is not None:
                msg = (
                    f"model {model_uri}: {why}; l1scout loads only the ONNX models it writes "
                    "(load_model(..., allow_unsafe=True) loads it, from a store you trust)"
                )
                raise DataFormatError(msg)
        model: PyFuncModel = mlflow.pyfunc.load_model(local)
    return model


def best_run(
    experiment: str,
    metric: str,
    *,
    mode: Literal["max", "min"] = "max",
    uri: str | None = None,
    filter_string: str = "",
    finished_only: bool = True,
) -> str:
    """The id of the run of *experiment* with the highest (``max``) or lowest (``min``) *metric*.

    The metric's latest value is compared; runs without it, or with NaN, never win.

    Args:
        experiment: experiment name.
        metric: metric name (dots allowed, e.g. ``eff.ADC2021_A50_4l.1kHz``).
        mode: ``"max"`` or ``"min"``.
        uri: tracking URI.
        filter_string: an extra MLflow search filter, e.g. ``"tags.l1scout.stage = 'train'"``.
        finished_only: consider only runs that ended ``FINISHED``.

    Raises:
        ConfigError: bad *mode*, no such experiment, or no run has a finite *metric*.
    """
    if mode not in ("max", "min"):
        raise ConfigError(f"best_run mode: expected 'max' or 'min', got {mode!r}")
    if "`" in metric:
        raise ConfigError(f"best_run metric {metric!r}: backticks are not allowed in a name")
    resolved = tracking_uri(uri)
    exp_id = experiment_id(resolved, experiment, create=False)
    clauses = [filter_string.strip()] if filter_string.strip() else []
    if finished_only:
        clauses.append("attributes.status = 'FINISHED'")
    order = f"metrics.`{metric}` {'DESC' if mode == 'max' else 'ASC'}"
    mlf = client(resolved)
    token: str | None = None
    with quiet():
        while True:
            page = mlf.search_runs(
                [exp_id],
                filter_string=" and ".join(clauses),
                order_by=[order],
                max_results=_PAGE,
                page_token=token,
            )
            for run in page:
                value = run.data.metrics.get(metric)
                if value is not None and math.isfinite(value):
                    return str(run.info.run_id)
            token = page.token
            if not token:
                break
    raise ConfigError(
        f"best_run: no run of experiment {experiment!r} has a finite metric {metric!r}"
    )
