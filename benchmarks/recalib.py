"""Re-calibration models: training time and inference throughput on this machine.

Run: python benchmarks/recalib.py [--muons 20000] [--epochs 30] [--threads N] [--batch 8192]

Data: synthetic muons (:func:`l1scout.tasks.recalib.synthetic.synthetic_dataset`,
inputs pT, eta, phi, charge; three residual targets), --muons objects split
65/20/15. Synthetic, not generated: the shapes and sizes are those of the
real study (4 inputs, 3 outputs), and only speed is measured here.

For every model of the seed's comparison (networks 128x4 and 32x3; Nystrom
KRR Gaussian M=500 and M=100, linear M=100, polynomial degree 5 M=100):

* training time (networks: --epochs epochs, batch 512, no early stop; kernel
  models: the torch solver and scikit-learn's Nystroem + Ridge, same centres
  and lambda);
* inference throughput in events/s over --events inputs in batches of
  --batch: torch (eval, no grad), ONNX Runtime (the exported file), and for
  kernel models the scikit-learn pipeline;
* operations per inference (MACs) for reference.

The best of --repeat timings is shown; --threads sets torch's and ONNX
Runtime's threads (default: all cores).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from l1scout.deploy.onnx import OnnxModel, export_onnx
from l1scout.tasks.recalib.krr import fit_krr
from l1scout.tasks.recalib.nn import fit_network, predict_network
from l1scout.tasks.recalib.ops import model_ops
from l1scout.tasks.recalib.synthetic import synthetic_dataset

KRR = (
    ("KRR Gaussian M=500", {"kernel": "gaussian", "centres": 500, "sigma": 0.3, "penalty": 1e-5}),
    ("KRR Gaussian M=100", {"kernel": "gaussian", "centres": 100, "sigma": 0.3, "penalty": 1e-5}),
    ("KRR linear M=100", {"kernel": "linear", "centres": 100, "penalty": 1e-5}),
    ("KRR poly5 M=100", {"kernel": "polynomial", "degree": 5, "centres": 100, "penalty": 1e-5}),
)


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _rate(fn: Callable[[np.ndarray], Any], x: np.ndarray, batch: int, repeat: int) -> float:
    def run() -> None:
        for lo in range(0, len(x), batch):
            fn(x[lo : lo + batch])

    run()  # warm-up
    return len(x) / _best(run, repeat)


def _row(name: str, cells: dict[str, str]) -> str:
    cols = ("train s", "train s (sklearn)", "torch ev/s", "ONNX ev/s", "sklearn ev/s", "MACs")
    return f"| {name} | " + " | ".join(cells.get(c, "") for c in cols) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--muons", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--events", type=int, default=200_000, help="inputs for the throughput")
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    data = synthetic_dataset("muon", args.muons, seed=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(args.events, 4)).astype(np.float32)
    xt, yt, xv, yv = data.x["train"], data.y["train"], data.x["val"], data.y["val"]
    print(
        f"synthetic muons: {args.muons} ({len(xt)} train); throughput on {args.events} inputs, "
        f"batch {args.batch}, {threads} thread(s), torch {torch.__version__}"
    )
    print(
        "| model | train s | train s (sklearn) | torch ev/s | ONNX ev/s | sklearn ev/s | MACs |\n"
        "|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(prefix="l1scout-bench-") as tmp:
        for arch in ("128x4", "32x3"):
            fit = fit_network(
                arch, xt, yt, xv, yv, epochs=args.epochs, patience=args.epochs + 1, threads=threads
            )
            path = export_onnx(fit.model, 4, Path(tmp) / f"nn{arch}.onnx")
            onnx = OnnxModel(path, threads=threads)
            cells = {
                "train s": f"{fit.seconds:.1f} ({len(fit.history)} ep.)",
                "torch ev/s": f"{_rate(lambda b, m=fit.model: predict_network(m, b), x, args.batch, args.repeat):,.0f}",
                "ONNX ev/s": f"{_rate(onnx.predict, x, args.batch, args.repeat):,.0f}",
                "MACs": f"{model_ops(fit.model, 4).macs:,}",
            }
            print(_row(f"NN {arch}", cells), flush=True)
        for name, kw in KRR:
            fit_t = fit_krr(xt, yt, solver="torch", **kw)  # type: ignore[arg-type]
            t_torch = min(
                [fit_t.seconds]
                + [fit_krr(xt, yt, solver="torch", **kw).seconds for _ in range(args.repeat - 1)]  # type: ignore[arg-type]
            )
            fit_s = fit_krr(xt, yt, solver="sklearn", **kw)  # type: ignore[arg-type]
            t_sk = min(
                [fit_s.seconds]
                + [fit_krr(xt, yt, solver="sklearn", **kw).seconds for _ in range(args.repeat - 1)]  # type: ignore[arg-type]
            )
            path = export_onnx(fit_t.model, 4, Path(tmp) / "krr.onnx")
            onnx = OnnxModel(path, threads=threads)
            cells = {
                "train s": f"{t_torch:.2f}",
                "train s (sklearn)": f"{t_sk:.2f}",
                "torch ev/s": f"{_rate(fit_t.model.predict, x, args.batch, args.repeat):,.0f}",
                "ONNX ev/s": f"{_rate(onnx.predict, x, args.batch, args.repeat):,.0f}",
                "sklearn ev/s": f"{_rate(fit_s.predict, x, args.batch, args.repeat):,.0f}",
                "MACs": f"{model_ops(fit_t.model, 4).macs:,}",
            }
            print(_row(name, cells), flush=True)


if __name__ == "__main__":
    main()
