"""The MLPF transformer: windowed self-attention over an event's sorted elements.

The model of machine-learned particle flow (Pata et al., "Improved
particle-flow event reconstruction with scalable neural networks for current
and future particle detectors", Commun. Phys. 7 (2024) 124; CMS-PFT-25-001,
arXiv:2601.17554): every element (track or tower,
:mod:`l1scout.tasks.mlpf.features`) is embedded by an encoder of its type,
pre-LayerNorm self-attention layers mix the elements, and four heads read each
element's vector. The published CMS size is 3 layers of 16 heads of 16 (width
256); the defaults of :class:`MLPFModelConfig` are that size.

**Attention that scales.** A pileup-200 event has about 15,000 elements; full
attention needs an ``N x N`` score matrix per head (15,000^2 x 16 heads x 4
bytes = 14 GB). Here the elements arrive sorted by (eta, phi)
(:func:`~l1scout.tasks.mlpf.features.pad_events`) and the sequence is cut into
consecutive windows of ``B = bin_size`` elements; an element attends only to the
elements of its window, as the earlier MLPF graph model bound its message
passing to bins of nearby elements (Pata et al., Eur. Phys. J. C 81 (2021)
381, arXiv:2101.08578). With ``shifted_windows``, every second layer shifts the
windows by ``B / 2`` (half a window of padding at both ends), so information
crosses window edges as in the Swin transformer (Liu et al., arXiv:2103.14030).
Scores per layer: ``(N / B) x heads x B^2 = N x B x heads``: **memory and time
grow as O(N B)**, linearly in N for a fixed B (the measured figures are in
``docs/mlpf-model.md``). In torch the windows go through
``scaled_dot_product_attention`` (on the CPU a blocked kernel that does not keep
the score tensor); the ONNX graph (opset 18 has no attention operator) computes
it with ``MatMul`` and ``Softmax``, N x B x heads floats per layer. Padding
slots are masked as keys (an additive -1e9), so they never change a real
element's output; a window of padding alone gives finite, meaningless outputs.

**Input** ``x``: float32 ``(batch, n, 17)``, rows ``[type, sort eta, sort phi,
14 features]`` (:data:`~l1scout.tasks.mlpf.features.INPUT_WIDTH`), sorted along
``n``; ``n`` is padded to a multiple of ``bin_size`` inside :meth:`MLPFModel.forward`
(the ONNX graph requires the multiple, as :func:`pad_events` makes it).

**Outputs** (:data:`OUTPUT_NAMES`), per element:

* ``particle_logits`` ``(batch, n, 2)``: none / particle;
* ``class_logits`` ``(batch, n, 6)``: :data:`~l1scout.tasks.mlpf.targets.CLASS_NAMES` (0 none, 1 charged
  hadron, 2 neutral hadron, 3 photon, 4 electron, 5 muon);
* ``regression`` ``(batch, n, 5)``, :data:`REGRESSION_NAMES`: ``log_pt_ratio``
  = ln(pT / element pT), ``eta``, ``sin_phi``, ``cos_phi``, ``log_e_ratio`` =
  ln(E / element E); the element's pT and energy are a track's ``PT`` and
  ``P`` and a tower's ``ET`` and ``E``. The eta, sin phi and cos phi outputs
  are absolute: the head's output is added to the element's own (feature
  columns 1-3), so an untrained model starts at the element's direction;
* ``pileup_logits`` ``(batch, n, 2)``: not pileup / pileup (pileup energy
  fraction 1).

:func:`decode_outputs` gives probabilities, classes, GeV and rad.

**Architecture** (:class:`MLPFModel`): per type, an encoder MLP ``14 -> d -> d``
(GELU); the element's vector is its type's encoder output (0 for padding).
Then ``n_layers`` times: ``h += attn(LN(h))``, ``h += FFN(LN(h))`` with FFN
``d -> ff_dim -> d`` (GELU); a final LayerNorm; each head is an MLP ``d ->
head_hidden -> k`` (GELU). One stack serves all heads (the reference
implementation keeps separate stacks for identification and regression).

Example:
    >>> import torch
    >>> cfg = MLPFModelConfig(width=16, n_heads=2, n_layers=1, ff_dim=32, head_hidden=16, bin_size=8)
    >>> model = MLPFModel(cfg).eval()
    >>> x = torch.zeros(1, 5, 17); x[0, :3, 0] = 1.0
    >>> [tuple(o.shape) for o in model(x)]
    [(1, 5, 2), (1, 5, 6), (1, 5, 5), (1, 5, 2)]
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn
from torch.nn import functional as F  # noqa: N812 - torch's own convention

from l1scout._types import F32, F64, B
from l1scout.deploy.onnx import OPSET, OnnxModel
from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf.features import INPUT_WIDTH, N_FEATURES, TOWER, TRACK
from l1scout.tasks.mlpf.targets import CLASS_NAMES

__all__ = [
    "OUTPUT_NAMES",
    "REGRESSION_NAMES",
    "MLPFModel",
    "MLPFModelConfig",
    "MLPFParity",
    "decode_outputs",
    "export_mlpf",
    "mlpf_onnx_parity",
]

_log = logging.getLogger(__name__)

#: Columns of the regression output, in order (module docstring).
REGRESSION_NAMES: tuple[str, ...] = ("log_pt_ratio", "eta", "sin_phi", "cos_phi", "log_e_ratio")
#: Outputs of the model and of its ONNX graph, in order.
OUTPUT_NAMES: tuple[str, ...] = (
    "particle_logits",
    "class_logits",
    "regression",
    "pileup_logits",
)
#: Additive score of a padding key: exp(-1e9) is 0 in float32.
_MASKED = -1e9

PositiveInt = Annotated[int, Field(ge=1)]


class MLPFModelConfig(BaseModel):
    """Sizes of :class:`MLPFModel` (defaults: the published CMS size, 3 x 16 heads x 16).

    Attributes:
        width: element vector width ``d``; ``n_heads`` must divide it (256).
        n_heads: attention heads (16).
        n_layers: attention layers (3).
        ff_dim: hidden width of each layer's feed-forward block (512; not in the
            published summary, our choice of 2 d).
        head_hidden: hidden width of each output head's MLP (256).
        bin_size: attention window ``B`` in elements (256); memory and time per
            layer grow as N x B. Even when ``shifted_windows`` is on.
        shifted_windows: shift the windows by ``B / 2`` in every second layer.
        dropout: dropout after attention and feed-forward blocks in training.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    width: PositiveInt = 256
    n_heads: PositiveInt = 16
    n_layers: PositiveInt = 3
    ff_dim: PositiveInt = 512
    head_hidden: PositiveInt = 256
    bin_size: Annotated[int, Field(ge=2)] = 256
    shifted_windows: bool = True
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check_sizes(self) -> Self:
        if self.width % self.n_heads:
            msg = f"n_heads: must divide width = {self.width}, got {self.n_heads}"
            raise ValueError(msg)
        if self.shifted_windows and self.bin_size % 2:
            msg = f"bin_size: must be even with shifted_windows, got {self.bin_size}"
            raise ValueError(msg)
        return self


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, n_out))


class _WindowAttention(nn.Module):
    """Multi-head self-attention within consecutive windows of ``bin_size`` elements."""

    def __init__(self, width: int, n_heads: int, bin_size: int) -> None:
        super().__init__()
        self.n_heads, self.bin_size = n_heads, bin_size
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        """Attention of ``h`` ``(b, n, d)``, ``n`` a multiple of the window; ``key_bias`` ``(b, n)``."""
        b, n, d = h.shape
        w, nh = self.bin_size, self.n_heads
        hw = h.reshape(-1, w, d)  # (b * n / w, w, d)
        q, k, v = self.qkv(hw).reshape(-1, w, 3, nh, d // nh).permute(2, 0, 3, 1, 4)
        # softmax(q k^T / sqrt(d / heads) + key_bias) v per window: (windows, heads, w, d / heads)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias.reshape(-1, 1, 1, w))
        out: torch.Tensor = self.out(att.transpose(1, 2).reshape(b, n, d))
        return out


class _Layer(nn.Module):
    """Pre-LayerNorm layer: windowed attention, then a feed-forward block."""

    def __init__(self, config: MLPFModelConfig, shift: bool) -> None:
        super().__init__()
        self.shift = config.bin_size // 2 if shift else 0
        self.norm1 = nn.LayerNorm(config.width)
        self.attn = _WindowAttention(config.width, config.n_heads, config.bin_size)
        self.norm2 = nn.LayerNorm(config.width)
        self.ffn = _mlp(config.width, config.ff_dim, config.width)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, h: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        """The layer's output for ``h`` ``(b, n, d)`` and the keys' additive mask ``(b, n)``."""
        a = self.norm1(h)
        if self.shift:
            b, n, d = a.shape
            s = self.shift
            pad = a.new_zeros((b, s, d))
            bias_pad = key_bias.new_full((b, s), _MASKED)
            a = torch.cat([pad, a, pad], dim=1)
            a = self.attn(a, torch.cat([bias_pad, key_bias, bias_pad], dim=1))[:, s : s + n]
        else:
            a = self.attn(a, key_bias)
        h = h + self.drop(a)
        out: torch.Tensor = h + self.drop(self.ffn(self.norm2(h)))
        return out


class MLPFModel(nn.Module):
    """The MLPF transformer (module docstring).

    ``forward(x)`` takes ``(batch, n, 17)`` elements sorted by (eta, phi) and
    returns the four outputs of :data:`OUTPUT_NAMES`, each ``(batch, n, k)``
    (padding slots: meaningless, mask them).
    """

    def __init__(self, config: MLPFModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.width
        self.encode_track = _mlp(N_FEATURES, d, d)
        self.encode_tower = _mlp(N_FEATURES, d, d)
        self.layers = nn.ModuleList(
            _Layer(config, shift=config.shifted_windows and i % 2 == 1)
            for i in range(config.n_layers)
        )
        self.norm = nn.LayerNorm(d)
        hh = config.head_hidden
        self.particle_head = _mlp(d, hh, 2)
        self.class_head = _mlp(d, hh, len(CLASS_NAMES))
        self.regression_head = _mlp(d, hh, len(REGRESSION_NAMES))
        self.pileup_head = _mlp(d, hh, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The four outputs for ``x`` (class docstring)."""
        b, n, _ = x.shape
        w = self.config.bin_size
        if n % w:  # pad to whole windows (not in the ONNX graph: its n is a multiple of w)
            x = torch.cat([x, x.new_zeros((b, w - n % w, x.shape[2]))], dim=1)
        kind = x[..., 0]
        feats = x[..., 3:]
        is_track = (kind == float(TRACK)).unsqueeze(-1).to(x.dtype)
        is_tower = (kind == float(TOWER)).unsqueeze(-1).to(x.dtype)
        h = is_track * self.encode_track(feats) + is_tower * self.encode_tower(feats)
        key_bias = torch.where(kind > 0.5, torch.zeros_like(kind), torch.full_like(kind, _MASKED))
        for layer in self.layers:
            h = layer(h, key_bias)
        h = self.norm(h)
        reg = self.regression_head(h)
        reg = torch.cat([reg[..., :1], reg[..., 1:4] + feats[..., 1:4], reg[..., 4:]], dim=-1)
        out = (self.particle_head(h), self.class_head(h), reg, self.pileup_head(h))
        return tuple(o[:, :n] for o in out)


def decode_outputs(
    outputs: Sequence[npt.ArrayLike], element_pt: npt.ArrayLike, element_energy: npt.ArrayLike
) -> dict[str, npt.NDArray[np.generic]]:
    """The outputs (torch or ONNX, any leading shape) in physical units.

    Args:
        outputs: the four outputs of :data:`OUTPUT_NAMES`.
        element_pt: the elements' pT (GeV), shaped like the outputs' leading axes.
        element_energy: the elements' energy (GeV), likewise.

    Returns:
        ``particle_score`` (probability of a particle), ``cls`` (argmax of the
        class logits), ``pt`` (GeV), ``eta``, ``phi`` (rad, atan2 of the sine
        and cosine), ``energy`` (GeV) and ``pileup_score``.

    >>> out = decode_outputs([[[0.0, 2.0]], [[0, 0, 0, 5, 0, 0]], [[np.log(2.0), 0.5, 1.0, 0.0, 0.0]],
    ...                       [[1.0, 0.0]]], [10.0], [30.0])
    >>> {k: np.round(v, 3).tolist() for k, v in out.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'particle_score': [0.881], 'cls': [3], 'pt': [20.0], 'eta': [0.5], 'phi': [1.571],
     'energy': [30.0], 'pileup_score': [0.269]}
    """
    if len(outputs) != len(OUTPUT_NAMES):
        raise DataFormatError(f"outputs: expected {len(OUTPUT_NAMES)} arrays, got {len(outputs)}")
    part, cls, reg, pu = (np.asarray(o, dtype=np.float64) for o in outputs)
    pt = np.asarray(element_pt, dtype=np.float64)
    e = np.asarray(element_energy, dtype=np.float64)
    if pt.shape != reg.shape[:-1] or e.shape != reg.shape[:-1]:
        msg = f"element_pt, element_energy: expected shape {reg.shape[:-1]}, got {pt.shape}, {e.shape}"
        raise DataFormatError(msg)

    def p1(logits: F64) -> F64:  # softmax probability of logit 1 of two
        out: F64 = 0.5 * (1.0 + np.tanh(0.5 * (logits[..., 1] - logits[..., 0])))
        return out

    return {
        "particle_score": p1(part),
        "cls": np.argmax(cls, axis=-1),
        "pt": pt * np.exp(reg[..., 0]),
        "eta": reg[..., 1],
        "phi": np.arctan2(reg[..., 2], reg[..., 3]),
        "energy": e * np.exp(reg[..., 4]),
        "pileup_score": p1(pu),
    }


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Send the exporter's progress lines to the log and drop torch's own pytree warning."""
    noisy = logging.getLogger("torch.onnx._internal.exporter._registration")
    # the exporter's optimisers log an INFO line per de-duplicated initializer,
    # folded constant and rewritten slice (hundreds): keep their warnings only
    passes = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript")]
    level, pass_levels = noisy.level, [p.level for p in passes]
    stdout = io.StringIO()
    try:
        noisy.setLevel(logging.ERROR)
        for p in passes:
            p.setLevel(logging.WARNING)
        with warnings.catch_warnings(), contextlib.redirect_stdout(stdout):
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\..*")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            yield
    finally:
        noisy.setLevel(level)
        for p, lv in zip(passes, pass_levels, strict=True):
            p.setLevel(lv)
        for line in stdout.getvalue().splitlines():
            _log.debug("torch.onnx: %s", line)


def export_mlpf(model: MLPFModel, path: Path | str) -> Path:
    """Write *model* as ONNX: input ``x`` ``(batch, n, 17)``, outputs :data:`OUTPUT_NAMES`.

    Exported in eval mode with ``torch.export`` (opset
    :data:`l1scout.deploy.onnx.OPSET`) on a batch of 2 events of 2 windows;
    the batch axis and the element axis are dynamic, the element axis as
    ``bin_size x nbins`` (the graph needs whole windows:
    :func:`~l1scout.tasks.mlpf.features.pad_events` with ``multiple=bin_size``).
    The file is written atomically.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    w = model.config.bin_size
    example = torch.zeros(2, 2 * w, INPUT_WIDTH)
    example[:, : w + 1, 0] = float(TRACK)
    batch, nbins = torch.export.Dim("batch", min=1), torch.export.Dim("nbins", min=1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _quiet_export():
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                input_names=["x"],
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes=({0: batch, 1: w * nbins},),
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        tmp.replace(target)
    finally:
        model.train(was_training)
        tmp.unlink(missing_ok=True)
    _log.info("exported %s", target)
    return target


@dataclass(frozen=True)
class MLPFParity:
    """Agreement of the ONNX graph with torch over the real elements of a batch.

    Attributes:
        regression: largest ``|onnx - torch| / max(|torch|, 1)`` of the regression
            outputs (relative above 1, absolute below: eta and the sines cross 0).
        logits: largest absolute difference of any logit.
        same_argmax: the particle, class and pileup argmax agree on every real element.
    """

    regression: float
    logits: float
    same_argmax: bool


def mlpf_onnx_parity(
    model: MLPFModel, path: Path | str, x: npt.ArrayLike, *, threads: int | None = None
) -> MLPFParity:
    """Torch against ONNX Runtime on the padded batch ``x`` ``(batch, n, 17)``, real elements only."""
    arr: F32 = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim != 3 or arr.shape[2] != INPUT_WIDTH:
        raise DataFormatError(f"x: expected shape (batch, n, {INPUT_WIDTH}), got {arr.shape}")
    if arr.shape[1] % model.config.bin_size:
        msg = f"x: expected n a multiple of bin_size = {model.config.bin_size}, got {arr.shape[1]}"
        raise DataFormatError(msg)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = [t.numpy().astype(np.float64) for t in model(torch.from_numpy(arr))]
    finally:
        model.train(was_training)
    got = [o.astype(np.float64) for o in OnnxModel(path, threads=threads).run(arr)]
    real: B = arr[..., 0] > 0.5
    reg_r, reg_g = ref[2][real], got[2][real]
    reg = float(np.max(np.abs(reg_g - reg_r) / np.maximum(np.abs(reg_r), 1.0), initial=0.0))
    logits = max(float(np.max(np.abs(got[i][real] - ref[i][real]), initial=0.0)) for i in (0, 1, 3))
    same = all(
        np.array_equal(np.argmax(got[i][real], -1), np.argmax(ref[i][real], -1)) for i in (0, 1, 3)
    )
    return MLPFParity(regression=reg, logits=logits, same_argmax=same)
