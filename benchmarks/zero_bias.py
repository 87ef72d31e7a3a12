"""Simulation speed at trigger-rate scale: zero bias (trigger collections) and dual-view ttbar, before and after.

Run: python benchmarks/zero_bias.py [--events 10000] [--ttbar 300] [--baseline REV] [--pool 30000]

Two measurements, each in a fresh process on one core, one after the other:

* **zero bias**: ``minbias`` at pileup 200, the L1T view only, the seven
  collections of a trigger-rate study (those of
  ``examples/plans/zerobias_l1t.toml``), one file of ``--events`` events through
  :func:`l1scout.production.job.run_generation`, Pythia's initialisation and the
  writing included: events/s per core end to end, and every stage's ms/event;
* **dual-view ttbar**: the semileptonic ttbar of the catalog at pileup 200,
  FullReco + L1T, every collection, ``--ttbar`` events: events/s per core,
  stages, peak resident memory.

With ``--baseline REV`` the same two measurements run first on git revision
REV (checked out into a temporary worktree and imported from there), so one
run prints before and after side by side. The pileup pool (``--pool``
minimum-bias events) is built beforehand with every core, cached in the
l1scout cache (``$L1SCOUT_CACHE_DIR``), and not timed; a numba warm-up of a few
events precedes each timed run. The per-event stages do not add up to the
wall time: the rest is Pythia's initialisation, the pool's loading and the
file's finishing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

PROCESS_TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
REPO = Path(__file__).resolve().parents[1]
#: The collections of a trigger-rate study: those of the shipped zero-bias plan.
TRIGGER = tuple(
    tomllib.loads((REPO / "examples/plans/zerobias_l1t.toml").read_text())["collections"]
)
GOALS = {"zero bias": (100.0, 200.0), "dual-view ttbar": (15.0, 20.0)}


def _measure(kind: str, events: int, pool: int, out: Path) -> dict[str, object]:
    """One timed run in this process (the l1scout on sys.path): wall, stages, size, memory."""
    import resource

    from l1scout.production.job import GenerationConfig, prepare_pool, run_generation

    if kind == "zero bias":
        cfg = GenerationConfig(
            process="minbias",
            events=events,
            seed=7,
            pileup=200.0,
            pool_size=pool,
            pool_seed=11,
            views=("L1T",),
            collections=TRIGGER,
        )
    else:
        cfg = GenerationConfig(
            process=PROCESS_TTBAR, events=events, seed=3, pileup=200.0, pool_size=pool, pool_seed=11
        )
    prepare_pool(cfg, workers=os.cpu_count() or 1)
    run_generation(cfg.model_copy(update={"events": 3, "seed": 99}), out / "warm")
    timer: dict[str, float] = {}
    t0 = time.perf_counter()
    result = run_generation(cfg, out / "timed", timer=timer)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "events": result.events,
        "stages": timer,
        "bytes": result.path.stat().st_size,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def _run_in(src: Path, kind: str, events: int, pool: int) -> dict[str, object]:
    """:func:`_measure` in a fresh process importing l1scout from *src*."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src)}
        cmd = [sys.executable, __file__, "--measure", kind, str(events), str(pool), tmp]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{kind} in {src} failed:\n{done.stderr[-3000:]}")
        result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def _table(label: str, runs: dict[str, dict[str, object]]) -> None:
    names = list(runs)
    stages: dict[str, None] = {}
    for run in runs.values():
        stages.update(dict.fromkeys(sorted(run["stages"], key=lambda k: -run["stages"][k])))  # type: ignore[index,attr-defined]
    print(f"\n{label}: ms/event per stage")
    print(f"{'stage':<28}" + "".join(f"{n:>14}" for n in names))
    for stage in stages:
        cells = []
        for run in runs.values():
            n = float(run["events"])  # type: ignore[arg-type]
            sec = run["stages"].get(stage)  # type: ignore[attr-defined]
            cells.append(f"{1e3 * sec / n:>14.2f}" if sec is not None else f"{'-':>14}")
        print(f"{stage:<28}" + "".join(cells))
    rows = {
        "wall ms/event (all)": lambda r: 1e3 * r["wall_s"] / r["events"],
        "events/s per core": lambda r: r["events"] / r["wall_s"],
        "kB/event on disk": lambda r: r["bytes"] / r["events"] / 1e3,
        "peak memory GB": lambda r: r["peak_gb"],
    }
    for name, fn in rows.items():
        print(f"{name:<28}" + "".join(f"{fn(r):>14.2f}" for r in runs.values()))
    if len(runs) == 2:
        a, b = runs.values()
        print(f"speed-up: x{(b['events'] / b['wall_s']) / (a['events'] / a['wall_s']):.2f}")  # type: ignore[operator]
    goal, stretch = GOALS[label]
    rate = float(list(runs.values())[-1]["events"]) / float(list(runs.values())[-1]["wall_s"])  # type: ignore[arg-type]
    verdict = "stretch met" if rate >= stretch else "met" if rate >= goal else "NOT met"
    print(f"goal >= {goal:g} events/s per core (stretch {stretch:g}): {verdict}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        kind, events, pool, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
        print(json.dumps(_measure(kind, events, pool, out)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="zero-bias events")
    parser.add_argument("--ttbar", type=int, default=300, help="dual-view ttbar events")
    parser.add_argument("--pool", type=int, default=30_000, help="pileup pool size")
    parser.add_argument("--baseline", help="a git revision to measure first (before)")
    args = parser.parse_args()

    trees = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            work = Path(tmp) / "baseline"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(work), args.baseline],
                check=True,
                capture_output=True,
            )
            trees[f"{args.baseline[:8]}"] = work / "src"
        trees["this tree"] = REPO / "src"
        try:
            load = os.getloadavg()[0]
            print(
                f"zero bias: {args.events} minbias events, pileup 200, L1T, {len(TRIGGER)} "
                f"collections; ttbar: {args.ttbar} events, both views; pool {args.pool}; "
                f"one process each; load average at start {load:.1f}"
            )
            for kind, n in (("zero bias", args.events), ("dual-view ttbar", args.ttbar)):
                runs = {name: _run_in(src, kind, n, args.pool) for name, src in trees.items()}
                _table(kind, runs)
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(work)],
                    check=False,
                    capture_output=True,
                )


if __name__ == "__main__":
    main()
