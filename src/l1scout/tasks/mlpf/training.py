"""Training of the MLPF model (:mod:`l1scout.tasks.mlpf.model`) on events of elements.

**Batches.** Events have very different element counts (a QCD event at
pileup 0 a few hundred, a ttbar event at pileup 200 about 15,000), and a batch
is padded to its largest event (:func:`~l1scout.tasks.mlpf.features.pad_events`,
to whole attention windows). :func:`event_batches` groups events of similar
size: the events are shuffled, cut into windows of ``sort_window`` events,
each window sorted by element count, and consecutive events fill a batch
until it holds ``batch_events`` events or one more would make more than
``batch_elements`` padded slots; the batches are then shuffled. Validation
and prediction use the same grouping without the shuffles (sorted by size).

**Optimisation.** Adam at ``learning_rate`` on :func:`~l1scout.tasks.mlpf.loss.mlpf_loss`
(the reference implementation's loss: 10 x particle/none cross-entropy, focal
class loss with gamma 2, sqrt(pT)-weighted regression, pileup cross-entropy;
Pata et al., Commun. Phys. 7 (2024) 124). After each epoch the validation loss
drives ``ReduceLROnPlateau`` and early stopping (``patience`` epochs without an
improvement above ``min_delta``); the best epoch's weights are restored. An
epoch's loss is the mean of the batch losses weighted by each batch's number
of real elements (the same for training and validation).

**Determinism.** The initial weights and dropout draw from ``torch.manual_seed(seed)``
inside a forked generator (the caller's is untouched) and the shuffles from
``numpy.random.default_rng(seed)``: the same data, configuration and thread
count give the same weights (CPU). ``threads`` sets torch's CPU threads for
the training and restores them after.

Example:
    >>> [b.tolist() for b in event_batches([5, 300, 10, 290], batch_events=2,
    ...                                    batch_elements=10_000, multiple=8)]
    [[0, 2], [3, 1]]
"""

from __future__ import annotations

import io
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from pydantic import ValidationError

from l1scout._arrays import flat_array
from l1scout._files import atomic_write_bytes
from l1scout._jagged import offsets_from_counts
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks._early_stopping import EarlyStopping
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.mlpf.config import TrainingConfig
from l1scout.tasks.mlpf.data import MLPFSplit
from l1scout.tasks.mlpf.features import Elements, pad_events
from l1scout.tasks.mlpf.loss import (
    TARGET_NAMES,
    MLPFLossConfig,
    TargetBatch,
    batch_targets,
    mlpf_loss,
)
from l1scout.tasks.mlpf.model import OUTPUT_NAMES, MLPFModel, MLPFModelConfig, decode_outputs
from l1scout.tasks.mlpf.targets import ElementTargets

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "MLPFTrainResult",
    "event_batches",
    "load_mlpf_model",
    "predict_mlpf",
    "raw_outputs",
    "save_mlpf_model",
    "subset_elements",
    "train_mlpf",
]

_log = logging.getLogger(__name__)

#: ``on_epoch(epoch, metrics)`` after every epoch.
OnEpoch = Callable[[int, Mapping[str, float]], None]


@dataclass
class MLPFTrainResult:
    """A trained model and its history.

    Attributes:
        model: the network at its best epoch, in eval mode.
        history: per epoch ``epoch``, ``lr``, ``seconds``, ``loss`` and
            ``val_loss`` and each part of :data:`~l1scout.tasks.mlpf.loss.LOSS_PARTS`
            as ``<part>`` and ``val_<part>``.
        best_epoch: the epoch whose weights were kept (0-based).
        stopped_early: whether early stopping ended the training.
        seconds: wall time of the training (s).
    """

    model: MLPFModel
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    def curves(self) -> dict[str, list[float]]:
        """The history as one list per metric (epoch order), e.g. ``{"loss": [...], "val_loss": [...]}``."""
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        return {k: [row.get(k, math.nan) for row in self.history] for k in keys}


def event_batches(
    counts: npt.ArrayLike,
    *,
    batch_events: int,
    batch_elements: int,
    multiple: int = 1,
    sort_window: int | None = None,
    rng: np.random.Generator | None = None,
) -> list[I64]:
    """Events grouped into batches of similar size (module docstring).

    Args:
        counts: elements per event.
        batch_events: most events per batch.
        batch_elements: most padded slots per batch (events x the largest
            event rounded up to *multiple*); a larger event is a batch alone.
        multiple: the attention window (the padding's multiple).
        sort_window: events sorted by size within windows of this many (None:
            all events at once).
        rng: shuffles the events before the windows and the batches after
            (None: no shuffling, the events in order of size).

    Returns:
        The batches' event indices (each batch sorted by size).
    """
    n = flat_array(counts, "counts", dtype=np.int64)
    for name, v in (("batch_events", batch_events), ("batch_elements", batch_elements)):
        if v < 1:
            raise ConfigError(f"{name}: expected a positive integer, got {v}")
    order = np.arange(len(n)) if rng is None else rng.permutation(len(n))
    window = len(n) if sort_window is None else max(int(sort_window), 1)
    parts = [
        order[i : i + window][np.argsort(n[order[i : i + window]], kind="stable")]
        for i in range(0, len(n), max(window, 1))
    ]
    ordered = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    batches: list[I64] = []
    current: list[int] = []
    largest = 0
    for k in ordered.tolist():
        size = -(-max(int(n[k]), 1) // multiple) * multiple
        big = max(largest, size)
        if current and (len(current) >= batch_events or big * (len(current) + 1) > batch_elements):
            batches.append(np.asarray(current, dtype=np.int64))
            current, big = [], size
        current.append(k)
        largest = big
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def subset_elements(elements: Elements, events: npt.ArrayLike) -> tuple[Elements, I64]:
    """The *events* of *elements*, in the order given, and the flat rows they came from.

    >>> from l1scout.tasks.mlpf.features import N_FEATURES
    >>> el = Elements(np.array([0, 2, 3]), np.array([1, 2, 2], np.int8),
    ...               np.zeros((3, N_FEATURES), np.float32), np.zeros(3, np.float32),
    ...               np.zeros(3, np.float32), np.ones(3), np.ones(3))
    >>> sub, rows = subset_elements(el, [1, 0])
    >>> sub.offsets.tolist(), rows.tolist()
    ([0, 1, 3], [2, 0, 1])
    """
    ev = flat_array(events, "events", dtype=np.int64)
    off = elements.offsets
    counts = off[ev + 1] - off[ev]
    new_off = offsets_from_counts(counts)
    rows = np.repeat(off[ev] - new_off[:-1], counts) + np.arange(int(new_off[-1]))
    sub = Elements(
        offsets=new_off,
        kind=elements.kind[rows],
        features=elements.features[rows],
        sort_eta=elements.sort_eta[rows],
        sort_phi=elements.sort_phi[rows],
        pt=elements.pt[rows],
        energy=elements.energy[rows],
    )
    return sub, rows


def _target_columns(targets: ElementTargets, rows: I64) -> dict[str, npt.NDArray[np.generic]]:
    """The loss's target arrays (:data:`TARGET_NAMES`) of the flat *rows*."""
    return {name: getattr(targets, name)[rows] for name in TARGET_NAMES}


@dataclass(frozen=True)
class _Batch:
    x: torch.Tensor
    targets: TargetBatch
    n_real: int


def _make_batches(
    split: MLPFSplit, groups: Sequence[I64], multiple: int, loss_cfg: MLPFLossConfig
) -> Iterator[_Batch]:
    for ev in groups:
        el, rows = subset_elements(split.elements, ev)
        batch = pad_events(el, multiple=multiple)
        targets = batch_targets(
            batch,
            el,
            _target_columns(split.targets.elements, rows),
            pileup_fraction_min=loss_cfg.pileup_fraction_min,
        )
        yield _Batch(torch.from_numpy(batch.x), targets, int(batch.mask.sum()))


def _check_split(split: MLPFSplit, what: str) -> None:
    if split.n_events == 0:
        raise DataFormatError(f"{what}: expected at least one event, got none")
    if not np.array_equal(split.elements.offsets, split.targets.elements.offsets):
        raise DataFormatError(f"{what}: elements and targets have different elements per event")


def _evaluate(
    model: MLPFModel, batches: Sequence[_Batch], loss_cfg: MLPFLossConfig
) -> dict[str, float]:
    """The losses over *batches* (eval mode, no gradients), weighted by real elements."""
    model.eval()
    totals: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for b in batches:
            losses = mlpf_loss(model(b.x), b.targets, loss_cfg)
            for name, v in losses.items():
                totals[name] = totals.get(name, 0.0) + float(v) * b.n_real
            n += b.n_real
    return {("loss" if k == "total" else k): v / max(n, 1) for k, v in totals.items()}


def train_mlpf(
    train: MLPFSplit,
    validation: MLPFSplit,
    model_cfg: MLPFModelConfig,
    loss_cfg: MLPFLossConfig,
    train_cfg: TrainingConfig,
    *,
    on_epoch: OnEpoch | None = None,
    initial_state: Mapping[str, torch.Tensor] | None = None,
) -> MLPFTrainResult:
    """Train an :class:`~l1scout.tasks.mlpf.model.MLPFModel` (module docstring).

    Args:
        train: the training events (elements and targets).
        validation: the validation events (early stopping, the schedule).
        model_cfg: the model's sizes.
        loss_cfg: the loss weights.
        train_cfg: optimiser, batching, schedule, seed, threads.
        on_epoch: called after every epoch with the epoch and its metrics.
        initial_state: start from these weights (a ``state_dict`` of a model of
            *model_cfg*, e.g. a pre-trained one: fine-tuning,
            :mod:`l1scout.tasks.mlpf.transfer`) instead of the seed's random
            ones; they are copied, the caller's tensors are untouched.

    Raises:
        DataFormatError: a split without events, elements and targets that
            disagree, or an *initial_state* that does not fit *model_cfg*.
        L1ScoutError: no finite validation loss (diverged).
    """
    _check_split(train, "train")
    _check_split(validation, "validation")
    start = time.perf_counter()
    with torch_threads(train_cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_cfg.seed)
        result = _fit(train, validation, model_cfg, loss_cfg, train_cfg, on_epoch, initial_state)
    result.seconds = time.perf_counter() - start
    return result


def _fit(
    train: MLPFSplit,
    validation: MLPFSplit,
    model_cfg: MLPFModelConfig,
    loss_cfg: MLPFLossConfig,
    cfg: TrainingConfig,
    on_epoch: OnEpoch | None,
    initial_state: Mapping[str, torch.Tensor] | None = None,
) -> MLPFTrainResult:
    """The training loop of :func:`train_mlpf` (inside its forked, seeded torch generator)."""
    model = MLPFModel(model_cfg)
    if initial_state is not None:
        try:
            model.load_state_dict(
                dict(initial_state), strict=True
            )  # copies into the model's tensors
        except (RuntimeError, TypeError) as exc:
            line = (str(exc).splitlines() or [""])[0][:160]
            raise DataFormatError(
                f"initial_state: does not fit the model configuration: {line}"
            ) from None
    rng = np.random.default_rng(cfg.seed)
    w = model_cfg.bin_size
    val_groups = event_batches(
        validation.element_counts(),
        batch_events=cfg.batch_events,
        batch_elements=cfg.batch_elements,
        multiple=w,
    )
    val_batches = list(_make_batches(validation, val_groups, w, loss_cfg))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience
    )
    result = MLPFTrainResult(model)
    stopping = EarlyStopping(
        patience=cfg.patience, min_delta=cfg.min_delta, max_epochs=cfg.max_epochs
    )
    counts = train.element_counts()
    for epoch in range(cfg.max_epochs):
        start = time.perf_counter()
        groups = event_batches(
            counts,
            batch_events=cfg.batch_events,
            batch_elements=cfg.batch_elements,
            multiple=w,
            sort_window=cfg.sort_window,
            rng=rng,
        )
        model.train()
        totals: dict[str, float] = {}
        n_real = 0
        for b in _make_batches(train, groups, w, loss_cfg):
            losses = mlpf_loss(model(b.x), b.targets, loss_cfg)
            optimizer.zero_grad()
            torch.autograd.backward(losses["total"])
            optimizer.step()
            for name, v in losses.items():
                totals[name] = totals.get(name, 0.0) + float(v.detach()) * b.n_real
            n_real += b.n_real
        val = _evaluate(model, val_batches, loss_cfg)
        lr = float(optimizer.param_groups[0]["lr"])
        scheduler.step(val["loss"])
        metrics = {"epoch": float(epoch), "lr": lr}
        metrics |= {("loss" if k == "total" else k): v / max(n_real, 1) for k, v in totals.items()}
        metrics |= {f"val_{name}": v for name, v in val.items()}
        metrics["seconds"] = time.perf_counter() - start
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        _log.debug("epoch %d: loss %.4f, val_loss %.4f", epoch, metrics["loss"], val["loss"])
        if stopping.step(epoch, val["loss"], model):
            break
    stopping.restore(model, "training.learning_rate", cfg.learning_rate)
    result.best_epoch, result.stopped_early = stopping.best_epoch, stopping.stopped_early
    return result


def raw_outputs(
    model: MLPFModel,
    elements: Elements,
    *,
    batch_events: int = 4,
    batch_elements: int = 60_000,
) -> list[npt.NDArray[np.float32]]:
    """The model's four outputs per flat element (rows of *elements*, the files' order).

    Events are padded in batches (:func:`event_batches`, no shuffling), run in
    eval mode, and every real slot's outputs written back to its flat row
    through the batch's ``index`` (padding slots are dropped).
    """
    n = len(elements.kind)
    widths = (2, 6, 5, 2)
    out = [np.zeros((n, k), dtype=np.float32) for k in widths]
    w = model.config.bin_size
    groups = event_batches(
        np.diff(elements.offsets),
        batch_events=batch_events,
        batch_elements=batch_elements,
        multiple=w,
    )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for ev in groups:
                sub, rows = subset_elements(elements, ev)
                batch = pad_events(sub, multiple=w)
                got = model(torch.from_numpy(batch.x))
                flat = rows[batch.index[batch.mask]]
                for dst, o in zip(out, got, strict=True):
                    dst[flat] = o.numpy()[batch.mask]
    finally:
        model.train(was_training)
    if len(out) != len(OUTPUT_NAMES):  # pragma: no cover - the model's contract
        raise DataFormatError("model: unexpected number of outputs")
    return out


def predict_mlpf(
    model: MLPFModel,
    elements: Elements,
    *,
    batch_events: int = 4,
    batch_elements: int = 60_000,
) -> dict[str, npt.NDArray[np.generic]]:
    """The decoded predictions per flat element (:func:`~l1scout.tasks.mlpf.model.decode_outputs`).

    Returns ``particle_score``, ``cls``, ``pt`` (GeV), ``eta``, ``phi`` (rad),
    ``energy`` (GeV) and ``pileup_score``, one entry per row of *elements*
    (tracks then towers per event, the order of the targets).
    """
    raw = raw_outputs(model, elements, batch_events=batch_events, batch_elements=batch_elements)
    return decode_outputs(raw, elements.pt, elements.energy)


# -- the model file -----------------------------------------------------------------------

#: Format tag of :func:`save_mlpf_model`'s files.
MODEL_FORMAT = "l1scout-mlpf-model"
#: Version of that format.
MODEL_FORMAT_VERSION = 1


def save_mlpf_model(
    model: MLPFModel,
    path: Path | str,
    *,
    training: Mapping[str, int | float | bool] | None = None,
) -> Path:
    """Write *model* to *path* (``OUT/models/mlpf.pt``), atomically.

    The file is a ``torch.save`` of a plain dictionary (as the soft-tau model
    files, :mod:`l1scout.tasks.taus.model_files`): ``format``
    (:data:`MODEL_FORMAT`), ``version``, ``architecture`` (the
    :class:`~l1scout.tasks.mlpf.model.MLPFModelConfig` as a dictionary),
    ``training`` (plain numbers, e.g. ``best_epoch``) and ``state_dict``, so
    that ``torch.load(path, weights_only=True)`` reads it.
    """
    payload = {
        "format": MODEL_FORMAT,
        "version": MODEL_FORMAT_VERSION,
        "architecture": model.config.model_dump(),
        "training": dict(training or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(Path(path), buffer.getvalue())


def load_mlpf_model(path: Path | str) -> MLPFModel:
    """The model of a :func:`save_mlpf_model` file, built from its stored architecture, in eval mode.

    Raises:
        DataFormatError: no such file, not a readable torch file, another
            format or version, an invalid architecture, or parameters that do
            not fit it (one line naming the file).

    >>> import tempfile
    >>> cfg = MLPFModelConfig(width=8, n_heads=2, n_layers=1, ff_dim=8, head_hidden=8, bin_size=4)
    >>> p = save_mlpf_model(MLPFModel(cfg), Path(tempfile.mkdtemp()) / "mlpf.pt")
    >>> load_mlpf_model(p).config == cfg
    True
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded: object = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad or foreign file
        line = (str(exc).splitlines() or [""])[0][:120]
        msg = f"{path}: not a readable torch file: {type(exc).__name__}: {line}"
        raise DataFormatError(msg) from None
    payload: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    if payload.get("format") != MODEL_FORMAT or payload.get("version") != MODEL_FORMAT_VERSION:
        msg = (
            f"{path}: expected an MLPF model file (format {MODEL_FORMAT!r} version "
            f"{MODEL_FORMAT_VERSION}), got {payload.get('format')!r} {payload.get('version')!r}"
        )
        raise DataFormatError(msg)
    try:
        config = MLPFModelConfig.model_validate(payload.get("architecture"))
    except ValidationError as exc:
        msg = f"{path}: invalid architecture: {str(exc).splitlines()[0]}"
        raise DataFormatError(msg) from None
    with torch.random.fork_rng(devices=[]):  # the initial weights are replaced
        model = MLPFModel(config)
    try:
        model.load_state_dict(payload.get("state_dict") or {}, strict=True)
    except (RuntimeError, TypeError) as exc:
        line = (str(exc).splitlines() or [""])[0][:160]
        msg = f"{path}: parameters do not fit the stored architecture: {line}"
        raise DataFormatError(msg) from None
    return model.eval()
