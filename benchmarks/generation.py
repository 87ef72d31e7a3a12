"""Generation speed (generator level only): ttbar with no pileup and pileup 200, and the pool build time.

Run: python benchmarks/generation.py [--events 200] [--pool 3000]
Prints events per second per core (one process), measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from l1scout.generate.pileup import build_pool
from l1scout.generate.pythia import process_settings
from l1scout.processes import load_catalog
from l1scout.production.job import GenerationConfig, run_generation

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pool", type=int, default=3000)
    args = parser.parse_args()
    cat = load_catalog()
    settings = process_settings(cat, cat.get("minbias"))

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["L1SCOUT_CACHE_DIR"] = str(Path(tmp) / "cache")
        t0 = time.perf_counter()
        build_pool(settings, 11, args.pool, workers=1)
        pool_1 = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_pool(settings, 11, args.pool, workers=2)
        pool_2 = time.perf_counter() - t0

        rows = []
        for pileup in (0.0, 200.0):
            cfg = GenerationConfig(
                process=PROCESS,
                events=args.events,
                seed=3,
                pileup=pileup,
                pool_size=args.pool,
                views=(),
            )
            if pileup:  # build (and cache) the pool outside the timed run
                run_generation(cfg.model_copy(update={"events": 1}), Path(tmp) / "warm")
            t0 = time.perf_counter()
            res = run_generation(cfg, Path(tmp) / f"pu{pileup:g}")
            dt = time.perf_counter() - t0
            rows.append((pileup, res.events / dt, res.path.stat().st_size / res.events / 1e3))

    print(f"process: {PROCESS}, {args.events} events, 1 process")
    print(f"{'pileup':>8} {'events/s/core':>14} {'kB/event':>10}")
    for pileup, rate, size in rows:
        print(f"{pileup:>8g} {rate:>14.1f} {size:>10.1f}")
    print(f"pileup-200 cost vs no pileup: x{rows[0][1] / rows[1][1]:.2f} slower")
    print(
        f"minimum-bias pool, {args.pool} events: {pool_1:.1f} s with 1 worker "
        f"({args.pool / pool_1:.0f} events/s), {pool_2:.1f} s with 2 workers (x{pool_1 / pool_2:.2f});"
        f" the default 30,000-event pool takes about {30000 / args.pool * pool_1:.0f} s on one core"
    )


if __name__ == "__main__":
    main()
