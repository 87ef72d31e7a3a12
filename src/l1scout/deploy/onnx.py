"""ONNX export of a torch network, ONNX Runtime inference, and the parity check.

:func:`export_onnx` uses the ``torch.export``-based exporter of torch 2.x
(``dynamo=True``) in eval mode, traced on a batch of two with a dynamic batch
axis, so the file runs on any batch size. Weights of the fixed-point layers of
:mod:`l1scout.deploy.quant` are folded to their quantized values at export; the
activation quantizers become ``Mul``/``Round``/``Clip`` nodes (ONNX ``Round``
rounds ties to even, as ``torch.round``), so a quantized model's ONNX output
equals torch's. The file is written atomically (temporary name, rename).

:class:`OnnxModel` runs a leaner, equivalent graph when the file is a chain of
fixed-point quantizers (``Mul(2**f)``, ``Round``, ``Clip``, ``Mul(2**-f)``) and
``Gemm`` layers (optionally with ``Relu``), as exported from
:func:`~l1scout.deploy.quant.quantized_mlp`: the power-of-two scales are folded
into the ``Gemm`` weights and biases (exact: scaling by a power of two commutes
with float rounding), and ``Round`` after ``Clip`` becomes ``+ 1.5 * 2**23``,
``- 1.5 * 2**23`` (round half to even, exact for the clipped integers of
magnitude below ``2**22``; ONNX Runtime's ``Round`` is not vectorised). The
outputs are those of the file's graph (the tests compare bit patterns); the file
itself is not changed. Any other graph runs as written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout.errors import ConfigError, DataFormatError

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike, NDArray

__all__ = ["OnnxModel", "export_onnx", "onnx_parity"]

_log = logging.getLogger(__name__)

#: The ONNX opset written (supported by the installed ONNX Runtime).
OPSET = 18
#: torch.onnx's registry logs a warning per torchvision operator when torchvision
#: is not installed; it is not needed for these networks.
_NOISY_LOGGERS = ("torch.onnx._internal.exporter._registration",)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's known noise, and only that.

    * a ``FutureWarning`` that torch's own pytree code raises through
      ``copyreg`` during ``torch.export`` (``isinstance(treespec, LeafSpec)``
      is deprecated; torch 2.13);
    * the torchvision-operator warnings of the exporter's registry (logging);
    * the exporter's progress lines on stdout (sent to this module's log).
    """
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    stdout = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(stdout):
            warnings.filterwarnings(
                "ignore",
                message=r".*isinstance\(treespec, LeafSpec\)",
                category=FutureWarning,
            )
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        for line in stdout.getvalue().splitlines():
            _log.debug("torch.onnx: %s", line)


def export_onnx(
    model: torch.nn.Module,
    n_inputs: int,
    path: Path | str,
    *,
    input_name: str = "x",
    output_names: Sequence[str] = ("y",),
) -> Path:
    """Write ``model`` as an ONNX file with a dynamic batch axis.

    Args:
        model: a network taking one float32 tensor ``(batch, n_inputs)`` and
            returning one tensor or a tuple of ``len(output_names)`` tensors.
        n_inputs: features per event.
        path: the ``.onnx`` file (its folder is created).
        input_name: the graph input's name.
        output_names: the graph outputs' names, one per model output.

    Returns:
        The path written.
    """
    import torch

    if n_inputs < 1:
        raise ConfigError(f"n_inputs must be positive, got {n_inputs}")
    names = list(output_names)
    if not names or len(set(names)) != len(names) or input_name in names:
        raise ConfigError(f"output_names must be distinct and differ from the input, got {names}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    was_training = model.training
    model.eval()
    example = torch.zeros(2, n_inputs, dtype=torch.float32)
    try:
        with torch.no_grad():
            outputs = model(example)
            n_out = len(outputs) if isinstance(outputs, tuple | list) else 1
            if n_out != len(names):
                raise ConfigError(
                    f"the model returns {n_out} output(s) but output_names has {len(names)}: {names}"
                )
            batch = torch.export.Dim("batch")
            with _quiet_exporter():
                torch.onnx.export(
                    model,
                    (example,),
                    str(tmp),
                    input_names=[input_name],
                    output_names=names,
                    dynamic_shapes=({0: batch},),
                    opset_version=OPSET,
                    dynamo=True,
                    external_data=False,
                    verbose=False,
                )
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        tmp.replace(target)
    finally:
        model.train(was_training)
        tmp.unlink(missing_ok=True)
    _log.info("exported %s", target)
    return target


class OnnxModel:
    """An ONNX file run by ONNX Runtime on the CPU.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (None: ONNX Runtime's default, all cores).
        fuse: run the folded graph of a fixed-point chain (same outputs; see the
            module docs); False: the file's graph as written.
    """

    def __init__(self, path: Path | str, *, threads: int | None = None, fuse: bool = True) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DataFormatError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if threads is not None:
            if threads < 1:
                raise ConfigError(f"threads must be positive, got {threads}")
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        source: str | bytes = str(self.path)
        #: Whether the session runs the folded fixed-point chain (see the module docs).
        self.fused = False
        if fuse:
            fused = _fused_chain(self.path)
            if fused is not None:
                source, self.fused = fused, True
        try:
            self._session = ort.InferenceSession(
                source, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DataFormatError(f"{self.path}: ONNX Runtime cannot load it ({exc})") from exc
        self._input = self._session.get_inputs()[0].name
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]

    def run(self, x: ArrayLike) -> list[NDArray[np.float32]]:
        """All outputs for a batch ``x`` of shape ``(n, n_inputs)``, as float32."""
        arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        outs: list[Any] = self._session.run(None, {self._input: arr})
        return [np.asarray(o, dtype=np.float32) for o in outs]

    def predict(self, x: ArrayLike) -> NDArray[np.float32]:
        """The first output for a batch ``x``, as float32."""
        return self.run(x)[0]


#: Adding then subtracting 1.5 * 2**23 rounds a float32 of magnitude below 2**22 to
#: an integer, ties to even (round to nearest, the default floating-point mode).
_MAGIC = np.float32(1.5 * 2**23)


def _power_of_two(value: float) -> bool:
    mantissa, _ = np.frexp(value)
    return bool(np.isfinite(value) and value > 0 and mantissa == 0.5)


class _NotAChainError(Exception):
    """The graph is not a quantizer/Gemm chain that :func:`_fused_chain` can fold."""


def _fused_chain(path: Path) -> bytes | None:
    """The folded graph of a quantizer/Gemm chain as a serialized model, or None if not one."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception:  # noqa: BLE001 - onnx raises various errors; ORT reports bad files
        return None
    try:
        return _fold(model)
    except _NotAChainError:
        return None


def _fold(model: Any) -> bytes:
    """:func:`_fused_chain` of a loaded model; raises :class:`_NotAChainError`."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise _NotAChainError
    if any(o.domain not in ("", "ai.onnx") for o in model.opset_import):
        raise _NotAChainError

    def scalar(name: str) -> float:
        arr = consts.get(name)
        if arr is None or arr.size != 1 or arr.dtype != np.float32:
            raise _NotAChainError
        return float(arr.reshape(()))

    nodes = list(graph.node)
    cur = graph.input[0].name
    # each step: ("q", scale, lo, hi, inverse) or ("g", weight (out, in), bias, relu)
    steps: list[tuple[Any, ...]] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if node.op_type == "Mul" and i + 3 < len(nodes):
            rnd, clip, back = nodes[i + 1], nodes[i + 2], nodes[i + 3]
            other = [n for n in node.input if n != cur]
            if (
                len(node.input) != 2
                or len(other) != 1
                or (rnd.op_type, clip.op_type, back.op_type) != ("Round", "Clip", "Mul")
                or list(rnd.input) != [node.output[0]]
                or len(clip.input) != 3
                or clip.input[0] != rnd.output[0]
                or back.input[0] != clip.output[0]
                or len(back.input) != 2
            ):
                raise _NotAChainError
            scale, lo, hi, inverse = (
                scalar(other[0]),
                scalar(clip.input[1]),
                scalar(clip.input[2]),
                scalar(back.input[1]),
            )
            if not (_power_of_two(scale) and scale * inverse == 1.0):
                raise _NotAChainError
            if not (lo == np.floor(lo) and hi == np.floor(hi) and -(2**22) < lo <= hi < 2**22):
                raise _NotAChainError
            steps.append(("q", scale, lo, hi, inverse))
            cur = back.output[0]
            i += 4
        elif node.op_type == "Gemm":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
                raise _NotAChainError
            if attrs.get("transA", 0) != 0 or len(node.input) != 3 or node.input[0] != cur:
                raise _NotAChainError
            weight, bias = consts.get(node.input[1]), consts.get(node.input[2])
            if weight is None or bias is None or weight.ndim != 2 or bias.ndim != 1:
                raise _NotAChainError
            if weight.dtype != np.float32 or bias.dtype != np.float32:
                raise _NotAChainError
            weight = weight if attrs.get("transB", 0) else weight.T
            if bias.shape[0] != weight.shape[0]:
                raise _NotAChainError
            cur = node.output[0]
            relu = i + 1 < len(nodes) and nodes[i + 1].op_type == "Relu"
            if relu:
                if list(nodes[i + 1].input) != [cur]:
                    raise _NotAChainError
                cur = nodes[i + 1].output[0]
            steps.append(("g", weight, bias, relu))
            i += 2 if relu else 1
        else:
            raise _NotAChainError
    kinds = "".join(step[0] for step in steps)
    if cur != graph.output[0].name or len(kinds) < 3 or kinds != "q" + "gq" * (len(kinds) // 2):
        raise _NotAChainError

    new_nodes: list[Any] = []
    inits = [numpy_helper.from_array(np.asarray(_MAGIC, dtype=np.float32), "l1s_magic")]

    def const(name: str, value: Any) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def add(op: str, inputs: list[str], out: str, **kw: Any) -> str:
        new_nodes.append(helper.make_node(op, inputs, [out], **kw))
        return out

    def round_clip(x: str, lo: float, hi: float, k: int) -> str:
        clipped = add("Clip", [x, const(f"l1s_lo{k}", lo), const(f"l1s_hi{k}", hi)], f"l1s_c{k}")
        shifted = add("Add", [clipped, "l1s_magic"], f"l1s_a{k}")
        return add("Sub", [shifted, "l1s_magic"], f"l1s_r{k}")

    first = steps[0]
    x = add("Mul", [graph.input[0].name, const("l1s_s0", first[1])], "l1s_m0")
    x = round_clip(x, first[2], first[3], 0)
    inverse = first[4]
    for k in range(1, len(steps), 2):
        _, weight, bias, relu = steps[k]
        _, scale, lo, hi, next_inverse = steps[k + 1]
        factor = np.float32(inverse) * np.float32(scale)  # a power of two
        new_w = weight * factor
        new_b = bias * np.float32(scale)
        # exact only without overflow or subnormals: check the folding is reversible
        if not (
            np.array_equal(new_w / factor, weight)
            and np.array_equal(new_b / np.float32(scale), bias)
            and np.all(np.isfinite(new_w))
            and np.all(np.isfinite(new_b))
            and not np.any((new_w != 0) & (np.abs(new_w) < np.finfo(np.float32).tiny))
            and not np.any((new_b != 0) & (np.abs(new_b) < np.finfo(np.float32).tiny))
        ):
            raise _NotAChainError
        w_name, b_name = const(f"l1s_w{k}", new_w), const(f"l1s_b{k}", new_b)
        x = add("Gemm", [x, w_name, b_name], f"l1s_g{k}", transB=1)
        if relu:
            x = add("Relu", [x], f"l1s_relu{k}")
        x = round_clip(x, lo, hi, k)
        inverse = next_inverse
    add("Mul", [x, const("l1s_out", inverse)], graph.output[0].name)
    fused = helper.make_graph(new_nodes, graph.name, list(graph.input), list(graph.output), inits)
    out = helper.make_model(fused, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    try:
        onnx.checker.check_model(out)
    except onnx.checker.ValidationError as exc:
        raise _NotAChainError from exc
    serialized: bytes = out.SerializeToString()
    return serialized


def onnx_parity(model: torch.nn.Module, path: Path | str, x: ArrayLike) -> float:
    """The largest absolute difference between torch and ONNX Runtime over all outputs.

    Args:
        model: the torch network (run in eval mode, without gradients).
        path: its ONNX file.
        x: inputs, shape ``(n, n_inputs)``.
    """
    import torch

    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(arr))
    finally:
        model.train(was_training)
    ref = [t.numpy() for t in out] if isinstance(out, tuple | list) else [out.numpy()]
    got = OnnxModel(path).run(arr)
    if len(got) != len(ref):
        raise DataFormatError(f"{path}: {len(got)} outputs, the torch model has {len(ref)}")
    worst = 0.0
    for r, g in zip(ref, got, strict=True):
        if r.shape != g.shape:
            raise DataFormatError(f"{path}: output shape {g.shape}, torch gives {r.shape}")
        if r.size:
            worst = max(worst, float(np.max(np.abs(r.astype(np.float64) - g.astype(np.float64)))))
    return worst
