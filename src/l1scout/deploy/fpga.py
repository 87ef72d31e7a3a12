"""FPGA resource and latency estimates from da4ml (distributed arithmetic).

da4ml (Sun et al., arXiv:2507.04535, ACM TRETS 2025; version 0.6) turns every
constant matrix-vector product into an adder tree (no DSPs) and replays the
network on symbolic fixed-point variables, giving per-operation cost and delay
estimates without any vendor tool. :func:`trace_logic` replays a network walked
into firmware layers (the same walk as :func:`l1scout.deploy.hls.build_firmware`:
weights on their fixed-point grids, every tensor's format) and
:func:`estimate_fpga` reads off:

* ``luts``: da4ml's cost, in LUTs (one LUT per adder bit on carry-chain
  FPGAs; ReLU and re-quantization in LUT5/LUT6 equivalents);
* ``latency``: the combinational delay of the deepest output in da4ml's delay
  units; da4ml's own command line pairs a 5-unit pipeline cutoff with a 5 ns
  clock, so one unit is taken as 1 ns and the logic is pipelined
  (``da4ml.trace.to_pipeline``) with a cutoff of ``clock_ns`` units: the number of
  stages is ``latency_cycles``, and ``latency_ns = latency_cycles * clock_ns``;
* ``dsps``: 0 (distributed arithmetic uses none).

Differences from the hls4ml firmware, which the figures do not see: da4ml
rounds ``AP_RND_CONV`` formats half up (``RND``, its only round-to-nearest),
which costs the same adders; and it is a different architecture from hls4ml's
``Latency`` strategy (the CMS AXOL1TL encoder used 2.1% of the LUTs of its
trigger board's FPGA and 2 ticks at 40 MHz: NGT WP 3.7 report, 2025;
``docs/physics/l1-algorithms.md``, "Latency and resources"). For formats
that round by truncation, the traced logic computes exactly what the torch model
does (a test checks it with da4ml's bit-exact interpreter).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout.deploy._plan import FLOAT_DEFAULT, plan_network
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["FpgaEstimate", "estimate_fpga", "trace_logic"]

_log = logging.getLogger(__name__)

#: da4ml hardware model: elementary adder size 1, carry size and latency cutoff unset
#: (its default, ``HWConfig(1, -1, -1)``).
_HWCONF = (1, -1, -1)
#: da4ml delay units per nanosecond (see the module docstring).
UNITS_PER_NS = 1.0


@dataclass(frozen=True)
class FpgaEstimate:
    """Resources and latency of a network as da4ml logic.

    Attributes:
        luts: look-up tables.
        dsps: DSP blocks (0 for distributed arithmetic).
        latency_cycles: pipeline stages at ``clock_ns``.
        clock_ns: the clock period assumed.
        latency_ns: ``latency_cycles * clock_ns``.
        method: how the figures were obtained.
        delay: combinational delay of the slowest output, in da4ml units (~ns).
        seconds: time the estimate took.
    """

    luts: int
    dsps: int
    latency_cycles: int
    clock_ns: float
    latency_ns: float
    method: str
    delay: float = 0.0
    seconds: float = 0.0


def _kif(fmt: FixedPoint) -> tuple[int, int, int]:
    """da4ml's (sign, integer bits without the sign, fractional bits) of a format."""
    return (1, fmt.integer - 1, fmt.fractional) if fmt.signed else (0, fmt.integer, fmt.fractional)


def _requantize(x: Any, fmt: FixedPoint) -> Any:
    from da4ml.trace.ops import quantize

    k, i, f = _kif(fmt)
    rounding = "TRN" if fmt.rounding == "TRN" else "RND"
    return quantize(x, k, i, f, fmt.overflow, rounding)


def trace_logic(
    model: torch.nn.Module,
    spec: QuantSpec | None = None,
    *,
    n_inputs: int | None = None,
    default_precision: FixedPoint = FLOAT_DEFAULT,
) -> Any:
    """The da4ml combinational logic (``da4ml.types.CombLogic``) of a network.

    Args:
        model: as for :func:`l1scout.deploy.hls.build_firmware`.
        spec: if given, every fixed-point layer's format must equal it.
        n_inputs: inputs per event (None: the first dense layer's).
        default_precision: format of every tensor of floating-point layers.

    Returns:
        The logic; ``.cost`` (LUTs), ``.latency`` (min, max delay) and
        ``.predict(x)`` (da4ml's bit-exact interpreter) are da4ml's.
    """
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    from da4ml.trace.ops import quantize, relu

    plan = plan_network(model, n_inputs, spec, default_precision)
    inp = FixedVariableArrayInput((plan.n_inputs,), hwconf=HWConfig(*_HWCONF))
    k, i, f = _kif(plan.input)
    x: Any = quantize(inp, k, i, f)  # the inputs arrive in their format: no rounding
    for layer in plan.layers:
        if layer.kind == "dense":
            assert layer.weight is not None
            assert layer.bias is not None
            x = x @ np.ascontiguousarray(layer.weight.T) + layer.bias
            if layer.result != layer.accum:
                x = _requantize(x, layer.result)
        else:
            x = _requantize(relu(x), layer.result)
    return comb_trace(inp, x)


def estimate_fpga(
    model: torch.nn.Module,
    spec: QuantSpec,
    *,
    clock_ns: float = 25.0,
    n_inputs: int | None = None,
) -> FpgaEstimate:
    """LUTs and latency of ``model`` implemented as da4ml distributed arithmetic.

    Args:
        model: a :func:`~l1scout.deploy.quant.quantized_mlp` network (or a chain of
            them; floating-point layers get :data:`~l1scout.deploy.hls.FLOAT_DEFAULT`).
        spec: its formats (checked against the layers).
        clock_ns: the clock period (40 MHz LHC clock: 25 ns).
        n_inputs: inputs per event (None: the first dense layer's).
    """
    from da4ml.trace import to_pipeline

    if not clock_ns > 0:
        raise ConfigError(f"clock_ns must be positive, got {clock_ns}")
    start = time.perf_counter()
    logic = trace_logic(model, spec, n_inputs=n_inputs)
    delay = float(logic.latency[1])
    luts = round(float(logic.cost))
    cutoff = clock_ns * UNITS_PER_NS
    if delay <= 0:
        cycles = 1 if luts else 0
    else:
        cycles = len(to_pipeline(logic, cutoff, retiming=False, verbose=False).solutions)
    seconds = time.perf_counter() - start
    _log.info(
        "da4ml: %d LUTs, delay %.1f units, %d cycles at %.1f ns", luts, delay, cycles, clock_ns
    )
    return FpgaEstimate(
        luts=luts,
        dsps=0,
        latency_cycles=cycles,
        clock_ns=float(clock_ns),
        latency_ns=cycles * float(clock_ns),
        method="da4ml distributed arithmetic (adder-tree cost model, 1 delay unit = 1 ns)",
        delay=delay,
        seconds=seconds,
    )
