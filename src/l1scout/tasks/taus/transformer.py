"""The soft-tau transformer: tau identification, charge, visible pT, vertex z and pileup per constituent.

A tau candidate (a CLUE cluster, an anti-kT jet or a seeded cone of L1T PUPPI
candidates) is the set of its constituents, at most ``n_constituents`` (16) of
the highest pT, padded; a transformer encoder (Vaswani et al., arXiv:1706.03762)
reads the set and five heads give a tau-vs-fake logit, a charge logit (the
probability of +1), the visible tau pT (as ln(pT / GeV)), the tau vertex z (in
units of 100 mm) and a pileup logit per constituent (truth: ``IsPU``); the
regression outputs are O(1) numbers so that the ONNX graph agrees with torch to
1e-5 in absolute terms (a pT of 40 GeV has a float32 spacing of 4e-6 alone);
:func:`decode_outputs` turns them into probabilities, GeV and mm. This is the
model of the soft-tau study of the CMS Phase-2 Level-1 scouting stream
(Camagni et al., "Deep
learning-based identification of soft taus in the L1 scouting stream for
Phase-2", AI-INFN hackathon, Pavia, November 2025): 8 heads, one encoder
layer, ``emb_dim [128, 512, 128]``, about 400k parameters, Adam at 1e-4,
early stopping, reduce-on-plateau, cross-entropy plus MAE losses.

**Inputs** (:func:`transformer_inputs`, :data:`FEATURE_NAMES`), per constituent:

============  ======================================================================
``LogPT``     ln(pT / 1 GeV) of the constituent as the caller passes it (the study passes
              ``PT x PuppiW`` when ``data.puppi_weights`` is on)
``DEta``      eta - eta of the candidate axis
``DPhi``      phi - phi of the axis, wrapped to [-pi, pi) (rad)
``VZ``        ``DZ`` / 100 mm (longitudinal impact parameter; 0 for neutrals)
``Charge``    -1, 0 or +1
``Is*``       one-hot type, :data:`l1scout.io.ragged.PARTICLE_TYPES` order: photon,
              electron, muon, charged hadron, neutral hadron
============  ======================================================================

The type comes from the candidate's ``PID`` and ``Charge`` as the views write
them (:func:`l1scout.io.ragged.particle_type_one_hot`): photon = neutral with
PID 22 (ECAL neutrals), electron / muon = charged with |PID| 11 / 13, charged
hadron = any other charged candidate, neutral hadron = any other neutral (PID 0,
the HCAL neutrals). Padded slots are all zero. The ONNX graph takes one float32
tensor ``(batch, n_constituents * 11)``: per slot the ten features then a
validity flag (1 real, 0 padding), :meth:`TransformerInputs.packed`.

**Architecture** (:class:`SoftTauTransformer`). The seed's ``emb_dim [128,
512, 128]`` is read as the Particle Transformer's ``embed_dims`` (Qu, Li, Qian,
arXiv:2202.03772, whose configuration uses that very list and 8 heads): a
per-constituent embedding MLP ``10 -> 128 -> 512 -> 128`` (GELU after each
layer), then one post-norm encoder layer (``nn.TransformerEncoderLayer``:
d = 128, 8 heads, feed-forward 512 = 4 d, GELU, no positional encoding, so the
model is permutation equivariant), masked mean pooling over the real
constituents, and per head an MLP ``128 -> 128 -> 1`` (GELU): tau, charge, pT,
vz on the pooled vector, pileup on each constituent's vector. Parameters at this
size (biases included, ``L(a, b) = a b + b``)::

    embedding   L(10,128) + L(128,512) + L(512,128)             =   133,120
    encoder     L(128,384) + L(128,128) + L(128,512) + L(512,128)
                + 2 LayerNorms (2 x 256)                        =   198,272
    heads       5 x (L(128,128) + L(128,1))                     =    83,205
    total                                                       =   414,597

about 400k as the seed says. The other reading, a single embedding layer
``10 -> 128`` with feed-forward 512 and one 128 -> 128 output projection and
linear heads, gives 1,408 + 198,272 + 16,512 + 5 x 129 = 216,837, half the
seed's count.

``nn.TransformerEncoderLayer`` with its key padding mask exports through torch
2.13's ``torch.export``-based exporter as it is (ONNX Runtime agrees with torch
to about 5e-7 on every output at the seed's size, random weights), so the
attention is torch's own, not rewritten with plain operations. Padding is a key
padding mask, except that slot 0 is never masked (a candidate with no
constituent would otherwise give NaN); it holds the highest-pT constituent of
every real candidate.

**Operations** (:func:`transformer_op_count`): ``l1scout.deploy.count_ops``
cannot count an attention layer (it refuses modules it does not know, and
``nn.MultiheadAttention`` holds its own weights), so they are counted from
the sizes, per candidate with every slot computed (as the graph does): with
``k`` slots, width ``d``, feed-forward ``f``, ``H`` attention heads, head width
``h`` and embedding layers ``(a_i -> b_i)``: MACs = ``k sum a_i b_i + layers x
(4 k d^2 + 2 k^2 d + 2 k d f) + 4 (d h + h) + k (d h + h)``; FLOPs = 2 MACs +
one per bias + one per GELU output + 3 per attention score (exp, sum, divide)
+ 5 per LayerNorm element + one per residual sum (and ``k d`` for the pooling).
At the seed's size, 5.66 MMACs (11.4 MFLOPs) per candidate, 74% of them in the
embedding's ``128 -> 512 -> 128`` layers and the feed-forward block, applied to
all 16 slots.

**Training**: :mod:`l1scout.tasks.taus.transformer_training` (Adam at 1e-4,
early stopping and reduce-on-plateau on a validation loss, the heads' losses
weighted by :class:`LossWeights`).

Example:
    >>> import numpy as np
    >>> x = transformer_inputs([0, 2], pt=[4.0, 10.0], eta=[0.1, 0.0], phi=[3.1, -3.1],
    ...     dz=[5.0, 0.0], charge=[1, 0], pid=[211, 22], axis_eta=[0.0], axis_phi=[3.14159])
    >>> x.features[0, :2].astype(float).round(3).tolist()
    [[2.303, 0.0, 0.042, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.386, 0.1, -0.042, 0.05, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]
    >>> x.mask[0, :3].tolist(), x.packed().shape
    ([True, True, False], (1, 176))
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Self

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from l1scout._arrays import flat_array
from l1scout._datafile import read_toml, validate_data
from l1scout._jagged import check_offsets, wrap_phi
from l1scout._types import F32, B
from l1scout.deploy.flops import OpCount
from l1scout.deploy.onnx import export_onnx
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import PARTICLE_TYPES, particle_type_one_hot, top_k

__all__ = [
    "FEATURE_NAMES",
    "OUTPUT_NAMES",
    "PT_SCALE_GEV",
    "VZ_SCALE_MM",
    "LossWeights",
    "SoftTauTransformer",
    "TransformerConfig",
    "TransformerInputs",
    "TransformerModelConfig",
    "TransformerTrainConfig",
    "decode_outputs",
    "export_transformer",
    "load_transformer_config",
    "transformer_inputs",
    "transformer_op_count",
]

_log = logging.getLogger(__name__)

#: Per-constituent input features, in order (module docstring).
FEATURE_NAMES: tuple[str, ...] = ("LogPT", "DEta", "DPhi", "VZ", "Charge", *PARTICLE_TYPES)
#: Outputs of the model and of its ONNX graph, in order.
OUTPUT_NAMES: tuple[str, ...] = ("tau_logit", "charge_logit", "log_pt", "vz_100mm", "pu_logit")
#: z scale (mm): the ``VZ`` feature is DZ / VZ_SCALE_MM and the vz head predicts in units of it.
VZ_SCALE_MM = 100.0
#: pT scale (GeV) of the pT MAE loss.
PT_SCALE_GEV = 20.0
_N_FEATURES = len(FEATURE_NAMES)

PositiveInt = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TransformerModelConfig(_Config):
    """Sizes of :class:`SoftTauTransformer` (defaults: the seed's, 414,597 parameters).

    Attributes:
        n_constituents: constituent slots per candidate (16).
        embed_dims: widths of the per-constituent embedding MLP; the last is the
            encoder's width ``d``, which ``n_heads`` must divide.
        n_heads: attention heads (8).
        n_layers: encoder layers (1).
        ff_dim: feed-forward width of each encoder layer (512).
        head_hidden: hidden width of each output head's MLP; 0: linear heads.
        dropout: dropout of the encoder layers during training.
    """

    n_constituents: PositiveInt = 16
    embed_dims: tuple[PositiveInt, ...] = Field(default=(128, 512, 128), min_length=1)
    n_heads: PositiveInt = 8
    n_layers: PositiveInt = 1
    ff_dim: PositiveInt = 512
    head_hidden: Annotated[int, Field(ge=0)] = 128
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> Self:
        d = self.embed_dims[-1]
        if d % self.n_heads:
            msg = f"n_heads: must divide the encoder width embed_dims[-1] = {d}, got {self.n_heads}"
            raise ValueError(msg)
        return self


class LossWeights(_Config):
    """Weights of the heads' losses in the total (:mod:`~l1scout.tasks.taus.transformer_training`)."""

    tau: NonNegative = 1.0
    charge: NonNegative = 1.0
    pt: NonNegative = 1.0
    vz: NonNegative = 1.0
    pu: NonNegative = 1.0


class TransformerTrainConfig(_Config):
    """Optimiser, schedule and early stopping (defaults: the seed's Adam at 1e-4, batch 20).

    Attributes:
        learning_rate: Adam's initial learning rate.
        batch_size: candidates per mini-batch.
        max_epochs: epochs at most.
        patience: epochs without a validation improvement above ``min_delta``
            before stopping.
        min_delta: smallest validation-loss decrease that counts as one.
        lr_factor: ``ReduceLROnPlateau`` factor.
        lr_patience: ``ReduceLROnPlateau`` patience (epochs).
        validation_fraction: share of the candidates held out for validation
            when no validation set is given.
        seed: seed of the weights, the shuffling and the split.
        loss_weights: the heads' weights.
        threads: torch CPU threads while training (None: leave torch's
            setting); results are reproducible for a fixed thread count.
    """

    learning_rate: float = Field(default=1e-4, gt=0.0)
    batch_size: PositiveInt = 20
    max_epochs: PositiveInt = 100
    patience: PositiveInt = 10
    min_delta: NonNegative = 0.0
    lr_factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    lr_patience: Annotated[int, Field(ge=0)] = 3
    validation_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: Annotated[int, Field(ge=0)] = 0
    loss_weights: LossWeights = LossWeights()
    threads: PositiveInt | None = None


class TransformerConfig(_Config):
    """The model and its training, as one configuration table."""

    model: TransformerModelConfig = TransformerModelConfig()
    train: TransformerTrainConfig = TransformerTrainConfig()


def load_transformer_config(
    source: Path | str | Mapping[str, Any], *, where: str = "transformer"
) -> TransformerConfig:
    """A :class:`TransformerConfig` from a TOML file or a mapping.

    Raises:
        ConfigError: an unknown key or a bad value; the message names the
            source and the field path, e.g. ``transformer: model.n_heads: ...``.

    >>> load_transformer_config({"model": {"embed_dims": [16], "n_heads": 4}}).model.ff_dim
    512
    >>> load_transformer_config({"model": {"heads": 4}})
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: transformer: model.heads: Extra inputs are not permitted (got 4)
    """
    if isinstance(source, Mapping):
        return validate_data(dict(source), TransformerConfig, where)
    path = Path(source)
    return validate_data(read_toml(path), TransformerConfig, str(path))


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class TransformerInputs:
    """Padded constituent sets of ``n`` candidates.

    Attributes:
        features: float32 ``(n, k, 10)``, :data:`FEATURE_NAMES`; zero in padded slots.
        mask: bool ``(n, k)``, True for real constituents (highest pT first).
        is_pu: float32 ``(n, k)`` pileup truth (0 in padded slots), or None.
    """

    features: F32
    mask: B
    is_pu: F32 | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def packed(self) -> F32:
        """The model's (and the ONNX graph's) input: ``(n, k * 11)``, features then the mask flag."""
        n, k, _ = self.features.shape
        out = np.concatenate([self.features, self.mask[..., None].astype(np.float32)], axis=-1)
        return np.ascontiguousarray(out.reshape(n, k * (_N_FEATURES + 1)), dtype=np.float32)

    def subset(self, idx: npt.NDArray[np.int64]) -> TransformerInputs:
        """The candidates ``idx``."""
        pu = None if self.is_pu is None else self.is_pu[idx]
        return TransformerInputs(self.features[idx], self.mask[idx], pu)


def transformer_inputs(
    offsets: npt.ArrayLike,
    *,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    dz: npt.ArrayLike,
    charge: npt.ArrayLike,
    pid: npt.ArrayLike,
    axis_eta: npt.ArrayLike,
    axis_phi: npt.ArrayLike,
    is_pu: npt.ArrayLike | None = None,
    n_constituents: int = 16,
) -> TransformerInputs:
    """The transformer's inputs from the constituents of ``n`` candidates.

    Args:
        offsets: int, length n + 1: candidate ``i`` owns the constituents
            ``offsets[i]:offsets[i + 1]`` of the flat arrays below.
        pt: constituent pT (GeV, > 0).
        eta: constituent pseudorapidity.
        phi: constituent azimuth (rad).
        dz: constituent longitudinal impact parameter (mm; 0 for neutrals), the
            views' ``DZ``.
        charge: constituent charge (integers, e).
        pid: constituent ``PID`` as the views write it (module docstring).
        axis_eta: pseudorapidity of each candidate's axis, length n.
        axis_phi: azimuth (rad) of each candidate's axis, length n.
        is_pu: per-constituent pileup truth (0/1 or bool), or None.
        n_constituents: slots per candidate; the highest-pT constituents are
            kept (ties: input order).

    Raises:
        DataFormatError: a wrong length, shape or dtype, a non-finite value or a
            pT <= 0; the message names the argument.
    """
    n_entries = int(np.shape(pt)[0]) if np.ndim(pt) == 1 else None
    try:
        off = check_offsets(offsets, "offsets", n_entries)
    except ConfigError as exc:
        raise DataFormatError(str(exc)) from exc
    if (
        isinstance(n_constituents, bool)
        or not isinstance(n_constituents, int)
        or n_constituents < 1
    ):
        raise ConfigError(f"n_constituents: expected a positive integer, got {n_constituents!r}")
    n_cand, n_const = len(off) - 1, int(off[-1])
    pt_ = flat_array(pt, "pt", n_const)
    if np.any(pt_ <= 0):
        raise DataFormatError(f"pt: expected positive values, got {pt_[pt_ <= 0][0]}")
    eta_, phi_, dz_ = (
        flat_array(v, k, n_const) for k, v in (("eta", eta), ("phi", phi), ("dz", dz))
    )
    q = flat_array(charge, "charge", n_const, dtype=np.int64)
    pid_ = flat_array(pid, "pid", n_const, dtype=np.int64)
    a_eta, a_phi = (
        flat_array(axis_eta, "axis_eta", n_cand),
        flat_array(axis_phi, "axis_phi", n_cand),
    )
    if is_pu is not None and np.asarray(is_pu).dtype == np.bool_:
        is_pu = np.asarray(is_pu, dtype=np.int8)
    pu = None if is_pu is None else flat_array(is_pu, "is_pu", n_const, dtype=np.int64)
    if pu is not None and np.any((pu != 0) & (pu != 1)):
        raise DataFormatError("is_pu: expected 0 or 1")

    idx, mask = top_k(off, pt_, n_constituents)
    if n_const == 0:  # nothing to gather: all slots padded
        empty = np.zeros((n_cand, n_constituents), dtype=np.float32)
        feats = np.zeros((n_cand, n_constituents, _N_FEATURES), dtype=np.float32)
        return TransformerInputs(feats, mask, None if pu is None else empty)
    cand = np.repeat(np.arange(n_cand), n_constituents).reshape(n_cand, n_constituents)
    feats = np.zeros((n_cand, n_constituents, _N_FEATURES), dtype=np.float32)
    cols = [
        np.log(pt_)[idx],
        (eta_[idx] - a_eta[cand]),
        wrap_phi(phi_[idx] - a_phi[cand]),
        dz_[idx] / VZ_SCALE_MM,
        q[idx].astype(np.float64),
    ]
    for j, col in enumerate(cols):
        feats[..., j] = np.where(mask, col, 0.0)
    feats[..., 5:] = particle_type_one_hot(pid_[idx], q[idx]) & mask[..., None]
    pu_out = None if pu is None else np.where(mask, pu[idx], 0).astype(np.float32)
    return TransformerInputs(feats, mask, pu_out)


# ---------------------------------------------------------------- model


def _head(width: int, hidden: int, out: int = 1) -> nn.Sequential:
    if hidden == 0:
        return nn.Sequential(nn.Linear(width, out))
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, out))


class SoftTauTransformer(nn.Module):
    """The soft-tau transformer (module docstring).

    ``forward(x)`` takes the packed inputs ``(batch, k * 11)``
    (:meth:`TransformerInputs.packed`) and returns :data:`OUTPUT_NAMES`: the tau
    logit, the charge logit (+1), ln(visible pT / GeV) and vz / 100 mm, each
    ``(batch,)``, and the pileup logits ``(batch, k)`` (padded slots:
    meaningless, mask them). :func:`decode_outputs` gives physical units.
    """

    def __init__(self, config: TransformerModelConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = _N_FEATURES
        for d in config.embed_dims:
            layers += [nn.Linear(width, d), nn.GELU()]
            width = d
        self.embed = nn.Sequential(*layers)
        self.encoder = nn.ModuleList(
            nn.TransformerEncoderLayer(
                width,
                config.n_heads,
                config.ff_dim,
                dropout=config.dropout,
                activation="gelu",
                batch_first=True,
            )
            for _ in range(config.n_layers)
        )
        self.heads = nn.ModuleDict({n: _head(width, config.head_hidden) for n in _HEADS})
        self.register_buffer("_slot", torch.arange(config.n_constituents), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The five outputs for the packed inputs ``x`` (class docstring)."""
        k = self.config.n_constituents
        x = x.reshape(x.shape[0], k, _N_FEATURES + 1)
        valid = x[..., _N_FEATURES] > 0.5
        slot: torch.Tensor = self._slot  # type: ignore[assignment]
        pad = ~valid & (slot > 0)  # slot 0 never masked: no all-masked row
        h = self.embed(x[..., :_N_FEATURES])
        for layer in self.encoder:
            h = layer(h, src_key_padding_mask=pad)
        w = valid.to(h.dtype).unsqueeze(-1)
        pooled = (h * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)
        tau, charge, log_pt, vz = (self.heads[n](pooled).squeeze(-1) for n in _HEADS[:4])
        return tau, charge, log_pt, vz, self.heads["pu"](h).squeeze(-1)


_HEADS = ("tau", "charge", "pt", "vz", "pu")


def decode_outputs(outputs: Sequence[npt.ArrayLike]) -> dict[str, npt.NDArray[np.float64]]:
    """The model's (or the ONNX graph's) outputs in physical units.

    Returns:
        ``tau_score`` and ``charge_score`` (probability of a tau, of charge +1),
        ``pt`` (GeV), ``vz`` (mm) and ``pu_score`` (per slot).

    >>> out = decode_outputs([[0.0], [2.0], [np.log(25.0)], [0.5], [[-1.0, 3.0]]])
    >>> {k: np.round(v, 3).tolist() for k, v in out.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'tau_score': [0.5], 'charge_score': [0.881], 'pt': [25.0], 'vz': [50.0],
     'pu_score': [[0.269, 0.953]]}
    """
    if len(outputs) != len(OUTPUT_NAMES):
        raise DataFormatError(f"outputs: expected {len(OUTPUT_NAMES)} arrays, got {len(outputs)}")
    tau, charge, log_pt, vz, pu = (np.asarray(o, dtype=np.float64) for o in outputs)

    def sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * z))
        return out

    return {
        "tau_score": sigmoid(tau),
        "charge_score": sigmoid(charge),
        "pt": np.exp(log_pt),
        "vz": vz * VZ_SCALE_MM,
        "pu_score": sigmoid(pu),
    }


def transformer_op_count(config: TransformerModelConfig) -> OpCount:
    """Operations of one candidate's inference (formula in the module docstring).

    >>> transformer_op_count(TransformerModelConfig())
    OpCount(macs=5659136, flops=11407380, params=414597)
    """
    k, d, f, nl = config.n_constituents, config.embed_dims[-1], config.ff_dim, config.n_layers
    dims = (_N_FEATURES, *config.embed_dims)
    pairs = list(itertools.pairwise(dims))
    emb_macs = k * sum(a * b for a, b in pairs)
    emb_params = sum(a * b + b for a, b in pairs)
    layer_macs = 4 * k * d * d + 2 * k * k * d + 2 * k * d * f
    layer_params = 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d
    h = config.head_hidden
    head_macs, head_params, head_bias = (
        (d * h + h, d * h + 2 * h + 1, h + 1) if h else (d, d + 1, 1)
    )
    macs = emb_macs + nl * layer_macs + 4 * head_macs + k * head_macs
    bias = k * sum(b for _, b in pairs) + nl * k * (4 * d + f + d) + (4 + k) * head_bias
    gelu = k * sum(b for _, b in pairs) + nl * k * f + (4 + k) * h
    softmax = nl * 3 * config.n_heads * k * k
    norms_residuals = nl * (2 * 5 * k * d + 2 * k * d) + k * d
    flops = 2 * macs + bias + gelu + softmax + norms_residuals
    params = emb_params + nl * layer_params + 5 * head_params
    return OpCount(macs=macs, flops=flops, params=params)


def export_transformer(model: SoftTauTransformer, path: Path | str) -> Path:
    """Write *model* as ONNX (dynamic batch axis; input ``x``, outputs :data:`OUTPUT_NAMES`)."""
    n_inputs = model.config.n_constituents * (_N_FEATURES + 1)
    return export_onnx(model, n_inputs, path, output_names=OUTPUT_NAMES)
