"""Production speed: single-process generation against the Dask path with 1 and 2 workers, and the fast mode.

Run: python benchmarks/production.py [--shards 4] [--events 50] [--views FullReco L1T] [--fast-events 100]

One run measures, on the same plan (SHARDS shards of EVENTS ttbar events at pileup 200,
one shared pileup pool built in a warm-up):

* single-process generation: a plain loop of ``run_generation`` over the shards;
* ``produce`` on a local Dask cluster with 1 worker, and with 2 workers;

and prints events per second for each, the 2-worker speed-up and the overhead of the
Dask path against the plain loop (cluster start, worker start-up, task transfer, manifest
and checksums), in percent and in seconds per shard. The three folders must hold the same
bytes. Then the fast mode: zero-bias (minbias) events at pileup 200, the L1T view only and
the collections of a trigger-rate study, against full files (both views, every collection).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tomllib
from pathlib import Path

from l1scout.production.driver import produce
from l1scout.production.engines import default_workers
from l1scout.production.job import GenerationConfig, prepare_pool, run_generation
from l1scout.production.manifest import read_manifest
from l1scout.production.plan import EngineSpec, ProductionPlan

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
#: The collections of a trigger-rate study: those of the shipped zero-bias plan.
TRIGGER = tuple(
    tomllib.loads(
        (Path(__file__).resolve().parents[1] / "examples/plans/zerobias_l1t.toml").read_text()
    )["collections"]
)


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def _timed(config: GenerationConfig, out: Path) -> tuple[float, float, int]:
    """Wall time, time in the per-event stages (no Pythia initialisation), bytes."""
    timer: dict[str, float] = {}
    t0 = time.perf_counter()
    result = run_generation(config, out, timer=timer)
    return time.perf_counter() - t0, sum(timer.values()), result.path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--process", default=PROCESS)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--events", type=int, default=50, help="events per shard")
    parser.add_argument("--pileup", type=float, default=200.0)
    parser.add_argument("--pool", type=int, default=5000, help="pileup pool size")
    parser.add_argument("--views", nargs="+", default=["FullReco", "L1T"])
    parser.add_argument("--fast-events", type=int, default=100, help="zero-bias events per mode")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["L1SCOUT_CACHE_DIR"] = str(tmp / "cache")  # the workers inherit it
        plan = ProductionPlan(
            seed=1,
            shard_size=args.events,
            pileup=args.pileup,
            pool_size=args.pool,
            views=tuple(args.views),
            processes=[{"name": args.process, "events": args.events * args.shards}],
        )
        shards = plan.shards()

        # warm-up: the shared pool (all cores), this process's imports and compiled kernels
        t0 = time.perf_counter()
        pool_seed = shards[0].pool_seed
        prepare_pool(plan.generation_config(shards[0]), workers=default_workers())
        warm = plan.generation_config(shards[0]).model_copy(update={"events": 2, "seed": 99})
        run_generation(warm, tmp / "warm")
        warm_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        for spec in shards:
            run_generation(plan.generation_config(spec), tmp / "single")
        single_s = time.perf_counter() - t0

        walls = {}
        in_workers = {}
        for workers in (1, 2):
            engine = EngineSpec(kind="local", workers=workers)
            t0 = time.perf_counter()
            summary = produce(plan.model_copy(update={"engine": engine}), tmp / f"dask{workers}")
            walls[workers] = time.perf_counter() - t0
            if summary.failures:
                raise SystemExit(f"shards failed: {summary.failures}")
            manifest = read_manifest(tmp / f"dask{workers}")
            assert manifest is not None
            in_workers[workers] = sum(r.wall_s or 0.0 for r in manifest.shards)
        reference = _files(tmp / "single")
        identical = all(_files(tmp / f"dask{w}") == reference for w in (1, 2))

        # the fast mode: zero bias, L1T only, trigger collections; against full files
        n = args.fast_events
        zero_bias = GenerationConfig(
            process="minbias",
            events=n,
            seed=7,
            pileup=args.pileup,
            pool_size=args.pool,
            pool_seed=pool_seed,
        )
        full = _timed(zero_bias, tmp / "zb-full")
        fast = _timed(
            zero_bias.model_copy(update={"views": ("L1T",), "collections": TRIGGER}),
            tmp / "zb-fast",
        )

    events = args.events * args.shards
    cores = default_workers()
    load = os.getloadavg()[0]
    print(
        f"plan: {args.shards} shards x {args.events} events of {args.process}, pileup "
        f"{args.pileup:g}, views {' '.join(args.views)}, pool {args.pool}; {cores} cores, "
        f"load average {load:.1f}; warm-up (pool and imports) {warm_s:.0f} s"
    )
    print(f"{'path':<34} {'wall s':>8} {'events/s':>9}")
    print(
        f"{'single process (run_generation loop)':<34} {single_s:>8.1f} {events / single_s:>9.2f}"
    )
    for workers, wall in walls.items():
        label = f"Dask local cluster, {workers} worker{'s' if workers > 1 else ''}"
        print(f"{label:<34} {wall:>8.1f} {events / wall:>9.2f}")
    overhead = walls[1] - single_s
    print(
        f"2-worker speed-up over 1 worker: x{walls[1] / walls[2]:.2f}; over the single process: "
        f"x{single_s / walls[2]:.2f}"
    )
    print(
        f"Dask overhead (1 worker vs single process): {100 * overhead / single_s:+.1f} % = "
        f"{overhead:+.1f} s, {overhead / args.shards:+.2f} s per shard "
        "(cluster start, worker imports, task transfer, manifest, checksums)"
    )
    print(
        f"  of which in the worker (its first shard imports l1scout and loads the compiled "
        f"kernels; checksums): {in_workers[1] - single_s:+.1f} s; in the client (cluster start "
        f"and stop, scheduling, manifest): {walls[1] - in_workers[1]:+.1f} s"
    )
    print(f"files identical across the three paths: {'yes' if identical else 'NO'}")
    print(f"fast mode, {n} zero-bias (minbias) events at pileup {args.pileup:g}, one process:")
    print(f"{'mode':<40} {'wall s':>8} {'ev/s*':>8} {'kB/event':>9}")
    for label, (wall, stages, size) in (
        ("full: FullReco + L1T, every collection", full),
        (f"fast: L1T, {len(TRIGGER)} trigger collections", fast),
    ):
        print(f"{label:<40} {wall:>8.1f} {n / stages:>8.2f} {size / n / 1e3:>9.1f}")
    print(
        f"fast mode: x{full[1] / fast[1]:.2f} events/s, x{full[2] / fast[2]:.0f} less disk "
        "(* ev/s without Pythia's minbias initialisation, paid once per file)"
    )


if __name__ == "__main__":
    main()
