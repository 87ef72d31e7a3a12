"""Quantization-aware layers and networks that hls4ml reproduces bit for bit.

The formats are :class:`~l1scout.deploy.fixedpoint.FixedPoint` and
:class:`~l1scout.deploy.fixedpoint.QuantSpec`. :func:`quantized_mlp` builds the
deployed AXOL1TL-style network (CMS-DP-2023-079; ``docs/physics/l1-algorithms.md``): an input quantizer (the scaled inputs
as the firmware receives them), dense layers whose weights and biases are
quantized on every forward pass (weights 6 bits with 3 integer, biases 10 bits
with 7 integer, the deployed trigger's formats), and quantized ReLUs. Training
uses the straight-through estimator: the forward pass is the exact fixed-point
value, the backward pass the identity (Bengio et al., arXiv:1308.3432), as QKeras
and HGQ do. The pre-activation sums are left exact, as the firmware's
accumulators are (see :func:`l1scout.deploy.hls.accumulator_format`); only
layer outputs are rounded.

Why not a maintained quantization library
-----------------------------------------
HGQ2 or Brevitas-via-QONNX would be preferred where they reach the deployment
bar (bit-exact emulation, ONNX parity). Measured on this project's environment
(torch 2.13, brevitas 0.13.4, qonnx 1.0, hls4ml 1.3.0):

* HGQ2 is a Keras 3 library (its layers are Keras layers even on Keras' torch
  backend) and neither ``keras`` nor ``hgq`` is installed; the models here are
  ``torch.nn`` modules trained by a PyTorch loop and exported with
  ``torch.onnx``.
* Brevitas layers with constant power-of-two scales (``ScalingImplType.CONST``,
  ``RestrictValueType.POWER_OF_TWO``) do reproduce the formats above (weight
  scale 1/8, bias scale 1/8, input scale 2**-10). But
  ``brevitas.export.export_qonnx`` stops with ``ModuleNotFoundError:
  Installation of onnx and onnxoptimizer is required`` (``onnxoptimizer`` is not
  a dependency of this project), so there is no QONNX file for hls4ml's ONNX
  front end to read; hls4ml's PyTorch front end treats Brevitas modules as
  leaves but has no handler for them (``Exception: Unsupported layer
  QuantIdentity``); and importing ``brevitas.export`` emits a ``UserWarning``
  (``fast_hadamard_transform package not found``), an error under this
  project's ``filterwarnings = error``. The route would also add QONNX
  clean-up passes and hls4ml's Quant-node optimisers between the trained model
  and the firmware, where the precision of each tensor is inferred rather than
  set.

So the layers here are a few lines of our own: a rounding, a clamp and two
exact power-of-two multiplications. They export to ONNX as ``Mul``/``Round``/
``Clip`` (parity with torch to 0 in float32), and hls4ml's PyTorch converter
reads the same network as plain ``Linear``/``ReLU`` layers with the formats set
per layer, which is what makes the emulation bit-exact.

Exactness in float32: every value of a format up to 24 bits wide is an exact
float32, and power-of-two scalings are exact, so :func:`quantize` is exact. A
dense layer's sum is exact in float32 while its partial sums stay below
``2**(24 - f)`` for ``f`` fractional bits of the products (``2**11`` for the
first layer of the default spec: 57 inputs of magnitude below 3 with weights
below 4 stay far under it); beyond that an inexact sum (off by one float32 ulp)
can only change a result that lies within that ulp of a rounding boundary.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["float_mlp", "quantize", "quantized_mlp"]


def quantize(x: torch.Tensor, fmt: FixedPoint) -> torch.Tensor:
    """Round ``x`` to the fixed-point format ``fmt`` (forward exact, backward identity).

    The forward value is what ``ap_fixed`` conversion gives (the format's rounding
    and overflow modes); while autograd records, the gradient passes through
    unchanged (straight-through estimator).

    Examples:
        >>> import torch
        >>> quantize(torch.tensor([0.0625, 0.1875, -9.0]), FixedPoint(6, 3)).tolist()
        [0.0, 0.25, -4.0]
    """
    from l1scout.deploy._qlayers import quantize_ste

    return quantize_ste(x, fmt)


def quantized_mlp(
    sizes: Sequence[int],
    spec: QuantSpec,
    *,
    final_activation: bool,
    quantize_input: bool = True,
) -> torch.nn.Sequential:
    """A fully connected fixed-point network, deployable bit-exactly with hls4ml.

    Layers: an input quantizer (``spec.input``) if ``quantize_input``; then for each
    ``sizes[i] -> sizes[i + 1]`` a dense layer with weights in ``spec.weight`` and
    biases in ``spec.bias``, followed by a quantized ReLU (``spec.activation``)
    between layers and after the last iff ``final_activation``; a last layer
    without activation is rounded to ``spec.output``. Two such networks chained in
    an ``nn.Sequential`` (the second with ``quantize_input=False``) deploy as one.

    Args:
        sizes: layer widths, input first (at least two).
        spec: the fixed-point formats.
        final_activation: end with a quantized ReLU instead of the output format.
        quantize_input: start with the input quantizer.

    Examples:
        >>> net = quantized_mlp([57, 32, 16, 8], QuantSpec(), final_activation=False)
        >>> [type(m).__name__ for m in net]
        ['FixedPointQuantizer', 'QuantLinear', 'QuantReLU', 'QuantLinear', 'QuantReLU', 'QuantLinear', 'FixedPointQuantizer']
    """
    from torch import nn

    from l1scout.deploy._qlayers import FixedPointQuantizer, QuantLinear, QuantReLU

    dims = _check_sizes(sizes)
    layers: list[nn.Module] = []
    if quantize_input:
        layers.append(FixedPointQuantizer(spec.input, role="input"))
    for i, (n_in, n_out) in enumerate(itertools.pairwise(dims)):
        layers.append(QuantLinear(n_in, n_out, weight_format=spec.weight, bias_format=spec.bias))
        if i < len(dims) - 2 or final_activation:
            layers.append(QuantReLU(spec.activation))
        else:
            layers.append(FixedPointQuantizer(spec.output, role="output"))
    return nn.Sequential(*layers)


def float_mlp(
    sizes: Sequence[int],
    *,
    batch_norm: bool = False,
    final_activation: bool = False,
    dropout: float = 0.0,
) -> torch.nn.Sequential:
    """A floating-point fully connected network: (Linear [+ BatchNorm1d] + ReLU [+ Dropout])*.

    The last layer is a plain ``Linear`` unless ``final_activation`` (then it gets
    the same block as the hidden layers).

    Examples:
        >>> net = float_mlp([3, 32, 3], batch_norm=True)
        >>> [type(m).__name__ for m in net]
        ['Linear', 'BatchNorm1d', 'ReLU', 'Linear']
    """
    from torch import nn

    dims = _check_sizes(sizes)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(dims)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(dims) - 2 or final_activation:
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(nn.ReLU())
            if dropout > 0.0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    dims = list(sizes)
    if len(dims) < 2 or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in dims):
        raise ConfigError(f"layer sizes must be at least two positive integers, got {dims}")
    return dims
