"""Soft-tau transformer: candidates/s through ONNX Runtime on the CPU.

Run:  .venv/bin/python benchmarks/taus_transformer.py [--threads 2] [--candidates N]

The model at the seed's size (:class:`~l1scout.tasks.taus.transformer.TransformerModelConfig`
defaults: 16 constituent slots, embedding 10 -> 128 -> 512 -> 128, one encoder
layer of 8 heads and feed-forward 512, MLP heads; 414,597 parameters, 5.66
MMACs per candidate), with seeded random weights (the time does not depend on
them), is exported through :func:`~l1scout.tasks.taus.transformer.export_transformer`
and run by :class:`~l1scout.deploy.onnx.OnnxModel` (the file's graph; ONNX
Runtime's full graph optimisation) on ``--threads`` intra-op threads, for
several batch sizes. Inputs: random candidates of 1-20 constituents (so a
realistic share of padded slots), built by
:func:`~l1scout.tasks.taus.transformer.transformer_inputs`; every slot is
computed whatever the padding, so the time does not depend on them either.
Reported: candidates/s, microseconds per candidate and the achieved
multiply-accumulate rate.

:func:`candidates_per_second` is the helper a task benchmark can call.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from l1scout.deploy.onnx import OnnxModel
from l1scout.tasks.taus.transformer import (
    SoftTauTransformer,
    TransformerInputs,
    TransformerModelConfig,
    export_transformer,
    transformer_inputs,
    transformer_op_count,
)


def synthetic_candidates(n: int, k: int = 16, seed: int = 1) -> TransformerInputs:
    """*n* random candidates of 1-20 constituents (timing only; values are not physics)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 21, n)
    off = np.concatenate([[0], np.cumsum(counts)])
    m = int(off[-1])
    charge = rng.integers(-1, 2, m)
    return transformer_inputs(
        off,
        pt=rng.exponential(3.0, m) + 0.5,
        eta=rng.normal(0, 0.2, m),
        phi=rng.normal(0, 0.2, m),
        dz=rng.normal(0, 50, m) * (charge != 0),
        charge=charge,
        pid=np.where(charge != 0, 211 * charge, rng.choice([22, 0], m)),
        axis_eta=np.zeros(n),
        axis_phi=np.zeros(n),
        n_constituents=k,
    )


def candidates_per_second(
    onnx_path: Path | str,
    n: int,
    threads: int = 2,
    *,
    batch: int = 1024,
    seconds: float = 3.0,
    n_constituents: int = 16,
) -> float:
    """Candidates/s of the transformer's ONNX file through ONNX Runtime on *threads* threads.

    Args:
        onnx_path: the file of :func:`~l1scout.tasks.taus.transformer.export_transformer`.
        n: synthetic candidates to cycle through (at least *batch*).
        threads: ONNX Runtime intra-op threads.
        batch: candidates per call.
        seconds: wall time to measure for (after one warm-up call).
        n_constituents: the model's constituent slots.
    """
    model = OnnxModel(onnx_path, threads=threads)
    x = synthetic_candidates(max(n, batch), k=n_constituents).packed()
    model.run(x[:batch])
    done, i, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        lo = (i * batch) % max(len(x) - batch + 1, 1)
        model.run(x[lo : lo + batch])
        done += batch
        i += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    """Export the seed-size model and print candidates/s per batch size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    args = parser.parse_args()

    cfg = TransformerModelConfig()
    ops = transformer_op_count(cfg)
    torch.manual_seed(0)
    model = SoftTauTransformer(cfg).eval()
    print(
        f"soft-tau transformer, seed size: {ops.params:,} parameters, {ops.macs / 1e6:.2f} MMACs "
        f"({ops.flops / 1e6:.2f} MFLOPs) per candidate; {os.cpu_count()} cores, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = export_transformer(model, Path(tmp) / "soft_tau.onnx")
        print(f"ONNX Runtime, {args.threads} intra-op threads")
        print(f"{'batch':>7s} {'candidates/s':>14s} {'us/candidate':>13s} {'GMAC/s':>8s}")
        for batch in args.batches:
            rate = candidates_per_second(
                path, args.candidates, args.threads, batch=batch, seconds=args.seconds
            )
            print(f"{batch:7d} {rate:14,.0f} {1e6 / rate:13.1f} {rate * ops.macs / 1e9:8.1f}")


if __name__ == "__main__":
    main()
