"""Anomaly trigger: inference throughput (torch, ONNX Runtime, fixed-point emulation) and training speed.

Run:  .venv/bin/python benchmarks/anomaly.py [--data DIR] [--events N]

Measured side by side in one run on this machine, for the deployed AXOL1TL
encoder (57-32-16-8, quantized, the VAE's mu path):

* inference throughput in events/s at batch 1 and at large batches, for the
  torch model, ONNX Runtime (CPU) and the hls4ml bit-accurate C++ emulation,
  each also as a fraction of the 40 MHz bunch-crossing clock (a software
  trigger would need that fraction of one core per 40 MHz of crossings);
* training time per million events (one epoch over the training sample,
  batch 1024), for the VAE and for the VICReg backbone + autoencoder.

Inputs: with ``--data`` the zero-bias of an anomaly pipeline's data folder
(``<out>/data``), else synthetic physical trigger inputs shaped like zero bias
at pileup 200 (exponential pTs, uniform eta/phi, rough object occupancies
chosen by hand, not measured); the timings do not depend on the values.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from l1scout.deploy.hls import build_firmware
from l1scout.deploy.onnx import OnnxModel, export_onnx
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig, VICRegConfig
from l1scout.tasks.anomaly.train import train

CLOCK_HZ = 40e6


def synthetic_zero_bias(n: int, seed: int = 1) -> np.ndarray:
    """(n, 57) physical trigger inputs with zero-bias-like multiplicities (timing only)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 19, 3), dtype=np.float32)
    counts = {0: 1, 1: 4, 5: 4, 9: 10}  # first slot of each group -> slots
    means = {0: 40.0, 1: 8.0, 5: 6.0, 9: 30.0}
    occupancy = {0: 1.0, 1: 0.3, 5: 0.05, 9: 0.8}
    for start, slots in counts.items():
        for k in range(slots):
            present = rng.random(n) < occupancy[start] / (k + 1)
            pt = rng.exponential(means[start] / (k + 1), n) * present
            x[:, start + k, 0] = pt
            x[:, start + k, 1] = rng.uniform(-3, 3, n) * present * (start != 0)
            x[:, start + k, 2] = rng.uniform(-np.pi, np.pi, n) * present
    return x.reshape(n, 57)


def _load(data: Path | None, n: int) -> np.ndarray:
    if data is None:
        return synthetic_zero_bias(n)
    from l1scout.tasks.anomaly.data import load_inputs

    files = sorted((data / "minbias").glob("*.parquet"))
    x = load_inputs(files)
    reps = int(np.ceil(n / len(x)))
    return np.tile(x, (reps, 1))[:n]


def _rate(fn: Callable[[np.ndarray], object], x: np.ndarray, batch: int, seconds: float) -> float:
    """Events/s of *fn* on batches of *batch* rows, for about *seconds* of wall time."""
    fn(x[:batch])  # warm-up
    done, start = 0, time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        lo = (i * batch) % max(len(x) - batch, 1)
        fn(x[lo : lo + batch])
        done += batch
        i += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)

    x_phys = _load(args.data, args.events)
    scaler = PowerOfTwoRobustScaler(object_size=3).fit(x_phys)
    x = np.ascontiguousarray(scaler.transform(x_phys), dtype=np.float32)
    n_train = min(len(x_phys) - 10_000, 100_000)

    rows = []
    for name, cfg in (
        ("VAE 57-32-16-8 (quantized)", VAEConfig(name="v3")),
        ("VICReg 57-29-10 + AE", VICRegConfig(name="v5")),
    ):
        tc = TrainConfig(epochs=1, batch_size=1024, patience=1, seed=1)
        res = train(cfg, tc, x_phys[:n_train], x_phys[n_train : n_train + 10_000], scaler=scaler)
        per_million = res.seconds / res.events * 1e6
        rows.append((name, res.events, res.seconds, per_million))
        if name.startswith("VAE"):
            model = res.model
    print("\nTraining (1 torch thread, batch 1024, validation pass included)")
    print(f"{'model':32s} {'events':>9s} {'s':>7s} {'s per 1M events':>16s}")
    for name, events, secs, pm in rows:
        print(f"{name:32s} {events:9d} {secs:7.2f} {pm:16.1f}")

    encoder = model.deployable().eval()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(encoder, 57, Path(tmp) / "encoder.onnx")
        ort = OnnxModel(onnx_path, threads=1)
        t0 = time.perf_counter()
        firmware = build_firmware(encoder, 57, Path(tmp) / "fw", spec=VAEConfig(name="v3").quant)
        compile_s = time.perf_counter() - t0

        def torch_fn(batch: np.ndarray) -> object:
            with torch.no_grad():
                return encoder(torch.from_numpy(batch))

        paths = {
            "torch (CPU, 1 thread)": torch_fn,
            "ONNX Runtime (CPU, 1 thread)": ort.predict,
            "hls4ml C++ emulation": firmware.predict,
        }
        print(
            f"\nInference of the deployed encoder ({len(x)} events; hls4ml compile {compile_s:.0f} s)"
        )
        print(f"{'path':30s} {'batch':>6s} {'events/s':>12s} {'of 40 MHz':>10s}")
        for label, fn in paths.items():
            for batch in (1, 1024, 16384):
                rate = _rate(fn, x, batch, args.seconds)
                print(f"{label:30s} {batch:6d} {rate:12.0f} {rate / CLOCK_HZ:10.2e}")


if __name__ == "__main__":
    main()
