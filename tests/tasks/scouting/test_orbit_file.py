"""Orbit files: round trips, atomic writing (exception, killed writer), truncated and foreign files."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.orbit_file import OrbitWriter, open_orbit_file
from l1scout.tasks.scouting.unpack import unpack_puppi
from l1scout.tasks.scouting.words import ORBIT_BX, STREAMS, pack_stream


def _orbit(rng: np.random.Generator, orbit: int) -> dict[str, np.ndarray]:
    out = {}
    for k, stream in enumerate(STREAMS):
        counts = rng.integers(0, 3 + 2 * k, ORBIT_BX)
        payload = rng.integers(0, 1 << 60, int(counts.sum()), dtype=np.uint64)
        out[stream] = pack_stream(counts, payload, orbit=orbit, run=9)
    return out


def _write(path: Path, orbits: dict[int, dict[str, np.ndarray]], **kw: object) -> Path:
    with OrbitWriter(path, run=9, meta={"lumi": 7.5e34, "plan": [1, 2]}, **kw) as w:  # type: ignore[arg-type]
        for number, buffers in orbits.items():
            w.write_orbit(number, buffers)
    return path


def test_round_trip_of_orbits_and_metadata(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    orbits = {o: _orbit(rng, o) for o in (1, 2, 1000, 2**30 - 1)}
    path = _write(tmp_path / "a.l1sorb", orbits)
    assert [p.name for p in tmp_path.iterdir()] == ["a.l1sorb"]
    words = sum(len(b) for o in orbits.values() for b in o.values())
    assert path.stat().st_size == 8 + 8 * words + 8 * len(orbits) * 11 + _trailer_size(path) + 32
    with open_orbit_file(path) as f:
        assert f.orbits.tolist() == list(orbits)
        assert (f.run, f.streams, len(f)) == (9, STREAMS, 4)
        assert f.meta == {"lumi": 7.5e34, "plan": [1, 2]}
        for i, number in enumerate(orbits):
            for stream in STREAMS:
                got = f.read(i, stream)
                assert got.dtype == np.uint64
                assert np.array_equal(got, orbits[number][stream])
                assert f.n_words(i, stream) == len(got)
        seen = [
            (o, {s: b.copy() for s, b in bufs.items()})
            for o, bufs in f.iter_orbits(["puppi", "sums"])
        ]
    assert [o for o, _ in seen] == list(orbits)
    assert all(set(b) == {"puppi", "sums"} for _, b in seen)
    assert np.array_equal(seen[2][1]["sums"], orbits[1000]["sums"])
    assert unpack_puppi(seen[3][1]["puppi"]).orbit == 2**30 - 1


def _trailer_size(path: Path) -> int:
    data = path.read_bytes()
    return int.from_bytes(data[-16:-8], "little")


def test_empty_file_and_missing_streams(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.l1sorb", {})
    with open_orbit_file(path) as f:
        assert len(f) == 0
        assert f.orbits.tolist() == []
        assert list(f.iter_orbits()) == []
    with OrbitWriter(tmp_path / "b.l1sorb", run=0, streams=("puppi", "jet")) as w:
        w.write_orbit(3, {"jet": np.arange(4, dtype=np.uint64)})
    with open_orbit_file(tmp_path / "b.l1sorb") as f:
        assert len(f.read(0, "puppi")) == 0
        assert f.read(0, "jet").tolist() == [0, 1, 2, 3]
        with pytest.raises(ConfigError, match="muon"):
            f.read(0, "muon")
        with pytest.raises(ConfigError, match="position 1"):
            f.read(1, "jet")


def _write_then_fail(target: Path) -> None:
    with OrbitWriter(target, run=1) as w:
        w.write_orbit(1, _orbit(np.random.default_rng(2), 1))
        raise RuntimeError("stop")


def test_an_exception_inside_the_writer_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "x.l1sorb"
    with pytest.raises(RuntimeError, match="stop"):
        _write_then_fail(target)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_leaves_no_orbit_file(tmp_path: Path) -> None:
    target = tmp_path / "killed.l1sorb"
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from l1scout.tasks.scouting.orbit_file import OrbitWriter
        with OrbitWriter({str(target)!r}, run=1, streams=("puppi",)) as w:
            w.write_orbit(1, {{"puppi": np.arange(1000, dtype=np.uint64)}})
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    left = [p.name for p in tmp_path.iterdir()]
    assert all(
        name.startswith(".killed.l1sorb.tmp-") for name in left
    )  # at most the hidden temporary


def test_writer_refuses_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "c.l1sorb"
    with pytest.raises(ConfigError, match="run 128"):
        OrbitWriter(path, run=128)
    with pytest.raises(ConfigError, match="streams"):
        OrbitWriter(path, run=1, streams=("puppi", "taus"))
    with pytest.raises(ConfigError, match="JSON"):
        OrbitWriter(path, run=1, meta={"x": object()})
    with pytest.raises(ConfigError, match="outside"):
        OrbitWriter(path, run=1).write_orbit(1, {})
    with OrbitWriter(path, run=1, streams=("puppi",)) as w:
        w.write_orbit(1, {})
        with pytest.raises(ConfigError, match="twice"):
            w.write_orbit(1, {})
        with pytest.raises(ConfigError, match="orbit -1"):
            w.write_orbit(-1, {})
        with pytest.raises(ConfigError, match="'jet'"):
            w.write_orbit(2, {"jet": np.zeros(1, np.uint64)})
        with pytest.raises(DataFormatError, match="uint64"):
            w.write_orbit(2, {"puppi": np.zeros(1, np.int32)})
    with open_orbit_file(path) as f:
        assert f.orbits.tolist() == [1]


def _one_line(exc: pytest.ExceptionInfo[DataFormatError], path: Path) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg


@pytest.mark.parametrize("keep", [0, 7, 8, 100, -1, -31, -33])
def test_truncated_files_are_refused_naming_the_file(tmp_path: Path, keep: int) -> None:
    rng = np.random.default_rng(3)
    path = _write(tmp_path / "t.l1sorb", {1: _orbit(rng, 1), 2: _orbit(rng, 2)})
    data = path.read_bytes()
    cut = tmp_path / "cut.l1sorb"
    cut.write_bytes(data[:keep])
    with pytest.raises(DataFormatError) as exc:
        open_orbit_file(cut)
    _one_line(exc, cut)


def test_foreign_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.l1sorb"
    foreign.write_bytes(b"PAR1" + bytes(200))
    with pytest.raises(DataFormatError, match="magic") as exc:
        open_orbit_file(foreign)
    _one_line(exc, foreign)
    missing = tmp_path / "missing.l1sorb"
    with pytest.raises(DataFormatError, match="cannot open") as exc:
        open_orbit_file(missing)
    _one_line(exc, missing)
    path = _write(tmp_path / "ok.l1sorb", {1: _orbit(np.random.default_rng(4), 1)})
    data = bytearray(path.read_bytes())
    trailer = int.from_bytes(data[-16:-8], "little")
    broken = tmp_path / "json.l1sorb"
    data[-32 - trailer] = ord("#")  # the trailer's opening brace
    broken.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="trailer") as exc:
        open_orbit_file(broken)
    _one_line(exc, broken)
    # an index that points past the words
    data = bytearray(path.read_bytes())
    index_at = int.from_bytes(data[-32:-24], "little")
    data[index_at + 16 : index_at + 24] = (10**9).to_bytes(
        8, "little"
    )  # puppi word count of orbit 1
    bad_index = tmp_path / "index.l1sorb"
    bad_index.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="index") as exc:
        open_orbit_file(bad_index)
    _one_line(exc, bad_index)


def test_reading_needs_memory_for_one_orbit_only(tmp_path: Path) -> None:
    """Streaming a file of 20 orbits allocates about one orbit's words at a time, not the file."""
    import tracemalloc

    path = tmp_path / "m.l1sorb"
    words = np.arange(100_000, dtype=np.uint64)  # 0.8 MB per orbit, 16 MB in all
    with OrbitWriter(path, run=1, streams=("puppi",)) as w:
        for o in range(1, 21):
            w.write_orbit(o, {"puppi": words})
    total = 0
    with open_orbit_file(path) as f:
        tracemalloc.start()
        for _, bufs in f.iter_orbits():
            total += int(bufs["puppi"][-1])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert total == 20 * 99_999
    assert peak < 3 * words.nbytes
