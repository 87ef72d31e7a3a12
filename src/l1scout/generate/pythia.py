"""Pythia 8 as a source of event batches in flat numpy arrays.

:class:`PythiaSource` wraps one ``pythia8mc.Pythia`` instance configured from
the catalog (beams, tune, process settings) or from an LHE file, seeded for
reproducibility. Events come out through Pythia's awkward-array batch interface
(``Pythia.nextBatch``), one event per call so that the process code of every
event is recorded, and are flattened into :class:`RawEvents`.

Units are Pythia's: GeV for momenta and masses, mm for positions and mm/c for
times, mb for cross sections (converted to pb on output).

**Initialisation.** Pythia's initialisation integrates the multiparton-interaction
(MPI) cross sections, 5 to 25 s per instance (minimum bias: four diffractive
systems). Pythia can write those tables and read them back
(``MultipartonInteractions:reuseInit``, Pythia 8 manual, "Multiparton
Interactions"); :class:`PythiaSource` makes the tables of a set of settings once,
caches them beside the pileup pools (:func:`mpi_init_file`) and initialises every
instance from them in a fraction of a second. Tables read back are rounded to
six digits, so events are not bit-identical to those of an instance that
integrated its own tables, but always the same for the same settings and seed:
every instance, first or not, reads the cached file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F64, I32, I64
from l1scout.errors import ConfigError, GenerationError
from l1scout.generate._cache import cache_dir
from l1scout.processes.catalog import Catalog, ProcessSpec

__all__ = [
    "MAX_SEED",
    "PythiaSource",
    "RawEvents",
    "check_seed",
    "derive_seed",
    "lhe_settings",
    "mpi_init_file",
    "process_settings",
]

_log = logging.getLogger(__name__)

#: Pythia's ``Random:seed`` accepts 1 ... 900,000,000 (0 means "seed from the clock").
MAX_SEED = 900_000_000

_QUIET = (
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showProcesses = off",
    "Print:quiet = on",
)

MB_TO_PB = 1.0e9

#: Version of the cached MPI tables' key (bump when the way they are made changes).
MPI_INIT_FORMAT = 1


def check_seed(seed: int, what: str = "seed") -> int:
    """Return *seed* if Pythia accepts it, else raise :class:`ConfigError`.

    >>> check_seed(42)
    42
    >>> check_seed(0)
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: seed must be an integer in [1, 900000000] (Pythia's range), got 0
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 1 <= seed <= MAX_SEED
    ):
        msg = f"{what} must be an integer in [1, {MAX_SEED}] (Pythia's range), got {seed!r}"
        raise ConfigError(msg)
    return int(seed)


def derive_seed(seed: int, *stream: int) -> int:
    """A Pythia seed for a sub-stream of *seed*, deterministic and well mixed.

    Uses numpy's :class:`~numpy.random.SeedSequence` so that different streams
    (the pileup pool, its chunks) give unrelated random sequences.

    >>> derive_seed(7, 1) == derive_seed(7, 1) != derive_seed(7, 2)
    True
    """
    state = np.random.SeedSequence([seed, *stream]).generate_state(1, dtype=np.uint64)[0]
    return int(state % np.uint64(MAX_SEED)) + 1


def process_settings(
    catalog: Catalog, spec: ProcessSpec, tune: str | None = None
) -> tuple[str, ...]:
    """The full ordered Pythia settings of a catalog process: beams, tune, process."""
    return (*catalog.beams, *catalog.tune(tune).settings, *spec.settings)


def lhe_settings(catalog: Catalog, lhe: Path, tune: str | None = None) -> tuple[str, ...]:
    """Pythia settings to shower the events of a Les Houches Event file with the tune."""
    lhe = Path(lhe)
    if not lhe.is_file():
        msg = f"LHE file {str(lhe)!r} does not exist or is not a file"
        raise ConfigError(msg)
    beams = tuple(s for s in catalog.beams if not s.startswith("Beams:eCM"))
    return (
        *beams,
        "Beams:frameType = 4",
        f"Beams:LHEF = {lhe.resolve()}",
        *catalog.tune(tune).settings,
    )


@dataclass(frozen=True)
class RawEvents:
    """A batch of complete Pythia event records, flattened.

    Particle arrays hold every entry of every event's record except Pythia's
    entry 0 (the "system"); ``offsets[i]:offsets[i+1]`` is event i. Mother and
    daughter indices are Pythia's, shifted by one so they point into the same
    event's slice (``-1``: none), as Delphes stores them.
    """

    offsets: I64
    pid: I32
    status: I32
    mother1: I32
    mother2: I32
    daughter1: I32
    daughter2: I32
    px: F64
    py: F64
    pz: F64
    e: F64
    mass: F64
    vx: F64
    vy: F64
    vz: F64
    vt: F64
    # per event
    process_code: I32
    weight: F64
    id1: I32
    id2: I32
    x1: F64
    x2: F64
    pdf1: F64
    pdf2: F64
    alpha_s: F64
    alpha_em: F64
    q_ren: F64
    q_fac: F64
    sigma_pb: F64
    sigma_err_pb: F64

    @property
    def n_events(self) -> int:
        """Number of events in the batch."""
        return len(self.offsets) - 1


def _cacheable(settings: Sequence[str]) -> bool:
    """MPI tables are cached for beams given in the settings, not for LHE files (beams read from the file)."""
    compact = [s.replace(" ", "").lower() for s in settings]
    return not any(c.startswith(("beams:lhef", "beams:frametype=4")) for c in compact)


def _new_pythia(settings: Sequence[str], seed: int, label: str) -> Any:
    import pythia8mc  # heavy import, deferred

    pythia = pythia8mc.Pythia("", False)
    for line in (*_QUIET, *settings, "Random:setSeed = on", f"Random:seed = {seed}"):
        if not pythia.readString(line):
            msg = f"{label}: Pythia 8 does not accept the setting {line!r}"
            raise GenerationError(msg)
    return pythia


def mpi_init_file(settings: Sequence[str], directory: Path | None = None) -> Path:
    """The cached MPI tables of *settings*, made now (one full initialisation) if missing.

    The file is named by a hash of the settings and the Pythia version, written
    under a temporary name and renamed, so concurrent jobs never read half a file.

    Args:
        settings: Pythia settings without the seed (the tables do not depend on it).
        directory: where to cache (None: :func:`l1scout.generate.pileup.cache_dir`).

    Raises:
        ConfigError: the cache directory cannot be written.
        GenerationError: Pythia rejects a setting or fails to initialise.
    """
    import pythia8mc  # heavy import, deferred

    version = getattr(pythia8mc, "__version__", "")
    payload = json.dumps({"settings": list(settings), "pythia": version, "format": MPI_INIT_FORMAT})
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    directory = directory or cache_dir()
    path = directory / f"pythia-mpi-init-{key}.cmnd"
    if path.is_file():
        return path
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
    except OSError as exc:
        msg = f"cannot write Pythia's MPI tables to {directory} ({exc.strerror or exc}); set L1SCOUT_CACHE_DIR"
        raise ConfigError(msg) from exc
    _log.info("integrating Pythia's MPI tables once for %s", path.name)
    pythia = _new_pythia(
        (
            *settings,
            "MultipartonInteractions:reuseInit = 3",
            f"MultipartonInteractions:initFile = {tmp}",
        ),
        1,
        "MPI tables",
    )
    ok = pythia.init()
    if not ok or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        msg = "Pythia 8 failed to initialise while making its MPI tables"
        raise GenerationError(msg)
    tmp.replace(path)
    return path


class PythiaSource:
    """One seeded, initialised Pythia instance that yields :class:`RawEvents`.

    Args:
        settings: Pythia ``readString`` lines, applied in order.
        seed: the random seed, 1 ... 900,000,000.
        label: a name for messages (the process).
        reuse_init: initialise from the cached MPI tables (:func:`mpi_init_file`);
            False integrates them anew (the events then differ in their digits).

    Raises:
        GenerationError: Pythia rejects a setting (the message names it) or fails
            to initialise.
    """

    _MAX_FAILURES = 100

    def __init__(
        self,
        settings: Sequence[str],
        seed: int,
        label: str = "process",
        *,
        reuse_init: bool = True,
    ) -> None:
        check_seed(seed)
        self.label = label
        init: tuple[str, ...] = ()
        tables = None
        if reuse_init and _cacheable(settings):
            tables = mpi_init_file(settings)
            init = (
                "MultipartonInteractions:reuseInit = 2",
                f"MultipartonInteractions:initFile = {tables}",
            )
        self._pythia = _new_pythia((*settings, *init), seed, label)
        if not self._pythia.init():
            hint = f"; if {tables} is damaged, delete it" if tables else ""
            msg = f"{label}: Pythia 8 failed to initialise (rerun with logging at DEBUG for its output){hint}"
            raise GenerationError(msg)
        self.exhausted = False

    def charge_of(self, pids: npt.NDArray[np.int32]) -> npt.NDArray[np.int8]:
        """Electric charge (units of e) of each PDG id, from Pythia's particle table."""
        uniq, inverse = np.unique(pids, return_inverse=True)
        table = np.array(
            [round(self._pythia.particleData.charge(int(p))) for p in uniq], dtype=np.int8
        )
        return table[inverse].reshape(pids.shape)

    def cross_section_pb(self) -> tuple[float, float]:
        """Pythia's running estimate of the generated cross section and its error, in pb."""
        info = self._pythia.infoPython()  # a snapshot: fetch it anew each time
        return float(info.sigmaGen()) * MB_TO_PB, float(info.sigmaErr()) * MB_TO_PB

    def _one_batch(self, n: int) -> tuple[list[ak.Array], list[int], list[tuple[float, float]]]:
        batch = self._pythia.nextBatch(n)
        if len(batch) < n and self._pythia.infoPython().atEndOfFile():
            self.exhausted = True
        if len(batch) == 0:
            return [], [], []
        return [batch], [0] * len(batch), [self.cross_section_pb()] * len(batch)

    def _event_by_event(
        self, n: int
    ) -> tuple[list[ak.Array], list[int], list[tuple[float, float]]]:
        batches: list[ak.Array] = []
        codes: list[int] = []
        sigma: list[tuple[float, float]] = []
        failures = 0
        while len(batches) < n:
            batch = self._pythia.nextBatch(1)
            if len(batch) == 0:
                if self._pythia.infoPython().atEndOfFile():
                    self.exhausted = True
                    break
                failures += 1
                if failures > self._MAX_FAILURES:
                    msg = f"{self.label}: Pythia failed {failures} times in a row to make an event"
                    raise GenerationError(msg)
                continue
            failures = 0
            batches.append(batch)
            codes.append(int(self._pythia.infoPython().code()))
            sigma.append(self.cross_section_pb())
        return batches, codes, sigma

    def generate(self, n: int, per_event_info: bool = True) -> RawEvents:
        """Generate up to *n* events (fewer only when an LHE file runs out).

        With *per_event_info* (the default) Pythia is called once per event so
        that each event's process code and running cross section are recorded;
        without it, one batch call makes all *n* events (about twice as fast for
        minimum bias) and the process code is 0.
        """
        fetch = self._event_by_event if per_event_info else self._one_batch
        batches, codes, sigma = fetch(n)
        if not batches:
            return _empty_raw()
        sig = np.asarray(sigma, dtype=np.float64).reshape(-1, 2)
        code = np.asarray(codes, dtype=np.int32)
        try:
            return _from_layouts(batches, code, sig)
        except _UnexpectedLayout:  # pragma: no cover - another pythia8mc layout
            return _from_awkward(batches, code, sig)


class _UnexpectedLayout(Exception):  # noqa: N818 - internal signal, never raised to users
    """A batch's awkward layout is not the one :func:`_from_layouts` reads."""


def _expect(layout: Any, kind: type) -> Any:
    if not isinstance(layout, kind):
        raise _UnexpectedLayout(type(layout).__name__)
    return layout


def _from_layouts(batches: Sequence[ak.Array], code: I32, sig: F64) -> RawEvents:
    """:class:`RawEvents` read straight from the batches' buffers (no awkward operations).

    Same values as :func:`_from_awkward`, about ten times faster for
    one-event batches; raises :class:`_UnexpectedLayout` on any other layout.
    """
    from awkward.contents import IndexedOptionArray, ListOffsetArray, NumpyArray, RecordArray

    def data(rec: Any, *path: str) -> npt.NDArray[Any]:
        node = rec
        for name in path:
            node = _expect(node, RecordArray).content(name)
        return np.asarray(_expect(node, NumpyArray).data)

    cols: dict[str, list[npt.NDArray[Any]]] = {}
    counts: list[npt.NDArray[np.int64]] = []

    def put(name: str, values: npt.NDArray[Any]) -> None:
        cols.setdefault(name, []).append(values)

    for batch in batches:
        top = _expect(batch.layout, RecordArray)
        prt = _expect(top.content("prt"), ListOffsetArray)
        off = np.asarray(prt.offsets.data, dtype=np.int64)
        n_ev = len(off) - 1
        if np.any(np.diff(off) < 1):
            raise _UnexpectedLayout("an event without its system entry")
        keep = np.ones(int(off[-1] - off[0]), dtype=np.bool_)
        keep[off[:-1] - off[0]] = False  # drop the "system" entry 0 of every event
        sel = off[0] + np.flatnonzero(keep)
        counts.append(np.diff(off) - 1)
        rec = prt.content
        for name in ("id", "status", "mother1", "mother2", "daughter1", "daughter2"):
            put(name, data(rec, name)[sel])
        for name in ("px", "py", "pz", "e"):
            put(name, data(rec, "p", name)[sel])
        put("m", data(rec, "m")[sel])
        vprod = _expect(_expect(rec, RecordArray).content("vProd"), IndexedOptionArray)
        index = np.asarray(vprod.index.data, dtype=np.int64)[sel]
        present = index >= 0
        safe = np.where(present, index, 0)
        for name in ("px", "py", "pz", "e"):
            values = data(vprod.content, name)
            put(f"v{name}", np.where(present, values[safe] if len(values) else 0.0, 0.0))
        info = _expect(top.content("info"), RecordArray)
        for name in (
            "id1",
            "id2",
            "x1",
            "x2",
            "pdf1",
            "pdf2",
            "alphaS",
            "alphaEM",
            "Q2Fac",
            "Q2Ren",
        ):
            put(name, data(info, name)[:n_ev])
        weights = _expect(info.content("weights"), ListOffsetArray)
        w_off = np.asarray(weights.offsets.data, dtype=np.int64)[: n_ev + 1]
        w_data = np.asarray(_expect(weights.content, NumpyArray).data, dtype=np.float64)
        has = np.diff(w_off) > 0
        put(
            "weight",
            np.where(has, w_data[np.where(has, w_off[:-1], 0)] if len(w_data) else 1.0, 1.0),
        )

    def cat(name: str, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        parts = cols[name]
        return np.asarray(parts[0] if len(parts) == 1 else np.concatenate(parts), dtype=dtype)

    return RawEvents(
        offsets=offsets_from_counts(np.concatenate(counts)),
        pid=cat("id", np.int32),
        status=cat("status", np.int32),
        mother1=cat("mother1", np.int32) - 1,
        mother2=cat("mother2", np.int32) - 1,
        daughter1=cat("daughter1", np.int32) - 1,
        daughter2=cat("daughter2", np.int32) - 1,
        px=cat("px", np.float64),
        py=cat("py", np.float64),
        pz=cat("pz", np.float64),
        e=cat("e", np.float64),
        mass=cat("m", np.float64),
        vx=cat("vpx", np.float64),
        vy=cat("vpy", np.float64),
        vz=cat("vpz", np.float64),
        vt=cat("ve", np.float64),
        process_code=code,
        weight=cat("weight", np.float64),
        id1=cat("id1", np.int32),
        id2=cat("id2", np.int32),
        x1=cat("x1", np.float64),
        x2=cat("x2", np.float64),
        pdf1=cat("pdf1", np.float64),
        pdf2=cat("pdf2", np.float64),
        alpha_s=cat("alphaS", np.float64),
        alpha_em=cat("alphaEM", np.float64),
        q_ren=np.sqrt(cat("Q2Ren", np.float64)),
        q_fac=np.sqrt(cat("Q2Fac", np.float64)),
        sigma_pb=sig[:, 0].copy(),
        sigma_err_pb=sig[:, 1].copy(),
    )


def _from_awkward(batches: Sequence[ak.Array], code: I32, sig: F64) -> RawEvents:
    """:class:`RawEvents` of the batches through awkward operations (the reference of :func:`_from_layouts`)."""
    arr = batches[0] if len(batches) == 1 else ak.concatenate(batches)
    prt = arr.prt[:, 1:]  # drop the "system" entry 0
    counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
    offsets = offsets_from_counts(counts)

    def flat(x: ak.Array, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        return np.asarray(ak.to_numpy(ak.flatten(x)), dtype=dtype)

    vprod = prt.vProd
    info = arr.info
    weights = info.weights
    weight = np.asarray(ak.to_numpy(ak.fill_none(ak.firsts(weights), 1.0)), dtype=np.float64)
    return RawEvents(
        offsets=offsets,
        pid=flat(prt.id, np.int32),
        status=flat(prt.status, np.int32),
        mother1=flat(prt.mother1, np.int32) - 1,
        mother2=flat(prt.mother2, np.int32) - 1,
        daughter1=flat(prt.daughter1, np.int32) - 1,
        daughter2=flat(prt.daughter2, np.int32) - 1,
        px=flat(prt.p.px, np.float64),
        py=flat(prt.p.py, np.float64),
        pz=flat(prt.p.pz, np.float64),
        e=flat(prt.p.e, np.float64),
        mass=flat(prt.m, np.float64),
        vx=flat(ak.fill_none(vprod.px, 0.0), np.float64),
        vy=flat(ak.fill_none(vprod.py, 0.0), np.float64),
        vz=flat(ak.fill_none(vprod.pz, 0.0), np.float64),
        vt=flat(ak.fill_none(vprod.e, 0.0), np.float64),
        process_code=code,
        weight=weight,
        id1=np.asarray(ak.to_numpy(info.id1), dtype=np.int32),
        id2=np.asarray(ak.to_numpy(info.id2), dtype=np.int32),
        x1=np.asarray(ak.to_numpy(info.x1), dtype=np.float64),
        x2=np.asarray(ak.to_numpy(info.x2), dtype=np.float64),
        pdf1=np.asarray(ak.to_numpy(info.pdf1), dtype=np.float64),
        pdf2=np.asarray(ak.to_numpy(info.pdf2), dtype=np.float64),
        alpha_s=np.asarray(ak.to_numpy(info.alphaS), dtype=np.float64),
        alpha_em=np.asarray(ak.to_numpy(info.alphaEM), dtype=np.float64),
        q_ren=np.sqrt(np.asarray(ak.to_numpy(info.Q2Ren), dtype=np.float64)),
        q_fac=np.sqrt(np.asarray(ak.to_numpy(info.Q2Fac), dtype=np.float64)),
        sigma_pb=sig[:, 0].copy(),
        sigma_err_pb=sig[:, 1].copy(),
    )


def _empty_raw() -> RawEvents:
    empty = {
        f.name: np.zeros(1 if f.name == "offsets" else 0, dtype=_EMPTY_DTYPES[str(f.type)])
        for f in dataclasses.fields(RawEvents)
    }
    return RawEvents(**empty)


_EMPTY_DTYPES = {"I64": np.int64, "I32": np.int32, "F64": np.float64}
