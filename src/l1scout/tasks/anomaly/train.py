"""Training and scoring of the anomaly-trigger models, from PHYSICAL trigger inputs.

:func:`train` takes the 57 trigger inputs in physical units (GeV, rad) and a
fitted :class:`~l1scout.io.scalers.PowerOfTwoRobustScaler`; the scaler's
constants are applied inside, as the torch op :class:`ScalerLayer`
(``(x - offset) * 2**shift``, identical to ``scaler.transform`` on float32),
so that VICReg can augment each mini-batch in physical units first.

* VAE: Adam on :meth:`~l1scout.tasks.anomaly.models.VAE.losses` over shuffled
  mini-batches; one validation pass per epoch; early stopping.
* VICReg, phase 1: each mini-batch becomes two augmented views
  (:func:`~l1scout.tasks.anomaly.augment.augment`), scaled, and the backbone and
  projector minimise the VICReg loss; early stopping on the loss of a fixed
  pair of augmented validation views. Then the backbone is frozen, the
  embedding's mean and standard deviation are measured on the (unaugmented)
  training events, the distance score's mean and regularised covariance
  (:mod:`l1scout.tasks.anomaly.distance`) are fitted on the standardised
  training embeddings, and phase 2 trains the autoencoder on them, again with
  early stopping (no phase 2 when ``scores`` lacks ``"autoencoder"``).

Determinism: the weights are initialised under ``torch.manual_seed(seed)``
(inside :func:`torch.random.fork_rng`, so the caller's global generator is left
alone); shuffling, the VAE's sampling and the augmentations draw from
:class:`torch.Generator` objects seeded from the same ``seed``. The same
configuration, data and thread count give identical weights.

Early stopping: after each epoch the validation loss is compared with the
best so far; ``patience`` epochs without an improvement larger than
``min_delta`` end the phase, and the weights of the best epoch are restored.
The validation loss is a deterministic function of the weights (the VAE's
validation sampling is re-seeded identically every epoch), so epochs compare
like with like; :func:`evaluate` recomputes it for a trained model.

Per-epoch metrics (the ``history`` entries and the ``on_epoch`` callback;
names stable for MLflow):

* VAE: ``loss``, ``reco``, ``kl``, ``val_loss``, ``val_reco``, ``val_kl``;
* VICReg phase 1: ``backbone.loss``, ``backbone.invariance``,
  ``backbone.variance``, ``backbone.covariance`` and their ``backbone.val_*``;
  phase 2: ``ae.loss``, ``ae.val_loss``; the distance fit is in
  :attr:`TrainResult.phases` (``"distance"``: ``shrinkage``, ``events``);
* always: ``phase`` (1 or 2), ``epoch`` (within the phase), ``seconds`` (wall
  time of the epoch, validation included), ``events_per_second`` (training
  events over the training part of the epoch).

``on_epoch(step, metrics)`` gets a step that keeps counting across the two
VICReg phases (use it as the MLflow step).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from l1scout._types import F64
from l1scout.errors import ConfigError, DataFormatError, L1ScoutError
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS
from l1scout.tasks.anomaly.augment import augment
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig, VICRegConfig
from l1scout.tasks.anomaly.models import VAE, AnomalyModel, VICReg, build_model

__all__ = ["ScalerLayer", "TrainResult", "evaluate", "scores", "train"]

_log = logging.getLogger(__name__)

OnEpoch = Callable[[int, Mapping[str, float]], None]

# offsets of the per-purpose generator seeds from TrainConfig.seed
_SHUFFLE, _SAMPLE, _VALIDATION, _AUGMENT, _VAL_AUGMENT = 0, 1, 2, 3, 4


class ScalerLayer(nn.Module):
    """A fitted :class:`PowerOfTwoRobustScaler` as a torch op: ``(x - offset) * 2**shift``.

    Computed in float64 and rounded once to float32, exactly as
    ``scaler.transform`` (float64 subtract, exact power-of-two multiply, cast),
    so the two agree bit for bit on float32 and float64 inputs. A scaler with
    ``pad_value`` writes it into the features of objects with pT == 0, as
    ``transform`` does.

    Args:
        offset: per-feature offsets.
        shift: per-feature power-of-two exponents.
        pad_value: the scaler's ``pad_value`` setting.
        object_size: the scaler's ``object_size`` setting.
    """

    offset: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        offset: npt.ArrayLike,
        shift: npt.ArrayLike,
        *,
        pad_value: float | None = None,
        object_size: int | None = None,
    ) -> None:
        super().__init__()
        off = torch.as_tensor(np.asarray(offset, dtype=np.float64))
        sh = torch.as_tensor(np.asarray(shift, dtype=np.int64))
        self.register_buffer("offset", off)
        self.register_buffer("scale", torch.ldexp(torch.ones_like(off), sh))
        self.pad_value = pad_value
        self.object_size = object_size

    @classmethod
    def from_scaler(
        cls, scaler: PowerOfTwoRobustScaler, n_features: int = N_TRIGGER_INPUTS
    ) -> ScalerLayer:
        """The layer of a fitted *scaler* with *n_features* features.

        Raises:
            ConfigError: the scaler is not a fitted PowerOfTwoRobustScaler of *n_features*.
        """
        if not isinstance(scaler, PowerOfTwoRobustScaler):
            msg = f"scaler: expected a PowerOfTwoRobustScaler, got {type(scaler).__name__}"
            raise ConfigError(msg)
        if scaler.offset.size != n_features:
            msg = (
                f"scaler: expected a PowerOfTwoRobustScaler fitted on {n_features} features, "
                f"got {scaler.offset.size} (fit or load it first)"
            )
            raise ConfigError(msg)
        return cls(
            scaler.offset,
            scaler.shift,
            pad_value=scaler.settings.pad_value,
            object_size=scaler.settings.object_size,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The scaled inputs as float32, same shape."""
        y = (x.to(torch.float64) - self.offset) * self.scale
        if self.pad_value is not None and self.object_size is not None:
            size = self.object_size
            pt = x[..., ::size]
            padded = torch.repeat_interleave(pt == 0, size, dim=-1)
            y = torch.where(padded, torch.full_like(y, self.pad_value), y)
        return y.to(torch.float32)


@dataclass
class TrainResult:
    """The trained model (best weights restored) and how the training went.

    Attributes:
        model: the trained model, in eval mode.
        history: one metrics dict per epoch (see the module docstring).
        seconds: wall time of the whole training (s).
        events: training events processed (events x epochs, summed over phases).
        best_epoch: the epoch whose weights were kept (of the last phase).
        best_val_loss: its validation loss (VICReg: the autoencoder's).
        stopped_early: the last phase ended by early stopping.
        phases: per phase (``"vae"``; or ``"backbone"`` and ``"ae"``): best_epoch,
            best_val_loss, epochs run, stopped_early (0 or 1); for VICReg also
            ``"distance"``: the shrinkage of the distance's covariance and the
            events it was fitted on.
    """

    model: VAE | VICReg
    history: list[dict[str, float]]
    seconds: float
    events: int
    best_epoch: int = -1
    best_val_loss: float = math.nan
    stopped_early: bool = False
    phases: dict[str, dict[str, float]] = field(default_factory=dict)


def _generator(seed: int, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 8 + offset)


def _as_inputs(x: npt.ArrayLike, what: str, min_events: int) -> torch.Tensor:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != N_TRIGGER_INPUTS:
        msg = f"{what}: expected physical trigger inputs of shape (n, {N_TRIGGER_INPUTS}), got {arr.shape}"
        raise DataFormatError(msg)
    if arr.shape[0] < min_events:
        msg = f"{what}: expected at least {min_events} events, got {arr.shape[0]}"
        raise DataFormatError(msg)
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        msg = f"{what}: expected a numeric array, got dtype {arr.dtype}"
        raise DataFormatError(msg)
    if not np.isfinite(arr).all():
        msg = f"{what}: the inputs contain NaN or infinite values"
        raise DataFormatError(msg)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _scaled(layer: ScalerLayer, x: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([layer(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])


def _batches(n: int, size: int, min_size: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) batches; a last batch below *min_size* joins the one before."""
    spans = list(itertools.pairwise([*range(0, n, size), n]))
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < min_size:
        spans[-2] = (spans[-2][0], n)
        spans.pop()
    return spans


def _weighted_means(
    parts: list[tuple[int, dict[str, torch.Tensor]]],
) -> dict[str, float]:
    total = sum(n for n, _ in parts)
    keys = parts[0][1].keys()
    return {k: sum(n * float(d[k]) for n, d in parts) / total for k in keys}


# -- validation (deterministic functions of the weights) ----------------------------------------


def _vae_validation(model: VAE, xs: torch.Tensor, batch_size: int, seed: int) -> dict[str, float]:
    gen = _generator(seed, _VALIDATION)
    parts = []
    with torch.no_grad():
        for lo, hi in _batches(xs.shape[0], batch_size, 1):
            parts.append((hi - lo, model.losses(xs[lo:hi], gen)))
    return _weighted_means(parts)


def _ae_validation(model: VICReg, xs: torch.Tensor, batch_size: int) -> dict[str, float]:
    parts = []
    with torch.no_grad():
        for lo, hi in _batches(xs.shape[0], batch_size, 1):
            parts.append((hi - lo, model.ae_losses(xs[lo:hi])))
    return _weighted_means(parts)


def _vicreg_validation(
    model: VICReg, v1: torch.Tensor, v2: torch.Tensor, batch_size: int
) -> dict[str, float]:
    parts = []
    with torch.no_grad():
        for lo, hi in _batches(v1.shape[0], batch_size, 2):
            parts.append((hi - lo, model.vicreg_losses(v1[lo:hi], v2[lo:hi])))
    return _weighted_means(parts)


def evaluate(
    model: VAE | VICReg,
    x_physical: npt.ArrayLike,
    scaler: PowerOfTwoRobustScaler,
    *,
    batch_size: int = 1024,
    seed: int = 1,
) -> dict[str, float]:
    """The validation losses that :func:`train` reports, for *model* on *x_physical*.

    With the training's ``batch_size`` and ``seed`` this reproduces the
    ``val_*`` metrics of the epoch whose weights the model holds (VAE:
    ``loss``, ``reco``, ``kl``; VICReg: the autoencoder's ``loss``). A VICReg
    model without an autoencoder gives ``distance``: the mean squared
    Mahalanobis distance (about the embedding dimension on zero bias).

    Raises:
        DataFormatError: *x_physical* is not (n, 57) finite numbers.
        ConfigError: *scaler* is not fitted on 57 features.
    """
    x = _as_inputs(x_physical, "x_physical", 1)
    layer = ScalerLayer.from_scaler(scaler)
    was_training = model.training
    model.eval()
    try:
        xs = _scaled(layer, x)
        if isinstance(model, VAE):
            return _vae_validation(model, xs, batch_size, seed)
        if "autoencoder" not in model.cfg.scores:
            with torch.no_grad():
                d2 = model.score(xs, "mahalanobis")
            return {"distance": float(d2.mean())}
        return _ae_validation(model, xs, batch_size)
    finally:
        model.train(was_training)


# -- the training loop ----------------------------------------------------------------------------


class _EarlyStopping:
    """Best validation loss so far, the weights that had it, and the patience counter."""

    def __init__(self, patience: int, min_delta: float) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0

    def update(self, value: float, epoch: int, model: nn.Module) -> bool:
        """Record *value*; True when the phase should stop."""
        if math.isfinite(value) and value < self.best - self.min_delta:
            self.best = value
            self.best_epoch = epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.bad_epochs = 0
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


@dataclass
class _Phase:
    """One optimisation phase: what to train and how to compute its losses."""

    number: int
    prefix: str
    params: list[nn.Parameter]
    n_train: int
    min_batch: int
    step: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    validate: Callable[[], dict[str, float]]
    train_mode: Callable[[], object]
    epochs: int


@dataclass
class _PhaseResult:
    history: list[dict[str, float]]
    events: int
    best_epoch: int
    best_val_loss: float
    stopped_early: bool


def _run_phase(
    phase: _Phase,
    model: VAE | VICReg,
    cfg: TrainConfig,
    on_epoch: OnEpoch | None,
    step_offset: int,
) -> _PhaseResult:
    optimizer = torch.optim.Adam(phase.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    shuffle = _generator(cfg.seed, _SHUFFLE + 16 * phase.number)
    stopper = _EarlyStopping(cfg.patience, cfg.min_delta)
    history: list[dict[str, float]] = []
    events = 0
    stopped = False
    pre = phase.prefix
    for epoch in range(phase.epochs):
        t0 = time.perf_counter()
        phase.train_mode()
        perm = torch.randperm(phase.n_train, generator=shuffle)
        parts: list[tuple[int, dict[str, torch.Tensor]]] = []
        for lo, hi in _batches(phase.n_train, cfg.batch_size, phase.min_batch):
            losses = phase.step(perm[lo:hi])
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(losses["loss"])
            optimizer.step()
            parts.append((hi - lo, {k: v.detach() for k, v in losses.items()}))
        t_train = time.perf_counter() - t0
        events += sum(n for n, _ in parts)
        model.eval()
        val = phase.validate()
        metrics: dict[str, float] = {"phase": float(phase.number), "epoch": float(epoch)}
        metrics.update({f"{pre}{k}": v for k, v in _weighted_means(parts).items()})
        metrics.update({f"{pre}val_{k}": v for k, v in val.items()})
        metrics["seconds"] = time.perf_counter() - t0
        metrics["events_per_second"] = phase.n_train / t_train if t_train > 0 else math.inf
        history.append(metrics)
        _log.info(
            "phase %d epoch %d: loss %.5g, val_loss %.5g (%.0f events/s)",
            phase.number,
            epoch,
            metrics[f"{pre}loss"],
            val["loss"],
            metrics["events_per_second"],
        )
        if on_epoch is not None:
            on_epoch(step_offset + epoch, dict(metrics))
        if not math.isfinite(metrics[f"{pre}loss"]):
            _log.warning("phase %d: the training loss is not finite; stopping", phase.number)
            stopped = True
            break
        if stopper.update(val["loss"], epoch, model):
            stopped = epoch < phase.epochs - 1
            break
    if stopper.state is None:
        msg = (
            f"training diverged: no finite validation loss in phase {phase.number}; "
            f"try a lower train.lr (now {cfg.lr})"
        )
        raise L1ScoutError(msg)
    stopper.restore(model)
    model.eval()
    return _PhaseResult(history, events, stopper.best_epoch, stopper.best, stopped)


def _init_model(cfg: VAEConfig | VICRegConfig, seed: int) -> VAE | VICReg:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(cfg)


def _train_vae(
    model: VAE,
    cfg: TrainConfig,
    xs_train: torch.Tensor,
    xs_val: torch.Tensor,
    on_epoch: OnEpoch | None,
) -> tuple[list[_PhaseResult], VAE]:
    sample = _generator(cfg.seed, _SAMPLE)

    def step(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        return model.losses(xs_train[idx], sample)

    phase = _Phase(
        number=1,
        prefix="",
        params=list(model.parameters()),
        n_train=xs_train.shape[0],
        min_batch=1,
        step=step,
        validate=lambda: _vae_validation(model, xs_val, cfg.batch_size, cfg.seed),
        train_mode=model.train,
        epochs=cfg.epochs,
    )
    return [_run_phase(phase, model, cfg, on_epoch, 0)], model


def _train_vicreg(
    model: VICReg,
    cfg: TrainConfig,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    layer: ScalerLayer,
    on_epoch: OnEpoch | None,
) -> tuple[list[_PhaseResult], VICReg]:
    mcfg = model.cfg
    aug = _generator(cfg.seed, _AUGMENT)
    val_aug = _generator(cfg.seed, _VAL_AUGMENT)
    with torch.no_grad():
        v1 = _scaled(layer, augment(x_val, mcfg.augment, val_aug))
        v2 = _scaled(layer, augment(x_val, mcfg.augment, val_aug))

    def step1(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x_train[idx]
        with torch.no_grad():
            a = layer(augment(x, mcfg.augment, aug))
            b = layer(augment(x, mcfg.augment, aug))
        return model.vicreg_losses(a, b)

    def mode1() -> None:
        model.train()

    phase1 = _Phase(
        number=1,
        prefix="backbone.",
        params=[*model.backbone.parameters(), *model.projector.parameters()],
        n_train=x_train.shape[0],
        min_batch=2,
        step=step1,
        validate=lambda: _vicreg_validation(model, v1, v2, cfg.batch_size),
        train_mode=mode1,
        epochs=mcfg.backbone_epochs or cfg.epochs,
    )
    r1 = _run_phase(phase1, model, cfg, on_epoch, 0)

    # freeze the backbone; standardise its embedding on the training events and fit the
    # distance score's mean and covariance on the standardised embedding
    model.backbone.requires_grad_(False)
    model.projector.requires_grad_(False)
    xs_train = _scaled(layer, x_train)
    xs_val = _scaled(layer, x_val)
    with torch.no_grad():
        emb = torch.cat(
            [model.embed(xs_train[i : i + 65536]) for i in range(0, xs_train.shape[0], 65536)]
        ).to(torch.float64)
        model.standardize.set(emb.mean(dim=0).float(), emb.std(dim=0).float())
        fit = model.distance.fit(model.standardize(emb.float()), mcfg.mahalanobis_shrinkage)
    _log.info(
        "distance score: covariance of %d standardised embeddings, shrinkage %.3g",
        fit.n_events,
        fit.shrinkage,
    )
    if "autoencoder" not in mcfg.scores:
        model.eval()
        return [r1], model

    def step2(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        return model.ae_losses(xs_train[idx])

    def mode2() -> None:
        model.eval()
        model.ae.train()

    phase2 = _Phase(
        number=2,
        prefix="ae.",
        params=list(model.ae.parameters()),
        n_train=xs_train.shape[0],
        min_batch=1,
        step=step2,
        validate=lambda: _ae_validation(model, xs_val, cfg.batch_size),
        train_mode=mode2,
        epochs=cfg.epochs,
    )
    r2 = _run_phase(phase2, model, cfg, on_epoch, len(r1.history))
    return [r1, r2], model


def train(
    cfg: VAEConfig | VICRegConfig,
    train: TrainConfig,
    x_train: npt.ArrayLike,
    x_val: npt.ArrayLike,
    *,
    scaler: PowerOfTwoRobustScaler,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Train the model *cfg* describes on physical trigger inputs (see the module docstring).

    Args:
        cfg: the model.
        train: optimiser, batches, early stopping, seed, threads.
        x_train: zero-bias training events, physical inputs (n, 57).
        x_val: zero-bias validation events (m, 57), for early stopping.
        scaler: the fitted power-of-two scaler (57 features).
        on_epoch: called after every epoch with (step, metrics).

    Returns:
        The model with the best weights, in eval mode, and the history.

    Raises:
        DataFormatError: inputs of the wrong shape, or not finite.
        ConfigError: the scaler is not fitted on 57 features.
        L1ScoutError: the training diverged (no finite validation loss).
    """
    min_events = 2 if isinstance(cfg, VICRegConfig) else 1
    xt = _as_inputs(x_train, "x_train", min_events)
    xv = _as_inputs(x_val, "x_val", min_events)
    layer = ScalerLayer.from_scaler(scaler)
    threads_before = torch.get_num_threads()
    if train.threads is not None:
        torch.set_num_threads(train.threads)
    t0 = time.perf_counter()
    try:
        model = _init_model(cfg, train.seed)
        phases: list[_PhaseResult]
        if isinstance(model, VAE):
            phases, model = _train_vae(
                model, train, _scaled(layer, xt), _scaled(layer, xv), on_epoch
            )
        else:
            phases, model = _train_vicreg(model, train, xt, xv, layer, on_epoch)
    finally:
        if train.threads is not None:
            torch.set_num_threads(threads_before)
    seconds = time.perf_counter() - t0
    last = phases[-1]
    names = ("vae",) if isinstance(model, VAE) else ("backbone", "ae")[: len(phases)]
    summary = {
        name: {
            "best_epoch": float(p.best_epoch),
            "best_val_loss": p.best_val_loss,
            "epochs": float(len(p.history)),
            "stopped_early": float(p.stopped_early),
        }
        for name, p in zip(names, phases, strict=True)
    }
    if isinstance(model, VICReg):
        summary["distance"] = {
            "shrinkage": float(model.distance.shrinkage),
            "events": float(xt.shape[0]),
        }
    return TrainResult(
        model=model,
        history=[h for p in phases for h in p.history],
        seconds=seconds,
        events=sum(p.events for p in phases),
        best_epoch=last.best_epoch,
        best_val_loss=last.best_val_loss,
        stopped_early=last.stopped_early,
        phases=summary,
    )


def scores(
    model: nn.Module,
    x_physical: npt.ArrayLike,
    scaler: PowerOfTwoRobustScaler,
    *,
    batch_size: int = 65536,
) -> F64:
    """Anomaly scores (n,) float64 of physical trigger inputs: scaled, batched, no gradients.

    The model is evaluated in eval mode (its previous mode is restored).

    Raises:
        ConfigError: *model* is not an anomaly model, or the scaler is not fitted on 57 features.
        DataFormatError: *x_physical* is not (n, 57) finite numbers.
    """
    if not isinstance(model, AnomalyModel):
        msg = (
            f"model: expected an anomaly model (score, deployable, ...), got {type(model).__name__}"
        )
        raise ConfigError(msg)
    if batch_size < 1:
        msg = f"batch_size: expected a positive number, got {batch_size}"
        raise ConfigError(msg)
    x = _as_inputs(x_physical, "x_physical", 0)
    layer = ScalerLayer.from_scaler(scaler)
    was_training = model.training
    model.eval()
    out: list[Any] = []
    try:
        with torch.no_grad():
            for i in range(0, x.shape[0], batch_size):
                s = model.score(layer(x[i : i + batch_size]))
                out.append(s.to(torch.float64).cpu().numpy())
    finally:
        model.train(was_training)
    if not out:
        return np.zeros(0, dtype=np.float64)
    return np.concatenate(out).astype(np.float64, copy=False)
