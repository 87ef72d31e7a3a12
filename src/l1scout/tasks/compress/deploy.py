"""Deployability of the learned encoders: ONNX export, parity with torch, throughput, operations.

For each encoder (the set autoencoder's
:class:`~l1scout.tasks.compress.autoencoder.SetEncoder`, the VICReg
embedder's) :func:`deploy_encoder`:

* exports it to ONNX (:func:`l1scout.deploy.onnx.export_onnx`: traced on a
  batch of two, dynamic batch axis; input ``x``, the packed sets
  ``[batch, k (F + 1)]`` of :meth:`~l1scout.tasks.compress.sets.ParticleSets.packed`,
  output ``latent``);
* measures the largest absolute difference between ONNX Runtime and torch
  over the given events (:func:`l1scout.deploy.onnx.onnx_parity`);
* measures the throughput through ONNX Runtime on ``threads`` intra-op
  threads (default 2), in events per second: batches of ``batch_size``, one
  warm-up pass, the best of ``repeats`` timed passes over the events (wall
  clock); and the cores a stream at the LHC's crossing rate needs,
  ``rate / throughput x threads``, with the Phase-2 rate of
  :data:`l1scout.tasks.rates.PHASE2_CROSSING_RATE_KHZ` (31,039 kHz: 2760
  colliding bunch pairs x 11.246 kHz); the 40 MHz clock would need 29 %
  more;
* counts its operations per event (:func:`l1scout.deploy.count_ops`: the
  per-particle MLP counts once per slot, all ``k`` slots, as the graph computes
  them; the pooling's ``2 k h`` additions and comparisons are not counted).

**No hls4ml-emulated encoder.** The project's bit-exact firmware route
(:mod:`l1scout.deploy.quant` layers, :func:`l1scout.deploy.hls.build_firmware`,
:class:`l1scout.deploy.FixedPointEmulator`) covers a plain chain of dense
layers and ReLUs on one input vector. The DeepSets encoder is a shared
per-particle network applied to 128 slots, a masked sum and maximum over the
slots, then a second network: the pooling between the two networks and the
mask are not dense layers, and the encoders here are trained in float, not
with the fixed-point layers. A quantized encoder would need quantization-aware
training of both networks and an emulation of the pooling in fixed point;
that is not done.

Example:
    >>> round(cores_for_stream(31_039_000.0, threads=2), 3)
    2.0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from l1scout.deploy.flops import OpCount, count_ops
from l1scout.deploy.onnx import OnnxModel, export_onnx, onnx_parity
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.sets import N_FEATURES, ParticleSets
from l1scout.tasks.rates import PHASE2_CROSSING_RATE_KHZ

__all__ = [
    "CROSSING_RATE_HZ",
    "EncoderDeployment",
    "cores_for_stream",
    "deploy_encoder",
    "encoder_throughput",
    "export_encoder",
]

#: The Phase-2 bunch-crossing rate (Hz): 2760 colliding bunch pairs x 11.246 kHz.
CROSSING_RATE_HZ = PHASE2_CROSSING_RATE_KHZ * 1e3


@dataclass(frozen=True)
class EncoderDeployment:
    """One encoder's deployability figures (module docstring).

    Attributes:
        name: the encoder's name (the ONNX file's stem).
        onnx: the ONNX file.
        n_inputs: inputs per event, ``k (F + 1)``.
        parity: largest absolute ONNX Runtime - torch difference over the events.
        events_per_second: ONNX Runtime throughput on ``threads`` threads.
        threads: ONNX Runtime's intra-op threads of the measurement.
        cores_for_stream: cores for the crossing rate (:func:`cores_for_stream`).
        ops: multiply-accumulates, FLOPs and parameters per event.
    """

    name: str
    onnx: Path
    n_inputs: int
    parity: float
    events_per_second: float
    threads: int
    cores_for_stream: float
    ops: OpCount


def cores_for_stream(
    events_per_second: float, *, threads: int = 2, rate_hz: float = CROSSING_RATE_HZ
) -> float:
    """Cores that encode every crossing at *rate_hz*: ``rate_hz / events_per_second x threads``.

    Raises:
        ConfigError: a throughput or rate that is not positive.
    """
    if not (events_per_second > 0 and rate_hz > 0 and threads >= 1):
        msg = f"cores for the stream: expected positive throughput and rate, got {events_per_second} and {rate_hz}"
        raise ConfigError(msg)
    return rate_hz / events_per_second * threads


def _slots(encoder: nn.Module) -> int:
    slots = getattr(encoder, "slots", None)
    if not isinstance(slots, int):
        msg = f"encoder {type(encoder).__name__}: expected a set encoder with a 'slots' attribute"
        raise ConfigError(msg)
    return slots


def export_encoder(encoder: nn.Module, path: Path | str) -> Path:
    """Write a set encoder as ONNX (input ``x`` ``[batch, k (F + 1)]``, output ``latent``)."""
    return export_onnx(encoder, _slots(encoder) * (N_FEATURES + 1), path, output_names=("latent",))


def encoder_throughput(
    path: Path | str,
    x: np.ndarray,
    *,
    threads: int = 2,
    batch_size: int = 1024,
    repeats: int = 3,
) -> float:
    """Events per second of the ONNX file on *x* (module docstring: warm-up, best of *repeats*).

    Raises:
        DataFormatError: no events.
        ConfigError: *batch_size* or *repeats* below 1.
    """
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim != 2 or arr.shape[0] == 0:
        msg = f"throughput: expected a batch [n >= 1, inputs], got {arr.shape}"
        raise DataFormatError(msg)
    if batch_size < 1 or repeats < 1:
        msg = f"throughput: expected batch_size and repeats >= 1, got {batch_size} and {repeats}"
        raise ConfigError(msg)
    model = OnnxModel(path, threads=threads)
    batches = [arr[i : i + batch_size] for i in range(0, len(arr), batch_size)]
    model.run(batches[0])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for b in batches:
            model.run(b)
        best = min(best, time.perf_counter() - start)
    return len(arr) / max(best, 1e-9)


def deploy_encoder(
    encoder: nn.Module,
    sets: ParticleSets,
    folder: Path | str,
    name: str,
    *,
    threads: int = 2,
    batch_size: int = 1024,
    repeats: int = 3,
) -> EncoderDeployment:
    """Export *encoder* to ``<folder>/<name>.onnx`` and measure it on *sets* (module docstring).

    Raises:
        DataFormatError: *sets* has another number of slots than the encoder, or no events.
    """
    slots = _slots(encoder)
    if sets.k != slots or sets.n_events == 0:
        msg = f"deploy {name}: expected events with {slots} slots, got {sets.n_events} x {sets.k}"
        raise DataFormatError(msg)
    path = export_encoder(encoder, Path(folder) / f"{name}.onnx")
    x = sets.packed()
    parity = onnx_parity(encoder, path, x)
    eps = encoder_throughput(path, x, threads=threads, batch_size=batch_size, repeats=repeats)
    n_inputs = slots * (N_FEATURES + 1)
    return EncoderDeployment(
        name=name,
        onnx=path,
        n_inputs=n_inputs,
        parity=parity,
        events_per_second=eps,
        threads=threads,
        cores_for_stream=cores_for_stream(eps, threads=threads),
        ops=count_ops(encoder, n_inputs),
    )
