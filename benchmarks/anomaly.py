"""Anomaly trigger: inference throughput (torch, ONNX Runtime, fixed-point emulation) and training speed.

Run:  .venv/bin/python benchmarks/anomaly.py [--data DIR] [--events N]

Measured side by side in one run on this machine, for the deployed AXOL1TL
encoder (57-32-16-8, quantized, the VAE's mu path):

* inference throughput in events/s at batch 1 and at large batches, for the
  torch model, ONNX Runtime (CPU) and the hls4ml bit-accurate C++ emulation,
  each also as a fraction of the 40 MHz bunch-crossing clock (a software
  trigger would need that fraction of one core per 40 MHz of crossings).
  ONNX Runtime: the file's graph and the folded graph that ``OnnxModel`` runs
  (same outputs), on one thread, two intra-op threads and two one-thread
  sessions side by side; the emulation: one ctypes call per event (the old
  path) and one call per chunk (``FirmwareProject.predict``); the integer
  emulation of the same firmware (``predict(engine="integer")``, bit-exact with
  hls4ml's, checked here on the timing sample) on one and two threads;
* the machine's float32 matmul ceiling (numpy/OpenBLAS sgemm, 2 threads: the
  encoder's three matmuls on 65536 events, and a 2048^2 square product), and
  the best ONNX Runtime figure as a fraction of it (2 x 2,464 FLOP per event);
* training time per million events (one epoch over the training sample,
  batch 1024), for the VAE and for the VICReg backbone + autoencoder.

Inputs: with ``--data`` the zero-bias of an anomaly pipeline's data folder
(``<out>/data``), else synthetic physical trigger inputs shaped like zero bias
at pileup 200 (exponential pTs, uniform eta/phi, rough object occupancies
chosen by hand, not measured); the timings do not depend on the values.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from l1scout.deploy.hls import build_firmware
from l1scout.deploy.onnx import OnnxModel, export_onnx
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig, VICRegConfig
from l1scout.tasks.anomaly.train import train

CLOCK_HZ = 40e6
#: Multiply-adds of the 57-32-16-8 encoder per event.
MACS = 57 * 32 + 32 * 16 + 16 * 8


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


@contextlib.contextmanager
def _blas_threads(n: int) -> Iterator[None]:
    """Limit the BLAS of numpy to ``n`` threads (threadpoolctl if installed, else as is)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _gflops(fn: Callable[[], object], flop: float, seconds: float) -> float:
    """GFLOP/s of ``fn`` (``flop`` per call), best of repeated timings over about ``seconds``."""
    fn()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        best = max(best, flop / (time.perf_counter() - t0))
    return best / 1e9


def matmul_ceiling(seconds: float, threads: int = 2) -> dict[str, float]:
    """float32 GFLOP/s of numpy matmuls on ``threads`` BLAS threads (best timing)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((65536, 57), dtype=np.float32)
    w1, w2, w3 = (rng.standard_normal(s, dtype=np.float32) for s in ((57, 32), (32, 16), (16, 8)))
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    b = rng.standard_normal((2048, 2048), dtype=np.float32)
    with _blas_threads(threads):
        chain = _gflops(lambda: ((x @ w1) @ w2) @ w3, 2.0 * MACS * len(x), seconds)
        square = _gflops(lambda: a @ b, 2.0 * 2048**3, seconds)
    return {"encoder chain (65536 x 57-32-16-8)": chain, "square 2048^2": square}


def _two_sessions(models: list[OnnxModel]) -> Callable[[np.ndarray], object]:
    """Split each batch in halves run side by side by two one-thread sessions (GIL released)."""
    pool = ThreadPoolExecutor(max_workers=len(models))

    def run(batch: np.ndarray) -> object:
        parts = np.array_split(batch, len(models))
        futures = [pool.submit(m.predict, p) for m, p in zip(models, parts, strict=True)]
        return [f.result() for f in futures]

    return run


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
        ort_file = OnnxModel(onnx_path, threads=1, fuse=False)
        ort = OnnxModel(onnx_path, threads=1)
        ort_intra2 = OnnxModel(onnx_path, threads=2)
        ort_pair = _two_sessions([ort, OnnxModel(onnx_path, threads=1)])
        check = x[:20_000]
        same = np.array_equal(
            ort.predict(check).view(np.uint32), ort_file.predict(check).view(np.uint32)
        )
        t0 = time.perf_counter()
        firmware = build_firmware(encoder, 57, Path(tmp) / "fw", spec=VAEConfig(name="v3").quant)
        compile_s = time.perf_counter() - t0
        fw_same = np.array_equal(
            firmware.predict(check, threads=2), firmware._run(check, 1, per_event=True)
        )
        reference = firmware.predict(x, threads=2)
        int_same = np.array_equal(
            firmware.predict(x, engine="integer").view(np.uint32), reference.view(np.uint32)
        )

        def torch_fn(batch: np.ndarray) -> object:
            with torch.no_grad():
                return encoder(torch.from_numpy(batch))

        big = (1024, 16384, 65536)
        paths: dict[str, tuple[Callable[[np.ndarray], object], tuple[int, ...]]] = {
            "torch (CPU, 1 thread)": (torch_fn, (1, 1024, 16384)),
            "ORT file graph, 1 thread": (ort_file.predict, (1, *big)),
            "ORT folded, 1 thread": (ort.predict, (1, *big)),
            "ORT folded, 2 intra-op threads": (ort_intra2.predict, big),
            "ORT folded, 2 sessions x 1 thr": (ort_pair, big),
            "hls4ml emulation, per event": (
                lambda b: firmware._run(b, 2, per_event=True),
                (1, 1024, 16384),
            ),
            "hls4ml emulation, per chunk": (firmware.predict, (1, 1024, 16384, 65536)),
            "integer emulation, 1 thread": (
                lambda b: firmware.predict(b, engine="integer", threads=1),
                (1, 1024, 16384, 65536),
            ),
            "integer emulation, 2 threads": (
                lambda b: firmware.predict(b, engine="integer", threads=2),
                (65536,),
            ),
        }
        print(
            f"\nInference of the deployed encoder ({len(x)} events; hls4ml compile {compile_s:.0f} s;"
            f" folded ONNX graph bit-identical: {same}; batch emulation = per-event: {fw_same};"
            f" integer emulation = hls4ml on all {len(x)} events: {int_same})"
        )
        two_core = {"ORT folded, 2 intra-op threads", "ORT folded, 2 sessions x 1 thr"}
        print(f"{'path':32s} {'batch':>6s} {'events/s':>12s} {'of 40 MHz':>10s}")
        best_ort = 0.0
        for label, (fn, batches) in paths.items():
            for batch in batches:
                rate = _rate(fn, x, batch, args.seconds)
                if label in two_core:
                    best_ort = max(best_ort, rate)
                print(f"{label:32s} {batch:6d} {rate:12.0f} {rate / CLOCK_HZ:10.2e}")

    ceiling = matmul_ceiling(args.seconds)
    print("\nfloat32 matmul ceiling (numpy/OpenBLAS, 2 threads, best timing)")
    for name, gflops in ceiling.items():
        print(f"{name:40s} {gflops:8.1f} GFLOP/s")
    ort_gflops = best_ort * 2 * MACS / 1e9
    print(
        f"best 2-core ONNX Runtime: {best_ort / 1e6:.2f} M events/s = {ort_gflops:.1f} GFLOP/s "
        f"({2 * MACS} FLOP/event): "
        + ", ".join(f"{ort_gflops / g:.0%} of the {name}" for name, g in ceiling.items())
    )


if __name__ == "__main__":
    main()
