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
"""

from __future__ import annotations

import hashlib
import json
import logging
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
    "load_or_build_pool",
    "pool_key",
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

    def save(self, path: Path) -> None:
        """Write the pool atomically (temporary name, then rename)."""
        atomic_write(path, lambda fh: np.savez(fh, **{f: getattr(self, f) for f in self._FIELDS}))

    @classmethod
    def load(cls, path: Path) -> MinBiasPool:
        """Read a pool written by :meth:`save`."""
        try:
            with np.load(path) as data:
                return cls(**{f: data[f] for f in cls._FIELDS})
        except (OSError, KeyError, ValueError) as exc:
            msg = f"pileup pool {path} is unreadable or incomplete ({exc}); delete it to rebuild"
            raise DataFormatError(msg) from exc


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


def load_or_build_pool(
    settings: Sequence[str],
    seed: int,
    size: int,
    workers: int = 1,
    directory: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[MinBiasPool, Path, bool]:
    """The cached pool for (settings, seed, size), built and saved if missing.

    Returns:
        The pool, its file, and whether it was built now.
    """
    directory = directory or cache_dir()
    path = directory / f"minbias-pool-RS{seed}-N{size}-{pool_key(settings, seed, size)}.npz"
    if path.is_file():
        _log.info("using cached pileup pool %s", path)
        return MinBiasPool.load(path), path, False
    _log.info("building pileup pool of %d minimum-bias events (seed %d)", size, seed)
    pool = build_pool(settings, seed, size, workers=workers, progress=progress)
    try:
        pool.save(path)
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
