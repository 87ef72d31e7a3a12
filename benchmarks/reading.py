"""Reading speed: Parquet -> torch tensors, trigger inputs and particle sets, 1 and 2 workers.

Run: python benchmarks/reading.py [--trigger-events 200000] [--particle-events 80000]
     [--source FILE] [--row-group 50 1000] [--epochs 2]

A small ttbar file is generated at pileup 200 (both views, every collection
plus the pre-cut ``L1T_PUPPIPart128``; or --source names an existing
l1scout/COLLIDE file), and its events are replicated many times into one file
per feature kind that holds only the columns it reads (plus Event_Number,
renumbered), written as our writer writes (zstd, no dictionary, no
statistics) in row groups of --row-group events: 50 is how a full dual-view
file comes out of ``l1scout generate`` (its batches of 2.4 MB events are
written as they come), 1000 how the writer gathers the small events of a
fast-mode production (``l1scout produce`` with a few L1T collections); both are
measured in one run. Particle sets are measured twice, side by side: from the
pre-cut ``L1T_PUPPIPart128`` (128 candidates per event to decode; only when the
source holds it) and from the full ``L1T_PUPPIPart`` (about 1,000, the fallback
for files without the pre-cut collection, such as COLLIDE's). Replication gives
size, not variety: the numbers measure throughput, not physics; every float is
jittered in its last bits so that compression sees no repeated events (by one
factor per ``PT`` list, so that lists sorted by decreasing pT, as every COLLIDE
collection is, stay sorted: the feature builders take a fast path for them).

Chunks hold at most --chunk-size events and about CHUNK_BYTES of decoded data
(the reader's default), so wide particle events come in smaller chunks.
Each measurement is whole epochs of
``DataLoader(EventIterableDataset(open_dataset(file, columns=...), transform),
batch_size=None, num_workers=k)``, counting the events of the tensors that
reach the main process, worker start-up included; the best epoch is shown.
The epochs of all files and worker counts alternate (epoch 1 of each, then
epoch 2 of each, ...), so that a load that comes and goes on the machine
touches every row alike.
The transforms are :func:`l1scout.io.features.trigger_inputs` (57 inputs) and
:func:`l1scout.io.features.particle_set` (k = 128, with mask and truth labels).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from torch.utils.data import DataLoader

from l1scout.io.dataset import CHUNK_BYTES, Dataset, open_dataset
from l1scout.io.features import (
    particle_set,
    particle_set_columns,
    trigger_input_columns,
    trigger_inputs,
)
from l1scout.io.footer import open_file
from l1scout.io.torchdata import EventIterableDataset
from l1scout.production.job import ROWS_PER_GROUP

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
TRIGGER = "trigger inputs (57)"
PRECUT = "particle sets (128)"
FALLBACK = "  fallback: full coll."
GOALS = {TRIGGER: 200_000.0, PRECUT: 20_000.0}


def trigger_transform(events: ak.Array) -> Mapping[str, np.ndarray]:
    return {"x": trigger_inputs(events)}


def particle_transform(events: ak.Array) -> Mapping[str, np.ndarray]:
    ps = particle_set(events, k=128)
    out = {"x": ps.features, "mask": ps.mask}
    if ps.labels is not None:
        out["labels"] = ps.labels
    return out


def _source(args: argparse.Namespace, tmp: Path) -> Path:
    if args.source:
        return Path(args.source)
    from l1scout.production.job import GenerationConfig, available_collections, run_generation

    os.environ.setdefault("L1SCOUT_CACHE_DIR", str(tmp / "cache"))
    base = GenerationConfig(
        process=PROCESS,
        events=args.source_events,
        seed=3,
        pileup=args.pileup,
        pool_size=args.pool,
    )
    # every collection, and the pre-cut ones that only a request writes
    cfg = base.model_copy(update={"collections": available_collections(base)})
    print(
        f"generating {args.source_events} {PROCESS} events at pileup {args.pileup:g} "
        f"(pool of {args.pool})...",
        flush=True,
    )
    return run_generation(cfg, tmp / "source", workers=2).path


def _jitter(table: pa.Table) -> pa.Table:
    """Every float times (1 + u), |u| < 1e-3: copies of an event differ in their last bits.

    Without it zstd finds the repeated events inside a page and the file, and
    its decompression, become unrealistically cheap. The values of a ``PT``
    list share one factor, so that a list sorted by decreasing pT (every
    COLLIDE collection) stays sorted.
    """
    rng = np.random.default_rng(1)
    out = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        arr = col.combine_chunks()
        values = arr.flatten()
        while pa.types.is_list(values.type):
            values = values.flatten()
        if pa.types.is_floating(values.type):
            x = values.to_numpy()
            if name.endswith("_PT") and not pa.types.is_list(arr.type.value_type):
                counts = np.diff(arr.offsets.to_numpy())
                factor = np.repeat(1 + rng.uniform(-1e-3, 1e-3, len(arr)), counts)
            else:
                factor = 1 + rng.uniform(-1e-3, 1e-3, len(x))
            noisy = (x * factor).astype(x.dtype)
            arr = type(arr).from_arrays(arr.offsets, pa.array(noisy), type=arr.type)
        out.append(arr)
    return pa.Table.from_arrays(out, schema=table.schema)


def _replicate(source: Path, columns: tuple[str, ...], n: int, row_group: int, out: Path) -> None:
    ds = open_dataset(source, columns=list(columns))
    assert isinstance(ds, Dataset)
    physical = [ds.files[0].physical[c] for c in columns]
    table = pq.read_table(source, columns=physical)
    reps = -(-n // table.num_rows)
    big = pa.concat_tables([table] * reps).slice(0, n).combine_chunks()
    big = _jitter(big)
    numbers = pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)), pa.array(np.arange(n, dtype=np.int64))
    )
    big = big.append_column("Event_Number", numbers)
    pq.write_table(
        big,
        out,
        row_group_size=row_group,
        compression="zstd",
        use_dictionary=False,
        write_statistics=False,
    )


def _epoch(
    path: Path,
    columns: tuple[str, ...],
    transform: Callable[[ak.Array], Mapping[str, np.ndarray]],
    workers: int,
    epoch: int,
    args: argparse.Namespace,
) -> tuple[float, int]:
    """Events per second of one epoch, and the events per chunk."""
    ds = open_dataset(path, columns=list(columns), chunk_size=args.chunk_size)
    assert isinstance(ds, Dataset)
    tds = EventIterableDataset(ds, transform, batch_size=args.batch_size)
    tds.set_epoch(epoch)
    loader = DataLoader(tds, batch_size=None, num_workers=workers)
    t0 = time.perf_counter()
    n = sum(len(batch["x"]) for batch in loader)
    rate = n / (time.perf_counter() - t0)
    if n != ds.n_events:
        msg = f"saw {n} events of {ds.n_events}"
        raise RuntimeError(msg)
    return rate, ds.chunk_events(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trigger-events", type=int, default=200_000)
    parser.add_argument("--particle-events", type=int, default=80_000)
    parser.add_argument("--source", help="an existing event file to replicate")
    parser.add_argument("--source-events", type=int, default=50)
    parser.add_argument("--pileup", type=float, default=200.0)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--row-group", type=int, nargs="+", default=[ROWS_PER_GROUP, 1000])
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        source = _source(args, tmp)
        n_source = pq.ParquetFile(source).metadata.num_rows
        precut = particle_set_columns(available=open_file(source).columns)
        kinds = {TRIGGER: (trigger_input_columns(), trigger_transform, args.trigger_events)}
        if precut != particle_set_columns():
            kinds[PRECUT] = (precut, particle_transform, args.particle_events)
        else:
            print(f"{source.name} holds no pre-cut L1T_PUPPIPart128: only the fallback is measured")
        kinds[FALLBACK] = (particle_set_columns(), particle_transform, args.particle_events)
        results: dict[tuple[str, int], dict[int, float]] = {}
        sizes: dict[tuple[str, int], float] = {}
        chunks: dict[tuple[str, int], int] = {}
        for row_group in args.row_group:
            paths = {}
            for name, (columns, _, n) in kinds.items():
                key = (name, row_group)
                paths[name] = tmp / f"{len(paths)}-{row_group}.parquet"
                _replicate(source, columns, n, row_group, paths[name])
                sizes[key] = paths[name].stat().st_size / 1e6
                results[key] = {1: 0.0, 2: 0.0}
            for epoch in range(args.epochs):  # alternate: a passing load hits every row alike
                for name, (columns, transform, _) in kinds.items():
                    for workers in (1, 2):
                        key = (name, row_group)
                        rate, chunks[key] = _epoch(
                            paths[name], columns, transform, workers, epoch, args
                        )
                        results[key][workers] = max(results[key][workers], rate)
            for path in paths.values():
                path.unlink()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nsource: {source.name} ({n_source} events), replicated to "
        f"{args.trigger_events:,} events (trigger inputs) and {args.particle_events:,} "
        f"(particle sets); chunks of at most {args.chunk_size:,} "
        f"events and {CHUNK_BYTES >> 20} MiB, "
        f"batches of {args.batch_size:,}; {os.cpu_count()} CPU cores (load average {load} "
        f"at the end); best of {args.epochs} epochs"
    )
    header = (
        f"{'feature kind':<22}{'row group':>10}{'file MB':>9}{'chunk':>8}{'1 worker':>12}"
        f"{'2 workers':>12}{'goal':>10}  met"
    )
    print(header)
    print("-" * len(header))
    order = list(kinds)  # trigger inputs, then per row group: pre-cut beside fallback
    for (name, row_group), rates in sorted(
        results.items(), key=lambda kv: (kv[0][0] != TRIGGER, kv[0][1], order.index(kv[0][0]))
    ):
        goal = GOALS.get(name)
        shown, ok = ("-", "") if goal is None else (f"{goal:,.0f}", "no")
        if goal is not None and max(rates.values()) >= goal:
            ok = "yes"
        print(
            f"{name:<22}{row_group:>10,}{sizes[name, row_group]:>9.1f}"
            f"{chunks[name, row_group]:>8,}{rates[1]:>12,.0f}{rates[2]:>12,.0f}{shown:>10}  {ok}"
        )
    print("(events per second, Parquet -> torch tensors in the main process)")
    print(
        "(particle sets: from the pre-cut L1T_PUPPIPart128, then the fallback that cuts the "
        "full L1T_PUPPIPart, the same tensors)"
    )
    print(
        f"(row groups of {ROWS_PER_GROUP}: a full dual-view file as l1scout generate writes it; "
        "1000: a fast-mode file of a few L1T collections)"
    )


if __name__ == "__main__":
    main()
