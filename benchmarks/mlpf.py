"""MLPF through ONNX Runtime against our rule-based PF + CHS + PUPPI, per event, on the same events.

Run:  .venv/bin/python benchmarks/mlpf.py [--events 10] [--pileups 0 50 200]
      [--onnx trained.onnx --bin-size 256] [--model small|published] [--threads 2]

For each pileup, in one run: ttbar events (``tt0123j_5f_ckm_LO_MLM_semiLeptonic``)
are generated with the FullReco view and its detector-element collections
(``with_elements``: ``FullReco_Track``, ``FullReco_Tower``); the simulation's
stage timer gives our rule-based particle flow's time for those events, the
sum of its ``particle flow`` (candidates from tracks and calorimeter neutrals),
``CHS`` and ``PUPPI`` stages. The same events' tracks and towers are then read
back, turned into MLPF inputs (:func:`~l1scout.tasks.mlpf.features.element_features`,
:func:`~l1scout.tasks.mlpf.features.pad_events`) and run one event at a time
through the MLPF ONNX file in ONNX Runtime (:class:`~l1scout.deploy.onnx.OnnxModel`,
``--threads`` intra-op threads, 2 by default), after one warm-up event. Both
sides start from the same reconstructed tracks and calorimeter cells: tracking
and calorimeter simulation are inputs to both and are not counted (the
tower building, ``elements``, is printed apart).

The model is untrained by default (the time does not depend on the weights):
``--model small`` (width 64, 4 heads, 3 layers, window 128; the model of
``benchmarks/mlpf_scaling.py``) or ``published`` (the CMS size: width 256, 16
heads, 3 layers, window 256); ``--onnx`` times a trained file instead
(``--bin-size``: its window). Generation and inference each run in a fresh
process: the memory columns are the processes' peak resident set sizes
(``ru_maxrss``): for PF the whole generation and simulation process (an upper
bound: it holds the event, the detector and the pileup pool), for MLPF the
process that reads the elements and runs ONNX Runtime, and, apart, the growth
of its peak over the inference (the activations), and likewise the growth
of the generation process's peak over the timed generation. A short warm-up generation
(2 events) first compiles the numba kernels and builds or loads the
minimum-bias pool (``--pool`` events, cached).

Printed: one row per pileup with events, elements per event, PF+CHS+PUPPI
ms/event, MLPF input building ms/event, MLPF ONNX ms/event, the ratio MLPF /
PF, and the peak memories and their growth over the timed part.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
VIEW = "FullReco"
#: PF stages of the view simulation summed as "our PF + PUPPI" (l1scout.reco.view)
PF_STAGES = ("particle flow", "CHS", "PUPPI")
#: The untrained model sizes.
MODELS = {
    "small": {
        "width": 64,
        "n_heads": 4,
        "n_layers": 3,
        "ff_dim": 128,
        "head_hidden": 64,
        "bin_size": 128,
    },
    "published": {
        "width": 256,
        "n_heads": 16,
        "n_layers": 3,
        "ff_dim": 512,
        "head_hidden": 256,
        "bin_size": 256,
    },
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generate(pileup: float, events: int, pool: int, seed: int, out: Path) -> dict[str, Any]:
    """Generate the events (after a 2-event warm-up); stage ms/event and the peak memory."""
    from l1scout.production.job import GenerationConfig, run_generation, with_elements

    cfg = with_elements(
        GenerationConfig(
            process=PROCESS, events=events, seed=seed, pileup=pileup, pool_size=pool, views=(VIEW,)
        )
    )
    run_generation(cfg.model_copy(update={"events": 2}), out / "warm")
    before = _peak_mb()
    timer: dict[str, float] = {}
    res = run_generation(cfg, out / "timed", timer=timer)
    n = res.events
    stages = {
        k.split(": ", 1)[1]: 1e3 * v / n for k, v in timer.items() if k.startswith(f"{VIEW}: ")
    }
    return {
        "file": str(res.path),
        "events": n,
        "stages_ms": stages,
        "peak_mb": _peak_mb(),
        "growth_mb": _peak_mb() - before,
    }


def _read(
    path: Path,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The track and tower columns of the file: (offsets, values) by column name."""
    import awkward as ak
    import pyarrow.parquet as pq

    from l1scout.io.ragged import jagged
    from l1scout.tasks.mlpf.features import TOWER_COLUMNS, TRACK_COLUMNS

    names = [f"{VIEW}_Track_{c}" for c in TRACK_COLUMNS] + [
        f"{VIEW}_Tower_{c}" for c in TOWER_COLUMNS
    ]
    events = ak.from_arrow(pq.read_table(path, columns=names))
    tracks = {c: jagged(events, f"{VIEW}_Track_{c}", np.float64) for c in TRACK_COLUMNS}
    towers = {c: jagged(events, f"{VIEW}_Tower_{c}", np.float64) for c in TOWER_COLUMNS}
    return tracks, towers


def infer(path: Path, onnx_path: Path, bin_size: int, threads: int) -> dict[str, Any]:
    """MLPF inputs and ONNX Runtime inference of every event of *path*, one event at a time."""
    from l1scout.deploy.onnx import OnnxModel
    from l1scout.tasks.mlpf.features import element_features, pad_events

    tracks, towers = _read(path)  # file reading: not timed
    start = time.perf_counter()
    elements = element_features(
        {c: v for c, (_, v) in tracks.items()},
        tracks["PT"][0],
        {c: v for c, (_, v) in towers.items()},
        towers["E"][0],
    )
    features_s = time.perf_counter() - start
    n = elements.n_events
    session = OnnxModel(onnx_path, threads=threads)
    session.run(pad_events(elements, [0], multiple=bin_size).x)  # warm-up
    before = _peak_mb()
    pad_s, run_s = [], []
    for k in range(n):
        t0 = time.perf_counter()
        x = pad_events(elements, [k], multiple=bin_size).x
        t1 = time.perf_counter()
        session.run(x)
        t2 = time.perf_counter()
        pad_s.append(t1 - t0)
        run_s.append(t2 - t1)
    return {
        "events": n,
        "elements": float(np.mean(np.diff(elements.offsets))),
        "features_ms": 1e3 * (features_s / n + float(np.mean(pad_s))),
        "onnx_ms": 1e3 * float(np.mean(run_s)),
        "onnx_ms_max": 1e3 * float(np.max(run_s)),
        "peak_mb": _peak_mb(),
        "growth_mb": _peak_mb() - before,
    }


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    res: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return res


def _export(model: str, folder: Path) -> tuple[Path, int]:
    import torch

    from l1scout.tasks.mlpf.model import MLPFModel, MLPFModelConfig, export_mlpf

    torch.manual_seed(0)
    cfg = MLPFModelConfig(**MODELS[model])
    return export_mlpf(MLPFModel(cfg), folder / f"mlpf_{model}.onnx"), cfg.bin_size


def main() -> None:
    """Print the table (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--pileups", type=float, nargs="+", default=[0.0, 50.0, 200.0])
    parser.add_argument("--pool", type=int, default=1000, help="minimum-bias pool size (cached)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--model", choices=sorted(MODELS), default="small")
    parser.add_argument("--onnx", type=Path, help="a trained MLPF ONNX file instead")
    parser.add_argument("--bin-size", type=int, default=256, help="the --onnx file's window")
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)  # pileup out_dir
    parser.add_argument("--infer", nargs=2, help=argparse.SUPPRESS)  # file onnx
    args = parser.parse_args()
    if args.generate:
        res = generate(
            float(args.generate[0]), args.events, args.pool, args.seed, Path(args.generate[1])
        )
        print(json.dumps(res))
        return
    if args.infer:
        res = infer(Path(args.infer[0]), Path(args.infer[1]), args.bin_size, args.threads)
        print(json.dumps(res))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.onnx is not None:
            onnx_path, bin_size, label = (
                args.onnx,
                args.bin_size,
                f"{args.onnx} (window {args.bin_size})",
            )
        else:
            onnx_path, bin_size = _export(args.model, folder)
            label = f"untrained {args.model} {MODELS[args.model]}"
        common = ["--events", str(args.events), "--pool", str(args.pool), "--seed", str(args.seed)]
        rows = []
        for pu in args.pileups:
            gen = _child(["--generate", str(pu), str(folder / f"pu{pu:g}"), *common])
            mlpf = _child(
                [
                    "--infer",
                    str(gen["file"]),
                    str(onnx_path),
                    "--bin-size",
                    str(bin_size),
                    "--threads",
                    str(args.threads),
                ]
            )
            rows.append((pu, gen, mlpf))

    print(f"ttbar ({PROCESS}), {VIEW} view, {args.events} events per pileup, this CPU")
    print(f"MLPF: {label}; ONNX Runtime, {args.threads} threads, one event per run")
    print(f"PF+CHS+PUPPI: the stages {', '.join(PF_STAGES)} of the view simulation, one core")
    head = (
        f"{'pileup':>6} {'events':>6} {'elements':>9} {'PF+PUPPI':>9} {'MLPF in':>8} "
        f"{'MLPF ONNX':>10} {'ratio':>6} {'PF peak':>8} {'PF grow':>8} {'MLPF peak':>9} "
        f"{'MLPF grow':>9} {'towers':>7}"
    )
    units = (
        f"{'':>6} {'':>6} {'/event':>9} {'ms/ev':>9} {'ms/ev':>8} {'ms/ev':>10} "
        f"{'ONNX/PF':>6} {'MB':>8} {'MB':>8} {'MB':>9} {'MB':>9} {'ms/ev':>7}"
    )
    print(head)
    print(units)
    for pu, gen, mlpf in rows:
        stages = gen["stages_ms"]
        pf = sum(float(stages.get(s, 0.0)) for s in PF_STAGES)
        onnx_ms = float(mlpf["onnx_ms"])
        print(
            f"{pu:>6g} {int(mlpf['events']):>6} {float(mlpf['elements']):>9.0f} {pf:>9.2f} "
            f"{float(mlpf['features_ms']):>8.2f} {onnx_ms:>10.2f} {onnx_ms / pf:>6.1f} "
            f"{float(gen['peak_mb']):>8.0f} {float(gen['growth_mb']):>8.1f} "
            f"{float(mlpf['peak_mb']):>9.0f} "
            f"{float(mlpf['growth_mb']):>9.1f} {float(stages.get('elements', 0.0)):>7.2f}"
        )
    print(
        "PF+PUPPI: particle flow + CHS + PUPPI stages (batched over the events); MLPF in: element "
        "features and the padded input (file reading not counted); ratio: MLPF ONNX / PF+PUPPI; "
        "peak: the process's peak RSS (imports included; PF: the generation and simulation "
        "process, MLPF: the inference process); grow: the growth of that peak over the timed part "
        "(PF: generating and simulating the events; MLPF: the ONNX runs, its activations); "
        "towers: the simulation's element building (in neither time)."
    )


if __name__ == "__main__":
    main()
