"""A self-supervised (VICReg) embedding of the particle set, stored quantized instead of the event.

The anomaly task's 2025 recipe (AXOL1TL v5; Bardes, Ponce, LeCun, "VICReg",
arXiv:2105.04906) applied to the PUPPI candidates instead of the 57 trigger
inputs: an encoder learns an embedding that does not change under what the
detector could have done to the same collision, two augmented views of each
event pulled together while the variance and covariance terms keep the
embedding informative. The loss is the anomaly task's own
(:func:`l1scout.tasks.anomaly.models.vicreg_loss`, form ``"ngt"`` by default,
weights 25 / 25 / 1) on a projector's outputs; the augmentations are those of
:mod:`l1scout.tasks.anomaly.augment` carried over to particle sets
(:func:`augment_sets`): Gaussian smearing of ln pT, eta and phi, dropping
candidates, and a rotation of the whole event in azimuth.

**Model** (:class:`SetEmbedder`): the DeepSets encoder of the autoencoder
(:class:`~l1scout.tasks.compress.autoencoder.SetEncoder`, unbounded output
of size ``embed_dim``) and a projector MLP ``embed_dim -> p -> p`` (ReLU)
used only by the loss. After training the per-dimension range of the stored
form is fixed from the training embeddings: the 0.1 % and 99.9 % quantiles
widened by 10 % (values outside are clipped by the quantizer).

**Codec** (:class:`EmbeddingCodec`, family ``"vicreg"``): the embedding
quantized to ``bits`` per dimension on that range and entropy-coded
(:func:`~l1scout.tasks.compress.entropy.encode_latents`), plus the trigger
objects (:func:`~l1scout.tasks.compress.baselines.encode_objects`); it stores
no particles, so :meth:`EmbeddingCodec.decode` returns None and downstream
tasks read :meth:`EmbeddingCodec.decode_embedding`.

Training as the autoencoder's (Adam, early stopping on the VICReg loss of a
fixed pair of augmented validation views, seeded, threads for the training
only).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from l1scout._types import F32
from l1scout.errors import DataFormatError
from l1scout.tasks._early_stopping import EarlyStopping
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.anomaly.models import vicreg_loss
from l1scout.tasks.compress.autoencoder import SetEncoder, _join, _split
from l1scout.tasks.compress.entropy import decode_latents, encode_latents
from l1scout.tasks.compress.objects import decode_objects, encode_objects
from l1scout.tasks.compress.sets import ETA_SCALE, N_FEATURES, ParticleSets
from l1scout.tasks.scouting.events import StreamEvents

__all__ = [
    "EmbeddingCodec",
    "SetEmbedder",
    "SetEmbeddingConfig",
    "SetEmbeddingResult",
    "augment_sets",
    "train_set_embedding",
]

_log = logging.getLogger(__name__)

OnEpoch = Callable[[int, Mapping[str, float]], None]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]
#: Quantiles of the training embeddings that fix the stored range, and the widening.
_RANGE_QUANTILES, _RANGE_MARGIN = (0.001, 0.999), 0.1


class SetEmbeddingConfig(BaseModel):
    """The self-supervised encoder and its training.

    Attributes:
        slots: slots ``k`` of the input sets.
        embed_dim: the embedding size (the stored dimensions).
        hidden: the encoder's width.
        projector: the projector's width ``p``.
        invariance, variance, covariance: the VICReg weights (25, 25, 1).
        loss_form: ``"ngt"`` or ``"bardes"`` (:func:`~l1scout.tasks.anomaly.models.vicreg_loss`).
        smear_log_pt: Gaussian width of the ln pT smearing (0.1: 10 % in pT).
        smear_eta: Gaussian width of the eta smearing.
        smear_phi: Gaussian width of the phi smearing (rad).
        drop_probability: probability to drop each candidate.
        rotate: rotate each view by a uniform angle in azimuth.
        epochs, batch_size, lr, patience, min_delta, seed, threads: as the autoencoder's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    slots: PositiveInt = Field(default=128, le=128)
    embed_dim: PositiveInt = 16
    hidden: PositiveInt = 128
    projector: PositiveInt = 64
    invariance: NonNegative = 25.0
    variance: NonNegative = 25.0
    covariance: NonNegative = 1.0
    loss_form: Literal["ngt", "bardes"] = "ngt"
    smear_log_pt: NonNegative = 0.1
    smear_eta: NonNegative = 0.02
    smear_phi: NonNegative = 0.02
    drop_probability: float = Field(default=0.1, ge=0, lt=1)
    rotate: bool = True
    epochs: PositiveInt = 40
    batch_size: PositiveInt = Field(default=256, ge=2)
    lr: float = Field(default=1e-3, gt=0)
    patience: PositiveInt = 6
    min_delta: NonNegative = 0.0
    seed: int = Field(default=0, ge=0)
    threads: PositiveInt | None = None


def augment_sets(
    features: torch.Tensor,
    mask: torch.Tensor,
    config: SetEmbeddingConfig,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random view of each set ``[n, k, F]`` (and its mask): smear, drop, rotate as *config* says.

    Padded slots stay zero; dropped candidates become padding (the remaining
    ones keep their slots: the encoder does not depend on the order). The
    first candidate of an event is never dropped, so a view is never empty.
    The particle code, z0 and the PUPPI weight are not changed.

    >>> from l1scout.tasks.compress.sets import N_FEATURES
    >>> f = torch.zeros(1, 2, N_FEATURES); f[0, 0, :4] = torch.tensor([1.0, 0.2, 1.0, 0.0])
    >>> m = torch.tensor([[True, False]])
    >>> cfg = SetEmbeddingConfig(smear_log_pt=0, smear_eta=0, smear_phi=0, drop_probability=0.5)
    >>> v, vm = augment_sets(f, m, cfg, torch.Generator().manual_seed(0))
    >>> round(float(v[0, 0, 2] ** 2 + v[0, 0, 3] ** 2), 6), vm.tolist(), float(v[0, 1].abs().sum())
    (1.0, [[True, False]], 0.0)
    """
    n, k, _ = features.shape
    out = features.clone()
    real = mask.clone()
    shape = (n, k)

    def normal() -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=features.dtype)

    out[..., 0] = out[..., 0] + config.smear_log_pt * normal()
    out[..., 1] = out[..., 1] + config.smear_eta / ETA_SCALE * normal()
    angle = config.smear_phi * normal()
    if config.rotate:
        u = torch.rand((n, 1), generator=generator, dtype=features.dtype)
        angle = angle + (2 * u - 1) * math.pi
    c, s = out[..., 2].clone(), out[..., 3].clone()
    out[..., 2] = c * torch.cos(angle) - s * torch.sin(angle)
    out[..., 3] = s * torch.cos(angle) + c * torch.sin(angle)
    if config.drop_probability > 0:
        drop = torch.rand(shape, generator=generator) < config.drop_probability
        drop[:, 0] = False
        real = real & ~drop
    return out * real.unsqueeze(-1).to(out.dtype), real


def _packed(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    n, k, _ = features.shape
    return torch.cat([features, mask.unsqueeze(-1).to(features.dtype)], dim=-1).reshape(
        n, k * (N_FEATURES + 1)
    )


class SetEmbedder(nn.Module):
    """Encoder and projector (module docstring); ``forward(x)`` is the embedding of packed sets.

    Attributes:
        lo, hi: per-dimension range of the stored form (buffers, set by
            :func:`train_set_embedding`; default -4 ... 4).
    """

    lo: torch.Tensor
    hi: torch.Tensor

    def __init__(self, config: SetEmbeddingConfig) -> None:
        super().__init__()
        self.config = config
        d, p = config.embed_dim, config.projector
        self.encoder = SetEncoder(config.slots, d, config.hidden, bounded=False)
        self.projector = nn.Sequential(nn.Linear(d, p), nn.ReLU(), nn.Linear(p, p))
        self.register_buffer("lo", torch.full((d,), -4.0))
        self.register_buffer("hi", torch.full((d,), 4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding ``[n, embed_dim]`` of packed sets."""
        out: torch.Tensor = self.encoder(x)
        return out

    def embed_sets(self, sets: ParticleSets, batch_size: int = 4096) -> F32:
        """Float embeddings ``[n, embed_dim]`` of *sets* (eval mode, no gradients).

        Raises:
            DataFormatError: another number of slots than the model's.
        """
        if sets.k != self.config.slots:
            msg = f"particle sets: {sets.k} slots, the embedder has {self.config.slots}"
            raise DataFormatError(msg)
        x = torch.from_numpy(sets.packed())
        self.eval()
        with torch.no_grad():
            parts = [self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0, self.config.embed_dim), dtype=np.float32)
        return torch.cat(parts).numpy().astype(np.float32)


@dataclass
class SetEmbeddingResult:
    """A trained embedder and its history (``loss``, ``invariance``, ``variance``, ``covariance``, ``val_*``, ``seconds`` per epoch)."""

    model: SetEmbedder
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


def _vicreg(model: SetEmbedder, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    cfg = model.config
    return vicreg_loss(
        model.projector(model(a)),
        model.projector(model(b)),
        invariance=cfg.invariance,
        variance=cfg.variance,
        covariance=cfg.covariance,
        form=cfg.loss_form,
    )


def train_set_embedding(
    train: ParticleSets,
    validation: ParticleSets,
    config: SetEmbeddingConfig,
    *,
    on_epoch: OnEpoch | None = None,
) -> SetEmbeddingResult:
    """Train a :class:`SetEmbedder` self-supervised (module docstring); fix its stored range.

    Raises:
        DataFormatError: sets of the wrong number of slots, or fewer than 2 events.
        L1ScoutError: no finite validation loss (diverged).
    """
    for what, sets in (("train", train), ("validation", validation)):
        if sets.k != config.slots or sets.n_events < 2:
            msg = f"{what}: expected at least 2 events with {config.slots} slots, got {sets.n_events} x {sets.k}"
            raise DataFormatError(msg)
    start = time.perf_counter()
    f, m = torch.from_numpy(train.features), torch.from_numpy(train.mask)
    fv, mv = torch.from_numpy(validation.features), torch.from_numpy(validation.mask)
    with torch_threads(config.threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = SetEmbedder(config)
        shuffle = torch.Generator().manual_seed(config.seed + 1)
        aug = torch.Generator().manual_seed(config.seed + 2)
        val_aug = torch.Generator().manual_seed(config.seed + 3)
        v1 = _packed(*augment_sets(fv, mv, config, val_aug))
        v2 = _packed(*augment_sets(fv, mv, config, val_aug))
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        result = SetEmbeddingResult(model)
        stopping = EarlyStopping(
            patience=config.patience, min_delta=config.min_delta, max_epochs=config.epochs
        )
        for epoch in range(config.epochs):
            t0 = time.perf_counter()
            model.train()
            totals: dict[str, float] = {}
            n_seen = 0
            for idx in torch.split(torch.randperm(len(f), generator=shuffle), config.batch_size):
                if len(idx) < 2:
                    continue
                a = _packed(*augment_sets(f[idx], m[idx], config, aug))
                b = _packed(*augment_sets(f[idx], m[idx], config, aug))
                losses = _vicreg(model, a, b)
                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(losses["loss"])
                optimizer.step()
                n_seen += len(idx)
                for k, v in losses.items():
                    totals[k] = totals.get(k, 0.0) + float(v.detach()) * len(idx)
            model.eval()
            with torch.no_grad():
                val = {k: float(v) for k, v in _vicreg(model, v1, v2).items()}
            metrics = {"epoch": float(epoch)} | {k: v / max(n_seen, 1) for k, v in totals.items()}
            metrics |= {f"val_{k}": v for k, v in val.items()}
            metrics["seconds"] = time.perf_counter() - t0
            result.history.append(metrics)
            if on_epoch is not None:
                on_epoch(epoch, dict(metrics))
            _log.info(
                "VICReg epoch %d: loss %.4g, val_loss %.4g", epoch, metrics["loss"], val["loss"]
            )
            if not math.isfinite(metrics["loss"]) or stopping.step(epoch, val["loss"], model):
                break
        stopping.restore(model, "lr", config.lr)
        emb = model.embed_sets(train)
    lo, hi = np.quantile(emb, _RANGE_QUANTILES, axis=0)
    width = np.maximum(hi - lo, 1e-3)
    model.lo.copy_(torch.from_numpy((lo - _RANGE_MARGIN * width).astype(np.float32)))
    model.hi.copy_(torch.from_numpy((hi + _RANGE_MARGIN * width).astype(np.float32)))
    result.best_epoch, result.stopped_early = stopping.best_epoch, stopping.stopped_early
    result.seconds = time.perf_counter() - start
    return result


class EmbeddingCodec:
    """The stored, quantized embedding as an embedding codec (module docstring).

    Payload: the autoencoder codec's layout (header, latent part, object part),
    the latent part being the embedding at ``bits`` per dimension on the
    model's range. After each :meth:`encode`, ``params`` holds the measured
    ``particle_bytes_per_event`` (the embedding's) and ``object_bytes_per_event``.

    Args:
        model: a trained :class:`SetEmbedder`.
        bits: bits per stored dimension.
        label: default ``vicreg-d<embed_dim>-b<bits>``.
    """

    family = "vicreg"
    lossless = False

    def __init__(self, model: SetEmbedder, bits: int, *, label: str | None = None) -> None:
        self.model = model
        self.bits = bits
        d = model.config.embed_dim
        self.label = label or f"vicreg-d{d}-b{bits}"
        self.params: dict[str, int | float | str] = {
            "embed_dim": d,
            "bits": bits,
            "slots": model.config.slots,
        }

    def embed(self, events: StreamEvents) -> F32:
        """The float embedding ``[n, embed_dim]`` of *events* (before quantization)."""
        return self.model.embed_sets(ParticleSets.from_events(events, self.model.config.slots))

    def encode(self, events: StreamEvents) -> bytes:
        """The payload of *events* (class docstring)."""
        lo = self.model.lo.numpy().astype(np.float64)
        hi = self.model.hi.numpy().astype(np.float64)
        part = encode_latents(self.embed(events), self.bits, lo, hi)
        objects = encode_objects(events)
        n = max(events.n_events, 1)
        self.params["particle_bytes_per_event"] = (len(part) + 12) / n
        self.params["object_bytes_per_event"] = len(objects) / n
        return _join(part, objects)

    def decode(self, payload: bytes, like: StreamEvents) -> None:
        """None: the codec stores no particles (read :meth:`decode_embedding`)."""
        del payload, like

    def decode_embedding(self, payload: bytes) -> F32:
        """The stored embedding ``[n, embed_dim]`` read back from *payload*.

        Raises:
            DataFormatError: a malformed payload, or another embedding size.
        """
        part, _ = _split(payload, self.label)
        z = decode_latents(part)
        if z.ndim != 2 or z.shape[1] != self.model.config.embed_dim:
            msg = f"{self.label}: stored embedding of shape {z.shape}, expected [n, {self.model.config.embed_dim}]"
            raise DataFormatError(msg)
        return z

    def decode_objects(self, payload: bytes, like: StreamEvents) -> StreamEvents:
        """The stored trigger objects (no PUPPI candidates) of *payload*."""
        _, objects = _split(payload, self.label)
        return decode_objects(objects, like)
