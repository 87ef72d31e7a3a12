"""Scouting unpacker speed per core at the stream's realistic occupancy, against this machine's memory bandwidth.

Run: python benchmarks/scouting.py [--orbits 24] [--repeat 5] [--candidates 128] [--copy-mb 512]
                                   [--run OUT_OF_A_SCOUTING_RUN]

One orbit is built as the Phase-2 stream would carry it: 2760 filled bunch
crossings of 3564 (a random choice of BXs: the pattern does not change the
speed), each with the --candidates highest-pT PUPPI candidates of a pileup-200
crossing (128 by default: the size the Phase-2 correlator sends; about 353,000
words or 2.85 MB per orbit) with realistic field values (pT falling
exponentially above 1 GeV, |eta| < 4, z0 of the luminous region, PUPPI weights
of neutrals, half the candidates charged), and the object streams (per filled
BX: Poisson 0.2 muons, 2 e/gamma, 8 jets, each capped at the stream's maximum,
one sums word). --orbits copies of it in distinct memory (about 70 MB at the
default) are unpacked in turn, so the input comes from memory and not from the
cache; the outputs are allocated anew each time, as in a real run.

Stages, single thread (``numba.set_num_threads(1)``; the kernels are serial
anyway), best of --repeat passes over the orbits, numba compilation done by a
warm-up and not timed:

* **(a) header scan**: :func:`~l1scout.tasks.scouting.unpack.scan_headers` of the PUPPI stream;
* **(b) PUPPI -> hardware**: :func:`~l1scout.tasks.scouting.unpack.unpack_puppi`, every field;
* **(b') PUPPI, 5 fields**: only pT, eta, phi, code, quality (what the W -> 3 pion selection reads);
* **(c) PUPPI -> physical**: (b) then ``.physical()`` (float32 columns);
* **(d) object streams**: :func:`~l1scout.tasks.scouting.unpack.unpack_objects` of muon, egamma, jet, sums.

Then **(e) the menu**, stage by stage
(:func:`~l1scout.tasks.scouting.menu.run_menu_on_orbit`: the unpack of every
stream the menu reads, then each selection): on the synthetic orbits the
cut-based selections of the default menu (W -> 3 pions, single muon, HT); with
``--run OUT`` (the output folder of ``l1scout run scouting``) the run's own
menu (``OUT/menu.toml``, its working points) with its models
(``OUT/models/*.onnx``) on the run's orbit files (real pileup-200 crossings),
so the machine-learned selections are timed on the events they select.

For each: orbits/s per core, ms per orbit, the input read (GB/s of stream
words), the memory traffic (input words read + output columns written, GB/s),
that traffic as a fraction of this machine's copy bandwidth, and the cores that
would keep up with the real stream, 11,246 orbits/s. The copy bandwidth is
measured in the same run: ``np.copyto`` of --copy-mb MB, best of 5, counted as
STREAM does (bytes read + bytes written). Goal: (b) at least 1,000 orbits/s
per core.
"""

from __future__ import annotations

import argparse
import math
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

from l1scout.tasks.scouting.config import DEFAULT_MENU
from l1scout.tasks.scouting.menu import (
    Menu,
    MenuModels,
    load_menu,
    load_menu_models,
    menu_from_dict,
    run_menu_on_orbit,
)
from l1scout.tasks.scouting.orbit_file import ORBIT_FILE_SUFFIX, open_orbit_file
from l1scout.tasks.scouting.unpack import scan_headers, unpack_objects, unpack_puppi
from l1scout.tasks.scouting.words import (
    FILLED_BX,
    MAX_OBJECTS,
    ORBIT_BX,
    ORBIT_RATE_KHZ,
    encode_egamma,
    encode_jets,
    encode_muons,
    encode_puppi,
    encode_sums,
    pack_stream,
    puppi_to_hardware,
)

GOAL_ORBITS_PER_S = 1000.0
ORBIT_RATE_HZ = ORBIT_RATE_KHZ * 1e3
OBJECT_MEANS = {"muon": 0.2, "egamma": 2.0, "jet": 8.0}


def build_orbit(rng: np.random.Generator, candidates: int, orbit: int = 1) -> dict[str, np.ndarray]:
    """One orbit of every stream with realistic occupancy and field values."""
    filled = np.zeros(ORBIT_BX, dtype=bool)
    filled[rng.choice(ORBIT_BX, FILLED_BX, replace=False)] = True
    counts = np.where(filled, candidates, 0)
    n = int(counts.sum())
    charged = rng.random(n) < 0.5
    charge = np.where(charged, rng.choice([-1, 1], n), 0)
    pid = np.where(
        charged,
        rng.choice([211, 11, 13], n, p=[0.96, 0.03, 0.01]),
        rng.choice([22, 130], n, p=[0.6, 0.4]),
    )
    hw = puppi_to_hardware(
        pt=1.0 + rng.exponential(2.5, n),
        eta=rng.uniform(-4.0, 4.0, n),
        phi=rng.uniform(-math.pi, math.pi, n),
        pid=pid,
        charge=charge,
        dz_mm=rng.normal(0.0, 50.0, n),
        d0_mm=rng.normal(0.0, 0.05, n),
        puppi_w=np.where(charged, rng.random(n) < 0.1, rng.random(n)),
    )
    out = {"puppi": pack_stream(counts, encode_puppi(hw), orbit, 1)}
    for stream, mean in OBJECT_MEANS.items():
        c = np.where(filled, np.minimum(rng.poisson(mean, ORBIT_BX), MAX_OBJECTS[stream]), 0)
        m = int(c.sum())
        pt, eta, phi = (
            2.0 + rng.exponential(15.0, m),
            rng.uniform(-2.5, 2.5, m),
            rng.uniform(-3, 3, m),
        )
        if stream == "muon":
            words = encode_muons(pt, eta, phi, rng.choice([-1, 1], m), rng.integers(8, 16, m))
        elif stream == "egamma":
            words = encode_egamma(pt, eta, phi)
        else:
            words = encode_jets(pt, eta, phi)
        out[stream] = pack_stream(c, words, orbit, 1)
    ones = filled.astype(np.int64)
    k = FILLED_BX
    sums = encode_sums(rng.exponential(20.0, k), rng.uniform(-3, 3, k), rng.exponential(100.0, k))
    out["sums"] = pack_stream(ones, sums, orbit, 1)
    return out


def copy_bandwidth(megabytes: int, repeat: int = 5) -> float:
    """Copy bandwidth (GB/s, bytes read + bytes written) of a large ``np.copyto``, best of *repeat*."""
    n = megabytes * 2**20 // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def _time(
    run: Callable[[dict[str, np.ndarray]], int], orbits: list[dict[str, np.ndarray]], repeat: int
) -> tuple[float, float, int]:
    """Best wall and thread-CPU seconds per orbit over *repeat* passes, and the output bytes per orbit."""
    out_bytes = run(orbits[0])  # warm-up: compilation
    wall = cpu = math.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        for o in orbits:
            run(o)
        wall = min(wall, (time.perf_counter() - t0) / len(orbits))
        cpu = min(cpu, (time.thread_time() - c0) / len(orbits))
    return wall, cpu, out_bytes


def _nbytes(*arrays: object) -> int:
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def _scan(o: dict[str, np.ndarray]) -> int:
    idx = scan_headers(o["puppi"])
    return _nbytes(idx.bx, idx.count, idx.start)


def _puppi(o: dict[str, np.ndarray]) -> int:
    u = unpack_puppi(o["puppi"])
    return _nbytes(u.offsets, *vars(u.hw).values())


def _puppi5(o: dict[str, np.ndarray]) -> int:
    u = unpack_puppi(o["puppi"], fields=("pt", "eta", "phi", "code", "quality"))
    return _nbytes(u.offsets, *vars(u.hw).values())


def _physical(o: dict[str, np.ndarray]) -> int:
    u = unpack_puppi(o["puppi"])
    return _nbytes(u.offsets, *vars(u.hw).values(), *u.physical().values())


def _objects(o: dict[str, np.ndarray]) -> int:
    total = 0
    for stream in ("muon", "egamma", "jet", "sums"):
        u = unpack_objects(o[stream], stream)
        total += _nbytes(u.offsets, *u.values.values())
    return total


STAGES: dict[str, tuple[Callable[[dict[str, np.ndarray]], int], tuple[str, ...]]] = {
    "(a) header scan": (_scan, ("puppi",)),
    "(b) PUPPI -> hardware": (_puppi, ("puppi",)),
    "(b') PUPPI, 5 fields": (_puppi5, ("puppi",)),
    "(c) PUPPI -> physical": (_physical, ("puppi",)),
    "(d) object streams": (_objects, ("muon", "egamma", "jet", "sums")),
}


def _cut_menu() -> Menu:
    """The cut-based selections of the package's default menu."""
    path = Path(DEFAULT_MENU)
    data = tomllib.loads(path.read_text())
    data["selection"] = [s for s in data["selection"] if s["kind"] in ("w3pi", "single_muon", "ht")]
    return menu_from_dict(data, base=path.parent, where=str(path))


def _run_menu(run: Path, n_orbits: int) -> tuple[Menu, MenuModels, list[dict[str, np.ndarray]]]:
    """A scouting run's resolved menu, its ONNX models, and up to *n_orbits* of its orbits."""
    menu = load_menu(run / "menu.toml")
    sources = {"ditau": run / "models" / "ditau.onnx", "anomaly": run / "models" / "anomaly.onnx"}
    overrides = {
        s.name: str(sources[s.kind])
        for s in menu.selection
        if s.kind in sources and sources[s.kind].is_file()
    }
    models = load_menu_models(menu, overrides=overrides)
    orbits: list[dict[str, np.ndarray]] = []
    for path in sorted((run / "orbits").glob(f"*{ORBIT_FILE_SUFFIX}")):
        with open_orbit_file(path) as f:
            for _, buffers in f.iter_orbits(streams=menu.streams):
                orbits.append(buffers)
                if len(orbits) == n_orbits:
                    return menu, models, orbits
    return menu, models, orbits


def _menu_stages(
    menu: Menu, models: MenuModels, orbits: list[dict[str, np.ndarray]], repeat: int
) -> dict[str, float]:
    """Best seconds per orbit of each menu stage (unpack, each selection) over *repeat* passes."""
    run_menu_on_orbit(menu, models, orbits[0])  # warm-up: compilation, ONNX sessions
    best: dict[str, float] = {}
    for _ in range(repeat):
        total: dict[str, float] = {}
        for o in orbits:
            for k, v in run_menu_on_orbit(menu, models, o).seconds.items():
                total[k] = total.get(k, 0.0) + v
        for k, v in total.items():
            best[k] = min(best.get(k, math.inf), v / len(orbits))
    return best


def _print_menu(title: str, best: dict[str, float]) -> None:
    print(f"\n(e) menu, {title}")
    head = f"{'stage':<24}{'orbits/s':>10}{'ms/orbit':>10}{'cores':>8}"
    print(head)
    print("-" * len(head))
    for k, v in best.items():
        print(f"{k:<24}{1 / v:>10,.1f}{1e3 * v:>10.2f}{math.ceil(ORBIT_RATE_HZ * v):>8,d}")
    whole = sum(best.values())
    slowest = max((k for k in best if k != "unpack"), key=best.__getitem__, default="unpack")
    print(
        f"{'whole menu':<24}{1 / whole:>10,.1f}{1e3 * whole:>10.2f}{math.ceil(ORBIT_RATE_HZ * whole):>8,d}"
        f"\nslowest selection: {slowest} ({best[slowest] / whole:.0%} of the menu's time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orbits", type=int, default=24, help="distinct orbit copies cycled through"
    )
    parser.add_argument("--repeat", type=int, default=5, help="passes; the best is shown")
    parser.add_argument(
        "--candidates", type=int, default=128, help="PUPPI candidates per filled BX"
    )
    parser.add_argument("--copy-mb", type=int, default=512, help="size of the bandwidth copy (MB)")
    parser.add_argument(
        "--run",
        type=Path,
        default=None,
        help="a scouting run's OUT folder: time its menu on its orbits",
    )
    args = parser.parse_args()
    numba.set_num_threads(1)
    rng = np.random.default_rng(20)
    one = build_orbit(rng, args.candidates)
    orbits = [{s: b.copy() for s, b in one.items()} for _ in range(args.orbits)]
    words = {s: len(b) for s, b in one.items()}
    bandwidth = copy_bandwidth(args.copy_mb)
    print(
        f"orbit: {ORBIT_BX} BX, {FILLED_BX} filled, {args.candidates} PUPPI candidates per filled BX; "
        f"words per orbit: " + ", ".join(f"{s} {n:,}" for s, n in words.items())
    )
    print(
        f"PUPPI stream {8 * words['puppi'] / 1e6:.2f} MB per orbit; {args.orbits} orbit copies "
        f"({sum(8 * n for n in words.values()) * args.orbits / 1e6:.0f} MB) cycled, best of {args.repeat}"
    )
    print(
        f"memory bandwidth (np.copyto of {args.copy_mb} MB, read + write, best of 5): {bandwidth:.1f} GB/s"
    )
    print(f"real stream: {ORBIT_RATE_HZ:,.1f} orbits/s; single thread per core\n")
    head = (
        f"{'stage':<24}{'orbits/s':>10}{'(CPU)':>8}{'ms/orbit':>10}{'in GB/s':>9}"
        f"{'traffic GB/s':>14}{'of copy':>9}{'cores':>7}"
    )
    print(head)
    print("-" * len(head))
    rates = {}
    for name, (run, streams) in STAGES.items():
        wall, cpu, out_bytes = _time(run, orbits, args.repeat)
        # the scan reads one 64-byte cache line per header, not the payload
        in_bytes = 64 * ORBIT_BX if run is _scan else sum(8 * words[s] for s in streams)
        traffic = (in_bytes + out_bytes) / wall / 1e9
        rates[name] = (1.0 / wall, 1.0 / cpu)
        print(
            f"{name:<24}{1 / wall:>10,.0f}{1 / cpu:>8,.0f}{1e3 * wall:>10.3f}{in_bytes / wall / 1e9:>9.2f}"
            f"{traffic:>14.2f}{traffic / bandwidth:>9.0%}{math.ceil(ORBIT_RATE_HZ * wall):>7d}"
        )
    print(
        "\n(CPU): orbits/s by the thread's CPU time, which other processes on a shared machine do not inflate;"
        "\ntraffic: stream words read + output columns written; of copy: traffic / copy bandwidth;"
        "\ncores: ceil(11,246 orbits/s x wall seconds per orbit)"
    )
    full, full_cpu = rates["(b) PUPPI -> hardware"]
    verdict = "met" if full >= GOAL_ORBITS_PER_S else "NOT met"
    print(
        f"\ngoal: (b) >= {GOAL_ORBITS_PER_S:,.0f} orbits/s per core: {verdict} "
        f"({full:,.0f} wall, {full_cpu:,.0f} by CPU time)"
    )
    both = 1.0 / (1.0 / full + 1.0 / rates["(d) object streams"][0])
    print(
        f"(b) + (d), every stream unpacked: {both:,.0f} orbits/s per core, "
        f"{math.ceil(ORBIT_RATE_HZ / both)} cores for the real stream"
    )
    cut = _cut_menu()
    _print_menu(
        "cut-based selections of the default menu, synthetic orbits (random events: few pass)",
        _menu_stages(cut, load_menu_models(cut), orbits[:8], args.repeat),
    )
    if args.run is not None:
        menu, models, real = _run_menu(args.run, args.orbits)
        _print_menu(
            f"{args.run / 'menu.toml'} with {args.run / 'models'}, {len(real)} orbits of the run",
            _menu_stages(menu, models, real, args.repeat),
        )


if __name__ == "__main__":
    main()
