"""A torch network as the list of fixed-point layers that firmware computes.

Shared by :mod:`l1scout.deploy.hls` (hls4ml) and :mod:`l1scout.deploy.fpga`
(da4ml): both need the same flat view of a network, with every weight already
on its fixed-point grid and the format of every tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from numpy.typing import NDArray

__all__ = ["FLOAT_DEFAULT", "Layer", "Plan", "accumulator_format", "plan_network"]

#: Precision of every tensor of a floating-point network (see :mod:`l1scout.deploy.hls`).
FLOAT_DEFAULT = FixedPoint(18, 8)


def accumulator_format(
    data: FixedPoint, weight: FixedPoint, bias: FixedPoint, n_inputs: int
) -> FixedPoint:
    """A signed format that holds any dense-layer sum exactly.

    ``sum_j x_j w_j + b`` over ``n_inputs`` products of values in ``data`` and
    ``weight``: the fractional bits are those of a product or of the bias
    (whichever is finer), the integer bits cover the worst case
    ``n * max|x| * max|w| + max|b|`` (plus the sign bit).

    Examples:
        >>> accumulator_format(FixedPoint(16, 6), FixedPoint(6, 3), FixedPoint(10, 7), 57).hls()
        'ap_fixed<27,14,AP_RND_CONV,AP_SAT>'
    """
    frac = max(data.fractional + weight.fractional, bias.fractional)
    x_max = max(abs(data.min_value), abs(data.max_value))
    w_max = max(abs(weight.min_value), abs(weight.max_value))
    b_max = max(abs(bias.min_value), abs(bias.max_value))
    bound = n_inputs * x_max * w_max + b_max
    integer = math.floor(math.log2(bound)) + 2 if bound > 0 else 1
    return FixedPoint(integer + frac, integer)


@dataclass(frozen=True)
class Layer:
    """One firmware layer.

    Attributes:
        kind: ``"dense"`` or ``"relu"``.
        result: format of the layer output.
        weight: dense weights ``(out, in)``, on the ``weight_format`` grid (float64).
        bias: dense biases ``(out,)``, on the ``bias_format`` grid (float64).
        weight_format, bias_format, accum: the dense layer's formats.
    """

    kind: Literal["dense", "relu"]
    result: FixedPoint
    weight: NDArray[np.float64] | None = None
    bias: NDArray[np.float64] | None = None
    weight_format: FixedPoint | None = None
    bias_format: FixedPoint | None = None
    accum: FixedPoint | None = None

    def precision(self) -> dict[str, str]:
        """The hls4ml ``Precision`` entry of this layer."""
        out = {"result": self.result.hls()}
        if self.kind == "dense":
            assert self.weight_format is not None
            assert self.bias_format is not None
            assert self.accum is not None
            out |= {
                "weight": self.weight_format.hls(),
                "bias": self.bias_format.hls(),
                "accum": self.accum.hls(),
            }
        return out


@dataclass(frozen=True)
class Plan:
    """A network as firmware layers: input format, layers, output format and sizes."""

    input: FixedPoint
    layers: list[Layer]
    output: FixedPoint
    n_inputs: int
    n_outputs: int


def _flatten(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    from torch import nn

    if isinstance(module, nn.Sequential):
        for child in module:
            yield from _flatten(child)
    else:
        yield module


def _fold_batch_norm(
    weight: NDArray[np.float64], bias: NDArray[np.float64], bn: torch.nn.BatchNorm1d
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Dense followed by eval-mode batch norm, as one dense layer (float64)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ConfigError(f"{bn}: batch norm without running statistics cannot be deployed")
    mean = bn.running_mean.detach().double().numpy()
    var = bn.running_var.detach().double().numpy()
    gamma = bn.weight.detach().double().numpy() if bn.weight is not None else np.ones_like(mean)
    beta = bn.bias.detach().double().numpy() if bn.bias is not None else np.zeros_like(mean)
    factor = gamma / np.sqrt(var + bn.eps)
    return weight * factor[:, None], (bias - mean) * factor + beta


def plan_network(
    model: torch.nn.Module,
    n_inputs: int | None,
    spec: QuantSpec | None,
    default: FixedPoint = FLOAT_DEFAULT,
) -> Plan:
    """Walk a fully connected network into firmware layers (in eval mode; the mode is restored).

    Args:
        model: ``Linear`` (optionally followed by ``BatchNorm1d``), ``ReLU``,
            ``Dropout``/``Identity`` layers, or those of
            :func:`~l1scout.deploy.quant.quantized_mlp`, in (nested) ``nn.Sequential``.
        n_inputs: inputs per event (None: the first dense layer's).
        spec: if given, every fixed-point layer's format must equal it.
        default: format of every tensor of floating-point layers.

    Raises:
        ConfigError: an unsupported layer, a size mismatch or a format that
            differs from ``spec`` (the message names the layer).
    """
    was_training = model.training
    model.eval()
    try:
        return _walk(model, n_inputs, spec, default)
    finally:
        model.train(was_training)


def _walk(
    model: torch.nn.Module,
    n_inputs: int | None,
    spec: QuantSpec | None,
    default: FixedPoint,
) -> Plan:
    import torch
    from torch import nn

    from l1scout.deploy._qlayers import FixedPointQuantizer, QuantLinear, QuantReLU

    modules = [
        m for m in _flatten(model) if not isinstance(m, nn.Dropout | nn.Identity | nn.Flatten)
    ]
    if not any(isinstance(m, nn.Linear) for m in modules):
        raise ConfigError(f"{type(model).__name__}: nothing to deploy (no Linear layer)")

    def expect(name: str, got: FixedPoint, where: str) -> None:
        want = getattr(spec, name) if spec is not None else got
        if got != want:
            raise ConfigError(
                f"{where}: format {got.hls()} differs from spec.{name} = {want.hls()}"
            )

    current = default
    first = modules[0]
    skip = 0
    if isinstance(first, FixedPointQuantizer) and first.role == "input":
        expect("input", first.fmt, "layer 0 (input quantizer)")
        current = first.fmt
        skip = 1
    in_format = current
    if n_inputs is None:
        n_inputs = next(m for m in modules if isinstance(m, nn.Linear)).in_features
    if n_inputs < 1:
        raise ConfigError(f"n_inputs must be positive, got {n_inputs}")
    width = n_inputs
    layers: list[Layer] = []
    i = skip
    with torch.no_grad():
        while i < len(modules):
            mod = modules[i]
            where = f"layer {i} ({type(mod).__name__})"
            if isinstance(mod, nn.Linear):
                if mod.in_features != width:
                    raise ConfigError(
                        f"{where}: expects {mod.in_features} inputs, the network gives {width}"
                    )
                if isinstance(mod, QuantLinear):
                    expect("weight", mod.weight_format, where)
                    expect("bias", mod.bias_format, where)
                    w_fmt, b_fmt = mod.weight_format, mod.bias_format
                else:
                    w_fmt = b_fmt = default
                weight = mod.weight.detach().double().numpy()
                bias = (
                    mod.bias.detach().double().numpy()
                    if mod.bias is not None
                    else np.zeros(mod.out_features)
                )
                if i + 1 < len(modules) and isinstance(modules[i + 1], nn.BatchNorm1d):
                    if isinstance(mod, QuantLinear):
                        raise ConfigError(f"{where}: batch norm after a quantized layer")
                    bn = modules[i + 1]
                    assert isinstance(bn, nn.BatchNorm1d)
                    weight, bias = _fold_batch_norm(weight, bias, bn)
                    i += 1
                weight = w_fmt.quantize_numpy(weight).astype(np.float64)
                bias = b_fmt.quantize_numpy(bias).astype(np.float64)
                accum = accumulator_format(current, w_fmt, b_fmt, width)
                nxt = modules[i + 1] if i + 1 < len(modules) else None
                if isinstance(nxt, FixedPointQuantizer):
                    expect("output", nxt.fmt, f"layer {i + 1} (output quantizer)")
                    result = nxt.fmt
                    i += 1
                elif isinstance(mod, QuantLinear):
                    result = accum
                else:
                    result = default
                layers.append(Layer("dense", result, weight, bias, w_fmt, b_fmt, accum))
                current, width = result, mod.out_features
            elif isinstance(mod, nn.ReLU | QuantReLU):
                if isinstance(mod, QuantReLU):
                    expect("activation", mod.fmt, where)
                    current = mod.fmt
                else:
                    current = default
                layers.append(Layer("relu", current))
            else:
                raise ConfigError(
                    f"{where}: cannot deploy this layer; expected Linear, BatchNorm1d after "
                    "Linear, ReLU, Dropout or the layers of quantized_mlp"
                )
            i += 1
    return Plan(in_format, layers, current, n_inputs, width)
