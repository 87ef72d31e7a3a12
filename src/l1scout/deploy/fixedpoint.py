"""Fixed-point number formats (``ap_fixed``) and the formats of a quantized network.

A :class:`FixedPoint` is an ``ap_fixed<W,I,Q,O>`` (or ``ap_ufixed``) of the
Xilinx/AMD arbitrary-precision types that hls4ml firmware computes in: ``W``
bits in all, ``I`` of them integer bits (the sign bit included for signed
formats), so the least significant bit is ``2**-(W - I)``; ``Q`` the rounding
(``AP_RND_CONV``: to nearest, ties to even; ``AP_TRN``: towards minus
infinity) and ``O`` the overflow mode (``AP_SAT``: clamp to the range;
``AP_WRAP``: keep the low ``W`` bits, two's complement). :func:`quantize` (torch)
and :meth:`FixedPoint.quantize_numpy` compute exactly what ``ap_fixed``'s
conversion does, so a model built from these layers and the firmware that
:func:`l1scout.deploy.hls.build_firmware` writes agree bit for bit.

Torch-free: configuration files import these types without loading torch;
the torch side is :mod:`l1scout.deploy.quant` and its layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from l1scout.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["MAX_WIDTH", "FixedPoint", "QuantSpec"]

#: The widest format accepted (firmware accumulators can be wide); formats up to
#: 24 bits are exact in float32, up to 53 bits in float64.
MAX_WIDTH = 64


@dataclass(frozen=True)
class FixedPoint:
    """A fixed-point number format, ``ap_fixed<width, integer, rounding, overflow>``.

    Attributes:
        width: total bits W (1 ... 64; up to 24 every value is an exact float32,
            which the torch layers need).
        integer: integer bits I, the sign bit included for signed formats; may be
            negative or exceed ``width`` (as ``ap_fixed`` allows).
        signed: ``ap_fixed`` (two's complement) if True, else ``ap_ufixed``.
        rounding: ``"RND_CONV"`` (nearest, ties to even) or ``"TRN"`` (floor).
        overflow: ``"SAT"`` (clamp) or ``"WRAP"`` (modulo ``2**width``).

    Examples:
        >>> w = FixedPoint(6, 3)
        >>> w.hls(), w.lsb, w.min_value, w.max_value
        ('ap_fixed<6,3,AP_RND_CONV,AP_SAT>', 0.125, -4.0, 3.875)
        >>> FixedPoint(10, 6, signed=False).hls()
        'ap_ufixed<10,6,AP_RND_CONV,AP_SAT>'
        >>> w.quantize_numpy([0.0625, 0.1875, -9.0, 3.9]).tolist()
        [0.0, 0.25, -4.0, 3.875]
    """

    width: int
    integer: int
    signed: bool = True
    rounding: Literal["RND_CONV", "TRN"] = "RND_CONV"
    overflow: Literal["SAT", "WRAP"] = "SAT"

    def __post_init__(self) -> None:
        for name in ("width", "integer"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"fixed-point {name} must be an integer, got {value!r}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise ConfigError(f"fixed-point width must be 1 ... {MAX_WIDTH} bits, got {self.width}")
        if abs(self.integer) > MAX_WIDTH:
            raise ConfigError(
                f"fixed-point integer bits must be within +-{MAX_WIDTH}, got {self.integer}"
            )
        if self.rounding not in ("RND_CONV", "TRN"):
            raise ConfigError(f"rounding must be 'RND_CONV' or 'TRN', got {self.rounding!r}")
        if self.overflow not in ("SAT", "WRAP"):
            raise ConfigError(f"overflow must be 'SAT' or 'WRAP', got {self.overflow!r}")

    @property
    def fractional(self) -> int:
        """Fractional bits ``width - integer``."""
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        """The least significant bit, ``2**-(width - integer)``."""
        return math.ldexp(1.0, -self.fractional)

    @property
    def int_min(self) -> int:
        """The smallest value in units of the lsb (``-2**(W-1)`` signed, 0 unsigned)."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def int_max(self) -> int:
        """The largest value in units of the lsb (``2**(W-1) - 1`` signed, ``2**W - 1``)."""
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min_value(self) -> float:
        """The smallest representable value."""
        return math.ldexp(float(self.int_min), -self.fractional)

    @property
    def max_value(self) -> float:
        """The largest representable value."""
        return math.ldexp(float(self.int_max), -self.fractional)

    def hls(self) -> str:
        """The HLS type, e.g. ``"ap_fixed<6,3,AP_RND_CONV,AP_SAT>"``."""
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{kind}<{self.width},{self.integer},AP_{self.rounding},AP_{self.overflow}>"

    def quantize_numpy(self, x: ArrayLike) -> NDArray[np.floating]:
        """Quantize like ``ap_fixed``'s conversion; float32 stays float32, else float64.

        The same arithmetic as :func:`l1scout.deploy.quant.quantize` on a torch tensor, so the two agree
        bit for bit.
        """
        arr = np.asarray(x)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float64)
        n = np.ldexp(arr, self.fractional)
        n = np.round(n) if self.rounding == "RND_CONV" else np.floor(n)
        if self.overflow == "SAT":
            n = np.clip(n, self.int_min, self.int_max)
        else:
            span = float(1 << self.width)
            n = n - np.floor((n - self.int_min) / span) * span
        out: NDArray[np.floating] = np.ldexp(n, -self.fractional).astype(arr.dtype, copy=False)
        return out


class QuantSpec(BaseModel):
    """The fixed-point formats of a quantized network; defaults are the deployed AXOL1TL's.

    Weights ``ap_fixed<6,3>`` and biases ``ap_fixed<10,7>`` are the deployed
    trigger's (``docs/physics/l1-algorithms.md``). The input format holds
    the power-of-two-scaled trigger inputs (range +-32, lsb 2**-10); hidden
    activations are unsigned (after ReLU) with range [0, 64) and lsb 1/16; the
    output (the VAE latent means) has range +-128 and lsb 2**-8.

    Attributes:
        input: format of the network input (after the power-of-two scaler).
        weight: format of every weight.
        bias: format of every bias.
        activation: format of hidden-layer outputs after the quantized ReLU.
        output: format of the last layer's output when it has no activation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: FixedPoint = FixedPoint(16, 6)
    weight: FixedPoint = FixedPoint(6, 3)
    bias: FixedPoint = FixedPoint(10, 7)
    activation: FixedPoint = FixedPoint(10, 6, signed=False)
    output: FixedPoint = FixedPoint(16, 8)

    @model_validator(mode="after")
    def _signed_parameters(self) -> QuantSpec:
        for name in ("weight", "bias"):
            if not getattr(self, name).signed:
                raise ValueError(f"{name} format must be signed (weights and biases have signs)")
        return self
