"""MLPF transformer: forward-pass time and memory against the number of elements.

Run:  .venv/bin/python benchmarks/mlpf_scaling.py [--threads 1 2] [--sizes 1000 4000 15000]

A small :class:`~l1scout.tasks.mlpf.model.MLPFModel` (width 64, 4 heads of 16,
3 layers, feed-forward 128, heads 64; seeded random weights: the time does not
depend on them) runs one event of N elements (random features, sorted along
eta as :func:`~l1scout.tasks.mlpf.features.pad_events` sorts them) on the CPU
with each of ``--threads`` thread counts (1 and 2), in torch (no gradients) and
through its ONNX file (:func:`~l1scout.tasks.mlpf.model.export_mlpf`) in ONNX
Runtime (:class:`~l1scout.deploy.onnx.OnnxModel`), for the windowed attention at
B = 128 and 256 (shifted windows on) and, where it fits, for full attention
(one window of all N elements: B = N rounded up to 128, no shift).
Every measurement runs in a fresh process: the time is the fastest of at
least ``--repeats`` forward passes (more, up to 50, while under 3 s) after one
warm-up (the fastest, not the median, to resist other load on a shared
machine), the memory the growth of the process's peak resident set
(``ru_maxrss``) over the forward passes, i.e. the activations and attention
scores (the weights and the input are allocated before). The
``scores MB`` column is the size of one layer's float32 attention-score tensor,
``(N_pad / B) x heads x B^2 x 4`` bytes with ``N_pad`` = N rounded up to B (plus
one window in a shifted layer, not counted): exact, independent of the machine.
Printed: one table row per (attention, N).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from l1scout.deploy.onnx import OnnxModel
from l1scout.tasks.mlpf.features import INPUT_WIDTH, TOWER, TRACK
from l1scout.tasks.mlpf.model import MLPFModel, MLPFModelConfig, export_mlpf

#: The small model of the scaling table.
SMALL = {"width": 64, "n_heads": 4, "n_layers": 3, "ff_dim": 128, "head_hidden": 64}


def _event(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = np.zeros((1, n, INPUT_WIDTH), dtype=np.float32)
    x[0, :, 0] = np.where(rng.random(n) < 0.3, TRACK, TOWER)
    x[0, :, 1] = np.sort(rng.uniform(-5.0, 5.0, n))
    x[0, :, 2] = rng.uniform(-np.pi, np.pi, n)
    x[0, :, 3:] = rng.normal(size=(n, INPUT_WIDTH - 3))
    return torch.from_numpy(x)


def measure(
    n: int, bin_size: int, shifted: bool, threads: int, repeats: int, engine: str = "torch"
) -> dict[str, float]:
    """Fastest forward time (ms) and peak-memory growth (MB) of one event of *n* elements.

    *engine*: ``torch`` (the module, no gradients) or ``onnx`` (its ONNX file
    through ONNX Runtime, the event padded to whole windows).
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MLPFModel(MLPFModelConfig(**SMALL, bin_size=bin_size, shifted_windows=shifted)).eval()
    x = _event(n)
    if engine == "onnx":
        with tempfile.TemporaryDirectory() as tmp:
            session = OnnxModel(export_mlpf(model, Path(tmp) / "m.onnx"), threads=threads)
        padded = np.zeros((1, -(-n // bin_size) * bin_size, INPUT_WIDTH), dtype=np.float32)
        padded[:, :n] = x.numpy()

        def forward() -> object:
            return session.run(padded)
    else:

        def forward() -> object:
            with torch.no_grad():
                return model(x)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times: list[float] = []
    forward()
    budget = time.perf_counter() + 3.0  # more passes for small N, within 3 s
    while len(times) < repeats or (time.perf_counter() < budget and len(times) < 50):
        start = time.perf_counter()
        forward()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"ms": 1e3 * min(times), "mb": (peak - before) / 1024.0}


def main() -> None:
    """Print the table (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 15000])
    parser.add_argument("--bins", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--dense-max", type=int, default=4000, help="largest N for full attention")
    parser.add_argument(
        "--engines", nargs="+", default=["torch", "onnx"], choices=["torch", "onnx"]
    )
    parser.add_argument("--one", type=int, nargs=3, help=argparse.SUPPRESS)  # n bin shifted
    args = parser.parse_args()
    if args.one:
        n, b, s = args.one
        res = measure(n, b, bool(s), args.threads[0], args.repeats, args.engines[0])
        print(json.dumps(res))
        return
    runs = [(f"window B={b}", n, b, 1) for b in args.bins for n in args.sizes]
    runs += [("full (B=N)", n, -(-n // 128) * 128, 0) for n in args.sizes if n <= args.dense_max]
    print(f"MLPF forward on the CPU, model {SMALL}, one event")
    print(
        f"{'engine':<6} {'attention':<14} {'threads':>7} {'N':>7} {'ms/event':>10} "
        f"{'us/element':>11} {'peak MB':>9} {'scores MB':>10}"
    )
    for engine, threads, (label, n, b, s) in itertools.product(args.engines, args.threads, runs):
        cmd = [sys.executable, __file__, "--one", str(n), str(b), str(s), "--engines", engine]
        cmd += ["--threads", str(threads), "--repeats", str(args.repeats)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out)
        scores_mb = -(-n // b) * b * SMALL["n_heads"] * b * 4 / 2**20
        print(
            f"{engine:<6} {label:<14} {threads:>7} {n:>7} {res['ms']:>10.1f} "
            f"{1e3 * res['ms'] / n:>11.1f} {res['mb']:>9.1f} {scores_mb:>10.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
