"""The menu over tiny orbit files: one process == Dask, bad files and skipped BXs, known answers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from l1scout.deploy.onnx import export_onnx
from l1scout.production.engines import dask_map
from l1scout.production.plan import EngineSpec
from l1scout.tasks.scouting.menu import Menu, load_menu_models, menu_from_dict, run_menu_on_orbit
from l1scout.tasks.scouting.menu_run import run_menu, run_menu_file
from l1scout.tasks.scouting.ml_selections import clear_model_cache
from l1scout.tasks.scouting.orbit_file import OrbitWriter
from l1scout.tasks.scouting.orbits import truth_path
from l1scout.tasks.scouting.results import MenuResult
from l1scout.tasks.scouting.words import (
    ORBIT_BX,
    STREAMS,
    encode_egamma,
    encode_jets,
    encode_muons,
    encode_puppi,
    encode_sums,
    pack_stream,
    puppi_to_hardware,
)
from l1scout.tasks.taus.transformer import (
    SoftTauTransformer,
    TransformerModelConfig,
    export_transformer,
)

ZB, SIG = "minbias", "WTo3Pi"
N_ZB_EVENTS = 12
FILLED = 40  # filled BXs per orbit: 0 ... 39


def _event(rng: np.random.Generator, signal: bool) -> dict[str, np.ndarray]:
    """One crossing's objects: soft PUPPI candidates (+ a W -> 3 pi triplet for the signal)."""
    n = int(rng.integers(5, 30))
    pt = rng.uniform(0.5, 6.0, n)
    eta = rng.uniform(-2.4, 2.4, n)
    phi = rng.uniform(-3.1, 3.1, n)
    pid = rng.choice([211, -211, 22, 130], n)
    if signal:  # 40, 30, 25 GeV pions at m = 91.9 GeV, far from the soft ones
        pt = np.concatenate([[40.0, 30.0, 25.0], pt * 0.05])
        eta = np.concatenate([[0.0, 0.5, -0.5], eta])
        phi = np.concatenate([[0.0, 1.5, -1.5], phi])
        pid = np.concatenate([[211, -211, 211], pid])
    charge = np.where(np.abs(pid) == 211, np.sign(pid), 0)
    n_mu = int(rng.integers(0, 3))
    n_j = int(rng.integers(0, 6))
    return {
        "puppi": encode_puppi(
            puppi_to_hardware(
                pt,
                eta,
                phi,
                pid,
                charge,
                rng.normal(0, 5, pt.size),
                np.zeros(pt.size),
                np.where(charge != 0, 1.0, 0.7),
            )
        ),
        "muon": encode_muons(
            rng.uniform(3, 40, n_mu),
            rng.uniform(-2.4, 2.4, n_mu),
            rng.uniform(-3, 3, n_mu),
            rng.choice([-1, 1], n_mu),
            np.full(n_mu, 12),
        ),
        "egamma": encode_egamma([12.0], [0.3], [1.0])
        if rng.random() < 0.5
        else np.zeros(0, np.uint64),
        "jet": encode_jets(
            rng.uniform(20, 150, n_j), rng.uniform(-2.4, 2.4, n_j), rng.uniform(-3, 3, n_j)
        ),
        "sums": encode_sums([rng.uniform(0, 80)], [rng.uniform(-3, 3)], [rng.uniform(0, 300)]),
    }


def _write_file(
    path: Path, orbits: range, pool: dict[tuple[str, int], dict[str, np.ndarray]], rng: np.random.Generator,
    signal_next: list[int], bad_bx: tuple[int, int] | None = None,
) -> None:  # fmt: skip
    rows: dict[str, list] = {k: [] for k in ("orbit", "bx", "sample", "event", "injected")}
    with OrbitWriter(path, run=3, streams=STREAMS) as w:
        for orbit in orbits:
            keys = [(ZB, int(rng.integers(0, N_ZB_EVENTS))) for _ in range(FILLED)]
            for bx in (7, 23):  # two signal events per orbit, each used once
                keys[bx] = (SIG, signal_next[0])
                signal_next[0] += 1
            buffers = {}
            for stream in STREAMS:
                counts = np.zeros(ORBIT_BX, np.int64)
                payload = []
                for bx, key in enumerate(keys):
                    words = pool.setdefault(
                        key, _event(np.random.default_rng(hash(key) % 2**32), key[0] == SIG)
                    )[stream]
                    counts[bx] = words.size
                    payload.append(words)
                bad = np.zeros(ORBIT_BX, np.bool_)
                if bad_bx is not None and bad_bx == (orbit, STREAMS.index(stream)):
                    bad[5] = True
                buffers[stream] = pack_stream(counts, np.concatenate(payload), orbit, 3, bad=bad)
            w.write_orbit(orbit, buffers)
            for bx, (sample, event) in enumerate(keys):
                for k, v in zip(rows, (orbit, bx, sample, event, sample == SIG), strict=True):
                    rows[k].append(v)
    types = {
        "orbit": pa.int64(),
        "bx": pa.int16(),
        "sample": pa.string(),
        "event": pa.int64(),
        "injected": pa.bool_(),
    }
    pq.write_table(
        pa.table({k: pa.array(v, type=types[k]) for k, v in rows.items()}), truth_path(path)
    )


class _Linear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(57, 1)
        with torch.no_grad():
            self.lin.weight.fill_(0.0)
            self.lin.weight[0, 0] = 1.0  # the score is the MET
            self.lin.bias.fill_(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Menu, Path]:
    """Three files of two orbits each (one with a bad-flag BX), and a menu of every kind."""
    folder = tmp_path_factory.mktemp("orbits")
    rng = np.random.default_rng(5)
    pool: dict = {}
    signal_next = [0]
    files = []
    for i in range(3):
        path = folder / f"orbits-{i}.l1sorb"
        bad = (4, STREAMS.index("muon")) if i == 1 else None
        _write_file(path, range(1 + 2 * i, 3 + 2 * i), pool, rng, signal_next, bad)
        files.append(path)
    torch.manual_seed(0)
    tau = SoftTauTransformer(
        TransformerModelConfig(
            n_constituents=4, embed_dims=(8,), n_heads=2, ff_dim=16, head_hidden=0
        )
    )
    export_transformer(tau.eval(), folder / "tau.onnx")
    export_onnx(_Linear(), 57, folder / "axo.onnx")
    menu = menu_from_dict(
        {
            "name": "test",
            "selection": [
                {"name": "w3pi", "kind": "w3pi"},
                {"name": "mu", "kind": "single_muon", "pt_min": 20.0},
                {"name": "ht", "kind": "ht", "ht_min": 150.0},
                {"name": "axo", "kind": "anomaly", "onnx": "axo.onnx", "threshold": 40.0},
                {
                    "name": "tau",
                    "kind": "ditau",
                    "onnx": "tau.onnx",
                    "n_constituents": 4,
                    "class_threshold": 0.4,
                },
            ],
        },
        base=folder,
    )
    return files, menu, folder


def test_single_process_known_answers(stream: tuple[list[Path], Menu, Path]) -> None:
    files, menu, _ = stream
    r = run_menu(files, menu)
    assert r.n_orbits == 6
    assert r.files == tuple(str(f) for f in files)
    assert r.bad_files == ()
    # the bad-flag BX of orbit 4's muon stream is skipped for the whole menu
    assert r.skipped_bx == 1
    assert r.n_bx == 6 * ORBIT_BX - 1
    assert r.problems["bad_flag"] == 1
    # every injected W -> 3 pi passes, no soft zero-bias crossing does
    eff = r.efficiencies()
    assert (eff["w3pi", SIG].passed, eff["w3pi", SIG].total) == (12, 12)
    zb = r.zero_bias_rates()
    assert zb["w3pi"].n_pass == 0
    # distinct zero-bias events: those of the truth (bx 5 of orbit 4 was skipped)
    truth = pq.read_table(truth_path(files[0])).to_pydict()
    assert truth["sample"].count(SIG) == 4
    used = set()
    for f in files:
        t = pq.read_table(truth_path(f)).to_pydict()
        for o, bx, s, e in zip(t["orbit"], t["bx"], t["sample"], t["event"], strict=True):
            if s == ZB and (o, bx) != (4, 5):
                used.add(e)
    assert r.n_zero_bias == len(used) <= N_ZB_EVENTS
    assert all(v.n_total == len(used) for v in zb.values())
    # raw counts: the w3pi table has one row per passing BX, all in signal BXs 7 and 23
    t = r.tables["w3pi"]
    assert r.raw_pass["w3pi"] == 12 == len(t["bx"])
    assert set(t["bx"].tolist()) == {7, 23}
    assert np.all((t["mass"] > 60) & (t["mass"] < 100))
    # the anomaly score is the decoded MET: the table says so
    assert np.all(r.tables["axo"]["score"] > 40.0)
    sel = r.selected
    assert sel["w3pi"].sum() == 12
    assert set(sel.keys()) >= {
        "orbit",
        "bx",
        "w3pi",
        "mu",
        "ht",
        "axo",
        "tau",
    }
    assert 0 < r.raw_pass["ht"] < r.n_bx
    assert r.raw_pass["mu"] > 0
    assert r.raw_pass["axo"] > 0
    assert set(r.seconds) == {"unpack", *menu.names}


def test_file_by_file_equals_whole(stream: tuple[list[Path], Menu, Path]) -> None:
    files, menu, _ = stream
    whole = run_menu(files, menu)
    parts = MenuResult.combine([run_menu_file(f, menu) for f in files])
    assert parts.equal(whole)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_equals_single_process(stream: tuple[list[Path], Menu, Path], scheduler: str) -> None:
    files, menu, _ = stream
    single = run_menu(files, menu)
    clear_model_cache()
    on_dask = run_menu(files, menu, engine=EngineSpec(kind="address", address=scheduler))
    assert on_dask.equal(single)
    # field by field, so that a failure says which
    for name in ("selections", "files", "bad_files", "n_orbits", "n_bx", "problems", "raw_pass"):
        assert getattr(on_dask, name) == getattr(single, name), name
    assert on_dask.events.equal(single.events)
    for key, col in single.selected.items():
        np.testing.assert_array_equal(on_dask.selected[key], col)
    for name, table in single.tables.items():
        for key, col in table.items():
            np.testing.assert_array_equal(on_dask.tables[name][key], col)
    assert on_dask.summary()["selections"] == single.summary()["selections"]


def test_bad_file_is_reported_and_skipped(
    stream: tuple[list[Path], Menu, Path], tmp_path: Path
) -> None:
    files, menu, _ = stream
    truncated = tmp_path / "truncated.l1sorb"
    data = files[2].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    foreign = tmp_path / "foreign.l1sorb"
    foreign.write_bytes(b"not an orbit file at all" * 10)
    missing = tmp_path / "missing.l1sorb"
    r = run_menu([files[0], truncated, foreign, missing, files[1]], menu)
    assert [f for f, _ in r.bad_files] == [str(truncated), str(foreign), str(missing)]
    assert all("truncated" in why or "orbit file" in why for _, why in r.bad_files)
    good = run_menu([files[0], files[1]], menu)
    assert r.n_orbits == good.n_orbits == 4
    assert r.events.equal(good.events)
    assert dict(r.raw_pass) == dict(good.raw_pass)


def test_file_without_a_stream_the_menu_reads(
    stream: tuple[list[Path], Menu, Path], tmp_path: Path
) -> None:
    _, menu, _ = stream
    path = tmp_path / "puppi-only.l1sorb"
    with OrbitWriter(path, run=1, streams=("puppi",)) as w:
        w.write_orbit(
            1, {"puppi": pack_stream(np.zeros(ORBIT_BX, np.int64), np.zeros(0, np.uint64), 1, 1)}
        )
    r = run_menu_file(path, menu)
    assert r.n_orbits == 0
    assert "no 'muon' stream" in r.bad_files[0][1]
    # a menu that reads only the PUPPI stream runs it; no truth sidecar: raw rates only
    only = menu_from_dict({"selection": [{"name": "w3pi", "kind": "w3pi"}]})
    r = run_menu_file(path, only)
    assert (r.n_orbits, r.n_bx, r.n_zero_bias, r.raw_pass["w3pi"]) == (1, ORBIT_BX, 0, 0)


def test_orbit_without_truth(stream: tuple[list[Path], Menu, Path]) -> None:
    files, menu, _ = stream
    from l1scout.tasks.scouting.orbit_file import open_orbit_file

    with open_orbit_file(files[0]) as f:
        number, buffers = next(f.iter_orbits())
    out = run_menu_on_orbit(menu, load_menu_models(menu), buffers)
    assert out.orbit == number == 1  # from the headers
    assert (out.event == -1).all()
    assert out.bx.size == ORBIT_BX
    assert out.passed["w3pi"][[7, 23]].all()


def test_dask_map_keeps_the_order(scheduler: str) -> None:
    engine = EngineSpec(kind="address", address=scheduler)
    assert dask_map(engine, abs, [-3, 1, -2, 5, -8]) == [3, 1, 2, 5, 8]
    assert dask_map(EngineSpec(kind="single"), abs, [-1]) == [1]
    assert dask_map(engine, abs, []) == []


def test_copied_file_same_result(stream: tuple[list[Path], Menu, Path], tmp_path: Path) -> None:
    files, menu, _ = stream
    copy = tmp_path / "copy.l1sorb"
    shutil.copy(files[0], copy)
    shutil.copy(truth_path(files[0]), truth_path(copy))
    a, b = run_menu_file(files[0], menu), run_menu_file(copy, menu)
    assert a.events.equal(b.events)
    assert dict(a.raw_pass) == dict(b.raw_pass)
    # the same orbits twice: zero-bias events are not counted twice
    twice = run_menu([files[0], copy], menu)
    assert twice.n_zero_bias == a.n_zero_bias
    assert twice.n_orbits == 2 * a.n_orbits
    assert twice.raw_pass["ht"] == 2 * a.raw_pass["ht"]


@pytest.mark.slow
def test_local_engine_equals_single_process(stream: tuple[list[Path], Menu, Path]) -> None:
    """The engines' own local cluster (worker processes) gives the one-process result."""
    files, menu, _ = stream
    single = run_menu(files[:2], menu)
    local = run_menu(files[:2], menu, engine=EngineSpec(kind="local", workers=1))
    assert local.equal(single)
