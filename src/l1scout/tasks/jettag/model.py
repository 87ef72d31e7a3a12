"""The Level-1 jet tagger: a quantization-aware DeepSets with 8 classes and a pT regression.

The network follows the layout of the CMS Phase-2 Level-1 jet tagger
(arXiv:2509.24371): a per-constituent network ``phi`` shared by the 16
constituents of a jet, a pooling over the constituents, and a jet-level network
``rho`` whose 9 outputs are the 8 class logits (``uds, g, b, c, tau+, tau-, e,
mu``, :data:`OUTPUT_CLASSES`) and one regression output, the log of the
generator-jet pT over the jet pT (:data:`REGRESSION_INDEX`). Sizes and
fixed-point formats are this project's choices (:class:`JetTagModelConfig`).

How a jet flows through it (``forward(x, mask)``, ``x`` float32
``(B, N, F)`` of ``N = 16`` constituents with ``F = 21`` features, ``mask``
bool ``(B, N)``, True for a real constituent):

1. **Standardisation** as the firmware's input formatting does it: ``(x -
   offset) * scale`` per feature in float32, with ``scale`` a power of two (a
   bit shift) and ``offset`` a constant (buffers, set from training data by
   :func:`fit_standardization`, carried by the ONNX file). Padded slots are set
   to 0 and the mask bit is appended to every constituent as a 22nd input (1
   real, 0 padded).
2. **phi**: dense layers without bias, each followed by a ReLU; every layer
   also reads the mask bit, so its weight on the mask acts as the layer's bias
   for real constituents while a padded constituent (all inputs 0) gives
   exactly 0 in every layer. Padding therefore drops out of the pooling
   without any multiplication by the mask (the firmware does the same).
3. **Pooling** (``pooling``): ``"sum"`` adds phi over the slots; ``"mean"``
   adds them and multiplies by ``1 / N`` (the firmware's fixed weight, a power
   of two for N = 16), i.e. the sum over real constituents divided by the
   number of slots, not by the number of real constituents (a division the
   firmware would need a lookup table for).
4. **rho**: dense layers with bias and ReLU, then the 9-output dense layer.

Quantized (``quantized = True``, the default): the standardised inputs are
rounded to ``formats.input``, weights to ``formats.weight``, biases of rho to
``formats.bias``, every ReLU output to ``formats.activation`` and the outputs
to ``formats.output``, as :mod:`l1scout.deploy.quant` does (forward exact,
straight-through gradient). Sums (the dense layers, the pooling) are exact:
the quantized path computes in float64, where every sum of these formats is
exact (below ``2**53``), so the model equals its firmware bit for bit
(:mod:`l1scout.tasks.jettag.firmware`); the outputs are returned as float32
(exact: the output format has 16 bits).

Default formats (:data:`JETTAG_SPEC`): 16-bit inputs ``ap_fixed<16,6>`` (range
+-32, lsb 2**-10) and 8-bit weights, as the deployed tagger's inputs and
weights; weights ``ap_fixed<8,2>`` (+-2, lsb 1/64), biases ``ap_fixed<10,4>``
(+-8, lsb 1/64), ReLU outputs ``ap_ufixed<10,5>`` ([0, 32), lsb 1/32),
outputs ``ap_fixed<16,6>`` (+-32, lsb 2**-10).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from l1scout._types import F32
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.quant import quantize
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "JETTAG_SPEC",
    "N_OUTPUTS",
    "OUTPUT_CLASSES",
    "REGRESSION_INDEX",
    "JetTagDeepSets",
    "JetTagModelConfig",
    "export_jettag_onnx",
    "fit_standardization",
    "flat_jettag_inputs",
    "jettag_onnx_parity",
]

#: Class order of the first 8 outputs (the same as ``labels.JET_CLASSES``).
OUTPUT_CLASSES = ("uds", "g", "b", "c", "tau+", "tau-", "e", "mu")
#: Column of the regression output, ``log(gen-jet pT / jet pT)``.
REGRESSION_INDEX = len(OUTPUT_CLASSES)
#: Outputs per jet: 8 class logits and the regression.
N_OUTPUTS = REGRESSION_INDEX + 1
#: The default fixed-point formats (module docstring).
JETTAG_SPEC = QuantSpec(
    input=FixedPoint(16, 6),
    weight=FixedPoint(8, 2),
    bias=FixedPoint(10, 4),
    activation=FixedPoint(10, 5, signed=False),
    output=FixedPoint(16, 6),
)


class JetTagModelConfig(BaseModel):
    """Sizes and formats of :class:`JetTagDeepSets`.

    Attributes:
        phi_widths: widths of the per-constituent dense layers (ReLU after each).
        rho_widths: widths of the jet-level hidden layers (ReLU after each).
        pooling: ``"mean"`` (sum over constituents times ``1 / N``) or ``"sum"``.
        quantized: fixed-point, quantization-aware network (deployable as firmware);
            False: a float32 network of the same layout.
        formats: the fixed-point formats (:data:`JETTAG_SPEC`).
        n_classes: class logits (8, :data:`OUTPUT_CLASSES`); one regression
            output follows them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    phi_widths: tuple[int, ...] = (32, 32)
    rho_widths: tuple[int, ...] = (32,)
    pooling: Literal["mean", "sum"] = "mean"
    quantized: bool = True
    formats: QuantSpec = JETTAG_SPEC
    n_classes: int = Field(default=len(OUTPUT_CLASSES), ge=2)

    @model_validator(mode="after")
    def _check(self) -> JetTagModelConfig:
        if not self.phi_widths:
            raise ValueError("phi_widths needs at least one layer")
        for name in ("phi_widths", "rho_widths"):
            widths = getattr(self, name)
            if any(w < 1 for w in widths):
                raise ValueError(f"{name} must be positive, got {list(widths)}")
        fmts = self.formats
        # the mask bit (1) passes the input format, the ReLUs and, between phi layers,
        # a weight of 1
        for name in ("input", "activation", *(("weight",) if len(self.phi_widths) > 1 else ())):
            fmt = getattr(fmts, name)
            if fmt.max_value < 1.0 or fmt.lsb > 1.0:
                raise ValueError(f"formats.{name} = {fmt.hls()} must hold 1 (the mask bit)")
        return self

    @property
    def n_outputs(self) -> int:
        """Outputs per jet: the class logits and the regression."""
        return self.n_classes + 1


class JetTagDeepSets(nn.Module):
    """The DeepSets jet tagger (module docstring): ``forward(x, mask) -> (B, n_classes + 1)``.

    Args:
        config: sizes and formats.
        n_constituents: constituent slots per jet (16).
        n_features: features per constituent (21).

    Raises:
        ConfigError: mean pooling of a quantized model over a number of slots that
            is not a power of two (``1 / N`` would not be exact).

    Examples:
        >>> model = JetTagDeepSets(JetTagModelConfig(phi_widths=(8,), rho_widths=(8,)))
        >>> out = model(torch.zeros(2, 16, 21), torch.ones(2, 16, dtype=torch.bool))
        >>> tuple(out.shape), out.dtype
        ((2, 9), torch.float32)
    """

    offset: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self, config: JetTagModelConfig, n_constituents: int = 16, n_features: int = 21
    ) -> None:
        super().__init__()
        if n_constituents < 1 or n_features < 1:
            raise ConfigError(
                f"n_constituents and n_features must be positive, got {n_constituents}, "
                f"{n_features}"
            )
        if (
            config.quantized
            and config.pooling == "mean"
            and n_constituents & (n_constituents - 1) != 0
        ):
            raise ConfigError(
                f"mean pooling of a quantized model needs a power-of-two number of "
                f"constituents, got {n_constituents}"
            )
        self.config = config
        self.n_constituents = n_constituents
        self.n_features = n_features
        self.register_buffer("offset", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        widths = (n_features, *config.phi_widths)
        self.phi = nn.ModuleList(
            nn.Linear(n_in + 1, n_out, bias=False) for n_in, n_out in itertools.pairwise(widths)
        )
        dims = (config.phi_widths[-1], *config.rho_widths, config.n_outputs)
        self.rho = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(dims))

    @property
    def phi_layers(self) -> list[nn.Linear]:
        """The per-constituent dense layers (weights ``(n_out, n_in + 1)``, the mask last)."""
        return [m for m in self.phi if isinstance(m, nn.Linear)]

    @property
    def rho_layers(self) -> list[nn.Linear]:
        """The jet-level dense layers, the 9-output one last."""
        return [m for m in self.rho if isinstance(m, nn.Linear)]

    @property
    def n_phi(self) -> int:
        """Width of the pooled representation (the last phi layer's)."""
        return self.phi_layers[-1].out_features

    @property
    def pool_weight(self) -> float:
        """The pooling's factor: 1 (sum) or ``1 / n_constituents`` (mean)."""
        return 1.0 / self.n_constituents if self.config.pooling == "mean" else 1.0

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Class logits then the regression, float32 ``(B, n_classes + 1)``."""
        q = self.config.quantized
        fmts = self.config.formats
        real = mask.to(torch.bool).unsqueeze(-1)
        xs = (x - self.offset) * self.scale
        xs = torch.where(real, xs, torch.zeros((), dtype=xs.dtype))
        bit = real.to(xs.dtype)
        if q:
            xs, bit = quantize(xs.double(), fmts.input), bit.double()
        h = xs
        for layer in self.phi_layers:
            w = self._param(layer.weight, fmts.weight)
            h = torch.relu(F.linear(torch.cat([h, bit], dim=-1), w))
            if q:
                h = quantize(h, fmts.activation)
        z = h.sum(dim=1) * self.pool_weight
        last = len(self.rho) - 1
        for i, layer in enumerate(self.rho_layers):
            z = F.linear(
                z, self._param(layer.weight, fmts.weight), self._param(layer.bias, fmts.bias)
            )
            if i < last:
                z = torch.relu(z)
                if q:
                    z = quantize(z, fmts.activation)
            elif q:
                z = quantize(z, fmts.output)
        return z.float()

    def _param(self, p: torch.Tensor, fmt: FixedPoint) -> torch.Tensor:
        """A weight as the forward pass uses it (quantized, float64 when quantized)."""
        return quantize(p, fmt).double() if self.config.quantized else p


def fit_standardization(model: JetTagDeepSets, x: npt.ArrayLike, mask: npt.ArrayLike) -> None:
    """Set the model's input offset (the mean) and power-of-two scale from real constituents.

    ``scale = 2**-ceil(log2(std))`` per feature, so a standardised feature has a
    spread between 1/2 and 1 (1 where a feature is constant or absent);
    ``offset`` is the mean over real constituents, rounded so that ``offset *
    scale`` lies on the grid of ``formats.input`` (for a float model too): the
    firmware's input formatting subtracts a fixed-point constant and shifts.

    Raises:
        DataFormatError: shapes that do not match the model, or non-finite values.

    Examples:
        >>> model = JetTagDeepSets(JetTagModelConfig(), n_constituents=4, n_features=1)
        >>> x = np.array([[[1.0], [3.0], [100.0], [0.0]]], dtype=np.float32)
        >>> fit_standardization(model, x, np.array([[True, True, False, False]]))
        >>> model.offset.tolist(), model.scale.tolist()
        ([2.0], [1.0])
        >>> x[0, 1, 0] = 1.0 + 2**-9  # mean 1 + 2**-10 (and std 2**-10): on the 2**-10 grid
        >>> fit_standardization(model, x, np.array([[True, True, False, False]]))
        >>> model.offset.item() == 1.0 + 2**-10, model.scale.item() == 2**10
        (True, True)
    """
    xa, ma = _check_batch(model, x, mask)
    real = xa[ma].astype(np.float64)
    if real.shape[0] == 0:
        mean = np.zeros(model.n_features)
        std = np.ones(model.n_features)
    else:
        mean, std = real.mean(axis=0), real.std(axis=0)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise DataFormatError("jet-tag inputs hold non-finite values on real constituents")
    safe = np.where(std > 0, std, 1.0)
    scale = np.exp2(-np.ceil(np.log2(safe)))
    lsb = model.config.formats.input.lsb
    offset = np.round(mean * scale / lsb) * lsb / scale  # exact: powers of two
    with torch.no_grad():
        model.offset.copy_(torch.from_numpy(offset.astype(np.float32)))
        model.scale.copy_(torch.from_numpy(scale.astype(np.float32)))


def _check_batch(
    model: JetTagDeepSets, x: npt.ArrayLike, mask: npt.ArrayLike
) -> tuple[F32, npt.NDArray[np.bool_]]:
    xa = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    ma = np.asarray(mask).astype(bool)
    shape = (model.n_constituents, model.n_features)
    if xa.ndim != 3 or xa.shape[1:] != shape or ma.shape != xa.shape[:2]:
        raise DataFormatError(
            f"jet-tag inputs must be x (n, {shape[0]}, {shape[1]}) and mask (n, {shape[0]}), "
            f"got {xa.shape} and {ma.shape}"
        )
    return xa, ma


def flat_jettag_inputs(x: npt.ArrayLike, mask: npt.ArrayLike) -> F32:
    """The ONNX input: per jet, each slot's features then its mask bit, ``(B, N * (F + 1))``.

    Examples:
        >>> flat_jettag_inputs(np.full((1, 2, 2), 5.0), [[True, False]]).tolist()
        [[5.0, 5.0, 1.0, 5.0, 5.0, 0.0]]
    """
    xa = np.asarray(x, dtype=np.float32)
    ma = np.asarray(mask).astype(np.float32)
    if xa.ndim != 3 or ma.shape != xa.shape[:2]:
        raise DataFormatError(
            f"jet-tag inputs must be x (n, N, F) and mask (n, N), got {xa.shape} and {ma.shape}"
        )
    flat = np.concatenate([xa, ma[..., None]], axis=-1)
    return np.ascontiguousarray(flat.reshape(xa.shape[0], -1))


class _FlatInput(nn.Module):
    """The model on the flat input of :func:`flat_jettag_inputs` (what the ONNX file holds)."""

    def __init__(self, model: JetTagDeepSets) -> None:
        super().__init__()
        self.model = model

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        n, f = self.model.n_constituents, self.model.n_features
        slots = flat.reshape(flat.shape[0], n, f + 1)
        out: torch.Tensor = self.model(slots[..., :f], slots[..., f] > 0.5)
        return out


def export_jettag_onnx(model: JetTagDeepSets, path: Path | str) -> Path:
    """Write *model* as ONNX: input ``x`` of :func:`flat_jettag_inputs`, output ``y`` ``(B, 9)``.

    A dynamic batch axis (traced on a batch of 2, :func:`l1scout.deploy.onnx.export_onnx`);
    the standardisation buffers are in the file.
    """
    from l1scout.deploy.onnx import export_onnx

    n_inputs = model.n_constituents * (model.n_features + 1)
    return export_onnx(_FlatInput(model), n_inputs, path)


def jettag_onnx_parity(
    model: JetTagDeepSets, path: Path | str, x: npt.ArrayLike, mask: npt.ArrayLike
) -> float:
    """``max |torch - ONNX| / max |torch|`` over all outputs of a batch (0 for all-zero outputs).

    Raises:
        DataFormatError: shapes that do not match the model.
    """
    from l1scout.deploy.onnx import OnnxModel

    xa, ma = _check_batch(model, x, mask)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = model(torch.from_numpy(xa), torch.from_numpy(ma)).double().numpy()
    finally:
        model.train(was_training)
    got = OnnxModel(path).predict(flat_jettag_inputs(xa, ma)).astype(np.float64)
    if got.shape != ref.shape:
        raise DataFormatError(f"{path}: output shape {got.shape}, torch gives {ref.shape}")
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    return diff / scale if scale > 0 else diff
