"""Fast bit-exact emulation of the firmware's fixed-point arithmetic.

:class:`FixedPointEmulator` computes what the hls4ml firmware of
:func:`l1scout.deploy.hls.build_firmware` computes (``io_parallel``,
``Latency`` dense layers and ReLUs), bit for bit, at millions of events per
second instead of the 10^4 to 10^5 of hls4ml's own C++ emulation (whose
``ap_fixed`` arithmetic costs tens of microseconds per event). It is checked
against that C++ emulation, which stays the reference
(:meth:`~l1scout.deploy.hls.FirmwareProject.predict` with ``engine="hls4ml"``,
the default), in ``tests/deploy/test_emulate.py``.

The arithmetic follows the ``ap_fixed<W,I,Q,O>`` semantics (AMD/Xilinx UG1399,
"Arbitrary Precision Data Types Library", ``ap_fixed`` quantization and
overflow modes; hls4ml's precision documentation, "Precision" in the hls4ml
configuration guide) as hls4ml's generated code uses them:

* input: every float32 input is converted to the input format as
  ``ap_fixed_base(double)`` does (``nnet::convert_data``): the exact value is
  rounded (``AP_RND_CONV``: to nearest, ties to even; ``AP_TRN``: towards minus
  infinity) and then saturated (``AP_SAT``) or wrapped (``AP_WRAP``); +-inf
  saturate; NaN (which hls4ml's types read as a huge number of the NaN's sign)
  saturates to the format's maximum, or its minimum if the sign bit is set
  (0 under ``AP_WRAP``).
* dense (``nnet::dense_latency``): each product ``x * w`` is exact, is
  assigned to the accumulator type, the bias too, and the sum accumulates in
  that type; the accumulator then converts to the layer's result type (its
  rounding and overflow modes). The emulation requires that the accumulator
  hold every product, the bias and every partial sum exactly (true for the
  formats of :func:`~l1scout.deploy.hls.accumulator_format`, which
  :func:`~l1scout.deploy._plan.plan_network` assigns); then the order of the
  additions does not matter.
* ReLU (``nnet::relu``): ``x > 0 ? x : 0``, converted to the activation type.
* output: the result type converted to float32 (exact up to 24 bits wide).

How: every tensor is held as its integer mantissa (value ``* 2**fractional``)
in float64, which is exact while every sum stays below ``2**53`` in magnitude;
the bound is checked for each layer from its actual weights and the input
format's range (the 57-32-16-8 encoder with the default formats needs 27 bits).
Weights and biases are pre-shifted to the accumulator's binary point and
the power-of-two rescaling of the following conversion is folded in, so a layer
is one multiply-add loop per event and one rounding and clamp per output. The
loop is a numba kernel (compiled on first use and cached on disk) that releases
the GIL; batches are split into chunks run on threads.

Formats: inputs float32 ``(n, n_inputs)``; outputs float32 ``(n, n_outputs)``
holding the output format's values (multiples of its lsb).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np

from l1scout.deploy._plan import FLOAT_DEFAULT, Layer, Plan, plan_network
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError, L1ScoutError

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike, NDArray

__all__ = ["EXACT_BITS", "FixedPointEmulator", "input_batch", "load_plan", "save_plan"]

#: Magnitude bits of the integers that float64 holds exactly (``2**53``).
EXACT_BITS = 53
#: Events per SIMD block of the kernel.
_BLOCK = 128
#: Events per kernel call (and per thread task).
_CHUNK = 16384
#: Batches from this size on are split over all cores when ``threads`` is None.
_THREADED_FROM = 32768

# op codes of the kernel program
_DENSE = 0
_CONVERT = 1


def _mantissa_bound(fmt: FixedPoint) -> float:
    """The largest magnitude of a mantissa of ``fmt``."""
    return float(max(-fmt.int_min, fmt.int_max))


@dataclass(frozen=True)
class _Convert:
    """Conversion of the current mantissas (``frac_from`` fractional bits) to ``fmt``."""

    frac_from: int
    fmt: FixedPoint
    relu: bool
    bound: float  # largest magnitude of the incoming mantissas

    @property
    def shift(self) -> int:
        """Fractional bits gained (negative: dropped, the value is rounded)."""
        return self.fmt.fractional - self.frac_from

    def identity(self) -> bool:
        """Whether the conversion changes no value (no rounding, no overflow, no ReLU)."""
        return (
            not self.relu
            and self.shift == 0
            and self.fmt.int_min <= -self.bound
            and self.bound <= self.fmt.int_max
        )


def input_batch(x: ArrayLike, n_inputs: int, what: str) -> tuple[NDArray[np.float32], bool]:
    """*x* as a contiguous float32 batch ``(n, n_inputs)`` and whether it was one event.

    Raises:
        L1ScoutError: naming *what* when the shape is not ``(n_inputs,)`` or ``(n, n_inputs)``.
    """
    arr = np.asarray(x, dtype=np.float32)
    single = arr.ndim == 1
    batch = np.ascontiguousarray(arr.reshape(1, -1) if single else arr)
    if batch.ndim != 2 or batch.shape[1] != n_inputs:
        msg = f"{what} expects inputs of shape (n, {n_inputs}), got {arr.shape}"
        raise L1ScoutError(msg)
    return batch, single


class FixedPointEmulator:
    """A firmware plan compiled to integer (mantissa) arithmetic.

    Build it with :meth:`from_plan` or :meth:`from_model`; :meth:`predict` runs
    it. Raises :class:`~l1scout.errors.ConfigError` at construction if a layer
    is outside what the emulation computes exactly (an accumulator that does not
    hold every sum, or sums beyond ``2**53``); use hls4ml's C++ emulation there.

    Attributes:
        n_inputs: inputs per event.
        n_outputs: outputs per event.
        input: format of the network input.
        output: format of the network output.
        bits: magnitude bits of the largest integer any layer computes (<= 53).
    """

    def __init__(self, plan: Plan) -> None:
        if plan.output.width > 24:
            raise ConfigError(
                f"output format {plan.output.hls()} is wider than 24 bits: not exact in float32"
            )
        self.n_inputs = plan.n_inputs
        self.n_outputs = plan.n_outputs
        self.input = plan.input
        self.output = plan.output
        self._compile(plan)

    @classmethod
    def from_plan(cls, plan: Plan) -> FixedPointEmulator:
        """The emulator of a plan (:func:`~l1scout.deploy._plan.plan_network`)."""
        return cls(plan)

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        n_inputs: int,
        *,
        spec: QuantSpec | None = None,
        default_precision: FixedPoint = FLOAT_DEFAULT,
    ) -> FixedPointEmulator:
        """The emulator of what :func:`~l1scout.deploy.hls.build_firmware` writes for ``model``."""
        return cls(plan_network(model, n_inputs, spec, default_precision))

    def _compile(self, plan: Plan) -> None:
        """Turn the plan into the kernel program (op codes and float64 parameters)."""
        dense: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []  # (in, out), (out,)
        convs: list[tuple[int, _Convert]] = []  # (index of the dense layer before, or -1)
        program: list[tuple[int, int]] = []  # (op code, index into dense or convs)
        frac = plan.input.fractional
        bound = _mantissa_bound(plan.input)
        bits = math.log2(bound) if bound > 0 else 0.0
        for k, layer in enumerate(plan.layers):
            relu = layer.kind == "relu"
            if not relu:
                w_int, b_int, frac, bound = self._dense(k, layer, frac, bound)
                bits = max(bits, math.log2(bound) if bound > 0 else 0.0)
                program.append((_DENSE, len(dense)))
                dense.append((w_int, b_int))
            conv = _Convert(frac, layer.result, relu=relu, bound=bound)
            scaled = conv.bound * 2.0**conv.shift  # largest mantissa while rescaled
            bits = max(bits, math.log2(scaled) if scaled > 0 else 0.0)
            if bits >= EXACT_BITS:
                raise ConfigError(
                    f"layer {k}: values reach 2**{bits:.1f}, beyond the exact float64 "
                    f"range 2**{EXACT_BITS}; use the hls4ml emulation"
                )
            if not conv.identity():
                after = program[-1][1] if program and program[-1][0] == _DENSE else -1
                program.append((_CONVERT, len(convs)))
                convs.append((after, conv))
            if conv.fmt.overflow == "WRAP":
                bound = _mantissa_bound(conv.fmt)
            else:  # after rounding and saturation
                low = 0.0 if relu else float(conv.fmt.int_min)
                bound = max(min(math.ceil(scaled), conv.fmt.int_max), min(math.ceil(scaled), -low))
            frac = conv.fmt.fractional
        self.bits = bits
        n_ops = len(program)
        kinds = np.zeros(n_ops, dtype=np.int64)
        ints = np.zeros((n_ops, 4), dtype=np.int64)  # n_in, n_out, w offset, b offset
        params = np.zeros((n_ops, 7), dtype=np.float64)  # scale, relu, round, sat, lo, hi, span
        scaled_dense = [(w.copy(), b.copy()) for w, b in dense]
        for _, (after, conv) in enumerate(convs):
            if after >= 0:  # fold the power of two into the dense layer (exact)
                w, b = scaled_dense[after]
                w *= 2.0**conv.shift
                b *= 2.0**conv.shift
        w_off = b_off = 0
        for i, (kind, j) in enumerate(program):
            kinds[i] = kind
            if kind == _DENSE:
                w, b = scaled_dense[j]
                ints[i] = (w.shape[0], w.shape[1], w_off, b_off)
                w_off += w.size
                b_off += b.size
                continue
            after, conv = convs[j]
            fmt = conv.fmt
            params[i] = (
                1.0 if after >= 0 else 2.0**conv.shift,
                float(conv.relu),
                0.0 if conv.shift >= 0 else (1.0 if fmt.rounding == "RND_CONV" else 2.0),
                float(fmt.overflow == "SAT"),
                float(fmt.int_min),
                float(fmt.int_max),
                float(2**fmt.width),
            )
        self._kinds = kinds
        self._ints = ints
        self._params = params
        self._weights = (
            np.concatenate([w.ravel() for w, _ in scaled_dense]) if dense else np.zeros(0)
        )
        self._biases = np.concatenate([b for _, b in scaled_dense]) if dense else np.zeros(0)
        inp = plan.input
        self._input = np.array(
            [
                2.0**inp.fractional,
                1.0 if inp.rounding == "RND_CONV" else 2.0,
                float(inp.overflow == "SAT"),
                float(inp.int_min),
                float(inp.int_max),
                float(2**inp.width),
            ]
        )
        self._out_lsb = plan.output.lsb
        self._width = max([plan.n_inputs, *(int(n) for n in ints[:, 1])])

    @staticmethod
    def _dense(
        k: int, layer: Layer, frac: int, bound: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], int, float]:
        """Integer weights ``(in, out)`` and biases in accumulator lsb, and the sums' bound.

        Also returns the accumulator's fractional bits; raises if it is not exact.
        """
        assert layer.weight is not None
        assert layer.bias is not None
        assert layer.weight_format is not None
        assert layer.bias_format is not None
        assert layer.accum is not None
        acc = layer.accum
        f_w, f_b = layer.weight_format.fractional, layer.bias_format.fractional
        if acc.fractional < frac + f_w or acc.fractional < f_b:
            raise ConfigError(
                f"layer {k}: accumulator {acc.hls()} rounds the products or the bias "
                "(the emulation needs exact sums); use the hls4ml emulation"
            )
        w_int = np.ldexp(layer.weight.T, acc.fractional - frac)  # value * 2**(f_acc - f_in)
        b_int = np.ldexp(layer.bias, acc.fractional)
        if not (np.all(w_int == np.round(w_int)) and np.all(b_int == np.round(b_int))):
            raise ConfigError(f"layer {k}: weights or biases are not on their format's grid")
        sums = bound * np.abs(w_int).sum(axis=0) + np.abs(b_int)
        worst = float(sums.max()) if sums.size else 0.0
        if worst > acc.int_max or -worst < acc.int_min:
            raise ConfigError(
                f"layer {k}: sums up to {worst:.0f} lsb overflow the accumulator {acc.hls()}; "
                "use the hls4ml emulation"
            )
        return np.ascontiguousarray(w_int), b_int, acc.fractional, worst

    def predict(self, x: ArrayLike, *, threads: int | None = None) -> NDArray[np.float32]:
        """The firmware's outputs for a batch, bit for bit.

        Args:
            x: inputs, shape ``(n, n_inputs)`` (or ``(n_inputs,)`` for one event);
                converted to float32, as the firmware bridge receives them.
            threads: chunks of events run on this many threads (the kernel
                releases the GIL). None: all cores from 32768 events on, else one.

        Returns:
            float32 outputs (multiples of the output lsb), shape ``(n, n_outputs)``
            (``(n_outputs,)`` for one event).
        """
        batch, single = input_batch(x, self.n_inputs, "the emulation")
        n = batch.shape[0]
        if threads is None:
            threads = (os.cpu_count() or 1) if n >= _THREADED_FROM else 1
        if threads < 1:
            raise ConfigError(f"threads must be positive, got {threads}")
        out = np.empty((n, self.n_outputs), dtype=np.float32)
        bounds = [*range(0, n, _CHUNK), n]

        def run(lo: int, hi: int) -> None:
            _kernel(
                batch,
                out,
                lo,
                hi,
                self._input,
                self._kinds,
                self._ints,
                self._params,
                self._weights,
                self._biases,
                self._out_lsb,
                self._width,
            )

        pairs = list(itertools.pairwise(bounds))
        if threads == 1 or len(pairs) <= 1:
            for lo, hi in pairs:
                run(lo, hi)
        else:
            with ThreadPoolExecutor(max_workers=min(threads, len(pairs))) as pool:
                for fut in [pool.submit(run, lo, hi) for lo, hi in pairs]:
                    fut.result()
        return out[0] if single else out


def save_plan(plan: Plan, path: Path | str) -> None:
    """Write a plan (formats as JSON, weights and biases as float64 on their grids) to ``.npz``."""
    layers = [
        {
            "kind": layer.kind,
            **{
                name: asdict(fmt) if fmt is not None else None
                for name, fmt in (
                    ("result", layer.result),
                    ("weight_format", layer.weight_format),
                    ("bias_format", layer.bias_format),
                    ("accum", layer.accum),
                )
            },
        }
        for layer in plan.layers
    ]
    meta = {
        "input": asdict(plan.input),
        "output": asdict(plan.output),
        "n_inputs": plan.n_inputs,
        "n_outputs": plan.n_outputs,
        "layers": layers,
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for k, layer in enumerate(plan.layers):
        if layer.weight is not None and layer.bias is not None:
            arrays[f"weight_{k}"] = layer.weight
            arrays[f"bias_{k}"] = layer.bias
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(target)


def load_plan(path: Path | str) -> Plan:
    """The plan that :func:`save_plan` wrote."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            layers = []
            for k, entry in enumerate(meta["layers"]):
                fmts = {
                    name: FixedPoint(**entry[name]) if entry[name] is not None else None
                    for name in ("weight_format", "bias_format", "accum")
                }
                dense = entry["kind"] == "dense"
                layers.append(
                    Layer(
                        entry["kind"],
                        FixedPoint(**entry["result"]),
                        np.array(data[f"weight_{k}"], dtype=np.float64) if dense else None,
                        np.array(data[f"bias_{k}"], dtype=np.float64) if dense else None,
                        **fmts,
                    )
                )
            return Plan(
                FixedPoint(**meta["input"]),
                layers,
                FixedPoint(**meta["output"]),
                int(meta["n_inputs"]),
                int(meta["n_outputs"]),
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise L1ScoutError(f"{path}: not a firmware plan written by save_plan ({exc})") from exc


@numba.njit(cache=True, nogil=True)
def _wrap(v: float, hi: float, span: float) -> float:  # pragma: no cover - compiled
    """``AP_WRAP``: the integer ``v`` modulo ``span`` into ``[hi + 1 - span, hi]`` (inf, NaN: 0)."""
    if not math.isfinite(v):
        return 0.0
    r = v - span * math.floor(v / span)  # in [0, span), exact: a representable difference
    if r > hi:
        r -= span
    return r


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _kernel(
    x: NDArray[np.float32],
    out: NDArray[np.float32],
    start: int,
    stop: int,
    inp: NDArray[np.float64],
    kinds: NDArray[np.int64],
    ints: NDArray[np.int64],
    params: NDArray[np.float64],
    weights: NDArray[np.float64],
    biases: NDArray[np.float64],
    out_lsb: float,
    width: int,
) -> None:  # pragma: no cover - compiled
    """Events ``start:stop`` of ``x`` through the program, into ``out`` (see ``_compile``).

    Events go in blocks of ``_BLOCK``, each tensor as ``(features, events)`` so
    that the innermost loops run over the events of a block (SIMD lanes).
    Reassociation is allowed: every sum is exact, so its order does not matter.
    """
    cur = np.empty((width, _BLOCK), dtype=np.float64)
    nxt = np.empty((width, _BLOCK), dtype=np.float64)
    n_in0 = x.shape[1]
    scale, rnd, sat, lo, hi, span = inp[0], inp[1], inp[2], inp[3], inp[4], inp[5]
    for e0 in range(start, stop, _BLOCK):
        nb = min(_BLOCK, stop - e0)
        for i in range(n_in0):  # float32 -> input format, as ap_fixed_base(double)
            row = cur[i]
            for e in range(nb):
                xv = np.float64(x[e0 + e, i])
                v = xv * scale
                v = np.rint(v) if rnd == 1.0 else math.floor(v)
                if sat == 1.0:
                    v = min(max(v, lo), hi)
                    nan_to = lo if math.copysign(1.0, xv) < 0.0 else hi
                    row[e] = nan_to if math.isnan(xv) else v
                else:
                    row[e] = _wrap(v, hi, span)
        n = n_in0
        for k in range(kinds.shape[0]):
            if kinds[k] == 0:  # dense: bias, then the products, all exact
                n_out, w0, b0 = ints[k, 1], ints[k, 2], ints[k, 3]
                for j in range(n_out):
                    b = biases[b0 + j]
                    acc = nxt[j]
                    for e in range(nb):
                        acc[e] = b
                for i in range(n):
                    xi = cur[i]
                    for j in range(n_out):
                        w = weights[w0 + i * n_out + j]
                        if w != 0.0:
                            acc = nxt[j]
                            for e in range(nb):
                                acc[e] += xi[e] * w
                cur, nxt = nxt, cur
                n = n_out
                continue
            # conversion to the next format: rescale, ReLU, round, saturate or wrap
            c_scale, relu, c_rnd, c_sat = params[k, 0], params[k, 1], params[k, 2], params[k, 3]
            c_lo, c_hi, c_span = params[k, 4], params[k, 5], params[k, 6]
            if relu == 1.0 and c_sat == 1.0:
                c_lo = 0.0  # ReLU, then saturation: one clamp (rounding keeps the sign)
            for j in range(n):
                row = cur[j]
                if c_scale != 1.0:
                    for e in range(nb):
                        row[e] *= c_scale
                if relu == 1.0:
                    for e in range(nb):
                        row[e] = max(row[e], 0.0)
                if c_rnd == 1.0:
                    for e in range(nb):
                        row[e] = np.rint(row[e])
                elif c_rnd == 2.0:
                    for e in range(nb):
                        row[e] = math.floor(row[e])
                if c_sat == 1.0:
                    for e in range(nb):
                        row[e] = min(max(row[e], c_lo), c_hi)
                else:
                    for e in range(nb):
                        row[e] = _wrap(row[e], c_hi, c_span)
        for j in range(n):
            row = cur[j]
            for e in range(nb):
                out[e0 + e, j] = np.float32(row[e] * out_lsb + 0.0)  # + 0.0: no negative zero
