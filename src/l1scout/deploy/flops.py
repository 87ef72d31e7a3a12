"""Operations per inference of a network: multiply-accumulates, FLOPs, parameters.

Conventions (per event, batch size one):

* a dense layer ``n_in -> n_out`` is ``n_in * n_out`` multiply-accumulates
  (MACs). The re-calibration study (``docs/physics/l1-algorithms.md``, section
  on inference operations) estimates ``S H_n (D + N_l H_n + T)``, one
  ``H_n -> H_n`` layer more than a network of ``N_l`` hidden layers has: its
  "NN 128x4" (4 -> 128 x 4 -> 3) is 50,048 MACs here against its 66,432
  (:mod:`l1scout.tasks.recalib.ops`);
* FLOPs count a MAC as two operations (a multiplication and an addition), plus
  one addition per bias, two per feature for an eval-mode batch norm (a scale and
  a shift), and one per element for an activation (a comparison for ReLU; a
  table lookup in firmware for the others);
* the fixed-point quantizers of :mod:`l1scout.deploy.quant` are casts, not
  arithmetic: zero operations; dropout, identity and reshaping layers: zero.

The count follows the tensors of one forward pass (forward hooks on the leaf
modules), so any composition of the supported layers is counted, including
models with several outputs; a layer type it does not know raises
:class:`~l1scout.errors.ConfigError` rather than being skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["OpCount", "count_ops"]


@dataclass(frozen=True)
class OpCount:
    """Operations of one inference.

    Attributes:
        macs: multiply-accumulates of the dense layers.
        flops: all arithmetic operations (see the module docstring).
        params: trainable parameters of the counted layers.
    """

    macs: int
    flops: int
    params: int


_ACTIVATIONS = (
    "ReLU",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Tanh",
    "Sigmoid",
    "Softplus",
    "Hardtanh",
    "QuantReLU",
)
_FREE = ("Dropout", "Identity", "Flatten", "Unflatten", "FixedPointQuantizer")


def count_ops(model: torch.nn.Module, n_inputs: int) -> OpCount:
    """Count the operations of one inference of ``model`` on ``n_inputs`` features.

    Examples:
        >>> from l1scout.deploy.quant import float_mlp
        >>> count_ops(float_mlp([4, 32, 32, 32, 32, 3]), 4)
        OpCount(macs=3296, flops=6851, params=3427)
    """
    import torch
    from torch import nn

    if n_inputs < 1:
        raise ConfigError(f"n_inputs must be positive, got {n_inputs}")
    macs = flops = params = 0
    seen: set[int] = set()

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal macs, flops, params
        name = type(module).__name__
        out = output[0] if isinstance(output, tuple | list) else output
        if not isinstance(out, torch.Tensor):
            raise ConfigError(f"{name}: cannot count a layer that does not return a tensor")
        first_use = id(module) not in seen
        seen.add(id(module))
        if isinstance(module, nn.Linear):
            rows = out.numel() // module.out_features
            mac = rows * module.in_features * module.out_features
            macs += mac
            flops += 2 * mac + (rows * module.out_features if module.bias is not None else 0)
        elif isinstance(module, nn.BatchNorm1d):
            flops += 2 * out.numel()
        elif name in _ACTIVATIONS:
            flops += out.numel()
        elif name not in _FREE:
            raise ConfigError(
                f"count_ops: no operation count for layer {name}; expected Linear, BatchNorm1d, "
                f"an activation ({', '.join(_ACTIVATIONS)}) or {', '.join(_FREE)}"
            )
        if first_use:
            params += sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)

    for name, module in model.named_modules():
        if next(module.children(), None) is not None and any(
            True for _ in module.parameters(recurse=False)
        ):
            raise ConfigError(
                f"count_ops: module {name or type(module).__name__} holds parameters of its own "
                "outside a countable layer"
            )
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, n_inputs))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return OpCount(macs=macs, flops=flops, params=params)
