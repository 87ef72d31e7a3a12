"""A Triton-style model repository for an ONNX file: ``config.pbtxt`` and a versioned copy.

NVIDIA's Triton Inference Server serves models from a *model repository*
(documented at https://docs.nvidia.com/deeplearning/triton-inference-server/,
"Model Repository" and "Model Configuration"): one folder per model holding a
``config.pbtxt`` (the ``ModelConfig`` protobuf in text format) and one numbered
folder per version with the model file, for ONNX Runtime ``model.onnx``::

    root/
      <model_name>/
        config.pbtxt
        <version>/model.onnx

:func:`write_triton_repository` writes that layout next to an exported ONNX
file so that a user with an inference server can serve it; nothing here needs
Triton or its client. The configuration names the ONNX Runtime backend
(``platform: "onnxruntime_onnx"``), ``max_batch_size``, every input and output
with its data type (``TYPE_FP32``, ...) and dims (-1 for a dynamic axis), and
one CPU model instance. Inputs and outputs are read from the ONNX graph
itself (the ``onnx`` package) unless given.

With ``max_batch_size > 0`` Triton batches requests itself and the dims leave
out the first (batch) axis; with 0 (the default) the dims are the full shape
and the client sends whole batches.

Both files are written atomically (:func:`l1scout._files.atomic_write`), the
model first and ``config.pbtxt`` last: a repository whose ``config.pbtxt``
exists holds a complete model.

Example:
    >>> print(_config_text("m", 0, [TritonTensor("x", "TYPE_FP32", (-1, 17))], []).strip())
    name: "m"
    platform: "onnxruntime_onnx"
    max_batch_size: 0
    input [
      {
        name: "x"
        data_type: TYPE_FP32
        dims: [ -1, 17 ]
      }
    ]
    output [
    ]
    instance_group [
      {
        count: 1
        kind: KIND_CPU
      }
    ]
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from l1scout._files import atomic_write, atomic_write_bytes
from l1scout.errors import ConfigError, DataFormatError

__all__ = ["TRITON_TYPES", "TritonTensor", "onnx_tensors", "write_triton_repository"]

#: Triton data type of each ONNX tensor element type (``onnx.TensorProto`` names).
TRITON_TYPES: dict[str, str] = {
    "FLOAT": "TYPE_FP32",
    "DOUBLE": "TYPE_FP64",
    "FLOAT16": "TYPE_FP16",
    "BFLOAT16": "TYPE_BF16",
    "INT8": "TYPE_INT8",
    "INT16": "TYPE_INT16",
    "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64",
    "UINT8": "TYPE_UINT8",
    "UINT16": "TYPE_UINT16",
    "UINT32": "TYPE_UINT32",
    "UINT64": "TYPE_UINT64",
    "BOOL": "TYPE_BOOL",
    "STRING": "TYPE_STRING",
}
# Triton model names: a folder name (letters, digits, '_', '-', '.'; not starting with '.')
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class TritonTensor:
    """One input or output of the configuration.

    Attributes:
        name: the tensor's name in the ONNX graph.
        data_type: a Triton type, one of :data:`TRITON_TYPES`' values (``TYPE_FP32``).
        dims: the shape, -1 for a dynamic axis (with the batch axis: the full shape).

    Raises:
        ConfigError: an empty name, an unknown type, or a dim that is neither
            -1 nor positive.
    """

    name: str
    data_type: str
    dims: tuple[int, ...]

    def __post_init__(self) -> None:
        """Check the fields (see the class docstring)."""
        if not self.name or '"' in self.name or "\n" in self.name:
            msg = f"tensor name {self.name!r}: expected a non-empty name without quotes or newlines"
            raise ConfigError(msg)
        if self.data_type not in TRITON_TYPES.values():
            msg = f"tensor {self.name}: data_type {self.data_type!r} is not a Triton type (TYPE_FP32, ...)"
            raise ConfigError(msg)
        dims = tuple(int(d) for d in self.dims)
        if any(d == 0 or d < -1 for d in dims):
            msg = f"tensor {self.name}: expected dims of -1 (dynamic) or > 0, got {list(dims)}"
            raise ConfigError(msg)
        object.__setattr__(self, "dims", dims)


def onnx_tensors(onnx_path: Path | str) -> tuple[list[TritonTensor], list[TritonTensor]]:
    """The graph inputs (initializers left out) and outputs of an ONNX file, as Triton tensors.

    A dim with a fixed value keeps it; a symbolic or unknown dim is -1.

    Raises:
        DataFormatError: the file cannot be read as ONNX, or a tensor has a
            type Triton does not know or no shape.
    """
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except (OSError, DecodeError) as exc:
        msg = f"{onnx_path}: cannot read the ONNX model ({exc})"
        raise DataFormatError(msg) from exc
    graph = model.graph
    initializers = {t.name for t in graph.initializer}

    def tensor(value: Any) -> TritonTensor:
        tt = value.type.tensor_type
        elem = onnx.TensorProto.DataType.Name(tt.elem_type)
        if elem not in TRITON_TYPES:
            msg = f"{onnx_path}: tensor {value.name} has element type {elem}, which Triton does not serve"
            raise DataFormatError(msg)
        if not tt.HasField("shape"):
            msg = (
                f"{onnx_path}: tensor {value.name} has no shape; pass inputs and outputs explicitly"
            )
            raise DataFormatError(msg)
        dims = tuple(
            int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else -1
            for d in tt.shape.dim
        )
        return TritonTensor(value.name, TRITON_TYPES[elem], dims)

    inputs = [tensor(v) for v in graph.input if v.name not in initializers]
    return inputs, [tensor(v) for v in graph.output]


def _tensor_block(kind: str, tensors: Sequence[TritonTensor]) -> list[str]:
    lines = [f"{kind} ["]
    for i, t in enumerate(tensors):
        lines += [
            "  {",
            f'    name: "{t.name}"',
            f"    data_type: {t.data_type}",
            f"    dims: [ {', '.join(str(d) for d in t.dims)} ]",
            "  }" + ("," if i < len(tensors) - 1 else ""),
        ]
    return [*lines, "]"]


def _config_text(
    model_name: str,
    max_batch_size: int,
    inputs: Sequence[TritonTensor],
    outputs: Sequence[TritonTensor],
) -> str:
    """The ``config.pbtxt`` text (dims as given: the batch axis already removed if batching)."""
    lines = [
        f'name: "{model_name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch_size}",
        *_tensor_block("input", inputs),
        *_tensor_block("output", outputs),
        "instance_group [",
        "  {",
        "    count: 1",
        "    kind: KIND_CPU",
        "  }",
        "]",
    ]
    return "\n".join(lines) + "\n"


def _batched(tensors: Sequence[TritonTensor], max_batch_size: int) -> list[TritonTensor]:
    """With Triton batching, the tensors without their first (batch) axis."""
    if max_batch_size == 0:
        return list(tensors)
    out = []
    for t in tensors:
        if not t.dims:
            msg = f"tensor {t.name}: a scalar has no batch axis; use max_batch_size = 0"
            raise ConfigError(msg)
        out.append(TritonTensor(t.name, t.data_type, t.dims[1:]))
    return out


def write_triton_repository(
    onnx_path: Path | str,
    root: Path | str,
    *,
    model_name: str,
    version: int = 1,
    inputs: Sequence[TritonTensor] | None = None,
    outputs: Sequence[TritonTensor] | None = None,
    max_batch_size: int = 0,
) -> Path:
    """Write ``root/<model_name>/config.pbtxt`` and ``root/<model_name>/<version>/model.onnx``.

    Args:
        onnx_path: the ONNX file (copied, not changed).
        root: the model repository folder (created).
        model_name: the model's folder and configured name (letters, digits,
            ``_ - .``; not starting with ``.``).
        version: the version folder (>= 1).
        inputs: the inputs with their full shapes (batch axis included); None:
            read from the ONNX graph (:func:`onnx_tensors`).
        outputs: likewise for the outputs.
        max_batch_size: Triton's batching limit; 0 (no Triton batching: dims
            are the full shapes) or > 0 (the first axis of every tensor is the
            batch axis and is left out of the dims).

    Returns:
        The path of ``config.pbtxt``.

    Raises:
        ConfigError: a bad model name, version or ``max_batch_size``, or a
            folder that cannot be written.
        DataFormatError: the ONNX file cannot be read (when inputs or outputs
            are read from it).
    """
    if not _NAME.fullmatch(model_name):
        msg = f"model_name {model_name!r}: expected letters, digits, '_', '-' or '.', not starting with '.'"
        raise ConfigError(msg)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        msg = f"version: expected an integer >= 1, got {version!r}"
        raise ConfigError(msg)
    if (
        isinstance(max_batch_size, bool)
        or not isinstance(max_batch_size, int)
        or max_batch_size < 0
    ):
        msg = f"max_batch_size: expected an integer >= 0, got {max_batch_size!r}"
        raise ConfigError(msg)
    source = Path(onnx_path)
    if not source.is_file():
        msg = f"onnx_path {source}: expected an existing ONNX file"
        raise ConfigError(msg)
    if inputs is None or outputs is None:
        found_in, found_out = onnx_tensors(source)
        inputs = found_in if inputs is None else inputs
        outputs = found_out if outputs is None else outputs
    text = _config_text(
        model_name,
        max_batch_size,
        _batched(inputs, max_batch_size),
        _batched(outputs, max_batch_size),
    )
    folder = Path(root) / model_name

    def copy(fh: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    try:
        atomic_write(folder / str(version) / "model.onnx", copy)
        return atomic_write_bytes(folder / "config.pbtxt", text.encode("utf-8"))
    except OSError as exc:
        msg = f"cannot write the model repository {folder} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
