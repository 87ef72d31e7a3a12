"""Training of the soft-tau transformer (:mod:`l1scout.tasks.taus.transformer`).

Adam (``learning_rate`` 1e-4) on mini-batches of ``batch_size`` (20, the
seed's); the loss is the sum of the heads' losses weighted by
:class:`~l1scout.tasks.taus.transformer.LossWeights`:

* ``tau``: binary cross-entropy of the tau logit (all candidates);
* ``charge``: binary cross-entropy of the charge logit against charge = +1
  (true taus only);
* ``pt``: mean |exp(log_pt) - visible pT| / 20 GeV (MAE in GeV; true taus only);
* ``vz``: mean |vz_100mm - tau vertex z / 100 mm| (MAE; true taus only);
* ``pu``: binary cross-entropy of the pileup logits against ``IsPU`` over the
  real constituents (only when the inputs carry ``IsPU``).

After each epoch the validation loss (same weights) drives
``ReduceLROnPlateau`` and early stopping (``patience`` epochs without an
improvement above ``min_delta``); the best epoch's weights are restored. The
initial weights come from ``torch.manual_seed(seed)`` (in a forked generator;
the caller's is untouched) and the shuffling and the validation split from
generators seeded from ``seed``: the same data, configuration and thread count
give the same weights (CPU). The history's training losses are the batch
means weighted by the batch sizes; the validation ones are over the whole set.

The seed study trains with cross-entropy and MAE losses, Adam, early stopping
and reduce-on-plateau (Camagni et al., AI-INFN hackathon, Pavia, 2025); the
per-constituent pileup head is its "detect pileup particles" task.

Example:
    >>> import torch
    >>> from l1scout.tasks.taus.transformer import LossWeights
    >>> out = (torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2, 3))
    >>> fakes = torch.zeros(2)
    >>> mask = torch.ones(2, 3, dtype=torch.bool)
    >>> losses = transformer_losses(out, fakes, fakes, fakes, fakes, mask, None, LossWeights())
    >>> round(float(losses["tau"]), 4), float(losses["pt"]), round(float(losses["loss"]), 4)
    (0.6931, 0.0, 0.6931)
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
from torch import nn

from l1scout.errors import DataFormatError
from l1scout.tasks._early_stopping import EarlyStopping
from l1scout.tasks.taus.transformer import (
    FEATURE_NAMES,
    OUTPUT_NAMES,
    PT_SCALE_GEV,
    VZ_SCALE_MM,
    LossWeights,
    SoftTauTransformer,
    TransformerConfig,
    TransformerInputs,
    TransformerModelConfig,
    TransformerTrainConfig,
)

__all__ = ["TauTargets", "TransformerTrainResult", "train_transformer", "transformer_losses"]

_log = logging.getLogger(__name__)

OnEpoch = Callable[[int, Mapping[str, float]], None]
#: Largest ln(pT / GeV) the pT loss exponentiates (e^10 GeV = 22 TeV): keeps early steps finite.
_MAX_LOG_PT = 10.0
_N_FEATURES = len(FEATURE_NAMES)
#: The heads, in the order of the model's outputs.
_HEADS = tuple(LossWeights.model_fields)


@dataclass(frozen=True)
class TauTargets:
    """Truth of ``n`` candidates.

    Attributes:
        is_tau: bool ``(n,)``, matched to a generator hadronic tau.
        charge: int ``(n,)``, the tau's charge (+1 or -1; ignored for fakes).
        pt: ``(n,)`` visible tau pT (GeV; ignored for fakes, may be NaN there).
        vz: ``(n,)`` tau production vertex z (mm; ignored for fakes, may be NaN there).
    """

    is_tau: npt.NDArray[np.bool_]
    charge: npt.NDArray[np.integer[Any]]
    pt: npt.NDArray[np.floating[Any]]
    vz: npt.NDArray[np.floating[Any]]

    def __len__(self) -> int:
        return int(np.asarray(self.is_tau).shape[0])

    def subset(self, idx: npt.NDArray[np.int64]) -> TauTargets:
        """The candidates ``idx``."""
        return TauTargets(self.is_tau[idx], self.charge[idx], self.pt[idx], self.vz[idx])


def _check(inputs: TransformerInputs, targets: TauTargets, k: int, what: str) -> None:
    """DataFormatError if *inputs* / *targets* do not fit a model of *k* slots."""
    f, m = inputs.features, inputs.mask
    if f.ndim != 3 or f.shape[1:] != (k, _N_FEATURES) or m.shape != f.shape[:2]:
        raise DataFormatError(
            f"{what}.features: expected shape (n, {k}, {_N_FEATURES}) and a mask (n, {k}), "
            f"got {f.shape} and {m.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise DataFormatError(f"{what}.features: expected finite values")
    n = f.shape[0]
    tau = np.asarray(targets.is_tau)
    for name in ("is_tau", "charge", "pt", "vz"):
        shape = np.asarray(getattr(targets, name)).shape
        if shape != (n,):
            raise DataFormatError(f"{what} targets.{name}: expected shape ({n},), got {shape}")
    if np.any(np.abs(np.asarray(targets.charge)[tau]) != 1):
        raise DataFormatError(f"{what} targets.charge: expected +1 or -1 for every true tau")
    for name in ("pt", "vz"):
        if not np.all(np.isfinite(np.asarray(getattr(targets, name), dtype=np.float64)[tau])):
            raise DataFormatError(f"{what} targets.{name}: expected finite values for true taus")


def transformer_losses(
    outputs: tuple[torch.Tensor, ...],
    is_tau: torch.Tensor,
    charge: torch.Tensor,
    pt: torch.Tensor,
    vz: torch.Tensor,
    mask: torch.Tensor,
    is_pu: torch.Tensor | None,
    weights: LossWeights,
) -> dict[str, torch.Tensor]:
    """The heads' losses and their weighted sum ``loss`` on one batch (module docstring).

    ``is_tau`` float (0/1), ``charge`` float (+1/-1), ``pt`` GeV and ``vz`` mm
    (any value for fakes), ``mask`` bool ``(n, k)``; the tau-only losses are 0
    for a batch without taus, ``pu`` is 0 without ``is_pu``.
    """
    tau_logit, charge_logit, log_pt, vz_scaled, pu_logit = outputs
    bce = nn.functional.binary_cross_entropy_with_logits
    zero = tau_logit.new_zeros(())
    taus = is_tau > 0.5
    out = {"tau": bce(tau_logit, is_tau)}
    if bool(taus.any()):
        out["charge"] = bce(charge_logit[taus], (charge[taus] > 0).to(charge_logit.dtype))
        pt_gev = log_pt[taus].clamp(max=_MAX_LOG_PT).exp()
        out["pt"] = (pt_gev - pt[taus]).abs().mean() / PT_SCALE_GEV
        out["vz"] = (vz_scaled[taus] - vz[taus] / VZ_SCALE_MM).abs().mean()
    else:
        out["charge"] = out["pt"] = out["vz"] = zero
    out["pu"] = zero if is_pu is None else bce(pu_logit[mask], is_pu[mask])
    out["loss"] = sum((getattr(weights, n) * out[n] for n in _HEADS), zero)
    return out


@dataclass
class TransformerTrainResult:
    """A trained model and its history.

    Attributes:
        model: the network at its best epoch, in eval mode.
        history: per epoch ``epoch``, ``lr``, ``seconds``, ``loss`` and
            ``val_loss`` and each head's ``<head>`` and ``val_<head>``.
        best_epoch: the epoch whose weights were kept (0-based).
        stopped_early: whether early stopping ended the training.
    """

    model: SoftTauTransformer
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


class _Tensors:
    """The torch tensors of one data set."""

    def __init__(self, inputs: TransformerInputs, targets: TauTargets) -> None:
        tau = np.asarray(targets.is_tau, dtype=bool)
        self.x = torch.from_numpy(inputs.packed())
        self.mask = torch.from_numpy(np.ascontiguousarray(inputs.mask))
        self.is_pu = None if inputs.is_pu is None else torch.from_numpy(inputs.is_pu)
        self.is_tau = torch.from_numpy(tau.astype(np.float32))
        self.charge = torch.from_numpy(np.where(tau, targets.charge, 1).astype(np.float32))
        self.pt = torch.from_numpy(np.where(tau, targets.pt, 0.0).astype(np.float32))
        self.vz = torch.from_numpy(np.where(tau, targets.vz, 0.0).astype(np.float32))

    def losses(
        self, model: nn.Module, idx: torch.Tensor, weights: LossWeights
    ) -> dict[str, torch.Tensor]:
        pu = None if self.is_pu is None else self.is_pu[idx]
        return transformer_losses(
            model(self.x[idx]),
            self.is_tau[idx],
            self.charge[idx],
            self.pt[idx],
            self.vz[idx],
            self.mask[idx],
            pu,
            weights,
        )


def _evaluate(model: nn.Module, data: _Tensors, cfg: TransformerTrainConfig) -> dict[str, float]:
    """Every loss over the whole of *data* (eval mode, no gradients)."""
    model.eval()
    n = data.x.shape[0]
    with torch.no_grad():
        # all outputs first: the tau-only and pileup means have their own denominators
        out = [model(data.x[i : i + 4096]) for i in range(0, n, 4096)]
        joined = tuple(torch.cat([o[j] for o in out]) for j in range(len(OUTPUT_NAMES)))
        losses = transformer_losses(
            joined,
            data.is_tau,
            data.charge,
            data.pt,
            data.vz,
            data.mask,
            data.is_pu,
            cfg.loss_weights,
        )
    return {name: float(v) for name, v in losses.items()}


def train_transformer(
    inputs: TransformerInputs,
    targets: TauTargets,
    config: TransformerConfig,
    *,
    validation: tuple[TransformerInputs, TauTargets] | None = None,
    on_epoch: OnEpoch | None = None,
) -> TransformerTrainResult:
    """Train a :class:`SoftTauTransformer` (module docstring).

    Args:
        inputs: the training candidates' inputs.
        targets: their truth.
        config: model and training configuration.
        validation: the validation candidates; None: a ``validation_fraction``
            of *inputs* held out (a seeded random split).
        on_epoch: called after every epoch with the epoch and its metrics.

    Raises:
        DataFormatError: inputs or targets of the wrong shape or with NaN.
        L1ScoutError: no finite validation loss (diverged).
    """
    mcfg, cfg = config.model, config.train
    k = mcfg.n_constituents
    _check(inputs, targets, k, "inputs")
    if validation is None:
        n = len(inputs)
        perm = np.random.default_rng(cfg.seed).permutation(n)
        n_val = max(1, round(n * cfg.validation_fraction))
        if n - n_val < 1:
            raise DataFormatError(f"inputs: {n} candidates cannot be split for validation")
        val_idx, tr_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        validation = (inputs.subset(val_idx), targets.subset(val_idx))
        inputs, targets = inputs.subset(tr_idx), targets.subset(tr_idx)
    else:
        _check(*validation, k, "validation")
    if (inputs.is_pu is None) != (validation[0].is_pu is None):
        raise DataFormatError("validation.is_pu: present in one set and not the other")
    train_set, val_set = _Tensors(inputs, targets), _Tensors(*validation)
    threads_before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _fit(train_set, val_set, mcfg, cfg, on_epoch)
    finally:
        torch.set_num_threads(threads_before)


def _fit(
    train_set: _Tensors,
    val_set: _Tensors,
    mcfg: TransformerModelConfig,
    cfg: TransformerTrainConfig,
    on_epoch: OnEpoch | None,
) -> TransformerTrainResult:
    """The training loop of :func:`train_transformer`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = SoftTauTransformer(mcfg)
    shuffle = torch.Generator().manual_seed(cfg.seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience
    )
    result = TransformerTrainResult(model)
    stopping = EarlyStopping(
        patience=cfg.patience, min_delta=cfg.min_delta, max_epochs=cfg.max_epochs
    )
    n_train = train_set.x.shape[0]
    for epoch in range(cfg.max_epochs):
        start = time.perf_counter()
        model.train()
        totals: dict[str, float] = {}
        for idx in torch.split(torch.randperm(n_train, generator=shuffle), cfg.batch_size):
            losses = train_set.losses(model, idx, cfg.loss_weights)
            optimizer.zero_grad()
            torch.autograd.backward(losses["loss"])
            optimizer.step()
            for name, v in losses.items():
                totals[name] = totals.get(name, 0.0) + float(v.detach()) * len(idx)
        val = _evaluate(model, val_set, cfg)
        lr = float(optimizer.param_groups[0]["lr"])
        scheduler.step(val["loss"])
        metrics = {"epoch": float(epoch), "lr": lr}
        metrics |= {name: v / n_train for name, v in totals.items()}
        metrics |= {f"val_{name}": v for name, v in val.items()}
        metrics["seconds"] = time.perf_counter() - start
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        _log.debug("epoch %d: loss %.4f, val_loss %.4f", epoch, metrics["loss"], val["loss"])
        if stopping.step(epoch, val["loss"], model):
            break
    stopping.restore(model, "train.learning_rate", cfg.learning_rate)
    result.best_epoch, result.stopped_early = stopping.best_epoch, stopping.stopped_early
    return result
