"""Training of the event classifiers: one multi-class cross-entropy trainer for every model kind.

Each model of :func:`~l1scout.tasks.classify.models.build_classifier` takes
``(x, mask)`` and gives ``(n, n_classes)`` logits; :func:`model_inputs` picks
the inputs of its kind from one view's :class:`~l1scout.tasks.classify.data.ViewInputs`
(the transformer: the object tokens and their mask; the MLP: the flat vector
and a mask of ones ``(n, 1)``; the particle model: the 128 candidates and
their mask). :func:`train_classifier` then:

* builds the model from ``torch.manual_seed(seed)`` in a forked generator (the
  caller's is untouched) and sets its input standardisation from the training
  events (:func:`~l1scout.tasks.classify.models.fit_standardization`);
* minimises the mean cross-entropy of the labels with Adam on shuffled
  mini-batches of ``batch_size`` events (the shuffling from a generator
  seeded with ``seed + 1``);
* after every epoch, computes the validation loss (whole set, eval mode) and
  stops after ``patience`` epochs without an improvement above ``min_delta``
  (:class:`~l1scout.tasks._early_stopping.EarlyStopping`); the best epoch's
  weights are restored.

The same data, configuration and thread count give the same weights (CPU).

Example:
    >>> import numpy as np
    >>> x = ModelInputs(np.zeros((3, 5), np.float32), np.ones((3, 1), bool))
    >>> x.n_events, x.subset(np.array([0, 2])).x.shape
    (3, (2, 5))
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from l1scout._types import F32, I64, B
from l1scout.errors import DataFormatError
from l1scout.tasks._early_stopping import EarlyStopping
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.classify.config import TrainingConfig
from l1scout.tasks.classify.data import ViewInputs
from l1scout.tasks.classify.models import (
    ClassifierModelConfig,
    build_classifier,
    fit_standardization,
)

__all__ = [
    "ClassifierTrainResult",
    "ModelInputs",
    "model_inputs",
    "predict_probabilities",
    "train_classifier",
]

_log = logging.getLogger(__name__)

#: ``on_epoch(epoch, metrics)`` after every epoch.
OnEpoch = Callable[[int, Mapping[str, float]], None]
#: Events per forward pass of the evaluation and the predictions.
_EVAL_BATCH = 2048


@dataclass(frozen=True)
class ModelInputs:
    """What one model reads of ``n`` events.

    Attributes:
        x: float32, ``(n, T, F)`` tokens or particles, or ``(n, D)`` the MLP's flat vector.
        mask: bool, ``(n, T)`` True for a real token, or ``(n, 1)`` (ones) for the MLP.
    """

    x: F32
    mask: B

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.x.shape[0])

    def subset(self, idx: I64) -> ModelInputs:
        """The events ``idx``."""
        return ModelInputs(self.x[idx], self.mask[idx])


def model_inputs(kind: str, inputs: ViewInputs) -> ModelInputs:
    """The inputs a model of *kind* reads from one view (module docstring).

    Raises:
        DataFormatError: an unknown kind.
    """
    if kind == "transformer":
        return ModelInputs(inputs.objects.tokens, inputs.objects.mask)
    if kind == "mlp":
        flat = inputs.objects.flat
        return ModelInputs(flat, np.ones((flat.shape[0], 1), dtype=bool))
    if kind == "particles":
        return ModelInputs(inputs.particles.features, inputs.particles.mask)
    raise DataFormatError(f"model kind {kind!r}: expected transformer, mlp or particles")


@dataclass
class ClassifierTrainResult:
    """A trained classifier and its history.

    Attributes:
        model: the network at its best epoch, in eval mode.
        history: per epoch ``epoch``, ``loss``, ``val_loss``, ``val_accuracy``, ``seconds``.
        best_epoch: the epoch whose weights were kept (0-based).
        stopped_early: whether early stopping ended the training.
        seconds: wall time of the training (s).
    """

    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    def curves(self) -> dict[str, list[float]]:
        """The per-epoch ``loss`` and ``val_loss``."""
        return {k: [h[k] for h in self.history] for k in ("loss", "val_loss")}


def _check(inputs: ModelInputs, labels: I64, n_classes: int, what: str) -> None:
    n = inputs.n_events
    if inputs.mask.shape[0] != n or labels.shape != (n,):
        raise DataFormatError(
            f"{what}: expected {n} masks and labels, got {inputs.mask.shape} and {labels.shape}"
        )
    if n == 0:
        raise DataFormatError(f"{what}: no events")
    if not np.all(np.isfinite(inputs.x)):
        raise DataFormatError(f"{what}.x: expected finite values")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataFormatError(f"{what}: expected labels in 0 ... {n_classes - 1}")


def _logits(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The logits of every event, in batches (no gradients)."""
    out = [
        model(x[i : i + _EVAL_BATCH], mask[i : i + _EVAL_BATCH])
        for i in range(0, x.shape[0], _EVAL_BATCH)
    ]
    return torch.cat(out)


def predict_probabilities(model: nn.Module, inputs: ModelInputs) -> F32:
    """Softmax class probabilities ``(n, n_classes)`` of *model* on *inputs* (eval mode)."""
    model.eval()
    with torch.no_grad():
        logits = _logits(model, torch.from_numpy(inputs.x), torch.from_numpy(inputs.mask))
        return torch.softmax(logits, dim=1).numpy().astype(np.float32)


def train_classifier(
    model_cfg: ClassifierModelConfig,
    train: tuple[ModelInputs, I64],
    validation: tuple[ModelInputs, I64],
    n_classes: int,
    cfg: TrainingConfig,
    *,
    on_epoch: OnEpoch | None = None,
) -> ClassifierTrainResult:
    """Train one classifier on (inputs, labels) with early stopping on *validation* (module docstring).

    Args:
        model_cfg: the model (its ``kind`` must match the inputs, :func:`model_inputs`).
        train: the training inputs and labels (int64, 0 ... n_classes - 1).
        validation: the validation inputs and labels.
        n_classes: number of classes (the logits).
        cfg: optimiser, batches, epochs, patience, seed, threads.
        on_epoch: called after every epoch with the epoch and its metrics.

    Raises:
        DataFormatError: inputs and labels that disagree, non-finite inputs or
            labels out of range.
        L1ScoutError: no finite validation loss (diverged).
    """
    _check(*train, n_classes, "train")
    _check(*validation, n_classes, "validation")
    x_tr, y_tr = train
    x_va, y_va = validation
    shape = x_tr.x.shape
    n_features = int(shape[-1])
    n_tokens = int(shape[1]) if len(shape) == 3 else 1
    with torch_threads(cfg.threads):
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = build_classifier(model_cfg, n_features, n_tokens, n_classes)
        fit_standardization(model, x_tr.x, x_tr.mask)
        result = _fit(model, (x_tr, y_tr), (x_va, y_va), cfg, on_epoch)
        result.seconds = time.perf_counter() - start
    return result


def _fit(
    model: nn.Module,
    train: tuple[ModelInputs, I64],
    validation: tuple[ModelInputs, I64],
    cfg: TrainingConfig,
    on_epoch: OnEpoch | None,
) -> ClassifierTrainResult:
    """The loop of :func:`train_classifier`."""
    x, m, y = (torch.from_numpy(a) for a in (train[0].x, train[0].mask, train[1]))
    vx, vm, vy = (torch.from_numpy(a) for a in (validation[0].x, validation[0].mask, validation[1]))
    shuffle = torch.Generator().manual_seed(cfg.seed + 1)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    stopping = EarlyStopping(
        patience=cfg.patience, min_delta=cfg.min_delta, max_epochs=cfg.max_epochs
    )
    result = ClassifierTrainResult(model)
    n = x.shape[0]
    for epoch in range(cfg.max_epochs):
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        for idx in torch.split(torch.randperm(n, generator=shuffle), cfg.batch_size):
            loss = loss_fn(model(x[idx], m[idx]), y[idx])
            optimizer.zero_grad()
            torch.autograd.backward(loss)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            logits = _logits(model, vx, vm)
            val_loss = float(loss_fn(logits, vy))
            val_acc = float((logits.argmax(dim=1) == vy).float().mean())
        metrics = {
            "epoch": float(epoch),
            "loss": total / n,
            "val_loss": val_loss if math.isfinite(val_loss) else math.inf,
            "val_accuracy": val_acc,
            "seconds": time.perf_counter() - t0,
        }
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        _log.debug("epoch %d: loss %.4f, val_loss %.4f", epoch, metrics["loss"], val_loss)
        if stopping.step(epoch, val_loss, model):
            break
    stopping.restore(model, "training.learning_rate", cfg.learning_rate)
    result.best_epoch, result.stopped_early = stopping.best_epoch, stopping.stopped_early
    return result
