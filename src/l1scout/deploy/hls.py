"""hls4ml firmware projects and their bit-accurate C++ emulation.

:func:`build_firmware` turns a fully connected PyTorch network into an hls4ml
project (Vitis backend, ``io_parallel``, ``Latency`` strategy; hls4ml 1.x,
Fahim et al., arXiv:2103.05579) and compiles its C++ emulation with g++ (no
vendor tool is needed for that; synthesis reports are not produced).

How the precision is set, layer by layer:

* a network from :func:`l1scout.deploy.quant.quantized_mlp`: every format comes
  from the layers themselves (input, weights, biases, ReLU outputs, output), as
  the ``ap_fixed`` strings of :meth:`~l1scout.deploy.quant.FixedPoint.hls` (the
  rounding and overflow modes the torch layers reproduce). Dense accumulators
  and dense results before a ReLU get :func:`accumulator_format`, wide enough
  that no bit is lost, exactly as the torch layer keeps its sums exact. The
  emulation then equals the torch model bit for bit.
* a floating-point network (:func:`l1scout.deploy.quant.float_mlp`): batch norm
  is folded into the preceding dense layer (eval-mode statistics) and every
  weight, bias, input and layer output gets :data:`FLOAT_DEFAULT`,
  ``ap_fixed<18,8,AP_RND_CONV,AP_SAT>`` (range +-128, lsb 2**-10 ~ 1e-3, two
  bits more than hls4ml's own default ``ap_fixed<16,6>`` on both ends);
  accumulators are again exact. The emulation then differs from torch by the
  rounding of weights and layer outputs: for a trained 3-32-32-32-3 network with
  batch norm on inputs in [0, 1], 1.5e-3 rms and 7e-3 at most (outputs of
  magnitude ~0.7), as the rounding-noise model of the test predicts (1.2e-3
  rms); the test also checks a worst-case bound, layer by layer.

A built project is self-contained: :class:`FirmwareProject` loads the compiled
library of the project folder (weights are compiled in, not read from text
files at run time), so the folder can be moved or archived (an MLflow artifact)
and loaded again with :meth:`FirmwareProject.load`. The emulation runs one event
per call of the compiled top function (about 10^4 events per second and core
for the 57-32-16-8 encoder on a loaded 2-core machine); the generated code has
only dense layers and ReLUs, which keep no state, so batches are split over
threads.

Building (conversion and g++) takes about 20 s for the encoder, up to a minute
on a busy machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout.deploy._plan import FLOAT_DEFAULT, Plan, accumulator_format, plan_network
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError, L1ScoutError

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FLOAT_DEFAULT",
    "FirmwareProject",
    "accumulator_format",
    "build_firmware",
]

_log = logging.getLogger(__name__)

#: The metadata file :func:`build_firmware` writes into the project folder.
METADATA = "l1scout_firmware.json"
_BACKEND = "Vitis"
_IO_TYPE = "io_parallel"
_STRATEGY = "Latency"


@dataclass(frozen=True)
class FirmwareProject:
    """An hls4ml project folder with its compiled emulation library.

    Attributes:
        path: the hls4ml project folder.
        output: format of the network output (``None`` if not one fixed-point format).
        project_name: the hls4ml project name (the top function's name).
        library: the compiled emulation, relative to ``path``.
        n_inputs: inputs per event.
        n_outputs: outputs per event.
    """

    path: Path
    output: FixedPoint | None
    project_name: str = "l1scout_model"
    library: str = ""
    n_inputs: int = 0
    n_outputs: int = 0

    @classmethod
    def load(cls, path: Path | str) -> FirmwareProject:
        """The project that :func:`build_firmware` wrote into ``path`` (possibly moved since)."""
        folder = Path(path)
        meta_path = folder / METADATA
        try:
            meta = json.loads(meta_path.read_text())
            output = meta["output"]
            return cls(
                path=folder,
                output=FixedPoint(**output) if output is not None else None,
                project_name=str(meta["project_name"]),
                library=str(meta["library"]),
                n_inputs=int(meta["n_inputs"]),
                n_outputs=int(meta["n_outputs"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise L1ScoutError(
                f"{meta_path}: not a firmware project written by build_firmware ({exc})"
            ) from exc

    @property
    def compiled(self) -> bool:
        """Whether the emulation library exists."""
        return bool(self.library) and (self.path / self.library).is_file()

    def predict(self, x: ArrayLike, *, threads: int | None = None) -> NDArray[np.float32]:
        """Run the bit-accurate C++ emulation on a batch.

        Args:
            x: inputs, shape ``(n, n_inputs)`` (or ``(n_inputs,)`` for one event);
                converted to float32, as the torch model sees them.
            threads: events are split over this many threads (the compiled
                function keeps no state; ctypes releases the GIL while it runs).
                None: all cores for batches of 1024 events or more, else one.

        Returns:
            float32 outputs, shape ``(n, n_outputs)`` (``(n_outputs,)`` for one event).
        """
        arr = np.asarray(x, dtype=np.float32)
        single = arr.ndim == 1
        batch = np.ascontiguousarray(arr.reshape(1, -1) if single else arr)
        if batch.ndim != 2 or batch.shape[1] != self.n_inputs:
            raise L1ScoutError(
                f"firmware {self.project_name} expects inputs of shape (n, {self.n_inputs}), "
                f"got {arr.shape}"
            )
        if not self.compiled:
            raise L1ScoutError(
                f"firmware project {self.path} is not compiled (build_firmware(compile=True))"
            )
        top = _top_function(self.path / self.library, self.project_name)
        n = batch.shape[0]
        out = np.zeros((n, self.n_outputs), dtype=np.float32)
        if threads is None:
            threads = (os.cpu_count() or 1) if n >= 1024 else 1
        if threads < 1:
            raise ConfigError(f"threads must be positive, got {threads}")
        x_ptr, y_ptr = batch.ctypes.data, out.ctypes.data
        x_step, y_step = batch.strides[0], out.strides[0]

        def run(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                top(x_ptr + i * x_step, y_ptr + i * y_step)

        bounds = np.linspace(0, n, min(threads, max(n, 1)) + 1).astype(int)
        if len(bounds) <= 2:
            run(0, n)
        else:
            with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
                for fut in [pool.submit(run, lo, hi) for lo, hi in itertools.pairwise(bounds)]:
                    fut.result()
        return out[0] if single else out


_LIBS: dict[Path, Any] = {}
_LIBS_LOCK = threading.Lock()


def _top_function(library: Path, project_name: str) -> Any:
    """The ``<project>_float(float *x, float *y)`` entry of a compiled library (cached)."""
    key = library.resolve()
    with _LIBS_LOCK:
        lib = _LIBS.get(key)
        if lib is None:
            lib = ctypes.CDLL(str(key))
            _LIBS[key] = lib
    fn = getattr(lib, f"{project_name}_float")
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return fn


@contextlib.contextmanager
def _hls4ml_output(project_name: str) -> Iterator[io.StringIO]:
    """Send what hls4ml prints (the layer list, compiler errors) to this module's log."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        for line in buffer.getvalue().splitlines():
            _log.debug("hls4ml %s: %s", project_name, line)


def _plain_model(plan: Plan) -> torch.nn.Sequential:
    import torch
    from torch import nn

    mods: list[nn.Module] = []
    for layer in plan.layers:
        if layer.kind == "dense":
            assert layer.weight is not None
            assert layer.bias is not None
            lin = nn.Linear(layer.weight.shape[1], layer.weight.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.weight))
                lin.bias.copy_(torch.from_numpy(layer.bias))
            mods.append(lin)
        else:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods).eval()


def _hls_config(plain: torch.nn.Sequential, plan: Plan) -> dict[str, Any]:
    import hls4ml

    config: dict[str, Any] = hls4ml.utils.config_from_pytorch_model(
        plain,
        (plan.n_inputs,),
        granularity="name",
        backend=_BACKEND,
        default_precision=FLOAT_DEFAULT.hls(),
        default_reuse_factor=1,
    )
    config["Model"]["Strategy"] = _STRATEGY
    names = config["LayerName"]
    inputs = [n for n in names if n.startswith("input")]
    expected = [f"_{i}" for i in range(len(plan.layers))]
    if len(inputs) != 1 or sorted(set(names) - set(inputs)) != sorted(expected):
        raise L1ScoutError(
            f"hls4ml named the layers {sorted(names)}; expected one input and {expected}"
        )
    names[inputs[0]]["Precision"] = {"result": plan.input.hls()}
    for name, layer in zip(expected, plan.layers, strict=True):
        names[name]["Precision"] = layer.precision()
        names[name].pop("TableSize", None)
    return config


def build_firmware(
    model: torch.nn.Module,
    n_inputs: int,
    out_dir: Path | str,
    *,
    spec: QuantSpec | None = None,
    project_name: str = "l1scout_model",
    compile: bool = True,
    clock_ns: float = 25.0,
    default_precision: FixedPoint = FLOAT_DEFAULT,
) -> FirmwareProject:
    """Write (and compile) the hls4ml project of a fully connected network.

    Args:
        model: a network of ``Linear`` (optionally followed by ``BatchNorm1d``),
            ``ReLU`` and ``Dropout`` layers, or of :func:`~l1scout.deploy.quant.quantized_mlp`
            layers; nested ``nn.Sequential`` containers are flattened.
        n_inputs: inputs per event.
        out_dir: the project folder (created; hls4ml writes only there).
        spec: if given, every format of a quantized network must equal it (a
            mismatch raises :class:`~l1scout.errors.ConfigError`).
        project_name: the hls4ml project name (a C identifier).
        compile: build the C++ emulation (g++, 20 s to a minute).
        clock_ns: the target clock period written into the project (40 MHz: 25 ns).
        default_precision: the format of every tensor of floating-point layers.

    Returns:
        The project; its :meth:`FirmwareProject.predict` runs the emulation.
    """
    import hls4ml

    if not project_name.isidentifier():
        raise ConfigError(f"project_name must be a C identifier, got {project_name!r}")
    if n_inputs < 1:
        raise ConfigError(f"n_inputs must be positive, got {n_inputs}")
    plan = plan_network(model, n_inputs, spec, default_precision)
    plain = _plain_model(plan)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config = _hls_config(plain, plan)
    _log.info("converting to hls4ml project %s in %s", project_name, folder)
    library = ""
    with _hls4ml_output(project_name) as printed:
        hls_model = hls4ml.converters.convert_from_pytorch_model(
            plain,
            output_dir=str(folder),
            project_name=project_name,
            backend=_BACKEND,
            io_type=_IO_TYPE,
            hls_config=config,
            clock_period=clock_ns,
            write_weights_txt=False,
        )
        if compile:
            start = time.perf_counter()
            try:
                hls_model.compile()
            except Exception as exc:  # hls4ml raises a bare Exception
                tail = printed.getvalue()[-2000:]
                raise L1ScoutError(
                    f"hls4ml could not compile {folder} with g++ ({exc}); "
                    f"end of the compiler output:\n{tail}"
                ) from exc
            stamp = hls_model.config.get_config_value("Stamp")
            library = f"firmware/{project_name}-{stamp}.so"
            _log.info("compiled %s in %.1f s", library, time.perf_counter() - start)
        else:
            hls_model.write()
    output: FixedPoint | None = plan.output
    project = FirmwareProject(
        path=folder,
        output=output,
        project_name=project_name,
        library=library,
        n_inputs=plan.n_inputs,
        n_outputs=plan.n_outputs,
    )
    _write_metadata(project)
    return project


def _write_metadata(project: FirmwareProject) -> None:
    meta = {
        "project_name": project.project_name,
        "library": project.library,
        "n_inputs": project.n_inputs,
        "n_outputs": project.n_outputs,
        "output": asdict(project.output) if project.output is not None else None,
        "backend": _BACKEND,
        "io_type": _IO_TYPE,
        "strategy": _STRATEGY,
    }
    target = project.path / METADATA
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tmp.open("w") as fh:
        json.dump(meta, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(target)
