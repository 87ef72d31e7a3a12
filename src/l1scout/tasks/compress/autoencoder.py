"""The particle-set autoencoder and its codec: a latent of ``d`` numbers per event instead of 128 candidates.

**Model** (:class:`SetAutoencoder`). The encoder is a DeepSets network
(Zaheer et al., arXiv:1703.06114): a per-particle MLP ``F -> h -> h`` (ReLU)
on each real slot of :class:`~l1scout.tasks.compress.sets.ParticleSets`,
then two pooling operations that do not depend on the order of the particles,
the masked sum divided by ``k`` and the masked maximum (the per-particle
outputs are >= 0 after the ReLU, so padded slots, set to 0, never win the
maximum), concatenated, and an MLP ``2h -> h -> d`` ending in tanh: the latent
lies in (-1, 1), the fixed range the codec quantizes (:data:`LATENT_RANGE`).
The decoder is an MLP ``d -> 2h -> 2h -> k (F + 1)`` (ReLU): per slot the six
continuous features, eight particle-code logits and an existence logit.

**Loss** (:func:`autoencoder_losses`), per mini-batch::

    loss = set + existence_weight x existence + sums_weight x sums

* ``set``: the pT-weighted Chamfer distance or the Sinkhorn divergence of
  :mod:`~l1scout.tasks.compress.set_losses` between the decoded slots (the
  code as its softmax, compared with the one-hot) and the original set. Each
  original particle weighs ``pT x max(w_PUPPI, pt_floor)`` and each decoded
  slot the same from its own (detached) features: HT and MET are sums of ``pT
  x w_PUPPI`` (the fidelity definitions), so the few hard primary-vertex
  particles dominate, and the soft pileup that fills most of the 128 slots at
  pileup 200 (weight about 0) still counts, ``pt_floor`` times less.
* ``existence``: the count term (slot ``i`` exists when ``i`` < the event's count).
* ``sums``: the event's weighted momentum balance, ``((dpx)^2 + (dpy)^2 +
  (dS)^2) / (S + 10 GeV)^2`` with ``px, py, S`` the sums of ``pT w cos phi``,
  ``pT w sin phi`` and ``pT w`` over the real slots, decoded minus original:
  the MET vector and the scalar sum behind HT, directly.

**Training** (:func:`train_set_autoencoder`): Adam, shuffled mini-batches,
early stopping on the validation loss with the best weights restored
(:class:`~l1scout.tasks._early_stopping.EarlyStopping`); weights seeded in a
forked torch generator, shuffling from a seeded :class:`torch.Generator`,
threads set for the training only (:func:`~l1scout.tasks._threads.torch_threads`):
the same data, configuration and thread count give the same weights.

**Codec** (:class:`AECodec`): the latents quantized to ``bits`` each on
:data:`LATENT_RANGE` and entropy-coded
(:func:`~l1scout.tasks.compress.entropy.encode_latents`), the trigger objects
by the integer packing of the baselines
(:func:`~l1scout.tasks.compress.baselines.encode_objects`); decoding keeps the
slots whose existence probability is above 0.5. ``d0`` decodes as 0.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from l1scout._types import F32
from l1scout.errors import DataFormatError
from l1scout.tasks._early_stopping import EarlyStopping
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.compress.entropy import decode_latents, encode_latents
from l1scout.tasks.compress.objects import decode_objects, encode_objects
from l1scout.tasks.compress.set_losses import chamfer_loss, sinkhorn_loss, slot_mask
from l1scout.tasks.compress.sets import (
    CODE_START,
    LOG_PT_OFFSET,
    N_FEATURES,
    ParticleSets,
    with_particles,
)
from l1scout.tasks.scouting.events import StreamEvents

__all__ = [
    "LATENT_RANGE",
    "AECodec",
    "SetAutoencoder",
    "SetAutoencoderConfig",
    "SetAutoencoderResult",
    "SetEncoder",
    "autoencoder_losses",
    "train_set_autoencoder",
]

_log = logging.getLogger(__name__)

OnEpoch = Callable[[int, Mapping[str, float]], None]
#: The range of every latent dimension (the encoder ends in tanh).
LATENT_RANGE = (-1.0, 1.0)
#: Largest ln(pT / GeV) - offset a decoded slot is exponentiated at (keeps the sums finite).
_MAX_LOG_PT = 8.0
#: The scale (GeV) added to the event's scalar sum in the ``sums`` term.
_SUMS_SCALE_GEV = 10.0
#: Per-feature weights of the pair cost: the eight code entries together weigh one feature.
_FEATURE_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, *(0.125,) * 8)
_PayloadHead = struct.Struct("<4sQ")
_MAGIC = b"L1AE"

PositiveInt = Annotated[int, Field(ge=1)]


class SetAutoencoderConfig(BaseModel):
    """The set autoencoder and its training (field names as the task's ``[learned.set_ae]``).

    Attributes:
        slots: slots ``k`` of the input sets and of the decoder (128: the stream's).
        latent: the latent size ``d``.
        hidden: the width ``h`` of the encoder (the decoder's is ``2h``).
        loss: ``"chamfer"`` (default; fast) or ``"sinkhorn"``.
        sinkhorn_epsilon, sinkhorn_iterations: the Sinkhorn loss's settings.
        pt_floor: the PUPPI-weight floor of the particle weights (module docstring).
        existence_weight, sums_weight: the weights of those terms.
        epochs, batch_size, lr, patience, min_delta: Adam and early stopping.
        seed: seed of the weights and the shuffling.
        threads: torch threads while training (None: torch's setting).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    slots: PositiveInt = Field(default=128, le=128)
    latent: PositiveInt = 32
    hidden: PositiveInt = 128
    loss: Literal["chamfer", "sinkhorn"] = "chamfer"
    sinkhorn_epsilon: float = Field(default=0.05, gt=0)
    sinkhorn_iterations: PositiveInt = 50
    pt_floor: float = Field(default=0.05, ge=0, le=1)
    existence_weight: float = Field(default=1.0, ge=0)
    sums_weight: float = Field(default=1.0, ge=0)
    epochs: PositiveInt = 40
    batch_size: PositiveInt = 256
    lr: float = Field(default=1e-3, gt=0)
    patience: PositiveInt = 6
    min_delta: float = Field(default=0.0, ge=0)
    seed: int = Field(default=0, ge=0)
    threads: PositiveInt | None = None


class SetEncoder(nn.Module):
    """The DeepSets encoder (module docstring): packed sets ``[n, k (F + 1)]`` -> latents ``[n, d]``.

    Only ``Linear``, ``ReLU`` and ``Tanh`` leaves, so
    :func:`l1scout.deploy.count_ops` counts it (the pooling's additions and
    comparisons, ``2 k h``, are not counted).

    Args:
        slots: slots ``k`` per event.
        latent: outputs ``d``.
        hidden: width ``h``.
        bounded: end in tanh (outputs in (-1, 1)); False: a plain linear output.
    """

    def __init__(self, slots: int, latent: int, hidden: int, *, bounded: bool = True) -> None:
        super().__init__()
        self.slots = slots
        self.phi = nn.Sequential(
            nn.Linear(N_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        last: list[nn.Module] = [nn.Tanh()] if bounded else []
        self.rho = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, latent), *last
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Latents of packed sets (:meth:`ParticleSets.packed`)."""
        x = x.reshape(x.shape[0], self.slots, N_FEATURES + 1)
        valid = x[..., N_FEATURES:]
        h = self.phi(x[..., :N_FEATURES]) * valid
        pooled = torch.cat([h.sum(dim=1) / self.slots, h.amax(dim=1)], dim=1)
        out: torch.Tensor = self.rho(pooled)
        return out


class SetAutoencoder(nn.Module):
    """Encoder and decoder of :class:`SetAutoencoderConfig` (module docstring).

    ``forward(x)`` takes packed sets and returns the decoder's raw slots
    ``[n, k, F + 1]``: six continuous features, eight code logits, the existence logit.
    """

    def __init__(self, config: SetAutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        k, d, h = config.slots, config.latent, config.hidden
        self.encoder = SetEncoder(k, d, h)
        self.decoder = nn.Sequential(
            nn.Linear(d, 2 * h),
            nn.ReLU(),
            nn.Linear(2 * h, 2 * h),
            nn.ReLU(),
            nn.Linear(2 * h, k * (N_FEATURES + 1)),
        )

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """The raw slots ``[n, k, F + 1]`` of latents ``[n, d]``."""
        flat: torch.Tensor = self.decoder(z)
        return flat.reshape(z.shape[0], self.config.slots, N_FEATURES + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The raw decoded slots of packed sets."""
        return self.decode_raw(self.encoder(x))

    def encode_sets(self, sets: ParticleSets, batch_size: int = 4096) -> F32:
        """Float latents ``[n, d]`` of *sets* (eval mode, no gradients).

        Raises:
            DataFormatError: *sets* has another number of slots than the model.
        """
        if sets.k != self.config.slots:
            msg = f"particle sets: {sets.k} slots, the autoencoder has {self.config.slots}"
            raise DataFormatError(msg)
        x = torch.from_numpy(sets.packed())
        self.eval()
        with torch.no_grad():
            parts = [self.encoder(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0, self.config.latent), dtype=np.float32)
        return torch.cat(parts).numpy().astype(np.float32)

    def decode_latents(self, z: npt.ArrayLike, batch_size: int = 4096) -> ParticleSets:
        """The decoded sets of latents ``[n, d]``: the slots of existence probability > 0.5."""
        zt = torch.from_numpy(np.ascontiguousarray(np.asarray(z, dtype=np.float32)))
        self.eval()
        with torch.no_grad():
            raw = [self.decode_raw(zt[i : i + batch_size]) for i in range(0, len(zt), batch_size)]
        k = self.config.slots
        if not raw:
            return ParticleSets(np.zeros((0, k, N_FEATURES), np.float32), np.zeros((0, k), bool))
        out = torch.cat(raw).numpy()
        mask = out[..., N_FEATURES] > 0.0
        feats = np.where(mask[..., None], out[..., :N_FEATURES], 0.0).astype(np.float32)
        return ParticleSets(feats, mask)


def _weights(feats: torch.Tensor, floor: float) -> torch.Tensor:
    pt = torch.exp(feats[..., 0].clamp(max=_MAX_LOG_PT) + LOG_PT_OFFSET)
    return pt * feats[..., 5].clamp(min=floor, max=1.0)


def _sums(feats: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per event sums of pT w cos, pT w sin and pT w (GeV) over the real slots."""
    pt = torch.exp(feats[..., 0].clamp(max=_MAX_LOG_PT) + LOG_PT_OFFSET)
    ptw = pt * feats[..., 5].clamp(0.0, 1.0) * real.to(feats.dtype)
    norm = torch.sqrt(feats[..., 2].square() + feats[..., 3].square()).clamp(min=1e-6)
    return (
        (ptw * feats[..., 2] / norm).sum(1),
        (ptw * feats[..., 3] / norm).sum(1),
        ptw.sum(1),
    )


def autoencoder_losses(
    raw: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, config: SetAutoencoderConfig
) -> dict[str, torch.Tensor]:
    """The loss terms of decoded slots *raw* ``[n, k, F + 1]`` against sets ``[n, k, F]`` (module docstring).

    Returns ``loss``, ``set``, ``existence`` and ``sums``.
    """
    code = torch.softmax(raw[..., CODE_START:N_FEATURES], dim=-1)
    pred = torch.cat([raw[..., :CODE_START], code], dim=-1)
    logits = raw[..., N_FEATURES]
    fw = torch.tensor(_FEATURE_WEIGHTS, dtype=pred.dtype)
    pw = _weights(pred.detach(), config.pt_floor)
    tw = _weights(target, config.pt_floor)
    if config.loss == "chamfer":
        out = chamfer_loss(
            pred,
            logits,
            target,
            mask,
            pred_weight=pw,
            target_weight=tw,
            feature_weights=fw,
            existence_weight=config.existence_weight,
        )
        set_term = out["chamfer"]
    else:
        out = sinkhorn_loss(
            pred,
            logits,
            target,
            mask,
            pred_weight=pw,
            target_weight=tw,
            feature_weights=fw,
            existence_weight=config.existence_weight,
            epsilon=config.sinkhorn_epsilon,
            iterations=config.sinkhorn_iterations,
        )
        set_term = out["sinkhorn"]
    px, py, s = _sums(pred, slot_mask(mask, pred.shape[1]))
    tx, ty, ts = _sums(target, mask)
    scale = (ts + _SUMS_SCALE_GEV).square()
    sums = (((px - tx).square() + (py - ty).square() + (s - ts).square()) / scale).mean()
    loss = out["loss"] + config.sums_weight * sums
    return {"loss": loss, "set": set_term, "existence": out["existence"], "sums": sums}


@dataclass
class SetAutoencoderResult:
    """A trained autoencoder and its history.

    Attributes:
        model: the network at its best epoch, in eval mode.
        history: per epoch ``epoch``, ``seconds``, ``loss``, ``set``,
            ``existence``, ``sums`` and their ``val_*`` (training: batch means
            weighted by batch sizes; validation: over the whole set).
        best_epoch: the epoch whose weights were kept.
        stopped_early: early stopping ended the training.
        seconds: wall time of the training (s).
    """

    model: SetAutoencoder
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


def _evaluate(
    model: SetAutoencoder, x: torch.Tensor, f: torch.Tensor, m: torch.Tensor, batch: int
) -> dict[str, float]:
    model.eval()
    totals: dict[str, float] = {}
    with torch.no_grad():
        for lo in range(0, len(x), batch):
            hi = min(lo + batch, len(x))
            losses = autoencoder_losses(model(x[lo:hi]), f[lo:hi], m[lo:hi], model.config)
            for k, v in losses.items():
                totals[k] = totals.get(k, 0.0) + float(v) * (hi - lo)
    return {k: v / len(x) for k, v in totals.items()}


def train_set_autoencoder(
    train: ParticleSets,
    validation: ParticleSets,
    config: SetAutoencoderConfig,
    *,
    on_epoch: OnEpoch | None = None,
) -> SetAutoencoderResult:
    """Train a :class:`SetAutoencoder` on *train*, early-stopped on *validation* (module docstring).

    Args:
        train: the training events' sets (``config.slots`` slots).
        validation: the validation events' sets.
        config: model and training.
        on_epoch: called after every epoch with the epoch and its metrics.

    Raises:
        DataFormatError: sets of the wrong number of slots, or empty.
        L1ScoutError: no finite validation loss (diverged).
    """
    for what, sets in (("train", train), ("validation", validation)):
        if sets.k != config.slots or sets.n_events == 0:
            msg = (
                f"{what}: expected events with {config.slots} slots, got {sets.n_events} x {sets.k}"
            )
            raise DataFormatError(msg)
    start = time.perf_counter()
    tensors = [
        (torch.from_numpy(s.packed()), torch.from_numpy(s.features), torch.from_numpy(s.mask))
        for s in (train, validation)
    ]
    (x, f, m), (xv, fv, mv) = tensors
    with torch_threads(config.threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = SetAutoencoder(config)
        shuffle = torch.Generator().manual_seed(config.seed + 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        result = SetAutoencoderResult(model)
        stopping = EarlyStopping(
            patience=config.patience, min_delta=config.min_delta, max_epochs=config.epochs
        )
        for epoch in range(config.epochs):
            t0 = time.perf_counter()
            model.train()
            totals: dict[str, float] = {}
            for idx in torch.split(torch.randperm(len(x), generator=shuffle), config.batch_size):
                losses = autoencoder_losses(model(x[idx]), f[idx], m[idx], config)
                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(losses["loss"])
                optimizer.step()
                for k, v in losses.items():
                    totals[k] = totals.get(k, 0.0) + float(v.detach()) * len(idx)
            val = _evaluate(model, xv, fv, mv, config.batch_size)
            metrics = {"epoch": float(epoch)} | {k: v / len(x) for k, v in totals.items()}
            metrics |= {f"val_{k}": v for k, v in val.items()}
            metrics["seconds"] = time.perf_counter() - t0
            result.history.append(metrics)
            if on_epoch is not None:
                on_epoch(epoch, dict(metrics))
            _log.info(
                "set AE epoch %d: loss %.4g, val_loss %.4g", epoch, metrics["loss"], val["loss"]
            )
            if not math.isfinite(metrics["loss"]) or stopping.step(epoch, val["loss"], model):
                break
        stopping.restore(model, "lr", config.lr)
    result.best_epoch, result.stopped_early = stopping.best_epoch, stopping.stopped_early
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- the codec


def _join(latents: bytes, objects: bytes) -> bytes:
    return _PayloadHead.pack(_MAGIC, len(latents)) + latents + objects


def _split(payload: bytes, what: str) -> tuple[bytes, bytes]:
    data = bytes(payload)
    if len(data) < _PayloadHead.size or data[:4] != _MAGIC:
        msg = (
            f"{what} payload: expected the magic {_MAGIC!r} and a header ({len(data)} bytes given)"
        )
        raise DataFormatError(msg)
    _, n = _PayloadHead.unpack_from(data)
    end = _PayloadHead.size + n
    if end > len(data):
        msg = f"{what} payload: truncated ({len(data)} bytes, the latents end at {end})"
        raise DataFormatError(msg)
    return data[_PayloadHead.size : end], data[end:]


class AECodec:
    """The set autoencoder as a :class:`~l1scout.tasks.compress.codec.Codec` (module docstring).

    Payload: a 12-byte header (magic, length of the latent part), the latents
    of :func:`~l1scout.tasks.compress.entropy.encode_latents` at ``bits`` per
    dimension on :data:`LATENT_RANGE`, then the trigger objects of
    :func:`~l1scout.tasks.compress.baselines.encode_objects`. After each
    :meth:`encode`, ``params`` holds the measured ``particle_bytes_per_event``
    and ``object_bytes_per_event`` of the payload's parts.

    Args:
        model: a trained autoencoder.
        bits: bits per latent dimension (1 ... 32).
        latent_range: the quantizer's range of every latent dimension
            (default :data:`LATENT_RANGE`, the tanh's).
        label: the codec's label (default ``set_ae-d<latent>-b<bits>``).
    """

    family = "set_ae"
    lossless = False

    def __init__(
        self,
        model: SetAutoencoder,
        bits: int,
        latent_range: tuple[float, float] = LATENT_RANGE,
        *,
        label: str | None = None,
    ) -> None:
        self.model = model
        self.bits = bits
        self.latent_range = latent_range
        d = model.config.latent
        self.label = label or f"set_ae-d{d}-b{bits}"
        self.params: dict[str, int | float | str] = {
            "latent": d,
            "bits": bits,
            "slots": model.config.slots,
            "loss": model.config.loss,
        }

    def latents(self, events: StreamEvents) -> F32:
        """The float latents ``[n, d]`` of *events* (before quantization)."""
        return self.model.encode_sets(ParticleSets.from_events(events, self.model.config.slots))

    def encode(self, events: StreamEvents) -> bytes:
        """The payload of *events* (class docstring)."""
        lo, hi = self.latent_range
        part = encode_latents(self.latents(events), self.bits, lo, hi)
        objects = encode_objects(events)
        n = max(events.n_events, 1)
        self.params["particle_bytes_per_event"] = (len(part) + _PayloadHead.size) / n
        self.params["object_bytes_per_event"] = len(objects) / n
        return _join(part, objects)

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents:
        """The decoded events: objects as stored, PUPPI candidates from the decoder.

        Raises:
            DataFormatError: a malformed payload or another number of events than *like*.
        """
        part, objects = _split(payload, self.label)
        z = decode_latents(part)
        if z.shape != (like.n_events, self.model.config.latent):
            msg = f"{self.label}: latents of shape {z.shape}, expected ({like.n_events}, {self.model.config.latent})"
            raise DataFormatError(msg)
        return with_particles(decode_objects(objects, like), self.model.decode_latents(z))
