"""The torch side of :mod:`l1scout.deploy.quant`: fake-quantization and its layers.

Kept apart so that importing :mod:`l1scout.deploy.quant` (configuration files do)
does not import torch.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from l1scout.deploy.fixedpoint import FixedPoint

__all__ = ["FixedPointQuantizer", "QuantLinear", "QuantReLU", "fake_quant", "quantize_ste"]


def fake_quant(x: torch.Tensor, fmt: FixedPoint) -> torch.Tensor:
    """The exact ``ap_fixed`` conversion of ``x`` to ``fmt`` (no gradient rule).

    Only exact float operations: power-of-two scalings, rounding, clamping
    (``AP_SAT``) or a floor-based modulo (``AP_WRAP``). Exports to ONNX as
    ``Mul``/``Round``/``Floor``/``Clip``.
    """
    n = x * (2.0**fmt.fractional)
    n = torch.round(n) if fmt.rounding == "RND_CONV" else torch.floor(n)
    if fmt.overflow == "SAT":
        n = torch.clamp(n, float(fmt.int_min), float(fmt.int_max))
    else:
        span = float(1 << fmt.width)
        n = n - torch.floor((n - float(fmt.int_min)) / span) * span
    return n * (2.0**-fmt.fractional)


class _StraightThrough(torch.autograd.Function):
    """Forward: :func:`fake_quant`; backward: the identity."""

    @staticmethod
    def forward(x: torch.Tensor, fmt: FixedPoint) -> torch.Tensor:
        return fake_quant(x, fmt)

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ARG004
        return grads[0], None


def quantize_ste(x: torch.Tensor, fmt: FixedPoint) -> torch.Tensor:
    """:func:`fake_quant` forward, identity gradient while autograd records."""
    if torch.is_grad_enabled() and x.requires_grad:
        out: torch.Tensor = _StraightThrough.apply(x, fmt)  # type: ignore[no-untyped-call]
        return out
    return fake_quant(x, fmt)


class FixedPointQuantizer(nn.Module):
    """Rounds its input to a fixed-point format (the network input or output).

    Attributes:
        fmt: the format.
        role: ``"input"`` (the values the firmware receives) or ``"output"``.
    """

    def __init__(self, fmt: FixedPoint, role: Literal["input", "output"]) -> None:
        super().__init__()
        self.fmt = fmt
        self.role = role

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantize_ste(x, self.fmt)

    def extra_repr(self) -> str:
        return f"{self.fmt.hls()}, role={self.role}"


class QuantLinear(nn.Linear):
    """A dense layer whose weights and biases are fixed-point on every forward pass.

    The float parameters are the latent values that training updates; the layer
    computes with their quantized values and leaves the sum exact.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        weight_format: FixedPoint,
        bias_format: FixedPoint,
    ) -> None:
        super().__init__(in_features, out_features, bias=True)
        self.weight_format = weight_format
        self.bias_format = bias_format

    def quantized_weight(self) -> torch.Tensor:
        """The weights as the firmware holds them."""
        return quantize_ste(self.weight, self.weight_format)

    def quantized_bias(self) -> torch.Tensor:
        """The biases as the firmware holds them."""
        return quantize_ste(self.bias, self.bias_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight(), self.quantized_bias())

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, weight={self.weight_format.hls()}, "
            f"bias={self.bias_format.hls()}"
        )


class QuantReLU(nn.Module):
    """ReLU, then rounding to the activation format."""

    def __init__(self, fmt: FixedPoint) -> None:
        super().__init__()
        self.fmt = fmt

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantize_ste(torch.relu(x), self.fmt)

    def extra_repr(self) -> str:
        return self.fmt.hls()
