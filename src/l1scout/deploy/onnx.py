"""ONNX export of a torch network, ONNX Runtime inference, and the parity check.

:func:`export_onnx` uses the ``torch.export``-based exporter of torch 2.x
(``dynamo=True``) in eval mode, traced on a batch of two with a dynamic batch
axis, so the file runs on any batch size. Weights of the fixed-point layers of
:mod:`l1scout.deploy.quant` are folded to their quantized values at export; the
activation quantizers become ``Mul``/``Round``/``Clip`` nodes (ONNX ``Round``
rounds ties to even, as ``torch.round``), so a quantized model's ONNX output
equals torch's. The file is written atomically (temporary name, rename).
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
    """

    def __init__(self, path: Path | str, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DataFormatError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads is not None:
            if threads < 1:
                raise ConfigError(f"threads must be positive, got {threads}")
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
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
