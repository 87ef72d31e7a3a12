"""Deployment: fixed-point layers, ONNX export, operation counts, hls4ml firmware, da4ml estimates.

Importing this package loads neither torch nor hls4ml, onnxruntime or da4ml;
they are imported when a function needs them.
"""

from l1scout.deploy.emulate import FixedPointEmulator
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.flops import OpCount, count_ops
from l1scout.deploy.fpga import FpgaEstimate, estimate_fpga, trace_logic
from l1scout.deploy.hls import FLOAT_DEFAULT, FirmwareProject, accumulator_format, build_firmware
from l1scout.deploy.onnx import OnnxModel, export_onnx, onnx_parity
from l1scout.deploy.quant import float_mlp, quantize, quantized_mlp
from l1scout.deploy.triton import TritonTensor, write_triton_repository

__all__ = [
    "FLOAT_DEFAULT",
    "FirmwareProject",
    "FixedPoint",
    "FixedPointEmulator",
    "FpgaEstimate",
    "OnnxModel",
    "OpCount",
    "QuantSpec",
    "TritonTensor",
    "accumulator_format",
    "build_firmware",
    "count_ops",
    "estimate_fpga",
    "export_onnx",
    "float_mlp",
    "onnx_parity",
    "quantize",
    "quantized_mlp",
    "trace_logic",
    "write_triton_repository",
]
