"""Training of the jet tagger: weighted cross-entropy on 8 classes plus a Huber pT regression.

The loss of a mini-batch (:func:`jettag_loss`) is

* the cross-entropy of the 8 class logits over the **labelled** jets
  (``label >= 0``), each jet weighted by its class's weight
  (:func:`class_weights`: the inverse of the class's training frequency,
  normalised to a mean of 1 per labelled jet, when ``balance_classes``; else
  1), divided by the sum of the weights;
* plus ``regression_weight`` times the Huber loss (transition
  ``huber_delta``) of the regression output against
  ``log(gen-jet pT / jet pT)`` (:func:`regression_target`) over the jets
  with a generator-jet match (those without one do not count).

Jets with neither a label nor a match are left out. Adam on mini-batches of
``batch_size`` jets; after each epoch the same loss over the whole validation
set drives early stopping (:class:`~l1scout.tasks._early_stopping.EarlyStopping`);
the best epoch's weights are restored. The weights come from
``torch.manual_seed(seed)`` in a forked generator, the shuffling from a
generator seeded from ``seed``: the same data, configuration and thread count
give the same model. The standardisation is fitted on the training jets
(:func:`~l1scout.tasks.jettag.model.fit_standardization`) before the first
step. Quantization-aware when the model is quantized (straight-through
gradients, :mod:`l1scout.deploy.quant`).

Example:
    >>> class_weights(np.array([0, 0, 0, 1, -1]), 3).tolist()
    [0.6666666666666666, 2.0, 0.0]
    >>> t, ok = regression_target(np.array([20.0, np.nan]), np.array([10.0, 5.0]))
    >>> [round(float(v), 4) for v in t], ok.tolist()
    ([0.6931, 0.0], [True, False])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

from l1scout._types import F32, F64, B
from l1scout.errors import DataFormatError
from l1scout.tasks._early_stopping import EarlyStopping
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.jettag.config import JetTagTrainingConfig
from l1scout.tasks.jettag.model import JetTagDeepSets, JetTagModelConfig, fit_standardization

__all__ = [
    "JetTagTrainResult",
    "class_probabilities",
    "class_weights",
    "corrected_pt",
    "jettag_loss",
    "predict_jettag",
    "regression_target",
    "train_jettag",
]

_log = logging.getLogger(__name__)

OnEpoch = Callable[[int, Mapping[str, float]], None]
#: Jets per forward pass when predicting or evaluating.
_EVAL_BATCH = 8192


def class_weights(labels: npt.ArrayLike, n_classes: int) -> F64:
    """Per class, the inverse of its frequency among labelled jets, normalised to a mean of 1 per jet.

    ``w_c = N / (C_present * N_c)`` for a class with ``N_c > 0`` jets out of ``N``
    labelled jets and ``C_present`` present classes (so ``sum_c N_c w_c = N``);
    0 for an absent class. Unlabelled jets (``-1``) are ignored.
    """
    lab = np.asarray(labels, dtype=np.int64)
    lab = lab[lab >= 0]
    counts = np.bincount(lab, minlength=n_classes).astype(np.float64)[:n_classes]
    present = counts > 0
    out = np.zeros(n_classes)
    if np.any(present):
        out[present] = lab.size / (np.count_nonzero(present) * counts[present])
    return out


def regression_target(gen_pt: npt.ArrayLike, jet_pt: npt.ArrayLike) -> tuple[F32, B]:
    """``log(gen-jet pT / jet pT)`` per jet (0 where undefined) and whether it is defined.

    Defined where both pT are finite and positive (a generator-jet match).
    """
    g = np.asarray(gen_pt, dtype=np.float64)
    j = np.asarray(jet_pt, dtype=np.float64)
    ok = np.isfinite(g) & np.isfinite(j) & (g > 0) & (j > 0)
    target = np.zeros(g.shape, dtype=np.float32)
    target[ok] = np.log(g[ok] / j[ok])
    return target, ok


def jettag_loss(
    outputs: torch.Tensor,
    label: torch.Tensor,
    target: torch.Tensor,
    has_target: torch.Tensor,
    weight: torch.Tensor,
    *,
    regression_weight: float,
    huber_delta: float,
) -> dict[str, torch.Tensor]:
    """The losses of a batch (module docstring): ``loss``, ``class`` and ``regression``.

    Args:
        outputs: the model's ``(B, n_classes + 1)`` outputs.
        label: int64 ``(B,)``, -1 for an unlabelled jet.
        target: float32 ``(B,)`` regression targets.
        has_target: bool ``(B,)``, True where the target is defined.
        weight: float32 ``(n_classes,)`` class weights.
        regression_weight: weight of the regression term.
        huber_delta: the Huber loss's transition.

    >>> out = torch.zeros(2, 3)
    >>> losses = jettag_loss(out, torch.tensor([0, -1]), torch.zeros(2), torch.tensor([True, True]),
    ...                      torch.ones(2), regression_weight=1.0, huber_delta=0.1)
    >>> round(float(losses["class"]), 4), float(losses["regression"])
    (0.6931, 0.0)
    """
    n_classes = outputs.shape[1] - 1
    logits, reg = outputs[:, :n_classes], outputs[:, n_classes]
    labelled = label >= 0
    zero = outputs.sum() * 0.0
    if bool(labelled.any()):
        y = label[labelled]
        w = weight[y]
        ce = F.cross_entropy(logits[labelled], y, reduction="none")
        total_w = w.sum()
        cls = (ce * w).sum() / total_w if float(total_w) > 0 else zero
    else:
        cls = zero
    if bool(has_target.any()):
        r = F.huber_loss(reg[has_target], target[has_target], delta=huber_delta)
    else:
        r = zero
    return {"loss": cls + regression_weight * r, "class": cls, "regression": r}


@dataclass
class JetTagTrainResult:
    """A trained tagger and its history.

    Attributes:
        model: the model at its best epoch (eval mode).
        history: per epoch: ``loss``, ``class``, ``regression`` (training,
            weighted by batch size) and ``val_*`` (whole validation set), ``seconds``.
        best_epoch: the epoch whose weights were kept.
        stopped_early: whether early stopping ended the training.
        seconds: wall time of the training (s).
        weights: the class weights used.
        train_jets: training jets used.
    """

    model: JetTagDeepSets
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    weights: F64 = field(default_factory=lambda: np.zeros(0))
    train_jets: int = 0

    def curves(self) -> dict[str, list[float]]:
        """Per-epoch training and validation loss, for the report."""
        return {
            "loss": [h["loss"] for h in self.history],
            "val_loss": [h["val_loss"] for h in self.history],
        }


class _Tensors:
    """The jets of one set as tensors (jets with a label or a regression target)."""

    def __init__(self, inputs: Any) -> None:
        target, ok = regression_target(inputs.gen_pt, inputs.jet_pt)
        label = np.asarray(inputs.label, dtype=np.int64)
        keep = (label >= 0) | ok
        self.x = torch.from_numpy(np.ascontiguousarray(inputs.constituents[keep], dtype=np.float32))
        self.mask = torch.from_numpy(np.ascontiguousarray(inputs.mask[keep], dtype=bool))
        self.label = torch.from_numpy(label[keep])
        self.target = torch.from_numpy(target[keep])
        self.has_target = torch.from_numpy(ok[keep])

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _losses(
    model: JetTagDeepSets,
    data: _Tensors,
    idx: torch.Tensor | slice,
    weight: torch.Tensor,
    cfg: JetTagTrainingConfig,
) -> dict[str, torch.Tensor]:
    return jettag_loss(
        model(data.x[idx], data.mask[idx]),
        data.label[idx],
        data.target[idx],
        data.has_target[idx],
        weight,
        regression_weight=cfg.regression_weight,
        huber_delta=cfg.huber_delta,
    )


def _evaluate(
    model: JetTagDeepSets, data: _Tensors, weight: torch.Tensor, cfg: JetTagTrainingConfig
) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        out = torch.cat(
            [
                model(data.x[i : i + _EVAL_BATCH], data.mask[i : i + _EVAL_BATCH])
                for i in range(0, len(data), _EVAL_BATCH)
            ]
        )
        losses = jettag_loss(
            out,
            data.label,
            data.target,
            data.has_target,
            weight,
            regression_weight=cfg.regression_weight,
            huber_delta=cfg.huber_delta,
        )
    return {k: float(v) for k, v in losses.items()}


def train_jettag(
    train: Any,
    validation: Any,
    model_cfg: JetTagModelConfig,
    cfg: JetTagTrainingConfig,
    *,
    on_epoch: OnEpoch | None = None,
) -> JetTagTrainResult:
    """Train a :class:`~l1scout.tasks.jettag.model.JetTagDeepSets` (module docstring).

    Args:
        train: the training jets (:class:`~l1scout.tasks.jettag.features.JetTagInputs`).
        validation: the validation jets.
        model_cfg: the model's sizes and formats.
        cfg: the training settings.
        on_epoch: called after every epoch with the epoch and its metrics.

    Raises:
        DataFormatError: no training or validation jet with a label or a target.
        L1ScoutError: no finite validation loss (diverged).
    """
    start = time.perf_counter()
    train_set, val_set = _Tensors(train), _Tensors(validation)
    if cfg.max_train_jets is not None and len(train_set) > cfg.max_train_jets:
        rng = np.random.default_rng(cfg.seed)
        idx = torch.from_numpy(
            np.sort(rng.choice(len(train_set), cfg.max_train_jets, replace=False))
        )
        for name in ("x", "mask", "label", "target", "has_target"):
            setattr(train_set, name, getattr(train_set, name)[idx])
    for name, s in (("training", train_set), ("validation", val_set)):
        if len(s) == 0:
            msg = f"jet tagging: no {name} jet with a label or a generator match (more events)"
            raise DataFormatError(msg)
    n_classes = model_cfg.n_classes
    weights = (
        class_weights(train_set.label.numpy(), n_classes)
        if cfg.balance_classes
        else np.ones(n_classes)
    )
    weight = torch.from_numpy(weights.astype(np.float32))
    n_const, n_feat = train_set.x.shape[1], train_set.x.shape[2]
    with torch_threads(cfg.threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = JetTagDeepSets(model_cfg, n_constituents=n_const, n_features=n_feat)
        fit_standardization(model, train_set.x.numpy(), train_set.mask.numpy())
        result = JetTagTrainResult(model, weights=weights, train_jets=len(train_set))
        shuffle = torch.Generator().manual_seed(cfg.seed + 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
        stopping = EarlyStopping(
            patience=cfg.patience, min_delta=cfg.min_delta, max_epochs=cfg.max_epochs
        )
        n = len(train_set)
        for epoch in range(cfg.max_epochs):
            t0 = time.perf_counter()
            model.train()
            totals: dict[str, float] = {}
            for idx in torch.split(torch.randperm(n, generator=shuffle), cfg.batch_size):
                losses = _losses(model, train_set, idx, weight, cfg)
                optimizer.zero_grad()
                torch.autograd.backward(losses["loss"])
                optimizer.step()
                for k, v in losses.items():
                    totals[k] = totals.get(k, 0.0) + float(v.detach()) * len(idx)
            val = _evaluate(model, val_set, weight, cfg)
            metrics = {k: v / n for k, v in totals.items()}
            metrics |= {f"val_{k}": v for k, v in val.items()}
            metrics["seconds"] = time.perf_counter() - t0
            result.history.append(metrics)
            if on_epoch is not None:
                on_epoch(epoch, metrics)
            _log.debug("epoch %d: loss %.4f, val_loss %.4f", epoch, metrics["loss"], val["loss"])
            if stopping.step(epoch, val["loss"], model):
                break
        stopping.restore(model, "training.learning_rate", cfg.learning_rate)
    result.best_epoch, result.stopped_early = stopping.best_epoch, stopping.stopped_early
    result.seconds = time.perf_counter() - start
    return result


def predict_jettag(
    model: JetTagDeepSets, x: npt.ArrayLike, mask: npt.ArrayLike, *, threads: int | None = None
) -> F32:
    """The model's ``(n, n_classes + 1)`` outputs on jets *x* ``(n, N, F)`` with *mask* ``(n, N)``."""
    xa = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    ma = torch.from_numpy(np.ascontiguousarray(mask, dtype=bool))
    model.eval()
    with torch_threads(threads), torch.no_grad():
        parts = [
            model(xa[i : i + _EVAL_BATCH], ma[i : i + _EVAL_BATCH]).numpy()
            for i in range(0, xa.shape[0], _EVAL_BATCH)
        ]
    if not parts:
        return np.zeros((0, model.config.n_outputs), dtype=np.float32)
    out: F32 = np.concatenate(parts).astype(np.float32)
    return out


def class_probabilities(outputs: npt.ArrayLike) -> F64:
    """The softmax of the class logits (every column but the last), float64 ``(n, n_classes)``.

    >>> class_probabilities(np.array([[0.0, 0.0, 5.0]])).tolist()
    [[0.5, 0.5]]
    """
    out = np.asarray(outputs, dtype=np.float64)[:, :-1]
    e = np.exp(out - out.max(axis=1, keepdims=True))
    p: F64 = e / e.sum(axis=1, keepdims=True)
    return p


def corrected_pt(outputs: npt.ArrayLike, jet_pt: npt.ArrayLike) -> F64:
    """The regressed jet pT: ``jet pT * exp(regression output)`` (GeV).

    >>> corrected_pt(np.array([[1.0, 0.0]]), np.array([10.0])).tolist()
    [10.0]
    """
    reg = np.asarray(outputs, dtype=np.float64)[:, -1]
    pt: F64 = np.asarray(jet_pt, dtype=np.float64) * np.exp(reg)
    return pt
