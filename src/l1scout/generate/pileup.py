"""The minimum-bias pool and the pileup overlay.

**Pool.** COLLIDE-2V sampled its pileup from 30,000 Pythia 8 ``SoftQCD:all``
events per job. What one pileup collision is, is the front-end card's pileup
definition (:data:`l1scout.generate.vertex.PileupDefinition`): its pool is made
of the catalog process :data:`POOL_PROCESSES` names (``collide2v``:
``minbias``, ``SoftQCD:all``; ``inelastic``: ``minbias_inelastic``, the
inelastic processes only), with the same beams and tune
(:func:`pool_settings`). l1scout builds such a pool once per (seed, size, settings),
keeps the final-state particles only, and caches it on disk (``$L1SCOUT_CACHE_DIR``,
else ``$XDG_CACHE_HOME/l1scout``, else ``~/.cache/l1scout``). The pool is made
in chunks of :data:`POOL_CHUNK` events, each with its own derived seed, so it
is the same whether one process or several build it.

**Overlay.** For event number ``i`` of a file with seed ``s``, a random stream
seeded by ``(s, i)`` draws: the number of pileup collisions (Poisson of the
card's mean), the hard-scatter vertex, and for every pileup collision a pool
event (uniformly, with replacement), an azimuthal rotation and a vertex. The
result depends on ``(s, i)`` only, not on batching.

**Verified cache.** A cached pool file (``minbias-pool-RS<seed>-N<size>-<key>.npz``,
:func:`pool_path`) holds, beside its arrays, a small JSON member
``l1scout_meta``: its format, its settings key (:func:`pool_key`), its number
of events and the SHA-256 of its content
(:attr:`MinBiasPool.sha256`, over the arrays, so the same pool hashes the same
whenever it is built). :func:`load_or_build_pool` verifies all of them when it
loads the file; a file that fails (empty, truncated or not a pool, written by
an older l1scout without that member, other events or settings, a hash
mismatch) is rebuilt, with a one-line warning naming the file and what was
wrong, and replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._files import atomic_write
from l1scout._jagged import eta_phi_pt, offsets_from_counts, wrap_phi
from l1scout._types import F32, F64, I64
from l1scout.constants import C_MM_PER_PS
from l1scout.errors import ConfigError, DataFormatError, UnknownProcessError
from l1scout.generate._cache import cache_dir
from l1scout.generate.pythia import PythiaSource, derive_seed, process_settings
from l1scout.generate.vertex import PileupDefinition, PileupSpec, sample_vertices
from l1scout.processes.catalog import Catalog, load_catalog

__all__ = [
    "POOL_CHUNK",
    "POOL_FORMAT",
    "POOL_PROCESS",
    "POOL_PROCESSES",
    "MinBiasPool",
    "PileupDraw",
    "build_pool",
    "cache_dir",
    "draw_pileup",
    "load_cached_pool",
    "load_or_build_pool",
    "pool_key",
    "pool_path",
    "pool_settings",
]

_log = logging.getLogger(__name__)

#: Events per independently seeded chunk of the pool (SoftQCD:all takes ~20 s to initialise).
POOL_CHUNK = 5000
#: Version of the cached pool's layout; part of its key.
POOL_FORMAT = 2

#: The catalog process whose events make the pileup pool of the default
#: definition (``collide2v``: ``SoftQCD:all``, as COLLIDE-2V).
POOL_PROCESS = "minbias"
#: The catalog process whose events make the pool, per pileup definition
#: (:data:`l1scout.generate.vertex.PileupDefinition`): ``minbias`` is
#: ``SoftQCD:all`` (elastic included), ``minbias_inelastic`` the inelastic
#: processes only (non-, single-, double-, central-diffractive).
POOL_PROCESSES: dict[PileupDefinition, str] = {
    "collide2v": POOL_PROCESS,
    "inelastic": "minbias_inelastic",
}

_STREAM_POOL = 0x504F4F4C  # "POOL"
_STREAM_OVERLAY = 0x4F564C59  # "OVLY"


@dataclass(frozen=True)
class MinBiasPool:
    """Final-state particles of many minimum-bias collisions, flattened.

    Momenta in GeV, production vertices (relative to the collision) in mm and mm/c.
    """

    offsets: I64
    pid: npt.NDArray[np.int32]
    charge: npt.NDArray[np.int8]
    px: F32
    py: F32
    pz: F32
    mass: F32
    vx: F32
    vy: F32
    vz: F32
    vt: F32

    @property
    def n_events(self) -> int:
        """Number of collisions in the pool."""
        return len(self.offsets) - 1

    @cached_property
    def eta_phi_pt(self) -> tuple[F64, F64, F64]:
        """Pseudorapidity, azimuth and pT of every particle, computed once.

        A rotation in azimuth leaves eta and pT unchanged and shifts phi, so
        the overlay reuses these instead of recomputing them per event.
        """
        return eta_phi_pt(
            self.px.astype(np.float64), self.py.astype(np.float64), self.pz.astype(np.float64)
        )

    _FIELDS = ("offsets", "pid", "charge", "px", "py", "pz", "mass", "vx", "vy", "vz", "vt")

    @cached_property
    def sha256(self) -> str:
        """SHA-256 (hex) of the pool's content, computed once.

        Over the fields in declaration order (``offsets``, ``pid``, ...,
        ``vt``): for each, the line ``<name> <dtype> <length>`` then the
        array's bytes. It depends on the arrays only, not on the file (the
        zip members' dates), so a pool rebuilt from the same settings and seed
        hashes the same. About 0.1 s for a 30,000-event pool.

        >>> one = np.zeros(1, np.float32)
        >>> pool = MinBiasPool(np.array([0, 1]), np.array([211], np.int32),
        ...     np.array([1], np.int8), *[one] * 8)
        >>> pool.sha256[:12]
        'eb50d51cbaef'
        """
        digest = hashlib.sha256()
        for name in self._FIELDS:
            values = np.ascontiguousarray(getattr(self, name))
            digest.update(f"{name} {values.dtype.str} {len(values)}\n".encode())
            digest.update(values.data)
        return digest.hexdigest()

    def save(self, path: Path, *, key: str | None = None) -> None:
        """Write the pool and its metadata atomically (temporary name, then rename).

        The ``.npz`` file holds the arrays and the member ``l1scout_meta``
        (JSON): the format (:data:`POOL_FORMAT`), the settings *key*
        (:func:`pool_key`), the number of events and :attr:`sha256`.
        """
        meta = {
            "kind": _META_KIND,
            "format": POOL_FORMAT,
            "key": key,
            "events": self.n_events,
            "sha256": self.sha256,
        }
        arrays = {f: getattr(self, f) for f in self._FIELDS}
        arrays[_META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        atomic_write(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: Path, *, key: str | None = None, events: int | None = None) -> MinBiasPool:
        """Read a pool written by :meth:`save`, and verify it.

        Verified: the file is a complete pool with l1scout's metadata of
        format :data:`POOL_FORMAT`, was made for the settings *key* and holds
        *events* collisions (each when given), and its arrays have the
        metadata's number of events and :attr:`sha256`.

        Raises:
            DataFormatError: ``pileup pool <path> <what is wrong>``: empty,
                truncated or not a pool file, no metadata (an older l1scout's
                file), N events where M were expected, other settings, or a
                SHA-256 mismatch.
        """
        path = Path(path)
        pool = _read_pool(path, key, events)
        if isinstance(pool, str):
            msg = f"pileup pool {path} {pool}"
            raise DataFormatError(msg)
        return pool


#: The member of a pool file that holds its metadata (JSON, as bytes), and its kind.
_META = "l1scout_meta"
_META_KIND = "l1scout minimum-bias pool"
_ZIP_MAGIC = b"PK\x03\x04"


def _read_pool(path: Path, key: str | None, events: int | None) -> MinBiasPool | str:
    """The verified pool of *path*, or what is wrong with the file (:meth:`MinBiasPool.load`)."""
    try:
        with path.open("rb") as fh:  # opened here: np.load leaks its own file on a bad zip
            magic = fh.read(len(_ZIP_MAGIC))
            if magic != _ZIP_MAGIC:
                return "is not a pool file (not a zip archive)" if magic else "is empty"
            fh.seek(0)
            with np.load(fh) as data:
                meta = _pool_meta(data, key, events)
                if isinstance(meta, str):
                    return meta
                pool = MinBiasPool(**{f: data[f] for f in MinBiasPool._FIELDS})
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        return f"is truncated or damaged ({type(exc).__name__}: {exc})"
    if pool.n_events != meta["events"]:
        return f"holds {pool.n_events} events, its metadata says {meta['events']}"
    if pool.sha256 != meta.get("sha256"):
        return (
            f"fails its SHA-256 check (content {pool.sha256[:12]}..., "
            f"metadata {str(meta.get('sha256'))[:12]}...)"
        )
    return pool


def _pool_meta(
    data: np.lib.npyio.NpzFile, key: str | None, events: int | None
) -> dict[str, Any] | str:
    """The metadata of an open pool file, or what is wrong with it (read before the arrays).

    Raises:
        ValueError: the member is not JSON text.
    """
    if _META not in data.files:
        if set(MinBiasPool._FIELDS) <= set(data.files):
            return "has no metadata (written by an older l1scout)"
        return f"is not a pileup pool (members {', '.join(data.files) or 'none'})"
    meta = json.loads(bytes(data[_META]).decode())
    if not isinstance(meta, dict) or meta.get("kind") != _META_KIND:
        return "has no l1scout pool metadata"
    return _meta_problem(meta, key, events) or meta


def _meta_problem(meta: dict[str, Any], key: str | None, events: int | None) -> str | None:
    """What a pool file's metadata contradicts (checked before its arrays are read)."""
    if meta.get("format") != POOL_FORMAT:
        return f"is of format {meta.get('format')!r}, expected {POOL_FORMAT}"
    if not isinstance(meta.get("events"), int):
        return "has no event count in its metadata"
    if events is not None and meta["events"] != events:
        return f"holds {meta['events']} events, expected {events}"
    if key is not None and meta.get("key") != key:
        return f"was made for other settings (key {meta.get('key')}, expected {key})"
    return None


def pool_key(settings: Sequence[str], seed: int, size: int) -> str:
    """A short hash naming a pool by everything that determines its content."""
    payload = json.dumps(
        {
            "settings": list(settings),
            "seed": seed,
            "size": size,
            "chunk": POOL_CHUNK,
            "format": POOL_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def pool_settings(
    definition: PileupDefinition, catalog: Catalog | None = None, tune: str | None = None
) -> tuple[str, ...]:
    """The Pythia settings of the pileup pool of a pileup *definition*: beams, tune, process.

    The process is the catalog's :data:`POOL_PROCESSES` entry of *definition*.

    Raises:
        ConfigError: the catalog lacks that process, or *tune*.

    >>> [s for s in pool_settings("collide2v") if s.startswith("SoftQCD")]
    ['SoftQCD:all = on']
    >>> len([s for s in pool_settings("inelastic") if s.startswith("SoftQCD")])
    4
    """
    catalog = catalog or load_catalog()
    name = POOL_PROCESSES[definition]
    try:
        spec = catalog.get(name)
    except UnknownProcessError:
        msg = (
            f"pileup definition {definition!r} draws its pool from the catalog process "
            f"{name!r}, which the catalog {catalog.source} does not have"
        )
        raise ConfigError(msg) from None
    return process_settings(catalog, spec, tune)


def _build_chunk(settings: tuple[str, ...], seed: int, n: int) -> dict[str, np.ndarray]:
    src = PythiaSource(settings, seed, label="minbias pool")
    raw = src.generate(n, per_event_info=False)
    final = raw.status > 0
    evt = np.repeat(np.arange(raw.n_events), np.diff(raw.offsets))
    counts = np.bincount(evt[final], minlength=raw.n_events)
    pid = raw.pid[final]
    return {
        "counts": counts.astype(np.int64),
        "pid": pid,
        "charge": src.charge_of(pid),
        "px": raw.px[final].astype(np.float32),
        "py": raw.py[final].astype(np.float32),
        "pz": raw.pz[final].astype(np.float32),
        "mass": raw.mass[final].astype(np.float32),
        "vx": raw.vx[final].astype(np.float32),
        "vy": raw.vy[final].astype(np.float32),
        "vz": raw.vz[final].astype(np.float32),
        "vt": raw.vt[final].astype(np.float32),
    }


def build_pool(
    settings: Sequence[str],
    seed: int,
    size: int,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    chunk: int = POOL_CHUNK,
) -> MinBiasPool:
    """Generate a pool of *size* minimum-bias collisions (final-state particles).

    Chunk ``k`` of *chunk* events is generated with the seed
    ``derive_seed(seed, POOL, k)``, so the result does not depend on *workers*.
    """
    if size < 1:
        msg = f"pileup pool size must be at least 1, got {size}"
        raise ConfigError(msg)
    settings = tuple(settings)
    sizes = [min(chunk, size - start) for start in range(0, size, chunk)]
    seeds = [derive_seed(seed, _STREAM_POOL, k) for k in range(len(sizes))]
    if workers > 1 and len(sizes) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(sizes))) as pool:
            futures = [
                pool.submit(_build_chunk, settings, s, n) for s, n in zip(seeds, sizes, strict=True)
            ]
            chunks = []
            for fut, n in zip(futures, sizes, strict=True):
                chunks.append(fut.result())
                if progress:
                    progress(n)
    else:
        chunks = []
        for s, n in zip(seeds, sizes, strict=True):
            chunks.append(_build_chunk(settings, s, n))
            if progress:
                progress(n)
    counts = np.concatenate([c["counts"] for c in chunks])
    offsets = offsets_from_counts(counts)
    cat = {f: np.concatenate([c[f] for c in chunks]) for f in chunks[0] if f != "counts"}
    return MinBiasPool(offsets=offsets, **cat)


def pool_path(settings: Sequence[str], seed: int, size: int, directory: Path | None = None) -> Path:
    """The cache file of a pool: ``minbias-pool-RS<seed>-N<size>-<key>.npz``.

    Args:
        settings: the pool's Pythia settings (:func:`pool_settings`).
        seed: the pool's seed.
        size: its number of events.
        directory: the cache (None: :func:`cache_dir`).

    >>> pool_path(["SoftQCD:all = on"], 7, 100, Path("/cache")).name
    'minbias-pool-RS7-N100-c1a76213bc6a6ce8.npz'
    """
    directory = directory or cache_dir()
    return directory / f"minbias-pool-RS{seed}-N{size}-{pool_key(settings, seed, size)}.npz"


def load_cached_pool(
    settings: Sequence[str], seed: int, size: int, directory: Path | None = None
) -> MinBiasPool | None:
    """The cached pool of (settings, seed, size), verified; None if the cache has none.

    Arguments as in :func:`pool_path`. The file must be a pool of the
    expected key and size whose content matches its hash (:meth:`MinBiasPool.load`).

    Raises:
        DataFormatError: the cached file fails verification (the message names it and why).
    """
    path = pool_path(settings, seed, size, directory)
    if not path.is_file():
        return None
    return MinBiasPool.load(path, key=pool_key(settings, seed, size), events=size)


def load_or_build_pool(
    settings: Sequence[str],
    seed: int,
    size: int,
    workers: int = 1,
    directory: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[MinBiasPool, Path, bool]:
    """The cached pool for (settings, seed, size), built and saved if missing or if it fails.

    The cached file (:func:`pool_path`) is verified (:meth:`MinBiasPool.load`
    with the expected key and size); one that fails is rebuilt with a warning
    naming it and what was wrong, and replaced atomically.

    Returns:
        The pool, its file, and whether it was built now.

    Raises:
        ConfigError: the cache cannot be written.
    """
    path = pool_path(settings, seed, size, directory)
    try:
        cached = load_cached_pool(settings, seed, size, directory)
    except DataFormatError as exc:
        _log.warning("%s; building it again", exc)
    else:
        if cached is not None:
            _log.info("using cached pileup pool %s", path)
            return cached, path, False
    _log.info("building pileup pool of %d minimum-bias events (seed %d)", size, seed)
    pool = build_pool(settings, seed, size, workers=workers, progress=progress)
    try:
        pool.save(path, key=pool_key(settings, seed, size))
    except OSError as exc:
        msg = f"cannot write the pileup pool cache {path} ({exc.strerror or exc}); set L1SCOUT_CACHE_DIR"
        raise ConfigError(msg) from exc
    return pool, path, True


@dataclass(frozen=True)
class PileupDraw:
    """The pileup of a batch of events: collisions, their vertices and particles.

    ``coll_offsets`` splits the collisions by event; ``part_offsets`` splits the
    particles by event. Per collision: its pool event, rotation (rad), z (mm),
    t (ps). Per event: the hard-scatter vertex z (mm), t (ps). Per particle:
    its pool particle (``source``), its collision in the batch
    (``collision``) and, 1-based within its event, its vertex
    (``vertex_index``). The particles' rotated and displaced kinematics are
    gathered from the pool on first use (``pt``, ``eta`` and the rotated
    azimuth ``phi_part`` come from the pool's cached values).
    """

    n_pu: I64
    hard_z: F64
    hard_t: F64
    coll_offsets: I64
    pool_index: I64
    phi: F64
    z: F64
    t: F64
    part_offsets: I64
    source: I64
    collision: I64
    vertex_index: npt.NDArray[np.int32]
    pool: MinBiasPool | None
    spec: PileupSpec

    @cached_property
    def _cos_sin(self) -> tuple[F64, F64]:
        return np.cos(self.phi)[self.collision], np.sin(self.phi)[self.collision]

    def _pool(self, name: str, dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
        if self.pool is None:
            return np.zeros(0, dtype=dtype)
        return np.asarray(getattr(self.pool, name)[self.source], dtype=dtype)

    def _f64(self, name: str) -> F64:
        values: F64 = self._pool(name, np.float64)
        return values

    @cached_property
    def pid(self) -> npt.NDArray[np.int32]:
        """PDG id of every particle."""
        return self._pool("pid", np.int32)

    @cached_property
    def charge(self) -> npt.NDArray[np.int8]:
        """Charge (e) of every particle."""
        return self._pool("charge", np.int8)

    @cached_property
    def px(self) -> F64:
        """Momentum x after the rotation (GeV)."""
        c, s = self._cos_sin
        return c * self._f64("px") - s * self._f64("py")

    @cached_property
    def py(self) -> F64:
        """Momentum y after the rotation (GeV)."""
        c, s = self._cos_sin
        return s * self._f64("px") + c * self._f64("py")

    @cached_property
    def pz(self) -> F64:
        """Momentum z (GeV)."""
        return self._f64("pz")

    @cached_property
    def mass(self) -> F64:
        """Mass (GeV)."""
        return self._f64("mass")

    @cached_property
    def x(self) -> F64:
        """Production x after the rotation, beam spot included (mm)."""
        c, s = self._cos_sin
        return c * self._f64("vx") - s * self._f64("vy") + self.spec.beamspot_x_mm

    @cached_property
    def y(self) -> F64:
        """Production y after the rotation, beam spot included (mm)."""
        c, s = self._cos_sin
        return s * self._f64("vx") + c * self._f64("vy") + self.spec.beamspot_y_mm

    @cached_property
    def zpos(self) -> F64:
        """Production z, the collision's vertex included (mm)."""
        return self._f64("vz") + self.z[self.collision]

    @cached_property
    def tpos_mm(self) -> F64:
        """Production time as c t, the collision's time included (mm)."""
        return self._f64("vt") + self.t[self.collision] * C_MM_PER_PS

    @cached_property
    def pt(self) -> F64:
        """Transverse momentum (GeV)."""
        return self.pool.eta_phi_pt[2][self.source] if self.pool is not None else np.zeros(0)

    @cached_property
    def eta(self) -> F64:
        """Pseudorapidity."""
        return self.pool.eta_phi_pt[0][self.source] if self.pool is not None else np.zeros(0)

    @cached_property
    def phi_part(self) -> F64:
        """Azimuth after the rotation (rad, in [-pi, pi))."""
        if self.pool is None:
            return np.zeros(0)
        phi = self.pool.eta_phi_pt[1][self.source] + self.phi[self.collision]
        return wrap_phi(phi).astype(np.float64, copy=False)


def _event_rng(seed: int, event_number: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, _STREAM_OVERLAY, event_number]))
    )


# Speed of light in mm/ps, to express vertex times as c*t in mm like Pythia's vProd.


def draw_pileup(
    pool: MinBiasPool | None, spec: PileupSpec, mean: float, seed: int, event_numbers: Sequence[int]
) -> PileupDraw:
    """Draw the vertices and pileup collisions of the given events.

    Args:
        pool: the minimum-bias pool (may be None only if *mean* is 0).
        spec: the card's pileup section (vertex distribution, beam spot).
        mean: mean number of pileup collisions (overrides the card's).
        seed: the file's seed.
        event_numbers: the events' numbers in the file.
    """
    n_ev = len(event_numbers)
    n_pu = np.zeros(n_ev, dtype=np.int64)
    hard_z = np.zeros(n_ev)
    hard_t = np.zeros(n_ev)
    parts_idx: list[np.ndarray] = []
    parts_phi: list[np.ndarray] = []
    parts_z: list[np.ndarray] = []
    parts_t: list[np.ndarray] = []
    if mean > 0 and (pool is None or pool.n_events == 0):
        msg = "pileup mean > 0 needs a non-empty minimum-bias pool"
        raise ConfigError(msg)
    for k, number in enumerate(event_numbers):
        rng = _event_rng(seed, int(number))
        if mean > 0:
            n_pu[k] = rng.poisson(mean) if spec.distribution == "poisson" else round(mean)
        z, t = sample_vertices(rng, spec, 1)
        hard_z[k], hard_t[k] = z[0], t[0]
        n = int(n_pu[k])
        parts_idx.append(
            rng.integers(0, pool.n_events, n) if (n and pool) else np.zeros(0, np.int64)
        )
        parts_phi.append(rng.uniform(0.0, 2 * np.pi, n) if spec.random_azimuth else np.zeros(n))
        pz_, pt_ = sample_vertices(rng, spec, n)
        parts_z.append(pz_)
        parts_t.append(pt_)
    coll_offsets = offsets_from_counts(n_pu)
    pool_index = np.concatenate(parts_idx).astype(np.int64) if parts_idx else np.zeros(0, np.int64)
    phi = np.concatenate(parts_phi) if parts_phi else np.zeros(0)
    z = np.concatenate(parts_z) if parts_z else np.zeros(0)
    t = np.concatenate(parts_t) if parts_t else np.zeros(0)

    # the particles of every drawn collision: their pool indices
    if pool is not None and len(pool_index):
        starts = pool.offsets[pool_index]
        lengths = pool.offsets[pool_index + 1] - starts
    else:
        starts = np.zeros(0, np.int64)
        lengths = np.zeros(0, np.int64)
    total = int(lengths.sum())
    coll_of_part = np.repeat(np.arange(len(pool_index)), lengths)
    first = offsets_from_counts(lengths)
    src = (
        starts[coll_of_part] + (np.arange(total) - first[coll_of_part])
        if total
        else np.zeros(0, np.int64)
    )
    evt_of_coll = np.repeat(np.arange(n_ev), n_pu)
    vertex_index = (np.arange(len(pool_index)) - coll_offsets[evt_of_coll] + 1).astype(np.int32)
    per_event_parts = np.bincount(evt_of_coll, weights=lengths, minlength=n_ev).astype(np.int64)
    return PileupDraw(
        n_pu=n_pu,
        hard_z=hard_z,
        hard_t=hard_t,
        coll_offsets=coll_offsets,
        pool_index=pool_index,
        phi=phi,
        z=z,
        t=t,
        part_offsets=offsets_from_counts(per_event_parts),
        source=src.astype(np.int64, copy=False),
        collision=coll_of_part.astype(np.int64, copy=False),
        vertex_index=vertex_index[coll_of_part],
        pool=pool if total else None,
        spec=spec,
    )
