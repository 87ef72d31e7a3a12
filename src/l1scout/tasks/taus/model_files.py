"""Saved model files of the soft-tau study: write the trained networks, read them back checked.

A run of :func:`~l1scout.tasks.taus.pipeline.run_taus` writes each trained
network to ``OUT/models/<name>.pt`` (:data:`MODEL_NAMES`: ``nnpuppitau``,
``transformer_clue``, ``transformer_ak4``), atomically
(:func:`l1scout._files.atomic_write`); a study whose configuration sets
``[models] load = "<folder>"`` reads them instead of training
(:func:`load_tau_models`).

**The file** is a ``torch.save`` of a plain dictionary, so that
``torch.load(path, weights_only=True)`` reads it without unpickling any
object other than tensors and plain values:

=================  ==============================================================
``format``         :data:`MODEL_FORMAT` (``"l1scout-tau-model"``)
``version``        :data:`MODEL_FORMAT_VERSION` (1)
``name``           the model's name (:data:`MODEL_NAMES`), for information
``kind``           ``"nnpuppitau"`` or ``"transformer"``
``architecture``   what it was built with: the transformer's ``transformer.model``
                   settings (:class:`~l1scout.tasks.taus.transformer.TransformerModelConfig`
                   as a dictionary), NNPuppiTau's ``{"quantized": bool}``
``training``       plain numbers about its training (``best_epoch``, ``epochs``)
``state_dict``     parameter name -> tensor
=================  ==============================================================

**Reading** (:func:`load_tau_model`) builds the network from the
*configured* architecture and loads the file into it, after checking, each
refusal a one-line :class:`~l1scout.errors.DataFormatError` that names the
file: a torch file that can be read (not truncated, not another format); the
format tag and version; the kind; every parameter's shape against the
configured network's (naming the parameter, both shapes and the
configuration field that sets it, e.g. ``transformer.model.ff_dim``); the
architecture's other settings (``n_heads``, ``n_constituents``, NNPuppiTau's
``quantized``; a transformer's ``dropout`` acts only in training and is not
compared); no missing or unexpected parameter; floating-point values, all
finite.

Example (a small transformer written and read back):
    >>> import tempfile
    >>> from l1scout.tasks.taus.transformer import SoftTauTransformer, TransformerModelConfig
    >>> arch = TransformerModelConfig(n_constituents=4, embed_dims=(8,), n_heads=2, ff_dim=8)
    >>> path = Path(tempfile.mkdtemp()) / "transformer_clue.pt"
    >>> _ = save_tau_model(SoftTauTransformer(arch), path, name="transformer_clue")
    >>> type(load_tau_model(path, arch)).__name__
    'SoftTauTransformer'
    >>> load_tau_model(path, arch.model_copy(update={"ff_dim": 16}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    l1scout.errors.DataFormatError: .../transformer_clue.pt: parameter encoder.0.linear1.weight has shape (8, 8) in the file; the configured architecture expects (16, 8) (set by transformer.model.ff_dim = 16; the file was built with 8)
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

import torch
from pydantic import ValidationError
from torch import nn

from l1scout._files import atomic_write
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.taus.config import TauConfig
from l1scout.tasks.taus.nnpuppitau import (
    HIDDEN,
    NNPUPPITAU_SPEC,
    NNPuppiTau,
    NNPuppiTauTraining,
    TrainingResult,
)
from l1scout.tasks.taus.results import TauModels
from l1scout.tasks.taus.transformer import SoftTauTransformer, TransformerModelConfig
from l1scout.tasks.taus.transformer_training import TransformerTrainResult

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "MODEL_NAMES",
    "load_tau_model",
    "load_tau_models",
    "save_tau_model",
    "save_tau_models",
]

#: The format tag of a saved model.
MODEL_FORMAT = "l1scout-tau-model"
#: The format version this module writes and reads.
MODEL_FORMAT_VERSION = 1
#: Candidate method -> the name of its model (and of its file, ``<name>.pt``).
MODEL_NAMES: dict[str, str] = {
    "nnpuppitau": "nnpuppitau",
    "clue": "transformer_clue",
    "ak4": "transformer_ak4",
}
#: Architecture settings that leave every parameter's shape alone, compared by value.
_SHAPELESS = ("n_heads", "n_constituents")

TauNetwork = NNPuppiTau | SoftTauTransformer
Architecture = TransformerModelConfig | NNPuppiTauTraining


# ---------------------------------------------------------------- writing


def _architecture(model: nn.Module) -> tuple[str, dict[str, Any]]:
    if isinstance(model, NNPuppiTau):
        return "nnpuppitau", {"quantized": model.spec is not None}
    if isinstance(model, SoftTauTransformer):
        return "transformer", model.config.model_dump(mode="json")
    msg = f"model: expected an NNPuppiTau or a SoftTauTransformer, got {type(model).__name__}"
    raise ConfigError(msg)


def save_tau_model(
    model: nn.Module,
    path: Path | str,
    *,
    name: str,
    training: Mapping[str, int | float | bool] | None = None,
) -> Path:
    """Write *model* to *path* as a model file (module docstring), atomically.

    Args:
        model: an :class:`~l1scout.tasks.taus.nnpuppitau.NNPuppiTau` or a
            :class:`~l1scout.tasks.taus.transformer.SoftTauTransformer`.
        path: the file (its folder is created); a failed write leaves the
            previous file, or none, and no partial one.
        name: the model's name (:data:`MODEL_NAMES`), recorded for information.
        training: plain numbers about its training, e.g. ``{"best_epoch": 3}``.

    Returns:
        *path*.

    Raises:
        ConfigError: a model of another class.
    """
    kind, arch = _architecture(model)
    payload = {
        "format": MODEL_FORMAT,
        "version": MODEL_FORMAT_VERSION,
        "name": name,
        "kind": kind,
        "architecture": arch,
        "training": dict(training or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)

    def write(fh: BinaryIO) -> None:
        fh.write(buffer.getvalue())

    return atomic_write(Path(path), write)


def save_tau_models(models: TauModels, folder: Path | str) -> dict[str, Path]:
    """Write every model of *models* to ``folder/<name>.pt``; name -> path.

    The transformers record their best epoch, NNPuppiTau its epochs.
    """
    folder = Path(folder)
    out: dict[str, Path] = {}
    if models.nnpuppitau is not None:
        name = MODEL_NAMES["nnpuppitau"]
        epochs = max(len(models.nnpuppitau.loss) - 1, 0)  # index 0: before training
        out[name] = save_tau_model(
            models.nnpuppitau.model, folder / f"{name}.pt", name=name, training={"epochs": epochs}
        )
    for method, trained in models.transformers.items():
        name = MODEL_NAMES[method]
        info = {"best_epoch": trained.best_epoch, "epochs": len(trained.history)}
        out[name] = save_tau_model(trained.model, folder / f"{name}.pt", name=name, training=info)
    return out


# ---------------------------------------------------------------- reading


def _first_line(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0].strip()
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


def _read(path: Path) -> dict[str, Any]:
    """The payload of *path*, its format and version checked."""
    if not path.is_file():
        raise DataFormatError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded: object = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad or foreign file
        msg = (
            f"{path}: not a readable torch file (truncated, corrupt, or holding objects other "
            f"than tensors and plain values): {_first_line(exc)}"
        )
        raise DataFormatError(msg) from None
    payload: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    tag = payload.get("format")
    if tag != MODEL_FORMAT:
        msg = (
            f"{path}: not an l1scout tau model file (expected format {MODEL_FORMAT!r}, "
            f"got {tag!r}); write one with save_tau_model or a training run (OUT/models/)"
        )
        raise DataFormatError(msg)
    version = payload.get("version")
    if version != MODEL_FORMAT_VERSION:
        msg = (
            f"{path}: format version {version!r}; this l1scout reads version {MODEL_FORMAT_VERSION}"
        )
        raise DataFormatError(msg)
    for key in ("architecture", "state_dict", "training"):
        if not isinstance(payload.get(key), dict):
            msg = f"{path}: expected a {key} dictionary, got {type(payload.get(key)).__name__}"
            raise DataFormatError(msg)
    return payload


def _shape(t: tuple[int, ...]) -> str:
    return f"({', '.join(str(d) for d in t)}{',' if len(t) == 1 else ''})"


def _value(v: object) -> str:
    return str(list(v)) if isinstance(v, tuple | list) else str(v)


def _transformer_field(param: str, axis: int) -> str:
    """The ``transformer.model`` setting that sets axis *axis* of the parameter *param*."""
    if param.startswith("embed."):
        return "embed_dims"
    if re.fullmatch(r"encoder\.\d+\.linear1\.(weight|bias)", param) and axis == 0:
        return "ff_dim"
    if re.fullmatch(r"encoder\.\d+\.linear2\.weight", param) and axis == 1:
        return "ff_dim"
    if re.fullmatch(r"heads\.\w+\.0\.(weight|bias)", param) and axis == 0:
        return "head_hidden"
    if re.fullmatch(r"heads\.\w+\.2\.weight", param) and axis == 1:
        return "head_hidden"
    return "embed_dims"  # the encoder's width, embed_dims[-1]


def _shape_problem(
    path: Path,
    param: str,
    got: tuple[int, ...],
    want: tuple[int, ...],
    config: Architecture,
    stored: Mapping[str, Any],
) -> str:
    where = f"{path}: parameter {param} has shape {_shape(got)} in the file; the configured "
    where += f"architecture expects {_shape(want)}"
    if isinstance(config, NNPuppiTauTraining):
        sizes = "-".join(str(s) for s in (80, *HIDDEN, 2))
        return f"{where} (NNPuppiTau's fixed network {sizes}: the file is not an NNPuppiTau)"
    axis = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)) if len(got) != len(want) else 0,
    )
    setting = _transformer_field(param, axis)
    was = f"; the file was built with {_value(stored[setting])}" if setting in stored else ""
    configured = _value(getattr(config, setting))
    return f"{where} (set by transformer.model.{setting} = {configured}{was})"


def _build(path: Path, config: Architecture, stored: Mapping[str, Any]) -> TauNetwork:
    """The configured network, after the stored architecture's shapeless settings are compared."""
    if isinstance(config, NNPuppiTauTraining):
        q = stored.get("quantized")
        if not isinstance(q, bool):
            msg = f"{path}: architecture.quantized: expected true or false, got {q!r}"
            raise DataFormatError(msg)
        if q != config.quantized:
            have, want = ("quantized", "float") if q else ("float", "quantized")
            msg = (
                f"{path}: holds a {have} NNPuppiTau; the configuration builds a {want} one "
                f"(nnpuppitau.quantized = {str(config.quantized).lower()})"
            )
            raise DataFormatError(msg)
        return NNPuppiTau(NNPUPPITAU_SPEC if config.quantized else None)
    try:
        TransformerModelConfig.model_validate(stored)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "architecture"
        msg = f"{path}: architecture.{where}: {first['msg']} (not a transformer.model table)"
        raise DataFormatError(msg) from None
    return SoftTauTransformer(config)


def _check_state(
    path: Path,
    model: nn.Module,
    state: Mapping[str, Any],
    config: Architecture,
    stored: Mapping[str, Any],
) -> None:
    want = model.state_dict()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            msg = f"{path}: parameter {key}: expected a tensor, got {type(value).__name__}"
            raise DataFormatError(msg)
    for key, ref in want.items():
        got = state.get(key)
        if got is not None and tuple(got.shape) != tuple(ref.shape):
            msg = _shape_problem(path, key, tuple(got.shape), tuple(ref.shape), config, stored)
            raise DataFormatError(msg)
    if isinstance(config, TransformerModelConfig):
        for setting in (*_SHAPELESS, "n_layers", "head_hidden", "ff_dim", "embed_dims"):
            have, mine = stored.get(setting), getattr(config, setting)
            if have is not None and _value(have) != _value(mine):
                msg = (
                    f"{path}: built with transformer.model.{setting} = {_value(have)}; the "
                    f"configuration has {_value(mine)}"
                )
                raise DataFormatError(msg)
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
        msg = (
            f"{path}: parameters do not match the configured architecture: "
            f"{'; '.join(parts)} ({len(missing)} missing, {len(extra)} unexpected)"
        )
        raise DataFormatError(msg)
    for key, value in state.items():
        if not torch.is_floating_point(value):
            msg = f"{path}: parameter {key}: expected floating-point values, got {value.dtype}"
            raise DataFormatError(msg)
        bad = int((~torch.isfinite(value)).sum())
        if bad:
            msg = f"{path}: parameter {key} holds {bad} NaN or infinite value(s) of {value.numel()}"
            raise DataFormatError(msg)


def _load(path: Path, config: Architecture) -> tuple[TauNetwork, dict[str, Any]]:
    payload = _read(path)
    kind = "nnpuppitau" if isinstance(config, NNPuppiTauTraining) else "transformer"
    if payload.get("kind") != kind:
        msg = (
            f"{path}: holds a model of kind {payload.get('kind')!r} "
            f"(name {payload.get('name')!r}); expected kind {kind!r}"
        )
        raise DataFormatError(msg)
    stored: dict[str, Any] = payload["architecture"]
    state: dict[str, Any] = payload["state_dict"]
    with torch.random.fork_rng(devices=[]):  # the initial weights are replaced: keep torch's
        model = _build(path, config, stored)  # global random stream as the caller left it
    _check_state(path, model, state, config, stored)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, payload


def load_tau_model(path: Path | str, config: Architecture) -> TauNetwork:
    """The network saved in *path*, built from the configured architecture *config*.

    Args:
        path: a model file (module docstring).
        config: the architecture to build: ``transformer.model``
            (:class:`~l1scout.tasks.taus.transformer.TransformerModelConfig`)
            for a transformer, ``nnpuppitau``
            (:class:`~l1scout.tasks.taus.nnpuppitau.NNPuppiTauTraining`, its
            ``quantized``) for NNPuppiTau.

    Returns:
        The network with the file's parameters, in eval mode.

    Raises:
        DataFormatError: one line naming *path* (module docstring): no such
            file, not a torch file, another format, version or kind, a
            parameter of the wrong shape (the parameter, both shapes and the
            configuration field), another architecture, missing or unexpected
            parameters, non-finite values.
    """
    model, _ = _load(Path(path), config)
    return model


def load_tau_models(cfg: TauConfig, folder: Path | str | None = None) -> TauModels:
    """Every configured method's model from *folder* (default ``cfg.models.load``), checked.

    The folder holds ``<name>.pt`` per configured method (:data:`MODEL_NAMES`),
    each built from the configuration's ``transformer.model`` or
    ``nnpuppitau.quantized`` and checked (:func:`load_tau_model`). The result
    has no training history and no training time (``seconds`` is empty); a
    transformer's ``best_epoch`` is the one its file records (0 if none).

    Raises:
        ConfigError: no folder given, or it is not a folder.
        DataFormatError: a configured method without its file, or a bad file
            (:func:`load_tau_model`).
    """
    where = Path(folder) if folder is not None else cfg.models.load
    if where is None:
        raise ConfigError("models.load: no folder of saved models configured")
    if not where.is_dir():
        raise ConfigError(f"models.load: {where} is not a folder of saved models")
    names = [MODEL_NAMES[m] for m in cfg.candidates.methods]
    nnp = None
    transformers: dict[str, TransformerTrainResult] = {}
    for method in cfg.candidates.methods:
        name = MODEL_NAMES[method]
        path = where / f"{name}.pt"
        if not path.is_file():
            msg = (
                f"{path}: no such model file; models.load needs one per configured method "
                f"(candidates.methods {list(cfg.candidates.methods)}: "
                f"{', '.join(n + '.pt' for n in names)})"
            )
            raise DataFormatError(msg)
        if method == "nnpuppitau":
            model, _ = _load(path, cfg.nnpuppitau)
            nnp = TrainingResult(cast("NNPuppiTau", model))
        else:
            model, payload = _load(path, cfg.transformer.model)
            best = payload["training"].get("best_epoch", 0)
            best = best if isinstance(best, int) and not isinstance(best, bool) else 0
            trained = cast("SoftTauTransformer", model)
            transformers[method] = TransformerTrainResult(trained, best_epoch=best)
    return TauModels(nnp, transformers, {})
