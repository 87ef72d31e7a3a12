"""Dual-view simulation speed: ttbar at pileup 200, FullReco + L1T, per stage.

Run: python benchmarks/simulation.py [--events 200] [--pool 5000]

One process (one core). A short warm-up run first builds and caches the
minimum-bias pool and compiles the numba kernels, so the timed run measures the
steady state: generation, pileup overlay, every detector and reconstruction
stage of both views, and writing. Prints milliseconds per event per stage, the
total in events per second per core, the file size per event and the peak
resident memory of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from l1scout.production.job import GenerationConfig, run_generation

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
GOAL_EVENTS_PER_S = 10.0
GOAL_MEMORY_GB = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pool", type=int, default=5000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("L1SCOUT_CACHE_DIR", str(Path(tmp) / "cache"))
        cfg = GenerationConfig(
            process=PROCESS, events=args.events, seed=3, pileup=200.0, pool_size=args.pool
        )
        run_generation(cfg.model_copy(update={"events": 5}), Path(tmp) / "warm")
        timer: dict[str, float] = {}
        t0 = time.perf_counter()
        res = run_generation(cfg, Path(tmp) / "timed", timer=timer)
        total = time.perf_counter() - t0
        size_kb = res.path.stat().st_size / res.events / 1e3

    n = res.events
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"process: {PROCESS}, pileup 200, views FullReco + L1T, {n} events, 1 process")
    print(f"{'stage':<34} {'ms/event':>9} {'share':>7}")
    for name, sec in sorted(timer.items(), key=lambda kv: -kv[1]):
        print(f"{name:<34} {1e3 * sec / n:>9.2f} {sec / total:>7.1%}")
    other = total - sum(timer.values())
    print(f"{'(unaccounted)':<34} {1e3 * other / n:>9.2f} {other / total:>7.1%}")
    views = {k.split(":")[0] for k in timer if ":" in k}
    for view in sorted(views):
        sec = sum(v for k, v in timer.items() if k.startswith(f"{view}:"))
        print(f"{'all of ' + view:<34} {1e3 * sec / n:>9.2f} {sec / total:>7.1%}")
    rate = n / total
    print(f"total: {1e3 * total / n:.1f} ms/event = {rate:.2f} dual-view events/s/core")
    print(f"file: {size_kb:.0f} kB/event; peak resident memory {peak_gb:.2f} GB")
    print(
        f"goal >= {GOAL_EVENTS_PER_S:g} events/s/core: {'met' if rate >= GOAL_EVENTS_PER_S else 'not met'}; "
        f"goal < {GOAL_MEMORY_GB:g} GB: {'met' if peak_gb < GOAL_MEMORY_GB else 'not met'}"
    )


if __name__ == "__main__":
    main()
