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
and loaded again with :meth:`FirmwareProject.load`. :func:`build_firmware` adds
a batch entry point to the bridge that hls4ml writes (``<project>_float_batch``,
a C++ loop over events that calls hls4ml's own ``<project>_float`` wrapper, so
the results are those of the per-event emulation bit for bit): one ctypes call
runs a whole chunk of events. The generated code has only dense layers and
ReLUs, which keep no state, so batches are split over threads, one chunk and
one call each. Projects built before the batch entry point existed are run one
event per call, as before.

The emulation's own arithmetic (``ap_fixed`` types, compiled ``-O3`` by
hls4ml's ``build_lib.sh``) dominates: about 20 to 50 us per event of the
57-32-16-8 encoder on one core, measured from C++ without Python, so the batch
entry point removes only the per-call overhead of ctypes and the Python loop.

For many events, ``predict(..., engine="integer")`` runs the same arithmetic
on integer mantissas instead (:mod:`l1scout.deploy.emulate`, from the layer plan
that :func:`build_firmware` saves as ``l1scout_plan.npz``): bit-exact with the
C++ (tested), millions of events per second. The C++ stays the default.

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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from l1scout.deploy._plan import FLOAT_DEFAULT, Plan, accumulator_format, plan_network
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError, L1ScoutError

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike, NDArray

    from l1scout.deploy.emulate import FixedPointEmulator

__all__ = [
    "FLOAT_DEFAULT",
    "FirmwareProject",
    "accumulator_format",
    "build_firmware",
]

_log = logging.getLogger(__name__)

#: The metadata file :func:`build_firmware` writes into the project folder.
METADATA = "l1scout_firmware.json"
#: The layer plan (formats, weights) it writes there, for the integer emulation.
PLAN = "l1scout_plan.npz"
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

    def predict(
        self,
        x: ArrayLike,
        *,
        threads: int | None = None,
        engine: Literal["hls4ml", "integer"] = "hls4ml",
    ) -> NDArray[np.float32]:
        """Run the bit-accurate emulation on a batch.

        Args:
            x: inputs, shape ``(n, n_inputs)`` (or ``(n_inputs,)`` for one event);
                converted to float32, as the torch model sees them.
            threads: events are split over this many threads (the compiled
                function keeps no state; ctypes releases the GIL while it runs).
                None: all cores for batches of 1024 events or more, else one.
            engine: ``"hls4ml"``, the reference: hls4ml's compiled C++ (``ap_fixed``
                types), 10^4 to 10^5 events/s. ``"integer"``: the same arithmetic
                on integer mantissas (:class:`~l1scout.deploy.emulate.FixedPointEmulator`,
                from the plan saved in the project), equal bit for bit (tested) and
                about 50 times faster; falls back to hls4ml, with a warning, for a
                project without a saved plan or with sums beyond its exact range.

        Returns:
            float32 outputs, shape ``(n, n_outputs)`` (``(n_outputs,)`` for one event).
        """
        if engine == "integer":
            emulator = self.emulator()
            if emulator is not None:
                return emulator.predict(x, threads=threads)
        elif engine != "hls4ml":
            raise ConfigError(f"engine must be 'hls4ml' or 'integer', got {engine!r}")
        return self._run(x, threads, per_event=False)

    def emulator(self) -> FixedPointEmulator | None:
        """The integer emulation of this project (cached); None (logged) where there is none."""
        from l1scout.deploy.emulate import FixedPointEmulator, load_plan

        path = (self.path / PLAN).resolve()
        with _LIBS_LOCK:
            cached = _EMULATORS.get(path)
        if cached is not None:
            return cached
        if not path.is_file():
            _log.warning("%s: no saved plan (built before it was saved); using hls4ml", self.path)
            return None
        try:
            emulator = FixedPointEmulator(load_plan(path))
        except ConfigError as exc:
            _log.warning("%s: no integer emulation (%s); using hls4ml", self.path, exc)
            return None
        with _LIBS_LOCK:
            _EMULATORS[path] = emulator
        return emulator

    def _run(self, x: ArrayLike, threads: int | None, *, per_event: bool) -> NDArray[np.float32]:
        """:meth:`predict`; ``per_event``: one ctypes call per event (the path of old libraries)."""
        from l1scout.deploy.emulate import input_batch

        batch, single = input_batch(x, self.n_inputs, f"firmware {self.project_name}")
        if not self.compiled:
            raise L1ScoutError(
                f"firmware project {self.path} is not compiled (build_firmware(compile=True))"
            )
        n = batch.shape[0]
        if threads is None:
            threads = (os.cpu_count() or 1) if n >= 1024 else 1
        if threads < 1:
            raise ConfigError(f"threads must be positive, got {threads}")
        entries = _entry_points(self.path / self.library, self.project_name)
        return _emulate(entries, batch, self.n_outputs, threads, per_event=per_event, single=single)


@dataclass(frozen=True)
class _Entries:
    """The C entry points of a compiled emulation library."""

    one: Any  # <project>_float(float *x, float *y): one event
    batch: Any | None  # <project>_float_batch(const float *x, float *y, long n); None: old library


def _emulate(
    entries: _Entries,
    batch: NDArray[np.float32],
    n_outputs: int,
    threads: int,
    *,
    per_event: bool,
    single: bool = False,
) -> NDArray[np.float32]:
    """Run a C-contiguous ``(n, n_inputs)`` float32 batch, one call per chunk or per event."""
    n = batch.shape[0]
    out = np.zeros((n, n_outputs), dtype=np.float32)
    x_ptr, y_ptr = batch.ctypes.data, out.ctypes.data
    x_step, y_step = batch.strides[0], out.strides[0]
    many = None if per_event else entries.batch
    top = entries.one

    def run(lo: int, hi: int) -> None:
        if many is not None:
            if hi > lo:
                many(x_ptr + lo * x_step, y_ptr + lo * y_step, hi - lo)
            return
        for i in range(lo, hi):
            top(x_ptr + i * x_step, y_ptr + i * y_step)

    bounds = [int(b) for b in np.linspace(0, n, min(threads, max(n, 1)) + 1)]
    if len(bounds) <= 2:
        run(0, n)
    else:
        with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
            for fut in [pool.submit(run, lo, hi) for lo, hi in itertools.pairwise(bounds)]:
                fut.result()
    return out[0] if single else out


_LIBS: dict[Path, Any] = {}
_EMULATORS: dict[Path, FixedPointEmulator] = {}
_LIBS_LOCK = threading.Lock()


def _entry_points(library: Path, project_name: str) -> _Entries:
    """The per-event and (if built) batch entries of a compiled library (cached)."""
    key = library.resolve()
    with _LIBS_LOCK:
        lib = _LIBS.get(key)
        if lib is None:
            lib = ctypes.CDLL(str(key))
            _LIBS[key] = lib
    one = getattr(lib, f"{project_name}_float")
    one.restype = None
    one.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    many = getattr(lib, f"{project_name}_float{_BATCH_SUFFIX}", None)
    if many is not None:
        many.restype = None
        many.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
    return _Entries(one, many)


#: Name suffix of the batch entry point that :func:`build_firmware` adds to the bridge.
_BATCH_SUFFIX = "_batch"


def _batch_entry_source(project_name: str, n_inputs: int, n_outputs: int) -> str:
    """C++ of ``<project>_float_batch``: hls4ml's per-event float wrapper in a loop."""
    return f"""
// Added by l1scout (build_firmware): one call for a batch of events, row-major
// float arrays (n, {n_inputs}) in and (n, {n_outputs}) out. Each event goes through
// hls4ml's own {project_name}_float wrapper above, so results equal per-event calls.
extern "C" void {project_name}_float{_BATCH_SUFFIX}(const float *x, float *y, long n) {{
    for (long i = 0; i < n; i++) {{
        {project_name}_float(const_cast<float *>(x) + i * {n_inputs}L, y + i * {n_outputs}L);
    }}
}}
"""


def _add_batch_entry(folder: Path, project_name: str, n_inputs: int, n_outputs: int) -> None:
    """Append the batch entry point to the bridge that hls4ml wrote (compiled by build_lib.sh)."""
    bridge = folder / f"{project_name}_bridge.cpp"
    text = bridge.read_text()
    if f"void {project_name}_float(" not in text:
        raise L1ScoutError(f"{bridge}: hls4ml's {project_name}_float wrapper not found")
    bridge.write_text(text + _batch_entry_source(project_name, n_inputs, n_outputs))


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

    from l1scout.deploy.emulate import save_plan

    if not project_name.isidentifier():
        raise ConfigError(f"project_name must be a C identifier, got {project_name!r}")
    if n_inputs < 1:
        raise ConfigError(f"n_inputs must be positive, got {n_inputs}")
    plan = plan_network(model, n_inputs, spec, default_precision)
    plain = _plain_model(plan)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    save_plan(plan, folder / PLAN)
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
        hls_model.write()
        _add_batch_entry(folder, project_name, plan.n_inputs, plan.n_outputs)
        if compile:
            start = time.perf_counter()
            try:
                # build_lib.sh of the project as written (hls_model.compile() would rewrite
                # the bridge first); the library is loaded by FirmwareProject, not hls4ml
                hls_model.config.backend.compile(hls_model)
            except Exception as exc:  # hls4ml raises a bare Exception
                tail = printed.getvalue()[-2000:]
                raise L1ScoutError(
                    f"hls4ml could not compile {folder} with g++ ({exc}); "
                    f"end of the compiler output:\n{tail}"
                ) from exc
            stamp = hls_model.config.get_config_value("Stamp")
            library = f"firmware/{project_name}-{stamp}.so"
            _log.info("compiled %s in %.1f s", library, time.perf_counter() - start)
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
