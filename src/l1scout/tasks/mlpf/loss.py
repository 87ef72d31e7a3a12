"""The MLPF loss: particle/none, focal class loss, sqrt(pT)-weighted regression, pileup.

The loss of the MLPF reference implementation (jpata/particleflow; Pata et al.,
Commun. Phys. 7 (2024) 124; the pileup head from CMS-PFT-25-001,
arXiv:2601.17554), on the outputs of :class:`~l1scout.tasks.mlpf.model.MLPFModel`.
With *real* the non-padding elements and *true* the real elements whose
target is a particle (``is_particle == 1``), per batch:

* ``particle`` = 10 x mean over real elements of the cross-entropy of the
  particle logits against ``is_particle``;
* ``class`` = mean over true elements of the focal loss (Lin et al.,
  arXiv:1708.02002) ``-(1 - p_t)^gamma ln p_t`` of the class logits, gamma = 2,
  ``p_t`` the softmax probability of the target class (gamma = 0: cross-entropy);
* ``regression`` = sum over the five outputs ``j`` of the mean over true elements
  of ``w_j (prediction_j - target_j)^2``, where ``w`` = sqrt(target pT / 1 GeV)
  for ``log_pt_ratio`` and ``log_e_ratio`` and 1 for ``eta``, ``sin_phi`` and
  ``cos_phi`` (the mean divides by the number of true elements, not by the sum
  of the weights); the targets are :func:`regression_targets`;
* ``pileup`` = mean over true elements of the cross-entropy of the pileup logits
  against the label ``pu_fraction == 1`` (taken as ``pu_fraction >=
  pileup_fraction_min``, 1 - 1e-6, so that a sum of floats that should be 1
  counts).

The total is ``particle + class + regression + pileup``, each part times its
weight in :class:`MLPFLossConfig` (the 10 is ``particle_weight``). A batch with no
true element has zero class, regression and pileup parts. Padding elements
contribute nothing.

Example:
    >>> import torch
    >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
    >>> ce = torch.nn.functional.cross_entropy(logits, torch.tensor([0]))
    >>> bool(torch.isclose(focal_loss(logits, torch.tensor([0]), 0.0)[0], ce))
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F  # noqa: N812 - torch's own convention

from l1scout._arrays import flat_array
from l1scout._types import F32
from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf.features import ElementBatch, Elements
from l1scout.tasks.mlpf.model import OUTPUT_NAMES, REGRESSION_NAMES
from l1scout.tasks.mlpf.targets import CLASS_NAMES

__all__ = [
    "LOSS_PARTS",
    "TARGET_NAMES",
    "MLPFLossConfig",
    "TargetBatch",
    "batch_targets",
    "focal_loss",
    "mlpf_loss",
    "regression_targets",
]

#: Per-element target arrays (of :mod:`l1scout.tasks.mlpf.targets`) the loss reads.
TARGET_NAMES: tuple[str, ...] = (
    "is_particle",
    "cls",
    "pt",
    "eta",
    "sin_phi",
    "cos_phi",
    "energy",
    "pu_fraction",
)
#: Keys of :func:`mlpf_loss`'s result besides ``total`` (the weighted parts, then the
#: unweighted regression terms).
LOSS_PARTS: tuple[str, ...] = (
    "particle",
    "class",
    "regression",
    "pileup",
    *(f"regression_{n}" for n in REGRESSION_NAMES),
)
_PT_WEIGHTED = (0, 4)  # the log_pt_ratio and log_e_ratio columns

NonNegative = Annotated[float, Field(ge=0.0)]


class MLPFLossConfig(BaseModel):
    """Weights of the loss parts (defaults: the reference's, module docstring).

    Attributes:
        particle_weight: weight of the particle/none cross-entropy (10).
        class_weight: weight of the focal class loss (1).
        focal_gamma: focusing exponent of the class loss (2; 0 is cross-entropy).
        regression_weight: weight of the regression sum (1).
        pileup_weight: weight of the pileup cross-entropy (1).
        pileup_fraction_min: pileup fractions at or above it count as 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    particle_weight: NonNegative = 10.0
    class_weight: NonNegative = 1.0
    focal_gamma: NonNegative = 2.0
    regression_weight: NonNegative = 1.0
    pileup_weight: NonNegative = 1.0
    pileup_fraction_min: float = Field(default=1.0 - 1e-6, gt=0.0, le=1.0)


@dataclass(frozen=True)
class TargetBatch:
    """Targets laid out like the model's outputs, ``(batch, n)`` unless noted.

    Attributes:
        mask: bool, True for real elements.
        is_particle: int64 0/1 (0 in padding).
        cls: int64 class, :data:`~l1scout.tasks.mlpf.targets.CLASS_NAMES` order.
        regression: float32 ``(batch, n, 5)``, :func:`regression_targets`.
        pt: float32 target pT (GeV; 0 where no particle), for the weights.
        pileup: int64 pileup label (1: pileup fraction 1).
    """

    mask: torch.Tensor
    is_particle: torch.Tensor
    cls: torch.Tensor
    regression: torch.Tensor
    pt: torch.Tensor
    pileup: torch.Tensor


def regression_targets(
    targets: Mapping[str, npt.ArrayLike], element_pt: npt.ArrayLike, element_energy: npt.ArrayLike
) -> F32:
    """The regression targets ``(n, 5)`` of flat elements (:data:`REGRESSION_NAMES` order).

    ``ln(pT / element pT)``, eta, sin phi, cos phi, ``ln(E / element E)`` where
    ``is_particle`` is 1; zeros elsewhere.

    Raises:
        DataFormatError: a missing target, a wrong length, a NaN, or a particle
            with pT or energy <= 0.

    >>> t = {"is_particle": [1, 0], "pt": [20.0, 0.0], "eta": [0.5, 0.0], "sin_phi": [1.0, 0.0],
    ...      "cos_phi": [0.0, 1.0], "energy": [30.0, 0.0]}
    >>> regression_targets(t, [10.0, 5.0], [30.0, 5.0]).astype(float).round(3).tolist()
    [[0.693, 0.5, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    e_pt = flat_array(element_pt, "element_pt")
    n = len(e_pt)
    e_e = flat_array(element_energy, "element_energy", n)
    cols = _targets(targets, ("is_particle", "pt", "eta", "sin_phi", "cos_phi", "energy"), n)
    part = cols["is_particle"] > 0.5
    for name, values in (("pt", cols["pt"]), ("energy", cols["energy"])):
        if np.any(part & (values <= 0)):
            raise DataFormatError(f"targets.{name}: expected positive values for particles")
    for name, values in (("element_pt", e_pt), ("element_energy", e_e)):
        if np.any(values <= 0):
            raise DataFormatError(f"{name}: expected positive values")
    out = np.zeros((n, len(REGRESSION_NAMES)), dtype=np.float32)
    pt_t, e_t = np.where(part, cols["pt"], 1.0), np.where(part, cols["energy"], 1.0)
    reg = (
        np.log(pt_t / e_pt),
        cols["eta"],
        cols["sin_phi"],
        cols["cos_phi"],
        np.log(e_t / e_e),
    )
    for j, col in enumerate(reg):
        out[:, j] = np.where(part, col, 0.0)
    return out


def _targets(
    targets: Mapping[str, npt.ArrayLike], names: Sequence[str], n: int
) -> dict[str, npt.NDArray[np.float64]]:
    missing = [k for k in names if k not in targets]
    if missing:
        raise DataFormatError(f"targets: missing {', '.join(missing)}; expected {', '.join(names)}")
    return {k: flat_array(targets[k], f"targets.{k}", n) for k in names}


def batch_targets(
    batch: ElementBatch,
    elements: Elements,
    targets: Mapping[str, npt.ArrayLike],
    *,
    pileup_fraction_min: float = MLPFLossConfig().pileup_fraction_min,
) -> TargetBatch:
    """The targets of the flat elements (:data:`TARGET_NAMES`) laid out like *batch*.

    Raises:
        DataFormatError: a missing target, a wrong length, a NaN, a class
            outside 0-5, a particle of class 0 or a class without a particle.
    """
    n = len(elements.kind)
    cols = _targets(targets, TARGET_NAMES, n)
    is_part = cols["is_particle"]
    cls = cols["cls"]
    if np.any((is_part != 0) & (is_part != 1)):
        raise DataFormatError("targets.is_particle: expected 0 or 1")
    if np.any((cls != np.round(cls)) | (cls < 0) | (cls >= len(CLASS_NAMES))):
        raise DataFormatError(f"targets.cls: expected integers in [0, {len(CLASS_NAMES)})")
    if np.any((cls > 0) != (is_part > 0)):
        raise DataFormatError("targets.cls: expected a class > 0 exactly where is_particle is 1")
    reg = regression_targets(cols, elements.pt, elements.energy)
    pileup = (cols["pu_fraction"] >= pileup_fraction_min).astype(np.int64)
    return TargetBatch(
        mask=torch.from_numpy(batch.mask.copy()),
        is_particle=torch.from_numpy(batch.gather(is_part.astype(np.int64))),
        cls=torch.from_numpy(batch.gather(cls.astype(np.int64))),
        regression=torch.from_numpy(batch.gather(reg)),
        pt=torch.from_numpy(
            batch.gather(np.where(is_part > 0, cols["pt"], 0.0).astype(np.float32))
        ),
        pileup=torch.from_numpy(batch.gather(pileup)),
    )


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Per-row focal loss ``-(1 - p_t)^gamma ln p_t`` of ``logits`` ``(m, k)`` and class ``target`` ``(m,)``.

    >>> round(float(focal_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1]), 2.0)[0]), 4)  # 0.25 ln 2
    0.1733
    """
    log_p = F.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return -((1.0 - log_p.exp()) ** gamma) * log_p


def _mean(values: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    return values.sum() / count.clamp(min=1)


def mlpf_loss(
    outputs: Sequence[torch.Tensor], targets: TargetBatch, config: MLPFLossConfig | None = None
) -> dict[str, torch.Tensor]:
    """The loss of a batch (module docstring): ``total`` and :data:`LOSS_PARTS`.

    Args:
        outputs: the model's four outputs (:data:`~l1scout.tasks.mlpf.model.OUTPUT_NAMES`).
        targets: :func:`batch_targets` of the same batch.
        config: the weights (None: the defaults).

    Returns:
        Scalar tensors: ``total`` (differentiable), the weighted parts and the
        unweighted ``regression_<name>`` terms.
    """
    cfg = config or MLPFLossConfig()
    if len(outputs) != len(OUTPUT_NAMES):
        raise DataFormatError(f"outputs: expected {len(OUTPUT_NAMES)} tensors, got {len(outputs)}")
    part_logits, cls_logits, reg, pu_logits = outputs
    if reg.shape != targets.regression.shape:
        msg = f"outputs: regression shape {tuple(reg.shape)}, targets {tuple(targets.regression.shape)}"
        raise DataFormatError(msg)
    real = targets.mask
    true = real & (targets.is_particle == 1)
    n_real, n_true = real.sum(), true.sum()
    ce = F.cross_entropy(part_logits[real], targets.is_particle[real], reduction="sum")
    out: dict[str, torch.Tensor] = {"particle": cfg.particle_weight * ce / n_real.clamp(min=1)}
    fl = focal_loss(cls_logits[true], targets.cls[true], cfg.focal_gamma)
    out["class"] = cfg.class_weight * _mean(fl, n_true)
    sq = (reg[true] - targets.regression[true]) ** 2
    w = targets.pt[true].clamp(min=0.0).sqrt()
    terms = {}
    for j, name in enumerate(REGRESSION_NAMES):
        col = sq[:, j] * w if j in _PT_WEIGHTED else sq[:, j]
        terms[f"regression_{name}"] = _mean(col, n_true)
    out["regression"] = cfg.regression_weight * torch.stack(list(terms.values())).sum()
    pu = F.cross_entropy(pu_logits[true], targets.pileup[true], reduction="sum")
    out["pileup"] = cfg.pileup_weight * _mean(pu, n_true)
    out["total"] = out["particle"] + out["class"] + out["regression"] + out["pileup"]
    return {"total": out["total"], **{k: out[k] for k in LOSS_PARTS[:4]}, **terms}
