"""The three event classifiers: object transformer, object MLP, particle DeepSets.

All three take ``forward(x, mask)`` and return class logits ``(n, n_classes)``
(softmax gives the class probabilities), so they train, export and run the
same way:

* ``transformer`` (:class:`ObjectTransformer`), the public baseline's small
  transformer on the 37 object tokens of :func:`~l1scout.tasks.classify.inputs.event_objects`:
  ``x`` (n, T, F), ``mask`` (n, T). A per-token embedding ``F -> width ->
  width`` (GELU), ``n_layers`` pre-LayerNorm encoder layers (Vaswani et al.,
  arXiv:1706.03762; ``nn.TransformerEncoderLayer`` with ``norm_first``, GELU,
  ``n_heads`` heads, feed-forward ``ff_dim``), no positional encoding (the
  tokens carry their group and pT, so the model is a set function), masked
  mean pooling, and a head ``width + 1 -> hidden -> n_classes`` (GELU) on the
  pooled vector and the multiplicity ln(1 + real tokens) (a mean alone
  cannot count). Public size: width 512,
  8 heads, 4 layers, feed-forward 256 (the defaults of
  :class:`ClassifierModelConfig`).
* ``mlp`` (:class:`ObjectMLP`), the public baseline's MLP on the flat object
  input: ``x`` (n, D), ``mask`` (n, 1) ignored (it is still a graph input, so
  every model exports with the same two inputs). ``hidden_layers`` dense
  layers of ``hidden`` units (GELU, dropout), then ``hidden -> n_classes``.
  Public size: 512 hidden units (default 2 layers of 512).
* ``particles`` (:class:`ParticleDeepSets`), our particle-level model on the
  128 highest-pT PUPPI candidates (:func:`~l1scout.tasks.classify.inputs.event_particles`):
  a DeepSets network (Zaheer et al., arXiv:1703.06114; as the energy-flow
  networks of Komiske, Metodiev, Thaler, arXiv:1810.05165): a per-candidate
  network phi of ``hidden_layers`` dense layers of ``hidden`` units (GELU),
  masked mean pooling plus the multiplicity ln(1 + real candidates), and rho ``hidden + 1 -> hidden ->
  n_classes``. A DeepSets rather than a transformer: attention over 128
  candidates at the public width costs about 0.77 GMACs per event, the DeepSets
  at width 512 about 35 MMACs, which a CPU trains.

**Standardisation.** Every model starts with ``(x - mean) / std`` per
feature, held as buffers (``x_mean``, ``x_std``) so that the ONNX graph
carries it; :func:`fit_standardization` sets them from training data (over the
real entries; a constant feature gets std 1). Padded tokens are zeroed after
it.

**Padding.** Padded tokens are masked as attention keys and left out of the
pooling, so a real event's logits do not depend on them or on the token
order. An event with no real token would leave every key masked (NaN in the
softmax): for such events only, slot 0 is unmasked as a key, and the pooling
over zero tokens gives the zero vector: finite logits.

**ONNX** (:func:`export_classifier_onnx`): inputs ``x`` float32 and ``mask``
bool, output ``logits``; a dynamic batch axis, traced on a batch of 2;
:func:`classifier_onnx_parity` compares ONNX Runtime with torch.

Example:
    >>> import torch
    >>> cfg = ClassifierModelConfig(kind="transformer", width=16, n_heads=2, n_layers=1,
    ...                             ff_dim=32, hidden=16)
    >>> model = build_classifier(cfg, n_features=13, n_tokens=37, n_classes=18).eval()
    >>> x, mask = torch.randn(3, 37, 13), torch.rand(3, 37) > 0.5
    >>> mask[2] = False  # an empty event
    >>> logits = model(x, mask)
    >>> tuple(logits.shape), bool(torch.isfinite(logits).all())
    ((3, 18), True)
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal, Self

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from l1scout.deploy.onnx import OPSET
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "ClassifierModelConfig",
    "EventClassifier",
    "ObjectMLP",
    "ObjectTransformer",
    "ParticleDeepSets",
    "build_classifier",
    "classifier_onnx_parity",
    "export_classifier_onnx",
    "fit_standardization",
]

_log = logging.getLogger(__name__)

PositiveInt = Annotated[int, Field(ge=1)]
#: A feature whose standard deviation is below this is not scaled (std set to 1).
_MIN_STD = 1e-6


class ClassifierModelConfig(BaseModel):
    """One classifier and its size (module docstring); the defaults are the public sizes.

    Attributes:
        kind: ``transformer`` (object tokens), ``mlp`` (flat objects) or
            ``particles`` (DeepSets on PUPPI candidates).
        width: the transformer's token width (512).
        n_heads: attention heads (8); must divide ``width``.
        n_layers: encoder layers (4).
        ff_dim: feed-forward width of each encoder layer (256).
        hidden: hidden units of the MLP's layers, of the DeepSets' phi and rho,
            and of the transformer's head (512).
        hidden_layers: dense layers of ``hidden`` units in the MLP and in the
            DeepSets' phi (2).
        dropout: dropout while training (encoder layers, MLP layers).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: Literal["transformer", "mlp", "particles"]
    width: PositiveInt = 512
    n_heads: PositiveInt = 8
    n_layers: PositiveInt = 4
    ff_dim: PositiveInt = 256
    hidden: PositiveInt = 512
    hidden_layers: PositiveInt = 2
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> Self:
        if self.kind == "transformer" and self.width % self.n_heads:
            msg = f"n_heads: must divide width = {self.width}, got {self.n_heads}"
            raise ValueError(msg)
        return self


class EventClassifier(nn.Module):
    """Base of the three classifiers: the input standardisation and the sizes.

    Attributes:
        kind: the :attr:`ClassifierModelConfig.kind`.
        n_features: features per token (set models) or inputs (MLP).
        n_tokens: tokens per event (1 for the MLP).
        n_classes: outputs.
    """

    kind: str
    x_mean: torch.Tensor
    x_std: torch.Tensor

    def __init__(self, n_features: int, n_tokens: int, n_classes: int) -> None:
        super().__init__()
        self.n_features, self.n_tokens, self.n_classes = n_features, n_tokens, n_classes
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_std", torch.ones(n_features))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - x_mean) / x_std`` per feature (the last axis)."""
        return (x - self.x_mean) / self.x_std

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero inputs of the model's shapes (every token real): ``(x, mask)``."""
        if self.kind == "mlp":
            return torch.zeros(batch, self.n_features), torch.ones(batch, 1, dtype=torch.bool)
        x = torch.zeros(batch, self.n_tokens, self.n_features)
        return x, torch.ones(batch, self.n_tokens, dtype=torch.bool)


def _key_padding(mask: torch.Tensor) -> torch.Tensor:
    """Keys to ignore: the padded tokens, except slot 0 of an event without any real token."""
    empty = ~mask.any(dim=1, keepdim=True)
    first = torch.zeros_like(mask)
    first[:, 0] = True
    return ~mask & ~(empty & first)


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``h`` (n, T, d) over the real tokens, and ln(1 + real tokens): (n, d + 1).

    The mean is 0 for an event without real tokens.
    """
    w = mask.to(h.dtype).unsqueeze(-1)
    count = w.sum(dim=1)
    pooled = (h * w).sum(dim=1) / count.clamp(min=1.0)
    return torch.cat([pooled, torch.log1p(count)], dim=-1)


def _dense_stack(n_in: int, width: int, n_layers: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n_layers):
        layers += [nn.Linear(n_in, width), nn.GELU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    return nn.Sequential(*layers)


class ObjectTransformer(EventClassifier):
    """The object-token transformer (module docstring)."""

    kind = "transformer"

    def __init__(self, cfg: ClassifierModelConfig, n_features: int, n_tokens: int, n_classes: int):
        super().__init__(n_features, n_tokens, n_classes)
        d = cfg.width
        self.embed = nn.Sequential(nn.Linear(n_features, d), nn.GELU(), nn.Linear(d, d))
        self.encoder = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d,
                cfg.n_heads,
                cfg.ff_dim,
                dropout=cfg.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Sequential(
            nn.Linear(d + 1, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, n_classes)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, n_classes)`` of tokens ``x`` (n, T, F) with ``mask`` (n, T)."""
        real = mask.unsqueeze(-1).to(x.dtype)
        h = self.embed(self.standardize(x) * real)
        pad = _key_padding(mask)
        for layer in self.encoder:
            h = layer(h, src_key_padding_mask=pad)
        out: torch.Tensor = self.head(_masked_mean(self.norm(h), mask))
        return out


class ObjectMLP(EventClassifier):
    """The flat-object MLP (module docstring); ``mask`` is accepted and ignored."""

    kind = "mlp"

    def __init__(self, cfg: ClassifierModelConfig, n_features: int, n_classes: int):
        super().__init__(n_features, 1, n_classes)
        self.body = _dense_stack(n_features, cfg.hidden, cfg.hidden_layers, cfg.dropout)
        self.out = nn.Linear(cfg.hidden, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, n_classes)`` of the flat inputs ``x`` (n, D); ``mask`` (n, 1) is ignored."""
        # the mask stays an input of the traced graph (multiplied in as exact zeros)
        keep = mask[:, :1].to(x.dtype) * 0.0
        out: torch.Tensor = self.out(self.body(self.standardize(x))) + keep
        return out


class ParticleDeepSets(EventClassifier):
    """The particle-level DeepSets (module docstring)."""

    kind = "particles"

    def __init__(self, cfg: ClassifierModelConfig, n_features: int, n_tokens: int, n_classes: int):
        super().__init__(n_features, n_tokens, n_classes)
        self.phi = _dense_stack(n_features, cfg.hidden, cfg.hidden_layers, 0.0)
        self.rho = nn.Sequential(
            nn.Linear(cfg.hidden + 1, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, n_classes)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, n_classes)`` of candidates ``x`` (n, T, F) with ``mask`` (n, T)."""
        real = mask.unsqueeze(-1).to(x.dtype)
        h = self.phi(self.standardize(x) * real)
        out: torch.Tensor = self.rho(_masked_mean(h, mask))
        return out


def build_classifier(
    cfg: ClassifierModelConfig, n_features: int, n_tokens: int, n_classes: int
) -> EventClassifier:
    """The classifier of *cfg* for inputs of *n_features* per token and *n_tokens* tokens.

    For the MLP, *n_features* is the flat input width D and *n_tokens* is ignored.

    Raises:
        ConfigError: a size is not a positive integer, or fewer than 2 classes.

    >>> m = build_classifier(ClassifierModelConfig(kind="mlp", hidden=8), 247, 1, 18)
    >>> m.kind, sum(p.numel() for p in m.parameters())
    ('mlp', 2218)
    """
    for name, value in (("n_features", n_features), ("n_tokens", n_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ConfigError(f"n_classes: expected an integer >= 2, got {n_classes!r}")
    if cfg.kind == "transformer":
        return ObjectTransformer(cfg, n_features, n_tokens, n_classes)
    if cfg.kind == "mlp":
        return ObjectMLP(cfg, n_features, n_classes)
    return ParticleDeepSets(cfg, n_features, n_tokens, n_classes)


def _as_tensors(
    model: EventClassifier, x: npt.ArrayLike | torch.Tensor, mask: npt.ArrayLike | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` float32 and ``mask`` bool as tensors, checked against the model's shapes."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x)
    mt = torch.as_tensor(
        np.asarray(mask, dtype=np.bool_) if not isinstance(mask, torch.Tensor) else mask
    )
    xt, mt = xt.to(torch.float32), mt.to(torch.bool)
    want = (model.n_features,) if model.kind == "mlp" else (model.n_tokens, model.n_features)
    if xt.ndim != len(want) + 1 or tuple(xt.shape[1:]) != want:
        raise DataFormatError(
            f"x: expected shape (n, {', '.join(map(str, want))}), got {tuple(xt.shape)}"
        )
    want_mask = (xt.shape[0], 1 if model.kind == "mlp" else model.n_tokens)
    if tuple(mt.shape) != want_mask:
        raise DataFormatError(f"mask: expected shape {want_mask}, got {tuple(mt.shape)}")
    return xt, mt


def fit_standardization(
    model: EventClassifier, x: npt.ArrayLike | torch.Tensor, mask: npt.ArrayLike | torch.Tensor
) -> None:
    """Set the model's ``x_mean`` and ``x_std`` from training inputs.

    The mean and standard deviation of every feature over the real entries
    (the tokens where *mask* is True; every row for the MLP); a feature with
    std below 1e-6 (or no real entry) keeps std 1.

    Raises:
        DataFormatError: shapes that do not fit the model, or non-finite inputs.

    >>> m = build_classifier(ClassifierModelConfig(kind="particles", hidden=4), 2, 3, 2)
    >>> x = np.array([[[1.0, 5.0], [3.0, 5.0], [99.0, 99.0]]])
    >>> fit_standardization(m, x, [[True, True, False]])
    >>> m.x_mean.tolist(), m.x_std.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """
    xt, mt = _as_tensors(model, x, mask)
    rows = xt if model.kind == "mlp" else xt[mt]
    values = rows.to(torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise DataFormatError("x: the training inputs hold NaN or infinite values")
    if values.shape[0] == 0:
        mean = torch.zeros(model.n_features, dtype=torch.float64)
        std = torch.ones(model.n_features, dtype=torch.float64)
    else:
        mean = values.mean(dim=0)
        std = values.std(dim=0, unbiased=False)
        std = torch.where(std < _MIN_STD, torch.ones_like(std), std)
    with torch.no_grad():
        model.x_mean.copy_(mean.to(torch.float32))
        model.x_std.copy_(std.to(torch.float32))


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Send the exporter's progress lines to the log and drop its known warnings."""
    noisy = [
        logging.getLogger(n)
        for n in ("torch.onnx._internal.exporter._registration", "onnx_ir", "onnxscript")
    ]
    levels = [lg.level for lg in noisy]
    stdout = io.StringIO()
    try:
        for lg in noisy:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(stdout):
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\..*")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            warnings.filterwarnings("ignore", message=r".*enable_nested_tensor.*")
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\..*")
            yield
    finally:
        for lg, level in zip(noisy, levels, strict=True):
            lg.setLevel(level)
        for line in stdout.getvalue().splitlines():
            _log.debug("torch.onnx: %s", line)


def export_classifier_onnx(
    model: EventClassifier,
    path: Path | str,
    example_x: npt.ArrayLike | torch.Tensor,
    example_mask: npt.ArrayLike | torch.Tensor,
) -> Path:
    """Write *model* as ONNX: inputs ``x`` (float32) and ``mask`` (bool), output ``logits``.

    Traced in eval mode on the first two events of the example (repeated when
    there is one) with a dynamic batch axis; the token and feature axes are
    fixed. The file is written atomically (temporary name, rename).

    Raises:
        DataFormatError: example inputs that do not fit the model, or none.
    """
    xt, mt = _as_tensors(model, example_x, example_mask)
    if xt.shape[0] == 0:
        raise DataFormatError("example_x: expected at least one event to trace the model on")
    idx = torch.tensor([0, 1 if xt.shape[0] > 1 else 0])
    xt, mt = xt[idx].contiguous(), mt[idx].contiguous()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    batch = torch.export.Dim("batch", min=1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _quiet_export():
            torch.onnx.export(
                model,
                (xt, mt),
                str(tmp),
                input_names=["x", "mask"],
                output_names=["logits"],
                dynamic_shapes=({0: batch}, {0: batch}),
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


def classifier_onnx_parity(
    model: EventClassifier,
    path: Path | str,
    x: npt.ArrayLike | torch.Tensor,
    mask: npt.ArrayLike | torch.Tensor,
) -> float:
    """Largest ``|torch - ONNX|`` of the logits, relative to the largest ``|torch|`` logit.

    Both run in float32 on the CPU (ONNX Runtime, all graph optimisations).

    Raises:
        DataFormatError: inputs that do not fit, or an ONNX file that does not load.
    """
    import onnxruntime as ort

    xt, mt = _as_tensors(model, x, mask)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = model(xt, mt).numpy().astype(np.float64)
    finally:
        model.train(was_training)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise DataFormatError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
    feeds = {"x": xt.numpy(), "mask": mt.numpy()}
    names = {i.name for i in session.get_inputs()}
    got = np.asarray(
        session.run(None, {k: v for k, v in feeds.items() if k in names})[0], dtype=np.float64
    )
    if got.shape != ref.shape:
        raise DataFormatError(f"{path}: output shape {got.shape}, torch gives {ref.shape}")
    if ref.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(ref))), float(np.finfo(np.float32).tiny))
    return float(np.max(np.abs(got - ref))) / scale
